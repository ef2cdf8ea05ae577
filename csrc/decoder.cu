// The device-resident decode loop (rwkvcu_decoder_*): next input ids,
// per-row loop state and the batch of each step size in device memory, the
// results ring in mapped pinned host memory, one event per ring entry.
//
// The kernels are cuda/sample.cu's (the loop sampler and the launch's begin
// kernel) and cuda/ops.cu's embedding, launched on device arrays only, so
// that a decode step is capturable as a graph with no inputs: replays copy
// nothing to the device, and the entries reach the host through mapped
// memory without a copy or a synchronization.
#include <algorithm>

#include "sampler.h"

using namespace rwkvcu;

// cuda/ops.cu
cudaError_t rwkvcu_launch_embed(cudaStream_t s, float* out, const void* emb, int32_t dtype, const float* scales,
                                int64_t V, int64_t C, const int32_t* tokens, int64_t n);

namespace {

constexpr int32_t kMaxRows = 4096;
constexpr int32_t kMaxDepth = 64;

}  // namespace

struct rwkvcu_decoder {
  rwkvcu_context* ctx = nullptr;
  rwkvcu_sampler* s = nullptr;
  int32_t rows = 0, depth = 0;
  std::vector<rwkvcu_decode_row> host;  // the rows as last set (for the checks of begin_step)
  rwkvcu_decode_row* d_rows = nullptr;
  int32_t* d_ids = nullptr;
  // Step batches: for each step size n (the powers of two below rows, and
  // rows), offsets 0..n then the slots of rows [0, n), at batch_at[n].
  int32_t* d_batch = nullptr;
  size_t batch_ints = 0;
  std::vector<int64_t> batch_at;  // by n; -1: no batch of that size
  uint32_t* d_counter = nullptr;
  rwkvcu_decode_entry* ring = nullptr;    // host address (mapped pinned memory)
  rwkvcu_decode_entry* d_ring = nullptr;  // its device address
  rwkvcu_decode_top* top = nullptr;       // top lists [depth][rows][MAX_TOP], host address (mapped pinned memory)
  rwkvcu_decode_top* d_top = nullptr;     // its device address
  std::vector<cudaEvent_t> ev;            // recorded by the commit of each ring entry
  uint64_t committed = 0;                 // launches committed
  uint64_t read_next = 0;                 // every launch before it has been read (or dropped)
  int32_t* d_map = nullptr;               // admission map [rows]
};

namespace {

size_t ring_bytes(const rwkvcu_decoder* d) { return size_t(d->rows) * size_t(d->depth) * sizeof(rwkvcu_decode_entry); }

size_t top_bytes(const rwkvcu_decoder* d) {
  return size_t(d->rows) * size_t(d->depth) * RWKVCU_DECODE_MAX_TOP * sizeof(rwkvcu_decode_top);
}

void decoder_free(rwkvcu_decoder* d) {
  rwkvcu_context* ctx = d->ctx;
  for (size_t i = 0; i < d->ev.size(); ++i)
    if (d->ev[i]) cudaEventDestroy(d->ev[i]);
  if (d->ring) cudaFreeHost(d->ring);
  if (d->top) cudaFreeHost(d->top);
  dev_free(ctx, d->d_rows, sizeof(rwkvcu_decode_row) * size_t(d->rows));
  dev_free(ctx, d->d_ids, size_t(d->rows) * 4);
  dev_free(ctx, d->d_batch, d->batch_ints * 4);
  dev_free(ctx, d->d_counter, 16);
  dev_free(ctx, d->d_map, size_t(d->rows) * 4);
  delete d;
}

/// mapped_alloc allocates pinned host memory mapped into the device's
/// address space (counted as an allocation) and returns its device address.
void* mapped_alloc(rwkvcu_context* ctx, size_t bytes, void** dev) {
  void* p = nullptr;
  ck(cudaHostAlloc(&p, bytes, cudaHostAllocMapped), "cudaHostAlloc (decoder ring)");
  ctx->stats[RWKVCU_STAT_ALLOCATIONS]++;
  const cudaError_t e = cudaHostGetDevicePointer(dev, p, 0);
  if (e != cudaSuccess) {
    cudaFreeHost(p);
    ck(e, "cudaHostGetDevicePointer (decoder ring)");
  }
  return p;
}

/// queue_copy queues a copy of bytes of host data into device memory
/// through the staging ring (no synchronization).
void queue_copy(rwkvcu_context* ctx, void* dst, const void* src, size_t bytes) {
  const void* staged = stage(ctx, src, bytes);
  ck(cudaMemcpyAsync(dst, staged, bytes, cudaMemcpyDeviceToDevice, ctx->stream), "cudaMemcpyAsync (decoder)");
}

void check_decoder(rwkvcu_context* ctx, const rwkvcu_decoder* d, const char* op) {
  need(d, "decoder");
  if (d->ctx != ctx) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: decoder of another context", op);
}

/// sampler_ready sends changed sampler settings to the device; they cannot
/// change inside a capture (the graph would replay the copy).
void sampler_ready(rwkvcu_decoder* d, const char* op) {
  if (!d->s->dirty) return;
  if (d->ctx->capture)
    fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: sampler settings changed since rwkvcu_decoder_set_row (not while capturing)", op);
  sampler_flush_async(d->s);
}

/// count_entries counts the entries a sampling launch writes into mapped
/// host memory as bytes to the host (by every replay when captured).
void count_entries(rwkvcu_context* ctx, int64_t rows) {
  const uint64_t bytes = uint64_t(rows) * sizeof(rwkvcu_decode_entry);
  if (ctx->capture)
    ctx->capture->d2h_bytes += bytes;
  else
    ctx->stats[RWKVCU_STAT_D2H_BYTES] += bytes;
}

rwkvcu_sample_loop loop_args(const rwkvcu_decoder* d, const int32_t* map) {
  return rwkvcu_sample_loop{map, d->d_rows, d->d_ids, d->d_ring, d->d_counter, d->rows, d->depth, d->d_top};
}

}  // namespace

