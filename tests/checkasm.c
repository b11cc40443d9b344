/*
 * checkasm: every kernel tier this machine can run, held to the scalar oracle and to a
 * long-double reference on identical random inputs (dav1d's checkasm, for libnorm).
 *
 * The kernels are called directly through the internal tables (norm_kernels_for), past the
 * API's validation, so every layout the kernel contract allows can be thrown at them:
 * misaligned pointers, row gaps, in place, buffers flush against PROT_NONE pages, the
 * streaming-store path, and rows built to break naive arithmetic.
 *
 * Tcases: "oracle" (the scalar kernels against the long-double reference) and one per
 * runnable tier (that tier against the reference, and against the oracle on rows whose
 * result is NaN/Inf), all on f32 rows; then, per kernel variant, "<variant>/half"
 * (checkasm_half.c): every other type combination, f16 and bf16 rows in and out; then,
 * per variant, "<variant>/fused" (checkasm_fused.c): the fused residual add and the unit
 * offset, every type combination; "<variant>/moments" (checkasm_moments.c) and
 * "<variant>/gate" (checkasm_gate.c); and last "<variant>/rows" (checkasm_rows.c): every output
 * of a row the same bits whatever other rows share the call, and wherever the row is. A tier
 * or variant that is not compiled in or that this CPU lacks gets no tcase.
 *
 * Environment: NORM_TEST_SEED (replay), NORM_TEST_QUICK=1 (emulated runs), and Check's own
 * CK_FORK=no (needed under qemu; nothing here relies on fork isolation).
 */
#include <check.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkasm.h"

/* A pseudo tier: the scalar oracle itself, against the long-double reference. */
#define ORACLE ((int)NORM_ISA_COUNT)

static uint64_t seed;
static bool quick;
uint64_t checkasm_seed; /* the same two, for checkasm_half.c */
bool checkasm_quick;

/* ---- what the run saw, per tier ------------------------------------------------------ */

typedef struct tier_stats {
    long cases;
    double worst_y[2]; /* err/bound of the outputs, [0] RMSNorm, [1] LayerNorm */
    double worst_mean, worst_rstd;
} tier_stats;

/* Lives in a MAP_SHARED page (shared_stats_alloc) so that forked children report back. */
static tier_stats *stats;

static const char *tier_name(int tier)
{
    return tier == ORACLE ? "oracle" : norm_isa_name((norm_isa)tier);
}

/* ---- one case: a layout, inputs, and everything checked about it ---------------------- */

typedef struct spec {
    bool layernorm;
    size_t rows, n, x_stride, y_stride; /* strides >= n */
    float eps;
    bool eps_outside, nontemporal, in_place;
    bool stats;                         /* ask for rstd (and mean, for LayerNorm) */
    unsigned x_off, y_off, g_off, b_off, s_off; /* floats past a 64-byte boundary */
    int guard;                          /* GUARD_* */
} spec;

/* Inputs as dense rows; the case copies them into whatever layout the spec asks for. */
typedef struct inputs {
    float *x, *gamma, *beta; /* rows*n, n, n */
} inputs;

static inputs inputs_alloc(size_t rows, size_t n)
{
    inputs in = { scratch_alloc(rows * n * sizeof(float)), scratch_alloc(n * sizeof(float)),
                  scratch_alloc(n * sizeof(float)) };
    return in;
}

/* Canary floats on each side of an unguarded buffer: writes just outside it are caught. The
 * f32 rows keep their own canary (CANARY_BITS, a float) rather than checkasm_util.c's 16-bit one. */
#define PAD 16

typedef struct region {
    float *base, *p; /* the inspectable memory, and the buffer inside it */
    size_t total;    /* floats from base */
    guarded g;
    void *heap;
} region;

static float *region_alloc(region *r, size_t count, unsigned off, int guard)
{
    memset(r, 0, sizeof *r);
    if (guard != GUARD_NONE) {
        /* Nothing around the buffer can be inspected: the guard page is the check. */
        r->p = r->base = guard_alloc(&r->g, count, (enum guard_side)(guard - 1));
        r->total = count;
    } else {
        r->total = PAD + off + count + PAD;
        r->heap = aligned_alloc(64, (r->total * sizeof(float) + 63) / 64 * 64);
        if (!r->heap)
            abort();
        r->base = r->heap;
        r->p = r->base + PAD + off; /* PAD floats are 64 bytes: p is `off` floats past 64 */
    }
    fill_canary(r->base, r->total);
    return r->p;
}

static void region_free(region *r)
{
    if (r->heap)
        free(r->heap);
    else if (r->g.map)
        guard_free(&r->g);
    memset(r, 0, sizeof *r);
}

/* The first element of r breaking the rule, as an offset from r->p (PTRDIFF_MAX if none):
 * inside the rows (n elements every stride from p) it equals want's dense rows when want
 * is given (an input must not change); everywhere else it is still the canary. */
