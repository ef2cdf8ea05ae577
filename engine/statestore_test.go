package engine

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/weights"
)

// TestStateStore: a state saved to a store and loaded into another session
// continues exactly like the original; every handle is freed once, whether
// the store is freed before the model or by Model.Close.
func TestStateStore(t *testing.T) {
	for _, v := range []weights.Version{weights.V4, weights.V7} {
		t.Run(v.String(), func(t *testing.T) {
			be := newCounting()
			defer be.Backend.Close()
			f, err := weights.Synthesize(weights.SynthConfig{Version: v, Layers: 2, Embd: 32, Vocab: 50, HeadSize: 16, Seed: 3})
			require.NoError(t, err)
			wm, err := weights.Canonicalize(f, weights.Options{})
			require.NoError(t, err)
			m, err := New(wm, Options{Backend: be})
			require.NoError(t, err)
			_, err = m.NewStateStore(0)
			require.Error(t, err)
			store, err := m.NewStateStore(3)
			require.NoError(t, err)
			assert.Equal(t, 3, store.Rows())
			assert.Equal(t, int64(4*m.Config().StateSize()), store.RowBytes())

			a, err := m.NewSession()
			require.NoError(t, err)
			_, err = a.Feed([]int{1, 2, 3, 4})
			require.NoError(t, err)
			want, err := a.State()
			require.NoError(t, err)
			require.NoError(t, a.SaveTo(store, 2))
			got, err := store.Read(2)
			require.NoError(t, err)
			assert.Equal(t, want.Data, got.Data)
			wantLogits, err := a.Feed([]int{5})
			require.NoError(t, err)
			wantLogits = append([]float32(nil), wantLogits...)

			b, err := m.NewSession()
			require.NoError(t, err)
			require.NoError(t, b.LoadFrom(store, 2))
			gotLogits, err := b.Feed([]int{5})
			require.NoError(t, err)
			assert.Equal(t, wantLogits, gotLogits)

			assert.Error(t, b.SaveTo(store, 3), "row out of range")
			assert.Error(t, b.LoadFrom(store, -1), "row out of range")
			other, err := m.NewStateStore(1)
			require.NoError(t, err)
			store.Free()
			store.Free() // idempotent
			assert.ErrorIs(t, b.LoadFrom(store, 0), ErrClosed)
			require.NoError(t, a.Close())
			require.NoError(t, b.Close())
			require.NoError(t, m.Close())
			other.Free() // after Close: nothing left to free
			assert.Equal(t, 0, be.count(), "handles left after Close")
		})
	}
}
