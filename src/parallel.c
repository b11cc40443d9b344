/* SPDX-License-Identifier: MIT */
/*
 * Threads: libnorm's own pool (pthreadpool, created on first use, destroyed at exit), the
 * caller's pool (norm_params.parallel_for), and how a call is cut into tasks for either.
 *
 * Determinism is the design's first rule: the cut depends only on the call's parameters.
 *  - Short rows (n < NORM_SLICE_MIN_N) are whole: a task is a tile of rows, and a row's bits
 *    depend only on that row (tests/checkasm_rows.c), so any tiling gives the same bits.
 *  - A long row is always cut into slices of NORM_SLICE_ELEMS, on one thread as on many: the
 *    slices' moments (the moments kernels, in f64), combined in slice order on the calling
 *    thread, then each slice normalised with the row's moments. Which thread computes a
 *    slice's moments changes nothing, and the order they are combined in is fixed.
 *  - Each task runs in the caller's floating-point environment (rounding mode, and on x86 the
 *    FTZ/DAZ bits of MXCSR), so a worker that was started with another gives the same bits.
 */
#include <fenv.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "dispatch.h"
#include "parallel.h"

#if NORM_HAVE_PTHREADPOOL
#  include <pthreadpool.h>
#else
/* Built without pthreadpool (meson -Dpthreadpool): no pool of libnorm's own. norm_auto_threads()
 * is 1, so a call runs on the caller's pool or on its own thread, and these are never reached
 * with a pool to use. */
typedef void *pthreadpool_t;
static pthreadpool_t pthreadpool_create(size_t threads) { (void)threads; return NULL; }
static void pthreadpool_destroy(pthreadpool_t pool) { (void)pool; }
#endif

_Atomic size_t norm_default_threads_value = 1;

/* How many calls have run on libnorm's pool: the tests ask, to know that a call they meant to
 * spread over the pool was not quietly run on one thread. */
NORM_INTERNAL _Atomic unsigned long norm_pool_calls;

/* ---- libnorm's pool -------------------------------------------------------------------- */

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static size_t pool_width = 1;      /* norm_auto_threads(): set once */
static pthreadpool_t pool;         /* created and used only by the holder of pool_busy */
static pthreadpool_t pool_orphan;  /* a pool whose threads a fork left behind (see below) */
/* The pool runs one call at a time. A call that finds it busy runs on its own thread rather than
 * wait: with another call's threads already on the cores, waiting would not be faster, and the
 * bits are the same either way. The flag is the pool's only lock (a try-lock, never waited on). */
static atomic_bool pool_busy;

/* At exit (or when libnorm is unloaded: glibc runs a library's atexit handlers at dlclose), the
 * pool's threads are joined and its memory freed, so a leak checker sees nothing. If a call on
 * another thread still holds the pool, it is left to that call: better a pool not freed than
 * one freed under running tasks. The flag stays set, so a later call runs on its own thread. */
static void pool_at_exit(void)
{
    if (atomic_exchange(&pool_busy, true))
        return;
    if (pool)
        pthreadpool_destroy(pool);
    pool = NULL;
}

/* After fork() the child has none of the pool's threads: pthreadpool_destroy would wait for
 * them forever, and a call using the pool would too. The child forgets the pool (kept
 * reachable, so it is not reported as a leak) and creates its own on its first threaded call;
 * a call that held the pool in the parent has no thread in the child, so the flag is cleared. */
static void pool_after_fork(void)
{
    if (pool)
        pool_orphan = pool;
    pool = NULL;
    atomic_store(&pool_busy, false);
}

static void pool_init(void)
{
    size_t n = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = (size_t)CPU_COUNT(&set);
    if (n == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? (size_t)online : 1;
    }
    pool_width = NORM_HAVE_PTHREADPOOL ? (n < NORM_THREADS_MAX ? n : NORM_THREADS_MAX) : 1;
    /* If either registration fails, the pool is only not freed at exit (or not reset in a
     * child): nothing a caller could act on. */
    (void)atexit(pool_at_exit);
    (void)pthread_atfork(NULL, NULL, pool_after_fork);
}

size_t norm_auto_threads(void)
{
    pthread_once(&pool_once, pool_init);
    return pool_width;
}

norm_status norm_set_default_threads(size_t threads)
{
    if (threads == 0 || !norm_threads_valid(threads))
        return norm_fail(NORM_ERR_BAD_ARGUMENT, "norm_set_default_threads(%zu): it takes 1 to %zu or NORM_THREADS_AUTO",
                         threads, NORM_THREADS_MAX);
    atomic_store(&norm_default_threads_value, threads);
    return NORM_OK;
}

