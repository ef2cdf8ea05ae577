// C entry points of the sampler tests (harness.cu), called from Go. Each
// returns a cudaError_t value; st_detail() explains the calling thread's
// last error.
#ifndef RWKVGO_CUDA_SAMPLETEST_H
#define RWKVGO_CUDA_SAMPLETEST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// StRow mirrors struct rwkvcu_sample_row (checked by a static_assert).
typedef struct StRow {
  float temperature;
  int32_t top_k;
  float top_p, min_p, repetition_penalty, presence_penalty, frequency_penalty, penalty_decay;
  uint64_t seed, seq;
} StRow;

const char* st_detail(void);
void st_clear_errors(void);

// st_sample runs rwkvcu_launch_sample on copies of host arrays: logits and
// counts [rows*V], bias [rows*V] or NULL; counts is updated in place. With
// misalign != 0 the device arrays start 4 bytes past a 16-byte boundary
// (scalar-load path).
int st_sample(const float* logits, int rows, int V, const StRow* cfg, float* counts, const float* bias,
              uint64_t step, int32_t* tokens, float* probs, int misalign);

// st_observe runs rwkvcu_launch_sample_observe on row `row` of a host copy
// of counts [rows*V], updated in place.
int st_observe(float* counts, int rows, int V, int row, const int32_t* tokens, int n, float decay);

// st_validate exercises the argument checks of both launchers (no device
// memory needed); returns the status of case `which`.
int st_validate(int which);

#ifdef __cplusplus
}
#endif

#endif
