// Elementwise, normalisation, token-shift, embedding and RWKV-7 helper
// kernels of rwkvgo (everything but WKV, matmul, sampling and the
// benchmarks' attention), and the fused opening of a sublayer (residual
// add, LayerNorm, token shift and mixes: rwkvcu_add_norm_shift_mix; with
// RWKV-6's LoRA-downs: rwkvcu_add_norm_shift_mix_lora).
// Shapes are in each kernel's comment; [N, C] activations are float32
// row-major. Numerical contract: float32 arithmetic throughout; norms sum in
// float32 with tree reductions (two passes: mean, then the variance of the
// deviations), transcendental functions use the accurate expf/tanhf (never
// the fast-math intrinsics), so every result is within a few ulp of the
// float64 definition in engine/backend; the token-shift mixes round each
// operation as written (no FMA contraction), like the reference backend;
// nothing depends on the schedule of threads, so results are deterministic
// and identical for a row whether it is computed alone or in a batch.
#include "common.cuh"
#include "elementwise.cuh"
#include "matmul.cuh"

namespace {

constexpr int kThreads = 256;  // block size of the elementwise kernels

/// Grid of the elementwise kernels: enough blocks to cover n elements with
/// a grid-stride loop, capped so that huge tensors reuse blocks.
inline unsigned elem_grid(int64_t n) {
  int64_t b = rwkvcu_ceil_div(n, kThreads);
  if (b > 65536) b = 65536;
  return static_cast<unsigned>(b < 1 ? 1 : b);
}

// ---- Embedding ---------------------------------------------------------------

/// embed_kernel: one block per output row i < n: out[i, :C] = emb[tokens[i], :].
template <int DT>
__global__ void embed_kernel(float* __restrict__ out, const void* __restrict__ emb, const float* __restrict__ scales,
                             int64_t V, int64_t C, const int32_t* __restrict__ tokens) {
  const int64_t i = blockIdx.x;
  const int64_t tok = tokens[i];
  float* o = out + i * C;
  if (tok < 0 || tok >= V) {
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) o[c] = 0.f;
    return;
  }
  if constexpr (qblock_is(DT)) {
    const uint8_t* row = static_cast<const uint8_t*>(emb) + tok * qblock_row_bytes(DT, C);
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) o[c] = qblock_elem<DT>(row, c);
  } else {
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) o[c] = load_elem<DT>(emb, tok * C + c, scales, tok);
  }
}

// ---- Norms -------------------------------------------------------------------

/// group_norm_kernel: one block per (row, group) of x [rows, groups*g]. With
/// PER > 0 each thread keeps its PER values in registers (g <= PER *
/// blockDim.x), so x is read once; PER == 0 streams x three times. Every
/// element is read and written by the same thread, so out may alias x.
template <int PER>
__global__ void group_norm_kernel(float* out, const float* x, const float* __restrict__ w,
                                  const float* __restrict__ b, int64_t cols, int g, int groups, float eps) {
  __shared__ float red[32];
  const int64_t row = blockIdx.x / groups;
  const int grp = blockIdx.x % groups;
  const float* xr = x + row * cols + int64_t(grp) * g;
  float* orow = out + row * cols + int64_t(grp) * g;
  const float* wg = w + int64_t(grp) * g;
  const float* bg = b + int64_t(grp) * g;
  if constexpr (PER > 0) {
    float v[PER];
    float sum = 0.f;
#pragma unroll
    for (int t = 0; t < PER; ++t) {
      const int i = threadIdx.x + t * blockDim.x;
      v[t] = i < g ? xr[i] : 0.f;
      sum += v[t];
    }
    const float mean = block_sum(sum, red) / g;
    float sq = 0.f;
#pragma unroll
    for (int t = 0; t < PER; ++t) {
      const int i = threadIdx.x + t * blockDim.x;
      const float d = v[t] - mean;
      if (i < g) sq += d * d;
    }
    const float inv = 1.f / sqrtf(block_sum(sq, red) / g + eps);
#pragma unroll
    for (int t = 0; t < PER; ++t) {
      const int i = threadIdx.x + t * blockDim.x;
      if (i < g) orow[i] = (v[t] - mean) * inv * wg[i] + bg[i];
    }
  } else {
    float sum = 0.f;
    for (int i = threadIdx.x; i < g; i += blockDim.x) sum += xr[i];
    const float mean = block_sum(sum, red) / g;
    float sq = 0.f;
    for (int i = threadIdx.x; i < g; i += blockDim.x) {
      const float d = xr[i] - mean;
      sq += d * d;
    }
    const float inv = 1.f / sqrtf(block_sum(sq, red) / g + eps);
    for (int i = threadIdx.x; i < g; i += blockDim.x) orow[i] = (xr[i] - mean) * inv * wg[i] + bg[i];
  }
}

// ---- Elementwise -------------------------------------------------------------

/// binary_ is the elementwise function FN (RWKVCU_ADD, _SUB, _MUL) of
/// zip_kernel and zip_map_kernel.
template <int FN>
__device__ __forceinline__ float binary_(float x, float y) {
  return FN == 0 ? x + y : FN == 1 ? x - y : x * y;
}

/// map_kernel: out[i] = f(x[i]) for i < n (grid-stride).
template <int FN>
__global__ void map_kernel(float* out, const float* x, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = rwkv_unary<FN>(x[i]);
}

/// zip_kernel: out[i] = f(a[i], b[i or i % cols]) over [rows, cols].
template <int FN>
__global__ void zip_kernel(float* out, const float* a, const float* b, int64_t n, int64_t cols, bool bcast) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = binary_<FN>(a[i], b[bcast ? i % cols : i]);
}

/// zip_map_kernel: out[i] = g(f(a[i], b[i or i % cols])) over [rows, cols],
/// the intermediate a float32 as zip_kernel stores it (so the bits of
/// zip_kernel<F> then map_kernel<G>).
template <int F, int G>
__global__ void zip_map_kernel(float* out, const float* a, const float* b, int64_t n, int64_t cols, bool bcast) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float z = binary_<F>(a[i], b[bcast ? i % cols : i]);
    out[i] = rwkv_unary<G>(z);
  }
}

/// slice_kernel: out [rows, ocols] = x[:, col:col+ocols] of x [rows, xcols].
__global__ void slice_kernel(float* __restrict__ out, const float* __restrict__ x, int64_t rows, int64_t xcols,
                             int64_t ocols, int64_t col) {
  const int64_t n = rows * ocols;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / ocols, c = i - r * ocols;
    out[i] = x[r * xcols + col + c];
  }
}

/// copy_kernel: dst[i] = src[i] for i < n (whole rows, flattened).
__global__ void copy_kernel(float* __restrict__ dst, const float* __restrict__ src, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = src[i];
}

/// gather_kernel: one block per output row i: out[i, :] = x[idx[i], :].
__global__ void gather_kernel(float* __restrict__ out, const float* __restrict__ x, int64_t xrows, int64_t cols,
                              const int32_t* __restrict__ idx) {
  const int64_t i = blockIdx.x, src = idx[i];
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) out[i * cols + c] = (src >= 0 && src < xrows) ? x[src * cols + c] : 0.f;
}

/// mix_value is the token-shift formula: x*m + p*(1-m) (STYLE 0, LERP) or
/// x + (p-x)*m (STYLE 1, DELTA), each operation rounded as written (no FMA
/// contraction): the reference backend's arithmetic, shared by mix_kernel
/// and mix_n_kernel so that rwkvcu_mix and rwkvcu_mix_n agree bit for bit.
template <int STYLE>
__device__ __forceinline__ float mix_value(float x, float p, float m) {
  if constexpr (STYLE == 0) return __fadd_rn(__fmul_rn(x, m), __fmul_rn(p, 1.f - m));
  else return __fadd_rn(x, __fmul_rn(p - x, m));
}

template <int STYLE>
__device__ __forceinline__ float4 mix_value(float4 x, float4 p, float4 m) {
  return make_float4(mix_value<STYLE>(x.x, p.x, m.x), mix_value<STYLE>(x.y, p.y, m.y),
                     mix_value<STYLE>(x.z, p.z, m.z), mix_value<STYLE>(x.w, p.w, m.w));
}

/// mix_kernel: out = mix_value(x, p, m) over [n, C].
template <int STYLE>
__global__ void mix_kernel(float* out, const float* x, const float* p, const float* m, int64_t total, int64_t mtotal) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = mix_value<STYLE>(x[i], p[i], m[i % mtotal]);
}

constexpr int kMaxMixN = 8;      // RWKVCU_MIX_N_MAX
constexpr int kMixNThreads = 128;  // block size of mix_n_kernel

