/*
 * The contract between the public API (src/) and the kernels (kernels/).
 *
 * The API validates everything, then hands a kernel one norm_job describing all rows.
 * A kernel never fails and never looks outside [x, x + (rows-1)*x_stride + n) and the
 * same range of y. Each ISA provides one kernel per operation and type; the dispatcher
 * builds one table per ISA by starting from the scalar table and overlaying what the
 * ISA implements (dav1d's ladder).
 */
#ifndef NORM_KERNELS_H
#define NORM_KERNELS_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>

#include "norm.h"

#if defined(__GNUC__)
#  define NORM_INTERNAL __attribute__((visibility("hidden")))
#else
#  define NORM_INTERNAL
#endif

typedef struct norm_job {
    void *y;
    const void *x;
    size_t y_stride, x_stride;  /* in elements */
    size_t rows, n;
    const void *gamma, *beta;   /* NULL means 1 and 0 */
    norm_dtype x_type, y_type, param_type;
    float eps;
    bool eps_outside_sqrt;      /* x / (sqrt(ms) + eps) */
    bool nontemporal;           /* y is far larger than the caches: stream it out */
    float *mean, *rstd;         /* per-row outputs or NULL */
    bool unit_offset;           /* scale by 1 + gamma */
    /* Fused residual add: h = x + residual (+ bias), rounded to x's type, is written to
     * residual_out and normalised in place of x. NULL residual: none. */
    const void *residual;
    void *residual_out;
    size_t residual_stride, residual_out_stride;
    const void *bias;
} norm_job;

/* One prototype per operation: every ISA's kernel has this shape. */
#define NORM_KERNEL(name) void name(const norm_job *job)
typedef NORM_KERNEL(norm_kernel_fn);

#define NORM_NTYPES 3 /* NORM_F32, NORM_F16, NORM_BF16 */

/* One kernel per operation and [x type][y type][gamma/beta type]. The scalar table fills
 * every combination the API accepts; an ISA overlays the ones it implements. */
typedef struct norm_kernels {
    norm_kernel_fn *rmsnorm[NORM_NTYPES][NORM_NTYPES][NORM_NTYPES];
    norm_kernel_fn *layernorm[NORM_NTYPES][NORM_NTYPES][NORM_NTYPES];
} norm_kernels;

/* Each ISA's overlay; avx512bf16 is AVX-512 storing bf16 with vcvtneps2bf16. */
NORM_INTERNAL void norm_init_kernels_scalar(norm_kernels *k);
NORM_INTERNAL void norm_init_kernels_sse2(norm_kernels *k);
NORM_INTERNAL void norm_init_kernels_avx2(norm_kernels *k);
NORM_INTERNAL void norm_init_kernels_avx512(norm_kernels *k);
NORM_INTERNAL void norm_init_kernels_avx512bf16(norm_kernels *k);
NORM_INTERNAL void norm_init_kernels_neon(norm_kernels *k);

/*
 * The scalar oracle, one row at a time, all arithmetic in double. SIMD kernels call these
 * for the rare rows their f32 fast path cannot handle to full accuracy (sums of squares
 * that overflow or underflow f32, non-finite inputs), so every tier agrees on them.
 */
NORM_INTERNAL void norm_rmsnorm_row_exact(const norm_job *job, size_t row);
NORM_INTERNAL void norm_layernorm_row_exact(const norm_job *job, size_t row);

/* Bytes per element: f32 4, f16 and bf16 2. */
static inline size_t norm_dtype_size(norm_dtype t) { return t == NORM_F32 ? 4 : 2; }

/* The scale applied to a row whose mean square (RMSNorm) or variance (LayerNorm) is ms. */
static inline double norm_rstd(double ms, double eps, bool eps_outside_sqrt)
{
    return eps_outside_sqrt ? 1.0 / (sqrt(ms) + eps) : 1.0 / sqrt(ms + eps);
}

/* Writes the optional per-row statistics. */
static inline void norm_store_stats(const norm_job *job, size_t row, double mean, double rstd)
{
    if (job->mean)
        job->mean[row] = (float)mean;
    if (job->rstd)
        job->rstd[row] = (float)rstd;
}

#endif /* NORM_KERNELS_H */
