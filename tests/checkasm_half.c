/*
 * checkasm, half precision: every kernel variant this machine can run, on the 14 type
 * combinations other than f32/f32/f32 (x f32, f16 or bf16; y likewise; gamma and beta f32 or
 * x's type), held to a long-double reference and to the scalar oracle on identical inputs.
 *
 * The contract for half precision (the issue that added it):
 *   - each f16/bf16 output is within 1 ulp (of its format, at the reference value) of the
 *     long-double reference computed from the stored inputs; a reference beyond the
 *     format's largest finite value allows that value or the infinity of its sign;
 *   - each f32 output from half inputs keeps the f32 contract,
 *     |y - y_ref| <= 2^-20 * (|gamma| * (1 + |x_hat_ref|) + |beta|);
 *   - against the oracle (the scalar table, same combination): half outputs at most one
 *     representable value apart, NaN exactly where the oracle has NaN, and on rows with
 *     non-finite inputs or results the oracle's infinities and zeros exactly.
 * Inputs are drawn in f32 and rounded to the input type, so every reference sees exactly
 * the values the kernels read.
 *
 * Variants (half_variant_names): scalar (the oracle itself, against long double only),
 * sse2, avx2, avx512 (AVX-512 without vcvtneps2bf16), avx512bf16 (with it), neon. A
 * variant that cannot run here gets no tcase; a combination whose kernels are the very
 * functions an earlier variant's tcase tests is not repeated (avx512bf16 differs from
 * avx512 only in the combinations with bf16 output).
 *
 * Loop index of every test: variant * 16 + combination (combos[] below).
 */
#include <check.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkasm.h"

_Static_assert(T_F32 == (int)NORM_F32 && T_F16 == (int)NORM_F16 && T_BF16 == (int)NORM_BF16,
               "tests/common.h's types must have norm_dtype's values");

#define HALF_VARIANT_NAME(name, ...) #name,
const char *const half_variant_names[HALF_NVARIANTS] = { NORM_ISA_LIST(HALF_VARIANT_NAME, HALF_VARIANT_NAME) };
#define V_ORACLE 0 /* "scalar": the oracle's own table */

/* The run's settings (checkasm.c's main sets them). */
#define seed checkasm_seed
#define quick checkasm_quick

/* ---- type combinations ------------------------------------------------------------------ */

#define NCOMBOS 14
static const combo combos[NCOMBOS] = {
    { NORM_F32, NORM_F16, NORM_F32 },    { NORM_F32, NORM_BF16, NORM_F32 },
    { NORM_F16, NORM_F32, NORM_F32 },    { NORM_F16, NORM_F16, NORM_F32 },
    { NORM_F16, NORM_BF16, NORM_F32 },   { NORM_F16, NORM_F32, NORM_F16 },
    { NORM_F16, NORM_F16, NORM_F16 },    { NORM_F16, NORM_BF16, NORM_F16 },
    { NORM_BF16, NORM_F32, NORM_F32 },   { NORM_BF16, NORM_F16, NORM_F32 },
    { NORM_BF16, NORM_BF16, NORM_F32 },  { NORM_BF16, NORM_F32, NORM_BF16 },
    { NORM_BF16, NORM_F16, NORM_BF16 },  { NORM_BF16, NORM_BF16, NORM_BF16 },
};

#define LOOP_INDEX(v, c) ((v) * 16 + (c))

/* ---- what the run saw, per variant and output type ---------------------------------------- */

typedef struct half_stats {
    long cases;
    double worst_ulp;   /* half outputs: |y - y_ref| / (1 ulp of the output type + the f32 bound),
                         * the contract's ratio (a bare ulp count explodes where gamma * x_hat and
                         * beta cancel and the f32 bound, not the ulp, is what holds) */
    int worst_steps;    /* half outputs: representable values between y and the oracle's */
    double worst_ratio; /* f32 outputs: err/bound of the f32 contract */
    double worst_mean, worst_rstd;
} half_stats;

/* [variant][output type], in a MAP_SHARED page so that forked children report back. */
static half_stats *hstats;
static bool tested[HALF_NVARIANTS];

/* ---- inputs ------------------------------------------------------------------------------- */

/* Dense rows and parameters, encoded in their types, and the same values in f32. */
typedef struct hinputs {
    combo c;
    void *x, *g, *b;
    float *xf, *gf, *bf;
} hinputs;

static hinputs hinputs_alloc(combo c, size_t rows, size_t n)
{
    hinputs in = { c,
                   scratch_alloc(rows * n * type_size(c.x)), scratch_alloc(n * type_size(c.p)),
                   scratch_alloc(n * type_size(c.p)), scratch_alloc(rows * n * sizeof(float)),
                   scratch_alloc(n * sizeof(float)), scratch_alloc(n * sizeof(float)) };
    return in;
}

/* Rounds the f32 values drawn for rows x and the parameters to their types, and stores them. */
static void encode(const hinputs *in, size_t rows, size_t n)
{
    for (size_t i = 0; i < rows * n; i++)
        in->xf[i] = type_store(in->x, i, in->xf[i], in->c.x);
    for (size_t i = 0; i < n; i++) {
        in->gf[i] = type_store(in->g, i, in->gf[i], in->c.p);
        in->bf[i] = type_store(in->b, i, in->bf[i], in->c.p);
    }
}

