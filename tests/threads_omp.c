/* SPDX-License-Identifier: MIT */
/*
 * threads-omp: an engine's OpenMP runtime as libnorm's pool. norm_params.parallel_for is an
 * OpenMP loop (dynamic schedule, iterating backwards, with 2, 3 and 7 threads); on every tier
 * this CPU runs, every case of threads_cases.c gives threads = 1's bits. Only this file is
 * compiled with -fopenmp: the library itself never uses OpenMP.
 */
#include <check.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "norm.h"
#include "threads_cases.h"

typedef struct omp_pool {
    int threads;
    long tasks; /* tasks run, over all calls (atomic updates) */
} omp_pool;

static void omp_parallel_for(void *context, norm_task_fn *task, void *arg, size_t count)
{
    omp_pool *pool = context;
    long done = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(pool->threads) reduction(+ : done)
    for (long i = (long)count - 1; i >= 0; i--) {
        task(arg, (size_t)i);
        done++;
    }
    pool->tasks += done;
}

START_TEST(openmp)
{
    int isa = _i;
    if (!norm_isa_available((norm_isa)isa)) {
        printf("threads-omp: tier %s skipped: not compiled in or not supported by this CPU\n",
               norm_isa_name((norm_isa)isa) ? norm_isa_name((norm_isa)isa) : "?");
        return;
    }
    ck_assert_int_eq(norm_set_max_isa((norm_isa)isa), NORM_OK);
    const int widths[] = { 2, 3, 7 };
    for (int i = 0; i < tc_count(); i++) {
        tcase c;
        tc_build(&c, i);
        size_t bytes = tc_snapshot_bytes(&c);
        unsigned char *ref = malloc(bytes), *got = malloc(bytes);
        ck_assert(ref && got);
        ck_assert_int_eq(tc_run(&c, 1, NULL, NULL), NORM_OK);
        tc_snapshot(&c, ref);
        /* NORM_TEST_QUICK (emulated runs): the 3-thread loop only. */
        const bool quick = getenv("NORM_TEST_QUICK") && strcmp(getenv("NORM_TEST_QUICK"), "1") == 0;
        for (int w = quick ? 1 : 0; w < (quick ? 2 : 3); w++) {
            omp_pool pool = { widths[w], 0 };
            ck_assert_int_eq(tc_run(&c, 0, omp_parallel_for, &pool), NORM_OK);
            ck_assert_msg(pool.tasks > 1, "%s: the OpenMP loop ran %ld tasks", c.name, pool.tasks);
            tc_snapshot(&c, got);
            long at = tc_diff(ref, got, bytes);
            ck_assert_msg(at < 0, "%s on %s: OpenMP with %d threads differs from threads = 1 at byte %ld", c.name,
                          norm_active_isa_name(), widths[w], at);
        }
        free(ref), free(got);
        tc_free(&c);
    }
    printf("threads-omp: tier %s: %d cases bit-identical with OpenMP loops of %s threads\n", norm_active_isa_name(),
           tc_count(), getenv("NORM_TEST_QUICK") && strcmp(getenv("NORM_TEST_QUICK"), "1") == 0 ? "3" : "2, 3 and 7");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("threads-omp");
    TCase *tc = tcase_create("openmp");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, openmp, 0, NORM_ISA_COUNT);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
