/* SPDX-License-Identifier: MIT */
/*
 * threads: a call's output does not depend on its threads. On every tier this CPU runs, every
 * case of threads_cases.c (every op and type, strides, two-level rows, long rows cut into
 * slices) is run with threads = 1, and its every output byte compared (memcmp) with runs on
 * libnorm's pool with 2, 3, 7 and NORM_THREADS_AUTO threads, on the process default set to 3,
 * and on a scrambled pool (3 and 7 workers, tasks in a new random order each call, workers in
 * another floating-point environment). It also checks that long rows are the documented split
 * (norm_moments_run per slice, combined in order, norm_run per slice), that two-level rows are
 * the per-block calls, that bad thread settings and two-level layouts get a status with nothing
 * written, and that the dense entry points keep one thread unless the process opts in.
 *
 * It links the internal library to read how many calls went to libnorm's pool: a run that
 * asked for threads and quietly ran on one would otherwise pass.
 */
#include <check.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "norm.h"
#include "threads_cases.h"

extern _Atomic unsigned long norm_pool_calls; /* src/parallel.c */

static unsigned long pool_calls(void) { return atomic_load(&norm_pool_calls); }

/* The tiers of norm_isa, and whether each runs here (asked of the library). */
static bool tier_runs(int isa) { return norm_isa_available((norm_isa)isa) != 0; }

/* One case on the active tier against every thread setting; fails with the first difference. */
static void check_case(int i, scrambled_pool *sp3, scrambled_pool *sp7)
{
    tcase c;
    tc_build(&c, i);
    size_t bytes = tc_snapshot_bytes(&c);
    unsigned char *ref = malloc(bytes), *got = malloc(bytes);
    ck_assert(ref && got);
    ck_assert_msg(tc_run(&c, 1, NULL, NULL) == NORM_OK, "%s: threads = 1 failed", c.name);
    tc_snapshot(&c, ref);

    struct {
        const char *what;
        size_t threads;
        scrambled_pool *sp;
        size_t process_default;
    } runs[] = {
        { "threads = 2", 2, NULL, 1 },
        { "threads = 3", 3, NULL, 1 },
        { "threads = 7", 7, NULL, 1 },
        { "threads = NORM_THREADS_AUTO", NORM_THREADS_AUTO, NULL, 1 },
        { "threads = 0, process default 3", 0, NULL, 3 },
        { "scrambled pool, 3 workers", 0, sp3, 1 },
        { "scrambled pool, 7 workers", 0, sp7, 1 },
    };
    /* NORM_TEST_QUICK (emulated runs): 2 threads of libnorm's pool and the 7-worker scrambled pool. */
    const bool quick = getenv("NORM_TEST_QUICK") && strcmp(getenv("NORM_TEST_QUICK"), "1") == 0;
    for (size_t k = 0; k < sizeof runs / sizeof *runs; k++) {
        if (quick && k != 0 && k != 6)
            continue;
        ck_assert_int_eq(norm_set_default_threads(runs[k].process_default), NORM_OK);
        unsigned long before = pool_calls(), tasks = runs[k].sp ? scrambled_pool_tasks(runs[k].sp) : 0;
        norm_status st = tc_run(&c, runs[k].threads, runs[k].sp ? scrambled_parallel_for : NULL, runs[k].sp);
        ck_assert_int_eq(norm_set_default_threads(1), NORM_OK);
        ck_assert_msg(st == NORM_OK, "%s: %s: %s", c.name, runs[k].what, norm_status_string(st));
        /* The work went where it was sent. */
        if (runs[k].sp)
            ck_assert_msg(scrambled_pool_tasks(runs[k].sp) > tasks, "%s: %s: the pool ran no task", c.name,
                          runs[k].what);
        else if (norm_auto_threads() > 1)
            ck_assert_msg(pool_calls() > before, "%s: %s: libnorm's pool was not used", c.name, runs[k].what);
        tc_snapshot(&c, got);
        long at = tc_diff(ref, got, bytes);
        ck_assert_msg(at < 0, "%s on %s: %s differs from threads = 1 at output byte %ld", c.name,
                      norm_active_isa_name(), runs[k].what, at);
    }
    free(ref);
    free(got);
    tc_free(&c);
}

