package sampler

import (
	"bytes"
	"errors"
)

// Decoder turns token ids into bytes. StopMatcher decodes one token at a
// time, so the decoder must satisfy decode(a ++ b) == decode(a) ++ decode(b),
// which holds for byte-level tokenizers (RWKV World, byte-level BPE, bytes).
type Decoder func(ids []int) ([]byte, error)

// StopMatcher finds stop strings in decoded output across token boundaries.
// Text is released only once it can no longer be the beginning of a stop
// string; when a stop string appears, the text before it is released and the
// stop string and anything after it are dropped. It is not safe for
// concurrent use.
type StopMatcher struct {
	stops   [][]byte
	decode  Decoder
	pending []byte
	stopped bool
}

// NewStopMatcher returns a matcher for stops. decode may be nil only when
// stops is empty. Empty stop strings are an error.
func NewStopMatcher(stops []string, decode Decoder) (*StopMatcher, error) {
	m := &StopMatcher{decode: decode}
	for _, s := range stops {
		if s == "" {
			return nil, errors.New("sampler: empty stop string")
		}
		m.stops = append(m.stops, []byte(s))
	}
	if decode == nil && len(stops) > 0 {
		return nil, errors.New("sampler: stop strings need a decoder")
	}
	return m, nil
}

// Push decodes token id, appends its bytes to the output, and returns the
// bytes that may now be emitted. stopped is true when a stop string has
// appeared; emit then holds the text before it, and later calls return
// nothing. Without stop strings and without a decoder, Push returns no text.
func (m *StopMatcher) Push(id int) (emit []byte, stopped bool, err error) {
	if m.stopped {
		return nil, true, nil
	}
	if m.decode == nil {
		return nil, false, nil
	}
	b, err := m.decode([]int{id})
	if err != nil {
		return nil, false, err
	}
	m.pending = append(m.pending, b...)
	cut := -1
	for _, s := range m.stops {
		if i := bytes.Index(m.pending, s); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	if cut >= 0 {
		m.stopped = true
		emit = append([]byte(nil), m.pending[:cut]...)
		m.pending = nil
		return emit, true, nil
	}
	hold := 0
	for _, s := range m.stops {
		for k := min(len(s)-1, len(m.pending)); k > hold; k-- {
			if bytes.HasPrefix(s, m.pending[len(m.pending)-k:]) {
				hold = k
				break
			}
		}
	}
	n := len(m.pending) - hold
	emit = append([]byte(nil), m.pending[:n]...)
	m.pending = append(m.pending[:0], m.pending[n:]...)
	return emit, false, nil
}

// Flush returns the held-back text at the end of generation (nothing after a
// stop string matched).
func (m *StopMatcher) Flush() []byte {
	if m.stopped {
		return nil
	}
	b := m.pending
	m.pending = nil
	return b
}

// Stopped reports whether a stop string has matched.
func (m *StopMatcher) Stopped() bool { return m.stopped }
