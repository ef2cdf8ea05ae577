package engine

import (
	"errors"
	"fmt"

	"github.com/rwkvgo/rwkvgo/engine/backend"
)

// MaxChunk is the largest number of tokens one sequence contributes to a
// single step; longer inputs are fed in chunks of this size (bounding the
// memory of activations during prefill).
const MaxChunk = 512

// Session is one sequence: a state slot in its model. A session is not safe for
// concurrent use, but different sessions of one model may be used from
// different goroutines (their steps are serialised by the model).
type Session struct {
	m      *Model
	slot   int
	closed bool
	// stepMark detects a session given twice to one Step.
	stepMark uint64
	hidden   []float32
	req      Request
	reqs     [1]*Request
	// dec is the decoder whose row the session occupies (nil: none); the
	// session cannot be stepped or changed meanwhile.
	dec *Decoder
	// parked is the state of a session evicted from the state pool (slot
	// -1; nil: the initial state); used orders evictions.
	parked []float32
	used   uint64
}

// NewSession returns a session at the model's initial state.
func (m *Model) NewSession() (*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	slot, err := m.states.acquire()
	if err != nil {
		return nil, err
	}
	s := &Session{m: m}
	m.states.take(s, slot)
	return s, nil
}

// Close releases the session's state slot. It is idempotent.
func (s *Session) Close() error {
	if s == nil || s.closed {
		return nil
	}
	s.closed = true
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if s.dec != nil {
		s.dec.removeSession(s)
	}
	if !s.m.closed {
		s.m.states.release(s)
	}
	return nil
}

// Model returns the session's model.
func (s *Session) Model() *Model { return s.m }

// Feed runs tokens through the model, updating the state, and returns the
// logits after the last token. The returned slice is owned by the session and
// overwritten by the next call.
func (s *Session) Feed(tokens []int) ([]float32, error) {
	return s.feed(tokens, false)
}

func (s *Session) feed(tokens []int, all bool) ([]float32, error) {
	s.req.Session, s.req.Tokens, s.req.AllLogits = s, tokens, all
	s.reqs[0] = &s.req
	err := s.m.Step(s.reqs[:])
	s.req.Tokens = nil
	if err != nil {
		return nil, err
	}
	return s.req.Logits, nil
}

// FeedAll runs tokens and returns the logits after every token as one
// [len(tokens) * vocab] slice (row t follows token t).
// The returned slice is owned by the session and overwritten by the next call.
func (s *Session) FeedAll(tokens []int) ([]float32, error) {
	return s.feed(tokens, true)
}

// Hidden returns the final hidden state (the ln_out output that the head reads)
// after the last token fed, or nil before any token. Owned by the session.
func (s *Session) Hidden() []float32 { return s.hidden }

// State returns a copy of the session's current state.
func (s *Session) State() (*State, error) {
	if s.closed {
		return nil, ErrClosed
	}
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	st := NewState(m.cfg)
	if s.slot < 0 {
		if s.parked != nil {
			copy(st.Data, s.parked)
		}
		return st, nil
	}
	m.states.read(s.slot, st.Data)
	return st, m.be.Err()
}

// SetState replaces the session's state with st (which is copied).
func (s *Session) SetState(st *State) error {
	if s.closed {
		return ErrClosed
	}
	m := s.m
	if err := st.compatible(m.cfg); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if s.dec != nil {
		return ErrDecoding
	}
	if s.slot < 0 {
		s.parked = append(s.parked[:0], st.Data...)
		return nil
	}
	m.states.write(m.states.t, s.slot, st.Data)
	return m.be.Err()
}

// Reset returns the session to the model's initial state.
func (s *Session) Reset() error {
	if s.closed {
		return ErrClosed
	}
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if s.dec != nil {
		return ErrDecoding
	}
	s.hidden = s.hidden[:0]
	if s.slot < 0 {
		s.parked = nil
		return nil
	}
	m.states.write(m.states.t, s.slot, m.states.init)
	s.hidden = s.hidden[:0]
	return m.be.Err()
}

