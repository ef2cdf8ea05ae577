/*
 * rwkvcu.h: the C ABI of librwkvcu, rwkvgo's CUDA kernels for RWKV models.
 *
 * The library runs the operations of the RWKV model graphs (never whole
 * models) on one CUDA device. It is C99, exception-free and callable without
 * a C compiler (from Go through cgo or purego): opaque handles, plain integer,
 * float and pointer arguments only (no struct by value), every function
 * returns a status, caller-owned host buffers.
 *
 * Conventions (apply to every function below unless stated):
 *  - Status: RWKVCU_OK (0) or a negative error code. After an error,
 *    rwkvcu_last_error(ctx) describes it (for rwkvcu_context_create failures
 *    and functions whose context cannot be determined, rwkvcu_last_error(NULL)
 *    does, per calling thread). The text is kept until the next failure.
 *  - Threads: a context and everything made from it may be used by one thread
 *    at a time; different contexts may be used concurrently. The functions
 *    that take no context are thread-safe.
 *  - NULL: handle and pointer arguments must not be NULL unless documented;
 *    a NULL where one is required returns RWKVCU_ERR_INVALID_ARGUMENT.
 *    Destroy/free functions accept NULL and do nothing.
 *  - Tensors are 2-D row-major [rows, cols] arrays in device memory. Element
 *    types: RWKVCU_F32 (activations and state are always F32), RWKVCU_F16,
 *    RWKVCU_BF16, RWKVCU_I8 (int8 with one float scale per row) and
 *    RWKVCU_F8E4M3 (fp8 e4m3 with one float scale per row; compute
 *    capability 8.9 or later, see rwkvcu_dtype_supported) and ggml's
 *    32-element block formats RWKVCU_Q4_0 ... RWKVCU_Q8_0 as rwkv.cpp writes
 *    them (cuda/qblock.cuh; cols a multiple of 32) for weights.
 *    Shapes are checked by every operation; a mismatch returns
 *    RWKVCU_ERR_INVALID_ARGUMENT and launches nothing.
 *  - Ordering: operations are queued on the context's stream in call order
 *    and may run asynchronously; host-visible results (rwkvcu_tensor_read,
 *    rwkvcu_sample_read) wait for what they need. Errors of asynchronous work
 *    are reported by a later call, at the latest rwkvcu_synchronize.
 *  - Host arrays passed to an operation (tokens, row indices, batch offsets,
 *    arrays of tensor handles) are read or copied before the function
 *    returns; the caller may reuse them.
 *  - Steps and batches: a step's activations have N rows, the tokens of
 *    several sequences; sequence i owns rows [offsets[i], offsets[i+1]) and
 *    state row slots[i]; offsets has nseq+1 entries, starts at 0, strictly
 *    increasing. rwkvcu_begin_step sends a step's batch to the device once;
 *    the operations that read it (rwkvcu_shift, rwkvcu_wkv4/5/7) take no
 *    batch arguments.
 *  - Ownership: every handle a function creates (context, tensor, view,
 *    graph, sampler) is released exactly once by its destroy/free function.
 *    See rwkvcu_tensor_view for views.
 *  - Statistics: each context counts its handles, device memory, allocations,
 *    kernel and graph launches, host synchronizations and bytes copied each
 *    way (rwkvcu_stats), on the GPU and in the emulated library alike; the
 *    entries a decoder's kernels write into mapped host memory count as
 *    bytes to the host.
 *  - The benchmarks' extras (cuBLAS baseline, event timers, L2 flush and a
 *    transformer attention baseline) live in a separate library,
 *    librwkvcu_bench (rwkvcu_bench.h).
 */
#ifndef RWKVCU_H
#define RWKVCU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define RWKVCU_API __declspec(dllexport)
#else
#define RWKVCU_API __attribute__((visibility("default")))
#endif

/* Version of this ABI; bumped on every incompatible change. */
#define RWKVCU_ABI_VERSION 3

/* Status codes. */
#define RWKVCU_OK 0
#define RWKVCU_ERR_INVALID_ARGUMENT (-1) /* bad shape, dtype, range or NULL */
#define RWKVCU_ERR_NO_DEVICE (-2)        /* no CUDA device or driver */
#define RWKVCU_ERR_OUT_OF_MEMORY (-3)    /* device or host allocation failed */
#define RWKVCU_ERR_LAUNCH (-4)           /* a kernel failed to launch or run */
#define RWKVCU_ERR_CUDA (-5)             /* another CUDA runtime error */
#define RWKVCU_ERR_NOT_SUPPORTED (-6)    /* operation or type not supported here */
#define RWKVCU_ERR_INTERNAL (-7)         /* a bug in librwkvcu */

/* Element types. */
#define RWKVCU_F32 0
#define RWKVCU_F16 1
#define RWKVCU_BF16 2
#define RWKVCU_I8 3
#define RWKVCU_F8E4M3 4 /* OCP FP8 E4M3 (E4M3FN: bias 7, no infinities, S.1111.111 is NaN) */
/* Block-quantized: a row is cols/32 blocks of 32 elements, in the bytes of an
 * rwkv.cpp file (cuda/qblock.cuh has the layouts). Weights of rwkvcu_embed,
 * rwkvcu_matmul and rwkvcu_matmul_group (not rwkvcu_matmul_t). */
