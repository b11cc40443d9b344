/* SPDX-License-Identifier: MIT */
/* The thread tests' calls and the scrambled pool (see threads_cases.h). */
#include "threads_cases.h"

#include <fenv.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#  include <xmmintrin.h>
#endif

#include "common.h"

/* ---- the cases ------------------------------------------------------------------------ */

enum { R_NONE, R_OUT, R_IN_PLACE, R_BIAS };      /* residual add: none, h elsewhere, h over the residual, with bias */
enum { G_NONE, G_AFTER, G_BEFORE };              /* gate */
enum { Q_NONE, Q_STATIC, Q_DYNAMIC };            /* int8 output */
enum { L_DENSE, L_STRIDED, L_QKV };              /* layout: dense, every stride padded, x inside a fused QKV buffer */

typedef struct spec {
    const char *label;
    norm_kind kind;
    norm_dtype x, y, pt;
    size_t outer, rows, n;
    unsigned flags;
    int residual, gate, int8, layout;
    bool stats, beta, given, mrun, in_place;
} spec;

#define RMS NORM_RMSNORM
#define LN NORM_LAYERNORM
#define F32 NORM_F32
#define F16 NORM_F16
#define BF16 NORM_BF16
#define I8 NORM_I8

/* Whole rows (n < NORM_SLICE_MIN_N, 65536) in tiles, and long rows cut into slices (n from
 * 70001: four whole slices of 16384 and a short one). */