/// MixNArgs holds the outputs and mixes of one mix_n_kernel launch, passed
/// by value in the kernel's parameter space (so a captured graph keeps
/// them). Entries from count on are unused; bit j of bcast marks mix j as a
/// [1, C] vector (else it is [n, C]).
struct MixNArgs {
  float* out[kMaxMixN];
  const float* mix[kMaxMixN];
  int32_t count;
  uint32_t bcast;
};

/// mix_n_kernel: out[j] = mix_value(x, p, mix[j]) for j < args.count over
/// x, p [n, C], in units V of float or float4 (float4 when C % 4 == 0 and
/// every pointer is 16-byte aligned; cv = C / units per row). Grid
/// (ceil(cv / kMixNThreads), min(n, 65535)): the thread of column unit c
/// handles rows blockIdx.y, blockIdx.y + gridDim.y, ...; per element it
/// reads x and p once, then every mix (all loads issued before any store),
/// then writes every output. The mix loops are unrolled over kMaxMixN, so
/// the parameter arrays are only indexed with constants (no local copy).
template <int STYLE, class V>
__global__ void __launch_bounds__(kMixNThreads)
    mix_n_kernel(const V* __restrict__ x, const V* __restrict__ p, int64_t n, int64_t cv, const MixNArgs args) {
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cv) return;
  for (int64_t r = blockIdx.y; r < n; r += gridDim.y) {
    const int64_t i = r * cv + c;
    const V xi = x[i], pi = p[i];
    V m[kMaxMixN];
#pragma unroll
    for (int j = 0; j < kMaxMixN; ++j)
      if (j < args.count) m[j] = reinterpret_cast<const V*>(args.mix[j])[(args.bcast >> j) & 1u ? c : i];
#pragma unroll
    for (int j = 0; j < kMaxMixN; ++j)
      if (j < args.count) reinterpret_cast<V*>(args.out[j])[i] = mix_value<STYLE>(xi, pi, m[j]);
  }
}

// ---- Token shift ---------------------------------------------------------------

/// seq_of returns the sequence owning row r: the largest s < nseq with
/// offsets[s] <= r (binary search over the batch's offsets).
__device__ __forceinline__ int seq_of(const int32_t* offsets, int nseq, int64_t r) {
  int lo = 0, hi = nseq - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) >> 1;
    if (offsets[mid] <= r) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/// shift_kernel: grid n * ceil(C/256) blocks, one thread per (row, channel).
/// prev[r] = x[r-1] inside a sequence; a sequence's first row reads the
/// state and, in the same thread (so without a race), stores the
/// sequence's last row of x into the state.
__global__ void shift_kernel(float* __restrict__ prev, const float* __restrict__ x, float* __restrict__ state,
                             int64_t width, int64_t nslots, int64_t off, int64_t n, int64_t C,
                             const int32_t* __restrict__ batch, int nseq, int64_t cblocks) {
  const int64_t row = blockIdx.x / cblocks;
  const int64_t c = (blockIdx.x % cblocks) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const int32_t* offsets = batch;
  const int32_t* slots = batch + nseq + 1;
  const int s = seq_of(offsets, nseq, row);
  const int64_t first = offsets[s], last = int64_t(offsets[s + 1]) - 1;
  if (row != first) {
    prev[row * C + c] = x[(row - 1) * C + c];
    return;
  }
  const int64_t slot = slots[s];
  if (slot < 0 || slot >= nslots || last >= n || last < first) return;
  float* st = state + slot * width + off + c;
  prev[row * C + c] = *st;
  *st = x[last * C + c];
}

// ---- Fused sublayer opening -----------------------------------------------------

/// add_norm_shift_mix_kernel: one block per row of a decode step over [n, C]
/// (row r is sequence r of the step, in state slot slots[r]):
///
///   x[r] += res[r] (* gate[r])           (res NULL: none; gate NULL: none)
///   xx[r] = LayerNorm(x[r]) * w + b
///   prev[r] = state[slot][off:off+C]; state[slot][off:off+C] = xx[r]
///   out[j][r] = mix_value(xx[r], prev[r], mix[j])   for j < args.count
///
/// The residual add and the norm are zip_kernel's and group_norm_kernel's
/// arithmetic for groups == 1 with the same block size and PER (PER > 0:
/// each thread keeps its PER values of the row in registers; PER == 0
/// streams the row three times), the mixes mix_n_kernel's, so a decode step
/// computes what the op-level composition's kernels compute, operation for
/// operation (bit for bit on the emulator, which contracts nothing). Every element
/// of x, xx, prev, the outputs and the state row is read and written by one
/// thread; the block's only communication is the two sums. A decode step
/// has one block per sequence, few next to the GPU's capacity, so the launch
/// bounds ask for only one resident block per SM: with the default budget
/// (six blocks of 256 threads per SM on sm_86 and sm_89, 40 registers)
/// PER == 16 with the mixes' unrolled epilogue spills.
template <int PER, int STYLE>
__global__ void __launch_bounds__(256, 1)
    add_norm_shift_mix_kernel(float* __restrict__ x, const float* __restrict__ res, const float* __restrict__ gate,
                              float* __restrict__ xx,
                              float* __restrict__ prev, const float* __restrict__ w, const float* __restrict__ b,
                              float* __restrict__ state, int64_t width, int64_t nslots, int64_t off, int C,
                              const int32_t* __restrict__ batch, int nseq, float eps, const MixNArgs args) {
  __shared__ float red[32];
  const int64_t row = blockIdx.x;
  const int64_t slot = batch[nseq + 1 + row];  // the slots follow the nseq+1 offsets
  if (slot < 0 || slot >= nslots) return;      // checked by the entry point; the whole block returns
  const int64_t base = row * C;
  float* xr = x + base;
  const float* rr = res ? res + base : nullptr;
  const float* gr = gate ? gate + base : nullptr;  // the gate's product is rounded first, as zip_kernel's Mul
  float* st = state + slot * width + off;
  // The epilogue of element i of the row: normalised value y.
  auto finish = [&](int i, float y) {
    const float p = st[i];
    xx[base + i] = y;
    prev[base + i] = p;
    st[i] = y;
#pragma unroll
    for (int j = 0; j < kMaxMixN; ++j)
      if (j < args.count) {
        const float m = args.mix[j][(args.bcast >> j) & 1u ? i : base + i];
        args.out[j][base + i] = mix_value<STYLE>(y, p, m);
      }
  };
  if constexpr (PER > 0) {
    float v[PER];
    float sum = 0.f;
#pragma unroll
    for (int t = 0; t < PER; ++t) {
      const int i = threadIdx.x + t * blockDim.x;
      v[t] = 0.f;
      if (i < C) {
        v[t] = xr[i];
        if (rr) {
          v[t] = v[t] + (gr ? __fmul_rn(rr[i], gr[i]) : rr[i]);
          xr[i] = v[t];
        }
      }
      sum += v[t];
    }
    const float mean = block_sum(sum, red) / C;
    float sq = 0.f;
#pragma unroll
    for (int t = 0; t < PER; ++t) {
      const int i = threadIdx.x + t * blockDim.x;
      const float d = v[t] - mean;
      if (i < C) sq += d * d;
    }
    const float inv = 1.f / sqrtf(block_sum(sq, red) / C + eps);
#pragma unroll
    for (int t = 0; t < PER; ++t) {
      const int i = threadIdx.x + t * blockDim.x;
      if (i < C) finish(i, (v[t] - mean) * inv * w[i] + b[i]);
    }
  } else {
    float sum = 0.f;
    for (int i = threadIdx.x; i < C; i += blockDim.x) {
      float v = xr[i];
      if (rr) {
        v = v + (gr ? __fmul_rn(rr[i], gr[i]) : rr[i]);
        xr[i] = v;
      }
      sum += v;
    }
    const float mean = block_sum(sum, red) / C;
    float sq = 0.f;
    for (int i = threadIdx.x; i < C; i += blockDim.x) {
      const float d = xr[i] - mean;
      sq += d * d;
    }
    const float inv = 1.f / sqrtf(block_sum(sq, red) / C + eps);
    for (int i = threadIdx.x; i < C; i += blockDim.x) finish(i, (xr[i] - mean) * inv * w[i] + b[i]);
  }
}

// ---- Fused opening with LoRA-downs (RWKV-6) -------------------------------------

constexpr int kMaxLoRA = 8;  // RWKVCU_GROUP_MAX

/// LoRAArgs holds the LoRA-downs of one norm_lora_kernel launch, by value in
/// the parameter space like MixNArgs: product j has weight w[j] [d, C]
/// (scales ws[j] for I8 and F8E4M3) and output lo[j] [n, d] with d =
/// first[j+1] - first[j]; first[count] is the total of the rows.
struct LoRAArgs {
  float* lo[kMaxLoRA];
  const void* w[kMaxLoRA];
  const float* ws[kMaxLoRA];
  int32_t first[kMaxLoRA + 1];
  int32_t count;
};