/* ---- one case: a layout, and everything checked about it ------------------------------------ */

typedef struct hspec {
    bool layernorm;
    size_t rows, n, x_stride, y_stride; /* in elements, >= n */
    float eps;
    bool eps_outside, nontemporal, in_place, stats;
    bool strict_inf;                    /* the oracle's infinities must be matched exactly */
    unsigned x_off, y_off, g_off, b_off, s_off; /* elements past a 64-byte boundary */
    int guard;                          /* GUARD_*, for every buffer of the unit under test */
} hspec;

typedef struct hbufset {
    byte_region x, y, g, b, mean, rstd;
    norm_job job;
} hbufset;

static void hbufset_init(hbufset *s, const hspec *sp, const hinputs *in, bool has_g, bool has_b, int guard)
{
    memset(s, 0, sizeof *s);
    combo c = in->c;
    size_t n = sp->n, rows = sp->rows, xe = type_size(c.x), ye = type_size(c.y), pe = type_size(c.p);
    unsigned char *px = copy_rows(&s->x, in->x, rows, n, sp->x_stride, xe, sp->x_off, guard);
    void *py = sp->in_place ? (void *)px
                            : byte_region_alloc(&s->y, ((rows - 1) * sp->y_stride + n) * ye, sp->y_off * ye, guard);
    void *pg = NULL, *pb = NULL;
    float *pm = NULL, *pr = NULL;
    if (has_g)
        memcpy(pg = byte_region_alloc(&s->g, n * pe, sp->g_off * pe, guard), in->g, n * pe);
    if (has_b)
        memcpy(pb = byte_region_alloc(&s->b, n * pe, sp->b_off * pe, guard), in->b, n * pe);
    if (sp->stats)
        stats_alloc(&s->rstd, &s->mean, rows, sp->s_off, sp->layernorm, guard, &pr, &pm);
    norm_job job = {
        .y = py, .x = px, .y_stride = sp->in_place ? sp->x_stride : sp->y_stride,
        .x_stride = sp->x_stride, .rows = rows, .n = n, .gamma = pg, .beta = pb,
        .x_type = c.x, .y_type = c.y, .param_type = c.p,
        .eps = sp->eps, .eps_outside_sqrt = sp->eps_outside, .nontemporal = sp->nontemporal,
        .mean = pm, .rstd = pr,
    };
    s->job = job;
}

static void hbufset_free(hbufset *s)
{
    byte_region_free(&s->x);
    byte_region_free(&s->y);
    byte_region_free(&s->g);
    byte_region_free(&s->b);
    byte_region_free(&s->mean);
    byte_region_free(&s->rstd);
}

static void describe(char *buf, size_t size, int v, combo c, const hspec *sp, bool g, bool b, const char *label)
{
    snprintf(buf, size,
             "seed=0x%016" PRIx64 " variant=%s x=%s y=%s gamma/beta=%s %s [%s] rows=%zu n=%zu "
             "x_stride=%zu y_stride=%zu eps=%g%s gamma=%d beta=%d stats=%d in_place=%d nontemporal=%d "
             "offsets x%u y%u g%u b%u guard=%s",
             seed, half_variant_names[v], type_name(c.x), type_name(c.y), type_name(c.p),
             sp->layernorm ? "layernorm" : "rmsnorm", label, sp->rows, sp->n, sp->x_stride,
             sp->in_place ? sp->x_stride : sp->y_stride, (double)sp->eps,
             sp->eps_outside ? " (outside sqrt)" : "", g, b, sp->stats, sp->in_place, sp->nontemporal,
             sp->x_off, sp->y_off, sp->g_off, sp->b_off, guard_name(sp->guard));
}

/* What went wrong, for the failure message. */
typedef struct hfail {
    bool failed;
    size_t row, index;
    const char *what;
    double got;
    unsigned got_bits;
    long double want, bound; /* bound: f32 contract; for half outputs 1 ulp at want */
    bool has_oracle;
    unsigned oracle_bits;
    double oracle;
    double ulps, f32_ratio; /* half outputs: the error in ulps at want, and (err - 0.5 ulp) / f32 bound */
} hfail;

/* Infinities the unit under test wrote in the last case (the overflow tests need some). */
static long last_case_infs;

/*
 * Runs variant v's kernel for the inputs' combination on the spec's layout, and the oracle
 * on a plain copy (unless v is the oracle), then checks every output and statistic and that
 * nothing outside the output rows changed. gb: bit 0 gamma, bit 1 beta.
 */
