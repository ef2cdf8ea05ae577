package sampler

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDRYPenaltiesTable(t *testing.T) {
	const a, b, c, y = 1, 2, 3, 4
	base := DRYParams{Multiplier: 0.5, Base: 2, AllowedLength: 2, PenaltyLastN: -1}
	with := func(mut func(*DRYParams)) DRYParams {
		p := base
		mut(&p)
		return p
	}
	cases := []struct {
		name    string
		history []int
		p       DRYParams
		want    map[int]float64
	}{
		// llama.cpp's example: repeat lengths 0 0 3 1 0 2 0 0 0 for
		// positions 0-8; c follows "a b c" (3), b follows "c" (1 < 2), y
		// follows "b c" (2).
		{"llama.cpp example", []int{a, b, c, c, b, c, y, a, b, c}, base,
			map[int]float64{c: 0.5 * 2, y: 0.5}},
		{"allowed length 3", []int{a, b, c, c, b, c, y, a, b, c}, with(func(p *DRYParams) { p.AllowedLength = 3 }),
			map[int]float64{c: 0.5}},
		{"base 1: flat penalty", []int{a, b, c, c, b, c, y, a, b, c}, with(func(p *DRYParams) { p.Base = 1 }),
			map[int]float64{c: 0.5, y: 0.5}},
		// "1 9 2 3" repeats (length 4): 1 follows it with 0.5*2^2.
		{"no breaker", []int{1, 9, 2, 3, 1, 9, 2, 3}, base, map[int]float64{1: 2}},
		// 9 breaks: the repetition is limited to the 2 tokens after it.
		{"single-token breaker limits", []int{1, 9, 2, 3, 1, 9, 2, 3},
			with(func(p *DRYParams) { p.Breakers = [][]int{{9}} }), map[int]float64{1: 0.5}},
		// A breaker as the newest token leaves nothing to penalise.
		{"breaker at the end", []int{1, 2, 1, 2, 9},
			with(func(p *DRYParams) { p.Breakers = [][]int{{9}} }), nil},
		// A one-token breaker is never penalised itself.
		{"breaker candidate exempt", []int{5, 6, 7, 5, 6},
			with(func(p *DRYParams) { p.Breakers = [][]int{{7}} }), map[int]float64{}},
		{"candidate without breaker", []int{5, 6, 7, 5, 6}, base, map[int]float64{7: 0.5}},
		// Multi-token breaker 8 9: "8 1 2" has no 9 after 8, so no limit.
		{"partial multi-token breaker", []int{8, 1, 2, 8, 1, 2},
			with(func(p *DRYParams) { p.Breakers = [][]int{{8, 9}} }), map[int]float64{8: 1}},
		// "8 9" occurs with 1 token after it: limit 1 < allowed length.
		{"multi-token breaker", []int{1, 8, 9, 1, 8, 9, 1},
			with(func(p *DRYParams) { p.Breakers = [][]int{{8, 9}} }), nil},
		{"window", []int{a, b, c, a, b}, with(func(p *DRYParams) { p.PenaltyLastN = 3 }), map[int]float64{}},
		{"whole history", []int{a, b, c, a, b}, base, map[int]float64{c: 0.5}},
		{"multiplier 0 is off", []int{a, b, c, a, b}, with(func(p *DRYParams) { p.Multiplier = 0 }), nil},
		{"last n 0 is off", []int{a, b, c, a, b}, with(func(p *DRYParams) { p.PenaltyLastN = 0 }), nil},
		{"too short", []int{a, b}, base, nil},
	}
	for _, tc := range cases {
		got := DRYPenalties(tc.history, tc.p)
		if len(got) == 0 && len(tc.want) == 0 {
			continue
		}
		assert.Equal(t, tc.want, got, tc.name)
	}
}

