package scheduler

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	_ "github.com/rwkvgo/rwkvgo/bindings" // registers the "cuda" backend
	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
	"github.com/rwkvgo/rwkvgo/sampler"
	"github.com/rwkvgo/rwkvgo/statecache"
)

// TestCUDABackend runs the scheduler on the CUDA backend (a GPU, or the
// emulated library through RWKVGO_CUDA_LIB) when one is available: mixed
// requests in batches run to completion, and greedy ones equal the CPU's.
func TestCUDABackend(t *testing.T) {
	be, err := backend.Open("cuda", 0)
	if err != nil {
		t.Skipf("no CUDA backend: %v", err)
	}
	defer be.Close()
	m, err := engine.Load(testdata.Path(t, tinyV7), engine.Options{Backend: be})
	require.NoError(t, err)
	defer m.Close()
	cpu := tiny(t)
	s, err := New(m, Config{MaxBatch: 4, ChunkSize: 64})
	require.NoError(t, err)
	defer s.Close()
	reqs := mixedRequests(8)
	for i := range reqs { // the emulated library is slow: short requests
		reqs[i].Prompt = reqs[i].Prompt[:min(len(reqs[i].Prompt), 40)]
		reqs[i].MaxTokens = min(reqs[i].MaxTokens, 8)
	}
	streams := make([]*Stream, len(reqs))
	for i, r := range reqs {
		streams[i], err = s.Submit(context.Background(), r)
		require.NoError(t, err)
	}
	for i, st := range streams {
		res, err := st.Result()
		require.NoError(t, err, "request %d", i)
		require.NotEmpty(t, res.Tokens)
		require.LessOrEqual(t, len(res.Tokens), reqs[i].MaxTokens)
		if reqs[i].Sampler.Temperature == 0 {
			require.Equal(t, sequential(t, cpu, reqs[i]).Tokens, res.Tokens, "greedy request %d", i)
		}
	}
}

// TestCUDADeviceTierPrefixHit: on the CUDA backend, a prefix cache with a
// device tier keeps prefix states in device memory. A request resuming from
// one gives the output of an uncached run, and neither saving nor resuming
// moves a state through the host: compared with a RAM-only cache, the run
// transfers exactly the state copies fewer in each direction.
func TestCUDADeviceTierPrefixHit(t *testing.T) {
	be, err := backend.Open("cuda", 0)
	if err != nil {
		t.Skipf("no CUDA backend: %v", err)
	}
	defer be.Close()
	sr, ok := be.(backend.StatsReporter)
	require.True(t, ok, "the CUDA backend reports its counters")
	m, err := engine.Load(testdata.Path(t, tinyV7), engine.Options{Backend: be})
	require.NoError(t, err)
	defer m.Close()
	stateBytes := uint64(4 * m.Config().StateSize())

	base := text("Device tier: In a shocking finding, scientists discovered")[:40]
	first := Request{Prompt: base, MaxTokens: 4, Decode: decode, Sampler: cfgWith(0, 0, nil)}
	second := Request{Prompt: append(append([]int(nil), base[:32]...), text(" a herd")...), MaxTokens: 6, Decode: decode,
		Sampler: cfgWith(0.8, 5, func(c *sampler.Config) { c.TopK = 10 })}

	type run struct {
		res          [2]*Result
		xfer         [2]backend.Stats
		deviceHits   uint64
		tierAt32     string
		cachedTokens int
	}
	serve := func(cache *statecache.Cache) run {
		s, err := New(m, Config{MaxBatch: 2, ChunkSize: 16, Cache: cache})
		require.NoError(t, err)
		defer s.Close()
		var r run
		for i, req := range []Request{first, second} {
			before := sr.Stats()
			st, err := s.Submit(context.Background(), req)
			require.NoError(t, err)
			r.res[i], err = st.Result()
			require.NoError(t, err)
			r.xfer[i] = sr.Stats().Sub(before)
			if i == 0 {
				r.tierAt32 = cache.Tier("", base[:32])
			}
		}
		r.deviceHits = cache.Stats().DeviceHits
		r.cachedTokens = r.res[1].CachedTokens
		return r
	}

	uncached, err := New(m, Config{MaxBatch: 2, ChunkSize: 16})
	require.NoError(t, err)
	var want [2]*Result
	for i, req := range []Request{first, second} {
		st, err := uncached.Submit(context.Background(), req)
		require.NoError(t, err)
		want[i], err = st.Result()
		require.NoError(t, err)
	}
	uncached.Close()

	devCache, err := statecache.New(statecache.Config{MaxBytes: 1 << 20, Device: m, DeviceBytes: 8 * int64(stateBytes)})
	require.NoError(t, err)
	dev := serve(devCache)
	devCache.Close()
	ramCache, err := statecache.New(statecache.Config{MaxBytes: 1 << 20})
	require.NoError(t, err)
	ram := serve(ramCache)

	require.Equal(t, "device", dev.tierAt32)
	require.Equal(t, "ram", ram.tierAt32)
	require.Equal(t, 32, dev.cachedTokens, "the second request resumes after 32 cached tokens")
	require.Equal(t, 32, ram.cachedTokens)
	require.Equal(t, uint64(1), dev.deviceHits)
	for i := range want {
		require.Equal(t, want[i].Tokens, dev.res[i].Tokens, "request %d from the device tier", i)
		require.Equal(t, want[i].Tokens, ram.res[i].Tokens, "request %d from the RAM tier", i)
	}
	// First request: 3 states saved (at 16, 32, 40 tokens), read back to
	// the host only by the RAM tier. Second: the RAM tier writes the cached
	// state into the session and reads one more saved state (at 37 tokens).
	require.Equal(t, ram.xfer[0].D2HBytes, dev.xfer[0].D2HBytes+3*stateBytes)
	require.Equal(t, ram.xfer[0].H2DBytes, dev.xfer[0].H2DBytes)
	require.Equal(t, ram.xfer[1].D2HBytes, dev.xfer[1].D2HBytes+stateBytes)
	require.Equal(t, ram.xfer[1].H2DBytes, dev.xfer[1].H2DBytes+stateBytes)

	// The restore itself is a device-to-device copy.
	sess, err := m.NewSession()
	require.NoError(t, err)
	defer sess.Close()
	devCache, err = statecache.New(statecache.Config{MaxBytes: 1 << 20, Device: m, DeviceBytes: int64(stateBytes)})
	require.NoError(t, err)
	defer devCache.Close()
	_, err = sess.Feed(base[:8])
	require.NoError(t, err)
	before := sr.Stats()
	require.NoError(t, devCache.Save("", base[:8], sess))
	require.NoError(t, sess.Reset())
	mid := sr.Stats()
	n, err := devCache.Restore("", base, sess)
	require.NoError(t, err)
	require.Equal(t, 8, n)
	after := sr.Stats()
	require.Zero(t, after.Sub(mid).H2DBytes+after.Sub(mid).D2HBytes, "restore moved bytes through the host")
	require.Zero(t, mid.Sub(before).D2HBytes, "save moved bytes through the host")
	require.Equal(t, stateBytes, mid.Sub(before).H2DBytes, "only Reset writes from the host")
}
