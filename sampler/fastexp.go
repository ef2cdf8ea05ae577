package sampler

import "math"

// expNeg is a fast exp for the arguments the sampler's weight passes use,
// e <= 0 (small positive e are also handled). It returns 0 for e < -100,
// where exp(e) < 4e-44. Elsewhere its relative error is below expNegErr: the
// argument is reduced as e = (256n + j) * ln2/256 + r with |r| <= ln2/512,
// and exp(e) = 2^n * 2^(j/256) * P(r) with P the degree-3 Taylor polynomial
// (truncation error < r^4/24 < 1.5e-13; the reduction's rounding adds at
// most 100 ulp of r, 1.2e-14).
func expNeg(e float64) float64 {
	if e < -100 {
		return 0
	}
	// Round e*256/ln2 to the nearest integer k by adding 1.5*2^52: the sum's
	// low mantissa bits are k (two's complement).
	t := e*expInvStep + expShifter
	k := int64(math.Float64bits(t) - math.Float64bits(expShifter))
	r := e - (t-expShifter)*expStep
	p := 1 + r*(1+r*(0.5+r*(1.0/6)))
	b := math.Float64bits(expTab[k&255]*p) + uint64(k>>8)<<52
	return math.Float64frombits(b)
}

// expNegErr bounds the relative error of expNeg against math.Exp for
// -100 <= e <= 1 (TestExpNegAccuracy checks half of it).
const expNegErr = 4e-13

const (
	expInvStep = 256 / math.Ln2
	expShifter = 0x1.8p52
)

// expStep is ln2/256 rounded to float64.
const expStep = math.Ln2 / 256

// expTab[j] = 2^(j/256).
var expTab = func() (t [256]float64) {
	for j := range t {
		t[j] = math.Exp2(float64(j) / 256)
	}
	return t
}()

// expTabHi[h] = 2^(h/16) and expTabLo[l] = 2^(l/256), so that 2^(j/256) =
// expTabHi[j>>4] * expTabLo[j&15] for j < 256: the AVX-512 weight kernel
// looks both up with in-register permutes. Each entry is rounded (1/2 ulp)
// and their product once more, so the kernel's table factor is within
// 2 ulp (4.5e-16 relative) of expTab[j]'s, and its weights within
// expNegErr of exp like expNeg's (TestDenseWeights).
var expTabHi, expTabLo = func() (hi, lo [16]float64) {
	for j := range hi {
		hi[j] = math.Exp2(float64(j) / 16)
		lo[j] = math.Exp2(float64(j) / 256)
	}
	return hi, lo
}()

// momentsGo is moments in Go.
func momentsGo(src []float32, c float64) (int, float64, float64) {
	cnt, s1, s2 := 0, 0.0, 0.0
	for _, x := range src {
		if x > float32(math.Inf(-1)) {
			d := float64(x) - c
			cnt++
			s1 += d
			s2 += d * d
		}
	}
	return cnt, s1, s2
}
