/* SPDX-License-Identifier: MIT */
/*
 * libnorm: RMSNorm and LayerNorm for CPUs, dispatched at run time to the best
 * kernel the processor supports (scalar, SSE2, AVX2, AVX-512, NEON).
 *
 *   RMSNorm    y = x / sqrt(mean(x^2) + eps) * gamma + beta
 *   LayerNorm  y = (x - mean) / sqrt(var + eps) * gamma + beta   (biased variance)
 *
 * Every function is thread-safe, never prints, never aborts, and writes nothing
 * when it returns an error. See README.md for the accuracy contract.
 */
#ifndef NORM_H
#define NORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  define NORM_API
#elif defined(__GNUC__)
#  define NORM_API __attribute__((visibility("default")))
#else
#  define NORM_API
#endif

#define NORM_VERSION_MAJOR 0
#define NORM_VERSION_MINOR 2
#define NORM_VERSION_PATCH 0

typedef enum norm_status {
    NORM_OK = 0,
    NORM_ERR_NULL_POINTER,     /* a required pointer is NULL */
    NORM_ERR_BAD_SIZE,         /* n == 0 */
    NORM_ERR_BAD_STRIDE,       /* a row stride is smaller than n */
    NORM_ERR_SIZE_OVERFLOW,    /* rows * stride does not fit in memory */
    NORM_ERR_BAD_EPS,          /* eps is negative, NaN or infinite */
    NORM_ERR_OVERLAP,          /* y overlaps x (other than exactly in place), gamma, beta or a stats output */
    NORM_ERR_UNSUPPORTED_TYPE, /* type combination not implemented (gamma/beta not f32 or x's type) */
    NORM_ERR_BAD_ARGUMENT,     /* unknown flag, kind, ISA or params struct size */
    NORM_ERR_ISA_UNAVAILABLE,  /* the requested ISA is not compiled in or not supported by this CPU */
    NORM_ERR_BAD_SCALE,        /* int8 output: y_scale not finite and > 0 with a finite 1 / y_scale, or both/neither of y_scale and y_scales */
    NORM_ERR_BAD_MOMENTS       /* a norm_moments row whose count is not finite and > 0 (0 for
                                * norm_moments_combine's empty slice), or whose m2 is negative;
                                * a NaN mean or m2, or an m2 of +Inf (what a row holding NaN
                                * or Inf gives), is accepted: that row comes out NaN (+Inf m2:
                                * scaled by rstd 0), the other rows as usual */
} norm_status;

/* The kernel tiers, in increasing order of preference on their architecture. */
typedef enum norm_isa {
    NORM_ISA_SCALAR = 0,
    NORM_ISA_SSE2,
    NORM_ISA_AVX2,    /* AVX2 + FMA + F16C (the f16 conversions) */
    NORM_ISA_AVX512,  /* AVX-512 F */
    NORM_ISA_NEON,    /* AArch64 Advanced SIMD */
    NORM_ISA_COUNT
} norm_isa;

typedef enum norm_kind {
    NORM_RMSNORM = 0,
    NORM_LAYERNORM = 1
} norm_kind;

/* Element types. Half-precision values are passed as their 16-bit patterns (uint16_t).
 * Any x type with any y type; gamma and beta are f32 or the type of x. Arithmetic is f32
 * (sums in f64) whatever the storage; f16/bf16 results are rounded to nearest even. */
typedef enum norm_dtype {
    NORM_F32 = 0,
    NORM_F16 = 1,  /* IEEE binary16 */
    NORM_BF16 = 2, /* bfloat16: the top half of an f32 */
    NORM_I8 = 3    /* int8, for y only: q = clamp(round(y * (1 / s)), -127, 127), see y_scale */
} norm_dtype;

/* Flags for norm_params.flags. */
enum {
    /* eps outside the root: RMSNorm y = x / (sqrt(mean(x^2)) + eps), the formula of the
     * project's origin document, and LayerNorm y = (x - mean) / (sqrt(var) + eps) (as in
     * implementations that add eps to the standard deviation), instead of the default eps
     * inside the root. */
    NORM_EPS_OUTSIDE_SQRT = 1u << 0,
    /* Scale by (1 + gamma) instead of gamma, as Gemma's RMSNorm does. With gamma NULL
     * (gamma = 0, as Gemma initialises it) the scale is 1. */
    NORM_UNIT_OFFSET = 1u << 1,
    /* Gated RMSNorm (norm_params.gate): y = rmsnorm(x * silu(gate)) * gamma + beta, the gate
     * applied before the norm, instead of the default y = (rmsnorm(x) * gamma + beta) * silu(gate). */
    NORM_GATE_BEFORE_NORM = 1u << 2
};

/*
 * A row's statistics as partial moments, so that a row split over several workers can be
 * normalised as one: each worker computes the moments of its slice (norm_moments_run), the
 * slices' moments are combined in any order (norm_moments_combine, Chan et al.'s formula),
 * and each worker normalises its slice with the combined moments (norm_params.moments).
 * RMSNorm's moments are about zero: mean is 0 and m2 the sum of squares.
 */
