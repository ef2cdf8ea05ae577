// internal.h: what the host sources of librwkvcu (csrc/*.cu) and of
// librwkvcu_bench (csrc/bench/*.cu) share: the handle structures, error
// handling at the ABI boundary, argument checks, and the counted wrappers of
// the CUDA runtime calls (device allocations, copies, synchronizations and
// kernel launches) that feed each context's statistics (rwkvcu_stats).
//
// Error handling: every exported function runs its body inside guard(),
// which turns the internal Error exception, std::bad_alloc and anything
// else into a status code and the context's (or the thread's) last-error
// text; no exception crosses the ABI. Shapes and host arrays are validated
// before anything is queued, so a failed call launches nothing.
//
// Everything here is inline: librwkvcu_bench compiles its own copy and
// reaches a context only through these structures (both libraries are built
// from the same sources, so their layouts agree).
#pragma once

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include <cuda_runtime.h>

#include "../cuda/matmul.cuh"
#include "../cuda/ptx_wrappers.cuh"
#include "../cuda/qblock.cuh"
#include "include/rwkvcu.h"

static_assert(kQ4_0 == RWKVCU_Q4_0 && kQ4_1 == RWKVCU_Q4_1 && kQ5_0 == RWKVCU_Q5_0 && kQ5_1 == RWKVCU_Q5_1 &&
                  kQ8_0 == RWKVCU_Q8_0,
              "cuda/qblock.cuh's codes are rwkvcu.h's");

