package sampler

import (
	"cmp"
	"math"
	"slices"
	"sync/atomic"
)

// Wide top-p cuts. When top-p keeps thousands of tokens (p close to 1), the
// tokens above the cut are not collected: further dense passes move the
// two partial-sum thresholds of the weight kernel until they bracket the
// cut (the tokens above the upper threshold hold less than p*Z, those above
// the lower one at least p*Z, both with the margin), only the tokens
// between the two thresholds are ranked exactly, and the draw runs over the
// per-block partial sums of the upper threshold plus the kept tokens of
// the bracket (drawPred).

// wideDraws counts the draws decided by topPWide (read by the tests);
// wide8Draws those of them bracketed by the eight-threshold passes.
var wideDraws, wide8Draws atomic.Uint64

// storedPasses counts the dense passes (weights and aboveK) that read the
// weights kept by the first instead of evaluating exp.
var storedPasses atomic.Uint64

// tailPoint is a partial sum of a dense pass: the weight of the tokens with
// exponent below e.
type tailPoint struct{ e, tail float64 }

// nextCut returns the exponent where the tail weight is expected to equal
// tail, interpolating log(tail) linearly in e between the known points
// (sorted by e ascending), or extrapolating from the two lowest ones.
func nextCut(pts []tailPoint, tail float64) (float64, bool) {
	lt := math.Log(tail)
	for j := 1; j < len(pts); j++ {
		a, b := pts[j-1], pts[j]
		if b.tail >= tail && a.tail < tail {
			if !(a.tail > 0) {
				return (a.e + b.e) / 2, true
			}
			la, lb := math.Log(a.tail), math.Log(b.tail)
			if !(lb > la) {
				return (a.e + b.e) / 2, true
			}
			return a.e + (lt-la)*(b.e-a.e)/(lb-la), true
		}
	}
	if len(pts) >= 2 && pts[0].tail >= tail && pts[0].tail > 0 && pts[1].tail > pts[0].tail {
		la, lb := math.Log(pts[0].tail), math.Log(pts[1].tail)
		return pts[0].e + (lt-la)*(pts[1].e-pts[0].e)/(lb-la), true
	}
	return 0, false
}

// wideMinTokens is the least number of tokens between the dense pass's two
// thresholds for which a cut between them is bracketed by wideCut rather
// than found among the collected tokens.
const wideMinTokens = 1000

// wideWidths are the half-widths of the threshold pairs tried around the
// estimated cut, one dense pass each.
var wideWidths = [...]float64{0.5, 0.15, 0.04, 0.02}

// topPWide decides top-p p followed by the draw when the cut lies below
// the dense pass's default thresholds (after weights). tried is false when
// it did not apply or found no bracket; then the caller goes on with
// topPDense (the thresholds may have moved, with their sums).
func (f *fastState) topPWide(p, lo float64, seq, step uint64) (id int, ok, tried bool) {
	return f.wideCut(p, lo, nil, seq, step)
}

// topPWideKept applies a wide top-p cut followed by more stages: the cut is
// bracketed and decided as topPWide does (without the draw), and f.kept
// becomes the tokens ranked at or above it (exact logits, no weights), so
// that the next stages run on them without the collection and ranking of
// every token above tailBound(1-p). With dense, when no token ranked
// below the cut lies within floorGap of its exponent, the kept set is
// applied by floorDense instead (the next stages run over the dense sums).
// It returns false when the bracketed decision or the dense pass failed
// (the reference decides); f.kept stays nil when the cut was not bracketed
// (topPDense goes on).
func (f *fastState) topPWideKept(p float64, dense bool) bool {
	lo, ok := f.tailBound(1 - p)
	if !ok {
		return true
	}
	f.cutOnly = true
	_, ok, tried := f.wideCut(p, lo, nil, 0, 0)
	f.cutOnly = false
	if !tried {
		return true
	}
	if !ok {
		return false
	}
	c := f.cut
	if dense && f.floorBelow(c) {
		wideKeptCuts.Add(1)
		return f.floorDense(c.e(f) - floorGap/2)
	}
	all := f.collect(c.e(f), math.Inf(1), false)
	n := 0
	for _, o := range all {
		if o.x > c.x || (o.x == c.x && o.id <= c.id) {
			all[n] = o
			n++
		}
	}
	f.kept = all[:n]
	wideKeptCuts.Add(1)
	return true
}

