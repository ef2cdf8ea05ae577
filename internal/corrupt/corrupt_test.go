package corrupt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rwkvgo/rwkvgo/internal/testdata"
	"github.com/rwkvgo/rwkvgo/tokenizer"
	"github.com/rwkvgo/rwkvgo/weights"
)

// Bounds on the work: every file gets the cut points below (those inside
// it) and flipsPerFile single-bit flips (fewer under -short or the race
// detector); files larger than maxFileBytes are skipped. Each loader call
// must return within callTimeout.
const (
	maxFileBytes = 8 << 20
	callTimeout  = 20 * time.Second
)

func flipsPerFile() int {
	if testing.Short() || raceBuild {
		return 4
	}
	return 12
}

// kind is how a shared file is loaded.
type kind int

const (
	kindModel kind = iota
	kindTokenizer
	kindState
	kindOther // not a loadable file: every loader must refuse or accept it cleanly
)

type sharedFile struct {
	rel  string
	kind kind
	cfg  weights.Config // state files: the configuration of their model
}

// call runs fn with a deadline, turning a panic or a hang into a test failure.
func call(t *testing.T, what string, fn func() error) error {
	t.Helper()
	type result struct {
		err   error
		panic any
		stack []byte
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{panic: p, stack: debug.Stack()}
			}
		}()
		done <- result{err: fn()}
	}()
	select {
	case r := <-done:
		if r.panic != nil {
			t.Fatalf("%s: panic: %v\n%s", what, r.panic, r.stack)
		}
		return r.err
	case <-time.After(callTimeout):
		t.Fatalf("%s: no result after %v", what, callTimeout)
	}
	return nil
}

// checkFile asserts that a decoded file's tensors hold exactly the bytes
// their advertised shape and type need.
func checkFile(f *weights.File) error {
	for _, x := range f.Tensors {
		for _, d := range x.Shape {
			if d < 0 {
				return fmt.Errorf("tensor %s has shape %v", x.Name, x.Shape)
			}
		}
		size, err := x.DType.ByteSize(x.Len())
		if err != nil || size != len(x.Data) {
			return fmt.Errorf("tensor %s: %s %v holds %d bytes (%v)", x.Name, x.DType, x.Shape, len(x.Data), err)
		}
	}
	return nil
}

// checkModel asserts that a model built by weights is usable and matches
// what its file advertises: a state size, emb/head of [vocab, width],
// matrices holding their shapes' bytes, vectors of the model width, and (for
// rwkv.cpp files) the header's vocabulary, width and depth.
func checkModel(m *weights.Model, f *weights.File) error {
	cfg := m.Config
	if _, err := weights.StateBytes(cfg); err != nil {
		return fmt.Errorf("configuration %+v: %v", cfg, err)
	}
	if f != nil && f.Format == weights.FormatGGML {
		h, err := f.GGMLHeader()
		if err != nil {
			return err
		}
		if int(h.NVocab) != cfg.Vocab || int(h.NEmbed) != cfg.Embd || int(h.NLayer) != cfg.Layers {
			return fmt.Errorf("header says vocab %d width %d layers %d, model has %d, %d, %d", h.NVocab, h.NEmbed, h.NLayer, cfg.Vocab, cfg.Embd, cfg.Layers)
		}
	}
	for _, n := range []string{"emb.weight", "head.weight"} {
		x, err := m.Matrix(n)
		if err != nil {
			return err
		}
		if len(x.Shape) != 2 || x.Shape[0] != cfg.Vocab || x.Shape[1] != cfg.Embd {
			return fmt.Errorf("%s has shape %v, want [%d, %d]", n, x.Shape, cfg.Vocab, cfg.Embd)
		}
	}
	for name, x := range m.Matrices {
		size, err := x.DType.ByteSize(x.Len())
		if len(x.Shape) != 2 || err != nil || size != len(x.Data) {
			return fmt.Errorf("matrix %s: %s %v holds %d bytes (%v)", name, x.DType, x.Shape, len(x.Data), err)
		}
	}
	for name, v := range m.Vectors {
		if len(v) != cfg.Embd {
			return fmt.Errorf("vector %s has %d values, width is %d", name, len(v), cfg.Embd)
		}
	}
	return nil
}

// checkTokenizer asserts that a parsed tokenizer encodes and decodes.
func checkTokenizer(tok tokenizer.Tokenizer) error {
	in := []byte("Hello, world! 你好 \xff\n  x")
	ids := tok.Encode(in)
	for _, id := range ids {
		if id < 0 || id >= tok.VocabSize() {
			return fmt.Errorf("%s encoded id %d outside its vocabulary of %d", tok.Name(), id, tok.VocabSize())
		}
	}
	if _, err := tok.Decode(ids); err != nil {
		return fmt.Errorf("%s cannot decode its own ids: %v", tok.Name(), err)
	}
	return nil
}