// Fork returns a new session with a copy of this session's state, copied
// on the backend (device to device on a GPU backend, one copy per layer).
func (s *Session) Fork() (*Session, error) {
	if s.closed {
		return nil, ErrClosed
	}
	m := s.m
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	if err := m.states.resident(s); err != nil {
		m.mu.Unlock()
		return nil, err
	}
	slot, err := m.states.acquire()
	if err != nil {
		m.mu.Unlock()
		return nil, err
	}
	f := &Session{m: m}
	m.states.take(f, slot)
	switch {
	case s.slot >= 0:
		m.states.copySlot(f.slot, s.slot)
	case s.parked != nil: // s was evicted to make room for f
		m.states.write(m.states.t, f.slot, s.parked)
	}
	err = m.be.Err()
	m.mu.Unlock()
	if err != nil {
		f.Close()
		return nil, err
	}
	if s.hidden != nil {
		f.hidden = append([]float32(nil), s.hidden...)
	}
	return f, nil
}

// Request is one sequence's part of a batched Step.
type Request struct {
	Session *Session
	Tokens  []int
	// AllLogits asks for the logits after every token instead of only the last.
	AllLogits bool
	// Logits receives the output: [vocab] or, with AllLogits, [len(Tokens)*vocab].
	// It is reused across calls when its capacity suffices.
	Logits []float32

	// admitRow+1 is the row of the decoder (Model.admitting) that draws
	// this request's first token on the device from its last logits,
	// which then stay there (0: the logits are copied into Logits).
	admitRow int
}

// Step runs one batched step: every request's tokens are appended to its
// session's sequence. All sessions must belong to this model and be distinct.
// Inputs longer than MaxChunk are split into several steps.
func (m *Model) Step(reqs []*Request) error {
	if len(reqs) == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stepLocked(reqs)
}

// stepLocked is Step with the model's lock held.
func (m *Model) stepLocked(reqs []*Request) error {
	if m.closed {
		return ErrClosed
	}
	if err := m.Err(); err != nil {
		return fmt.Errorf("engine: model unusable after an earlier fault: %w", err)
	}
	V := m.cfg.Vocab
	m.stepCount++
	mark := m.stepCount
	m.stepping = true
	defer func() { m.stepping = false }()
	for i, r := range reqs {
		switch {
		case r == nil || r.Session == nil:
			return fmt.Errorf("engine: request %d has no session", i)
		case r.Session.closed:
			return ErrClosed
		case r.Session.m != m:
			return fmt.Errorf("engine: request %d: session belongs to another model", i)
		case len(r.Tokens) == 0:
			return fmt.Errorf("engine: request %d has no tokens", i)
		case r.Session.dec != nil && r.admitRow == 0:
			return fmt.Errorf("engine: request %d: %w", i, ErrDecoding)
		}
		if r.Session.stepMark == mark {
			return fmt.Errorf("engine: request %d: session appears twice in one step", i)
		}
		r.Session.stepMark = mark
		for _, t := range r.Tokens {
			if t < 0 || t >= V {
				return fmt.Errorf("engine: token %d out of range [0, %d)", t, V)
			}
		}
		n := V
		if r.AllLogits {
			n = len(r.Tokens) * V
		}
		if r.admitRow > 0 {
			continue
		}
		if cap(r.Logits) < n {
			r.Logits = make([]float32, n)
		}
		r.Logits = r.Logits[:n]
	}
	// Every sequence's state in the pool (copied back in if it was evicted;
	// the step's own sequences are not evicted).
	for _, r := range reqs {
		if err := m.states.resident(r.Session); err != nil {
			return err
		}
	}
	// Feed in rounds of at most MaxChunk tokens per sequence.
	for done := 0; ; done += MaxChunk {
		round, starts := m.round[:0], m.starts[:0]
		for _, r := range reqs {
			if done < len(r.Tokens) {
				round = append(round, r)
				starts = append(starts, done)
			}
		}
		m.round, m.starts = round, starts
		if len(round) == 0 {
			return nil
		}
		if err := m.step(round, starts); err != nil {
			return err
		}
	}
}