static ptrdiff_t region_check(const region *r, size_t rows, size_t stride, size_t n, const float *want)
{
    if (!r->base)
        return PTRDIFF_MAX;
    size_t start = (size_t)(r->p - r->base), extent = (rows - 1) * stride + n;
    for (size_t i = 0; i < r->total; i++) {
        size_t rel = i - start; /* wraps for i < start: outside */
        if (i >= start && rel < extent && rel % stride < n) {
            if (want && memcmp(&r->base[i], &want[rel / stride * n + rel % stride], sizeof(float)))
                return (ptrdiff_t)i - (ptrdiff_t)start;
        } else if (!is_canary(&r->base[i])) {
            return (ptrdiff_t)i - (ptrdiff_t)start;
        }
    }
    return PTRDIFF_MAX;
}

typedef struct bufset {
    region x, y, g, b, mean, rstd;
    norm_job job;
} bufset;

static void bufset_init(bufset *s, const spec *sp, const float *x, const float *gamma, const float *beta)
{
    memset(s, 0, sizeof *s);
    size_t n = sp->n, rows = sp->rows;
    float *px = region_alloc(&s->x, (rows - 1) * sp->x_stride + n, sp->x_off, sp->guard);
    for (size_t r = 0; r < rows; r++)
        memcpy(px + r * sp->x_stride, x + r * n, n * sizeof(float));
    float *py = sp->in_place ? px : region_alloc(&s->y, (rows - 1) * sp->y_stride + n, sp->y_off, sp->guard);
    float *pg = NULL, *pb = NULL, *pm = NULL, *pr = NULL;
    if (gamma)
        memcpy(pg = region_alloc(&s->g, n, sp->g_off, sp->guard), gamma, n * sizeof(float));
    if (beta)
        memcpy(pb = region_alloc(&s->b, n, sp->b_off, sp->guard), beta, n * sizeof(float));
    if (sp->stats) {
        pr = region_alloc(&s->rstd, rows, sp->s_off, sp->guard);
        if (sp->layernorm)
            pm = region_alloc(&s->mean, rows, (sp->s_off + 1) % 4, sp->guard);
    }
    norm_job job = {
        .y = py, .x = px, .y_stride = sp->in_place ? sp->x_stride : sp->y_stride,
        .x_stride = sp->x_stride, .rows = rows, .n = n, .gamma = pg, .beta = pb,
        .eps = sp->eps, .eps_outside_sqrt = sp->eps_outside, .nontemporal = sp->nontemporal,
        .mean = pm, .rstd = pr,
    };
    s->job = job;
}

static void bufset_free(bufset *s)
{
    region_free(&s->x);
    region_free(&s->y);
    region_free(&s->g);
    region_free(&s->b);
    region_free(&s->mean);
    region_free(&s->rstd);
}

static int describe(char *buf, size_t size, int tier, const spec *sp, bool g, bool b, const char *label)
{
    return snprintf(buf, size,
                    "seed=0x%016" PRIx64 " isa=%s %s [%s] rows=%zu n=%zu x_stride=%zu y_stride=%zu "
                    "eps=%g%s gamma=%d beta=%d stats=%d in_place=%d nontemporal=%d "
                    "offsets x%u y%u g%u b%u guard=%s",
                    seed, tier_name(tier), sp->layernorm ? "layernorm" : "rmsnorm", label, sp->rows,
                    sp->n, sp->x_stride, sp->in_place ? sp->x_stride : sp->y_stride, (double)sp->eps,
                    sp->eps_outside ? " (outside sqrt)" : "", g, b, sp->stats, sp->in_place,
                    sp->nontemporal, sp->x_off, sp->y_off, sp->g_off, sp->b_off, guard_name(sp->guard));
}

static norm_kernel_fn *oracle_fn(bool layernorm)
{
    const norm_kernels *k = norm_kernels_for(NORM_ISA_SCALAR);
    return layernorm ? k->layernorm[NORM_F32][NORM_F32][NORM_F32] : k->rmsnorm[NORM_F32][NORM_F32][NORM_F32];
}

static norm_kernel_fn *tier_fn(int tier, bool layernorm)
{
    if (tier == ORACLE)
        return oracle_fn(layernorm);
    const norm_kernels *k = norm_kernels_for((norm_isa)tier);
    ck_assert_ptr_nonnull(k);
    return layernorm ? k->layernorm[NORM_F32][NORM_F32][NORM_F32] : k->rmsnorm[NORM_F32][NORM_F32][NORM_F32];
}

/*
 * Runs the unit under test (the oracle for ORACLE, else the tier) on the spec's layout and
 * checks it: every output against the long-double reference under the accuracy contract
 * (rows with non-finite results against the oracle's NaN/Inf pattern), the statistics, and
 * that nothing outside the output rows changed. combo: bit 0 gamma, bit 1 beta.
 */
