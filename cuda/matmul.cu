// cuda/matmul.cu: the matrix-product kernels declared in cuda/matmul.cuh.
//
// Four kernels (see the header for the launch heuristics and the numerical
// contract):
//   gemv_kernel      decode-size x @ W^T: bandwidth-bound, 16-byte weight loads
//   simt_gemm_kernel fp32 FMA tiled GEMM for both weight layouts
//   tc_gemm_kernel   tensor-core tiled GEMM (f16/bf16 weights, split fp32 x)
//   sparse_t_kernel  decode-size x @ WT skipping the zero entries of x
//
// The file is ordinary CUDA: nvcc builds it for sm_80 and later, and the
// emulator (cuda/emu) builds it on the CPU; the tensor-core, ldmatrix and
// cp.async instructions go through cuda/ptx_wrappers.cuh.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "elementwise.cuh"
#include "fp8.cuh"
#include "matmul.cuh"
#include "ptx_wrappers.cuh"
#include "qblock.cuh"

namespace rwkv_mm {

// Weight element types (RWKVCU_F32 ... RWKVCU_F8E4M3).
constexpr int kF32 = 0, kF16 = 1, kBF16 = 2, kI8 = 3, kF8 = 4;

// kScaled<WT>: one-byte codes with one float scale per stored row.
template <int WT>
constexpr bool kScaled = WT == kI8 || WT == kF8;

// kQuant<WT>: a 32-element block format (kQ4_0 ... kQ8_0, cuda/qblock.cuh),
// decoded by qblock_run8 (8 consecutive elements) and qblock_elem.
template <int WT>
constexpr bool kQuant = qblock_is(WT);

// Storage type of a weight element.
template <int WT>
struct Elem;
template <>
struct Elem<kF32> {
  using S = float;
};
template <>
struct Elem<kF16> {
  using S = uint16_t;
};
template <>
struct Elem<kBF16> {
  using S = uint16_t;
};
template <>
struct Elem<kI8> {
  using S = int8_t;
};
template <>
struct Elem<kF8> {
  using S = uint8_t;
};
// The block formats are addressed in bytes.
template <>
struct Elem<kQ4_0> {
  using S = uint8_t;
};
template <>
struct Elem<kQ4_1> {
  using S = uint8_t;
};
template <>
struct Elem<kQ5_0> {
  using S = uint8_t;
};
template <>
struct Elem<kQ5_1> {
  using S = uint8_t;
};
template <>
struct Elem<kQ8_0> {
  using S = uint8_t;
};

// wstride is the distance between rows of an [o, k] weight in units of
// Elem<WT>::S: k, or the bytes of a row of blocks.
template <int WT>
__host__ __device__ constexpr int64_t wstride(int64_t k) {
  if constexpr (kQuant<WT>)
    return qblock_row_bytes(WT, k);
  else
    return k;
}

__device__ __forceinline__ float f16_bits_to_float(uint32_t b) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(b)));
}
__device__ __forceinline__ float bf16_bits_to_float(uint32_t b) { return __uint_as_float(b << 16); }

// F8E4M3 weights run on sm_89 and later (rwkvcu_dtype_supported refuses
// them on older devices) and in the emulated library. The device code for
// older architectures never runs them: there the decoders trap, which keeps
// those kernels' code (and registers) small.
#if !defined(CUEMU) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 890
#define RWKV_FP8_TRAP 1
#endif

// e4m3_1 decodes one OCP E4M3 code exactly (rwkv_e4m3_to_float: integer
// operations, the same bits as the hardware conversion).
__device__ __forceinline__ float e4m3_1(uint32_t b) {
#if defined(RWKV_FP8_TRAP)
  (void)b;
  __trap();
  return 0.f;
#else
  return rwkv_e4m3_to_float(b);
#endif
}

// e4m3x4 decodes the four OCP E4M3 codes packed in w (lowest address in the
// low byte) exactly. On sm_90 and later the hardware converts pairs to f16
// (cvt.rn.f16x2.e4m3x2, which ptxas 11.8 has for sm_90 only: every e4m3
// value is an f16, so the conversion is exact). On sm_89 and in the
// emulated library integer operations do the same: a code's bits shifted
// left by 7 (the sign by 8) are the f16 of its value times 2^-8 (exponent
// bias 15 against 7, subnormals included), so the f16 pair times 256 is
// exact; the NaN codes S.1111.111 are then set to NaN.
__device__ __forceinline__ void e4m3x4(uint32_t w, float* f) {
#if defined(RWKV_FP8_TRAP)
  (void)w;
  __trap();
#pragma unroll
  for (int j = 0; j < 4; ++j) f[j] = 0.f;
#elif !defined(CUEMU) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#pragma unroll
  for (int p = 0; p < 2; ++p) {
    uint32_t h2;
    const unsigned short pair = static_cast<unsigned short>(w >> (16 * p));
    asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(h2) : "h"(pair));
    f[2 * p] = f16_bits_to_float(h2 & 0xffffu);
    f[2 * p + 1] = f16_bits_to_float(h2 >> 16);
  }
#else
  const uint32_t pairs[2] = {(w & 0xffu) | ((w & 0xff00u) << 8), ((w >> 16) & 0xffu) | ((w >> 8) & 0xff0000u)};
#pragma unroll
  for (int p = 0; p < 2; ++p) {
    const uint32_t h2 = ((pairs[p] & 0x007f007fu) << 7) | ((pairs[p] & 0x00800080u) << 8);
    f[2 * p] = f16_bits_to_float(h2 & 0xffffu) * 256.f;
    f[2 * p + 1] = f16_bits_to_float(h2 >> 16) * 256.f;
  }
#pragma unroll
  for (int j = 0; j < 4; ++j)
    if (((w >> (8 * j)) & 0x7fu) == 0x7fu) f[j] = __uint_as_float(0x7fc00000u | (((w >> (8 * j + 7)) & 1u) << 31));
#endif
}

// cvt converts one stored weight element to float (exactly).
template <int WT>
__device__ __forceinline__ float cvt(typename Elem<WT>::S v) {
  if constexpr (WT == kF32) {
    return v;
  } else if constexpr (WT == kF16) {
    return f16_bits_to_float(v);
  } else if constexpr (WT == kBF16) {
    return bf16_bits_to_float(v);
  } else if constexpr (WT == kF8) {
    return e4m3_1(v);
  } else {
    return static_cast<float>(v);
  }
}

// unpack_word converts the 4/sizeof(S) weight elements packed in a 32-bit
// word (lowest address in the low bits) to floats.
template <int WT>
__device__ __forceinline__ void unpack_word(uint32_t w, float* f) {
  if constexpr (WT == kF32) {
    f[0] = __uint_as_float(w);
  } else if constexpr (WT == kF16) {
    f[0] = f16_bits_to_float(w & 0xffffu);
    f[1] = f16_bits_to_float(w >> 16);
  } else if constexpr (WT == kBF16) {
    f[0] = __uint_as_float(w << 16);
    f[1] = __uint_as_float(w & 0xffff0000u);
  } else if constexpr (WT == kF8) {
    e4m3x4(w, f);
  } else {
#pragma unroll
    for (int j = 0; j < 4; ++j) f[j] = static_cast<float>(static_cast<int8_t>((w >> (8 * j)) & 0xffu));
  }
}

__device__ __forceinline__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int m = 16; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
  return v;
}

// ============================================================================
// GEMV: out[t, r] = sum_i x[t, i] W[r, i] for n <= NT tokens per block.
//
// Block: kGemvThreads threads (4 warps) computing ROWS consecutive weight
// rows for NT consecutive tokens; grid (ceil(o/ROWS), ceil(n/NT)). The
// threads stride over the row in units of one load (V elements: 16 bytes
// when WVEC, else 1 element), so each warp reads 32 consecutive 16-byte
// pieces of each of its ROWS rows per step (coalesced). Each thread
// accumulates ROWS x NT sums in k order; the sums are reduced over the warp
// by shuffles and over the 4 warps through shared memory in warp order.
//
// Loads in flight: a decode GEMV is bound by the weight's bytes, and DRAM
// bandwidth needs many independent loads in flight per SM (Little's law:
// about 3 MB over an H200's 132 SMs at ~600 ns latency). With WVEC each
// thread issues kGemvLoads (8) independent 16-byte weight loads, U =
// kGemvLoads/ROWS consecutive steps of each of its ROWS rows, into
// registers (raw words, 4 registers per load) before it converts and
// consumes the first: 8 x 16 bytes x 128 threads = 16 KB per block in
// flight (4 loads, 8 KB, for the I8/F8E4M3 codes and in the forms with
// scalar x loads, for a misaligned x). The unrolled steps are consumed in k order, so each thread's
// terms are summed in the same order as one step at a time: the sums do
// not depend on U, nor on ROWS (each row's sum is its own), so every GEMV
// form with the same V gives the same bits.
//
// Grid fill: the launcher takes ROWS = 4 (2 for the one-byte I8/F8E4M3
// codes, whose 16 elements per load double the registers of a step) when
// that gives at least kGemvFillBlocks blocks, else ROWS = 2, so the model
// shapes 768 ... 2048 outputs still put 2-3 blocks (8-12 warps, 32-48 KB
// of loads in flight) on each of 132 SMs; the 65536-row head runs 16384
// blocks of 4 rows.
// ============================================================================
constexpr int kGemvThreads = 128;
// 16-byte weight loads in flight per thread (WVEC forms).
constexpr int kGemvLoads = 8;
// The fewest blocks a GEMV grid of 4-row blocks should have before the
// launcher prefers 2-row blocks: two per SM of a 132-SM H100/H200.
constexpr int64_t kGemvFillBlocks = 2 * 132;

