package backendtest

import (
	"fmt"
	"math"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/weights"
)

// fusedV7 runs a test of the optional backend.FusedV7 operations on backends
// that implement them and skips it on the others.
func fusedV7(fn func(*testing.T, backend.FusedV7, backend.Backend)) func(*testing.T, backend.Backend) {
	return func(t *testing.T, be backend.Backend) {
		f, ok := be.(backend.FusedV7)
		if !ok {
			t.Skipf("%s does not implement backend.FusedV7", be.Name())
		}
		fn(t, f, be)
	}
}

// exactCompositions reports whether be promises the bits of the composition
// of its own operations (the CPU backend, which computes it that way).
func exactCompositions(be backend.Backend) bool { return be.Name() == "cpu" }

// checkSame compares a fused operation's output with the composition's on the
// same backend: bit for bit where the backend promises it, else within tol
// relative to 1+|want|.
func checkSame(t *testing.T, be backend.Backend, what string, got, want []float32, tol float64) {
	t.Helper()
	if exactCompositions(be) {
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: element %d = %g, composition %g (not bit-identical)", what, i, got[i], want[i])
			}
		}
		return
	}
	check(t, what, got, f64(want), nil, tol)
}

// decodeBatches are one-token-per-sequence steps with scattered slots.
var decodeBatches = []struct {
	lens, slots []int
}{
	{[]int{1}, []int{0}},
	{[]int{1}, []int{3}},
	{[]int{1, 1, 1}, []int{2, 0, 1}},
	{[]int{1, 1, 1, 1}, []int{3, 1, 0, 2}},
}

// testAttnDecodeV7: the fused decode attention equals KeyV7, WKV7,
// GroupNorm, BonusV7 and Zip(Mul) run one after the other, in y and in every
// side effect (kk, k, the state), over two consecutive steps.
func testAttnDecodeV7(t *testing.T, f backend.FusedV7, be backend.Backend) {
	r := newRNG(41)
	for _, hs := range [][2]int{{1, 8}, {3, 5}, {2, 64}, {2, 33}} {
		H, N := hs[0], hs[1]
		C := H * N
		const slots, off = 4, 3
		const eps = 64e-5
		width := off + H*N*N + 2
		kKv, kAv, rKv := r.vec(C, 0.5, 1), r.vec(C, 0, 2), r.vec(C, -1, 1)
		lnWv, lnBv := r.vec(C, 0.5, 1.5), r.vec(C, -0.5, 0.5)
		kK, kA, rK := be.UploadF32(1, C, kKv), be.UploadF32(1, C, kAv), be.UploadF32(1, C, rKv)
		lnW, lnB := be.UploadF32(1, C, lnWv), be.UploadF32(1, C, lnBv)
		for _, bc := range decodeBatches {
			b := makeBatch(bc.lens, bc.slots)
			n := b.Rows()
			stv := r.vec(slots*width, -1, 1)
			stF, stC := be.UploadF32(slots, width, stv), be.UploadF32(slots, width, stv)
			for step := 0; step < 2; step++ {
				rv, wv, kv, vv := r.vec(n*C, -1, 1), r.vec(n*C, 0.5, 0.999), r.vec(n*C, -1, 1), r.vec(n*C, -1, 1)
				av, gv := r.vec(n*C, 0, 1), r.vec(n*C, -1, 1)
				up := func(v []float32) backend.Tensor { return be.UploadF32(n, C, v) }
				rr, w, v, a, g := up(rv), up(wv), up(vv), up(av), up(gv)
				kF, kC := up(kv), up(kv)
				yF, kkF, yC, kkC := be.New(n, C), be.New(n, C), be.New(n, C), be.New(n, C)
				st0 := read(be, stF)
				be.BeginStep(b)
				f.AttnDecodeV7(yF, kkF, rr, w, kF, v, a, g, kK, kA, rK, lnW, lnB, stF, off, H, eps)
				be.KeyV7(kkC, kC, a, kK, kA, H)
				be.WKV7(yC, rr, w, kC, v, kkC, a, stC, off, H)
				be.GroupNorm(yC, yC, lnW, lnB, H, eps)
				be.BonusV7(yC, rr, kC, v, rK, H)
				be.Zip(yC, yC, g, backend.Mul)
				if err := be.Err(); err != nil {
					t.Fatal(err)
				}
				what := fmt.Sprintf("AttnDecodeV7 H=%d N=%d %v step %d", H, N, bc, step)
				checkSame(t, be, what+" y", read(be, yF), read(be, yC), tolReduce)
				checkSame(t, be, what+" kk", read(be, kkF), read(be, kkC), 1e-5)
				checkSame(t, be, what+" k", read(be, kF), read(be, kC), tolElem)
				checkSame(t, be, what+" state", read(be, stF), read(be, stC), 1e-5)
				wantY, wantSt := refAttnDecodeV7(st0, rv, wv, kv, vv, av, gv, kKv, kAv, rKv, lnWv, lnBv, b.Slots, width, off, H, N, eps)
				check(t, what+" y vs float64", read(be, yF), wantY, nil, tolReduce)
				check(t, what+" state vs float64", read(be, stF), wantSt, nil, 1e-5)
				for _, x := range []backend.Tensor{rr, w, v, a, g, kF, kC, yF, kkF, yC, kkC} {
					be.Free(x)
				}
			}
			be.Free(stF)
			be.Free(stC)
		}
		for _, x := range []backend.Tensor{kK, kA, rK, lnW, lnB} {
			be.Free(x)
		}
	}
}

// refAttnDecodeV7 is AttnDecodeV7 in float64 for a decode step (row s of the
// inputs is sequence s, state slot slots[s]); st is the state before the step.
func refAttnDecodeV7(st []float32, r, w, k, v, a, g, kK, kA, rK, lnW, lnB []float32, slots []int, width, off, H, N int,
	eps float64) (y, state []float64) {
	C := H * N
	y, state = make([]float64, len(slots)*C), f64(st)
	for s, slot := range slots {
		for h := 0; h < H; h++ {
			at := func(x []float32, i int) float64 { return float64(x[s*C+h*N+i]) }
			vec := func(x []float32, i int) float64 { return float64(x[h*N+i]) }
			var ss float64
			for i := 0; i < N; i++ {
				x := at(k, i) * vec(kK, i)
				ss += x * x
			}
			norm := math.Max(math.Sqrt(ss), 1e-12)
			kk, kn := make([]float64, N), make([]float64, N)
			for i := 0; i < N; i++ {
				kk[i] = at(k, i) * vec(kK, i) / norm
				kn[i] = at(k, i) * (1 + (at(a, i)-1)*vec(kA, i))
			}
			S := state[slot*width+off+h*N*N : slot*width+off+(h+1)*N*N]
			yh := make([]float64, N)
			for i := 0; i < N; i++ {
				var sa float64
				for j := 0; j < N; j++ {
					sa -= S[i*N+j] * kk[j]
				}
				for j := 0; j < N; j++ {
					S[i*N+j] = S[i*N+j]*at(w, j) + at(v, i)*kn[j] + sa*kk[j]*at(a, j)
					yh[i] += S[i*N+j] * at(r, j)
				}
			}
			var mean, sq, bonus float64
			for i := 0; i < N; i++ {
				mean += yh[i] / float64(N)
				bonus += at(r, i) * kn[i] * vec(rK, i)
			}
			for i := 0; i < N; i++ {
				sq += (yh[i] - mean) * (yh[i] - mean)
			}
			inv := 1 / math.Sqrt(sq/float64(N)+eps)
			for i := 0; i < N; i++ {
				o := (yh[i]-mean)*inv*vec(lnW, i) + vec(lnB, i) + bonus*at(v, i)
				y[s*C+h*N+i] = o * at(g, i)
			}
		}
	}
	return y, state
}