#define RWKVCU_Q4_0 5 /* 18 bytes: fp16 d, 16 bytes of 4-bit codes; x = (q-8)*d */
#define RWKVCU_Q4_1 6 /* 20 bytes: fp16 d, fp16 m, 16 bytes of 4-bit codes; x = q*d + m */
#define RWKVCU_Q5_0 7 /* 22 bytes: fp16 d, u32 fifth bits, 4-bit codes; x = (q-16)*d */
#define RWKVCU_Q5_1 8 /* 24 bytes: fp16 d, fp16 m, u32 fifth bits, 4-bit codes; x = q*d + m */
#define RWKVCU_Q8_0 9 /* 34 bytes: fp16 d, 32 int8 codes; x = q*d */

/* Elementwise functions (rwkvcu_map), as in rwkvgo's backend.Unary. */
#define RWKVCU_SIGMOID 0
#define RWKVCU_TANH 1
#define RWKVCU_SILU 2
#define RWKVCU_RELU_SQUARE 3
#define RWKVCU_NEG_EXP_EXP 4 /* exp(-exp(x)) */
#define RWKVCU_V7_DECAY 5    /* exp(-exp(-0.5) * sigmoid(x)) */
#define RWKVCU_NO_FUNCTION (-1) /* rwkvcu_matmul_group: no activation */

/* Elementwise functions of two arguments (rwkvcu_zip). */
#define RWKVCU_ADD 0
#define RWKVCU_SUB 1
#define RWKVCU_MUL 2

/* Token-shift formulas (rwkvcu_mix, rwkvcu_mix_n); each operation is rounded
 * to float as written (no fused multiply-add). */
#define RWKVCU_MIX_LERP 0  /* x*mix + prev*(1-mix) */
#define RWKVCU_MIX_DELTA 1 /* x + (prev-x)*mix */

/* The largest count of rwkvcu_mix_n. */
#define RWKVCU_MIX_N_MAX 8

/* The largest count of rwkvcu_matmul_group. */
#define RWKVCU_GROUP_MAX 8

/* Indices of the statistics of a context (rwkvcu_stats). Counters are
 * cumulative since rwkvcu_context_create unless marked "live". Work queued
 * while capturing a graph is counted by each rwkvcu_graph_launch of the graph
 * (graph launches, the bytes its inputs copy and its decoder entries), not
 * when captured. */
#define RWKVCU_STAT_LIVE_TENSORS 0      /* live tensor handles, views included */
#define RWKVCU_STAT_LIVE_DEVICE_BYTES 1 /* live device memory of the context: tensors,
                                           staging, samplers, graphs, benchmark scratch */
#define RWKVCU_STAT_ALLOCATIONS 2       /* device and pinned host allocation calls */
#define RWKVCU_STAT_KERNEL_LAUNCHES 3   /* kernels launched one by one (not in a graph) */
#define RWKVCU_STAT_GRAPH_LAUNCHES 4    /* rwkvcu_graph_launch calls */
#define RWKVCU_STAT_HOST_SYNCS 5        /* waits of the host for the device */
#define RWKVCU_STAT_H2D_BYTES 6         /* bytes copied from the host to the device */
#define RWKVCU_STAT_D2H_BYTES 7         /* bytes copied (or written by kernels into mapped
                                           host memory) from the device to the host */
#define RWKVCU_STAT_COUNT 8             /* the number of statistics */

typedef struct rwkvcu_context rwkvcu_context; /* a device, a stream, scratch memory */
typedef struct rwkvcu_tensor rwkvcu_tensor;   /* a device array or a view of one */
typedef struct rwkvcu_graph rwkvcu_graph;     /* a captured sequence of operations */

/* ---- Library and device ------------------------------------------------- */

/* The ABI version the library was built with (RWKVCU_ABI_VERSION). Thread-safe. */
RWKVCU_API uint32_t rwkvcu_abi_version(void);

/* Writes the number of usable devices to *count (0 without a driver; that is
 * not an error). Thread-safe. */
RWKVCU_API int rwkvcu_device_count(int32_t *count);

/* Describes the last error of ctx (or, with ctx NULL, of the calling thread's
 * last failed rwkvcu_context_create). The string stays valid until the next
 * call on the same context or thread. Never NULL. */
RWKVCU_API const char *rwkvcu_last_error(const rwkvcu_context *ctx);

/* Creates a context on device `device` with its own stream. Fails with
 * RWKVCU_ERR_NOT_SUPPORTED when the library holds no code for the device's
 * compute capability (the last error names the architectures it was built
 * for, the device's, and how to rebuild). */
RWKVCU_API int rwkvcu_context_create(int32_t device, rwkvcu_context **out);

/* Destroys a context; its tensors and graphs must be freed first. */
RWKVCU_API void rwkvcu_context_destroy(rwkvcu_context *ctx);

/* Waits for all queued work; reports any asynchronous error. */
RWKVCU_API int rwkvcu_synchronize(rwkvcu_context *ctx);

/* Device facts: writes the name (NUL-terminated, truncated to name_len) and
 * the numbers; any output pointer may be NULL. Peak figures come from the
 * device's attributes (memory clock and bus width; SM count, clock and the
 * architecture's FMA rate), not constants. */
RWKVCU_API int rwkvcu_device_info(rwkvcu_context *ctx, char *name, size_t name_len,
                                  int32_t *cc_major, int32_t *cc_minor, int32_t *sm_count,
                                  uint64_t *total_mem_bytes, double *peak_bytes_per_s,
                                  double *peak_fp32_flops, double *peak_f16_tensor_flops);

