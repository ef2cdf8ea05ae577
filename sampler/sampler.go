package sampler

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrNoCandidates is returned when every token has been filtered out (for
// example all tokens banned), so nothing can be drawn.
var ErrNoCandidates = errors.New("sampler: every token is filtered out")

// Sampler turns logits into a token following a validated Config. It holds
// no mutable state: a Sampler is safe for concurrent use, and the result of
// Sample depends only on its arguments and the Config. The per-sequence
// state of Mirostat lives in a State (see SampleState).
type Sampler struct {
	cfg    Config
	order  []Stage // FullOrder of the configured order
	stops  map[int]bool
	banned []int
	dry    DRYParams
	fast   bool // the stage order and settings suit the fast path of Sample
}

// New validates cfg and returns a Sampler. cfg is copied.
func New(cfg Config) (*Sampler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.clone()
	s := &Sampler{cfg: cfg, order: FullOrder(cfg.Order), stops: map[int]bool{}, banned: cfg.Banned}
	for _, id := range cfg.StopTokens {
		s.stops[id] = true
	}
	s.dry = DRYParams{Multiplier: cfg.DRYMultiplier, Base: cfg.DRYBase, AllowedLength: cfg.DRYAllowedLength,
		PenaltyLastN: cfg.DRYPenaltyLastN, Breakers: cfg.DRYSequenceBreakers}
	s.fast = fastOrder(s.order)
	return s, nil
}

// Config returns a copy of the sampler's configuration.
func (s *Sampler) Config() Config { return s.cfg.clone() }

// IsStopToken reports whether id is one of Config.StopTokens.
func (s *Sampler) IsStopToken(id int) bool { return s.stops[id] }

// Greedy reports whether the sampler decodes greedily (temperature 0).
func (s *Sampler) Greedy() bool { return s.cfg.Temperature == 0 }

// State is the per-sequence state of a Sampler: Mirostat's mu. Create one
// per sequence with NewState and pass it to every SampleState call of that
// sequence. It is not safe for concurrent use.
type State struct {
	// Mu is Mirostat's current maximum surprise (2*tau initially).
	Mu float64
}

// NewState returns the initial state of a sequence.
func (s *Sampler) NewState() *State { return &State{Mu: MirostatMu0(s.cfg.MirostatTau)} }

// Process runs every stage in the configured order over a float64 copy of
// logits and returns the processed logits; filtered tokens are -Inf. history
// is the token sequence the penalties and n-gram ban look at (usually prompt
// plus generated tokens, oldest first). With temperature 0 the temperature
// stage is the identity. It is ProcessAt(logits, history, 0, 0, nil).
func (s *Sampler) Process(logits []float32, history []int) ([]float64, error) {
	return s.ProcessAt(logits, history, 0, 0, nil)
}

// ProcessAt is Process for the step step of sequence seq: XTC decides with
// XTCUniform(Seed, seq, step) whether it applies, and with Mirostat on, the
// last stage is MirostatTruncate with the mu of st (the initial mu when st
// is nil).
func (s *Sampler) ProcessAt(logits []float32, history []int, seq, step uint64, st *State) ([]float64, error) {
	return s.process(logits, history, s.order, seq, step, st)
}

// Adjust runs only the penalty, DRY, n-gram penalty, n-gram and bias stages
// (in their configured relative order) and returns the adjusted logits.
// Beam and contrastive search use it: they rank by the model's
// distribution, not a truncated one.
func (s *Sampler) Adjust(logits []float32, history []int) ([]float64, error) {
	var order []Stage
	for _, st := range s.order {
		switch st {
		case StagePenalties, StageDRY, StageNGramPenalty, StageNGram, StageBias:
			order = append(order, st)
		}
	}
	return s.process(logits, history, order, 0, 0, nil)
}

func (s *Sampler) process(logits []float32, history []int, order []Stage, seq, step uint64, state *State) ([]float64, error) {
	v := len(logits)
	if v == 0 {
		return nil, errors.New("sampler: empty logits")
	}
	l := make([]float64, v)
	for i, x := range logits {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 1) {
			return nil, fmt.Errorf("sampler: logit %d is %v", i, x)
		}
		l[i] = float64(x)
	}
	for i, id := range history {
		if id < 0 || id >= v {
			return nil, fmt.Errorf("sampler: history token %d at position %d outside vocabulary of %d", id, i, v)
		}
	}
	c := &s.cfg
	tempRan := false
	for _, st := range order {
		switch st {
		case StagePenalties:
			w := window(history, c.PenaltyWindow)
			RepetitionPenalty(l, w, c.RepetitionPenalty)
			PresenceFrequencyPenalty(l, w, c.PresencePenalty, c.FrequencyPenalty, c.PenaltyDecay)
		case StageDRY:
			DRY(l, history, s.dry)
		case StageNGramPenalty:
			NGramPenalty(l, history, c.NGramPenalty, c.NGramPenaltyN, c.NGramPenaltyLastN)
		case StageNGram:
			NoRepeatNGram(l, history, c.NoRepeatNGram)
		case StageBias:
			for id, b := range c.LogitBias {
				if id >= v {
					return nil, fmt.Errorf("sampler: logit bias token %d outside vocabulary of %d", id, v)
				}
				l[id] += b
			}
			for _, id := range s.banned {
				if id >= v {
					return nil, fmt.Errorf("sampler: banned token %d outside vocabulary of %d", id, v)
				}
				l[id] = math.Inf(-1)
			}
		case StageTemperature:
			if c.Temperature != 0 {
				Temperature(l, c.Temperature)
			}
		case StageTopNSigma:
			TopNSigma(l, c.TopNSigma)
		case StageTopK:
			TopK(l, c.TopK)
		case StageTopP:
			TopP(l, c.TopP)
		case StageMinP:
			MinP(l, c.MinP)
		case StageTypical:
			Typical(l, c.Typical)
		case StageXTC:
			if c.XTCProbability > 0 {
				XTC(l, c.XTCThreshold, c.XTCProbability, XTCUniform(c.Seed, seq, step))
			}
		}
		tempRan = tempRan || st == StageTemperature
	}
	if c.Mirostat == 2 && tempRan {
		mu := MirostatMu0(c.MirostatTau)
		if state != nil {
			mu = state.Mu
		}
		MirostatTruncate(l, mu)
	}
	return l, nil
}

