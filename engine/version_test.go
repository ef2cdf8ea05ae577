package engine

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/engine/cpu"
	"github.com/rwkvgo/rwkvgo/weights"
)

// countingBackend counts live tensor handles (tensors and views).
type countingBackend struct {
	backend.Backend
	mu   sync.Mutex
	live map[backend.Tensor]bool
}

func newCounting() *countingBackend {
	return &countingBackend{Backend: cpu.New(1), live: map[backend.Tensor]bool{}}
}

func (c *countingBackend) add(t backend.Tensor) backend.Tensor {
	c.mu.Lock()
	c.live[t] = true
	c.mu.Unlock()
	return t
}

func (c *countingBackend) Upload(dt backend.DType, rows, cols int, data []byte) backend.Tensor {
	return c.add(c.Backend.Upload(dt, rows, cols, data))
}
func (c *countingBackend) UploadF32(rows, cols int, data []float32) backend.Tensor {
	return c.add(c.Backend.UploadF32(rows, cols, data))
}
func (c *countingBackend) New(rows, cols int) backend.Tensor { return c.add(c.Backend.New(rows, cols)) }
func (c *countingBackend) View(t backend.Tensor, rows int) backend.Tensor {
	return c.add(c.Backend.View(t, rows))
}
func (c *countingBackend) Free(t backend.Tensor) {
	c.mu.Lock()
	if t != nil && !c.live[t] {
		c.mu.Unlock()
		panic("Free of a handle that is not live (double free)")
	}
	delete(c.live, t)
	c.mu.Unlock()
	c.Backend.Free(t)
}
func (c *countingBackend) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.live)
}

// TestHandlesFreed: every handle the engine takes, views included, is freed
// exactly once: steady-state steps take none, evicting cached step views
// frees them, and Close leaves nothing live.
func TestHandlesFreed(t *testing.T) {
	for _, v := range allVersions {
		t.Run(v.String(), func(t *testing.T) {
			be := newCounting()
			defer be.Backend.Close()
			f, err := weights.Synthesize(weights.SynthConfig{Version: v, Layers: 2, Embd: 32, Vocab: 50, HeadSize: 16, Seed: 1})
			require.NoError(t, err)
			wm, err := weights.Canonicalize(f, weights.Options{})
			require.NoError(t, err)
			m, err := New(wm, Options{Backend: be})
			require.NoError(t, err)
			s, err := m.NewSession()
			require.NoError(t, err)
			_, err = s.Feed([]int{1})
			require.NoError(t, err)
			steady := be.count()
			for i := 0; i < 20; i++ {
				_, err = s.Feed([]int{i % 50})
				require.NoError(t, err)
			}
			assert.Equal(t, steady, be.count(), "decode steps took handles")
			// More distinct step sizes than the view cache holds.
			for n := 1; n <= maxCachedViews+8; n++ {
				toks := make([]int, n)
				_, err = s.Feed(toks)
				require.NoError(t, err)
			}
			assert.LessOrEqual(t, be.count(), steady+(maxCachedViews+1)*64, "cached views are bounded")
			require.NoError(t, s.Close())
			require.NoError(t, m.Close())
			assert.Equal(t, 0, be.count(), "handles left after Close")
		})
	}
}

// TestLayerTagsMatchTables: each version's layer binds exactly the tensors
// of its table (a tag naming no tensor, or a tensor no field binds, fails).
func TestLayerTagsMatchTables(t *testing.T) {
	for _, v := range allVersions {
		ver, ok := versions[v]
		require.True(t, ok, "no graph for %s", v)
		assert.Contains(t, ver.archs, v)
		for _, layers := range []int{1, 3} {
			f, err := weights.Synthesize(weights.SynthConfig{Version: v, Layers: layers, Embd: 32, Vocab: 20, HeadSize: 16, Seed: 2})
			require.NoError(t, err)
			wm, err := weights.Canonicalize(f, weights.Options{})
			require.NoError(t, err)
			m, err := New(wm, Options{Threads: 1})
			require.NoError(t, err, "%s, %d layers", v, layers)
			require.NoError(t, m.Close())
		}
	}
	// A layer with a misspelt tag is refused.
	bad := version{archs: []weights.Version{weights.V4}, newLayer: func() versionLayer { return &badLayer{} }}
	f, err := weights.Synthesize(weights.SynthConfig{Version: weights.V4, Layers: 1, Embd: 16, Vocab: 10, Seed: 3})
	require.NoError(t, err)
	wm, err := weights.Canonicalize(f, weights.Options{})
	require.NoError(t, err)
	be := cpu.New(1)
	defer be.Close()
	bd := &binder{wm: wm, cfg: wm.Config,
		vec: func(string) backend.Tensor { return be.New(1, 1) }, mat: func(string, bool) backend.Tensor { return be.New(1, 1) }}
	_, err = bd.newLayer(bad, 0)
	assert.ErrorContains(t, err, "att.time_mixx_k")
	// A layer that leaves a tensor of its table unbound is refused.
	bd = &binder{wm: wm, cfg: wm.Config,
		vec: func(string) backend.Tensor { return be.New(1, 1) }, mat: func(string, bool) backend.Tensor { return be.New(1, 1) }}
	_, err = bd.newLayer(version{archs: []weights.Version{weights.V4}, newLayer: func() versionLayer { return &partialLayer{} }}, 0)
	assert.ErrorContains(t, err, "no field of the layer binds")
}

type badLayer struct {
	v4Layer
	Typo backend.Tensor `tensor:"att.time_mixx_k"`
}

type partialLayer struct{ block }

func (l *partialLayer) bound(int) {}
func (l *partialLayer) timeMixes(*scratch) ([]backend.Tensor, backend.MixStyle) {
	return nil, backend.MixLerp
}
func (l *partialLayer) timeMix(*Model, *scratch, backend.Tensor) {}
func (l *partialLayer) channelMixes() ([]backend.Tensor, backend.MixStyle, backend.Tensor) {
	return nil, backend.MixLerp, nil
}