/// norm_lora_kernel<DT>: add_norm_shift_mix_kernel's opening of a decode
/// step followed by the LoRA-downs lo[j] = tanh(out[0] @ w[j]^T) of its
/// first mix's output, in one launch. Grid (ceil(rows / warps), nseq), the
/// block size of add_norm_shift_mix_kernel for C; block (bx, r) recomputes
/// the opening of row r (sequence r, slot slots[r]) into dynamic shared
/// memory (C floats: x + residual, then out[0]), with add_norm_shift_mix_kernel's
/// arithmetic and sums, and warp w computes LoRA row bx * warps + w (over
/// every product's rows in order) for the row: a dot product over C by the
/// lanes, reduced by shuffles, then tanh. Every block of row r reads x, the
/// residual, the gate and the state row, which the opening updates in
/// place, so only the last block of the row to take its ticket (tickets[r],
/// taken once the block's reads are done; it leaves the ticket at zero for
/// the next launch or graph replay) writes the opening's outputs (x, xx,
/// prev, the state row, the mixes), recomputed from the values nobody has
/// changed yet. The grid has few blocks (a decode step's LoRA-downs have a
/// few hundred rows), so the launch bounds ask for one resident block per
/// SM, as add_norm_shift_mix_kernel's: with the default budget ptxas 11.8
/// gives the Q4_0 and Q4_1 decoders 48 registers and spills.
template <int DT>
__global__ void __launch_bounds__(256, 1)
    norm_lora_kernel(float* __restrict__ x, const float* __restrict__ res, const float* __restrict__ gate,
                     float* __restrict__ xx, float* __restrict__ prev, const float* __restrict__ w,
                     const float* __restrict__ b, float* __restrict__ state, int64_t width, int64_t nslots, int64_t off,
                     int C, const int32_t* __restrict__ batch, int nseq, float eps, bool delta, const MixNArgs args,
                     const LoRAArgs la, int total, unsigned* __restrict__ tickets) {
  __shared__ float red[32];
  __shared__ int last;
  DYNAMIC_SHARED(float, xa);
  const int64_t row = blockIdx.y;
  const int64_t slot = batch[nseq + 1 + row];  // the slots follow the nseq+1 offsets
  if (slot < 0 || slot >= nslots) return;      // checked by the entry point; every block of the row returns
  const int64_t base = row * C;
  const float* xr = x + base;
  const float* rr = res ? res + base : nullptr;
  const float* gr = gate ? gate + base : nullptr;
  float* st = state + slot * width + off;
  const int tid = threadIdx.x;
  auto mix = [&](float y, float p, float m) { return delta ? mix_value<1>(y, p, m) : mix_value<0>(y, p, m); };
  auto added = [&](int i) { return rr ? xr[i] + (gr ? __fmul_rn(rr[i], gr[i]) : rr[i]) : xr[i]; };
  float sum = 0.f;
  for (int i = tid; i < C; i += blockDim.x) {
    const float v = added(i);
    xa[i] = v;
    sum += v;
  }
  const float mean = block_sum(sum, red) / C;
  float sq = 0.f;
  for (int i = tid; i < C; i += blockDim.x) {
    const float d = xa[i] - mean;
    sq += d * d;
  }
  const float inv = 1.f / sqrtf(block_sum(sq, red) / C + eps);
  const float* m0 = args.mix[0];
  const bool b0 = args.bcast & 1u;
  for (int i = tid; i < C; i += blockDim.x) xa[i] = mix((xa[i] - mean) * inv * w[i] + b[i], st[i], m0[b0 ? i : base + i]);
  __syncthreads();
  if (tid == 0) {
    __threadfence();
    last = atomicAdd(tickets + row, 1u) == gridDim.x - 1;
  }
  // LoRA row q of the concatenation: product j, its row d.
  const int lane = tid & 31, q = int(blockIdx.x) * int(blockDim.x >> 5) + (tid >> 5);
  if (q < total) {
    float* lo = la.lo[0];
    const void* wv = la.w[0];
    const float* ws = la.ws[0];
    int d = q, rows = la.first[1];
#pragma unroll
    for (int j = 1; j < kMaxLoRA; ++j)
      if (j < la.count && q >= la.first[j]) lo = la.lo[j], wv = la.w[j], ws = la.ws[j], d = q - la.first[j], rows = la.first[j + 1] - la.first[j];
    float acc = 0.f;
    if constexpr (qblock_is(DT)) {
      const uint8_t* wr = static_cast<const uint8_t*>(wv) + int64_t(d) * qblock_row_bytes(DT, C);
      for (int i = lane; i < C; i += 32) acc += xa[i] * qblock_elem<DT>(wr, i);
    } else {
      for (int i = lane; i < C; i += 32) acc += xa[i] * load_elem<DT>(wv, int64_t(d) * C + i, ws, d);
    }
    acc = warp_sum(acc);
    if (lane == 0) lo[row * rows + d] = rwkv_unary<1>(acc);  // tanh
  }
  __syncthreads();
  if (!last) return;
  __threadfence();  // the other blocks' tickets before the writes
  for (int i = tid; i < C; i += blockDim.x) {
    const float v = added(i);
    const float y = (v - mean) * inv * w[i] + b[i];
    const float p = st[i];
    if (rr) x[base + i] = v;
    xx[base + i] = y;
    prev[base + i] = p;
    st[i] = y;
#pragma unroll
    for (int j = 0; j < kMaxMixN; ++j)
      if (j < args.count) args.out[j][base + i] = mix(y, p, args.mix[j][(args.bcast >> j) & 1u ? i : base + i]);
  }
  if (tid == 0) tickets[row] = 0u;
}

// ---- RWKV-7 helpers --------------------------------------------------------------

constexpr int kWarpsPerBlock = 8;

/// key_v7_kernel: one warp per (row, head) of [n, C] with heads of N = C/H:
/// kk = (k*kK) / max(||k*kK||, 1e-12), then k *= 1 + (a-1)*kA.
__global__ void key_v7_kernel(float* __restrict__ kk, float* __restrict__ k, const float* __restrict__ a,
                              const float* __restrict__ kK, const float* __restrict__ kA, int64_t n, int64_t C,
                              int H) {
  const int64_t item = int64_t(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  if (item >= n * H) return;  // whole warps exit together
  const int lane = threadIdx.x & 31;
  const int64_t row = item / H;
  const int N = int(C / H);
  const int64_t base = row * C + (item % H) * N;
  const int64_t cb = (item % H) * N;
  float ss = 0.f;
  for (int i = lane; i < N; i += 32) {
    const float x = k[base + i] * kK[cb + i];
    ss += x * x;
  }
  ss = warp_sum(ss);
  const float inv = 1.f / fmaxf(sqrtf(ss), 1e-12f);
  for (int i = lane; i < N; i += 32) {
    const float x = k[base + i];
    kk[base + i] = x * kK[cb + i] * inv;
    k[base + i] = x * (1.f + (a[base + i] - 1.f) * kA[cb + i]);
  }
}

/// value_v7_kernel: v += (first - v) * sigmoid(gate) elementwise, rounded as
/// written (rwkv_lerp).
__global__ void value_v7_kernel(float* v, const float* __restrict__ first, const float* __restrict__ gate,
                                int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float x = v[i];
    v[i] = rwkv_lerp(x, first[i], rwkv_sigmoid(gate[i]));
  }
}

/// bonus_v7_kernel: one warp per (row, head): out += (sum r*k*rK) * v.
__global__ void bonus_v7_kernel(float* out, const float* __restrict__ r, const float* __restrict__ k,
                                const float* __restrict__ v, const float* __restrict__ rK, int64_t n, int64_t C,
                                int H) {
  const int64_t item = int64_t(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  if (item >= n * H) return;
  const int lane = threadIdx.x & 31;
  const int N = int(C / H);
  const int64_t base = (item / H) * C + (item % H) * N;
  const int64_t cb = (item % H) * N;
  float s = 0.f;
  for (int i = lane; i < N; i += 32) s += r[base + i] * k[base + i] * rK[cb + i];
  s = warp_sum(s);
  for (int i = lane; i < N; i += 32) out[base + i] += s * v[base + i];
}

}  // namespace

// ---- Launchers ---------------------------------------------------------------------

