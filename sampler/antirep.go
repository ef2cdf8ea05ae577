package sampler

import (
	"math"
	"slices"
)

// DRYParams are the settings of the DRY penalty (see Config).
type DRYParams struct {
	Multiplier    float64
	Base          float64
	AllowedLength int
	PenaltyLastN  int // -1: whole history; 0: off
	Breakers      [][]int
}

// dryFloatMaxLog is llama.cpp's approximation of log(FLT_MAX), used to cap
// DRY's exponent.
const dryFloatMaxLog = 88.7228391

// DRYPenalties returns the DRY penalty of every token it penalises, the
// algorithm of llama.cpp's DRY sampler (src/llama-sampling.cpp, after
// koboldcpp and text-generation-webui) on token ids:
//
//  1. The window is the last PenaltyLastN tokens of history (all of it for
//     -1; nothing is penalised for 0, for Multiplier 0, or when the window
//     has at most AllowedLength tokens).
//  2. Sequence breakers limit the repetition length: walking the window
//     from its newest token backwards, at the first position i (0 = newest)
//     where a breaker starts, with all its tokens inside the window, the
//     limit is i - (len(breaker) - 1), the number of tokens after that
//     breaker occurrence (the longest breaker wins at one position).
//     Without breaker occurrences the limit is the window length. Nothing is
//     penalised when the limit is below AllowedLength.
//  3. For each position j of the window except the newest, the repeat
//     length n_j is the length of the longest common suffix of the window
//     and of the window truncated after j, capped at the limit (a reverse
//     Z-algorithm). The token at j+1 would extend that repetition.
//  4. Each token t at some position j+1 with n_j >= AllowedLength gets the
//     largest such n_j, N_t, and the penalty Multiplier *
//     Base^min(N_t - AllowedLength, E), where E = floor(88.7228391/ln Base)
//     when Base > 1.000001 (no cap otherwise), unless t on its own is a
//     sequence breaker (a breaker of one token).
//
// For example, with window a b c c b c y a b c, AllowedLength 2 and no
// breakers, the repeat lengths are 0 0 3 1 0 2 0 0 0 for positions 0 to 8,
// so c (after a b c) gets Multiplier*Base^1 and y (after b c)
// Multiplier*Base^0.
func DRYPenalties(history []int, p DRYParams) map[int]float64 {
	if p.Multiplier == 0 || p.PenaltyLastN == 0 || p.Base < 1 {
		return nil
	}
	win := history
	if p.PenaltyLastN > 0 && len(win) > p.PenaltyLastN {
		win = win[len(win)-p.PenaltyLastN:]
	}
	n := len(win)
	if n <= p.AllowedLength {
		return nil
	}
	// rat(i) is the token i positions before the newest.
	rat := func(i int) int { return win[n-1-i] }
	limit := n
	for i := 0; i < n; i++ {
		longest := -1
		for _, b := range p.Breakers {
			if len(b) == 0 || b[0] != rat(i) {
				continue
			}
			tail := len(b) - 1
			if tail <= longest || tail > i {
				continue
			}
			match := true
			for k := 0; k < tail; k++ {
				if b[1+k] != rat(i-k-1) {
					match = false
					break
				}
			}
			if match {
				longest = tail
			}
		}
		if longest >= 0 {
			limit = i - longest
			break
		}
	}
	if limit < p.AllowedLength {
		return nil
	}
	// Z-algorithm over the reversed window r: z[k] is the length of the
	// longest common prefix of r and r[k:], that is the longest common
	// suffix of the window and the window truncated after position n-1-k.
	z := make([]int, n)
	for k, lo, hi := 1, 0, 0; k < n; k++ {
		if k < hi {
			z[k] = min(hi-k, z[k-lo])
		}
		for k+z[k] < n && rat(z[k]) == rat(k+z[k]) {
			z[k]++
		}
		if k+z[k] > hi {
			lo, hi = k, k+z[k]
		}
	}
	maxRepeat := map[int]int{}
	for k := 1; k < n; k++ {
		rep := min(z[k], limit)
		if rep < p.AllowedLength {
			continue
		}
		t := win[n-k] // follows position n-1-k
		if cur, ok := maxRepeat[t]; !ok || rep > cur {
			maxRepeat[t] = rep
		}
	}
	if len(maxRepeat) == 0 {
		return nil
	}
	maxExp := 0
	if p.Base > 1.000001 {
		maxExp = int(dryFloatMaxLog / math.Log(p.Base))
	}
	out := make(map[int]float64, len(maxRepeat))
	for t, rep := range maxRepeat {
		if slices.ContainsFunc(p.Breakers, func(b []int) bool { return len(b) == 1 && b[0] == t }) {
			continue
		}
		e := rep - p.AllowedLength
		if maxExp > 0 && e > maxExp {
			e = maxExp
		}
		out[t] = p.Multiplier * math.Pow(p.Base, float64(e))
	}
	return out
}

// DRY subtracts DRYPenalties(history, p) from the logits l in place. Tokens
// outside l are ignored.
func DRY(l []float64, history []int, p DRYParams) {
	for t, pen := range DRYPenalties(history, p) {
		if t >= 0 && t < len(l) {
			l[t] -= pen
		}
	}
}

