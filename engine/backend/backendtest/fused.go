package backendtest

import (
	"fmt"
	"math"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
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
		before := [][]float32{read(be, y), read(be, kk), read(be, k), read(be, st)}
		be.BeginStep(makeBatch(c.lens, slots))
		f.AttnDecodeV7(y, kk, rr, w, k, v, a, g, kK, kA, rK, lnW, lnB, st, c.off, c.heads, 1e-5)
		if err := be.Err(); err == nil {
			t.Errorf("%s: no error reported", c.name)
		}
		for i, tt := range []backend.Tensor{y, kk, k, st} {
			got := read(be, tt)
			for j := range got {
				if math.Float32bits(got[j]) != math.Float32bits(before[i][j]) {
					t.Fatalf("%s: operand %d changed at %d by a failed call", c.name, i, j)
				}
			}
		}
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
	before := read(be, out)
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
		f.ZipMap(out, a, c.b, c.f, c.g)
		if err := be.Err(); err == nil {
			t.Errorf("ZipMap %s: no error reported", c.name)
		}
		for i, x := range read(be, out) {
			if math.Float32bits(x) != math.Float32bits(before[i]) {
				t.Fatalf("ZipMap %s: out changed at %d by a failed call", c.name, i)
			}
		}
		be.Free(c.b)
	}
	be.Free(a)
	be.Free(out)
}
