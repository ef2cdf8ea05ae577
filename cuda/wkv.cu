// WKV recurrences of every RWKV version, batched over many sequences with
// per-sequence state slots. Each version has a single-token decode kernel
// (DECODE = true: every sequence has exactly one row, row = sequence index,
// no batch offsets read, no staging loop) and a sequence kernel for prefill
// (DECODE = false: each block walks its sequence's rows, staging the
// per-token head vectors of TC tokens at a time in shared memory so that a
// chunk costs two barriers instead of two per token).
//
// Numerical contract: float32 arithmetic in the reference's order of
// operations (nvcc may contract a*b+c into an FMA, which only removes a
// rounding); the state is held in registers between tokens and written back
// once per launch, so T tokens in one launch equal T launches of one token up
// to FMA contraction. WKV4 uses the numerically stable aa/bb/pp form (a
// running maximum exponent pp), so no exp overflows for any input.
//
// Batches: sequence i of nseq owns rows [offsets[i], offsets[i+1]) and state
// row slots[i]; `batch` is a device array of 2*nseq+1 int32 holding offsets
// (nseq+1) followed by slots (nseq). Kernels skip a sequence whose slot is
// outside [0, nslots) or whose rows are outside [0, n), so a bad replayed
// batch cannot write out of bounds. (The token shift in ops.cu reads the same
// layout.)
#include "common.cuh"
#include "elementwise.cuh"

