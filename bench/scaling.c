/* SPDX-License-Identifier: MIT */
/*
 * norm-bench --scaling: how a call scales with threads. For each shape, row type and norm, and
 * each thread count T from 1 to the maximum (--threads, default norm_auto_threads()), in
 * interleaved rounds:
 *   lib T     norm_run with threads = T (libnorm's pool), on the active tier
 *   copy T    the streaming floor: x copied to y (memcpy of the same bytes as x and y), cut
 *             into T pieces on a pool of T threads (pthreadpool, as libnorm's)
 *   cache T   the cache-resident floor (reference.c: a read pass over x, then y = x*gamma, or
 *             y = x as bits for bf16), whole rows (or, for fewer rows than threads, pieces of
 *             a row) cut into T pieces the same way
 * and prints the median time per call, lib T's speedup over lib 1, and lib T against each
 * floor at the same T. 1x4096 is also timed with the process default set to
 * NORM_THREADS_AUTO, against threads = 1: a call that small must not wake a thread.
 */
#include <pthreadpool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "norm.h"
#include "reference.h"
#include "scaling.h"

#define MAX_T 64

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct job {
    size_t rows, n, es; /* es: bytes per element of x and y */
    void *x, *y;
    float *gamma;
    size_t pieces;
} job;

/* Piece i of T: a range of rows, or of one row's elements when there are fewer rows than pieces. */
static void piece(const job *j, size_t i, size_t *r0, size_t *nr, size_t *c0, size_t *nc)
{
    if (j->rows >= j->pieces) {
        *r0 = j->rows * i / j->pieces, *nr = j->rows * (i + 1) / j->pieces - *r0, *c0 = 0, *nc = j->n;
    } else {
        *r0 = 0, *nr = j->rows, *c0 = (j->n * i / j->pieces) & ~(size_t)15;
        size_t end = i + 1 == j->pieces ? j->n : (j->n * (i + 1) / j->pieces) & ~(size_t)15;
        *nc = end - *c0;
    }
}

static void copy_piece(void *arg, size_t i)
{
    const job *j = arg;
    size_t r0, nr, c0, nc;
    piece(j, i, &r0, &nr, &c0, &nc);
    for (size_t r = r0; r < r0 + nr; r++)
        if (nc == j->n) {
            ref_floor_memcpy((char *)j->y + r * j->n * j->es, (char *)j->x + r * j->n * j->es, nr * j->n * j->es);
            break;
        } else {
            ref_floor_memcpy((char *)j->y + (r * j->n + c0) * j->es, (char *)j->x + (r * j->n + c0) * j->es, nc * j->es);
        }
}

static void cache_piece(void *arg, size_t i)
{
    const job *j = arg;
    size_t r0, nr, c0, nc;
    piece(j, i, &r0, &nr, &c0, &nc);
    for (size_t r = r0; r < r0 + nr; r += nc == j->n ? nr : 1) {
        size_t rows = nc == j->n ? nr : 1;
        void *y = (char *)j->y + (r * j->n + c0) * j->es;
        const void *x = (const char *)j->x + (r * j->n + c0) * j->es;
        if (j->es == 4)
            ref_floor_read_scale(y, x, j->gamma + c0, NULL, rows, nc);
        else
            ref_floor_read_move(y, 2, x, 2, rows, nc);
    }
}

enum { C_LIB, C_COPY, C_CACHE, NC };

typedef struct cand {
    int kind;
    size_t t;
    double samples[64];
} cand;

/* One sample: as many calls as fill min_s, time per call. */
static double sample(int kind, size_t t, const norm_params *p, job *j, pthreadpool_t *pools, double min_s)
{
    size_t reps = 0;
    double t0 = now(), el;
    do {
        if (kind == C_LIB) {
            norm_params q = *p;
            q.threads = t;
            if (norm_run(&q) != NORM_OK) {
                fprintf(stderr, "norm-bench: norm_run failed\n");
                exit(1);
            }
        } else {
            j->pieces = t;
            if (t == 1)
                (kind == C_COPY ? copy_piece : cache_piece)(j, 0);
            else
                pthreadpool_parallelize_1d(pools[t], kind == C_COPY ? copy_piece : cache_piece, j, t,
                                           PTHREADPOOL_FLAG_YIELD_WORKERS);
        }
        reps++;
        el = now() - t0;
    } while (el < min_s);
    return el / (double)reps;
}

