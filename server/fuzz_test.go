package server

import (
	"bytes"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/sampler"
	"github.com/rwkvgo/rwkvgo/tokenizer"
	"github.com/rwkvgo/rwkvgo/weights"
)

// fuzzServer returns a server on a small synthetic model (byte vocabulary:
// no test data needed) with modest limits, closed when f ends. Its requests
// are only parsed and validated (build); nothing is generated.
func fuzzServer(f testing.TB) *Server {
	f.Helper()
	wf, err := weights.Synthesize(weights.SynthConfig{Version: weights.V7, Layers: 1, Embd: 32, Vocab: 256, HeadSize: 16, FFN: 64, Seed: 1})
	if err != nil {
		f.Fatal(err)
	}
	wm, err := weights.Canonicalize(wf, weights.Options{})
	if err != nil {
		f.Fatal(err)
	}
	m, err := engine.New(wm, engine.Options{Threads: 1})
	if err != nil {
		f.Fatal(err)
	}
	srv, err := New(m, tokenizer.Bytes(), Config{ModelName: "fuzz", MaxN: 4, MaxPromptTokens: 4096, MaxTokensLimit: 1024,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		srv.Close()
		m.Close()
	})
	return srv
}

// fuzzSeeds are request bodies both targets start from (the committed
// corpus under testdata/fuzz adds more).
var fuzzSeeds = []string{
	`{"prompt":"Hello","max_tokens":8}`,
	`{"model":"fuzz","prompt":["a","b"],"n":2,"temperature":0.7,"top_p":0.9,"top_k":40,"seed":7,"stop":["\n","."]}`,
	`{"prompt":[1,2,3],"logprobs":3,"logit_bias":{"65":-100,"66":5}}`,
	`{"prompt":[[1,2],[3]],"presence_penalty":1.5,"frequency_penalty":-0.5,"repetition_penalty":1.1,"penalty_decay":0.99}`,
	`{"prompt":"x","dry_multiplier":0.8,"dry_base":1.75,"dry_allowed_length":2,"dry_penalty_last_n":-1,"dry_sequence_breakers":["\n",":"]}`,
	`{"prompt":"x","xtc_threshold":0.1,"xtc_probability":0.5,"top_n_sigma":1}`,
	`{"prompt":"x","mirostat":2,"mirostat_tau":5,"mirostat_eta":0.1,"temperature":0.8}`,
	`{"prompt":"x","ngram_penalty":0.5,"ngram_penalty_n":3,"ngram_penalty_last_n":64,"no_repeat_ngram_size":3,"min_p":0.05,"typical_p":0.95}`,
	`{"prompt":"x","repetition_detector":{"threshold":0.5,"n":4,"window":64,"action":"stop"}}`,
	`{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_completion_tokens":16,"stream":true,"stream_options":{"include_usage":true}}`,
	`{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],"logprobs":true,"top_logprobs":2}`,
	`{"messages":[{"role":"user","content":"x"}],"temperature":-1}`,
	`{"prompt":"x","max_tokens":0}`,
	`{"prompt":"x","top_p":1e309}`,
	`{"prompt":"x","state":"../etc/passwd"}`,
	`{"prompt":"x"} trailing`,
	`[]`,
	``,
}

