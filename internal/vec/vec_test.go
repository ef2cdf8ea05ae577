package vec

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rwkvgo/rwkvgo/internal/half"
	"github.com/rwkvgo/rwkvgo/internal/racetest"
	"github.com/stretchr/testify/require"
)

// forEachPath runs f once with the assembly kernels (when the CPU has them)
// and once with the portable kernels.
func forEachPath(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	if hasAsm {
		t.Run("asm", func(t *testing.T) {
			useAsm = true
			f(t)
		})
	}
	t.Run("generic", func(t *testing.T) {
		useAsm = false
		defer func() { useAsm = hasAsm }()
		f(t)
	})
	useAsm = hasAsm
}

var (
	testK    = []int{1, 7, 8, 9, 15, 16, 17, 31, 63, 64, 65, 255, 768, 769, 3072}
	testRows = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 64, 67}
	testN    = []int{1, 2, 3, 5, 8}
)

func randF32(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.Float64()*2 - 1)
	}
	return s
}

// offsetCopy returns a copy of s starting off elements into a fresh buffer,
// to test unaligned slices.
func offsetCopy[T any](s []T, off int) []T {
	b := make([]T, len(s)+off)
	copy(b[off:], s)
	return b[off:]
}

// wtype is a weight encoding under test.
type wtype struct {
	name string
	enc  func(float32) uint16 // nil for float32
	dec  func(uint16) float32
	gemm func(dst []float32, ldd int, w []float32, w16 []uint16, rows, k int, x []float32, n int)
}

var wtypes = []wtype{
	{"f32", nil, nil, func(dst []float32, ldd int, w []float32, _ []uint16, rows, k int, x []float32, n int) {
		GemmF32(dst, ldd, w, rows, k, x, n)
	}},
	{"f16", half.F32ToF16, half.F16ToF32, func(dst []float32, ldd int, _ []float32, w []uint16, rows, k int, x []float32, n int) {
		GemmF16(dst, ldd, w, rows, k, x, n)
	}},
	{"bf16", half.F32ToBF16, half.BF16ToF32, func(dst []float32, ldd int, _ []float32, w []uint16, rows, k int, x []float32, n int) {
		GemmBF16(dst, ldd, w, rows, k, x, n)
	}},
}

// weights returns a random [rows, k] matrix in encoding wt: the float32
// values (decoded, exact) and the 16-bit bits (nil for f32).
func (wt wtype) weights(rng *rand.Rand, rows, k int) ([]float32, []uint16) {
	w := randF32(rng, rows*k)
	if wt.enc == nil {
		return w, nil
	}
	w16 := make([]uint16, len(w))
	for i, v := range w {
		w16[i] = wt.enc(v)
		w[i] = wt.dec(w16[i])
	}
	return w, w16
}

// refDot returns the float64 dot product and sum |w_i x_i|.
func refDot(w, x []float32) (dot, scale float64) {
	for i := range w {
		p := float64(w[i]) * float64(x[i])
		dot += p
		scale += math.Abs(p)
	}
	return dot, scale
}

// tolerance for a float32 dot product of length k whose sum |w_i x_i| is
// scale. The kernels round about k/16+4 (assembly) or 2*(k/4)+2 (portable)
// times, each by at most 2^-24 relative to a partial sum bounded by scale, so
// the worst case is below 1.6e-8*k*scale; 1e-6*sqrt(k)*scale exceeds that
// for every k < 3900 while staying far below errors such as a dropped or
// doubled term.
func tolerance(k int, scale float64) float64 {
	return 1e-6*math.Sqrt(float64(k))*scale + 1e-37
}

func TestGemmAccuracy(t *testing.T) {
	for _, wt := range wtypes {
		t.Run(wt.name, func(t *testing.T) {
			forEachPath(t, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(1, 2))
				for _, k := range testK {
					for _, rows := range testRows {
						for _, n := range testN {
							if k*rows*n > 200000 && !(rows == 67 && n == 5) {
								continue // keep the run short; big cases below
							}
							checkGemm1(t, rng, wt, rows, k, n)
						}
					}
				}
				checkGemm1(t, rng, wt, 67, 3072, 8)
				checkGemm1(t, rng, wt, 130, 769, 11)
			})
		})
	}
}