cudaError_t rwkvcu_launch_embed(cudaStream_t s, float* out, const void* emb, int32_t dtype, const float* scales,
                                int64_t V, int64_t C, const int32_t* tokens, int64_t n) {
  const unsigned th = C >= 256 ? 256 : 128;
  switch (dtype) {
    case kF32: RWKV_LAUNCH(embed_kernel<kF32>, dim3(unsigned(n)), dim3(th), 0, s)(out, emb, scales, V, C, tokens); break;
    case kF16: RWKV_LAUNCH(embed_kernel<kF16>, dim3(unsigned(n)), dim3(th), 0, s)(out, emb, scales, V, C, tokens); break;
    case kBF16: RWKV_LAUNCH(embed_kernel<kBF16>, dim3(unsigned(n)), dim3(th), 0, s)(out, emb, scales, V, C, tokens); break;
    case kI8: RWKV_LAUNCH(embed_kernel<kI8>, dim3(unsigned(n)), dim3(th), 0, s)(out, emb, scales, V, C, tokens); break;
    case kF8E4M3:
      RWKV_LAUNCH(embed_kernel<kF8E4M3>, dim3(unsigned(n)), dim3(th), 0, s)(out, emb, scales, V, C, tokens);
      break;
    case kQ4_0: RWKV_LAUNCH(embed_kernel<kQ4_0>, dim3(unsigned(n)), dim3(th), 0, s)(out, emb, scales, V, C, tokens); break;
    case kQ4_1: RWKV_LAUNCH(embed_kernel<kQ4_1>, dim3(unsigned(n)), dim3(th), 0, s)(out, emb, scales, V, C, tokens); break;
    case kQ5_0: RWKV_LAUNCH(embed_kernel<kQ5_0>, dim3(unsigned(n)), dim3(th), 0, s)(out, emb, scales, V, C, tokens); break;
    case kQ5_1: RWKV_LAUNCH(embed_kernel<kQ5_1>, dim3(unsigned(n)), dim3(th), 0, s)(out, emb, scales, V, C, tokens); break;
    case kQ8_0: RWKV_LAUNCH(embed_kernel<kQ8_0>, dim3(unsigned(n)), dim3(th), 0, s)(out, emb, scales, V, C, tokens); break;
    default: return cudaErrorInvalidValue;
  }
  return rwkvcu_check_launch();
}

/// GroupNorm (LayerNorm is groups == 1) of x [rows, cols] into out (may
/// alias x): each group of cols/groups values is normalised with its mean and
/// biased variance (two passes, float32 sums), then *w + b ([1, cols]).
cudaError_t rwkvcu_launch_group_norm(cudaStream_t s, float* out, const float* x, const float* w, const float* b,
                                     int64_t rows, int64_t cols, int32_t groups, float eps) {
  const int g = int(cols / groups);
  const int th = g >= 256 ? 256 : int(rwkvcu_ceil_div(g, 32) * 32);
  const int per = int(rwkvcu_ceil_div(g, th));
  const dim3 grid(unsigned(rows * groups)), block(th);
  if (per <= 1) RWKV_LAUNCH(group_norm_kernel<1>, grid, block, 0, s)(out, x, w, b, cols, g, groups, eps);
  else if (per <= 4) RWKV_LAUNCH(group_norm_kernel<4>, grid, block, 0, s)(out, x, w, b, cols, g, groups, eps);
  else if (per <= 16) RWKV_LAUNCH(group_norm_kernel<16>, grid, block, 0, s)(out, x, w, b, cols, g, groups, eps);
  else RWKV_LAUNCH(group_norm_kernel<0>, grid, block, 0, s)(out, x, w, b, cols, g, groups, eps);
  return rwkvcu_check_launch();
}

/// out = f(x) for n elements (f an RWKVCU_SIGMOID ... value); out may alias x.
cudaError_t rwkvcu_launch_map(cudaStream_t s, float* out, const float* x, int64_t n, int32_t fn) {
  const dim3 grid(elem_grid(n)), block(kThreads);
  switch (fn) {
    case 0: RWKV_LAUNCH(map_kernel<0>, grid, block, 0, s)(out, x, n); break;
    case 1: RWKV_LAUNCH(map_kernel<1>, grid, block, 0, s)(out, x, n); break;
    case 2: RWKV_LAUNCH(map_kernel<2>, grid, block, 0, s)(out, x, n); break;
    case 3: RWKV_LAUNCH(map_kernel<3>, grid, block, 0, s)(out, x, n); break;
    case 4: RWKV_LAUNCH(map_kernel<4>, grid, block, 0, s)(out, x, n); break;
    case 5: RWKV_LAUNCH(map_kernel<5>, grid, block, 0, s)(out, x, n); break;
    default: return cudaErrorInvalidValue;
  }
  return rwkvcu_check_launch();
}

/// out = g(f(a, b)) for [rows, cols]; b has brows (1 or rows) rows; out may alias a.
cudaError_t rwkvcu_launch_zip_map(cudaStream_t s, float* out, const float* a, const float* b, int64_t rows,
                                  int64_t cols, int64_t brows, int32_t fn, int32_t gn) {
  const int64_t n = rows * cols;
  const dim3 grid(elem_grid(n)), block(kThreads);
  const bool bc = brows == 1 && rows != 1;
#define RWKVCU_ZIP_MAP_CASE(F, G) \
  case F * 8 + G: RWKV_LAUNCH((zip_map_kernel<F, G>), grid, block, 0, s)(out, a, b, n, cols, bc); break;
#define RWKVCU_ZIP_MAP_ROW(F) \
  RWKVCU_ZIP_MAP_CASE(F, 0) RWKVCU_ZIP_MAP_CASE(F, 1) RWKVCU_ZIP_MAP_CASE(F, 2) \
  RWKVCU_ZIP_MAP_CASE(F, 3) RWKVCU_ZIP_MAP_CASE(F, 4) RWKVCU_ZIP_MAP_CASE(F, 5)
  switch (fn * 8 + gn) {
    RWKVCU_ZIP_MAP_ROW(0)
    RWKVCU_ZIP_MAP_ROW(1)
    RWKVCU_ZIP_MAP_ROW(2)
    default: return cudaErrorInvalidValue;
  }
#undef RWKVCU_ZIP_MAP_ROW
#undef RWKVCU_ZIP_MAP_CASE
  return rwkvcu_check_launch();
}

/// out = f(a, b) for [rows, cols]; b has brows (1 or rows) rows; out may alias a.
cudaError_t rwkvcu_launch_zip(cudaStream_t s, float* out, const float* a, const float* b, int64_t rows,
                              int64_t cols, int64_t brows, int32_t fn) {
  const int64_t n = rows * cols;
  const dim3 grid(elem_grid(n)), block(kThreads);
  const bool bc = brows == 1 && rows != 1;
  switch (fn) {
    case 0: RWKV_LAUNCH(zip_kernel<0>, grid, block, 0, s)(out, a, b, n, cols, bc); break;
    case 1: RWKV_LAUNCH(zip_kernel<1>, grid, block, 0, s)(out, a, b, n, cols, bc); break;
    case 2: RWKV_LAUNCH(zip_kernel<2>, grid, block, 0, s)(out, a, b, n, cols, bc); break;
    default: return cudaErrorInvalidValue;
  }
  return rwkvcu_check_launch();
}

/// out [rows, ocols] = columns [col, col+ocols) of x [rows, xcols].
cudaError_t rwkvcu_launch_slice(cudaStream_t s, float* out, const float* x, int64_t rows, int64_t xcols,
                                int64_t ocols, int64_t col) {
  RWKV_LAUNCH(slice_kernel, dim3(elem_grid(rows * ocols)), dim3(kThreads), 0, s)(out, x, rows, xcols, ocols, col);
  return rwkvcu_check_launch();
}

/// dst[0:n) = src[0:n) on the device; the ranges do not overlap.
cudaError_t rwkvcu_launch_copy_rows(cudaStream_t s, float* dst, const float* src, int64_t n) {
  RWKV_LAUNCH(copy_kernel, dim3(elem_grid(n)), dim3(kThreads), 0, s)(dst, src, n);
  return rwkvcu_check_launch();
}

/// out[i, :] = x[idx[i], :] for i < n; x has xrows rows (ids outside give zeros).
cudaError_t rwkvcu_launch_gather_rows(cudaStream_t s, float* out, const float* x, int64_t xrows, int64_t cols,
                                      const int32_t* idx, int64_t n) {
  RWKV_LAUNCH(gather_kernel, dim3(unsigned(n)), dim3(cols >= 256 ? 256 : 128), 0, s)(out, x, xrows, cols, idx);
  return rwkvcu_check_launch();
}

