// Launchers of rwkvgo's CUDA kernels other than the matrix products
// (matmul.cuh) and the sampler (sample.cuh). Each queues its kernel(s) on
// stream s and returns the launch status (cudaSuccess, or the error of an
// invalid configuration); they do not validate shapes: csrc/ops.cu does,
// before calling them. All activations and states are float32, row-major,
// rows of `cols` contiguous floats. "[1|N, C]" is a vector broadcast over
// rows (brows == 1) or one row per token.
//
// Batches: sequence i of nseq owns rows [offsets[i], offsets[i+1]) and state
// row slots[i]; `batch` is a device array of 2*nseq+1 int32 holding offsets
// (nseq+1) followed by slots (nseq). Kernels skip a sequence whose slot is
// outside [0, nslots) or whose rows are outside [0, n), so a bad replayed
// batch cannot write out of bounds.
#pragma once

#include <stdint.h>

#include "common.cuh"

/// out[i, :] = emb[tokens[i], :] for i < n; emb [V, C] of type dtype (kI8:
/// with one scale per row); ids outside [0, V) give a zero row.
cudaError_t rwkvcu_launch_embed(cudaStream_t s, float* out, const void* emb, int32_t dtype, const float* scales,
                                int64_t V, int64_t C, const int32_t* tokens, int64_t n);

/// GroupNorm (LayerNorm is groups == 1) of x [rows, cols] into out (may
/// alias x): each group of cols/groups values is normalised with its mean and
/// biased variance (two passes, float32 sums), then *w + b ([1, cols]).
cudaError_t rwkvcu_launch_group_norm(cudaStream_t s, float* out, const float* x, const float* w, const float* b,
                                     int64_t rows, int64_t cols, int32_t groups, float eps);

/// out = f(x) for n elements (f an RWKVCU_SIGMOID ... value); out may alias x.
cudaError_t rwkvcu_launch_map(cudaStream_t s, float* out, const float* x, int64_t n, int32_t fn);

/// out = f(a, b) for [rows, cols]; b has brows (1 or rows) rows; out may alias a.
cudaError_t rwkvcu_launch_zip(cudaStream_t s, float* out, const float* a, const float* b, int64_t rows,
                              int64_t cols, int64_t brows, int32_t fn);

/// out [rows, ocols] = columns [col, col+ocols) of x [rows, xcols].
cudaError_t rwkvcu_launch_slice(cudaStream_t s, float* out, const float* x, int64_t rows, int64_t xcols,
                                int64_t ocols, int64_t col);

/// out[i, :] = x[idx[i], :] for i < n; x has xrows rows (ids outside give zeros).
cudaError_t rwkvcu_launch_gather_rows(cudaStream_t s, float* out, const float* x, int64_t xrows, int64_t cols,
                                      const int32_t* idx, int64_t n);

/// Token shift of x [n, C] into prev [n, C] with the state at
/// state[slot*width + off ..] (see backend.Backend.Shift).
cudaError_t rwkvcu_launch_shift(cudaStream_t s, float* prev, const float* x, float* state, int64_t width,
                                int64_t nslots, int64_t off, int64_t n, int64_t C, const int32_t* batch,
                                int32_t nseq);

/// Token-shift interpolation of x and prev [n, C] with mix [mrows, C]
/// (mrows 1 or n); style RWKVCU_MIX_LERP or RWKVCU_MIX_DELTA.
cudaError_t rwkvcu_launch_mix(cudaStream_t s, float* out, const float* x, const float* prev, const float* mix,
                              int64_t n, int64_t C, int64_t mrows, int32_t style);

/// count (1 to RWKVCU_MIX_N_MAX) token-shift interpolations of the same x and
/// prev [n, C] in one launch: outs[j] [n, C] = rwkvcu_launch_mix's result for
/// mixes[j] with mrows[j] (1 or n) rows, bit for bit. The host arrays outs,
/// mixes and mrows are read before the call returns; no output may alias x,
/// prev, a mix or another output.
cudaError_t rwkvcu_launch_mix_n(cudaStream_t s, float* const* outs, const float* x, const float* prev,
                                const float* const* mixes, const int64_t* mrows, int32_t count, int64_t n, int64_t C,
                                int32_t style);

/// RWKV-4 WKV over k, v [n, C] with w, u [1, C]; state row: aa, bb, pp at
/// off, off+C, off+2C.
cudaError_t rwkvcu_launch_wkv4(cudaStream_t s, float* out, const float* k, const float* v, const float* w,
                               const float* u, float* state, int64_t width, int64_t nslots, int64_t off, int64_t n,
                               int64_t C, const int32_t* batch, int32_t nseq);

/// RWKV-5/6 WKV, heads of size N = C/heads (N <= 128), state S[h][key][value]
/// at state[slot*width + off + h*N*N]; w has wrows (1 or n) rows.
cudaError_t rwkvcu_launch_wkv5(cudaStream_t s, float* out, const float* r, const float* k, const float* v,
                               const float* w, int64_t wrows, const float* u, float* state, int64_t width,
                               int64_t nslots, int64_t off, int64_t n, int64_t C, int32_t heads,
                               const int32_t* batch, int32_t nseq);

/// RWKV-7 WKV, heads of size N = C/heads (N <= 128), state S[h][value][key].
cudaError_t rwkvcu_launch_wkv7(cudaStream_t s, float* out, const float* r, const float* w, const float* k,
                               const float* v, const float* kk, const float* a, float* state, int64_t width,
                               int64_t nslots, int64_t off, int64_t n, int64_t C, int32_t heads,
                               const int32_t* batch, int32_t nseq);

/// RWKV-7 key preprocessing over [n, C]: kk = l2norm_head(k*kK), k *= 1+(a-1)*kA.
cudaError_t rwkvcu_launch_key_v7(cudaStream_t s, float* kk, float* k, const float* a, const float* kK,
                                 const float* kA, int64_t n, int64_t C, int32_t heads);

/// RWKV-7 value residual over [n, C]: v += (first-v)*sigmoid(gate).
cudaError_t rwkvcu_launch_value_v7(cudaStream_t s, float* v, const float* first, const float* gate, int64_t n);

/// RWKV-7 bonus over [n, C]: out += sum_head(r*k*rK) * v.
cudaError_t rwkvcu_launch_bonus_v7(cudaStream_t s, float* out, const float* r, const float* k, const float* v,
                                   const float* rK, int64_t n, int64_t C, int32_t heads);
