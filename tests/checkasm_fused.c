/*
 * checkasm, engine fusions: the fused residual add (h = x + residual (+ bias), stored to
 * residual_out, then normalised) and the unit offset (scale by 1 + gamma, Gemma's RMSNorm),
 * on every kernel variant this machine can run, for both norms and all 15 type combinations
 * (x f32, f16 or bf16; y f32 or any other type; gamma, beta and bias f32 or x's type).
 *
 * What is held, case by case:
 *   (a) residual_out: bit for bit the h computed here from the definition (f32 (x + r), then
 *       + bias in f32, rounded once to x's type with tests/common.c's own conversions), and
 *       bit for bit the scalar oracle's h (NaN for NaN, whatever the payload);
 *   (b) y against the long-double reference computed from that h, under the contract of the
 *       plain kernels: f32 outputs |y - y_ref| <= 2^-20 * (|g'| * (1 + |x_hat|) + |beta|) with
 *       g' = 1 + gamma under NORM_UNIT_OFFSET (gamma otherwise, 1 without gamma); f16/bf16
 *       outputs within 1 ulp plus that bound; mean and rstd as for the plain kernels;
 *   (c) y against the oracle: NaN exactly where it has NaN, its infinities and zeros on rows
 *       with non-finite values, half outputs at most one step apart (or 1 ulp + twice the bound);
 *   (d) the fused call is bit-identical (y, mean, rstd) to the unfused sequence on the same
 *       kernel: h computed here as specified, stored, then the same table's plain kernel run
 *       on it (the unit offset stays on: it is not a fusion of two calls).
 * And nothing outside the output rows changes: canaries around every buffer and in every row
 * gap, the inputs compared with their copies, or PROT_NONE pages flush against each buffer
 * (guard test), residual and residual_out included.
 *
 * Layouts ("modes"): residual_out a buffer of its own; residual_out == residual (in place);
 * residual_out == x; y == x together with residual_out == residual. Strides of x, residual,
 * residual_out and y differ from one another wherever they may.
 *
 * Tcases "<variant>/fused", loop index variant * 16 + combination, as in checkasm_half.c.
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

/* The reference h is added here in float and must be rounded like the kernels' f32 adds. */
_Static_assert(FLT_EVAL_METHOD == 0, "float arithmetic must be evaluated in float");

#define seed checkasm_seed
#define quick checkasm_quick
#define V_ORACLE 0 /* half_variant_names[0], "scalar": the oracle's own table */

/* ---- type combinations ------------------------------------------------------------------ */

#define NCOMBOS 15
static const combo combos[NCOMBOS] = {
    { NORM_F32, NORM_F32, NORM_F32 },    { NORM_F32, NORM_F16, NORM_F32 },
    { NORM_F32, NORM_BF16, NORM_F32 },   { NORM_F16, NORM_F32, NORM_F32 },
    { NORM_F16, NORM_F16, NORM_F32 },    { NORM_F16, NORM_BF16, NORM_F32 },
    { NORM_F16, NORM_F32, NORM_F16 },    { NORM_F16, NORM_F16, NORM_F16 },
    { NORM_F16, NORM_BF16, NORM_F16 },   { NORM_BF16, NORM_F32, NORM_F32 },
    { NORM_BF16, NORM_F16, NORM_F32 },   { NORM_BF16, NORM_BF16, NORM_F32 },
    { NORM_BF16, NORM_F32, NORM_BF16 },  { NORM_BF16, NORM_F16, NORM_BF16 },
    { NORM_BF16, NORM_BF16, NORM_BF16 },
};

/* ---- what the run saw, per variant and output type -------------------------------------- */

typedef struct fstats {
    long cases, rows, h_values;
    long unfused_rows;      /* rows whose y (and statistics) matched the unfused sequence's bits */
    double worst_ratio[2];  /* f32 outputs: err/bound, [0] RMSNorm, [1] LayerNorm */
    double worst_ulp[2];    /* half outputs: ulps from the long-double reference */
    int worst_steps;        /* half outputs: representable values from the oracle's */
    double worst_mean, worst_rstd;
} fstats;

/* [variant][output type], MAP_SHARED so that forked children report back. */
static fstats *fst;
static bool tested[HALF_NVARIANTS];

/* ---- inputs ------------------------------------------------------------------------------- */

/* Dense rows and parameters encoded in their types, the same values in f32, and the reference
 * h (encoded in x's type, and as f32). */
typedef struct finputs {
    combo c;
    void *x, *r, *g, *b, *bias, *h;
    float *xf, *rf, *gf, *bf, *biasf, *hf;
} finputs;

static finputs finputs_alloc(combo c, size_t rows, size_t n)
{
    size_t xe = type_size(c.x), pe = type_size(c.p), count = rows * n;
    finputs in = { c,
                   scratch_alloc(count * xe), scratch_alloc(count * xe), scratch_alloc(n * pe),
                   scratch_alloc(n * pe), scratch_alloc(n * pe), scratch_alloc(count * xe),
                   scratch_alloc(count * sizeof(float)), scratch_alloc(count * sizeof(float)),
                   scratch_alloc(n * sizeof(float)), scratch_alloc(n * sizeof(float)),
                   scratch_alloc(n * sizeof(float)), scratch_alloc(count * sizeof(float)) };
    return in;
}

/* Rounds the f32 values drawn for x, the residual and the parameters to their types and
 * stores them. */
static void encode(const finputs *in, size_t rows, size_t n)
{
    for (size_t i = 0; i < rows * n; i++) {
        in->xf[i] = type_store(in->x, i, in->xf[i], in->c.x);
        in->rf[i] = type_store(in->r, i, in->rf[i], in->c.x);
    }
    for (size_t i = 0; i < n; i++) {
        in->gf[i] = type_store(in->g, i, in->gf[i], in->c.p);
        in->bf[i] = type_store(in->b, i, in->bf[i], in->c.p);
        in->biasf[i] = type_store(in->bias, i, in->biasf[i], in->c.p);
    }
}

