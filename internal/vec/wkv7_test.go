package vec

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestWKV7Head checks both paths against a float64 evaluation of the
// recurrence over several tokens: the state and outputs agree to 1e-5
// relative to the magnitude of their terms (a few float32 roundings per
// sum of n = 64 terms, compounded over 8 tokens of a contracting state).
func TestWKV7Head(t *testing.T) {
	forEachQPath(t, func(t *testing.T) {
		for _, n := range []int{16, 64, 24} {
			rng := rand.New(rand.NewPCG(uint64(n), 3))
			s := make([]float32, n*n)
			ref := make([]float64, n*n)
			for i := range s {
				s[i] = float32(rng.NormFloat64() * 0.1)
				ref[i] = float64(s[i])
			}
			vecs := func() (w, k, v, kk, ka, r []float32) {
				w, k, v, kk, ka, r = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
				var norm float64
				for j := range n {
					w[j] = float32(0.5 + 0.5*rng.Float64())
					k[j] = float32(rng.NormFloat64())
					v[j] = float32(rng.NormFloat64())
					kk[j] = float32(rng.NormFloat64())
					norm += float64(kk[j]) * float64(kk[j])
					r[j] = float32(rng.NormFloat64())
				}
				for j := range n {
					kk[j] = float32(float64(kk[j]) / math.Sqrt(norm))
					ka[j] = kk[j] * float32(rng.Float64())
				}
				return
			}
			out := make([]float32, n)
			for tok := 0; tok < 8; tok++ {
				w, k, v, kk, ka, r := vecs()
				WKV7Head(s, w, k, v, kk, ka, r, out)
				for i := range n {
					var sa, y, mag float64
					for j := range n {
						sa -= ref[i*n+j] * float64(kk[j])
					}
					for j := range n {
						x := ref[i*n+j]*float64(w[j]) + float64(v[i])*float64(k[j]) + sa*float64(ka[j])
						ref[i*n+j] = x
						y += x * float64(r[j])
						mag += math.Abs(x * float64(r[j]))
					}
					if d := math.Abs(float64(out[i]) - y); d > 1e-5*(mag+1) {
						t.Fatalf("n=%d token %d: out[%d] = %g, float64 %g", n, tok, i, out[i], y)
					}
				}
				for i := range s {
					if d := math.Abs(float64(s[i]) - ref[i]); d > 1e-5*(math.Abs(ref[i])+1) {
						t.Fatalf("n=%d token %d: state %d = %g, float64 %g", n, tok, i, s[i], ref[i])
					}
				}
			}
		}
	})
}