namespace {

// ---- RWKV-4 ----------------------------------------------------------------------

constexpr int kWKV4Threads = 128;

/// wkv4_kernel: one thread per (sequence, channel): grid nseq *
/// ceil(C/128) blocks. k, v, out [n, C]; w, u [1, C]; state row slot holds
/// aa, bb, pp ([C] each) at off, off+C, off+2C. The three state values live
/// in registers across the sequence's rows; loads and stores of a row are
/// coalesced across the block's channels.
template <bool DECODE>
__global__ void wkv4_kernel(float* __restrict__ out, const float* __restrict__ k, const float* __restrict__ v,
                            const float* __restrict__ w, const float* __restrict__ u, float* __restrict__ state,
                            int64_t width, int64_t nslots, int64_t off, int64_t n, int64_t C,
                            const int32_t* __restrict__ batch, int nseq, int64_t cblocks) {
  const int s = int(blockIdx.x / cblocks);
  const int64_t c = (blockIdx.x % cblocks) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const int64_t first = DECODE ? s : batch[s], end = DECODE ? s + 1 : batch[s + 1];
  const int64_t slot = batch[nseq + 1 + s];
  if (slot < 0 || slot >= nslots || first < 0 || end > n || end <= first) return;
  float* st = state + slot * width + off;
  float aa = st[c], bb = st[C + c], pp = st[2 * C + c];
  const float wc = w[c], uc = u[c];
  for (int64_t t = first; t < end; ++t) {
    const float kt = k[t * C + c], vt = v[t * C + c];
    float ww = uc + kt;
    float q = fmaxf(pp, ww);
    float e1 = expf(pp - q), e2 = expf(ww - q);
    out[t * C + c] = (e1 * aa + e2 * vt) / (e1 * bb + e2);
    ww = pp + wc;
    q = fmaxf(ww, kt);
    e1 = expf(ww - q);
    e2 = expf(kt - q);
    aa = e1 * aa + e2 * vt;
    bb = e1 * bb + e2;
    pp = q;
  }
  st[c] = aa;
  st[C + c] = bb;
  st[2 * C + c] = pp;
}

// ---- RWKV-5/6 and RWKV-7 ---------------------------------------------------------
//
// One block per (sequence, head), blockDim = N rounded up to a warp, N = C/H.
// NT > 0 instantiates a head size known at compile time (8, 16, 32, 64: the
// sizes of real models): each thread keeps its slice of the head's state in
// NT registers and every loop is unrolled. NT == 0 is the generic kernel for
// any other N: the state lives in dynamic shared memory (padded rows, no bank
// conflicts) and loops run to N.

/// Dynamic shared memory of the generic (NT == 0) WKV kernels, in floats:
/// the state (N rows of N+1) and `arrays` staged vectors of TC tokens.
__host__ __device__ inline int64_t wkv_generic_smem(int N, int TC, int arrays) {
  return int64_t(N) * (N + 1) + int64_t(arrays) * TC * N;
}

/// wkv5_kernel: thread j owns value column j of the head's state S[key
/// i][value j] (registers for NT > 0; loads and stores coalesced across j,
/// since the state is key-major). Per token: y_j = sum_i r_i (u_i k_i v_j +
/// S_ij); S_ij = k_i v_j + w_i S_ij, with r, k, w of the token staged in
/// shared memory (read as broadcasts). r, k, v, out [n, C]; w [1|n, C] (wper:
/// one row per token); u [1, C].
template <int NT, int TC, bool DECODE>
__global__ void __launch_bounds__(NT > 32 ? NT : (NT == 0 ? 256 : 32))
    wkv5_kernel(float* __restrict__ out, const float* __restrict__ r, const float* __restrict__ k,
                const float* __restrict__ v, const float* __restrict__ w, bool wper, const float* __restrict__ u,
                float* __restrict__ state, int64_t width, int64_t nslots, int64_t off, int64_t n, int64_t C, int H,
                const int32_t* __restrict__ batch, int nseq) {
  constexpr int SN = NT > 0 ? NT : 1;
  __shared__ float st_r[NT > 0 ? TC : 1][SN], st_k[NT > 0 ? TC : 1][SN], st_w[NT > 0 ? TC : 1][SN], st_u[SN];
  const int s = blockIdx.x / H, h = blockIdx.x % H;
  const int N = NT > 0 ? NT : int(C / H), j = threadIdx.x;
  const bool active = j < N;
  const int64_t first = DECODE ? s : batch[s], end = DECODE ? s + 1 : batch[s + 1];
  const int64_t slot = batch[nseq + 1 + s];
  if (slot < 0 || slot >= nslots || first < 0 || end > n || end <= first) return;  // the whole block
  float* st = state + slot * width + off + int64_t(h) * N * N;
  const int64_t hc = int64_t(h) * N;
  // Staging arrays: static for NT > 0, after the state in dynamic memory otherwise.
  float *sr, *sk, *sw, *su, *Ss = nullptr;
  float S[SN];
  if constexpr (NT > 0) {
    sr = &st_r[0][0];
    sk = &st_k[0][0];
    sw = &st_w[0][0];
    su = st_u;
    const float* p = st + j;
#pragma unroll
    for (int i = 0; i < NT; ++i, p += N) S[i] = active ? *p : 0.f;
  } else {
    DYNAMIC_SHARED(float, dyn);
    Ss = dyn;  // S[i][j] at i*N + j
    sr = dyn + N * N;
    sk = sr + TC * N;
    sw = sk + TC * N;
    su = sw + TC * N;
    for (int idx = threadIdx.x; idx < N * N; idx += blockDim.x) Ss[idx] = st[idx];
  }
  if (active) su[j] = u[hc + j];
  for (int64_t t0 = first; t0 < end; t0 += TC) {
    const int cnt = int(end - t0 < TC ? end - t0 : TC);
    __syncthreads();  // the previous chunk has been consumed (and su, Ss written)
    for (int idx = threadIdx.x; idx < cnt * N; idx += blockDim.x) {
      const int tt = idx / N, i = idx - tt * N;
      const int64_t row = t0 + tt;
      sr[tt * N + i] = r[row * C + hc + i];
      sk[tt * N + i] = k[row * C + hc + i];
      sw[tt * N + i] = w[(wper ? row : 0) * C + hc + i];
    }
    __syncthreads();
    for (int tt = 0; tt < cnt; ++tt) {
      const int64_t row = t0 + tt;
      const float vj = active ? v[row * C + hc + j] : 0.f;
      const float *rt = sr + tt * N, *kt = sk + tt * N, *wt = sw + tt * N;
      float y = 0.f;
      if constexpr (NT > 0) {
#pragma unroll
        for (int i = 0; i < NT; ++i) {
          const float kv = kt[i] * vj;
          y += rt[i] * (su[i] * kv + S[i]);
          S[i] = kv + wt[i] * S[i];
        }
      } else if (active) {
        for (int i = 0; i < N; ++i) {
          const float kv = kt[i] * vj, sij = Ss[i * N + j];
          y += rt[i] * (su[i] * kv + sij);
          Ss[i * N + j] = kv + wt[i] * sij;
        }
      }
      if (active) out[row * C + hc + j] = y;
    }
  }
  if constexpr (NT > 0) {
    if (active) {
      float* p = st + j;
#pragma unroll
      for (int i = 0; i < NT; ++i, p += N) *p = S[i];
    }
  } else {
    __syncthreads();
    for (int idx = threadIdx.x; idx < N * N; idx += blockDim.x) st[idx] = Ss[idx];
  }
}

/// wkv7_kernel: thread i owns value row i of the head's state S[value
/// i][key j]. For NT > 0 the row is in registers, moved from and to global
/// memory through a padded shared tile (coalesced global accesses,
/// conflict-free row reads); the generic kernel keeps the state in shared
/// memory with rows of N+1. Per token, with r, w, k, kk and kk*a staged in
/// shared memory:
///   sa = -sum_j S_ij kk_j;  S_ij = S_ij w_j + v_i k_j + sa kk_j a_j;
///   y_i = sum_j S_ij r_j.
/// All of r, w, k, v, kk, a, out are [n, C].
template <int NT, int TC, bool DECODE>
__global__ void __launch_bounds__(NT > 32 ? NT : (NT == 0 ? 256 : 32))
    wkv7_kernel(float* __restrict__ out, const float* __restrict__ r, const float* __restrict__ w,
                const float* __restrict__ k, const float* __restrict__ v, const float* __restrict__ kk,
                const float* __restrict__ a, float* __restrict__ state, int64_t width, int64_t nslots, int64_t off,
                int64_t n, int64_t C, int H, const int32_t* __restrict__ batch, int nseq) {
  constexpr int SN = NT > 0 ? NT : 1, STC = NT > 0 ? TC : 1;
  __shared__ float st_[5][STC][SN];
  __shared__ float tile_[SN][SN + 1];
  const int s = blockIdx.x / H, h = blockIdx.x % H;
  const int N = NT > 0 ? NT : int(C / H), i = threadIdx.x;
  const bool active = i < N;
  const int64_t first = DECODE ? s : batch[s], end = DECODE ? s + 1 : batch[s + 1];
  const int64_t slot = batch[nseq + 1 + s];
  if (slot < 0 || slot >= nslots || first < 0 || end > n || end <= first) return;  // the whole block
  float* st = state + slot * width + off + int64_t(h) * N * N;
  const int64_t hc = int64_t(h) * N;
  const int ld = N + 1;  // row stride of the shared state / tile
  float* tile;
  float* stage;
  float S[SN];
  if constexpr (NT > 0) {
    tile = &tile_[0][0];
    stage = &st_[0][0][0];
  } else {
    DYNAMIC_SHARED(float, dyn);
    tile = dyn;
    stage = dyn + N * ld;
  }
  for (int idx = threadIdx.x; idx < N * N; idx += blockDim.x) tile[(idx / N) * ld + idx % N] = st[idx];
  __syncthreads();
  if constexpr (NT > 0) {
#pragma unroll
    for (int j = 0; j < NT; ++j) S[j] = active ? tile[i * ld + j] : 0.f;
  }
  float *sr = stage, *sw = stage + TC * N, *sk = stage + 2 * TC * N, *skk = stage + 3 * TC * N,
        *ska = stage + 4 * TC * N;
  for (int64_t t0 = first; t0 < end; t0 += TC) {
    const int cnt = int(end - t0 < TC ? end - t0 : TC);
    __syncthreads();
    for (int idx = threadIdx.x; idx < cnt * N; idx += blockDim.x) {
      const int tt = idx / N, j = idx - tt * N;
      const int64_t e = (t0 + tt) * C + hc + j;
      sr[tt * N + j] = r[e];
      sw[tt * N + j] = w[e];
      sk[tt * N + j] = k[e];
      const float kkj = kk[e];
      skk[tt * N + j] = kkj;
      ska[tt * N + j] = kkj * a[e];
    }
    __syncthreads();
    for (int tt = 0; tt < cnt; ++tt) {
      const int64_t row = t0 + tt;
      const float vi = active ? v[row * C + hc + i] : 0.f;
      const float *rt = sr + tt * N, *wt = sw + tt * N, *kt = sk + tt * N, *kkt = skk + tt * N,
                  *kat = ska + tt * N;
      float y = 0.f;
      if constexpr (NT > 0) {
        float sa = 0.f;
#pragma unroll
        for (int j = 0; j < NT; ++j) sa -= S[j] * kkt[j];
#pragma unroll
        for (int j = 0; j < NT; ++j) {
          const float x = S[j] * wt[j] + vi * kt[j] + sa * kat[j];
          S[j] = x;
          y += x * rt[j];
        }
      } else if (active) {
        float* Si = tile + i * ld;
        float sa = 0.f;
        for (int j = 0; j < N; ++j) sa -= Si[j] * kkt[j];
        for (int j = 0; j < N; ++j) {
          const float x = Si[j] * wt[j] + vi * kt[j] + sa * kat[j];
          Si[j] = x;
          y += x * rt[j];
        }
      }
      if (active) out[row * C + hc + i] = y;
    }
  }
  __syncthreads();
  if constexpr (NT > 0) {
#pragma unroll
    for (int j = 0; j < NT; ++j)
      if (active) tile[i * ld + j] = S[j];
    __syncthreads();
  }
  for (int idx = threadIdx.x; idx < N * N; idx += blockDim.x) st[idx] = tile[(idx / N) * ld + idx % N];
}

constexpr int kSeqChunk = 16;     // tokens staged per barrier pair by the register sequence kernels
constexpr int kGenericChunk = 4;  // ... and by the generic (shared-memory state) kernels
constexpr int kMaxGenericN = 160;  // largest head of the generic kernels (fits 100 KiB of shared memory)

/// Launches a WKV5 (ARRAYS = 4) or WKV7 (ARRAYS = 5) kernel: the register
/// kernel for N in {8, 16, 32, 64}, the generic one otherwise.
template <template <int, int, bool> class K, int ARRAYS, class... A>
cudaError_t launch_heads(int N, bool decode, unsigned blocks, cudaStream_t s, A... args) {
  const unsigned th = unsigned(rwkvcu_ceil_div(N, 32) * 32);
#define RWKVCU_WKV_CASE(NT)                                                   \
  if (N == NT) {                                                              \
    if (decode) {                                                             \
      auto* kern = K<NT, 1, true>::fn;                                        \
      RWKV_LAUNCH(kern, dim3(blocks), dim3(th), 0, s)(args...);               \
    } else {                                                                  \
      auto* kern = K<NT, kSeqChunk, false>::fn;                               \
      RWKV_LAUNCH(kern, dim3(blocks), dim3(th), 0, s)(args...);               \
    }                                                                         \
    return rwkvcu_check_launch();                                             \
  }
  RWKVCU_WKV_CASE(8)
  RWKVCU_WKV_CASE(16)
  RWKVCU_WKV_CASE(32)
  RWKVCU_WKV_CASE(64)
#undef RWKVCU_WKV_CASE
  if (N > kMaxGenericN) return cudaErrorNotSupported;
  const int tc = decode ? 1 : kGenericChunk;
  const size_t smem = size_t(wkv_generic_smem(N, tc, ARRAYS)) * sizeof(float);
  auto* kern = decode ? K<0, 1, true>::fn : K<0, kGenericChunk, false>::fn;
  if (smem > 48 * 1024) {
    if (cudaError_t e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem))) return e;
  }
  RWKV_LAUNCH(kern, dim3(blocks), dim3(th), smem, s)(args...);
  return rwkvcu_check_launch();
}

