package engine

import (
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/weights"
)

// forward runs all layers on s.x ([N, C] embeddings after ln0) for the step's batch,
// reading and updating the state rows of the batch's slots.
func (m *Model) forward(s *scratch) {
	per := m.cfg.LayerStateSize()
	C := m.cfg.Embd
	for _, l := range m.layers {
		off := l.index * per
		m.be.LayerNorm(s.xx, s.x, l.ln1w, l.ln1b, m.cfg.LayerNormEps)
		m.be.Shift(s.prev, s.xx, m.states.t, off+C)
		switch m.cfg.Version {
		case weights.V4:
			m.timeMix4(s, l, off)
		case weights.V51, weights.V52:
			m.timeMix5(s, l, off)
		case weights.V6:
			m.timeMix6(s, l, off)
		case weights.V7:
			m.timeMix7(s, l, off)
		}
		m.be.Zip(s.x, s.x, s.out, backend.Add)

		m.be.LayerNorm(s.xx, s.x, l.ln2w, l.ln2b, m.cfg.LayerNormEps)
		m.be.Shift(s.prev, s.xx, m.states.t, off)
		m.channelMix(s, l)
		m.be.Zip(s.x, s.x, s.out, backend.Add)
	}
}

// timeMix4: RWKV-4 attention; result in s.out.
func (m *Model) timeMix4(s *scratch, l *layer, off int) {
	be := m.be
	be.MixN(s.tmOut[:len(l.tmMix)], s.xx, s.prev, l.tmMix, backend.MixLerp) // k v r
	be.MatMul(s.k, s.xk, l.wk)
	be.MatMul(s.v, s.xv, l.wv)
	be.MatMul(s.r, s.xr, l.wr)
	be.Map(s.r, s.r, backend.Sigmoid)
	be.WKV4(s.y, s.k, s.v, l.decay, l.first, m.states.t, off+2*m.cfg.Embd)
	be.Zip(s.y, s.y, s.r, backend.Mul)
	be.MatMul(s.out, s.y, l.wo)
}

// timeMix5: RWKV-5.1/5.2 attention.
func (m *Model) timeMix5(s *scratch, l *layer, off int) {
	be := m.be
	be.MixN(s.tmOut[:len(l.tmMix)], s.xx, s.prev, l.tmMix, backend.MixLerp) // k v r (g)
	be.MatMul(s.k, s.xk, l.wk)
	be.MatMul(s.v, s.xv, l.wv)
	be.MatMul(s.r, s.xr, l.wr)
	be.WKV5(s.y, s.r, s.k, s.v, l.decay, l.first, m.states.t, off+2*m.cfg.Embd, m.cfg.Heads)
	be.GroupNorm(s.y, s.y, l.lnxW, l.lnxB, m.cfg.Heads, m.cfg.GroupNormEps)
	if l.wg != nil {
		be.MatMul(s.g, s.xg, l.wg)
		be.Map(s.g, s.g, backend.SiLU)
		be.Zip(s.y, s.y, s.g, backend.Mul)
	}
	be.MatMul(s.out, s.y, l.wo)
}

// timeMix6: RWKV-6 attention with data-dependent token shift and decay.
func (m *Model) timeMix6(s *scratch, l *layer, off int) {
	be := m.be
	be.Mix(s.xa, s.xx, s.prev, l.mixX, backend.MixDelta) // xxx
	be.MatMul(s.mix5, s.xa, l.maaW1)
	be.Map(s.mix5, s.mix5, backend.Tanh)
	bias := [5]backend.Tensor{l.mixW, l.mixK, l.mixV, l.mixR, l.mixG}
	for j, maa := range s.maa {
		be.Slice(s.mixLo, s.mix5, j*m.cfg.MixLoRA)
		be.MatMul(maa, s.mixLo, l.maaW2[j])
		be.Zip(maa, maa, bias[j], backend.Add)
	}
	be.MixN(s.tmOut, s.xx, s.prev, s.maa[:], backend.MixDelta) // w k v r g
	be.MatMul(s.r, s.xr, l.wr)
	be.MatMul(s.k, s.xk, l.wk)
	be.MatMul(s.v, s.xv, l.wv)
	be.MatMul(s.g, s.xg, l.wg)
	be.Map(s.g, s.g, backend.SiLU)
	be.MatMul(s.decayLo, s.xw, l.decayW1)
	be.Map(s.decayLo, s.decayLo, backend.Tanh)
	be.MatMul(s.w, s.decayLo, l.decayW2)
	be.Zip(s.w, s.w, l.decay, backend.Add)
	be.Map(s.w, s.w, backend.NegExpExp)
	be.WKV5(s.y, s.r, s.k, s.v, s.w, l.first, m.states.t, off+2*m.cfg.Embd, m.cfg.Heads)
	be.GroupNorm(s.y, s.y, l.lnxW, l.lnxB, m.cfg.Heads, m.cfg.GroupNormEps)
	be.Zip(s.y, s.y, s.g, backend.Mul)
	be.MatMul(s.out, s.y, l.wo)
}

