package cpu

import (
	"unsafe"

	"github.com/rwkvgo/rwkvgo/engine/backend"
)

var _ backend.FusedV7 = (*Backend)(nil)

// AttnDecodeV7 implements backend.FusedV7 as the composition it is defined
// by, after checking every operand first so that a failing call touches
// nothing (the composition rescales k before WKV7 would check the state).
func (b *Backend) AttnDecodeV7(y, kk, r, w, k, v, a, g, kK, kA, rK, lnW, lnB, state backend.Tensor, off, heads int, eps float32) {
	const op = "AttnDecodeV7"
	kt := b.t(k)
	if kt == nil || !b.ok(op, kt.rows, kt.cols, y, kk, r, w, k, v, a, g) || !b.ok(op, 1, kt.cols, kK, kA, rK, lnW, lnB) ||
		!b.ok(op, -1, -1, state) {
		return
	}
	if heads <= 0 || kt.cols%heads != 0 {
		b.fail("%s: %d heads do not divide %d", op, heads, kt.cols)
		return
	}
	n := kt.cols / heads
	st := b.t(state)
	bt, ok := b.batch(op, kt.rows, st)
	if !ok || b.stateRow(st, 0, off, heads*n*n) == nil {
		return
	}
	if bt.Seqs() != bt.Rows() {
		b.fail("%s: a decode step has one row per sequence, not %d rows for %d sequences", op, bt.Rows(), bt.Seqs())
		return
	}
	yt, kkt := b.t(y), b.t(kk)
	for _, in := range []backend.Tensor{r, w, k, v, a, g, kK, kA, rK, lnW, lnB, state} {
		if t := b.t(in); t == yt || t == kkt {
			b.fail("%s: y and kk must not alias an input", op)
			return
		}
	}
	if yt == kkt {
		b.fail("%s: y and kk must be distinct", op)
		return
	}
	b.KeyV7(kk, k, a, kK, kA, heads)
	b.WKV7(y, r, w, k, v, kk, a, state, off, heads)
	b.GroupNorm(y, y, lnW, lnB, heads, eps)
	b.BonusV7(y, r, k, v, rK, heads)
	b.Zip(y, y, g, backend.Mul)
}

var _ backend.FusedV5 = (*Backend)(nil)

// AttnDecodeV5 implements backend.FusedV5 as the composition it is defined
// by, after checking every operand first so that a failing call touches
// nothing.
func (b *Backend) AttnDecodeV5(y, r, k, v, w, u, g, lnW, lnB, state backend.Tensor, off, heads int, eps float32) {
	if !b.okAttnV5("AttnDecodeV5", y, r, k, v, w, u, g, lnW, lnB, state, off, heads) {
		return
	}
	b.WKV5(y, r, k, v, w, u, state, off, heads)
	b.GroupNorm(y, y, lnW, lnB, heads, eps)
	if g != nil {
		b.Zip(y, y, g, backend.Mul)
	}
}

// okAttnV5 checks the operands of AttnDecodeV5 (and of AttnDecodeV6's
// attention), recording the first problem.
func (b *Backend) okAttnV5(op string, y, r, k, v, w, u, g, lnW, lnB, state backend.Tensor, off, heads int) bool {
	kt := b.t(k)
	if kt == nil || !b.ok(op, kt.rows, kt.cols, y, r, k, v) || !b.okRow(op, kt.rows, kt.cols, w) ||
		!b.ok(op, 1, kt.cols, u, lnW, lnB) || !b.ok(op, -1, -1, state) {
		return false
	}
	if g != nil && !b.ok(op, kt.rows, kt.cols, g) {
		return false
	}
	if heads <= 0 || kt.cols%heads != 0 {
		b.fail("%s: %d heads do not divide %d", op, heads, kt.cols)
		return false
	}
	n := kt.cols / heads
	st := b.t(state)
	bt, ok := b.batch(op, kt.rows, st)
	if !ok || b.stateRow(st, 0, off, heads*n*n) == nil {
		return false
	}
	if bt.Seqs() != bt.Rows() {
		b.fail("%s: a decode step has one row per sequence, not %d rows for %d sequences", op, bt.Rows(), bt.Seqs())
		return false
	}
	yt := b.t(y)
	for _, in := range [...]backend.Tensor{r, k, v, w, u, g, lnW, lnB, state} {
		if in != nil && b.t(in) == yt {
			b.fail("%s: y must not alias an input", op)
			return false
		}
	}
	return true
}

var _ backend.FusedV6 = (*Backend)(nil)