/* Writes 1 to *supported when tensors of element type dtype can be made on
 * ctx's device, else 0: every type on every device, except RWKVCU_F8E4M3,
 * which needs compute capability 8.9 or later (the emulated library has it).
 * An unknown dtype writes 0. */
RWKVCU_API int rwkvcu_dtype_supported(rwkvcu_context *ctx, int32_t dtype, int32_t *supported);

/* Free and total device memory in bytes. */
RWKVCU_API int rwkvcu_mem_info(rwkvcu_context *ctx, uint64_t *free_bytes, uint64_t *total_bytes);

/* Writes the first n statistics of ctx (RWKVCU_STAT_* indices) to out, which
 * holds n values; indices at or beyond RWKVCU_STAT_COUNT read as 0. out may
 * be NULL only when n is 0; n < 0 is RWKVCU_ERR_INVALID_ARGUMENT. Cheap (no
 * device work, no synchronization); same thread rule as every call on ctx. */
RWKVCU_API int rwkvcu_stats(const rwkvcu_context *ctx, uint64_t *out, int32_t n);

/* ---- Tensors ------------------------------------------------------------ */

/* Allocates a zeroed [rows, cols] tensor of type dtype. For RWKVCU_I8 and
 * RWKVCU_F8E4M3 the tensor also holds rows float scales; for the block types
 * cols must be a multiple of 32 (RWKVCU_ERR_INVALID_ARGUMENT). A type the device
 * does not support (rwkvcu_dtype_supported) fails with
 * RWKVCU_ERR_NOT_SUPPORTED. */
RWKVCU_API int rwkvcu_tensor_new(rwkvcu_context *ctx, int32_t dtype, int64_t rows, int64_t cols,
                                 rwkvcu_tensor **out);

/* A view of the first `rows` rows of t (1 <= rows <= t's rows), sharing its
 * memory; t may itself be a view. A view is a handle like any other tensor:
 * it is released with rwkvcu_tensor_free exactly once and never owns memory,
 * so freeing it never frees t's. View and parent may be freed in either
 * order, but a view must not be used after the tensor that owns its memory
 * has been freed. */
RWKVCU_API int rwkvcu_tensor_view(rwkvcu_context *ctx, const rwkvcu_tensor *t, int64_t rows,
                                  rwkvcu_tensor **out);

/* Frees a tensor handle or a view handle (NULL: nothing). A tensor's device
 * memory is released; a view's never is (see rwkvcu_tensor_view). Must be
 * called before the tensor's context is destroyed. */
RWKVCU_API void rwkvcu_tensor_free(rwkvcu_tensor *t);

/* Copies bytes of host data (exactly rows*cols elements of the tensor's type,
 * little-endian) into t. For RWKVCU_I8 and RWKVCU_F8E4M3, data is rows*cols
 * one-byte codes followed by rows float32 scales; for the block types, the
 * rows*cols/32 blocks as the file stores them. Synchronous. */
RWKVCU_API int rwkvcu_tensor_upload(rwkvcu_context *ctx, rwkvcu_tensor *t, const void *data, size_t bytes);

/* Copies n float values starting at row `row` of an F32 tensor to host dst
 * (row*cols + n <= rows*cols). Waits for queued work. */
RWKVCU_API int rwkvcu_tensor_read(rwkvcu_context *ctx, const rwkvcu_tensor *t, int64_t row, float *dst,
                                  size_t n);

/* Copies n float values from host src into an F32 tensor starting at row `row`. */
RWKVCU_API int rwkvcu_tensor_write(rwkvcu_context *ctx, rwkvcu_tensor *t, int64_t row, const float *src,
                                   size_t n);

/* ---- Operations (see rwkvgo's engine/backend package for the exact math) - */

/* out[i] = emb[tokens[i]]; out [n, C] F32, emb [V, C] any type. */
RWKVCU_API int rwkvcu_embed(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *emb,
                            const int32_t *tokens, int64_t n);

/* Row-wise LayerNorm; w, b [1, C]. out may alias x. */
RWKVCU_API int rwkvcu_layer_norm(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *x,
                                 const rwkvcu_tensor *w, const rwkvcu_tensor *b, float eps);

/* GroupNorm over `groups` equal slices of each row, then *w + b. out may alias x. */
RWKVCU_API int rwkvcu_group_norm(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *x,
                                 const rwkvcu_tensor *w, const rwkvcu_tensor *b, int32_t groups, float eps);

/* out [N, O] = x [N, I] @ w[O, I]^T, float32 accumulation. */
RWKVCU_API int rwkvcu_matmul(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *x,
                             const rwkvcu_tensor *w);

/* out [N, O] = x [N, I] @ wt [I, O] (weight stored transposed); zero entries
 * of x contribute nothing (the sparse channel-mix value projection). The
 * block types are refused (RWKVCU_ERR_INVALID_ARGUMENT): their blocks run
 * along the rows of the stored weight, which rwkvcu_matmul multiplies. */
RWKVCU_API int rwkvcu_matmul_t(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *x,
                               const rwkvcu_tensor *wt);

