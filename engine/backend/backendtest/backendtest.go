// Package backendtest is the conformance suite every backend.Backend must
// pass: each operation is checked against an independent float64 reference on
// odd sizes, sizes below and above typical block sizes, ragged batches with
// several sequences, one and many tokens per sequence, and every weight dtype.
// Backends run it from their own tests:
//
//	func TestConformance(t *testing.T) { backendtest.Run(t, func() backend.Backend { return cpu.New(2) }) }
package backendtest

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/internal/half"
)

// Run runs every conformance test against backends made by newBackend (one
// per subtest; each is closed at the end of its subtest).
func Run(t *testing.T, newBackend func() backend.Backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, backend.Backend)
	}{
		{"Memory", testMemory},
		{"Embed", testEmbed},
		{"LayerNorm", testLayerNorm},
		{"GroupNorm", testGroupNorm},
		{"MatMul", testMatMul},
		{"MatMulT", testMatMulT},
		{"MatMulQuant", testMatMulQuant},
		{"EmbedQuant", testEmbedQuant},
		{"QuantDecode", testQuantDecode},
		{"QuantErrors", testQuantErrors},
		{"MatMulScaled", testMatMulScaled},
		{"MatMulTScaled", testMatMulTScaled},
		{"EmbedScaled", testEmbedScaled},
		{"ScaledErrors", testScaledErrors},
		{"F8E4M3Codes", testF8E4M3Codes},
		{"Borrow", testBorrow},
		{"Map", testMap},
		{"Zip", testZip},
		{"SliceGather", testSliceGather},
		{"CopyRows", testCopyRows},
		{"Shift", testShift},
		{"Mix", testMix},
		{"MixN", testMixN},
		{"MixNErrors", testMixNErrors},
		{"WKV4", testWKV4},
		{"WKV5", testWKV5},
		{"WKV7", testWKV7},
		{"KeyV7", testKeyV7},
		{"ValueV7", testValueV7},
		{"BonusV7", testBonusV7},
		{"AttnDecodeV7", fusedV7(testAttnDecodeV7)},
		{"AttnDecodeV7Errors", fusedV7(testAttnDecodeV7Errors)},
		{"AttnDecodeV5", fusedV5(testAttnDecodeV5)},
		{"AttnDecodeV5Errors", fusedV5(testAttnDecodeV5Errors)},
		{"AttnDecodeV6", fusedV6(testAttnDecodeV6)},
		{"AttnDecodeV6Errors", fusedV6(testAttnDecodeV6Errors)},
		{"ZipMap", fusedElementwise(testZipMap)},
		{"AddNormShiftMix", fusedNorm(testAddNormShiftMix)},
		{"AddNormShiftMixErrors", fusedNorm(testAddNormShiftMixErrors)},
		{"AddNormShiftMixLoRA", fusedNormLoRA(testAddNormShiftMixLoRA)},
		{"AddNormShiftMixLoRAErrors", fusedNormLoRA(testAddNormShiftMixLoRAErrors)},
		{"MatMulGroup", fusedProducts(testMatMulGroup)},
		{"MatMulGroupErrors", fusedProducts(testMatMulGroupErrors)},
		{"Attention", attender(testAttention)},
		{"AttentionPrefillEqualsDecode", attender(testAttentionPrefillEqualsDecode)},
		{"AttentionErrors", attender(testAttentionErrors)},
		{"StepRequired", testStepRequired},
		{"Errors", testErrors},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be := newBackend()
			defer be.Close()
			tc.fn(t, be)
			if err := be.Err(); err != nil {
				t.Fatalf("backend error: %v", err)
			}
		})
	}
}

// attender runs a test of the optional Attention operation on backends that
// implement backend.Attender and skips it on the others.
func attender(fn func(*testing.T, backend.Attender, backend.Backend)) func(*testing.T, backend.Backend) {
	return func(t *testing.T, be backend.Backend) {
		a, ok := be.(backend.Attender)
		if !ok {
			t.Skipf("%s does not implement backend.Attender", be.Name())
		}
		fn(t, a, be)
	}
}

// testStepRequired: the operations that read the step's batch report an
// error, and touch nothing, when no step was begun.
func testStepRequired(t *testing.T, be backend.Backend) {
	x := be.UploadF32(2, 4, []float32{1, 2, 3, 4, 5, 6, 7, 8})
	prev := be.New(2, 4)
	st := be.UploadF32(1, 8, []float32{9, 9, 9, 9, 9, 9, 9, 9})
	be.Shift(prev, x, st, 0)
	if err := be.Err(); err == nil {
		t.Fatal("Shift without BeginStep: no error reported")
	}
	got := make([]float32, 8)
	be.Read(st, 0, got)
	for i, v := range got {
		if v != 9 {
			t.Fatalf("Shift without BeginStep changed the state: [%d] = %g", i, v)
		}
	}
	be.BeginStep(makeBatch([]int{2}, []int{0}))
	be.Shift(prev, x, st, 0)
	if err := be.Err(); err != nil {
		t.Fatalf("Shift after BeginStep: %v", err)
	}
	be.Read(st, 0, got)
	if got[0] != 5 || got[3] != 8 || got[4] != 9 {
		t.Fatalf("Shift after BeginStep: state row %v, want the last row 5..8 then 9s", got)
	}
	be.Free(x)
	be.Free(prev)
	be.Free(st)
}

// Tolerances. Operations that reduce over k terms in float32 are compared with
// |got - want| <= tol * (sum of |terms| + 1); elementwise float32 operations
// with tol relative. 1e-5 covers float32 accumulation (2^-24 per step) over
// the sizes used here with a wide margin, and fails on any wrong index, order
// of operands or formula.
const (
	tolReduce = 2e-5
	tolElem   = 2e-6
)

