// Host side of librwkvcu: the C ABI of csrc/include/rwkvcu.h over the
// kernels of cuda/. Compiled by nvcc for the real library and by a C++20
// compiler with the emulator's headers for librwkvcu_emu.
//
// Error handling: every exported function runs its body inside guard(),
// which turns the internal Error exception, std::bad_alloc and anything
// else into a status code and the context's (or the thread's) last-error
// text; no exception crosses the ABI. Shapes and host arrays are validated
// before anything is queued, so a failed call launches nothing.
//
// Host arrays are staged: copied into pinned host memory and from there to
// device memory by an asynchronous copy on the context's stream. Outside a
// graph capture the staging area is a double-buffered ring (two halves; a
// half is reused only after the event recorded when it was left has
// completed), and an array identical to one staged earlier in the current
// half is not copied again (the batch arrays every layer passes). During a
// capture the arrays go to the graph's own arena and become graph inputs.
//
// rwkvcu_vendor_matmul (the benchmarks' cuBLAS baseline) is compiled only
// into the real library; the emulated one has no cuBLAS and reports
// RWKVCU_ERR_NOT_SUPPORTED.
#include <cstdarg>
#include <climits>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "../cuda/kernels.cuh"
#include "../cuda/matmul.cuh"
#include "../cuda/sample.cuh"
#include "device_check.h"
#include "include/rwkvcu.h"

#if !defined(CUEMU)
#include <cublas_v2.h>
#endif

namespace {

/// Error is thrown inside the library and caught at the ABI boundary.
struct Error {
  int code;
  std::string msg;
};

[[noreturn]] void fail(int code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
[[noreturn]] void fail(int code, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  throw Error{code, buf};
}

/// status_of maps a CUDA error to an rwkvcu status.
int status_of(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return RWKVCU_OK;
    case cudaErrorMemoryAllocation: return RWKVCU_ERR_OUT_OF_MEMORY;
    case cudaErrorNoDevice:
#if !defined(CUEMU)
    case cudaErrorInsufficientDriver:
#endif
    case cudaErrorInvalidDevice: return RWKVCU_ERR_NO_DEVICE;
    case cudaErrorNotSupported: return RWKVCU_ERR_NOT_SUPPORTED;
    case cudaErrorLaunchFailure:
    case cudaErrorIllegalAddress:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorLaunchOutOfResources:
    case cudaErrorInvalidConfiguration: return RWKVCU_ERR_LAUNCH;
    default: return RWKVCU_ERR_CUDA;
  }
}

/// ck throws for a failed CUDA call, naming it.
void ck(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  cudaGetLastError();  // clear it
#if defined(CUEMU)
  const char* detail = cuemuGetLastErrorDetail();
  fail(status_of(e), "%s: %s (%s)%s%s", what, cudaGetErrorName(e), cudaGetErrorString(e), detail && *detail ? ": " : "",
       detail ? detail : "");
#else
  fail(status_of(e), "%s: %s (%s)", what, cudaGetErrorName(e), cudaGetErrorString(e));
#endif
}

thread_local std::string tls_error = "no error";

constexpr size_t kRingHalf = 64 * 1024;     // bytes per half of the staging ring (grows on demand)
constexpr size_t kGraphArena = 64 * 1024;   // default staging arena of a graph
constexpr int kDedupe = 8;                  // staged arrays remembered for reuse

/// Kinds of staged host arrays: arrays are only shared between uses of the
/// same kind.
enum StageKind { kTokens = 1, kRows = 2, kBatch = 3 };

}  // namespace

/// A graph input: a region of the graph's staging arena.
struct GraphInput {
  int kind;
  size_t offset, bytes;
};

struct rwkvcu_graph {
  rwkvcu_context* ctx = nullptr;
  cudaGraphExec_t exec = nullptr;
  char* host = nullptr;  // pinned arena
  char* dev = nullptr;   // device arena
  size_t cap = 0, used = 0;
  std::vector<GraphInput> inputs;
  cudaEvent_t done = nullptr;  // recorded after each replay
  bool launched = false;
};

struct rwkvcu_context {
  int32_t device = 0;
  cudaStream_t stream = nullptr;
  std::string err = "no error";
  // Staging ring: pinned host halves h[0], h[1] mirrored by device halves d[0], d[1].
  char* h = nullptr;
  char* d = nullptr;
  size_t half = 0, used = 0;
  int cur = 0;
  cudaEvent_t left[2] = {nullptr, nullptr};  // recorded when a half was left
  bool pending[2] = {false, false};
  struct Cached {
    int kind;
    size_t offset, bytes;  // in the current half
  } cache[kDedupe];
  int ncache = 0, next_cache = 0;
  rwkvcu_graph* capture = nullptr;  // the graph being captured
  cudaEvent_t t0 = nullptr, t1 = nullptr;
  void* l2buf = nullptr;
  size_t l2bytes = 0;
#if !defined(CUEMU)
  // rwkvcu_vendor_matmul: a cuBLAS handle bound to stream (created on first
  // use) and scratch for the activations converted to a 16-bit weight type.
  cublasHandle_t cublas = nullptr;
  void* vx = nullptr;
  size_t vx_bytes = 0;
#endif
};

struct rwkvcu_tensor {
  rwkvcu_context* ctx;
  int32_t dtype;
  int64_t rows, cols;
  void* data;
  float* scales;  // RWKVCU_I8 only
  bool owner;     // false for views
};

struct rwkvcu_sampler {
  rwkvcu_context* ctx;
  int32_t rows, vocab;
  std::vector<rwkvcu_sample_row> host_rows;
  bool dirty = true;
  bool has_bias = false;
  rwkvcu_sample_row* d_rows = nullptr;
  float* d_counts = nullptr;
  float* d_bias = nullptr;
  int32_t* d_tokens = nullptr;
  float* d_probs = nullptr;
};

