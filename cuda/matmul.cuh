// cuda/matmul.cuh: matrix products of fp32 activations with fp32, fp16, bf16,
// int8 or fp8 (e4m3) weights, with fp32 accumulation (implemented in
// cuda/matmul.cu).
//
// Both entry points take device pointers, queue their work on stream s, and
// return cudaSuccess or the launch error (cudaErrorInvalidValue, launching
// nothing, for a NULL pointer, an unknown dtype, ldx < k, ldo < o or a
// negative size). n, o or k equal to 0 is a no-op (k == 0 writes zeros).
// They never abort or print. Rows of the weight are contiguous; rows of x and
// out have strides ldx and ldo (in elements). Any sizes, strides and
// alignments are accepted: vector loads are used only where the pointers and
// strides allow them (checked at launch), scalar forms otherwise.
//
// Weight element types (the values of csrc/include/rwkvcu.h):
//   0 F32, 1 F16, 2 BF16, 3 I8 (element value = q * wscale[row of the stored
//   weight]; wscale is only read, and must be non-NULL, for I8 and F8E4M3),
//   4 F8E4M3 (OCP E4M3FN codes, element value = e4m3(q) * wscale[row]; the
//   code is decoded exactly: by the hardware on sm_89 and later, by integer
//   operations elsewhere and in the emulator, with the same bits).
//   5 Q4_0, 6 Q4_1, 7 Q5_0, 8 Q5_1, 9 Q8_0: ggml's 32-element blocks in the
//   bytes of an rwkv.cpp file (cuda/qblock.cuh), decoded exactly in
//   registers; plain products only (matmul, GEMV and SIMT, and the group),
//   k % 32 == 0 and w 2-byte aligned (else cudaErrorInvalidValue). GEMV
//   reads runs of 8 elements per thread (16-bit loads: the header and 8
//   code bytes, 4 for the 4- and 5-bit types), 2 rows per block.
//
// Kernels and launch heuristics (n tokens, o outputs, k reduction length):
//   rwkvcu_launch_matmul:
//     n <= 8                    GEMV: a block of 4 warps per 4 weight rows
//                               (2 for I8/F8E4M3 and the block types, and 2
//                               when 4-row blocks would be fewer than 2 per
//                               SM of a 132-SM GPU) and up to 8 tokens, split
//                               over k inside the block; each thread has 8
//                               independent 16-byte weight loads in flight
//                               (block types: runs of 8 elements by 16-bit
//                               loads, one run per row at a time).
//     n > 8, F16/BF16, weight   TC: tensor-core GEMM, 64x128x32 tiles,
//       rows 16-byte aligned    cp.async double buffering, ldmatrix,
//       (k % 8 == 0)            mma.sync m16n8k16 on split activations.
//     otherwise                 SIMT: fp32 FMA GEMM, 64x128x16 tiles.
//   The cutoff: up to 8 tokens (decode batches of 1..8) the GEMV reads each
//   weight element once for all tokens and fills the SMs by rows; above 8
//   the tiled kernels (tensor cores for F16/BF16). With a scratch
//   (rwkvcu_launch_matmul_scratch) the tiled kernels split k (split-K, up
//   to 16 splits, each at least 4 k-steps) while the tiles are fewer than
//   about 2 per SM of a 132-SM GPU: a batch of 9..64 tokens is one row of
//   tiles (a 768-wide product: 6 tiles, 36 blocks split 6 ways).
//   rwkvcu_launch_matmul_t:
//     n <= 8                    SPARSE_T: column strips, 16 warps per strip
//                               splitting the rows of WT; only the rows
//                               whose x entry is non-zero (for some token of
//                               the block) are read. With a scratch
//                               (rwkvcu_launch_matmul_t_scratch) the rows
//                               are also split
//                               over up to 64 blocks per strip so that the
//                               grid has about 2 blocks per SM of a 132-SM
//                               GPU; the strip's last block adds the
//                               partial sums in split order (one launch).
//     n > 8, F16/BF16, o % 8 == 0 and WT 16-byte aligned: TC (transposed).
//     otherwise                 SIMT (transposed).
//
// Numerical contract (u = 2^-24, the fp32 unit roundoff):
//   * Products of an fp32 x with a weight element are formed exactly (fp32
//     FMA, or exact 16-bit tensor-core products) and summed in fp32; the
//     result for one output is deterministic (independent of scheduling;
//     no atomics) for a given kernel and shape.
//   * GEMV sums each thread's terms in k order, then the lanes by a
//     shuffle tree and the 4 warps in order: error <= (k/(128*V) + 8) u
//     sum|terms| to first order, V the elements per load (16 bytes' worth).
//     SPARSE_T sums each warp's rows in k order, the 16 warps in order and
//     the S row splits in order: error <= (k/(16 S) + 16 + S) u sum|terms|;
//     S depends only on the shape (and the scratch's size), so the result
//     is the same on every run.
//   * SIMT sums in k order: error <= k u sum|terms| (worst case; typically
//     sqrt(k) u).
//   * Split-K (SIMT, TC) sums each split as above and the S splits' partial
//     sums in split order (S additions more; the I8/F8E4M3 scale multiplies
//     each partial sum). S depends only on the shape and the scratch's size,
//     so a result is the same on every run.
//   * TC splits x into 16-bit terms so that the tensor cores see (almost)
//     the exact fp32 value:
//       F16 weights: per token t a power-of-two scale s_t puts max_i |x[t,i]|
//       into [2^14, 2^15); hi = f16(s_t x), lo = f16(s_t x - hi), two MMAs;
//       |s_t x - hi - lo| <= 2^-22 |s_t x| + 2^-25, i.e. the representation
//       error of each x is <= 2^-22 |x| + 2^-39 max_i |x[t,i]|.
//       BF16 weights: hi = bf16(x), mid = bf16(x - hi), lo = bf16(x - hi -
//       mid), three MMAs; the split is exact for |x| >= 2^-110.
//     The fp32 accumulation adds at most 2k (F16) or 3k (BF16) rounded terms
//     in sequence: error <= (2^-22 + 3k u) sum|terms| + 2^-39 max|x| sum|W|
//     (worst case; the test tolerance 1e-5 sum|terms| covers k <= 300 by the
//     usual sqrt(k) behaviour and the split bound by 40x). Real tensor cores
//     may round the accumulation in the last bit differently from IEEE.
//   * I8, F8E4M3: the per-row scale multiplies the sum of the exact code
//     values once (matmul) or each x entry once (matmul_t): one extra
//     rounding, relative u.
//   * Non-finite inputs propagate as in IEEE arithmetic, except that an
//     infinite x makes the whole token row of a TC F16 product NaN.
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>

