package scheduler

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	_ "github.com/rwkvgo/rwkvgo/bindings" // registers the "cuda" backend
	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
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
