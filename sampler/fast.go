package sampler

import (
	"cmp"
	"math"
	mathbits "math/bits"
	"slices"
	"sync"
	"sync/atomic"
)

// The fast path of Sample.
//
// Sample's result is defined by the reference pipeline (Process, Softmax,
// Draw over float64 copies of all V logits). The fast path reaches the same
// token without materialising V float64 logits, without sorting and, in
// most cases, without V calls to math.Exp:
//
//   - The penalty, DRY, n-gram penalty, n-gram and bias stages change only
//     the tokens they name ("touched" tokens). Their values are computed exactly as the reference
//     does; every other token's processed logit is float64(logit)/T, a
//     strictly increasing function of its float32 logit, so rankings and
//     thresholds of untouched tokens are decided on the float32 logits.
//   - Greedy decoding is an argmax over the float32 logits and the touched
//     values (top-k, top-p and min-p always keep the argmax).
//   - Top-k collects the k largest float32 logits with a heap; min-p
//     collects the tokens above a logit threshold. Both then evaluate the
//     exact float64 logits of the few candidates.
//   - Top-p, typical sampling and a draw over the untruncated distribution
//     need the normaliser Z of all V tokens. They use weights from expNeg
//     (summed by an AVX-512 or AVX2 kernel where available), whose error is
//     bounded, and decide only when the decision holds for every value within the
//     error bound (of these weights and of the reference's own float64
//     rounding): then the reference decides the same. Otherwise (a
//     cumulative mass within ~1e-10 of a cut, a probability of order 1e-6
//     per token) the reference pipeline runs. Their cut is found among the
//     tokens of an exact logit range holding enough weight (a prefix of
//     the ranking), by a mass-weighted selection and a sort of the tokens
//     above it only.
//   - The first dense pass keeps each token's weight (V float64s, AVX-512
//     only); the later passes read them instead of evaluating exp again
//     (the same sums, bit for bit: storeWeights, storedWeights,
//     storedAbove8), and so do the per-token weights of the draw and of
//     the candidate lists.
//   - A wide top-p, typical, min-p or Mirostat truncation followed by the
//     draw (thousands of kept tokens), possibly with XTC between them, is
//     decided by moving the dense pass's partial-sum thresholds instead
//     (see fastwide.go; typical's kept set may be an interval of exponents
//     that excludes the most probable tokens), and the draw after
//     any dense truncation runs over the survivors' weights (drawKept)
//     rather than an exact softmax of them, unless the caller needs the
//     drawn token's probability (SampleState's Mirostat update).
//   - Once a truncation has left a candidate list, the remaining stages and
//     the draw run the reference functions on the list in ascending id
//     order, which computes bit-for-bit what the reference computes over the
//     full vocabulary (filtered tokens contribute nothing to any sum).
//
//   - Top-n-sigma over the untruncated vocabulary is a threshold max -
//     n*sigma on the processed logit: the moments are summed vectorised
//     from the float32 logits, and tokens within the error bound of both
//     the reference's sequential float64 sums and these of the threshold
//     make the reference decide (see topNSigmaDense).
//   - XTC over the untruncated distribution and Mirostat 2.0's truncation
//     are probability thresholds decided with the dense pass's normaliser
//     Z and its bound. XTC removes a few top tokens from the dense weights
//     and the draw runs over the rest of the vocabulary; Mirostat keeps the
//     few tokens above its threshold (see fastdense.go).
//
// The fast path handles the stage orders in which only those sparse stages
// precede temperature (the default order among them); XTC over the
// untruncated distribution only as the last stage. For other settings, and
// for invalid input (whose error the reference reports), Sample runs the
// reference pipeline.

const (
	u53 = 0x1p-53 // unit roundoff of float64
	// keepWeightsMinV is the smallest vocabulary whose dense pass keeps
	// its weights for the passes and the per-token weights after it.
	keepWeightsMinV = 4096
	// blockSize is the id-block length of the draw's block sums.
	blockSize = 1024
	// eSlack widens logit thresholds beyond every rounding difference.
	eSlack = 1e-6
)

var negInf = math.Inf(-1)

// cand is a candidate token of the fast path.
type cand struct {
	id int32
	x  float64 // exact processed logit
	w  float64 // approximate weight (expNeg)
	s  float64 // typical score
	k  float64 // ranking key (larger first)
}

