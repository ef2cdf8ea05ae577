// Package scheduler serves many generation requests on one model with
// continuous batching: it is engine.Engine (see its documentation for the
// step loop, admission, chunked prefill, the prefix cache and cancellation)
// configured with a *statecache.Cache, under the names the server uses.
//
// One goroutine owns the model. Between steps it admits waiting requests
// (highest priority first, first come first served within a priority),
// retires finished and cancelled sequences, and builds the next ragged batch:
// one token for every decoding sequence plus prompt chunks for sequences
// still in prefill, at most Config.PrefillBudget prompt tokens per step in
// all. Every sequence has its own sampler settings; its n-th token is drawn
// with the Philox stream keyed by (seed, Request.Seq, n), so results never
// depend on what else is in the batch.
//
// The queue is bounded: Submit refuses with ErrQueueFull at once when it is
// full. Cancelling a request's context ends it before the next step and
// frees its sequence slot.
package scheduler

import (
	"context"
	"errors"
	"iter"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/statecache"
)

// Errors returned by Submit and carried by streams (those of engine.Engine).
var (
	// ErrQueueFull means the waiting queue is at Config.MaxQueue.
	ErrQueueFull = engine.ErrQueueFull
	// ErrClosed means the scheduler has been closed.
	ErrClosed = engine.ErrEngineClosed
	// ErrInvalidRequest wraps every validation error of Submit.
	ErrInvalidRequest = engine.ErrInvalidRequest
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
	// Cache, when set, is the prefix state cache. With a device tier,
	// saving and resuming are device-to-device copies.
	Cache *statecache.Cache
	// OnStep, when set, is called by the scheduler's goroutine after every
	// model step.
	OnStep func(StepInfo)
}

// The scheduler's types are the engine's.
type (
	// StepInfo describes one model step.
	StepInfo = engine.StepInfo
	// Request is one generation request.
	Request = engine.SubmitRequest
	// TokenLogprob is a token with its log-probability.
	TokenLogprob = engine.TokenLogprob
	// Event is one item of a Stream.
	Event = engine.Event
	// Result summarises a finished request.
	Result = engine.Result
	// Stats is a snapshot of the scheduler's gauges and counters.
	Stats = engine.EngineStats
	// Stream delivers the events of one request.
	Stream = engine.Stream
)

// Scheduler runs requests on one model with continuous batching. Its methods
// are safe for concurrent use.
type Scheduler struct {
	e   *engine.Engine
	cfg Config
}

// New starts a scheduler on m. Close it to stop its goroutine; the model is
// not closed.
func New(m *engine.Model, cfg Config) (*Scheduler, error) {
	if m == nil {
		return nil, errors.New("scheduler: nil model")
	}
	opts := engine.EngineOptions{MaxBatch: cfg.MaxBatch, MaxQueue: cfg.MaxQueue, ChunkSize: cfg.ChunkSize,
		PrefillBudget: cfg.PrefillBudget, OnStep: cfg.OnStep}
	if cfg.Cache != nil { // a nil *Cache in the interface would not be nil
		opts.Cache = cfg.Cache
	}
	e, err := engine.NewEngine(m, opts)
	if err != nil {
		return nil, err
	}
	o := e.Options()
	cfg.MaxBatch, cfg.MaxQueue, cfg.ChunkSize, cfg.PrefillBudget = o.MaxBatch, o.MaxQueue, o.ChunkSize, o.PrefillBudget
	return &Scheduler{e: e, cfg: cfg}, nil
}

// Config returns the scheduler's configuration with defaults filled in.
func (s *Scheduler) Config() Config { return s.cfg }

// Model returns the scheduler's model.
func (s *Scheduler) Model() *engine.Model { return s.e.Model() }

// Engine returns the engine the scheduler runs.
func (s *Scheduler) Engine() *engine.Engine { return s.e }

// Stats returns the current gauges and counters.
func (s *Scheduler) Stats() Stats { return s.e.Stats() }

// Submit validates req and queues it (engine.Engine.Submit). It returns at
// once: ErrQueueFull when the queue is full, ErrClosed after Close, an error
// wrapping ErrInvalidRequest for invalid settings. The stream delivers the
// tokens; it always ends with an event with Done set. Cancelling ctx ends
// the request (its final event carries ctx's error).
func (s *Scheduler) Submit(ctx context.Context, req Request) (*Stream, error) {
	return s.e.Submit(ctx, req)
}

// Generate submits req and waits for its result.
func (s *Scheduler) Generate(ctx context.Context, req Request) (*Result, error) {
	return s.e.Generate(ctx, req)
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
func (s *Scheduler) Close() error { return s.e.Close() }

// Shutdown stops admitting requests, lets those queued and running finish
// (until ctx ends: then as Close), and stops the scheduler's goroutine.
func (s *Scheduler) Shutdown(ctx context.Context) error { return s.e.Shutdown(ctx) }
