// CPU stand-in for CUDA's <cuda_bf16.h>: the __nv_bfloat16 and
// __nv_bfloat162 types, their conversions, operators and the arithmetic
// intrinsics kernels commonly use.
//
// Storage is the bfloat16 bit pattern (the high half of a binary32).
// Conversions round to nearest even and are bit-exact with the GPU (NaN
// becomes the canonical 0x7fff). Basic arithmetic is computed in higher
// precision and rounded once, matching the GPU's correctly rounded sm_80+
// instructions; transcendental functions go through float and may differ from
// the GPU's approximations in the last bit.
#pragma once

#include <cmath>
#include <cstdint>

#include "cuda_fp16.h"
#include "cuemu/fp16_round.h"
#include "cuemu/vector_types.h"

#ifndef __CUDA_BF16_H__
#define __CUDA_BF16_H__
#endif
#define __CUDA_BF16_TYPES_EXIST__

/// __nv_bfloat16_raw holds the raw bits of a bfloat16 value.
struct __nv_bfloat16_raw {
  unsigned short x;
};

/// __nv_bfloat16 is a bfloat16 value; as with CUDA it converts implicitly from
/// and to float (round to nearest even / exact).
struct __nv_bfloat16 {
  unsigned short __x;

  __nv_bfloat16() = default;
  __nv_bfloat16(__nv_bfloat16_raw r) : __x(r.x) {}
  __nv_bfloat16(float f) : __x(cuemu::fp::f32_to_bf16(f)) {}
  __nv_bfloat16(double f) : __x(cuemu::fp::round_f64<7, 8>(f)) {}
  __nv_bfloat16(int i) : __nv_bfloat16(float(i)) {}
  __nv_bfloat16(unsigned int i) : __nv_bfloat16(float(i)) {}
  __nv_bfloat16& operator=(float f) { return *this = __nv_bfloat16(f); }
  __nv_bfloat16& operator=(double f) { return *this = __nv_bfloat16(f); }
  operator float() const { return cuemu::fp::bf16_to_f32(__x); }
  operator __nv_bfloat16_raw() const { return __nv_bfloat16_raw{__x}; }
};

/// __nv_bfloat162 is a pair of bfloat16 values; x is the low 16 bits.
struct alignas(4) __nv_bfloat162 {
  __nv_bfloat16 x, y;

  __nv_bfloat162() = default;
  __nv_bfloat162(__nv_bfloat16 a, __nv_bfloat16 b) : x(a), y(b) {}
};

/// nv_bfloat16 and nv_bfloat162 are CUDA's short names.
typedef __nv_bfloat16 nv_bfloat16;
typedef __nv_bfloat162 nv_bfloat162;

namespace cuemu {
namespace fp {
inline __nv_bfloat16 mk_bf16(uint16_t b) { __nv_bfloat16 h; h.__x = b; return h; }
}  // namespace fp
}  // namespace cuemu

