package sampler

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExpNegAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	worst := 0.0
	check := func(e float64) {
		got, want := expNeg(e), math.Exp(e)
		if rel := math.Abs(got-want) / want; rel > worst {
			worst = rel
		}
	}
	for i := 0; i < 1_000_000; i++ {
		check(-100 * r.Float64())
		check(-r.Float64() * math.Pow(10, -float64(r.IntN(12))))
	}
	for _, e := range []float64{0, -0.0, -1e-300, -math.Ln2 / 128, -math.Ln2, -50, -99.99999, -100, 0.5, 1} {
		check(e)
	}
	if worst > expNegErr/2 {
		t.Fatalf("expNeg max relative error %g exceeds half the bound %g", worst, expNegErr)
	}
	if expNeg(0) != 1 {
		t.Errorf("expNeg(0) = %v, want exactly 1", expNeg(0))
	}
	if expNeg(-100.5) != 0 || expNeg(math.Inf(-1)) != 0 {
		t.Error("expNeg below -100 should be 0")
	}
	t.Logf("expNeg max relative error %g", worst)
}

// The dense pass's weight kernel (AVX2 where available) sums weights
// within the error bound of exp, counts nothing below -100 or for -Inf, and
// clamps the exponent at maxE.
func TestDenseWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	for _, n := range []int{0, 1, 3, 4, 5, 17, 1024, 1027} {
		for rep := 0; rep < 20; rep++ {
			src := make([]float32, n)
			for i := range src {
				src[i] = float32(r.NormFloat64() * 20)
				switch r.IntN(20) {
				case 0:
					src[i] = float32(math.Inf(-1))
				case 1:
					src[i] = -1e30
				case 2:
					src[i] = 1e30
				}
			}
			ref, invT := 3.0, 1/0.7
			var want weightSums
			absWE := 0.0
			for _, x := range src {
				e := min((float64(x)-ref)*invT, maxE)
				if e >= -100 {
					want.add(e, math.Exp(e), aboveE)
					absWE += math.Exp(e) * math.Abs(e)
				}
			}
			tol := (expNegErr/2 + float64(n+4)*0x1p-52)
			for name, got := range map[string]weightSums{"kernel": denseWeights(src, ref, invT, aboveE, -100), "Go": denseWeightsGo(src, ref, invT, aboveE, -100)} {
				if math.Abs(got.w-want.w) > tol*want.w {
					t.Fatalf("%s n=%d: sum of weights %v, exp gives %v", name, n, got.w, want.w)
				}
				if math.Abs(got.we-want.we) > tol*absWE+1e-300 {
					t.Fatalf("%s n=%d: sum of w*e %v, exp gives %v", name, n, got.we, want.we)
				}
				for j := range aboveE {
					if math.Abs(got.above[j]-want.above[j]) > tol*want.w {
						t.Fatalf("%s n=%d: weight above %v = %v, exp gives %v", name, n, aboveE[j], got.above[j], want.above[j])
					}
				}
			}
		}
	}
	// One token of each kind, checked exactly: -Inf and e < -100 add
	// nothing; e above maxE counts as maxE.
	if s := denseWeights([]float32{float32(math.Inf(-1)), -500, -500, -500}, 0, 1, aboveE, -100); s != (weightSums{}) {
		t.Fatalf("far tail: sums %+v; want 0", s)
	}
	s := denseWeights([]float32{100, -500, -5, -500}, 0, 1, aboveE, -100)
	if math.Abs(s.w-math.Exp(maxE)-math.Exp(-5)) > expNegErr*s.w {
		t.Fatalf("clamp: weight %v, want e^%d + e^-5", s.w, maxE)
	}
	if math.Abs(s.above[0]-math.Exp(maxE)) > expNegErr*s.w || math.Abs(s.above[1]-s.w) > expNegErr*s.w {
		t.Fatalf("above -4, -8: %v, want e^%d and e^%d + e^-5", s.above, maxE, maxE)
	}
}

// maxF32 and argMaxF32 return the largest value and whether there is a NaN,
// argMaxF32 also the lowest index of the largest: on lengths covering both
// accumulator sets, the odd group of 16 and the Go tail, with ties (in
// every other repetition values drawn from a few levels, so the largest
// occurs several times in several lanes and sets), -Inf (all of them:
// index -1), NaN and +Inf.
func TestArgMaxF32(t *testing.T) {
	r := rand.New(rand.NewPCG(39, 40))
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 63, 64, 1000, 1024} {
		for rep := 0; rep < 200; rep++ {
			src := make([]float32, n)
			for i := range src {
				src[i] = float32(r.NormFloat64())
				if rep%2 == 0 {
					src[i] = float32(r.IntN(4)) - 2
				}
				switch r.IntN(40) {
				case 0:
					src[i] = float32(math.Inf(-1))
				case 1:
					if rep%5 == 0 {
						src[i] = float32(math.NaN())
					}
				case 2:
					if rep%7 == 0 {
						src[i] = float32(math.Inf(1))
					}
				}
				if rep%11 == 0 {
					src[i] = float32(math.Inf(-1))
				}
			}
			want, wantAt, wantNaN := float32(math.Inf(-1)), -1, false
			for i, x := range src {
				if x != x {
					wantNaN = true
				} else if x > want {
					want, wantAt = x, i
				}
			}
			got, at, gotNaN := argMaxF32(src)
			wantMax, _ := maxF32(src)
			require.Equal(t, want, wantMax, "n=%d", n)
			require.Equal(t, want, got, "n=%d %v", n, src)
			require.Equal(t, wantAt, at, "n=%d %v", n, src)
			require.Equal(t, wantNaN, gotNaN, "n=%d", n)
		}
	}
}

func TestGeIndices(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 38))
	for _, n := range []int{0, 1, 7, 8, 9, 16, 31, 33, 1000} {
		src := make([]float32, n)
		for i := range src {
			src[i] = float32(r.IntN(5))
			if r.IntN(10) == 0 {
				src[i] = float32(math.Inf(-1))
			}
		}
		for _, th := range []float32{-1, 0, 2, 4, 5, float32(math.Inf(-1))} {
			var want []int32
			for i, x := range src {
				if x >= th {
					want = append(want, int32(i))
				}
			}
			got := geIndices(src, th, []int32{99})
			if !slices.Equal(got, append([]int32{99}, want...)) {
				t.Fatalf("n=%d th=%v: %v, want %v", n, th, got, want)
			}
			// The indices within [th, th+1.5] (and an empty range).
			for _, hi := range []float32{th + 1.5, th - 1} {
				want = want[:0]
				for i, x := range src {
					if x >= th && x <= hi {
						want = append(want, int32(i))
					}
				}
				got = rangeIndices(src, th, hi, []int32{99})
				if !slices.Equal(got, append([]int32{99}, want...)) {
					t.Fatalf("n=%d range [%v, %v]: %v, want %v", n, th, hi, got, want)
				}
			}
		}
	}
}