func checkGemm1(t *testing.T, rng *rand.Rand, wt wtype, rows, k, n int) {
	t.Helper()
	w, w16 := wt.weights(rng, rows, k)
	x := randF32(rng, n*k)
	ldd := rows + 3
	dst := make([]float32, (n-1)*ldd+rows+3)
	for i := range dst {
		dst[i] = -7 // sentinel
	}
	wt.gemm(dst, ldd, offsetCopy(w, 1), offsetCopy(w16, 1), rows, k, offsetCopy(x, 3), n)
	for tk := range n {
		for r := range rows {
			ref, scale := refDot(w[r*k:(r+1)*k], x[tk*k:(tk+1)*k])
			got := float64(dst[tk*ldd+r])
			if math.Abs(got-ref) > tolerance(k, scale) {
				t.Fatalf("rows=%d k=%d n=%d: out[t=%d,r=%d] = %g, want %g (tol %g)", rows, k, n, tk, r, got, ref, tolerance(k, scale))
			}
		}
		for r := rows; r < ldd && tk*ldd+r < len(dst); r++ {
			if dst[tk*ldd+r] != -7 {
				t.Fatalf("rows=%d k=%d n=%d: wrote dst[%d] outside the output", rows, k, n, tk*ldd+r)
			}
		}
	}
}

// TestGemmBitwise checks the numerical contract: each output depends only on
// its (row, token) pair, whatever the blocking, n, offsets, chunking and
// encoding (16-bit weights equal their decoded float32 bitwise), and Dot
// equals a 1x1 product.
func TestGemmBitwise(t *testing.T) {
	for _, wt := range wtypes {
		t.Run(wt.name, func(t *testing.T) {
			forEachPath(t, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(3, 4))
				for _, k := range []int{1, 9, 16, 17, 31, 64, 255, 769} {
					for _, rows := range []int{1, 3, 4, 5, 9, 67} {
						const n = 8
						w, w16 := wt.weights(rng, rows, k)
						x := randF32(rng, n*k)
						full := make([]float32, n*rows)
						wt.gemm(full, rows, w, w16, rows, k, x, n)
						// Reference: float32 weights, one row and one token at a time.
						for tk := range n {
							for r := range rows {
								var one [1]float32
								GemmF32(one[:], 1, w[r*k:(r+1)*k], 1, k, x[tk*k:(tk+1)*k], 1)
								if math.Float32bits(one[0]) != math.Float32bits(full[tk*rows+r]) {
									t.Fatalf("k=%d rows=%d: (t=%d,r=%d) n=%d gives %x, 1x1 f32 gives %x", k, rows, tk, r, n, math.Float32bits(full[tk*rows+r]), math.Float32bits(one[0]))
								}
								if d := Dot(w[r*k:(r+1)*k], x[tk*k:(tk+1)*k]); math.Float32bits(d) != math.Float32bits(one[0]) {
									t.Fatalf("k=%d: Dot %x != GemmF32 1x1 %x", k, math.Float32bits(d), math.Float32bits(one[0]))
								}
							}
						}
						// Every split into token ranges and row ranges, with
						// unaligned slices and a small chunk size.
						saved := chunkBytes
						for _, cb := range []int{1, 4 << 10, saved} {
							chunkBytes = cb
							for t0 := 0; t0 < n; {
								nt := min(1+rng.IntN(n), n-t0)
								for r0 := 0; r0 < rows; {
									nr := min(1+rng.IntN(rows+1), rows-r0)
									ldd := nr + 2
									part := make([]float32, (nt-1)*ldd+nr)
									var ws []uint16
									if w16 != nil {
										ws = offsetCopy(w16[r0*k:(r0+nr)*k], 1)
									}
									wt.gemm(part, ldd, offsetCopy(w[r0*k:(r0+nr)*k], 1), ws, nr, k, offsetCopy(x[t0*k:(t0+nt)*k], 1), nt)
									for tk := range nt {
										for r := range nr {
											a, b := part[tk*ldd+r], full[(t0+tk)*rows+r0+r]
											if math.Float32bits(a) != math.Float32bits(b) {
												t.Fatalf("k=%d rows=%d chunk=%d: block rows [%d,%d) tokens [%d,%d) differs at (t=%d,r=%d): %g vs %g", k, rows, cb, r0, r0+nr, t0, t0+nt, t0+tk, r0+r, a, b)
											}
										}
									}
									r0 += nr
								}
								t0 += nt
							}
						}
						chunkBytes = saved
					}
				}
			})
		})
	}
}

