package tokenizer

import (
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

// Character classes of the GPT-2 pre-tokenizer pattern.
const (
	clsOther  = iota // [^\s\p{L}\p{N}], including invalid UTF-8 bytes
	clsLetter        // \p{L}
	clsNumber        // \p{N}
	clsSpace         // \s
)

var (
	asciiClass [128]uint8
	bmpOnce    sync.Once
	bmpClass   atomic.Pointer[[65536]uint8] // classes of the Basic Multilingual Plane
)

func init() {
	for c := 0; c < 128; c++ {
		asciiClass[c] = classOfRune(rune(c))
	}
}

// initClasses builds the class table of the Basic Multilingual Plane; called
// when a BPE tokenizer is created.
func initClasses() {
	bmpOnce.Do(func() {
		var t [65536]uint8
		for r := range t {
			t[r] = classOfRune(rune(r))
		}
		bmpClass.Store(&t)
	})
}

func classOfRune(r rune) uint8 {
	switch {
	case unicode.IsLetter(r):
		return clsLetter
	case unicode.IsNumber(r):
		return clsNumber
	case unicode.IsSpace(r):
		return clsSpace
	}
	return clsOther
}

// classAt returns the class and byte width of the character at s[i]. An
// invalid UTF-8 byte is a one-byte clsOther character.
func classAt(s []byte, i int) (uint8, int) {
	c := s[i]
	if c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, n := utf8.DecodeRune(s[i:])
	if r == utf8.RuneError && n <= 1 {
		return clsOther, 1
	}
	if tab := bmpClass.Load(); tab != nil && r < 65536 {
		return tab[r], n
	}
	return classOfRune(r), n
}

// splitGPT2 splits s like the GPT-2 / GPT-NeoX byte-level pre-tokenizer
// pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// with leftmost-first alternation, calling fn for each piece in order. The
// pieces cover s exactly.
func splitGPT2(s []byte, fn func(piece []byte)) {
	for i := 0; i < len(s); {
		c := s[i]
		// 's 't 're 've 'm 'll 'd (case-sensitive).
		if c == '\'' && i+1 < len(s) {
			n := 0
			switch s[i+1] {
			case 's', 't', 'm', 'd':
				n = 2
			case 'r':
				if i+2 < len(s) && s[i+2] == 'e' {
					n = 3
				}
			case 'v':
				if i+2 < len(s) && s[i+2] == 'e' {
					n = 3
				}
			case 'l':
				if i+2 < len(s) && s[i+2] == 'l' {
					n = 3
				}
			}
			if n > 0 {
				fn(s[i : i+n])
				i += n
				continue
			}
		}
		cls, w := classAt(s, i)
		start := i
		j := i + w
		if c == ' ' && j < len(s) {
			// " ?X+": a space followed by a letter, number or other run.
			if next, nw := classAt(s, j); next != clsSpace {
				cls = next
				j += nw
			}
		}
		if cls != clsSpace {
			for j < len(s) {
				k, n := classAt(s, j)
				if k != cls {
					break
				}
				j += n
			}
			fn(s[start:j])
			i = j
			continue
		}
		// Whitespace run: \s+(?!\S) leaves the last whitespace character
		// for the next piece when a non-space follows a run of two or more;
		// otherwise \s+ takes the whole run.
		last := i
		for j < len(s) {
			k, n := classAt(s, j)
			if k != clsSpace {
				break
			}
			last = j
			j += n
		}
		if j < len(s) && last > start {
			j = last
		}
		fn(s[start:j])
		i = j
	}
}
