/* A row's sums: of squares (RMSNorm), and of values and squares around a shift (LayerNorm),
 * for x or the fused h; and the rstd they give. */
#ifndef NORM_SIMD_SUMS_H
#define NORM_SIMD_SUMS_H

/* ---------------------------------------------------------------- statistics */

/* f32 sums of squares outside [2^-80, 2^120] lose accuracy or overflow: use the exact row.
 * (Below 2^-80 it matters only when eps does not dominate the mean square.) The common case
 * is one unsigned compare of the bits (positive doubles order as their bits; a negative sum,
 * a NaN or an infinity falls outside), eps looked at only outside it: as two or three
 * compares and branches on the chain from the sums to rstd, a 1x288 RMSNorm call took 5-8%
 * longer (Zen 5, see the commit). */
#define NORM_SUMS_LO 0x3af0000000000000ull /* the bits of 0x1p-80 */
#define NORM_SUMS_HI 0x4770000000000000ull /* the bits of 0x1p120 */
static inline bool sums_in_range(double sum_squares, float eps)
{
    uint64_t bits;
    __builtin_memcpy(&bits, &sum_squares, sizeof bits);
    if (__builtin_expect(bits - NORM_SUMS_LO <= NORM_SUMS_HI - NORM_SUMS_LO, 1))
        return true;
    return sum_squares <= 0x1p120 && eps >= 0x1p-60f; /* below 2^-80 (or 0): eps dominates */
}

/* A row's rstd from its mean square (RMSNorm) or variance (LayerNorm), for sums that
 * sums_in_range let through. With AVX-512 and eps inside the root, 1 / sqrt(v) is the 14-bit
 * estimate refined by one Newton step in double: its relative error (below 2^-27) is small
 * against the 2^-24 of rounding rstd to f32, and it takes the square root and the division,
 * which share a divider that is not pipelined, off each row's chain from its sums to its
 * output. The estimate takes no subnormals, and needs no test for them: v = ms + eps is at
 * least 0.8 * 2^-80 / n (LayerNorm's variance is at least 0.8 of the shifted mean square) or
 * eps >= 2^-60, and at most 2^120 + FLT_MAX, a normal double. (A stage that computes rstd
 * before it looks at the range, rmsnorm_plain_i8's, discards a value out of range.) */
#if NORM_HAS_RSQRT14
#if !NORM_HAS_FMA
#error "row_rstd's Newton step uses a fused multiply-add"
#endif
/* r (1.5 - (v / 2) r^2), the step's last two roundings in one multiply-add: each of these
 * is on the chain from a row's sums to its output, which bounds a short row's time (see
 * rms_rstd). */
static inline double rsqrt_newton(double v)
{
    double r = vd_rsqrt14(v), hr = (0.5 * v) * r;
    return r * __builtin_fma(-hr, r, 1.5);
}
#endif

static inline double row_rstd(double ms, double eps, bool eps_outside_sqrt)
{
#if NORM_HAS_RSQRT14
    if (!eps_outside_sqrt)
        return rsqrt_newton(ms + eps);
#endif
    return norm_rstd(ms, eps, eps_outside_sqrt);
}

/* RMSNorm's rstd from a row's sum of squares, with the estimate: v = squares / n + eps in one
 * multiply-add. A short row's time is bound by its chain from the last load to the first
 * store, as much in a loop of independent calls as in a model's chain of dependent ones:
 * with the two multiply-adds (here and in rsqrt_newton), a dense 1x288 call took 30.8 ns
 * instead of 32.4 (Zen 5; see the commit). */
static inline double rms_rstd(double squares, double inv_n, double eps, bool eps_outside_sqrt)
{
#if NORM_HAS_RSQRT14
    if (!eps_outside_sqrt)
        return rsqrt_newton(__builtin_fma(squares, inv_n, eps));
#endif
    return norm_rstd(squares * inv_n, eps, eps_outside_sqrt);
}

typedef struct row_sums {
    double sum;     /* sum of (x - shift), when asked for */
    double squares; /* sum of (x - shift)^2 */
} row_sums;