// NGramCounts returns, for the n-gram penalty, how often each token x would
// complete an n-gram already in the window: with prefix the last n-1 tokens
// of history and win its last lastN tokens (all of it for lastN 0), the
// number of positions j of win with j >= n-1 whose preceding n-1 tokens of
// win equal prefix, counted for x = win[j]. Nothing is counted for n < 2 or
// when history is shorter than n-1 tokens.
func NGramCounts(history []int, n, lastN int) map[int]int {
	if n < 2 || len(history) < n-1 {
		return nil
	}
	prefix := history[len(history)-(n-1):]
	win := window(history, lastN)
	var out map[int]int
	for j := n - 1; j < len(win); j++ {
		if slices.Equal(win[j-(n-1):j], prefix) {
			if out == nil {
				out = map[int]int{}
			}
			out[win[j]]++
		}
	}
	return out
}

// NGramPenalty applies the n-gram frequency penalty in place: l[x] -=
// alpha * NGramCounts(history, n, lastN)[x]. It penalises continuing a
// phrase that already occurred, in proportion to how often it did; the
// no-repeat n-gram ban (NoRepeatNGram) is its limit as alpha grows, over the
// whole history. alpha = 0 is a no-op. Tokens outside l are ignored.
func NGramPenalty(l []float64, history []int, alpha float64, n, lastN int) {
	if alpha == 0 {
		return
	}
	for t, c := range NGramCounts(history, n, lastN) {
		if t >= 0 && t < len(l) {
			l[t] -= alpha * float64(c)
		}
	}
}

// TopNSigma keeps, in place, the tokens whose logit is >= max - n*sigma and
// sets the others to -Inf (llama.cpp's top-n-sigma, Tang et al. 2024): max
// is the largest finite logit, sigma the population standard deviation of
// the finite logits (mean and squared deviations summed in ascending id
// order, in float64). n = 0 is a no-op, as is a vocabulary with fewer than
// two finite logits.
func TopNSigma(l []float64, n float64) {
	if n <= 0 {
		return
	}
	maxL, sum, cnt := math.Inf(-1), 0.0, 0
	for _, x := range l {
		if !math.IsInf(x, -1) {
			maxL = math.Max(maxL, x)
			sum += x
			cnt++
		}
	}
	if cnt < 2 {
		return
	}
	mean := sum / float64(cnt)
	acc := 0.0
	for _, x := range l {
		if !math.IsInf(x, -1) {
			acc += (x - mean) * (x - mean)
		}
	}
	th := maxL - n*math.Sqrt(acc/float64(cnt))
	for i, x := range l {
		if x < th {
			l[i] = math.Inf(-1)
		}
	}
}

// XTCUniform returns the uniform that decides whether XTC applies at (seed,
// seq, step): UniformFromBits of word 1 of PhiloxBlock(seed, seq, step), so
// it is independent of the draw's uniform (word 0).
func XTCUniform(seed, seq, step uint64) float64 {
	return UniformFromBits(PhiloxBlock(seed, seq, step)[1])
}

// XTC applies Exclude Top Choices in place with the semantics of llama.cpp's
// XTC sampler: when u <= probability (u the step's XTCUniform) and
// probability > 0 and threshold <= 0.5, let the tokens with probability
// (Softmax(l)) >= threshold be ranked by probability descending, ties by id
// ascending; if there are at least two, all of them but the last ranked (the
// least probable) are set to -Inf. Otherwise l is unchanged.
func XTC(l []float64, threshold, probability, u float64) {
	xtc(l, threshold, probability, u, &selBuf{})
}

// xtc is XTC with the buffers of b.
func xtc(l []float64, threshold, probability, u float64, b *selBuf) {
	if probability <= 0 || threshold > 0.5 || u > probability {
		return
	}
	p := softmaxTo(b.probs, l)
	if p == nil {
		return
	}
	b.probs = p
	top := b.pre[:0]
	for i, x := range p {
		if x >= threshold && x > 0 {
			top = append(top, int32(i))
		}
	}
	b.pre = top
	if len(top) < 2 {
		return
	}
	sortRanked(top, l)
	for _, i := range top[:len(top)-1] {
		l[i] = math.Inf(-1)
	}
}

// MirostatMu0 returns Mirostat's initial mu, 2*tau.
func MirostatMu0(tau float64) float64 { return 2 * tau }

// MirostatTruncate applies Mirostat 2.0's truncation in place (llama.cpp's
// mirostat_v2): with p = Softmax(l), tokens whose surprise -log2(p) exceeds
// mu are set to -Inf; if that would remove every token, the most probable
// one (lowest id on ties) is kept.
func MirostatTruncate(l []float64, mu float64) { mirostatTruncate(l, mu, &selBuf{}) }

// mirostatTruncate is MirostatTruncate with the buffers of b.
func mirostatTruncate(l []float64, mu float64, b *selBuf) {
	p := softmaxTo(b.probs, l)
	if p == nil {
		return
	}
	b.probs = p
	best := Argmax(l)
	keptAny := false
	for _, x := range p {
		if x > 0 && -math.Log2(x) <= mu {
			keptAny = true
		}
	}
	for i, x := range p {
		if !(x > 0 && -math.Log2(x) <= mu) && !(i == best && !keptAny) {
			l[i] = math.Inf(-1)
		}
	}
}

// MirostatUpdate returns the next mu of Mirostat 2.0 after drawing a token
// of probability p (in the truncated, renormalised distribution): mu - eta *
// (-log2(p) - tau).
func MirostatUpdate(mu, tau, eta, p float64) float64 {
	return mu - eta*(-math.Log2(p)-tau)
}