// fuzzRequest decodes body as the server does and validates it as a chat
// or completions request. It fails t when the server panics, when a refused
// request gets no client error, or when an accepted request yields settings
// the server's own limits or the sampler reject. It reports whether the
// request was accepted.
func fuzzRequest(t testing.TB, srv *Server, body []byte, chat bool) bool {
	var cr completionRequest
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/v1/completions", bytes.NewReader(body))
	e := srv.decode(w, r, &cr)
	var j *job
	if e == nil {
		j, e = srv.build(&cr, chat)
	}
	if e != nil {
		if e.status < 400 || e.status > 499 || e.text == "" || e.typ == "" {
			t.Fatalf("refused with status %d, type %q, message %q: want a client error with a message", e.status, e.typ, e.text)
		}
		if strings.Contains(e.text, "sampler: ") {
			t.Fatalf("message %q keeps the package prefix", e.text)
		}
		return false
	}
	cfg := srv.cfg
	V := srv.model.Config().Vocab
	c := j.req.Sampler
	switch {
	case j.chat != chat:
		t.Fatalf("job chat = %v, want %v", j.chat, chat)
	case j.n < 1 || j.n > cfg.MaxN:
		t.Fatalf("n = %d outside [1, %d]", j.n, cfg.MaxN)
	case j.req.MaxTokens < 1 || j.req.MaxTokens > cfg.MaxTokensLimit:
		t.Fatalf("max tokens %d outside [1, %d]", j.req.MaxTokens, cfg.MaxTokensLimit)
	case len(j.prompts) == 0 || len(j.prompts)*j.n > cfg.MaxN:
		t.Fatalf("%d prompts x n %d: want 1 to %d sequences", len(j.prompts), j.n, cfg.MaxN)
	case j.top < 0 || j.top > 20 || j.req.TopLogprobs != j.top || j.req.Logprobs != j.logprobs:
		t.Fatalf("top log-probabilities %d (request %d, logprobs %v/%v)", j.top, j.req.TopLogprobs, j.logprobs, j.req.Logprobs)
	case c.PresencePenalty < -2 || c.PresencePenalty > 2 || c.FrequencyPenalty < -2 || c.FrequencyPenalty > 2:
		t.Fatalf("penalties presence %v, frequency %v outside [-2, 2]", c.PresencePenalty, c.FrequencyPenalty)
	case j.req.InitialState != nil:
		t.Fatal("a state was loaded although the server has no state directory")
	}
	for _, p := range j.prompts {
		if len(p) == 0 || len(p) > cfg.MaxPromptTokens {
			t.Fatalf("prompt of %d tokens, want 1 to %d", len(p), cfg.MaxPromptTokens)
		}
		for _, id := range p {
			if id < 0 || id >= V {
				t.Fatalf("prompt token %d outside [0, %d)", id, V)
			}
		}
	}
	for id, v := range c.LogitBias {
		if id < 0 || id >= V || !(v >= -100 && v <= 100) {
			t.Fatalf("logit bias %d: %v", id, v)
		}
	}
	if chat && (len(c.StopStrings) == 0 || c.StopStrings[len(c.StopStrings)-1] == "") {
		t.Fatalf("chat stop strings %q lack the turn separator", c.StopStrings)
	}
	for _, v := range []float64{c.Temperature, c.TopP, c.MinP, c.Typical, c.RepetitionPenalty, c.PenaltyDecay} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("non-finite sampler setting in %+v", c)
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("accepted settings do not validate: %v", err)
	}
	if _, err := sampler.New(c); err != nil {
		t.Fatalf("accepted settings make no sampler: %v", err)
	}
	if _, err := sampler.NewStopMatcher(c.StopStrings, j.req.Decode); err != nil {
		t.Fatalf("accepted stop strings make no matcher: %v", err)
	}
	return true
}

// TestRequestSeeds: the fuzz targets' seeds are accepted or refused as
// their content says (the first nine are valid completions requests, the
// next two valid chat requests, the rest invalid), so the targets check
// accepted settings, not only refusals.
func TestRequestSeeds(t *testing.T) {
	srv := fuzzServer(t)
	for i, s := range fuzzSeeds {
		wantCompletion, wantChat := i < 9, i == 9 || i == 10
		if got := fuzzRequest(t, srv, []byte(s), false); got != wantCompletion {
			t.Errorf("seed %d %s as a completion: accepted %v, want %v", i, s, got, wantCompletion)
		}
		if got := fuzzRequest(t, srv, []byte(s), true); got != wantChat {
			t.Errorf("seed %d %s as a chat: accepted %v, want %v", i, s, got, wantChat)
		}
	}
}

// FuzzCompletionRequest: any body of POST /v1/completions is either refused
// with a client error or turned into valid settings (see fuzzRequest).
func FuzzCompletionRequest(f *testing.F) {
	srv := fuzzServer(f)
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { fuzzRequest(t, srv, body, false) })
}

// FuzzChatRequest is FuzzCompletionRequest for POST /v1/chat/completions.
func FuzzChatRequest(f *testing.F) {
	srv := fuzzServer(f)
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { fuzzRequest(t, srv, body, true) })
}