template <int NT, int TC, bool DECODE>
struct WKV5K {
  static constexpr auto fn = &wkv5_kernel<NT, TC, DECODE>;
};
template <int NT, int TC, bool DECODE>
struct WKV7K {
  static constexpr auto fn = &wkv7_kernel<NT, TC, DECODE>;
};

// ---- RWKV-7 fused decode attention ----------------------------------------------------

/// attn_decode_v7_kernel: RWKV-7's decode attention core for one (sequence,
/// head) per block, one token per sequence (row = sequence index), in one
/// pass: key preparation (KeyV7), the WKV7 state update and readout, the
/// head's GroupNorm, the bonus (BonusV7) and the gate multiply. Thread i < N
/// owns channel i of the head: its key, value and output, and value row i of
/// the head state S[value i][key j], which lives in dynamic shared memory with
/// rows of N+1 floats (loaded and stored coalesced, read conflict-free),
/// followed by the staged r, w, rescaled k, kk and kk*a of the head. The
/// head's three sums (the key's L2 norm, the mean and variance of the WKV
/// output, the bonus) are block reductions. Per element the float32 formulas
/// are those of key_v7_kernel, wkv7_kernel, group_norm_kernel and
/// bonus_v7_kernel; only the grouping of the sums differs. k is rescaled in
/// place and kk written as KeyV7 does.
__global__ void __launch_bounds__(kMaxGenericN)
    attn_decode_v7_kernel(float* __restrict__ y, float* __restrict__ kk, const float* __restrict__ r,
                          const float* __restrict__ w, float* __restrict__ k, const float* __restrict__ v,
                          const float* __restrict__ a, const float* __restrict__ g, const float* __restrict__ kK,
                          const float* __restrict__ kA, const float* __restrict__ rK, const float* __restrict__ lnw,
                          const float* __restrict__ lnb, float* __restrict__ state, int64_t width, int64_t nslots,
                          int64_t off, int64_t C, int H, const int32_t* __restrict__ batch, int nseq, float eps) {
  __shared__ float red[32];
  DYNAMIC_SHARED(float, dyn);
  const int s = blockIdx.x / H, h = blockIdx.x % H;
  const int N = int(C / H), i = threadIdx.x;
  const bool active = i < N;
  const int64_t slot = batch[nseq + 1 + s];
  if (slot < 0 || slot >= nslots || batch[s] != s || batch[s + 1] != s + 1) return;  // the whole block
  const int ld = N + 1;
  float* tile = dyn;
  float *sr = dyn + N * ld, *sw = sr + N, *sk = sw + N, *skk = sk + N, *ska = skk + N;
  float* st = state + slot * width + off + int64_t(h) * N * N;
  const int64_t c = int64_t(h) * N + i, e = int64_t(s) * C + c;

  // Key preparation: kk = (k*kK) / max(||k*kK||, 1e-12); k *= 1 + (a-1)*kA.
  const float k0 = active ? k[e] : 0.f;
  const float kx = active ? k0 * kK[c] : 0.f;
  const float inv = 1.f / fmaxf(sqrtf(block_sum(kx * kx, red)), 1e-12f);
  float kn = 0.f, ri = 0.f, vi = 0.f;
  if (active) {
    const float ai = a[e], kki = kx * inv;
    kn = k0 * (1.f + (ai - 1.f) * kA[c]);
    ri = r[e];
    vi = v[e];
    kk[e] = kki;
    k[e] = kn;
    sr[i] = ri;
    sw[i] = w[e];
    sk[i] = kn;
    skk[i] = kki;
    ska[i] = kki * ai;
  }
  for (int idx = threadIdx.x; idx < N * N; idx += blockDim.x) tile[(idx / N) * ld + idx % N] = st[idx];
  __syncthreads();

  // WKV7: sa = -sum_j S_ij kk_j; S_ij = S_ij w_j + v_i k_j + sa kk_j a_j; y_i = sum_j S_ij r_j.
  float yi = 0.f;
  if (active) {
    float* Si = tile + i * ld;
    float sa = 0.f;
    for (int j = 0; j < N; ++j) sa -= Si[j] * skk[j];
    for (int j = 0; j < N; ++j) {
      const float x = Si[j] * sw[j] + vi * sk[j] + sa * ska[j];
      Si[j] = x;
      yi += x * sr[j];
    }
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < N * N; idx += blockDim.x) st[idx] = tile[(idx / N) * ld + idx % N];

  // GroupNorm over the head, the bonus sum_head(r*k*rK)*v, the gate.
  const float mean = block_sum(yi, red) / N;
  const float d = active ? yi - mean : 0.f;
  const float rstd = 1.f / sqrtf(block_sum(d * d, red) / N + eps);
  const float bonus = block_sum(active ? ri * kn * rK[c] : 0.f, red);
  if (active) {
    float o = (yi - mean) * rstd * lnw[c] + lnb[c];
    o += bonus * vi;
    y[e] = o * g[e];
  }
}

