/* SPDX-License-Identifier: MIT */
/*
 * libnorm: RMSNorm and LayerNorm for CPUs, dispatched at run time to the best
 * kernel the processor supports (scalar, SSE2, AVX2, AVX-512, NEON).
 *
 *   RMSNorm    y = x / sqrt(mean(x^2) + eps) * gamma + beta
 *   LayerNorm  y = (x - mean) / sqrt(var + eps) * gamma + beta   (biased variance)
 *
 * Every function is thread-safe, never prints (unless the environment variable NORM_VERBOSE
 * asks for a line per call on stderr), never aborts, and writes nothing when it returns an
 * error. A call runs on the calling thread unless it asks for more (norm_params.threads,
 * norm_params.parallel_for, norm_set_default_threads). See README.md for the accuracy
 * contract, NORM_ISA and NORM_VERBOSE.
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
#define NORM_VERSION_MINOR 3
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

/* A task of a call split for threads, and the caller's pool that runs such tasks (see
 * norm_params.parallel_for). */
typedef void norm_task_fn(void *arg, size_t index);
typedef void norm_parallel_for_fn(void *context, norm_task_fn *task, void *arg, size_t count);

/* norm_params.threads: every thread of libnorm's pool; and the most threads one may ask for. */
#define NORM_THREADS_AUTO ((size_t)-1)
#define NORM_THREADS_MAX ((size_t)1024)

/*
 * The general entry point's arguments. Always start from norm_params_default(): it
 * records the size of the struct your code was compiled with, so that later versions of
 * the library can append fields without breaking binaries built against this header.
 * The library accepts the struct_size of every released header (0.1.0: 128 bytes on LP64,
 * through rstd; 0.1.1: through bias; 0.2.0: through moments; this one), and a larger one from a newer header (a
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
     * z / (1 + exp(-z)), with silu(-Inf) = -0 (its limit) and silu(+Inf) = +Inf: a gate of
     * -Inf zeroes its element. RMSNorm only, and not with the residual add. */
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
     * slice written by this call (one scale per row and slice). y is formed from the f32
     * values x (times silu(gate)), x - mean and (x - mean) * rstd: moments of the row itself
     * keep |(x - mean) * rstd| <= sqrt(count), and moments that do not describe the row may
     * make them overflow to +-Inf, on every tier alike (even where gamma would bring y back). */
    const norm_moments *moments;

    /* ---- 0.3.0: threads and two-level rows (zero in a struct from an older header) ---- */

    /* How many threads may work on this call (norm_run and norm_moments_run):
     *   0                  the process default, norm_default_threads(): 1 unless the program
     *                      opted in with norm_set_default_threads(); what binaries built
     *                      against 0.1.x and 0.2.x headers, and the dense entry points, get;
     *   1                  the calling thread only;
     *   2..NORM_THREADS_MAX at most that many threads of libnorm's pool (the calling thread
     *                      is one of them; never more than the pool has, norm_auto_threads());
     *   NORM_THREADS_AUTO  every thread of the pool: one per CPU this process may run on.
     * Any other value is NORM_ERR_BAD_ARGUMENT. The output does not depend on it: every bit is
     * the same for any thread count, pool and task order (README, "Threads"). Calls too small
     * to gain from threads (see NORM_PARALLEL_MIN_BYTES in the README) stay on the calling
     * thread, and so does a call that finds the pool busy with another caller's call. */
    size_t threads;
    /* The caller's own pool, used instead of libnorm's when not NULL (threads is then only
     * validated): libnorm calls parallel_for(parallel_context, task, arg, count) with
     * independent tasks, and parallel_for must call task(arg, i) exactly once for each i in
     * [0, count), on any threads, in any order, and return when all have returned. */
    norm_parallel_for_fn *parallel_for;
    void *parallel_context;

    /* Two-level rows: outer blocks of `rows` rows each, block o of a buffer starting
     * o * <buffer>_outer_stride elements after block 0 (e.g. per-head QK-norm on a
     * [tokens, heads, head_dim] view into a fused QKV buffer: outer = tokens, rows = heads,
     * x_stride = head_dim, x_outer_stride = the QKV row width). 0 means one block. An outer
     * stride of 0 means the blocks are dense: rows * that buffer's row stride; otherwise it
     * must be at least (rows - 1) * row stride + n, so that blocks do not interleave
     * (NORM_ERR_BAD_STRIDE). The per-row outputs and inputs (mean, rstd, y_scales, moments,
     * norm_moments_run's out) then hold outer * rows entries, row r of block o at o * rows + r. */
    size_t outer;
    size_t x_outer_stride;
    size_t y_outer_stride;
    size_t residual_outer_stride;
    size_t residual_out_outer_stride;
    size_t gate_outer_stride;
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
    p.threads = 0;
    p.parallel_for = NULL;
    p.parallel_context = NULL;
    p.outer = 0;
    p.x_outer_stride = 0;
    p.y_outer_stride = 0;
    p.residual_outer_stride = 0;
    p.residual_out_outer_stride = 0;
    p.gate_outer_stride = 0;
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

