// The fused device sampler (rwkvcu_sampler_* and rwkvcu_sample).
#include <cmath>

#include "sampler.h"

using namespace rwkvcu;

namespace rwkvcu {

void sampler_flush_async(rwkvcu_sampler* s) {
  if (!s->dirty) return;
  rwkvcu_context* ctx = s->ctx;
  const size_t bytes = s->host_rows.size() * sizeof(rwkvcu_sample_row);
  const void* src = stage(ctx, s->host_rows.data(), bytes);
  ck(cudaMemcpyAsync(s->d_rows, src, bytes, cudaMemcpyDeviceToDevice, ctx->stream), "cudaMemcpyAsync (sampler rows)");
  s->dirty = false;
}

}  // namespace rwkvcu

namespace {

size_t cells(const rwkvcu_sampler* s) { return size_t(s->rows) * size_t(s->vocab); }

void free_sampler_memory(rwkvcu_sampler* s) {
  rwkvcu_context* ctx = s->ctx;
  dev_free(ctx, s->d_rows, sizeof(rwkvcu_sample_row) * size_t(s->rows));
  dev_free(ctx, s->d_counts, cells(s) * 4);
  dev_free(ctx, s->d_bias, cells(s) * 4);
  dev_free(ctx, s->d_tokens, size_t(s->rows) * 4);
  dev_free(ctx, s->d_probs, size_t(s->rows) * 4);
}

void check_row(const rwkvcu_sampler* s, int32_t row) {
  if (row < 0 || row >= s->rows)
    fail(RWKVCU_ERR_INVALID_ARGUMENT, "sampler row %d outside [0, %d)", int(row), int(s->rows));
}

}  // namespace

extern "C" {

int rwkvcu_sampler_create(rwkvcu_context* ctx, int32_t rows, int32_t vocab, rwkvcu_sampler** out) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    need(out, "out");
    *out = nullptr;
    not_capturing(ctx, "rwkvcu_sampler_create");
    if (rows <= 0 || vocab <= 0) fail(RWKVCU_ERR_INVALID_ARGUMENT, "sampler of %d rows over %d ids", int(rows), int(vocab));
    auto* s = new rwkvcu_sampler{ctx, rows, vocab, {}};
    s->host_rows.assign(size_t(rows), rwkvcu_sample_row{0.f, 0, 1.f, 0.f, 1.f, 0.f, 0.f, 1.f, 0, 0});
    s->row_biased.assign(size_t(rows), 0);
    try {
      s->d_rows = static_cast<rwkvcu_sample_row*>(dev_alloc(ctx, sizeof(rwkvcu_sample_row) * size_t(rows), "cudaMalloc"));
      s->d_counts = static_cast<float*>(dev_alloc(ctx, cells(s) * 4, "cudaMalloc"));
      s->d_tokens = static_cast<int32_t*>(dev_alloc(ctx, size_t(rows) * 4, "cudaMalloc"));
      s->d_probs = static_cast<float*>(dev_alloc(ctx, size_t(rows) * 4, "cudaMalloc"));
      ck(cudaMemsetAsync(s->d_counts, 0, cells(s) * 4, ctx->stream), "cudaMemsetAsync");
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
  s->ctx->stats[RWKVCU_STAT_HOST_SYNCS]++;
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
    check_row(s, row);
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
    check_row(s, row);
    if (n < 0 || (n > 0 && (!ids || !values))) fail(RWKVCU_ERR_INVALID_ARGUMENT, "sampler bias: %d pairs", int(n));
    std::vector<float> bias(size_t(s->vocab), 0.f);
    for (int32_t i = 0; i < n; ++i) {
      if (ids[i] < 0 || ids[i] >= s->vocab)
        fail(RWKVCU_ERR_INVALID_ARGUMENT, "sampler bias: id %d outside [0, %d)", int(ids[i]), int(s->vocab));
      bias[size_t(ids[i])] += values[i];
    }
    if (!s->d_bias) {
      auto* bias_dev = static_cast<float*>(dev_alloc(ctx, cells(s) * 4, "cudaMalloc"));
      try {
        ck(cudaMemsetAsync(bias_dev, 0, cells(s) * 4, ctx->stream), "cudaMemsetAsync");
      } catch (...) {
        dev_free(ctx, bias_dev, cells(s) * 4);  // never keep a bias array that was not cleared
        throw;
      }
      s->d_bias = bias_dev;
    }
    h2d(ctx, s->d_bias + size_t(row) * size_t(s->vocab), bias.data(), bias.size() * 4);
    sync(ctx);
    s->has_bias = true;
    s->row_biased[size_t(row)] = n > 0;
  });
}

int rwkvcu_sampler_observe(rwkvcu_sampler* s, int32_t row, const int32_t* tokens, int32_t n) {
  if (!s) return RWKVCU_ERR_INVALID_ARGUMENT;
  rwkvcu_context* ctx = s->ctx;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_sampler_observe";
    not_capturing(ctx, op);
    check_row(s, row);
    if (n <= 0) return;
    need(tokens, "tokens");
    for (int32_t i = 0; i < n; ++i)
      if (tokens[i] < 0 || tokens[i] >= s->vocab)
        fail(RWKVCU_ERR_INVALID_ARGUMENT, "sampler observe: token %d outside [0, %d)", int(tokens[i]), int(s->vocab));
    auto* d = static_cast<const int32_t*>(stage(ctx, tokens, size_t(n) * 4));
    launch(ctx, op, [&] {
      return rwkvcu_launch_sample_observe(ctx->stream, s->d_counts, s->vocab, row, d, n,
                                          s->host_rows[size_t(row)].penalty_decay);
    });
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
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: %lld logit rows for a sampler of %d", op, (long long)logits->rows,
           int(s->rows));
    need(tokens, "tokens");
    if (s->dirty) {
      h2d(ctx, s->d_rows, s->host_rows.data(), s->host_rows.size() * sizeof(rwkvcu_sample_row));
      sync(ctx);
      s->dirty = false;
    }
    const int32_t rows = int32_t(logits->rows);
    launch(ctx, op, [&] {
      return rwkvcu_launch_sample(ctx->stream, lp, rows, s->vocab, s->d_rows, s->d_counts,
                                  s->has_bias ? s->d_bias : nullptr, step, s->d_tokens, probs ? s->d_probs : nullptr);
    });
    d2h(ctx, tokens, s->d_tokens, size_t(rows) * 4);
    if (probs) d2h(ctx, probs, s->d_probs, size_t(rows) * 4);
    sync(ctx);
  });
}

}  // extern "C"