// failsTouchingNothing runs op, a malformed call, and checks that the
// backend reports an error and that none of the operands in keep changed
// (bit for bit).
func failsTouchingNothing(t *testing.T, be backend.Backend, name string, keep []backend.Tensor, op func()) {
	t.Helper()
	before := make([][]float32, len(keep))
	for i, tt := range keep {
		before[i] = read(be, tt)
	}
	op()
	if err := be.Err(); err == nil {
		t.Errorf("%s: no error reported", name)
	}
	for i, tt := range keep {
		for j, v := range read(be, tt) {
			if math.Float32bits(v) != math.Float32bits(before[i][j]) {
				t.Fatalf("%s: operand %d changed at %d by a failed call", name, i, j)
			}
		}
	}
}

// testAttnDecodeV7Errors: malformed calls are reported through Err and touch
// nothing (k, kk, y and the state keep their values).
func testAttnDecodeV7Errors(t *testing.T, f backend.FusedV7, be backend.Backend) {
	r := newRNG(42)
	const H, N, off = 2, 4, 1
	C := H * N
	width := off + H*N*N
	x := func(n int) backend.Tensor { return be.UploadF32(n, C, r.vec(n*C, -1, 1)) }
	vec := func() backend.Tensor { return be.UploadF32(1, C, r.vec(C, 0.5, 1)) }
	kK, kA, rK, lnW, lnB := vec(), vec(), vec(), vec(), vec()
	cases := []struct {
		name  string
		lens  []int
		rows  int
		heads int
		off   int
		gCols int
	}{
		{"prefill step", []int{2}, 2, H, off, C},
		{"mixed step", []int{1, 2}, 3, H, off, C},
		{"heads", []int{1}, 1, 3, off, C},
		{"state range", []int{1}, 1, H, off + 1, C},
		{"gate shape", []int{1}, 1, H, off, C - 1},
	}
	for _, c := range cases {
		n := c.rows
		slots := make([]int, len(c.lens))
		st := be.UploadF32(2, width, r.vec(2*width, -1, 1))
		y, kk, rr, w, k, v, a := x(n), x(n), x(n), x(n), x(n), x(n), x(n)
		g := be.UploadF32(n, c.gCols, r.vec(n*c.gCols, -1, 1))
		failsTouchingNothing(t, be, c.name, []backend.Tensor{y, kk, k, st}, func() {
			be.BeginStep(makeBatch(c.lens, slots))
			f.AttnDecodeV7(y, kk, rr, w, k, v, a, g, kK, kA, rK, lnW, lnB, st, c.off, c.heads, 1e-5)
		})
		for _, tt := range []backend.Tensor{st, y, kk, rr, w, k, v, a, g} {
			be.Free(tt)
		}
	}
	if err := be.Err(); err != nil {
		t.Fatalf("reading after errors: %v", err)
	}
}

// fusedElementwise runs a test of backend.FusedElementwise on backends that
// implement it and skips it on the others.
func fusedElementwise(fn func(*testing.T, backend.FusedElementwise, backend.Backend)) func(*testing.T, backend.Backend) {
	return func(t *testing.T, be backend.Backend) {
		f, ok := be.(backend.FusedElementwise)
		if !ok {
			t.Skipf("%s does not implement backend.FusedElementwise", be.Name())
		}
		fn(t, f, be)
	}
}

// testZipMap: ZipMap gives the bits of Zip followed by Map for every pair of
// functions, with b broadcast or per row and out aliasing a, and agrees with
// a float64 reference.
func testZipMap(t *testing.T, f backend.FusedElementwise, be backend.Backend) {
	r := newRNG(43)
	unary := map[backend.Unary]func(float64) float64{
		backend.Sigmoid:    sigmoid,
		backend.Tanh:       math.Tanh,
		backend.SiLU:       func(x float64) float64 { return x * sigmoid(x) },
		backend.ReLUSquare: func(x float64) float64 { return math.Max(x, 0) * math.Max(x, 0) },
		backend.NegExpExp:  func(x float64) float64 { return math.Exp(-math.Exp(x)) },
		backend.V7Decay:    func(x float64) float64 { return math.Exp(-math.Exp(-0.5) * sigmoid(x)) },
	}
	binary := map[backend.Binary]func(x, y float64) float64{
		backend.Add: func(x, y float64) float64 { return x + y },
		backend.Sub: func(x, y float64) float64 { return x - y },
		backend.Mul: func(x, y float64) float64 { return x * y },
	}
	const rows, cols = 3, 37
	for fb, fr := range binary {
		for gu, gr := range unary {
			for _, brows := range []int{1, rows} {
				for _, alias := range []bool{false, true} {
					av, bv := r.vec(rows*cols, -2, 2), r.vec(brows*cols, -2, 2)
					a, a2, b := be.UploadF32(rows, cols, av), be.UploadF32(rows, cols, av), be.UploadF32(brows, cols, bv)
					out, want := a, be.New(rows, cols)
					if !alias {
						out = be.New(rows, cols)
					}
					f.ZipMap(out, a, b, fb, gu)
					be.Zip(want, a2, b, fb)
					be.Map(want, want, gu)
					what := fmt.Sprintf("ZipMap f=%d g=%d b rows %d alias %v", fb, gu, brows, alias)
					got := read(be, out)
					for i, x := range read(be, want) {
						if math.Float32bits(got[i]) != math.Float32bits(x) {
							t.Fatalf("%s: element %d = %g, Zip then Map %g (not bit-identical)", what, i, got[i], x)
						}
					}
					ref := make([]float64, rows*cols)
					for i := range ref {
						ref[i] = gr(float64(float32(fr(float64(av[i]), float64(bv[(i/cols%brows)*cols+i%cols])))))
					}
					check(t, what, got, ref, nil, 1e-5)
					for _, x := range []backend.Tensor{a, a2, b, want} {
						be.Free(x)
					}
					if !alias {
						be.Free(out)
					}
				}
			}
		}
	}
	// Errors: unknown functions and a bad b shape are reported and touch nothing.
	a, out := be.UploadF32(2, 3, r.vec(6, -1, 1)), be.UploadF32(2, 3, r.vec(6, -1, 1))
	for _, c := range []struct {
		name string
		b    backend.Tensor
		f    backend.Binary
		g    backend.Unary
	}{
		{"binary", be.New(1, 3), backend.Mul + 1, backend.Sigmoid},
		{"unary", be.New(1, 3), backend.Add, backend.V7Decay + 1},
		{"b shape", be.New(2, 2), backend.Add, backend.Sigmoid},
	} {
		failsTouchingNothing(t, be, "ZipMap "+c.name, []backend.Tensor{out}, func() { f.ZipMap(out, a, c.b, c.f, c.g) })
		be.Free(c.b)
	}
	be.Free(a)
	be.Free(out)
}

