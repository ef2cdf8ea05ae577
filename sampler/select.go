package sampler

import (
	"math"
	"slices"
)

// Top-p and typical sampling keep a prefix of a ranking, so they need the
// ranks only down to the cut. They find a value threshold whose upper set
// holds at least the required probability mass by a mass-weighted
// quickselect (massSelect), sort only that upper set, and walk it exactly as
// a full sort would: the probabilities are the same float64 values and are
// accumulated in the same (rank) order, so the kept set is bit-for-bit the
// one of a full sort, ties included. The threshold is chosen with a mass
// margin (selectMargin) larger than any difference between the
// partition-order sums and the rank-order sums; if the exact walk still ends
// inside the upper set without reaching the mass, the whole ranking is
// sorted instead.

// selectMargin is added to the mass a threshold must reach. Sums of at most
// 2^31 probabilities in different orders differ by far less.
const selectMargin = 1e-9

// massSelect finds a threshold t over key (indexed by token id) such that the
// tokens of idx with key >= t have total weight w >= target, and no greater
// threshold taken by the selection does. It permutes idx. all is true when
// the total weight of idx is below target (then t is meaningless).
// Long lists are first cut down to one bucket of a histogram of the keys
// (massSelectHist).
func massSelect(idx []int32, key, w []float64, target float64) (t float64, all bool) {
	if len(idx) >= massHistMin {
		if t, ok := massSelectHist(idx, key, w, target); ok {
			return t, false
		}
	}
	return massSelectQ(idx, key, w, target)
}

// massHistMin is the least number of tokens that massSelect buckets before
// its quickselect; massBuckets the number of buckets.
const (
	massHistMin = 2048
	massBuckets = 1024
)

// massSelectHist is massSelect through a histogram of the keys: one pass
// sums the weight and count of massBuckets equal-width buckets of [kmin,
// kmax] (the bucket of a key is a non-increasing function of it, so equal
// keys share one), the bucket where the cumulative weight reaches target
// is moved to the front of idx, and the quickselect runs over it alone for
// the rest of the target. ok is false when the keys do not spread over a
// finite range, the buckets do not reach target, or the bucket's tokens,
// summed in the quickselect's order, do not reach the rest (rounding):
// then massSelect runs the quickselect over all of idx.
func massSelectHist(idx []int32, key, w []float64, target float64) (t float64, ok bool) {
	kmin, kmax := key[idx[0]], key[idx[0]]
	for _, i := range idx[1:] {
		kmin, kmax = min(kmin, key[i]), max(kmax, key[i])
	}
	scale := (massBuckets - 1) / (kmax - kmin)
	if !(scale > 0) || math.IsInf(scale, 1) || math.IsInf(kmin, 0) || math.IsInf(kmax, 0) {
		return 0, false
	}
	var sw [massBuckets]float64
	var cnt [massBuckets]int32
	for _, i := range idx {
		b := int((kmax - key[i]) * scale)
		sw[b] += w[i]
		cnt[b]++
	}
	cum, cut := 0.0, -1
	for b := range sw {
		if cum+sw[b] >= target {
			cut = b
			break
		}
		cum += sw[b]
	}
	if cut < 0 {
		return 0, false
	}
	n := 0
	for j, i := range idx {
		if int((kmax-key[i])*scale) == cut {
			idx[n], idx[j] = idx[j], idx[n]
			n++
		}
	}
	if n != int(cnt[cut]) {
		return 0, false
	}
	t, all := massSelectQ(idx[:n], key, w, target-cum)
	return t, !all
}

// massSelectQ is massSelect's quickselect.
func massSelectQ(idx []int32, key, w []float64, target float64) (t float64, all bool) {
	a := idx
	need := target
	for len(a) > 0 {
		x0, x1, x2 := key[a[0]], key[a[len(a)/2]], key[a[len(a)-1]]
		pv := max(min(x0, x1), min(max(x0, x1), x2)) // median of three
		// Three-way partition: a[:lt] > pv, a[lt:gt] == pv, a[gt:] < pv.
		lt, i, gt := 0, 0, len(a)
		for i < gt {
			k := key[a[i]]
			switch {
			case k > pv:
				a[lt], a[i] = a[i], a[lt]
				lt++
				i++
			case k < pv:
				gt--
				a[i], a[gt] = a[gt], a[i]
			default:
				i++
			}
		}
		mG := 0.0
		for _, j := range a[:lt] {
			mG += w[j]
		}
		if mG >= need {
			a = a[:lt]
			continue
		}
		mE := 0.0
		for _, j := range a[lt:gt] {
			mE += w[j]
		}
		if mG+mE >= need {
			return pv, false
		}
		need -= mG + mE
		a = a[gt:]
	}
	return 0, true
}

