package engine

import (
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/weights"
)

// versionV6 is RWKV-6's layer graph. Its time mix opens with one static mix
// (time_maa_x, into s.xa); its five data-dependent mixes come in
// time_maa_w2's order: w, k, v, r, g.
var versionV6 = version{
	archs:      []weights.Version{weights.V6},
	newLayer:   func() versionLayer { return &v6Layer{} },
	newScratch: func() any { return &v6Scratch{} },
	mixOuts: func(s *scratch) (tm, cm []backend.Tensor) {
		return []backend.Tensor{s.xa, s.xw, s.xk, s.xv, s.xr, s.xg}, []backend.Tensor{s.xk, s.xr}
	},
}

// v6Scratch holds RWKV-6's own activations.
type v6Scratch struct {
	MixLo   [5]backend.Tensor `scratch:"MixLoRA"` // tanh(xxx @ maa_w1[j]): the five LoRA inputs
	DecayLo backend.Tensor    `scratch:"DecayLoRA"`
	Maa     [5]backend.Tensor `scratch:"Embd"` // the data-dependent mixes, order w k v r g

	open [6]backend.Tensor // the opening's mixes (timeMixes)
}

// v6Layer is an RWKV-6 block (tensor table: weights/v6.go).
type v6Layer struct {
	block
	MixX    backend.Tensor    `tensor:"att.time_maa_x"`
	MixW    backend.Tensor    `tensor:"att.time_maa_w"`
	MixK    backend.Tensor    `tensor:"att.time_maa_k"`
	MixV    backend.Tensor    `tensor:"att.time_maa_v"`
	MixR    backend.Tensor    `tensor:"att.time_maa_r"`
	MixG    backend.Tensor    `tensor:"att.time_maa_g"`
	MaaW1   [5]backend.Tensor `tensor:"att.time_maa_w1,rows"` // [D, C] each: [5D, C] by blocks of rows, order w k v r g
	MaaW2   [5]backend.Tensor `tensor:"att.time_maa_w2.%d"`   // [C, D] each, order w k v r g
	Decay   backend.Tensor    `tensor:"att.time_decay"`
	DecayW1 backend.Tensor    `tensor:"att.time_decay_w1"`
	DecayW2 backend.Tensor    `tensor:"att.time_decay_w2"`
	First   backend.Tensor    `tensor:"att.time_first"`
	LnXW    backend.Tensor    `tensor:"att.ln_x.weight"`
	LnXB    backend.Tensor    `tensor:"att.ln_x.bias"`
	WR      backend.Tensor    `tensor:"att.receptance.weight"`
	WK      backend.Tensor    `tensor:"att.key.weight"`
	WV      backend.Tensor    `tensor:"att.value.weight"`
	WO      backend.Tensor    `tensor:"att.output.weight"`
	WG      backend.Tensor    `tensor:"att.gate.weight"`
	FMixK   backend.Tensor    `tensor:"ffn.time_maa_k"`
	FMixR   backend.Tensor    `tensor:"ffn.time_maa_r"`
	FFNR    backend.Tensor    `tensor:"ffn.receptance.weight"`

	bias    [5]backend.Tensor // the mixes' static parts, order w k v r g
	cmMixes []backend.Tensor
}

func (l *v6Layer) bound(int) {
	l.bias = [5]backend.Tensor{l.MixW, l.MixK, l.MixV, l.MixR, l.MixG}
	l.cmMixes = []backend.Tensor{l.FMixK, l.FMixR}
}

// timeMixes: the static mix time_maa_x into s.xa, and the normalised rows
// themselves (a zero mix) into the five data-dependent mixes' outputs, which
// their LoRA-ups then interpolate towards the previous rows in place.
func (l *v6Layer) timeMixes(s *scratch) ([]backend.Tensor, backend.MixStyle) {
	x := s.ext.(*v6Scratch)
	x.open = [6]backend.Tensor{l.MixX, s.zero, s.zero, s.zero, s.zero, s.zero}
	return x.open[:], backend.MixDelta // xxx, then x itself five times
}

func (l *v6Layer) channelMixes() ([]backend.Tensor, backend.MixStyle, backend.Tensor) {
	return l.cmMixes, backend.MixDelta, l.FFNR
}

// normLoRA returns the backend's opening with the LoRA-downs on a decode
// step with grouped products (the layer graph then opens the time mix with
// the mixes' five LoRA-downs), nil otherwise.
func (m *Model) normLoRA() backend.FusedNormLoRA {
	if m.products() == nil {
		return nil
	}
	f, _ := m.be.(backend.FusedNormLoRA)
	return f
}

