/*
 * api: the public API, through the shared library and norm.h only (this also proves that the
 * exported symbols suffice).
 *
 *  - the tier the library picks, predicted here from the one ISA list (src/isa_list.h: the
 *    tiers and their architectures), the tiers Meson compiled in (config.h), NORM_ISA, and
 *    which of the tiers NORM_ISA allows this CPU runs (norm_isa_available: the CPU
 *    predicates live in the list and the library alone evaluates them), and norm_set_max_isa();
 *  - results of norm_rmsnorm_f32, norm_layernorm_f32 and norm_run against the long-double
 *    reference; of norm_{rms,layer}norm_{f16,bf16} and of norm_run with mixed f32/f16/bf16
 *    rows, f16/bf16 outputs within 1 ulp;
 *  - every invalid input: the exact status, and that nothing at all was written;
 *  - with the argument "threads": concurrent first calls in a fresh process.
 *
 * Environment: NORM_ISA (the cap under test), NORM_EXPECT_ISA (the tier a CI job knows it
 * must get), NORM_TEST_SEED, NORM_TEST_QUICK. Exits 77 (skip) when NORM_ISA names a tier
 * that cannot run here, after checking that the library fell back to one that can.
 */
#include <check.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"
#include "config.h"   /* NORM_HAVE_<NAME>: which entries of the ISA list Meson compiled in */
#include "isa_list.h" /* the one list of tiers: macros only, nothing of the library's internals */
#include "norm.h"

#define PROGRAM "api"

static uint64_t seed;
static bool quick;

/* ---- the tier the library must choose ---------------------------------------------------- */

/* The tiers, their architectures and whether Meson compiled them in come from the one ISA
 * list (src/isa_list.h) and config.h (generated from meson.build's isas table); whether this
 * CPU runs a tier is the library's to say (norm_isa_available), since the predicates are
 * written once, in the list. What is checked here is everything around them: NORM_ISA, the
 * choice of the best tier, norm_set_max_isa. The emulated runs (NORM_EXPECT_ISA) hold the
 * predicates to real (emulated) CPUs. */
#define TIER_NAME(name, NAME, value, arch, pred) [value] = #name,
#define TIER_ARCH(name, NAME, value, arch, pred) [value] = NORM_ON_##arch,
#define TIER_COMPILED(name, NAME, value, arch, pred) [value] = NORM_ON_##arch && NORM_HAVE_##NAME,
#define NO_VARIANT(name, NAME, tier, arch, pred)
static const char *const isa_names[NORM_ISA_COUNT] = { NORM_ISA_LIST(TIER_NAME, NO_VARIANT) };
static const bool this_arch[NORM_ISA_COUNT] = { NORM_ISA_LIST(TIER_ARCH, NO_VARIANT) };
static const bool compiled[NORM_ISA_COUNT] = { NORM_ISA_LIST(TIER_COMPILED, NO_VARIANT) };
static bool runs[NORM_ISA_COUNT];    /* this CPU runs it (known for the tiers NORM_ISA allows) */
static int cap = NORM_ISA_COUNT - 1; /* the best tier NORM_ISA allows */
static norm_isa expected;
static char skip_reason[256];        /* set when NORM_ISA asks for a tier that cannot run here */
static bool predicted;

static bool available(int t) { return this_arch[t] && compiled[t] && runs[t] && t <= cap; }

/* Initialises the library (norm_isa_available): the threads test calls it only after its
 * threads have made the first calls. */
static void predict_tier(void)
{
    if (predicted)
        return;
    predicted = true;
    const char *env = getenv("NORM_ISA");
    bool env_tier = false; /* NORM_ISA names a tier of this architecture */
    if (env && *env) {
        int t = 0;
        while (t < NORM_ISA_COUNT && strcasecmp(env, isa_names[t]) != 0) /* the library ignores case */
            t++;
        if (t < NORM_ISA_COUNT && this_arch[t]) {
            cap = t;
            env_tier = true;
        } else {
            /* The library ignores it; the test then checks the native choice, but must not
             * report a pass for a tier it never ran. */
            snprintf(skip_reason, sizeof skip_reason, "NORM_ISA=%s is not a tier of this architecture", env);
        }
    }
    for (int t = 0; t <= cap; t++)
        runs[t] = norm_isa_available((norm_isa)t);
    if (env_tier && !available(cap))
        snprintf(skip_reason, sizeof skip_reason, "NORM_ISA=%s: %s", env,
                 compiled[cap] ? "this CPU lacks it" : "not compiled into this build");
    expected = NORM_ISA_SCALAR;
    for (int t = 0; t < NORM_ISA_COUNT; t++)
        if (available(t))
            expected = (norm_isa)t;

    printf("%s: NORM_ISA=%s: expecting tier %s (", PROGRAM, env && *env ? env : "(unset)", isa_names[expected]);
    for (int t = 0; t < NORM_ISA_COUNT; t++)
        if (this_arch[t])
            printf(" %s%s", isa_names[t],
                   !compiled[t] ? " (not compiled)" : t > cap ? " (above NORM_ISA)" : runs[t] ? "" : " (CPU lacks it)");
    printf(" )\n");
}

/* ---- checking results against the reference -------------------------------------------- */

/* Rows of y (stride ys) against the reference computed from x (dense rows of n). */
static void expect_rows(const char *what, bool layernorm, const float *y, size_t ys, const float *x, size_t rows,
                        size_t n, const float *gamma, const float *beta, float eps, bool outside,
                        const float *mean, const float *rstd)
{
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        ref_stats ref = ref_row(layernorm, xr, n, eps, outside);
        ck_assert_msg(!row_is_special(xr, n, gamma, beta, ref), "%s: test inputs must be ordinary", what);
        mismatch m = { 0 };
        if (y) /* NULL: only the statistics */
            check_row(y + r * ys, xr, n, gamma, beta, ref, false, NULL, &m);
        if (rstd && !m.failed)
            check_stat(rstd[r], ref.rstd, CONTRACT_TOL * fabsl(ref.rstd) + 0x1p-149L, "rstd", r, &m);
        if (mean && !m.failed)
            check_stat(mean[r], ref.mean, CONTRACT_TOL * (fabsl(ref.mean) + 1.0L / ref.rstd) + 0x1p-149L,
                       "mean", r, &m);
        ck_assert_msg(!m.failed,
                      "seed=0x%016" PRIx64 " isa=%s %s (%s) rows=%zu n=%zu eps=%g%s: row %zu index %zu: "
                      "%s got %.9g want %.12Lg bound %.4Lg",
                      seed, norm_active_isa_name(), what, layernorm ? "layernorm" : "rmsnorm", rows, n,
                      (double)eps, outside ? " (outside sqrt)" : "", r, m.index, m.what, m.got, m.want,
                      m.bound);
    }
}

static void gen(rng *r, float *x, size_t count, double mu, double sigma)
{
    for (size_t i = 0; i < count; i++)
        x[i] = (float)(mu + sigma * rng_normal(r));
}

/* A small random case through norm_run, both kinds, with statistics: enough to tell that the
 * active tier works, whichever it is. */
static void small_case(rng *r, const char *what)
{
    enum { ROWS = 3, N = 37 };
    float x[ROWS * N], y[ROWS * N], g[N], b[N], mean[ROWS], rstd[ROWS];
    gen(r, x, ROWS * N, 2.0, 3.0);
    gen(r, g, N, 1.0, 0.5);
    gen(r, b, N, 0.0, 0.5);
    for (int kind = 0; kind < 2; kind++) {
        norm_params p = norm_params_default((norm_kind)kind);
        p.rows = ROWS;
        p.n = N;
        p.x = x;
        p.y = y;
        p.gamma = g;
        p.beta = b;
        p.rstd = rstd;
        p.mean = kind ? mean : NULL;
        ck_assert_int_eq(norm_run(&p), NORM_OK);
        expect_rows(what, kind, y, N, x, ROWS, N, g, b, p.eps, false, p.mean, rstd);
    }
}

/* ---- tier selection ------------------------------------------------------------------- */

/* Checked setup of the tcases after "tier": they start on the predicted tier even when a
 * failed test_set_max_isa left the process lowered (CK_FORK=no shares one process). */
static void restore_tier(void) { norm_set_max_isa(expected); }

START_TEST(test_active_tier)
{
    ck_assert_msg(strcmp(norm_active_isa_name(), isa_names[expected]) == 0,
                  "active tier %s, expected %s", norm_active_isa_name(), isa_names[expected]);
    ck_assert_int_eq(norm_active_isa(), expected);
    /* The library must never pick a tier the CPU lacks, whatever NORM_ISA says. */
    ck_assert_msg(available(norm_active_isa()), "active tier %s is not one this CPU, build and NORM_ISA allow",
                  norm_active_isa_name());
    const char *want = getenv("NORM_EXPECT_ISA");
    if (want && *want)
        ck_assert_msg(strcmp(norm_active_isa_name(), want) == 0, "active tier %s, NORM_EXPECT_ISA=%s",
                      norm_active_isa_name(), want);
    for (int t = 0; t < NORM_ISA_COUNT; t++) {
        ck_assert_msg(norm_isa_available((norm_isa)t) == available(t), "norm_isa_available(%s) = %d, expected %d",
                      isa_names[t], norm_isa_available((norm_isa)t), available(t));
        ck_assert_str_eq(norm_isa_name((norm_isa)t), isa_names[t]);
    }
    ck_assert_ptr_null(norm_isa_name(NORM_ISA_COUNT));
    ck_assert_ptr_null(norm_isa_name((norm_isa)-1));
    ck_assert_ptr_null(norm_isa_name((norm_isa)1000));
    ck_assert_int_eq(norm_isa_available(NORM_ISA_COUNT), 0);
    ck_assert_int_eq(norm_isa_available((norm_isa)-1), 0);
}
END_TEST

START_TEST(test_set_max_isa)
{
    rng r = rng_for(seed, "set_max_isa");
    char what[64];
    for (int t = 0; t < NORM_ISA_COUNT; t++) {
        norm_isa before = norm_active_isa();
        norm_status st = norm_set_max_isa((norm_isa)t);
        if (available(t)) {
            ck_assert_msg(st == NORM_OK, "norm_set_max_isa(%s): %s", isa_names[t], norm_status_string(st));
            ck_assert_int_eq(norm_active_isa(), t);
            ck_assert_str_eq(norm_active_isa_name(), isa_names[t]);
            snprintf(what, sizeof what, "after norm_set_max_isa(%s)", isa_names[t]);
            small_case(&r, what);
        } else {
            ck_assert_msg(st == NORM_ERR_ISA_UNAVAILABLE, "norm_set_max_isa(%s) = %d, want ISA_UNAVAILABLE",
                          isa_names[t], st);
            ck_assert_int_eq(norm_active_isa(), before);
        }
    }
    static const int bad[] = { NORM_ISA_COUNT, -1, 99 };
    for (int i = 0; i < 3; i++) {
        norm_isa before = norm_active_isa();
        ck_assert_int_eq(norm_set_max_isa((norm_isa)bad[i]), NORM_ERR_BAD_ARGUMENT);
        ck_assert_int_eq(norm_active_isa(), before);
    }
    /* Back up to the native choice (raising is allowed up to what the CPU and NORM_ISA allow). */
    ck_assert_int_eq(norm_set_max_isa(expected), NORM_OK);
    ck_assert_int_eq(norm_active_isa(), expected);
    small_case(&r, "restored");
}
END_TEST

/* ---- results ---------------------------------------------------------------------------- */

#define PAD 16

START_TEST(test_dense)
{
    static const size_t shapes[][2] = { { 1, 1 }, { 3, 17 }, { 4, 64 }, { 2, 1000 }, { 5, 4099 } };
    rng r = rng_for(seed, "dense");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t rows = shapes[s][0], n = shapes[s][1];
        float *x = malloc(rows * n * sizeof(float)), *g = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
        float *ybuf = malloc((rows * n + 2 * PAD) * sizeof(float)), *y = ybuf + PAD;
        for (int kind = 0; kind < 2; kind++)
            for (int combo = 0; combo < 4; combo++) {
                gen(&r, x, rows * n, kind ? 5.0 : 0.0, 2.0);
                gen(&r, g, n, 1.0, 0.5);
                gen(&r, b, n, 0.0, 0.5);
                const float *gp = combo & 1 ? g : NULL, *bp = combo & 2 ? b : NULL;
                float eps = n > 1 && combo == 3 ? 0.0f : kind ? 1e-5f : 1e-6f;
                fill_canary(ybuf, rows * n + 2 * PAD);
                norm_status st = kind ? norm_layernorm_f32(y, x, gp, bp, rows, n, eps)
                                      : norm_rmsnorm_f32(y, x, gp, bp, rows, n, eps);
                ck_assert_int_eq(st, NORM_OK);
                expect_rows("dense", kind, y, n, x, rows, n, gp, bp, eps, false, NULL, NULL);
                for (size_t i = 0; i < PAD; i++)
                    ck_assert_msg(is_canary(&ybuf[i]) && is_canary(&y[rows * n + i]), "write outside y");
            }
        free(x);
        free(g);
        free(b);
        free(ybuf);
    }
}
END_TEST

/* norm_run: row strides, eps outside the root, statistics, in place. */
START_TEST(test_run)
{
    static const size_t shapes[][2] = { { 1, 3 }, { 3, 33 }, { 4, 200 }, { 2, 4100 } };
    rng r = rng_for(seed, "run");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int kind = 0; kind < 2; kind++)
            for (int variant = 0; variant < 4; variant++) {
                size_t rows = shapes[s][0], n = shapes[s][1];
                bool in_place = variant == 3, outside = variant & 1;
                size_t xs = n + 3, ys = in_place ? xs : n + 7;
                size_t xlen = (rows - 1) * xs + n, ylen = (rows - 1) * ys + n;
                float *x = malloc(rows * n * sizeof(float)), *g = malloc(n * sizeof(float));
                float *b = malloc(n * sizeof(float)), *stats = malloc((2 * rows + 3 * PAD) * sizeof(float));
                float *xbuf = malloc(xlen * sizeof(float)), *ybuf = malloc((ylen + 2 * PAD) * sizeof(float));
                float *y = in_place ? xbuf : ybuf + PAD, *mean = stats + PAD, *rstd = stats + 2 * PAD + rows;
                gen(&r, x, rows * n, kind ? -3.0 : 0.0, 0.5);
                gen(&r, g, n, 1.0, 0.5);
                gen(&r, b, n, 0.0, 0.5);
                fill_canary(xbuf, xlen);
                fill_canary(ybuf, ylen + 2 * PAD);
                fill_canary(stats, 2 * rows + 3 * PAD);
                for (size_t i = 0; i < rows; i++)
                    memcpy(xbuf + i * xs, x + i * n, n * sizeof(float));

                norm_params p = norm_params_default((norm_kind)kind);
                p.rows = rows;
                p.n = n;
                p.x = xbuf;
                p.x_stride = xs;
                p.y = y;
                p.y_stride = ys;
                p.gamma = variant != 1 ? g : NULL;
                p.beta = variant != 2 ? b : NULL;
                p.flags = outside ? NORM_EPS_OUTSIDE_SQRT : 0;
                p.eps = variant == 2 ? 0.0f : p.eps;
                p.rstd = rstd;
                p.mean = kind ? mean : NULL;
                ck_assert_int_eq(norm_run(&p), NORM_OK);
                expect_rows("norm_run", kind, y, ys, x, rows, n, p.gamma, p.beta, p.eps, outside, p.mean, rstd);
                /* Row gaps and the memory around y and the statistics are untouched. */
                float *ylo = in_place ? xbuf : ybuf;
                size_t ytotal = in_place ? xlen : ylen + 2 * PAD, ystart = in_place ? 0 : PAD;
                for (size_t i = 0; i < ytotal; i++) {
                    size_t rel = i - ystart;
                    bool in_row = i >= ystart && rel < ylen && rel % ys < n;
                    ck_assert_msg(in_row || is_canary(&ylo[i]), "norm_run wrote outside the rows of y (%zu)", i);
                }
                for (size_t i = 0; i < 2 * rows + 3 * PAD; i++) {
                    bool is_mean = kind && &stats[i] >= mean && &stats[i] < mean + rows;
                    bool is_rstd = &stats[i] >= rstd && &stats[i] < rstd + rows;
                    ck_assert_msg(is_mean || is_rstd || is_canary(&stats[i]), "norm_run wrote outside mean/rstd");
                }
                free(x);
                free(g);
                free(b);
                free(stats);
                free(xbuf);
                free(ybuf);
            }
}
END_TEST

/* Outputs of 32 MiB and more take the streaming-store path. */
START_TEST(test_streaming)
{
    if (quick)
        return;
    size_t rows = 2, n = ((size_t)4 << 20) + 3;
    rng r = rng_for(seed, "streaming");
    float *x = malloc(rows * n * sizeof(float)), *y = malloc(rows * n * sizeof(float) + 4);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(y);
    for (int kind = 0; kind < 2; kind++) {
        gen(&r, x, rows * n, kind ? 100.0 : 0.0, 1.0);
        float *yy = y + 1; /* misaligned, so the stream has a head to handle */
        norm_status st = kind ? norm_layernorm_f32(yy, x, NULL, NULL, rows, n, 1e-5f)
                              : norm_rmsnorm_f32(yy, x, NULL, NULL, rows, n, 1e-6f);
        ck_assert_int_eq(st, NORM_OK);
        expect_rows("streaming", kind, yy, n, x, rows, n, NULL, NULL, kind ? 1e-5f : 1e-6f, false, NULL, NULL);
    }
    free(x);
    free(y);
}
END_TEST

/* ---- results in half precision ------------------------------------------------------------ */

/* count values of type t drawn as f32 (mu + sigma * N(0,1)) and rounded to t: dst holds them
 * in t, dstf the same values in f32, which is what the reference is computed from. */
static void gen_typed(rng *r, void *dst, float *dstf, size_t count, int t, double mu, double sigma)
{
    for (size_t i = 0; i < count; i++) {
        dstf[i] = type_store(dst, i, (float)(mu + sigma * rng_normal(r)), t);
    }
}

/* Rows of y (type yt, stride ys elements) against the reference from x (dense f32 values of
 * the stored inputs): f32 outputs under the f32 contract, f16/bf16 outputs within 1 ulp. */
static void expect_rows_typed(const char *what, bool layernorm, int yt, const void *y, size_t ys, const float *x,
                              size_t rows, size_t n, const float *gamma, const float *beta, float eps, bool outside,
                              const float *mean, const float *rstd)
{
    if (yt == NORM_F32) {
        expect_rows(what, layernorm, y, ys, x, rows, n, gamma, beta, eps, outside, mean, rstd);
        return;
    }
    expect_rows(what, layernorm, NULL, 0, x, rows, n, gamma, beta, eps, outside, mean, rstd);
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        ref_stats ref = ref_row(layernorm, xr, n, eps, outside);
        for (size_t i = 0; i < n; i++) {
            long double want = ((long double)xr[i] - ref.mean) * ref.rstd * (gamma ? gamma[i] : 1.0L) +
                               (beta ? beta[i] : 0.0L);
            uint16_t got;
            memcpy(&got, (const char *)y + 2 * (r * ys + i), 2);
            double ulps;
            long double slack = half_slack(gamma ? gamma[i] : 1.0L, ((long double)xr[i] - ref.mean) * ref.rstd,
                                           beta ? beta[i] : 0.0L);
            ck_assert_msg(check_half(got, yt, want, slack, &ulps),
                          "seed=0x%016" PRIx64 " isa=%s %s (%s, y %s) rows=%zu n=%zu eps=%g%s: row %zu index %zu: "
                          "got 0x%04x (%.9g) want %.12Lg: %.3g ulp (x=%.9g gamma=%.9g beta=%.9g)",
                          seed, norm_active_isa_name(), what, layernorm ? "layernorm" : "rmsnorm", type_name(yt),
                          rows, n, (double)eps, outside ? " (outside sqrt)" : "", r, i, got,
                          (double)half_to_float(got, yt), want, ulps, (double)xr[i], gamma ? (double)gamma[i] : 1.0,
                          beta ? (double)beta[i] : 0.0);
        }
    }
}

/* norm_rmsnorm_f16/_bf16 and norm_layernorm_f16/_bf16: dense rows, gamma and beta of the
 * rows' type or NULL, nothing written around y. */
