/*
 * checkasm: every kernel tier this machine can run, held to the scalar oracle and to a
 * long-double reference on identical random inputs (dav1d's checkasm, for libnorm).
 *
 * The kernels are called directly through the internal tables (norm_kernels_for), past the
 * API's validation, so every layout the kernel contract allows can be thrown at them:
 * misaligned pointers, row gaps, in place, buffers flush against PROT_NONE pages, the
 * streaming-store path, and rows built to break naive arithmetic.
 *
 * This file is checkasm's f32 feature (the engine, checkasm_engine.c, runs it with the others):
 * the oracle (the scalar kernels against the long-double reference, loop index ORACLE) and
 * every runnable tier (that tier against the reference, and against the oracle on rows whose
 * result is NaN/Inf, loop index the tier), all on f32 rows, in the tcase "<tier>/f32" (the
 * oracle's with scalar's). The other features: every other type combination
 * (checkasm_half.c), the fused residual add and unit offset (checkasm_fused.c), split rows
 * (checkasm_moments.c), gated RMSNorm and int8 output (checkasm_gate.c), row independence
 * (checkasm_rows.c). A tier or variant that is not compiled in or that this CPU lacks gets no
 * tcase, and is printed as skipped.
 *
 * Environment: NORM_TEST_SEED (replay), NORM_TEST_QUICK=1 (emulated runs), and Check's own
 * CK_FORK=no (needed under qemu; nothing here relies on fork isolation).
 */
#include <check.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkasm_engine.h"

/* A pseudo tier: the scalar oracle itself, against the long-double reference. */
#define ORACLE ((int)NORM_ISA_COUNT)

#define seed checkasm_seed
#define quick checkasm_quick

/* ---- what the run saw, per tier ------------------------------------------------------ */

typedef struct tier_stats {
    long cases;
    double worst_y[2]; /* err/bound of the outputs, [0] RMSNorm, [1] LayerNorm */
    double worst_mean, worst_rstd;
} tier_stats;

/* Lives in a MAP_SHARED page (shared_stats_alloc) so that forked children report back. */
static tier_stats *stats;

static const char *tier_name(int tier)
{
    return tier == ORACLE ? "oracle" : norm_isa_name((norm_isa)tier);
}

/* ---- one case ------------------------------------------------------------------------- */

typedef plain_spec spec;
typedef case_inputs inputs;

static const combo f32_combo = { NORM_F32, NORM_F32, NORM_F32 };

/* Inputs as dense f32 rows; the engine copies them into whatever layout the spec asks for. */
static inputs inputs_alloc(size_t rows, size_t n) { return case_inputs_alloc(f32_combo, rows, n); }

static norm_kernel_fn *tier_fn(int tier, bool layernorm)
{
    const norm_kernels *k = norm_kernels_for(tier == ORACLE ? NORM_ISA_SCALAR : (norm_isa)tier);
    ck_assert_ptr_nonnull(k);
    return kernel_of(k, layernorm, f32_combo);
}

/*
 * Runs the unit under test (the oracle for ORACLE, else the tier, with the oracle on the same
 * inputs) on the spec's layout and checks it (plain_case): every output against the
 * long-double reference under the accuracy contract (rows with non-finite results against the
 * oracle's NaN/Inf pattern), the statistics, and that nothing outside the output rows changed.
 * combo: bit 0 gamma, bit 1 beta.
 */
static void run_case(int tier, const spec *sp, const inputs *in, int combo, const char *label)
{
    plain_result res;
    bool ok = plain_case(tier_name(tier), tier_fn(tier, sp->layernorm),
                         tier == ORACLE ? NULL : tier_fn(ORACLE, sp->layernorm), sp, in, combo, label, &res);
    tier_stats *st = &stats[tier];
    st->cases++;
    st->worst_y[sp->layernorm] = maxd(st->worst_y[sp->layernorm], res.worst_ratio);
    st->worst_mean = maxd(st->worst_mean, res.worst_mean);
    st->worst_rstd = maxd(st->worst_rstd, res.worst_rstd);
    if (!ok)
        ck_abort_msg("%s", fail_msg);
}

