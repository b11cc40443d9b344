/* SPDX-License-Identifier: MIT */
/*
 * tsan-dispatch: threads switching the tier (norm_set_max_isa) while other threads call every
 * public entry point, on the real SIMD tiers. Built in every build as an ordinary test; under
 * ThreadSanitizer (scripts/sanitizers.sh) it is the race test of the dispatcher.
 *
 * The header promises that every function is thread-safe and that a call in flight finishes on
 * the tier it began with. So, first, single-threaded, every operation below is run on every
 * tier this CPU has, and its output bytes recorded; then SWITCHERS threads set random tiers
 * (and read them back) while WORKERS threads run the operations over and over, and every
 * output must be bit for bit the output of one of the tiers: a call that mixed two tiers' kernels,
 * or that read a torn table, gives something else (or a race report under TSan). The tiers
 * are the public enum's, asked of the library (norm_isa_available), so nothing here knows
 * what this CPU has; with a single tier the test still runs (the switchers then set scalar
 * over and over) but says so.
 *
 * TSAN_DISPATCH_ITERS (default 2000) sets the calls per worker.
 */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "norm.h"

enum { ROWS = 3, N = 67, WORKERS = 4, SWITCHERS = 2, OUT_BYTES = 4096 };

/* Inputs, shared read-only by every thread. */
static float xf[ROWS * N], rf[ROWS * N], zf[ROWS * N], gf[N], bf[N];
static uint16_t xh[ROWS * N], xb[ROWS * N], rb[ROWS * N], gh[N], gb[N];
/* Moments of r and z, computed once (on the first tier): each operation is one library call, so
 * that its output is one tier's (two calls could straddle a switch). */
static norm_moments mom_r[ROWS], mom_z[ROWS];

/* bf16 by truncation is enough for inputs: any bit pattern that is a finite value will do. */
static uint16_t to_bf16(float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    return (uint16_t)(u >> 16);
}

/* f16 of small values, by hand: sign, exponent, 10 bits (truncated). */
static uint16_t to_f16(float v)
{
    uint16_t s = v < 0 ? 0x8000u : 0;
    float a = fabsf(v);
    if (a < 0x1p-14f)
        return s;
    int e;
    float m = frexpf(a, &e); /* a = m * 2^e, m in [0.5, 1) */
    return (uint16_t)(s | (unsigned)(e - 1 + 15) << 10 | ((unsigned)(m * 2048.0f) & 0x3ffu));
}

static void make_inputs(void)
{
    uint32_t seed = 12345;
    for (int i = 0; i < ROWS * N; i++) {
        seed = seed * 1664525u + 1013904223u;
        xf[i] = (float)((int)(seed >> 9) % 2001 - 1000) / 250.0f + 0.3f;
        seed = seed * 1664525u + 1013904223u;
        rf[i] = (float)((int)(seed >> 9) % 2001 - 1000) / 500.0f;
        seed = seed * 1664525u + 1013904223u;
        zf[i] = (float)((int)(seed >> 9) % 2001 - 1000) / 100.0f;
        xh[i] = to_f16(xf[i]);
        xb[i] = to_bf16(xf[i]);
        rb[i] = to_bf16(rf[i]);
    }
    for (int i = 0; i < N; i++) {
        gf[i] = 1.0f + (float)(i % 7) / 8.0f;
        bf[i] = (float)(i % 5) / 4.0f - 0.5f;
        gh[i] = to_f16(gf[i]);
        gb[i] = to_bf16(gf[i]);
    }
}

/* ---- the operations: one of each public entry point, each writing into out ---------------- */

enum { OPS = 15 };
static const char *const op_names[OPS] = {
    "rmsnorm_f32", "layernorm_f32", "rmsnorm_f16", "layernorm_f16", "rmsnorm_bf16", "layernorm_bf16",
    "run layernorm f32->bf16 +stats", "run fused residual bf16", "run gated f16->f32", "run int8 dynamic",
    "moments_run layernorm", "run with given moments", "moments_combine", "params_init + run",
    "queries (names, status strings, version)",
};

