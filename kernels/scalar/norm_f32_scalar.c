/*
 * The scalar kernels: the fallback on every CPU and the oracle every SIMD kernel is tested
 * against. All arithmetic is in double, which holds x*x exactly and cannot overflow or
 * underflow for any f32 input, so these need no special cases. Four partial sums keep the
 * reductions pipelined without reassociating anything a reader cannot see.
 */
#include "kernels.h"

static double sum_squares(const float *x, size_t n, double shift)
{
    double acc[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) {
            double t = (double)x[i + k] - shift;
            acc[k] += t * t;
        }
    for (; i < n; i++) {
        double t = (double)x[i] - shift;
        acc[0] += t * t;
    }
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

static double sum_shifted(const float *x, size_t n, double shift)
{
    double acc[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++)
            acc[k] += (double)x[i + k] - shift;
    for (; i < n; i++)
        acc[0] += (double)x[i] - shift;
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

/* y = (x - center) * scale * gamma + beta, rounded once to f32. */
static void apply_row(float *y, const float *x, size_t n, double center, double scale,
                      const float *gamma, const float *beta)
{
    for (size_t i = 0; i < n; i++) {
        double v = ((double)x[i] - center) * scale;
        if (gamma)
            v *= gamma[i];
        if (beta)
            v += beta[i];
        y[i] = (float)v;
    }
}

void norm_rmsnorm_f32_row_exact(const norm_job *job, size_t row)
{
    const float *x = job->x + row * job->x_stride;
    size_t n = job->n;
    double rstd = norm_rstd(sum_squares(x, n, 0.0) / (double)n, job->eps, job->eps_outside_sqrt);
    apply_row(job->y + row * job->y_stride, x, n, 0.0, rstd, job->gamma, job->beta);
    norm_store_stats(job, row, 0.0, rstd);
}

void norm_layernorm_f32_row_exact(const norm_job *job, size_t row)
{
    const float *x = job->x + row * job->x_stride;
    size_t n = job->n;
    /* Shifting by an element of the row first keeps the mean exact to double precision
     * even when |mean| is many orders of magnitude above the standard deviation. The
     * shifted values are summed twice (two-pass variance): no E[x^2] - mean^2. */
    double shift = x[0];
    double mean = shift + sum_shifted(x, n, shift) / (double)n;
    double var = sum_squares(x, n, mean) / (double)n;
    double rstd = norm_rstd(var, job->eps, job->eps_outside_sqrt);
    apply_row(job->y + row * job->y_stride, x, n, mean, rstd, job->gamma, job->beta);
    norm_store_stats(job, row, mean, rstd);
}

NORM_KERNEL(norm_rmsnorm_f32_scalar)
{
    for (size_t r = 0; r < job->rows; r++)
        norm_rmsnorm_f32_row_exact(job, r);
}

NORM_KERNEL(norm_layernorm_f32_scalar)
{
    for (size_t r = 0; r < job->rows; r++)
        norm_layernorm_f32_row_exact(job, r);
}