// scratch holds the per-call buffers of the fast path, reused through a
// sync.Pool so that a Sampler stays safe for concurrent use.
type scratch struct {
	gen      uint32
	stamp    []uint32 // stamp[t] == gen: t is touched and y[t] holds its value
	seen     []uint32 // seen[t] == gen: t occurred in the penalty window
	y        []float64
	cnt      []float64
	last     []int32
	touched  []int32
	distinct []int32
	blocks   []float64
	babove   [][2]float64 // per-block weights of the tokens with e >= th[j]
	kblocks  []float64    // per-block weights of drawKept's survivors
	bk8      [][8]float64 // per-block weights above the thresholds of aboveK
	kblock   []cand       // drawKept's survivors in the block of the draw
	wts      []float64    // the dense pass's weights of the float32 logits (fastState.stored)
	heap     []float32
	kidx     []int32
	cands    []cand
	ids      []int32
	xs       []float64
	sel      selBuf // buffers of the truncation stages on the candidate list
	idBits   []uint64
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func (sc *scratch) reset(v int) {
	if len(sc.stamp) != v {
		*sc = scratch{
			stamp: make([]uint32, v), seen: make([]uint32, v), y: make([]float64, v),
			cnt: make([]float64, v), last: make([]int32, v),
		}
	}
	sc.gen++
	if sc.gen == 0 {
		clear(sc.stamp)
		clear(sc.seen)
		sc.gen = 1
	}
	sc.touched = sc.touched[:0]
	sc.distinct = sc.distinct[:0]
	sc.cands = sc.cands[:0]
}

func (sc *scratch) touch(t int, logits []float32) {
	if sc.stamp[t] != sc.gen {
		sc.stamp[t] = sc.gen
		sc.y[t] = float64(logits[t])
		sc.touched = append(sc.touched, int32(t))
	}
}

// penalties applies RepetitionPenalty and then PresenceFrequencyPenalty over
// win to the touched values, in one pass over win for the decayed counts
// (the same float64 operations as DecayedCounts).
func (sc *scratch) penalties(win []int, c *Config) {
	gen, decay := sc.gen, c.PenaltyDecay
	for j, t := range win {
		if sc.seen[t] == gen {
			if decay != 1 {
				sc.cnt[t] = sc.cnt[t]*math.Pow(decay, float64(j-int(sc.last[t]))) + 1
			} else {
				sc.cnt[t]++
			}
		} else {
			sc.seen[t] = gen
			sc.cnt[t] = 1
			sc.distinct = append(sc.distinct, int32(t))
		}
		sc.last[t] = int32(j)
	}
	p, pres, freq := c.RepetitionPenalty, c.PresencePenalty, c.FrequencyPenalty
	for _, t := range sc.distinct {
		y := sc.y[t]
		if p != 1 {
			if y > 0 {
				y /= p
			} else {
				y *= p
			}
		}
		if pres != 0 || freq != 0 {
			cnt := sc.cnt[t]
			if decay != 1 {
				cnt *= math.Pow(decay, float64(len(win)-1-int(sc.last[t])))
			}
			y -= pres + freq*cnt
		}
		sc.y[t] = y
	}
}

// fastOrder reports whether order (a FullOrder) suits the fast path: only
// the sparse stages (penalties, dry, ngram_penalty, ngram, bias) before
// temperature.
func fastOrder(order []Stage) bool {
	for _, st := range order {
		switch st {
		case StageTemperature:
			return true
		case StagePenalties, StageDRY, StageNGramPenalty, StageNGram, StageBias:
		default:
			return false
		}
	}
	return false
}

// active reports whether truncation stage st changes anything under c for
// a vocabulary of v tokens.
func active(st Stage, c *Config, v int) bool {
	switch st {
	case StageTopK:
		return c.TopK > 0 && c.TopK < v
	case StageTopP:
		return c.TopP < 1
	case StageMinP:
		return c.MinP > 0
	case StageTypical:
		return c.Typical < 1
	case StageXTC:
		return c.XTCProbability > 0 && c.XTCThreshold <= 0.5
	case StageTopNSigma:
		return c.TopNSigma > 0
	}
	return false
}

// roundDown32 returns the largest float32 <= x; roundUp32 the smallest >= x.
func roundDown32(x float64) float32 {
	f := float32(x)
	if float64(f) > x {
		f = math.Nextafter32(f, float32(math.Inf(-1)))
	}
	return f
}

func roundUp32(x float64) float32 {
	f := float32(x)
	if float64(f) < x {
		f = math.Nextafter32(f, float32(math.Inf(1)))
	}
	return f
}

// fastState is one call of the fast path.
type fastState struct {
	s      *Sampler
	sc     *scratch
	logits []float32
	t      float64 // temperature (1 when greedy)
	greedy bool
	mu     float64 // Mirostat's mu
	needP  bool    // the caller needs the drawn token's probability
	xtcTh  float64 // XTC's threshold when it fires after a wide truncation (0: none)
	// twoSided: wideCut found typical sampling's kept set two-sided (see
	// typicalWide).
	twoSided bool
	// cutOnly: wideFinish stores the decided cut in cut instead of
	// drawing (a wide top-p followed by more stages, see topPWideKept).
	cutOnly bool
	cut     cand
	kept    []cand     // the survivors of a dense truncation, with weights
	ref     float64    // the largest value after the sparse stages: e_i = (y_i - ref)/T
	m       float64    // largest processed logit
	delta   float64    // relative error bound of a weight
	eta     float64    // relative error bound of a mass comparison
	z       float64    // approximate normaliser (dense weights)
	th      [2]float64 // exponents of the dense pass's partial sums (aboveE unless moved)
	above   [2]float64 // weight of the tokens with e >= th[j]
	zerr    float64    // absolute error of z and of the sums from replacing touched weights
	a       float64    // approximate sum of w*e (dense weights)
	// lowE is the exponent below which a token weighs 0 and is left out
	// of every candidate list: -100, or the floor of the truncations
	// applied densely (floorDense).
	lowE float64
	// floored: the last truncation stage was applied by floorDense.
	floored bool
	// kidxValid: sc.kidx holds the indices of the logits >= kidxFrom
	// (minPBand's scan, for collect).
	kidxValid bool
	kidxFrom  float32
	// keepW: the dense pass keeps its weights in sc.wts (storing them
	// costs next to nothing); stored: sc.wts holds them for ref and
	// invT = 1/t (every pass after the first reads them instead of
	// evaluating exp, the sums the same bits, and so do the per-token
	// weights of w).
	keepW, stored bool
	wRef, wInvT   float64
	// sumOnly: the next dense pass may compute only z and the block sums
	// (a plain draw follows: a and above stay unset).
	sumOnly bool
}

// x returns the exact processed logit of token i, as the reference computes
// it.
func (f *fastState) x(i int) float64 {
	y := float64(f.logits[i])
	if f.sc.stamp[i] == f.sc.gen {
		y = f.sc.y[i]
	}
	if f.t != 1 {
		y /= f.t
	}
	return y
}

// sampleFast returns Sample's token and true, or false when the reference
// pipeline must decide (unsupported order, invalid input, or a decision too
// close to call).
func (s *Sampler) sampleFast(logits []float32, history []int, seq, step uint64) (int, bool) {
	id, _, ok := s.sampleFastOpt(logits, history, seq, step, MirostatMu0(s.cfg.MirostatTau), false)
	return id, ok
}

// sampleFastMu is sampleFast with Mirostat's mu; it also returns the drawn
// token's probability in the final distribution when Mirostat truncated it
// (0 otherwise).
func (s *Sampler) sampleFastMu(logits []float32, history []int, seq, step uint64, mu float64) (int, float64, bool) {
	return s.sampleFastOpt(logits, history, seq, step, mu, true)
}

// sampleFastOpt is sampleFastMu; without needP the returned probability is
// 0, which lets the draw after a wide truncation run over the dense weights
// (drawKept) instead of an exact softmax of the survivors.
func (s *Sampler) sampleFastOpt(logits []float32, history []int, seq, step uint64, mu float64, needP bool) (int, float64, bool) {
	c := &s.cfg
	v := len(logits)
	greedy := c.Temperature == 0
	if v == 0 || v > math.MaxInt32 {
		return 0, 0, false
	}
	for _, id := range history {
		if id < 0 || id >= v {
			return 0, 0, false
		}
	}
	for id := range c.LogitBias {
		if id >= v {
			return 0, 0, false
		}
	}
	for _, id := range s.banned {
		if id >= v {
			return 0, 0, false
		}
	}
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	sc.reset(v)

	pen := c.RepetitionPenalty != 1 || c.PresencePenalty != 0 || c.FrequencyPenalty != 0
	win := window(history, c.PenaltyWindow)
	if pen {
		for _, t := range win {
			sc.touch(t, logits)
		}
	}
	ngram := c.NoRepeatNGram > 0 && len(history)+1 >= c.NoRepeatNGram
	if ngram {
		for _, t := range history {
			sc.touch(t, logits)
		}
	}
	dryPen := DRYPenalties(history, s.dry)
	for t := range dryPen {
		sc.touch(t, logits)
	}
	var ngramCnt map[int]int
	if c.NGramPenalty != 0 {
		ngramCnt = NGramCounts(history, c.NGramPenaltyN, c.NGramPenaltyLastN)
		for t := range ngramCnt {
			sc.touch(t, logits)
		}
	}
	for id := range c.LogitBias {
		sc.touch(id, logits)
	}
	for _, id := range s.banned {
		sc.touch(id, logits)
	}
	for _, t := range sc.touched {
		if raw := logits[t]; raw != raw || raw > math.MaxFloat32 {
			return 0, 0, false
		}
	}
	ti := slices.Index(s.order, StageTemperature)
	for _, st := range s.order[:ti] {
		switch st {
		case StagePenalties:
			if pen {
				sc.penalties(win, c)
			}
		case StageDRY:
			for t, p := range dryPen {
				sc.y[t] -= p
			}
		case StageNGramPenalty:
			for t, n := range ngramCnt {
				sc.y[t] -= c.NGramPenalty * float64(n)
			}
		case StageNGram:
			if ngram {
				NoRepeatNGram(sc.y, history, c.NoRepeatNGram)
			}
		case StageBias:
			for id, b := range c.LogitBias {
				sc.y[id] += b
			}
			for _, id := range s.banned {
				sc.y[id] = negInf
			}
		}
	}
	for _, t := range sc.touched {
		if y := sc.y[t]; y != y || y > math.MaxFloat64 {
			return 0, 0, false // NaN or +Inf: let the reference decide
		}
	}

	f := &fastState{s: s, sc: sc, logits: logits, t: c.Temperature, greedy: greedy, lowE: -100}
	if greedy {
		f.t = 1
	}
	f.mu, f.needP = mu, needP
	var stageBuf [16]Stage
	stages := stageBuf[:0]
	for _, st := range s.order[ti+1:] {
		if st == StageXTC && active(st, c, v) && XTCUniform(c.Seed, seq, step) > c.XTCProbability {
			continue // XTC does not fire at this step
		}
		if active(st, c, v) {
			stages = append(stages, st)
		}
	}
	if c.Mirostat == 2 && !greedy {
		// Mirostat keeps the most probable token: greedy decoding ignores it.
		stages = append(stages, stageMirostat)
	}
	f.keepW = canStoreWeights && v >= keepWeightsMinV
	// Greedy decoding skips the temperature stage (T = 1 below) and takes
	// the argmax at the end. Top-k, top-p, min-p and top-n-sigma keep the
	// argmax, so only typical sampling and XTC (when it fires) need the
	// truncation stages.
	greedyTypical := greedy && (slices.Contains(stages, StageTypical) || slices.Contains(stages, StageXTC))
	if (!greedy || greedyTypical) && len(stages) > 0 && stages[0] == StageTopK {
		if !f.topKDense(c.TopK) {
			return 0, 0, false
		}
		return f.finishSparse(stages[1:], seq, step)
	}

	best, bi, ok := f.maxPass()
	if !ok {
		return 0, 0, false
	}
	ymax, amax := negInf, -1
	if bi >= 0 {
		ymax, amax = float64(best), bi
	}
	for _, t := range sc.touched {
		if y := sc.y[t]; y > negInf && (y > ymax || (y == ymax && int(t) < amax)) {
			ymax, amax = y, int(t)
		}
	}
	if amax < 0 {
		return 0, 0, false
	}
	if greedy && !greedyTypical {
		return amax, 0, true
	}
	// Exponents are taken relative to the largest value: e = (y - ymax)/T.
	f.ref = ymax
	f.m = f.x(amax)
	eexp := 4 * u53 * (4*math.Abs(ymax)/f.t + 200 + 2*maxE)
	f.delta = expNegErr + eexp
	f.eta = 3*f.delta + (6*float64(v)+4*float64(len(sc.touched)+2))*u53 + 1e-15
	if !(f.delta < 1e-9) || math.IsInf(f.m, 0) {
		return 0, 0, false
	}
	if len(stages) > 0 && stages[0] == StageTopNSigma {
		applied, ok := f.topNSigmaDense(c.TopNSigma)
		if !ok {
			return 0, 0, false
		}
		if applied {
			return f.finishSparse(stages[1:], seq, step)
		}
		stages = stages[1:]
	}
	if len(stages) == 0 || stages[0] != StageMinP {
		f.th = aboveE
		if len(stages) >= 2 && stages[0] == StageTopP && stages[1] == StageMinP {
			// The weight above min-p's threshold (see below).
			f.th[1] = min(aboveE[1], math.Log(c.MinP)-2e-3)
		}
		// With no stage left the draw needs only z and the block sums.
		f.sumOnly = len(stages) == 0
		ok := f.densePass()
		f.sumOnly = false
		if !ok {
			return 0, 0, false
		}
	}
	if len(stages) > 0 && stages[0] == StageXTC {
		last, ok := f.xtcDense(c.XTCThreshold)
		if !ok {
			return 0, 0, false
		}
		stages = stages[1:]
		if last >= 0 {
			// The rest of the vocabulary stays: the draw runs over the
			// dense distribution minus the removed tokens, and the
			// remaining top token is the largest.
			switch {
			case len(stages) > 0:
				return 0, 0, false
			case greedy:
				return last, 0, true
			}
			id, ok := f.drawDense(seq, step)
			return id, 0, ok
		}
	}
	if len(stages) == 0 {
		if greedy {
			return amax, 0, true
		}
		id, ok := f.drawDense(seq, step)
		return id, 0, ok
	}
	// Top-p followed by min-p: when the tokens above f.th[1] hold less
	// than p*Z, top-p's cut lies below it and top-p keeps every token above
	// it; if min-p keeps only such tokens (its threshold on w/w_max does
	// not depend on the normaliser, see minPDense), top-p changes nothing
	// min-p keeps.
	if len(stages) >= 2 && stages[0] == StageTopP && stages[1] == StageMinP && f.th[0] == aboveE[0] &&
		math.Log(c.MinP) > f.th[1]+1e-3 && f.above[1] < c.TopP*f.z-2*f.margin() {
		stages = stages[1:]
	}
	for {
		// XTC firing after a wide truncation (the last stages) removes a few
		// top tokens from its kept set before the draw (see xtcWide).
		wideLast := len(stages) == 1
		if len(stages) == 2 && stages[1] == StageXTC && !greedy && stages[0] != stageMirostat {
			wideLast, f.xtcTh = true, c.XTCThreshold
		}
		// A wide top-p or min-p followed by top-p, min-p or typical
		// sampling keeps every token above a logit: applied densely
		// (floorDense), the next stage runs over the dense sums of the
		// kept tokens.
		floorNext := !greedy && len(stages) >= 2 && f.kept == nil &&
			(stages[1] == StageTopP || stages[1] == StageMinP || stages[1] == StageTypical)
		f.floored = false
		switch stages[0] {
		case StageMinP:
			if floorNext {
				if applied, ok := f.minPFloor(c.MinP); applied {
					if !ok {
						return 0, 0, false
					}
					break
				}
			}
			if wideLast && !greedy {
				if id, ok, tried := f.minPWide(c.MinP, seq, step); tried {
					return id, 0, ok
				}
			}
			ok = f.minPDense(c.MinP)
		case StageTopP:
			if wideLast && !greedy {
				if lo, ok := f.tailBound(1 - c.TopP); ok {
					if id, ok, tried := f.topPWide(c.TopP, lo, seq, step); tried {
						return id, 0, ok
					}
				}
			}
			if !wideLast && !f.topPWideKept(c.TopP, floorNext) {
				return 0, 0, false
			}
			if f.kept == nil && !f.floored {
				ok = f.topPDense(c.TopP)
			}
		case StageTypical:
			if wideLast && !greedy {
				if id, ok, tried := f.typicalWide(c.Typical, seq, step); tried {
					return id, 0, ok
				}
			}
			ok = f.typicalDense(c.Typical)
		case stageMirostat:
			if len(stages) == 1 && !f.needP {
				if id, ok, tried := f.mirostatWide(mu, seq, step); tried {
					return id, 0, ok
				}
			}
			ok = f.mirostatDense(mu)
		default:
			ok = false
		}
		if !f.floored {
			break
		}
		stages = stages[1:]
		floorDraws.Add(1)
	}
	f.xtcTh = 0
	if !ok {
		return 0, 0, false
	}
	if f.kept != nil {
		if len(stages) == 1 && !greedy && !(stages[0] == stageMirostat && f.needP) {
			id, ok := f.drawKept(f.kept, seq, step)
			return id, 0, ok
		}
		f.setCands(f.kept)
	}
	return f.finishSparse(stages[1:], seq, step)
}

// maxPass checks the float32 logits (NaN and +Inf are reported by the
// reference) and returns the largest untouched logit and its lowest id (-1
// when every untouched logit is -Inf).
func (f *fastState) maxPass() (float32, int, bool) {
	sc := f.sc
	gen, stamp := sc.gen, sc.stamp[:len(f.logits)]
	// The largest value over all tokens (vectorised) also reports NaN and
	// +Inf.
	mx, at, nan := argMaxF32(f.logits)
	if nan || mx > math.MaxFloat32 {
		return 0, 0, false
	}
	if mx == float32(math.Inf(-1)) {
		return mx, -1, true
	}
	if stamp[at] != gen {
		return mx, at, true // the largest logit's lowest id is untouched
	}
	// The untouched tokens with logit >= mx - d, d widened until there is
	// one (or every finite logit is taken): the largest of them, lowest id
	// first, is the largest untouched logit.
	idx := sc.kidx[:0]
	for d := float32(0); ; {
		th := mx - d
		all := d > 1e30 || th < -math.MaxFloat32
		if all {
			th = -math.MaxFloat32
		}
		idx = geIndices(f.logits, th, idx[:0])
		best, bi := float32(math.Inf(-1)), -1
		for _, i := range idx {
			if x := f.logits[i]; stamp[i] != gen && (bi < 0 || x > best) {
				best, bi = x, int(i)
			}
		}
		if bi >= 0 || all {
			sc.kidx = idx
			return best, bi, true
		}
		if d == 0 {
			d = 0.125
		} else {
			d *= 4
		}
	}
}

// argMaxF32Go continues argMaxF32 (the largest value mx so far, at its
// lowest index at, and whether a NaN was seen) over src, the values from
// index off on.
func argMaxF32Go(src []float32, off int, mx float32, at int, nan bool) (float32, int, bool) {
	for i, x := range src {
		if x != x {
			nan = true
		} else if x > mx {
			mx, at = x, off+i
		}
	}
	return mx, at, nan
}

// setCands replaces the candidate list by the ids of cs (sorted by id) and
// their exact logits.
func (f *fastState) setCands(cs []cand) {
	sc := f.sc
	sc.ids, sc.xs = sc.ids[:0], sc.xs[:0]
	for _, c := range cs {
		sc.ids = append(sc.ids, c.id)
	}
	sc.idBits = sortIDs(sc.ids, len(f.logits), sc.idBits)
	for _, id := range sc.ids {
		sc.xs = append(sc.xs, f.x(int(id)))
	}
}

// topKDense applies top-k to the untruncated vocabulary and leaves the
// survivors in the candidate list. It also checks the logits.
func (f *fastState) topKDense(k int) bool {
	sc := f.sc
	gen, stamp := sc.gen, sc.stamp[:len(f.logits)]
	mx, nan := maxF32(f.logits)
	if nan || mx > math.MaxFloat32 {
		return false
	}
	// The untouched logits within d of the maximum, d doubled until there
	// are at least k of them (or every finite one is taken), then bisected
	// while there are many more than k (a few vectorised scans are cheaper
	// than ranking tens of thousands of logits).
	idx := sc.kidx[:0]
	if mx > float32(math.Inf(-1)) {
		// scan collects the logits >= mx - d and returns the number of
		// untouched ones among them.
		th := float32(0)
		scan := func(d float32) (int, bool) {
			th = mx - d
			all := d > 1e30 || th < -math.MaxFloat32
			if all {
				th = -math.MaxFloat32
			}
			idx = geIndices(f.logits, th, idx[:0])
			n := len(idx)
			for _, t := range sc.touched {
				if f.logits[t] >= th {
					n--
				}
			}
			return n, all
		}
		dlo := float32(0)
		for d := float32(8); ; d = nextWidth(d) {
			n, all := scan(d)
			if all || n >= k {
				for it := 0; it < 8 && n > 4*k+64 && d-dlo > 1e-3*d; it++ {
					dm := dlo + (d-dlo)/2
					if m, _ := scan(dm); m >= k {
						d, n = dm, m
					} else {
						dlo = dm
					}
				}
				if mx-d != th {
					scan(d)
				}
				break
			}
			dlo = d
		}
		n := 0
		for _, i := range idx {
			if stamp[i] != gen {
				idx[n] = i
				n++
			}
		}
		idx = idx[:n]
	}
	sc.kidx = idx
	// Candidates: untouched logits >= the k-th largest untouched one (all
	// finite untouched ones if there are fewer than k), and every finite
	// touched token. Every other token's logit is below k of these.
	raw := float32(math.Inf(-1))
	if len(idx) >= k {
		vals := sc.heap[:0]
		for _, i := range idx {
			vals = append(vals, f.logits[i])
		}
		raw = kthLargestF32(vals, k)
		sc.heap = vals
	}
	cs := sc.cands[:0]
	for _, i := range idx {
		if f.logits[i] >= raw {
			cs = append(cs, cand{id: i})
		}
	}
	for _, t := range sc.touched {
		if sc.y[t] > negInf {
			cs = append(cs, cand{id: t})
		}
	}
	for j := range cs {
		cs[j].x = f.x(int(cs[j].id))
	}
	sc.cands = cs
	f.setCands(cs)
	topK(sc.xs, k, &sc.sel)
	f.compact()
	return true
}

// compact drops the -Inf entries of the candidate list.
func (f *fastState) compact() {
	sc := f.sc
	n := 0
	for j, x := range sc.xs {
		if x > negInf {
			sc.ids[n], sc.xs[n] = sc.ids[j], x
			n++
		}
	}
	sc.ids, sc.xs = sc.ids[:n], sc.xs[:n]
}

// collect returns the tokens whose processed logit x lies in [xlo, xhi],
// where xlo and xhi are the processed logits of the float32 values rlo and
// rhi that bound the exponents lo and hi (e = (y - ref)/T), widened by
// eSlack. An untouched token is in that range iff its float32 logit is in
// [rlo, rhi] (x is strictly increasing in it), so the result is exactly the
// set of tokens ranked between two logits: with hi = +Inf, a prefix of the
// ranking by logit. The candidates get their exact logits and, with withW,
// their approximate weights.
func (f *fastState) collect(lo, hi float64, withW bool) []cand {
	sc := f.sc
	gen, stamp := sc.gen, sc.stamp[:len(f.logits)]
	rlo := roundDown32(f.ref + f.t*(lo-eSlack))
	rhi := float32(math.Inf(1))
	if !math.IsInf(hi, 1) {
		rhi = roundUp32(f.ref + f.t*(hi+eSlack))
	}
	xlo, xhi := f.xOf(rlo), f.xOf(rhi)
	cs := sc.cands[:0]
	if rlo > float32(math.Inf(-1)) && math.IsInf(float64(rhi), 1) {
		if !f.kidxValid || f.kidxFrom != rlo {
			sc.kidx = geIndices(f.logits, rlo, sc.kidx[:0])
		}
		for _, i := range sc.kidx {
			if stamp[i] != gen && f.aboveLow(int(i)) {
				cs = append(cs, cand{id: i})
			}
		}
	} else {
		for i, x := range f.logits {
			if x >= rlo && x <= rhi && x > float32(math.Inf(-1)) && stamp[i] != gen && f.aboveLow(i) {
				cs = append(cs, cand{id: int32(i)})
			}
		}
	}
	f.kidxValid = false
	for _, t := range sc.touched {
		if x := f.x(int(t)); x > negInf && x >= xlo && x <= xhi && f.aboveLow(int(t)) {
			cs = append(cs, cand{id: t})
		}
	}
	for j := range cs {
		id := int(cs[j].id)
		cs[j].x = f.x(id)
		if withW {
			cs[j].w = f.w(id)
		}
	}
	sc.cands = cs
	return cs
}

// xOf returns the processed logit of an untouched token with float32 logit
// r.
func (f *fastState) xOf(r float32) float64 {
	if f.t != 1 {
		return float64(r) / f.t
	}
	return float64(r)
}

// minPDense applies min-p to the untruncated vocabulary. The reference keeps
// token i iff fl(w_i/Z) >= fl(minP * fl(1/Z)) with w_i = exp(x_i - m) (the
// most probable token has weight exactly 1). That holds when w_i >
// minP*(1+1e-14) and fails when w_i < minP*(1-1e-14), whatever Z; between
// the two the reference decides.
func (f *fastState) minPDense(minP float64) bool {
	lo := math.Log(minP)
	cs := f.collect(lo, math.Inf(1), false)
	n := 0
	for _, c := range cs {
		w := math.Exp(c.x - f.m)
		switch {
		case c.x == f.m || w > minP*(1+1e-14):
			cs[n] = c
			n++
		case w < minP*(1-1e-14):
		default:
			return false
		}
	}
	f.setCands(cs[:n])
	return true
}

// minPWideCount is the number of tokens at or above min-p's threshold from
// which minPWide draws over the dense pass's per-block sums rather than
// collecting the survivors.
const minPWideCount = 2048

// minPWideMaxE is the largest min-p exponent log(minP) at which minPWide
// counts the tokens above the threshold.
const minPWideMaxE = -6

// minPWide applies min-p (the last truncation) followed by the draw when it
// keeps many tokens, as mirostatWide: the reference keeps token i iff
// exp(x_i - m) is at least minP within a relative 1e-14 (see minPDense),
// so the tokens of exponent e >= eHi are kept and those below eLo dropped,
// the band [eLo, eHi) covering that and the difference between e and
// x_i - m; when no token lies in the band, one dense pass gives the
// per-block weights above eHi and the draw runs over them (drawPred).
// tried is false when it does not apply (few kept tokens, a token in the
// band): minPDense decides.
func (f *fastState) minPWide(minP float64, seq, step uint64) (id int, ok, tried bool) {
	eLo, eHi, wide := f.minPBand(minP)
	if !wide {
		return 0, false, false
	}
	sc := f.sc
	f.th = [2]float64{eHi, eLo}
	if !f.densePass() || !(f.above[0] > 0) {
		return 0, false, true
	}
	nb := len(sc.blocks)
	kb := slices.Grow(sc.kblocks[:0], nb)[:nb]
	for b := range kb {
		kb[b] = sc.babove[b][0]
	}
	sc.kblocks = kb
	keep := f.keepAbove(eHi)
	if !f.xtcWide(kb, keep) {
		return 0, false, true
	}
	id, ok = f.drawPred(kb, keep, f.margin(), seq, step)
	if ok {
		wideDraws.Add(1)
	}
	return id, ok, true
}

// minPBand returns the band [eLo, eHi) of exponents around min-p's
// threshold of minPWide (the tokens of exponent e >= eHi are kept, those
// below eLo dropped); wide is false when min-p keeps few tokens or a token
// lies in the band.
func (f *fastState) minPBand(minP float64) (eLo, eHi float64, wide bool) {
	lo := math.Log(minP)
	band := 1e-9 + 16*u53*(math.Abs(f.m)+math.Abs(f.ref)/f.t+2*maxE+200)
	eHi, eLo = lo+band, lo-band
	// Above e = -6 a token weighs more than e^-6 (the most probable one 1):
	// a few hundred tokens at most hold the mass of a realistic
	// distribution there, so no scan for the count.
	if !(eLo > -90) || !(eHi < minPWideMaxE) {
		return 0, 0, false
	}
	// The count of the tokens from min-p's threshold, scanned as
	// minPDense's collect scans them: when there are few, collect reuses
	// the scan.
	sc := f.sc
	rlo := roundDown32(f.ref + f.t*(lo-eSlack))
	sc.kidx = geIndices(f.logits, rlo, sc.kidx[:0])
	if len(sc.kidx) < minPWideCount {
		f.kidxFrom, f.kidxValid = rlo, true
		return 0, 0, false
	}
	if len(f.bracket(eLo, eHi)) > 0 {
		return 0, 0, false
	}
	return eLo, eHi, true
}

// minPFloor applies a wide min-p followed by more stages densely: when
// minPBand finds the kept set wide and no token in the band, the kept set
// is every token of exponent above the middle of the band (floorDense).
// applied is false when it does not apply (minPDense decides); ok is false
// when the dense pass over the kept tokens is not accurate enough.
func (f *fastState) minPFloor(minP float64) (applied, ok bool) {
	eLo, eHi, wide := f.minPBand(minP)
	if !wide {
		return false, true
	}
	return true, f.floorDense((eLo + eHi) / 2)
}

// floorGap is the least distance, in exponent, between the last token of
// a top-p cut applied densely and the next token below it: far beyond the
// rounding differences of the exponents (a few ulp of 100), so that a
// floor in the gap separates the same tokens in every pass.
const floorGap = 1e-9

// floorDraws counts the truncations applied densely by floorDense (read by
// the tests).
var floorDraws atomic.Uint64

// floorDense applies a truncation that keeps exactly the tokens of
// exponent >= lowE (no token's exponent is within the rounding of the
// exponents of lowE): every later pass, candidate list and draw gives the
// others weight 0 and leaves them out, so the normaliser, the mean
// exponent and the partial sums of a new dense pass are those of the kept
// tokens, as the reference's next stages compute them over its survivors.
// The most probable token is kept (f.m stays). false when the dense pass is
// not accurate enough.
func (f *fastState) floorDense(lowE float64) bool {
	f.lowE = max(f.lowE, lowE)
	f.th = aboveE
	f.floored = true
	return f.densePass()
}

// maxE caps the weight exponents e_i = (y_i - ref)/T of the dense pass.
const maxE = 40

// aboveE are the exponents above which the dense pass also sums the
// weights (weightSums.above), to locate the top-p and typical cuts with few
// candidates.
var aboveE = [2]float64{-4, -8}

// weightSums are the sums of the dense pass over some tokens: of the weights
// w, of w*e, and of w over the tokens with e >= th[j] (the thresholds of
// the pass).
type weightSums struct {
	w, we float64
	above [2]float64
}

// plus returns s with the sums of o added.
func (s weightSums) plus(o weightSums) weightSums {
	s.w += o.w
	s.we += o.we
	s.above[0] += o.above[0]
	s.above[1] += o.above[1]
	return s
}

// add adds the contribution of a token of exponent e and weight w (w = 0
// contributes nothing).
func (s *weightSums) add(e, w float64, ths [2]float64) {
	if w == 0 {
		return
	}
	s.w += w
	s.we += w * e
	for j, th := range ths {
		if e >= th {
			s.above[j] += w
		}
	}
}

// denseWeightsGo is denseWeights in Go: expNeg inlined by hand.
func denseWeightsGo(src []float32, ref, invT float64, th [2]float64, lowE float64) weightSums {
	var s weightSums
	for _, x := range src {
		e := (float64(x) - ref) * invT
		if e > maxE {
			e = maxE
		}
		if e >= lowE {
			t := e*expInvStep + expShifter
			k := int64(math.Float64bits(t) - math.Float64bits(expShifter))
			r := e - (t-expShifter)*expStep
			p := 1 + r*(1+r*(0.5+r*(1.0/6)))
			wi := math.Float64frombits(math.Float64bits(expTab[k&255]*p) + uint64(k>>8)<<52)
			s.w += wi
			s.we += wi * e
			if e >= th[0] {
				s.above[0] += wi
			}
			if e >= th[1] {
				s.above[1] += wi
			}
		}
	}
	return s
}

// weights sums the approximate weights exp(e_i) (expNeg, 0 for e_i <
// -100) of every token computed from its float32 logit, e_i =
// min((logit_i - ref)/T, maxE): their total z, the per-block sums, the sum
// a of w*e and the weights above f.th, in total and per block. fixTouched
// then replaces the touched tokens' contributions. The logits have been
// checked by maxPass.
func (f *fastState) weights() {
	sc := f.sc
	v := len(f.logits)
	nb := (v + blockSize - 1) / blockSize
	if cap(sc.blocks) < nb {
		sc.blocks = make([]float64, nb)
	}
	if cap(sc.babove) < nb {
		sc.babove = make([][2]float64, nb)
	}
	blocks := sc.blocks[:nb]
	babove := sc.babove[:nb]
	ref, invT := f.ref, 1/f.t
	z, a := 0.0, 0.0
	f.above = [2]float64{}
	// The weight above a threshold below lowE is the weight above lowE.
	th := [2]float64{max(f.th[0], f.lowE), max(f.th[1], f.lowE)}
	// With keepW the first pass keeps the weights and the later ones read
	// them.
	reuse := f.keepW && f.stored && f.wRef == ref && f.wInvT == invT
	if reuse {
		storedPasses.Add(1)
	}
	if f.keepW && !reuse {
		sc.wts = slices.Grow(sc.wts[:0], v)[:v]
		f.stored, f.wRef, f.wInvT = true, ref, invT
	}
	for b := range blocks {
		lo, hi := b*blockSize, min((b+1)*blockSize, v)
		var ws weightSums
		switch {
		case reuse:
			ws = storedWeights(f.logits[lo:hi], sc.wts[lo:hi], ref, invT, th, f.lowE)
		case f.keepW && f.sumOnly:
			ws = storeWeightSum(f.logits[lo:hi], sc.wts[lo:hi], ref, invT, th, f.lowE)
		case f.keepW:
			ws = storeWeights(f.logits[lo:hi], sc.wts[lo:hi], ref, invT, th, f.lowE)
		default:
			ws = denseWeights(f.logits[lo:hi], ref, invT, th, f.lowE)
		}
		blocks[b] = ws.w
		babove[b] = ws.above
		z += ws.w
		a += ws.we
		f.above[0] += ws.above[0]
		f.above[1] += ws.above[1]
	}
	sc.blocks, sc.babove = blocks, babove
	f.z, f.a = z, a
}

// densePass runs weights and fixTouched (and resum when replacing the
// touched weights cancelled); false when the normaliser is not accurate
// enough to decide anything.
func (f *fastState) densePass() bool {
	f.weights()
	f.fixTouched()
	if f.margin() > 1e-9*f.z {
		// Replacing large touched weights cancelled: sum again.
		f.resum()
	}
	return f.z > 0 && f.margin() <= 1e-7*f.z
}

// fixTouched replaces the weights the dense pass computed from the touched
// tokens' float32 logits by those of their processed values.
func (f *fastState) fixTouched() {
	sc := f.sc
	zmax := f.z
	blocks := sc.blocks
	ref, invT := f.ref, 1/f.t
	for _, t := range sc.touched {
		e := min((float64(f.logits[t])-ref)*invT, maxE)
		if old := f.wOf(e); old != 0 {
			f.z -= old
			f.a -= old * e
			blocks[int(t)/blockSize] -= old
			for j, th := range f.th {
				if e >= th {
					f.above[j] -= old
					sc.babove[int(t)/blockSize][j] -= old
				}
			}
		}
		if y := sc.y[t]; y > negInf {
			e := (y - ref) * invT
			if nw := f.wOf(e); nw != 0 {
				f.z += nw
				f.a += nw * e
				zmax += nw
				blocks[int(t)/blockSize] += nw
				for j, th := range f.th {
					if e >= th {
						f.above[j] += nw
						sc.babove[int(t)/blockSize][j] += nw
					}
				}
			}
		}
	}
	// Removing the old weights costs up to one rounding of the largest
	// intermediate sum per operation (bounded by zmax), and the dense
	// kernel's weights may differ from expNeg's by 2*expNegErr.
	f.zerr = (4*float64(len(sc.touched)+1)*u53 + 2*expNegErr) * zmax
}

// e returns the exponent of token i as the dense pass and fixTouched
// define it.
func (f *fastState) e(i int) float64 {
	if f.sc.stamp[i] == f.sc.gen {
		return (f.sc.y[i] - f.ref) * (1 / f.t)
	}
	return min((float64(f.logits[i])-f.ref)*(1/f.t), maxE)
}

// w returns the approximate weight of token i after fixTouched: the
// dense pass's kept weight when there is one (within the same error
// bound as expNeg's).
func (f *fastState) w(i int) float64 {
	e := f.e(i)
	if f.stored && f.sc.stamp[i] != f.sc.gen && e >= f.lowE {
		return f.sc.wts[i]
	}
	return f.wOf(e)
}

// wOf returns the approximate weight of a token of exponent e: expNeg(e),
// or 0 below lowE.
func (f *fastState) wOf(e float64) float64 {
	if e < f.lowE {
		return 0
	}
	return expNeg(e)
}

// aboveLow reports whether token i is at or above lowE (a token below it
// is filtered by a truncation applied densely).
func (f *fastState) aboveLow(i int) bool { return f.lowE <= -100 || f.e(i) >= f.lowE }

// resum recomputes z, a and the block sums from the final weights.
func (f *fastState) resum() {
	sc := f.sc
	var all weightSums
	for b := range sc.blocks {
		off := b * blockSize
		end := min(off+blockSize, len(f.logits))
		var s weightSums
		for i := off; i < end; i++ {
			e := f.e(i)
			s.add(e, f.wOf(e), f.th)
		}
		sc.blocks[b] = s.w
		sc.babove[b] = s.above
		all.w += s.w
		all.we += s.we
		all.above[0] += s.above[0]
		all.above[1] += s.above[1]
	}
	f.z, f.a, f.above, f.zerr = all.w, all.we, all.above, 0
}

// margin is the absolute weight margin of mass comparisons.
func (f *fastState) margin() float64 { return f.eta*f.z + f.zerr + 1e-30 }

// tailBound returns an exponent below which the tokens hold less than
// mass*z - margin in total (V tokens of weight at most e^bound, none below
// a floor), so that the tokens at or above it hold at least (1-mass)*z +
// margin; ok is false when there is no such bound.
func (f *fastState) tailBound(mass float64) (float64, bool) {
	rest := mass*f.z - f.margin()
	if !(rest > 0) {
		return 0, false
	}
	lo := math.Log(rest / float64(len(f.logits)))
	if f.lowE > -100 {
		// The tokens below a floor weigh nothing.
		lo = max(lo, f.lowE)
	}
	return lo, true
}

// crossSelect finds, in the ranking of cs by key k descending (ties by id
// ascending), the first token whose inclusive cumulative weight w reaches
// target: it returns its index in cs (which it permutes) and the weight of
// the tokens ranked before it, summed in another order than the ranking's
// (the callers' margins cover the difference). ok is false when cs holds
// less than target. Long lists are first cut down to one bucket of a
// histogram of the keys (crossBuckets); the rest is a weighted quickselect:
// only the tokens that tie with the answer's key are sorted (by id).
func crossSelect(cs []cand, target float64) (j int, before float64, ok bool) {
	if len(cs) >= crossHistMin {
		if j, before, ok, done := crossSelectHist(cs, target); done {
			return j, before, ok
		}
	}
	return crossSelectQ(cs, target, 0)
}

// crossHistMin is the least number of candidates that crossSelect buckets
// before its quickselect (on Zipf-like candidates the buckets take a third
// to a half of the quickselect's time from 300 candidates up: 5 vs 15 us
// at 300, 16 vs 34 at 1,000); crossBuckets the number of buckets.
const (
	crossHistMin = 256
	crossBuckets = 1024
)

// crossSelectHist is crossSelect through a histogram of the keys: one pass
// sums the count and weight of crossBuckets equal-width buckets of
// [kmin, kmax] (the bucket of a key is a non-increasing function of it, so
// every bucket is a contiguous range of the ranking and equal keys share
// one), the bucket where the cumulative weight reaches target is moved to
// the front of cs, and the quickselect runs over it alone, starting from
// the weight of the buckets above. done is false when the keys do not
// spread over a finite range or the bucket's tokens, summed in the
// quickselect's order, do not reach target (rounding): then the caller
// runs the quickselect over all of cs.
func crossSelectHist(cs []cand, target float64) (j int, before float64, ok, done bool) {
	kmin, kmax := cs[0].k, cs[0].k
	for _, c := range cs[1:] {
		kmin, kmax = min(kmin, c.k), max(kmax, c.k)
	}
	scale := (crossBuckets - 1) / (kmax - kmin)
	if !(scale > 0) || math.IsInf(scale, 1) || math.IsInf(kmin, 0) || math.IsInf(kmax, 0) {
		return 0, 0, false, false
	}
	var sw [crossBuckets]float64
	var cnt [crossBuckets]int32
	for _, c := range cs {
		b := int((kmax - c.k) * scale)
		sw[b] += c.w
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
		return 0, cum, false, true
	}
	n := 0
	for i, c := range cs {
		if int((kmax-c.k)*scale) == cut {
			cs[n], cs[i] = cs[i], cs[n]
			n++
		}
	}
	if n != int(cnt[cut]) {
		return 0, 0, false, false
	}
	j, before, ok = crossSelectQ(cs[:n], target, cum)
	if !ok {
		return 0, 0, false, false
	}
	return j, before, true, true
}

// crossSelectQ is crossSelect's weighted quickselect, with before the
// weight of the tokens ranked above every token of cs.
func crossSelectQ(cs []cand, target, before float64) (j int, _ float64, ok bool) {
	lo, hi := 0, len(cs)
	for hi > lo {
		a := cs[lo:hi]
		x0, x1, x2 := a[0].k, a[len(a)/2].k, a[len(a)-1].k
		pv := max(min(x0, x1), min(max(x0, x1), x2))
		lt, i, gt := 0, 0, len(a)
		for i < gt {
			k := a[i].k
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
		for _, c := range a[:lt] {
			mG += c.w
		}
		if lt > 0 && before+mG >= target {
			hi = lo + lt
			continue
		}
		mE := 0.0
		for _, c := range a[lt:gt] {
			mE += c.w
		}
		if before+mG+mE >= target {
			e := a[lt:gt]
			slices.SortFunc(e, func(a, b cand) int { return cmp.Compare(a.id, b.id) })
			cum := before + mG
			for i, c := range e {
				if cum+c.w >= target || i == len(e)-1 {
					return lo + lt + i, cum, true
				}
				cum += c.w
			}
		}
		before += mG + mE
		lo += gt
	}
	return 0, before, false
}

// cutSteps returns the exponents at which the dense top-p and typical
// stages look for their cut, highest first: those of aboveE whose tokens
// hold at least need (so few candidates usually suffice), then lo, the
// bound that always holds enough.
func (f *fastState) cutSteps(lo, need float64) []float64 {
	steps := make([]float64, 0, len(f.th)+1)
	for j, th := range f.th {
		if th > lo && f.above[j] >= need {
			steps = append(steps, th)
		}
	}
	return append(steps, lo)
}

// topPDense applies top-p to the untruncated vocabulary (after weights).
// The tokens above tailBound(1-p) hold at least p*Z plus the margin, so the
// cut is among them; higher cut-offs are tried first and used when their
// tokens hold that mass.
func (f *fastState) topPDense(p float64) bool {
	target, mg := p*f.z, f.margin()
	lo, ok := f.tailBound(1 - p)
	if !ok {
		return false
	}
	steps := f.cutSteps(lo, target+2*mg)
	for si, cut := range steps {
		all := f.collect(cut, math.Inf(1), true)
		mass := 0.0
		for j := range all {
			all[j].k = all[j].x
			mass += all[j].w
		}
		if mass < target+2*mg && si < len(steps)-1 {
			continue
		}
		// The last kept token is the first whose inclusive cumulative
		// mass reaches p*Z; the decision must hold within the margin.
		j, before, ok := crossSelect(all, target)
		if !ok {
			return false
		}
		c := all[j]
		if !(before < target-mg && before+c.w >= target+mg) {
			return false
		}
		n := 0
		for _, o := range all {
			if o.x > c.x || (o.x == c.x && o.id <= c.id) {
				all[n] = o
				n++
			}
		}
		f.kept = all[:n]
		return true
	}
	return false
}

// typicalDense applies typical sampling to the untruncated vocabulary
// (after weights). The reference's score |-log p - H| is |x - xbar|, the
// distance of the logit from the probability-weighted mean logit xbar; in
// exponents e it is |e - ebar| with ebar = sum(w*e)/Z. The candidates are
// the tokens above tailBound(1-mass); a token below it scores more than
// ebar - bound, which must exceed the cut's score.
func (f *fastState) typicalDense(mass float64) bool {
	z := f.z
	ts, ok := f.typicalSigma()
	if !ok {
		return false
	}
	ebar, ebarM, sigma := ts.ebar, ts.ebar, ts.sigma
	target, mg := mass*z, f.margin()
	lo, ok := f.tailBound(1 - mass)
	if !ok {
		return false
	}
	steps := f.cutSteps(lo, target+2*mg)
	for si, cut := range steps {
		// A token below cut scores more than ebar-cut.
		bound := ebar - cut - eSlack
		all := f.collect(cut, math.Inf(1), true)
		for j := range all {
			all[j].s = math.Abs(all[j].x - f.m - ebarM)
			all[j].k = -all[j].s
		}
		j, before, found := crossSelect(all, target)
		var c cand
		if found {
			c = all[j]
		}
		cum := before + c.w
		if !found || c.s+2*sigma >= bound {
			if si < len(steps)-1 {
				continue
			}
			return false
		}
		if cum < target+mg || before >= target-mg {
			return false
		}
		// Every token whose score could be on the other side of c's in the
		// reference must tie with c exactly (same logit).
		for _, o := range all {
			if o.x != c.x && math.Abs(o.s-c.s) <= 2*sigma {
				return false
			}
		}
		n := 0
		for _, o := range all {
			if o.s <= c.s || o.x == c.x {
				all[n] = o
				n++
			}
		}
		f.kept = all[:n]
		return true
	}
	return false
}

// typicalSigma returns the mean exponent of typical sampling and the error
// bound of its scores (after weights); false when the bound is too large.
func (f *fastState) typicalSigma() (typicalScores, bool) {
	z := f.z
	ebar := f.a / z
	ebarM, logzM := ebar, math.Log(z) // relative to the most probable token
	logZ := f.m + logzM
	v := float64(len(f.logits))
	// Error bound of the scores: the weights' errors and the reference's
	// float64 sums move ebar by (delta + V*u)*(|ebar| + log z); rounding x,
	// m and logZ adds a few u*(|m| + |logZ|).
	sigma := 8*(f.delta+v*u53)*(1+math.Abs(ebarM)+math.Abs(logzM)) + 16*u53*(math.Abs(f.m)+math.Abs(logZ)) + 4*f.zerr/z*(maxE+100) + 1e-15
	return typicalScores{ebar, sigma}, sigma < 1e-5
}

// drawDense draws from the untruncated distribution (after weights): the
// first token, in id order, whose inclusive cumulative weight exceeds u*Z.
func (f *fastState) drawDense(seq, step uint64) (int, bool) {
	u := Uniform(f.s.cfg.Seed, seq, step)
	return f.walkBlocks(f.sc.blocks, nil, u*f.z, f.margin())
}

// walkBlocks returns the first token i, in id order, among those with
// keep(i) (every token when keep is nil), whose inclusive cumulative weight
// f.w(i) exceeds target, given the per-block weights kb of those tokens:
// the blocks that leave the cumulative weight at most target - mg are
// skipped by their sums, and the block holding the target is walked token
// by token. ok is false when a cumulative weight lies within mg of the
// target (the reference decides) or the block sums and their tokens
// disagree.
func (f *fastState) walkBlocks(kb []float64, keep func(int) bool, target, mg float64) (id int, ok bool) {
	cum := 0.0
	for b, bs := range kb {
		if cum+bs <= target-mg {
			cum += bs
			continue
		}
		end := min((b+1)*blockSize, len(f.logits))
		for i := b * blockSize; i < end; i++ {
			if keep != nil && !keep(i) {
				continue
			}
			wi := f.w(i)
			if cum+wi > target {
				if cum >= target-mg || cum+wi <= target+mg {
					return 0, false
				}
				return i, true
			}
			cum += wi
		}
		return 0, false // the block sum and its elements disagree: too close
	}
	return 0, false
}

// drawKept draws from the survivors cs of a dense truncation (with their
// weights; every other token is filtered), as the reference's softmax and
// Draw over them would: the first survivor, in id order, whose inclusive
// cumulative weight exceeds u times their total. The weights are summed per
// id block, the block holding the target is found from those sums and only
// its survivors are sorted by id; a cumulative weight within the margin of
// the target makes the reference decide. The margin bounds every error of
// drawDense's over all tokens, so it bounds these over a subset too.
func (f *fastState) drawKept(cs []cand, seq, step uint64) (int, bool) {
	sc := f.sc
	nb := len(sc.blocks)
	kb := slices.Grow(sc.kblocks[:0], nb)[:nb]
	clear(kb)
	sc.kblocks = kb
	for _, c := range cs {
		kb[int(c.id)/blockSize] += c.w
	}
	zk := 0.0
	for _, w := range kb {
		zk += w
	}
	u := Uniform(f.s.cfg.Seed, seq, step)
	target, mg := u*zk, f.margin()
	if !(zk > 2*mg) {
		return 0, false
	}
	cum := 0.0
	for b, bs := range kb {
		if cum+bs <= target-mg {
			cum += bs
			continue
		}
		in := sc.kblock[:0]
		for _, c := range cs {
			if int(c.id)/blockSize == b {
				in = append(in, c)
			}
		}
		sc.kblock = in
		slices.SortFunc(in, func(a, b cand) int { return cmp.Compare(a.id, b.id) })
		for _, c := range in {
			if cum+c.w > target {
				if cum >= target-mg || cum+c.w <= target+mg {
					return 0, false
				}
				return int(c.id), true
			}
			cum += c.w
		}
		return 0, false // the block sum and its elements disagree: too close
	}
	return 0, false
}

// finishSparse runs the remaining truncation stages on the candidate list
// with the reference functions and draws from it exactly as the reference.
func (f *fastState) finishSparse(stages []Stage, seq, step uint64) (int, float64, bool) {
	c := &f.s.cfg
	sc := f.sc
	for _, st := range stages {
		switch st {
		case StageTopK:
			topK(sc.xs, c.TopK, &sc.sel)
		case StageTopP:
			topP(sc.xs, c.TopP, &sc.sel)
		case StageMinP:
			minPTo(sc.xs, c.MinP, &sc.sel)
		case StageTypical:
			typical(sc.xs, c.Typical, &sc.sel)
		case StageXTC:
			xtc(sc.xs, c.XTCThreshold, c.XTCProbability, XTCUniform(c.Seed, seq, step), &sc.sel)
		case StageTopNSigma:
			TopNSigma(sc.xs, c.TopNSigma)
		case stageMirostat:
			mirostatTruncate(sc.xs, f.mu, &sc.sel)
		}
		f.compact()
	}
	if f.greedy {
		j := Argmax(sc.xs)
		if j < 0 {
			return 0, 0, false
		}
		return int(sc.ids[j]), 0, true
	}
	p := softmaxTo(sc.sel.probs, sc.xs)
	if p == nil {
		return 0, 0, false
	}
	sc.sel.probs = p
	j := Draw(p, Uniform(c.Seed, seq, step))
	if j < 0 {
		return 0, 0, false
	}
	return int(sc.ids[j]), p[j], true
}

// nextWidth is the next distance below the maximum that topKDense scans
// from: doubled, and beyond 1024 (far below any realistic logit spread)
// multiplied by 2^16, so that reaching every finite logit takes few scans.
func nextWidth(d float32) float32 {
	if d >= 1024 {
		return d * 65536
	}
	return d * 2
}

// kthLargestF32 returns the k-th largest value of vals (1 <= k <=
// len(vals); no NaN), which it permutes: a quickselect with a
// median-of-three pivot and a three-way partition, falling back to a sort
// when it makes little progress.
func kthLargestF32(vals []float32, k int) float32 {
	a := vals
	for rounds := 0; len(a) > 32; rounds++ {
		if rounds > 64 {
			break
		}
		x0, x1, x2 := a[0], a[len(a)/2], a[len(a)-1]
		pv := max(min(x0, x1), min(max(x0, x1), x2))
		// a[:gt] > pv, a[gt:i] == pv, a[lt:] < pv after the loop.
		gt, i, lt := 0, 0, len(a)
		for i < lt {
			switch x := a[i]; {
			case x > pv:
				a[gt], a[i] = a[i], a[gt]
				gt++
				i++
			case x < pv:
				lt--
				a[i], a[lt] = a[lt], a[i]
			default:
				i++
			}
		}
		switch {
		case k <= gt:
			a = a[:gt]
		case k <= lt:
			return pv
		default:
			a = a[lt:]
			k -= lt
		}
	}
	slices.Sort(a)
	return a[len(a)-k]
}

// sortIDs sorts ids, token ids below v, and returns the bit set it used
// (bits's storage): a long list of distinct ids is sorted by setting one bit
// per id and reading the set bits in order, others by comparisons.
func sortIDs(ids []int32, v int, bits []uint64) []uint64 {
	nw := (v + 63) / 64
	if len(ids) < 256 || len(ids) < nw {
		slices.Sort(ids)
		return bits
	}
	bits = slices.Grow(bits[:0], nw)[:nw]
	clear(bits)
	for _, id := range ids {
		m := uint64(1) << (id & 63)
		if bits[id>>6]&m != 0 {
			slices.Sort(ids) // a repeated id (never on the fast path)
			return bits
		}
		bits[id>>6] |= m
	}
	n := 0
	for w, b := range bits {
		for ; b != 0; b &= b - 1 {
			ids[n] = int32(w<<6 + mathbits.TrailingZeros64(b))
			n++
		}
	}
	return bits
}