static void run_hcase(int v, const hspec *sp, const hinputs *in, int gb, const char *label)
{
    combo c = in->c;
    bool has_g = gb & 1, has_b = gb & 2;
    const float *gf = has_g ? in->gf : NULL, *bf = has_b ? in->bf : NULL;
    size_t n = sp->n, rows = sp->rows, ye = type_size(c.y);
    describe(test_context, sizeof test_context, v, c, sp, has_g, has_b, label);
    ck_assert(!sp->in_place || c.x == c.y);

    hbufset unit, oracle;
    hbufset_init(&unit, sp, in, has_g, has_b, sp->guard);
    if (v != V_ORACLE) {
        hbufset_init(&oracle, sp, in, has_g, has_b, GUARD_NONE);
        kernel_of(table_of(V_ORACLE), sp->layernorm, c)(&oracle.job);
    }
    kernel_of(table_of(v), sp->layernorm, c)(&unit.job);

    const norm_job *u = &unit.job, *o = v != V_ORACLE ? &oracle.job : NULL;
    float *pattern = c.y == NORM_F32 && !o ? malloc(n * sizeof(float)) : NULL;
    hfail f = { 0 };
    double worst_ulp = 0, worst_ratio = 0, worst_mean = 0, worst_rstd = 0;
    int worst_steps = 0;
    last_case_infs = 0;
    for (size_t r = 0; r < rows && !f.failed; r++) {
        const float *x = in->xf + r * n;
        ref_stats ref = ref_row(sp->layernorm, x, n, sp->eps, sp->eps_outside);
        bool special = row_is_special(x, n, gf, bf, ref);
        const unsigned char *yrow = (const unsigned char *)u->y + r * u->y_stride * ye;
        const unsigned char *orow = o ? (const unsigned char *)o->y + r * o->y_stride * ye : NULL;
        f.row = r;
        if (c.y == NORM_F32) {
            const float *pat = NULL;
            if (special && !o) {
                /* The oracle's NaN/Inf pattern is held to the reference's, rounded to f32. */
                reference_pattern(pattern, x, n, gf, bf, ref);
                pat = pattern;
            } else if (special) {
                pat = (const float *)orow;
            }
            for (size_t i = 0; i < n; i++)
                last_case_infs += isinf(((const float *)yrow)[i]) != 0;
            mismatch m = { 0 };
            worst_ratio = maxd(worst_ratio, check_row((const float *)yrow, x, n, gf, bf, ref, special, pat, &m));
            if (m.failed) {
                f = (hfail){ true, r, m.index, m.what, m.got, 0, m.want, m.bound, false, 0, 0, 0, 0 };
                memcpy(&f.got_bits, &((const float *)yrow)[m.index], 4);
                break;
            }
        } else {
            for (size_t i = 0; i < n; i++) {
                uint16_t got, ob = 0;
                memcpy(&got, yrow + 2 * i, 2);
                float gotf = half_to_float(got, c.y);
                last_case_infs += isinf(gotf) != 0; /* isinf may give -1 for -Inf */
                long double want = ((long double)x[i] - ref.mean) * ref.rstd * (gf ? gf[i] : 1.0L) + (bf ? bf[i] : 0.0L);
                /* The reference, wherever it is a number (on a special row it may give up,
                 * e.g. Inf * 0, where the oracle did not; the oracle itself is held to it). */
                const char *what = NULL;
                double ulps = 0;
                long double slack = half_slack(gf ? gf[i] : 1.0L, ((long double)x[i] - ref.mean) * ref.rstd,
                                               bf ? bf[i] : 0.0L);
                if ((!o || !special || isfinite(want)) && !check_half(got, c.y, want, slack, &ulps))
                    what = "y (more than 1 ulp + the f32 bound from the long-double reference)";
                if (!special && ulps > 0)
                    worst_ulp = maxd(worst_ulp, ulps / (1.0 + (double)(slack / type_ulp(want, c.y))));
                if (o) {
                    memcpy(&ob, orow + 2 * i, 2);
                    float of = half_to_float(ob, c.y);
                    int steps = half_steps(got, ob, c.y);
                    /* Non-finite rows carry no rounding, and the overflow tests are built
                     * far from the threshold: infinities and zeros must be the oracle's. */
                    bool exact = special || (sp->strict_inf && (isinf(of) || isinf(gotf)));
                    const char *vs_oracle = NULL;
                    if (isnan(of) || isnan(gotf))
                        vs_oracle = isnan(of) && isnan(gotf) ? NULL : "y (want NaN exactly where the oracle has NaN)";
                    else if (exact && (isinf(of) || isinf(gotf) || of == 0.0f || gotf == 0.0f))
                        vs_oracle = of == gotf ? NULL : "y (want the oracle's Inf/0 exactly)";
                    else if (steps > 1 && fabsl((long double)gotf - (long double)of) >
                                              type_ulp(of, c.y) + 2 * slack)
                        vs_oracle = "y (more than 1 ulp + twice the f32 bound from the oracle)";
                    if (vs_oracle)
                        what = what ? "y (more than 1 ulp from the long-double reference and from the oracle)"
                                    : vs_oracle;
                    if (steps > worst_steps)
                        worst_steps = steps;
                }
                if (what) {
                    f = (hfail){ true, r, i, what, gotf, got, want, type_ulp(want, c.y), o != NULL, ob,
                                 o ? half_to_float(ob, c.y) : 0.0, 0.0, 0.0 };
                    if (isfinite(gotf) && isfinite(want)) {
                        /* For the report: the error in ulps, and what is left of it after the
                         * final rounding (half an ulp) against the f32 contract's bound. */
                        long double g_ = gf ? fabsl((long double)gf[i]) : 1.0L, b_ = bf ? fabsl((long double)bf[i]) : 0.0L;
                        long double xhat = ((long double)x[i] - ref.mean) * ref.rstd;
                        long double err = fabsl((long double)gotf - want);
                        f.ulps = (double)(err / type_ulp(want, c.y));
                        f.f32_ratio = (double)((err - 0.5L * type_ulp(gotf, c.y)) /
                                               contract_bound(g_, xhat, b_));
                    }
                    break;
                }
            }
            if (f.failed)
                break;
        }
        /* Statistics, as for f32 rows. */
        mismatch m = { 0 };
        check_row_stats(u, o, r, ref, special, &worst_mean, &worst_rstd, &m);
        if (m.failed)
            f = (hfail){ true, r, 0, m.what, m.got, 0, m.want, m.bound, false, 0, 0, 0, 0 };
    }
    free(pattern);

    /* Nothing outside the output rows may change, and the inputs not at all. */
    const char *clobbered = NULL;
    ptrdiff_t at = PTRDIFF_MAX;
    if (!f.failed) {
        size_t xe = type_size(c.x), pe = type_size(c.p);
        const region_rule regions[] = {
            { "y (outside the rows)", sp->in_place ? &unit.x : &unit.y, rows, u->y_stride * ye, n * ye, NULL },
            { "x (input)", sp->in_place ? &unit.y : &unit.x, rows, sp->x_stride * xe, n * xe, in->x },
            { "gamma", &unit.g, 1, n * pe, n * pe, in->g },
            { "beta", &unit.b, 1, n * pe, n * pe, in->b },
            { "mean (outside)", &unit.mean, 1, rows * 4, rows * 4, NULL },
            { "rstd (outside)", &unit.rstd, 1, rows * 4, rows * 4, NULL },
        };
        clobbered = first_clobbered(regions, sizeof regions / sizeof regions[0], &at);
    }

    half_stats *st = &hstats[v * 3 + c.y];
    st->cases++;
    st->worst_ulp = maxd(st->worst_ulp, worst_ulp);
    st->worst_steps = worst_steps > st->worst_steps ? worst_steps : st->worst_steps;
    st->worst_ratio = maxd(st->worst_ratio, worst_ratio);
    st->worst_mean = maxd(st->worst_mean, worst_mean);
    st->worst_rstd = maxd(st->worst_rstd, worst_rstd);

    char msg[1536] = "";
    if (f.failed) {
        bool elem = f.what[0] == 'y';
        size_t i = elem ? f.index : 0;
        char oracle_txt[256] = "";
        int len = 0;
        if (f.has_oracle)
            len = snprintf(oracle_txt, sizeof oracle_txt, " oracle 0x%04x (%.9g)", f.oracle_bits, f.oracle);
        if (f.ulps > 0)
            snprintf(oracle_txt + len, sizeof oracle_txt - (size_t)len,
                     "; error %.4g ulp, (error - 0.5 ulp) / f32 contract bound = %.4f", f.ulps, f.f32_ratio);
        snprintf(msg, sizeof msg,
                 "%s: row %zu index %zu: %s: got 0x%0*x (%.9g) want %.12Lg (%s %.4Lg)%s "
                 "(x=%.9g gamma=%.9g beta=%.9g)",
                 test_context, f.row, i, f.what, c.y == NORM_F32 || !elem ? 8 : 4, f.got_bits, f.got, f.want,
                 c.y == NORM_F32 || !elem ? "bound" : "1 ulp", f.bound, oracle_txt,
                 (double)in->xf[f.row * n + i], gf ? (double)gf[i] : 1.0, bf ? (double)bf[i] : 0.0);
    } else if (clobbered) {
        snprintf(msg, sizeof msg, "%s: %s modified at byte %td from the buffer start", test_context, clobbered, at);
    }
    hbufset_free(&unit);
    if (o)
        hbufset_free(&oracle);
    if (msg[0])
        ck_abort_msg("%s", msg);
}