static const spec specs[] = {
    /* label                  kind x     y     pt    outer rows  n       flags                  residual    gate      int8       layout     stats  beta  given  mrun   in place */
    { "plain",                RMS, F32,  F32,  F32,  1,    300,  1000,   0,                     R_NONE,     G_NONE,   Q_NONE,    L_DENSE,   true,  false, false, false, false },
    { "plain beta eps-out",   LN,  F32,  F32,  F32,  1,    257,  1003,   NORM_EPS_OUTSIDE_SQRT, R_NONE,     G_NONE,   Q_NONE,    L_STRIDED, true,  true,  false, false, false },
    { "half",                 LN,  F16,  F16,  F16,  1,    400,  777,    0,                     R_NONE,     G_NONE,   Q_NONE,    L_DENSE,   true,  true,  false, false, false },
    { "mixed",                RMS, BF16, F32,  F32,  1,    300,  1024,   NORM_UNIT_OFFSET,      R_NONE,     G_NONE,   Q_NONE,    L_STRIDED, true,  false, false, false, false },
    { "mixed",                LN,  F32,  BF16, F32,  1,    300,  1024,   0,                     R_NONE,     G_NONE,   Q_NONE,    L_DENSE,   false, true,  false, false, false },
    { "in place",             LN,  BF16, BF16, BF16, 1,    500,  640,    0,                     R_NONE,     G_NONE,   Q_NONE,    L_DENSE,   true,  true,  false, false, true  },
    { "residual",             RMS, BF16, BF16, BF16, 1,    300,  1000,   0,                     R_OUT,      G_NONE,   Q_NONE,    L_STRIDED, true,  false, false, false, false },
    { "residual bias",        LN,  F32,  F32,  F32,  1,    300,  1000,   NORM_UNIT_OFFSET,      R_BIAS,     G_NONE,   Q_NONE,    L_DENSE,   true,  true,  false, false, false },
    { "residual in place",    RMS, F16,  F16,  F32,  1,    300,  1100,   0,                     R_IN_PLACE, G_NONE,   Q_NONE,    L_DENSE,   false, false, false, false, false },
    { "gated after",          RMS, F32,  F32,  F32,  1,    300,  1000,   0,                     R_NONE,     G_AFTER,  Q_NONE,    L_STRIDED, true,  false, false, false, false },
    { "gated before",         RMS, BF16, BF16, F32,  1,    300,  1000,   NORM_GATE_BEFORE_NORM, R_NONE,     G_BEFORE, Q_NONE,    L_DENSE,   true,  false, false, false, false },
    { "int8 static",          LN,  F32,  I8,   F32,  1,    400,  1000,   0,                     R_NONE,     G_NONE,   Q_STATIC,  L_STRIDED, true,  true,  false, false, false },
    { "int8 dynamic",         RMS, BF16, I8,   BF16, 1,    400,  1000,   0,                     R_OUT,      G_NONE,   Q_DYNAMIC, L_DENSE,   true,  false, false, false, false },
    { "int8 dynamic gated",   RMS, F32,  I8,   F32,  1,    400,  1000,   0,                     R_NONE,     G_AFTER,  Q_DYNAMIC, L_DENSE,   false, false, false, false, false },
    { "given moments",        LN,  F32,  F16,  F32,  1,    300,  1000,   0,                     R_NONE,     G_NONE,   Q_NONE,    L_STRIDED, true,  true,  true,  false, false },
    { "moments run",          LN,  F16,  F32,  F16,  1,    300,  1000,   0,                     R_BIAS,     G_NONE,   Q_NONE,    L_DENSE,   false, false, false, true,  false },
    { "moments run gated",    RMS, F32,  F32,  F32,  1,    300,  1000,   NORM_GATE_BEFORE_NORM, R_NONE,     G_BEFORE, Q_NONE,    L_STRIDED, false, false, false, true,  false },
    { "two-level qkv",        RMS, F32,  F32,  F32,  40,   8,    128,    0,                     R_NONE,     G_NONE,   Q_NONE,    L_QKV,     true,  false, false, false, false },
    { "two-level strided",    LN,  BF16, BF16, F32,  40,   7,    300,    0,                     R_OUT,      G_NONE,   Q_NONE,    L_STRIDED, true,  true,  false, false, false },
    { "two-level int8",       RMS, F16,  I8,   F32,  50,   6,    400,    0,                     R_NONE,     G_AFTER,  Q_DYNAMIC, L_STRIDED, false, false, false, false, false },
    { "two-level moments",    LN,  F32,  F32,  F32,  20,   9,    500,    0,                     R_NONE,     G_NONE,   Q_NONE,    L_QKV,     false, false, false, true,  false },
    { "two-level in place",   RMS, BF16, BF16, BF16, 80,   4,    256,    0,                     R_NONE,     G_NONE,   Q_NONE,    L_DENSE,   true,  false, false, false, true  },
    { "long",                 RMS, F32,  F32,  F32,  1,    3,    70001,  0,                     R_NONE,     G_NONE,   Q_NONE,    L_DENSE,   true,  false, false, false, false },
    { "long",                 LN,  BF16, BF16, BF16, 1,    2,    140000, 0,                     R_NONE,     G_NONE,   Q_NONE,    L_STRIDED, true,  true,  false, false, false },
    { "long in place",        LN,  F32,  F32,  F32,  1,    2,    100000, NORM_EPS_OUTSIDE_SQRT, R_NONE,     G_NONE,   Q_NONE,    L_DENSE,   true,  true,  false, false, true  },
    { "long residual",        LN,  F16,  F16,  F32,  1,    2,    90000,  0,                     R_BIAS,     G_NONE,   Q_NONE,    L_DENSE,   true,  false, false, false, false },
    { "long residual in pl.", RMS, F32,  BF16, F32,  1,    2,    80000,  NORM_UNIT_OFFSET,      R_IN_PLACE, G_NONE,   Q_NONE,    L_STRIDED, true,  false, false, false, false },
    { "long gated after",     RMS, BF16, F32,  BF16, 1,    2,    70001,  0,                     R_NONE,     G_AFTER,  Q_NONE,    L_DENSE,   true,  false, false, false, false },
    { "long gated before",    RMS, F32,  F32,  F32,  1,    2,    70001,  NORM_GATE_BEFORE_NORM, R_NONE,     G_BEFORE, Q_NONE,    L_STRIDED, true,  true,  false, false, false },
    { "long int8 static",     LN,  F32,  I8,   F32,  1,    3,    70001,  0,                     R_NONE,     G_NONE,   Q_STATIC,  L_DENSE,   true,  true,  false, false, false },
    { "long int8 dynamic",    RMS, F32,  I8,   F32,  1,    3,    70001,  0,                     R_NONE,     G_NONE,   Q_DYNAMIC, L_DENSE,   true,  false, false, false, false },
    { "long given moments",   RMS, F32,  F32,  F32,  1,    2,    70001,  0,                     R_NONE,     G_NONE,   Q_NONE,    L_DENSE,   true,  false, true,  false, false },
    { "long moments run",     LN,  BF16, F32,  BF16, 1,    3,    100000, 0,                     R_OUT,      G_NONE,   Q_NONE,    L_DENSE,   false, false, false, true,  false },
    { "long two-level",       LN,  F32,  F32,  F32,  3,    2,    70001,  0,                     R_NONE,     G_NONE,   Q_NONE,    L_STRIDED, true,  true,  false, false, false },
};