type rng struct{ *rand.Rand }

func newRNG(seed uint64) rng { return rng{rand.New(rand.NewPCG(seed, 99))} }

func (r rng) vec(n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return v
}

func (r rng) normal(n int, sd float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * sd)
	}
	return v
}

// batches used by the recurrent ops: (tokens per sequence, state slots).
var batches = []struct {
	lens, slots []int
}{
	{[]int{1}, []int{0}},
	{[]int{5}, []int{1}},
	{[]int{1, 1, 1}, []int{2, 0, 1}},
	{[]int{3, 1, 7}, []int{1, 3, 0}},
}

func makeBatch(lens, slots []int) backend.Batch {
	b := backend.Batch{Offsets: []int{0}, Slots: append([]int(nil), slots...)}
	for _, l := range lens {
		b.Offsets = append(b.Offsets, b.Offsets[len(b.Offsets)-1]+l)
	}
	return b
}

func read(be backend.Backend, t backend.Tensor) []float32 {
	v := make([]float32, t.Rows()*t.Cols())
	be.Read(t, 0, v)
	return v
}

func check(t *testing.T, what string, got []float32, want []float64, scale []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		s := 1.0
		if scale != nil {
			s += scale[i]
		} else {
			s += math.Abs(want[i])
		}
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*s) {
			t.Fatalf("%s: element %d = %g, want %g (|diff| %g > %g)", what, i, got[i], want[i], d, tol*s)
		}
	}
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// encode converts values to a dtype's bytes and returns the exactly
// representable values the backend will see.
func encode(dt backend.DType, v []float32) ([]byte, []float32) {
	out := make([]byte, len(v)*dt.Size())
	exact := make([]float32, len(v))
	for i, x := range v {
		switch dt {
		case backend.F32:
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
			exact[i] = x
		case backend.F16:
			h := half.F32ToF16(x)
			binary.LittleEndian.PutUint16(out[2*i:], h)
			exact[i] = half.F16ToF32(h)
		case backend.BF16:
			h := half.F32ToBF16(x)
			binary.LittleEndian.PutUint16(out[2*i:], h)
			exact[i] = half.BF16ToF32(h)
		}
	}
	return out, exact
}

var dtypes = []backend.DType{backend.F32, backend.F16, backend.BF16}

func testMemory(t *testing.T, be backend.Backend) {
	r := newRNG(1)
	v := r.vec(6*7, -1, 1)
	x := be.UploadF32(6, 7, v)
	if x.Rows() != 6 || x.Cols() != 7 || x.DType() != backend.F32 {
		t.Fatalf("shape %dx%d %s", x.Rows(), x.Cols(), x.DType())
	}
	check(t, "UploadF32/Read", read(be, x), f64(v), nil, 0)
	row := make([]float32, 7)
	be.Read(x, 4, row)
	check(t, "Read row 4", row, f64(v[28:35]), nil, 0)
	be.Write(x, 2, v[:14])
	got := read(be, x)
	check(t, "Write rows 2-3", got[14:28], f64(v[:14]), nil, 0)
	vw := be.View(x, 3)
	if vw.Rows() != 3 || vw.Cols() != 7 {
		t.Fatalf("view shape %dx%d", vw.Rows(), vw.Cols())
	}
	check(t, "View", read(be, vw), f64(got[:21]), nil, 0)
	z := be.New(3, 5)
	check(t, "New is zero", read(be, z), make([]float64, 15), nil, 0)
	be.Free(z)
	be.Free(x)
}

func testEmbed(t *testing.T, be backend.Backend) {
	r := newRNG(2)
	for _, dt := range dtypes {
		const V, C = 37, 19
		data, exact := encode(dt, r.vec(V*C, -2, 2))
		emb := be.Upload(dt, V, C, data)
		tokens := []int32{0, 36, 5, 5, 17}
		out := be.New(len(tokens), C)
		be.Embed(out, emb, tokens)
		var want []float64
		for _, tok := range tokens {
			want = append(want, f64(exact[int(tok)*C:(int(tok)+1)*C])...)
		}
		check(t, "Embed "+dt.String(), read(be, out), want, nil, 0)
	}
}

func refGroupNorm(x, w, b []float32, rows, cols, groups int, eps float64) []float64 {
	out := make([]float64, len(x))
	g := cols / groups
	for r := 0; r < rows; r++ {
		for s := 0; s < cols; s += g {
			var mean, v float64
			for i := s; i < s+g; i++ {
				mean += float64(x[r*cols+i])
			}
			mean /= float64(g)
			for i := s; i < s+g; i++ {
				d := float64(x[r*cols+i]) - mean
				v += d * d
			}
			v /= float64(g)
			for i := s; i < s+g; i++ {
				out[r*cols+i] = (float64(x[r*cols+i])-mean)/math.Sqrt(v+eps)*float64(w[i]) + float64(b[i])
			}
		}
	}
	return out
}

func testLayerNorm(t *testing.T, be backend.Backend) {
	r := newRNG(3)
	for _, shape := range [][2]int{{1, 1}, {1, 7}, {3, 64}, {5, 769}} {
		rows, cols := shape[0], shape[1]
		xv, wv, bv := r.vec(rows*cols, -3, 5), r.vec(cols, 0.5, 1.5), r.vec(cols, -1, 1)
		x, w, b := be.UploadF32(rows, cols, xv), be.UploadF32(1, cols, wv), be.UploadF32(1, cols, bv)
		out := be.New(rows, cols)
		be.LayerNorm(out, x, w, b, 1e-5)
		check(t, fmt.Sprintf("LayerNorm %v", shape), read(be, out), refGroupNorm(xv, wv, bv, rows, cols, 1, 1e-5), nil, 1e-5)
		be.LayerNorm(x, x, w, b, 1e-5) // in place
		check(t, "LayerNorm in place", read(be, x), refGroupNorm(xv, wv, bv, rows, cols, 1, 1e-5), nil, 1e-5)
	}
}

