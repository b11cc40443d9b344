/*
 * The RMSNorm and LayerNorm kernels, written once over the thin vector layer of
 * vec_<isa>.h and cvt_<isa>.h (included before this file). Each ISA's
 * kernels/<arch>/norm_<isa>.c is the includes plus one line listing its type combinations.
 *
 * Element types are compile-time constants of always-inline functions: every combination
 * of x, y and gamma/beta types (f32, f16, bf16) becomes its own kernel, with the
 * conversions inlined into the loads and stores. All arithmetic is f32 (sums folded into
 * f64), whatever the storage type.
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
#include <float.h>
#include <stdint.h>

#include "kernels.h"
#include "scalar/half.h"

#define NORM_CAT_(a, b) a##_##b
#define NORM_CAT(a, b) NORM_CAT_(a, b)
#define NORM_FN(name) NORM_CAT(name, NORM_SUFFIX)

#define NORM_FOLD 8
/* Rows shorter than this are summed one row ahead of their output, which hides the latency of
 * their chain from sums to rstd (plain LayerNorm 4096x128: 1.6x the floor pipelined, 1.9x
 * not); longer ones are faster one row at a time (fused RMSNorm 16x4096: 1.27x -> 1.10x),
 * which keeps the row in L1 between its two passes. Plain RMSNorm rows are never pipelined. */
#define NORM_AHEAD_BELOW 1024
/* f32 values of silu(z) or x * silu(z) kept on the stack between passes (16 KiB): one row of
 * up to this many, or two pipelined rows (shorter than NORM_AHEAD_BELOW) of half. */
#define NORM_STASH 4096
_Static_assert(NORM_AHEAD_BELOW <= NORM_STASH / 2, "two pipelined rows fit the stash");
#define NORM_ALWAYS_INLINE inline __attribute__((always_inline))

/* ---------------------------------------------------------------- typed memory access */

/* NORM_W elements of type t at p[i]. (bf16 is widened without quieting signalling NaNs:
 * a NaN anywhere in a row makes its results NaN whichever way it was widened.) */
static NORM_ALWAYS_INLINE vf load_as(const void *p, size_t i, norm_dtype t)
{
    if (t == NORM_F16)
        return vf_load_f16((const uint16_t *)p + i);
    if (t == NORM_BF16)
        return vf_widen_bf16((const uint16_t *)p + i);
    return vf_load((const float *)p + i);
}

/* The k (< NORM_W) elements at p[i]; the other lanes are zero. */
static NORM_ALWAYS_INLINE vf load_part_as(const void *p, size_t i, size_t k, norm_dtype t)
{
    if (t == NORM_F16)
        return vf_load_f16_part((const uint16_t *)p + i, k);
    if (t == NORM_BF16)
        return vf_load_bf16_part((const uint16_t *)p + i, k);
    return vf_load_part((const float *)p + i, k);
}

static NORM_ALWAYS_INLINE void store_as(void *p, size_t i, vf v, norm_dtype t)
{
    if (t == NORM_F16)
        vf_store_f16((uint16_t *)p + i, v);
    else if (t == NORM_BF16)
        vf_store_bf16((uint16_t *)p + i, v);
    else
        vf_store((float *)p + i, v);
}

static NORM_ALWAYS_INLINE void store_part_as(void *p, size_t i, vf v, size_t k, norm_dtype t)
{
    if (t == NORM_F16)
        vf_store_f16_part((uint16_t *)p + i, v, k);
    else if (t == NORM_BF16)
        vf_store_bf16_part((uint16_t *)p + i, v, k);
    else
        vf_store_part((float *)p + i, v, k);
}

/* A non-temporal store of one vector to p[i], which must be vector-aligned. Half-precision
 * results are narrowed into an aligned buffer first: the store and the reload stay in L1. */
static NORM_ALWAYS_INLINE void stream_as(void *p, size_t i, vf v, norm_dtype t)
{
    if (t == NORM_F32) {
        vf_stream((float *)p + i, v);
        return;
    }
    _Alignas(NORM_ALIGN) uint16_t narrow[NORM_W];
    store_as(narrow, 0, v, t);
    vh_stream((uint16_t *)p + i, narrow);
}

/* ---------------------------------------------------------------- statistics */

/* f32 sums of squares outside [2^-80, 2^120] lose accuracy or overflow: use the exact row.
 * (Below 2^-80 it matters only when eps does not dominate the mean square.) */
static inline bool sums_in_range(double sum_squares, float eps)
{
    return sum_squares <= 0x1p120 && (sum_squares >= 0x1p-80 || eps >= 0x1p-60f);
}

/* A row's rstd from its mean square (RMSNorm) or variance (LayerNorm). With AVX-512 and eps
 * inside the root, 1 / sqrt(v) is the 14-bit estimate refined by one Newton step in double:
 * its relative error (below 2^-27) is small against the 2^-24 of rounding rstd to f32, and it
 * takes the square root and the division, which share a divider that is not pipelined, off
 * each row's chain from its sums to its output. */
static inline double row_rstd(double ms, double eps, bool eps_outside_sqrt)
{
#ifdef NORM_HAS_RSQRT14
    double v = ms + eps;
    if (!eps_outside_sqrt && v >= DBL_MIN && v <= DBL_MAX) { /* the estimate takes no subnormals */
        double r = vd_rsqrt14(v);
        return r * (1.5 - 0.5 * v * r * r);
    }
#endif
    return norm_rstd(ms, eps, eps_outside_sqrt);
}

typedef struct row_sums {
    double sum;     /* sum of (x - shift), when asked for */
    double squares; /* sum of (x - shift)^2 */
} row_sums;

/* silu(z) = z * sigmoid(z), with SLEEF's exp for this ISA (1 ulp). The sigmoid is taken from
 * t = exp(-|z|): 1 / (1 + t) for z >= 0, t / (1 + t) below, so the denominator stays in
 * [1, 2], where a reciprocal estimate and one Newton step replace the division (exp(-z)
 * itself would overflow to Inf for z < -88). A few ulps of f32 in all, far inside the gated
 * kernels' 2^-18. silu(-Inf) is NaN, as z / (1 + exp(-z)) and PyTorch give. */
static NORM_ALWAYS_INLINE vf exp_neg_abs(vf z) { return vf_exp(vf_sub(vf_zero(), vf_abs(z))); }

/* silu(z) given t = exp(-|z|). */
static NORM_ALWAYS_INLINE vf silu_from(vf z, vf t)
{
    vf r = vf_recip_1_2(vf_add(vf_set1(1.0f), t));
    return vf_mul(z, vf_select_nonneg(z, r, vf_mul(t, r)));
}

static NORM_ALWAYS_INLINE vf silu(vf z) { return silu_from(z, exp_neg_abs(z)); }

/* Where a row's values come from: x itself; or h = x + r (+ b) rounded to x's type, which
 * is stored to h on the way (the fused residual add). */
typedef struct row_source {
    const void *x, *r, *b;
    void *h;
} row_source;

/* One vector of the row at i: x, or the fused h (stored, then reloaded rounded). */
static NORM_ALWAYS_INLINE vf fetch(row_source src, size_t i, bool fused, bool has_b,
                                   norm_dtype xt, norm_dtype pt)
{
    vf v = load_as(src.x, i, xt);
    if (!fused)
        return v;
    v = vf_add(v, load_as(src.r, i, xt));
    if (has_b)
        v = vf_add(v, load_as(src.b, i, pt));
    store_as(src.h, i, v, xt);
    return xt == NORM_F32 ? v : load_as(src.h, i, xt);
}

/* The k (< NORM_W) elements at i, zero beyond. */
static NORM_ALWAYS_INLINE vf fetch_part(row_source src, size_t i, size_t k, bool fused,
                                        bool has_b, norm_dtype xt, norm_dtype pt)
{
    vf v = load_part_as(src.x, i, k, xt);
    if (!fused)
        return v;
    v = vf_add(v, load_part_as(src.r, i, k, xt));
    if (has_b)
        v = vf_add(v, load_part_as(src.b, i, k, pt));
    store_part_as(src.h, i, v, k, xt);
    return load_part_as(src.h, i, k, xt);
}

#ifdef NORM_BF16_PAIRS
/* 2 * NORM_W parameters (bf16 or f32) at p[i], as the even and odd halves of bf16 pairs. */
static NORM_ALWAYS_INLINE void load_pairs_as(const void *p, size_t i, norm_dtype t, vf *even, vf *odd)
{
    if (t == NORM_BF16) {
        vh_pairs r = vh_load_pairs((const uint16_t *)p + i);
        *even = vf_bf16_even(r);
        *odd = vf_bf16_odd(r);
    } else {
        vf_load_f32_pairs((const float *)p + i, even, odd);
    }
}