size_t norm_default_threads(void) { return atomic_load(&norm_default_threads_value); }

/* ---- running tasks --------------------------------------------------------------------- */

typedef void task_fn(const void *ctx, size_t i);

/* One batch of tasks on its way to a pool. */
typedef struct runner {
    task_fn *fn;
    const void *ctx;
    size_t count;
    _Atomic size_t next;  /* libnorm's pool: the next task a worker takes */
    /* libnorm's pool: workers that have started, and that are done (see pool_worker). */
    _Atomic size_t started, done;
    pthread_t caller;
    fenv_t env;           /* the caller's floating-point environment */
} runner;

/* Tasks i in [first, ...) on this thread, in the caller's floating-point environment. */
static bool on_caller(const runner *r) { return pthread_equal(pthread_self(), r->caller) != 0; }

/* The caller's pool: one task per call of task(arg, i). */
static void engine_task(void *arg, size_t i)
{
    runner *r = arg;
    if (i >= r->count)
        return;
    if (on_caller(r)) {
        r->fn(r->ctx, i);
        return;
    }
    fenv_t own;
    fegetenv(&own);
    fesetenv(&r->env);
    r->fn(r->ctx, i);
    fesetenv(&own);
}

/* libnorm's pool: each of its workers takes tasks until none is left, so the threads balance
 * themselves whatever the tasks cost. */
static void pool_worker(void *arg, size_t w)
{
    (void)w;
    runner *r = arg;
    /* pthreadpool orders the hand-over of the runner and the worker's writes before its return,
     * but inside a library a race detector does not see (it is not built with it): these two
     * atomics say the same in code it does see. The acquire pairs with the caller's release of
     * started before the call; the release of done with the caller's acquire after it. */
    (void)atomic_load_explicit(&r->started, memory_order_acquire);
    bool own_env = !on_caller(r);
    fenv_t own;
    if (own_env) {
        fegetenv(&own);
        fesetenv(&r->env);
    }
    for (size_t i; (i = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed)) < r->count;)
        r->fn(r->ctx, i);
    if (own_env)
        fesetenv(&own);
    atomic_fetch_add_explicit(&r->done, 1, memory_order_release);
}

/* Where a call's tasks go: width 1 is the calling thread; the caller's pool if it gave one;
 * else libnorm's pool with at most width threads. */
typedef struct exec {
    size_t width;
    norm_parallel_for_fn *parallel_for;
    void *context;
} exec;

static void run_serial(task_fn *fn, const void *ctx, size_t count)
{
    for (size_t i = 0; i < count; i++)
        fn(ctx, i);
}

static void run_tasks(const exec *e, task_fn *fn, const void *ctx, size_t count)
{
    if (e->width <= 1 || count <= 1) {
        run_serial(fn, ctx, count);
        return;
    }
    runner r = { .fn = fn, .ctx = ctx, .count = count, .caller = pthread_self() };
    atomic_init(&r.next, 0);
    atomic_init(&r.started, 0);
    atomic_init(&r.done, 0);
    fegetenv(&r.env);
    if (e->parallel_for) {
        e->parallel_for(e->context, engine_task, &r, count);
        return;
    }
    if (atomic_exchange_explicit(&pool_busy, true, memory_order_acquire)) {
        run_serial(fn, ctx, count);
        return;
    }
    if (!pool)
        pool = pthreadpool_create(pool_width);
    if (!pool) {
        atomic_store_explicit(&pool_busy, false, memory_order_release);
        run_serial(fn, ctx, count);
        return;
    }
#if NORM_HAVE_PTHREADPOOL
    size_t workers = e->width < count ? e->width : count;
    atomic_fetch_add_explicit(&norm_pool_calls, 1, memory_order_relaxed);
    /* YIELD_WORKERS: the workers sleep as soon as the call is done instead of spinning for
     * the next one, which would take cores from the engine's own threads between calls. */
    atomic_store_explicit(&r.started, 0, memory_order_release);
    pthreadpool_parallelize_1d(pool, pool_worker, &r, workers, PTHREADPOOL_FLAG_YIELD_WORKERS);
    (void)atomic_load_explicit(&r.done, memory_order_acquire);
#else
    (void)pool_worker;
    run_serial(fn, ctx, count);
#endif
    atomic_store_explicit(&pool_busy, false, memory_order_release);
}

/* ---- cutting a call -------------------------------------------------------------------- */

