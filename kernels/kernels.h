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
#include <stdint.h>

#include "isa_list.h"
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
    /* Gated RMSNorm: silu(gate) multiplies the output, or x before the norm (gate_before). */
    const void *gate;
    size_t gate_stride;
    bool gate_before;
    /* int8 output: q = round(y * y_inv_scale), or, when y_scales is set, a scale per row
     * (max|y| / 127) written there. */
    float y_inv_scale;
    float *y_scales;
    /* Given statistics, one per row, instead of the rows' own (the apply step of a split row). */
    const norm_moments *moments;
    /* The moments kernels' output: the statistics of each row, nothing else is written
     * (except the residual add's h). */
    norm_moments *moments_out;
} norm_job;

/* One prototype per operation: every ISA's kernel has this shape. */
#define NORM_KERNEL(name) void name(const norm_job *job)
typedef NORM_KERNEL(norm_kernel_fn);

/* NORM_ONES_N ones, in f32, f16 and bf16: the gamma of a row that has none (NULL means 1), so
 * that the loops that load gamma serve those rows too. Built with a chunk of ones of its own
 * per row, a short row without gamma took 4-5x the time of a row with one. Longer rows use
 * the f32 ones a chunk at a time (write_row_rare). */
#define NORM_ONES_N 1024
NORM_INTERNAL extern const float norm_ones_f32[NORM_ONES_N];
NORM_INTERNAL extern const uint16_t norm_ones_f16[NORM_ONES_N], norm_ones_bf16[NORM_ONES_N];

/* Gamma of type t for a row of n elements: NULL takes the ones (n <= NORM_ONES_N); NULL if
 * gamma is NULL and the row too long for them. */
static inline const void *norm_gamma_or_ones(const void *gamma, size_t n, norm_dtype t)
{
    if (gamma || n > NORM_ONES_N)
        return gamma;
    return t == NORM_F16 ? (const void *)norm_ones_f16 : t == NORM_BF16 ? (const void *)norm_ones_bf16
                                                                         : (const void *)norm_ones_f32;
}
static inline const float *norm_gamma_f32(const void *gamma, size_t n)
{
    return (const float *)norm_gamma_or_ones(gamma, n, NORM_F32);
}

/* A dense f32 call's rows on the calling thread, with the arguments of norm_rmsnorm_f32 or
 * norm_layernorm_f32: rows n apart, gamma not NULL (norm_gamma_f32's ones for a call without),
 * no statistics, not streaming. */
typedef norm_status norm_dense_fn(float *y, const float *x, const float *gamma, const float *beta, size_t rows,
                           size_t n, float eps);

#define NORM_NTYPES 3   /* NORM_F32, NORM_F16, NORM_BF16: x, gamma/beta */
#define NORM_NYTYPES 4  /* and NORM_I8: y */

/* One kernel per operation and [x type][y type][gamma/beta type]. The scalar table fills
 * every combination the API accepts; an ISA overlays the ones it implements. The gated
 * kernels are RMSNorm with job->gate set; the moments kernels fill job->moments_out,
 * [x type][bias type]. */
typedef struct norm_kernels {
    norm_kernel_fn *rmsnorm[NORM_NTYPES][NORM_NYTYPES][NORM_NTYPES];
    norm_kernel_fn *layernorm[NORM_NTYPES][NORM_NYTYPES][NORM_NTYPES];
    norm_kernel_fn *rmsnorm_gated[NORM_NTYPES][NORM_NYTYPES][NORM_NTYPES];
    norm_kernel_fn *rmsnorm_moments[NORM_NTYPES][NORM_NTYPES];
    norm_kernel_fn *layernorm_moments[NORM_NTYPES][NORM_NTYPES];
    norm_dense_fn *rmsnorm_dense_f32, *layernorm_dense_f32;
} norm_kernels;

/* Each tier's and variant's overlay, norm_init_kernels_<name> for every entry of the ISA list
 * (src/isa_list.h); avx512bf16 is AVX-512 storing bf16 with vcvtneps2bf16. */
#define NORM_DECLARE_INIT(name, ...) NORM_INTERNAL void norm_init_kernels_##name(norm_kernels *k);
NORM_ISA_LIST(NORM_DECLARE_INIT, NORM_DECLARE_INIT)
#undef NORM_DECLARE_INIT

/*
 * The scalar oracle, one row at a time, all arithmetic in double. SIMD kernels call these
 * for the rare rows their f32 fast path cannot handle to full accuracy (sums of squares
 * that overflow or underflow f32, non-finite inputs), so every tier agrees on them.
 */
NORM_INTERNAL void norm_rmsnorm_row_exact(const norm_job *job, size_t row);
NORM_INTERNAL void norm_layernorm_row_exact(const norm_job *job, size_t row);
/* The moments of one row of the job's source (x, the residual add's h, or x * silu(gate)). */
NORM_INTERNAL norm_moments norm_moments_row_exact(const norm_job *job, size_t row, bool layernorm);

/* Bytes per element: f32 4, f16 and bf16 2, int8 1. */
static inline size_t norm_dtype_size(norm_dtype t) { return t == NORM_F32 ? 4 : t == NORM_I8 ? 1 : 2; }

/* The scale applied to a row whose mean square (RMSNorm) or variance (LayerNorm) is ms. */
static inline double norm_rstd(double ms, double eps, bool eps_outside_sqrt)
{
    return eps_outside_sqrt ? 1.0 / (sqrt(ms) + eps) : 1.0 / sqrt(ms + eps);
}

/* The centre and the scale given moments m: LayerNorm's mean (RMSNorm: 0) and rstd. */
static inline void norm_scale_from_moments(const norm_job *job, norm_moments m, bool layernorm,
                                           double *center, double *scale)
{
    /* RMSNorm's mean square is m2 / count + mean^2, which holds for moments about any mean. */
    double var = m.m2 / m.count;
    *center = layernorm ? m.mean : 0.0;
    *scale = norm_rstd(layernorm ? var : var + m.mean * m.mean, job->eps, job->eps_outside_sqrt);
}

/* silu(z) = z / (1 + exp(-z)), in double: the oracle's. silu(-Inf) is -0, its limit (the
 * formula would give NaN); silu(+Inf) = +Inf. */
static inline double norm_silu(double z) { return z == -INFINITY ? -0.0 : z / (1.0 + exp(-z)); }

/* Writes the optional per-row statistics. */
static inline void norm_store_stats(const norm_job *job, size_t row, double mean, double rstd)
{
    if (job->mean)
        job->mean[row] = (float)mean;
    if (job->rstd)
        job->rstd[row] = (float)rstd;
}

#endif /* NORM_KERNELS_H */