START_TEST(test_half_dense)
{
    static const size_t shapes[][2] = { { 1, 1 }, { 3, 17 }, { 2, 64 }, { 4, 1000 }, { 2, 4099 } };
    rng r = rng_for(seed, "half dense");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = NORM_F16; t <= NORM_BF16; t++) {
            size_t rows = shapes[s][0], n = shapes[s][1];
            uint16_t *x = malloc(rows * n * 2), *g = malloc(n * 2), *b = malloc(n * 2);
            uint16_t *ybuf = malloc((rows * n + 2 * PAD) * 2), *y = ybuf + PAD;
            float *xf = malloc(rows * n * sizeof(float)), *gf = malloc(n * sizeof(float)), *bf = malloc(n * sizeof(float));
            for (int kind = 0; kind < 2; kind++)
                for (int combo = 0; combo < 4; combo++) {
                    gen_typed(&r, x, xf, rows * n, t, kind ? 5.0 : 0.0, 2.0);
                    gen_typed(&r, g, gf, n, t, 1.0, 0.5);
                    gen_typed(&r, b, bf, n, t, 0.0, 0.5);
                    const uint16_t *gp = combo & 1 ? g : NULL, *bp = combo & 2 ? b : NULL;
                    float eps = n > 1 && combo == 3 ? 0.0f : kind ? 1e-5f : 1e-6f;
                    for (size_t i = 0; i < rows * n + 2 * PAD; i++)
                        ybuf[i] = 0x7fc5u; /* a NaN as f16 and bf16 */
                    norm_status st = t == NORM_F16 ? (kind ? norm_layernorm_f16 : norm_rmsnorm_f16)(y, x, gp, bp, rows, n, eps)
                                                   : (kind ? norm_layernorm_bf16 : norm_rmsnorm_bf16)(y, x, gp, bp, rows, n, eps);
                    ck_assert_int_eq(st, NORM_OK);
                    expect_rows_typed(t == NORM_F16 ? "norm_*_f16" : "norm_*_bf16", kind, t, y, n, xf, rows, n,
                                      gp ? gf : NULL, bp ? bf : NULL, eps, false, NULL, NULL);
                    for (size_t i = 0; i < PAD; i++)
                        ck_assert_msg(ybuf[i] == 0x7fc5u && y[rows * n + i] == 0x7fc5u, "write outside y");
                }
            free(x);
            free(g);
            free(b);
            free(ybuf);
            free(xf);
            free(gf);
            free(bf);
        }
}
END_TEST

/* norm_run with mixed types: (x, y, gamma/beta) as listed, row strides, statistics, eps
 * either side of the root, and in place where x and y share a type. */
START_TEST(test_half_run)
{
    static const struct { norm_dtype x, y, p; bool in_place; } cases[] = {
        { NORM_BF16, NORM_F32, NORM_F32, false }, { NORM_F32, NORM_F16, NORM_F32, false },
        { NORM_F16, NORM_BF16, NORM_F16, false }, { NORM_F32, NORM_BF16, NORM_F32, false },
        { NORM_F16, NORM_F32, NORM_F16, false },  { NORM_BF16, NORM_F16, NORM_BF16, false },
        { NORM_F16, NORM_F16, NORM_F16, true },   { NORM_BF16, NORM_BF16, NORM_F32, true },
        { NORM_F16, NORM_F16, NORM_F32, true },   { NORM_BF16, NORM_BF16, NORM_BF16, true },
    };
    static const size_t shapes[][2] = { { 1, 3 }, { 3, 33 }, { 2, 515 } };
    rng r = rng_for(seed, "half run");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int kind = 0; kind < 2; kind++) {
                int xt = cases[c].x, yt = cases[c].y, pt = cases[c].p;
                bool in_place = cases[c].in_place, outside = (s + (size_t)kind) % 2;
                size_t rows = shapes[s][0], n = shapes[s][1], xe = type_size(xt), ye = type_size(yt);
                size_t xs = n + 3, ys = in_place ? xs : n + 5;
                size_t xlen = (rows - 1) * xs + n, ylen = (rows - 1) * ys + n;
                char *xbuf = malloc(xlen * xe), *ybuf = malloc((ylen + 2 * PAD) * ye);
                char *xd = malloc(rows * n * xe), *g = malloc(n * 4), *b = malloc(n * 4);
                float *xf = malloc(rows * n * sizeof(float)), *gf = malloc(n * sizeof(float)), *bf = malloc(n * sizeof(float));
                float stats[2 * 8 + 2 * PAD];
                gen_typed(&r, xd, xf, rows * n, xt, kind ? -3.0 : 0.5, 1.5);
                gen_typed(&r, g, gf, n, pt, 1.0, 0.5);
                gen_typed(&r, b, bf, n, pt, 0.0, 0.5);
                memset(xbuf, 0x5a, xlen * xe);
                memset(ybuf, 0x5a, (ylen + 2 * PAD) * ye);
                fill_canary(stats, sizeof stats / sizeof stats[0]);
                for (size_t i = 0; i < rows; i++)
                    memcpy(xbuf + i * xs * xe, xd + i * n * xe, n * xe);
                char *y = in_place ? xbuf : ybuf + PAD * ye;
                float *mean = stats + PAD, *rstd = stats + PAD + 8;

                norm_params p = norm_params_default((norm_kind)kind);
                p.rows = rows;
                p.n = n;
                p.x = xbuf;
                p.x_stride = xs;
                p.x_type = (norm_dtype)xt;
                p.y = y;
                p.y_stride = ys;
                p.y_type = (norm_dtype)yt;
                p.gamma = g;
                p.beta = s == 1 ? NULL : b;
                p.param_type = (norm_dtype)pt;
                p.flags = outside ? NORM_EPS_OUTSIDE_SQRT : 0;
                p.rstd = rstd;
                p.mean = kind ? mean : NULL;
                ck_assert_msg(norm_run(&p) == NORM_OK, "x %s y %s params %s", type_name(xt), type_name(yt), type_name(pt));
                char what[64];
                snprintf(what, sizeof what, "norm_run x %s y %s params %s%s", type_name(xt), type_name(yt),
                         type_name(pt), in_place ? " in place" : "");
                expect_rows_typed(what, kind, yt, y, ys, xf, rows, n, gf, p.beta ? bf : NULL, p.eps, outside, p.mean, rstd);
                /* Row gaps, the memory around y, and the statistics' neighbours are untouched. */
                if (!in_place)
                    for (size_t i = 0; i < (ylen + 2 * PAD) * ye; i++) {
                        size_t rel = i / ye - PAD;
                        bool in_row = i / ye >= PAD && rel < ylen && rel % ys < n;
                        ck_assert_msg(in_row || (unsigned char)ybuf[i] == 0x5a, "%s: wrote outside the rows of y (byte %zu)", what, i);
                    }
                else
                    for (size_t i = 0; i < xlen * xe; i++)
                        ck_assert_msg(i / xe % xs < n || (unsigned char)xbuf[i] == 0x5a, "%s: wrote in a row gap", what);
                for (size_t i = 0; i < sizeof stats / sizeof stats[0]; i++) {
                    bool is_out = (kind && &stats[i] >= mean && &stats[i] < mean + rows) || (&stats[i] >= rstd && &stats[i] < rstd + rows);
                    ck_assert_msg(is_out || is_canary(&stats[i]), "%s: wrote outside mean/rstd", what);
                }
                free(xbuf);
                free(ybuf);
                free(xd);
                free(g);
                free(b);
                free(xf);
                free(gf);
                free(bf);
            }
}
END_TEST

/* ---- the engine fusions: the fused residual add and the unit offset ------------------------ */

/* Where residual_out is, in test_fused_run. */
enum { F_SEPARATE, F_H_IS_R, F_H_IS_X, F_Y_IS_X, F_NO_RESIDUAL, F_NMODES };
static const char *const f_mode_names[F_NMODES] = { "residual_out separate", "residual_out = residual",
                                                    "residual_out = x", "y = x, residual_out = residual",
                                                    "no residual" };

/* One call of norm_run with the fusions, in buffers of its own with row strides all different
 * (where the mode lets them be): residual_out must hold h = (x + r) (+ bias), added in f32 and
 * rounded to x's type, bit for bit as computed here; y the long-double norm of h, scaled by
 * 1 + gamma under NORM_UNIT_OFFSET, within the contract; x and the residual unchanged unless
 * they are outputs, and nothing written in any row gap. */
static void fused_case(rng *r, int kind, int xt, int yt, int pt, size_t rows, size_t n, int mode, bool has_bias,
                       bool unit, bool outside)
{
    if (mode == F_Y_IS_X && xt != yt)
        mode = F_H_IS_R;
    bool fused = mode != F_NO_RESIDUAL;
    size_t xe = type_size(xt), ye = type_size(yt), pe = type_size(pt), count = rows * n;
    size_t xs = n + 2, rs = n + 5, hs = n + 9, ys = n + 13;
    if (mode == F_H_IS_R || mode == F_Y_IS_X)
        hs = rs;
    if (mode == F_H_IS_X)
        hs = xs;
    if (mode == F_Y_IS_X)
        ys = xs;
    size_t xlen = (rows - 1) * xs + n, rlen = (rows - 1) * rs + n, hlen = (rows - 1) * hs + n;
    size_t ylen = (rows - 1) * ys + n;
    unsigned char *xbuf = malloc(xlen * xe), *rbuf = malloc(rlen * xe), *hbuf = malloc(hlen * xe);
    unsigned char *ybuf = malloc(ylen * ye), *xd = malloc(count * xe), *rd = malloc(count * xe);
    unsigned char *hd = malloc(count * xe), *g = malloc(n * pe), *b = malloc(n * pe), *bias = malloc(n * pe);
    float *xf = malloc(count * sizeof(float)), *rf = malloc(count * sizeof(float)), *hf = malloc(count * sizeof(float));
    float *gf = malloc(n * sizeof(float)), *bf = malloc(n * sizeof(float)), *biasf = malloc(n * sizeof(float));
    float stats[2 * 4 + 2 * PAD];
    gen_typed(r, xd, xf, count, xt, 0.3, 1.0);
    gen_typed(r, rd, rf, count, xt, kind ? 2.0 : 0.0, 3.0);
    gen_typed(r, g, gf, n, pt, unit ? 0.0 : 1.0, 0.5); /* under the unit offset the scale is 1 + gamma */
    gen_typed(r, b, bf, n, pt, 0.0, 0.5);
    gen_typed(r, bias, biasf, n, pt, 0.0, 0.25);
    for (size_t i = 0; i < count; i++) {
        float s = xf[i] + rf[i];
        if (has_bias)
            s = s + biasf[i % n];
        hf[i] = type_store(hd, i, s, xt);
    }
    memset(xbuf, 0x5a, xlen * xe);
    memset(rbuf, 0x5a, rlen * xe);
    memset(hbuf, 0x5a, hlen * xe);
    memset(ybuf, 0x5a, ylen * ye);
    fill_canary(stats, sizeof stats / sizeof stats[0]);
    for (size_t k = 0; k < rows; k++) {
        memcpy(xbuf + k * xs * xe, xd + k * n * xe, n * xe);
        memcpy(rbuf + k * rs * xe, rd + k * n * xe, n * xe);
    }
    unsigned char *h = mode == F_SEPARATE ? hbuf : mode == F_H_IS_X ? xbuf : rbuf;
    unsigned char *y = mode == F_Y_IS_X ? xbuf : ybuf;
    float *mean = stats + PAD, *rstd = stats + PAD + 4;

    norm_params p = norm_params_default((norm_kind)kind);
    p.rows = rows;
    p.n = n;
    p.x = xbuf;
    p.x_stride = xs;
    p.x_type = (norm_dtype)xt;
    p.y = y;
    p.y_stride = ys;
    p.y_type = (norm_dtype)yt;
    p.gamma = g;
    p.beta = (n + rows) % 3 ? b : NULL;
    p.param_type = (norm_dtype)pt;
    p.flags = (outside ? NORM_EPS_OUTSIDE_SQRT : 0) | (unit ? NORM_UNIT_OFFSET : 0);
    p.rstd = rstd;
    p.mean = kind ? mean : NULL;
    if (fused) {
        p.residual = rbuf;
        p.residual_stride = rs;
        p.residual_out = h;
        p.residual_out_stride = hs;
        p.bias = has_bias ? bias : NULL;
    }
    char what[160];
    snprintf(what, sizeof what, "seed=0x%016" PRIx64 " isa=%s fused %s x %s y %s params %s rows=%zu n=%zu %s%s%s%s",
             seed, norm_active_isa_name(), kind ? "layernorm" : "rmsnorm", type_name(xt), type_name(yt),
             type_name(pt), rows, n, f_mode_names[mode], has_bias && fused ? ", bias" : "",
             unit ? ", unit offset" : "", outside ? ", eps outside sqrt" : "");
    norm_status st = norm_run(&p);
    ck_assert_msg(st == NORM_OK, "%s: %s", what, norm_status_string(st));

    for (size_t k = 0; k < rows; k++) {
        /* h, bit for bit (one assertion per row: Check reports each passing one to its parent). */
        size_t bad = n;
        for (size_t i = 0; i < n && fused && bad == n; i++)
            if (memcmp(h + (k * hs + i) * xe, hd + (k * n + i) * xe, xe) != 0)
                bad = i;
        ck_assert_msg(bad == n, "%s: residual_out row %zu index %zu: got %.9g want %.9g (x %.9g r %.9g)", what, k, bad,
                      (double)type_load(h, k * hs + bad % n, xt), (double)hf[k * n + bad % n],
                      (double)xf[k * n + bad % n], (double)rf[k * n + bad % n]);
        /* y from the long-double norm of h (of x without the residual). */
        const float *src = (fused ? hf : xf) + k * n;
        ref_stats ref = ref_row(kind, src, n, p.eps, outside);
        for (size_t i = 0; i < n; i++) {
            long double gg = unit ? 1.0L + (long double)gf[i] : (long double)gf[i];
            bool ok;
            long double bb = p.beta ? (long double)bf[i] : 0.0L;
            long double xhat = ((long double)src[i] - ref.mean) * ref.rstd, want = xhat * gg + bb;
            long double bound = contract_bound(gg, xhat, bb);
            float got = type_load(y, k * ys + i, yt);
            double ulps = 0;
            if (yt == NORM_F32) {
                ok = fabsl((long double)got - want) <= bound;
            } else {
                uint16_t bits;
                memcpy(&bits, y + (k * ys + i) * 2, 2);
                ok = check_half(bits, yt, want, bound, &ulps);
            }
            if (!ok)
                ck_abort_msg("%s: y row %zu index %zu: got %.9g want %.12Lg bound %.4Lg (h %.9g gamma %.9g)", what, k, i,
                             (double)got, want, bound, (double)src[i], (double)gf[i]);
        }
        mismatch m = { 0 };
        check_stat(rstd[k], ref.rstd, CONTRACT_TOL * fabsl(ref.rstd) + 0x1p-149L, "rstd", k, &m);
        if (kind && !m.failed)
            check_stat(mean[k], ref.mean, CONTRACT_TOL * (fabsl(ref.mean) + 1.0L / ref.rstd) + 0x1p-149L, "mean", k, &m);
        ck_assert_msg(!m.failed, "%s: row %zu: %s got %.9g want %.12Lg", what, k, m.what, m.got, m.want);
    }
    /* Inputs unchanged where they are not outputs; no row gap or neighbour written. */
    bool x_out = mode == F_H_IS_X || mode == F_Y_IS_X, r_out = mode == F_H_IS_R || mode == F_Y_IS_X;
    for (size_t i = 0; i < xlen; i++) {
        bool in_row = i % xs < n;
        if (!(in_row ? x_out || memcmp(xbuf + i * xe, xd + (i / xs * n + i % xs) * xe, xe) == 0 : xbuf[i * xe] == 0x5a))
            ck_abort_msg("%s: x %s at element %zu", what, in_row ? "changed" : "gap written", i);
    }
    for (size_t i = 0; i < rlen; i++) {
        bool in_row = i % rs < n;
        if (!(in_row ? r_out || memcmp(rbuf + i * xe, rd + (i / rs * n + i % rs) * xe, xe) == 0 : rbuf[i * xe] == 0x5a))
            ck_abort_msg("%s: residual %s at element %zu", what, in_row ? "changed" : "gap written", i);
    }
    for (size_t i = 0; i < hlen * xe; i++)
        if (!(mode != F_SEPARATE ? hbuf[i] == 0x5a : i / xe % hs < n || hbuf[i] == 0x5a))
            ck_abort_msg("%s: residual_out buffer written outside its rows (byte %zu)", what, i);
    for (size_t i = 0; i < ylen * ye; i++)
        if (!(mode == F_Y_IS_X ? ybuf[i] == 0x5a : i / ye % ys < n || ybuf[i] == 0x5a))
            ck_abort_msg("%s: y buffer written outside its rows (byte %zu)", what, i);
    for (size_t i = 0; i < sizeof stats / sizeof stats[0]; i++) {
        bool is_out = (kind && &stats[i] >= mean && &stats[i] < mean + rows) || (&stats[i] >= rstd && &stats[i] < rstd + rows);
        if (!is_out && !is_canary(&stats[i]))
            ck_abort_msg("%s: wrote outside mean/rstd", what);
    }
    void *blocks[] = { xbuf, rbuf, hbuf, ybuf, xd, rd, hd, g, b, bias, xf, rf, hf, gf, bf, biasf };
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        free(blocks[i]);
}

/* norm_run with the fused residual add (every residual_out layout, with and without a bias) and
 * the unit offset, in several type combinations, on the active tier. */
START_TEST(test_fused_run)
{
    static const struct { norm_dtype x, y, p; } cases[] = {
        { NORM_F32, NORM_F32, NORM_F32 },  { NORM_BF16, NORM_BF16, NORM_BF16 }, { NORM_F16, NORM_F16, NORM_F32 },
        { NORM_BF16, NORM_F32, NORM_F32 }, { NORM_F16, NORM_F32, NORM_F16 },    { NORM_F32, NORM_BF16, NORM_F32 },
    };
    static const size_t shapes[][2] = { { 1, 1 }, { 3, 33 }, { 2, 515 }, { 4, 4100 } };
    rng r = rng_for(seed, "fused run");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int kind = 0; kind < 2; kind++) {
                if (quick && shapes[s][1] > 1000 && (c + (size_t)kind) % 2)
                    continue;
                int mode = (int)(c + s + (size_t)kind * 2) % F_NMODES;
                fused_case(&r, kind, cases[c].x, cases[c].y, cases[c].p, shapes[s][0], shapes[s][1], mode,
                           (c + s) % 2 == 0, (s + (size_t)kind) % 2 == 0 || c == 1, (c + (size_t)kind) % 3 == 0);
            }
    /* Every layout with bias and unit offset, f32 and bf16. */
    for (int mode = 0; mode < F_NMODES; mode++)
        for (int kind = 0; kind < 2; kind++) {
            fused_case(&r, kind, NORM_F32, NORM_F32, NORM_F32, 3, 100, mode, true, true, false);
            fused_case(&r, kind, NORM_BF16, NORM_BF16, NORM_BF16, 3, 100, mode, true, true, false);
        }
}
END_TEST

/* ---- gated RMSNorm, int8 output, a row split across workers ------------------------------- */


/* Gated RMSNorm through norm_run, against a straightforward long-double computation:
 *   gate after   y = (x * r * gamma + beta) * silu(gate),        r = 1 / sqrt(mean(x^2) + eps)
 *   gate before  y = h * r * gamma + beta, h = x * silu(gate),   r = 1 / sqrt(mean(h^2) + eps)
 * within 2^-18 of max(|y|, |gamma|), rstd within 2^-18 relative; x and the gate unchanged,
 * nothing written in y's row gaps or around it. */