static const void *advance(const void *p, size_t elems, size_t elem_bytes)
{
    return p ? (const char *)p + elems * elem_bytes : NULL;
}

/* The job of rows [r, r + rows) of outer block o: every row buffer moved to it, every per-row
 * array to its flat index o * job.rows + r. */
static norm_job block_rows(const norm_call *c, size_t o, size_t r, size_t rows)
{
    norm_job j = c->job;
    const size_t xe = norm_dtype_size(j.x_type), ye = norm_dtype_size(j.y_type);
    const size_t f = o * c->job.rows + r;
    j.x = advance(j.x, o * c->x_os + r * j.x_stride, xe);
    j.y = (void *)advance(j.y, o * c->y_os + r * j.y_stride, ye);
    j.residual = advance(j.residual, o * c->r_os + r * j.residual_stride, xe);
    j.residual_out = (void *)advance(j.residual_out, o * c->h_os + r * j.residual_out_stride, xe);
    j.gate = advance(j.gate, o * c->z_os + r * j.gate_stride, xe);
    j.mean = j.mean ? j.mean + f : NULL;
    j.rstd = j.rstd ? j.rstd + f : NULL;
    j.y_scales = j.y_scales ? j.y_scales + f : NULL;
    j.moments = j.moments ? j.moments + f : NULL;
    j.moments_out = j.moments_out ? j.moments_out + f : NULL;
    j.rows = rows;
    return j;
}

/* Elements [s0, s0 + len) of a one-row job: its row buffers and its parameters. */
static void slice_job(norm_job *j, size_t s0, size_t len)
{
    const size_t xe = norm_dtype_size(j->x_type), ye = norm_dtype_size(j->y_type);
    const size_t pe = norm_dtype_size(j->param_type);
    j->x = advance(j->x, s0, xe);
    j->y = (void *)advance(j->y, s0, ye);
    j->residual = advance(j->residual, s0, xe);
    j->residual_out = (void *)advance(j->residual_out, s0, xe);
    j->gate = advance(j->gate, s0, xe);
    j->gamma = advance(j->gamma, s0, pe);
    j->beta = advance(j->beta, s0, pe);
    j->bias = advance(j->bias, s0, pe);
    j->n = len;
}

/* Whole rows: task t is flat rows [t * tile, (t + 1) * tile), one kernel call per block. */
typedef struct rows_ctx {
    const norm_call *c;
    norm_kernel_fn *kernel;
    size_t tile, flat;
} rows_ctx;

static void rows_task(const void *arg, size_t t)
{
    const rows_ctx *rc = arg;
    const size_t R = rc->c->job.rows;
    size_t f = t * rc->tile, end = rc->flat - f < rc->tile ? rc->flat : f + rc->tile;
    while (f < end) {
        size_t o = f / R, r = f % R, k = end - f < R - r ? end - f : R - r;
        norm_job j = block_rows(rc->c, o, r, k);
        rc->kernel(&j);
        f += k;
    }
}

/* Sliced rows. A round takes a group of rows: the moments of all their slices (phase 1, up to
 * PARTS slices at a time), combined per row in slice order, then all their slices normalised
 * (phase 2). Slices are numbered p = f * nsl + s over the flat rows f. */
#define PARTS 256
#define GROUP_ROWS (PARTS / (NORM_SLICE_MIN_N / NORM_SLICE_ELEMS)) /* nsl >= that ratio */

typedef struct slice_ctx {
    const norm_call *c;
    size_t nsl;          /* slices per row */
    size_t p0;           /* phase 1: the first slice of this batch */
    size_t f0;           /* phase 2: the group's first row */
    norm_moments *parts; /* phase 1: one per task */
    const norm_moments *acc; /* phase 2: the group's rows' moments */
} slice_ctx;

static norm_job slice_of(const slice_ctx *sc, size_t f, size_t s)
{
    const norm_call *c = sc->c;
    norm_job j = block_rows(c, f / c->job.rows, f % c->job.rows, 1);
    size_t s0 = s * NORM_SLICE_ELEMS;
    slice_job(&j, s0, c->job.n - s0 < NORM_SLICE_ELEMS ? c->job.n - s0 : NORM_SLICE_ELEMS);
    return j;
}

static void moments_task(const void *arg, size_t k)
{
    const slice_ctx *sc = arg;
    size_t p = sc->p0 + k;
    norm_job j = slice_of(sc, p / sc->nsl, p % sc->nsl);
    /* The moments of the slice's source: x, the residual add's h (written here), or x * silu(gate)
     * with the gate before the norm; a gate after the norm does not change the moments. */
    if (!j.gate_before)
        j.gate = NULL;
    j.y = NULL;
    j.mean = j.rstd = j.y_scales = NULL;
    j.moments = NULL;
    j.moments_out = &sc->parts[k];
    sc->c->moments(&j);
}