START_TEST(identity)
{
    int isa = _i;
    if (!tier_runs(isa)) {
        printf("threads: tier %s skipped: %s\n", norm_isa_name((norm_isa)isa) ? norm_isa_name((norm_isa)isa) : "?",
               "not compiled in or not supported by this CPU");
        return;
    }
    ck_assert_int_eq(norm_set_max_isa((norm_isa)isa), NORM_OK);
    scrambled_pool *sp3 = scrambled_pool_create(3, 3), *sp7 = scrambled_pool_create(7, 7);
    for (int i = 0; i < tc_count(); i++)
        check_case(i, sp3, sp7);
    scrambled_pool_destroy(sp3);
    scrambled_pool_destroy(sp7);
    if (getenv("NORM_TEST_QUICK") && strcmp(getenv("NORM_TEST_QUICK"), "1") == 0)
        printf("threads: tier %s: %d cases, each bit-identical with threads 1 and 2 and a scrambled pool of 7 "
               "workers (NORM_TEST_QUICK)\n", norm_active_isa_name(), tc_count());
    else
        printf("threads: tier %s: %d cases, each bit-identical with threads 1, 2, 3, 7, auto (%zu), the process "
               "default, and scrambled pools of 3 and 7 workers\n",
               norm_active_isa_name(), tc_count(), norm_auto_threads());
}
END_TEST

/* A long row is the documented split: slices of 16384 elements, whose moments (norm_moments_run)
 * are combined in slice order (norm_moments_combine), each slice then normalised with them
 * (norm_run with .moments, the row's statistics from the first slice). Built here through the
 * public API, one call per slice, it must give the library's bits. */