// Probs returns the final distribution after all stages: a slice of
// len(logits) probabilities, exactly 0 for filtered tokens, summing to 1
// (Softmax of Process). With temperature 0 it is one-hot at the greedy token.
// It is ProbsAt(logits, history, 0, 0, nil).
func (s *Sampler) Probs(logits []float32, history []int) ([]float64, error) {
	return s.ProbsAt(logits, history, 0, 0, nil)
}

// ProbsAt is Probs for step step of sequence seq with state st (see
// ProcessAt).
func (s *Sampler) ProbsAt(logits []float32, history []int, seq, step uint64, st *State) ([]float64, error) {
	l, err := s.ProcessAt(logits, history, seq, step, st)
	if err != nil {
		return nil, err
	}
	if s.cfg.Temperature == 0 {
		id := Argmax(l)
		if id < 0 {
			return nil, ErrNoCandidates
		}
		p := make([]float64, len(l))
		p[id] = 1
		return p, nil
	}
	p := Softmax(l)
	if p == nil {
		return nil, ErrNoCandidates
	}
	return p, nil
}

// Sample processes logits and returns the chosen token. With temperature 0
// it is Argmax of the processed logits (lowest id on ties) and seq and step
// are ignored. Otherwise it is Draw(ProbsAt(logits, history, seq, step,
// nil), Uniform(Seed, seq, step)): seq identifies the sequence and step is
// the 0-based index of the token being generated in it.
//
// Sample returns exactly that token, usually without materialising the
// float64 logits or sorting (see "Fast path" in the package
// documentation). With Mirostat, use SampleState, which carries mu from
// step to step; Sample always starts from the initial mu.
func (s *Sampler) Sample(logits []float32, history []int, seq, step uint64) (int, error) {
	if s.fast {
		if id, ok := s.sampleFast(logits, history, seq, step); ok {
			return id, nil
		}
	}
	return s.sampleRef(logits, history, seq, step, nil)
}

// SampleState is Sample for a sequence whose state is st (from NewState):
// with Mirostat the truncation uses st.Mu, and after the draw st.Mu is
// updated with MirostatUpdate(st.Mu, tau, eta, p), p the drawn token's
// probability in the truncated distribution. Without Mirostat it is Sample
// and st is unchanged. st must not be nil.
func (s *Sampler) SampleState(logits []float32, history []int, seq, step uint64, st *State) (int, error) {
	if s.cfg.Mirostat == 0 {
		return s.Sample(logits, history, seq, step)
	}
	if s.fast {
		if id, p, ok := s.sampleFastMu(logits, history, seq, step, st.Mu); ok {
			if s.cfg.Temperature != 0 {
				st.Mu = MirostatUpdate(st.Mu, s.cfg.MirostatTau, s.cfg.MirostatEta, p)
			}
			return id, nil
		}
	}
	return s.sampleRef(logits, history, seq, step, st)
}