// selBuf holds the buffers of the truncation stages, so that the fast path
// can reuse them from call to call; the zero value is ready (the exported
// functions use a fresh one).
type selBuf struct {
	probs, neg, heap []float64
	idx, work, pre   []int32
	rad              *radixBuf
}

// radix returns b's radix-sort buffers.
func (b *selBuf) radix() *radixBuf {
	if b.rad == nil {
		b.rad = new(radixBuf)
	}
	return b.rad
}

// finiteIdx returns the ids of the finite values of l.
func finiteIdx(l []float64) []int32 { return finiteIdxTo(nil, l) }

// finiteIdxTo is finiteIdx into dst's storage.
func finiteIdxTo(dst []int32, l []float64) []int32 {
	idx := slices.Grow(dst[:0], len(l))
	for i, x := range l {
		if !math.IsInf(x, -1) {
			idx = append(idx, int32(i))
		}
	}
	return idx
}

// upperSet returns the ids of idx whose key is >= t, or a copy of idx when
// all is set.
func upperSet(out, idx []int32, key []float64, t float64, all bool) []int32 {
	out = out[:0]
	for _, i := range idx {
		if all || key[i] >= t {
			out = append(out, i)
		}
	}
	return out
}

// sortRanked sorts ids by key descending, ties by id ascending.
func sortRanked(ids []int32, key []float64) {
	if len(ids) < radixMin {
		sortRankedCmp(ids, key)
		return
	}
	sortRankedBuf(ids, key, &radixBuf{})
}

// radixBuf holds the scratch of sortRankedBuf's radix sort.
type radixBuf struct {
	keys, keys2 []uint64
	ids2        []int32
	counts      [radixPasses][1 << radixBits]uint32
}

const (
	radixBits   = 11
	radixPasses = (64 + radixBits - 1) / radixBits
	// radixMin is the least number of ids sorted by radix.
	radixMin = 256
)

// sortRankedBuf is sortRanked with the buffers of rb. The order is total
// (ids are distinct), so every correct sort gives the same result; large
// lists in ascending id order (as the callers pass them) are sorted by a
// stable least-significant-digit radix sort on the keys' bits, which keeps
// tied keys in ascending id order; other lists, and keys with a NaN, by
// comparisons.
func sortRankedBuf(ids []int32, key []float64, rb *radixBuf) {
	n := len(ids)
	if n < radixMin || !slices.IsSorted(ids) {
		sortRankedCmp(ids, key)
		return
	}
	keys := slices.Grow(rb.keys[:0], n)[:n]
	rb.keys = keys
	for j, i := range ids {
		k := key[i]
		if k != k {
			sortRankedCmp(ids, key)
			return
		}
		if k == 0 {
			k = 0 // -0 ties with +0
		}
		// Order-preserving unsigned image of k, complemented so that larger
		// keys come first.
		u := math.Float64bits(k)
		if u>>63 != 0 {
			u = ^u
		} else {
			u |= 1 << 63
		}
		keys[j] = ^u
	}
	cnt := &rb.counts
	*cnt = [radixPasses][1 << radixBits]uint32{}
	for _, u := range keys {
		for p := range radixPasses {
			cnt[p][(u>>(p*radixBits))&(1<<radixBits-1)]++
		}
	}
	keys2 := slices.Grow(rb.keys2[:0], n)[:n]
	ids2 := slices.Grow(rb.ids2[:0], n)[:n]
	rb.keys2, rb.ids2 = keys2, ids2
	src, dst := ids, ids2
	for p := range radixPasses {
		c := &cnt[p]
		shift := p * radixBits
		if c[(keys[0]>>shift)&(1<<radixBits-1)] == uint32(n) {
			continue // one digit value: the pass would not move anything
		}
		off := uint32(0)
		for d, m := range c {
			c[d] = off
			off += m
		}
		for j, u := range keys {
			d := (u >> shift) & (1<<radixBits - 1)
			pos := c[d]
			c[d] = pos + 1
			keys2[pos] = u
			dst[pos] = src[j]
		}
		keys, keys2 = keys2, keys
		src, dst = dst, src
	}
	if &src[0] != &ids[0] {
		copy(ids, src)
	}
}

// sortRankedCmp is sortRanked by comparisons.
func sortRankedCmp(ids []int32, key []float64) {
	slices.SortFunc(ids, func(a, b int32) int {
		ka, kb := key[a], key[b]
		switch {
		case ka > kb:
			return -1
		case ka < kb:
			return 1
		}
		return int(a) - int(b)
	})
}

// TopP keeps, in place, the smallest set of most probable tokens whose
// cumulative probability reaches p and sets the others to -Inf (Hugging Face
// TopPLogitsWarper). Tokens are ranked by probability descending, ties by
// token id ascending; probabilities are Softmax(l) and are accumulated in
// that order in float64: a token is kept iff the sum of the probabilities
// ranked before it is < p. The most probable token is always kept. p >= 1
// is a no-op. It sorts only the ranks down to the cut (see massSelect).
func TopP(l []float64, p float64) { topP(l, p, &selBuf{}) }