/*
 * What every sums loop keeps: n pairs of f32 accumulators, s1_u (values) and s2_u (squares),
 * and the f64 sums d1 and d2 they are folded into at the end of each block (so that no lane
 * takes more than NORM_FOLD terms before its fold). The first fold starts the f64 sums rather
 * than adding to zero: on a short row that add is on the chain from the last load to rstd
 * (4096x128: -3%). The loops reset, accumulate and fold only through these.
 */
#define NORM_SUMS_ACC(u) vf s1_##u = vf_zero(), s2_##u = vf_zero();
#define NORM_SUMS_DECLARE(n)     \
    NORM_EACH(n, NORM_SUMS_ACC)  \
    vd d1 = vd_zero(), d2 = vd_zero(); \
    bool first = true;
#define NORM_SUMS_ZERO(u) s1_##u = s2_##u = vf_zero();
#define NORM_SUMS_RESET(n) NORM_EACH(n, NORM_SUMS_ZERO)
#define NORM_SUMS_FOLD_PAIR(a, b)                                \
    s1_##a = vf_add(s1_##a, s1_##b);                             \
    s2_##a = vf_add(s2_##a, s2_##b);
#define NORM_SUMS_FOLD(n, want_sum)                                           \
    do {                                                                      \
        NORM_FOLD_TREE(n, NORM_SUMS_FOLD_PAIR)                                \
        if (want_sum)                                                         \
            d1 = first ? vd_from_vf(s1_0) : vd_add(d1, vd_from_vf(s1_0));     \
        d2 = first ? vd_from_vf(s2_0) : vd_add(d2, vd_from_vf(s2_0));         \
        first = false;                                                        \
    } while (0)

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
#define NORM_DOT_ACCS 8 /* a literal: unroll.h pastes it */
#define NORM_DOT_MIN 512 /* shorter rows keep the pairs path: eight accumulators are too many */
static NORM_ALWAYS_INLINE row_sums sum_row_dot(row_source src, size_t n, bool want_sum, src_shape ss)
{
    const size_t step = 2 * NORM_W, group = step * NORM_DOT_ACCS;
    const vh_pairs ones = vh_ones();
    NORM_SUMS_DECLARE(NORM_DOT_ACCS)
    size_t i = 0;
/* v is evaluated once: fetching a fused row stores h, which may be r itself. */
#define NORM_DOT_ACCUMULATE(u, v)                                \
    do {                                                         \
        vh_pairs p_ = (v);                                       \
        if (want_sum)                                            \
            s1_##u = vf_dot_pairs(s1_##u, p_, ones);             \
        s2_##u = vf_dot_pairs(s2_##u, p_, p_);                   \
    } while (0);
#define NORM_DOT_STEP(u) NORM_DOT_ACCUMULATE(u, fetch_packed_pairs(src, i + (size_t)(u) * step, ss))
#define NORM_DOT_LEFT(u)                                                         \
    if (i + step <= n) {                                                         \
        NORM_DOT_ACCUMULATE(u, fetch_packed_pairs(src, i, ss))     \
        i += step;                                                               \
    }
#define NORM_DOT_TAIL(u)                                                         \
    for (; i < n; i += NORM_W) {                                                 \
        vf t = n - i >= NORM_W ? fetch(src, i, ss) : fetch_part(src, i, n - i, ss); \
        if (want_sum)                                                            \
            s1_##u = vf_add(s1_##u, t);                                          \
        s2_##u = vf_fmadd(t, t, s2_##u);                                         \
    }
    for (;;) {
        NORM_SUMS_RESET(NORM_DOT_ACCS)
        size_t block_end = n - i > group * (NORM_FOLD / 2) ? i + group * (NORM_FOLD / 2) : n;
        for (; i + group <= block_end; i += group) {
            NORM_EACH(NORM_DOT_ACCS, NORM_DOT_STEP)
        }
        bool last = block_end == n;
        if (last) {
            /* Whole pairs round-robin, then the tail into the last accumulator. */
            NORM_EACH_BUT_LAST(NORM_DOT_ACCS, NORM_DOT_LEFT)
            NORM_APPLY(NORM_DOT_TAIL, NORM_LAST(NORM_DOT_ACCS))
        }
        NORM_SUMS_FOLD(NORM_DOT_ACCS, want_sum);
        if (last)
            break;
    }
#undef NORM_DOT_ACCUMULATE
#undef NORM_DOT_STEP
#undef NORM_DOT_LEFT
#undef NORM_DOT_TAIL
    row_sums r = { want_sum ? vd_sum(d1) : 0.0, vd_sum(d2) };
    return r;
}

