package scheduler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
	"github.com/rwkvgo/rwkvgo/sampler"
	"github.com/rwkvgo/rwkvgo/statecache"
	"github.com/rwkvgo/rwkvgo/tokenizer"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if model != nil {
		model.Close()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

const tinyV7 = "rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP32.bin"

var (
	modelOnce sync.Once
	model     *engine.Model
	modelErr  error
)

// tiny loads the shared tiny RWKV-7 model once for the package.
func tiny(t testing.TB) *engine.Model {
	t.Helper()
	p := testdata.Path(t, tinyV7)
	modelOnce.Do(func() { model, modelErr = engine.Load(p, engine.Options{Threads: 2}) })
	require.NoError(t, modelErr)
	return model
}

func text(s string) []int { return tokenizer.Bytes().Encode([]byte(s)) }

func decode(ids []int) ([]byte, error) { return tokenizer.Bytes().Decode(ids) }

// sequential runs req alone on a fresh session through engine.Session.Generate.
func sequential(t testing.TB, m *engine.Model, req Request) *sampler.Result {
	t.Helper()
	smp, err := sampler.New(req.Sampler)
	require.NoError(t, err)
	s, err := m.NewSession()
	require.NoError(t, err)
	defer s.Close()
	if req.InitialState != nil {
		require.NoError(t, s.SetState(req.InitialState))
	}
	res, err := s.Generate(context.Background(), req.Prompt, smp, engine.GenerateOptions{MaxTokens: req.MaxTokens, Seq: req.Seq, Decode: req.Decode})
	require.NoError(t, err)
	return res
}

func cfgWith(temp float64, seed uint64, f func(*sampler.Config)) sampler.Config {
	c := sampler.DefaultConfig()
	c.Temperature, c.Seed = temp, seed
	if f != nil {
		f(&c)
	}
	return c
}

func mixedRequests(n int) []Request {
	var reqs []Request
	for i := range n {
		prompt := fmt.Sprintf("Request %d: In a shocking finding, ", i)
		for range i % 4 * 90 { // some long prompts to exercise chunked prefill
			prompt += "x"
		}
		r := Request{Prompt: text(prompt), MaxTokens: 8 + i%5*6, Seq: uint64(i % 3), Decode: decode}
		switch i % 4 {
		case 0:
			r.Sampler = cfgWith(0, 0, nil)
		case 1:
			r.Sampler = cfgWith(0.9, uint64(i), func(c *sampler.Config) { c.TopK = 20 })
		case 2:
			r.Sampler = cfgWith(1.2, 7, func(c *sampler.Config) {
				c.TopP, c.RepetitionPenalty, c.PresencePenalty, c.PenaltyDecay = 0.9, 1.3, 0.2, 0.99
				c.StopStrings = []string{"e "}
			})
		case 3:
			r.Sampler = cfgWith(0.7, 3, func(c *sampler.Config) { c.MinP, c.NoRepeatNGram = 0.05, 3 })
		}
		reqs = append(reqs, r)
	}
	return reqs
}

func TestBatchedEqualsSequential(t *testing.T) {
	m := tiny(t)
	n := 16
	if raceEnabled {
		n = 8
	}
	reqs := mixedRequests(n)
	var steps []StepInfo
	var mu sync.Mutex
	s, err := New(m, Config{MaxBatch: 5, MaxQueue: 32, ChunkSize: 64, OnStep: func(i StepInfo) {
		mu.Lock()
		steps = append(steps, i)
		mu.Unlock()
	}})
	require.NoError(t, err)
	defer s.Close()
	streams := make([]*Stream, len(reqs))
	for i, r := range reqs {
		streams[i], err = s.Submit(context.Background(), r)
		require.NoError(t, err)
	}
	for i, st := range streams {
		var streamed []int
		var res *Result
		for ev := range st.Events() {
			if ev.Done {
				require.NoError(t, ev.Err)
				res = ev.Result
			} else if ev.Token >= 0 {
				streamed = append(streamed, ev.Token)
			}
		}
		want := sequential(t, m, reqs[i])
		require.Equal(t, want.Tokens, res.Tokens, "request %d tokens", i)
		require.Equal(t, want.Tokens, streamed, "request %d streamed tokens", i)
		require.Equal(t, string(want.Text), string(res.Text), "request %d text", i)
		require.Equal(t, want.Reason, res.Reason, "request %d reason", i)
		require.Equal(t, len(reqs[i].Prompt), res.PromptTokens)
	}
	mu.Lock()
	defer mu.Unlock()
	maxSeq := 0
	for _, st := range steps {
		require.LessOrEqual(t, st.PrefillTokens, 64, "prefill budget")
		maxSeq = max(maxSeq, st.Sequences)
	}
	require.Equal(t, 5, maxSeq, "batches fill up to MaxBatch")
	require.Equal(t, 0, s.Stats().Running)
}

// TestEngineBatchAndSplitInvariance checks the property the scheduler relies
// on: on the CPU backend a sequence's logits do not depend on the other
// sequences of its batch nor on how its prompt is split into steps.
func TestEngineBatchAndSplitInvariance(t *testing.T) {
	m := tiny(t)
	toks := make([]int, 300)
	for i := range toks {
		toks[i] = (i*37 + 11) % 256
	}
	a, _ := m.NewSession()
	defer a.Close()
	want, err := a.Feed(toks)
	require.NoError(t, err)
	want = append([]float32(nil), want...)
	for _, split := range []int{1, 64, 255, 299} {
		b, _ := m.NewSession()
		_, err := b.Feed(toks[:split])
		require.NoError(t, err)
		got, err := b.Feed(toks[split:])
		require.NoError(t, err)
		require.Equal(t, want, got, "split at %d", split)
		b.Close()
	}
	c, _ := m.NewSession()
	d, _ := m.NewSession()
	e, _ := m.NewSession()
	defer c.Close()
	defer d.Close()
	defer e.Close()
	r1 := &engine.Request{Session: c, Tokens: toks}
	r2 := &engine.Request{Session: d, Tokens: toks[:77]}
	r3 := &engine.Request{Session: e, Tokens: []int{5}}
	require.NoError(t, m.Step([]*engine.Request{r2, r3, r1}))
	require.Equal(t, want, r1.Logits)
}

// blocker stalls the scheduler's goroutine in OnStep until released.
type blocker struct {
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func newBlocker() *blocker {
	return &blocker{entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (b *blocker) onStep(StepInfo) {
	b.mu.Lock()
	armed := b.armed
	b.armed = false
	b.mu.Unlock()
	if armed {
		b.entered <- struct{}{}
		<-b.release
	}
}

func (b *blocker) arm() { b.mu.Lock(); b.armed = true; b.mu.Unlock() }

func TestQueueFullAndPriority(t *testing.T) {
	m := tiny(t)
	b := newBlocker()
	s, err := New(m, Config{MaxBatch: 1, MaxQueue: 2, OnStep: b.onStep})
	require.NoError(t, err)
	defer s.Close()
	greedy := cfgWith(0, 0, nil)
	b.arm()
	first, err := s.Submit(context.Background(), Request{Prompt: text("first"), MaxTokens: 3, Sampler: greedy})
	require.NoError(t, err)
	<-b.entered // the loop is inside the first step; the slot is taken
	low, err := s.Submit(context.Background(), Request{Prompt: text("low"), MaxTokens: 2, Sampler: greedy})
	require.NoError(t, err)
	high, err := s.Submit(context.Background(), Request{Prompt: text("high"), MaxTokens: 2, Sampler: greedy, Priority: 5})
	require.NoError(t, err)
	_, err = s.Submit(context.Background(), Request{Prompt: text("refused"), MaxTokens: 2, Sampler: greedy})
	require.ErrorIs(t, err, ErrQueueFull)
	require.Equal(t, 2, s.Stats().Queued)
	close(b.release)

	started := map[string]time.Time{}
	for name, st := range map[string]*Stream{"first": first, "low": low, "high": high} {
		res, err := st.Result()
		require.NoError(t, err)
		started[name] = res.Started
	}
	require.True(t, started["first"].Before(started["high"]))
	require.True(t, started["high"].Before(started["low"]), "higher priority starts first")
}

func TestCancelFreesSlot(t *testing.T) {
	m := tiny(t)
	s, err := New(m, Config{MaxBatch: 1, MaxQueue: 4})
	require.NoError(t, err)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := s.Submit(ctx, Request{Prompt: text("cancel me"), MaxTokens: 100000, Sampler: cfgWith(1, 1, nil)})
	require.NoError(t, err)
	waiting, err := s.Submit(context.Background(), Request{Prompt: text("next"), MaxTokens: 4, Sampler: cfgWith(0, 0, nil)})
	require.NoError(t, err)
	n := 0
	var final Event
	for ev := range st.Events() {
		if ev.Done {
			final = ev
			break
		}
		n++
		if n == 5 {
			cancel()
		}
	}
	require.ErrorIs(t, final.Err, context.Canceled)
	require.Less(t, n, 100, "generation stops soon after cancellation")
	res, err := waiting.Result()
	require.NoError(t, err)
	require.Len(t, res.Tokens, 4)

	// A request cancelled while still queued ends too.
	b := newBlocker()
	s2, err := New(m, Config{MaxBatch: 1, OnStep: b.onStep})
	require.NoError(t, err)
	defer s2.Close()
	b.arm()
	busy, err := s2.Submit(context.Background(), Request{Prompt: text("busy"), MaxTokens: 2, Sampler: cfgWith(0, 0, nil)})
	require.NoError(t, err)
	<-b.entered
	qctx, qcancel := context.WithCancel(context.Background())
	queued, err := s2.Submit(qctx, Request{Prompt: text("queued"), MaxTokens: 2, Sampler: cfgWith(0, 0, nil)})
	require.NoError(t, err)
	qcancel()
	close(b.release)
	_, err = queued.Result()
	require.ErrorIs(t, err, context.Canceled)
	_, err = busy.Result()
	require.NoError(t, err)
	require.Eventually(t, func() bool { return s.Stats().Running == 0 && s2.Stats().Queued == 0 }, 5*time.Second, time.Millisecond)
}

func TestInvalidRequests(t *testing.T) {
	m := tiny(t)
	s, err := New(m, Config{})
	require.NoError(t, err)
	defer s.Close()
	bad := []Request{
		{Prompt: nil, MaxTokens: 1, Sampler: cfgWith(1, 0, nil)},
		{Prompt: text("x"), MaxTokens: 0, Sampler: cfgWith(1, 0, nil)},
		{Prompt: []int{300}, MaxTokens: 1, Sampler: cfgWith(1, 0, nil)},
		{Prompt: text("x"), MaxTokens: 1, Sampler: cfgWith(-1, 0, nil)},
		{Prompt: text("x"), MaxTokens: 1, Sampler: cfgWith(1, 0, func(c *sampler.Config) { c.StopStrings = []string{"a"} })},
		{Prompt: text("x"), MaxTokens: 1, Sampler: cfgWith(1, 0, nil), InitialState: &engine.State{Data: make([]float32, 3)}},
		{Prompt: text("x"), MaxTokens: 1, Sampler: cfgWith(1, 0, nil), TopLogprobs: 21},
	}
	for i, r := range bad {
		_, err := s.Submit(context.Background(), r)
		require.ErrorIs(t, err, ErrInvalidRequest, "case %d", i)
	}
	require.NoError(t, s.Close())
	_, err = s.Submit(context.Background(), Request{Prompt: text("x"), MaxTokens: 1, Sampler: cfgWith(1, 0, nil)})
	require.ErrorIs(t, err, ErrClosed)
}

func TestPrefixCacheIdenticalOutput(t *testing.T) {
	m := tiny(t)
	cache, err := statecache.New(statecache.Config{MaxBytes: 64 << 20})
	require.NoError(t, err)
	s, err := New(m, Config{ChunkSize: 64, Cache: cache})
	require.NoError(t, err)
	defer s.Close()
	prefix := ""
	for i := 0; len(prefix) < 300; i++ {
		prefix += fmt.Sprintf("line %d of a shared system prompt. ", i)
	}
	for i, suffix := range []string{"First question?", "Second question!", "First question?"} {
		req := Request{Prompt: text(prefix + suffix), MaxTokens: 24, Decode: decode, Sampler: cfgWith(0.8, 11, nil)}
		res, err := s.Generate(context.Background(), req)
		require.NoError(t, err)
		want := sequential(t, m, req)
		require.Equal(t, want.Tokens, res.Tokens, "request %d", i)
		if i == 0 {
			require.Zero(t, res.CachedTokens)
		} else {
			require.GreaterOrEqual(t, res.CachedTokens, len(prefix)/64*64, "request %d resumes from the shared prefix", i)
		}
	}
	require.Equal(t, uint64(2), cache.Stats().Hits)

	// An initial state is part of the key.
	st0, _ := m.NewSession()
	defer st0.Close()
	_, err = st0.Feed(text("a tuned state"))
	require.NoError(t, err)
	init, err := st0.State()
	require.NoError(t, err)
	req := Request{Prompt: text(prefix + "First question?"), MaxTokens: 16, Sampler: cfgWith(0, 0, nil), InitialState: init, StateKey: "tuned"}
	res, err := s.Generate(context.Background(), req)
	require.NoError(t, err)
	require.Zero(t, res.CachedTokens, "a state-keyed request does not reuse the plain prefix")
	require.Equal(t, sequential(t, m, req).Tokens, res.Tokens)
	res, err = s.Generate(context.Background(), req)
	require.NoError(t, err)
	require.NotZero(t, res.CachedTokens)
	require.Equal(t, sequential(t, m, req).Tokens, res.Tokens)
}

func TestLogprobs(t *testing.T) {
	m := tiny(t)
	s, err := New(m, Config{})
	require.NoError(t, err)
	defer s.Close()
	st, err := s.Submit(context.Background(), Request{Prompt: text("Hello"), MaxTokens: 3, Sampler: cfgWith(0, 0, nil), Logprobs: true, TopLogprobs: 3})
	require.NoError(t, err)
	n := 0
	for ev := range st.Events() {
		if ev.Done || ev.Token < 0 {
			continue
		}
		n++
		require.Len(t, ev.TopLogprobs, 3)
		require.Equal(t, ev.Token, ev.TopLogprobs[0].Token, "greedy picks the most likely token")
		require.InDelta(t, ev.TopLogprobs[0].Logprob, ev.Logprob, 1e-12)
		require.Less(t, ev.Logprob, 0.0)
		require.GreaterOrEqual(t, ev.TopLogprobs[0].Logprob, ev.TopLogprobs[1].Logprob)
		require.GreaterOrEqual(t, ev.TopLogprobs[1].Logprob, ev.TopLogprobs[2].Logprob)
	}
	require.Equal(t, 3, n)
}

func TestCloseFailsPending(t *testing.T) {
	m := tiny(t)
	s, err := New(m, Config{MaxBatch: 1})
	require.NoError(t, err)
	st, err := s.Submit(context.Background(), Request{Prompt: text("x"), MaxTokens: 1 << 20, Sampler: cfgWith(1, 0, nil)})
	require.NoError(t, err)
	st2, err := s.Submit(context.Background(), Request{Prompt: text("y"), MaxTokens: 1 << 20, Sampler: cfgWith(1, 0, nil)})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = st.Result()
	require.True(t, errors.Is(err, ErrClosed))
	_, err = st2.Result()
	require.True(t, errors.Is(err, ErrClosed))
}

// TestLongPromptInterleaved checks that a long prompt is fed one chunk per
// step while a running stream keeps decoding in every one of those steps.
func TestLongPromptInterleaved(t *testing.T) {
	m := tiny(t)
	var mu sync.Mutex
	var steps []StepInfo
	s, err := New(m, Config{ChunkSize: 128, OnStep: func(i StepInfo) {
		mu.Lock()
		steps = append(steps, i)
		mu.Unlock()
	}})
	require.NoError(t, err)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	running, err := s.Submit(ctx, Request{Prompt: text("Keep talking."), MaxTokens: 1 << 20, Sampler: cfgWith(1, 1, nil)})
	require.NoError(t, err)
	ev, ok := running.Next(context.Background())
	require.True(t, ok)
	require.False(t, ev.Done)
	n := 1500
	if raceEnabled {
		n = 600
	}
	long := make([]int, n)
	for i := range long {
		long[i] = 'a' + i%26
	}
	res, err := s.Generate(context.Background(), Request{Prompt: long, MaxTokens: 1, Sampler: cfgWith(0, 0, nil)})
	require.NoError(t, err)
	require.Len(t, res.Tokens, 1)
	cancel()
	_, err = running.Result()
	require.ErrorIs(t, err, context.Canceled)

	mu.Lock()
	defer mu.Unlock()
	prefill := 0
	for _, st := range steps[1:] { // steps[0] is the running stream's own prompt
		if st.PrefillTokens == 0 {
			continue
		}
		prefill++
		require.LessOrEqual(t, st.PrefillTokens, 128)
		require.Equal(t, 1, st.DecodeTokens, "the running stream decodes in every prefill step")
	}
	require.GreaterOrEqual(t, prefill, (n+127)/128)
}
