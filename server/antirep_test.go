package server

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/internal/generation"
	"github.com/rwkvgo/rwkvgo/sampler"
	"github.com/rwkvgo/rwkvgo/tokenizer"
)

// post sends a JSON body to route and returns the status and the decoded
// reply.
func post(t *testing.T, f *fixture, route string, body map[string]any) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := f.ts.Client().Post(f.ts.URL+route, "application/json", strings.NewReader(string(b)))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

// streamFinish posts a streaming completion and returns its text and
// finish reason.
func streamFinish(t *testing.T, f *fixture, body map[string]any) (string, string) {
	t.Helper()
	body["stream"] = true
	b, _ := json.Marshal(body)
	resp, err := f.ts.Client().Post(f.ts.URL+"/v1/completions", "application/json", strings.NewReader(string(b)))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	var text strings.Builder
	finish := ""
	done := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if line == "[DONE]" {
			done = true
			break
		}
		var ch struct {
			Choices []struct {
				Text         string  `json:"text"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &ch), line)
		for _, c := range ch.Choices {
			text.WriteString(c.Text)
			if c.FinishReason != nil {
				finish = *c.FinishReason
			}
		}
	}
	require.True(t, done, "the stream ends with [DONE]")
	return text.String(), finish
}

func metricsText(t *testing.T, f *fixture) string {
	t.Helper()
	resp, err := f.ts.Client().Get(f.ts.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// The llama.cpp-named fields mean what generate's flags of the same names
// mean: a seeded completion equals `rwkvgo generate` with those flags
// (package generation builds generate's sampler configuration).
func TestAntiRepetitionFieldsEqualGenerate(t *testing.T) {
	f := newFixture(t, Config{})
	for _, tc := range []struct {
		fields map[string]any
		args   []string
	}{
		{map[string]any{"temperature": 0, "dry_multiplier": 0.8},
			[]string{"--temperature", "0", "--dry-multiplier", "0.8"}},
		{map[string]any{"temperature": 0, "dry_multiplier": 1.5, "dry_base": 2, "dry_allowed_length": 1, "dry_penalty_last_n": 32, "dry_sequence_breakers": []string{"e", ", "}},
			[]string{"--temperature", "0", "--dry-multiplier", "1.5", "--dry-base", "2", "--dry-allowed-length", "1", "--dry-penalty-last-n", "32",
				"--dry-sequence-breaker", "e", "--dry-sequence-breaker", ", "}},
		{map[string]any{"temperature": 0, "dry_multiplier": 0.8, "dry_sequence_breakers": []string{}},
			[]string{"--temperature", "0", "--dry-multiplier", "0.8", "--dry-sequence-breaker", "none"}},
		{map[string]any{"temperature": 1, "min_p": 0.05, "xtc_probability": 0.5, "xtc_threshold": 0.1},
			[]string{"--temperature", "1", "--min-p", "0.05", "--xtc-probability", "0.5", "--xtc-threshold", "0.1"}},
		{map[string]any{"temperature": 1, "top_n_sigma": 1.5}, []string{"--temperature", "1", "--top-n-sigma", "1.5"}},
		{map[string]any{"temperature": 1, "top_n_sigma": -1}, []string{"--temperature", "1"}},
		{map[string]any{"temperature": 1, "mirostat": 2, "mirostat_tau": 4, "mirostat_eta": 0.2},
			[]string{"--temperature", "1", "--mirostat", "2", "--mirostat-tau", "4", "--mirostat-eta", "0.2"}},
		{map[string]any{"temperature": 0, "ngram_penalty": 1, "ngram_penalty_n": 3, "ngram_penalty_last_n": 40},
			[]string{"--temperature", "0", "--ngram-penalty", "1", "--ngram-penalty-n", "3", "--ngram-penalty-last-n", "40"}},
	} {
		st, err := generation.ParseArgs(append([]string{"--seed", "11"}, tc.args...))
		require.NoError(t, err)
		cfg, err := st.Config(tokenizer.Bytes())
		require.NoError(t, err)
		want := reference(t, "In a shocking finding,", 48, cfg, 0, nil)
		body := map[string]any{"prompt": "In a shocking finding,", "max_tokens": 48, "seed": 11}
		for k, v := range tc.fields {
			body[k] = v
		}
		code, out := post(t, f, "/v1/completions", body)
		require.Equal(t, 200, code, "%v: %v", tc.fields, out)
		got := out["choices"].([]any)[0].(map[string]any)["text"]
		require.Equal(t, want, got, "%v", tc.fields)
	}
	// The settings change the output: greedy loops, DRY does not.
	_, plain := post(t, f, "/v1/completions", map[string]any{"prompt": "In a shocking finding,", "max_tokens": 48, "temperature": 0})
	_, dry := post(t, f, "/v1/completions", map[string]any{"prompt": "In a shocking finding,", "max_tokens": 48, "temperature": 0, "dry_multiplier": 0.8})
	require.NotEqual(t, plain["choices"], dry["choices"])
}

// Invalid settings of the new fields are 400s in OpenAI's error shape,
// naming the field.
func TestAntiRepetitionValidation(t *testing.T) {
	f := newFixture(t, Config{})
	for _, tc := range []struct {
		fields map[string]any
		param  string
	}{
		{map[string]any{"dry_multiplier": -1}, "dry_multiplier"},
		{map[string]any{"dry_multiplier": 1, "dry_base": 0.5}, "dry_base"},
		{map[string]any{"dry_multiplier": 1, "dry_allowed_length": 0}, "dry_allowed_length"},
		{map[string]any{"dry_penalty_last_n": -2}, "dry_penalty_last_n"},
		{map[string]any{"dry_multiplier": 1, "dry_sequence_breakers": []string{"\n", ""}}, "dry_sequence_breakers"},
		{map[string]any{"xtc_probability": 2}, "xtc_probability"},
		{map[string]any{"xtc_threshold": -0.5}, "xtc_threshold"},
		{map[string]any{"top_n_sigma": -2}, "top_n_sigma"},
		{map[string]any{"mirostat": 1}, "mirostat"},
		{map[string]any{"mirostat": 2, "mirostat_tau": 0}, "mirostat_tau"},
		{map[string]any{"mirostat": 2, "top_k": 40}, "mirostat"},
		{map[string]any{"ngram_penalty": 1, "ngram_penalty_n": 1}, "ngram_penalty_n"},
		{map[string]any{"ngram_penalty": -1}, "ngram_penalty"},
		{map[string]any{"repetition_detector": map[string]any{"threshold": 2}}, "repetition_detector"},
		{map[string]any{"repetition_detector": map[string]any{"threshold": 0.5, "action": "explode"}}, "repetition_detector"},
		{map[string]any{"repetition_detector": map[string]any{"threshold": 0.5, "n": 8, "window": 8}}, "repetition_detector"},
	} {
		body := map[string]any{"prompt": "x", "max_tokens": 4}
		for k, v := range tc.fields {
			body[k] = v
		}
		code, out := post(t, f, "/v1/completions", body)
		require.Equal(t, http.StatusBadRequest, code, "%v", tc.fields)
		e, ok := out["error"].(map[string]any)
		require.True(t, ok, "%v: %v", tc.fields, out)
		require.Equal(t, "invalid_request_error", e["type"])
		require.Equal(t, tc.param, e["param"], "%v: %v", tc.fields, e["message"])
		require.NotEmpty(t, e["message"])
	}
}

// The detector's stop action ends a completion, plain or streamed, with
// finish_reason "repetition"; firings are counted in /metrics by action.
// The server's default detector applies to requests that do not set one.
func TestRepetitionDetectorStops(t *testing.T) {
	f := newFixture(t, Config{})
	prompt := "In a shocking finding," // the tiny model loops on " the" greedily
	stop := map[string]any{"threshold": 0.5, "n": 4, "window": 16, "action": "stop"}
	code, out := post(t, f, "/v1/completions", map[string]any{"prompt": prompt, "max_tokens": 64, "temperature": 0, "repetition_detector": stop})
	require.Equal(t, 200, code, "%v", out)
	ch := out["choices"].([]any)[0].(map[string]any)
	require.Equal(t, "repetition", ch["finish_reason"])
	used := out["usage"].(map[string]any)["completion_tokens"].(float64)
	require.Less(t, used, 64.0)
	require.GreaterOrEqual(t, used, 16.0, "the detector needs a full window")
	full := reference(t, prompt, 64, greedy(), 0, nil)
	require.True(t, strings.HasPrefix(full, ch["text"].(string)), "the stopped text is a prefix of the full one")

	text, finish := streamFinish(t, f, map[string]any{"prompt": prompt, "max_tokens": 64, "temperature": 0, "repetition_detector": stop})
	require.Equal(t, "repetition", finish)
	require.Equal(t, ch["text"], text)

	chat := map[string]any{"messages": []map[string]string{{"role": "user", "content": "the the the the"}}, "max_tokens": 64, "temperature": 0,
		"repetition_detector": stop}
	code, out = post(t, f, "/v1/chat/completions", chat)
	require.Equal(t, 200, code, "%v", out)
	require.Equal(t, "repetition", out["choices"].([]any)[0].(map[string]any)["finish_reason"], "chat too")

	// report: generation runs to max_tokens, the firings are counted.
	report := map[string]any{"threshold": 0.5, "n": 4, "window": 16, "action": "report"}
	code, out = post(t, f, "/v1/completions", map[string]any{"prompt": prompt, "max_tokens": 64, "temperature": 0, "repetition_detector": report})
	require.Equal(t, 200, code)
	require.Equal(t, "length", out["choices"].([]any)[0].(map[string]any)["finish_reason"])

	m := metricsText(t, f)
	require.Contains(t, m, `rwkvgo_repetition_detections_total{action="stop"} 3`)
	require.Contains(t, m, `rwkvgo_repetition_detections_total{action="escalate"} 0`)
	require.NotContains(t, m, `rwkvgo_repetition_detections_total{action="report"} 0`)

	// The server's default: on for requests without the field, off with
	// threshold 0.
	g := newFixture(t, Config{Detector: sampler.DetectorConfig{Threshold: 0.5, N: 4, Window: 16, Action: sampler.DetectStop}})
	_, out = post(t, g, "/v1/completions", map[string]any{"prompt": prompt, "max_tokens": 64, "temperature": 0})
	require.Equal(t, "repetition", out["choices"].([]any)[0].(map[string]any)["finish_reason"])
	_, out = post(t, g, "/v1/completions", map[string]any{"prompt": prompt, "max_tokens": 64, "temperature": 0, "repetition_detector": map[string]any{"threshold": 0}})
	require.Equal(t, "length", out["choices"].([]any)[0].(map[string]any)["finish_reason"])
	require.Contains(t, metricsText(t, g), `rwkvgo_repetition_detections_total{action="stop"} 1`)
}
