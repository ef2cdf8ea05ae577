//go:build cuda

package bindings

import (
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/engine/backend/backendtest"
)

// openTest opens device 0 or fails the test.
func openTest(t testing.TB) *Backend {
	t.Helper()
	b, err := Open(0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestConformance runs the backend conformance suite on the CUDA backend
// (the emulated library with -tags cuda,cuemu; the GPU with -tags cuda).
func TestConformance(t *testing.T) {
	backendtest.Run(t, func() backend.Backend { return openTest(t) })
}

// TestGraph runs the graph capture and replay test on the cgo bindings.
func TestGraph(t *testing.T) {
	b := openTest(t)
	defer b.Close()
	testGraph(t, b)
}
