//go:build amd64 && !purego

package sampler

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/internal/racetest"
)

// Each weight of the AVX-512 and AVX2 kernels, taken alone (the other lanes
// -Inf), is within half of expNegErr of exp, as expNeg's (the AVX-512
// kernel's extra table rounding included), and sits on the right side of
// the clamp, of the floor lowE (-100, or -30) and of th0 and th1. The
// kernels' sums over random inputs agree with the Go loop within the
// summation error.
func TestWeightKernelsLanes(t *testing.T) {
	racetest.SkipSequential(t)
	type kernel struct {
		name  string
		ok    bool
		lanes int
		f     func(*float32, int, float64, float64, float64, float64, float64) (float64, float64, float64, float64)
	}
	kernels := []kernel{
		{"avx512", hasWeights512, 8, expWeightsAVX512},
		{"avx2", hasWeightsAsm, 4, expWeightsAVX2},
	}
	r := rand.New(rand.NewPCG(61, 62))
	ref, invT := 1.25, 1/0.9
	// The partial-sum thresholds are arguments: off the default ones.
	th0, th1 := -4.5, -11.25
	worst := 0.0
	for _, k := range kernels {
		if !k.ok {
			t.Logf("%s: not available on this CPU", k.name)
			continue
		}
		src := make([]float32, 16)
		for it := 0; it < 200_000; it++ {
			for i := range src {
				src[i] = float32(math.Inf(-1))
			}
			lane := r.IntN(16)
			x := float32(ref + (-105+150*r.Float64())/invT)
			if it%50 == 0 {
				x = float32(ref + []float64{-100, th0, th1, 0, maxE, -100.0000001, -30, -30.0000001}[it/50%8]/invT)
			}
			src[lane] = x
			// The floor below which a token weighs 0: the default, or one
			// far above it (as a truncation applied densely sets).
			lowE := []float64{-100, -30}[it/2%2]
			w, we, a4, a8 := k.f(&src[0], 16, ref, invT, th0, th1, lowE)
			e := min((float64(x)-ref)*invT, maxE)
			if e < lowE {
				require.Zero(t, w, "%s e=%v", k.name, e)
				require.Zero(t, we, "%s e=%v", k.name, e)
				continue
			}
			want := math.Exp(e)
			rel := math.Abs(w-want) / want
			worst = max(worst, rel)
			require.LessOrEqual(t, rel, expNegErr/2, "%s lane %d e=%v: weight %v, exp %v", k.name, lane, e, w, want)
			require.InDelta(t, w*e, we, math.Abs(w*e)*4e-16+1e-300, "%s e=%v", k.name, e)
			require.Equal(t, e >= th0, a4 == w && w != 0, "%s e=%v: above th0 %v, w %v", k.name, e, a4, w)
			require.Equal(t, e >= th1, a8 == w && w != 0, "%s e=%v: above th1 %v, w %v", k.name, e, a8, w)
		}
		// Sums over long random inputs (both accumulator sets and the
		// 8-lane tail of the AVX-512 kernel) agree with the Go loop.
		for _, n := range []int{8, 16, 24, 1024, 1032} {
			if n%k.lanes != 0 {
				continue
			}
			src := make([]float32, n)
			for i := range src {
				src[i] = float32(r.NormFloat64() * 20)
				if r.IntN(10) == 0 {
					src[i] = float32(math.Inf(-1))
				}
			}
			// The floor below which a token weighs 0: the default, and
			// one far above it (as a truncation applied densely sets).
			lowE := []float64{-100, -30, th1}[n%3]
			w, we, a4, a8 := k.f(&src[0], n, ref, invT, th0, th1, lowE)
			g := denseWeightsGo(src, ref, invT, [2]float64{th0, th1}, lowE)
			tol := expNegErr + float64(n)*0x1p-52
			require.InDelta(t, g.w, w, tol*g.w, "%s n=%d", k.name, n)
			require.InDelta(t, g.above[0], a4, tol*g.w, "%s n=%d", k.name, n)
			require.InDelta(t, g.above[1], a8, tol*g.w, "%s n=%d", k.name, n)
			absWE := 0.0
			for _, x := range src {
				if e := min((float64(x)-ref)*invT, maxE); e >= -100 {
					absWE += math.Exp(e) * math.Abs(e)
				}
			}
			require.InDelta(t, g.we, we, tol*absWE, "%s n=%d", k.name, n)
		}
	}
	t.Logf("kernel weights: max relative error %g", worst)
}

