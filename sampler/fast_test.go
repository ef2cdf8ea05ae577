package sampler

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/internal/racetest"
)

// propLogits32 returns random float32 logits of one of several shapes:
// Gaussian, Zipf-like, quantized (many exact ties), with -Inf tokens, with
// tokens far below the rest (weights that underflow to exactly 0), all
// equal, and large magnitudes.
func propLogits32(r *rand.Rand, v int) []float32 {
	l := make([]float32, v)
	shape := r.IntN(7)
	if shape == 1 {
		return zipfLogits(r, v)
	}
	scale := 0.3 + 5*r.Float64()
	for i := range l {
		x := r.NormFloat64() * scale
		switch shape {
		case 2:
			x = math.Round(x*2) / 2
		case 3:
			if r.IntN(3) == 0 {
				x = math.Inf(-1)
			}
		case 4:
			if r.IntN(3) == 0 {
				x = -1000 - 1e4*r.Float64()
			}
		case 5:
			x = 2
		case 6:
			x = x*100 + 1e4
		}
		l[i] = float32(x)
	}
	return l
}

func randConfig(r *rand.Rand, v int) Config {
	c := DefaultConfig()
	c.Seed = r.Uint64()
	pick := func(xs ...float64) float64 { return xs[r.IntN(len(xs))] }
	c.Temperature = pick(0, 0.05, 0.3, 0.7, 1, 1, 1.5)
	c.TopK = []int{0, 0, 1, 2, 5, 40, v, v + 3, 1000, v / 3}[r.IntN(10)]
	c.TopP = pick(1, 1, 0.1, 0.5, 0.9, 0.95, 0.999, r.Float64()*0.98+0.01)
	c.MinP = pick(0, 0, 0.01, 0.05, 0.3, 1, r.Float64())
	c.Typical = pick(1, 1, 0.2, 0.5, 0.9, 0.95, r.Float64()*0.98+0.01)
	if r.IntN(2) == 0 {
		c.RepetitionPenalty = pick(0.8, 1.1, 1.3, 2)
		c.PresencePenalty = pick(0, 0.2, -0.5)
		c.FrequencyPenalty = pick(0, 0.2, 1)
		c.PenaltyDecay = pick(1, 0.99, 0.5)
		c.PenaltyWindow = []int{0, 8, 64}[r.IntN(3)]
	}
	if r.IntN(4) == 0 {
		c.NoRepeatNGram = 1 + r.IntN(3)
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
		c.DRYPenaltyLastN = []int{-1, 0, 16}[r.IntN(3)]
		if r.IntN(2) == 0 {
			c.DRYSequenceBreakers = [][]int{{r.IntN(v)}, {r.IntN(v), r.IntN(v)}}
		}
	}
	if r.IntN(4) == 0 {
		c.NGramPenalty = pick(0.5, 3)
		c.NGramPenaltyN = 2 + r.IntN(2)
	}
	if r.IntN(8) == 0 {
		c.XTCProbability, c.XTCThreshold = pick(0.5, 1), pick(0.05, 0.2)
	}
	if r.IntN(8) == 0 {
		c.TopNSigma = pick(0.5, 1, 3)
	}
	switch r.IntN(6) {
	case 0: // sparse stages permuted: still the fast path
		c.Order = []Stage{StageBias, StageNGram, StagePenalties, StageTemperature, StageTypical, StageMinP, StageTopP, StageTopK}
	case 1: // an order the fast path does not handle
		c.Order = []Stage{StageTopK, StageTemperature, StagePenalties, StageNGram, StageBias, StageTopP, StageMinP, StageTypical}
	}
	return c
}

