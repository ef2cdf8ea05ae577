package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/weights"
)

// TestSynthAndConvertHF: `synth --format hf` writes an HF directory that
// reads back as the same model as the .st of the same seed, and `convert
// --to hf` of that .st (or of the rwkv.cpp .bin) writes the very same
// model.safetensors; the World vocabulary is copied in when asked.
func TestSynthAndConvertHF(t *testing.T) {
	dir := t.TempDir()
	shape := []string{"--layers", "2", "--width", "64", "--vocab", "97", "--head-size", "16", "--seed", "3"}
	synth := func(extra ...string) {
		t.Helper()
		code, _, errs := runCLI(append(append([]string{"synth"}, shape...), extra...)...)
		require.Equal(t, 0, code, errs)
	}
	vocab := filepath.Join(dir, "vocab.txt")
	require.NoError(t, os.WriteFile(vocab, []byte("1 'a' 1\n"), 0o644))
	synth("--format", "hf", "--out", filepath.Join(dir, "hf"), "--world-vocab", vocab)
	synth("--out", filepath.Join(dir, "m.st"))
	synth("--out", filepath.Join(dir, "m.bin"))

	got, err := os.ReadFile(filepath.Join(dir, "hf", weights.HFWorldVocabName))
	require.NoError(t, err)
	assert.Equal(t, "1 'a' 1\n", string(got))

	back, cfg, err := weights.ReadHF(filepath.Join(dir, "hf"))
	require.NoError(t, err)
	defer back.Close()
	assert.Equal(t, 2, cfg.NumHiddenLayers)
	assert.Equal(t, 97, cfg.VocabSize)
	st, err := weights.Open(filepath.Join(dir, "m.st"))
	require.NoError(t, err)
	defer st.Close()
	require.Len(t, back.Tensors, len(st.Tensors))
	for _, w := range st.Tensors {
		g := back.Get(w.Name)
		require.NotNil(t, g, w.Name)
		assert.Equal(t, w.Shape, g.Shape, w.Name)
		assert.True(t, bytes.Equal(w.Data, g.Data), "%s bytes", w.Name)
	}

	want, err := os.ReadFile(filepath.Join(dir, "hf", weights.HFWeightsName))
	require.NoError(t, err)
	for _, src := range []string{"m.st", "m.bin"} {
		out := filepath.Join(dir, "from-"+src)
		code, stdout, errs := runCLI("convert", "--to", "hf", "--model", filepath.Join(dir, src), "--out", out)
		require.Equal(t, 0, code, errs)
		assert.Contains(t, stdout, "Hugging Face layout")
		got, err := os.ReadFile(filepath.Join(out, weights.HFWeightsName))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(want, got), "convert --to hf of %s differs from synth --format hf", src)
	}
}

func TestSynthAndConvertHFUsage(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "m.st")
	code, _, errs := runCLI("synth", "--layers", "1", "--width", "64", "--vocab", "10", "--out", st)
	require.Equal(t, 0, code, errs)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"synth", "--format", "hf", "--version", "6", "--out", dir}, "RWKV-7 only"},
		{[]string{"synth", "--format", "hf", "--dtype", "Q8_0", "--out", dir}, "F32, F16 or BF16"},
		{[]string{"synth", "--format", "gguf", "--out", dir}, "unknown format"},
		{[]string{"synth", "--world-vocab", "v.txt", "--out", st}, "needs --format hf"},
		{[]string{"convert", "--to", "gguf", "--model", st, "--out", dir}, "unknown layout"},
		{[]string{"convert", "--to", "hf", "--out", dir}, "--model is required"},
		{[]string{"convert", "--to", "hf", "--model", st, "--out", dir, "--dtype", "Q5_1"}, "F32, F16 or BF16"},
	} {
		code, _, errs := runCLI(tc.args...)
		assert.Equal(t, 2, code, "%v: %s", tc.args, errs)
		assert.Contains(t, errs, tc.want, "%v", tc.args)
	}
}