/* The specification: h = (x + r) in f32, + bias in f32, rounded to x's type. */
static void compute_h(const finputs *in, size_t rows, size_t n, bool has_bias)
{
    for (size_t k = 0; k < rows; k++)
        for (size_t i = 0; i < n; i++) {
            float s = in->xf[k * n + i] + in->rf[k * n + i];
            if (has_bias)
                s = s + in->biasf[i];
            in->hf[k * n + i] = type_store(in->h, k * n + i, s, in->c.x);
        }
}

/* ---- buffers ------------------------------------------------------------------------------ */

/* Where residual_out is. */
enum mode {
    M_SEPARATE, /* a buffer of its own */
    M_H_IS_R,   /* the residual itself (in place) */
    M_H_IS_X,   /* x itself */
    M_Y_IS_X,   /* the residual itself, and y is x (both in place) */
    NMODES
};
static const char *const mode_names[NMODES] = { "separate", "residual_out=residual", "residual_out=x",
                                                "y=x, residual_out=residual" };

typedef struct fspec {
    bool layernorm;
    size_t rows, n, xs, rs, hs, ys; /* strides of x, residual, residual_out, y, in elements */
    float eps;
    bool eps_outside, nontemporal, stats, unit, has_g, has_b, has_bias;
    int mode;
    unsigned x_off, r_off, h_off, y_off, g_off, b_off, bias_off, s_off; /* elements past 64 bytes */
    int guard; /* GUARD_*, every buffer of the unit under test */
} fspec;

typedef struct fbufset {
    byte_region x, r, h, y, g, b, bias, mean, rstd;
    const void *ph; /* where h is (residual_out, or x in the unfused call) */
    norm_job job;
} fbufset;

/* The fused call's buffers (unfused false) in the spec's layout, or the unfused sequence's
 * second call (unfused true): the reference h, stored with residual_out's stride and offset,
 * normalised by the plain kernel into a y of its own with y's layout. */
static void fbufset_init(fbufset *s, const fspec *sp, const finputs *in, int guard, bool unfused)
{
    memset(s, 0, sizeof *s);
    combo c = in->c;
    size_t n = sp->n, rows = sp->rows, xe = type_size(c.x), ye = type_size(c.y), pe = type_size(c.p);
    bool y_is_x = sp->mode == M_Y_IS_X && !unfused;
    size_t ys = sp->mode == M_Y_IS_X ? sp->xs : sp->ys;
    unsigned y_off = sp->mode == M_Y_IS_X ? sp->x_off : sp->y_off;
    void *px, *pr = NULL, *ph = NULL, *py;
    if (unfused) {
        px = copy_rows(&s->x, in->h, rows, n, sp->hs, xe, sp->h_off, guard);
        s->ph = px;
    } else {
        px = copy_rows(&s->x, in->x, rows, n, sp->xs, xe, sp->x_off, guard);
        pr = copy_rows(&s->r, in->r, rows, n, sp->rs, xe, sp->r_off, guard);
        ph = sp->mode == M_SEPARATE ? byte_region_alloc(&s->h, ((rows - 1) * sp->hs + n) * xe, sp->h_off * xe, guard)
           : sp->mode == M_H_IS_X ? px : pr;
        s->ph = ph;
    }
    py = y_is_x ? px : byte_region_alloc(&s->y, ((rows - 1) * ys + n) * ye, y_off * ye, guard);
    void *pg = NULL, *pb = NULL, *pbias = NULL;
    float *pm = NULL, *prs = NULL;
    if (sp->has_g)
        memcpy(pg = byte_region_alloc(&s->g, n * pe, sp->g_off * pe, guard), in->g, n * pe);
    if (sp->has_b)
        memcpy(pb = byte_region_alloc(&s->b, n * pe, sp->b_off * pe, guard), in->b, n * pe);
    if (sp->has_bias && !unfused)
        memcpy(pbias = byte_region_alloc(&s->bias, n * pe, sp->bias_off * pe, guard), in->bias, n * pe);
    if (sp->stats)
        stats_alloc(&s->rstd, &s->mean, rows, sp->s_off, sp->layernorm, guard, &prs, &pm);
    norm_job job = {
        .y = py, .x = px, .y_stride = ys, .x_stride = unfused ? sp->hs : sp->xs, .rows = rows, .n = n,
        .gamma = pg, .beta = pb, .x_type = c.x, .y_type = c.y, .param_type = c.p, .eps = sp->eps,
        .eps_outside_sqrt = sp->eps_outside, .nontemporal = sp->nontemporal, .mean = pm, .rstd = prs,
        .unit_offset = sp->unit, .residual = pr, .residual_out = ph,
        .residual_stride = unfused ? 0 : sp->rs, .residual_out_stride = unfused ? 0 : sp->hs, .bias = pbias,
    };
    s->job = job;
}

static void fbufset_free(fbufset *s)
{
    byte_region *all[] = { &s->x, &s->r, &s->h, &s->y, &s->g, &s->b, &s->bias, &s->mean, &s->rstd };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        byte_region_free(all[i]);
}

/* ---- one case ----------------------------------------------------------------------------- */

/* Makes the spec's layout consistent with its mode: aliased buffers share stride and offset. */
static void normalise(fspec *sp, combo c)
{
    if (sp->mode == M_Y_IS_X && c.x != c.y)
        sp->mode = M_H_IS_R;
    if (sp->mode == M_H_IS_R || sp->mode == M_Y_IS_X) {
        sp->hs = sp->rs;
        sp->h_off = sp->r_off;
    } else if (sp->mode == M_H_IS_X) {
        sp->hs = sp->xs;
        sp->h_off = sp->x_off;
    }
    if (sp->mode == M_Y_IS_X) {
        sp->ys = sp->xs;
        sp->y_off = sp->x_off;
    }
}

