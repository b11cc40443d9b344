/*
 * The kernels of one ISA, for the type combinations its kernel file lists: per (x, y,
 * gamma/beta) triple, one out-of-line output function (output.h) and the three norm kernels;
 * per (x, bias) pair, the two moments kernels; and norm_init_kernels_<isa>, which overlays them
 * on a table. The kernels decide the rest per call or per row.
 */
#ifndef NORM_SIMD_INSTANCES_H
#define NORM_SIMD_INSTANCES_H

#define NORM_KERNEL_NAME(op, x, y, p) NORM_FN(op##_##x##_##y##_##p)

/* The types of one kernel and the output functions it calls. */
typedef struct kernel_types {
    norm_dtype xt, yt, pt;
    out_fns out;
} kernel_types;

/* The row loops, out of line and typed at run time (the job's types): one copy per ISA, as
 * everything they do per element is in out-of-line functions already (sums, output). */
static __attribute__((noinline)) void rmsnorm_rows_any(const norm_job *job, out_fns fns)
{
    rmsnorm_rows(job, false, false, fns, job->x_type, job->y_type, job->param_type);
}

static __attribute__((noinline)) void rmsnorm_gate_before_rows(const norm_job *job, out_fns fns)
{
    rmsnorm_rows(job, true, false, fns, job->x_type, job->y_type, job->param_type);
}

static __attribute__((noinline)) void rmsnorm_gate_after_rows(const norm_job *job, out_fns fns)
{
    rmsnorm_rows(job, false, true, fns, job->x_type, job->y_type, job->param_type);
}

static __attribute__((noinline)) void layernorm_rows_any(const norm_job *job, out_fns fns)
{
    layernorm_rows(job, fns, job->x_type, job->y_type, job->param_type);
}

/* The type combinations engines use most (x, y and parameters alike, or f32 rows to any
 * float type): their row loops are typed at compile time, with the output inlined. Through
 * the shared loops, 4096x128 f16 rows were 15% slower (the call and its setup per row). */
static NORM_ALWAYS_INLINE bool hot_types(norm_dtype xt, norm_dtype yt)
{
    return yt != NORM_I8 && (xt == yt || xt == NORM_F32);
}

static NORM_ALWAYS_INLINE out_fns inlined(out_fns f)
{
    f.inline_typed = true;
    return f;
}

/*
 * The dense entries (norm_dense_fn): the rows of norm_rmsnorm_f32 and norm_layernorm_f32 on the
 * calling thread, n apart, gamma given (the ones for a call without, norm_gamma_f32), no
 * statistics, not streaming, with the call's arguments in registers and no job (one is built
 * only for a row that needs the scalar row). Through a job that the API cleared and filled on its stack and the kernel read back and tested, a
 * 1x288 RMSNorm call took a quarter longer (1x16: 23 -> 16 ns, Zen 5). NORM_DEFINE defines
 * them for every type triple; NORM_REGISTER registers the (f32, f32, f32) ones only, and the
 * compiler drops the others, which nothing calls.
 */
static NORM_ALWAYS_INLINE plain_call dense_call(float *y, const float *x, const float *gamma, const float *beta,
                                                size_t rows, size_t n, float eps)
{
    const plain_call c = { x, y, n, rows, n * sizeof(float), n * sizeof(float), gamma, beta,
                           NULL, NULL, 1.0 / (double)n, eps, false, NULL };
    return c;
}

static NORM_ALWAYS_INLINE void rmsnorm_kernel(const norm_job *job, kernel_types k)
{
    if (!norm_plain(job, true, k.xt, k.yt, k.pt)) {
        if (hot_types(k.xt, k.yt))
            rmsnorm_rows(job, false, false, inlined(k.out), k.xt, k.yt, k.pt);
        else
            rmsnorm_rows_any(job, k.out);
    }
    else if (job->beta)
        rmsnorm_plain_rows(job, true, k.xt, k.yt, k.pt);
    else
        rmsnorm_plain_rows(job, false, k.xt, k.yt, k.pt);
}

