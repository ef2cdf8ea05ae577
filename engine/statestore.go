package engine

import (
	"fmt"

	"github.com/rwkvgo/rwkvgo/engine/backend"
)

// StateStore is a block of state rows in the model's backend memory (device
// memory on a GPU backend), apart from the sessions' own: a place to keep
// states (a prefix cache's device tier) and move them to and from sessions
// with backend.CopyRows, never through the host. Its rows have the model's
// state layout (see State): the tensor is [rows*layers, LayerStateSize],
// state row r's layer l at tensor row r*layers+l, so a state is contiguous
// (as in State.Data) and each layer moves to and from the layer-major state
// pool with one CopyRows.
//
// A StateStore is released with Free exactly once; Model.Close frees the
// stores still live, after which Free does nothing. Its methods are safe
// for concurrent use (they take the model's lock).
type StateStore struct {
	m    *Model
	t    backend.Tensor
	rows int
}

// NewStateStore allocates a store of rows states (zeroed) on the model's
// backend.
func (m *Model) NewStateStore(rows int) (*StateStore, error) {
	if rows < 1 {
		return nil, fmt.Errorf("engine: a state store needs at least one row, got %d", rows)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	t := m.be.New(rows*m.cfg.Layers, m.cfg.LayerStateSize())
	if err := m.be.Err(); err != nil {
		if t != nil {
			m.be.Free(t)
		}
		return nil, fmt.Errorf("engine: state store of %d rows: %w", rows, err)
	}
	s := &StateStore{m: m, t: t, rows: rows}
	if m.stores == nil {
		m.stores = map[*StateStore]struct{}{}
	}
	m.stores[s] = struct{}{}
	return s, nil
}

// Rows returns the number of states the store holds.
func (s *StateStore) Rows() int { return s.rows }

// RowBytes returns the bytes of one state row.
func (s *StateStore) RowBytes() int64 { return 4 * int64(s.m.cfg.StateSize()) }

// Free releases the store's memory. It is idempotent.
func (s *StateStore) Free() {
	if s == nil {
		return
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.free()
}

// free releases the tensor; the caller holds the model's lock.
func (s *StateStore) free() {
	if s.t == nil {
		return
	}
	if !s.m.closed {
		s.m.be.Free(s.t)
	}
	s.t = nil
	delete(s.m.stores, s)
}

// Read returns a copy of the state at row (a device-to-host copy).
func (s *StateStore) Read(row int) (*State, error) {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := s.check(row); err != nil {
		return nil, err
	}
	st := NewState(m.cfg)
	m.be.Read(s.t, row*m.cfg.Layers, st.Data) // the layers' rows, in order
	return st, m.be.Err()
}

// check validates row; the caller holds the model's lock.
func (s *StateStore) check(row int) error {
	if s.m.closed || s.t == nil {
		return ErrClosed
	}
	if row < 0 || row >= s.rows {
		return fmt.Errorf("engine: state store row %d outside [0, %d)", row, s.rows)
	}
	return nil
}

// SaveTo copies the session's state into row of store, on the backend.
func (s *Session) SaveTo(store *StateStore, row int) error {
	return s.copyRows(store, row, true)
}

// LoadFrom replaces the session's state with the one at row of store, on
// the backend.
func (s *Session) LoadFrom(store *StateStore, row int) error {
	return s.copyRows(store, row, false)
}

func (s *Session) copyRows(store *StateStore, row int, save bool) error {
	if s.closed {
		return ErrClosed
	}
	m := s.m
	if store == nil || store.m != m {
		return fmt.Errorf("engine: the state store belongs to another model")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := store.check(row); err != nil {
		return err
	}
	if err := m.states.resident(s); err != nil {
		return err
	}
	L := m.cfg.Layers
	for l := 0; l < L; l++ {
		if save {
			m.be.CopyRows(store.t, row*L+l, m.states.layer(l), s.slot, 1)
		} else {
			m.be.CopyRows(m.states.layer(l), s.slot, store.t, row*L+l, 1)
		}
	}
	if !save {
		s.hidden = s.hidden[:0]
	}
	return m.be.Err()
}
