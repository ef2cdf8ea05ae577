package tokenizer

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rwkvgo/rwkvgo/internal/testdata"
	"golang.org/x/text/unicode/norm"
)

// fuzzTokenizers returns the fixture tokenizer and, when the shared test data
// is present, the real one (fuzzing never skips for lack of shared data).
func fuzzTokenizers(f *testing.F, fixture, rel string) []Tokenizer {
	f.Helper()
	toks := []Tokenizer{loadFixture(f, fixture)}
	if root := testdata.Root(); root != "" {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel))); err == nil {
			toks = append(toks, shared(f, rel))
		}
	}
	return toks
}

func addTextSeeds(f *testing.F) {
	for _, s := range []string{"", "hello world", "I'll 'd test блабла 以下は、]) -> <|endoftext|><|padding|> int",
		"a  b   c\n\n\t x", "\xff\xfe\x00", "e\u0301 ﬁ 😀👍🏽", "中文\xe6\x96", "   "} {
		f.Add([]byte(s))
	}
}

func FuzzWorldRoundTrip(f *testing.F) {
	toks := fuzzTokenizers(f, "small_world_vocab.txt", worldVocabRel)
	addTextSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, tok := range toks {
			ids := tok.Encode(data)
			got, err := tok.Decode(ids)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("round trip: %q -> %v -> %q", data, ids, got)
			}
			for _, id := range ids {
				if id <= 0 || id >= tok.VocabSize() {
					t.Fatalf("id %d out of range", id)
				}
			}
		}
	})
}

func FuzzBytesRoundTrip(f *testing.F) {
	addTextSeeds(f)
	tok := Bytes()
	f.Fuzz(func(t *testing.T, data []byte) {
		ids := tok.Encode(data)
		got, err := tok.Decode(ids)
		if err != nil || !bytes.Equal(got, data) || len(ids) != len(data) {
			t.Fatalf("round trip: %q -> %q, %v", data, got, err)
		}
		// Streaming gives the same bytes and never splits a valid character.
		d := NewStreamDecoder(tok)
		var out []byte
		for _, id := range ids {
			s, err := d.Write(id)
			if err != nil {
				t.Fatal(err)
			}
			if utf8.Valid(data) && !utf8.ValidString(s) {
				t.Fatalf("stream emitted partial character %q", s)
			}
			out = append(out, s...)
		}
		out = append(out, d.Flush()...)
		if !bytes.Equal(out, data) {
			t.Fatalf("stream: %q -> %q", data, out)
		}
	})
}

func FuzzBPERoundTrip(f *testing.F) {
	toks := fuzzTokenizers(f, "small_tokenizer.json", neoxRel)
	addTextSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		valid := utf8.Valid(data)
		for _, tok := range toks {
			ids := tok.Encode(data)
			got, err := tok.Decode(ids)
			if err != nil {
				t.Fatal(err)
			}
			if valid {
				if want := norm.NFC.Bytes(data); !bytes.Equal(got, want) {
					t.Fatalf("round trip: %q -> %v -> %q, want %q", data, ids, got, want)
				}
				// Encoding is stable under decoding.
				if again := tok.Encode(got); !equalInts(again, ids) {
					t.Fatalf("re-encode of %q: %v, want %v", got, again, ids)
				}
			}
		}
		// The pre-tokenizer covers its input exactly.
		var cover []byte
		splitGPT2(data, func(p []byte) {
			if len(p) == 0 {
				t.Fatal("empty piece")
			}
			cover = append(cover, p...)
		})
		if !bytes.Equal(cover, data) {
			t.Fatalf("split does not cover %q", data)
		}
	})
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func FuzzParseWorldVocab(f *testing.F) {
	small, err := os.ReadFile("testdata/small_world_vocab.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(small)
	f.Add(worldBytesVocab())
	f.Add([]byte("1 'a' 1\n"))
	f.Add([]byte("300 b'\\xff\\x00' 2\r\n301 '\\u4e2d' 3\n"))
	f.Add([]byte("2 '\\U0001f600' 4\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := NewWorld(data)
		if err != nil {
			return
		}
		in := []byte("hello, 世界 \xff")
		got, err := w.Decode(w.Encode(in))
		if err != nil || !bytes.Equal(got, in) {
			t.Fatalf("round trip %q: %q, %v", in, got, err)
		}
	})
}

func FuzzParseTokenizerJSON(f *testing.F) {
	small, err := os.ReadFile("testdata/small_tokenizer.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(small)
	f.Add([]byte(strings.Replace(string(small), `"NFC"`, `"NFKD"`, 1)))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"ByteLevel"},"decoder":{"type":"ByteLevel"}}`))
	f.Add([]byte(`{"model":null}`))
	f.Add([]byte(`{"normalizer":{"type":"Sequence","normalizers":[{"type":"Sequence"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := Parse(data)
		if err != nil {
			return
		}
		in := []byte("hello, 世界 <|endoftext|>  x")
		ids := tok.Encode(in)
		if _, err := tok.Decode(ids); err != nil {
			t.Fatalf("decode of own ids: %v", err)
		}
	})
}
