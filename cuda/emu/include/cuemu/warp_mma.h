// Warp-level matrix instructions for the emulator: mma.sync m16n8k16 with
// f16/bf16 inputs and f32 accumulators, ldmatrix m8n8 (.x1/.x2/.x4, .trans),
// and cp.async with its commit/wait groups. cuda/ptx_wrappers.cuh calls these
// under CUEMU and inline PTX under nvcc; kernels should use the wrappers.
//
// mma and ldmatrix are warp collectives: all 32 lanes of a full warp must
// call them at the same site (anything else fails the launch). At the
// barrier every lane's fragment registers are gathered, the operation is
// done once for the warp with exactly the PTX ISA fragment layouts, and each
// lane's result registers are written.
//
// cp.async is emulated as truly asynchronous: the source is read when the
// copy is issued, the shared-memory destination is written only when
// cp.async.wait_group / wait_all retires its group (or when the thread
// exits). A kernel that reads the destination before waiting therefore sees
// stale or poisoned data, as it might on the GPU.
#pragma once

#include "cuemu/cuemu.h"
#include "cuemu/fp16_round.h"

namespace cuemu {
namespace warp {

/// MmaIn is one lane's mma.sync operands.
struct MmaIn {
  const uint32_t* a;  // 4 registers
  const uint32_t* b;  // 2 registers
  const float* c;     // 4 registers
};

inline float unpack16(uint32_t reg, int hi, bool bf16) {
  uint16_t h = uint16_t(hi ? reg >> 16 : reg & 0xffffu);
  return bf16 ? fp::bf16_to_f32(h) : fp::f16_to_f32(h);
}

/// Fragment layout of mma.m16n8k16 (PTX ISA, "Matrix Fragments for
/// mma.m16n8k16 with floating point type"), with group = lane / 4 and
/// tig = lane % 4:
///   A (16x16, row-major), element a_i (i = 0..7, register i/2, low half
///     first): row = group + 8*((i/2)%2), col = 2*tig + i%2 + 8*(i/4).
///   B (16x8, "col"), element b_i (i = 0..3, register i/2):
///     row (k) = 2*tig + i%2 + 8*(i/2), col (n) = group.
///   C, D (16x8 f32), element c_i (i = 0..3): row = group + 8*(i/2),
///     col = 2*tig + i%2.
inline int a_row(int lane, int i) { return (lane >> 2) + 8 * ((i >> 1) & 1); }
inline int a_col(int lane, int i) { return 2 * (lane & 3) + (i & 1) + 8 * (i >> 2); }
inline int b_row(int lane, int i) { return 2 * (lane & 3) + (i & 1) + 8 * (i >> 1); }
inline int b_col(int lane, int) { return lane >> 2; }
inline int c_row(int lane, int i) { return (lane >> 2) + 8 * (i >> 1); }
inline int c_col(int lane, int i) { return 2 * (lane & 3) + (i & 1); }

/// mma_fn computes D = A*B + C for the warp. Products of 16-bit values are
/// exact in float; the sum is accumulated in float in k order starting from
/// C (the GPU's tensor cores may round the accumulation differently in the
/// last bits).
template <bool BF16>
inline void mma_fn(detail::Fiber* lanes, uint32_t) {
  float A[16][16], B[16][8], C[16][8];
  for (int l = 0; l < 32; ++l) {
    const MmaIn& in = *static_cast<const MmaIn*>(lanes[l].in);
    for (int i = 0; i < 8; ++i) A[a_row(l, i)][a_col(l, i)] = unpack16(in.a[i >> 1], i & 1, BF16);
    for (int i = 0; i < 4; ++i) B[b_row(l, i)][b_col(l, i)] = unpack16(in.b[i >> 1], i & 1, BF16);
    for (int i = 0; i < 4; ++i) C[c_row(l, i)][c_col(l, i)] = in.c[i];
  }
  // all inputs are gathered before any output is written: d may alias c
  for (int l = 0; l < 32; ++l) {
    float* d = static_cast<float*>(lanes[l].out);
    for (int i = 0; i < 4; ++i) {
      int m = c_row(l, i), n = c_col(l, i);
      float acc = C[m][n];
      for (int k = 0; k < 16; ++k) acc += A[m][k] * B[k][n];
      d[i] = acc;
    }
  }
}

inline void require_full_warp(const Site* s) {
  detail::Exec& e = *detail::t_exec;
  if (e.warp_present[detail::t_cur->lin >> 5] != 0xffffffffu)
    detail::fail(cudaErrorLaunchFailure, detail::where(s) + " needs a full warp of 32 threads");
}

/// mma_m16n8k16 performs mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32.
template <bool BF16>
inline void mma_m16n8k16(const Site* s, float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4]) {
  require_full_warp(s);
  MmaIn in{a, b, c};
  float out[4];
  detail::warp_collective(s, 0xffffffffu, mma_fn<BF16>, &in, out);
  for (int i = 0; i < 4; ++i) d[i] = out[i];
}

/// ldmatrix_fn loads N 8x8 matrices of 16-bit elements; lane 8*m + j gives
/// the address of row j of matrix m. Lane l receives in register m the
/// elements (row l/4, cols 2*(l%4), 2*(l%4)+1) of matrix m, or of its
/// transpose with .trans; the lower column is in the low 16 bits.
template <int N, bool Trans>
inline void ldmatrix_fn(detail::Fiber* lanes, uint32_t) {
  uint16_t M[N][8][8];
  for (int m = 0; m < N; ++m)
    for (int j = 0; j < 8; ++j) std::memcpy(M[m][j], lanes[8 * m + j].in, 16);
  for (int l = 0; l < 32; ++l) {
    uint32_t* r = static_cast<uint32_t*>(lanes[l].out);
    int g = l >> 2, c = 2 * (l & 3);
    for (int m = 0; m < N; ++m) {
      uint16_t lo = Trans ? M[m][c][g] : M[m][g][c], hi = Trans ? M[m][c + 1][g] : M[m][g][c + 1];
      r[m] = uint32_t(lo) | uint32_t(hi) << 16;
    }
  }
}

/// ldmatrix performs ldmatrix.sync.aligned.m8n8.xN{.trans}.shared.b16.
template <int N, bool Trans>
inline void ldmatrix(const Site* s, uint32_t* r, const void* row) {
  static_assert(N == 1 || N == 2 || N == 4, "ldmatrix loads 1, 2 or 4 matrices");
  require_full_warp(s);
  unsigned lane = detail::t_cur->lin & 31;
  if (lane < 8 * N && (reinterpret_cast<uintptr_t>(row) & 15))
    detail::fail(cudaErrorMisalignedAddress,
                 detail::where(s) + detail::format(": row address %p of lane %u is not 16-byte aligned", row, lane));
  uint32_t out[N];
  detail::warp_collective(s, 0xffffffffu, ldmatrix_fn<N, Trans>, row, out);
  for (int m = 0; m < N; ++m) r[m] = out[m];
}

/// cp_async issues cp.async of Bytes (4, 8 or 16) from global to shared
/// memory; only src_bytes (<= Bytes) are read, the rest is zero-filled.
template <int Bytes>
inline void cp_async(const Site* s, void* dst, const void* src, int src_bytes = Bytes) {
  static_assert(Bytes == 4 || Bytes == 8 || Bytes == 16, "cp.async copies 4, 8 or 16 bytes");
  if ((reinterpret_cast<uintptr_t>(dst) | reinterpret_cast<uintptr_t>(src)) & (Bytes - 1))
    detail::fail(cudaErrorMisalignedAddress,
                 detail::where(s) + detail::format(": addresses %p <- %p are not %d-byte aligned", dst, src, Bytes));
  if (src_bytes < 0 || src_bytes > Bytes)
    detail::fail(cudaErrorLaunchFailure, detail::where(s) + detail::format(": source size %d out of range", src_bytes));
  detail::Fiber& f = *detail::t_cur;
  detail::PendingCopy c{};
  c.dst = dst;
  c.size = Bytes;
  c.group = f.cp_group;
  std::memcpy(c.bytes, src, size_t(src_bytes));
  f.cp_pending.push_back(c);
}

/// cp_async_commit closes the current group of cp.async copies (commit_group).
inline void cp_async_commit() { ++detail::t_cur->cp_group; }

/// cp_async_wait completes all committed groups except the newest n
/// (wait_group n).
inline void cp_async_wait(unsigned n) {
  detail::Fiber& f = *detail::t_cur;
  if (f.cp_group >= n) detail::retire_copies(f, f.cp_group - n);
}

/// cp_async_wait_all commits the current group and completes every copy.
inline void cp_async_wait_all() {
  cp_async_commit();
  detail::retire_copies(*detail::t_cur, UINT32_MAX);
}

}  // namespace warp
}  // namespace cuemu
