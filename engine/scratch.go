package engine

import (
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/weights"
)

// scratch holds the activation tensors of one step of n rows.
type scratch struct {
	x, xx, prev, out, y, tmp            backend.Tensor
	xr, xw, xk, xv, xa, xg              backend.Tensor
	r, w, k, v, a, g, kk, vFirst        backend.Tensor
	ffn                                 backend.Tensor
	mix5, mixLo, decayLo, aLo, gLo, vLo backend.Tensor
	zero                                backend.Tensor
	maa                                 [5]backend.Tensor // v6 data-dependent mixes, order w k v r g

	// The outputs of the token shift's MixN calls (see layer.tmMix and
	// layer.cmMix): tmOut for the time mix, cmOut for the channel mix; the
	// graph uses the first len(mixes) of them.
	tmOut, cmOut []backend.Tensor
}

// linkMixes sets the MixN output lists of s for the model version.
func (s *scratch) linkMixes(cfg weights.Config) {
	switch cfg.Version {
	case weights.V6:
		s.tmOut = []backend.Tensor{s.xw, s.xk, s.xv, s.xr, s.xg}
	case weights.V7:
		s.tmOut = []backend.Tensor{s.xr, s.xw, s.xk, s.xv, s.xa, s.xg}
	default:
		s.tmOut = []backend.Tensor{s.xk, s.xv, s.xr, s.xg}
	}
	s.cmOut = []backend.Tensor{s.xk, s.xr}
}

// freeAll releases every buffer, including the head's.
func (c *scratchCache) freeAll(be backend.Backend) {
	c.free(be)
	if c.fullHead != nil {
		be.Free(c.fullHead.hid)
		be.Free(c.fullHead.logits)
	}
	*c = scratchCache{}
}

// head holds the tensors of the output head for r rows.
type headScratch struct {
	hid, logits backend.Tensor
}

// scratchCache owns full-capacity activation tensors and hands out cached
// views for each step size, so steady-state steps allocate nothing.
type scratchCache struct {
	capacity int
	headCap  int
	full     *scratch
	fullHead *headScratch
	all      []backend.Tensor
	views    map[int]*scratch
	heads    map[int]*headScratch
}

const maxCachedViews = 64

// get returns activations for n rows, growing the buffers when needed.
func (c *scratchCache) get(be backend.Backend, cfg weights.Config, n int) *scratch {
	if n > c.capacity {
		c.free(be)
		capacity := 1
		for capacity < n {
			capacity *= 2
		}
		c.alloc(be, cfg, capacity)
	}
	if s, ok := c.views[n]; ok {
		return s
	}
	if len(c.views) >= maxCachedViews {
		c.views = map[int]*scratch{}
	}
	f := c.full
	v := func(t backend.Tensor) backend.Tensor {
		if t == nil {
			return nil
		}
		return be.View(t, n)
	}
	s := &scratch{
		x: v(f.x), xx: v(f.xx), prev: v(f.prev), out: v(f.out), y: v(f.y), tmp: v(f.tmp),
		xr: v(f.xr), xw: v(f.xw), xk: v(f.xk), xv: v(f.xv), xa: v(f.xa), xg: v(f.xg),
		r: v(f.r), w: v(f.w), k: v(f.k), v: v(f.v), a: v(f.a), g: v(f.g), kk: v(f.kk), vFirst: v(f.vFirst),
		ffn: v(f.ffn), mix5: v(f.mix5), mixLo: v(f.mixLo), decayLo: v(f.decayLo), aLo: v(f.aLo), gLo: v(f.gLo), vLo: v(f.vLo),
		zero: f.zero,
	}
	for j, t := range f.maa {
		s.maa[j] = v(t)
	}
	s.linkMixes(cfg)
	c.views[n] = s
	return s
}

// head returns output-head tensors for r rows (r <= the current capacity).
func (c *scratchCache) head(be backend.Backend, cfg weights.Config, r int) *headScratch {
	if r > c.headCap {
		if c.fullHead != nil {
			be.Free(c.fullHead.hid)
			be.Free(c.fullHead.logits)
		}
		c.headCap = max(r, 2*c.headCap)
		c.fullHead = &headScratch{hid: be.New(c.headCap, cfg.Embd), logits: be.New(c.headCap, cfg.Vocab)}
		c.heads = map[int]*headScratch{}
	}
	if h, ok := c.heads[r]; ok {
		return h
	}
	if len(c.heads) >= maxCachedViews {
		c.heads = map[int]*headScratch{}
	}
	h := &headScratch{hid: be.View(c.fullHead.hid, r), logits: be.View(c.fullHead.logits, r)}
	c.heads[r] = h
	return h
}

func (c *scratchCache) alloc(be backend.Backend, cfg weights.Config, n int) {
	C := cfg.Embd
	nt := func(cols int) backend.Tensor {
		if cols <= 0 {
			return nil
		}
		t := be.New(n, cols)
		c.all = append(c.all, t)
		return t
	}
	f := &scratch{
		x: nt(C), xx: nt(C), prev: nt(C), out: nt(C), y: nt(C), tmp: nt(C),
		xr: nt(C), xw: nt(C), xk: nt(C), xv: nt(C), xa: nt(C), xg: nt(C),
		r: nt(C), w: nt(C), k: nt(C), v: nt(C), a: nt(C), g: nt(C), kk: nt(C), vFirst: nt(C),
		ffn: nt(cfg.FFN),
	}
	switch cfg.Version {
	case weights.V6:
		f.mix5, f.mixLo, f.decayLo = nt(5*cfg.MixLoRA), nt(cfg.MixLoRA), nt(cfg.DecayLoRA)
		for j := range f.maa {
			f.maa[j] = nt(C)
		}
	case weights.V7:
		f.decayLo, f.aLo, f.gLo, f.vLo = nt(cfg.DecayLoRA), nt(cfg.AaaLoRA), nt(cfg.GateLoRA), nt(cfg.ValueLoRA)
	}
	f.zero = be.New(1, C)
	c.all = append(c.all, f.zero)
	c.full = f
	c.capacity = n
	c.views = map[int]*scratch{}
}

func (c *scratchCache) free(be backend.Backend) {
	for _, t := range c.all {
		be.Free(t)
	}
	c.all, c.full, c.views, c.capacity = nil, nil, nil, 0
}
