// Package statecache is a prefix state cache for RWKV serving. An RWKV
// model's whole context is its recurrent state, so the state after a token
// prefix lets a later request that starts with the same prefix skip it
// entirely.
//
// States are keyed by their token prefix in a radix tree, one tree per
// namespace (the initial state the prefix was fed from: "" for the model's
// own). Lookup returns the longest stored prefix of a token sequence. The
// host (RAM) tier is bounded in bytes with least-recently-used eviction; with
// a directory configured, evicted states move to a disk tier (bounded too,
// also LRU) and are read back, and promoted to RAM, on a hit.
//
// With a device tier configured (Config.Device, for a model on a GPU
// backend), states saved from a session (Save) stay in the backend's memory
// in an engine.StateStore, and a hit on one (Restore) copies it into the
// session device to device, with no host round trip. The device tier is
// bounded in bytes (whole state rows) with LRU eviction; an evicted device
// state moves down to RAM (one device-to-host copy), then to disk. On the
// CPU backend there is no device tier: its RAM tier already is the memory
// the backend computes in.
//
// A Cache is safe for concurrent use. States handed to Insert are copied;
// states returned by Lookup are shared and must not be modified.
package statecache

import (
	"container/list"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/weights"
)

// Config configures a Cache.
type Config struct {
	// MaxBytes bounds the states held in RAM (state data plus keys). It must
	// be > 0.
	MaxBytes int64
	// Dir, when set, is the directory of the disk tier. Files the cache
	// writes there end in ".rwkvstate"; those left by an earlier process are
	// removed by New (the index lives in memory).
	Dir string
	// MaxDiskBytes bounds the disk tier (0: 4 x MaxBytes).
	MaxDiskBytes int64
	// Device, when set, is the model whose backend memory holds the device
	// tier, and DeviceBytes (> 0) bounds it: it holds
	// DeviceBytes / (4 x the model's state size) states. New allocates the
	// tier; Close frees it. Without Device, Save and Restore go through
	// RAM.
	Device      *engine.Model
	DeviceBytes int64
}

// Stats are the cache's counters.
type Stats struct {
	Hits       uint64 // lookups that found a prefix (any tier)
	DeviceHits uint64 // hits served from the device tier
	RAMHits    uint64 // hits served from the RAM tier
	DiskHits   uint64 // hits served from the disk tier
	Misses     uint64 // lookups that found nothing
	Inserts    uint64 // states stored
	Evictions  uint64 // states dropped from RAM (moved to disk when a disk tier exists)
	Entries    int    // states in RAM
	Bytes      int64  // bytes in RAM
	DiskFiles  int    // states on disk
	DiskBytes  int64  // bytes on disk

	DeviceEntries   int    // states in the device tier
	DeviceBytes     int64  // bytes of the device tier's states
	DeviceEvictions uint64 // states moved from the device tier to RAM
}

// Cache is a byte-bounded prefix state cache. See the package documentation.
type Cache struct {
	cfg   Config
	mu    sync.Mutex
	roots map[string]*node
	ram   *list.List // of *node with a RAM state, most recent first
	disk  *list.List // of *node with a disk file, most recent first
	stats Stats
	seq   uint64

	devStore *engine.StateStore // device tier, nil without one
	dev      *list.List         // of *node with a device row, most recent first
	devFree  []int              // free rows of store
}

type node struct {
	ns       string
	edge     []int // label from the parent
	parent   *node
	children map[int]*node
	depth    int // prefix length at this node

	st      *engine.State
	bytes   int64
	ramElem *list.Element

	file      string
	diskBytes int64
	diskElem  *list.Element

	devRow  int // row of the device store, valid when devElem != nil
	devElem *list.Element
}

// empty reports whether n holds a state in no tier.
func (n *node) empty() bool { return n.st == nil && n.file == "" && n.devElem == nil }

const fileSuffix = ".rwkvstate"

