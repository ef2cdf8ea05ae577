package engine

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/engine/cpu"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
)

// TestQuantizeInt8Layout: Options.Quantize stores exactly the large
// matrices as I8 (the head and the time and channel mixes' projections;
// the channel mix's value transposed for MatMulT), keeps the embedding,
// vectors and LoRA matrices in their types, and the model runs.
func TestQuantizeInt8Layout(t *testing.T) {
	for _, rel := range []string{"rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP16.bin", "rwkv.cpp/tests/tiny-rwkv-5v2-730K-FP32.bin"} {
		m, err := Load(testdata.Path(t, rel), Options{Threads: 1, Quantize: QuantizeInt8})
		require.NoError(t, err)
		cfg := m.Config()
		require.Equal(t, backend.I8, m.head.DType())
		require.NotEqual(t, backend.I8, m.emb.DType(), "the embedding keeps its type")
		for _, l := range m.layers {
			b := l.common()
			require.Equal(t, backend.I8, b.FFNKey.DType())
			require.Equal(t, backend.I8, b.FFNValueT.DType())
			require.Equal(t, []int{cfg.FFN, cfg.Embd}, []int{b.FFNValueT.Rows(), b.FFNValueT.Cols()}, "value stored transposed")
			switch v := l.versionLayer.(type) {
			case *v7Layer:
				for _, w := range []backend.Tensor{v.WR, v.WK, v.WV, v.WO} {
					require.Equal(t, backend.I8, w.DType())
				}
				require.NotEqual(t, backend.I8, v.W1.DType(), "LoRA matrices keep their type")
			case *v5Layer:
				for _, w := range []backend.Tensor{v.WR, v.WK, v.WV, v.WO, v.WG, v.FFNR} {
					require.Equal(t, backend.I8, w.DType())
				}
			}
		}
		s, err := m.NewSession()
		require.NoError(t, err)
		_, err = s.Feed([]int{34, 105, 110})
		require.NoError(t, err)
		s.Close()
		require.NoError(t, m.Close())
	}
}

// noI8 is a CPU backend that says it has no I8 weights.
type noI8 struct{ *cpu.Backend }

func (noI8) Supports(dt backend.DType) bool { return dt != backend.I8 && dt.BlockBytes() > 0 }

// TestQuantizeErrors: an unknown quantization and a backend without I8 are
// refused by Load with an error.
func TestQuantizeErrors(t *testing.T) {
	path := testdata.Path(t, "rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP32.bin")
	_, err := Load(path, Options{Threads: 1, Quantize: "int4"})
	require.ErrorContains(t, err, "unknown quantization")
	be := noI8{cpu.New(1)}
	defer be.Close()
	_, err = Load(path, Options{Backend: be, Quantize: QuantizeInt8})
	require.ErrorContains(t, err, "does not support int8")
	_, err = Load(path, Options{Threads: 1, Quantize: QuantizeFP8})
	require.ErrorContains(t, err, "does not support fp8", "the CPU backend has no F8E4M3")
	q, err := ParseQuantization("none")
	require.NoError(t, err)
	require.Equal(t, NoQuantization, q)
}