func testGroupNorm(t *testing.T, be backend.Backend) {
	r := newRNG(4)
	for _, c := range []struct{ rows, groups, size int }{{1, 1, 64}, {3, 8, 8}, {2, 12, 64}, {4, 3, 5}} {
		cols := c.groups * c.size
		xv, wv, bv := r.vec(c.rows*cols, -0.01, 0.02), r.vec(cols, 0.5, 1.5), r.vec(cols, -1, 1)
		x, w, b := be.UploadF32(c.rows, cols, xv), be.UploadF32(1, cols, wv), be.UploadF32(1, cols, bv)
		out := be.New(c.rows, cols)
		for _, eps := range []float32{1e-5, 64e-5} {
			be.GroupNorm(out, x, w, b, c.groups, eps)
			check(t, fmt.Sprintf("GroupNorm %+v eps %g", c, eps), read(be, out), refGroupNorm(xv, wv, bv, c.rows, cols, c.groups, float64(eps)), nil, 1e-5)
		}
	}
}

func testMatMul(t *testing.T, be backend.Backend) {
	r := newRNG(5)
	for _, dt := range dtypes {
		for _, s := range [][3]int{{1, 1, 1}, {1, 7, 9}, {2, 64, 64}, {3, 65, 31}, {1, 300, 769}, {9, 129, 257}, {17, 33, 16}} {
			n, o, k := s[0], s[1], s[2]
			wdata, wexact := encode(dt, r.normal(o*k, 1))
			xv := r.normal(n*k, 1)
			w, x := be.Upload(dt, o, k, wdata), be.UploadF32(n, k, xv)
			out := be.New(n, o)
			be.MatMul(out, x, w)
			want, scale := make([]float64, n*o), make([]float64, n*o)
			for tk := 0; tk < n; tk++ {
				for j := 0; j < o; j++ {
					for i := 0; i < k; i++ {
						p := float64(xv[tk*k+i]) * float64(wexact[j*k+i])
						want[tk*o+j] += p
						scale[tk*o+j] += math.Abs(p)
					}
				}
			}
			got := read(be, out)
			check(t, fmt.Sprintf("MatMul %s n=%d o=%d k=%d", dt, n, o, k), got, want, scale, tolReduce)
			// Row t of a batched product equals the product of row t alone
			// (a backend may pick another kernel, and summation order, for
			// one row; the pure-Go backend is bitwise equal, tested there).
			if n > 1 {
				one := be.New(1, o)
				be.MatMul(one, be.UploadF32(1, k, xv[(n-1)*k:]), w)
				check(t, fmt.Sprintf("MatMul %s: last row alone vs in a batch of %d", dt, n), read(be, one),
					f64(got[(n-1)*o:]), scale[(n-1)*o:], tolReduce)
			}
		}
	}
}

