/* sample_bench.h: the benchmark companion of sample.h. */
#include "sample.h"

#define RWKVCU_BENCH_SLOTS 4

RWKVCU_API int rwkvcu_timer_stop(rwkvcu_context *ctx, float *ms);
RWKVCU_API int rwkvcu_attention(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *q, int64_t pos,
                                int32_t heads);
