package vec

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

// mapPaths runs f with each path of Map this CPU has.
func mapPaths(t *testing.T, f func(t *testing.T)) {
	paths := []string{"generic"}
	if hasAsm {
		paths = append(paths, "avx2")
	}
	if hasAsm && hasAVX512 {
		paths = append(paths, "avx512")
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			useAsm, useAVX512 = p != "generic", p == "avx512"
			defer func() { useAsm, useAVX512 = hasAsm, hasAVX512 }()
			f(t)
		})
	}
}

// mapInputs returns inputs covering every range of the functions: random
// values of several scales, the ends of Exp's clamp, the branch point of
// Tanh, zeros, infinities and the subnormal results.
func mapInputs(n int) []float32 {
	r := rand.New(rand.NewSource(1))
	x := make([]float32, 0, n+64)
	for _, v := range []float32{0, float32(math.Copysign(0, -1)), 1, -1, expLo, expHi, expLo - 1, expHi + 1,
		88.72283, 88.72284, -87.33655, -87.33656, -103.2789, -103.9721, tanhLo, -tanhLo,
		math.Nextafter32(tanhLo, 0), math.Nextafter32(-tanhLo, 0), 1e-30, -1e-30, 1e-45, -1e-45, 4.5, -9,
		float32(math.Inf(1)), float32(math.Inf(-1)), math.MaxFloat32, -math.MaxFloat32} {
		x = append(x, v)
	}
	for len(x) < n {
		scale := []float64{1e-3, 0.5, 1, 4, 20, 110}[r.Intn(6)]
		x = append(x, float32((2*r.Float64()-1)*scale))
	}
	return x
}

var funcNames = [numFuncs]string{"Exp", "Sigmoid", "SiLU", "Tanh", "NegExpExp", "V7Decay", "ReLUSquare"}

// TestMapBitsEqualScalar: every path of Map gives the bits of the scalar
// functions, at every length (the SIMD body and the scalar tail), in place
// or not; NaN gives NaN.
func TestMapBitsEqualScalar(t *testing.T) {
	x := mapInputs(4099)
	mapPaths(t, func(t *testing.T) {
		for f := Func(0); f < numFuncs; f++ {
			s := scalarFuncs[f]
			for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 33, 100, len(x)} {
				dst := make([]float32, n)
				Map(f, dst, x[:n])
				for i, v := range x[:n] {
					if math.Float32bits(dst[i]) != math.Float32bits(s(v)) {
						t.Fatalf("%s(%g) at %d of %d: %g (%#x), scalar %g (%#x)", funcNames[f], v, i, n,
							dst[i], math.Float32bits(dst[i]), s(v), math.Float32bits(s(v)))
					}
				}
				in := make([]float32, n)
				copy(in, x[:n])
				Map(f, in, in)
				for i := range in {
					require.Equal(t, math.Float32bits(dst[i]), math.Float32bits(in[i]), "%s in place at %d, n=%d", funcNames[f], i, n)
				}
			}
			nan := []float32{float32(math.NaN()), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, float32(math.NaN())}
			Map(f, nan, nan)
			if f == FReLUSquare {
				require.True(t, nan[0] == 0 && nan[16] == 0, "%s(NaN): %v", funcNames[f], nan)
				continue
			}
			require.True(t, math.IsNaN(float64(nan[0])) && math.IsNaN(float64(nan[16])), "%s(NaN): %v", funcNames[f], nan)
		}
	})
	require.Panics(t, func() { Map(numFuncs, x, x) })
}

// ulps is the distance between a and the float64 b rounded to float32, in
// units of the last place (bit patterns of the same sign are ordered; both
// are finite or equal infinities here).
func ulps(a float32, b float64) int64 {
	w := float32(b)
	if a == w {
		return 0
	}
	ia, iw := int64(math.Float32bits(a)), int64(math.Float32bits(w))
	if (ia < 0) != (iw < 0) || math.Signbit(float64(a)) != math.Signbit(float64(w)) {
		return math.MaxInt32
	}
	if ia > iw {
		return ia - iw
	}
	return iw - ia
}