// The exponent is capped at floor(88.7228391/ln(base)): 127 for base 2
// (88.7228391 is just below 128*ln 2 = 88.7228392).
func TestDRYExponentCap(t *testing.T) {
	h := make([]int, 300)
	got := DRYPenalties(h, DRYParams{Multiplier: 1, Base: 2, AllowedLength: 2, PenaltyLastN: -1})
	require.Len(t, got, 1)
	assert.Equal(t, math.Pow(2, 127), got[0])
}

// DRYPenalties agrees with a quadratic reference of steps 3 and 4 on random
// histories with repetitions (no breakers).
func TestDRYMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	for it := 0; it < 500; it++ {
		h := make([]int, 1+r.IntN(60))
		for i := range h {
			h[i] = r.IntN(4)
			if i >= 3 && r.IntN(2) == 0 {
				h[i] = h[i-3]
			}
		}
		p := DRYParams{Multiplier: 1, Base: 1.5, AllowedLength: 1 + r.IntN(3), PenaltyLastN: -1}
		want := map[int]float64{}
		best := map[int]int{}
		n := len(h)
		for j := 0; j < n-1; j++ {
			m := 0
			for m <= j && h[j-m] == h[n-1-m] {
				m++
			}
			if m >= p.AllowedLength && m > best[h[j+1]] {
				best[h[j+1]] = m
			}
		}
		for tok, m := range best {
			want[tok] = math.Pow(1.5, float64(m-p.AllowedLength))
		}
		got := DRYPenalties(h, p)
		if len(got) == 0 && len(want) == 0 {
			continue
		}
		require.Equal(t, want, got, "history %v allowed %d", h, p.AllowedLength)
	}
}

func TestNGramPenaltyTable(t *testing.T) {
	cases := []struct {
		name    string
		history []int
		n, last int
		want    map[int]int
	}{
		{"two continuations", []int{1, 2, 3, 1, 2, 4, 1, 2}, 3, 0, map[int]int{3: 1, 4: 1}},
		{"counted twice", []int{1, 2, 3, 1, 2, 3, 1, 2}, 3, 0, map[int]int{3: 2}},
		{"bigram", []int{1, 2, 3, 1, 2, 3, 1, 2}, 2, 0, map[int]int{3: 2}},
		{"window", []int{1, 2, 3, 1, 2, 3, 1, 2}, 3, 4, nil},
		{"window keeps the last", []int{1, 2, 3, 1, 2, 3, 1, 2}, 3, 6, map[int]int{3: 1}},
		{"no match", []int{1, 2, 3, 4}, 3, 0, nil},
		{"too short", []int{1}, 3, 0, nil},
		{"n 1 is not an n-gram penalty", []int{1, 1}, 1, 0, nil},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, NGramCounts(tc.history, tc.n, tc.last), tc.name)
	}
	l := []float64{0, 0, 0, 5, 1}
	NGramPenalty(l, []int{1, 2, 3, 1, 2, 3, 1, 2}, 0.75, 3, 0)
	assert.Equal(t, []float64{0, 0, 0, 5 - 1.5, 1}, l)
}

func TestTopNSigmaTable(t *testing.T) {
	// Finite logits 1 2 3 4: mean 2.5, population sd sqrt(1.25) = 1.118.
	base := []float64{inf, 1, 2, 3, 4}
	cases := []struct {
		n    float64
		want []int
	}{
		{0, []int{1, 2, 3, 4}},
		{0.5, []int{4}},        // 4 - 0.559
		{1, []int{3, 4}},       // 4 - 1.118 = 2.882
		{2, []int{2, 3, 4}},    // 1.764
		{3, []int{1, 2, 3, 4}}, // 0.646
	}
	for _, c := range cases {
		l := slices.Clone(base)
		TopNSigma(l, c.n)
		assert.Equal(t, c.want, kept(l), "n=%v", c.n)
	}
	one := []float64{inf, 2}
	TopNSigma(one, 1)
	assert.Equal(t, []int{1}, kept(one))
}

