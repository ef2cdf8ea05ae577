package cpu

import "github.com/rwkvgo/rwkvgo/engine/backend"

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
func (b *Backend) AddNormShiftMix(outs []backend.Tensor, xx, prev, x, residual, lnW, lnB, state backend.Tensor, off int,
	mixes []backend.Tensor, style backend.MixStyle, eps float32) {
	const op = "AddNormShiftMix"
	if b.err != nil {
		return
	}
	if len(outs) != len(mixes) || len(outs) < 1 || len(outs) > backend.MaxMixN {
		b.fail("%s: %d outputs and %d mixes, want the same number in [1, %d]", op, len(outs), len(mixes), backend.MaxMixN)
		return
	}
	if style != backend.MixLerp && style != backend.MixDelta {
		b.fail("%s: unknown style %d", op, style)
		return
	}
	xt := b.t(x)
	if xt == nil || !b.ok(op, xt.rows, xt.cols, x, xx, prev) || !b.ok(op, xt.rows, xt.cols, outs...) ||
		!b.ok(op, 1, xt.cols, lnW, lnB) || !b.ok(op, -1, -1, state) {
		return
	}
	if residual != nil && !b.ok(op, xt.rows, xt.cols, residual) {
		return
	}
	for _, m := range mixes {
		if !b.okRow(op, xt.rows, xt.cols, m) {
			return
		}
	}
	st := b.t(state)
	if _, ok := b.batch(op, xt.rows, st); !ok || b.stateRow(st, 0, off, xt.cols) == nil {
		return
	}
	var wbuf, rbuf [4 + backend.MaxMixN]backend.Tensor // on the stack: a decode step allocates nothing
	written := append(append(wbuf[:0], xx, prev, x), outs...)
	read := append(append(rbuf[:0], lnW, lnB, state), mixes...)
	if residual != nil {
		read = append(read, residual)
	}
	for i, w := range written {
		for _, o := range written[i+1:] {
			if b.t(o) == b.t(w) {
				b.fail("%s: xx, prev, x and the outputs must be distinct tensors", op)
				return
			}
		}
		for _, in := range read {
			if b.t(in) == b.t(w) {
				b.fail("%s: xx, prev, x and the outputs must not alias an input", op)
				return
			}
		}
	}
	if residual != nil {
		b.Zip(x, x, residual, backend.Add)
	}
	b.LayerNorm(xx, x, lnW, lnB, eps)
	b.Shift(prev, xx, state, off)
	b.MixN(outs, xx, prev, mixes, style)
}