/* ---- input generators ------------------------------------------------------------------ */

/* Typical activations (gen_row); these streams have always drawn rng_normal's deviates. */
static void gen_rows(rng *r, const inputs *in, size_t rows, size_t n)
{
    for (size_t k = 0; k < rows; k++)
        gen_row(r, in->xf + k * n, n, rng_normal, 1.0, T_F32);
}

/* gamma around 1 with either sign now and then, beta around 0. */
static void gen_params(rng *r, const inputs *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        in->gf[i] = (float)((rng_below(r, 8) ? 1.0 : -1.0) * (1.0 + 0.5 * rng_normal(r)));
        in->bf[i] = (float)(0.5 * rng_normal(r));
    }
}

#define dense_spec plain_dense_spec

/* Misaligned pointers, different row gaps for x and y, or in place. */
static spec random_layout(rng *r, bool layernorm, size_t rows, size_t n, bool in_place)
{
    spec s = dense_spec(layernorm, rows, n, eps_any(r));
    s.x_stride = n + rng_below(r, 20);
    s.y_stride = n + rng_below(r, 20);
    if (s.y_stride == s.x_stride)
        s.y_stride++;
    s.x_off = rng_below(r, 4);
    s.y_off = rng_below(r, 4);
    s.g_off = rng_below(r, 4);
    s.b_off = rng_below(r, 4);
    s.s_off = rng_below(r, 4);
    s.in_place = in_place;
    if (in_place) {
        s.y_stride = s.x_stride;
        s.y_off = s.x_off;
    }
    s.nontemporal = rng_below(r, 4) == 0;
    s.stats = rng_bool(r);
    return s;
}

/* ---- the tests; _i is the tier (or ORACLE) ------------------------------------------- */

/* Every row length up to 4 vectors of 16 plus 3: each tail of each vector width, with each
 * (gamma, beta) combination, eps value and placement. */
START_TEST(test_tails)
{
    rng r = rng_for(seed, "tails");
    inputs in = inputs_alloc(5, 67);
    for (size_t n = 1; n <= 67; n++)
        for (int kind = 0; kind < 2; kind++)
            for (int combo = 0; combo < 4; combo++) {
                spec s = dense_spec(kind, 1 + rng_below(&r, 5), n, eps_values[(n + (size_t)combo) % 4]);
                s.eps_outside = rng_bool(&r);
                s.stats = rng_bool(&r);
                gen_rows(&r, &in, s.rows, n);
                gen_params(&r, &in, n);
                run_case(_i, &s, &in, combo, "tails");
            }
}
END_TEST

/* Longer rows: several NORM_FOLD blocks, odd lengths, and one row of 2^20 (the f32 partial
 * sums must not lose accuracy with the length). */
START_TEST(test_large)
{
    static const size_t sizes[] = { 128, 255, 1000, 4096, 4097, 8191, 65536 + 5, 1 << 20 };
    rng r = rng_for(seed, "large");
    inputs in = inputs_alloc(5, 65536 + 5);
    inputs big = quick ? in : inputs_alloc(1, 1 << 20);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        if (quick && n > 8191)
            continue; /* NORM_TEST_QUICK: the emulated runs skip these */
        size_t rows = n == 1 << 20 ? 1 : n > 8191 ? 2 : 1 + rng_below(&r, 5);
        const inputs *use = n == 1 << 20 ? &big : &in;
        for (int kind = 0; kind < 2; kind++) {
            spec s = dense_spec(kind, rows, n, eps_any(&r));
            s.eps_outside = rng_bool(&r);
            s.nontemporal = rng_bool(&r);
            gen_rows(&r, use, rows, n);
            gen_params(&r, use, n);
            run_case(_i, &s, use, (int)rng_below(&r, 4), "large");
        }
    }
}
END_TEST

