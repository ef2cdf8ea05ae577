package backendtest

import (
	"fmt"
	"math"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/weights"
)

// fusedProducts runs a test of backend.FusedProducts on backends that
// implement it and skips it on the others.
func fusedProducts(fn func(*testing.T, backend.FusedProducts, backend.Backend)) func(*testing.T, backend.Backend) {
	return func(t *testing.T, be backend.Backend) {
		f, ok := be.(backend.FusedProducts)
		if !ok {
			t.Skipf("%s does not implement backend.FusedProducts", be.Name())
		}
		fn(t, f, be)
	}
}

// unaryRef is every backend.Unary in float64.
var unaryRef = map[backend.Unary]func(float64) float64{
	backend.Sigmoid:    sigmoid,
	backend.Tanh:       math.Tanh,
	backend.SiLU:       func(x float64) float64 { return x * sigmoid(x) },
	backend.ReLUSquare: func(x float64) float64 { return math.Max(x, 0) * math.Max(x, 0) },
	backend.NegExpExp:  func(x float64) float64 { return math.Exp(-math.Exp(x)) },
	backend.V7Decay:    func(x float64) float64 { return math.Exp(-math.Exp(-0.5) * sigmoid(x)) },
}

// groupSpec describes one product of a test group: the weight's type and
// shape [o, k], and the epilogue (bias rows 0 for none, else 1 or n).
type groupSpec struct {
	dt       backend.DType
	o, k     int
	biasRows int
	act      backend.Activation
	lerp     bool
}

// groupCase is the data of one product of a test group, uploaded twice: for
// MatMulGroup and for the composition of the operations it replaces.
type groupCase struct {
	spec                  groupSpec
	xv, wexact, bv, lv    []float32
	ov                    []float32 // Out's values before the call (read by a Lerp)
	x, w, bias, lerp      backend.Tensor
	out, outOps, tmp      backend.Tensor
	product               backend.Product
	want, bound, scaleRef []float64
}

// newGroupCase uploads the operands of one product for n rows and computes
// its float64 reference with an error bound per output: the product's
// reduction error (tolReduce relative to the sum of |terms|) carried
// through the activation (its change over that interval) and the Lerp
// (times |Lerp - Out|), plus rounding of each elementwise step.
func newGroupCase(t *testing.T, be backend.Backend, r rng, s groupSpec, n int) *groupCase {
	c := &groupCase{spec: s}
	var wdata []byte
	if s.dt.Quantized() {
		var wt = quantWeights(s.dt)
		wdata, c.wexact = quantize(t, wt, r.normal(s.o*s.k, 1))
	} else {
		wdata, c.wexact = encode(s.dt, r.normal(s.o*s.k, 1))
	}
	c.xv = r.normal(n*s.k, 1)
	c.ov = r.vec(n*s.o, -2, 2)
	c.w, c.x = be.Upload(s.dt, s.o, s.k, wdata), be.UploadF32(n, s.k, c.xv)
	c.out, c.outOps = be.UploadF32(n, s.o, c.ov), be.UploadF32(n, s.o, c.ov)
	c.product = backend.Product{Out: c.out, In: c.x, W: c.w, Act: s.act}
	if s.biasRows > 0 {
		c.bv = r.vec(s.biasRows*s.o, -1, 1)
		c.bias = be.UploadF32(s.biasRows, s.o, c.bv)
		c.product.Bias = c.bias
	}
	if s.lerp {
		c.lv = r.vec(n*s.o, -2, 2)
		c.lerp = be.UploadF32(n, s.o, c.lv)
		c.product.Lerp = c.lerp
		c.tmp = be.New(n, s.o)
	}
	p, sp := refMatMul(c.xv, c.wexact, n, s.o, s.k)
	c.want, c.bound = make([]float64, n*s.o), make([]float64, n*s.o)
	for i := range p {
		q, e := p[i], tolReduce*(1+sp[i])
		if s.biasRows > 0 {
			q += float64(c.bv[(i/s.o%s.biasRows)*s.o+i%s.o])
		}
		e += tolElem * (1 + math.Abs(q))
		if f, ok := s.act.Unary(); ok {
			ref := unaryRef[f]
			a := ref(q)
			e = math.Max(math.Abs(ref(q+e)-a), math.Abs(ref(q-e)-a)) + 1e-5*(1+math.Abs(a))
			q = a
		}
		if s.lerp {
			o, l := float64(c.ov[i]), float64(c.lv[i])
			q = o + (l-o)*q
			e = math.Abs(l-o)*e + tolElem*(1+math.Abs(q))
		}
		c.want[i], c.bound[i] = q, e
	}
	return c
}

