// Package scheduler serves many generation requests on one model with
// continuous batching.
//
// One goroutine owns the model. Between steps it admits waiting requests
// (highest priority first, first come first served within a priority),
// retires finished and cancelled sequences, and builds the next ragged batch:
// one token for every decoding sequence plus prompt chunks for sequences
// still in prefill, at most Config.PrefillBudget prompt tokens per step in
// all, so a long prompt delays running streams by at most one chunk per
// step. Every sequence has its own sampler settings; its n-th token is drawn
// with the Philox stream keyed by (seed, Request.Seq, n), so results never
// depend on what else is in the batch.
//
// With a statecache.Cache, a request resumes from the state of the longest
// cached prefix of its prompt, and the states at chunk boundaries (multiples
// of Config.ChunkSize) and at the end of each prompt are saved. Prompts are
// fed in chunks aligned to multiples of ChunkSize, so a resumed request runs
// exactly the chunks an uncached one would. With a cache that has a device
// tier, saving and resuming are device-to-device copies (Cache.Save,
// Cache.Restore).
//
// The queue is bounded: Submit refuses with ErrQueueFull at once when it is
// full. Cancelling a request's context ends it before the next step and
// frees its sequence slot.
package scheduler

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/sampler"
	"github.com/rwkvgo/rwkvgo/statecache"
)

// Errors returned by Submit and carried by streams.
var (
	// ErrQueueFull means the waiting queue is at Config.MaxQueue.
	ErrQueueFull = errors.New("scheduler: queue full")
	// ErrClosed means the scheduler has been closed.
	ErrClosed = errors.New("scheduler: closed")
	// ErrInvalidRequest wraps every validation error of Submit.
	ErrInvalidRequest = errors.New("invalid request")
)

// Config configures a Scheduler. Zero fields take their defaults.
type Config struct {
	// MaxBatch is the number of sequences running at once (default 8).
	MaxBatch int
	// MaxQueue is the number of requests that may wait for a slot
	// (default 64); beyond it Submit returns ErrQueueFull.
	MaxQueue int
	// ChunkSize is the prefill chunk, in tokens, and the spacing of saved
	// prefix states (default 256, at most engine.MaxChunk).
	ChunkSize int
	// PrefillBudget is the number of prompt tokens fed per step over all
	// sequences (default ChunkSize).
	PrefillBudget int
	// Cache, when set, is the prefix state cache.
	Cache *statecache.Cache
	// OnStep, when set, is called by the scheduler's goroutine after every
	// model step.
	OnStep func(StepInfo)
}

// StepInfo describes one model step.
type StepInfo struct {
	Sequences     int           // sequences in the batch
	DecodeTokens  int           // sequences that fed one generated token
	PrefillTokens int           // prompt tokens fed
	Duration      time.Duration // time of the model step
}