func TestXTCTable(t *testing.T) {
	base := logs(0.4, 0.3, 0.2, 0.1)
	cases := []struct {
		name               string
		threshold, prob, u float64
		want               []int
	}{
		{"removes all above but the least", 0.15, 1, 0.5, []int{2, 3}},
		{"threshold between", 0.25, 1, 0.5, []int{1, 2, 3}},
		{"one above: unchanged", 0.35, 1, 0.5, []int{0, 1, 2, 3}},
		{"not drawn: unchanged", 0.15, 0.3, 0.5, []int{0, 1, 2, 3}},
		{"drawn at equality", 0.15, 0.5, 0.5, []int{2, 3}},
		{"threshold above 0.5: off", 0.6, 1, 0, []int{0, 1, 2, 3}},
		{"probability 0: off", 0.15, 0, 0, []int{0, 1, 2, 3}},
	}
	for _, c := range cases {
		l := slices.Clone(base)
		XTC(l, c.threshold, c.prob, c.u)
		assert.Equal(t, c.want, kept(l), c.name)
	}
	// Ties rank by id: of three equal tokens above the threshold the
	// highest id stays.
	l := logs(0.3, 0.3, 0.3, 0.1)
	XTC(l, 0.2, 1, 0)
	assert.Equal(t, []int{2, 3}, kept(l))
}

func TestMirostatTable(t *testing.T) {
	// Surprises: 1, 2, 3, 3 bits.
	base := logs(0.5, 0.25, 0.125, 0.125)
	cases := []struct {
		mu   float64
		want []int
	}{
		{10, []int{0, 1, 2, 3}},
		{3, []int{0, 1, 2, 3}},
		{2.5, []int{0, 1}},
		{1, []int{0}},
		{0.5, []int{0}}, // nothing within mu: the most probable stays
	}
	for _, c := range cases {
		l := slices.Clone(base)
		MirostatTruncate(l, c.mu)
		assert.Equal(t, c.want, kept(l), "mu=%v", c.mu)
	}
	// Surprise 2 bits, target 5: mu rises by eta*3.
	assert.InDelta(t, 10.3, MirostatUpdate(10, 5, 0.1, 0.25), 1e-12)
	assert.Equal(t, 10.0, MirostatMu0(5))
}

// Mirostat through the Sampler: the state starts at 2*tau, each draw
// truncates with the current mu and moves mu by eta*(tau - surprise), and
// the same seed reproduces the same tokens and mu.
func TestSampleStateMirostat(t *testing.T) {
	c := DefaultConfig()
	c.Mirostat, c.MirostatTau, c.MirostatEta, c.Seed = 2, 3, 0.5, 17
	s := mustNew(t, c)
	r := rand.New(rand.NewPCG(71, 72))
	logits := randLogits(r, 50)
	run := func() ([]int, []float64) {
		st := s.NewState()
		require.Equal(t, 6.0, st.Mu)
		var ids []int
		var mus []float64
		for step := uint64(0); step < 20; step++ {
			p, err := s.ProbsAt(logits, nil, 0, step, st)
			require.NoError(t, err)
			for i, x := range p {
				if x > 0 {
					require.LessOrEqual(t, -math.Log2(Softmax(to64(logits))[i]), st.Mu+1e-9, "token %d kept above mu", i)
				}
			}
			mu := st.Mu
			id, err := s.SampleState(logits, nil, 0, step, st)
			require.NoError(t, err)
			require.Greater(t, p[id], 0.0)
			require.InDelta(t, MirostatUpdate(mu, 3, 0.5, p[id]), st.Mu, 1e-12)
			ids = append(ids, id)
			mus = append(mus, st.Mu)
		}
		return ids, mus
	}
	ids1, mus1 := run()
	ids2, mus2 := run()
	assert.Equal(t, ids1, ids2)
	assert.Equal(t, mus1, mus2)
}

