// cuda/qblock.cuh: ggml's 32-element block-quantized weight formats as
// rwkv.cpp writes them (RWKVCU_Q4_0 ... RWKVCU_Q8_0), kept on the device in
// the file's bytes and decoded in registers by the kernels of matmul.cu
// (GEMV, grouped GEMV, SIMT GEMM) and ops.cu (embedding).
//
// The one definition of the layouts on the C side; the Go side's is
// internal/blockfmt (DecodeBlock), and the conformance suite
// (engine/backend/backendtest, QuantDecode) checks that both decode random
// blocks to the same floats. A row of a [rows, cols] matrix is cols/32
// consecutive blocks (cols a multiple of 32); each block is little-endian,
// with IEEE fp16 scale d and minimum m:
//
//   Q4_0 18 bytes: d, qs[16]             x[j] = ((qs[j]&15)-8)*d, x[j+16] = ((qs[j]>>4)-8)*d
//   Q4_1 20 bytes: d, m, qs[16]          x = q*d + m (same nibble order)
//   Q5_0 22 bytes: d, qh u32, qs[16]     q = nibble | (bit j, or j+16, of qh) << 4; x = (q-16)*d
//   Q5_1 24 bytes: d, m, qh u32, qs[16]  x = q*d + m
//   Q8_0 34 bytes: d, int8 qs[32]        x = q*d
//
// Every product and sum is rounded to float (q*d first, then + m; no
// contraction into an FMA), which is how package weights and the CPU
// backend dequantize, so a decoded element has the same bits everywhere.
// Every block size is even and every field starts at an even offset, so a
// row that starts 2-byte aligned is read with 16-bit loads only.
#pragma once

#include <stdint.h>

#include <cuda_fp16.h>
#include <cuda_runtime.h>

/// Element-type codes of the block formats (rwkvcu.h's RWKVCU_Q4_0 ...).
constexpr int32_t kQ4_0 = 5, kQ4_1 = 6, kQ5_0 = 7, kQ5_1 = 8, kQ8_0 = 9;

/// Elements per block.
constexpr int kQK = 32;

/// qblock_is reports whether dt is one of the block formats.
__host__ __device__ constexpr bool qblock_is(int32_t dt) { return dt >= kQ4_0 && dt <= kQ8_0; }

/// qblock_bytes is the encoded size of one block of dt (0 for another type).
__host__ __device__ constexpr int qblock_bytes(int32_t dt) {
  return dt == kQ4_0 ? 18 : dt == kQ4_1 ? 20 : dt == kQ5_0 ? 22 : dt == kQ5_1 ? 24 : dt == kQ8_0 ? 34 : 0;
}

/// qblock_row_bytes is the encoded size of a row of cols elements (cols a
/// multiple of kQK).
__host__ __device__ constexpr int64_t qblock_row_bytes(int32_t dt, int64_t cols) {
  return cols / kQK * qblock_bytes(dt);
}

/// The fields of a block of type QT: byte offsets of m (-1: none), qh (-1:
/// none) and qs.
template <int QT>
struct QLayout {
  static constexpr int bytes = qblock_bytes(QT);
  static constexpr int m = (QT == kQ4_1 || QT == kQ5_1) ? 2 : -1;
  static constexpr int qh = QT == kQ5_0 ? 2 : QT == kQ5_1 ? 4 : -1;
  static constexpr int qs = bytes - (QT == kQ8_0 ? 32 : 16);
};

/// qb_u16 loads the little-endian 16-bit word at byte offset off of p (p +
/// off 2-byte aligned).
__device__ __forceinline__ uint32_t qb_u16(const uint8_t* p, int off) {
  return __ldg(reinterpret_cast<const unsigned short*>(p + off));
}

__device__ __forceinline__ float qb_f16(uint32_t bits) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(bits)));
}

/// qblock_run8 decodes the 8 consecutive elements [i0, i0+8) of a row of
/// type QT starting at row (2-byte aligned) into f; i0 is a multiple of 8.
/// The block's scale (and minimum and high bits) and the 8 code bytes (4
/// for the 4- and 5-bit types: elements j and j+16 share a byte) are read
/// with 16-bit loads.
template <int QT>
__device__ __forceinline__ void qblock_run8(const uint8_t* __restrict__ row, int64_t i0, float* f) {
  using L = QLayout<QT>;
  const uint8_t* b = row + (i0 / kQK) * L::bytes;
  const int e0 = int(i0 % kQK);  // 0, 8, 16 or 24
  const float d = qb_f16(qb_u16(b, 0));
  if constexpr (QT == kQ8_0) {
#pragma unroll
    for (int p = 0; p < 4; ++p) {
      const uint32_t w = qb_u16(b, L::qs + e0 + 2 * p);
      f[2 * p] = __fmul_rn(float(int8_t(w & 0xffu)), d);
      f[2 * p + 1] = __fmul_rn(float(int8_t(w >> 8)), d);
    }
  } else {
    // Elements e0..e0+7 are the low (e0 < 16) or high nibbles of the code
    // bytes (e0 & 15)..(e0 & 15)+7; their fifth bits are bits e0..e0+7 of qh.
    const int shift = e0 & 16 ? 4 : 0;
    uint32_t hb = 0;
    if constexpr (L::qh >= 0) {
      const uint32_t qh = qb_u16(b, L::qh) | (qb_u16(b, L::qh + 2) << 16);
      hb = qh >> e0;
    }
    float m = 0.f;
    if constexpr (L::m >= 0) m = qb_f16(qb_u16(b, L::m));
#pragma unroll
    for (int p = 0; p < 4; ++p) {
      const uint32_t w = qb_u16(b, L::qs + (e0 & 15) + 2 * p);
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int e = 2 * p + h;
        int32_t q = int32_t((w >> (8 * h + shift)) & 15u);
        if constexpr (L::qh >= 0) q |= int32_t((hb >> e) & 1u) << 4;
        if constexpr (QT == kQ4_0) q -= 8;
        if constexpr (QT == kQ5_0) q -= 16;
        const float v = __fmul_rn(float(q), d);
        f[e] = L::m >= 0 ? __fadd_rn(v, m) : v;
      }
    }
  }
}

/// qblock_elem decodes element i of a row of type QT starting at row
/// (2-byte aligned).
template <int QT>
__device__ __forceinline__ float qblock_elem(const uint8_t* __restrict__ row, int64_t i) {
  using L = QLayout<QT>;
  const uint8_t* b = row + (i / kQK) * L::bytes;
  const int e = int(i % kQK);
  const float d = qb_f16(qb_u16(b, 0));
  if constexpr (QT == kQ8_0) {
    const uint32_t w = qb_u16(b, L::qs + (e & ~1));
    return __fmul_rn(float(int8_t((w >> (8 * (e & 1))) & 0xffu)), d);
  } else {
    const int j = e & 15;
    const uint32_t w = qb_u16(b, L::qs + (j & ~1));
    int32_t q = int32_t((w >> (8 * (j & 1) + (e & 16 ? 4 : 0))) & 15u);
    if constexpr (L::qh >= 0) {
      const uint32_t qh = qb_u16(b, L::qh) | (qb_u16(b, L::qh + 2) << 16);
      q |= int32_t((qh >> e) & 1u) << 4;
    }
    if constexpr (QT == kQ4_0) q -= 8;
    if constexpr (QT == kQ5_0) q -= 16;
    const float v = __fmul_rn(float(q), d);
    if constexpr (L::m >= 0) return __fadd_rn(v, qb_f16(qb_u16(b, L::m)));
    return v;
  }
}
