package vec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/rwkvgo/rwkvgo/internal/half"
	"github.com/stretchr/testify/require"
)

var (
	testKT    = []int{1, 7, 8, 15, 16, 17, 31, 63, 64, 65, 255, 768, 769, 3072}
	testColsT = testKT
	testNT    = []int{1, 2, 3, 4, 5, 8, 13}
)

// fmaFast32 returns a*b+c rounded once to float32. The product is exact in
// float64 and the sum is computed in float64 with round-to-odd (the error of
// the rounded sum is recovered exactly), which makes the final rounding to
// float32 correct; TestFMAFast32 checks it against fma32.
func fmaFast32(a, b, c float32) float32 {
	p := float64(float64(a) * float64(b))
	cc := float64(c)
	s := p + cc
	if s == 0 || math.IsInf(s, 0) || math.IsNaN(s) {
		return float32(s)
	}
	bb := s - p
	e := (p - (s - bb)) + (cc - bb) // p + cc == s + e exactly
	if bits := math.Float64bits(s); e != 0 && bits&1 == 0 {
		if (e > 0) == (s > 0) {
			bits++
		} else {
			bits--
		}
		s = math.Float64frombits(bits)
	}
	return float32(s)
}

func TestFMAFast32(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	r := func() float32 {
		switch rng.IntN(8) {
		case 0:
			return 0
		case 1:
			return float32(math.Ldexp(rng.Float64()-0.5, -rng.IntN(150)))
		case 2:
			return float32(math.Ldexp(rng.Float64()-0.5, rng.IntN(100)))
		case 3:
			// Values near an exact tie of the float32 rounding.
			return 1 + float32(rng.IntN(4))*0x1p-23
		}
		return float32(rng.NormFloat64())
	}
	for range 200000 {
		a, b, c := r(), r(), r()
		if rng.IntN(4) == 0 {
			c = -float32(float64(a) * float64(b))
		}
		if rng.IntN(4) == 0 {
			c = float32(math.Ldexp(float64(c), -30))
		}
		got, want := fmaFast32(a, b, c), fma32(a, b, c)
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("fma(%g, %g, %g) = %g, want %g", a, b, c, got, want)
		}
	}
}

// chainT is the documented order of one output of the transposed products,
// emulated exactly: acc = +0, then for each term acc = fma(x, w, acc) in the
// assembly kernels, or acc += float32(x*w) in the portable ones.
func chainT(x, w []float32, asm bool) float32 {
	var acc float32
	for i := range x {
		if asm {
			acc = fmaFast32(x[i], w[i], acc)
		} else {
			acc += float32(x[i] * w[i])
		}
	}
	return acc
}

// gemmT and sparse call the product for the weight type: w holds the
// float32 values, w16 the 16-bit bits (nil for f32).
func (wt wtype) gemmT(dst []float32, ldd int, x []float32, ldx, n, k int, w []float32, w16 []uint16, ldw, cols int) {
	switch wt.name {
	case "f32":
		GemmTF32(dst, ldd, x, ldx, n, k, w, ldw, cols)
	case "f16":
		GemmTF16(dst, ldd, x, ldx, n, k, w16, ldw, cols)
	case "bf16":
		GemmTBF16(dst, ldd, x, ldx, n, k, w16, ldw, cols)
	}
}

func (wt wtype) sparse(dst []float32, idx []int32, vals []float32, w []float32, w16 []uint16, ldw int) {
	switch wt.name {
	case "f32":
		SparseRowsF32(dst, idx, vals, w, ldw)
	case "f16":
		SparseRowsF16(dst, idx, vals, w16, ldw)
	case "bf16":
		SparseRowsBF16(dst, idx, vals, w16, ldw)
	}
}

// sparseX returns n rows of k activations of which about half are zero
// (some of them -0).
func sparseX(rng *rand.Rand, n, k int) []float32 {
	x := randF32(rng, n*k)
	for i := range x {
		switch rng.IntN(8) {
		case 0, 1, 2:
			x[i] = 0
		case 3:
			x[i] = float32(math.Copysign(0, -1))
		}
	}
	return x
}

// nonZeros returns the indices and values of the non-zero entries of x.
func nonZeros(x []float32) ([]int32, []float32) {
	var idx []int32
	var vals []float32
	for i, v := range x {
		if v != 0 {
			idx = append(idx, int32(i))
			vals = append(vals, v)
		}
	}
	return idx, vals
}

