package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
	"github.com/rwkvgo/rwkvgo/sampler"
	"github.com/rwkvgo/rwkvgo/tokenizer"
)

// The Engine tests run on the shared tiny RWKV-7 model (byte vocabulary).
const submitModel = "rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP32.bin"

// submitTest checks for leaked goroutines when the test ends (after every
// cleanup registered later, such as closing the engine and the model) and
// loads the tiny model for the test.
func submitTest(t *testing.T) *engine.Model {
	t.Helper()
	p := testdata.Path(t, submitModel)
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	m, err := engine.Load(p, engine.Options{Threads: 2})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

func newEngine(t *testing.T, m *engine.Model, opts engine.EngineOptions) *engine.Engine {
	t.Helper()
	e, err := engine.NewEngine(m, opts)
	require.NoError(t, err)
	t.Cleanup(func() { e.Close() })
	return e
}

func byteText(s string) []int { return tokenizer.Bytes().Encode([]byte(s)) }

func byteDecode(ids []int) ([]byte, error) { return tokenizer.Bytes().Decode(ids) }

func samplerCfg(temp float64, seed uint64, f func(*sampler.Config)) sampler.Config {
	c := sampler.DefaultConfig()
	c.Temperature, c.Seed = temp, seed
	if f != nil {
		f(&c)
	}
	return c
}

// sessionGenerate runs req alone, from a fresh session, through
// Session.Generate: the reference every Submit must reproduce.
func sessionGenerate(t *testing.T, m *engine.Model, req engine.SubmitRequest) *sampler.Result {
	t.Helper()
	smp, err := sampler.New(req.Sampler)
	require.NoError(t, err)
	s, err := m.NewSession()
	require.NoError(t, err)
	defer s.Close()
	if req.InitialState != nil {
		require.NoError(t, s.SetState(req.InitialState))
	}
	res, err := s.Generate(context.Background(), req.Prompt, smp, engine.GenerateOptions{
		MaxTokens: req.MaxTokens, Seq: req.Seq, Decode: req.Decode, PenalizeGeneratedOnly: req.PenalizeGeneratedOnly})
	require.NoError(t, err)
	return res
}

// stepLog records the engine's steps.
type stepLog struct {
	mu    sync.Mutex
	steps []engine.StepInfo
}

func (l *stepLog) onStep(i engine.StepInfo) { l.mu.Lock(); l.steps = append(l.steps, i); l.mu.Unlock() }

func (l *stepLog) get() []engine.StepInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]engine.StepInfo(nil), l.steps...)
}

// collect reads a stream to its end through Tokens: the generated ids, the
// text, the finish reason and the final error.
func collect(st *engine.Stream) (ids []int, text []byte, finish sampler.StopReason, err error) {
	for tok, err := range st.Tokens() {
		if err != nil {
			return ids, text, "", err
		}
		if tok.Finish != "" {
			return ids, text, tok.Finish, nil
		}
		if tok.ID >= 0 {
			ids = append(ids, tok.ID)
		}
		text = append(text, tok.Text...)
	}
	return ids, text, "", errors.New("stream ended without a final token")
}

