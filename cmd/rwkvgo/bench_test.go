package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/bench"
	"github.com/rwkvgo/rwkvgo/engine/backend"
)

func TestBenchE2EJSON(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	kprof := filepath.Join(t.TempDir(), "ops.pb.gz")
	rc, out, errs := runCLI("bench", "--backend", "ref", "--synthetic", "v7-tiny", "--threads", "1", "--prompt-tokens", "8",
		"--decode-tokens", "4", "--batch", "2,1", "--json", "--out", dir, "--kernel-profile", kprof, "--telemetry-interval", "5ms",
		"--prefill-warmup", "1", "--prefill-repeats", "3")
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, errs)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	for _, f := range []string{"prefill_tok_s", "decode_tok_s", "decode_ms_p50", "decode_ms_p90", "peak_rss_bytes"} {
		v, ok := got[f].(float64)
		if !ok || v <= 0 {
			t.Errorf("%s = %v", f, got[f])
		}
	}
	if got["batch"].(float64) != 2 {
		t.Errorf("headline batch %v", got["batch"])
	}
	for _, r := range got["runs"].([]any) {
		if n := r.(map[string]any)["prefill_ms"].(map[string]any)["n"]; n != 3.0 {
			t.Errorf("prefill_ms.n = %v, want 3 timed prefills", n)
		}
	}
	if !strings.Contains(fmt.Sprint(got["notes"]), "the median of 3 timed prefills after 1 untimed") {
		t.Errorf("notes %v", got["notes"])
	}
	for _, f := range []string{"report.json", "report.md", "throughput_batch.png", "decode_steps.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if st, err := os.Stat(kprof); err != nil || st.Size() == 0 {
		t.Errorf("kernel profile: %v", err)
	}
	if !strings.Contains(errs, "decode batch=1/prompt=8 done") {
		t.Errorf("no progress on stderr:\n%s", errs)
	}
}

func TestBenchE2EMarkdown(t *testing.T) {
	cpu := filepath.Join(t.TempDir(), "cpu.prof")
	rc, out, errs := runCLI("bench", "--synthetic", "v5-tiny", "--prompt-tokens", "4", "--decode-tokens", "2", "--cpuprofile", cpu)
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, errs)
	}
	if !strings.Contains(out, "# rwkvgo benchmark: End-to-end throughput") {
		t.Errorf("stdout:\n%s", out)
	}
	if st, err := os.Stat(cpu); err != nil || st.Size() == 0 {
		t.Errorf("CPU profile: %v", err)
	}
}

func TestBenchScalingCLI(t *testing.T) {
	dir := t.TempDir()
	rc, out, errs := runCLI("bench", "scaling", "--backend", "ref", "--layers", "1", "--width", "32", "--vocab", "64", "--head-size", "16",
		"--contexts", "16,64", "--decode-tokens", "3", "--out", dir, "--json")
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, errs)
	}
	f, err := os.Open(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := bench.ReadReport(f)
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != bench.KindScaling || r.Scaling == nil || len(r.Scaling.Points) != 4 || len(r.Scaling.Ratios) != 2 {
		t.Fatalf("report %+v", r)
	}
	if !strings.Contains(out, `"kind": "scaling"`) {
		t.Errorf("stdout: %s", out)
	}
	for _, p := range []string{"report.md", "scaling_latency.png", "scaling_memory.png"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Error(err)
		}
	}
}

func TestBenchKernelsCLI(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "k.pb.gz")
	rc, out, errs := runCLI("bench", "kernels", "--shapes", "v7-tiny", "--rows", "1,2", "--repeats", "2", "--warmup", "1",
		"--context", "32", "--dtype", "F16", "--ops", "MatMul,WKV7", "--out", dir, "--kernel-profile", prof)
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, errs)
	}
	if !strings.Contains(out, "| v7-tiny | 2 | WKV7 |") || strings.Contains(out, "LayerNorm") {
		t.Errorf("stdout:\n%s", out)
	}
	for _, p := range []string{"report.json", "report.md", "kernels_bandwidth.png", "k.pb.gz"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Error(err)
		}
	}
}

func TestBenchCUDANotBuilt(t *testing.T) {
	if be, err := backend.Open("cuda", 1); !errors.Is(err, backend.ErrNotBuilt) {
		if err == nil {
			be.Close()
		}
		t.Skip("this binary has the CUDA backend")
	}
	for _, args := range [][]string{
		{"bench", "--backend", "cuda", "--synthetic", "v7-tiny"},
		{"bench", "scaling", "--backend", "cuda", "--out", t.TempDir()},
		{"bench", "kernels", "--backend", "cuda", "--shapes", "v7-tiny"},
	} {
		rc, _, errs := runCLI(args...)
		if rc != 1 || !strings.Contains(errs, "cuda backend not built") {
			t.Errorf("%v: rc %d, stderr %q", args, rc, errs)
		}
	}
}

func TestBenchArgumentErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.st")
	cases := []struct {
		args []string
		rc   int
	}{
		{[]string{"bench"}, 2},
		{[]string{"bench", "--synthetic", "v7-tiny", "--model", "x.st"}, 2},
		{[]string{"bench", "--synthetic", "v9-huge"}, 2},
		{[]string{"bench", "--synthetic", "v7-tiny", "--batch", "0"}, 2},
		{[]string{"bench", "--synthetic", "v7-tiny", "--batch", "1,x"}, 2},
		{[]string{"bench", "--synthetic", "v7-tiny", "--prompt-tokens", ""}, 2},
		{[]string{"bench", "--synthetic", "v7-tiny", "--decode-tokens", "0"}, 2},
		{[]string{"bench", "--synthetic", "v7-tiny", "--prefill-repeats", "0"}, 2},
		{[]string{"bench", "--synthetic", "v7-tiny", "--prefill-warmup", "-1"}, 2},
		{[]string{"bench", "--synthetic", "v7-tiny", "--threads", "-1"}, 2},
		{[]string{"bench", "--synthetic", "v7-tiny", "--backend", "tpu"}, 2},
		{[]string{"bench", "--synthetic", "v7-tiny", "--telemetry-interval", "0s"}, 2},
		{[]string{"bench", "--synthetic", "v7-tiny", "extra"}, 2},
		{[]string{"bench", "--model", missing}, 1},
		{[]string{"bench", "scaling", "--contexts", "0"}, 2},
		{[]string{"bench", "scaling", "--width", "100", "--head-size", "64"}, 2},
		{[]string{"bench", "scaling", "--rwkv-fill", "magic"}, 2},
		{[]string{"bench", "scaling", "--out", ""}, 2},
		{[]string{"bench", "scaling", "--decode-tokens", "0"}, 2},
		{[]string{"bench", "kernels", "--shapes", "nope"}, 2},
		{[]string{"bench", "kernels", "--dtype", "Q4_0"}, 2},
		{[]string{"bench", "kernels", "--rows", "-1"}, 2},
		{[]string{"bench", "kernels", "--repeats", "0"}, 2},
		{[]string{"bench", "-h"}, 0},
		{[]string{"bench", "scaling", "-h"}, 0},
	}
	for _, c := range cases {
		if rc, _, errs := runCLI(c.args...); rc != c.rc {
			t.Errorf("%v: rc %d, want %d (%s)", c.args, rc, c.rc, errs)
		}
	}
}