/* ---- input generators ------------------------------------------------------------------ */

/* Parameters (gamma around 1 with either sign now and then, beta around 0) for the rows
 * already in in->xf; then rounds everything to its type and stores it. */
static void gen_params_only(rng *r, const hinputs *in, size_t rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        in->gf[i] = (float)((rng_below(r, 8) ? 1.0 : -1.0) * (1.0 + 0.5 * fast_normal(r)));
        in->bf[i] = (float)(0.5 * fast_normal(r));
    }
    encode(in, rows, n);
}

static void gen_case(rng *r, const hinputs *in, size_t rows, size_t n)
{
    for (size_t k = 0; k < rows; k++)
        gen_row(r, in->xf + k * n, n, fast_normal, 1.0, T_F32);
    gen_params_only(r, in, rows, n);
}

static hspec dense_spec(bool layernorm, size_t rows, size_t n, float eps)
{
    hspec s;
    memset(&s, 0, sizeof s);
    s.layernorm = layernorm;
    s.rows = rows;
    s.n = n;
    s.x_stride = s.y_stride = n;
    s.eps = eps;
    s.stats = true;
    return s;
}

/* Misaligned pointers (0-3 elements of their types past 64 bytes), different row gaps for
 * x and y, or in place (only where x and y have one type). */
