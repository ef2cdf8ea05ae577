//go:build cuda

package bindings

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
	"github.com/rwkvgo/rwkvgo/sampler"
)

// stepCounter counts an Engine's steps by kind (OnStep).
type stepCounter struct {
	mu                   sync.Mutex
	device, host, hostDe int // device launches, host steps, host steps that decoded
}

func (c *stepCounter) onStep(info engine.StepInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case info.Device:
		c.device++
	default:
		c.host++
		if info.DecodeTokens > 0 {
			c.hostDe++
		}
	}
}

func (c *stepCounter) get() (device, host, hostDecode int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.device, c.host, c.hostDe
}

// engineRun submits reqs at once to a new Engine on m and returns their
// results (in order), the engine's step counts and the backend's counters
// over the run.
func engineRun(t *testing.T, b *Backend, m *engine.Model, opts engine.EngineOptions, reqs []engine.SubmitRequest) ([]*engine.Result, *stepCounter, backend.Stats) {
	t.Helper()
	c := &stepCounter{}
	opts.OnStep = c.onStep
	s0 := b.Stats()
	e, err := engine.NewEngine(m, opts)
	require.NoError(t, err)
	streams := make([]*engine.Stream, len(reqs))
	for i, r := range reqs {
		streams[i], err = e.Submit(context.Background(), r)
		require.NoError(t, err)
	}
	res := make([]*engine.Result, len(reqs))
	for i, st := range streams {
		res[i], err = st.Result()
		require.NoError(t, err, "request %d", i)
	}
	require.NoError(t, e.Close())
	return res, c, b.Stats().Sub(s0)
}

// engineRequests are concurrent requests with different prompts, settings
// (those of decodeConfigs), budgets and sequence ids.
func engineRequests(n int) []engine.SubmitRequest {
	cfgs := decodeConfigs()
	names := []string{"greedy", "sampled", "penalized", "stop-tokens"}
	reqs := make([]engine.SubmitRequest, n)
	for i := range reqs {
		reqs[i] = engine.SubmitRequest{Prompt: []int{65 + i, 32, 98 + i, 99}, Sampler: cfgs[names[i%4]], Seq: uint64(i + 1), MaxTokens: 4 + i%5,
			PenalizeGeneratedOnly: i%3 == 2}
	}
	return reqs
}

// TestEngineDeviceTokens: an Engine on the CUDA backend runs its decode
// steps on the device-resident decode loop and gives every request the
// tokens and stop reason of the host path (the same engine with
// HostSampling) for the same seeds and settings, greedy and sampled, with
// several concurrent requests of different settings; no logits row crosses
// to the host after a request's first token. A request the device sampler
// cannot serve (Mirostat, a repetition detector, more stop tokens than the
// device checks) is stepped on the host path, among device ones, with the
// same tokens.
func TestEngineDeviceTokens(t *testing.T) {
	b := openTest(t)
	defer b.Close()
	m, err := engine.Load(testdata.Path(t, decodeModels[0]), engine.Options{Backend: b})
	require.NoError(t, err)
	defer m.Close()
	V, C := m.Config().Vocab, m.Config().Embd

	t.Run("device", func(t *testing.T) {
		reqs := engineRequests(8)
		want, hc, _ := engineRun(t, b, m, engine.EngineOptions{MaxBatch: 8, HostSampling: true}, reqs)
		got, dc, st := engineRun(t, b, m, engine.EngineOptions{MaxBatch: 8}, reqs)
		tokens := 0
		for i := range reqs {
			assert.Equal(t, want[i].Tokens, got[i].Tokens, "request %d", i)
			assert.Equal(t, want[i].Reason, got[i].Reason, "request %d", i)
			tokens += len(got[i].Tokens)
		}
		dev, _, hostDecode := dc.get()
		assert.Positive(t, dev, "device launches")
		assert.Zero(t, hostDecode, "host steps that decoded")
		_, _, hd := hc.get()
		assert.Positive(t, hd, "the host path decodes on the host")
		// Each prompt's last logits and hidden row (its first token is
		// drawn on the host), then 16 bytes per sequence and launch.
		assert.LessOrEqual(t, st.D2HBytes, uint64(len(reqs)*4*(V+C)+16*len(reqs)*(dev+1)), "bytes to the host: %+v", st)
		t.Logf("%d requests, %d tokens: %d device launches, %d bytes to the host", len(reqs), tokens, dev, st.D2HBytes)
	})

	t.Run("host-rule", func(t *testing.T) {
		reqs := engineRequests(4)
		miro := sampler.DefaultConfig()
		miro.Mirostat, miro.MirostatTau, miro.MirostatEta, miro.Seed = 2, 5, 0.1, 4
		det := sampler.DefaultConfig()
		det.Seed = 6
		det.Detector = sampler.DetectorConfig{Window: 8, Threshold: 0.5, Action: sampler.DetectStop}
		stops := decodeConfigs()["sampled"]
		for id := range MaxDecodeStops + 1 {
			stops.StopTokens = append(stops.StopTokens, 200+id)
		}
		reqs = append(reqs,
			engine.SubmitRequest{Prompt: []int{72, 105}, Sampler: miro, Seq: 9, MaxTokens: 6},
			engine.SubmitRequest{Prompt: []int{87, 111}, Sampler: det, Seq: 10, MaxTokens: 6},
			engine.SubmitRequest{Prompt: []int{66, 111}, Sampler: stops, Seq: 12, MaxTokens: 6})
		want, _, _ := engineRun(t, b, m, engine.EngineOptions{MaxBatch: 8, HostSampling: true}, reqs)
		got, dc, _ := engineRun(t, b, m, engine.EngineOptions{MaxBatch: 8}, reqs)
		for i := range reqs {
			assert.Equal(t, want[i].Tokens, got[i].Tokens, "request %d", i)
			assert.Equal(t, want[i].Reason, got[i].Reason, "request %d", i)
		}
		dev, _, hostDecode := dc.get()
		assert.Positive(t, dev, "device launches")
		assert.Positive(t, hostDecode, "host steps that decoded (the host-only requests)")

		// Alone, a host-only request never reaches the device loop.
		_, dc, _ = engineRun(t, b, m, engine.EngineOptions{MaxBatch: 8}, reqs[4:5])
		dev, _, hostDecode = dc.get()
		assert.Zero(t, dev, "device launches for Mirostat")
		assert.Positive(t, hostDecode)
	})
}

