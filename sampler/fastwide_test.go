package sampler

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/internal/racetest"
)

// wideConfig returns a random configuration whose truncation keeps
// thousands of tokens of a Zipf-like distribution (top-p or typical mass
// close to 1, Mirostat with a large tau), alone or combined.
func wideConfig(r *rand.Rand, v int) Config {
	c := DefaultConfig()
	c.Seed = r.Uint64()
	pick := func(xs ...float64) float64 { return xs[r.IntN(len(xs))] }
	c.Temperature = pick(0.3, 0.8, 1, 1, 1.5, 2)
	switch r.IntN(9) {
	case 6:
		c.MinP = pick(1e-3, 1e-4, 1e-5)
	case 7:
		c.TopK, c.TopP = []int{1000, 3000}[r.IntN(2)], pick(0.99, 0.999)
	case 8:
		c.TopP, c.MinP, c.Typical = 0.99, pick(1e-4, 1e-5), pick(1, 0.99)
	case 0:
		c.TopP = pick(0.98, 0.99, 0.99, 0.995, 0.999)
	case 1:
		c.Typical = pick(0.98, 0.99, 0.99, 0.995, 0.999)
	case 2:
		c.Mirostat, c.MirostatTau = 2, pick(8, 10, 10, 12, 16)
	case 3:
		c.TopP, c.MinP = 0.99, pick(0.001, 1e-4)
	case 4:
		c.TopP, c.Typical = pick(0.95, 0.99), 0.99
	default:
		c.Typical, c.TopP = 0.99, 0.99
		c.Order = []Stage{StagePenalties, StageNGram, StageBias, StageTemperature, StageTypical, StageTopK, StageMinP, StageTopP}
	}
	if r.IntN(2) == 0 {
		c.RepetitionPenalty = pick(0.8, 1.1, 1.3)
		c.PresencePenalty = pick(0, 0.2, -0.5)
		c.PenaltyWindow = []int{0, 8, 64}[r.IntN(3)]
	}
	if r.IntN(4) == 0 && c.Mirostat == 0 {
		c.XTCProbability, c.XTCThreshold = pick(0.5, 1), pick(0.02, 0.1, 0.3)
	}
	if r.IntN(3) == 0 {
		c.LogitBias = map[int]float64{}
		for j := 0; j < 3; j++ {
			c.LogitBias[r.IntN(v)] = pick(math.Inf(-1), 5, -2, 0.5)
		}
	}
	return c
}

// Property: with wide truncations, Sample returns exactly the reference's
// token on many random logits and settings, and the fast path decides
// almost all of them itself.
func TestSampleFastWideMatchesReference(t *testing.T) {
	racetest.SkipSequential(t)
	r := rand.New(rand.NewPCG(91, 92))
	decided, eligible := 0, 0
	wide0 := wideDraws.Load()
	for it := 0; it < 400; it++ {
		v := 2 + r.IntN(4000)
		if it%20 == 0 {
			v = 65536
		}
		logits := propLogits32(r, v)
		if it%2 == 0 {
			logits = zipfLogits(r, v)
		}
		hist := make([]int, r.IntN(40))
		for i := range hist {
			hist[i] = r.IntN(v)
		}
		c := wideConfig(r, v)
		s := mustNew(t, c)
		for step := uint64(0); step < 3; step++ {
			got, gerr := s.Sample(logits, hist, 2, step)
			want, werr := s.sampleRef(logits, hist, 2, step, nil)
			require.Equal(t, werr, gerr, "it %d: error (config %+v)", it, c)
			require.Equal(t, want, got, "it %d step %d: token (config %+v)", it, step, c)
			if s.fast && werr == nil {
				eligible++
				if _, ok := s.sampleFast(logits, hist, 2, step); ok {
					decided++
				}
			}
		}
	}
	t.Logf("fast path decided %d of %d, %d by a bracketed cut", decided, eligible, wideDraws.Load()-wide0)
	require.GreaterOrEqual(t, float64(decided), 0.9*float64(eligible))
	require.Positive(t, wideDraws.Load()-wide0, "no bracketed cut decided")
}

