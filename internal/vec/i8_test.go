package vec

import (
	"math/rand/v2"
	"testing"
)

func randI8(rng *rand.Rand, n int) ([]int8, []float32) {
	q := make([]int8, n)
	f := make([]float32, n)
	for i := range q {
		q[i] = int8(rng.IntN(255) - 127)
		f[i] = float32(q[i])
	}
	return q, f
}

// TestGemmI8: on every kernel path (portable, AVX2, AVX-512 where present),
// GemmI8 equals GemmF32 on the codes converted to float32, times the row
// scale, bitwise, for ragged shapes, several tokens and unaligned slices.
func TestGemmI8(t *testing.T) {
	forEachQPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for _, rows := range []int{1, 3, 4, 5, 8, 13} {
			for _, k := range []int{1, 7, 15, 16, 17, 33, 64, 100} {
				for _, n := range []int{1, 2, 3, 5} {
					q, f := randI8(rng, rows*k)
					q = offsetCopy(q, 1+k%3)
					scales := randF32(rng, rows)
					x := offsetCopy(randF32(rng, n*k), k%2)
					ldd := rows + 2
					got := make([]float32, n*ldd)
					want := make([]float32, n*ldd)
					GemmI8(got, ldd, q, scales, rows, k, x, n)
					GemmF32(want, ldd, f, rows, k, x, n)
					for tk := range n {
						for r := range rows {
							want[tk*ldd+r] *= scales[r]
						}
					}
					if i := sameBits(got, want); i >= 0 {
						t.Fatalf("rows %d k %d n %d: element %d is %v, want %v", rows, k, n, i, got[i], want[i])
					}
				}
			}
		}
	})
}

// TestGemmI8AVX512MatchesAVX2: the one-token AVX-512 kernel gives the AVX2
// kernel's bits (both follow the 16-lane contract).
func TestGemmI8AVX512MatchesAVX2(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512 on this CPU")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for _, k := range []int{1, 5, 16, 31, 32, 200, 1000} {
		rows := 12
		q, _ := randI8(rng, rows*k)
		scales := randF32(rng, rows)
		x := randF32(rng, k)
		a, b := make([]float32, rows), make([]float32, rows)
		GemmI8(a, rows, q, scales, rows, k, x, 1)
		useAVX512 = false
		GemmI8(b, rows, q, scales, rows, k, x, 1)
		useAVX512 = hasAVX512
		if i := sameBits(a, b); i >= 0 {
			t.Fatalf("k %d: row %d: avx512 %v, avx2 %v", k, i, a[i], b[i])
		}
	}
}

// TestGemmTI8: the transposed and sparse int8 products equal the float32
// ones on the converted codes bitwise.
func TestGemmTI8(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, k := range []int{1, 3, 17, 64} {
			for _, cols := range []int{1, 7, 8, 24, 65, 200} {
				for _, n := range []int{1, 2, 4, 5} {
					ldw := cols + 3
					q, f := randI8(rng, k*ldw)
					x := sparseX(rng, n, k)
					ldd := cols + 1
					got := make([]float32, n*ldd)
					want := make([]float32, n*ldd)
					GemmTI8(got, ldd, x, k, n, k, q, ldw, cols)
					GemmTF32(want, ldd, x, k, n, k, f, ldw, cols)
					if i := sameBits(got, want); i >= 0 {
						t.Fatalf("GemmT k %d cols %d n %d: element %d is %v, want %v", k, cols, n, i, got[i], want[i])
					}
					idx, vals := nonZeros(x[:k])
					if len(idx) == 0 {
						continue
					}
					sg, sw := make([]float32, cols), make([]float32, cols)
					SparseRowsI8(sg, idx, vals, q, ldw)
					SparseRowsF32(sw, idx, vals, f, ldw)
					if i := sameBits(sg, sw); i >= 0 {
						t.Fatalf("SparseRows k %d cols %d: element %d is %v, want %v", k, cols, i, sg[i], sw[i])
					}
				}
			}
		}
	})
}

func BenchmarkGemmI8(b *testing.B) {
	for _, shape := range []struct{ rows, k int }{{2048, 2048}, {8192, 2048}} {
		q, _ := randI8(rand.New(rand.NewPCG(1, 1)), shape.rows*shape.k)
		scales := make([]float32, shape.rows)
		for _, avx512 := range []bool{false, true} {
			if avx512 && !hasAVX512 {
				continue
			}
			name := "avx2"
			if avx512 {
				name = "avx512"
			}
			b.Run(name, func(b *testing.B) {
				useAVX512 = avx512
				defer func() { useAVX512 = hasAVX512 }()
				benchGemm(b, shape.rows, shape.k, 1, func(dst, x []float32) {
					GemmI8(dst, shape.rows, q, scales, shape.rows, shape.k, x, 1)
				})
			})
		}
	}
}
