package engine

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/weights"
)

// scratch holds the activation tensors of one step of n rows: the buffers
// every version uses, and in ext the version's own (its newScratch struct,
// planned by `scratch` tags naming Config fields: "Embd", "DecayLoRA",
// "5*MixLoRA").
type scratch struct {
	x, xx, prev, out, y, tmp     backend.Tensor
	xr, xw, xk, xv, xa, xg       backend.Tensor
	r, w, k, v, a, g, kk, vFirst backend.Tensor
	ffn                          backend.Tensor // [n, FFN]
	zero                         backend.Tensor // [1, C] zeros (shared by every view)
	ext                          any

	// The outputs of the token shift's MixN calls (see version.mixOuts).
	tmOut, cmOut []backend.Tensor
	// views are the handles this scratch owns (views of the full buffers).
	views []backend.Tensor
}

// widthC lists the common [n, C] buffers.
func (s *scratch) widthC() []*backend.Tensor {
	return []*backend.Tensor{&s.x, &s.xx, &s.prev, &s.out, &s.y, &s.tmp, &s.xr, &s.xw, &s.xk, &s.xv, &s.xa, &s.xg,
		&s.r, &s.w, &s.k, &s.v, &s.a, &s.g, &s.kk, &s.vFirst}
}

// extBuffers calls fn for every tensor field of a version's scratch struct
// with its width from the field's `scratch` tag.
func extBuffers(ext any, cfg weights.Config, fn func(t *backend.Tensor, cols int)) {
	if ext == nil {
		return
	}
	v := reflect.ValueOf(ext).Elem()
	for f := 0; f < v.NumField(); f++ {
		tag := v.Type().Field(f).Tag.Get("scratch")
		if tag == "" {
			continue
		}
		cols := scratchCols(tag, cfg)
		field := v.Field(f)
		if field.Kind() == reflect.Array {
			for j := 0; j < field.Len(); j++ {
				fn(field.Index(j).Addr().Interface().(*backend.Tensor), cols)
			}
			continue
		}
		fn(field.Addr().Interface().(*backend.Tensor), cols)
	}
}

// scratchCols evaluates a `scratch` tag: a Config field name, optionally
// multiplied ("5*MixLoRA").
func scratchCols(tag string, cfg weights.Config) int {
	mul := 1
	if a, b, ok := strings.Cut(tag, "*"); ok {
		mul, _ = strconv.Atoi(a)
		tag = b
	}
	f := reflect.ValueOf(cfg).FieldByName(tag)
	if !f.IsValid() || !f.CanInt() {
		panic(fmt.Sprintf("engine: scratch tag %q names no integer field of weights.Config", tag)) // a programming error in a version file
	}
	return mul * int(f.Int())
}

// freeAll releases every buffer, including the head's.
func (c *scratchCache) freeAll(be backend.Backend) {
	c.free(be)
	c.freeHeadViews(be)
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
		c.freeViews(be)
	}
	f := c.full
	s := &scratch{zero: f.zero}
	view := func(dst *backend.Tensor, t backend.Tensor) {
		if t != nil {
			*dst = be.View(t, n)
			s.views = append(s.views, *dst)
		}
	}
	full := f.widthC()
	for i, p := range s.widthC() {
		view(p, *full[i])
	}
	view(&s.ffn, f.ffn)
	if v := versions[cfg.Version]; v.newScratch != nil {
		s.ext = v.newScratch()
		var fullExt []backend.Tensor
		extBuffers(f.ext, cfg, func(t *backend.Tensor, _ int) { fullExt = append(fullExt, *t) })
		i := 0
		extBuffers(s.ext, cfg, func(t *backend.Tensor, _ int) { view(t, fullExt[i]); i++ })
	}
	s.tmOut, s.cmOut = versions[cfg.Version].mixOuts(s)
	c.views[n] = s
	return s
}

// head returns output-head tensors for r rows (r <= the current capacity).
func (c *scratchCache) head(be backend.Backend, cfg weights.Config, r int) *headScratch {
	if r > c.headCap {
		c.freeHeadViews(be)
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
		c.freeHeadViews(be)
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
	f := &scratch{}
	for _, p := range f.widthC() {
		*p = nt(C)
	}
	f.ffn = nt(cfg.FFN)
	if v := versions[cfg.Version]; v.newScratch != nil {
		f.ext = v.newScratch()
		extBuffers(f.ext, cfg, func(t *backend.Tensor, cols int) { *t = nt(cols) })
	}
	f.zero = be.New(1, C)
	c.all = append(c.all, f.zero)
	c.full = f
	c.capacity = n
	c.views = map[int]*scratch{}
}

// freeViews releases the cached step views (every view is a handle of its own).
func (c *scratchCache) freeViews(be backend.Backend) {
	for _, s := range c.views {
		for _, t := range s.views {
			be.Free(t)
		}
	}
	c.views = map[int]*scratch{}
}

// freeHeadViews releases the cached views of the output head's buffers.
func (c *scratchCache) freeHeadViews(be backend.Backend) {
	for _, h := range c.heads {
		be.Free(h.hid)
		be.Free(h.logits)
	}
	c.heads = map[int]*headScratch{}
}

func (c *scratchCache) free(be backend.Backend) {
	c.freeViews(be)
	for _, t := range c.all {
		be.Free(t)
	}
	c.all, c.full, c.views, c.capacity = nil, nil, nil, 0
}
