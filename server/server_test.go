package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
	"github.com/rwkvgo/rwkvgo/sampler"
	"github.com/rwkvgo/rwkvgo/scheduler"
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

func tiny(t testing.TB) *engine.Model {
	t.Helper()
	p := testdata.Path(t, tinyV7)
	modelOnce.Do(func() { model, modelErr = engine.Load(p, engine.Options{Threads: 2}) })
	require.NoError(t, modelErr)
	return model
}

const modelName = "tiny-rwkv-7v0-834K-FP32.bin"

type fixture struct {
	srv    *Server
	ts     *httptest.Server
	client openai.Client
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	m := tiny(t)
	cfg.ModelName = modelName
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := New(m, tokenizer.Bytes(), cfg)
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	opts := []option.RequestOption{option.WithBaseURL(ts.URL + "/v1/"), option.WithHTTPClient(ts.Client()), option.WithMaxRetries(0)}
	if cfg.APIKey != "" {
		opts = append(opts, option.WithAPIKey(cfg.APIKey))
	} else {
		opts = append(opts, option.WithAPIKey("unused"))
	}
	return &fixture{srv: srv, ts: ts, client: openai.NewClient(opts...)}
}

// reference generates like `rwkvgo generate` (sampler.Generate on a fresh session).
func reference(t testing.TB, prompt string, maxTokens int, cfg sampler.Config, seq uint64, init *engine.State) string {
	t.Helper()
	m := tiny(t)
	s, err := m.NewSession()
	require.NoError(t, err)
	defer s.Close()
	if init != nil {
		require.NoError(t, s.SetState(init))
	}
	smp, err := sampler.New(cfg)
	require.NoError(t, err)
	res, err := s.Generate(context.Background(), tokenizer.Bytes().Encode([]byte(prompt)), smp,
		engine.GenerateOptions{MaxTokens: maxTokens, Seq: seq, Decode: tokenizer.Bytes().Decode})
	require.NoError(t, err)
	return jsonText(res.Text)
}

// jsonText is text as it reads after a trip through JSON (each invalid
// UTF-8 byte becomes U+FFFD).
func jsonText(b []byte) string {
	enc, _ := json.Marshal(string(b))
	var s string
	json.Unmarshal(enc, &s)
	return s
}

func greedy() sampler.Config {
	c := sampler.DefaultConfig()
	c.Temperature = 0
	return c
}

func completionParams(prompt string, maxTokens int64) openai.CompletionNewParams {
	return openai.CompletionNewParams{
		Model:     modelName,
		Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)},
		MaxTokens: openai.Int(maxTokens),
	}
}

