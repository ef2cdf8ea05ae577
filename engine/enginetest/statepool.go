package enginetest

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/engine/cpu"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
)

// StatePool checks the state pool's layout and its state moves on the
// backend under test, for an RWKV-4, a 5.2 and a 7 model with a pool of two
// slots (Options.StateSlots). Through a backend that records the state
// tensor and column offset each Shift and WKV operation receives:
//   - the pool is layer-major: every layer's operations get a tensor of
//     their own, [slots, LayerStateSize], with the layer's columns (ffn_xx
//     at 0, att_xx at C, the head state at 2C), and reading two adjacent
//     rows of it gives that layer's states of the two slots (compared with
//     Session.State, rwkv.cpp's layout);
//   - evicting a state to host memory (a third session), forking the
//     evicted session, restoring it, SetState and a StateStore save and
//     load round-trip bit-exactly, and the logits fed after them equal
//     those of a model whose pool grows on demand (same operations, so
//     the same bits).
func StatePool(t *testing.T, cfg Config) {
	t.Helper()
	be := cfg.Backend
	if be == nil {
		c := cpu.New(1)
		defer c.Close()
		be = c
	}
	for _, rel := range []string{
		"rwkv.cpp/tests/tiny-rwkv-4v0-660K-FP32.bin",
		"rwkv.cpp/tests/tiny-rwkv-5v2-730K-FP32.bin",
		"rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP32.bin",
	} {
		t.Run(rel, func(t *testing.T) {
			path := testdata.Path(t, rel)
			t.Run("recorded", func(t *testing.T) { statePool(t, &stateRecorder{Backend: be}, path) })
			t.Run("direct", func(t *testing.T) { statePool(t, be, path) }) // the fused operations
		})
	}
}

// statePool runs the checks on be; the layout ones when be is a
// *stateRecorder.
func statePool(t *testing.T, be backend.Backend, path string) {
	rec, _ := be.(*stateRecorder)
	m, err := engine.Load(path, engine.Options{Backend: be, StateSlots: 2})
	require.NoError(t, err)
	defer m.Close()
	refBe := be
	if rec != nil {
		refBe = &stateRecorder{Backend: rec.Backend} // the same operations, recorded apart
	}
	ref, err := engine.Load(path, engine.Options{Backend: refBe})
	require.NoError(t, err)
	defer ref.Close()
	mc := m.Config()
	per, C := mc.LayerStateSize(), mc.Embd

	open := func(mm *engine.Model) *engine.Session {
		s, err := mm.NewSession()
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}
	feed := func(s, r *engine.Session, toks []int, what string) {
		t.Helper()
		want, err := r.Feed(toks)
		require.NoError(t, err)
		got, err := s.Feed(toks)
		require.NoError(t, err)
		require.Equal(t, want, got, "logits after %s", what)
	}
	state := func(s *engine.Session) []float32 {
		t.Helper()
		st, err := s.State()
		require.NoError(t, err)
		return st.Data
	}

	a, ra := open(m), open(ref)
	b, rb := open(m), open(ref)
	if rec == nil {
		feed(a, ra, []int{5, 17, 33}, "a's prompt")
		feed(b, rb, []int{70, 2}, "b's prompt")
	} else {
		rec.reset()
		feed(a, ra, []int{5, 17, 33}, "a's prompt")
		slotA, calls := rec.take()
		feed(b, rb, []int{70, 2}, "b's prompt")
		slotB, _ := rec.take()
		checkLayout(t, rec, calls, slotA, slotB, state(a), state(b), mc.Layers, per, C)
	}
	sa, sb := state(a), state(b)
	require.NotEqual(t, sa, sb)

	// A third session evicts a (the least recently used) to host memory.
	c, rc := open(m), open(ref)
	feed(c, rc, []int{9}, "c's prompt")
	assert.Equal(t, sa, state(a), "a evicted")
	// Forking the evicted a evicts b; the fork is a's state.
	f, err := a.Fork()
	require.NoError(t, err)
	defer f.Close()
	rf, err := ra.Fork()
	require.NoError(t, err)
	defer rf.Close()
	assert.Equal(t, sa, state(f), "fork of an evicted session")
	assert.Equal(t, sb, state(b), "b evicted")
	// Restored, each goes on as its reference.
	feed(a, ra, []int{11, 12}, "a restored")
	feed(b, rb, []int{13}, "b restored")
	feed(f, rf, []int{14}, "the fork")
	feed(c, rc, []int{15}, "c")
	// A resident fork: device to device.
	g, err := c.Fork()
	require.NoError(t, err)
	defer g.Close()
	assert.Equal(t, state(c), state(g), "fork of a resident session")

	// SetState and a StateStore round trip, resident and evicted.
	sa = state(a)
	require.NoError(t, b.SetState(&engine.State{Data: sa}))
	assert.Equal(t, sa, state(b), "SetState")
	store, err := m.NewStateStore(2)
	require.NoError(t, err)
	defer store.Free()
	sc := state(c)
	require.NoError(t, c.SaveTo(store, 1))
	require.NoError(t, a.SaveTo(store, 0))
	got, err := store.Read(1)
	require.NoError(t, err)
	assert.Equal(t, sc, got.Data, "store row 1")
	got, err = store.Read(0)
	require.NoError(t, err)
	assert.Equal(t, sa, got.Data, "store row 0")
	require.NoError(t, f.LoadFrom(store, 1))
	assert.Equal(t, sc, state(f), "loaded from the store")
	require.NoError(t, rf.SetState(&engine.State{Data: sc}))
	feed(f, rf, []int{40, 41}, "the loaded state")
}

