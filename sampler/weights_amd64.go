//go:build amd64 && !purego

package sampler

import (
	"math"
	"slices"

	"golang.org/x/sys/cpu"
)

// hasWeightsAsm reports whether expWeightsAVX2 may run; hasWeights512
// whether expWeightsAVX512 may.
var (
	hasWeightsAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	hasWeights512 = hasWeightsAsm && cpu.X86.HasAVX512F
)

// expWeightsAVX2 is denseWeights over src[:n], n a multiple of 4, four
// lanes at a time with AVX2 and FMA (the fused operations round differently
// from expNeg, within expNegErr of exp).
//
//go:noescape
func expWeightsAVX2(src *float32, n int, ref, invT, th0, th1, lowE float64) (sumW, sumWE, sum0, sum1 float64)

// expWeightsAVX512 is expWeightsAVX2 with AVX-512 over src[:n], n a
// multiple of 8. Its table factor is the product of two table entries
// (expTabHi, expTabLo), one more rounding than expTab's (see expTabHi).
//
//go:noescape
func expWeightsAVX512(src *float32, n int, ref, invT, th0, th1, lowE float64) (sumW, sumWE, sum0, sum1 float64)

// expWeightsStoreAVX512 is expWeightsAVX512, also storing each token's
// weight (whatever lowE) to dst[:n].
//
//go:noescape
func expWeightsStoreAVX512(src *float32, n int, ref, invT, th0, th1, lowE float64, dst *float64) (sumW, sumWE, sum0, sum1 float64)

// expWeightsSumStoreAVX512 is expWeightsStoreAVX512 returning only the
// sum of the weights (the other sums are 0).
//
//go:noescape
func expWeightsSumStoreAVX512(src *float32, n int, ref, invT, th0, th1, lowE float64, dst *float64) (sumW, sumWE, sum0, sum1 float64)

// storedWeightsAVX512 returns expWeightsAVX512's sums over src[:n] from the
// weights w[:n] expWeightsStoreAVX512 stored with the same ref and invT:
// the same bits, without evaluating exp.
//
//go:noescape
func storedWeightsAVX512(src *float32, n int, ref, invT, th0, th1, lowE float64, w *float64) (sumW, sumWE, sum0, sum1 float64)

// storedAbove8AVX512 is expAbove8AVX512 over the weights w[:n]
// expWeightsStoreAVX512 stored for src[:n] with the same ref and invT: the
// same bits, without evaluating exp.
//
//go:noescape
func storedAbove8AVX512(src *float32, n int, ref, invT float64, ths, out *[8]float64, w *float64)

// canStoreWeights reports whether the dense pass can keep its weights
// (storeWeights, storedWeights and storedAbove8 run).
var canStoreWeights = hasWeights512

// denseWeights returns the weight sums of the logits src as the dense pass
// defines them (see weights), above the exponents th (at least lowE), the
// tokens of exponent below lowE (at least -100) weighing 0.
func denseWeights(src []float32, ref, invT float64, th [2]float64, lowE float64) weightSums {
	n := 0
	var s weightSums
	if hasWeights512 && len(src) >= 8 {
		n = len(src) &^ 7
		s.w, s.we, s.above[0], s.above[1] = expWeightsAVX512(&src[0], n, ref, invT, th[0], th[1], lowE)
	} else if hasWeightsAsm && len(src) >= 4 {
		n = len(src) &^ 3
		s.w, s.we, s.above[0], s.above[1] = expWeightsAVX2(&src[0], n, ref, invT, th[0], th[1], lowE)
	}
	return s.plus(denseWeightsGo(src[n:], ref, invT, th, lowE))
}

// storeWeights is denseWeights, also keeping each token's weight in w (of
// src's length; those below the floor too) for storedWeights,
// storedAbove8 and fastState.w (storedWeights and storedAbove8 recompute
// the last len(src)%8 tokens' as denseWeights does).
func storeWeights(src []float32, w []float64, ref, invT float64, th [2]float64, lowE float64) weightSums {
	return keptWeights(expWeightsStoreAVX512, src, w, ref, invT, th, lowE)
}