// New returns an empty cache.
func New(cfg Config) (*Cache, error) {
	if cfg.MaxBytes <= 0 {
		return nil, fmt.Errorf("statecache: MaxBytes must be > 0, got %d", cfg.MaxBytes)
	}
	if cfg.MaxDiskBytes < 0 {
		return nil, fmt.Errorf("statecache: MaxDiskBytes must be >= 0, got %d", cfg.MaxDiskBytes)
	}
	if cfg.MaxDiskBytes == 0 {
		cfg.MaxDiskBytes = 4 * cfg.MaxBytes
	}
	if cfg.Dir != "" {
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("statecache: %w", err)
		}
		old, err := filepath.Glob(filepath.Join(cfg.Dir, "*"+fileSuffix))
		if err != nil {
			return nil, fmt.Errorf("statecache: %w", err)
		}
		for _, f := range old {
			os.Remove(f)
		}
	}
	c := &Cache{cfg: cfg, roots: map[string]*node{}, ram: list.New(), disk: list.New(), dev: list.New()}
	if cfg.Device != nil {
		if cfg.DeviceBytes <= 0 {
			return nil, fmt.Errorf("statecache: DeviceBytes must be > 0 with a device tier, got %d", cfg.DeviceBytes)
		}
		rows := cfg.DeviceBytes / (4 * int64(cfg.Device.Config().StateSize()))
		if rows < 1 {
			return nil, fmt.Errorf("statecache: DeviceBytes %d holds no state of %d bytes", cfg.DeviceBytes, 4*cfg.Device.Config().StateSize())
		}
		store, err := cfg.Device.NewStateStore(int(rows))
		if err != nil {
			return nil, fmt.Errorf("statecache: device tier: %w", err)
		}
		c.devStore = store
		for r := int(rows) - 1; r >= 0; r-- {
			c.devFree = append(c.devFree, r)
		}
	}
	return c, nil
}

