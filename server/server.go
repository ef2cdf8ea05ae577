// Package server is an OpenAI-compatible HTTP API over the scheduler:
//
//	GET  /health               readiness: 200 once the model is loaded, 503 while draining
//	GET  /livez                liveness: 200 while the process serves HTTP
//	GET  /v1/models            the model (id = its file's base name)
//	POST /v1/completions       text completion, streaming (SSE) or not
//	POST /v1/chat/completions  chat on the RWKV World template (package chat)
//	GET  /metrics              Prometheus metrics
//
// Requests take OpenAI's fields (model, prompt / messages, max_tokens,
// temperature, top_p, stop, seed, n, presence_penalty, frequency_penalty,
// logit_bias, logprobs, top_logprobs, user, stream, stream_options) and the
// extensions top_k, min_p, typical_p, repetition_penalty, penalty_decay,
// no_repeat_ngram_size and state (a state file under Config.StateDir); the
// anti-repetition samplers with llama.cpp's names (dry_multiplier,
// dry_base, dry_allowed_length, dry_penalty_last_n, dry_sequence_breakers,
// xtc_threshold, xtc_probability, top_n_sigma, mirostat, mirostat_tau,
// mirostat_eta) and ngram_penalty, ngram_penalty_n, ngram_penalty_last_n;
// and repetition_detector {threshold, n, window, action}, the live
// repetition detector (default Config.Detector). Its stop action ends a
// choice with finish_reason "repetition"; its firings are counted in
// rwkvgo_repetition_detections_total{action}.
// Errors use OpenAI's JSON shape: 400 for malformed or invalid requests
// (unknown model, bad settings, prompt too long), 401 for a wrong or missing
// API key, 413 for an oversized body, 429 (with Retry-After) when the queue is
// full, 503 while shutting down. A client that disconnects cancels its
// request.
//
// With temperature 0 a completion equals `rwkvgo generate --temperature 0`;
// with a seed, choice i of a request draws from the Philox stream (seed, i),
// so choice 0 equals `rwkvgo generate --seed S` with the same settings.
package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rwkvgo/rwkvgo/chat"
	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/sampler"
	"github.com/rwkvgo/rwkvgo/scheduler"
	"github.com/rwkvgo/rwkvgo/tokenizer"
)

// Config configures a Server. Zero fields take their defaults.
type Config struct {
	// ModelName is the model id served (default "rwkv"); requests naming
	// another model are refused.
	ModelName string
	// APIKey, when set, is required as "Authorization: Bearer KEY" on /v1/.
	APIKey string
	// MaxBodyBytes limits request bodies (default 4 MiB).
	MaxBodyBytes int64
	// MaxPromptTokens limits a prompt's length (default 65536).
	MaxPromptTokens int
	// MaxTokensLimit is the largest max_tokens accepted (default 16384).
	MaxTokensLimit int
	// DefaultMaxTokens is max_tokens when a request omits it: 16 for
	// completions (OpenAI's default) and ChatMaxTokens for chat (default 512).
	DefaultMaxTokens, ChatMaxTokens int
	// MaxN is the largest n accepted (default 16).
	MaxN int
	// StateDir is the directory of the state files requests may name.
	StateDir string
	// Detector is the live repetition detector of requests that do not
	// set "repetition_detector" (a zero Threshold: off).
	Detector sampler.DetectorConfig
	// Scheduler configures the scheduler the server runs.
	Scheduler scheduler.Config
	// Logger receives request logs (default slog.Default()).
	Logger *slog.Logger
	// Registry receives the metrics (default a new registry, with the Go
	// and process collectors).
	Registry *prometheus.Registry
}

// Server serves one model. Create it with New, mount Handler, and Close it
// after the HTTP server has shut down.
type Server struct {
	cfg     Config
	model   *engine.Model
	tok     tokenizer.Tokenizer
	sched   *scheduler.Scheduler
	metrics *metrics
	handler http.Handler
	created int64

	breakersMu sync.Mutex
	breakers   map[string][][]int // resolved DRY sequence breakers by their text

	statesMu sync.Mutex
	states   map[string]*engine.State

	draining atomic.Bool
}