static void run_case(int tier, const spec *sp, const inputs *in, int combo, const char *label)
{
    const float *gamma = combo & 1 ? in->gamma : NULL, *beta = combo & 2 ? in->beta : NULL;
    size_t n = sp->n, rows = sp->rows;
    describe(test_context, sizeof test_context, tier, sp, gamma != NULL, beta != NULL, label);

    bufset unit, oracle;
    bufset_init(&unit, sp, in->x, gamma, beta);
    if (tier != ORACLE) {
        bufset_init(&oracle, sp, in->x, gamma, beta);
        oracle_fn(sp->layernorm)(&oracle.job);
    }
    tier_fn(tier, sp->layernorm)(&unit.job);

    const norm_job *u = &unit.job;
    float *pattern = tier == ORACLE ? malloc(n * sizeof(float)) : NULL;
    mismatch m = { 0 };
    size_t bad_row = 0;
    double worst_y = 0, worst_mean = 0, worst_rstd = 0;
    for (size_t r = 0; r < rows && !m.failed; r++) {
        const float *x = in->x + r * n;
        ref_stats ref = ref_row(sp->layernorm, x, n, sp->eps, sp->eps_outside);
        bool special = row_is_special(x, n, gamma, beta, ref);
        const float *pat = NULL;
        if (special && tier == ORACLE) {
            /* The oracle's NaN/Inf pattern is held to the reference's, rounded to f32. */
            reference_pattern(pattern, x, n, gamma, beta, ref);
            pat = pattern;
        } else if (special) {
            pat = (const float *)oracle.job.y + r * oracle.job.y_stride;
        }
        bad_row = r;
        worst_y = maxd(worst_y, check_row((const float *)u->y + r * u->y_stride, x, n, gamma, beta, ref, special, pat, &m));
        if (m.failed)
            break;
        check_row_stats(u, tier != ORACLE ? &oracle.job : NULL, r, ref, special, &worst_mean, &worst_rstd, &m);
    }
    free(pattern);

    /* Nothing outside the output rows may change, and the inputs not at all. */
    const char *clobbered = NULL;
    ptrdiff_t at = PTRDIFF_MAX;
    if (!m.failed) {
        struct { const char *name; const region *rg; size_t rows, stride, n; const float *want; } regions[] = {
            { "y (outside the rows)", sp->in_place ? &unit.x : &unit.y, rows, u->y_stride, n, NULL },
            { "x (input)", sp->in_place ? &unit.y : &unit.x, rows, sp->x_stride, n, in->x },
            { "gamma", &unit.g, 1, n, n, gamma },
            { "beta", &unit.b, 1, n, n, beta },
            { "mean (outside)", &unit.mean, 1, rows, rows, NULL },
            { "rstd (outside)", &unit.rstd, 1, rows, rows, NULL },
        };
        for (size_t i = 0; i < sizeof regions / sizeof regions[0] && at == PTRDIFF_MAX; i++) {
            at = region_check(regions[i].rg, regions[i].rows, regions[i].stride, regions[i].n, regions[i].want);
            clobbered = regions[i].name;
        }
    }

    tier_stats *st = &stats[tier];
    st->cases++;
    st->worst_y[sp->layernorm] = maxd(st->worst_y[sp->layernorm], worst_y);
    st->worst_mean = maxd(st->worst_mean, worst_mean);
    st->worst_rstd = maxd(st->worst_rstd, worst_rstd);

    char msg[1024] = "";
    if (m.failed) {
        bool row_elem = m.what[0] == 'y';
        size_t i = row_elem ? m.index : 0;
        snprintf(msg, sizeof msg,
                 "%s: row %zu index %zu: %s got %.9g want %.12Lg bound %.4Lg "
                 "(x=%.9g gamma=%.9g beta=%.9g)",
                 test_context, bad_row, row_elem ? m.index : 0, m.what, m.got, m.want, m.bound,
                 (double)in->x[bad_row * n + i], gamma ? (double)gamma[i] : 1.0, beta ? (double)beta[i] : 0.0);
    } else if (at != PTRDIFF_MAX) {
        snprintf(msg, sizeof msg, "%s: %s modified at element %td from the buffer start", test_context,
                 clobbered, at);
    }
    bufset_free(&unit);
    if (tier != ORACLE)
        bufset_free(&oracle);
    if (msg[0])
        ck_abort_msg("%s", msg);
}

/* ---- input generators ------------------------------------------------------------------ */

/* Typical activations (gen_row); these streams have always drawn rng_normal's deviates. */
static void gen_rows(rng *r, const inputs *in, size_t rows, size_t n)
{
    for (size_t k = 0; k < rows; k++)
        gen_row(r, in->x + k * n, n, rng_normal, 1.0, T_F32);
}

/* gamma around 1 with either sign now and then, beta around 0. */
static void gen_params(rng *r, const inputs *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        in->gamma[i] = (float)((rng_below(r, 8) ? 1.0 : -1.0) * (1.0 + 0.5 * rng_normal(r)));
        in->beta[i] = (float)(0.5 * rng_normal(r));
    }
}

static spec dense_spec(bool layernorm, size_t rows, size_t n, float eps)
{
    spec s;
    memset(&s, 0, sizeof s);
    s.layernorm = layernorm;
    s.rows = rows;
    s.n = n;
    s.x_stride = s.y_stride = n;
    s.eps = eps;
    s.stats = true;
    return s;
}

