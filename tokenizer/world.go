package tokenizer

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"sort"
	"strconv"
)

// maxWorldID bounds the ids accepted in a World vocabulary file.
const maxWorldID = 1 << 20

// World is the RWKV World tokenizer: greedy longest match over a vocabulary of
// byte strings. Id 0 is the end-of-text token (it decodes to no bytes and is
// never produced by Encode). Create one with NewWorld or Load.
type World struct {
	// Decode table: the bytes of id i are buf[off[i]:off[i+1]]; known[i]
	// tells whether id i is in the vocabulary.
	buf   []byte
	off   []uint32
	known []bool

	nodes []trieNode // nodes[0] is the root
}

// trieNode is a node of the byte trie. Its children are stored contiguously
// from first, in byte order; bits marks which bytes have a child, and cum[w]
// counts the children for bytes below 64*w.
type trieNode struct {
	bits  [4]uint64
	cum   [4]uint16
	first int32
	tok   int32 // token id ending here, or -1
}

// child returns the index of the child of node n for byte c, or -1.
func (n *trieNode) child(c byte) int32 {
	w := c >> 6
	m := uint64(1) << (c & 63)
	if n.bits[w]&m == 0 {
		return -1
	}
	return n.first + int32(n.cum[w]) + int32(bits.OnesCount64(n.bits[w]&(m-1)))
}

// NewWorld parses an RWKV World vocabulary file: one token per line,
// "<id> <Python str or bytes literal> <byte length>", as in
// rwkv_vocab_v20230424.txt. The literal is parsed (not evaluated) and its
// UTF-8 (str) or raw (bytes) length must match the declared length. Blank
// lines are ignored; ids must be unique and positive (0 is end-of-text),
// token byte strings unique and non-empty, and every single byte must be a
// token so that any input can be encoded.
func NewWorld(data []byte) (*World, error) {
	type entry struct {
		id  int
		tok []byte
	}
	var entries []entry
	maxID := 0
	lineNo := 0
	for len(data) > 0 {
		lineNo++
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		if lineNo == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		sp1 := bytes.IndexByte(line, ' ')
		sp2 := bytes.LastIndexByte(line, ' ')
		if sp1 <= 0 || sp2 <= sp1 {
			return nil, fmt.Errorf("world vocab line %d: want \"id literal length\"", lineNo)
		}
		id, err := strconv.Atoi(string(line[:sp1]))
		if err != nil || id < 0 {
			return nil, fmt.Errorf("world vocab line %d: bad id %q", lineNo, line[:sp1])
		}
		if id == 0 {
			return nil, fmt.Errorf("world vocab line %d: id 0 is reserved for end-of-text", lineNo)
		}
		if id > maxWorldID {
			return nil, fmt.Errorf("world vocab line %d: id %d too large (max %d)", lineNo, id, maxWorldID)
		}
		n, err := strconv.Atoi(string(line[sp2+1:]))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("world vocab line %d: bad byte length %q", lineNo, line[sp2+1:])
		}
		tok, err := parsePyLiteral(bytes.Trim(line[sp1+1:sp2], " \t"))
		if err != nil {
			return nil, fmt.Errorf("world vocab line %d: %w", lineNo, err)
		}
		if len(tok) != n {
			return nil, fmt.Errorf("world vocab line %d: literal has %d bytes, line says %d", lineNo, len(tok), n)
		}
		if n == 0 {
			return nil, fmt.Errorf("world vocab line %d: empty token", lineNo)
		}
		entries = append(entries, entry{id, tok})
		maxID = max(maxID, id)
	}
	if len(entries) == 0 {
		return nil, errors.New("world vocab: no tokens")
	}
	w := &World{
		off:   make([]uint32, maxID+2),
		known: make([]bool, maxID+1),
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].id < entries[j].id })
	total := 0
	for k, e := range entries {
		if k > 0 && entries[k-1].id == e.id {
			return nil, fmt.Errorf("world vocab: duplicate id %d", e.id)
		}
		total += len(e.tok)
	}
	w.buf = make([]byte, 0, total)
	k := 0
	for id := 0; id <= maxID; id++ {
		w.off[id] = uint32(len(w.buf))
		if k < len(entries) && entries[k].id == id {
			w.buf = append(w.buf, entries[k].tok...)
			w.known[id] = true
			k++
		}
	}
	w.off[maxID+1] = uint32(len(w.buf))
	w.known[0] = true // end-of-text, decodes to nothing

	if err := w.buildTrie(); err != nil {
		return nil, err
	}
	return w, nil
}

