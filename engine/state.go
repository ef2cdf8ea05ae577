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

// statePool holds the states of the live sessions as rows of one backend
// tensor, so a batch step reads and writes them in place. By default it
// grows on demand (doubling, the live states copied on the backend); with
// Options.StateSlots it is allocated once at that capacity and never moves
// (so graphs captured over it stay valid), and when every slot is taken the
// least recently used session's state is copied out to host memory
// (evicted) to make room, then copied back in when that session is used
// again.
type statePool struct {
	m     *Model
	t     backend.Tensor
	slots int
	fixed bool
	free  []int
	init  []float32
	owner []*Session // the session in each slot (nil: free)
	clock uint64     // use counter (least recently used eviction)
}

func newStatePool(m *Model, capacity int) (*statePool, error) {
	p := &statePool{m: m, init: make([]float32, m.cfg.StateSize())}
	initState(m.cfg, p.init)
	if capacity > 0 {
		be := m.be
		t := be.New(capacity, len(p.init))
		if err := be.Err(); err != nil {
			be.Free(t)
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
		// Grow into a new tensor: the live states (copied on the backend),
		// then the initial state in the slot handed out. The old tensor
		// goes only once all of it has succeeded.
		n := max(4, 2*p.slots)
		t := be.New(n, len(p.init))
		if p.t != nil {
			be.CopyRows(t, 0, p.t, 0, p.slots)
		}
		s := p.slots
		be.Write(t, s, p.init)
		if err := be.Err(); err != nil {
			be.Free(t)
			return 0, fmt.Errorf("engine: growing the state pool to %d sequences: %w", n, err)
		}
		if p.t != nil {
			be.Free(p.t)
		}
		for f := n - 1; f > s; f-- {
			p.free = append(p.free, f)
		}
		p.t, p.slots = t, n
		p.owner = append(p.owner, make([]*Session, n-len(p.owner))...)
		return s, nil
	}
	s := p.free[len(p.free)-1]
	be.Write(p.t, s, p.init)
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
	be.Read(p.t, victim.slot, st)
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
		be.Write(p.t, slot, s.parked)
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
	if p.t != nil {
		p.m.be.Free(p.t)
		p.t = nil
	}
}