namespace {

/// guard runs f, converting failures into a status and the last-error text
/// of ctx (or of the thread when ctx is NULL).
template <class F>
int guard(rwkvcu_context* ctx, F&& f) {
  std::string* err = ctx ? &ctx->err : &tls_error;
  try {
    if (ctx) ck(cudaSetDevice(ctx->device), "cudaSetDevice");
    f();
    return RWKVCU_OK;
  } catch (const Error& e) {
    *err = e.msg;
    return e.code;
  } catch (const std::bad_alloc&) {
    *err = "host allocation failed";
    return RWKVCU_ERR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    *err = std::string("internal error: ") + e.what();
    return RWKVCU_ERR_INTERNAL;
  } catch (...) {
    *err = "internal error";
    return RWKVCU_ERR_INTERNAL;
  }
}

void need(const void* p, const char* what) {
  if (!p) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s is NULL", what);
}

size_t dtype_size(int32_t dt) {
  switch (dt) {
    case RWKVCU_F32: return 4;
    case RWKVCU_F16:
    case RWKVCU_BF16: return 2;
    case RWKVCU_I8: return 1;
  }
  fail(RWKVCU_ERR_INVALID_ARGUMENT, "unknown dtype %d", int(dt));
}

const char* dtype_name(int32_t dt) {
  static const char* names[] = {"F32", "F16", "BF16", "I8"};
  return dt >= 0 && dt < 4 ? names[dt] : "?";
}

/// T checks that t is a tensor of ctx.
const rwkvcu_tensor* T(rwkvcu_context* ctx, const rwkvcu_tensor* t, const char* op, const char* name) {
  if (!t) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %s is NULL", op, name);
  if (t->ctx != ctx) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %s belongs to another context", op, name);
  return t;
}

/// F checks that t is an F32 tensor of ctx with the given shape (-1: any)
/// and returns its data.
float* F(rwkvcu_context* ctx, const rwkvcu_tensor* t, int64_t rows, int64_t cols, const char* op, const char* name) {
  T(ctx, t, op, name);
  if (t->dtype != RWKVCU_F32) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %s must be F32, not %s", op, name, dtype_name(t->dtype));
  if ((rows >= 0 && t->rows != rows) || (cols >= 0 && t->cols != cols))
    fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %s is [%lld, %lld], want [%lld, %lld]", op, name, (long long)t->rows,
         (long long)t->cols, (long long)rows, (long long)cols);
  return static_cast<float*>(t->data);
}

/// Fb is F for an operand that may also be a [1, cols] vector; *brows gets its rows.
float* Fb(rwkvcu_context* ctx, const rwkvcu_tensor* t, int64_t rows, int64_t cols, const char* op, const char* name,
          int64_t* brows) {
  T(ctx, t, op, name);
  const int64_t r = t->rows == 1 ? 1 : rows;
  if (brows) *brows = r;
  return F(ctx, t, r, cols, op, name);
}

void not_capturing(rwkvcu_context* ctx, const char* op) {
  if (ctx->capture) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s is not allowed while capturing a graph", op);
}

void launched(cudaError_t e, const char* op) { ck(e, op); }

/// ensure_ring allocates (or grows) the staging ring so a half holds bytes.
void ensure_ring(rwkvcu_context* ctx, size_t bytes) {
  if (ctx->h && bytes <= ctx->half) return;
  size_t half = ctx->half ? ctx->half : kRingHalf;
  while (half < bytes) half *= 2;
  if (ctx->h) {  // growing: wait for every copy reading the old ring
    ck(cudaStreamSynchronize(ctx->stream), "cudaStreamSynchronize");
    cudaFreeHost(ctx->h);
    cudaFree(ctx->d);
    ctx->h = nullptr;
    ctx->d = nullptr;
  }
  ck(cudaMallocHost(reinterpret_cast<void**>(&ctx->h), 2 * half), "cudaMallocHost (staging)");
  ck(cudaMalloc(reinterpret_cast<void**>(&ctx->d), 2 * half), "cudaMalloc (staging)");
  ctx->half = half;
  ctx->used = 0;
  ctx->cur = 0;
  ctx->pending[0] = ctx->pending[1] = false;
  ctx->ncache = 0;
}

/// stage copies a host array to device memory on ctx's stream and returns
/// its device address (see the file comment).
const void* stage(rwkvcu_context* ctx, int kind, const void* data, size_t bytes) {
  const size_t padded = (bytes + 15) & ~size_t(15);
  if (rwkvcu_graph* g = ctx->capture) {
    for (const GraphInput& in : g->inputs)
      if (in.kind == kind && in.bytes == bytes && std::memcmp(g->host + in.offset, data, bytes) == 0)
        return g->dev + in.offset;
    if (g->used + padded > g->cap)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "graph staging arena of %zu bytes is full (rwkvcu_graph_begin's staging_bytes)",
           g->cap);
    std::memcpy(g->host + g->used, data, bytes);
    ck(cudaMemcpyAsync(g->dev + g->used, g->host + g->used, bytes, cudaMemcpyHostToDevice, ctx->stream),
       "cudaMemcpyAsync (staging)");
    g->inputs.push_back(GraphInput{kind, g->used, bytes});
    g->used += padded;
    return g->dev + g->used - padded;
  }
  ensure_ring(ctx, padded);
  char* hh = ctx->h + size_t(ctx->cur) * ctx->half;
  char* dh = ctx->d + size_t(ctx->cur) * ctx->half;
  for (int i = 0; i < ctx->ncache; ++i) {
    const auto& c = ctx->cache[i];
    if (c.kind == kind && c.bytes == bytes && std::memcmp(hh + c.offset, data, bytes) == 0) return dh + c.offset;
  }
  if (ctx->used + padded > ctx->half) {  // switch halves
    ck(cudaEventRecord(ctx->left[ctx->cur], ctx->stream), "cudaEventRecord");
    ctx->pending[ctx->cur] = true;
    ctx->cur ^= 1;
    if (ctx->pending[ctx->cur]) ck(cudaEventSynchronize(ctx->left[ctx->cur]), "cudaEventSynchronize");
    ctx->pending[ctx->cur] = false;
    ctx->used = 0;
    ctx->ncache = 0;
    hh = ctx->h + size_t(ctx->cur) * ctx->half;
    dh = ctx->d + size_t(ctx->cur) * ctx->half;
  }
  std::memcpy(hh + ctx->used, data, bytes);
  ck(cudaMemcpyAsync(dh + ctx->used, hh + ctx->used, bytes, cudaMemcpyHostToDevice, ctx->stream),
     "cudaMemcpyAsync (staging)");
  auto& c = ctx->cache[ctx->next_cache];
  c = {kind, ctx->used, bytes};
  ctx->next_cache = (ctx->next_cache + 1) % kDedupe;
  if (ctx->ncache < kDedupe) ++ctx->ncache;
  ctx->used += padded;
  return dh + c.offset;
}