// sampleRef is the reference pipeline of Sample.
func (s *Sampler) sampleRef(logits []float32, history []int, seq, step uint64, st *State) (int, error) {
	l, err := s.ProcessAt(logits, history, seq, step, st)
	if err != nil {
		return 0, err
	}
	if s.cfg.Temperature == 0 {
		id := Argmax(l)
		if id < 0 {
			return 0, ErrNoCandidates
		}
		return id, nil
	}
	p := Softmax(l)
	if p == nil {
		return 0, ErrNoCandidates
	}
	id := Draw(p, Uniform(s.cfg.Seed, seq, step))
	if st != nil && s.cfg.Mirostat == 2 {
		st.Mu = MirostatUpdate(st.Mu, s.cfg.MirostatTau, s.cfg.MirostatEta, p[id])
	}
	return id, nil
}

// Argmax returns the index of the largest value of l, the lowest index on
// ties, ignoring -Inf; -1 when every value is -Inf or l is empty.
func Argmax(l []float64) int {
	best := -1
	for i, x := range l {
		if math.IsInf(x, -1) {
			continue
		}
		if best < 0 || x > l[best] {
			best = i
		}
	}
	return best
}

// Softmax returns the probabilities of logits l in float64: with m the
// largest finite logit, w[i] = exp(l[i]-m), Z the sum of w in ascending index
// order, p[i] = w[i]/Z. -Inf logits get probability exactly 0. It returns nil
// when every logit is -Inf.
func Softmax(l []float64) []float64 { return softmaxTo(nil, l) }

// softmaxTo is Softmax into dst's storage.
func softmaxTo(dst, l []float64) []float64 {
	p, _, _ := softmaxZ(dst, l)
	return p
}

// softmaxZ is softmaxTo that also returns the largest logit m and the
// normaliser z (the sum of exp(l[i]-m) in ascending index order).
func softmaxZ(dst, l []float64) ([]float64, float64, float64) {
	m := math.Inf(-1)
	for _, x := range l {
		if x > m {
			m = x
		}
	}
	if math.IsInf(m, -1) {
		return nil, m, 0
	}
	p := slices.Grow(dst[:0], len(l))[:len(l)]
	clear(p)
	z := 0.0
	for i, x := range l {
		if !math.IsInf(x, -1) {
			p[i] = math.Exp(x - m)
			z += p[i]
		}
	}
	for i := range p {
		p[i] /= z
	}
	return p, m, z
}

// Draw picks a token from probabilities p by inverse CDF with uniform u in
// [0, 1): walking tokens in ascending id order and summing their
// probabilities in float64, it returns the first token with p > 0 whose
// cumulative sum exceeds u. If rounding leaves u at or above the total, it
// returns the highest-id token with p > 0. It returns -1 when no
// probability is positive.
func Draw(p []float64, u float64) int {
	cum := 0.0
	last := -1
	for i, x := range p {
		if x <= 0 {
			continue
		}
		cum += x
		last = i
		if u < cum {
			return i
		}
	}
	return last
}

// window returns the last n tokens of h, or all of h when n is 0.
func window(h []int, n int) []int {
	if n > 0 && len(h) > n {
		return h[len(h)-n:]
	}
	return h
}

// RepetitionPenalty applies the CTRL / Hugging Face repetition penalty in
// place: for each distinct token t of win, l[t] = l[t]/p if l[t] > 0, else
// l[t]*p. p = 1 is a no-op. Tokens of win must index l.
func RepetitionPenalty(l []float64, win []int, p float64) {
	if p == 1 {
		return
	}
	seen := make(map[int]bool, len(win))
	for _, t := range win {
		if seen[t] {
			continue
		}
		seen[t] = true
		if l[t] > 0 {
			l[t] /= p
		} else {
			l[t] *= p
		}
	}
}

// DecayedCounts returns the decayed occurrence counts of win: walking win
// oldest to newest, before counting each token every count is multiplied by
// decay, then that token's count is incremented by 1. Equivalently
// count[t] = sum over positions j with win[j] == t of decay^(len(win)-1-j).
func DecayedCounts(win []int, decay float64) map[int]float64 {
	counts := make(map[int]float64)
	last := make(map[int]int)
	for j, t := range win {
		if c, ok := counts[t]; ok && decay != 1 {
			counts[t] = c*math.Pow(decay, float64(j-last[t])) + 1
		} else {
			counts[t] = c + 1
		}
		last[t] = j
	}
	if decay != 1 {
		for t, c := range counts {
			counts[t] = c * math.Pow(decay, float64(len(win)-1-last[t]))
		}
	}
	return counts
}