// floorBelow reports whether no token ranked after c by logit (ties by id)
// has an exponent within floorGap below c's: the tokens ranked up to c are
// then exactly those of exponent >= e_c - floorGap/2 (an exponent is a
// non-decreasing function of the processed logit).
func (f *fastState) floorBelow(c cand) bool {
	ec := c.e(f)
	for _, o := range f.bracket(ec-floorGap, ec+floorGap) {
		if o.x < c.x || (o.x == c.x && o.id > c.id) {
			return false
		}
	}
	return true
}

// wideKeptCuts counts the cuts decided by topPWideKept (read by the tests).
var wideKeptCuts atomic.Uint64

// typicalScores are the mean exponent ebar = sum(w*e)/Z of typical
// sampling (a token's score is |e - ebar|) and the error bound sigma of the
// scores (see typicalDense).
type typicalScores struct{ ebar, sigma float64 }

// typicalWide is topPWide for typical sampling with the given mass, when
// its kept set is every token above a logit (the cut scores more than the
// most probable token): then the ranking by score below the cut is the
// ranking by logit, and the cumulative mass of the ranks down to a token is
// the weight of the tokens above it.
func (f *fastState) typicalWide(mass float64, seq, step uint64) (id int, ok, tried bool) {
	ts, ok := f.typicalSigma()
	if !ok {
		return 0, false, false
	}
	lo, ok := f.tailBound(1 - mass)
	if !ok {
		return 0, false, false
	}
	// wideCut finds out (f.twoSided) when the tokens with e >= 2*ebar
	// hold the target: then the one-sided cut would score less than the
	// most probable token, and the kept set is two-sided.
	f.twoSided = false
	id, ok, tried = f.wideCut(mass, lo, &ts, seq, step)
	if f.twoSided {
		return f.typicalTwoSided(mass, ts, seq, step)
	}
	return id, ok, tried
}

// twoSidedDraws counts the draws decided by typicalTwoSided (read by the
// tests).
var twoSidedDraws atomic.Uint64

// typicalTwoSided decides typical sampling with the given mass followed by
// the draw when its kept set excludes the most probable tokens (a flat
// distribution, whose mean exponent ebar lies far below 0): the kept set is
// then the tokens of score |e - ebar| up to the cut's, an interval of
// exponents around ebar. The weight M(s) of the tokens with ebar - s <= e <
// ebar + s is the difference of the weights above two thresholds, so
// eight-threshold passes bracket the cut's score in [sa, sb) (M(sa) below
// the target, M(sb) above, with the margin of a difference of two sums);
// the tokens of the two bands between them are ranked exactly by score, and
// the draw walks the per-block weights of the inner interval plus the kept
// band tokens. tried is false when the kept set may hold the most probable
// token (M(-ebar) does not reach the target: wideCut decides) or without
// the AVX-512 kernel.
func (f *fastState) typicalTwoSided(mass float64, ts typicalScores, seq, step uint64) (id int, ok, tried bool) {
	ebar := ts.ebar
	z, mg := f.z, f.margin()
	target, mg2 := mass*z, 2*mg
	if !(ebar < -0.5) || !(2*ebar > -90) {
		return 0, false, false
	}
	// The tokens with e >= 2*ebar, which hold M(-ebar), weigh at most
	// above[j] when th[j] <= 2*ebar.
	for j, th := range f.th {
		if th <= 2*ebar && f.above[j] < target+2*mg2 {
			return 0, false, false
		}
	}
	sa, sb := 0.0, -ebar
	ma, mb := 0.0, math.NaN()
	var ths [8]float64
	var ss [4]float64
	for pass := 0; pass < wideMaxPasses; pass++ {
		if pass == 0 {
			ss = [4]float64{0.55 * sb, 0.7 * sb, 0.85 * sb, sb}
		} else {
			ss = [4]float64{sa, sa + (sb-sa)/4, sa + (sb-sa)/2, sa + 3*(sb-sa)/4}
		}
		for j, s := range ss {
			ths[2*j], ths[2*j+1] = ebar-s, ebar+s
		}
		tot, ok := f.aboveK(&ths)
		if !ok {
			return 0, false, pass > 0
		}
		ja := -1 // the pair of sa in this pass
		if pass > 0 {
			ja = 0
		}
		for j, s := range ss {
			m := tot[2*j] - tot[2*j+1]
			switch {
			case m >= target+2*mg2:
				if s <= sb {
					sb, mb = s, m
				}
			case m < target-2*mg2:
				if s >= sa && s > 0 {
					sa, ma, ja = s, m, j
				}
			}
		}
		if pass == 0 && !(mb == mb) {
			// M(-ebar) is not above the target. When the most probable
			// tokens (e = 0, score -ebar, the only ones with e >= 0) bring
			// the mass of the tokens with e >= 2*ebar above it, they are
			// the cut.
			if tot[6]-tot[7] < target-2*mg2 && tot[6] >= target+2*mg2 {
				return f.typicalTopCut(ts, seq, step)
			}
			return 0, false, false
		}
		if !(sa < sb) {
			return 0, false, true
		}
		// The band tokens weigh at least e^(ebar-sb) each.
		if sb-sa <= wideMaxWidth+1e-9 && mb-ma <= wideMaxBracket*math.Exp(ebar-sb) && (ja >= 0 || sa == 0) {
			sc := f.sc
			nb := len(sc.blocks)
			kb := slices.Grow(sc.kblocks[:0], nb)[:nb]
			for b := range kb {
				kb[b] = 0
				if ja >= 0 {
					kb[b] = sc.bk8[b][2*ja] - sc.bk8[b][2*ja+1]
				}
			}
			sc.kblocks = kb
			return f.twoSidedFinish(target, ma, sa, sb, ts, kb, seq, step)
		}
	}
	return 0, false, true
}

