// Library and device: contexts, errors, device facts and the context's
// statistics (rwkvcu_abi_version ... rwkvcu_stats).
#include "device_check.h"
#include "internal.h"

using namespace rwkvcu;

namespace {

/// mm_scratch_init allocates the scratch of the split products
/// (rwkvcu_context::mm_scratch) once, with the context: one device block of
/// partial sums with the tickets after them (the context's only tickets,
/// which rwkvcu_add_norm_shift_mix_lora takes too), the tickets zeroed. It is
/// allocated at creation rather than by the first product so that no
/// operation of a step, of a graph capture or of any later phase allocates
/// for it (their failure paths have nothing of it to undo), its address
/// never changes (captured graphs keep it), and a context that cannot hold
/// it is refused at once. It is set in the context only once cleared, so a
/// failure leaves no half-made scratch behind.
void mm_scratch_init(rwkvcu_context* ctx) {
  auto* part = static_cast<float*>(dev_alloc(ctx, mm_scratch_bytes(), "cudaMalloc (matmul scratch)"));
  auto* tickets = reinterpret_cast<unsigned*>(part + kMmScratchFloats);
  try {
    ck(cudaMemsetAsync(tickets, 0, size_t(kMmScratchTickets) * 4, ctx->stream), "cudaMemsetAsync (matmul tickets)");
  } catch (...) {
    dev_free(ctx, part, mm_scratch_bytes());
    throw;
  }
  ctx->mm_scratch = rwkvcu_mm_scratch{part, kMmScratchFloats, tickets, kMmScratchTickets};
}

}  // namespace

extern "C" {

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
      fail(RWKVCU_ERR_NO_DEVICE, "no CUDA device%s%s", e != cudaSuccess ? ": " : "",
           e != cudaSuccess ? cudaGetErrorString(e) : "");
    }
    if (device < 0 || device >= n) fail(RWKVCU_ERR_NO_DEVICE, "device %d does not exist (%d devices)", int(device), n);
    if (auto dc = rwkvcu_devcheck::check_device_code(device); dc.status != RWKVCU_OK) fail(dc.status, "%s", dc.msg.c_str());
    auto* ctx = new rwkvcu_context;
    ctx->device = device;
    try {
      ck(cudaSetDevice(device), "cudaSetDevice");
      ck(cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
      for (auto& ev : ctx->left) ck(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming), "cudaEventCreate");
      ring_init(ctx);
      mm_scratch_init(ctx);
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
  if (ctx->ext_free) ctx->ext_free(ctx);
  ring_free(ctx);
  dev_free(ctx, ctx->step_buf, ctx->step_cap);
  dev_free(ctx, ctx->mm_scratch.part, mm_scratch_bytes());  // the tickets are in the same block
  ctx->mm_scratch = {};
  for (auto ev : ctx->left)
    if (ev) cudaEventDestroy(ev);
  if (ctx->stream) cudaStreamDestroy(ctx->stream);
  cudaGetLastError();
  delete ctx;
}

int rwkvcu_synchronize(rwkvcu_context* ctx) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    not_capturing(ctx, "rwkvcu_synchronize");
    sync(ctx);
  });
}

int rwkvcu_dtype_supported(rwkvcu_context* ctx, int32_t dtype, int32_t* supported) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(ctx, [&] {
    need(supported, "supported");
    *supported = dtype_supported(ctx, dtype) ? 1 : 0;
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
    const double fp32_lanes = cc == 80 ? 64 : 128;                  // FP32 FMA units per SM
    const double tc_fma = cc >= 90 ? 2048 : cc == 80 ? 1024 : 512;  // dense f16 FMA/clock/SM, f32 accumulate
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

int rwkvcu_stats(const rwkvcu_context* ctx, uint64_t* out, int32_t n) {
  if (!ctx) return RWKVCU_ERR_INVALID_ARGUMENT;
  return guard(const_cast<rwkvcu_context*>(ctx), [&] {
    if (n < 0) fail(RWKVCU_ERR_INVALID_ARGUMENT, "rwkvcu_stats: n = %d", int(n));
    if (n == 0) return;
    need(out, "out");
    for (int32_t i = 0; i < n; ++i) out[i] = i < RWKVCU_STAT_COUNT ? ctx->stats[i] : 0;
  });
}

}  // extern "C"
