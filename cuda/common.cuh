// Shared device helpers of rwkvgo's CUDA kernels: element loads for every
// weight type, warp and block reductions, and launch-size helpers.
//
// Compiled by nvcc for the GPU and by a C++20 compiler with cuda/emu/include
// first on the include path for the CPU emulator (CUEMU defined).
#pragma once

#include <stdint.h>

#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "fp8.cuh"
#include "ptx_wrappers.cuh"
#include "qblock.cuh"

/// Element types of weight tensors (the values of rwkvcu.h's RWKVCU_F32 ...).
enum rwkvcu_dtype_id : int32_t { kF32 = 0, kF16 = 1, kBF16 = 2, kI8 = 3, kF8E4M3 = 4 };

/// rwkvcu_check_launch returns the error of the launch just issued (and
/// clears it), so that launchers report a bad configuration as a status.
inline cudaError_t rwkvcu_check_launch() { return cudaGetLastError(); }

/// rwkvcu_ceil_div is ceil(a / b) for positive b.
__host__ __device__ inline int64_t rwkvcu_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// load_elem returns element i of an array of type DT as float; for kI8 and
/// kF8E4M3 the value is q * scale[row] (q the code's exact value).
template <int DT>
__device__ __forceinline__ float load_elem(const void* p, int64_t i, const float* scales, int64_t row) {
  if constexpr (DT == kF32) {
    return static_cast<const float*>(p)[i];
  } else if constexpr (DT == kF16) {
    return __half2float(static_cast<const __half*>(p)[i]);
  } else if constexpr (DT == kBF16) {
    return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
  } else if constexpr (DT == kF8E4M3) {
    return rwkv_e4m3_to_float(static_cast<const uint8_t*>(p)[i]) * scales[row];
  } else {
    return static_cast<float>(static_cast<const int8_t*>(p)[i]) * scales[row];
  }
}

/// warp_sum returns the sum of v over the 32 lanes of a full warp (every
/// lane gets the result). The blocks using it have a multiple of 32 threads.
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

/// warp_max is warp_sum with max.
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

/// block_sum returns the sum of v over the block (blockDim.x a multiple of
/// 32, at most 1024) to every thread. red is 32 floats of shared memory; the
/// call synchronizes twice, so consecutive calls may reuse red.
__device__ __forceinline__ float block_sum(float v, float* red) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_sum(v);
  if (lane == 0) red[warp] = v;
  __syncthreads();
  float t = lane < nwarps ? red[lane] : 0.f;
  t = warp_sum(t);
  __syncthreads();
  return t;
}
