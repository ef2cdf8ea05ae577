package sampler

// The sort-based reference implementations of top-p and typical sampling
// (the implementations before the selection-based ones), kept to check that
// the selection gives exactly the same kept sets.

import (
	"cmp"
	"math"
	"slices"
	"sort"
)

// refSurvivorsByLogit returns the indices of finite logits sorted by logit
// descending, ties by index ascending.
func refSurvivorsByLogit(l []float64) []int {
	type entry struct {
		v float64
		i int
	}
	es := make([]entry, 0, len(l))
	for i, x := range l {
		if !math.IsInf(x, -1) {
			es = append(es, entry{x, i})
		}
	}
	slices.SortFunc(es, func(a, b entry) int {
		switch {
		case a.v > b.v:
			return -1
		case a.v < b.v:
			return 1
		}
		return cmp.Compare(a.i, b.i)
	})
	idx := make([]int, len(es))
	for j, e := range es {
		idx[j] = e.i
	}
	return idx
}

// TopP keeps, in place, the smallest set of most probable tokens whose
// cumulative probability reaches p and sets the others to -Inf (Hugging Face
// TopPLogitsWarper). Tokens are ranked by probability descending, ties by
// token id ascending; probabilities are Softmax(l) and are accumulated in
// that order in float64: a token is kept iff the sum of the probabilities
// ranked before it is < p. The most probable token is always kept. p >= 1
// is a no-op.
func refTopP(l []float64, p float64) {
	if p >= 1 {
		return
	}
	probs := Softmax(l)
	if probs == nil {
		return
	}
	cum := 0.0
	for _, i := range refSurvivorsByLogit(l) {
		if cum >= p {
			l[i] = math.Inf(-1)
			continue
		}
		cum += probs[i]
	}
}

// Typical applies locally typical sampling with the given mass in place, as
// Hugging Face's TypicalLogitsWarper: with log-probabilities lp = log
// Softmax(l) and entropy H = -sum p*lp over surviving tokens, each token's
// score is |-lp - H|. Tokens are ranked by score ascending (ties by id
// ascending); with c the cumulative probabilities in that order, k is the
// number of ranks with c < mass (at most the last rank), and every token
// whose score is greater than the score at rank k is set to -Inf (ties with
// it are kept). mass >= 1 is a no-op.
func refTypical(l []float64, mass float64) {
	if mass >= 1 {
		return
	}
	probs := Softmax(l)
	if probs == nil {
		return
	}
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
	var idx []int
	ent := 0.0
	for i, x := range l {
		if math.IsInf(x, -1) {
			continue
		}
		idx = append(idx, i)
		ent -= probs[i] * (x - logZ)
	}
	score := make([]float64, len(l))
	for _, i := range idx {
		score[i] = math.Abs(-(l[i] - logZ) - ent)
	}
	sort.Slice(idx, func(a, b int) bool {
		if score[idx[a]] != score[idx[b]] {
			return score[idx[a]] < score[idx[b]]
		}
		return idx[a] < idx[b]
	})
	k := 0
	cum := 0.0
	for _, i := range idx {
		cum += probs[i]
		if cum < mass {
			k++
		}
	}
	if k > len(idx)-1 {
		k = len(idx) - 1
	}
	th := score[idx[k]]
	for _, i := range idx {
		if score[i] > th {
			l[i] = math.Inf(-1)
		}
	}
}