func TestHealthModelsMetrics(t *testing.T) {
	f := newFixture(t, Config{})
	resp, err := f.ts.Client().Get(f.ts.URL + "/health")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	page, err := f.client.Models.List(context.Background())
	require.NoError(t, err)
	require.Len(t, page.Data, 1)
	require.Equal(t, modelName, page.Data[0].ID)
	_, err = f.client.Completions.New(context.Background(), completionParams("Hi", 3))
	require.NoError(t, err)
	wants := []string{
		`rwkvgo_http_requests_total{code="200",route="/v1/completions"} 1`,
		"rwkvgo_queue_depth 0", "rwkvgo_running_sequences 0", "rwkvgo_batch_size_count",
		"rwkvgo_generated_tokens_total 3", "rwkvgo_time_to_first_token_seconds_count 1",
		"rwkvgo_inter_token_latency_seconds_count 2", "rwkvgo_state_cache_hits_total 0",
		"rwkvgo_state_cache_misses_total", "rwkvgo_state_cache_bytes",
		"rwkvgo_state_cache_device_hits_total 0", "rwkvgo_state_cache_ram_hits_total 0",
		"rwkvgo_state_cache_device_bytes 0", "rwkvgo_state_cache_device_entries 0",
	}
	// The response can reach the client a moment before the scheduler
	// retires the sequence (and the gauges follow): scrape until they settle.
	require.Eventually(t, func() bool {
		resp, err := f.ts.Client().Get(f.ts.URL + "/metrics")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range wants {
			if !strings.Contains(string(b), want) {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "metrics never showed every expected line")
}

func TestCompletionGreedyEqualsGenerate(t *testing.T) {
	f := newFixture(t, Config{})
	prompt := "In a shocking finding,"
	want := reference(t, prompt, 40, greedy(), 0, nil)
	p := completionParams(prompt, 40)
	p.Temperature = openai.Float(0)
	c, err := f.client.Completions.New(context.Background(), p)
	require.NoError(t, err)
	require.Len(t, c.Choices, 1)
	require.Equal(t, want, c.Choices[0].Text)
	require.Equal(t, openai.CompletionChoiceFinishReasonLength, c.Choices[0].FinishReason)
	require.Equal(t, int64(len(prompt)), c.Usage.PromptTokens)
	require.Equal(t, int64(40), c.Usage.CompletionTokens)
	require.Equal(t, int64(40+len(prompt)), c.Usage.TotalTokens)

	// Streaming gives the same text.
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := f.client.Completions.NewStreaming(context.Background(), p)
	var text strings.Builder
	var finish string
	var u openai.CompletionUsage
	chunks := 0
	for stream.Next() {
		ch := stream.Current()
		chunks++
		for _, c := range ch.Choices {
			text.WriteString(c.Text)
			if c.FinishReason != "" {
				finish = string(c.FinishReason)
			}
		}
		if ch.Usage.TotalTokens > 0 {
			u = ch.Usage
		}
	}
	require.NoError(t, stream.Err())
	require.NoError(t, stream.Close())
	require.Equal(t, want, text.String())
	require.Equal(t, "length", finish)
	require.Greater(t, chunks, 5, "streamed in pieces")
	require.Equal(t, int64(40), u.CompletionTokens)
}

func TestSeedDeterminismAndN(t *testing.T) {
	f := newFixture(t, Config{})
	cfg := sampler.DefaultConfig()
	cfg.Temperature, cfg.TopK, cfg.Seed = 0.9, 40, 1234
	want0 := reference(t, "Once upon a time", 30, cfg, 0, nil)
	want1 := reference(t, "Once upon a time", 30, cfg, 1, nil)
	p := completionParams("Once upon a time", 30)
	p.Temperature, p.Seed, p.N = openai.Float(0.9), openai.Int(1234), openai.Int(2)
	for range 2 {
		c, err := f.client.Completions.New(context.Background(), p, option.WithJSONSet("top_k", 40))
		require.NoError(t, err)
		require.Len(t, c.Choices, 2)
		require.Equal(t, want0, c.Choices[0].Text)
		require.Equal(t, want1, c.Choices[1].Text)
		require.Equal(t, int64(60), c.Usage.CompletionTokens)
	}
}

func TestStopSequences(t *testing.T) {
	f := newFixture(t, Config{})
	prompt := "The quick brown fox"
	full := reference(t, prompt, 64, greedy(), 0, nil)
	stop := full[20:23]
	cut := strings.Index(full, stop)
	p := completionParams(prompt, 64)
	p.Temperature = openai.Float(0)
	p.Stop = openai.CompletionNewParamsStopUnion{OfStringArray: []string{"\x00never", stop}}
	c, err := f.client.Completions.New(context.Background(), p)
	require.NoError(t, err)
	require.Equal(t, full[:cut], c.Choices[0].Text)
	require.Equal(t, openai.CompletionChoiceFinishReasonStop, c.Choices[0].FinishReason)

	stream := f.client.Completions.NewStreaming(context.Background(), p)
	var text strings.Builder
	for stream.Next() {
		for _, c := range stream.Current().Choices {
			text.WriteString(c.Text)
		}
	}
	require.NoError(t, stream.Err())
	stream.Close()
	require.Equal(t, full[:cut], text.String())
}

func TestChat(t *testing.T) {
	f := newFixture(t, Config{})
	msgs := []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello\n\nthere")}
	prompt := "System: Be brief.\n\nUser: Hello\nthere\n\nAssistant:"
	cfg := greedy()
	cfg.StopStrings = []string{"\n\nUser:"}
	want := reference(t, prompt, 24, cfg, 0, nil)
	p := openai.ChatCompletionNewParams{Model: modelName, Messages: msgs, MaxTokens: openai.Int(24), Temperature: openai.Float(0)}
	c, err := f.client.Chat.Completions.New(context.Background(), p)
	require.NoError(t, err)
	require.Equal(t, want, c.Choices[0].Message.Content)
	require.Equal(t, "assistant", string(c.Choices[0].Message.Role))
	require.Equal(t, int64(len(prompt)), c.Usage.PromptTokens)

	stream := f.client.Chat.Completions.NewStreaming(context.Background(), p)
	acc := openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	require.NoError(t, stream.Err())
	stream.Close()
	require.Equal(t, want, acc.Choices[0].Message.Content)
	require.NotEmpty(t, acc.Choices[0].FinishReason)

	// logprobs with alternatives
	p.Logprobs, p.TopLogprobs, p.MaxTokens = openai.Bool(true), openai.Int(3), openai.Int(5)
	c, err = f.client.Chat.Completions.New(context.Background(), p)
	require.NoError(t, err)
	lp := c.Choices[0].Logprobs.Content
	require.Len(t, lp, 5)
	for _, e := range lp {
		require.Len(t, e.TopLogprobs, 3)
		require.Equal(t, e.Token, e.TopLogprobs[0].Token, "greedy picks the top token")
		require.Less(t, e.Logprob, 0.0)
	}
}

func TestCompletionLogprobs(t *testing.T) {
	f := newFixture(t, Config{})
	p := completionParams("abc", 4)
	p.Temperature, p.Logprobs = openai.Float(0), openai.Int(2)
	c, err := f.client.Completions.New(context.Background(), p)
	require.NoError(t, err)
	lp := c.Choices[0].Logprobs
	require.Len(t, lp.Tokens, 4)
	require.Len(t, lp.TokenLogprobs, 4)
	require.Len(t, lp.TopLogprobs, 4)
	require.Equal(t, c.Choices[0].Text, strings.Join(lp.Tokens, ""))
}

func TestStateFile(t *testing.T) {
	m := tiny(t)
	dir := t.TempDir()
	s, _ := m.NewSession()
	defer s.Close()
	_, err := s.Feed(tokenizer.Bytes().Encode([]byte("A tuned persona. ")))
	require.NoError(t, err)
	st, err := s.State()
	require.NoError(t, err)
	var buf bytes.Buffer
	st.WriteTo(&buf)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "persona.state"), buf.Bytes(), 0o644))
	cache, err := statecache.New(statecache.Config{MaxBytes: 1 << 24})
	require.NoError(t, err)
	f := newFixture(t, Config{StateDir: dir, Scheduler: scheduler.Config{Cache: cache}})
	cfg := sampler.DefaultConfig()
	cfg.Seed = 5
	want := reference(t, "Hello", 20, cfg, 0, st)
	p := completionParams("Hello", 20)
	p.Seed = openai.Int(5)
	for range 2 { // the second run resumes from the cache
		c, err := f.client.Completions.New(context.Background(), p, option.WithJSONSet("state", "persona.state"))
		require.NoError(t, err)
		require.Equal(t, want, c.Choices[0].Text)
	}
	require.NotEqual(t, reference(t, "Hello", 20, cfg, 0, nil), want, "the state matters")
	for _, bad := range []string{"../persona.state", "missing.state", ".hidden"} {
		_, err := f.client.Completions.New(context.Background(), p, option.WithJSONSet("state", bad))
		requireAPIError(t, err, 400, "")
	}
}

