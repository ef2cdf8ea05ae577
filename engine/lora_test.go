package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/internal/testdata"
	"github.com/rwkvgo/rwkvgo/weights"
)

func writeAdapter(t *testing.T, path string, C, r int, bval float32) {
	t.Helper()
	var ts []*weights.Tensor
	for _, name := range []string{"blocks.0.att.key", "blocks.1.ffn.value"} {
		in, out := C, C
		if name == "blocks.1.ffn.value" {
			in = 4 * C
		}
		a, b := &State{Data: make([]float32, r*in)}, &State{Data: make([]float32, out*r)}
		for i := range a.Data {
			a.Data[i] = float32(i%7) * 0.01
		}
		for i := range b.Data {
			b.Data[i] = bval * float32(i%5)
		}
		var ab, bb bytesBuf
		a.WriteTo(&ab)
		b.WriteTo(&bb)
		ts = append(ts,
			&weights.Tensor{Name: name + ".lora_A", DType: weights.F32, Shape: []int{r, in}, Data: ab.b},
			&weights.Tensor{Name: name + ".lora_B", DType: weights.F32, Shape: []int{out, r}, Data: bb.b})
	}
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, weights.WriteSafetensors(f, ts, nil))
	require.NoError(t, f.Close())
}

type bytesBuf struct{ b []byte }

func (w *bytesBuf) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

func TestLoadWithLoRA(t *testing.T) {
	base := testdata.Path(t, "pth/tiny-rwkv-7v0-834K-FP32.safetensors")
	m, err := Load(base, Options{Threads: 1})
	require.NoError(t, err)
	defer m.Close()
	C := m.Config().Embd
	require.Equal(t, 4*C, m.Config().FFN, "the test adapter assumes ffn = 4 x width")
	toks := []int{34, 105, 110}
	s, _ := m.NewSession()
	want, err := s.Feed(toks)
	require.NoError(t, err)
	want = append([]float32(nil), want...)
	s.Close()
	dir := t.TempDir()
	for _, bval := range []float32{0, 0.05} {
		path := filepath.Join(dir, fmt.Sprintf("lora-%v.safetensors", bval))
		writeAdapter(t, path, C, 4, bval)
		lm, err := LoadWithLoRA(base, path, 8, Options{Threads: 1})
		require.NoError(t, err)
		ls, _ := lm.NewSession()
		got, err := ls.Feed(toks)
		require.NoError(t, err)
		if bval == 0 {
			require.Equal(t, want, got, "a zero adapter changes nothing")
		} else {
			require.NotEqual(t, want, got, "the adapter is applied")
		}
		ls.Close()
		lm.Close()
	}
	_, err = LoadWithLoRA(base, filepath.Join(dir, "missing"), 8, Options{})
	require.Error(t, err)
}