static void gated_case(rng *r, int xt, size_t rows, size_t n, bool before, bool unit, bool outside, bool with_beta)
{
    size_t xe = type_size(xt), count = rows * n, xs = n + 3, zs = n + 5, ys = n + 7;
    size_t xlen = (rows - 1) * xs + n, zlen = (rows - 1) * zs + n, ylen = (rows - 1) * ys + n;
    unsigned char *xbuf = malloc(xlen * xe), *zbuf = malloc(zlen * xe), *xd = malloc(count * xe), *zd = malloc(count * xe);
    float *xf = malloc(count * sizeof(float)), *zf = malloc(count * sizeof(float)), *g = malloc(n * sizeof(float));
    float *b = malloc(n * sizeof(float)), *ybuf = malloc((ylen + 2 * PAD) * sizeof(float)), *y = ybuf + PAD;
    float stats[4 + 2 * PAD], *rstd = stats + PAD;
    gen_typed(r, xd, xf, count, xt, 0.2, 1.5);
    gen_typed(r, zd, zf, count, xt, 0.3, 1.5);
    gen(r, g, n, unit ? 0.0 : 1.0, 0.5);
    gen(r, b, n, 0.0, 0.3);
    memset(xbuf, 0x5a, xlen * xe);
    memset(zbuf, 0x5a, zlen * xe);
    fill_canary(ybuf, ylen + 2 * PAD);
    fill_canary(stats, 4 + 2 * PAD);
    for (size_t k = 0; k < rows; k++) {
        memcpy(xbuf + k * xs * xe, xd + k * n * xe, n * xe);
        memcpy(zbuf + k * zs * xe, zd + k * n * xe, n * xe);
    }
    norm_params p = norm_params_default(NORM_RMSNORM);
    p.rows = rows;
    p.n = n;
    p.x = xbuf;
    p.x_stride = xs;
    p.x_type = (norm_dtype)xt;
    p.y = y;
    p.y_stride = ys;
    p.gamma = g;
    p.beta = with_beta ? b : NULL;
    p.rstd = rstd;
    p.gate = zbuf;
    p.gate_stride = zs;
    p.flags = (before ? NORM_GATE_BEFORE_NORM : 0) | (unit ? NORM_UNIT_OFFSET : 0) | (outside ? NORM_EPS_OUTSIDE_SQRT : 0);
    char what[160];
    snprintf(what, sizeof what, "seed=0x%016" PRIx64 " isa=%s gated rmsnorm (gate %s) x %s rows=%zu n=%zu%s%s%s", seed,
             norm_active_isa_name(), before ? "before" : "after", type_name(xt), rows, n, unit ? ", unit offset" : "",
             outside ? ", eps outside sqrt" : "", with_beta ? "" : ", no beta");
    norm_status st = norm_run(&p);
    ck_assert_msg(st == NORM_OK, "%s: %s", what, norm_status_string(st));

    for (size_t k = 0; k < rows; k++) {
        const float *xr = xf + k * n, *zr = zf + k * n;
        long double ss = 0.0L;
        for (size_t i = 0; i < n; i++) {
            long double h = before ? (long double)xr[i] * silu_l(zr[i]) : (long double)xr[i];
            ss += h * h;
        }
        long double ms = ss / (long double)n, eps = p.eps;
        long double rs = outside ? 1.0L / (sqrtl(ms) + eps) : 1.0L / sqrtl(ms + eps);
        for (size_t i = 0; i < n; i++) {
            long double gg = unit ? 1.0L + (long double)g[i] : (long double)g[i];
            long double h = before ? (long double)xr[i] * silu_l(zr[i]) : (long double)xr[i];
            long double want = h * rs * gg + (with_beta ? (long double)b[i] : 0.0L);
            if (!before)
                want *= silu_l(zr[i]);
            long double bound = 0x1p-18L * fmaxl(fabsl(want), fabsl(gg));
            float got = y[k * ys + i];
            if (!(fabsl((long double)got - want) <= bound))
                ck_abort_msg("%s: y row %zu index %zu: got %.9g want %.12Lg bound %.4Lg (x %.9g gate %.9g gamma %.9g)",
                             what, k, i, (double)got, want, bound, (double)xr[i], (double)zr[i], (double)g[i]);
        }
        ck_assert_msg(fabsl((long double)rstd[k] - rs) <= 0x1p-18L * rs, "%s: rstd row %zu: got %.9g want %.12Lg", what, k,
                      (double)rstd[k], rs);
    }
    for (size_t i = 0; i < xlen * xe; i++) {
        size_t e = i / xe;
        bool ok = e % xs < n ? xbuf[i] == xd[(e / xs * n + e % xs) * xe + i % xe] : xbuf[i] == 0x5a;
        ck_assert_msg(ok, "%s: x changed (byte %zu)", what, i);
    }
    for (size_t i = 0; i < zlen * xe; i++) {
        size_t e = i / xe;
        bool ok = e % zs < n ? zbuf[i] == zd[(e / zs * n + e % zs) * xe + i % xe] : zbuf[i] == 0x5a;
        ck_assert_msg(ok, "%s: the gate changed (byte %zu)", what, i);
    }
    for (size_t i = 0; i < ylen + 2 * PAD; i++) {
        size_t rel = i - PAD;
        bool in_row = i >= PAD && rel < ylen && rel % ys < n;
        ck_assert_msg(in_row || is_canary(&ybuf[i]), "%s: wrote outside the rows of y (%zu)", what, i);
    }
    for (size_t i = 0; i < 4 + 2 * PAD; i++)
        ck_assert_msg((&stats[i] >= rstd && &stats[i] < rstd + rows) || is_canary(&stats[i]), "%s: wrote outside rstd", what);
    void *blocks[] = { xbuf, zbuf, xd, zd, xf, zf, g, b, ybuf };
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        free(blocks[i]);
}

/* Gated RMSNorm, both orders, on the active tier. */
START_TEST(test_gated_run)
{
    static const size_t shapes[][2] = { { 1, 1 }, { 3, 37 }, { 2, 300 }, { 2, 1029 } };
    static const int types[] = { NORM_F32, NORM_BF16, NORM_F16 };
    rng r = rng_for(seed, "gated run");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 3; t++)
            for (int before = 0; before < 2; before++) {
                size_t v = s + (size_t)t + (size_t)before;
                gated_case(&r, types[t], shapes[s][0], shapes[s][1], before, v % 3 == 1, v % 2 == 1, v % 4 != 3);
            }
}
END_TEST

/* ---- defined edges (issue #14): results the header defines, the same on every tier ------- */

/* A gate of -Inf: silu(-Inf) is -0, so its element of y is a zero (y = v * (-0), or with the
 * gate first x * (-0) is a zero of the row) and the rest of the row is as without it; a gate
 * of +Inf after the norm gives y = v * Inf. Before the fix z / (1 + exp(-z)) made them NaN. */
START_TEST(test_gate_infinite)
{
    enum { GN = 37 };
    float x[GN], z[GN], g[GN], y[GN];
    rng r = rng_for(seed, "gate infinite");
    gen(&r, x, GN, 0.0, 1.0);
    gen(&r, z, GN, 0.0, 2.0);
    gen(&r, g, GN, 1.0, 0.5);
    for (int before = 0; before < 2; before++)
        for (int sign = -1; sign <= 1; sign += 2) {
            if (before && sign > 0)
                continue; /* x * silu(+Inf) is an infinite element: a row whose rstd is 0 */
            size_t at = 5 + (size_t)before * 11;
            float zz[GN];
            memcpy(zz, z, sizeof zz);
            zz[at] = sign * INFINITY;
            norm_params p = norm_params_default(NORM_RMSNORM);
            p.rows = 1, p.n = GN, p.x = x, p.y = y, p.gamma = g, p.gate = zz;
            p.flags = before ? NORM_GATE_BEFORE_NORM : 0;
            ck_assert_int_eq(norm_run(&p), NORM_OK);
            long double ss = 0.0L;
            for (size_t i = 0; i < GN; i++) {
                long double h = before ? (long double)x[i] * silu_l(zz[i]) : (long double)x[i];
                ss += h * h;
            }
            long double rs = 1.0L / sqrtl(ss / GN + (long double)p.eps);
            for (size_t i = 0; i < GN; i++) {
                long double h = before ? (long double)x[i] * silu_l(zz[i]) : (long double)x[i];
                long double want = h * rs * (long double)g[i] * (before ? 1.0L : silu_l(zz[i]));
                if (i == at) {
                    /* The sign of the product of the signs: x, gamma, and silu's (-0 or +Inf). */
                    bool neg = (signbit(x[i]) != 0) ^ (signbit(g[i]) != 0) ^ (sign < 0);
                    bool ok = sign < 0 ? y[i] == 0.0f : isinf(y[i]);
                    ck_assert_msg(ok && (signbit(y[i]) != 0) == neg,
                                  "isa=%s gate %s, z = %cInf: y[%zu] = %g, want %s%s", norm_active_isa_name(),
                                  before ? "before" : "after", sign < 0 ? '-' : '+', i, (double)y[i], neg ? "-" : "+",
                                  sign < 0 ? "0" : "Inf");
                } else {
                    long double bound = 0x1p-18L * fmaxl(fabsl(want), fabsl((long double)g[i]));
                    ck_assert_msg(fabsl((long double)y[i] - want) <= bound,
                                  "isa=%s gate %s, z[%zu] = %cInf: y[%zu] = %.9g, want %.12Lg", norm_active_isa_name(),
                                  before ? "before" : "after", at, sign < 0 ? '-' : '+', i, (double)y[i], want);
                }
            }
        }
}
END_TEST

/* x near 2^127 and a subnormal gate, the gate before the norm: x * silu(z) is of order 1e-6,
 * but silu(z) alone (about z / 2) is a subnormal, and rounding it there lost up to a third of
 * the product (the fuzzer's finding: m2 5.28e-12 against 7.32e-12). The row's moments and y
 * must stay within the gated bound. */
START_TEST(test_gate_subnormal)
{
    enum { GN = 98 };
    float x[GN], z[GN], y[GN];
    rng r = rng_for(seed, "gate subnormal");
    for (size_t i = 0; i < GN; i++) {
        x[i] = (rng_bool(&r) ? 1.0f : -1.0f) * ldexpf(1.0f + (float)rng_uniform(&r, 0, 1), 126);
        z[i] = (rng_bool(&r) ? 1.0f : -1.0f) * ldexpf((float)(1 + rng_below(&r, 7)), -149);
    }
    long double ss = 0.0L, h[GN];
    for (size_t i = 0; i < GN; i++) {
        h[i] = (long double)x[i] * silu_l(z[i]);
        ss += h[i] * h[i];
    }
    norm_params p = norm_params_default(NORM_RMSNORM);
    p.rows = 1, p.n = GN, p.x = x, p.y = y, p.gate = z, p.flags = NORM_GATE_BEFORE_NORM, p.eps = 0.0f;
    norm_moments m;
    p.y = NULL; /* the moments call writes no y */
    norm_status st = norm_moments_run(&p, &m);
    ck_assert_msg(st == NORM_OK, "norm_moments_run: %s (%s)", norm_status_string(st), norm_last_error_detail());
    p.y = y;
    ck_assert_msg(fabsl((long double)m.m2 - ss) <= 0x1p-17L * ss, "isa=%s: m2 of x * silu(z) %.9g, want %.12Lg",
                  norm_active_isa_name(), m.m2, ss);
    ck_assert_int_eq(norm_run(&p), NORM_OK);
    long double rs = 1.0L / sqrtl(ss / GN);
    for (size_t i = 0; i < GN; i++) {
        long double want = h[i] * rs;
        ck_assert_msg(fabsl((long double)y[i] - want) <= 0x1p-18L * fmaxl(fabsl(want), 1.0L),
                      "isa=%s: y[%zu] = %.9g, want %.12Lg (x %a, z %a)", norm_active_isa_name(), i, (double)y[i], want,
                      (double)x[i], (double)z[i]);
    }
}
END_TEST

/* Given moments that do not describe the row: x near -1.7e38 with m2 = 0, so rstd = 1/sqrt(eps)
 * = 316 and (x - mean) * rstd is beyond f32. The header defines x * silu(z), x - mean and
 * (x - mean) * rstd as f32 values there: y is -Inf * gamma, the same on every tier (the scalar
 * tier computed in double and gave finite values, 53758.7; the others Inf). Elements whose
 * product stays in range are within the bound. */
START_TEST(test_given_moments_overflow)
{
    enum { GN = 29 };
    float x[GN], g[GN], z[GN], y[GN];
    for (size_t i = 0; i < GN; i++) {
        x[i] = i % 3 == 2 ? 1.0f : -1.7e38f * (1.0f + 0.01f * (float)i);
        g[i] = -1e-36f;
        z[i] = 4.0f;
    }
    for (int op = 0; op < 4; op++) { /* rmsnorm, layernorm, gate after, gate before */
        norm_params p = norm_params_default(op == 1 ? NORM_LAYERNORM : NORM_RMSNORM);
        norm_moments m = { GN, 0.0, 0.0 };
        p.rows = 1, p.n = GN, p.x = x, p.y = y, p.gamma = g, p.moments = &m, p.eps = 1e-5f;
        if (op >= 2) {
            p.gate = z;
            p.flags = op == 3 ? NORM_GATE_BEFORE_NORM : 0;
        }
        ck_assert_int_eq(norm_run(&p), NORM_OK);
        long double rs = 1.0L / sqrtl((long double)p.eps), s4 = silu_l(4.0L);
        for (size_t i = 0; i < GN; i++) {
            long double u = (long double)x[i] * (op == 3 ? s4 : 1.0L) * rs;
            long double want = u * (long double)g[i] * (op == 2 ? s4 : 1.0L);
            if (fabsl(u) > FLT_MAX)
                ck_assert_msg(isinf(y[i]) && y[i] > 0, "isa=%s op %d: y[%zu] = %g, want +Inf", norm_active_isa_name(),
                              op, i, (double)y[i]);
            else
                ck_assert_msg(fabsl((long double)y[i] - want) <= 0x1p-18L * fabsl(want),
                              "isa=%s op %d: y[%zu] = %.9g, want %.12Lg", norm_active_isa_name(), op, i,
                              (double)y[i], want);
        }
    }
}
END_TEST

/* Rows holding NaN or Inf, or whose gate is infinite or NaN, with int8 output, static and
 * dynamic scale: the row's rstd is 0 (or its y NaN), and q is 0 everywhere with a scale of 0;
 * an element whose gate is -Inf is 0 in an ordinary row. (Issue #14 item 3: avx2 gave 0
 * where the scalar tier gave +-127.) */
START_TEST(test_int8_nonfinite_gate)
{
    enum { GN = 37 };
    float x[GN], z[GN], g[GN];
    for (size_t i = 0; i < GN; i++) {
        x[i] = 0.3f * ((float)i - 17.0f);
        z[i] = 0.1f * (float)i - 1.0f;
        g[i] = 1.0f;
    }
    static const float xs[] = { INFINITY, -INFINITY, NAN };
    for (int w = 0; w < 3; w++)
        for (int before = 0; before < 2; before++)
            for (int dyn = 0; dyn < 2; dyn++) {
                float xx[GN], sc = -1.0f;
                int8_t q[GN];
                memcpy(xx, x, sizeof xx);
                xx[5] = xs[w];
                norm_params p = norm_params_default(NORM_RMSNORM);
                p.rows = 1, p.n = GN, p.x = xx, p.y = q, p.y_type = NORM_I8, p.gamma = g, p.gate = z;
                p.flags = before ? NORM_GATE_BEFORE_NORM : 0;
                if (dyn)
                    p.y_scales = &sc;
                else
                    p.y_scale = 0.05f;
                ck_assert_int_eq(norm_run(&p), NORM_OK);
                for (size_t i = 0; i < GN; i++)
                    ck_assert_msg(q[i] == 0, "isa=%s x[5] = %g, gate %s, %s scale: q[%zu] = %d, want 0",
                                  norm_active_isa_name(), (double)xs[w], before ? "before" : "after",
                                  dyn ? "dynamic" : "static", i, q[i]);
                if (dyn)
                    ck_assert_msg(sc == 0.0f, "isa=%s: dynamic scale %g, want 0", norm_active_isa_name(), (double)sc);
            }
}
END_TEST

/* The fused residual add against the add pass followed by the plain call, and each row in a
 * call of its own against the batched call, on many rows of every short and long class: the
 * same bits for y, mean and rstd (README: a fused row and the unfused sequence agree; a row's
 * bits are its own). With a zero residual h is x exactly, so the calls normalise the same rows
 * through the fused, the plain and the single-row paths. A handful of rows caught nothing here:
 * a short-row rstd taken differently by two paths differed in 0.4% of rows (AVX-512). */
START_TEST(test_fused_matches_plain_many_rows)
{
    static const size_t ns[] = { 37, 128, 256, 300, 1000, 1500 };
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++)
        for (int kind = 0; kind < 2; kind++) {
            const size_t n = ns[t], rows = 4000 * 128 / n;
            float *x = malloc(rows * n * sizeof *x), *r = calloc(rows * n, sizeof *r), *h = malloc(rows * n * sizeof *h);
            float *y1 = malloc(rows * n * sizeof *y1), *y2 = malloc(rows * n * sizeof *y2);
            float *g = malloc(n * sizeof *g), *b = malloc(n * sizeof *b);
            float *s1 = malloc(rows * sizeof *s1), *s2 = malloc(rows * sizeof *s2);
            float *m1 = malloc(rows * sizeof *m1), *m2 = malloc(rows * sizeof *m2);
            ck_assert(x && r && h && y1 && y2 && g && b && s1 && s2 && m1 && m2);
            uint64_t st = 0x9e3779b97f4a7c15u * (n + 1);
            for (size_t i = 0; i < rows * n; i++) {
                st = st * 6364136223846793005u + 1442695040888963407u;
                x[i] = (float)((double)(st >> 11) * 0x1p-53 * 3.0 - 1.0) + (float)(i / n % 9);
            }
            for (size_t i = 0; i < n; i++) {
                g[i] = 1.0f + 0.001f * (float)i;
                b[i] = 0.25f - 0.0005f * (float)i;
            }
            norm_params p = norm_params_default(kind ? NORM_LAYERNORM : NORM_RMSNORM);
            p.rows = rows, p.n = n, p.x = x, p.y = y1, p.gamma = g, p.beta = b, p.eps = 1e-5f, p.rstd = s1;
            if (kind)
                p.mean = m1;
            ck_assert_int_eq(norm_run(&p), NORM_OK);
            /* Twice: the fused call (h = x + 0, the same rows), then each row in a call of its own. */
            for (int alone = 0; alone < 2; alone++) {
                const char *how = alone ? "alone" : "fused";
                memset(y2, 0, rows * n * sizeof *y2);
                if (!alone) {
                    norm_params q = p;
                    q.y = y2, q.rstd = s2, q.mean = kind ? m2 : NULL, q.residual = r, q.residual_out = h;
                    ck_assert_int_eq(norm_run(&q), NORM_OK);
                }
                for (size_t k = 0; alone && k < rows; k++) {
                    norm_params q = p;
                    q.rows = 1, q.x = x + k * n, q.y = y2 + k * n, q.rstd = s2 + k, q.mean = kind ? m2 + k : NULL;
                    ck_assert_int_eq(norm_run(&q), NORM_OK);
                }
                for (size_t k = 0; k < rows; k++) {
                    ck_assert_msg(memcmp(&s1[k], &s2[k], sizeof *s1) == 0 &&
                                      (!kind || memcmp(&m1[k], &m2[k], sizeof *m1) == 0),
                                  "isa=%s %s n=%zu row %zu: %s rstd %.9g mean %.9g, batched %.9g %.9g",
                                  norm_active_isa_name(), kind ? "layernorm" : "rmsnorm", n, k, how, (double)s2[k],
                                  kind ? (double)m2[k] : 0.0, (double)s1[k], kind ? (double)m1[k] : 0.0);
                    ck_assert_msg(memcmp(y1 + k * n, y2 + k * n, n * sizeof *y1) == 0,
                                  "isa=%s %s n=%zu row %zu: %s y differs", norm_active_isa_name(),
                                  kind ? "layernorm" : "rmsnorm", n, k, how);
                }
            }
            free(x), free(r), free(h), free(y1), free(y2), free(g), free(b), free(s1), free(s2), free(m1), free(m2);
        }
}
END_TEST

/* int8 output through norm_run, against the long-double reference: with a static scale s,
 * q = clamp(round(y * (1 / s)), -127, 127); with dynamic scales, s = max|y| / 127 per row
 * (within 1e-6 relative; 0, with q all 0, for a row whose y is all zero) and q from it. q must
 * be exact except within 1e-3 of a rounding boundary (x.5). Nothing written around y. */