static void split_by_hand(norm_kind kind, norm_dtype t, size_t rows, size_t n, unsigned flags)
{
    const size_t S = 16384, e = t == NORM_F32 ? 4 : 2, nsl = (n + S - 1) / S;
    rng r = rng_for(11, "split by hand");
    unsigned char *x = malloc(rows * n * e), *g = malloc(n * e), *b = malloc(n * e);
    unsigned char *y1 = malloc(rows * n * e), *y2 = malloc(rows * n * e);
    float m1[8], s1[8], m2[8], s2[8];
    ck_assert(x && g && b && y1 && y2 && rows <= 8);
    for (size_t i = 0; i < rows * n; i++)
        type_store(x, i, (float)(5.0 * (double)(i / n) + rng_normal(&r)), t);
    for (size_t i = 0; i < n; i++) {
        type_store(g, i, (float)(1.0 + 0.2 * rng_normal(&r)), t);
        type_store(b, i, (float)(0.1 * rng_normal(&r)), t);
    }
    norm_params p = norm_params_default(kind);
    p.rows = rows, p.n = n, p.x = x, p.y = y1, p.gamma = g, p.beta = b, p.flags = flags;
    p.x_type = p.y_type = p.param_type = t;
    p.rstd = s1, p.mean = kind == NORM_LAYERNORM ? m1 : NULL;
    p.threads = 2;
    ck_assert_int_eq(norm_run(&p), NORM_OK);

    for (size_t row = 0; row < rows; row++) {
        norm_moments acc = { 0, 0, 0 };
        for (size_t s = 0; s < nsl; s++) {
            size_t len = n - s * S < S ? n - s * S : S;
            norm_params q = norm_params_default(kind);
            q.rows = 1, q.n = len, q.x = x + (row * n + s * S) * e, q.x_type = t, q.param_type = t;
            norm_moments part;
            ck_assert_int_eq(norm_moments_run(&q, &part), NORM_OK);
            ck_assert_int_eq(norm_moments_combine(&acc, &part, 1), NORM_OK);
        }
        for (size_t s = 0; s < nsl; s++) {
            size_t len = n - s * S < S ? n - s * S : S;
            norm_params q = norm_params_default(kind);
            q.rows = 1, q.n = len, q.flags = flags, q.x_type = q.y_type = q.param_type = t;
            q.x = x + (row * n + s * S) * e, q.y = y2 + (row * n + s * S) * e;
            q.gamma = g + s * S * e, q.beta = b + s * S * e, q.moments = &acc;
            if (s == 0)
                q.rstd = &s2[row], q.mean = kind == NORM_LAYERNORM ? &m2[row] : NULL;
            ck_assert_int_eq(norm_run(&q), NORM_OK);
        }
    }
    ck_assert_msg(memcmp(y1, y2, rows * n * e) == 0, "%zu x %zu: the split by hand gives other bits", rows, n);
    ck_assert(memcmp(s1, s2, rows * sizeof *s1) == 0);
    if (kind == NORM_LAYERNORM)
        ck_assert(memcmp(m1, m2, rows * sizeof *m1) == 0);
    /* And it is a norm: within the f32 contract's order of a double reference (a wrong slice
     * offset for gamma or beta would be far off). */
    for (size_t row = 0; row < rows; row++) {
        double sum = 0, sq = 0;
        for (size_t i = 0; i < n; i++)
            sum += type_load(x, row * n + i, t);
        double mean = kind == NORM_LAYERNORM ? sum / (double)n : 0;
        for (size_t i = 0; i < n; i++) {
            double d = type_load(x, row * n + i, t) - mean;
            sq += d * d;
        }
        double rstd = 1.0 / sqrt(sq / (double)n + 1e-5);
        for (size_t i = 0; i < n; i += 97) {
            double want = (type_load(x, row * n + i, t) - mean) * rstd * type_load(g, i, t) + type_load(b, i, t);
            double got = type_load(y1, row * n + i, t);
            ck_assert_msg(fabs(got - want) <= 1e-5 + (t == NORM_F32 ? 1e-5 : 1e-2) * fabs(want),
                          "row %zu element %zu: %g, want %g", row, i, got, want);
        }
    }
    free(x), free(g), free(b), free(y1), free(y2);
}

START_TEST(long_rows_are_the_documented_split)
{
    split_by_hand(NORM_RMSNORM, NORM_F32, 3, 70001, 0);
    split_by_hand(NORM_LAYERNORM, NORM_F32, 2, 16384 * 5, 0);
    split_by_hand(NORM_LAYERNORM, NORM_BF16, 2, 100003, 0);
}
END_TEST

/* Two-level rows are the per-block calls: block o of a [outer][3][rows][n] QKV buffer
 * normalised by one call per block, against one call for all. */