func BenchmarkWeightKernels(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 11))
	src := zipfLogits(r, 65536)
	run := func(name string, ok bool, f func([]float32) float64) {
		b.Run(name, func(b *testing.B) {
			if !ok {
				b.Skip("not available on this CPU")
			}
			for b.Loop() {
				f(src)
			}
		})
	}
	run("avx512", hasWeights512, func(s []float32) float64 {
		w, _, _, _ := expWeightsAVX512(&s[0], len(s), 8, 1/0.8, -4, -8, -100)
		return w
	})
	run("avx2", hasWeightsAsm, func(s []float32) float64 {
		w, _, _, _ := expWeightsAVX2(&s[0], len(s), 8, 1/0.8, -4, -8, -100)
		return w
	})
	run("go", true, func(s []float32) float64 { return denseWeightsGo(s, 8, 1/0.8, aboveE, -100).w })
	ths := [8]float64{-13, -12.8, -12.6, -12.4, -12.2, -12, -11, -8}
	run("above8_avx512", hasWeights512, func(s []float32) float64 {
		var out [8]float64
		expAbove8AVX512(&s[0], len(s), 8, 1/0.8, &ths, &out)
		return out[0]
	})
	kept := make([]float64, len(src))
	run("store_avx512", hasWeights512, func(s []float32) float64 {
		w, _, _, _ := expWeightsStoreAVX512(&s[0], len(s), 8, 1/0.8, -4, -8, -100, &kept[0])
		return w
	})
	run("sum_store_avx512", hasWeights512, func(s []float32) float64 {
		w, _, _, _ := expWeightsSumStoreAVX512(&s[0], len(s), 8, 1/0.8, -4, -8, -100, &kept[0])
		return w
	})
	run("stored_avx512", hasWeights512, func(s []float32) float64 {
		w, _, _, _ := storedWeightsAVX512(&s[0], len(s), 8, 1/0.8, -4, -8, -100, &kept[0])
		return w
	})
	run("stored_above8_avx512", hasWeights512, func(s []float32) float64 {
		var out [8]float64
		storedAbove8AVX512(&s[0], len(s), 8, 1/0.8, &ths, &out, &kept[0])
		return out[0]
	})
}

// The AVX2 and AVX-512 scans (maximum with NaN detection, indices above a
// threshold) agree with a plain loop.
func TestScanKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(63, 64))
	for _, n := range []int{16, 32, 48, 64, 1024, 4096} {
		for rep := 0; rep < 30; rep++ {
			src := make([]float32, n)
			for i := range src {
				src[i] = float32(r.IntN(9)) - 4
				switch r.IntN(40) {
				case 0:
					src[i] = float32(math.Inf(-1))
				case 1:
					if rep%3 == 0 {
						src[i] = float32(math.NaN())
					}
				}
			}
			wantMx, wantNaN := float32(math.Inf(-1)), false
			for _, x := range src {
				if x != x {
					wantNaN = true
				} else if x > wantMx {
					wantMx = x
				}
			}
			th := float32(r.IntN(9)) - 4
			var want []int32
			for i, x := range src {
				if x >= th {
					want = append(want, int32(i))
				}
			}
			if hasWeightsAsm {
				mx, nan := maxF32AVX2(&src[0], n)
				require.Equal(t, wantMx, mx)
				require.Equal(t, wantNaN, nan)
				out := make([]int32, n)
				require.Equal(t, want, append([]int32(nil), out[:geIndicesAVX2(&src[0], n, th, &out[0])]...))
			}
			if hasWeights512 {
				mx, _, nan := argMaxF32AVX512(&src[0], n)
				require.Equal(t, wantMx, mx)
				require.Equal(t, wantNaN, nan)
				out := make([]int32, n+16)
				require.Equal(t, want, append([]int32(nil), out[:geIndicesAVX512(&src[0], n, th, &out[0])]...))
			}
		}
	}
}