// XTC applies at a step exactly when XTCUniform(seed, seq, step) <=
// probability, so runs are reproducible and the rate is the probability.
func TestXTCDrawIsPhilox(t *testing.T) {
	c := DefaultConfig()
	c.XTCProbability, c.XTCThreshold, c.Seed = 0.5, 0.1, 5
	s := mustNew(t, c)
	logits := []float32{2, 1.9, 1.8, -3}
	applied := 0
	for step := uint64(0); step < 400; step++ {
		l, err := s.ProcessAt(logits, nil, 3, step, nil)
		require.NoError(t, err)
		did := math.IsInf(l[0], -1)
		require.Equal(t, XTCUniform(5, 3, step) <= 0.5, did, "step %d", step)
		if did {
			applied++
			require.Equal(t, []int{2, 3}, kept(l))
		}
		a, _ := s.Sample(logits, nil, 3, step)
		b, _ := s.Sample(logits, nil, 3, step)
		require.Equal(t, a, b)
	}
	assert.InDelta(t, 200, applied, 40)
	assert.NotEqual(t, XTCUniform(5, 3, 0), Uniform(5, 3, 0))
}

// Every new sampler at its neutral setting, with its other parameters set
// to arbitrary valid values, leaves the distribution unchanged.
func TestNewSamplersNeutral(t *testing.T) {
	r := rand.New(rand.NewPCG(81, 82))
	neutral := map[string]func(*Config){
		"dry off":         func(c *Config) { c.DRYBase, c.DRYAllowedLength, c.DRYPenaltyLastN = 3, 1, 5 },
		"dry last n 0":    func(c *Config) { c.DRYMultiplier, c.DRYPenaltyLastN = 2, 0 },
		"xtc off":         func(c *Config) { c.XTCThreshold = 0.01 },
		"xtc above 0.5":   func(c *Config) { c.XTCProbability, c.XTCThreshold = 1, 0.51 },
		"top-n-sigma off": func(c *Config) { c.TopNSigma = 0 },
		"mirostat off":    func(c *Config) { c.MirostatTau, c.MirostatEta = 1, 1 },
		"ngram off":       func(c *Config) { c.NGramPenaltyN, c.NGramPenaltyLastN = 2, 3 },
		"breakers alone":  func(c *Config) { c.DRYSequenceBreakers = [][]int{{1}, {2, 3}} },
	}
	ref := mustNew(t, DefaultConfig())
	for it := 0; it < 20; it++ {
		logits := randLogits(r, 40)
		hist := make([]int, 30)
		for i := range hist {
			hist[i] = r.IntN(5)
		}
		want, err := ref.Probs(logits, hist)
		require.NoError(t, err)
		for name, mut := range neutral {
			c := DefaultConfig()
			mut(&c)
			s := mustNew(t, c)
			got, err := s.ProbsAt(logits, hist, 1, uint64(it), s.NewState())
			require.NoError(t, err)
			require.True(t, reflect.DeepEqual(want, got), "%s changed the distribution", name)
		}
	}
}

// The new samplers change the distribution when on (the tests above would
// pass for an implementation that ignored them otherwise).
func TestNewSamplersActive(t *testing.T) {
	logits := []float32{1, 2, 3, 0.5, 0}
	hist := []int{1, 2, 3, 1, 2}
	on := map[string]func(*Config){
		"dry":         func(c *Config) { c.DRYMultiplier = 1 },
		"ngram":       func(c *Config) { c.NGramPenalty, c.NGramPenaltyN = 1, 3 },
		"top-n-sigma": func(c *Config) { c.TopNSigma = 0.5 },
		"xtc":         func(c *Config) { c.XTCProbability, c.XTCThreshold = 1, 0.1 },
		"mirostat":    func(c *Config) { c.Mirostat, c.MirostatTau = 2, 0.5 },
	}
	want, _ := mustNew(t, DefaultConfig()).Probs(logits, hist)
	for name, mut := range on {
		c := DefaultConfig()
		mut(&c)
		got, err := mustNew(t, c).Probs(logits, hist)
		require.NoError(t, err)
		assert.NotEqual(t, want, got, name)
	}
	// DRY: token 3 follows the repeated "1 2" (length 2 = the allowed
	// length): penalised by 0.8*1.75^0.
	c := DefaultConfig()
	c.DRYMultiplier = 0.8
	l, err := mustNew(t, c).Process(logits, hist)
	require.NoError(t, err)
	assert.True(t, nearSlice(l, []float64{1, 2, 3, 0.5 - 0.8, 0}), "DRY logits %v", l)
}

