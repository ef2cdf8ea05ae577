package sampler

import (
	"math"
	"math/rand/v2"
	"testing"
)

// zipfLogits returns realistic next-token logits over v tokens: the token of
// rank r (a random permutation of the ids) has logit -1.4*ln(r+1) plus
// Gaussian noise of standard deviation 0.3, so probabilities fall off like a
// Zipf law with exponent about 1.4 (the most probable token has p ~ 0.3 and
// top-p 0.9 keeps a few hundred tokens).
func zipfLogits(r *rand.Rand, v int) []float32 {
	perm := r.Perm(v)
	l := make([]float32, v)
	for rank, id := range perm {
		l[id] = float32(8 - 1.4*math.Log(float64(rank+1)) + 0.3*r.NormFloat64())
	}
	return l
}

// benchHistory returns n history tokens drawn from the most probable tokens
// of logits (as a model repeating itself would), so the penalties hit
// tokens that matter.
func benchHistory(r *rand.Rand, logits []float32, n int) []int {
	top := make([]int, 0, 256)
	for id, x := range logits {
		if x > 2 {
			top = append(top, id)
		}
	}
	h := make([]int, n)
	for i := range h {
		h[i] = top[r.IntN(len(top))]
	}
	return h
}

func benchSample(b *testing.B, mut func(*Config)) {
	const v = 65536
	r := rand.New(rand.NewPCG(7, 11))
	const rows = 16
	logits := make([][]float32, rows)
	for i := range logits {
		logits[i] = zipfLogits(r, v)
	}
	hist := benchHistory(r, logits[0], 64)
	c := DefaultConfig()
	c.Seed = 1
	mut(&c)
	s, err := New(c)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	step := uint64(0)
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := s.Sample(logits[step%rows], hist, 0, step); err != nil {
			b.Fatal(err)
		}
		step++
	}
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// all applies the configuration changes muts in order.
func all(muts ...func(*Config)) func(*Config) {
	return func(c *Config) {
		for _, m := range muts {
			m(c)
		}
	}
}

// The changes several benchmark cases share.
var (
	benchPenalties = func(c *Config) {
		c.RepetitionPenalty, c.PresencePenalty, c.FrequencyPenalty, c.PenaltyWindow = 1.1, 0.2, 0.2, 64
	}
	benchPenaltyDecay = func(c *Config) { c.PenaltyDecay = 0.99 }
	benchDRY          = func(c *Config) { c.DRYMultiplier, c.DRYSequenceBreakers = 0.8, [][]int{{0}} }
	benchHot          = func(c *Config) { c.Temperature = 1.5 }
)

