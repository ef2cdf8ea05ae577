//go:build cuda

package bindings

import (
	"errors"
	"strings"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
)

// TestVendorMatMul: with the real library (-tags cuda) on a GPU, cuBLAS's
// product matches rwkvcu_matmul for every weight type (skipped without a
// device); with the emulated one (-tags cuda,cuemu) VendorMatMul reports
// ErrNotSupported cleanly and the backend stays usable.
func TestVendorMatMul(t *testing.T) {
	b, err := Open(0)
	if errors.Is(err, ErrNoDevice) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := checkVendor(t, b)
	if emulatedLibrary {
		if got != vendorUnsupported {
			t.Fatal("the emulated library ran the vendor baseline")
		}
		x, w, out := b.New(2, 8), b.New(4, 8), b.New(2, 4)
		verr := b.VendorMatMul(out, x, w)
		if verr == nil || !strings.Contains(verr.Error(), "cuBLAS is not available in the emulated library") {
			t.Errorf("emulated library: %v", verr)
		}
		var e *Error
		if !errors.As(verr, &e) || e.Op != "rwkvcu_vendor_matmul" {
			t.Errorf("error %#v", verr)
		}
		b.MatMul(out, x, w)
		if err := b.Sync(); err != nil {
			t.Errorf("backend unusable after the vendor error: %v", err)
		}
		return
	}
	if got != vendorRan {
		t.Fatal("the real library did not run the vendor baseline")
	}
	// Shape errors are the caller's: recorded and returned like MatMul's.
	x, w, out := b.New(2, 8), b.New(4, 8), b.New(2, 5)
	if verr := b.VendorMatMul(out, x, w); !errors.Is(verr, ErrInvalidArgument) {
		t.Errorf("bad shape: %v", verr)
	}
	if err := b.Err(); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("bad shape not recorded: %v", err)
	}
	for _, tn := range []backend.Tensor{x, w, out} {
		b.Free(tn)
	}
}