int tc_count(void) { return (int)(sizeof specs / sizeof *specs); }

static const char *tn(norm_dtype t) { return t == F32 ? "f32" : t == F16 ? "f16" : t == BF16 ? "bf16" : "i8"; }

static size_t esz(norm_dtype t) { return t == F32 ? 4 : t == I8 ? 1 : 2; }

static void *xalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "threads: out of memory (%zu bytes)\n", bytes);
        abort();
    }
    return p;
}

/* An input buffer of count elements of type t, values v(i) drawn from r. */
static void *add_input(tcase *c, size_t count, norm_dtype t, rng *r, double center, double spread)
{
    size_t bytes = count * esz(t);
    void *p = xalloc(bytes);
    for (size_t i = 0; i < count; i++)
        type_store(p, i, (float)(center + spread * rng_normal(r)), t);
    tc_buf *b = &c->buf[c->nbuf++];
    b->p = p;
    b->bytes = bytes;
    b->pristine = xalloc(bytes);
    memcpy(b->pristine, p, bytes);
    return p;
}

static void *add_output(tcase *c, size_t bytes)
{
    tc_buf *b = &c->buf[c->nbuf++];
    b->p = xalloc(bytes);
    b->bytes = bytes;
    b->pristine = NULL;
    return b->p;
}

/* Elements a buffer of outer blocks of rows spans. */
static size_t span_elems(size_t outer, size_t os, size_t rows, size_t stride, size_t n)
{
    return (outer - 1) * os + (rows - 1) * stride + n;
}

