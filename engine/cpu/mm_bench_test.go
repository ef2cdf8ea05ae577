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

// benchDenseSparse runs the sub-benchmarks dense/<tag>, out = x·w on the
// stored layout (MatMul), and sparse/<tag>, the same product from the
// transposed copy wt (MatMulT, which skips zero activations); bytes, when
// not zero, is the weight bytes a product reads.
func benchDenseSparse(b *testing.B, be *Backend, tag string, bytes int64, out, x, w, wt backend.Tensor) {
	for _, p := range []struct {
		name string
		mul  func(out, x, w backend.Tensor)
		w    backend.Tensor
	}{{"dense/", be.MatMul, w}, {"sparse/", be.MatMulT, wt}} {
		b.Run(p.name+tag, func(b *testing.B) {
			if bytes != 0 {
				b.SetBytes(bytes)
			}
			for i := 0; i < b.N; i++ {
				p.mul(out, x, p.w)
			}
		})
	}
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
		benchDenseSparse(b, be, fmt.Sprintf("zeros=%g", zf), 2*C*F, out, x, w, wt)
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
		benchDenseSparse(b, be, fmt.Sprintf("n=%d", n), 0, out, x, w, wt)
	}
}

// BenchmarkMatMulPrefill times the products of a 0.1B model's prefill (128
// tokens), a batched decode step (4 tokens) and decode (one token) for each
// weight type: the 768 x 768
// projections and the channel-mix key (768 -> 3072) and value (3072 -> 768)
// on the untransposed layout.
func BenchmarkMatMulPrefill(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	be := New(0)
	defer be.Close()
	encode := func(dt backend.DType, rows, cols int) backend.Tensor {
		if dt == backend.F32 {
			return randTensor(be, rows, cols, 0, r)
		}
		var data []byte
		if dt.Quantized() {
			bb := dt.BlockBytes()
			data = make([]byte, rows*cols/32*bb)
			for i := range data {
				data[i] = byte(r.Uint32())
			}
			for o := 0; o < len(data); o += bb {
				// Small normal fp16 scales (and minimums for the _1 types).
				data[o+1], data[o+3] = byte(0x20+r.IntN(8)), byte(0xa0+r.IntN(8))
			}
		} else {
			data = make([]byte, 2*rows*cols)
			for i := 0; i < len(data); i += 2 {
				data[i], data[i+1] = byte(r.Uint32()), byte(0x2c+r.IntN(8))
			}
		}
		return be.Upload(dt, rows, cols, data)
	}
	shapes := []struct {
		name    string
		out, in int
	}{{"768x768", 768, 768}, {"key3072x768", 3072, 768}, {"value768x3072", 768, 3072}}
	for _, dt := range []backend.DType{backend.F32, backend.F16, backend.BF16, backend.Q8_0, backend.Q5_1, backend.Q4_0} {
		for _, s := range shapes {
			w := encode(dt, s.out, s.in)
			for _, n := range []int{1, 4, 128} {
				x := randTensor(be, n, s.in, 0, r)
				out := be.New(n, s.out)
				b.Run(fmt.Sprintf("%v/%s/n=%d", dt, s.name, n), func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						be.MatMul(out, x, w)
					}
					b.ReportMetric(float64(2*n*s.out*s.in)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
