// C entry points of the emulator tests (harness.cu), called from Go. Each
// returns a cudaError_t value; emu_detail() explains the calling thread's
// last error.
#ifndef RWKVGO_CUDA_EMU_EMUTEST_H
#define RWKVGO_CUDA_EMU_EMUTEST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// EmuAtomics receives the results of the atomics kernel.
typedef struct EmuAtomics {
  int add_i;
  unsigned add_u;
  float add_f;
  double add_d;
  unsigned long long add_ull;
  int max_i, min_i;
  int cas_winners;
  int exch;
  unsigned inc, dec;
  int sub_i;
  unsigned or_u, and_u, xor_u;
  long long max_ll;
} EmuAtomics;

const char* emu_detail(void);
void emu_clear_errors(void);
int emu_set_schedule(const char* spec);
int emu_switch_is_asm(void);

int emu_indices(int* out, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz);
int emu_softmax(const float* x, float* y, int rows, int n, int threads);
int emu_matmul(const float* a, const float* b, float* c, int m, int n, int k, int second_sync);
int emu_wkv4(int b, int t, int c, const float* w, const float* u, const float* k, const float* v, float* y);
int emu_bad_kernel(int which, float* out);
int emu_shuffles(int* out, int width, unsigned mask, int delta);
int emu_votes(unsigned* out);
int emu_sync_count(int* out, int threads);
int emu_atomics(int blocks, int threads, EmuAtomics* out, size_t out_size);
int emu_dynamic_shared(unsigned* out, int blocks, int threads, size_t bytes, int raise_limit);
int emu_static_shared(int* out, int blocks, int threads, int salt);
int emu_neighbour(const float* x, float* y, int blocks, int threads, int sync);

void emu_f16_to_f32(const uint16_t* in, float* out, size_t n);
void emu_f32_to_f16(const float* in, uint16_t* out, size_t n);
void emu_f64_to_f16(const double* in, uint16_t* out, size_t n);
void emu_bf16_to_f32(const uint16_t* in, float* out, size_t n);
void emu_f32_to_bf16(const float* in, uint16_t* out, size_t n);
int emu_half_ops(const uint16_t* a, const uint16_t* b, const uint16_t* c, uint16_t* out, int n, int bf16);

int emu_mma_tile(const uint16_t* a, const uint16_t* b, const float* c, float* d, int bf16);
int emu_mma_gemm(const uint16_t* a, const uint16_t* b, float* c, int m, int n, int k, int bf16);
int emu_ldmatrix(uint32_t* out);
int emu_cp_async(const unsigned* src, unsigned* out);
int emu_math(const float* x, float* out, unsigned* bits, int n);

int emu_runtime_checks(char* msg, size_t cap);
int emu_graph(float* out, int n, int replays, size_t* nodes);
int emu_capture_errors(char* msg, size_t cap);
int emu_check_mode(char* msg, size_t cap);

double emu_bench_softmax(int rows, int n, int threads, int reps);
double emu_bench_matmul(int m, int n, int k, int reps);

#ifdef __cplusplus
}
#endif

#endif