func requireAPIError(t *testing.T, err error, status int, code string) *openai.Error {
	t.Helper()
	var apiErr *openai.Error
	require.True(t, errors.As(err, &apiErr), "want an API error, got %v", err)
	require.Equal(t, status, apiErr.StatusCode, apiErr.Error())
	if code != "" {
		require.Equal(t, code, apiErr.Code)
	}
	require.NotEmpty(t, apiErr.Message)
	return apiErr
}

func TestErrors(t *testing.T) {
	f := newFixture(t, Config{MaxPromptTokens: 50, MaxBodyBytes: 2000})
	ctx := context.Background()
	p := completionParams("x", 4)
	p.Model = "gpt-4"
	_, err := f.client.Completions.New(ctx, p)
	requireAPIError(t, err, 400, "model_not_found")

	p = completionParams(strings.Repeat("y", 60), 4)
	_, err = f.client.Completions.New(ctx, p)
	requireAPIError(t, err, 400, "context_length_exceeded")

	for _, set := range []struct {
		key string
		val any
	}{{"temperature", -1}, {"top_p", 0}, {"n", 0}, {"max_tokens", 0}, {"presence_penalty", 3}, {"top_k", -2}, {"logprobs", 50}, {"stop", 5}, {"prompt", []int{999}}} {
		_, err = f.client.Completions.New(ctx, completionParams("x", 4), option.WithJSONSet(set.key, set.val))
		requireAPIError(t, err, 400, "")
	}
	_, err = f.client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: modelName,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.ToolMessage("x", "id")}})
	requireAPIError(t, err, 400, "")

	post := func(body string, header map[string]string) (*http.Response, string) {
		req, _ := http.NewRequest("POST", f.ts.URL+"/v1/completions", strings.NewReader(body))
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := f.ts.Client().Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	resp, body := post(`{"prompt": "x",`, nil)
	require.Equal(t, 400, resp.StatusCode)
	require.Contains(t, body, `"type":"invalid_request_error"`)
	require.Contains(t, body, `"error":{"message":`)
	resp, _ = post(`{"prompt": "`+strings.Repeat("z", 3000)+`"}`, nil)
	require.Equal(t, 413, resp.StatusCode)
	resp, _ = post(`{"prompt": "x"} {}`, nil)
	require.Equal(t, 400, resp.StatusCode)
	resp, _ = post(`[]`, nil)
	require.Equal(t, 400, resp.StatusCode)
	req, _ := http.NewRequest("GET", f.ts.URL+"/v1/nope", nil)
	r2, err := f.ts.Client().Do(req)
	require.NoError(t, err)
	r2.Body.Close()
	require.Equal(t, 404, r2.StatusCode)
}