/* Misaligned x, y, gamma, beta (0..3 floats past 64 bytes), row gaps that differ between x
 * and y, in place; canaries around and between the rows of y catch stray writes. */
START_TEST(test_layouts)
{
    static const size_t sizes[] = { 5, 37, 200 };
    rng r = rng_for(seed, "layouts");
    inputs in = inputs_alloc(5, 3000);
    /* Systematically: every (gamma, beta) combination, in place or not, eps either side. */
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int combo = 0; combo < 4; combo++)
            for (int in_place = 0; in_place < 2; in_place++)
                for (int outside = 0; outside < 2; outside++)
                    for (int kind = 0; kind < 2; kind++) {
                        spec s = random_layout(&r, kind, 1 + rng_below(&r, 5), sizes[k], in_place);
                        s.eps_outside = outside;
                        gen_rows(&r, &in, s.rows, s.n);
                        gen_params(&r, &in, s.n);
                        run_case(_i, &s, &in, combo, "layouts");
                    }
    /* Then at random. */
    int reps = quick ? 80 : 400;
    for (int rep = 0; rep < reps; rep++) {
        size_t n = rng_below(&r, 10) < 7 ? 1 + rng_below(&r, 100) : 100 + rng_below(&r, 2900);
        bool kind = rng_bool(&r), in_place = rng_below(&r, 4) == 0;
        spec s = random_layout(&r, kind, 1 + rng_below(&r, 5), n, in_place);
        s.eps_outside = rng_bool(&r);
        gen_rows(&r, &in, s.rows, n);
        gen_params(&r, &in, n);
        run_case(_i, &s, &in, (int)rng_below(&r, 4), "layouts");
    }
}
END_TEST

/* Each of x, y, gamma, beta, mean and rstd flush against a PROT_NONE page, at its end or at
 * its start: a read or write one element out of bounds crashes the test. */
START_TEST(test_guard)
{
    static const size_t sizes[] = { 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 257, 1000, 4097 };
    rng r = rng_for(seed, "guard");
    inputs in = inputs_alloc(3, 4097);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int side = GUARD_END; side <= GUARD_START; side++)
            for (int kind = 0; kind < 2; kind++)
                for (int variant = 0; variant < 4; variant++) {
                    size_t n = sizes[k];
                    spec s = dense_spec(kind, 1 + (n + (size_t)variant) % 3, n, eps_any(&r));
                    s.guard = side;
                    s.eps_outside = rng_bool(&r);
                    if (variant == 1 || variant == 2) { /* row gaps, and in place over them */
                        s.x_stride = n + 1 + rng_below(&r, 7);
                        s.y_stride = variant == 2 ? s.x_stride : n + 1 + rng_below(&r, 7);
                        s.in_place = variant == 2;
                    }
                    s.nontemporal = variant == 3; /* the streaming path has its own head and tail */
                    gen_rows(&r, &in, s.rows, n);
                    gen_params(&r, &in, n);
                    run_case(_i, &s, &in, 3, "guard");
                }
}
END_TEST