/* count matrix products with epilogues in one launch (backend.FusedProducts),
 * 1 <= count <= RWKVCU_GROUP_MAX: for each j, p = xs[j] @ ws[j]^T as
 * rwkvcu_matmul computes it (xs[j] [n, I_j], the same n for every j; ws[j]
 * [O_j, I_j] of any weight type), then, each operation rounded to float:
 * p += biases[j] unless it is NULL ([1|n, O_j]); p = f(p) for acts[j] an
 * RWKVCU_SIGMOID ... value (RWKVCU_NO_FUNCTION: none); outs[j] [n, O_j] = p,
 * or, when lerps[j] is not NULL ([n, O_j]), outs[j] += (lerps[j] - outs[j]) * p
 * (RWKV-7's value residual with the sigmoid). outs, xs, ws, biases, acts and
 * lerps are host arrays of count entries. No output may overlap another
 * output or any product's operand (views included). Meant for decode-sized
 * n (GEMV blocks of up to 8 tokens; more tokens re-read the weights). */
RWKVCU_API int rwkvcu_matmul_group(rwkvcu_context *ctx, rwkvcu_tensor *const *outs, const rwkvcu_tensor *const *xs,
                                   const rwkvcu_tensor *const *ws, const rwkvcu_tensor *const *biases,
                                   const int32_t *acts, const rwkvcu_tensor *const *lerps, int32_t count);

/* out = f(x) elementwise (RWKVCU_SIGMOID ...); out may alias x. */
RWKVCU_API int rwkvcu_map(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *x, int32_t fn);

/* out = f(a, b) elementwise; b is [1|N, cols] (broadcast over rows); out may alias a. */
RWKVCU_API int rwkvcu_zip(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *a,
                          const rwkvcu_tensor *b, int32_t fn);

/* out = g(f(a, b)) elementwise (backend.FusedElementwise): f an RWKVCU_ADD ...
 * value, g an RWKVCU_SIGMOID ... value; the bits of rwkvcu_zip then rwkvcu_map.
 * b is [1|rows, cols]; out may alias a. */
RWKVCU_API int rwkvcu_zip_map(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *a,
                              const rwkvcu_tensor *b, int32_t fn, int32_t gn);

/* Copies columns [col, col+out.cols) of x into out. */
RWKVCU_API int rwkvcu_slice(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *x, int64_t col);

/* Copies rows rows[i] of x into row i of out (n = out.rows). */
RWKVCU_API int rwkvcu_gather_rows(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *x,
                                  const int32_t *rows, int64_t n);

/* Copies the n whole rows [src_row, src_row+n) of src into rows
 * [dst_row, dst_row+n) of dst, device to device. Both F32 with the same
 * columns; the ranges lie inside their tensors, n >= 1, and do not overlap
 * (dst and src may be one tensor). */
RWKVCU_API int rwkvcu_copy_rows(rwkvcu_context *ctx, rwkvcu_tensor *dst, int64_t dst_row,
                                const rwkvcu_tensor *src, int64_t src_row, int64_t n);

/* Begins a step: checks the batch (nseq >= 1 sequences; offsets[nseq+1]
 * starting at 0 and strictly increasing; slots[nseq] >= 0) and sends it to
 * the device once, for every rwkvcu_shift and rwkvcu_wkv4/5/7 until the next
 * rwkvcu_begin_step. Those operations fail with RWKVCU_ERR_INVALID_ARGUMENT
 * when no step was begun, when the step's rows (offsets[nseq]) differ from
 * their operands' rows, or when a slot is not a row of their state tensor.
 * A failed call ends the current step. rwkvcu_graph_begin and
 * rwkvcu_graph_end end the current step too: a step used in a capture is
 * begun inside it and becomes one graph input (offsets then slots). */
RWKVCU_API int rwkvcu_begin_step(rwkvcu_context *ctx, const int32_t *offsets, const int32_t *slots,
                                 int32_t nseq);

/* Token shift over the step's batch: prev[r] = x[r-1] within a sequence,
 * state[slot][off:off+C] for its first row; then state[slot][off:off+C] =
 * its last row of x. */
RWKVCU_API int rwkvcu_shift(rwkvcu_context *ctx, rwkvcu_tensor *prev, const rwkvcu_tensor *x,
                            rwkvcu_tensor *state, int64_t off);

/* out = mix of x and prev with mix [1|N, C] (RWKVCU_MIX_LERP or _DELTA). */
RWKVCU_API int rwkvcu_mix(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *x,
                          const rwkvcu_tensor *prev, const rwkvcu_tensor *mix, int32_t style);

/* count token-shift mixes of the same x and prev [N, C] in one launch:
 * outs[j] [N, C] = the mix of x and prev with mixes[j] [1|N, C] (each mix
 * broadcast or per-row on its own), for j < count, 1 <= count <=
 * RWKVCU_MIX_N_MAX; style RWKVCU_MIX_LERP or _DELTA for all of them. x and
 * prev are read once per element, and each outs[j] equals rwkvcu_mix's
 * result for mixes[j] bit for bit. outs and mixes are host arrays of count
 * handles; no output may alias x, prev, a mix or another output. */
RWKVCU_API int rwkvcu_mix_n(rwkvcu_context *ctx, rwkvcu_tensor *const *outs, const rwkvcu_tensor *x,
                            const rwkvcu_tensor *prev, const rwkvcu_tensor *const *mixes, int32_t count,
                            int32_t style);

/* RWKV-4 WKV over the step's batch; state row holds aa, bb, pp at off,
 * off+C, off+2C. */
RWKVCU_API int rwkvcu_wkv4(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *k,
                           const rwkvcu_tensor *v, const rwkvcu_tensor *w, const rwkvcu_tensor *u,
                           rwkvcu_tensor *state, int64_t off);

/* RWKV-5/6 WKV over the step's batch with head state S[h][key][value] at
 * state[slot][off:]; w is [1|N, C]. */