// fusedNorm runs a test of backend.FusedNorm on backends that implement it
// and skips it on the others.
func fusedNorm(fn func(*testing.T, backend.FusedNorm, backend.Backend)) func(*testing.T, backend.Backend) {
	return func(t *testing.T, be backend.Backend) {
		f, ok := be.(backend.FusedNorm)
		if !ok {
			t.Skipf("%s does not implement backend.FusedNorm", be.Name())
		}
		fn(t, f, be)
	}
}

// testAddNormShiftMix: AddNormShiftMix equals Zip(Add), LayerNorm, Shift and
// MixN run one after the other, in the mixes and in every side effect (x,
// xx, prev, the state), and a float64 reference, over two consecutive steps
// of decode batches (scattered slots) and ragged prefill batches, without a
// residual, with one and with a gated one (Zip(Mul) into xx, then Zip(Add)), both styles, broadcast and per-row mixes, at widths
// on both sides of the block sizes (up to 4096 and above).
func testAddNormShiftMix(t *testing.T, f backend.FusedNorm, be backend.Backend) {
	r := newRNG(44)
	allBatches := append(append([]struct{ lens, slots []int }{}, decodeBatches...), batches...)
	const slots, off, eps = 4, 5, 1e-5
	for ci, C := range []int{1, 7, 64, 200, 256, 769, 1029, 4096, 4099} {
		lnWv, lnBv := r.vec(C, 0.5, 1.5), r.vec(C, -0.5, 0.5)
		lnW, lnB := be.UploadF32(1, C, lnWv), be.UploadF32(1, C, lnBv)
		width := off + C + 3
		// Every batch at the small widths; a decode and a prefill batch at
		// the large ones (the emulated backend runs the kernels on the CPU).
		bcs := allBatches
		if C > 1029 {
			bcs = []struct{ lens, slots []int }{decodeBatches[3], batches[3]}
		}
		for bi, bc := range bcs {
			b := makeBatch(bc.lens, bc.slots)
			n := b.Rows()
			style := []backend.MixStyle{backend.MixLerp, backend.MixDelta}[(ci+bi)%2]
			count := 1 + (ci+2*bi)%backend.MaxMixN
			stv := r.vec(slots*width, -1, 1)
			stF, stC := be.UploadF32(slots, width, stv), be.UploadF32(slots, width, stv)
			for step := 0; step < 2; step++ {
				residual, gated := (ci+bi+step)%3 != 0, (ci+bi+step)%3 == 2
				xv, resv, gatev := r.vec(n*C, -3, 5), r.vec(n*C, -2, 2), r.vec(n*C, 0, 1)
				mvs := make([][]float32, count)
				mixes, outsF, outsC := make([]backend.Tensor, count), make([]backend.Tensor, count), make([]backend.Tensor, count)
				for j := range mixes {
					rows := 1
					if j%2 == 1 {
						rows = n
					}
					mvs[j] = r.vec(rows*C, 0, 1)
					mixes[j], outsF[j], outsC[j] = be.UploadF32(rows, C, mvs[j]), be.New(n, C), be.New(n, C)
				}
				xF, xC, res, gate := be.UploadF32(n, C, xv), be.UploadF32(n, C, xv), be.UploadF32(n, C, resv), be.UploadF32(n, C, gatev)
				xxF, prevF, xxC, prevC := be.New(n, C), be.New(n, C), be.New(n, C), be.New(n, C)
				st0 := read(be, stF)
				var resArg, gateArg backend.Tensor
				if residual {
					resArg = res
				}
				if gated {
					gateArg = gate
				}
				be.BeginStep(b)
				f.AddNormShiftMix(outsF, xxF, prevF, xF, resArg, gateArg, lnW, lnB, stF, off, mixes, style, eps)
				switch {
				case gated:
					be.Zip(xxC, res, gate, backend.Mul)
					be.Zip(xC, xC, xxC, backend.Add)
				case residual:
					be.Zip(xC, xC, res, backend.Add)
				}
				be.LayerNorm(xxC, xC, lnW, lnB, eps)
				be.Shift(prevC, xxC, stC, off)
				be.MixN(outsC, xxC, prevC, mixes, style)
				if err := be.Err(); err != nil {
					t.Fatal(err)
				}
				what := fmt.Sprintf("AddNormShiftMix C=%d %v style %d mixes %d residual %v gated %v step %d", C, bc, style, count, residual, gated, step)
				checkSame(t, be, what+" x", read(be, xF), read(be, xC), 0)
				checkSame(t, be, what+" xx", read(be, xxF), read(be, xxC), 1e-5)
				checkSame(t, be, what+" prev", read(be, prevF), read(be, prevC), 1e-5)
				checkSame(t, be, what+" state", read(be, stF), read(be, stC), 1e-5)
				for j := range outsF {
					checkSame(t, be, fmt.Sprintf("%s out %d", what, j), read(be, outsF[j]), read(be, outsC[j]), 1e-5)
				}
				if !gated {
					gatev = nil
				}
				wx, wxx, wprev, wouts, wst := refAddNormShiftMix(st0, xv, resv, gatev, residual, lnWv, lnBv, mvs, style, b, width, off, C, eps)
				check(t, what+" x vs float64", read(be, xF), wx, nil, 0)
				check(t, what+" xx vs float64", read(be, xxF), wxx, nil, 1e-5)
				check(t, what+" prev vs float64", read(be, prevF), wprev, nil, 1e-5)
				check(t, what+" state vs float64", read(be, stF), wst, nil, 1e-5)
				for j := range outsF {
					check(t, fmt.Sprintf("%s out %d vs float64", what, j), read(be, outsF[j]), wouts[j], nil, 2e-5)
				}
				for _, x := range append(append(append([]backend.Tensor{xF, xC, res, gate, xxF, prevF, xxC, prevC}, mixes...), outsF...), outsC...) {
					be.Free(x)
				}
			}
			be.Free(stF)
			be.Free(stC)
		}
		be.Free(lnW)
		be.Free(lnB)
	}
}