// step runs one round: request i contributes tokens[start[i]:start[i]+MaxChunk].
func (m *Model) step(reqs []*Request, starts []int) error {
	be := m.be
	C, V := m.cfg.Embd, m.cfg.Vocab
	tokens := m.tokens[:0]
	b := backend.Batch{Offsets: append(m.offsets[:0], 0), Slots: m.slots[:0]}
	outRows := m.outRows[:0]
	for i, r := range reqs {
		end := min(starts[i]+MaxChunk, len(r.Tokens))
		base := len(tokens)
		for _, t := range r.Tokens[starts[i]:end] {
			tokens = append(tokens, int32(t))
		}
		b.Offsets = append(b.Offsets, len(tokens))
		b.Slots = append(b.Slots, r.Session.slot)
		if r.AllLogits {
			for j := base; j < len(tokens); j++ {
				outRows = append(outRows, j)
			}
		} else if end == len(r.Tokens) {
			outRows = append(outRows, len(tokens)-1)
		}
	}
	m.tokens, m.offsets, m.slots, m.outRows = tokens, b.Offsets, b.Slots, outRows
	n := len(tokens)
	s := m.scratch.get(be, m.cfg, n)
	be.BeginStep(b)
	m.decode = n == b.Seqs()
	be.Embed(s.x, m.emb, tokens)
	be.LayerNorm(s.x, s.x, m.ln0w, m.ln0b, m.cfg.LayerNormEps)
	m.forward(s)
	if len(outRows) > 0 {
		h := m.scratch.head(be, m.cfg, len(outRows))
		be.GatherRows(h.hid, s.x, outRows)
		be.LayerNorm(h.hid, h.hid, m.lnOutW, m.lnOutB, m.cfg.LayerNormEps)
		be.MatMul(h.logits, h.hid, m.head)
		// Copy results out, in request order.
		row := 0
		admit := false
		m.admitMap = m.admitMap[:0]
		for i, r := range reqs {
			end := min(starts[i]+MaxChunk, len(r.Tokens))
			switch {
			case r.admitRow > 0:
				if end == len(r.Tokens) {
					m.admitMap = append(m.admitMap, r.admitRow-1)
					admit = true
					row++
				}
			case r.AllLogits:
				k := end - starts[i]
				be.Read(h.logits, row, r.Logits[starts[i]*V:end*V])
				row += k
				if end == len(r.Tokens) {
					m.readHidden(r.Session, h.hid, row-1, C)
				}
			case end == len(r.Tokens):
				be.Read(h.logits, row, r.Logits[:V])
				m.readHidden(r.Session, h.hid, row, C)
				row++
			}
			for len(m.admitMap) < row {
				m.admitMap = append(m.admitMap, -1)
			}
		}
		if admit {
			m.admitting.admit(h.logits, m.admitMap[:row])
		}
	}
	if err := be.Err(); err != nil {
		// The activation buffers may be placeholders of failed allocations
		// (or views of them): drop them all, so that the next step allocates
		// afresh and a transient failure (out of memory, a failed launch)
		// leaves the model usable.
		m.scratch.freeAll(be)
		err = fmt.Errorf("engine: %s backend: %w", be.Name(), err)
		if errors.Is(err, ErrWeightsUnreadable) {
			m.markBroken(err)
		}
		return err
	}
	return nil
}

// markBroken records the fault that makes the model unusable (see Err).
// Its own function: err escapes here only, not on every step.
func (m *Model) markBroken(err error) { m.broken.Store(&err) }

func (m *Model) readHidden(s *Session, hid backend.Tensor, row, C int) {
	if cap(s.hidden) < C {
		s.hidden = make([]float32, C)
	}
	s.hidden = s.hidden[:C]
	m.be.Read(hid, row, s.hidden)
}
