// Host side of the matmul tests: cuda/matmul.cu compiled on the CPU with the
// emulator (built and loaded by package kerneltest when the tests run),
// running its launch functions on emulated device memory.
#include "matmul.cu"

#include <cstring>

#include "mmtest.h"

namespace {

// Device allocation freed on scope exit.
struct Buf {
  void* p = nullptr;
  cudaError_t err;
  explicit Buf(size_t bytes) { err = cudaMalloc(&p, bytes ? bytes : 1); }
  ~Buf() { cudaFree(p); }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
};

#define TRY(x)                        \
  do {                                \
    cudaError_t e_ = (x);             \
    if (e_ != cudaSuccess) return e_; \
  } while (0)

}  // namespace

extern "C" int mm_run(int family, int trans, int dtype, const float* x, size_t xlen, int64_t ldx, int xoff,
                      const void* w, size_t wbytes, int woff, const float* wscale, size_t nscale, float* out,
                      size_t outlen, int64_t ldo, int64_t n, int64_t o, int64_t k, int* variant, int* splits) {
  Buf dx((xlen + size_t(xoff)) * sizeof(float)), dw(wbytes + size_t(woff)), ds(nscale * sizeof(float)),
      dout(outlen * sizeof(float));
  TRY(dx.err);
  TRY(dw.err);
  TRY(ds.err);
  TRY(dout.err);
  float* px = static_cast<float*>(dx.p) + xoff;
  char* pw = static_cast<char*>(dw.p) + woff;
  TRY(cudaMemcpy(px, x, xlen * sizeof(float), cudaMemcpyHostToDevice));
  TRY(cudaMemcpy(pw, w, wbytes, cudaMemcpyHostToDevice));
  if (nscale) TRY(cudaMemcpy(ds.p, wscale, nscale * sizeof(float), cudaMemcpyHostToDevice));
  TRY(cudaMemcpy(dout.p, out, outlen * sizeof(float), cudaMemcpyHostToDevice));
  cudaStream_t s;
  TRY(cudaStreamCreate(&s));
  // The split sparse product's scratch, as a context has it: allocated once
  // (zeroed tickets) and checked back at zero after every run.
  static rwkvcu_mm_scratch sc = {};
  if (!sc.part) {
    TRY(cudaMalloc(&sc.tickets, size_t(kMmScratchTickets) * 4));
    TRY(cudaMemset(sc.tickets, 0, size_t(kMmScratchTickets) * 4));
    sc.ntickets = kMmScratchTickets;
    TRY(cudaMalloc(&sc.part, size_t(kMmScratchFloats) * 4));
    sc.part_floats = kMmScratchFloats;
  }
  cudaError_t e = rwkvcu_launch_matmul_using_scratch(family, trans, s, static_cast<float*>(dout.p), ldo, px, ldx, pw,
                                                     dtype, nscale ? static_cast<const float*>(ds.p) : nullptr, n, o,
                                                     k, &sc);
  *variant = rwkvcu_matmul_last_variant();
  *splits = rwkvcu_matmul_last_splits();
  if (e == cudaSuccess) e = cudaStreamSynchronize(s);
  cudaStreamDestroy(s);
  TRY(e);
  static unsigned tickets[kMmScratchTickets];
  TRY(cudaMemcpy(tickets, sc.tickets, sizeof tickets, cudaMemcpyDeviceToHost));
  for (unsigned t : tickets)
    if (t != 0) return cudaErrorUnknown;  // a launch left a ticket behind
  return cudaMemcpy(out, dout.p, outlen * sizeof(float), cudaMemcpyDeviceToHost);
}