/* Rows built to break naive arithmetic. */
START_TEST(test_adversarial)
{
    rng r = rng_for(seed, "adversarial");
    inputs in = inputs_alloc(3, 4097);
    char label[96];

    /* |mean| >> std, up to 1e6 at several scales: one-pass E[x^2] - mean^2 would lose every
     * digit. Row 2 flips the sign, so a shift carried over from row 1 is useless there. */
    static const double scales[] = { 1e-3, 1.0, 1e3 }, ratios[] = { 1e2, 1e4, 1e6 };
    static const size_t sizes[] = { 7, 64, 1000, 4097 };
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (size_t k = 0; k < 4; k++)
                for (int kind = 0; kind < 2; kind++) {
                    size_t n = sizes[k];
                    if (quick && n > 1000)
                        continue;
                    double sc = scales[a], mu = ratios[b] * sc;
                    for (size_t i = 0; i < n; i++) {
                        in.xf[i] = (float)(mu + sc * rng_normal(&r));
                        in.xf[n + i] = (float)(mu * 1.001 + sc * rng_normal(&r));
                        in.xf[2 * n + i] = (float)(-mu + sc * rng_normal(&r));
                    }
                    gen_params(&r, &in, n);
                    spec s = dense_spec(kind, 3, n, rng_bool(&r) ? 0.0f : 1e-5f);
                    snprintf(label, sizeof label, "mean/std %g, std %g", ratios[b], sc);
                    run_case(_i, &s, &in, (int)rng_below(&r, 4), label);
                }

    /* Huge magnitudes: squares overflow f32 (and the f32 sum of the row itself, near FLT_MAX). */
    for (int kind = 0; kind < 2; kind++)
        for (int what = 0; what < 6; what++) {
            static const char *const names[] = { "near FLT_MAX", "1e30 * N(0,1)", "one element 3e38",
                                                 "one element 1e30", "all FLT_MAX", "1e18 * N(0,1)" };
            size_t n = (size_t)(what == 0 ? 64 : 5 + rng_below(&r, 1000));
            for (size_t row = 0; row < 3; row++) {
                float *x = in.xf + row * n;
                for (size_t i = 0; i < n; i++) {
                    double g = rng_normal(&r);
                    x[i] = what == 0 ? (float)((rng_bool(&r) ? 1 : -1) * rng_uniform(&r, 0.5, 1.0) * 3.4e38)
                         : what == 1 ? clamp_to(1e30 * g, T_F32)
                         : what == 4 ? FLT_MAX
                         : what == 5 ? clamp_to(1e18 * g, T_F32)
                                     : (float)g;
                }
                if (what == 2 || what == 3)
                    x[rng_below(&r, (uint32_t)n)] = what == 2 ? 3e38f : -1e30f;
            }
            gen_params(&r, &in, n);
            spec s = dense_spec(kind, 3, n, eps_any(&r));
            s.eps_outside = rng_bool(&r);
            run_case(_i, &s, &in, (int)rng_below(&r, 4), names[what]);
        }

    /* Tiny magnitudes, down to subnormals, with eps = 0 so nothing hides them; then with eps. */
    static const double tiny[] = { 1e-12, 1e-20, 1e-30, 1e-38, 1e-40, 1e-44 };
    for (int t = 0; t < 6; t++)
        for (int kind = 0; kind < 2; kind++)
            for (int with_eps = 0; with_eps < 2; with_eps++) {
                size_t n = 1 + rng_below(&r, 300);
                for (size_t i = 0; i < 3 * n; i++)
                    in.xf[i] = (float)(tiny[t] * (kind ? 3.0 + rng_normal(&r) : rng_normal(&r)));
                gen_params(&r, &in, n);
                spec s = dense_spec(kind, 3, n, with_eps ? 1e-6f : 0.0f);
                s.eps_outside = rng_bool(&r);
                snprintf(label, sizeof label, "tiny %g", tiny[t]);
                run_case(_i, &s, &in, (int)rng_below(&r, 4), label);
            }

    /* Constant rows and rows of zeros, eps > 0: variance (and for zeros the mean square) is 0. */
    static const float consts[] = { 0.0f, 3.5f, -7e-3f, 1e3f, 1e-30f };
    for (int c = 0; c < 5; c++)
        for (int kind = 0; kind < 2; kind++)
            for (int e = 1; e < 4; e++) {
                size_t n = 1 + rng_below(&r, 200);
                for (size_t i = 0; i < 3 * n; i++)
                    in.xf[i] = consts[c];
                gen_params(&r, &in, n);
                spec s = dense_spec(kind, 3, n, eps_values[e]);
                s.eps_outside = rng_bool(&r);
                snprintf(label, sizeof label, "constant %g", (double)consts[c]);
                run_case(_i, &s, &in, (int)rng_below(&r, 4), label);
            }

    /* Every decimal scale of the f32 range, across the thresholds where a kernel's f32 sums
     * stop being trustworthy and it must fall back. */
    for (int e = -45; e <= 38; e++)
        for (int kind = 0; kind < 2; kind++) {
            size_t n = e % 2 ? 37 : 256;
            for (size_t i = 0; i < 2 * n; i++)
                in.xf[i] = clamp_to(pow(10.0, e) * ((kind ? 2.0 : 0.0) + rng_normal(&r)), T_F32);
            gen_params(&r, &in, n);
            spec s = dense_spec(kind, 2, n, e % 3 ? 0.0f : 1e-6f);
            s.eps_outside = rng_bool(&r);
            snprintf(label, sizeof label, "scale 1e%d", e);
            run_case(_i, &s, &in, (int)rng_below(&r, 4), label);
        }
}
END_TEST

