package sampler

import (
	"cmp"
	"math"
	"slices"
)

// The dense fast paths of top-n-sigma, XTC and Mirostat 2.0 truncation
// over the untruncated vocabulary. Each reduces to a threshold on the
// processed logit; tokens whose value lies within the error band of the
// threshold make the reference decide.

// stageMirostat stands for Mirostat 2.0's truncation in the fast path's
// stage list (the reference runs it after every configured stage).
const stageMirostat Stage = "mirostat"

// probErr returns a bound on the relative difference between the
// approximate probability w_i/z of a token of exponent e >= -100 (after
// weights) and the reference's p_i = fl(exp(x_i - m)/Z): the weights'
// errors (delta each), the normaliser's (margin/z) and the reference's
// roundings.
func (f *fastState) probErr() float64 {
	return 2*(2*f.delta+f.margin()/f.z) + 16*u53
}

// topNSigmaDense applies top-n-sigma to the untruncated vocabulary (before
// weights) and leaves the survivors in the candidate list; applied is
// false when the stage is a no-op (fewer than two finite logits).
//
// The reference sums the processed logits x_i sequentially: mean =
// fl(sum x)/n, acc = sum fl((x_i - mean)^2), sigma = sqrt(acc/n), th =
// maxL - nsig*sigma. Its sigma differs from the exact standard deviation
// sigma* of the values by at most (2V+14)u(sigma* + |mu|): the sum's
// rounding moves mean by (n+4)u*RMS(x); acc is the exact squared distance
// to mean times (1 ± (n+3)u), and that distance is at most |x - mu|_2 +
// sqrt(n)*|mu - mean|; rounding x_i = fl(y_i/T) moves |x - mu|_2 by at
// most u*|x|_2; RMS(x) <= sigma* + |mu|. Here the moments are summed in
// any order from the float32 logits shifted by c = ref (in raw units,
// divided by T at the end), with the touched tokens' values replacing
// theirs: variance error at most 3*k*u*rms2 with rms2 the mean of d^2 over
// every added and removed value, k = V + 4*touched + 16.
func (f *fastState) topNSigmaDense(nsig float64) (applied, ok bool) {
	sc := f.sc
	if !(f.t >= 1e-250) {
		return false, false // x = y/T might overflow
	}
	c := f.ref
	cnt, s1, s2 := moments(f.logits, c)
	tsq := 0.0
	for _, t := range sc.touched {
		if raw := f.logits[t]; raw > float32(math.Inf(-1)) {
			d := float64(raw) - c
			cnt--
			s1 -= d
			s2 -= d * d
			tsq += d * d
		}
		if y := sc.y[t]; y > negInf {
			if math.IsInf(y/f.t, -1) {
				return false, false
			}
			d := y - c
			cnt++
			s1 += d
			s2 += d * d
			tsq += d * d
		}
	}
	if cnt < 2 {
		return false, true
	}
	n := float64(cnt)
	md := s1 / n
	v := s2/n - md*md
	rms2 := (max(s2, 0) + 2*tsq) / n
	if !(v > 0) || math.IsInf(rms2, 0) || math.IsNaN(rms2) {
		return false, false
	}
	sd := math.Sqrt(v)
	k := float64(len(f.logits) + 4*len(sc.touched) + 16)
	e1 := 3*k*u53*rms2/sd + 2*u53*math.Sqrt(rms2) // our sigma, raw units
	if !(e1 < 1e-3*sd) {
		return false, false
	}
	t := f.t
	sig := sd / t
	mu := (math.Abs(c) + math.Abs(md)) / t
	e := e1/t + 4*u53*sig + float64(2*len(f.logits)+14)*u53*(sig+e1/t+mu)
	th := f.m - nsig*sig
	band := 2*(nsig*e+4*u53*(math.Abs(f.m)+nsig*sig)) + 1e-300
	if !(band < math.Inf(1)) {
		return false, false
	}
	cs := f.collect(th-band-f.ref/t, math.Inf(1), false)
	kept := 0
	for _, cd := range cs {
		switch {
		case cd.x >= th+band:
			cs[kept] = cd
			kept++
		case cd.x < th-band:
		default:
			return false, false
		}
	}
	f.setCands(cs[:kept])
	return true, true
}