// compose runs the operations MatMulGroup replaces for this product into outOps.
func (c *groupCase) compose(be backend.Backend) {
	dst := c.outOps
	if c.spec.lerp {
		dst = c.tmp
	}
	be.MatMul(dst, c.x, c.w)
	if c.bias != nil {
		be.Zip(dst, dst, c.bias, backend.Add)
	}
	f, act := c.spec.act.Unary()
	if c.spec.lerp && act && f == backend.Sigmoid {
		be.ValueV7(c.outOps, c.lerp, dst) // the value residual, as RWKV-7's op-level graph runs it
		return
	}
	if act {
		be.Map(dst, dst, f)
	}
	if c.spec.lerp {
		// outOps + (lerp - outOps) * dst, with the Backend's operations
		d := be.New(dst.Rows(), dst.Cols())
		be.Zip(d, c.lerp, c.outOps, backend.Sub)
		be.Zip(d, d, dst, backend.Mul)
		be.Zip(c.outOps, c.outOps, d, backend.Add)
		be.Free(d)
	}
}

func (c *groupCase) free(be backend.Backend) {
	for _, x := range []backend.Tensor{c.x, c.w, c.bias, c.lerp, c.out, c.outOps, c.tmp} {
		if x != nil {
			be.Free(x)
		}
	}
}

// checkGroupCase compares the group's output with the float64 reference
// (within the case's bounds) and with the composition (bit for bit where the
// backend promises it).
func checkGroupCase(t *testing.T, be backend.Backend, what string, c *groupCase) {
	t.Helper()
	got := read(be, c.out)
	for i, w := range c.want {
		if d := math.Abs(float64(got[i]) - w); !(d <= c.bound[i]) {
			t.Fatalf("%s: element %d = %g, want %g (|diff| %g > %g)", what, i, got[i], w, d, c.bound[i])
		}
	}
	if exactCompositions(be) {
		checkSame(t, be, what+" vs the composition", got, read(be, c.outOps), 0)
	}
}

// groupShapes are the test groups: every epilogue (none, bias of one or n
// rows, each activation, the Lerp with and without the others), every
// weight type the conformance suite uses mixed in one group, odd sizes
// (one output, outputs not a multiple of a block's rows, long and short
// reductions), and a full group of backend.MaxGroup products.
func groupShapes() [][]groupSpec {
	F32, F16, BF16 := backend.F32, backend.F16, backend.BF16
	act := backend.Activate
	return [][]groupSpec{
		{{F32, 7, 9, 0, backend.NoActivation, false}},
		{ // RWKV-7's first group: plain products and LoRA-downs with activations
			{F16, 64, 64, 0, backend.NoActivation, false},
			{BF16, 16, 64, 0, act(backend.Tanh), false},
			{F32, 64, 64, 0, backend.NoActivation, false},
			{F16, 8, 64, 0, backend.NoActivation, false},
			{F32, 16, 64, 0, act(backend.Sigmoid), false},
		},
		{ // RWKV-7's second group: LoRA-ups with biases, activations and the value residual
			{F32, 65, 16, 1, act(backend.V7Decay), false},
			{BF16, 65, 16, 1, act(backend.Sigmoid), false},
			{F16, 65, 8, 0, backend.NoActivation, false},
			{F32, 65, 8, 1, act(backend.Sigmoid), true},
		},
		{ // per-row biases, the other activations, a Lerp without activation or bias
			{F32, 33, 31, -1, act(backend.SiLU), false},
			{F16, 1, 300, -1, act(backend.ReLUSquare), false},
			{BF16, 129, 7, 1, act(backend.NegExpExp), false},
			{F32, 5, 33, 0, backend.NoActivation, true},
			{F16, 300, 769, -1, act(backend.Tanh), true},
		},
		{ // MaxGroup products
			{F32, 1, 1, 0, backend.NoActivation, false},
			{F16, 2, 3, 1, act(backend.Sigmoid), false},
			{BF16, 3, 5, 0, act(backend.Tanh), false},
			{F32, 4, 8, -1, act(backend.ReLUSquare), false},
			{F16, 40, 16, 1, backend.NoActivation, true},
			{BF16, 9, 64, 0, act(backend.V7Decay), false},
			{F32, 17, 100, 1, act(backend.SiLU), true},
			{F16, 6, 24, 0, act(backend.NegExpExp), false},
		},
	}
}