/* Plain LayerNorm rows, in functions of their own (NORM_DEFINE), given the call's fields as a
 * plain_call and the job (NULL from the dense entry): the short rows' pipeline, and the long
 * rows and calls of one short row. Inlined into the kernel next to the other row loops, the
 * pipelined rows lost their registers to them. */
typedef void layernorm_plain_fn(const norm_job *job, const plain_call *c);

/* Which of the two takes a plain call. */
static NORM_ALWAYS_INLINE void layernorm_plain_call(const norm_job *job, const plain_call *c,
                                                    layernorm_plain_fn *plain_short, layernorm_plain_fn *plain_long)
{
    if (c->n < NORM_AHEAD_BELOW && c->rows > 1)
        plain_short(job, c);
    else
        plain_long(job, c);
}

/* Short half rows with int8 output and gamma given take layernorm_plain_half_i8. */
static NORM_ALWAYS_INLINE bool half_i8_plain(const norm_job *job, norm_dtype xt)
{
    return xt != NORM_F32 && job->gamma && !job->unit_offset && !job->residual && !job->gate && !job->moments &&
           !job->nontemporal;
}

static NORM_ALWAYS_INLINE void layernorm_kernel(const norm_job *job, kernel_types k, layernorm_plain_fn *plain_short,
                                                layernorm_plain_fn *plain_long)
{
    /* int8 output takes the plain path on pipelined short rows only (a function for its long
     * rows would only add code): through the general rows, 4096x128 f32 -> int8 was slower
     * than the f32 norm followed by a quantize pass (see the commit). */
    const bool i8_short = k.yt == NORM_I8 && job->n < NORM_AHEAD_BELOW && job->rows > 1;
    if (!norm_plain(job, i8_short, k.xt, k.yt, k.pt) && !(i8_short && half_i8_plain(job, k.xt))) {
        if (hot_types(k.xt, k.yt))
            layernorm_rows(job, inlined(k.out), k.xt, k.yt, k.pt);
        else
            layernorm_rows_any(job, k.out);
        return;
    }
    float unit[NORM_ONES_N];
    plain_call c = plain_call_of(job, k.xt, k.yt, unit);
    c.i8_out = k.out.typed;
    if (k.yt == NORM_I8 && k.xt != NORM_F32)
        layernorm_plain_half_i8(job, &c, k.xt, k.pt);
    else if (k.yt == NORM_I8)
        plain_short(job, &c);
    else
        layernorm_plain_call(job, &c, plain_short, plain_long);
}

/* Gated RMSNorm, either order, with gamma or not, beta, the unit offset (output.h's gate
 * variants; the parameters other than gamma through write_row_rare's f32 chunks). */
static NORM_ALWAYS_INLINE void rmsnorm_gated_kernel(const norm_job *job, kernel_types k)
{
    if (job->gate_before) {
        rmsnorm_gate_before_rows(job, k.out);
    } else {
        rmsnorm_gate_after_rows(job, k.out);
    }
}

