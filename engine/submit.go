package engine

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rwkvgo/rwkvgo/sampler"
)

// Errors of Engine.Submit and of a Stream's final event.
var (
	// ErrQueueFull means the waiting queue is at EngineOptions.MaxQueue.
	ErrQueueFull = errors.New("engine: queue full")
	// ErrEngineClosed means the Engine has been closed (or is shutting
	// down and admits nothing new).
	ErrEngineClosed = errors.New("engine: engine closed")
	// ErrInvalidRequest wraps every validation error of Submit; the text
	// after "invalid request: " says what is wrong.
	ErrInvalidRequest = errors.New("invalid request")
)

// EngineOptions configures an Engine. Zero fields take their defaults.
type EngineOptions struct {
	// MaxBatch is the number of sequences running at once (default 8).
	MaxBatch int
	// MaxQueue is the number of requests that may wait for a slot
	// (default 64); beyond it Submit returns ErrQueueFull.
	MaxQueue int
	// ChunkSize is the prefill chunk, in tokens, and the spacing of saved
	// prefix states (default 256, at most MaxChunk).
	ChunkSize int
	// PrefillBudget is the number of prompt tokens fed per step over all
	// sequences (default ChunkSize).
	PrefillBudget int
	// Cache, when set, is the prefix state cache (a *statecache.Cache).
	Cache PrefixCache
	// OnStep, when set, is called by the engine's goroutine after every
	// model step.
	OnStep func(StepInfo)
	// HostSampling keeps every decode step on the host path (Model.Step
	// and the Go sampler) even on a backend with a device-resident decode
	// loop.
	HostSampling bool
}

// PrefixCache is a store of sequence states keyed by the token prefix that
// led to them, in namespaces (statecache.Cache implements it).
type PrefixCache interface {
	// Restore sets s's state to the one of the longest prefix of tokens
	// stored in namespace ns and returns its length, or 0 with s untouched.
	Restore(ns string, tokens []int, s *Session) (int, error)
	// Save stores s's current state as the state after tokens in ns.
	Save(ns string, tokens []int, s *Session) error
}

// StepInfo describes one model step of an Engine.
type StepInfo struct {
	Sequences     int           // sequences in the batch
	DecodeTokens  int           // sequences that fed one generated token
	PrefillTokens int           // prompt tokens fed
	Duration      time.Duration // time of the model step
	// Device says the step was a launch of the device-resident decode
	// loop: Duration is then the time to queue it and read the launch
	// before it (the device runs one step ahead of the host).
	Device bool
}

// SubmitRequest is one generation request of Engine.Submit. (Request is the
// name of a sequence's part of a batched Model.Step.)
type SubmitRequest struct {
	// Prompt is the token sequence to continue (non-empty: its last token
	// gives the logits of the first generated token).
	Prompt []int
	// InitialState, when set, is the state the prompt is fed from instead
	// of the model's initial state (a tuned state, a saved conversation, a
	// prefix state kept by the caller).
	InitialState *State
	// StateKey names InitialState in the prefix cache (for example its file
	// name); without it a request with an initial state bypasses the cache.
	StateKey string
	// Sampler holds the sampling settings (validated by Submit), the stop
	// tokens (Sampler.StopTokens) and stop strings among them.
	Sampler sampler.Config
	// MaxTokens is the maximum number of tokens to generate, >= 1.
	MaxTokens int
	// Seq keys the random draws together with the seed and the step.
	Seq uint64
	// Priority orders waiting requests: higher first; equal priorities are
	// first come, first served.
	Priority int
	// Decode turns token ids into text; required for stop strings, and when
	// set events carry text.
	Decode sampler.Decoder
	// PenalizeGeneratedOnly restricts the penalties' history to generated
	// tokens (by default the prompt counts too).
	PenalizeGeneratedOnly bool
	// Logprobs asks for each generated token's log-probability under the
	// model; TopLogprobs (0..20) for that many most likely alternatives.
	Logprobs    bool
	TopLogprobs int
}

// TokenLogprob is a token with its log-probability.
type TokenLogprob struct {
	Token   int
	Logprob float64
}