static void describe(char *buf, size_t size, int v, combo c, const fspec *sp, const char *label)
{
    snprintf(buf, size,
             "seed=0x%016" PRIx64 " variant=%s fused x=%s y=%s params=%s %s [%s] rows=%zu n=%zu mode=%s "
             "strides x%zu r%zu h%zu y%zu eps=%g%s unit_offset=%d gamma=%d beta=%d bias=%d stats=%d "
             "nontemporal=%d offsets x%u r%u h%u y%u g%u b%u bias%u guard=%s",
             seed, half_variant_names[v], type_name(c.x), type_name(c.y), type_name(c.p),
             sp->layernorm ? "layernorm" : "rmsnorm", label, sp->rows, sp->n, mode_names[sp->mode], sp->xs,
             sp->rs, sp->hs, sp->ys, (double)sp->eps, sp->eps_outside ? " (outside sqrt)" : "", sp->unit,
             sp->has_g, sp->has_b, sp->has_bias, sp->stats, sp->nontemporal, sp->x_off, sp->r_off, sp->h_off,
             sp->y_off, sp->g_off, sp->b_off, sp->bias_off, guard_name(sp->guard));
}

/* The inputs of element i of row k, for failure messages. */
static int inputs_txt(char *buf, size_t size, const fspec *sp, const finputs *in, size_t k, size_t i)
{
    size_t j = k * sp->n + i;
    return snprintf(buf, size, "x=%.9g r=%.9g bias=%.9g -> h=%.9g gamma=%.9g beta=%.9g", (double)in->xf[j],
                    (double)in->rf[j], sp->has_bias ? (double)in->biasf[i] : 0.0, (double)in->hf[j],
                    sp->has_g ? (double)in->gf[i] : (sp->unit ? 0.0 : 1.0), sp->has_b ? (double)in->bf[i] : 0.0);
}

/* One row of y: (b) against the long-double reference and (c) against the oracle. */
static void check_y_row(const fspec *sp, const finputs *in, size_t k, const void *yrow, const void *orow,
                        ref_stats ref, bool special, fstats *st, double *worst_steps)
{
    combo c = in->c;
    size_t n = sp->n;
    const float *h = in->hf + k * n;
    char txt[256];
    for (size_t i = 0; i < n && !fail_msg[0]; i++) {
        long double g = sp->has_g ? (sp->unit ? 1.0L + (long double)in->gf[i] : (long double)in->gf[i]) : 1.0L;
        long double b = sp->has_b ? (long double)in->bf[i] : 0.0L;
        long double xhat = ((long double)h[i] - ref.mean) * ref.rstd;
        long double want = xhat * g + b;
        long double bound = contract_bound(g, xhat, b);
        float got = type_load(yrow, i, c.y);
        if (c.y == NORM_F32) {
            if (special) {
                /* The oracle's NaN/Inf/0 pattern (the oracle's own: the reference's, rounded). */
                float p = orow ? type_load(orow, i, NORM_F32) : (float)want;
                if (isnan(p) || isnan(got)) {
                    if (!(isnan(p) && isnan(got))) {
                        inputs_txt(txt, sizeof txt, sp, in, k, i);
                        FAIL("row %zu index %zu: y got %.9g, want %.9g (NaN exactly where the %s has NaN) (%s)", k,
                             i, (double)got, (double)p, orow ? "oracle" : "reference", txt);
                    }
                    continue;
                }
                if (isinf(p) || p == 0.0f || isinf(got)) {
                    if (got != p) {
                        inputs_txt(txt, sizeof txt, sp, in, k, i);
                        FAIL("row %zu index %zu: y got %.9g, want %.9g exactly (Inf/0 of the %s) (%s)", k, i,
                             (double)got, (double)p, orow ? "oracle" : "reference", txt);
                    }
                    continue;
                }
                if (!isfinite(want)) {
                    want = p;
                    bound = CONTRACT_TOL * (fabsl(g) + fabsl(b) + fabsl((long double)p)) + CONTRACT_UNDERFLOW;
                }
            }
            long double err = fabsl((long double)got - want);
            if (!(err <= bound)) {
                inputs_txt(txt, sizeof txt, sp, in, k, i);
                FAIL("row %zu index %zu: y got %.9g (0x%08x) want %.12Lg bound %.4Lg (err/bound %.3g)%s%.9g (%s)", k,
                     i, (double)got, bits_of(yrow, i, NORM_F32), want, bound, (double)(err / bound),
                     orow ? "; oracle " : "; ", orow ? (double)type_load(orow, i, NORM_F32) : 0.0, txt);
            } else if (!special) {
                st->worst_ratio[sp->layernorm] = maxd(st->worst_ratio[sp->layernorm], bound > 0 ? (double)(err / bound) : 0.0);
            }
            continue;
        }
        /* Half outputs: 1 ulp + the f32 bound from the reference, and near the oracle. */
        uint16_t gb = (uint16_t)bits_of(yrow, i, c.y);
        double ulps = 0;
        const char *what = NULL;
        if ((!orow || !special || isfinite(want)) && !check_half(gb, c.y, want, bound, &ulps))
            what = "more than 1 ulp + the f32 bound from the long-double reference";
        if (!special)
            st->worst_ulp[sp->layernorm] = maxd(st->worst_ulp[sp->layernorm], ulps);
        if (orow) {
            uint16_t ob = (uint16_t)bits_of(orow, i, c.y);
            float of = half_to_float(ob, c.y);
            int steps = half_steps(gb, ob, c.y);
            if (isnan(of) || isnan(got)) {
                if (!(isnan(of) && isnan(got)))
                    what = "NaN exactly where the oracle has NaN";
            } else if (special && (isinf(of) || isinf(got) || of == 0.0f || got == 0.0f)) {
                if (of != got)
                    what = "the oracle's Inf/0 exactly";
            } else if (steps > 1 && fabsl((long double)got - (long double)of) > type_ulp(of, c.y) + 2 * bound) {
                what = "more than 1 ulp + twice the f32 bound from the oracle";
            }
            if (steps > *worst_steps)
                *worst_steps = steps;
            if (what) {
                inputs_txt(txt, sizeof txt, sp, in, k, i);
                FAIL("row %zu index %zu: y %s: got 0x%04x (%.9g) want %.12Lg (1 ulp %.4Lg, bound %.4Lg, %.4g ulp); "
                     "oracle 0x%04x (%.9g) (%s)", k, i, what, gb, (double)got, want, type_ulp(want, c.y), bound,
                     ulps, ob, (double)of, txt);
            }
        } else if (what) {
            inputs_txt(txt, sizeof txt, sp, in, k, i);
            FAIL("row %zu index %zu: y %s: got 0x%04x (%.9g) want %.12Lg (1 ulp %.4Lg, bound %.4Lg, %.4g ulp) (%s)", k,
                 i, what, gb, (double)got, want, type_ulp(want, c.y), bound, ulps, txt);
        }
    }
}