// The AVX-512 moment sums count the values other than -Inf and sum d and
// d*d within the summation error of the Go loop's.
func TestMomentsKernel(t *testing.T) {
	if !hasWeights512 {
		t.Skip("AVX-512 not available on this CPU")
	}
	r := rand.New(rand.NewPCG(65, 66))
	for _, n := range []int{16, 32, 48, 1024, 65536} {
		for rep := 0; rep < 10; rep++ {
			src := make([]float32, n)
			for i := range src {
				src[i] = float32(r.NormFloat64()*3 + 2)
				switch r.IntN(20) {
				case 0:
					src[i] = float32(math.Inf(-1))
				case 1:
					src[i] = -1e30
				}
			}
			c := 1.5
			cnt, s1, s2 := momentsAVX512(&src[0], n, c)
			gc, g1, g2 := momentsGo(src, c)
			abs1 := 0.0
			for _, x := range src {
				if x > float32(math.Inf(-1)) {
					abs1 += math.Abs(float64(x) - c)
				}
			}
			tol := float64(2*n) * 0x1p-53
			require.Equal(t, gc, cnt, "n=%d", n)
			require.InDelta(t, g1, s1, tol*abs1, "n=%d", n)
			require.InDelta(t, g2, s2, tol*g2, "n=%d", n)
		}
	}
}

// With the AVX-512 kernels switched off (CPUs with AVX2 only), the fast
// path still returns the reference's tokens.
func TestSampleFastAVX2Only(t *testing.T) {
	if !hasWeights512 {
		t.Skip("the AVX2 kernels already run in the other tests")
	}
	hasWeights512 = false
	defer func() { hasWeights512 = true }()
	r := rand.New(rand.NewPCG(67, 68))
	for it := 0; it < 600; it++ {
		v := 2 + r.IntN(500)
		if it%60 == 0 {
			v = 65536
		}
		logits := propLogits32(r, v)
		hist := make([]int, r.IntN(40))
		for i := range hist {
			hist[i] = r.IntN(v)
		}
		c := denseConfig(r, v)
		switch it % 3 {
		case 1:
			c = randConfig(r, v)
		case 2:
			c = wideConfig(r, v)
			logits = zipfLogits(r, v)
		}
		s := mustNew(t, c)
		for step := uint64(0); step < 2; step++ {
			sampleBoth(t, s, logits, hist, step, MirostatMu0(c.MirostatTau), "AVX2 only")
			// Sample itself (no Mirostat probability needed: the wide
			// paths).
			got, gerr := s.Sample(logits, hist, 3, step)
			want, werr := s.sampleRef(logits, hist, 3, step, nil)
			require.Equal(t, werr, gerr, "AVX2 only: error (config %+v)", c)
			require.Equal(t, want, got, "AVX2 only: token (config %+v)", c)
		}
	}
}

// The eight-threshold kernel computes each weight exactly as the AVX-512
// weight kernel (one lane alone: bit-equal) and adds it above exactly the
// thresholds it reaches (at, just above and just below each); over random
// inputs (both unrolled groups and the 8-lane tail) its sums agree with the
// Go loop within the summation error.
func TestAbove8Kernel(t *testing.T) {
	if !hasWeights512 {
		t.Skip("AVX-512 not available on this CPU")
	}
	r := rand.New(rand.NewPCG(63, 64))
	ref, invT := 1.25, 1/0.9
	ths := [8]float64{-4.5, -11.25, -11.2500001, -13, -13.03125, -20, -0.5, -60}
	src := make([]float32, 24)
	for it := 0; it < 100_000; it++ {
		for i := range src {
			src[i] = float32(math.Inf(-1))
		}
		x := float32(ref + (-90+130*r.Float64())/invT)
		if it%4 == 0 {
			th := ths[r.IntN(8)]
			x = float32(ref + th/invT)
			x = []float32{x, math.Nextafter32(x, 100), math.Nextafter32(x, -100)}[r.IntN(3)]
		}
		src[r.IntN(24)] = x
		var out [8]float64
		expAbove8AVX512(&src[0], 24, ref, invT, &ths, &out)
		w, _, _, _ := expWeightsAVX512(&src[0], 24, ref, invT, 0, 0, -100)
		e := min((float64(x)-ref)*invT, maxE)
		for j, th := range ths {
			if e >= th {
				require.Equal(t, w, out[j], "e=%v th=%v", e, th)
			} else {
				require.Zero(t, out[j], "e=%v th=%v", e, th)
			}
		}
	}
	for _, n := range []int{8, 16, 24, 1024, 1030, 1032} {
		src := make([]float32, n)
		for i := range src {
			src[i] = float32(r.NormFloat64() * 8)
			if r.IntN(10) == 0 {
				src[i] = float32(math.Inf(-1))
			}
		}
		got, ok := denseAbove8(src, ref, invT, &ths)
		require.True(t, ok)
		var want [8]float64
		denseAbove8Go(src, ref, invT, &ths, &want)
		g := denseWeightsGo(src, ref, invT, [2]float64{}, -100)
		// Each weight within expNegErr of the Go loop's (the table
		// product's extra rounding), plus one rounding per addition.
		tol := expNegErr + float64(n)*0x1p-52
		for j := range ths {
			require.InDelta(t, want[j], got[j], tol*g.w, "n=%d th=%v", n, ths[j])
		}
	}
}