// typicalTopCut finishes typicalTwoSided when the most probable tokens
// are the cut (after the first pass, whose pair 3 is the thresholds 2*ebar
// and 0): the kept set is the tokens whose score is at most theirs, -ebar,
// that is with e >= 2*ebar, unless a token of another logit lies within the
// scores' error of that score.
func (f *fastState) typicalTopCut(ts typicalScores, seq, step uint64) (id int, ok, tried bool) {
	ebar := ts.ebar
	sTop := math.Abs(f.m - f.m - ebar)
	gap := 16*u53*(2*math.Abs(f.m)+2*maxE+200) + 4*ts.sigma + 1e-300
	cs := f.bracketTo(f.sc.cands[:0], 2*ebar-gap, 2*ebar+gap)
	cs = f.bracketTo(cs, -gap, 0)
	for _, o := range cs {
		if o.x != f.m {
			return 0, false, true
		}
	}
	sc := f.sc
	nb := len(sc.blocks)
	kb := slices.Grow(sc.kblocks[:0], nb)[:nb]
	for b := range kb {
		kb[b] = sc.bk8[b][6]
	}
	sc.kblocks = kb
	keep := func(i int) bool {
		x := f.x(i)
		return x > negInf && (math.Abs(x-f.m-ebar) <= sTop || x == f.m)
	}
	if !f.xtcWide(kb, keep) {
		return 0, false, true
	}
	id, ok = f.drawPred(kb, keep, 2*f.margin(), seq, step)
	if ok {
		twoSidedDraws.Add(1)
	}
	return id, ok, true
}