/// Token shift of x [n, C] into prev [n, C] with the state at
/// state[slot*width + off ..] (see backend.Backend.Shift).
cudaError_t rwkvcu_launch_shift(cudaStream_t s, float* prev, const float* x, float* state, int64_t width,
                                int64_t nslots, int64_t off, int64_t n, int64_t C, const int32_t* batch,
                                int32_t nseq) {
  const int64_t cb = rwkvcu_ceil_div(C, kThreads);
  RWKV_LAUNCH(shift_kernel, dim3(unsigned(n * cb)), dim3(kThreads), 0, s)(prev, x, state, width, nslots, off, n, C,
                                                                          batch, nseq, cb);
  return rwkvcu_check_launch();
}

/// Token-shift interpolation of x and prev [n, C] with mix [mrows, C]
/// (mrows 1 or n); style RWKVCU_MIX_LERP or RWKVCU_MIX_DELTA.
cudaError_t rwkvcu_launch_mix(cudaStream_t s, float* out, const float* x, const float* prev, const float* mix,
                              int64_t n, int64_t C, int64_t mrows, int32_t style) {
  const int64_t total = n * C, mt = mrows * C;
  const dim3 grid(elem_grid(total)), block(kThreads);
  if (style == 0) RWKV_LAUNCH(mix_kernel<0>, grid, block, 0, s)(out, x, prev, mix, total, mt);
  else RWKV_LAUNCH(mix_kernel<1>, grid, block, 0, s)(out, x, prev, mix, total, mt);
  return rwkvcu_check_launch();
}

namespace {

/// launch_mix_n queues mix_n_kernel<STYLE> in float4 (vec) or float units.
template <int STYLE>
void launch_mix_n(cudaStream_t s, bool vec, const float* x, const float* p, int64_t n, int64_t cv, const MixNArgs& args) {
  const dim3 grid(unsigned(rwkvcu_ceil_div(cv, kMixNThreads)), unsigned(n < 65535 ? n : 65535)), block(kMixNThreads);
  if (vec) {
    auto* kern = &mix_n_kernel<STYLE, float4>;
    RWKV_LAUNCH(kern, grid, block, 0, s)(reinterpret_cast<const float4*>(x), reinterpret_cast<const float4*>(p), n, cv, args);
  } else {
    auto* kern = &mix_n_kernel<STYLE, float>;
    RWKV_LAUNCH(kern, grid, block, 0, s)(x, p, n, cv, args);
  }
}

}  // namespace

/// count (1 to RWKVCU_MIX_N_MAX) token-shift interpolations of the same x and
/// prev [n, C] in one launch: outs[j] [n, C] = rwkvcu_launch_mix's result for
/// mixes[j] with mrows[j] (1 or n) rows, bit for bit. The host arrays outs,
/// mixes and mrows are read before the call returns; no output may alias x,
/// prev, a mix or another output.
cudaError_t rwkvcu_launch_mix_n(cudaStream_t s, float* const* outs, const float* x, const float* prev,
                                const float* const* mixes, const int64_t* mrows, int32_t count, int64_t n, int64_t C,
                                int32_t style) {
  if (count < 1 || count > kMaxMixN || n < 1 || C < 1) return cudaErrorInvalidValue;
  MixNArgs args{};
  args.count = count;
  auto aligned = [](const void* q) { return reinterpret_cast<uintptr_t>(q) % 16 == 0; };
  bool vec = C % 4 == 0 && aligned(x) && aligned(prev);
  for (int j = 0; j < count; ++j) {
    args.out[j] = outs[j];
    args.mix[j] = mixes[j];
    if (mrows[j] == 1) args.bcast |= 1u << j;
    vec = vec && aligned(outs[j]) && aligned(mixes[j]);
  }
  const int64_t cv = vec ? C / 4 : C;
  if (style == 0) launch_mix_n<0>(s, vec, x, prev, n, cv, args);
  else launch_mix_n<1>(s, vec, x, prev, n, cv, args);
  return rwkvcu_check_launch();
}

namespace {

/// launch_add_norm_shift_mix queues add_norm_shift_mix_kernel<PER, STYLE>
/// for C: group_norm_kernel's block size and PER.
template <int STYLE>
void launch_add_norm_shift_mix(cudaStream_t s, float* x, const float* res, const float* gate, float* xx, float* prev,
                               const float* w,
                               const float* b, float* state, int64_t width, int64_t nslots, int64_t off, int64_t C,
                               const int32_t* batch, int32_t nseq, float eps, const MixNArgs& args) {
  const int th = C >= 256 ? 256 : int(rwkvcu_ceil_div(C, 32) * 32);
  const int per = int(rwkvcu_ceil_div(C, th));
  auto* kern = per <= 1    ? &add_norm_shift_mix_kernel<1, STYLE>
               : per <= 4  ? &add_norm_shift_mix_kernel<4, STYLE>
               : per <= 16 ? &add_norm_shift_mix_kernel<16, STYLE>
                           : &add_norm_shift_mix_kernel<0, STYLE>;
  const dim3 grid(static_cast<unsigned>(nseq)), block(static_cast<unsigned>(th));
  RWKV_LAUNCH(kern, grid, block, 0, s)(x, res, gate, xx, prev, w, b, state, width, nslots, off, int(C), batch, int(nseq),
                                       eps, args);
}

}  // namespace

/// The opening of a sublayer over x [n, C] (see rwkvcu_add_norm_shift_mix):
/// x += res (res NULL: none; times gate unless gate is NULL), xx = LayerNorm(x), the token shift of xx into
/// prev through the state at state[slot*width + off ..], and count mixes
/// outs[j] of xx and prev with mixes[j] [mrows[j], C] (mrows 1 or n). A
/// decode step (n == nseq: one row per sequence) is one launch of
/// add_norm_shift_mix_kernel; a step with a longer sequence, whose shift
/// reads other rows' norms, queues the kernels of the composition (zip,
/// group_norm, shift, mix_n). The host arrays are read before the call
/// returns.
cudaError_t rwkvcu_launch_add_norm_shift_mix(cudaStream_t s, float* const* outs, float* xx, float* prev, float* x,
                                             const float* res, const float* gate, const float* w, const float* b,
                                             float* state,
                                             int64_t width, int64_t nslots, int64_t off,
                                             const float* const* mixes, const int64_t* mrows, int32_t count,
                                             int64_t n, int64_t C, const int32_t* batch, int32_t nseq,
                                             int32_t style, float eps) {
  if (count < 1 || count > kMaxMixN || n < 1 || C < 1 || nseq < 1) return cudaErrorInvalidValue;
  if (n != nseq) {
    if (res && gate) {  // xx holds the gated residual until the norm writes it
      if (cudaError_t e = rwkvcu_launch_zip(s, xx, res, gate, n, C, n, 2)) return e;
      if (cudaError_t e = rwkvcu_launch_zip(s, x, x, xx, n, C, n, 0)) return e;
    } else if (res) {
      if (cudaError_t e = rwkvcu_launch_zip(s, x, x, res, n, C, n, 0)) return e;
    }
    if (cudaError_t e = rwkvcu_launch_group_norm(s, xx, x, w, b, n, C, 1, eps)) return e;
    if (cudaError_t e = rwkvcu_launch_shift(s, prev, xx, state, width, nslots, off, n, C, batch, nseq)) return e;
    return rwkvcu_launch_mix_n(s, outs, xx, prev, mixes, mrows, count, n, C, style);
  }
  MixNArgs args{};
  args.count = count;
  for (int j = 0; j < count; ++j) {
    args.out[j] = outs[j];
    args.mix[j] = mixes[j];
    if (mrows[j] == 1) args.bcast |= 1u << j;
  }
  if (style == 0) launch_add_norm_shift_mix<0>(s, x, res, gate, xx, prev, w, b, state, width, nslots, off, C, batch, nseq, eps, args);
  else launch_add_norm_shift_mix<1>(s, x, res, gate, xx, prev, w, b, state, width, nslots, off, C, batch, nseq, eps, args);
  return rwkvcu_check_launch();
}