START_TEST(two_level_is_per_block)
{
    enum { OUTER = 33, ROWS = 8, N = 128 };
    rng r = rng_for(5, "two-level");
    float *qkv = malloc(sizeof(float) * OUTER * 3 * ROWS * N), *g = malloc(sizeof(float) * N);
    float *y1 = malloc(sizeof(float) * OUTER * ROWS * N), *y2 = malloc(sizeof(float) * OUTER * ROWS * N);
    float rs1[OUTER * ROWS], rs2[OUTER * ROWS];
    ck_assert(qkv && g && y1 && y2);
    for (size_t i = 0; i < (size_t)OUTER * 3 * ROWS * N; i++)
        qkv[i] = (float)(rng_normal(&r) * (1 + i % 7));
    for (size_t i = 0; i < N; i++)
        g[i] = (float)(1 + 0.1 * rng_normal(&r));
    for (int k = 1; k < 3; k++) { /* the k part with rstd; the v part without: x, y and gamma only, the
                                   * plainest call, which any fast path for plain calls must not take
                                   * as one block */
        norm_params p = norm_params_default(NORM_RMSNORM);
        p.outer = OUTER, p.rows = ROWS, p.n = N, p.gamma = g, p.rstd = k == 1 ? rs1 : NULL;
        p.x = qkv + k * ROWS * N, p.x_outer_stride = 3 * ROWS * N, p.y = y1;
        p.threads = 2;
        ck_assert_int_eq(norm_run(&p), NORM_OK);
        for (int o = 0; o < OUTER; o++) {
            norm_params q = norm_params_default(NORM_RMSNORM);
            q.rows = ROWS, q.n = N, q.gamma = g, q.rstd = k == 1 ? rs2 + o * ROWS : NULL;
            q.x = qkv + (o * 3 + k) * ROWS * N, q.y = y2 + o * ROWS * N;
            ck_assert_int_eq(norm_run(&q), NORM_OK);
        }
        ck_assert(memcmp(y1, y2, sizeof(float) * OUTER * ROWS * N) == 0);
        if (k == 1)
            ck_assert(memcmp(rs1, rs2, sizeof rs1) == 0);
    }
    free(qkv), free(g), free(y1), free(y2);
}
END_TEST

/* A call refused: the status wanted, and every buffer as it was before the call. */
static void refused(tcase *c, norm_params *p, norm_status want, const char *what)
{
    size_t bytes = tc_snapshot_bytes(c);
    unsigned char *before = malloc(bytes), *after = malloc(bytes);
    ck_assert(before && after);
    /* The buffers as tc_run lays them out before a call: inputs restored, outputs filled. */
    for (int i = 0; i < c->nbuf; i++)
        if (c->buf[i].pristine)
            memcpy(c->buf[i].p, c->buf[i].pristine, c->buf[i].bytes);
        else
            memset(c->buf[i].p, 0xA5, c->buf[i].bytes);
    tc_snapshot(c, before);
    norm_status st = c->moments_run ? norm_moments_run(p, c->mom_out) : norm_run(p);
    tc_snapshot(c, after);
    ck_assert_msg(st == want, "%s: %s, want %s", what, norm_status_string(st), norm_status_string(want));
    ck_assert_msg(memcmp(before, after, bytes) == 0, "%s: refused, but wrote", what);
    free(before), free(after);
}