func column(w []float32, ldw, k, c int) []float32 {
	col := make([]float32, k)
	for i := range col {
		col[i] = w[i*ldw+c]
	}
	return col
}

func TestGemmTAccuracy(t *testing.T) {
	for _, wt := range wtypes {
		t.Run(wt.name, func(t *testing.T) {
			forEachPath(t, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(13, 14))
				for _, k := range testKT {
					for _, cols := range testColsT {
						for _, n := range testNT {
							if k*cols*n > 2*maxTestSize() {
								continue
							}
							checkGemmT1(t, rng, wt, n, k, cols)
						}
					}
				}
				checkGemmT1(t, rng, wt, 13, 3072, 100)
				checkGemmT1(t, rng, wt, 5, 769, 769)
			})
		})
	}
}

func checkGemmT1(t *testing.T, rng *rand.Rand, wt wtype, n, k, cols int) {
	t.Helper()
	ldw, ldx, ldd := cols+2, k+1, cols+3
	w, w16 := wt.weights(rng, k, ldw)
	x := randF32(rng, n*ldx)
	dst := make([]float32, n*ldd)
	for i := range dst {
		dst[i] = -7 // sentinel
	}
	wt.gemmT(dst, ldd, offsetCopy(x, 3), ldx, n, k, offsetCopy(w, 1), offsetCopy(w16, 1), ldw, cols)
	for tk := range n {
		for c := range cols {
			ref, scale := refDot(column(w, ldw, k, c), x[tk*ldx:tk*ldx+k])
			got := float64(dst[tk*ldd+c])
			if math.Abs(got-ref) > tolerance(k, scale) {
				t.Fatalf("n=%d k=%d cols=%d: out[t=%d,c=%d] = %g, want %g (tol %g)", n, k, cols, tk, c, got, ref, tolerance(k, scale))
			}
		}
		for c := cols; c < ldd; c++ {
			if dst[tk*ldd+c] != -7 {
				t.Fatalf("n=%d k=%d cols=%d: wrote dst[%d] outside the output", n, k, cols, tk*ldd+c)
			}
		}
	}
}

// TestGemmTBitwise checks the numerical contract of the transposed products:
// each output is the documented chain over its token and weight column, so
// GemmT for one token, GemmT for many tokens (any n, any blocking, any
// strides and offsets) and SparseRows over the non-zero entries agree
// bitwise, and 16-bit weights give the results of their decoded values.
func TestGemmTBitwise(t *testing.T) {
	for _, wt := range wtypes {
		t.Run(wt.name, func(t *testing.T) {
			forEachPath(t, func(t *testing.T) {
				// The assembly path with and without the AVX-512
				// kernels (where the CPU has them): both give the
				// documented chains.
				for _, avx512 := range []bool{false, true} {
					if avx512 && !(useAsm && hasAVX512) {
						continue
					}
					useAVX512 = avx512
					rng := rand.New(rand.NewPCG(15, 16))
					for _, k := range testKT {
						for _, cols := range testColsT {
							if k*cols > maxTestSize() && !(k == 3072 && cols == 769 && !raceEnabled) {
								continue
							}
							checkGemmTBitwise(t, rng, wt, k, cols)
						}
					}
				}
				useAVX512 = hasAVX512
			})
		})
	}
}