static void int8_case(rng *r, int kind, int xt, size_t rows, size_t n, bool dynamic)
{
    size_t xe = type_size(xt), count = rows * n, ys = n + 5, ylen = (rows - 1) * ys + n;
    unsigned char *x = malloc(count * xe);
    float *xf = malloc(count * sizeof(float)), *g = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    int8_t *ybuf = malloc(ylen + 2 * PAD), *y = ybuf + PAD;
    float stats[2 * 8 + 4 * PAD], *scales = stats + PAD, *rstd = stats + 2 * PAD + 8, *mean = stats + 3 * PAD + 8;
    gen_typed(r, x, xf, count, xt, kind ? 1.0 : 0.0, 2.0);
    gen(r, g, n, 1.0, 0.5);
    gen(r, b, n, 0.0, 0.3);
    /* Dynamic: no beta, and the last row all zero (LayerNorm: constant), whose y is all 0. */
    if (dynamic && rows > 1)
        for (size_t i = 0; i < n; i++)
            xf[(rows - 1) * n + i] = type_store(x, (rows - 1) * n + i, kind ? 3.0f : 0.0f, xt);
    memset(ybuf, 0x5a, ylen + 2 * PAD);
    fill_canary(stats, sizeof stats / sizeof stats[0]);

    norm_params p = norm_params_default((norm_kind)kind);
    p.rows = rows;
    p.n = n;
    p.x = x;
    p.x_type = (norm_dtype)xt;
    p.y = y;
    p.y_stride = ys;
    p.y_type = NORM_I8;
    p.gamma = g;
    p.beta = dynamic ? NULL : b;
    p.rstd = rstd;
    p.mean = kind ? mean : NULL;
    if (dynamic)
        p.y_scales = scales;
    else
        p.y_scale = 0.02f; /* |y| above 2.54 clamps */
    char what[160];
    snprintf(what, sizeof what, "seed=0x%016" PRIx64 " isa=%s %s int8 (%s scale) x %s rows=%zu n=%zu", seed,
             norm_active_isa_name(), kind ? "layernorm" : "rmsnorm", dynamic ? "dynamic" : "static", type_name(xt), rows, n);
    norm_status st = norm_run(&p);
    ck_assert_msg(st == NORM_OK, "%s: %s", what, norm_status_string(st));

    long double *yr = malloc(n * sizeof(long double));
    size_t skipped = 0;
    for (size_t k = 0; k < rows; k++) {
        const float *xr = xf + k * n;
        ref_stats ref = ref_row(kind, xr, n, p.eps, false);
        long double amax = 0.0L;
        for (size_t i = 0; i < n; i++) {
            yr[i] = ((long double)xr[i] - ref.mean) * ref.rstd * g[i] + (p.beta ? (long double)b[i] : 0.0L);
            amax = fmaxl(amax, fabsl(yr[i]));
        }
        long double inv;
        if (dynamic) {
            long double s = amax / 127.0L;
            ck_assert_msg(s == 0.0L ? scales[k] == 0.0f : fabsl((long double)scales[k] - s) <= 1e-6L * s,
                          "%s: row %zu scale %.9g, want %.12Lg", what, k, (double)scales[k], s);
            inv = s > 0.0L ? 1.0L / s : 0.0L;
        } else {
            inv = (long double)(1.0f / p.y_scale);
        }
        for (size_t i = 0; i < n; i++) {
            long double t = yr[i] * inv;
            if (fabsl(t - floorl(t) - 0.5L) < 1e-3L) {
                skipped++;
                continue;
            }
            long double q = nearbyintl(t);
            q = q > 127.0L ? 127.0L : q < -127.0L ? -127.0L : q;
            int got = y[k * ys + i];
            if (got != (int)q)
                ck_abort_msg("%s: row %zu index %zu: q %d, want %d (y %.9Lg * 1/s %.9Lg = %.6Lg)", what, k, i, got, (int)q,
                             yr[i], inv, t);
        }
        mismatch m = { 0 };
        check_stat(rstd[k], ref.rstd, CONTRACT_TOL * fabsl(ref.rstd) + 0x1p-149L, "rstd", k, &m);
        if (kind && !m.failed)
            check_stat(mean[k], ref.mean, CONTRACT_TOL * (fabsl(ref.mean) + 1.0L / ref.rstd) + 0x1p-149L, "mean", k, &m);
        ck_assert_msg(!m.failed, "%s: row %zu: %s got %.9g want %.12Lg", what, k, m.what, m.got, m.want);
    }
    ck_assert_msg(skipped * 10 < count + 10, "%s: %zu of %zu values near a boundary", what, skipped, count);
    for (size_t i = 0; i < ylen + 2 * PAD; i++) {
        size_t rel = i - PAD;
        bool in_row = i >= PAD && rel < ylen && rel % ys < n;
        ck_assert_msg(in_row || (unsigned char)ybuf[i] == 0x5a, "%s: wrote outside the rows of y (byte %zu)", what, i);
    }
    for (size_t i = 0; i < sizeof stats / sizeof stats[0]; i++) {
        bool is_out = (dynamic && &stats[i] >= scales && &stats[i] < scales + rows) ||
                      (&stats[i] >= rstd && &stats[i] < rstd + rows) || (kind && &stats[i] >= mean && &stats[i] < mean + rows);
        ck_assert_msg(is_out || is_canary(&stats[i]), "%s: wrote outside y_scales/rstd/mean", what);
    }
    free(yr);
    free(x);
    free(xf);
    free(g);
    free(b);
    free(ybuf);
}

/* int8 output, static and dynamic scales, both kinds, on the active tier. */
START_TEST(test_int8_run)
{
    static const size_t shapes[][2] = { { 1, 1 }, { 4, 37 }, { 3, 300 }, { 2, 1029 } };
    static const int types[] = { NORM_F32, NORM_BF16, NORM_F16 };
    rng r = rng_for(seed, "int8 run");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int kind = 0; kind < 2; kind++)
            for (int dynamic = 0; dynamic < 2; dynamic++)
                int8_case(&r, kind, types[(s + (size_t)kind) % 3], shapes[s][0], shapes[s][1], dynamic);
}
END_TEST

/* A row split in three slices, as workers would: norm_moments_run on each slice (the residual
 * add, or the gate before the norm, applied there), norm_moments_combine, then norm_run on each
 * slice with .moments. y, rstd and mean must match one norm_run over the whole rows within 1e-5
 * relative (of max(|y|, |gamma|) for y), the combined moments those of the whole rows, and the
 * residual add's write-back must be the one call's bit for bit. */
enum { SPLIT_PLAIN, SPLIT_RESIDUAL, SPLIT_GATE_BEFORE, SPLIT_GATE_AFTER, SPLIT_NVARIANTS };
static const char *const split_names[SPLIT_NVARIANTS] = { "plain", "residual add", "gate before", "gate after" };

static void split_case(rng *r, int kind, int variant, size_t rows, size_t n, bool outside)
{
    const size_t cut[4] = { 0, n * 3 / 8, n * 2 / 3, n };
    size_t count = rows * n;
    float *x = malloc(count * sizeof(float)), *res = malloc(count * sizeof(float)), *z = malloc(count * sizeof(float));
    float *h1 = malloc(count * sizeof(float)), *h2 = malloc(count * sizeof(float)), *y1 = malloc(count * sizeof(float));
    float *y2 = malloc(count * sizeof(float)), *g = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    float *bias = malloc(n * sizeof(float));
    float mean1[4], rstd1[4], mean2[3][4], rstd2[3][4];
    norm_moments part[3][4], acc[4], whole[4];
    gen(r, x, count, kind ? 4.0 : 0.5, 2.0);
    gen(r, res, count, kind ? -1.0 : 0.0, 1.0);
    gen(r, z, count, 0.5, 1.5);
    gen(r, g, n, 1.0, 0.5);
    gen(r, b, n, 0.0, 0.3);
    gen(r, bias, n, 0.0, 0.2);
    char what[160];
    snprintf(what, sizeof what, "seed=0x%016" PRIx64 " isa=%s split %s (%s) rows=%zu n=%zu%s", seed, norm_active_isa_name(),
             kind ? "layernorm" : "rmsnorm", split_names[variant], rows, n, outside ? ", eps outside sqrt" : "");
    bool gated = variant == SPLIT_GATE_BEFORE || variant == SPLIT_GATE_AFTER, residual = variant == SPLIT_RESIDUAL;
    unsigned flags = (outside ? NORM_EPS_OUTSIDE_SQRT : 0) | (variant == SPLIT_GATE_BEFORE ? NORM_GATE_BEFORE_NORM : 0);

    /* One call over the whole rows. */
    norm_params p = norm_params_default((norm_kind)kind);
    p.rows = rows;
    p.n = n;
    p.x = x;
    p.y = y1;
    p.gamma = g;
    p.beta = b;
    p.rstd = rstd1;
    p.mean = kind ? mean1 : NULL;
    p.flags = flags;
    if (residual) {
        p.residual = res;
        p.residual_out = h1;
        p.bias = bias;
    }
    if (gated)
        p.gate = z;
    norm_status st = norm_run(&p);
    ck_assert_msg(st == NORM_OK, "%s: one call: %s", what, norm_status_string(st));

    /* The moments of the whole rows, of what is normalised. */
    norm_params q = norm_params_default((norm_kind)kind);
    q.rows = rows;
    q.n = n;
    q.x = residual ? h1 : x;
    if (variant == SPLIT_GATE_BEFORE) {
        q.gate = z;
        q.flags = NORM_GATE_BEFORE_NORM;
    }
    st = norm_moments_run(&q, whole);
    ck_assert_msg(st == NORM_OK, "%s: moments of the whole rows: %s", what, norm_status_string(st));

    /* Each worker's moments, then their combination (acc starts empty: count 0). */
    for (size_t k = 0; k < rows; k++)
        acc[k] = (norm_moments){ 0.0, 0.0, 0.0 };
    for (int s = 0; s < 3; s++) {
        size_t off = cut[s], len = cut[s + 1] - cut[s];
        q = norm_params_default((norm_kind)kind);
        q.rows = rows;
        q.n = len;
        q.x = x + off;
        q.x_stride = n;
        if (residual) {
            q.residual = res + off;
            q.residual_stride = n;
            q.residual_out = h2 + off;
            q.residual_out_stride = n;
            q.bias = bias + off;
        }
        if (variant == SPLIT_GATE_BEFORE) {
            q.gate = z + off;
            q.gate_stride = n;
            q.flags = NORM_GATE_BEFORE_NORM;
        }
        st = norm_moments_run(&q, part[s]);
        ck_assert_msg(st == NORM_OK, "%s: norm_moments_run slice %d: %s", what, s, norm_status_string(st));
        for (size_t k = 0; k < rows; k++)
            ck_assert_msg(part[s][k].count == (double)len, "%s: slice %d row %zu: count %g, want %zu", what, s, k,
                          part[s][k].count, len);
    }
    /* Combined in the order 1, 2, 0, to show the order does not matter. */
    for (int s = 1; s < 4; s++) {
        st = norm_moments_combine(acc, part[s % 3], rows);
        ck_assert_msg(st == NORM_OK, "%s: norm_moments_combine: %s", what, norm_status_string(st));
    }
    if (residual)
        for (size_t i = 0; i < count; i++) {
            float want = (x[i] + res[i]) + bias[i % n];
            if (memcmp(&h2[i], &want, sizeof want) != 0 || memcmp(&h1[i], &want, sizeof want) != 0)
                ck_abort_msg("%s: residual_out[%zu]: split %.9g, one call %.9g, want %.9g", what, i, (double)h2[i],
                             (double)h1[i], (double)want);
        }
    for (size_t k = 0; k < rows; k++) {
        double sd = sqrt(whole[k].m2 / whole[k].count);
        ck_assert_msg(acc[k].count == (double)n && fabs(acc[k].m2 - whole[k].m2) <= 1e-5 * whole[k].m2 &&
                          fabs(acc[k].mean - whole[k].mean) <= 1e-5 * (fabs(whole[k].mean) + sd),
                      "%s: row %zu: combined moments %g %.12g %.12g, whole row %g %.12g %.12g", what, k, acc[k].count,
                      acc[k].mean, acc[k].m2, whole[k].count, whole[k].mean, whole[k].m2);
        if (!kind)
            ck_assert_msg(acc[k].mean == 0.0, "%s: RMSNorm moments with mean %g", what, acc[k].mean);
    }

    /* Each worker normalises its slice with the combined moments. */
    for (int s = 0; s < 3; s++) {
        size_t off = cut[s], len = cut[s + 1] - cut[s];
        p = norm_params_default((norm_kind)kind);
        p.rows = rows;
        p.n = len;
        p.x = (residual ? h2 : x) + off;
        p.x_stride = n;
        p.y = y2 + off;
        p.y_stride = n;
        p.gamma = g + off;
        p.beta = b + off;
        p.rstd = rstd2[s];
        p.mean = kind ? mean2[s] : NULL;
        p.flags = flags;
        p.moments = acc;
        if (gated) {
            p.gate = z + off;
            p.gate_stride = n;
        }
        st = norm_run(&p);
        ck_assert_msg(st == NORM_OK, "%s: norm_run slice %d with moments: %s", what, s, norm_status_string(st));
        for (size_t k = 0; k < rows; k++) {
            ck_assert_msg(fabsf(rstd2[s][k] - rstd1[k]) <= 1e-5f * rstd1[k], "%s: slice %d row %zu: rstd %.9g, one call %.9g",
                          what, s, k, (double)rstd2[s][k], (double)rstd1[k]);
            if (kind)
                ck_assert_msg(fabsf(mean2[s][k] - mean1[k]) <= 1e-5f * (fabsf(mean1[k]) + 1.0f / rstd1[k]),
                              "%s: slice %d row %zu: mean %.9g, one call %.9g", what, s, k, (double)mean2[s][k],
                              (double)mean1[k]);
        }
    }
    for (size_t i = 0; i < count; i++) {
        float bound = 1e-5f * fmaxf(fabsf(y1[i]), fabsf(g[i % n]));
        if (!(fabsf(y2[i] - y1[i]) <= bound))
            ck_abort_msg("%s: row %zu index %zu: split %.9g, one call %.9g", what, i / n, i % n, (double)y2[i], (double)y1[i]);
    }
    void *blocks[] = { x, res, z, h1, h2, y1, y2, g, b, bias };
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        free(blocks[i]);
}

START_TEST(test_split_row)
{
    static const size_t shapes[][2] = { { 1, 3 }, { 2, 100 }, { 3, 37 }, { 4, 1000 } };
    rng r = rng_for(seed, "split row");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int kind = 0; kind < 2; kind++)
            for (int variant = 0; variant < SPLIT_NVARIANTS; variant++) {
                if (kind == NORM_LAYERNORM && (variant == SPLIT_GATE_BEFORE || variant == SPLIT_GATE_AFTER))
                    continue; /* gated RMSNorm only */
                split_case(&r, kind, variant, shapes[s][0], shapes[s][1], (s + (size_t)variant) % 2 == 1);
            }
}
END_TEST

/* ---- invalid inputs: exact status, nothing written -------------------------------------- */

/* One arena holds every buffer of these tests, so "nothing written" is one comparison. */
enum { ARENA = 6144, N = 64, ROWS = 4 };
static _Alignas(64) float arena[ARENA], arena_copy[ARENA];
#define X (arena)
#define Y (arena + 1024)
#define G (arena + 2048)
#define B (arena + 2304)
#define MEAN (arena + 2560)
#define RSTD (arena + 2624)
/* The gate (ROWS rows of N, room for a wider stride), int8 y (Y's bytes), the dynamic scales,
 * the given moments (norm_params.moments), norm_moments_run's output and a second moments
 * array for norm_moments_combine: ROWS rows each, 24 floats apart. */
#define GATE (arena + 4096)
#define Y8 ((int8_t *)Y)
#define YSC (arena + 5120)
#define MOM ((norm_moments *)(arena + 5184))
#define MOUT ((norm_moments *)(arena + 5248))
#define MPART ((norm_moments *)(arena + 5312))

static void arena_reset(void)
{
    for (size_t i = 0; i < ARENA; i++)
        arena[i] = (float)((int)(i % 251) - 125) * 0.125f; /* a recognisable, finite pattern */
    /* Valid moments wherever a test reads some. */
    for (size_t r = 0; r < ROWS; r++) {
        MOM[r] = (norm_moments){ (double)N, 0.25 * (double)r - 0.5, (double)N * (1.0 + (double)r) };
        MOUT[r] = (norm_moments){ 3.0 + (double)r, 1.5, 2.0 };
        MPART[r] = (norm_moments){ 10.0 + (double)r, -0.5, 3.0 };
    }
    memcpy(arena_copy, arena, sizeof arena);
}

static norm_params valid_params(norm_kind kind)
{
    norm_params p = norm_params_default(kind);
    p.rows = ROWS;
    p.n = N;
    p.x = X;
    p.y = Y;
    p.gamma = G;
    p.beta = B;
    p.rstd = RSTD;
    p.mean = kind == NORM_LAYERNORM ? MEAN : NULL;
    return p;
}

/* The fused residual add's buffers in the arena: residual, residual_out, bias. */
#define RES (arena + 2688)
#define HOUT (arena + 3072)
#define BIAS (arena + 3584)

/* A valid fused call: residual, a separate residual_out, a bias, the unit offset. */
static norm_params fused_params(norm_kind kind)
{
    norm_params p = valid_params(kind);
    p.residual = RES;
    p.residual_out = HOUT;
    p.bias = BIAS;
    p.flags = NORM_UNIT_OFFSET;
    return p;
}

static void expect_untouched_(norm_status got, norm_status want, const char *expr, int line)
{
    ck_assert_msg(got == want, "line %d: %s returned %d (%s), want %d (%s)", line, expr, got,
                  norm_status_string(got), want, norm_status_string(want));
    ck_assert_msg(memcmp(arena, arena_copy, sizeof arena) == 0, "line %d: %s wrote to memory", line, expr);
}
/* The call must return `want` and leave every buffer as it was. */
#define EXPECT_UNTOUCHED(call, want)                                     \
    do {                                                                 \
        arena_reset();                                                   \
        expect_untouched_((call), (want), #call, __LINE__);              \
    } while (0)
/* The same on the arena as the test has just set it up (after arena_reset and its own edits,
 * such as a bad moments row). */
#define EXPECT_UNCHANGED(call, want)                                     \
    do {                                                                 \
        memcpy(arena_copy, arena, sizeof arena);                         \
        expect_untouched_((call), (want), #call, __LINE__);              \
    } while (0)

/* A valid gated RMSNorm call (the gate after the norm). */
static norm_params gated_params(void)
{
    norm_params p = valid_params(NORM_RMSNORM);
    p.gate = GATE;
    return p;
}

/* A valid call with int8 output: a static scale, or dynamic scales written to YSC. */
static norm_params i8_params(norm_kind kind, bool dynamic)
{
    norm_params p = valid_params(kind);
    p.y = Y8;
    p.y_type = NORM_I8;
    if (dynamic)
        p.y_scales = YSC;
    else
        p.y_scale = 0.05f;
    return p;
}

/* A valid call normalising with given moments (MOM). */
static norm_params moments_params(norm_kind kind)
{
    norm_params p = valid_params(kind);
    p.moments = MOM;
    return p;
}

/* A valid norm_moments_run request: only what the moments depend on. */
static norm_params mrun_params(norm_kind kind)
{
    norm_params p = norm_params_default(kind);
    p.rows = ROWS;
    p.n = N;
    p.x = X;
    return p;
}

START_TEST(test_null)
{
    norm_params p = valid_params(NORM_RMSNORM);
    EXPECT_UNTOUCHED(norm_run(NULL), NORM_ERR_NULL_POINTER);
    p.x = NULL;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_NULL_POINTER);
    p = valid_params(NORM_LAYERNORM);
    p.y = NULL;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_NULL_POINTER);
    EXPECT_UNTOUCHED(norm_rmsnorm_f32(NULL, X, G, B, ROWS, N, 1e-6f), NORM_ERR_NULL_POINTER);
    EXPECT_UNTOUCHED(norm_rmsnorm_f32(Y, NULL, G, B, ROWS, N, 1e-6f), NORM_ERR_NULL_POINTER);
    EXPECT_UNTOUCHED(norm_layernorm_f32(NULL, X, NULL, NULL, 1, N, 1e-5f), NORM_ERR_NULL_POINTER);
    EXPECT_UNTOUCHED(norm_layernorm_f32(Y, NULL, NULL, NULL, 1, N, 1e-5f), NORM_ERR_NULL_POINTER);
}
END_TEST

START_TEST(test_zero_rows)
{
    /* rows = 0 is a valid no-op, pointers or not: NORM_OK, nothing written. */
    EXPECT_UNTOUCHED(norm_rmsnorm_f32(NULL, NULL, NULL, NULL, 0, N, 1e-6f), NORM_OK);
    EXPECT_UNTOUCHED(norm_layernorm_f32(NULL, NULL, NULL, NULL, 0, N, 1e-5f), NORM_OK);
    EXPECT_UNTOUCHED(norm_rmsnorm_f32(Y, X, G, B, 0, N, 1e-6f), NORM_OK);
    norm_params p = valid_params(NORM_LAYERNORM);
    p.rows = 0;
    p.x = NULL;
    p.y = NULL;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_OK); /* mean and rstd point at the arena */
}
END_TEST

START_TEST(test_bad_size_and_stride)
{
    norm_params p = valid_params(NORM_LAYERNORM);
    p.n = 0;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_SIZE);
    EXPECT_UNTOUCHED(norm_rmsnorm_f32(Y, X, G, B, ROWS, 0, 1e-6f), NORM_ERR_BAD_SIZE);
    EXPECT_UNTOUCHED(norm_layernorm_f32(Y, X, NULL, NULL, ROWS, 0, 1e-5f), NORM_ERR_BAD_SIZE);

    p = valid_params(NORM_RMSNORM);
    p.x_stride = N - 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_STRIDE);
    p = valid_params(NORM_LAYERNORM);
    p.y_stride = N - 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_STRIDE);
    p.y_stride = 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_STRIDE);

    /* A stride of 0 means n: valid, and the rows come out dense. */
    p = valid_params(NORM_LAYERNORM);
    p.x_stride = 0;
    p.y_stride = 0;
    arena_reset();
    ck_assert_int_eq(norm_run(&p), NORM_OK);
    expect_rows("stride 0", true, Y, N, arena_copy, ROWS, N, G, B, p.eps, false, MEAN, RSTD);
    ck_assert_msg(memcmp(Y + ROWS * N, arena_copy + 1024 + ROWS * N, sizeof(float)) == 0, "stride 0: wrote past row 4");
}
END_TEST