// twoSidedFinish ranks the band tokens of typicalTwoSided's bracket [sa,
// sb) by score, checks that the cut is decided within the margins, adds the
// kept band tokens to the inner interval's per-block weights kb (inner
// weight ma) and draws.
func (f *fastState) twoSidedFinish(target, ma, sa, sb float64, ts typicalScores, kb []float64, seq, step uint64) (id int, ok, tried bool) {
	ebar := ts.ebar
	mg2 := 2 * f.margin()
	cs := f.bracketTo(f.sc.cands[:0], ebar-sb, ebar-sa)
	cs = f.bracketTo(cs, ebar+sa, ebar+sb)
	for j := range cs {
		cs[j].s = math.Abs(cs[j].x - f.m - ebar)
		cs[j].k = -cs[j].s
	}
	j, before, found := crossSelect(cs, target-ma)
	if !found {
		return 0, false, true
	}
	c := cs[j]
	before += ma
	if !(before < target-mg2 && before+c.w >= target+mg2) {
		return 0, false, true
	}
	// Every inner token must rank before c and every token outside the
	// bands after it: c's score away from sa and sb by the rounding of e
	// against x - m and twice the scores' error bound.
	gap := 16*u53*(math.Abs(f.m)+math.Abs(c.x)+2*maxE+200) + 4*ts.sigma + 1e-300
	if !(c.s > sa+gap && c.s < sb-gap) {
		return 0, false, true
	}
	// Every band token whose score could be on the other side of c's in
	// the reference must tie with c exactly (same logit).
	for _, o := range cs {
		if o.x != c.x && math.Abs(o.s-c.s) <= 2*ts.sigma {
			return 0, false, true
		}
	}
	for _, o := range cs {
		if o.s <= c.s || o.x == c.x {
			kb[int(o.id)/blockSize] += o.w
		}
	}
	keep := func(i int) bool {
		x := f.x(i)
		return x > negInf && (math.Abs(x-f.m-ebar) <= c.s || x == c.x)
	}
	if !f.xtcWide(kb, keep) {
		return 0, false, true
	}
	id, ok = f.drawPred(kb, keep, mg2, seq, step)
	if ok {
		twoSidedDraws.Add(1)
	}
	return id, ok, true
}

// drawPred draws from the tokens i with keep(i), whose per-block weights
// are kb, as drawKept does (with the margin mg): the block holding the
// target is found from kb and walked token by token (walkBlocks).
func (f *fastState) drawPred(kb []float64, keep func(int) bool, mg float64, seq, step uint64) (int, bool) {
	zk := 0.0
	for _, w := range kb {
		zk += w
	}
	if !(zk > 2*mg) {
		return 0, false
	}
	u := Uniform(f.s.cfg.Seed, seq, step)
	return f.walkBlocks(kb, keep, u*zk, mg)
}

// keepAbove is the keep predicate of the finite tokens of exponent e >=
// eMin.
func (f *fastState) keepAbove(eMin float64) func(int) bool {
	return func(i int) bool { return f.e(i) >= eMin && f.x(i) > negInf }
}

// wideCut is topPWide, or typicalWide when ts is not nil.
func (f *fastState) wideCut(p, lo float64, ts *typicalScores, seq, step uint64) (id int, ok, tried bool) {
	z, mg := f.z, f.margin()
	target := p * z
	if ts != nil {
		for j, th := range f.th {
			if th >= 2*ts.ebar && f.above[j] >= target+2*mg {
				f.twoSided = true // the tokens with e >= 2*ebar hold the target
				return 0, false, false
			}
		}
	}
	if !(lo > -90) {
		return 0, false, false
	}
	var ptsBuf [2 + 2*len(wideWidths)]tailPoint
	pts := append(ptsBuf[:0], tailPoint{f.th[1], z - f.above[1]}, tailPoint{f.th[0], z - f.above[0]})
	tail := z - target
	// The cut lies in [a, b): the tokens above a hold at least the target,
	// those above b less (both with the margin). bj is the index of b among
	// the last pass's thresholds (-1: an earlier pass).
	a, b, bj := lo, f.th[1], -1
	if !(f.above[1] < target-2*mg) {
		// The cut lies between the two thresholds (a flat distribution,
		// whose tokens mostly lie above th[1]): bracketed when the tokens
		// between them are many (each weighs at most e^th[0]), otherwise
		// topPDense collects them.
		if !(f.above[1] >= target+2*mg) || !(f.above[0] < target-2*mg) ||
			!(f.above[1]-f.above[0] > wideMinTokens*math.Exp(f.th[0])) {
			return 0, false, false
		}
		a, b = max(a, f.th[1]), f.th[0]
		if !(a < b) {
			return 0, false, false
		}
	}
	lp := [2]tailPoint{pts[1], pts[0]}
	if ts != nil && 2*ts.ebar <= a {
		f.twoSided = true // the tokens with e >= a hold the target
		return 0, false, false
	}
	if id, ok, tried := f.wideCut8(p, a, b, ts, seq, step); tried || f.twoSided {
		return id, ok, tried
	}
	found := false
	for _, hw := range wideWidths {
		ec, ok := nextCut(pts, tail)
		if !ok {
			return 0, false, false
		}
		// From the last pass's pair, the local slope of log(tail) (Newton
		// from the nearer point) usually predicts better.
		if lp[1].tail > 0 && lp[0].tail > lp[1].tail {
			s := (math.Log(lp[0].tail) - math.Log(lp[1].tail)) / (lp[0].e - lp[1].e)
			q := lp[0]
			if math.Abs(math.Log(tail/lp[1].tail)) < math.Abs(math.Log(tail/lp[0].tail)) {
				q = lp[1]
			}
			if en := q.e + (math.Log(tail)-math.Log(q.tail))/s; en > a && en < b {
				ec = en
			}
		}
		th0, th1 := min(ec+hw, b), max(ec-hw, a)
		if !(th0 > th1) {
			th0, th1 = b, a
		}
		f.th = [2]float64{th0, th1}
		if !f.densePass() {
			return 0, false, true
		}
		bj = -1
		for j, th := range f.th {
			switch {
			case f.above[j] >= target+2*mg:
				a = max(a, th)
			case f.above[j] < target-2*mg && th <= b:
				b, bj = th, j
			}
		}
		if bj >= 0 && b-a <= 2*hw+1e-9 {
			found = true
			break
		}
		lp = [2]tailPoint{{th0, z - f.above[0]}, {th1, z - f.above[1]}}
		pts = append(pts, lp[0], lp[1])
		slices.SortFunc(pts, func(a, b tailPoint) int {
			switch {
			case a.e < b.e:
				return -1
			case a.e > b.e:
				return 1
			}
			return 0
		})
	}
	if !found {
		return 0, false, false
	}
	sc := f.sc
	nb := len(sc.blocks)
	kb := slices.Grow(sc.kblocks[:0], nb)[:nb]
	for b := range kb {
		kb[b] = sc.babove[b][bj]
	}
	sc.kblocks = kb
	return f.wideFinish(p, a, b, f.above[bj], kb, ts, seq, step)
}