/* sum_row_dot out of line, for x alone or the fused h = x + r (+ b): inlined next to the pairs
 * path, it made the short rows that keep that path 4-6% slower (4096x128). */
static __attribute__((noinline)) row_sums sum_row_dot_any(const void *x, const void *r, const void *b,
                                                          void *h, size_t n, bool want_sum, norm_dtype pt)
{
    const row_source src = { x, r, b, h };
    const src_shape plain = NORM_PLAIN_SOURCE(NORM_BF16), fused = { NORM_BF16, NORM_BF16, true, false },
                    bias_x = { NORM_BF16, NORM_BF16, true, true }, bias_f32 = { NORM_BF16, NORM_F32, true, true };
    if (!r)
        return want_sum ? sum_row_dot(src, n, true, plain) : sum_row_dot(src, n, false, plain);
    if (!b)
        return want_sum ? sum_row_dot(src, n, true, fused) : sum_row_dot(src, n, false, fused);
    if (pt == NORM_BF16)
        return want_sum ? sum_row_dot(src, n, true, bias_x) : sum_row_dot(src, n, false, bias_x);
    return want_sum ? sum_row_dot(src, n, true, bias_f32) : sum_row_dot(src, n, false, bias_f32);
}
#endif

/* The sums of one row of source shape ss: of squares (SQUARES), or of values and squares,
 * around 0 (SUMS) or around shift (SUMS_SHIFTED). */
enum sums_kind { SQUARES, SUMS, SUMS_SHIFTED };

/* The loop with NORM_UNROLL accumulators, and with half as many for short f32 rows. */
#define NORM_SUMS_ACCS NORM_UNROLL
#define NORM_SUMS_NAME sum_row_wide
#include "sums_loop.h"
#define NORM_SUMS_ACCS NORM_SHORT_UNROLL
#define NORM_SUMS_NAME sum_row_narrow
#include "sums_loop.h"

/*
 * A row's sums. LayerNorm's f32 rows of up to NORM_SHORT_SUMS_MAX elements take half the
 * accumulators: such a row is a few vectors, its rows are pipelined (rows.h), so what counts
 * is the operations, and the fold of every accumulator into f64 is a large part of them.
 * RMSNorm's rows are not pipelined, and with half the accumulators their chains grew longer
 * (slower): they keep all.
 * The choice depends on the sums asked for and the row's length only, and every path (plain,
 * general, fused, moments) sums through here, so a row keeps its bits wherever it is summed.
 */
static NORM_ALWAYS_INLINE row_sums sum_row_inline(row_source src, size_t n, float shift, enum sums_kind what,
                                                  src_shape ss)
{
#if NORM_BF16_DOT
    if (ss.xt == NORM_BF16 && what != SUMS_SHIFTED && n >= NORM_DOT_MIN)
        return sum_row_dot_any(src.x, ss.fused ? src.r : NULL, ss.fused && ss.has_b ? src.b : NULL, src.h, n,
                               what != SQUARES, ss.pt);
#endif
    if (ss.xt == NORM_F32 && what != SQUARES && n <= NORM_SHORT_SUMS_MAX)
        return sum_row_narrow(src, n, shift, what, ss);
    return sum_row_wide(src, n, shift, what, ss);
}

/* The sums kernels call, out of line: one copy per (what, type) serves every output type
 * and gamma/beta case, which keeps the library small at the cost of a call per row. One
 * function each, so that a kernel whose types are constants calls its own directly: through
 * one function that switched on both, a 4096x128 bf16 row paid 10 instructions for the two
 * switches and the frame they needed (avx2, callgrind). */