/*
 * Runs variant v's kernel fused on the spec's layout, the oracle fused on a plain copy (unless v
 * is the oracle), and v's kernel unfused on the reference h; checks (a)-(d) and the canaries.
 */
static void run_fcase(int v, fspec *sp, const finputs *in, const char *label)
{
    combo c = in->c;
    normalise(sp, c);
    size_t n = sp->n, rows = sp->rows, xe = type_size(c.x), ye = type_size(c.y), pe = type_size(c.p);
    compute_h(in, rows, n, sp->has_bias);
    describe(test_context, sizeof test_context, v, c, sp, label);
    fail_msg[0] = '\0';

    fbufset unit, oracle, unf;
    fbufset_init(&unit, sp, in, sp->guard, false);
    if (v != V_ORACLE) {
        fbufset_init(&oracle, sp, in, GUARD_NONE, false);
        kernel_of(table_of(V_ORACLE), sp->layernorm, c)(&oracle.job);
    }
    fbufset_init(&unf, sp, in, GUARD_NONE, true);
    norm_kernel_fn *fn = kernel_of(table_of(v), sp->layernorm, c);
    fn(&unit.job);
    fn(&unf.job);

    const norm_job *u = &unit.job, *o = v != V_ORACLE ? &oracle.job : NULL;
    fstats *st = &fst[v * 3 + c.y];
    double worst_steps = 0;
    long unfused_rows = 0;
    char txt[256];
    for (size_t k = 0; k < rows && !fail_msg[0]; k++) {
        /* (a) h, bit for bit. */
        const char *hrow = (const char *)unit.ph + k * sp->hs * xe;
        const void *want_h = (const char *)in->h + k * n * xe;
        const char *ohrow = o ? (const char *)oracle.ph + k * sp->hs * xe : NULL;
        for (size_t i = 0; i < n && !fail_msg[0]; i++) {
            if (!same_value(hrow, want_h, i, c.x)) {
                inputs_txt(txt, sizeof txt, sp, in, k, i);
                FAIL("row %zu index %zu: residual_out got 0x%0*x (%.9g), want 0x%0*x (%s)", k, i,
                     c.x == NORM_F32 ? 8 : 4, bits_of(hrow, i, c.x), (double)type_load(hrow, i, c.x),
                     c.x == NORM_F32 ? 8 : 4, bits_of(want_h, i, c.x), txt);
            } else if (ohrow && !same_value(hrow, ohrow, i, c.x)) {
                inputs_txt(txt, sizeof txt, sp, in, k, i);
                FAIL("row %zu index %zu: residual_out got 0x%0*x, the oracle's 0x%0*x (%s)", k, i,
                     c.x == NORM_F32 ? 8 : 4, bits_of(hrow, i, c.x), c.x == NORM_F32 ? 8 : 4,
                     bits_of(ohrow, i, c.x), txt);
            }
        }
        if (fail_msg[0])
            break;
        st->h_values += (long)n;

        /* (b), (c): y from the long-double reference of h, and from the oracle. */
        const float *h = in->hf + k * n;
        ref_stats ref = ref_row(sp->layernorm, h, n, sp->eps, sp->eps_outside);
        bool special = row_is_special(h, n, sp->has_g ? in->gf : NULL, sp->has_b ? in->bf : NULL, ref);
        const char *yrow = (const char *)u->y + k * u->y_stride * ye;
        const char *orow = o ? (const char *)o->y + k * o->y_stride * ye : NULL;
        check_y_row(sp, in, k, yrow, orow, ref, special, st, &worst_steps);
        if (fail_msg[0])
            break;

        /* Statistics, as for the plain kernels (from the oracle on special rows). */
        mismatch m = { 0 };
        check_row_stats(u, o, k, ref, special, &st->worst_mean, &st->worst_rstd, &m);
        if (m.failed) {
            FAIL("row %zu: %s got %.9g want %.12Lg bound %.4Lg", k, m.what, m.got, m.want, m.bound);
            break;
        }

        /* (d) the unfused sequence on the same kernel: the same bits. */
        const char *frow = (const char *)unf.job.y + k * unf.job.y_stride * ye;
        for (size_t i = 0; i < n && !fail_msg[0]; i++)
            if (!same_value(yrow, frow, i, c.y)) {
                inputs_txt(txt, sizeof txt, sp, in, k, i);
                FAIL("row %zu index %zu: fused y 0x%0*x (%.9g) differs from the unfused sequence's 0x%0*x (%.9g) (%s)",
                     k, i, c.y == NORM_F32 ? 8 : 4, bits_of(yrow, i, c.y), (double)type_load(yrow, i, c.y),
                     c.y == NORM_F32 ? 8 : 4, bits_of(frow, i, c.y), (double)type_load(frow, i, c.y), txt);
            }
        if (!fail_msg[0] && u->rstd && !same_value(u->rstd, unf.job.rstd, k, NORM_F32))
            FAIL("row %zu: fused rstd %.9g differs from the unfused sequence's %.9g", k, (double)u->rstd[k],
                 (double)unf.job.rstd[k]);
        if (!fail_msg[0] && u->mean && !same_value(u->mean, unf.job.mean, k, NORM_F32))
            FAIL("row %zu: fused mean %.9g differs from the unfused sequence's %.9g", k, (double)u->mean[k],
                 (double)unf.job.mean[k]);
        if (!fail_msg[0])
            unfused_rows++;
    }

    /* Nothing outside the output rows may change, and the inputs not at all. */
    if (!fail_msg[0]) {
        bool x_written = sp->mode == M_H_IS_X || sp->mode == M_Y_IS_X;
        bool r_written = sp->mode == M_H_IS_R || sp->mode == M_Y_IS_X;
        size_t ys = u->y_stride;
        const region_rule regions[] = {
            { "x", &unit.x, rows, sp->xs * xe, n * xe, x_written ? NULL : in->x },
            { "residual", &unit.r, rows, sp->rs * xe, n * xe, r_written ? NULL : in->r },
            { "residual_out (outside the rows)", &unit.h, rows, sp->hs * xe, n * xe, NULL },
            { "y (outside the rows)", &unit.y, rows, ys * ye, n * ye, NULL },
            { "gamma", &unit.g, 1, n * pe, n * pe, in->g },
            { "beta", &unit.b, 1, n * pe, n * pe, in->b },
            { "bias", &unit.bias, 1, n * pe, n * pe, in->bias },
            { "mean (outside)", &unit.mean, 1, rows * 4, rows * 4, NULL },
            { "rstd (outside)", &unit.rstd, 1, rows * 4, rows * 4, NULL },
        };
        fail_if_clobbered(regions, sizeof regions / sizeof regions[0]);
    }

    st->cases++;
    st->rows += (long)rows;
    st->unfused_rows += unfused_rows;
    if (worst_steps > st->worst_steps)
        st->worst_steps = (int)worst_steps;
    fbufset_free(&unit);
    if (o)
        fbufset_free(&oracle);
    fbufset_free(&unf);
    if (fail_msg[0])
        ck_abort_msg("%s", fail_msg);
}