/// The opening of a sublayer (rwkvcu_launch_add_norm_shift_mix's arguments
/// up to eps) followed by lcount LoRA-downs lo[j] [n, lrows[j]] =
/// tanh(outs[0] @ w1[j]^T), w1[j] [lrows[j], C] of element type ldt[j]
/// (scales lws[j] for I8 and F8E4M3). A decode step whose LoRA matrices
/// share one element type, within the limits below, is one launch of
/// norm_lora_kernel with tickets[0, nseq) (ntickets counters, zero between
/// launches); another is the launches of the composition
/// (rwkvcu_launch_add_norm_shift_mix, rwkvcu_launch_matmul_group). The host
/// arrays are read before the call returns.
cudaError_t rwkvcu_launch_add_norm_shift_mix_lora(cudaStream_t s, float* const* outs, float* xx, float* prev, float* x,
                                                  const float* res, const float* gate, const float* w, const float* b,
                                                  float* state, int64_t width, int64_t nslots, int64_t off,
                                                  const float* const* mixes, const int64_t* mrows, int32_t count,
                                                  int64_t n, int64_t C, const int32_t* batch, int32_t nseq,
                                                  int32_t style, float eps, float* const* lo, const void* const* w1,
                                                  const int32_t* ldt, const float* const* lws, const int64_t* lrows,
                                                  int32_t lcount, unsigned* tickets, int64_t ntickets) {
  if (count < 1 || count > kMaxMixN || lcount < 1 || lcount > kMaxLoRA || n < 1 || C < 1 || nseq < 1)
    return cudaErrorInvalidValue;
  int64_t total = 0;
  bool same = true;
  for (int j = 0; j < lcount; ++j) {
    total += lrows[j];
    same = same && ldt[j] == ldt[0];
  }
  const int th = C >= 256 ? 256 : int(rwkvcu_ceil_div(C, 32) * 32);
  const int64_t bx = rwkvcu_ceil_div(total, th / 32);
  const size_t smem = size_t(C) * sizeof(float);
  if (n != nseq || !same || !tickets || nseq > ntickets || nseq > 65535 || smem > 48 * 1024 || total > (int64_t(1) << 30)) {
    if (cudaError_t e = rwkvcu_launch_add_norm_shift_mix(s, outs, xx, prev, x, res, gate, w, b, state, width, nslots, off,
                                                         mixes, mrows, count, n, C, batch, nseq, style, eps))
      return e;
    rwkvcu_group_product ps[kMaxLoRA] = {};
    for (int j = 0; j < lcount; ++j)
      ps[j] = rwkvcu_group_product{lo[j], outs[0], w1[j], ldt[j], lws[j], nullptr, 0, 1 /* tanh */, nullptr, lrows[j], C};
    return rwkvcu_launch_matmul_group(s, ps, lcount, n);
  }
  MixNArgs args{};
  args.count = count;
  for (int j = 0; j < count; ++j) {
    args.out[j] = outs[j];
    args.mix[j] = mixes[j];
    if (mrows[j] == 1) args.bcast |= 1u << j;
  }
  LoRAArgs la{};
  la.count = lcount;
  for (int j = 0; j < lcount; ++j) {
    la.lo[j] = lo[j];
    la.w[j] = w1[j];
    la.ws[j] = lws[j];
    la.first[j + 1] = la.first[j] + int32_t(lrows[j]);
  }
  const dim3 grid(static_cast<unsigned>(bx), static_cast<unsigned>(nseq)), block(static_cast<unsigned>(th));
#define RWKVCU_NORM_LORA_CASE(DTV)                                                                                 \
  case DTV: {                                                                                                       \
    auto* kern = &norm_lora_kernel<DTV>;                                                                            \
    RWKV_LAUNCH(kern, grid, block, smem, s)(x, res, gate, xx, prev, w, b, state, width, nslots, off, int(C), batch, \
                                            int(nseq), eps, style == 1, args, la, int(total), tickets);             \
    break;                                                                                                          \
  }
  switch (ldt[0]) {
    RWKVCU_NORM_LORA_CASE(kF32)
    RWKVCU_NORM_LORA_CASE(kF16)
    RWKVCU_NORM_LORA_CASE(kBF16)
    RWKVCU_NORM_LORA_CASE(kI8)
    RWKVCU_NORM_LORA_CASE(kF8E4M3)
    RWKVCU_NORM_LORA_CASE(kQ4_0)
    RWKVCU_NORM_LORA_CASE(kQ4_1)
    RWKVCU_NORM_LORA_CASE(kQ5_0)
    RWKVCU_NORM_LORA_CASE(kQ5_1)
    RWKVCU_NORM_LORA_CASE(kQ8_0)
    default:
      return cudaErrorInvalidValue;
  }
#undef RWKVCU_NORM_LORA_CASE
  return rwkvcu_check_launch();
}

/// RWKV-7 key preprocessing over [n, C]: kk = l2norm_head(k*kK), k *= 1+(a-1)*kA.
cudaError_t rwkvcu_launch_key_v7(cudaStream_t s, float* kk, float* k, const float* a, const float* kK,
                                 const float* kA, int64_t n, int64_t C, int32_t heads) {
  const unsigned blocks = unsigned(rwkvcu_ceil_div(n * heads, kWarpsPerBlock));
  RWKV_LAUNCH(key_v7_kernel, dim3(blocks), dim3(32 * kWarpsPerBlock), 0, s)(kk, k, a, kK, kA, n, C, heads);
  return rwkvcu_check_launch();
}

/// RWKV-7 value residual over [n, C]: v += (first-v)*sigmoid(gate).
cudaError_t rwkvcu_launch_value_v7(cudaStream_t s, float* v, const float* first, const float* gate, int64_t n) {
  RWKV_LAUNCH(value_v7_kernel, dim3(elem_grid(n)), dim3(kThreads), 0, s)(v, first, gate, n);
  return rwkvcu_check_launch();
}

/// RWKV-7 bonus over [n, C]: out += sum_head(r*k*rK) * v.
cudaError_t rwkvcu_launch_bonus_v7(cudaStream_t s, float* out, const float* r, const float* k, const float* v,
                                   const float* rK, int64_t n, int64_t C, int32_t heads) {
  const unsigned blocks = unsigned(rwkvcu_ceil_div(n * heads, kWarpsPerBlock));
  RWKV_LAUNCH(bonus_v7_kernel, dim3(blocks), dim3(32 * kWarpsPerBlock), 0, s)(out, r, k, v, rK, n, C, heads);
  return rwkvcu_check_launch();
}

// ---- Checked entry points of the C ABI (csrc/include/rwkvcu.h) ------------------------
// Each checks its operands' types and shapes (and the step's batch where it
// reads one) before it queues the kernels above on the context's stream, so a
// failed call launches nothing.

#include "../csrc/internal.h"

using namespace rwkvcu;

extern "C" {

int rwkvcu_embed(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* emb, const int32_t* tokens, int64_t n) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_embed";
    T(ctx, emb, op, "emb");
    need(tokens, "tokens");
    float* o = F(ctx, out, n, emb->cols, op, "out");
    for (int64_t i = 0; i < n; ++i)
      if (tokens[i] < 0 || tokens[i] >= emb->rows)
        fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: token %d outside a vocabulary of %lld", op, int(tokens[i]), (long long)emb->rows);
    auto* d = static_cast<const int32_t*>(stage(ctx, tokens, size_t(n) * 4));
    launch(ctx, op, [&] { return rwkvcu_launch_embed(ctx->stream, o, emb->data, emb->dtype, emb->scales, emb->rows, emb->cols, d, n); });
  });
}

int rwkvcu_layer_norm(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* x, const rwkvcu_tensor* w,
                      const rwkvcu_tensor* b, float eps) {
  return rwkvcu_group_norm(ctx, out, x, w, b, 1, eps);
}

int rwkvcu_group_norm(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* x, const rwkvcu_tensor* w,
                      const rwkvcu_tensor* b, int32_t groups, float eps) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = groups == 1 ? "rwkvcu_layer_norm" : "rwkvcu_group_norm";
    const float* xp = F(ctx, x, -1, -1, op, "x");
    float* o = F(ctx, out, x->rows, x->cols, op, "out");
    const float* wp = F(ctx, w, 1, x->cols, op, "w");
    const float* bp = F(ctx, b, 1, x->cols, op, "b");
    if (groups <= 0 || x->cols % groups != 0)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %d groups do not divide %lld", op, int(groups), (long long)x->cols);
    launch(ctx, op, [&] { return rwkvcu_launch_group_norm(ctx->stream, o, xp, wp, bp, x->rows, x->cols, groups, eps); });
  });
}

int rwkvcu_map(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* x, int32_t fn) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_map";
    const float* xp = F(ctx, x, -1, -1, op, "x");
    float* o = F(ctx, out, x->rows, x->cols, op, "out");
    if (fn < RWKVCU_SIGMOID || fn > RWKVCU_V7_DECAY) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: unknown function %d", op, int(fn));
    launch(ctx, op, [&] { return rwkvcu_launch_map(ctx->stream, o, xp, x->rows * x->cols, fn); });
  });
}

int rwkvcu_zip(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* a, const rwkvcu_tensor* b, int32_t fn) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_zip";
    const float* ap = F(ctx, a, -1, -1, op, "a");
    float* o = F(ctx, out, a->rows, a->cols, op, "out");
    int64_t br = 0;
    const float* bp = Fb(ctx, b, a->rows, a->cols, op, "b", &br);
    if (fn < RWKVCU_ADD || fn > RWKVCU_MUL) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: unknown function %d", op, int(fn));
    launch(ctx, op, [&] { return rwkvcu_launch_zip(ctx->stream, o, ap, bp, a->rows, a->cols, br, fn); });
  });
}