// nearTieDeltas are the relative offsets of a setting around an exact tie
// that the near-tie tests try: the tie itself, a few ulp and up to 1e-6
// on both sides.
var nearTieDeltas = []float64{0, 1e-16, -1e-16, 1e-14, -1e-14, 1e-12, -1e-12, 1e-10, -1e-10, 1e-8, -1e-8, 1e-6, -1e-6}

// nearTies is a near-tie check: for each delta, set places a setting of c
// at the tie times (1 + delta) (false: skip the delta), and Sample must
// return the reference's token at two steps of sequence seq. It counts the
// draws the fast path left to the reference with |delta| <= tie
// (fellBack) and decided with |delta| >= 1e-6 (decided).
type nearTies struct {
	deltas []float64
	tie    float64
	seq    uint64
	set    func(c *Config, d float64) bool
}

// run runs the check on logits and history hist; label names the case in
// failure messages.
func (nt nearTies) run(t *testing.T, c Config, logits []float32, hist []int, label string) (fellBack, decided int) {
	t.Helper()
	for _, d := range nt.deltas {
		if !nt.set(&c, d) {
			continue
		}
		s := mustNew(t, c)
		for step := uint64(0); step < 2; step++ {
			got, gerr := s.Sample(logits, hist, nt.seq, step)
			want, werr := s.sampleRef(logits, hist, nt.seq, step, nil)
			require.NoError(t, gerr)
			require.NoError(t, werr)
			require.Equal(t, want, got, "%s delta %g step %d (config %+v)", label, d, step, c)
			_, ok := s.sampleFast(logits, hist, nt.seq, step)
			switch {
			case !ok && math.Abs(d) <= nt.tie:
				fellBack++
			case ok && math.Abs(d) >= 1e-6:
				decided++
			}
		}
	}
	return fellBack, decided
}

// minPBiasAt returns a near-tie setter that places token tok by the bias
// at (y - mx)/t = log(minP)*(1+d): at min-p's threshold times (1+d), with
// mx the largest logit and t the temperature.
func minPBiasAt(logits []float32, tok int, mx float32, t float64) func(*Config, float64) bool {
	return func(c *Config, d float64) bool {
		c.LogitBias = map[int]float64{tok: float64(mx) + t*math.Log(c.MinP)*(1+d) - float64(logits[tok])}
		return true
	}
}

// nearTieCase draws iteration it of a near-tie test: Zipf-like logits over
// minV plus up to 4000 tokens (65536 at every every-th iteration) and the
// default configuration with a random seed and, unless temps is empty, one
// of temps as its temperature.
func nearTieCase(r *rand.Rand, it, minV, every int, temps []float64) ([]float32, Config) {
	v := minV + r.IntN(4000)
	if it%every == 0 {
		v = 65536
	}
	logits := zipfLogits(r, v)
	c := DefaultConfig()
	c.Seed = r.Uint64()
	if len(temps) > 0 {
		c.Temperature = temps[r.IntN(len(temps))]
	}
	return logits, c
}

// Near-ties of a wide top-p cut: p set to the reference's cumulative
// probability at some rank, and a few ulp to 1e-6 around it, on Zipf-like
// and quantized logits (exact ties of logit). The fast path must fall
// back or decide exactly as the reference.
func TestSampleFastWideNearTies(t *testing.T) {
	racetest.SkipSequential(t)
	r := rand.New(rand.NewPCG(93, 94))
	fellBack := 0
	for it := 0; it < 24; it++ {
		logits, c := nearTieCase(r, it, 500, 8, []float64{0.8, 1, 1.5})
		if it%3 == 1 {
			for i, x := range logits {
				logits[i] = float32(math.Round(float64(x)*4) / 4)
			}
		}
		l, err := mustNew(t, c).Process(logits, nil)
		require.NoError(t, err)
		p := Softmax(l)
		ranked := survivorsByLogit(l)
		// A rank in the wide part of the ranking: cumulative mass ~0.97-0.999.
		cum, k := 0.0, 0
		goal := 0.97 + 0.029*r.Float64()
		for k < len(ranked)-1 && cum < goal {
			cum += p[ranked[k]]
			k++
		}
		fb, _ := nearTies{nearTieDeltas, 1e-14, 4, topPAt(cum)}.run(t, c, logits, nil, fmt.Sprintf("it %d", it))
		fellBack += fb
	}
	t.Logf("fell back at the tie: %d", fellBack)
	require.Positive(t, fellBack, "the fast path never fell back at a cut tie")
}