// timeMix7: RWKV-7 attention (generalised delta rule).
func (m *Model) timeMix7(s *scratch, l *layer, off int) {
	be := m.be
	H := m.cfg.Heads
	be.MixN(s.tmOut, s.xx, s.prev, l.tmMix, backend.MixDelta) // r w k v a g
	be.MatMul(s.r, s.xr, l.wr)
	be.MatMul(s.decayLo, s.xw, l.w1)
	be.Map(s.decayLo, s.decayLo, backend.Tanh)
	be.MatMul(s.w, s.decayLo, l.w2)
	be.Zip(s.w, s.w, l.w0, backend.Add)
	be.Map(s.w, s.w, backend.V7Decay)
	be.MatMul(s.k, s.xk, l.wk)
	be.MatMul(s.v, s.xv, l.wv)
	be.MatMul(s.aLo, s.xa, l.a1)
	be.MatMul(s.a, s.aLo, l.a2)
	be.Zip(s.a, s.a, l.a0, backend.Add)
	be.Map(s.a, s.a, backend.Sigmoid)
	be.MatMul(s.gLo, s.xg, l.g1)
	be.Map(s.gLo, s.gLo, backend.Sigmoid)
	be.MatMul(s.g, s.gLo, l.g2)
	be.KeyV7(s.kk, s.k, s.a, l.kK, l.kA, H)
	if l.index == 0 {
		be.Zip(s.vFirst, s.v, s.zero, backend.Add) // copy
	} else {
		be.MatMul(s.vLo, s.xv, l.v1)
		be.MatMul(s.tmp, s.vLo, l.v2)
		be.Zip(s.tmp, s.tmp, l.v0, backend.Add)
		be.ValueV7(s.v, s.vFirst, s.tmp)
	}
	be.WKV7(s.y, s.r, s.w, s.k, s.v, s.kk, s.a, m.states.t, off+2*m.cfg.Embd, H)
	be.GroupNorm(s.y, s.y, l.lnxW, l.lnxB, H, m.cfg.GroupNormEps)
	be.BonusV7(s.y, s.r, s.k, s.v, l.rK, H)
	be.Zip(s.y, s.y, s.g, backend.Mul)
	be.MatMul(s.out, s.y, l.wo)
}

// channelMix: the squared-ReLU MLP of every version; result in s.out.
func (m *Model) channelMix(s *scratch, l *layer) {
	be := m.be
	style := backend.MixLerp
	if m.cfg.Version == weights.V6 || m.cfg.Version == weights.V7 {
		style = backend.MixDelta
	}
	be.MixN(s.cmOut[:len(l.cmMix)], s.xx, s.prev, l.cmMix, style) // k (r)
	be.MatMul(s.ffn, s.xk, l.ffnK)
	be.Map(s.ffn, s.ffn, backend.ReLUSquare)
	be.MatMulT(s.out, s.ffn, l.ffnVT) // reads only the rows of non-zero activations
	if l.ffnR != nil {
		be.MatMul(s.r, s.xr, l.ffnR)
		be.Map(s.r, s.r, backend.Sigmoid)
		be.Zip(s.out, s.out, s.r, backend.Mul)
	}
}
