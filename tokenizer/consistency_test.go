package tokenizer

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWorldVocabRefusals checks that each kind of inconsistent World
// vocabulary line is refused with an error naming the problem and the line.
func TestWorldVocabRefusals(t *testing.T) {
	base := worldBytesVocab() // ids 1..256, one line each
	cases := []struct {
		name, extra string
		want        []string
	}{
		{"duplicate id", "7 'zz' 2\n", []string{"duplicate id 7"}},
		{"duplicate bytes", "300 b'\\x41' 1\n", []string{"ids 66 and 300 have the same bytes"}},
		{"length longer than literal", "300 'zz' 3\n", []string{"line 257", "literal has 2 bytes, line says 3"}},
		{"length shorter than literal", "300 '\u4e2d' 1\n", []string{"line 257", "literal has 3 bytes, line says 1"}},
		{"negative length", "300 'zz' -2\n", []string{"line 257", "bad byte length"}},
		{"id zero", "0 'zz' 2\n", []string{"line 257", "id 0 is reserved"}},
		{"negative id", "-4 'zz' 2\n", []string{"line 257", "bad id"}},
		{"huge id", "4294967296 'zz' 2\n", []string{"line 257", "too large"}},
		{"empty token", "300 b'' 0\n", []string{"line 257", "empty token"}},
		{"not a literal", "300 zz 2\n", []string{"line 257"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewWorld(append(append([]byte{}, base...), tc.extra...))
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			// Parse (content sniffing) refuses it the same way.
			_, err = Parse(append(append([]byte{}, base...), tc.extra...))
			require.Error(t, err)
		})
	}
	_, err := NewWorld([]byte(strings.Replace(string(base), "98 b'\\x61' 1\n", "", 1)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "byte 0x61 is not a token")
	// The base vocabulary itself is fine.
	_, err = NewWorld(base)
	require.NoError(t, err)
}

// TestTokenizerJSONRefusals checks that contradictory tokenizer.json files
// are refused: a vocabulary naming a token twice, added tokens listed twice or
// contradicting the vocabulary's id, ids shared by two tokens, merges naming
// unknown tokens.
func TestTokenizerJSONRefusals(t *testing.T) {
	raw, err := os.ReadFile("testdata/small_tokenizer.json")
	require.NoError(t, err)
	src := string(raw)
	replace := func(old, new string) []byte {
		t.Helper()
		require.Contains(t, src, old)
		return []byte(strings.Replace(src, old, new, 1))
	}
	added := `"added_tokens": [`
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"vocab key twice", replace(`"vocab": {`, `"vocab": {"Ā": 7, `), `vocab lists token "Ā" twice (ids 7 and 1)`},
		{"vocab id not int", replace(`"vocab": {`, `"vocab": {"zz": "7", `), `vocab token "zz": id is not an integer`},
		{"vocab not object", replace(`"vocab": {`, `"vocab": 5, "unused": {`), "vocab is not a JSON object"},
		{"added twice", replace(added, added+`{"id": 500, "content": "<x>", "special": true}, {"id": 501, "content": "<x>", "special": true}, `),
			`added token "<x>" is listed twice (ids 500 and 501)`},
		{"added id contradicts vocab", replace(added, added+`{"id": 500, "content": "Ā", "special": true}, `),
			`added token "Ā" has id 500 but the vocabulary gives it id 1`},
		{"two tokens one id", replace(`"vocab": {`, `"vocab": {"zzz": 1, `), "share id 1"},
		{"added id of vocab token", replace(added, added+`{"id": 1, "content": "<y>", "special": true}, `), `added token "<y>" has the id 1 of vocab token "Ā"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewBPE(tc.data)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			_, err = Parse(tc.data)
			require.Error(t, err)
		})
	}
	_, err = NewBPE(raw)
	require.NoError(t, err)
}