extern "C" {

int rwkvcu_decoder_create(rwkvcu_context* ctx, rwkvcu_sampler* s, int32_t depth, rwkvcu_decoder** out) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    need(out, "out");
    *out = nullptr;
    need(s, "sampler");
    not_capturing(ctx, "rwkvcu_decoder_create");
    if (s->ctx != ctx) fail(RWKVCU_ERR_INVALID_ARGUMENT, "rwkvcu_decoder_create: sampler of another context");
    if (s->rows > kMaxRows)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "rwkvcu_decoder_create: %d rows (at most %d)", int(s->rows), int(kMaxRows));
    if (depth < 2 || depth > kMaxDepth)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "rwkvcu_decoder_create: ring depth %d outside [2, %d]", int(depth), int(kMaxDepth));
    auto* d = new rwkvcu_decoder;
    d->ctx = ctx;
    d->s = s;
    d->rows = s->rows;
    d->depth = depth;
    rwkvcu_decode_row idle{};
    idle.slot = -1;
    d->host.assign(size_t(d->rows), idle);
    // The batches: offsets 0..n then n slots, for each step size.
    d->batch_at.assign(size_t(d->rows) + 1, -1);
    std::vector<int32_t> batches;
    std::vector<int32_t> sizes;
    for (int32_t n = 1; n < d->rows; n *= 2) sizes.push_back(n);
    sizes.push_back(d->rows);
    for (const int32_t n : sizes) {
      d->batch_at[size_t(n)] = int64_t(batches.size());
      for (int32_t i = 0; i <= n; ++i) batches.push_back(i);
      for (int32_t i = 0; i < n; ++i) batches.push_back(-1);
    }
    d->batch_ints = batches.size();
    try {
      d->d_rows = static_cast<rwkvcu_decode_row*>(dev_alloc(ctx, sizeof(rwkvcu_decode_row) * size_t(d->rows), "cudaMalloc (decoder)"));
      d->d_ids = static_cast<int32_t*>(dev_alloc(ctx, size_t(d->rows) * 4, "cudaMalloc (decoder)"));
      d->d_batch = static_cast<int32_t*>(dev_alloc(ctx, d->batch_ints * 4, "cudaMalloc (decoder)"));
      d->d_counter = static_cast<uint32_t*>(dev_alloc(ctx, 16, "cudaMalloc (decoder)"));
      d->d_map = static_cast<int32_t*>(dev_alloc(ctx, size_t(d->rows) * 4, "cudaMalloc (decoder)"));
      if (!s->d_bias) {
        // The bias array exists from the start, so that captured steps
        // read it whichever rows get a bias later (a row's flag says so).
        const size_t bytes = size_t(s->rows) * size_t(s->vocab) * 4;
        auto* bias = static_cast<float*>(dev_alloc(ctx, bytes, "cudaMalloc (sampler bias)"));
        try {
          ck(cudaMemsetAsync(bias, 0, bytes, ctx->stream), "cudaMemsetAsync");
        } catch (...) {
          dev_free(ctx, bias, bytes);
          throw;
        }
        s->d_bias = bias;
      }
      void* dring = nullptr;
      d->ring = static_cast<rwkvcu_decode_entry*>(mapped_alloc(ctx, ring_bytes(d), &dring));
      d->d_ring = static_cast<rwkvcu_decode_entry*>(dring);
      // No entry belongs to a launch yet (launch numbers start at 0).
      std::memset(static_cast<void*>(d->ring), 0xff, ring_bytes(d));
      void* dtop = nullptr;
      d->top = static_cast<rwkvcu_decode_top*>(mapped_alloc(ctx, top_bytes(d), &dtop));
      d->d_top = static_cast<rwkvcu_decode_top*>(dtop);
      std::memset(static_cast<void*>(d->top), 0xff, top_bytes(d));
      d->ev.assign(size_t(depth), nullptr);
      for (auto& e : d->ev) ck(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate (decoder)");
      std::vector<rwkvcu_decode_row> rows(d->host);
      h2d(ctx, d->d_rows, rows.data(), rows.size() * sizeof(rwkvcu_decode_row));
      h2d(ctx, d->d_batch, batches.data(), batches.size() * 4);
      ck(cudaMemsetAsync(d->d_ids, 0, size_t(d->rows) * 4, ctx->stream), "cudaMemsetAsync (decoder)");
      ck(cudaMemsetAsync(d->d_counter, 0, 16, ctx->stream), "cudaMemsetAsync (decoder)");
      sync(ctx);  // the host arrays above are released when this returns
    } catch (...) {
      decoder_free(d);
      throw;
    }
    *out = d;
  });
}

