// Portable device helpers for the CUDA kernels: warp-level MMA, ldmatrix,
// cp.async, dynamic shared memory and kernel launches.
//
// Under nvcc each helper is inline PTX for sm_80 and later. When the kernels
// are compiled on the CPU by the emulator (CUEMU defined, cuda/emu/include
// on the include path), the same helpers are exact emulations with the same
// register layouts, so one kernel source serves both.
//
// Register layouts (PTX ISA, "Matrix Fragments for mma.m16n8k16 with
// floating point type"), with group = lane / 4 and tig = lane % 4; each .b32
// register holds two 16-bit elements, the lower-indexed one in the low half:
//   A, 16x16 row-major, a[0..3]: a[0] = A[group][2tig..2tig+1],
//     a[1] = A[group+8][2tig..], a[2] = A[group][2tig+8..], a[3] = A[group+8][2tig+8..]
//   B, 16x8 (k x n) "col", b[0..1]: b[0] = B[2tig..2tig+1][group],
//     b[1] = B[2tig+8..2tig+9][group]
//   C, D, 16x8 f32, c[0..3]: c[0..1] = C[group][2tig..2tig+1],
//     c[2..3] = C[group+8][2tig..2tig+1]
#pragma once

#include <stdint.h>

#if defined(CUEMU)
#include "cuemu/runtime.h"
#include "cuemu/warp_mma.h"
#elif defined(__CUDACC__)
#include <cuda_runtime.h>
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#error "cuda/ptx_wrappers.cuh needs sm_80 or later (mma.sync m16n8k16, ldmatrix, cp.async)"
#endif
#else
#error "cuda/ptx_wrappers.cuh is compiled by nvcc or by the emulator (define CUEMU)"
#endif

/// DYNAMIC_SHARED(T, name) declares `T* name` pointing at the block's dynamic
/// shared memory (the size given at launch), 16-byte aligned. Under nvcc it
/// is `extern __shared__`; the emulator poisons it with 0xFF bytes before
/// each block.
#if defined(CUEMU)
#define DYNAMIC_SHARED(T, name) T* name = ::cuemu::dynamic_shared<T>()
#else
#define DYNAMIC_SHARED(T, name)                                 \
  extern __shared__ __align__(16) unsigned char rwkv_dyn_smem_[]; \
  T* name = reinterpret_cast<T*>(rwkv_dyn_smem_)
#endif

/// rwkv_kernel_launches counts the kernels RWKV_LAUNCH has issued on the
/// calling thread (librwkvcu's launchers read it to count the kernel
/// launches of each context).
inline thread_local unsigned long long rwkv_kernel_launches = 0;

/// RWKV_LAUNCH(kernel, grid, block, shmem, stream)(args...) launches a
/// kernel: `kernel<<<grid, block, shmem, stream>>>(args...)` under nvcc, and
/// counts it in rwkv_kernel_launches. It is an expression statement; portable
/// host code checks cudaGetLastError() for the launch status. A template
/// kernel with several template arguments must be named through a function
/// pointer variable.
#if defined(CUEMU)
#define RWKV_LAUNCH(kernel, grid, block, shmem, stream) \
  (void)++rwkv_kernel_launches, ::cuemu::launcher(kernel, grid, block, shmem, stream)
#else
#define RWKV_LAUNCH(kernel, grid, block, shmem, stream) \
  (void)++rwkv_kernel_launches, kernel<<<grid, block, shmem, stream>>>
#endif

#if !defined(CUEMU)
/// rwkv_smem_addr converts a generic pointer into shared memory to the
/// 32-bit shared-window address PTX instructions take.
__device__ __forceinline__ uint32_t rwkv_smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
#endif

/// rwkv_mma_m16n8k16_f16 is mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32:
/// d = a*b + c for fp16 A (16x16) and B (16x8) with fp32 C/D (16x8), a warp
/// collective of all 32 lanes. d may alias c.
__device__ __forceinline__ void rwkv_mma_m16n8k16_f16(float d[4], const uint32_t a[4], const uint32_t b[2],
                                                      const float c[4]) {
#if defined(CUEMU)
  ::cuemu::warp::mma_m16n8k16<false>(CUEMU_SITE("mma.sync.m16n8k16.f16"), d, a, b, c);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%10, %11, %12, %13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]));
#endif
}

/// rwkv_mma_m16n8k16_bf16 is mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
/// (same layouts as the fp16 form).
__device__ __forceinline__ void rwkv_mma_m16n8k16_bf16(float d[4], const uint32_t a[4], const uint32_t b[2],
                                                       const float c[4]) {
#if defined(CUEMU)
  ::cuemu::warp::mma_m16n8k16<true>(CUEMU_SITE("mma.sync.m16n8k16.bf16"), d, a, b, c);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%10, %11, %12, %13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]));
#endif
}

/// rwkv_ldmatrix_x1, _x2, _x4 are ldmatrix.sync.aligned.m8n8.{x1,x2,x4}.shared.b16:
/// lane 8*m + j passes the 16-byte-aligned shared-memory address of row j of
/// 8x8 matrix m (lanes beyond the matrices pass any address); lane l receives
/// in r[m] the elements (l/4, 2*(l%4)) and (l/4, 2*(l%4)+1) of matrix m.
/// The _trans forms deliver the transposed matrices.
__device__ __forceinline__ void rwkv_ldmatrix_x1(uint32_t r[1], const void* smem_row) {
#if defined(CUEMU)
  ::cuemu::warp::ldmatrix<1, false>(CUEMU_SITE("ldmatrix.x1"), r, smem_row);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(rwkv_smem_addr(smem_row)));