/// stage_batch validates a batch against n rows and a state tensor of
/// nslots rows, and stages offsets followed by slots.
const int32_t* stage_batch(rwkvcu_context* ctx, const int32_t* offsets, const int32_t* slots, int32_t nseq, int64_t n,
                           int64_t nslots, const char* op) {
  need(offsets, "offsets");
  need(slots, "slots");
  if (nseq <= 0) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: batch of %d sequences", op, int(nseq));
  if (offsets[0] != 0) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: batch offsets start at %d, not 0", op, int(offsets[0]));
  for (int32_t i = 0; i < nseq; ++i) {
    if (offsets[i + 1] <= offsets[i]) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: sequence %d of the batch has no rows", op, int(i));
    if (slots[i] < 0 || slots[i] >= nslots)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: state slot %d out of range [0, %lld)", op, int(slots[i]), (long long)nslots);
  }
  if (offsets[nseq] != n)
    fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: batch covers %d rows, the operands have %lld", op, int(offsets[nseq]), (long long)n);
  std::vector<int32_t> b(offsets, offsets + nseq + 1);
  b.insert(b.end(), slots, slots + nseq);
  return static_cast<const int32_t*>(stage(ctx, kBatch, b.data(), b.size() * sizeof(int32_t)));
}

/// state_range checks that state rows hold [off, off+need) and returns the state's data.
float* state_range(rwkvcu_context* ctx, const rwkvcu_tensor* st, int64_t off, int64_t need_, const char* op) {
  float* p = F(ctx, st, -1, -1, op, "state");
  if (off < 0 || off + need_ > st->cols)
    fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: state values [%lld, %lld) outside a state row of %lld", op, (long long)off,
         (long long)(off + need_), (long long)st->cols);
  return p;
}

void heads_divide(int32_t heads, int64_t C, const char* op) {
  if (heads <= 0 || C % heads != 0) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %d heads do not divide %lld", op, int(heads), (long long)C);
}

void free_sampler_memory(rwkvcu_sampler* s) {
  cudaFree(s->d_rows);
  cudaFree(s->d_counts);
  cudaFree(s->d_bias);
  cudaFree(s->d_tokens);
  cudaFree(s->d_probs);
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
  if (ctx->cublas) return ctx->cublas;
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
  ctx->cublas = h;
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
  if (ctx->vx_bytes < bytes) {
    // Earlier vendor products queued on the stream may still read the old scratch.
    ck(cudaStreamSynchronize(ctx->stream), "cudaStreamSynchronize");
    cudaFree(ctx->vx);
    ctx->vx = nullptr;
    ctx->vx_bytes = 0;
    ck(cudaMalloc(&ctx->vx, bytes), "cudaMalloc (vendor scratch)");
    ctx->vx_bytes = bytes;
  }
  const int threads = 256;
  int64_t blocks = rwkvcu_ceil_div(n, threads);
  if (blocks > 65536) blocks = 65536;  // the kernel strides over the rest
  if (dt == RWKVCU_F16)
    vendor_convert<<<unsigned(blocks), threads, 0, ctx->stream>>>(static_cast<__half*>(ctx->vx), x, n);
  else
    vendor_convert<<<unsigned(blocks), threads, 0, ctx->stream>>>(static_cast<__nv_bfloat16*>(ctx->vx), x, n);
  ck(rwkvcu_check_launch(), "rwkvcu_vendor_matmul (converting x)");
  return ctx->vx;
}
#endif

}  // namespace

extern "C" {

// ---- Library and device --------------------------------------------------------

uint32_t rwkvcu_abi_version(void) { return RWKVCU_ABI_VERSION; }

int rwkvcu_device_count(int32_t* count) {
  return guard(nullptr, [&] {
    need(count, "count");
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();
      n = 0;
    }
    *count = n;
  });
}

const char* rwkvcu_last_error(const rwkvcu_context* ctx) { return ctx ? ctx->err.c_str() : tls_error.c_str(); }

int rwkvcu_context_create(int32_t device, rwkvcu_context** out) {
  return guard(nullptr, [&] {
    need(out, "out");
    *out = nullptr;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
      cudaGetLastError();
      fail(RWKVCU_ERR_NO_DEVICE, "no CUDA device%s%s", e != cudaSuccess ? ": " : "", e != cudaSuccess ? cudaGetErrorString(e) : "");
    }
    if (device < 0 || device >= n) fail(RWKVCU_ERR_NO_DEVICE, "device %d does not exist (%d devices)", int(device), n);
    if (auto dc = rwkvcu_devcheck::check_device_code(device); dc.status != RWKVCU_OK) fail(dc.status, "%s", dc.msg.c_str());
    auto* ctx = new rwkvcu_context;
    ctx->device = device;
    try {
      ck(cudaSetDevice(device), "cudaSetDevice");
      ck(cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
      for (auto& ev : ctx->left) ck(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming), "cudaEventCreate");
      ck(cudaEventCreate(&ctx->t0), "cudaEventCreate");
      ck(cudaEventCreate(&ctx->t1), "cudaEventCreate");
      ensure_ring(ctx, 0);
    } catch (...) {
      rwkvcu_context_destroy(ctx);
      throw;
    }
    *out = ctx;
  });
}

