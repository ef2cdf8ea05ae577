//go:build cuda

package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/bench"
	"github.com/rwkvgo/rwkvgo/bindings"
	"github.com/rwkvgo/rwkvgo/engine/backend"
)

// TestBenchKernelsVendor runs `bench kernels --backend cuda` at a tiny shape:
// on the emulated library (-tags cuda,cuemu) the cuBLAS baseline is
// unavailable, which the report records without failing the run; on a GPU
// (-tags cuda) every MatMul has a vendor ratio. Skipped without a device.
func TestBenchKernelsVendor(t *testing.T) {
	be, err := backend.Open("cuda", 1)
	if errors.Is(err, bindings.ErrNoDevice) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	be.Close()
	dir := t.TempDir()
	rc, out, errs := runCLI("bench", "kernels", "--backend", "cuda", "--shapes", "v7-tiny", "--rows", "2", "--repeats", "2",
		"--warmup", "1", "--context", "16", "--dtype", "F16", "--ops", "MatMul,MatMulT,WKV7", "--out", dir)
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
	matmuls := 0
	for _, k := range r.Kernels {
		if k.Op != "MatMul" && k.Op != "MatMulT" {
			if k.VendorRatio != 0 || k.VendorUnavailable != "" {
				t.Errorf("%s has a vendor baseline: %+v", k.Op, k)
			}
			continue
		}
		matmuls++
		if emulated := k.VendorUnavailable != ""; emulated {
			if k.VendorRatio != 0 || !strings.Contains(k.VendorUnavailable, "cuBLAS is not available in the emulated library") {
				t.Errorf("%s: %+v", k.Dims, k)
			}
		} else if k.VendorRatio <= 0 {
			t.Errorf("%s: no vendor ratio: %+v", k.Dims, k)
		}
	}
	if matmuls == 0 {
		t.Fatalf("no MatMul results: %+v", r.Kernels)
	}
	notes := strings.Join(r.Notes, "\n")
	if r.Kernels[0].VendorUnavailable != "" && !strings.Contains(notes, "vendor baseline unavailable: cuda: rwkvcu_vendor_matmul: ") {
		t.Errorf("notes: %q", r.Notes)
	}
	if !strings.Contains(out, "| MatMul |") {
		t.Errorf("stdout:\n%s", out)
	}
}