typedef struct norm_moments {
    double count; /* elements seen; 0 (all fields 0) is the empty slice */
    double mean;  /* their mean (LayerNorm), or 0 (RMSNorm) */
    double m2;    /* sum of squared deviations from mean */
} norm_moments;

/*
 * The general entry point's arguments. Always start from norm_params_default(): it
 * records the size of the struct your code was compiled with, so that later versions of
 * the library can append fields without breaking binaries built against this header.
 * The library accepts the struct_size of every released header (0.1.0: 128 bytes on LP64,
 * through rstd; 0.1.1: through bias; this one), and a larger one from a newer header (a
 * multiple of the struct's alignment, at most 512 bytes) when every field it does not know
 * is zero; any other struct_size is NORM_ERR_BAD_ARGUMENT.
 */
typedef struct norm_params {
    size_t struct_size;      /* set by norm_params_default() */
    norm_kind kind;
    unsigned flags;          /* NORM_EPS_OUTSIDE_SQRT, NORM_UNIT_OFFSET, NORM_GATE_BEFORE_NORM */
    size_t rows;             /* 0 is valid: nothing is done */
    size_t n;                /* elements per row, >= 1 */
    float eps;               /* >= 0 and finite */

    void *y;                 /* output rows */
    size_t y_stride;         /* distance between rows of y, in elements, >= n */
    norm_dtype y_type;       /* NORM_F32 by default */

    const void *x;           /* input rows; x == y (with equal strides and types) is in place */
    size_t x_stride;         /* in elements, >= n */
    norm_dtype x_type;

    const void *gamma;       /* n scales, or NULL for 1 */
    const void *beta;        /* n shifts, or NULL for 0 */
    norm_dtype param_type;   /* type of gamma and beta */

    /* Optional per-row statistics, NULL if not wanted. mean is LayerNorm only.
     * rstd is the factor the row was scaled by: 1/sqrt(ms + eps) (or 1/(sqrt(ms) + eps)
     * with NORM_EPS_OUTSIDE_SQRT), ms being mean(x^2) for RMSNorm and var for LayerNorm. */
    float *mean;
    float *rstd;

    /* Fused residual add, as every transformer block does before its norm:
     *   h = x + residual (+ bias);  residual_out = h;  y = norm(h).
     * h is computed in f32 and rounded to x's type (the residual's type) before it is
     * stored and normalised, so the results match an unfused engine bit for bit.
     * residual has the type and row length of x; residual_out is required with it and
     * may be residual itself (in place) or x (with equal strides); bias has n values of
     * param_type, or NULL. mean and rstd, if asked for, describe h. */
    const void *residual;
    size_t residual_stride;      /* in elements; 0 means n */
    void *residual_out;
    size_t residual_out_stride;  /* in elements; 0 means n */
    const void *bias;

    /* Gated RMSNorm (Mamba-2, Qwen3-Next): rows of x's type and length, or NULL. By default
     * y = (rmsnorm(x) * gamma + beta) * silu(gate); with NORM_GATE_BEFORE_NORM
     * y = rmsnorm(x * silu(gate)) * gamma + beta, x * silu(gate) kept in f32. silu(z) =
     * z / (1 + exp(-z)). RMSNorm only, and not with the residual add. */
    const void *gate;
    size_t gate_stride;          /* in elements; 0 means n */

    /* int8 output (y_type NORM_I8): q = clamp(round(y * (1 / s)), -127, 127), rounded to
     * nearest even, NaN to 0, with 1 / s rounded to f32. Either a static scale s = y_scale
     * (finite, > 0, and 1 / s finite in f32, i.e. s > 2^-128; y_scales NULL), or, with
     * y_scale 0, a dynamic scale per row written to
     * y_scales[row]: s = max|y| / 127 over the row (0 for a row of zeros, whose q is 0). */
    float y_scale;
    float *y_scales;

    /* Normalise with these statistics (one per row, combined by norm_moments_combine)
     * instead of the rows' own: the apply step of a row split across workers, where x is
     * one slice of each row and gamma/beta that slice's parameters. count may differ from n;
     * count 0 is an error. Not with the residual add. A dynamic int8 scale then covers the
     * slice written by this call (one scale per row and slice). */
    const norm_moments *moments;
} norm_params;

/* Defaults: RMSNorm of kind, f32 everywhere, no flags, eps 1e-6 (RMSNorm) or 1e-5 (LayerNorm),
 * everything else zero/NULL. Strides of 0 mean "n" (dense rows). */
