/* sample.h: a small header in the style of rwkvcu.h for abigen's tests. */
#ifndef SAMPLE_H
#define SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#define RWKVCU_API __attribute__((visibility("default")))

#define RWKVCU_ABI_VERSION 3

#define RWKVCU_OK 0
#define RWKVCU_ERR_INVALID_ARGUMENT (-1) /* bad argument */
#define RWKVCU_ERR_NOT_SUPPORTED (-2)    /* a comment that goes on
                                            over two lines */

#define RWKVCU_F32 0
#define RWKVCU_F16 1
#define RWKVCU_I8 2

#define RWKVCU_SQUARE 0
#define RWKVCU_RELU_SQUARE 1

typedef struct rwkvcu_context rwkvcu_context; /* a context */
typedef struct rwkvcu_tensor rwkvcu_tensor;

/* Library. */
RWKVCU_API uint32_t rwkvcu_abi_version(void);
RWKVCU_API const char *rwkvcu_last_error(const rwkvcu_context *ctx);
RWKVCU_API int rwkvcu_context_create(int32_t device, rwkvcu_context **out);
RWKVCU_API void rwkvcu_context_destroy(rwkvcu_context *ctx);
RWKVCU_API int rwkvcu_device_info(rwkvcu_context *ctx, char *name, size_t name_len,
                                  double *peak_bytes_per_s);
RWKVCU_API int rwkvcu_tensor_new(rwkvcu_context *ctx, int32_t dtype, int64_t rows, int64_t cols,
                                 rwkvcu_tensor **out);
RWKVCU_API int rwkvcu_tensor_upload(rwkvcu_context *ctx, rwkvcu_tensor *t, const void *data, size_t bytes);

/* Operations. */
RWKVCU_API int rwkvcu_map(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *x, int32_t fn);
RWKVCU_API int rwkvcu_scale_add(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *x, float alpha,
                                int64_t col);
RWKVCU_API int rwkvcu_gather_rows(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *x,
                                  const int32_t *rows, int64_t n);
RWKVCU_API int rwkvcu_embed(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *emb,
                            const int32_t *tokens, int32_t n);
RWKVCU_API int rwkvcu_mix_n(rwkvcu_context *ctx, rwkvcu_tensor *const *outs, const rwkvcu_tensor *x,
                            const rwkvcu_tensor *const *mixes, int32_t count);
RWKVCU_API int rwkvcu_begin_step(rwkvcu_context *ctx, const int32_t *offsets, const int32_t *slots,
                                 int32_t nseq);
// The older form: the batch as arguments of each operation.
RWKVCU_API int rwkvcu_shift(rwkvcu_context *ctx, rwkvcu_tensor *prev, const rwkvcu_tensor *x, int64_t off,
                            const int32_t *offsets, const int32_t *slots, int32_t nseq);
RWKVCU_API int rwkvcu_vendor_matmul(rwkvcu_context *ctx, rwkvcu_tensor *out, const rwkvcu_tensor *x,
                                    const rwkvcu_tensor *w);

#endif