// TestEngineDeviceLogprobs: the log-probabilities of a request on the
// device loop, the chosen token's and its top 1, 3 or 20 alternatives
// (computed on the device: the log-softmax of the raw logits in float64, a
// block-order sum, rounded to float32; the alternatives picked there),
// equal the host path's (float64 over the logits read back, a sequential
// sum): the same alternatives in the same order, the values within a
// relative 1e-6 (the rounding to float32 is at most 2^-24, 6e-8, relative;
// the sums' orders differ by a few float64 ulps; a wrong token or an
// unnormalised value is off by far more). A request without Logprobs gets
// none, and the bytes to the host stay far below one logits row per token.
func TestEngineDeviceLogprobs(t *testing.T) {
	b := openTest(t)
	defer b.Close()
	m, err := engine.Load(testdata.Path(t, decodeModels[0]), engine.Options{Backend: b})
	require.NoError(t, err)
	defer m.Close()
	reqs := engineRequests(5)
	for i, n := range []int{0, 3, 20, 0, 1} {
		reqs[i].Logprobs, reqs[i].TopLogprobs = i != 3, n // one without: it gets none
	}
	run := func(opts engine.EngineOptions) [][]engine.Event {
		e, err := engine.NewEngine(m, opts)
		require.NoError(t, err)
		defer e.Close()
		out := make([][]engine.Event, len(reqs))
		streams := make([]*engine.Stream, len(reqs))
		for i, r := range reqs {
			streams[i], err = e.Submit(context.Background(), r)
			require.NoError(t, err)
		}
		for i, st := range streams {
			for ev := range st.Events() {
				require.NoError(t, ev.Err)
				if ev.Token >= 0 {
					out[i] = append(out[i], ev)
				}
			}
		}
		return out
	}
	want := run(engine.EngineOptions{MaxBatch: 8, HostSampling: true})
	s0 := b.Stats()
	got := run(engine.EngineOptions{MaxBatch: 8})
	st := b.Stats().Sub(s0)
	const tol = 1e-6
	maxDiff := 0.0
	tokens := 0
	for i := range got {
		tokens += len(got[i])
	}
	V, C := m.Config().Vocab, m.Config().Embd
	// The prompts' last logits and hidden rows, then 16 bytes per sequence
	// and launch and 8 bytes per alternative: far below a logits row per
	// token.
	assert.Less(t, st.D2HBytes, uint64(len(reqs)*4*(V+C)+tokens*4*V/2), "bytes to the host: %+v", st)
	defer func() {
		t.Logf("largest log-probability difference %.3g; %d bytes to the host for %d tokens", maxDiff, st.D2HBytes, tokens)
	}()
	for i := range reqs {
		require.Len(t, got[i], len(want[i]), "request %d", i)
		for k := range want[i] {
			require.Equal(t, want[i][k].Token, got[i][k].Token, "request %d token %d", i, k)
			if !reqs[i].Logprobs {
				assert.Zero(t, got[i][k].Logprob)
				continue
			}
			assert.Less(t, want[i][k].Logprob, 0.0)
			assert.InDelta(t, want[i][k].Logprob, got[i][k].Logprob, tol*math.Abs(want[i][k].Logprob)+1e-12, "request %d token %d", i, k)
			w, g := want[i][k].TopLogprobs, got[i][k].TopLogprobs
			require.Len(t, g, reqs[i].TopLogprobs, "request %d token %d", i, k)
			require.Len(t, w, reqs[i].TopLogprobs)
			for a := range w {
				assert.Equal(t, w[a].Token, g[a].Token, "request %d token %d alternative %d", i, k, a)
				assert.InDelta(t, w[a].Logprob, g[a].Logprob, tol*math.Abs(w[a].Logprob)+1e-12, "request %d token %d alternative %d", i, k, a)
				maxDiff = max(maxDiff, math.Abs(w[a].Logprob-g[a].Logprob))
			}
			maxDiff = max(maxDiff, math.Abs(want[i][k].Logprob-got[i][k].Logprob))
		}
	}
}