func TestNewSamplersValidation(t *testing.T) {
	bad := map[string]func(*Config){
		"dry multiplier negative": func(c *Config) { c.DRYMultiplier = -1 },
		"dry multiplier nan":      func(c *Config) { c.DRYMultiplier = math.NaN() },
		"dry base below 1":        func(c *Config) { c.DRYMultiplier, c.DRYBase = 1, 0.9 },
		"dry base inf":            func(c *Config) { c.DRYMultiplier, c.DRYBase = 1, math.Inf(1) },
		"dry allowed length 0":    func(c *Config) { c.DRYMultiplier, c.DRYAllowedLength = 1, 0 },
		"dry last n -2":           func(c *Config) { c.DRYPenaltyLastN = -2 },
		"dry empty breaker":       func(c *Config) { c.DRYSequenceBreakers = [][]int{{}} },
		"dry negative breaker":    func(c *Config) { c.DRYSequenceBreakers = [][]int{{1, -1}} },
		"dry text not encoded":    func(c *Config) { c.DRYBreakerText = []string{"\n"} },
		"xtc probability > 1":     func(c *Config) { c.XTCProbability = 1.5 },
		"xtc probability < 0":     func(c *Config) { c.XTCProbability = -0.1 },
		"xtc threshold > 1":       func(c *Config) { c.XTCThreshold = 2 },
		"xtc threshold nan":       func(c *Config) { c.XTCThreshold = math.NaN() },
		"top-n-sigma negative":    func(c *Config) { c.TopNSigma = -1 },
		"top-n-sigma inf":         func(c *Config) { c.TopNSigma = math.Inf(1) },
		"mirostat 1":              func(c *Config) { c.Mirostat = 1 },
		"mirostat 3":              func(c *Config) { c.Mirostat = 3 },
		"mirostat tau 0":          func(c *Config) { c.Mirostat, c.MirostatTau = 2, 0 },
		"mirostat eta negative":   func(c *Config) { c.Mirostat, c.MirostatEta = 2, -0.1 },
		"mirostat greedy":         func(c *Config) { c.Mirostat, c.Temperature = 2, 0 },
		"mirostat with top-k":     func(c *Config) { c.Mirostat, c.TopK = 2, 40 },
		"mirostat with top-p":     func(c *Config) { c.Mirostat, c.TopP = 2, 0.9 },
		"mirostat with xtc":       func(c *Config) { c.Mirostat, c.XTCProbability = 2, 0.5 },
		"ngram negative":          func(c *Config) { c.NGramPenalty = -1 },
		"ngram n 1":               func(c *Config) { c.NGramPenalty, c.NGramPenaltyN = 1, 1 },
		"ngram last n negative":   func(c *Config) { c.NGramPenaltyLastN = -1 },
		"order dry twice":         func(c *Config) { c.Order = append(slices.Clone(DefaultOrder), StageDRY, StageDRY) },
	}
	for name, mut := range bad {
		c := DefaultConfig()
		mut(&c)
		_, err := New(c)
		assert.Error(t, err, name)
	}
	good := DefaultConfig()
	good.Order = []Stage{StageXTC, StageTopNSigma, StagePenalties, StageNGram, StageBias, StageTemperature,
		StageTopK, StageTopP, StageMinP, StageTypical}
	_, err := New(good)
	assert.NoError(t, err)
}