void rwkvcu_context_destroy(rwkvcu_context* ctx) {
  if (!ctx) return;
  cudaSetDevice(ctx->device);
  if (ctx->stream) cudaStreamSynchronize(ctx->stream);
  cudaFreeHost(ctx->h);
  cudaFree(ctx->d);
  cudaFree(ctx->l2buf);
#if !defined(CUEMU)
  if (ctx->cublas) cublasDestroy(ctx->cublas);
  cudaFree(ctx->vx);
#endif
  for (auto ev : ctx->left)
    if (ev) cudaEventDestroy(ev);
  if (ctx->t0) cudaEventDestroy(ctx->t0);
  if (ctx->t1) cudaEventDestroy(ctx->t1);
  if (ctx->stream) cudaStreamDestroy(ctx->stream);
  cudaGetLastError();
  delete ctx;
}

int rwkvcu_synchronize(rwkvcu_context* ctx) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    not_capturing(ctx, "rwkvcu_synchronize");
    ck(cudaStreamSynchronize(ctx->stream), "cudaStreamSynchronize");
  });
}

int rwkvcu_device_info(rwkvcu_context* ctx, char* name, size_t name_len, int32_t* cc_major, int32_t* cc_minor,
                       int32_t* sm_count, uint64_t* total_mem_bytes, double* peak_bytes_per_s,
                       double* peak_fp32_flops, double* peak_f16_tensor_flops) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    cudaDeviceProp p;
    ck(cudaGetDeviceProperties(&p, ctx->device), "cudaGetDeviceProperties");
    int clock_khz = 0, mem_khz = 0, bus_bits = 0;
#if defined(CUEMU)
    clock_khz = p.clockRate;
    mem_khz = p.memoryClockRate;
    bus_bits = p.memoryBusWidth;
#else
    ck(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, ctx->device), "cudaDeviceGetAttribute");
    ck(cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, ctx->device), "cudaDeviceGetAttribute");
    ck(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, ctx->device), "cudaDeviceGetAttribute");
#endif
    if (name && name_len > 0) {
      std::strncpy(name, p.name, name_len - 1);
      name[name_len - 1] = 0;
    }
    if (cc_major) *cc_major = p.major;
    if (cc_minor) *cc_minor = p.minor;
    if (sm_count) *sm_count = p.multiProcessorCount;
    if (total_mem_bytes) *total_mem_bytes = p.totalGlobalMem;
    // DDR: two transfers per memory clock.
    if (peak_bytes_per_s) *peak_bytes_per_s = 2.0 * mem_khz * 1e3 * (bus_bits / 8.0);
    const int cc = p.major * 10 + p.minor;
    const double fp32_lanes = cc == 80 ? 64 : 128;                              // FP32 FMA units per SM
    const double tc_fma = cc >= 90 ? 2048 : cc == 80 ? 1024 : 512;              // dense f16 FMA/clock/SM, f32 accumulate
    const double clk = clock_khz * 1e3 * p.multiProcessorCount;
    if (peak_fp32_flops) *peak_fp32_flops = 2 * fp32_lanes * clk;
    if (peak_f16_tensor_flops) *peak_f16_tensor_flops = 2 * tc_fma * clk;
  });
}

int rwkvcu_mem_info(rwkvcu_context* ctx, uint64_t* free_bytes, uint64_t* total_bytes) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    size_t f = 0, t = 0;
    ck(cudaMemGetInfo(&f, &t), "cudaMemGetInfo");
    if (free_bytes) *free_bytes = f;
    if (total_bytes) *total_bytes = t;
  });
}

// ---- Tensors --------------------------------------------------------------------------

int rwkvcu_tensor_new(rwkvcu_context* ctx, int32_t dtype, int64_t rows, int64_t cols, rwkvcu_tensor** out) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    need(out, "out");
    *out = nullptr;
    not_capturing(ctx, "rwkvcu_tensor_new");
    const size_t es = dtype_size(dtype);
    if (rows <= 0 || cols <= 0 || rows > (int64_t(1) << 40) / cols)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "tensor shape [%lld, %lld]", (long long)rows, (long long)cols);
    const size_t bytes = size_t(rows * cols) * es, data_bytes = (bytes + 15) & ~size_t(15);
    const size_t total = data_bytes + (dtype == RWKVCU_I8 ? size_t(rows) * 4 : 0);
    void* p = nullptr;
    ck(cudaMalloc(&p, total), "cudaMalloc");
    cudaError_t e = cudaMemsetAsync(p, 0, total, ctx->stream);
    if (e != cudaSuccess) {
      cudaFree(p);
      ck(e, "cudaMemsetAsync");
    }
    auto* t = new rwkvcu_tensor{ctx, dtype, rows, cols, p, nullptr, true};
    if (dtype == RWKVCU_I8) t->scales = reinterpret_cast<float*>(static_cast<char*>(p) + data_bytes);
    *out = t;
  });
}

int rwkvcu_tensor_view(rwkvcu_context* ctx, const rwkvcu_tensor* t, int64_t rows, rwkvcu_tensor** out) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    need(out, "out");
    *out = nullptr;
    T(ctx, t, "rwkvcu_tensor_view", "t");
    if (rows <= 0 || rows > t->rows)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "view of %lld rows of a tensor of %lld", (long long)rows, (long long)t->rows);
    *out = new rwkvcu_tensor{ctx, t->dtype, rows, t->cols, t->data, t->scales, false};
  });
}

void rwkvcu_tensor_free(rwkvcu_tensor* t) {
  if (!t) return;
  if (t->owner) {
    cudaSetDevice(t->ctx->device);
    cudaFree(t->data);
    cudaGetLastError();
  }
  delete t;
}