// AttnDecodeV6 implements backend.FusedV6 as the composition it is defined
// by, after checking every operand first so that a failing call touches
// nothing.
func (b *Backend) AttnDecodeV6(y, w, r, k, v, decayLo, decayW2, decay, u, g, lnW, lnB, state backend.Tensor, off, heads int, eps float32) {
	const op = "AttnDecodeV6"
	if b.err != nil {
		return
	}
	kt, lt, wt := b.t(k), b.t(decayLo), b.t(decayW2)
	if kt == nil || lt == nil || wt == nil || !b.ok(op, kt.rows, kt.cols, w, g) || !b.ok(op, kt.rows, lt.cols, decayLo) ||
		!b.ok(op, 1, kt.cols, decay) || !b.okAttnV5(op, y, r, k, v, w, u, g, lnW, lnB, state, off, heads) {
		return
	}
	if wt.rows != kt.cols || wt.cols != lt.cols {
		b.fail("%s: decayW2 %v, want [%d, %d]", op, wt, kt.cols, lt.cols)
		return
	}
	wo := b.t(w)
	for _, in := range [...]backend.Tensor{y, r, k, v, decayLo, decayW2, decay, u, g, lnW, lnB, state} {
		if b.t(in) == wo {
			b.fail("%s: w must not be y or an input", op)
			return
		}
	}
	b.MatMul(w, decayLo, decayW2)
	b.Zip(w, w, decay, backend.Add)
	b.Map(w, w, backend.NegExpExp)
	b.AttnDecodeV5(y, r, k, v, w, u, g, lnW, lnB, state, off, heads, eps)
}

var _ backend.FusedElementwise = (*Backend)(nil)

// ZipMap implements backend.FusedElementwise as Zip then Map, after checking
// both functions so that a failing call touches nothing.
func (b *Backend) ZipMap(out, a, bb backend.Tensor, f backend.Binary, g backend.Unary) {
	at := b.t(a)
	if at == nil || !b.ok("ZipMap", at.rows, at.cols, a, out) || !b.okRow("ZipMap", at.rows, at.cols, bb) {
		return
	}
	if f > backend.Mul || g > backend.V7Decay {
		b.fail("ZipMap: unknown functions %d, %d", f, g)
		return
	}
	b.Zip(out, a, bb, f)
	b.Map(out, out, g)
}

var _ backend.FusedNorm = (*Backend)(nil)

// AddNormShiftMix implements backend.FusedNorm as the composition it is
// defined by, after checking every operand first so that a failing call
// touches nothing (the composition adds the residual before Shift would
// check the step's batch).
func (b *Backend) AddNormShiftMix(outs []backend.Tensor, xx, prev, x, residual, gate, lnW, lnB, state backend.Tensor, off int,
	mixes []backend.Tensor, style backend.MixStyle, eps float32) {
	if !b.okNorm("AddNormShiftMix", outs, xx, prev, x, residual, gate, lnW, lnB, state, off, mixes, style) {
		return
	}
	b.addNormShiftMix(outs, xx, prev, x, residual, gate, lnW, lnB, state, off, mixes, style, eps)
}

// okNorm checks the operands of AddNormShiftMix (and of
// AddNormShiftMixLoRA's opening), recording the first problem.
func (b *Backend) okNorm(op string, outs []backend.Tensor, xx, prev, x, residual, gate, lnW, lnB, state backend.Tensor, off int,
	mixes []backend.Tensor, style backend.MixStyle) bool {
	if b.err != nil {
		return false
	}
	if len(outs) != len(mixes) || len(outs) < 1 || len(outs) > backend.MaxMixN {
		b.fail("%s: %d outputs and %d mixes, want the same number in [1, %d]", op, len(outs), len(mixes), backend.MaxMixN)
		return false
	}
	if style != backend.MixLerp && style != backend.MixDelta {
		b.fail("%s: unknown style %d", op, style)
		return false
	}
	xt := b.t(x)
	if xt == nil || !b.ok(op, xt.rows, xt.cols, x, xx, prev) || !b.ok(op, xt.rows, xt.cols, outs...) ||
		!b.ok(op, 1, xt.cols, lnW, lnB) || !b.ok(op, -1, -1, state) {
		return false
	}
	if residual != nil && !b.ok(op, xt.rows, xt.cols, residual) {
		return false
	}
	if gate != nil && (residual == nil || !b.ok(op, xt.rows, xt.cols, gate)) {
		if residual == nil {
			b.fail("%s: a gate without a residual", op)
		}
		return false
	}
	for _, m := range mixes {
		if !b.okRow(op, xt.rows, xt.cols, m) {
			return false
		}
	}
	st := b.t(state)
	if _, ok := b.batch(op, xt.rows, st); !ok || b.stateRow(st, 0, off, xt.cols) == nil {
		return false
	}
	var wbuf, rbuf [5 + backend.MaxMixN]backend.Tensor // on the stack: a decode step allocates nothing
	written := append(append(wbuf[:0], xx, prev, x), outs...)
	read := append(append(rbuf[:0], lnW, lnB, state), mixes...)
	if residual != nil {
		read = append(read, residual)
	}
	if gate != nil {
		read = append(read, gate)
	}
	for i, w := range written {
		for _, o := range written[i+1:] {
			if b.t(o) == b.t(w) {
				b.fail("%s: xx, prev, x and the outputs must be distinct tensors", op)
				return false
			}
		}
		for _, in := range read {
			if b.t(in) == b.t(w) {
				b.fail("%s: xx, prev, x and the outputs must not alias an input", op)
				return false
			}
		}
	}
	return true
}