/* Runs op into out (OUT_BYTES, zeroed first) and returns its status. */
static norm_status run_op(int op, unsigned char *out)
{
    memset(out, 0, OUT_BYTES);
    float *yf = (float *)(void *)out;
    uint16_t *yh = (uint16_t *)(void *)out;
    norm_params p = norm_params_default(NORM_RMSNORM);
    p.rows = ROWS;
    p.n = N;
    switch (op) {
    case 0: return norm_rmsnorm_f32(yf, xf, gf, bf, ROWS, N, 1e-5f);
    case 1: return norm_layernorm_f32(yf, xf, gf, NULL, ROWS, N, 1e-5f);
    case 2: return norm_rmsnorm_f16(yh, xh, gh, NULL, ROWS, N, 1e-5f);
    case 3: return norm_layernorm_f16(yh, xh, gh, NULL, ROWS, N, 1e-5f);
    case 4: return norm_rmsnorm_bf16(yh, xb, gb, NULL, ROWS, N, 1e-5f);
    case 5: return norm_layernorm_bf16(yh, xb, gb, NULL, ROWS, N, 1e-5f);
    case 6:
        p.kind = NORM_LAYERNORM;
        p.x = xf; p.y = yh; p.y_type = NORM_BF16; p.gamma = gf; p.beta = bf;
        p.mean = (float *)(void *)(out + 2048);
        p.rstd = (float *)(void *)(out + 2048 + 64);
        return norm_run(&p);
    case 7:
        p.x = xb; p.x_type = NORM_BF16; p.y = yh; p.y_type = NORM_BF16;
        p.residual = rb;
        p.residual_out = out + 2048; p.gamma = gf; p.flags = NORM_UNIT_OFFSET;
        return norm_run(&p);
    case 8:
        p.x = xh; p.x_type = NORM_F16; p.y = yf; p.gate = xh + N; p.gate_stride = 0;
        p.rows = ROWS - 1; p.gamma = gh; p.param_type = NORM_F16;
        return norm_run(&p);
    case 9:
        p.x = xf; p.y = out; p.y_type = NORM_I8; p.y_scales = (float *)(void *)(out + 2048); p.gamma = gf;
        return norm_run(&p);
    case 10:
        p.kind = NORM_LAYERNORM; p.x = xf; p.eps = 0.0f;
        return norm_moments_run(&p, (norm_moments *)(void *)out);
    case 11:
        p.kind = NORM_LAYERNORM; p.x = xf; p.y = yf; p.moments = mom_r; p.gamma = gf; p.beta = bf;
        return norm_run(&p);
    case 12: {
        norm_moments *a = (norm_moments *)(void *)out;
        memcpy(a, mom_r, sizeof mom_r);
        return norm_moments_combine(a, mom_z, ROWS);
    }
    case 13: {
        /* The FFI callers' initialiser: as large as any version accepts, zeroed. */
        union { norm_params p; unsigned char bytes[512]; } q;
        memset(&q, 0, sizeof q);
        norm_params_init(&q.p, NORM_RMSNORM);
        q.p.rows = ROWS; q.p.n = N; q.p.x = zf; q.p.y = yf; q.p.eps = 1.0f; q.p.flags = NORM_EPS_OUTSIDE_SQRT;
        return norm_run(&q.p);
    }
    default: {
        /* What takes no rows: each thread's answers must be the same strings and values. */
        size_t at = 0;
        for (int s = 0; s <= NORM_ERR_BAD_MOMENTS; s++) {
            const char *str = norm_status_string((norm_status)s);
            size_t len = strlen(str) % 64;
            memcpy(out + at, str, len);
            at += 64;
        }
        for (int t = 0; t < NORM_ISA_COUNT; t++) {
            const char *name = norm_isa_name((norm_isa)t);
            memcpy(out + at, name, strlen(name));
            out[at + 16] = (unsigned char)norm_isa_available((norm_isa)t);
            at += 20;
        }
        memcpy(out + at, norm_version_string(), strlen(norm_version_string()));
        return NORM_OK;
    }
    }
}

