#ifndef NORM_SIMD_SHIFT_H
#define NORM_SIMD_SHIFT_H

/*
 * LayerNorm's shift for a row, from that row alone, so that a row's bits never depend on the
 * rows around it. layernorm_stats accepts sums around the shift when |mean - shift| is at most
 * half the row's deviation, and sums the row again around its mean otherwise.
 *
 * Short rows (n <= NORM_FULL_MEAN_MAX) take the mean of the whole row, summed in f32: one
 * cheap pass (no squares, one f32 reduction), after which |mean - shift| is a rounding error,
 * so their sums are always accepted. (A sample of half the row with its spread, which long
 * rows use, cost more than the full sum: its two f64 reductions, a branch on the shift and
 * the rows it sent back for a second sum. 4096x128 LayerNorm with beta, offset rows, Zen 5:
 * 29.9 -> 21.8 ns/row in a pipelined loop of its own.) The f32 sum of up to n / (2 W) terms
 * per lane is within 2^-19 of the mean's magnitude, well inside half a deviation unless the
 * mean exceeds about 10^4 deviations; such rows are summed again (never less accurate).
 *
 * Longer rows take the mean of their first m = sample_size(n) elements, or 0 when that mean
 * is small against their spread (the sums then need no subtraction, and bf16 rows are summed
 * with dot products). The sample is summed around its first element, so the estimate is good
 * for any mean (the contract's 10^6 deviations included). m = 4 sqrt(n), at least 64, keeps a
 * second sum rare: a Gaussian row's estimate is off by sigma / sqrt(m) <= sigma / 8, and an
 * outlier channel A in the sample moves it by A / m while it raises the row's deviation to at
 * least A / sqrt(n), so |mean - shift| stays below a quarter of the deviation.
 */
#define NORM_FULL_MEAN_MAX 256

static inline size_t sample_size(size_t n)
{
    size_t m = (size_t)(4.0 * sqrt((double)n));
    m = m < 64 ? 64 : m;
    return m < n ? m : n;
}

/* The f32 mean of a short row (n <= NORM_FULL_MEAN_MAX), for its shift; inv_n is 1.0f / n. */
static NORM_ALWAYS_INLINE float row_mean_f32(row_source src, size_t n, float inv_n, src_shape ss)
{
    vf a = vf_zero(), b = vf_zero();
    size_t i = 0;
    for (; i + 2 * NORM_W <= n; i += 2 * NORM_W) {
        a = vf_add(a, peek(src, i, 0, false, ss));
        b = vf_add(b, peek(src, i + NORM_W, 0, false, ss));
    }
    if (i + NORM_W <= n) {
        a = vf_add(a, peek(src, i, 0, false, ss));
        i += NORM_W;
    }
    if (i < n)
        b = vf_add(b, vf_keep_first(peek(src, i, n - i, true, ss), n - i));
    return vf_reduce_add(vf_add(a, b)) * inv_n;
}

static NORM_ALWAYS_INLINE float row_shift_inv(row_source src, size_t n, float inv_n, src_shape ss);

/* The shift of the row at src, n elements long. */
static NORM_ALWAYS_INLINE float row_shift(row_source src, size_t n, src_shape ss)
{
    return row_shift_inv(src, n, 1.0f / (float)n, ss);
}

/* The same with 1.0f / n given: a row loop divides once. (Divided in each row, under the
 * row's condition, GCC could not hoist the division, which may trap; a 4096x128 LayerNorm
 * divided 4096 times: see the commit.) */
static NORM_ALWAYS_INLINE float row_shift_inv(row_source src, size_t n, float inv_n, src_shape ss)
{
    if (n <= NORM_FULL_MEAN_MAX)
        return row_mean_f32(src, n, inv_n, ss);
    const size_t m = sample_size(n);
    const norm_dtype xt = ss.xt;
    float first = element_f32(src.x, 0, xt);
    if (ss.fused) {
        first += element_f32(src.r, 0, xt);
        if (ss.has_b)
            first += element_f32(src.b, 0, ss.pt);
        first = round_to(first, xt);
    }
    const vf x0 = vf_set1(first);
    vf s1a = vf_zero(), s1b = vf_zero(), s2a = vf_zero(), s2b = vf_zero();
    size_t i = 0;
    for (; i + 2 * NORM_W <= m; i += 2 * NORM_W) {
        vf a = vf_sub(peek(src, i, 0, false, ss), x0);
        vf b = vf_sub(peek(src, i + NORM_W, 0, false, ss), x0);
        s1a = vf_add(s1a, a);
        s1b = vf_add(s1b, b);
        s2a = vf_fmadd(a, a, s2a);
        s2b = vf_fmadd(b, b, s2b);
    }
    if (i + NORM_W <= m) {
        vf a = vf_sub(peek(src, i, 0, false, ss), x0);
        s1a = vf_add(s1a, a);
        s2a = vf_fmadd(a, a, s2a);
        i += NORM_W;
    }
    if (i < m) {
        vf b = vf_keep_first(vf_sub(peek(src, i, m - i, true, ss), x0), m - i);
        s1b = vf_add(s1b, b);
        s2b = vf_fmadd(b, b, s2b);
    }
    const double inv_m = 1.0 / (double)m;
    double d = vd_sum(vd_from_vf(vf_add(s1a, s1b))) * inv_m;
    double spread = vd_sum(vd_from_vf(vf_add(s2a, s2b))) * inv_m - d * d;
    double c = first + d;
    /* Centred rows (|mean| <= a quarter of the deviation) keep the sums without a shift. */
    return 16.0 * c * c <= spread ? 0.0f : (float)c;
}

/* row_shift out of line, for x or the fused h. */
static NORM_ALWAYS_INLINE float row_shift_typed(row_source src, size_t n, norm_dtype xt, norm_dtype pt)
{
    if (!src.r)
        return row_shift(src, n, NORM_PLAIN_SOURCE(xt));
    if (!src.b)
        return row_shift(src, n, (src_shape){ xt, xt, true, false });
    if (pt == xt)
        return row_shift(src, n, (src_shape){ xt, xt, true, true });
    return row_shift(src, n, (src_shape){ xt, NORM_F32, true, true });
}

static NORM_OUT_OF_LINE float row_shift_any(const void *x, const void *r, const void *b, size_t n,
                                                     norm_dtype xt, norm_dtype pt)
{
    const row_source src = { x, r, b, NULL };
    switch (xt) {
    case NORM_F16:
        return row_shift_typed(src, n, NORM_F16, pt);
    case NORM_BF16:
        return row_shift_typed(src, n, NORM_BF16, pt);
    default:
        return row_shift_typed(src, n, NORM_F32, NORM_F32);
    }
}

#endif