// addNormShiftMix runs the composition AddNormShiftMix is defined by.
func (b *Backend) addNormShiftMix(outs []backend.Tensor, xx, prev, x, residual, gate, lnW, lnB, state backend.Tensor, off int,
	mixes []backend.Tensor, style backend.MixStyle, eps float32) {
	switch {
	case gate != nil:
		b.Zip(xx, residual, gate, backend.Mul)
		b.Zip(x, x, xx, backend.Add)
	case residual != nil:
		b.Zip(x, x, residual, backend.Add)
	}
	b.LayerNorm(xx, x, lnW, lnB, eps)
	b.Shift(prev, xx, state, off)
	b.MixN(outs, xx, prev, mixes, style)
}

var _ backend.FusedNormLoRA = (*Backend)(nil)

// AddNormShiftMixLoRA implements backend.FusedNormLoRA as the composition it
// is defined by, after checking every operand first so that a failing call
// touches nothing.
func (b *Backend) AddNormShiftMixLoRA(outs []backend.Tensor, xx, prev, x, residual, gate, lnW, lnB, state backend.Tensor, off int,
	mixes []backend.Tensor, style backend.MixStyle, eps float32, lo, w1 []backend.Tensor) {
	const op = "AddNormShiftMixLoRA"
	if !b.okNorm(op, outs, xx, prev, x, residual, gate, lnW, lnB, state, off, mixes, style) {
		return
	}
	if len(lo) != len(w1) || len(lo) < 1 || len(lo) > backend.MaxGroup {
		b.fail("%s: %d LoRA outputs and %d matrices, want the same number in [1, %d]", op, len(lo), len(w1), backend.MaxGroup)
		return
	}
	xt := b.t(x)
	for j := range lo {
		wt := b.t(w1[j])
		if wt == nil || !b.ok(op, xt.rows, wt.rows, lo[j]) {
			return
		}
		if wt.cols != xt.cols {
			b.fail("%s: w1[%d] %v, want %d columns", op, j, wt, xt.cols)
			return
		}
	}
	// No LoRA output may share memory with another one or with any operand.
	var buf [8 + 2*backend.MaxMixN + 2*backend.MaxGroup]backend.Tensor // on the stack: a decode step allocates nothing
	operands := append(append(append(append(append(buf[:0], xx, prev, x, residual, gate, lnW, lnB, state), outs...), mixes...), w1...), lo...)
	for j, l := range lo {
		lt := b.t(l)
		for q, o := range operands {
			if o != nil && q != len(operands)-len(lo)+j && overlap(lt, b.t(o)) {
				b.fail("%s: LoRA output %d overlaps another operand", op, j)
				return
			}
		}
	}
	b.addNormShiftMix(outs, xx, prev, x, residual, gate, lnW, lnB, state, off, mixes, style, eps)
	for j := range lo {
		b.MatMul(lo[j], outs[0], w1[j])
		b.Map(lo[j], lo[j], backend.Tanh)
	}
}

var _ backend.FusedProducts = (*Backend)(nil)

// groupEntry is one product of a groupTask.
type groupEntry struct {
	out, x, w, bias, lerp *tensor
	// dst receives the product: out's values, or for a Lerp entry a
	// scratch [N, O] from which the interpolation reads.
	dst   []float32
	f     backend.Unary
	act   bool
	chunk int // weight rows (output columns) per chunk
	first int // the entry's first chunk of the task
}

// groupTask computes the chunks of every product of a MatMulGroup in one run
// of the pool: chunk c is a range of one entry's weight rows, multiplied for
// every token (the same gemm calls as MatMul's, so the same bits), followed
// by the entry's epilogue on those output columns (the same scalar
// functions as Zip, Map and ValueV7).
type groupTask struct {
	es    [backend.MaxGroup]groupEntry
	count int
}

