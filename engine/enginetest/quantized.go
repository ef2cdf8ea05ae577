package enginetest

import (
	"path/filepath"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
)

// quantizedModels are the shared models QuantizedInt8 runs: one per
// version's graph, F32, F16 and BF16 sources.
var quantizedModels = []string{
	"rwkv.cpp/tests/tiny-rwkv-4v0-660K-FP16.bin",
	"rwkv.cpp/tests/tiny-rwkv-5v2-730K-FP32.bin",
	"pth/tiny-rwkv-6v0-1m-BF16.pth",
	"rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP32.bin",
}

// QuantizedInt8 loads shared models with engine.QuantizeInt8 on the backend
// under test and on the pure-Go backend: both multiply the same I8 weights,
// so their logits after `"in` (sequence mode, then one more token in decode
// mode) agree within the float32 engine tolerance of 1e-4 (only the order
// of float32 accumulation differs).
func QuantizedInt8(t *testing.T, cfg Config) {
	t.Helper()
	if cfg.Backend != nil && !backend.Supports(cfg.Backend, backend.I8) {
		t.Skipf("%s does not support I8 weights", cfg.Backend.Name())
	}
	for _, rel := range quantizedModels {
		path := testdata.Path(t, rel)
		logits := func(opts engine.Options) [][]float32 {
			t.Helper()
			opts.Quantize = engine.QuantizeInt8
			m, err := engine.Load(path, opts)
			if err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			defer m.Close()
			s, err := m.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var out [][]float32
			for _, in := range [][]int{{34, 105, 110}, {32}} {
				l, err := s.Feed(in)
				if err != nil {
					t.Fatalf("%s: %v", rel, err)
				}
				out = append(out, append([]float32(nil), l...))
			}
			return out
		}
		want := logits(engine.Options{Threads: 1})
		got := logits(cfg.options(0))
		for i := range want {
			if d := MaxAbsDiff(got[i], want[i]); d > 1e-4 {
				t.Errorf("%s int8, feed %d: max |logit - cpu| = %.3g > 1e-4", rel, i, d)
			}
		}
	}
}

// BlockQuantizedModels returns the paths of the shared rwkv.cpp models whose
// matrices are block-quantized (rwkv.cpp's own Q5_0 and Q5_1 test files and
// the Q4_0, Q4_1 and Q8_0 files it quantized); it fails the test when there
// are none.
func BlockQuantizedModels(t testing.TB) []string {
	t.Helper()
	var paths []string
	for _, pat := range []string{"rwkv.cpp/quantized-by-rwkv.cpp/*.bin", "rwkv.cpp/tests/*-Q5_*.bin", "rwkv.cpp/tests-history/*-Q5_*.bin"} {
		paths = append(paths, testdata.Glob(t, pat)...)
	}
	if len(paths) == 0 {
		t.Fatal("no shared block-quantized models")
	}
	return paths
}

// BlockQuantized loads every shared rwkv.cpp block-quantized model (Q4_0,
// Q4_1, Q5_0, Q5_1 and Q8_0 matrices) on the backend under test and on the
// pure-Go backend and compares their logits after a 12-token prompt
// (sequence mode: batched products), one more token (decode mode: the
// matrix-vector and grouped products) and 3 more (a small batch): within
// the float32 engine tolerance of 1e-4, since both multiply the same exactly
// dequantized weights and only the order of float32 accumulation differs.
// A backend that keeps the blocks (rather than widening them) is checked on
// its block kernels.
func BlockQuantized(t *testing.T, cfg Config) {
	t.Helper()
	paths := BlockQuantizedModels(t)
	feeds := [][]int{{34, 105, 110, 32, 116, 104, 101, 32, 98, 101, 103, 105}, {32}, {105, 110, 32}}
	for _, path := range paths {
		rel := filepath.Base(path)
		t.Run(rel, func(t *testing.T) {
			logits := func(opts engine.Options) [][]float32 {
				t.Helper()
				m, err := engine.Load(path, opts)
				if err != nil {
					t.Fatalf("%s: %v", rel, err)
				}
				defer m.Close()
				s, err := m.NewSession()
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				var out [][]float32
				for _, in := range feeds {
					l, err := s.Feed(in)
					if err != nil {
						t.Fatalf("%s: %v", rel, err)
					}
					out = append(out, append([]float32(nil), l...))
				}
				return out
			}
			want := logits(engine.Options{Threads: 1})
			got := logits(cfg.options(0))
			for i := range want {
				d := MaxAbsDiff(got[i], want[i])
				if d > 1e-4 {
					t.Errorf("%s, feed %d: max |logit - cpu| = %.3g > 1e-4", rel, i, d)
				}
				t.Logf("%s, feed %d: max |logit - cpu| = %.3g", rel, i, d)
			}
		})
	}
}