// Result summarises a finished request.
type Result struct {
	// Tokens are the generated tokens (without a final stop token).
	Tokens []int
	// Text is the output text (without a stop string), when Decode was set.
	Text []byte
	// Reason says why generation ended.
	Reason sampler.StopReason
	// PromptTokens is the prompt length; CachedTokens the prefix of it
	// resumed from the prefix cache.
	PromptTokens, CachedTokens int
	// Events lists repetition detector firings.
	Events []sampler.DetectorEvent
	// Queued and Started are when the request was queued and when it got
	// its sequence slot.
	Queued, Started time.Time
}

// EngineStats is a snapshot of an Engine's gauges and counters.
type EngineStats struct {
	Queued  int    // requests waiting
	Running int    // sequences running
	Steps   uint64 // model steps run
	Tokens  uint64 // tokens generated
}

// Engine serves many generation requests on one model with continuous
// batching. Its methods are safe for concurrent use.
//
// One goroutine owns the model. Between steps it admits waiting requests
// (highest priority first, first come first served within a priority),
// retires finished and cancelled sequences, and builds the next ragged
// batch: one token for every decoding sequence plus prompt chunks for
// sequences still in prefill, at most EngineOptions.PrefillBudget prompt
// tokens per step in all, so a long prompt delays running streams by at
// most one chunk per step. All running sequences go into one Model.Step.
// Every sequence has its own sampler settings; its n-th token is drawn with
// the Philox stream keyed by (seed, SubmitRequest.Seq, n), so its tokens
// never depend on what else is in the batch: they are those of
// Session.Generate with the same prompt, settings and GenerateOptions.Seq.
//
// With a PrefixCache, a request resumes from the state of the longest
// cached prefix of its prompt, and the states at chunk boundaries
// (multiples of EngineOptions.ChunkSize) and at the end of each prompt are
// saved. Prompts are fed in chunks aligned to multiples of ChunkSize, so a
// resumed request runs exactly the chunks an uncached one would.
//
// The queue is bounded: Submit refuses with ErrQueueFull at once when it is
// full. Cancelling a request's context ends it before the next step and
// frees its sequence slot; its stream ends with the context's error.
// Close fails every request still queued or running with ErrEngineClosed;
// Shutdown lets them finish first.
//
// On a backend with a device-resident decode loop (backend.DeviceDecoder,
// the CUDA backend) the decode steps of the sequences whose settings the
// device sampler implements run on that loop once their prompt is fed and
// their first token drawn (see deviceLoop and deviceEligible in
// engine/stepper.go); the others, and every prefill, run on the host path.
// The tokens are the same either way.
type Engine struct {
	m    *Model
	opts EngineOptions
	st   stepper
	dev  *deviceLoop // nil: every step on the host path

	mu       sync.Mutex
	queue    jobHeap
	nextID   uint64
	closed   bool // Close: fail everything and stop
	draining bool // Shutdown: admit nothing new, stop once idle

	wake chan struct{}
	done chan struct{}

	queued, runningN atomic.Int64
	steps, tokens    atomic.Uint64

	// owned by the loop goroutine
	running []*job
	idle    []*Session
	batch   []*job
}

// NewEngine starts an engine on m. Close (or Shutdown) it to stop its
// goroutine; the model is not closed.
func NewEngine(m *Model, opts EngineOptions) (*Engine, error) {
	if m == nil {
		return nil, errors.New("engine: nil model")
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 8
	}
	if opts.MaxQueue <= 0 {
		opts.MaxQueue = 64
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 256
	}
	if opts.ChunkSize > MaxChunk {
		return nil, fmt.Errorf("engine: chunk size %d exceeds the engine's %d", opts.ChunkSize, MaxChunk)
	}
	if opts.PrefillBudget <= 0 {
		opts.PrefillBudget = opts.ChunkSize
	}
	e := &Engine{m: m, opts: opts, st: &hostStepper{m: m}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if !opts.HostSampling {
		dev, err := newDeviceLoop(m, opts.MaxBatch)
		if err != nil {
			return nil, err
		}
		e.dev = dev
	}
	go e.loop()
	return e, nil
}

// Options returns the engine's options with defaults filled in.
func (e *Engine) Options() EngineOptions { return e.opts }

// Model returns the engine's model.
func (e *Engine) Model() *Model { return e.m }

// Stats returns the current gauges and counters.
func (e *Engine) Stats() EngineStats {
	return EngineStats{Queued: int(e.queued.Load()), Running: int(e.runningN.Load()), Steps: e.steps.Load(), Tokens: e.tokens.Load()}
}

func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidRequest, fmt.Sprintf(format, args...))
}