// TestSubmitEqualsSessionGenerate: requests with different settings
// (greedy, sampled with top-k, top-p with penalties and a stop string, min-p
// with the n-gram ban, Mirostat, stop tokens, penalties over the generated
// tokens only, an initial state, log-probabilities), submitted concurrently
// from several goroutines and batched together, each give exactly the tokens,
// text and finish reason of Session.Generate run alone with the same
// settings and seed.
func TestSubmitEqualsSessionGenerate(t *testing.T) {
	m := submitTest(t)
	var log stepLog
	e := newEngine(t, m, engine.EngineOptions{MaxBatch: 4, ChunkSize: 32, OnStep: log.onStep})

	tuned, err := m.NewSession()
	require.NoError(t, err)
	_, err = tuned.Feed(byteText("A tuned state. "))
	require.NoError(t, err)
	init, err := tuned.State()
	require.NoError(t, err)
	tuned.Close()

	settings := []func(*engine.SubmitRequest){
		func(r *engine.SubmitRequest) { r.Sampler = samplerCfg(0, 0, nil) },
		func(r *engine.SubmitRequest) {
			r.Sampler = samplerCfg(0.9, 3, func(c *sampler.Config) { c.TopK = 20 })
		},
		func(r *engine.SubmitRequest) {
			r.Sampler = samplerCfg(1.2, 7, func(c *sampler.Config) {
				c.TopP, c.RepetitionPenalty, c.PresencePenalty, c.PenaltyDecay = 0.9, 1.3, 0.2, 0.99
				c.StopStrings = []string{"e "}
			})
		},
		func(r *engine.SubmitRequest) {
			r.Sampler = samplerCfg(0.7, 11, func(c *sampler.Config) { c.MinP, c.NoRepeatNGram = 0.05, 3 })
		},
		func(r *engine.SubmitRequest) {
			r.Sampler = samplerCfg(1, 5, func(c *sampler.Config) { c.Mirostat, c.MirostatTau, c.MirostatEta = 2, 4, 0.3 })
		},
		func(r *engine.SubmitRequest) {
			r.Sampler = samplerCfg(1, 2, func(c *sampler.Config) { c.StopTokens = []int{' ', 'e'} })
		},
		func(r *engine.SubmitRequest) {
			r.Sampler = samplerCfg(0.8, 9, func(c *sampler.Config) { c.FrequencyPenalty, c.TopK = 0.5, 40 })
			r.PenalizeGeneratedOnly = true
		},
		func(r *engine.SubmitRequest) { r.Sampler, r.InitialState = samplerCfg(0.6, 4, nil), init },
		func(r *engine.SubmitRequest) { r.Sampler, r.Logprobs, r.TopLogprobs = samplerCfg(0, 0, nil), true, 2 },
	}
	reqs := make([]engine.SubmitRequest, len(settings))
	for i, set := range settings {
		p := fmt.Sprintf("Request %d: In a shocking finding, ", i)
		for range i % 3 * 45 { // prompts of several chunks: chunked prefill
			p += "x"
		}
		reqs[i] = engine.SubmitRequest{Prompt: byteText(p), MaxTokens: 12 + i%4*6, Seq: uint64(i % 3), Decode: byteDecode}
		set(&reqs[i])
	}

	type out struct {
		ids    []int
		text   []byte
		finish sampler.StopReason
		err    error
	}
	outs := make([]out, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Go(func() {
			st, err := e.Submit(context.Background(), r)
			if err != nil {
				outs[i].err = err
				return
			}
			o := &outs[i]
			o.ids, o.text, o.finish, o.err = collect(st)
		})
	}
	wg.Wait()
	for i, r := range reqs {
		require.NoError(t, outs[i].err, "request %d", i)
		want := sessionGenerate(t, m, r)
		require.Equal(t, want.Tokens, outs[i].ids, "request %d tokens", i)
		require.Equal(t, string(want.Text), string(outs[i].text), "request %d text", i)
		require.Equal(t, want.Reason, outs[i].finish, "request %d finish reason", i)
	}

	maxSeqs := 0
	for _, st := range log.get() {
		maxSeqs = max(maxSeqs, st.Sequences)
		require.LessOrEqual(t, st.PrefillTokens, 32, "prefill budget")
	}
	require.Equal(t, 4, maxSeqs, "requests ran batched, up to MaxBatch")
	require.Eventually(t, func() bool { return e.Stats().Running == 0 }, 5*time.Second, time.Millisecond)
}

