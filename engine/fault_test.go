package engine

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/weights"
)

var errInjected = errors.New("injected allocation failure")

// faultyBackend is a counting backend whose allocation number failAt
// (Upload, UploadF32 or New; 1-based) fails: the tensor is still returned
// (and must be freed) and the backend's next Err reports errInjected.
type faultyBackend struct {
	*countingBackend
	allocs, failAt int
	err            error
}

func (f *faultyBackend) alloc(t backend.Tensor) backend.Tensor {
	f.allocs++
	if f.allocs == f.failAt && f.err == nil {
		f.err = errInjected
	}
	return t
}

func (f *faultyBackend) Upload(dt backend.DType, rows, cols int, data []byte) backend.Tensor {
	return f.alloc(f.countingBackend.Upload(dt, rows, cols, data))
}
func (f *faultyBackend) UploadF32(rows, cols int, data []float32) backend.Tensor {
	return f.alloc(f.countingBackend.UploadF32(rows, cols, data))
}
func (f *faultyBackend) New(rows, cols int) backend.Tensor {
	return f.alloc(f.countingBackend.New(rows, cols))
}
func (f *faultyBackend) Err() error {
	if err := f.err; err != nil {
		f.err = nil
		f.countingBackend.Err()
		return err
	}
	return f.countingBackend.Err()
}

// TestAllocationFailures fails each allocation of a scenario in turn (load,
// five sessions, so that the state pool grows, a prompt in each, one
// batched step): the failure is returned, the model and the sessions that
// exist stay usable (a new session computes what it computes without the
// failure, and so do the sessions the failed call did not touch), and
// closing everything frees every handle.
func TestAllocationFailures(t *testing.T) {
	for _, v := range []weights.Version{weights.V4, weights.V52, weights.V7} {
		t.Run(v.String(), func(t *testing.T) {
			f, err := weights.Synthesize(weights.SynthConfig{Version: v, Layers: 1, Embd: 32, Vocab: 40, HeadSize: 16, Seed: 3})
			require.NoError(t, err)
			wm, err := weights.Canonicalize(f, weights.Options{})
			require.NoError(t, err)
			probe := []int{5, 6, 7}
			// scenario returns the model (nil if loading failed), the sessions
			// made and the error that stopped it.
			scenario := func(be backend.Backend, afterPrompt func(i int, s *Session)) (*Model, []*Session, error) {
				m, err := New(wm, Options{Backend: be})
				if err != nil {
					return nil, nil, err
				}
				var ss []*Session
				for i := range 5 {
					s, err := m.NewSession()
					if err != nil {
						return m, ss, err
					}
					ss = append(ss, s)
					if _, err := s.Feed([]int{i + 1, 2, 3}); err != nil {
						return m, ss, err
					}
					if afterPrompt != nil {
						afterPrompt(i, s)
					}
				}
				return m, ss, m.Step([]*Request{{Session: ss[0], Tokens: []int{4}}, {Session: ss[1], Tokens: []int{5, 6}}})
			}
			be := &faultyBackend{countingBackend: newCounting()}
			defer be.Backend.Close()
			states := map[int][]float32{}
			m, _, err := scenario(be, func(i int, s *Session) {
				st, err := s.State()
				require.NoError(t, err)
				states[i] = st.Data
			})
			require.NoError(t, err)
			total := be.allocs
			s, err := m.NewSession()
			require.NoError(t, err)
			l, err := s.Feed(probe)
			require.NoError(t, err)
			want := append([]float32(nil), l...)
			require.NoError(t, m.Close())
			require.Equal(t, 0, be.count())

			for n := 1; n <= total; n++ {
				be.allocs, be.failAt = 0, n
				m, ss, err := scenario(be, nil)
				require.ErrorIs(t, err, errInjected, "allocation %d of %d", n, total)
				if m != nil {
					s, err := m.NewSession()
					require.NoError(t, err, "allocation %d: a new session after the failure", n)
					l, err := s.Feed(probe)
					require.NoError(t, err, "allocation %d: feeding a new session after the failure", n)
					assert.Equal(t, want, l, "allocation %d: logits after the failure", n)
					// The sessions whose prompt completed keep their states
					// (the last one made may have failed in its prompt, the
					// first two in the final batched step).
					for i, s := range ss[:max(len(ss)-1, 0)] {
						if i < 2 && len(ss) == 5 {
							continue
						}
						st, err := s.State()
						require.NoError(t, err)
						assert.Equal(t, states[i], st.Data, "allocation %d: state of session %d", n, i)
					}
					require.NoError(t, m.Close())
				}
				assert.Equal(t, 0, be.count(), "allocation %d: handles left after Close", n)
			}
			t.Logf("%d allocations failed in turn", total)
		})
	}
}
