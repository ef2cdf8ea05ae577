// Tensors, the staging ring for host arrays, and the step's batch
// (rwkvcu_tensor_*, rwkvcu_begin_step).
//
// Host arrays are staged: copied into pinned host memory and from there to
// device memory by an asynchronous copy on the context's stream. Outside a
// graph capture the staging area is a double-buffered ring (two halves; a
// half is reused only after the event recorded when it was left has
// completed). During a capture the arrays go to the graph's own arena and
// become graph inputs (csrc/graph.cu).
//
// The step's batch is staged once by rwkvcu_begin_step and copied into a
// device array of the context (not a ring half, which a long step could
// recycle), where every Shift/WKV operation of the step reads it.
#include "internal.h"

using namespace rwkvcu;

namespace {

constexpr size_t kRingHalf = 64 * 1024;  // bytes per half of the staging ring (grows on demand)

/// ring_grow (re)allocates the staging ring so a half holds bytes.
void ring_grow(rwkvcu_context* ctx, size_t bytes) {
  if (ctx->h && bytes <= ctx->half) return;
  size_t half = ctx->half ? ctx->half : kRingHalf;
  while (half < bytes) half *= 2;
  if (ctx->h) {  // growing: wait for every copy reading the old ring
    sync(ctx);
    ring_free(ctx);
  }
  // Both halves or neither: a failed allocation leaves no ring (the next
  // reservation tries again), never a host ring without its device mirror.
  char* h = static_cast<char*>(host_alloc(ctx, 2 * half, "cudaMallocHost (staging)"));
  char* d = nullptr;
  try {
    d = static_cast<char*>(dev_alloc(ctx, 2 * half, "cudaMalloc (staging)"));
  } catch (...) {
    cudaFreeHost(h);
    throw;
  }
  ctx->h = h;
  ctx->d = d;
  ctx->half = half;
  ctx->used = 0;
  ctx->cur = 0;
  ctx->pending[0] = ctx->pending[1] = false;
}

/// Reservation is a region of the staging ring (or of a graph's arena).
struct Reservation {
  char* host;
  char* dev;
};

/// reserve returns room for bytes in the current half of the ring,
/// switching halves (and waiting until the other half's copies are done)
/// when the current one is full.
Reservation reserve(rwkvcu_context* ctx, size_t bytes) {
  const size_t padded = (bytes + 15) & ~size_t(15);
  ring_grow(ctx, padded);
  if (ctx->used + padded > ctx->half) {  // switch halves
    // The switch happens only once the other half is free: when recording
    // or waiting fails, the ring stays on the current half.
    const int next = ctx->cur ^ 1;
    ck(cudaEventRecord(ctx->left[ctx->cur], ctx->stream), "cudaEventRecord");
    ctx->pending[ctx->cur] = true;
    if (ctx->pending[next]) sync_event(ctx, ctx->left[next]);
    ctx->pending[next] = false;
    ctx->cur = next;
    ctx->used = 0;
  }
  Reservation r{ctx->h + size_t(ctx->cur) * ctx->half + ctx->used, ctx->d + size_t(ctx->cur) * ctx->half + ctx->used};
  ctx->used += padded;
  return r;
}

/// reserve_input returns room for bytes in the arena of the graph being
/// captured and records it as the graph's next input.
Reservation reserve_input(rwkvcu_context* ctx, size_t bytes) {
  rwkvcu_graph* g = ctx->capture;
  const size_t padded = (bytes + 15) & ~size_t(15);
  if (g->used + padded > g->cap)
    fail(RWKVCU_ERR_INVALID_ARGUMENT, "graph staging arena of %zu bytes is full (rwkvcu_graph_begin's staging_bytes)",
         g->cap);
  g->inputs.push_back(rwkvcu_graph_input{g->used, bytes});
  Reservation r{g->host + g->used, g->dev + g->used};
  g->used += padded;
  return r;
}

void range_check(const rwkvcu_tensor* t, int64_t row, size_t n, const char* op) {
  if (t->dtype != RWKVCU_F32) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: tensor must be F32", op);
  if (row < 0 || row > t->rows || int64_t(n) > (t->rows - row) * t->cols)
    fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %zu values at row %lld of a [%lld, %lld] tensor", op, n, (long long)row,
         (long long)t->rows, (long long)t->cols);
}

}  // namespace

