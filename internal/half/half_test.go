package half

import (
	"math"
	"testing"
)

func TestF16RoundTripAllPatterns(t *testing.T) {
	for i := 0; i < 65536; i++ {
		h := uint16(i)
		f := F16ToF32(h)
		if f != f { // NaN
			if g := F32ToF16(f); F16ToF32(g) == F16ToF32(g) {
				t.Fatalf("NaN %04x re-encoded as non-NaN %04x", h, g)
			}
			continue
		}
		if g := F32ToF16(f); g != h {
			t.Fatalf("pattern %04x -> %g -> %04x", h, f, g)
		}
	}
}

func TestF16Values(t *testing.T) {
	cases := []struct {
		h uint16
		f float32
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, float32(math.Ldexp(1, -24))},
		{0x0400, float32(math.Ldexp(1, -14))}, {0x7c00, float32(math.Inf(1))}, {0x8000, float32(math.Copysign(0, -1))},
	}
	for _, c := range cases {
		if got := F16ToF32(c.h); got != c.f {
			t.Errorf("F16ToF32(%04x) = %g, want %g", c.h, got, c.f)
		}
	}
	// rounding: 1 + 2^-11 is halfway between 1 and 1+2^-10; ties to even -> 1.
	if got := F32ToF16(1 + float32(math.Ldexp(1, -11))); got != 0x3c00 {
		t.Errorf("tie rounding got %04x", got)
	}
	if got := F32ToF16(1e6); got != 0x7c00 {
		t.Errorf("overflow got %04x", got)
	}
}

func TestBF16(t *testing.T) {
	for _, f := range []float32{0, 1, -1.5, 3.140625, 1e30, -1e-30} {
		if got := BF16ToF32(F32ToBF16(f)); math.Abs(float64(got-f)) > math.Abs(float64(f))/128 {
			t.Errorf("bf16 round trip %g -> %g", f, got)
		}
	}
	if F32ToBF16(1+float32(math.Ldexp(1, -8))) != 0x3f80 { // tie to even
		t.Errorf("bf16 tie rounding")
	}
	nan := F32ToBF16(float32(math.NaN()))
	if f := BF16ToF32(nan); f == f {
		t.Errorf("bf16 NaN lost")
	}
	src := []uint16{0x3c00, 0xc000}
	dst := make([]float32, 2)
	DecodeF16(dst, src)
	if dst[0] != 1 || dst[1] != -2 {
		t.Errorf("DecodeF16 = %v", dst)
	}
}
