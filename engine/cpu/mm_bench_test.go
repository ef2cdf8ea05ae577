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
