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
#define NORM_VERSION_MINOR 1
#define NORM_VERSION_PATCH 0

typedef enum norm_status {
    NORM_OK = 0,
    NORM_ERR_NULL_POINTER,     /* a required pointer is NULL */
    NORM_ERR_BAD_SIZE,         /* n == 0 */
    NORM_ERR_BAD_STRIDE,       /* a row stride is smaller than n */
    NORM_ERR_SIZE_OVERFLOW,    /* rows * stride does not fit in memory */
    NORM_ERR_BAD_EPS,          /* eps is negative, NaN or infinite */
    NORM_ERR_OVERLAP,          /* y overlaps x (other than exactly in place), gamma, beta or a stats output */
    NORM_ERR_UNSUPPORTED_TYPE, /* element type not (yet) implemented */
    NORM_ERR_BAD_ARGUMENT,     /* unknown flag, kind, ISA or params struct size */
    NORM_ERR_ISA_UNAVAILABLE   /* the requested ISA is not compiled in or not supported by this CPU */
} norm_status;

/* The kernel tiers, in increasing order of preference on their architecture. */
typedef enum norm_isa {
    NORM_ISA_SCALAR = 0,
    NORM_ISA_SSE2,
    NORM_ISA_AVX2,    /* AVX2 + FMA */
    NORM_ISA_AVX512,  /* AVX-512 F */
    NORM_ISA_NEON,    /* AArch64 Advanced SIMD */
    NORM_ISA_COUNT
} norm_isa;

typedef enum norm_kind {
    NORM_RMSNORM = 0,
    NORM_LAYERNORM = 1
} norm_kind;

/* Element types. Half-precision values are passed as 16-bit storage (uint16_t). */
typedef enum norm_dtype {
    NORM_F32 = 0,
    NORM_F16 = 1,  /* IEEE binary16: not implemented yet, answers NORM_ERR_UNSUPPORTED_TYPE */
    NORM_BF16 = 2  /* bfloat16: not implemented yet, answers NORM_ERR_UNSUPPORTED_TYPE */
} norm_dtype;

/* Flags for norm_params.flags. */
enum {
    /* RMSNorm only: y = x / (sqrt(mean(x^2)) + eps), the formula of the project's origin
     * document, instead of the default eps inside the root. */
    NORM_EPS_OUTSIDE_SQRT = 1u << 0
};

/*
 * The general entry point's arguments. Always start from norm_params_default(): it
 * records the size of the struct your code was compiled with, so that later versions of
 * the library can append fields without breaking binaries built against this header.
 */
typedef struct norm_params {
    size_t struct_size;      /* set by norm_params_default() */
    norm_kind kind;
    unsigned flags;          /* NORM_EPS_OUTSIDE_SQRT */
    size_t rows;             /* 0 is valid: nothing is done */
    size_t n;                /* elements per row, >= 1 */
    float eps;               /* >= 0 and finite */

    void *y;                 /* output rows */
    size_t y_stride;         /* distance between rows of y, in elements, >= n */
    norm_dtype y_type;

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
} norm_params;

/* Defaults: RMSNorm of kind, f32 everywhere, no flags, eps 1e-6 (RMSNorm) or 1e-5 (LayerNorm),
 * everything else zero/NULL. Strides of 0 mean "n" (dense rows). */
static inline norm_params norm_params_default(norm_kind kind)
{
    norm_params p = { 0 };
    p.struct_size = sizeof p;
    p.kind = kind;
    p.eps = kind == NORM_LAYERNORM ? 1e-5f : 1e-6f;
    return p;
}

/* General entry point. */
NORM_API norm_status norm_run(const norm_params *params);

/* Dense f32 rows [rows, n]; gamma and beta may be NULL. */
NORM_API norm_status norm_rmsnorm_f32(float *y, const float *x, const float *gamma, const float *beta,
                                      size_t rows, size_t n, float eps);
NORM_API norm_status norm_layernorm_f32(float *y, const float *x, const float *gamma, const float *beta,
                                        size_t rows, size_t n, float eps);

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