// testMatMulGroup: MatMulGroup against a float64 reference and against the
// composition of MatMul, Zip, Map and ValueV7 (bit for bit on the CPU
// backend), for one row and several (fewer and more than a GEMV block's
// tokens, up to the 64 tokens of the CUDA wide group's block), with block-quantized weights mixed in where the backend has them.
func testMatMulGroup(t *testing.T, f backend.FusedProducts, be backend.Backend) {
	r := newRNG(44)
	shapes := groupShapes()
	var quant []groupSpec
	for _, q := range quantTypes {
		if backend.Supports(be, q.dt) {
			quant = append(quant, groupSpec{q.dt, 19, 64, len(quant) % 2, backend.Activate(backend.Tanh), len(quant) == 2})
		}
	}
	if len(quant) > 0 {
		shapes = append(shapes, append(quant, groupSpec{backend.F32, 7, 64, 0, backend.NoActivation, false}))
	}
	for _, n := range []int{1, 3, 9, 16, 33, 64} {
		for gi, specs := range shapes {
			cases := make([]*groupCase, len(specs))
			entries := make([]backend.Product, len(specs))
			for j, s := range specs {
				if s.biasRows < 0 {
					s.biasRows = n
				}
				cases[j] = newGroupCase(t, be, r, s, n)
				entries[j] = cases[j].product
			}
			f.MatMulGroup(entries)
			for _, c := range cases {
				c.compose(be)
			}
			if err := be.Err(); err != nil {
				t.Fatalf("group %d, n=%d: %v", gi, n, err)
			}
			for j, c := range cases {
				s := c.spec
				checkGroupCase(t, be, fmt.Sprintf("MatMulGroup group %d n=%d product %d (%s [%d, %d], bias rows %d, activation %d, lerp %v)",
					gi, n, j, s.dt, s.o, s.k, s.biasRows, s.act, s.lerp), c)
				c.free(be)
			}
		}
	}
	// One product's inputs may be shared by several products, and a Lerp
	// may read another product's input: only outputs must be distinct.
	const n, k = 2, 40
	xv := r.normal(n*k, 1)
	x := be.UploadF32(n, k, xv)
	wd, wexact := encode(backend.F16, r.normal(3*k, 1))
	w := be.Upload(backend.F16, 3, k, wd)
	o1, o2 := be.New(n, 3), be.New(n, 3)
	f.MatMulGroup([]backend.Product{{Out: o1, In: x, W: w}, {Out: o2, In: x, W: w, Act: backend.Activate(backend.Sigmoid)}})
	want, scale := refMatMul(xv, wexact, n, 3, k)
	check(t, "MatMulGroup shared input", read(be, o1), want, scale, tolReduce)
	for i := range want {
		want[i], scale[i] = sigmoid(want[i]), 0.25*scale[i]
	}
	check(t, "MatMulGroup shared input, sigmoid", read(be, o2), want, scale, tolReduce)
	for _, x := range []backend.Tensor{x, w, o1, o2} {
		be.Free(x)
	}
}