// refAddNormShiftMix is AddNormShiftMix in float64 (the residual sum, and
// the gate's product, rounded to float32, as every backend stores them);
// gate nil: none; st is the state before the step. It returns x, xx, prev,
// the outputs and the state after it.
func refAddNormShiftMix(st, x, res, gate []float32, residual bool, lnW, lnB []float32, mixes [][]float32, style backend.MixStyle,
	b backend.Batch, width, off, C int, eps float64) (wx, xx, prev []float64, outs [][]float64, state []float64) {
	n := b.Rows()
	xs := append([]float32(nil), x...)
	if residual {
		for i := range xs {
			if gate != nil {
				xs[i] += float32(res[i] * gate[i])
			} else {
				xs[i] += res[i]
			}
		}
	}
	xx = refGroupNorm(xs, lnW, lnB, n, C, 1, eps)
	prev, state = make([]float64, n*C), f64(st)
	for s, slot := range b.Slots {
		first, last := b.Offsets[s], b.Offsets[s+1]-1
		for row := first; row <= last; row++ {
			for i := 0; i < C; i++ {
				if row == first {
					prev[row*C+i] = float64(st[slot*width+off+i])
				} else {
					prev[row*C+i] = xx[(row-1)*C+i]
				}
			}
		}
		copy(state[slot*width+off:slot*width+off+C], xx[last*C:(last+1)*C])
	}
	outs = make([][]float64, len(mixes))
	for j, mv := range mixes {
		outs[j] = make([]float64, n*C)
		for i := range outs[j] {
			m, xi, pi := float64(mv[i%len(mv)]), xx[i], prev[i]
			if style == backend.MixLerp {
				outs[j][i] = xi*m + pi*(1-m)
			} else {
				outs[j][i] = xi + (pi-xi)*m
			}
		}
	}
	return f64(xs), xx, prev, outs, state
}

// testAddNormShiftMixErrors: malformed calls are reported through Err and
// touch nothing (x, xx, prev, the outputs and the state keep their values).
func testAddNormShiftMixErrors(t *testing.T, f backend.FusedNorm, be backend.Backend) {
	r := newRNG(45)
	const C, off, width = 6, 1, 9
	var made []backend.Tensor
	up := func(rows, cols int) backend.Tensor {
		t := be.UploadF32(rows, cols, r.vec(rows*cols, -1, 1))
		made = append(made, t)
		return t
	}
	rowT := func(n int) backend.Tensor { return up(n, C) }
	vec := func() backend.Tensor { return up(1, C) }
	lnW, lnB := vec(), vec()
	type call struct {
		outs                   []backend.Tensor
		xx, prev, x, res, gate backend.Tensor
		lw, st                 backend.Tensor
		off                    int
		mixes                  []backend.Tensor
		style                  backend.MixStyle
	}
	cases := []struct {
		name string
		lens []int
		edit func(c *call)
	}{
		{"no mixes", []int{1}, func(c *call) { c.outs, c.mixes = nil, nil }},
		{"outs and mixes", []int{1}, func(c *call) { c.outs = c.outs[:1] }},
		{"too many mixes", []int{1}, func(c *call) {
			for len(c.mixes) <= backend.MaxMixN {
				c.mixes, c.outs = append(c.mixes, vec()), append(c.outs, rowT(1))
			}
		}},
		{"style", []int{1}, func(c *call) { c.style = backend.MixDelta + 1 }},
		{"residual shape", []int{1}, func(c *call) { c.res = rowT(2) }},
		{"x shape", []int{1}, func(c *call) { c.x = up(1, C+1) }},
		{"ln shape", []int{1}, func(c *call) { c.lw = rowT(2) }},
		{"mix shape", []int{1}, func(c *call) { c.mixes[1] = up(1, C-1) }},
		{"state range", []int{1}, func(c *call) { c.off = width - C + 1 }},
		{"negative offset", []int{1}, func(c *call) { c.off = -1 }},
		{"batch rows", []int{2}, func(*call) {}},
		{"state slot", []int{1}, func(c *call) { c.st = up(1, width) }},
		{"output aliases x", []int{1}, func(c *call) { c.outs[0] = c.x }},
		{"xx is prev", []int{1}, func(c *call) { c.prev = c.xx }},
		{"output is a mix", []int{1}, func(c *call) { c.outs[1] = c.mixes[0] }},
		{"x is the residual", []int{1}, func(c *call) { c.res = c.x }},
		{"gate without a residual", []int{1}, func(c *call) { c.res, c.gate = nil, rowT(1) }},
		{"gate shape", []int{1}, func(c *call) { c.gate = up(1, C-1) }},
		{"x is the gate", []int{1}, func(c *call) { c.gate = c.x }},
		{"prev is a mix", []int{1}, func(c *call) { c.prev = c.mixes[1] }},
		{"outputs", []int{1}, func(c *call) { c.outs[1] = c.outs[0] }},
	}
	for _, tc := range cases {
		c := &call{outs: []backend.Tensor{rowT(1), rowT(1)}, xx: rowT(1), prev: rowT(1), x: rowT(1), res: rowT(1), lw: lnW,
			st: up(2, width), off: off, mixes: []backend.Tensor{vec(), rowT(1)}, style: backend.MixDelta}
		keep := append([]backend.Tensor{c.xx, c.prev, c.x, c.st}, c.outs...)
		tc.edit(c)
		slots := make([]int, len(tc.lens))
		slots[0] = 1
		failsTouchingNothing(t, be, tc.name, keep, func() {
			be.BeginStep(makeBatch(tc.lens, slots))
			f.AddNormShiftMix(c.outs, c.xx, c.prev, c.x, c.res, c.gate, c.lw, lnB, c.st, c.off, c.mixes, c.style, 1e-5)
		})
	}
	if err := be.Err(); err != nil {
		t.Fatalf("reading after errors: %v", err)
	}
	for _, tt := range made {
		be.Free(tt)
	}
}

// fusedV5 runs a test of the optional backend.FusedV5 operation on backends
// that implement it and skips it on the others.
func fusedV5(fn func(*testing.T, backend.FusedV5, backend.Backend)) func(*testing.T, backend.Backend) {
	return func(t *testing.T, be backend.Backend) {
		f, ok := be.(backend.FusedV5)
		if !ok {
			t.Skipf("%s does not implement backend.FusedV5", be.Name())
		}
		fn(t, f, be)
	}
}

