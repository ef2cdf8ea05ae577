package engine

import (
	"context"
	"errors"
	"iter"
	"sync"
)

// Event is one item of a Stream: a generated token, a last piece of text, or
// the end of the request.
type Event struct {
	// Token is the generated token id, or -1 for a piece of text released
	// at the end (held back while it could have begun a stop string) and for
	// the final event.
	Token int
	// Text is the text released (see sampler.StopMatcher); it may end inside
	// a UTF-8 character.
	Text []byte
	// Logprob and TopLogprobs are set when the request asked for them.
	Logprob     float64
	TopLogprobs []TokenLogprob
	// Done marks the final event; Result or Err is set.
	Done   bool
	Result *Result
	Err    error
}

// Stream delivers the output of one submitted request, in order, to one
// reader. The engine never waits for the reader: events are buffered (at
// most one per generated token, plus a text tail and the final event), so a
// slow reader delays nobody else.
//
// Read it in one of three ways: Tokens (an iterator of Token with a final
// error, the simplest), Events or Next (the Event with Done set carries the
// Result: token counts, cached prefix, detector firings), or Result (wait
// for the end). They consume the same events; use one.
type Stream struct {
	mu     sync.Mutex
	events []Event
	head   int
	done   bool
	notify chan struct{}
}

func newStream() *Stream { return &Stream{notify: make(chan struct{}, 1)} }

func (st *Stream) push(ev Event) {
	st.mu.Lock()
	st.events = append(st.events, ev)
	st.mu.Unlock()
	select {
	case st.notify <- struct{}{}:
	default:
	}
}

// Next waits for the next event. It returns false once the final event (Done
// set) has been returned, or when ctx is done first (the request itself
// continues until its own context ends).
func (st *Stream) Next(ctx context.Context) (Event, bool) {
	for {
		st.mu.Lock()
		if st.done {
			st.mu.Unlock()
			return Event{}, false
		}
		if st.head < len(st.events) {
			ev := st.events[st.head]
			st.events[st.head] = Event{}
			st.head++
			if st.head == len(st.events) {
				st.events, st.head = st.events[:0], 0
			}
			st.done = ev.Done
			st.mu.Unlock()
			return ev, true
		}
		st.mu.Unlock()
		select {
		case <-st.notify:
		case <-ctx.Done():
			return Event{}, false
		}
	}
}

// Events iterates over the remaining events, the final one included.
func (st *Stream) Events() iter.Seq[Event] {
	return func(yield func(Event) bool) {
		for {
			ev, ok := st.Next(context.Background())
			if !ok || !yield(ev) {
				return
			}
		}
	}
}

// Tokens iterates over the request's output as it is generated: each
// generated token (ID >= 0, with its Text and, when asked for, Logprob and
// TopLogprobs), a piece of text released at the end (ID -1, Text set), and
// last either a Token with ID -1 and Finish set, paired with a nil error, or,
// when the request failed, Token{ID: -1} paired with the error: the
// context's error (context.Canceled, context.DeadlineExceeded or its cause)
// when the request's context ended, ErrEngineClosed when the engine was
// closed first, a model step's error. Breaking out of the loop does not
// cancel the request: cancel its context for that.
//
//	st, err := e.Submit(ctx, engine.SubmitRequest{Prompt: ids, Sampler: cfg, MaxTokens: 64})
//	if err != nil { ... }
//	for tok, err := range st.Tokens() {
//		if err != nil { return err }
//		if tok.Finish != "" { break } // why it ended
//		use(tok.ID)
//	}
func (st *Stream) Tokens() iter.Seq2[Token, error] {
	return func(yield func(Token, error) bool) {
		for ev := range st.Events() {
			switch {
			case ev.Err != nil:
				yield(Token{ID: -1}, ev.Err)
				return
			case ev.Done:
				yield(Token{ID: -1, Finish: ev.Result.Reason}, nil)
				return
			}
			if !yield(Token{ID: ev.Token, Text: ev.Text, Logprob: ev.Logprob, TopLogprobs: ev.TopLogprobs}, nil) {
				return
			}
		}
	}
}

// Result waits for the end of the request and returns its result or error.
func (st *Stream) Result() (*Result, error) {
	for ev := range st.Events() {
		if ev.Done {
			return ev.Result, ev.Err
		}
	}
	return nil, errors.New("engine: stream already consumed")
}
