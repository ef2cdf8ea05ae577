package scheduler

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/sampler"
)

// The repetition detector's actions and the stateful Mirostat sampler give,
// batched, exactly what engine.Session.Generate gives alone: report keeps
// generating and records the firings, stop ends with StopRepetition,
// escalate raises the penalties and changes the continuation.
func TestDetectorActionsAndMirostatEqualSequential(t *testing.T) {
	m := tiny(t)
	det := func(a sampler.DetectorAction) func(*sampler.Config) {
		return func(c *sampler.Config) {
			c.Detector = sampler.DetectorConfig{Threshold: 0.5, N: 4, Window: 16, Action: a}
		}
	}
	reqs := []Request{
		{Sampler: cfgWith(0, 0, det(sampler.DetectReport))},
		{Sampler: cfgWith(0, 0, det(sampler.DetectStop))},
		{Sampler: cfgWith(0, 0, det(sampler.DetectEscalate))},
		{Sampler: cfgWith(0, 0, nil)},
		{Sampler: cfgWith(1, 5, func(c *sampler.Config) { c.Mirostat, c.MirostatTau, c.MirostatEta = 2, 4, 0.3 })},
		{Sampler: cfgWith(0, 0, func(c *sampler.Config) { c.DRYMultiplier, c.DRYSequenceBreakers = 0.8, [][]int{{'\n'}} })},
	}
	s, err := New(m, Config{MaxBatch: 4, MaxQueue: 16, ChunkSize: 64})
	require.NoError(t, err)
	defer s.Close()
	results := make([]*Result, len(reqs))
	for i := range reqs {
		reqs[i].Prompt, reqs[i].MaxTokens, reqs[i].Decode = text("In a shocking finding,"), 64, decode
	}
	streams := make([]*Stream, len(reqs))
	for i, r := range reqs {
		streams[i], err = s.Submit(context.Background(), r)
		require.NoError(t, err)
	}
	for i, st := range streams {
		for ev := range st.Events() {
			if ev.Done {
				require.NoError(t, ev.Err)
				results[i] = ev.Result
			}
		}
		want := sequential(t, m, reqs[i])
		require.Equal(t, want.Tokens, results[i].Tokens, "request %d", i)
		require.Equal(t, want.Reason, results[i].Reason, "request %d", i)
		require.Equal(t, want.Events, results[i].Events, "request %d", i)
	}
	report, stop, escalate, plain := results[0], results[1], results[2], results[3]
	require.Equal(t, sampler.StopLength, report.Reason)
	require.Equal(t, plain.Tokens, report.Tokens, "report changes nothing")
	require.NotEmpty(t, report.Events)
	require.Equal(t, sampler.StopRepetition, stop.Reason)
	require.Len(t, stop.Events, 1)
	require.Equal(t, plain.Tokens[:len(stop.Tokens)], stop.Tokens)
	require.Equal(t, stop.Events[0].Step+1, len(stop.Tokens), "stops right after the firing")
	require.NotEmpty(t, escalate.Events)
	require.NotEqual(t, plain.Tokens, escalate.Tokens, "escalation changes the continuation")
	require.Equal(t, sampler.DetectEscalate, escalate.Events[0].Action)
}