func TestAPIKey(t *testing.T) {
	f := newFixture(t, Config{APIKey: "sekret"})
	_, err := f.client.Completions.New(context.Background(), completionParams("x", 2))
	require.NoError(t, err)
	for _, key := range []string{"wrong", ""} {
		_, err := f.client.Completions.New(context.Background(), completionParams("x", 2), option.WithAPIKey(key))
		requireAPIError(t, err, 401, "invalid_api_key")
	}
	_, err = f.client.Models.List(context.Background(), option.WithAPIKey("wrong"))
	requireAPIError(t, err, 401, "")
	resp, err := f.ts.Client().Get(f.ts.URL + "/health")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, "health needs no key")
}

// stepGate stalls the scheduler inside a step until released.
type stepGate struct {
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func (g *stepGate) onStep(scheduler.StepInfo) {
	g.mu.Lock()
	armed := g.armed
	g.armed = false
	g.mu.Unlock()
	if armed {
		g.entered <- struct{}{}
		<-g.release
	}
}

func TestQueueFull(t *testing.T) {
	g := &stepGate{armed: true, entered: make(chan struct{}, 1), release: make(chan struct{})}
	f := newFixture(t, Config{Scheduler: scheduler.Config{MaxBatch: 1, MaxQueue: 1, OnStep: g.onStep}})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, errs[0] = f.client.Completions.New(ctx, completionParams("first", 2))
	}()
	<-g.entered
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, errs[1] = f.client.Completions.New(ctx, completionParams("second", 2))
	}()
	require.Eventually(t, func() bool { return f.srv.Scheduler().Stats().Queued == 1 }, 5*time.Second, time.Millisecond)
	body := `{"prompt":"third","max_tokens":2}`
	resp, err := f.ts.Client().Post(f.ts.URL+"/v1/completions", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 429, resp.StatusCode)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	require.Contains(t, string(b), `"code":"queue_full"`)
	close(g.release)
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
}

func TestClientDisconnectCancels(t *testing.T) {
	f := newFixture(t, Config{})
	for _, streaming := range []bool{true, false} {
		ctx, cancel := context.WithCancel(context.Background())
		p := completionParams("Cancel me", 16000)
		if streaming {
			stream := f.client.Completions.NewStreaming(ctx, p)
			n := 0
			for stream.Next() {
				if n++; n == 3 {
					cancel()
				}
			}
			require.GreaterOrEqual(t, n, 3)
			stream.Close()
		} else {
			go func() {
				assert.Eventually(t, func() bool { return f.srv.Scheduler().Stats().Running == 1 }, 5*time.Second, time.Millisecond)
				cancel()
			}()
			_, err := f.client.Completions.New(ctx, p)
			require.ErrorIs(t, err, context.Canceled)
		}
		cancel()
		require.Eventually(t, func() bool { return f.srv.Scheduler().Stats().Running == 0 }, 5*time.Second, time.Millisecond,
			"the disconnected request's sequence is freed (streaming=%v)", streaming)
		require.Less(t, f.srv.Scheduler().Stats().Tokens, uint64(16000))
	}
}
