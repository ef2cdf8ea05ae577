package engine

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/weights"
)

func TestLoadStateFile(t *testing.T) {
	m := synthModel(t, weights.V7, Options{})
	cfg := m.Config()
	dir := t.TempDir()

	// Raw state written by WriteTo.
	s, _ := m.NewSession()
	defer s.Close()
	_, err := s.Feed(prompt)
	require.NoError(t, err)
	st, err := s.State()
	require.NoError(t, err)
	var buf bytes.Buffer
	_, err = st.WriteTo(&buf)
	require.NoError(t, err)
	raw := filepath.Join(dir, "raw.state")
	require.NoError(t, os.WriteFile(raw, buf.Bytes(), 0o644))
	got, err := LoadStateFile(raw, cfg)
	require.NoError(t, err)
	require.Equal(t, st.Data, got.Data)

	// State-tuning layout (safetensors with the trainer's keys).
	N, H, C := cfg.HeadSize, cfg.Heads, cfg.Embd
	var tensors []*weights.Tensor
	for l := 0; l < cfg.Layers; l++ {
		v := make([]float32, H*N*N)
		for i := range v {
			v[i] = float32(l*1000 + i)
		}
		b := new(bytes.Buffer)
		for _, x := range v {
			require.NoError(t, writeF32(b, x))
		}
		tensors = append(tensors, &weights.Tensor{Name: fmt.Sprintf("blocks.%d.att.time_state", l), DType: weights.F32, Shape: []int{H, N, N}, Data: b.Bytes()})
	}
	tuned := filepath.Join(dir, "tuned.safetensors")
	f, err := os.Create(tuned)
	require.NoError(t, err)
	require.NoError(t, weights.WriteSafetensors(f, tensors, nil))
	require.NoError(t, f.Close())
	got, err = LoadStateFile(tuned, cfg)
	require.NoError(t, err)
	per := cfg.LayerStateSize()
	for l := 0; l < cfg.Layers; l++ {
		require.Zero(t, got.Data[l*per], "token shift is zero")
		require.Equal(t, float32(l*1000), got.Data[l*per+2*C])
		require.Equal(t, float32(l*1000+H*N*N-1), got.Data[(l+1)*per-1])
	}
	// The state runs.
	require.NoError(t, s.SetState(got))
	_, err = s.Feed([]int{1, 2})
	require.NoError(t, err)

	// Wrong sizes are errors, not panics.
	require.NoError(t, os.WriteFile(raw, buf.Bytes()[:100], 0o644))
	_, err = LoadStateFile(raw, cfg)
	require.Error(t, err)
	_, err = LoadStateFile(filepath.Join(dir, "missing"), cfg)
	require.Error(t, err)
	nan := *tensors[0]
	nan.Data = append([]byte(nil), nan.Data...)
	copy(nan.Data[4:], []byte{0, 0, 0xc0, 0x7f}) // a NaN
	f, err = os.Create(tuned)
	require.NoError(t, err)
	require.NoError(t, weights.WriteSafetensors(f, append([]*weights.Tensor{&nan}, tensors[1:]...), nil))
	require.NoError(t, f.Close())
	_, err = LoadStateFile(tuned, cfg)
	require.Error(t, err, "a NaN state is refused")
	f, err = os.Create(tuned)
	require.NoError(t, err)
	require.NoError(t, weights.WriteSafetensors(f, tensors[:1], nil))
	require.NoError(t, f.Close())
	_, err = LoadStateFile(tuned, cfg)
	require.ErrorContains(t, err, "time_state")
}

func writeF32(b *bytes.Buffer, x float32) error {
	st := &State{Data: []float32{x}}
	_, err := st.WriteTo(b)
	return err
}