START_TEST(bad_settings)
{
    /* norm_run and norm_moments_run, on one case of each (whole rows and long rows). */
    for (int i = 0; i < tc_count(); i++) {
        tcase c;
        tc_build(&c, i);
        if (strncmp(c.name, "plain ", 6) != 0 && strncmp(c.name, "moments run ", 12) != 0 &&
            strncmp(c.name, "long moments run", 16) != 0 && strncmp(c.name, "long rmsnorm", 12) != 0) {
            tc_free(&c);
            continue;
        }
        const size_t bad[] = { NORM_THREADS_MAX + 1, NORM_THREADS_AUTO - 1, (size_t)1 << 40 };
        for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
            norm_params p = c.p;
            p.threads = bad[k];
            refused(&c, &p, NORM_ERR_BAD_ARGUMENT, c.name);
            p.parallel_for = scrambled_parallel_for; /* a pool given does not excuse it */
            refused(&c, &p, NORM_ERR_BAD_ARGUMENT, c.name);
        }
        /* The limits themselves are taken. */
        norm_params p = c.p;
        p.threads = NORM_THREADS_MAX;
        ck_assert_int_eq(c.moments_run ? norm_moments_run(&p, c.mom_out) : norm_run(&p), NORM_OK);
        tc_free(&c);
    }
    /* The plainest call (x, y, gamma: what a fast path for plain calls would take) refuses a bad
     * setting too, and writes nothing. */
    {
        enum { R = 64, N = 1024 };
        float *x = calloc(R * N, sizeof(float)), *y = malloc(R * N * sizeof(float)), *g = calloc(N, sizeof(float));
        ck_assert(x && y && g);
        memset(y, 0xA5, R * N * sizeof(float));
        norm_params p = norm_params_default(NORM_LAYERNORM);
        p.rows = R, p.n = N, p.x = x, p.y = y, p.gamma = g, p.threads = NORM_THREADS_MAX + 1;
        ck_assert_int_eq(norm_run(&p), NORM_ERR_BAD_ARGUMENT);
        for (size_t i = 0; i < (size_t)R * N; i++)
            ck_assert_msg(((unsigned char *)y)[4 * i] == 0xA5, "a refused plain call wrote y[%zu]", i);
        /* And an outer stride shorter than a block. */
        p.threads = 2, p.outer = 2, p.rows = R / 2, p.x_outer_stride = N;
        ck_assert_int_eq(norm_run(&p), NORM_ERR_BAD_STRIDE);
        for (size_t i = 0; i < (size_t)R * N; i++)
            ck_assert_msg(((unsigned char *)y)[4 * i] == 0xA5, "a refused plain call wrote y[%zu]", i);
        free(x), free(y), free(g);
    }
    /* The process default: 0 and out-of-range values refused, the default unchanged. */
    ck_assert_uint_eq(norm_default_threads(), 1);
    ck_assert_int_eq(norm_set_default_threads(0), NORM_ERR_BAD_ARGUMENT);
    ck_assert_int_eq(norm_set_default_threads(NORM_THREADS_MAX + 1), NORM_ERR_BAD_ARGUMENT);
    ck_assert_int_eq(norm_set_default_threads(NORM_THREADS_AUTO - 1), NORM_ERR_BAD_ARGUMENT);
    ck_assert_uint_eq(norm_default_threads(), 1);
    ck_assert_int_eq(norm_set_default_threads(NORM_THREADS_AUTO), NORM_OK);
    ck_assert_uint_eq(norm_default_threads(), NORM_THREADS_AUTO);
    ck_assert_int_eq(norm_set_default_threads(1), NORM_OK);
    ck_assert_uint_ge(norm_auto_threads(), 1);
    ck_assert_uint_le(norm_auto_threads(), NORM_THREADS_MAX);
}
END_TEST

/* Two-level layouts: the validator's rules, nothing written when it refuses. */
START_TEST(two_level_validation)
{
    tcase c;
    int qkv = -1;
    for (int i = 0; i < tc_count() && qkv < 0; i++) {
        tc_build(&c, i);
        if (strncmp(c.name, "two-level qkv", 13) == 0)
            qkv = i;
        else
            tc_free(&c);
    }
    ck_assert_int_ge(qkv, 0);
    const size_t rows = c.p.rows, n = c.p.n, outer = c.p.outer;
    norm_params p = c.p;
    /* Blocks that interleave: an outer stride shorter than a block. */
    p.x_outer_stride = (rows - 1) * n + n - 1;
    refused(&c, &p, NORM_ERR_BAD_STRIDE, "x_outer_stride shorter than a block");
    p = c.p;
    p.y_outer_stride = 1;
    refused(&c, &p, NORM_ERR_BAD_STRIDE, "y_outer_stride 1");
    /* outer * rows that does not fit, and blocks past the end of memory. */
    p = c.p;
    p.outer = SIZE_MAX / 2;
    refused(&c, &p, NORM_ERR_SIZE_OVERFLOW, "outer * rows overflows");
    p = c.p;
    p.x_outer_stride = SIZE_MAX / 8;
    refused(&c, &p, NORM_ERR_SIZE_OVERFLOW, "x's blocks past the address space");
    /* y inside x's QKV buffer: in the k part it shares no element with the q rows (taken); one
     * element off the q rows it does (refused). */
    float *x = (float *)c.p.x;
    p = c.p;
    p.y = x + rows * n, p.y_outer_stride = 3 * rows * n, p.y_stride = n;
    ck_assert_int_eq(norm_run(&p), NORM_OK);
    p.y = x + 1;
    refused(&c, &p, NORM_ERR_OVERLAP, "y one element into x's blocks");
    p.y = x + 3 * rows * n * (outer - 1) + 5; /* x's last block meets y's first */
    p.y_outer_stride = 3 * rows * n;
    refused(&c, &p, NORM_ERR_OVERLAP, "y's first block over x's last");
    /* In place, with x's layout: taken. */
    p = c.p;
    p.y = x, p.y_stride = p.x_stride, p.y_outer_stride = p.x_outer_stride;
    ck_assert_int_eq(norm_run(&p), NORM_OK);
    /* One block: the outer strides mean nothing, and do not keep y == x from being in place. */
    p.outer = 1, p.y_outer_stride = 0;
    ck_assert_int_eq(norm_run(&p), NORM_OK);
    /* The statistics cover outer * rows rows: rstd over the last block's y is refused. */
    p = c.p;
    p.rstd = (float *)c.p.y + (outer * rows - 1) * n;
    refused(&c, &p, NORM_ERR_OVERLAP, "rstd over y's last rows");
    tc_free(&c);
}
END_TEST