void tc_build(tcase *c, int i)
{
    const spec *s = &specs[i];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s %s %s/%s/%s %zux%zux%zu", s->label, s->kind == LN ? "layernorm" : "rmsnorm",
             tn(s->x), tn(s->y), tn(s->pt), s->outer, s->rows, s->n);
    rng r = rng_for(0x7468726561647321ull, c->name);
    norm_params p = norm_params_default(s->kind);
    const size_t outer = s->outer, rows = s->rows, n = s->n, flat = outer * rows;
    p.rows = rows;
    p.n = n;
    p.outer = outer > 1 ? outer : 0;
    p.flags = s->flags;
    p.x_type = s->x;
    p.y_type = s->y;
    p.param_type = s->pt;
    p.eps = 1e-5f;
    c->sliced = n >= 65536;

    /* Strides: padded ones differ per buffer, and outer blocks get a gap of their own. */
    const bool strided = s->layout == L_STRIDED;
    size_t xs = strided ? n + 3 : n, ys = strided ? n + 5 : n, rs = strided ? n + 1 : n, hs = strided ? n + 2 : n,
           zs = strided ? n + 4 : n;
    if (s->in_place)
        ys = xs;
    size_t gap = strided ? 7 : 0;
    size_t xos = rows * xs + gap, yos = rows * ys + gap, ros = rows * rs + gap, hos = rows * hs + gap + 1,
           zos = rows * zs + gap + 2;
    if (s->layout == L_QKV)
        xos = 3 * rows * n; /* x is the q part of [outer][q, k, v][rows][n] */
    if (s->in_place)
        yos = xos;
    if (s->residual == R_IN_PLACE)
        hos = ros, hs = rs;
    p.x_stride = xs, p.y_stride = ys, p.residual_stride = rs, p.residual_out_stride = hs, p.gate_stride = zs;
    if (outer > 1 && (strided || s->layout == L_QKV)) {
        p.x_outer_stride = xos, p.y_outer_stride = yos, p.residual_outer_stride = ros;
        p.residual_out_outer_stride = hos, p.gate_outer_stride = zos;
    } else if (outer > 1) {
        xos = rows * xs, yos = rows * ys, ros = rows * rs, hos = rows * hs, zos = rows * zs; /* 0: dense */
    }

    /* x: rows of varied means and scales, some with a mean far above their spread. */
    size_t xn = span_elems(outer, xos, rows, xs, n);
    if (s->layout == L_QKV)
        xn = outer * xos; /* the whole QKV buffer: the tests put y in its k part */
    p.x = add_input(c, xn, s->x, &r, 0.0, 1.0);
    for (size_t f = 0; f < flat; f++) {
        double mean = f % 3 == 0 ? 0.0 : f % 3 == 1 ? 3.0 : 40.0, scale = 0.5 + (double)(f % 5);
        size_t base = (f / rows) * xos + (f % rows) * xs;
        for (size_t k = 0; k < n; k++)
            type_store((void *)p.x, base + k, (float)(mean + scale * type_load(p.x, base + k, s->x)), s->x);
    }
    memcpy(c->buf[0].pristine, p.x, xn * esz(s->x));

    p.gamma = add_input(c, n, s->pt, &r, s->flags & NORM_UNIT_OFFSET ? 0.0 : 1.0, 0.3);
    if (s->beta)
        p.beta = add_input(c, n, s->pt, &r, 0.0, 0.5);
    if (s->residual != R_NONE) {
        p.residual = add_input(c, span_elems(outer, ros, rows, rs, n), s->x, &r, 0.5, 2.0);
        if (s->residual == R_IN_PLACE)
            p.residual_out = (void *)p.residual;
        else
            p.residual_out = add_output(c, span_elems(outer, hos, rows, hs, n) * esz(s->x));
        if (s->residual == R_BIAS)
            p.bias = add_input(c, n, s->pt, &r, 0.0, 0.2);
    }
    if (s->gate != G_NONE)
        p.gate = add_input(c, span_elems(outer, zos, rows, zs, n), s->x, &r, 0.0, 2.0);
    if (s->given) {
        /* The rows' own moments, made by one call on one thread. */
        norm_moments *m = xalloc(flat * sizeof *m);
        norm_params q = p;
        q.gamma = q.beta = NULL;
        q.flags &= NORM_GATE_BEFORE_NORM;
        if (norm_moments_run(&q, m) != NORM_OK) {
            fprintf(stderr, "threads: %s: norm_moments_run failed\n", c->name);
            abort();
        }
        tc_buf *b = &c->buf[c->nbuf++];
        b->p = m;
        b->bytes = flat * sizeof *m;
        b->pristine = xalloc(b->bytes);
        memcpy(b->pristine, m, b->bytes);
        p.moments = m;
    }

    if (s->mrun) {
        c->moments_run = true;
        p.gamma = p.beta = NULL;
        p.flags &= NORM_GATE_BEFORE_NORM;
        c->mom_out = add_output(c, flat * sizeof(norm_moments));
    } else {
        if (s->in_place)
            p.y = (void *)p.x;
        else
            p.y = add_output(c, span_elems(outer, yos, rows, ys, n) * esz(s->y));
        if (s->stats) {
            p.rstd = add_output(c, flat * sizeof(float));
            if (s->kind == LN)
                p.mean = add_output(c, flat * sizeof(float));
        }
        if (s->int8 == Q_STATIC)
            p.y_scale = 0.03f;
        if (s->int8 == Q_DYNAMIC)
            p.y_scales = add_output(c, flat * sizeof(float));
    }
    c->p = p;
}

void tc_free(tcase *c)
{
    for (int i = 0; i < c->nbuf; i++) {
        free(c->buf[i].p);
        free(c->buf[i].pristine);
    }
    c->nbuf = 0;
}

norm_status tc_run(tcase *c, size_t threads, norm_parallel_for_fn *pf, void *ctx)
{
    for (int i = 0; i < c->nbuf; i++)
        if (c->buf[i].pristine)
            memcpy(c->buf[i].p, c->buf[i].pristine, c->buf[i].bytes);
        else
            memset(c->buf[i].p, 0xA5, c->buf[i].bytes);
    norm_params p = c->p;
    p.threads = threads;
    p.parallel_for = pf;
    p.parallel_context = ctx;
    return c->moments_run ? norm_moments_run(&p, c->mom_out) : norm_run(&p);
}

/* Every buffer, inputs too: in-place outputs live in input buffers, and an input that must not
 * change is held to that as well. */
size_t tc_snapshot_bytes(const tcase *c)
{
    size_t bytes = 0;
    for (int i = 0; i < c->nbuf; i++)
        bytes += c->buf[i].bytes;
    return bytes;
}

void tc_snapshot(const tcase *c, unsigned char *out)
{
    for (int i = 0; i < c->nbuf; i++) {
        memcpy(out, c->buf[i].p, c->buf[i].bytes);
        out += c->buf[i].bytes;
    }
}

