//go:build !amd64 || purego

package sampler

import "math"

// denseWeights returns the weight sums of the logits src as the dense pass
// defines them (see weights), above the exponents th (at least lowE), the
// tokens of exponent below lowE (at least -100) weighing 0.
func denseWeights(src []float32, ref, invT float64, th [2]float64, lowE float64) weightSums {
	return denseWeightsGo(src, ref, invT, th, lowE)
}

// maxF32 returns the largest value of src (-Inf when empty; NaNs ignored)
// and whether src holds a NaN.
func maxF32(src []float32) (float32, bool) {
	mx, nan := float32(math.Inf(-1)), false
	for _, x := range src {
		if x != x {
			nan = true
		} else if x > mx {
			mx = x
		}
	}
	return mx, nan
}

// argMaxF32 returns the largest value of src (-Inf when empty; NaNs
// ignored), the lowest index holding it (-1 when it is -Inf) and whether
// src holds a NaN.
func argMaxF32(src []float32) (float32, int, bool) {
	mx, at, nan := argMaxF32Go(src, 0, float32(math.Inf(-1)), -1, false)
	if mx == float32(math.Inf(-1)) {
		at = -1
	}
	return mx, at, nan
}

// geIndices appends to out the indices i of src with src[i] >= th, in
// ascending order.
func geIndices(src []float32, th float32, out []int32) []int32 {
	for i, x := range src {
		if x >= th {
			out = append(out, int32(i))
		}
	}
	return out
}

// moments returns, over the values x of src other than -Inf, their number
// and the sums of d = float64(x) - c and of d*d (in any order).
func moments(src []float32, c float64) (int, float64, float64) {
	return momentsGo(src, c)
}

// rangeIndices appends to out the indices i of src with lo <= src[i] <=
// hi, in ascending order.
func rangeIndices(src []float32, lo, hi float32, out []int32) []int32 {
	for i, x := range src {
		if x >= lo && x <= hi {
			out = append(out, int32(i))
		}
	}
	return out
}

// denseAbove8 is not available without the AVX-512 kernel.
func denseAbove8(src []float32, ref, invT float64, ths *[8]float64) (out [8]float64, ok bool) {
	return out, false
}

// canStoreWeights reports whether the dense pass can keep its weights: not
// without the AVX-512 kernels.
const canStoreWeights = false

// storeWeights is denseWeights (the weights are not kept).
func storeWeights(src []float32, _ []float64, ref, invT float64, th [2]float64, lowE float64) weightSums {
	return denseWeightsGo(src, ref, invT, th, lowE)
}

// storeWeightSum is denseWeights (the weights are not kept).
func storeWeightSum(src []float32, _ []float64, ref, invT float64, th [2]float64, lowE float64) weightSums {
	return denseWeightsGo(src, ref, invT, th, lowE)
}

// storedWeights is denseWeights.
func storedWeights(src []float32, _ []float64, ref, invT float64, th [2]float64, lowE float64) weightSums {
	return denseWeightsGo(src, ref, invT, th, lowE)
}

// storedAbove8 is denseAbove8Go.
func storedAbove8(src []float32, _ []float64, ref, invT float64, ths *[8]float64) (out [8]float64) {
	denseAbove8Go(src, ref, invT, ths, &out)
	return out
}