// buildTrie builds the encoding trie from the decode table.
func (w *World) buildTrie() error {
	// Temporary pointer-free trie: children lists per node.
	type edge struct {
		c     byte
		child int32
	}
	type tmpNode struct {
		edges []edge
		tok   int32
	}
	tmp := []tmpNode{{tok: -1}}
	for id := 1; id < len(w.known); id++ {
		if !w.known[id] {
			continue
		}
		n := int32(0)
		for _, c := range w.token(id) {
			next := int32(-1)
			for _, e := range tmp[n].edges {
				if e.c == c {
					next = e.child
					break
				}
			}
			if next < 0 {
				next = int32(len(tmp))
				tmp = append(tmp, tmpNode{tok: -1})
				tmp[n].edges = append(tmp[n].edges, edge{c, next})
			}
			n = next
		}
		if tmp[n].tok >= 0 {
			return fmt.Errorf("world vocab: ids %d and %d have the same bytes %q", tmp[n].tok, id, w.token(id))
		}
		tmp[n].tok = int32(id)
	}
	for c := 0; c < 256; c++ {
		ok := false
		for _, e := range tmp[0].edges {
			if int(e.c) == c && tmp[e.child].tok >= 0 {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("world vocab: byte 0x%02x is not a token, so some inputs cannot be encoded", c)
		}
	}
	// Breadth-first layout: children of each node are contiguous.
	nodes := make([]trieNode, len(tmp))
	order := []int32{0} // order[newIndex] = tmp index
	for q := 0; q < len(order); q++ {
		t := &tmp[order[q]]
		sort.Slice(t.edges, func(i, j int) bool { return t.edges[i].c < t.edges[j].c })
		nd := &nodes[q]
		nd.tok = t.tok
		nd.first = int32(len(order))
		for _, e := range t.edges {
			nd.bits[e.c>>6] |= 1 << (e.c & 63)
			order = append(order, e.child)
		}
		nd.cum[1] = uint16(bits.OnesCount64(nd.bits[0]))
		nd.cum[2] = nd.cum[1] + uint16(bits.OnesCount64(nd.bits[1]))
		nd.cum[3] = nd.cum[2] + uint16(bits.OnesCount64(nd.bits[2]))
	}
	w.nodes = nodes
	return nil
}

// token returns the bytes of a known id.
func (w *World) token(id int) []byte { return w.buf[w.off[id]:w.off[id+1]] }

// Encode returns the greedy longest-match token ids of text.
func (w *World) Encode(text []byte) []int {
	ids := make([]int, 0, len(text)/3+1)
	nodes := w.nodes
	root := &nodes[0]
	for i := 0; i < len(text); {
		// The first byte always matches (every byte is a token).
		n := root.child(text[i])
		best, bestEnd := nodes[n].tok, i+1
		for j := i + 1; j < len(text); j++ {
			nd := &nodes[n]
			c := text[j]
			m := uint64(1) << (c & 63)
			wd := nd.bits[c>>6]
			if wd&m == 0 {
				break
			}
			n = nd.first + int32(nd.cum[c>>6]) + int32(bits.OnesCount64(wd&(m-1)))
			if t := nodes[n].tok; t >= 0 {
				best, bestEnd = t, j+1
			}
		}
		ids = append(ids, int(best))
		i = bestEnd
	}
	return ids
}

// Decode returns the concatenated bytes of ids. Id 0 (end-of-text) decodes to
// nothing.
func (w *World) Decode(ids []int) ([]byte, error) { return decodeWith(w, ids) }

func (w *World) appendToken(dst []byte, id int) ([]byte, error) {
	if id < 0 || id >= len(w.known) || !w.known[id] {
		return dst, &UnknownIDError{ID: id, Tokenizer: KindWorld}
	}
	return append(dst, w.token(id)...), nil
}

// VocabSize returns the largest id plus one (65530 for
// rwkv_vocab_v20230424.txt; World models pad their vocabulary to 65536).
func (w *World) VocabSize() int { return len(w.known) }

// EndOfText returns 0, the end-of-text id.
func (w *World) EndOfText() (id int, ok bool) { return 0, true }

// Name returns "world".
func (w *World) Name() string { return KindWorld }