// wideFinish decides the cut of wideCut within the bracket [a, b) of
// exponents, given the weight above of the tokens with e >= b and its
// per-block sums kb (which it adds the bracket's kept tokens to), and draws.
func (f *fastState) wideFinish(p, a, b, above float64, kb []float64, ts *typicalScores, seq, step uint64) (id int, ok, tried bool) {
	z, mg := f.z, f.margin()
	target := p * z
	// The tokens of the bracket, ranked by logit within it.
	th0, th1 := b, a
	cs := f.bracket(th1, th0)
	for j := range cs {
		cs[j].k = cs[j].x
	}
	j, before, found := crossSelect(cs, target-above)
	if !found {
		return 0, false, true
	}
	c := cs[j]
	before += above
	if !(before < target-mg && before+c.w >= target+mg) {
		return 0, false, true
	}
	// Every token above th0 must rank before c and every token below th1
	// after it: no equal processed logit across a threshold.
	gap := 16*u53*(math.Abs(f.m)+math.Abs(c.x)+2*maxE+200) + 1e-300
	if ts != nil {
		// The scores' errors: 2*sigma more on each side, and the cut must
		// score more than every token above 2*ebar (the upper side of the
		// kept interval holds the most probable token).
		gap += 4 * ts.sigma
		if !(th0 < 2*ts.ebar-gap) {
			return 0, false, true
		}
		sc := math.Abs(c.x - f.m - ts.ebar)
		for _, o := range cs {
			if o.x != c.x && math.Abs(math.Abs(o.x-f.m-ts.ebar)-sc) <= 2*ts.sigma {
				return 0, false, true
			}
		}
	}
	if !(c.e(f) < th0-gap && c.e(f) >= th1+gap) {
		return 0, false, true
	}
	if f.cutOnly {
		f.cut = c
		return 0, true, true
	}
	// Per-block weights of the kept tokens: those above th0 (kb) and
	// those of the bracket ranked up to c.
	// Typical sampling keeps every token tied with c's score.
	ties := ts != nil
	for _, o := range cs {
		if o.x > c.x || (o.x == c.x && (ties || o.id <= c.id)) {
			kb[int(o.id)/blockSize] += o.w
		}
	}
	keep := func(i int) bool {
		x := f.x(i)
		return x > negInf && (x > c.x || (x == c.x && (ties || i <= int(c.id))))
	}
	if !f.xtcWide(kb, keep) {
		return 0, false, true
	}
	id, ok = f.drawPred(kb, keep, f.margin(), seq, step)
	if ok {
		wideDraws.Add(1)
	}
	return id, ok, true
}