// New starts a scheduler on m and returns a server for it; tok encodes
// prompts and decodes outputs.
func New(m *engine.Model, tok tokenizer.Tokenizer, cfg Config) (*Server, error) {
	if m == nil || tok == nil {
		return nil, errors.New("server: a model and a tokenizer are required")
	}
	if cfg.ModelName == "" {
		cfg.ModelName = "rwkv"
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 4 << 20
	}
	if cfg.MaxPromptTokens <= 0 {
		cfg.MaxPromptTokens = 65536
	}
	if cfg.MaxTokensLimit <= 0 {
		cfg.MaxTokensLimit = 16384
	}
	if cfg.DefaultMaxTokens <= 0 {
		cfg.DefaultMaxTokens = 16
	}
	if cfg.ChatMaxTokens <= 0 {
		cfg.ChatMaxTokens = 512
	}
	if cfg.MaxN <= 0 {
		cfg.MaxN = 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, model: m, tok: tok, created: time.Now().Unix(), states: map[string]*engine.State{}, breakers: map[string][][]int{}}
	s.metrics = newMetrics(cfg.Registry)
	sc := cfg.Scheduler
	user := sc.OnStep
	sc.OnStep = func(i scheduler.StepInfo) {
		s.metrics.step(i)
		if user != nil {
			user(i)
		}
	}
	var err error
	if s.sched, err = scheduler.New(m, sc); err != nil {
		return nil, err
	}
	s.metrics.watch(s.sched, sc.Cache)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("GET /livez", live)
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.HandleFunc("GET /v1/models", s.auth(s.listModels))
	mux.HandleFunc("GET /v1/models/{id}", s.auth(s.getModel))
	mux.HandleFunc("POST /v1/completions", s.auth(s.completions))
	mux.HandleFunc("POST /v1/chat/completions", s.auth(s.chatCompletions))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "invalid_request_error", "not_found", "", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
	})
	s.handler = s.instrument(mux)
	return s, nil
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Scheduler returns the server's scheduler.
func (s *Server) Scheduler() *scheduler.Scheduler { return s.sched }

// Close stops the scheduler (failing requests still running). Shut the HTTP
// server down first to let running streams finish. The model is not closed.
func (s *Server) Close() error { return s.sched.Close() }

// Drain marks the server as draining: /health answers 503 so that load
// balancers and the Gateway API Inference Extension's endpoint picker stop
// sending it requests, while requests that still arrive are served. Call it on
// SIGTERM before shutting the HTTP server down; it cannot be undone.
func (s *Server) Drain() { s.draining.Store(true) }

// Draining reports whether Drain has been called.
func (s *Server) Draining() bool { return s.draining.Load() }

// Loading returns a handler for the time before the model is loaded: /livez
// answers 200, /health 503 and every other route 503 in OpenAI's error shape.
func Loading() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/livez" {
			live(w, r)
			return
		}
		writeError(w, http.StatusServiceUnavailable, "server_error", "loading", "", "the model is loading")
	})
}

// live answers the liveness probe: the process is up and serving HTTP.
func live(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// health answers the readiness probe: ready once loaded, not while
// draining, nor once the model is unusable (its weights file faulted).
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeError(w, http.StatusServiceUnavailable, "server_error", "draining", "", "the server is shutting down")
		return
	}
	if err := s.model.Err(); err != nil {
		writeError(w, http.StatusServiceUnavailable, "server_error", "model_unusable", "", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type modelCard struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (s *Server) card() modelCard {
	return modelCard{ID: s.cfg.ModelName, Object: "model", Created: s.created, OwnedBy: "rwkvgo"}
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []modelCard{s.card()}})
}

func (s *Server) getModel(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") != s.cfg.ModelName {
		writeError(w, http.StatusNotFound, "invalid_request_error", "model_not_found", "model", fmt.Sprintf("the model %q does not exist", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, s.card())
}

// auth checks the API key when one is configured.
func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	if s.cfg.APIKey == "" {
		return h
	}
	want := []byte("Bearer " + s.cfg.APIKey)
	return func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			writeError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "", "incorrect or missing API key")
			return
		}
		h(w, r)
	}
}

// httpError is an error with its HTTP status and OpenAI error fields.
type httpError struct {
	status      int
	typ, code   string
	param, text string
}

func (e *httpError) Error() string { return e.text }

