package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
)

func randTensor(be *Backend, rows, cols int, zeroFrac float64, r *rand.Rand) backend.Tensor {
	v := make([]float32, rows*cols)
	for i := range v {
		if r.Float64() >= zeroFrac {
			v[i] = float32(r.NormFloat64())
		}
	}
	return be.UploadF32(rows, cols, v)
}

// BenchmarkChannelMixValueF16 compares, for F16 weights of a 1.5B model's
// value projection (7168 -> 2048) and one token, the dense product on the
// stored [C, F] layout with the sparse product on the transposed copy, at
// the zero fractions of random (0.5) and trained (0.9) squared-ReLU
// activations: it decides whether the engine keeps the transposed copy.
func BenchmarkChannelMixValueF16(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	be := New(0)
	defer be.Close()
	const C, F = 2048, 7168
	f16 := func(rows, cols int) backend.Tensor {
		data := make([]byte, 2*rows*cols)
		for i := 0; i < len(data); i += 2 {
			data[i], data[i+1] = byte(r.Uint32()), byte(0x2c+r.IntN(8)) // small normal values
		}
		return be.Upload(backend.F16, rows, cols, data)
	}
	w, wt := f16(C, F), f16(F, C)
	out := be.New(1, C)
	for _, zf := range []float64{0.5, 0.9} {
		x := randTensor(be, 1, F, zf, r)
		b.Run(fmt.Sprintf("dense/zeros=%g", zf), func(b *testing.B) {
			b.SetBytes(2 * C * F)
			for i := 0; i < b.N; i++ {
				be.MatMul(out, x, w)
			}
		})
		b.Run(fmt.Sprintf("sparse/zeros=%g", zf), func(b *testing.B) {
			b.SetBytes(2 * C * F)
			for i := 0; i < b.N; i++ {
				be.MatMulT(out, x, wt)
			}
		})
	}
}

// BenchmarkChannelMixValue compares the dense and the sparse (transposed)
// product for the channel-mix value projection of a 0.1B model (3072 -> 768)
// with half of the activations zero.
func BenchmarkChannelMixValue(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	be := New(0)
	defer be.Close()
	w := randTensor(be, 768, 3072, 0, r)
	wt := randTensor(be, 3072, 768, 0, r)
	for _, n := range []int{1, 128} {
		x := randTensor(be, n, 3072, 0.5, r)
		out := be.New(n, 768)
		b.Run(fmt.Sprintf("dense/n=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				be.MatMul(out, x, w)
			}
		})
		b.Run(fmt.Sprintf("sparse/n=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				be.MatMulT(out, x, wt)
			}
		})
	}
}
