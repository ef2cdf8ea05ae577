package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/internal/testdata"
)

func TestParseDetect(t *testing.T) {
	for in, want := range map[string]string{
		"":                "empty",
		"   \n":           "empty",
		"hello":           "unrecognized",
		"{":               "tokenizer.json",
		"{}":              "no model",
		"1 'a' 1\n":       "byte 0x00",
		"\xef\xbb\xbf[1]": "unrecognized",
	} {
		_, err := Parse([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error = %v, want it to mention %q", in, err, want)
		}
	}
	if _, err := Load("testdata/does-not-exist.txt"); err == nil {
		t.Error("Load of a missing file: no error")
	}
}

func TestBPEFixture(t *testing.T) {
	tok := loadFixture(t, "small_tokenizer.json")
	if tok.Name() != KindBPE {
		t.Fatal(tok.Name())
	}
	if id, ok := tok.EndOfText(); id != 0 || !ok {
		t.Fatalf("EndOfText = %d, %v", id, ok)
	}
	// Expected ids from the Hugging Face tokenizers library.
	cases := []struct {
		in   string
		want []int
	}{
		{"hello the thing", []int{267, 259, 257, 105, 261}},
		{"中文 中", []int{271, 231, 151, 136, 33, 271}},
		{"a   b    c", []int{98, 272, 99, 272, 33, 100}},
		{"<|endoftext|>the", []int{0, 117, 258}},
		{"\u00e9", []int{196, 170}},
		{"  ", []int{268}},
	}
	for _, c := range cases {
		checkVector(t, tok, c.in, []byte(c.in), c.want)
	}
	// NFC applies: a decomposed é encodes like the composed one.
	if got := tok.Encode([]byte("e\u0301")); !slices.Equal(got, []int{196, 170}) {
		t.Errorf("NFC: got %v", got)
	}
}

// editJSON loads the small tokenizer.json fixture, applies edit and returns
// the result of NewBPE.
func editJSON(t *testing.T, edit func(m map[string]any)) error {
	t.Helper()
	data, err := os.ReadFile("testdata/small_tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewBPE(out)
	return err
}

func TestBPEConfigErrors(t *testing.T) {
	model := func(m map[string]any) map[string]any { return m["model"].(map[string]any) }
	cases := map[string]func(m map[string]any){
		"unigram model":    func(m map[string]any) { model(m)["type"] = "Unigram" },
		"no model":         func(m map[string]any) { delete(m, "model") },
		"dropout":          func(m map[string]any) { model(m)["dropout"] = 0.1 },
		"subword prefix":   func(m map[string]any) { model(m)["continuing_subword_prefix"] = "##" },
		"byte fallback":    func(m map[string]any) { model(m)["byte_fallback"] = true },
		"lowercase":        func(m map[string]any) { m["normalizer"] = map[string]any{"type": "Lowercase"} },
		"metaspace":        func(m map[string]any) { m["pre_tokenizer"] = map[string]any{"type": "Metaspace"} },
		"no pre_tokenizer": func(m map[string]any) { m["pre_tokenizer"] = nil },
		"wordpiece dec":    func(m map[string]any) { m["decoder"] = map[string]any{"type": "WordPiece"} },
		"template post":    func(m map[string]any) { m["post_processor"] = map[string]any{"type": "TemplateProcessing"} },
		"bad merge":        func(m map[string]any) { model(m)["merges"] = []any{"a b c"} },
		"unknown merge":    func(m map[string]any) { model(m)["merges"] = []any{"zz q"} },
		"merge not pair":   func(m map[string]any) { model(m)["merges"] = []any{42} },
		"empty vocab":      func(m map[string]any) { model(m)["vocab"] = map[string]any{} },
		"negative id":      func(m map[string]any) { model(m)["vocab"].(map[string]any)["x"] = -1 },
		"huge id":          func(m map[string]any) { model(m)["vocab"].(map[string]any)["x"] = 1 << 40 },
		"shared id":        func(m map[string]any) { model(m)["vocab"].(map[string]any)["xyz"] = 5 },
		"missing byte":     func(m map[string]any) { delete(model(m)["vocab"].(map[string]any), "a") },
		"added no id":      func(m map[string]any) { m["added_tokens"] = []any{map[string]any{"content": "x"}} },
		"added clash":      func(m map[string]any) { m["added_tokens"] = []any{map[string]any{"id": 5, "content": "<x>"}} },
		"vocab not object": func(m map[string]any) { model(m)["vocab"] = []any{1} },
	}
	for name, edit := range cases {
		if err := editJSON(t, edit); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Supported variants load.
	ok := map[string]func(m map[string]any){
		"pair merges": func(m map[string]any) {
			var pairs []any
			for _, s := range model(m)["merges"].([]any) {
				a, b, _ := strings.Cut(s.(string), " ")
				pairs = append(pairs, []any{a, b})
			}
			model(m)["merges"] = pairs
		},
		"no normalizer": func(m map[string]any) { m["normalizer"] = nil },
		"nfkc sequence": func(m map[string]any) {
			m["normalizer"] = map[string]any{"type": "Sequence", "normalizers": []any{map[string]any{"type": "NFKC"}}}
		},
		"sequence pre": func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{m["pre_tokenizer"]}}
		},
		"no post":       func(m map[string]any) { delete(m, "post_processor") },
		"ignore merges": func(m map[string]any) { model(m)["ignore_merges"] = true },
		"missing 0xff":  func(m map[string]any) { delete(model(m)["vocab"].(map[string]any), "ÿ") },
	}
	for name, edit := range ok {
		if err := editJSON(t, edit); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestBPEOptions(t *testing.T) {
	data, err := os.ReadFile("testdata/small_tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(data, &m)
	m["pre_tokenizer"].(map[string]any)["add_prefix_space"] = true
	m["added_tokens"] = append(m["added_tokens"].([]any),
		map[string]any{"id": 900, "content": "<L>", "lstrip": true, "special": true, "normalized": false},
		map[string]any{"id": 901, "content": "<R>", "rstrip": true, "special": true, "normalized": false},
		map[string]any{"id": 902, "content": "ww", "single_word": true, "special": true, "normalized": false},
	)
	out, _ := json.Marshal(m)
	tok, err := NewBPE(out)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(s string) []int { return tok.Encode([]byte(s)) }
	// add_prefix_space: "the" is encoded as " the" at the start of each
	// segment that does not begin with a space.
	if got, want := enc("the"), []int{259}; !slices.Equal(got, want) {
		t.Errorf("prefix space: %v, want %v", got, want)
	}
	if got, want := enc(" the"), []int{259}; !slices.Equal(got, want) {
		t.Errorf("prefix space present: %v, want %v", got, want)
	}
	// lstrip takes the spaces before <L>; rstrip those after <R>.
	if got, want := enc("the  <L>the"), []int{259, 900, 259}; !slices.Equal(got, want) {
		t.Errorf("lstrip: %v, want %v", got, want)
	}
	if got, want := enc("the<R>  the"), []int{259, 901, 259}; !slices.Equal(got, want) {
		t.Errorf("rstrip: %v, want %v", got, want)
	}
	// single_word: "ww" alone is the added token, inside a word it is not.
	// (Behaviour checked against the Hugging Face tokenizers library.)
	if got := enc("a ww b"); !slices.Contains(got, 902) {
		t.Errorf("single word alone: %v", got)
	}
	if got := enc("awwb"); slices.Contains(got, 902) {
		t.Errorf("single word inside a word: %v", got)
	}
}

func TestForModel(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "model.pth")
	if err := os.WriteFile(model, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	world := "testdata/small_world_vocab.txt"
	bpe := "testdata/small_tokenizer.json"

	// vocab 256: bytes, unless a tokenizer is given.
	if tok, err := ForModel(256, model, ""); err != nil || tok.Name() != KindBytes {
		t.Fatalf("256: %v, %v", tok, err)
	}
	if tok, err := ForModel(0, model, world); err != nil || tok.Name() != KindWorld {
		t.Fatalf("explicit: %v, %v", tok, err)
	}
	if _, err := ForModel(256, model, world); err == nil {
		t.Fatal("explicit World vocab accepted for a vocab-256 model")
	}
	if _, err := ForModel(0, model, filepath.Join(dir, "nope.txt")); err == nil {
		t.Fatal("missing explicit file accepted")
	}
	// Nothing next to the model.
	_, err := ForModel(65536, model, "")
	if err == nil || !strings.Contains(err.Error(), "rwkv_vocab_v20230424.txt") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("empty dir: %v", err)
	}
	_, err = ForModel(50277, model, "")
	if err == nil || !strings.Contains(err.Error(), "20B_tokenizer.json") {
		t.Fatalf("empty dir: %v", err)
	}
	// A vocabulary file beside the model, matched by size.
	copyFile(t, world, filepath.Join(dir, "my_vocab.txt"))
	copyFile(t, bpe, filepath.Join(dir, "tokenizer.json"))
	wv, err := Load(world)
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := ForModel(wv.VocabSize(), model, ""); err != nil || tok.Name() != KindWorld {
		t.Fatalf("world beside model: %v, %v", tok, err)
	}
	bv, err := Load(bpe)
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := ForModel(bv.VocabSize()+3, model, ""); err != nil || tok.Name() != KindBPE {
		t.Fatalf("bpe beside model (padded): %v, %v", tok, err)
	}
	if _, err := ForModel(5000, model, ""); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Fatalf("no fitting file: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestForModelShared(t *testing.T) {
	world := testdata.Path(t, worldVocabRel)
	neox := testdata.Path(t, neoxRel)
	dir := t.TempDir()
	model := filepath.Join(dir, "RWKV-x060-World-1B6.pth")
	copyFile(t, world, filepath.Join(dir, "rwkv_vocab_v20230424.txt"))
	copyFile(t, neox, filepath.Join(dir, "20B_tokenizer.json"))
	for _, c := range []struct {
		vocab int
		kind  string
	}{{65536, KindWorld}, {50277, KindBPE}, {50304, KindBPE}, {50432, KindBPE}, {256, KindBytes}} {
		tok, err := ForModel(c.vocab, model, "")
		if err != nil || tok.Name() != c.kind {
			t.Errorf("vocab %d: %v, %v; want %s", c.vocab, tok, err, c.kind)
		}
	}
	if tok, _ := Load(world); tok.VocabSize() != 65530 {
		t.Errorf("World VocabSize = %d", tok.VocabSize())
	}
	if tok, _ := Load(neox); tok.VocabSize() != 50277 {
		t.Errorf("NeoX VocabSize = %d", tok.VocabSize())
	}
	if _, err := ForModel(65536, model, neox); err == nil {
		t.Error("NeoX tokenizer accepted for a World model")
	}
	if _, err := ForModel(50277, model, world); err == nil {
		t.Error("World vocab accepted for a NeoX model")
	}
}

func TestConcurrentEncode(t *testing.T) {
	toks := []Tokenizer{Bytes(), loadFixture(t, "small_world_vocab.txt"), loadFixture(t, "small_tokenizer.json")}
	text := []byte(strings.Repeat("hello the thing 中文 <|endoftext|>  x\n", 50))
	for _, tok := range toks {
		want := tok.Encode(text)
		done := make(chan []int)
		for g := 0; g < 4; g++ {
			go func() {
				var got []int
				for i := 0; i < 20; i++ {
					got = tok.Encode(text)
				}
				done <- got
			}()
		}
		for g := 0; g < 4; g++ {
			if got := <-done; !slices.Equal(got, want) {
				t.Errorf("%s: concurrent encode differs", tok.Name())
			}
		}
	}
}