START_TEST(test_size_overflow)
{
    norm_params p = valid_params(NORM_RMSNORM);
    p.rows = SIZE_MAX / 2; /* (rows - 1) * n overflows */
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_SIZE_OVERFLOW);
    p.rows = SIZE_MAX / N / 2; /* elements fit, bytes do not */
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_SIZE_OVERFLOW);
    p = valid_params(NORM_LAYERNORM);
    p.rows = 2;
    p.y_stride = SIZE_MAX / 2; /* only y's extent overflows */
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_SIZE_OVERFLOW);
    p = valid_params(NORM_LAYERNORM);
    p.rows = 3;
    p.x_stride = SIZE_MAX / 3;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_SIZE_OVERFLOW);
    EXPECT_UNTOUCHED(norm_layernorm_f32(Y, X, NULL, NULL, SIZE_MAX, N, 1e-5f), NORM_ERR_SIZE_OVERFLOW);
}
END_TEST

START_TEST(test_bad_eps)
{
    static const float bad[] = { -1.0f, NAN, INFINITY, -INFINITY, -FLT_MIN };
    for (int i = 0; i < 5; i++) {
        norm_params p = valid_params(i % 2 ? NORM_LAYERNORM : NORM_RMSNORM);
        p.eps = bad[i];
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_EPS);
        EXPECT_UNTOUCHED(norm_rmsnorm_f32(Y, X, G, B, ROWS, N, bad[i]), NORM_ERR_BAD_EPS);
        EXPECT_UNTOUCHED(norm_layernorm_f32(Y, X, G, B, ROWS, N, bad[i]), NORM_ERR_BAD_EPS);
    }
}
END_TEST

START_TEST(test_overlap)
{
    norm_params p = valid_params(NORM_RMSNORM);
    p.y = X + 1; /* one element off x, same stride */
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p.y = X + N - 1; /* the last element of each row of x is the first of one of y */
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    EXPECT_UNTOUCHED(norm_rmsnorm_f32(X + 1, X, NULL, NULL, ROWS, N, 1e-6f), NORM_ERR_OVERLAP);

    p = valid_params(NORM_RMSNORM);
    p.y = X;
    p.y_stride = N + 1; /* y == x but a different stride: not in place */
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);

    p = valid_params(NORM_RMSNORM);
    p.y = G - 10; /* the last row of y runs into gamma */
    p.rows = 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p.y = B + 5;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    EXPECT_UNTOUCHED(norm_layernorm_f32(G + 1, X, G, NULL, 1, N, 1e-5f), NORM_ERR_OVERLAP);

    p = valid_params(NORM_LAYERNORM);
    p.rstd = X + 2;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p.rstd = Y + N - 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p = valid_params(NORM_LAYERNORM);
    p.mean = RSTD + ROWS - 1; /* the last mean is the first rstd */
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p.mean = Y + 3 * N + 2;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p.mean = X + 5;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
}
END_TEST

/* norm_run accepts the common calls (src/api.c, plain_accepted) with a few comparisons, and
 * the others through the complete checks; the quick path must accept exactly what the complete
 * checks accept. A call of 2k rows is also a call of two blocks of k (outer = 2, dense outer
 * strides): the same buffers, the same bytes, but always the complete checks. On random calls
 * whose buffers (x, y, gamma, beta, residual, its write-back, bias, rstd, mean, int8 scales) land
 * anywhere in a small region, the two must give the same status and write the same bytes. */
START_TEST(test_quick_checks_match_complete)
{
    static _Alignas(64) float after_one[ARENA];
    rng r = rng_for(seed, "quick vs complete");
    const size_t lengths[] = { 1, 7, 16, 33 };
    int outcomes[16] = { 0 };
    for (int iter = 0; iter < 6000; iter++) {
        norm_params p = norm_params_default((norm_kind)rng_below(&r, 2));
        p.rows = 2 * (1 + rng_below(&r, 2));
        p.n = lengths[rng_below(&r, 4)];
        p.x_type = (norm_dtype)rng_below(&r, 3);
        p.y_type = rng_below(&r, 3) == 0 ? NORM_I8 : p.x_type;
        p.param_type = rng_below(&r, 2) ? NORM_F32 : p.x_type;
        if (p.y_type == NORM_I8) {
            const float scales[] = { 0.02f, 0.0f, -1.0f, 0x1p-130f, NAN };
            p.y_scale = scales[rng_below(&r, 5)];
        }
        char *base = (char *)arena;
        /* Offsets in a region of 1024 bytes (4-byte steps), so buffers meet often. */
#define QUICK_PTR(null_often) \
    ((null_often) && rng_below(&r, 2) == 0 ? NULL : (void *)(base + rng_below(&r, 256) * 4))
        void *x = QUICK_PTR(false);
        p.x = x;
        p.y = rng_below(&r, 4) == 0 ? x : QUICK_PTR(false);
        p.gamma = QUICK_PTR(true);
        p.beta = QUICK_PTR(true);
        if (rng_below(&r, 3) == 0) {
            void *res = QUICK_PTR(false);
            p.residual = res;
            p.residual_out = rng_below(&r, 3) == 0 ? res : rng_below(&r, 3) == 0 ? x : QUICK_PTR(false);
            p.bias = QUICK_PTR(true);
        }
        p.rstd = QUICK_PTR(true);
        p.mean = rng_below(&r, 4) == 0 || p.kind == NORM_LAYERNORM ? QUICK_PTR(true) : NULL;
        p.y_scales = p.y_type == NORM_I8 && rng_below(&r, 2) ? QUICK_PTR(false) : NULL;
#undef QUICK_PTR
        arena_reset();
        norm_status one = norm_run(&p);
        memcpy(after_one, arena, sizeof arena);
        norm_params two = p;
        two.outer = 2;
        two.rows = p.rows / 2;
        arena_reset();
        norm_status blocks = norm_run(&two);
        ck_assert_msg(one == blocks, "iteration %d: one block gave %s, two blocks %s (kind %d, types %d %d %d, "
                      "rows %zu, n %zu, y_scale %g)", iter, norm_status_string(one), norm_status_string(blocks),
                      p.kind, p.x_type, p.y_type, p.param_type, p.rows, p.n, (double)p.y_scale);
        /* NaN results compare as bytes: both run the same kernels on the same rows. */
        ck_assert_msg(memcmp(arena, after_one, sizeof arena) == 0,
                      "iteration %d: one block and two blocks wrote different bytes", iter);
        outcomes[one < 16 && one >= 0 ? one : 15]++;
    }
    /* The generator must reach the outcomes it exists for. */
    ck_assert_int_gt(outcomes[NORM_OK], 300);
    ck_assert_int_gt(outcomes[NORM_ERR_OVERLAP], 300);
    ck_assert_int_gt(outcomes[NORM_ERR_BAD_ARGUMENT], 50);
    ck_assert_int_gt(outcomes[NORM_ERR_BAD_SCALE], 50);
}
END_TEST

/* The dense entry points check their arguments on a path of their own (a one-row call should
 * pay for nothing else): on random calls, good and bad, they must answer exactly as norm_run
 * does with the same rows, and write the same bytes. Overlaps are the point: x, y, gamma and
 * beta land anywhere in a small region, often on each other. */
START_TEST(test_dense_matches_run)
{
    static _Alignas(64) float after_run[ARENA];
    rng r = rng_for(seed, "dense vs run");
    const float eps_values[] = { 1e-6f, 0.0f, -1.0f, NAN, INFINITY, 0.5f };
    const size_t row_counts[] = { 0, 1, 2, 3, SIZE_MAX / 2 };
    const size_t lengths[] = { 0, 1, 7, 16, 33 };
    int outcomes[16] = { 0 };
    for (int iter = 0; iter < 4000; iter++) {
        norm_kind kind = (norm_kind)rng_below(&r, 2);
        norm_dtype type = (norm_dtype)rng_below(&r, 3);
        size_t rows = row_counts[rng_below(&r, 4 + (rng_below(&r, 16) == 0))];
        size_t n = lengths[rng_below(&r, 5)];
        float eps = eps_values[rng_below(&r, 2) ? 0 : rng_below(&r, 6)];
        /* Element offsets in a region of 256 floats (512 halves), so buffers meet often. */
        size_t e = type == NORM_F32 ? 4 : 2;
        char *base = (char *)arena;
#define DENSE_PTR(null_often) \
    ((null_often) && rng_below(&r, 3) == 0 ? NULL : (void *)(base + rng_below(&r, 1024 / e) * e))
        void *x = rng_below(&r, 40) == 0 ? NULL : DENSE_PTR(false);
        void *y = rng_below(&r, 4) == 0 ? x : rng_below(&r, 40) == 0 ? NULL : DENSE_PTR(false);
        void *gamma = DENSE_PTR(true), *beta = DENSE_PTR(true);
#undef DENSE_PTR
        norm_params p = norm_params_default(kind);
        p.rows = rows;
        p.n = n;
        p.eps = eps;
        p.x = x;
        p.y = y;
        p.gamma = gamma;
        p.beta = beta;
        p.x_type = p.y_type = p.param_type = type;
        arena_reset();
        norm_status want = norm_run(&p);
        memcpy(after_run, arena, sizeof arena);
        arena_reset();
        norm_status got;
        if (type == NORM_F32)
            got = kind ? norm_layernorm_f32(y, x, gamma, beta, rows, n, eps)
                       : norm_rmsnorm_f32(y, x, gamma, beta, rows, n, eps);
        else if (type == NORM_F16)
            got = kind ? norm_layernorm_f16(y, x, gamma, beta, rows, n, eps)
                       : norm_rmsnorm_f16(y, x, gamma, beta, rows, n, eps);
        else
            got = kind ? norm_layernorm_bf16(y, x, gamma, beta, rows, n, eps)
                       : norm_rmsnorm_bf16(y, x, gamma, beta, rows, n, eps);
        ck_assert_msg(got == want, "iteration %d: kind %d type %d rows %zu n %zu eps %g x %td y %td "
                      "gamma %td beta %td: dense call gave %s, norm_run %s", iter, kind, type, rows, n,
                      (double)eps, x ? (char *)x - base : -1, y ? (char *)y - base : -1,
                      gamma ? (char *)gamma - base : -1, beta ? (char *)beta - base : -1,
                      norm_status_string(got), norm_status_string(want));
        /* NaN results compare as bytes: both calls run the same kernel on the same data. */
        ck_assert_msg(memcmp(arena, after_run, sizeof arena) == 0,
                      "iteration %d: the dense call and norm_run wrote different bytes", iter);
        if (got != NORM_OK)
            ck_assert_msg(memcmp(arena, arena_copy, sizeof arena) == 0, "iteration %d: a refused call wrote", iter);
        outcomes[got < 16 && got >= 0 ? got : 15]++;
    }
    /* The generator must reach the outcomes it exists for. */
    ck_assert_int_gt(outcomes[NORM_OK], 100);
    ck_assert_int_gt(outcomes[NORM_ERR_OVERLAP], 100);
    ck_assert_int_gt(outcomes[NORM_ERR_BAD_EPS], 50);
    ck_assert_int_gt(outcomes[NORM_ERR_NULL_POINTER], 20);
    ck_assert_int_gt(outcomes[NORM_ERR_BAD_SIZE], 50);
    ck_assert_int_gt(outcomes[NORM_ERR_SIZE_OVERFLOW], 5);
}
END_TEST

/* Layouts that look close but share no byte must be accepted. */
START_TEST(test_disjoint)
{
    rng r = rng_for(seed, "disjoint");
    enum { R = 5, M = 48 };
    float buf[2 * R * M], x[R * M];
    for (int kind = 0; kind < 2; kind++) {
        /* x rows and y rows alternating in one buffer, both with stride 2n. */
        gen(&r, x, R * M, 1.0, 2.0);
        for (int i = 0; i < R; i++)
            memcpy(buf + 2 * i * M, x + i * M, M * sizeof(float));
        norm_params p = norm_params_default((norm_kind)kind);
        p.rows = R;
        p.n = M;
        p.x = buf;
        p.y = buf + M;
        p.x_stride = p.y_stride = 2 * M;
        ck_assert_int_eq(norm_run(&p), NORM_OK);
        expect_rows("interleaved", kind, buf + M, 2 * M, x, R, M, NULL, NULL, p.eps, false, NULL, NULL);
        for (int i = 0; i < R; i++)
            ck_assert_msg(memcmp(buf + 2 * i * M, x + i * M, M * sizeof(float)) == 0, "interleaved: x row %d changed", i);

        /* y right after x, touching but disjoint. */
        memcpy(buf, x, sizeof x);
        ck_assert_int_eq(kind ? norm_layernorm_f32(buf + R * M, buf, NULL, NULL, R, M, 1e-5f)
                              : norm_rmsnorm_f32(buf + R * M, buf, NULL, NULL, R, M, 1e-6f), NORM_OK);
        expect_rows("adjacent", kind, buf + R * M, M, x, R, M, NULL, NULL, kind ? 1e-5f : 1e-6f, false, NULL, NULL);

        /* In place, equal strides. */
        memcpy(buf, x, sizeof x);
        ck_assert_int_eq(kind ? norm_layernorm_f32(buf, buf, NULL, NULL, R, M, 1e-5f)
                              : norm_rmsnorm_f32(buf, buf, NULL, NULL, R, M, 1e-6f), NORM_OK);
        expect_rows("in place", kind, buf, M, x, R, M, NULL, NULL, kind ? 1e-5f : 1e-6f, false, NULL, NULL);
    }
}
END_TEST

START_TEST(test_bad_argument)
{
    norm_params p = valid_params(NORM_RMSNORM);
    p.flags = 1u << 3; /* the first flag bit not defined */
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
    p.flags = NORM_EPS_OUTSIDE_SQRT | (1u << 31);
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
    p = valid_params(NORM_RMSNORM);
    p.kind = (norm_kind)2;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
    p.kind = (norm_kind)-1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);

    /* RMSNorm has no mean to report. */
    p = valid_params(NORM_RMSNORM);
    p.mean = MEAN;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);

    /* An unknown element type is a bad argument; gamma/beta of a type other than f32 or
     * x's type is a known but unsupported combination. */
    p = valid_params(NORM_LAYERNORM);
    p.x_type = (norm_dtype)7;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
    static const norm_dtype types[] = { NORM_F32, NORM_F16, NORM_BF16 };
    for (int xt = 0; xt < 3; xt++)
        for (int pt = 0; pt < 3; pt++) {
            if (types[pt] == NORM_F32 || pt == xt)
                continue;
            p = valid_params(NORM_LAYERNORM);
            p.x_type = types[xt];
            p.param_type = types[pt];
            EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_UNSUPPORTED_TYPE);
        }
}
END_TEST

/* struct_size: smaller than the first release is rejected; larger (a newer header) is
 * accepted only when the fields this version does not know are all zero. */
START_TEST(test_struct_size)
{
    struct {
        norm_params p;
        unsigned char extra[32];
    } newer;
    norm_params p = valid_params(NORM_LAYERNORM);
    p.struct_size = 0;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
    p.struct_size = sizeof(norm_params) - 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
    p.struct_size = offsetof(norm_params, rstd);
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);

    memset(&newer, 0, sizeof newer);
    newer.p = valid_params(NORM_LAYERNORM);
    newer.p.struct_size = sizeof newer.p + sizeof newer.extra;
    newer.extra[sizeof newer.extra - 1] = 1;
    EXPECT_UNTOUCHED(norm_run(&newer.p), NORM_ERR_BAD_ARGUMENT);
    newer.extra[sizeof newer.extra - 1] = 0;
    newer.extra[0] = 0x80;
    EXPECT_UNTOUCHED(norm_run(&newer.p), NORM_ERR_BAD_ARGUMENT);

    newer.extra[0] = 0;
    arena_reset();
    ck_assert_int_eq(norm_run(&newer.p), NORM_OK);
    expect_rows("larger struct_size", true, Y, N, arena_copy, ROWS, N, G, B, newer.p.eps, false, MEAN, RSTD);

    /* The fused residual add's fields are this version's own: a larger struct using them works,
     * and a nonzero byte past them is still refused. */
    memset(&newer, 0, sizeof newer);
    newer.p = fused_params(NORM_RMSNORM);
    newer.p.struct_size = sizeof newer.p + sizeof newer.extra;
    arena_reset();
    ck_assert_int_eq(norm_run(&newer.p), NORM_OK);
    newer.extra[5] = 7;
    EXPECT_UNTOUCHED(norm_run(&newer.p), NORM_ERR_BAD_ARGUMENT);

    /* The same with the fields added after the first release (gate, int8 scales, moments). */
    memset(&newer, 0, sizeof newer);
    newer.p = gated_params();
    newer.p.flags = NORM_GATE_BEFORE_NORM;
    newer.p.struct_size = sizeof newer.p + sizeof newer.extra;
    arena_reset();
    ck_assert_int_eq(norm_run(&newer.p), NORM_OK);
    newer.extra[sizeof newer.extra - 1] = 0x01;
    EXPECT_UNTOUCHED(norm_run(&newer.p), NORM_ERR_BAD_ARGUMENT);
    memset(&newer, 0, sizeof newer);
    newer.p = mrun_params(NORM_LAYERNORM);
    newer.p.struct_size = sizeof newer.p + sizeof newer.extra;
    arena_reset();
    ck_assert_int_eq(norm_moments_run(&newer.p, MOUT), NORM_OK);
    ck_assert(MOUT[0].count == N && MOUT[ROWS - 1].count == N);
    newer.extra[3] = 0xff;
    EXPECT_UNTOUCHED(norm_moments_run(&newer.p, MOUT), NORM_ERR_BAD_ARGUMENT);
    EXPECT_UNTOUCHED(norm_moments_run(&newer.p, NULL), NORM_ERR_BAD_ARGUMENT);
}
END_TEST

/* A garbage struct_size (an uninitialised field) is refused without reading past the struct:
 * each call is made on a struct flush against a PROT_NONE page, where reading the "unknown
 * tail" up to such a size faults. Sizes past the bound, and sizes no header can have
 * (not a multiple of the struct's alignment), are refused even when the tail is readable. */
START_TEST(test_struct_size_garbage)
{
    const size_t garbage[] = { (size_t)-1, (size_t)-8, SIZE_MAX / 2, (size_t)1 << 32, 4096, 520,
                               sizeof(norm_params) + 1, sizeof(norm_params) + 4 };
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        for (int kind = 0; kind < 2; kind++) {
            norm_params src = valid_params((norm_kind)kind);
            src.struct_size = garbage[i];
            guarded g;
            unsigned char *b = guard_alloc_bytes(&g, sizeof src, GUARD_AFTER);
            ck_assert_ptr_nonnull(b);
            memcpy(b, &src, sizeof src);
            expect_untouched_((arena_reset(), norm_run((const norm_params *)(void *)b)),
                              NORM_ERR_BAD_ARGUMENT, "norm_run, garbage struct_size at a page end", __LINE__);
            norm_params m = mrun_params((norm_kind)kind);
            m.struct_size = garbage[i];
            memcpy(b, &m, sizeof m);
            expect_untouched_((arena_reset(), norm_moments_run((const norm_params *)(void *)b, MOUT)),
                              NORM_ERR_BAD_ARGUMENT, "norm_moments_run, garbage struct_size at a page end",
                              __LINE__);
            guard_free(&g);
        }
    }
    /* The largest accepted size, zero-tailed, works. */
    union {
        norm_params p;
        unsigned char bytes[512];
    } big;
    memset(&big, 0, sizeof big);
    big.p = valid_params(NORM_LAYERNORM);
    big.p.struct_size = sizeof big;
    arena_reset();
    ck_assert_int_eq(norm_run(&big.p), NORM_OK);
    expect_rows("struct_size 512", true, Y, N, arena_copy, ROWS, N, G, B, big.p.eps, false, MEAN, RSTD);
}
END_TEST

/* The first release's struct (through bias) is accepted and zero-extended: the library must
 * not read one byte past it. The struct is followed by 0xAB garbage (which, read as the later
 * fields, would be a gate, scales and moments at wild addresses), then placed flush against a
 * PROT_NONE page. Sizes between the releases' are refused. */
#define PARAMS_V1_SIZE (offsetof(norm_params, bias) + sizeof(const void *))
/* 0.1.0's struct ended at rstd (128 bytes on LP64); tests/abi runs a binary built with it. */
#define PARAMS_V0_SIZE offsetof(norm_params, residual)

