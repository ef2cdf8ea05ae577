package main

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/internal/testdata"
)

func readFloats(t *testing.T, path string) []float32 {
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

func maxDiff(t *testing.T, a, b []float32) float64 {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("lengths %d and %d", len(a), len(b))
	}
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestLogitsCommandMatchesReference checks the exact contract of
// `rwkvgo logits`: [T, V] float32 LE rows after each token and the final state
// in rwkv.cpp's layout, against the shared FP64 reference (1e-4).
func TestLogitsCommandMatchesReference(t *testing.T) {
	model := testdata.Path(t, "rwkv.cpp/tests/tiny-rwkv-5v2-730K-FP32.bin")
	wantLogits := readFloats(t, testdata.Path(t, "reference/tiny-rwkv-5v2-730K-FP32.hello_world.logits.f32"))
	wantState := readFloats(t, testdata.Path(t, "reference/tiny-rwkv-5v2-730K-FP32.hello_world.state.f32"))
	dir := t.TempDir()
	out, st := filepath.Join(dir, "l.f32"), filepath.Join(dir, "s.f32")
	var ids []string
	for _, c := range []byte("hello world") {
		ids = append(ids, strconv.Itoa(int(c)))
	}
	code, _, errs := runCLI("logits", "--model", model, "--tokens", strings.Join(ids, ","), "--out", out, "--state-out", st)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if d := maxDiff(t, readFloats(t, out), wantLogits); d > 1e-4 {
		t.Errorf("logits differ from the reference by %g", d)
	}
	if d := maxDiff(t, readFloats(t, st), wantState); d > 1e-3 {
		t.Errorf("state differs from the reference by %g", d)
	}
	// --prompt goes through the model's (byte) tokenizer and gives the same file.
	out2 := filepath.Join(dir, "l2.f32")
	if code, _, errs := runCLI("logits", "--model", model, "--prompt", "hello world", "--out", out2); code != 0 {
		t.Fatalf("--prompt: exit %d: %s", code, errs)
	}
	if d := maxDiff(t, readFloats(t, out2), readFloats(t, out)); d != 0 {
		t.Errorf("--prompt and --tokens differ by %g", d)
	}
}

func TestSynthInspectGenerate(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ file, dtype, version string }{
		{"m.st", "F16", "7"}, {"m.bin", "Q8_0", "6"}, {"m.safetensors", "BF16", "5.2"}, {"m4.bin", "F32", "4"},
	} {
		path := filepath.Join(dir, tc.file)
		code, out, errs := runCLI("synth", "--version", tc.version, "--layers", "2", "--width", "64", "--vocab", "256",
			"--head-size", "32", "--dtype", tc.dtype, "--out", path)
		if code != 0 {
			t.Fatalf("synth %v: exit %d: %s", tc, code, errs)
		}
		if !strings.Contains(out, "wrote") {
			t.Errorf("synth output %q", out)
		}
		code, out, errs = runCLI("inspect", "--model", path)
		if code != 0 {
			t.Fatalf("inspect %s: exit %d: %s", path, code, errs)
		}
		v := "v" + tc.version
		if !strings.Contains(out, "version:     "+v+"\n") || !strings.Contains(out, "layers:      2\n") || !strings.Contains(out, tc.dtype) {
			t.Errorf("inspect %s:\n%s", path, out)
		}
		args := []string{"generate", "--model", path, "--prompt", "abc", "--max-tokens", "8", "--temperature", "0"}
		_, first, _ := runCLI(args...)
		code, second, errs := runCLI(args...)
		if code != 0 || first != second || len(second) == 0 {
			t.Errorf("generate %s: exit %d, outputs %q / %q, %s", path, code, first, second, errs)
		}
		args = []string{"generate", "--model", path, "--prompt", "abc", "--max-tokens", "8", "--temperature", "1", "--seed", "9"}
		_, first, _ = runCLI(args...)
		_, second, _ = runCLI(args...)
		if first != second {
			t.Errorf("seeded sampling not reproducible: %q / %q", first, second)
		}
	}
}

func TestModelCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.bin")
	os.WriteFile(bad, []byte("this is not a model file at all"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"logits", "--tokens", "1", "--out", filepath.Join(dir, "x")}, 2, "--model is required"},
		{[]string{"logits", "--model", bad, "--tokens", "1", "--out", filepath.Join(dir, "x")}, 1, "unknown model file format"},
		{[]string{"logits", "--model", bad, "--out", filepath.Join(dir, "x")}, 2, "exactly one of --tokens and --prompt"},
		{[]string{"logits", "--model", bad, "--tokens", "1,x", "--out", "y"}, 2, "bad token id"},
		{[]string{"generate", "--model", filepath.Join(dir, "missing.st"), "--prompt", "a"}, 1, "no such file"},
		{[]string{"generate", "--model", bad, "--prompt", "a", "--temperature", "-1"}, 2, "temperature"},
		{[]string{"synth", "--version", "8", "--out", filepath.Join(dir, "m.st")}, 2, "unknown RWKV version"},
		{[]string{"synth", "--out", filepath.Join(dir, "m.txt")}, 2, "must end in"},
		{[]string{"synth", "--dtype", "Q4_0", "--out", filepath.Join(dir, "m.st")}, 2, "rwkv.cpp format"},
		{[]string{"inspect", "--model", bad}, 1, "unknown model file format"},
		{[]string{"nosuchcommand"}, 2, "unknown command"},
	} {
		code, _, errs := runCLI(tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d with %q", tc.args, code, errs, tc.code, tc.msg)
		}
	}
}
