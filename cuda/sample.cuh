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

// ---- Device-resident decode loop -------------------------------------------
//
// A decode loop keeps each sequence's next input token on the device: the
// embedding reads it (rwkvcu_launch_embed on `ids`), the loop's sampler
// (rwkvcu_launch_sample_loop) draws the next one into the same buffer,
// checks the sequence's stop ids and token budget on the device, and writes
// one 16-byte entry per row into a ring in mapped pinned host memory, where
// the host reads it once the launch's event has completed: no logits, no
// copy and no synchronization per step. A "launch" is one decode step (or
// one admission draw): rwkvcu_launch_decode_begin starts it (the launch
// counter, and the step's batch of state slots), the loop sampler ends it.

/// The most stop ids a decode row checks on the device, and the flags of a
/// ring entry (rwkvcu_decode_entry.flags); the same definitions as rwkvcu.h.
#define RWKVCU_DECODE_MAX_STOP 16
#define RWKVCU_DECODE_MAX_TOP 20
#define RWKVCU_DECODE_DONE 1     /* the row finished with this draw */
#define RWKVCU_DECODE_STOP 2     /* the token is one of the row's stop ids */
#define RWKVCU_DECODE_NO_TOKEN 4 /* every token was filtered out (token -1) */
#define RWKVCU_DECODE_IDLE 8     /* the row drew nothing in this launch */

/// Per-row state of a decode loop (host layout = device layout, 96 bytes).
///   slot       state slot of the sequence; -1: the row is idle
///   done       set by the loop sampler when the row finishes; an idle row's
///              steps leave its state untouched (its batch slot is -1)
///   remaining  tokens the row may still draw (>= 1 while active)
///   logprobs   1: compute each drawn token's log-probability under the
///              model (log-softmax of the raw logits)
///   step       Philox counter of the row's next draw (the 0-based index of
///              the token it draws), incremented by every draw
///   stop       the row's stop ids (nstop of them)
///   biased     1: the row reads its logit bias (the sampler's bias array)
///   top        with logprobs: the number of most likely tokens to list
///              with their log-probabilities (<= RWKVCU_DECODE_MAX_TOP)
struct rwkvcu_decode_row {
  int32_t slot, done, remaining, logprobs;
  uint64_t step;
  int32_t nstop;
  int32_t stop[RWKVCU_DECODE_MAX_STOP];
  int32_t biased;
  int32_t top;
};

/// One alternative of a row's top list (rwkvcu_decode_row.top).
struct rwkvcu_decode_top {
  int32_t token;  // -1: none (fewer finite logits than the list)
  float logprob;
};

/// One row of a ring entry (16 bytes): what launch `launch` (its low 32
/// bits) drew for the row. An entry whose launch differs from the one read
/// belongs to an older launch: the row drew nothing in the one read.
struct rwkvcu_decode_entry {
  int32_t token;
  uint32_t flags;
  float logprob;  // the model log-probability (rows with logprobs), else 0
  uint32_t launch;
};

/// The decode-loop arguments of the loop sampler.
///   map      [logits rows] decoder row of each logits row (-1: none), or
///            NULL: logits row i is decoder row i
///   rows     [R] decoder rows (read and updated)
///   ids      [R] next input ids (written for each drawn token)
///   ring     [depth][R] entries, device address of the mapped host ring
///   counter  launches begun; the current launch is *counter - 1
///   top      [depth][R][RWKVCU_DECODE_MAX_TOP] top lists, device address
///            of the mapped host ring (written for rows with top > 0)
struct rwkvcu_sample_loop {
  const int32_t* map;
  rwkvcu_decode_row* rows;
  int32_t* ids;
  rwkvcu_decode_entry* ring;
  const uint32_t* counter;
  int32_t R, depth;
  rwkvcu_decode_top* top;
};

/// rwkvcu_launch_sample_loop samples logits rows [0, rows) like
/// rwkvcu_launch_sample (a row reads d_bias only when its decoder row is
/// biased), for decoder rows (sampler rows) given by loop.map,
/// each at its own step (loop.rows[r].step): an idle row (done, or slot -1)
/// draws nothing and gets an entry flagged RWKVCU_DECODE_IDLE; an active row
/// draws its token, records it in its penalty state, stores it in ids,
/// advances step, uses one token of its budget, and is done when the token
/// is a stop id, when its budget is spent, or when nothing survives the
/// filters (token -1, state unchanged). Its entry carries the token, the
/// flags and, with logprobs, the token's model log-probability.
cudaError_t rwkvcu_launch_sample_loop(cudaStream_t s, const float* logits, int32_t rows, int32_t V,
                                      const rwkvcu_sample_row* d_rows, float* d_counts, const float* d_bias,
                                      rwkvcu_sample_loop loop);

/// rwkvcu_launch_decode_begin begins a launch of a decode loop: increments
/// *counter and, with batch_slots, writes the state slot of decoder rows
/// [0, n) into it (-1 for an idle row, whose state the step's operations
/// then skip). One block.
cudaError_t rwkvcu_launch_decode_begin(cudaStream_t s, const rwkvcu_decode_row* rows, int32_t n, int32_t* batch_slots,
                                       uint32_t* counter);
