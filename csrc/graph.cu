// CUDA graphs: capture, inputs and replay (rwkvcu_graph_*).
//
// During a capture the host arrays operations take (token ids, row indices,
// the step's batch) are staged into the graph's pinned arena (csrc/tensor.cu)
// and each becomes a graph input, in staging order; the captured copies read
// the arena at every replay, so rwkvcu_graph_set_input changes them.
#include "internal.h"

using namespace rwkvcu;

namespace {

constexpr size_t kGraphArena = 64 * 1024;  // default staging arena of a graph

void graph_free(rwkvcu_graph* g) {
  if (g->exec) cudaGraphExecDestroy(g->exec);
  if (g->done) cudaEventDestroy(g->done);
  if (g->host) cudaFreeHost(g->host);
  dev_free(g->ctx, g->dev, g->cap);
  delete g;
}

}  // namespace

extern "C" {

int rwkvcu_graph_begin(rwkvcu_context* ctx, size_t staging_bytes) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    not_capturing(ctx, "rwkvcu_graph_begin");
    step_end(ctx);
    auto* g = new rwkvcu_graph;
    g->ctx = ctx;
    g->cap = staging_bytes ? (staging_bytes + 15) & ~size_t(15) : kGraphArena;
    try {
      g->host = static_cast<char*>(host_alloc(ctx, g->cap, "cudaMallocHost (graph staging)"));
      g->dev = static_cast<char*>(dev_alloc(ctx, g->cap, "cudaMalloc (graph staging)"));
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
    step_end(ctx);
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
    if (index < 0 || size_t(index) >= g->inputs.size())
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "graph input %d of %zu", int(index), g->inputs.size());
    *bytes = g->inputs[size_t(index)].bytes;
  });
}

int rwkvcu_graph_set_input(rwkvcu_context* ctx, rwkvcu_graph* g, int32_t index, const void* data, size_t bytes) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    need(g, "g");
    need(data, "data");
    if (g->ctx != ctx) fail(RWKVCU_ERR_INVALID_ARGUMENT, "graph of another context");
    if (index < 0 || size_t(index) >= g->inputs.size())
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "graph input %d of %zu", int(index), g->inputs.size());
    const rwkvcu_graph_input& in = g->inputs[size_t(index)];
    if (bytes != in.bytes)
      fail(RWKVCU_ERR_INVALID_ARGUMENT, "graph input %d has %zu bytes, not %zu", int(index), in.bytes, bytes);
    if (g->launched) sync_event(ctx, g->done);
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
    g->launched = true;
    ctx->stats[RWKVCU_STAT_GRAPH_LAUNCHES]++;
    ctx->stats[RWKVCU_STAT_H2D_BYTES] += g->h2d_bytes;
    ctx->stats[RWKVCU_STAT_D2H_BYTES] += g->d2h_bytes;
    try {
      ck(cudaEventRecord(g->done, ctx->stream), "cudaEventRecord");
    } catch (...) {
      // Without the event nothing tells when this replay has read the
      // arena: wait for it here before reporting the failure.
      ctx->stats[RWKVCU_STAT_HOST_SYNCS]++;
      cudaStreamSynchronize(ctx->stream);
      cudaGetLastError();
      throw;
    }
  });
}

void rwkvcu_graph_destroy(rwkvcu_graph* g) {
  if (!g) return;
  cudaSetDevice(g->ctx->device);
  if (g->launched) {
    cudaEventSynchronize(g->done);
    g->ctx->stats[RWKVCU_STAT_HOST_SYNCS]++;
  }
  graph_free(g);
  cudaGetLastError();
}

}  // extern "C"