// quantWeights returns the package weights encoding of a block-quantized type.
func quantWeights(dt backend.DType) weights.DType {
	for _, q := range quantTypes {
		if q.dt == dt {
			return q.w
		}
	}
	panic(fmt.Sprintf("backendtest: %s is not a block-quantized type", dt))
}

// testMatMulGroupErrors: malformed groups are reported through Err and touch
// nothing: not the outputs of their valid products either.
func testMatMulGroupErrors(t *testing.T, f backend.FusedProducts, be backend.Backend) {
	r := newRNG(45)
	const n, o, k = 2, 5, 8
	x := func(rows, cols int) backend.Tensor { return be.UploadF32(rows, cols, r.vec(rows*cols, -1, 1)) }
	in, in3 := x(n, k), x(n+1, k)
	w := be.Upload(backend.F16, o, k, func() []byte { b, _ := encode(backend.F16, r.vec(o*k, -1, 1)); return b }())
	good := x(n, o) // the output of a valid first product in every case
	out := x(n, o)
	view := be.View(out, n) // shares out's memory
	inView := be.View(in, n)
	bias, badBias, lerp, badLerp := x(1, o), x(1, o+1), x(n, o), x(n-1, o)
	wide := x(n, k+1)
	wo := x(3, o) // multiplies an output
	valid := backend.Product{Out: good, In: in, W: w}
	cases := []struct {
		name    string
		entries []backend.Product
	}{
		{"no products", nil},
		{"too many products", make([]backend.Product, backend.MaxGroup+1)},
		{"nil output", []backend.Product{valid, {In: in, W: w}}},
		{"nil input", []backend.Product{valid, {Out: out, W: w}}},
		{"nil weight", []backend.Product{valid, {Out: out, In: in}}},
		{"rows differ", []backend.Product{valid, {Out: x(n+1, o), In: in3, W: w}}},
		{"input width", []backend.Product{valid, {Out: out, In: wide, W: w}}},
		{"output shape", []backend.Product{valid, {Out: x(n, o+1), In: in, W: w}}},
		{"bias shape", []backend.Product{valid, {Out: out, In: in, W: w, Bias: badBias}}},
		{"lerp shape", []backend.Product{valid, {Out: out, In: in, W: w, Lerp: badLerp}}},
		{"activation", []backend.Product{valid, {Out: out, In: in, W: w, Bias: bias, Act: backend.Activate(backend.V7Decay + 1)}}},
		{"output is its input", []backend.Product{valid, {Out: in, In: in, W: x(k, k)}}},
		{"output is its lerp", []backend.Product{valid, {Out: out, In: in, W: w, Lerp: out}}},
		{"output is its bias", []backend.Product{valid, {Out: out, In: in, W: w, Bias: out}}},
		{"output is another's input", []backend.Product{valid, {Out: out, In: in, W: w}, {Out: x(n, 3), In: out, W: wo}}},
		{"output is another's input view", []backend.Product{valid, {Out: out, In: in, W: w}, {Out: x(n, 3), In: view, W: wo}}},
		{"outputs alias", []backend.Product{valid, {Out: out, In: in, W: w}, {Out: view, In: in, W: w}}},
		{"output is another's lerp", []backend.Product{valid, {Out: out, In: in, W: w, Lerp: lerp}, {Out: lerp, In: in, W: w}}},
		{"output is another's bias", []backend.Product{valid, {Out: out, In: in, W: w, Bias: good}}},
		{"output is viewed by another's input", []backend.Product{{Out: in, In: x(n, k), W: x(k, k)}, {Out: out, In: inView, W: w}}},
	}
	operands := []backend.Tensor{good, out, in, lerp, bias}
	for _, c := range cases {
		failsTouchingNothing(t, be, c.name, operands, func() { f.MatMulGroup(c.entries) })
	}
	if err := be.Err(); err != nil {
		t.Fatalf("reading after errors: %v", err)
	}
}
