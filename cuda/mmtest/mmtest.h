// C entry points of the matmul tests (harness.cu), called from Go. Each
// returns a cudaError_t value.
#ifndef RWKVGO_CUDA_MMTEST_H
#define RWKVGO_CUDA_MMTEST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// mm_run copies the inputs to device memory, runs rwkvcu_launch_matmul
// (trans 0) or rwkvcu_launch_matmul_t (trans 1) through
// rwkvcu_launch_matmul_using with the given kernel family (0: the
// heuristics), and copies out back.
//   x: xlen floats; the device copy starts xoff floats into its allocation
//   w: wbytes bytes; the device copy starts woff bytes into its allocation
//   wscale: nscale floats (NULL for none)
//   out: outlen floats, copied in (sentinels) and back
// *variant receives rwkvcu_matmul_last_variant(), *splits
// rwkvcu_matmul_last_splits(). The SPARSE_T products get a scratch like a
// context's, whose tickets must be back at zero after the run
// (cudaErrorUnknown otherwise).
int mm_run(int family, int trans, int dtype, const float* x, size_t xlen, int64_t ldx, int xoff, const void* w,
           size_t wbytes, int woff, const float* wscale, size_t nscale, float* out, size_t outlen, int64_t ldo,
           int64_t n, int64_t o, int64_t k, int* variant, int* splits);

// mm_group runs rwkvcu_launch_matmul_group with two products of the same
// weight (w, woff, wscale as for mm_run; [o, k]) and input x [n, k]
// (contiguous), without epilogues, into out0 and out1 ([n, o] each).
int mm_group(int dtype, const float* x, int64_t n, int64_t k, const void* w, size_t wbytes, int woff,
             const float* wscale, size_t nscale, int64_t o, float* out0, float* out1);

// mm_set_schedule sets the emulator's schedule ("forward", "reverse",
// "random:SEED").
int mm_set_schedule(const char* spec);

// mm_detail describes the calling thread's last emulator error.
const char* mm_detail(void);
void mm_clear_errors(void);

// mm_invalid_checks returns 0, or the number of the first failed check of
// the argument validation and degenerate sizes (see harness.cu).
int mm_invalid_checks(void);

#ifdef __cplusplus
}
#endif

#endif