namespace rwkvcu {

/// Error is thrown inside the library and caught at the ABI boundary.
struct Error {
  int code;
  std::string msg;
};

[[noreturn]] inline void fail(int code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
[[noreturn]] inline void fail(int code, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  throw Error{code, buf};
}

/// status_of maps a CUDA error to an rwkvcu status.
inline int status_of(cudaError_t e) {
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
inline void ck(cudaError_t e, const char* what) {
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

/// The last error of the calling thread, for failures without a context.
inline thread_local std::string tls_error = "no error";

}  // namespace rwkvcu

/// A graph input: a region of the graph's staging arena.
struct rwkvcu_graph_input {
  size_t offset, bytes;
};

struct rwkvcu_graph {
  rwkvcu_context* ctx = nullptr;
  cudaGraphExec_t exec = nullptr;
  char* host = nullptr;  // pinned arena
  char* dev = nullptr;   // device arena
  size_t cap = 0, used = 0;
  std::vector<rwkvcu_graph_input> inputs;
  cudaEvent_t done = nullptr;  // recorded after each replay
  bool launched = false;
  uint64_t kernels = 0;    // kernels captured (run by every replay)
  uint64_t h2d_bytes = 0;  // bytes copied to the device by every replay
  uint64_t d2h_bytes = 0;  // bytes its kernels write into mapped host memory at every replay
};

/// The batch of the current step (rwkvcu_begin_step): host copies for the
/// checks of each operation, and the device array (offsets then slots) the
/// kernels read.
struct rwkvcu_step {
  bool valid = false;
  int32_t nseq = 0;
  std::vector<int32_t> host;  // offsets[nseq+1] then slots[nseq]
  int32_t max_slot = -1;
  const int32_t* dev = nullptr;
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
  // The step's batch and its device array (grown on demand).
  rwkvcu_step step;
  int32_t* step_buf = nullptr;
  size_t step_cap = 0;  // bytes
  rwkvcu_graph* capture = nullptr;  // the graph being captured
  // The scratch of the split products (cuda/matmul.cuh: the partial sums
  // and zeroed tickets of SPARSE_T row splits and tiled split-K), passed by
  // rwkvcu_matmul and rwkvcu_matmul_t: one device block allocated with the
  // context (mm_scratch_init, csrc/context.cu), kept for its life (captured
  // graphs keep its address) and freed with it; all NULL (no splits) only
  // while the context is being created. Its tickets are the context's: the
  // other kernels that elect the last of several blocks
  // (rwkvcu_add_norm_shift_mix_lora) take them too. Every launch leaves
  // them at zero and the context's one stream runs one launch at a time,
  // so the users never see each other's counts.
  rwkvcu_mm_scratch mm_scratch = {};
  uint64_t stats[RWKVCU_STAT_COUNT] = {};
  // Per-context state of librwkvcu_bench (timers, cuBLAS, L2 flush buffer),
  // created by its first call on the context and released through ext_free
  // by rwkvcu_context_destroy.
  void* ext = nullptr;
  void (*ext_free)(rwkvcu_context*) = nullptr;
};

/// A tensor handle. A view (owned == 0) shares the memory of the tensor it
/// was made from and never frees it; every handle, view or not, is freed by
/// rwkvcu_tensor_free exactly once, in any order.
struct rwkvcu_tensor {
  rwkvcu_context* ctx;
  int32_t dtype;
  int64_t rows, cols;
  void* data;
  float* scales;  // RWKVCU_I8 and RWKVCU_F8E4M3 only
  size_t owned;   // bytes of device memory this handle allocated (0 for views)
};

namespace rwkvcu {

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

inline void need(const void* p, const char* what) {
  if (!p) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s is NULL", what);
}

inline size_t dtype_size(int32_t dt) {
  switch (dt) {
    case RWKVCU_F32: return 4;
    case RWKVCU_F16:
    case RWKVCU_BF16: return 2;
    case RWKVCU_I8:
    case RWKVCU_F8E4M3: return 1;
  }
  fail(RWKVCU_ERR_INVALID_ARGUMENT, "unknown dtype %d", int(dt));
}

/// has_scales reports whether tensors of type dt carry one float scale per row.
inline bool has_scales(int32_t dt) { return dt == RWKVCU_I8 || dt == RWKVCU_F8E4M3; }

/// is_block reports whether dt is one of the 32-element block formats
/// (RWKVCU_Q4_0 ... RWKVCU_Q8_0, cuda/qblock.cuh).
inline bool is_block(int32_t dt) { return qblock_is(dt); }

/// row_bytes is the encoded size of a row of cols elements of type dt,
/// without the scales of I8 and F8E4M3; a block type needs cols to be a
/// multiple of 32.
inline size_t row_bytes(int32_t dt, int64_t cols) {
  if (is_block(dt)) {
    if (cols % kQK != 0)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "a row of %lld elements is not a whole number of 32-element blocks",
           (long long)cols);
    return size_t(qblock_row_bytes(dt, cols));
  }
  return size_t(cols) * dtype_size(dt);
}

inline const char* dtype_name(int32_t dt) {
  static const char* names[] = {"F32", "F16", "BF16", "I8", "F8E4M3", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"};
  return dt >= 0 && dt < 10 ? names[dt] : "?";
}

/// dtype_supported reports whether ctx's device takes tensors of type dt:
/// F8E4M3 needs compute capability 8.9 (hardware e4m3 conversion); the
/// emulated library decodes e4m3 with integer operations and has it.
inline bool dtype_supported(rwkvcu_context* ctx, int32_t dt) {
  if (dt < RWKVCU_F32 || dt > RWKVCU_Q8_0) return false;
  if (dt != RWKVCU_F8E4M3) return true;
#if defined(CUEMU)
  (void)ctx;
  return true;
#else
  int major = 0, minor = 0;
  ck(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, ctx->device), "cudaDeviceGetAttribute");
  ck(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, ctx->device), "cudaDeviceGetAttribute");
  return major * 10 + minor >= 89;
#endif
}

/// T checks that t is a tensor of ctx.
inline const rwkvcu_tensor* T(rwkvcu_context* ctx, const rwkvcu_tensor* t, const char* op, const char* name) {
  if (!t) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %s is NULL", op, name);
  if (t->ctx != ctx) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %s belongs to another context", op, name);
  return t;
}

/// F checks that t is an F32 tensor of ctx with the given shape (-1: any)
/// and returns its data.
inline float* F(rwkvcu_context* ctx, const rwkvcu_tensor* t, int64_t rows, int64_t cols, const char* op,
                const char* name) {
  T(ctx, t, op, name);
  if (t->dtype != RWKVCU_F32)
    fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %s must be F32, not %s", op, name, dtype_name(t->dtype));
  if ((rows >= 0 && t->rows != rows) || (cols >= 0 && t->cols != cols))
    fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %s is [%lld, %lld], want [%lld, %lld]", op, name, (long long)t->rows,
         (long long)t->cols, (long long)rows, (long long)cols);
  return static_cast<float*>(t->data);
}

/// Fb is F for an operand that may also be a [1, cols] vector; *brows gets its rows.
inline float* Fb(rwkvcu_context* ctx, const rwkvcu_tensor* t, int64_t rows, int64_t cols, const char* op,
                 const char* name, int64_t* brows) {
  T(ctx, t, op, name);
  const int64_t r = t->rows == 1 ? 1 : rows;
  if (brows) *brows = r;
  return F(ctx, t, r, cols, op, name);
}

inline void not_capturing(rwkvcu_context* ctx, const char* op) {
  if (ctx->capture) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s is not allowed while capturing a graph", op);
}

inline void heads_divide(int32_t heads, int64_t C, const char* op) {
  if (heads <= 0 || C % heads != 0)
    fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %d heads do not divide %lld", op, int(heads), (long long)C);
}

// ---- Counted runtime calls ------------------------------------------------------------
//
// Every device allocation, host<->device copy, host synchronization and
// kernel launch of the libraries goes through these, so that the context's
// statistics are exact on the GPU and on the emulator alike. Work recorded
// during a graph capture is not counted when captured: the graph keeps the
// kernels and input bytes of one replay, counted by every rwkvcu_graph_launch.

/// dev_alloc allocates bytes of device memory for ctx.
inline void* dev_alloc(rwkvcu_context* ctx, size_t bytes, const char* what) {
  void* p = nullptr;
  ck(cudaMalloc(&p, bytes), what);
  ctx->stats[RWKVCU_STAT_ALLOCATIONS]++;
  ctx->stats[RWKVCU_STAT_LIVE_DEVICE_BYTES] += bytes;
  return p;
}

/// dev_free frees device memory of ctx allocated by dev_alloc (NULL: nothing).
inline void dev_free(rwkvcu_context* ctx, void* p, size_t bytes) {
  if (!p) return;
  cudaFree(p);
  ctx->stats[RWKVCU_STAT_LIVE_DEVICE_BYTES] -= bytes;
}

/// host_alloc allocates pinned host memory for ctx (counted as an allocation).
inline void* host_alloc(rwkvcu_context* ctx, size_t bytes, const char* what) {
  void* p = nullptr;
  ck(cudaMallocHost(&p, bytes), what);
  ctx->stats[RWKVCU_STAT_ALLOCATIONS]++;
  return p;
}

/// sync waits for ctx's stream.
inline void sync(rwkvcu_context* ctx) {
  ctx->stats[RWKVCU_STAT_HOST_SYNCS]++;
  ck(cudaStreamSynchronize(ctx->stream), "cudaStreamSynchronize");
}

/// sync_event waits for event e.
inline void sync_event(rwkvcu_context* ctx, cudaEvent_t e) {
  ctx->stats[RWKVCU_STAT_HOST_SYNCS]++;
  ck(cudaEventSynchronize(e), "cudaEventSynchronize");
}

/// h2d queues a copy of bytes from host src to device dst on ctx's stream.
inline void h2d(rwkvcu_context* ctx, void* dst, const void* src, size_t bytes) {
  ck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx->stream), "cudaMemcpyAsync (to the device)");
  if (ctx->capture)
    ctx->capture->h2d_bytes += bytes;
  else
    ctx->stats[RWKVCU_STAT_H2D_BYTES] += bytes;
}