// openTimeMix: on a backend.FusedNormLoRA backend's decode step the opening
// and the mixes' five LoRA-downs with their tanh are one operation.
func (l *v6Layer) openTimeMix(m *Model, s *scratch, residual, gate, st backend.Tensor, off int, mixes []backend.Tensor,
	style backend.MixStyle) bool {
	f := m.normLoRA()
	if f == nil {
		return false
	}
	x := s.ext.(*v6Scratch)
	f.AddNormShiftMixLoRA(s.tmOut[:len(mixes)], s.xx, s.prev, s.x, residual, gate, l.LN1W, l.LN1B, st, off, mixes, style,
		m.cfg.LayerNormEps, x.MixLo[:], l.MaaW1[:])
	return true
}

// timeMix: RWKV-6 attention with data-dependent token shift and decay. On a
// decode step with backend.FusedProducts its products run as four groups
// with their epilogues: the mixes' five LoRA-downs with their tanh (inside
// the opening on a backend.FusedNormLoRA backend, openTimeMix), their
// five LoRA-ups with the static mixes as biases and the token shift's
// interpolation (x + (prev - x) * mix, from the normalised rows the opening
// left in the outputs), the products of the mixed inputs (with the gate's
// SiLU and the decay's LoRA-down), and the decay's LoRA-up, which a
// backend.FusedV6 backend computes inside the decode attention.
func (l *v6Layer) timeMix(m *Model, s *scratch, st backend.Tensor) {
	be := m.be
	x := s.ext.(*v6Scratch)
	g := m.products()
	if g != nil {
		ps := m.prods[:0]
		if m.normLoRA() == nil { // else the opening computed them
			for j, lo := range x.MixLo {
				ps = append(ps, backend.Product{Out: lo, In: s.xa, W: l.MaaW1[j], Act: backend.Activate(backend.Tanh)})
			}
			g.MatMulGroup(ps)
			ps = m.prods[:0]
		}
		for j, out := range s.tmOut[1:6] { // w k v r g
			ps = append(ps, backend.Product{Out: out, In: x.MixLo[j], W: l.MaaW2[j], Bias: l.bias[j], Lerp: s.prev})
		}
		g.MatMulGroup(ps)
	} else {
		for j, maa := range x.Maa {
			be.MatMul(x.MixLo[j], s.xa, l.MaaW1[j])
			be.Map(x.MixLo[j], x.MixLo[j], backend.Tanh)
			be.MatMul(maa, x.MixLo[j], l.MaaW2[j])
			be.Zip(maa, maa, l.bias[j], backend.Add)
		}
		be.MixN(s.tmOut[1:6], s.xx, s.prev, x.Maa[:], backend.MixDelta) // w k v r g
	}
	if g != nil {
		// the products of the mixed inputs, then the decay's LoRA-up
		g.MatMulGroup(append(m.prods[:0],
			backend.Product{Out: s.r, In: s.xr, W: l.WR},
			backend.Product{Out: s.k, In: s.xk, W: l.WK},
			backend.Product{Out: s.v, In: s.xv, W: l.WV},
			backend.Product{Out: s.g, In: s.xg, W: l.WG, Act: backend.Activate(backend.SiLU)},
			backend.Product{Out: x.DecayLo, In: s.xw, W: l.DecayW1, Act: backend.Activate(backend.Tanh)}))
		if f, ok := be.(backend.FusedV6); ok {
			// the decay's LoRA-up inside the attention
			f.AttnDecodeV6(s.y, s.w, s.r, s.k, s.v, x.DecayLo, l.DecayW2, l.Decay, l.First, s.g, l.LnXW, l.LnXB,
				st, 2*m.cfg.Embd, m.cfg.Heads, m.cfg.GroupNormEps)
			be.MatMul(s.out, s.y, l.WO)
			return
		}
		g.MatMulGroup(append(m.prods[:0],
			backend.Product{Out: s.w, In: x.DecayLo, W: l.DecayW2, Bias: l.Decay, Act: backend.Activate(backend.NegExpExp)}))
	} else {
		be.MatMul(s.r, s.xr, l.WR)
		be.MatMul(s.k, s.xk, l.WK)
		be.MatMul(s.v, s.xv, l.WV)
		be.MatMul(s.g, s.xg, l.WG)
		be.Map(s.g, s.g, backend.SiLU)
		be.MatMul(x.DecayLo, s.xw, l.DecayW1)
		be.Map(x.DecayLo, x.DecayLo, backend.Tanh)
		be.MatMul(s.w, x.DecayLo, l.DecayW2)
		be.Zip(s.w, s.w, l.Decay, backend.Add)
		be.Map(s.w, s.w, backend.NegExpExp)
	}
	attnV5(m, s.y, s.r, s.k, s.v, s.w, l.First, s.g, l.LnXW, l.LnXB, st)
	be.MatMul(s.out, s.y, l.WO)
}
