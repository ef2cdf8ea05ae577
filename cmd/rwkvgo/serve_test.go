package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/internal/testdata"
)

const tinyModel = "rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP32.bin"

// startServe runs `rwkvgo serve` in-process until the returned cancel
// (standing in for SIGTERM); done receives serve's result. edit, when given,
// adjusts the options.
func startServe(t *testing.T, edit ...func(*serveOptions)) (base string, cancel func(), done chan error) {
	t.Helper()
	o := serveOptions{addr: "127.0.0.1:0", maxBatch: 4, maxQueue: 8, chunk: 256, cacheBytes: 1 << 24,
		maxPromptTokens: 4096, maxBodyBytes: 1 << 20, drainTimeout: time.Minute, logLevel: "warn"}
	o.mf.model = testdata.Path(t, tinyModel)
	o.mf.backend = "ref"
	for _, e := range edit {
		e(&o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done = make(chan error, 1)
	go func() { done <- serve(ctx, o, io.Discard, func(a string) { ready <- a }) }()
	select {
	case a := <-ready:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
			if resp.StatusCode != 503 {
				t.Fatalf("health: %d", resp.StatusCode)
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the server did not become healthy")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return base, cancel, done
}

func TestServeGreedyEqualsGenerateAndDrains(t *testing.T) {
	base, cancel, done := startServe(t)
	defer cancel()
	model := testdata.Path(t, tinyModel)
	prompt := "In a shocking finding,"
	rc, want, errs := runCLI("generate", "--model", model, "--prompt", prompt, "--max-tokens", "48", "--temperature", "0")
	if rc != 0 {
		t.Fatalf("generate: %d %s", rc, errs)
	}
	want = strings.TrimSuffix(want, "\n")

	body, _ := json.Marshal(map[string]any{"model": "tiny-rwkv-7v0-834K-FP32.bin", "prompt": prompt, "max_tokens": 48, "temperature": 0})
	resp, err := http.Post(base+"/v1/completions", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Choices []struct {
			Text string `json:"text"`
		} `json:"choices"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(out.Choices) != 1 || out.Choices[0].Text != strings.ToValidUTF8(want, "\uFFFD") {
		t.Fatalf("server text %q, generate printed %q", out.Choices, want)
	}

	// A stream running when the server is told to stop runs to its end.
	body, _ = json.Marshal(map[string]any{"prompt": prompt, "max_tokens": 400, "stream": true})
	resp, err = http.Post(base+"/v1/completions", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	chunks, sawDone := 0, false
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "data: ") {
			continue
		}
		if line == "data: [DONE]" {
			sawDone = true
			break
		}
		if chunks++; chunks == 1 {
			cancel() // SIGTERM
		}
	}
	if !sawDone || chunks < 50 {
		t.Fatalf("drained stream: %d chunks, [DONE] %v", chunks, sawDone)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after draining", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit after draining")
	}
}

// TestServeDrainDelay: after SIGTERM /health turns 503 at once while /livez
// stays 200 and new requests are still served for --drain-delay; then serve
// exits 0.
func TestServeDrainDelay(t *testing.T) {
	const delay = 1500 * time.Millisecond
	base, cancel, done := startServe(t, func(o *serveOptions) { o.drainDelay, o.modelName = delay, "rwkv-tiny" })
	defer cancel()
	get := func(path string) int {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get("/livez"); c != 200 {
		t.Fatalf("/livez before SIGTERM: %d", c)
	}
	start := time.Now()
	cancel() // SIGTERM
	for get("/health") != 503 {
		if time.Since(start) > delay/2 {
			t.Fatal("/health still ready after SIGTERM")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if c := get("/livez"); c != 200 {
		t.Fatalf("/livez while draining: %d", c)
	}
	body, _ := json.Marshal(map[string]any{"model": "rwkv-tiny", "prompt": "Hello", "max_tokens": 4})
	resp, err := http.Post(base+"/v1/completions", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("a request during the drain delay: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a request during the drain delay: %d", resp.StatusCode)
	}
	if time.Since(start) >= delay {
		t.Skip("the machine is too slow to check within the delay")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
		if el := time.Since(start); el < delay {
			t.Fatalf("serve exited after %v, before the drain delay %v", el, delay)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit after the drain delay")
	}
}

func TestServeFlagsValidated(t *testing.T) {
	for _, args := range [][]string{
		{"serve"},
		{"serve", "--model", "x", "--max-batch", "0"},
		{"serve", "--model", "x", "--chunk", "9999"},
		{"serve", "--model", "x", "--state-cache-bytes", "-1"},
		{"serve", "--model", "x", "--drain-delay", "-1s"},
		{"serve", "--model", "x", "--state-slots", "-1"},
		{"serve", "--model", "x", "--max-batch", "4", "--state-slots", "3"},
	} {
		if rc, _, _ := runCLI(args...); rc != 2 {
			t.Errorf("%v: exit %d, want 2", args, rc)
		}
	}
}

// TestServeStateSlots: with a fixed state pool of --max-batch slots, more
// concurrent requests than slots (queued, then run on the finished ones'
// sessions) each get the text `rwkvgo generate` prints for their prompt.
func TestServeStateSlots(t *testing.T) {
	base, cancel, done := startServe(t, func(o *serveOptions) { o.maxBatch, o.mf.stateSlots = 2, 2 })
	model := testdata.Path(t, tinyModel)
	prompts := []string{"In a shocking finding,", "The capital of France", "Once upon a time", "1, 2, 3,", "Hello", "RWKV is"}
	want := make([]string, len(prompts))
	for i, p := range prompts {
		rc, out, errs := runCLI("generate", "--model", model, "--prompt", p, "--max-tokens", "24", "--temperature", "0")
		require.Equal(t, 0, rc, errs)
		want[i] = strings.ToValidUTF8(strings.TrimSuffix(out, "\n"), "\uFFFD")
	}
	got := make([]string, len(prompts))
	errs := make([]error, len(prompts))
	var wg sync.WaitGroup
	for i, p := range prompts {
		wg.Go(func() {
			body, _ := json.Marshal(map[string]any{"prompt": p, "max_tokens": 24, "temperature": 0})
			resp, err := http.Post(base+"/v1/completions", "application/json", bytes.NewReader(body))
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			var out struct {
				Choices []struct {
					Text string `json:"text"`
				} `json:"choices"`
			}
			if resp.StatusCode != http.StatusOK {
				errs[i] = fmt.Errorf("status %d", resp.StatusCode)
				return
			}
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Choices) != 1 {
				errs[i] = fmt.Errorf("body: %v, %d choices", err, len(out.Choices))
				return
			}
			got[i] = out.Choices[0].Text
		})
	}
	wg.Wait()
	for i := range prompts {
		require.NoError(t, errs[i], prompts[i])
		assert.Equal(t, want[i], got[i], prompts[i])
	}
	cancel()
	require.NoError(t, <-done)
}

func TestChatCommand(t *testing.T) {
	model := testdata.Path(t, tinyModel)
	chatInput = strings.NewReader("Hello there\n/reset\nAgain\n/quit\nnot read\n")
	defer func() { chatInput = os.Stdin }()
	rc, out, errs := runCLI("chat", "--model", model, "--temperature", "0", "--max-tokens", "16", "--system", "Be brief.")
	if rc != 0 {
		t.Fatalf("chat: %d %s", rc, errs)
	}
	if strings.Count(out, "Assistant:") != 2 || !strings.Contains(out, "(new conversation)") {
		t.Fatalf("chat output:\n%s", out)
	}
}

func TestLoRAFlags(t *testing.T) {
	model := testdata.Path(t, "pth/tiny-rwkv-7v0-834K-FP32.safetensors")
	if rc, _, errs := runCLI("generate", "--model", model, "--prompt", "x", "--lora", "a.pth"); rc != 2 || !strings.Contains(errs, "--lora-alpha") {
		t.Fatalf("--lora without alpha: exit %d %s", rc, errs)
	}
	if rc, _, _ := runCLI("generate", "--model", model, "--prompt", "x", "--lora", "/nonexistent.pth", "--lora-alpha", "16"); rc != 1 {
		t.Fatalf("missing adapter: exit %d, want 1", rc)
	}
}
