package weights

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/rwkvgo/rwkvgo/internal/testdata"
)

// ggmlModelFacts are the documented hyperparameters of the tiny rwkv.cpp test
// models (testdata MANIFEST), keyed by the model part of the file name.
var ggmlModelFacts = map[string]struct {
	nEmbed, nLayer, nTensors int
}{
	"4v0-660K": {128, 4, 78},
	"5v1-730K": {64, 12, 246},
	"5v2-730K": {64, 12, 270},
	"6v0-3m":   {128, 12, 342},
	"6v0-1m":   {64, 12, 342},
	"7v0-834K": {64, 12, 339},
}

var ggmlSuffixCodes = map[string]uint32{
	"FP32": 0, "FP16": 1, "Q4_0": 2, "Q4_1": 3, "Q5_0": 7, "Q5_1": 8, "Q8_0": 9,
}

// realGGMLFiles lists every rwkv.cpp model file in the shared test data
// (the expected-logits-*.bin files are raw logits, not models).
func realGGMLFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, dir := range []string{"tests", "tests-history", "quantized-by-rwkv.cpp"} {
		files = append(files, testdata.Glob(t, "rwkv.cpp/"+dir+"/tiny-rwkv-*.bin")...)
	}
	return files
}

// parseGGMLName splits "tiny-rwkv-4v0-660K-FP32-to-Q4_0.bin" into the model
// ("4v0-660K") and the stored type ("Q4_0").
func parseGGMLName(t testing.TB, path string) (model, kind string) {
	t.Helper()
	base := strings.TrimSuffix(filepath.Base(path), ".bin")
	base = strings.TrimPrefix(base, "tiny-rwkv-")
	if i := strings.Index(base, "-FP32-to-"); i >= 0 {
		return base[:i], base[i+len("-FP32-to-"):]
	}
	i := strings.LastIndex(base, "-")
	if i < 0 {
		t.Fatalf("unexpected test file name %s", path)
	}
	return base[:i], base[i+1:]
}

func readGGMLFile(t testing.TB, path string) ([]byte, *File) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ReadGGML(data)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	return data, f
}

func TestGGMLTypeCodes(t *testing.T) {
	want := map[DType]uint32{F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 7, Q5_1: 8, Q8_0: 9}
	for dt, code := range want {
		got, ok := GGMLTypeCode(dt)
		if !ok || got != code {
			t.Errorf("GGMLTypeCode(%s) = %d, %v; want %d", dt, got, ok, code)
		}
		back, err := GGMLDType(code)
		if err != nil || back != dt {
			t.Errorf("GGMLDType(%d) = %s, %v; want %s", code, back, err, dt)
		}
	}
	if _, ok := GGMLTypeCode(BF16); ok {
		t.Error("GGMLTypeCode(BF16) reported a code")
	}
	for code, name := range map[uint32]string{4: "Q4_1_O", 5: "Q4_2", 6: "Q4_3"} {
		_, err := GGMLDType(code)
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "removed") {
			t.Errorf("GGMLDType(%d) error %v, want a removed-type error naming %s", code, err, name)
		}
	}
	if _, err := GGMLDType(10); err == nil || !strings.HasPrefix(err.Error(), "weights: ") {
		t.Errorf("GGMLDType(10) error %v", err)
	}
}

