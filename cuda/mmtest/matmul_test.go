package mmtest

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"os"
	"testing"

	"github.com/rwkvgo/rwkvgo/internal/blockfmt"
	"github.com/rwkvgo/rwkvgo/internal/half"
)

// sentinel marks output entries the kernels must not write.
const sentinel = float32(-7777.5)

// tolRel is the test tolerance relative to sum_i |x_i W_i|. The fp32 paths
// sum at most k <= 300 terms in sequence: the worst-case bound k*2^-24
// (1.8e-5) is pessimistic, rounding errors of random-sign data grow like
// sqrt(k)*2^-24 (1e-6 at k = 300), so 1e-5 leaves a margin of 10 on those
// and of 40 on the representation error 2^-22 of the F16 tensor-core split
// (the BF16 split is exact). A missing term, a wrong index or a stale
// buffer gives errors of order 1.
const tolRel = 1e-5

func esize(dtype int) int {
	switch dtype {
	case dtF32:
		return 4
	case dtI8, dtF8:
		return 1
	}
	return 2
}

var dtypeNames = []string{"f32", "f16", "bf16", "i8", "f8e4m3"}

// layout variants of a problem: 0 aligned, 1 odd ldx, 2 x base off by one
// float, 3 weight base off by one element.
const numLayouts = 4

// genOpts tunes the data of a problem.
type genOpts struct {
	zeroFrac float64 // fraction of x entries set to zero
	// nanZeroRows (trans only): rows of WT whose x entries are zero for all
	// tokens are filled with NaN, so that reading them shows.
	nanZeroRows bool
}

// newProblem draws a random problem; wv receives the exact weight values
// ([o, k] or [k, o] as stored, scales applied).
func newProblem(rng *rand.Rand, trans bool, dtype, n, o, k, layout int, g genOpts) (*problem, []float64) {
	p := &problem{trans: trans, dtype: dtype, n: n, o: o, k: k}
	p.ldx = (k + 3) / 4 * 4
	p.ldo = o + 2
	switch layout {
	case 1:
		p.ldx = k + 1
		if p.ldx%4 == 0 {
			p.ldx++
		}
	case 2:
		p.xoff = 1
	case 3:
		p.woff = esize(dtype)
	}
	p.x = make([]float32, n*p.ldx)
	mags := []float64{1, 1e-3, 1e4}
	for t := 0; t < n; t++ {
		for i := 0; i < p.ldx; i++ {
			v := rng.NormFloat64() * mags[t%3]
			if i >= k {
				v = math.NaN() // padding: must not be read
			} else if rng.Float64() < g.zeroFrac {
				v = 0
			}
			p.x[t*p.ldx+i] = float32(v)
		}
	}
	rows, cols := o, k // stored shape
	if trans {
		rows, cols = k, o
	}
	es := esize(dtype)
	p.w = make([]byte, rows*cols*es)
	wv := make([]float64, rows*cols)
	if dtype == dtI8 || dtype == dtF8 {
		p.scale = make([]float32, rows)
		for r := range p.scale {
			p.scale[r] = float32(0.001 + 0.02*rng.Float64())
		}
	}
	zeroRow := func(i int) bool {
		for t := 0; t < n; t++ {
			if p.x[t*p.ldx+i] != 0 {
				return false
			}
		}
		return true
	}
	for r := 0; r < rows; r++ {
		nanRow := g.nanZeroRows && trans && zeroRow(r)
		for c := 0; c < cols; c++ {
			j := r*cols + c
			f := float32(rng.NormFloat64())
			if nanRow {
				f = float32(math.NaN())
			}
			switch dtype {
			case dtF32:
				binary.LittleEndian.PutUint32(p.w[4*j:], math.Float32bits(f))
				wv[j] = float64(f)
			case dtF16:
				h := half.F32ToF16(f)
				binary.LittleEndian.PutUint16(p.w[2*j:], h)
				wv[j] = float64(half.F16ToF32(h))
			case dtBF16:
				h := half.F32ToBF16(f)
				binary.LittleEndian.PutUint16(p.w[2*j:], h)
				wv[j] = float64(half.BF16ToF32(h))
			case dtI8:
				q := int8(rng.Intn(255) - 127)
				if nanRow {
					q = 127 // int8 has no NaN: the row's scale is NaN instead
					p.scale[r] = float32(math.NaN())
				}
				p.w[j] = byte(q)
				wv[j] = float64(q) * float64(p.scale[r])
			case dtF8:
				q := byte(rng.Intn(254)) // any finite code (0x7f and 0xff are NaN)
				if q >= 0x7f {
					q++
				}
				if nanRow {
					q = 0x7f // the NaN code
				}
				p.w[j] = q
				wv[j] = float64(blockfmt.DecodeE4M3(q)) * float64(p.scale[r])
			}
		}
	}
	return p, wv
}

