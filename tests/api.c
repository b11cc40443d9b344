/*
 * api: the public API, through the shared library and norm.h only (this also proves that the
 * exported symbols suffice).
 *
 *  - the tier the library picks, predicted here independently (cpuid through the compiler's
 *    __builtin_cpu_supports, the tiers Meson compiled in, and NORM_ISA), and
 *    norm_set_max_isa();
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

#include "common.h"
#include "norm.h"

#define PROGRAM "api"

/* Which tiers the build compiled in: tests/meson.build passes them. */
#ifndef NORM_TEST_HAVE_SSE2
#  define NORM_TEST_HAVE_SSE2 0
#endif
#ifndef NORM_TEST_HAVE_AVX2
#  define NORM_TEST_HAVE_AVX2 0
#endif
#ifndef NORM_TEST_HAVE_AVX512
#  define NORM_TEST_HAVE_AVX512 0
#endif
#ifndef NORM_TEST_HAVE_NEON
#  define NORM_TEST_HAVE_NEON 0
#endif

static uint64_t seed;
static bool quick;

/* ---- the tier the library must choose, worked out without asking it -------------------- */

static const char *const isa_names[NORM_ISA_COUNT] = { "scalar", "sse2", "avx2", "avx512", "neon" };
static const bool compiled[NORM_ISA_COUNT] = { true, NORM_TEST_HAVE_SSE2, NORM_TEST_HAVE_AVX2,
                                               NORM_TEST_HAVE_AVX512, NORM_TEST_HAVE_NEON };
static bool cpu_has[NORM_ISA_COUNT], this_arch[NORM_ISA_COUNT];
static int cap = NORM_ISA_COUNT - 1; /* the best tier NORM_ISA allows */
static norm_isa expected;
static char skip_reason[256];        /* set when NORM_ISA asks for a tier that cannot run here */

static bool available(int t) { return compiled[t] && cpu_has[t] && t <= cap; }

static void predict_tier(void)
{
    cpu_has[NORM_ISA_SCALAR] = this_arch[NORM_ISA_SCALAR] = true;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    cpu_has[NORM_ISA_SSE2] = __builtin_cpu_supports("sse2");
    cpu_has[NORM_ISA_AVX2] = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    cpu_has[NORM_ISA_AVX512] = __builtin_cpu_supports("avx512f");
    this_arch[NORM_ISA_SSE2] = this_arch[NORM_ISA_AVX2] = this_arch[NORM_ISA_AVX512] = true;
#elif defined(__aarch64__)
    cpu_has[NORM_ISA_NEON] = true; /* Advanced SIMD is mandatory on AArch64 */
    this_arch[NORM_ISA_NEON] = true;
#endif
    const char *env = getenv("NORM_ISA");
    if (env && *env) {
        int t = 0;
        while (t < NORM_ISA_COUNT && strcmp(env, isa_names[t]) != 0)
            t++;
        if (t < NORM_ISA_COUNT && this_arch[t]) {
            cap = t;
            if (!compiled[t] || !cpu_has[t])
                snprintf(skip_reason, sizeof skip_reason, "NORM_ISA=%s: %s", env,
                         compiled[t] ? "this CPU lacks it" : "not compiled into this build");
        } else {
            /* The library ignores it; the test then checks the native choice, but must not
             * report a pass for a tier it never ran. */
            snprintf(skip_reason, sizeof skip_reason, "NORM_ISA=%s is not a tier of this architecture", env);
        }
    }
    expected = NORM_ISA_SCALAR;
    for (int t = 0; t < NORM_ISA_COUNT; t++)
        if (available(t))
            expected = (norm_isa)t;

    printf("%s: NORM_ISA=%s: expecting tier %s (CPU has:", PROGRAM, env && *env ? env : "(unset)",
           isa_names[expected]);
    for (int t = 0; t < NORM_ISA_COUNT; t++)
        if (this_arch[t])
            printf(" %s%s", isa_names[t], cpu_has[t] ? (compiled[t] ? "" : " (not compiled)") : " (no)");
    printf(")\n");
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
    ck_assert_msg(cpu_has[norm_active_isa()], "active tier %s is not supported by this CPU",
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
            long double bound = CONTRACT_TOL * (fabsl(gg) * (1.0L + fabsl(xhat)) + fabsl(bb));
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

/* ---- invalid inputs: exact status, nothing written -------------------------------------- */

/* One arena holds every buffer of these tests, so "nothing written" is one comparison. */
enum { ARENA = 4096, N = 64, ROWS = 4 };
static float arena[ARENA], arena_copy[ARENA];
#define X (arena)
#define Y (arena + 1024)
#define G (arena + 2048)
#define B (arena + 2304)
#define MEAN (arena + 2560)
#define RSTD (arena + 2624)

static void arena_reset(void)
{
    for (size_t i = 0; i < ARENA; i++)
        arena[i] = (float)((int)(i % 251) - 125) * 0.125f; /* a recognisable, finite pattern */
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
    p.flags = 1u << 2; /* the first flag bit not defined */
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
        p.flags = NORM_UNIT_OFFSET | (1u << 2);
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

/* ---- strings ---------------------------------------------------------------------------- */

START_TEST(test_strings)
{
    const char *s[NORM_ERR_ISA_UNAVAILABLE + 1];
    for (int i = NORM_OK; i <= NORM_ERR_ISA_UNAVAILABLE; i++) {
        s[i] = norm_status_string((norm_status)i);
        ck_assert_msg(s[i] && *s[i], "norm_status_string(%d) is NULL or empty", i);
        for (int j = 0; j < i; j++)
            ck_assert_msg(strcmp(s[i], s[j]) != 0, "statuses %d and %d share the string \"%s\"", j, i, s[i]);
    }
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
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, restore_tier, NULL);
    tcase_add_test(tc, test_null);
    tcase_add_test(tc, test_zero_rows);
    tcase_add_test(tc, test_bad_size_and_stride);
    tcase_add_test(tc, test_size_overflow);
    tcase_add_test(tc, test_bad_eps);
    tcase_add_test(tc, test_overlap);
    tcase_add_test(tc, test_disjoint);
    tcase_add_test(tc, test_bad_argument);
    tcase_add_test(tc, test_struct_size);
    tcase_add_test(tc, test_half_errors);
    tcase_add_test(tc, test_fused_errors);
    tcase_add_test(tc, test_strings);
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
    predict_tier(); /* touches nothing in the library */

    SRunner *sr = srunner_create(threads ? threads_suite() : api_suite());
    const char *verbosity = getenv("CK_VERBOSITY");
    fflush(stdout);
    srunner_run_all(sr, verbosity && strcmp(verbosity, "verbose") == 0 ? CK_VERBOSE : CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (failed)
        return EXIT_FAILURE;
    if (skip_reason[0]) {
        printf("%s: SKIP: %s; checked that the library chose %s instead\n", PROGRAM, skip_reason,
               isa_names[expected]);
        return 77;
    }
    return EXIT_SUCCESS;
}