extern "C" int mm_group(int dtype, const float* x, int64_t n, int64_t k, const void* w, size_t wbytes, int woff,
                        const float* wscale, size_t nscale, int64_t o, float* out0, float* out1) {
  Buf dx(size_t(n * k) * sizeof(float)), dw(wbytes + size_t(woff)), ds(nscale * sizeof(float)),
      d0(size_t(n * o) * sizeof(float)), d1(size_t(n * o) * sizeof(float));
  TRY(dx.err);
  TRY(dw.err);
  TRY(ds.err);
  TRY(d0.err);
  TRY(d1.err);
  char* pw = static_cast<char*>(dw.p) + woff;
  TRY(cudaMemcpy(dx.p, x, size_t(n * k) * sizeof(float), cudaMemcpyHostToDevice));
  TRY(cudaMemcpy(pw, w, wbytes, cudaMemcpyHostToDevice));
  if (nscale) TRY(cudaMemcpy(ds.p, wscale, nscale * sizeof(float), cudaMemcpyHostToDevice));
  const float* sc = nscale ? static_cast<const float*>(ds.p) : nullptr;
  const float* px = static_cast<const float*>(dx.p);
  rwkvcu_group_product ps[2] = {
      {static_cast<float*>(d0.p), px, pw, dtype, sc, nullptr, 0, -1, nullptr, o, k},
      {static_cast<float*>(d1.p), px, pw, dtype, sc, nullptr, 0, -1, nullptr, o, k},
  };
  cudaStream_t s;
  TRY(cudaStreamCreate(&s));
  cudaError_t e = rwkvcu_launch_matmul_group(s, ps, 2, n);
  if (e == cudaSuccess) e = cudaStreamSynchronize(s);
  cudaStreamDestroy(s);
  TRY(e);
  TRY(cudaMemcpy(out0, d0.p, size_t(n * o) * sizeof(float), cudaMemcpyDeviceToHost));
  return cudaMemcpy(out1, d1.p, size_t(n * o) * sizeof(float), cudaMemcpyDeviceToHost);
}

extern "C" int mm_set_schedule(const char* spec) { return cuemuSetScheduleString(spec); }

extern "C" const char* mm_detail(void) { return cuemuGetLastErrorDetail(); }

extern "C" void mm_clear_errors(void) { cudaGetLastError(); }