func TestReadGGMLRealFiles(t *testing.T) {
	files := realGGMLFiles(t)
	if len(files) < 30 {
		t.Errorf("found only %d rwkv.cpp test files", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			model, kind := parseGGMLName(t, path)
			facts, ok := ggmlModelFacts[model]
			if !ok {
				t.Fatalf("no facts for model %q", model)
			}
			code, ok := ggmlSuffixCodes[kind]
			if !ok {
				t.Fatalf("unknown kind %q", kind)
			}
			_, f := readGGMLFile(t, path)
			if f.Format != FormatGGML {
				t.Errorf("Format = %v", f.Format)
			}
			version := 101
			if model == "4v0-660K" && (kind == "FP32" || kind == "FP16") {
				version = 100
			}
			wantHeader := map[string]int{"version": version, "n_vocab": 256, "n_embed": facts.nEmbed, "n_layer": facts.nLayer, "data_type": int(code)}
			for k, v := range wantHeader {
				if f.Header[k] != v {
					t.Errorf("Header[%q] = %d, want %d", k, f.Header[k], v)
				}
			}
			h, err := f.GGMLHeader()
			if err != nil {
				t.Fatal(err)
			}
			if h.Version != uint32(version) || h.NVocab != 256 || h.NEmbed != uint32(facts.nEmbed) || h.NLayer != uint32(facts.nLayer) {
				t.Errorf("GGMLHeader = %+v", h)
			}
			if got, _ := GGMLTypeCode(h.DataType); got != code {
				t.Errorf("GGMLHeader.DataType = %s", h.DataType)
			}
			if len(f.Tensors) != facts.nTensors {
				t.Errorf("%d tensors, want %d", len(f.Tensors), facts.nTensors)
			}
			if f.Tensors[0].Name != "emb.weight" || f.Tensors[len(f.Tensors)-1].Name != "head.weight" {
				t.Errorf("first/last tensors %q, %q", f.Tensors[0].Name, f.Tensors[len(f.Tensors)-1].Name)
			}
			c := facts.nEmbed
			for name, shape := range map[string][]int{
				"emb.weight":              {256, c},
				"head.weight":             {256, c},
				"blocks.0.att.key.weight": {c, c},
				"blocks.0.ln1.weight":     {c},
				"ln_out.bias":             {c},
			} {
				tt := f.Get(name)
				if tt == nil {
					t.Errorf("missing %s", name)
					continue
				}
				if fmt.Sprint(tt.Shape) != fmt.Sprint(shape) {
					t.Errorf("%s shape %s, want %v", name, tt.ShapeString(), shape)
				}
			}
			last := fmt.Sprintf("blocks.%d.ln2.weight", facts.nLayer-1)
			if f.Get(last) == nil || f.Get(fmt.Sprintf("blocks.%d.ln2.weight", facts.nLayer)) != nil {
				t.Errorf("layer count does not match n_layer %d", facts.nLayer)
			}
			checkGGMLTensorTypes(t, f, kind)
		})
	}
}

// checkGGMLTensorTypes checks the per-tensor type rules of rwkv.cpp's
// converter and quantizer (testdata MANIFEST) and that data sizes match.
func checkGGMLTensorTypes(t *testing.T, f *File, kind string) {
	t.Helper()
	for _, tt := range f.Tensors {
		size, err := tt.DType.ByteSize(tt.Len())
		if err != nil || size != len(tt.Data) {
			t.Errorf("%s: %s %s with %d bytes", tt.Name, tt.DType, tt.ShapeString(), len(tt.Data))
		}
		switch kind {
		case "FP32":
			if tt.DType != F32 {
				t.Errorf("%s is %s in an FP32 file", tt.Name, tt.DType)
			}
		case "FP16":
			if tt.DType != F32 && tt.DType != F16 || len(tt.Shape) == 1 && tt.DType != F32 {
				t.Errorf("%s %s is %s in an FP16 file", tt.Name, tt.ShapeString(), tt.DType)
			}
		default:
			want, _ := ParseDType(kind)
			if tt.DType.Quantized() {
				if tt.DType != want || len(tt.Shape) != 2 || tt.Name == "emb.weight" || tt.Name == "head.weight" {
					t.Errorf("%s %s is %s in a %s file", tt.Name, tt.ShapeString(), tt.DType, kind)
				}
			} else if tt.DType != F32 {
				t.Errorf("%s is %s in a %s file", tt.Name, tt.DType, kind)
			}
		}
	}
}