/* ---- input generators ---------------------------------------------------------------------- */

/* gamma: around 1 with either sign now and then, as the plain tests draw it; under the unit
 * offset that is the scale 1 + gamma, so gamma itself is drawn around 0. beta and the bias
 * around 0. Then everything is rounded to its type and stored. */
static void gen_params(rng *r, const finputs *in, size_t rows, size_t n, bool unit)
{
    gen_affine_params(r, in->gf, in->bf, in->biasf, n, unit);
    encode(in, rows, n);
}

/* x like a sublayer's output, the residual stream larger, both of x's type. */
static void gen_case(rng *r, const finputs *in, size_t rows, size_t n, bool unit)
{
    int t = in->c.x;
    for (size_t k = 0; k < rows; k++) {
        gen_row(r, in->xf + k * n, n, fast_normal, 1.0, t);
        gen_row(r, in->rf + k * n, n, fast_normal, pow(10.0, rng_uniform(r, -0.5, 0.5)), t);
    }
    gen_params(r, in, rows, n, unit);
}

static fspec dense_spec(bool layernorm, size_t rows, size_t n, float eps)
{
    fspec s;
    memset(&s, 0, sizeof s);
    s.layernorm = layernorm;
    s.rows = rows;
    s.n = n;
    s.xs = s.rs = s.hs = s.ys = n;
    s.eps = eps;
    s.stats = true;
    s.has_g = s.has_b = s.has_bias = true;
    return s;
}

/* Row strides of x, residual, residual_out and y all different (where the mode lets them),
 * pointers 0-3 elements past 64 bytes, random options. */
static fspec random_spec(rng *r, bool layernorm, size_t rows, size_t n, int mode)
{
    fspec s = dense_spec(layernorm, rows, n, eps_any(r));
    size_t strides[4];
    distinct_strides(r, n, strides, 4);
    s.xs = strides[0];
    s.rs = strides[1];
    s.hs = strides[2];
    s.ys = strides[3];
    random_offsets(r, (unsigned *const[]){ &s.x_off, &s.r_off, &s.h_off, &s.y_off, &s.g_off, &s.b_off, &s.bias_off,
                                           &s.s_off }, 8);
    s.mode = mode;
    s.eps_outside = rng_bool(r);
    s.nontemporal = rng_below(r, 4) == 0;
    s.stats = rng_bool(r);
    s.unit = rng_bool(r);
    s.has_g = rng_below(r, 4) != 0;
    s.has_b = rng_bool(r);
    s.has_bias = rng_bool(r);
    return s;
}

/* Each test: this variant and combination, and the combination's input stream (combo_rng). */
#define FUSED_SETUP(test)          \
    int v = _i / 16;               \
    combo c = combos[_i % 16];     \
    rng r = combo_rng("fused", test, c)

/* ---- the tests ---------------------------------------------------------------------------- */

/* Every row length up to 4 vectors of 16 plus 3, 1-3 rows, every mode in rotation, strides all
 * different, gamma/beta/bias/unit offset at random. */
