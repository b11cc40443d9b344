/*
 * The scalar kernels: the fallback on every CPU and the oracle every SIMD kernel is tested
 * against. All arithmetic is in double, which holds x*x exactly and cannot overflow or
 * underflow for any f32 (or f16/bf16) input, so these need no special cases. Four partial
 * sums keep the reductions pipelined without reassociating anything a reader cannot see.
 * Half-precision values are widened exactly and results rounded once to f32, then once
 * more to the output type (kernels/scalar/half.h).
 */
#include "half.h"
#include "kernels.h"

static inline __attribute__((always_inline)) double load_elem(const void *p, size_t i, norm_dtype t)
{
    switch (t) {
    case NORM_F16: return norm_f16_to_f32(((const uint16_t *)p)[i]);
    case NORM_BF16: return norm_bf16_to_f32(((const uint16_t *)p)[i]);
    default: return ((const float *)p)[i];
    }
}

static inline __attribute__((always_inline)) void store_elem(void *p, size_t i, double v, norm_dtype t)
{
    float f = (float)v;
    switch (t) {
    case NORM_F16: ((uint16_t *)p)[i] = norm_f32_to_f16(f); break;
    case NORM_BF16: ((uint16_t *)p)[i] = norm_f32_to_bf16(f); break;
    default: ((float *)p)[i] = f; break;
    }
}