// storeWeightSum is storeWeights for a pass that needs only the sum of the
// weights: the other sums of its result are not computed (0 but for the
// last len(src)%8 tokens').
func storeWeightSum(src []float32, w []float64, ref, invT float64, th [2]float64, lowE float64) weightSums {
	return keptWeights(expWeightsSumStoreAVX512, src, w, ref, invT, th, lowE)
}

// storedWeights is denseWeights over the weights storeWeights kept in w
// for src with the same ref and invT: the same sums, bit for bit.
func storedWeights(src []float32, w []float64, ref, invT float64, th [2]float64, lowE float64) weightSums {
	return keptWeights(storedWeightsAVX512, src, w, ref, invT, th, lowE)
}

// keptWeights runs the kernel k (expWeightsStoreAVX512 or
// storedWeightsAVX512) over the whole groups of 8 tokens of src and the Go
// loop over the rest.
func keptWeights(k func(*float32, int, float64, float64, float64, float64, float64, *float64) (float64, float64, float64, float64),
	src []float32, w []float64, ref, invT float64, th [2]float64, lowE float64) weightSums {
	var s weightSums
	n := len(src) &^ 7
	if n > 0 {
		s.w, s.we, s.above[0], s.above[1] = k(&src[0], n, ref, invT, th[0], th[1], lowE, &w[0])
	}
	for i, x := range src[n:] {
		w[n+i] = expNeg(min((float64(x)-ref)*invT, maxE))
	}
	return s.plus(denseWeightsGo(src[n:], ref, invT, th, lowE))
}

// storedAbove8 is denseAbove8 over the weights storeWeights kept in w for
// src with the same ref and invT: the same sums, bit for bit.
func storedAbove8(src []float32, w []float64, ref, invT float64, ths *[8]float64) (out [8]float64) {
	n := len(src) &^ 7
	if n > 0 {
		storedAbove8AVX512(&src[0], n, ref, invT, ths, &out, &w[0])
	}
	denseAbove8Go(src[n:], ref, invT, ths, &out)
	return out
}

// maxF32AVX2 returns the largest of src[:n] (n a multiple of 8; NaNs are
// ignored) and whether any of them is NaN.
//
//go:noescape
func maxF32AVX2(src *float32, n int) (mx float32, nan bool)

// maxF32 returns the largest value of src (-Inf when empty; NaNs ignored)
// and whether src holds a NaN.
func maxF32(src []float32) (float32, bool) {
	n := 0
	mx, nan := float32(math.Inf(-1)), false
	if hasWeights512 && len(src) >= 16 {
		n = len(src) &^ 15
		mx, _, nan = argMaxF32AVX512(&src[0], n)
	} else if hasWeightsAsm && len(src) >= 8 {
		n = len(src) &^ 7
		mx, nan = maxF32AVX2(&src[0], n)
	}
	for _, x := range src[n:] {
		if x != x {
			nan = true
		} else if x > mx {
			mx = x
		}
	}
	return mx, nan
}

// argMaxF32AVX512 is maxF32AVX2 with AVX-512 over n a multiple of 16, also
// returning the lowest index of the largest value (any index when it is
// -Inf).
//
//go:noescape
func argMaxF32AVX512(src *float32, n int) (mx float32, idx int, nan bool)

// argMaxF32 returns the largest value of src (-Inf when empty; NaNs
// ignored), the lowest index holding it (-1 when it is -Inf) and whether
// src holds a NaN.
func argMaxF32(src []float32) (float32, int, bool) {
	n := 0
	mx, at, nan := float32(math.Inf(-1)), -1, false
	if hasWeights512 && len(src) >= 16 {
		n = len(src) &^ 15
		mx, at, nan = argMaxF32AVX512(&src[0], n)
	}
	mx, at, nan = argMaxF32Go(src[n:], n, mx, at, nan)
	if mx == float32(math.Inf(-1)) {
		at = -1
	}
	return mx, at, nan
}

