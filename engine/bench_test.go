package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rwkvgo/rwkvgo/weights"
)

var (
	bench01Mu     sync.Mutex
	bench01Models = map[weights.DType]*Model{}
	bench01Files  = map[weights.DType]*Model{}
)

// file01B returns the 0.1B model written to a file (safetensors for F32 and
// F16, rwkv.cpp's format for the quantized types) and loaded with Load, so
// that the weights are used in place from the mapping (quantized ones in
// their blocks).
func file01B(b *testing.B, dt weights.DType) *Model {
	bench01Mu.Lock()
	defer bench01Mu.Unlock()
	if m := bench01Files[dt]; m != nil {
		return m
	}
	f, err := weights.Synthesize(weights.SynthConfig{Version: weights.V7, Layers: 12, Embd: 768, Vocab: 65536, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "m.st")
	var buf bytes.Buffer
	if dt.Quantized() {
		path = strings.TrimSuffix(path, ".st") + ".bin"
		conv, err := weights.ToRWKVCpp(f)
		if err != nil {
			b.Fatal(err)
		}
		ts := encodeAll(b, conv.Tensors, func(x *weights.Tensor) weights.DType { return weights.RWKVCppDType(x.Name, x.Shape, dt) })
		h := weights.GGMLHeader{Version: weights.GGMLVersion101, NVocab: 65536, NEmbed: 768, NLayer: 12, DataType: dt}
		err = weights.WriteGGML(&buf, h, ts)
	} else {
		err = weights.WriteSafetensors(&buf, encodeAll(b, f.Tensors, func(x *weights.Tensor) weights.DType {
			if len(x.Shape) == 2 {
				return dt
			}
			return weights.F32
		}), nil)
	}
	if err == nil {
		err = os.WriteFile(path, buf.Bytes(), 0o644)
	}
	if err != nil {
		b.Fatal(err)
	}
	m, err := Load(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	bench01Files[dt] = m
	return m
}

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

// BenchmarkDecode01BFile_F16 decodes with the F16 matrices used in place
// from the mapped file (Load).
func BenchmarkDecode01BFile_F16(b *testing.B) { benchDecodeModel(b, file01B(b, weights.F16)) }

// BenchmarkDecode01BFile_Q8_0 decodes a Q8_0 rwkv.cpp file (kept quantized).
func BenchmarkDecode01BFile_Q8_0(b *testing.B) { benchDecodeModel(b, file01B(b, weights.Q8_0)) }

// BenchmarkDecode01BFile_Q5_1 decodes a Q5_1 rwkv.cpp file.
func BenchmarkDecode01BFile_Q5_1(b *testing.B) { benchDecodeModel(b, file01B(b, weights.Q5_1)) }

// BenchmarkDecode01BFile_Q4_0 decodes a Q4_0 rwkv.cpp file.
func BenchmarkDecode01BFile_Q4_0(b *testing.B) { benchDecodeModel(b, file01B(b, weights.Q4_0)) }

// BenchmarkPrefill128_01BFile_Q8_0 is a 128-token prefill of the Q8_0 file.
func BenchmarkPrefill128_01BFile_Q8_0(b *testing.B) { benchPrefillModel(b, file01B(b, weights.Q8_0)) }

// BenchmarkPrefill128_01BFile_Q5_1 is a 128-token prefill of the Q5_1 file.
func BenchmarkPrefill128_01BFile_Q5_1(b *testing.B) { benchPrefillModel(b, file01B(b, weights.Q5_1)) }

// BenchmarkPrefill128_01BFile_F16 is a 128-token prefill of the F16 file.
func BenchmarkPrefill128_01BFile_F16(b *testing.B) { benchPrefillModel(b, file01B(b, weights.F16)) }

func benchDecode(b *testing.B, dt weights.DType) { benchDecodeModel(b, model01B(b, dt)) }

func benchDecodeModel(b *testing.B, m *Model) {
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

func benchPrefill(b *testing.B, dt weights.DType) { benchPrefillModel(b, model01B(b, dt)) }

func benchPrefillModel(b *testing.B, m *Model) {
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