func TestWriteGGMLReproducesRealFiles(t *testing.T) {
	for _, path := range realGGMLFiles(t) {
		data, f := readGGMLFile(t, path)
		h, err := f.GGMLHeader()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := WriteGGML(&buf, h, f.Tensors); err != nil {
			t.Errorf("%s: %v", filepath.Base(path), err)
			continue
		}
		if !bytes.Equal(buf.Bytes(), data) {
			t.Errorf("%s: rewritten file differs (%d bytes vs %d)", filepath.Base(path), buf.Len(), len(data))
		}
	}
}

func TestReadGGMLAliasesInput(t *testing.T) {
	data := synthGGML(t)
	f, err := ReadGGML(data)
	if err != nil {
		t.Fatal(err)
	}
	lo := uintptr(unsafe.Pointer(&data[0]))
	hi := lo + uintptr(len(data))
	for _, tt := range f.Tensors {
		p := uintptr(unsafe.Pointer(&tt.Data[0]))
		if p < lo || p+uintptr(len(tt.Data)) > hi {
			t.Errorf("%s: data does not alias the input", tt.Name)
		}
		if cap(tt.Data) != len(tt.Data) {
			t.Errorf("%s: cap %d > len %d lets appends overwrite the next tensor", tt.Name, cap(tt.Data), len(tt.Data))
		}
	}
}

func TestOpenGGML(t *testing.T) {
	path := testdata.Path(t, "rwkv.cpp/tests/tiny-rwkv-4v0-660K-FP32.bin")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Format != FormatGGML || f.Header["version"] != 100 || f.Header["n_embed"] != 128 || f.Header["n_layer"] != 4 || f.Header["n_vocab"] != 256 {
		t.Errorf("Open: format %v header %v", f.Format, f.Header)
	}
	k := f.Get("blocks.0.att.key.weight")
	if k == nil || k.DType != F32 || fmt.Sprint(k.Shape) != "[128 128]" {
		t.Fatalf("blocks.0.att.key.weight = %+v", k)
	}
	// v4 files store time_decay as -exp(w): every value is negative.
	td, err := f.Get("blocks.0.att.time_decay").Float32()
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range td {
		if !(v < 0) {
			t.Fatalf("time_decay[%d] = %v, want < 0", i, v)
		}
	}
}

// synthTensors is a small model-like set covering every storable type,
// 1 to 3 dimensions and odd name lengths (so nothing is aligned).
func synthTensors(t testing.TB) []*Tensor {
	t.Helper()
	mk := func(name string, dt DType, shape ...int) *Tensor {
		tt := &Tensor{Name: name, DType: dt, Shape: shape}
		src := make([]float32, tt.Len())
		for i := range src {
			src[i] = float32(math.Sin(float64(len(name)*131+i))) * 0.7
		}
		data, err := Encode(dt, src)
		if err != nil {
			t.Fatal(err)
		}
		tt.Data = data
		return tt
	}
	return []*Tensor{
		mk("emb.weight", F32, 3, 4),
		mk("blocks.0.ln1.weight", F16, 5),
		mk("blocks.0.att.key.weight", Q4_0, 2, 32),
		mk("blocks.0.att.value.weight", Q4_1, 1, 64),
		mk("blocks.0.att.r", Q5_0, 32),
		mk("blocks.0.att.x_rwkvag", Q5_1, 2, 1, 32),
		mk("head.weight", Q8_0, 3, 32),
	}
}

func synthHeader() GGMLHeader {
	return GGMLHeader{Version: 101, NVocab: 3, NEmbed: 4, NLayer: 1, DataType: Q5_1}
}