int rwkvcu_zip_map(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* a, const rwkvcu_tensor* b,
                   int32_t fn, int32_t gn) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_zip_map";
    const float* ap = F(ctx, a, -1, -1, op, "a");
    float* o = F(ctx, out, a->rows, a->cols, op, "out");
    int64_t br = 0;
    const float* bp = Fb(ctx, b, a->rows, a->cols, op, "b", &br);
    if (fn < RWKVCU_ADD || fn > RWKVCU_MUL) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: unknown function %d", op, int(fn));
    if (gn < RWKVCU_SIGMOID || gn > RWKVCU_V7_DECAY) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: unknown function %d", op, int(gn));
    launch(ctx, op, [&] { return rwkvcu_launch_zip_map(ctx->stream, o, ap, bp, a->rows, a->cols, br, fn, gn); });
  });
}

int rwkvcu_slice(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* x, int64_t col) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_slice";
    const float* xp = F(ctx, x, -1, -1, op, "x");
    float* o = F(ctx, out, x->rows, -1, op, "out");
    if (col < 0 || col + out->cols > x->cols)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: columns [%lld, %lld) outside %lld", op, (long long)col,
           (long long)(col + out->cols), (long long)x->cols);
    launch(ctx, op, [&] { return rwkvcu_launch_slice(ctx->stream, o, xp, x->rows, x->cols, out->cols, col); });
  });
}

int rwkvcu_gather_rows(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* x, const int32_t* rows, int64_t n) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_gather_rows";
    const float* xp = F(ctx, x, -1, -1, op, "x");
    float* o = F(ctx, out, n, x->cols, op, "out");
    need(rows, "rows");
    for (int64_t i = 0; i < n; ++i)
      if (rows[i] < 0 || rows[i] >= x->rows)
        fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: row %d outside [0, %lld)", op, int(rows[i]), (long long)x->rows);
    auto* d = static_cast<const int32_t*>(stage(ctx, rows, size_t(n) * 4));
    launch(ctx, op, [&] { return rwkvcu_launch_gather_rows(ctx->stream, o, xp, x->rows, x->cols, d, n); });
  });
}

int rwkvcu_copy_rows(rwkvcu_context* ctx, rwkvcu_tensor* dst, int64_t dst_row, const rwkvcu_tensor* src,
                     int64_t src_row, int64_t n) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_copy_rows";
    const float* sp = F(ctx, src, -1, -1, op, "src");
    float* dp = F(ctx, dst, -1, src->cols, op, "dst");
    if (n < 1 || dst_row < 0 || src_row < 0 || dst_row + n > dst->rows || src_row + n > src->rows)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %lld rows from row %lld of [%lld, %lld] to row %lld of [%lld, %lld]", op,
           (long long)n, (long long)src_row, (long long)src->rows, (long long)src->cols, (long long)dst_row,
           (long long)dst->rows, (long long)dst->cols);
    const int64_t cols = src->cols;
    const float* s0 = sp + src_row * cols;
    float* d0 = dp + dst_row * cols;
    if (d0 < s0 + n * cols && s0 < d0 + n * cols)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: overlapping source and destination rows", op);
    launch(ctx, op, [&] { return rwkvcu_launch_copy_rows(ctx->stream, d0, s0, n * cols); });
  });
}

int rwkvcu_shift(rwkvcu_context* ctx, rwkvcu_tensor* prev, const rwkvcu_tensor* x, rwkvcu_tensor* state, int64_t off) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_shift";
    const float* xp = F(ctx, x, -1, -1, op, "x");
    float* pp = F(ctx, prev, x->rows, x->cols, op, "prev");
    float* sp = state_range(ctx, state, off, x->cols, op);
    int32_t nseq = 0;
    const int32_t* b = step_batch(ctx, x->rows, state->rows, &nseq, op);
    launch(ctx, op, [&] { return rwkvcu_launch_shift(ctx->stream, pp, xp, sp, state->cols, state->rows, off, x->rows, x->cols, b, nseq); });
  });
}

int rwkvcu_mix(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* x, const rwkvcu_tensor* prev,
               const rwkvcu_tensor* mix, int32_t style) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_mix";
    const float* xp = F(ctx, x, -1, -1, op, "x");
    float* o = F(ctx, out, x->rows, x->cols, op, "out");
    const float* pp = F(ctx, prev, x->rows, x->cols, op, "prev");
    int64_t mr = 0;
    const float* mp = Fb(ctx, mix, x->rows, x->cols, op, "mix", &mr);
    if (style != RWKVCU_MIX_LERP && style != RWKVCU_MIX_DELTA) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: unknown style %d", op, int(style));
    launch(ctx, op, [&] { return rwkvcu_launch_mix(ctx->stream, o, xp, pp, mp, x->rows, x->cols, mr, style); });
  });
}

int rwkvcu_mix_n(rwkvcu_context* ctx, rwkvcu_tensor* const* outs, const rwkvcu_tensor* x, const rwkvcu_tensor* prev,
                 const rwkvcu_tensor* const* mixes, int32_t count, int32_t style) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_mix_n";
    need(outs, "outs");
    need(mixes, "mixes");
    if (count < 1 || count > RWKVCU_MIX_N_MAX)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: count %d outside [1, %d]", op, int(count), RWKVCU_MIX_N_MAX);
    const float* xp = F(ctx, x, -1, -1, op, "x");
    const float* pp = F(ctx, prev, x->rows, x->cols, op, "prev");
    float* o[RWKVCU_MIX_N_MAX];
    const float* mp[RWKVCU_MIX_N_MAX];
    int64_t mr[RWKVCU_MIX_N_MAX];
    char name[16];
    for (int j = 0; j < count; ++j) {
      snprintf(name, sizeof name, "outs[%d]", j);
      o[j] = F(ctx, outs[j], x->rows, x->cols, op, name);
      snprintf(name, sizeof name, "mixes[%d]", j);
      mp[j] = Fb(ctx, mixes[j], x->rows, x->cols, op, name, &mr[j]);
    }
    if (style != RWKVCU_MIX_LERP && style != RWKVCU_MIX_DELTA) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: unknown style %d", op, int(style));
    launch(ctx, op, [&] { return rwkvcu_launch_mix_n(ctx->stream, o, xp, pp, mp, mr, count, x->rows, x->cols, style); });
  });
}

}  // extern "C"

namespace {

/// NormOperands are the checked operands of rwkvcu_add_norm_shift_mix.
struct NormOperands {
  float* o[RWKVCU_MIX_N_MAX];
  const float* mp[RWKVCU_MIX_N_MAX];
  int64_t mr[RWKVCU_MIX_N_MAX];
  float *xxp, *pp, *xp, *sp;
  const float *rp, *gp, *lwp, *lbp;
  int64_t n, C;
  const int32_t* b;
  int32_t nseq;
};

/// check_norm checks the operands of rwkvcu_add_norm_shift_mix (failing
/// with a message naming op) and returns them.
NormOperands check_norm(rwkvcu_context* ctx, const char* op, rwkvcu_tensor* const* outs, rwkvcu_tensor* xx,
                        rwkvcu_tensor* prev, rwkvcu_tensor* x, const rwkvcu_tensor* residual, const rwkvcu_tensor* gate,
                        const rwkvcu_tensor* ln_w, const rwkvcu_tensor* ln_b, rwkvcu_tensor* state, int64_t off,
                        const rwkvcu_tensor* const* mixes, int32_t count, int32_t style) {
  NormOperands r{};
  need(outs, "outs");
  need(mixes, "mixes");
  if (count < 1 || count > RWKVCU_MIX_N_MAX)
    fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: count %d outside [1, %d]", op, int(count), RWKVCU_MIX_N_MAX);
  r.xp = F(ctx, x, -1, -1, op, "x");
  const int64_t n = x->rows, C = x->cols;
  r.n = n, r.C = C;
  r.rp = residual ? F(ctx, residual, n, C, op, "residual") : nullptr;
  r.gp = gate ? F(ctx, gate, n, C, op, "gate") : nullptr;
  if (r.gp && !r.rp) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: a gate without a residual", op);
  r.xxp = F(ctx, xx, n, C, op, "xx");
  r.pp = F(ctx, prev, n, C, op, "prev");
  r.lwp = F(ctx, ln_w, 1, C, op, "ln_w");
  r.lbp = F(ctx, ln_b, 1, C, op, "ln_b");
  char name[16];
  for (int j = 0; j < count; ++j) {
    snprintf(name, sizeof name, "outs[%d]", j);
    r.o[j] = F(ctx, outs[j], n, C, op, name);
    snprintf(name, sizeof name, "mixes[%d]", j);
    r.mp[j] = Fb(ctx, mixes[j], n, C, op, name, &r.mr[j]);
  }
  if (style != RWKVCU_MIX_LERP && style != RWKVCU_MIX_DELTA) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: unknown style %d", op, int(style));
  r.sp = state_range(ctx, state, off, C, op);
  // What the call writes (xx, prev, x, the outputs) must be distinct and
  // not alias what it reads.
  const void* written[3 + RWKVCU_MIX_N_MAX] = {r.xxp, r.pp, r.xp};
  const void* read[5 + RWKVCU_MIX_N_MAX] = {r.lwp, r.lbp, r.sp, r.rp, r.gp};
  const int nw = 3 + count, nr = 5 + count;
  for (int j = 0; j < count; ++j) {
    written[3 + j] = r.o[j];
    read[5 + j] = r.mp[j];
  }
  for (int i = 0; i < nw; ++i) {
    for (int k = i + 1; k < nw; ++k)
      if (written[i] == written[k])
        fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: xx, prev, x and the outputs must be distinct tensors", op);
    for (int k = 0; k < nr; ++k)
      if (written[i] == read[k])
        fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: xx, prev, x and the outputs must not alias an input", op);
  }
  r.b = step_batch(ctx, n, state->rows, &r.nseq, op);
  return r;
}

}  // namespace