// loadBytes runs the in-memory loaders of f's kind on data. It returns
// whether a loader accepted the data.
func loadBytes(t *testing.T, f sharedFile, what string, data []byte) (accepted bool) {
	t.Helper()
	models := func() {
		call(t, what+": weights.Decode+Canonicalize", func() error {
			file, err := weights.Decode(data)
			if err != nil {
				return err
			}
			if err := checkFile(file); err != nil {
				t.Errorf("%s: weights.Decode accepted an invalid file: %v", what, err)
				return nil
			}
			m, err := weights.Canonicalize(file, weights.Options{})
			if err != nil {
				return err
			}
			accepted = true
			if err := checkModel(m, file); err != nil {
				t.Errorf("%s: weights.Canonicalize accepted an invalid model: %v", what, err)
			}
			return nil
		})
	}
	toks := func() {
		call(t, what+": tokenizer.Parse", func() error {
			tok, err := tokenizer.Parse(data)
			if err != nil {
				return err
			}
			accepted = true
			if err := checkTokenizer(tok); err != nil {
				t.Errorf("%s: tokenizer.Parse accepted a broken tokenizer: %v", what, err)
			}
			return nil
		})
	}
	switch f.kind {
	case kindModel:
		models()
	case kindTokenizer:
		toks()
	case kindState:
		call(t, what+": weights.DecodeState", func() error {
			v, err := weights.DecodeState(bytes.NewReader(data), f.cfg)
			if err != nil {
				return err
			}
			accepted = true
			if err := weights.CheckState(f.cfg, v); err != nil {
				t.Errorf("%s: DecodeState accepted an invalid state: %v", what, err)
			}
			return nil
		})
	case kindOther:
		models()
		toks()
	}
	return accepted
}

// loadPath runs the path-based loaders of f's kind on the file at path.
func loadPath(t *testing.T, f sharedFile, what, path string) {
	t.Helper()
	switch f.kind {
	case kindModel, kindOther:
		call(t, what+": weights.Open", func() error {
			file, err := weights.Open(path)
			if err != nil {
				return err
			}
			defer file.Close()
			if err := checkFile(file); err != nil {
				t.Errorf("%s: weights.Open accepted an invalid file: %v", what, err)
			}
			return nil
		})
		call(t, what+": weights.Load", func() error {
			m, err := weights.Load(path, weights.Options{})
			if err != nil {
				return err
			}
			defer m.Close()
			if err := checkModel(m, nil); err != nil {
				t.Errorf("%s: weights.Load accepted an invalid model: %v", what, err)
			}
			return nil
		})
	case kindTokenizer:
		call(t, what+": tokenizer.Load", func() error {
			tok, err := tokenizer.Load(path)
			if err != nil {
				return err
			}
			if err := checkTokenizer(tok); err != nil {
				t.Errorf("%s: tokenizer.Load accepted a broken tokenizer: %v", what, err)
			}
			return nil
		})
	}
}