START_TEST(test_struct_size_v1)
{
    union {
        norm_params p;
        unsigned char bytes[sizeof(norm_params) + 64];
    } v1;
    for (int kind = 0; kind < 2; kind++) {
        /* A plain call, and the fused residual add (the first release had it). */
        for (int fused = 0; fused < 2; fused++) {
            norm_params src = fused ? fused_params((norm_kind)kind) : valid_params((norm_kind)kind);
            src.struct_size = PARAMS_V1_SIZE;
            src.flags = 0;
            memset(v1.bytes, 0xAB, sizeof v1.bytes);
            memcpy(v1.bytes, &src, PARAMS_V1_SIZE);
            arena_reset();
            norm_status st = norm_run(&v1.p);
            ck_assert_msg(st == NORM_OK, "V1-sized struct (%s%s) followed by garbage: %s", kind ? "layernorm" : "rmsnorm",
                          fused ? ", fused" : "", norm_status_string(st));
            float h[ROWS * N];
            for (size_t i = 0; i < ROWS * N; i++)
                h[i] = fused ? (arena_copy[i] + arena_copy[2688 + i]) + arena_copy[3584 + i % N] : arena_copy[i];
            if (fused)
                ck_assert_msg(memcmp(HOUT, h, sizeof h) == 0, "V1-sized struct, fused: residual_out differs");
            expect_rows("V1-sized struct", kind, Y, N, h, ROWS, N, G, B, src.eps, false, src.mean, RSTD);
            ck_assert_msg(memcmp(GATE, arena_copy + 4096, (size_t)(ARENA - 4096) * sizeof(float)) == 0,
                          "V1-sized struct: wrote to the new fields' buffers");

            /* Flush against a PROT_NONE page: any read past the first release's fields faults. */
            guarded g;
            unsigned char *b = guard_alloc_bytes(&g, PARAMS_V1_SIZE, GUARD_AFTER);
            ck_assert_ptr_nonnull(b);
            memcpy(b, &src, PARAMS_V1_SIZE);
            arena_reset();
            ck_assert_int_eq(norm_run((const norm_params *)(void *)b), NORM_OK);
            expect_rows("V1-sized struct at a page end", kind, Y, N, h, ROWS, N, G, B, src.eps, false, src.mean, RSTD);
            guard_free(&g);
        }

        /* norm_moments_run takes the first release's struct too. */
        norm_params src = mrun_params((norm_kind)kind);
        src.struct_size = PARAMS_V1_SIZE;
        memset(v1.bytes, 0xAB, sizeof v1.bytes);
        memcpy(v1.bytes, &src, PARAMS_V1_SIZE);
        arena_reset();
        ck_assert_int_eq(norm_moments_run(&v1.p, MOUT), NORM_OK);
        for (size_t r = 0; r < ROWS; r++)
            ck_assert_msg(MOUT[r].count == N, "V1 norm_moments_run: row %zu count %g", r, MOUT[r].count);
        guarded g;
        unsigned char *b = guard_alloc_bytes(&g, PARAMS_V1_SIZE, GUARD_AFTER);
        memcpy(b, &src, PARAMS_V1_SIZE);
        ck_assert_int_eq(norm_moments_run((const norm_params *)(void *)b, MOUT), NORM_OK);
        guard_free(&g);

        /* Sizes other than a release's, below sizeof: refused, even with nothing to do. */
        /* 0.1.0's size, plain calls only (it had no residual add), at a page end. */
        {
            norm_params v0 = valid_params((norm_kind)kind);
            v0.struct_size = PARAMS_V0_SIZE;
            v0.flags = 0;
            guarded g0;
            unsigned char *b0 = guard_alloc_bytes(&g0, PARAMS_V0_SIZE, GUARD_AFTER);
            ck_assert_ptr_nonnull(b0);
            memcpy(b0, &v0, PARAMS_V0_SIZE);
            arena_reset();
            ck_assert_int_eq(norm_run((const norm_params *)(void *)b0), NORM_OK);
            expect_rows("0.1.0-sized struct at a page end", kind, Y, N, arena_copy, ROWS, N, G, B, v0.eps, false,
                        v0.mean, RSTD);
            guard_free(&g0);
        }

        const size_t bad[] = { PARAMS_V0_SIZE - 1, PARAMS_V0_SIZE + sizeof(void *), offsetof(norm_params, rstd),
                               PARAMS_V1_SIZE - 1, PARAMS_V1_SIZE - sizeof(void *), PARAMS_V1_SIZE + 1,
                               offsetof(norm_params, gate_stride), offsetof(norm_params, y_scale),
                               offsetof(norm_params, moments), sizeof(norm_params) - 1 };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            norm_params p = valid_params((norm_kind)kind);
            p.struct_size = bad[i];
            expect_untouched_((arena_reset(), norm_run(&p)), NORM_ERR_BAD_ARGUMENT, "norm_run, struct_size between releases", __LINE__);
            p.rows = 0;
            expect_untouched_((arena_reset(), norm_run(&p)), NORM_ERR_BAD_ARGUMENT, "norm_run, rows 0, struct_size between releases", __LINE__);
            p = mrun_params((norm_kind)kind);
            p.struct_size = bad[i];
            expect_untouched_((arena_reset(), norm_moments_run(&p, MOUT)), NORM_ERR_BAD_ARGUMENT,
                              "norm_moments_run, struct_size between releases", __LINE__);
        }
    }
}
END_TEST

/* Half-precision layouts the API must refuse, with nothing written. */
START_TEST(test_half_errors)
{
    uint16_t *hx = (uint16_t *)X, *hy = (uint16_t *)Y, *hg = (uint16_t *)G, *hb = (uint16_t *)B;

    /* The same pointer with different types is not in place, whatever the element sizes. */
    static const norm_dtype pairs[][2] = { { NORM_F16, NORM_BF16 }, { NORM_BF16, NORM_F16 }, { NORM_F32, NORM_F16 },
                                           { NORM_F16, NORM_F32 }, { NORM_BF16, NORM_F32 }, { NORM_F32, NORM_BF16 } };
    for (int i = 0; i < 6; i++) {
        norm_params p = valid_params(NORM_RMSNORM);
        p.x_type = pairs[i][0];
        p.y_type = pairs[i][1];
        p.gamma = p.beta = NULL;
        p.y = X;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    }
    /* ... and in place with equal types is accepted. */
    norm_params p = valid_params(NORM_LAYERNORM);
    p.x_type = p.y_type = p.param_type = NORM_BF16;
    p.y = X;
    arena_reset();
    ck_assert_int_eq(norm_run(&p), NORM_OK);

    /* 2-byte rows: y one element into x, y starting on x's last element, and y ending on
     * x's first element. */
    p = valid_params(NORM_RMSNORM);
    p.x_type = p.y_type = p.param_type = NORM_F16;
    p.y = hx + 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p.y = hx + ROWS * N - 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p.x = hy;
    p.y = hy - ROWS * N + 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p.x = hx;
    EXPECT_UNTOUCHED(norm_rmsnorm_f16(hx + 1, hx, NULL, NULL, ROWS, N, 1e-6f), NORM_ERR_OVERLAP);
    EXPECT_UNTOUCHED(norm_layernorm_bf16(hx + N - 1, hx, NULL, NULL, 2, N, 1e-5f), NORM_ERR_OVERLAP);
    p.y = hx + ROWS * N; /* touching, disjoint: fine */
    arena_reset();
    ck_assert_int_eq(norm_run(&p), NORM_OK);
    /* f16 x, f32 y: y's bytes start one f16 before x's end. */
    p = valid_params(NORM_RMSNORM);
    p.x_type = NORM_F16;
    p.y = hx + ROWS * N - 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p.y = hx + ROWS * N;
    arena_reset();
    ck_assert_int_eq(norm_run(&p), NORM_OK);
    /* f32 x, bf16 y ending one element (half an f32) into x. */
    p = valid_params(NORM_RMSNORM);
    p.x = Y;
    p.y_type = NORM_BF16;
    p.y = hy - ROWS * N + 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    /* y over a 2-byte gamma or beta. */
    p = valid_params(NORM_LAYERNORM);
    p.x_type = p.y_type = p.param_type = NORM_BF16;
    p.rows = 1;
    p.y = hg - N + 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p.y = hb + N - 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    /* Statistics over the last element of a 2-byte y. */
    p = valid_params(NORM_LAYERNORM);
    p.x_type = p.y_type = NORM_F16;
    p.rstd = (float *)(hy + ROWS * N - 2);
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);

    /* gamma/beta neither f32 nor x's type. */
    static const norm_dtype bad[][2] = { { NORM_F16, NORM_BF16 }, { NORM_BF16, NORM_F16 }, { NORM_F32, NORM_F16 },
                                         { NORM_F32, NORM_BF16 } };
    for (int i = 0; i < 4; i++)
        for (int kind = 0; kind < 2; kind++) {
            p = valid_params((norm_kind)kind);
            p.x_type = bad[i][0];
            p.y_type = NORM_F16;
            p.param_type = bad[i][1];
            EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_UNSUPPORTED_TYPE);
            p.gamma = p.beta = NULL; /* the type is checked even when nothing of it is passed */
            EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_UNSUPPORTED_TYPE);
        }

    /* The half convenience functions validate like the f32 ones. */
    EXPECT_UNTOUCHED(norm_rmsnorm_f16(NULL, hx, hg, hb, ROWS, N, 1e-6f), NORM_ERR_NULL_POINTER);
    EXPECT_UNTOUCHED(norm_layernorm_bf16(hy, NULL, NULL, NULL, ROWS, N, 1e-5f), NORM_ERR_NULL_POINTER);
    EXPECT_UNTOUCHED(norm_layernorm_f16(hy, hx, hg, hb, ROWS, 0, 1e-5f), NORM_ERR_BAD_SIZE);
    EXPECT_UNTOUCHED(norm_rmsnorm_bf16(hy, hx, hg, hb, ROWS, N, -1.0f), NORM_ERR_BAD_EPS);
    EXPECT_UNTOUCHED(norm_rmsnorm_bf16(hy, hx, hg, hb, ROWS, N, NAN), NORM_ERR_BAD_EPS);
    EXPECT_UNTOUCHED(norm_layernorm_f16(hy, hx, hg, hb, SIZE_MAX, N, 1e-5f), NORM_ERR_SIZE_OVERFLOW);
    EXPECT_UNTOUCHED(norm_rmsnorm_f16(NULL, NULL, NULL, NULL, 0, N, 1e-6f), NORM_OK);
    EXPECT_UNTOUCHED(norm_layernorm_bf16(hg + 1, hx, hg, NULL, 1, N, 1e-5f), NORM_ERR_OVERLAP);
}
END_TEST

/* The fused residual add refused with the exact status and nothing written (y, residual_out,
 * residual, mean and rstd all live in the arena); the layouts it must accept, accepted. */
START_TEST(test_fused_errors)
{
    for (int kind = 0; kind < 2; kind++) {
        norm_params p = fused_params((norm_kind)kind);
        arena_reset();
        ck_assert_int_eq(norm_run(&p), NORM_OK);

        /* The write-back and the bias belong to the residual add. */
        p = valid_params((norm_kind)kind);
        p.residual_out = HOUT;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
        p.bias = BIAS;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
        p.residual_out = NULL;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
        p.rows = 0; /* even with nothing to do */
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
        p = valid_params((norm_kind)kind);
        p.residual_out = RES; /* the residual's own buffer, but no residual given */
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
        p = fused_params((norm_kind)kind);
        p.flags = NORM_UNIT_OFFSET | (1u << 3);
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);

        /* A residual needs somewhere to write h. */
        p = fused_params((norm_kind)kind);
        p.residual_out = NULL;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_NULL_POINTER);
        p.bias = NULL;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_NULL_POINTER);
        p.rows = 0; /* rows = 0 does nothing and needs no pointer */
        EXPECT_UNTOUCHED(norm_run(&p), NORM_OK);
        p = fused_params((norm_kind)kind);
        p.rows = 0;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_OK);

        /* Strides and extents of the residual and residual_out. */
        p = fused_params((norm_kind)kind);
        p.residual_stride = N - 1;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_STRIDE);
        p = fused_params((norm_kind)kind);
        p.residual_out_stride = N - 1;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_STRIDE);
        p = fused_params((norm_kind)kind);
        p.rows = 2;
        p.residual_stride = SIZE_MAX / 2;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_SIZE_OVERFLOW);
        p = fused_params((norm_kind)kind);
        p.rows = 3;
        p.residual_out_stride = SIZE_MAX / 3;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_SIZE_OVERFLOW);
    }

    /* residual_out over every other buffer. */
    static const struct { const char *what; int kind; ptrdiff_t at; size_t rows; } outs[] = {
        { "y exactly", 1, 1024, ROWS },                   { "y, 5 elements in", 0, 1024 + 5, ROWS },
        { "y's last element", 0, 1024 + ROWS * N - 1, ROWS }, { "ending on y's first", 1, 1024 - ROWS * N + 1, ROWS },
        { "mean", 1, 2560 - N + 1, 1 },                    { "rstd", 0, 2624 - N + 3, 1 },
        { "gamma", 0, 2048 - N + 1, 1 },                   { "beta", 1, 2304 + 5, 1 },
        { "bias", 0, 3584 - 10, 1 },                       { "x, 1 element in", 1, 1, ROWS },
        { "x, one row off", 0, N, ROWS },                  { "the residual, 1 element in", 0, 2688 + 1, ROWS },
        { "the residual, one row off", 1, 2688 + N, ROWS }, { "the residual's last element", 0, 2688 + ROWS * N - 1, ROWS },
    };
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        norm_params p = fused_params((norm_kind)outs[i].kind);
        p.rows = outs[i].rows;
        p.residual_out = arena + outs[i].at;
        expect_untouched_((arena_reset(), norm_run(&p)), NORM_ERR_OVERLAP, outs[i].what, __LINE__);
    }
    /* residual_out at x's or the residual's address but with another stride is not in place. */
    norm_params p = fused_params(NORM_RMSNORM);
    p.residual_out = X;
    p.residual_out_stride = N + 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p = fused_params(NORM_LAYERNORM);
    p.residual_out = X;
    p.x_stride = N + 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p = fused_params(NORM_LAYERNORM);
    p.residual_out = RES;
    p.residual_out_stride = N + 3;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p = fused_params(NORM_RMSNORM);
    p.residual_out = RES;
    p.residual_stride = N + 2;
    p.rows = 2;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    /* y in place on x and residual_out on x: two outputs on one buffer. */
    p = fused_params(NORM_RMSNORM);
    p.y = X;
    p.residual_out = X;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    /* y may replace x, never the residual (h is normalised from it). */
    p = fused_params(NORM_LAYERNORM);
    p.y = RES;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p.residual_out = RES;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p = fused_params(NORM_RMSNORM);
    p.y = RES + 7;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    /* The other outputs over the residual and the bias. */
    p = fused_params(NORM_LAYERNORM);
    p.rstd = RES + 2;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p = fused_params(NORM_LAYERNORM);
    p.mean = RES + ROWS * N - 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p = fused_params(NORM_LAYERNORM);
    p.mean = BIAS + 3;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p = fused_params(NORM_RMSNORM);
    p.rows = 1;
    p.y = BIAS - N + 3;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);

    /* 2-byte rows: residual_out one f16 into the residual, on x's last element, one bf16 into
     * an f32 y, over an f16 bias. */
    uint16_t *hx = (uint16_t *)X, *hres = (uint16_t *)RES, *hbias = (uint16_t *)BIAS;
    p = fused_params(NORM_RMSNORM);
    p.x_type = p.param_type = NORM_F16;
    p.residual_out = hres + 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p.residual_out = hx + ROWS * N - 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p.residual_out = hbias - ROWS * N + 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p = fused_params(NORM_LAYERNORM);
    p.x_type = NORM_BF16;
    p.residual_out = (uint16_t *)Y - ROWS * N + 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p.residual_out = (uint16_t *)Y - ROWS * N; /* touching, disjoint: fine */
    arena_reset();
    ck_assert_int_eq(norm_run(&p), NORM_OK);

    /* Accepted: residual_out as the residual or as x (same stride), y as x with residual_out
     * as the residual, residual_out touching y; each with its result. */
    for (int kind = 0; kind < 2; kind++) {
        static const char *const names[] = { "residual_out = residual", "residual_out = x",
                                             "y = x, residual_out = residual", "residual_out touching y" };
        for (int layout = 0; layout < 4; layout++) {
            p = fused_params((norm_kind)kind);
            p.flags = 0;
            p.residual_out = layout == 1 ? X : layout == 3 ? Y + ROWS * N : RES;
            if (layout == 2)
                p.y = X;
            arena_reset();
            ck_assert_msg(norm_run(&p) == NORM_OK, "%s refused", names[layout]);
            float h[ROWS * N];
            for (size_t i = 0; i < ROWS * N; i++) {
                h[i] = arena_copy[i] + arena_copy[2688 + i]; /* (x + r) + bias, from the copy */
                h[i] = h[i] + arena_copy[3584 + i % N];
                if (memcmp(&((const float *)p.residual_out)[i], &h[i], sizeof(float)) != 0)
                    ck_abort_msg("%s (%s): residual_out[%zu] = %.9g, want %.9g", names[layout],
                                 kind ? "layernorm" : "rmsnorm", i, (double)((const float *)p.residual_out)[i], (double)h[i]);
            }
            expect_rows(names[layout], kind, p.y, N, h, ROWS, N, G, B, p.eps, false, p.mean, RSTD);
        }
    }
}
END_TEST

/* Gated RMSNorm refused with the exact status and nothing written. */
START_TEST(test_gated_errors)
{
    for (int kind = 0; kind < 2; kind++) {
        /* The gate-first flag needs a gate, even with nothing to do. */
        norm_params p = valid_params((norm_kind)kind);
        p.flags = NORM_GATE_BEFORE_NORM;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
        p.flags |= NORM_UNIT_OFFSET;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
        p.rows = 0;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
        /* No gate with the residual add, either order. */
        p = fused_params((norm_kind)kind);
        p.gate = GATE;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
        p.flags |= NORM_GATE_BEFORE_NORM;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
        p.rows = 0;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
    }
    /* Gated LayerNorm does not exist. */
    norm_params p = valid_params(NORM_LAYERNORM);
    p.gate = GATE;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
    p.flags = NORM_GATE_BEFORE_NORM;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
    p.mean = NULL;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
    p = gated_params();
    p.mean = MEAN; /* still RMSNorm: no mean */
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);

    /* The gate's stride and extent. */
    for (int before = 0; before < 2; before++) {
        p = gated_params();
        p.flags = before ? NORM_GATE_BEFORE_NORM : 0;
        p.gate_stride = N - 1;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_STRIDE);
        p.gate_stride = 1;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_STRIDE);
        p = gated_params();
        p.flags = before ? NORM_GATE_BEFORE_NORM : 0;
        p.rows = 2;
        p.gate_stride = SIZE_MAX / 2;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_SIZE_OVERFLOW);
        p.rows = 3;
        p.gate_stride = SIZE_MAX / 8; /* elements fit, bytes do not */
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_SIZE_OVERFLOW);
    }

    /* Every output over the gate: y (exactly, one element in, its last row ending on the gate's
     * first element, the gate's last element), rstd, int8 y and its scales; either order. */
    static const struct { const char *what; ptrdiff_t y, rstd, ysc; size_t rows; } outs[] = {
        { "y on the gate", 4096, 2624, -1, ROWS },            { "y one element into the gate", 4096 + 1, 2624, -1, ROWS },
        { "y ending on the gate's first", 4096 - ROWS * N + 1, 2624, -1, ROWS },
        { "y on the gate's last element", 4096 + ROWS * N - 1, 2624, -1, ROWS },
        { "y one row off the gate", 4096 + N, 2624, -1, ROWS },
        { "rstd on the gate", 1024, 4096 + 5, -1, ROWS },      { "rstd on the gate's last", 1024, 4096 + ROWS * N - 1, -1, ROWS },
        { "rstd ending on the gate's first", 1024, 4096 - ROWS + 1, -1, ROWS },
        { "y_scales on the gate", 1024, 2624, 4096 + 7, ROWS }, { "y_scales ending on the gate", 1024, 2624, 4096 - 3, ROWS },
        { "single-row y over the gate's end", 4096 + N - 5, 2624, -1, 1 },
        { "single-row y ending on the gate's first", 4096 - N + 1, 2624, -1, 1 },
    };
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
        for (int before = 0; before < 2; before++) {
            p = gated_params();
            p.flags = before ? NORM_GATE_BEFORE_NORM : 0;
            p.rows = outs[i].rows;
            p.y = arena + outs[i].y;
            p.rstd = arena + outs[i].rstd;
            if (outs[i].ysc >= 0) {
                p.y_type = NORM_I8;
                p.y_scales = arena + outs[i].ysc;
            }
            expect_untouched_((arena_reset(), norm_run(&p)), NORM_ERR_OVERLAP, outs[i].what, __LINE__);
        }
    /* 2-byte rows: y one f16 into the gate, a bf16 gate under an f32 y's last half. */
    uint16_t *hgate = (uint16_t *)GATE;
    p = gated_params();
    p.x_type = p.y_type = NORM_F16;
    p.gate = hgate;
    p.y = hgate + 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p = gated_params();
    p.x_type = NORM_BF16;
    p.flags = NORM_GATE_BEFORE_NORM;
    p.gate = (uint16_t *)(Y + ROWS * N) - 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p.gate = (uint16_t *)(Y + ROWS * N); /* touching, disjoint */
    arena_reset();
    ck_assert_int_eq(norm_run(&p), NORM_OK);

    /* Accepted: the gate shared with x (both inputs), y in place on x, the gate touching y, a
     * wider gate stride. */
    for (int before = 0; before < 2; before++) {
        p = gated_params();
        p.flags = before ? NORM_GATE_BEFORE_NORM : 0;
        arena_reset();
        ck_assert_int_eq(norm_run(&p), NORM_OK);
        p.gate = X;
        arena_reset();
        ck_assert_int_eq(norm_run(&p), NORM_OK);
        p.y = X; /* in place on x, but x is also the gate: y may replace x only */
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
        p.gate = GATE;
        arena_reset();
        ck_assert_int_eq(norm_run(&p), NORM_OK);
        p = gated_params();
        p.flags = before ? NORM_GATE_BEFORE_NORM : 0;
        p.gate = Y + ROWS * N;
        arena_reset();
        ck_assert_int_eq(norm_run(&p), NORM_OK);
        p.gate = GATE;
        p.gate_stride = N + 3;
        arena_reset();
        ck_assert_int_eq(norm_run(&p), NORM_OK);
        p.rows = 0; /* nothing to do, no x or y needed (the gate-first flag still needs its gate) */
        p.x = NULL;
        p.gate = before ? GATE : NULL;
        p.y = NULL;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_OK);
    }
}
END_TEST