// Property: Sample (fast path) draws exactly the token of the reference
// pipeline (Process, Softmax, Draw), and fails with the same errors, on many
// random inputs and settings. It also checks that the fast path decides
// almost all of them itself.
func TestSampleFastMatchesReference(t *testing.T) {
	racetest.SkipSequential(t)
	r := rand.New(rand.NewPCG(41, 42))
	const iters = 6000
	decided, eligible := 0, 0
	for it := 0; it < iters; it++ {
		v := 1 + r.IntN(400)
		if it%200 == 0 {
			v = 65536
		}
		logits := propLogits32(r, v)
		hist := make([]int, r.IntN(80))
		for i := range hist {
			hist[i] = r.IntN(v)
			if i > 0 && r.IntN(3) == 0 {
				hist[i] = hist[i-1]
			}
		}
		c := randConfig(r, v)
		s, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		for step := uint64(0); step < 3; step++ {
			got, gerr := s.Sample(logits, hist, 5, step)
			want, werr := s.sampleRef(logits, hist, 5, step, nil)
			if (gerr != nil) != (werr != nil) || (gerr != nil && gerr.Error() != werr.Error()) {
				t.Fatalf("it %d: error %v, reference %v (config %+v)", it, gerr, werr, c)
			}
			if got != want {
				t.Fatalf("it %d step %d: token %d, reference %d (config %+v)", it, step, got, want, c)
			}
			if s.fast && werr == nil {
				eligible++
				if _, ok := s.sampleFast(logits, hist, 5, step); ok {
					decided++
				}
			}
		}
	}
	if eligible == 0 || float64(decided) < 0.95*float64(eligible) {
		t.Fatalf("fast path decided %d of %d eligible draws", decided, eligible)
	}
	t.Logf("fast path decided %d of %d eligible draws", decided, eligible)
}

// The fast path reports invalid input through the reference's errors.
func TestSampleFastErrors(t *testing.T) {
	s := mustNew(t, DefaultConfig())
	bad := [][]float32{{1, float32(math.NaN())}, {float32(math.Inf(1)), 1}}
	for _, l := range bad {
		if _, err := s.Sample(l, nil, 0, 0); err == nil {
			t.Errorf("Sample(%v) accepted invalid logits", l)
		}
	}
	c := DefaultConfig()
	c.TopK = 1
	c.Banned = []int{0}
	// A NaN hidden behind a banned token is still reported.
	if _, err := mustNew(t, c).Sample([]float32{float32(math.NaN()), 1, 2}, nil, 0, 0); err == nil {
		t.Error("NaN at a banned token accepted")
	}
	c.Banned = []int{0, 1, 2}
	if _, err := mustNew(t, c).Sample([]float32{1, 2, 3}, nil, 0, 0); !errors.Is(err, ErrNoCandidates) {
		t.Errorf("all banned: %v", err)
	}
}

