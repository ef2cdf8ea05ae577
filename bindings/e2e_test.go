//go:build cuda

package bindings

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
)

func readF32(t testing.TB, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

func relDiff(a, b []float32, floor float64) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i]))/math.Max(math.Abs(float64(b[i])), floor))
	}
	return d
}

// TestReferenceOutputs runs every model file of the shared test data on
// every reference prompt on the CUDA backend and compares logits and final
// state with the FP64 reference, with engine/real_test.go's tolerances (FP32
// files 1e-4, FP16 and quantized 1e-3); the shortest prompt is also fed
// token by token (the decode kernels) and must match sequence mode.
func TestReferenceOutputs(t *testing.T) {
	idx := testdata.Path(t, "reference/index.json")
	raw, err := os.ReadFile(idx)
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct {
		Model      string `json:"model"`
		PromptName string `json:"prompt_name"`
		Tokens     []int  `json:"tokens"`
		LogitsFile string `json:"logits_file"`
		StateFile  string `json:"state_file"`
		StateLen   int    `json:"state_len"`
	}
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatal(err)
	}
	be := openTest(t)
	defer be.Close()
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
				var path string
				for _, dir := range []string{"rwkv.cpp/tests/", "rwkv.cpp/tests-history/", "rwkv.cpp/quantized-by-rwkv.cpp/"} {
					if p := filepath.Join(testdata.Root(), dir, e.Model); fileExists(p) {
						path = p
					}
				}
				if path == "" {
					t.Fatalf("model %s not found", e.Model)
				}
				var err error
				if m, err = engine.Load(path, engine.Options{Backend: be}); err != nil {
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
			if d := maxAbsDiff(got, readF32(t, filepath.Join(filepath.Dir(idx), e.LogitsFile))); d > tol {
				t.Errorf("logits: max abs diff %g > %g", d, tol)
			}
			st, err := s.State()
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Data) != e.StateLen {
				t.Fatalf("state has %d values, reference %d", len(st.Data), e.StateLen)
			}
			if d := relDiff(st.Data, readF32(t, filepath.Join(filepath.Dir(idx), e.StateFile)), 1); d > tol {
				t.Errorf("state: max relative diff %g > %g", d, tol)
			}
			if e.PromptName != "quote_in" {
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
				if d := maxAbsDiff(lg, got[i*V:(i+1)*V]); d > 1e-5 {
					t.Fatalf("token %d: token-by-token logits differ from sequence mode by %g", i, d)
				}
			}
		})
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestUpstreamExpectedLogits checks the upstream expected logits (after
// tokens 34, 105, 110) of every .bin, .pth, .safetensors and .st
// conversion in the shared test data, as engine/real_test.go does.
func TestUpstreamExpectedLogits(t *testing.T) {
	type tc struct {
		model, expected string
		tol             float64
		eps             float32
	}
	var cases []tc
	for _, m := range []string{"4v0-660K", "5v1-730K", "5v2-730K", "7v0-834K"} {
		cases = append(cases, tc{"rwkv.cpp/tests/tiny-rwkv-" + m + "-FP32.bin", "rwkv.cpp/tests/expected-logits-" + m + ".bin", 1e-4, 0})
	}
	cases = append(cases, tc{"rwkv.cpp/tests-history/tiny-rwkv-6v0-1m-FP32.bin", "rwkv.cpp/tests-history/expected-logits-6v0-1m.bin", 1e-4, 0})
	variants := map[string][]string{
		"4v0-660K": {"-FP32.pth", "-FP32.safetensors", "-web-rwkv-F16.st"},
		"5v1-730K": {"-FP32.pth", "-FP32.safetensors"},
		"5v2-730K": {"-FP32.pth", "-FP32.safetensors", "-web-rwkv-F16.st"},
		"6v0-1m":   {"-FP32.pth", "-FP32.safetensors", "-BF16.pth", "-BF16.safetensors", "-web-rwkv-F16.st"},
		"7v0-834K": {"-FP32.pth", "-FP32.safetensors", "-BF16.pth", "-BF16.safetensors", "-web-rwkv-F16.st"},
	}
	for m, suffixes := range variants {
		e := "rwkv.cpp/tests/expected-logits-" + m + ".bin"
		if m == "6v0-1m" {
			e = "rwkv.cpp/tests-history/expected-logits-6v0-1m.bin"
		}
		var eps float32
		if strings.HasPrefix(m, "5v") {
			eps = 1e-5
		}
		for _, suffix := range suffixes {
			tol := 1e-5
			if strings.HasSuffix(suffix, ".st") {
				tol = 5e-3
			}
			cases = append(cases, tc{"pth/tiny-rwkv-" + m + suffix, e, tol, eps})
		}
	}
	be := openTest(t)
	defer be.Close()
	for _, c := range cases {
		t.Run(filepath.Base(c.model), func(t *testing.T) {
			want := readF32(t, testdata.Path(t, c.expected))
			m, err := engine.Load(testdata.Path(t, c.model), engine.Options{Backend: be, V5GroupNormEps: c.eps})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			s, err := m.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got, err := s.Feed([]int{34, 105, 110})
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(got, want); d > c.tol {
				t.Errorf("max abs diff %g > %g", d, c.tol)
			}
		})
	}
}
