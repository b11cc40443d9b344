/*
 * The f32 RMSNorm and LayerNorm kernels, written once over the thin vector layer of
 * vec_<isa>.h (included before this file). Each ISA's kernels/<arch>/norm_f32_<isa>.c is
 * just the two includes.
 *
 * Per row: one pass for the statistics, one pass for the output; the row is read twice,
 * which is the floor for a norm whose scale depends on the whole row. The second read
 * comes from L1/L2 for every row length up to tens of thousands.
 *
 * Accuracy (README, "Accuracy contract"): sums are kept in f32 lanes, each lane taking at
 * most NORM_FOLD terms before it is folded into f64, so rounding error does not grow with
 * the row length. Rows whose f32 sums could overflow or underflow, or that hold Inf/NaN,
 * go to the scalar double-precision row (the oracle), which is exact for them.
 */
#include <stdint.h>

#include "kernels.h"

#define NORM_CAT_(a, b) a##_##b
#define NORM_CAT(a, b) NORM_CAT_(a, b)
#define NORM_FN(name) NORM_CAT(name, NORM_SUFFIX)

#define NORM_FOLD 8
#define NORM_ALWAYS_INLINE inline __attribute__((always_inline))

/* f32 sums of squares outside [2^-80, 2^120] lose accuracy or overflow: use the exact row.
 * (Below 2^-80 it matters only when eps does not dominate the mean square.) */
static inline bool sums_in_range(double sum_squares, float eps)
{
    return sum_squares <= 0x1p120 && (sum_squares >= 0x1p-80 || eps >= 0x1p-60f);
}

typedef struct row_sums {
    double sum;     /* sum of (x - shift), when asked for */
    double squares; /* sum of (x - shift)^2 */
} row_sums;

static NORM_ALWAYS_INLINE row_sums sum_row(const float *x, size_t n, float shift,
                                           bool shifted, bool want_sum)
{
    const vf c = vf_set1(shift);
    vf s1[NORM_UNROLL], s2[NORM_UNROLL];
    vd d1 = vd_zero(), d2 = vd_zero();
    size_t i = 0;

#define NORM_ACCUMULATE(acc, p)                                  \
    do {                                                         \
        vf t_ = vf_load(p);                                      \
        if (shifted)                                             \
            t_ = vf_sub(t_, c);                                  \
        if (want_sum)                                            \
            s1[acc] = vf_add(s1[acc], t_);                       \
        s2[acc] = vf_fmadd(t_, t_, s2[acc]);                     \
    } while (0)

#define NORM_FOLD_LANES()                                        \
    do {                                                         \
        for (int w_ = NORM_UNROLL / 2; w_ >= 1; w_ /= 2)         \
            for (int u_ = 0; u_ < w_; u_++) {                    \
                s1[u_] = vf_add(s1[u_], s1[u_ + w_]);            \
                s2[u_] = vf_add(s2[u_], s2[u_ + w_]);            \
            }                                                    \
        if (want_sum)                                            \
            d1 = vd_add_vf(d1, s1[0]);                           \
        d2 = vd_add_vf(d2, s2[0]);                               \
    } while (0)

    for (;;) {
        for (int u = 0; u < NORM_UNROLL; u++)
            s1[u] = s2[u] = vf_zero();
        /* Each lane of each accumulator takes at most NORM_FOLD terms per block. */
        size_t block_end = n - i > (size_t)NORM_W * NORM_UNROLL * NORM_FOLD
                               ? i + (size_t)NORM_W * NORM_UNROLL * NORM_FOLD : n;
        for (; i + (size_t)NORM_W * NORM_UNROLL <= block_end; i += (size_t)NORM_W * NORM_UNROLL)
            for (int u = 0; u < NORM_UNROLL; u++)
                NORM_ACCUMULATE(u, x + i + (size_t)u * NORM_W);
        if (block_end < n) {
            NORM_FOLD_LANES();
            continue;
        }
        /* Last, partial block: whole vectors round-robin, then the masked tail. */
#pragma GCC unroll 16
        for (int u = 0; u < NORM_UNROLL - 1; u++)
            if (i + NORM_W <= n) {
                NORM_ACCUMULATE(u, x + i);
                i += NORM_W;
            }
        if (i < n) {
            /* Padding lanes load `shift`, so they contribute exactly zero. */
            vf t = vf_load_part(x + i, n - i, shifted ? c : vf_zero());
            if (shifted)
                t = vf_sub(t, c);
            if (want_sum)
                s1[NORM_UNROLL - 1] = vf_add(s1[NORM_UNROLL - 1], t);
            s2[NORM_UNROLL - 1] = vf_fmadd(t, t, s2[NORM_UNROLL - 1]);
        }
        NORM_FOLD_LANES();
        break;
    }
#undef NORM_ACCUMULATE
#undef NORM_FOLD_LANES

    row_sums r = { want_sum ? vd_sum(d1) : 0.0, vd_sum(d2) };
    return r;
}