// TestSubmitLogprobs: the stream carries each token's log-probability and
// the most likely alternatives when asked for.
func TestSubmitLogprobs(t *testing.T) {
	m := submitTest(t)
	e := newEngine(t, m, engine.EngineOptions{})
	st, err := e.Submit(context.Background(), engine.SubmitRequest{Prompt: byteText("Hello"), MaxTokens: 3,
		Sampler: samplerCfg(0, 0, nil), Logprobs: true, TopLogprobs: 3})
	require.NoError(t, err)
	n := 0
	for tok, err := range st.Tokens() {
		require.NoError(t, err)
		if tok.ID < 0 {
			require.Equal(t, sampler.StopLength, tok.Finish)
			continue
		}
		n++
		require.Len(t, tok.TopLogprobs, 3)
		require.Equal(t, tok.ID, tok.TopLogprobs[0].Token, "greedy picks the most likely token")
		require.InDelta(t, tok.TopLogprobs[0].Logprob, tok.Logprob, 1e-12)
		require.Less(t, tok.Logprob, 0.0)
	}
	require.Equal(t, 3, n)
}

// pauser stalls the engine's goroutine in OnStep at a chosen step until
// released.
type pauser struct {
	mu      sync.Mutex
	n, at   int
	entered chan struct{}
	release chan struct{}
}

func newPauser(at int) *pauser {
	return &pauser{at: at, entered: make(chan struct{}), release: make(chan struct{})}
}

func (p *pauser) onStep(engine.StepInfo) {
	p.mu.Lock()
	p.n++
	hit := p.n == p.at
	p.mu.Unlock()
	if hit {
		close(p.entered)
		<-p.release
	}
}