// testAttnDecodeV5: the fused RWKV-5/6 decode attention equals WKV5,
// GroupNorm and (with a gate) Zip(Mul) run one after the other, in y and in
// the state, over two consecutive steps, for a static decay (RWKV-5) and a
// decay per token (RWKV-6), with and without the gate (RWKV-5.1 has none).
// Tolerances: y within tolReduce of the composition and of float64 (the
// kernel may sum the head's WKV readout and the GroupNorm statistics in
// another order); the state within 1e-5 (elementwise updates, the same
// formula per element).
func testAttnDecodeV5(t *testing.T, f backend.FusedV5, be backend.Backend) {
	r := newRNG(43)
	for _, hs := range [][2]int{{1, 8}, {3, 5}, {2, 64}, {2, 33}} {
		H, N := hs[0], hs[1]
		C := H * N
		const slots, off = 4, 3
		const eps = 64e-5
		width := off + H*N*N + 2
		uv, lnWv, lnBv := r.vec(C, -1, 1), r.vec(C, 0.5, 1.5), r.vec(C, -0.5, 0.5)
		u, lnW, lnB := be.UploadF32(1, C, uv), be.UploadF32(1, C, lnWv), be.UploadF32(1, C, lnBv)
		for _, bc := range decodeBatches {
			for _, variant := range []struct{ perToken, gate bool }{{false, false}, {false, true}, {true, true}} {
				b := makeBatch(bc.lens, bc.slots)
				n := b.Rows()
				wrows := 1
				if variant.perToken {
					wrows = n
				}
				stv := r.vec(slots*width, -1, 1)
				stF, stC := be.UploadF32(slots, width, stv), be.UploadF32(slots, width, stv)
				for step := 0; step < 2; step++ {
					rv, kv, vv, gv := r.vec(n*C, -1, 1), r.vec(n*C, -1, 1), r.vec(n*C, -1, 1), r.vec(n*C, -1, 1)
					wv := r.vec(wrows*C, 0.3, 0.999)
					up := func(v []float32) backend.Tensor { return be.UploadF32(len(v)/C, C, v) }
					rr, k, v, w := up(rv), up(kv), up(vv), up(wv)
					var g backend.Tensor
					if variant.gate {
						g = up(gv)
					} else {
						gv = nil
					}
					yF, yC := be.New(n, C), be.New(n, C)
					st0 := read(be, stF)
					be.BeginStep(b)
					f.AttnDecodeV5(yF, rr, k, v, w, u, g, lnW, lnB, stF, off, H, eps)
					be.WKV5(yC, rr, k, v, w, u, stC, off, H)
					be.GroupNorm(yC, yC, lnW, lnB, H, eps)
					if g != nil {
						be.Zip(yC, yC, g, backend.Mul)
					}
					if err := be.Err(); err != nil {
						t.Fatal(err)
					}
					what := fmt.Sprintf("AttnDecodeV5 H=%d N=%d %v %+v step %d", H, N, bc, variant, step)
					checkSame(t, be, what+" y", read(be, yF), read(be, yC), tolReduce)
					checkSame(t, be, what+" state", read(be, stF), read(be, stC), 1e-5)
					wantY, wantSt := refAttnDecodeV5(st0, rv, kv, vv, wv, uv, gv, lnWv, lnBv, b.Slots, width, off, H, N, eps)
					check(t, what+" y vs float64", read(be, yF), wantY, nil, tolReduce)
					check(t, what+" state vs float64", read(be, stF), wantSt, nil, 1e-5)
					for _, x := range []backend.Tensor{rr, k, v, w, g, yF, yC} {
						if x != nil {
							be.Free(x)
						}
					}
				}
				be.Free(stF)
				be.Free(stC)
			}
		}
		for _, x := range []backend.Tensor{u, lnW, lnB} {
			be.Free(x)
		}
	}
}

// refAttnDecodeV5 is AttnDecodeV5 in float64 for a decode step (row s of the
// inputs is sequence s, state slot slots[s]; w has one row or one per
// sequence; g nil: no gate); st is the state before the step.
func refAttnDecodeV5(st []float32, r, k, v, w, u, g, lnW, lnB []float32, slots []int, width, off, H, N int,
	eps float64) (y, state []float64) {
	C := H * N
	y, state = make([]float64, len(slots)*C), f64(st)
	for s, slot := range slots {
		ws := s
		if len(w) == C {
			ws = 0
		}
		for h := 0; h < H; h++ {
			at := func(x []float32, i int) float64 { return float64(x[s*C+h*N+i]) }
			vec := func(x []float32, i int) float64 { return float64(x[h*N+i]) }
			S := state[slot*width+off+h*N*N : slot*width+off+(h+1)*N*N]
			yh := make([]float64, N)
			for i := 0; i < N; i++ { // key i
				for j := 0; j < N; j++ { // value j
					kvij := at(k, i) * at(v, j)
					yh[j] += at(r, i) * (vec(u, i)*kvij + S[i*N+j])
					S[i*N+j] = kvij + float64(w[ws*C+h*N+i])*S[i*N+j]
				}
			}
			var mean, sq float64
			for i := 0; i < N; i++ {
				mean += yh[i] / float64(N)
			}
			for i := 0; i < N; i++ {
				sq += (yh[i] - mean) * (yh[i] - mean)
			}
			inv := 1 / math.Sqrt(sq/float64(N)+eps)
			for i := 0; i < N; i++ {
				o := (yh[i]-mean)*inv*vec(lnW, i) + vec(lnB, i)
				if g != nil {
					o *= at(g, i)
				}
				y[s*C+h*N+i] = o
			}
		}
	}
	return y, state
}

// testAttnDecodeV5Errors: malformed calls are reported through Err and touch
// nothing (y and the state keep their values).
func testAttnDecodeV5Errors(t *testing.T, f backend.FusedV5, be backend.Backend) {
	r := newRNG(44)
	const H, N, off = 2, 4, 1
	C := H * N
	width := off + H*N*N
	x := func(n int) backend.Tensor { return be.UploadF32(n, C, r.vec(n*C, -1, 1)) }
	vec := func() backend.Tensor { return be.UploadF32(1, C, r.vec(C, 0.5, 1)) }
	u, lnW, lnB := vec(), vec(), vec()
	cases := []struct {
		name  string
		lens  []int
		rows  int
		heads int
		off   int
		gCols int
		wRows int
		alias bool
	}{
		{"prefill step", []int{2}, 2, H, off, C, 1, false},
		{"mixed step", []int{1, 2}, 3, H, off, C, 1, false},
		{"heads", []int{1}, 1, 3, off, C, 1, false},
		{"state range", []int{1}, 1, H, off + 1, C, 1, false},
		{"gate shape", []int{1}, 1, H, off, C - 1, 1, false},
		{"decay rows", []int{1, 1, 1}, 3, H, off, C, 2, false},
		{"y aliases r", []int{1}, 1, H, off, C, 1, true},
	}
	for _, c := range cases {
		n := c.rows
		slots := make([]int, len(c.lens))
		for i := range slots {
			slots[i] = i % 2
		}
		st := be.UploadF32(2, width, r.vec(2*width, -1, 1))
		y, rr, k, v := x(n), x(n), x(n), x(n)
		w := x(c.wRows)
		g := be.UploadF32(n, c.gCols, r.vec(n*c.gCols, -1, 1))
		in := rr
		if c.alias {
			in = y
		}
		failsTouchingNothing(t, be, c.name, []backend.Tensor{y, st}, func() {
			be.BeginStep(makeBatch(c.lens, slots))
			f.AttnDecodeV5(y, in, k, v, w, u, g, lnW, lnB, st, c.off, c.heads, 1e-5)
		})
		for _, tt := range []backend.Tensor{st, y, rr, k, v, w, g} {
			be.Free(tt)
		}
	}
	for _, tt := range []backend.Tensor{u, lnW, lnB} {
		be.Free(tt)
	}
}

// fusedV6 runs a test of the optional backend.FusedV6 operation on backends
// that implement it and skips it on the others.
func fusedV6(fn func(*testing.T, backend.FusedV6, backend.Backend)) func(*testing.T, backend.Backend) {
	return func(t *testing.T, be backend.Backend) {
		f, ok := be.(backend.FusedV6)
		if !ok {
			t.Skipf("%s does not implement backend.FusedV6", be.Name())
		}
		fn(t, f, be)
	}
}

