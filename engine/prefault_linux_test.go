package engine

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/rwkvgo/rwkvgo/weights"
)

// mappedPages returns how many of the whole pages of b are mapped into the
// process (present in its page tables, as /proc/self/pagemap tells), and
// how many whole pages b spans.
func mappedPages(t *testing.T, b []byte) (mapped, pages int) {
	page := uintptr(os.Getpagesize())
	lo := (addr(b) + page - 1) / page
	hi := (addr(b) + uintptr(len(b))) / page
	if hi <= lo {
		return 0, 0
	}
	f, err := os.Open("/proc/self/pagemap")
	require.NoError(t, err)
	defer f.Close()
	entries := make([]byte, 8*(hi-lo))
	_, err = f.ReadAt(entries, int64(8*lo))
	require.NoError(t, err)
	for i := 0; i < len(entries); i += 8 {
		if binary.LittleEndian.Uint64(entries[i:])&(1<<63) != 0 { // bit 63: present
			mapped++
		}
	}
	return mapped, int(hi - lo)
}

// TestLoadPrefaultsAllButEmbedding: loading in place maps every page of
// the matrices it multiplies (the head) but leaves the embedding, read a
// row per token, to be mapped as its rows are read. The kernel may map a
// few neighbouring pages with any one (fault-around, large folios mapped
// whole, up to 2 MiB), so the embedding spans many of those.
func TestLoadPrefaultsAllButEmbedding(t *testing.T) {
	f, err := weights.Synthesize(weights.SynthConfig{Version: weights.V7, Layers: 1, Embd: 64, Vocab: 32768, HeadSize: 16, FFN: 128,
		DecayLoRA: 16, AaaLoRA: 8, ValueLoRA: 8, GateLoRA: 16, Seed: 3})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "m.st")
	fh, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, weights.WriteSafetensors(fh, f.Tensors, nil))
	require.NoError(t, fh.Close())

	m, err := Load(path, Options{Threads: 1})
	require.NoError(t, err)
	defer m.Close()
	if m.wm == nil {
		t.Skip("the file was read, not mapped")
	}
	emb, err := m.wm.Matrix(embeddingName)
	require.NoError(t, err)
	head, err := m.wm.Matrix("head.weight")
	require.NoError(t, err)
	require.True(t, m.wm.Mapped(emb.Data) && m.wm.Mapped(head.Data), "both matrices are used in place")
	page := os.Getpagesize()
	first := (page - int(addr(head.Data)%uintptr(page))) % page // head.Data's first whole page
	if err := unix.Madvise(head.Data[first:first+page], unix.MADV_POPULATE_READ); err != nil {
		t.Skipf("MADV_POPULATE_READ unsupported: %v", err)
	}

	mapped, pages := mappedPages(t, head.Data)
	require.Equal(t, pages, mapped, "every page of the head is mapped at loading")
	mapped, pages = mappedPages(t, emb.Data)
	require.GreaterOrEqual(t, pages, 2000, "the embedding spans 8 MiB")
	require.Less(t, mapped, pages/2, "the embedding's pages are not mapped at loading (%d of %d are)", mapped, pages)
	t.Logf("%d of the embedding's %d pages mapped", mapped, pages)
}
