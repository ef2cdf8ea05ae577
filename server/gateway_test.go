package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/scheduler"
)

// scrape reads the unlabelled samples of /metrics.
func scrape(t *testing.T, f *fixture) map[string]float64 {
	t.Helper()
	resp, err := f.ts.Client().Get(f.ts.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.Contains(name, "{") {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		require.NoError(t, err, line)
		out[name] = v
	}
	require.NoError(t, sc.Err())
	return out
}

// scrapeText returns /metrics as text.
func scrapeText(t *testing.T, f *fixture) string {
	t.Helper()
	resp, err := f.ts.Client().Get(f.ts.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// gatewayGauges are the gauges the Gateway API Inference Extension's endpoint
// picker reads (deploy/ names them in its configuration).
type gatewayGauges struct{ queued, running, capacity, usage float64 }

func readGauges(t *testing.T, f *fixture) gatewayGauges {
	m := scrape(t, f)
	for _, n := range []string{"rwkvgo_queue_depth", "rwkvgo_running_sequences", "rwkvgo_state_pool_capacity", "rwkvgo_state_pool_usage_ratio"} {
		_, ok := m[n]
		require.True(t, ok, "metric %s missing", n)
	}
	return gatewayGauges{m["rwkvgo_queue_depth"], m["rwkvgo_running_sequences"], m["rwkvgo_state_pool_capacity"], m["rwkvgo_state_pool_usage_ratio"]}
}

// waitGauges polls /metrics until want holds (or fails after a deadline).
func waitGauges(t *testing.T, f *fixture, what string, want func(g gatewayGauges) bool) gatewayGauges {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		g := readGauges(t, f)
		if want(g) {
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: gauges never got there; last %+v", what, g)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// holdStream starts a long streaming completion and returns once its
// response headers (or an error status) arrived; cancel ends it.
func holdStream(t *testing.T, f *fixture, ctx context.Context, wg *sync.WaitGroup, i int) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"model": modelName, "prompt": "Stream " + strconv.Itoa(i) + ": the rain in spain",
		"max_tokens": 16000, "temperature": 1, "seed": i, "stream": true})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.ts.URL+"/v1/completions", strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	wg.Add(1)
	go func() {
		defer wg.Done()
		resp, err := f.ts.Client().Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
	}()
}

// TestGatewayGaugesUnderLoad scrapes /metrics while streams fill the slots
// and then the queue: the queued gauge rises only once every slot is taken,
// and the usage ratio is running sequences over --max-batch.
func TestGatewayGaugesUnderLoad(t *testing.T) {
	const slots, extra = 2, 3
	f := newFixture(t, Config{Scheduler: scheduler.Config{MaxBatch: slots, MaxQueue: 8}})

	g := readGauges(t, f)
	require.Equal(t, gatewayGauges{0, 0, slots, 0}, g, "idle server")

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	// One stream: half the pool in use, nothing queued.
	holdStream(t, f, ctx, &wg, 0)
	// (The gauges are read one at a time; a request being admitted is
	// briefly in neither, so the test waits for a settled state.)
	g = waitGauges(t, f, "one stream", func(g gatewayGauges) bool { return g.running == 1 })
	require.Equal(t, 0.5, g.usage, "%+v", g)
	require.Zero(t, g.queued, "%+v", g)

	// Fill the pool and then the queue.
	for i := 1; i < slots+extra; i++ {
		holdStream(t, f, ctx, &wg, i)
	}
	g = waitGauges(t, f, "queue filled", func(g gatewayGauges) bool { return g.queued == extra && g.running == slots })
	require.Equal(t, gatewayGauges{extra, slots, slots, 1}, g)
	// Still so a moment later: the queued requests wait for a slot.
	time.Sleep(50 * time.Millisecond)
	require.Equal(t, gatewayGauges{extra, slots, slots, 1}, readGauges(t, f))

	// Cancelling every stream empties the pool and the queue.
	cancel()
	wg.Wait()
	waitGauges(t, f, "after cancel", func(g gatewayGauges) bool { return g == gatewayGauges{0, 0, slots, 0} })
}

func TestUsageRatio(t *testing.T) {
	for _, c := range []struct {
		running, slots int
		want           float64
	}{{0, 8, 0}, {2, 8, 0.25}, {8, 8, 1}, {9, 8, 1}, {1, 0, 0}, {-1, 4, 0}} {
		require.Equal(t, c.want, usageRatio(c.running, c.slots), "%d/%d", c.running, c.slots)
	}
}

// TestReadinessAndDrain: /health is ready once loaded and not ready after
// Drain, while /livez stays 200 and requests are still served; while loading,
// /health is 503 and /livez 200.
func TestReadinessAndDrain(t *testing.T) {
	status := func(h http.Handler, path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	loading := Loading()
	require.Equal(t, http.StatusServiceUnavailable, status(loading, "/health"))
	require.Equal(t, http.StatusOK, status(loading, "/livez"))
	require.Equal(t, http.StatusServiceUnavailable, status(loading, "/v1/models"))

	var logs strings.Builder
	f := newFixture(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	h := f.srv.Handler()
	require.False(t, f.srv.Draining())
	require.Equal(t, http.StatusOK, status(h, "/health"))
	require.Equal(t, http.StatusOK, status(h, "/livez"))
	// Probes are counted under their own route and not logged.
	require.Contains(t, scrapeText(t, f), `rwkvgo_http_requests_total{code="200",route="/livez"}`)
	require.Empty(t, logs.String())
	f.srv.Drain()
	require.True(t, f.srv.Draining())
	require.Equal(t, http.StatusServiceUnavailable, status(h, "/health"))
	require.Equal(t, http.StatusOK, status(h, "/livez"))
	// A request routed here before the endpoint was removed is still served.
	res, err := f.client.Completions.New(context.Background(), completionParams("hello", 4))
	require.NoError(t, err)
	require.Len(t, res.Choices, 1)
}