// topP is TopP with the buffers of b.
func topP(l []float64, p float64, b *selBuf) {
	if p >= 1 {
		return
	}
	probs := softmaxTo(b.probs, l)
	if probs == nil {
		return
	}
	b.probs = probs
	idx := finiteIdxTo(b.idx, l)
	b.idx = idx
	work := append(b.work[:0], idx...)
	b.work = work
	t, all := massSelect(work, l, probs, p+selectMargin)
	pre := upperSet(b.pre, idx, l, t, all)
	b.pre = pre
	sortRankedBuf(pre, l, b.radix())
	k, cum := walkTopP(pre, probs, p)
	if k == len(pre) && cum < p && !all {
		// The walk did not reach p inside the upper set: rank everything.
		pre = idx
		sortRankedBuf(pre, l, b.radix())
		k, _ = walkTopP(pre, probs, p)
	}
	if k == len(idx) {
		return
	}
	last := pre[k-1]
	lv := l[last]
	for i, x := range l {
		if x < lv || (x == lv && i > int(last)) {
			l[i] = math.Inf(-1)
		}
	}
}

// walkTopP returns the number of ranks of ranked kept by top-p p (those
// whose preceding cumulative probability is < p) and the cumulative
// probability of the kept ranks.
func walkTopP(ranked []int32, probs []float64, p float64) (int, float64) {
	cum := 0.0
	for r, i := range ranked {
		if cum >= p {
			return r, cum
		}
		cum += probs[i]
	}
	return len(ranked), cum
}

// Typical applies locally typical sampling with the given mass in place, as
// Hugging Face's TypicalLogitsWarper: with log-probabilities lp = log
// Softmax(l) and entropy H = -sum p*lp over surviving tokens, each token's
// score is |-lp - H|. Tokens are ranked by score ascending (ties by id
// ascending); with c the cumulative probabilities in that order, k is the
// number of ranks with c < mass (at most the last rank), and every token
// whose score is greater than the score at rank k is set to -Inf (ties with
// it are kept). mass >= 1 is a no-op. It sorts only the ranks down to the
// cut (see massSelect).
func Typical(l []float64, mass float64) { typical(l, mass, &selBuf{}) }

// typical is Typical with the buffers of b.
func typical(l []float64, mass float64, b *selBuf) {
	if mass >= 1 {
		return
	}
	// The largest logit and the sum of exp(x - m) in ascending index order
	// come from the softmax, which computes them so.
	probs, m, z := softmaxZ(b.probs, l)
	if probs == nil {
		return
	}
	b.probs = probs
	logZ := m + math.Log(z)
	idx := b.idx[:0]
	ent := 0.0
	for i, x := range l {
		if math.IsInf(x, -1) {
			continue
		}
		idx = append(idx, int32(i))
		ent -= probs[i] * (x - logZ)
	}
	// neg holds -score, so that the most typical tokens rank first.
	b.idx = idx
	neg := slices.Grow(b.neg[:0], len(l))[:len(l)]
	clear(neg)
	b.neg = neg
	for _, i := range idx {
		neg[i] = -math.Abs(-(l[i] - logZ) - ent)
	}
	work := append(b.work[:0], idx...)
	b.work = work
	t, all := massSelect(work, neg, probs, mass+selectMargin)
	pre := upperSet(b.pre, idx, neg, t, all)
	b.pre = pre
	sortRankedBuf(pre, neg, b.radix())
	k, reached := walkTypical(pre, probs, mass)
	if !reached && !all {
		pre = idx
		sortRankedBuf(pre, neg, b.radix())
		k, _ = walkTypical(pre, probs, mass)
	}
	if k > len(idx)-1 {
		k = len(idx) - 1
	}
	th := neg[pre[k]]
	for _, i := range idx {
		if neg[i] < th {
			l[i] = math.Inf(-1)
		}
	}
}

// walkTypical returns the number of ranks of ranked whose inclusive
// cumulative probability is < mass, and whether the cumulative probability
// reached mass inside ranked.
func walkTypical(ranked []int32, probs []float64, mass float64) (int, bool) {
	cum := 0.0
	for r, i := range ranked {
		cum += probs[i]
		if !(cum < mass) {
			return r, true
		}
	}
	return len(ranked), false
}

// survivorsByLogit returns the indices of finite logits sorted by logit
// descending, ties by index ascending.
func survivorsByLogit(l []float64) []int {
	ids := finiteIdx(l)
	sortRanked(ids, l)
	out := make([]int, len(ids))
	for j, i := range ids {
		out[j] = int(i)
	}
	return out
}
