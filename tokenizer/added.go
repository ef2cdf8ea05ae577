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
	first [256]bool   // bytes that start a token
	nodes []addedNode // byte trie; nodes[0] is the root
}

type addedNode struct {
	next map[byte]int32
	tok  int32 // index into toks, or -1
}

func newAddedMatcher(toks []addedToken) *addedMatcher {
	m := &addedMatcher{nodes: []addedNode{{tok: -1}}}
	for _, t := range toks {
		if len(t.content) == 0 {
			continue
		}
		n := int32(0)
		for _, c := range t.content {
			nx, ok := m.nodes[n].next[c]
			if !ok {
				nx = int32(len(m.nodes))
				m.nodes = append(m.nodes, addedNode{tok: -1})
				if m.nodes[n].next == nil {
					m.nodes[n].next = map[byte]int32{}
				}
				m.nodes[n].next[c] = nx
			}
			n = nx
		}
		if m.nodes[n].tok >= 0 {
			continue // same content twice: the first entry wins
		}
		m.nodes[n].tok = int32(len(m.toks))
		m.toks = append(m.toks, t)
		m.first[t.content[0]] = true
	}
	return m
}

// find returns the leftmost-longest match starting at or after pos, or
// start -1.
func (m *addedMatcher) find(s []byte, pos int) (start, end, tok int) {
	for i := pos; i < len(s); i++ {
		if !m.first[s[i]] {
			continue
		}
		n, best, bestEnd := int32(0), int32(-1), 0
		for j := i; j < len(s); j++ {
			nx, ok := m.nodes[n].next[s[j]]
			if !ok {
				break
			}
			n = nx
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
