// librwkvcu_bench: the benchmarks' companion of librwkvcu (rwkvcu_bench.h):
// the cuBLAS baseline of rwkvcu_matmul, event timers, the L2 flush and the
// transformer baseline's attention. It reaches librwkvcu's contexts and
// tensors through csrc/internal.h and keeps its per-context state in the
// context's extension slot (released by rwkvcu_context_destroy).
//
// rwkvcu_vendor_matmul's cuBLAS path is compiled only into the real
// library; the emulated one has no cuBLAS and reports
// RWKVCU_ERR_NOT_SUPPORTED.
#include <climits>

#include "../../cuda/attention.cuh"
#include "../include/rwkvcu_bench.h"
#include "../internal.h"

#if !defined(CUEMU)
#include <cublas_v2.h>
#endif

using namespace rwkvcu;

namespace {

/// Bench is the per-context state of this library.
struct Bench {
  cudaEvent_t t0 = nullptr, t1 = nullptr;
  void* l2buf = nullptr;
  size_t l2bytes = 0;
#if !defined(CUEMU)
  // rwkvcu_vendor_matmul: a cuBLAS handle bound to the context's stream
  // (created on first use) and scratch for the activations converted to a
  // 16-bit weight type.
  cublasHandle_t cublas = nullptr;
  void* vx = nullptr;
  size_t vx_bytes = 0;
#endif
};

/// bench_free releases ctx's Bench (called by rwkvcu_context_destroy after
/// the stream has drained).
void bench_free(rwkvcu_context* ctx) {
  auto* b = static_cast<Bench*>(ctx->ext);
  if (!b) return;
  if (b->t0) cudaEventDestroy(b->t0);
  if (b->t1) cudaEventDestroy(b->t1);
  dev_free(ctx, b->l2buf, b->l2bytes);
#if !defined(CUEMU)
  if (b->cublas) cublasDestroy(b->cublas);
  dev_free(ctx, b->vx, b->vx_bytes);
#endif
  delete b;
  ctx->ext = nullptr;
  ctx->ext_free = nullptr;
}

/// B returns ctx's Bench, creating it on first use.
Bench* B(rwkvcu_context* ctx) {
  if (!ctx->ext) {
    ctx->ext = new Bench;
    ctx->ext_free = bench_free;
  }
  return static_cast<Bench*>(ctx->ext);
}

#if !defined(CUEMU)
/// ckb throws for a failed cuBLAS call, naming it.
void ckb(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return;
  int code = RWKVCU_ERR_CUDA;
  switch (s) {
    case CUBLAS_STATUS_ALLOC_FAILED: code = RWKVCU_ERR_OUT_OF_MEMORY; break;
    case CUBLAS_STATUS_INVALID_VALUE: code = RWKVCU_ERR_INVALID_ARGUMENT; break;
    case CUBLAS_STATUS_ARCH_MISMATCH:
    case CUBLAS_STATUS_NOT_SUPPORTED: code = RWKVCU_ERR_NOT_SUPPORTED; break;
    case CUBLAS_STATUS_EXECUTION_FAILED: code = RWKVCU_ERR_LAUNCH; break;
    default: break;
  }
  fail(code, "%s: %s (%s)", what, cublasGetStatusName(s), cublasGetStatusString(s));
}

/// vendor_handle returns ctx's cuBLAS handle, creating it on first use and
/// binding it to ctx's stream. Default math mode: F32 products stay FP32
/// (no TF32); 16-bit products may use tensor cores with FP32 accumulation.
cublasHandle_t vendor_handle(rwkvcu_context* ctx) {
  if (B(ctx)->cublas) return B(ctx)->cublas;
  cublasHandle_t h = nullptr;
  ckb(cublasCreate(&h), "cublasCreate");
  const char* what = "cublasSetStream";
  cublasStatus_t s = cublasSetStream(h, ctx->stream);
  if (s == CUBLAS_STATUS_SUCCESS) {
    what = "cublasSetMathMode";
    s = cublasSetMathMode(h, CUBLAS_DEFAULT_MATH);
  }
  if (s != CUBLAS_STATUS_SUCCESS) {
    cublasDestroy(h);
    ckb(s, what);
  }
  B(ctx)->cublas = h;
  return h;
}

__device__ __forceinline__ void vendor_store(__half* p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ void vendor_store(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

/// vendor_convert rounds n floats of src to the 16-bit type T in dst.
template <class T>
__global__ void vendor_convert(T* dst, const float* src, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) vendor_store(dst + i, src[i]);
}

/// vendor_convert_x rounds x's n floats to the weight type dt (F16 or BF16)
/// in ctx's scratch (grown as needed) and returns it.
void* vendor_convert_x(rwkvcu_context* ctx, const float* x, int64_t n, int32_t dt) {
  const size_t bytes = size_t(n) * 2;
  if (B(ctx)->vx_bytes < bytes) {
    // Earlier vendor products queued on the stream may still read the old scratch.
    sync(ctx);
    dev_free(ctx, B(ctx)->vx, B(ctx)->vx_bytes);
    B(ctx)->vx = nullptr;
    B(ctx)->vx_bytes = 0;
    B(ctx)->vx = dev_alloc(ctx, bytes, "cudaMalloc (vendor scratch)");
    B(ctx)->vx_bytes = bytes;
  }
  const int threads = 256;
  int64_t blocks = rwkvcu_ceil_div(n, threads);
  if (blocks > 65536) blocks = 65536;  // the kernel strides over the rest
  launch(ctx, "rwkvcu_vendor_matmul (converting x)", [&] {
    if (dt == RWKVCU_F16)
      RWKV_LAUNCH(vendor_convert<__half>, dim3(unsigned(blocks)), dim3(threads), 0, ctx->stream)(
          static_cast<__half*>(B(ctx)->vx), x, n);
    else
      RWKV_LAUNCH(vendor_convert<__nv_bfloat16>, dim3(unsigned(blocks)), dim3(threads), 0, ctx->stream)(
          static_cast<__nv_bfloat16*>(B(ctx)->vx), x, n);
    return rwkvcu_check_launch();
  });
  return B(ctx)->vx;
}
#endif

}  // namespace

extern "C" {

uint32_t rwkvcu_bench_abi_version(void) { return RWKVCU_ABI_VERSION; }

int rwkvcu_vendor_matmul(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* x, const rwkvcu_tensor* w) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_vendor_matmul";
    T(ctx, w, op, "w");
    const float* xp = F(ctx, x, -1, w->cols, op, "x");
    float* o = F(ctx, out, x->rows, w->rows, op, "out");
#if defined(CUEMU)
    (void)xp;
    (void)o;
    fail(RWKVCU_ERR_NOT_SUPPORTED, "cuBLAS is not available in the emulated library");
#else
    if (has_scales(w->dtype) || is_block(w->dtype))
      fail(RWKVCU_ERR_NOT_SUPPORTED, "%s: %s weights have no cuBLAS equivalent (F32, F16 and BF16 only)", op,
           dtype_name(w->dtype));
    not_capturing(ctx, op);
    const int64_t N = x->rows, O = w->rows, I = w->cols;
    if (N > INT_MAX || O > INT_MAX || I > INT_MAX)
      fail(RWKVCU_ERR_NOT_SUPPORTED, "%s: [%lld, %lld] x [%lld, %lld]^T exceeds cuBLAS's 32-bit dimensions", op,
           (long long)N, (long long)I, (long long)O, (long long)I);
    cublasHandle_t h = vendor_handle(ctx);
    ctx->stats[RWKVCU_STAT_KERNEL_LAUNCHES]++;  // cuBLAS's kernels are counted as one launch
    const float alpha = 1, beta = 0;
    // Row-major out[N,O] = x[N,I] w[O,I]^T is column-major out^T[O,N] =
    // (w^T[I,O])^T x^T[I,N]: m = O, n = N, k = I, A = w (transposed), B = x.
    if (w->dtype == RWKVCU_F32) {
      ckb(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, int(O), int(N), int(I), &alpha, static_cast<const float*>(w->data),
                      int(I), xp, int(I), &beta, o, int(O)),
          "cublasSgemm");
      return;
    }
    const cudaDataType_t t = w->dtype == RWKVCU_F16 ? CUDA_R_16F : CUDA_R_16BF;
    const void* xb = vendor_convert_x(ctx, xp, N * I, w->dtype);
    ckb(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, int(O), int(N), int(I), &alpha, w->data, t, int(I), xb, t, int(I), &beta,
                     o, CUDA_R_32F, int(O), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmEx");
#endif
  });
}