// Submit validates req and queues it. It returns at once: ErrQueueFull when
// the queue is full, ErrEngineClosed after Close or Shutdown, an error
// wrapping ErrInvalidRequest for invalid settings. The stream delivers the
// tokens as they are generated (see Stream) and always ends: with the
// request's Result, or with an error (ctx's error when ctx is cancelled,
// ErrEngineClosed when the engine closes first, a model step's error).
// Cancelling ctx retires the request before the next step.
func (e *Engine) Submit(ctx context.Context, req SubmitRequest) (*Stream, error) {
	cfg := e.m.Config()
	switch {
	case len(req.Prompt) == 0:
		return nil, invalid("empty prompt")
	case req.MaxTokens < 1:
		return nil, invalid("max tokens must be >= 1, got %d", req.MaxTokens)
	case req.TopLogprobs < 0 || req.TopLogprobs > 20:
		return nil, invalid("top logprobs must be in [0, 20], got %d", req.TopLogprobs)
	case len(req.Sampler.StopStrings) > 0 && req.Decode == nil:
		return nil, invalid("stop strings need a decoder")
	}
	for _, t := range req.Prompt {
		if t < 0 || t >= cfg.Vocab {
			return nil, invalid("prompt token %d outside the vocabulary [0, %d)", t, cfg.Vocab)
		}
	}
	if req.InitialState != nil {
		if err := req.InitialState.compatible(cfg); err != nil {
			return nil, invalid("initial state: %v", err)
		}
	}
	smp, err := sampler.New(req.Sampler)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	stop, err := sampler.NewStopMatcher(req.Sampler.StopStrings, req.Decode)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	j := &job{req: req, ctx: ctx, smp: smp, mst: smp.NewState(), scfg: smp.Config(), stop: stop, stream: newStream()}
	j.req.Prompt = append([]int(nil), req.Prompt...)
	if req.Sampler.Detector.Enabled() {
		if j.det, err = sampler.NewDetector(req.Sampler.Detector); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
		}
	}
	if req.Decode != nil {
		j.text = []byte{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.draining {
		return nil, ErrEngineClosed
	}
	if len(e.queue) >= e.opts.MaxQueue {
		return nil, ErrQueueFull
	}
	e.nextID++
	j.id = e.nextID
	j.queued = time.Now()
	heap.Push(&e.queue, j)
	e.queued.Store(int64(len(e.queue)))
	j.stopWatch = context.AfterFunc(ctx, e.signal)
	e.signal()
	return j.stream, nil
}

// Generate submits req and waits for its result.
func (e *Engine) Generate(ctx context.Context, req SubmitRequest) (*Result, error) {
	st, err := e.Submit(ctx, req)
	if err != nil {
		return nil, err
	}
	return st.Result()
}

// Close fails waiting and running requests with ErrEngineClosed, stops the
// engine's goroutine and closes its sessions. It returns once the goroutine
// has ended. It is idempotent.
func (e *Engine) Close() error {
	e.mu.Lock()
	already := e.closed
	e.closed = true
	e.mu.Unlock()
	if !already {
		e.signal()
	}
	<-e.done
	return nil
}

// Shutdown stops admitting requests (Submit returns ErrEngineClosed), lets
// those queued and running finish, then stops the engine's goroutine and
// closes its sessions. If ctx ends first, the requests left are failed as
// by Close, and Shutdown returns ctx's error once the goroutine has ended.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.draining = true
	e.mu.Unlock()
	e.signal()
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		e.Close()
		return ctx.Err()
	}
}

