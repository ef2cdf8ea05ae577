package tokenizer

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// TestNeoXExtra checks hand-picked and random edge cases (whitespace rules,
// contractions, Unicode spaces, added tokens) against ids produced by the
// Hugging Face tokenizers library.
func TestNeoXExtra(t *testing.T) {
	tok := sharedNeoX(t)
	var v struct {
		Cases []struct {
			Text string `json:"text"`
			IDs  []int  `json:"ids"`
		} `json:"cases"`
	}
	readJSON(t, "testdata/neox_extra.json", &v)
	if len(v.Cases) < 400 {
		t.Fatalf("only %d cases", len(v.Cases))
	}
	for _, c := range v.Cases {
		checkVector(t, tok, "case "+c.Text, []byte(norm.NFC.String(c.Text)), c.IDs)
		// Unnormalized input gives the same ids.
		if got := tok.Encode([]byte(c.Text)); !slices.Equal(got, c.IDs) && len(c.IDs) > 0 {
			t.Errorf("%q: unnormalized input gives %v, want %v", c.Text, got, c.IDs)
		}
	}
}

// TestMergeAlgorithms checks that the quadratic and the heap-based merge agree.
func TestMergeAlgorithms(t *testing.T) {
	tok := sharedNeoX(t)
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "e", "t", "h", "in", "the", "ing", " ", "中", "é", "0", "1", ".", "-", "==", "\xe6", "Ġ"}
	var s bpeScratch
	for i := 0; i < 3000; i++ {
		var w []byte
		n := 1 + r.IntN(120)
		for len(w) < n {
			w = append(w, alphabet[r.IntN(len(alphabet))]...)
		}
		a := slices.Clone(tok.mergeSimple(w, &s))
		b := slices.Clone(tok.mergeHeap(w, &s))
		if !slices.Equal(a, b) {
			t.Fatalf("%q: simple %v, heap %v", w, a, b)
		}
		if dec, _ := tok.Decode(int32s(a)); !bytes.Equal(dec, w) {
			t.Fatalf("%q: merged tokens decode to %q", w, dec)
		}
	}
}

func int32s(a []int32) []int {
	out := make([]int, len(a))
	for i, v := range a {
		out[i] = int(v)
	}
	return out
}

func TestSplitGPT2(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"Hello world", []string{"Hello", " world"}},
		{"it's", []string{"it", "'s"}},
		{"IT'S", []string{"IT", "'", "S"}},
		{"we'll've'd", []string{"we", "'ll", "'ve", "'d"}},
		{"a  b", []string{"a", " ", " b"}},
		{"a   b", []string{"a", "  ", " b"}},
		{"a \n b", []string{"a", " \n", " b"}},
		{"a\nb", []string{"a", "\n", "b"}},
		{"a\n\nb", []string{"a", "\n", "\n", "b"}},
		{"a  ", []string{"a", "  "}},
		{"x\u00a0\u00a0y", []string{"x", "\u00a0", "\u00a0", "y"}},
		{" 123abc", []string{" 123", "abc"}},
		{"?! x", []string{"?!", " x"}},
		{" ?!", []string{" ?!"}},
		{"\xff\xfe a", []string{"\xff\xfe", " a"}},
		{"日本語 テキスト", []string{"日本語", " テキスト"}},
		{"' s", []string{"'", " s"}},
		{"\"'s", []string{"\"'", "s"}},
	}
	for _, c := range cases {
		var got []string
		splitGPT2([]byte(c.in), func(p []byte) { got = append(got, string(p)) })
		if !slices.Equal(got, c.want) {
			t.Errorf("split(%q) = %q, want %q", c.in, got, c.want)
		}
		if strings.Join(got, "") != c.in {
			t.Errorf("split(%q) does not cover the input", c.in)
		}
	}
}

func TestBPEInvalidUTF8(t *testing.T) {
	tok := sharedNeoX(t)
	for _, in := range []string{"\xff", "a\xc0b", "\xe6\xaa", "\x80\x80 x", "\xf0\x9f\x98", "ok \xfe\xff\xf5 ok"} {
		ids := tok.Encode([]byte(in))
		dec, err := tok.Decode(ids)
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		for i := 0; i < len(in); i++ {
			c := in[i]
			if c == 0xc0 || c == 0xc1 || c >= 0xf5 {
				want += "\uFFFD"
			} else {
				want += string([]byte{c})
			}
		}
		if string(dec) != want {
			t.Errorf("%q: decodes to %q, want %q", in, dec, want)
		}
	}
}