/* int8 output: the scale rules, the types scales go with, and y_scales as an output. */
START_TEST(test_int8_errors)
{
    for (int kind = 0; kind < 2; kind++) {
        /* Neither a static scale nor y_scales; both. */
        norm_params p = i8_params((norm_kind)kind, false);
        p.y_scale = 0.0f;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_SCALE);
        p.y_scale = 0.05f;
        p.y_scales = YSC;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_SCALE);
        p.y_scale = -1.0f;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_SCALE);
        p.y_scale = NAN;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_SCALE);
        /* A static scale must be finite and > 0. */
        /* ... and its reciprocal finite in f32: 1 / 2^-149 and 1 / 2^-128 round to Inf. */
        static const float bad[] = { -1.0f, -FLT_MIN, -0x1p-149f, NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f,
                                     0x1p-149f, 0x1p-140f, 0x1p-128f };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            p = i8_params((norm_kind)kind, false);
            p.y_scale = bad[i];
            expect_untouched_((arena_reset(), norm_run(&p)), NORM_ERR_BAD_SCALE, "int8, bad y_scale", __LINE__);
            p.rows = 0; /* checked even with nothing to do */
            expect_untouched_((arena_reset(), norm_run(&p)), NORM_ERR_BAD_SCALE, "int8, rows 0, bad y_scale", __LINE__);
        }
        /* The smallest scales whose reciprocal is finite are taken (q saturates at +-127). */
        static const float tiny[] = { FLT_MIN, 0x1p-127f };
        for (size_t i = 0; i < sizeof tiny / sizeof tiny[0]; i++) {
            p = i8_params((norm_kind)kind, false);
            p.y_scale = tiny[i];
            arena_reset();
            ck_assert_msg(norm_run(&p) == NORM_OK, "int8, y_scale %a refused", (double)tiny[i]);
        }

        /* Scales belong to int8 output. */
        static const norm_dtype ytypes[] = { NORM_F32, NORM_F16, NORM_BF16 };
        for (int t = 0; t < 3; t++) {
            p = valid_params((norm_kind)kind);
            p.y_type = ytypes[t];
            p.y_scale = 1.0f;
            EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
            p.y_scale = NAN;
            EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
            p.y_scale = 0.0f;
            p.y_scales = YSC;
            EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
            p.y_scale = 0.5f;
            EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
        }
        /* int8 is for y only. */
        p = valid_params((norm_kind)kind);
        p.x_type = NORM_I8;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
        p = i8_params((norm_kind)kind, kind == 1);
        p.x_type = NORM_I8;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
        p = valid_params((norm_kind)kind);
        p.param_type = NORM_I8;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
        p.gamma = p.beta = NULL;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
        p = i8_params((norm_kind)kind, kind == 0);
        p.param_type = NORM_I8;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
        p = i8_params((norm_kind)kind, false);
        p.y_type = (norm_dtype)4;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);

        /* int8 y's stride and extent. */
        p = i8_params((norm_kind)kind, true);
        p.y_stride = N - 1;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_STRIDE);
        p = i8_params((norm_kind)kind, false);
        p.rows = 2;
        p.y_stride = SIZE_MAX - N / 2;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_SIZE_OVERFLOW);
    }

    /* y_scales over int8 y (ROWS * N bytes = 64 floats from Y), over the inputs and the other
     * statistics; int8 y over x (the same address is not in place: the types differ). */
    static const struct { const char *what; int kind; ptrdiff_t ysc; } scales[] = {
        { "y_scales on y", 0, 1024 },                    { "y_scales in y", 1, 1024 + 10 },
        { "y_scales on y's last 4 bytes", 0, 1024 + ROWS * N / 4 - 1 },
        { "y_scales ending on y's first", 1, 1024 - ROWS + 1 },
        { "y_scales on x", 0, 5 },                       { "y_scales on gamma", 1, 2048 + N - 1 },
        { "y_scales on beta", 0, 2304 - 2 },             { "y_scales on rstd", 1, 2624 + 1 },
        { "y_scales ending on rstd", 0, 2624 - ROWS + 1 }, { "y_scales on mean", 1, 2560 + 3 },
        { "y_scales on the given moments", 0, 5184 + 4 },
    };
    for (size_t i = 0; i < sizeof scales / sizeof scales[0]; i++) {
        norm_params p = i8_params((norm_kind)scales[i].kind, true);
        p.y_scales = arena + scales[i].ysc;
        if (scales[i].ysc >= 5184)
            p.moments = MOM;
        expect_untouched_((arena_reset(), norm_run(&p)), NORM_ERR_OVERLAP, scales[i].what, __LINE__);
    }
    norm_params p = i8_params(NORM_RMSNORM, false);
    p.y = X;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p.y = (int8_t *)X + ROWS * N * sizeof(float) - 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p.y = (int8_t *)G - ROWS * N + 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p = i8_params(NORM_LAYERNORM, true);
    p.y = (int8_t *)MEAN + 3;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);

    /* Accepted: both scale modes, y_scales touching y on either side, int8 y right after x. */
    for (int kind = 0; kind < 2; kind++)
        for (int dynamic = 0; dynamic < 2; dynamic++) {
            p = i8_params((norm_kind)kind, dynamic);
            arena_reset();
            ck_assert_msg(norm_run(&p) == NORM_OK, "int8 %s scale refused", dynamic ? "dynamic" : "static");
            ck_assert_msg(memcmp(Y8 + ROWS * N, (const char *)arena_copy + 1024 * 4 + ROWS * N, 4) == 0,
                          "int8 y: wrote past its rows");
            if (dynamic) {
                p.y_scales = Y + ROWS * N / 4;
                arena_reset();
                ck_assert_int_eq(norm_run(&p), NORM_OK);
                p.y_scales = Y - ROWS;
                arena_reset();
                ck_assert_int_eq(norm_run(&p), NORM_OK);
            } else {
                p.y = (int8_t *)(X + ROWS * N);
                arena_reset();
                ck_assert_int_eq(norm_run(&p), NORM_OK);
            }
        }
}
END_TEST

/* norm_run with given moments: refused rows (count not positive and finite, m2 < 0), the
 * residual add, and every output over them; NaN and infinite means and m2 are accepted. */
START_TEST(test_moments_errors)
{
    for (int kind = 0; kind < 2; kind++) {
        norm_params p = moments_params((norm_kind)kind);
        arena_reset();
        ck_assert_int_eq(norm_run(&p), NORM_OK);

        /* The residual add belongs to the moments step. */
        p = fused_params((norm_kind)kind);
        p.moments = MOM;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
        p.bias = NULL;
        p.flags = 0;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
        p.rows = 0;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);

        /* One bad row, first or last, in any output mode. */
        static const struct { const char *what; double count, m2; } bad[] = {
            { "count 0", 0.0, 1.0 },           { "count -0", -0.0, 1.0 },         { "count -1", -1.0, 1.0 },
            { "count NaN", NAN, 1.0 },         { "count +Inf", INFINITY, 1.0 },   { "count -Inf", -INFINITY, 1.0 },
            { "count tiny negative", -0x1p-1074, 1.0 },
            { "m2 -1", 64.0, -1.0 },           { "m2 tiny negative", 64.0, -0x1p-1074 },
            { "m2 -Inf", 64.0, -INFINITY },
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            for (int mode = 0; mode < 4; mode++) {
                p = moments_params((norm_kind)kind);
                if (mode == 1)
                    p = i8_params((norm_kind)kind, true), p.moments = MOM;
                if (mode == 2 && kind == 0)
                    p.gate = GATE, p.flags = NORM_GATE_BEFORE_NORM;
                if (mode == 3)
                    p.y = X; /* in place */
                size_t row = mode % 2 ? 0 : ROWS - 1;
                arena_reset();
                MOM[row].count = bad[i].count;
                MOM[row].m2 = bad[i].m2;
                char what[96];
                snprintf(what, sizeof what, "moments row %zu %s (%s, mode %d)", row, bad[i].what,
                         kind ? "layernorm" : "rmsnorm", mode);
                memcpy(arena_copy, arena, sizeof arena);
                expect_untouched_(norm_run(&p), NORM_ERR_BAD_MOMENTS, what, __LINE__);
            }

        /* NaN or infinite means and m2 (a row holding NaN or Inf gives them) are not errors:
         * that row comes out NaN (or, for an infinite m2, rstd 0), the others as usual. */
        static const struct { const char *what; double mean, m2; bool nan_row; } odd[] = {
            { "NaN mean", NAN, 64.0, true },          { "NaN m2", 0.5, NAN, true },
            { "NaN mean and m2", NAN, NAN, true },    { "+Inf m2", 0.5, INFINITY, false },
        };
        for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
            p = moments_params((norm_kind)kind);
            arena_reset();
            MOM[1].mean = odd[i].mean;
            MOM[1].m2 = odd[i].m2;
            norm_status st = norm_run(&p);
            ck_assert_msg(st == NORM_OK, "moments with %s (%s): %s", odd[i].what, kind ? "layernorm" : "rmsnorm",
                          norm_status_string(st));
            for (size_t r = 0; r < ROWS; r++)
                for (size_t j = 0; j < N; j++) {
                    float v = Y[r * N + j];
                    bool ok = r == 1 && odd[i].nan_row ? isnan(v) : isfinite(v);
                    if (!ok)
                        ck_abort_msg("moments with %s (%s): y[%zu][%zu] = %g", odd[i].what,
                                     kind ? "layernorm" : "rmsnorm", r, j, (double)v);
                }
            if (!odd[i].nan_row)
                ck_assert_msg(RSTD[1] == 0.0f, "moments with %s: rstd %g, want 0", odd[i].what, (double)RSTD[1]);
        }
    }

    /* Every output over the given moments (24 bytes a row, 6 floats; MOM at arena + 5184). */
    static const struct { const char *what; int kind; ptrdiff_t y, rstd, mean; size_t rows; } outs[] = {
        { "y on the moments", 0, 5184, 2624, -1, ROWS },
        { "y ending on the moments' first byte", 1, 5184 - ROWS * N + 1, 2624, 2560, ROWS },
        { "y on the moments' last element", 0, 5184 + 6 * ROWS - 1, 2624, -1, ROWS },
        { "single-row y on its moments' last element", 0, 5184 + 6 - 1, 2624, -1, 1 },
        { "rstd on the moments", 0, 1024, 5184 + 2, -1, ROWS },
        { "rstd ending on the moments' first", 1, 1024, 5184 - ROWS + 1, 2560, ROWS },
        { "mean on the moments' last", 1, 1024, 2624, 5184 + 6 * ROWS - 1, ROWS },
    };
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        norm_params p = moments_params((norm_kind)outs[i].kind);
        p.rows = outs[i].rows;
        p.y = arena + outs[i].y;
        p.rstd = arena + outs[i].rstd;
        p.mean = outs[i].mean >= 0 ? arena + outs[i].mean : NULL;
        expect_untouched_((arena_reset(), norm_run(&p)), NORM_ERR_OVERLAP, outs[i].what, __LINE__);
    }
    norm_params p = i8_params(NORM_LAYERNORM, false);
    p.moments = MOM;
    p.y = (int8_t *)MOM + 6 * sizeof(float) * ROWS - 1;
    EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_OVERLAP);
    p.y = (int8_t *)MOM + 6 * sizeof(float) * ROWS; /* touching, disjoint */
    arena_reset();
    ck_assert_int_eq(norm_run(&p), NORM_OK);
    /* y_scales over the moments is in test_int8_errors; the gate, the moments and x are all
     * inputs and may share memory. */
    p = moments_params(NORM_RMSNORM);
    p.gate = X;
    p.flags = NORM_GATE_BEFORE_NORM;
    arena_reset();
    ck_assert_int_eq(norm_run(&p), NORM_OK);
}
END_TEST

/* rows whose extent overflows with given moments: SIZE_OVERFLOW, decided before a single
 * moments row is read (the moments array holds `rows` rows only when the extents fit). The
 * moments sit flush against a PROT_NONE page, so reading past them faults. */
START_TEST(test_moments_size_overflow)
{
    guarded gm;
    norm_moments *m = guard_alloc_bytes(&gm, ROWS * sizeof(norm_moments), GUARD_AFTER);
    ck_assert_ptr_nonnull(m);
    for (int kind = 0; kind < 2; kind++) {
        static const size_t rows[] = { SIZE_MAX / 2, SIZE_MAX / N / 2, SIZE_MAX / sizeof(norm_moments) + 1 };
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
            for (size_t r = 0; r < ROWS; r++)
                m[r] = (norm_moments){ (double)N, 0.5, (double)N };
            norm_params p = moments_params((norm_kind)kind);
            p.moments = m;
            p.rows = rows[i];
            EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_SIZE_OVERFLOW);
        }
    }
    guard_free(&gm);
}
END_TEST

/* norm_moments_run: only the fields the moments depend on, out as an output. */
START_TEST(test_moments_run_errors)
{
    for (int kind = 0; kind < 2; kind++) {
        norm_params q = mrun_params((norm_kind)kind);
        arena_reset();
        ck_assert_int_eq(norm_moments_run(&q, MOUT), NORM_OK);
        for (size_t r = 0; r < ROWS; r++)
            ck_assert_msg(MOUT[r].count == N && (kind || MOUT[r].mean == 0.0) && MOUT[r].m2 > 0.0,
                          "norm_moments_run row %zu: count %g mean %g m2 %g", r, MOUT[r].count, MOUT[r].mean, MOUT[r].m2);
        ck_assert_msg(memcmp(MOUT + ROWS, (const char *)arena_copy + 5248 * 4 + ROWS * sizeof(norm_moments), 8) == 0,
                      "norm_moments_run wrote past out");

        EXPECT_UNTOUCHED(norm_moments_run(NULL, MOUT), NORM_ERR_NULL_POINTER);
        EXPECT_UNTOUCHED(norm_moments_run(&q, NULL), NORM_ERR_NULL_POINTER);
        q.x = NULL;
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_NULL_POINTER);
        q = mrun_params((norm_kind)kind);
        q.residual = RES; /* somewhere to write h is required */
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_NULL_POINTER);

        /* What belongs to the apply step is refused, even with nothing to do. */
        for (int field = 0; field < 9; field++)
            for (int empty = 0; empty < 2; empty++) {
                q = mrun_params((norm_kind)kind);
                switch (field) {
                case 0: q.y = Y; break;
                case 1: q.gamma = G; break;
                case 2: q.beta = B; break;
                case 3: q.mean = MEAN; break;
                case 4: q.rstd = RSTD; break;
                case 5: q.y_scales = YSC; break;
                case 6: q.moments = MOM; break;
                case 7: q.y_scale = 1.0f; break;
                case 8: q.y_scale = NAN; break;
                }
                if (empty)
                    q.rows = 0;
                char what[64];
                snprintf(what, sizeof what, "norm_moments_run with an apply field (%d)%s", field, empty ? ", rows 0" : "");
                expect_untouched_((arena_reset(), norm_moments_run(&q, MOUT)), NORM_ERR_BAD_ARGUMENT, what, __LINE__);
            }
        /* The residual add's write-back and bias need the residual. */
        q = mrun_params((norm_kind)kind);
        q.residual_out = HOUT;
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_BAD_ARGUMENT);
        q.residual_out = NULL;
        q.bias = BIAS;
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_BAD_ARGUMENT);
        /* Only a gate before the norm changes the moments; the flag needs the gate. */
        q = mrun_params((norm_kind)kind);
        q.gate = GATE;
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_BAD_ARGUMENT);
        q = mrun_params((norm_kind)kind);
        q.flags = NORM_GATE_BEFORE_NORM;
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_BAD_ARGUMENT);
        q.rows = 0;
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_BAD_ARGUMENT);
        q = mrun_params((norm_kind)kind);
        q.gate = GATE;
        q.flags = NORM_GATE_BEFORE_NORM;
        q.residual = RES;
        q.residual_out = HOUT;
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_BAD_ARGUMENT);
        q = mrun_params((norm_kind)kind);
        q.gate = GATE;
        q.flags = NORM_GATE_BEFORE_NORM;
        if (kind == NORM_LAYERNORM) {
            EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_BAD_ARGUMENT);
        } else {
            arena_reset();
            ck_assert_int_eq(norm_moments_run(&q, MOUT), NORM_OK);
            q.gate_stride = N - 1;
            EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_BAD_STRIDE);
        }
        /* Unknown flags, kinds and types. */
        q = mrun_params((norm_kind)kind);
        q.flags = 1u << 3;
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_BAD_ARGUMENT);
        q = mrun_params((norm_kind)kind);
        q.kind = (norm_kind)2;
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_BAD_ARGUMENT);
        q = mrun_params((norm_kind)kind);
        q.x_type = NORM_I8;
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_BAD_ARGUMENT);
        q = mrun_params((norm_kind)kind);
        q.param_type = NORM_I8;
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_BAD_ARGUMENT);
        q = mrun_params((norm_kind)kind);
        q.param_type = NORM_BF16;
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_UNSUPPORTED_TYPE);
        /* Size, strides, extents. */
        q = mrun_params((norm_kind)kind);
        q.n = 0;
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_BAD_SIZE);
        q = mrun_params((norm_kind)kind);
        q.x_stride = N - 1;
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_BAD_STRIDE);
        q = fused_params((norm_kind)kind);
        q.y = NULL;
        q.gamma = q.beta = NULL;
        q.mean = q.rstd = NULL;
        q.flags = 0;
        arena_reset();
        ck_assert_int_eq(norm_moments_run(&q, MOUT), NORM_OK);
        q.residual_stride = N - 1;
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_BAD_STRIDE);
        q.residual_stride = 0;
        q.residual_out_stride = 1;
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_BAD_STRIDE);
        q = mrun_params((norm_kind)kind);
        q.rows = SIZE_MAX / 2;
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_SIZE_OVERFLOW);
        q.rows = SIZE_MAX / sizeof(norm_moments) + 1; /* x (dense, rows of 64 floats) overflows first */
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_SIZE_OVERFLOW);
        q = mrun_params((norm_kind)kind);
        q.n = 1;
        q.rows = SIZE_MAX / 8; /* x's bytes fit, out's 24 bytes a row do not */
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_SIZE_OVERFLOW);

        /* rows 0: nothing to do, no pointer needed. */
        q = mrun_params((norm_kind)kind);
        q.rows = 0;
        q.x = NULL;
        EXPECT_UNTOUCHED(norm_moments_run(&q, NULL), NORM_OK);
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_OK);
        q.x = X;
        q.residual = RES;
        EXPECT_UNTOUCHED(norm_moments_run(&q, NULL), NORM_OK);
    }

    /* out over each input and over the residual's write-back (out is 6 floats a row). */
    static const struct { const char *what; int kind; ptrdiff_t out; int with; } outs[] = {
        { "out on x", 0, 0, 0 },                         { "out on x's last element", 1, ROWS * N - 1 - 1, 0 },
        { "out ending on x's first (x at Y)", 0, 1024 - 6 * ROWS + 2, 3 },
        { "out on the residual", 1, 2688 + 10, 1 },      { "out on the residual's last", 0, 2688 + ROWS * N - 2, 1 },
        { "out on residual_out", 0, 3072 + 4, 1 },       { "out ending on residual_out", 1, 3072 - 6 * ROWS + 2, 1 },
        { "out on the bias", 1, 3584 + N - 2, 1 },       { "out on the gate", 0, 4096 + 20, 2 },
        { "out ending on the gate's first", 0, 4096 - 6 * ROWS + 2, 2 },
    };
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        norm_params q = mrun_params((norm_kind)outs[i].kind);
        if (outs[i].with == 1) {
            q.residual = RES;
            q.residual_out = HOUT;
            q.bias = BIAS;
        } else if (outs[i].with == 2) {
            q.gate = GATE;
            q.flags = NORM_GATE_BEFORE_NORM;
        } else if (outs[i].with == 3) {
            q.x = Y;
        }
        expect_untouched_((arena_reset(), norm_moments_run(&q, (norm_moments *)(void *)(arena + outs[i].out))),
                          NORM_ERR_OVERLAP, outs[i].what, __LINE__);
    }
    /* residual_out over x, the residual or the bias, other than exactly replacing one. */
    static const struct { const char *what; ptrdiff_t h; size_t hs; } hs[] = {
        { "residual_out one element into x", 1, 0 },      { "residual_out on x with another stride", 0, N + 1 },
        { "residual_out one into the residual", 2688 + 1, 0 }, { "residual_out on the residual, another stride", 2688, N + 2 },
        { "residual_out on the bias", 3584 - 5, 0 },       { "residual_out on out", 5248 - ROWS * N + 1, 0 },
    };
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        for (int kind = 0; kind < 2; kind++) {
            norm_params q = mrun_params((norm_kind)kind);
            q.residual = RES;
            q.bias = BIAS;
            q.residual_out = arena + hs[i].h;
            q.residual_out_stride = hs[i].hs;
            q.rows = hs[i].hs ? 2 : ROWS;
            expect_untouched_((arena_reset(), norm_moments_run(&q, MOUT)), NORM_ERR_OVERLAP, hs[i].what, __LINE__);
        }
    /* Accepted: the write-back replacing x or the residual; out touching x. */
    for (int kind = 0; kind < 2; kind++)
        for (int layout = 0; layout < 3; layout++) {
            norm_params q = mrun_params((norm_kind)kind);
            q.residual = RES;
            q.bias = BIAS;
            q.residual_out = layout == 0 ? X : layout == 1 ? RES : HOUT;
            norm_moments *out = layout == 2 ? (norm_moments *)(void *)(X + ROWS * N) : MOUT;
            arena_reset();
            ck_assert_msg(norm_moments_run(&q, out) == NORM_OK, "norm_moments_run layout %d refused", layout);
            float h[ROWS * N];
            for (size_t i = 0; i < ROWS * N; i++) {
                h[i] = (arena_copy[i] + arena_copy[2688 + i]) + arena_copy[3584 + i % N];
                if (memcmp(&((const float *)q.residual_out)[i], &h[i], sizeof(float)) != 0)
                    ck_abort_msg("norm_moments_run layout %d: residual_out[%zu] = %.9g, want %.9g", layout, i,
                                 (double)((const float *)q.residual_out)[i], (double)h[i]);
            }
            for (size_t r = 0; r < ROWS; r++) {
                ref_stats ref = ref_row(kind, h + r * N, N, 0.0f, false);
                long double ms = 1.0L / (ref.rstd * ref.rstd), m2 = ms * N;
                if (!kind)
                    ck_assert_msg(out[r].mean == 0.0, "RMSNorm moments: mean %g", out[r].mean);
                ck_assert_msg(out[r].count == N && fabsl(out[r].m2 - m2) <= CONTRACT_TOL * m2 &&
                                  fabsl(out[r].mean - ref.mean) <= CONTRACT_TOL * (fabsl(ref.mean) + sqrtl(ms)),
                              "norm_moments_run layout %d row %zu: count %g mean %.17g m2 %.17g, want mean %.17Lg m2 %.17Lg",
                              layout, r, out[r].count, out[r].mean, out[r].m2, ref.mean, m2);
            }
        }
}
END_TEST