// job is one request in the engine.
type job struct {
	id        uint64
	req       SubmitRequest
	ctx       context.Context
	stopWatch func() bool
	stream    *Stream
	smp       *sampler.Sampler
	mst       *sampler.State // the sampler state (Mirostat's mu)
	scfg      sampler.Config
	stop      *sampler.StopMatcher
	det       *sampler.Detector

	sess     *Session
	ns       string
	useCache bool
	pos      int // prompt tokens fed
	cached   int
	history  []int // prompt and generated tokens
	tokens   []int
	text     []byte
	events   []sampler.DetectorEvent
	pending  int // generated token to feed next
	step     int // tokens generated
	chunkEnd int
	index    int // in the heap
	queued   time.Time
	started  time.Time

	// The stepper's inputs and outputs for one step (see stepper).
	in      []int     // tokens to feed: a prompt chunk or the pending token
	sample  bool      // the step completes the prompt or decodes: choose a token
	next    int       // the token chosen
	nextErr error     // why no token could be chosen
	logits  []float32 // the logits next was chosen from (host stepper)
	one     [1]int
	ereq    Request

	// On the device loop: row+1 is the job's decoder row (0: host path),
	// inflight its launched draws not read yet, lp the log-probability of
	// the token read (Logprobs requests).
	row      int
	inflight int
	lp       float64
	top      []TokenLogprob
	hostOnly bool // the device loop refused the job
}

// penaltyHistory is the history the sampler's penalties see.
func (j *job) penaltyHistory() []int {
	if j.history == nil {
		j.history = append(make([]int, 0, len(j.req.Prompt)+min(j.req.MaxTokens, 4096)), j.req.Prompt...)
	}
	if j.req.PenalizeGeneratedOnly {
		return j.history[len(j.req.Prompt):]
	}
	return j.history
}

type jobHeap []*job

func (h jobHeap) Len() int { return len(h) }
func (h jobHeap) Less(i, k int) bool {
	if h[i].req.Priority != h[k].req.Priority {
		return h[i].req.Priority > h[k].req.Priority
	}
	return h[i].id < h[k].id
}
func (h jobHeap) Swap(i, k int) { h[i], h[k] = h[k], h[i]; h[i].index = i; h[k].index = k }
func (h *jobHeap) Push(x any)   { j := x.(*job); j.index = len(*h); *h = append(*h, j) }
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return j
}

func (e *Engine) loop() {
	defer close(e.done)
	for {
		admitted, stop := e.admit()
		if stop {
			e.shutdown()
			return
		}
		e.reap()
		if len(e.running) == 0 {
			if !admitted {
				<-e.wake
			}
			continue
		}
		e.runStep()
	}
}

// admit drops cancelled waiting requests and moves waiting requests into
// free slots. It reports stop when the loop is to end: after Close, or
// when draining with nothing left to run.
func (e *Engine) admit() (admitted, stop bool) {
	e.mu.Lock()
	if e.closed || (e.draining && len(e.queue) == 0 && len(e.running) == 0) {
		e.mu.Unlock()
		return false, true
	}
	var dropped []*job
	kept := e.queue[:0]
	for _, j := range e.queue {
		if j.ctx.Err() != nil {
			dropped = append(dropped, j)
		} else {
			kept = append(kept, j)
		}
	}
	if len(dropped) > 0 {
		for i := len(kept); i < len(e.queue); i++ {
			e.queue[i] = nil
		}
		e.queue = kept
		for i, j := range e.queue {
			j.index = i
		}
		heap.Init(&e.queue)
	}
	var starting []*job
	for len(e.queue) > 0 && len(e.running)+len(starting) < e.opts.MaxBatch {
		starting = append(starting, heap.Pop(&e.queue).(*job))
	}
	e.queued.Store(int64(len(e.queue)))
	e.mu.Unlock()
	for _, j := range dropped {
		e.finish(j, "", context.Cause(j.ctx))
	}
	for _, j := range starting {
		if err := e.start(j); err != nil {
			e.finish(j, "", err)
			continue
		}
		e.running = append(e.running, j)
	}
	e.runningN.Store(int64(len(e.running)))
	return len(starting) > 0 || len(dropped) > 0, false
}