// e returns the exponent of candidate c (as the dense pass defines it).
func (c cand) e(f *fastState) float64 { return f.e(int(c.id)) }

// bracket returns the finite tokens with exponent e (as the dense pass
// computes it) in [lo, hi), with their exact logits and weights.
func (f *fastState) bracket(lo, hi float64) []cand { return f.bracketTo(f.sc.cands[:0], lo, hi) }

// bracketTo is bracket appending to cs (in sc.cands's storage).
func (f *fastState) bracketTo(cs []cand, lo, hi float64) []cand {
	sc := f.sc
	gen, stamp := sc.gen, sc.stamp[:len(f.logits)]
	if lo = max(lo, f.lowE); !(lo < hi) {
		return cs
	}
	// Every untouched token with lo <= e < hi has a float32 logit in [rlo,
	// rhi].
	rlo := roundDown32(f.ref + f.t*(lo-eSlack))
	rhi := roundUp32(f.ref + f.t*(hi+eSlack))
	sc.kidx = rangeIndices(f.logits, rlo, rhi, sc.kidx[:0])
	f.kidxValid = false
	n0 := len(cs)
	for _, i := range sc.kidx {
		if stamp[i] != gen {
			if e := f.e(int(i)); e >= lo && e < hi {
				cs = append(cs, cand{id: i})
			}
		}
	}
	for _, t := range sc.touched {
		if sc.y[t] > negInf {
			if e := f.e(int(t)); e >= lo && e < hi {
				cs = append(cs, cand{id: t})
			}
		}
	}
	for j := n0; j < len(cs); j++ {
		id := int(cs[j].id)
		cs[j].x = f.x(id)
		cs[j].w = f.w(id)
	}
	sc.cands = cs
	return cs
}

// mirostatWide applies Mirostat 2.0's truncation with mu (after weights)
// followed by the draw when it keeps many tokens: the kept tokens are those
// with exponent e >= eHi (whose weight is above mirostatDense's wHi) when
// no token lies in the band [eLo, eHi) (whose weight could be within the
// error band of the threshold). One more dense pass gives the per-block
// weights above eHi, and the draw runs over them (drawPred).
func (f *fastState) mirostatWide(mu float64, seq, step uint64) (id int, ok, tried bool) {
	rel := f.probErr()
	band := 3*rel + 8*u53*(math.Abs(mu)+2) + 1e-13
	wHi := math.Exp2(-(mu - band)) * f.z * (1 + 8*u53)
	wLo := math.Exp2(-(mu + band)) * f.z * (1 - 8*u53)
	// expNeg(e) is within expNegErr of exp(e).
	eHi := math.Log(wHi) + 2*expNegErr + 1e-12
	eLo := math.Log(wLo) - 2*expNegErr - 1e-12
	if !(eLo > -90) || !(eHi < f.th[1]) {
		return 0, false, false // few kept tokens: mirostatDense collects them
	}
	if len(f.bracket(eLo, eHi)) > 0 {
		return 0, false, false
	}
	f.th = [2]float64{eHi, eLo}
	if !f.densePass() || !(f.above[0] > 0) {
		return 0, false, true
	}
	sc := f.sc
	nb := len(sc.blocks)
	kb := slices.Grow(sc.kblocks[:0], nb)[:nb]
	for b := range kb {
		kb[b] = sc.babove[b][0]
	}
	sc.kblocks = kb
	id, ok = f.drawPred(kb, f.keepAbove(eHi), f.margin(), seq, step)
	if ok {
		wideDraws.Add(1)
	}
	return id, ok, true
}

// denseAbove8Go adds to out[j] the weights (as denseWeightsGo computes
// them) of the logits src with exponent e >= ths[j].
func denseAbove8Go(src []float32, ref, invT float64, ths *[8]float64, out *[8]float64) {
	for _, x := range src {
		e := min((float64(x)-ref)*invT, maxE)
		if !(e >= -100) {
			continue
		}
		wi := expNeg(e)
		for j, th := range ths {
			if e >= th {
				out[j] += wi
			}
		}
	}
}