int rwkvcu_timer_start(rwkvcu_context* ctx) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    Bench* b = B(ctx);
    if (!b->t0) ck(cudaEventCreate(&b->t0), "cudaEventCreate");
    ck(cudaEventRecord(b->t0, ctx->stream), "cudaEventRecord");
  });
}

int rwkvcu_timer_stop(rwkvcu_context* ctx, float* ms) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    need(ms, "ms");
    not_capturing(ctx, "rwkvcu_timer_stop");
    Bench* b = B(ctx);
    if (!b->t0) fail(RWKVCU_ERR_INVALID_ARGUMENT, "rwkvcu_timer_stop without rwkvcu_timer_start");
    if (!b->t1) ck(cudaEventCreate(&b->t1), "cudaEventCreate");
    ck(cudaEventRecord(b->t1, ctx->stream), "cudaEventRecord");
    sync_event(ctx, b->t1);
    ck(cudaEventElapsedTime(ms, b->t0, b->t1), "cudaEventElapsedTime");
  });
}

int rwkvcu_flush_l2(rwkvcu_context* ctx) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    not_capturing(ctx, "rwkvcu_flush_l2");
    Bench* b = B(ctx);
    if (!b->l2buf) {
      cudaDeviceProp p;
      ck(cudaGetDeviceProperties(&p, ctx->device), "cudaGetDeviceProperties");
      const int l2 = p.l2CacheSize > 0 ? p.l2CacheSize : 8 << 20;
      b->l2buf = dev_alloc(ctx, size_t(l2) * 2, "cudaMalloc");
      b->l2bytes = size_t(l2) * 2;
    }
    ck(cudaMemsetAsync(b->l2buf, 0, b->l2bytes, ctx->stream), "cudaMemsetAsync");
  });
}