// gemv_tile is the work of one GEMV block, for rows [r0, r0+ROWS) of the
// weight and tokens [t0, t0+NT) (those below o and n): every thread of the
// block calls it (it synchronizes the block once), with red a shared array
// of kGemvThreads/32 * ROWS * NT floats, and store(t, r, s) receives each
// finished sum (from one thread per output). gemv_kernel stores the sums;
// group_gemv_kernel applies its products' epilogues: both sum identically.
template <int WT, int NT, int ROWS, bool WVEC, bool XVEC, class Store>
__device__ __forceinline__ void gemv_tile(const float* __restrict__ x,      // [n, ldx]
                                          int64_t ldx,                      //
                                          const void* __restrict__ wv,      // [o, k] of Elem<WT>::S
                                          const float* __restrict__ wscale, // [o] (I8 only)
                                          int64_t n, int64_t o, int64_t k, int64_t r0, int64_t t0, float* red,
                                          const Store& store) {
  using S = typename Elem<WT>::S;
  // Elements per load: 16 bytes' worth, 1 for scalar loads, or a run of 8
  // elements of a block (the block types, whose rows are read with 16-bit
  // loads whatever the form; WVEC is then ignored).
  constexpr int V = kQuant<WT> ? 8 : WVEC ? int(16 / sizeof(S)) : 1;
  constexpr int WPV = 4 / int(sizeof(S)) > 0 ? 4 / int(sizeof(S)) : 1;  // elements per 32-bit word
  // steps per iteration (loads in flight: U * ROWS): kGemvLoads, or half
  // as many with scalar x loads (misaligned x: V x loads per step and
  // token; ptxas 11.8 for sm_80 spills the 2-row f32 form with 8) and for
  // the one-byte codes (16 elements per load; the integer F8E4M3 decoding
  // of sm_89 spills with 8)
  constexpr int LOADS = XVEC && !kScaled<WT> ? kGemvLoads : kGemvLoads / 2;
  constexpr int U = WVEC ? (LOADS / ROWS > 0 ? LOADS / ROWS : 1) : 1;
  const S* w = static_cast<const S*>(wv);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int nt = int(min64(NT, n - t0));

  const S* wrow[ROWS];
#pragma unroll
  for (int j = 0; j < ROWS; ++j) wrow[j] = w + min64(r0 + j, o - 1) * wstride<WT>(k);  // clamped rows are computed, not stored
  const float* xrow = x + t0 * ldx;

  float acc[ROWS][NT];
#pragma unroll
  for (int j = 0; j < ROWS; ++j)
#pragma unroll
    for (int t = 0; t < NT; ++t) acc[j][t] = 0.f;

  // consume adds the terms of step v (weights wf of the ROWS rows) for
  // every token, x read at v.
  auto consume = [&](int64_t v, const float (&wf)[ROWS][V]) {
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      if (t < nt) {
        float xf[V];
        const float* xp = xrow + t * ldx + v * V;
        if constexpr (XVEC) {
#pragma unroll
          for (int q = 0; q < V / 4; ++q) {
            float4 f = __ldg(reinterpret_cast<const float4*>(xp) + q);
            xf[4 * q] = f.x, xf[4 * q + 1] = f.y, xf[4 * q + 2] = f.z, xf[4 * q + 3] = f.w;
          }
        } else {
#pragma unroll
          for (int e = 0; e < V; ++e) xf[e] = __ldg(xp + e);
        }
#pragma unroll
        for (int j = 0; j < ROWS; ++j)
#pragma unroll
          for (int e = 0; e < V; ++e) acc[j][t] = fmaf(wf[j][e], xf[e], acc[j][t]);
      }
    }
  };

  const int64_t nv = k / V;  // WVEC (and a block type) implies k % V == 0
  if constexpr (kQuant<WT>) {
#pragma unroll 1  // ROWS independent block decodes per step already; unrolling only adds pressure
    for (int64_t v = tid; v < nv; v += kGemvThreads) {
      float wf[ROWS][V];
#pragma unroll
      for (int j = 0; j < ROWS; ++j) qblock_run8<WT>(wrow[j], v * V, wf[j]);
      consume(v, wf);
    }
  } else if constexpr (WVEC) {
#pragma unroll 1  // U * ROWS independent loads per iteration already
    for (int64_t v0 = tid; v0 < nv; v0 += int64_t(kGemvThreads) * U) {
      // Issue every load of the iteration first (steps past the end load
      // nothing and are not consumed: a zero weight would still turn an
      // infinite x into NaN).
      uint4 raw[U][ROWS];
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const int64_t v = v0 + int64_t(u) * kGemvThreads;
#pragma unroll
        for (int j = 0; j < ROWS; ++j)
          raw[u][j] = v < nv ? __ldg(reinterpret_cast<const uint4*>(wrow[j] + v * V)) : make_uint4(0u, 0u, 0u, 0u);
      }
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const int64_t v = v0 + int64_t(u) * kGemvThreads;
        if (v < nv) {
          float wf[ROWS][V];
#pragma unroll
          for (int j = 0; j < ROWS; ++j) {
            unpack_word<WT>(raw[u][j].x, &wf[j][0 * WPV]);
            unpack_word<WT>(raw[u][j].y, &wf[j][1 * WPV]);
            unpack_word<WT>(raw[u][j].z, &wf[j][2 * WPV]);
            unpack_word<WT>(raw[u][j].w, &wf[j][3 * WPV]);
          }
          consume(v, wf);
        }
      }
    }
  } else {
#pragma unroll 1  // ROWS independent loads per step
    for (int64_t v = tid; v < nv; v += kGemvThreads) {
      float wf[ROWS][V];
#pragma unroll
      for (int j = 0; j < ROWS; ++j) wf[j][0] = cvt<WT>(__ldg(wrow[j] + v));
      consume(v, wf);
    }
  }

#pragma unroll
  for (int j = 0; j < ROWS; ++j)
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      float s = warp_sum(acc[j][t]);
      if (lane == 0) red[warp * (ROWS * NT) + j * NT + t] = s;
    }
  __syncthreads();
  if (tid < ROWS * NT) {
    const int j = tid / NT, t = tid % NT;
    const int64_t r = r0 + j;
    if (r < o && t < nt) {
      float s = red[tid];
#pragma unroll
      for (int q = 1; q < kGemvThreads / 32; ++q) s += red[q * (ROWS * NT) + tid];
      if constexpr (kScaled<WT>) s *= wscale[r];
      store(t0 + t, r, s);
    }
  }
}

// StoreOut is gemv_kernel's store: out[t, r] = s.
struct StoreOut {
  float* out;
  int64_t ldo;
  __device__ __forceinline__ void operator()(int64_t t, int64_t r, float s) const { out[t * ldo + r] = s; }
};

// Minimum resident blocks per SM promised to ptxas for gemv_kernel (0:
// none). Without a bound ptxas caps the 128-thread GEMV blocks at 128
// registers, and 13.0 spills a few bytes in the 8-token I8/F8E4M3 forms;
// promising 3 blocks (12 warps per SM) allows up to 168. The 8-token forms
// of the block types promise 4: ptxas 13.0 for sm_90a otherwise gives them
// 72 registers and spills; 4 blocks of 128 threads let it use up to 128
// (ptxas 11.8 chooses 72 to 80 for them on its own, without spilling).
template <int WT, int NT>
constexpr int gemv_min_blocks() {
  return NT == 8 ? (kQuant<WT> ? 4 : 3) : 0;
}

template <int WT, int NT, int ROWS, bool WVEC, bool XVEC>
__global__ void __launch_bounds__(kGemvThreads, gemv_min_blocks<WT, NT>())
    gemv_kernel(float* __restrict__ out,          // [n, ldo]
                int64_t ldo,                      //
                const float* __restrict__ x,      // [n, ldx]
                int64_t ldx,                      //
                const void* __restrict__ wv,      // [o, k] of Elem<WT>::S
                const float* __restrict__ wscale, // [o] (I8 only)
                int64_t n, int64_t o, int64_t k) {
  __shared__ float red[kGemvThreads / 32 * ROWS * NT];
  gemv_tile<WT, NT, ROWS, WVEC, XVEC>(x, ldx, wv, wscale, n, o, k, int64_t(blockIdx.x) * ROWS, int64_t(blockIdx.y) * NT,
                                      red, StoreOut{out, ldo});
}

// ============================================================================
// Grouped GEMV with epilogues (rwkvcu_launch_matmul_group): the products
// of up to kGroupMax weights, each with its own input, weight type and
// epilogue (bias, activation, interpolation into the output), in one
// launch. The table of products travels by value in the kernel's parameter
// space (no upload, and a captured graph keeps it). Block x of the grid
// belongs to the product whose first block is the largest at or below x
// and is a GEMV block of it (gemv_tile with that product's weight type and
// load form, chosen per block: uniform, so without divergence); block y
// is the token chunk, as in gemv_kernel, so each sum is the one
// gemv_kernel computes for the same weight type, load form and NT.
// ============================================================================

// GroupEntry is one product of a group_gemv_kernel launch (see
// rwkvcu_group_product for the fields' meaning).
struct GroupEntry {
  float* out;
  const float* x;
  const void* w;
  const float* wscale;
  const float* bias;
  const float* lerp;
  int64_t o, k;
  int32_t form;         // group_form(): the weight type and the load form
  int32_t act;          // an RWKVCU_SIGMOID ... value, or RWKVCU_NO_FUNCTION (-1)
  int32_t bias_bcast;   // bias is [1, o]
  int32_t first_block;  // the product's first block along x
};

// GroupArgs is the parameter of group_gemv_kernel: count products, n tokens.
struct GroupArgs {
  GroupEntry e[kGroupMax];
  int32_t count;
  int64_t n;
};

// group_form numbers the gemv_tile forms of group_gemv_kernel: a weight
// type with 16-byte weight and x loads (vec) or scalar ones.
__host__ __device__ constexpr int32_t group_form(int32_t dt, bool vec) { return dt * 2 + (vec ? 1 : 0); }

// group_rows is the number of weight rows a block of the form covers.
__host__ __device__ constexpr int group_rows(int32_t form) {
  return form == group_form(kI8, true) || form == group_form(kF8, true) || qblock_is(form / 2) ? 2 : 4;
}

// StoreGroup is group_gemv_kernel's store: the epilogue of a product, each
// operation rounded to float (no contraction): s += bias; s = f(s); then
// out = s, or out += (lerp - out) * s.
struct StoreGroup {
  float* out;
  const float* bias;
  const float* lerp;
  int64_t o;
  bool bcast;
  int act;
  __device__ __forceinline__ void operator()(int64_t t, int64_t r, float s) const {
    const int64_t i = t * o + r;
    if (bias) s = __fadd_rn(s, bias[bcast ? r : i]);
    s = rwkv_unary_fn(act, s);
    out[i] = lerp ? rwkv_lerp(out[i], lerp[i], s) : s;
  }
};

// Minimum resident blocks per SM promised to ptxas for group_gemv_kernel
// (0: none). With kGemvLoads loads in flight the 8-token instance, which
// holds every weight type's tile, needs a little over 128 registers; ptxas
// 13.0 for sm_100a caps it at 128 without a bound and spills. Promising 3
// blocks (12 warps, 48 KB of loads in flight per SM) lets it use up to 168.
template <int NT>
constexpr int group_min_blocks() {
  return NT == 8 ? 3 : 0;
}

template <int NT>
__global__ void __launch_bounds__(kGemvThreads, group_min_blocks<NT>()) group_gemv_kernel(const GroupArgs args) {
  __shared__ float red[kGemvThreads / 32 * 4 * NT];
  // The block's product, selected with constant indices only, so that the
  // table is read from the parameter space (no local copy).
  const int bx = int(blockIdx.x);
  GroupEntry e = args.e[0];
#pragma unroll
  for (int q = 1; q < kGroupMax; ++q)
    if (q < args.count && bx >= args.e[q].first_block) e = args.e[q];
  const int64_t t0 = int64_t(blockIdx.y) * NT, b = bx - e.first_block;
  const StoreGroup st{e.out, e.bias, e.lerp, e.o, e.bias_bcast != 0, e.act};
#define RWKV_GROUP_TILE(DT, VEC)                                                                                  \
  case group_form(DT, VEC):                                                                                       \
    gemv_tile<DT, NT, group_rows(group_form(DT, VEC)), VEC, VEC>(e.x, e.k, e.w, e.wscale, args.n, e.o, e.k,       \
                                                                 b * group_rows(group_form(DT, VEC)), t0, red, st); \
    break;
  switch (e.form) {
    RWKV_GROUP_TILE(kF32, true)
    RWKV_GROUP_TILE(kF32, false)
    RWKV_GROUP_TILE(kF16, true)
    RWKV_GROUP_TILE(kF16, false)
    RWKV_GROUP_TILE(kBF16, true)
    RWKV_GROUP_TILE(kBF16, false)
    RWKV_GROUP_TILE(kI8, true)
    RWKV_GROUP_TILE(kI8, false)
    RWKV_GROUP_TILE(kF8, true)
    RWKV_GROUP_TILE(kF8, false)
    RWKV_GROUP_TILE(kQ4_0, true)
    RWKV_GROUP_TILE(kQ4_0, false)
    RWKV_GROUP_TILE(kQ4_1, true)
    RWKV_GROUP_TILE(kQ4_1, false)
    RWKV_GROUP_TILE(kQ5_0, true)
    RWKV_GROUP_TILE(kQ5_0, false)
    RWKV_GROUP_TILE(kQ5_1, true)
    RWKV_GROUP_TILE(kQ5_1, false)
    RWKV_GROUP_TILE(kQ8_0, true)
    RWKV_GROUP_TILE(kQ8_0, false)
  }
#undef RWKV_GROUP_TILE
}