// out[t*ldo + r] = sum_i x[t*ldx + i] * W(r, i) for t < n, r < o; W is [o, k]
// row-major (w points at o*k elements of type wdtype); float32 accumulation.
//   out    [n, ldo] float32, columns [0, o) written
//   x      [n, ldx] float32, columns [0, k) read
//   w      [o, k] weights; wscale [o] float32 for I8/F8E4M3 (else ignored, may be NULL)
cudaError_t rwkvcu_launch_matmul(cudaStream_t s, float* out, int64_t ldo, const float* x, int64_t ldx,
                                 const void* w, int32_t wdtype, const float* wscale, int64_t n, int64_t o,
                                 int64_t k);

// out[t*ldo + c] = sum_i x[t*ldx + i] * WT(i, c) for t < n, c < o; WT is
// [k, o] row-major (a transposed weight); zero x entries contribute nothing
// and, at decode sizes, their rows of WT are not read.
//   out    [n, ldo] float32, columns [0, o) written
//   x      [n, ldx] float32, columns [0, k) read
//   wt     [k, o] weights; wscale [k] float32 for I8/F8E4M3 (per row of WT)
cudaError_t rwkvcu_launch_matmul_t(cudaStream_t s, float* out, int64_t ldo, const float* x, int64_t ldx,
                                   const void* wt, int32_t wdtype, const float* wscale, int64_t n, int64_t k,
                                   int64_t o);

