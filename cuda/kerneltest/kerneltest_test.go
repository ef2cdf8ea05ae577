package kerneltest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoad builds a harness that includes an emulator header and a file
// under cuda/, binds its function and calls it; a second Load of the same
// sources returns the same library; a harness that does not compile fails
// with the compiler's message.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "harness.cu")
	code := `#include <cuda_runtime.h>
#include "ptx_wrappers.cuh"
#include "cuda/common.cuh"
extern "C" int kt_answer(int x) { return x + int(rwkvcu_ceil_div(5, 2)) + (cudaSuccess == 0 ? 0 : 100); }
`
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	lib := Build(t, src)
	var answer func(int32) int32
	if err := lib.Bind(&answer, "kt_answer"); err != nil {
		t.Fatal(err)
	}
	if got := answer(39); got != 42 {
		t.Fatalf("kt_answer(39) = %d, want 42", got)
	}
	if again := Build(t, src); again != lib {
		t.Error("the same sources were loaded twice")
	}
	if err := lib.Bind(&answer, "kt_missing"); err == nil {
		t.Error("binding a missing function: no error")
	}

	bad := filepath.Join(dir, "bad.cu")
	if err := os.WriteFile(bad, []byte("this is not C++\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "bad.cu") {
		t.Fatalf("a harness that does not compile: %v", err)
	}
}