void rwkvcu_decoder_destroy(rwkvcu_decoder* d) {
  if (!d) return;
  cudaSetDevice(d->ctx->device);
  cudaStreamSynchronize(d->ctx->stream);
  d->ctx->stats[RWKVCU_STAT_HOST_SYNCS]++;
  decoder_free(d);
  cudaGetLastError();
}

int rwkvcu_decoder_set_row(rwkvcu_decoder* d, int32_t row, int32_t slot, int32_t token, uint64_t step,
                           int32_t remaining, int32_t logprobs, int32_t top, const int32_t* stop, int32_t nstop) {
  if (!d) return RWKVCU_ERR_INVALID_ARGUMENT;
  rwkvcu_context* ctx = d->ctx;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_decoder_set_row";
    not_capturing(ctx, op);
    if (row < 0 || row >= d->rows) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: row %d outside [0, %d)", op, int(row), int(d->rows));
    rwkvcu_decode_row r{};
    r.slot = -1;
    if (slot >= 0) {
      if (token < 0 || token >= d->s->vocab)
        fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: token %d outside the vocabulary of %d", op, int(token), int(d->s->vocab));
      if (remaining < 1) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %d tokens remaining", op, int(remaining));
      if (nstop < 0 || nstop > RWKVCU_DECODE_MAX_STOP || (nstop > 0 && !stop))
        fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %d stop ids (at most %d)", op, int(nstop), RWKVCU_DECODE_MAX_STOP);
      if (top < 0 || top > RWKVCU_DECODE_MAX_TOP || (top > 0 && logprobs == 0))
        fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %d alternatives (0..%d, with logprobs)", op, int(top),
             RWKVCU_DECODE_MAX_TOP);
      r.slot = slot;
      r.remaining = remaining;
      r.logprobs = logprobs != 0;
      r.top = top;
      r.step = step;
      r.nstop = nstop;
      for (int32_t i = 0; i < nstop; ++i) r.stop[i] = stop[i];
      r.biased = d->s->row_biased[size_t(row)];
    } else {
      token = 0;
    }
    sampler_flush_async(d->s);
    queue_copy(ctx, d->d_rows + row, &r, sizeof r);
    queue_copy(ctx, d->d_ids + row, &token, 4);
    d->host[size_t(row)] = r;
  });
}

