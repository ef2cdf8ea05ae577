package engine

import (
	"sync"
	"testing"

	"github.com/rwkvgo/rwkvgo/weights"
)

var (
	bench01Mu     sync.Mutex
	bench01Models = map[weights.DType]*Model{}
)

// model01B returns a synthetic RWKV-7 model of the 0.1B shape (12 layers,
// width 768, vocab 65536) with matrices stored as dt, shared by the benchmarks.
func model01B(b *testing.B, dt weights.DType) *Model {
	bench01Mu.Lock()
	defer bench01Mu.Unlock()
	if m := bench01Models[dt]; m != nil {
		return m
	}
	f, err := weights.Synthesize(weights.SynthConfig{Version: weights.V7, Layers: 12, Embd: 768, Vocab: 65536, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	if dt != weights.F32 {
		for _, t := range f.Tensors {
			if len(t.Shape) == 2 {
				v, _ := t.Float32()
				if t.Data, err = weights.Encode(dt, v); err != nil {
					b.Fatal(err)
				}
				t.DType = dt
			}
		}
	}
	wm, err := weights.Canonicalize(f, weights.Options{})
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(wm, Options{})
	if err != nil {
		b.Fatal(err)
	}
	bench01Models[dt] = m
	return m
}

// BenchmarkDecode01B measures one-token decode steps (tokens/s), F32 weights.
func BenchmarkDecode01B(b *testing.B) { benchDecode(b, weights.F32) }

// BenchmarkDecode01B_F16 is BenchmarkDecode01B with F16 weight matrices.
func BenchmarkDecode01B_F16(b *testing.B) { benchDecode(b, weights.F16) }

func benchDecode(b *testing.B, dt weights.DType) {
	m := model01B(b, dt)
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

// BenchmarkPrefill128_01B measures a 128-token prefill (tokens/s), F32 weights.
func BenchmarkPrefill128_01B(b *testing.B) { benchPrefill(b, weights.F32) }

// BenchmarkPrefill128_01B_F16 is BenchmarkPrefill128_01B with F16 weight matrices.
func BenchmarkPrefill128_01B_F16(b *testing.B) { benchPrefill(b, weights.F16) }

func benchPrefill(b *testing.B, dt weights.DType) {
	m := model01B(b, dt)
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