// topPAt sets top-p to cum*(1+d) when that is below 1.
func topPAt(cum float64) func(*Config, float64) bool {
	return func(c *Config, d float64) bool {
		c.TopP = cum * (1 + d)
		return c.TopP < 1
	}
}

// At the benchmark's vocabulary size and on realistic logits, the fast path
// decides every draw of the wide benchmark settings itself and draws the
// reference's tokens.
func TestSampleFastWideWorldVocab(t *testing.T) {
	r := rand.New(rand.NewPCG(95, 96))
	const v = 65536
	rows := [][]float32{zipfLogits(r, v), zipfLogits(r, v)}
	hist := benchHistory(r, rows[0], 64)
	settings := map[string]func(*Config){
		"top_p_0.99":     func(c *Config) { c.TopP = 0.99 },
		"typical_0.99":   func(c *Config) { c.Typical = 0.99 },
		"mirostat_tau10": func(c *Config) { c.Mirostat, c.MirostatTau = 2, 10 },
		"top_p_temp":     func(c *Config) { c.Temperature, c.TopP = 1.5, 0.99 },
		"top_p_min_p":    func(c *Config) { c.TopP, c.MinP = 0.99, 0.001 },
		"top_p_typical":  func(c *Config) { c.TopP, c.Typical = 0.95, 0.99 },
		"top_p_penalties": func(c *Config) {
			c.TopP, c.RepetitionPenalty, c.PresencePenalty, c.PenaltyWindow = 0.99, 1.1, 0.2, 64
		},
	}
	wide0 := wideDraws.Load()
	for name, mut := range settings {
		c := DefaultConfig()
		c.Seed = 99
		mut(&c)
		s := mustNew(t, c)
		for step := uint64(0); step < 12; step++ {
			l := rows[step%2]
			id, ok := s.sampleFast(l, hist, 1, step)
			want, err := s.sampleRef(l, hist, 1, step, nil)
			require.NoError(t, err)
			require.True(t, ok, "%s step %d: the fast path did not decide", name, step)
			require.Equal(t, want, id, "%s step %d", name, step)
		}
	}
	// The wide top-p and typical settings alone took the bracketed cut
	// (four of them, 12 draws each), not the collection of every kept
	// token.
	require.GreaterOrEqual(t, wideDraws.Load()-wide0, uint64(48))
}

// Near-ties of a wide Mirostat truncation through Sample (mu = 2*tau): a
// token deep in the ranking at exactly, or a few ulp to 1e-6 away from,
// the surprise bound. The fast path must fall back or decide exactly as
// the reference.
func TestSampleFastWideMirostatNearTies(t *testing.T) {
	racetest.SkipSequential(t)
	r := rand.New(rand.NewPCG(97, 98))
	fellBack := 0
	for it := 0; it < 12; it++ {
		logits, c := nearTieCase(r, it, 2000, 4, []float64{0.8, 1, 1.5})
		c.Mirostat = 2
		l, err := mustNew(t, DefaultConfig()).Process(logits, nil)
		require.NoError(t, err)
		for i := range l {
			l[i] /= c.Temperature
		}
		p := Softmax(l)
		ranked := survivorsByLogit(l)
		tok := ranked[len(ranked)/3+r.IntN(len(ranked)/3)]
		tau := -math.Log2(p[tok]) / 2
		setTau := func(c *Config, d float64) bool { c.MirostatTau = tau * (1 + d); return true }
		fb, _ := nearTies{nearTieDeltas, 1e-14, 6, setTau}.run(t, c, logits, nil, fmt.Sprintf("it %d", it))
		fellBack += fb
	}
	t.Logf("fell back at the tie: %d", fellBack)
	require.Positive(t, fellBack, "the fast path never fell back at a Mirostat tie")
}