// reference returns out and sum|terms| in float64; terms with a zero x
// entry are left out (as the contract of matmul_t says).
func reference(p *problem, wv []float64) (ref, bound []float64) {
	ref = make([]float64, p.n*p.o)
	bound = make([]float64, p.n*p.o)
	for t := 0; t < p.n; t++ {
		for c := 0; c < p.o; c++ {
			s, b := 0.0, 0.0
			for i := 0; i < p.k; i++ {
				xv := float64(p.x[t*p.ldx+i])
				if xv == 0 {
					continue
				}
				var w float64
				if p.trans {
					w = wv[i*p.o+c]
				} else {
					w = wv[c*p.k+i]
				}
				s += xv * w
				b += math.Abs(xv * w)
			}
			ref[t*p.o+c], bound[t*p.o+c] = s, b
		}
	}
	return ref, bound
}

func (p *problem) String() string {
	f := "matmul"
	if p.trans {
		f = "matmul_t"
	}
	return fmt.Sprintf("%s %s n=%d o=%d k=%d ldx=%d ldo=%d xoff=%d woff=%d", f, dtypeNames[p.dtype], p.n, p.o, p.k,
		p.ldx, p.ldo, p.xoff, p.woff)
}

func newOut(p *problem) []float32 {
	out := make([]float32, p.n*p.ldo)
	for i := range out {
		out[i] = sentinel
	}
	return out
}

// check compares got with the reference; it returns the worst error
// relative to the tolerance.
func check(t *testing.T, p *problem, what string, got []float32, ref, bound []float64) float64 {
	t.Helper()
	worst := 0.0
	for tok := 0; tok < p.n; tok++ {
		for c := 0; c < p.ldo; c++ {
			g := got[tok*p.ldo+c]
			if c >= p.o {
				if g != sentinel {
					t.Fatalf("%v %s: out[%d][%d] = %g written (beyond o)", p, what, tok, c, g)
				}
				continue
			}
			r, b := ref[tok*p.o+c], bound[tok*p.o+c]
			tol := tolRel*b + 1e-37
			e := math.Abs(float64(g) - r)
			if !(e <= tol) {
				t.Fatalf("%v %s: out[%d][%d] = %.9g, want %.9g (error %.3g, tolerance %.3g)", p, what, tok, c, g, r,
					e, tol)
			}
			if e/tol > worst {
				worst = e / tol
			}
		}
	}
	return worst
}

// shapes: (o, k) pairs around the tile sizes, odd and aligned ones; k % 8
// == 0 (plain) or o % 8 == 0 (transposed) reach the tensor-core kernel.
var shapes = [][2]int{{1, 1}, {7, 300}, {15, 129}, {16, 64}, {17, 65}, {31, 17}, {64, 16}, {65, 15}, {129, 7},
	{300, 31}, {300, 64}, {64, 300}, {129, 136}}

var tokenCounts = []int{1, 2, 3, 7, 16, 17, 64, 130}

// TestMatmul runs both products with the launch heuristics for every weight
// type over tokenCounts x shapes, cycling through the layouts.
func TestMatmul(t *testing.T) {
	for _, trans := range []bool{false, true} {
		for dt := dtF32; dt <= dtF8; dt++ {
			name := fmt.Sprintf("%s/trans=%v", dtypeNames[dt], trans)
			t.Run(name, func(t *testing.T) {
				rng := rand.New(rand.NewSource(int64(10*dt + 1)))
				worst := 0.0
				seen := map[int]bool{}
				c := 0
				for _, n := range tokenCounts {
					for _, sh := range shapes {
						zf := 0.1
						if trans {
							zf = 0.7
						}
						p, wv := newProblem(rng, trans, dt, n, sh[0], sh[1], c%numLayouts, genOpts{zeroFrac: zf})
						c++
						got, v, err := p.run(famAuto, newOut(p))
						if err != nil {
							t.Fatalf("%v: %v", p, err)
						}
						seen[v] = true
						ref, bound := reference(p, wv)
						if w := check(t, p, variantNames[v], got, ref, bound); w > worst {
							worst = w
						}
					}
				}
				var names []string
				for v := range seen {
					names = append(names, variantNames[v])
				}
				t.Logf("%d problems, variants %v, worst error %.3f of the tolerance", c, names, worst)
			})
		}
	}
}

