package bindings

import (
	"os"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/engine/backend/backendtest"
)

// TestPurego runs the conformance suite through the purego loader on the
// library named by $RWKVGO_CUDA_LIB (make test uses the emulated library
// in a CGO_ENABLED=0 build); skipped when it is not set.
func TestPurego(t *testing.T) {
	lib := os.Getenv("RWKVGO_CUDA_LIB")
	if lib == "" {
		t.Skip("RWKVGO_CUDA_LIB not set")
	}
	backendtest.Run(t, func() backend.Backend {
		b, err := OpenLibrary(lib, 0)
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

// TestNotBuilt: without cgo bindings and without a loadable library, Open
// reports ErrNotBuilt.
func TestNotBuilt(t *testing.T) {
	if cgoAPI != nil {
		t.Skip("cgo bindings present")
	}
	t.Setenv("RWKVGO_CUDA_LIB", "/nonexistent/librwkvcu.so")
	if _, err := Open(0); err == nil {
		t.Fatal("no error")
	}
}