func synthGGML(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteGGML(&buf, synthHeader(), synthTensors(t)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGGMLSynthRoundTrip(t *testing.T) {
	tensors := synthTensors(t)
	data := synthGGML(t)
	f, err := ReadGGML(data)
	if err != nil {
		t.Fatal(err)
	}
	if h, err := f.GGMLHeader(); err != nil || h != synthHeader() {
		t.Errorf("header %+v, %v", h, err)
	}
	if len(f.Tensors) != len(tensors) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(tensors))
	}
	for i, want := range tensors {
		got := f.Tensors[i]
		if got.Name != want.Name || got.DType != want.DType || fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("tensor %d: got %s %s %s, want %s %s %s", i, got.Name, got.DType, got.ShapeString(), want.Name, want.DType, want.ShapeString())
		}
	}
	// ggml order on disk: the 3-D tensor [2,1,32] is stored as ne = 32, 1, 2.
	key := bytes.Index(data, []byte("blocks.0.att.x_rwkvag"))
	ne := data[key-12 : key]
	if got := [3]uint32{binary.LittleEndian.Uint32(ne), binary.LittleEndian.Uint32(ne[4:]), binary.LittleEndian.Uint32(ne[8:])}; got != [3]uint32{32, 1, 2} {
		t.Errorf("on-disk ne = %v, want [32 1 2]", got)
	}
}

// tensorBoundaries returns the offsets at which each tensor record ends.
func tensorBoundaries(tensors []*Tensor) []int {
	off := ggmlHeaderSize
	var ends []int
	for _, t := range tensors {
		off += ggmlTensorHeaderBase + 4*len(t.Shape) + len(t.Name) + len(t.Data)
		ends = append(ends, off)
	}
	return ends
}

