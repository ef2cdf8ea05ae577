// Host side of the sampler tests: cuda/sample.cu compiled with the emulator
// (built and loaded by package kerneltest when the tests run), running its
// launchers on copies of host arrays.
#include "sample.cu"

#include <cstring>
#include <vector>

#include "sampletest.h"

static_assert(sizeof(StRow) == sizeof(rwkvcu_sample_row), "StRow must mirror rwkvcu_sample_row");
static_assert(offsetof(StRow, seed) == offsetof(rwkvcu_sample_row, seed), "StRow must mirror rwkvcu_sample_row");

namespace {

// Device buffer of n elements placed `skew` bytes past an allocation.
template <class T>
struct Dev {
  char* base = nullptr;
  T* p = nullptr;
  size_t n = 0;
  cudaError_t err = cudaSuccess;
  Dev(size_t count, const T* init, size_t skew) : n(count) {
    err = cudaMalloc(&base, n * sizeof(T) + 16);
    if (err) return;
    p = reinterpret_cast<T*>(base + skew);
    if (init) err = cudaMemcpy(p, init, n * sizeof(T), cudaMemcpyHostToDevice);
  }
  cudaError_t to_host(T* dst) const { return cudaMemcpy(dst, p, n * sizeof(T), cudaMemcpyDeviceToHost); }
  ~Dev() { cudaFree(base); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
};

#define TRY(x)                        \
  do {                                \
    cudaError_t e_ = (x);             \
    if (e_ != cudaSuccess) return e_; \
  } while (0)

}  // namespace

extern "C" {

const char* st_detail(void) { return cuemuGetLastErrorDetail(); }
void st_clear_errors(void) { cudaGetLastError(); }

int st_sample(const float* logits, int rows, int V, const StRow* cfg, float* counts, const float* bias,
              uint64_t step, int32_t* tokens, float* probs, int misalign) {
  const size_t skew = misalign ? 4 : 0, nv = size_t(rows) * V;
  Dev<float> dl(nv, logits, skew), dc(nv, counts, skew);
  Dev<rwkvcu_sample_row> dr(rows, reinterpret_cast<const rwkvcu_sample_row*>(cfg), 0);
  Dev<int32_t> dt(rows, nullptr, 0);
  Dev<float> dp(rows, nullptr, 0);
  TRY(dl.err);
  TRY(dc.err);
  TRY(dr.err);
  TRY(dt.err);
  TRY(dp.err);
  const float* db = nullptr;
  Dev<float> dbias(bias ? nv : 0, bias, skew);
  if (bias) {
    TRY(dbias.err);
    db = dbias.p;
  }
  TRY(rwkvcu_launch_sample(nullptr, dl.p, rows, V, dr.p, dc.p, db, step, dt.p, probs ? dp.p : nullptr));
  TRY(cudaDeviceSynchronize());
  TRY(dc.to_host(counts));
  TRY(dt.to_host(tokens));
  if (probs) TRY(dp.to_host(probs));
  return cudaSuccess;
}

int st_observe(float* counts, int rows, int V, int row, const int32_t* tokens, int n, float decay) {
  Dev<float> dc(size_t(rows) * V, counts, 0);
  Dev<int32_t> dt(n > 0 ? n : 1, n > 0 ? tokens : nullptr, 0);
  TRY(dc.err);
  TRY(dt.err);
  TRY(rwkvcu_launch_sample_observe(nullptr, dc.p, V, row, dt.p, n, decay));
  TRY(cudaDeviceSynchronize());
  return dc.to_host(counts);
}

int st_validate(int which) {
  float f[4] = {};
  int32_t t[1] = {};
  rwkvcu_sample_row r{};
  switch (which) {
    case 0: return rwkvcu_launch_sample(nullptr, f, 1, 0, &r, f, nullptr, 0, t, nullptr);  // V < 1
    case 1: return rwkvcu_launch_sample(nullptr, f, -1, 4, &r, f, nullptr, 0, t, nullptr);  // rows < 0
    case 2: return rwkvcu_launch_sample(nullptr, nullptr, 1, 4, &r, f, nullptr, 0, t, nullptr);
    case 3: return rwkvcu_launch_sample(nullptr, f, 1, RWKVCU_SAMPLE_MAX_VOCAB + 1, &r, f, nullptr, 0, t, nullptr);
    case 4: return rwkvcu_launch_sample(nullptr, f, 0, 4, &r, f, nullptr, 0, t, nullptr);  // nothing to do
    case 5: return rwkvcu_launch_sample_observe(nullptr, f, 4, -1, t, 1, 1.f);             // row < 0
    case 6: return rwkvcu_launch_sample_observe(nullptr, f, 4, 0, nullptr, 1, 1.f);        // tokens NULL
    case 7: return rwkvcu_launch_sample_observe(nullptr, f, 4, 0, t, 0, 1.f);              // nothing to do
  }
  return -1;
}

}  // extern "C"