/* The textbook LayerNorm row: catastrophic cancellation for E[x^2] - E[x]^2 in f32. */
START_TEST(test_classic)
{
    static const float x[4] = { 40000.0f, 40001.0f, 40002.0f, 40003.0f };
    static const double want[4] = { -1.3416408, -0.4472136, 0.4472136, 1.3416408 };
    float y[4] = { 0 }, mean = 0, rstd = 0;
    norm_job job = { .y = y, .x = x, .y_stride = 4, .x_stride = 4, .rows = 1, .n = 4, .eps = 0.0f,
                     .mean = &mean, .rstd = &rstd };
    snprintf(test_context, sizeof test_context, "seed=0x%016" PRIx64 " isa=%s layernorm [classic] n=4", seed,
             tier_name(_i));
    tier_fn(_i, true)(&job);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(fabs(y[i] - want[i]) <= 1e-6, "seed=0x%016" PRIx64 " isa=%s layernorm n=4 "
                      "[40000..40003] eps=0: index %d got %.9g want %.9g", seed, tier_name(_i), i,
                      (double)y[i], want[i]);
    ck_assert_msg(fabs(mean - 40001.5) <= 1e-6 * 40001.5, "isa=%s: mean %.9g", tier_name(_i), (double)mean);
    ck_assert_msg(fabs(rstd - 0.894427191) <= 1e-6, "isa=%s: rstd %.9g", tier_name(_i), (double)rstd);

    inputs in = inputs_alloc(1, 4);
    memcpy(in.xf, x, sizeof x);
    spec s = dense_spec(true, 1, 4, 0.0f);
    run_case(_i, &s, &in, 0, "classic");
}
END_TEST

/* NaN and +-Inf inside rows, between ordinary rows; results that are NaN by definition
 * (eps = 0 on a row of zeros, LayerNorm of a constant row). The tier must give NaN exactly
 * where the oracle does, the same infinities and zeros, and finite values within the bound. */
START_TEST(test_special)
{
    static const size_t sizes[] = { 1, 3, 4, 5, 16, 17, 67, 1000 };
    rng r = rng_for(seed, "special");
    inputs in = inputs_alloc(4, 1000);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int what = 0; what < NSPECIAL_ROWS; what++)
            for (int kind = 0; kind < 2; kind++) {
                size_t n = sizes[k];
                gen_rows(&r, &in, 4, n);
                gen_params(&r, &in, n);
                for (size_t row = 1; row < 4; row += 2) /* rows 1 and 3; 0 and 2 stay ordinary */
                    poke_special(&r, in.xf + row * n, n, what);
                spec s = dense_spec(kind, 4, n, what >= 7 ? 0.0f : eps_any(&r));
                s.eps_outside = rng_bool(&r);
                run_case(_i, &s, &in, (int)rng_below(&r, 4), special_row_names[what]);
            }
}
END_TEST