static void apply_task(const void *arg, size_t k)
{
    const slice_ctx *sc = arg;
    size_t f = sc->f0 + k / sc->nsl, s = k % sc->nsl;
    norm_job j = slice_of(sc, f, s);
    if (j.residual) {
        /* Phase 1 wrote h: normalise it as stored. */
        j.x = j.residual_out;
        j.residual = NULL;
        j.residual_out = NULL;
        j.bias = NULL;
    }
    j.moments = &sc->acc[f - sc->f0];
    if (s != 0)
        j.mean = j.rstd = NULL; /* the row's statistics, written once (by its first slice) */
    sc->c->apply(&j);
}

static void run_sliced(const norm_call *c, const exec *e)
{
    const size_t flat = c->outer * c->job.rows;
    const size_t nsl = (c->job.n + NORM_SLICE_ELEMS - 1) / NORM_SLICE_ELEMS;
    const size_t group = nsl <= PARTS ? PARTS / nsl : 1;
    norm_moments parts[PARTS], acc[GROUP_ROWS];
    slice_ctx sc = { .c = c, .nsl = nsl, .parts = parts, .acc = acc };
    for (size_t f0 = 0; f0 < flat; f0 += group) {
        const size_t rows = flat - f0 < group ? flat - f0 : group;
        memset(acc, 0, sizeof acc);
        /* Phase 1, in batches of at most PARTS slices, each folded into its row's moments in
         * slice order before the next batch. */
        for (size_t p = f0 * nsl, end = (f0 + rows) * nsl; p < end; p += PARTS) {
            const size_t count = end - p < PARTS ? end - p : PARTS;
            sc.p0 = p;
            run_tasks(e, moments_task, &sc, count);
            for (size_t k = 0; k < count; k++)
                norm_moments_merge(&acc[(p + k) / nsl - f0], parts[k]);
        }
        if (c->apply) {
            sc.f0 = f0;
            run_tasks(e, apply_task, &sc, rows * nsl);
        } else {
            for (size_t i = 0; i < rows; i++)
                c->job.moments_out[f0 + i] = acc[i];
        }
    }
}

void norm_call_run(const norm_call *c, const norm_threading *t)
{
    const size_t xe = norm_dtype_size(c->job.x_type);
    const size_t row_bytes = c->job.n * (xe + (c->apply ? norm_dtype_size(c->job.y_type) : 0));
    const size_t flat = c->outer * c->job.rows;

    exec e = { .width = 1, .parallel_for = t->parallel_for, .context = t->context };
    /* row_bytes * flat fits: the validator checked the extents of x and y. */
    if (row_bytes * flat >= NORM_PARALLEL_MIN_BYTES) {
        if (t->parallel_for) {
            e.width = (size_t)-1;
        } else {
            size_t threads = t->threads ? t->threads : atomic_load(&norm_default_threads_value);
            size_t width = norm_auto_threads();
            e.width = threads < width ? threads : width;
        }
    }

    bool dynamic_scale = c->apply && c->job.y_type == NORM_I8 && c->job.y_scales;
    if (norm_call_sliced(c->job.n, c->job.moments != NULL, dynamic_scale)) {
        run_sliced(c, &e);
        return;
    }
    rows_ctx rc = { .c = c, .kernel = c->apply ? c->apply : c->moments, .flat = flat, .tile = flat };
    if (e.width > 1) {
        rc.tile = NORM_TILE_BYTES / row_bytes;
        if (rc.tile == 0)
            rc.tile = 1;
    }
    run_tasks(&e, rows_task, &rc, (flat + rc.tile - 1) / rc.tile);
}

void norm_moments_merge(norm_moments *acc, norm_moments b)
{
    norm_moments a = *acc;
    if (b.count == 0.0)
        return;
    if (a.count == 0.0) {
        *acc = b;
        return;
    }
    /* Chan, Golub and LeVeque: exact in exact arithmetic, and stable in floating point
     * because the correction is a square of the difference of two means. */
    double count = a.count + b.count, delta = b.mean - a.mean;
    acc->count = count;
    acc->mean = a.mean + delta * (b.count / count);
    acc->m2 = a.m2 + b.m2 + delta * delta * (a.count * (b.count / count));
}