RWKVCU_API int rwkvcu_wkv5(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *r,
                           const rwkvcu_tensor *k, const rwkvcu_tensor *v, const rwkvcu_tensor *w,
                           const rwkvcu_tensor *u, rwkvcu_tensor *state, int64_t off, int32_t heads);

/* RWKV-7 WKV (generalised delta rule) over the step's batch with head state
 * S[h][value][key]. */
RWKVCU_API int rwkvcu_wkv7(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *r,
                           const rwkvcu_tensor *w, const rwkvcu_tensor *k, const rwkvcu_tensor *v,
                           const rwkvcu_tensor *kk, const rwkvcu_tensor *a, rwkvcu_tensor *state,
                           int64_t off, int32_t heads);

/* RWKV-7 key preprocessing: kk = l2normalize_per_head(k*kK); k *= 1+(a-1)*kA. */
RWKVCU_API int rwkvcu_key_v7(rwkvcu_context *ctx, rwkvcu_tensor *kk, rwkvcu_tensor *k,
                             const rwkvcu_tensor *a, const rwkvcu_tensor *kK, const rwkvcu_tensor *kA,
                             int32_t heads);

/* RWKV-7 value residual: v += (first-v)*sigmoid(gate). */
RWKVCU_API int rwkvcu_value_v7(rwkvcu_context *ctx, rwkvcu_tensor *v, const rwkvcu_tensor *first,
                               const rwkvcu_tensor *gate);

/* RWKV-7 bonus: out += sum_head(r*k*rK) * v. */
RWKVCU_API int rwkvcu_bonus_v7(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *r,
                               const rwkvcu_tensor *k, const rwkvcu_tensor *v, const rwkvcu_tensor *rK,
                               int32_t heads);

/* RWKV-7 fused decode attention (backend.FusedV7): for a step in which every
 * sequence has one row (n == the step's sequences, else an error), the result
 * of rwkvcu_key_v7(kk, k, a, kK, kA), rwkvcu_wkv7(y, r, w, k, v, kk, a, state,
 * off), rwkvcu_group_norm(y, y, ln_w, ln_b, heads, eps), rwkvcu_bonus_v7(y, r,
 * k, v, rK) and y *= g, in one launch: kk receives the normalised key, k is
 * rescaled in place and the state updated. r, w, k, v, a, g, y, kk [n, C];
 * kK, kA, rK, ln_w, ln_b [1, C]; heads of at most 160 channels; y and kk must
 * not alias an input. */
RWKVCU_API int rwkvcu_attn_decode_v7(rwkvcu_context *ctx, rwkvcu_tensor *y, rwkvcu_tensor *kk,
                                     const rwkvcu_tensor *r, const rwkvcu_tensor *w, rwkvcu_tensor *k,
                                     const rwkvcu_tensor *v, const rwkvcu_tensor *a, const rwkvcu_tensor *g,
                                     const rwkvcu_tensor *kK, const rwkvcu_tensor *kA, const rwkvcu_tensor *rK,
                                     const rwkvcu_tensor *ln_w, const rwkvcu_tensor *ln_b, rwkvcu_tensor *state,
                                     int64_t off, int32_t heads, float eps);

/* The core of RWKV-5's and RWKV-6's decode attention (backend.FusedV5):
 * the result of rwkvcu_wkv5(y, r, k, v, w, u, state, off, heads),
 * rwkvcu_group_norm(y, y, ln_w, ln_b, heads, eps) and, when g is not NULL,
 * rwkvcu_zip(y, y, g, RWKVCU_MUL), with the state rows of the step's slots
 * updated. A decode step only (one row per sequence). r, k, v, g, y [N, C];
 * w [1|N, C]; u, ln_w, ln_b [1, C]; y must not alias an input. */
RWKVCU_API int rwkvcu_attn_decode_v5(rwkvcu_context *ctx, rwkvcu_tensor *y, const rwkvcu_tensor *r,
                                     const rwkvcu_tensor *k, const rwkvcu_tensor *v, const rwkvcu_tensor *w,
                                     const rwkvcu_tensor *u, const rwkvcu_tensor *g, const rwkvcu_tensor *ln_w,
                                     const rwkvcu_tensor *ln_b, rwkvcu_tensor *state, int64_t off,
                                     int32_t heads, float eps);

/* RWKV-6's decode attention with its decay's LoRA-up (backend.FusedV6): the
 * result of rwkvcu_matmul(w, decay_lo, decay_w2), rwkvcu_zip(w, w, decay,
 * RWKVCU_ADD), rwkvcu_map(w, w, RWKVCU_NEG_EXP_EXP) and
 * rwkvcu_attn_decode_v5(y, r, k, v, w, u, g, ln_w, ln_b, state, off, heads,
 * eps). A decode step only. r, k, v, g, w, y [N, C]; decay_lo [N, D];
 * decay_w2 [C, D] of any weight type; decay, u, ln_w, ln_b [1, C]; y and w
 * distinct, neither aliasing an input. */
RWKVCU_API int rwkvcu_attn_decode_v6(rwkvcu_context *ctx, rwkvcu_tensor *y, rwkvcu_tensor *w,
                                     const rwkvcu_tensor *r, const rwkvcu_tensor *k, const rwkvcu_tensor *v,
                                     const rwkvcu_tensor *decay_lo, const rwkvcu_tensor *decay_w2,
                                     const rwkvcu_tensor *decay, const rwkvcu_tensor *u, const rwkvcu_tensor *g,
                                     const rwkvcu_tensor *ln_w, const rwkvcu_tensor *ln_b, rwkvcu_tensor *state,
                                     int64_t off, int32_t heads, float eps);