#define NORM_OUT_NAME(x, y, p) NORM_KERNEL_NAME(output_row, x, y, p)
#define NORM_DECLARE_OUT(x, y, p) static out_fn NORM_OUT_NAME(x, y, p);
#define NORM_DEFINE_OUT(x, y, p)                                                          \
    static __attribute__((noinline)) float NORM_OUT_NAME(x, y, p)(const out_row *o, enum out_variant v) \
    {                                                                                     \
        return output_variants(o, v, NORM_DT_##x, NORM_DT_##y, NORM_DT_##p, true);            \
    }

#define NORM_TYPES_OF(x, y, p)                                                            \
    ((kernel_types){ NORM_DT_##x, NORM_DT_##y, NORM_DT_##p,                               \
                     { NORM_OUT_NAME(x, y, p), NORM_OUT_NAME(x, y, f32), NORM_OUT_NAME(f32, y, f32), false } })

#define NORM_DEFINE(x, y, p)                                                              \
    static NORM_KERNEL(NORM_KERNEL_NAME(rmsnorm, x, y, p)) { rmsnorm_kernel(job, NORM_TYPES_OF(x, y, p)); } \
    static __attribute__((noinline)) void NORM_KERNEL_NAME(layernorm_plain_short, x, y, p)(const norm_job *job, \
                                                                                      const plain_call *c) \
    {                                                                                     \
        layernorm_plain_short_rows(job, c, NORM_DT_##x, NORM_DT_##y, NORM_DT_##p);        \
    }                                                                                     \
    static __attribute__((noinline)) void NORM_KERNEL_NAME(layernorm_plain_long, x, y, p)(const norm_job *job, \
                                                                                     const plain_call *c) \
    {                                                                                     \
        layernorm_plain_rows(job, c, NORM_DT_##x, NORM_DT_##y, NORM_DT_##p);              \
    }                                                                                     \
    static NORM_KERNEL(NORM_KERNEL_NAME(layernorm, x, y, p))                              \
    {                                                                                     \
        layernorm_kernel(job, NORM_TYPES_OF(x, y, p), NORM_KERNEL_NAME(layernorm_plain_short, x, y, p), \
                         NORM_KERNEL_NAME(layernorm_plain_long, x, y, p));                \
    }                                                                                     \
    /* The dense entries (dense_call): (f32, f32, f32)'s only are registered. */         \
    static __attribute__((noinline, unused)) norm_status NORM_KERNEL_NAME(rmsnorm_dense_one, x, y, p)( \
        float *dst, const float *src, const float *gamma, size_t n, float eps)            \
    {                                                                                     \
        return rmsnorm_dense_row(dst, src, gamma, n, eps);                                \
    }                                                                                     \
    static __attribute__((noinline, unused)) norm_status NORM_KERNEL_NAME(rmsnorm_dense_rows, x, y, p)( \
        float *dst, const float *src, const float *gamma, const float *beta, size_t rows, size_t n, float eps) \
    {                                                                                     \
        const plain_call c = dense_call(dst, src, gamma, beta, rows, n, eps);             \
        if (beta)                                                                         \
            rmsnorm_plain_call(NULL, c, true, NORM_DT_##x, NORM_DT_##y, NORM_DT_##p);     \
        else                                                                              \
            rmsnorm_plain_call(NULL, c, false, NORM_DT_##x, NORM_DT_##y, NORM_DT_##p);    \
        return NORM_OK;                                                                   \
    }                                                                                     \
    /* One row without beta, or the rest: tail calls, so that the one row does not pay the \
     * rows' frame (a 1x16 call: 13.3 -> 11.8 ns with the row inlined here, less again     \
     * without the frame; see the commit). */                                            \
    static __attribute__((unused)) norm_status NORM_KERNEL_NAME(rmsnorm_dense, x, y, p)(  \
        float *dst, const float *src, const float *gamma, const float *beta, size_t rows, size_t n, float eps) \
    {                                                                                     \
        if (rows == 1 && !beta)                                                           \
            return NORM_KERNEL_NAME(rmsnorm_dense_one, x, y, p)(dst, src, gamma, n, eps);  \
        return NORM_KERNEL_NAME(rmsnorm_dense_rows, x, y, p)(dst, src, gamma, beta, rows, n, eps); \
    }                                                                                     \
    static __attribute__((unused)) norm_status NORM_KERNEL_NAME(layernorm_dense, x, y, p)( \
        float *dst, const float *src, const float *gamma, const float *beta, size_t rows, size_t n, float eps) \
    {                                                                                     \
        const plain_call c = dense_call(dst, src, gamma, beta, rows, n, eps);             \
        layernorm_plain_call(NULL, &c, NORM_KERNEL_NAME(layernorm_plain_short, x, y, p),   \
                             NORM_KERNEL_NAME(layernorm_plain_long, x, y, p));            \
        return NORM_OK;                                                                   \
    }                                                                                     \
    static NORM_KERNEL(NORM_KERNEL_NAME(rmsnorm_gated, x, y, p))                          \
    {                                                                                     \
        rmsnorm_gated_kernel(job, NORM_TYPES_OF(x, y, p));                                \
    }

#define NORM_REGISTER(x, y, p)                                                            \
    if (NORM_DT_##x == NORM_F32 && NORM_DT_##y == NORM_F32 && NORM_DT_##p == NORM_F32) {      \
        k->rmsnorm_dense_f32 = NORM_KERNEL_NAME(rmsnorm_dense, x, y, p);                  \
        k->layernorm_dense_f32 = NORM_KERNEL_NAME(layernorm_dense, x, y, p);              \
    }                                                                                     \
    k->rmsnorm[NORM_DT_##x][NORM_DT_##y][NORM_DT_##p] = NORM_KERNEL_NAME(rmsnorm, x, y, p); \
    k->layernorm[NORM_DT_##x][NORM_DT_##y][NORM_DT_##p] = NORM_KERNEL_NAME(layernorm, x, y, p); \
    k->rmsnorm_gated[NORM_DT_##x][NORM_DT_##y][NORM_DT_##p] = NORM_KERNEL_NAME(rmsnorm_gated, x, y, p);

/* The moments kernels, per x type and bias type (y plays no part). */
#define NORM_DEFINE_MOMENTS(x, p)                                                         \
    static NORM_KERNEL(NORM_KERNEL_NAME(rmsnorm_moments, x, x, p))                       \
    {                                                                                     \
        moments_rows(job, false, NORM_DT_##x, NORM_DT_##p);                               \
    }                                                                                     \
    static NORM_KERNEL(NORM_KERNEL_NAME(layernorm_moments, x, x, p))                     \
    {                                                                                     \
        moments_rows(job, true, NORM_DT_##x, NORM_DT_##p);                                \
    }
#define NORM_REGISTER_MOMENTS(x, p)                                                       \
    k->rmsnorm_moments[NORM_DT_##x][NORM_DT_##p] = NORM_KERNEL_NAME(rmsnorm_moments, x, x, p); \
    k->layernorm_moments[NORM_DT_##x][NORM_DT_##p] = NORM_KERNEL_NAME(layernorm_moments, x, x, p);

/* Defines the kernels of every (x, y, gamma/beta) combination in `list`, the moments kernels
 * of every (x, bias) combination in `moments_list`, and the function that overlays them on a
 * table: norm_init_kernels_<isa>. A list must hold (x, y, f32) and (f32, y, f32) for each of
 * its (x, y, p): the output functions of the rare rows and of the gate's stash. */
#define NORM_INSTANTIATE(list, moments_list)                                              \
    list(NORM_DECLARE_OUT)                                                                \
    list(NORM_DEFINE_OUT)                                                                 \
    list(NORM_DEFINE)                                                                     \
    moments_list(NORM_DEFINE_MOMENTS)                                                     \
    void NORM_FN(norm_init_kernels)(norm_kernels *k)                                      \
    {                                                                                     \
        list(NORM_REGISTER)                                                               \
        moments_list(NORM_REGISTER_MOMENTS)                                               \
    }

/* Every combination the API accepts: x any type, y any type or int8, gamma/beta f32 or x's type. */
#define NORM_ALL_TYPES(X)                                                                 \
    X(f32, f32, f32) X(f32, f16, f32) X(f32, bf16, f32) X(f32, i8, f32)                   \
    X(f16, f32, f32) X(f16, f16, f32) X(f16, bf16, f32) X(f16, i8, f32)                   \
    X(f16, f32, f16) X(f16, f16, f16) X(f16, bf16, f16) X(f16, i8, f16)                   \
    X(bf16, f32, f32) X(bf16, f16, f32) X(bf16, bf16, f32) X(bf16, i8, f32)               \
    X(bf16, f32, bf16) X(bf16, f16, bf16) X(bf16, bf16, bf16) X(bf16, i8, bf16)

/* The combinations with bf16 output, for variants that only change how bf16 is stored. */
#define NORM_BF16_OUT_TYPES(X)                                                            \
    X(f32, bf16, f32) X(f16, bf16, f32) X(f16, bf16, f16) X(bf16, bf16, f32) X(bf16, bf16, bf16)

/* x and the bias type of the moments kernels. */
#define NORM_MOMENTS_TYPES(X) X(f32, f32) X(f16, f32) X(f16, f16) X(bf16, f32) X(bf16, bf16)
#define NORM_NO_MOMENTS(X)

#endif