// With the AVX-512 kernel, wide top-p and typical cuts are bracketed by
// the eight-threshold passes, and Sample draws the reference's token: on
// Zipf-like logits at several temperatures and with penalties, and at
// near-ties of the cut (p at a rank's exact cumulative probability and a
// few ulp to 1e-6 around it, on logits quantized to exact ties), where the
// fast path must fall back or agree.
func TestSampleFastWide8MatchesReference(t *testing.T) {
	racetest.SkipSequential(t)
	if !hasWeights512 {
		t.Skip("AVX-512 not available on this CPU")
	}
	r := rand.New(rand.NewPCG(97, 98))
	w0, s0 := wide8Draws.Load(), storedPasses.Load()
	for it := 0; it < 16; it++ {
		v := []int{65536, 3000 + r.IntN(20000)}[it%2]
		logits := zipfLogits(r, v)
		if it%4 == 3 {
			for i, x := range logits {
				logits[i] = float32(math.Round(float64(x)*8) / 8)
			}
		}
		hist := benchHistory(r, logits, 32)
		c := DefaultConfig()
		c.Seed = r.Uint64()
		c.Temperature = []float64{0.7, 1, 1.5}[r.IntN(3)]
		mass := 0.97 + 0.029*r.Float64()
		if it%3 == 0 {
			c.Typical = mass
		} else {
			c.TopP = mass
		}
		if it%5 == 1 {
			c.RepetitionPenalty, c.PresencePenalty, c.PenaltyWindow = 1.1, 0.2, 32
		}
		s := mustNew(t, c)
		for step := uint64(0); step < 3; step++ {
			got, gerr := s.Sample(logits, hist, 5, step)
			want, werr := s.sampleRef(logits, hist, 5, step, nil)
			require.NoError(t, gerr)
			require.NoError(t, werr)
			require.Equal(t, want, got, "it %d step %d (config %+v)", it, step, c)
		}
	}
	require.Positive(t, wide8Draws.Load()-w0, "no cut bracketed by the eight-threshold passes")
	require.Positive(t, storedPasses.Load()-s0, "no pass read the kept weights")

	fellBack := 0
	for it := 0; it < 6; it++ {
		logits := zipfLogits(r, 65536)
		if it%2 == 1 {
			for i, x := range logits {
				logits[i] = float32(math.Round(float64(x)*4) / 4)
			}
		}
		c := DefaultConfig()
		c.Seed = r.Uint64()
		c.Temperature = []float64{1, 1.5}[it%2]
		l, err := mustNew(t, c).Process(logits, nil)
		require.NoError(t, err)
		p := Softmax(l)
		ranked := survivorsByLogit(l)
		cum, k := 0.0, 0
		goal := 0.985 + 0.01*r.Float64()
		for k < len(ranked)-1 && cum < goal {
			cum += p[ranked[k]]
			k++
		}
		for _, d := range []float64{0, 1e-16, -1e-16, 1e-13, -1e-13, 1e-9, -1e-9, 1e-6, -1e-6} {
			c.TopP = cum * (1 + d)
			if !(c.TopP < 1) {
				continue
			}
			s := mustNew(t, c)
			got, gerr := s.Sample(logits, nil, 6, 0)
			want, werr := s.sampleRef(logits, nil, 6, 0, nil)
			require.NoError(t, gerr)
			require.NoError(t, werr)
			require.Equal(t, want, got, "it %d delta %g (config %+v)", it, d, c)
			if _, ok := s.sampleFast(logits, nil, 6, 0); !ok && math.Abs(d) <= 1e-13 {
				fellBack++
			}
		}
	}
	require.Positive(t, fellBack, "the fast path never fell back at a cut tie")
}