/* The opening of a sublayer (backend.FusedNorm): the result of
 * rwkvcu_zip(x, x, residual, RWKVCU_ADD) (residual NULL: none; with a gate,
 * rwkvcu_zip(xx, residual, gate, RWKVCU_MUL) and rwkvcu_zip(x, x, xx,
 * RWKVCU_ADD) instead; gate NULL: none, non-NULL only with a residual),
 * rwkvcu_layer_norm(xx, x, ln_w, ln_b, eps), rwkvcu_shift(prev, xx, state,
 * off) and rwkvcu_mix_n(outs, xx, prev, mixes, count, style), with every
 * side effect (x updated in place, xx, prev and the state rows of the
 * step's slots written). x, residual, gate, xx, prev and outs[j] [N, C]; ln_w and
 * ln_b [1, C]; mixes[j] [1|N, C]; 1 <= count <= RWKVCU_MIX_N_MAX. On a
 * decode step (every sequence of the step has one row) one launch with the
 * composition's arithmetic; on another step the composition's kernels. xx,
 * prev, x and the outputs must be distinct and none may alias an input. */
RWKVCU_API int rwkvcu_add_norm_shift_mix(rwkvcu_context *ctx, rwkvcu_tensor *const *outs, rwkvcu_tensor *xx,
                                         rwkvcu_tensor *prev, rwkvcu_tensor *x, const rwkvcu_tensor *residual,
                                         const rwkvcu_tensor *gate, const rwkvcu_tensor *ln_w, const rwkvcu_tensor *ln_b,
                                         rwkvcu_tensor *state, int64_t off, const rwkvcu_tensor *const *mixes,
                                         int32_t count, int32_t style, float eps);

/* RWKV-6's time-mix opening with the LoRA-downs of its data-dependent token
 * shift (backend.FusedNormLoRA): the result of rwkvcu_add_norm_shift_mix
 * with the arguments up to eps, then for j < lora_count rwkvcu_matmul(lo[j],
 * outs[0], w1[j]) and rwkvcu_map(lo[j], lo[j], RWKVCU_TANH). w1[j] [D_j, C]
 * of any weight type; lo[j] [N, D_j], distinct, none aliasing another
 * operand; 1 <= lora_count <= RWKVCU_GROUP_MAX. On a decode step whose w1
 * share one weight type one launch (the LoRA-downs' sums in another order
 * than rwkvcu_matmul's); otherwise the launches of the composition. */
RWKVCU_API int rwkvcu_add_norm_shift_mix_lora(rwkvcu_context *ctx, rwkvcu_tensor *const *outs, rwkvcu_tensor *xx,
                                              rwkvcu_tensor *prev, rwkvcu_tensor *x, const rwkvcu_tensor *residual,
                                              const rwkvcu_tensor *gate, const rwkvcu_tensor *ln_w,
                                              const rwkvcu_tensor *ln_b, rwkvcu_tensor *state, int64_t off,
                                              const rwkvcu_tensor *const *mixes, int32_t count, int32_t style,
                                              float eps, rwkvcu_tensor *const *lo, const rwkvcu_tensor *const *w1,
                                              int32_t lora_count);

/* ---- Fused sampling ------------------------------------------------------
 * One pass per row of a logits tensor [B, V]: logit bias, repetition and
 * presence/frequency penalties (from per-row penalty state kept on the
 * device), temperature, softmax, top-k, top-p, min-p, and a draw with
 * Philox4x32-10 keyed exactly like rwkvgo's sampler package; writes the token
 * id (and its probability). The semantics are those of rwkvgo's sampler,
 * with one restriction: the penalty window is the whole history (counts
 * decayed by penalty_decay at every recorded token); a finite window is not
 * supported on the device. */

typedef struct rwkvcu_sampler rwkvcu_sampler; /* per-row settings and penalty state for B rows */

/* Creates a sampler for `rows` rows over a vocabulary of `vocab` ids. */
RWKVCU_API int rwkvcu_sampler_create(rwkvcu_context *ctx, int32_t rows, int32_t vocab, rwkvcu_sampler **out);
RWKVCU_API void rwkvcu_sampler_destroy(rwkvcu_sampler *s);

/* Sets row `row`'s settings: temperature (0: greedy), top_k (0: off), top_p
 * (1: off), min_p (0: off), repetition penalty (1: off), presence and
 * frequency penalties, penalty decay (1: none), seed and sequence id of the
 * random stream; and resets its penalty state. */
RWKVCU_API int rwkvcu_sampler_set_row(rwkvcu_sampler *s, int32_t row, float temperature, int32_t top_k,
                                      float top_p, float min_p, float repetition_penalty,
                                      float presence_penalty, float frequency_penalty, float penalty_decay,
                                      uint64_t seed, uint64_t seq);

/* Sets row `row`'s logit bias: n pairs (ids[i], values[i]); -INFINITY bans. */
RWKVCU_API int rwkvcu_sampler_set_bias(rwkvcu_sampler *s, int32_t row, const int32_t *ids,
                                       const float *values, int32_t n);

/* Records already-seen tokens (a prompt) in row `row`'s penalty state. */
RWKVCU_API int rwkvcu_sampler_observe(rwkvcu_sampler *s, int32_t row, const int32_t *tokens, int32_t n);