func checkGemmTBitwise(t *testing.T, rng *rand.Rand, wt wtype, k, cols int) {
	t.Helper()
	const n = 13
	w, w16 := wt.weights(rng, k, cols)
	x := sparseX(rng, n, k)
	bits := math.Float32bits
	// Reference: the documented chain on the float32 values of the weights.
	ref := make([]float32, n*cols)
	for c := range cols {
		col := column(w, cols, k, c)
		for tk := range n {
			ref[tk*cols+c] = chainT(x[tk*k:(tk+1)*k], col, useAsm)
		}
	}
	compare := func(what string, tk int, got []float32) {
		t.Helper()
		for c := range cols {
			if bits(got[c]) != bits(ref[tk*cols+c]) {
				t.Fatalf("k=%d cols=%d: %s: out[t=%d,c=%d] = %g (%08x), documented order gives %g (%08x)", k, cols, what, tk, c, got[c], bits(got[c]), ref[tk*cols+c], bits(ref[tk*cols+c]))
			}
		}
	}
	// All tokens at once, then the first n tokens for every n of testNT,
	// with strides, offsets and (once) a small blocking.
	full := make([]float32, n*cols)
	wt.gemmT(full, cols, x, k, n, k, w, w16, cols, cols)
	for tk := range n {
		compare("n=13", tk, full[tk*cols:])
	}
	savedCols, savedBytes := gemmTCols, gemmTBytes
	defer func() { gemmTCols, gemmTBytes = savedCols, savedBytes }()
	for j, nn := range testNT {
		if j == 2 {
			gemmTCols, gemmTBytes = 1+rng.IntN(40), 1+rng.IntN(3000)
		}
		t0 := rng.IntN(n - nn + 1)
		ldd := cols + 1 + rng.IntN(3)
		part := make([]float32, nn*ldd+1)[1:] // unaligned
		wt.gemmT(part, ldd, offsetCopy(x[t0*k:], 2), k, nn, k, offsetCopy(w, 3), offsetCopy(w16, 3), cols, cols)
		for tk := range nn {
			compare(fmt.Sprintf("n=%d blocking %d cols %d bytes", nn, gemmTCols, gemmTBytes), t0+tk, part[tk*ldd:])
		}
		gemmTCols, gemmTBytes = savedCols, savedBytes
	}
	// One token at a time, with 16-bit weights also through their decoded
	// float32 values, and SparseRows over the non-zero entries, over the
	// whole width and over a column range.
	for tk := range n {
		xt := x[tk*k : (tk+1)*k]
		one := make([]float32, cols)
		wt.gemmT(one, 0, offsetCopy(xt, 1), 0, 1, k, w, w16, cols, cols)
		compare("n=1", tk, one)
		if wt.enc != nil {
			clear(one)
			GemmTF32(one, 0, xt, 0, 1, k, w, cols, cols)
			compare("n=1 decoded f32", tk, one)
		}
		idx, vals := nonZeros(xt)
		sp := make([]float32, cols)
		for i := range sp {
			sp[i] = 5
		}
		wt.sparse(sp, idx, vals, offsetCopy(w, 2), offsetCopy(w16, 2), cols)
		compare("SparseRows", tk, sp)
		c0 := rng.IntN(cols)
		c1 := c0 + rng.IntN(cols-c0+1)
		var ws []uint16
		if w16 != nil {
			ws = w16[c0:]
		}
		sub := make([]float32, c1-c0)
		wt.sparse(sub, idx, vals, w[c0:], ws, cols)
		for c := c0; c < c1; c++ {
			if bits(sub[c-c0]) != bits(ref[tk*cols+c]) {
				t.Fatalf("k=%d cols=%d: SparseRows on columns [%d,%d): out[t=%d,c=%d] = %g, want %g", k, cols, c0, c1, tk, c, sub[c-c0], ref[tk*cols+c])
			}
		}
	}
}

// benchWeights returns a random [k, cols] matrix as float32, binary16 and
// bfloat16.
func benchWeights(k, cols int) ([]float32, []uint16, []uint16) {
	rng := rand.New(rand.NewPCG(1, 2))
	w := randF32(rng, k*cols)
	w16 := make([]uint16, len(w))
	wb := make([]uint16, len(w))
	for i, v := range w {
		w16[i] = half.F32ToF16(v)
		wb[i] = half.F32ToBF16(v)
	}
	return w, w16, wb
}