func TestFullOrder(t *testing.T) {
	assert.Equal(t, []Stage{StagePenalties, StageDRY, StageNGramPenalty, StageNGram, StageBias, StageTemperature,
		StageTopNSigma, StageTopK, StageTopP, StageMinP, StageTypical, StageXTC}, FullOrder(nil))
	custom := []Stage{StageTemperature, StageXTC, StagePenalties, StageNGram, StageBias, StageTopK, StageTopP, StageMinP, StageTypical}
	assert.Equal(t, []Stage{StageTemperature, StageTopNSigma, StageXTC, StagePenalties, StageDRY, StageNGramPenalty,
		StageNGram, StageBias, StageTopK, StageTopP, StageMinP, StageTypical}, FullOrder(custom))
}

func TestFusedSupported(t *testing.T) {
	assert.NoError(t, (&Config{Typical: 1, TopP: 0.9, TopK: 40, MinP: 0.1, RepetitionPenalty: 1.2}).FusedSupported())
	d := DefaultConfig()
	assert.NoError(t, d.FusedSupported(), "defaults")
	for name, mut := range map[string]func(*Config){
		"dry":          func(c *Config) { c.DRYMultiplier = 0.8 },
		"xtc":          func(c *Config) { c.XTCProbability = 0.5 },
		"top-n-sigma":  func(c *Config) { c.TopNSigma = 1 },
		"mirostat":     func(c *Config) { c.Mirostat = 2 },
		"ngram":        func(c *Config) { c.NGramPenalty = 1 },
		"typical":      func(c *Config) { c.Typical = 0.9 },
		"window":       func(c *Config) { c.PenaltyWindow = 64 },
		"no-repeat":    func(c *Config) { c.NoRepeatNGram = 3 },
		"custom order": func(c *Config) { c.Order = FullOrder(nil) },
	} {
		c := DefaultConfig()
		mut(&c)
		assert.Error(t, c.FusedSupported(), name)
	}
}

func TestEncodeDRYBreakers(t *testing.T) {
	c := DefaultConfig()
	c.DRYMultiplier = 1
	c.DRYBreakerText = []string{"\n", "ab"}
	_, err := New(c)
	require.Error(t, err)
	require.NoError(t, c.EncodeDRYBreakers(BytesEncoder))
	assert.Equal(t, [][]int{{'\n'}, {'a', 'b'}}, c.DRYSequenceBreakers)
	assert.Nil(t, c.DRYBreakerText)
	_, err = New(c)
	require.NoError(t, err)
	c.DRYBreakerText = []string{"x"}
	assert.Error(t, c.EncodeDRYBreakers(func([]byte) []int { return nil }))
}

// llama.cpp's breaker processing: tokens containing the string are
// one-token breakers; tokens ending with a prefix of it start a breaker
// continued by the encoding of the rest.
func TestResolveDRYBreakers(t *testing.T) {
	vocab := []string{"a", "b", "\n", "x\n\ny", "ab:", "c:", ":", "za"}
	decode := func(id int) ([]byte, error) { return []byte(vocab[id]), nil }
	encode := func(b []byte) []int { // one token per known single-byte text
		var ids []int
		for _, x := range b {
			ids = append(ids, slices.Index(vocab, string(x)))
		}
		return ids
	}
	c := DefaultConfig()
	c.DRYMultiplier = 1
	c.DRYBreakerText = []string{":", "ab"}
	require.NoError(t, c.ResolveDRYBreakers(len(vocab), decode, encode))
	assert.Nil(t, c.DRYBreakerText)
	// ":" is inside ab:, c: and :; "ab" is inside ab:, and a, za end with
	// its prefix "a" (continued by b).
	assert.Equal(t, [][]int{{4}, {5}, {6}, {0, 1}, {7, 1}}, c.DRYSequenceBreakers)
	_, err := New(c)
	require.NoError(t, err)
}
