package blockfmt

import (
	"math"
	"testing"
)

// TestDecodeE4M3: the OCP E4M3 (E4M3FN) values: signs, the subnormals, 1,
// the largest value 448 and the two NaN codes.
func TestDecodeE4M3(t *testing.T) {
	for code, want := range map[byte]float32{
		0x00: 0, 0x01: 1.0 / 512, 0x07: 7.0 / 512, 0x08: 1.0 / 64, 0x38: 1, 0x39: 1.125, 0x3f: 1.875,
		0x40: 2, 0x7e: 448, 0x77: 240, 0xb8: -1, 0xfe: -448, 0x81: -1.0 / 512,
	} {
		if got := DecodeE4M3(code); got != want {
			t.Errorf("DecodeE4M3(%#02x) = %g, want %g", code, got, want)
		}
	}
	if math.Float32bits(DecodeE4M3(0x80)) != 0x80000000 {
		t.Error("0x80 is not -0")
	}
	for _, c := range []byte{0x7f, 0xff} {
		if v := DecodeE4M3(c); v == v {
			t.Errorf("DecodeE4M3(%#02x) = %g, want NaN", c, v)
		}
	}
	// Finite codes increase with their bits.
	for c := 1; c < 0x7f; c++ {
		if !(DecodeE4M3(byte(c)) > DecodeE4M3(byte(c-1))) {
			t.Fatalf("code %#02x is not above the previous one", c)
		}
	}
}

// TestEncodeE4M3: every finite value encodes to its own code, midpoints go
// to the even code, and values beyond 448 saturate.
func TestEncodeE4M3(t *testing.T) {
	for c := 0; c < 0x7f; c++ {
		for _, s := range []byte{0, 0x80} {
			code := byte(c) | s
			if c == 0 && s != 0 {
				continue // -0 encodes as 0x80, checked below
			}
			if got := encodeE4M3(float64(DecodeE4M3(code))); got != code {
				t.Fatalf("encode(decode(%#02x)) = %#02x", code, got)
			}
		}
		if c > 0 && c < 0x7e {
			lo, hi := float64(DecodeE4M3(byte(c))), float64(DecodeE4M3(byte(c+1)))
			want := byte(c)
			if c&1 == 1 {
				want = byte(c + 1)
			}
			if got := encodeE4M3((lo + hi) / 2); got != want {
				t.Fatalf("midpoint of %#02x and %#02x encodes as %#02x, want %#02x", c, c+1, got, want)
			}
		}
	}
	if encodeE4M3(math.Copysign(0, -1)) != 0x80 || encodeE4M3(1e6) != 0x7e || encodeE4M3(-500) != 0xfe {
		t.Fatal("-0 or saturation")
	}
}

// TestQuantize: per-row scales max|row|/127 and /448, the largest element
// maps to the largest code, zero and non-finite rows.
func TestQuantize(t *testing.T) {
	w := []float32{
		1, -2, 0.5, 4,
		0, 0, 0, 0,
		float32(math.Inf(1)), 1, 2, 3,
	}
	enc := QuantizeI8(w, 3, 4)
	codes, scales := SplitI8(enc, 3, 4)
	if scales[0] != 4.0/127 || int8(codes[3]) != 127 || int8(codes[1]) != -64 || int8(codes[0]) != 32 {
		t.Fatalf("I8 row 0: scale %g codes %v", scales[0], codes[:4])
	}
	if scales[1] != 0 || codes[4] != 0 || scales[2] == scales[2] {
		t.Fatalf("I8 zero row scale %g, non-finite row scale %g", scales[1], scales[2])
	}
	enc = QuantizeF8E4M3(w, 3, 4)
	codes, scales = SplitI8(enc, 3, 4)
	if scales[0] != 4.0/448 || codes[3] != 0x7e || DecodeE4M3(codes[1])*scales[0] != -2 {
		t.Fatalf("F8E4M3 row 0: scale %g codes %x", scales[0], codes[:4])
	}
	if RowBytes(I8, 4) != 8 || RowBytes(F8E4M3, 4) != 8 || RowBytes(Q8_0, 64) != 68 || RowBytes(Q8_0, 33) != -1 {
		t.Fatal("RowBytes")
	}
}
