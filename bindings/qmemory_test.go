//go:build cuda

package bindings

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/engine/enginetest"
	"github.com/rwkvgo/rwkvgo/weights"
)

// TestQuantizedDeviceMemory: a model of rwkv.cpp block-quantized matrices
// keeps them in their blocks on the device instead of widening them to F32
// (a Q5_1 matrix would take about 5.3 times its bytes): the live device
// bytes the load adds (the stats ledger) are at most 1.05 times the file's
// quantized matrix bytes plus the other tensors at 4 bytes an element (the
// most the engine stores them in) and 16 bytes of allocation padding each.
// Widened, every shared quantized model exceeds the bound by far. The log
// gives each model's device bytes against its file's size.
func TestQuantizedDeviceMemory(t *testing.T) {
	for _, path := range enginetest.BlockQuantizedModels(t) {
		f, err := weights.Open(path)
		require.NoError(t, err)
		var matrix, other, quantized int64
		for _, w := range f.Tensors {
			if w.DType.Quantized() {
				matrix += int64(len(w.Data))
				quantized++
			} else {
				other += 4*int64(w.Len()) + 16
			}
		}
		require.NoError(t, f.Close())
		require.Positive(t, quantized, "%s has no quantized matrix", path)
		st, err := os.Stat(path)
		require.NoError(t, err)

		be := openTest(t)
		before := be.Stats().LiveDeviceBytes
		m, err := engine.Load(path, engine.Options{Backend: be})
		require.NoError(t, err, path)
		live := int64(be.Stats().LiveDeviceBytes - before)
		bound := int64(1.05*float64(matrix)) + other
		t.Logf("%s: %d device bytes for a file of %d bytes (ratio %.3f; %d matrix bytes in %d block-quantized tensors, bound %d)",
			filepath.Base(path), live, st.Size(), float64(live)/float64(st.Size()), matrix, quantized, bound)
		require.LessOrEqual(t, live, bound, "%s: the quantized matrices were widened", path)
		require.NoError(t, m.Close())
		require.NoError(t, be.Close())
	}
}