// aboveK returns the weights of the tokens with exponent e >= ths[j] (as
// the dense pass and fixTouched define them), in total and per block
// (sc.bk8); ok is false without the AVX-512 kernel. The thresholds must be
// above -100.
func (f *fastState) aboveK(ths *[8]float64) (tot [8]float64, ok bool) {
	sc := f.sc
	v := len(f.logits)
	nb := (v + blockSize - 1) / blockSize
	bk := slices.Grow(sc.bk8[:0], nb)[:nb]
	sc.bk8 = bk
	ref, invT := f.ref, 1/f.t
	// The weight above a threshold below lowE is the weight above lowE.
	thk := *ths
	for j := range thk {
		thk[j] = max(thk[j], f.lowE)
	}
	reuse := f.stored && f.wRef == ref && f.wInvT == invT
	if reuse {
		storedPasses.Add(1)
	}
	for b := range bk {
		lo, hi := b*blockSize, min((b+1)*blockSize, v)
		var s [8]float64
		if reuse {
			s = storedAbove8(f.logits[lo:hi], sc.wts[lo:hi], ref, invT, &thk)
		} else if s, ok = denseAbove8(f.logits[lo:hi], ref, invT, &thk); !ok {
			return tot, false
		}
		bk[b] = s
		for j := range tot {
			tot[j] += s[j]
		}
	}
	zmax := tot[0]
	for _, s := range tot {
		zmax = max(zmax, s)
	}
	for _, t := range sc.touched {
		blk := int(t) / blockSize
		e := min((float64(f.logits[t])-ref)*invT, maxE)
		if old := f.wOf(e); old != 0 {
			for j, th := range ths {
				if e >= th {
					tot[j] -= old
					bk[blk][j] -= old
				}
			}
		}
		if y := sc.y[t]; y > negInf {
			e := (y - ref) * invT
			if nw := f.wOf(e); nw != 0 {
				zmax += nw
				for j, th := range ths {
					if e >= th {
						tot[j] += nw
						bk[blk][j] += nw
					}
				}
			}
		}
	}
	// Replacing the touched weights errs as in fixTouched; the margins
	// cover it only up to the dense pass's zerr (zero after a resum, when
	// the replacement cancelled; the slack covers the sums' rounding
	// differences, about V*u relative).
	if len(sc.touched) > 0 && (4*float64(len(sc.touched)+1)*u53+2*expNegErr)*zmax > f.zerr*(1+1e-6) {
		return tot, false
	}
	return tot, true
}

// wideOffsets place the free thresholds of the first 8-threshold pass
// above the lower bound of the cut (tailBound's, which assumes every token
// at the cut's weight): on realistic logits the cut lies one to three
// units above it.
var wideOffsets = [7]float64{1.0, 1.15, 1.3, 1.45, 1.6, 2.0, 2.6}

// wideSpread place the free thresholds of the first 8-threshold pass
// around a cut estimated from the dense pass's partial sums, when it lies
// between their thresholds or at most wideNearBelow below the lower one
// (farther below, the extrapolation misses and wideOffsets place them).
var wideSpread = [7]float64{-0.45, -0.3, -0.15, 0, 0.15, 0.3, 0.45}

const wideNearBelow = 1.5

// wideMaxPasses is the most eight-threshold passes of wideCut8;
// wideMaxBracket the most tokens (bounded from the bracket's weight) it
// ranks exactly, more passes narrowing a bracket of a flat distribution.
const (
	wideMaxPasses  = 5
	wideMaxBracket = 8000
)

// wideMaxWidth is the widest bracket (in exponent) whose tokens are ranked
// exactly.
const wideMaxWidth = 0.3