// BenchmarkGemmT multiplies 128 tokens with the transposed channel-mix value
// weight of a 0.1B model (3072 -> 768) and of a 1.5B model (8192 -> 2048);
// every type also read in place by the kernels rather than through a dense
// float32 block ("inplace", decodeBlocks off).
func BenchmarkGemmT(b *testing.B) {
	const n = 128
	for _, shape := range [][2]int{{3072, 768}, {8192, 2048}} {
		k, cols := shape[0], shape[1]
		w, w16, wb := benchWeights(k, cols)
		bits := map[string][]uint16{"f16": w16, "bf16": wb}
		x := randF32(rand.New(rand.NewPCG(3, 4)), n*k)
		dst := make([]float32, n*cols)
		for _, path := range []string{"asm", "generic"} {
			if path == "asm" && !hasAsm {
				continue
			}
			for _, inplace := range []bool{false, true} {
				if inplace && path != "asm" {
					continue
				}
				for _, wt := range wtypes {
					typ := wt.name
					if inplace {
						typ += "-inplace"
					}
					ws := bits[wt.name]
					b.Run(fmt.Sprintf("%s/%s/%dx%d/n=%d", path, typ, k, cols, n), func(b *testing.B) {
						useAsm, decodeBlocks = path == "asm", !inplace
						defer func() { useAsm, decodeBlocks = hasAsm, true }()
						cpu0 := cpuTime()
						for b.Loop() {
							wt.gemmT(dst, cols, x, k, n, k, w, ws, cols, cols)
						}
						b.ReportMetric(2*float64(n*k*cols)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
						reportCPU(b, cpu0, 2*float64(n*k*cols))
					})
				}
			}
		}
	}
}

// BenchmarkSparseRows multiplies one token with half or 90% of its 3072
// inputs non-zero by the transposed channel-mix value weight (3072 -> 768);
// the throughput counts the bytes of the weight rows read.
func BenchmarkSparseRows(b *testing.B) {
	const k, cols = 3072, 768
	w, w16, wb := benchWeights(k, cols)
	bits := map[string][]uint16{"f16": w16, "bf16": wb}
	rng := rand.New(rand.NewPCG(5, 6))
	dst := make([]float32, cols)
	for _, path := range []string{"asm", "generic"} {
		if path == "asm" && !hasAsm {
			continue
		}
		for _, pct := range []int{50, 90} {
			var idx []int32
			var vals []float32
			for i := range k {
				if rng.IntN(100) < pct {
					idx = append(idx, int32(i))
					vals = append(vals, float32(rng.NormFloat64()))
				}
			}
			for _, wt := range wtypes {
				ws := bits[wt.name]
				b.Run(fmt.Sprintf("%s/%s/nz=%d%%", path, wt.name, pct), func(b *testing.B) {
					useAsm = path == "asm"
					defer func() { useAsm = hasAsm }()
					es := 2
					if wt.enc == nil {
						es = 4
					}
					b.SetBytes(int64(len(idx) * cols * es))
					for b.Loop() {
						wt.sparse(dst, idx, vals, w, ws, cols)
					}
				})
			}
		}
	}
}

func TestGemmTSpecialCases(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		// k = 0 and no entries clear the output.
		dst := []float32{5, 5, 5, 5, 5}
		GemmTF32(dst, 3, nil, 0, 2, 0, nil, 0, 2)
		if want := []float32{0, 0, 5, 0, 0}; !slices.Equal(dst, want) {
			t.Fatalf("k=0: %v, want %v", dst, want)
		}
		dst = []float32{5, 5}
		SparseRowsF16(dst, nil, nil, nil, 7)
		if !slices.Equal(dst, []float32{0, 0}) {
			t.Fatalf("no entries: %v", dst)
		}
		// n = 0 or cols = 0 write nothing.
		dst = []float32{5}
		GemmTF32(dst, 1, nil, 0, 0, 3, nil, 0, 1)
		GemmTF32(dst, 1, []float32{1}, 1, 1, 1, nil, 0, 0)
		if dst[0] != 5 {
			t.Fatalf("empty product wrote %v", dst)
		}
		// Infinities and NaN propagate; a zero input times a finite weight
		// adds nothing.
		inf := float32(math.Inf(1))
		w := []float32{1, inf, 2, 3}
		out := make([]float32, 2)
		GemmTF32(out, 2, []float32{1, 0}, 2, 1, 2, w, 2, 2)
		if out[0] != 1 || !math.IsInf(float64(out[1]), 1) {
			t.Fatalf("got %v, want [1 +Inf]", out)
		}
		GemmTF32(out, 2, []float32{0, 1}, 2, 1, 2, w, 2, 2)
		if !math.IsNaN(float64(out[1])) {
			t.Fatalf("0 * Inf gave %v", out[1])
		}
		// Repeated and unsorted indices are summed in the order given.
		SparseRowsF32(out, []int32{1, 0, 1}, []float32{1, 2, 3}, []float32{1, 10, 100, 1000}, 2)
		if !slices.Equal(out, []float32{402, 4020}) {
			t.Fatalf("repeated rows: %v", out)
		}
	})
}

func TestGemmTPanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	// n=2, k=3, cols=4 with strides ldd=5, ldx=3, ldw=4.
	dst := make([]float32, 9)
	x := make([]float32, 6)
	w := make([]float32, 12)
	w16 := make([]uint16, 12)
	GemmTF32(dst, 5, x, 3, 2, 3, w, 4, 4) // fits exactly
	GemmTF16(dst, 5, x, 3, 2, 3, w16, 4, 4)
	mustPanic("short dst", func() { GemmTF32(dst[:8], 5, x, 3, 2, 3, w, 4, 4) })
	mustPanic("short x", func() { GemmTF32(dst, 5, x[:5], 3, 2, 3, w, 4, 4) })
	mustPanic("short w", func() { GemmTF32(dst, 5, x, 3, 2, 3, w[:11], 4, 4) })
	mustPanic("short w16", func() { GemmTF16(dst, 5, x, 3, 2, 3, w16[:11], 4, 4) })
	mustPanic("short wb16", func() { GemmTBF16(dst, 5, x, 3, 2, 3, w16[:11], 4, 4) })
	mustPanic("ldd < cols", func() { GemmTF32(dst, 3, x, 3, 2, 3, w, 4, 4) })
	mustPanic("negative n", func() { GemmTF32(dst, 5, x, 3, -1, 3, w, 4, 4) })
	mustPanic("negative ldw", func() { GemmTF32(dst, 5, x, 3, 2, 3, w, -4, 4) })
	mustPanic("huge ldw", func() { GemmTF32(dst, 5, x, 3, 2, 3, w, math.MaxInt/2, 4) })
	idx := []int32{0, 2}
	vals := []float32{1, 2}
	SparseRowsF32(dst[:4], idx, vals, w, 4) // row 2 ends at the end of w
	mustPanic("sparse row past end", func() { SparseRowsF32(dst[:4], idx, vals, w[:11], 4) })
	mustPanic("sparse row past end f16", func() { SparseRowsF16(dst[:4], []int32{3}, vals[:1], w16, 4) })
	mustPanic("sparse row past end bf16", func() { SparseRowsBF16(dst[:4], []int32{3}, vals[:1], w16, 4) })
	mustPanic("sparse negative index", func() { SparseRowsF32(dst[:4], []int32{-1}, vals[:1], w, 4) })
	mustPanic("sparse lengths", func() { SparseRowsF32(dst[:4], idx, vals[:1], w, 4) })
	mustPanic("sparse dst wider than w", func() { SparseRowsF32(make([]float32, 13), []int32{0}, vals[:1], w, 0) })
	mustPanic("sparse huge index", func() { SparseRowsF32(dst[:4], []int32{math.MaxInt32}, vals[:1], w, 1<<40) })
}

// maxTestSize bounds k*cols in the exhaustive tests (smaller under the race detector).
func maxTestSize() int {
	if raceEnabled {
		return 20000
	}
	return 100000
}