namespace rwkvcu {

void ring_init(rwkvcu_context* ctx) { ring_grow(ctx, 0); }

void ring_free(rwkvcu_context* ctx) {
  if (ctx->h) cudaFreeHost(ctx->h);
  dev_free(ctx, ctx->d, 2 * ctx->half);
  ctx->h = nullptr;
  ctx->d = nullptr;
}

const void* stage(rwkvcu_context* ctx, const void* data, size_t bytes) {
  const Reservation r = ctx->capture ? reserve_input(ctx, bytes) : reserve(ctx, bytes);
  std::memcpy(r.host, data, bytes);
  h2d(ctx, r.dev, r.host, bytes);
  return r.dev;
}

const int32_t* step_batch(rwkvcu_context* ctx, int64_t n, int64_t nslots, int32_t* nseq, const char* op) {
  const rwkvcu_step& s = ctx->step;
  if (!s.valid) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: no step begun (rwkvcu_begin_step)", op);
  if (s.host[size_t(s.nseq)] != n)
    fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: the step's batch covers %d rows, the operands have %lld", op,
         int(s.host[size_t(s.nseq)]), (long long)n);
  if (s.max_slot >= nslots)
    fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: state slot %d of the step out of range [0, %lld)", op, int(s.max_slot),
         (long long)nslots);
  *nseq = s.nseq;
  return s.dev;
}

}  // namespace rwkvcu

extern "C" {

int rwkvcu_tensor_new(rwkvcu_context* ctx, int32_t dtype, int64_t rows, int64_t cols, rwkvcu_tensor** out) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    need(out, "out");
    *out = nullptr;
    not_capturing(ctx, "rwkvcu_tensor_new");
    if (!is_block(dtype)) dtype_size(dtype);  // fails for an unknown type
    if (!dtype_supported(ctx, dtype))
      fail(RWKVCU_ERR_NOT_SUPPORTED, "rwkvcu_tensor_new: %s tensors need compute capability 8.9 or later", dtype_name(dtype));
    if (rows <= 0 || cols <= 0 || rows > (int64_t(1) << 40) / cols)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "tensor shape [%lld, %lld]", (long long)rows, (long long)cols);
    const size_t bytes = size_t(rows) * row_bytes(dtype, cols), data_bytes = (bytes + 15) & ~size_t(15);
    const size_t total = data_bytes + (has_scales(dtype) ? size_t(rows) * 4 : 0);
    auto* t = new rwkvcu_tensor{ctx, dtype, rows, cols, nullptr, nullptr, 0};
    try {
      t->data = dev_alloc(ctx, total, "cudaMalloc");
      t->owned = total;
      ck(cudaMemsetAsync(t->data, 0, total, ctx->stream), "cudaMemsetAsync");
    } catch (...) {
      dev_free(ctx, t->data, t->owned);
      delete t;
      throw;
    }
    if (has_scales(dtype)) t->scales = reinterpret_cast<float*>(static_cast<char*>(t->data) + data_bytes);
    ctx->stats[RWKVCU_STAT_LIVE_TENSORS]++;
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
    *out = new rwkvcu_tensor{ctx, t->dtype, rows, t->cols, t->data, t->scales, 0};
    ctx->stats[RWKVCU_STAT_LIVE_TENSORS]++;
  });
}