// fma32 returns a*b+c rounded once to float32 (exact emulation).
func fma32(a, b, c float32) float32 {
	var p, s big.Float
	p.SetPrec(600).SetFloat64(float64(a))
	p.Mul(&p, new(big.Float).SetPrec(600).SetFloat64(float64(b)))
	s.SetPrec(600).Add(&p, new(big.Float).SetPrec(600).SetFloat64(float64(c)))
	if s.Sign() == 0 {
		// An exact zero sum is +0 in round-to-nearest unless both terms
		// are -0.
		if math.Signbit(float64(c)) && (a == 0 || b == 0) && math.Signbit(float64(a)) != math.Signbit(float64(b)) {
			return float32(math.Copysign(0, -1))
		}
		return 0
	}
	f, _ := s.Float32()
	return f
}

// laneDot is the documented assembly scheme, emulated exactly.
func laneDot(w, x []float32) float32 {
	var l [16]float32
	for i := range w {
		l[i%16] = fma32(w[i], x[i], l[i%16])
	}
	for i := len(w); i%16 != 0; i++ {
		l[i%16] = fma32(0, 0, l[i%16]) // zero padding of the last block
	}
	var v [8]float32
	for j := range v {
		v[j] = l[j] + l[j+8]
	}
	var u [4]float32
	for j := range u {
		u[j] = v[j] + v[j+4]
	}
	p0, p1 := u[0]+u[2], u[1]+u[3]
	return p0 + p1
}

// TestAsmMatchesDocumentedScheme checks the assembly kernels against an exact
// emulation of the accumulation order given in the package documentation.
func TestAsmMatchesDocumentedScheme(t *testing.T) {
	if !hasAsm {
		t.Skip("no assembly kernels on this CPU")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, k := range []int{1, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 100, 255, 769} {
		const rows, n = 5, 4
		w := randF32(rng, rows*k)
		x := randF32(rng, n*k)
		dst := make([]float32, rows*n)
		GemmF32(dst, rows, w, rows, k, x, n)
		for tk := range n {
			for r := range rows {
				want := laneDot(w[r*k:(r+1)*k], x[tk*k:(tk+1)*k])
				if got := dst[tk*rows+r]; math.Float32bits(got) != math.Float32bits(want) {
					t.Fatalf("k=%d (t=%d,r=%d): got %g (%x), documented scheme gives %g (%x)", k, tk, r, got, math.Float32bits(got), want, math.Float32bits(want))
				}
			}
		}
	}
}

// TestGenericMatchesDocumentedScheme does the same for the portable kernels.
func TestGenericMatchesDocumentedScheme(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, k := range []int{1, 2, 3, 4, 5, 6, 7, 9, 100, 769} {
		w, x := randF32(rng, k), randF32(rng, k)
		var l [4]float32
		for i := range w {
			l[i%4] += float32(w[i] * x[i])
		}
		want := (l[0] + l[1]) + (l[2] + l[3])
		if got := dotGeneric(w, x); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("k=%d: %g, want %g", k, got, want)
		}
	}
}

func TestSpecialValues(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		inf := float32(math.Inf(1))
		w := []float32{1, 2, 3, inf, 5, 6, 7, 8, 9, 1, 2, 3, 4, 5, 6, 7, 8}
		x := make([]float32, len(w))
		for i := range x {
			x[i] = 1
		}
		if d := Dot(w, x); !math.IsInf(float64(d), 1) {
			t.Fatalf("Dot with +Inf = %g", d)
		}
		x[3] = 0
		if d := Dot(w, x); !math.IsNaN(float64(d)) {
			t.Fatalf("Dot with Inf*0 = %g", d)
		}
		// Zero padding of the last block leaves the lanes unchanged even
		// for infinities (k = 17: one element in the partial block).
		w16 := []uint16{0x7c00}
		var out [1]float32
		GemmF16(out[:], 1, w16, 1, 1, []float32{2}, 1)
		if !math.IsInf(float64(out[0]), 1) {
			t.Fatalf("fp16 +Inf * 2 = %g", out[0])
		}
		if d := Dot(nil, nil); d != 0 {
			t.Fatalf("empty Dot = %g", d)
		}
		dst := []float32{5, 5, 5}
		GemmF32(dst, 1, nil, 3, 0, nil, 1)
		if !slices.Equal(dst, []float32{0, 0, 0}) {
			t.Fatalf("k=0 gives %v", dst)
		}
	})
}