/* Misaligned pointers, different row gaps for x and y, or in place. */
static spec random_layout(rng *r, bool layernorm, size_t rows, size_t n, bool in_place)
{
    spec s = dense_spec(layernorm, rows, n, eps_any(r));
    s.x_stride = n + rng_below(r, 20);
    s.y_stride = n + rng_below(r, 20);
    if (s.y_stride == s.x_stride)
        s.y_stride++;
    s.x_off = rng_below(r, 4);
    s.y_off = rng_below(r, 4);
    s.g_off = rng_below(r, 4);
    s.b_off = rng_below(r, 4);
    s.s_off = rng_below(r, 4);
    s.in_place = in_place;
    if (in_place) {
        s.y_stride = s.x_stride;
        s.y_off = s.x_off;
    }
    s.nontemporal = rng_below(r, 4) == 0;
    s.stats = rng_bool(r);
    return s;
}

/* ---- the tests; _i is the tier (or ORACLE) ------------------------------------------- */

/* Every row length up to 4 vectors of 16 plus 3: each tail of each vector width, with each
 * (gamma, beta) combination, eps value and placement. */
START_TEST(test_tails)
{
    rng r = rng_for(seed, "tails");
    inputs in = inputs_alloc(5, 67);
    for (size_t n = 1; n <= 67; n++)
        for (int kind = 0; kind < 2; kind++)
            for (int combo = 0; combo < 4; combo++) {
                spec s = dense_spec(kind, 1 + rng_below(&r, 5), n, eps_values[(n + (size_t)combo) % 4]);
                s.eps_outside = rng_bool(&r);
                s.stats = rng_bool(&r);
                gen_rows(&r, &in, s.rows, n);
                gen_params(&r, &in, n);
                run_case(_i, &s, &in, combo, "tails");
            }
}
END_TEST

/* Longer rows: several NORM_FOLD blocks, odd lengths, and one row of 2^20 (the f32 partial
 * sums must not lose accuracy with the length). */
START_TEST(test_large)
{
    static const size_t sizes[] = { 128, 255, 1000, 4096, 4097, 8191, 65536 + 5, 1 << 20 };
    rng r = rng_for(seed, "large");
    inputs in = inputs_alloc(5, 65536 + 5);
    inputs big = quick ? in : inputs_alloc(1, 1 << 20);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        if (quick && n > 8191)
            continue; /* NORM_TEST_QUICK: the emulated runs skip these */
        size_t rows = n == 1 << 20 ? 1 : n > 8191 ? 2 : 1 + rng_below(&r, 5);
        const inputs *use = n == 1 << 20 ? &big : &in;
        for (int kind = 0; kind < 2; kind++) {
            spec s = dense_spec(kind, rows, n, eps_any(&r));
            s.eps_outside = rng_bool(&r);
            s.nontemporal = rng_bool(&r);
            gen_rows(&r, use, rows, n);
            gen_params(&r, use, n);
            run_case(_i, &s, use, (int)rng_below(&r, 4), "large");
        }
    }
}
END_TEST

/* Misaligned x, y, gamma, beta (0..3 floats past 64 bytes), row gaps that differ between x
 * and y, in place; canaries around and between the rows of y catch stray writes. */
START_TEST(test_layouts)
{
    static const size_t sizes[] = { 5, 37, 200 };
    rng r = rng_for(seed, "layouts");
    inputs in = inputs_alloc(5, 3000);
    /* Systematically: every (gamma, beta) combination, in place or not, eps either side. */
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int combo = 0; combo < 4; combo++)
            for (int in_place = 0; in_place < 2; in_place++)
                for (int outside = 0; outside < 2; outside++)
                    for (int kind = 0; kind < 2; kind++) {
                        spec s = random_layout(&r, kind, 1 + rng_below(&r, 5), sizes[k], in_place);
                        s.eps_outside = outside;
                        gen_rows(&r, &in, s.rows, s.n);
                        gen_params(&r, &in, s.n);
                        run_case(_i, &s, &in, combo, "layouts");
                    }
    /* Then at random. */
    int reps = quick ? 80 : 400;
    for (int rep = 0; rep < reps; rep++) {
        size_t n = rng_below(&r, 10) < 7 ? 1 + rng_below(&r, 100) : 100 + rng_below(&r, 2900);
        bool kind = rng_bool(&r), in_place = rng_below(&r, 4) == 0;
        spec s = random_layout(&r, kind, 1 + rng_below(&r, 5), n, in_place);
        s.eps_outside = rng_bool(&r);
        gen_rows(&r, &in, s.rows, n);
        gen_params(&r, &in, n);
        run_case(_i, &s, &in, (int)rng_below(&r, 4), "layouts");
    }
}
END_TEST

/* Each of x, y, gamma, beta, mean and rstd flush against a PROT_NONE page, at its end or at
 * its start: a read or write one element out of bounds crashes the test. */