// Top-p followed by min-p, with min-p's threshold near aboveE[1] (where
// top-p is skipped when its cut lies below it) and a token placed at, or a
// few ulp to 1e-6 around, the min-p threshold: Sample returns exactly the
// reference's token.
func TestSampleFastTopPMinPNearTies(t *testing.T) {
	r := rand.New(rand.NewPCG(99, 100))
	deltas := []float64{0, 1e-15, -1e-15, 1e-12, -1e-12, 1e-8, -1e-8, 1e-6, -1e-6}
	skipped := 0
	for it := 0; it < 16; it++ {
		logits, c := nearTieCase(r, it, 1000, 4, nil)
		c.TopP = []float64{0.9, 0.99, 0.999}[r.IntN(3)]
		c.MinP = math.Exp([]float64{-7.99, -8.01, -6.9, -4.6}[r.IntN(4)])
		// A token at the min-p threshold: x = max + log(minP).
		mx, tok := float32(math.Inf(-1)), r.IntN(len(logits))
		for _, x := range logits {
			mx = max(mx, x)
		}
		fb, _ := nearTies{deltas, math.Inf(1), 8, minPBiasAt(logits, tok, mx, 1)}.run(t, c, logits, nil, fmt.Sprintf("it %d", it))
		skipped += fb
	}
	t.Logf("left to the reference: %d", skipped)
}

// Near-ties of a wide min-p truncation (thousands of kept tokens), alone
// or after a top-p whose cut lies below it (drawn over the dense sums,
// minPWide), or followed by typical sampling or top-p (applied densely,
// minPFloor): a token placed by the bias at, or a few ulp to 1e-6 around,
// the min-p threshold, and an untouched token at the float32 logit nearest
// to it. The fast path must fall back or decide exactly as the reference,
// and it takes the wide path away from the ties.
func TestSampleFastWideMinPNearTies(t *testing.T) {
	racetest.SkipSequential(t)
	cases := []struct {
		name  string
		seed  uint64
		set   func(r *rand.Rand, it int, c *Config)
		count *atomic.Uint64
	}{
		{"last", 101, func(r *rand.Rand, _ int, c *Config) {
			c.TopP = []float64{1, 1, 0.999, 0.99}[r.IntN(4)]
		}, &wideDraws},
		{"then typical or top-p", 195, func(r *rand.Rand, it int, c *Config) {
			c.Typical = 0.99
			if it%2 == 1 {
				c.Typical, c.TopP = []float64{1, 0.95}[r.IntN(2)], 0.99
				c.Order = []Stage{StagePenalties, StageNGram, StageBias, StageTemperature, StageTopK, StageMinP, StageTopP, StageTypical}
			}
		}, &floorDraws},
	}
	deltas := []float64{0, 1e-15, -1e-15, 1e-12, -1e-12, 1e-10, -1e-10, 1e-8, -1e-8, 1e-6, -1e-6}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(tc.seed, tc.seed+1))
			fellBack := 0
			wide0 := tc.count.Load()
			for it := 0; it < 12; it++ {
				logits, c := nearTieCase(r, it, 4000, 3, []float64{1, 1.5, 2})
				tc.set(r, it, &c)
				c.MinP = math.Exp([]float64{-9.2, -11, -12.5}[r.IntN(3)])
				mx := float32(math.Inf(-1))
				for _, x := range logits {
					mx = max(mx, x)
				}
				tok, near := r.IntN(len(logits)), r.IntN(len(logits))
				// The untouched token's processed logit is the nearest
				// float32 to max + T*log(minP).
				logits[near] = float32(float64(mx) + c.Temperature*math.Log(c.MinP))
				fb, _ := nearTies{deltas, 1e-12, 8, minPBiasAt(logits, tok, mx, c.Temperature)}.run(t, c, logits, nil, fmt.Sprintf("it %d", it))
				fellBack += fb
			}
			t.Logf("fell back at the tie: %d, wide %d", fellBack, tc.count.Load()-wide0)
			require.Positive(t, fellBack, "the fast path never fell back at a min-p tie")
			require.Positive(t, tc.count.Load()-wide0, "no wide min-p")
		})
	}
}