// PresenceFrequencyPenalty applies presence and frequency penalties in
// place: l[t] -= presence*[t occurs in win] + frequency*count[t], with count
// from DecayedCounts(win, decay). With decay 1 this is the OpenAI definition.
func PresenceFrequencyPenalty(l []float64, win []int, presence, frequency, decay float64) {
	if presence == 0 && frequency == 0 {
		return
	}
	for t, c := range DecayedCounts(win, decay) {
		l[t] -= presence + frequency*c
	}
}

// NoRepeatNGram bans (sets to -Inf) every token that would complete an
// n-gram already occurring in history, as Hugging Face's
// NoRepeatNGramLogitsProcessor: with prefix the last n-1 tokens of history,
// every token x such that prefix followed by x occurs as n consecutive tokens
// of history is banned. n = 0 is a no-op; n = 1 bans every token of history;
// nothing is banned while len(history)+1 < n.
func NoRepeatNGram(l []float64, history []int, n int) {
	if n <= 0 || len(history)+1 < n {
		return
	}
	prefix := history[len(history)-(n-1):]
	for i := 0; i+n <= len(history); i++ {
		match := true
		for k := 0; k < n-1; k++ {
			if history[i+k] != prefix[k] {
				match = false
				break
			}
		}
		if match {
			if t := history[i+n-1]; t >= 0 && t < len(l) {
				l[t] = math.Inf(-1)
			}
		}
	}
}

// Temperature divides every logit by t in place (t > 0).
func Temperature(l []float64, t float64) {
	if t == 1 {
		return
	}
	for i := range l {
		l[i] /= t
	}
}

// kthLargest returns the k-th largest finite value of l (k >= 1) and true,
// or false when l has fewer than k finite values. It keeps a min-heap of the
// k largest values seen, O(len(l) log k).
func kthLargest(l []float64, k int) (float64, bool) {
	x, ok, _ := kthLargestTo(nil, l, k)
	return x, ok
}

// kthLargestTo is kthLargest with its heap in h's storage (returned).
func kthLargestTo(h, l []float64, k int) (float64, bool, []float64) {
	h = slices.Grow(h[:0], k)
	for _, x := range l {
		if math.IsInf(x, -1) {
			continue
		}
		if len(h) < k {
			h = append(h, x)
			for c := len(h) - 1; c > 0; {
				p := (c - 1) / 2
				if h[p] <= h[c] {
					break
				}
				h[p], h[c] = h[c], h[p]
				c = p
			}
			continue
		}
		if x <= h[0] {
			continue
		}
		h[0] = x
		for p := 0; ; {
			c := 2*p + 1
			if c >= len(h) {
				break
			}
			if c+1 < len(h) && h[c+1] < h[c] {
				c++
			}
			if h[p] <= h[c] {
				break
			}
			h[p], h[c] = h[c], h[p]
			p = c
		}
	}
	if len(h) < k {
		return 0, false, h
	}
	return h[0], true, h
}

// TopK keeps, in place, every token whose logit is at least the k-th largest
// surviving logit (ties at the boundary are all kept) and sets the others to
// -Inf (Hugging Face TopKLogitsWarper). k = 0 or k >= the number of
// surviving tokens is a no-op.
func TopK(l []float64, k int) { topK(l, k, &selBuf{}) }

// topK is TopK with the buffers of b.
func topK(l []float64, k int, b *selBuf) {
	if k <= 0 {
		return
	}
	th, ok, h := kthLargestTo(b.heap, l, k)
	b.heap = h
	if !ok {
		return
	}
	for i, x := range l {
		if x < th {
			l[i] = math.Inf(-1)
		}
	}
}

// MinP keeps, in place, tokens whose probability (Softmax(l)) is at least
// minP times the largest probability and sets the others to -Inf (Hugging
// Face MinPLogitsWarper). The most probable token is always kept. minP = 0 is
// a no-op.
func MinP(l []float64, minP float64) { minPTo(l, minP, &selBuf{}) }

// minPTo is MinP with the buffers of b.
func minPTo(l []float64, minP float64, b *selBuf) {
	if minP <= 0 {
		return
	}
	probs := softmaxTo(b.probs, l)
	if probs == nil {
		return
	}
	b.probs = probs
	pmax := 0.0
	for _, x := range probs {
		pmax = math.Max(pmax, x)
	}
	th := minP * pmax
	for i, x := range probs {
		if x < th {
			l[i] = math.Inf(-1)
		}
	}
}