/* Samples rows [0, logits.rows) at step `step` (the Philox counter), records
 * the drawn tokens in the penalty state, and writes them (and, if probs is
 * not NULL, their probabilities) to host arrays of logits.rows entries. */
RWKVCU_API int rwkvcu_sample(rwkvcu_sampler *s, const rwkvcu_tensor *logits, uint64_t step,
                             int32_t *tokens, float *probs);

/* ---- Device-resident decode loop -----------------------------------------
 * A decoder keeps a decode loop on the device for up to `rows` sequences
 * (decoder rows = rows of its sampler): the next input token of each row is
 * in a device buffer, read by rwkvcu_decoder_embed and written by
 * rwkvcu_decoder_sample, which also checks each row's stop ids and token
 * budget on the device and writes one 16-byte entry per row (token, flags,
 * log-probability, launch) into a ring of `depth` entries in mapped pinned
 * host memory; a row that asks for them also gets its most likely tokens
 * with their log-probabilities (at most RWKVCU_DECODE_MAX_TOP) in a second
 * mapped ring of the same depth. Logits never leave the device, and no step synchronizes:
 * the host commits each launch (an event per ring entry) and reads an entry
 * once its event has completed, after queueing the next launch.
 *
 * A launch is either a decode step
 *
 *   rwkvcu_decoder_begin_step(d, n)     the step's batch: decoder rows [0, n)
 *   rwkvcu_decoder_embed(d, x, emb)     x[i] = emb[id of row i]
 *   ... the layers and the head, any operations (the batch above) ...
 *   rwkvcu_decoder_sample(d, logits)    logits [n, V] -> next ids, entries
 *   rwkvcu_decoder_commit(d, &launch)
 *
 * (capturable as one graph, replayed as is: only the commit stays outside),
 * or an admission draw, rwkvcu_decoder_admit then rwkvcu_decoder_commit,
 * which draws first tokens from a prefill's logits. A row whose state slot
 * is -1, or that finished (a stop id, its last token, or no candidate), is
 * idle: its batch slot reads -1, so the step's operations leave its state
 * untouched (its activations are computed and ignored), and it draws
 * nothing. Launches are numbered from 0 in commit order; at most `depth`
 * may be committed and unread at any time. */

typedef struct rwkvcu_decoder rwkvcu_decoder; /* a decode loop over a sampler's rows */

/* The most stop ids of a decoder row. */
#define RWKVCU_DECODE_MAX_STOP 16

/* The most alternatives (top log-probabilities) of a decoder row. */
#define RWKVCU_DECODE_MAX_TOP 20

/* Flags of a decoder entry (rwkvcu_decoder_read). */
#define RWKVCU_DECODE_DONE 1     /* the row finished with this draw (idle from the next launch) */
#define RWKVCU_DECODE_STOP 2     /* the token is one of the row's stop ids (with DONE) */
#define RWKVCU_DECODE_NO_TOKEN 4 /* every token was filtered out: token -1 (with DONE) */
#define RWKVCU_DECODE_IDLE 8     /* the row drew nothing in this launch */

/* Creates a decoder over sampler s (its rows are the decoder's rows; at most
 * 4096) with a ring of depth >= 2 entries. Every row starts idle. Mapped
 * pinned memory for the ring and the device buffers are allocated here, once. */
RWKVCU_API int rwkvcu_decoder_create(rwkvcu_context *ctx, rwkvcu_sampler *s, int32_t depth, rwkvcu_decoder **out);

/* Destroys a decoder (waits for its launches); its sampler is not destroyed. */
RWKVCU_API void rwkvcu_decoder_destroy(rwkvcu_decoder *d);

/* Sets row `row`: state slot (-1: idle; the other arguments are then
 * ignored), the token its next step feeds (0 <= token < vocab; an admission
 * draw feeds nothing), the Philox step of its next draw, the tokens it may
 * draw (remaining >= 1), whether to compute log-probabilities, how many
 * most likely alternatives to list with them (0 <= top <=
 * RWKVCU_DECODE_MAX_TOP; 0 without logprobs), and its stop ids (nstop <=
 * RWKVCU_DECODE_MAX_STOP). Configure the row's sampler
 * settings (rwkvcu_sampler_set_row, _set_bias, _observe) first: this call
 * also sends them to the device. Queued on the stream (a few bytes through
 * the staging ring), after the launches queued before it. */
RWKVCU_API int rwkvcu_decoder_set_row(rwkvcu_decoder *d, int32_t row, int32_t slot, int32_t token, uint64_t step,
                                      int32_t remaining, int32_t logprobs, int32_t top, const int32_t *stop,
                                      int32_t nstop);

/* Begins a decode step over decoder rows [0, n) (n a power of two below the
 * decoder's rows, or its rows): as rwkvcu_begin_step with one row per
 * sequence and the rows' state slots, kept in device memory (an idle row's
 * slot reads -1 there: the kernels skip its state). Launches one small
 * kernel (the launch counter). */
RWKVCU_API int rwkvcu_decoder_begin_step(rwkvcu_context *ctx, rwkvcu_decoder *d, int32_t n);

/* out[i] = emb[id of decoder row i] for i < out.rows (emb [V, C] of any type,
 * out [n, C] F32). */
RWKVCU_API int rwkvcu_decoder_embed(rwkvcu_context *ctx, rwkvcu_decoder *d, rwkvcu_tensor *out,
                                    const rwkvcu_tensor *emb);

