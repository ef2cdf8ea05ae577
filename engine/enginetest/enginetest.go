// Package enginetest is the end-to-end suite every backend runs: each real
// model file of the shared test data, loaded through package engine on the
// backend under test, must reproduce the shared FP64 reference outputs and
// the upstream expected logits within the tolerances stated below. The
// pure-Go backend runs it from package engine's tests, the CUDA backend from
// package bindings' tests.
package enginetest

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
)

// Config selects the backend under test.
type Config struct {
	// Backend runs the models; nil means each model's own pure-Go backend.
	// It is not closed by the suite.
	Backend backend.Backend
	// TokenByToken reports whether the reference prompt named prompt is also
	// fed one token at a time and compared with sequence mode (1e-5); nil
	// means every prompt. Slow backends (the CPU emulator) check fewer.
	TokenByToken func(prompt string) bool
	// Subset allows a reference index that lists only some models (the GPU
	// kit carries a subset of the shared test data); without it fewer than
	// 100 entries fail the suite.
	Subset bool
}

func (c Config) options(v5eps float32) engine.Options {
	return engine.Options{Backend: c.Backend, V5GroupNormEps: v5eps}
}

// ReadF32 reads a file of little-endian float32 values.
func ReadF32(tb testing.TB, path string) []float32 {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// MaxAbsDiff is max |a-b| (infinite for different lengths or any NaN).
func MaxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		if a[i] != a[i] || b[i] != b[i] {
			return math.Inf(1)
		}
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// RelDiff is max |a-b| / max(|b|, floor).
func RelDiff(a, b []float32, floor float64) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i]))/math.Max(math.Abs(float64(b[i])), floor))
	}
	return d
}

// refEntry is one line of reference/index.json.
type refEntry struct {
	Model      string `json:"model"`
	PromptName string `json:"prompt_name"`
	Tokens     []int  `json:"tokens"`
	LogitsFile string `json:"logits_file"`
	StateFile  string `json:"state_file"`
	StateLen   int    `json:"state_len"`
}

