// cuda/fp8.cuh: the exact decoding of OCP FP8 E4M3 weight codes, shared by
// the kernels of common.cuh (embedding) and matmul.cu.
#pragma once

#include <stdint.h>

#include <cuda_runtime.h>

/// rwkv_e4m3_to_float decodes the OCP FP8 E4M3 (E4M3FN) byte in the low 8
/// bits of b exactly: sign, 4 exponent bits (bias 7), 3 mantissa bits;
/// exponent 0 is subnormal (m * 2^-9), S.1111.111 is NaN, there are no
/// infinities. Integer operations only, so that the emulated library and
/// every device give the same bits as the hardware conversion of sm_89.
__device__ __forceinline__ float rwkv_e4m3_to_float(uint32_t b) {
  const uint32_t sign = (b & 0x80u) << 24, em = b & 0x7fu;
  if (em == 0x7fu) return __uint_as_float(sign | 0x7fc00000u);
  if (em >= 8u) return __uint_as_float(sign | ((em + (120u << 3)) << 20));  // exponent e - 7 + 127
  return __uint_as_float(sign | __float_as_uint(float(em) * 0.001953125f));  // m * 2^-9, exact
}