/* norm_moments_combine: NULLs, overlap (acc == part is allowed), bad rows, and the formula on
 * values whose combination is exact. */
START_TEST(test_moments_combine_errors)
{
    EXPECT_UNTOUCHED(norm_moments_combine(NULL, MPART, ROWS), NORM_ERR_NULL_POINTER);
    EXPECT_UNTOUCHED(norm_moments_combine(MOUT, NULL, ROWS), NORM_ERR_NULL_POINTER);
    EXPECT_UNTOUCHED(norm_moments_combine(NULL, NULL, ROWS), NORM_ERR_NULL_POINTER);
    EXPECT_UNTOUCHED(norm_moments_combine(NULL, NULL, 0), NORM_OK);
    EXPECT_UNTOUCHED(norm_moments_combine(MOUT, MPART, 0), NORM_OK);
    EXPECT_UNTOUCHED(norm_moments_combine(MOUT, MPART, SIZE_MAX / 8), NORM_ERR_SIZE_OVERFLOW);
    /* Partial overlap, a row or a double apart, either way round, and a single row. */
    EXPECT_UNTOUCHED(norm_moments_combine(MOUT, MOUT + 1, ROWS - 1), NORM_ERR_OVERLAP);
    EXPECT_UNTOUCHED(norm_moments_combine(MOUT + 1, MOUT, ROWS - 1), NORM_ERR_OVERLAP);
    EXPECT_UNTOUCHED(norm_moments_combine(MOUT, MOUT + ROWS - 1, ROWS), NORM_ERR_OVERLAP);
    norm_moments *shifted = (norm_moments *)(void *)((double *)(void *)MOUT + 1);
    EXPECT_UNTOUCHED(norm_moments_combine(MOUT, shifted, ROWS - 1), NORM_ERR_OVERLAP);
    EXPECT_UNTOUCHED(norm_moments_combine(shifted, MOUT, 1), NORM_ERR_OVERLAP);
    /* Touching is fine. */
    arena_reset();
    ck_assert_int_eq(norm_moments_combine(MOUT, MOUT + 2, 2), NORM_OK);

    /* A bad row anywhere in either array: nothing combined, not even the rows before it. */
    static const struct { const char *what; double count, m2; } bad[] = {
        { "count -1", -1.0, 1.0 },      { "count NaN", NAN, 1.0 },      { "count Inf", INFINITY, 1.0 },
        { "count -Inf", -INFINITY, 1.0 }, { "m2 -1", 5.0, -1.0 },       { "m2 -Inf", 5.0, -INFINITY },
        { "count -0x1p-1074", -0x1p-1074, 0.0 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        for (int which = 0; which < 4; which++) {
            arena_reset();
            norm_moments *m = which % 2 ? MOUT : MPART;
            size_t row = which < 2 ? ROWS - 1 : 0;
            m[row].count = bad[i].count;
            m[row].m2 = bad[i].m2;
            char what[96];
            snprintf(what, sizeof what, "norm_moments_combine, %s row %zu %s", which % 2 ? "acc" : "part", row, bad[i].what);
            memcpy(arena_copy, arena, sizeof arena);
            expect_untouched_(norm_moments_combine(MOUT, MPART, ROWS), NORM_ERR_BAD_MOMENTS, what, __LINE__);
            memcpy(arena_copy, arena, sizeof arena);
            expect_untouched_(norm_moments_combine(m, m, ROWS), NORM_ERR_BAD_MOMENTS, what, __LINE__);
        }

    /* The formula: {0, 2} and {2, 4} give {0, 2, 2, 4}: count 4, mean 2, m2 8; an empty slice
     * on either side leaves the other; acc == part doubles count and m2; NaN m2 is carried. */
    arena_reset();
    MOUT[0] = (norm_moments){ 2.0, 1.0, 2.0 };
    MPART[0] = (norm_moments){ 2.0, 3.0, 2.0 };
    MOUT[1] = (norm_moments){ 0.0, 0.0, 0.0 };
    MPART[1] = (norm_moments){ 3.0, -1.0, 6.0 };
    MOUT[2] = (norm_moments){ 5.0, 7.0, 1.0 };
    MPART[2] = (norm_moments){ 0.0, 0.0, 0.0 };
    MOUT[3] = (norm_moments){ 4.0, 1.0, 1.0 };
    MPART[3] = (norm_moments){ 1.0, 0.0, NAN };
    ck_assert_int_eq(norm_moments_combine(MOUT, MPART, ROWS), NORM_OK);
    ck_assert_msg(MOUT[0].count == 4.0 && MOUT[0].mean == 2.0 && MOUT[0].m2 == 8.0, "combine: got %g %g %g, want 4 2 8",
                  MOUT[0].count, MOUT[0].mean, MOUT[0].m2);
    ck_assert_msg(MOUT[1].count == 3.0 && MOUT[1].mean == -1.0 && MOUT[1].m2 == 6.0, "combine with an empty acc");
    ck_assert_msg(MOUT[2].count == 5.0 && MOUT[2].mean == 7.0 && MOUT[2].m2 == 1.0, "combine with an empty part");
    ck_assert_msg(MOUT[3].count == 5.0 && isnan(MOUT[3].m2), "combine: NaN m2 not carried");
    arena_reset();
    ck_assert_int_eq(norm_moments_combine(MPART, MPART, ROWS), NORM_OK);
    for (size_t r = 0; r < ROWS; r++)
        ck_assert_msg(MPART[r].count == 2 * (10.0 + (double)r) && MPART[r].mean == -0.5 && MPART[r].m2 == 6.0,
                      "combine(acc, acc) row %zu: %g %g %g", r, MPART[r].count, MPART[r].mean, MPART[r].m2);
}
END_TEST

/* ---- strings ---------------------------------------------------------------------------- */

START_TEST(test_strings)
{
    const char *s[NORM_ERR_BAD_MOMENTS + 1];
    for (int i = NORM_OK; i <= NORM_ERR_BAD_MOMENTS; i++) {
        s[i] = norm_status_string((norm_status)i);
        ck_assert_msg(s[i] && *s[i], "norm_status_string(%d) is NULL or empty", i);
        for (int j = 0; j < i; j++)
            ck_assert_msg(strcmp(s[i], s[j]) != 0, "statuses %d and %d share the string \"%s\"", j, i, s[i]);
    }
    const char *unknown = norm_status_string((norm_status)(NORM_ERR_BAD_MOMENTS + 1));
    ck_assert_msg(unknown && *unknown, "norm_status_string(unknown code) is NULL or empty");
    const char *v = norm_version_string();
    ck_assert_ptr_nonnull(v);
    ck_assert_msg(*v, "empty version string");
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", NORM_VERSION_MAJOR, NORM_VERSION_MINOR, NORM_VERSION_PATCH);
    ck_assert_str_eq(v, want);
}
END_TEST

/* ---- concurrent first calls --------------------------------------------------------------- */

enum { THREADS = 4, TROWS = 3, TN = 777, TREPS = 20 };
static float t_x[TROWS * TN], t_g[TN], t_b[TN];
static pthread_barrier_t t_barrier;

typedef struct thread_result {
    int id;
    norm_isa isa;
    const char *isa_name;
    norm_status status;
    float y[2][TROWS * TN], mean[TROWS], rstd[TROWS];
} thread_result;

static norm_status layernorm_with_stats(thread_result *t)
{
    norm_params p = norm_params_default(NORM_LAYERNORM);
    p.rows = TROWS;
    p.n = TN;
    p.x = t_x;
    p.y = t->y[1];
    p.gamma = t_g;
    p.beta = t_b;
    p.mean = t->mean;
    p.rstd = t->rstd;
    return norm_run(&p);
}

static void *thread_main(void *arg)
{
    thread_result *t = arg;
    pthread_barrier_wait(&t_barrier);
    /* Each thread's first call is a different entry point: all of them must initialise the
     * dispatcher safely. */
    norm_status st = NORM_OK;
    switch (t->id % 4) {
    case 0: t->isa = norm_active_isa(); break;
    case 1: st = norm_rmsnorm_f32(t->y[0], t_x, t_g, t_b, TROWS, TN, 1e-6f); break;
    case 2: st = layernorm_with_stats(t); break;
    case 3: t->isa_name = norm_active_isa_name(); break;
    }
    for (int rep = 0; rep < TREPS && st == NORM_OK; rep++) {
        st = norm_rmsnorm_f32(t->y[0], t_x, t_g, t_b, TROWS, TN, 1e-6f);
        if (st == NORM_OK)
            st = layernorm_with_stats(t);
    }
    t->status = st;
    t->isa = norm_active_isa();
    t->isa_name = norm_active_isa_name();
    return NULL;
}

START_TEST(test_threads)
{
    rng r = rng_for(seed, "threads");
    gen(&r, t_x, TROWS * TN, 0.5, 2.0);
    gen(&r, t_g, TN, 1.0, 0.5);
    gen(&r, t_b, TN, 0.0, 0.5);
    static thread_result res[THREADS];
    pthread_t tid[THREADS];
    pthread_barrier_init(&t_barrier, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        res[i].id = i;
        ck_assert_int_eq(pthread_create(&tid[i], NULL, thread_main, &res[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&t_barrier);
    predict_tier(); /* only now: the threads made the first calls */
    for (int i = 0; i < THREADS; i++) {
        ck_assert_msg(res[i].status == NORM_OK, "thread %d: %s", i, norm_status_string(res[i].status));
        ck_assert_msg(res[i].isa == expected && res[i].isa_name && strcmp(res[i].isa_name, isa_names[expected]) == 0,
                      "thread %d saw tier %s, expected %s", i, res[i].isa_name ? res[i].isa_name : "(null)",
                      isa_names[expected]);
        expect_rows("thread rmsnorm", false, res[i].y[0], TN, t_x, TROWS, TN, t_g, t_b, 1e-6f, false, NULL, NULL);
        expect_rows("thread layernorm", true, res[i].y[1], TN, t_x, TROWS, TN, t_g, t_b, 1e-5f, false,
                    res[i].mean, res[i].rstd);
        /* Same tier, same inputs: bit-identical results. */
        ck_assert_msg(memcmp(res[i].y, res[0].y, sizeof res[i].y) == 0, "thread %d differs from thread 0", i);
    }
}
END_TEST

/* Two things wrong at once: the status is the first one's, in the order each entry point
 * checks them. norm_run: kind/flags/types, the parameters' type, fields that go together,
 * the int8 scale, n, eps, strides (of every buffer, given or not), then with rows to do:
 * required pointers, extents, the given moments, overlaps. */
START_TEST(test_precedence)
{
    for (int kind = 0; kind < 2; kind++) {
        const norm_kind k = (norm_kind)kind;
        norm_params p = valid_params(k);
        p.flags = 0x80;
        p.param_type = NORM_F16; /* with f32 x: unsupported */
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
        p = valid_params(k);
        p.param_type = NORM_F16;
        p.bias = BIAS; /* without the residual */
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_UNSUPPORTED_TYPE);
        p = i8_params(k, false);
        p.y_scale = -1.0f;
        p.bias = BIAS;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
        p.bias = NULL;
        p.n = 0;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_SCALE);
        p = valid_params(k);
        p.n = 0;
        p.eps = NAN;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_SIZE);
        p = valid_params(k);
        p.eps = -1.0f;
        p.x_stride = N - 1;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_EPS);
        /* The stride of a buffer not given still has to be one. */
        p = valid_params(k);
        p.gate_stride = N - 1;
        p.x = NULL;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_STRIDE);
        p.rows = 0;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_BAD_STRIDE);
        p.gate_stride = 0;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_OK);
        p = fused_params(k);
        p.residual_out = NULL;
        p.residual_stride = SIZE_MAX / 2;
        EXPECT_UNTOUCHED(norm_run(&p), NORM_ERR_NULL_POINTER);
        /* An overflowing extent is refused before the given moments are read. */
        p = moments_params(k);
        p.y_stride = SIZE_MAX / 2;
        arena_reset();
        MOM[0].count = -1.0;
        EXPECT_UNCHANGED(norm_run(&p), NORM_ERR_SIZE_OVERFLOW);
        p.y_stride = 0;
        p.y = X + 1;
        EXPECT_UNCHANGED(norm_run(&p), NORM_ERR_BAD_MOMENTS);

        /* norm_moments_run: kind/flags/types, the bias's type, fields, n, strides, then
         * pointers, extents, overlaps. */
        norm_params q = mrun_params(k);
        q.flags = NORM_UNIT_OFFSET;
        q.param_type = NORM_BF16;
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_BAD_ARGUMENT);
        q = mrun_params(k);
        q.param_type = NORM_BF16;
        q.y = Y;
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_UNSUPPORTED_TYPE);
        q.param_type = NORM_F32;
        q.n = 0;
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_BAD_ARGUMENT);
        q.y = NULL;
        q.x_stride = N - 1;
        EXPECT_UNTOUCHED(norm_moments_run(&q, MOUT), NORM_ERR_BAD_SIZE);
        q = mrun_params(k);
        q.residual_out_stride = N - 1;
        EXPECT_UNTOUCHED(norm_moments_run(&q, NULL), NORM_ERR_BAD_STRIDE);
        q.residual_out_stride = 0;
        q.rows = SIZE_MAX / 2;
        EXPECT_UNTOUCHED(norm_moments_run(&q, NULL), NORM_ERR_NULL_POINTER);
        q.x_stride = SIZE_MAX / 2;
        q.rows = 2;
        EXPECT_UNTOUCHED(norm_moments_run(&q, (norm_moments *)(void *)X), NORM_ERR_SIZE_OVERFLOW);
    }
}
END_TEST

/* ---- main --------------------------------------------------------------------------------- */

static Suite *api_suite(void)
{
    Suite *s = suite_create(PROGRAM);
    /* First, and without the fixture: the library's own initial choice is what is checked. */
    TCase *tc = tcase_create("tier");
    tcase_add_test(tc, test_active_tier);
    tcase_add_test(tc, test_set_max_isa);
    suite_add_tcase(s, tc);

    tc = tcase_create("results");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, restore_tier, NULL);
    tcase_add_test(tc, test_dense);
    tcase_add_test(tc, test_run);
    tcase_add_test(tc, test_streaming);
    tcase_add_test(tc, test_half_dense);
    tcase_add_test(tc, test_half_run);
    tcase_add_test(tc, test_fused_run);
    tcase_add_test(tc, test_gated_run);
    tcase_add_test(tc, test_gate_infinite);
    tcase_add_test(tc, test_gate_subnormal);
    tcase_add_test(tc, test_given_moments_overflow);
    tcase_add_test(tc, test_int8_nonfinite_gate);
    tcase_add_test(tc, test_fused_matches_plain_many_rows);
    tcase_add_test(tc, test_int8_run);
    tcase_add_test(tc, test_split_row);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, restore_tier, NULL);
    tcase_add_test(tc, test_null);
    tcase_add_test(tc, test_zero_rows);
    tcase_add_test(tc, test_bad_size_and_stride);
    tcase_add_test(tc, test_size_overflow);
    tcase_add_test(tc, test_bad_eps);
    tcase_add_test(tc, test_overlap);
    tcase_add_test(tc, test_dense_matches_run);
    tcase_add_test(tc, test_quick_checks_match_complete);
    tcase_add_test(tc, test_disjoint);
    tcase_add_test(tc, test_bad_argument);
    tcase_add_test(tc, test_struct_size);
    tcase_add_test(tc, test_struct_size_garbage);
    tcase_add_test(tc, test_half_errors);
    tcase_add_test(tc, test_fused_errors);
    tcase_add_test(tc, test_struct_size_v1);
    tcase_add_test(tc, test_gated_errors);
    tcase_add_test(tc, test_int8_errors);
    tcase_add_test(tc, test_moments_errors);
    tcase_add_test(tc, test_moments_run_errors);
    tcase_add_test(tc, test_moments_combine_errors);
    tcase_add_test(tc, test_strings);
    tcase_add_test(tc, test_precedence);
    /* Last: it has faulted (reading given moments past their end), which ends a CK_FORK=no run. */
    tcase_add_test(tc, test_moments_size_overflow);
    suite_add_tcase(s, tc);
    return s;
}

static Suite *threads_suite(void)
{
    /* No fixture: nothing may touch the library before the threads do. */
    Suite *s = suite_create(PROGRAM " threads");
    TCase *tc = tcase_create("first calls");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_threads);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    bool threads = argc > 1 && strcmp(argv[1], "threads") == 0;
    if (argc > 1 && !threads) {
        fprintf(stderr, "usage: %s [threads]\n", argv[0]);
        return 2;
    }
    seed = test_seed(PROGRAM);
    quick = test_quick(PROGRAM);
    if (!threads)
        predict_tier(); /* the threads test must be the first to touch the library */

    SRunner *sr = srunner_create(threads ? threads_suite() : api_suite());
    const char *verbosity = getenv("CK_VERBOSITY");
    fflush(stdout);
    srunner_run_all(sr, verbosity && strcmp(verbosity, "verbose") == 0 ? CK_VERBOSE : CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (failed)
        return EXIT_FAILURE;
    predict_tier(); /* (threads: the forked test predicted for itself) */
    if (skip_reason[0]) {
        printf("%s: SKIP: %s; checked that the library chose %s instead\n", PROGRAM, skip_reason,
               isa_names[expected]);
        return 77;
    }
    return EXIT_SUCCESS;
}