START_TEST(test_fused_tails)
{
    FUSED_SETUP("tails");
    finputs in = finputs_alloc(c, 3, 67);
    int reps = quick ? 1 : 2;
    for (size_t n = 1; n <= 67; n++)
        for (int kind = 0; kind < 2; kind++)
            for (int k = 0; k < reps; k++) {
                int mode = (int)(n + (size_t)kind * 2 + (size_t)k) % NMODES;
                bool dense = rng_below(&r, 4) == 0;
                fspec s = dense ? dense_spec(kind, 1 + rng_below(&r, 3), n, eps_any(&r))
                                : random_spec(&r, kind, 1 + rng_below(&r, 3), n, mode);
                if (dense) { /* the options still vary */
                    s.mode = mode;
                    s.unit = rng_bool(&r);
                    s.has_g = rng_below(&r, 4) != 0;
                    s.has_b = rng_bool(&r);
                    s.has_bias = rng_bool(&r);
                }
                gen_case(&r, &in, s.rows, n, s.unit);
                run_fcase(v, &s, &in, "tails");
            }
}
END_TEST

/* Longer rows: several NORM_FOLD blocks, odd lengths. */
START_TEST(test_fused_large)
{
    static const size_t sizes[] = { 128, 1000, 4101 };
    FUSED_SETUP("large");
    finputs in = finputs_alloc(c, 3, 4101);
    for (size_t k = 0; k < 3; k++)
        for (int kind = 0; kind < 2; kind++) {
            size_t n = sizes[k], rows = quick && n > 1000 ? 1 : 1 + rng_below(&r, 3);
            fspec s = random_spec(&r, kind, rows, n, (int)(k * 2 + (size_t)kind) % NMODES);
            gen_case(&r, &in, rows, n, s.unit);
            run_fcase(v, &s, &in, "large");
        }
}
END_TEST

/* Systematically: every mode, with and without bias and unit offset, both norms, gamma and
 * beta in rotation, strides all different. */
START_TEST(test_fused_layouts)
{
    static const size_t sizes[] = { 5, 37, 200 };
    FUSED_SETUP("layouts");
    finputs in = finputs_alloc(c, 3, 200);
    for (size_t k = 0; k < 3; k++)
        for (int mode = 0; mode < NMODES; mode++)
            for (int opts = 0; opts < 4; opts++)
                for (int kind = 0; kind < 2; kind++) {
                    if (quick && (opts + kind + mode) % 2)
                        continue;
                    fspec s = random_spec(&r, kind, 1 + rng_below(&r, 3), sizes[k], mode);
                    s.has_bias = opts & 1;
                    s.unit = opts & 2;
                    s.has_g = (k + (size_t)mode) % 4 != 3;
                    s.has_b = (k + (size_t)opts) % 2;
                    gen_case(&r, &in, s.rows, s.n, s.unit);
                    run_fcase(v, &s, &in, "layouts");
                }
}
END_TEST

/* Every buffer, residual and residual_out included, flush against a PROT_NONE page at its
 * end or at its start: odd lengths end a half row 2 bytes past a 4-byte boundary. */
START_TEST(test_fused_guard)
{
    static const size_t sizes[] = { 1, 3, 7, 9, 15, 16, 17, 31, 33, 63, 65, 257, 1001 };
    FUSED_SETUP("guard");
    finputs in = finputs_alloc(c, 3, 1001);
    size_t count = quick ? 8 : sizeof sizes / sizeof sizes[0];
    for (size_t k = 0; k < count; k++)
        for (int side = GUARD_END; side <= GUARD_START; side++)
            for (int kind = 0; kind < 2; kind++) {
                size_t n = sizes[k];
                int mode = (int)(k + (size_t)side * 2 + (size_t)kind) % NMODES;
                fspec s = (k + (size_t)kind) % 2 ? random_spec(&r, kind, 1 + (n + (size_t)side) % 3, n, mode)
                                                 : dense_spec(kind, 1 + (n + (size_t)side) % 3, n, eps_any(&r));
                s.mode = mode;
                s.guard = side;
                s.has_g = s.has_b = s.has_bias = s.stats = true;
                s.unit = (k + (size_t)side) % 2;
                gen_case(&r, &in, s.rows, n, s.unit);
                run_fcase(v, &s, &in, "guard");
            }
}
END_TEST

/* Rows built to break naive arithmetic, in h: |mean| >> std; x and the residual cancelling;
 * sums of squares beyond the f32 range or below it (the kernels' scalar fallback, which must
 * find h stored once and correctly even where it overwrote the residual); h overflowing x's
 * type. Row 1 is the adversarial one between ordinary rows where the case says "mixed", so the
 * fallback runs in the middle of the software pipeline. */
