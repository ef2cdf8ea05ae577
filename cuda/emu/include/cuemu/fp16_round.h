// Bit-exact conversions between binary32/binary64 and the 16-bit float
// formats (IEEE binary16 and bfloat16), shared by the shadow cuda_fp16.h and
// cuda_bf16.h headers.
//
// Every conversion to a 16-bit format rounds to nearest, ties to even (the
// `_rn` behaviour of CUDA's intrinsics and of the GPU's cvt.rn instructions).
// NaN inputs become the canonical NaN 0x7fff, as CUDA's conversions produce;
// widening conversions are exact and keep NaN payloads.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace cuemu {
namespace fp {

/// f32_bits returns the IEEE encoding of f.
inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

/// bits_f32 returns the float whose IEEE encoding is u.
inline float bits_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

/// f16_to_f32 widens an IEEE binary16 encoding to float exactly (subnormals
/// are normalized, NaN payloads kept).
inline float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant << 13));
  if (exp != 0) return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
  if (mant == 0) return bits_f32(sign);
  uint32_t e = 113;  // renormalize a subnormal
  while (!(mant & 0x400u)) {
    mant <<= 1;
    --e;
  }
  return bits_f32(sign | (e << 23) | ((mant & 0x3ffu) << 13));
}

/// f32_to_f16 rounds f to binary16, round to nearest even; overflow gives
/// infinity, NaN gives 0x7fff.
inline uint16_t f32_to_f16(float f) {
  uint32_t x = f32_bits(f);
  uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return 0x7fff;                 // NaN
  if (ax >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // >= 65520 rounds to inf
  if (ax >= 0x38800000u) {                              // normal result (>= 2^-14)
    ax += 0xc8000fffu + ((ax >> 13) & 1u);              // rebias exponent, round half even
    return uint16_t(sign | (ax >> 13));
  }
  if (ax <= 0x33000000u) return uint16_t(sign);         // <= 2^-25 rounds to zero
  uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u, shift = 126 - e;
  uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (r & 1u))) ++r;     // may carry into the smallest normal
  return uint16_t(sign | r);
}

/// bf16_to_f32 widens a bfloat16 encoding to float exactly.
inline float bf16_to_f32(uint16_t h) { return bits_f32(uint32_t(h) << 16); }

/// f32_to_bf16 rounds f to bfloat16, round to nearest even; NaN gives 0x7fff.
inline uint16_t f32_to_bf16(float f) {
  uint32_t x = f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return 0x7fff;
  x += 0x7fffu + ((x >> 16) & 1u);
  return uint16_t(x >> 16);
}

/// round_f64 rounds v, round to nearest even, to a binary format with
/// MantBits stored mantissa bits and ExpBits exponent bits (binary16: 10, 5;
/// bfloat16: 7, 8), including its subnormals; NaN gives 0x7fff.
template <int MantBits, int ExpBits>
inline uint16_t round_f64(double v) {
  constexpr int bias = (1 << (ExpBits - 1)) - 1, emin = 1 - bias, emax = bias;
  constexpr uint16_t inf = uint16_t(((1u << ExpBits) - 1) << MantBits);
  uint64_t x;
  std::memcpy(&x, &v, 8);
  uint16_t sign = uint16_t((x >> 63) << 15);
  uint64_t ax = x & 0x7fffffffffffffffull;
  if (ax > 0x7ff0000000000000ull) return 0x7fff;
  if (ax == 0x7ff0000000000000ull) return uint16_t(sign | inf);
  int e = int(ax >> 52) - 1023;
  if (e < emin - MantBits - 1) return sign;  // also zero and binary64 subnormals
  if (e > emax) return uint16_t(sign | inf);
  uint64_t m = (ax & ((1ull << 52) - 1)) | (1ull << 52);
  int unit = (e < emin ? emin : e) - MantBits;  // exponent of one result ulp
  int shift = unit - e + 52;
  uint64_t r = m >> shift, rem = m & ((1ull << shift) - 1), half = 1ull << (shift - 1);
  if (rem > half || (rem == half && (r & 1u))) ++r;
  uint64_t bits = e >= emin ? (uint64_t(e + bias - 1) << MantBits) + r : r;  // carries reach inf
  return uint16_t(sign | bits);
}

/// fma_round computes a*b+c for operands that are exact 16-bit floats and
/// rounds the exact result once to the format of round_f64<MantBits,
/// ExpBits>, as the GPU's fma.rn.f16 / fma.rn.bf16 do. The product is exact
/// in binary64; the sum is formed with round-to-odd, which makes the final
/// rounding to the narrow format correct.
template <int MantBits, int ExpBits>
inline uint16_t fma_round(float a, float b, float c) {
  double p = double(a) * double(b), cc = c, s = p + cc;
  if (std::isfinite(s) && s != 0) {
    double bb = s - p, err = (p - (s - bb)) + (cc - bb);  // exact: p + c == s + err
    if (err != 0) {
      uint64_t u;
      std::memcpy(&u, &s, 8);
      if ((err > 0) != (s > 0)) --u;  // truncate toward zero: one ulp smaller magnitude
      u |= 1u;                        // round to odd
      std::memcpy(&s, &u, 8);
    }
  }
  return round_f64<MantBits, ExpBits>(s);
}

}  // namespace fp
}  // namespace cuemu