// TestSubmitCancelMidStream: cancelling a request's context while it
// decodes retires it before the next step: its stream ends with the
// context's error right after the token of the step in progress, no further
// step runs for it, and a request decoding beside it is unaffected.
func TestSubmitCancelMidStream(t *testing.T) {
	m := submitTest(t)
	p := newPauser(5)
	var log stepLog
	e := newEngine(t, m, engine.EngineOptions{OnStep: func(i engine.StepInfo) { log.onStep(i); p.onStep(i) }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	victim := engine.SubmitRequest{Prompt: byteText("Cancel me"), MaxTokens: 1 << 20, Sampler: samplerCfg(1, 1, nil)}
	st, err := e.Submit(ctx, victim)
	require.NoError(t, err)

	<-p.entered // inside step 5: the request has 4 tokens out, the 5th is being drawn
	cancel()
	close(p.release)
	ids, _, _, err := collect(st)
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, ids, 5, "the step in progress completes; none follows")
	victim.MaxTokens = 5
	require.Equal(t, sessionGenerate(t, m, victim).Tokens, ids)
	require.Eventually(t, func() bool { return e.Stats().Running == 0 }, 5*time.Second, time.Millisecond)
	require.Len(t, log.get(), 5, "no step after the cancellation")

	// Cancelled among others: the others' outputs do not change.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	long, err := e.Submit(ctx2, engine.SubmitRequest{Prompt: byteText("Talk on"), MaxTokens: 1 << 20, Sampler: samplerCfg(0.8, 2, nil)})
	require.NoError(t, err)
	keep := engine.SubmitRequest{Prompt: byteText("Keep going"), MaxTokens: 40, Sampler: samplerCfg(0.9, 8, func(c *sampler.Config) { c.TopP = 0.95 })}
	kept, err := e.Submit(context.Background(), keep)
	require.NoError(t, err)
	n := 0
	for tok, err := range long.Tokens() {
		if err != nil {
			require.ErrorIs(t, err, context.Canceled)
			break
		}
		require.GreaterOrEqual(t, tok.ID, 0)
		if n++; n == 10 {
			cancel2()
		}
	}
	ids, _, finish, err := collect(kept)
	require.NoError(t, err)
	require.Equal(t, sampler.StopLength, finish)
	require.Equal(t, sessionGenerate(t, m, keep).Tokens, ids)

	// A request whose context is cancelled while it is still queued ends
	// too, without running.
	qctx, qcancel := context.WithCancelCause(context.Background())
	cause := errors.New("client went away")
	qcancel(cause)
	st, err = e.Submit(qctx, keep)
	require.NoError(t, err)
	_, err = st.Result()
	require.ErrorIs(t, err, cause, "the stream ends with the context's cause")
}

// TestSubmitAdmitWhileDecoding: a request submitted while another decodes is
// admitted between steps: its prompt is prefilled in the steps where the
// first keeps decoding, and both give exactly their outputs alone.
func TestSubmitAdmitWhileDecoding(t *testing.T) {
	m := submitTest(t)
	var log stepLog
	e := newEngine(t, m, engine.EngineOptions{ChunkSize: 16, OnStep: log.onStep})
	first := engine.SubmitRequest{Prompt: byteText("The first request"), MaxTokens: 120, Seq: 1, Decode: byteDecode,
		Sampler: samplerCfg(0.9, 21, func(c *sampler.Config) { c.TopK = 30 })}
	a, err := e.Submit(context.Background(), first)
	require.NoError(t, err)
	var aIDs []int
	for tok, err := range a.Tokens() { // the first is decoding
		require.NoError(t, err)
		aIDs = append(aIDs, tok.ID)
		if len(aIDs) == 3 {
			break
		}
	}
	late := engine.SubmitRequest{Prompt: byteText("A later request with a prompt of several chunks, admitted mid-flight."),
		MaxTokens: 10, Seq: 2, Decode: byteDecode, Sampler: samplerCfg(0, 0, nil)}
	b, err := e.Submit(context.Background(), late)
	require.NoError(t, err)
	bIDs, _, _, err := collect(b)
	require.NoError(t, err)
	require.Equal(t, sessionGenerate(t, m, late).Tokens, bIDs)
	rest, _, finish, err := collect(a)
	require.NoError(t, err)
	require.Equal(t, sampler.StopLength, finish)
	require.Equal(t, sessionGenerate(t, m, first).Tokens, append(aIDs, rest...))

	interleaved := 0
	for _, st := range log.get() {
		if st.PrefillTokens > 0 && st.DecodeTokens > 0 {
			interleaved++
			require.LessOrEqual(t, st.PrefillTokens, 16)
		}
	}
	require.GreaterOrEqual(t, interleaved, (len(late.Prompt)+15)/16, "the late prompt is prefilled while the first decodes")
}

// TestSubmitCloseInFlight: Close with requests running and queued ends
// every stream with ErrEngineClosed, refuses later submissions and leaves
// no goroutine behind (checked at the end of the test).
func TestSubmitCloseInFlight(t *testing.T) {
	m := submitTest(t)
	e := newEngine(t, m, engine.EngineOptions{MaxBatch: 2})
	var streams []*engine.Stream
	for i := range 4 {
		st, err := e.Submit(context.Background(), engine.SubmitRequest{Prompt: byteText(fmt.Sprintf("Run %d", i)),
			MaxTokens: 1 << 20, Sampler: samplerCfg(1, uint64(i), nil)})
		require.NoError(t, err)
		streams = append(streams, st)
	}
	ev, ok := streams[0].Next(context.Background())
	require.True(t, ok)
	require.False(t, ev.Done, "the first request is decoding")
	require.Equal(t, 2, e.Stats().Queued)

	require.NoError(t, e.Close())
	for i, st := range streams {
		_, err := st.Result()
		require.ErrorIs(t, err, engine.ErrEngineClosed, "stream %d", i)
	}
	_, err := e.Submit(context.Background(), engine.SubmitRequest{Prompt: byteText("x"), MaxTokens: 1, Sampler: samplerCfg(0, 0, nil)})
	require.ErrorIs(t, err, engine.ErrEngineClosed)
	require.NoError(t, e.Close(), "Close is idempotent")
	require.Equal(t, engine.EngineStats{Steps: e.Stats().Steps, Tokens: e.Stats().Tokens}, e.Stats())
}

// TestSubmitShutdownDrains: Shutdown refuses new requests but lets those
// queued and running finish; with a context that ends first it fails the
// rest as Close does.
func TestSubmitShutdownDrains(t *testing.T) {
	m := submitTest(t)
	e := newEngine(t, m, engine.EngineOptions{MaxBatch: 2})
	var reqs []engine.SubmitRequest
	var streams []*engine.Stream
	for i := range 3 {
		r := engine.SubmitRequest{Prompt: byteText(fmt.Sprintf("Drain %d", i)), MaxTokens: 8, Seq: uint64(i), Sampler: samplerCfg(0.9, 1, nil)}
		st, err := e.Submit(context.Background(), r)
		require.NoError(t, err)
		reqs, streams = append(reqs, r), append(streams, st)
	}
	require.NoError(t, e.Shutdown(context.Background()))
	for i, st := range streams {
		res, err := st.Result()
		require.NoError(t, err, "request %d", i)
		require.Equal(t, sessionGenerate(t, m, reqs[i]).Tokens, res.Tokens)
	}
	_, err := e.Submit(context.Background(), reqs[0])
	require.ErrorIs(t, err, engine.ErrEngineClosed)

	e2 := newEngine(t, m, engine.EngineOptions{MaxBatch: 1})
	st, err := e2.Submit(context.Background(), engine.SubmitRequest{Prompt: byteText("Forever"), MaxTokens: 1 << 20, Sampler: samplerCfg(1, 0, nil)})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, e2.Shutdown(ctx), context.DeadlineExceeded)
	_, err = st.Result()
	require.ErrorIs(t, err, engine.ErrEngineClosed)
}

