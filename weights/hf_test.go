package weights

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/internal/testdata"
)

func synthV7(t *testing.T) *File {
	t.Helper()
	f, err := Synthesize(SynthConfig{Version: V7, Layers: 3, Embd: 64, Vocab: 97, HeadSize: 16, Seed: 7})
	require.NoError(t, err)
	return f
}

// requireSameModel requires that got holds exactly the tensors of want (by
// name, shape and decoded values) except the ones skip names, with values
// passed through round (nil: bit-exact float32).
func requireSameModel(t *testing.T, want, got *File, skip func(string) bool, round func([]float32) []float32) {
	t.Helper()
	n := 0
	for _, w := range want.Tensors {
		if skip != nil && skip(w.Name) {
			continue
		}
		n++
		g := got.Get(w.Name)
		require.NotNil(t, g, "%s missing after the round trip", w.Name)
		require.Equal(t, w.Shape, g.Shape, w.Name)
		wv, err := w.Float32()
		require.NoError(t, err)
		if round != nil {
			wv = round(wv)
		}
		gv, err := g.Float32()
		require.NoError(t, err)
		require.Equal(t, wv, gv, "%s values", w.Name)
	}
	require.Len(t, got.Tensors, n, "tensor count")
}

// TestHFRoundTrip writes a synthetic RWKV-7 model as an HF directory and
// reads it back: the HF file has the HF names and shapes, the config the
// model's dimensions, and the official layout comes back bit-exact in F32
// (and equal to the source rounded to F16 once in F16).
func TestHFRoundTrip(t *testing.T) {
	src := synthV7(t)
	dir := t.TempDir()
	require.NoError(t, WriteHF(dir, src, F32))

	raw, err := Open(filepath.Join(dir, HFWeightsName))
	require.NoError(t, err)
	defer raw.Close()
	shapes := map[string][]int{
		"model.embeddings.weight":                  {97, 64},
		"model.layers.0.pre_norm.weight":           {64},
		"model.layers.0.attn_norm.bias":            {64},
		"model.layers.2.ffn_norm.weight":           {64},
		"model.layers.1.attn.x_g":                  {1, 1, 64},
		"model.layers.1.attn.k_k":                  {64},
		"model.layers.1.attn.r_k":                  {4, 16},
		"model.layers.1.attn.w_lora.lora.0.weight": {32, 64},
		"model.layers.1.attn.w_lora.lora.2.weight": {64, 32},
		"model.layers.1.attn.w_lora.lora.2.bias":   {64},
		"model.layers.1.attn.v_lora.lora.2.bias":   {64},
		"model.layers.1.attn.g_lora.lora.0.weight": {32, 64},
		"model.layers.2.attn.r_proj.weight":        {64, 64},
		"model.layers.2.attn.o_proj.weight":        {64, 64},
		"model.layers.2.attn.g_norm.bias":          {64},
		"model.layers.2.ffn.x_k":                   {64},
		"model.layers.2.ffn.key.weight":            {256, 64},
		"model.layers.2.ffn.value.weight":          {64, 256},
		"model.norm.weight":                        {64},
		"lm_head.weight":                           {97, 64},
	}
	for name, shape := range shapes {
		tt := raw.Get(name)
		require.NotNil(t, tt, name)
		assert.Equal(t, shape, tt.Shape, name)
		assert.Equal(t, F32, tt.DType, name)
	}
	for _, absent := range []string{"model.layers.0.attn.v_lora.lora.0.weight", "model.layers.1.pre_norm.weight",
		"model.layers.1.attn.g_lora.lora.2.bias"} {
		assert.Nil(t, raw.Get(absent), absent)
	}
	// The LoRA matrices are the official ones transposed.
	w1, err := src.Get("blocks.1.att.w1").Float32()
	require.NoError(t, err)
	l0, err := raw.Get("model.layers.1.attn.w_lora.lora.0.weight").Float32()
	require.NoError(t, err)
	require.Equal(t, w1[1*32+5], l0[5*64+1], "lora.0[5][1] = w1[1][5]")

	back, cfg, err := ReadHF(dir)
	require.NoError(t, err)
	defer back.Close()
	assert.Equal(t, HFConfig{Architectures: []string{"RWKV7ForCausalLM"}, ModelType: "rwkv7", AttnMode: "chunk",
		HiddenSize: 64, NumHiddenLayers: 3, HeadDim: 16, NumHeads: 4, DecayLowRankDim: 32, GateLowRankDim: 32,
		ALowRankDim: 32, VLowRankDim: 32, HiddenAct: "sqrelu", IntermediateSize: 256, NormFirst: true, NormBias: true,
		NormEps: 1e-5, VocabSize: 97, MaxPositionEmbeddings: 2048, TorchDType: "float32"}, *cfg)
	requireSameModel(t, src, back, nil, nil)

	// The read-back model canonicalizes like the source.
	ms, err := Canonicalize(src, Options{})
	require.NoError(t, err)
	mb, err := Canonicalize(back, Options{})
	require.NoError(t, err)
	assert.Equal(t, ms.Config, mb.Config)

	dir16 := t.TempDir()
	require.NoError(t, WriteHF(dir16, src, F16))
	back16, cfg16, err := ReadHF(dir16)
	require.NoError(t, err)
	defer back16.Close()
	assert.Equal(t, "float16", cfg16.TorchDType)
	assert.Equal(t, F16, back16.Get("blocks.1.att.w1").DType)
	requireSameModel(t, src, back16, nil, func(v []float32) []float32 {
		b, err := Encode(F16, v)
		require.NoError(t, err)
		out := make([]float32, len(v))
		require.NoError(t, DecodeFloat32(out, F16, b))
		return out
	})
}