// start gives j a session at its starting state.
func (e *Engine) start(j *job) error {
	var sess *Session
	if n := len(e.idle); n > 0 {
		sess = e.idle[n-1]
		e.idle = e.idle[:n-1]
	} else {
		var err error
		if sess, err = e.m.NewSession(); err != nil {
			return err
		}
	}
	j.sess = sess
	j.started = time.Now()
	j.useCache = e.opts.Cache != nil && (j.req.InitialState == nil || j.req.StateKey != "")
	if j.req.InitialState != nil {
		j.ns = "state:" + j.req.StateKey
	}
	if j.useCache {
		n, err := e.opts.Cache.Restore(j.ns, j.req.Prompt[:len(j.req.Prompt)-1], sess)
		if err != nil {
			return err
		}
		if n > 0 {
			j.pos, j.cached = n, n
			return nil
		}
	}
	if j.req.InitialState != nil {
		return sess.SetState(j.req.InitialState)
	}
	return sess.Reset()
}

// reap ends running sequences whose context is done.
func (e *Engine) reap() {
	kept := e.running[:0]
	for _, j := range e.running {
		if j.ctx.Err() != nil {
			e.finish(j, "", context.Cause(j.ctx))
			continue
		}
		kept = append(kept, j)
	}
	clear(e.running[len(kept):])
	e.running = kept
	e.runningN.Store(int64(len(e.running)))
}

// runStep builds one batch, has the stepper run it, then emits the tokens
// chosen.
func (e *Engine) runStep() {
	batch := e.batch[:0]
	budget := e.opts.PrefillBudget
	info := StepInfo{}
	K := e.opts.ChunkSize
	for _, j := range e.running {
		if j.row > 0 {
			continue // on the device loop
		}
		if j.pos < len(j.req.Prompt) {
			if budget <= 0 {
				continue
			}
			end := min(len(j.req.Prompt), (j.pos/K+1)*K, j.pos+budget)
			j.in = j.req.Prompt[j.pos:end]
			j.sample = end == len(j.req.Prompt)
			j.chunkEnd = end
			budget -= end - j.pos
			info.PrefillTokens += end - j.pos
		} else {
			j.one[0] = j.pending
			j.in, j.sample = j.one[:], true
			info.DecodeTokens++
		}
		batch = append(batch, j)
	}
	e.batch = batch
	retired := false
	if len(batch) > 0 {
		retired = e.hostStep(batch, info)
	}
	if e.dev != nil && (e.dev.n > 0 || e.dev.d.Pending() > 0) {
		if e.deviceStep() {
			retired = true
		}
	}
	if retired {
		kept := e.running[:0]
		for _, j := range e.running {
			if j.sess != nil {
				kept = append(kept, j)
			}
		}
		clear(e.running[len(kept):])
		e.running = kept
		e.runningN.Store(int64(len(e.running)))
	}
	clear(e.batch)
}

// hostStep has the host stepper run batch, then emits the tokens chosen
// and moves the sequences that start decoding onto the device loop when
// they may. It reports whether a job finished.
func (e *Engine) hostStep(batch []*job, info StepInfo) bool {
	K := e.opts.ChunkSize
	info.Sequences = len(batch)
	d, err := e.st.step(batch)
	info.Duration = d
	e.steps.Add(1)
	if e.opts.OnStep != nil {
		e.opts.OnStep(info)
	}
	retired := false
	for _, j := range batch {
		j.in = nil
		if err != nil {
			e.finish(j, "", fmt.Errorf("engine: model step: %w", err))
			retired = true
			continue
		}
		if j.pos < len(j.req.Prompt) {
			j.pos = j.chunkEnd
			if j.useCache && (j.pos%K == 0 || j.pos == len(j.req.Prompt)) {
				// Best effort: a state that cannot be cached is simply not.
				_ = e.opts.Cache.Save(j.ns, j.req.Prompt[:j.pos], j.sess)
			}
			if j.pos < len(j.req.Prompt) {
				continue
			}
		}
		if e.emit(j) {
			retired = true
			continue
		}
		if e.dev != nil && !j.hostOnly && deviceEligible(j) {
			ok, err := e.dev.attach(j)
			switch {
			case err != nil:
				e.finish(j, "", fmt.Errorf("engine: device decode loop: %w", err))
				e.deviceFailed(err)
				retired = true
			case !ok:
				j.hostOnly = true
			}
		}
	}
	return retired
}