/* 2^20 elements in one row, with |mean| >> std: the accuracy must not decay with length. */
START_TEST(test_long_row)
{
    size_t n = quick ? 8191 : (size_t)1 << 20; /* NORM_TEST_QUICK trims it */
    rng r = rng_for(seed, "long row");
    inputs in = inputs_alloc(1, n);
    static const struct { bool layernorm; double mean, std; } rows[] = {
        { true, 1e4, 1.0 }, { true, 1e6, 1e-3 }, { true, -3e5, 2.0 }, { false, 1e4, 1.0 }, { false, 0.0, 1.0 },
    };
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        for (size_t i = 0; i < n; i++)
            in.xf[i] = (float)(rows[k].mean + rows[k].std * rng_normal(&r));
        gen_params(&r, &in, n);
        spec s = dense_spec(rows[k].layernorm, 1, n, 1e-5f);
        s.nontemporal = k % 2;
        run_case(_i, &s, &in, (int)(k % 4), "long row, |mean| >> std");
    }
}
END_TEST

/* The f32 contract at the edge of the subnormals (issue #14, item 5): gamma around 2^-132 with
 * eps outside the root puts every y in f32's subnormal range, where the bound's relative term,
 * 2^-20 * |gamma| * (1 + |x_hat|), about 2^-151, is below half a subnormal step (2^-150), so
 * that not even a correctly rounded result meets it; the underflow term (tests/common.h,
 * CONTRACT_UNDERFLOW) is what makes the contract hold there. run_case holds the unit to the
 * reference with the full bound (and checks the statistics and canaries); then every output
 * must lie within twice that bound of the oracle's, and, so that the test cannot pass without
 * reaching the edge, some output of the oracle (rounded once, from double) must be further from
 * the reference than the bound without its underflow term. */
START_TEST(test_underflow)
{
    static const size_t sizes[] = { 17, 67, 1000 };
    rng r = rng_for(seed, "underflow");
    inputs in = inputs_alloc(4, 1000);
    float *yt = scratch_alloc(4 * 1000 * sizeof(float)), *yo = scratch_alloc(4 * 1000 * sizeof(float));
    long old_missed = 0, values = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int kind = 0; kind < 2; kind++)
            for (int combo = 1; combo <= 3; combo += 2) { /* gamma, then gamma and beta */
                size_t n = sizes[k];
                gen_rows(&r, &in, 4, n);
                for (size_t i = 0; i < n; i++) {
                    in.gf[i] = (float)ldexp((rng_bool(&r) ? 1.0 : -1.0) * rng_uniform(&r, 0.5, 1.5), -132);
                    in.bf[i] = (float)ldexp(rng_uniform(&r, -1, 1), -140);
                }
                float eps = k % 2 ? 1.0f : 1e-5f;
                spec s = dense_spec(kind, 4, n, eps);
                s.eps_outside = true;
                run_case(_i, &s, &in, combo, "underflow: gamma ~ 2^-132, eps outside the root");

                const float *beta = combo & 2 ? in.bf : NULL;
                norm_job jt = { .y = yt, .x = in.xf, .y_stride = n, .x_stride = n, .rows = 4, .n = n,
                                .gamma = in.gf, .beta = beta, .eps = eps, .eps_outside_sqrt = true,
                                .y_inv_scale = 1.0f };
                norm_job jo = jt;
                jo.y = yo;
                tier_fn(_i, kind)(&jt);
                tier_fn(ORACLE, kind)(&jo);
                for (size_t row = 0; row < 4; row++) {
                    const float *x = in.xf + row * n;
                    ref_stats ref = ref_row(kind, x, n, eps, true);
                    for (size_t i = 0; i < n; i++) {
                        long double g = in.gf[i], b = beta ? beta[i] : 0.0L;
                        long double xhat = ((long double)x[i] - ref.mean) * ref.rstd, want = xhat * g + b;
                        long double old_bound = CONTRACT_TOL * (fabsl(g) * (1.0L + fabsl(xhat)) + fabsl(b));
                        long double bound = contract_bound(g, xhat, b);
                        float got = yt[row * n + i], oracle = yo[row * n + i];
                        values++;
                        if (fabsl((long double)oracle - want) > old_bound)
                            old_missed++;
                        ck_assert_msg(fabsl((long double)got - (long double)oracle) <= 2.0L * bound,
                                      "isa=%s %s n=%zu row %zu index %zu: y %a, the oracle's %a: more than "
                                      "twice the bound %La apart (seed 0x%016" PRIx64 ")", tier_name(_i),
                                      kind ? "layernorm" : "rmsnorm", n, row, i, (double)got, (double)oracle,
                                      bound, seed);
                    }
                }
            }
    ck_assert_msg(old_missed > 0, "isa=%s: no output at the edge: the oracle met the bound without the underflow "
                  "term on all %ld values, so this test does not test it", tier_name(_i), values);
    printf("%s: %-6s underflow edge: %ld of %ld oracle outputs miss the bound without its underflow term; "
           "every output meets it with the term\n", PROGRAM, tier_name(_i), old_missed, values);
}
END_TEST