#endif
}
__device__ __forceinline__ void rwkv_ldmatrix_x2(uint32_t r[2], const void* smem_row) {
#if defined(CUEMU)
  ::cuemu::warp::ldmatrix<2, false>(CUEMU_SITE("ldmatrix.x2"), r, smem_row);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(rwkv_smem_addr(smem_row)));
#endif
}
__device__ __forceinline__ void rwkv_ldmatrix_x4(uint32_t r[4], const void* smem_row) {
#if defined(CUEMU)
  ::cuemu::warp::ldmatrix<4, false>(CUEMU_SITE("ldmatrix.x4"), r, smem_row);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(rwkv_smem_addr(smem_row)));
#endif
}
__device__ __forceinline__ void rwkv_ldmatrix_x1_trans(uint32_t r[1], const void* smem_row) {
#if defined(CUEMU)
  ::cuemu::warp::ldmatrix<1, true>(CUEMU_SITE("ldmatrix.x1.trans"), r, smem_row);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n"
               : "=r"(r[0])
               : "r"(rwkv_smem_addr(smem_row)));
#endif
}
__device__ __forceinline__ void rwkv_ldmatrix_x2_trans(uint32_t r[2], const void* smem_row) {
#if defined(CUEMU)
  ::cuemu::warp::ldmatrix<2, true>(CUEMU_SITE("ldmatrix.x2.trans"), r, smem_row);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(rwkv_smem_addr(smem_row)));
#endif
}
__device__ __forceinline__ void rwkv_ldmatrix_x4_trans(uint32_t r[4], const void* smem_row) {
#if defined(CUEMU)
  ::cuemu::warp::ldmatrix<4, true>(CUEMU_SITE("ldmatrix.x4.trans"), r, smem_row);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(rwkv_smem_addr(smem_row)));
#endif
}

/// rwkv_cp_async_ca<Bytes> is cp.async.ca.shared.global of 4, 8 or 16 bytes
/// from global src to shared dst (both aligned to Bytes). The copy completes
/// at rwkv_cp_async_wait / rwkv_cp_async_wait_all.
template <int Bytes>
__device__ __forceinline__ void rwkv_cp_async_ca(void* smem_dst, const void* gmem_src) {
  static_assert(Bytes == 4 || Bytes == 8 || Bytes == 16, "cp.async.ca copies 4, 8 or 16 bytes");
#if defined(CUEMU)
  ::cuemu::warp::cp_async<Bytes>(CUEMU_SITE("cp.async.ca"), smem_dst, gmem_src);
#else
  asm volatile("cp.async.ca.shared.global [%0], [%1], %2;\n" ::"r"(rwkv_smem_addr(smem_dst)), "l"(gmem_src),
               "n"(Bytes)
               : "memory");
#endif
}

/// rwkv_cp_async_ca_zfill<Bytes> is cp.async.ca with a source size: only
/// src_bytes (0..Bytes) are read and the rest of the Bytes is zero-filled,
/// for tiles that overhang the end of an array.
template <int Bytes>
__device__ __forceinline__ void rwkv_cp_async_ca_zfill(void* smem_dst, const void* gmem_src, int src_bytes) {
  static_assert(Bytes == 4 || Bytes == 8 || Bytes == 16, "cp.async.ca copies 4, 8 or 16 bytes");
#if defined(CUEMU)
  ::cuemu::warp::cp_async<Bytes>(CUEMU_SITE("cp.async.ca"), smem_dst, gmem_src, src_bytes);
#else
  asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" ::"r"(rwkv_smem_addr(smem_dst)), "l"(gmem_src),
               "n"(Bytes), "r"(src_bytes)
               : "memory");
#endif
}

/// rwkv_cp_async_cg16 is cp.async.cg.shared.global of 16 bytes (bypassing L1).
__device__ __forceinline__ void rwkv_cp_async_cg16(void* smem_dst, const void* gmem_src) {
#if defined(CUEMU)
  ::cuemu::warp::cp_async<16>(CUEMU_SITE("cp.async.cg"), smem_dst, gmem_src);
#else
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(rwkv_smem_addr(smem_dst)), "l"(gmem_src)
               : "memory");
#endif
}

/// rwkv_cp_async_commit is cp.async.commit_group: it closes the group of
/// copies issued since the previous commit.
__device__ __forceinline__ void rwkv_cp_async_commit() {
#if defined(CUEMU)
  ::cuemu::warp::cp_async_commit();
#else
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

/// rwkv_cp_async_wait<N> is cp.async.wait_group N: it waits until at most
/// the N most recent committed groups are still in flight. Other threads'
/// copies need a __syncthreads() afterwards to become visible.
template <int N>
__device__ __forceinline__ void rwkv_cp_async_wait() {
  static_assert(N >= 0 && N <= 7, "wait_group takes 0..7");
#if defined(CUEMU)
  ::cuemu::warp::cp_async_wait(N);
#else
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

/// rwkv_cp_async_wait_all is cp.async.wait_all: commit, then wait for every copy.
__device__ __forceinline__ void rwkv_cp_async_wait_all() {
#if defined(CUEMU)
  ::cuemu::warp::cp_async_wait_all();
#else
  asm volatile("cp.async.wait_all;\n" ::: "memory");
#endif
}
