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

_Alignas(64) const float norm_ones_f32[NORM_ONES_N] = { [0 ... NORM_ONES_N - 1] = 1.0f };
_Alignas(64) const uint16_t norm_ones_f16[NORM_ONES_N] = { [0 ... NORM_ONES_N - 1] = 0x3c00 };
_Alignas(64) const uint16_t norm_ones_bf16[NORM_ONES_N] = { [0 ... NORM_ONES_N - 1] = 0x3f80 };

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

/* A row as the norm sees it: x's values, times silu(gate) when the gate comes before the norm. */
typedef struct row_in {
    const void *x, *gate; /* gate NULL: none */
    norm_dtype t;
} row_in;

static inline __attribute__((always_inline)) double load_in(row_in in, size_t i, norm_dtype t, bool gated)
{
    double v = load_elem(in.x, i, t);
    return gated ? v * norm_silu(load_elem(in.gate, i, t)) : v;
}

static inline __attribute__((always_inline)) double sum_squares_t(row_in in, size_t n, double shift,
                                                                  norm_dtype t, bool gated)
{
    double acc[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) {
            double d = load_in(in, i + k, t, gated) - shift;
            acc[k] += d * d;
        }
    for (; i < n; i++) {
        double d = load_in(in, i, t, gated) - shift;
        acc[0] += d * d;
    }
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

static inline __attribute__((always_inline)) double sum_shifted_t(row_in in, size_t n, double shift,
                                                                  norm_dtype t, bool gated)
{
    double acc[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++)
            acc[k] += load_in(in, i + k, t, gated) - shift;
    for (; i < n; i++)
        acc[0] += load_in(in, i, t, gated) - shift;
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

static double sum_squares(row_in in, size_t n, double shift)
{
#define NORM_CALL(tt) in.gate ? sum_squares_t(in, n, shift, tt, true) : sum_squares_t(in, n, shift, tt, false)
    NORM_BY_TYPE(in.t, NORM_CALL)
#undef NORM_CALL
}

static double sum_shifted(row_in in, size_t n, double shift)
{
#define NORM_CALL(tt) in.gate ? sum_shifted_t(in, n, shift, tt, true) : sum_shifted_t(in, n, shift, tt, false)
    NORM_BY_TYPE(in.t, NORM_CALL)
#undef NORM_CALL
}

/* int8 as the header defines it: y * inv rounded to nearest even, clamped, NaN to 0. */
static inline int8_t quantize(double y, float inv)
{
    double q = y * (double)inv;
    if (!(q == q))
        return 0;
    q = q > 127.0 ? 127.0 : q < -127.0 ? -127.0 : q;
    return (int8_t)nearbyint(q);
}

/* v, or +-Inf where v is beyond f32's range: what rounding v to f32 would give. */
static inline double f32_overflow(double v) { return fabs(v) >= 0x1.ffffffp127 ? copysign(INFINITY, v) : v; }

/* y = ((x - center) * scale * gamma + beta) (* silu(gate)), computed in double and rounded
 * at the end. With given moments (f32_mid) the header defines x * silu(gate), x - mean and
 * (x - mean) * rstd as f32 values: statistics that describe the row keep them in range, and
 * those that do not may overflow them to +-Inf, as every tier does. */
static inline __attribute__((always_inline)) double apply_elem(
    row_in in, const void *g, const void *b, const void *gate_after, size_t i, double center,
    double scale, double offset, norm_dtype xt, norm_dtype pt, bool gated_in, bool f32_mid)
{
    double v;
    if (f32_mid)
        v = f32_overflow(f32_overflow(f32_overflow(load_in(in, i, xt, gated_in)) - center) * scale);
    else
        v = (load_in(in, i, xt, gated_in) - center) * scale;
    /* The normalised value is an f32 on every other tier: one too small for f32 is a zero
     * there, and with an infinite gamma zero * Inf is NaN where v * Inf would be an infinity.
     * (Found by the fuzzer. Nothing else changes: with a finite gamma such a v contributes
     * less than the contract's underflow term.) */
    if (fabs(v) <= 0x1p-150)
        v = copysign(0.0, v);
    if (g)
        v *= offset + load_elem(g, i, pt);
    if (b)
        v += load_elem(b, i, pt);
    if (gate_after)
        v *= norm_silu(load_elem(gate_after, i, xt));
    return v;
}

static inline __attribute__((always_inline)) void apply_row_t(
    void *y, row_in in, const void *gate_after, const void *g, const void *b, size_t n,
    double center, double scale, double offset, float inv_scale, float *scale_out,
    norm_dtype xt, norm_dtype yt, norm_dtype pt, bool gated_in, bool f32_mid)
{
    if (yt == NORM_I8 && scale_out) {
        /* The dynamic scale: max|y| over the row (NaNs ignored), then q as for a static one. */
        double amax = 0.0;
        for (size_t i = 0; i < n; i++)
            amax = fmax(amax, fabs(apply_elem(in, g, b, gate_after, i, center, scale, offset, xt, pt, gated_in, f32_mid)));
        float s = (float)(amax / 127.0);
        *scale_out = s;
        inv_scale = s > 0.0f ? 1.0f / s : 0.0f;
    }
    for (size_t i = 0; i < n; i++) {
        double v = apply_elem(in, g, b, gate_after, i, center, scale, offset, xt, pt, gated_in, f32_mid);
        if (yt == NORM_I8)
            ((int8_t *)y)[i] = quantize(v, inv_scale);
        else
            store_elem(y, i, v, yt);
    }
}

static void apply_row_x(void *y, row_in in, const void *gate_after, const void *g, const void *b,
                        size_t n, double center, double scale, double offset, float inv_scale,
                        float *scale_out, norm_dtype xt, norm_dtype yt, norm_dtype pt, bool f32_mid)
{
#define NORM_APPLY(ytt, gated) apply_row_t(y, in, gate_after, g, b, n, center, scale, offset, \
                                           inv_scale, scale_out, xt, ytt, pt, gated, f32_mid)
    bool gated = in.gate != NULL;
    switch (yt) {
    case NORM_F16: gated ? NORM_APPLY(NORM_F16, true) : NORM_APPLY(NORM_F16, false); return;
    case NORM_BF16: gated ? NORM_APPLY(NORM_BF16, true) : NORM_APPLY(NORM_BF16, false); return;
    case NORM_I8: gated ? NORM_APPLY(NORM_I8, true) : NORM_APPLY(NORM_I8, false); return;
    default: gated ? NORM_APPLY(NORM_F32, true) : NORM_APPLY(NORM_F32, false); return;
    }
#undef NORM_APPLY
}

static const void *gate_row(const norm_job *job, size_t row)
{
    return (const char *)job->gate + row * job->gate_stride * norm_dtype_size(job->x_type);
}

/* The row that is normalised: x's, or the fused h = x + residual (+ bias), times silu(gate)
 * when the gate comes first. */
static row_in source_row(const norm_job *job, size_t row)
{
    size_t es = norm_dtype_size(job->x_type);
    row_in in = { (const char *)job->x + row * job->x_stride * es, NULL, job->x_type };
    if (job->residual)
        in.x = (const char *)job->residual_out + row * job->residual_out_stride * es;
    if (job->gate && job->gate_before)
        in.gate = gate_row(job, row);
    return in;
}

/* Row `row` of y from its centre and scale, with every epilogue: gamma, beta, the unit
 * offset, the gate after the norm, int8 output (static or dynamic scale). */
static void apply_row(const norm_job *job, size_t row, double center, double scale)
{
    row_in in = source_row(job, row);
    void *y = (char *)job->y + row * job->y_stride * norm_dtype_size(job->y_type);
    const void *g = job->gamma, *b = job->beta;
    const void *gate_after = job->gate && !job->gate_before ? gate_row(job, row) : NULL;
    size_t n = job->n;
    double offset = job->unit_offset ? 1.0 : 0.0;
    float *scale_out = job->y_scales ? job->y_scales + row : NULL;
    /* f32 everywhere, the common case, gets its own loop; the others share a loop per
     * output type (their conversions cost more than the type tests). */
    if (job->x_type == NORM_F32 && job->y_type == NORM_F32 && job->param_type == NORM_F32 && !in.gate &&
        !job->moments)
        apply_row_t(y, in, gate_after, g, b, n, center, scale, offset, 0.0f, NULL, NORM_F32, NORM_F32,
                    NORM_F32, false, false);
    else
        apply_row_x(y, in, gate_after, g, b, n, center, scale, offset, job->y_inv_scale, scale_out,
                    job->x_type, job->y_type, job->param_type, job->moments != NULL);
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

norm_moments norm_moments_row_exact(const norm_job *job, size_t row, bool layernorm)
{
    if (job->residual)
        residual_row(job, row);
    row_in in = source_row(job, row);
    size_t n = job->n;
    norm_moments m = { (double)n, 0.0, 0.0 };
    if (layernorm) {
        /* Shifting by an element of the row keeps the sum exact to double precision even
         * when |mean| is many orders of magnitude above the standard deviation; the
         * variance is then summed around the mean (two passes): no E[x^2] - mean^2. */
        double shift = load_in(in, 0, in.t, in.gate != NULL);
        m.mean = shift + sum_shifted(in, n, shift) / (double)n;
        m.m2 = sum_squares(in, n, m.mean);
    } else {
        m.m2 = sum_squares(in, n, 0.0);
    }
    return m;
}

/* One row from its own statistics, or from the job's given moments. */
static void row_exact(const norm_job *job, size_t row, bool layernorm)
{
    norm_moments m = job->moments ? job->moments[row] : norm_moments_row_exact(job, row, layernorm);
    double center, scale;
    norm_scale_from_moments(job, m, layernorm, &center, &scale);
    apply_row(job, row, center, scale);
    norm_store_stats(job, row, center, scale);
}

void norm_rmsnorm_row_exact(const norm_job *job, size_t row) { row_exact(job, row, false); }
void norm_layernorm_row_exact(const norm_job *job, size_t row) { row_exact(job, row, true); }

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

static NORM_KERNEL(rmsnorm_moments_scalar)
{
    for (size_t r = 0; r < job->rows; r++)
        job->moments_out[r] = norm_moments_row_exact(job, r, false);
}

static NORM_KERNEL(layernorm_moments_scalar)
{
    for (size_t r = 0; r < job->rows; r++)
        job->moments_out[r] = norm_moments_row_exact(job, r, true);
}

/* The scalar kernels read the types from the job, so one set serves every combination
 * the API accepts: x any type, y any type or int8, gamma/beta f32 or x's type. */
void norm_init_kernels_scalar(norm_kernels *k)
{
    for (int x = 0; x < NORM_NTYPES; x++)
        for (int p = 0; p < NORM_NTYPES; p++) {
            if (p != NORM_F32 && p != x)
                continue;
            for (int y = 0; y < NORM_NYTYPES; y++) {
                k->rmsnorm[x][y][p] = rmsnorm_scalar;
                k->layernorm[x][y][p] = layernorm_scalar;
                k->rmsnorm_gated[x][y][p] = rmsnorm_scalar;
            }
            k->rmsnorm_moments[x][p] = rmsnorm_moments_scalar;
            k->layernorm_moments[x][p] = layernorm_moments_scalar;
        }
}