static inline norm_params norm_params_default(norm_kind kind)
{
    norm_params p;
    p.struct_size = sizeof p;
    p.kind = kind;
    p.flags = 0;
    p.rows = 0;
    p.n = 0;
    p.eps = kind == NORM_LAYERNORM ? 1e-5f : 1e-6f;
    p.y = NULL;
    p.y_stride = 0;
    p.y_type = NORM_F32;
    p.x = NULL;
    p.x_stride = 0;
    p.x_type = NORM_F32;
    p.gamma = NULL;
    p.beta = NULL;
    p.param_type = NORM_F32;
    p.mean = NULL;
    p.rstd = NULL;
    p.residual = NULL;
    p.residual_stride = 0;
    p.residual_out = NULL;
    p.residual_out_stride = 0;
    p.bias = NULL;
    p.gate = NULL;
    p.gate_stride = 0;
    p.y_scale = 0.0f;
    p.y_scales = NULL;
    p.moments = NULL;
    return p;
}

/* The same defaults, filled in by the library, for callers that cannot use the inline
 * function above: FFI bindings (Python's ctypes or cffi, and other languages that load
 * libnorm.so without compiling this header) should call this. It stores exactly what
 * norm_params_default(kind) returns in this version of the library, struct_size included,
 * so *p must be at least the library's sizeof(norm_params): a binding that mirrors the
 * struct can allocate 512 bytes (the most any version accepts as struct_size), zeroed,
 * and leave the bytes past its own fields zero. C and C++ code should use
 * norm_params_default(), which records the size of the header it was compiled with. A NULL
 * p is ignored. */
NORM_API void norm_params_init(norm_params *p, norm_kind kind);

/* General entry point. */
NORM_API norm_status norm_run(const norm_params *params);

/* Dense f32 rows [rows, n]; gamma and beta may be NULL. */
NORM_API norm_status norm_rmsnorm_f32(float *y, const float *x, const float *gamma, const float *beta,
                                      size_t rows, size_t n, float eps);
NORM_API norm_status norm_layernorm_f32(float *y, const float *x, const float *gamma, const float *beta,
                                        size_t rows, size_t n, float eps);

/* The same for rows, gamma and beta all in f16 or all in bf16 (uint16_t bit patterns). */
NORM_API norm_status norm_rmsnorm_f16(uint16_t *y, const uint16_t *x, const uint16_t *gamma,
                                      const uint16_t *beta, size_t rows, size_t n, float eps);
NORM_API norm_status norm_layernorm_f16(uint16_t *y, const uint16_t *x, const uint16_t *gamma,
                                        const uint16_t *beta, size_t rows, size_t n, float eps);
NORM_API norm_status norm_rmsnorm_bf16(uint16_t *y, const uint16_t *x, const uint16_t *gamma,
                                       const uint16_t *beta, size_t rows, size_t n, float eps);
NORM_API norm_status norm_layernorm_bf16(uint16_t *y, const uint16_t *x, const uint16_t *gamma,
                                         const uint16_t *beta, size_t rows, size_t n, float eps);

/* The moments of each row of a slice: rows, n (the slice's length), x/x_stride/x_type, and
 * optionally the residual add (which then writes residual_out, as norm_run does) or the gate
 * with NORM_GATE_BEFORE_NORM (the moments are then those of x * silu(gate)), read from
 * params; kind picks LayerNorm moments or RMSNorm's (about zero). eps is not used. The
 * apply step's fields (y, gamma, beta, mean, rstd, y_scale(s), moments, and the flags other
 * than NORM_GATE_BEFORE_NORM) must be zero/NULL: a request that sets them is a mistake
 * worth reporting. out receives rows values. */
NORM_API norm_status norm_moments_run(const norm_params *params, norm_moments *out);

/* acc[i] = the moments of acc[i]'s elements and part[i]'s together, for i < rows. Either may
 * be the empty slice (count 0). acc and part must not overlap unless they are equal. */
NORM_API norm_status norm_moments_combine(norm_moments *acc, const norm_moments *part, size_t rows);

/* Tier selection. The tier is chosen once from the CPU (cpu_features) and the environment
 * variable NORM_ISA=scalar|sse2|avx2|avx512|neon, which can only lower it.
 * norm_set_max_isa() lowers it further for this process (or raises it back up to what the
 * CPU and NORM_ISA allow): it fails with NORM_ERR_ISA_UNAVAILABLE, changing nothing, if
 * the tier cannot run here. Calls in flight on other threads finish on the tier they began with. */
NORM_API norm_status norm_set_max_isa(norm_isa isa);
NORM_API norm_isa norm_active_isa(void);
NORM_API const char *norm_active_isa_name(void);      /* "scalar" "sse2" "avx2" "avx512" "neon" */
NORM_API int norm_isa_available(norm_isa isa);          /* compiled in and supported by this CPU */
NORM_API const char *norm_isa_name(norm_isa isa);       /* NULL for an unknown value */

NORM_API const char *norm_status_string(norm_status status);
NORM_API const char *norm_version_string(void);

#ifdef __cplusplus
}
#endif

#endif /* NORM_H */