// Close frees the device tier (the cache keeps working without it: its
// states are dropped). It is idempotent and nil-safe.
func (c *Cache) Close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.devStore == nil {
		return
	}
	for e := c.dev.Front(); e != nil; {
		next := e.Next()
		n := e.Value.(*node)
		c.removeDev(n)
		c.prune(n)
		e = next
	}
	c.devStore.Free()
	c.devStore, c.devFree = nil, nil
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Lookup returns the longest prefix of tokens (at most all of them) with a
// stored state in namespace ns: its length and the state, or 0 and nil. A
// state read back from the disk tier is promoted to RAM. The state must not
// be modified.
func (c *Cache) Lookup(ns string, tokens []int) (int, *engine.State) {
	if c == nil {
		return 0, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.candidates(ns, tokens) {
		if n.devElem != nil {
			st, err := c.devStore.Read(n.devRow)
			if err != nil {
				c.removeDev(n)
				c.prune(n)
				continue
			}
			c.dev.MoveToFront(n.devElem)
			c.stats.Hits++
			c.stats.DeviceHits++
			return n.depth, st
		}
		if st := c.ramOrDisk(n); st != nil {
			return n.depth, st
		}
	}
	c.stats.Misses++
	return 0, nil
}

// candidates returns the nodes with a state along tokens in ns, longest
// first.
func (c *Cache) candidates(ns string, tokens []int) []*node {
	n := c.roots[ns]
	var cands []*node
	for rest := tokens; n != nil; {
		if !n.empty() {
			cands = append(cands, n)
		}
		if len(rest) == 0 {
			break
		}
		ch := n.children[rest[0]]
		if ch == nil || !hasPrefix(rest, ch.edge) {
			break
		}
		rest = rest[len(ch.edge):]
		n = ch
	}
	for i, j := 0, len(cands)-1; i < j; i, j = i+1, j-1 {
		cands[i], cands[j] = cands[j], cands[i]
	}
	return cands
}

// ramOrDisk returns n's state from RAM, or from disk (promoting it to RAM),
// counting the hit; nil (and n's broken file dropped) when it has neither.
func (c *Cache) ramOrDisk(n *node) *engine.State {
	if n.st != nil {
		c.ram.MoveToFront(n.ramElem)
		c.stats.Hits++
		c.stats.RAMHits++
		return n.st
	}
	if n.file == "" {
		return nil
	}
	st, err := c.readFile(n)
	if err != nil {
		c.dropFile(n)
		c.prune(n)
		return nil
	}
	c.stats.Hits++
	c.stats.DiskHits++
	c.dropFile(n)
	c.store(n, st)
	return st
}

// Restore sets sess's state to the one of the longest prefix of tokens (at
// most all of them) stored in namespace ns and returns its length, or 0
// with sess untouched. A device-tier state is copied into the session on
// the backend (no host copy); a RAM or disk state is written to it.
func (c *Cache) Restore(ns string, tokens []int, sess *engine.Session) (int, error) {
	if c == nil {
		return 0, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.candidates(ns, tokens) {
		if n.devElem != nil {
			if err := sess.LoadFrom(c.devStore, n.devRow); err != nil {
				return 0, err
			}
			c.dev.MoveToFront(n.devElem)
			c.stats.Hits++
			c.stats.DeviceHits++
			return n.depth, nil
		}
		if st := c.ramOrDisk(n); st != nil {
			if err := sess.SetState(st); err != nil {
				return 0, err
			}
			return n.depth, nil
		}
	}
	c.stats.Misses++
	return 0, nil
}

// Save stores sess's current state as the state after tokens in namespace
// ns (replacing an earlier one): with a device tier, by a device-to-device
// copy into a row of it (the least recently used device state moving down
// to RAM when the tier is full); otherwise as Insert of a copy read from
// the session.
func (c *Cache) Save(ns string, tokens []int, sess *engine.Session) error {
	if c == nil || len(tokens) == 0 {
		return nil
	}
	c.mu.Lock()
	if c.devStore == nil {
		c.mu.Unlock()
		st, err := sess.State()
		if err != nil {
			return err
		}
		c.Insert(ns, tokens, st)
		return nil
	}
	defer c.mu.Unlock()
	// Make room before taking the node: demoting may prune the tree.
	if old := c.find(ns, tokens); len(c.devFree) == 0 && (old == nil || old.devElem == nil) {
		c.demote(c.dev.Back().Value.(*node))
	}
	n := c.nodeFor(ns, tokens)
	c.dropFile(n)
	if n.st != nil {
		c.removeRAM(n)
	}
	if n.devElem == nil {
		n.devRow = c.devFree[len(c.devFree)-1]
		c.devFree = c.devFree[:len(c.devFree)-1]
		n.devElem = c.dev.PushFront(n)
		c.stats.DeviceEntries++
		c.stats.DeviceBytes += c.devStore.RowBytes()
	} else {
		c.dev.MoveToFront(n.devElem)
	}
	c.stats.Inserts++
	if err := sess.SaveTo(c.devStore, n.devRow); err != nil {
		c.removeDev(n)
		c.prune(n)
		return err
	}
	return nil
}

// demote moves n's device state to RAM (which may push older RAM states to
// disk) and frees its row.
func (c *Cache) demote(n *node) {
	st, err := c.devStore.Read(n.devRow)
	c.removeDev(n)
	c.stats.DeviceEvictions++
	if err == nil && stateBytes(st, n.depth) <= c.cfg.MaxBytes && n.st == nil {
		c.store(n, st)
		return
	}
	c.prune(n)
}

// removeDev frees n's device row.
func (c *Cache) removeDev(n *node) {
	if n.devElem == nil {
		return
	}
	c.dev.Remove(n.devElem)
	n.devElem = nil
	c.devFree = append(c.devFree, n.devRow)
	c.stats.DeviceEntries--
	c.stats.DeviceBytes -= c.devStore.RowBytes()
}

// Insert stores a copy of st as the state after tokens in namespace ns
// (replacing an earlier one) and evicts least recently used states beyond
// the byte bound. A state larger than the bound is not stored.
func (c *Cache) Insert(ns string, tokens []int, st *engine.State) {
	if c == nil || st == nil || len(tokens) == 0 {
		return
	}
	size := stateBytes(st, len(tokens))
	if size > c.cfg.MaxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodeFor(ns, tokens)
	if n.file != "" {
		c.dropFile(n)
	}
	if n.st != nil {
		c.removeRAM(n)
	}
	c.removeDev(n)
	c.stats.Inserts++
	c.store(n, st.Clone())
}

// Contains reports whether a state is stored (in either tier) for exactly
// tokens in namespace ns, without counting a lookup.
func (c *Cache) Contains(ns string, tokens []int) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.find(ns, tokens)
	return n != nil && !n.empty()
}

// Tier names where the state for exactly tokens in ns is stored: "device",
// "ram", "disk", or "" when it is not.
func (c *Cache) Tier(ns string, tokens []int) string {
	if c == nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch n := c.find(ns, tokens); {
	case n == nil:
		return ""
	case n.devElem != nil:
		return "device"
	case n.st != nil:
		return "ram"
	case n.file != "":
		return "disk"
	}
	return ""
}

// find returns the node for exactly tokens in ns, or nil.
func (c *Cache) find(ns string, tokens []int) *node {
	n := c.roots[ns]
	for rest := tokens; n != nil; {
		if len(rest) == 0 {
			return n
		}
		ch := n.children[rest[0]]
		if ch == nil || !hasPrefix(rest, ch.edge) {
			return nil
		}
		rest = rest[len(ch.edge):]
		n = ch
	}
	return nil
}

func stateBytes(st *engine.State, keyLen int) int64 {
	return int64(4*len(st.Data)) + int64(8*keyLen) + 128
}

// store puts st at n in RAM and evicts beyond the bound.
func (c *Cache) store(n *node, st *engine.State) {
	n.st = st
	n.bytes = stateBytes(st, n.depth)
	n.ramElem = c.ram.PushFront(n)
	c.stats.Entries++
	c.stats.Bytes += n.bytes
	for c.stats.Bytes > c.cfg.MaxBytes {
		back := c.ram.Back()
		if back == nil {
			break
		}
		v := back.Value.(*node)
		if v == n && c.ram.Len() == 1 {
			break
		}
		c.evict(v)
	}
}

func (c *Cache) removeRAM(n *node) {
	c.ram.Remove(n.ramElem)
	n.ramElem = nil
	n.st = nil
	c.stats.Entries--
	c.stats.Bytes -= n.bytes
	n.bytes = 0
}

// evict drops n's RAM state, writing it to the disk tier when there is one.
func (c *Cache) evict(n *node) {
	st := n.st
	c.removeRAM(n)
	c.stats.Evictions++
	if c.cfg.Dir != "" {
		c.writeFile(n, st) // on failure the state is simply gone
	}
	c.prune(n)
}

// nodeFor returns the node for tokens, creating (and splitting) as needed.
func (c *Cache) nodeFor(ns string, tokens []int) *node {
	n := c.roots[ns]
	if n == nil {
		n = &node{ns: ns, children: map[int]*node{}}
		c.roots[ns] = n
	}
	rest := tokens
	for len(rest) > 0 {
		ch := n.children[rest[0]]
		if ch == nil {
			leaf := &node{ns: ns, edge: append([]int(nil), rest...), parent: n, children: map[int]*node{}, depth: n.depth + len(rest)}
			n.children[rest[0]] = leaf
			return leaf
		}
		k := commonPrefix(rest, ch.edge)
		if k < len(ch.edge) {
			// split ch at k
			mid := &node{ns: ns, edge: ch.edge[:k:k], parent: n, children: map[int]*node{}, depth: n.depth + k}
			ch.edge = append([]int(nil), ch.edge[k:]...)
			ch.parent = mid
			mid.children[ch.edge[0]] = ch
			n.children[mid.edge[0]] = mid
			ch = mid
		}
		rest = rest[k:]
		n = ch
	}
	return n
}

// prune removes n and its ancestors while they hold nothing, and merges a
// state-less node with its only child.
func (c *Cache) prune(n *node) {
	for n != nil && n.parent != nil && n.empty() {
		p := n.parent
		switch len(n.children) {
		case 0:
			delete(p.children, n.edge[0])
		case 1:
			for _, ch := range n.children {
				ch.edge = append(append([]int(nil), n.edge...), ch.edge...)
				ch.parent = p
				p.children[ch.edge[0]] = ch
			}
			return
		default:
			return
		}
		n = p
	}
	if n != nil && n.parent == nil && len(n.children) == 0 {
		delete(c.roots, n.ns)
	}
}

func hasPrefix(s, p []int) bool {
	if len(p) > len(s) {
		return false
	}
	for i := range p {
		if s[i] != p[i] {
			return false
		}
	}
	return true
}

func commonPrefix(a, b []int) int {
	k := 0
	for k < len(a) && k < len(b) && a[k] == b[k] {
		k++
	}
	return k
}

// Disk tier. A file holds a header (magic, version, layers, embd, heads,
// value count) and the state's float32 values, little-endian.

var fileMagic = [8]byte{'R', 'W', 'K', 'V', 'S', 'T', 'C', '1'}

func (c *Cache) writeFile(n *node, st *engine.State) {
	c.seq++
	h := fnv.New64a()
	io.WriteString(h, n.ns)
	name := filepath.Join(c.cfg.Dir, fmt.Sprintf("%016x-%d%s", h.Sum64(), c.seq, fileSuffix))
	buf := make([]byte, 32+4*len(st.Data))
	copy(buf, fileMagic[:])
	binary.LittleEndian.PutUint32(buf[8:], uint32(st.Version))
	binary.LittleEndian.PutUint32(buf[12:], uint32(st.Layers))
	binary.LittleEndian.PutUint32(buf[16:], uint32(st.Embd))
	binary.LittleEndian.PutUint32(buf[20:], uint32(st.Heads))
	binary.LittleEndian.PutUint64(buf[24:], uint64(len(st.Data)))
	for i, v := range st.Data {
		binary.LittleEndian.PutUint32(buf[32+4*i:], math.Float32bits(v))
	}
	if int64(len(buf)) > c.cfg.MaxDiskBytes {
		return
	}
	if err := os.WriteFile(name, buf, 0o644); err != nil {
		os.Remove(name)
		return
	}
	n.file, n.diskBytes = name, int64(len(buf))
	n.diskElem = c.disk.PushFront(n)
	c.stats.DiskFiles++
	c.stats.DiskBytes += n.diskBytes
	for c.stats.DiskBytes > c.cfg.MaxDiskBytes {
		v := c.disk.Back().Value.(*node)
		c.dropFile(v)
		c.prune(v)
	}
}

func (c *Cache) dropFile(n *node) {
	if n.file == "" {
		return
	}
	os.Remove(n.file)
	c.disk.Remove(n.diskElem)
	c.stats.DiskFiles--
	c.stats.DiskBytes -= n.diskBytes
	n.file, n.diskBytes, n.diskElem = "", 0, nil
}

func (c *Cache) readFile(n *node) (*engine.State, error) {
	buf, err := os.ReadFile(n.file)
	if err != nil {
		return nil, err
	}
	if len(buf) < 32 || !strings.HasPrefix(string(buf[:8]), string(fileMagic[:])) {
		return nil, errors.New("statecache: bad state file")
	}
	cnt := binary.LittleEndian.Uint64(buf[24:])
	if uint64(len(buf)-32) != 4*cnt {
		return nil, errors.New("statecache: truncated state file")
	}
	st := &engine.State{
		Version: weights.Version(binary.LittleEndian.Uint32(buf[8:])),
		Layers:  int(binary.LittleEndian.Uint32(buf[12:])),
		Embd:    int(binary.LittleEndian.Uint32(buf[16:])),
		Heads:   int(binary.LittleEndian.Uint32(buf[20:])),
		Data:    make([]float32, cnt),
	}
	for i := range st.Data {
		st.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[32+4*i:]))
	}
	return st, nil
}

// A Cache is the prefix cache of an engine.Engine.
var _ engine.PrefixCache = (*Cache)(nil)