/// attn_decode_v7_smem is the dynamic shared memory of attn_decode_v7_kernel in floats.
inline int attn_decode_v7_smem(int N) { return N * (N + 1) + 5 * N; }

// ---- RWKV-5/6 fused decode attention --------------------------------------------------

/// attn_decode_v5_kernel: the core of RWKV-5's and RWKV-6's decode attention
/// for one (sequence, head) per block, one token per sequence (row =
/// sequence index), in one pass: (DT >= 0, RWKV-6) the decay from its LoRA,
/// the WKV5 state update and readout, the head's GroupNorm and (g not null)
/// the gate multiply. Thread j < N owns value column j of the head state
/// S[key i][value j], which lives in dynamic shared memory (loaded and
/// stored coalesced; column reads are conflict-free), followed by the staged
/// r, k, w and u of the head and (DT >= 0) the sequence's LoRA row lo [D].
/// Per element the float32 formulas are those of wkv5_kernel (the readout
/// summed over the keys in the same order), group_norm_kernel and
/// zip_kernel; only the grouping of the GroupNorm's sums differs. DT < 0: w
/// is given, with one row (wper false) or one per sequence. DT >= 0 (the
/// element type of w2 [C, D], scales w2s for I8 and F8E4M3): thread j
/// computes w = exp(-exp(lo . w2[c] + bias[c])) (matmul_kernel's epilogue
/// order: the product, the bias, the function), stores it in w and stages it.
template <int DT>
__global__ void __launch_bounds__(kMaxGenericN)
    attn_decode_v5_kernel(float* __restrict__ y, const float* __restrict__ r, const float* __restrict__ k,
                          const float* __restrict__ v, float* __restrict__ w, bool wper,
                          const float* __restrict__ u, const float* __restrict__ g, const float* __restrict__ lnw,
                          const float* __restrict__ lnb, float* __restrict__ state, int64_t width, int64_t nslots,
                          int64_t off, int64_t C, int H, const int32_t* __restrict__ batch, int nseq, float eps,
                          const float* __restrict__ lo, const void* __restrict__ w2, const float* __restrict__ w2s,
                          const float* __restrict__ bias, int D) {
  __shared__ float red[32];
  DYNAMIC_SHARED(float, dyn);
  const int s = blockIdx.x / H, h = blockIdx.x % H;
  const int N = int(C / H), j = threadIdx.x;
  const bool active = j < N;
  const int64_t slot = batch[nseq + 1 + s];
  if (slot < 0 || slot >= nslots || batch[s] != s || batch[s + 1] != s + 1) return;  // the whole block
  float* Ss = dyn;  // S[i][j] at i*N + j
  float *sr = dyn + N * N, *sk = sr + N, *sw = sk + N, *su = sw + N;
  float* st = state + slot * width + off + int64_t(h) * N * N;
  const int64_t c = int64_t(h) * N + j, e = int64_t(s) * C + c;
  float vj = 0.f;
  if constexpr (DT >= 0) {
    float* slo = su + N;
    for (int d = threadIdx.x; d < D; d += blockDim.x) slo[d] = lo[int64_t(s) * D + d];
    __syncthreads();
    if (active) {
      float acc = 0.f;
      if constexpr (qblock_is(DT)) {
        // a block-quantized row (rwkv.cpp's Q4_0 ... Q8_0), decoded exactly
        const uint8_t* row = static_cast<const uint8_t*>(w2) + c * qblock_row_bytes(DT, D);
        for (int d = 0; d < D; ++d) acc += slo[d] * qblock_elem<DT>(row, d);
      } else {
        for (int d = 0; d < D; ++d) acc += slo[d] * load_elem<DT>(w2, c * D + d, w2s, c);
      }
      const float wv = rwkv_unary<4>(acc + bias[c]);
      w[e] = wv;
      sw[j] = wv;
    }
  } else {
    if (active) sw[j] = w[(wper ? e : c)];
  }
  if (active) {
    sr[j] = r[e];
    sk[j] = k[e];
    su[j] = u[c];
    vj = v[e];
  }
  for (int idx = threadIdx.x; idx < N * N; idx += blockDim.x) Ss[idx] = st[idx];
  __syncthreads();

  // WKV5: y_j = sum_i r_i (u_i k_i v_j + S_ij); S_ij = k_i v_j + w_i S_ij.
  float yj = 0.f;
  if (active) {
    for (int i = 0; i < N; ++i) {
      const float kv = sk[i] * vj, sij = Ss[i * N + j];
      yj += sr[i] * (su[i] * kv + sij);
      Ss[i * N + j] = kv + sw[i] * sij;
    }
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < N * N; idx += blockDim.x) st[idx] = Ss[idx];

  // GroupNorm over the head, then the gate.
  const float mean = block_sum(yj, red) / N;
  const float d = active ? yj - mean : 0.f;
  const float inv = 1.f / sqrtf(block_sum(d * d, red) / N + eps);
  if (active) {
    const float o = (yj - mean) * inv * lnw[c] + lnb[c];
    y[e] = g ? o * g[e] : o;
  }
}

