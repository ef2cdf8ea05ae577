package engine

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/engine/backend"
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
	open := func(mm *Model) []*Session {
		ss := make([]*Session, 3)
		for i := range ss {
			s, err := mm.NewSession()
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			ss[i] = s
		}
		return ss
	}
	rs, ms := open(ref), open(m)
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