func TestReadGGMLEveryPrefix(t *testing.T) {
	data := synthGGML(t)
	ends := tensorBoundaries(synthTensors(t))
	if ends[len(ends)-1] != len(data) {
		t.Fatalf("boundaries %v, size %d", ends, len(data))
	}
	complete := map[int]int{}
	for i, e := range ends {
		complete[e] = i + 1
	}
	for n := 0; n < len(data); n++ {
		f, err := ReadGGML(data[:n])
		if k, ok := complete[n]; ok {
			// A prefix ending exactly after a tensor is itself a valid file.
			if err != nil || len(f.Tensors) != k {
				t.Errorf("prefix %d (after tensor %d): %v", n, k, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("prefix of %d bytes parsed without error", n)
			continue
		}
		if !strings.HasPrefix(err.Error(), "weights: ") || !strings.Contains(err.Error(), "truncated") && n >= ggmlHeaderSize && !strings.Contains(err.Error(), "no tensors") {
			t.Errorf("prefix %d: unexpected error %q", n, err)
		}
	}
	// The truncated data error names the tensor and both byte counts.
	_, err := ReadGGML(data[:ends[1]+12+8+len("blocks.0.att.key.weight")+10])
	if err == nil || !strings.Contains(err.Error(), `"blocks.0.att.key.weight"`) || !strings.Contains(err.Error(), "needs 36 bytes") {
		t.Errorf("truncated tensor error %v", err)
	}
}

// rawTensor describes one tensor record for building malformed files.
type rawTensor struct {
	nDims  *uint32 // overrides len(ne)
	keyLen *uint32 // overrides len(key)
	code   uint32
	ne     []uint32
	key    string
	data   []byte
}

func u32p(v uint32) *uint32 { return &v }

func rawGGML(magic, version, code uint32, tensors ...rawTensor) []byte {
	le := binary.LittleEndian
	var b []byte
	for _, v := range []uint32{magic, version, 8, 32, 1, code} {
		b = le.AppendUint32(b, v)
	}
	for _, t := range tensors {
		nd, kl := uint32(len(t.ne)), uint32(len(t.key))
		if t.nDims != nil {
			nd = *t.nDims
		}
		if t.keyLen != nil {
			kl = *t.keyLen
		}
		b = le.AppendUint32(b, nd)
		b = le.AppendUint32(b, kl)
		b = le.AppendUint32(b, t.code)
		for _, d := range t.ne {
			b = le.AppendUint32(b, d)
		}
		b = append(b, t.key...)
		b = append(b, t.data...)
	}
	return b
}

func TestReadGGMLMalformed(t *testing.T) {
	ok := rawTensor{ne: []uint32{4}, key: "a", data: make([]byte, 16)}
	q := rawTensor{code: 9, ne: []uint32{32}, key: "q", data: make([]byte, 34)}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "header truncated"},
		{"short header", []byte{0x66, 0x6d, 0x67, 0x67, 101}, "header truncated"},
		{"wrong magic", rawGGML(0x46554747, 101, 0, ok), "magic"},
		{"version 1", rawGGML(GGMLMagic, 1, 0, ok), "unsupported rwkv.cpp file version 1"},
		{"version 102", rawGGML(GGMLMagic, 102, 0, ok), "unsupported rwkv.cpp file version 102"},
		{"header type removed", rawGGML(GGMLMagic, 101, 5, ok), "Q4_2"},
		{"header type unknown", rawGGML(GGMLMagic, 101, 77, ok), "unknown rwkv.cpp data type 77"},
		{"v100 quantized header", rawGGML(GGMLMagic, 100, 9, ok), "legacy"},
		{"v100 quantized tensor", rawGGML(GGMLMagic, 100, 0, q), "legacy"},
		{"no tensors", rawGGML(GGMLMagic, 101, 0), "no tensors"},
		{"tensor type removed", rawGGML(GGMLMagic, 101, 0, rawTensor{code: 4, ne: []uint32{32}, key: "x"}), "Q4_1_O"},
		{"tensor type unknown", rawGGML(GGMLMagic, 101, 0, rawTensor{code: 10, ne: []uint32{32}, key: "x"}), "unknown rwkv.cpp data type 10"},
		{"zero dims", rawGGML(GGMLMagic, 101, 0, rawTensor{nDims: u32p(0), key: "x"}), "dimension count 0"},
		{"four dims", rawGGML(GGMLMagic, 101, 0, rawTensor{ne: []uint32{1, 1, 1, 1}, key: "x", data: make([]byte, 4)}), "dimension count 4"},
		{"huge dim count", rawGGML(GGMLMagic, 101, 0, rawTensor{nDims: u32p(math.MaxUint32), key: "x"}), "dimension count"},
		{"empty name", rawGGML(GGMLMagic, 101, 0, rawTensor{ne: []uint32{1}, data: make([]byte, 4)}), "empty tensor name"},
		{"absurd name length", rawGGML(GGMLMagic, 101, 0, rawTensor{keyLen: u32p(1 << 30), ne: []uint32{1}, key: "x"}), "implausible"},
		{"name past end", rawGGML(GGMLMagic, 101, 0, rawTensor{keyLen: u32p(100), ne: []uint32{1}, key: "x"}), "header truncated"},
		{"zero dimension", rawGGML(GGMLMagic, 101, 0, rawTensor{ne: []uint32{4, 0}, key: "x"}), "shape [0, 4] has a zero dimension"},
		{"overflowing dims", rawGGML(GGMLMagic, 101, 0, rawTensor{ne: []uint32{math.MaxUint32, math.MaxUint32, math.MaxUint32}, key: "x"}), "overflow"},
		{"overflowing 2-D", rawGGML(GGMLMagic, 101, 0, rawTensor{ne: []uint32{math.MaxUint32, math.MaxUint32}, key: "x"}), "overflow"},
		{"huge but not overflowing", rawGGML(GGMLMagic, 101, 0, rawTensor{ne: []uint32{1 << 20, 1 << 20}, key: "big"}), `"big": data truncated: F32 [1048576, 1048576] needs 4398046511104 bytes`},
		{"partial block", rawGGML(GGMLMagic, 101, 0, rawTensor{code: 9, ne: []uint32{16, 2}, key: "x", data: make([]byte, 34)}), "not a multiple of the Q8_0 block size 32"},
		{"data truncated", rawGGML(GGMLMagic, 101, 0, ok, rawTensor{ne: []uint32{4}, key: "b", data: make([]byte, 15)}), `"b": data truncated: F32 [4] needs 16 bytes at offset 74, 15 available`},
		{"duplicate name", rawGGML(GGMLMagic, 101, 0, ok, ok), `duplicate tensor name "a"`},
		{"trailing bytes", append(rawGGML(GGMLMagic, 101, 0, ok), 1, 2, 3), "tensor header truncated: need 12 bytes, 3 available"},
	}
	for _, c := range cases {
		f, err := ReadGGML(c.data)
		if err == nil {
			t.Errorf("%s: no error (%d tensors)", c.name, len(f.Tensors))
			continue
		}
		if !strings.HasPrefix(err.Error(), "weights: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want it to contain %q", c.name, err, c.want)
		}
	}
	// Sanity: the building blocks themselves are valid.
	if _, err := ReadGGML(rawGGML(GGMLMagic, 101, 0, ok, q)); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadGGML(rawGGML(GGMLMagic, 100, 1, ok)); err != nil {
		t.Fatal(err)
	}
}