/* Dense f32 rows [rows, n]; gamma and beta may be NULL. The dense calls run on the process
 * default's threads (norm_default_threads(): 1, the calling thread, unless the program called
 * norm_set_default_threads()). */
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

/* Threads. The process default (what norm_params.threads = 0 and the dense entry points use)
 * is 1, the calling thread only, so that a program built before threads existed, or one that
 * already splits its rows over its own threads, keeps doing exactly what it did.
 * norm_set_default_threads() changes it for the whole process (1..NORM_THREADS_MAX or
 * NORM_THREADS_AUTO; anything else, 0 included, is NORM_ERR_BAD_ARGUMENT and changes nothing);
 * calls in flight keep the value they began with. norm_auto_threads() is the size of libnorm's
 * pool, what NORM_THREADS_AUTO gives: the CPUs in this process's affinity mask when it was
 * first asked (at most NORM_THREADS_MAX). The pool is created on the first call that uses it,
 * and destroyed at exit (or when libnorm is unloaded). */
NORM_API norm_status norm_set_default_threads(size_t threads);
NORM_API size_t norm_default_threads(void);
NORM_API size_t norm_auto_threads(void);

/* Tier selection. The tier is chosen once from the CPU (cpu_features) and the environment
 * variable NORM_ISA=scalar|sse2|avx2|avx512|neon (any case), which can only lower it: a tier
 * this build or CPU cannot run still caps (the best tier below it runs), and a value that
 * names no tier of this architecture is ignored; both are told by norm_env_warning() and,
 * with NORM_VERBOSE, on stderr. The environment is read once, on the first call.
 * norm_set_max_isa() lowers it further for this process (or raises it back up to what the
 * CPU and NORM_ISA allow): it fails with NORM_ERR_ISA_UNAVAILABLE, changing nothing, if
 * the tier cannot run here. Calls in flight on other threads finish on the tier they began with. */
NORM_API norm_status norm_set_max_isa(norm_isa isa);
NORM_API norm_isa norm_active_isa(void);
NORM_API const char *norm_active_isa_name(void);      /* "scalar" "sse2" "avx2" "avx512" "neon" */
/* Compiled in, supported by this CPU, and not above the cap NORM_ISA sets: whether
 * norm_set_max_isa(isa) would succeed. */
NORM_API int norm_isa_available(norm_isa isa);
NORM_API const char *norm_isa_name(norm_isa isa);       /* NULL for an unknown value */

NORM_API const char *norm_status_string(norm_status status);
NORM_API const char *norm_version_string(void);

/* What runs: the active tier's name, or, where the CPU also runs a variant of that tier, the
 * variant's ("avx512bf16": AVX-512 with AVX512-BF16's conversions and dot products). Variants
 * of one tier that run together are joined by '+'. norm_active_isa_name() names the tier only. */
NORM_API const char *norm_active_variant_name(void);

/* NULL when the environment was taken as given (or NORM_ISA is unset); otherwise one sentence
 * on what NORM_ISA asked that could not be done, e.g. "NORM_ISA=avx3 is not a tier (scalar,
 * sse2, avx2, avx512): ignored". Valid for the life of the process. */
NORM_API const char *norm_env_warning(void);

/* The detail behind the last error status returned on this thread: what was found, by the
 * field's name and with its values, e.g. "y (rows 4, stride 100, n 128) overlaps gamma (length
 * 128), which starts 64 bytes after it" or "x_stride 100 is smaller than n 128". Calls that
 * succeed leave it as it was, so read it right after a call that failed. "" before this
 * thread's first error; never NULL. The string belongs to the thread and stays valid until
 * its next failing call. (Set by norm_run, norm_moments_run, norm_moments_combine, the dense
 * calls and norm_set_max_isa.) */
NORM_API const char *norm_last_error_detail(void);

#ifdef __cplusplus
}
#endif

#endif /* NORM_H */
