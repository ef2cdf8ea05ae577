package bindings

import (
	"os"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/enginetest"
)

// The suites the GPU kit runs through the purego loader (its test binary is
// built with CGO_ENABLED=0) on the library named by $RWKVGO_CUDA_LIB; each is
// skipped when it is not set.

// openPurego opens device 0 of the library named by $RWKVGO_CUDA_LIB, or
// skips the test when the variable is not set.
func openPurego(t *testing.T) *Backend {
	t.Helper()
	lib := os.Getenv("RWKVGO_CUDA_LIB")
	if lib == "" {
		t.Skip("RWKVGO_CUDA_LIB not set")
	}
	b, err := OpenLibrary(lib, 0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPuregoGraph runs the graph capture and replay test through purego.
func TestPuregoGraph(t *testing.T) {
	b := openPurego(t)
	defer b.Close()
	testGraph(t, b)
}

// TestPuregoReferenceOutputs runs every model of the test data on every
// reference prompt through purego, like TestReferenceOutputs on the cgo
// bindings; with RWKVGO_TESTDATA_SUBSET=1 the reference index may list only
// some models (the GPU kit's copy of the test data).
func TestPuregoReferenceOutputs(t *testing.T) {
	b := openPurego(t)
	defer b.Close()
	enginetest.ReferenceOutputs(t, enginetest.Config{Backend: b, Subset: os.Getenv("RWKVGO_TESTDATA_SUBSET") == "1",
		TokenByToken: func(p string) bool { return p == "quote_in" }})
}