/* How a row is centred before scaling: */
enum center_mode {
    SCALE_ONLY,     /* RMSNorm:               u = x * s                        */
    CENTER_FUSED,   /* LayerNorm, |mean|*s<=1: u = x * s - mean * s  (one FMA)  */
    CENTER_SHIFTED  /* LayerNorm otherwise:   u = (x - c) * s - (mean - c) * s  */
};

/* y = u * gamma + beta for one vector; the mode, gamma and beta choices become separate loops. */
static NORM_ALWAYS_INLINE vf output_vector(vf x, vf g, vf b, enum center_mode mode, vf c, vf s,
                                          vf neg_ds, bool has_g, bool has_b)
{
    vf u = mode == SCALE_ONLY ? vf_mul(x, s)
         : mode == CENTER_FUSED ? vf_fmadd(x, s, neg_ds)
                                : vf_fmadd(vf_sub(x, c), s, neg_ds);
    if (has_g)
        return has_b ? vf_fmadd(u, g, b) : vf_mul(u, g);
    return has_b ? vf_add(u, b) : u;
}

#define NORM_OUTPUT(xv, i) \
    output_vector(xv, has_g ? vf_load(g + (i)) : s, has_b ? vf_load(b + (i)) : s, \
                  mode, c, s, neg_ds, has_g, has_b)

static NORM_ALWAYS_INLINE void output_row(float *y, const float *x, size_t n, bool nontemporal,
                                          enum center_mode mode, float c_, float s_, float neg_ds_,
                                          const float *g, const float *b, bool has_g, bool has_b)
{
    const vf c = vf_set1(c_), s = vf_set1(s_), neg_ds = vf_set1(neg_ds_);
    /* Partial vectors (an unaligned head, the tail) go through the same vector arithmetic,
     * so a row's result does not depend on where it sits in memory. */
#define NORM_OUTPUT_PART(i, k)                                                          \
    vf_store_part(y + (i),                                                              \
                  output_vector(vf_load_part(x + (i), k, s),                            \
                                has_g ? vf_load_part(g + (i), k, s) : s,                \
                                has_b ? vf_load_part(b + (i), k, s) : s,                \
                                mode, c, s, neg_ds, has_g, has_b), k)
    size_t i = 0;
    if (nontemporal && ((uintptr_t)y % sizeof(float)) == 0) {
        size_t head = (NORM_ALIGN - (uintptr_t)y % NORM_ALIGN) % NORM_ALIGN / sizeof(float);
        if (head > n)
            head = n;
        if (head) {
            NORM_OUTPUT_PART(0, head);
            i = head;
        }
        for (; i + NORM_W <= n; i += NORM_W)
            vf_stream(y + i, NORM_OUTPUT(vf_load(x + i), i));
        vf_stream_fence();
    } else {
#pragma GCC unroll 4
        for (; i + NORM_W <= n; i += NORM_W)
            vf_store(y + i, NORM_OUTPUT(vf_load(x + i), i));
    }
    if (i < n)
        NORM_OUTPUT_PART(i, n - i);
#undef NORM_OUTPUT_PART
}
#undef NORM_OUTPUT

