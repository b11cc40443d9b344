/* The gate of gated RMSNorm: silu(z), and rows of x * silu(z) or exp(-|z| / 2) computed ahead. */
#ifndef NORM_SIMD_GATE_H
#define NORM_SIMD_GATE_H


/* silu(z) = z * sigmoid(z), with SLEEF's exp for this ISA (1 ulp). The sigmoid is taken from
 * h = exp(-|z| / 2): 1 / (1 + h^2) for z >= 0, h^2 / (1 + h^2) below, so the denominator stays
 * in [1, 2], where a reciprocal estimate and one Newton step replace the division (exp(-z)
 * itself would overflow to Inf for z < -88). A few ulps of f32 in all, far inside the gated
 * kernels' 2^-18. The half exponent lets v * silu(z) be formed where exp(z) alone is below
 * f32's range (times_silu). silu(-Inf) is -0, its limit
 * (z / (1 + exp(-z)) would make it NaN), so a gate of -Inf zeroes its element as every other
 * very negative gate does; silu(+Inf) = +Inf; a NaN gate gives NaN. */
static NORM_ALWAYS_INLINE vf exp_neg_abs(vf z)
{
    return vf_exp(vf_mul(vf_abs(z), vf_set1(-0.5f)));
}

/* z with -Inf replaced by -FLT_MAX (whose sigmoid is 0 as well), NaN kept: -FLT_MAX - z is
 * >= 0 only for z = -Inf (and -FLT_MAX itself). */
static NORM_ALWAYS_INLINE vf gate_arg(vf z)
{
    const vf lo = vf_set1(-0x1.fffffep127f);
    return vf_select_nonneg(vf_sub(lo, z), lo, z);
}

/* v * silu(z) given h = exp(-|z| / 2), with sigmoid(z) = r = 1 / (1 + h^2) for z >= 0 and
 * h^2 r below: (v * r) * z above zero, ((v * h) * z) * (h * r) below. silu(z) alone is
 * subnormal for tiny z (about z / 2), and rounding it there lost up to a third of v * silu(z)
 * when v is large (x near 2^127, z near 2^-148: found by the fuzzer); and exp(z) alone is below
 * f32's subnormals for z < -104 where v * silu(z) need not be (v near 2^127, z near -110: found
 * by the fuzzer, which got 0 for a y of 3.2e22). No step overflows unless v * silu(z) does:
 * |v * h * z| <= 0.74 |v| below zero (|z| exp(-|z| / 2) <= 2 / e), and above it v * r * z is
 * v * silu(z) itself. */
static NORM_ALWAYS_INLINE vf times_silu_finite(vf v, vf z, vf h)
{
    const vf one = vf_set1(1.0f);
    vf r = vf_recip_1_2(vf_fmadd(h, h, one));
    vf p = vf_select_nonneg(z, r, h), q = vf_select_nonneg(z, one, vf_mul(h, r));
    return vf_mul(vf_mul(vf_mul(v, p), z), q);
}

/* The same for any z: -Inf taken as -FLT_MAX (times_silu_finite would give NaN there). */
static NORM_ALWAYS_INLINE vf times_silu(vf v, vf z, vf h) { return times_silu_finite(v, gate_arg(z), h); }

/* x * silu(z) for a whole row, as f32, in two passes: the exponentials alone first (a loop
 * that does nothing but call exp lets consecutive calls overlap, with nothing live across them
 * to spill), then the rest from L1. Done in one loop with the norm, each call's latency and
 * spills were exposed: 1.5-2x slower. With exp_only, the first pass alone: out = exp(-|z| / 2). */
static NORM_ALWAYS_INLINE void silu_row_t(float *out, const void *x, const void *z, size_t n,
                                          norm_dtype xt, bool exp_only, bool any_z)
{
    size_t i = 0, k = n % NORM_W, whole = n - k;
    for (; i < whole; i += NORM_W)
        vf_store(out + i, exp_neg_abs(load_as(z, i, xt)));
    if (k)
        vf_store_part(out + i, exp_neg_abs(load_part_as(z, i, k, xt)), k);
    if (exp_only)
        return;
#define NORM_SILU(v, zv, h) (any_z ? times_silu(v, zv, h) : times_silu_finite(v, zv, h))
    for (i = 0; i < whole; i += NORM_W)
        vf_store(out + i, NORM_SILU(load_as(x, i, xt), load_as(z, i, xt), vf_load(out + i)));
    if (k)
        vf_store_part(out + i, NORM_SILU(load_part_as(x, i, k, xt), load_part_as(z, i, k, xt),
                                         vf_load_part(out + i, k)), k);
#undef NORM_SILU
}

