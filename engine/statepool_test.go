package engine

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	pool := m.states.t
	require.NotNil(t, pool)
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
	assert.True(t, m.states.t == pool, "the fixed pool moved")
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
	assert.True(t, m.states.t == pool, "the fixed pool moved")
}