// failWriter fails after accepting n bytes.
type failWriter struct{ n, wrote int }

var errWrite = errors.New("disk full")

func (w *failWriter) Write(p []byte) (int, error) {
	if w.wrote+len(p) > w.n {
		return 0, errWrite
	}
	w.wrote += len(p)
	return len(p), nil
}

func TestWriteGGMLErrors(t *testing.T) {
	good := func() []*Tensor { return synthTensors(t) }
	h := synthHeader()
	with := func(mod func(ts []*Tensor)) []*Tensor { ts := good(); mod(ts); return ts }
	cases := []struct {
		name    string
		h       GGMLHeader
		tensors []*Tensor
		want    string
	}{
		{"version", GGMLHeader{Version: 99}, good(), "version 99"},
		{"bf16 header", GGMLHeader{Version: 101, DataType: BF16}, good(), "BF16"},
		{"v100 quantized header", GGMLHeader{Version: 100, DataType: Q8_0}, good()[:1], "requires rwkv.cpp file version 101"},
		{"v100 quantized tensor", GGMLHeader{Version: 100}, good(), "requires rwkv.cpp file version 101"},
		{"no tensors", h, nil, "no tensors"},
		{"nil tensor", h, []*Tensor{nil}, "nil"},
		{"bf16 tensor", h, []*Tensor{{Name: "x", DType: BF16, Shape: []int{2}, Data: make([]byte, 4)}}, "BF16"},
		{"empty name", h, with(func(ts []*Tensor) { ts[1].Name = "" }), "empty name"},
		{"long name", h, with(func(ts []*Tensor) { ts[1].Name = strings.Repeat("x", 5000) }), "name longer"},
		{"duplicate", h, with(func(ts []*Tensor) { ts[2].Name = ts[0].Name }), "duplicate"},
		{"scalar", h, with(func(ts []*Tensor) { ts[0].Shape = nil }), "0 dimensions"},
		{"4-D", h, with(func(ts []*Tensor) { ts[0].Shape = []int{1, 1, 3, 4} }), "4 dimensions"},
		{"zero dim", h, with(func(ts []*Tensor) { ts[0].Shape = []int{0, 4} }), "out of range"},
		{"negative dim", h, with(func(ts []*Tensor) { ts[0].Shape = []int{-3, -4} }), "out of range"},
		{"dim too big", h, with(func(ts []*Tensor) { ts[0].Shape = []int{1 << 33} }), "out of range"},
		{"data size", h, with(func(ts []*Tensor) { ts[0].Data = ts[0].Data[:7] }), "needs 48 data bytes, has 7"},
		{"partial block", h, with(func(ts []*Tensor) { ts[6].Shape = []int{6, 16} }), "not a multiple"},
	}
	for _, c := range cases {
		w := &failWriter{n: math.MaxInt}
		err := WriteGGML(w, c.h, c.tensors)
		if err == nil || !strings.HasPrefix(err.Error(), "weights: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
		if w.wrote != 0 {
			t.Errorf("%s: %d bytes written before the validation error", c.name, w.wrote)
		}
	}
	size := len(synthGGML(t))
	for _, n := range []int{0, 10, 24, 40, size - 1} {
		if err := WriteGGML(&failWriter{n: n}, h, good()); !errors.Is(err, errWrite) {
			t.Errorf("writer failing after %d bytes: error %v", n, err)
		}
	}
}

func TestFileGGMLHeaderErrors(t *testing.T) {
	if _, err := (&File{Format: FormatSafetensors}).GGMLHeader(); err == nil {
		t.Error("GGMLHeader of a safetensors file succeeded")
	}
	f := &File{Format: FormatGGML, Header: map[string]int{"version": 101, "n_vocab": 1, "n_embed": 1, "n_layer": 1}}
	if _, err := f.GGMLHeader(); err == nil || !strings.Contains(err.Error(), "data_type") {
		t.Errorf("missing data_type: %v", err)
	}
	f.Header["data_type"] = 5
	if _, err := f.GGMLHeader(); err == nil {
		t.Error("data_type 5 accepted")
	}
}

// ggmlFuzzSeeds are the committed seed inputs of FuzzReadGGML.
func ggmlFuzzSeeds(t testing.TB) map[string][]byte {
	t.Helper()
	full := synthGGML(t)
	var v100 bytes.Buffer
	ts := synthTensors(t)[:2]
	if err := WriteGGML(&v100, GGMLHeader{Version: 100, NVocab: 3, NEmbed: 4, NLayer: 1, DataType: F16}, ts); err != nil {
		t.Fatal(err)
	}
	var one bytes.Buffer
	if err := WriteGGML(&one, GGMLHeader{Version: 101, NVocab: 1, NEmbed: 32, NLayer: 0, DataType: Q8_0}, synthTensors(t)[6:]); err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"synthetic-all-types": full,
		"version-100-fp16":    v100.Bytes(),
		"single-q8_0":         one.Bytes(),
		"truncated":           full[:len(full)-5],
	}
}