/// d2h queues a copy of bytes from device src to host dst on ctx's stream.
inline void d2h(rwkvcu_context* ctx, void* dst, const void* src, size_t bytes) {
  ck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx->stream), "cudaMemcpyAsync (to the host)");
  ctx->stats[RWKVCU_STAT_D2H_BYTES] += bytes;
}

/// launch runs a kernel launcher (a callable returning the cudaError_t of
/// cuda/'s rwkvcu_launch_* functions), counts the kernels it issued and
/// turns a failed launch into an Error naming op.
template <class L>
void launch(rwkvcu_context* ctx, const char* op, L&& launcher) {
  const unsigned long long before = rwkv_kernel_launches;
  const cudaError_t e = launcher();
  const uint64_t n = rwkv_kernel_launches - before;
  if (ctx->capture)
    ctx->capture->kernels += n;
  else
    ctx->stats[RWKVCU_STAT_KERNEL_LAUNCHES] += n;
  ck(e, op);
}

}  // namespace rwkvcu

// ---- librwkvcu only (defined in csrc/tensor.cu) --------------------------------------

namespace rwkvcu {

/// ring_init allocates ctx's staging ring; ring_free releases it.
void ring_init(rwkvcu_context* ctx);
void ring_free(rwkvcu_context* ctx);

/// stage copies a host array to device memory on ctx's stream and returns
/// its device address: through the staging ring, or during a graph capture
/// into the graph's arena as a new graph input.
const void* stage(rwkvcu_context* ctx, const void* data, size_t bytes);

/// step_batch returns the device array (offsets then slots) of the current
/// step for an operation over n rows with a state tensor of nslots rows, and
/// *nseq its number of sequences; it fails when no step was begun, when the
/// step covers another number of rows or a slot is outside [0, nslots).
const int32_t* step_batch(rwkvcu_context* ctx, int64_t n, int64_t nslots, int32_t* nseq, const char* op);

/// step_end forgets the current step (graph capture boundaries).
inline void step_end(rwkvcu_context* ctx) {
  ctx->step.valid = false;
  ctx->step.dev = nullptr;
}

/// state_range checks that state rows hold [off, off+need) and returns the state's data.
inline float* state_range(rwkvcu_context* ctx, const rwkvcu_tensor* st, int64_t off, int64_t need_, const char* op) {
  float* p = F(ctx, st, -1, -1, op, "state");
  if (off < 0 || off + need_ > st->cols)
    fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: state values [%lld, %lld) outside a state row of %lld", op, (long long)off,
         (long long)(off + need_), (long long)st->cols);
  return p;
}

}  // namespace rwkvcu
