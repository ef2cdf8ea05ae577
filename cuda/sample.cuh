// Device side of the fused sampler (rwkvcu_sampler in csrc/rwkvcu.cu).
#pragma once

#include <stdint.h>

#include "common.cuh"

/// Settings of one sampled row (host-side plain struct, copied to the device
/// as an array; not part of the C ABI). The semantics are those of rwkvgo's
/// sampler package; the penalty window is the whole history (decayed counts).
struct rwkvcu_sample_row {
  float temperature;  // 0: greedy
  int32_t top_k;      // 0: off
  float top_p, min_p, repetition_penalty, presence_penalty, frequency_penalty, penalty_decay;
  uint64_t seed, seq;  // Philox key and stream of the row
};

/// Samples each of rows rows of logits [rows, V] at step `step`: applies the
/// additive bias d_bias [rows, V] (may be NULL), the penalties from d_counts
/// [rows, V] (decayed occurrence counts), temperature, top-k, top-p, min-p,
/// draws with Philox4x32-10, records the drawn token in d_counts (decay then
/// +1), and writes d_tokens [rows] (and d_probs [rows] if not NULL).
cudaError_t rwkvcu_launch_sample(cudaStream_t s, const float* logits, int32_t rows, int32_t V,
                                 const rwkvcu_sample_row* d_rows, float* d_counts, const float* d_bias, uint64_t step,
                                 int32_t* d_tokens, float* d_probs);

/// Records the n tokens d_tokens of row `row` in d_counts [.., V]: for each
/// token, all counts of the row are multiplied by decay, then the token's
/// count is incremented.
cudaError_t rwkvcu_launch_sample_observe(cudaStream_t s, float* d_counts, int32_t V, int32_t row,
                                         const int32_t* d_tokens, int32_t n, float decay);
