package statecache

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/weights"
)

// deviceModel returns a tiny synthetic RWKV-7 model on the CPU backend: its
// backend memory stands in for a device's in these tests.
func deviceModel(t *testing.T) *engine.Model {
	t.Helper()
	f, err := weights.Synthesize(weights.SynthConfig{Version: weights.V7, Layers: 1, Embd: 16, Vocab: 20, HeadSize: 8, Seed: 1})
	require.NoError(t, err)
	wm, err := weights.Canonicalize(f, weights.Options{})
	require.NoError(t, err)
	m, err := engine.New(wm, engine.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

// filled returns a state of m's configuration whose values are all v.
func filled(m *engine.Model, v float32) *engine.State {
	st := engine.NewState(m.Config())
	for i := range st.Data {
		st.Data[i] = v
	}
	return st
}

// saveAs sets sess to a state of value v and saves it under tokens.
func saveAs(t *testing.T, c *Cache, sess *engine.Session, tokens []int, v float32) {
	t.Helper()
	require.NoError(t, sess.SetState(filled(sess.Model(), v)))
	require.NoError(t, c.Save("", tokens, sess))
}

// restoredValue restores tokens into sess and returns the prefix length and
// the session's first state value.
func restoredValue(t *testing.T, c *Cache, sess *engine.Session, tokens []int) (int, float32) {
	t.Helper()
	require.NoError(t, sess.Reset())
	n, err := c.Restore("", tokens, sess)
	require.NoError(t, err)
	st, err := sess.State()
	require.NoError(t, err)
	return n, st.Data[0]
}

func TestDeviceTierDemotionAndLRU(t *testing.T) {
	m := deviceModel(t)
	row := int64(4 * m.Config().StateSize())
	c, err := New(Config{MaxBytes: 1 << 20, Device: m, DeviceBytes: 2*row + row/2})
	require.NoError(t, err)
	defer c.Close()
	sess, err := m.NewSession()
	require.NoError(t, err)
	defer sess.Close()

	saveAs(t, c, sess, []int{1}, 1)
	saveAs(t, c, sess, []int{2}, 2)
	require.Equal(t, "device", c.Tier("", []int{1}))
	require.Equal(t, "device", c.Tier("", []int{2}))
	s := c.Stats()
	require.Equal(t, 2, s.DeviceEntries)
	require.Equal(t, 2*row, s.DeviceBytes)
	require.Zero(t, s.Entries)

	// Full: the least recently used device state ([1]) moves down to RAM.
	saveAs(t, c, sess, []int{3}, 3)
	require.Equal(t, "ram", c.Tier("", []int{1}))
	require.Equal(t, "device", c.Tier("", []int{2}))
	require.Equal(t, "device", c.Tier("", []int{3}))
	s = c.Stats()
	require.Equal(t, uint64(1), s.DeviceEvictions)
	require.Equal(t, 2, s.DeviceEntries)
	require.Equal(t, 1, s.Entries)

	// A hit refreshes [2]; the next save demotes [3] instead.
	n, v := restoredValue(t, c, sess, []int{2, 7})
	require.Equal(t, 1, n)
	require.Equal(t, float32(2), v)
	saveAs(t, c, sess, []int{4}, 4)
	require.Equal(t, "ram", c.Tier("", []int{3}))
	require.Equal(t, "device", c.Tier("", []int{2}))
	require.Equal(t, "device", c.Tier("", []int{4}))

	// Demoted states keep their values, and replacing a device state takes
	// no new row.
	n, v = restoredValue(t, c, sess, []int{3})
	require.Equal(t, 1, n)
	require.Equal(t, float32(3), v)
	saveAs(t, c, sess, []int{4}, 40)
	require.Equal(t, "device", c.Tier("", []int{2}))
	n, v = restoredValue(t, c, sess, []int{4})
	require.Equal(t, 1, n)
	require.Equal(t, float32(40), v)

	// Saving a prefix held in RAM moves it to the device.
	saveAs(t, c, sess, []int{1}, 10)
	require.Equal(t, "device", c.Tier("", []int{1}))
	require.Equal(t, "ram", c.Tier("", []int{2}))

	s = c.Stats()
	require.Equal(t, uint64(2), s.DeviceHits)
	require.Equal(t, uint64(1), s.RAMHits)
	require.Equal(t, uint64(3), s.Hits)
	require.Equal(t, 2, s.DeviceEntries)

	// Lookup (a host copy) sees device states too.
	n, st := c.Lookup("", []int{1, 5})
	require.Equal(t, 1, n)
	require.Equal(t, float32(10), st.Data[0])
	require.Equal(t, uint64(3), c.Stats().DeviceHits)

	// A miss leaves the session untouched.
	require.NoError(t, sess.SetState(filled(m, 9)))
	n, err = c.Restore("", []int{8}, sess)
	require.NoError(t, err)
	require.Zero(t, n)
	got, err := sess.State()
	require.NoError(t, err)
	require.Equal(t, float32(9), got.Data[0])
}

// TestDeviceTierLongestPrefixAcrossTiers: the longest stored prefix wins
// whichever tier holds it.
func TestDeviceTierLongestPrefixAcrossTiers(t *testing.T) {
	m := deviceModel(t)
	row := int64(4 * m.Config().StateSize())
	c, err := New(Config{MaxBytes: 1 << 20, Device: m, DeviceBytes: row})
	require.NoError(t, err)
	defer c.Close()
	sess, err := m.NewSession()
	require.NoError(t, err)
	defer sess.Close()
	saveAs(t, c, sess, []int{1, 2, 3}, 3) // then demoted to RAM
	saveAs(t, c, sess, []int{1, 2}, 2)    // device
	require.Equal(t, "ram", c.Tier("", []int{1, 2, 3}))
	require.Equal(t, "device", c.Tier("", []int{1, 2}))
	n, v := restoredValue(t, c, sess, []int{1, 2, 3, 4})
	require.Equal(t, 3, n)
	require.Equal(t, float32(3), v)
	n, v = restoredValue(t, c, sess, []int{1, 2, 5})
	require.Equal(t, 2, n)
	require.Equal(t, float32(2), v)
}

// TestDeviceTierByteBounds: device states demote to RAM, RAM states to
// disk, each tier within its bound.
func TestDeviceTierByteBounds(t *testing.T) {
	m := deviceModel(t)
	row := int64(4 * m.Config().StateSize())
	ramOne := stateBytes(filled(m, 0), 1) // one state with a one-token key
	c, err := New(Config{MaxBytes: ramOne, Dir: t.TempDir(), MaxDiskBytes: 1 << 20, Device: m, DeviceBytes: row})
	require.NoError(t, err)
	defer c.Close()
	sess, err := m.NewSession()
	require.NoError(t, err)
	defer sess.Close()
	for i := 1; i <= 4; i++ {
		saveAs(t, c, sess, []int{i}, float32(i))
		s := c.Stats()
		require.LessOrEqual(t, s.DeviceBytes, row)
		require.LessOrEqual(t, s.Bytes, ramOne)
	}
	require.Equal(t, "device", c.Tier("", []int{4}))
	require.Equal(t, "ram", c.Tier("", []int{3}))
	require.Equal(t, "disk", c.Tier("", []int{2}))
	require.Equal(t, "disk", c.Tier("", []int{1}))
	n, v := restoredValue(t, c, sess, []int{1})
	require.Equal(t, 1, n)
	require.Equal(t, float32(1), v)
	require.Equal(t, uint64(1), c.Stats().DiskHits)

	// Close frees the device tier: its states are gone, the rest remain.
	c.Close()
	c.Close()
	require.Equal(t, "", c.Tier("", []int{4}))
	require.Zero(t, c.Stats().DeviceEntries)
	n, _ = restoredValue(t, c, sess, []int{4})
	require.Zero(t, n)
	require.NoError(t, c.Save("", []int{5}, sess), "without its device tier the cache saves to RAM")
	require.Equal(t, "ram", c.Tier("", []int{5}))
}

func TestDeviceTierConfig(t *testing.T) {
	m := deviceModel(t)
	_, err := New(Config{MaxBytes: 1 << 20, Device: m})
	require.Error(t, err)
	_, err = New(Config{MaxBytes: 1 << 20, Device: m, DeviceBytes: 8})
	require.Error(t, err)
}