/// attn_decode_v5_smem is the dynamic shared memory of attn_decode_v5_kernel in floats (D: the LoRA's width, 0 without).
inline int attn_decode_v5_smem(int N, int D) { return N * N + 4 * N + D; }

}  // namespace

/// RWKV-4 WKV over k, v [n, C] with w, u [1, C]; state row: aa, bb, pp at
/// off, off+C, off+2C.
cudaError_t rwkvcu_launch_wkv4(cudaStream_t s, float* out, const float* k, const float* v, const float* w,
                               const float* u, float* state, int64_t width, int64_t nslots, int64_t off, int64_t n,
                               int64_t C, const int32_t* batch, int32_t nseq) {
  const int64_t cb = rwkvcu_ceil_div(C, kWKV4Threads);
  const dim3 grid(unsigned(nseq * cb)), block(kWKV4Threads);
  if (n == nseq) RWKV_LAUNCH(wkv4_kernel<true>, grid, block, 0, s)(out, k, v, w, u, state, width, nslots, off, n, C, batch, nseq, cb);
  else RWKV_LAUNCH(wkv4_kernel<false>, grid, block, 0, s)(out, k, v, w, u, state, width, nslots, off, n, C, batch, nseq, cb);
  return rwkvcu_check_launch();
}

/// RWKV-5/6 WKV, heads of size N = C/heads (N <= kMaxGenericN = 160 for the generic kernels), state S[h][key][value]
/// at state[slot*width + off + h*N*N]; w has wrows (1 or n) rows.
cudaError_t rwkvcu_launch_wkv5(cudaStream_t s, float* out, const float* r, const float* k, const float* v,
                               const float* w, int64_t wrows, const float* u, float* state, int64_t width,
                               int64_t nslots, int64_t off, int64_t n, int64_t C, int32_t heads,
                               const int32_t* batch, int32_t nseq) {
  const bool wper = wrows != 1 || n == 1;
  return launch_heads<WKV5K, 4>(int(C / heads), n == nseq, unsigned(nseq * heads), s, out, r, k, v, w, wper, u, state,
                             width, nslots, off, n, C, int(heads), batch, int(nseq));
}

/// RWKV-7 WKV, heads of size N = C/heads (N <= kMaxGenericN = 160 for the generic kernels), state S[h][value][key].
cudaError_t rwkvcu_launch_wkv7(cudaStream_t s, float* out, const float* r, const float* w, const float* k,
                               const float* v, const float* kk, const float* a, float* state, int64_t width,
                               int64_t nslots, int64_t off, int64_t n, int64_t C, int32_t heads,
                               const int32_t* batch, int32_t nseq) {
  return launch_heads<WKV7K, 5>(int(C / heads), n == nseq, unsigned(nseq * heads), s, out, r, w, k, v, kk, a, state,
                             width, nslots, off, n, C, int(heads), batch, int(nseq));
}

