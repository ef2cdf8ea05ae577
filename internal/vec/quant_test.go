package vec

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rwkvgo/rwkvgo/internal/half"
	"github.com/rwkvgo/rwkvgo/internal/racetest"
	"github.com/rwkvgo/rwkvgo/weights"
)

var qTypes = []struct {
	q QType
	w weights.DType
}{{Q4_0, weights.Q4_0}, {Q4_1, weights.Q4_1}, {Q5_0, weights.Q5_0}, {Q5_1, weights.Q5_1}, {Q8_0, weights.Q8_0}}

// randBlocks returns nblk blocks of type q with random codes and random
// finite scales (including fp16 subnormals and zero).
func randBlocks(rng *rand.Rand, q QType, nblk int) []byte {
	bb := q.BlockBytes()
	b := make([]byte, nblk*bb)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	for i := 0; i < nblk; i++ {
		blk := b[i*bb:]
		scale := func(off int) {
			var h uint16
			switch rng.IntN(8) {
			case 0:
				h = uint16(rng.IntN(1024)) | uint16(rng.IntN(2))<<15 // subnormal or zero
			default:
				h = half.F32ToF16(float32(rng.NormFloat64() * 0.05))
			}
			binary.LittleEndian.PutUint16(blk[off:], h)
		}
		scale(0)
		if q == Q4_1 || q == Q5_1 {
			scale(2)
		}
	}
	return b
}

func sameBits(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// forEachQPath is forEachPath, with the assembly path run with and without
// the AVX-512 kernels where the CPU has them.
func forEachQPath(t *testing.T, f func(t *testing.T)) {
	if hasAVX512 {
		t.Run("avx512", func(t *testing.T) {
			useAsm, useAVX512 = true, true
			defer func() { useAsm = hasAsm }()
			f(t)
		})
	}
	forEachPath(t, func(t *testing.T) {
		useAVX512 = false
		defer func() { useAVX512 = hasAVX512 }()
		f(t)
	})
}

// TestDequantize: both decoders give exactly package weights' values, on
// unaligned sources and for any number of blocks.
func TestDequantize(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, qt := range qTypes {
			for _, nblk := range []int{1, 2, 3, 7, 64, 65} {
				src := offsetCopy(randBlocks(rng, qt.q, nblk), 1+nblk%3)
				want := make([]float32, nblk*QBlock)
				if err := weights.DecodeFloat32(want, qt.w, src); err != nil {
					t.Fatal(err)
				}
				got := offsetCopy(make([]float32, nblk*QBlock), nblk%5)
				Dequantize(qt.q, got, src)
				if i := sameBits(got, want); i >= 0 {
					t.Fatalf("%s nblk=%d: element %d = %g, want %g", qt.q, nblk, i, got[i], want[i])
				}
			}
		}
	})
}

// TestGemmQ: GemmQ equals GemmF32 on the dequantized matrix bitwise, and
// the float64 product within the documented error bound, on odd shapes.
func TestGemmQ(t *testing.T) {
	racetest.SkipSequential(t)
	forEachQPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, qt := range qTypes {
			for _, k := range []int{32, 96, 320, 2080} {
				for _, rows := range []int{1, 3, 5, 67, 300} {
					for _, n := range []int{1, 2, 3, 4, 5, 7, 9} {
						name := fmt.Sprintf("%s rows=%d k=%d n=%d", qt.q, rows, k, n)
						w := offsetCopy(randBlocks(rng, qt.q, rows*k/QBlock), rows%3)
						deq := make([]float32, rows*k)
						if err := weights.DecodeFloat32(deq, qt.w, w); err != nil {
							t.Fatal(err)
						}
						x := offsetCopy(randF32(rng, n*k), n%2)
						ldd := rows + 3
						got := make([]float32, (n-1)*ldd+rows)
						want := make([]float32, len(got))
						GemmQ(qt.q, got, ldd, w, rows, k, x, n)
						GemmF32(want, ldd, deq, rows, k, x, n)
						if i := sameBits(got, want); i >= 0 {
							t.Fatalf("%s: element %d = %g, GemmF32 on the dequantized matrix %g", name, i, got[i], want[i])
						}
						for tk := 0; tk < n; tk++ {
							for r := 0; r < rows; r++ {
								var s, a float64
								for i := 0; i < k; i++ {
									p := float64(deq[r*k+i]) * float64(x[tk*k+i])
									s += p
									a += math.Abs(p)
								}
								g := float64(got[tk*ldd+r])
								if d := math.Abs(g - s); d > float64(k/2+4)*0x1p-24*a+1e-30 {
									t.Fatalf("%s: out[%d][%d] = %g, float64 %g (|diff| %g, sum|p| %g)", name, tk, r, g, s, d, a)
								}
							}
						}
					}
				}
			}
		}
	})
}

func TestGemmQPanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	x := make([]float32, 64)
	dst := make([]float32, 4)
	mustPanic("k not a multiple of 32", func() { GemmQ(Q8_0, dst, 4, make([]byte, 1000), 1, 33, x, 1) })
	mustPanic("short weights", func() { GemmQ(Q8_0, dst, 4, make([]byte, 67), 2, 32, x, 1) })
	mustPanic("unknown type", func() { GemmQ(QType(9), dst, 4, make([]byte, 100), 1, 32, x, 1) })
	mustPanic("short dst", func() { Dequantize(Q4_0, make([]float32, 64), make([]byte, 18)) })
}

func BenchmarkGemmQ(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	const rows, k = 4096, 2048
	for _, qt := range qTypes {
		w := randBlocks(rng, qt.q, rows*k/QBlock)
		x := randF32(rng, k)
		dst := make([]float32, rows)
		for _, kind := range []string{"avx512", "fused", "tiled"} {
			if kind == "avx512" && !hasAVX512 {
				continue
			}
			b.Run(qt.q.String()+"/"+kind, func(b *testing.B) {
				qFused, useAVX512 = kind != "tiled", kind == "avx512"
				defer func() { qFused, useAVX512 = true, hasAVX512 }()
				b.SetBytes(int64(len(w)))
				for b.Loop() {
					GemmQ(qt.q, dst, rows, w, rows, k, x, 1)
				}
			})
		}
	}
}

// BenchmarkGemmQBatch measures the prefill product of a batch of 128 tokens
// on Q8_0 weights of a 1.5B model's shapes (rows x k: 2048 x 2048,
// 8192 x 2048, 2048 x 8192; dequantized into the float32 buffer block by
// block), with its CPU time per product: a figure less disturbed than wall
// time when other processes share the CPUs. "f32" multiplies the same
// weights dequantized beforehand, the bound of the buffered product.
func BenchmarkGemmQBatch(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	const n = 128
	for _, shape := range [][2]int{{2048, 2048}, {8192, 2048}, {2048, 8192}} {
		rows, k := shape[0], shape[1]
		w := randBlocks(rng, Q8_0, rows*k/QBlock)
		wf := make([]float32, rows*k)
		Dequantize(Q8_0, wf, w)
		x := randF32(rng, n*k)
		dst := make([]float32, n*rows)
		for _, typ := range []string{"q8_0", "f32"} {
			b.Run(fmt.Sprintf("%dx%d/%s", rows, k, typ), func(b *testing.B) {
				cpu0 := cpuTime()
				for b.Loop() {
					if typ == "f32" {
						GemmF32(dst, rows, wf, rows, k, x, n)
					} else {
						GemmQ(Q8_0, dst, rows, w, rows, k, x, n)
					}
				}
				reportCPU(b, cpu0, float64(2*rows*k*n))
			})
		}
	}
}