// Scratch of the split products (SPARSE_T row splits, tiled split-K), owned
// by the caller (allocated once, the tickets zeroed: each librwkvcu context
// allocates one with the context, csrc/context.cu, so rwkvcu_matmul and
// rwkvcu_matmul_t split, and its other last-block kernels take the same
// tickets) and used by one stream at a time: part holds part_floats floats
// of partial sums, tickets ntickets counters that every launch leaves at
// zero.
struct rwkvcu_mm_scratch {
  float* part;
  int64_t part_floats;
  unsigned* tickets;
  int64_t ntickets;
};

// The sizes of a scratch (the test harness's and the context's): 4 MiB of
// partial sums (a 4096-wide product of 64 tokens in 4 splits, of 8 tokens
// in 32) and 4096 tickets.
constexpr int64_t kMmScratchFloats = int64_t(1) << 20, kMmScratchTickets = 4096;
// The bytes of a context's scratch (one allocation, the tickets last).
constexpr size_t mm_scratch_bytes() { return size_t(kMmScratchFloats + kMmScratchTickets) * 4; }

// rwkvcu_launch_matmul_scratch is rwkvcu_launch_matmul that may split the
// reduction of a tiled product (SIMT, TC: n > 8) over several blocks per
// tile (split-K) when the tiles are too few to fill the GPU, through sc as
// below. sc NULL: no splits.
cudaError_t rwkvcu_launch_matmul_scratch(cudaStream_t s, float* out, int64_t ldo, const float* x, int64_t ldx,
                                         const void* w, int32_t wdtype, const float* wscale, int64_t n, int64_t o,
                                         int64_t k, const rwkvcu_mm_scratch* sc);

// rwkvcu_launch_matmul_t_scratch is rwkvcu_launch_matmul_t that may split
// the rows of WT of a SPARSE_T product over several blocks per column strip
// (so that decode-sized products fill the GPU; the splits' partial sums go
// through sc and are added in split order by the strip's last block, so the
// result is the same on every run), and the tiled products (n > 8) as
// rwkvcu_launch_matmul_scratch does. sc NULL: no splits.
cudaError_t rwkvcu_launch_matmul_t_scratch(cudaStream_t s, float* out, int64_t ldo, const float* x, int64_t ldx,
                                           const void* wt, int32_t wdtype, const float* wscale, int64_t n, int64_t k,
                                           int64_t o, const rwkvcu_mm_scratch* sc);

// ---- grouped products with epilogues (rwkvcu_matmul_group) ----------------

// The most products of one rwkvcu_launch_matmul_group call (RWKVCU_GROUP_MAX).
constexpr int kGroupMax = 8;

// One product of rwkvcu_launch_matmul_group: p = x @ W^T as
// rwkvcu_launch_matmul computes it for up to 8 tokens (its GEMV, with the
// same sums), x [n, k] and out [n, o] contiguous; then its epilogue, each
// operation rounded to float: p += bias when bias is not NULL (bias_rows 1:
// [1, o] broadcast over the tokens; n: [n, o]); p = f(p) for act an
// RWKVCU_SIGMOID ... value (-1, RWKVCU_NO_FUNCTION: none); out = p, or
// out += (lerp - out) * p when lerp is not NULL ([n, o]).
struct rwkvcu_group_product {
  float* out;
  const float* x;
  const void* w;  // [o, k] of wdtype
  int32_t wdtype;
  const float* wscale;  // [o] for I8
  const float* bias;
  int64_t bias_rows;
  int32_t act;
  const float* lerp;
  int64_t o, k;
};