/* The tier's dense entries (norm_rmsnorm_f32 and norm_layernorm_f32 on the calling thread take
 * them, not the kernels) against the tier's kernels, bit for bit (dense_case): one row and
 * several (LayerNorm's short rows then take their pipeline), every tail up to 67 and longer rows,
 * gamma or not (rows of up to NORM_ONES_N), beta or not, in place or not, misaligned, flush against guard pages at either end, and a
 * quarter of the calls with a special row (NaN, Inf, zeros, or sums out of f32's range:
 * the scalar row, which the dense entry reaches without a job). */
START_TEST(test_dense_entry)
{
    static const size_t longer[] = { 100, 128, 255, 256, 257, 288, 1000, 1024, 4097 };
    static const int guards[] = { GUARD_NONE, GUARD_END, GUARD_START };
    const size_t nlonger = sizeof longer / sizeof longer[0];
    const norm_kernels *k = norm_kernels_for((norm_isa)_i);
    ck_assert_ptr_nonnull(k->rmsnorm_dense_f32);
    ck_assert_ptr_nonnull(k->layernorm_dense_f32);
    rng r = rng_for(seed, "dense entry");
    inputs in = inputs_alloc(6, 4097);
    for (size_t j = 0; j < 67 + nlonger; j++) {
        size_t n = j < 67 ? j + 1 : longer[j - 67];
        for (int variant = 0; variant < 12; variant++) {
            const bool layernorm = variant >= 6;
            norm_dense_fn *dense = layernorm ? k->layernorm_dense_f32 : k->rmsnorm_dense_f32;
            spec s = dense_spec(layernorm, 1 + rng_below(&r, 6), n, eps_any(&r));
            s.stats = false;
            s.in_place = variant & 1;
            s.guard = guards[variant % 6 >> 1];
            s.x_off = rng_below(&r, 4);
            s.y_off = s.in_place ? s.x_off : rng_below(&r, 4);
            s.g_off = rng_below(&r, 4);
            s.b_off = rng_below(&r, 4);
            gen_rows(&r, &in, s.rows, n);
            gen_params(&r, &in, n);
            if (rng_below(&r, 4) == 0) {
                float *row = in.xf + rng_below(&r, (uint32_t)s.rows) * n;
                int what = (int)rng_below(&r, NSPECIAL_ROWS + 2);
                if (what < NSPECIAL_ROWS)
                    poke_special(&r, row, n, what);
                else
                    for (size_t i = 0; i < n; i++) /* squares beyond 2^120, or below 2^-80 */
                        row[i] *= what == NSPECIAL_ROWS ? 0x1p70f : 0x1p-70f;
            }
            /* Without gamma on the rows the API sends the dense entry so (up to NORM_ONES_N). */
            bool has_g = n > NORM_ONES_N || rng_below(&r, 4) != 0;
            if (!dense_case(tier_name(_i), dense, tier_fn(_i, layernorm), &s, &in, has_g, rng_bool(&r),
                            "dense entry"))
                ck_abort_msg("%s", fail_msg);
            stats[_i].cases++;
        }
    }
}
END_TEST