int rwkvcu_decoder_begin_step(rwkvcu_context* ctx, rwkvcu_decoder* d, int32_t n) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_decoder_begin_step";
    step_end(ctx);
    check_decoder(ctx, d, op);
    if (n < 1 || n > d->rows || d->batch_at[size_t(n)] < 0)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %d rows (a power of two below %d, or %d)", op, int(n), int(d->rows),
           int(d->rows));
    sampler_ready(d, op);
    int32_t* batch = d->d_batch + d->batch_at[size_t(n)];
    launch(ctx, op, [&] { return rwkvcu_launch_decode_begin(ctx->stream, d->d_rows, n, batch + n + 1, d->d_counter); });
    rwkvcu_step& st = ctx->step;
    st.host.resize(size_t(2 * n + 1));
    int32_t max_slot = -1;
    for (int32_t i = 0; i <= n; ++i) st.host[size_t(i)] = i;
    for (int32_t i = 0; i < n; ++i) {
      const int32_t sl = d->host[size_t(i)].slot;
      st.host[size_t(n + 1 + i)] = sl;
      max_slot = std::max(max_slot, sl);
    }
    st.nseq = n;
    st.max_slot = max_slot;
    st.dev = batch;
    st.valid = true;
  });
}

int rwkvcu_decoder_embed(rwkvcu_context* ctx, rwkvcu_decoder* d, rwkvcu_tensor* out, const rwkvcu_tensor* emb) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_decoder_embed";
    check_decoder(ctx, d, op);
    T(ctx, emb, op, "emb");
    T(ctx, out, op, "out");
    if (out->rows > d->rows)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %lld rows for a decoder of %d", op, (long long)out->rows, int(d->rows));
    float* o = F(ctx, out, -1, emb->cols, op, "out");
    launch(ctx, op, [&] {
      return rwkvcu_launch_embed(ctx->stream, o, emb->data, emb->dtype, emb->scales, emb->rows, emb->cols, d->d_ids,
                                 out->rows);
    });
  });
}

int rwkvcu_decoder_sample(rwkvcu_context* ctx, rwkvcu_decoder* d, const rwkvcu_tensor* logits) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_decoder_sample";
    check_decoder(ctx, d, op);
    const float* lp = F(ctx, logits, -1, d->s->vocab, op, "logits");
    if (logits->rows > d->rows)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %lld logit rows for a decoder of %d", op, (long long)logits->rows,
           int(d->rows));
    sampler_ready(d, op);
    rwkvcu_sampler* s = d->s;
    launch(ctx, op, [&] {
      return rwkvcu_launch_sample_loop(ctx->stream, lp, int32_t(logits->rows), s->vocab, s->d_rows, s->d_counts,
                                       s->d_bias, loop_args(d, nullptr));
    });
    count_entries(ctx, logits->rows);
  });
}

int rwkvcu_decoder_admit(rwkvcu_context* ctx, rwkvcu_decoder* d, const rwkvcu_tensor* logits, const int32_t* rows,
                         int32_t n) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_decoder_admit";
    not_capturing(ctx, op);
    check_decoder(ctx, d, op);
    need(rows, "rows");
    const float* lp = F(ctx, logits, n, d->s->vocab, op, "logits");
    if (n < 1 || n > d->rows) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %d logit rows for a decoder of %d", op, int(n), int(d->rows));
    std::vector<char> seen(size_t(d->rows), 0);
    int64_t drawn = 0;
    for (int32_t i = 0; i < n; ++i) {
      const int32_t r = rows[i];
      if (r < 0) continue;
      if (r >= d->rows || seen[size_t(r)])
        fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: decoder row %d (outside [0, %d) or given twice)", op, int(r), int(d->rows));
      seen[size_t(r)] = 1;
      ++drawn;
    }
    sampler_ready(d, op);
    queue_copy(ctx, d->d_map, rows, size_t(n) * 4);
    rwkvcu_sampler* s = d->s;
    launch(ctx, op, [&] { return rwkvcu_launch_decode_begin(ctx->stream, nullptr, 0, nullptr, d->d_counter); });
    launch(ctx, op, [&] {
      return rwkvcu_launch_sample_loop(ctx->stream, lp, n, s->vocab, s->d_rows, s->d_counts, s->d_bias,
                                       loop_args(d, d->d_map));
    });
    count_entries(ctx, drawn);
  });
}