/* The dense entry points keep the process default: one thread, unless the program opts in, and
 * the same bits either way. */
START_TEST(dense_default)
{
    const size_t shapes[][2] = { { 300, 1000 }, { 2, 70001 } };
    for (size_t s = 0; s < 2; s++) {
        size_t rows = shapes[s][0], n = shapes[s][1];
        rng r = rng_for(9, "dense");
        float *x = malloc(sizeof(float) * rows * n), *g = malloc(sizeof(float) * n);
        float *y1 = malloc(sizeof(float) * rows * n), *y2 = malloc(sizeof(float) * rows * n);
        ck_assert(x && g && y1 && y2);
        for (size_t i = 0; i < rows * n; i++)
            x[i] = (float)(rng_normal(&r) + 2.0);
        for (size_t i = 0; i < n; i++)
            g[i] = (float)(1 + 0.1 * rng_normal(&r));
        unsigned long before = pool_calls();
        ck_assert_int_eq(norm_layernorm_f32(y1, x, g, NULL, rows, n, 1e-5f), NORM_OK);
        ck_assert_msg(pool_calls() == before, "a dense call used the pool without being asked");
        ck_assert_int_eq(norm_set_default_threads(NORM_THREADS_AUTO), NORM_OK);
        ck_assert_int_eq(norm_layernorm_f32(y2, x, g, NULL, rows, n, 1e-5f), NORM_OK);
        ck_assert_int_eq(norm_set_default_threads(1), NORM_OK);
        if (norm_auto_threads() > 1)
            ck_assert_msg(pool_calls() > before, "the dense call did not take the process default");
        ck_assert(memcmp(y1, y2, sizeof(float) * rows * n) == 0);
        free(x), free(g), free(y1), free(y2);
    }
}
END_TEST

static Suite *threads_suite(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("identity");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, identity, 0, NORM_ISA_COUNT);
    suite_add_tcase(s, tc);
    TCase *api = tcase_create("api");
    tcase_set_timeout(api, 120);
    tcase_add_test(api, long_rows_are_the_documented_split);
    tcase_add_test(api, two_level_is_per_block);
    tcase_add_test(api, bad_settings);
    tcase_add_test(api, two_level_validation);
    tcase_add_test(api, dense_default);
    suite_add_tcase(s, api);
    return s;
}

int main(void)
{
    printf("threads: libnorm %s, auto threads %zu\n", norm_version_string(), norm_auto_threads());
    if (norm_auto_threads() == 1)
        printf("threads: libnorm's own pool has one thread here (one CPU, or built without pthreadpool): its runs\n"
               "         are single-threaded, and only the scrambled pool spreads tasks over threads\n");
    SRunner *sr = srunner_create(threads_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