// At the benchmark's vocabulary size and on realistic logits, the fast path
// decides every draw of the benchmark settings itself and draws the
// reference's tokens.
func TestSampleFastWorldVocab(t *testing.T) {
	racetest.SkipSequential(t)
	r := rand.New(rand.NewPCG(51, 52))
	const v = 65536
	rows := [][]float32{zipfLogits(r, v), zipfLogits(r, v)}
	hist := benchHistory(r, rows[0], 64)
	settings := map[string]func(*Config){
		"greedy":      func(c *Config) { c.Temperature = 0 },
		"temperature": func(c *Config) { c.Temperature = 0.8 },
		"top_k":       func(c *Config) { c.TopK = 40 },
		"top_p":       func(c *Config) { c.TopP = 0.9 },
		"min_p":       func(c *Config) { c.MinP = 0.05 },
		"typical":     func(c *Config) { c.Typical = 0.9 },
		"penalties": func(c *Config) {
			c.RepetitionPenalty, c.PresencePenalty, c.FrequencyPenalty = 1.1, 0.2, 0.2
			c.PenaltyDecay, c.PenaltyWindow = 0.99, 64
		},
		"combined": func(c *Config) {
			c.Temperature, c.TopK, c.TopP, c.MinP, c.Typical = 0.8, 40, 0.9, 0.05, 0.9
			c.RepetitionPenalty, c.PresencePenalty, c.FrequencyPenalty = 1.1, 0.2, 0.2
		},
	}
	for name, mut := range settings {
		c := DefaultConfig()
		c.Seed = 99
		mut(&c)
		s := mustNew(t, c)
		for step := uint64(0); step < 40; step++ {
			l := rows[step%2]
			id, ok := s.sampleFast(l, hist, 1, step)
			want, err := s.sampleRef(l, hist, 1, step, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !ok || id != want {
				t.Fatalf("%s step %d: fast path (%d, decided %v), reference %d", name, step, id, ok, want)
			}
		}
	}
}

// kthLargestF32 equals the k-th value of a descending sort, on random
// values with and without ties.
func TestKthLargestF32(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for it := 0; it < 2000; it++ {
		n := 1 + r.IntN(3000)
		vals := make([]float32, n)
		for i := range vals {
			switch it % 3 {
			case 0:
				vals[i] = float32(r.NormFloat64())
			case 1:
				vals[i] = float32(r.IntN(7))
			default:
				vals[i] = float32(math.Inf(-1))
				if r.IntN(2) == 0 {
					vals[i] = float32(r.ExpFloat64())
				}
			}
		}
		k := 1 + r.IntN(n)
		sorted := append([]float32(nil), vals...)
		slices.Sort(sorted)
		require.Equal(t, sorted[n-k], kthLargestF32(vals, k), "it %d n %d k %d", it, n, k)
	}
}

// sortIDs sorts long and short lists of distinct ids, and lists with
// repeated ids, as slices.Sort.
func TestSortIDs(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var bits []uint64
	for it := 0; it < 200; it++ {
		v := 1 + r.IntN(70000)
		n := r.IntN(min(v, 20000) + 1)
		ids := make([]int32, 0, n)
		for _, i := range r.Perm(v)[:n] {
			ids = append(ids, int32(i))
		}
		if it%10 == 9 && n > 1 {
			ids[0] = ids[1]
		}
		want := slices.Clone(ids)
		slices.Sort(want)
		bits = sortIDs(ids, v, bits)
		require.Equal(t, want, ids, "it %d v %d n %d", it, v, n)
	}
}

// crossRef is crossSelect by a full sort of the ranking: the id of the first
// token whose inclusive cumulative weight reaches target and the weight
// before it (-1 when the tokens hold less).
func crossRef(cs []cand, target float64) (int32, float64) {
	r := slices.Clone(cs)
	slices.SortFunc(r, func(a, b cand) int {
		if a.k != b.k {
			if a.k > b.k {
				return -1
			}
			return 1
		}
		return int(a.id - b.id)
	})
	cum := 0.0
	for _, c := range r {
		if cum+c.w >= target {
			return c.id, cum
		}
		cum += c.w
	}
	return -1, cum
}

// TestCrossSelectHistogram checks crossSelect on lists long enough for its
// histogram against a full sort: keys with many exact ties (few distinct
// values, one value only, values at the bucket edges), and dyadic weights,
// whose sums are exact in any order, so the cut must be the same token and
// the weight before it equal, also for targets that land exactly on a
// cumulative sum (a tie of the cut with the next token).
func TestCrossSelectHistogram(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 9))
	for trial := range 300 {
		n := crossHistMin + r.IntN(5000)
		cs := make([]cand, n)
		distinct := []int{1, 3, 50, 1 << 20}[trial%4]
		for i := range cs {
			k := float64(r.IntN(distinct))
			if trial%8 >= 4 {
				k = -3 + k*1e-3 // a narrow range of keys
			}
			cs[i] = cand{id: int32(i), k: k, w: float64(1+r.IntN(64)) / 64}
		}
		r.Shuffle(n, func(i, j int) { cs[i], cs[j] = cs[j], cs[i] })
		total := 0.0
		for _, c := range cs {
			total += c.w
		}
		var target float64
		switch trial % 3 {
		case 0:
			target = total * r.Float64()
		case 1: // exactly a cumulative sum of the ranking
			_, before := crossRef(cs, total*r.Float64())
			target = before
		default:
			target = total * (0.9 + 0.1*r.Float64())
		}
		if target <= 0 {
			target = 1.0 / 64
		}
		wantID, wantBefore := crossRef(cs, target)
		got := slices.Clone(cs)
		j, before, ok := crossSelect(got, target)
		require.True(t, ok, "trial %d", trial)
		require.Equal(t, wantID, got[j].id, "trial %d", trial)
		require.Equal(t, wantBefore, before, "trial %d", trial)
		q := slices.Clone(cs)
		jq, beforeQ, okQ := crossSelectQ(q, target, 0)
		require.True(t, okQ)
		require.Equal(t, wantID, q[jq].id, "trial %d", trial)
		require.Equal(t, wantBefore, beforeQ, "trial %d", trial)
	}
	// More than the tokens hold: not found.
	cs := make([]cand, crossHistMin)
	for i := range cs {
		cs[i] = cand{id: int32(i), k: float64(i % 7), w: 0.5}
	}
	_, _, ok := crossSelect(cs, float64(crossHistMin)/2+1)
	require.False(t, ok)
	// Infinite keys: the quickselect alone.
	cs[3].k = math.Inf(-1)
	id, _ := crossRef(cs, 10)
	j, before, ok := crossSelect(cs, 10)
	require.True(t, ok)
	require.Equal(t, id, cs[j].id)
	require.Equal(t, 9.5, before)
}