int rwkvcu_decoder_commit(rwkvcu_decoder* d, uint64_t* launch) {
  if (!d) return RWKVCU_ERR_INVALID_ARGUMENT;
  rwkvcu_context* ctx = d->ctx;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_decoder_commit";
    not_capturing(ctx, op);
    need(launch, "launch");
    const uint64_t l = d->committed;
    if (l - d->read_next >= uint64_t(d->depth))
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: launch %llu overwrote the entry of launch %llu, which was not read", op,
           (unsigned long long)l, (unsigned long long)(l - uint64_t(d->depth)));
    const size_t i = size_t(l % uint64_t(d->depth));
    ck(cudaEventRecord(d->ev[i], ctx->stream), "cudaEventRecord (decoder)");
    d->committed = l + 1;
    *launch = l;
  });
}

int rwkvcu_decoder_read(rwkvcu_decoder* d, uint64_t launch, int32_t wait, int32_t* ready, int32_t* tokens,
                        uint32_t* flags, float* logprobs, int32_t n) {
  if (!d) return RWKVCU_ERR_INVALID_ARGUMENT;
  rwkvcu_context* ctx = d->ctx;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_decoder_read";
    not_capturing(ctx, op);
    need(ready, "ready");
    *ready = 0;
    if (n < 0 || n > d->rows) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %d rows of a decoder of %d", op, int(n), int(d->rows));
    if (launch >= d->committed || launch < d->read_next || d->committed - launch > uint64_t(d->depth))
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: launch %llu is not readable (committed %llu, read up to %llu, ring of %d)",
           op, (unsigned long long)launch, (unsigned long long)d->committed, (unsigned long long)d->read_next,
           int(d->depth));
    const size_t i = size_t(launch % uint64_t(d->depth));
    const cudaError_t q = cudaEventQuery(d->ev[i]);
    if (q == cudaErrorNotReady) {
      cudaGetLastError();
      if (!wait) return;
      sync_event(ctx, d->ev[i]);
    } else {
      ck(q, "cudaEventQuery (decoder)");
    }
    const rwkvcu_decode_entry* e = d->ring + i * size_t(d->rows);
    const uint32_t tag = uint32_t(launch);
    for (int32_t r = 0; r < n; ++r) {
      const bool mine = e[r].launch == tag;
      if (tokens) tokens[r] = mine ? e[r].token : -1;
      if (flags) flags[r] = mine ? e[r].flags : uint32_t(RWKVCU_DECODE_IDLE);
      if (logprobs) logprobs[r] = mine ? e[r].logprob : 0.f;
    }
    d->read_next = launch + 1;
    *ready = 1;
  });
}

int rwkvcu_decoder_read_top(rwkvcu_decoder* d, uint64_t launch, int32_t row, int32_t* tokens, float* logprobs,
                            int32_t n) {
  if (!d) return RWKVCU_ERR_INVALID_ARGUMENT;
  rwkvcu_context* ctx = d->ctx;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_decoder_read_top";
    if (row < 0 || row >= d->rows) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: row %d outside [0, %d)", op, int(row), int(d->rows));
    if (n < 0 || n > RWKVCU_DECODE_MAX_TOP)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %d alternatives (at most %d)", op, int(n), RWKVCU_DECODE_MAX_TOP);
    if (n > 0 && (!tokens || !logprobs)) fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: no output arrays", op);
    // Read (its event completed) and not overwritten by a later launch.
    if (launch >= d->read_next || d->committed - launch > uint64_t(d->depth))
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: launch %llu has not been read or was overwritten (committed %llu, read up to %llu, ring of %d)",
           op, (unsigned long long)launch, (unsigned long long)d->committed, (unsigned long long)d->read_next,
           int(d->depth));
    const rwkvcu_decode_top* e =
        d->top + (size_t(launch % uint64_t(d->depth)) * size_t(d->rows) + size_t(row)) * RWKVCU_DECODE_MAX_TOP;
    for (int32_t i = 0; i < n; ++i) {
      tokens[i] = e[i].token;
      logprobs[i] = e[i].logprob;
    }
    ctx->stats[RWKVCU_STAT_D2H_BYTES] += uint64_t(n) * sizeof(rwkvcu_decode_top);
  });
}

}  // extern "C"