static hspec random_layout(rng *r, combo c, bool layernorm, size_t rows, size_t n, bool in_place)
{
    hspec s = dense_spec(layernorm, rows, n, eps_any(r));
    s.x_stride = n + rng_below(r, 20);
    s.y_stride = n + rng_below(r, 20);
    if (s.y_stride == s.x_stride)
        s.y_stride++;
    random_offsets(r, (unsigned *const[]){ &s.x_off, &s.y_off, &s.g_off, &s.b_off, &s.s_off }, 5);
    s.in_place = in_place && c.x == c.y;
    if (s.in_place) {
        s.y_stride = s.x_stride;
        s.y_off = s.x_off;
    }
    s.nontemporal = rng_below(r, 4) == 0;
    s.stats = rng_bool(r);
    s.eps_outside = rng_bool(r);
    return s;
}

/* Each test: this variant and combination, and the combination's input stream (combo_rng). */
#define HALF_SETUP(test)           \
    int v = _i / 16;               \
    combo c = combos[_i % 16];     \
    rng r = combo_rng("half", test, c)

/* ---- the tests -------------------------------------------------------------------------- */

/* Every row length up to 4 vectors of 16 plus 3, each tail of each vector width, 1-3 rows,
 * with each (gamma, beta) choice (NORM_TEST_QUICK: one per length, in rotation). */
START_TEST(test_half_tails)
{
    HALF_SETUP("tails");
    hinputs in = hinputs_alloc(c, 3, 67);
    for (size_t n = 1; n <= 67; n++)
        for (int kind = 0; kind < 2; kind++)
            for (int k = 0; k < (quick ? 1 : 4); k++) {
                int gb = quick ? (int)(n + (size_t)kind) % 4 : k;
                hspec s = dense_spec(kind, 1 + rng_below(&r, 3), n, eps_values[(n + (size_t)gb) % 4]);
                s.eps_outside = rng_bool(&r);
                s.stats = rng_bool(&r);
                gen_case(&r, &in, s.rows, n);
                run_hcase(v, &s, &in, gb, "tails");
            }
}
END_TEST

/* Longer rows: several NORM_FOLD blocks, and an odd length past 4096. */
START_TEST(test_half_large)
{
    static const size_t sizes[] = { 128, 1000, 4096 + 5 };
    HALF_SETUP("large");
    hinputs in = hinputs_alloc(c, 3, 4096 + 5);
    for (size_t k = 0; k < 3; k++)
        for (int kind = 0; kind < 2; kind++) {
            size_t n = sizes[k], rows = quick ? 1 : 1 + rng_below(&r, 3);
            hspec s = dense_spec(kind, rows, n, eps_any(&r));
            s.eps_outside = rng_bool(&r);
            s.nontemporal = rng_bool(&r);
            gen_case(&r, &in, rows, n);
            run_hcase(v, &s, &in, (int)rng_below(&r, 4), "large");
        }
}
END_TEST

/* Misaligned x, y, gamma, beta, row gaps that differ between x and y, in place; canaries
 * around and between the rows of y catch stray writes. */
START_TEST(test_half_layouts)
{
    static const size_t sizes[] = { 5, 37, 200 };
    HALF_SETUP("layouts");
    hinputs in = hinputs_alloc(c, 3, 3000);
    int places = c.x == c.y ? 2 : 1;
    for (size_t k = 0; k < 3; k++)
        for (int gb = 0; gb < 4; gb++)
            for (int in_place = 0; in_place < places; in_place++)
                for (int outside = 0; outside < 2; outside++)
                    for (int kind = 0; kind < 2; kind++) {
                        if (quick && (gb + outside + kind) % 2)
                            continue;
                        hspec s = random_layout(&r, c, kind, 1 + rng_below(&r, 3), sizes[k], in_place);
                        s.eps_outside = outside;
                        gen_case(&r, &in, s.rows, s.n);
                        run_hcase(v, &s, &in, gb, "layouts");
                    }
    int reps = quick ? 8 : 40;
    for (int rep = 0; rep < reps; rep++) {
        size_t n = rng_below(&r, 10) < 7 ? 1 + rng_below(&r, 100) : 100 + rng_below(&r, 2900);
        hspec s = random_layout(&r, c, rng_bool(&r), 1 + rng_below(&r, 3), n, rng_below(&r, 3) == 0);
        gen_case(&r, &in, s.rows, n);
        run_hcase(v, &s, &in, (int)rng_below(&r, 4), "layouts");
    }
}
END_TEST

/* x, y, gamma, beta, mean and rstd each flush against a PROT_NONE page, at the end or at
 * the start: odd lengths end a half row 2 bytes past a 4-byte boundary, mid-vector. */
