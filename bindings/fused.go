package bindings

import "github.com/rwkvgo/rwkvgo/engine/backend"

var _ backend.FusedNorm = (*Backend)(nil)

// AddNormShiftMix implements backend.FusedNorm with
// rwkvcu_add_norm_shift_mix. Written by hand (the generator skips it)
// because residual and gate may be nil, passed as NULL handles (no residual
// add, no gate),
// where the generated operations refuse a nil tensor.
func (b *Backend) AddNormShiftMix(outs []backend.Tensor, xx, prev, x, residual, gate, lnW, lnB, state backend.Tensor, off int,
	mixes []backend.Tensor, style backend.MixStyle, eps float32) {
	arg0 := b.handles(0, outs)
	arg1, arg2, arg3 := b.h(xx), b.h(prev), b.h(x)
	var arg4 ptr
	if residual != nil {
		arg4 = b.h(residual)
	}
	var argGate ptr
	if gate != nil {
		argGate = b.h(gate)
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
	b.check("rwkvcu_add_norm_shift_mix", b.api.addNormShiftMix(b.ctx, &arg0[0], arg1, arg2, arg3, arg4, argGate, arg5, arg6, arg7,
		int64(off), &arg8[0], int32(len(mixes)), int32(style), eps))
}

var _ backend.FusedV5 = (*Backend)(nil)

// AttnDecodeV5 implements backend.FusedV5 with rwkvcu_attn_decode_v5.
// Written by hand (the generator skips it) because g may be nil, passed as
// a NULL handle (no gate), where the generated operations refuse a nil
// tensor.
func (b *Backend) AttnDecodeV5(y, r, k, v, w, u, g, lnW, lnB, state backend.Tensor, off, heads int, eps float32) {
	arg0, arg1, arg2, arg3, arg4, arg5 := b.h(y), b.h(r), b.h(k), b.h(v), b.h(w), b.h(u)
	var arg6 ptr
	if g != nil {
		arg6 = b.h(g)
	}
	arg7, arg8, arg9 := b.h(lnW), b.h(lnB), b.h(state)
	if !b.live() {
		return
	}
	b.check("rwkvcu_attn_decode_v5", b.api.attnDecodeV5(b.ctx, arg0, arg1, arg2, arg3, arg4, arg5, arg6, arg7, arg8, arg9,
		int64(off), int32(heads), eps))
}

var _ backend.FusedNormLoRA = (*Backend)(nil)

// AddNormShiftMixLoRA implements backend.FusedNormLoRA with
// rwkvcu_add_norm_shift_mix_lora. Written by hand (the generator skips it)
// because residual and gate may be nil, as in AddNormShiftMix.
func (b *Backend) AddNormShiftMixLoRA(outs []backend.Tensor, xx, prev, x, residual, gate, lnW, lnB, state backend.Tensor, off int,
	mixes []backend.Tensor, style backend.MixStyle, eps float32, lo, w1 []backend.Tensor) {
	arg0 := b.handles(0, outs)
	arg1, arg2, arg3 := b.h(xx), b.h(prev), b.h(x)
	var arg4, argGate ptr
	if residual != nil {
		arg4 = b.h(residual)
	}
	if gate != nil {
		argGate = b.h(gate)
	}
	arg5, arg6, arg7 := b.h(lnW), b.h(lnB), b.h(state)
	arg8 := b.handles(1, mixes)
	argLo, argW1 := b.handles(2, lo), b.handles(3, w1)
	if !b.live() {
		return
	}
	if len(mixes) == 0 || len(lo) == 0 {
		b.failf("AddNormShiftMixLoRA: no mixes or no LoRA products")
		return
	}
	if len(outs) != len(mixes) || len(lo) != len(w1) {
		b.failf("AddNormShiftMixLoRA: %d outs and %d mixes, %d LoRA outputs and %d matrices", len(outs), len(mixes), len(lo), len(w1))
		return
	}
	b.check("rwkvcu_add_norm_shift_mix_lora", b.api.addNormShiftMixLora(b.ctx, &arg0[0], arg1, arg2, arg3, arg4, argGate, arg5, arg6,
		arg7, int64(off), &arg8[0], int32(len(mixes)), int32(style), eps, &argLo[0], &argW1[0], int32(len(lo))))
}
