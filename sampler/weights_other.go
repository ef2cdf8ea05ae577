//go:build !amd64 || purego

package sampler

// denseWeights returns the weight sums of the logits src as the dense pass
// defines them (see weights).
func denseWeights(src []float32, ref, invT float64) weightSums {
	return denseWeightsGo(src, ref, invT)
}