// mm_invalid_checks calls the launch functions with invalid arguments and
// degenerate sizes; it returns 0 or the number (1-based) of the first check
// that failed.
extern "C" int mm_invalid_checks(void) {
  Buf bx(64 * sizeof(float)), bw(64 * sizeof(float)), bo(64 * sizeof(float));
  if (bx.err || bw.err || bo.err) return 100;
  float* x = static_cast<float*>(bx.p);
  float* out = static_cast<float*>(bo.p);
  const void* w = bw.p;
  const float* sc = x;
  int check = 0;
#define EXPECT(call, want)                                         \
  do {                                                             \
    ++check;                                                       \
    cudaGetLastError();                                            \
    if ((call) != (want) || cudaGetLastError() != cudaSuccess) return check; \
  } while (0)
  const cudaError_t bad = cudaErrorInvalidValue;
  EXPECT(rwkvcu_launch_matmul(0, nullptr, 4, x, 4, w, 0, nullptr, 2, 4, 4), bad);
  EXPECT(rwkvcu_launch_matmul(0, out, 4, nullptr, 4, w, 0, nullptr, 2, 4, 4), bad);
  EXPECT(rwkvcu_launch_matmul(0, out, 4, x, 4, nullptr, 0, nullptr, 2, 4, 4), bad);
  EXPECT(rwkvcu_launch_matmul(0, out, 4, x, 4, w, 10, nullptr, 2, 4, 4), bad);  // dtype
  EXPECT(rwkvcu_launch_matmul(0, out, 4, x, 4, w, 5, nullptr, 2, 4, 4), bad);   // Q4_0: k not whole blocks
  EXPECT(rwkvcu_launch_matmul(0, out, 2, x, 32, static_cast<const char*>(w) + 1, 6, nullptr, 1, 2, 32), bad);  // Q4_1 misaligned
  EXPECT(rwkvcu_launch_matmul_t(0, out, 2, x, 32, w, 9, nullptr, 1, 32, 2), bad);  // Q8_0 transposed
  EXPECT(rwkvcu_launch_matmul_using(RWKVCU_MM_TC, 0, 0, out, 2, x, 32, w, 7, nullptr, 1, 2, 32), bad);  // no TC for Q5_0
  EXPECT(rwkvcu_launch_matmul_using(RWKVCU_MM_SIMT, 1, 0, out, 2, x, 32, w, 8, nullptr, 1, 2, 32), bad);  // Q5_1 transposed
  EXPECT(rwkvcu_launch_matmul(0, out, 2, x, 32, w, 8, nullptr, 1, 2, 32), cudaSuccess);  // Q5_1 [2, 32]
  EXPECT(rwkvcu_launch_matmul(0, out, 4, x, 4, w, 4, nullptr, 2, 4, 4), bad);   // F8E4M3 without scales
  EXPECT(rwkvcu_launch_matmul(0, out, 4, x, 4, w, -1, nullptr, 2, 4, 4), bad);  // dtype
  EXPECT(rwkvcu_launch_matmul(0, out, 4, x, 4, w, 3, nullptr, 2, 4, 4), bad);   // I8 without scales
  EXPECT(rwkvcu_launch_matmul(0, out, 4, x, 3, w, 0, nullptr, 2, 4, 4), bad);   // ldx < k
  EXPECT(rwkvcu_launch_matmul(0, out, 3, x, 4, w, 0, nullptr, 2, 4, 4), bad);   // ldo < o
  EXPECT(rwkvcu_launch_matmul(0, out, 4, x, 4, w, 0, nullptr, -1, 4, 4), bad);  // n < 0
  EXPECT(rwkvcu_launch_matmul_t(0, out, 4, x, 4, w, 1, nullptr, 2, -4, 4), bad);  // k < 0
  EXPECT(rwkvcu_launch_matmul_t(0, out, 3, x, 4, w, 1, nullptr, 2, 4, 4), bad);   // ldo < o
  EXPECT(rwkvcu_launch_matmul_t(0, out, 4, x, 4, w, 3, nullptr, 2, 4, 4), bad);   // I8 without scales
  EXPECT(rwkvcu_launch_matmul_using(RWKVCU_MM_GEMV, 1, 0, out, 4, x, 4, w, 0, nullptr, 2, 4, 4), bad);
  EXPECT(rwkvcu_launch_matmul_using(RWKVCU_MM_SPARSE_T, 0, 0, out, 4, x, 4, w, 0, nullptr, 2, 4, 4), bad);
  EXPECT(rwkvcu_launch_matmul_using(RWKVCU_MM_TC, 0, 0, out, 4, x, 4, w, 0, nullptr, 2, 4, 4), bad);
  EXPECT(rwkvcu_launch_matmul_using(RWKVCU_MM_TC, 1, 0, out, 4, x, 4, w, 3, sc, 2, 4, 4), bad);
  EXPECT(rwkvcu_launch_matmul_using(RWKVCU_MM_TC, 0, 0, out, 4, x, 4, w, 4, sc, 2, 4, 4), bad);  // no TC for F8E4M3
  EXPECT(rwkvcu_launch_matmul_using(99, 0, 0, out, 4, x, 4, w, 0, nullptr, 2, 4, 4), bad);
  // no-ops: nothing to write
  EXPECT(rwkvcu_launch_matmul(0, out, 4, x, 4, w, 0, nullptr, 0, 4, 4), cudaSuccess);
  EXPECT(rwkvcu_launch_matmul_t(0, out, 4, x, 4, w, 2, nullptr, 2, 4, 0), cudaSuccess);
  // k == 0: zeros, from every family
  for (int fam = RWKVCU_MM_AUTO; fam <= RWKVCU_MM_SPARSE_T; ++fam) {
    for (int trans = 0; trans < 2; ++trans) {
      if ((fam == RWKVCU_MM_GEMV && trans) || (fam == RWKVCU_MM_SPARSE_T && !trans)) continue;
      for (int n : {1, 9}) {
        ++check;
        if (cudaMemset(out, 0xff, 64 * sizeof(float)) != cudaSuccess) return check;
        if (rwkvcu_launch_matmul_using(fam, trans, 0, out, 4, x, 0, w, 1, nullptr, n, 3, 0) != cudaSuccess)
          return check;
        float h[36];
        if (cudaMemcpy(h, out, sizeof(h), cudaMemcpyDeviceToHost) != cudaSuccess) return check;
        for (int t = 0; t < n; ++t)
          for (int c = 0; c < 4; ++c) {
            uint32_t b;
            std::memcpy(&b, &h[t * 4 + c], 4);
            if (c < 3 ? h[t * 4 + c] != 0.f : b != 0xffffffffu) return check;
          }
      }
    }
  }
#undef EXPECT
  return 0;
}