/// RWKV-7 fused decode attention (attn_decode_v7_kernel): one row per
/// sequence (n == nseq), heads of size N = C/heads <= kMaxGenericN.
cudaError_t rwkvcu_launch_attn_decode_v7(cudaStream_t s, float* y, float* kk, const float* r, const float* w, float* k,
                                         const float* v, const float* a, const float* g, const float* kK,
                                         const float* kA, const float* rK, const float* lnw, const float* lnb,
                                         float* state, int64_t width, int64_t nslots, int64_t off, int64_t C,
                                         int32_t heads, const int32_t* batch, int32_t nseq, float eps) {
  const int N = int(C / heads);
  if (N > kMaxGenericN) return cudaErrorNotSupported;
  const unsigned th = unsigned(rwkvcu_ceil_div(N, 32) * 32);
  const size_t smem = size_t(attn_decode_v7_smem(N)) * sizeof(float);
  if (smem > 48 * 1024) {
    if (cudaError_t e = cudaFuncSetAttribute(attn_decode_v7_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)))
      return e;
  }
  RWKV_LAUNCH(attn_decode_v7_kernel, dim3(unsigned(nseq * heads)), dim3(th), smem, s)(
      y, kk, r, w, k, v, a, g, kK, kA, rK, lnw, lnb, state, width, nslots, off, C, int(heads), batch, int(nseq), eps);
  return rwkvcu_check_launch();
}

namespace {

/// launch_attn_decode_v5 queues attn_decode_v5_kernel<DT> (see rwkvcu_launch_attn_decode_v5).
template <int DT>
cudaError_t launch_attn_decode_v5(cudaStream_t s, float* y, const float* r, const float* k, const float* v, float* w,
                                  bool wper, const float* u, const float* g, const float* lnw, const float* lnb,
                                  float* state, int64_t width, int64_t nslots, int64_t off, int64_t C, int32_t heads,
                                  const int32_t* batch, int32_t nseq, float eps, const float* lo, const void* w2,
                                  const float* w2s, const float* bias, int D) {
  const int N = int(C / heads);
  const unsigned th = unsigned(rwkvcu_ceil_div(N, 32) * 32);
  const size_t smem = size_t(attn_decode_v5_smem(N, D)) * sizeof(float);
  if (smem > 48 * 1024) {
    if (cudaError_t e = cudaFuncSetAttribute(attn_decode_v5_kernel<DT>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             int(smem)))
      return e;
  }
  RWKV_LAUNCH(attn_decode_v5_kernel<DT>, dim3(unsigned(nseq * heads)), dim3(th), smem, s)(
      y, r, k, v, w, wper, u, g, lnw, lnb, state, width, nslots, off, C, int(heads), batch, int(nseq), eps, lo, w2, w2s,
      bias, D);
  return rwkvcu_check_launch();
}

}  // namespace

/// RWKV-5/6 fused decode attention (attn_decode_v5_kernel): one row per
/// sequence (n == nseq), heads of size N = C/heads <= kMaxGenericN; w has
/// wrows (1 or n) rows; g may be null (no gate).
cudaError_t rwkvcu_launch_attn_decode_v5(cudaStream_t s, float* y, const float* r, const float* k, const float* v,
                                         const float* w, int64_t wrows, const float* u, const float* g,
                                         const float* lnw, const float* lnb, float* state, int64_t width,
                                         int64_t nslots, int64_t off, int64_t C, int32_t heads,
                                         const int32_t* batch, int32_t nseq, float eps) {
  if (C / heads > kMaxGenericN) return cudaErrorNotSupported;
  const bool wper = wrows != 1 || nseq == 1;
  return launch_attn_decode_v5<-1>(s, y, r, k, v, const_cast<float*>(w), wper, u, g, lnw, lnb, state, width, nslots,
                                   off, C, heads, batch, nseq, eps, nullptr, nullptr, nullptr, nullptr, 0);
}

/// RWKV-6 fused decode attention with the decay's LoRA-up
/// (attn_decode_v5_kernel<dtype>): w [n, C] receives exp(-exp(lo @ w2^T +
/// bias)); lo [n, D]; w2 [C, D] of element type dtype (scales w2s for I8 and
/// F8E4M3; the block types are decoded exactly); otherwise as
/// rwkvcu_launch_attn_decode_v5 with a gate.
cudaError_t rwkvcu_launch_attn_decode_v6(cudaStream_t s, float* y, float* w, const float* r, const float* k,
                                         const float* v, const float* lo, const void* w2, int32_t dtype,
                                         const float* w2s, int64_t D, const float* bias, const float* u,
                                         const float* g, const float* lnw, const float* lnb, float* state,
                                         int64_t width, int64_t nslots, int64_t off, int64_t C, int32_t heads,
                                         const int32_t* batch, int32_t nseq, float eps) {
  if (C / heads > kMaxGenericN) return cudaErrorNotSupported;
#define RWKVCU_ATTN_V6_CASE(DTV)                                                                                     \
  case DTV:                                                                                                           \
    return launch_attn_decode_v5<DTV>(s, y, r, k, v, w, true, u, g, lnw, lnb, state, width, nslots, off, C, heads, \
                                      batch, nseq, eps, lo, w2, w2s, bias, int(D));
  switch (dtype) {
    RWKVCU_ATTN_V6_CASE(kF32)
    RWKVCU_ATTN_V6_CASE(kF16)
    RWKVCU_ATTN_V6_CASE(kBF16)
    RWKVCU_ATTN_V6_CASE(kI8)
    RWKVCU_ATTN_V6_CASE(kF8E4M3)
    RWKVCU_ATTN_V6_CASE(kQ4_0)
    RWKVCU_ATTN_V6_CASE(kQ4_1)
    RWKVCU_ATTN_V6_CASE(kQ5_0)
    RWKVCU_ATTN_V6_CASE(kQ5_1)
    RWKVCU_ATTN_V6_CASE(kQ8_0)
    default:
      return cudaErrorInvalidValue;
  }
#undef RWKVCU_ATTN_V6_CASE
}

// ---- Checked entry points of the C ABI (csrc/include/rwkvcu.h) ------------------------
// Each checks its operands' types and shapes (and the step's batch where it
// reads one) before it queues the kernels above on the context's stream, so a
// failed call launches nothing.

#include "../csrc/internal.h"

using namespace rwkvcu;

