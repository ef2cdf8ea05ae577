package weights

import (
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// threadMinorFaults returns the minor page faults of the calling thread.
func threadMinorFaults(t *testing.T) int64 {
	var ru syscall.Rusage
	require.NoError(t, syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru))
	return ru.Minflt
}

// touchPages reads one byte of every page of b.
func touchPages(b []byte) (sum byte) {
	for i := 0; i < len(b); i += os.Getpagesize() {
		sum += b[i]
	}
	return sum
}

// TestPrefaultMapsPages: after Prefault, reading a mapped tensor takes no
// page faults, where reading it after its pages were dropped takes them.
func TestPrefaultMapsPages(t *testing.T) {
	f, err := Synthesize(SynthConfig{Version: V7, Layers: 1, Embd: 512, Vocab: 2048, HeadSize: 64, FFN: 512, Seed: 1})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "m.st")
	fh, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, WriteSafetensors(fh, f.Tensors, nil))
	require.NoError(t, fh.Close())
	file, err := Open(path)
	require.NoError(t, err)
	defer file.Close()
	var big *Tensor
	for _, tn := range file.Tensors {
		if big == nil || len(tn.Data) > len(big.Data) {
			big = tn
		}
	}
	if !file.Mapped(big.Data) {
		t.Skip("the file was read, not mapped")
	}
	if err := syscall.Madvise(file.mapped[:os.Getpagesize()], madvPopulateRead); err != nil {
		t.Skipf("MADV_POPULATE_READ unsupported: %v", err)
	}
	pages := len(big.Data) / os.Getpagesize()
	require.GreaterOrEqual(t, pages, 256, "the tensor should span many pages")
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	file.DropPages(big.Data)
	before := threadMinorFaults(t)
	s1 := touchPages(big.Data)
	cold := threadMinorFaults(t) - before

	file.DropPages(big.Data)
	file.Prefault(big.Data)
	before = threadMinorFaults(t)
	s2 := touchPages(big.Data)
	warm := threadMinorFaults(t) - before

	require.Equal(t, s1, s2, "the bytes read are the same")
	// Fault-around maps at most a few dozen pages per fault, so reading
	// dropped pages faults several times; prefaulted pages are mapped.
	require.Greater(t, cold, int64(2), "reading dropped pages should fault (%d pages)", pages)
	require.LessOrEqual(t, warm, int64(1), "prefaulted pages should not fault")
	// Memory outside the mapping is ignored.
	file.Prefault(make([]byte, 1<<16))
}
