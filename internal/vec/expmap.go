package vec

import (
	"fmt"
	"math"
)

// Func selects the element-wise function of Map.
type Func int

// The functions of Map: those built on Exp, and the squared ReLU.
const (
	FExp        Func = iota // exp(x)
	FSigmoid                // 1 / (1 + exp(-x))
	FSiLU                   // x * sigmoid(x)
	FTanh                   // tanh(x)
	FNegExpExp              // exp(-exp(x))
	FV7Decay                // exp(-e^-0.5 * sigmoid(x))
	FReLUSquare             // max(x, 0)^2
	numFuncs
)

// Exp, its polynomial and its argument reduction (Cody-Waite with a short
// high part of ln 2, so that n*ln2Hi is exact) are those of Cephes' expf.
// The result is p(r) * 2^n with 2^n applied as two multiplications by
// normal powers of two: the first is exact, so the result is rounded once,
// also where it is subnormal.
const (
	expLo  = -104 // exp(-104) < 2^-150: rounds to 0
	expHi  = 89   // exp(89) > MaxFloat32: +Inf
	log2e  = float32(1.44269504088896341)
	magic  = 12582912 // 1.5 * 2^23: adding and subtracting it rounds to an integer (ties to even)
	ln2Hi  = 0.693359375
	ln2Lo  = -2.12194440e-4
	expP0  = 1.9875691500e-4
	expP1  = 1.3981999507e-3
	expP2  = 8.3334519073e-3
	expP3  = 4.1665795894e-2
	expP4  = 1.6666665459e-1
	expP5  = 5.0000001201e-1
	tanhT0 = -5.70498872745e-3 // Cephes' tanhf below |x| = 0.625
	tanhT1 = 2.06390887954e-2
	tanhT2 = -5.37397155531e-2
	tanhT3 = 1.33314422036e-1
	tanhT4 = -3.33332819422e-1
	tanhLo = 0.625
	v7Neg  = float32(-0.6065306597126334) // -exp(-0.5)
)

// Exp returns e^x in float32 within 2 ulp of the correctly rounded result
// (TestExpError measures 1 ulp at most over its sweep of the results above
// 1e-30; subnormal results are rounded once, from p(r)). NaN gives NaN,
// x >= 89 +Inf, x <= -104 0.
//
// Every operation is a separately rounded float32 multiply or add (no fused
// multiply-add), and the SIMD kernels of Map do the same operations in the
// same order, so Exp and every function of Map give the same bits whatever
// the CPU and the path: a scalar use (a tail, a single element) and a
// vector use agree.
func Exp(x float32) float32 {
	if x != x {
		return x
	}
	x = min(max(x, expLo), expHi)
	// The float32 conversions keep the compiler from fusing a multiply
	// with the following add.
	n := float32(x*log2e) + magic
	n -= magic
	r := x - float32(n*ln2Hi)
	r -= float32(n * ln2Lo)
	z := float32(r * r)
	p := float32(expP0*r) + expP1
	p = float32(p*r) + expP2
	p = float32(p*r) + expP3
	p = float32(p*r) + expP4
	p = float32(p*r) + expP5
	p = float32(p*z) + r
	p += 1
	ni := int32(n)
	n1 := ni >> 1
	return float32(p*pow2(n1)) * pow2(ni-n1)
}

// pow2 returns 2^k for k in [-126, 127].
func pow2(k int32) float32 { return math.Float32frombits(uint32(k+127) << 23) }

// Sigmoid returns 1 / (1 + Exp(-x)).
func Sigmoid(x float32) float32 { return 1 / (1 + Exp(-x)) }

// SiLU returns x * Sigmoid(x).
func SiLU(x float32) float32 { return x * Sigmoid(x) }

// Tanh returns tanh(x): Cephes' tanhf polynomial below |x| = 0.625, else
// 1 - 2/(Exp(2|x|) + 1) with the sign of x.
func Tanh(x float32) float32 {
	a := math.Float32frombits(math.Float32bits(x) &^ (1 << 31))
	if a < tanhLo {
		z := float32(x * x)
		p := float32(tanhT0*z) + tanhT1
		p = float32(p*z) + tanhT2
		p = float32(p*z) + tanhT3
		p = float32(p*z) + tanhT4
		return float32(float32(p*z)*x) + x
	}
	y := 1 - 2/(Exp(a+a)+1)
	return math.Float32frombits(math.Float32bits(y) | math.Float32bits(x)&(1<<31))
}

// NegExpExp returns Exp(-Exp(x)).
func NegExpExp(x float32) float32 { return Exp(-Exp(x)) }

// V7Decay returns Exp(-e^-0.5 * Sigmoid(x)) (-e^-0.5 rounded to float32).
func V7Decay(x float32) float32 { return Exp(float32(v7Neg * Sigmoid(x))) }

// ReLUSquare returns x*x for x > 0, else 0 (NaN included).
func ReLUSquare(x float32) float32 {
	if x > 0 {
		return x * x
	}
	return 0
}

var scalarFuncs = [numFuncs]func(float32) float32{Exp, Sigmoid, SiLU, Tanh, NegExpExp, V7Decay, ReLUSquare}

// mapConsts are the constants of the SIMD kernels, in the order they load
// them.
var mapConsts = [32]float32{
	expLo, expHi, log2e, magic, ln2Hi, ln2Lo, expP0, expP1, expP2, expP3, expP4, expP5, 1,
	math.Float32frombits(127), math.Float32frombits(1 << 31), math.Float32frombits(1<<31 - 1),
	tanhLo, 2, tanhT0, tanhT1, tanhT2, tanhT3, tanhT4, v7Neg,
}

// Map sets dst[i] = f(src[i]) for every element of src (dst may be src; it
// must not overlap it otherwise). The elements give the bits of the scalar
// function (Exp, Sigmoid, SiLU, Tanh, NegExpExp, V7Decay, ReLUSquare), 16 or 8 at a time
// with AVX-512 or AVX2.
func Map(f Func, dst, src []float32) {
	if f < 0 || f >= numFuncs {
		panic(fmt.Sprintf("vec: Map: unknown function %d", f))
	}
	n := len(src)
	dst = dst[:n]
	i := 0
	switch {
	case n >= 16 && useAsm && useAVX512:
		i = n &^ 15
		mapAvx512(int(f), &dst[0], &src[0], i, &mapConsts)
	case n >= 8 && useAsm:
		i = n &^ 7
		mapAvx2(int(f), &dst[0], &src[0], i, &mapConsts)
	}
	s := scalarFuncs[f]
	for ; i < n; i++ {
		dst[i] = s(src[i])
	}
}
