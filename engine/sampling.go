package engine

import "github.com/rwkvgo/rwkvgo/sampler"

// SamplerModel returns a view of the session for the search strategies of
// package sampler (greedy, sampling, beam and contrastive search). Stepping it
// feeds the session; forks it makes are new sessions, closed by their Close.
func (s *Session) SamplerModel() sampler.Model { return samplerModel{s: s} }

type samplerModel struct {
	s    *Session
	fork bool
}

// Step feeds tokens and returns copies of the logits and the final hidden state.
func (m samplerModel) Step(tokens []int) ([]float32, []float32, error) {
	lg, err := m.s.Feed(tokens)
	if err != nil {
		return nil, nil, err
	}
	return append([]float32(nil), lg...), append([]float32(nil), m.s.hidden...), nil
}

// Fork returns an independent copy backed by a new session.
func (m samplerModel) Fork() (sampler.Model, error) {
	f, err := m.s.Fork()
	if err != nil {
		return nil, err
	}
	return samplerModel{s: f, fork: true}, nil
}

// Close releases forks; the original session stays open.
func (m samplerModel) Close() error {
	if m.fork {
		return m.s.Close()
	}
	return nil
}