// Request is one generation request.
type Request struct {
	// Prompt is the token sequence to continue (non-empty).
	Prompt []int
	// Sampler holds the sampling settings (validated by Submit).
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
	// InitialState, when set, is the state the prompt is fed from instead
	// of the model's initial state.
	InitialState *engine.State
	// StateKey names InitialState in the prefix cache (for example its file
	// name); without it a request with an initial state bypasses the cache.
	StateKey string
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

// Event is one item of a Stream: a generated token, a last piece of text, or
// the end of the request.
type Event struct {
	// Token is the generated token id, or -1 for a piece of text released
	// at the end (held back while it could have begun a stop string) and for
	// the final event.
	Token int
	// Text is the text released (see sampler.StopMatcher); it may end inside
	// a UTF-8 character.
	Text []byte
	// Logprob and TopLogprobs are set when the request asked for them.
	Logprob     float64
	TopLogprobs []TokenLogprob
	// Done marks the final event; Result or Err is set.
	Done   bool
	Result *Result
	Err    error
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

// Stats is a snapshot of the scheduler's gauges and counters.
type Stats struct {
	Queued  int    // requests waiting
	Running int    // sequences running
	Steps   uint64 // model steps run
	Tokens  uint64 // tokens generated
}

// Scheduler runs requests on one model with continuous batching. Its methods
// are safe for concurrent use.
type Scheduler struct {
	m   *engine.Model
	cfg Config

	mu     sync.Mutex
	queue  seqHeap
	nextID uint64
	closed bool

	wake chan struct{}
	done chan struct{}

	queued, runningN atomic.Int64
	steps, tokens    atomic.Uint64

	// owned by the loop goroutine
	running []*seq
	idle    []*engine.Session
	reqs    []*engine.Request
	batch   []*seq
}

// New starts a scheduler on m. Close it to stop its goroutine; the model is
// not closed.
func New(m *engine.Model, cfg Config) (*Scheduler, error) {
	if m == nil {
		return nil, errors.New("scheduler: nil model")
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 8
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = 64
	}
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = 256
	}
	if cfg.ChunkSize > engine.MaxChunk {
		return nil, fmt.Errorf("scheduler: chunk size %d exceeds the engine's %d", cfg.ChunkSize, engine.MaxChunk)
	}
	if cfg.PrefillBudget <= 0 {
		cfg.PrefillBudget = cfg.ChunkSize
	}
	s := &Scheduler{m: m, cfg: cfg, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go s.loop()
	return s, nil
}

// Config returns the scheduler's configuration with defaults filled in.
func (s *Scheduler) Config() Config { return s.cfg }

// Model returns the scheduler's model.
func (s *Scheduler) Model() *engine.Model { return s.m }

// Stats returns the current gauges and counters.
func (s *Scheduler) Stats() Stats {
	return Stats{Queued: int(s.queued.Load()), Running: int(s.runningN.Load()), Steps: s.steps.Load(), Tokens: s.tokens.Load()}
}

func (s *Scheduler) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidRequest, fmt.Sprintf(format, args...))
}

// Submit validates req and queues it. It returns at once: ErrQueueFull when
// the queue is full, ErrClosed after Close, an error wrapping
// ErrInvalidRequest for invalid settings. The stream delivers the tokens;
// it always ends with an event with Done set. Cancelling ctx ends the
// request (its final event carries ctx's error).
func (s *Scheduler) Submit(ctx context.Context, req Request) (*Stream, error) {
	cfg := s.m.Config()
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
	if req.InitialState != nil && len(req.InitialState.Data) != cfg.StateSize() {
		return nil, invalid("initial state has %d values, the model needs %d", len(req.InitialState.Data), cfg.StateSize())
	}
	smp, err := sampler.New(req.Sampler)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	stop, err := sampler.NewStopMatcher(req.Sampler.StopStrings, req.Decode)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	q := &seq{req: req, ctx: ctx, smp: smp, mst: smp.NewState(), scfg: smp.Config(), stop: stop, stream: newStream()}
	q.req.Prompt = append([]int(nil), req.Prompt...)
	if req.Sampler.Detector.Enabled() {
		if q.det, err = sampler.NewDetector(req.Sampler.Detector); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
		}
	}
	if req.Decode != nil {
		q.text = []byte{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if len(s.queue) >= s.cfg.MaxQueue {
		return nil, ErrQueueFull
	}
	s.nextID++
	q.id = s.nextID
	q.queued = time.Now()
	heap.Push(&s.queue, q)
	s.queued.Store(int64(len(s.queue)))
	q.stopWatch = context.AfterFunc(ctx, s.signal)
	s.signal()
	return q.stream, nil
}

// Generate submits req and waits for its result.
func (s *Scheduler) Generate(ctx context.Context, req Request) (*Result, error) {
	st, err := s.Submit(ctx, req)
	if err != nil {
		return nil, err
	}
	return st.Result()
}

// Stream submits req and returns an iterator over its events (the final
// event, with Done set, included); a refusal or failure is yielded as the
// error of the last pair. Breaking out of the loop does not cancel the
// request: cancel ctx for that.
func (s *Scheduler) Stream(ctx context.Context, req Request) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		st, err := s.Submit(ctx, req)
		if err != nil {
			yield(Event{Token: -1, Done: true, Err: err}, err)
			return
		}
		for ev := range st.Events() {
			if !yield(ev, ev.Err) {
				return
			}
		}
	}
}

// Close fails waiting and running requests with ErrClosed, stops the
// scheduler's goroutine and closes its sessions. It is idempotent.
func (s *Scheduler) Close() error {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if !already {
		s.signal()
	}
	<-s.done
	return nil
}

