package sampler

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/internal/racetest"
)

// denseConfig returns a random configuration whose first truncation is
// top-n-sigma, XTC or Mirostat 2.0 (the dense fast paths), with random
// sparse stages before temperature.
func denseConfig(r *rand.Rand, v int) Config {
	c := DefaultConfig()
	c.Seed = r.Uint64()
	pick := func(xs ...float64) float64 { return xs[r.IntN(len(xs))] }
	c.Temperature = pick(0, 0.05, 0.3, 0.7, 1, 1, 1.5)
	switch r.IntN(3) {
	case 0:
		c.TopNSigma = pick(0.1, 0.5, 1, 1, 2, 3, 5*r.Float64())
		if r.IntN(3) == 0 {
			c.TopP = pick(0.5, 0.9)
		}
		if r.IntN(3) == 0 {
			c.XTCProbability, c.XTCThreshold = 1, pick(0.05, 0.2)
		}
	case 1:
		c.XTCProbability = pick(0.5, 1, 1)
		c.XTCThreshold = pick(0.001, 0.01, 0.05, 0.1, 0.2, 0.5, 0.5*r.Float64())
	default:
		if c.Temperature == 0 {
			c.Temperature = 1
		}
		c.Mirostat = 2
		c.MirostatTau = pick(0.5, 2, 5, 5, 8, 12)
		c.MirostatEta = pick(0, 0.1, 0.5)
	}
	if r.IntN(2) == 0 {
		c.RepetitionPenalty = pick(0.8, 1.1, 1.3, 2)
		c.PresencePenalty = pick(0, 0.2, -0.5)
		c.FrequencyPenalty = pick(0, 0.2, 1)
		c.PenaltyWindow = []int{0, 8, 64}[r.IntN(3)]
	}
	if r.IntN(3) == 0 {
		c.LogitBias = map[int]float64{}
		for j := 0; j < 3; j++ {
			c.LogitBias[r.IntN(v)] = pick(math.Inf(-1), 5, -2, 0.5)
		}
	}
	if r.IntN(4) == 0 {
		c.Banned = []int{r.IntN(v), r.IntN(v)}
	}
	if r.IntN(4) == 0 {
		c.DRYMultiplier = pick(0.5, 0.8, 2)
		c.DRYAllowedLength = 1 + r.IntN(3)
	}
	return c
}

// sampleBoth runs Sample (or SampleState with mu) and the reference on the
// same input and requires the same token, error and updated mu; it reports
// whether the fast path decided.
func sampleBoth(t *testing.T, s *Sampler, logits []float32, hist []int, step uint64, mu float64, what string) bool {
	t.Helper()
	st, rst := &State{Mu: mu}, &State{Mu: mu}
	got, gerr := s.SampleState(logits, hist, 3, step, st)
	want, werr := s.sampleRef(logits, hist, 3, step, rst)
	if s.cfg.Mirostat == 0 {
		want, werr = s.sampleRef(logits, hist, 3, step, nil)
	}
	require.Equal(t, werr, gerr, "%s: error (config %+v)", what, s.cfg)
	require.Equal(t, want, got, "%s: token (config %+v)", what, s.cfg)
	require.Equal(t, math.Float64bits(rst.Mu), math.Float64bits(st.Mu), "%s: mu %v, reference %v", what, st.Mu, rst.Mu)
	if werr != nil || !s.fast {
		return false
	}
	_, _, ok := s.sampleFastMu(logits, hist, 3, step, mu)
	return ok
}

// Property: with top-n-sigma, XTC or Mirostat first, Sample and
// SampleState return exactly the reference's token (and Mirostat's next mu)
// on many random logits and settings, and the fast path decides almost all
// of them itself.
func TestSampleFastDenseStagesMatchReference(t *testing.T) {
	racetest.SkipSequential(t)
	r := rand.New(rand.NewPCG(71, 72))
	decided, eligible := 0, 0
	for it := 0; it < 3000; it++ {
		v := 2 + r.IntN(500)
		if it%100 == 0 {
			v = 65536
		}
		logits := propLogits32(r, v)
		hist := make([]int, r.IntN(40))
		for i := range hist {
			hist[i] = r.IntN(v)
		}
		c := denseConfig(r, v)
		s := mustNew(t, c)
		for step := uint64(0); step < 3; step++ {
			mu := MirostatMu0(c.MirostatTau)
			if step > 0 {
				mu = 20 * r.Float64()
			}
			ok := sampleBoth(t, s, logits, hist, step, mu, "random")
			if s.fast {
				eligible++
				if ok {
					decided++
				}
			}
		}
	}
	t.Logf("fast path decided %d of %d", decided, eligible)
	require.GreaterOrEqual(t, float64(decided), 0.9*float64(eligible))
}