/* ---- the feature ------------------------------------------------------------------- */

static void add_tier(TCase *tc, int tier)
{
    const TTest *tests[] = { test_tails, test_large, test_layouts, test_guard, test_adversarial, test_classic,
                             test_special, test_long_row, test_underflow };
    for (size_t t = 0; t < sizeof tests / sizeof tests[0]; t++)
        tcase_add_loop_test(tc, tests[t], tier, tier + 1);
    /* The dense entry, where the tier has one (the scalar tier has none: its dense calls take
     * the kernel). */
    const norm_kernels *k = tier == ORACLE ? NULL : norm_kernels_for((norm_isa)tier);
    if (k && (k->rmsnorm_dense_f32 || k->layernorm_dense_f32))
        tcase_add_loop_test(tc, test_dense_entry, tier, tier + 1);
    else if (tier != ORACLE)
        printf("%s: %s: no dense entries: dense f32 calls take its kernels (tested above)\n", PROGRAM,
               tier_name(tier));
}

/* The tier whose name is variant v's, or NORM_ISA_COUNT (a variant, avx512bf16, has no f32
 * tests of its own: its f32 kernels are its tier's). The scalar variant runs the oracle's
 * tests (scalar against long double) and the scalar tier's (against the oracle too). */
static int add_tests(TCase *tc, int v, const norm_kernels *k)
{
    (void)k;
    if (!stats)
        stats = shared_stats_alloc(sizeof(tier_stats) * (NORM_ISA_COUNT + 1));
    int isa = NORM_ISA_SCALAR;
    while (isa < NORM_ISA_COUNT && strcmp(half_variant_names[v], tier_name(isa)) != 0)
        isa++;
    if (isa == NORM_ISA_COUNT) {
        /* A variant (avx512bf16) has no f32 tests of its own: its f32 kernels must be a tier's,
         * tested there; one of its own would go untested, so the run stops. */
        int w = earlier_variant(v, f32_combo, 0, same_norm_kernels);
        if (w < 0) {
            printf("%s: %s: f32 kernels of its own, which no tier's tests run\n", PROGRAM, half_variant_names[v]);
            exit(EXIT_FAILURE);
        }
        printf("%s: %s: f32: the same kernels as %s's, not repeated\n", PROGRAM, half_variant_names[v],
               half_variant_names[w]);
        return 0;
    }
    if (!norm_kernels_for((norm_isa)isa)) {
        printf("%s: %s: runnable as a variant but not as a tier\n", PROGRAM, half_variant_names[v]);
        exit(EXIT_FAILURE);
    }
    if (v == V_ORACLE)
        add_tier(tc, ORACLE);
    add_tier(tc, isa);
    return 1;
}

static void print_tier(int tier)
{
    const tier_stats *st = &stats[tier];
    printf("%s: %-6s %5ld cases, worst err/bound: rmsnorm %.4f  layernorm %.4f  mean %.4f  rstd %.4f%s\n",
           PROGRAM, tier_name(tier), st->cases, st->worst_y[0], st->worst_y[1], st->worst_mean,
           st->worst_rstd, tier == ORACLE ? "  (scalar oracle vs long double)" : "");
}

static void summary(int v)
{
    if (v == V_ORACLE)
        print_tier(ORACLE);
    for (int isa = NORM_ISA_SCALAR; isa < NORM_ISA_COUNT; isa++)
        if (strcmp(half_variant_names[v], tier_name(isa)) == 0)
            print_tier(isa);
}

const checkasm_feature checkasm_f32 = { "f32", add_tests, summary };