// xtcDense applies XTC, which fires at this step, to the untruncated
// distribution (after weights): the tokens of probability >= th ranked by
// logit descending (ties by id) all but the last are removed from the
// dense weights (made touched tokens of value -Inf). It returns the
// remaining top token, or -1 when fewer than two tokens reach th (XTC
// changes nothing).
func (f *fastState) xtcDense(th float64) (int, bool) {
	if !(th >= 1e-30) {
		return 0, false
	}
	sc := f.sc
	rel := f.probErr()
	cs := f.collect(math.Log(th*f.z)-1e-6, math.Inf(1), true)
	top := cs[:0]
	for _, cd := range cs {
		p := cd.w / f.z
		switch {
		case p >= th*(1+rel):
			top = append(top, cd)
		case p <= th*(1-rel):
		default:
			return 0, false
		}
	}
	if len(top) < 2 {
		return -1, true
	}
	slices.SortFunc(top, func(a, b cand) int {
		if c := cmp.Compare(b.x, a.x); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	last := top[len(top)-1]
	if !(f.m-last.x <= 50) {
		return 0, false // the new maximum is far below: the error bounds assume otherwise
	}
	zmax := f.z
	for _, cd := range top[:len(top)-1] {
		id := int(cd.id)
		e, w := f.e(id), f.w(id)
		f.z -= w
		f.a -= w * e
		sc.blocks[id/blockSize] -= w
		for j, ae := range f.th {
			if e >= ae {
				f.above[j] -= w
				sc.babove[id/blockSize][j] -= w
			}
		}
		sc.touch(id, f.logits)
		sc.y[id] = negInf
	}
	f.m = last.x
	f.zerr += 4 * float64(len(top)+1) * u53 * zmax
	if f.margin() > 1e-9*f.z {
		f.resum()
	}
	if !(f.z > 0) || f.margin() > 1e-7*f.z {
		return 0, false
	}
	return int(last.id), true
}

// mirostatDense applies Mirostat 2.0's truncation with mu to the
// untruncated distribution (after weights) and leaves the survivors in the
// candidate list. The reference keeps token i iff p_i > 0 and -Log2(p_i)
// <= mu; p_i = w_i/z within probErr, and Log2 adds a few ulp of its
// result. When no token is kept, the most probable one (lowest id on ties)
// is.
func (f *fastState) mirostatDense(mu float64) bool {
	lo := math.Log(f.z) - mu*math.Ln2 - 1e-6
	if !(lo > -90) {
		return false
	}
	rel := f.probErr()
	band := 3*rel + 8*u53*(math.Abs(mu)+2) + 1e-13
	// -log2(w/z) < mu - band iff w > wHi; > mu + band iff w < wLo (Exp2's
	// and the products' roundings are far inside band).
	wHi := math.Exp2(-(mu - band)) * f.z * (1 + 8*u53)
	wLo := math.Exp2(-(mu + band)) * f.z * (1 - 8*u53)
	cs := f.collect(lo, math.Inf(1), true)
	kept := 0
	for _, cd := range cs {
		switch {
		case cd.w > wHi:
			cs[kept] = cd
			kept++
		case cd.w < wLo:
		default:
			return false
		}
	}
	if kept == 0 {
		best := cand{id: -1}
		for _, cd := range f.collect(-1e-6, math.Inf(1), false) {
			if cd.x == f.m && (best.id < 0 || cd.id < best.id) {
				best = cd
			}
		}
		if best.id < 0 {
			return false
		}
		best.w = f.w(int(best.id))
		cs = append(cs[:0], best)
		kept = 1
	}
	f.kept = cs[:kept]
	return true
}