static inline __attribute__((always_inline)) double sum_squares_t(const void *x, size_t n, double shift, norm_dtype t)
{
    double acc[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) {
            double d = load_elem(x, i + k, t) - shift;
            acc[k] += d * d;
        }
    for (; i < n; i++) {
        double d = load_elem(x, i, t) - shift;
        acc[0] += d * d;
    }
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

static inline __attribute__((always_inline)) double sum_shifted_t(const void *x, size_t n, double shift, norm_dtype t)
{
    double acc[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++)
            acc[k] += load_elem(x, i + k, t) - shift;
    for (; i < n; i++)
        acc[0] += load_elem(x, i, t) - shift;
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

/* The element types are constants in each instance of the loops above and below: the
 * switches here pick the instance, so no loop decides an element's type. */
#define NORM_BY_TYPE(t, call)                    \
    switch (t) {                                 \
    case NORM_F16: return call(NORM_F16);        \
    case NORM_BF16: return call(NORM_BF16);      \
    default: return call(NORM_F32);              \
    }

static double sum_squares(const void *x, size_t n, double shift, norm_dtype t)
{
#define NORM_CALL(tt) sum_squares_t(x, n, shift, tt)
    NORM_BY_TYPE(t, NORM_CALL)
#undef NORM_CALL
}

static double sum_shifted(const void *x, size_t n, double shift, norm_dtype t)
{
#define NORM_CALL(tt) sum_shifted_t(x, n, shift, tt)
    NORM_BY_TYPE(t, NORM_CALL)
#undef NORM_CALL
}

/* y = (x - center) * scale * gamma + beta, computed in double and rounded at the end. */
static inline __attribute__((always_inline)) void apply_row_t(
    void *y, const void *x, const void *gamma, const void *beta, size_t n, double center,
    double scale, double offset, norm_dtype xt, norm_dtype yt, norm_dtype pt)
{
    for (size_t i = 0; i < n; i++) {
        double v = (load_elem(x, i, xt) - center) * scale;
        if (gamma)
            v *= offset + load_elem(gamma, i, pt);
        if (beta)
            v += load_elem(beta, i, pt);
        store_elem(y, i, v, yt);
    }
}

static void apply_row_x(void *y, const void *x, const void *g, const void *b, size_t n,
                        double center, double scale, double offset, norm_dtype xt, norm_dtype yt,
                        norm_dtype pt)
{
    switch (yt) {
    case NORM_F16: apply_row_t(y, x, g, b, n, center, scale, offset, xt, NORM_F16, pt); return;
    case NORM_BF16: apply_row_t(y, x, g, b, n, center, scale, offset, xt, NORM_BF16, pt); return;
    default: apply_row_t(y, x, g, b, n, center, scale, offset, xt, NORM_F32, pt); return;
    }
}

/* The row that is normalised: x's, or the fused h = x + residual (+ bias). */
static const void *source_row(const norm_job *job, size_t row)
{
    size_t es = norm_dtype_size(job->x_type);
    if (job->residual)
        return (const char *)job->residual_out + row * job->residual_out_stride * es;
    return (const char *)job->x + row * job->x_stride * es;
}

static void apply_row(const norm_job *job, size_t row, double center, double scale)
{
    const void *x = source_row(job, row);
    void *y = (char *)job->y + row * job->y_stride * norm_dtype_size(job->y_type);
    const void *g = job->gamma, *b = job->beta;
    size_t n = job->n;
    double offset = job->unit_offset ? 1.0 : 0.0;
    /* f32 everywhere, the common case, gets its own loop; the others share a loop per
     * output type (their conversions cost more than the type tests). */
    if (job->x_type == NORM_F32 && job->y_type == NORM_F32 && job->param_type == NORM_F32)
        apply_row_t(y, x, g, b, n, center, scale, offset, NORM_F32, NORM_F32, NORM_F32);
    else
        apply_row_x(y, x, g, b, n, center, scale, offset, job->x_type, job->y_type, job->param_type);
}

/* The fused residual add: h = x + r (+ bias) in f32, as an unfused engine adds, rounded to
 * x's type and stored (element by element, so residual_out may be x or the residual). */
static inline __attribute__((always_inline)) void residual_row_t(
    void *h, const void *x, const void *r, const void *bias, size_t n, norm_dtype t, norm_dtype pt)
{
    for (size_t i = 0; i < n; i++) {
        float v = (float)load_elem(x, i, t) + (float)load_elem(r, i, t);
        if (bias)
            v += (float)load_elem(bias, i, pt);
        store_elem(h, i, v, t);
    }
}

static void residual_row(const norm_job *job, size_t row)
{
    norm_dtype t = job->x_type, pt = job->param_type;
    size_t es = norm_dtype_size(t), n = job->n;
    const void *x = (const char *)job->x + row * job->x_stride * es;
    const void *r = (const char *)job->residual + row * job->residual_stride * es;
    void *h = (char *)job->residual_out + row * job->residual_out_stride * es;
    const void *b = job->bias;
    /* The bias is f32 or x's type; one loop per combination. */
    if (t == NORM_F16)
        pt == NORM_F16 ? residual_row_t(h, x, r, b, n, NORM_F16, NORM_F16)
                       : residual_row_t(h, x, r, b, n, NORM_F16, NORM_F32);
    else if (t == NORM_BF16)
        pt == NORM_BF16 ? residual_row_t(h, x, r, b, n, NORM_BF16, NORM_BF16)
                        : residual_row_t(h, x, r, b, n, NORM_BF16, NORM_F32);
    else
        residual_row_t(h, x, r, b, n, NORM_F32, NORM_F32);
}

void norm_rmsnorm_row_exact(const norm_job *job, size_t row)
{
    if (job->residual)
        residual_row(job, row);
    double ms = sum_squares(source_row(job, row), job->n, 0.0, job->x_type) / (double)job->n;
    double rstd = norm_rstd(ms, job->eps, job->eps_outside_sqrt);
    apply_row(job, row, 0.0, rstd);
    norm_store_stats(job, row, 0.0, rstd);
}

void norm_layernorm_row_exact(const norm_job *job, size_t row)
{
    if (job->residual)
        residual_row(job, row);
    const void *x = source_row(job, row);
    size_t n = job->n;
    /* Shifting by an element of the row keeps the sum exact to double precision even when
     * |mean| is many orders of magnitude above the standard deviation; the variance is
     * then summed around the mean (two passes): no E[x^2] - mean^2. */
    double shift = load_elem(x, 0, job->x_type);
    double mean = shift + sum_shifted(x, n, shift, job->x_type) / (double)n;
    double var = sum_squares(x, n, mean, job->x_type) / (double)n;
    double rstd = norm_rstd(var, job->eps, job->eps_outside_sqrt);
    apply_row(job, row, mean, rstd);
    norm_store_stats(job, row, mean, rstd);
}

static NORM_KERNEL(rmsnorm_scalar)
{
    for (size_t r = 0; r < job->rows; r++)
        norm_rmsnorm_row_exact(job, r);
}

static NORM_KERNEL(layernorm_scalar)
{
    for (size_t r = 0; r < job->rows; r++)
        norm_layernorm_row_exact(job, r);
}

/* The scalar kernels read the types from the job, so one pair serves every combination
 * the API accepts: x and y any type, gamma/beta f32 or x's type. */
void norm_init_kernels_scalar(norm_kernels *k)
{
    for (int x = 0; x < NORM_NTYPES; x++)
        for (int y = 0; y < NORM_NTYPES; y++)
            for (int p = 0; p < NORM_NTYPES; p++)
                if (p == NORM_F32 || p == x) {
                    k->rmsnorm[x][y][p] = rmsnorm_scalar;
                    k->layernorm[x][y][p] = layernorm_scalar;
                }
}
