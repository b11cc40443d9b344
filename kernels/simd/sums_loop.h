/*
 * The loop of a row's sums with NORM_SUMS_ACCS accumulators, as the function NORM_SUMS_NAME.
 * sums.h includes it once per accumulator count (the two macros defined before each include,
 * undefined here after it): the same loop, in the same order for a given count, wherever a
 * row is summed, so a row's bits depend only on its length and values.
 */
#if !defined(NORM_SUMS_ACCS) || !defined(NORM_SUMS_NAME)
#  error "define NORM_SUMS_ACCS and NORM_SUMS_NAME before including sums_loop.h"
#endif

static NORM_ALWAYS_INLINE row_sums NORM_SUMS_NAME(row_source src, size_t n, float shift, enum sums_kind what,
                                                  src_shape ss)
{
    const bool want_sum = what != SQUARES, shifted = what == SUMS_SHIFTED;
    const vf c = vf_set1(shift);
#if NORM_PAIRS_SUMS
    /* bf16 rows in pairs of vectors, whatever the call (fused or not, shifted or not), so that
     * a fused row and the same h normalised on its own are summed in the same order. */
    const bool pairs = ss.xt == NORM_BF16;
#endif
    NORM_SUMS_DECLARE(NORM_SUMS_ACCS)
    size_t i = 0;

    /* With two sums, GCC would load each vector twice, as a memory operand of the add and
     * of the multiply-add: twice the loads in a pass bound by them. */
#define NORM_ACCUMULATE(u, t)                                    \
    do {                                                         \
        vf v_ = (t);                                             \
        if (want_sum && !shifted)                                \
            v_ = vf_pin(v_);                                     \
        if (shifted)                                             \
            v_ = vf_sub(v_, c);                                  \
        if (want_sum)                                            \
            s1_##u = vf_add(s1_##u, v_);                         \
        s2_##u = vf_fmadd(v_, v_, s2_##u);                       \
    } while (0);
#define NORM_STEP(u) NORM_ACCUMULATE(u, fetch(src, i + (size_t)(u) * NORM_W, ss))
#define NORM_STEP_PAIR(u, v)                                                     \
    {                                                                            \
        vf even, odd;                                                            \
        fetch_pairs(src, i + (size_t)(u) * NORM_W, ss, &even, &odd);            \
        NORM_ACCUMULATE(u, even)                                                 \
        NORM_ACCUMULATE(v, odd)                                                  \
    }
/* Every accumulator takes a vector, c where there is none (which adds exactly nothing):
 * updated on some paths only, GCC kept some of them in memory, on the chain from the loads to
 * rstd (4096x128: 3-4% slower). */
#define NORM_LEFT(u) \
    NORM_ACCUMULATE(u, (size_t)(u) < left ? fetch(src, i + (size_t)(u) * NORM_W, ss) : c)
#define NORM_TAIL(u)                                                             \
    {                                                                            \
        vf t = fetch_part(src, i, n - i, ss);                                    \
        if (shifted)                                                             \
            t = vf_keep_first(vf_sub(t, c), n - i); /* padding lanes must add nothing */ \
        if (want_sum)                                                            \
            s1_##u = vf_add(s1_##u, t);                                          \
        s2_##u = vf_fmadd(t, t, s2_##u);                                         \
    }

    for (;;) {
        NORM_SUMS_RESET(NORM_SUMS_ACCS)
        /* Each lane of each accumulator takes at most NORM_FOLD terms per block. */
        size_t block_end = n - i > (size_t)NORM_W * NORM_SUMS_ACCS * NORM_FOLD
                               ? i + (size_t)NORM_W * NORM_SUMS_ACCS * NORM_FOLD : n;
        for (; i + (size_t)NORM_W * NORM_SUMS_ACCS <= block_end; i += (size_t)NORM_W * NORM_SUMS_ACCS) {
#if NORM_PAIRS_SUMS
            if (pairs) {
                NORM_EACH_PAIR(NORM_SUMS_ACCS, NORM_STEP_PAIR)
                continue;
            }
#endif
            NORM_EACH(NORM_SUMS_ACCS, NORM_STEP)
        }
        if (block_end < n) {
            NORM_SUMS_FOLD(NORM_SUMS_ACCS, want_sum);
            continue;
        }
        /* Last, partial block: whole vectors round-robin, then the tail. */
        size_t left = (n - i) / NORM_W;
        if (left) {
            NORM_EACH_BUT_LAST(NORM_SUMS_ACCS, NORM_LEFT)
            i += left * NORM_W;
        }
        if (i < n)
            NORM_APPLY(NORM_TAIL, NORM_LAST(NORM_SUMS_ACCS))
        NORM_SUMS_FOLD(NORM_SUMS_ACCS, want_sum);
        break;
    }
#undef NORM_ACCUMULATE
#undef NORM_STEP
#undef NORM_STEP_PAIR
#undef NORM_LEFT
#undef NORM_TAIL

    row_sums r = { want_sum ? vd_sum(d1) : 0.0, vd_sum(d2) };
    return r;
}

#undef NORM_SUMS_ACCS
#undef NORM_SUMS_NAME
