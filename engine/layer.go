package engine

import (
	"fmt"

	"github.com/rwkvgo/rwkvgo/engine/backend"
	"github.com/rwkvgo/rwkvgo/weights"
)

// layer holds one block's tensors on the backend. Fields a version does not
// use are nil.
type layer struct {
	ln1w, ln1b, ln2w, ln2b backend.Tensor

	// time mix
	mixK, mixV, mixR, mixG backend.Tensor // v4/v5 lerp mixes; v6 maa_k/v/r/g
	mixX, mixW             backend.Tensor // v6 maa_x, maa_w
	decay, first           backend.Tensor // v4/v5/v6 w (stored form) and u
	lnxW, lnxB             backend.Tensor
	wk, wv, wr, wo, wg     backend.Tensor
	maaW1                  backend.Tensor    // v6 [5D, C]
	maaW2                  [5]backend.Tensor // v6 [C, D] each, order w k v r g
	decayW1, decayW2       backend.Tensor    // v6
	x6                     [6]backend.Tensor // v7 x_r x_w x_k x_v x_a x_g
	w0, a0, v0, kK, kA, rK backend.Tensor    // v7 vectors
	w1, w2, a1, a2, v1, v2 backend.Tensor    // v7 LoRA
	g1, g2                 backend.Tensor
	ffnMixK, ffnMixR       backend.Tensor
	ffnK, ffnR             backend.Tensor
	ffnVT                  backend.Tensor // ffn.value.weight transposed: [F, C]
	// The mixes of the token shift's MixN calls, in the order of the
	// scratch's outputs: tmMix for the time mix (v4/v5: k v r (g); v7:
	// x_r x_w x_k x_v x_a x_g; v6 mixes are data-dependent, in scratch),
	// cmMix for the channel mix (k (r)).
	tmMix, cmMix []backend.Tensor
	index        int
}

func newLayer(cfg weights.Config, i int, vec, mat, matT func(string) backend.Tensor) *layer {
	p := fmt.Sprintf("blocks.%d.", i)
	v := func(n string) backend.Tensor { return vec(p + n) }
	w := func(n string) backend.Tensor { return mat(p + n) }
	l := &layer{index: i}
	l.ln1w, l.ln1b, l.ln2w, l.ln2b = v("ln1.weight"), v("ln1.bias"), v("ln2.weight"), v("ln2.bias")
	l.ffnK, l.ffnVT = w("ffn.key.weight"), matT(p+"ffn.value.weight")
	switch cfg.Version {
	case weights.V4, weights.V51, weights.V52:
		l.mixK, l.mixV, l.mixR = v("att.time_mix_k"), v("att.time_mix_v"), v("att.time_mix_r")
		l.decay, l.first = v("att.time_decay"), v("att.time_first")
		l.wk, l.wv, l.wr, l.wo = w("att.key.weight"), w("att.value.weight"), w("att.receptance.weight"), w("att.output.weight")
		l.ffnMixK, l.ffnMixR, l.ffnR = v("ffn.time_mix_k"), v("ffn.time_mix_r"), w("ffn.receptance.weight")
		if cfg.Version != weights.V4 {
			l.lnxW, l.lnxB = v("att.ln_x.weight"), v("att.ln_x.bias")
		}
		if cfg.Version == weights.V52 {
			l.mixG, l.wg = v("att.time_mix_g"), w("att.gate.weight")
		}
	case weights.V6:
		l.mixX, l.mixW = v("att.time_maa_x"), v("att.time_maa_w")
		l.mixK, l.mixV, l.mixR, l.mixG = v("att.time_maa_k"), v("att.time_maa_v"), v("att.time_maa_r"), v("att.time_maa_g")
		l.decay, l.first = v("att.time_decay"), v("att.time_first")
		l.lnxW, l.lnxB = v("att.ln_x.weight"), v("att.ln_x.bias")
		l.maaW1 = w("att.time_maa_w1")
		for j := range l.maaW2 {
			l.maaW2[j] = w(fmt.Sprintf("att.time_maa_w2.%d", j))
		}
		l.decayW1, l.decayW2 = w("att.time_decay_w1"), w("att.time_decay_w2")
		l.wk, l.wv, l.wr, l.wo, l.wg = w("att.key.weight"), w("att.value.weight"), w("att.receptance.weight"), w("att.output.weight"), w("att.gate.weight")
		l.ffnMixK, l.ffnMixR, l.ffnR = v("ffn.time_maa_k"), v("ffn.time_maa_r"), w("ffn.receptance.weight")
	case weights.V7:
		for j, n := range []string{"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"} {
			l.x6[j] = v("att." + n)
		}
		l.w0, l.a0, l.kK, l.kA, l.rK = v("att.w0"), v("att.a0"), v("att.k_k"), v("att.k_a"), v("att.r_k")
		l.lnxW, l.lnxB = v("att.ln_x.weight"), v("att.ln_x.bias")
		l.w1, l.w2, l.a1, l.a2, l.g1, l.g2 = w("att.w1"), w("att.w2"), w("att.a1"), w("att.a2"), w("att.g1"), w("att.g2")
		if i > 0 {
			l.v0, l.v1, l.v2 = v("att.v0"), w("att.v1"), w("att.v2")
		}
		l.wk, l.wv, l.wr, l.wo = w("att.key.weight"), w("att.value.weight"), w("att.receptance.weight"), w("att.output.weight")
		l.ffnMixK = v("ffn.x_k")
	}
	switch cfg.Version {
	case weights.V4, weights.V51, weights.V52:
		l.tmMix = []backend.Tensor{l.mixK, l.mixV, l.mixR}
		if l.mixG != nil {
			l.tmMix = append(l.tmMix, l.mixG)
		}
	case weights.V7:
		l.tmMix = l.x6[:]
	}
	l.cmMix = []backend.Tensor{l.ffnMixK}
	if l.ffnR != nil {
		l.cmMix = append(l.cmMix, l.ffnMixR)
	}
	return l
}