// seq is one request in the scheduler.
type seq struct {
	id        uint64
	req       Request
	ctx       context.Context
	stopWatch func() bool
	stream    *Stream
	smp       *sampler.Sampler
	mst       *sampler.State // the sampler state (Mirostat's mu)
	scfg      sampler.Config
	stop      *sampler.StopMatcher
	det       *sampler.Detector

	sess     *engine.Session
	ns       string
	useCache bool
	pos      int // prompt tokens fed
	cached   int
	history  []int
	tokens   []int
	text     []byte
	events   []sampler.DetectorEvent
	pending  int // generated token to feed next
	step     int
	chunkEnd int
	ereq     engine.Request
	one      [1]int
	index    int // in the heap
	queued   time.Time
	started  time.Time
}

type seqHeap []*seq

func (h seqHeap) Len() int { return len(h) }
func (h seqHeap) Less(i, j int) bool {
	if h[i].req.Priority != h[j].req.Priority {
		return h[i].req.Priority > h[j].req.Priority
	}
	return h[i].id < h[j].id
}
func (h seqHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *seqHeap) Push(x any)   { q := x.(*seq); q.index = len(*h); *h = append(*h, q) }
func (h *seqHeap) Pop() any {
	old := *h
	q := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return q
}

func (s *Scheduler) loop() {
	defer close(s.done)
	for {
		admitted, closed := s.admit()
		if closed {
			s.shutdown()
			return
		}
		s.reap()
		if len(s.running) == 0 {
			if !admitted {
				<-s.wake
			}
			continue
		}
		s.runStep()
	}
}

// admit drops cancelled waiting requests and moves waiting requests into
// free slots.
func (s *Scheduler) admit() (admitted, closed bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false, true
	}
	var dropped []*seq
	kept := s.queue[:0]
	for _, q := range s.queue {
		if q.ctx.Err() != nil {
			dropped = append(dropped, q)
		} else {
			kept = append(kept, q)
		}
	}
	if len(dropped) > 0 {
		for i := len(kept); i < len(s.queue); i++ {
			s.queue[i] = nil
		}
		s.queue = kept
		for i, q := range s.queue {
			q.index = i
		}
		heap.Init(&s.queue)
	}
	var starting []*seq
	for len(s.queue) > 0 && len(s.running)+len(starting) < s.cfg.MaxBatch {
		starting = append(starting, heap.Pop(&s.queue).(*seq))
	}
	s.queued.Store(int64(len(s.queue)))
	s.mu.Unlock()
	for _, q := range dropped {
		s.finish(q, "", context.Cause(q.ctx))
	}
	for _, q := range starting {
		if err := s.start(q); err != nil {
			s.finish(q, "", err)
			continue
		}
		s.running = append(s.running, q)
	}
	s.runningN.Store(int64(len(s.running)))
	return len(starting) > 0 || len(dropped) > 0, false
}

// start gives q a session at its starting state.
func (s *Scheduler) start(q *seq) error {
	var sess *engine.Session
	if n := len(s.idle); n > 0 {
		sess = s.idle[n-1]
		s.idle = s.idle[:n-1]
	} else {
		var err error
		if sess, err = s.m.NewSession(); err != nil {
			return err
		}
	}
	q.sess = sess
	q.started = time.Now()
	q.useCache = s.cfg.Cache != nil && (q.req.InitialState == nil || q.req.StateKey != "")
	if q.req.InitialState != nil {
		q.ns = "state:" + q.req.StateKey
	}
	if q.useCache {
		n, err := s.cfg.Cache.Restore(q.ns, q.req.Prompt[:len(q.req.Prompt)-1], sess)
		if err != nil {
			return err
		}
		if n > 0 {
			q.pos, q.cached = n, n
			return nil
		}
	}
	if q.req.InitialState != nil {
		return sess.SetState(q.req.InitialState)
	}
	return sess.Reset()
}

// reap ends running sequences whose context is done.
func (s *Scheduler) reap() {
	kept := s.running[:0]
	for _, q := range s.running {
		if q.ctx.Err() != nil {
			s.finish(q, "", context.Cause(q.ctx))
			continue
		}
		kept = append(kept, q)
	}
	for i := len(kept); i < len(s.running); i++ {
		s.running[i] = nil
	}
	s.running = kept
	s.runningN.Store(int64(len(s.running)))
}

