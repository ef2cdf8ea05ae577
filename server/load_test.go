package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/sampler"
	"github.com/rwkvgo/rwkvgo/scheduler"
	"github.com/rwkvgo/rwkvgo/statecache"
)

// loadRequest is one stream of the load test.
type loadRequest struct {
	prompt      string
	temperature float64
	seed        int64
	maxTokens   int
	cancelAfter int // cancel after this many chunks (0: never)
}

func loadRequests(n int, cancelEvery int) []loadRequest {
	reqs := make([]loadRequest, n)
	for i := range reqs {
		r := loadRequest{
			prompt:      fmt.Sprintf("Stream %d: %s", i, strings.Repeat("the rain in spain ", i%7)),
			temperature: []float64{0, 0.7, 1}[i%3],
			seed:        int64(1000 + i),
			maxTokens:   24 + i%4*8,
		}
		if raceEnabled {
			r.maxTokens /= 4
		}
		if cancelEvery > 0 && i%cancelEvery == cancelEvery-1 {
			r.cancelAfter = 5
			r.maxTokens = 2000
		}
		reqs[i] = r
	}
	return reqs
}

type streamOutcome struct {
	text   string
	finish string
	err    error
	chunks int
	ttft   time.Duration
	gaps   []time.Duration
}

// runStream runs one streaming completion through the official client.
func runStream(f *fixture, r loadRequest) streamOutcome {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := completionParams(r.prompt, int64(r.maxTokens))
	p.Temperature, p.Seed = openai.Float(r.temperature), openai.Int(r.seed)
	start := time.Now()
	last := start
	stream := f.client.Completions.NewStreaming(ctx, p)
	var out streamOutcome
	var text strings.Builder
	for stream.Next() {
		now := time.Now()
		for _, c := range stream.Current().Choices {
			if c.Text != "" {
				if out.ttft == 0 {
					out.ttft = now.Sub(start)
				} else {
					out.gaps = append(out.gaps, now.Sub(last))
				}
				last = now
			}
			text.WriteString(c.Text)
			if c.FinishReason != "" {
				out.finish = string(c.FinishReason)
			}
		}
		out.chunks++
		if r.cancelAfter > 0 && out.chunks == r.cancelAfter {
			cancel()
		}
	}
	out.err = stream.Err()
	stream.Close()
	out.text = text.String()
	return out
}

func runLoad(f *fixture, reqs []loadRequest) []streamOutcome {
	outs := make([]streamOutcome, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i] = runStream(f, r)
		}()
	}
	wg.Wait()
	return outs
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestLoad64Streams runs 64 concurrent streams, 10% of them cancelled
// midway, twice: every completed stream equals its sequential result, no
// stream is lost, and neither goroutines nor the heap grow between rounds.
func TestLoad64Streams(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	f := newFixture(t, Config{Scheduler: scheduler.Config{MaxBatch: 32, MaxQueue: 64}})
	reqs := loadRequests(64, 10)
	want := make([]string, len(reqs))
	for i, r := range reqs {
		if r.cancelAfter == 0 {
			c := sampler.DefaultConfig()
			c.Temperature, c.Seed = r.temperature, uint64(r.seed)
			want[i] = reference(t, r.prompt, r.maxTokens, c, 0, nil)
		}
	}
	var goroutines int
	var heap uint64
	for round := range 2 {
		outs := runLoad(f, reqs)
		cancelled := 0
		for i, o := range outs {
			if reqs[i].cancelAfter > 0 {
				require.Error(t, o.err, "stream %d was cancelled", i)
				require.GreaterOrEqual(t, o.chunks, reqs[i].cancelAfter, "stream %d", i)
				require.Less(t, o.chunks, reqs[i].maxTokens/2, "stream %d stops soon after its cancellation", i)
				cancelled++
				continue
			}
			require.NoError(t, o.err, "stream %d", i)
			require.Equal(t, "length", o.finish, "stream %d ended normally", i)
			require.Equal(t, want[i], o.text, "stream %d equals its sequential result", i)
		}
		require.Equal(t, 6, cancelled)
		require.Eventually(t, func() bool {
			s := f.srv.Scheduler().Stats()
			return s.Running == 0 && s.Queued == 0
		}, 10*time.Second, time.Millisecond, "every sequence is retired")
		f.ts.Client().CloseIdleConnections()
		if round == 0 {
			time.Sleep(10 * time.Millisecond)
			goroutines, heap = runtime.NumGoroutine(), heapInUse()
			continue
		}
		ok := false
		for deadline := time.Now().Add(10 * time.Second); !ok && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			ok = runtime.NumGoroutine() <= goroutines
		}
		if !ok {
			pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
		}
		require.True(t, ok,
			"goroutines: %d after the first round, %d after the second", goroutines, runtime.NumGoroutine())
		after := heapInUse()
		require.Less(t, after, heap+8<<20, "heap in use grew from %d to %d bytes", heap, after)
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(p*float64(len(d))))]
}