START_TEST(test_guard)
{
    static const size_t sizes[] = { 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 257, 1000, 4097 };
    rng r = rng_for(seed, "guard");
    inputs in = inputs_alloc(3, 4097);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int side = GUARD_END; side <= GUARD_START; side++)
            for (int kind = 0; kind < 2; kind++)
                for (int variant = 0; variant < 4; variant++) {
                    size_t n = sizes[k];
                    spec s = dense_spec(kind, 1 + (n + (size_t)variant) % 3, n, eps_any(&r));
                    s.guard = side;
                    s.eps_outside = rng_bool(&r);
                    if (variant == 1 || variant == 2) { /* row gaps, and in place over them */
                        s.x_stride = n + 1 + rng_below(&r, 7);
                        s.y_stride = variant == 2 ? s.x_stride : n + 1 + rng_below(&r, 7);
                        s.in_place = variant == 2;
                    }
                    s.nontemporal = variant == 3; /* the streaming path has its own head and tail */
                    gen_rows(&r, &in, s.rows, n);
                    gen_params(&r, &in, n);
                    run_case(_i, &s, &in, 3, "guard");
                }
}
END_TEST

/* Rows built to break naive arithmetic. */
START_TEST(test_adversarial)
{
    rng r = rng_for(seed, "adversarial");
    inputs in = inputs_alloc(3, 4097);
    char label[96];

    /* |mean| >> std, up to 1e6 at several scales: one-pass E[x^2] - mean^2 would lose every
     * digit. Row 2 flips the sign, so a shift carried over from row 1 is useless there. */
    static const double scales[] = { 1e-3, 1.0, 1e3 }, ratios[] = { 1e2, 1e4, 1e6 };
    static const size_t sizes[] = { 7, 64, 1000, 4097 };
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (size_t k = 0; k < 4; k++)
                for (int kind = 0; kind < 2; kind++) {
                    size_t n = sizes[k];
                    if (quick && n > 1000)
                        continue;
                    double sc = scales[a], mu = ratios[b] * sc;
                    for (size_t i = 0; i < n; i++) {
                        in.x[i] = (float)(mu + sc * rng_normal(&r));
                        in.x[n + i] = (float)(mu * 1.001 + sc * rng_normal(&r));
                        in.x[2 * n + i] = (float)(-mu + sc * rng_normal(&r));
                    }
                    gen_params(&r, &in, n);
                    spec s = dense_spec(kind, 3, n, rng_bool(&r) ? 0.0f : 1e-5f);
                    snprintf(label, sizeof label, "mean/std %g, std %g", ratios[b], sc);
                    run_case(_i, &s, &in, (int)rng_below(&r, 4), label);
                }

    /* Huge magnitudes: squares overflow f32 (and the f32 sum of the row itself, near FLT_MAX). */
    for (int kind = 0; kind < 2; kind++)
        for (int what = 0; what < 6; what++) {
            static const char *const names[] = { "near FLT_MAX", "1e30 * N(0,1)", "one element 3e38",
                                                 "one element 1e30", "all FLT_MAX", "1e18 * N(0,1)" };
            size_t n = (size_t)(what == 0 ? 64 : 5 + rng_below(&r, 1000));
            for (size_t row = 0; row < 3; row++) {
                float *x = in.x + row * n;
                for (size_t i = 0; i < n; i++) {
                    double g = rng_normal(&r);
                    x[i] = what == 0 ? (float)((rng_bool(&r) ? 1 : -1) * rng_uniform(&r, 0.5, 1.0) * 3.4e38)
                         : what == 1 ? clamp_to(1e30 * g, T_F32)
                         : what == 4 ? FLT_MAX
                         : what == 5 ? clamp_to(1e18 * g, T_F32)
                                     : (float)g;
                }
                if (what == 2 || what == 3)
                    x[rng_below(&r, (uint32_t)n)] = what == 2 ? 3e38f : -1e30f;
            }
            gen_params(&r, &in, n);
            spec s = dense_spec(kind, 3, n, eps_any(&r));
            s.eps_outside = rng_bool(&r);
            run_case(_i, &s, &in, (int)rng_below(&r, 4), names[what]);
        }

    /* Tiny magnitudes, down to subnormals, with eps = 0 so nothing hides them; then with eps. */
    static const double tiny[] = { 1e-12, 1e-20, 1e-30, 1e-38, 1e-40, 1e-44 };
    for (int t = 0; t < 6; t++)
        for (int kind = 0; kind < 2; kind++)
            for (int with_eps = 0; with_eps < 2; with_eps++) {
                size_t n = 1 + rng_below(&r, 300);
                for (size_t i = 0; i < 3 * n; i++)
                    in.x[i] = (float)(tiny[t] * (kind ? 3.0 + rng_normal(&r) : rng_normal(&r)));
                gen_params(&r, &in, n);
                spec s = dense_spec(kind, 3, n, with_eps ? 1e-6f : 0.0f);
                s.eps_outside = rng_bool(&r);
                snprintf(label, sizeof label, "tiny %g", tiny[t]);
                run_case(_i, &s, &in, (int)rng_below(&r, 4), label);
            }

    /* Constant rows and rows of zeros, eps > 0: variance (and for zeros the mean square) is 0. */
    static const float consts[] = { 0.0f, 3.5f, -7e-3f, 1e3f, 1e-30f };
    for (int c = 0; c < 5; c++)
        for (int kind = 0; kind < 2; kind++)
            for (int e = 1; e < 4; e++) {
                size_t n = 1 + rng_below(&r, 200);
                for (size_t i = 0; i < 3 * n; i++)
                    in.x[i] = consts[c];
                gen_params(&r, &in, n);
                spec s = dense_spec(kind, 3, n, eps_values[e]);
                s.eps_outside = rng_bool(&r);
                snprintf(label, sizeof label, "constant %g", (double)consts[c]);
                run_case(_i, &s, &in, (int)rng_below(&r, 4), label);
            }

    /* Every decimal scale of the f32 range, across the thresholds where a kernel's f32 sums
     * stop being trustworthy and it must fall back. */
    for (int e = -45; e <= 38; e++)
        for (int kind = 0; kind < 2; kind++) {
            size_t n = e % 2 ? 37 : 256;
            for (size_t i = 0; i < 2 * n; i++)
                in.x[i] = clamp_to(pow(10.0, e) * ((kind ? 2.0 : 0.0) + rng_normal(&r)), T_F32);
            gen_params(&r, &in, n);
            spec s = dense_spec(kind, 2, n, e % 3 ? 0.0f : 1e-6f);
            s.eps_outside = rng_bool(&r);
            snprintf(label, sizeof label, "scale 1e%d", e);
            run_case(_i, &s, &in, (int)rng_below(&r, 4), label);
        }
}
END_TEST