// ============================================================================
// Wide grouped GEMV: the group of group_gemv_kernel for batches of more than
// kGroupWideMin tokens, up to kGroupWideNT (64) tokens per block.
//
// Cutoff and expected gain: up to 8 tokens group_gemv_kernel holds every
// token's sums in registers; above 8 it ran in 8-token chunks (blockIdx.y),
// each chunk reading the whole weight again (from L2 at best), so a batch
// of 64 read every weight 8 times. group_wide_kernel takes every batch of
// 9 and more tokens (one chunk up to 64, chunks of 64 above): a block
// covers one weight row for up to 64 tokens and reads each of the row's
// elements once (k * sizeof(element) bytes per block for all its tokens,
// against that many bytes per 8 tokens before): 2x fewer weight bytes at
// 9..16 tokens, 8x fewer at 33..64 tokens, and for larger batches one read
// per 64 tokens instead of per 8.
//
// Each thread keeps its running sums of the 64 tokens in shared memory (a
// column of acc[64][128]: a thread reads and writes only its own column,
// without conflicts and without synchronization) and loads them in groups
// of 8 tokens into registers while it consumes its weight step(s), which
// stay in registers (the raw 16-byte words, decoded once per group). Each
// token's terms are added in the order of gemv_tile (the thread's steps in
// k order, each step's elements in order), then reduced over the warp by
// shuffles and over the 4 warps in warp order, as gemv_tile does: every
// sum is the bits of group_gemv_kernel (and of gemv_kernel) for the same
// weight type and load form, whatever the batch size or schedule.
// ============================================================================
constexpr int kGroupWideNT = 64;  // tokens per block
constexpr int kGroupWideTG = 8;   // tokens whose sums are in registers at once
// Batches of more tokens than this run group_wide_kernel.
constexpr int64_t kGroupWideMin = 8;

// gemv_tile_wide is the work of one group_wide_kernel block: weight row r
// (r < o) for tokens [t0, t0+kGroupWideNT) (those below n), with acc the
// block's shared running sums and red a shared array of
// kGemvThreads/32 * kGroupWideNT floats; store as in gemv_tile.
template <int WT, bool WVEC, bool XVEC, class Store>
__device__ __forceinline__ void gemv_tile_wide(const float* __restrict__ x,      // [n, ldx]
                                               int64_t ldx,                      //
                                               const void* __restrict__ wv,      // [o, k] of Elem<WT>::S
                                               const float* __restrict__ wscale, // [o] (I8/F8E4M3 only)
                                               int64_t n, int64_t k, int64_t r, int64_t t0,
                                               float (*acc)[kGemvThreads], float* red, const Store& store) {
  using S = typename Elem<WT>::S;
  constexpr int NT = kGroupWideNT, TG = kGroupWideTG;
  // the elements per load and the loads in flight of gemv_tile's one-row form
  constexpr int V = kQuant<WT> ? 8 : WVEC ? int(16 / sizeof(S)) : 1;
  constexpr int WPV = 4 / int(sizeof(S)) > 0 ? 4 / int(sizeof(S)) : 1;
  constexpr int U = WVEC ? (XVEC && !kScaled<WT> ? kGemvLoads : kGemvLoads / 2) : 1;
  const S* wrow = static_cast<const S*>(wv) + r * wstride<WT>(k);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int nt = int(min64(NT, n - t0));
  const float* xrow = x + t0 * ldx;

#pragma unroll 1
  for (int t = 0; t < NT; ++t) acc[t][tid] = 0.f;

  // consume adds the terms of step v (weights wf) for tokens [g, g+TG)
  // below nt to their sums a.
  auto consume = [&](int64_t v, const float (&wf)[V], int g, float (&a)[TG]) {
#pragma unroll
    for (int t = 0; t < TG; ++t) {
      if (g + t < nt) {
        float xf[V];
        const float* xp = xrow + (g + t) * ldx + v * V;
        if constexpr (XVEC) {
#pragma unroll
          for (int q = 0; q < V / 4; ++q) {
            float4 f = __ldg(reinterpret_cast<const float4*>(xp) + q);
            xf[4 * q] = f.x, xf[4 * q + 1] = f.y, xf[4 * q + 2] = f.z, xf[4 * q + 3] = f.w;
          }
        } else {
#pragma unroll
          for (int e = 0; e < V; ++e) xf[e] = __ldg(xp + e);
        }
#pragma unroll
        for (int e = 0; e < V; ++e) a[t] = fmaf(wf[e], xf[e], a[t]);
      }
    }
  };
  auto load = [&](int g, float (&a)[TG]) {
#pragma unroll
    for (int t = 0; t < TG; ++t) a[t] = acc[g + t][tid];
  };
  auto save = [&](int g, const float (&a)[TG]) {
#pragma unroll
    for (int t = 0; t < TG; ++t) acc[g + t][tid] = a[t];
  };

  const int64_t nv = k / V;  // WVEC (and a block type) implies k % V == 0
  if constexpr (kQuant<WT>) {
#pragma unroll 1
    for (int64_t v = tid; v < nv; v += kGemvThreads) {
      float wf[V];
      qblock_run8<WT>(wrow, v * V, wf);
#pragma unroll 1
      for (int g = 0; g < nt; g += TG) {
        float a[TG];
        load(g, a);
        consume(v, wf, g, a);
        save(g, a);
      }
    }
  } else if constexpr (WVEC) {
#pragma unroll 1
    for (int64_t v0 = tid; v0 < nv; v0 += int64_t(kGemvThreads) * U) {
      uint4 raw[U];
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const int64_t v = v0 + int64_t(u) * kGemvThreads;
        raw[u] = v < nv ? __ldg(reinterpret_cast<const uint4*>(wrow + v * V)) : make_uint4(0u, 0u, 0u, 0u);
      }
#pragma unroll 1
      for (int g = 0; g < nt; g += TG) {
        float a[TG];
        load(g, a);
#pragma unroll
        for (int u = 0; u < U; ++u) {
          const int64_t v = v0 + int64_t(u) * kGemvThreads;
          if (v < nv) {
            float wf[V];
            unpack_word<WT>(raw[u].x, &wf[0 * WPV]);
            unpack_word<WT>(raw[u].y, &wf[1 * WPV]);
            unpack_word<WT>(raw[u].z, &wf[2 * WPV]);
            unpack_word<WT>(raw[u].w, &wf[3 * WPV]);
            consume(v, wf, g, a);
          }
        }
        save(g, a);
      }
    }
  } else {
#pragma unroll 1
    for (int64_t v = tid; v < nv; v += kGemvThreads) {
      const float wf[1] = {cvt<WT>(__ldg(wrow + v))};
#pragma unroll 1
      for (int g = 0; g < nt; g += TG) {
        float a[TG];
        load(g, a);
        consume(v, wf, g, a);
        save(g, a);
      }
    }
  }

#pragma unroll 1
  for (int t = 0; t < nt; ++t) {
    const float s = warp_sum(acc[t][tid]);
    if (lane == 0) red[warp * NT + t] = s;
  }
  __syncthreads();
  if (tid < nt) {
    float s = red[tid];
#pragma unroll
    for (int q = 1; q < kGemvThreads / 32; ++q) s += red[q * NT + tid];
    if constexpr (kScaled<WT>) s *= wscale[r];
    store(t0 + tid, r, s);
  }
}

// Minimum resident blocks per SM promised to ptxas for group_wide_kernel:
// 2 (up to 255 registers; 33 KB of shared memory per block). With 3 (168
// registers) ptxas 13.0 spills 8 bytes for sm_90a and sm_100a.
constexpr int kGroupWideMinBlocks = 2;

// group_wide_kernel: block x is row x - first_block of its product (one
// row per block), block y the chunk of kGroupWideNT tokens.
__global__ void __launch_bounds__(kGemvThreads, kGroupWideMinBlocks) group_wide_kernel(const GroupArgs args) {
  __shared__ float acc[kGroupWideNT][kGemvThreads];
  __shared__ float red[kGemvThreads / 32 * kGroupWideNT];
  const int bx = int(blockIdx.x);
  GroupEntry e = args.e[0];
#pragma unroll
  for (int q = 1; q < kGroupMax; ++q)
    if (q < args.count && bx >= args.e[q].first_block) e = args.e[q];
  const int64_t t0 = int64_t(blockIdx.y) * kGroupWideNT, r = bx - e.first_block;
  const StoreGroup st{e.out, e.bias, e.lerp, e.o, e.bias_bcast != 0, e.act};
#define RWKV_GROUP_WIDE(DT, VEC)                                                             \
  case group_form(DT, VEC):                                                                  \
    gemv_tile_wide<DT, VEC, VEC>(e.x, e.k, e.w, e.wscale, args.n, e.k, r, t0, acc, red, st); \
    break;
  switch (e.form) {
    RWKV_GROUP_WIDE(kF32, true)
    RWKV_GROUP_WIDE(kF32, false)
    RWKV_GROUP_WIDE(kF16, true)
    RWKV_GROUP_WIDE(kF16, false)
    RWKV_GROUP_WIDE(kBF16, true)
    RWKV_GROUP_WIDE(kBF16, false)
    RWKV_GROUP_WIDE(kI8, true)
    RWKV_GROUP_WIDE(kI8, false)
    RWKV_GROUP_WIDE(kF8, true)
    RWKV_GROUP_WIDE(kF8, false)
    RWKV_GROUP_WIDE(kQ4_0, true)
    RWKV_GROUP_WIDE(kQ4_0, false)
    RWKV_GROUP_WIDE(kQ4_1, true)
    RWKV_GROUP_WIDE(kQ4_1, false)
    RWKV_GROUP_WIDE(kQ5_0, true)
    RWKV_GROUP_WIDE(kQ5_0, false)
    RWKV_GROUP_WIDE(kQ5_1, true)
    RWKV_GROUP_WIDE(kQ5_1, false)
    RWKV_GROUP_WIDE(kQ8_0, true)
    RWKV_GROUP_WIDE(kQ8_0, false)
  }
#undef RWKV_GROUP_WIDE
}

// ============================================================================
// Split-K for the tiled kernels (SIMT, TC): with gridDim.z = S > 1, block z
// takes reduction indices [z*kper, min(k, (z+1)*kper)) of its tile and
// writes its partial tile to part + z*n*o ([n, o]); the last block of the
// tile to take its ticket adds the S partial tiles in split order (so the
// sum does not depend on which block finishes last) into out and leaves the
// ticket at zero for the next launch or graph replay. A decode batch of 9 to
// 64 tokens is one row of tiles: a 768-wide product has 6 tiles of 128
// outputs, far fewer than the SMs, and the split multiplies them (see
// splitk_splits for how many).
// ============================================================================

// splitk_finish ends a split-K block (every thread calls it, after its
// partial tile [m0, m0+BM) x [n0, n0+BN) is written).
template <int THREADS, int BM, int BN>
__device__ __forceinline__ void splitk_finish(float* out, int64_t ldo, const float* part, unsigned* tickets,
                                              int64_t n, int64_t o, int64_t m0, int64_t n0) {
  const int splits = int(gridDim.z);
  if (splits == 1) return;
  __shared__ int last;
  __threadfence();  // this block's partial tile before its ticket
  __syncthreads();
  unsigned* ticket = tickets + int64_t(blockIdx.y) * gridDim.x + blockIdx.x;
  if (threadIdx.x == 0) last = atomicAdd(ticket, 1u) == unsigned(splits - 1);
  __syncthreads();
  if (!last) return;
  __threadfence();  // the other blocks' partial tiles, read past L1 (__ldcg)
  for (int e = threadIdx.x; e < BM * BN; e += THREADS) {
    const int64_t t = m0 + e / BN, c = n0 + e % BN;
    if (t < n && c < o) {
      float v = __ldcg(part + t * o + c);
      for (int z = 1; z < splits; ++z) v += __ldcg(part + (int64_t(z) * n + t) * o + c);
      out[t * ldo + c] = v;
    }
  }
  if (threadIdx.x == 0) *ticket = 0u;
}