// TestEngineDeviceLifecycle: on the device loop, a request cancelled mid
// stream ends with its context's error and frees its row while another
// request admitted meanwhile runs on and gets its tokens of a run alone;
// Shutdown lets a running request finish; afterwards no goroutine is
// left. Run twice, the second run leaves no tensor handle or device memory
// (the first one grows the caches that outlive an engine: the model's
// activation buffers, the context's staging and step buffers), and once
// the model is closed no tensor handle is left.
func TestEngineDeviceLifecycle(t *testing.T) {
	b := openTest(t)
	defer b.Close()
	fresh := b.Stats()
	m, err := engine.Load(testdata.Path(t, decodeModels[0]), engine.Options{Backend: b})
	require.NoError(t, err)
	defer m.Close()
	cfgs := decodeConfigs()
	long := engine.SubmitRequest{Prompt: []int{76, 111}, Sampler: cfgs["sampled"], Seq: 1, MaxTokens: 10000}
	other := engine.SubmitRequest{Prompt: []int{65, 32, 98}, Sampler: cfgs["penalized"], Seq: 2, MaxTokens: 12}
	alone, _, _ := engineRun(t, b, m, engine.EngineOptions{MaxBatch: 2, HostSampling: true}, []engine.SubmitRequest{other})

	var live [2]backend.Stats
	for round := range 2 {
		engineLifecycle(t, m, long, other, alone[0].Tokens)
		live[round] = b.Stats()
	}
	assert.Equal(t, live[0].LiveTensors, live[1].LiveTensors, "live tensor handles")
	assert.Equal(t, live[0].LiveDeviceBytes, live[1].LiveDeviceBytes, "live device bytes")
	require.NoError(t, m.Close())
	assert.Equal(t, fresh.LiveTensors, b.Stats().LiveTensors, "live tensor handles")
}

// engineLifecycle is a round of TestEngineDeviceLifecycle.
func engineLifecycle(t *testing.T, m *engine.Model, long, other engine.SubmitRequest, alone []int) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	c := &stepCounter{}
	e, err := engine.NewEngine(m, engine.EngineOptions{MaxBatch: 2, OnStep: c.onStep})
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	st, err := e.Submit(ctx, long)
	require.NoError(t, err)
	for range 3 {
		ev, ok := st.Next(context.Background())
		require.True(t, ok)
		require.NoError(t, ev.Err)
		require.GreaterOrEqual(t, ev.Token, 0)
	}
	// Admitted while the long one decodes on the device.
	st2, err := e.Submit(context.Background(), other)
	require.NoError(t, err)
	ev, ok := st2.Next(context.Background())
	require.True(t, ok)
	require.NoError(t, ev.Err)
	cancel()
	var end engine.Event
	for ev := range st.Events() {
		end = ev
	}
	require.True(t, end.Done)
	require.ErrorIs(t, end.Err, context.Canceled)
	res, err := st2.Result()
	require.NoError(t, err)
	assert.Equal(t, alone, res.Tokens)
	assert.Equal(t, res.Tokens[0], ev.Token)
	dev, _, hostDecode := c.get()
	assert.Positive(t, dev)
	assert.Zero(t, hostDecode)

	// The freed row serves the next request; Shutdown lets it finish.
	st3, err := e.Submit(context.Background(), other)
	require.NoError(t, err)
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer scancel()
	require.NoError(t, e.Shutdown(sctx))
	res3, err := st3.Result()
	require.NoError(t, err)
	assert.Equal(t, alone, res3.Tokens)
	_, err = e.Submit(context.Background(), other)
	require.ErrorIs(t, err, engine.ErrEngineClosed)
	require.NoError(t, e.Close())

	goleak.VerifyNone(t, ignore)
}

