//go:build cuda

package bindings

import (
	"errors"
	"strings"
	"testing"
)

// TestBenchLibraryAbsent: without librwkvcu_bench the benchmark extras
// report themselves unavailable and the backend stays usable: VendorMatMul
// returns ErrNotSupported and records nothing, the timers fall back to the
// host clock, FlushL2 does nothing, and Attention fails with
// ErrNotSupported.
func TestBenchLibraryAbsent(t *testing.T) {
	t.Setenv("RWKVGO_CUDA_BENCH_LIB", t.TempDir()+"/librwkvcu_bench_missing.so")
	b := openTest(t)
	defer b.Close()
	x, w, out := b.New(2, 8), b.New(4, 8), b.New(2, 4)
	err := b.VendorMatMul(out, x, w)
	if !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "librwkvcu_bench unavailable") {
		t.Fatalf("VendorMatMul without librwkvcu_bench: %v", err)
	}
	if err := b.Err(); err != nil {
		t.Fatalf("VendorMatMul recorded %v", err)
	}
	b.StartTimer()
	b.MatMul(out, x, w)
	b.FlushL2()
	if d, err := b.StopTimer(); err != nil || d < 0 {
		t.Fatalf("host-clock timer: %v, %v", d, err)
	}
	b.Attention(out, x, x, x, x, x, 0, 1)
	if err := b.Err(); !errors.Is(err, ErrNotSupported) {
		t.Fatalf("Attention without librwkvcu_bench: %v", err)
	}
	b.MatMul(out, x, w)
	if err := b.Sync(); err != nil {
		t.Fatalf("backend unusable: %v", err)
	}
}

// TestBenchLibraryPath: librwkvcu_bench is looked for beside the product
// library, or where $RWKVGO_CUDA_BENCH_LIB says.
func TestBenchLibraryPath(t *testing.T) {
	t.Setenv("RWKVGO_CUDA_BENCH_LIB", "")
	for in, want := range map[string]string{
		"/opt/x/librwkvcu.so":     "/opt/x/librwkvcu_bench.so",
		"/opt/x/librwkvcu_emu.so": "/opt/x/librwkvcu_bench_emu.so",
		"librwkvcu.so":            "librwkvcu_bench.so",
		"/opt/x/other.so":         "/opt/x/librwkvcu_bench.so",
		"":                        "librwkvcu_bench.so",
	} {
		if got := benchLibraryPath(in); got != want {
			t.Errorf("benchLibraryPath(%q) = %q, want %q", in, got, want)
		}
	}
	t.Setenv("RWKVGO_CUDA_BENCH_LIB", "/elsewhere/b.so")
	if got := benchLibraryPath("/opt/x/librwkvcu.so"); got != "/elsewhere/b.so" {
		t.Errorf("with $RWKVGO_CUDA_BENCH_LIB: %q", got)
	}
}