START_TEST(test_fused_adversarial)
{
    FUSED_SETUP("adversarial");
    size_t nmax = 4097;
    finputs in = finputs_alloc(c, 3, nmax);
    char label[96];
    int t = c.x;

    /* |mean| >> std in h, both x and the residual carrying half the mean. */
    {
        static const double f32_ratios[] = { 1e2, 1e4, 1e6 }, f16_ratios[] = { 1e1, 1e2, 1e3 },
                            bf16_ratios[] = { 1e1, 3e1, 1e2 };
        static const double f32_scales[] = { 1e-3, 1.0, 1e3 }, f16_scales[] = { 1e-2, 1.0, 30.0 },
                            bf16_scales[] = { 1e-30, 1.0, 1e30 };
        const double *ratios = t == NORM_F32 ? f32_ratios : t == NORM_F16 ? f16_ratios : bf16_ratios;
        const double *scales = t == NORM_F32 ? f32_scales : t == NORM_F16 ? f16_scales : bf16_scales;
        static const size_t sizes[] = { 7, 64, 1000, 4097 };
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) {
                size_t k = (size_t)(a + 2 * b) % 4, n = quick && k == 3 ? 300 : sizes[k];
                int kind = (a + b) % 2 ? 1 : rng_below(&r, 4) != 0;
                double sc = scales[a], mu = ratios[b] * sc;
                double means[3] = { mu, mu * 1.001, -mu };
                for (size_t row = 0; row < 3; row++)
                    for (size_t i = 0; i < n; i++) {
                        in.xf[row * n + i] = clamp_to(0.5 * means[row] + sc * 0.5 * fast_normal(&r), t);
                        in.rf[row * n + i] = clamp_to(0.5 * means[row] + sc * 0.5 * fast_normal(&r), t);
                    }
                fspec s = random_spec(&r, kind, 3, n, (a + b) % NMODES);
                s.eps = rng_bool(&r) ? 0.0f : 1e-5f;
                s.has_bias = false; /* a bias of ~1 would dwarf the spread at the smallest scales */
                gen_params(&r, &in, 3, n, s.unit);
                snprintf(label, sizeof label, "h: mean/std %g, std %g", ratios[b], sc);
                run_fcase(v, &s, &in, label);
            }
    }

    /* x = -residual + small: h is the small part (exact in f32 by Sterbenz, then rounded). */
    for (int kind = 0; kind < 2; kind++)
        for (int mode = 0; mode < NMODES; mode++) {
            size_t n = 5 + rng_below(&r, 300);
            double big = t == NORM_F16 ? 3e3 : 1e6, small = t == NORM_F16 ? 0.5 : 1e-2;
            for (size_t i = 0; i < 3 * n; i++) {
                in.rf[i] = clamp_to(big * fast_normal(&r), t);
                in.rf[i] = round_to_type(in.rf[i], t);
                in.xf[i] = clamp_to(-(double)in.rf[i] + small * fast_normal(&r), t);
            }
            fspec s = random_spec(&r, kind, 3, n, mode);
            gen_params(&r, &in, 3, n, s.unit);
            run_fcase(v, &s, &in, "x = -residual + small (cancellation)");
        }

    /* Squares of h beyond the f32 range (x and residual 1e18..1e30, f32 and bf16 only), or
     * below it with eps = 0 (f32 and bf16 1e-30; f16: h exactly zero, x = -residual). Row 1
     * only ("mixed") or every row; every mode, so the fallback meets an overwritten residual. */
    for (int kind = 0; kind < 2; kind++)
        for (int what = 0; what < 4; what++)
            for (int mode = 0; mode < NMODES; mode++) {
                static const char *const names[] = { "huge h (squares overflow f32), mixed", "huge h, every row",
                                                     "tiny h (squares underflow f32), eps 0, mixed",
                                                     "tiny h, eps 0, every row" };
                bool huge = what < 2, mixed = what % 2 == 0;
                size_t n = 5 + rng_below(&r, quick ? 200 : 1000);
                for (size_t row = 0; row < 3; row++) {
                    float *x = in.xf + row * n, *rr = in.rf + row * n;
                    bool adv = !mixed || row == 1;
                    for (size_t i = 0; i < n; i++) {
                        double g1 = fast_normal(&r), g2 = fast_normal(&r);
                        if (!adv) {
                            x[i] = (float)g1;
                            rr[i] = (float)(2.0 * g2);
                        } else if (huge && t != NORM_F16) {
                            double scale = pow(10.0, 18 + 12 * rng_uniform(&r, 0, 1));
                            x[i] = clamp_to(scale * g1, t);
                            rr[i] = clamp_to(scale * g2, t);
                        } else if (t != NORM_F16) {
                            x[i] = (float)(1e-30 * (kind ? 3.0 + g1 : g1));
                            rr[i] = (float)(1e-30 * g2);
                        } else { /* f16: h exactly zero */
                            x[i] = round_to_type((float)(100.0 * g1), t);
                            rr[i] = -x[i];
                        }
                    }
                }
                fspec s = random_spec(&r, kind, 3, n, mode);
                s.eps = huge ? eps_any(&r) : 0.0f;
                s.has_bias = huge && rng_bool(&r); /* a bias would hide a tiny or zero h */
                gen_params(&r, &in, 3, n, s.unit);
                run_fcase(v, &s, &in, names[what]);
            }

    /* The unit offset's scale 1 + gamma near zero (gamma near -1): the bound shrinks with
     * |1 + gamma|, so u * gamma + u must not be rounded as two operations (u * gamma alone
     * is as large as u). gamma = -1 + d, |d| from 2^-2 down to 2^-12 and exactly 0. */
    for (int kind = 0; kind < 2; kind++)
        for (int e = 2; e <= 13; e++) {
            size_t n = 1 + rng_below(&r, quick ? 100 : 300);
            fspec s = random_spec(&r, kind, 1 + rng_below(&r, 3), n, e % NMODES);
            s.unit = s.has_g = true;
            gen_case(&r, &in, s.rows, n, true);
            for (size_t i = 0; i < n; i++)
                in.gf[i] = e == 13 ? -1.0f : (float)(-1.0 + ldexp(rng_uniform(&r, -1, 1), -e));
            encode(&in, s.rows, n);
            snprintf(label, sizeof label, "unit offset, gamma = -1 + U(-1,1) * 2^-%d", e);
            run_fcase(v, &s, &in, e == 13 ? "unit offset, gamma = -1 exactly" : label);
        }

    /* h overflowing x's type: x and the residual each near its largest value, same sign, at
     * one element of row 1 (h = +-Inf there: a special row) and everywhere in row 2. */
    for (int kind = 0; kind < 2; kind++)
        for (int mode = 0; mode < NMODES; mode++) {
            size_t n = 3 + rng_below(&r, 100);
            double top = (double)type_max(t) * 0.75;
            for (size_t i = 0; i < 3 * n; i++) {
                in.xf[i] = (float)fast_normal(&r);
                in.rf[i] = (float)fast_normal(&r);
            }
            size_t at = n + rng_below(&r, (uint32_t)n);
            double sign = rng_bool(&r) ? 1.0 : -1.0;
            in.xf[at] = (float)(sign * top);
            in.rf[at] = (float)(sign * top);
            for (size_t i = 2 * n; i < 3 * n; i++) {
                in.xf[i] = (float)(top * (rng_bool(&r) ? 1 : -1));
                in.rf[i] = in.xf[i];
            }
            fspec s = random_spec(&r, kind, 3, n, mode);
            gen_params(&r, &in, 3, n, s.unit);
            run_fcase(v, &s, &in, "h overflows x's type");
        }
}
END_TEST