int rwkvcu_tensor_upload(rwkvcu_context* ctx, rwkvcu_tensor* t, const void* data, size_t bytes) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    not_capturing(ctx, "rwkvcu_tensor_upload");
    T(ctx, t, "rwkvcu_tensor_upload", "t");
    need(data, "data");
    const size_t n = size_t(t->rows * t->cols) * dtype_size(t->dtype);
    const size_t want = n + (t->dtype == RWKVCU_I8 ? size_t(t->rows) * 4 : 0);
    if (bytes != want)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "upload of %zu bytes into %s[%lld, %lld] (%zu bytes)", bytes, dtype_name(t->dtype),
           (long long)t->rows, (long long)t->cols, want);
    ck(cudaMemcpyAsync(t->data, data, n, cudaMemcpyHostToDevice, ctx->stream), "cudaMemcpyAsync");
    if (t->dtype == RWKVCU_I8)
      ck(cudaMemcpyAsync(t->scales, static_cast<const char*>(data) + n, size_t(t->rows) * 4, cudaMemcpyHostToDevice,
                         ctx->stream),
         "cudaMemcpyAsync");
    ck(cudaStreamSynchronize(ctx->stream), "cudaStreamSynchronize");
  });
}

static void range_check(const rwkvcu_tensor* t, int64_t row, size_t n, const char* op) {
  if (t->dtype != RWKVCU_F32) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: tensor must be F32", op);
  if (row < 0 || row > t->rows || int64_t(n) > (t->rows - row) * t->cols)
    fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %zu values at row %lld of a [%lld, %lld] tensor", op, n, (long long)row,
         (long long)t->rows, (long long)t->cols);
}

int rwkvcu_tensor_read(rwkvcu_context* ctx, const rwkvcu_tensor* t, int64_t row, float* dst, size_t n) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    not_capturing(ctx, "rwkvcu_tensor_read");
    T(ctx, t, "rwkvcu_tensor_read", "t");
    if (n == 0) return;
    need(dst, "dst");
    range_check(t, row, n, "rwkvcu_tensor_read");
    ck(cudaMemcpyAsync(dst, static_cast<const float*>(t->data) + row * t->cols, n * 4, cudaMemcpyDeviceToHost, ctx->stream),
       "cudaMemcpyAsync");
    ck(cudaStreamSynchronize(ctx->stream), "cudaStreamSynchronize");
  });
}

int rwkvcu_tensor_write(rwkvcu_context* ctx, rwkvcu_tensor* t, int64_t row, const float* src, size_t n) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    not_capturing(ctx, "rwkvcu_tensor_write");
    T(ctx, t, "rwkvcu_tensor_write", "t");
    if (n == 0) return;
    need(src, "src");
    range_check(t, row, n, "rwkvcu_tensor_write");
    ck(cudaMemcpyAsync(static_cast<float*>(t->data) + row * t->cols, src, n * 4, cudaMemcpyHostToDevice, ctx->stream),
       "cudaMemcpyAsync");
    ck(cudaStreamSynchronize(ctx->stream), "cudaStreamSynchronize");
  });
}

// ---- Operations ------------------------------------------------------------------------

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
    auto* d = static_cast<const int32_t*>(stage(ctx, kTokens, tokens, size_t(n) * 4));
    launched(rwkvcu_launch_embed(ctx->stream, o, emb->data, emb->dtype, emb->scales, emb->rows, emb->cols, d, n), op);
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
    launched(rwkvcu_launch_group_norm(ctx->stream, o, xp, wp, bp, x->rows, x->cols, groups, eps), op);
  });
}

int rwkvcu_matmul(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* x, const rwkvcu_tensor* w) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_matmul";
    T(ctx, w, op, "w");
    const float* xp = F(ctx, x, -1, w->cols, op, "x");
    float* o = F(ctx, out, x->rows, w->rows, op, "out");
    launched(rwkvcu_launch_matmul(ctx->stream, o, w->rows, xp, w->cols, w->data, w->dtype, w->scales, x->rows, w->rows,
                                  w->cols),
             op);
  });
}

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
    if (w->dtype == RWKVCU_I8)
      fail(RWKVCU_ERR_NOT_SUPPORTED, "%s: I8 weights have no cuBLAS equivalent (F32, F16 and BF16 only)", op);
    not_capturing(ctx, op);
    const int64_t N = x->rows, O = w->rows, I = w->cols;
    if (N > INT_MAX || O > INT_MAX || I > INT_MAX)
      fail(RWKVCU_ERR_NOT_SUPPORTED, "%s: [%lld, %lld] x [%lld, %lld]^T exceeds cuBLAS's 32-bit dimensions", op,
           (long long)N, (long long)I, (long long)O, (long long)I);
    cublasHandle_t h = vendor_handle(ctx);
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

int rwkvcu_matmul_t(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* x, const rwkvcu_tensor* wt) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_matmul_t";
    T(ctx, wt, op, "wt");
    const float* xp = F(ctx, x, -1, wt->rows, op, "x");
    float* o = F(ctx, out, x->rows, wt->cols, op, "out");
    launched(rwkvcu_launch_matmul_t(ctx->stream, o, wt->cols, xp, wt->rows, wt->data, wt->dtype, wt->scales, x->rows,
                                    wt->rows, wt->cols),
             op);
  });
}

int rwkvcu_map(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* x, int32_t fn) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_map";
    const float* xp = F(ctx, x, -1, -1, op, "x");
    float* o = F(ctx, out, x->rows, x->cols, op, "out");
    if (fn < RWKVCU_SIGMOID || fn > RWKVCU_V7_DECAY) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: unknown function %d", op, int(fn));
    launched(rwkvcu_launch_map(ctx->stream, o, xp, x->rows * x->cols, fn), op);
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
    launched(rwkvcu_launch_zip(ctx->stream, o, ap, bp, a->rows, a->cols, br, fn), op);
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
    launched(rwkvcu_launch_slice(ctx->stream, o, xp, x->rows, x->cols, out->cols, col), op);
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
    auto* d = static_cast<const int32_t*>(stage(ctx, kRows, rows, size_t(n) * 4));
    launched(rwkvcu_launch_gather_rows(ctx->stream, o, xp, x->rows, x->cols, d, n), op);
  });
}

