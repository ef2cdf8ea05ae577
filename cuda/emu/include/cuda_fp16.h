// CPU stand-in for CUDA's <cuda_fp16.h>: the __half and __half2 types, their
// conversions, operators and the arithmetic intrinsics kernels commonly use.
//
// Storage is the IEEE binary16 bit pattern. Conversions round to nearest even
// and are bit-exact with the GPU (NaN becomes the canonical 0x7fff). The basic
// arithmetic (__hadd, __hsub, __hmul, __hdiv, __hfma, their __half2 forms and
// the operators) is computed in higher precision and rounded once, which gives
// exactly the GPU's correctly rounded result. The transcendental functions
// (hexp, hlog, hsin, ...) go through float and may differ from the GPU's
// approximations in the last bit. Rounding modes other than _rn are not
// provided.
//
// This header is found before a CUDA toolkit's by putting cuda/emu/include
// first on the include path; it does not need the rest of the emulator.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "cuemu/fp16_round.h"
#include "cuemu/vector_types.h"

#ifndef __CUDA_FP16_H__
#define __CUDA_FP16_H__
#endif
#define __CUDA_FP16_TYPES_EXIST__

/// __half_raw holds the raw bits of a binary16 value (CUDA's __half_raw).
struct __half_raw {
  unsigned short x;
};

/// __half2_raw holds the raw bits of two binary16 values.
struct __half2_raw {
  unsigned short x, y;
};

/// __half is an IEEE binary16 value. As with CUDA, it converts implicitly from
/// and to float (round to nearest even / exact).
struct __half {
  unsigned short __x;

  __half() = default;
  __half(__half_raw r) : __x(r.x) {}
  __half(float f) : __x(cuemu::fp::f32_to_f16(f)) {}
  __half(double f) : __x(cuemu::fp::round_f64<10, 5>(f)) {}
  __half(int i) : __half(float(i)) {}
  __half(unsigned int i) : __half(float(i)) {}
  __half(long long i) : __half(double(i)) {}
  __half(unsigned long long i) : __half(double(i)) {}
  __half& operator=(float f) { return *this = __half(f); }
  __half& operator=(double f) { return *this = __half(f); }
  __half& operator=(__half_raw r) { __x = r.x; return *this; }
  operator float() const { return cuemu::fp::f16_to_f32(__x); }
  operator __half_raw() const { return __half_raw{__x}; }
};

/// __half2 is a pair of binary16 values; x is the low 16 bits of the 32-bit
/// register the GPU keeps it in.
struct alignas(4) __half2 {
  __half x, y;

  __half2() = default;
  __half2(__half a, __half b) : x(a), y(b) {}
  __half2(__half2_raw r) { x.__x = r.x; y.__x = r.y; }
  operator __half2_raw() const { return __half2_raw{x.__x, y.__x}; }
};

/// half and half2 are CUDA's short names for __half and __half2.
typedef __half half;
typedef __half2 half2;

namespace cuemu {
namespace fp {
inline __half mk_half(uint16_t b) { __half h; h.__x = b; return h; }
}  // namespace fp
}  // namespace cuemu

// ---- conversions -----------------------------------------------------------

/// __float2half converts float to __half, round to nearest even.
inline __half __float2half(float f) { return cuemu::fp::mk_half(cuemu::fp::f32_to_f16(f)); }
/// __float2half_rn is __float2half (round to nearest even).
inline __half __float2half_rn(float f) { return __float2half(f); }
/// __double2half converts double to __half with a single rounding.
inline __half __double2half(double d) { return cuemu::fp::mk_half(cuemu::fp::round_f64<10, 5>(d)); }
/// __half2float widens a __half to float exactly.
inline float __half2float(__half h) { return cuemu::fp::f16_to_f32(h.__x); }
/// __int2half_rn converts an int to __half, round to nearest even.
inline __half __int2half_rn(int i) { return __float2half(float(i)); }
/// __half2int_rz converts a __half to int, rounding toward zero.
inline int __half2int_rz(__half h) { return int(__half2float(h)); }
/// __half2int_rn converts a __half to int, round to nearest even.
inline int __half2int_rn(__half h) { return int(std::nearbyint(__half2float(h))); }
/// __half_as_ushort returns the bits of h.
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
/// __half_as_short returns the bits of h as a signed integer.
inline short __half_as_short(__half h) { return short(h.__x); }
/// __ushort_as_half makes a __half from its bits.
inline __half __ushort_as_half(unsigned short b) { return cuemu::fp::mk_half(b); }
/// __short_as_half makes a __half from its bits.
inline __half __short_as_half(short b) { return cuemu::fp::mk_half(uint16_t(b)); }

