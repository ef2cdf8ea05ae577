// The operations' checked entry points: each checks its operands' types
// and shapes (and the step's batch for Shift and WKV) before it queues the
// kernels of cuda/ on the context's stream, so a failed call launches
// nothing (rwkvcu_embed ... rwkvcu_bonus_v7).
#include "../cuda/kernels.cuh"
#include "../cuda/matmul.cuh"
#include "internal.h"

using namespace rwkvcu;

namespace {

/// state_range checks that state rows hold [off, off+need) and returns the state's data.
float* state_range(rwkvcu_context* ctx, const rwkvcu_tensor* st, int64_t off, int64_t need_, const char* op) {
  float* p = F(ctx, st, -1, -1, op, "state");
  if (off < 0 || off + need_ > st->cols)
    fail(RWKVCU_ERR_INVALID_ARGUMENT, "%s: state values [%lld, %lld) outside a state row of %lld", op, (long long)off,
         (long long)(off + need_), (long long)st->cols);
  return p;
}

}  // namespace

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

int rwkvcu_matmul(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* x, const rwkvcu_tensor* w) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_matmul";
    T(ctx, w, op, "w");
    const float* xp = F(ctx, x, -1, w->cols, op, "x");
    float* o = F(ctx, out, x->rows, w->rows, op, "out");
    launch(ctx, op, [&] { return rwkvcu_launch_matmul(ctx->stream, o, w->rows, xp, w->cols, w->data, w->dtype, w->scales, x->rows, w->rows,
                                  w->cols); });
  });
}

int rwkvcu_matmul_t(rwkvcu_context* ctx, rwkvcu_tensor* out, const rwkvcu_tensor* x, const rwkvcu_tensor* wt) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    const char* op = "rwkvcu_matmul_t";
    T(ctx, wt, op, "wt");
    const float* xp = F(ctx, x, -1, wt->rows, op, "x");
    float* o = F(ctx, out, x->rows, wt->cols, op, "out");
    launch(ctx, op, [&] { return rwkvcu_launch_matmul_t(ctx->stream, o, wt->cols, xp, wt->rows, wt->data, wt->dtype, wt->scales, x->rows,
                                    wt->rows, wt->cols); });
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