// ============================================================================
// SIMT GEMM: out[t, c] = sum_i x[t, i] W(c, i), W(c, i) = w[c*k + i] (plain)
// or w[i*o + c] (TRANS), fp32 FMAs (no TF32).
//
// Block: 256 threads computing a 64 (tokens) x 128 (outputs) tile; grid
// (ceil(n/64), ceil(o/128)). K is walked in steps of 16: the x and W tiles
// are loaded into registers (bounds-checked scalar loads, zero outside),
// stored transposed into double-buffered shared memory (one barrier per
// step), and each thread updates a 4 (tokens) x 8 (outputs) register tile
// from float4 reads of shared memory. Each output is summed in k order.
// ============================================================================
constexpr int kSimtBM = 64, kSimtBN = 128, kSimtBK = 16, kSimtThreads = 256;

template <int WT, bool TRANS>
__global__ void __launch_bounds__(kSimtThreads)
    simt_gemm_kernel(float* __restrict__ out,          // [n, ldo]
                     int64_t ldo,                      //
                     const float* __restrict__ x,      // [n, ldx]
                     int64_t ldx,                      //
                     const void* __restrict__ wv,      // [o, k] (plain) or [k, o] (TRANS) of Elem<WT>::S
                     const float* __restrict__ wscale, // I8: [o] (plain) or [k] (TRANS)
                     int64_t n, int64_t o, int64_t k,
                     int64_t ldw,     // row stride of the stored weight (>= k plain, >= o TRANS)
                     int64_t kper,    // split-K: reduction indices per split (gridDim.z > 1)
                     float* part,     // split-K: [gridDim.z, n, o] partial tiles
                     unsigned* tickets) {  // split-K: [gridDim.y * gridDim.x], zero between launches
  using S = typename Elem<WT>::S;
  const S* w = static_cast<const S*>(wv);
  float* dst = out;  // where this block's (partial) tile goes
  int64_t ldd = ldo;
  if (gridDim.z > 1) {
    const int64_t kb = int64_t(blockIdx.z) * kper;
    x += kb;
    if constexpr (kQuant<WT>)
      w += qblock_row_bytes(WT, kb);  // whole blocks: kper is a multiple of kQK for the block types
    else
      w += TRANS ? kb * ldw : kb;
    if constexpr (TRANS && kScaled<WT>) wscale += kb;
    k = min64(kper, k - kb);
    dst = part + int64_t(blockIdx.z) * n * o;
    ldd = o;
  }
  __shared__ __align__(16) float xs[2][kSimtBK][kSimtBM + 4];
  __shared__ __align__(16) float ws[2][kSimtBK][kSimtBN];
  const int tid = threadIdx.x;
  const int64_t m0 = int64_t(blockIdx.x) * kSimtBM, n0 = int64_t(blockIdx.y) * kSimtBN;

  // x loader: token row xm, 4 consecutive k entries from xk.
  const int xm = tid >> 2, xk = (tid & 3) * 4;
  // W loader: plain: output row wn, 8 consecutive k entries from wk;
  //           TRANS: k row wk, 8 consecutive outputs from wn.
  const int wn = TRANS ? (tid & 15) * 8 : tid >> 1;
  const int wk = TRANS ? tid >> 4 : (tid & 1) * 8;
  float xr[4], wr[8];

  auto load = [&](int64_t k0) {
    const int64_t t = m0 + xm;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t i = k0 + xk + j;
      xr[j] = (t < n && i < k) ? x[t * ldx + i] : 0.f;
    }
    if constexpr (kQuant<WT>) {
      // 8 elements of one block (k % 32 == 0): all inside or all outside.
      const int64_t c = n0 + wn, i0 = k0 + wk;
      if (c < o && i0 < k) {
        qblock_run8<WT>(w + c * ldw, i0, wr);
      } else {
#pragma unroll
        for (int j = 0; j < 8; ++j) wr[j] = 0.f;
      }
    } else {
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const int64_t c = TRANS ? n0 + wn + j : n0 + wn;
        const int64_t i = TRANS ? k0 + wk : k0 + wk + j;
        float v = 0.f;
        if (c < o && i < k) {
          v = cvt<WT>(TRANS ? w[i * ldw + c] : w[c * ldw + i]);
          if constexpr (TRANS && kScaled<WT>) v *= wscale[i];
        }
        wr[j] = v;
      }
    }
  };
  auto store = [&](int buf) {
#pragma unroll
    for (int j = 0; j < 4; ++j) xs[buf][xk + j][xm] = xr[j];
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      if (TRANS)
        ws[buf][wk][wn + j] = wr[j];
      else
        ws[buf][wk + j][wn] = wr[j];
    }
  };

  // thread tile: tokens ty*4 + [0,4), outputs tx*4 + [0,4) and 64 + tx*4 + [0,4)
  const int ty = tid >> 4, tx = tid & 15;
  float acc[4][8];
#pragma unroll
  for (int a = 0; a < 4; ++a)
#pragma unroll
    for (int b = 0; b < 8; ++b) acc[a][b] = 0.f;

  const int64_t nk = (k + kSimtBK - 1) / kSimtBK;
  int buf = 0;
  if (nk > 0) {
    load(0);
    store(0);
  }
  __syncthreads();
  for (int64_t kt = 0; kt < nk; ++kt) {
    if (kt + 1 < nk) load((kt + 1) * kSimtBK);
#pragma unroll
    for (int kk = 0; kk < kSimtBK; ++kk) {
      const float4 a = *reinterpret_cast<const float4*>(&xs[buf][kk][ty * 4]);
      const float4 b0 = *reinterpret_cast<const float4*>(&ws[buf][kk][tx * 4]);
      const float4 b1 = *reinterpret_cast<const float4*>(&ws[buf][kk][64 + tx * 4]);
      const float av[4] = {a.x, a.y, a.z, a.w};
      const float bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int p = 0; p < 4; ++p)
#pragma unroll
        for (int q = 0; q < 8; ++q) acc[p][q] = fmaf(av[p], bv[q], acc[p][q]);
    }
    if (kt + 1 < nk) store(buf ^ 1);
    __syncthreads();  // buf^1 is complete; everyone is done reading buf
    buf ^= 1;
  }

#pragma unroll
  for (int p = 0; p < 4; ++p) {
    const int64_t t = m0 + ty * 4 + p;
    if (t >= n) continue;
#pragma unroll
    for (int q = 0; q < 8; ++q) {
      const int64_t c = n0 + (q < 4 ? tx * 4 + q : 64 + tx * 4 + q - 4);
      if (c < o) {
        float v = acc[p][q];
        if constexpr (!TRANS && kScaled<WT>) v *= wscale[c];
        dst[t * ldd + c] = v;
      }
    }
  }
  splitk_finish<kSimtThreads, kSimtBM, kSimtBN>(out, ldo, part, tickets, n, o, m0, n0);
}

// ============================================================================
// Tensor-core GEMM: out[t, c] = sum_i x[t, i] W(c, i) for f16/bf16 weights,
// W(c, i) = w[c*k + i] (plain) or w[i*o + c] (TRANS).
//
// Block: 256 threads (8 warps as 2 x 4) computing a 64 (tokens) x 128
// (outputs) tile, each warp 32 x 32 (2 x 4 mma tiles of 16 x 8); grid
// (ceil(n/64), ceil(o/128)). K is walked in steps of 32:
//   * the weight tile goes to shared memory with 16-byte cp.async (zero
//     filled outside the matrix), double buffered;
//   * the x tile (fp32) is loaded into registers one step ahead, split into
//     NSPLIT 16-bit terms and stored to shared memory;
//   * fragments come from ldmatrix (x: .x4; W: .x4, .trans for TRANS) and
//     each (x term, W) pair is one mma.sync m16n8k16 into fp32 accumulators.
// F16: the per-token power-of-two scale is computed first (each block reads
// its 64 rows of x once more); BF16 needs none (bf16 has the fp32 range).
// Requires (checked by the launcher): w 16-byte aligned and k % 8 == 0
// (plain) or o % 8 == 0 (TRANS).
// ============================================================================
constexpr int kTcBM = 64, kTcBN = 128, kTcBK = 32, kTcThreads = 256;
constexpr int kTcPad = 8;  // 16 bytes of padding per shared row: conflict-free ldmatrix

