/* SPDX-License-Identifier: MIT */
/*
 * How a validated call is run: on the calling thread, or cut into tasks for libnorm's pool or
 * the caller's (src/parallel.c). The cut depends only on the call's parameters, never on the
 * thread count, so that every bit of the output is the same however many threads run it.
 */
#ifndef NORM_PARALLEL_H
#define NORM_PARALLEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "kernels.h"

/* Rows of at least this many elements are cut into slices of NORM_SLICE_ELEMS (the last one
 * shorter), whose moments are combined in slice order, then normalised slice by slice: on one
 * thread as on many, so a row's bits do not depend on the thread count. Below it, rows are
 * whole and only whole rows are spread over threads. (README, "Threads": measured.) */
#define NORM_SLICE_MIN_N ((size_t)1 << 16)
#define NORM_SLICE_ELEMS ((size_t)1 << 14)

/* A call moving fewer bytes (x and y; for norm_moments_run, x) than this stays on the calling
 * thread whatever it asks for: waking a thread costs more than it saves (README, "Threads":
 * measured with norm-bench --scaling on a 2-core Zen 5: 2 threads lost below 256 KiB, won
 * 1.2-1.5x at it, f32 and bf16). */
#ifndef NORM_PARALLEL_MIN_BYTES /* -D for a build that measures it (README, "Threads") */
#  define NORM_PARALLEL_MIN_BYTES ((size_t)256 << 10)
#endif

/* A task of whole rows holds about this many bytes of x and y, so that each task's rows are
 * long enough to amortise taking a task and short enough to balance the threads. */
#define NORM_TILE_BYTES ((size_t)128 << 10)

/* One validated call: the kernel's job for block 0 of the outer blocks (job.rows rows each),
 * and where the other blocks start. */
typedef struct norm_call {
    norm_job job;
    size_t outer;                           /* blocks, >= 1 */
    size_t x_os, y_os, r_os, h_os, z_os;    /* outer strides in elements: x, y, residual, residual_out, gate */
    norm_kernel_fn *apply;                  /* norm_run's kernel; NULL for norm_moments_run */
    norm_kernel_fn *moments;                /* the moments kernel of the rows' source (x, h or x * silu(gate)) */
    norm_kernel_fn *plain_moments;          /* the moments kernel of x alone (a gate after the norm) */
} norm_call;

/* Where the call may run: norm_params.threads (validated) and the caller's pool. */
typedef struct norm_threading {
    size_t threads;
    norm_parallel_for_fn *parallel_for;
    void *context;
} norm_threading;

/* norm_params.threads is acceptable: 0, 1..NORM_THREADS_MAX or NORM_THREADS_AUTO. */
static inline bool norm_threads_valid(size_t t) { return t <= NORM_THREADS_MAX || t == NORM_THREADS_AUTO; }

/* The process default (norm_set_default_threads), never 0. */
NORM_INTERNAL extern _Atomic size_t norm_default_threads_value;

/* Is a row of n elements cut into slices? Only where the slices can be combined exactly as one
 * thread would: not with given moments (the caller already split the row) nor with a dynamic
 * int8 scale (one scale per row needs the whole row's output before any q is written). */
static inline bool norm_call_sliced(size_t n, bool given_moments, bool dynamic_scale)
{
    return n >= NORM_SLICE_MIN_N && !given_moments && !dynamic_scale;
}

/* Can the call be handed straight to its kernel, on the calling thread? What a call of one
 * block of short rows that is small or asks for one thread gets, with nothing more than this
 * test on its path (the 1x4096 call an engine waits on per token). */
static inline bool norm_call_direct(size_t outer, bool sliced, size_t bytes, const norm_threading *t)
{
    if (outer > 1 || sliced)
        return false;
    if (bytes < NORM_PARALLEL_MIN_BYTES)
        return true;
    if (t->parallel_for)
        return false;
    size_t threads = t->threads ? t->threads : atomic_load_explicit(&norm_default_threads_value, memory_order_relaxed);
    return threads == 1;
}

/* Runs a validated call (rows > 0): its blocks, rows and slices, on as many threads as it may
 * use, with every output bit what one thread gives. */
NORM_INTERNAL void norm_call_run(const norm_call *c, const norm_threading *t);

/* acc = the moments of acc's elements and b's together (Chan, Golub and LeVeque); either may
 * be empty. One function for norm_moments_combine and for the slices of a row, so both
 * combine alike. */
NORM_INTERNAL void norm_moments_merge(norm_moments *acc, norm_moments b);

#endif