#define NORM_SUMS_FN(what, t)                                                                  \
    static NORM_OUT_OF_LINE row_sums sum_row_##what##_##t(const void *x, size_t n, float shift)   \
    {                                                                                          \
        (void)shift;                                                                           \
        const row_source src = { x, NULL, NULL, NULL };                                        \
        return sum_row_inline(src, n, what == SUMS_SHIFTED ? shift : 0.0f, what,               \
                              NORM_PLAIN_SOURCE(NORM_DT_##t));                                 \
    }
#define NORM_SUMS_FNS(t) NORM_SUMS_FN(SQUARES, t) NORM_SUMS_FN(SUMS, t) NORM_SUMS_FN(SUMS_SHIFTED, t)
NORM_SUMS_FNS(f32)
NORM_SUMS_FNS(f16)
NORM_SUMS_FNS(bf16)
#undef NORM_SUMS_FNS
#undef NORM_SUMS_FN

static NORM_ALWAYS_INLINE row_sums sum_row_kind(const void *x, size_t n, float shift, enum sums_kind what,
                                                row_sums (*squares)(const void *, size_t, float),
                                                row_sums (*sums)(const void *, size_t, float),
                                                row_sums (*shifted)(const void *, size_t, float))
{
    return (what == SQUARES ? squares : what == SUMS ? sums : shifted)(x, n, shift);
}

/* A row's sums, by its source type: the call is direct where what and xt are constants. */
static NORM_ALWAYS_INLINE row_sums sum_row_any(const void *x, size_t n, float shift, enum sums_kind what,
                                               norm_dtype xt)
{
    switch (xt) {
    case NORM_F16:
        return sum_row_kind(x, n, shift, what, sum_row_SQUARES_f16, sum_row_SUMS_f16, sum_row_SUMS_SHIFTED_f16);
    case NORM_BF16:
        return sum_row_kind(x, n, shift, what, sum_row_SQUARES_bf16, sum_row_SUMS_bf16, sum_row_SUMS_SHIFTED_bf16);
    default:
        return sum_row_kind(x, n, shift, what, sum_row_SQUARES_f32, sum_row_SUMS_f32, sum_row_SUMS_SHIFTED_f32);
    }
}

/* The fused h's sums for one (x type, bias, bias type): squares, or sums around the shift.
 * LayerNorm's sums of h go around the shift even when it is 0 (x - 0 is x: the same bits as
 * the unshifted loop), one loop fewer for a path bound by its three streams; except bf16 rows
 * long enough for the dot-product sums, which a row alone takes when its shift is 0 (A/B
 * against 40b390e, Zen 5: 1x4096 fused bf16 LayerNorm had become 1.14-1.17x slower without
 * them). */
static NORM_ALWAYS_INLINE row_sums sum_fused_kind(row_source src, size_t n, float shift, enum sums_kind what,
                                                  bool has_b, norm_dtype xt, norm_dtype pt)
{
    const src_shape ss = { xt, pt, true, has_b };
    if (what == SQUARES)
        return sum_row_inline(src, n, 0.0f, SQUARES, ss);
#if NORM_BF16_DOT
    if (what == SUMS && xt == NORM_BF16 && n >= NORM_DOT_MIN)
        return sum_row_dot_any(src.x, src.r, has_b ? src.b : NULL, src.h, n, true, pt);
#endif
    return sum_row_inline(src, n, shift, SUMS_SHIFTED, ss);
}

/* Where a fused row's bias comes from: none, or n values of f32 or of x's type. */
static NORM_ALWAYS_INLINE row_sums sum_fused_bias(row_source src, size_t n, float shift, enum sums_kind what,
                                                  norm_dtype xt, norm_dtype pt)
{
    if (!src.b)
        return sum_fused_kind(src, n, shift, what, false, xt, xt);
    if (pt == xt)
        return sum_fused_kind(src, n, shift, what, true, xt, xt);
    return sum_fused_kind(src, n, shift, what, true, xt, NORM_F32);
}

/* The same over the fused h = x + r (+ b), which it also stores. (The pointers come as
 * separate arguments: a struct passed by value would go through the stack on every call.) */
static NORM_OUT_OF_LINE row_sums sum_row_fused(const void *x, const void *r,
                                                        const void *b, void *h, size_t n,
                                                        float shift, enum sums_kind what,
                                                        norm_dtype xt, norm_dtype pt)
{
    const row_source src = { x, r, b, h };
    switch (xt) {
    case NORM_F16:
        return sum_fused_bias(src, n, shift, what, NORM_F16, pt);
    case NORM_BF16:
        return sum_fused_bias(src, n, shift, what, NORM_BF16, pt);
    default:
        return sum_fused_bias(src, n, shift, what, NORM_F32, NORM_F32);
    }
}
#endif