// TestSubmitInvalid: invalid requests are refused at once with
// ErrInvalidRequest; a full queue with ErrQueueFull.
func TestSubmitInvalid(t *testing.T) {
	m := submitTest(t)
	p := newPauser(1)
	e := newEngine(t, m, engine.EngineOptions{MaxBatch: 1, MaxQueue: 1, OnStep: p.onStep})
	ok := samplerCfg(1, 0, nil)
	for i, r := range []engine.SubmitRequest{
		{Prompt: nil, MaxTokens: 1, Sampler: ok},
		{Prompt: byteText("x"), MaxTokens: 0, Sampler: ok},
		{Prompt: []int{256}, MaxTokens: 1, Sampler: ok},
		{Prompt: byteText("x"), MaxTokens: 1, Sampler: samplerCfg(-1, 0, nil)},
		{Prompt: byteText("x"), MaxTokens: 1, Sampler: samplerCfg(1, 0, func(c *sampler.Config) { c.StopStrings = []string{"a"} })},
		{Prompt: byteText("x"), MaxTokens: 1, Sampler: ok, InitialState: &engine.State{Data: make([]float32, 3)}},
		{Prompt: byteText("x"), MaxTokens: 1, Sampler: ok, TopLogprobs: 21},
	} {
		_, err := e.Submit(context.Background(), r)
		require.ErrorIs(t, err, engine.ErrInvalidRequest, "case %d", i)
	}
	busy, err := e.Submit(context.Background(), engine.SubmitRequest{Prompt: byteText("busy"), MaxTokens: 2, Sampler: ok})
	require.NoError(t, err)
	<-p.entered
	queued, err := e.Submit(context.Background(), engine.SubmitRequest{Prompt: byteText("queued"), MaxTokens: 2, Sampler: ok})
	require.NoError(t, err)
	_, err = e.Submit(context.Background(), engine.SubmitRequest{Prompt: byteText("refused"), MaxTokens: 2, Sampler: ok})
	require.ErrorIs(t, err, engine.ErrQueueFull)
	close(p.release)
	for _, st := range []*engine.Stream{busy, queued} {
		res, err := st.Result()
		require.NoError(t, err)
		require.Len(t, res.Tokens, 2)
	}
}