// TestSparseRowsAVX512MatchesAVX2 checks that the AVX-512 sparse kernels
// (F32, F16, BF16, I8) give the AVX2 kernels' bits, with repeated and unsorted rows, every count of
// rows modulo the group of four, negative zeros, infinities and NaN.
func TestSparseRowsAVX512MatchesAVX2(t *testing.T) {
	if !hasAsm || !hasAVX512 {
		t.Skip("no AVX-512")
	}
	defer func() { useAVX512 = hasAVX512 }()
	rng := rand.New(rand.NewPCG(21, 22))
	const k = 40
	for _, cols := range []int{32, 64, 70, 96, 768} {
		w := randF32(rng, k*cols)
		for i := range w {
			switch rng.IntN(50) {
			case 0:
				w[i] = 0
			case 1:
				w[i] = float32(math.Inf(1 - 2*rng.IntN(2)))
			case 2:
				w[i] = float32(math.NaN())
			}
		}
		w16 := make([]uint16, len(w))
		wb16 := make([]uint16, len(w))
		w8 := make([]int8, len(w))
		for i, v := range w {
			w16[i] = half.F32ToF16(v)
			// bfloat16: the upper half of the float32 bits (infinities
			// and NaN stay so); int8: every code, -128 included.
			wb16[i] = uint16(math.Float32bits(v) >> 16)
			w8[i] = int8(rng.IntN(256) - 128)
		}
		for nnz := 1; nnz <= 13; nnz++ {
			idx := make([]int32, nnz)
			vals := make([]float32, nnz)
			for j := range idx {
				idx[j] = int32(rng.IntN(k))
				vals[j] = float32(rng.NormFloat64())
				if rng.IntN(4) == 0 {
					vals[j] = float32(math.Copysign(0, -1))
				}
			}
			for _, typ := range []string{"f32", "f16", "bf16", "i8"} {
				var got [2][]float32
				for i, avx512 := range []bool{false, true} {
					useAVX512 = avx512
					got[i] = make([]float32, cols)
					switch typ {
					case "f32":
						SparseRowsF32(got[i], idx, vals, w, cols)
					case "f16":
						SparseRowsF16(got[i], idx, vals, w16, cols)
					case "bf16":
						SparseRowsBF16(got[i], idx, vals, wb16, cols)
					case "i8":
						SparseRowsI8(got[i], idx, vals, w8, cols)
					}
				}
				for c := range cols {
					require.Equal(t, math.Float32bits(got[0][c]), math.Float32bits(got[1][c]),
						"%s cols=%d nnz=%d column %d: AVX2 %g, AVX-512 %g", typ, cols, nnz, c, got[0][c], got[1][c])
				}
			}
		}
	}
}

// BenchmarkSparseRowsDecode times one-token sparse products of the shape of
// a 1.5B model's channel-mix value (7168 -> 2048, half of the inputs
// non-zero) on weights far larger than the caches (copies in turn), for the
// fp16, bfloat16 and int8 weights, over column ranges of the widths a decode
// step splits the product into, against the dense fp16 product of the same
// weights; the throughput counts the weight bytes read.
func BenchmarkSparseRowsDecode(b *testing.B) {
	if !hasAsm {
		b.Skip("no assembly kernels")
	}
	const k, cols, copies = 7168, 2048, 4
	rng := rand.New(rand.NewPCG(7, 8))
	ws := make([][]uint16, copies)
	w8s := make([][]int8, copies)
	for i := range ws {
		ws[i] = make([]uint16, k*cols)
		w8s[i] = make([]int8, k*cols)
		for j := range ws[i] {
			ws[i][j] = uint16(rng.Uint32()&0x83ff) | 0x2c00
			w8s[i][j] = int8(rng.Uint32())
		}
	}
	var idx []int32
	var vals []float32
	for i := range k {
		if rng.IntN(2) == 0 {
			idx = append(idx, int32(i))
			vals = append(vals, float32(rng.NormFloat64()))
		}
	}
	dst := make([]float32, cols)
	for _, typ := range []string{"f16", "bf16", "i8"} {
		size := 2
		if typ == "i8" {
			size = 1
		}
		for _, avx512 := range []bool{false, true} {
			if avx512 && !hasAVX512 {
				continue
			}
			for _, width := range []int{192, 384, 512, 1024} {
				b.Run(fmt.Sprintf("%s/avx512=%v/width=%d", typ, avx512, width), func(b *testing.B) {
					useAVX512 = avx512
					defer func() { useAVX512 = hasAVX512 }()
					b.SetBytes(int64(len(idx) * cols * size))
					i := 0
					for b.Loop() {
						w, w8 := ws[i%copies], w8s[i%copies]
						i++
						for c0 := 0; c0 < cols; c0 += width {
							cw := min(width, cols-c0)
							switch typ {
							case "f16":
								SparseRowsF16(dst[c0:c0+cw], idx, vals, w[c0:], cols)
							case "bf16":
								SparseRowsBF16(dst[c0:c0+cw], idx, vals, w[c0:], cols)
							case "i8":
								SparseRowsI8(dst[c0:c0+cw], idx, vals, w8[c0:], cols)
							}
						}
					}
				})
			}
		}
	}
	b.Run("dense", func(b *testing.B) {
		x := randF32(rng, k)
		b.SetBytes(int64(k * cols * 2))
		i := 0
		for b.Loop() {
			GemmF16(dst, 0, ws[i%copies], cols, k, x, 1)
			i++
		}
	})
}