/* Draws decoder row i from logits row i for i < logits.rows (F32 [n, V],
 * V the sampler's vocabulary), each at its own step, with the semantics of
 * rwkvcu_sample; writes each active row's token into the row's next input,
 * checks its stop ids and budget, and writes the entries of the launch. */
RWKVCU_API int rwkvcu_decoder_sample(rwkvcu_context *ctx, rwkvcu_decoder *d, const rwkvcu_tensor *logits);

/* An admission draw (a launch of its own; not while capturing): draws
 * decoder row rows[i] from logits row i for each i < n with rows[i] >= 0
 * (n = logits.rows; the rows distinct), as rwkvcu_decoder_sample. */
RWKVCU_API int rwkvcu_decoder_admit(rwkvcu_context *ctx, rwkvcu_decoder *d, const rwkvcu_tensor *logits,
                                    const int32_t *rows, int32_t n);

/* Ends the launch queued last (a decode step or an admission draw; its
 * replayed graph): records its event and writes its number to *launch.
 * Fails when the launch overwrote an entry of the ring that was not read. */
RWKVCU_API int rwkvcu_decoder_commit(rwkvcu_decoder *d, uint64_t *launch);

/* Reads launch `launch` (committed and not older than the last `depth`
 * launches): once its event has completed (with wait, after a wait counted
 * as a host synchronization if it had not; without, *ready = 0 and nothing
 * else when it has not), writes the entries of decoder rows [0, n) to
 * tokens, flags and logprobs (any may be NULL) and sets *ready = 1. A row
 * that drew nothing in that launch reads token -1 and RWKVCU_DECODE_IDLE.
 * No device work: the entries are in host memory. */
RWKVCU_API int rwkvcu_decoder_read(rwkvcu_decoder *d, uint64_t launch, int32_t wait, int32_t *ready,
                                   int32_t *tokens, uint32_t *flags, float *logprobs, int32_t n);

/* Reads the alternatives decoder row `row` drew with its token in launch
 * `launch`, once rwkvcu_decoder_read has returned that launch and before
 * `depth` later launches are committed: its n (<= RWKVCU_DECODE_MAX_TOP,
 * at most the row's top) most likely tokens under the model (the raw
 * logits; highest first, the lower id on ties; token -1 past the last
 * finite logit) and their log-probabilities (log-softmax of the raw logits,
 * as the entry's). Meaningful only for a row with top >= n that drew a
 * token in that launch. No device work: the ring is in host memory (its
 * bytes read count as bytes to the host). */
RWKVCU_API int rwkvcu_decoder_read_top(rwkvcu_decoder *d, uint64_t launch, int32_t row, int32_t *tokens,
                                       float *logprobs, int32_t n);

/* ---- CUDA graphs ---------------------------------------------------------
 * Capture a decode step once and replay it at the cost of one launch.
 * During a capture, every host array an operation takes (token ids, row
 * indices, batch offsets and slots) is copied into a pinned staging arena
 * owned by the graph, and the graph's copy node reads it from there at every
 * replay. Each staged array (the step's batch of rwkvcu_begin_step, each
 * operation's token ids or row indices) becomes a graph *input*, numbered in
 * staging order; rwkvcu_graph_set_input replaces an input's contents (same size)
 * before the next replay, so one graph serves every step with the same
 * shapes. Replayed inputs must obey the rules the operation checked at
 * capture (ids below the vocabulary, slots in range, same row counts): the
 * kernels skip out-of-range slots and rows and read out-of-range ids as zero
 * rows, so a bad input gives wrong numbers, never a wild write.
 * While capturing, only operations may be queued on the context: creating,
 * uploading, reading or writing tensors, sampling and synchronizing fail
 * with RWKVCU_ERR_INVALID_ARGUMENT (the capture stays usable). */

/* Starts capturing the operations queued on ctx; staging_bytes is the size
 * of the graph's staging arena for host arrays (0: 64 KiB). Ends the
 * current step (begin the captured step inside the capture). */
RWKVCU_API int rwkvcu_graph_begin(rwkvcu_context *ctx, size_t staging_bytes);

/* Ends the capture and instantiates the graph (and ends the current step:
 * see rwkvcu_begin_step). After a failed operation
 * during the capture, the capture is ended, discarded, and the error
 * returned. */
RWKVCU_API int rwkvcu_graph_end(rwkvcu_context *ctx, rwkvcu_graph **out);

/* The number of inputs of g. */
RWKVCU_API int rwkvcu_graph_input_count(const rwkvcu_graph *g, int32_t *count);

/* The size in bytes of input `index` of g. */
RWKVCU_API int rwkvcu_graph_input_size(const rwkvcu_graph *g, int32_t index, size_t *bytes);

/* Replaces the contents of input `index` (bytes must equal its size; the
 * layout is that of the host array the capturing operation took: int32
 * values; a batch is offsets[nseq+1] followed by slots[nseq]). Waits until
 * the previous replay of g has read its inputs. */
RWKVCU_API int rwkvcu_graph_set_input(rwkvcu_context *ctx, rwkvcu_graph *g, int32_t index, const void *data,
                                      size_t bytes);

/* Replays a graph on ctx's stream (asynchronously). */
RWKVCU_API int rwkvcu_graph_launch(rwkvcu_context *ctx, rwkvcu_graph *g);

/* Frees a graph (waits for its replays). */
RWKVCU_API void rwkvcu_graph_destroy(rwkvcu_graph *g);

#ifdef __cplusplus
}
#endif

#endif /* RWKVCU_H */