/// __float2bfloat16 converts float to bfloat16, round to nearest even.
inline __nv_bfloat16 __float2bfloat16(float f) { return cuemu::fp::mk_bf16(cuemu::fp::f32_to_bf16(f)); }
/// __float2bfloat16_rn is __float2bfloat16.
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __float2bfloat16(f); }
/// __double2bfloat16 converts double to bfloat16 with a single rounding.
inline __nv_bfloat16 __double2bfloat16(double d) { return cuemu::fp::mk_bf16(cuemu::fp::round_f64<7, 8>(d)); }
/// __bfloat162float widens a bfloat16 to float exactly.
inline float __bfloat162float(__nv_bfloat16 h) { return cuemu::fp::bf16_to_f32(h.__x); }
/// __bfloat16_as_ushort returns the bits of h.
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.__x; }
/// __ushort_as_bfloat16 makes a bfloat16 from its bits.
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short b) { return cuemu::fp::mk_bf16(b); }
/// __halves2bfloat162 packs a (low) and b (high).
inline __nv_bfloat162 __halves2bfloat162(__nv_bfloat16 a, __nv_bfloat16 b) { return __nv_bfloat162(a, b); }
/// __bfloat162bfloat162 duplicates a into both halves.
inline __nv_bfloat162 __bfloat162bfloat162(__nv_bfloat16 a) { return __nv_bfloat162(a, a); }
/// __floats2bfloat162_rn converts a (low) and b (high).
inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) {
  return __nv_bfloat162(__float2bfloat16(a), __float2bfloat16(b));
}
/// __float2bfloat162_rn converts f into both halves.
inline __nv_bfloat162 __float2bfloat162_rn(float f) { return __bfloat162bfloat162(__float2bfloat16(f)); }
/// __float22bfloat162_rn converts both elements of v.
inline __nv_bfloat162 __float22bfloat162_rn(float2 v) { return __floats2bfloat162_rn(v.x, v.y); }
/// __bfloat1622float2 widens both halves.
inline float2 __bfloat1622float2(__nv_bfloat162 v) { return float2{__bfloat162float(v.x), __bfloat162float(v.y)}; }
/// __low2float / __high2float widen the low / high half.
inline float __low2float(__nv_bfloat162 v) { return __bfloat162float(v.x); }
inline float __high2float(__nv_bfloat162 v) { return __bfloat162float(v.y); }
/// __low2bfloat16 / __high2bfloat16 return the low / high half.
inline __nv_bfloat16 __low2bfloat16(__nv_bfloat162 v) { return v.x; }
inline __nv_bfloat16 __high2bfloat16(__nv_bfloat162 v) { return v.y; }

/// __hadd, __hsub, __hmul, __hdiv, __hfma (single rounding), __hneg, __habs,
/// __hmax, __hmin: bfloat16 overloads of the cuda_fp16.h intrinsics, bit-exact
/// with sm_80+ hardware.
inline __nv_bfloat16 __hadd(__nv_bfloat16 a, __nv_bfloat16 b) { return __float2bfloat16(float(a) + float(b)); }
inline __nv_bfloat16 __hsub(__nv_bfloat16 a, __nv_bfloat16 b) { return __float2bfloat16(float(a) - float(b)); }
inline __nv_bfloat16 __hmul(__nv_bfloat16 a, __nv_bfloat16 b) { return __float2bfloat16(float(a) * float(b)); }
inline __nv_bfloat16 __hdiv(__nv_bfloat16 a, __nv_bfloat16 b) { return __float2bfloat16(float(a) / float(b)); }
inline __nv_bfloat16 __hfma(__nv_bfloat16 a, __nv_bfloat16 b, __nv_bfloat16 c) {
  return cuemu::fp::mk_bf16(cuemu::fp::fma_round<7, 8>(float(a), float(b), float(c)));
}
inline __nv_bfloat16 __hneg(__nv_bfloat16 a) { return cuemu::fp::mk_bf16(uint16_t(a.__x ^ 0x8000u)); }
inline __nv_bfloat16 __habs(__nv_bfloat16 a) { return cuemu::fp::mk_bf16(uint16_t(a.__x & 0x7fffu)); }
/// __hisnan reports whether a is NaN.
inline bool __hisnan(__nv_bfloat16 a) { return (a.__x & 0x7fffu) > 0x7f80u; }
inline __nv_bfloat16 __hmax(__nv_bfloat16 a, __nv_bfloat16 b) {
  if (__hisnan(a)) return __hisnan(b) ? cuemu::fp::mk_bf16(0x7fff) : b;
  if (__hisnan(b)) return a;
  return float(a) >= float(b) ? a : b;
}
inline __nv_bfloat16 __hmin(__nv_bfloat16 a, __nv_bfloat16 b) {
  if (__hisnan(a)) return __hisnan(b) ? cuemu::fp::mk_bf16(0x7fff) : b;
  if (__hisnan(b)) return a;
  return float(a) <= float(b) ? a : b;
}
/// hexp, hlog, hsqrt, hrsqrt, hrcp for bfloat16 (through float).
inline __nv_bfloat16 hexp(__nv_bfloat16 a) { return __float2bfloat16(std::exp(float(a))); }
inline __nv_bfloat16 hlog(__nv_bfloat16 a) { return __float2bfloat16(std::log(float(a))); }
inline __nv_bfloat16 hsqrt(__nv_bfloat16 a) { return __float2bfloat16(std::sqrt(float(a))); }
inline __nv_bfloat16 hrsqrt(__nv_bfloat16 a) { return __float2bfloat16(1.0f / std::sqrt(float(a))); }
inline __nv_bfloat16 hrcp(__nv_bfloat16 a) { return __float2bfloat16(1.0f / float(a)); }

