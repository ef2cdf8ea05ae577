package weights_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/engine/cpu"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
	"github.com/rwkvgo/rwkvgo/weights"
)

// TestTimeStatePTHOrientation loads a state-tuning .pth in the RWKV
// trainer's layout (blocks.L.att.time_state, [H, N, N] per layer) for the
// shared tiny models and checks its orientation by behaviour. The file's
// only non-zero entry is time_state[h][i][j], which the trainer's kernels
// read as value i, key j. So, after loading:
//
//   - one WKV step from the loaded state, with a receptance that is one-hot
//     on key j of head h and no new key or value, outputs the entry on value
//     channel i of head h and nothing elsewhere (y = S r for v7, y = r^T S
//     for v5/v6);
//   - the model's logits equal those of a state set by hand at (value i,
//     key j) in the engine's layout, and differ from those of the transposed
//     entry.
func TestTimeStatePTHOrientation(t *testing.T) {
	for _, tc := range []struct{ name, model string }{
		{"v5.2", "rwkv.cpp/tests/tiny-rwkv-5v2-730K-FP32.bin"},
		{"v6", "rwkv.cpp/tests/tiny-rwkv-6v0-3m-Q5_1.bin"},
		{"v7", "rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP32.bin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := engine.Load(testdata.Path(t, tc.model), engine.Options{Threads: 1})
			require.NoError(t, err)
			defer m.Close()
			cfg := m.Config()
			H, N, C, L := cfg.Heads, cfg.HeadSize, cfg.Embd, cfg.Layers
			require.Greater(t, N, 2)
			layer, h, i, j := L-1, H-1, 1, N-2 // value i, key j; i != j
			const val = 4

			var tensors []*weights.Tensor
			for l := 0; l < L; l++ {
				v := make([]float32, H*N*N)
				if l == layer {
					v[h*N*N+i*N+j] = val
				}
				data := make([]byte, 4*len(v))
				for k, x := range v {
					binary.LittleEndian.PutUint32(data[4*k:], math.Float32bits(x))
				}
				tensors = append(tensors, &weights.Tensor{Name: fmt.Sprintf("blocks.%d.att.time_state", l), DType: weights.F32, Shape: []int{H, N, N}, Data: data})
			}
			path := filepath.Join(t.TempDir(), "state.pth")
			require.NoError(t, os.WriteFile(path, weights.PTHArchive(t, tensors), 0o644))
			require.Equal(t, weights.FormatPTH, weights.Sniff(weights.PTHArchive(t, tensors)))
			st, err := engine.LoadStateFile(path, cfg)
			require.NoError(t, err)

			// One non-zero value, in layer `layer`'s head state.
			off := layer*cfg.LayerStateSize() + 2*C
			nonzero := 0
			for k, x := range st.Data {
				if x != 0 {
					nonzero++
					require.GreaterOrEqual(t, k, off+h*N*N)
					require.Less(t, k, off+(h+1)*N*N)
				}
			}
			require.Equal(t, 1, nonzero)

			// One WKV step on the CPU backend.
			be := cpu.New(1)
			defer be.Close()
			state := be.UploadF32(1, len(st.Data), st.Data)
			r := make([]float32, C)
			r[h*N+j] = 1
			zeros, ones := make([]float32, C), make([]float32, C)
			for k := range ones {
				ones[k] = 1
			}
			out := be.New(1, C)
			be.BeginStep(backend.Batch{Offsets: []int{0, 1}, Slots: []int{0}})
			z := be.UploadF32(1, C, zeros)
			if cfg.Version == weights.V7 {
				be.WKV7(out, be.UploadF32(1, C, r), be.UploadF32(1, C, ones), z, z, z, z, state, off, H)
			} else {
				be.WKV5(out, be.UploadF32(1, C, r), z, z, be.UploadF32(1, C, ones), z, state, off, H)
			}
			y := make([]float32, C)
			be.Read(out, 0, y)
			require.NoError(t, be.Err())
			want := make([]float32, C)
			want[h*N+i] = val
			require.Equal(t, want, y, "the entry answers key %d on value %d", j, i)

			// The model's logits: the loaded state equals the hand-set entry
			// at (value i, key j) in the engine's layout, not its transpose.
			engineIndex := func(value, key int) int {
				if cfg.Version == weights.V7 { // [h][value][key]
					return off + h*N*N + value*N + key
				}
				return off + h*N*N + key*N + value // [h][key][value]
			}
			logits := func(s *engine.State) []float32 {
				sess, err := m.NewSession()
				require.NoError(t, err)
				defer sess.Close()
				require.NoError(t, sess.SetState(s))
				out, err := sess.Feed([]int{1, 2, 3})
				require.NoError(t, err)
				return append([]float32(nil), out...)
			}
			hand := engine.NewState(cfg)
			hand.Data[engineIndex(i, j)] = val
			transposed := engine.NewState(cfg)
			transposed.Data[engineIndex(j, i)] = val
			got := logits(st)
			require.Equal(t, logits(hand), got)
			require.NotEqual(t, logits(transposed), got)
		})
	}
}