/* One instance of output_row per (mode, gamma?, beta?), so no loop tests a flag. */
static void output_row_dispatch(const norm_job *job, float *y, const float *x,
                                enum center_mode mode, float c, float s, float neg_ds)
{
    const float *g = job->gamma, *b = job->beta;
    size_t n = job->n;
    bool nt = job->nontemporal;
#define NORM_OUT(m)                                                                   \
    do {                                                                              \
        if (g && b) output_row(y, x, n, nt, m, c, s, neg_ds, g, b, true, true);       \
        else if (g) output_row(y, x, n, nt, m, c, s, neg_ds, g, b, true, false);      \
        else if (b) output_row(y, x, n, nt, m, c, s, neg_ds, g, b, false, true);      \
        else        output_row(y, x, n, nt, m, c, s, neg_ds, g, b, false, false);     \
    } while (0)
    switch (mode) {
    case SCALE_ONLY: NORM_OUT(SCALE_ONLY); break;
    case CENTER_FUSED: NORM_OUT(CENTER_FUSED); break;
    case CENTER_SHIFTED: NORM_OUT(CENTER_SHIFTED); break;
    }
#undef NORM_OUT
}

/*
 * Both kernels are software-pipelined by one row: the sums of row r+1 are issued before
 * row r is written out, so they overlap the latency of row r's square root and division.
 * On short rows that latency, not the arithmetic, is what bounds the time per row.
 */
NORM_KERNEL(NORM_FN(norm_rmsnorm_f32))
{
    const size_t n = job->n;
    const double inv_n = 1.0 / (double)n; /* a multiply, not a divide, on each row's critical path */
    row_sums next = sum_row(job->x, n, 0.0f, false, false);
    for (size_t r = 0; r < job->rows; r++) {
        const float *x = job->x + r * job->x_stride;
        row_sums sums = next;
        if (r + 1 < job->rows)
            next = sum_row(x + job->x_stride, n, 0.0f, false, false);
        if (!sums_in_range(sums.squares, job->eps)) {
            norm_rmsnorm_f32_row_exact(job, r);
            continue;
        }
        double rstd = norm_rstd(sums.squares * inv_n, job->eps, job->eps_outside_sqrt);
        output_row_dispatch(job, job->y + r * job->y_stride, x, SCALE_ONLY, 0.0f, (float)rstd, 0.0f);
        norm_store_stats(job, r, 0.0, rstd);
    }
}

/* Sums of x - shift, for a shifted or an unshifted pass. */
static row_sums sum_row_centered(const float *x, size_t n, float shift)
{
    return shift == 0.0f ? sum_row(x, n, 0.0f, false, true) : sum_row(x, n, shift, true, true);
}

NORM_KERNEL(NORM_FN(norm_layernorm_f32))
{
    /* One pass gives sum(x - c) and sum((x - c)^2), whose variance loses accuracy when c is
     * far from the mean. The first row is not shifted (activations are mostly centred, and
     * working out a shift first would delay the row); each later row is shifted by the row
     * before's mean if that was large against its spread (rows of a batch look alike). A
     * row whose shift proves poor is summed again around its own mean, so the guess only
     * ever costs time, never accuracy. */
    const size_t n = job->n;
    const double inv_n = 1.0 / (double)n;
    float shift = 0.0f;
    row_sums next = sum_row_centered(job->x, n, shift);
    for (size_t r = 0; r < job->rows; r++) {
        const float *x = job->x + r * job->x_stride;
        row_sums sums = next;
        double d = sums.sum * inv_n, var = sums.squares * inv_n - d * d;
        if (d * d > 0.25 * var && sums_in_range(sums.squares, job->eps)) {
            shift = (float)(shift + d);
            sums = sum_row_centered(x, n, shift);
            d = sums.sum * inv_n;
            var = sums.squares * inv_n - d * d;
        }
        double mean = shift + d;
        bool exact = !sums_in_range(sums.squares, job->eps) || d * d > 0.25 * var;
        shift = !exact && mean * mean > 0.25 * var ? (float)mean : 0.0f;
        if (r + 1 < job->rows)
            next = sum_row_centered(x + job->x_stride, n, shift);
        if (exact) {
            norm_layernorm_f32_row_exact(job, r);
            continue;
        }
        double rstd = norm_rstd(var, job->eps, job->eps_outside_sqrt);
        float *y = job->y + r * job->y_stride;
        if (fabs(mean) * rstd <= 1.0) {
            output_row_dispatch(job, y, x, CENTER_FUSED, 0.0f, (float)rstd, (float)(-mean * rstd));
        } else {
            float c = (float)mean;
            output_row_dispatch(job, y, x, CENTER_SHIFTED, c, (float)rstd, (float)(-(mean - c) * rstd));
        }
        norm_store_stats(job, r, mean, rstd);
    }
}