int rwkvcu_shift(rwkvcu_context* ctx, rwkvcu_tensor* prev, const rwkvcu_tensor* x, rwkvcu_tensor* state, int64_t off,
                 const int32_t* offsets, const int32_t* slots, int32_t nseq) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_shift";
    const float* xp = F(ctx, x, -1, -1, op, "x");
    float* pp = F(ctx, prev, x->rows, x->cols, op, "prev");
    float* sp = state_range(ctx, state, off, x->cols, op);
    const int32_t* b = stage_batch(ctx, offsets, slots, nseq, x->rows, state->rows, op);
    launched(rwkvcu_launch_shift(ctx->stream, pp, xp, sp, state->cols, state->rows, off, x->rows, x->cols, b, nseq), op);
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
    launched(rwkvcu_launch_mix(ctx->stream, o, xp, pp, mp, x->rows, x->cols, mr, style), op);
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
    launched(rwkvcu_launch_mix_n(ctx->stream, o, xp, pp, mp, mr, count, x->rows, x->cols, style), op);
  });
}

int rwkvcu_wkv4(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* k, const rwkvcu_tensor* v,
                const rwkvcu_tensor* w, const rwkvcu_tensor* u, rwkvcu_tensor* state, int64_t off,
                const int32_t* offsets, const int32_t* slots, int32_t nseq) {
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
    const int32_t* b = stage_batch(ctx, offsets, slots, nseq, n, state->rows, op);
    launched(rwkvcu_launch_wkv4(ctx->stream, o, kp, vp, wp, up, sp, state->cols, state->rows, off, n, C, b, nseq), op);
  });
}

int rwkvcu_wkv5(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* r, const rwkvcu_tensor* k,
                const rwkvcu_tensor* v, const rwkvcu_tensor* w, const rwkvcu_tensor* u, rwkvcu_tensor* state,
                int64_t off, int32_t heads, const int32_t* offsets, const int32_t* slots, int32_t nseq) {
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
    const int32_t* b = stage_batch(ctx, offsets, slots, nseq, n, state->rows, op);
    launched(rwkvcu_launch_wkv5(ctx->stream, o, rp, kp, vp, wp, wr, up, sp, state->cols, state->rows, off, n, C, heads, b,
                                nseq),
             op);
  });
}

int rwkvcu_wkv7(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* r, const rwkvcu_tensor* w,
                const rwkvcu_tensor* k, const rwkvcu_tensor* v, const rwkvcu_tensor* kk, const rwkvcu_tensor* a,
                rwkvcu_tensor* state, int64_t off, int32_t heads, const int32_t* offsets, const int32_t* slots,
                int32_t nseq) {
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
    const int32_t* b = stage_batch(ctx, offsets, slots, nseq, n, state->rows, op);
    launched(rwkvcu_launch_wkv7(ctx->stream, o, rp, wp, kp, vp, kkp, ap, sp, state->cols, state->rows, off, n, C, heads,
                                b, nseq),
             op);
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
    launched(rwkvcu_launch_key_v7(ctx->stream, kkp, kp, ap, kKp, kAp, n, C, heads), op);
  });
}

int rwkvcu_value_v7(rwkvcu_context* ctx, rwkvcu_tensor* v, const rwkvcu_tensor* first, const rwkvcu_tensor* gate) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_value_v7";
    float* vp = F(ctx, v, -1, -1, op, "v");
    const float* fp = F(ctx, first, v->rows, v->cols, op, "first");
    const float* gp = F(ctx, gate, v->rows, v->cols, op, "gate");
    launched(rwkvcu_launch_value_v7(ctx->stream, vp, fp, gp, v->rows * v->cols), op);
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
    launched(rwkvcu_launch_bonus_v7(ctx->stream, o, rp, kp, vp, rKp, n, C, heads), op);
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
    launched(rwkvcu_launch_attention(ctx->stream, o, qp, kcp, vcp, n, C, pos, heads), op);
  });
}

// ---- Sampling ----------------------------------------------------------------------------

int rwkvcu_sampler_create(rwkvcu_context* ctx, int32_t rows, int32_t vocab, rwkvcu_sampler** out) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    need(out, "out");
    *out = nullptr;
    not_capturing(ctx, "rwkvcu_sampler_create");
    if (rows <= 0 || vocab <= 0) fail(RWKVCU_ERR_INVALID_ARGUMENT, "sampler of %d rows over %d ids", int(rows), int(vocab));
    auto* s = new rwkvcu_sampler{ctx, rows, vocab, {}};
    s->host_rows.assign(size_t(rows), rwkvcu_sample_row{0.f, 0, 1.f, 0.f, 1.f, 0.f, 0.f, 1.f, 0, 0});
    try {
      const size_t cells = size_t(rows) * size_t(vocab);
      ck(cudaMalloc(reinterpret_cast<void**>(&s->d_rows), sizeof(rwkvcu_sample_row) * size_t(rows)), "cudaMalloc");
      ck(cudaMalloc(reinterpret_cast<void**>(&s->d_counts), cells * 4), "cudaMalloc");
      ck(cudaMalloc(reinterpret_cast<void**>(&s->d_tokens), size_t(rows) * 4), "cudaMalloc");
      ck(cudaMalloc(reinterpret_cast<void**>(&s->d_probs), size_t(rows) * 4), "cudaMalloc");
      ck(cudaMemsetAsync(s->d_counts, 0, cells * 4, ctx->stream), "cudaMemsetAsync");
    } catch (...) {
      free_sampler_memory(s);
      delete s;
      throw;
    }
    *out = s;
  });
}

void rwkvcu_sampler_destroy(rwkvcu_sampler* s) {
  if (!s) return;
  cudaSetDevice(s->ctx->device);
  cudaStreamSynchronize(s->ctx->stream);
  free_sampler_memory(s);
  cudaGetLastError();
  delete s;
}