int scaling_run(const char *shapes, size_t max_threads, int rounds, double min_ms)
{
    if (max_threads == 0)
        max_threads = norm_auto_threads();
    if (max_threads >= MAX_T)
        max_threads = MAX_T - 1;
    if (rounds > 64)
        rounds = 64;
    pthreadpool_t pools[MAX_T] = { 0 };
    for (size_t t = 2; t <= max_threads; t++)
        pools[t] = pthreadpool_create(t);
    printf("\nScaling with threads (--scaling): tier %s, threads 1..%zu (norm_auto_threads() = %zu), median of %d "
           "rounds,\ninterleaved. lib: norm_run with threads = T; copy: memcpy of x to y on T threads; cache: the "
           "read + x*gamma floor on T threads.\n\n",
           norm_active_isa_name(), max_threads, norm_auto_threads(), rounds);
    printf("%-12s %-5s %-9s %3s %12s %8s %9s %9s\n", "shape", "type", "op", "T", "lib us/call", "speedup",
           "lib/copy", "lib/cache");

    char *list = strdup(shapes);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        size_t rows, n;
        if (sscanf(tok, "%zux%zu", &rows, &n) != 2 || rows == 0 || n == 0) {
            fprintf(stderr, "norm-bench: bad shape %s\n", tok);
            return 2;
        }
        for (int ti = 0; ti < 2; ti++) {
            norm_dtype type = ti ? NORM_BF16 : NORM_F32;
            size_t es = ti ? 2 : 4;
            void *x = aligned_alloc(64, (rows * n * es + 63) & ~(size_t)63);
            void *y = aligned_alloc(64, (rows * n * es + 63) & ~(size_t)63);
            void *g = aligned_alloc(64, (n * 4 + 63) & ~(size_t)63);
            if (!x || !y || !g)
                return 2;
            uint64_t s = 88172645463325252ull;
            for (size_t i = 0; i < rows * n; i++) {
                s ^= s << 13, s ^= s >> 7, s ^= s << 17;
                float v = (float)((double)(s >> 40) / (double)(1ull << 24) * 4.0 - 2.0);
                if (ti) {
                    uint32_t u;
                    memcpy(&u, &v, 4);
                    ((uint16_t *)x)[i] = (uint16_t)(u >> 16);
                } else {
                    ((float *)x)[i] = v;
                }
            }
            for (size_t i = 0; i < n; i++)
                ((float *)g)[i] = 1.0f + 0.001f * (float)(i % 7);
            job j = { rows, n, es, x, y, g, 1 };
            for (int op = 0; op < 2; op++) {
                norm_params p = norm_params_default(op ? NORM_LAYERNORM : NORM_RMSNORM);
                p.rows = rows, p.n = n, p.x = x, p.y = y, p.gamma = g;
                p.x_type = p.y_type = type, p.param_type = NORM_F32;
                cand c[3 * MAX_T + 1];
                size_t nc = 0;
                for (size_t t = 1; t <= max_threads; t++)
                    for (int k = 0; k < NC; k++)
                        c[nc++] = (cand){ .kind = k, .t = t };
                double min_s = min_ms * 1e-3;
                for (int r = 0; r < rounds; r++)
                    for (size_t i = 0; i < nc; i++)
                        c[i].samples[r] = sample(c[i].kind, c[i].t, &p, &j, pools, min_s);
                double med[3][MAX_T];
                for (size_t i = 0; i < nc; i++) {
                    qsort(c[i].samples, (size_t)rounds, sizeof(double), cmp_double);
                    med[c[i].kind][c[i].t] = c[i].samples[rounds / 2];
                }
                for (size_t t = 1; t <= max_threads; t++)
                    printf("%-12s %-5s %-9s %3zu %12.2f %7.2fx %8.2fx %8.2fx\n", tok, ti ? "bf16" : "f32",
                           op ? "layernorm" : "rmsnorm", t, med[C_LIB][t] * 1e6, med[C_LIB][1] / med[C_LIB][t],
                           med[C_LIB][t] / med[C_COPY][t], med[C_LIB][t] / med[C_CACHE][t]);
                fflush(stdout);
            }
            free(x), free(y), free(g);
        }
    }
    free(list);

    /* The default setting on the call an engine waits on per token: the process default at
     * NORM_THREADS_AUTO against threads = 1, alternating, 1x4096 f32 RMSNorm. */
    {
        size_t n = 4096;
        float *x = aligned_alloc(64, n * 4), *y = aligned_alloc(64, n * 4), *g = aligned_alloc(64, n * 4);
        for (size_t i = 0; i < n; i++)
            x[i] = (float)(i % 13) - 6.0f, g[i] = 1.0f;
        norm_params p = norm_params_default(NORM_RMSNORM);
        p.rows = 1, p.n = n, p.x = x, p.y = y, p.gamma = g;
        double a[64], b[64];
        for (int r = 0; r < rounds; r++) {
            norm_set_default_threads(1);
            a[r] = sample(C_LIB, 0, &p, NULL, pools, min_ms * 1e-3);
            norm_set_default_threads(NORM_THREADS_AUTO);
            b[r] = sample(C_LIB, 0, &p, NULL, pools, min_ms * 1e-3);
        }
        norm_set_default_threads(1);
        qsort(a, (size_t)rounds, sizeof(double), cmp_double);
        qsort(b, (size_t)rounds, sizeof(double), cmp_double);
        printf("\n1x4096 rmsnorm f32: %.1f ns/call with the default of 1 thread, %.1f ns with NORM_THREADS_AUTO "
               "(%.3fx)\n",
               a[rounds / 2] * 1e9, b[rounds / 2] * 1e9, b[rounds / 2] / a[rounds / 2]);
        free(x), free(y), free(g);
    }
    for (size_t t = 2; t <= max_threads; t++)
        if (pools[t])
            pthreadpool_destroy(pools[t]);
    return 0;
}