/* ---- the run --------------------------------------------------------------------------------- */

static norm_isa tiers[NORM_ISA_COUNT];
static int ntiers;
static unsigned char expected[NORM_ISA_COUNT][OPS][OUT_BYTES];
static atomic_int failures;
static atomic_long calls, switches;
static atomic_bool stop;
static atomic_long matched[NORM_ISA_COUNT]; /* outputs of operations the tiers disagree on, by tier */
static bool distinguishes[OPS];             /* the tiers give different bits for this operation */
static int iters = 2000;

static void *worker(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    unsigned char *out = malloc(OUT_BYTES);
    if (!out)
        abort();
    /* Start once the switchers are switching, so that the calls overlap the switches. */
    while (atomic_load(&switches) < 2 * SWITCHERS)
        sched_yield();
    for (int i = 0; i < iters && atomic_load(&failures) < 10; i++) {
        /* At least one switch between two calls of a worker: on a loaded machine the switchers
         * could otherwise sit out a whole run. */
        long seen = atomic_load(&switches);
        while (atomic_load(&switches) == seen && !atomic_load(&stop))
            sched_yield();
        int op = (int)((i * 7u + id * 3u) % OPS);
        norm_status s = run_op(op, out);
        /* The tier while this call ran is not knowable; its output must be one tier's. The
         * queries must answer a tier (each its own: a switch may come between the two). */
        norm_isa active = norm_active_isa();
        const char *name = norm_active_isa_name();
        bool known = false;
        for (int t = 0; t < ntiers && name; t++)
            known |= strcmp(name, norm_isa_name(tiers[t])) == 0;
        if (s != NORM_OK || active >= NORM_ISA_COUNT || !norm_isa_available(active) || !known) {
            fprintf(stderr, "tsan-dispatch: worker %u: %s: status %s, active tier %d (%s)\n", id, op_names[op],
                    norm_status_string(s), (int)active, name ? name : "NULL");
            atomic_fetch_add(&failures, 1);
            continue;
        }
        int match = -1;
        for (int t = 0; t < ntiers && match < 0; t++)
            if (memcmp(out, expected[t][op], OUT_BYTES) == 0)
                match = t;
        if (match >= 0 && distinguishes[op])
            atomic_fetch_add(&matched[match], 1);
        if (match < 0) {
            size_t at = 0;
            while (at < OUT_BYTES && out[at] == expected[0][op][at])
                at++;
            fprintf(stderr, "tsan-dispatch: worker %u: %s: output matches no tier's (first difference from %s's at "
                            "byte %zu)\n", id, op_names[op], norm_isa_name(tiers[0]), at);
            atomic_fetch_add(&failures, 1);
        }
        atomic_fetch_add(&calls, 1);
    }
    free(out);
    return NULL;
}