template <int WT, bool TRANS>
__global__ void __launch_bounds__(kTcThreads)
    tc_gemm_kernel(float* __restrict__ out,      // [n, ldo]
                   int64_t ldo,                  //
                   const float* __restrict__ x,  // [n, ldx]
                   int64_t ldx,                  //
                   const uint16_t* __restrict__ w,  // [o, k] (plain) or [k, o] (TRANS), f16/bf16 bits
                   int64_t n, int64_t o, int64_t k,
                   int64_t ldw,  // row stride of w in elements (a multiple of 8)
                   int xvec,     // non-zero: x and ldx allow float4 loads
                   int64_t kper,    // split-K: reduction indices per split, a multiple of kTcBK (gridDim.z > 1)
                   float* part,     // split-K: [gridDim.z, n, o] partial tiles
                   unsigned* tickets) {  // split-K: [gridDim.y * gridDim.x], zero between launches
  constexpr bool BF16 = WT == kBF16;
  float* dst = out;  // where this block's (partial) tile goes
  int64_t ldd = ldo;
  if (gridDim.z > 1) {
    const int64_t kb = int64_t(blockIdx.z) * kper;  // keeps x and w 16-byte aligned
    x += kb;
    w += TRANS ? kb * ldw : kb;
    k = min64(kper, k - kb);
    dst = part + int64_t(blockIdx.z) * n * o;
    ldd = o;
  }
  constexpr int NSPLIT = BF16 ? 3 : 2;
  __shared__ __align__(16) uint16_t xs[NSPLIT][kTcBM][kTcBK + kTcPad];
  constexpr int WROWS = TRANS ? kTcBK : kTcBN, WCOLS = (TRANS ? kTcBN : kTcBK) + kTcPad;
  __shared__ __align__(16) uint16_t ws[2][WROWS][WCOLS];
  __shared__ float xscale[kTcBM], xunscale[kTcBM];

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int64_t m0 = int64_t(blockIdx.x) * kTcBM, n0 = int64_t(blockIdx.y) * kTcBN;

  if constexpr (!BF16) {
    // Per-token scale 2^e putting max|x| into [2^14, 2^15); warp w handles
    // tokens w, w+8, ... of the tile.
    for (int m = warp; m < kTcBM; m += kTcThreads / 32) {
      const int64_t t = m0 + m;
      float mx = 0.f;
      if (t < n) {
        const float* xr = x + t * ldx;
        if (xvec) {
          const int64_t k4 = k / 4;
          for (int64_t i = lane; i < k4; i += 32) {
            const float4 f = __ldg(reinterpret_cast<const float4*>(xr) + i);
            mx = fmaxf(mx, fmaxf(fmaxf(fabsf(f.x), fabsf(f.y)), fmaxf(fabsf(f.z), fabsf(f.w))));
          }
          for (int64_t i = k4 * 4 + lane; i < k; i += 32) mx = fmaxf(mx, fabsf(xr[i]));
        } else {
          for (int64_t i = lane; i < k; i += 32) mx = fmaxf(mx, fabsf(xr[i]));
        }
      }
#pragma unroll
      for (int s = 16; s > 0; s >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, s));
      if (lane == 0) {
        // mx in [2^(eb-127), 2^(eb-126)): scale 2^(141-eb), unscale 2^(eb-141)
        int eb = int((__float_as_uint(mx) >> 23) & 0xffu);
        eb = eb < 15 ? 15 : (eb > 254 ? 254 : eb);
        xscale[m] = __uint_as_float(uint32_t(268 - eb) << 23);
        xunscale[m] = __uint_as_float(uint32_t(eb - 14) << 23);
      }
    }
    __syncthreads();
  }

  // x loader: token row xm, 8 consecutive k entries from xk.
  const int xm = tid >> 2, xk = (tid & 3) * 8;
  float xr[8];
  auto load_x = [&](int64_t k0) {
    const int64_t t = m0 + xm, i0 = k0 + xk;
    const float* p = x + t * ldx + i0;
    if (t < n && xvec && i0 + 8 <= k) {
      const float4 a = __ldg(reinterpret_cast<const float4*>(p));
      const float4 b = __ldg(reinterpret_cast<const float4*>(p) + 1);
      xr[0] = a.x, xr[1] = a.y, xr[2] = a.z, xr[3] = a.w;
      xr[4] = b.x, xr[5] = b.y, xr[6] = b.z, xr[7] = b.w;
    } else {
#pragma unroll
      for (int j = 0; j < 8; ++j) xr[j] = (t < n && i0 + j < k) ? p[j] : 0.f;
    }
  };
  auto store_x = [&]() {
    uint32_t h[NSPLIT][4];
    const float sc = BF16 ? 1.f : xscale[xm];
#pragma unroll
    for (int j = 0; j < 8; j += 2) {
      uint32_t bits[NSPLIT][2];
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        float r = xr[j + e] * sc;  // exact: a power of two
#pragma unroll
        for (int s = 0; s < NSPLIT; ++s) {
          uint32_t b;
          float back;
          if constexpr (BF16) {
            const __nv_bfloat16 q = __float2bfloat16_rn(r);
            b = __bfloat16_as_ushort(q);
            back = __bfloat162float(q);
          } else {
            const __half q = __float2half_rn(r);
            b = __half_as_ushort(q);
            back = __half2float(q);
          }
          bits[s][e] = b;
          r -= back;  // exact: the rounding residual of a 16-bit rounding of r
        }
      }
#pragma unroll
      for (int s = 0; s < NSPLIT; ++s) h[s][j / 2] = bits[s][0] | (bits[s][1] << 16);
    }
#pragma unroll
    for (int s = 0; s < NSPLIT; ++s)
      *reinterpret_cast<uint4*>(&xs[s][xm][xk]) = make_uint4(h[s][0], h[s][1], h[s][2], h[s][3]);
  };
  // W tile: 512 chunks of 8 elements (16 bytes); thread tid copies chunks tid, tid+256.
  auto load_w = [&](int buf, int64_t k0) {
#pragma unroll
    for (int c = 0; c < 2; ++c) {
      const int ch = tid + c * kTcThreads;
      int r, col;
      int64_t gr, gc;  // global row and first column of the chunk in w
      bool ok;
      if constexpr (TRANS) {
        r = ch >> 4, col = (ch & 15) * 8;  // 32 k rows x 16 chunks
        gr = k0 + r, gc = n0 + col;
        ok = gr < k && gc < o;
      } else {
        r = ch >> 2, col = (ch & 3) * 8;  // 128 output rows x 4 chunks
        gr = n0 + r, gc = k0 + col;
        ok = gr < o && gc < k;
      }
      const uint16_t* src = ok ? w + gr * ldw + gc : w;
      rwkv_cp_async_ca_zfill<16>(&ws[buf][r][col], src, ok ? 16 : 0);
    }
  };

  const int wm = (warp >> 2) * 32, wn = (warp & 3) * 32;  // warp tile origin
  float acc[2][4][4];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[i][j][c] = 0.f;

  auto compute = [&](int buf) {
#pragma unroll
    for (int ks = 0; ks < kTcBK; ks += 16) {
      uint32_t a[NSPLIT][2][4], b[4][2];
      const int q = lane >> 3, rr = lane & 7;
#pragma unroll
      for (int s = 0; s < NSPLIT; ++s)
#pragma unroll
        for (int i = 0; i < 2; ++i) rwkv_ldmatrix_x4(a[s][i], &xs[s][wm + i * 16 + (lane & 15)][ks + (lane >> 4) * 8]);
#pragma unroll
      for (int jp = 0; jp < 4; jp += 2) {
        uint32_t r4[4];
        if constexpr (TRANS) {
          rwkv_ldmatrix_x4_trans(r4, &ws[buf][ks + 8 * (q & 1) + rr][wn + (jp + (q >> 1)) * 8]);
        } else {
          rwkv_ldmatrix_x4(r4, &ws[buf][wn + (jp + (q >> 1)) * 8 + rr][ks + 8 * (q & 1)]);
        }
        b[jp][0] = r4[0], b[jp][1] = r4[1], b[jp + 1][0] = r4[2], b[jp + 1][1] = r4[3];
      }
#pragma unroll
      for (int s = NSPLIT - 1; s >= 0; --s)  // smallest terms first
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            if constexpr (BF16)
              rwkv_mma_m16n8k16_bf16(acc[i][j], a[s][i], b[j], acc[i][j]);
            else
              rwkv_mma_m16n8k16_f16(acc[i][j], a[s][i], b[j], acc[i][j]);
          }
    }
  };

  const int64_t nk = (k + kTcBK - 1) / kTcBK;  // >= 1 (the launcher runs k == 0 elsewhere)
  load_x(0);
  load_w(0, 0);
  rwkv_cp_async_commit();
  store_x();
  if (nk > 1) {
    load_x(kTcBK);
    load_w(1, kTcBK);
  }
  rwkv_cp_async_commit();
  for (int64_t kt = 0; kt < nk; ++kt) {
    const int buf = int(kt & 1);
    rwkv_cp_async_wait<1>();  // group kt (W tile kt) has landed; kt+1 may be in flight
    __syncthreads();          // ... for every thread; x tile kt is stored
    compute(buf);
    __syncthreads();  // everyone is done with xs and ws[buf]
    if (kt + 1 < nk) store_x();
    if (kt + 2 < nk) {
      load_x((kt + 2) * kTcBK);
      load_w(buf, (kt + 2) * kTcBK);
    }
    rwkv_cp_async_commit();
  }
  rwkv_cp_async_wait<0>();

  const int g = lane >> 2, tg = lane & 3;
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int ml = wm + i * 16 + g + 8 * h;
      const int64_t t = m0 + ml;
      if (t >= n) continue;
      const float us = BF16 ? 1.f : xunscale[ml];
#pragma unroll
      for (int j = 0; j < 4; ++j)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int64_t c = n0 + wn + j * 8 + 2 * tg + e;
          if (c < o) dst[t * ldd + c] = acc[i][j][2 * h + e] * us;
        }
    }
  splitk_finish<kTcThreads, kTcBM, kTcBN>(out, ldo, part, tickets, n, o, m0, n0);
}

// ============================================================================
// Sparse transposed GEMV: out[t, c] = sum_{i: x[t,i] != 0} x[t, i] WT(i, c)
// for n <= NT tokens per block.
//
// Block: kSparseWarps warps sharing one strip of 32*CPL output columns
// (lane l owns columns strip + l*CPL + [0, CPL), read with one CPL-element
// load per row: each warp reads a contiguous piece of a row); grid
// (ceil(o/(32*CPL)), ceil(n/NT)). The rows of WT are visited in groups of
// 32: warp w takes groups w, w+16, ...; lane l loads x[t, 32g+l] for the
// block's tokens (prefetched one group ahead), a ballot marks the rows with
// a non-zero entry for some token, and only those rows are read, up to 4 at
// a time. The per-warp sums (k order) are combined in warp order through
// shared memory, one token at a time.
//
// Filling the GPU: a decode-sized product has few strips (ffn-down of a
// 768-wide model: 12), so with a scratch the launcher also splits the rows
// of WT (blockIdx.z, whole groups of 32 rows, at least one group per warp)
// until the grid has about kSparseFillBlocks blocks. The zero entries are
// skipped within each split as above (the ballot compacts the non-zero rows
// of each group of 32 before any weight is read), and ReLU^2 inputs spread
// their non-zero entries over all the rows, so the splits carry similar
// work. Each split writes its partial sums to the scratch; the last block
// of the strip to take a ticket adds them in split order (deterministic:
// the order does not depend on which block finishes last) and leaves the
// ticket at zero. All of it is one launch: an RWKV-7 decode layer keeps
// its 8 launches.
// ============================================================================
constexpr int kSparseWarps = 16, kSparseThreads = kSparseWarps * 32;

// Minimum resident blocks per SM promised to ptxas (0: none, ptxas picks the
// register budget). The f32 4-token vector form needs about 46-56 registers;
// without a bound, ptxas 13.0 for sm_90a aims at 40 (3 blocks of 512
// threads) and spills. Promising 2 blocks gives it up to 64 registers, the
// occupancy that ptxas 11.8 already chooses for it on sm_80 and sm_90.
//
// The I8/F8E4M3 vector forms (with the row splits' parameters) are held to
// 64 registers by ptxas 11.8 for sm_80 (8 tokens) and 13.0 for sm_100a (2
// tokens) and spill; promising 1 block gives them up to 128.
template <int WT, int NT, bool VEC>
constexpr int sparse_min_blocks() {
  return (WT == kF32 && NT == 4 && VEC) ? 2 : (kScaled<WT> && VEC) ? 1 : 0;
}

template <int WT, int NT, bool VEC>
__global__ void __launch_bounds__(kSparseThreads, sparse_min_blocks<WT, NT, VEC>())
    sparse_t_kernel(float* __restrict__ out,          // [n, ldo]
                    int64_t ldo,                      //
                    const float* __restrict__ x,      // [n, ldx]
                    int64_t ldx,                      //
                    const void* __restrict__ wv,      // [k, o] of Elem<WT>::S
                    const float* __restrict__ wscale, // [k] (I8 only)
                    int64_t n, int64_t k, int64_t o,
                    int64_t gper,          // groups of 32 rows of WT per split (blockIdx.z)
                    float* part,           // [gridDim.z, n, o] partial sums (gridDim.z > 1)
                    unsigned* tickets) {   // [gridDim.y * gridDim.x], zero between launches
  using S = typename Elem<WT>::S;
  // elements per lane: 2 (f32: 8 bytes; f16/bf16: 4 bytes), 4 for i8 (4 bytes)
  constexpr int CPL = VEC ? (sizeof(S) == 1 ? 4 : 2) : 1;
  constexpr int STRIP = 32 * CPL;
  const S* w = static_cast<const S*>(wv);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int64_t c0 = int64_t(blockIdx.x) * STRIP + lane * CPL;  // this lane's first column
  const int64_t t0 = int64_t(blockIdx.y) * NT;
  const int nt = int(min64(NT, n - t0));
  // VEC: o % CPL == 0, so a lane's piece is inside or outside as a whole.
  // Lanes past the end read column 0 (valid) and their sums are not stored.
  const S* wcol = w + (c0 < o ? c0 : 0);

  float acc[NT][CPL];
#pragma unroll
  for (int t = 0; t < NT; ++t)
#pragma unroll
    for (int j = 0; j < CPL; ++j) acc[t][j] = 0.f;

  auto load_x = [&](int64_t grp, float* xv) {
    const int64_t i = grp * 32 + lane;
    const float s = (kScaled<WT> && i < k) ? wscale[i] : 1.f;
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      const float v = (t < nt && i < k) ? x[(t0 + t) * ldx + i] : 0.f;
      xv[t] = v != 0.f ? v * s : 0.f;  // a zero entry stays zero whatever the scale
    }
  };
  auto load_w = [&](int64_t i, float* f) {
    const S* p = wcol + i * o;
    if constexpr (VEC) {
      if constexpr (CPL * sizeof(S) == 8) {
        const uint2 u = __ldg(reinterpret_cast<const uint2*>(p));
        unpack_word<WT>(u.x, f);
        unpack_word<WT>(u.y, f + 1);
      } else {
        unpack_word<WT>(__ldg(reinterpret_cast<const uint32_t*>(p)), f);
      }
    } else {
      f[0] = cvt<WT>(__ldg(p));
    }
  };

  // This block's split: groups [g0, g1) of 32 rows.
  const int64_t g0 = int64_t(blockIdx.z) * gper, g1 = min64((k + 31) / 32, g0 + gper);
  float xv[NT], xnext[NT];
  if (g0 + warp < g1) load_x(g0 + warp, xnext);