func TestAxpy(t *testing.T) {
	for _, wt := range wtypes {
		t.Run(wt.name, func(t *testing.T) {
			forEachPath(t, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(9, 10))
				for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 63, 64, 65, 100, 1000} {
					x, x16 := wt.weights(rng, 1, n)
					d0 := randF32(rng, n)
					a := float32(rng.Float64()*2 - 1)
					d := offsetCopy(d0, 1)
					switch wt.name {
					case "f32":
						Axpy(d, a, offsetCopy(x, 3))
					case "f16":
						AxpyF16(d, a, offsetCopy(x16, 3))
					case "bf16":
						AxpyBF16(d, a, offsetCopy(x16, 3))
					}
					for i := range n {
						var want float32
						if useAsm {
							want = fma32(a, x[i], d0[i])
						} else {
							want = d0[i] + float32(a*x[i])
						}
						if math.Float32bits(d[i]) != math.Float32bits(want) {
							t.Fatalf("n=%d: dst[%d] = %g, want %g", n, i, d[i], want)
						}
					}
				}
			})
		})
	}
}

func TestPanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	w := make([]float32, 12)
	x := make([]float32, 8)
	dst := make([]float32, 6)
	GemmF32(dst, 3, w, 3, 4, x, 2) // fits exactly
	mustPanic("short w", func() { GemmF32(dst, 3, w[:11], 3, 4, x, 2) })
	mustPanic("short x", func() { GemmF32(dst, 3, w, 3, 4, x[:7], 2) })
	mustPanic("short dst", func() { GemmF32(dst[:5], 3, w, 3, 4, x, 2) })
	mustPanic("ldd < rows", func() { GemmF32(dst, 2, w, 3, 4, x, 2) })
	mustPanic("short w16", func() { GemmF16(dst, 3, make([]uint16, 11), 3, 4, x, 2) })
	mustPanic("Dot lengths", func() { Dot(w, x) })
	mustPanic("Axpy lengths", func() { Axpy(dst, 1, x) })
}