// variantCase is a problem that must run a given kernel variant.
type variantCase struct {
	family, dtype int
	trans         bool
	n, o, k       int
	layout        int
	want          int
}

// variantCases reach every kernel variant, with the heuristics (famAuto)
// and with forced families at sizes outside their usual range.
var variantCases = []variantCase{
	{famAuto, dtF16, false, 3, 65, 64, 0, varGEMVVec},
	{famAuto, dtI8, false, 8, 17, 64, 2, varGEMVVecXS},
	{famAuto, dtBF16, false, 1, 31, 65, 0, varGEMVScalar},
	{famAuto, dtF32, false, 17, 129, 65, 1, varSIMT},
	{famAuto, dtI8, true, 16, 65, 31, 0, varSIMTT},
	{famAuto, dtF16, false, 64, 129, 136, 1, varTCF16},
	{famAuto, dtBF16, false, 17, 65, 64, 0, varTCBF16},
	{famAuto, dtF16, true, 65, 136, 33, 2, varTCTF16},
	{famAuto, dtBF16, true, 9, 64, 129, 0, varTCTBF16},
	{famAuto, dtF32, true, 2, 66, 130, 0, varSparseTVec},
	{famAuto, dtF16, true, 5, 33, 70, 0, varSparseTScalar},
	{famAuto, dtF16, false, 17, 64, 65, 0, varSIMT},  // TC falls back: k % 8 != 0
	{famAuto, dtBF16, true, 17, 63, 64, 0, varSIMTT}, // TC falls back: o % 8 != 0
	{famAuto, dtF16, false, 17, 64, 64, 3, varSIMT},  // TC falls back: misaligned weight
	// forced families
	{famGEMV, dtF32, false, 130, 17, 36, 0, varGEMVVec},
	{famGEMV, dtI8, false, 17, 9, 48, 1, varGEMVVecXS},
	{famSparseT, dtI8, true, 130, 68, 40, 0, varSparseTVec},
	{famAuto, dtF8, false, 4, 33, 64, 0, varGEMVVec},
	{famAuto, dtF8, false, 2, 9, 33, 0, varGEMVScalar},
	{famAuto, dtF8, true, 3, 68, 40, 0, varSparseTVec},
	{famAuto, dtF8, true, 1, 67, 40, 0, varSparseTScalar},
	{famAuto, dtF8, false, 17, 65, 64, 1, varSIMT},
	{famAuto, dtF8, true, 17, 65, 31, 0, varSIMTT},
	{famSparseT, dtBF16, true, 17, 7, 33, 0, varSparseTScalar},
	{famTC, dtF16, false, 1, 17, 16, 0, varTCF16},
	{famTC, dtBF16, false, 3, 7, 40, 2, varTCBF16},
	{famTC, dtF16, true, 7, 8, 300, 1, varTCTF16},
	{famTC, dtBF16, true, 2, 16, 1, 0, varTCTBF16},
	{famSIMT, dtF16, false, 1, 300, 64, 0, varSIMT},
	{famSIMT, dtF32, true, 3, 15, 129, 2, varSIMTT},
}

// TestVariants checks that each case runs the variant it is meant to (so
// every kernel variant is exercised) and is correct.
func TestVariants(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	covered := map[int]bool{}
	for _, vc := range variantCases {
		zf := 0.2
		if vc.trans {
			zf = 0.6
		}
		p, wv := newProblem(rng, vc.trans, vc.dtype, vc.n, vc.o, vc.k, vc.layout, genOpts{zeroFrac: zf})
		got, v, err := p.run(vc.family, newOut(p))
		if err != nil {
			t.Fatalf("%v family %d: %v", p, vc.family, err)
		}
		if v != vc.want {
			t.Errorf("%v family %d ran %s, want %s", p, vc.family, variantNames[v], variantNames[vc.want])
		}
		covered[v] = true
		ref, bound := reference(p, wv)
		check(t, p, variantNames[v], got, ref, bound)
	}
	for v := 1; v < varCount; v++ {
		if !covered[v] {
			t.Errorf("variant %s not exercised", variantNames[v])
		}
	}
}