// Adversarial near-ties: a token placed (with a float64 logit bias) at or
// within a few ulp to 1e-6 of the top-n-sigma threshold, of the XTC
// probability threshold, or of Mirostat's surprise bound. The fast path
// must fall back or decide exactly as the reference.
func TestSampleFastDenseNearTies(t *testing.T) {
	racetest.SkipSequential(t)
	r := rand.New(rand.NewPCG(73, 74))
	fellBack := [3]int{}
	deltas := []float64{0, 1e-16, -1e-16, 3e-16, -3e-16, 1e-14, -1e-14, 1e-12, -1e-12, 1e-10, -1e-10, 1e-8, -1e-8, 1e-6, -1e-6}
	for it := 0; it < 60; it++ {
		v := 50 + r.IntN(3000)
		if it%20 == 0 {
			v = 65536
		}
		logits := zipfLogits(r, v)
		temp := []float64{0.7, 1, 1.3}[r.IntN(3)]
		tok := r.IntN(v)
		kind := it % 3
		base := DefaultConfig()
		base.Seed = r.Uint64()
		base.Temperature = temp
		switch kind {
		case 0:
			base.TopNSigma = []float64{0.5, 1, 2}[r.IntN(3)]
		case 1:
			base.XTCProbability, base.XTCThreshold = 1, []float64{0.01, 0.05, 0.1}[r.IntN(3)]
		case 2:
			base.Mirostat, base.MirostatTau = 2, 5
		}
		// The bias b that puts tok's processed logit x = (logit+b)/T on the
		// boundary, found by a few fixed-point steps on the reference.
		xAt := func(b float64) float64 { return (float64(logits[tok]) + b) / temp }
		b := 0.0
		var mu float64
		for range 4 {
			c := base
			c.LogitBias = map[int]float64{tok: b}
			c.TopNSigma, c.XTCProbability, c.Mirostat = 0, 0, 0
			l, err := mustNew(t, c).Process(logits, nil)
			require.NoError(t, err)
			switch kind {
			case 0:
				th := nSigmaThreshold(l, base.TopNSigma)
				b += (th - xAt(b)) * temp
			case 1:
				// p_tok = th: exp(x) = th*(Z - w_tok)/(1 - th) in units of max.
				m := l[Argmax(l)]
				rest := 0.0
				for i, x := range l {
					if i != tok {
						rest += math.Exp(x - m)
					}
				}
				want := m + math.Log(base.XTCThreshold*rest/(1-base.XTCThreshold))
				b += (want - xAt(b)) * temp
			case 2:
				p := Softmax(l)
				mu = -math.Log2(p[tok])
			}
		}
		for _, d := range deltas {
			c := base
			c.LogitBias = map[int]float64{tok: b + d*math.Max(1, math.Abs(b))}
			muD := mu
			if kind == 2 {
				c.LogitBias = nil
				muD = mu * (1 + d)
			}
			s := mustNew(t, c)
			for step := uint64(0); step < 2; step++ {
				if !sampleBoth(t, s, logits, nil, step, muD, "near tie") && math.Abs(d) <= 1e-14 {
					fellBack[kind]++
				}
			}
		}
	}
	// The ties are close enough that the fast path must have left some to
	// the reference (top-n-sigma, XTC, Mirostat).
	t.Logf("fell back at the tie: %v", fellBack)
	for kind, n := range fellBack {
		require.Positive(t, n, "kind %d never fell back at a tie", kind)
	}
}

// nSigmaThreshold returns the reference's top-n-sigma threshold of l.
func nSigmaThreshold(l []float64, n float64) float64 {
	maxL, sum, cnt := math.Inf(-1), 0.0, 0
	for _, x := range l {
		if !math.IsInf(x, -1) {
			maxL = math.Max(maxL, x)
			sum += x
			cnt++
		}
	}
	mean := sum / float64(cnt)
	acc := 0.0
	for _, x := range l {
		if !math.IsInf(x, -1) {
			acc += (x - mean) * (x - mean)
		}
	}
	return maxL - n*math.Sqrt(acc/float64(cnt))
}

// At the benchmark's vocabulary size and on realistic logits, the fast path
// decides every draw with top-n-sigma, XTC and Mirostat itself.
func TestSampleFastDenseWorldVocab(t *testing.T) {
	r := rand.New(rand.NewPCG(75, 76))
	const v = 65536
	rows := [][]float32{zipfLogits(r, v), zipfLogits(r, v)}
	hist := benchHistory(r, rows[0], 64)
	settings := map[string]func(*Config){
		"top_n_sigma": func(c *Config) { c.TopNSigma = 1 },
		"xtc":         func(c *Config) { c.XTCProbability, c.XTCThreshold = 0.5, 0.1 },
		"xtc_greedy":  func(c *Config) { c.Temperature, c.XTCProbability, c.XTCThreshold = 0, 1, 0.05 },
		"mirostat":    func(c *Config) { c.Mirostat = 2 },
		"sigma_top_p": func(c *Config) { c.TopNSigma, c.TopP, c.Temperature = 2, 0.9, 0.8 },
	}
	for name, mut := range settings {
		c := DefaultConfig()
		c.Seed = 98
		c.RepetitionPenalty, c.PenaltyWindow = 1.1, 64
		mut(&c)
		s := mustNew(t, c)
		st := s.NewState()
		for step := uint64(0); step < 30; step++ {
			l := rows[step%2]
			id, _, ok := s.sampleFastMu(l, hist, 1, step, st.Mu)
			require.True(t, ok, "%s step %d: the fast path did not decide", name, step)
			rst := &State{Mu: st.Mu}
			want, err := s.sampleRef(l, hist, 1, step, rst)
			require.NoError(t, err)
			require.Equal(t, want, id, "%s step %d", name, step)
			got, err := s.SampleState(l, hist, 1, step, st)
			require.NoError(t, err)
			require.Equal(t, want, got)
			require.Equal(t, rst.Mu, st.Mu, "%s step %d: mu", name, step)
		}
	}
}