// typicalRanking returns the reference's typical-sampling ranking of the
// processed logits l (score ascending, ties by id) with the inclusive
// cumulative probabilities in that order, as Typical computes them.
func typicalRanking(l []float64) ([]int32, []float64) {
	probs := Softmax(l)
	m := math.Inf(-1)
	for _, x := range l {
		m = math.Max(m, x)
	}
	z := 0.0
	for _, x := range l {
		if !math.IsInf(x, -1) {
			z += math.Exp(x - m)
		}
	}
	logZ := m + math.Log(z)
	ent := 0.0
	idx := finiteIdx(l)
	for _, i := range idx {
		ent -= probs[i] * (l[i] - logZ)
	}
	neg := make([]float64, len(l))
	for _, i := range idx {
		neg[i] = -math.Abs(-(l[i] - logZ) - ent)
	}
	sortRankedCmp(idx, neg)
	cum := make([]float64, len(idx))
	c := 0.0
	for r, i := range idx {
		c += probs[i]
		cum[r] = c
	}
	return idx, cum
}

// Typical sampling of flat distributions (high temperature, Gaussian
// logits), whose kept set excludes the most probable tokens: Sample returns
// exactly the reference's token, the two-sided bracketing decides most
// draws, and at masses a few ulp to 1e-6 around the reference's cumulative
// probability at some rank (near-ties of the cut) it falls back or decides
// exactly.
func TestSampleFastTypicalTwoSided(t *testing.T) {
	racetest.SkipSequential(t)
	r := rand.New(rand.NewPCG(103, 104))
	two0 := twoSidedDraws.Load()
	fellBack, decided, total := 0, 0, 0
	for it := 0; it < 24; it++ {
		v := 3000 + r.IntN(6000)
		if it%6 == 0 {
			v = 65536
		}
		var logits []float32
		if it%2 == 0 {
			logits = zipfLogits(r, v)
		} else {
			logits = make([]float32, v)
			for i := range logits {
				logits[i] = float32(2 * r.NormFloat64())
			}
		}
		if it%5 == 4 {
			for i, x := range logits {
				logits[i] = float32(math.Round(float64(x)*8) / 8) // exact ties
			}
		}
		c := DefaultConfig()
		c.Seed = r.Uint64()
		c.Temperature = []float64{1.5, 2, 3}[r.IntN(3)]
		hist := []int{}
		if it%3 == 2 {
			c.RepetitionPenalty, c.PenaltyWindow = 1.3, 16
			hist = []int{r.IntN(v), r.IntN(v), r.IntN(v)}
		}
		for _, mass := range []float64{0.3, 0.8, 0.95, 0.99} {
			c.Typical = mass
			s := mustNew(t, c)
			for step := uint64(0); step < 3; step++ {
				got, gerr := s.Sample(logits, hist, 3, step)
				want, werr := s.sampleRef(logits, hist, 3, step, nil)
				require.NoError(t, gerr)
				require.NoError(t, werr)
				require.Equal(t, want, got, "it %d mass %g step %d (config %+v)", it, mass, step, c)
				total++
				if _, ok := s.sampleFast(logits, hist, 3, step); ok {
					decided++
				}
			}
		}
		// Near-ties: the mass at the cumulative probability of a rank.
		cc := c
		cc.Typical = 1
		l, err := mustNew(t, cc).Process(logits, hist)
		require.NoError(t, err)
		_, cum := typicalRanking(l)
		rank := len(cum)/4 + r.IntN(len(cum)/2)
		setMass := func(c *Config, d float64) bool { c.Typical = cum[rank] * (1 + d); return true }
		fb, _ := nearTies{nearTieDeltas, 1e-14, 3, setMass}.run(t, c, logits, hist, fmt.Sprintf("it %d", it))
		fellBack += fb
	}
	t.Logf("decided %d of %d, two-sided %d, fell back at the tie %d", decided, total, twoSidedDraws.Load()-two0, fellBack)
	require.Positive(t, fellBack, "the fast path never fell back at a typical tie")
	if _, has8 := denseAbove8(make([]float32, 8), 0, 1, &[8]float64{}); !has8 {
		// Without the eight-threshold kernel the reference decides them.
		require.Zero(t, twoSidedDraws.Load()-two0)
		return
	}
	require.Positive(t, twoSidedDraws.Load()-two0, "no two-sided typical draw")
	require.GreaterOrEqual(t, float64(decided), 0.8*float64(total))
}