#pragma unroll 1
  for (int64_t grp = g0 + warp; grp < g1; grp += kSparseWarps) {
#pragma unroll
    for (int t = 0; t < NT; ++t) xv[t] = xnext[t];
    if (grp + kSparseWarps < g1) load_x(grp + kSparseWarps, xnext);
    bool nz = false;
#pragma unroll
    for (int t = 0; t < NT; ++t) nz |= xv[t] != 0.f;
    unsigned mask = __ballot_sync(0xffffffffu, nz);
#pragma unroll 1
    while (mask) {
      // up to 4 rows at a time: their loads are in flight together. Unused
      // slots repeat the first row (a valid, cached address) and are not
      // accumulated, so the loop body has no branches.
      int src[4];
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        src[u] = mask ? __ffs(int(mask)) - 1 : -1;
        mask &= mask - 1;
      }
      float wf[4][CPL];
#pragma unroll
      for (int u = 0; u < 4; ++u) load_w(grp * 32 + (src[u] >= 0 ? src[u] : src[0]), wf[u]);
#pragma unroll
      for (int u = 0; u < 4; ++u) {
#pragma unroll
        for (int t = 0; t < NT; ++t) {
          const float xb = __shfl_sync(0xffffffffu, xv[t], src[u] & 31);
#pragma unroll
          for (int j = 0; j < CPL; ++j) acc[t][j] = src[u] >= 0 ? fmaf(xb, wf[u][j], acc[t][j]) : acc[t][j];
        }
      }
    }
  }

  __shared__ float red[kSparseWarps][STRIP];
  const int splits = int(gridDim.z);
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    if (t >= nt) break;  // uniform over the block
#pragma unroll
    for (int j = 0; j < CPL; ++j) red[warp][lane * CPL + j] = acc[t][j];
    __syncthreads();
    for (int c = tid; c < STRIP; c += kSparseThreads) {
      const int64_t col = int64_t(blockIdx.x) * STRIP + c;
      if (col < o) {
        float s = red[0][c];
#pragma unroll
        for (int q = 1; q < kSparseWarps; ++q) s += red[q][c];
        if (splits == 1)
          out[(t0 + t) * ldo + col] = s;
        else
          part[(int64_t(blockIdx.z) * n + t0 + t) * o + col] = s;
      }
    }
    __syncthreads();
  }
  if (splits == 1) return;
  // Split rows: the last block of the strip to finish (a ticket per strip
  // and token chunk) adds the splits' partial sums in split order, so the
  // result does not depend on which block finishes last, and puts the
  // ticket back to zero for the next launch (or graph replay).
  __shared__ int last;
  __threadfence();  // this block's partial sums before its ticket
  __syncthreads();
  unsigned* ticket = tickets + int64_t(blockIdx.y) * gridDim.x + blockIdx.x;
  if (tid == 0) last = atomicAdd(ticket, 1u) == unsigned(splits - 1);
  __syncthreads();
  if (!last) return;
  __threadfence();  // the other blocks' partial sums, read past L1 (__ldcg)
  for (int t = 0; t < nt; ++t)
    for (int c = tid; c < STRIP; c += kSparseThreads) {
      const int64_t col = int64_t(blockIdx.x) * STRIP + c;
      if (col < o) {
        float s = __ldcg(part + (t0 + t) * o + col);
        for (int z = 1; z < splits; ++z) s += __ldcg(part + (int64_t(z) * n + t0 + t) * o + col);
        out[(t0 + t) * ldo + col] = s;
      }
    }
  if (tid == 0) *ticket = 0u;
}

// ============================================================================
// Host side: argument checks, kernel choice, launches.
// ============================================================================

thread_local int32_t g_last_variant = RWKVCU_MMV_NONE;
thread_local int32_t g_last_splits = 0;

constexpr int64_t kMaxGridY = 65535;

inline bool aligned(const void* p, uintptr_t a) { return (reinterpret_cast<uintptr_t>(p) & (a - 1)) == 0; }
inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline size_t esize(int32_t dt) { return dt == kF32 ? 4 : (dt == kI8 || dt == kF8) ? 1 : 2; }
// wrow_bytes is the size of a row of k elements of a (plain) weight of type dt.
inline int64_t wrow_bytes(int32_t dt, int64_t k) {
  return qblock_is(dt) ? qblock_row_bytes(dt, k) : k * int64_t(esize(dt));
}

struct Args {
  cudaStream_t s;
  float* out;
  int64_t ldo;
  const float* x;
  int64_t ldx;
  const void* w;
  const float* wscale;
  int64_t n, o, k;
  const rwkvcu_mm_scratch* sc;  // may be NULL: no split sparse products
};

// GEMV launches for a fixed weight type, token chunk and load forms.
// gemv_rows is the number of weight rows of a GEMV block for o outputs
// (see the grid-fill note at gemv_tile): 4, or 2 when 4-row blocks would
// be fewer than kGemvFillBlocks; always 2 for the I8/F8E4M3 vector forms
// and for the block types (launch_gemv_nt).
// The scalar forms (misaligned weights) keep 4.
template <int WT, bool WVEC>
int gemv_rows(int64_t o) {
  if constexpr (!WVEC) return 4;
  if constexpr (kScaled<WT>) return 2;
  return cdiv(o, 4) >= kGemvFillBlocks ? 4 : 2;
}