func fuzzCorpusFile(data []byte) []byte {
	return fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data)
}

// TestGGMLFuzzSeedsCommitted checks that the committed fuzz seeds are the
// ones ggmlFuzzSeeds generates; RWKVGO_UPDATE_FUZZ_SEEDS=1 rewrites them.
func TestGGMLFuzzSeedsCommitted(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzReadGGML")
	update := os.Getenv("RWKVGO_UPDATE_FUZZ_SEEDS") == "1"
	if update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range ggmlFuzzSeeds(t) {
		path := filepath.Join(dir, name)
		want := fuzzCorpusFile(data)
		if update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("fuzz seed %s is missing or stale (%v); regenerate with RWKVGO_UPDATE_FUZZ_SEEDS=1 go test ./weights/ -run TestGGMLFuzzSeedsCommitted", path, err)
		}
	}
}

func FuzzReadGGML(f *testing.F) {
	for _, data := range ggmlFuzzSeeds(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ReadGGML(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "weights: ") {
				t.Fatalf("error without package prefix: %v", err)
			}
			return
		}
		// Anything ReadGGML accepts must be written back identically
		// and decode without error.
		h, err := file.GGMLHeader()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := WriteGGML(&buf, h, file.Tensors); err != nil {
			t.Fatalf("WriteGGML of an accepted file: %v", err)
		}
		if !bytes.Equal(buf.Bytes(), data) {
			t.Fatal("rewrite differs from the input")
		}
		for _, tt := range file.Tensors {
			if _, err := tt.Float32(); err != nil {
				t.Fatalf("%s: %v", tt.Name, err)
			}
		}
	})
}
