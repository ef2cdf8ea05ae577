package sampler

import "math/bits"

// Philox4x32-10 constants (Salmon, Moraes, Dror and Shaw, "Parallel random
// numbers: as easy as 1, 2, 3", SC 2011), identical to Random123 and cuRAND.
const (
	philoxM0 = 0xD2511F53 // multiplier applied to counter word 0
	philoxM1 = 0xCD9E8D57 // multiplier applied to counter word 2
	philoxW0 = 0x9E3779B9 // Weyl key increment for key word 0
	philoxW1 = 0xBB67AE85 // Weyl key increment for key word 1
)

// Philox4x32 computes the Philox4x32-10 block function of counter ctr under
// key key, bit-for-bit as Random123's philox4x32(ctr, key) with 10 rounds
// and cuRAND's Philox4_32_10.
//
// Each round computes (hi0, lo0) = M0*ctr[0], (hi1, lo1) = M1*ctr[2] as
// 64-bit products and sets ctr = {hi1^ctr[1]^key[0], lo1, hi0^ctr[3]^key[1],
// lo0}; between rounds the key is bumped by (W0, W1) modulo 2^32.
func Philox4x32(ctr [4]uint32, key [2]uint32) [4]uint32 {
	for r := 0; r < 10; r++ {
		if r > 0 {
			key[0] += philoxW0
			key[1] += philoxW1
		}
		hi0, lo0 := bits.Mul32(philoxM0, ctr[0])
		hi1, lo1 := bits.Mul32(philoxM1, ctr[2])
		ctr = [4]uint32{hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0}
	}
	return ctr
}

// PhiloxBlock returns the Philox4x32-10 output block for (seed, seq, step):
//
//	key     = {uint32(seed), uint32(seed >> 32)}
//	counter = {uint32(step), uint32(step >> 32), uint32(seq), uint32(seq >> 32)}
//
// seed is the user seed, seq the sequence id (distinguishes sequences of a
// batch or the n-th completion for one prompt), and step the 0-based index of
// the token being drawn within that sequence's generation.
func PhiloxBlock(seed, seq, step uint64) [4]uint32 {
	key := [2]uint32{uint32(seed), uint32(seed >> 32)}
	ctr := [4]uint32{uint32(step), uint32(step >> 32), uint32(seq), uint32(seq >> 32)}
	return Philox4x32(ctr, key)
}

// UniformFromBits maps a 32-bit random word to a float in [0, 1) by keeping
// its 24 most significant bits: u = float(x >> 8) * 2^-24. The result is
// exactly representable in float32 and float64, so a float32 GPU kernel
// computing (x >> 8) * 0x1p-24f obtains the identical value.
func UniformFromBits(x uint32) float64 {
	return float64(x>>8) * 0x1p-24
}

// Uniform returns the uniform in [0, 1) used to draw the token at (seed, seq,
// step): UniformFromBits applied to word 0 of PhiloxBlock(seed, seq, step).
// Word 1 of the block decides whether XTC applies (XTCUniform); words 2 and
// 3 are reserved for future use.
func Uniform(seed, seq, step uint64) float64 {
	return UniformFromBits(PhiloxBlock(seed, seq, step)[0])
}