// testAttnDecodeV6: the fused RWKV-6 decode attention equals the decay's
// LoRA-up (MatMul, Zip(Add), Map(NegExpExp)) followed by WKV5, GroupNorm and
// Zip(Mul), in y, in w and in the state, over two consecutive steps, for
// every weight type of the LoRA matrix the backend's MatMul takes (the
// block-quantized types with D a multiple of their 32-element blocks).
// Tolerances: y within tolReduce of the composition and of float64 (the
// kernel may sum the LoRA-up, the head's readout and the GroupNorm's
// statistics in another order); w and the state within 1e-5 (|d exp(-exp(x))
// / dx| <= 1/e, so a reduction error in x of ~1e-6 stays ~1e-6 in w).
func testAttnDecodeV6(t *testing.T, f backend.FusedV6, be backend.Backend) {
	r := newRNG(46)
	type lora struct {
		dt     backend.DType
		wt     weights.DType // block-quantized: its encoding
		shapes [][3]int      // H, N, D
	}
	var loras []lora
	for _, dt := range dtypes {
		loras = append(loras, lora{dt: dt, shapes: [][3]int{{1, 8, 5}, {3, 5, 16}, {2, 64, 32}, {2, 33, 7}}})
	}
	for _, q := range quantTypes {
		loras = append(loras, lora{dt: q.dt, wt: q.w, shapes: [][3]int{{3, 5, 32}, {2, 64, 64}}})
	}
	for _, lr := range loras {
		dt := lr.dt
		if !backend.Supports(be, dt) {
			continue
		}
		for _, hs := range lr.shapes {
			H, N, D := hs[0], hs[1], hs[2]
			C := H * N
			const slots, off = 4, 3
			const eps = 64e-5
			width := off + H*N*N + 2
			uv, lnWv, lnBv, biasv := r.vec(C, -1, 1), r.vec(C, 0.5, 1.5), r.vec(C, -0.5, 0.5), r.vec(C, -4, 0)
			u, lnW, lnB, bias := be.UploadF32(1, C, uv), be.UploadF32(1, C, lnWv), be.UploadF32(1, C, lnBv), be.UploadF32(1, C, biasv)
			var wb []byte
			var w2v []float32
			if dt.Quantized() {
				wb, w2v = quantize(t, lr.wt, r.vec(C*D, -0.5, 0.5))
			} else {
				wb, w2v = encode(dt, r.vec(C*D, -0.5, 0.5))
			}
			w2 := be.Upload(dt, C, D, wb)
			for _, bc := range decodeBatches {
				b := makeBatch(bc.lens, bc.slots)
				n := b.Rows()
				stv := r.vec(slots*width, -1, 1)
				stF, stC := be.UploadF32(slots, width, stv), be.UploadF32(slots, width, stv)
				for step := 0; step < 2; step++ {
					rv, kv, vv, gv := r.vec(n*C, -1, 1), r.vec(n*C, -1, 1), r.vec(n*C, -1, 1), r.vec(n*C, -1, 1)
					lov := r.vec(n*D, -1, 1)
					up := func(v []float32) backend.Tensor { return be.UploadF32(len(v)/C, C, v) }
					rr, k, v, g, lo := up(rv), up(kv), up(vv), up(gv), be.UploadF32(n, D, lov)
					yF, yC, wF, wC := be.New(n, C), be.New(n, C), be.New(n, C), be.New(n, C)
					st0 := read(be, stF)
					be.BeginStep(b)
					f.AttnDecodeV6(yF, wF, rr, k, v, lo, w2, bias, u, g, lnW, lnB, stF, off, H, eps)
					be.MatMul(wC, lo, w2)
					be.Zip(wC, wC, bias, backend.Add)
					be.Map(wC, wC, backend.NegExpExp)
					be.WKV5(yC, rr, k, v, wC, u, stC, off, H)
					be.GroupNorm(yC, yC, lnW, lnB, H, eps)
					be.Zip(yC, yC, g, backend.Mul)
					if err := be.Err(); err != nil {
						t.Fatal(err)
					}
					what := fmt.Sprintf("AttnDecodeV6 %s H=%d N=%d D=%d %v step %d", dt, H, N, D, bc, step)
					checkSame(t, be, what+" w", read(be, wF), read(be, wC), 1e-5)
					checkSame(t, be, what+" y", read(be, yF), read(be, yC), tolReduce)
					checkSame(t, be, what+" state", read(be, stF), read(be, stC), 1e-5)
					wantW := make([]float64, n*C)
					w32 := make([]float32, n*C)
					for s := 0; s < n; s++ {
						for c := 0; c < C; c++ {
							x := float64(biasv[c])
							for d := 0; d < D; d++ {
								x += float64(lov[s*D+d]) * float64(w2v[c*D+d])
							}
							wantW[s*C+c] = math.Exp(-math.Exp(x))
							w32[s*C+c] = float32(wantW[s*C+c])
						}
					}
					check(t, what+" w vs float64", read(be, wF), wantW, nil, 1e-5)
					wantY, wantSt := refAttnDecodeV5(st0, rv, kv, vv, w32, uv, gv, lnWv, lnBv, b.Slots, width, off, H, N, eps)
					check(t, what+" y vs float64", read(be, yF), wantY, nil, tolReduce)
					check(t, what+" state vs float64", read(be, stF), wantSt, nil, 1e-5)
					for _, x := range []backend.Tensor{rr, k, v, g, lo, yF, yC, wF, wC} {
						be.Free(x)
					}
				}
				be.Free(stF)
				be.Free(stC)
			}
			for _, x := range []backend.Tensor{u, lnW, lnB, bias, w2} {
				be.Free(x)
			}
		}
	}
}

// testAttnDecodeV6Errors: malformed calls are reported through Err and touch
// nothing (y, w and the state keep their values).
func testAttnDecodeV6Errors(t *testing.T, f backend.FusedV6, be backend.Backend) {
	r := newRNG(47)
	const H, N, D, off = 2, 4, 3, 1
	C := H * N
	width := off + H*N*N
	var made []backend.Tensor
	up := func(rows, cols int) backend.Tensor {
		t := be.UploadF32(rows, cols, r.vec(rows*cols, -1, 1))
		made = append(made, t)
		return t
	}
	u, lnW, lnB, bias := up(1, C), up(1, C), up(1, C), up(1, C)
	type call struct {
		y, w, r, lo, w2, bias, g backend.Tensor
		heads                    int
	}
	cases := []struct {
		name string
		lens []int
		edit func(c *call)
	}{
		{"prefill step", []int{2}, func(*call) {}},
		{"heads", []int{1}, func(c *call) { c.heads = 3 }},
		{"LoRA rows", []int{1}, func(c *call) { c.lo = up(2, D) }},
		{"LoRA matrix shape", []int{1}, func(c *call) { c.w2 = up(C, D+1) }},
		{"decay shape", []int{1}, func(c *call) { c.bias = up(1, C-1) }},
		{"gate shape", []int{1}, func(c *call) { c.g = up(1, C+1) }},
		{"w is y", []int{1}, func(c *call) { c.w = c.y }},
		{"w is r", []int{1}, func(c *call) { c.w = c.r }},
		{"y is r", []int{1}, func(c *call) { c.y = c.r }},
	}
	for _, tc := range cases {
		n := 0
		for _, l := range tc.lens {
			n += l
		}
		c := &call{y: up(n, C), w: up(n, C), r: up(n, C), lo: up(n, D), w2: up(C, D), bias: bias, g: up(n, C), heads: H}
		k, v, st := up(n, C), up(n, C), up(2, width)
		keep := []backend.Tensor{c.y, c.w, st}
		tc.edit(c)
		slots := make([]int, len(tc.lens))
		failsTouchingNothing(t, be, tc.name, keep, func() {
			be.BeginStep(makeBatch(tc.lens, slots))
			f.AttnDecodeV6(c.y, c.w, c.r, k, v, c.lo, c.w2, c.bias, u, c.g, lnW, lnB, st, off, c.heads, 1e-5)
		})
	}
	for _, tt := range made {
		be.Free(tt)
	}
	if err := be.Err(); err != nil {
		t.Fatalf("after the errors: %v", err)
	}
}