// TestSchedules reruns the variant cases under other emulator schedules:
// a kernel with a missing barrier or a race gives different results; the
// kernels are deterministic, so the results must be identical bit for bit.
func TestSchedules(t *testing.T) {
	defer restoreSchedule(t)
	rng := rand.New(rand.NewSource(8))
	type run struct {
		p   *problem
		fam int
		out []float32
	}
	var runs []run
	if err := setSchedule("forward"); err != nil {
		t.Fatal(err)
	}
	for _, vc := range variantCases {
		p, _ := newProblem(rng, vc.trans, vc.dtype, vc.n, vc.o, vc.k, vc.layout, genOpts{zeroFrac: 0.5})
		got, _, err := p.run(vc.family, newOut(p))
		if err != nil {
			t.Fatalf("%v: %v", p, err)
		}
		runs = append(runs, run{p, vc.family, got})
	}
	for _, spec := range []string{"reverse", "random:1", "random:2"} {
		if err := setSchedule(spec); err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			got, v, err := r.p.run(r.fam, newOut(r.p))
			if err != nil {
				t.Fatalf("%s: %v: %v", spec, r.p, err)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(r.out[i]) {
					t.Fatalf("%s: %v (%s): out[%d] = %g, forward gave %g", spec, r.p, variantNames[v], i, got[i],
						r.out[i])
				}
			}
		}
	}
}

// restoreSchedule puts back the schedule given by CUEMU_SCHEDULE.
func restoreSchedule(t *testing.T) {
	spec := os.Getenv("CUEMU_SCHEDULE")
	if spec == "" {
		spec = "forward"
	}
	if err := setSchedule(spec); err != nil {
		t.Fatalf("restoring schedule %q: %v", spec, err)
	}
}

// TestSparseSkipsZeroRows fills the rows of WT whose x entries are zero for
// every token with NaN: the decode kernel must not read them (0 * NaN is
// NaN), at every token count it serves.
func TestSparseSkipsZeroRows(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	for dt := dtF32; dt <= dtF8; dt++ {
		for _, n := range []int{1, 2, 3, 8} {
			for li, sh := range [][2]int{{65, 300}, {300, 129}, {7, 64}} {
				p, wv := newProblem(rng, true, dt, n, sh[0], sh[1], li%numLayouts,
					genOpts{zeroFrac: 0.85, nanZeroRows: true})
				got, v, err := p.run(famAuto, newOut(p))
				if err != nil {
					t.Fatalf("%v: %v", p, err)
				}
				if v != varSparseTVec && v != varSparseTScalar {
					t.Fatalf("%v ran %s", p, variantNames[v])
				}
				ref, bound := reference(p, wv)
				check(t, p, variantNames[v], got, ref, bound)
			}
		}
	}
}