// TestHFFromRWKVCppAndRealFile: an rwkv.cpp-layout model (packed mixes,
// transposed LoRA) gives the same HF tensors as its official source, and the
// official tiny RWKV-7 checkpoint (which carries layer 0's unused v0/v1/v2)
// round-trips without them.
func TestHFFromRWKVCppAndRealFile(t *testing.T) {
	src := synthV7(t)
	fromSrc, _, err := ToHF(src)
	require.NoError(t, err)
	cpp, err := ToRWKVCpp(src)
	require.NoError(t, err)
	fromCpp, _, err := ToHF(cpp)
	require.NoError(t, err)
	requireSameModel(t, fromSrc, fromCpp, nil, nil)

	real, err := Open(testdata.Path(t, "pth/tiny-rwkv-7v0-834K-BF16.pth"))
	require.NoError(t, err)
	defer real.Close()
	dir := t.TempDir()
	require.NoError(t, WriteHF(dir, real, F32))
	back, _, err := ReadHF(dir)
	require.NoError(t, err)
	defer back.Close()
	requireSameModel(t, real, back, func(name string) bool { return archV7.Optional(name) }, nil)
}

// TestHFErrors: only RWKV-7 and only F32/F16/BF16 are written.
func TestHFErrors(t *testing.T) {
	v6, err := Synthesize(SynthConfig{Version: V6, Layers: 1, Embd: 64, Vocab: 10})
	require.NoError(t, err)
	require.ErrorContains(t, WriteHF(t.TempDir(), v6, F32), "RWKV-7 only")
	require.ErrorContains(t, WriteHF(t.TempDir(), synthV7(t), Q8_0), "F32, F16 or BF16")
	_, err = FromHF(&File{Tensors: []*Tensor{{Name: "model.layers.0.mlp.up_proj.weight", Shape: []int{1}, Data: make([]byte, 4)}}})
	require.ErrorContains(t, err, "not an HF RWKV-7 tensor")
	_, _, err = ReadHF(t.TempDir())
	require.Error(t, err)
}

// TestHFReadByPython reads the written model.safetensors with the Python
// safetensors package (skipped when python3 cannot import safetensors and
// numpy): the same names, shapes and bytes as the Go side.
func TestHFReadByPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	if err := exec.Command(py, "-c", "import safetensors.numpy, numpy").Run(); err != nil {
		t.Skip("python3 cannot import safetensors and numpy")
	}
	dir := t.TempDir()
	require.NoError(t, WriteHF(dir, synthV7(t), F16))
	script := `import hashlib, json, sys
from safetensors.numpy import load_file
d = load_file(sys.argv[1])
print(json.dumps({k: [list(v.shape), str(v.dtype), hashlib.sha256(v.tobytes()).hexdigest()] for k, v in d.items()}))`
	out, err := exec.Command(py, "-c", script, filepath.Join(dir, HFWeightsName)).Output()
	require.NoError(t, err)
	var got map[string][]any
	require.NoError(t, json.Unmarshal(out, &got))
	raw, err := Open(filepath.Join(dir, HFWeightsName))
	require.NoError(t, err)
	defer raw.Close()
	require.Len(t, got, len(raw.Tensors))
	for _, tt := range raw.Tensors {
		g, ok := got[tt.Name]
		require.True(t, ok, tt.Name)
		shape := make([]any, len(tt.Shape))
		for i, s := range tt.Shape {
			shape[i] = float64(s)
		}
		sum := sha256.Sum256(tt.Data)
		assert.Equal(t, []any{shape, "float16", hex.EncodeToString(sum[:])}, g, tt.Name)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, HFConfigName))
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(cfg), `"model_type": "rwkv7"`))
}
