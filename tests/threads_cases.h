/* SPDX-License-Identifier: MIT */
/*
 * The calls the thread tests run (tests/threads.c, threads_omp.c, threads_concurrent.c): every
 * op (plain, fused residual, gated both ways, int8 with static and dynamic scales, given
 * moments, norm_moments_run), every element type, strides, long rows that are cut into slices,
 * two-level rows, in place. Each is large enough that a call asking for threads is spread over
 * them (more than NORM_PARALLEL_MIN_BYTES). A case owns its buffers: pristine inputs, restored
 * before every run (in-place cases overwrite them), and one snapshot of every byte a run may
 * write, gaps between rows included, so that two runs are compared with memcmp.
 */
#ifndef NORM_TEST_THREADS_CASES_H
#define NORM_TEST_THREADS_CASES_H

#include <stdbool.h>
#include <stddef.h>

#include "norm.h"

typedef struct tc_buf {
    void *p;        /* what the call sees */
    void *pristine; /* inputs: the bytes restored before each run; outputs: NULL */
    size_t bytes;
} tc_buf;

enum { TC_MAXBUF = 12 };

typedef struct tcase {
    char name[96];
    norm_params p;
    bool moments_run;        /* norm_moments_run(&p, mom_out) instead of norm_run */
    norm_moments *mom_out;
    bool sliced;             /* rows long enough to be cut into slices */
    tc_buf buf[TC_MAXBUF];   /* inputs and outputs; outputs have pristine NULL */
    int nbuf;
} tcase;

/* How many cases there are, and case i built (its inputs drawn from a fixed stream). */
int tc_count(void);
void tc_build(tcase *c, int i);
void tc_free(tcase *c);

/* Restores the inputs, fills the outputs with 0xA5, runs the call with the given thread
 * settings (threads, and the caller's pool when parallel_for is not NULL), and returns its
 * status. */
norm_status tc_run(tcase *c, size_t threads, norm_parallel_for_fn *pf, void *ctx);

/* Every output byte of the last run, in one newly allocated block (tc_snapshot_bytes long). */
size_t tc_snapshot_bytes(const tcase *c);
void tc_snapshot(const tcase *c, unsigned char *out);

/* The first differing byte of two snapshots, or -1. */
long tc_diff(const unsigned char *a, const unsigned char *b, size_t bytes);

/* A pool that runs a call's tasks on its own workers and the calling thread, in an order
 * shuffled afresh for every call, each worker in a floating-point environment unlike the
 * caller's (rounding toward zero, and on x86 flush-to-zero and denormals-are-zero), so that a
 * library that let a task run in the worker's environment would give other bits. */
typedef struct scrambled_pool scrambled_pool;
scrambled_pool *scrambled_pool_create(int workers, unsigned long seed);
void scrambled_pool_destroy(scrambled_pool *sp);
void scrambled_parallel_for(void *context, norm_task_fn *task, void *arg, size_t count);
/* Tasks it has run, over all calls: a test checks that work did go to the pool. */
unsigned long scrambled_pool_tasks(scrambled_pool *sp);

#endif
