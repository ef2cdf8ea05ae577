package engine

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/weights"
)

// State is one sequence's recurrent state, a plain value: copy it, save it,
// restore it into any session of a model with the same configuration.
//
// Data uses rwkv.cpp's flat float32 layout, per layer in order: for v4 5*C
// values [ffn_xx, att_xx, aa, bb, pp]; for v5 and later (2+N)*C values
// [ffn_xx, att_xx, heads] where heads is H matrices of N*N, indexed
// [h][key][value] for v5/v6 and [h][value][key] for v7. ffn_xx and att_xx are
// the LayerNorm-ed inputs of the previous token.
type State struct {
	Version weights.Version
	Layers  int
	Embd    int
	Heads   int
	Data    []float32
}

// NewState returns the initial state of a model configuration: zeros, with
// v4's pp set to -1e30.
func NewState(cfg weights.Config) *State {
	s := &State{Version: cfg.Version, Layers: cfg.Layers, Embd: cfg.Embd, Heads: cfg.Heads, Data: make([]float32, cfg.StateSize())}
	initState(cfg, s.Data)
	return s
}

func initState(cfg weights.Config, d []float32) {
	for i := range d {
		d[i] = 0
	}
	if cfg.Version == weights.V4 {
		per := cfg.LayerStateSize()
		for l := 0; l < cfg.Layers; l++ {
			pp := d[l*per+4*cfg.Embd : (l+1)*per]
			for i := range pp {
				pp[i] = -1e30
			}
		}
	}
}

// Clone returns a deep copy.
func (s *State) Clone() *State {
	c := *s
	c.Data = append([]float32(nil), s.Data...)
	return &c
}

// compatible reports whether s fits a model configuration.
func (s *State) compatible(cfg weights.Config) error {
	if s == nil {
		return fmt.Errorf("engine: nil state")
	}
	if len(s.Data) != cfg.StateSize() {
		return fmt.Errorf("engine: state has %d values, model %s needs %d", len(s.Data), cfg.Version, cfg.StateSize())
	}
	if s.Version != 0 && (s.Version != cfg.Version || s.Layers != cfg.Layers || s.Embd != cfg.Embd) {
		return fmt.Errorf("engine: state of an RWKV %s model (%d layers, width %d) does not fit %s (%d layers, width %d)",
			s.Version, s.Layers, s.Embd, cfg.Version, cfg.Layers, cfg.Embd)
	}
	return nil
}

// WriteTo writes the state as raw float32 little-endian values in rwkv.cpp's
// layout (the format of rwkv.cpp's state buffers and of `rwkvgo logits --state-out`).
func (s *State) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, 4*len(s.Data))
	for i, v := range s.Data {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	n, err := w.Write(buf)
	return int64(n), err
}

// ReadState reads a raw state written by WriteTo (or by rwkv.cpp) for the given
// model configuration.
func ReadState(r io.Reader, cfg weights.Config) (*State, error) {
	data, err := weights.DecodeState(r, cfg)
	if err != nil {
		return nil, err
	}
	return &State{Version: cfg.Version, Layers: cfg.Layers, Embd: cfg.Embd, Heads: cfg.Heads, Data: data}, nil
}

// statePool holds the states of the live sessions on the backend,
// layer-major: one tensor per layer, [slots, LayerStateSize], whose row slot
// is that layer's state (ffn_xx, att_xx, the head state) of the session in
// slot. A layer's states of all slots are contiguous, so a step's
// operations on one layer touch one block of memory. One tensor per layer,
// rather than one [layers*slots, per] tensor with row l*slots+slot, keeps
// the operations and the device decoder as they are: a Shift or WKV
// operation takes a state tensor, a column offset and the step's slot
// indices as rows (the same indices for every layer), so it only gets the
// layer's tensor instead of a layer offset into one wide row; the single
// tensor would need a row offset per layer in every operation and kernel
// (or views at a row offset, which the backend does not have). Moving one
// session's state (fork, StateStore, growth) is one CopyRows per layer,
// evicting and restoring it one Read or Write per layer; none of these is
// in the step loop.
//
// By default the pool grows on demand (doubling, the live states copied on
// the backend); with Options.StateSlots it is allocated once at that
// capacity and never moves (so graphs captured over it stay valid), and
// when every slot is taken the least recently used session's state is
// copied out to host memory (evicted) to make room, then copied back in
// when that session is used again. gen counts the moves (growths): a
// decoder's graphs are valid while it is unchanged.
type statePool struct {
	m     *Model
	t     []backend.Tensor // one per layer, [slots, per]
	per   int              // values of one layer's state
	slots int
	gen   uint64
	fixed bool
	free  []int
	init  []float32  // a whole initial state (rwkv.cpp layout)
	owner []*Session // the session in each slot (nil: free)
	clock uint64     // use counter (least recently used eviction)
}

func newStatePool(m *Model, capacity int) (*statePool, error) {
	p := &statePool{m: m, init: make([]float32, m.cfg.StateSize()), per: m.cfg.LayerStateSize()}
	initState(m.cfg, p.init)
	if capacity > 0 {
		t, err := p.alloc(capacity)
		if err != nil {
			return nil, fmt.Errorf("engine: a state pool of %d sequences: %w", capacity, err)
		}
		p.t, p.slots, p.fixed = t, capacity, true
		p.owner = make([]*Session, capacity)
		for f := capacity - 1; f >= 0; f-- {
			p.free = append(p.free, f)
		}
	}
	return p, nil
}