// TestSplitBound checks the representation error of the tensor-core
// kernel's split of x exactly: with one-hot weight rows (a single power of
// two per output) every sum has one term, so the accumulation is exact and
// the error is that of the split alone: at most 2^-22 |x| + 2^-39 max|x_t|
// (times |w|) for F16, zero for BF16. The x values span 2^-40..2^40 within
// each token, beyond the fp16 range.
func TestSplitBound(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	const n, o, k = 70, 136, 136
	for _, dt := range []int{dtF16, dtBF16} {
		for _, trans := range []bool{false, true} {
			p, _ := newProblem(rng, trans, dt, n, o, k, 0, genOpts{})
			maxAbs := make([]float64, n)
			for tok := 0; tok < n; tok++ {
				for i := 0; i < k; i++ {
					m := rng.Float64() + 0.5
					e := rng.Intn(81) - 40
					if tok%2 == 1 {
						e = rng.Intn(11) - 5 // a narrow range: finer f16 scaling
					}
					v := float32(math.Ldexp(m, e))
					if rng.Intn(2) == 0 {
						v = -v
					}
					p.x[tok*p.ldx+i] = v
					maxAbs[tok] = math.Max(maxAbs[tok], math.Abs(float64(v)))
				}
			}
			// W(c, i) = 2^((c%5)-2) * (+-1) for i = (7c) % k, else 0
			wval := func(c int) float32 { return float32(math.Ldexp(1, c%5-2)) * float32(1-2*(c%2)) }
			for j := range p.w {
				p.w[j] = 0
			}
			for c := 0; c < o; c++ {
				i := (7 * c) % k
				j := c*k + i
				if trans {
					j = i*o + c
				}
				var h uint16
				if dt == dtF16 {
					h = half.F32ToF16(wval(c))
				} else {
					h = half.F32ToBF16(wval(c))
				}
				binary.LittleEndian.PutUint16(p.w[2*j:], h)
			}
			got, v, err := p.run(famTC, newOut(p))
			if err != nil {
				t.Fatalf("%v: %v", p, err)
			}
			if v < varTCF16 || v > varTCTBF16 {
				t.Fatalf("%v ran %s", p, variantNames[v])
			}
			worst := 0.0
			for tok := 0; tok < n; tok++ {
				for c := 0; c < o; c++ {
					xv := float64(p.x[tok*p.ldx+(7*c)%k])
					w := math.Abs(float64(wval(c)))
					want := xv * float64(wval(c))
					bnd := 0.0
					if dt == dtF16 {
						bnd = (math.Ldexp(math.Abs(xv), -22) + math.Ldexp(maxAbs[tok], -39)) * w
					}
					e := math.Abs(float64(got[tok*p.ldo+c]) - want)
					if e > bnd {
						t.Fatalf("%v: out[%d][%d] = %.9g, want %.9g: error %.3g > bound %.3g", p, tok, c,
							got[tok*p.ldo+c], want, e, bnd)
					}
					if bnd > 0 && e/bnd > worst {
						worst = e / bnd
					}
				}
			}
			t.Logf("%v: worst error %.3f of the bound", p, worst)
		}
	}
}

// TestInvalidArguments checks the argument validation (NULL pointers, bad
// dtypes, strides and sizes give cudaErrorInvalidValue and launch nothing),
// the no-op sizes, and that k == 0 writes zeros with every kernel family.
func TestInvalidArguments(t *testing.T) {
	if c := invalidChecks(); c != 0 {
		t.Fatalf("check %d of harness.cu mm_invalid_checks failed", c)
	}
}

// TestGroupEqualsGEMV: each product of a grouped launch
// (rwkvcu_launch_matmul_group, here two products of one weight, so the
// second's blocks start past the first's) gives bit for bit what the GEMV
// kernel gives for the same weight type and load form, for every weight
// type (I8 and F8E4M3 included, which only the C ABI takes), aligned and misaligned
// weights, token counts below and above a block's 8 tokens (above 8 the
// wide group kernel, up to 64 tokens per block, and two chunks of 64 at
// 65), and odd shapes; under every emulator schedule, so the wide kernel's
// sums are also the same bits run to run.
func TestGroupEqualsGEMV(t *testing.T) {
	defer restoreSchedule(t)
	for _, spec := range []string{"forward", "reverse", "random:3"} {
		if err := setSchedule(spec); err != nil {
			t.Fatal(err)
		}
		groupEqualsGEMV(t, spec)
	}
}

