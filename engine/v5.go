package engine

import (
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/weights"
)

// versionV5 is the layer graph of RWKV-5.1 and 5.2 (5.2 adds the gate).
var versionV5 = version{
	archs:    []weights.Version{weights.V51, weights.V52},
	newLayer: func() versionLayer { return &v5Layer{} },
	mixOuts: func(s *scratch) (tm, cm []backend.Tensor) {
		return []backend.Tensor{s.xk, s.xv, s.xr, s.xg}, []backend.Tensor{s.xk, s.xr}
	},
}

// v5Layer is an RWKV-5.x block (tensor tables: weights/v5.go). Gate fields
// are nil for v5.1.
type v5Layer struct {
	block
	MixK  backend.Tensor `tensor:"att.time_mix_k"`
	MixV  backend.Tensor `tensor:"att.time_mix_v"`
	MixR  backend.Tensor `tensor:"att.time_mix_r"`
	MixG  backend.Tensor `tensor:"att.time_mix_g"`
	Decay backend.Tensor `tensor:"att.time_decay"` // exp(-exp(w))
	First backend.Tensor `tensor:"att.time_first"`
	LnXW  backend.Tensor `tensor:"att.ln_x.weight"`
	LnXB  backend.Tensor `tensor:"att.ln_x.bias"`
	WK    backend.Tensor `tensor:"att.key.weight"`
	WV    backend.Tensor `tensor:"att.value.weight"`
	WR    backend.Tensor `tensor:"att.receptance.weight"`
	WO    backend.Tensor `tensor:"att.output.weight"`
	WG    backend.Tensor `tensor:"att.gate.weight"`
	FMixK backend.Tensor `tensor:"ffn.time_mix_k"`
	FMixR backend.Tensor `tensor:"ffn.time_mix_r"`
	FFNR  backend.Tensor `tensor:"ffn.receptance.weight"`

	tmMixes, cmMixes []backend.Tensor
}

func (l *v5Layer) bound(int) {
	l.tmMixes = []backend.Tensor{l.MixK, l.MixV, l.MixR}
	if l.MixG != nil {
		l.tmMixes = append(l.tmMixes, l.MixG)
	}
	l.cmMixes = []backend.Tensor{l.FMixK, l.FMixR}
}

func (l *v5Layer) channelMixes() ([]backend.Tensor, backend.MixStyle, backend.Tensor) {
	return l.cmMixes, backend.MixLerp, l.FFNR
}

func (l *v5Layer) timeMixes(*scratch) ([]backend.Tensor, backend.MixStyle) {
	return l.tmMixes, backend.MixLerp // k v r (g)
}

// timeMix: RWKV-5.1/5.2 attention; result in s.out.
func (l *v5Layer) timeMix(m *Model, s *scratch, st backend.Tensor) {
	be := m.be
	g := m.products()
	if g != nil {
		// every product of the mixed inputs (and the gate's SiLU) as one group
		ps := append(m.prods[:0],
			backend.Product{Out: s.k, In: s.xk, W: l.WK},
			backend.Product{Out: s.v, In: s.xv, W: l.WV},
			backend.Product{Out: s.r, In: s.xr, W: l.WR})
		if l.WG != nil {
			ps = append(ps, backend.Product{Out: s.g, In: s.xg, W: l.WG, Act: backend.Activate(backend.SiLU)})
		}
		g.MatMulGroup(ps)
	} else {
		be.MatMul(s.k, s.xk, l.WK)
		be.MatMul(s.v, s.xv, l.WV)
		be.MatMul(s.r, s.xr, l.WR)
	}
	if l.WG != nil && g == nil {
		be.MatMul(s.g, s.xg, l.WG)
		be.Map(s.g, s.g, backend.SiLU)
	}
	var gate backend.Tensor // v5.1 has none
	if l.WG != nil {
		gate = s.g
	}
	attnV5(m, s.y, s.r, s.k, s.v, l.Decay, l.First, gate, l.LnXW, l.LnXB, st)
	be.MatMul(s.out, s.y, l.WO)
}

// attnV5 computes the core of RWKV-5's and RWKV-6's attention into y: WKV5
// over the head state in columns [2C, per) of st (the layer's state tensor), the heads' GroupNorm and, when gate is not
// nil, the gate multiply. One operation on a decode step of a
// backend.FusedV5 backend (the same bits on the CPU backend), the operations
// it is defined by otherwise.
func attnV5(m *Model, y, r, k, v, w, u, gate, lnW, lnB, st backend.Tensor) {
	be, H, eps := m.be, m.cfg.Heads, m.cfg.GroupNormEps
	if f, ok := be.(backend.FusedV5); ok && m.decode {
		f.AttnDecodeV5(y, r, k, v, w, u, gate, lnW, lnB, st, 2*m.cfg.Embd, H, eps)
		return
	}
	be.WKV5(y, r, k, v, w, u, st, 2*m.cfg.Embd, H)
	be.GroupNorm(y, y, lnW, lnB, H, eps)
	if gate != nil {
		be.Zip(y, y, gate, backend.Mul)
	}
}
