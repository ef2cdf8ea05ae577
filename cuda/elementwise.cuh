// cuda/elementwise.cuh: the elementwise functions of rwkvgo's backend.Unary
// (RWKVCU_SIGMOID ... RWKVCU_V7_DECAY), shared by every kernel that applies
// one (rwkvcu_map, rwkvcu_zip_map, rwkvcu_value_v7, the epilogues of
// rwkvcu_matmul_group), so that they all give the same bits. The accurate
// expf/tanhf are used, never the fast-math intrinsics.
//
// Compiled by nvcc and by the CPU emulator (cuda/emu) alike.
#pragma once

#include <cuda_runtime.h>

/// rwkv_sigmoid is 1 / (1 + exp(-x)).
__device__ __forceinline__ float rwkv_sigmoid(float x) { return 1.f / (1.f + expf(-x)); }

/// rwkv_unary is the elementwise function FN (an RWKVCU_SIGMOID ... value).
template <int FN>
__device__ __forceinline__ float rwkv_unary(float v) {
  if constexpr (FN == 0) return rwkv_sigmoid(v);
  else if constexpr (FN == 1) return tanhf(v);
  else if constexpr (FN == 2) return v * rwkv_sigmoid(v);
  else if constexpr (FN == 3) return v > 0.f ? v * v : 0.f;
  else if constexpr (FN == 4) return expf(-expf(v));
  else return expf(-0.6065306597126334f * rwkv_sigmoid(v));
}

/// rwkv_unary_fn is rwkv_unary<fn> for a function chosen at run time; an
/// fn outside [0, 5] leaves v as it is.
__device__ __forceinline__ float rwkv_unary_fn(int fn, float v) {
  switch (fn) {
    case 0: return rwkv_unary<0>(v);
    case 1: return rwkv_unary<1>(v);
    case 2: return rwkv_unary<2>(v);
    case 3: return rwkv_unary<3>(v);
    case 4: return rwkv_unary<4>(v);
    case 5: return rwkv_unary<5>(v);
    default: return v;
  }
}

/// rwkv_lerp is x + (to - x) * s with each operation rounded to float (no
/// fused multiply-add, like the reference backend): RWKV-7's value residual
/// (rwkvcu_value_v7, s = sigmoid(gate)) and the Lerp epilogue of
/// rwkvcu_matmul_group.
__device__ __forceinline__ float rwkv_lerp(float x, float to, float s) { return __fadd_rn(x, __fmul_rn(to - x, s)); }