long tc_diff(const unsigned char *a, const unsigned char *b, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++)
        if (a[i] != b[i])
            return (long)i;
    return -1;
}

/* ---- the scrambled pool --------------------------------------------------------------- */

struct scrambled_pool {
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    pthread_t *threads;
    int workers;
    bool stop;
    unsigned long generation; /* one per call, so a worker joins each call once */
    /* the call in flight */
    norm_task_fn *task;
    void *arg;
    size_t count, next, finished;
    size_t *order;
    rng r;
    unsigned long tasks;
};

/* Runs the call's tasks, in the shuffled order, until none is left. Called with the lock held. */
static void drain(scrambled_pool *sp)
{
    while (sp->next < sp->count) {
        size_t i = sp->order[sp->next++];
        pthread_mutex_unlock(&sp->lock);
        sp->task(sp->arg, i);
        pthread_mutex_lock(&sp->lock);
        sp->finished++;
        sp->tasks++;
    }
    if (sp->finished == sp->count)
        pthread_cond_broadcast(&sp->done);
}

static void *worker_main(void *arg)
{
    scrambled_pool *sp = arg;
    /* Unlike any caller's environment: a task that ran in it would round differently. */
    fesetround(FE_TOWARDZERO);
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(_mm_getcsr() | 0x8040); /* FTZ and DAZ */
#endif
    pthread_mutex_lock(&sp->lock);
    unsigned long seen = sp->generation;
    for (;;) {
        while (!sp->stop && sp->generation == seen)
            pthread_cond_wait(&sp->work, &sp->lock);
        if (sp->stop)
            break;
        seen = sp->generation;
        drain(sp);
    }
    pthread_mutex_unlock(&sp->lock);
    return NULL;
}

scrambled_pool *scrambled_pool_create(int workers, unsigned long seed)
{
    scrambled_pool *sp = calloc(1, sizeof *sp);
    if (!sp)
        abort();
    pthread_mutex_init(&sp->lock, NULL);
    pthread_cond_init(&sp->work, NULL);
    pthread_cond_init(&sp->done, NULL);
    char name[32];
    snprintf(name, sizeof name, "scrambled %lu", seed);
    sp->r = rng_for(seed, name);
    sp->workers = workers;
    sp->threads = xalloc((size_t)workers * sizeof *sp->threads);
    for (int i = 0; i < workers; i++)
        if (pthread_create(&sp->threads[i], NULL, worker_main, sp) != 0)
            abort();
    return sp;
}

void scrambled_pool_destroy(scrambled_pool *sp)
{
    pthread_mutex_lock(&sp->lock);
    sp->stop = true;
    pthread_cond_broadcast(&sp->work);
    pthread_mutex_unlock(&sp->lock);
    for (int i = 0; i < sp->workers; i++)
        pthread_join(sp->threads[i], NULL);
    pthread_mutex_destroy(&sp->lock);
    pthread_cond_destroy(&sp->work);
    pthread_cond_destroy(&sp->done);
    free(sp->threads);
    free(sp);
}

void scrambled_parallel_for(void *context, norm_task_fn *task, void *arg, size_t count)
{
    scrambled_pool *sp = context;
    size_t *order = xalloc(count * sizeof *order);
    pthread_mutex_lock(&sp->lock);
    /* Fisher-Yates with the pool's stream: a new order every call. */
    for (size_t i = 0; i < count; i++)
        order[i] = i;
    for (size_t i = count; i > 1; i--) {
        size_t j = (size_t)(rng_u64(&sp->r) % i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    sp->task = task;
    sp->arg = arg;
    sp->count = count;
    sp->next = sp->finished = 0;
    sp->order = order;
    sp->generation++;
    pthread_cond_broadcast(&sp->work);
    drain(sp);
    while (sp->finished < sp->count)
        pthread_cond_wait(&sp->done, &sp->lock);
    sp->count = sp->next = 0; /* late workers find nothing to do */
    pthread_mutex_unlock(&sp->lock);
    free(order);
}

unsigned long scrambled_pool_tasks(scrambled_pool *sp)
{
    pthread_mutex_lock(&sp->lock);
    unsigned long t = sp->tasks;
    pthread_mutex_unlock(&sp->lock);
    return t;
}
