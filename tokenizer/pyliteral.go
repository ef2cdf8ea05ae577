package tokenizer

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// parsePyLiteral decodes a Python string or bytes literal as written by
// repr(): an optional b/B prefix (bytes) or u/U prefix (str), then a single-
// or double-quoted body with backslash escapes. A str literal is returned as
// its UTF-8 encoding; \xhh, \ooo, \uXXXX and \UXXXXXXXX in it are code points.
// In a bytes literal \xhh and \ooo are bytes, and \u, \U and \N are not
// escapes. Unknown escapes keep their backslash, as in Python. Raw literals,
// \N{name}, lone surrogates and non-ASCII characters in bytes literals are
// errors.
func parsePyLiteral(lit []byte) ([]byte, error) {
	isBytes := false
	if len(lit) > 0 {
		switch lit[0] {
		case 'b', 'B':
			isBytes = true
			lit = lit[1:]
		case 'u', 'U':
			lit = lit[1:]
		case 'r', 'R':
			return nil, errors.New("raw string literals are not supported")
		}
	}
	if len(lit) < 2 || (lit[0] != '\'' && lit[0] != '"') || lit[len(lit)-1] != lit[0] {
		return nil, errors.New("not a quoted string literal")
	}
	quote := lit[0]
	body := lit[1 : len(lit)-1]
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); {
		c := body[i]
		if c == quote {
			return nil, fmt.Errorf("unescaped quote at offset %d", i+1)
		}
		if c == '\n' || c == '\r' {
			return nil, errors.New("line break inside literal")
		}
		if c != '\\' {
			if c >= 0x80 {
				if isBytes {
					return nil, errors.New("non-ASCII character in bytes literal")
				}
				r, n := utf8.DecodeRune(body[i:])
				if r == utf8.RuneError && n <= 1 {
					return nil, errors.New("invalid UTF-8 in str literal")
				}
				out = append(out, body[i:i+n]...)
				i += n
				continue
			}
			out = append(out, c)
			i++
			continue
		}
		// Escape sequence.
		if i+1 >= len(body) {
			return nil, errors.New("literal ends in a backslash")
		}
		e := body[i+1]
		i += 2
		switch e {
		case '\\', '\'', '"':
			out = append(out, e)
		case 'a':
			out = append(out, '\a')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, '\v')
		case 'x':
			v, ok := parseHex(body, i, 2)
			if !ok {
				return nil, errors.New(`truncated \x escape`)
			}
			i += 2
			out = appendCode(out, rune(v), isBytes)
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(e - '0')
			for k := 0; k < 2 && i < len(body) && body[i] >= '0' && body[i] <= '7'; k++ {
				v = v*8 + int(body[i]-'0')
				i++
			}
			if isBytes && v > 0xff {
				return nil, errors.New("octal escape out of range in bytes literal")
			}
			out = appendCode(out, rune(v), isBytes)
		case 'u', 'U':
			if isBytes {
				out = append(out, '\\', e)
				continue
			}
			n := 4
			if e == 'U' {
				n = 8
			}
			v, ok := parseHex(body, i, n)
			if !ok {
				return nil, fmt.Errorf(`truncated \%c escape`, e)
			}
			i += n
			if v > utf8.MaxRune || (v >= 0xd800 && v <= 0xdfff) {
				return nil, fmt.Errorf("escape \\%c%0*x is not a valid code point", e, n, v)
			}
			out = utf8.AppendRune(out, rune(v))
		case 'N':
			if isBytes {
				out = append(out, '\\', e)
				continue
			}
			return nil, errors.New(`\N{name} escapes are not supported`)
		default:
			if e >= 0x80 {
				// Keep the backslash and the whole character.
				i--
				out = append(out, '\\')
				continue
			}
			out = append(out, '\\', e)
		}
	}
	return out, nil
}

// appendCode appends v as a byte (bytes literal) or as the UTF-8 encoding of
// the code point v (str literal).
func appendCode(out []byte, v rune, isBytes bool) []byte {
	if isBytes {
		return append(out, byte(v))
	}
	return utf8.AppendRune(out, v)
}

// parseHex reads exactly n hex digits of b starting at i.
func parseHex(b []byte, i, n int) (uint32, bool) {
	if i+n > len(b) {
		return 0, false
	}
	var v uint32
	for _, c := range b[i : i+n] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint32(d)
	}
	return v, true
}
