package engine

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/engine/cpu"
	"github.com/rwkvgo/rwkvgo/weights"
)

// TestStateSlots: a state pool of fixed capacity (Options.StateSlots) is
// allocated once and never moves; sessions beyond it evict the least
// recently used state to host memory and get it back when used, so every
// result equals that of a model with a growing pool. A step needing more
// slots than the pool has fails and changes nothing; forks copy on the
// backend, also from an evicted session.
func TestStateSlots(t *testing.T) {
	ref := synthModel(t, weights.V7, Options{})
	m := synthModel(t, weights.V7, Options{StateSlots: 2})
	pool := append([]backend.Tensor(nil), m.states.t...)
	require.Len(t, pool, m.Config().Layers)
	rs, ms := openSessions(t, ref, 3), openSessions(t, m, 3)
	feeds := [][]int{{1, 2, 3}, {4, 5}, {6}, {7, 8}, {9}, {10, 11, 12}}
	for k, toks := range feeds {
		i := k % 3
		want, err := rs[i].Feed(toks)
		require.NoError(t, err)
		got, err := ms[i].Feed(toks)
		require.NoError(t, err)
		assert.Equal(t, want, got, "feed %d (session %d)", k, i)
	}
	assertSamePool(t, pool, m)
	evicted := 0
	for _, s := range ms {
		if s.slot < 0 {
			evicted++
		}
	}
	assert.Equal(t, 1, evicted, "sessions evicted to host memory")

	// Three sequences in one step do not fit two slots.
	err := m.Step([]*Request{{Session: ms[0], Tokens: []int{1}}, {Session: ms[1], Tokens: []int{1}}, {Session: ms[2], Tokens: []int{1}}})
	require.Error(t, err)

	// State, Fork (from an evicted session) and SetState agree with the
	// reference.
	for i := range ms {
		want, err := rs[i].State()
		require.NoError(t, err)
		got, err := ms[i].State()
		require.NoError(t, err)
		assert.Equal(t, want.Data, got.Data, "state of session %d", i)
	}
	var victim *Session
	for _, s := range ms {
		if s.slot < 0 {
			victim = s
		}
	}
	require.NotNil(t, victim)
	f, err := victim.Fork()
	require.NoError(t, err)
	defer f.Close()
	ws, _ := victim.State()
	fs, err := f.State()
	require.NoError(t, err)
	assert.Equal(t, ws.Data, fs.Data, "fork of an evicted session")
	assertSamePool(t, pool, m)
}

// openSessions opens n sessions of m, closed when the test ends.
func openSessions(t *testing.T, m *Model, n int) []*Session {
	t.Helper()
	ss := make([]*Session, n)
	for i := range ss {
		s, err := m.NewSession()
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		ss[i] = s
	}
	return ss
}

// assertSamePool: the pool's layer tensors are the ones in pool (the
// fixed pool never moves).
func assertSamePool(t *testing.T, pool []backend.Tensor, m *Model) {
	t.Helper()
	require.Len(t, m.states.t, len(pool))
	for l := range pool {
		assert.True(t, m.states.t[l] == pool[l], "layer %d's state tensor moved", l)
	}
}

// TestStatePoolLayout: the pool is layer-major, one [slots, per] tensor
// per layer, adjacent slots of a layer are adjacent rows, and growing the
// pool moves every layer (a new generation) with the live states intact.
func TestStatePoolLayout(t *testing.T) {
	m := synthModel(t, weights.V6, Options{})
	cfg := m.Config()
	per := cfg.LayerStateSize()
	a, err := m.NewSession()
	require.NoError(t, err)
	defer a.Close()
	_, err = a.Feed([]int{3, 1, 4})
	require.NoError(t, err)
	require.Equal(t, 4, m.states.slots)
	gen := m.states.gen
	var ss []*Session
	for range 4 { // the fifth session grows the pool
		s, err := m.NewSession()
		require.NoError(t, err)
		defer s.Close()
		ss = append(ss, s)
	}
	_, err = ss[0].Feed([]int{2, 7})
	require.NoError(t, err)
	assert.Equal(t, 8, m.states.slots)
	assert.Equal(t, gen+1, m.states.gen, "a grown pool moved")
	require.Len(t, m.states.t, cfg.Layers)
	sa, err := a.State()
	require.NoError(t, err)
	sb, err := ss[0].State()
	require.NoError(t, err)
	require.Equal(t, a.slot+1, ss[0].slot, "adjacent slots")
	rows := make([]float32, 2*per)
	for l := range cfg.Layers {
		lt := m.states.layer(l)
		assert.Equal(t, []int{8, per}, []int{lt.Rows(), lt.Cols()}, "layer %d", l)
		m.be.Read(lt, a.slot, rows)
		require.NoError(t, m.be.Err())
		assert.Equal(t, sa.Data[l*per:(l+1)*per], rows[:per], "layer %d of a", l)
		assert.Equal(t, sb.Data[l*per:(l+1)*per], rows[per:], "layer %d of the next slot", l)
	}
}

