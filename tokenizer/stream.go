package tokenizer

import "unicode/utf8"

// StreamDecoder turns a stream of token ids into text without ever emitting
// part of a UTF-8 character: bytes that begin a character whose remaining
// bytes may still arrive are held back until they do.
//
// Bytes that can never become valid UTF-8 (a stray continuation byte, an
// invalid lead byte, a sequence cut short by a byte that cannot continue it)
// are emitted as they are, not replaced by U+FFFD, so that the concatenation
// of everything Write and Flush return equals Decode of all the ids. Callers
// that need valid UTF-8 can apply strings.ToValidUTF8.
//
// A StreamDecoder is not safe for concurrent use.
type StreamDecoder struct {
	tok     Tokenizer
	pending []byte
}

// NewStreamDecoder returns a streaming decoder for tok.
func NewStreamDecoder(tok Tokenizer) *StreamDecoder {
	return &StreamDecoder{tok: tok}
}

// Write adds one token and returns the text that is now complete (often "").
// An unknown id is an error and leaves the decoder unchanged.
func (d *StreamDecoder) Write(id int) (string, error) {
	var err error
	if a, ok := d.tok.(appender); ok {
		d.pending, err = a.appendToken(d.pending, id)
	} else {
		var b []byte
		b, err = d.tok.Decode([]int{id})
		if err == nil {
			d.pending = append(d.pending, b...)
		}
	}
	if err != nil {
		return "", err
	}
	n := completePrefix(d.pending)
	if n == 0 {
		return "", nil
	}
	out := string(d.pending[:n])
	d.pending = append(d.pending[:0], d.pending[n:]...)
	return out, nil
}

// WriteBytes adds already-decoded bytes (for callers that receive text
// rather than ids, such as a stop-string filter) and returns the text that is
// now complete, with the same holding rule as Write.
func (d *StreamDecoder) WriteBytes(b []byte) string {
	d.pending = append(d.pending, b...)
	n := completePrefix(d.pending)
	if n == 0 {
		return ""
	}
	out := string(d.pending[:n])
	d.pending = append(d.pending[:0], d.pending[n:]...)
	return out
}

// Flush returns the bytes still held back (an incomplete character at the end
// of the stream, emitted as-is) and resets the decoder.
func (d *StreamDecoder) Flush() string {
	out := string(d.pending)
	d.pending = d.pending[:0]
	return out
}

// Pending reports how many bytes are held back.
func (d *StreamDecoder) Pending() int { return len(d.pending) }

// completePrefix returns the length of the longest prefix of p that does not
// end inside a UTF-8 character that may still be completed.
func completePrefix(p []byte) int {
	// An incomplete character is at most 3 bytes long and starts with a
	// lead byte; look for the last lead byte among the final 3 bytes.
	for k := 1; k <= 3 && k <= len(p); k++ {
		c := p[len(p)-k]
		if c < 0x80 {
			return len(p) // ASCII: nothing pending
		}
		if c >= 0xc0 {
			if !utf8.FullRune(p[len(p)-k:]) {
				return len(p) - k
			}
			return len(p)
		}
	}
	return len(p)
}