START_TEST(test_half_guard)
{
    static const size_t sizes[] = { 1, 3, 7, 9, 15, 17, 31, 33, 63, 65, 257, 1001, 16 };
    HALF_SETUP("guard");
    hinputs in = hinputs_alloc(c, 3, 1001);
    size_t count = quick ? 9 : sizeof sizes / sizeof sizes[0];
    for (size_t k = 0; k < count; k++)
        for (int side = GUARD_END; side <= GUARD_START; side++)
            for (int kind = 0; kind < 2; kind++) {
                size_t n = sizes[k];
                int layout = (int)(k + (size_t)side + (size_t)kind) % 4;
                if (layout == 2 && c.x != c.y)
                    layout = 1;
                hspec s = dense_spec(kind, 1 + (n + (size_t)layout) % 3, n, eps_any(&r));
                s.guard = side;
                s.eps_outside = rng_bool(&r);
                if (layout == 1 || layout == 2) { /* row gaps, and in place over them */
                    s.x_stride = n + 1 + rng_below(&r, 7);
                    s.y_stride = layout == 2 ? s.x_stride : n + 1 + rng_below(&r, 7);
                    s.in_place = layout == 2;
                }
                s.nontemporal = layout == 3; /* the streaming path has its own head and tail */
                gen_case(&r, &in, s.rows, n);
                run_hcase(v, &s, &in, 3, "guard");
            }
}
END_TEST