// transferCounter counts the host transfers (Read, Write) of the backend
// it wraps; it hides the backend's optional interfaces, Borrower among
// them, so the engine treats it as a device backend.
type transferCounter struct {
	backend.Backend
	reads, writes int
}

func (c *transferCounter) Read(x backend.Tensor, row int, dst []float32) {
	c.reads++
	c.Backend.Read(x, row, dst)
}

func (c *transferCounter) Write(x backend.Tensor, row int, src []float32) {
	c.writes++
	c.Backend.Write(x, row, src)
}

// TestStateMovesAreOneTransfer: on a backend whose tensors are not in host
// memory, moving a state to or from host memory (Session.State, SetState,
// evicting and restoring) is one Read or Write whatever the number of
// layers, and the states round-trip bit-exactly (the logits after them
// equal those of the pure-Go backend's pool, which moves layer by layer).
func TestStateMovesAreOneTransfer(t *testing.T) {
	ref := synthModel(t, weights.V7, Options{StateSlots: 1})
	require.Nil(t, ref.states.stage, "a host-memory backend needs no staging state")
	c := &transferCounter{Backend: cpu.New(1)}
	defer c.Backend.Close()
	m := synthModel(t, weights.V7, Options{Backend: c, StateSlots: 1})
	require.NotNil(t, m.states.stage)
	require.Greater(t, m.Config().Layers, 1)
	count := func(f func()) [2]int {
		r0, w0 := c.reads, c.writes
		f()
		return [2]int{c.reads - r0, c.writes - w0}
	}
	moves := func(what string, want [2]int, f func()) {
		t.Helper()
		assert.Equal(t, want, count(f), "%s: reads and writes", what)
	}
	rs := openSessions(t, ref, 2)
	var ms []*Session
	// One slot: the second session evicts the first; each writes its
	// initial state.
	moves("two new sessions", [2]int{1, 2}, func() { ms = openSessions(t, m, 2) })
	feed := func(i int, toks []int) {
		t.Helper()
		want, err := rs[i].Feed(toks)
		require.NoError(t, err)
		got, err := ms[i].Feed(toks)
		require.NoError(t, err)
		assert.Equal(t, want, got, "session %d after %v", i, toks)
	}
	step := count(func() { feed(1, []int{1, 2, 3}) }) // resident: the step's own transfers
	// Each switch evicts one state and restores the other.
	moves("switch to session 0", [2]int{step[0] + 1, step[1] + 1}, func() { feed(0, []int{4, 5}) })
	moves("switch to session 1", [2]int{step[0] + 1, step[1] + 1}, func() { feed(1, []int{6}) })
	moves("switch to session 0", [2]int{step[0] + 1, step[1] + 1}, func() { feed(0, []int{7}) })
	var st *State
	moves("State", [2]int{1, 0}, func() {
		var err error
		st, err = ms[0].State()
		require.NoError(t, err)
	})
	want, err := rs[0].State()
	require.NoError(t, err)
	assert.Equal(t, want.Data, st.Data)
	moves("SetState", [2]int{0, 1}, func() { require.NoError(t, ms[0].SetState(st)) })
	feed(0, []int{7, 8})
}
