package statecache

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/weights"
)

func state(v float32) *engine.State {
	st := engine.NewState(weights.Config{Version: weights.V7, Layers: 1, Embd: 8, Heads: 1, HeadSize: 8})
	for i := range st.Data {
		st.Data[i] = v
	}
	return st
}

func TestLongestPrefixAndSplit(t *testing.T) {
	c, err := New(Config{MaxBytes: 1 << 20})
	require.NoError(t, err)
	n, st := c.Lookup("", []int{1, 2, 3})
	require.Zero(t, n)
	require.Nil(t, st)
	c.Insert("", []int{1, 2, 3, 4}, state(4))
	c.Insert("", []int{1, 2}, state(2)) // splits the edge
	c.Insert("", []int{1, 2, 9}, state(9))
	c.Insert("other", []int{1, 2, 3, 4, 5}, state(5))

	n, st = c.Lookup("", []int{1, 2, 3, 4, 5, 6})
	require.Equal(t, 4, n)
	require.Equal(t, float32(4), st.Data[0])
	n, st = c.Lookup("", []int{1, 2, 3})
	require.Equal(t, 2, n)
	require.Equal(t, float32(2), st.Data[0])
	n, st = c.Lookup("", []int{1, 2, 9, 9})
	require.Equal(t, 3, n)
	require.Equal(t, float32(9), st.Data[0])
	n, _ = c.Lookup("", []int{7})
	require.Zero(t, n)
	n, st = c.Lookup("other", []int{1, 2, 3, 4, 5})
	require.Equal(t, 5, n)
	require.Equal(t, float32(5), st.Data[0])
	s := c.Stats()
	require.Equal(t, uint64(4), s.Hits)
	require.Equal(t, uint64(2), s.Misses)
	require.Equal(t, 4, s.Entries)
	require.True(t, c.Contains("", []int{1, 2}))
	require.False(t, c.Contains("", []int{1, 2, 3}))

	// Insert copies.
	orig := state(1)
	c.Insert("", []int{5}, orig)
	orig.Data[0] = 100
	_, st = c.Lookup("", []int{5})
	require.Equal(t, float32(1), st.Data[0])
}

func TestLRUEvictionByBytes(t *testing.T) {
	one := stateBytes(state(0), 2)
	c, err := New(Config{MaxBytes: 3 * one})
	require.NoError(t, err)
	c.Insert("", []int{1, 1}, state(1))
	c.Insert("", []int{2, 2}, state(2))
	c.Insert("", []int{3, 3}, state(3))
	n, _ := c.Lookup("", []int{1, 1}) // 1 becomes most recent
	require.Equal(t, 2, n)
	c.Insert("", []int{4, 4}, state(4)) // evicts 2
	s := c.Stats()
	require.Equal(t, uint64(1), s.Evictions)
	require.Equal(t, 3, s.Entries)
	require.LessOrEqual(t, s.Bytes, 3*one)
	require.False(t, c.Contains("", []int{2, 2}))
	require.True(t, c.Contains("", []int{1, 1}))
	require.True(t, c.Contains("", []int{4, 4}))
	// the evicted leaf's node is pruned
	require.Nil(t, c.roots[""].children[2])
}

func TestDiskTier(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "stale"+fileSuffix), []byte("x"), 0o644))
	one := stateBytes(state(0), 2)
	c, err := New(Config{MaxBytes: one, Dir: dir})
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "stale"+fileSuffix))
	require.True(t, os.IsNotExist(err), "stale files are removed")
	c.Insert("", []int{1, 1}, state(1))
	c.Insert("", []int{2, 2}, state(2)) // 1 goes to disk
	s := c.Stats()
	require.Equal(t, 1, s.Entries)
	require.Equal(t, 1, s.DiskFiles)
	n, st := c.Lookup("", []int{1, 1, 7})
	require.Equal(t, 2, n)
	require.Equal(t, float32(1), st.Data[0])
	require.Equal(t, weights.V7, st.Version)
	require.Len(t, st.Data, len(state(0).Data))
	s = c.Stats()
	require.Equal(t, uint64(1), s.DiskHits)
	require.Equal(t, 1, s.DiskFiles, "2 moved to disk when 1 was promoted")
	files, _ := filepath.Glob(filepath.Join(dir, "*"+fileSuffix))
	require.Len(t, files, 1)
}

func TestBadConfig(t *testing.T) {
	_, err := New(Config{})
	require.Error(t, err)
	var c *Cache
	n, st := c.Lookup("", []int{1})
	require.Zero(t, n)
	require.Nil(t, st)
	c.Insert("", []int{1}, state(1))
	require.Equal(t, Stats{}, c.Stats())
}
