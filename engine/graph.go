package engine

import "github.com/rwkvgo/rwkvgo/engine/backend"

// forward runs all layers on s.x ([N, C] embeddings after ln0) for the step's
// batch, reading and updating the batch's slots' rows of each layer's state
// tensor. Each version's time mix is in its own file (v4.go, v5.go, v6.go,
// v7.go).
//
// A sublayer's output (s.out) is added to the residual stream s.x by the
// operation that opens the next sublayer (openSublayer), and the last
// channel mix's after the loop.
func (m *Model) forward(s *scratch) {
	C := m.cfg.Embd
	// residual is the previous sublayer's output, not yet in s.x, and gate
	// the factor it still takes (the channel mix's receptance, which the
	// fused opening applies), or nil.
	var residual, gate backend.Tensor
	for _, l := range m.layers {
		b := l.common()
		st := m.states.layer(b.index) // [slots, per]: ffn_xx, att_xx, then the head state
		mixes, style := l.timeMixes(s)
		if o, ok := l.versionLayer.(fusedOpener); !ok || !o.openTimeMix(m, s, residual, gate, st, C, mixes, style) {
			m.openSublayer(s, residual, gate, b.LN1W, b.LN1B, st, C, s.tmOut[:len(mixes)], mixes, style)
		}
		l.timeMix(m, s, st)

		mixes, style, _ = l.channelMixes()
		m.openSublayer(s, s.out, nil, b.LN2W, b.LN2B, st, 0, s.cmOut[:len(mixes)], mixes, style)
		gate = m.channelMix(s, l)
		residual = s.out
	}
	if gate != nil {
		m.be.Zip(residual, residual, gate, backend.Mul)
	}
	if residual != nil {
		m.be.Zip(s.x, s.x, residual, backend.Add)
	}
}

// openSublayer opens a time mix or a channel mix: it adds residual (nil:
// none; times gate unless gate is nil) to s.x, normalises s.x into s.xx with the sublayer's LayerNorm,
// shifts s.xx into s.prev through the state at column off of st, and computes the
// sublayer's token-shift mixes into outs. One operation on a
// backend.FusedNorm backend (the same bits on the CPU backend), the
// operations it is defined by on the others.
func (m *Model) openSublayer(s *scratch, residual, gate, lnW, lnB, st backend.Tensor, off int, outs, mixes []backend.Tensor, style backend.MixStyle) {
	be, eps := m.be, m.cfg.LayerNormEps
	if f, ok := be.(backend.FusedNorm); ok {
		f.AddNormShiftMix(outs, s.xx, s.prev, s.x, residual, gate, lnW, lnB, st, off, mixes, style, eps)
		return
	}
	if gate != nil {
		be.Zip(residual, residual, gate, backend.Mul)
	}
	if residual != nil {
		be.Zip(s.x, s.x, residual, backend.Add)
	}
	be.LayerNorm(s.xx, s.x, lnW, lnB, eps)
	be.Shift(s.prev, s.xx, st, off)
	be.MixN(outs, s.xx, s.prev, mixes, style)
}

// fusedOpener is a layer whose time mix may run its first operations with
// the opening of the time mix (RWKV-6's LoRA-downs, backend.FusedNormLoRA).
type fusedOpener interface {
	// openTimeMix opens the time mix as Model.openSublayer does, with the
	// layer's first operations, and reports whether it did (else the caller
	// opens it, and the time mix runs those operations itself).
	openTimeMix(m *Model, s *scratch, residual, gate, st backend.Tensor, off int, mixes []backend.Tensor, style backend.MixStyle) bool
}

// channelMix: the squared-ReLU MLP of every version, from the token-shift
// mixes in s.xk (and s.xr); result in s.out. On a backend.FusedNorm backend
// the receptance's factor is left to the next sublayer's opening: it returns
// the tensor s.out still has to be multiplied by (nil: none).
func (m *Model) channelMix(s *scratch, l *layer) (gate backend.Tensor) {
	be := m.be
	b := l.common()
	_, _, receptance := l.channelMixes()
	g := m.products()
	if g != nil {
		// relu(x_k @ K)^2 (and sigmoid(x_r @ R)) as one group
		ps := append(m.prods[:0], backend.Product{Out: s.ffn, In: s.xk, W: b.FFNKey, Act: backend.Activate(backend.ReLUSquare)})
		if receptance != nil {
			ps = append(ps, backend.Product{Out: s.r, In: s.xr, W: receptance, Act: backend.Activate(backend.Sigmoid)})
		}
		g.MatMulGroup(ps)
	} else {
		be.MatMul(s.ffn, s.xk, b.FFNKey)
		be.Map(s.ffn, s.ffn, backend.ReLUSquare)
	}
	if b.FFNValueT.DType().Quantized() {
		be.MatMul(s.out, s.ffn, b.FFNValueT) // kept in its stored [C, F] layout
	} else {
		be.MatMulT(s.out, s.ffn, b.FFNValueT) // reads only the rows of non-zero activations
	}
	if receptance == nil {
		return nil
	}
	if g == nil {
		be.MatMul(s.r, s.xr, receptance)
		be.Map(s.r, s.r, backend.Sigmoid)
	}
	if _, ok := be.(backend.FusedNorm); ok {
		return s.r // the next opening adds s.out * s.r (the same bits)
	}
	be.Zip(s.out, s.out, s.r, backend.Mul)
	return nil
}

// products returns the backend's grouped products on a decode step (the
// layer graphs then compute their products with backend.FusedProducts), nil
// on other steps and on backends without them.
func (m *Model) products() backend.FusedProducts {
	if !m.decode {
		return nil
	}
	g, _ := m.be.(backend.FusedProducts)
	return g
}