// checkLayout checks what the recorder saw of a's step (calls) and the
// pool's rows of the two sessions' slots against their states sa and sb.
func checkLayout(t *testing.T, be backend.Backend, calls []stateCall, slotA, slotB int, sa, sb []float32, layers, per, C int) {
	t.Helper()
	require.ElementsMatch(t, []int{0, 1}, []int{slotA, slotB}, "the two sessions' slots")
	// One tensor per layer, [slots, per], at the layer's columns.
	require.Len(t, calls, 3*layers, "Shift, WKV, Shift per layer")
	tensors := map[backend.Tensor]int{}
	for l := range layers {
		got := calls[3*l : 3*l+3]
		st := got[0].t
		tensors[st] = l
		assert.Equal(t, []int{C, 2 * C, 0}, []int{got[0].off, got[1].off, got[2].off}, "layer %d's offsets", l)
		for _, c := range got {
			assert.True(t, c.t == st, "layer %d: its operations get one tensor", l)
		}
		assert.Equal(t, []int{2, per}, []int{st.Rows(), st.Cols()}, "layer %d's state tensor", l)
	}
	require.Len(t, tensors, layers, "a tensor per layer")
	require.NotEqual(t, sa, sb)
	rows := make([]float32, 2*per)
	for st, l := range tensors {
		be.Read(st, 0, rows) // slots 0 and 1 of layer l, adjacent
		require.NoError(t, be.Err())
		assert.Equal(t, sa[l*per:(l+1)*per], rows[slotA*per:(slotA+1)*per], "layer %d, slot of a", l)
		assert.Equal(t, sb[l*per:(l+1)*per], rows[slotB*per:(slotB+1)*per], "layer %d, slot of b", l)
	}
}

// stateRecorder passes everything to its backend (hiding its optional
// interfaces: the model runs the plain operations) and records the state
// tensor and column offset of each Shift and WKV operation and the slot of
// each one-sequence step.
type stateRecorder struct {
	backend.Backend
	mu    sync.Mutex
	slot  int
	calls []stateCall
}

type stateCall struct {
	t   backend.Tensor
	off int
}

func (r *stateRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls, r.slot = nil, -1
}

// take returns and clears what was recorded since the last reset or take.
func (r *stateRecorder) take() (slot int, calls []stateCall) {
	r.mu.Lock()
	defer r.mu.Unlock()
	slot, calls = r.slot, r.calls
	r.calls, r.slot = nil, -1
	return slot, calls
}

func (r *stateRecorder) record(t backend.Tensor, off int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, stateCall{t, off})
}

func (r *stateRecorder) BeginStep(b backend.Batch) {
	r.mu.Lock()
	if len(b.Slots) == 1 {
		r.slot = b.Slots[0]
	}
	r.mu.Unlock()
	r.Backend.BeginStep(b)
}

func (r *stateRecorder) Shift(prev, x, state backend.Tensor, off int) {
	r.record(state, off)
	r.Backend.Shift(prev, x, state, off)
}

func (r *stateRecorder) WKV4(out, k, v, w, u, state backend.Tensor, off int) {
	r.record(state, off)
	r.Backend.WKV4(out, k, v, w, u, state, off)
}

func (r *stateRecorder) WKV5(out, rr, k, v, w, u, state backend.Tensor, off, heads int) {
	r.record(state, off)
	r.Backend.WKV5(out, rr, k, v, w, u, state, off, heads)
}

func (r *stateRecorder) WKV7(out, rr, w, k, v, kk, a, state backend.Tensor, off, heads int) {
	r.record(state, off)
	r.Backend.WKV7(out, rr, w, k, v, kk, a, state, off, heads)
}