/// __halves2half2 packs two __half values (a low, b high).
inline __half2 __halves2half2(__half a, __half b) { return __half2(a, b); }
/// __half2half2 duplicates a into both halves.
inline __half2 __half2half2(__half a) { return __half2(a, a); }
/// __float2half2_rn converts f into both halves.
inline __half2 __float2half2_rn(float f) { return __half2half2(__float2half(f)); }
/// __floats2half2_rn converts a (low) and b (high).
inline __half2 __floats2half2_rn(float a, float b) { return __half2(__float2half(a), __float2half(b)); }
/// __low2half returns the low half.
inline __half __low2half(__half2 v) { return v.x; }
/// __high2half returns the high half.
inline __half __high2half(__half2 v) { return v.y; }
/// __low2float widens the low half.
inline float __low2float(__half2 v) { return __half2float(v.x); }
/// __high2float widens the high half.
inline float __high2float(__half2 v) { return __half2float(v.y); }
/// __lows2half2 packs the low halves of a and b.
inline __half2 __lows2half2(__half2 a, __half2 b) { return __half2(a.x, b.x); }
/// __highs2half2 packs the high halves of a and b.
inline __half2 __highs2half2(__half2 a, __half2 b) { return __half2(a.y, b.y); }
/// __low2half2 duplicates the low half.
inline __half2 __low2half2(__half2 a) { return __half2(a.x, a.x); }
/// __high2half2 duplicates the high half.
inline __half2 __high2half2(__half2 a) { return __half2(a.y, a.y); }
/// __lowhigh2highlow swaps the halves.
inline __half2 __lowhigh2highlow(__half2 a) { return __half2(a.y, a.x); }

// ---- arithmetic --------------------------------------------------------------
// Single operations on binary16 values computed in float are correctly rounded
// after one more rounding (float has more than 2*11+2 bits), so these match
// the GPU bit for bit.

/// __hadd returns a+b rounded to __half.
inline __half __hadd(__half a, __half b) { return __float2half(__half2float(a) + __half2float(b)); }
/// __hsub returns a-b rounded to __half.
inline __half __hsub(__half a, __half b) { return __float2half(__half2float(a) - __half2float(b)); }
/// __hmul returns a*b rounded to __half.
inline __half __hmul(__half a, __half b) { return __float2half(__half2float(a) * __half2float(b)); }
/// __hdiv returns a/b rounded to __half.
inline __half __hdiv(__half a, __half b) { return __float2half(__half2float(a) / __half2float(b)); }
/// __hfma returns a*b+c with a single rounding (fma.rn.f16).
inline __half __hfma(__half a, __half b, __half c) {
  return cuemu::fp::mk_half(cuemu::fp::fma_round<10, 5>(__half2float(a), __half2float(b), __half2float(c)));
}
/// __hneg returns -a (sign flip, NaN included).
inline __half __hneg(__half a) { return cuemu::fp::mk_half(uint16_t(a.__x ^ 0x8000u)); }
/// __habs returns |a| (sign cleared).
inline __half __habs(__half a) { return cuemu::fp::mk_half(uint16_t(a.__x & 0x7fffu)); }
/// __hisnan reports whether a is NaN.
inline bool __hisnan(__half a) { return (a.__x & 0x7fffu) > 0x7c00u; }
/// __hisinf returns -1 for -inf, 1 for +inf, 0 otherwise.
inline int __hisinf(__half a) { return a.__x == 0x7c00u ? 1 : a.__x == 0xfc00u ? -1 : 0; }
/// __hmax returns the larger of a and b (the other operand if one is NaN).
inline __half __hmax(__half a, __half b) {
  if (__hisnan(a)) return __hisnan(b) ? cuemu::fp::mk_half(0x7fff) : b;
  if (__hisnan(b)) return a;
  return __half2float(a) >= __half2float(b) ? a : b;
}
/// __hmin returns the smaller of a and b (the other operand if one is NaN).
inline __half __hmin(__half a, __half b) {
  if (__hisnan(a)) return __hisnan(b) ? cuemu::fp::mk_half(0x7fff) : b;
  if (__hisnan(b)) return a;
  return __half2float(a) <= __half2float(b) ? a : b;
}
/// __heq, __hne, __hlt, __hle, __hgt, __hge compare like float (ordered; NaN
/// compares unequal).
inline bool __heq(__half a, __half b) { return __half2float(a) == __half2float(b); }
inline bool __hne(__half a, __half b) { return __half2float(a) != __half2float(b); }
inline bool __hlt(__half a, __half b) { return __half2float(a) < __half2float(b); }
inline bool __hle(__half a, __half b) { return __half2float(a) <= __half2float(b); }
inline bool __hgt(__half a, __half b) { return __half2float(a) > __half2float(b); }
inline bool __hge(__half a, __half b) { return __half2float(a) >= __half2float(b); }

/// hexp, hexp2, hlog, hlog2, hsqrt, hrsqrt, hrcp, hsin, hcos: computed in float
/// and rounded (the GPU's approximations may differ in the last bit; hsqrt is
/// correctly rounded on both).
inline __half hexp(__half a) { return __float2half(std::exp(__half2float(a))); }
inline __half hexp2(__half a) { return __float2half(std::exp2(__half2float(a))); }
inline __half hlog(__half a) { return __float2half(std::log(__half2float(a))); }
inline __half hlog2(__half a) { return __float2half(std::log2(__half2float(a))); }
inline __half hsqrt(__half a) { return __float2half(std::sqrt(__half2float(a))); }
inline __half hrsqrt(__half a) { return __float2half(1.0f / std::sqrt(__half2float(a))); }
inline __half hrcp(__half a) { return __float2half(1.0f / __half2float(a)); }
inline __half hsin(__half a) { return __float2half(std::sin(__half2float(a))); }
inline __half hcos(__half a) { return __float2half(std::cos(__half2float(a))); }