// fusedNormLoRA runs a test of backend.FusedNormLoRA on backends that
// implement it and skips it on the others.
func fusedNormLoRA(fn func(*testing.T, backend.FusedNormLoRA, backend.Backend)) func(*testing.T, backend.Backend) {
	return func(t *testing.T, be backend.Backend) {
		f, ok := be.(backend.FusedNormLoRA)
		if !ok {
			t.Skipf("%s does not implement backend.FusedNormLoRA", be.Name())
		}
		fn(t, f, be)
	}
}

// loraKind is a weight type of the LoRA-downs of testAddNormShiftMixLoRA
// with its encoder: the bytes of a random [rows, cols] matrix and the values
// the backend must compute with.
type loraKind struct {
	dt     backend.DType
	matrix func(rows, cols int) ([]byte, []float64)
	blocks bool // cols must be a multiple of 32
}

// loraKinds returns every weight type of MatMul the backend supports.
func loraKinds(t *testing.T, be backend.Backend, r rng) []loraKind {
	var ks []loraKind
	for _, dt := range dtypes {
		ks = append(ks, loraKind{dt: dt, matrix: func(rows, cols int) ([]byte, []float64) {
			b, v := encode(dt, r.vec(rows*cols, -0.5, 0.5))
			return b, f64(v)
		}})
	}
	for _, st := range scaledTypes {
		ks = append(ks, loraKind{dt: st.dt, matrix: func(rows, cols int) ([]byte, []float64) { return st.matrix(r, rows, cols) }})
	}
	for _, q := range quantTypes {
		ks = append(ks, loraKind{dt: q.dt, blocks: true, matrix: func(rows, cols int) ([]byte, []float64) {
			b, v := quantize(t, q.w, r.vec(rows*cols, -0.5, 0.5))
			return b, f64(v)
		}})
	}
	out := ks[:0]
	for _, k := range ks {
		if backend.Supports(be, k.dt) {
			out = append(out, k)
		}
	}
	return out
}

// testAddNormShiftMixLoRA: AddNormShiftMixLoRA equals AddNormShiftMix
// followed by MatMul and Map(Tanh) of its first output for each LoRA
// matrix, in every output and side effect, over two consecutive steps of
// decode batches (scattered slots) and a ragged prefill batch, with and
// without a (gated) residual, both styles, for every weight type of the
// LoRA matrices the backend's MatMul takes, 1 to MaxGroup matrices of
// several heights, and widths on both sides of the block sizes.
// Tolerances: the opening's outputs as in testAddNormShiftMix (the same
// arithmetic); the LoRA outputs within tolReduce of the float64 product of
// the first output's values with the matrix (relative to the sum of |terms|
// + 1, as MatMul's test: the backend may sum in another order) and of the
// composition on the same backend, through tanh, whose slope is at most 1.
func testAddNormShiftMixLoRA(t *testing.T, f backend.FusedNormLoRA, be backend.Backend) {
	fn, ok := be.(backend.FusedNorm)
	if !ok {
		t.Skipf("%s implements backend.FusedNormLoRA without backend.FusedNorm", be.Name())
	}
	r := newRNG(48)
	const slots, off, eps = 4, 5, 1e-5
	type shape struct {
		C      int
		ds     []int
		floats bool // float weight types only (C not a multiple of 32, or a large case)
	}
	shapes := []shape{
		{64, []int{32, 32, 32, 32, 32}, false},
		{256, []int{5, 1, 9}, false},
		{7, []int{3, 2}, true},
		{769, []int{8, 1, 8, 2, 8, 3, 8, 4}, true},
		{2048, []int{32, 32, 32, 32, 32}, true},
	}
	bcs := []struct{ lens, slots []int }{decodeBatches[0], decodeBatches[2], decodeBatches[3], batches[3]}
	for ki, k := range loraKinds(t, be, r) {
		for si, sh := range shapes {
			if sh.floats && (k.blocks || k.dt.Quantized() || k.dt == backend.I8 || k.dt == backend.F8E4M3) {
				continue
			}
			if sh.C == 2048 && k.dt != backend.F16 {
				continue // the emulated backend runs the kernels on the CPU: one weight type at a model's width
			}
			C := sh.C
			lnWv, lnBv := r.vec(C, 0.5, 1.5), r.vec(C, -0.5, 0.5)
			lnW, lnB := be.UploadF32(1, C, lnWv), be.UploadF32(1, C, lnBv)
			w1 := make([]backend.Tensor, len(sh.ds))
			w1v := make([][]float64, len(sh.ds))
			for j, d := range sh.ds {
				var wb []byte
				wb, w1v[j] = k.matrix(d, C)
				w1[j] = be.Upload(k.dt, d, C, wb)
			}
			width := off + C + 3
			bcs := bcs
			if C > 256 {
				bcs = bcs[2:] // a decode and a prefill batch at the large widths (the emulated backend runs the kernels on the CPU)
			}
			for bi, bc := range bcs {
				b := makeBatch(bc.lens, bc.slots)
				n := b.Rows()
				style := []backend.MixStyle{backend.MixLerp, backend.MixDelta}[(ki+si+bi)%2]
				count := 1 + (ki+si+2*bi)%backend.MaxMixN
				stv := r.vec(slots*width, -1, 1)
				stF, stC := be.UploadF32(slots, width, stv), be.UploadF32(slots, width, stv)
				for step := 0; step < 2; step++ {
					residual, gated := (ki+si+bi+step)%3 != 0, (ki+si+bi+step)%3 == 2
					xv, resv, gatev := r.vec(n*C, -3, 5), r.vec(n*C, -2, 2), r.vec(n*C, 0, 1)
					var made []backend.Tensor
					up := func(rows int, v []float32) backend.Tensor {
						x := be.UploadF32(rows, len(v)/rows, v)
						made = append(made, x)
						return x
					}
					newT := func(rows, cols int) backend.Tensor {
						x := be.New(rows, cols)
						made = append(made, x)
						return x
					}
					mixes, outsF, outsC := make([]backend.Tensor, count), make([]backend.Tensor, count), make([]backend.Tensor, count)
					for j := range mixes {
						rows := 1
						if j%2 == 1 {
							rows = n
						}
						mixes[j], outsF[j], outsC[j] = up(rows, r.vec(rows*C, 0, 1)), newT(n, C), newT(n, C)
					}
					loF, loC := make([]backend.Tensor, len(sh.ds)), make([]backend.Tensor, len(sh.ds))
					for j, d := range sh.ds {
						loF[j], loC[j] = newT(n, d), newT(n, d)
					}
					xF, xC, res, gate := up(n, xv), up(n, xv), up(n, resv), up(n, gatev)
					xxF, prevF, xxC, prevC := newT(n, C), newT(n, C), newT(n, C), newT(n, C)
					var resArg, gateArg backend.Tensor
					if residual {
						resArg = res
					}
					if gated {
						gateArg = gate
					}
					be.BeginStep(b)
					f.AddNormShiftMixLoRA(outsF, xxF, prevF, xF, resArg, gateArg, lnW, lnB, stF, off, mixes, style, eps, loF, w1)
					fn.AddNormShiftMix(outsC, xxC, prevC, xC, resArg, gateArg, lnW, lnB, stC, off, mixes, style, eps)
					for j := range loC {
						be.MatMul(loC[j], outsC[0], w1[j])
						be.Map(loC[j], loC[j], backend.Tanh)
					}
					if err := be.Err(); err != nil {
						t.Fatal(err)
					}
					what := fmt.Sprintf("AddNormShiftMixLoRA %s C=%d D=%v %v style %d mixes %d residual %v gated %v step %d",
						k.dt, C, sh.ds, bc, style, count, residual, gated, step)
					checkSame(t, be, what+" x", read(be, xF), read(be, xC), 0)
					checkSame(t, be, what+" xx", read(be, xxF), read(be, xxC), 1e-5)
					checkSame(t, be, what+" prev", read(be, prevF), read(be, prevC), 1e-5)
					checkSame(t, be, what+" state", read(be, stF), read(be, stC), 1e-5)
					for j := range outsF {
						checkSame(t, be, fmt.Sprintf("%s out %d", what, j), read(be, outsF[j]), read(be, outsC[j]), 1e-5)
					}
					a := read(be, outsF[0])
					for j, d := range sh.ds {
						want, scale := make([]float64, n*d), make([]float64, n*d)
						for tk := 0; tk < n; tk++ {
							for q := 0; q < d; q++ {
								s, sa := 0.0, 0.0
								for i := 0; i < C; i++ {
									p := float64(a[tk*C+i]) * w1v[j][q*C+i]
									s += p
									sa += math.Abs(p)
								}
								want[tk*d+q], scale[tk*d+q] = math.Tanh(s), sa
							}
						}
						got, comp := read(be, loF[j]), read(be, loC[j])
						lw := fmt.Sprintf("%s lo %d", what, j)
						if exactCompositions(be) {
							checkSame(t, be, lw, got, comp, 0)
						} else {
							check(t, lw+" vs the composition", got, f64(comp), scale, 2*tolReduce) // both within tolReduce of float64
						}
						check(t, lw+" vs float64", got, want, scale, tolReduce)
					}
					for _, x := range made {
						be.Free(x)
					}
				}
				be.Free(stF)
				be.Free(stC)
			}
			for _, x := range append([]backend.Tensor{lnW, lnB}, w1...) {
				be.Free(x)
			}
		}
	}
}

