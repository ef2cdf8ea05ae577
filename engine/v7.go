package engine

import (
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/weights"
)

// versionV7 is RWKV-7's layer graph. Its six token-shift mixes come in the
// order r, w, k, v, a, g.
var versionV7 = version{
	archs:      []weights.Version{weights.V7},
	newLayer:   func() versionLayer { return &v7Layer{} },
	newScratch: func() any { return &v7Scratch{} },
	mixOuts: func(s *scratch) (tm, cm []backend.Tensor) {
		return []backend.Tensor{s.xr, s.xw, s.xk, s.xv, s.xa, s.xg}, []backend.Tensor{s.xk}
	},
}

// v7Scratch holds RWKV-7's LoRA activations.
type v7Scratch struct {
	DecayLo backend.Tensor `scratch:"DecayLoRA"`
	ALo     backend.Tensor `scratch:"AaaLoRA"`
	GLo     backend.Tensor `scratch:"GateLoRA"`
	VLo     backend.Tensor `scratch:"ValueLoRA"`
}

// v7Layer is an RWKV-7 block (tensor table: weights/v7.go). The value
// residual's V0, V1 and V2 are nil in block 0.
type v7Layer struct {
	block
	X     [6]backend.Tensor // x_r x_w x_k x_v x_a x_g, set by bound
	XR    backend.Tensor    `tensor:"att.x_r"`
	XW    backend.Tensor    `tensor:"att.x_w"`
	XK    backend.Tensor    `tensor:"att.x_k"`
	XV    backend.Tensor    `tensor:"att.x_v"`
	XA    backend.Tensor    `tensor:"att.x_a"`
	XG    backend.Tensor    `tensor:"att.x_g"`
	W0    backend.Tensor    `tensor:"att.w0"`
	W1    backend.Tensor    `tensor:"att.w1"`
	W2    backend.Tensor    `tensor:"att.w2"`
	A0    backend.Tensor    `tensor:"att.a0"`
	A1    backend.Tensor    `tensor:"att.a1"`
	A2    backend.Tensor    `tensor:"att.a2"`
	V0    backend.Tensor    `tensor:"att.v0"`
	V1    backend.Tensor    `tensor:"att.v1"`
	V2    backend.Tensor    `tensor:"att.v2"`
	G1    backend.Tensor    `tensor:"att.g1"`
	G2    backend.Tensor    `tensor:"att.g2"`
	KK    backend.Tensor    `tensor:"att.k_k"`
	KA    backend.Tensor    `tensor:"att.k_a"`
	RK    backend.Tensor    `tensor:"att.r_k"`
	WR    backend.Tensor    `tensor:"att.receptance.weight"`
	WK    backend.Tensor    `tensor:"att.key.weight"`
	WV    backend.Tensor    `tensor:"att.value.weight"`
	WO    backend.Tensor    `tensor:"att.output.weight"`
	LnXW  backend.Tensor    `tensor:"att.ln_x.weight"`
	LnXB  backend.Tensor    `tensor:"att.ln_x.bias"`
	FMixK backend.Tensor    `tensor:"ffn.x_k"`

	cmMixes []backend.Tensor
}

func (l *v7Layer) bound(int) {
	l.X = [6]backend.Tensor{l.XR, l.XW, l.XK, l.XV, l.XA, l.XG}
	l.cmMixes = []backend.Tensor{l.FMixK}
}

func (l *v7Layer) channelMixes() ([]backend.Tensor, backend.MixStyle, backend.Tensor) {
	return l.cmMixes, backend.MixDelta, nil
}

func (l *v7Layer) timeMixes(*scratch) ([]backend.Tensor, backend.MixStyle) {
	return l.X[:], backend.MixDelta // r w k v a g
}

