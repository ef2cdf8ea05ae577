package tokenizer

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/rwkvgo/rwkvgo/internal/testdata"
	"golang.org/x/text/unicode/norm"
)

const (
	worldVocabRel = "tokenizers/rwkv_vocab_v20230424.txt"
	neoxRel       = "tokenizers/20B_tokenizer.json"
)

var (
	loadMu sync.Mutex
	loaded = map[string]Tokenizer{}
)

// shared loads a tokenizer from the shared test data once per test binary.
func shared(tb testing.TB, rel string) Tokenizer {
	tb.Helper()
	p := testdata.Path(tb, rel)
	loadMu.Lock()
	defer loadMu.Unlock()
	if t, ok := loaded[p]; ok {
		return t
	}
	t, err := Load(p)
	if err != nil {
		tb.Fatal(err)
	}
	loaded[p] = t
	return t
}

func sharedWorld(tb testing.TB) *World { return shared(tb, worldVocabRel).(*World) }
func sharedNeoX(tb testing.TB) *BPE    { return shared(tb, neoxRel).(*BPE) }

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// checkVector encodes text, compares with want, and checks the round trip.
func checkVector(t *testing.T, tok Tokenizer, name string, text []byte, want []int) {
	t.Helper()
	if want == nil {
		want = []int{}
	}
	got := tok.Encode(text)
	if !slices.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		lo := max(0, i-3)
		t.Errorf("%s: encode differs at token %d of %d (want %d): got %v..., want %v...", name, i, len(got), len(want),
			got[lo:min(len(got), i+5)], want[lo:min(len(want), i+5)])
		return
	}
	dec, err := tok.Decode(got)
	if err != nil {
		t.Errorf("%s: decode: %v", name, err)
	} else if !bytes.Equal(dec, text) {
		t.Errorf("%s: decode(encode(s)) = %q, want %q", name, trunc(dec), trunc(text))
	}
}

func trunc(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}

func TestWorldVectors(t *testing.T) {
	tok := sharedWorld(t)
	var v struct {
		VocabFile string `json:"vocab_file"`
		Published []struct {
			Source string `json:"source"`
			Text   string `json:"text"`
			IDs    []int  `json:"ids"`
		} `json:"published"`
		Generated []struct {
			Text string `json:"text"`
			IDs  []int  `json:"ids"`
		} `json:"generated"`
		RawBytes []struct {
			Hex string `json:"bytes_hex"`
			IDs []int  `json:"ids"`
		} `json:"raw_bytes"`
		Big struct {
			TextFile string `json:"text_file"`
			NBytes   int    `json:"n_bytes"`
			IDs      []int  `json:"ids"`
		} `json:"big"`
	}
	vpath := testdata.Path(t, "tokenizers/world-vectors/world_tokenizer_vectors.json")
	readJSON(t, vpath, &v)
	if len(v.Published) != 3 || len(v.Generated) == 0 || len(v.RawBytes) == 0 || len(v.Big.IDs) != 17536 {
		t.Fatalf("unexpected vector file shape: %d published, %d generated, %d raw, %d big ids",
			len(v.Published), len(v.Generated), len(v.RawBytes), len(v.Big.IDs))
	}
	for _, c := range v.Published {
		checkVector(t, tok, "published "+c.Source, []byte(c.Text), c.IDs)
	}
	for _, c := range v.Generated {
		checkVector(t, tok, "generated "+c.Text, []byte(c.Text), c.IDs)
	}
	for _, c := range v.RawBytes {
		b, err := hex.DecodeString(c.Hex)
		if err != nil {
			t.Fatal(err)
		}
		checkVector(t, tok, "raw "+c.Hex, b, c.IDs)
	}
	big, err := os.ReadFile(filepath.Join(filepath.Dir(vpath), filepath.FromSlash(v.Big.TextFile)))
	if err != nil {
		t.Fatal(err)
	}
	if len(big) != v.Big.NBytes {
		t.Fatalf("big text has %d bytes, want %d", len(big), v.Big.NBytes)
	}
	checkVector(t, tok, "big", big, v.Big.IDs)
}

// pySplitLines splits like Python's str.splitlines().
func pySplitLines(s string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\r':
			lines = append(lines, s[start:i])
			if i+1 < len(s) && s[i+1] == '\n' {
				n = 2
			}
			start = i + n
		case '\n', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			lines = append(lines, s[start:i])
			start = i + n
		}
		i += n
	}
	if start < len(s) {
		lines = append(lines, s[start:])
	}
	return lines
}

func TestNeoXVectors(t *testing.T) {
	tok := sharedNeoX(t)
	dir := filepath.Dir(testdata.Path(t, "tokenizers/neox20b-vectors/hello-world.txt"))
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// As in the upstream test, inputs are NFC-normalized first (the
	// tokenizer's own normalizer is NFC too).
	var hello, whole []int
	var lines [][]int
	readJSON(t, filepath.Join(dir, "hello-world.json"), &hello)
	readJSON(t, filepath.Join(dir, "test-string.json"), &whole)
	readJSON(t, filepath.Join(dir, "test-string-lines.json"), &lines)
	checkVector(t, tok, "hello-world", []byte(norm.NFC.String(read("hello-world.txt"))), hello)
	text := norm.NFC.String(read("test-string.txt"))
	if len(whole) != 19344 {
		t.Fatalf("test-string.json has %d ids, want 19344", len(whole))
	}
	checkVector(t, tok, "test-string", []byte(text), whole)
	ls := pySplitLines(text)
	if len(ls) != len(lines) || len(ls) != 716 {
		t.Fatalf("%d lines, %d expected id lists", len(ls), len(lines))
	}
	for i, l := range ls {
		checkVector(t, tok, "line "+strings.TrimSpace(l), []byte(l), lines[i])
	}
}

func loadUncached(tb testing.TB, rel string) Tokenizer {
	tb.Helper()
	t, err := Load(testdata.Path(tb, rel))
	if err != nil {
		tb.Fatal(err)
	}
	return t
}
