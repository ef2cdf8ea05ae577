package weights

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// tinyModel synthesizes a very small model for fuzz seeds.
func tinyModel(t testing.TB, v Version, embd int) *File {
	t.Helper()
	f, err := Synthesize(SynthConfig{Version: v, Layers: 1, Embd: embd, Vocab: 2, HeadSize: min(8, embd), FFN: embd,
		MixLoRA: 1, DecayLoRA: 1, AaaLoRA: 1, ValueLoRA: 1, GateLoRA: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// pthModel writes the tensors of f (F32) as a torch.save archive, one
// storage per tensor.
func pthModel(t testing.TB, f *File) []byte {
	t.Helper()
	p := newPickle().beginDict()
	files := []zf{{name: "archive/data.pkl"}}
	for i, x := range f.Tensors {
		shape := make([]int64, len(x.Shape))
		stride := make([]int64, len(x.Shape))
		s := int64(1)
		for j := len(x.Shape) - 1; j >= 0; j-- {
			shape[j], stride[j] = int64(x.Shape[j]), s
			s *= int64(x.Shape[j])
		}
		key := strconv.Itoa(i)
		p.str(x.Name).tensor("FloatStorage", key, int64(x.Len()), 0, shape, stride)
		files = append(files, zf{name: "archive/data/" + key, data: x.Data})
	}
	files[0].data = p.endDict()
	return mkzip(t, files...)
}

// ggmlModel writes a synthetic model in rwkv.cpp's layout with main type dt.
func ggmlModel(t testing.TB, f *File, dt DType) []byte {
	t.Helper()
	conv, err := ToRWKVCpp(f)
	if err != nil {
		t.Fatal(err)
	}
	ts := make([]*Tensor, len(conv.Tensors))
	for i, x := range conv.Tensors {
		typ := RWKVCppDType(x.Name, x.Shape, dt)
		v, err := x.Float32()
		if err != nil {
			t.Fatal(err)
		}
		data, err := Encode(typ, v)
		if err != nil {
			t.Fatal(err)
		}
		ts[i] = &Tensor{Name: x.Name, DType: typ, Shape: x.Shape, Data: data}
	}
	h := GGMLHeader{Version: GGMLVersion101, NVocab: uint32(conv.Header["n_vocab"]), NEmbed: uint32(conv.Header["n_embed"]),
		NLayer: uint32(conv.Header["n_layer"]), DataType: dt}
	var buf bytes.Buffer
	if err := WriteGGML(&buf, h, ts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// decodeModelSeeds are whole small models in every container.
func decodeModelSeeds(t testing.TB) map[string][]byte {
	v4, v7 := tinyModel(t, V4, 4), tinyModel(t, V7, 32)
	var st bytes.Buffer
	if err := WriteSafetensors(&st, tinyModel(t, V52, 8).Tensors, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"ggml-v4-f32":      ggmlModel(t, v4, F32),
		"ggml-v7-q8_0":     ggmlModel(t, v7, Q8_0),
		"safetensors-v5.2": st.Bytes(),
		"pth-v6":           pthModel(t, tinyModel(t, V6, 8)),
	}
}

// stateFuzzConfigs are the model shapes FuzzDecodeState reads states for.
var stateFuzzConfigs = []Config{
	{Version: V4, Layers: 2, Embd: 4},
	{Version: V7, Layers: 1, Embd: 4, Heads: 2, HeadSize: 2},
}

func decodeStateSeeds() map[string][]byte {
	seeds := map[string][]byte{}
	for _, cfg := range stateFuzzConfigs {
		seeds["initial-"+cfg.Version.String()] = stateBytes(initialState(cfg))
	}
	nan := initialState(stateFuzzConfigs[1])
	nan[3] = float32(math.NaN())
	seeds["nan"] = stateBytes(nan)
	return seeds
}

// pthArchiveSeeds are small complete archives, stored and compressed.
func pthArchiveSeeds(t testing.TB) map[string][]byte {
	good := newPickle().beginDict().str("w").tensor("FloatStorage", "0", 6, 0, []int64{2, 3}, []int64{3, 1}).endDict()
	half := newPickle().beginDict().str("w").tensor("HalfStorage", "0", 4, 2, []int64{2}, []int64{1}).endDict()
	return map[string][]byte{
		"stored": pthWith(t, good),
		"deflated": mkzip(t, zf{name: "m/data.pkl", data: good, deflate: true}, zf{name: "m/byteorder", data: []byte("little")},
			zf{name: "m/data/0", data: seq(24, 0), deflate: true}),
		"half": mkzip(t, zf{name: "archive/data.pkl", data: half}, zf{name: "archive/data/0", data: seq(8, 0)}),
	}
}

// TestNewFuzzSeedsCommitted checks that the committed seed corpora of the
// fuzz targets below are the generated ones; RWKVGO_UPDATE_FUZZ_SEEDS=1
// rewrites them.
func TestNewFuzzSeedsCommitted(t *testing.T) {
	update := os.Getenv("RWKVGO_UPDATE_FUZZ_SEEDS") == "1"
	// The model seeds are valid models, so fuzzing starts from files that
	// reach the model builder.
	for name, data := range decodeModelSeeds(t) {
		file, err := Decode(data)
		if err != nil {
			t.Fatalf("seed %s: %v", name, err)
		}
		m, err := Canonicalize(file, Options{})
		if err != nil {
			t.Fatalf("seed %s: %v", name, err)
		}
		checkModel(t, m)
	}
	for target, seeds := range map[string]map[string][]byte{
		"FuzzDecodeModel":    decodeModelSeeds(t),
		"FuzzDecodeState":    decodeStateSeeds(),
		"FuzzReadPTHArchive": pthArchiveSeeds(t),
	} {
		dir := filepath.Join("testdata", "fuzz", target)
		names := make([]string, 0, len(seeds))
		for n := range seeds {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			path := filepath.Join(dir, name)
			want := fuzzCorpusFile(seeds[name])
			if update {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("fuzz seed %s is missing or stale (%v); regenerate with RWKVGO_UPDATE_FUZZ_SEEDS=1 go test ./weights/ -run TestNewFuzzSeedsCommitted", path, err)
			}
		}
	}
}

// checkModel asserts the invariants of a model Canonicalize accepted.
func checkModel(t testing.TB, m *Model) {
	t.Helper()
	cfg := m.Config
	if _, err := StateBytes(cfg); err != nil {
		t.Fatalf("accepted model has an unusable configuration %+v: %v", cfg, err)
	}
	for name, x := range m.Matrices {
		if len(x.Shape) != 2 {
			t.Fatalf("matrix %s has shape %v", name, x.Shape)
		}
		size, err := x.DType.ByteSize(x.Len())
		if err != nil || size != len(x.Data) {
			t.Fatalf("matrix %s: %s %v holds %d bytes (%v)", name, x.DType, x.Shape, len(x.Data), err)
		}
	}
	for _, n := range []string{"emb.weight", "head.weight"} {
		x := m.Matrices[n]
		if x == nil || x.Shape[0] != cfg.Vocab || x.Shape[1] != cfg.Embd {
			t.Fatalf("%s does not match vocab %d width %d", n, cfg.Vocab, cfg.Embd)
		}
	}
	for name, v := range m.Vectors {
		if len(v) != cfg.Embd && !strings.HasSuffix(name, "time_maa_w2") {
			t.Fatalf("vector %s has %d values, width is %d", name, len(v), cfg.Embd)
		}
	}
}

// FuzzDecodeModel runs the whole loading pipeline of every container
// (content sniffing, the container reader, the model builder with its
// consistency checks) on arbitrary bytes.
func FuzzDecodeModel(f *testing.F) {
	for _, data := range decodeModelSeeds(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Decode(data)
		if err != nil {
			return
		}
		for _, x := range file.Tensors {
			size, err := x.DType.ByteSize(x.Len())
			if err != nil || size != len(x.Data) {
				t.Fatalf("tensor %s: %s %v holds %d bytes (%v)", x.Name, x.DType, x.Shape, len(x.Data), err)
			}
		}
		m, err := Canonicalize(file, Options{})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "weights: ") {
				t.Fatalf("error without package prefix: %v", err)
			}
			return
		}
		checkModel(t, m)
	})
}

// FuzzDecodeState reads arbitrary bytes as a state file for small models;
// an accepted state re-encodes to the same bytes.
func FuzzDecodeState(f *testing.F) {
	for _, data := range decodeStateSeeds() {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, cfg := range stateFuzzConfigs {
			v, err := DecodeState(bytes.NewReader(data), cfg)
			if err != nil {
				if !strings.HasPrefix(err.Error(), "weights: ") {
					t.Fatalf("error without package prefix: %v", err)
				}
				continue
			}
			if !bytes.Equal(stateBytes(v), data) {
				t.Fatal("accepted state does not re-encode to its input")
			}
			if err := CheckState(cfg, v); err != nil {
				t.Fatalf("accepted state fails CheckState: %v", err)
			}
		}
	})
}

// FuzzReadPTHArchive runs ReadPTH on whole archives (the zip container as
// well as the pickle inside it).
func FuzzReadPTHArchive(f *testing.F) {
	for _, data := range pthArchiveSeeds(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ReadPTH(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "weights: ") {
				t.Fatalf("error without package prefix: %v", err)
			}
			return
		}
		for _, g := range file.Tensors {
			if len(g.Data) != g.Len()*g.DType.BlockBytes() {
				t.Fatalf("tensor %s has %d bytes for shape %v", g.Name, len(g.Data), g.Shape)
			}
		}
	})
}