// deviceStep is the device loop's part of an engine step: it launches the
// next decode step of the sequences on the loop (unless each has its
// remaining draws in flight already) and reads the launches before it, so
// that one step stays queued on the device while the host emits the tokens
// of the one before (the device never waits for the host, nor the host for
// the device while the device runs ahead). It reports whether a job
// finished.
func (e *Engine) deviceStep() bool {
	l := e.dev
	d := l.d
	t0 := time.Now()
	launch := false
	n := 0
	for _, j := range l.jobs {
		if j != nil {
			n++
			if j.step+j.inflight < j.req.MaxTokens {
				launch = true
			}
		}
	}
	if launch {
		before := d.Pending()
		if err := d.Launch(); err != nil {
			return e.deviceFailed(err)
		}
		// Launch queues nothing when no row is active on the decoder (its
		// rows finished in launches not read yet).
		launch = d.Pending() > before
		for _, j := range l.jobs {
			if j != nil && launch {
				j.inflight++
			}
		}
	}
	retired := false
	for d.Pending() > 1 || (!launch && d.Pending() > 0) {
		toks, err := d.Read()
		if err != nil {
			return e.deviceFailed(err)
		}
		for i := range toks {
			t := &toks[i]
			j := l.jobs[t.Row]
			if j == nil || j.sess != t.Session {
				continue
			}
			j.inflight--
			j.next, j.nextErr, j.lp, j.top = t.Token, t.Err, t.Logprob, t.TopLogprobs
			switch {
			case e.emit(j):
				retired = true
			case t.Done:
				// The device spent the row's budget: the host's count
				// agrees (emit ends it), so this is only a safeguard.
				e.finish(j, sampler.StopLength, nil)
				retired = true
			}
		}
		if l.err != nil {
			return e.deviceFailed(l.err)
		}
	}
	if launch {
		e.steps.Add(1)
		if e.opts.OnStep != nil {
			e.opts.OnStep(StepInfo{Sequences: n, DecodeTokens: n, Duration: time.Since(t0), Device: true})
		}
	}
	return retired
}

// deviceFailed ends the device loop after a device failure: its sequences
// end with the error, later ones are stepped on the host path.
func (e *Engine) deviceFailed(err error) bool {
	l := e.dev
	e.dev = nil
	for _, j := range l.jobs {
		if j != nil {
			j.row = 0
			e.finish(j, "", fmt.Errorf("engine: device decode loop: %w", err))
		}
	}
	l.close()
	return true
}

// emit handles the token the stepper chose for j (j.next): it ends j on a
// stop token, a stop string, the repetition detector or the length limit,
// and otherwise streams the token. It reports whether j finished (it is then
// retired). Together with the stepper's choice it follows sampler.Generate
// exactly (one sampler State per sequence, so Mirostat carries its mu across
// steps).
func (e *Engine) emit(j *job) bool {
	id, err := j.next, j.nextErr
	logits := j.logits
	j.nextErr, j.logits = nil, nil
	if err != nil {
		e.finish(j, "", err)
		return true
	}
	if j.smp.IsStopToken(id) {
		e.finish(j, sampler.StopToken, nil)
		return true
	}
	ev := Event{Token: id}
	switch {
	case j.req.Logprobs && j.row > 0:
		ev.Logprob, ev.TopLogprobs = j.lp, j.top // computed on the device
		j.top = nil
	case j.req.Logprobs:
		ev.Logprob, ev.TopLogprobs = logprobs(logits, id, j.req.TopLogprobs)
	}
	j.penaltyHistory()
	j.history = append(j.history, id)
	j.tokens = append(j.tokens, id)
	text, stopped, err := j.stop.Push(id)
	if err != nil {
		e.finish(j, "", err)
		return true
	}
	ev.Text = text
	if j.text != nil {
		j.text = append(j.text, text...)
	}
	e.tokens.Add(1)
	j.stream.push(ev)
	if stopped {
		e.finish(j, sampler.StopString, nil)
		return true
	}
	if j.det != nil {
		if fired, v := j.det.Observe(id); fired {
			act := j.det.Config().Action
			j.events = append(j.events, sampler.DetectorEvent{Step: j.step, SeqRep: v, Action: act})
			switch act {
			case sampler.DetectStop:
				e.finish(j, sampler.StopRepetition, nil)
				return true
			case sampler.DetectEscalate:
				dc := j.det.Config()
				j.scfg.RepetitionPenalty *= dc.EscalateRepetition
				j.scfg.PresencePenalty += dc.EscalatePresence
				if j.smp, err = sampler.New(j.scfg); err != nil {
					e.finish(j, "", err)
					return true
				}
			}
		}
	}
	j.step++
	if j.step >= j.req.MaxTokens {
		e.finish(j, sampler.StopLength, nil)
		return true
	}
	j.pending = id
	return false
}

