package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/internal/testdata"
)

// TestQuantizeFlag: `logits --quantize int8` writes logits near the
// unquantized ones (not equal: the weights are quantized), and a bad
// quantization name is a usage error.
func TestQuantizeFlag(t *testing.T) {
	model := testdata.Path(t, "rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP32.bin")
	dir := t.TempDir()
	plain, q := filepath.Join(dir, "p.f32"), filepath.Join(dir, "q.f32")
	for _, c := range []struct{ out, quant string }{{plain, "none"}, {q, "int8"}} {
		if code, _, errs := runCLI("logits", "--model", model, "--tokens", "34,105,110", "--out", c.out, "--quantize", c.quant); code != 0 {
			t.Fatalf("--quantize %s: exit %d: %s", c.quant, code, errs)
		}
	}
	d := maxDiff(t, readFloats(t, plain), readFloats(t, q))
	if d == 0 || d > 0.05 {
		t.Errorf("int8 logits differ from the unquantized ones by %g, want in (0, 0.05]", d)
	}
	code, _, errs := runCLI("logits", "--model", model, "--tokens", "34", "--out", q, "--quantize", "int4")
	if code != 2 || !strings.Contains(errs, "unknown quantization") {
		t.Errorf("--quantize int4: exit %d: %s", code, errs)
	}
}

// TestEvalQuantization: `eval quantization` prints the comparison as JSON.
func TestEvalQuantization(t *testing.T) {
	model := testdata.Path(t, "rwkv.cpp/tests/tiny-rwkv-4v0-660K-FP16.bin")
	code, out, errs := runCLI("eval", "quantization", "--model", model, "--steps", "8", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		Quantize  string  `json:"quantize"`
		Steps     int     `json:"steps"`
		MaxAbsErr float64 `json:"max_abs_err"`
		Agreement float64 `json:"agreement"`
		RefBytes  int64   `json:"matmul_bytes_reference"`
		QBytes    int64   `json:"matmul_bytes_quantized"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.Quantize != "int8" || r.Steps != 8 || !(r.MaxAbsErr > 0) || r.Agreement < 0.5 || r.QBytes >= r.RefBytes {
		t.Errorf("unexpected result %+v", r)
	}
}
