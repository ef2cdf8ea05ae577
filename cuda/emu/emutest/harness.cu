// Host side of the emulator tests (built and loaded by package kerneltest
// when the tests run): launches the kernels of kernels.cu on the CPU through
// the emulated runtime API. Go (emutest.go) calls these entry points and
// checks the results against references computed in Go.
#include "kernels.cu"

#include <chrono>
#include <cstdarg>
#include <vector>

#include "emutest.h"

namespace {

// Device buffer holding a copy of host data, copied back on request.
template <class T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  cudaError_t err = cudaSuccess;
  explicit Dev(size_t count, const T* init = nullptr) : n(count) {
    err = cudaMalloc(&p, n * sizeof(T));
    if (!err && init) err = cudaMemcpy(p, init, n * sizeof(T), cudaMemcpyHostToDevice);
    if (!err && !init) err = cudaMemset(p, 0, n * sizeof(T));
  }
  cudaError_t to_host(T* dst) const { return cudaMemcpy(dst, p, n * sizeof(T), cudaMemcpyDeviceToHost); }
  ~Dev() { cudaFree(p); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
};

#define TRY(x)                        \
  do {                                \
    cudaError_t e_ = (x);             \
    if (e_ != cudaSuccess) return e_; \
  } while (0)

// note appends printf-style text to msg (nothing without a format).
void note(char* msg, size_t cap, const char* fmt = nullptr, ...) {
  if (!fmt || cap == 0) return;
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(msg, cap, fmt, ap);
  va_end(ap);
}

// CHECK records the first failed expectation of a self-checking test.
#define CHECK(cond, ...)                                                      \
  do {                                                                        \
    if (!(cond)) {                                                            \
      std::snprintf(msg, cap, "%s:%d: %s: ", __FILE__, __LINE__, #cond);      \
      size_t l_ = std::strlen(msg);                                           \
      note(msg + l_, cap - l_ __VA_OPT__(, ) __VA_ARGS__);                    \
      return 1;                                                               \
    }                                                                         \
  } while (0)

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

extern "C" {

const char* emu_detail(void) { return cuemuGetLastErrorDetail(); }

void emu_clear_errors(void) { cudaGetLastError(); }

int emu_set_schedule(const char* spec) { return cuemuSetScheduleString(spec); }


int emu_switch_is_asm(void) {
#if defined(CUEMU_SWITCH_ASM)
  return 1;
#else
  return 0;
#endif
}

int emu_indices(int* out, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz) {
  return RWKV_LAUNCH(k_indices, dim3(gx, gy, gz), dim3(bx, by, bz), 0, 0)(out);
}

int emu_softmax(const float* x, float* y, int rows, int n, int threads) {
  return RWKV_LAUNCH(k_softmax, dim3(rows), dim3(threads), 0, 0)(x, y, n);
}

int emu_matmul(const float* a, const float* b, float* c, int m, int n, int k, int second_sync) {
  dim3 grid((n + TILE - 1) / TILE, (m + TILE - 1) / TILE), block(TILE, TILE);
  if (second_sync) return RWKV_LAUNCH(k_matmul<true>, grid, block, 0, 0)(a, b, c, m, n, k);
  return RWKV_LAUNCH(k_matmul<false>, grid, block, 0, 0)(a, b, c, m, n, k);
}

int emu_wkv4(int b, int t, int c, const float* w, const float* u, const float* k, const float* v, float* y) {
  return RWKV_LAUNCH(k_wkv4, dim3((b * c + 63) / 64), dim3(64), 0, 0)(b, t, c, w, u, k, v, y);
}

// Launches an invalid kernel (see kernels.cu); returns the launch status.
int emu_bad_kernel(int which, float* out) {
  switch (which) {
    case 0: return RWKV_LAUNCH(k_bad_sites, dim3(2), dim3(32), 0, 0)(out);
    case 1: return RWKV_LAUNCH(k_bad_exited, dim3(1), dim3(64), 0, 0)(out);
    case 2: return RWKV_LAUNCH(k_bad_warp_sites, dim3(1), dim3(32), 0, 0)(out);
    case 3: return RWKV_LAUNCH(k_bad_mask, dim3(1), dim3(32), 0, 0)(out);
    case 4: return RWKV_LAUNCH(k_bad_warp_exited, dim3(1), dim3(32), 0, 0)(out);
    case 5: return RWKV_LAUNCH(k_trap, dim3(1), dim3(32), 0, 0)(out);
    case 6: return RWKV_LAUNCH(k_bad_width, dim3(1), dim3(32), 0, 0)(out);
    case 7: return RWKV_LAUNCH(k_bad_mma, dim3(1), dim3(16), 0, 0)(out);
    case 8: return RWKV_LAUNCH(k_nothing, dim3(1), dim3(1025), 0, 0)();
    case 9: return RWKV_LAUNCH(k_nothing, dim3(0), dim3(32), 0, 0)();
  }
  return cudaErrorInvalidValue;
}

int emu_shuffles(int* out, int width, unsigned mask, int delta) {
  return RWKV_LAUNCH(k_shuffles, dim3(1), dim3(32), 0, 0)(out, width, mask, delta);
}

int emu_votes(unsigned* out) { return RWKV_LAUNCH(k_votes, dim3(1), dim3(48), 0, 0)(out); }

int emu_sync_count(int* out, int threads) { return RWKV_LAUNCH(k_sync_count, dim3(1), dim3(threads), 0, 0)(out); }

int emu_atomics(int blocks, int threads, EmuAtomics* out, size_t out_size) {
  if (out_size != sizeof(EmuAtomics)) return cudaErrorInvalidValue;
  EmuAtomics init{};
  init.max_i = -1000000;
  init.min_i = 1000000;
  init.and_u = 0xffffffffu;
  init.dec = 0;
  Dev<EmuAtomics> o(1, &init);
  Dev<int> slot(1);
  TRY(o.err);
  TRY(slot.err);
  TRY(RWKV_LAUNCH(k_atomics, dim3(blocks), dim3(threads), 0, 0)(o.p, slot.p));
  return o.to_host(out);
}

int emu_dynamic_shared(unsigned* out, int blocks, int threads, size_t bytes, int raise_limit) {
  if (raise_limit) TRY(cudaFuncSetAttribute(k_dynamic_shared, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  return RWKV_LAUNCH(k_dynamic_shared, dim3(blocks), dim3(threads), bytes, 0)(out);
}

int emu_static_shared(int* out, int blocks, int threads, int salt) {
  return RWKV_LAUNCH(k_static_shared, dim3(blocks), dim3(threads), 0, 0)(out, salt);
}

int emu_neighbour(const float* x, float* y, int blocks, int threads, int sync) {
  size_t sh = size_t(threads) * sizeof(float);
  if (sync) return RWKV_LAUNCH(k_neighbour<true>, dim3(blocks), dim3(threads), sh, 0)(x, y);
  return RWKV_LAUNCH(k_neighbour<false>, dim3(blocks), dim3(threads), sh, 0)(x, y);
}

void emu_f16_to_f32(const uint16_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = __half2float(__ushort_as_half(in[i]));
}
void emu_f32_to_f16(const float* in, uint16_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = __half_as_ushort(__float2half_rn(in[i]));
}
void emu_f64_to_f16(const double* in, uint16_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = __half_as_ushort(__double2half(in[i]));
}
void emu_bf16_to_f32(const uint16_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = __bfloat162float(__ushort_as_bfloat16(in[i]));
}
void emu_f32_to_bf16(const float* in, uint16_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = __bfloat16_as_ushort(__float2bfloat16(in[i]));
}

int emu_half_ops(const uint16_t* a, const uint16_t* b, const uint16_t* c, uint16_t* out, int n, int bf16) {
  dim3 grid((n + 127) / 128), block(128);
  if (bf16)
    return RWKV_LAUNCH(k_bf16_ops, grid, block, 0, 0)(
        reinterpret_cast<const __nv_bfloat16*>(a), reinterpret_cast<const __nv_bfloat16*>(b),
        reinterpret_cast<const __nv_bfloat16*>(c), reinterpret_cast<__nv_bfloat16*>(out), n);
  return RWKV_LAUNCH(k_half_ops, grid, block, 0, 0)(reinterpret_cast<const __half*>(a),
                                                    reinterpret_cast<const __half*>(b),
                                                    reinterpret_cast<const __half*>(c), reinterpret_cast<__half*>(out), n);
}

int emu_mma_tile(const uint16_t* a, const uint16_t* b, const float* c, float* d, int bf16) {
  if (bf16) return RWKV_LAUNCH(k_mma_tile<true>, dim3(1), dim3(32), 0, 0)(a, b, c, d);
  return RWKV_LAUNCH(k_mma_tile<false>, dim3(1), dim3(32), 0, 0)(a, b, c, d);
}

int emu_mma_gemm(const uint16_t* a, const uint16_t* b, float* c, int m, int n, int k, int bf16) {
  if (m % 32 || n % 16 || k % 16) return cudaErrorInvalidValue;
  Dev<uint16_t> da(size_t(m) * k, a), db(size_t(k) * n, b);
  Dev<float> dc(size_t(m) * n);
  TRY(da.err);
  TRY(db.err);
  TRY(dc.err);
  dim3 grid(n / 16, m / 32), block(128);
  if (bf16)
    TRY(RWKV_LAUNCH(k_mma_gemm<true>, grid, block, 0, 0)(da.p, db.p, dc.p, m, n, k));
  else
    TRY(RWKV_LAUNCH(k_mma_gemm<false>, grid, block, 0, 0)(da.p, db.p, dc.p, m, n, k));
  return dc.to_host(c);
}

int emu_ldmatrix(uint32_t* out) { return RWKV_LAUNCH(k_ldmatrix, dim3(1), dim3(32), 0, 0)(out); }

int emu_cp_async(const unsigned* src, unsigned* out) {
  Dev<unsigned> s(16, src);
  TRY(s.err);
  return RWKV_LAUNCH(k_cp_async, dim3(1), dim3(1), 64, 0)(s.p, out);
}

int emu_math(const float* x, float* out, unsigned* bits, int n) {
  return RWKV_LAUNCH(k_math, dim3((n + 63) / 64), dim3(64), 0, 0)(x, out, bits, n);
}

// Self-checking test of the runtime API subset; msg receives the first failure.
int emu_runtime_checks(char* msg, size_t cap) {
  msg[0] = 0;
  cudaGetLastError();
  // device queries
  int count = 0, dev = -1;
  CHECK(cudaGetDeviceCount(&count) == cudaSuccess && count == 1);
  CHECK(cudaGetDevice(&dev) == cudaSuccess && dev == 0);
  CHECK(cudaSetDevice(1) == cudaErrorInvalidDevice);
  CHECK(cudaGetLastError() == cudaErrorInvalidDevice);
  CHECK(cudaGetLastError() == cudaSuccess);
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0) == cudaSuccess);
  CHECK(std::strcmp(prop.name, "cuemu") == 0 && prop.warpSize == 32 && prop.sharedMemPerBlock == 48 * 1024 &&
        prop.sharedMemPerBlockOptin == 100 * 1024 && prop.multiProcessorCount > 0 && prop.major == 8);
  int sms = 0;
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0) == cudaSuccess && sms == prop.multiProcessorCount);
  CHECK(std::strcmp(cudaGetErrorString(cudaErrorLaunchFailure), "unspecified launch failure") == 0);
  CHECK(std::strcmp(cudaGetErrorName(cudaErrorInvalidValue), "cudaErrorInvalidValue") == 0);

  // memory
  const int n = 1000;
  float* d = nullptr;
  CHECK(cudaMalloc(&d, n * sizeof(float)) == cudaSuccess && d != nullptr);
  CHECK(reinterpret_cast<uintptr_t>(d) % 256 == 0);
  CHECK(cudaMemset(d, 0, n * sizeof(float)) == cudaSuccess);
  std::vector<float> h(n), back(n);
  for (int i = 0; i < n; ++i) h[i] = float(i);
  float* x = nullptr;
  CHECK(cudaMallocHost(&x, n * sizeof(float)) == cudaSuccess);
  CHECK(cudaMemcpy(x, h.data(), n * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
  CHECK(cudaMemcpy(d, h.data(), (n + 1) * sizeof(float), cudaMemcpyHostToDevice) == cudaErrorInvalidValue,
        "overrunning copy must fail");
  CHECK(std::strstr(cuemuGetLastErrorDetail(), "overruns") != nullptr, "%s", cuemuGetLastErrorDetail());
  CHECK(cudaMemcpy(d, h.data(), 4, cudaMemcpyKind(7)) == cudaErrorInvalidMemcpyDirection);
  // strided 2-D copies: two floats of every three (rows of 8 bytes, 12
  // apart on the device) to packed host rows and back, synchronous and on a
  // stream; a row wider than its pitch and a copy past the allocation fail
  {
    const int rows = n / 3;
    CHECK(cudaMemcpy(d, h.data(), n * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
    std::vector<float> packed(2 * (rows + 1)), all(n);
    CHECK(cudaMemcpy2D(packed.data(), 8, d, 12, 8, rows, cudaMemcpyDeviceToHost) == cudaSuccess);
    for (int r = 0; r < rows; ++r)
      for (int j = 0; j < 2; ++j)
        CHECK(packed[2 * r + j] == h[3 * r + j], "packed[%d] = %g", 2 * r + j, packed[2 * r + j]);
    for (float& v : packed) v = -v - 1;
    cudaStream_t s2;
    CHECK(cudaStreamCreate(&s2) == cudaSuccess);
    CHECK(cudaMemcpy2DAsync(d, 12, packed.data(), 8, 8, rows, cudaMemcpyHostToDevice, s2) == cudaSuccess);
    CHECK(cudaStreamSynchronize(s2) == cudaSuccess && cudaStreamDestroy(s2) == cudaSuccess);
    CHECK(cudaMemcpy(all.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess);
    for (int i = 0; i < n; ++i) {
      const bool copied = i < 3 * rows && i % 3 != 2;
      CHECK(all[i] == (copied ? -h[i] - 1 : h[i]), "all[%d] = %g", i, all[i]);
    }
    CHECK(cudaMemcpy2D(packed.data(), 8, d, 4, 8, 2, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue,
          "a row wider than its pitch must fail");
    CHECK(cudaMemcpy2D(packed.data(), 8, d, 12, 8, rows + 1, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue,
          "a copy past the allocation must fail");
    cudaGetLastError();
  }
  int bogus;
  CHECK(cudaFree(&bogus) == cudaErrorInvalidValue);
  CHECK(cudaFree(nullptr) == cudaSuccess);
  size_t free_b = 0, total_b = 0;
  CHECK(cudaMemGetInfo(&free_b, &total_b) == cudaSuccess && free_b < total_b);
  cudaGetLastError();

  // streams and events
  cudaStream_t s;
  cudaEvent_t e0, e1;
  CHECK(cudaStreamCreate(&s) == cudaSuccess);
  CHECK(cudaEventCreate(&e0) == cudaSuccess && cudaEventCreate(&e1) == cudaSuccess);
  float ms = -1;
  CHECK(cudaEventElapsedTime(&ms, e0, e1) == cudaErrorNotReady);
  CHECK(cudaEventRecord(e0, s) == cudaSuccess);
  CHECK(cudaMemsetAsync(d, 0, n * sizeof(float), s) == cudaSuccess);
  for (int rep = 0; rep < 3; ++rep)
    CHECK(RWKV_LAUNCH(k_axpy, dim3((n + 255) / 256), dim3(256), 0, s)(2.f, x, d, n) == cudaSuccess);
  CHECK(cudaMemcpyAsync(back.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost, s) == cudaSuccess);
  CHECK(cudaEventRecord(e1, s) == cudaSuccess);
  CHECK(cudaStreamSynchronize(s) == cudaSuccess && cudaEventSynchronize(e1) == cudaSuccess);
  CHECK(cudaEventElapsedTime(&ms, e0, e1) == cudaSuccess && ms >= 0.f);
  for (int i = 0; i < n; ++i) CHECK(back[i] == 6.f * float(i), "back[%d] = %g", i, back[i]);
  CHECK(cudaStreamQuery(s) == cudaSuccess && cudaEventQuery(e1) == cudaSuccess);

  // cudaLaunchKernel with an argument array
  float a = 1.f;
  int nn = n;
  void* args[] = {&a, &x, &d, &nn};
  CHECK(cudaLaunchKernel(k_axpy, dim3((n + 255) / 256), dim3(256), args, 0, s) == cudaSuccess);
  CHECK(cudaMemcpy(back.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess);
  CHECK(back[10] == 70.f, "back[10] = %g", back[10]);

  // launch failures are reported by the launch, cudaGetLastError and the next sync, once
  float* o = nullptr;
  CHECK(cudaMalloc(&o, 64 * sizeof(float)) == cudaSuccess);
  CHECK(RWKV_LAUNCH(k_bad_sites, dim3(1), dim3(32), 0, s)(o) == cudaErrorLaunchFailure);
  CHECK(cudaPeekAtLastError() == cudaErrorLaunchFailure);
  CHECK(cudaStreamSynchronize(s) == cudaErrorLaunchFailure);
  CHECK(cudaDeviceSynchronize() == cudaSuccess);
  CHECK(cudaGetLastError() == cudaErrorLaunchFailure);
  CHECK(cudaGetLastError() == cudaSuccess);
  CHECK(RWKV_LAUNCH(k_bad_sites, dim3(1), dim3(32), 0, s)(o) == cudaErrorLaunchFailure);
  CHECK(cudaGetLastError() == cudaErrorLaunchFailure);
  CHECK(cudaStreamSynchronize(s) == cudaSuccess, "cudaGetLastError consumed the failure");
  // the emulator recovers: the next launch runs normally
  CHECK(RWKV_LAUNCH(k_axpy, dim3(1), dim3(64), 0, s)(0.f, x, o, 64) == cudaSuccess);

  // launch configuration errors
  CHECK(RWKV_LAUNCH(k_nothing, dim3(1), dim3(32, 32, 2), 0, 0)() == cudaErrorInvalidConfiguration);
  CHECK(RWKV_LAUNCH(k_nothing, dim3(1), dim3(32), 64 * 1024, 0)() == cudaErrorInvalidConfiguration);
  CHECK(cudaFuncSetAttribute(k_nothing, cudaFuncAttributeMaxDynamicSharedMemorySize, 200 * 1024) ==
        cudaErrorInvalidValue);
  CHECK(cudaFuncSetAttribute(k_nothing, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 1024) == cudaSuccess);
  CHECK(RWKV_LAUNCH(k_nothing, dim3(1), dim3(32), 64 * 1024, 0)() == cudaSuccess);
  cudaGetLastError();

  // handles
  CHECK(cudaStreamDestroy(s) == cudaSuccess);
  CHECK(cudaStreamDestroy(s) == cudaErrorInvalidResourceHandle);
  CHECK(cudaEventDestroy(e0) == cudaSuccess && cudaEventDestroy(e1) == cudaSuccess);
  CHECK(cudaFree(d) == cudaSuccess && cudaFree(o) == cudaSuccess && cudaFreeHost(x) == cudaSuccess);
  CHECK(cudaFree(d) == cudaErrorInvalidValue, "double free must fail");
  cudaGetLastError();
  return 0;
}

// Captures memset + axpy + copy-out on a stream into a graph and replays it;
// out[r*n + i] is the result of replay r, whose input x is i + r.
int emu_graph(float* out, int n, int replays, size_t* nodes) {
  float *x = nullptr, *y = nullptr;
  std::vector<float> hx(n), hy(n);
  TRY(cudaMalloc(&x, n * sizeof(float)));
  TRY(cudaMalloc(&y, n * sizeof(float)));
  cudaStream_t s;
  TRY(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  cudaGraph_t g;
  cudaGraphExec_t ge;
  TRY(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  cudaStreamCaptureStatus st;
  TRY(cudaStreamIsCapturing(s, &st));
  if (st != cudaStreamCaptureStatusActive) return cudaErrorUnknown;
  TRY(cudaMemsetAsync(y, 0, n * sizeof(float), s));
  TRY(RWKV_LAUNCH(k_axpy, dim3((n + 127) / 128), dim3(128), 0, s)(3.f, x, y, n));
  TRY(RWKV_LAUNCH(k_axpy, dim3((n + 127) / 128), dim3(128), 0, s)(1.f, x, y, n));
  TRY(cudaMemcpyAsync(hy.data(), y, n * sizeof(float), cudaMemcpyDeviceToHost, s));
  TRY(cudaStreamEndCapture(s, &g));
  TRY(cudaGraphGetNodes(g, nullptr, nodes));
  TRY(cudaGraphInstantiate(&ge, g, 0));
  for (int r = 0; r < replays; ++r) {
    for (int i = 0; i < n; ++i) hx[i] = float(i + r);
    TRY(cudaMemcpy(x, hx.data(), n * sizeof(float), cudaMemcpyHostToDevice));
    TRY(cudaGraphLaunch(ge, s));
    TRY(cudaStreamSynchronize(s));
    std::memcpy(out + size_t(r) * n, hy.data(), n * sizeof(float));
  }
  TRY(cudaGraphExecDestroy(ge));
  TRY(cudaGraphDestroy(g));
  TRY(cudaStreamDestroy(s));
  TRY(cudaFree(x));
  TRY(cudaFree(y));
  return 0;
}

int emu_capture_errors(char* msg, size_t cap) {
  msg[0] = 0;
  cudaStream_t s;
  cudaGraph_t g = nullptr;
  CHECK(cudaStreamCreate(&s) == cudaSuccess);
  CHECK(cudaStreamBeginCapture(nullptr, cudaStreamCaptureModeGlobal) == cudaErrorStreamCaptureUnsupported);
  CHECK(cudaStreamEndCapture(s, &g) == cudaErrorIllegalState);
  // synchronizing a capturing stream invalidates the capture
  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal) == cudaSuccess);
  CHECK(RWKV_LAUNCH(k_nothing, dim3(1), dim3(1), 0, s)() == cudaSuccess);
  CHECK(cudaStreamSynchronize(s) == cudaErrorStreamCaptureUnsupported);
  cudaStreamCaptureStatus st;
  CHECK(cudaStreamIsCapturing(s, &st) == cudaSuccess && st == cudaStreamCaptureStatusInvalidated);
  CHECK(cudaStreamEndCapture(s, &g) == cudaErrorStreamCaptureInvalidated && g == nullptr);
  // work on the legacy stream during a capture is an implicit dependency
  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal) == cudaSuccess);
  CHECK(RWKV_LAUNCH(k_nothing, dim3(1), dim3(1), 0, 0)() == cudaErrorStreamCaptureImplicit);
  CHECK(cudaStreamEndCapture(s, &g) == cudaErrorStreamCaptureInvalidated);
  // an invalid launch configuration invalidates the capture too
  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal) == cudaSuccess);
  CHECK(RWKV_LAUNCH(k_nothing, dim3(1), dim3(2048), 0, s)() == cudaErrorInvalidConfiguration);
  CHECK(cudaStreamEndCapture(s, &g) == cudaErrorStreamCaptureInvalidated);
  // a kernel that fails during replay makes cudaGraphLaunch fail
  float* o = nullptr;
  CHECK(cudaMalloc(&o, 64 * sizeof(float)) == cudaSuccess);
  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal) == cudaSuccess);
  CHECK(RWKV_LAUNCH(k_bad_exited, dim3(1), dim3(64), 0, s)(o) == cudaSuccess);  // recorded, not run
  CHECK(cudaStreamEndCapture(s, &g) == cudaSuccess);
  cudaGraphExec_t ge;
  CHECK(cudaGraphInstantiate(&ge, g) == cudaSuccess);
  CHECK(cudaGraphLaunch(ge, s) == cudaErrorLaunchFailure);
  CHECK(std::strstr(cuemuGetLastErrorDetail(), "exited") != nullptr, "%s", cuemuGetLastErrorDetail());
  CHECK(cudaStreamSynchronize(s) == cudaErrorLaunchFailure);
  CHECK(cudaGraphExecDestroy(ge) == cudaSuccess && cudaGraphDestroy(g) == cudaSuccess);
  CHECK(cudaGraphDestroy(g) == cudaErrorInvalidResourceHandle);
  CHECK(cudaStreamDestroy(s) == cudaSuccess && cudaFree(o) == cudaSuccess);
  cudaGetLastError();
  return 0;
}

int emu_check_mode(char* msg, size_t cap) {
  msg[0] = 0;
  cuemuSetCheck(1);
  struct Restore {
    ~Restore() { cuemuSetCheck(0); }
  } restore;
  const int n = 10;
  float* p = nullptr;
  CHECK(cudaMalloc(&p, n * sizeof(float)) == cudaSuccess);
  unsigned first;
  std::memcpy(&first, p, 4);
  CHECK(first == 0xffffffffu, "fresh memory is poisoned, got %08x", first);
  CHECK(RWKV_LAUNCH(k_write_past_end, dim3(1), dim3(32), 0, 0)(p, n) == cudaErrorIllegalAddress);
  CHECK(std::strstr(cuemuGetLastErrorDetail(), "byte 40 of the 40-byte block") != nullptr, "%s",
        cuemuGetLastErrorDetail());
  CHECK(cudaFree(p) == cudaErrorIllegalAddress);  // still damaged; freed anyway
  CHECK(cudaFree(p) == cudaErrorInvalidValue);
  float* q = nullptr;
  CHECK(cudaMalloc(&q, n * sizeof(float)) == cudaSuccess);
  CHECK(RWKV_LAUNCH(k_write_past_end, dim3(1), dim3(32), 0, 0)(q, n - 1) == cudaSuccess);
  CHECK(cudaFree(q) == cudaSuccess);
  cudaDeviceSynchronize();
  cudaGetLastError();
  return 0;
}

int emu_faults(char* msg, size_t cap) {
  msg[0] = 0;
  struct Restore {
    ~Restore() {
      cuemuFaultDisarm();
      cuemuSetMemoryLimit(0);
      cudaGetLastError();
    }
  } restore;
  auto injected = [](const char* what) {
    return std::strncmp(cuemuGetLastErrorDetail(), "injected fault: ", 16) == 0 &&
           std::strstr(cuemuGetLastErrorDetail(), what) != nullptr;
  };
  const int n = 10;
  float *p = nullptr, *q = nullptr;
  // Allocations: the second from now fails, once, with the kind's default error.
  const unsigned long long a0 = cuemuFaultCalls(0), f0 = cuemuFaultsInjected();
  unsigned long long live0[8], live[8];
  CHECK(cuemuLiveResources(live0, 8) == 8);
  CHECK(cuemuFaultArm(0, 2, 0) == 0);
  CHECK(cudaMalloc(&p, n * sizeof(float)) == cudaSuccess);
  CHECK(cudaMalloc(&q, n * sizeof(float)) == cudaErrorMemoryAllocation && q == nullptr);
  CHECK(injected("allocation call"), "%s", cuemuGetLastErrorDetail());
  CHECK(cudaGetLastError() == cudaErrorMemoryAllocation);
  CHECK(cudaMalloc(&q, n * sizeof(float)) == cudaSuccess);
  CHECK(cuemuFaultCalls(0) - a0 == 3 && cuemuFaultsInjected() - f0 == 1);
  CHECK(cuemuLiveResources(live, 8) == 8 && live[0] == live0[0] + 2 && live[1] == live0[1] + 2 * n * sizeof(float));
  // Copies, with a chosen error.
  CHECK(cuemuFaultArm(1, 1, int(cudaErrorIllegalAddress)) == 0);
  CHECK(cudaMemcpy(q, p, 4, cudaMemcpyDeviceToDevice) == cudaErrorIllegalAddress);
  CHECK(injected("cudaMemcpy"), "%s", cuemuGetLastErrorDetail());
  CHECK(cudaMemset(q, 0, 4) == cudaSuccess);
  // Launches: reported again by the next synchronizing call.
  CHECK(cuemuFaultArm(2, 1, 0) == 0);
  CHECK(RWKV_LAUNCH(k_write_past_end, dim3(1), dim3(32), 0, 0)(q, n - 1) == cudaErrorLaunchFailure);
  CHECK(injected("launch call"), "%s", cuemuGetLastErrorDetail());
  CHECK(cudaDeviceSynchronize() == cudaErrorLaunchFailure);
  CHECK(RWKV_LAUNCH(k_write_past_end, dim3(1), dim3(32), 0, 0)(q, n - 1) == cudaSuccess);
  // Stream and event calls, graph calls, synchronizations.
  cudaStream_t s = nullptr;
  cudaEvent_t e = nullptr;
  CHECK(cuemuFaultArm(5, 1, 0) == 0);
  CHECK(cudaStreamCreate(&s) == cudaErrorUnknown);
  CHECK(cudaStreamCreate(&s) == cudaSuccess && cudaEventCreate(&e) == cudaSuccess);
  CHECK(cuemuFaultArm(3, 1, 0) == 0);
  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal) == cudaErrorUnknown);
  cudaStreamCaptureStatus st;
  CHECK(cudaStreamIsCapturing(s, &st) == cudaSuccess && st == cudaStreamCaptureStatusNone);
  CHECK(cuemuFaultArm(4, 2, 0) == 0);
  CHECK(cudaStreamSynchronize(s) == cudaSuccess);
  CHECK(cudaEventSynchronize(e) == cudaErrorLaunchFailure);
  CHECK(injected("cudaEventSynchronize"), "%s", cuemuGetLastErrorDetail());
  // A failed launch into a capturing stream invalidates the capture.
  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal) == cudaSuccess);
  CHECK(cuemuFaultArm(2, 1, 0) == 0);
  CHECK(RWKV_LAUNCH(k_write_past_end, dim3(1), dim3(32), 0, s)(q, n - 1) == cudaErrorLaunchFailure);
  cudaGraph_t g = nullptr;
  CHECK(cudaStreamEndCapture(s, &g) == cudaErrorStreamCaptureInvalidated && g == nullptr);
  cudaGetLastError();
  // Any kind: the count runs over every kind together.
  CHECK(cuemuFaultArm(-1, 2, 0) == 0);
  CHECK(cudaMemset(q, 0, 4) == cudaSuccess);
  CHECK(cudaEventRecord(e, s) == cudaErrorUnknown);
  CHECK(injected("stream/event call"), "%s", cuemuGetLastErrorDetail());
  // Disarmed, nothing fails; bad arguments are refused.
  CHECK(cuemuFaultArm(0, 1, 0) == 0);
  cuemuFaultDisarm();
  CHECK(cudaMemset(q, 0, 4) == cudaSuccess);
  float* r = nullptr;
  CHECK(cudaMalloc(&r, 4) == cudaSuccess && cudaFree(r) == cudaSuccess);
  CHECK(cuemuFaultArm(6, 1, 0) == -1 && cuemuFaultArm(0, 0, 0) == -1 && cuemuFaultArm(-2, 1, 0) == -1);
  // The memory cap counts device memory only.
  CHECK(cuemuLiveResources(live, 8) == 8);
  cuemuSetMemoryLimit(live[1] + 1000);
  size_t free_b = 0, total = 0;
  CHECK(cudaMemGetInfo(&free_b, &total) == cudaSuccess && total == live[1] + 1000 && free_b == 1000);
  CHECK(cudaMalloc(&r, 2000) == cudaErrorMemoryAllocation && r == nullptr);
  CHECK(std::strstr(cuemuGetLastErrorDetail(), "cannot allocate 2000 bytes") != nullptr, "%s", cuemuGetLastErrorDetail());
  void* h = nullptr;
  CHECK(cudaMallocHost(&h, 4000) == cudaSuccess && cudaFreeHost(h) == cudaSuccess);
  CHECK(cudaMalloc(&r, 1000) == cudaSuccess && cudaFree(r) == cudaSuccess);
  cuemuSetMemoryLimit(0);
  CHECK(cudaMalloc(&r, 2000) == cudaSuccess && cudaFree(r) == cudaSuccess);
  CHECK(cudaEventDestroy(e) == cudaSuccess && cudaStreamDestroy(s) == cudaSuccess);
  CHECK(cudaFree(p) == cudaSuccess && cudaFree(q) == cudaSuccess);
  CHECK(cuemuLiveResources(live, 8) == 8 && std::memcmp(live, live0, sizeof live) == 0, "live objects leaked");
  return 0;
}

// Timing helpers: milliseconds per launch, averaged over reps.
double emu_bench_softmax(int rows, int n, int threads, int reps) {
  std::vector<float> x(size_t(rows) * n), y(x.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 2654435761u % 1000)) / 100.f - 5.f;
  double t0 = now_ms();
  for (int r = 0; r < reps; ++r)
    if (emu_softmax(x.data(), y.data(), rows, n, threads)) return -1;
  return (now_ms() - t0) / reps;
}

double emu_bench_matmul(int m, int n, int k, int reps) {
  std::vector<float> a(size_t(m) * k, 0.5f), b(size_t(k) * n, 0.25f), c(size_t(m) * n);
  double t0 = now_ms();
  for (int r = 0; r < reps; ++r)
    if (emu_matmul(a.data(), b.data(), c.data(), m, n, k, 1)) return -1;
  return (now_ms() - t0) / reps;
}

}  // extern "C"