func (g *groupTask) do(c int) {
	j := 0
	for j+1 < g.count && c >= g.es[j+1].first {
		j++
	}
	e := &g.es[j]
	O := e.w.rows
	r0 := (c - e.first) * e.chunk
	r1 := min(r0+e.chunk, O)
	gemm(e.dst, O, e.w, r0, r1, e.x.f32, e.x.rows)
	for t := 0; t < e.x.rows; t++ {
		p := e.dst[t*O+r0 : t*O+r1]
		if e.bias != nil {
			br := e.bias.broadcast(t)[r0:r1]
			for i := range p {
				p[i] = p[i] + br[i]
			}
		}
		if e.act {
			mapInto(p, p, e.f)
		}
		if e.lerp != nil {
			or, lr := e.out.row(t)[r0:r1], e.lerp.row(t)[r0:r1]
			for i := range or {
				or[i] = lerpTo(or[i], lr[i], p[i])
			}
		}
	}
}

// MatMulGroup implements backend.FusedProducts: every operand of every entry
// is checked first (so that a failing call touches nothing), then all the
// products run as one task of the pool, each chunk followed by its
// epilogue: the bits of MatMul, Zip, Map and the interpolation run entry by
// entry.
func (b *Backend) MatMulGroup(entries []backend.Product) {
	const op = "MatMulGroup"
	if b.err != nil {
		return
	}
	if len(entries) < 1 || len(entries) > backend.MaxGroup {
		b.fail("%s: %d products, want 1 to %d", op, len(entries), backend.MaxGroup)
		return
	}
	g := &b.group
	*g = groupTask{count: len(entries)}
	chunks, work, tmp, ok := b.planGroup(g, entries)
	if !ok {
		*g = groupTask{} // keep no tensor of a failed call
		return
	}
	if cap(b.groupTmp) < tmp {
		b.groupTmp = make([]float32, tmp)
	}
	tmp = 0
	for j := range entries {
		e := &g.es[j]
		e.dst = e.out.f32
		if e.lerp != nil {
			e.dst = b.groupTmp[tmp : tmp+len(e.out.f32)]
			tmp += len(e.out.f32)
		}
	}
	b.runSized(g, chunks, work)
	*g = groupTask{}
}

// planGroup checks every operand of entries and fills g's entries; it
// returns the task's chunks, its work (multiply-adds), the scratch the Lerp
// entries need (floats) and whether the group is valid (else an error is
// recorded).
func (b *Backend) planGroup(g *groupTask, entries []backend.Product) (chunks, work, tmp int, ok bool) {
	const op = "MatMulGroup"
	n := -1
	for j, e := range entries {
		ge := &g.es[j]
		if ge.x, ge.w = b.t(e.In), b.t(e.W); ge.x == nil || ge.w == nil {
			return 0, 0, 0, false
		}
		if n < 0 {
			n = ge.x.rows
		}
		O, I := ge.w.rows, ge.w.cols
		if !b.ok(op, n, I, e.In) || !b.ok(op, n, O, e.Out) {
			return 0, 0, 0, false
		}
		ge.out = b.t(e.Out)
		if e.Bias != nil {
			if !b.okRow(op, n, O, e.Bias) {
				return 0, 0, 0, false
			}
			ge.bias = b.t(e.Bias)
		}
		if e.Lerp != nil {
			if !b.ok(op, n, O, e.Lerp) {
				return 0, 0, 0, false
			}
			ge.lerp = b.t(e.Lerp)
			tmp += n * O
		}
		if f, ok := e.Act.Unary(); ok {
			if f > backend.V7Decay {
				b.fail("%s: product %d: unknown activation %d", op, j, e.Act)
				return 0, 0, 0, false
			}
			ge.f, ge.act = f, true
		}
		ge.chunk = max(minRowsPerChunk, (O+b.pool.threads()*chunksPerThread-1)/(b.pool.threads()*chunksPerThread))
		ge.first = chunks
		chunks += (O + ge.chunk - 1) / ge.chunk
		work += n * O * I
	}
	// No output may share memory with another output or with anything an
	// entry reads.
	for j := range entries {
		out := g.es[j].out
		for q := range entries {
			e := &g.es[q]
			for k, in := range []*tensor{e.out, e.x, e.w, e.bias, e.lerp} {
				if in != nil && (q != j || k != 0) && overlap(out, in) {
					b.fail("%s: the output of product %d overlaps an operand of product %d", op, j, q)
					return 0, 0, 0, false
				}
			}
		}
	}
	return chunks, work, tmp, true
}

// overlap reports whether two tensors share memory (views included).
func overlap(a, b *tensor) bool {
	x, y := a.HostBytes(), b.HostBytes()
	if len(x) == 0 || len(y) == 0 {
		return false
	}
	x0, y0 := uintptr(unsafe.Pointer(unsafe.SliceData(x))), uintptr(unsafe.Pointer(unsafe.SliceData(y)))
	return x0 < y0+uintptr(len(y)) && y0 < x0+uintptr(len(x))
}