// wideCut8 is the bracketing of wideCut by passes of eight thresholds
// each: the first around the cut estimated from the dense pass
// (wideSpread) or at wideOffsets above the lower bound a, the next ones
// spread evenly over the bracket, the upper end b of the bracket always
// one of them (so its per-block sums come from the last pass). tried is
// false when it found no bracket (the AVX-512 kernel not available, too
// many passes): the thresholds and sums of the dense pass are unchanged,
// and wideCut's two-threshold passes go on.
func (f *fastState) wideCut8(p, a, b float64, ts *typicalScores, seq, step uint64) (id int, ok, tried bool) {
	target, mg := p*f.z, f.margin()
	var ths [8]float64
	totA := math.Inf(1) // the weight above a (unknown until a pass moves a)
	// The cut estimated from the dense pass's two partial sums (log of the
	// tail weight linear in e): between its thresholds or a little below,
	// where the extrapolation holds, the first pass's free thresholds are
	// spread around it (wideSpread).
	pts := [2]tailPoint{{f.th[1], f.z - f.above[1]}, {f.th[0], f.z - f.above[0]}}
	ec, near := nextCut(pts[:], f.z-target)
	near = near && ec > a && ec < b && ec > f.th[1]-wideNearBelow
	for pass := 0; pass < wideMaxPasses; pass++ {
		for j := range wideOffsets {
			switch {
			case pass == 0 && near:
				ths[j] = min(max(ec+wideSpread[j], a), b)
			case pass == 0:
				ths[j] = min(a+wideOffsets[j], b)
			default:
				ths[j] = a + (b-a)*float64(j+1)/8
			}
		}
		ths[7] = b
		probe := pass == 0 && ts != nil && 2*ts.ebar > a && 2*ts.ebar < b
		if probe {
			ths[6] = 2 * ts.ebar
		}
		tot, ok := f.aboveK(&ths)
		if !ok {
			return 0, false, false
		}
		if probe && tot[6] >= target+2*mg {
			f.twoSided = true
			return 0, false, false
		}
		jb := -1
		for j, th := range ths {
			switch {
			case tot[j] >= target+2*mg:
				if th > a {
					a, totA = th, tot[j]
				}
			case tot[j] < target-2*mg && th <= b:
				b, jb = th, j
			}
		}
		if jb < 0 || !(a < b) {
			return 0, false, false
		}
		// The bracket's tokens weigh at least e^a each: at most
		// (totA - tot[jb])/e^a of them are ranked.
		if b-a <= wideMaxWidth+1e-9 && totA-tot[jb] <= wideMaxBracket*math.Exp(a) {
			sc := f.sc
			nb := len(sc.blocks)
			kb := slices.Grow(sc.kblocks[:0], nb)[:nb]
			for i := range kb {
				kb[i] = sc.bk8[i][jb]
			}
			sc.kblocks = kb
			id, ok, tried := f.wideFinish(p, a, b, tot[jb], kb, ts, seq, step)
			if ok && !f.cutOnly {
				wide8Draws.Add(1)
			}
			return id, ok, tried
		}
	}
	return 0, false, false
}

// xtcWide applies XTC with threshold f.xtcTh (0: none), firing at this
// step, to the kept set of a wide truncation: the tokens i with keep(i),
// whose per-block weights are kb. As xtcDense, with the kept set's total
// weight as normaliser (kb's sums err by at most twice the dense pass's
// margin): the kept tokens of probability >= the threshold, ranked by logit
// descending (ties by id), all but the last are removed from kb and made
// touched tokens of value -Inf, so that the draw skips them. false when a
// probability is too close to the threshold to decide.
func (f *fastState) xtcWide(kb []float64, keep func(int) bool) bool {
	th := f.xtcTh
	if th == 0 {
		return true
	}
	zk := 0.0
	for _, w := range kb {
		zk += w
	}
	mg := 2 * f.margin()
	if !(th >= 1e-30) || !(zk > 4*mg) {
		return false
	}
	rel := 2*(2*f.delta+mg/zk) + 16*u53
	cs := f.collect(math.Log(th*zk*(1-rel))-1e-6, math.Inf(1), true)
	top := cs[:0]
	for _, cd := range cs {
		if !keep(int(cd.id)) {
			continue
		}
		p := cd.w / zk
		switch {
		case p >= th*(1+rel):
			top = append(top, cd)
		case p <= th*(1-rel):
		default:
			return false
		}
	}
	if len(top) < 2 {
		return true
	}
	slices.SortFunc(top, func(a, b cand) int {
		if c := cmp.Compare(b.x, a.x); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	sc := f.sc
	for _, cd := range top[:len(top)-1] {
		id := int(cd.id)
		kb[id/blockSize] -= f.w(id)
		sc.touch(id, f.logits)
		sc.y[id] = negInf
	}
	return true
}