/* 2 * NORM_W values of a bf16 row at i, as even and odd halves (cvt_<isa>.h): x, or the fused
 * h = x + r (+ b), stored rounded and returned rounded, as fetch() does one vector at a time.
 * Widening a vector of bf16 is a shuffle, and the fused add needs three per vector (x, r and
 * the rounded h); pairs need none. */
static NORM_ALWAYS_INLINE vh_pairs fetch_packed_pairs(row_source src, size_t i, bool fused, bool has_b,
                                                      norm_dtype pt)
{
    vh_pairs v = vh_load_pairs((const uint16_t *)src.x + i);
    if (fused) {
        vh_pairs r = vh_load_pairs((const uint16_t *)src.r + i);
        vf e = vf_add(vf_bf16_even(v), vf_bf16_even(r)), o = vf_add(vf_bf16_odd(v), vf_bf16_odd(r));
        if (has_b) {
            vf be, bo;
            load_pairs_as(src.b, i, pt, &be, &bo);
            e = vf_add(e, be);
            o = vf_add(o, bo);
        }
        v = vh_pack_pairs(e, o);
        vh_store((uint16_t *)src.h + i, v);
    }
    return v;
}

static NORM_ALWAYS_INLINE void fetch_pairs(row_source src, size_t i, bool fused, bool has_b,
                                           norm_dtype pt, vf *even, vf *odd)
{
    vh_pairs v = fetch_packed_pairs(src, i, fused, has_b, pt);
    *even = vf_bf16_even(v);
    *odd = vf_bf16_odd(v);
}
#define NORM_PAIRS_SUMS 1
#else
#define NORM_PAIRS_SUMS 0
#endif

#if NORM_BF16_DOT
/*
 * The unshifted sums of a bf16 row with vdpbf16ps (cvt_<isa>.h): one instruction adds the
 * squares (and, with ones, the values) of 32 elements, two terms per lane, where the pairs
 * path takes two conversions and two multiply-adds (1x4096: 39 -> 22 ns in a loop of its own,
 * Zen 5). Eight accumulators cover its latency; a block takes half the steps of
 * sum_row_inline's, so that each lane still takes at most NORM_FOLD terms. The tail (under 32
 * elements) goes through fetch/fetch_part and multiply-adds, two vectors at most, two terms.
 *
 * The instruction counts bf16 subnormals, and products and partial sums below 2^-126, as
 * zero. That loses at most n * 2^-126 of a sum of squares, against the 2^-80 that
 * sums_in_range asks of it (2^-106 relative for n up to 2^20), and the same absolute amount
 * of a row's sum, a mean error of 2^-126, far below what the contract allows; rows whose sums
 * are smaller go to the exact row, or are dominated by eps.
 */
#define NORM_DOT_ACCS 8
#define NORM_DOT_MIN 512 /* shorter rows keep the pairs path: eight accumulators are too many */
static NORM_ALWAYS_INLINE row_sums sum_row_dot(row_source src, size_t n, bool want_sum, bool fused,
                                               bool has_b, norm_dtype pt)
{
    enum { accs = NORM_DOT_ACCS };
    const size_t step = 2 * NORM_W, group = step * accs;
    const vh_pairs ones = vh_ones();
    vf s1[accs], s2[accs];
    vd d1 = vd_zero(), d2 = vd_zero();
    bool first = true;
    size_t i = 0;
#define NORM_DOT_ACCUMULATE(u, v)                                \
    do {                                                         \
        if (want_sum)                                            \
            s1[u] = vf_dot_pairs(s1[u], (v), ones);              \
        s2[u] = vf_dot_pairs(s2[u], (v), (v));                   \
    } while (0)
    for (;;) {
#pragma GCC unroll 16
        for (int u = 0; u < accs; u++)
            s1[u] = s2[u] = vf_zero();
        size_t block_end = n - i > group * (NORM_FOLD / 2) ? i + group * (NORM_FOLD / 2) : n;
        for (; i + group <= block_end; i += group) {
#pragma GCC unroll 16
            for (int u = 0; u < accs; u++) {
                vh_pairs v = fetch_packed_pairs(src, i + (size_t)u * step, fused, has_b, pt);
                NORM_DOT_ACCUMULATE(u, v);
            }
        }
        bool last = block_end == n;
        if (last) {
            /* Whole pairs round-robin, then the tail into the last accumulator. */
#pragma GCC unroll 16
            for (int u = 0; u < accs - 1; u++)
                if (i + step <= n) {
                    vh_pairs v = fetch_packed_pairs(src, i, fused, has_b, pt);
                    NORM_DOT_ACCUMULATE(u, v);
                    i += step;
                }
            for (; i < n; i += NORM_W) {
                vf t = n - i >= NORM_W ? fetch(src, i, fused, has_b, NORM_BF16, pt)
                                       : fetch_part(src, i, n - i, fused, has_b, NORM_BF16, pt);
                if (want_sum)
                    s1[accs - 1] = vf_add(s1[accs - 1], t);
                s2[accs - 1] = vf_fmadd(t, t, s2[accs - 1]);
            }
        }
#pragma GCC unroll 16
        for (int w = accs / 2; w >= 1; w /= 2)
#pragma GCC unroll 16
            for (int u = 0; u < w; u++) {
                s1[u] = vf_add(s1[u], s1[u + w]);
                s2[u] = vf_add(s2[u], s2[u + w]);
            }
        if (want_sum)
            d1 = first ? vd_from_vf(s1[0]) : vd_add(d1, vd_from_vf(s1[0]));
        d2 = first ? vd_from_vf(s2[0]) : vd_add(d2, vd_from_vf(s2[0]));
        first = false;
        if (last)
            break;
    }
#undef NORM_DOT_ACCUMULATE
    row_sums r = { want_sum ? vd_sum(d1) : 0.0, vd_sum(d2) };
    return r;
}

/* sum_row_dot out of line, for x alone or the fused h = x + r (+ b): inlined next to the pairs
 * path, it made the short rows that keep that path 4-6% slower (4096x128). */
static __attribute__((noinline)) row_sums sum_row_dot_any(const void *x, const void *r, const void *b,
                                                          void *h, size_t n, bool want_sum, norm_dtype pt)
{
    const row_source src = { x, r, b, h };
#define NORM_DOT_FOR(fused, has_b, p)                                                     \
    return want_sum ? sum_row_dot(src, n, true, fused, has_b, p)                          \
                    : sum_row_dot(src, n, false, fused, has_b, p)
    if (!r)
        NORM_DOT_FOR(false, false, NORM_BF16);
    if (!b)
        NORM_DOT_FOR(true, false, NORM_BF16);
    if (pt == NORM_BF16)
        NORM_DOT_FOR(true, true, NORM_BF16);
    NORM_DOT_FOR(true, true, NORM_F32);
#undef NORM_DOT_FOR
}
#endif