func badRequest(param, format string, args ...any) *httpError {
	return &httpError{status: http.StatusBadRequest, typ: "invalid_request_error", param: param, text: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, typ, code, param, msg string) {
	e := apiError{Message: msg, Type: typ}
	if param != "" {
		e.Param = &param
	}
	if code != "" {
		e.Code = &code
	}
	writeJSON(w, status, map[string]apiError{"error": e})
}

func writeHTTPError(w http.ResponseWriter, e *httpError) {
	if e.status == http.StatusTooManyRequests || e.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeError(w, e.status, e.typ, e.code, e.param, e.text)
}

// decode reads the JSON body into v.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) *httpError {
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &httpError{status: http.StatusRequestEntityTooLarge, typ: "invalid_request_error", code: "request_too_large",
				text: fmt.Sprintf("request body exceeds %d bytes", tooBig.Limit)}
		}
		return badRequest("", "malformed JSON body: %v", err)
	}
	if dec.More() {
		return badRequest("", "malformed JSON body: trailing data")
	}
	return nil
}

// job is a parsed request: its prompts and the scheduler request template.
type job struct {
	chat         bool
	stream       bool
	includeUsage bool
	logprobs     bool
	top          int
	n            int
	prompts      [][]int
	req          scheduler.Request
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// build turns an OpenAI request into a job.
func (s *Server) build(cr *completionRequest, isChat bool) (*job, *httpError) {
	if cr.Model != "" && cr.Model != s.cfg.ModelName {
		e := badRequest("model", "the model %q does not exist; this server serves %q", cr.Model, s.cfg.ModelName)
		e.code = "model_not_found"
		return nil, e
	}
	j := &job{chat: isChat, stream: cr.Stream, n: ptrOr(cr.N, 1)}
	if cr.StreamOptions != nil {
		j.includeUsage = cr.StreamOptions.IncludeUsage
	}
	if j.n < 1 || j.n > s.cfg.MaxN {
		return nil, badRequest("n", "n must be in [1, %d], got %d", s.cfg.MaxN, j.n)
	}
	maxTokens := s.cfg.DefaultMaxTokens
	if isChat {
		maxTokens = s.cfg.ChatMaxTokens
	}
	if cr.MaxCompletionTokens != nil {
		maxTokens = *cr.MaxCompletionTokens
	}
	if cr.MaxTokens != nil {
		maxTokens = *cr.MaxTokens
	}
	if maxTokens < 1 || maxTokens > s.cfg.MaxTokensLimit {
		return nil, badRequest("max_tokens", "max_tokens must be in [1, %d], got %d", s.cfg.MaxTokensLimit, maxTokens)
	}
	var err error
	if j.logprobs, j.top, err = parseLogprobs(cr.Logprobs, isChat); err != nil {
		return nil, badRequest("logprobs", "%v", err)
	}
	if isChat && cr.TopLogprobs != nil {
		j.top = *cr.TopLogprobs
		if j.top < 0 || j.top > 20 {
			return nil, badRequest("top_logprobs", "top_logprobs must be in [0, 20], got %d", j.top)
		}
		if j.top > 0 && !j.logprobs {
			return nil, badRequest("top_logprobs", "top_logprobs needs logprobs set to true")
		}
	}

	// Sampler settings.
	c := sampler.DefaultConfig()
	c.Temperature = ptrOr(cr.Temperature, 1)
	c.TopP = ptrOr(cr.TopP, 1)
	c.TopK = ptrOr(cr.TopK, 0)
	c.MinP = ptrOr(cr.MinP, 0)
	c.Typical = ptrOr(cr.TypicalP, 1)
	c.RepetitionPenalty = ptrOr(cr.RepetitionPenalty, 1)
	c.PresencePenalty = ptrOr(cr.PresencePenalty, 0)
	c.FrequencyPenalty = ptrOr(cr.FrequencyPenalty, 0)
	c.PenaltyDecay = ptrOr(cr.PenaltyDecay, 1)
	c.NoRepeatNGram = ptrOr(cr.NoRepeatNGramSize, 0)
	if e := s.antiRepetition(cr, &c); e != nil {
		return nil, e
	}
	if c.PresencePenalty < -2 || c.PresencePenalty > 2 {
		return nil, badRequest("presence_penalty", "presence_penalty must be in [-2, 2], got %v", c.PresencePenalty)
	}
	if c.FrequencyPenalty < -2 || c.FrequencyPenalty > 2 {
		return nil, badRequest("frequency_penalty", "frequency_penalty must be in [-2, 2], got %v", c.FrequencyPenalty)
	}
	if cr.Seed != nil {
		c.Seed = uint64(*cr.Seed)
	} else {
		var b [8]byte
		rand.Read(b[:])
		c.Seed = binary.LittleEndian.Uint64(b[:])
	}
	if len(cr.LogitBias) > 0 {
		c.LogitBias = map[int]float64{}
		for k, v := range cr.LogitBias {
			id, err := strconv.Atoi(k)
			if err != nil || id < 0 || id >= s.model.Config().Vocab {
				return nil, badRequest("logit_bias", "logit_bias key %q is not a token id of this model", k)
			}
			if v < -100 || v > 100 {
				return nil, badRequest("logit_bias", "logit_bias values must be in [-100, 100], got %v", v)
			}
			c.LogitBias[id] = v
		}
	}
	if c.StopStrings, err = parseStop(cr.Stop); err != nil {
		return nil, badRequest("stop", "%v", err)
	}
	if isChat {
		c.StopStrings = append(c.StopStrings, chat.Stop)
	}
	if eot, ok := s.tok.EndOfText(); ok {
		c.StopTokens = append(c.StopTokens, eot)
	}
	if err := c.Validate(); err != nil {
		msg := strings.TrimPrefix(err.Error(), "sampler: ")
		return nil, badRequest(samplerParam(msg), "%s", msg)
	}

	// Prompts.
	if isChat {
		if len(cr.Messages) == 0 {
			return nil, badRequest("messages", "messages must not be empty")
		}
		msgs := make([]chat.Message, len(cr.Messages))
		for i, m := range cr.Messages {
			text, err := m.text()
			if err != nil {
				return nil, badRequest(fmt.Sprintf("messages[%d].content", i), "%v", err)
			}
			msgs[i] = chat.Message{Role: m.Role, Content: text}
		}
		p, err := chat.Format(msgs)
		if err != nil {
			return nil, badRequest("messages", "%v", strings.TrimPrefix(err.Error(), "chat: "))
		}
		j.prompts = [][]int{s.tok.Encode([]byte(p))}
	} else {
		in, err := parsePrompt(cr.Prompt)
		if err != nil {
			return nil, badRequest("prompt", "%v", err)
		}
		for _, t := range in.texts {
			j.prompts = append(j.prompts, s.tok.Encode([]byte(t)))
		}
		V := s.model.Config().Vocab
		for _, ids := range in.tokens {
			for _, id := range ids {
				if id < 0 || id >= V {
					return nil, badRequest("prompt", "token id %d outside the vocabulary [0, %d)", id, V)
				}
			}
			j.prompts = append(j.prompts, ids)
		}
	}
	for _, p := range j.prompts {
		if len(p) == 0 {
			return nil, badRequest("prompt", "the prompt encodes to no tokens")
		}
		if len(p) > s.cfg.MaxPromptTokens {
			e := badRequest("prompt", "the prompt has %d tokens, more than this server's limit of %d", len(p), s.cfg.MaxPromptTokens)
			e.code = "context_length_exceeded"
			return nil, e
		}
	}
	if len(j.prompts)*j.n > s.cfg.MaxN {
		return nil, badRequest("n", "prompts x n must be at most %d, got %d", s.cfg.MaxN, len(j.prompts)*j.n)
	}
	j.req = scheduler.Request{Sampler: c, MaxTokens: maxTokens, Decode: s.tok.Decode, Logprobs: j.logprobs, TopLogprobs: j.top}
	if cr.State != "" {
		st, e := s.state(cr.State)
		if e != nil {
			return nil, e
		}
		j.req.InitialState, j.req.StateKey = st, cr.State
	}
	return j, nil
}

// state loads (once) the named state file from the state directory.
func (s *Server) state(name string) (*engine.State, *httpError) {
	if s.cfg.StateDir == "" {
		return nil, badRequest("state", "this server has no state directory")
	}
	if name != filepath.Base(name) || strings.HasPrefix(name, ".") || strings.ContainsAny(name, `/\`) {
		return nil, badRequest("state", "state must be a file name in the state directory, got %q", name)
	}
	s.statesMu.Lock()
	defer s.statesMu.Unlock()
	if st, ok := s.states[name]; ok {
		return st, nil
	}
	path := filepath.Join(s.cfg.StateDir, name)
	if _, err := os.Stat(path); err != nil {
		return nil, badRequest("state", "no state file %q", name)
	}
	st, err := engine.LoadStateFile(path, s.model.Config())
	if err != nil {
		return nil, badRequest("state", "%v", err)
	}
	if len(s.states) >= 64 {
		clear(s.states)
	}
	s.states[name] = st
	return st, nil
}

// submit queues every choice of j; on a refusal it cancels those queued.
func (s *Server) submit(ctx context.Context, j *job) ([]*scheduler.Stream, context.CancelFunc, *httpError) {
	ctx, cancel := context.WithCancel(ctx)
	var streams []*scheduler.Stream
	for _, p := range j.prompts {
		for i := 0; i < j.n; i++ {
			req := j.req
			req.Prompt, req.Seq = p, uint64(i)
			st, err := s.sched.Submit(ctx, req)
			if err != nil {
				cancel()
				switch {
				case errors.Is(err, scheduler.ErrQueueFull):
					return nil, nil, &httpError{status: http.StatusTooManyRequests, typ: "rate_limit_error", code: "queue_full", text: "the server's queue is full; retry later"}
				case errors.Is(err, scheduler.ErrInvalidRequest):
					return nil, nil, badRequest("", "%v", strings.TrimPrefix(err.Error(), "invalid request: "))
				case errors.Is(err, scheduler.ErrClosed):
					return nil, nil, &httpError{status: http.StatusServiceUnavailable, typ: "server_error", code: "shutting_down", text: "the server is shutting down"}
				}
				return nil, nil, &httpError{status: http.StatusInternalServerError, typ: "server_error", text: err.Error()}
			}
			streams = append(streams, st)
		}
	}
	return streams, cancel, nil
}

func newID(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func finishReason(r sampler.StopReason) string {
	switch r {
	case sampler.StopLength:
		return "length"
	case sampler.StopRepetition:
		return "repetition"
	}
	return "stop"
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, false)
}

func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, true)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, isChat bool) {
	start := time.Now()
	var cr completionRequest
	if e := s.decode(w, r, &cr); e != nil {
		writeHTTPError(w, e)
		return
	}
	j, e := s.build(&cr, isChat)
	if e != nil {
		writeHTTPError(w, e)
		return
	}
	streams, cancel, e := s.submit(r.Context(), j)
	if e != nil {
		writeHTTPError(w, e)
		return
	}
	defer cancel()
	promptTokens := 0
	for _, p := range j.prompts {
		promptTokens += len(p)
		s.metrics.promptTokens.Add(float64(len(p)))
	}
	s.cfg.Logger.Debug("request", "chat", isChat, "stream", j.stream, "prompts", len(j.prompts), "n", j.n, "prompt_tokens", promptTokens, "user", cr.User)
	if j.stream {
		s.streamResponse(w, r, j, streams, start, promptTokens)
		return
	}
	s.plainResponse(w, j, streams, start, promptTokens)
}

// choice collects one choice's output.
type choice struct {
	index    int
	text     []byte
	result   *scheduler.Result
	err      error
	tokens   []scheduler.Event // token events, for log-probabilities
	lastTime time.Time
	firstTok bool
}

// observe records latency metrics for a token event.
func (s *Server) observe(c *choice, start time.Time) {
	now := time.Now()
	if !c.firstTok {
		c.firstTok = true
		s.metrics.ttft.Observe(now.Sub(start).Seconds())
	} else {
		s.metrics.itl.Observe(now.Sub(c.lastTime).Seconds())
	}
	c.lastTime = now
	s.metrics.generated.Inc()
}

func (s *Server) plainResponse(w http.ResponseWriter, j *job, streams []*scheduler.Stream, start time.Time, promptTokens int) {
	choices := make([]*choice, len(streams))
	for i, st := range streams {
		c := &choice{index: i}
		for ev := range st.Events() {
			if ev.Done {
				c.result, c.err = ev.Result, ev.Err
				s.metrics.detected(ev.Result)
				break
			}
			if ev.Token >= 0 {
				s.observe(c, start)
				if j.logprobs {
					c.tokens = append(c.tokens, ev)
				}
			}
		}
		choices[i] = c
	}
	completion, cached := 0, 0
	for _, c := range choices {
		if c.err != nil {
			if errors.Is(c.err, context.Canceled) || errors.Is(c.err, context.DeadlineExceeded) {
				return // the client is gone
			}
			writeHTTPError(w, s.runError(c.err))
			return
		}
		completion += len(c.result.Tokens)
		cached = max(cached, c.result.CachedTokens)
	}
	u := &usage{PromptTokens: promptTokens, CompletionTokens: completion, TotalTokens: promptTokens + completion}
	u.PromptTokensDetails.CachedTokens = cached
	created := time.Now().Unix()
	if j.chat {
		resp := chatResponse{ID: newID("chatcmpl-"), Object: "chat.completion", Created: created, Model: s.cfg.ModelName, Usage: u}
		for _, c := range choices {
			text := string(c.result.Text)
			fr := finishReason(c.result.Reason)
			cc := chatChoice{Index: c.index, Message: &chatOutMessage{Role: "assistant", Content: &text}, FinishReason: &fr}
			if j.logprobs {
				cc.Logprobs = &chatLogprobs{Content: s.chatLogprobs(c.tokens)}
			}
			resp.Choices = append(resp.Choices, cc)
		}
		writeJSON(w, http.StatusOK, resp)
		return
	}
	resp := completionResponse{ID: newID("cmpl-"), Object: "text_completion", Created: created, Model: s.cfg.ModelName, Usage: u}
	for _, c := range choices {
		fr := finishReason(c.result.Reason)
		cc := completionChoice{Index: c.index, Text: string(c.result.Text), FinishReason: &fr}
		if j.logprobs {
			cc.Logprobs = s.completionLogprobs(c.tokens, 0)
		}
		resp.Choices = append(resp.Choices, cc)
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) runError(err error) *httpError {
	if errors.Is(err, scheduler.ErrClosed) {
		return &httpError{status: http.StatusServiceUnavailable, typ: "server_error", code: "shutting_down", text: "the server is shutting down"}
	}
	return &httpError{status: http.StatusInternalServerError, typ: "server_error", text: err.Error()}
}

func (s *Server) tokenText(id int) (string, []int) {
	b, err := s.tok.Decode([]int{id})
	if err != nil {
		return "", nil
	}
	ints := make([]int, len(b))
	for i, x := range b {
		ints[i] = int(x)
	}
	return string(b), ints
}

func (s *Server) completionLogprobs(evs []scheduler.Event, offset int) *completionLogprobs {
	lp := &completionLogprobs{Tokens: []string{}, TokenLogprobs: []float64{}, TopLogprobs: []map[string]float64{}, TextOffset: []int{}}
	for _, ev := range evs {
		t, _ := s.tokenText(ev.Token)
		lp.Tokens = append(lp.Tokens, t)
		lp.TokenLogprobs = append(lp.TokenLogprobs, ev.Logprob)
		lp.TextOffset = append(lp.TextOffset, offset)
		offset += len(t)
		top := map[string]float64{}
		for _, a := range ev.TopLogprobs {
			at, _ := s.tokenText(a.Token)
			if _, dup := top[at]; !dup {
				top[at] = a.Logprob
			}
		}
		lp.TopLogprobs = append(lp.TopLogprobs, top)
	}
	return lp
}

func (s *Server) chatLogprobs(evs []scheduler.Event) []chatTokenLogprob {
	out := []chatTokenLogprob{}
	for _, ev := range evs {
		t, b := s.tokenText(ev.Token)
		e := chatTokenLogprob{Token: t, Logprob: ev.Logprob, Bytes: b, TopLogprobs: []chatTopLogprob{}}
		for _, a := range ev.TopLogprobs {
			at, ab := s.tokenText(a.Token)
			e.TopLogprobs = append(e.TopLogprobs, chatTopLogprob{Token: at, Logprob: a.Logprob, Bytes: ab})
		}
		out = append(out, e)
	}
	return out
}

type choiceEvent struct {
	index int
	ev    scheduler.Event
}

// streamResponse writes server-sent events: one chunk per released piece of
// text (per token when log-probabilities are asked for), a final chunk per
// choice with its finish reason, the usage chunk when asked for, then
// "data: [DONE]".
func (s *Server) streamResponse(w http.ResponseWriter, r *http.Request, j *job, streams []*scheduler.Stream, start time.Time, promptTokens int) {
	events := make(chan choiceEvent, 16)
	var wg sync.WaitGroup
	for i, st := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range st.Events() {
				events <- choiceEvent{i, ev}
			}
		}()
	}
	go func() { wg.Wait(); close(events) }()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	id := newID("cmpl-")
	object := "text_completion"
	if j.chat {
		id, object = newID("chatcmpl-"), "chat.completion.chunk"
	}
	created := time.Now().Unix()
	broken := false
	send := func(v any) {
		if broken {
			return
		}
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			broken = true
			return
		}
		if err := rc.Flush(); err != nil {
			broken = true
		}
	}
	choices := make([]*choice, len(streams))
	decoders := make([]*tokenizer.StreamDecoder, len(streams))
	offsets := make([]int, len(streams))
	for i := range choices {
		choices[i] = &choice{index: i}
		decoders[i] = tokenizer.NewStreamDecoder(s.tok)
	}
	chunk := func(i int, text string, lps []scheduler.Event, fr *string) any {
		if j.chat {
			cc := chatChoice{Index: i, Delta: &chatOutMessage{}, FinishReason: fr}
			if text != "" || fr == nil {
				cc.Delta.Content = &text
			}
			if j.logprobs && len(lps) > 0 {
				cc.Logprobs = &chatLogprobs{Content: s.chatLogprobs(lps)}
			}
			return chatResponse{ID: id, Object: object, Created: created, Model: s.cfg.ModelName, Choices: []chatChoice{cc}}
		}
		cc := completionChoice{Index: i, Text: text, FinishReason: fr}
		if j.logprobs && len(lps) > 0 {
			cc.Logprobs = s.completionLogprobs(lps, offsets[i])
		}
		offsets[i] += len(text)
		return completionResponse{ID: id, Object: object, Created: created, Model: s.cfg.ModelName, Choices: []completionChoice{cc}}
	}
	if j.chat {
		for i := range choices {
			empty := ""
			send(chatResponse{ID: id, Object: object, Created: created, Model: s.cfg.ModelName,
				Choices: []chatChoice{{Index: i, Delta: &chatOutMessage{Role: "assistant", Content: &empty}}}})
		}
	}
	completion, cached := 0, 0
	var failure error
	for ce := range events {
		c, ev := choices[ce.index], ce.ev
		if ev.Done {
			c.result, c.err = ev.Result, ev.Err
			s.metrics.detected(ev.Result)
			if ev.Err != nil {
				if failure == nil && !errors.Is(ev.Err, context.Canceled) {
					failure = ev.Err
				}
				continue
			}
			completion += len(ev.Result.Tokens)
			cached = max(cached, ev.Result.CachedTokens)
			fr := finishReason(ev.Result.Reason)
			send(chunk(ce.index, decoders[ce.index].Flush(), nil, &fr))
			continue
		}
		var lps []scheduler.Event
		if ev.Token >= 0 {
			s.observe(c, start)
			if j.logprobs {
				lps = []scheduler.Event{ev}
			}
		}
		text := decoders[ce.index].WriteBytes(ev.Text)
		if text != "" || len(lps) > 0 {
			send(chunk(ce.index, text, lps, nil))
		}
	}
	if r.Context().Err() != nil {
		return
	}
	if failure != nil {
		e := s.runError(failure)
		send(map[string]apiError{"error": {Message: e.text, Type: e.typ}})
		return
	}
	if j.includeUsage {
		u := &usage{PromptTokens: promptTokens, CompletionTokens: completion, TotalTokens: promptTokens + completion}
		u.PromptTokensDetails.CachedTokens = cached
		if j.chat {
			send(chatResponse{ID: id, Object: object, Created: created, Model: s.cfg.ModelName, Choices: []chatChoice{}, Usage: u})
		} else {
			send(completionResponse{ID: id, Object: object, Created: created, Model: s.cfg.ModelName, Choices: []completionChoice{}, Usage: u})
		}
	}
	if !broken {
		fmt.Fprint(w, "data: [DONE]\n\n")
		rc.Flush()
	}
}