// testAddNormShiftMixLoRAErrors: malformed calls, of the opening or of the
// LoRA-downs, are reported through Err and touch nothing (x, xx, prev, the
// outputs, the state and the LoRA outputs keep their values).
func testAddNormShiftMixLoRAErrors(t *testing.T, f backend.FusedNormLoRA, be backend.Backend) {
	r := newRNG(49)
	const C, D, off, width = 6, 6, 1, 9 // D == C: the LoRA outputs have the shape of the opening's
	var made []backend.Tensor
	up := func(rows, cols int) backend.Tensor {
		t := be.UploadF32(rows, cols, r.vec(rows*cols, -1, 1))
		made = append(made, t)
		return t
	}
	rowT := func(n int) backend.Tensor { return up(n, C) }
	vec := func() backend.Tensor { return up(1, C) }
	lnW, lnB := vec(), vec()
	type call struct {
		outs, mixes, lo, w1  []backend.Tensor
		xx, prev, x, res, st backend.Tensor
		style                backend.MixStyle
	}
	cases := []struct {
		name string
		lens []int
		edit func(c *call)
	}{
		{"no LoRA", []int{1}, func(c *call) { c.lo, c.w1 = nil, nil }},
		{"LoRA outputs and matrices", []int{1}, func(c *call) { c.lo = c.lo[:1] }},
		{"too many LoRA products", []int{1}, func(c *call) {
			for len(c.lo) <= backend.MaxGroup {
				c.lo, c.w1 = append(c.lo, up(1, D)), append(c.w1, up(D, C))
			}
		}},
		{"matrix width", []int{1}, func(c *call) { c.w1[1] = up(D, C+1) }},
		{"LoRA output shape", []int{1}, func(c *call) { c.lo[0] = up(1, D+1) }},
		{"LoRA output rows", []int{1}, func(c *call) { c.lo[1] = up(2, D) }},
		{"LoRA output is an output", []int{1}, func(c *call) { c.lo[0] = c.outs[0] }},
		{"LoRA output is x", []int{1}, func(c *call) { c.lo[1] = c.x }},
		{"LoRA outputs", []int{1}, func(c *call) { c.lo[1] = c.lo[0] }},
		{"LoRA output is a matrix", []int{1}, func(c *call) { c.lo[0] = c.w1[1] }},
		{"style", []int{1}, func(c *call) { c.style = backend.MixDelta + 1 }},
		{"batch rows", []int{2}, func(*call) {}},
		{"xx is prev", []int{1}, func(c *call) { c.prev = c.xx }},
	}
	for _, tc := range cases {
		c := &call{outs: []backend.Tensor{rowT(1), rowT(1)}, mixes: []backend.Tensor{vec(), rowT(1)},
			lo: []backend.Tensor{up(1, D), up(1, D)}, w1: []backend.Tensor{up(D, C), up(D, C)},
			xx: rowT(1), prev: rowT(1), x: rowT(1), res: rowT(1), st: up(2, width), style: backend.MixDelta}
		keep := append(append([]backend.Tensor{c.xx, c.prev, c.x, c.st}, c.outs...), c.lo...)
		tc.edit(c)
		slots := make([]int, len(tc.lens))
		slots[0] = 1
		failsTouchingNothing(t, be, tc.name, keep, func() {
			be.BeginStep(makeBatch(tc.lens, slots))
			f.AddNormShiftMixLoRA(c.outs, c.xx, c.prev, c.x, c.res, nil, lnW, lnB, c.st, off, c.mixes, c.style, 1e-5, c.lo, c.w1)
		})
	}
	if err := be.Err(); err != nil {
		t.Fatalf("reading after errors: %v", err)
	}
	for _, tt := range made {
		be.Free(tt)
	}
}