/* NaN and +-Inf in x, in the residual, in both at one element (Inf - Inf), NaN payloads in
 * x's own encoding, in the bias; rows 1 and 3, between ordinary rows. */
START_TEST(test_fused_special)
{
    static const size_t sizes[] = { 1, 5, 17, 67, 259 };
    static const char *const names[] = { "NaN in x", "NaN in residual", "+Inf in x", "-Inf in residual",
                                         "+Inf in x, -Inf in residual (h NaN)", "Inf in x and residual, same sign",
                                         "NaN payloads in x and residual", "NaN in bias", "Inf in bias" };
    FUSED_SETUP("special");
    finputs in = finputs_alloc(c, 4, 259);
    size_t count = quick ? 3 : 5;
    for (size_t k = 0; k < count; k++)
        for (int what = 0; what < 9; what++)
            for (int kind = 0; kind < 2; kind++) {
                size_t n = sizes[k];
                int mode = (int)(k + (size_t)what + (size_t)kind) % NMODES;
                fspec s = random_spec(&r, kind, 4, n, mode);
                s.has_bias = s.has_bias || what >= 7;
                gen_case(&r, &in, 4, n, s.unit);
                for (size_t row = 1; row < 4; row += 2) {
                    size_t at = row * n + rng_below(&r, (uint32_t)n);
                    switch (what) {
                    case 0: in.xf[at] = NAN; break;
                    case 1: in.rf[at] = NAN; break;
                    case 2: in.xf[at] = INFINITY; break;
                    case 3: in.rf[at] = -INFINITY; break;
                    case 4: in.xf[at] = INFINITY; in.rf[at] = -INFINITY; break;
                    case 5: in.xf[at] = in.rf[at] = rng_bool(&r) ? INFINITY : -INFINITY; break;
                    }
                }
                if (what == 7 || what == 8)
                    in.biasf[rng_below(&r, (uint32_t)n)] = what == 7 ? NAN : -INFINITY;
                encode(&in, 4, n);
                if (what == 6)
                    for (size_t row = 1; row < 4; row += 2) {
                        size_t at = row * n + rng_below(&r, (uint32_t)n);
                        poke_nan(in.x, in.xf, at, c.x, (int)row + kind);
                        poke_nan(in.r, in.rf, row * n + rng_below(&r, (uint32_t)n), c.x, (int)row + kind + 1);
                    }
                run_fcase(v, &s, &in, names[what]);
            }
}
END_TEST

/* ---- the tcases ---------------------------------------------------------------------------- */

bool fused_add_tcase(Suite *s, int v)
{
    static char names[HALF_NVARIANTS][32];
    if (!fst)
        fst = shared_stats_alloc(sizeof(fstats) * HALF_NVARIANTS * 3);
    const norm_kernels *k = norm_kernels_variant(half_variant_names[v]);
    if (!k) {
        printf("%s: %s/fused: skipped (not compiled in or CPU lacks it)\n", PROGRAM, half_variant_names[v]);
        return false;
    }
    snprintf(names[v], sizeof names[v], "%s/fused", half_variant_names[v]);
    TCase *tc = checkasm_tcase(names[v]);
    int added = 0, dups = 0;
    const char *dup_of = NULL;
    for (int ci = 0; ci < NCOMBOS; ci++) {
        int same = earlier_variant_with_kernels(v, k, combos[ci]);
        if (same >= 0) {
            dups++;
            dup_of = half_variant_names[same];
            continue;
        }
        int i = v * 16 + ci;
        tcase_add_loop_test(tc, test_fused_tails, i, i + 1);
        tcase_add_loop_test(tc, test_fused_large, i, i + 1);
        tcase_add_loop_test(tc, test_fused_layouts, i, i + 1);
        tcase_add_loop_test(tc, test_fused_guard, i, i + 1);
        tcase_add_loop_test(tc, test_fused_adversarial, i, i + 1);
        tcase_add_loop_test(tc, test_fused_special, i, i + 1);
        added++;
    }
    if (dups)
        printf("%s: %s: fused: %d type combinations; %d run the same kernels as %s's, not repeated\n", PROGRAM,
               half_variant_names[v], added, dups, dup_of);
    if (added) {
        suite_add_tcase(s, tc);
        tested[v] = true;
    }
    return true;
}

void fused_print_summary(void)
{
    for (int v = 0; v < HALF_NVARIANTS; v++) {
        if (!tested[v])
            continue;
        for (int t = 0; t < 3; t++) {
            const fstats *st = &fst[v * 3 + t];
            if (!st->cases)
                continue;
            printf("%s: fused %-10s -> %-4s %5ld cases, %6ld rows: ", PROGRAM, half_variant_names[v], type_name(t),
                   st->cases, st->rows);
            if (t == T_F32)
                printf("worst err/bound rmsnorm %.4f layernorm %.4f", st->worst_ratio[0], st->worst_ratio[1]);
            else
                printf("worst ulp rmsnorm %.4g layernorm %.4g", st->worst_ulp[0], st->worst_ulp[1]);
            if (v != V_ORACLE && t != T_F32)
                printf(", %d ulp vs oracle", st->worst_steps);
            printf("; mean %.4f rstd %.4f; h bit-exact (%ld values); fused == unfused bit for bit: %ld/%ld rows\n",
                   st->worst_mean, st->worst_rstd, st->h_values, st->unfused_rows, st->rows);
        }
    }
}