extern "C" {

int rwkvcu_add_norm_shift_mix(rwkvcu_context* ctx, rwkvcu_tensor* const* outs, rwkvcu_tensor* xx, rwkvcu_tensor* prev,
                              rwkvcu_tensor* x, const rwkvcu_tensor* residual, const rwkvcu_tensor* gate,
                              const rwkvcu_tensor* ln_w,
                              const rwkvcu_tensor* ln_b, rwkvcu_tensor* state, int64_t off,
                              const rwkvcu_tensor* const* mixes, int32_t count, int32_t style, float eps) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_add_norm_shift_mix";
    const NormOperands r = check_norm(ctx, op, outs, xx, prev, x, residual, gate, ln_w, ln_b, state, off, mixes, count, style);
    launch(ctx, op, [&] {
      return rwkvcu_launch_add_norm_shift_mix(ctx->stream, r.o, r.xxp, r.pp, r.xp, r.rp, r.gp, r.lwp, r.lbp, r.sp,
                                              state->cols, state->rows, off, r.mp, r.mr, count, r.n, r.C, r.b, r.nseq,
                                              style, eps);
    });
  });
}

int rwkvcu_add_norm_shift_mix_lora(rwkvcu_context* ctx, rwkvcu_tensor* const* outs, rwkvcu_tensor* xx,
                                   rwkvcu_tensor* prev, rwkvcu_tensor* x, const rwkvcu_tensor* residual,
                                   const rwkvcu_tensor* gate, const rwkvcu_tensor* ln_w, const rwkvcu_tensor* ln_b,
                                   rwkvcu_tensor* state, int64_t off, const rwkvcu_tensor* const* mixes, int32_t count,
                                   int32_t style, float eps, rwkvcu_tensor* const* lo, const rwkvcu_tensor* const* w1,
                                   int32_t lora_count) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_add_norm_shift_mix_lora";
    need(lo, "lo");
    need(w1, "w1");
    if (lora_count < 1 || lora_count > RWKVCU_GROUP_MAX)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: lora_count %d outside [1, %d]", op, int(lora_count), RWKVCU_GROUP_MAX);
    const NormOperands r = check_norm(ctx, op, outs, xx, prev, x, residual, gate, ln_w, ln_b, state, off, mixes, count, style);
    float* lp[RWKVCU_GROUP_MAX];
    const void* wp[RWKVCU_GROUP_MAX];
    const float* ws[RWKVCU_GROUP_MAX];
    int32_t dt[RWKVCU_GROUP_MAX];
    int64_t rows[RWKVCU_GROUP_MAX];
    char name[16];
    for (int j = 0; j < lora_count; ++j) {
      snprintf(name, sizeof name, "w1[%d]", j);
      T(ctx, w1[j], op, name);
      if (w1[j]->cols != r.C || w1[j]->rows < 1)
        fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: w1[%d] is [%lld, %lld], want [D, %lld]", op, j, (long long)w1[j]->rows,
             (long long)w1[j]->cols, (long long)r.C);
      if (w1[j]->dtype < RWKVCU_F32 || w1[j]->dtype > RWKVCU_Q8_0)
        fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: w1[%d] has element type %d", op, j, int(w1[j]->dtype));
      wp[j] = w1[j]->data;
      ws[j] = w1[j]->scales;
      dt[j] = w1[j]->dtype;
      rows[j] = w1[j]->rows;
      snprintf(name, sizeof name, "lo[%d]", j);
      lp[j] = F(ctx, lo[j], r.n, rows[j], op, name);
    }
    // No LoRA output may alias another one or any operand.
    const void* other[8 + 2 * RWKVCU_MIX_N_MAX + RWKVCU_GROUP_MAX];
    int no = 0;
    for (const void* p : {(const void*)r.xxp, (const void*)r.pp, (const void*)r.xp, (const void*)r.sp,
                          (const void*)r.rp, (const void*)r.gp, (const void*)r.lwp, (const void*)r.lbp})
      other[no++] = p;
    for (int j = 0; j < count; ++j) other[no++] = r.o[j], other[no++] = r.mp[j];
    for (int j = 0; j < lora_count; ++j) other[no++] = wp[j];
    for (int j = 0; j < lora_count; ++j) {
      for (int k = 0; k < no; ++k)
        if (lp[j] == other[k]) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: lo[%d] aliases another operand", op, j);
      for (int k = j + 1; k < lora_count; ++k)
        if (lp[j] == lp[k]) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: the LoRA outputs must be distinct tensors", op);
    }
    launch(ctx, op, [&] {
      return rwkvcu_launch_add_norm_shift_mix_lora(ctx->stream, r.o, r.xxp, r.pp, r.xp, r.rp, r.gp, r.lwp, r.lbp, r.sp,
                                                   state->cols, state->rows, off, r.mp, r.mr, count, r.n, r.C, r.b,
                                                   r.nseq, style, eps, lp, wp, dt, ws, rows, lora_count,
                                                   ctx->mm_scratch.tickets, ctx->mm_scratch.ntickets);
    });
  });
}

int rwkvcu_key_v7(rwkvcu_context* ctx, rwkvcu_tensor* kk, rwkvcu_tensor* k, const rwkvcu_tensor* a,
                  const rwkvcu_tensor* kK, const rwkvcu_tensor* kA, int32_t heads) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_key_v7";
    float* kp = F(ctx, k, -1, -1, op, "k");
    const int64_t n = k->rows, C = k->cols;
    float* kkp = F(ctx, kk, n, C, op, "kk");
    const float* ap = F(ctx, a, n, C, op, "a");
    const float* kKp = F(ctx, kK, 1, C, op, "kK");
    const float* kAp = F(ctx, kA, 1, C, op, "kA");
    heads_divide(heads, C, op);
    launch(ctx, op, [&] { return rwkvcu_launch_key_v7(ctx->stream, kkp, kp, ap, kKp, kAp, n, C, heads); });
  });
}

int rwkvcu_value_v7(rwkvcu_context* ctx, rwkvcu_tensor* v, const rwkvcu_tensor* first, const rwkvcu_tensor* gate) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_value_v7";
    float* vp = F(ctx, v, -1, -1, op, "v");
    const float* fp = F(ctx, first, v->rows, v->cols, op, "first");
    const float* gp = F(ctx, gate, v->rows, v->cols, op, "gate");
    launch(ctx, op, [&] { return rwkvcu_launch_value_v7(ctx->stream, vp, fp, gp, v->rows * v->cols); });
  });
}

int rwkvcu_bonus_v7(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* r, const rwkvcu_tensor* k,
                    const rwkvcu_tensor* v, const rwkvcu_tensor* rK, int32_t heads) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_bonus_v7";
    float* o = F(ctx, out, -1, -1, op, "out");
    const int64_t n = out->rows, C = out->cols;
    const float* rp = F(ctx, r, n, C, op, "r");
    const float* kp = F(ctx, k, n, C, op, "k");
    const float* vp = F(ctx, v, n, C, op, "v");
    const float* rKp = F(ctx, rK, 1, C, op, "rK");
    heads_divide(heads, C, op);
    launch(ctx, op, [&] { return rwkvcu_launch_bonus_v7(ctx->stream, o, rp, kp, vp, rKp, n, C, heads); });
  });
}

}  // extern "C"
