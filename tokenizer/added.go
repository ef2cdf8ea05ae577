package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// addedToken is an entry of tokenizer.json's added_tokens.
type addedToken struct {
	content    []byte // pattern matched in the input
	id         int
	singleWord bool // only match when not inside a word
	lstrip     bool // also take the whitespace on the left
	rstrip     bool // also take the whitespace on the right
}

// addedMatcher finds added tokens in text by leftmost-longest match.
type addedMatcher struct {
	toks  []addedToken
	root  [256]int32  // child of the root per byte, or -1
	nodes []addedNode // byte trie below the root; nodes[0] is the root
}

type addedNode struct {
	edges []addedEdge // children, unsorted (added tokens are few)
	tok   int32       // index into toks, or -1
}

type addedEdge struct {
	c     byte
	child int32
}

// next returns the child of node n for byte c, or -1.
func (m *addedMatcher) next(n int32, c byte) int32 {
	if n == 0 {
		return m.root[c]
	}
	for _, e := range m.nodes[n].edges {
		if e.c == c {
			return e.child
		}
	}
	return -1
}

func newAddedMatcher(toks []addedToken) *addedMatcher {
	m := &addedMatcher{nodes: []addedNode{{tok: -1}}}
	for i := range m.root {
		m.root[i] = -1
	}
	for _, t := range toks {
		if len(t.content) == 0 {
			continue
		}
		n := int32(0)
		for _, c := range t.content {
			nx := m.next(n, c)
			if nx < 0 {
				nx = int32(len(m.nodes))
				m.nodes = append(m.nodes, addedNode{tok: -1})
				if n == 0 {
					m.root[c] = nx
				} else {
					m.nodes[n].edges = append(m.nodes[n].edges, addedEdge{c, nx})
				}
			}
			n = nx
		}
		if m.nodes[n].tok >= 0 {
			continue // same content twice: the first entry wins
		}
		m.nodes[n].tok = int32(len(m.toks))
		m.toks = append(m.toks, t)
	}
	return m
}

// find returns the leftmost-longest match starting at or after pos, or
// start -1.
func (m *addedMatcher) find(s []byte, pos int) (start, end, tok int) {
	for i := pos; i < len(s); i++ {
		n := m.root[s[i]]
		if n < 0 {
			continue
		}
		best, bestEnd := m.nodes[n].tok, i+1
		for j := i + 1; j < len(s); j++ {
			if n = m.next(n, s[j]); n < 0 {
				break
			}
			if t := m.nodes[n].tok; t >= 0 {
				best, bestEnd = t, j+1
			}
		}
		if best >= 0 {
			return i, bestEnd, int(best)
		}
	}
	return -1, -1, -1
}

// split calls fn for the non-empty pieces of s in order: text between added
// tokens with id -1, and each added token (with the whitespace it strips)
// with its id.
func (m *addedMatcher) split(s []byte, fn func(seg []byte, id int)) {
	if m == nil || len(m.toks) == 0 {
		if len(s) > 0 {
			fn(s, -1)
		}
		return
	}
	done, pos := 0, 0
	for pos < len(s) {
		ms, me, ti := m.find(s, pos)
		if ms < 0 {
			break
		}
		pos = me
		t := &m.toks[ti]
		if t.singleWord {
			startOK := ms == 0 || !endsWithWordChar(s[:ms])
			stopOK := me == len(s) || !startsWithWordChar(s[me:])
			if !startOK || !stopOK {
				continue
			}
		}
		start, stop := ms, me
		if t.lstrip {
			k := start
			for k > done {
				r, n := utf8.DecodeLastRune(s[:k])
				if !unicode.IsSpace(r) {
					break
				}
				k -= n
			}
			start = k
		}
		if t.rstrip {
			for stop < len(s) {
				r, n := utf8.DecodeRune(s[stop:])
				if !unicode.IsSpace(r) {
					break
				}
				stop += n
			}
			pos = stop
		}
		if done < start {
			fn(s[done:start], -1)
		}
		fn(s[start:stop], t.id)
		done = stop
	}
	if done < len(s) {
		fn(s[done:], -1)
	}
}

func endsWithWordChar(s []byte) bool {
	r, _ := utf8.DecodeLastRune(s)
	return isWordChar(r)
}

func startsWithWordChar(s []byte) bool {
	r, _ := utf8.DecodeRune(s)
	return isWordChar(r)
}