/* Rows built to break naive arithmetic, at the edges of each input and output format. */
START_TEST(test_half_adversarial)
{
    HALF_SETUP("adversarial");
    size_t nmax = 4097;
    hinputs in = hinputs_alloc(c, 3, nmax);
    char label[96];

    /* |mean| >> std as far as the input type resolves it: rows with 1-2 significant bits
     * of spread below the mean's (f16 has 11, bf16 8). Row 2 flips the sign. */
    {
        static const double f32_ratios[] = { 1e2, 1e4, 1e6 }, f16_ratios[] = { 1e1, 1e2, 1e3 },
                            bf16_ratios[] = { 1e1, 3e1, 1e2 };
        static const double f32_scales[] = { 1e-3, 1.0, 1e3 }, f16_scales[] = { 1e-2, 1.0, 30.0 },
                            bf16_scales[] = { 1e-30, 1.0, 1e30 };
        const double *ratios = c.x == NORM_F32 ? f32_ratios : c.x == NORM_F16 ? f16_ratios : bf16_ratios;
        const double *scales = c.x == NORM_F32 ? f32_scales : c.x == NORM_F16 ? f16_scales : bf16_scales;
        static const size_t sizes[] = { 7, 64, 1000, 4097 };
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++)
                for (int j = 0; j < (quick ? 1 : 2); j++) { /* two of the sizes, in rotation */
                    size_t k = (size_t)(a + 2 * b + 2 * j) % 4, n = quick && k == 3 ? 300 : sizes[k];
                    int kind = (a + b + j) % 2 ? 1 : rng_below(&r, 4) != 0;
                    double sc = scales[a], mu = ratios[b] * sc;
                    for (size_t i = 0; i < n; i++) {
                        in.xf[i] = clamp_to(mu + sc * fast_normal(&r), c.x);
                        in.xf[n + i] = clamp_to(mu * 1.001 + sc * fast_normal(&r), c.x);
                        in.xf[2 * n + i] = clamp_to(-mu + sc * fast_normal(&r), c.x);
                    }
                    gen_params_only(&r, &in, 3, n);
                    hspec s = dense_spec(kind, 3, n, rng_bool(&r) ? 0.0f : 1e-5f);
                    snprintf(label, sizeof label, "mean/std %g, std %g", ratios[b], sc);
                    run_hcase(v, &s, &in, (int)rng_below(&r, 4), label);
                }
    }

    /* The extremes of the input type. */
    for (int kind = 0; kind < 2; kind++)
        for (int what = 0; what < 8; what++) {
            static const char *const names[] = {
                "f16 max magnitude, small spread", "f16 all 65504", "f16 subnormals",
                "f16 subnormals and normals", "huge (squares overflow f32)", "tiny (squares underflow f32)",
                "one huge element", "near the type's max"
            };
            if (what < 4 && c.x != NORM_F16)
                continue;
            size_t n = what == 1 ? 37 : 5 + rng_below(&r, quick ? 300 : 1000);
            double huge = c.x == NORM_F16 ? 6e4 : c.x == NORM_BF16 ? 1e38 : 1e30;
            double tiny = c.x == NORM_F16 ? 1e-7 : 1e-38;
            for (size_t row = 0; row < 3; row++) {
                float *x = in.xf + row * n;
                for (size_t i = 0; i < n; i++) {
                    double g = fast_normal(&r), sign = rng_bool(&r) ? 1.0 : -1.0;
                    switch (what) {
                    case 0: /* 65504 - 32k: the top binade, std ~ 70 against |mean| ~ 65400 */
                        x[i] = (float)((kind || row == 1 ? 1.0 : sign) * (65504.0 - 32.0 * rng_below(&r, 8)));
                        if (row == 2)
                            x[i] = -x[i];
                        break;
                    case 1: x[i] = row == 1 ? -65504.0f : 65504.0f; break;
                    case 2: x[i] = (float)ldexp((double)((int)rng_below(&r, 2047) - 1023), -24); break;
                    case 3: x[i] = (float)(rng_below(&r, 3) ? ldexp(g * 500, -24) : g * 1e-3); break;
                    case 4: x[i] = clamp_to(huge * g, c.x); break;
                    case 5: x[i] = (float)(tiny * (kind ? 3.0 + g : g)); break;
                    case 6: x[i] = (float)g; break;
                    case 7: x[i] = clamp_to(sign * (double)type_max(c.x) * rng_uniform(&r, 0.5, 1.0), c.x); break;
                    }
                }
                if (what == 6)
                    x[rng_below(&r, (uint32_t)n)] = clamp_to(c.x == NORM_F16 ? 6e4 : 3e38, c.x);
            }
            gen_params_only(&r, &in, 3, n);
            float eps = what == 5 || what == 2 ? (rng_bool(&r) ? 0.0f : 1e-6f) : eps_any(&r);
            hspec s = dense_spec(kind, 3, n, eps);
            s.eps_outside = rng_bool(&r);
            run_hcase(v, &s, &in, (int)rng_below(&r, 4), names[what]);
        }

    /* Outputs beyond the output type's range: gamma = 60000 (f16 out) or 3e38 (bf16 out)
     * on rows whose |x_hat| is near 0.26 or near 1.39, never near 1, so each result is
     * clearly finite or clearly Inf: the infinities must be the oracle's exactly. */
    if (c.y != NORM_F32 && !(c.y == NORM_BF16 && c.p == NORM_F16))
        for (int kind = 0; kind < 2; kind++)
            for (int t = 0; t < 2; t++) {
                size_t n = t ? 33 : 200 + rng_below(&r, 100);
                double big = c.y == NORM_F16 ? 60000.0 : 3e38;
                for (size_t i = 0; i < 3 * n; i++) {
                    double m = rng_bool(&r) ? 0.3 : 1.6;
                    in.xf[i] = (float)((rng_bool(&r) ? 1 : -1) * m * (1.0 + 0.03 * fast_normal(&r)) * (t ? 1e-2 : 10.0));
                }
                for (size_t i = 0; i < n; i++) {
                    in.gf[i] = (float)((rng_below(&r, 4) ? 1 : -1) * big);
                    in.bf[i] = (float)(0.5 * fast_normal(&r));
                }
                encode(&in, 3, n);
                hspec s = dense_spec(kind, 3, n, 0.0f);
                s.strict_inf = true;
                s.eps_outside = rng_bool(&r);
                run_hcase(v, &s, &in, 1 + 2 * (int)rng_below(&r, 2), "outputs overflow");
                ck_assert_msg(last_case_infs > 0, "%s: the overflow test made no infinities", test_context);
            }

    /* Outputs in the output type's subnormal range: gamma tiny (and beta tinier). */
    if (c.y != NORM_F32)
        for (int kind = 0; kind < 2; kind++) {
            size_t n = 1 + rng_below(&r, 100);
            /* f16 subnormals are below 2^-14 (6.1e-5), bf16's below 2^-126 (1.2e-38). */
            double g = c.y == NORM_F16 ? 1e-6 : c.p == NORM_F16 ? 0.0 : 1e-39;
            if (g == 0.0)
                continue; /* f16 gamma cannot reach bf16's subnormals */
            gen_row(&r, in.xf, 3 * n, fast_normal, 1.0, T_F32);
            for (size_t i = 0; i < n; i++) {
                in.gf[i] = (float)(g * rng_uniform(&r, -3, 3));
                in.bf[i] = (float)(g * 0.1 * fast_normal(&r));
            }
            encode(&in, 3, n);
            hspec s = dense_spec(kind, 3, n, eps_any(&r));
            s.eps_outside = rng_bool(&r);
            run_hcase(v, &s, &in, 1 + 2 * (int)rng_below(&r, 2), "subnormal outputs");
        }

    /* Constant rows and rows of zeros, eps > 0. */
    static const float consts[] = { 0.0f, 3.5f, -7e-3f, 1e3f };
    for (int k = 0; k < 4; k++)
        for (int kind = 0; kind < 2; kind++) {
            size_t n = 1 + rng_below(&r, 200);
            for (size_t i = 0; i < 3 * n; i++)
                in.xf[i] = consts[k];
            gen_params_only(&r, &in, 3, n);
            hspec s = dense_spec(kind, 3, n, eps_values[1 + rng_below(&r, 3)]);
            s.eps_outside = rng_bool(&r);
            snprintf(label, sizeof label, "constant %g", (double)consts[k]);
            run_hcase(v, &s, &in, (int)rng_below(&r, 4), label);
        }

    /* Every decimal scale the input type holds (every third one in quick runs), across the
     * thresholds where the f32 sums stop being trustworthy. */
    int lo = c.x == NORM_F16 ? -7 : c.x == NORM_BF16 ? -40 : -45, hi = c.x == NORM_F16 ? 4 : 38;
    for (int e = lo; e <= hi; e += quick ? 3 : (c.x == NORM_F16 ? 1 : 2)) {
        int kind = (e - lo) % 2;
        size_t n = e % 2 ? 37 : 256;
        for (size_t i = 0; i < 2 * n; i++)
            in.xf[i] = clamp_to(pow(10.0, e) * ((kind ? 2.0 : 0.0) + fast_normal(&r)), c.x);
        gen_params_only(&r, &in, 2, n);
        hspec s = dense_spec(kind, 2, n, e % 3 ? 0.0f : 1e-6f);
        s.eps_outside = rng_bool(&r);
        snprintf(label, sizeof label, "scale 1e%d", e);
        run_hcase(v, &s, &in, (int)rng_below(&r, 4), label);
    }
}
END_TEST

