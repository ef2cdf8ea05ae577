package tokenizer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

func loadFixture(tb testing.TB, name string) Tokenizer {
	tb.Helper()
	t, err := Load("testdata/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func TestParsePyLiteral(t *testing.T) {
	cases := []struct {
		in   string
		want string
		err  bool
	}{
		{`'abc'`, "abc", false},
		{`"abc"`, "abc", false},
		{`'it\'s'`, "it's", false},
		{`"it's"`, "it's", false},
		{`'say "hi"'`, `say "hi"`, false},
		{`'\\'`, `\`, false},
		{`'\t\n\r\a\b\f\v'`, "\t\n\r\a\b\f\v", false},
		{`'\x00'`, "\x00", false},
		{`'\x7f'`, "\x7f", false},
		{`'\x80'`, "\u0080", false}, // str: code point U+0080, two UTF-8 bytes
		{`b'\x80'`, "\x80", false},  // bytes: one byte
		{`b'\xff\xFE'`, "\xff\xfe", false},
		{`'\u200b'`, "\u200b", false},
		{`'\U0001F600'`, "😀", false},
		{`b'\u200b'`, `\u200b`, false}, // no \u escape in bytes
		{`'\101\0'`, "A\x00", false},
		{`'\777'`, "\u01ff", false},
		{`'\q'`, `\q`, false}, // unknown escapes keep the backslash
		{`'中文'`, "中文", false},
		{`u'x'`, "x", false},
		{`B"\x01"`, "\x01", false},
		{`''`, "", false},
		{`'abc`, "", true},
		{`abc`, "", true},
		{`'a'b'`, "", true},
		{`'\'`, "", true},
		{`'\x4'`, "", true},
		{`'\xzz'`, "", true},
		{`'\ud800'`, "", true},
		{`'\U00110000'`, "", true},
		{`'\N{BULLET}'`, "", true},
		{`r'abc'`, "", true},
		{`b'é'`, "", true},
		{`b'\777'`, "", true},
		{"'\xff'", "", true},
		{`'`, "", true},
		{``, "", true},
	}
	for _, c := range cases {
		got, err := parsePyLiteral([]byte(c.in))
		if c.err {
			if err == nil {
				t.Errorf("parse(%s) = %q, want error", c.in, got)
			}
			continue
		}
		if err != nil || string(got) != c.want {
			t.Errorf("parse(%s) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestWorldFixture(t *testing.T) {
	tok := loadFixture(t, "small_world_vocab.txt")
	if tok.Name() != KindWorld || tok.VocabSize() != 282 {
		t.Fatalf("name %q vocab %d", tok.Name(), tok.VocabSize())
	}
	if id, ok := tok.EndOfText(); id != 0 || !ok {
		t.Fatalf("EndOfText = %d, %v", id, ok)
	}
	cases := []struct {
		in   string
		want []int
	}{
		{"", []int{}},
		{"hello world", []int{263, 264}},
		{"hellx", []int{262, 121}},
		{"help", []int{261, 113}},
		{"it's \"both\"", []int{268}},
		{"it's \"bot", []int{106, 117, 266, 33, 35, 99, 112, 117}},
		{"中文中", []int{272, 271}},
		{"\xe6\x96", []int{279}},
		{"\xe6\x96\x87", []int{279, 136}},
		{"\xff\xfe\xff", []int{280, 256}},
		{"abc\xc3", []int{281}},
		{"abc\xc3\xa9", []int{281, 170}},
		{"\\n\\", []int{270, 93}},
		{"\\\\\\", []int{269, 93}},
		{"\x7f\u0080", []int{278}},
	}
	for _, c := range cases {
		checkVector(t, tok, c.in, []byte(c.in), c.want)
	}
	// Id 0 decodes to nothing.
	if b, err := tok.Decode([]int{263, 0, 264}); err != nil || string(b) != "hello world" {
		t.Errorf("decode with end-of-text = %q, %v", b, err)
	}
}

func TestWorldVocabErrors(t *testing.T) {
	base, err := os.ReadFile("testdata/small_world_vocab.txt")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"no literal":      "300 5\n",
		"bad id":          "x1 'a' 1\n",
		"negative id":     "-3 'a' 1\n",
		"id zero":         "0 'a' 1\n",
		"huge id":         "99999999 'zz' 2\n",
		"bad length":      "300 'zz' two\n",
		"length mismatch": "300 'zz' 3\n",
		"str escape len":  "300 '\\x80' 1\n",
		"unterminated":    "300 'zz 2\n",
		"empty token":     "300 '' 0\n",
		"duplicate id":    "1 'zz' 2\n",
		"duplicate bytes": "300 'hello' 5\n",
		"not a literal":   "300 zz 2\n",
	}
	for name, extra := range cases {
		_, err := NewWorld(append(slices.Clone(base), extra...))
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// A vocabulary without every single byte cannot encode all inputs.
	if _, err := NewWorld([]byte("1 'a' 1\n2 'b' 1\n")); err == nil || !strings.Contains(err.Error(), "byte 0x00") {
		t.Errorf("incomplete vocab: %v", err)
	}
	if _, err := NewWorld(nil); err == nil {
		t.Error("empty vocab: no error")
	}
	// CRLF line ends and blank lines are accepted.
	crlf := bytes.ReplaceAll(base, []byte("\n"), []byte("\r\n\n"))
	if _, err := NewWorld(crlf); err != nil {
		t.Errorf("CRLF: %v", err)
	}
}

func TestUnknownIDs(t *testing.T) {
	toks := []Tokenizer{Bytes(), loadFixture(t, "small_world_vocab.txt"), loadFixture(t, "small_tokenizer.json")}
	for _, tok := range toks {
		for _, id := range []int{-1, tok.VocabSize(), 1 << 40} {
			_, err := tok.Decode([]int{1, id})
			var ue *UnknownIDError
			if !errors.As(err, &ue) || ue.ID != id {
				t.Errorf("%s: decode(%d) error = %v", tok.Name(), id, err)
			}
		}
	}
	// Gaps in a World vocabulary are unknown ids too.
	w, err := NewWorld(append(worldBytesVocab(), "300 'zz' 2\n"...))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Decode([]int{299}); err == nil {
		t.Error("gap id decoded")
	}
	if b, err := w.Decode([]int{300}); err != nil || string(b) != "zz" {
		t.Errorf("decode(300) = %q, %v", b, err)
	}
}

// worldBytesVocab returns a World vocabulary with only the 256 single bytes.
func worldBytesVocab() []byte {
	var b bytes.Buffer
	for c := 0; c < 256; c++ {
		fmt.Fprintf(&b, "%d b'\\x%02x' 1\n", c+1, c)
	}
	return b.Bytes()
}

func TestBytes(t *testing.T) {
	tok := Bytes()
	in := []byte("a\x00\xff中")
	ids := tok.Encode(in)
	if !slices.Equal(ids, []int{97, 0, 255, 0xe4, 0xb8, 0xad}) {
		t.Fatalf("encode = %v", ids)
	}
	checkVector(t, tok, "bytes", in, ids)
	if tok.VocabSize() != 256 || tok.Name() != KindBytes {
		t.Fatal("bad metadata")
	}
	if _, ok := tok.EndOfText(); ok {
		t.Fatal("bytes has no end-of-text")
	}
	if got := tok.Encode(nil); got == nil || len(got) != 0 {
		t.Fatalf("Encode(nil) = %#v", got)
	}
}
