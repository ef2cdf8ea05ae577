package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/engine/cpu"
	"github.com/rwkvgo/rwkvgo/weights"
)

// renamed is a backend under another name: a stand-in for a device backend.
type renamed struct{ backend.Backend }

func (renamed) Name() string { return "device" }

// TestCacheConfig: --state-cache-bytes is all RAM on the CPU backend; on a
// device backend a quarter (at most 1 GiB) is the device tier and the tiers
// together stay within the flag.
func TestCacheConfig(t *testing.T) {
	f, err := weights.Synthesize(weights.SynthConfig{Version: weights.V7, Layers: 1, Embd: 16, Vocab: 20, HeadSize: 8, Seed: 1})
	require.NoError(t, err)
	wm, err := weights.Canonicalize(f, weights.Options{})
	require.NoError(t, err)
	load := func(be backend.Backend) *engine.Model {
		m, err := engine.New(wm, engine.Options{Backend: be})
		require.NoError(t, err)
		t.Cleanup(func() { m.Close() })
		return m
	}
	onCPU := load(cpu.New(1))
	cfg := cacheConfig(onCPU, 1<<20, "d")
	require.Nil(t, cfg.Device)
	require.Equal(t, int64(1<<20), cfg.MaxBytes)
	require.Equal(t, "d", cfg.Dir)

	be := cpu.New(1)
	defer be.Close()
	onDev := load(renamed{be})
	cfg = cacheConfig(onDev, 1<<20, "")
	require.Same(t, onDev, cfg.Device)
	require.Equal(t, int64(1<<18), cfg.DeviceBytes)
	require.Equal(t, int64(3<<18), cfg.MaxBytes)
	cfg = cacheConfig(onDev, 16<<30, "")
	require.Equal(t, int64(1<<30), cfg.DeviceBytes)
	require.Equal(t, int64(15<<30), cfg.MaxBytes)
	// Too small for one state on the device: RAM only.
	cfg = cacheConfig(onDev, 8, "")
	require.Nil(t, cfg.Device)
	require.Equal(t, int64(8), cfg.MaxBytes)
}