/* x * silu(z) for a row. any_z: a gate of -Inf gives a zero, as it must where nothing checks
 * the row afterwards (given moments); without it such an element is NaN, which makes the
 * row's sums non-finite and sends the row to the scalar kernel, at three operations less per
 * element. */
static __attribute__((noinline)) void silu_row(float *out, const void *x, const void *z, size_t n,
                                               norm_dtype xt, bool any_z)
{
    switch (xt) {
    case NORM_F16:
        any_z ? silu_row_t(out, x, z, n, NORM_F16, false, true) : silu_row_t(out, x, z, n, NORM_F16, false, false);
        return;
    case NORM_BF16:
        any_z ? silu_row_t(out, x, z, n, NORM_BF16, false, true) : silu_row_t(out, x, z, n, NORM_BF16, false, false);
        return;
    default:
        any_z ? silu_row_t(out, x, z, n, NORM_F32, false, true) : silu_row_t(out, x, z, n, NORM_F32, false, false);
        return;
    }
}

/* exp(-|z| / 2) for a row: the gate after the norm forms silu(z) from it in the output pass. A
 * loop that does nothing but call exp (SLEEF's exp is an out-of-line call, which clobbers every
 * vector register): on 1x4096 f32 (Zen 5), computing sigmoid(z) here after each call measured
 * 22% slower, keeping an accumulator across the calls 25%, and calling exp inside the output
 * loop instead of here 8%. */
static __attribute__((noinline)) void exp_row(float *out, const void *z, size_t n, norm_dtype xt)
{
    switch (xt) {
    case NORM_F16: silu_row_t(out, NULL, z, n, NORM_F16, true, false); return;
    case NORM_BF16: silu_row_t(out, NULL, z, n, NORM_BF16, true, false); return;
    default: silu_row_t(out, NULL, z, n, NORM_F32, true, false); return;
    }
}

/* max|p| over n parameters (NaNs skipped), with two chains of maxima. */
static NORM_ALWAYS_INLINE float params_amax_t(const void *p, size_t n, norm_dtype pt)
{
    size_t i = 0, k = n % NORM_W, whole = n - k;
    vf m0 = vf_zero(), m1 = vf_zero();
    for (; i + 2 * NORM_W <= whole; i += 2 * NORM_W) {
        m0 = vf_max_num(m0, vf_abs(load_as(p, i, pt)));
        m1 = vf_max_num(m1, vf_abs(load_as(p, i + NORM_W, pt)));
    }
    if (i < whole)
        m0 = vf_max_num(m0, vf_abs(load_as(p, i, pt)));
    if (k)
        m1 = vf_max_num(m1, vf_abs(load_part_as(p, whole, k, pt)));
    return vf_reduce_max(vf_max_num(m0, m1));
}

/* Whether gamma' and beta are so large that u * gamma' + beta can leave f32 for a row normalised
 * by its own statistics (|u| <= sqrt(n), with margin), where the gate after the norm may bring
 * y back: such calls take the careful output loop (output.h). Once per call: one pass over
 * the parameters, which every row reads anyway. */
static __attribute__((noinline)) bool gate_params_wide(const norm_job *job, norm_dtype pt)
{
    double g = job->gamma ? (double)params_amax_t(job->gamma, job->n, pt) : 1.0;
    double b = job->beta ? (double)params_amax_t(job->beta, job->n, pt) : 0.0;
    if (job->unit_offset)
        g += 1.0;
    return !(g * (1.01 * sqrt((double)job->n) + 1.0) + b <= 0x1p126);
}

/* The sum of squares of x * silu(z) (gated RMSNorm, the gate before the norm). When h is
 * not NULL, x * silu(z) is written there first and summed from there (the same values in
 * the same order as summing them on the fly). */
static __attribute__((noinline)) row_sums sum_row_gated(const void *x, const void *z, float *h,
                                                        size_t n, norm_dtype xt)
{
    if (h) {
        silu_row(h, x, z, n, xt, false);
        return sum_row_any(h, n, 0.0f, SQUARES, NORM_F32);
    }
    /* Nowhere to keep the row: x * silu(z) a stash at a time, summed, and computed again by
     * the output pass. (In one loop with the sums, silu's calls to exp were 1.5-2x slower.) */
    _Alignas(64) float part[NORM_STASH / 2];
    const size_t xs = norm_dtype_size(xt);
    row_sums total = { 0.0, 0.0 };
    for (size_t at = 0; at < n; at += NORM_STASH / 2) {
        size_t len = n - at < NORM_STASH / 2 ? n - at : NORM_STASH / 2;
        silu_row(part, (const char *)x + at * xs, (const char *)z + at * xs, len, xt, false);
        total.squares += sum_row_any(part, len, 0.0f, SQUARES, NORM_F32).squares;
    }
    return total;
}
#endif