int rwkvcu_sampler_set_row(rwkvcu_sampler* s, int32_t row, float temperature, int32_t top_k, float top_p, float min_p,
                           float repetition_penalty, float presence_penalty, float frequency_penalty,
                           float penalty_decay, uint64_t seed, uint64_t seq) {
  if (!s) return RWKVCU_ERR_INVALID_ARGUMENT;
  rwkvcu_context* ctx = s->ctx;
  return guard(ctx, [&] {
    not_capturing(ctx, "rwkvcu_sampler_set_row");
    if (row < 0 || row >= s->rows) fail(RWKVCU_ERR_INVALID_ARGUMENT, "sampler row %d outside [0, %d)", int(row), int(s->rows));
    if (!(temperature >= 0) || top_k < 0 || !(top_p > 0 && top_p <= 1) || !(min_p >= 0 && min_p <= 1) ||
        !(repetition_penalty > 0) || !(penalty_decay > 0 && penalty_decay <= 1))
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "sampler row %d: invalid settings", int(row));
    s->host_rows[size_t(row)] = rwkvcu_sample_row{temperature,       top_k,          top_p, min_p, repetition_penalty,
                                                  presence_penalty, frequency_penalty, penalty_decay, seed, seq};
    s->dirty = true;
    ck(cudaMemsetAsync(s->d_counts + size_t(row) * size_t(s->vocab), 0, size_t(s->vocab) * 4, ctx->stream),
       "cudaMemsetAsync");
  });
}

int rwkvcu_sampler_set_bias(rwkvcu_sampler* s, int32_t row, const int32_t* ids, const float* values, int32_t n) {
  if (!s) return RWKVCU_ERR_INVALID_ARGUMENT;
  rwkvcu_context* ctx = s->ctx;
  return guard(ctx, [&] {
    not_capturing(ctx, "rwkvcu_sampler_set_bias");
    if (row < 0 || row >= s->rows) fail(RWKVCU_ERR_INVALID_ARGUMENT, "sampler row %d outside [0, %d)", int(row), int(s->rows));
    if (n < 0 || (n > 0 && (!ids || !values))) fail(RWKVCU_ERR_INVALID_ARGUMENT, "sampler bias: %d pairs", int(n));
    std::vector<float> bias(size_t(s->vocab), 0.f);
    for (int32_t i = 0; i < n; ++i) {
      if (ids[i] < 0 || ids[i] >= s->vocab) fail(RWKVCU_ERR_INVALID_ARGUMENT, "sampler bias: id %d outside [0, %d)", int(ids[i]), int(s->vocab));
      bias[size_t(ids[i])] += values[i];
    }
    if (!s->d_bias) {
      const size_t cells = size_t(s->rows) * size_t(s->vocab);
      ck(cudaMalloc(reinterpret_cast<void**>(&s->d_bias), cells * 4), "cudaMalloc");
      ck(cudaMemsetAsync(s->d_bias, 0, cells * 4, ctx->stream), "cudaMemsetAsync");
    }
    ck(cudaMemcpyAsync(s->d_bias + size_t(row) * size_t(s->vocab), bias.data(), bias.size() * 4, cudaMemcpyHostToDevice,
                       ctx->stream),
       "cudaMemcpyAsync");
    ck(cudaStreamSynchronize(ctx->stream), "cudaStreamSynchronize");
    s->has_bias = true;
  });
}

int rwkvcu_sampler_observe(rwkvcu_sampler* s, int32_t row, const int32_t* tokens, int32_t n) {
  if (!s) return RWKVCU_ERR_INVALID_ARGUMENT;
  rwkvcu_context* ctx = s->ctx;
  return guard(ctx, [&] {
    not_capturing(ctx, "rwkvcu_sampler_observe");
    if (row < 0 || row >= s->rows) fail(RWKVCU_ERR_INVALID_ARGUMENT, "sampler row %d outside [0, %d)", int(row), int(s->rows));
    if (n <= 0) return;
    need(tokens, "tokens");
    for (int32_t i = 0; i < n; ++i)
      if (tokens[i] < 0 || tokens[i] >= s->vocab)
        fail(RWKVCU_ERR_INVALID_ARGUMENT, "sampler observe: token %d outside [0, %d)", int(tokens[i]), int(s->vocab));
    auto* d = static_cast<const int32_t*>(stage(ctx, kTokens, tokens, size_t(n) * 4));
    launched(rwkvcu_launch_sample_observe(ctx->stream, s->d_counts, s->vocab, row, d, n,
                                          s->host_rows[size_t(row)].penalty_decay),
             "rwkvcu_sampler_observe");
  });
}

int rwkvcu_sample(rwkvcu_sampler* s, const rwkvcu_tensor* logits, uint64_t step, int32_t* tokens, float* probs) {
  if (!s) return RWKVCU_ERR_INVALID_ARGUMENT;
  rwkvcu_context* ctx = s->ctx;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_sample";
    not_capturing(ctx, op);
    const float* lp = F(ctx, logits, -1, s->vocab, op, "logits");
    if (logits->rows > s->rows)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %lld logit rows for a sampler of %d", op, (long long)logits->rows, int(s->rows));
    need(tokens, "tokens");
    if (s->dirty) {
      ck(cudaMemcpyAsync(s->d_rows, s->host_rows.data(), s->host_rows.size() * sizeof(rwkvcu_sample_row),
                         cudaMemcpyHostToDevice, ctx->stream),
         "cudaMemcpyAsync");
      ck(cudaStreamSynchronize(ctx->stream), "cudaStreamSynchronize");
      s->dirty = false;
    }
    const int32_t rows = int32_t(logits->rows);
    launched(rwkvcu_launch_sample(ctx->stream, lp, rows, s->vocab, s->d_rows, s->d_counts, s->has_bias ? s->d_bias : nullptr,
                                  step, s->d_tokens, probs ? s->d_probs : nullptr),
             op);
    ck(cudaMemcpyAsync(tokens, s->d_tokens, size_t(rows) * 4, cudaMemcpyDeviceToHost, ctx->stream), "cudaMemcpyAsync");
    if (probs) ck(cudaMemcpyAsync(probs, s->d_probs, size_t(rows) * 4, cudaMemcpyDeviceToHost, ctx->stream), "cudaMemcpyAsync");
    ck(cudaStreamSynchronize(ctx->stream), "cudaStreamSynchronize");
  });
}