func testMatMulT(t *testing.T, be backend.Backend) {
	r := newRNG(6)
	for _, dt := range dtypes {
		for _, s := range [][3]int{{1, 1, 1}, {1, 7, 9}, {2, 64, 256}, {3, 65, 31}, {1, 769, 300}, {6, 130, 97}} {
			n, o, k := s[0], s[1], s[2]
			wdata, wexact := encode(dt, r.normal(k*o, 1))
			xv := r.normal(n*k, 1)
			for i := range xv { // relu^2-like: about 60% zeros
				if r.Float64() < 0.6 {
					xv[i] = 0
				}
			}
			w, x := be.Upload(dt, k, o, wdata), be.UploadF32(n, k, xv)
			out := be.New(n, o)
			be.MatMulT(out, x, w)
			want, scale := make([]float64, n*o), make([]float64, n*o)
			for tk := 0; tk < n; tk++ {
				for i := 0; i < k; i++ {
					for j := 0; j < o; j++ {
						p := float64(xv[tk*k+i]) * float64(wexact[i*o+j])
						want[tk*o+j] += p
						scale[tk*o+j] += math.Abs(p)
					}
				}
			}
			got := read(be, out)
			check(t, fmt.Sprintf("MatMulT %s n=%d o=%d k=%d", dt, n, o, k), got, want, scale, tolReduce)
			if n > 1 {
				one := be.New(1, o)
				be.MatMulT(one, be.UploadF32(1, k, xv[(n-1)*k:]), w)
				check(t, fmt.Sprintf("MatMulT %s: last row alone vs in a batch of %d", dt, n), read(be, one),
					f64(got[(n-1)*o:]), scale[(n-1)*o:], tolReduce)
			}
		}
	}
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func testMap(t *testing.T, be backend.Backend) {
	r := newRNG(7)
	fns := map[backend.Unary]func(float64) float64{
		backend.Sigmoid:    sigmoid,
		backend.Tanh:       math.Tanh,
		backend.SiLU:       func(x float64) float64 { return x * sigmoid(x) },
		backend.ReLUSquare: func(x float64) float64 { return math.Pow(math.Max(x, 0), 2) },
		backend.NegExpExp:  func(x float64) float64 { return math.Exp(-math.Exp(x)) },
		backend.V7Decay:    func(x float64) float64 { return math.Exp(-math.Exp(-0.5) * sigmoid(x)) },
	}
	for f, ref := range fns {
		xv := r.vec(3*67, -6, 4)
		xv[0], xv[1] = 0, -0.0
		x, out := be.UploadF32(3, 67, xv), be.New(3, 67)
		be.Map(out, x, f)
		want := make([]float64, len(xv))
		for i, v := range xv {
			want[i] = ref(float64(v))
		}
		check(t, fmt.Sprintf("Map %d", f), read(be, out), want, nil, tolElem)
		be.Map(x, x, f) // in place
		check(t, fmt.Sprintf("Map %d in place", f), read(be, x), want, nil, tolElem)
	}
}

func testZip(t *testing.T, be backend.Backend) {
	r := newRNG(8)
	ops := map[backend.Binary]func(a, b float64) float64{
		backend.Add: func(a, b float64) float64 { return a + b },
		backend.Sub: func(a, b float64) float64 { return a - b },
		backend.Mul: func(a, b float64) float64 { return a * b },
	}
	for f, ref := range ops {
		for _, bcast := range []bool{false, true} {
			rows, cols := 4, 33
			av := r.vec(rows*cols, -2, 2)
			brows := rows
			if bcast {
				brows = 1
			}
			bv := r.vec(brows*cols, -2, 2)
			a, b, out := be.UploadF32(rows, cols, av), be.UploadF32(brows, cols, bv), be.New(rows, cols)
			be.Zip(out, a, b, f)
			want := make([]float64, rows*cols)
			for i := range want {
				bi := i
				if bcast {
					bi = i % cols
				}
				want[i] = ref(float64(av[i]), float64(bv[bi]))
			}
			check(t, fmt.Sprintf("Zip %d broadcast=%v", f, bcast), read(be, out), want, nil, tolElem)
			be.Zip(a, a, b, f)
			check(t, "Zip in place", read(be, a), want, nil, tolElem)
		}
	}
}

func testSliceGather(t *testing.T, be backend.Backend) {
	r := newRNG(9)
	xv := r.vec(5*40, -1, 1)
	x := be.UploadF32(5, 40, xv)
	out := be.New(5, 8)
	be.Slice(out, x, 16)
	var want []float64
	for row := 0; row < 5; row++ {
		want = append(want, f64(xv[row*40+16:row*40+24])...)
	}
	check(t, "Slice", read(be, out), want, nil, 0)
	g := be.New(3, 40)
	be.GatherRows(g, x, []int{4, 0, 4})
	want = append(append(f64(xv[160:200]), f64(xv[0:40])...), f64(xv[160:200])...)
	check(t, "GatherRows", read(be, g), want, nil, 0)
}

// testCopyRows: whole-row copies between tensors and within one, at odd
// widths and offsets, leave every other row untouched.
func testCopyRows(t *testing.T, be backend.Backend) {
	r := newRNG(31)
	for _, cols := range []int{1, 37, 1029} {
		const srows, drows = 7, 9
		sv, dv := r.vec(srows*cols, -1, 1), r.vec(drows*cols, -1, 1)
		src, dst := be.UploadF32(srows, cols, sv), be.UploadF32(drows, cols, dv)
		be.CopyRows(dst, 5, src, 2, 4)
		want := f64(dv)
		copy(want[5*cols:9*cols], f64(sv[2*cols:6*cols]))
		check(t, fmt.Sprintf("CopyRows cols=%d", cols), read(be, dst), want, nil, 0)
		check(t, fmt.Sprintf("CopyRows source cols=%d", cols), read(be, src), f64(sv), nil, 0)

		// Within one tensor, disjoint ranges.
		be.CopyRows(dst, 0, dst, 6, 2)
		copy(want[0:2*cols], want[6*cols:8*cols])
		check(t, fmt.Sprintf("CopyRows same tensor cols=%d", cols), read(be, dst), want, nil, 0)

		// One row, into a view's last row.
		v := be.View(dst, 3)
		be.CopyRows(v, 2, src, 6, 1)
		copy(want[2*cols:3*cols], f64(sv[6*cols:7*cols]))
		check(t, fmt.Sprintf("CopyRows view cols=%d", cols), read(be, dst), want, nil, 0)
		be.Free(v)
		be.Free(src)
		be.Free(dst)
	}
	a, b, c := be.New(3, 4), be.New(2, 4), be.New(2, 5)
	bad := []struct {
		name string
		op   func()
	}{
		{"columns", func() { be.CopyRows(a, 0, c, 0, 1) }},
		{"dst range", func() { be.CopyRows(a, 2, b, 0, 2) }},
		{"src range", func() { be.CopyRows(a, 0, b, 1, 2) }},
		{"negative dst row", func() { be.CopyRows(a, -1, b, 0, 1) }},
		{"negative src row", func() { be.CopyRows(a, 0, b, -1, 1) }},
		{"no rows", func() { be.CopyRows(a, 0, b, 0, 0) }},
		{"non-F32", func() { be.CopyRows(a, 0, be.Upload(backend.F16, 1, 4, make([]byte, 8)), 0, 1) }},
	}
	for _, c := range bad {
		c.op()
		if err := be.Err(); err == nil {
			t.Errorf("CopyRows %s: no error reported", c.name)
		}
	}
	// Sticky: the first failure is the one reported, and a failed copy
	// changes nothing.
	bv := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	be.Write(b, 0, bv)
	be.CopyRows(a, 0, b, 5, 1)
	be.CopyRows(a, 0, c, 0, 1)
	err := be.Err()
	if err == nil {
		t.Fatalf("CopyRows: no error reported")
	}
	if err2 := be.Err(); err2 != nil {
		t.Fatalf("Err did not clear: %v", err2)
	}
	check(t, "CopyRows after failure", read(be, a), make([]float64, 12), nil, 0)
	be.CopyRows(a, 1, b, 0, 2)
	check(t, "CopyRows after errors", read(be, a), append(make([]float64, 4), f64(bv)...), nil, 0)
}

func testShift(t *testing.T, be backend.Backend) {
	r := newRNG(10)
	const C, slots, width, off = 13, 4, 40, 20
	for _, bc := range batches {
		b := makeBatch(bc.lens, bc.slots)
		n := b.Rows()
		stv, xv := r.vec(slots*width, -1, 1), r.vec(n*C, -1, 1)
		st, x, prev := be.UploadF32(slots, width, stv), be.UploadF32(n, C, xv), be.New(n, C)
		be.BeginStep(b)
		be.Shift(prev, x, st, off)
		want := make([]float64, n*C)
		wantSt := f64(stv)
		for s, slot := range b.Slots {
			for row := b.Offsets[s]; row < b.Offsets[s+1]; row++ {
				for i := 0; i < C; i++ {
					if row == b.Offsets[s] {
						want[row*C+i] = float64(stv[slot*width+off+i])
					} else {
						want[row*C+i] = float64(xv[(row-1)*C+i])
					}
				}
			}
			last := b.Offsets[s+1] - 1
			for i := 0; i < C; i++ {
				wantSt[slot*width+off+i] = float64(xv[last*C+i])
			}
		}
		check(t, fmt.Sprintf("Shift %v", bc), read(be, prev), want, nil, 0)
		check(t, fmt.Sprintf("Shift state %v", bc), read(be, st), wantSt, nil, 0)
	}
}

func testMix(t *testing.T, be backend.Backend) {
	r := newRNG(11)
	const N, C = 3, 29
	xv, pv := r.vec(N*C, -2, 2), r.vec(N*C, -2, 2)
	x, p := be.UploadF32(N, C, xv), be.UploadF32(N, C, pv)
	for _, style := range []backend.MixStyle{backend.MixLerp, backend.MixDelta} {
		for _, rows := range []int{1, N} {
			mv := r.vec(rows*C, 0, 1)
			m, out := be.UploadF32(rows, C, mv), be.New(N, C)
			be.Mix(out, x, p, m, style)
			want := make([]float64, N*C)
			for i := range want {
				mi := float64(mv[i%(rows*C)])
				xi, pi := float64(xv[i]), float64(pv[i])
				if style == backend.MixLerp {
					want[i] = xi*mi + pi*(1-mi)
				} else {
					want[i] = xi + (pi-xi)*mi
				}
			}
			check(t, fmt.Sprintf("Mix style %d mix rows %d", style, rows), read(be, out), want, nil, 1e-6)
		}
	}
}

// testMixN: every output of MixN equals the corresponding Mix exactly (the
// per-element formula is the same) and the float64 reference within
// rounding, for 1..6 mixes, broadcast and per-row mixes in the same call,
// both styles, sizes with and without a multiple of 4 columns, one and
// several rows.
func testMixN(t *testing.T, be backend.Backend) {
	r := newRNG(12)
	for _, sz := range []struct{ N, C int }{{1, 8}, {3, 29}, {5, 64}, {2, 258}} {
		N, C := sz.N, sz.C
		xv, pv := r.vec(N*C, -2, 2), r.vec(N*C, -2, 2)
		x, p := be.UploadF32(N, C, xv), be.UploadF32(N, C, pv)
		for _, style := range []backend.MixStyle{backend.MixLerp, backend.MixDelta} {
			for count := 1; count <= 6; count++ {
				for _, pattern := range []int{0, 1, 2} { // all broadcast, all per-row, alternating
					outs, mixes, mvs := make([]backend.Tensor, count), make([]backend.Tensor, count), make([][]float32, count)
					for j := range outs {
						rows := 1
						if pattern == 1 || (pattern == 2 && j%2 == 1) {
							rows = N
						}
						mvs[j] = r.vec(rows*C, 0, 1)
						mixes[j], outs[j] = be.UploadF32(rows, C, mvs[j]), be.New(N, C)
					}
					be.MixN(outs, x, p, mixes, style)
					single := be.New(N, C)
					for j := range outs {
						what := fmt.Sprintf("MixN [%d, %d] style %d count %d pattern %d output %d", N, C, style, count, pattern, j)
						got := read(be, outs[j])
						be.Mix(single, x, p, mixes[j], style)
						one := read(be, single)
						for i := range got {
							if math.Float32bits(got[i]) != math.Float32bits(one[i]) {
								t.Fatalf("%s: element %d = %g, Mix gives %g", what, i, got[i], one[i])
							}
						}
						want := make([]float64, N*C)
						for i := range want {
							mi := float64(mvs[j][i%len(mvs[j])])
							xi, pi := float64(xv[i]), float64(pv[i])
							if style == backend.MixLerp {
								want[i] = xi*mi + pi*(1-mi)
							} else {
								want[i] = xi + (pi-xi)*mi
							}
						}
						check(t, what, got, want, nil, 1e-6)
					}
					be.Free(single)
					for j := range outs {
						be.Free(outs[j])
						be.Free(mixes[j])
					}
				}
			}
		}
		be.Free(x)
		be.Free(p)
	}
	// The largest count, on views of the first rows (as the graphs use it).
	const N, C = 4, 12
	x, p := be.UploadF32(N, C, r.vec(N*C, -1, 1)), be.UploadF32(N, C, r.vec(N*C, -1, 1))
	outs, mixes := make([]backend.Tensor, backend.MaxMixN), make([]backend.Tensor, backend.MaxMixN)
	for j := range outs {
		outs[j], mixes[j] = be.View(be.New(N+1, C), N), be.UploadF32(1, C, r.vec(C, 0, 1))
	}
	be.MixN(outs, x, p, mixes, backend.MixDelta)
	single := be.New(N, C)
	for j := range outs {
		be.Mix(single, x, p, mixes[j], backend.MixDelta)
		if got, one := read(be, outs[j]), read(be, single); fmt.Sprint(got) != fmt.Sprint(one) {
			t.Fatalf("MixN with %d mixes: output %d = %v, Mix gives %v", backend.MaxMixN, j, got, one)
		}
	}
}

// testMixNErrors: bad counts and shapes of MixN are reported through Err
// and leave the outputs untouched.
func testMixNErrors(t *testing.T, be backend.Backend) {
	const N, C = 2, 4
	x, p := be.New(N, C), be.New(N, C)
	vec := func() backend.Tensor { return be.UploadF32(1, C, []float32{1, 1, 1, 1}) }
	out := func() backend.Tensor { return be.UploadF32(N, C, []float32{7, 7, 7, 7, 7, 7, 7, 7}) }
	many := func(n int, f func() backend.Tensor) []backend.Tensor {
		ts := make([]backend.Tensor, n)
		for i := range ts {
			ts[i] = f()
		}
		return ts
	}
	o1, o2 := out(), out()
	cases := []struct {
		name        string
		outs, mixes []backend.Tensor
		style       backend.MixStyle
	}{
		{"count mismatch", []backend.Tensor{o1, o2}, many(1, vec), backend.MixDelta},
		{"count mismatch (more mixes)", []backend.Tensor{o1}, many(2, vec), backend.MixDelta},
		{"no mixes", nil, nil, backend.MixDelta},
		{"too many", many(backend.MaxMixN+1, out), many(backend.MaxMixN+1, vec), backend.MixDelta},
		{"output shape", []backend.Tensor{o1, be.New(N, C+1)}, many(2, vec), backend.MixDelta},
		{"output rows", []backend.Tensor{o1, be.New(N+1, C)}, many(2, vec), backend.MixDelta},
		{"mix shape", []backend.Tensor{o1, o2}, []backend.Tensor{vec(), be.New(1, C+1)}, backend.MixLerp},
		{"mix rows", []backend.Tensor{o1, o2}, []backend.Tensor{be.New(N+1, C), vec()}, backend.MixLerp},
		{"style", []backend.Tensor{o1}, many(1, vec), backend.MixStyle(7)},
	}
	for _, c := range cases {
		be.MixN(c.outs, x, p, c.mixes, c.style)
		if err := be.Err(); err == nil {
			t.Errorf("MixN %s: no error reported", c.name)
		}
	}
	be.MixN([]backend.Tensor{o1}, x, be.New(N+1, C), many(1, vec), backend.MixDelta)
	if err := be.Err(); err == nil {
		t.Errorf("MixN prev shape: no error reported")
	}
	for _, o := range []backend.Tensor{o1, o2} {
		for i, v := range read(be, o) {
			if v != 7 {
				t.Fatalf("a failed MixN wrote element %d = %g", i, v)
			}
		}
	}
	be.MixN([]backend.Tensor{o1, o2}, x, p, many(2, vec), backend.MixLerp)
	if err := be.Err(); err != nil {
		t.Fatalf("valid MixN after errors: %v", err)
	}
}

func testWKV4(t *testing.T, be backend.Backend) {
	r := newRNG(12)
	const C, slots = 300, 4
	width := 3*C + 7
	const off = 5
	for _, bc := range batches {
		b := makeBatch(bc.lens, bc.slots)
		n := b.Rows()
		kv, vv := r.vec(n*C, -3, 3), r.vec(n*C, -2, 2)
		wv, uv := r.vec(C, -3, -0.01), r.vec(C, -1, 1)
		stv := r.vec(slots*width, 0.1, 2)
		for s := 0; s < slots; s++ { // pp: a log-scale max; start some at -1e30 like a fresh state
			for i := 0; i < C; i++ {
				stv[s*width+off+2*C+i] = float32(r.Float64()*4 - 2)
				if s == 0 {
					stv[s*width+off+2*C+i] = -1e30
					stv[s*width+off+i], stv[s*width+off+C+i] = 0, 0
				}
			}
		}
		k, v, w, u := be.UploadF32(n, C, kv), be.UploadF32(n, C, vv), be.UploadF32(1, C, wv), be.UploadF32(1, C, uv)
		st, out := be.UploadF32(slots, width, stv), be.New(n, C)
		be.BeginStep(b)
		be.WKV4(out, k, v, w, u, st, off)
		want := make([]float64, n*C)
		wantSt := f64(stv)
		for s, slot := range b.Slots {
			for i := 0; i < C; i++ {
				base := slot*width + off
				aa, bb, pp := wantSt[base+i], wantSt[base+C+i], wantSt[base+2*C+i]
				for row := b.Offsets[s]; row < b.Offsets[s+1]; row++ {
					kk, vv := float64(kv[row*C+i]), float64(vv[row*C+i])
					ww := float64(uv[i]) + kk
					q := math.Max(pp, ww)
					e1, e2 := math.Exp(pp-q), math.Exp(ww-q)
					want[row*C+i] = (e1*aa + e2*vv) / (e1*bb + e2)
					ww = pp + float64(wv[i])
					q = math.Max(ww, kk)
					e1, e2 = math.Exp(ww-q), math.Exp(kk-q)
					aa, bb, pp = e1*aa+e2*vv, e1*bb+e2, q
				}
				wantSt[base+i], wantSt[base+C+i], wantSt[base+2*C+i] = aa, bb, pp
			}
		}
		check(t, fmt.Sprintf("WKV4 %v", bc), read(be, out), want, nil, 1e-5)
		check(t, fmt.Sprintf("WKV4 state %v", bc), read(be, st), wantSt, nil, 1e-5)
	}
}

func testWKV5(t *testing.T, be backend.Backend) {
	r := newRNG(13)
	for _, hs := range [][2]int{{1, 8}, {3, 16}, {2, 64}} {
		H, N := hs[0], hs[1]
		C := H * N
		const slots, off = 4, 3
		width := off + H*N*N + 2
		for _, bc := range batches {
			for _, perToken := range []bool{false, true} {
				b := makeBatch(bc.lens, bc.slots)
				n := b.Rows()
				wrows := 1
				if perToken {
					wrows = n
				}
				rv, kv, vv := r.vec(n*C, -1, 1), r.vec(n*C, -1, 1), r.vec(n*C, -1, 1)
				wv, uv, stv := r.vec(wrows*C, 0.3, 0.999), r.vec(C, -1, 1), r.vec(slots*width, -1, 1)
				rr, k, v := be.UploadF32(n, C, rv), be.UploadF32(n, C, kv), be.UploadF32(n, C, vv)
				w, u, st, out := be.UploadF32(wrows, C, wv), be.UploadF32(1, C, uv), be.UploadF32(slots, width, stv), be.New(n, C)
				be.BeginStep(b)
				be.WKV5(out, rr, k, v, w, u, st, off, H)
				want, scale := make([]float64, n*C), make([]float64, n*C)
				wantSt := f64(stv)
				for s, slot := range b.Slots {
					for h := 0; h < H; h++ {
						S := wantSt[slot*width+off+h*N*N : slot*width+off+(h+1)*N*N]
						for row := b.Offsets[s]; row < b.Offsets[s+1]; row++ {
							wr := row
							if !perToken {
								wr = 0
							}
							for j := 0; j < N; j++ {
								for i := 0; i < N; i++ {
									c := h*N + i
									kvij := float64(kv[row*C+c]) * float64(vv[row*C+h*N+j])
									p := float64(rv[row*C+c]) * (float64(uv[c])*kvij + S[i*N+j])
									want[row*C+h*N+j] += p
									scale[row*C+h*N+j] += math.Abs(p)
								}
							}
							for i := 0; i < N; i++ {
								c := h*N + i
								for j := 0; j < N; j++ {
									S[i*N+j] = float64(kv[row*C+c])*float64(vv[row*C+h*N+j]) + float64(wv[wr*C+c])*S[i*N+j]
								}
							}
						}
					}
				}
				what := fmt.Sprintf("WKV5 H=%d N=%d %v perToken=%v", H, N, bc, perToken)
				check(t, what, read(be, out), want, scale, tolReduce)
				check(t, what+" state", read(be, st), wantSt, nil, 1e-5)
			}
		}
	}
}

func testWKV7(t *testing.T, be backend.Backend) {
	r := newRNG(14)
	for _, hs := range [][2]int{{1, 8}, {3, 16}, {2, 64}} {
		H, N := hs[0], hs[1]
		C := H * N
		const slots, off = 4, 2
		width := off + H*N*N + 1
		for _, bc := range batches {
			b := makeBatch(bc.lens, bc.slots)
			n := b.Rows()
			rv, wv, kv, vv := r.vec(n*C, -1, 1), r.vec(n*C, 0.5, 0.999), r.vec(n*C, -1, 1), r.vec(n*C, -1, 1)
			av := r.vec(n*C, 0, 1)
			kkv := make([]float32, n*C) // unit vectors per head, as the model makes them
			for row := 0; row < n; row++ {
				for h := 0; h < H; h++ {
					var ss float64
					raw := r.normal(N, 1)
					for _, x := range raw {
						ss += float64(x) * float64(x)
					}
					for i, x := range raw {
						kkv[row*C+h*N+i] = float32(float64(x) / math.Sqrt(ss))
					}
				}
			}
			stv := r.vec(slots*width, -1, 1)
			up := func(v []float32) backend.Tensor { return be.UploadF32(n, C, v) }
			rr, w, k, v, kk, a := up(rv), up(wv), up(kv), up(vv), up(kkv), up(av)
			st, out := be.UploadF32(slots, width, stv), be.New(n, C)
			be.BeginStep(b)
			be.WKV7(out, rr, w, k, v, kk, a, st, off, H)
			want, scale := make([]float64, n*C), make([]float64, n*C)
			wantSt := f64(stv)
			for s, slot := range b.Slots {
				for h := 0; h < H; h++ {
					S := wantSt[slot*width+off+h*N*N : slot*width+off+(h+1)*N*N] // [value i][key j]
					for row := b.Offsets[s]; row < b.Offsets[s+1]; row++ {
						at := func(x []float32, j int) float64 { return float64(x[row*C+h*N+j]) }
						for i := 0; i < N; i++ {
							var sa float64
							for j := 0; j < N; j++ {
								sa -= S[i*N+j] * at(kkv, j)
							}
							for j := 0; j < N; j++ {
								S[i*N+j] = S[i*N+j]*at(wv, j) + at(vv, i)*at(kv, j) + sa*at(kkv, j)*at(av, j)
							}
							for j := 0; j < N; j++ {
								p := S[i*N+j] * at(rv, j)
								want[row*C+h*N+i] += p
								scale[row*C+h*N+i] += math.Abs(p)
							}
						}
					}
				}
			}
			what := fmt.Sprintf("WKV7 H=%d N=%d %v", H, N, bc)
			check(t, what, read(be, out), want, scale, tolReduce)
			check(t, what+" state", read(be, st), wantSt, nil, 1e-5)
		}
	}
}

func testKeyV7(t *testing.T, be backend.Backend) {
	r := newRNG(15)
	for _, hs := range [][2]int{{1, 64}, {4, 8}, {3, 5}} {
		H, N := hs[0], hs[1]
		C, n := H*N, 3
		kv, av, kkw, kaw := r.vec(n*C, -2, 2), r.vec(n*C, 0, 1), r.vec(C, 0.5, 1), r.vec(C, 0, 2)
		for i := 0; i < N; i++ { // one all-zero head exercises the 1e-12 floor
			kv[i] = 0
		}
		k, a, kK, kA, kk := be.UploadF32(n, C, kv), be.UploadF32(n, C, av), be.UploadF32(1, C, kkw), be.UploadF32(1, C, kaw), be.New(n, C)
		be.KeyV7(kk, k, a, kK, kA, H)
		wantKK, wantK := make([]float64, n*C), make([]float64, n*C)
		for row := 0; row < n; row++ {
			for h := 0; h < H; h++ {
				var ss float64
				for i := h * N; i < (h+1)*N; i++ {
					x := float64(kv[row*C+i]) * float64(kkw[i])
					ss += x * x
				}
				norm := math.Max(math.Sqrt(ss), 1e-12)
				for i := h * N; i < (h+1)*N; i++ {
					wantKK[row*C+i] = float64(kv[row*C+i]) * float64(kkw[i]) / norm
				}
			}
			for i := 0; i < C; i++ {
				x := float64(kv[row*C+i])
				wantK[row*C+i] = x * (1 + (float64(av[row*C+i])-1)*float64(kaw[i]))
			}
		}
		check(t, "KeyV7 kk", read(be, kk), wantKK, nil, 1e-5)
		check(t, "KeyV7 k", read(be, k), wantK, nil, 1e-5)
	}
}

func testValueV7(t *testing.T, be backend.Backend) {
	r := newRNG(16)
	const n, C = 4, 37
	vv, fv, gv := r.vec(n*C, -2, 2), r.vec(n*C, -2, 2), r.vec(n*C, -4, 4)
	v, f, g := be.UploadF32(n, C, vv), be.UploadF32(n, C, fv), be.UploadF32(n, C, gv)
	be.ValueV7(v, f, g)
	want := make([]float64, n*C)
	for i := range want {
		x := float64(vv[i])
		want[i] = x + (float64(fv[i])-x)*sigmoid(float64(gv[i]))
	}
	check(t, "ValueV7", read(be, v), want, nil, 1e-5)
}

func testBonusV7(t *testing.T, be backend.Backend) {
	r := newRNG(17)
	for _, hs := range [][2]int{{1, 64}, {4, 8}} {
		H, N := hs[0], hs[1]
		C, n := H*N, 3
		ov, rv, kv, vv, rkv := r.vec(n*C, -1, 1), r.vec(n*C, -1, 1), r.vec(n*C, -1, 1), r.vec(n*C, -1, 1), r.vec(C, -1, 1)
		out := be.UploadF32(n, C, ov)
		be.BonusV7(out, be.UploadF32(n, C, rv), be.UploadF32(n, C, kv), be.UploadF32(n, C, vv), be.UploadF32(1, C, rkv), H)
		want := f64(ov)
		for row := 0; row < n; row++ {
			for h := 0; h < H; h++ {
				var s float64
				for i := h * N; i < (h+1)*N; i++ {
					s += float64(rv[row*C+i]) * float64(kv[row*C+i]) * float64(rkv[i])
				}
				for i := h * N; i < (h+1)*N; i++ {
					want[row*C+i] += s * float64(vv[row*C+i])
				}
			}
		}
		check(t, "BonusV7", read(be, out), want, nil, 1e-5)
	}
}

// testErrors: bad shapes and arguments are reported through Err, never by a panic.
func testErrors(t *testing.T, be backend.Backend) {
	a, b := be.New(2, 3), be.New(2, 4)
	w := be.New(5, 4)
	st := be.New(2, 10)
	cases := []struct {
		name string
		op   func()
	}{
		{"MatMul shape", func() { be.MatMul(a, a, w) }},
		{"MatMulT shape", func() { be.MatMulT(a, b, w) }},
		{"Zip shape", func() { be.Zip(a, a, b, backend.Add) }},
		{"LayerNorm shape", func() { be.LayerNorm(a, a, b, b, 1e-5) }},
		{"GroupNorm groups", func() { be.GroupNorm(b, b, be.New(1, 4), be.New(1, 4), 3, 1e-5) }},
		{"Embed token", func() { be.Embed(be.New(1, 4), w, []int32{5}) }},
		{"Slice range", func() { be.Slice(a, b, 2) }},
		{"GatherRows range", func() { be.GatherRows(be.New(1, 4), b, []int{2}) }},
		{"CopyRows range", func() { be.CopyRows(a, 1, a, 0, 2) }},
		{"Shift slot", func() { be.BeginStep(makeBatch([]int{2}, []int{2})); be.Shift(b, b, st, 0) }},
		{"Shift offset", func() { be.BeginStep(makeBatch([]int{2}, []int{0})); be.Shift(b, b, st, 8) }},
		{"Shift rows", func() { be.BeginStep(makeBatch([]int{1}, []int{0})); be.Shift(b, b, st, 0) }},
		{"WKV5 heads", func() {
			be.BeginStep(makeBatch([]int{2}, []int{0}))
			be.WKV5(b, b, b, b, be.New(1, 4), be.New(1, 4), st, 0, 3)
		}},
		{"WKV7 state", func() { be.BeginStep(makeBatch([]int{2}, []int{0})); be.WKV7(b, b, b, b, b, b, b, st, 0, 1) }},
		{"Read range", func() { be.Read(a, 1, make([]float32, 7)) }},
	}
	for _, c := range cases {
		c.op()
		if err := be.Err(); err == nil {
			t.Errorf("%s: no error reported", c.name)
		}
	}
	be.MatMul(be.New(2, 5), b, w)
	if err := be.Err(); err != nil {
		t.Fatalf("valid op after errors: %v", err)
	}
}