// runStep builds and runs one batch, then samples.
func (s *Scheduler) runStep() {
	reqs, batch := s.reqs[:0], s.batch[:0]
	budget := s.cfg.PrefillBudget
	info := StepInfo{}
	K := s.cfg.ChunkSize
	for _, q := range s.running {
		q.ereq.Session = q.sess
		if q.pos < len(q.req.Prompt) {
			if budget <= 0 {
				continue
			}
			end := min(len(q.req.Prompt), (q.pos/K+1)*K, q.pos+budget)
			q.ereq.Tokens = q.req.Prompt[q.pos:end]
			q.chunkEnd = end
			budget -= end - q.pos
			info.PrefillTokens += end - q.pos
		} else {
			q.one[0] = q.pending
			q.ereq.Tokens = q.one[:]
			info.DecodeTokens++
		}
		reqs = append(reqs, &q.ereq)
		batch = append(batch, q)
	}
	s.reqs, s.batch = reqs, batch
	info.Sequences = len(batch)
	t0 := time.Now()
	err := s.m.Step(reqs)
	info.Duration = time.Since(t0)
	s.steps.Add(1)
	if s.cfg.OnStep != nil {
		s.cfg.OnStep(info)
	}
	retired := false
	for _, q := range batch {
		if err != nil {
			s.finish(q, "", fmt.Errorf("scheduler: model step: %w", err))
			retired = true
			continue
		}
		if q.pos < len(q.req.Prompt) {
			q.pos = q.chunkEnd
			if q.useCache && (q.pos%K == 0 || q.pos == len(q.req.Prompt)) {
				// Best effort: a state that cannot be cached is simply not.
				_ = s.cfg.Cache.Save(q.ns, q.req.Prompt[:q.pos], q.sess)
			}
			if q.pos < len(q.req.Prompt) {
				continue
			}
		}
		if s.sample(q, q.ereq.Logits) {
			retired = true
		}
	}
	if retired {
		kept := s.running[:0]
		for _, q := range s.running {
			if q.sess != nil {
				kept = append(kept, q)
			}
		}
		for i := len(kept); i < len(s.running); i++ {
			s.running[i] = nil
		}
		s.running = kept
		s.runningN.Store(int64(len(s.running)))
	}
	for i := range s.batch {
		s.batch[i] = nil
		s.reqs[i] = nil
	}
}

// sample draws q's next token from logits, emits it and reports whether q
// finished (it is then retired). It follows sampler.Generate exactly (one
// sampler State per sequence, so Mirostat carries its mu across steps).
func (s *Scheduler) sample(q *seq, logits []float32) bool {
	if q.history == nil {
		q.history = append(make([]int, 0, len(q.req.Prompt)+q.req.MaxTokens), q.req.Prompt...)
	}
	hist := q.history
	if q.req.PenalizeGeneratedOnly {
		hist = q.history[len(q.req.Prompt):]
	}
	id, err := q.smp.SampleState(logits, hist, q.req.Seq, uint64(q.step), q.mst)
	if err != nil {
		s.finish(q, "", err)
		return true
	}
	if q.smp.IsStopToken(id) {
		s.finish(q, sampler.StopToken, nil)
		return true
	}
	ev := Event{Token: id}
	if q.req.Logprobs {
		ev.Logprob, ev.TopLogprobs = logprobs(logits, id, q.req.TopLogprobs)
	}
	q.history = append(q.history, id)
	q.tokens = append(q.tokens, id)
	text, stopped, err := q.stop.Push(id)
	if err != nil {
		s.finish(q, "", err)
		return true
	}
	ev.Text = text
	if q.text != nil {
		q.text = append(q.text, text...)
	}
	s.tokens.Add(1)
	q.stream.push(ev)
	if stopped {
		s.finish(q, sampler.StopString, nil)
		return true
	}
	if q.det != nil {
		if fired, v := q.det.Observe(id); fired {
			act := q.det.Config().Action
			q.events = append(q.events, sampler.DetectorEvent{Step: q.step, SeqRep: v, Action: act})
			switch act {
			case sampler.DetectStop:
				s.finish(q, sampler.StopRepetition, nil)
				return true
			case sampler.DetectEscalate:
				dc := q.det.Config()
				q.scfg.RepetitionPenalty *= dc.EscalateRepetition
				q.scfg.PresencePenalty += dc.EscalatePresence
				if q.smp, err = sampler.New(q.scfg); err != nil {
					s.finish(q, "", err)
					return true
				}
			}
		}
	}
	q.step++
	if q.step >= q.req.MaxTokens {
		s.finish(q, sampler.StopLength, nil)
		return true
	}
	q.pending = id
	return false
}