// ---- Graphs ----------------------------------------------------------------------------------

static void graph_free(rwkvcu_graph* g) {
  if (g->exec) cudaGraphExecDestroy(g->exec);
  if (g->done) cudaEventDestroy(g->done);
  cudaFreeHost(g->host);
  cudaFree(g->dev);
  delete g;
}

int rwkvcu_graph_begin(rwkvcu_context* ctx, size_t staging_bytes) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    not_capturing(ctx, "rwkvcu_graph_begin");
    auto* g = new rwkvcu_graph;
    g->ctx = ctx;
    g->cap = staging_bytes ? (staging_bytes + 15) & ~size_t(15) : kGraphArena;
    try {
      ck(cudaMallocHost(reinterpret_cast<void**>(&g->host), g->cap), "cudaMallocHost (graph staging)");
      ck(cudaMalloc(reinterpret_cast<void**>(&g->dev), g->cap), "cudaMalloc (graph staging)");
      ck(cudaEventCreateWithFlags(&g->done, cudaEventDisableTiming), "cudaEventCreate");
      ck(cudaStreamBeginCapture(ctx->stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    } catch (...) {
      graph_free(g);
      throw;
    }
    ctx->capture = g;
  });
}

int rwkvcu_graph_end(rwkvcu_context* ctx, rwkvcu_graph** out) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    need(out, "out");
    *out = nullptr;
    rwkvcu_graph* g = ctx->capture;
    if (!g) fail(RWKVCU_ERR_INVALID_ARGUMENT, "rwkvcu_graph_end without rwkvcu_graph_begin");
    ctx->capture = nullptr;
    cudaGraph_t graph = nullptr;
    cudaError_t e = cudaStreamEndCapture(ctx->stream, &graph);
    if (e == cudaSuccess) e = cudaGraphInstantiateWithFlags(&g->exec, graph, 0);
    if (graph) cudaGraphDestroy(graph);
    if (e != cudaSuccess) {
      graph_free(g);
      ck(e, "graph capture");
    }
    *out = g;
  });
}

int rwkvcu_graph_input_count(const rwkvcu_graph* g, int32_t* count) {
  return guard(nullptr, [&] {
    need(g, "g");
    need(count, "count");
    *count = int32_t(g->inputs.size());
  });
}

int rwkvcu_graph_input_size(const rwkvcu_graph* g, int32_t index, size_t* bytes) {
  return guard(nullptr, [&] {
    need(g, "g");
    need(bytes, "bytes");
    if (index < 0 || size_t(index) >= g->inputs.size()) fail(RWKVCU_ERR_INVALID_ARGUMENT, "graph input %d of %zu", int(index), g->inputs.size());
    *bytes = g->inputs[size_t(index)].bytes;
  });
}

int rwkvcu_graph_set_input(rwkvcu_context* ctx, rwkvcu_graph* g, int32_t index, const void* data, size_t bytes) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    need(g, "g");
    need(data, "data");
    if (g->ctx != ctx) fail(RWKVCU_ERR_INVALID_ARGUMENT, "graph of another context");
    if (index < 0 || size_t(index) >= g->inputs.size()) fail(RWKVCU_ERR_INVALID_ARGUMENT, "graph input %d of %zu", int(index), g->inputs.size());
    const GraphInput& in = g->inputs[size_t(index)];
    if (bytes != in.bytes) fail(RWKVCU_ERR_INVALID_ARGUMENT, "graph input %d has %zu bytes, not %zu", int(index), in.bytes, bytes);
    if (g->launched) ck(cudaEventSynchronize(g->done), "cudaEventSynchronize");
    std::memcpy(g->host + in.offset, data, bytes);
  });
}

int rwkvcu_graph_launch(rwkvcu_context* ctx, rwkvcu_graph* g) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    need(g, "g");
    if (g->ctx != ctx) fail(RWKVCU_ERR_INVALID_ARGUMENT, "graph of another context");
    not_capturing(ctx, "rwkvcu_graph_launch");
    ck(cudaGraphLaunch(g->exec, ctx->stream), "cudaGraphLaunch");
    ck(cudaEventRecord(g->done, ctx->stream), "cudaEventRecord");
    g->launched = true;
  });
}

void rwkvcu_graph_destroy(rwkvcu_graph* g) {
  if (!g) return;
  cudaSetDevice(g->ctx->device);
  if (g->launched) cudaEventSynchronize(g->done);
  graph_free(g);
  cudaGetLastError();
}

// ---- Timing ------------------------------------------------------------------------------------

int rwkvcu_timer_start(rwkvcu_context* ctx) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] { ck(cudaEventRecord(ctx->t0, ctx->stream), "cudaEventRecord"); });
}

int rwkvcu_timer_stop(rwkvcu_context* ctx, float* ms) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    need(ms, "ms");
    not_capturing(ctx, "rwkvcu_timer_stop");
    ck(cudaEventRecord(ctx->t1, ctx->stream), "cudaEventRecord");
    ck(cudaEventSynchronize(ctx->t1), "cudaEventSynchronize");
    ck(cudaEventElapsedTime(ms, ctx->t0, ctx->t1), "cudaEventElapsedTime");
  });
}

int rwkvcu_flush_l2(rwkvcu_context* ctx) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    not_capturing(ctx, "rwkvcu_flush_l2");
    if (!ctx->l2buf) {
      int l2 = 0;
      cudaDeviceProp p;
      ck(cudaGetDeviceProperties(&p, ctx->device), "cudaGetDeviceProperties");
      l2 = p.l2CacheSize > 0 ? p.l2CacheSize : 8 << 20;
      ctx->l2bytes = size_t(l2) * 2;
      ck(cudaMalloc(&ctx->l2buf, ctx->l2bytes), "cudaMalloc");
    }
    ck(cudaMemsetAsync(ctx->l2buf, 0, ctx->l2bytes, ctx->stream), "cudaMemsetAsync");
  });
}

}  // extern "C"