// modelPath finds a reference model file in the rwkv.cpp test folders.
func modelPath(t testing.TB, name string) string {
	for _, dir := range []string{"rwkv.cpp/tests/", "rwkv.cpp/tests-history/", "rwkv.cpp/quantized-by-rwkv.cpp/"} {
		p := filepath.Join(testdata.Root(), dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("model %s listed in reference/index.json not found", name)
	return ""
}

// ReferenceOutputs runs every model file of the shared test data on every
// reference prompt and compares logits and final state with the FP64
// reference: FP32 files within 1e-4 absolute on logits and 1e-4 relative on
// the state (a float32 engine's rounding over 70 tokens is ~2e-5), FP16 and
// quantized files within 1e-3 (their weights are exact, but float32
// accumulation over 16-bit-rounded weights amplifies rounding differently).
// Prompts selected by c.TokenByToken are also fed one token at a time and
// must match sequence mode within 1e-5.
func ReferenceOutputs(t *testing.T, c Config) {
	idx := testdata.Path(t, "reference/index.json")
	raw, err := os.ReadFile(idx)
	if err != nil {
		t.Fatal(err)
	}
	var entries []refEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 || (len(entries) < 100 && !c.Subset) {
		t.Fatalf("only %d reference entries", len(entries))
	}
	models := map[string]*engine.Model{}
	defer func() {
		for _, m := range models {
			m.Close()
		}
	}()
	for _, e := range entries {
		t.Run(strings.TrimSuffix(e.Model, ".bin")+"/"+e.PromptName, func(t *testing.T) {
			m := models[e.Model]
			if m == nil {
				var err error
				if m, err = engine.Load(modelPath(t, e.Model), c.options(0)); err != nil {
					t.Fatal(err)
				}
				models[e.Model] = m
			}
			tol := 1e-3
			if strings.Contains(e.Model, "-FP32.bin") {
				tol = 1e-4
			}
			s, err := m.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got, err := s.FeedAll(e.Tokens)
			if err != nil {
				t.Fatal(err)
			}
			dl := MaxAbsDiff(got, ReadF32(t, filepath.Join(filepath.Dir(idx), e.LogitsFile)))
			if dl > tol {
				t.Errorf("logits: max abs diff %g > %g", dl, tol)
			}
			st, err := s.State()
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Data) != e.StateLen {
				t.Fatalf("state has %d values, reference %d", len(st.Data), e.StateLen)
			}
			ds := RelDiff(st.Data, ReadF32(t, filepath.Join(filepath.Dir(idx), e.StateFile)), 1)
			if ds > tol {
				t.Errorf("state: max relative diff %g > %g", ds, tol)
			}
			t.Logf("logits max abs diff %.3g, state max relative diff %.3g (limit %g)", dl, ds, tol)
			if c.TokenByToken != nil && !c.TokenByToken(e.PromptName) {
				return
			}
			got = append([]float32(nil), got...)
			one, err := m.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer one.Close()
			V := m.Config().Vocab
			for i, tok := range e.Tokens {
				lg, err := one.Feed([]int{tok})
				if err != nil {
					t.Fatal(err)
				}
				if d := MaxAbsDiff(lg, got[i*V:(i+1)*V]); d > 1e-5 {
					t.Fatalf("token %d: token-by-token logits differ from sequence mode by %g (limit 1e-5)", i, d)
				}
			}
		})
	}
}

// expectedCase is one model file with upstream expected logits.
type expectedCase struct {
	model, expected string
	tol             float64
	v5eps           float32
}

// expectedCases lists every model file that has upstream expected logits
// (after tokens 34, 105, 110) and its tolerance: 1e-4 for rwkv.cpp FP32
// files, 1e-5 for the fp32/bf16 .pth and safetensors conversions (their
// README's bound), 5e-3 for the F16 web-rwkv .st files (fp16 weights).
func expectedCases() []expectedCase {
	var out []expectedCase
	for _, m := range []string{"4v0-660K", "5v1-730K", "5v2-730K", "7v0-834K"} {
		out = append(out, expectedCase{"rwkv.cpp/tests/tiny-rwkv-" + m + "-FP32.bin", "rwkv.cpp/tests/expected-logits-" + m + ".bin", 1e-4, 0})
	}
	out = append(out, expectedCase{"rwkv.cpp/tests-history/tiny-rwkv-6v0-1m-FP32.bin", "rwkv.cpp/tests-history/expected-logits-6v0-1m.bin", 1e-4, 0})
	// Every conversion in pth/ (see its README.txt): v4, v5.1 and v5.2 were
	// trained in fp32, v6 and v7 in bf16, and web-rwkv cannot load v5.1.
	variants := []struct {
		model    string
		suffixes []string
	}{
		{"4v0-660K", []string{"-FP32.pth", "-FP32.safetensors", "-web-rwkv-F16.st"}},
		{"5v1-730K", []string{"-FP32.pth", "-FP32.safetensors"}},
		{"5v2-730K", []string{"-FP32.pth", "-FP32.safetensors", "-web-rwkv-F16.st"}},
		{"6v0-1m", []string{"-FP32.pth", "-FP32.safetensors", "-BF16.pth", "-BF16.safetensors", "-web-rwkv-F16.st"}},
		{"7v0-834K", []string{"-FP32.pth", "-FP32.safetensors", "-BF16.pth", "-BF16.safetensors", "-web-rwkv-F16.st"}},
	}
	for _, v := range variants {
		e := "rwkv.cpp/tests/expected-logits-" + v.model + ".bin"
		if v.model == "6v0-1m" {
			e = "rwkv.cpp/tests-history/expected-logits-6v0-1m.bin"
		}
		var eps float32
		if strings.HasPrefix(v.model, "5v") {
			eps = 1e-5 // the tiny v5 fixtures were evaluated with rwkv.cpp's epsilon
		}
		for _, suffix := range v.suffixes {
			tol := 1e-5
			if strings.HasSuffix(suffix, ".st") {
				tol = 5e-3
			}
			out = append(out, expectedCase{"pth/tiny-rwkv-" + v.model + suffix, e, tol, eps})
		}
	}
	return out
}

// UpstreamExpectedLogits checks every .bin, .pth, .safetensors and .st file
// that has upstream expected logits, in sequence and token-by-token mode.
func UpstreamExpectedLogits(t *testing.T, c Config) {
	for _, tc := range expectedCases() {
		t.Run(filepath.Base(tc.model), func(t *testing.T) {
			want := ReadF32(t, testdata.Path(t, tc.expected))
			m, err := engine.Load(testdata.Path(t, tc.model), c.options(tc.v5eps))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			for _, mode := range []string{"sequence", "token-by-token"} {
				s, err := m.NewSession()
				if err != nil {
					t.Fatal(err)
				}
				var got []float32
				if mode == "sequence" {
					got, err = s.Feed([]int{34, 105, 110})
				} else {
					for _, tok := range []int{34, 105, 110} {
						got, err = s.Feed([]int{tok})
					}
				}
				if err != nil {
					t.Fatal(err)
				}
				if d := MaxAbsDiff(got, want); d > tc.tol {
					t.Errorf("%s: max abs diff %g > %g", mode, d, tc.tol)
				} else {
					t.Logf("%s: max abs diff %.3g", mode, d)
				}
				s.Close()
			}
		})
	}
}
