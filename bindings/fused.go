package bindings

import "github.com/rwkvgo/rwkvgo/engine/backend"

var _ backend.FusedNorm = (*Backend)(nil)

// AddNormShiftMix implements backend.FusedNorm with
// rwkvcu_add_norm_shift_mix. Written by hand (the generator skips it)
// because residual may be nil, passed as a NULL handle (no residual add),
// where the generated operations refuse a nil tensor.
func (b *Backend) AddNormShiftMix(outs []backend.Tensor, xx, prev, x, residual, lnW, lnB, state backend.Tensor, off int,
	mixes []backend.Tensor, style backend.MixStyle, eps float32) {
	arg0 := b.handles(0, outs)
	arg1, arg2, arg3 := b.h(xx), b.h(prev), b.h(x)
	var arg4 ptr
	if residual != nil {
		arg4 = b.h(residual)
	}
	arg5, arg6, arg7 := b.h(lnW), b.h(lnB), b.h(state)
	arg8 := b.handles(1, mixes)
	if !b.live() {
		return
	}
	if len(mixes) == 0 {
		b.failf("AddNormShiftMix: no mixes")
		return
	}
	if len(outs) != len(mixes) {
		b.failf("AddNormShiftMix: %d outs and %d mixes", len(outs), len(mixes))
		return
	}
	b.check("rwkvcu_add_norm_shift_mix", b.api.addNormShiftMix(b.ctx, &arg0[0], arg1, arg2, arg3, arg4, arg5, arg6, arg7,
		int64(off), &arg8[0], int32(len(mixes)), int32(style), eps))
}