func groupEqualsGEMV(t *testing.T, spec string) {
	rng := rand.New(rand.NewSource(31))
	for dt := dtF32; dt <= dtF8; dt++ {
		for _, n := range []int{1, 2, 3, 5, 8, 9, 17, 33, 64, 65} {
			for c, sh := range [][2]int{{1, 1}, {7, 300}, {17, 64}, {65, 16}, {129, 33}, {4, 128}} {
				layout := 0
				if c%2 == 1 {
					layout = 3 // misaligned weight: the scalar form
				}
				p, _ := newProblem(rng, false, dt, n, sh[0], sh[1], layout, genOpts{zeroFrac: 0.1})
				// contiguous x and out, as the group takes them
				x := make([]float32, n*p.k)
				for tk := 0; tk < n; tk++ {
					copy(x[tk*p.k:], p.x[tk*p.ldx:tk*p.ldx+p.k])
				}
				p.x, p.ldx, p.ldo = x, p.k, p.o
				want, _, err := p.run(famGEMV, make([]float32, n*p.o))
				if err != nil {
					t.Fatalf("%v: GEMV: %v", p, err)
				}
				g0, g1, err := p.runGroup()
				if err != nil {
					t.Fatalf("%v: group: %v", p, err)
				}
				for i := range want {
					if math.Float32bits(g0[i]) != math.Float32bits(want[i]) || math.Float32bits(g1[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s: %s n=%d o=%d k=%d woff=%d: output %d: group %g and %g, GEMV %g", spec, dtypeNames[dt], n, p.o, p.k,
							p.woff, i, g0[i], g1[i], want[i])
					}
				}
			}
		}
	}
}

// TestGEMVSummationOrder checks that the GEMV sums do not depend on how the
// work is laid out or scheduled: each thread sums its terms in k order
// however many loads it has in flight, and each row's sum is its own, so
// the 2-row blocks the launcher takes for few outputs (o = 1052: 263 blocks
// of 4 rows would be too few) give the bits of the 4-row blocks (o = 1056)
// on the same rows; and every result is the same bit for bit on repeated
// runs and under every emulator schedule. Long rows (several iterations of
// kGemvLoads loads per thread plus a partial one) are checked against the
// float64 reference with the tolerance of the other tests (tolRel: k/(128 V)
// + 8 terms per sum here, far below the tolerance's margin).
func TestGEMVSummationOrder(t *testing.T) {
	defer restoreSchedule(t)
	rng := rand.New(rand.NewSource(41))
	type result struct {
		p   *problem
		out []float32
	}
	var runs []result
	run := func(p *problem) []float32 {
		t.Helper()
		got, v, err := p.run(famGEMV, newOut(p))
		if err != nil {
			t.Fatalf("%v: %v", p, err)
		}
		if v != varGEMVVec {
			t.Fatalf("%v ran %s, want %s", p, variantNames[v], variantNames[varGEMVVec])
		}
		return got
	}
	if err := setSchedule("forward"); err != nil {
		t.Fatal(err)
	}
	for dt := dtF32; dt <= dtBF16; dt++ {
		// 4-row blocks for 1056 outputs, 2-row blocks for its first 1052 rows
		p4, _ := newProblem(rng, false, dt, 3, 1056, 64, 0, genOpts{zeroFrac: 0.1})
		p2 := *p4
		p2.o = 1052
		p2.w = p4.w[:p2.o*p2.k*esize(dt)]
		out4, out2 := run(p4), run(&p2)
		for tok := 0; tok < p4.n; tok++ {
			for r := 0; r < p2.o; r++ {
				i := tok*p4.ldo + r
				if math.Float32bits(out4[i]) != math.Float32bits(out2[i]) {
					t.Fatalf("%s: out[%d][%d]: 4-row blocks %g, 2-row blocks %g", dtypeNames[dt], tok, r, out4[i], out2[i])
				}
			}
		}
		runs = append(runs, result{p4, out4}, result{&p2, out2})
	}
	for dt := dtF32; dt <= dtF8; dt++ {
		// V elements per 16-byte load, U loads per row in flight: rows of two
		// full iterations of the unrolled loop and 37 more loads.
		v, u := 16/esize(dt), 2 // I8/F8E4M3: 4 loads over 2 rows
		k := 2*128*u*v + 37*v
		for _, n := range []int{1, 5} {
			p, wv := newProblem(rng, false, dt, n, 5, k, 0, genOpts{zeroFrac: 0.1})
			got := run(p)
			ref, bound := reference(p, wv)
			check(t, p, "gemv", got, ref, bound)
			runs = append(runs, result{p, got})
		}
	}
	for _, spec := range []string{"forward", "reverse", "random:3"} {
		if err := setSchedule(spec); err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			got := run(r.p)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(r.out[i]) {
					t.Fatalf("%s: %v: out[%d] = %g, the first forward run gave %g", spec, r.p, i, got[i], r.out[i])
				}
			}
		}
	}
}