// finish ends q with a reason or an error, sends its final event and
// returns its session to the pool.
func (s *Scheduler) finish(q *seq, reason sampler.StopReason, err error) {
	if q.stopWatch != nil {
		q.stopWatch()
	}
	if q.sess != nil {
		if len(s.idle) < s.cfg.MaxBatch {
			s.idle = append(s.idle, q.sess)
		} else {
			q.sess.Close()
		}
		q.sess = nil
	}
	if err != nil {
		q.stream.push(Event{Token: -1, Done: true, Err: err})
		return
	}
	if reason != sampler.StopString {
		if tail := q.stop.Flush(); len(tail) > 0 {
			if q.text != nil {
				q.text = append(q.text, tail...)
			}
			q.stream.push(Event{Token: -1, Text: tail})
		}
	}
	q.stream.push(Event{Token: -1, Done: true, Result: &Result{
		Tokens: q.tokens, Text: q.text, Reason: reason,
		PromptTokens: len(q.req.Prompt), CachedTokens: q.cached, Events: q.events,
		Queued: q.queued, Started: q.started,
	}})
}

func (s *Scheduler) shutdown() {
	s.mu.Lock()
	queued := s.queue
	s.queue = nil
	s.queued.Store(0)
	s.mu.Unlock()
	for _, q := range queued {
		s.finish(q, "", ErrClosed)
	}
	for _, q := range s.running {
		s.finish(q, "", ErrClosed)
	}
	s.running = nil
	s.runningN.Store(0)
	for _, sess := range s.idle {
		sess.Close()
	}
	s.idle = nil
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
			j := len(best)
			if j < top {
				best = append(best, TokenLogprob{})
			} else {
				j = top - 1
			}
			for j > 0 && best[j-1].Logprob < lp {
				best[j] = best[j-1]
				j--
			}
			best[j] = TokenLogprob{Token: i, Logprob: lp}
		}
	}
	return float64(logits[id]) - lse, best
}

// Stream delivers the events of one request. The scheduler never waits for
// a reader: events are buffered (at most one per generated token).
type Stream struct {
	mu     sync.Mutex
	events []Event
	head   int
	done   bool
	notify chan struct{}
}

func newStream() *Stream { return &Stream{notify: make(chan struct{}, 1)} }

func (st *Stream) push(ev Event) {
	st.mu.Lock()
	st.events = append(st.events, ev)
	st.mu.Unlock()
	select {
	case st.notify <- struct{}{}:
	default:
	}
}

// Next waits for the next event. It returns false once the final event (Done
// set) has been returned, or when ctx is done first (the request itself
// continues until its own context ends).
func (st *Stream) Next(ctx context.Context) (Event, bool) {
	for {
		st.mu.Lock()
		if st.done {
			st.mu.Unlock()
			return Event{}, false
		}
		if st.head < len(st.events) {
			ev := st.events[st.head]
			st.events[st.head] = Event{}
			st.head++
			if st.head == len(st.events) {
				st.events, st.head = st.events[:0], 0
			}
			st.done = ev.Done
			st.mu.Unlock()
			return ev, true
		}
		st.mu.Unlock()
		select {
		case <-st.notify:
		case <-ctx.Done():
			return Event{}, false
		}
	}
}

// Events iterates over the remaining events, the final one included.
func (st *Stream) Events() iter.Seq[Event] {
	return func(yield func(Event) bool) {
		for {
			ev, ok := st.Next(context.Background())
			if !ok || !yield(ev) {
				return
			}
		}
	}
}

// Result waits for the end of the request and returns its result or error.
func (st *Stream) Result() (*Result, error) {
	for ev := range st.Events() {
		if ev.Done {
			return ev.Result, ev.Err
		}
	}
	return nil, errors.New("scheduler: stream already consumed")
}