extern "C" {

int rwkvcu_wkv4(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* k, const rwkvcu_tensor* v,
                const rwkvcu_tensor* w, const rwkvcu_tensor* u, rwkvcu_tensor* state, int64_t off) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_wkv4";
    const float* kp = F(ctx, k, -1, -1, op, "k");
    const int64_t n = k->rows, C = k->cols;
    float* o = F(ctx, out, n, C, op, "out");
    const float* vp = F(ctx, v, n, C, op, "v");
    const float* wp = F(ctx, w, 1, C, op, "w");
    const float* up = F(ctx, u, 1, C, op, "u");
    float* sp = state_range(ctx, state, off, 3 * C, op);
    int32_t nseq = 0;
    const int32_t* b = step_batch(ctx, n, state->rows, &nseq, op);
    launch(ctx, op, [&] { return rwkvcu_launch_wkv4(ctx->stream, o, kp, vp, wp, up, sp, state->cols, state->rows, off, n, C, b, nseq); });
  });
}

int rwkvcu_wkv5(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* r, const rwkvcu_tensor* k,
                const rwkvcu_tensor* v, const rwkvcu_tensor* w, const rwkvcu_tensor* u, rwkvcu_tensor* state,
                int64_t off, int32_t heads) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_wkv5";
    const float* kp = F(ctx, k, -1, -1, op, "k");
    const int64_t n = k->rows, C = k->cols;
    float* o = F(ctx, out, n, C, op, "out");
    const float* rp = F(ctx, r, n, C, op, "r");
    const float* vp = F(ctx, v, n, C, op, "v");
    int64_t wr = 0;
    const float* wp = Fb(ctx, w, n, C, op, "w", &wr);
    const float* up = F(ctx, u, 1, C, op, "u");
    heads_divide(heads, C, op);
    const int64_t N = C / heads;
    float* sp = state_range(ctx, state, off, heads * N * N, op);
    int32_t nseq = 0;
    const int32_t* b = step_batch(ctx, n, state->rows, &nseq, op);
    launch(ctx, op, [&] { return rwkvcu_launch_wkv5(ctx->stream, o, rp, kp, vp, wp, wr, up, sp, state->cols, state->rows, off, n, C, heads, b,
                                nseq); });
  });
}

int rwkvcu_wkv7(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* r, const rwkvcu_tensor* w,
                const rwkvcu_tensor* k, const rwkvcu_tensor* v, const rwkvcu_tensor* kk, const rwkvcu_tensor* a,
                rwkvcu_tensor* state, int64_t off, int32_t heads) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_wkv7";
    const float* kp = F(ctx, k, -1, -1, op, "k");
    const int64_t n = k->rows, C = k->cols;
    float* o = F(ctx, out, n, C, op, "out");
    const float* rp = F(ctx, r, n, C, op, "r");
    const float* wp = F(ctx, w, n, C, op, "w");
    const float* vp = F(ctx, v, n, C, op, "v");
    const float* kkp = F(ctx, kk, n, C, op, "kk");
    const float* ap = F(ctx, a, n, C, op, "a");
    heads_divide(heads, C, op);
    const int64_t N = C / heads;
    float* sp = state_range(ctx, state, off, heads * N * N, op);
    int32_t nseq = 0;
    const int32_t* b = step_batch(ctx, n, state->rows, &nseq, op);
    launch(ctx, op, [&] { return rwkvcu_launch_wkv7(ctx->stream, o, rp, wp, kp, vp, kkp, ap, sp, state->cols, state->rows, off, n, C, heads,
                                b, nseq); });
  });
}

int rwkvcu_attn_decode_v7(rwkvcu_context* ctx, rwkvcu_tensor* y, rwkvcu_tensor* kk, const rwkvcu_tensor* r,
                          const rwkvcu_tensor* w, rwkvcu_tensor* k, const rwkvcu_tensor* v, const rwkvcu_tensor* a,
                          const rwkvcu_tensor* g, const rwkvcu_tensor* kK, const rwkvcu_tensor* kA,
                          const rwkvcu_tensor* rK, const rwkvcu_tensor* ln_w, const rwkvcu_tensor* ln_b,
                          rwkvcu_tensor* state, int64_t off, int32_t heads, float eps) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_attn_decode_v7";
    float* kp = F(ctx, k, -1, -1, op, "k");
    const int64_t n = k->rows, C = k->cols;
    float* yp = F(ctx, y, n, C, op, "y");
    float* kkp = F(ctx, kk, n, C, op, "kk");
    const float* rp = F(ctx, r, n, C, op, "r");
    const float* wp = F(ctx, w, n, C, op, "w");
    const float* vp = F(ctx, v, n, C, op, "v");
    const float* ap = F(ctx, a, n, C, op, "a");
    const float* gp = F(ctx, g, n, C, op, "g");
    const float* kKp = F(ctx, kK, 1, C, op, "kK");
    const float* kAp = F(ctx, kA, 1, C, op, "kA");
    const float* rKp = F(ctx, rK, 1, C, op, "rK");
    const float* lwp = F(ctx, ln_w, 1, C, op, "ln_w");
    const float* lbp = F(ctx, ln_b, 1, C, op, "ln_b");
    heads_divide(heads, C, op);
    const int64_t N = C / heads;
    if (N > kMaxGenericN)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: heads of %lld channels (at most %d)", op, (long long)N, kMaxGenericN);
    float* sp = state_range(ctx, state, off, heads * N * N, op);
    if (yp == kkp) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: y and kk must be distinct", op);
    for (const void* in : {(const void*)rp, (const void*)wp, (const void*)kp, (const void*)vp, (const void*)ap,
                           (const void*)gp, (const void*)kKp, (const void*)kAp, (const void*)rKp, (const void*)lwp,
                           (const void*)lbp, (const void*)sp})
      if (in == yp || in == kkp) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: y and kk must not alias an input", op);
    int32_t nseq = 0;
    const int32_t* b = step_batch(ctx, n, state->rows, &nseq, op);
    if (nseq != n)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: a decode step has one row per sequence, not %lld rows for %d sequences", op,
           (long long)n, int(nseq));
    launch(ctx, op, [&] { return rwkvcu_launch_attn_decode_v7(ctx->stream, yp, kkp, rp, wp, kp, vp, ap, gp, kKp, kAp, rKp, lwp, lbp,
                                                          sp, state->cols, state->rows, off, C, heads, b, nseq, eps); });
  });
}