// BenchmarkLoad64Streams measures 64 concurrent streams (none cancelled)
// through HTTP and the official client: aggregate generated tokens per
// second, time to first token and inter-token latency (p50, p99).
func BenchmarkLoad64Streams(b *testing.B) {
	f := newFixture(b, Config{Scheduler: scheduler.Config{MaxBatch: 64, MaxQueue: 64}})
	reqs := loadRequests(64, 0)
	var ttft, gaps []time.Duration
	tokens := 0
	var elapsed time.Duration
	for b.Loop() {
		t0 := time.Now()
		outs := runLoad(f, reqs)
		elapsed += time.Since(t0)
		for i, o := range outs {
			if o.err != nil {
				b.Fatal(o.err)
			}
			tokens += reqs[i].maxTokens
			ttft = append(ttft, o.ttft)
			gaps = append(gaps, o.gaps...)
		}
	}
	b.ReportMetric(float64(tokens)/elapsed.Seconds(), "tok/s")
	b.ReportMetric(float64(percentile(ttft, 0.5).Microseconds())/1000, "ttft-p50-ms")
	b.ReportMetric(float64(percentile(ttft, 0.99).Microseconds())/1000, "ttft-p99-ms")
	b.ReportMetric(float64(percentile(gaps, 0.5).Microseconds())/1000, "itl-p50-ms")
	b.ReportMetric(float64(percentile(gaps, 0.99).Microseconds())/1000, "itl-p99-ms")
}

// sharedPrefix returns n bytes (tokens of the byte-level model) of text.
func sharedPrefix(rng *rand.Rand, n int) string {
	words := []string{"state", "token", "prefix", "cache", "model", "river", "stone", "light", "quiet", "north"}
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(words[rng.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.String()[:n]
}

// BenchmarkPrefixCacheTTFT measures the time to first token of a request
// with a fresh 2,000-token prefix and of a second request sharing it
// (resumed from the prefix cache); ttft-ratio is second / first.
func BenchmarkPrefixCacheTTFT(b *testing.B) {
	cache, err := statecache.New(statecache.Config{MaxBytes: 256 << 20})
	require.NoError(b, err)
	f := newFixture(b, Config{Scheduler: scheduler.Config{Cache: cache}})
	rng := rand.New(rand.NewPCG(1, 2))
	var first, second time.Duration
	n := 0
	for b.Loop() {
		prefix := sharedPrefix(rng, 2000)
		a := runStream(f, loadRequest{prompt: prefix + "First question?", maxTokens: 4})
		c := runStream(f, loadRequest{prompt: prefix + "Second question!", maxTokens: 4})
		if a.err != nil || c.err != nil {
			b.Fatal(a.err, c.err)
		}
		first += a.ttft
		second += c.ttft
		n++
	}
	b.ReportMetric(float64(first.Microseconds())/1000/float64(n), "first-ttft-ms")
	b.ReportMetric(float64(second.Microseconds())/1000/float64(n), "cached-ttft-ms")
	b.ReportMetric(float64(second)/float64(first), "ttft-ratio")
}

// TestPrefixCacheSharedPrefix checks that requests sharing a 2,000-token
// prefix resume from the cache and produce exactly the uncached output.
func TestPrefixCacheSharedPrefix(t *testing.T) {
	cache, err := statecache.New(statecache.Config{MaxBytes: 256 << 20})
	require.NoError(t, err)
	f := newFixture(t, Config{Scheduler: scheduler.Config{Cache: cache}})
	n := 2000
	if raceEnabled {
		n = 600
	}
	prefix := sharedPrefix(rand.New(rand.NewPCG(3, 4)), n)
	cfg := sampler.DefaultConfig()
	cfg.Temperature, cfg.Seed = 0.8, 99
	for i, q := range []string{"First question?", "Second question!"} {
		p := completionParams(prefix+q, 24)
		p.Temperature, p.Seed = openai.Float(0.8), openai.Int(99)
		c, err := f.client.Completions.New(context.Background(), p)
		require.NoError(t, err)
		require.Equal(t, reference(t, prefix+q, 24, cfg, 0, nil), c.Choices[0].Text, "request %d", i)
		cached := c.Usage.PromptTokensDetails.CachedTokens
		if i == 0 {
			require.Zero(t, cached)
		} else {
			require.Equal(t, int64(n/256*256), cached, "the second request resumes at the last chunk boundary of the prefix")
		}
	}
	s := cache.Stats()
	require.Equal(t, uint64(1), s.Hits)
	require.Equal(t, uint64(1), s.Misses)
}