// finish ends j with a reason or an error, sends its final event and
// returns its session to the pool.
func (e *Engine) finish(j *job, reason sampler.StopReason, err error) {
	if j.stopWatch != nil {
		j.stopWatch()
	}
	e.st.retire(j)
	if e.dev != nil {
		e.dev.retire(j)
	}
	if j.sess != nil {
		if len(e.idle) < e.opts.MaxBatch {
			e.idle = append(e.idle, j.sess)
		} else {
			j.sess.Close()
		}
		j.sess = nil
	}
	if err != nil {
		j.stream.push(Event{Token: -1, Done: true, Err: err})
		return
	}
	if reason != sampler.StopString {
		if tail := j.stop.Flush(); len(tail) > 0 {
			if j.text != nil {
				j.text = append(j.text, tail...)
			}
			j.stream.push(Event{Token: -1, Text: tail})
		}
	}
	j.stream.push(Event{Token: -1, Done: true, Result: &Result{
		Tokens: j.tokens, Text: j.text, Reason: reason,
		PromptTokens: len(j.req.Prompt), CachedTokens: j.cached, Events: j.events,
		Queued: j.queued, Started: j.started,
	}})
}

// shutdown fails what is left and releases the engine's sessions.
func (e *Engine) shutdown() {
	e.mu.Lock()
	queued := e.queue
	e.queue = nil
	e.closed = true
	e.queued.Store(0)
	e.mu.Unlock()
	for _, j := range queued {
		e.finish(j, "", ErrEngineClosed)
	}
	for _, j := range e.running {
		e.finish(j, "", ErrEngineClosed)
	}
	e.running = nil
	e.runningN.Store(0)
	for _, sess := range e.idle {
		sess.Close()
	}
	e.idle = nil
	e.st.close()
	if e.dev != nil {
		e.dev.close()
		e.dev = nil
	}
}

// logprobs returns the log-probability of id under the softmax of logits
// and the top most likely tokens (most likely first, lower id on ties).
func logprobs(logits []float32, id, top int) (float64, []TokenLogprob) {
	m := math.Inf(-1)
	for _, x := range logits {
		m = math.Max(m, float64(x))
	}
	z := 0.0
	for _, x := range logits {
		z += math.Exp(float64(x) - m)
	}
	lse := m + math.Log(z)
	var best []TokenLogprob
	if top > 0 {
		best = make([]TokenLogprob, 0, top+1)
		for i, x := range logits {
			lp := float64(x) - lse
			if len(best) == top && lp <= best[top-1].Logprob {
				continue
			}
			k := len(best)
			if k < top {
				best = append(best, TokenLogprob{})
			} else {
				k = top - 1
			}
			for k > 0 && best[k-1].Logprob < lp {
				best[k] = best[k-1]
				k--
			}
			best[k] = TokenLogprob{Token: i, Logprob: lp}
		}
	}
	return float64(logits[id]) - lse, best
}
