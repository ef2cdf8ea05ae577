package engine

import (
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/weights"
)

// versionV4 is RWKV-4's layer graph.
var versionV4 = version{
	archs:    []weights.Version{weights.V4},
	newLayer: func() versionLayer { return &v4Layer{} },
	mixOuts: func(s *scratch) (tm, cm []backend.Tensor) {
		return []backend.Tensor{s.xk, s.xv, s.xr}, []backend.Tensor{s.xk, s.xr}
	},
}

// v4Layer is an RWKV-4 block (tensor table: weights/v4.go).
type v4Layer struct {
	block
	MixK  backend.Tensor `tensor:"att.time_mix_k"`
	MixV  backend.Tensor `tensor:"att.time_mix_v"`
	MixR  backend.Tensor `tensor:"att.time_mix_r"`
	Decay backend.Tensor `tensor:"att.time_decay"` // -exp(time_decay)
	First backend.Tensor `tensor:"att.time_first"`
	WK    backend.Tensor `tensor:"att.key.weight"`
	WV    backend.Tensor `tensor:"att.value.weight"`
	WR    backend.Tensor `tensor:"att.receptance.weight"`
	WO    backend.Tensor `tensor:"att.output.weight"`
	FMixK backend.Tensor `tensor:"ffn.time_mix_k"`
	FMixR backend.Tensor `tensor:"ffn.time_mix_r"`
	FFNR  backend.Tensor `tensor:"ffn.receptance.weight"`

	tmMixes, cmMixes []backend.Tensor
}

func (l *v4Layer) bound(int) {
	l.tmMixes = []backend.Tensor{l.MixK, l.MixV, l.MixR}
	l.cmMixes = []backend.Tensor{l.FMixK, l.FMixR}
}

func (l *v4Layer) channelMixes() ([]backend.Tensor, backend.MixStyle, backend.Tensor) {
	return l.cmMixes, backend.MixLerp, l.FFNR
}

func (l *v4Layer) timeMixes(*scratch) ([]backend.Tensor, backend.MixStyle) {
	return l.tmMixes, backend.MixLerp // k v r
}

// timeMix: RWKV-4 attention; result in s.out.
func (l *v4Layer) timeMix(m *Model, s *scratch, st backend.Tensor) {
	be := m.be
	be.MatMul(s.k, s.xk, l.WK)
	be.MatMul(s.v, s.xv, l.WV)
	be.MatMul(s.r, s.xr, l.WR)
	be.Map(s.r, s.r, backend.Sigmoid)
	be.WKV4(s.y, s.k, s.v, l.Decay, l.First, st, 2*m.cfg.Embd)
	be.Zip(s.y, s.y, s.r, backend.Mul)
	be.MatMul(s.out, s.y, l.WO)
}
