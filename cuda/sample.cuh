// Fused sampler: device-side equivalent of rwkvgo's sampler package
// (sampler/) for the stages that run on the GPU.
//
// One block per row of a logits tensor [rows, V] turns the row into a token
// id in a few streaming passes over the vocabulary, without sorting:
//
//   penalties -> logit bias -> temperature -> top-k -> top-p -> min-p -> draw
//
// with the penalty state (decayed occurrence counts) kept on the device and
// updated with the drawn token. The semantics are those of sampler.Sampler
// with Config.Order = DefaultOrder, PenaltyWindow = 0 (the whole history),
// NoRepeatNGram = 0 and Typical = 1; those three settings are not available
// on the device. See sample.cu for the numerical contract.
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>

/// Per-row sampler settings (host layout = device layout, 48 bytes).
///   temperature          0 (or not > 0): greedy argmax, lowest id on ties;
///                        else logits are divided by it. Neutral 1.
///   top_k                keep logits >= the k-th largest; <= 0 disables.
///   top_p                nucleus mass in (0, 1]; >= 1 disables.
///   min_p                keep p >= min_p * p_max; <= 0 disables (clamped to 1).
///   repetition_penalty   CTRL / Hugging Face; 1 disables. Must be > 0.
///   presence_penalty     subtracted from the logit of every present token.
///   frequency_penalty    times the decayed count, subtracted from the logit.
///   penalty_decay        per-token decay of the counts, in (0, 1]; 1: plain counts.
///   seed, seq            Philox4x32-10 key and sequence id (counter words 2, 3).
struct rwkvcu_sample_row {
  float temperature;
  int32_t top_k;
  float top_p, min_p, repetition_penalty, presence_penalty, frequency_penalty, penalty_decay;
  uint64_t seed, seq;
};

/// Largest vocabulary the sampler accepts (the fixed-point probability sums
/// of sample.cu are sized for it).
#define RWKVCU_SAMPLE_MAX_VOCAB (1 << 20)

/// rwkvcu_launch_sample samples one token per row.
///
///   logits    [rows, V] fp32, row-major (device)
///   d_rows    [rows] settings (device)
///   d_counts  [rows, V] decayed occurrence counts (device, read and updated):
///             counts[row*V + id] is sum over past tokens j == id of
///             decay^(tokens since j), as sampler.DecayedCounts; a token is
///             present in the history iff its count is > 0.
///   d_bias    [rows, V] additive logit bias, -INFINITY bans; NULL for none
///   step      Philox counter (sampler: the 0-based index of the token drawn)
///   d_tokens  [rows] out: the token id, -1 when every logit is filtered out
///   d_probs   [rows] out: its probability in the final filtered distribution
///             (1 for greedy rows, 0 for -1); NULL to skip
///
/// After the draw every count of the row is multiplied by penalty_decay and
/// the drawn token's count is incremented by 1 (rows that produce -1 are left
/// unchanged). Rows are independent: different settings per row are fine.
/// Returns cudaSuccess, cudaErrorInvalidValue for a bad shape or NULL
/// pointer (nothing launched), or the launch error. Asynchronous on s.
cudaError_t rwkvcu_launch_sample(cudaStream_t s, const float* logits, int32_t rows, int32_t V,
                                 const rwkvcu_sample_row* d_rows, float* d_counts, const float* d_bias,
                                 uint64_t step, int32_t* d_tokens, float* d_probs);

/// rwkvcu_launch_sample_observe records n tokens (a prompt, oldest first,
/// device array) into row `row` of d_counts [rows, V] with the rule of
/// rwkvcu_launch_sample: for each token, every count is multiplied by decay,
/// then the token's count is incremented by 1. Ids outside [0, V) only
/// decay the counts. Returns cudaSuccess, cudaErrorInvalidValue or the
/// launch error. Asynchronous on s.
cudaError_t rwkvcu_launch_sample_observe(cudaStream_t s, float* d_counts, int32_t V, int32_t row,
                                         const int32_t* d_tokens, int32_t n, float decay);