int rwkvcu_attn_decode_v5(rwkvcu_context* ctx, rwkvcu_tensor* y, const rwkvcu_tensor* r, const rwkvcu_tensor* k,
                          const rwkvcu_tensor* v, const rwkvcu_tensor* w, const rwkvcu_tensor* u,
                          const rwkvcu_tensor* g, const rwkvcu_tensor* ln_w, const rwkvcu_tensor* ln_b,
                          rwkvcu_tensor* state, int64_t off, int32_t heads, float eps) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_attn_decode_v5";
    const float* kp = F(ctx, k, -1, -1, op, "k");
    const int64_t n = k->rows, C = k->cols;
    float* yp = F(ctx, y, n, C, op, "y");
    const float* rp = F(ctx, r, n, C, op, "r");
    const float* vp = F(ctx, v, n, C, op, "v");
    int64_t wr = 0;
    const float* wp = Fb(ctx, w, n, C, op, "w", &wr);
    const float* up = F(ctx, u, 1, C, op, "u");
    const float* gp = g ? F(ctx, g, n, C, op, "g") : nullptr;
    const float* lwp = F(ctx, ln_w, 1, C, op, "ln_w");
    const float* lbp = F(ctx, ln_b, 1, C, op, "ln_b");
    heads_divide(heads, C, op);
    const int64_t N = C / heads;
    if (N > kMaxGenericN)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: heads of %lld channels (at most %d)", op, (long long)N, kMaxGenericN);
    float* sp = state_range(ctx, state, off, heads * N * N, op);
    for (const void* in : {(const void*)rp, (const void*)kp, (const void*)vp, (const void*)wp, (const void*)up,
                           (const void*)gp, (const void*)lwp, (const void*)lbp, (const void*)sp})
      if (in == yp) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: y must not alias an input", op);
    int32_t nseq = 0;
    const int32_t* b = step_batch(ctx, n, state->rows, &nseq, op);
    if (nseq != n)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: a decode step has one row per sequence, not %lld rows for %d sequences", op,
           (long long)n, int(nseq));
    launch(ctx, op, [&] { return rwkvcu_launch_attn_decode_v5(ctx->stream, yp, rp, kp, vp, wp, wr, up, gp, lwp, lbp, sp,
                                                          state->cols, state->rows, off, C, heads, b, nseq, eps); });
  });
}

int rwkvcu_attn_decode_v6(rwkvcu_context* ctx, rwkvcu_tensor* y, rwkvcu_tensor* w, const rwkvcu_tensor* r,
                          const rwkvcu_tensor* k, const rwkvcu_tensor* v, const rwkvcu_tensor* decay_lo,
                          const rwkvcu_tensor* decay_w2, const rwkvcu_tensor* decay, const rwkvcu_tensor* u,
                          const rwkvcu_tensor* g, const rwkvcu_tensor* ln_w, const rwkvcu_tensor* ln_b,
                          rwkvcu_tensor* state, int64_t off, int32_t heads, float eps) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_attn_decode_v6";
    const float* kp = F(ctx, k, -1, -1, op, "k");
    const int64_t n = k->rows, C = k->cols;
    float* yp = F(ctx, y, n, C, op, "y");
    float* wp = F(ctx, w, n, C, op, "w");
    const float* rp = F(ctx, r, n, C, op, "r");
    const float* vp = F(ctx, v, n, C, op, "v");
    const float* lop = F(ctx, decay_lo, n, -1, op, "decay_lo");
    const int64_t D = decay_lo->cols;
    T(ctx, decay_w2, op, "decay_w2");
    if (decay_w2->rows != C || decay_w2->cols != D)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: decay_w2 is [%lld, %lld], want [%lld, %lld]", op,
           (long long)decay_w2->rows, (long long)decay_w2->cols, (long long)C, (long long)D);
    if (decay_w2->dtype < RWKVCU_F32 || decay_w2->dtype > RWKVCU_Q8_0)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: decay_w2 has element type %d", op, int(decay_w2->dtype));
    const float* bp = F(ctx, decay, 1, C, op, "decay");
    const float* up = F(ctx, u, 1, C, op, "u");
    const float* gp = F(ctx, g, n, C, op, "g");
    const float* lwp = F(ctx, ln_w, 1, C, op, "ln_w");
    const float* lbp = F(ctx, ln_b, 1, C, op, "ln_b");
    heads_divide(heads, C, op);
    const int64_t N = C / heads;
    if (N > kMaxGenericN)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: heads of %lld channels (at most %d)", op, (long long)N, kMaxGenericN);
    float* sp = state_range(ctx, state, off, heads * N * N, op);
    if (yp == wp) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: y and w must be distinct", op);
    for (const void* in : {(const void*)rp, (const void*)kp, (const void*)vp, (const void*)lop,
                           (const void*)decay_w2->data, (const void*)bp, (const void*)up, (const void*)gp,
                           (const void*)lwp, (const void*)lbp, (const void*)sp})
      if (in == yp || in == wp) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: y and w must not alias an input", op);
    int32_t nseq = 0;
    const int32_t* b = step_batch(ctx, n, state->rows, &nseq, op);
    if (nseq != n)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: a decode step has one row per sequence, not %lld rows for %d sequences", op,
           (long long)n, int(nseq));
    launch(ctx, op, [&] {
      return rwkvcu_launch_attn_decode_v6(ctx->stream, yp, wp, rp, kp, vp, lop, decay_w2->data, decay_w2->dtype,
                                          decay_w2->scales, D, bp, up, gp, lwp, lbp, sp, state->cols, state->rows, off, C,
                                          heads, b, nseq, eps);
    });
  });
}

}  // extern "C"