/* The textbook LayerNorm row: catastrophic cancellation for E[x^2] - E[x]^2 in f32. */
START_TEST(test_classic)
{
    static const float x[4] = { 40000.0f, 40001.0f, 40002.0f, 40003.0f };
    static const double want[4] = { -1.3416408, -0.4472136, 0.4472136, 1.3416408 };
    float y[4] = { 0 }, mean = 0, rstd = 0;
    norm_job job = { .y = y, .x = x, .y_stride = 4, .x_stride = 4, .rows = 1, .n = 4, .eps = 0.0f,
                     .mean = &mean, .rstd = &rstd };
    describe(test_context, sizeof test_context, _i, &(spec){ .layernorm = true, .rows = 1, .n = 4 },
             false, false, "classic");
    tier_fn(_i, true)(&job);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(fabs(y[i] - want[i]) <= 1e-6, "seed=0x%016" PRIx64 " isa=%s layernorm n=4 "
                      "[40000..40003] eps=0: index %d got %.9g want %.9g", seed, tier_name(_i), i,
                      (double)y[i], want[i]);
    ck_assert_msg(fabs(mean - 40001.5) <= 1e-6 * 40001.5, "isa=%s: mean %.9g", tier_name(_i), (double)mean);
    ck_assert_msg(fabs(rstd - 0.894427191) <= 1e-6, "isa=%s: rstd %.9g", tier_name(_i), (double)rstd);

    inputs in = inputs_alloc(1, 4);
    memcpy(in.x, x, sizeof x);
    spec s = dense_spec(true, 1, 4, 0.0f);
    run_case(_i, &s, &in, 0, "classic");
}
END_TEST

/* NaN and +-Inf inside rows, between ordinary rows; results that are NaN by definition
 * (eps = 0 on a row of zeros, LayerNorm of a constant row). The tier must give NaN exactly
 * where the oracle does, the same infinities and zeros, and finite values within the bound. */
START_TEST(test_special)
{
    static const size_t sizes[] = { 1, 3, 4, 5, 16, 17, 67, 1000 };
    static const char *const names[] = { "NaN", "NaN first", "+Inf", "-Inf", "+Inf and -Inf",
                                         "Inf last", "all NaN", "zeros, eps 0", "constant, eps 0" };
    rng r = rng_for(seed, "special");
    inputs in = inputs_alloc(4, 1000);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int what = 0; what < 9; what++)
            for (int kind = 0; kind < 2; kind++) {
                size_t n = sizes[k];
                gen_rows(&r, &in, 4, n);
                gen_params(&r, &in, n);
                for (size_t row = 1; row < 4; row += 2) { /* rows 1 and 3; 0 and 2 stay ordinary */
                    float *x = in.x + row * n;
                    size_t at = rng_below(&r, (uint32_t)n);
                    switch (what) {
                    case 0: x[at] = NAN; break;
                    case 1: x[0] = NAN; break;
                    case 2: x[at] = INFINITY; break;
                    case 3: x[at] = -INFINITY; break;
                    case 4: x[at] = INFINITY; x[rng_below(&r, (uint32_t)n)] = -INFINITY; break;
                    case 5: x[n - 1] = rng_bool(&r) ? INFINITY : -INFINITY; break;
                    case 6: for (size_t i = 0; i < n; i++) x[i] = NAN; break;
                    case 7: for (size_t i = 0; i < n; i++) x[i] = 0.0f; break;
                    case 8: for (size_t i = 0; i < n; i++) x[i] = 2.5f; break;
                    }
                }
                spec s = dense_spec(kind, 4, n, what >= 7 ? 0.0f : eps_any(&r));
                s.eps_outside = rng_bool(&r);
                run_case(_i, &s, &in, (int)rng_below(&r, 4), names[what]);
            }
}
END_TEST

