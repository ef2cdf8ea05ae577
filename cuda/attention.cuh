// Launcher of the benchmarks' attention kernel (cuda/attention.cu); it does
// not validate shapes: csrc/bench/bench.cu does, before calling it.
#pragma once

#include <stdint.h>

#include "common.cuh"

/// Causal attention of rows at positions pos.. (q, out [n, C]) over the
/// caches kc, vc [L, C] (already holding the step's keys and values).
cudaError_t rwkvcu_launch_attention(cudaStream_t s, float* out, const float* q, const float* kc, const float* vc,
                                    int64_t n, int64_t C, int64_t pos, int32_t heads);