// TestEngineDeviceLedger: in the steady state of an Engine on the device
// loop at batch 1, 8 and 64 (every sequence decoding, none arriving), one
// engine step costs one graph launch and no other kernel launch, no host
// synchronization (the host reads the step before the one it launched),
// at most 16 bytes to the host per sequence (the loop's entries: no
// logits), nothing to the device and no device allocation.
func TestEngineDeviceLedger(t *testing.T) {
	b := openTest(t)
	defer b.Close()
	m, err := engine.Load(testdata.Path(t, decodeModels[0]), engine.Options{Backend: b})
	require.NoError(t, err)
	defer m.Close()
	for _, batch := range []int{1, 8, 64} {
		t.Run(fmt.Sprint(batch), func(t *testing.T) {
			// The first full step captures its graph (and one more is left
			// out for margin); the emulator is slow: two counted steps.
			const skip, steps = 1, 2
			var (
				mu      sync.Mutex
				samples []backend.Stats
			)
			full := make(chan struct{})
			onStep := func(info engine.StepInfo) {
				if !info.Device || info.Sequences != batch {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if len(samples) < skip+steps+1 {
					samples = append(samples, b.Stats())
					if len(samples) == skip+steps+1 {
						close(full)
					}
				}
			}
			e, err := engine.NewEngine(m, engine.EngineOptions{MaxBatch: batch, OnStep: onStep})
			require.NoError(t, err)
			defer e.Close()
			cfg := sampler.DefaultConfig()
			cfg.Seed = 9
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			streams := make([]*engine.Stream, batch)
			for i := range streams {
				streams[i], err = e.Submit(ctx, engine.SubmitRequest{Prompt: []int{40 + i%50}, Sampler: cfg, Seq: uint64(i), MaxTokens: 1000})
				require.NoError(t, err)
			}
			select {
			case <-full:
			case <-time.After(10 * time.Minute):
				t.Fatal("the engine did not reach its steady state")
			}
			cancel()
			for _, st := range streams {
				_, err := st.Result()
				require.True(t, errors.Is(err, context.Canceled), "%v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			var sum backend.Stats
			for k := skip; k < skip+steps; k++ {
				dl := samples[k+1].Sub(samples[k])
				assert.Equal(t, uint64(1), dl.GraphLaunches, "graph launches: %+v", dl)
				assert.Zero(t, dl.KernelLaunches, "kernel launches outside the graph: %+v", dl)
				assert.Zero(t, dl.HostSyncs, "host syncs: %+v", dl)
				assert.LessOrEqual(t, dl.D2HBytes, uint64(16*batch), "bytes to the host: %+v", dl)
				assert.Zero(t, dl.H2DBytes, "bytes to the device: %+v", dl)
				assert.Zero(t, dl.Allocations, "allocations: %+v", dl)
				sum.D2HBytes += dl.D2HBytes
				sum.HostSyncs += dl.HostSyncs
			}
			t.Logf("batch %d: per engine step 1 graph launch, %.2f host syncs, %.1f bytes to the host per sequence",
				batch, float64(sum.HostSyncs)/steps, float64(sum.D2HBytes)/steps/float64(batch))
		})
	}
}

// TestDecodeLoopTopErrors: the top log-probabilities of a decode loop row
// are refused without Logprobs and beyond backend.MaxTopLogprobs, and
// ReadTop refuses a launch not read yet and more alternatives than a row
// lists.
func TestDecodeLoopTopErrors(t *testing.T) {
	b := openTest(t)
	defer b.Close()
	l, err := b.NewDecodeLoop(2, 64, 2)
	require.NoError(t, err)
	defer l.Close()
	row := backend.DecodeRow{Slot: 0, Sampler: sampler.DefaultConfig(), Remaining: 1, TopLogprobs: 3}
	require.ErrorIs(t, l.SetRow(0, row), ErrInvalidArgument, "alternatives without Logprobs")
	row.Logprobs, row.TopLogprobs = true, backend.MaxTopLogprobs+1
	require.ErrorIs(t, l.SetRow(0, row), ErrInvalidArgument, "too many alternatives")
	row.TopLogprobs = backend.MaxTopLogprobs
	require.NoError(t, l.SetRow(0, row))
	require.ErrorIs(t, l.ReadTop(0, 0, make([]backend.DecodeTop, 3)), ErrInvalidArgument, "a launch not committed")
	require.ErrorIs(t, l.ReadTop(0, 0, make([]backend.DecodeTop, backend.MaxTopLogprobs+1)), ErrInvalidArgument)
	require.NoError(t, l.ReadTop(0, 0, nil))
	require.NoError(t, b.Err())
}