// rwkvcu_launch_matmul_group queues count products (1 to kGroupMax) of n
// tokens each, read from the host array ps before it returns, as one kernel
// launch (one per 65535 chunks of tokens beyond): a grid of GEMV blocks
// covering every product's outputs for a chunk of up to 8 tokens each, or
// for n > 8 one weight row per block for a chunk of up to 64 tokens (each
// weight element read once per 64 tokens), every weight type and load form
// in the same launch. The chunks re-read the weights (from L2), so the
// group is meant for decode-sized n. No output
// may overlap another product's operands or its own x, w, bias or lerp (the
// caller checks). Returns cudaErrorInvalidValue, launching nothing, for a
// malformed product (NULL pointer, o < 1, k < 0, unknown dtype or act, I8
// without scales, bias_rows other than 1 or n).
cudaError_t rwkvcu_launch_matmul_group(cudaStream_t s, const rwkvcu_group_product* ps, int32_t count, int64_t n);

// ---- kernel selection (tests and benchmarks) ------------------------------

// Kernel families, for rwkvcu_launch_matmul_using.
#define RWKVCU_MM_AUTO 0     // the heuristics above
#define RWKVCU_MM_GEMV 1     // matmul only
#define RWKVCU_MM_SIMT 2     // both
#define RWKVCU_MM_TC 3       // both; F16/BF16 only, falls back to SIMT when misaligned
#define RWKVCU_MM_SPARSE_T 4 // matmul_t only

// Kernel variants actually launched (rwkvcu_matmul_last_variant).
#define RWKVCU_MMV_NONE 0
#define RWKVCU_MMV_GEMV_VEC 1      // 16-byte weight and x loads
#define RWKVCU_MMV_GEMV_VEC_XS 2   // 16-byte weight loads, scalar x loads
#define RWKVCU_MMV_GEMV_SCALAR 3   // scalar weight and x loads
// (The block types run GEMV_VEC when x allows float4 loads, GEMV_SCALAR
// otherwise; their weights are read with 16-bit loads in both.)
#define RWKVCU_MMV_SIMT 4
#define RWKVCU_MMV_SIMT_T 5
#define RWKVCU_MMV_TC_F16 6
#define RWKVCU_MMV_TC_BF16 7
#define RWKVCU_MMV_TC_T_F16 8
#define RWKVCU_MMV_TC_T_BF16 9
#define RWKVCU_MMV_SPARSE_T_VEC 10     // 4/8-byte weight loads
#define RWKVCU_MMV_SPARSE_T_SCALAR 11  // scalar weight loads
#define RWKVCU_MMV_COUNT 12

// rwkvcu_launch_matmul_using runs the product with a chosen kernel family:
// transposed = 0 is rwkvcu_launch_matmul, 1 is rwkvcu_launch_matmul_t (w is
// then WT [k, o]). A family that cannot run the product (GEMV for
// transposed, SPARSE_T for plain, TC for F32/I8) returns
// cudaErrorInvalidValue. GEMV and SPARSE_T handle any n (in chunks of 8
// tokens, re-reading the weight per chunk).
cudaError_t rwkvcu_launch_matmul_using(int32_t family, int32_t transposed, cudaStream_t s, float* out, int64_t ldo,
                                       const float* x, int64_t ldx, const void* w, int32_t wdtype,
                                       const float* wscale, int64_t n, int64_t o, int64_t k);

// rwkvcu_launch_matmul_using_scratch is rwkvcu_launch_matmul_using with
// the scratch of rwkvcu_launch_matmul_t_scratch (for SPARSE_T).
cudaError_t rwkvcu_launch_matmul_using_scratch(int32_t family, int32_t transposed, cudaStream_t s, float* out,
                                               int64_t ldo, const float* x, int64_t ldx, const void* w,
                                               int32_t wdtype, const float* wscale, int64_t n, int64_t o, int64_t k,
                                               const rwkvcu_mm_scratch* sc);

// rwkvcu_matmul_last_variant returns the RWKVCU_MMV_ variant of the last
// kernel launched by this host thread (RWKVCU_MMV_NONE before any).
int32_t rwkvcu_matmul_last_variant(void);

// rwkvcu_matmul_last_splits returns the row splits (blockIdx.z) of the last
// SPARSE_T launch of this host thread (0 before any).
int32_t rwkvcu_matmul_last_splits(void);
