//go:build linux

package engine

import (
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/rwkvgo/rwkvgo/weights"
)

// TestTruncatedWeightsFile: a model whose memory-mapped weights file is
// truncated after Load (reading the lost pages raises SIGBUS) fails its
// steps with an error wrapping ErrWeightsUnreadable instead of crashing the
// process, whether the pages were read before the truncation or not and
// wherever the file is cut; every later step of that model fails too, and a
// model loaded from another file keeps giving the same logits.
func TestTruncatedWeightsFile(t *testing.T) {
	other, err := Load(writeModel(t, t.TempDir(), weights.F16, false), Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tokens := []int{5, 17, 3, 96, 0, 42, 7, 7}
	feed := func(m *Model) ([]float32, error) {
		s, err := m.NewSession()
		if err != nil {
			return nil, err
		}
		defer s.Close()
		logits, err := s.Feed(tokens)
		return slices.Clone(logits), err
	}
	want, err := feed(other)
	if err != nil {
		t.Fatal(err)
	}
	page := int64(os.Getpagesize())
	for _, c := range []struct {
		name    string
		touched bool                   // a step ran before the truncation
		keep    func(size int64) int64 // the truncated size
	}{
		{"untouched, one page left", false, func(int64) int64 { return page }},
		{"untouched, half left", false, func(n int64) int64 { return n / 2 }},
		{"touched, one page left", true, func(int64) int64 { return page }},
		{"touched, half left", true, func(n int64) int64 { return n / 2 }},
		{"touched, emptied", true, func(int64) int64 { return 0 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeModel(t, t.TempDir(), weights.F16, false)
			m, err := Load(path, Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.wm == nil {
				t.Fatal("no weight is used in place: nothing to test")
			}
			s, err := m.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if c.touched {
				got, err := s.Feed(tokens)
				if err != nil || !slices.Equal(got, want) {
					t.Fatalf("before the truncation: err %v, logits equal to the other model's: %v", err, slices.Equal(got, want))
				}
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, c.keep(st.Size())); err != nil {
				t.Fatal(err)
			}
			if err := m.Err(); err != nil {
				t.Fatalf("Err before a step read the lost pages: %v", err)
			}
			if _, err := s.Feed(tokens); !errors.Is(err, ErrWeightsUnreadable) {
				t.Fatalf("step after the truncation: err = %v, want ErrWeightsUnreadable", err)
			}
			if err := m.Err(); !errors.Is(err, ErrWeightsUnreadable) {
				t.Fatalf("Err after the fault = %v, want ErrWeightsUnreadable", err)
			}
			// The model stays unusable, even for a step that would read
			// nothing lost, and for new sessions.
			if _, err := s.Feed(tokens[:1]); !errors.Is(err, ErrWeightsUnreadable) {
				t.Fatalf("second step: err = %v, want ErrWeightsUnreadable", err)
			}
			if _, err := feed(m); !errors.Is(err, ErrWeightsUnreadable) {
				t.Fatalf("new session: err = %v, want ErrWeightsUnreadable", err)
			}
			// The other model is unaffected.
			if err := other.Err(); err != nil {
				t.Fatalf("other model: Err = %v", err)
			}
			got, err := feed(other)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("other model: err %v, same logits as before: %v", err, slices.Equal(got, want))
			}
			if err := m.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if _, err := s.Feed(tokens); !errors.Is(err, ErrClosed) {
				t.Fatalf("after Close: err = %v, want ErrClosed", err)
			}
		})
	}
}

// TestTruncatedBeforeNew: New (which copies the weights) on a model whose
// mapped file was truncated after weights.Load fails with an error wrapping
// ErrWeightsUnreadable, and the weights can still be closed.
func TestTruncatedBeforeNew(t *testing.T) {
	path := writeModel(t, t.TempDir(), weights.F16, false)
	wm, err := weights.Load(path, weights.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, int64(os.Getpagesize())); err != nil {
		t.Fatal(err)
	}
	m, err := New(wm, Options{Threads: 2})
	if !errors.Is(err, ErrWeightsUnreadable) || m != nil {
		t.Fatalf("New = %v, %v; want nil and ErrWeightsUnreadable", m, err)
	}
	if !errors.Is(err, weights.ErrUnreadable) {
		t.Fatalf("%v is not weights.ErrUnreadable", err)
	}
	if err := wm.Close(); err != nil {
		t.Fatalf("closing the weights: %v", err)
	}
}
