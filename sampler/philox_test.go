package sampler

import "testing"

// Known-answer vectors from Random123's tests/kat_vectors ("philox4x32 10"
// lines): counter (4 words), key (2 words), expected output (4 words).
func TestPhilox4x32KnownAnswers(t *testing.T) {
	cases := []struct {
		ctr  [4]uint32
		key  [2]uint32
		want [4]uint32
	}{
		{[4]uint32{0, 0, 0, 0}, [2]uint32{0, 0},
			[4]uint32{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
		{[4]uint32{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, [2]uint32{0xffffffff, 0xffffffff},
			[4]uint32{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
		{[4]uint32{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, [2]uint32{0xa4093822, 0x299f31d0},
			[4]uint32{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
	}
	for _, c := range cases {
		if got := Philox4x32(c.ctr, c.key); got != c.want {
			t.Errorf("Philox4x32(%08x, %08x) = %08x, want %08x", c.ctr, c.key, got, c.want)
		}
	}
}

func TestPhiloxBlockMapping(t *testing.T) {
	seed, seq, step := uint64(0x0123456789abcdef), uint64(0xfedcba9876543210), uint64(0x1122334455667788)
	want := Philox4x32([4]uint32{0x55667788, 0x11223344, 0x76543210, 0xfedcba98}, [2]uint32{0x89abcdef, 0x01234567})
	if got := PhiloxBlock(seed, seq, step); got != want {
		t.Fatalf("PhiloxBlock = %08x, want %08x", got, want)
	}
	if PhiloxBlock(0, 0, 0) != [4]uint32{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8} {
		t.Fatal("PhiloxBlock(0,0,0) does not match the zero known-answer vector")
	}
	if u := Uniform(0, 0, 0); u != float64(0x6627e8d5>>8)/16777216 {
		t.Fatalf("Uniform(0,0,0) = %v", u)
	}
}

func TestUniformFromBits(t *testing.T) {
	cases := []struct {
		x    uint32
		want float64
	}{
		{0, 0},
		{0xff, 0},
		{0x100, 1.0 / 16777216},
		{0x80000000, 0.5},
		{0xffffffff, 1 - 1.0/16777216},
	}
	for _, c := range cases {
		got := UniformFromBits(c.x)
		if got != c.want {
			t.Errorf("UniformFromBits(%#x) = %v, want %v", c.x, got, c.want)
		}
		if float64(float32(got)) != got {
			t.Errorf("UniformFromBits(%#x) not exact in float32", c.x)
		}
	}
}
