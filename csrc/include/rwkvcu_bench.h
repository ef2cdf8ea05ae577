/*
 * rwkvcu_bench.h: the C ABI of librwkvcu_bench, the benchmarks' companion of
 * librwkvcu (rwkvcu.h): a cuBLAS baseline of rwkvcu_matmul, event timers, an
 * L2 cache flush, and the causal attention of the benchmarks' transformer
 * baseline. The product library does not contain these and does not link
 * cuBLAS; librwkvcu_bench links librwkvcu and cuBLAS (the emulated build,
 * librwkvcu_bench_emu, links librwkvcu_emu and no cuBLAS).
 *
 * Every convention of rwkvcu.h applies (status codes, rwkvcu_last_error(ctx),
 * one thread at a time per context, NULL rules, shape checks, counting in
 * rwkvcu_stats). The contexts and tensors are librwkvcu's. Per-context state
 * of this library (timer events, the cuBLAS handle, scratch) is created by
 * its first call on a context and released by rwkvcu_context_destroy, so the
 * library must stay loaded until then.
 */
#ifndef RWKVCU_BENCH_H
#define RWKVCU_BENCH_H

#include "rwkvcu.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version of rwkvcu.h the library was built with (RWKVCU_ABI_VERSION). Thread-safe. */
RWKVCU_API uint32_t rwkvcu_bench_abi_version(void);

/* The vendor baseline of rwkvcu_matmul: the same product, out [N, O] =
 * x [N, I] @ w[O, I]^T with float32 accumulation, computed by cuBLAS on
 * ctx's stream instead of librwkvcu's kernels.
 *  - Weights: F32 (cublasSgemm, FP32 throughout: the handle's default math
 *    mode, no TF32), F16 or BF16 (cublasGemmEx with CUBLAS_COMPUTE_32F and
 *    an F32 out; tensor cores may be used). cuBLAS needs both operands in one
 *    type, so for 16-bit weights x is first rounded to the weight's type
 *    (round to nearest even) in scratch memory owned by ctx: results differ
 *    from rwkvcu_matmul's (which keeps x in F32) by that rounding, a relative
 *    2^-11 (F16) or 2^-8 (BF16) per element of x, and F16 overflows to
 *    infinity beyond 65504. RWKVCU_I8 and RWKVCU_F8E4M3 weights return
 *    RWKVCU_ERR_NOT_SUPPORTED.
 *  - The cuBLAS handle is created on ctx's first call (which allocates
 *    cuBLAS's workspace: time the calls after a warm-up), bound to ctx's
 *    stream and destroyed by rwkvcu_context_destroy.
 *  - ctx, out, x and w must not be NULL; shapes and types are checked as for
 *    rwkvcu_matmul. Dimensions above INT32_MAX return
 *    RWKVCU_ERR_NOT_SUPPORTED. Not allowed while capturing a graph
 *    (RWKVCU_ERR_INVALID_ARGUMENT; the capture stays usable).
 *  - The emulated library has no cuBLAS: after the argument checks it always
 *    returns RWKVCU_ERR_NOT_SUPPORTED, with the last error "cuBLAS is not
 *    available in the emulated library". */
RWKVCU_API int rwkvcu_vendor_matmul(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *x,
                                    const rwkvcu_tensor *w);

/* Records a start event on ctx's stream. */
RWKVCU_API int rwkvcu_timer_start(rwkvcu_context *ctx);

/* Records a stop event, waits for it and writes the milliseconds elapsed
 * since the last rwkvcu_timer_start to *ms (ms must not be NULL). Not
 * allowed while capturing a graph. */
RWKVCU_API int rwkvcu_timer_stop(rwkvcu_context *ctx, float *ms);

/* Evicts the device's L2 cache by writing a buffer twice its size (queued;
 * the buffer is allocated on the first call). Not allowed while capturing. */
RWKVCU_API int rwkvcu_flush_l2(rwkvcu_context *ctx);

/* Causal softmax attention of one sequence over a KV cache (the benchmarks'
 * transformer baseline): q, k, v, out [n, C] F32, kc, vc [L, C] F32; k and v
 * rows are stored at rows pos.. of kc and vc (pos >= 0, pos+n <= L), then
 * out = softmax(q K^T / sqrt(D)) V per head (D = C/heads <= 256, heads
 * dividing C) over positions <= pos+i. */
RWKVCU_API int rwkvcu_attention(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *q,
                                const rwkvcu_tensor *k, const rwkvcu_tensor *v, rwkvcu_tensor *kc,
                                rwkvcu_tensor *vc, int64_t pos, int32_t heads);

#ifdef __cplusplus
}
#endif

#endif /* RWKVCU_BENCH_H */