/* 2^20 elements in one row, with |mean| >> std: the accuracy must not decay with length. */
START_TEST(test_long_row)
{
    size_t n = quick ? 8191 : (size_t)1 << 20; /* NORM_TEST_QUICK trims it */
    rng r = rng_for(seed, "long row");
    inputs in = inputs_alloc(1, n);
    static const struct { bool layernorm; double mean, std; } rows[] = {
        { true, 1e4, 1.0 }, { true, 1e6, 1e-3 }, { true, -3e5, 2.0 }, { false, 1e4, 1.0 }, { false, 0.0, 1.0 },
    };
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        for (size_t i = 0; i < n; i++)
            in.x[i] = (float)(rows[k].mean + rows[k].std * rng_normal(&r));
        gen_params(&r, &in, n);
        spec s = dense_spec(rows[k].layernorm, 1, n, 1e-5f);
        s.nontemporal = k % 2;
        run_case(_i, &s, &in, (int)(k % 4), "long row, |mean| >> std");
    }
}
END_TEST

/* The f32 contract at the edge of the subnormals (issue #14, item 5): gamma around 2^-132 with
 * eps outside the root puts every y in f32's subnormal range, where the bound's relative term,
 * 2^-20 * |gamma| * (1 + |x_hat|), about 2^-151, is below half a subnormal step (2^-150), so
 * that not even a correctly rounded result meets it; the underflow term (tests/common.h,
 * CONTRACT_UNDERFLOW) is what makes the contract hold there. run_case holds the unit to the
 * reference with the full bound (and checks the statistics and canaries); then every output
 * must lie within twice that bound of the oracle's, and, so that the test cannot pass without
 * reaching the edge, some output of the oracle (rounded once, from double) must be further from
 * the reference than the bound without its underflow term. */
START_TEST(test_underflow)
{
    static const size_t sizes[] = { 17, 67, 1000 };
    rng r = rng_for(seed, "underflow");
    inputs in = inputs_alloc(4, 1000);
    float *yt = scratch_alloc(4 * 1000 * sizeof(float)), *yo = scratch_alloc(4 * 1000 * sizeof(float));
    long old_missed = 0, values = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int kind = 0; kind < 2; kind++)
            for (int combo = 1; combo <= 3; combo += 2) { /* gamma, then gamma and beta */
                size_t n = sizes[k];
                gen_rows(&r, &in, 4, n);
                for (size_t i = 0; i < n; i++) {
                    in.gamma[i] = (float)ldexp((rng_bool(&r) ? 1.0 : -1.0) * rng_uniform(&r, 0.5, 1.5), -132);
                    in.beta[i] = (float)ldexp(rng_uniform(&r, -1, 1), -140);
                }
                float eps = k % 2 ? 1.0f : 1e-5f;
                spec s = dense_spec(kind, 4, n, eps);
                s.eps_outside = true;
                run_case(_i, &s, &in, combo, "underflow: gamma ~ 2^-132, eps outside the root");

                const float *beta = combo & 2 ? in.beta : NULL;
                norm_job jt = { .y = yt, .x = in.x, .y_stride = n, .x_stride = n, .rows = 4, .n = n,
                                .gamma = in.gamma, .beta = beta, .eps = eps, .eps_outside_sqrt = true,
                                .y_inv_scale = 1.0f };
                norm_job jo = jt;
                jo.y = yo;
                tier_fn(_i, kind)(&jt);
                oracle_fn(kind)(&jo);
                for (size_t row = 0; row < 4; row++) {
                    const float *x = in.x + row * n;
                    ref_stats ref = ref_row(kind, x, n, eps, true);
                    for (size_t i = 0; i < n; i++) {
                        long double g = in.gamma[i], b = beta ? beta[i] : 0.0L;
                        long double xhat = ((long double)x[i] - ref.mean) * ref.rstd, want = xhat * g + b;
                        long double old_bound = CONTRACT_TOL * (fabsl(g) * (1.0L + fabsl(xhat)) + fabsl(b));
                        long double bound = contract_bound(g, xhat, b);
                        float got = yt[row * n + i], oracle = yo[row * n + i];
                        values++;
                        if (fabsl((long double)oracle - want) > old_bound)
                            old_missed++;
                        ck_assert_msg(fabsl((long double)got - (long double)oracle) <= 2.0L * bound,
                                      "isa=%s %s n=%zu row %zu index %zu: y %a, the oracle's %a: more than "
                                      "twice the bound %La apart (seed 0x%016" PRIx64 ")", tier_name(_i),
                                      kind ? "layernorm" : "rmsnorm", n, row, i, (double)got, (double)oracle,
                                      bound, seed);
                    }
                }
            }
    ck_assert_msg(old_missed > 0, "isa=%s: no output at the edge: the oracle met the bound without the underflow "
                  "term on all %ld values, so this test does not test it", tier_name(_i), values);
    printf("%s: %-6s underflow edge: %ld of %ld oracle outputs miss the bound without its underflow term; "
           "every output meets it with the term\n", PROGRAM, tier_name(_i), old_missed, values);
}
END_TEST