// alloc returns one zeroed [n, per] tensor per layer, or none and the
// backend's error.
func (p *statePool) alloc(n int) ([]backend.Tensor, error) {
	be := p.m.be
	t := make([]backend.Tensor, p.m.cfg.Layers)
	for l := range t {
		t[l] = be.New(n, p.per)
		if err := be.Err(); err != nil {
			freeTensors(be, t)
			return nil, err
		}
	}
	return t, nil
}

func freeTensors(be backend.Backend, t []backend.Tensor) {
	for _, x := range t {
		if x != nil {
			be.Free(x)
		}
	}
}

// layer returns layer l's state tensor, [slots, per].
func (p *statePool) layer(l int) backend.Tensor { return p.t[l] }

// read copies the state in slot out to dst (a whole state, rwkv.cpp
// layout); errors are the backend's (be.Err).
func (p *statePool) read(slot int, dst []float32) {
	for l, t := range p.t {
		p.m.be.Read(t, slot, dst[l*p.per:(l+1)*p.per])
	}
}

// write copies src (a whole state, rwkv.cpp layout) into slot of the
// layer tensors t; errors are the backend's (be.Err).
func (p *statePool) write(t []backend.Tensor, slot int, src []float32) {
	for l, x := range t {
		p.m.be.Write(x, slot, src[l*p.per:(l+1)*p.per])
	}
}

// copySlot copies the state in slot src into slot dst, on the backend (one
// CopyRows per layer); errors are the backend's (be.Err).
func (p *statePool) copySlot(dst, src int) {
	for _, t := range p.t {
		p.m.be.CopyRows(t, dst, t, src, 1)
	}
}

// acquire returns a free slot set to the initial state, growing the pool
// as needed (or, at a fixed capacity, evicting the least recently used
// session that is not in the current step or a decoder). On failure (out
// of device memory, ...) the pool, and the states of the live sessions in
// it, stay as they were.
func (p *statePool) acquire() (int, error) {
	be := p.m.be
	if len(p.free) == 0 && p.fixed {
		if err := p.evict(); err != nil {
			return 0, err
		}
	}
	if len(p.free) == 0 {
		// Grow into new tensors: the live states (copied on the backend),
		// then the initial state in the slot handed out. The old tensors
		// go only once all of it has succeeded.
		n := max(4, 2*p.slots)
		t, err := p.alloc(n)
		if err != nil {
			return 0, fmt.Errorf("engine: growing the state pool to %d sequences: %w", n, err)
		}
		if p.t != nil {
			for l := range t {
				be.CopyRows(t[l], 0, p.t[l], 0, p.slots)
			}
		}
		s := p.slots
		p.write(t, s, p.init)
		if err := be.Err(); err != nil {
			freeTensors(be, t)
			return 0, fmt.Errorf("engine: growing the state pool to %d sequences: %w", n, err)
		}
		freeTensors(be, p.t)
		for f := n - 1; f > s; f-- {
			p.free = append(p.free, f)
		}
		p.t, p.slots = t, n
		p.gen++
		p.owner = append(p.owner, make([]*Session, n-len(p.owner))...)
		return s, nil
	}
	s := p.free[len(p.free)-1]
	p.write(p.t, s, p.init)
	if err := be.Err(); err != nil {
		return 0, err
	}
	p.free = p.free[:len(p.free)-1]
	return s, nil
}

// evict copies the least recently used evictable session's state out to
// host memory and frees its slot.
func (p *statePool) evict() error {
	var victim *Session
	for _, s := range p.owner {
		if s == nil || s.dec != nil || s.stepMark == p.m.stepCount && p.m.stepping {
			continue
		}
		if victim == nil || s.used < victim.used {
			victim = s
		}
	}
	if victim == nil {
		return fmt.Errorf("engine: all %d state slots are held by sequences of the current step or of decoders", p.slots)
	}
	st := make([]float32, len(p.init))
	be := p.m.be
	p.read(victim.slot, st)
	if err := be.Err(); err != nil {
		return fmt.Errorf("engine: evicting a state to host memory: %w", err)
	}
	p.owner[victim.slot] = nil
	p.free = append(p.free, victim.slot)
	victim.slot, victim.parked = -1, st
	return nil
}

// take assigns slot to s and marks it used.
func (p *statePool) take(s *Session, slot int) {
	s.slot = slot
	p.owner[slot] = s
	p.touch(s)
}

// touch marks s as just used.
func (p *statePool) touch(s *Session) {
	p.clock++
	s.used = p.clock
}

// resident gives s a slot holding its state when it was evicted (copying
// the state back in, which may evict another session), and marks it used.
func (p *statePool) resident(s *Session) error {
	if s.slot >= 0 {
		p.touch(s)
		return nil
	}
	slot, err := p.acquire()
	if err != nil {
		return err
	}
	if s.parked != nil {
		be := p.m.be
		p.write(p.t, slot, s.parked)
		if err := be.Err(); err != nil {
			p.free = append(p.free, slot)
			return err
		}
	}
	s.parked = nil
	p.take(s, slot)
	return nil
}

func (p *statePool) release(s *Session) {
	if s.slot >= 0 {
		p.owner[s.slot] = nil
		p.free = append(p.free, s.slot)
		s.slot = -1
	}
	s.parked = nil
}

func (p *statePool) destroy() {
	freeTensors(p.m.be, p.t)
	p.t = nil
}