func benchGemm(b *testing.B, rows, k, n int, run func(dst []float32, x []float32)) {
	x := randF32(rand.New(rand.NewPCG(1, 1)), n*k)
	dst := make([]float32, n*rows)
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		run(dst, x)
	}
	if n > 1 {
		b.ReportMetric(2*float64(rows*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		reportCPU(b, cpu0, 2*float64(rows*k*n))
	}
}

// reportCPU reports the CPU time per operation since cpu0 (a cpuTime
// reading) and the throughput of flops floating-point operations per
// operation in GFLOP per CPU second: figures less disturbed than wall time
// when other processes share the CPUs. It reports nothing where the CPU
// time is unknown.
func reportCPU(b *testing.B, cpu0 time.Duration, flops float64) {
	cpu := cpuTime() - cpu0
	if cpu0 == 0 || cpu <= 0 {
		return
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(flops*float64(b.N)/cpu.Seconds()/1e9, "GFLOP/cpu-s")
}

// BenchmarkGemm multiplies 1 and 128 tokens with the 3072 x 768 channel-mix
// key of a 0.1B model and a 2048 x 2048 projection of a 1.5B model; with
// 128 tokens, 16-bit weights also read in place, decoded in the tiles'
// registers ("inplace", decodeBlocks off).
func BenchmarkGemm(b *testing.B) {
	for _, shape := range [][2]int{{3072, 768}, {2048, 2048}} {
		rows, k := shape[0], shape[1]
		w, w16, wb := benchWeights(rows, k)
		for _, path := range []string{"asm", "generic"} {
			if path == "asm" && !hasAsm {
				continue
			}
			for _, n := range []int{1, 128} {
				for _, typ := range []string{"f32", "f16", "bf16", "f16-inplace", "bf16-inplace"} {
					inplace := strings.HasSuffix(typ, "-inplace")
					if inplace && (path != "asm" || n == 1) {
						continue
					}
					b.Run(fmt.Sprintf("%s/%s/%dx%d/n=%d", path, typ, rows, k, n), func(b *testing.B) {
						useAsm, decodeBlocks = path == "asm", !inplace
						defer func() { useAsm, decodeBlocks = hasAsm, true }()
						switch strings.TrimSuffix(typ, "-inplace") {
						case "f32":
							b.SetBytes(int64(rows * k * 4))
							benchGemm(b, rows, k, n, func(dst, x []float32) { GemmF32(dst, rows, w, rows, k, x, n) })
						case "f16":
							b.SetBytes(int64(rows * k * 2))
							benchGemm(b, rows, k, n, func(dst, x []float32) { GemmF16(dst, rows, w16, rows, k, x, n) })
						case "bf16":
							b.SetBytes(int64(rows * k * 2))
							benchGemm(b, rows, k, n, func(dst, x []float32) { GemmBF16(dst, rows, wb, rows, k, x, n) })
						}
					})
				}
			}
		}
	}
}

func BenchmarkDot(b *testing.B) {
	const k = 768
	rng := rand.New(rand.NewPCG(1, 2))
	w, x := randF32(rng, k), randF32(rng, k)
	for _, path := range []string{"asm", "generic"} {
		if path == "asm" && !hasAsm {
			continue
		}
		b.Run(path, func(b *testing.B) {
			useAsm = path == "asm"
			defer func() { useAsm = hasAsm }()
			b.SetBytes(2 * 4 * k)
			var s float32
			for b.Loop() {
				s += Dot(w, x)
			}
			_ = s
		})
	}
}

func BenchmarkAxpy(b *testing.B) {
	const k = 3072
	rng := rand.New(rand.NewPCG(1, 2))
	x, d := randF32(rng, k), randF32(rng, k)
	x16 := make([]uint16, k)
	for i, v := range x {
		x16[i] = half.F32ToF16(v)
	}
	for _, path := range []string{"asm", "generic"} {
		if path == "asm" && !hasAsm {
			continue
		}
		b.Run(path+"/f32", func(b *testing.B) {
			useAsm = path == "asm"
			defer func() { useAsm = hasAsm }()
			b.SetBytes(4 * k)
			for b.Loop() {
				Axpy(d, 1e-3, x)
			}
		})
		b.Run(path+"/f16", func(b *testing.B) {
			useAsm = path == "asm"
			defer func() { useAsm = hasAsm }()
			b.SetBytes(2 * k)
			for b.Loop() {
				AxpyF16(d, 1e-3, x16)
			}
		})
	}
}

func TestDecodeF16AllPatterns(t *testing.T) {
	src := make([]uint16, 1<<16)
	for i := range src {
		src[i] = uint16(i)
	}
	dst := make([]float32, len(src))
	decodeF16(dst, src)
	for i, h := range src {
		if a, b := math.Float32bits(dst[i]), math.Float32bits(half.F16ToF32(h)); a != b {
			t.Fatalf("%04x: %08x, want %08x", h, a, b)
		}
	}
}

func TestDotDoesNotAllocate(t *testing.T) {
	a, b := make([]float32, 100), make([]float32, 100)
	if n := testing.AllocsPerRun(20, func() { Dot(a, b) }); n != 0 {
		t.Fatalf("Dot allocates %.0f times per call", n)
	}
}

// TestGemvAVX512 checks the AVX-512 one-token kernels (four rows at a time,
// k a multiple of 16) against the AVX2 ones bitwise and against the
// documented scheme, for row counts that leave a remainder of one to three
// rows, on unaligned slices.
func TestGemvAVX512(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512 on this CPU")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for _, wt := range wtypes {
		for _, k := range []int{16, 32, 48, 64, 768, 3072} {
			for _, rows := range []int{4, 5, 6, 7, 8, 67} {
				w, w16 := wt.weights(rng, rows, k)
				x := offsetCopy(randF32(rng, k), 1)
				if w16 != nil {
					w16 = offsetCopy(w16, 1)
				} else {
					w = offsetCopy(w, 1)
				}
				got, want := make([]float32, rows), make([]float32, rows)
				wt.gemm(got, rows, w, w16, rows, k, x, 1)
				useAVX512 = false
				wt.gemm(want, rows, w, w16, rows, k, x, 1)
				useAVX512 = hasAVX512
				if i := sameBits(got, want); i >= 0 {
					t.Fatalf("%s k=%d rows=%d: row %d: AVX-512 %g, AVX2 %g", wt.name, k, rows, i, got[i], want[i])
				}
				if wt.name == "f32" {
					for r := range rows {
						if d := laneDot(w[r*k:(r+1)*k], x); math.Float32bits(d) != math.Float32bits(got[r]) {
							t.Fatalf("f32 k=%d rows=%d: row %d: %g, documented scheme %g", k, rows, r, got[r], d)
						}
					}
				}
			}
		}
	}
}

// TestGemmTilesAVX512 checks the AVX-512 tiles of several tokens (4 rows x
// up to 6 tokens, k a multiple of 16) against the AVX2 kernels bitwise, and
// the float32 ones against the documented scheme, for every token count
// that leaves a partial tile, row counts with a remainder of one to three
// rows, several row blocks, products split into element ranges and
// unaligned slices; int8 codes likewise.
func TestGemmTilesAVX512(t *testing.T) {
	racetest.SkipSequential(t)
	if !hasAVX512 {
		t.Skip("no AVX-512 on this CPU")
	}
	rng := rand.New(rand.NewPCG(13, 14))
	saved, savedK := chunkBytes, tileK
	defer func() { chunkBytes, tileK = saved, savedK }()
	for _, cfg := range [][2]int{{4 << 10, 32}, {saved, 48}, {saved, savedK}} {
		chunkBytes, tileK = cfg[0], cfg[1]
		cb := cfg[0]
		for _, k := range []int{16, 48, 768, 1040} {
			for _, rows := range []int{4, 7, 9, 67} {
				for _, n := range []int{2, 5, 6, 7, 12, 13} {
					x := offsetCopy(randF32(rng, n*k), 1)
					ldd := rows + 3
					for _, wt := range wtypes {
						w, w16 := wt.weights(rng, rows, k)
						if w16 != nil {
							w16 = offsetCopy(w16, 1)
						} else {
							w = offsetCopy(w, 1)
						}
						got, want := make([]float32, n*ldd), make([]float32, n*ldd)
						wt.gemm(got, ldd, w, w16, rows, k, x, n)
						useAVX512 = false
						wt.gemm(want, ldd, w, w16, rows, k, x, n)
						useAVX512 = hasAVX512
						if i := sameBits(got, want); i >= 0 {
							t.Fatalf("%s k=%d rows=%d n=%d chunk=%d range=%d: element %d: AVX-512 %g, AVX2 %g", wt.name, k, rows, n, cb, tileK, i, got[i], want[i])
						}
						if wt.name != "f32" {
							continue
						}
						for tk := range n {
							for r := range rows {
								d := laneDot(w[r*k:(r+1)*k], x[tk*k:(tk+1)*k])
								if g := got[tk*ldd+r]; math.Float32bits(d) != math.Float32bits(g) {
									t.Fatalf("f32 k=%d rows=%d n=%d: (t=%d,r=%d) %g, documented scheme %g", k, rows, n, tk, r, g, d)
								}
							}
						}
					}
					q, _ := randI8(rng, rows*k)
					q = offsetCopy(q, 3)
					scales := randF32(rng, rows)
					got, want := make([]float32, n*ldd), make([]float32, n*ldd)
					GemmI8(got, ldd, q, scales, rows, k, x, n)
					useAVX512 = false
					GemmI8(want, ldd, q, scales, rows, k, x, n)
					useAVX512 = hasAVX512
					if i := sameBits(got, want); i >= 0 {
						t.Fatalf("i8 k=%d rows=%d n=%d: element %d: AVX-512 %g, AVX2 %g", k, rows, n, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestDecodeBlocksSameBits: products of more tokens than one AVX-512 tile
// decode blocks of 16-bit and int8 weights into float32 for the float32
// kernels, and GemmT copies float32 blocks (decodeBlocks); they must give
// exactly the bits of the kernels that read the weights in place, for Gemm
// and GemmT, over row and column tails, element ranges (tileK) and small
// blocks.
func TestDecodeBlocksSameBits(t *testing.T) {
	if !hasAsm || !hasAVX512 {
		t.Skip("no AVX-512 on this CPU")
	}
	rng := rand.New(rand.NewPCG(19, 20))
	saved, savedK, savedCols, savedBytes := chunkBytes, tileK, gemmTCols, gemmTBytes
	defer func() {
		chunkBytes, tileK, gemmTCols, gemmTBytes, decodeBlocks = saved, savedK, savedCols, savedBytes, true
	}()
	// both runs f with the blocks decoded and in registers, and requires
	// the same bits.
	both := func(what string, out []float32, f func(dst []float32)) {
		t.Helper()
		ref := make([]float32, len(out))
		decodeBlocks = false
		f(ref)
		decodeBlocks = true
		f(out)
		if i := sameBits(out, ref); i >= 0 {
			t.Fatalf("%s: element %d: decoded blocks %g, in registers %g", what, i, out[i], ref[i])
		}
	}
	for _, cfg := range [][3]int{{4 << 10, 32, 700}, {saved, savedK, savedBytes}} {
		chunkBytes, tileK, gemmTBytes = cfg[0], cfg[1], cfg[2]
		for _, k := range []int{16, 48, 768, 1040} {
			for _, rows := range []int{4, 9, 67} {
				for _, n := range []int{7, 13} {
					x := offsetCopy(randF32(rng, n*k), 1)
					ldd := rows + 3
					// GemmT: tokens of rows inputs, the columns short of
					// a multiple of 16 by 3 (AVX2 kernels for the tail).
					xt, cols := offsetCopy(randF32(rng, n*rows), 2), k-3
					what := fmt.Sprintf("k=%d rows=%d n=%d chunk=%d range=%d", k, rows, n, chunkBytes, tileK)
					for _, wt := range wtypes {
						w, w16 := wt.weights(rng, rows, k)
						w, w16 = offsetCopy(w, 1), offsetCopy(w16, 1)
						both("Gemm "+wt.name+" "+what, make([]float32, n*ldd), func(dst []float32) { wt.gemm(dst, ldd, w, w16, rows, k, x, n) })
						// The same weights as a transposed [rows, k] matrix
						// (float32 too: its blocks are copied).
						both("GemmT "+wt.name+" "+what, make([]float32, n*k), func(dst []float32) {
							wt.gemmT(dst, k, xt, rows, n, rows, w, w16, k, cols)
						})
					}
					q, _ := randI8(rng, rows*k)
					q = offsetCopy(q, 3)
					scales := randF32(rng, rows)
					both("GemmI8 "+what, make([]float32, n*ldd), func(dst []float32) { GemmI8(dst, ldd, q, scales, rows, k, x, n) })
					both("GemmTI8 "+what, make([]float32, n*k), func(dst []float32) { GemmTI8(dst, k, xt, rows, n, rows, q, k, cols) })
				}
			}
		}
	}
}

// TestKBlockedSameBits: products whose x of all tokens exceeds
// 2*xBlockBytes run in ranges of elements over larger blocks of rows, every
// token's accumulators kept between ranges (kblocked); float32 and Q8_0
// weights must give the bits of the documented scheme and of the AVX2
// kernels, over ranges with a short last one, several blocks of rows with a
// short last one, row tails and partial groups of tokens.
func TestKBlockedSameBits(t *testing.T) {
	if !hasAsm || !hasAVX512 {
		t.Skip("no AVX-512 on this CPU")
	}
	rng := rand.New(rand.NewPCG(21, 22))
	savedK, savedX, savedW, savedP := tileK, xBlockBytes, kBlockBytes, partBytes
	defer func() { tileK, xBlockBytes, kBlockBytes, partBytes = savedK, savedX, savedW, savedP }()
	// Rows of 1120 elements: ranges of 96 (a multiple of 48 and of the
	// 32 of a block) and a last one of 64, two element ranges of the tiles
	// per range but one; blocks of 12 rows.
	const k = 1120
	tileK, kBlockBytes = 48, 12*96*4
	for _, rows := range []int{4, 7, 67} {
		for _, n := range []int{7, 13} {
			xBlockBytes, partBytes = 4*n*96, 64*n*64
			require.Equal(t, 96, kBlock(k, n))
			x := offsetCopy(randF32(rng, n*k), 1)
			ldd := rows + 3
			qw := randBlocks(rng, Q8_0, rows*k/QBlock)
			w := make([]float32, rows*k)
			Dequantize(Q8_0, w, qw)
			w = offsetCopy(w, 1)
			got, gotQ, want := make([]float32, n*ldd), make([]float32, n*ldd), make([]float32, n*ldd)
			GemmF32(got, ldd, w, rows, k, x, n)
			GemmQ(Q8_0, gotQ, ldd, qw, rows, k, x, n)
			useAVX512 = false
			GemmF32(want, ldd, w, rows, k, x, n)
			useAVX512 = hasAVX512
			if i := sameBits(got, want); i >= 0 {
				t.Fatalf("f32 rows=%d n=%d: element %d: k-blocked %g, AVX2 %g", rows, n, i, got[i], want[i])
			}
			if i := sameBits(gotQ, want); i >= 0 {
				t.Fatalf("q8_0 rows=%d n=%d: element %d: k-blocked %g, AVX2 %g", rows, n, i, gotQ[i], want[i])
			}
			for tk := range n {
				for r := range rows {
					d := laneDot(w[r*k:(r+1)*k], x[tk*k:(tk+1)*k])
					if g := got[tk*ldd+r]; math.Float32bits(d) != math.Float32bits(g) {
						t.Fatalf("f32 rows=%d n=%d: (t=%d,r=%d) %g, documented scheme %g", rows, n, tk, r, g, d)
					}
				}
			}
		}
	}
}

// TestTileTokens: the AVX-512 tiles take the tokens in ceil(n/6) groups of
// at most six whose sizes differ by at most one.
func TestTileTokens(t *testing.T) {
	for n := 1; n <= 200; n++ {
		var sizes []int
		for left := n; left > 0; {
			nt := tileTokens(left)
			require.True(t, nt >= 1 && nt <= maxTile512, "n=%d: a tile of %d tokens", n, nt)
			sizes = append(sizes, nt)
			left -= nt
		}
		require.Len(t, sizes, (n+maxTile512-1)/maxTile512, "n=%d: %v", n, sizes)
		require.LessOrEqual(t, slices.Max(sizes)-slices.Min(sizes), 1, "n=%d: %v", n, sizes)
	}
}

// BenchmarkGemvDecode times one-token products of a 1.5B model's shapes
// (2048 -> 2048 and 2048 -> 7168) on weights far larger than the caches
// (copies in turn), with and without the AVX-512 kernels; the throughput
// counts the weight bytes read.
func BenchmarkGemvDecode(b *testing.B) {
	if !hasAsm {
		b.Skip("no assembly kernels")
	}
	const copies = 4
	rng := rand.New(rand.NewPCG(9, 10))
	for _, sh := range [][2]int{{2048, 2048}, {7168, 2048}} {
		rows, k := sh[0], sh[1]
		w32 := make([][]float32, copies)
		w16 := make([][]uint16, copies)
		for i := range copies {
			w32[i] = randF32(rng, rows*k)
			w16[i] = make([]uint16, rows*k)
			for j, v := range w32[i] {
				w16[i][j] = half.F32ToF16(v)
			}
		}
		x := randF32(rng, k)
		dst := make([]float32, rows)
		for _, avx512 := range []bool{false, true} {
			if avx512 && !hasAVX512 {
				continue
			}
			for _, typ := range []string{"f32", "f16"} {
				b.Run(fmt.Sprintf("%dx%d/%s/avx512=%v", rows, k, typ, avx512), func(b *testing.B) {
					useAVX512 = avx512
					defer func() { useAVX512 = hasAVX512 }()
					es := 2
					if typ == "f32" {
						es = 4
					}
					b.SetBytes(int64(rows * k * es))
					i := 0
					for b.Loop() {
						if typ == "f32" {
							GemmF32(dst, 0, w32[i%copies], rows, k, x, 1)
						} else {
							GemmF16(dst, 0, w16[i%copies], rows, k, x, 1)
						}
						i++
					}
				})
			}
		}
	}
}