// TestSparseSplit runs decode-sized transposed products whose rows of WT are
// split over several blocks per column strip (the context's scratch holds
// the partial sums; the strip's last block adds them in split order): each
// result agrees with the float64 reference (tolRel: a sum is at most
// k/(16 S) + 16 + S rounded additions, S splits, about 100 here, and the
// 85% zero entries leave fewer), no row of WT whose x entries are all zero
// is read (those rows are NaN), the tickets are back at zero after every
// launch (the harness checks), and the results are the same bit for bit on
// a second run and under other emulator schedules (the splits' order of
// completion changes, their order of summation does not).
func TestSparseSplit(t *testing.T) {
	defer restoreSchedule(t)
	if err := setSchedule("forward"); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(43))
	type result struct {
		p   *problem
		out []float32
	}
	var runs []result
	c := 0
	for dt := dtF32; dt <= dtF8; dt++ {
		for _, n := range []int{1, 3, 8} {
			// 50 groups of 32 rows: 3 splits of 17, 17 and 16 groups
			p, wv := newProblem(rng, true, dt, n, 100, 16*32*3+45, c%numLayouts, genOpts{zeroFrac: 0.85, nanZeroRows: true})
			c++
			got, v, splits, err := p.runSplits(famAuto, newOut(p))
			if err != nil {
				t.Fatalf("%v: %v", p, err)
			}
			if (v != varSparseTVec && v != varSparseTScalar) || splits != 3 {
				t.Fatalf("%v ran %s in %d splits, want a sparse variant in 3", p, variantNames[v], splits)
			}
			ref, bound := reference(p, wv)
			check(t, p, variantNames[v], got, ref, bound)
			runs = append(runs, result{p, got})
		}
	}
	for _, spec := range []string{"forward", "reverse", "random:5"} {
		if err := setSchedule(spec); err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			got, _, err := r.p.run(famAuto, newOut(r.p))
			if err != nil {
				t.Fatalf("%s: %v: %v", spec, r.p, err)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(r.out[i]) {
					t.Fatalf("%s: %v: out[%d] = %g, the first forward run gave %g", spec, r.p, i, got[i], r.out[i])
				}
			}
		}
	}
}

// TestSplitK runs decode batches above the GEMV's 8 tokens on few output
// tiles, so that the tiled kernels split k (SIMT: F32, I8, F8E4M3; TC: F16,
// BF16; plain and transposed): each result agrees with the float64
// reference (tolRel: each split sums at most 160 terms in sequence, then
// at most 7 partial sums are added), the tickets are back at zero after
// every launch (the harness checks), and the results are the same bit for
// bit on a second run and under other emulator schedules.
func TestSplitK(t *testing.T) {
	defer restoreSchedule(t)
	if err := setSchedule("forward"); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(47))
	type result struct {
		p   *problem
		out []float32
	}
	var runs []result
	c := 0
	for _, trans := range []bool{false, true} {
		for dt := dtF32; dt <= dtF8; dt++ {
			for _, n := range []int{9, 33} {
				// 2 tiles of 128 outputs; k = 520: 7 splits of 5 SIMT steps
				// (80 k), 4 of 5 TC steps (160 k), each with a shorter last one
				p, wv := newProblem(rng, trans, dt, n, 136, 520, c%2, genOpts{zeroFrac: 0.1})
				c++
				got, v, splits, err := p.runSplits(famAuto, newOut(p))
				if err != nil {
					t.Fatalf("%v: %v", p, err)
				}
				want := 7
				if v >= varTCF16 && v <= varTCTBF16 {
					want = 4
				}
				if splits != want {
					t.Fatalf("%v ran %s in %d splits, want %d", p, variantNames[v], splits, want)
				}
				ref, bound := reference(p, wv)
				check(t, p, variantNames[v], got, ref, bound)
				runs = append(runs, result{p, got})
			}
		}
	}
	for _, spec := range []string{"forward", "reverse", "random:6"} {
		if err := setSchedule(spec); err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			got, _, err := r.p.run(famAuto, newOut(r.p))
			if err != nil {
				t.Fatalf("%s: %v: %v", spec, r.p, err)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(r.out[i]) {
					t.Fatalf("%s: %v: out[%d] = %g, the first forward run gave %g", spec, r.p, i, got[i], r.out[i])
				}
			}
		}
	}
}