// The stored-weight kernels return the exp kernels' sums bit for bit: over
// random logits (with -Inf, values at the clamp, at and around every
// threshold and the floor), lengths covering both unrolled groups, the
// 8-lane tail and the Go tail, several floors and thresholds; and the
// stored weights are the exp kernel's own, expNeg's for the Go tail (a
// weight of the wrong token or a skipped store fails the comparison); the
// sum-only pass keeps the same weights and sum.
func TestStoredWeightKernelsSameBits(t *testing.T) {
	if !canStoreWeights {
		t.Skip("AVX-512 not available on this CPU")
	}
	r := rand.New(rand.NewPCG(65, 66))
	for it := range 400 {
		n := []int{8, 16, 24, 1000, 1024, 1031, 4096}[it%7]
		ref, invT := 1.25+r.Float64(), 1/(0.5+r.Float64())
		th := [2]float64{-r.Float64() * 10, -r.Float64() * 30}
		lowE := []float64{-100, -30, -8}[it%3]
		ths := [8]float64{-4.5, -11.25, -0.5, -60, th[0], th[1], lowE, -99}
		src := make([]float32, n)
		for i := range src {
			switch r.IntN(12) {
			case 0:
				src[i] = float32(math.Inf(-1))
			case 1:
				src[i] = float32(ref + (th[r.IntN(2)]+1e-7*r.NormFloat64())/invT)
			case 2:
				src[i] = float32(ref + (lowE+1e-7*r.NormFloat64())/invT)
			case 3:
				src[i] = float32(ref + 45/invT)
			default:
				src[i] = float32(ref + (-110+120*r.Float64())/invT)
			}
		}
		w := make([]float64, n)
		stored := storeWeights(src, w, ref, invT, th, lowE)
		require.Equal(t, denseWeights(src, ref, invT, th, lowE), stored, "n=%d", n)
		// The sum-only pass: the same weight sum and kept weights.
		ws := make([]float64, n)
		require.Equal(t, stored.w, storeWeightSum(src, ws, ref, invT, th, lowE).w, "n=%d", n)
		for i := range n &^ 7 {
			if e := min((float64(src[i])-ref)*invT, maxE); e >= -100 {
				require.Equal(t, w[i], ws[i], "token %d of %d", i, n)
			}
		}
		for _, low := range []float64{lowE, -100, -20} {
			require.Equal(t, denseWeights(src, ref, invT, th, low), storedWeights(src, w, ref, invT, th, low), "n=%d lowE=%v", n, low)
		}
		want, ok := denseAbove8(src, ref, invT, &ths)
		require.True(t, ok)
		require.Equal(t, want, storedAbove8(src, w, ref, invT, &ths), "n=%d", n)
		m := n &^ 7
		for i := m; i < n; i++ {
			if e := min((float64(src[i])-ref)*invT, maxE); e >= -100 {
				require.Equal(t, expNeg(e), w[i], "tail token %d of %d", i, n)
			}
		}
		for i := range m {
			one := []float32{src[i], float32(math.Inf(-1)), float32(math.Inf(-1)), float32(math.Inf(-1)),
				float32(math.Inf(-1)), float32(math.Inf(-1)), float32(math.Inf(-1)), float32(math.Inf(-1))}
			e := min((float64(src[i])-ref)*invT, maxE)
			if !(e >= -100) {
				continue
			}
			sw, _, _, _ := expWeightsAVX512(&one[0], 8, ref, invT, 0, 0, -100)
			require.Equal(t, sw, w[i], "token %d of %d", i, n)
		}
	}
}