// XTC firing after a wide truncation (top-p, min-p or typical keeping
// thousands of tokens): its threshold at, or a few ulp to 1e-6 around, the
// probability of the second or third most probable kept token. Sample
// returns exactly the reference's token; the fast path decides away from
// the ties and falls back or decides exactly at them.
func TestSampleFastWideXTCNearTies(t *testing.T) {
	racetest.SkipSequential(t)
	r := rand.New(rand.NewPCG(105, 106))
	deltas := []float64{0, 1e-15, -1e-15, 1e-12, -1e-12, 1e-9, -1e-9, 1e-6, -1e-6}
	fellBack, decided := 0, 0
	for it := 0; it < 18; it++ {
		logits, c := nearTieCase(r, it, 4000, 3, []float64{0.8, 1, 1.5})
		switch it % 3 {
		case 0:
			c.TopP = []float64{0.99, 0.999}[r.IntN(2)]
		case 1:
			c.MinP = 1e-5
		default:
			c.Typical = 0.99
		}
		l, err := mustNew(t, c).Process(logits, nil)
		require.NoError(t, err)
		p := Softmax(l)
		ranked := survivorsByLogit(l)
		tok := ranked[1+r.IntN(2)]
		c.XTCProbability = 1
		setTh := func(c *Config, d float64) bool {
			c.XTCThreshold = p[tok] * (1 + d)
			return c.XTCThreshold <= 0.5
		}
		fb, dc := nearTies{deltas, 1e-12, 9, setTh}.run(t, c, logits, nil, fmt.Sprintf("it %d", it))
		fellBack += fb
		decided += dc
	}
	t.Logf("fell back at the tie: %d, decided away from it: %d", fellBack, decided)
	require.Positive(t, fellBack, "the fast path never fell back at an XTC tie")
	require.Positive(t, decided, "the fast path never decided XTC after a wide truncation")
}

// Near-ties of a wide top-p cut followed by more stages (typical sampling,
// min-p): p set to the reference's cumulative probability at some rank, and
// a few ulp to 1e-6 around it, on Zipf-like and quantized logits (exact
// ties of logit). The fast path must fall back or decide exactly as the
// reference, and it keeps the tokens above a bracketed cut (topPWideKept)
// away from the ties.
func TestSampleFastWideTopPKeptNearTies(t *testing.T) {
	racetest.SkipSequential(t)
	r := rand.New(rand.NewPCG(193, 194))
	fellBack := 0
	kept0, floor0 := wideKeptCuts.Load(), floorDraws.Load()
	for it := 0; it < 16; it++ {
		logits, c := nearTieCase(r, it, 500, 4, []float64{0.8, 1, 1.5})
		if it%3 == 1 {
			for i, x := range logits {
				logits[i] = float32(math.Round(float64(x)*4) / 4)
			}
		}
		l, err := mustNew(t, c).Process(logits, nil)
		require.NoError(t, err)
		p := Softmax(l)
		ranked := survivorsByLogit(l)
		cum, k := 0.0, 0
		goal := 0.95 + 0.049*r.Float64()
		for k < len(ranked)-1 && cum < goal {
			cum += p[ranked[k]]
			k++
		}
		c.Typical = []float64{0.99, 0.95, 0.999}[r.IntN(3)]
		if it%4 == 3 {
			c.Typical, c.MinP = 1, 1e-5
		}
		fb, _ := nearTies{nearTieDeltas, 1e-14, 4, topPAt(cum)}.run(t, c, logits, nil, fmt.Sprintf("it %d", it))
		fellBack += fb
	}
	t.Logf("fell back at the tie: %d; cuts kept by a bracket: %d, applied densely: %d", fellBack, wideKeptCuts.Load()-kept0, floorDraws.Load()-floor0)
	require.Positive(t, fellBack, "the fast path never fell back at a cut tie")
	require.Positive(t, wideKeptCuts.Load()-kept0, "no top-p cut followed by more stages was bracketed")
	require.Positive(t, floorDraws.Load()-floor0, "no top-p cut was applied densely")
}