/* ---- the suite --------------------------------------------------------------------- */

static void add_tests(TCase *tc, int tier)
{
    tcase_add_loop_test(tc, test_tails, tier, tier + 1);
    tcase_add_loop_test(tc, test_large, tier, tier + 1);
    tcase_add_loop_test(tc, test_layouts, tier, tier + 1);
    tcase_add_loop_test(tc, test_guard, tier, tier + 1);
    tcase_add_loop_test(tc, test_adversarial, tier, tier + 1);
    tcase_add_loop_test(tc, test_classic, tier, tier + 1);
    tcase_add_loop_test(tc, test_special, tier, tier + 1);
    tcase_add_loop_test(tc, test_long_row, tier, tier + 1);
    tcase_add_loop_test(tc, test_underflow, tier, tier + 1);
}

static Suite *checkasm_suite(bool runnable[NORM_ISA_COUNT])
{
    Suite *s = suite_create(PROGRAM);
    TCase *tc = checkasm_tcase("oracle");
    add_tests(tc, ORACLE);
    suite_add_tcase(s, tc);
    /* Each variant: its tier's f32 tcase (avx512bf16 has none: its f32 kernel is avx512's),
     * then its half-precision tcase. */
    for (int isa = NORM_ISA_SCALAR; isa < NORM_ISA_COUNT; isa++)
        runnable[isa] = false;
    for (int v = 0; v < HALF_NVARIANTS; v++) {
        const char *name = half_variant_names[v];
        int isa = NORM_ISA_SCALAR;
        while (isa < NORM_ISA_COUNT && strcmp(name, tier_name(isa)) != 0)
            isa++;
        if (!half_add_tcase(s, v)) {
            printf("%s: %s: skipped (not compiled in or CPU lacks it)\n", PROGRAM, name);
            continue;
        }
        if (isa == NORM_ISA_COUNT)
            continue;
        runnable[isa] = norm_kernels_for((norm_isa)isa) != NULL;
        if (!runnable[isa]) {
            printf("%s: %s: runnable as a variant but not as a tier\n", PROGRAM, name);
            exit(EXIT_FAILURE);
        }
        tc = checkasm_tcase(tier_name(isa));
        add_tests(tc, isa);
        suite_add_tcase(s, tc);
    }
    /* Then each variant's fused residual add and unit offset (checkasm_fused.c). */
    for (int v = 0; v < HALF_NVARIANTS; v++)
        fused_add_tcase(s, v);
    /* Then split rows: the moments kernels, the apply step, norm_moments_combine (checkasm_moments.c). */
    for (int v = 0; v < HALF_NVARIANTS; v++)
        moments_add_tcase(s, v);
    /* Then gated RMSNorm and int8 output (checkasm_gate.c). */
    for (int v = 0; v < HALF_NVARIANTS; v++)
        gate_add_tcase(s, v);
    /* Then row independence: a row's outputs the same bits in any batch, alone, at any address
     * (checkasm_rows.c). */
    for (int v = 0; v < HALF_NVARIANTS; v++)
        rows_add_tcase(s, v);
    return s;
}

static void print_tier(int tier)
{
    const tier_stats *st = &stats[tier];
    printf("%s: %-6s %5ld cases, worst err/bound: rmsnorm %.4f  layernorm %.4f  mean %.4f  rstd %.4f%s\n",
           PROGRAM, tier_name(tier), st->cases, st->worst_y[0], st->worst_y[1], st->worst_mean,
           st->worst_rstd, tier == ORACLE ? "  (scalar oracle vs long double)" : "");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    seed = checkasm_seed = test_seed(PROGRAM);
    quick = checkasm_quick = test_quick(PROGRAM);
    install_crash_handler();

    stats = shared_stats_alloc(sizeof(tier_stats) * (NORM_ISA_COUNT + 1));

    bool runnable[NORM_ISA_COUNT];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    SRunner *sr = srunner_create(checkasm_suite(runnable));
    const char *verbosity = getenv("CK_VERBOSITY");
    fflush(stdout); /* nothing buffered may be duplicated into forked children */
    srunner_run_all(sr, verbosity && strcmp(verbosity, "verbose") == 0 ? CK_VERBOSE : CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    print_tier(ORACLE);
    for (int isa = NORM_ISA_SCALAR; isa < NORM_ISA_COUNT; isa++)
        if (runnable[isa])
            print_tier(isa);
    half_print_summary();
    fused_print_summary();
    moments_print_summary();
    gate_print_summary();
    rows_print_summary();
    printf("%s: contract |y - y_ref| <= 2^-20 * (|gamma| * (1 + |x_hat|) + |beta|) + 2^-149 (f32 outputs), "
           "1 ulp (f16/bf16 outputs); %s in %.2f s\n", PROGRAM, failed ? "FAILED" : "all tiers pass",
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