// geIndicesAVX2 writes to out the indices i < n (n a multiple of 8) with
// src[i] >= th in ascending order and returns their number; out must have
// room for n.
//
//go:noescape
func geIndicesAVX2(src *float32, n int, th float32, out *int32) (count int)

// geIndicesAVX512 is geIndicesAVX2 with AVX-512 over n a multiple of 16;
// out must have room for n+16 (whole groups of 16 are stored).
//
//go:noescape
func geIndicesAVX512(src *float32, n int, th float32, out *int32) (count int)

// geIndices appends to out the indices i of src with src[i] >= th, in
// ascending order.
func geIndices(src []float32, th float32, out []int32) []int32 {
	n := 0
	if hasWeights512 && len(src) >= 16 {
		n = len(src) &^ 15
		out = slices.Grow(out, n+16)
		m := geIndicesAVX512(&src[0], n, th, &out[len(out):cap(out)][0])
		out = out[:len(out)+m]
	} else if hasWeightsAsm && len(src) >= 8 {
		n = len(src) &^ 7
		out = slices.Grow(out, n)
		m := geIndicesAVX2(&src[0], n, th, &out[len(out):cap(out)][0])
		out = out[:len(out)+m]
	}
	for i, x := range src[n:] {
		if x >= th {
			out = append(out, int32(n+i))
		}
	}
	return out
}

// momentsAVX512 returns, over the values of src[:n] (n a multiple of 16)
// other than -Inf, their number and the sums of d = float64(x) - c and of
// d*d.
//
//go:noescape
func momentsAVX512(src *float32, n int, c float64) (cnt int, s1, s2 float64)

// moments returns, over the values x of src other than -Inf, their number
// and the sums of d = float64(x) - c and of d*d (in any order).
func moments(src []float32, c float64) (int, float64, float64) {
	n := 0
	cnt, s1, s2 := 0, 0.0, 0.0
	if hasWeights512 && len(src) >= 16 {
		n = len(src) &^ 15
		cnt, s1, s2 = momentsAVX512(&src[0], n, c)
	}
	k, t1, t2 := momentsGo(src[n:], c)
	return cnt + k, s1 + t1, s2 + t2
}

// rangeIndicesAVX512 is geIndicesAVX512 for lo <= src[i] <= hi.
//
//go:noescape
func rangeIndicesAVX512(src *float32, n int, lo, hi float32, out *int32) (count int)

// rangeIndices appends to out the indices i of src with lo <= src[i] <=
// hi, in ascending order.
func rangeIndices(src []float32, lo, hi float32, out []int32) []int32 {
	n := 0
	if hasWeights512 && len(src) >= 16 {
		n = len(src) &^ 15
		out = slices.Grow(out, n+16)
		m := rangeIndicesAVX512(&src[0], n, lo, hi, &out[len(out):cap(out)][0])
		out = out[:len(out)+m]
	}
	for i, x := range src[n:] {
		if x >= lo && x <= hi {
			out = append(out, int32(n+i))
		}
	}
	return out
}

// expAbove8AVX512 sets out[j] to the sum of the weights (as
// expWeightsAVX512 computes them) of the logits of src[:n] (n a multiple
// of 8) with exponent e >= ths[j].
//
//go:noescape
func expAbove8AVX512(src *float32, n int, ref, invT float64, ths, out *[8]float64)

// denseAbove8 returns, for each threshold ths[j], the weight of the logits
// src with exponent e >= ths[j], as denseWeights computes it; ok is false
// when the AVX-512 kernel is not available (the sums would differ from the
// pass's weights by more than one rounding each).
func denseAbove8(src []float32, ref, invT float64, ths *[8]float64) (out [8]float64, ok bool) {
	if !hasWeights512 {
		return out, false
	}
	n := len(src) &^ 7
	if n > 0 {
		expAbove8AVX512(&src[0], n, ref, invT, ths, &out)
	}
	denseAbove8Go(src[n:], ref, invT, ths, &out)
	return out, true
}