static NORM_ALWAYS_INLINE row_sums sum_row_inline(row_source src, size_t n, float shift, bool shifted,
                                                  bool want_sum, bool fused, bool has_b,
                                                  norm_dtype xt, norm_dtype pt)
{
#if NORM_BF16_DOT
    if (xt == NORM_BF16 && !shifted && n >= NORM_DOT_MIN)
        return sum_row_dot_any(src.x, fused ? src.r : NULL, fused && has_b ? src.b : NULL, src.h, n,
                               want_sum, pt);
#endif
    const vf c = vf_set1(shift);
#if NORM_PAIRS_SUMS
    /* bf16 rows in pairs of vectors, whatever the call (fused or not, shifted or not), so that
     * a fused row and the same h normalised on its own are summed in the same order. */
    const bool pairs = xt == NORM_BF16;
#endif
    vf s1[NORM_UNROLL], s2[NORM_UNROLL];
    /* The first fold starts the f64 sums rather than adding to zero: on a short row that add
     * is on the chain from the last load to rstd (4096x128: -3%). */
    vd d1 = vd_zero(), d2 = vd_zero();
    bool first = true;
    size_t i = 0;

    /* With two sums, GCC would load each vector twice, as a memory operand of the add and
     * of the multiply-add: twice the loads in a pass bound by them. */
#define NORM_ACCUMULATE(acc, t_)                                 \
    do {                                                         \
        if (want_sum && !shifted)                                \
            t_ = vf_pin(t_);                                     \
        if (shifted)                                             \
            t_ = vf_sub(t_, c);                                  \
        if (want_sum)                                            \
            s1[acc] = vf_add(s1[acc], t_);                       \
        s2[acc] = vf_fmadd(t_, t_, s2[acc]);                     \
    } while (0)

#define NORM_FOLD_LANES()                                        \
    do {                                                         \
        _Pragma("GCC unroll 16")                                 \
        for (int w_ = NORM_UNROLL / 2; w_ >= 1; w_ /= 2)         \
            _Pragma("GCC unroll 16")                             \
            for (int u_ = 0; u_ < w_; u_++) {                    \
                s1[u_] = vf_add(s1[u_], s1[u_ + w_]);            \
                s2[u_] = vf_add(s2[u_], s2[u_ + w_]);            \
            }                                                    \
        if (want_sum)                                            \
            d1 = first ? vd_from_vf(s1[0]) : vd_add(d1, vd_from_vf(s1[0])); \
        d2 = first ? vd_from_vf(s2[0]) : vd_add(d2, vd_from_vf(s2[0]));     \
        first = false;                                           \
    } while (0)

    /* Every loop over the accumulators is unrolled from the start, so that they are
     * registers: left as arrays, GCC kept some on the stack (LayerNorm's two sums). */
    for (;;) {
#pragma GCC unroll 16
        for (int u = 0; u < NORM_UNROLL; u++)
            s1[u] = s2[u] = vf_zero();
        /* Each lane of each accumulator takes at most NORM_FOLD terms per block. */
        size_t block_end = n - i > (size_t)NORM_W * NORM_UNROLL * NORM_FOLD
                               ? i + (size_t)NORM_W * NORM_UNROLL * NORM_FOLD : n;
        for (; i + (size_t)NORM_W * NORM_UNROLL <= block_end; i += (size_t)NORM_W * NORM_UNROLL) {
#if NORM_PAIRS_SUMS
            if (pairs) {
#pragma GCC unroll 16
                for (int u = 0; u < NORM_UNROLL; u += 2) {
                    vf even, odd;
                    fetch_pairs(src, i + (size_t)u * NORM_W, fused, has_b, pt, &even, &odd);
                    NORM_ACCUMULATE(u, even);
                    NORM_ACCUMULATE(u + 1, odd);
                }
                continue;
            }
#endif
#pragma GCC unroll 16
            for (int u = 0; u < NORM_UNROLL; u++) {
                vf t = fetch(src, i + (size_t)u * NORM_W, fused, has_b, xt, pt);
                NORM_ACCUMULATE(u, t);
            }
        }
        if (block_end < n) {
            NORM_FOLD_LANES();
            continue;
        }
        /* Last, partial block: whole vectors round-robin, then the tail. Every accumulator
         * takes a vector, c where there is none (which adds exactly nothing): updated on some
         * paths only, GCC kept some of them in memory, on the chain from the loads to rstd
         * (4096x128: 3-4% slower). */
        size_t left = (n - i) / NORM_W;
        if (left) {
            vf t[NORM_UNROLL - 1];
#pragma GCC unroll 16
            for (int u = 0; u < NORM_UNROLL - 1; u++)
                t[u] = (size_t)u < left ? fetch(src, i + (size_t)u * NORM_W, fused, has_b, xt, pt) : c;
#pragma GCC unroll 16
            for (int u = 0; u < NORM_UNROLL - 1; u++)
                NORM_ACCUMULATE(u, t[u]);
            i += left * NORM_W;
        }
        if (i < n) {
            vf t = fetch_part(src, i, n - i, fused, has_b, xt, pt);
            if (shifted)
                t = vf_keep_first(vf_sub(t, c), n - i); /* padding lanes must add nothing */
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

/* The sums kernels call, out of line: one copy per (what, type) serves every output type
 * and gamma/beta case, which keeps the library small at the cost of a call per row. */
enum sums_kind { SQUARES, SUMS, SUMS_SHIFTED };

static __attribute__((noinline)) row_sums sum_row_any(const void *x, size_t n, float shift,
                                                      enum sums_kind what, norm_dtype xt)
{
    row_source src = { x, NULL, NULL, NULL };
#define NORM_SUMS_FOR(t)                                                                  \
    switch (what) {                                                                       \
    case SQUARES: return sum_row_inline(src, n, 0.0f, false, false, false, false, t, t); \
    case SUMS: return sum_row_inline(src, n, 0.0f, false, true, false, false, t, t); \
    default: return sum_row_inline(src, n, shift, true, true, false, false, t, t); \
    }
    switch (xt) {
    case NORM_F16: NORM_SUMS_FOR(NORM_F16)
    case NORM_BF16: NORM_SUMS_FOR(NORM_BF16)
    default: NORM_SUMS_FOR(NORM_F32)
    }
#undef NORM_SUMS_FOR
}

/* The same over the fused h = x + r (+ b), which it also stores. (The pointers come as
 * separate arguments: a struct passed by value would go through the stack on every call.) */
static __attribute__((noinline)) row_sums sum_row_fused(const void *x, const void *r,
                                                        const void *b, void *h, size_t n,
                                                        float shift, enum sums_kind what,
                                                        norm_dtype xt, norm_dtype pt)
{
    const row_source src = { x, r, b, h };
#define NORM_SUMS_FOR(t, p, with_bias)                                                    \
    switch (what) {                                                                       \
    case SQUARES: return sum_row_inline(src, n, 0.0f, false, false, true, with_bias, t, p); \
    case SUMS: return sum_row_inline(src, n, 0.0f, false, true, true, with_bias, t, p); \
    default: return sum_row_inline(src, n, shift, true, true, true, with_bias, t, p); \
    }
#define NORM_SUMS_BIAS(t, p)                                                              \
    if (b) {                                                                              \
        NORM_SUMS_FOR(t, p, true)                                                         \
    } else {                                                                              \
        NORM_SUMS_FOR(t, p, false)                                                        \
    }
    /* The bias is f32 or x's type. */
    switch (xt) {
    case NORM_F16:
        if (pt == NORM_F16) {
            NORM_SUMS_BIAS(NORM_F16, NORM_F16)
        }
        NORM_SUMS_BIAS(NORM_F16, NORM_F32)
    case NORM_BF16:
        if (pt == NORM_BF16) {
            NORM_SUMS_BIAS(NORM_BF16, NORM_BF16)
        }
        NORM_SUMS_BIAS(NORM_BF16, NORM_F32)
    default:
        NORM_SUMS_BIAS(NORM_F32, NORM_F32)
    }
#undef NORM_SUMS_BIAS
#undef NORM_SUMS_FOR
}

/*
 * LayerNorm's shift for a row, from that row alone, so that a row's bits never depend on the
 * rows around it: the mean of its first m = sample_size(n) elements, or 0 when that mean is
 * small against their spread (the sums then need no subtraction). The sample is summed around
 * its first element, so the estimate is good for any mean (the contract's 10^6 deviations
 * included). layernorm_stats accepts sums around the shift when |mean - shift| is at most half
 * the row's deviation, and sums the row again around its mean otherwise. m = 4 sqrt(n), at
 * least 64, keeps that rare: a Gaussian row's estimate is off by sigma / sqrt(m) <= sigma / 8,
 * and an outlier channel A in the sample moves it by A / m while it raises the row's deviation
 * to at least A / sqrt(n), so |mean - shift| stays below a quarter of the deviation.
 */
static inline size_t sample_size(size_t n)
{
    size_t m = (size_t)(4.0 * sqrt((double)n));
    m = m < 64 ? 64 : m;
    return m < n ? m : n;
}

/* Element i of a row of type t, as f32 (the scalar conversions, bit-identical to the vector ones). */
static inline float element_f32(const void *p, size_t i, norm_dtype t)
{
    return t == NORM_F16    ? norm_f16_to_f32(((const uint16_t *)p)[i])
           : t == NORM_BF16 ? norm_bf16_to_f32(((const uint16_t *)p)[i])
                            : ((const float *)p)[i];
}

/* f rounded to type t and back. */
static inline float round_to(float f, norm_dtype t)
{
    return t == NORM_F16 ? norm_f16_to_f32(norm_f32_to_f16(f))
           : t == NORM_BF16 ? norm_bf16_to_f32(norm_f32_to_bf16(f)) : f;
}

/* One vector of the row at i (k < NORM_W elements if part): x, or the fused h = x + r (+ b)
 * rounded to x's type as fetch() computes it, but not stored (h may be x itself, which the
 * sums pass still has to read). */
static NORM_ALWAYS_INLINE vf peek(row_source src, size_t i, size_t k, bool part, bool fused, bool has_b,
                                  norm_dtype xt, norm_dtype pt)
{
    vf v = part ? load_part_as(src.x, i, k, xt) : load_as(src.x, i, xt);
    if (!fused)
        return v;
    v = vf_add(v, part ? load_part_as(src.r, i, k, xt) : load_as(src.r, i, xt));
    if (has_b)
        v = vf_add(v, part ? load_part_as(src.b, i, k, pt) : load_as(src.b, i, pt));
    if (xt == NORM_F32)
        return v;
    _Alignas(NORM_ALIGN) uint16_t h[NORM_W];
    store_as(h, 0, v, xt);
    return load_as(h, 0, xt);
}

/* The shift of the row at src, from its first m elements (sample_size). */
static NORM_ALWAYS_INLINE float row_shift(row_source src, size_t m, bool fused, bool has_b,
                                          norm_dtype xt, norm_dtype pt)
{
    float first = element_f32(src.x, 0, xt);
    if (fused) {
        first += element_f32(src.r, 0, xt);
        if (has_b)
            first += element_f32(src.b, 0, pt);
        first = round_to(first, xt);
    }
    const vf x0 = vf_set1(first);
    vf s1a = vf_zero(), s1b = vf_zero(), s2a = vf_zero(), s2b = vf_zero();
    size_t i = 0;
    for (; i + 2 * NORM_W <= m; i += 2 * NORM_W) {
        vf a = vf_sub(peek(src, i, 0, false, fused, has_b, xt, pt), x0);
        vf b = vf_sub(peek(src, i + NORM_W, 0, false, fused, has_b, xt, pt), x0);
        s1a = vf_add(s1a, a);
        s1b = vf_add(s1b, b);
        s2a = vf_fmadd(a, a, s2a);
        s2b = vf_fmadd(b, b, s2b);
    }
    if (i + NORM_W <= m) {
        vf a = vf_sub(peek(src, i, 0, false, fused, has_b, xt, pt), x0);
        s1a = vf_add(s1a, a);
        s2a = vf_fmadd(a, a, s2a);
        i += NORM_W;
    }
    if (i < m) {
        vf b = vf_keep_first(vf_sub(peek(src, i, m - i, true, fused, has_b, xt, pt), x0), m - i);
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
static __attribute__((noinline)) float row_shift_any(const void *x, const void *r, const void *b, size_t m,
                                                     norm_dtype xt, norm_dtype pt)
{
    const row_source src = { x, r, b, NULL };
#define NORM_SHIFT_FOR(t, p)                                                              \
    return !r ? row_shift(src, m, false, false, t, t)                                     \
              : b ? row_shift(src, m, true, true, t, p) : row_shift(src, m, true, false, t, t)
    switch (xt) {
    case NORM_F16:
        if (pt == NORM_F16)
            NORM_SHIFT_FOR(NORM_F16, NORM_F16);
        NORM_SHIFT_FOR(NORM_F16, NORM_F32);
    case NORM_BF16:
        if (pt == NORM_BF16)
            NORM_SHIFT_FOR(NORM_BF16, NORM_BF16);
        NORM_SHIFT_FOR(NORM_BF16, NORM_F32);
    default:
        NORM_SHIFT_FOR(NORM_F32, NORM_F32);
    }
#undef NORM_SHIFT_FOR
}

/* x * silu(z) for a whole row, as f32, in two passes: the exponentials alone first (a loop
 * that does nothing but call exp lets consecutive calls overlap, with nothing live across them
 * to spill), then the rest from L1. Done in one loop with the norm, each call's latency and
 * spills were exposed: 1.5-2x slower. With exp_only, the first pass alone: out = exp(-|z|). */
static NORM_ALWAYS_INLINE void silu_row_t(float *out, const void *x, const void *z, size_t n,
                                          norm_dtype xt, bool exp_only)
{
    size_t i = 0, k = n % NORM_W, whole = n - k;
    for (; i < whole; i += NORM_W)
        vf_store(out + i, exp_neg_abs(load_as(z, i, xt)));
    if (k)
        vf_store_part(out + i, exp_neg_abs(load_part_as(z, i, k, xt)), k);
    if (exp_only)
        return;
    for (i = 0; i < whole; i += NORM_W)
        vf_store(out + i, vf_mul(load_as(x, i, xt), silu_from(load_as(z, i, xt), vf_load(out + i))));
    if (k)
        vf_store_part(out + i, vf_mul(load_part_as(x, i, k, xt),
                                      silu_from(load_part_as(z, i, k, xt), vf_load_part(out + i, k))), k);
}

static __attribute__((noinline)) void silu_row(float *out, const void *x, const void *z, size_t n,
                                               norm_dtype xt)
{
    switch (xt) {
    case NORM_F16: silu_row_t(out, x, z, n, NORM_F16, false); return;
    case NORM_BF16: silu_row_t(out, x, z, n, NORM_BF16, false); return;
    default: silu_row_t(out, x, z, n, NORM_F32, false); return;
    }
}

/* exp(-|z|) for a row: the gate after the norm forms silu(z) from it in the output pass, one
 * loop fewer than finishing silu here and reading it back. */
static __attribute__((noinline)) void exp_row(float *out, const void *z, size_t n, norm_dtype xt)
{
    switch (xt) {
    case NORM_F16: silu_row_t(out, NULL, z, n, NORM_F16, true); return;
    case NORM_BF16: silu_row_t(out, NULL, z, n, NORM_BF16, true); return;
    default: silu_row_t(out, NULL, z, n, NORM_F32, true); return;
    }
}

/* The sum of squares of x * silu(z) (gated RMSNorm, the gate before the norm). When h is
 * not NULL, x * silu(z) is written there first and summed from there (the same values in
 * the same order as summing them on the fly). */
static __attribute__((noinline)) row_sums sum_row_gated(const void *x, const void *z, float *h,
                                                        size_t n, norm_dtype xt)
{
    if (h) {
        silu_row(h, x, z, n, xt);
        return sum_row_any(h, n, 0.0f, SQUARES, NORM_F32);
    }
    /* Nowhere to keep the row: x * silu(z) a stash at a time, summed, and computed again by
     * the output pass. (In one loop with the sums, silu's calls to exp were 1.5-2x slower.) */
    _Alignas(64) float part[NORM_STASH / 2];
    const size_t xs = norm_dtype_size(xt);
    row_sums total = { 0.0, 0.0 };
    for (size_t at = 0; at < n; at += NORM_STASH / 2) {
        size_t len = n - at < NORM_STASH / 2 ? n - at : NORM_STASH / 2;
        silu_row(part, (const char *)x + at * xs, (const char *)z + at * xs, len, xt);
        total.squares += sum_row_any(part, len, 0.0f, SQUARES, NORM_F32).squares;
    }
    return total;
}

/* ---------------------------------------------------------------- output */

/* How a row is centred before scaling: */
enum center_mode {
    SCALE_ONLY,     /* RMSNorm:               u = x * s                        */
    CENTER_MEAN,    /* LayerNorm, |mean|*s<=1: u = (x - c) * s, c the f32 mean  */
    CENTER_SHIFTED  /* LayerNorm otherwise:   u = (x - c) * s - (mean - c) * s  */
};

/* What output_row needs of a row's statistics: u = (x - c) * s + neg_ds. */
typedef struct row_scale {
    float c, s, neg_ds;
} row_scale;

/* Calls body(has_g, has_b, unit_offset) with constants, so each case is its own loop. */
#define NORM_WITH_PARAMS(job, body)                                                       \
    do {                                                                                  \
        bool off_ = (job)->unit_offset;                                                   \
        if ((job)->gamma && (job)->beta) {                                                \
            if (off_) body(true, true, true); else body(true, true, false);               \
        } else if ((job)->gamma) {                                                        \
            if (off_) body(true, false, true); else body(true, false, false);             \
        } else if ((job)->beta) {                                                         \
            body(false, true, false);                                                     \
        } else {                                                                          \
            body(false, false, false);                                                    \
        }                                                                                 \
    } while (0)

/* v * silu(z) when the gate comes after the norm; t = exp(-|z|) when it was computed ahead. */
static NORM_ALWAYS_INLINE vf gated_output(vf v, vf z, vf t, bool gate_out, bool exp_ready)
{
    return gate_out ? vf_mul(v, exp_ready ? silu_from(z, t) : silu(z)) : v;
}

/* y = u * gamma + beta for one vector. */
static NORM_ALWAYS_INLINE vf output_vector(vf x, vf g, vf b, enum center_mode mode, vf c, vf s,
                                          vf neg_ds, bool has_g, bool has_b, bool unit_offset)
{
    vf u = mode == SCALE_ONLY ? vf_mul(x, s)
         : mode == CENTER_MEAN ? vf_mul(vf_sub(x, c), s)
                                : vf_fmadd(vf_sub(x, c), s, neg_ds);
    if (has_g && unit_offset) {
#if NORM_HAS_FMA
        /* u * (1 + g) = u * g + u, rounded once. */
        return has_b ? vf_add(vf_fmadd(u, g, u), b) : vf_fmadd(u, g, u);
#else
        /* Without a fused multiply-add, u * g + u would round u * g on its own, which loses
         * the result when 1 + g is small; 1 + g itself is exact there. */
        vf g1 = vf_add(g, vf_set1(1.0f));
        return has_b ? vf_fmadd(u, g1, b) : vf_mul(u, g1);
#endif
    }
    if (has_g)
        return has_b ? vf_fmadd(u, g, b) : vf_mul(u, g);
    return has_b ? vf_add(u, b) : u;
}

/* What a row's output pass applies besides the norm itself. */
typedef struct row_epilogue {
    const void *z;     /* the gate's row, or NULL */
    const float *exp_z; /* exp(-|z|) for that row, computed ahead (exp_row), or NULL */
    float q_inv;       /* int8 output: 1 / s */
    float *q_scale;    /* int8 output with a dynamic scale: where s goes, or NULL */
    /* Streaming stores (rows larger than the caches): the next row's x and residual (or
     * NULL), fetched toward L2 while this row is written, so that memory keeps working
     * while the processor computes. Without it, rows that compute more per byte (f16, bf16)
     * left memory idle during their output pass (8192x8192 bf16: 1.55x -> 2.1x the rows/s
     * of f32; f32 2048x4096: 1.21x -> 0.96x a memcpy). */
    const void *next_x, *next_r;
} row_epilogue;

static NORM_ALWAYS_INLINE void output_row(void *y, const void *x, const void *g, const void *b,
                                          size_t n, bool nontemporal, row_scale rs, row_epilogue ep,
                                          enum center_mode mode, bool has_g, bool has_b,
                                          bool unit_offset, bool gate_in, bool gate_out,
                                          bool exp_ready, norm_dtype xt, norm_dtype yt,
                                          norm_dtype pt)
{
    const vf c = vf_set1(rs.c), s = vf_set1(rs.s), neg_ds = vf_set1(rs.neg_ds);
    const void *z = ep.z;
    const float *t = ep.exp_z;
    /* y at i, before it is stored: the source (x, or x * silu(z)), normalised, scaled,
     * shifted, and times silu(z) when the gate comes after. */
#define NORM_OUTPUT(i)                                                                   \
    gated_output(output_vector(gate_in ? vf_mul(load_as(x, i, xt), silu(load_as(z, i, xt)))  \
                                       : load_as(x, i, xt),                              \
                               has_g ? load_as(g, i, pt) : s, has_b ? load_as(b, i, pt) : s, \
                               mode, c, s, neg_ds, has_g, has_b, unit_offset),           \
                 gate_out ? load_as(z, i, xt) : s, exp_ready ? vf_load(t + i) : s, gate_out,   \
                 exp_ready)
    /* Partial vectors (an unaligned head, the tail) go through the same vector arithmetic,
     * so a row's result does not depend on where it sits in memory. */
#define NORM_OUTPUT_PART(i, k)                                                           \
    gated_output(output_vector(gate_in ? vf_mul(load_part_as(x, i, k, xt),              \
                                                silu(load_part_as(z, i, k, xt)))         \
                                       : load_part_as(x, i, k, xt),                      \
                               has_g ? load_part_as(g, i, k, pt) : s,                    \
                               has_b ? load_part_as(b, i, k, pt) : s,                    \
                               mode, c, s, neg_ds, has_g, has_b, unit_offset),           \
                 gate_out ? load_part_as(z, i, k, xt) : s,                               \
                 exp_ready ? vf_load_part(t + i, k) : s, gate_out, exp_ready)
    size_t i = 0;
    if (yt == NORM_I8) {
        float q_inv = ep.q_inv;
        if (ep.q_scale) {
            /* The dynamic scale needs the row's largest |y| first: y is computed twice, which
             * costs arithmetic on data already in L1, not another trip to memory. */
            vf m = vf_zero();
            for (; i + NORM_W <= n; i += NORM_W)
                m = vf_max_num(m, vf_abs(NORM_OUTPUT(i)));
            if (i < n)
                m = vf_max_num(m, vf_keep_first(vf_abs(NORM_OUTPUT_PART(i, n - i)), n - i));
            float lanes[NORM_W], amax = 0.0f;
            vf_store(lanes, m);
            for (int l = 0; l < NORM_W; l++)
                amax = lanes[l] > amax ? lanes[l] : amax;
            float scale = amax / 127.0f;
            *ep.q_scale = scale;
            q_inv = scale > 0.0f ? 1.0f / scale : 0.0f;
            i = 0;
        }
        const vf q = vf_set1(q_inv);
        for (; i + NORM_W <= n; i += NORM_W)
            vf_store_i8((int8_t *)y + i, vf_mul(NORM_OUTPUT(i), q));
        if (i < n)
            vf_store_i8_part((int8_t *)y + i, vf_mul(NORM_OUTPUT_PART(i, n - i), q), n - i);
        return;
    }
    const size_t es = norm_dtype_size(yt), vector_bytes = NORM_W * es;
    if (nontemporal && (uintptr_t)y % es == 0) {
        size_t head = (vector_bytes - (uintptr_t)y % vector_bytes) % vector_bytes / es;
        if (head > n)
            head = n;
        if (head) {
            store_part_as(y, 0, NORM_OUTPUT_PART(0, head), head, yt);
            i = head;
        }
        for (; i + NORM_W <= n; i += NORM_W) {
            /* The next row's inputs at i, toward L2 (one vector of f32 is one cache line).
             * Only here: rows in cache or in L3 lost 10-20% to it (4096x128, 2048x1024),
             * where the hardware prefetcher serves them and the prefetches cost issue slots. */
            if (ep.next_x)
                __builtin_prefetch((const char *)ep.next_x + i * norm_dtype_size(xt), 0, 2);
            if (ep.next_r)
                __builtin_prefetch((const char *)ep.next_r + i * norm_dtype_size(xt), 0, 2);
            stream_as(y, i, NORM_OUTPUT(i), yt);
        }
        vf_stream_fence();
    } else {
#ifdef NORM_BF16_PAIRS
        /* bf16 rows: no widening or narrowing shuffles (cvt_<isa>.h); f32 parameters are
         * split into the same even and odd halves. */
        if (xt == NORM_BF16 && yt == NORM_BF16 && !gate_in && !gate_out) {
            for (; i + 2 * NORM_W <= n; i += 2 * NORM_W) {
                vh_pairs xr = vh_load_pairs((const uint16_t *)x + i);
                vf ge = s, go = s, be = s, bo = s;
                if (has_g)
                    load_pairs_as(g, i, pt, &ge, &go);
                if (has_b)
                    load_pairs_as(b, i, pt, &be, &bo);
                vf even = output_vector(vf_bf16_even(xr), ge, be, mode, c, s, neg_ds, has_g, has_b,
                                        unit_offset);
                vf odd = output_vector(vf_bf16_odd(xr), go, bo, mode, c, s, neg_ds, has_g, has_b,
                                       unit_offset);
                vh_store((uint16_t *)y + i, vh_pack_pairs(even, odd));
            }
        }
#endif
        /* Two vectors per iteration: measured 15-20% faster on 1x4096 rows (AMD EPYC, Zen 5),
         * as if one store per iteration held the loop back. */
        for (; i + 2 * NORM_W <= n; i += 2 * NORM_W) {
            store_as(y, i, NORM_OUTPUT(i), yt);
            store_as(y, i + NORM_W, NORM_OUTPUT(i + NORM_W), yt);
        }
        for (; i + NORM_W <= n; i += NORM_W)
            store_as(y, i, NORM_OUTPUT(i), yt);
    }
    if (i < n)
        store_part_as(y, i, NORM_OUTPUT_PART(i, n - i), n - i, yt);
#undef NORM_OUTPUT
#undef NORM_OUTPUT_PART
}

/* The row that is normalised: x's, or the fused h that the sums pass stored. */
static NORM_ALWAYS_INLINE const void *source_row(const norm_job *job, size_t r, norm_dtype xt)
{
    if (job->residual)
        return (const char *)job->residual_out + r * job->residual_out_stride * norm_dtype_size(xt);
    return (const char *)job->x + r * job->x_stride * norm_dtype_size(xt);
}

static NORM_ALWAYS_INLINE const void *gate_row(const norm_job *job, size_t r, norm_dtype xt)
{
    return (const char *)job->gate + r * job->gate_stride * norm_dtype_size(xt);
}

/* Writes row r of y. */
static NORM_ALWAYS_INLINE void output_row_at(const norm_job *job, size_t r, row_scale rs,
                                             enum center_mode mode, bool has_g, bool has_b,
                                             bool unit_offset, bool gate_in, bool gate_out,
                                             norm_dtype xt, norm_dtype yt, norm_dtype pt)
{
    void *y = (char *)job->y + r * job->y_stride * norm_dtype_size(yt);
    const bool prefetch = job->nontemporal && r + 1 < job->rows;
    const size_t es = norm_dtype_size(xt);
    row_epilogue ep = {
        .z = gate_in || gate_out ? gate_row(job, r, xt) : NULL, .q_inv = job->y_inv_scale,
        .q_scale = job->y_scales ? job->y_scales + r : NULL,
        .next_x = prefetch ? (const char *)job->x + (r + 1) * job->x_stride * es : NULL,
        .next_r = prefetch && job->residual
                      ? (const char *)job->residual + (r + 1) * job->residual_stride * es : NULL,
    };
    output_row(y, source_row(job, r, xt), job->gamma, job->beta, job->n, job->nontemporal, rs, ep,
               mode, has_g, has_b, unit_offset, gate_in, gate_out, false, xt, yt, pt);
}

/* ---------------------------------------------------------------- the two norms */

/* The first sums of row r: over x, over the fused h (which they store), or over x * silu(z)
 * (which they store to stash, as f32, unless it is NULL). */
static NORM_ALWAYS_INLINE row_sums first_sums(const norm_job *job, size_t r, float shift,
                                              enum sums_kind what, bool gated, float *stash,
                                              norm_dtype xt, norm_dtype pt)
{
    const void *x = (const char *)job->x + r * job->x_stride * norm_dtype_size(xt);
    if (gated)
        return sum_row_gated(x, gate_row(job, r, xt), stash, job->n, xt);
    if (!job->residual)
        return sum_row_any(x, job->n, shift, what, xt);
    return sum_row_fused(x, (const char *)job->residual + r * job->residual_stride * norm_dtype_size(xt),
                         job->bias, (char *)job->residual_out + r * job->residual_out_stride * norm_dtype_size(xt),
                         job->n, shift, what, xt, pt);
}

/* The job as the scalar row sees it once the fused h is stored: the residual may have been
 * overwritten by h, so the scalar row normalises h as it is. */
static norm_job exact_view(const norm_job *job)
{
    norm_job view = *job;
    if (job->residual) {
        view.x = job->residual_out;
        view.x_stride = job->residual_out_stride;
        view.residual = NULL;
    }
    return view;
}

/* The scalar row for a row the f32 path cannot take (from given moments, if any). */
static void exact_row(const norm_job *job, size_t r, bool layernorm)
{
    norm_job view = exact_view(job);
    (layernorm ? norm_layernorm_row_exact : norm_rmsnorm_row_exact)(&view, r);
}

/* Given moments (the apply step of a split row): the centre and scale, or false if the f32
 * path cannot take them (a scale outside f32's normal range, NaN or Inf). */
static bool given_scale(const norm_job *job, size_t r, bool layernorm, double *mean, double *rstd)
{
    norm_scale_from_moments(job, job->moments[r], layernorm, mean, rstd);
    float s = (float)*rstd, m = (float)*mean;
    return s >= 0x1p-126f && s <= 0x1p127f && m - m == 0.0f;
}

/*
 * Both norms are software-pipelined by one row for rows shorter than NORM_AHEAD_BELOW: the
 * sums of row r+1 are issued before row r is written out, so they overlap the latency of row
 * r's chain from its sums to its rstd, which on short rows bounds the time per row. Longer
 * rows go one at a time, so that a row is still in L1 when its second pass reads it.
 * With given moments there are no sums: each row goes straight to its output.
 */
static NORM_ALWAYS_INLINE void rmsnorm_rows(const norm_job *job, bool has_g, bool has_b,
                                            bool unit_offset, bool gate_in, bool gate_out,
                                            norm_dtype xt, norm_dtype yt, norm_dtype pt)
{
    const size_t n = job->n;
    const double inv_n = 1.0 / (double)n; /* a multiply, not a divide, on each row's critical path */
    const bool given = job->moments != NULL;
    /* With the gate before the norm, x * silu(z) is needed by both passes, and exp is most of
     * the cost: it is kept between them, as f32, in an f32 y row that is not x's (it stays in
     * cache), or else on the stack (two rows when pipelined: row r's is kept while row r+1 is
     * summed), for rows that fit (Mamba-2's groups and Qwen3-Next's heads do); longer rows
     * compute it twice, a stash at a time. With the gate after the norm, the stash holds
     * exp(-|z|) for the part of the row being written. */
    _Alignas(64) float scratch[NORM_STASH];
    const bool ahead = n < NORM_AHEAD_BELOW;
    const bool in_y = gate_in && yt == NORM_F32 && job->y != job->x && !job->nontemporal;
    const bool stash = gate_in && !given && (in_y || n <= NORM_STASH);
#define NORM_STASH_ROW(r)                                                         \
    (!stash ? NULL : in_y ? (float *)job->y + (r) * job->y_stride                 \
                  : scratch + (ahead ? ((r) & 1) * (NORM_STASH / 2) : 0))
    if (job->rows == 0)
        return;
    row_sums next = { 0.0, 0.0 };
    if (!given && ahead)
        next = first_sums(job, 0, 0.0f, SQUARES, gate_in, NORM_STASH_ROW(0), xt, pt);
    for (size_t r = 0; r < job->rows; r++) {
        double rstd, mean;
        if (given) {
            if (!given_scale(job, r, false, &mean, &rstd)) {
                exact_row(job, r, false);
                continue;
            }
        } else {
            row_sums sums = ahead ? next : first_sums(job, r, 0.0f, SQUARES, gate_in, NORM_STASH_ROW(r), xt, pt);
            if (ahead && r + 1 < job->rows)
                next = first_sums(job, r + 1, 0.0f, SQUARES, gate_in, NORM_STASH_ROW(r + 1), xt, pt);
            if (!sums_in_range(sums.squares, job->eps)) {
                exact_row(job, r, false);
                continue;
            }
            rstd = row_rstd(sums.squares * inv_n, job->eps, job->eps_outside_sqrt);
        }
        row_scale rs = { 0.0f, (float)rstd, 0.0f };
        if (gate_in && stash) {
            void *y = (char *)job->y + r * job->y_stride * norm_dtype_size(yt);
            row_epilogue ep = { .q_inv = job->y_inv_scale, .q_scale = job->y_scales ? job->y_scales + r : NULL };
            output_row(y, NORM_STASH_ROW(r), job->gamma, job->beta, n, job->nontemporal, rs,
                       ep, SCALE_ONLY, has_g, has_b, unit_offset, false, false, false, NORM_F32, yt, pt);
        } else if ((gate_in || gate_out) && (n <= NORM_STASH || !job->y_scales)) {
            /* x * silu(z) (gate before), or exp(-|z|) (gate after; the output pass forms silu
             * from it), first, in loops of their own, for as much of the row as the stash holds,
             * then that part of the output. (A dynamic int8 scale needs the whole row's outputs
             * at once: longer rows compute silu in the output loop.) */
            const size_t xs = norm_dtype_size(xt), ys = norm_dtype_size(yt), ps = norm_dtype_size(pt);
            const char *src = (const char *)source_row(job, r, xt), *z = (const char *)gate_row(job, r, xt);
            char *y = (char *)job->y + r * job->y_stride * ys;
            const char *g = (const char *)job->gamma, *b = (const char *)job->beta;
            row_epilogue ep = { .exp_z = gate_out ? scratch : NULL, .q_inv = job->y_inv_scale,
                                .q_scale = job->y_scales ? job->y_scales + r : NULL };
            for (size_t at = 0; at < n; at += NORM_STASH) {
                size_t len = n - at < NORM_STASH ? n - at : NORM_STASH;
                const void *gp = has_g ? g + at * ps : NULL, *bp = has_b ? b + at * ps : NULL;
                if (gate_in) {
                    silu_row(scratch, src + at * xs, z + at * xs, len, xt);
                    output_row(y + at * ys, scratch, gp, bp, len, job->nontemporal, rs, ep, SCALE_ONLY,
                               has_g, has_b, unit_offset, false, false, false, NORM_F32, yt, pt);
                } else {
                    exp_row(scratch, z + at * xs, len, xt);
                    ep.z = z + at * xs;
                    output_row(y + at * ys, src + at * xs, gp, bp, len, job->nontemporal, rs, ep, SCALE_ONLY,
                               has_g, has_b, unit_offset, false, true, true, xt, yt, pt);
                }
            }
        } else {
            output_row_at(job, r, rs, SCALE_ONLY, has_g, has_b, unit_offset, gate_in, gate_out, xt, yt, pt);
        }
        norm_store_stats(job, r, 0.0, rstd);
    }
#undef NORM_STASH_ROW
}

/*
 * Plain rows (f32 x and parameters; no residual add, gate, given moments or streaming stores;
 * int8 y on long rows), the common call: the sums are inlined and the job's fields held in
 * locals, so a short row costs its two loops and little else. RMSNorm's need no explicit
 * pipelining (the processor overlaps one row with the next by itself); LayerNorm's short
 * rows do (layernorm_plain_rows). The arithmetic is that of the general path (the same
 * inline sums and output code), so a row's result does not depend on which path took it.
 */
static inline bool norm_plain(const norm_job *job, norm_dtype xt, norm_dtype pt)
{
    /* Half-precision rows keep the shared out-of-line sums: a plain path for them made the
     * library 7.9 MB instead of 6.7 and was no faster. Short int8 rows are faster pipelined
     * (4096x128: 1.8x their floor, 3.4x plain). */
    return xt == NORM_F32 && pt == NORM_F32 && !job->residual && !job->gate && !job->moments &&
           !job->nontemporal && (job->y_type != NORM_I8 || job->n >= NORM_AHEAD_BELOW);
}

/* A plain call's fields, read once: stores to y could alias the job, so fields read in the
 * loop would be read again on every row. */
typedef struct plain_call {
    size_t n, rows, x_step, y_step;
    const void *gamma, *beta;
    double inv_n;
    float eps, q_inv;
    float *q_scales;
    bool eps_outside_sqrt;
} plain_call;

static NORM_ALWAYS_INLINE plain_call plain_call_of(const norm_job *job, norm_dtype xt, norm_dtype yt)
{
    plain_call c = { job->n, job->rows, job->x_stride * norm_dtype_size(xt),
                     job->y_stride * norm_dtype_size(yt), job->gamma, job->beta,
                     1.0 / (double)job->n, job->eps, job->y_inv_scale, job->y_scales,
                     job->eps_outside_sqrt };
    return c;
}

/* Row r's epilogue: its int8 scale, if any. */
static NORM_ALWAYS_INLINE row_epilogue plain_epilogue(const plain_call *c, size_t r)
{
    row_epilogue ep = { .q_inv = c->q_inv, .q_scale = c->q_scales ? c->q_scales + r : NULL };
    return ep;
}

static NORM_ALWAYS_INLINE void rmsnorm_plain_rows(const norm_job *job, bool has_g, bool has_b,
                                                  bool unit_offset, norm_dtype xt, norm_dtype yt,
                                                  norm_dtype pt)
{
    const plain_call c = plain_call_of(job, xt, yt);
    const size_t n = c.n;
    const char *x = (const char *)job->x;
    char *y = (char *)job->y;
    float *rstd_out = job->rstd;
    for (size_t r = 0; r < c.rows; r++, x += c.x_step, y += c.y_step) {
        row_source src = { x, NULL, NULL, NULL };
        row_sums sums = sum_row_inline(src, n, 0.0f, false, false, false, false, xt, pt);
        if (!sums_in_range(sums.squares, c.eps)) {
            exact_row(job, r, false);
            continue;
        }
        double rstd = row_rstd(sums.squares * c.inv_n, c.eps, c.eps_outside_sqrt);
        row_scale rs = { 0.0f, (float)rstd, 0.0f };
        output_row(y, x, c.gamma, c.beta, n, false, rs, plain_epilogue(&c, r), SCALE_ONLY, has_g,
                   has_b, unit_offset, false, false, false, xt, yt, pt);
        if (rstd_out)
            rstd_out[r] = (float)rstd;
    }
}

/* LayerNorm's output scale and how to apply it: u = (x - c) * s with c the mean rounded to
 * f32, plus (mean - c) * s, the part of the mean that c lost, only when that can matter. When
 * |mean| * s <= 1 it is below 2^-24 and is left out: a subtraction and two multiplies ran
 * 1.2x faster than the multiply-add and multiply of u = x * s - mean * s on Zen 5 (one 4096
 * row in L1), where the subtraction goes to an adder that the multiplies leave idle. */
static inline row_scale layernorm_scale(double mean, double rstd, enum center_mode *mode)
{
    float centre = (float)mean;
    if (fabs(mean) * rstd <= 1.0) {
        *mode = CENTER_MEAN;
        return (row_scale){ centre, (float)rstd, 0.0f };
    }
    *mode = CENTER_SHIFTED;
    return (row_scale){ centre, (float)rstd, (float)(-(mean - centre) * rstd) };
}

/* LayerNorm's sums around shift: a shift of 0 saves the subtraction. */
static NORM_ALWAYS_INLINE enum sums_kind sums_around(float shift)
{
    return shift == 0.0f ? SUMS : SUMS_SHIFTED;
}

/* One pass gives sum(x - c) and sum((x - c)^2), whose variance loses accuracy when c is far
 * from the mean. A row whose shift proves poor (mean^2 > var / 4 around it) is summed again
 * around its own mean, so the guess only ever costs time, never accuracy. Returns false if
 * the row needs the scalar path all the same. */
static NORM_ALWAYS_INLINE bool layernorm_stats(const void *x, size_t n, double inv_n, float *shift,
                                               row_sums sums, float eps, double *mean, double *var,
                                               norm_dtype xt)
{
    double d = sums.sum * inv_n;
    *var = sums.squares * inv_n - d * d;
    if (d * d > 0.25 * *var && sums_in_range(sums.squares, eps)) {
        *shift = (float)(*shift + d);
        sums = sum_row_any(x, n, *shift, sums_around(*shift), xt);
        d = sums.sum * inv_n;
        *var = sums.squares * inv_n - d * d;
    }
    *mean = *shift + d;
    return sums_in_range(sums.squares, eps) && d * d <= 0.25 * *var;
}

/* Row r's shift (row_shift, of h for the fused residual add). */
static NORM_ALWAYS_INLINE float layernorm_shift(const norm_job *job, size_t r, norm_dtype xt, norm_dtype pt)
{
    const size_t es = norm_dtype_size(xt);
    return row_shift_any((const char *)job->x + r * job->x_stride * es,
                         job->residual ? (const char *)job->residual + r * job->residual_stride * es : NULL,
                         job->residual ? job->bias : NULL, sample_size(job->n), xt, pt);
}

static NORM_ALWAYS_INLINE row_sums layernorm_sums(const norm_job *job, size_t r, float shift, norm_dtype xt,
                                                  norm_dtype pt)
{
    return first_sums(job, r, shift, sums_around(shift), false, NULL, xt, pt);
}

static NORM_ALWAYS_INLINE void layernorm_rows(const norm_job *job, bool has_g, bool has_b,
                                              bool unit_offset, norm_dtype xt, norm_dtype yt,
                                              norm_dtype pt)
{
    const size_t n = job->n, rows = job->rows;
    const double inv_n = 1.0 / (double)n;
    const bool given = job->moments != NULL;
    if (rows == 0)
        return;
    /* Short rows: sums one row ahead and shifts two rows ahead, as layernorm_plain_rows. */
    const bool ahead = n < NORM_AHEAD_BELOW && !given;
    row_sums next = { 0.0, 0.0 };
    float next_shift = 0.0f, later_shift = 0.0f;
    if (ahead) {
        next_shift = layernorm_shift(job, 0, xt, pt);
        next = layernorm_sums(job, 0, next_shift, xt, pt);
        if (rows > 1)
            later_shift = layernorm_shift(job, 1, xt, pt);
    }
    /* Long rows: the next row's shift overlaps this row's output pass, as in layernorm_plain_rows. */
    float long_shift = !given && !ahead ? layernorm_shift(job, 0, xt, pt) : 0.0f;
    for (size_t r = 0; r < rows; r++) {
        double mean, rstd;
        if (given) {
            if (!given_scale(job, r, true, &mean, &rstd)) {
                exact_row(job, r, true);
                continue;
            }
        } else {
            double var;
            if (!ahead) {
                next_shift = long_shift;
                next = layernorm_sums(job, r, next_shift, xt, pt);
                if (r + 1 < rows)
                    long_shift = layernorm_shift(job, r + 1, xt, pt);
            }
            float shift = next_shift;
            bool fast = layernorm_stats(source_row(job, r, xt), n, inv_n, &shift, next, job->eps,
                                        &mean, &var, xt);
            if (ahead && r + 1 < rows) {
                next_shift = later_shift;
                next = layernorm_sums(job, r + 1, next_shift, xt, pt);
                if (r + 2 < rows)
                    later_shift = layernorm_shift(job, r + 2, xt, pt);
            }
            if (!fast) {
                exact_row(job, r, true);
                continue;
            }
            rstd = row_rstd(var, job->eps, job->eps_outside_sqrt);
        }
        enum center_mode mode;
        row_scale rs = layernorm_scale(mean, rstd, &mode);
        if (mode == CENTER_MEAN)
            output_row_at(job, r, rs, CENTER_MEAN, has_g, has_b, unit_offset, false, false, xt, yt, pt);
        else
            output_row_at(job, r, rs, CENTER_SHIFTED, has_g, has_b, unit_offset, false, false, xt, yt, pt);
        norm_store_stats(job, r, mean, rstd);
    }
}

/* LayerNorm's plain rows: as layernorm_rows (the same shifts and sums, so the same results),
 * with the shift and the sums inlined. */
static NORM_ALWAYS_INLINE void layernorm_plain_rows(const norm_job *job, bool has_g, bool has_b,
                                                    bool unit_offset, norm_dtype xt, norm_dtype yt,
                                                    norm_dtype pt)
{
    const plain_call c = plain_call_of(job, xt, yt);
    const size_t n = c.n, rows = c.rows;
    const char *x = (const char *)job->x;
    char *y = (char *)job->y;
    /* Short rows: the next row's sums before this row's output, because their chain from
     * sums to rstd is longer than their loops and the processor cannot see that far ahead;
     * and the shift of the row after that, so that its sample is off the next sums' chain
     * (a float carried across the loop costs no accumulator registers). Long rows: one row at
     * a time, which keeps the row in L1 between its two passes. */
    const bool ahead = n < NORM_AHEAD_BELOW;
    const size_t m = sample_size(n);
#define NORM_PLAIN_SHIFT(row) row_shift((row_source){ (row), NULL, NULL, NULL }, m, false, false, xt, pt)
#define NORM_PLAIN_SUMS(row, shift)                                                          \
    ((shift) == 0.0f                                                                         \
         ? sum_row_inline((row_source){ (row), NULL, NULL, NULL }, n, 0.0f, false, true,     \
                          false, false, xt, pt)                                              \
         : sum_row_inline((row_source){ (row), NULL, NULL, NULL }, n, (shift), true, true,   \
                          false, false, xt, pt))
    float next_shift = 0.0f, later_shift = 0.0f;
    row_sums next = { 0.0, 0.0 };
    if (rows && ahead) {
        next_shift = NORM_PLAIN_SHIFT(x);
        next = NORM_PLAIN_SUMS(x, next_shift);
        if (rows > 1)
            later_shift = NORM_PLAIN_SHIFT(x + c.x_step);
    }
    /* Long rows: the next row's shift right after this row's sums are issued, so that its
     * sample overlaps this row's output pass; only a call's first row waits for its own. */
    float long_shift = rows && !ahead ? NORM_PLAIN_SHIFT(x) : 0.0f;
    for (size_t r = 0; r < rows; r++, x += c.x_step, y += c.y_step) {
        if (!ahead) {
            next_shift = long_shift;
            next = NORM_PLAIN_SUMS(x, next_shift);
            if (r + 1 < rows)
                long_shift = NORM_PLAIN_SHIFT(x + c.x_step);
        }
        double mean, var;
        float shift = next_shift;
        bool fast = layernorm_stats(x, n, c.inv_n, &shift, next, c.eps, &mean, &var, xt);
        if (ahead && r + 1 < rows) {
            next_shift = later_shift;
            next = NORM_PLAIN_SUMS(x + c.x_step, next_shift);
            if (r + 2 < rows)
                later_shift = NORM_PLAIN_SHIFT(x + 2 * c.x_step);
        }
        if (!fast) {
            exact_row(job, r, true);
            continue;
        }
        double rstd = row_rstd(var, c.eps, c.eps_outside_sqrt);
        enum center_mode mode;
        row_scale rs = layernorm_scale(mean, rstd, &mode);
        const row_epilogue ep = plain_epilogue(&c, r);
        if (mode == CENTER_MEAN)
            output_row(y, x, c.gamma, c.beta, n, false, rs, ep, CENTER_MEAN, has_g, has_b,
                       unit_offset, false, false, false, xt, yt, pt);
        else
            output_row(y, x, c.gamma, c.beta, n, false, rs, ep, CENTER_SHIFTED, has_g, has_b,
                       unit_offset, false, false, false, xt, yt, pt);
        norm_store_stats(job, r, mean, rstd);
    }
#undef NORM_PLAIN_SUMS
#undef NORM_PLAIN_SHIFT
}

/* The moments of each row (the first step of a split row): the same sums as the norms,
 * turned into (count, mean, m2); rows the f32 sums cannot take go to the scalar row. */
static NORM_ALWAYS_INLINE void moments_rows(const norm_job *job, bool layernorm, norm_dtype xt,
                                            norm_dtype pt)
{
    const size_t n = job->n;
    const double inv_n = 1.0 / (double)n;
    const bool gated = job->gate != NULL;
    for (size_t r = 0; r < job->rows; r++) {
        norm_moments m = { (double)n, 0.0, 0.0 };
        bool fast;
        if (layernorm) {
            float shift = layernorm_shift(job, r, xt, pt);
            double var;
            row_sums sums = layernorm_sums(job, r, shift, xt, pt);
            fast = layernorm_stats(source_row(job, r, xt), n, inv_n, &shift, sums, 0.0f, &m.mean, &var, xt);
            m.m2 = var * (double)n;
        } else {
            row_sums sums = first_sums(job, r, 0.0f, SQUARES, gated, NULL, xt, pt);
            fast = sums_in_range(sums.squares, 0.0f);
            m.m2 = sums.squares;
        }
        if (!fast) {
            norm_job view = exact_view(job);
            m = norm_moments_row_exact(&view, r, layernorm);
        }
        job->moments_out[r] = m;
    }
}

/* ---------------------------------------------------------------- instances */

#define NORM_DT_f32 NORM_F32
#define NORM_DT_f16 NORM_F16
#define NORM_DT_bf16 NORM_BF16
#define NORM_DT_i8 NORM_I8

#define NORM_KERNEL_NAME(op, x, y, p) NORM_FN(op##_##x##_##y##_##p)

#define NORM_DEFINE(x, y, p)                                                              \
    static NORM_KERNEL(NORM_KERNEL_NAME(rmsnorm, x, y, p))                               \
    {                                                                                     \
        const norm_dtype xt = NORM_DT_##x, yt = NORM_DT_##y, pt = NORM_DT_##p;            \
        NORM_WITH_PARAMS(job, NORM_RMS_CASE);                                             \
    }                                                                                     \
    static NORM_KERNEL(NORM_KERNEL_NAME(layernorm, x, y, p))                             \
    {                                                                                     \
        const norm_dtype xt = NORM_DT_##x, yt = NORM_DT_##y, pt = NORM_DT_##p;            \
        NORM_WITH_PARAMS(job, NORM_LN_CASE);                                              \
    }                                                                                     \
    static NORM_KERNEL(NORM_KERNEL_NAME(rmsnorm_gated, x, y, p))                         \
    {                                                                                     \
        const norm_dtype xt = NORM_DT_##x, yt = NORM_DT_##y, pt = NORM_DT_##p;            \
        if (job->beta || job->unit_offset) {                                              \
            norm_rows_exact(job);                                                         \
            return;                                                                       \
        }                                                                                 \
        bool g = job->gamma != NULL;                                                      \
        if (job->gate_before)                                                             \
            g ? NORM_RMS_GATE_BEFORE_CASE(true, false, false)                             \
              : NORM_RMS_GATE_BEFORE_CASE(false, false, false);                           \
        else                                                                              \
            g ? NORM_RMS_GATE_AFTER_CASE(true, false, false)                              \
              : NORM_RMS_GATE_AFTER_CASE(false, false, false);                            \
    }
/* Gated RMSNorm as Mamba-2 and Qwen3-Next use it has gamma or nothing: a beta or the unit
 * offset with a gate is left to the scalar rows, which keeps the number of kernels (and the
 * library's size) down for combinations no engine has been seen to use. */
static void norm_rows_exact(const norm_job *job)
{
    for (size_t r = 0; r < job->rows; r++)
        norm_rmsnorm_row_exact(job, r);
}
#define NORM_RMS_CASE(g, b, off)                                                          \
    (norm_plain(job, xt, pt) ? rmsnorm_plain_rows(job, g, b, off, xt, yt, pt)            \
         : rmsnorm_rows(job, g, b, off, false, false, xt, yt, pt))
#define NORM_RMS_GATE_BEFORE_CASE(g, b, off) rmsnorm_rows(job, g, b, off, true, false, xt, yt, pt)
#define NORM_RMS_GATE_AFTER_CASE(g, b, off) rmsnorm_rows(job, g, b, off, false, true, xt, yt, pt)
#define NORM_LN_CASE(g, b, off)                                                           \
    (norm_plain(job, xt, pt) ? layernorm_plain_rows(job, g, b, off, xt, yt, pt)          \
         : layernorm_rows(job, g, b, off, xt, yt, pt))
#define NORM_REGISTER(x, y, p)                                                            \
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
 * table: norm_init_kernels_<isa>. */
#define NORM_INSTANTIATE(list, moments_list)                                              \
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
