// Causal softmax attention over a KV cache: the transformer baseline of the
// benchmarks (compiled into librwkvcu_bench only). float32 throughout, exact
// expf; the computation of a row does not depend on the other rows of the
// step, so prefill equals decode exactly.
#include <math.h>

#include "attention.cuh"

namespace {

constexpr int kAttnWarps = 4;
constexpr int kAttnMaxPerLane = 8;  // head width D <= 256

/// attention_kernel: one block of kAttnWarps warps per (row i, head h). Warp
/// w walks keys j = w, w+W, ... <= pos+i with an online softmax (running max
/// m, normaliser l, accumulator over the head's D values split across the
/// lanes); the warps' partial results are merged through shared memory. No
/// score buffer, so any cache length works; the computation of a row does
/// not depend on the other rows of the step (prefill equals decode exactly).
__global__ void attention_kernel(float* __restrict__ out, const float* __restrict__ q, const float* __restrict__ kc,
                                 const float* __restrict__ vc, int64_t C, int64_t pos, int H, float scale) {
  __shared__ float sm[kAttnWarps][2];
  __shared__ float sacc[kAttnWarps][kAttnMaxPerLane * 32];
  const int64_t i = blockIdx.x / H;
  const int h = blockIdx.x % H;
  const int D = int(C / H);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const float* qh = q + i * C + int64_t(h) * D;
  float qv[kAttnMaxPerLane], acc[kAttnMaxPerLane];
#pragma unroll
  for (int t = 0; t < kAttnMaxPerLane; ++t) {
    const int e = lane + 32 * t;
    qv[t] = e < D ? qh[e] : 0.f;
    acc[t] = 0.f;
  }
  float m = -INFINITY, l = 0.f;
  const int64_t keys = pos + i + 1;
  for (int64_t j = warp; j < keys; j += kAttnWarps) {
    const float* kj = kc + j * C + int64_t(h) * D;
    const float* vj = vc + j * C + int64_t(h) * D;
    float dot = 0.f;
#pragma unroll
    for (int t = 0; t < kAttnMaxPerLane; ++t) {
      const int e = lane + 32 * t;
      if (e < D) dot += qv[t] * kj[e];
    }
    const float sc = warp_sum(dot) * scale;
    const float mn = fmaxf(m, sc);
    const float corr = expf(m - mn), p = expf(sc - mn);
    l = l * corr + p;
#pragma unroll
    for (int t = 0; t < kAttnMaxPerLane; ++t) {
      const int e = lane + 32 * t;
      if (e < D) acc[t] = acc[t] * corr + p * vj[e];
    }
    m = mn;
  }
  if (lane == 0) {
    sm[warp][0] = m;
    sm[warp][1] = l;
  }
#pragma unroll
  for (int t = 0; t < kAttnMaxPerLane; ++t) sacc[warp][lane + 32 * t] = acc[t];
  __syncthreads();
  float M = -INFINITY;
  for (int w = 0; w < kAttnWarps; ++w) M = fmaxf(M, sm[w][0]);
  float L = 0.f, f[kAttnWarps];
  for (int w = 0; w < kAttnWarps; ++w) {
    f[w] = sm[w][1] > 0.f ? expf(sm[w][0] - M) : 0.f;
    L += sm[w][1] * f[w];
  }
  const float invL = 1.f / L;
  float* oh = out + i * C + int64_t(h) * D;
  for (int e = threadIdx.x; e < D; e += blockDim.x) {
    float o = 0.f;
    for (int w = 0; w < kAttnWarps; ++w) o += sacc[w][e] * f[w];
    oh[e] = o * invL;
  }
}

}  // namespace

cudaError_t rwkvcu_launch_attention(cudaStream_t s, float* out, const float* q, const float* kc, const float* vc,
                                    int64_t n, int64_t C, int64_t pos, int32_t heads) {
  const int64_t D = C / heads;
  if (D > 32 * kAttnMaxPerLane) return cudaErrorNotSupported;
  const float scale = float(1.0 / sqrt(double(D)));
  RWKV_LAUNCH(attention_kernel, dim3(unsigned(n * heads)), dim3(32 * kAttnWarps), 0, s)(out, q, kc, vc, C, pos,
                                                                                       heads, scale);
  return rwkvcu_check_launch();
}