void rwkvcu_tensor_free(rwkvcu_tensor* t) {
  if (!t) return;
  rwkvcu_context* ctx = t->ctx;
  if (t->owned) {
    cudaSetDevice(ctx->device);
    dev_free(ctx, t->data, t->owned);
    cudaGetLastError();
  }
  ctx->stats[RWKVCU_STAT_LIVE_TENSORS]--;
  delete t;
}

int rwkvcu_tensor_upload(rwkvcu_context* ctx, rwkvcu_tensor* t, const void* data, size_t bytes) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    not_capturing(ctx, "rwkvcu_tensor_upload");
    T(ctx, t, "rwkvcu_tensor_upload", "t");
    need(data, "data");
    const size_t n = size_t(t->rows) * row_bytes(t->dtype, t->cols);
    const size_t want = n + (has_scales(t->dtype) ? size_t(t->rows) * 4 : 0);
    if (bytes != want)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "upload of %zu bytes into %s[%lld, %lld] (%zu bytes)", bytes, dtype_name(t->dtype),
           (long long)t->rows, (long long)t->cols, want);
    h2d(ctx, t->data, data, n);
    if (has_scales(t->dtype)) h2d(ctx, t->scales, static_cast<const char*>(data) + n, size_t(t->rows) * 4);
    sync(ctx);
  });
}

int rwkvcu_tensor_read(rwkvcu_context* ctx, const rwkvcu_tensor* t, int64_t row, float* dst, size_t n) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    not_capturing(ctx, "rwkvcu_tensor_read");
    T(ctx, t, "rwkvcu_tensor_read", "t");
    if (n == 0) return;
    need(dst, "dst");
    range_check(t, row, n, "rwkvcu_tensor_read");
    d2h(ctx, dst, static_cast<const float*>(t->data) + row * t->cols, n * 4);
    sync(ctx);
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
    h2d(ctx, static_cast<float*>(t->data) + row * t->cols, src, n * 4);
    sync(ctx);
  });
}

int rwkvcu_begin_step(rwkvcu_context* ctx, const int32_t* offsets, const int32_t* slots, int32_t nseq) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_begin_step";
    step_end(ctx);
    need(offsets, "offsets");
    need(slots, "slots");
    if (nseq <= 0) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: batch of %d sequences", op, int(nseq));
    if (offsets[0] != 0) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: batch offsets start at %d, not 0", op, int(offsets[0]));
    int32_t max_slot = -1;
    for (int32_t i = 0; i < nseq; ++i) {
      if (offsets[i + 1] <= offsets[i])
        fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: sequence %d of the batch has no rows", op, int(i));
      if (slots[i] < 0) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: state slot %d of sequence %d", op, int(slots[i]), int(i));
      if (slots[i] > max_slot) max_slot = slots[i];
    }
    rwkvcu_step& s = ctx->step;
    s.host.assign(offsets, offsets + nseq + 1);
    s.host.insert(s.host.end(), slots, slots + nseq);
    const size_t bytes = s.host.size() * sizeof(int32_t);
    if (ctx->capture) {
      s.dev = static_cast<const int32_t*>(stage(ctx, s.host.data(), bytes));
    } else {
      if (ctx->step_cap < bytes) {
        // Operations of earlier steps queued on the stream may still read the old array.
        sync(ctx);
        dev_free(ctx, ctx->step_buf, ctx->step_cap);
        ctx->step_buf = nullptr;
        ctx->step_cap = 0;
        size_t cap = 256;
        while (cap < bytes) cap *= 2;
        ctx->step_buf = static_cast<int32_t*>(dev_alloc(ctx, cap, "cudaMalloc (step batch)"));
        ctx->step_cap = cap;
      }
      const Reservation r = reserve(ctx, bytes);
      std::memcpy(r.host, s.host.data(), bytes);
      h2d(ctx, ctx->step_buf, r.host, bytes);
      s.dev = ctx->step_buf;
    }
    s.nseq = nseq;
    s.max_slot = max_slot;
    s.valid = true;
  });
}

}  // extern "C"
