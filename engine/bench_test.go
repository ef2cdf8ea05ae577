package engine

import (
	"sync"
	"testing"

	"github.com/rwkvgo/rwkvgo/weights"
)

var (
	bench01Once  sync.Once
	bench01Model *Model
	bench01Err   error
)

// model01B returns a synthetic RWKV-7 model of the 0.1B shape (12 layers,
// width 768, vocab 65536), F32, shared by the benchmarks.
func model01B(b *testing.B) *Model {
	bench01Once.Do(func() {
		f, err := weights.Synthesize(weights.SynthConfig{Version: weights.V7, Layers: 12, Embd: 768, Vocab: 65536, Seed: 1})
		if err != nil {
			bench01Err = err
			return
		}
		wm, err := weights.Canonicalize(f, weights.Options{})
		if err != nil {
			bench01Err = err
			return
		}
		bench01Model, bench01Err = New(wm, Options{})
	})
	if bench01Err != nil {
		b.Fatal(bench01Err)
	}
	return bench01Model
}

// BenchmarkDecode01B measures one-token decode steps (tokens/s).
func BenchmarkDecode01B(b *testing.B) {
	m := model01B(b)
	s, err := m.NewSession()
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Feed([]int{1, 2, 3}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Feed([]int{i % 65536}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
}

// BenchmarkPrefill128_01B measures a 128-token prefill (tokens/s).
func BenchmarkPrefill128_01B(b *testing.B) {
	m := model01B(b)
	tokens := make([]int, 128)
	for i := range tokens {
		tokens[i] = (i * 7919) % 65536
	}
	s, err := m.NewSession()
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Reset(); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Feed(tokens); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(tokens))/b.Elapsed().Seconds(), "tok/s")
}
