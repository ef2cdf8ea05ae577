// Matrix products of rwkvgo's CUDA backend.
#pragma once

#include <stdint.h>

#include "common.cuh"

/// out[t*ldo + r] = sum_i x[t*ldx + i] * W(r, i) for t < n, r < o; W is [o, k]
/// row-major of type wdtype (RWKVCU_F32/F16/BF16/I8; an I8 value is
/// q * wscale[r]); float32 accumulation.
cudaError_t rwkvcu_launch_matmul(cudaStream_t s, float* out, int64_t ldo, const float* x, int64_t ldx, const void* w,
                                 int32_t wdtype, const float* wscale, int64_t n, int64_t o, int64_t k);

/// out[t*ldo + c] = sum_i x[t*ldx + i] * WT(i, c) for t < n, c < o; WT is [k, o]
/// row-major (a transposed weight; an I8 value is q * wscale[i]); zero x
/// entries contribute nothing; each output accumulates over i in increasing
/// order.
cudaError_t rwkvcu_launch_matmul_t(cudaStream_t s, float* out, int64_t ldo, const float* x, int64_t ldx,
                                   const void* wt, int32_t wdtype, const float* wscale, int64_t n, int64_t k,
                                   int64_t o);