int rwkvcu_attention(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* q, const rwkvcu_tensor* k,
                     const rwkvcu_tensor* v, rwkvcu_tensor* kc, rwkvcu_tensor* vc, int64_t pos, int32_t heads) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_attention";
    const float* qp = F(ctx, q, -1, -1, op, "q");
    const int64_t n = q->rows, C = q->cols;
    float* o = F(ctx, out, n, C, op, "out");
    const float* kp = F(ctx, k, n, C, op, "k");
    const float* vp = F(ctx, v, n, C, op, "v");
    float* kcp = F(ctx, kc, -1, C, op, "kc");
    float* vcp = F(ctx, vc, kc->rows, C, op, "vc");
    heads_divide(heads, C, op);
    if (pos < 0 || pos + n > kc->rows)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: positions [%lld, %lld) outside a cache of %lld rows", op, (long long)pos,
           (long long)(pos + n), (long long)kc->rows);
    if (C / heads > 256) fail(RWKVCU_ERR_NOT_SUPPORTED, "%s: head width %lld > 256", op, (long long)(C / heads));
    ck(cudaMemcpyAsync(kcp + pos * C, kp, size_t(n * C) * 4, cudaMemcpyDeviceToDevice, ctx->stream), "cudaMemcpyAsync");
    ck(cudaMemcpyAsync(vcp + pos * C, vp, size_t(n * C) * 4, cudaMemcpyDeviceToDevice, ctx->stream), "cudaMemcpyAsync");
    launch(ctx, op, [&] { return rwkvcu_launch_attention(ctx->stream, o, qp, kcp, vcp, n, C, pos, heads); });
  });
}

}  // extern "C"