// cutPoints returns the truncation lengths for data: the first bytes, the
// container's header boundaries (and one byte either side), the middle and
// the last byte.
func cutPoints(data []byte) []int {
	cuts := []int{0, 1, 4, 8, 9, 24, 36, len(data) / 2, len(data) - 22, len(data) - 1}
	around := func(n int) { cuts = append(cuts, n-1, n, n+1) }
	switch weights.Sniff(data) {
	case weights.FormatGGML:
		around(24) // file header
		if len(data) >= 36 {
			le := binary.LittleEndian
			dims, keyLen := int(le.Uint32(data[24:])), int(le.Uint32(data[28:]))
			if dims <= 3 && keyLen < 4096 {
				around(36 + 4*dims + keyLen) // end of the first tensor's record header
			}
		}
	case weights.FormatSafetensors:
		if n := binary.LittleEndian.Uint64(data); n < uint64(len(data)) {
			around(8 + int(n)) // end of the JSON header
			around(8 + int(n)/2)
		}
	case weights.FormatPTH:
		around(30)             // first local file header
		around(len(data) - 22) // end of central directory record
	}
	var out []int
	seen := map[int]bool{}
	for _, c := range cuts {
		if c >= 0 && c < len(data) && !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	sort.Ints(out)
	return out
}

// flipPositions returns deterministic bit positions to flip: half inside
// the first 4 KiB (headers and the first records), half anywhere.
func flipPositions(rel string, size int) []int {
	var seed uint64
	for _, c := range rel {
		seed = seed*131 + uint64(c)
	}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	out := make([]int, flipsPerFile())
	for i := range out {
		n := size
		if i%2 == 0 {
			n = min(size, 4096)
		}
		out[i] = r.IntN(n * 8) // bit index
	}
	return out
}

// sharedFiles lists the shared test files by kind, with the configuration
// of the model each reference state belongs to.
func sharedFiles(t *testing.T, root string) []sharedFile {
	var files []sharedFile
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		base := filepath.Base(rel)
		k := kindOther
		switch {
		case strings.HasPrefix(rel, "rwkv.cpp/") && strings.HasPrefix(base, "tiny-rwkv-") && strings.HasSuffix(base, ".bin"),
			strings.HasSuffix(base, ".pth"), strings.HasSuffix(base, ".safetensors"), strings.HasSuffix(base, ".st"):
			k = kindModel
		case rel == "tokenizers/rwkv_vocab_v20230424.txt", rel == "tokenizers/20B_tokenizer.json":
			k = kindTokenizer
		case strings.HasSuffix(base, ".state.f32"):
			k = kindState
		case strings.HasPrefix(rel, "reference/") && strings.HasSuffix(base, ".logits.f32"):
			return nil // thousands of raw floats: a few of them stand for all (below)
		}
		files = append(files, sharedFile{rel: rel, kind: k})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Reference states: the configuration of their model, from index.json.
	raw, err := os.ReadFile(filepath.Join(root, "reference", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var index []struct {
		M string `json:"model"`
		S string `json:"state_file"`
		L string `json:"logits_file"`
	}
	if err := json.Unmarshal(raw, &index); err != nil {
		t.Fatal(err)
	}
	modelOf := map[string]string{}
	for i, e := range index {
		modelOf["reference/"+e.S] = e.M
		if i%40 == 0 { // a sample of the logits files, loaded as "other"
			files = append(files, sharedFile{rel: "reference/" + e.L, kind: kindOther})
		}
	}
	cfgs := map[string]weights.Config{}
	for i := range files {
		f := &files[i]
		if f.kind != kindState {
			continue
		}
		model := modelOf[f.rel]
		cfg, ok := cfgs[model]
		if !ok {
			matches, _ := filepath.Glob(filepath.Join(root, "rwkv.cpp", "*", model))
			if len(matches) != 1 {
				t.Fatalf("state %s: model %q not found", f.rel, model)
			}
			m, err := weights.Load(matches[0], weights.Options{})
			if err != nil {
				t.Fatal(err)
			}
			cfg = m.Config
			m.Close()
			cfgs[model] = cfg
		}
		f.cfg = cfg
	}
	return files
}

// TestCorruptedSharedFiles feeds every exported loader truncated and
// bit-flipped variants of every shared test file (of at most maxFileBytes):
// each call must return an error or a valid result (a model whose tensors
// hold their advertised shapes and that weights' model builder accepts, a
// tokenizer that round-trips, a state of the right size with finite values),
// never panic and never hang. The unmodified files must load.
func TestCorruptedSharedFiles(t *testing.T) {
	// Skips without the shared data, or fails under RWKVGO_REQUIRE_TESTDATA=1.
	testdata.Path(t, "reference/index.json")
	root := testdata.Root()
	files := sharedFiles(t, root)
	counts := map[kind]int{}
	tmp := t.TempDir()
	start := time.Now()
	variants, accepted, skipped := 0, 0, 0
	for _, f := range files {
		path := filepath.Join(root, filepath.FromSlash(f.rel))
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > maxFileBytes {
			skipped++
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		counts[f.kind]++
		// The unmodified file: models, tokenizers and states load.
		ok := loadBytes(t, f, f.rel, data)
		if f.kind != kindOther && !ok && f.rel != "pth-real/260123_reverse_L2_only_rwkv7.pth" {
			t.Errorf("%s: the unmodified file does not load", f.rel)
		}
		if f.kind != kindState {
			loadPath(t, f, f.rel, path)
		}
		// Truncations. Short ones also go through the path-based loaders.
		for _, n := range cutPoints(data) {
			what := fmt.Sprintf("%s cut to %d bytes", f.rel, n)
			if loadBytes(t, f, what, data[:n:n]) {
				accepted++
			}
			if n <= 64<<10 && f.kind != kindState {
				p := filepath.Join(tmp, "cut")
				if err := os.WriteFile(p, data[:n], 0o644); err != nil {
					t.Fatal(err)
				}
				loadPath(t, f, what, p)
			}
			variants++
		}
		// Single-bit flips, one at a time, on a private copy.
		buf := bytes.Clone(data)
		for _, bit := range flipPositions(f.rel, len(buf)) {
			buf[bit/8] ^= 1 << (bit % 8)
			if loadBytes(t, f, fmt.Sprintf("%s with bit %d of byte %d flipped", f.rel, bit%8, bit/8), buf) {
				accepted++
			}
			buf[bit/8] ^= 1 << (bit % 8)
			variants++
		}
		if t.Failed() {
			break
		}
	}
	if counts[kindModel] < 40 || counts[kindTokenizer] != 2 || counts[kindState] < 100 {
		t.Errorf("found %d model, %d tokenizer and %d state files; the shared test data looks incomplete",
			counts[kindModel], counts[kindTokenizer], counts[kindState])
	}
	t.Logf("%d files (%d models, %d tokenizers, %d states, %d other), %d skipped as too large, %d variants (%d accepted as valid, the rest refused) in %v",
		len(files)-skipped, counts[kindModel], counts[kindTokenizer], counts[kindState], counts[kindOther], skipped, variants, accepted, time.Since(start).Round(time.Millisecond))
}