func BenchmarkSampleV65536(b *testing.B) {
	cases := []struct {
		name string
		mut  func(*Config)
	}{
		{"greedy", func(c *Config) { c.Temperature = 0 }},
		{"temperature", func(c *Config) { c.Temperature = 0.8 }},
		{"top_k_40", func(c *Config) { c.TopK = 40 }},
		{"top_p_0.9", func(c *Config) { c.TopP = 0.9 }},
		{"min_p_0.05", func(c *Config) { c.MinP = 0.05 }},
		{"typical_0.9", func(c *Config) { c.Typical = 0.9 }},
		{"penalties", all(benchPenalties, benchPenaltyDecay)},
		{"combined", all(func(c *Config) {
			c.Temperature, c.TopK, c.TopP, c.MinP, c.Typical = 0.8, 40, 0.9, 0.05, 0.9
		}, benchPenalties, benchPenaltyDecay)},
		{"dry", benchDRY},
		{"ngram_penalty", func(c *Config) { c.NGramPenalty, c.NGramPenaltyN = 0.5, 3 }},
		{"xtc", func(c *Config) { c.XTCProbability, c.XTCThreshold = 0.5, 0.1 }},
		{"top_n_sigma", func(c *Config) { c.TopNSigma = 1 }},
		{"mirostat", func(c *Config) { c.Mirostat = 2 }},
		{"top_p_0.99", func(c *Config) { c.TopP = 0.99 }},
		{"typical_0.99", func(c *Config) { c.Typical = 0.99 }},
		{"mirostat_tau10", func(c *Config) { c.Mirostat, c.MirostatTau = 2, 10 }},
		{"top_p_0.99_temperature_1.5", all(benchHot, func(c *Config) { c.TopP = 0.99 })},
		{"top_p_0.99_min_p_0.001", func(c *Config) { c.TopP, c.MinP = 0.99, 0.001 }},
		{"top_p_0.95_typical_0.99", func(c *Config) { c.TopP, c.Typical = 0.95, 0.99 }},
		{"top_p_0.99_penalties", func(c *Config) {
			c.TopP, c.RepetitionPenalty, c.PresencePenalty, c.PenaltyWindow = 0.99, 1.1, 0.2, 64
		}},
		{"top_p_min_p_temperature", func(c *Config) {
			c.Temperature, c.TopP, c.MinP, c.RepetitionPenalty, c.PenaltyWindow = 0.8, 0.9, 0.05, 1.1, 64
		}},
		// Wide cuts: flat distributions (high temperature), top-p and
		// typical masses close to 1, tiny min-p, and their combinations.
		{"temperature_1.5", benchHot},
		{"temperature_2", func(c *Config) { c.Temperature = 2 }},
		{"temperature_1.5_penalties", all(benchHot, benchPenalties)},
		{"top_p_0.999", func(c *Config) { c.TopP = 0.999 }},
		{"top_p_0.95", func(c *Config) { c.TopP = 0.95 }},
		{"top_p_0.99_temperature_2", func(c *Config) { c.Temperature, c.TopP = 2, 0.99 }},
		{"top_p_0.999_temperature_1.5", all(benchHot, func(c *Config) { c.TopP = 0.999 })},
		{"typical_0.99_temperature_1.5", all(benchHot, func(c *Config) { c.Typical = 0.99 })},
		{"typical_0.999", func(c *Config) { c.Typical = 0.999 }},
		{"top_p_0.99_typical_0.99", func(c *Config) { c.TopP, c.Typical = 0.99, 0.99 }},
		{"top_p_0.95_typical_0.99_temperature_1.5", all(benchHot, func(c *Config) { c.TopP, c.Typical = 0.95, 0.99 })},
		{"min_p_0.0001", func(c *Config) { c.MinP = 0.0001 }},
		{"min_p_0.0001_temperature_1.5", all(benchHot, func(c *Config) { c.MinP = 0.0001 })},
		{"top_p_0.99_min_p_0.0001", func(c *Config) { c.TopP, c.MinP = 0.99, 0.0001 }},
		{"min_p_0.001_typical_0.99", func(c *Config) { c.MinP, c.Typical = 0.001, 0.99 }},
		{"top_k_1000_top_p_0.99", func(c *Config) { c.TopK, c.TopP = 1000, 0.99 }},
		{"dry_temperature_1.5", all(benchHot, benchDRY)},
		{"xtc_top_p_0.99", func(c *Config) { c.XTCProbability, c.XTCThreshold, c.TopP = 1, 0.1, 0.99 }},
		{"xtc_temperature_1.5", all(benchHot, func(c *Config) { c.XTCProbability, c.XTCThreshold = 1, 0.01 })},
		{"top_n_sigma_3_temperature_1.5", all(benchHot, func(c *Config) { c.TopNSigma = 3 })},
		{"mirostat_tau10_temperature_1.5", all(benchHot, func(c *Config) { c.Mirostat, c.MirostatTau = 2, 10 })},
		{"all_wide", all(benchHot, func(c *Config) {
			c.TopP, c.MinP, c.Typical = 0.99, 0.0001, 0.99
		}, benchPenalties, benchDRY)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) { benchSample(b, c.mut) })
	}
}