// timeMix: RWKV-7 attention (generalised delta rule); result in s.out.
func (l *v7Layer) timeMix(m *Model, s *scratch, st backend.Tensor) {
	be := m.be
	x := s.ext.(*v7Scratch)
	H := m.cfg.Heads
	v := s.v
	if g := m.products(); g != nil {
		v = l.products(m, s, g)
	} else {
		be.MatMul(s.r, s.xr, l.WR)
		be.MatMul(x.DecayLo, s.xw, l.W1)
		be.Map(x.DecayLo, x.DecayLo, backend.Tanh)
		be.MatMul(s.w, x.DecayLo, l.W2)
		zipMap(be, s.w, l.W0, backend.Add, backend.V7Decay)
		be.MatMul(s.k, s.xk, l.WK)
		be.MatMul(s.v, s.xv, l.WV)
		be.MatMul(x.ALo, s.xa, l.A1)
		be.MatMul(s.a, x.ALo, l.A2)
		zipMap(be, s.a, l.A0, backend.Add, backend.Sigmoid)
		be.MatMul(x.GLo, s.xg, l.G1)
		be.Map(x.GLo, x.GLo, backend.Sigmoid)
		be.MatMul(s.g, x.GLo, l.G2)
		if l.index == 0 {
			be.Zip(s.vFirst, s.v, s.zero, backend.Add) // copy
		} else {
			be.MatMul(x.VLo, s.xv, l.V1)
			be.MatMul(s.tmp, x.VLo, l.V2)
			be.Zip(s.tmp, s.tmp, l.V0, backend.Add)
			be.ValueV7(s.v, s.vFirst, s.tmp)
		}
	}
	if f, ok := be.(backend.FusedV7); ok && m.decode {
		f.AttnDecodeV7(s.y, s.kk, s.r, s.w, s.k, v, s.a, s.g, l.KK, l.KA, l.RK, l.LnXW, l.LnXB,
			st, 2*m.cfg.Embd, H, m.cfg.GroupNormEps)
	} else {
		be.KeyV7(s.kk, s.k, s.a, l.KK, l.KA, H)
		be.WKV7(s.y, s.r, s.w, s.k, v, s.kk, s.a, st, 2*m.cfg.Embd, H)
		be.GroupNorm(s.y, s.y, l.LnXW, l.LnXB, H, m.cfg.GroupNormEps)
		be.BonusV7(s.y, s.r, s.k, v, l.RK, H)
		be.Zip(s.y, s.y, s.g, backend.Mul)
	}
	be.MatMul(s.out, s.y, l.WO)
}

// products computes r, w, k, v, a and g of a decode step as two groups of
// products with epilogues (backend.FusedProducts): first every product of
// the mixed inputs (with the LoRA-downs' activations), then the LoRA-ups
// with their biases and activations, the value residual included. It
// returns the tensor holding v: in block 0 that is vFirst, into which the
// value goes directly (the later blocks' residual reads it; the attention
// does not write v), which saves the op-level graph's copy.
func (l *v7Layer) products(m *Model, s *scratch, g backend.FusedProducts) backend.Tensor {
	x := s.ext.(*v7Scratch)
	v := s.v
	if l.index == 0 {
		v = s.vFirst
	}
	ps := append(m.prods[:0],
		backend.Product{Out: s.r, In: s.xr, W: l.WR},
		backend.Product{Out: x.DecayLo, In: s.xw, W: l.W1, Act: backend.Activate(backend.Tanh)},
		backend.Product{Out: s.k, In: s.xk, W: l.WK},
		backend.Product{Out: v, In: s.xv, W: l.WV},
		backend.Product{Out: x.ALo, In: s.xa, W: l.A1},
		backend.Product{Out: x.GLo, In: s.xg, W: l.G1, Act: backend.Activate(backend.Sigmoid)})
	if l.index > 0 {
		ps = append(ps, backend.Product{Out: x.VLo, In: s.xv, W: l.V1})
	}
	g.MatMulGroup(ps)
	ps = append(m.prods[:0],
		backend.Product{Out: s.w, In: x.DecayLo, W: l.W2, Bias: l.W0, Act: backend.Activate(backend.V7Decay)},
		backend.Product{Out: s.a, In: x.ALo, W: l.A2, Bias: l.A0, Act: backend.Activate(backend.Sigmoid)},
		backend.Product{Out: s.g, In: x.GLo, W: l.G2})
	if l.index > 0 {
		// v += (vFirst - v) * sigmoid(V0 + VLo @ V2): ValueV7's residual
		ps = append(ps, backend.Product{Out: s.v, In: x.VLo, W: l.V2, Bias: l.V0, Act: backend.Activate(backend.Sigmoid),
			Lerp: s.vFirst})
	}
	g.MatMulGroup(ps)
	return v
}

// zipMap sets x = g(f(x, b)): one pass on a backend.FusedElementwise backend
// (the same bits), Zip then Map on the others.
func zipMap(be backend.Backend, x, b backend.Tensor, f backend.Binary, g backend.Unary) {
	if z, ok := be.(backend.FusedElementwise); ok {
		z.ZipMap(x, x, b, f, g)
		return
	}
	be.Zip(x, x, b, f)
	be.Map(x, x, g)
}
