package emutest

import (
	"math"
	"math/big"
	"math/rand"
	"testing"

	"github.com/rwkvgo/rwkvgo/internal/half"
)

// format describes a 16-bit float encoding for the reference rounding.
type format struct {
	name   string
	decode func(uint16) float32
	inf    float64 // the value overflow rounds at: 2^(emax+1)
}

var (
	fmtF16  = format{"fp16", half.F16ToF32, 65536}
	fmtBF16 = format{"bf16", half.BF16ToF32, math.Ldexp(1, 128)}
)

// nearest rounds the exact value x to the format, round to nearest even,
// by comparing x with the candidate encodings around a first guess: an
// independent reference for the emulator's bit manipulation.
func (f format) nearest(x *big.Float) uint16 {
	approx, _ := x.Float64()
	var sign uint16
	if x.Signbit() {
		sign = 0x8000
		x = new(big.Float).Neg(x)
		approx = -approx
	}
	var guess uint16
	if f.name == "fp16" {
		guess = half.F32ToF16(float32(approx))
	} else {
		guess = half.F32ToBF16(float32(approx))
	}
	infBits := uint16(0x7c00)
	if f.name == "bf16" {
		infBits = 0x7f80
	}
	value := func(h uint16) *big.Float {
		if h == infBits {
			return new(big.Float).SetFloat64(f.inf) // overflow threshold as in IEEE 754
		}
		return new(big.Float).SetFloat64(float64(f.decode(h)))
	}
	best, bestDist := uint16(0), new(big.Float)
	first := true
	for d := -2; d <= 2; d++ {
		h := int(guess&0x7fff) + d
		if h < 0 || h > int(infBits) {
			continue
		}
		dist := new(big.Float).Sub(value(uint16(h)), x)
		dist.Abs(dist)
		c := 1
		if !first {
			c = dist.Cmp(bestDist)
		}
		if first || c < 0 || (c == 0 && h&1 == 0) {
			best, bestDist, first = uint16(h), dist, false
		}
	}
	return sign | best
}

func isNaN16(h uint16, f format) bool { return math.IsNaN(float64(f.decode(h))) }

func TestF16ToF32AllPatterns(t *testing.T) {
	in := make([]uint16, 65536)
	for i := range in {
		in[i] = uint16(i)
	}
	got := f16ToF32(in)
	for i, h := range in {
		if g, w := math.Float32bits(got[i]), math.Float32bits(half.F16ToF32(h)); g != w {
			t.Fatalf("__half2float(%#04x) = %#08x, want %#08x", h, g, w)
		}
	}
	got = bf16ToF32(in)
	for i, h := range in {
		if g, w := math.Float32bits(got[i]), uint32(h)<<16; g != w {
			t.Fatalf("__bfloat162float(%#04x) = %#08x, want %#08x", h, g, w)
		}
	}
}

// conversionInputs returns every value of the format, every midpoint
// between neighbours and the floats just around each midpoint, the overflow
// and underflow thresholds, and random float32 bit patterns.
func conversionInputs(f format) []float32 {
	var in []float32
	for h := 0; h < 0x10000; h++ {
		v := f.decode(uint16(h))
		in = append(in, v)
		if h&0x7fff >= 0x7f80 && f.name == "bf16" || h&0x7fff >= 0x7c00 && f.name == "fp16" {
			continue
		}
		next := f.decode(uint16(h + 1))
		if h&0x7fff == 0x7fff || math.IsInf(float64(next), 0) || math.IsNaN(float64(next)) {
			next = float32(math.Copysign(f.inf, float64(v)))
			if f.name == "bf16" {
				continue // the bf16 overflow midpoint is beyond float32
			}
		}
		mid := float32((float64(v) + float64(next)) / 2) // exact: one more bit than the format
		in = append(in, mid, math.Nextafter32(mid, float32(math.Inf(1))), math.Nextafter32(mid, float32(math.Inf(-1))))
	}
	in = append(in, 0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		math.Float32frombits(0x7fc00001), math.Float32frombits(0xff800001), 65504, 65519.996, 65520, 65536, 1e30,
		float32(math.Ldexp(1, -25)), float32(math.Ldexp(1, -26)), math.MaxFloat32, math.SmallestNonzeroFloat32)
	rng := rand.New(rand.NewSource(4))
	for i := 0; i < 200000; i++ {
		in = append(in, math.Float32frombits(rng.Uint32()))
	}
	return in
}

func TestF32ToF16RoundToNearestEven(t *testing.T) {
	in := conversionInputs(fmtF16)
	got := f32ToF16(in)
	in64 := make([]float64, len(in))
	for i, v := range in {
		in64[i] = float64(v)
	}
	got64 := f64ToF16(in64)
	for i, v := range in {
		if math.IsNaN(float64(v)) {
			if got[i] != 0x7fff || got64[i] != 0x7fff {
				t.Fatalf("NaN %#08x -> %#04x / %#04x, want the canonical 0x7fff", math.Float32bits(v), got[i], got64[i])
			}
			continue
		}
		want := fmtF16.nearest(new(big.Float).SetFloat64(float64(v)))
		if got[i] != want || got64[i] != want || half.F32ToF16(v) != want {
			t.Fatalf("%g (%#08x): __float2half %#04x, __double2half %#04x, internal/half %#04x, reference %#04x",
				v, math.Float32bits(v), got[i], got64[i], half.F32ToF16(v), want)
		}
	}
}