/// __hadd2, __hsub2, __hmul2, __h2div, __hfma2, __hneg2, __habs2, __hmax2,
/// __hmin2: the element-wise __half2 forms of the scalar operations.
inline __half2 __hadd2(__half2 a, __half2 b) { return __half2(__hadd(a.x, b.x), __hadd(a.y, b.y)); }
inline __half2 __hsub2(__half2 a, __half2 b) { return __half2(__hsub(a.x, b.x), __hsub(a.y, b.y)); }
inline __half2 __hmul2(__half2 a, __half2 b) { return __half2(__hmul(a.x, b.x), __hmul(a.y, b.y)); }
inline __half2 __h2div(__half2 a, __half2 b) { return __half2(__hdiv(a.x, b.x), __hdiv(a.y, b.y)); }
inline __half2 __hfma2(__half2 a, __half2 b, __half2 c) {
  return __half2(__hfma(a.x, b.x, c.x), __hfma(a.y, b.y, c.y));
}
inline __half2 __hneg2(__half2 a) { return __half2(__hneg(a.x), __hneg(a.y)); }
inline __half2 __habs2(__half2 a) { return __half2(__habs(a.x), __habs(a.y)); }
inline __half2 __hmax2(__half2 a, __half2 b) { return __half2(__hmax(a.x, b.x), __hmax(a.y, b.y)); }
inline __half2 __hmin2(__half2 a, __half2 b) { return __half2(__hmin(a.x, b.x), __hmin(a.y, b.y)); }
/// __half22float2 widens both halves (x low, y high).
inline float2 __half22float2(__half2 v) { return float2{__half2float(v.x), __half2float(v.y)}; }
/// __float22half2_rn converts both elements, round to nearest even.
inline __half2 __float22half2_rn(float2 v) { return __floats2half2_rn(v.x, v.y); }
/// h2exp, h2log, h2sqrt, h2rsqrt, h2rcp: element-wise forms of hexp etc.
inline __half2 h2exp(__half2 a) { return __half2(hexp(a.x), hexp(a.y)); }
inline __half2 h2log(__half2 a) { return __half2(hlog(a.x), hlog(a.y)); }
inline __half2 h2sqrt(__half2 a) { return __half2(hsqrt(a.x), hsqrt(a.y)); }
inline __half2 h2rsqrt(__half2 a) { return __half2(hrsqrt(a.x), hrsqrt(a.y)); }
inline __half2 h2rcp(__half2 a) { return __half2(hrcp(a.x), hrcp(a.y)); }

// ---- operators (CUDA provides these unless __CUDA_NO_HALF_OPERATORS__) -------

inline __half operator+(const __half& a, const __half& b) { return __hadd(a, b); }
inline __half operator-(const __half& a, const __half& b) { return __hsub(a, b); }
inline __half operator*(const __half& a, const __half& b) { return __hmul(a, b); }
inline __half operator/(const __half& a, const __half& b) { return __hdiv(a, b); }
inline __half& operator+=(__half& a, const __half& b) { return a = __hadd(a, b); }
inline __half& operator-=(__half& a, const __half& b) { return a = __hsub(a, b); }
inline __half& operator*=(__half& a, const __half& b) { return a = __hmul(a, b); }
inline __half& operator/=(__half& a, const __half& b) { return a = __hdiv(a, b); }
inline __half operator+(const __half& a) { return a; }
inline __half operator-(const __half& a) { return __hneg(a); }
inline bool operator==(const __half& a, const __half& b) { return __heq(a, b); }
inline bool operator!=(const __half& a, const __half& b) { return __hne(a, b); }
inline bool operator<(const __half& a, const __half& b) { return __hlt(a, b); }
inline bool operator<=(const __half& a, const __half& b) { return __hle(a, b); }
inline bool operator>(const __half& a, const __half& b) { return __hgt(a, b); }
inline bool operator>=(const __half& a, const __half& b) { return __hge(a, b); }

inline __half2 operator+(const __half2& a, const __half2& b) { return __hadd2(a, b); }
inline __half2 operator-(const __half2& a, const __half2& b) { return __hsub2(a, b); }
inline __half2 operator*(const __half2& a, const __half2& b) { return __hmul2(a, b); }
inline __half2 operator/(const __half2& a, const __half2& b) { return __h2div(a, b); }
inline __half2& operator+=(__half2& a, const __half2& b) { return a = __hadd2(a, b); }
inline __half2& operator-=(__half2& a, const __half2& b) { return a = __hsub2(a, b); }
inline __half2& operator*=(__half2& a, const __half2& b) { return a = __hmul2(a, b); }
inline __half2& operator/=(__half2& a, const __half2& b) { return a = __h2div(a, b); }
inline __half2 operator-(const __half2& a) { return __hneg2(a); }