template <int WT, int NT, int ROWS, bool WVEC, bool XVEC>
cudaError_t launch_gemv_rows(const Args& a) {
  for (int64_t t0 = 0; t0 < a.n; t0 += kMaxGridY * NT) {
    const int64_t nn = a.n - t0 < kMaxGridY * NT ? a.n - t0 : kMaxGridY * NT;
    dim3 grid(unsigned(cdiv(a.o, ROWS)), unsigned(cdiv(nn, NT)));
    auto* kern = gemv_kernel<WT, NT, ROWS, WVEC, XVEC>;
    RWKV_LAUNCH(kern, grid, dim3(kGemvThreads), 0, a.s)
    (a.out + t0 * a.ldo, a.ldo, a.x + t0 * a.ldx, a.ldx, a.w, a.wscale, nn, a.o, a.k);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

template <int WT, int NT, bool WVEC, bool XVEC>
cudaError_t launch_gemv_nt(const Args& a) {
  if constexpr (kQuant<WT>) {
    // 2 rows for the block types, whose decoding holds a row's header and
    // code words besides its 8 values.
    return launch_gemv_rows<WT, NT, 2, WVEC, XVEC>(a);
  } else if constexpr (WVEC && !kScaled<WT>) {
    if (gemv_rows<WT, WVEC>(a.o) == 2) return launch_gemv_rows<WT, NT, 2, WVEC, XVEC>(a);
    return launch_gemv_rows<WT, NT, 4, WVEC, XVEC>(a);
  } else {
    return launch_gemv_rows<WT, NT, kScaled<WT> && WVEC ? 2 : 4, WVEC, XVEC>(a);
  }
}

template <int WT, bool WVEC, bool XVEC>
cudaError_t launch_gemv_forms(const Args& a) {
  if (a.n <= 1) return launch_gemv_nt<WT, 1, WVEC, XVEC>(a);
  if (a.n <= 2) return launch_gemv_nt<WT, 2, WVEC, XVEC>(a);
  if (a.n <= 4) return launch_gemv_nt<WT, 4, WVEC, XVEC>(a);
  return launch_gemv_nt<WT, 8, WVEC, XVEC>(a);
}

template <int WT>
cudaError_t launch_gemv(const Args& a) {
  const bool xvec = aligned(a.x, 16) && a.ldx % 4 == 0;
  if constexpr (kQuant<WT>) {
    // Block rows are read with 16-bit loads in both forms; x with float4
    // loads when it allows them.
    if (xvec) {
      g_last_variant = RWKVCU_MMV_GEMV_VEC;
      return launch_gemv_forms<WT, true, true>(a);
    }
    g_last_variant = RWKVCU_MMV_GEMV_SCALAR;
    return launch_gemv_forms<WT, false, false>(a);
  } else {
    const bool wvec = aligned(a.w, 16) && (a.k * int64_t(sizeof(typename Elem<WT>::S))) % 16 == 0;
    if (wvec && xvec) {
      g_last_variant = RWKVCU_MMV_GEMV_VEC;
      return launch_gemv_forms<WT, true, true>(a);
    }
    if (wvec) {
      g_last_variant = RWKVCU_MMV_GEMV_VEC_XS;
      return launch_gemv_forms<WT, true, false>(a);
    }
    g_last_variant = RWKVCU_MMV_GEMV_SCALAR;
    return launch_gemv_forms<WT, false, false>(a);
  }
}

// Launches a tiled kernel over (ceil(n/BM), ceil(o/BN)) blocks, in slices of
// at most 65535 column tiles. f(args for the slice, grid) launches one slice.
template <class F>
cudaError_t launch_tiles(const Args& a, bool trans, int32_t dt, int bm, int bn, F f) {
  const int64_t span = kMaxGridY * bn;
  for (int64_t c0 = 0; c0 < a.o; c0 += span) {
    Args b = a;
    b.o = a.o - c0 < span ? a.o - c0 : span;
    b.out = a.out + c0;
    if (trans) {
      // columns of WT: the row stride stays the full o
      b.w = static_cast<const char*>(a.w) + c0 * int64_t(esize(dt));
    } else {
      b.w = static_cast<const char*>(a.w) + c0 * wrow_bytes(dt, a.k);
      if (a.wscale) b.wscale = a.wscale + c0;
    }
    f(b, dim3(unsigned(cdiv(a.n, bm)), unsigned(cdiv(b.o, bn))));
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

// splitk_splits is the split-K factor of a tiled launch of `tiles` blocks
// (and kper, the reduction indices per split, a multiple of bk): enough
// splits for kSplitFillBlocks blocks, each split at least kSplitMinSteps
// steps of bk, at most kSplitMaxSplits, and only as many as the scratch
// holds (partial tiles [S, n, o], a ticket per tile); 1 without a scratch.
// The factor depends only on the shape, so the sums are the same on every
// run. Large batches have enough tiles and run unsplit.
constexpr int64_t kSplitFillBlocks = 2 * 132, kSplitMinSteps = 4, kSplitMaxSplits = 16;
inline int64_t splitk_splits(const rwkvcu_mm_scratch* sc, int64_t tiles, int64_t n, int64_t o, int64_t k, int bk,
                             int64_t* kper) {
  *kper = k;
  if (!sc || !sc->part || !sc->tickets || tiles > sc->ntickets || n * o <= 0) return 1;
  int64_t sp = cdiv(kSplitFillBlocks, tiles);
  const int64_t by_k = k / (kSplitMinSteps * bk), by_scratch = sc->part_floats / (n * o);
  sp = sp < by_k ? sp : by_k;
  sp = sp < by_scratch ? sp : by_scratch;
  sp = sp < kSplitMaxSplits ? sp : kSplitMaxSplits;
  if (sp <= 1) return 1;
  *kper = cdiv(cdiv(k, sp), bk) * bk;
  return cdiv(k, *kper);  // no empty split
}

template <int WT, bool TRANS>
cudaError_t launch_simt(const Args& a) {
  g_last_variant = TRANS ? RWKVCU_MMV_SIMT_T : RWKVCU_MMV_SIMT;
  const int64_t ldw = TRANS ? a.o : wstride<WT>(a.k);  // slices keep the stride of the whole weight
  return launch_tiles(a, TRANS, WT, kSimtBM, kSimtBN, [&](const Args& b, dim3 grid) {
    int64_t kper;
    // The block types split at block boundaries (the kernel moves w by whole blocks).
    grid.z = unsigned(splitk_splits(b.sc, int64_t(grid.x) * grid.y, b.n, b.o, b.k, kQuant<WT> ? kQK : kSimtBK, &kper));
    g_last_splits = int32_t(grid.z);
    auto* kern = simt_gemm_kernel<WT, TRANS>;
    RWKV_LAUNCH(kern, grid, dim3(kSimtThreads), 0, b.s)
    (b.out, b.ldo, b.x, b.ldx, b.w, b.wscale, b.n, b.o, b.k, ldw, kper, grid.z > 1 ? b.sc->part : nullptr,
     grid.z > 1 ? b.sc->tickets : nullptr);
  });
}

template <int WT, bool TRANS>
cudaError_t launch_tc(const Args& a) {
  g_last_variant = TRANS ? (WT == kBF16 ? RWKVCU_MMV_TC_T_BF16 : RWKVCU_MMV_TC_T_F16)
                         : (WT == kBF16 ? RWKVCU_MMV_TC_BF16 : RWKVCU_MMV_TC_F16);
  const int xvec = aligned(a.x, 16) && a.ldx % 4 == 0;
  const int64_t ldw = TRANS ? a.o : a.k;
  return launch_tiles(a, TRANS, WT, kTcBM, kTcBN, [&](const Args& b, dim3 grid) {
    int64_t kper;
    grid.z = unsigned(splitk_splits(b.sc, int64_t(grid.x) * grid.y, b.n, b.o, b.k, kTcBK, &kper));
    g_last_splits = int32_t(grid.z);
    auto* kern = tc_gemm_kernel<WT, TRANS>;
    RWKV_LAUNCH(kern, grid, dim3(kTcThreads), 0, b.s)
    (b.out, b.ldo, b.x, b.ldx, static_cast<const uint16_t*>(b.w), b.n, b.o, b.k, ldw, xvec, kper,
     grid.z > 1 ? b.sc->part : nullptr, grid.z > 1 ? b.sc->tickets : nullptr);
  });
}

// sparse_splits is the number of row splits (blockIdx.z) of a SPARSE_T
// launch of xy blocks (column strips x token chunks) over nn tokens: enough
// for kSparseFillBlocks blocks, each split at least kSparseWarps groups of
// 32 rows (a group per warp), at most kSparseMaxSplits, and only as many as
// the scratch holds (partial sums, a ticket per xy block); 1 without it.
constexpr int64_t kSparseFillBlocks = 2 * 132, kSparseMaxSplits = 64;
inline int64_t sparse_splits(const rwkvcu_mm_scratch* sc, int64_t xy, int64_t nn, int64_t o, int64_t k) {
  if (!sc || !sc->part || !sc->tickets || xy > sc->ntickets) return 1;
  int64_t sp = cdiv(kSparseFillBlocks, xy);
  const int64_t by_rows = cdiv(k, 32) / kSparseWarps, by_scratch = sc->part_floats / (nn * o);
  sp = sp < by_rows ? sp : by_rows;
  sp = sp < by_scratch ? sp : by_scratch;
  sp = sp < kSparseMaxSplits ? sp : kSparseMaxSplits;
  return sp > 1 ? sp : 1;
}

template <int WT, int NT, bool VEC>
cudaError_t launch_sparse_nt(const Args& a) {
  constexpr int CPL = VEC ? (kScaled<WT> ? 4 : 2) : 1;
  for (int64_t t0 = 0; t0 < a.n; t0 += kMaxGridY * NT) {
    const int64_t nn = a.n - t0 < kMaxGridY * NT ? a.n - t0 : kMaxGridY * NT;
    const int64_t strips = cdiv(a.o, 32 * CPL), chunks = cdiv(nn, NT), ngroups = cdiv(a.k, 32);
    // whole groups per split, no empty split
    int64_t sp = sparse_splits(a.sc, strips * chunks, nn, a.o, a.k);
    const int64_t gper = ngroups > 0 ? cdiv(ngroups, sp) : 1;
    sp = ngroups > 0 ? cdiv(ngroups, gper) : 1;
    const dim3 grid{unsigned(strips), unsigned(chunks), unsigned(sp)};
    g_last_splits = int32_t(sp);
    auto* kern = sparse_t_kernel<WT, NT, VEC>;
    RWKV_LAUNCH(kern, grid, dim3(kSparseThreads), 0, a.s)
    (a.out + t0 * a.ldo, a.ldo, a.x + t0 * a.ldx, a.ldx, a.w, a.wscale, nn, a.k, a.o, gper,
     sp > 1 ? a.sc->part : nullptr, sp > 1 ? a.sc->tickets : nullptr);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

template <int WT, bool VEC>
cudaError_t launch_sparse_forms(const Args& a) {
  if (a.n <= 1) return launch_sparse_nt<WT, 1, VEC>(a);
  if (a.n <= 2) return launch_sparse_nt<WT, 2, VEC>(a);
  if (a.n <= 4) return launch_sparse_nt<WT, 4, VEC>(a);
  return launch_sparse_nt<WT, 8, VEC>(a);
}

template <int WT>
cudaError_t launch_sparse(const Args& a) {
  constexpr int CPL = kScaled<WT> ? 4 : 2;
  constexpr int64_t bytes = CPL * int64_t(sizeof(typename Elem<WT>::S));
  const bool vec = aligned(a.w, bytes) && (a.o * int64_t(sizeof(typename Elem<WT>::S))) % bytes == 0;
  if (vec) {
    g_last_variant = RWKVCU_MMV_SPARSE_T_VEC;
    return launch_sparse_forms<WT, true>(a);
  }
  g_last_variant = RWKVCU_MMV_SPARSE_T_SCALAR;
  return launch_sparse_forms<WT, false>(a);
}

template <int WT>
cudaError_t dispatch(int32_t family, bool trans, const Args& a) {
  switch (family) {
    case RWKVCU_MM_GEMV:
      if (trans) return cudaErrorInvalidValue;
      return launch_gemv<WT>(a);
    case RWKVCU_MM_SPARSE_T:
      if constexpr (kQuant<WT>) {
        return cudaErrorInvalidValue;
      } else {
        if (!trans) return cudaErrorInvalidValue;
        return launch_sparse<WT>(a);
      }
    case RWKVCU_MM_TC:
      if constexpr (WT == kF16 || WT == kBF16) {
        const bool ok = aligned(a.w, 16) && (trans ? a.o % 8 == 0 : a.k % 8 == 0) && a.k > 0;
        if (ok) return trans ? launch_tc<WT, true>(a) : launch_tc<WT, false>(a);
        return trans ? launch_simt<WT, true>(a) : launch_simt<WT, false>(a);
      } else {
        return cudaErrorInvalidValue;
      }
    case RWKVCU_MM_SIMT:
      if constexpr (kQuant<WT>) {
        if (trans) return cudaErrorInvalidValue;
        return launch_simt<WT, false>(a);
      } else {
        return trans ? launch_simt<WT, true>(a) : launch_simt<WT, false>(a);
      }
    default:
      return cudaErrorInvalidValue;
  }
}

// launch_group_nt launches group_gemv_kernel<NT> (group_wide_kernel when
// WIDE, NT = kGroupWideNT) over the n tokens of args (more than one launch
// only past kMaxGridY chunks of NT tokens).
template <int NT, bool WIDE = false>
cudaError_t launch_group_nt(cudaStream_t s, const GroupArgs& args, int64_t blocks) {
  for (int64_t t0 = 0; t0 < args.n; t0 += kMaxGridY * NT) {
    GroupArgs a = args;
    a.n = args.n - t0 < kMaxGridY * NT ? args.n - t0 : kMaxGridY * NT;
    if (t0 > 0) {
      for (int j = 0; j < a.count; ++j) {
        GroupEntry& e = a.e[j];
        e.out += t0 * e.o;
        e.x += t0 * e.k;
        if (e.lerp) e.lerp += t0 * e.o;
        if (e.bias && !e.bias_bcast) e.bias += t0 * e.o;
      }
    }
    void (*kern)(const GroupArgs);
    if constexpr (WIDE)
      kern = group_wide_kernel;
    else
      kern = group_gemv_kernel<NT>;
    RWKV_LAUNCH(kern, dim3(unsigned(blocks), unsigned(cdiv(a.n, NT))), dim3(kGemvThreads), 0, s)(a);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

// known_dtype reports whether a weight of type dt can be multiplied: a
// known type, with scales for I8 and F8E4M3, and for the block types rows
// of whole blocks (k % 32 == 0) starting 2-byte aligned.
inline bool known_dtype(int32_t dt, const float* wscale, const void* w, int64_t k) {
  if ((dt < kF32 || dt > kF8) && !qblock_is(dt)) return false;
  if ((dt == kI8 || dt == kF8) && !wscale) return false;
  if (qblock_is(dt) && (k % kQK != 0 || !aligned(w, 2))) return false;
  return true;
}

cudaError_t run_group(cudaStream_t s, const rwkvcu_group_product* ps, int32_t count, int64_t n) {
  if (!ps || count < 1 || count > kGroupMax || n < 0) return cudaErrorInvalidValue;
  GroupArgs args{};
  args.count = count;
  args.n = n;
  int64_t blocks = 0;
  for (int j = 0; j < count; ++j) {
    const rwkvcu_group_product& p = ps[j];
    if (!p.out || !p.x || !p.w || p.o < 1 || p.k < 0) return cudaErrorInvalidValue;
    if (!known_dtype(p.wdtype, p.wscale, p.w, p.k)) return cudaErrorInvalidValue;
    if ((p.bias && p.bias_rows != 1 && p.bias_rows != n) || p.act < -1 || p.act > 5) return cudaErrorInvalidValue;
    // The block types always read their rows with 16-bit loads: vec is
    // then about x alone (k % 32 == 0 keeps every token's row aligned).
    const bool vec = qblock_is(p.wdtype) ? aligned(p.x, 16)
                                         : aligned(p.w, 16) && (p.k * int64_t(esize(p.wdtype))) % 16 == 0 && aligned(p.x, 16);
    GroupEntry& e = args.e[j];
    e = GroupEntry{p.out, p.x, p.w, p.wscale, p.bias, p.lerp, p.o, p.k, group_form(p.wdtype, vec), p.act,
                   p.bias_rows == 1, int32_t(blocks)};
    blocks += cdiv(p.o, group_rows(e.form));
    if (blocks > 0x7fffffff) return cudaErrorInvalidValue;
  }
  if (n == 0) return cudaSuccess;
  if (n > kGroupWideMin) {
    // one row per block (see group_wide_kernel)
    blocks = 0;
    for (int j = 0; j < count; ++j) {
      args.e[j].first_block = int32_t(blocks);
      blocks += args.e[j].o;
    }
    if (blocks > 0x7fffffff) return cudaErrorInvalidValue;
    return launch_group_nt<kGroupWideNT, true>(s, args, blocks);
  }
  if (n <= 1) return launch_group_nt<1>(s, args, blocks);
  if (n <= 2) return launch_group_nt<2>(s, args, blocks);
  if (n <= 4) return launch_group_nt<4>(s, args, blocks);
  return launch_group_nt<8>(s, args, blocks);
}

// choose_family is the launch heuristic (see cuda/matmul.cuh).
inline int32_t choose_family(bool trans, int32_t dt, int64_t n) {
  if (n <= 8) return trans ? RWKVCU_MM_SPARSE_T : RWKVCU_MM_GEMV;
  if (dt == kF16 || dt == kBF16) return RWKVCU_MM_TC;
  return RWKVCU_MM_SIMT;
}

cudaError_t run(int32_t family, bool trans, const Args& a, int32_t dt) {
  if (!a.out || !a.x || !a.w || a.n < 0 || a.o < 0 || a.k < 0 || a.ldx < a.k || a.ldo < a.o) return cudaErrorInvalidValue;
  if (!known_dtype(dt, a.wscale, a.w, a.k) || (trans && qblock_is(dt))) return cudaErrorInvalidValue;
  if (a.n == 0 || a.o == 0) return cudaSuccess;
  if (family == RWKVCU_MM_AUTO) family = choose_family(trans, dt, a.n);
  switch (dt) {
    case kF32:
      return dispatch<kF32>(family, trans, a);
    case kF16:
      return dispatch<kF16>(family, trans, a);
    case kBF16:
      return dispatch<kBF16>(family, trans, a);
    case kI8:
      return dispatch<kI8>(family, trans, a);
    case kQ4_0:
      return dispatch<kQ4_0>(family, trans, a);
    case kQ4_1:
      return dispatch<kQ4_1>(family, trans, a);
    case kQ5_0:
      return dispatch<kQ5_0>(family, trans, a);
    case kQ5_1:
      return dispatch<kQ5_1>(family, trans, a);
    case kQ8_0:
      return dispatch<kQ8_0>(family, trans, a);
    default:
      return dispatch<kF8>(family, trans, a);
  }
}

}  // namespace rwkv_mm

cudaError_t rwkvcu_launch_matmul(cudaStream_t s, float* out, int64_t ldo, const float* x, int64_t ldx,
                                 const void* w, int32_t wdtype, const float* wscale, int64_t n, int64_t o,
                                 int64_t k) {
  return rwkvcu_launch_matmul_scratch(s, out, ldo, x, ldx, w, wdtype, wscale, n, o, k, nullptr);
}

cudaError_t rwkvcu_launch_matmul_scratch(cudaStream_t s, float* out, int64_t ldo, const float* x, int64_t ldx,
                                         const void* w, int32_t wdtype, const float* wscale, int64_t n, int64_t o,
                                         int64_t k, const rwkvcu_mm_scratch* sc) {
  return rwkv_mm::run(RWKVCU_MM_AUTO, false, rwkv_mm::Args{s, out, ldo, x, ldx, w, wscale, n, o, k, sc}, wdtype);
}

cudaError_t rwkvcu_launch_matmul_t(cudaStream_t s, float* out, int64_t ldo, const float* x, int64_t ldx,
                                   const void* wt, int32_t wdtype, const float* wscale, int64_t n, int64_t k,
                                   int64_t o) {
  return rwkv_mm::run(RWKVCU_MM_AUTO, true, rwkv_mm::Args{s, out, ldo, x, ldx, wt, wscale, n, o, k, nullptr}, wdtype);
}

cudaError_t rwkvcu_launch_matmul_t_scratch(cudaStream_t s, float* out, int64_t ldo, const float* x, int64_t ldx,
                                           const void* wt, int32_t wdtype, const float* wscale, int64_t n, int64_t k,
                                           int64_t o, const rwkvcu_mm_scratch* sc) {
  return rwkv_mm::run(RWKVCU_MM_AUTO, true, rwkv_mm::Args{s, out, ldo, x, ldx, wt, wscale, n, o, k, sc}, wdtype);
}

cudaError_t rwkvcu_launch_matmul_using(int32_t family, int32_t transposed, cudaStream_t s, float* out, int64_t ldo,
                                       const float* x, int64_t ldx, const void* w, int32_t wdtype,
                                       const float* wscale, int64_t n, int64_t o, int64_t k) {
  return rwkvcu_launch_matmul_using_scratch(family, transposed, s, out, ldo, x, ldx, w, wdtype, wscale, n, o, k,
                                            nullptr);
}

cudaError_t rwkvcu_launch_matmul_using_scratch(int32_t family, int32_t transposed, cudaStream_t s, float* out,
                                               int64_t ldo, const float* x, int64_t ldx, const void* w,
                                               int32_t wdtype, const float* wscale, int64_t n, int64_t o, int64_t k,
                                               const rwkvcu_mm_scratch* sc) {
  return rwkv_mm::run(family, transposed != 0, rwkv_mm::Args{s, out, ldo, x, ldx, w, wscale, n, o, k, sc}, wdtype);
}

int32_t rwkvcu_matmul_last_variant(void) { return rwkv_mm::g_last_variant; }

int32_t rwkvcu_matmul_last_splits(void) { return rwkv_mm::g_last_splits; }

cudaError_t rwkvcu_launch_matmul_group(cudaStream_t s, const rwkvcu_group_product* ps, int32_t count, int64_t n) {
  return rwkv_mm::run_group(s, ps, count, n);
}

// ---- Checked entry points of the C ABI (csrc/include/rwkvcu.h) ------------------------
// Each checks its operands' types and shapes (and the step's batch where it
// reads one) before it queues the kernels above on the context's stream, so a
// failed call launches nothing.

#include "../csrc/internal.h"

using namespace rwkvcu;

extern "C" {

int rwkvcu_matmul(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* x, const rwkvcu_tensor* w) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_matmul";
    T(ctx, w, op, "w");
    const float* xp = F(ctx, x, -1, w->cols, op, "x");
    float* o = F(ctx, out, x->rows, w->rows, op, "out");
    launch(ctx, op, [&] { return rwkvcu_launch_matmul_scratch(ctx->stream, o, w->rows, xp, w->cols, w->data, w->dtype, w->scales,
                                          x->rows, w->rows, w->cols, &ctx->mm_scratch); });
  });
}

int rwkvcu_matmul_t(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* x, const rwkvcu_tensor* wt) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_matmul_t";
    T(ctx, wt, op, "wt");
    if (is_block(wt->dtype))
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %s weights are multiplied by rwkvcu_matmul, not transposed", op,
           dtype_name(wt->dtype));
    const float* xp = F(ctx, x, -1, wt->rows, op, "x");
    float* o = F(ctx, out, x->rows, wt->cols, op, "out");
    launch(ctx, op, [&] { return rwkvcu_launch_matmul_t_scratch(ctx->stream, o, wt->cols, xp, wt->rows, wt->data, wt->dtype, wt->scales,
                                            x->rows, wt->rows, wt->cols, &ctx->mm_scratch); });
  });
}

static_assert(RWKVCU_GROUP_MAX == kGroupMax, "RWKVCU_GROUP_MAX");
static_assert(RWKVCU_NO_FUNCTION == -1, "RWKVCU_NO_FUNCTION");

int rwkvcu_matmul_group(rwkvcu_context* ctx, rwkvcu_tensor* const* outs, const rwkvcu_tensor* const* xs,
                        const rwkvcu_tensor* const* ws, const rwkvcu_tensor* const* biases, const int32_t* acts,
                        const rwkvcu_tensor* const* lerps, int32_t count) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_matmul_group";
    need(outs, "outs");
    need(xs, "xs");
    need(ws, "ws");
    need(biases, "biases");
    need(acts, "acts");
    need(lerps, "lerps");
    if (count < 1 || count > RWKVCU_GROUP_MAX)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: count %d outside [1, %d]", op, int(count), RWKVCU_GROUP_MAX);
    rwkvcu_group_product ps[RWKVCU_GROUP_MAX];
    // The bytes each product reads ([0]: x, w, w's scales, bias, lerp)
    // and writes (out), for the overlap check.
    struct Span {
      const char* p = nullptr;
      size_t bytes = 0;
    };
    auto span = [](const void* p, const rwkvcu_tensor* t, size_t esize) {
      return Span{static_cast<const char*>(p), size_t(t->rows * t->cols) * esize};
    };
    Span reads[RWKVCU_GROUP_MAX][5], writes[RWKVCU_GROUP_MAX];
    int64_t n = -1;
    char name[16];
    for (int j = 0; j < count; ++j) {
      snprintf(name, sizeof name, "ws[%d]", j);
      const rwkvcu_tensor* w = T(ctx, ws[j], op, name);
      snprintf(name, sizeof name, "xs[%d]", j);
      const float* xp = F(ctx, xs[j], n, w->cols, op, name);
      n = xs[j]->rows;
      snprintf(name, sizeof name, "outs[%d]", j);
      float* o = F(ctx, outs[j], n, w->rows, op, name);
      rwkvcu_group_product& p = ps[j];
      p = rwkvcu_group_product{o, xp, w->data, w->dtype, w->scales, nullptr, 0, acts[j], nullptr, w->rows, w->cols};
      reads[j][0] = span(xp, xs[j], 4);
      reads[j][1] = Span{static_cast<const char*>(w->data), size_t(w->rows) * row_bytes(w->dtype, w->cols)};
      if (w->dtype == RWKVCU_I8) reads[j][2] = Span{reinterpret_cast<const char*>(w->scales), size_t(w->rows) * 4};
      if (biases[j]) {
        snprintf(name, sizeof name, "biases[%d]", j);
        p.bias = Fb(ctx, biases[j], n, w->rows, op, name, &p.bias_rows);
        reads[j][3] = span(p.bias, biases[j], 4);
      }
      if (lerps[j]) {
        snprintf(name, sizeof name, "lerps[%d]", j);
        p.lerp = F(ctx, lerps[j], n, w->rows, op, name);
        reads[j][4] = span(p.lerp, lerps[j], 4);
      }
      if (acts[j] != RWKVCU_NO_FUNCTION && (acts[j] < RWKVCU_SIGMOID || acts[j] > RWKVCU_V7_DECAY))
        fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: acts[%d]: unknown function %d", op, j, int(acts[j]));
      writes[j] = span(o, outs[j], 4);
    }
    for (int j = 0; j < count; ++j)
      for (int q = 0; q < count; ++q) {
        for (const Span& r : reads[q])
          if (r.bytes && writes[j].p < r.p + r.bytes && r.p < writes[j].p + writes[j].bytes)
            fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: outs[%d] overlaps an operand of product %d", op, j, q);
        if (q != j && writes[j].p < writes[q].p + writes[q].bytes && writes[q].p < writes[j].p + writes[j].bytes)
          fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: outs[%d] and outs[%d] overlap", op, j, q);
      }
    launch(ctx, op, [&] { return rwkvcu_launch_matmul_group(ctx->stream, ps, count, n); });
  });
}

}  // extern "C"