/* NaN and +-Inf inside rows, between ordinary rows, including signalling NaNs and NaNs with
 * payloads in the input type's own encoding; results that are NaN by definition. NaN exactly
 * where the oracle has NaN, its infinities and zeros, finite values within 1 ulp. */
START_TEST(test_half_special)
{
    static const size_t sizes[] = { 1, 5, 17, 67, 3, 4, 16, 259 };
    static const char *const names[] = { "NaN", "NaN first", "+Inf", "-Inf", "+Inf and -Inf", "Inf last",
                                         "all NaN", "zeros, eps 0", "constant, eps 0", "NaN payloads" };
    HALF_SETUP("special");
    hinputs in = hinputs_alloc(c, 4, 259);
    size_t count = quick ? 4 : 8;
    for (size_t k = 0; k < count; k++)
        for (int what = 0; what < 10; what++)
            for (int kind = 0; kind < 2; kind++) {
                size_t n = sizes[k];
                gen_case(&r, &in, 4, n);
                for (size_t row = 1; row < 4; row += 2) { /* rows 1 and 3; 0 and 2 stay ordinary */
                    float *x = in.xf + row * n;
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
                encode(&in, 4, n);
                if (what == 9)
                    for (size_t row = 1; row < 4; row += 2)
                        poke_nan(in.x, in.xf, row * n + rng_below(&r, (uint32_t)n), c.x, (int)row + kind);
                hspec s = dense_spec(kind, 4, n, what == 7 || what == 8 ? 0.0f : eps_any(&r));
                s.eps_outside = rng_bool(&r);
                run_hcase(v, &s, &in, (int)rng_below(&r, 4), names[what]);
            }
}
END_TEST

/* ---- the tcases ---------------------------------------------------------------------------- */

static int combo_dups[HALF_NVARIANTS];

bool half_add_tcase(Suite *s, int v)
{
    static char names[HALF_NVARIANTS][32];
    if (!hstats)
        hstats = shared_stats_alloc(sizeof(half_stats) * HALF_NVARIANTS * 3);
    const norm_kernels *k = norm_kernels_variant(half_variant_names[v]);
    if (!k)
        return false;
    snprintf(names[v], sizeof names[v], "%s/half", half_variant_names[v]);
    TCase *tc = checkasm_tcase(names[v]);
    int added = 0;
    const char *dup_of = NULL;
    for (int c = 0; c < NCOMBOS; c++) {
        int same = earlier_variant_with_kernels(v, k, combos[c]);
        if (same >= 0) {
            combo_dups[v]++;
            dup_of = half_variant_names[same];
            continue;
        }
        int i = LOOP_INDEX(v, c);
        tcase_add_loop_test(tc, test_half_tails, i, i + 1);
        tcase_add_loop_test(tc, test_half_large, i, i + 1);
        tcase_add_loop_test(tc, test_half_layouts, i, i + 1);
        tcase_add_loop_test(tc, test_half_guard, i, i + 1);
        tcase_add_loop_test(tc, test_half_adversarial, i, i + 1);
        tcase_add_loop_test(tc, test_half_special, i, i + 1);
        added++;
    }
    if (combo_dups[v])
        printf("%s: %s: half precision: %d type combinations; %d run the same kernels as %s's, not repeated\n",
               PROGRAM, half_variant_names[v], added, combo_dups[v], dup_of);
    if (added) {
        suite_add_tcase(s, tc);
        tested[v] = true;
    }
    return true;
}

void half_print_summary(void)
{
    for (int v = 0; v < HALF_NVARIANTS; v++) {
        if (!tested[v])
            continue;
        for (int t = 0; t < 3; t++) {
            const half_stats *st = &hstats[v * 3 + t];
            if (!st->cases)
                continue;
            if (t == T_F32)
                printf("%s: %-10s -> f32  %5ld cases, worst err/bound %.4f (f32 contract)", PROGRAM,
                       half_variant_names[v], st->cases, st->worst_ratio);
            else if (v == V_ORACLE)
                printf("%s: %-10s -> %-4s %5ld cases, worst err/(1 ulp + bound) %.4f vs long double", PROGRAM,
                       half_variant_names[v], type_name(t), st->cases, st->worst_ulp);
            else
                printf("%s: %-10s -> %-4s %5ld cases, worst err/(1 ulp + bound) %.4f vs long double, "
                       "%d ulp vs oracle", PROGRAM, half_variant_names[v], type_name(t), st->cases,
                       st->worst_ulp, st->worst_steps);
            printf("; mean %.4f rstd %.4f%s\n", st->worst_mean, st->worst_rstd,
                   v == V_ORACLE ? "  (scalar oracle)" : "");
        }
    }
}
