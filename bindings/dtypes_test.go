//go:build cuda

package bindings

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/engine/backend"
)

// TestQuantizedSupported: the block-quantized weight types are kept on the
// device in their blocks (the upload takes exactly the file's bytes), and
// MatMulT, which the engine never uses on them, refuses them with an error
// (not a crash) that leaves the backend usable.
func TestQuantizedSupported(t *testing.T) {
	b := openTest(t)
	defer b.Close()
	x := b.UploadF32(1, 64, make([]float32, 64))
	for _, dt := range []backend.DType{backend.Q4_0, backend.Q4_1, backend.Q5_0, backend.Q5_1, backend.Q8_0} {
		require.True(t, backend.Supports(b, dt), "%s", dt)
		w := b.Upload(dt, 64, 32, make([]byte, 64*dt.RowBytes(32)))
		require.NoError(t, b.Err(), "Upload %s", dt)
		out := b.New(1, 32)
		b.MatMulT(out, x, w)
		require.Error(t, b.Err(), "MatMulT with %s weights", dt)
		b.Free(w)
		b.Free(out)
	}
	b.Free(x)
	y := b.UploadF32(1, 2, []float32{1, 2})
	got := make([]float32, 2)
	b.Read(y, 0, got)
	require.NoError(t, b.Err())
	require.Equal(t, float32(2), got[1])
	b.Free(y)
}