func TestF32ToBF16RoundToNearestEven(t *testing.T) {
	in := conversionInputs(fmtBF16)
	got := f32ToBF16(in)
	for i, v := range in {
		if math.IsNaN(float64(v)) {
			if got[i] != 0x7fff {
				t.Fatalf("NaN %#08x -> %#04x, want 0x7fff", math.Float32bits(v), got[i])
			}
			continue
		}
		want := half.F32ToBF16(v)
		if !math.IsInf(float64(v), 0) && math.Abs(float64(v)) < math.MaxFloat32 {
			if ref := fmtBF16.nearest(new(big.Float).SetFloat64(float64(v))); ref != want {
				t.Fatalf("reference disagreement at %g: %#04x vs %#04x", v, ref, want)
			}
		}
		if got[i] != want {
			t.Fatalf("__float2bfloat16(%g = %#08x) = %#04x, want %#04x", v, math.Float32bits(v), got[i], want)
		}
	}
}

func TestF64ToF16(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	in := make([]float64, 0, 100000)
	for i := 0; i < 50000; i++ {
		in = append(in, math.Ldexp(rng.Float64()*2-1, rng.Intn(50)-30))
		// values a few float64 ulps around fp16 midpoints (where rounding
		// through float32 first would be wrong)
		h := uint16(rng.Intn(0x7bff))
		mid := (float64(half.F16ToF32(h)) + float64(half.F16ToF32(h+1))) / 2
		in = append(in, mid*(1+float64(rng.Intn(5)-2)*0x1p-52))
	}
	got := f64ToF16(in)
	for i, v := range in {
		if want := fmtF16.nearest(new(big.Float).SetFloat64(v)); got[i] != want {
			t.Fatalf("__double2half(%v) = %#04x, want %#04x", v, got[i], want)
		}
	}
}

// randomFinite16 returns n random finite encodings of the format.
func randomFinite16(rng *rand.Rand, f format, n int) []uint16 {
	out := make([]uint16, 0, n)
	for len(out) < n {
		h := uint16(rng.Uint32())
		if v := f.decode(h); math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			continue
		}
		out = append(out, h)
	}
	return out
}

// TestHalfArithmetic checks __hadd, -, __hmul, /, __hfma and __hfma2 for fp16
// and bf16 bit for bit against exactly computed, correctly rounded results.
func TestHalfArithmetic(t *testing.T) {
	for _, f := range []format{fmtF16, fmtBF16} {
		rng := rand.New(rand.NewSource(6))
		n := 20000
		a, b, c := randomFinite16(rng, f, n), randomFinite16(rng, f, n), randomFinite16(rng, f, n)
		// also operands of similar magnitude, where cancellation and ties are common
		finite := func(h uint16) bool {
			v := float64(f.decode(h))
			return !math.IsNaN(v) && !math.IsInf(v, 0)
		}
		for i := 0; i < n/2; i++ {
			if nb := a[i]&0xff00 | b[i]&0x00ff; finite(nb) {
				b[i] = nb
			}
			if nc := a[i]&0xfc00 | c[i]&0x03ff; finite(nc) {
				c[i] = nc
			}
		}
		got, err := halfOps(a, b, c, f.name == "bf16")
		if err != nil {
			t.Fatal(err)
		}
		bf := func(h uint16) *big.Float { return new(big.Float).SetPrec(300).SetFloat64(float64(f.decode(h))) }
		for i := 0; i < n; i++ {
			x, y, z := bf(a[i]), bf(b[i]), bf(c[i])
			exact := []*big.Float{
				new(big.Float).SetPrec(300).Add(x, y),
				new(big.Float).SetPrec(300).Sub(x, y),
				new(big.Float).SetPrec(300).Mul(x, y),
				nil,
				new(big.Float).SetPrec(300).Add(new(big.Float).SetPrec(300).Mul(x, y), z),
				new(big.Float).SetPrec(300).Add(new(big.Float).SetPrec(300).Mul(y, z), y),
			}
			if y.Sign() != 0 {
				exact[3] = new(big.Float).SetPrec(300).Quo(x, y) // 300 bits: rounding it again is innocuous
			}
			for j, e := range exact {
				g := got[i*6+j]
				if e == nil {
					if !isNaN16(g, f) && !math.IsInf(float64(f.decode(g)), 0) {
						t.Fatalf("%s op %d: %#04x / 0 = %#04x, want inf or NaN", f.name, j, a[i], g)
					}
					continue
				}
				want := f.nearest(e)
				if e.Sign() == 0 { // exact zero: the sign follows IEEE rules, compare values only
					if f.decode(g) != 0 {
						t.Fatalf("%s op %d (%#04x, %#04x, %#04x): got %#04x, want a zero", f.name, j, a[i], b[i], c[i], g)
					}
					continue
				}
				if g != want {
					t.Fatalf("%s op %d (%#04x, %#04x, %#04x): got %#04x (%g), want %#04x (%g)", f.name, j, a[i], b[i],
						c[i], g, f.decode(g), want, f.decode(want))
				}
			}
		}
	}
}
