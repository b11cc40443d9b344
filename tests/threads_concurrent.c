/* SPDX-License-Identifier: MIT */
/*
 * threads-concurrent: 8 threads call libnorm at once, each with its own pool settings (one
 * thread, 2 threads of libnorm's pool, NORM_THREADS_AUTO, the process default while another
 * thread keeps changing it, a scrambled pool of its own), on cases of threads_cases.c, and every
 * result must be the single-threaded one. Calls that find libnorm's pool busy run on their own
 * thread, so the pool is contended on purpose. Meant for ThreadSanitizer as much as for the
 * plain build: it does not fork (CK_FORK=no is set by Meson, and the test runs in-process
 * either way), and every thread's data is its own.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "norm.h"
#include "threads_cases.h"

enum { THREADS = 8, CASES_PER_THREAD = 2, ROUNDS = 3 };

typedef struct worker {
    int id;
    int cases[CASES_PER_THREAD];
    unsigned char *ref[CASES_PER_THREAD];
    char failure[256];
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    scrambled_pool *sp = w->id % 4 == 3 ? scrambled_pool_create(2 + w->id % 3, (unsigned long)w->id) : NULL;
    for (int k = 0; k < CASES_PER_THREAD && !w->failure[0]; k++) {
        tcase c;
        tc_build(&c, w->cases[k]);
        size_t bytes = tc_snapshot_bytes(&c);
        unsigned char *got = malloc(bytes);
        for (int round = 0; round < ROUNDS && got && !w->failure[0]; round++) {
            norm_status st;
            switch (w->id % 4) {
            case 0: st = tc_run(&c, 1 + (size_t)round, NULL, NULL); break;
            case 1: st = tc_run(&c, NORM_THREADS_AUTO, NULL, NULL); break;
            case 2:
                /* The process default, which thread 6 changes while this runs. */
                if (w->id == 6)
                    norm_set_default_threads(round % 2 ? 1 : 3);
                st = tc_run(&c, 0, NULL, NULL);
                break;
            default: st = tc_run(&c, 0, scrambled_parallel_for, sp); break;
            }
            if (st != NORM_OK) {
                snprintf(w->failure, sizeof w->failure, "thread %d, %s: %s", w->id, c.name, norm_status_string(st));
                break;
            }
            tc_snapshot(&c, got);
            long at = tc_diff(w->ref[k], got, bytes);
            if (at >= 0)
                snprintf(w->failure, sizeof w->failure, "thread %d, %s, round %d: differs at byte %ld", w->id, c.name,
                         round, at);
        }
        free(got);
        tc_free(&c);
    }
    if (sp)
        scrambled_pool_destroy(sp);
    return NULL;
}

START_TEST(concurrent)
{
    worker w[THREADS];
    memset(w, 0, sizeof w);
    /* The references, one call at a time on one thread, before any thread starts. */
    for (int t = 0; t < THREADS; t++) {
        w[t].id = t;
        for (int k = 0; k < CASES_PER_THREAD; k++) {
            w[t].cases[k] = (t * 7 + k * 13) % tc_count();
            tcase c;
            tc_build(&c, w[t].cases[k]);
            w[t].ref[k] = malloc(tc_snapshot_bytes(&c));
            ck_assert(w[t].ref[k]);
            ck_assert_int_eq(tc_run(&c, 1, NULL, NULL), NORM_OK);
            tc_snapshot(&c, w[t].ref[k]);
            tc_free(&c);
        }
    }
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, worker_main, &w[t]), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    norm_set_default_threads(1);
    for (int t = 0; t < THREADS; t++) {
        ck_assert_msg(!w[t].failure[0], "%s", w[t].failure);
        for (int k = 0; k < CASES_PER_THREAD; k++)
            free(w[t].ref[k]);
    }
    printf("threads-concurrent: %d threads x %d cases x %d rounds, every result the single-threaded one\n", THREADS,
           CASES_PER_THREAD, ROUNDS);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("threads-concurrent");
    TCase *tc = tcase_create("concurrent");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, concurrent);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