static void *switcher(void *arg)
{
    uint32_t seed = 777u + (uint32_t)(uintptr_t)arg;
    while (!atomic_load(&stop)) {
        seed = seed * 1664525u + 1013904223u;
        norm_isa t = tiers[(seed >> 16) % (unsigned)ntiers];
        norm_status s = norm_set_max_isa(t);
        if (s != NORM_OK) {
            fprintf(stderr, "tsan-dispatch: norm_set_max_isa(%s): %s\n", norm_isa_name(t), norm_status_string(s));
            atomic_fetch_add(&failures, 1);
        }
        /* The readers of the selection, racing with the other switcher. */
        if (norm_active_isa() >= NORM_ISA_COUNT || !norm_active_isa_name())
            atomic_fetch_add(&failures, 1);
        atomic_fetch_add(&switches, 1);
        sched_yield();
    }
    return NULL;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *env = getenv("TSAN_DISPATCH_ITERS");
    if (env && atoi(env) > 0)
        iters = atoi(env);
    make_inputs();

    /* Every tier this process may select (NORM_ISA's cap included), then the expected outputs. */
    for (int t = 0; t < NORM_ISA_COUNT; t++)
        if (norm_isa_available((norm_isa)t))
            tiers[ntiers++] = (norm_isa)t;
    printf("tsan-dispatch: tiers:");
    for (int t = 0; t < ntiers; t++)
        printf(" %s", norm_isa_name(tiers[t]));
    printf("%s\n", ntiers < 2 ? " (only one: the switching is not between kernels here)" : "");
    norm_params mp = norm_params_default(NORM_LAYERNORM);
    mp.rows = ROWS; mp.n = N; mp.x = rf;
    if (norm_moments_run(&mp, mom_r) != NORM_OK)
        return EXIT_FAILURE;
    mp.x = zf;
    if (norm_moments_run(&mp, mom_z) != NORM_OK)
        return EXIT_FAILURE;
    for (int t = 0; t < ntiers; t++) {
        if (norm_set_max_isa(tiers[t]) != NORM_OK) {
            fprintf(stderr, "tsan-dispatch: cannot select %s\n", norm_isa_name(tiers[t]));
            return EXIT_FAILURE;
        }
        for (int op = 0; op < OPS; op++) {
            norm_status s = run_op(op, expected[t][op]);
            if (s != NORM_OK) {
                fprintf(stderr, "tsan-dispatch: %s on %s: %s\n", op_names[op], norm_isa_name(tiers[t]),
                        norm_status_string(s));
                return EXIT_FAILURE;
            }
        }
    }
    /* How many operations the tiers give different bits for: those are where a mixed call shows. */
    int differ = 0;
    for (int op = 0; op < OPS; op++)
        for (int t = 1; t < ntiers; t++)
            if (memcmp(expected[t][op], expected[0][op], OUT_BYTES) != 0) {
                differ++;
                distinguishes[op] = true;
                break;
            }
    printf("tsan-dispatch: %d of %d operations give different bits on different tiers\n", differ, OPS);

    pthread_t w[WORKERS], s[SWITCHERS];
    for (int i = 0; i < SWITCHERS; i++)
        if (pthread_create(&s[i], NULL, switcher, (void *)(uintptr_t)i) != 0)
            return EXIT_FAILURE;
    for (int i = 0; i < WORKERS; i++)
        if (pthread_create(&w[i], NULL, worker, (void *)(uintptr_t)i) != 0)
            return EXIT_FAILURE;
    for (int i = 0; i < WORKERS; i++)
        pthread_join(w[i], NULL);
    atomic_store(&stop, true);
    for (int i = 0; i < SWITCHERS; i++)
        pthread_join(s[i], NULL);
    norm_set_max_isa(tiers[ntiers - 1]);

    int f = atomic_load(&failures);
    printf("tsan-dispatch: %ld calls on %d workers, %ld tier switches on %d threads: %s\n", atomic_load(&calls),
           WORKERS, atomic_load(&switches), SWITCHERS, f ? "FAILED" : "every output was one tier's");
    /* Which tier's bits the outputs of the operations that tell tiers apart had: every tier
     * must show up, or the calls never met a switch and the test proved nothing. */
    printf("tsan-dispatch: outputs of the %d operations that tell tiers apart, by tier:", differ);
    for (int t = 0; t < ntiers; t++) {
        printf(" %s %ld", norm_isa_name(tiers[t]), atomic_load(&matched[t]));
        if (differ && !atomic_load(&matched[t]))
            f++;
    }
    printf("%s\n", f && !atomic_load(&failures) ? ": a tier never ran during the switching: FAILED" : "");
    return f ? EXIT_FAILURE : EXIT_SUCCESS;
}