/// __hadd2, __hsub2, __hmul2, __hfma2, __hmax2, __hmin2 for __nv_bfloat162.
inline __nv_bfloat162 __hadd2(__nv_bfloat162 a, __nv_bfloat162 b) { return {__hadd(a.x, b.x), __hadd(a.y, b.y)}; }
inline __nv_bfloat162 __hsub2(__nv_bfloat162 a, __nv_bfloat162 b) { return {__hsub(a.x, b.x), __hsub(a.y, b.y)}; }
inline __nv_bfloat162 __hmul2(__nv_bfloat162 a, __nv_bfloat162 b) { return {__hmul(a.x, b.x), __hmul(a.y, b.y)}; }
inline __nv_bfloat162 __hfma2(__nv_bfloat162 a, __nv_bfloat162 b, __nv_bfloat162 c) {
  return {__hfma(a.x, b.x, c.x), __hfma(a.y, b.y, c.y)};
}
inline __nv_bfloat162 __hmax2(__nv_bfloat162 a, __nv_bfloat162 b) { return {__hmax(a.x, b.x), __hmax(a.y, b.y)}; }
inline __nv_bfloat162 __hmin2(__nv_bfloat162 a, __nv_bfloat162 b) { return {__hmin(a.x, b.x), __hmin(a.y, b.y)}; }

// Operators (CUDA provides these unless __CUDA_NO_BFLOAT16_OPERATORS__).
inline __nv_bfloat16 operator+(const __nv_bfloat16& a, const __nv_bfloat16& b) { return __hadd(a, b); }
inline __nv_bfloat16 operator-(const __nv_bfloat16& a, const __nv_bfloat16& b) { return __hsub(a, b); }
inline __nv_bfloat16 operator*(const __nv_bfloat16& a, const __nv_bfloat16& b) { return __hmul(a, b); }
inline __nv_bfloat16 operator/(const __nv_bfloat16& a, const __nv_bfloat16& b) { return __hdiv(a, b); }
inline __nv_bfloat16& operator+=(__nv_bfloat16& a, const __nv_bfloat16& b) { return a = __hadd(a, b); }
inline __nv_bfloat16& operator-=(__nv_bfloat16& a, const __nv_bfloat16& b) { return a = __hsub(a, b); }
inline __nv_bfloat16& operator*=(__nv_bfloat16& a, const __nv_bfloat16& b) { return a = __hmul(a, b); }
inline __nv_bfloat16& operator/=(__nv_bfloat16& a, const __nv_bfloat16& b) { return a = __hdiv(a, b); }
inline __nv_bfloat16 operator-(const __nv_bfloat16& a) { return __hneg(a); }
inline bool operator==(const __nv_bfloat16& a, const __nv_bfloat16& b) { return float(a) == float(b); }
inline bool operator!=(const __nv_bfloat16& a, const __nv_bfloat16& b) { return float(a) != float(b); }
inline bool operator<(const __nv_bfloat16& a, const __nv_bfloat16& b) { return float(a) < float(b); }
inline bool operator<=(const __nv_bfloat16& a, const __nv_bfloat16& b) { return float(a) <= float(b); }
inline bool operator>(const __nv_bfloat16& a, const __nv_bfloat16& b) { return float(a) > float(b); }
inline bool operator>=(const __nv_bfloat16& a, const __nv_bfloat16& b) { return float(a) >= float(b); }
inline __nv_bfloat162 operator+(const __nv_bfloat162& a, const __nv_bfloat162& b) { return __hadd2(a, b); }
inline __nv_bfloat162 operator-(const __nv_bfloat162& a, const __nv_bfloat162& b) { return __hsub2(a, b); }
inline __nv_bfloat162 operator*(const __nv_bfloat162& a, const __nv_bfloat162& b) { return __hmul2(a, b); }
