package engine

import "github.com/rwkvgo/rwkvgo/engine/backend"

// forward runs all layers on s.x ([N, C] embeddings after ln0) for the step's
// batch, reading and updating the state rows of the batch's slots. Each
// version's time mix is in its own file (v4.go, v5.go, v6.go, v7.go).
func (m *Model) forward(s *scratch) {
	per := m.cfg.LayerStateSize()
	C := m.cfg.Embd
	for _, l := range m.layers {
		b := l.common()
		off := b.index * per
		m.be.LayerNorm(s.xx, s.x, b.LN1W, b.LN1B, m.cfg.LayerNormEps)
		m.be.Shift(s.prev, s.xx, m.states.t, off+C)
		l.timeMix(m, s, off)
		m.be.Zip(s.x, s.x, s.out, backend.Add)

		m.be.LayerNorm(s.xx, s.x, b.LN2W, b.LN2B, m.cfg.LayerNormEps)
		m.be.Shift(s.prev, s.xx, m.states.t, off)
		m.channelMix(s, l)
		m.be.Zip(s.x, s.x, s.out, backend.Add)
	}
}

// channelMix: the squared-ReLU MLP of every version; result in s.out.
func (m *Model) channelMix(s *scratch, l *layer) {
	be := m.be
	b := l.common()
	mixes, style, receptance := l.channelMixes()
	be.MixN(s.cmOut[:len(mixes)], s.xx, s.prev, mixes, style) // k (r)
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
	if receptance != nil {
		if g == nil {
			be.MatMul(s.r, s.xr, receptance)
			be.Map(s.r, s.r, backend.Sigmoid)
		}
		be.Zip(s.out, s.out, s.r, backend.Mul)
	}
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