// TestExpError measures Exp and the functions built on it against float64
// math over a sweep of every 1021st float32 of their ranges: Exp within 2 ulp
// (the bound its documentation states), and each other function within
// the bound stated here.
func TestExpError(t *testing.T) {
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	refs := [numFuncs]func(float64) float64{
		math.Exp, sig, func(x float64) float64 { return x * sig(x) }, math.Tanh,
		func(x float64) float64 { return math.Exp(-math.Exp(x)) },
		func(x float64) float64 { return math.Exp(float64(v7Neg) * sig(x)) },
		func(x float64) float64 { return math.Pow(math.Max(x, 0), 2) },
	}
	// Bounds in ulp where the result is above 1e-30; below (Sigmoid and
	// SiLU of x < -87, whose Exp(-x) overflows to give 0) the error is
	// checked in absolute terms. NegExpExp: the error of the inner Exp is multiplied
	// by its value in the outer one (exp(x) up to ~88 where the result is
	// not 0), so it is bounded in absolute terms for large x (checked below)
	// and in ulp where exp(x) < 8.
	bounds := [numFuncs]int64{2, 3, 4, 2, 8, 2, 0}
	lo, hi := float32(expLo), float32(expHi)
	for f := Func(0); f < numFuncs; f++ {
		var worst int64
		var at float32
		for _, sign := range []uint32{0, 1 << 31} {
			for b := uint32(0); b < 0x7f800000; b += 1021 {
				x := math.Float32frombits(b | sign)
				if x < lo || x > hi {
					continue
				}
				got := scalarFuncs[f](x)
				want := refs[f](float64(x))
				if f == FNegExpExp && x > 2 || math.Abs(want) < 1e-30 {
					require.InDelta(t, want, got, 1e-6, "%s(%g)", funcNames[f], x)
					continue
				}
				if u := ulps(got, want); u > worst {
					worst, at = u, x
				}
			}
		}
		t.Logf("%s: at most %d ulp (at %g)", funcNames[f], worst, at)
		require.LessOrEqual(t, worst, bounds[f], fmt.Sprintf("%s(%g)", funcNames[f], at))
	}
}

func BenchmarkMap(b *testing.B) {
	x := mapInputs(768)
	for i := range x {
		x[i] = float32(math.Mod(float64(x[i]), 8))
	}
	dst := make([]float32, len(x))
	for f := Func(0); f < numFuncs; f++ {
		b.Run(funcNames[f], func(b *testing.B) {
			b.SetBytes(4 * int64(len(x)))
			for range b.N {
				Map(f, dst, x)
			}
		})
	}
	b.Run("math.Exp", func(b *testing.B) {
		b.SetBytes(4 * int64(len(x)))
		for range b.N {
			for i, v := range x {
				dst[i] = float32(math.Exp(float64(v)))
			}
		}
	})
}

// TestMapSpecialValues: the limits of the functions at the ends of float32.
func TestMapSpecialValues(t *testing.T) {
	inf := float32(math.Inf(1))
	cases := []struct {
		f    func(float32) float32
		x, y float32
	}{
		{Exp, inf, inf}, {Exp, -inf, 0}, {Exp, 0, 1}, {Exp, 89, inf}, {Exp, -104, 0},
		{Sigmoid, inf, 1}, {Sigmoid, -inf, 0}, {Sigmoid, 0, 0.5},
		{Tanh, inf, 1}, {Tanh, -inf, -1}, {Tanh, 0, 0}, {Tanh, 20, 1}, {Tanh, -20, -1},
		{NegExpExp, inf, 0}, {NegExpExp, -inf, 1},
		{V7Decay, -inf, 1}, {V7Decay, inf, float32(math.Exp(float64(v7Neg)))},
		{ReLUSquare, -inf, 0}, {ReLUSquare, inf, inf}, {ReLUSquare, -3, 0}, {ReLUSquare, 3, 9},
	}
	for i, c := range cases {
		require.Equal(t, c.y, c.f(c.x), "case %d: f(%g)", i, c.x)
	}
}
