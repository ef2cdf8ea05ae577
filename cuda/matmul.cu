// Matrix products: a simple correct implementation of the contract in
// matmul.cuh (one thread per output, float32 accumulation in increasing i),
// to be replaced by the tiled tensor-core kernels.
#include "matmul.cuh"

namespace {

template <int DT>
__global__ void matmul_simple(float* out, int64_t ldo, const float* __restrict__ x, int64_t ldx,
                              const void* __restrict__ w, const float* __restrict__ ws, int64_t n, int64_t o,
                              int64_t k) {
  const int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x, t = blockIdx.y;
  if (r >= o || t >= n) return;
  float acc = 0.f;
  for (int64_t i = 0; i < k; ++i) acc += x[t * ldx + i] * load_elem<DT>(w, r * k + i, ws, r);
  out[t * ldo + r] = acc;
}

template <int DT>
__global__ void matmul_t_simple(float* out, int64_t ldo, const float* __restrict__ x, int64_t ldx,
                                const void* __restrict__ wt, const float* __restrict__ ws, int64_t n, int64_t k,
                                int64_t o) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x, t = blockIdx.y;
  if (c >= o || t >= n) return;
  float acc = 0.f;
  for (int64_t i = 0; i < k; ++i) {
    const float xi = x[t * ldx + i];
    if (xi != 0.f) acc += xi * load_elem<DT>(wt, i * o + c, ws, i);
  }
  out[t * ldo + c] = acc;
}

}  // namespace

cudaError_t rwkvcu_launch_matmul(cudaStream_t s, float* out, int64_t ldo, const float* x, int64_t ldx, const void* w,
                                 int32_t wdtype, const float* wscale, int64_t n, int64_t o, int64_t k) {
  const dim3 grid(unsigned(rwkvcu_ceil_div(o, 128)), unsigned(n)), block(128);
  switch (wdtype) {
    case kF32: RWKV_LAUNCH(matmul_simple<kF32>, grid, block, 0, s)(out, ldo, x, ldx, w, wscale, n, o, k); break;
    case kF16: RWKV_LAUNCH(matmul_simple<kF16>, grid, block, 0, s)(out, ldo, x, ldx, w, wscale, n, o, k); break;
    case kBF16: RWKV_LAUNCH(matmul_simple<kBF16>, grid, block, 0, s)(out, ldo, x, ldx, w, wscale, n, o, k); break;
    case kI8: RWKV_LAUNCH(matmul_simple<kI8>, grid, block, 0, s)(out, ldo, x, ldx, w, wscale, n, o, k); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

cudaError_t rwkvcu_launch_matmul_t(cudaStream_t s, float* out, int64_t ldo, const float* x, int64_t ldx,
                                   const void* wt, int32_t wdtype, const float* wscale, int64_t n, int64_t k,
                                   int64_t o) {
  const dim3 grid(unsigned(rwkvcu_ceil_div(o, 128)), unsigned(n)), block(128);
  switch (wdtype) {
    case kF32: RWKV_LAUNCH(matmul_t_simple<kF32>, grid, block, 0, s)(out, ldo, x, ldx, wt, wscale, n, k, o); break;
    case kF16: RWKV_LAUNCH(matmul_t_simple<kF16>, grid, block, 0, s)(out, ldo, x, ldx, wt, wscale, n, k, o); break;
    case kBF16: RWKV_LAUNCH(matmul_t_simple<kBF16>, grid, block, 0, s)(out, ldo, x, ldx, wt, wscale, n, k, o); break;
    case kI8: RWKV_LAUNCH(matmul_t_simple<kI8>, grid, block, 0, s)(out, ldo, x, ldx, wt, wscale, n, k, o); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}
