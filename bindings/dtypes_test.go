//go:build cuda

package bindings

import (
	"errors"
	"testing"

	"github.com/rwkvgo/rwkvgo/engine/backend"
)

// TestQuantizedNotSupported: the block-quantized weight types (whose Go
// codes would collide with RWKVCU_I8 and beyond) are refused before the C
// side with an error wrapping ErrNotSupported, and the backend stays usable.
func TestQuantizedNotSupported(t *testing.T) {
	b := openTest(t)
	defer b.Close()
	for _, dt := range []backend.DType{backend.Q4_0, backend.Q4_1, backend.Q5_0, backend.Q5_1, backend.Q8_0} {
		if backend.Supports(b, dt) {
			t.Fatalf("cuda claims to support %s", dt)
		}
		w := b.Upload(dt, 2, 32, make([]byte, 2*dt.RowBytes(32)))
		if err := b.Err(); !errors.Is(err, ErrNotSupported) {
			t.Fatalf("Upload %s: error %v, want ErrNotSupported", dt, err)
		}
		b.Free(w)
	}
	x := b.UploadF32(1, 2, []float32{1, 2})
	got := make([]float32, 2)
	b.Read(x, 0, got)
	if err := b.Err(); err != nil || got[1] != 2 {
		t.Fatalf("backend unusable after the refusals: %v %v", got, err)
	}
	b.Free(x)
}
