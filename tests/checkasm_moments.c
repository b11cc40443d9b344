/*
 * checkasm, split rows: the statistics-only kernels (k->rmsnorm_moments, k->layernorm_moments),
 * norm_moments_combine, and the apply step (the norm kernels with job->moments set), on every
 * kernel variant this machine can run, x f32/f16/bf16, y f32/f16/bf16, parameters f32 or x's
 * type.
 *
 * What is held:
 *   (a) The moments kernel, each row against the long-double moments of its source (x; the
 *       residual add's h = x + residual (+ bias), rounded to x's type; or, for RMSNorm with the
 *       gate before the norm, x * silu(gate)): count exactly n; RMSNorm's mean exactly 0;
 *       |mean - mean_ref| <= 2^-20 * (|mean_ref| + std_ref); |m2 - m2_ref| <= 2^-20 * m2_ref.
 *       Rows with NaN or Inf: NaN exactly where the reference (and the oracle) has NaN, the
 *       same infinities. residual_out bit for bit the f32 add rounded to x's type computed
 *       here, and the oracle's. Nothing written but moments_out's rows (and residual_out's
 *       rows): canaries around and between everything, or PROT_NONE pages flush against
 *       every buffer.
 *   (b) Split rows: each row cut into 1..8 slices at uneven random points (slices of one
 *       element included), the moments of each slice through the variant's moments kernel,
 *       combined in a random order (left to right, or as a random tree, from an empty
 *       accumulator or not) with norm_moments_combine, then every slice normalised by the
 *       variant's norm kernel with job->moments = the combined moments (gamma, beta, the gate
 *       and y pointing at the slice's part). The whole row's y meets the contract of one call
 *       against the long-double reference of the whole row: f32 outputs
 *       |y - y_ref| <= 2^-20 * (|g| * (1 + |x_hat|) + |beta|) (g = 1 + gamma under the unit
 *       offset, times |silu(gate)| with the gate after the norm), half outputs 1 ulp + that
 *       bound; every slice's mean and rstd as check_row_stats holds them. Rows with NaN/Inf:
 *       NaN exactly where the oracle's own split has NaN, its infinities and zeros. Half
 *       outputs at most one step (or 1 ulp + twice the bound) from the oracle's split.
 *       Against one unsplit call of the same variant: f32 within twice the bound, half one
 *       step (or 1 ulp + twice the bound), the same NaN/Inf/0 pattern, the same h; the oracle
 *       with a single slice is bit for bit its unsplit call.
 *   (c) norm_moments_combine directly (the public entry point): against long double, across
 *       orders and groupings (commutative and associative within rounding), the empty slice
 *       an exact identity on both sides, acc == part doubling exactly, and errors that write
 *       nothing.
 *
 * A test of a variant whose functions (moments kernel and norm kernel of the path) are the
 * very functions an earlier variant's test ran on the same inputs is not repeated; the SIMD
 * tiers' tables are picked up as they change. Input streams: one per (test, combination),
 * the same for every variant.
 *
 * Tcases "<variant>/moments"; loop index variant * 16 + the (x, params) pair or combination.
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

/* h is added here in float and must be rounded like the kernels' f32 adds. */
_Static_assert(FLT_EVAL_METHOD == 0, "float arithmetic must be evaluated in float");

#define seed checkasm_seed
#define quick checkasm_quick
#define V_ORACLE 0 /* half_variant_names[0], "scalar": the oracle's own table */

/* ---- type combinations and paths --------------------------------------------------------- */

/* The moments kernels: [x type][bias type] (y plays no part; f32 in the streams' names). */
#define NXP 5
static const combo xps[NXP] = {
    { NORM_F32, NORM_F32, NORM_F32 },  { NORM_F16, NORM_F32, NORM_F32 },  { NORM_F16, NORM_F32, NORM_F16 },
    { NORM_BF16, NORM_F32, NORM_F32 }, { NORM_BF16, NORM_F32, NORM_BF16 },
};

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

/* The split's paths: which moments kernel and which norm kernel. */
enum { P_RMS, P_LN, P_GATE_BEFORE, P_GATE_AFTER, NPATHS };
static const char *const path_names[NPATHS] = { "rmsnorm", "layernorm", "gate-before", "gate-after" };

static bool path_ln(int path) { return path == P_LN; }
static bool path_gated(int path) { return path == P_GATE_BEFORE || path == P_GATE_AFTER; }

static norm_kernel_fn *moments_fn(const norm_kernels *k, bool layernorm, combo c)
{
    return (layernorm ? k->layernorm_moments : k->rmsnorm_moments)[c.x][c.p];
}

static norm_kernel_fn *apply_fn(const norm_kernels *k, int path, combo c)
{
    return (path == P_LN ? k->layernorm : path_gated(path) ? k->rmsnorm_gated : k->rmsnorm)[c.x][c.y][c.p];
}

/* What each variant runs, decided when the tcase is built (before Check forks): bit `kind`
 * (0 RMSNorm, 1 LayerNorm) of mom_plan, bit `path` of split_plan. */
static unsigned mom_plan[HALF_NVARIANTS][NXP];
static unsigned split_plan[HALF_NVARIANTS][NCOMBOS];

/* The first runnable variant before v with the same function(s), or -1. */
static int earlier_with_moments(int v, bool layernorm, combo c)
{
    const norm_kernels *k = norm_kernels_variant(half_variant_names[v]);
    for (int w = 0; w < v; w++) {
        const norm_kernels *kw = norm_kernels_variant(half_variant_names[w]);
        if (kw && moments_fn(kw, layernorm, c) == moments_fn(k, layernorm, c))
            return w;
    }
    return -1;
}

static int earlier_with_path(int v, int path, combo c)
{
    const norm_kernels *k = norm_kernels_variant(half_variant_names[v]);
    for (int w = 0; w < v; w++) {
        const norm_kernels *kw = norm_kernels_variant(half_variant_names[w]);
        if (kw && moments_fn(kw, path_ln(path), c) == moments_fn(k, path_ln(path), c) &&
            apply_fn(kw, path, c) == apply_fn(k, path, c))
            return w;
    }
    return -1;
}

/* ---- what the run saw ---------------------------------------------------------------------- */

typedef struct mstats {
    long cases, rows, special_rows, h_values;
    double worst_mean, worst_m2; /* err/bound against long double */
    double worst_mean_std;       /* |mean - mean_ref| / std_ref, for information */
} mstats;

typedef struct sstats {
    long cases, rows, slices, special_rows;
    long path_rows[NPATHS];
    double worst_ratio[NPATHS];  /* f32 outputs: err/bound */
    double worst_ulp[NPATHS];    /* half outputs: ulps from long double */
    double worst_unsplit;        /* f32 outputs: |split - unsplit| / bound */
    int steps_unsplit, steps_oracle;
    double worst_mean, worst_rstd;
    long stat_rows, stat_agree;  /* rows with statistics, and those every slice reported alike */
    long exact_rows;             /* the oracle, one slice: rows bit for bit its unsplit call */
} sstats;

typedef struct cstats {
    long checks;
    double worst; /* err/bound */
} cstats;

/* MAP_SHARED, so that forked children report back: [variant], [variant][y type], one. */
static mstats *mst;
static sstats *sst;
static cstats *cst;
static bool tested[HALF_NVARIANTS];

/* ---- inputs ------------------------------------------------------------------------------- */

/* Dense rows and parameters encoded in their types, the same values as f32, h (encoded and
 * f32), and the source of the moments in long double. */
typedef struct minputs {
    combo c;
    void *x, *r, *z, *h, *g, *b, *bias;
    float *xf, *rf, *zf, *hf, *gf, *bf, *biasf;
    long double *s;
} minputs;

static minputs minputs_alloc(combo c, size_t rows, size_t n)
{
    size_t xe = type_size(c.x), pe = type_size(c.p), count = rows * n, f = sizeof(float);
    minputs in = { c,
                   scratch_alloc(count * xe), scratch_alloc(count * xe), scratch_alloc(count * xe),
                   scratch_alloc(count * xe), scratch_alloc(n * pe), scratch_alloc(n * pe), scratch_alloc(n * pe),
                   scratch_alloc(count * f), scratch_alloc(count * f), scratch_alloc(count * f),
                   scratch_alloc(count * f), scratch_alloc(n * f), scratch_alloc(n * f), scratch_alloc(n * f),
                   scratch_alloc(count * sizeof(long double)) };
    return in;
}

/* Rounds the f32 values drawn to their types and stores them. */
static void encode(const minputs *in, size_t rows, size_t n)
{
    for (size_t i = 0; i < rows * n; i++) {
        in->xf[i] = type_store(in->x, i, in->xf[i], in->c.x);
        in->rf[i] = type_store(in->r, i, in->rf[i], in->c.x);
        in->zf[i] = type_store(in->z, i, in->zf[i], in->c.x);
    }
    for (size_t i = 0; i < n; i++) {
        in->gf[i] = type_store(in->g, i, in->gf[i], in->c.p);
        in->bf[i] = type_store(in->b, i, in->bf[i], in->c.p);
        in->biasf[i] = type_store(in->bias, i, in->biasf[i], in->c.p);
    }
}

static long double silu_l(long double z) { return z / (1.0L + expl(-z)); }

/* What the moments describe. */
enum { SRC_X, SRC_RES, SRC_GATE, NSRC };
static const char *const src_names[NSRC] = { "x", "residual add", "x * silu(gate)" };

/* h = (x + r) in f32, + bias in f32, rounded to x's type (the specification); the source
 * rows in long double. */
static void prepare_source(const minputs *in, size_t rows, size_t n, int src, bool has_bias)
{
    for (size_t k = 0; k < rows; k++)
        for (size_t i = 0; i < n; i++) {
            size_t j = k * n + i;
            float s = in->xf[j] + in->rf[j];
            if (has_bias)
                s = s + in->biasf[i];
            in->hf[j] = type_store(in->h, j, s, in->c.x);
            in->s[j] = src == SRC_RES ? (long double)in->hf[j]
                     : src == SRC_GATE ? (long double)in->xf[j] * silu_l(in->zf[j])
                                       : (long double)in->xf[j];
        }
}

/* gamma around +-1 (around 0 under the unit offset, whose scale is 1 + gamma), beta and the
 * bias around 0, then everything encoded. */
static void gen_params(rng *r, const minputs *in, size_t rows, size_t n, bool unit)
{
    gen_affine_params(r, in->gf, in->bf, in->biasf, n, unit);
    encode(in, rows, n);
}

/* Typical activations for x, a larger residual stream, gates of either sign. */
static void gen_case(rng *r, const minputs *in, size_t rows, size_t n, bool unit)
{
    int t = in->c.x;
    for (size_t k = 0; k < rows; k++) {
        gen_row(r, in->xf + k * n, n, fast_normal, 1.0, t);
        gen_row(r, in->rf + k * n, n, fast_normal, pow(10.0, rng_uniform(r, -0.5, 0.5)), t);
        for (size_t i = 0; i < n; i++)
            in->zf[k * n + i] = (float)(2.0 * fast_normal(r));
    }
    gen_params(r, in, rows, n, unit);
}

/* ---- reference moments ----------------------------------------------------------------------- */

/* The long-double moments of a row: LayerNorm's two passes around a mean found with a shift
 * by the first element (as tests/common.c's ref_row), RMSNorm's sum of squares. */
typedef struct lmom {
    long double mean, m2;
} lmom;

static lmom ref_moments(const long double *s, size_t n, bool layernorm)
{
    lmom m = { 0.0L, 0.0L };
    if (layernorm) {
        long double shift = s[0], sum = 0.0L;
        for (size_t i = 0; i < n; i++)
            sum += s[i] - shift;
        m.mean = shift + sum / (long double)n;
        for (size_t i = 0; i < n; i++)
            m.m2 += (s[i] - m.mean) * (s[i] - m.mean);
    } else {
        for (size_t i = 0; i < n; i++)
            m.m2 += s[i] * s[i];
    }
    return m;
}

/* NaN, -Inf, +Inf, finite. */
static int fclass(long double v) { return isnan(v) ? 0 : isinf(v) ? (v < 0 ? 1 : 2) : 3; }

/* Where residual_out is, for the residual add. */
enum { H_SEPARATE, H_IS_R, H_IS_X, NHMODES };
static const char *const hmode_names[NHMODES] = { "separate", "residual_out=residual", "residual_out=x" };

/* ---- (a) the moments kernels ------------------------------------------------------------------ */

typedef struct mspec {
    bool layernorm;
    int src, mode;
    bool has_bias;
    size_t rows, n, xs, rs, hs, zs;          /* strides in elements */
    unsigned x_off, r_off, h_off, z_off, bias_off, mo_off; /* elements past 64 bytes (mo: moments) */
    int guard;
} mspec;

typedef struct mbufset {
    byte_region x, r, h, z, bias, mo;
    const void *ph;
    norm_job job;
} mbufset;

static void mbufset_init(mbufset *s, const mspec *sp, const minputs *in, int guard)
{
    memset(s, 0, sizeof *s);
    combo c = in->c;
    size_t n = sp->n, rows = sp->rows, xe = type_size(c.x), pe = type_size(c.p);
    void *px = copy_rows(&s->x, in->x, rows, n, sp->xs, xe, sp->x_off, guard);
    void *pr = NULL, *ph = NULL, *pz = NULL, *pbias = NULL;
    if (sp->src == SRC_RES) {
        pr = copy_rows(&s->r, in->r, rows, n, sp->rs, xe, sp->r_off, guard);
        ph = sp->mode == H_SEPARATE ? byte_region_alloc(&s->h, ((rows - 1) * sp->hs + n) * xe, sp->h_off * xe, guard)
           : sp->mode == H_IS_X ? px : pr;
        if (sp->has_bias)
            memcpy(pbias = byte_region_alloc(&s->bias, n * pe, sp->bias_off * pe, guard), in->bias, n * pe);
    }
    if (sp->src == SRC_GATE)
        pz = copy_rows(&s->z, in->z, rows, n, sp->zs, xe, sp->z_off, guard);
    norm_moments *mo = byte_region_alloc(&s->mo, rows * sizeof(norm_moments), sp->mo_off * 8, guard);
    s->ph = ph;
    norm_job job = {
        .x = px, .x_stride = sp->xs, .rows = rows, .n = n, .x_type = c.x, .y_type = NORM_F32,
        .param_type = c.p, .residual = pr, .residual_out = ph, .residual_stride = pr ? sp->rs : 0,
        .residual_out_stride = pr ? sp->hs : 0, .bias = pbias, .gate = pz, .gate_stride = pz ? sp->zs : 0,
        .gate_before = pz != NULL, .moments_out = mo,
    };
    s->job = job;
}

static void mbufset_free(mbufset *s)
{
    byte_region *all[] = { &s->x, &s->r, &s->h, &s->z, &s->bias, &s->mo };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        byte_region_free(all[i]);
}

/* Aliased buffers share stride and offset; only RMSNorm has the gate. */
static void mnormalise(mspec *sp)
{
    if (sp->src == SRC_GATE && sp->layernorm)
        sp->src = SRC_RES;
    if (sp->src != SRC_RES)
        sp->has_bias = false;
    if (sp->mode == H_IS_R) {
        sp->hs = sp->rs;
        sp->h_off = sp->r_off;
    } else if (sp->mode == H_IS_X) {
        sp->hs = sp->xs;
        sp->h_off = sp->x_off;
    }
}

static mspec random_mspec(rng *r, bool layernorm, size_t rows, size_t n, int src)
{
    mspec s;
    memset(&s, 0, sizeof s);
    s.layernorm = layernorm;
    s.src = src;
    s.rows = rows;
    s.n = n;
    s.xs = n + (rng_bool(r) ? 0 : 1 + rng_below(r, 9));
    s.rs = n + (rng_bool(r) ? 0 : 1 + rng_below(r, 9));
    s.hs = n + (rng_bool(r) ? 0 : 1 + rng_below(r, 9));
    s.zs = n + (rng_bool(r) ? 0 : 1 + rng_below(r, 9));
    random_offsets(r, (unsigned *const[]){ &s.x_off, &s.r_off, &s.h_off, &s.z_off, &s.bias_off, &s.mo_off }, 6);
    s.mode = (int)rng_below(r, NHMODES);
    s.has_bias = rng_bool(r);
    return s;
}

static void mdescribe(char *buf, size_t size, int v, combo c, const mspec *sp, const char *label)
{
    snprintf(buf, size,
             "seed=0x%016" PRIx64 " variant=%s moments x=%s params=%s %s [%s] source=%s%s%s bias=%d rows=%zu n=%zu "
             "strides x%zu r%zu h%zu gate%zu offsets x%u r%u h%u gate%u bias%u moments%u guard=%s",
             seed, half_variant_names[v], type_name(c.x), type_name(c.p), sp->layernorm ? "layernorm" : "rmsnorm",
             label, src_names[sp->src], sp->src == SRC_RES ? " " : "", sp->src == SRC_RES ? hmode_names[sp->mode] : "",
             sp->has_bias, sp->rows, sp->n, sp->xs, sp->rs, sp->hs, sp->zs, sp->x_off, sp->r_off, sp->h_off, sp->z_off,
             sp->bias_off, sp->mo_off, guard_name(sp->guard));
}

/* One row's moments against the reference (and the oracle's, o). */
static void check_moments(const mspec *sp, size_t k, norm_moments got, const norm_moments *o, lmom ref, mstats *st)
{
    size_t n = sp->n;
    if (got.count != (double)n) {
        FAIL("row %zu: count %.17g, want %zu", k, got.count, n);
        return;
    }
    if (!sp->layernorm && got.mean != 0.0) {
        FAIL("row %zu: RMSNorm moments are about zero, but mean is %.17g", k, got.mean);
        return;
    }
    if (!isfinite(ref.mean) || !isfinite(ref.m2)) {
        st->special_rows++;
        const char *what[2] = { "mean", "m2" };
        double g[2] = { got.mean, got.m2 };
        long double w[2] = { ref.mean, ref.m2 };
        for (int f = 0; f < 2; f++) {
            if (fclass(w[f]) != 3 ? fclass(g[f]) != fclass(w[f]) : !isfinite(g[f]))
                FAIL("row %zu (non-finite values): %s got %.17g, want %Lg (NaN for NaN, the same infinity)", k,
                     what[f], g[f], w[f]);
            else if (o && fclass(g[f]) != fclass(f ? o->m2 : o->mean))
                FAIL("row %zu (non-finite values): %s got %.17g, the oracle's %.17g", k, what[f], g[f],
                     f ? o->m2 : o->mean);
        }
        return;
    }
    long double std = sqrtl(ref.m2 / (long double)n);
    long double mb = CONTRACT_TOL * (fabsl(ref.mean) + std) + DBL_TRUE_MIN;
    long double m2b = CONTRACT_TOL * ref.m2 + DBL_TRUE_MIN;
    long double me = fabsl((long double)got.mean - ref.mean), m2e = fabsl((long double)got.m2 - ref.m2);
    if (!(me <= mb)) {
        FAIL("row %zu: mean got %.17g want %.20Lg bound %.4Lg (std %.6Lg)", k, got.mean, ref.mean, mb, std);
        return;
    }
    if (!(m2e <= m2b)) {
        FAIL("row %zu: m2 got %.17g want %.20Lg bound %.4Lg (relative error %.3Lg)", k, got.m2, ref.m2, m2b,
             m2e / ref.m2);
        return;
    }
    if (o && !(fabsl((long double)got.mean - o->mean) <= 2 * mb && fabsl((long double)got.m2 - o->m2) <= 2 * m2b)) {
        FAIL("row %zu: moments (%.17g, %.17g) too far from the oracle's (%.17g, %.17g)", k, got.mean, got.m2, o->mean,
             o->m2);
        return;
    }
    st->worst_mean = maxd(st->worst_mean, (double)(me / mb));
    st->worst_m2 = maxd(st->worst_m2, (double)(m2e / m2b));
    if (std > 0)
        st->worst_mean_std = maxd(st->worst_mean_std, (double)(me / std));
}

/* Runs variant v's moments kernel on the spec's layout (and the oracle's on a plain copy) and
 * checks everything (a) says. */
static void run_mcase(int v, mspec *sp, const minputs *in, const char *label)
{
    combo c = in->c;
    mnormalise(sp);
    size_t n = sp->n, rows = sp->rows, xe = type_size(c.x), pe = type_size(c.p);
    prepare_source(in, rows, n, sp->src, sp->has_bias);
    mdescribe(test_context, sizeof test_context, v, c, sp, label);
    fail_msg[0] = '\0';

    mbufset unit, orc;
    mbufset_init(&unit, sp, in, sp->guard);
    if (v != V_ORACLE) {
        mbufset_init(&orc, sp, in, GUARD_NONE);
        moments_fn(table_of(V_ORACLE), sp->layernorm, c)(&orc.job);
    }
    moments_fn(table_of(v), sp->layernorm, c)(&unit.job);

    mstats *st = &mst[v];
    for (size_t k = 0; k < rows && !fail_msg[0]; k++) {
        if (sp->src == SRC_RES) {
            const char *hrow = (const char *)unit.ph + k * sp->hs * xe;
            const char *want = (const char *)in->h + k * n * xe;
            const char *ohrow = v != V_ORACLE ? (const char *)orc.ph + k * sp->hs * xe : NULL;
            for (size_t i = 0; i < n && !fail_msg[0]; i++) {
                size_t j = k * n + i;
                if (!same_value(hrow, want, i, c.x))
                    FAIL("row %zu index %zu: residual_out got 0x%x, want 0x%x (x=%.9g r=%.9g bias=%.9g)", k, i,
                         bits_of(hrow, i, c.x), bits_of(want, i, c.x), (double)in->xf[j], (double)in->rf[j],
                         sp->has_bias ? (double)in->biasf[i] : 0.0);
                else if (ohrow && !same_value(hrow, ohrow, i, c.x))
                    FAIL("row %zu index %zu: residual_out got 0x%x, the oracle's 0x%x", k, i, bits_of(hrow, i, c.x),
                         bits_of(ohrow, i, c.x));
            }
            if (fail_msg[0])
                break;
            st->h_values += (long)n;
        }
        lmom ref = ref_moments(in->s + k * n, n, sp->layernorm);
        check_moments(sp, k, unit.job.moments_out[k], v != V_ORACLE ? &orc.job.moments_out[k] : NULL, ref, st);
    }

    if (!fail_msg[0]) {
        bool x_written = sp->src == SRC_RES && sp->mode == H_IS_X, r_written = sp->src == SRC_RES && sp->mode == H_IS_R;
        size_t mb = rows * sizeof(norm_moments);
        const region_rule regions[] = {
            { "x", &unit.x, rows, sp->xs * xe, n * xe, x_written ? NULL : in->x },
            { "residual", &unit.r, rows, sp->rs * xe, n * xe, r_written ? NULL : in->r },
            { "residual_out (outside the rows)", &unit.h, rows, sp->hs * xe, n * xe, NULL },
            { "gate", &unit.z, rows, sp->zs * xe, n * xe, in->z },
            { "bias", &unit.bias, 1, n * pe, n * pe, in->bias },
            { "moments_out (outside the rows)", &unit.mo, 1, mb, mb, NULL },
        };
        fail_if_clobbered(regions, sizeof regions / sizeof regions[0]);
    }

    st->cases++;
    st->rows += (long)rows;
    mbufset_free(&unit);
    if (v != V_ORACLE)
        mbufset_free(&orc);
    if (fail_msg[0])
        ck_abort_msg("%s", fail_msg);
}

/* Each moments test: this variant and (x, params) pair, which kinds run, and the pair's stream. */
#define MOM_SETUP(test)                         \
    int v = _i / 16;                            \
    combo c = xps[_i % 16];                     \
    unsigned kinds = mom_plan[v][_i % 16];      \
    rng r = combo_rng("moments", test, c)

/* The sources in rotation, RMSNorm's including the gate. */
static int pick_src(size_t i, bool layernorm) { return layernorm ? (int)(i % 2) : (int)(i % NSRC); }

START_TEST(test_moments_tails)
{
    MOM_SETUP("tails");
    minputs in = minputs_alloc(c, 3, 67);
    for (size_t n = 1; n <= 67; n++)
        for (int kind = 0; kind < 2; kind++)
            for (int rep = 0; rep < (quick ? 1 : 2); rep++) {
                mspec s = random_mspec(&r, kind, 1 + rng_below(&r, 3), n, pick_src(n + (size_t)rep, kind));
                gen_case(&r, &in, s.rows, n, false);
                if (kinds >> kind & 1)
                    run_mcase(v, &s, &in, "tails");
            }
}
END_TEST

START_TEST(test_moments_large)
{
    static const size_t sizes[] = { 255, 1000, 4096, 4099, 65541 };
    MOM_SETUP("large");
    minputs in = minputs_alloc(c, 2, 65541);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int kind = 0; kind < 2; kind++)
            for (int src = 0; src < NSRC; src++) {
                size_t n = sizes[k], rows = n > 5000 ? 1 : 1 + rng_below(&r, 2);
                if ((kind && src == SRC_GATE) || (quick && n > 5000))
                    continue;
                mspec s = random_mspec(&r, kind, rows, n, src);
                gen_case(&r, &in, rows, n, false);
                if (kinds >> kind & 1)
                    run_mcase(v, &s, &in, "large");
            }
}
END_TEST

/* Every buffer flush against a PROT_NONE page at its end or its start, moments_out included:
 * odd lengths end a half row 2 bytes past a 4-byte boundary. */
START_TEST(test_moments_guard)
{
    static const size_t sizes[] = { 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 257, 4099 };
    MOM_SETUP("guard");
    minputs in = minputs_alloc(c, 3, 4099);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int side = GUARD_END; side <= GUARD_START; side++)
            for (int kind = 0; kind < 2; kind++) {
                size_t n = sizes[k];
                mspec s = random_mspec(&r, kind, 1 + (n + (size_t)side) % 3, n, pick_src(k + (size_t)side, kind));
                s.guard = side;
                s.has_bias = true;
                gen_case(&r, &in, s.rows, n, false);
                if (kinds >> kind & 1)
                    run_mcase(v, &s, &in, "guard");
            }
}
END_TEST

/* Rows built to break naive arithmetic; row 1 the adversarial one between ordinary rows where
 * the case says "mixed". */
START_TEST(test_moments_adversarial)
{
    MOM_SETUP("adversarial");
    minputs in = minputs_alloc(c, 4, 4099), in4 = in; /* rows 1 and 3 of 4 for the non-finite values */
    int t = c.x;
    char label[128];

    /* |mean| >> std: 1e4 + N(0,1) and beyond, as far as the type holds the spread. */
    {
        static const double f32_ratios[] = { 1e2, 1e4, 1e6 }, f16_ratios[] = { 1e1, 1e2, 1e3 },
                            bf16_ratios[] = { 1e1, 3e1, 1e2 };
        static const double f32_scales[] = { 1e-3, 1.0, 1e3 }, f16_scales[] = { 1e-2, 1.0, 30.0 },
                            bf16_scales[] = { 1e-30, 1.0, 1e30 };
        static const size_t sizes[] = { 7, 64, 1000, 4099 };
        const double *ratios = t == NORM_F32 ? f32_ratios : t == NORM_F16 ? f16_ratios : bf16_ratios;
        const double *scales = t == NORM_F32 ? f32_scales : t == NORM_F16 ? f16_scales : bf16_scales;
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++)
                for (int kind = 0; kind < 2; kind++) {
                    size_t n = sizes[(size_t)(a + 2 * b + kind) % 4];
                    double sc = scales[a], mu = ratios[b] * sc, means[3] = { mu, mu * 1.001, -mu };
                    int src = pick_src((size_t)(a + b), kind);
                    for (size_t row = 0; row < 3; row++)
                        for (size_t i = 0; i < n; i++) {
                            double part = src == SRC_RES ? 0.5 : 1.0;
                            in.xf[row * n + i] = clamp_to(part * means[row] + sc * part * fast_normal(&r), t);
                            in.rf[row * n + i] = clamp_to(part * means[row] + sc * part * fast_normal(&r), t);
                            in.zf[row * n + i] = (float)(8.0 + fast_normal(&r)); /* silu(z) ~ z: the mean survives */
                        }
                    mspec s = random_mspec(&r, kind, 3, n, src);
                    s.has_bias = false;
                    gen_params(&r, &in, 3, n, false); /* and encodes the rows */
                    snprintf(label, sizeof label, "mean/std %g, std %g", ratios[b], sc);
                    if (kinds >> kind & 1)
                        run_mcase(v, &s, &in, label);
                }
    }

    /* Magnitudes: |x| to 1e30 (squares beyond f32), tiny 1e-30 and subnormals (squares below
     * it), the largest finite values, constant rows, x = -residual + small; each mixed (row 1)
     * and on every row. f16 gets its own range. */
    static const char *const names[] = { "huge 1e30", "huge 1e18..1e30", "largest finite", "tiny 1e-30",
                                         "subnormal", "constant", "zeros", "x = -residual + small" };
    for (int what = 0; what < 8; what++)
        for (int kind = 0; kind < 2; kind++)
            for (int mixed = 0; mixed < 2; mixed++) {
                size_t n = 1 + rng_below(&r, quick ? 200 : 700);
                int src = pick_src((size_t)(what + mixed), kind);
                if (what == 7 || (what == 2 && src == SRC_GATE))
                    src = SRC_RES; /* x * silu(gate) of the largest values would leave f32's range */
                double big = t == NORM_F16 ? 3e4 : 1e30, small = t == NORM_F16 ? 1e-4 : 1e-30,
                       sub = t == NORM_F16 ? 3e-6 : 1e-40;
                double cval = rng_below(&r, 3) == 0 ? 1e-30 : rng_uniform(&r, -100, 100);
                for (size_t row = 0; row < 3; row++)
                    for (size_t i = 0; i < n; i++) {
                        size_t j = row * n + i;
                        double g1 = fast_normal(&r), g2 = fast_normal(&r);
                        in.zf[j] = (float)(2.0 * fast_normal(&r));
                        if (mixed && row != 1) {
                            in.xf[j] = (float)g1;
                            in.rf[j] = (float)g2;
                            continue;
                        }
                        switch (what) {
                        case 0: in.xf[j] = clamp_to(big * g1, t); in.rf[j] = clamp_to(big * g2, t); break;
                        case 1: {
                            double sc = t == NORM_F16 ? pow(10.0, 3 + rng_uniform(&r, 0, 1.5))
                                                      : pow(10.0, 18 + 12 * rng_uniform(&r, 0, 1));
                            in.xf[j] = clamp_to(sc * g1, t);
                            in.rf[j] = clamp_to(sc * g2, t);
                            break;
                        }
                        case 2:
                            in.xf[j] = (float)((rng_bool(&r) ? 1 : -1) * (double)type_max(t));
                            in.rf[j] = 0.0f;
                            break;
                        case 3: in.xf[j] = (float)(small * (kind ? 3.0 + g1 : g1)); in.rf[j] = (float)(small * g2); break;
                        case 4: in.xf[j] = (float)(sub * (kind ? 3.0 + g1 : g1)); in.rf[j] = (float)(sub * g2); break;
                        case 5: in.xf[j] = clamp_to(cval, t); in.rf[j] = 0.0f; break;
                        case 6: in.xf[j] = 0.0f; in.rf[j] = 0.0f; break;
                        case 7:
                            in.rf[j] = round_to_type(clamp_to((t == NORM_F16 ? 3e3 : 1e6) * g2, t), t);
                            in.xf[j] = clamp_to(-(double)in.rf[j] + (t == NORM_F16 ? 0.5 : 1e-2) * g1, t);
                            break;
                        }
                    }
                mspec s = random_mspec(&r, kind, 3, n, src);
                if (what >= 2 && what <= 6)
                    s.has_bias = false; /* a bias would hide the magnitude under test */
                if (what == 5 || what == 6)
                    s.mode = H_IS_R;
                gen_params(&r, &in, 3, n, false); /* the bias; and encodes the rows */
                snprintf(label, sizeof label, "%s%s", names[what], mixed ? ", mixed" : ", every row");
                if (kinds >> kind & 1)
                    run_mcase(v, &s, &in, label);
            }

    /* NaN and Inf, rows 1 and 3 of 4 (0 and 2 ordinary): in x, in the residual, Inf + -Inf,
     * NaN payloads, NaN in the bias, NaN and +Inf in the gate; where they sit: anywhere,
     * first, last. */
    static const char *const snames[] = { "NaN in x", "+Inf in x", "-Inf in x", "+Inf and -Inf in x",
                                           "NaN in residual", "Inf in x, -Inf in residual", "NaN payloads in x",
                                           "NaN in bias", "NaN in gate", "+Inf in gate", "all NaN" };
    static const size_t ssizes[] = { 1, 2, 5, 17, 64, 259 };
    for (size_t k = 0; k < sizeof ssizes / sizeof ssizes[0]; k++)
        for (int what = 0; what < 11; what++)
            for (int kind = 0; kind < 2; kind++) {
                size_t n = ssizes[k];
                int src = what >= 4 && what <= 7 ? SRC_RES : what == 8 || what == 9 ? SRC_GATE : SRC_X;
                if (src == SRC_GATE && kind)
                    continue;
                if (quick && (k + (size_t)what) % 2)
                    continue;
                mspec s = random_mspec(&r, kind, 4, n, src);
                s.has_bias = s.has_bias || what == 7;
                gen_case(&r, &in4, 4, n, false);
                for (size_t row = 1; row < 4; row += 2) {
                    size_t at = row * n + (k % 3 == 0 ? 0 : k % 3 == 1 ? n - 1 : rng_below(&r, (uint32_t)n));
                    switch (what) {
                    case 0: in4.xf[at] = NAN; break;
                    case 1: in4.xf[at] = INFINITY; break;
                    case 2: in4.xf[at] = -INFINITY; break;
                    case 3: in4.xf[at] = INFINITY; in4.xf[row * n + rng_below(&r, (uint32_t)n)] = -INFINITY; break;
                    case 4: in4.rf[at] = NAN; break;
                    case 5: in4.xf[at] = INFINITY; in4.rf[at] = -INFINITY; break;
                    case 8: in4.zf[at] = NAN; break;
                    case 9: in4.zf[at] = INFINITY; break;
                    case 10: for (size_t i = 0; i < n; i++) in4.xf[row * n + i] = NAN; break;
                    }
                }
                if (what == 7)
                    in4.biasf[rng_below(&r, (uint32_t)n)] = NAN;
                encode(&in4, 4, n);
                if (what == 6)
                    for (size_t row = 1; row < 4; row += 2)
                        poke_nan(in4.x, in4.xf, row * n + rng_below(&r, (uint32_t)n), c.x, (int)row + kind);
                if (kinds >> kind & 1)
                    run_mcase(v, &s, &in4, snames[what]);
            }
}
END_TEST

/* ---- (b) split rows --------------------------------------------------------------------------- */

#define MAXK 8

typedef struct sspec {
    int path;
    bool residual, has_bias, in_place;
    int mode;                       /* residual_out's place */
    size_t rows, n, k;
    size_t cut[MAXK + 1];           /* slice j is [cut[j], cut[j + 1]) */
    size_t perm[MAXK];              /* the order in which the slices' moments are combined */
    uint32_t pick[MAXK];            /* the tree's random choices */
    bool tree, empty_first;
    size_t xs, rs, hs, zs, ys;
    unsigned x_off, r_off, h_off, z_off, y_off, g_off, b_off, bias_off, s_off;
    float eps;
    bool eps_outside, nontemporal, unit, has_g, has_b, stats;
    int guard;
} sspec;

typedef struct sbufset {
    byte_region x, r, h, z, bias, g, b, y, mean, rstd, parts, acc;
    unsigned char *px, *pr, *ph, *pz, *pbias, *pg, *pb, *py;
    float *pm, *prs;
    norm_moments *parts_p, *acc_p;
    size_t ys, slots;
} sbufset;

/* The spec's layout; split: room for k slices' statistics and moments. */
static void sbufset_init(sbufset *s, const sspec *sp, const minputs *in, int guard, bool split)
{
    memset(s, 0, sizeof *s);
    combo c = in->c;
    size_t n = sp->n, rows = sp->rows, xe = type_size(c.x), ye = type_size(c.y), pe = type_size(c.p);
    s->px = copy_rows(&s->x, in->x, rows, n, sp->xs, xe, sp->x_off, guard);
    if (sp->residual) {
        s->pr = copy_rows(&s->r, in->r, rows, n, sp->rs, xe, sp->r_off, guard);
        s->ph = sp->mode == H_SEPARATE ? byte_region_alloc(&s->h, ((rows - 1) * sp->hs + n) * xe, sp->h_off * xe, guard)
              : sp->mode == H_IS_X ? s->px : s->pr;
        if (sp->has_bias)
            memcpy(s->pbias = byte_region_alloc(&s->bias, n * pe, sp->bias_off * pe, guard), in->bias, n * pe);
    }
    if (path_gated(sp->path))
        s->pz = copy_rows(&s->z, in->z, rows, n, sp->zs, xe, sp->z_off, guard);
    if (sp->has_g)
        memcpy(s->pg = byte_region_alloc(&s->g, n * pe, sp->g_off * pe, guard), in->g, n * pe);
    if (sp->has_b)
        memcpy(s->pb = byte_region_alloc(&s->b, n * pe, sp->b_off * pe, guard), in->b, n * pe);
    s->ys = sp->in_place ? sp->xs : sp->ys;
    s->py = sp->in_place ? s->px : byte_region_alloc(&s->y, ((rows - 1) * sp->ys + n) * ye, sp->y_off * ye, guard);
    s->slots = split ? sp->k : 1;
    if (sp->stats)
        stats_alloc(&s->rstd, &s->mean, s->slots * rows, sp->s_off, path_ln(sp->path), guard, &s->prs, &s->pm);
    if (split) {
        s->parts_p = byte_region_alloc(&s->parts, sp->k * rows * sizeof(norm_moments), sp->s_off % 2 * 8, guard);
        s->acc_p = byte_region_alloc(&s->acc, rows * sizeof(norm_moments), (sp->s_off + 1) % 2 * 8, guard);
    }
}

static void sbufset_free(sbufset *s)
{
    byte_region *all[] = { &s->x, &s->r, &s->h, &s->z, &s->bias, &s->g, &s->b, &s->y, &s->mean, &s->rstd, &s->parts,
                           &s->acc };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        byte_region_free(all[i]);
}

/* The apply step's job for columns [a, a + len) (the whole row, unsplit, with the residual add
 * and no moments when moments is NULL). */
static norm_job apply_job(const sspec *sp, const sbufset *s, combo c, size_t a, size_t len, size_t slot,
                          const norm_moments *moments)
{
    size_t xe = type_size(c.x), ye = type_size(c.y), pe = type_size(c.p), rows = sp->rows;
    bool from_h = sp->residual && moments;
    norm_job j = {
        .y = s->py + a * ye, .x = (from_h ? s->ph : s->px) + a * xe, .y_stride = s->ys,
        .x_stride = from_h ? sp->hs : sp->xs, .rows = rows, .n = len,
        .gamma = s->pg ? s->pg + a * pe : NULL, .beta = s->pb ? s->pb + a * pe : NULL,
        .x_type = c.x, .y_type = c.y, .param_type = c.p, .eps = sp->eps, .eps_outside_sqrt = sp->eps_outside,
        .nontemporal = sp->nontemporal, .mean = s->pm ? s->pm + slot * rows : NULL,
        .rstd = s->prs ? s->prs + slot * rows : NULL, .unit_offset = sp->unit,
        .gate = s->pz ? s->pz + a * xe : NULL, .gate_stride = s->pz ? sp->zs : 0,
        .gate_before = sp->path == P_GATE_BEFORE, .moments = moments,
    };
    if (sp->residual && !moments) {
        j.residual = s->pr;
        j.residual_out = s->ph;
        j.residual_stride = sp->rs;
        j.residual_out_stride = sp->hs;
        j.bias = s->pbias;
    }
    return j;
}

/* The three steps with table k: moments of every slice, combined in the spec's order, every
 * slice normalised with the result. Fills *why and returns false if a combine fails. */
static bool run_split(const sspec *sp, sbufset *s, combo c, const norm_kernels *k, norm_status *why)
{
    size_t xe = type_size(c.x), pe = type_size(c.p), rows = sp->rows;
    bool ln = path_ln(sp->path);
    for (size_t j = 0; j < sp->k; j++) {
        size_t a = sp->cut[j], len = sp->cut[j + 1] - a;
        norm_job mj = {
            .x = s->px + a * xe, .x_stride = sp->xs, .rows = rows, .n = len, .x_type = c.x, .y_type = NORM_F32,
            .param_type = c.p, .moments_out = s->parts_p + j * rows,
        };
        if (sp->residual) {
            mj.residual = s->pr + a * xe;
            mj.residual_out = s->ph + a * xe;
            mj.residual_stride = sp->rs;
            mj.residual_out_stride = sp->hs;
            mj.bias = s->pbias ? s->pbias + a * pe : NULL;
        }
        if (sp->path == P_GATE_BEFORE) {
            mj.gate = s->pz + a * xe;
            mj.gate_stride = sp->zs;
            mj.gate_before = true;
        }
        moments_fn(k, ln, c)(&mj);
    }
    norm_status st = NORM_OK;
    norm_moments *acc = s->acc_p, *parts = s->parts_p;
    memset(acc, 0, rows * sizeof *acc);
    if (sp->tree) {
        /* Merge two live partial results at random until one is left. */
        size_t live[MAXK], cnt = sp->k;
        for (size_t j = 0; j < cnt; j++)
            live[j] = sp->perm[j];
        for (size_t step = 0; cnt > 1 && st == NORM_OK; step++) {
            size_t i1 = sp->pick[step] % cnt, i2 = (i1 + 1 + sp->pick[step] / (uint32_t)cnt % (cnt - 1)) % cnt;
            st = norm_moments_combine(parts + live[i1] * rows, parts + live[i2] * rows, rows);
            live[i2] = live[--cnt];
        }
        if (st == NORM_OK)
            st = sp->empty_first ? norm_moments_combine(acc, parts + live[0] * rows, rows)
                                 : (memcpy(acc, parts + live[0] * rows, rows * sizeof *acc), NORM_OK);
    } else {
        size_t j = 0;
        if (!sp->empty_first)
            memcpy(acc, parts + sp->perm[j++] * rows, rows * sizeof *acc);
        for (; j < sp->k && st == NORM_OK; j++)
            st = norm_moments_combine(acc, parts + sp->perm[j] * rows, rows);
    }
    if (st != NORM_OK) {
        *why = st;
        return false;
    }
    for (size_t j = 0; j < sp->k; j++) {
        norm_job aj = apply_job(sp, s, c, sp->cut[j], sp->cut[j + 1] - sp->cut[j], j, acc);
        apply_fn(k, sp->path, c)(&aj);
    }
    return true;
}

static void sdescribe(char *buf, size_t size, int v, combo c, const sspec *sp, const char *label)
{
    char cuts[96] = "", order[48] = "";
    int len = 0;
    for (size_t j = 1; j < sp->k && len < (int)sizeof cuts - 8; j++)
        len += snprintf(cuts + len, sizeof cuts - (size_t)len, "%s%zu", j > 1 ? "," : "", sp->cut[j]);
    len = 0;
    for (size_t j = 0; j < sp->k; j++)
        len += snprintf(order + len, sizeof order - (size_t)len, "%zu", sp->perm[j]);
    snprintf(buf, size,
             "seed=0x%016" PRIx64 " variant=%s split x=%s y=%s params=%s %s [%s] rows=%zu n=%zu slices=%zu cuts={%s} "
             "combine %s order %s%s residual=%d%s%s bias=%d in_place=%d strides x%zu r%zu h%zu gate%zu y%zu eps=%g%s "
             "unit_offset=%d gamma=%d beta=%d stats=%d nontemporal=%d offsets x%u r%u h%u gate%u y%u g%u b%u bias%u "
             "s%u guard=%s",
             seed, half_variant_names[v], type_name(c.x), type_name(c.y), type_name(c.p), path_names[sp->path], label,
             sp->rows, sp->n, sp->k, cuts, sp->tree ? "tree" : "left to right", order,
             sp->empty_first ? " from empty" : "", sp->residual, sp->residual ? " " : "",
             sp->residual ? hmode_names[sp->mode] : "", sp->has_bias, sp->in_place, sp->xs, sp->rs, sp->hs, sp->zs,
             sp->in_place ? sp->xs : sp->ys, (double)sp->eps, sp->eps_outside ? " (outside sqrt)" : "", sp->unit,
             sp->has_g, sp->has_b, sp->stats, sp->nontemporal, sp->x_off, sp->r_off, sp->h_off, sp->z_off, sp->y_off,
             sp->g_off, sp->b_off, sp->bias_off, sp->s_off, guard_name(sp->guard));
}

/* One statistic of one slice: against the reference on ordinary rows; on special rows
 * against the oracle's split (exactly: NaN for NaN, the same Inf), or, for the oracle
 * itself, non-finite where the reference is. */
static void check_split_stat(float got, const float *orc, long double want, long double bound, bool special,
                             const char *what, size_t row, size_t slot, double *worst)
{
    if (special) {
        if (orc ? fclass(got) != fclass(*orc) : (fclass(got) == 3) != (fclass(want) == 3))
            FAIL("row %zu slice %zu (non-finite values): %s got %.9g, want %.9g (%s)", row, slot, what, (double)got,
                 orc ? (double)*orc : (double)want, orc ? "the oracle's split" : "the reference");
        return;
    }
    mismatch m = { 0 };
    double q = check_stat(got, want, bound, what, row, &m);
    if (m.failed)
        FAIL("row %zu slice %zu: %s got %.9g want %.12Lg bound %.4Lg", row, slot, what, (double)got, want, bound);
    else
        *worst = maxd(*worst, q);
}

/* Runs variant v's split, the oracle's split (unless v is the oracle) and v's unsplit call on
 * the same inputs, and checks everything (b) says. */
static void run_scase(int v, sspec *sp, const minputs *in, const char *label)
{
    combo c = in->c;
    size_t n = sp->n, rows = sp->rows, xe = type_size(c.x), ye = type_size(c.y), pe = type_size(c.p);
    if (sp->mode == H_IS_R) {
        sp->hs = sp->rs;
        sp->h_off = sp->r_off;
    } else if (sp->mode == H_IS_X) {
        sp->hs = sp->xs;
        sp->h_off = sp->x_off;
    }
    if (sp->in_place) {
        sp->ys = sp->xs;
        sp->y_off = sp->x_off;
    }
    int src = sp->residual ? SRC_RES : sp->path == P_GATE_BEFORE ? SRC_GATE : SRC_X;
    prepare_source(in, rows, n, src, sp->has_bias);
    sdescribe(test_context, sizeof test_context, v, c, sp, label);
    fail_msg[0] = '\0';

    sbufset unit, orc, whole;
    norm_status why = NORM_OK;
    sbufset_init(&unit, sp, in, sp->guard, true);
    sbufset_init(&whole, sp, in, GUARD_NONE, false);
    if (v != V_ORACLE) {
        sbufset_init(&orc, sp, in, GUARD_NONE, true);
        if (!run_split(sp, &orc, c, table_of(V_ORACLE), &why))
            FAIL("the oracle's split: norm_moments_combine failed: %s", norm_status_string(why));
    }
    if (!run_split(sp, &unit, c, table_of(v), &why))
        FAIL("norm_moments_combine failed: %s", norm_status_string(why));
    norm_job wj = apply_job(sp, &whole, c, 0, n, 0, NULL);
    apply_fn(table_of(v), sp->path, c)(&wj);

    sstats *st = &sst[v * 3 + c.y];
    bool ln = path_ln(sp->path), gate_after = sp->path == P_GATE_AFTER;
    bool exact = v == V_ORACLE && sp->k == 1;
    double worst_steps_o = 0, worst_steps_u = 0;
    long exact_rows = 0;
    for (size_t r = 0; r < rows && !fail_msg[0]; r++) {
        const long double *s = in->s + r * n;
        /* h: the definition's, and the unsplit call's. */
        if (sp->residual) {
            const char *hrow = (const char *)unit.ph + r * sp->hs * xe, *want = (const char *)in->h + r * n * xe;
            const char *whrow = (const char *)whole.ph + r * sp->hs * xe;
            for (size_t i = 0; i < n && !fail_msg[0]; i++)
                if (!same_value(hrow, want, i, c.x) || !same_value(hrow, whrow, i, c.x))
                    FAIL("row %zu index %zu: residual_out got 0x%x, want 0x%x; the unsplit call's 0x%x", r, i,
                         bits_of(hrow, i, c.x), bits_of(want, i, c.x), bits_of(whrow, i, c.x));
            if (fail_msg[0])
                break;
        }
        lmom m = ref_moments(s, n, ln);
        long double ms = m.m2 / (long double)n;
        ref_stats ref = { m.mean, sp->eps_outside ? 1.0L / (sqrtl(ms) + (long double)sp->eps)
                                                  : 1.0L / sqrtl(ms + (long double)sp->eps) };
        bool special = !isfinite(ref.mean) || !isfinite(ref.rstd);
        for (size_t i = 0; i < n && !special; i++)
            special = !isfinite(s[i]) || (sp->has_g && !isfinite(in->gf[i])) || (sp->has_b && !isfinite(in->bf[i])) ||
                      (gate_after && !isfinite(in->zf[r * n + i]));
        st->special_rows += special;

        const char *yrow = (const char *)unit.py + r * unit.ys * ye;
        const char *orow = v != V_ORACLE ? (const char *)orc.py + r * orc.ys * ye : NULL;
        const char *urow = (const char *)whole.py + r * whole.ys * ye;
        bool row_exact = true;
        for (size_t i = 0; i < n && !fail_msg[0]; i++) {
            long double g = sp->has_g ? (sp->unit ? 1.0L + (long double)in->gf[i] : (long double)in->gf[i]) : 1.0L;
            long double b = sp->has_b ? (long double)in->bf[i] : 0.0L;
            long double xhat = (s[i] - ref.mean) * ref.rstd;
            long double want = xhat * g + b;
            long double bound = contract_bound(g, xhat, b);
            if (gate_after) {
                long double sg = silu_l(in->zf[r * n + i]);
                want *= sg;
                bound *= fabsl(sg);
            }
            float got = type_load(yrow, i, c.y), uf = type_load(urow, i, c.y);
            row_exact = row_exact && same_value(yrow, urow, i, c.y);
            if (exact && !same_value(yrow, urow, i, c.y)) {
                FAIL("row %zu index %zu: the oracle with one slice: y 0x%x (%.9g) differs from its unsplit call's "
                     "0x%x (%.9g)", r, i, bits_of(yrow, i, c.y), (double)got, bits_of(urow, i, c.y), (double)uf);
                break;
            }
            const char *what = NULL;
            char extra[160] = "";
            if (special) {
                /* The oracle's split (or, for the oracle, the reference) gives the pattern. */
                float p = orow ? type_load(orow, i, c.y) : (float)want;
                if (isnan(p) || isnan(got)) {
                    if (!(isnan(p) && isnan(got)))
                        what = "NaN exactly where the pattern has NaN";
                } else if (isinf(p) || p == 0.0f || isinf(got) || got == 0.0f) {
                    if (!(got == p || (c.y != NORM_F32 && !orow && type_load(yrow, i, c.y) == round_to_type(p, c.y))))
                        what = "the pattern's Inf/0 exactly";
                } else {
                    long double w = isfinite(want) ? want : (long double)p;
                    long double bd = isfinite(want) ? bound : CONTRACT_TOL * (fabsl(g) + fabsl(b) + fabsl(w)) + CONTRACT_UNDERFLOW;
                    double ulps;
                    if (c.y == NORM_F32 ? !(fabsl((long double)got - w) <= bd)
                                        : !check_half((uint16_t)bits_of(yrow, i, c.y), c.y, w, bd, &ulps))
                        what = "beyond the bound on a row with non-finite values";
                }
                snprintf(extra, sizeof extra, "; pattern %.9g", orow ? (double)type_load(orow, i, c.y) : (double)want);
            } else if (c.y == NORM_F32) {
                long double err = fabsl((long double)got - want);
                if (!(err <= bound))
                    what = "beyond the f32 contract from the long-double reference of the whole row";
                else
                    st->worst_ratio[sp->path] = maxd(st->worst_ratio[sp->path], bound > 0 ? (double)(err / bound) : 0);
                long double ue = fabsl((long double)got - (long double)uf);
                if (!what && !(ue <= 2 * bound)) {
                    what = "more than twice the bound from the unsplit call";
                } else if (!what) {
                    st->worst_unsplit = maxd(st->worst_unsplit, bound > 0 ? (double)(ue / bound) : 0);
                    if (orow && !(fabsl((long double)got - (long double)type_load(orow, i, c.y)) <= 2 * bound))
                        what = "more than twice the bound from the oracle's split";
                }
            } else {
                uint16_t gb = (uint16_t)bits_of(yrow, i, c.y), ub = (uint16_t)bits_of(urow, i, c.y);
                double ulps = 0;
                if (!check_half(gb, c.y, want, bound, &ulps))
                    what = "more than 1 ulp + the f32 bound from the long-double reference of the whole row";
                else
                    st->worst_ulp[sp->path] = maxd(st->worst_ulp[sp->path], ulps);
                int su = half_steps(gb, ub, c.y);
                if (!what && su > 1 &&
                    fabsl((long double)got - (long double)uf) > type_ulp(uf, c.y) + 2 * bound)
                    what = "more than 1 ulp + twice the bound from the unsplit call";
                worst_steps_u = maxd(worst_steps_u, su);
                if (!what && orow) {
                    uint16_t ob = (uint16_t)bits_of(orow, i, c.y);
                    float of = half_to_float(ob, c.y);
                    int so = half_steps(gb, ob, c.y);
                    if (so > 1 && fabsl((long double)got - (long double)of) > type_ulp(of, c.y) + 2 * bound)
                        what = "more than 1 ulp + twice the bound from the oracle's split";
                    worst_steps_o = maxd(worst_steps_o, so);
                }
            }
            /* The unsplit call: the same NaN/Inf/0 pattern on every row. */
            if (!what && (isnan(got) != isnan(uf) || (special && (isinf(uf) || uf == 0.0f) && got != uf)))
                what = "not the unsplit call's NaN/Inf/0";
            if (what) {
                size_t j = r * n + i;
                FAIL("row %zu index %zu: y %s: got 0x%x (%.9g), want %.12Lg bound %.4Lg; unsplit 0x%x (%.9g)%s%s "
                     "(source %.9Lg x=%.9g gamma=%.9g beta=%.9g gate=%.9g)",
                     r, i, what, bits_of(yrow, i, c.y), (double)got, want, bound, bits_of(urow, i, c.y), (double)uf,
                     orow ? "; oracle's split " : "", orow ? "" : extra, s[i], (double)in->xf[j],
                     sp->has_g ? (double)in->gf[i] : 1.0, sp->has_b ? (double)in->bf[i] : 0.0, (double)in->zf[j]);
                if (orow) {
                    size_t len = strlen(fail_msg);
                    snprintf(fail_msg + len, sizeof fail_msg - len, " [oracle's split 0x%x (%.9g)%s]", bits_of(orow, i, c.y),
                             (double)type_load(orow, i, c.y), extra);
                }
            }
        }
        if (fail_msg[0])
            break;
        exact_rows += row_exact;

        /* Every slice's statistics. */
        if (sp->stats) {
            bool agree = true;
            for (size_t j = 0; j < sp->k && !fail_msg[0]; j++) {
                size_t at = j * rows + r;
                long double rb = CONTRACT_TOL * fabsl(ref.rstd) + 0x1p-149L;
                check_split_stat(unit.prs[at], orow ? &orc.prs[at] : NULL, ref.rstd, rb, special, "rstd", r, j,
                                 &st->worst_rstd);
                agree = agree && same_value(unit.prs + r, unit.prs + at, 0, NORM_F32);
                if (unit.pm) {
                    long double mb = CONTRACT_TOL * (fabsl(ref.mean) + 1.0L / ref.rstd) + 0x1p-149L;
                    check_split_stat(unit.pm[at], orow ? &orc.pm[at] : NULL, ref.mean, mb, special, "mean", r, j,
                                     &st->worst_mean);
                    agree = agree && same_value(unit.pm + r, unit.pm + at, 0, NORM_F32);
                }
            }
            if (exact && !fail_msg[0] && (!same_value(unit.prs, whole.prs, r, NORM_F32) ||
                                      (unit.pm && !same_value(unit.pm, whole.pm, r, NORM_F32))))
                FAIL("row %zu: the oracle with one slice: statistics differ from its unsplit call's", r);
            st->stat_rows++;
            st->stat_agree += agree;
        }
    }

    if (!fail_msg[0]) {
        bool x_written = sp->in_place || (sp->residual && sp->mode == H_IS_X);
        bool r_written = sp->residual && sp->mode == H_IS_R;
        size_t sb = unit.slots * rows * sizeof(float), mb = sp->k * rows * sizeof(norm_moments),
               ab = rows * sizeof(norm_moments);
        const region_rule regions[] = {
            { "x", &unit.x, rows, sp->xs * xe, n * xe, x_written ? NULL : in->x },
            { "residual", &unit.r, rows, sp->rs * xe, n * xe, r_written ? NULL : in->r },
            { "residual_out (outside the rows)", &unit.h, rows, sp->hs * xe, n * xe, NULL },
            { "gate", &unit.z, rows, sp->zs * xe, n * xe, in->z },
            { "bias", &unit.bias, 1, n * pe, n * pe, in->bias },
            { "gamma", &unit.g, 1, n * pe, n * pe, in->g },
            { "beta", &unit.b, 1, n * pe, n * pe, in->b },
            { "y (outside the rows)", &unit.y, rows, sp->ys * ye, n * ye, NULL },
            { "mean (outside)", &unit.mean, 1, sb, sb, NULL },
            { "rstd (outside)", &unit.rstd, 1, sb, sb, NULL },
            { "the slices' moments (outside)", &unit.parts, 1, mb, mb, NULL },
            { "the combined moments (outside)", &unit.acc, 1, ab, ab, NULL },
        };
        fail_if_clobbered(regions, sizeof regions / sizeof regions[0]);
    }

    st->cases++;
    st->rows += (long)rows;
    st->slices += (long)(sp->k * rows);
    st->path_rows[sp->path] += (long)rows;
    if (exact)
        st->exact_rows += exact_rows;
    if (worst_steps_u > st->steps_unsplit)
        st->steps_unsplit = (int)worst_steps_u;
    if (worst_steps_o > st->steps_oracle)
        st->steps_oracle = (int)worst_steps_o;
    sbufset_free(&unit);
    sbufset_free(&whole);
    if (v != V_ORACLE)
        sbufset_free(&orc);
    if (fail_msg[0])
        ck_abort_msg("%s", fail_msg);
}

/* k slices of [0, n) at uneven random points, slices of one element often; a random order and
 * grouping for the combine; a random layout. */
static sspec random_sspec(rng *r, int path, size_t rows, size_t n, size_t k)
{
    sspec s;
    memset(&s, 0, sizeof s);
    s.path = path;
    s.rows = rows;
    s.n = n;
    s.k = k < 1 ? 1 : k > n ? n : k;
    /* Distinct cut points in [1, n): uniform, next to another cut (a slice of one), or at an end. */
    size_t cuts[MAXK + 1], m = 0;
    while (m + 1 < s.k) {
        size_t p;
        uint32_t how = rng_below(r, 4);
        if (how == 0 && m > 0)
            p = cuts[rng_below(r, (uint32_t)m)] + (rng_bool(r) ? 1 : (size_t)-1);
        else if (how == 1)
            p = rng_bool(r) ? 1 : n - 1;
        else
            p = 1 + rng_below(r, (uint32_t)(n - 1));
        bool ok = p >= 1 && p < n;
        for (size_t j = 0; j < m && ok; j++)
            ok = cuts[j] != p;
        if (ok)
            cuts[m++] = p;
    }
    for (size_t i = 1; i < m; i++) /* insertion sort */
        for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
            size_t t = cuts[j];
            cuts[j] = cuts[j - 1];
            cuts[j - 1] = t;
        }
    s.cut[0] = 0;
    for (size_t j = 0; j < m; j++)
        s.cut[j + 1] = cuts[j];
    s.cut[s.k] = n;
    for (size_t j = 0; j < s.k; j++)
        s.perm[j] = j;
    for (size_t j = s.k; j > 1; j--) {
        size_t i = rng_below(r, (uint32_t)j), t = s.perm[j - 1];
        s.perm[j - 1] = s.perm[i];
        s.perm[i] = t;
    }
    for (size_t j = 0; j < MAXK; j++)
        s.pick[j] = (uint32_t)rng_u64(r);
    s.tree = rng_below(r, 3) == 0;
    s.empty_first = rng_below(r, 3) == 0;
    /* Strides all different where they may be, pointers 0-3 elements past 64 bytes. */
    s.xs = n + rng_below(r, 6);
    s.rs = n + 6 + rng_below(r, 5);
    s.hs = n + 11 + rng_below(r, 5);
    s.zs = n + rng_below(r, 9);
    s.ys = n + 16 + rng_below(r, 5);
    if (rng_bool(r))
        s.ys = n + rng_below(r, 3);
    random_offsets(r, (unsigned *const[]){ &s.x_off, &s.r_off, &s.h_off, &s.z_off, &s.y_off, &s.g_off, &s.b_off,
                                           &s.bias_off, &s.s_off }, 9);
    s.eps = eps_any(r);
    s.eps_outside = rng_bool(r);
    s.nontemporal = rng_below(r, 4) == 0;
    s.unit = rng_below(r, 4) == 0;
    s.has_g = rng_below(r, 4) != 0;
    s.has_b = rng_bool(r);
    s.stats = rng_below(r, 4) != 0;
    s.residual = !path_gated(path) && rng_below(r, 3) == 0;
    s.has_bias = s.residual && rng_bool(r);
    s.mode = (int)rng_below(r, NHMODES);
    return s;
}

/* In place (y == x) where the types allow it and there is no residual add. */
static void maybe_in_place(rng *r, sspec *s, combo c)
{
    s->in_place = !s->residual && c.x == c.y && rng_below(r, 4) == 0;
}

#define SPLIT_SETUP(test)                        \
    int v = _i / 16;                             \
    combo c = combos[_i % 16];                   \
    unsigned paths = split_plan[v][_i % 16];     \
    rng r = combo_rng("moments split", test, c)

static size_t random_k(rng *r, size_t n)
{
    size_t k = 1 + rng_below(r, MAXK);
    return k > n ? n : k;
}

/* Every row length up to 67, every path, 1-8 slices. */
START_TEST(test_split_tails)
{
    SPLIT_SETUP("tails");
    minputs in = minputs_alloc(c, 3, 67);
    for (size_t n = 1; n <= 67; n++)
        for (int path = 0; path < NPATHS; path++) {
            if (quick && (n + (size_t)path) % 2)
                continue;
            sspec s = random_sspec(&r, path, 1 + rng_below(&r, 3), n, random_k(&r, n));
            maybe_in_place(&r, &s, c);
            gen_case(&r, &in, s.rows, n, s.unit);
            if (paths >> path & 1)
                run_scase(v, &s, &in, "tails");
        }
}
END_TEST

/* Long rows: 4099 and 65541 elements, every k. */
START_TEST(test_split_large)
{
    static const size_t sizes[] = { 257, 1000, 4099, 65541 };
    SPLIT_SETUP("large");
    minputs in = minputs_alloc(c, 2, 65541);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int path = 0; path < NPATHS; path++) {
            size_t n = sizes[k];
            if (n > 5000 && (quick || (size_t)path % 2 != k % 2))
                continue;
            sspec s = random_sspec(&r, path, n > 5000 ? 1 : 1 + rng_below(&r, 2), n, 1 + (k * 3 + (size_t)path) % MAXK);
            maybe_in_place(&r, &s, c);
            gen_case(&r, &in, s.rows, n, s.unit);
            if (paths >> path & 1)
                run_scase(v, &s, &in, "large");
        }
}
END_TEST

/* Every buffer of the unit under test flush against a PROT_NONE page at its end or start. */
START_TEST(test_split_guard)
{
    static const size_t sizes[] = { 1, 2, 3, 9, 17, 33, 65, 1001 };
    SPLIT_SETUP("guard");
    minputs in = minputs_alloc(c, 3, 1001);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int side = GUARD_END; side <= GUARD_START; side++)
            for (int path = 0; path < NPATHS; path++) {
                size_t n = sizes[k];
                if (quick && (k + (size_t)path) % 2)
                    continue;
                sspec s = random_sspec(&r, path, 1 + (n + (size_t)side) % 3, n, random_k(&r, n));
                s.guard = side;
                s.has_g = s.has_b = s.stats = true;
                s.has_bias = s.residual;
                maybe_in_place(&r, &s, c);
                gen_case(&r, &in, s.rows, n, s.unit);
                if (paths >> path & 1)
                    run_scase(v, &s, &in, "guard");
            }
}
END_TEST

/* Rows where the split's arithmetic can go wrong: |mean| >> std (the slices' means must combine
 * without losing the spread), huge and tiny magnitudes, subnormals, constant rows, NaN and Inf in
 * one slice (every slice's y must follow), and cancellation in the residual add. */
START_TEST(test_split_adversarial)
{
    SPLIT_SETUP("adversarial");
    minputs in = minputs_alloc(c, 3, 4099);
    int t = c.x;
    char label[128];
    static const double f32_ratios[] = { 1e2, 1e4, 1e6 }, f16_ratios[] = { 1e1, 1e2, 1e3 },
                        bf16_ratios[] = { 1e1, 3e1, 1e2 };
    const double *ratios = t == NORM_F32 ? f32_ratios : t == NORM_F16 ? f16_ratios : bf16_ratios;
    static const size_t sizes[] = { 9, 64, 700, 4099 };

    /* |mean| >> std, 1e4 + N(0,1) among them for f32. */
    for (int b = 0; b < 3; b++)
        for (int path = 0; path < NPATHS; path++)
            for (int rep = 0; rep < 2; rep++) {
                size_t n = sizes[(size_t)(b + path + rep) % 4];
                if (quick && n > 1000)
                    n = 300;
                double sc = t == NORM_F16 ? 1.0 : rng_bool(&r) ? 1.0 : 1e-3, mu = ratios[b] * sc;
                sspec s = random_sspec(&r, path, 1 + rng_below(&r, 3), n, random_k(&r, n));
                maybe_in_place(&r, &s, c);
                gen_params(&r, &in, s.rows, n, s.unit);
                for (size_t row = 0; row < s.rows; row++) {
                    double m = row == 1 ? -mu : mu;
                    for (size_t i = 0; i < n; i++) {
                        double part = s.residual ? 0.5 : 1.0;
                        in.xf[row * n + i] = clamp_to(part * m + part * sc * fast_normal(&r), t);
                        in.rf[row * n + i] = clamp_to(part * m + part * sc * fast_normal(&r), t);
                        in.zf[row * n + i] = (float)(8.0 + fast_normal(&r));
                    }
                }
                s.has_bias = false;
                s.eps = rng_bool(&r) ? 0.0f : 1e-5f;
                encode(&in, s.rows, n);
                snprintf(label, sizeof label, "mean/std %g, std %g", ratios[b], sc);
                if (paths >> path & 1)
                    run_scase(v, &s, &in, label);
            }

    /* Magnitudes, every row or one slice only (the others ordinary). */
    static const char *const names[] = { "huge 1e30", "tiny 1e-30, eps 0", "subnormal, eps 0", "constant",
                                         "zeros, eps > 0", "x = -residual + small" };
    for (int what = 0; what < 6; what++)
        for (int path = 0; path < NPATHS; path++)
            for (int one = 0; one < 2; one++) {
                size_t n = 2 + rng_below(&r, quick ? 150 : 500);
                sspec s = random_sspec(&r, path, 1 + rng_below(&r, 3), n, 2 + rng_below(&r, MAXK - 1));
                if (what == 5 && path_gated(path))
                    continue;
                if (what == 5)
                    s.residual = true;
                maybe_in_place(&r, &s, c);
                gen_case(&r, &in, s.rows, n, s.unit);
                size_t which = rng_below(&r, (uint32_t)s.k);
                double big = t == NORM_F16 ? 3e4 : 1e30, small = t == NORM_F16 ? 1e-4 : 1e-30,
                       sub = t == NORM_F16 ? 3e-6 : 1e-40, cval = rng_bool(&r) ? 1e-30 : rng_uniform(&r, -50, 50);
                for (size_t row = 0; row < s.rows; row++)
                    for (size_t i = 0; i < n; i++) {
                        size_t j = row * n + i;
                        if (one && (i < s.cut[which] || i >= s.cut[which + 1]))
                            continue;
                        double g1 = fast_normal(&r), g2 = fast_normal(&r);
                        switch (what) {
                        case 0: in.xf[j] = clamp_to(big * g1, t); in.rf[j] = clamp_to(big * g2, t); break;
                        case 1: in.xf[j] = (float)(small * (path_ln(path) ? 3 + g1 : g1)); in.rf[j] = (float)(small * g2); break;
                        case 2: in.xf[j] = (float)(sub * (path_ln(path) ? 3 + g1 : g1)); in.rf[j] = (float)(sub * g2); break;
                        case 3: in.xf[j] = clamp_to(cval, t); in.rf[j] = 0.0f; break;
                        case 4: in.xf[j] = 0.0f; in.rf[j] = 0.0f; break;
                        case 5:
                            in.rf[j] = round_to_type(clamp_to((t == NORM_F16 ? 3e3 : 1e6) * g2, t), t);
                            in.xf[j] = clamp_to(-(double)in.rf[j] + (t == NORM_F16 ? 0.5 : 1e-2) * g1, t);
                            break;
                        }
                    }
                if (what >= 1 && what <= 4)
                    s.has_bias = false;
                if (what == 1 || what == 2)
                    s.eps = 0.0f;
                if (what == 4 && s.eps == 0.0f)
                    s.eps = 1e-6f;
                encode(&in, s.rows, n);
                snprintf(label, sizeof label, "%s, %s", names[what], one ? "one slice" : "every slice");
                if (paths >> path & 1)
                    run_scase(v, &s, &in, label);
            }

    /* NaN and Inf in one slice of row 1 (and the gate's, after the norm: one element only). */
    static const char *const snames[] = { "NaN", "+Inf", "-Inf", "+Inf and -Inf", "NaN in gate", "Inf at a slice's start" };
    for (int what = 0; what < 6; what++)
        for (int path = 0; path < NPATHS; path++) {
            size_t n = 2 + rng_below(&r, 200);
            sspec s = random_sspec(&r, path, 3, n, 2 + rng_below(&r, MAXK - 1));
            if (what == 4 && !path_gated(path))
                continue;
            maybe_in_place(&r, &s, c);
            gen_case(&r, &in, 3, n, s.unit);
            size_t which = rng_below(&r, (uint32_t)s.k), a = s.cut[which], len = s.cut[which + 1] - a;
            size_t at = n + a + rng_below(&r, (uint32_t)len);
            switch (what) {
            case 0: in.xf[at] = NAN; break;
            case 1: in.xf[at] = INFINITY; break;
            case 2: in.xf[at] = -INFINITY; break;
            case 3: in.xf[at] = INFINITY; in.xf[n + rng_below(&r, (uint32_t)n)] = -INFINITY; break;
            case 4: in.zf[at] = NAN; break;
            case 5: in.xf[n + s.cut[s.k - 1]] = rng_bool(&r) ? INFINITY : -INFINITY; break;
            }
            encode(&in, 3, n);
            snprintf(label, sizeof label, "%s in row 1", snames[what]);
            if (paths >> path & 1)
                run_scase(v, &s, &in, label);
        }
}
END_TEST

/* ---- (c) norm_moments_combine ------------------------------------------------------------------ */

/* The long-double moments of d[0..n), rounded to double. */
static norm_moments exact_moments(const double *d, size_t n)
{
    norm_moments m = { 0, 0, 0 };
    if (n == 0)
        return m;
    long double shift = d[0], sum = 0.0L, m2 = 0.0L;
    for (size_t i = 0; i < n; i++)
        sum += (long double)d[i] - shift;
    long double mean = shift + sum / (long double)n;
    for (size_t i = 0; i < n; i++)
        m2 += ((long double)d[i] - mean) * ((long double)d[i] - mean);
    m.count = (double)n;
    m.mean = (double)mean;
    m.m2 = (double)m2;
    return m;
}

/* got against want within Chan's rounding: each combine rounds a few times, and the inputs'
 * means carry 2^-53 of |mean|, which the squared difference of two means turns into m2 error
 * proportional to count * std * |mean|. */
static void check_combined(const char *what, norm_moments got, norm_moments want)
{
    double std = want.count > 0 ? sqrt(want.m2 / want.count) : 0.0;
    double mb = 0x1p-44 * (fabs(want.mean) + std) + DBL_TRUE_MIN;
    double m2b = 0x1p-44 * (want.m2 + want.count * std * (fabs(want.mean) + std)) + DBL_TRUE_MIN;
    double me = fabs(got.mean - want.mean), m2e = fabs(got.m2 - want.m2);
    cst->checks++;
    if (got.count != want.count || !(me <= mb) || !(m2e <= m2b))
        ck_abort_msg("%s: %s: got (count %.17g, mean %.17g, m2 %.17g), want (%.17g, %.17g, %.17g), bounds mean %.3g "
                     "m2 %.3g", test_context, what, got.count, got.mean, got.m2, want.count, want.mean, want.m2, mb,
                     m2b);
    cst->worst = maxd(cst->worst, maxd(me / mb, m2e / m2b));
}

static norm_moments combined(norm_moments a, norm_moments b)
{
    norm_status st = norm_moments_combine(&a, &b, 1);
    ck_assert_msg(st == NORM_OK, "%s: norm_moments_combine: %s", test_context, norm_status_string(st));
    return a;
}

static bool same_moments(norm_moments a, norm_moments b) { return memcmp(&a, &b, sizeof a) == 0; }

START_TEST(test_combine)
{
    rng r = rng_for(seed, "moments combine");
    size_t nmax = 4000;
    double *d = scratch_alloc(nmax * sizeof(double));
    int reps = quick ? 60 : 300;
    for (int rep = 0; rep < reps; rep++) {
        size_t n = 2 + rng_below(&r, rep % 4 ? 200 : (uint32_t)nmax - 2);
        static const double ratios[] = { 0.0, 1.0, 1e4, 1e8 }, scales[] = { 1.0, 1e-30, 1e30, 1e-150 };
        double sc = scales[rng_below(&r, 4)], mu = ratios[rng_below(&r, 4)] * sc * (rng_bool(&r) ? 1 : -1);
        for (size_t i = 0; i < n; i++)
            d[i] = mu + sc * rng_normal(&r);
        snprintf(test_context, sizeof test_context, "seed=0x%016" PRIx64 " moments combine rep %d n=%zu mean %g std %g",
                 seed, rep, n, mu, sc);
        /* Up to 8 slices (some empty), their exact moments. */
        size_t k = 1 + rng_below(&r, MAXK), cut[MAXK + 1];
        cut[0] = 0;
        cut[k] = n;
        for (size_t j = 1; j < k; j++)
            cut[j] = rng_below(&r, (uint32_t)n + 1);
        for (size_t i = 1; i < k; i++)
            for (size_t j = i; j > 0 && cut[j - 1] > cut[j]; j--) {
                size_t tmp = cut[j];
                cut[j] = cut[j - 1];
                cut[j - 1] = tmp;
            }
        norm_moments part[MAXK], whole = exact_moments(d, n);
        for (size_t j = 0; j < k; j++)
            part[j] = exact_moments(d + cut[j], cut[j + 1] - cut[j]);

        /* Left to right, right to left, and as a random tree: all the whole's moments. */
        norm_moments lr = { 0, 0, 0 }, rl = { 0, 0, 0 };
        for (size_t j = 0; j < k; j++) {
            lr = combined(lr, part[j]);
            rl = combined(rl, part[k - 1 - j]);
        }
        check_combined("left to right against long double", lr, whole);
        check_combined("right to left against long double", rl, whole);
        norm_moments live[MAXK];
        size_t cnt = k;
        memcpy(live, part, k * sizeof *part);
        while (cnt > 1) {
            size_t i1 = rng_below(&r, (uint32_t)cnt), i2 = (i1 + 1 + rng_below(&r, (uint32_t)cnt - 1)) % cnt;
            live[i1] = combined(live[i1], live[i2]);
            live[i2] = live[--cnt];
        }
        check_combined("random tree against long double", live[0], whole);

        /* Commutative and associative within rounding, on slices of this row. */
        if (k >= 3) {
            norm_moments a = part[0], b = part[1], cc = part[2];
            norm_moments ab = combined(a, b), ba = combined(b, a);
            if (ab.count != ba.count)
                ck_abort_msg("%s: count of a+b %.17g, of b+a %.17g", test_context, ab.count, ba.count);
            check_combined("a+b against b+a", ab, ba);
            check_combined("(a+b)+c against a+(b+c)", combined(ab, cc), combined(a, combined(b, cc)));
        }

        /* The empty slice: an exact identity on either side. */
        norm_moments empty = { 0, 0, 0 };
        if (!same_moments(combined(lr, empty), lr) || !same_moments(combined(empty, lr), lr) ||
            !same_moments(combined(empty, empty), empty))
            ck_abort_msg("%s: the empty slice is not an identity", test_context);

        /* acc == part: the row twice (count doubled, mean kept, m2 doubled), exactly. */
        norm_moments twice[3] = { whole, empty, part[0] };
        norm_status st = norm_moments_combine(twice, twice, 3);
        ck_assert_msg(st == NORM_OK, "%s: doubling: %s", test_context, norm_status_string(st));
        if (twice[0].count != 2 * whole.count || twice[0].mean != whole.mean || twice[0].m2 != 2 * whole.m2 ||
            !same_moments(twice[1], empty) || twice[2].count != 2 * part[0].count)
            ck_abort_msg("%s: acc == part: got (%.17g, %.17g, %.17g), want (%.17g, %.17g, %.17g) exactly", test_context,
                         twice[0].count, twice[0].mean, twice[0].m2, 2 * whole.count, whole.mean, 2 * whole.m2);
        cst->checks += 3;
    }

    /* Several rows at once, empties among them, against one row at a time. */
    {
        norm_moments acc[6], part[6], want[6];
        for (int i = 0; i < 6; i++) {
            acc[i] = (norm_moments){ i % 3 == 0 ? 0 : 5 + i, i % 3 == 0 ? 0 : 1.5 * i, i % 3 == 0 ? 0 : 0.25 * i };
            part[i] = (norm_moments){ i % 2 ? 0 : 3 + i, i % 2 ? 0 : -2.0 * i, i % 2 ? 0 : 4.0 + i };
            want[i] = combined(acc[i], part[i]);
        }
        ck_assert_int_eq(norm_moments_combine(acc, part, 6), NORM_OK);
        for (int i = 0; i < 6; i++)
            ck_assert_msg(same_moments(acc[i], want[i]), "moments combine: row %d of 6 differs from one row alone", i);
    }

    /* Errors write nothing. */
    {
        norm_moments buf[4] = { { 2, 1, 1 }, { 3, 2, 2 }, { 4, 3, 3 }, { 5, 4, 4 } }, keep[4];
        memcpy(keep, buf, sizeof buf);
        ck_assert_int_eq(norm_moments_combine(buf, buf + 1, 2), NORM_ERR_OVERLAP);
        ck_assert_int_eq(norm_moments_combine(buf + 1, buf, 2), NORM_ERR_OVERLAP);
        ck_assert_int_eq(norm_moments_combine(NULL, buf, 1), NORM_ERR_NULL_POINTER);
        ck_assert_int_eq(norm_moments_combine(buf, NULL, 1), NORM_ERR_NULL_POINTER);
        ck_assert_int_eq(norm_moments_combine(NULL, NULL, 0), NORM_OK);
        norm_moments bad[4] = { { 1, 0, -1 }, { -1, 0, 0 }, { NAN, 0, 0 }, { INFINITY, 0, 0 } };
        for (int i = 0; i < 4; i++) {
            norm_moments pair[2] = { buf[2], bad[i] };
            ck_assert_int_eq(norm_moments_combine(buf, pair, 2), NORM_ERR_BAD_MOMENTS);
            ck_assert_int_eq(norm_moments_combine(pair, buf, 2), NORM_ERR_BAD_MOMENTS);
            ck_assert_msg(same_moments(pair[0], buf[2]), "moments combine: a failed call wrote acc");
        }
        ck_assert_msg(memcmp(buf, keep, sizeof buf) == 0, "moments combine: a failed call wrote acc");
        cst->checks += 18;
    }
}
END_TEST

/* ---- the tcases ------------------------------------------------------------------------------- */

bool moments_add_tcase(Suite *s, int v)
{
    static char names[HALF_NVARIANTS][32];
    if (!mst) {
        mst = shared_stats_alloc(sizeof(mstats) * HALF_NVARIANTS);
        sst = shared_stats_alloc(sizeof(sstats) * HALF_NVARIANTS * 3);
        cst = shared_stats_alloc(sizeof(cstats));
    }
    const norm_kernels *k = norm_kernels_variant(half_variant_names[v]);
    if (!k) {
        printf("%s: %s/moments: skipped (not compiled in or CPU lacks it)\n", PROGRAM, half_variant_names[v]);
        return false;
    }
    snprintf(names[v], sizeof names[v], "%s/moments", half_variant_names[v]);
    TCase *tc = checkasm_tcase(names[v]);
    int mom_own = 0, mom_dup = 0, split_own = 0, split_dup = 0, path_own[NPATHS] = { 0 };
    const char *mom_of = NULL, *split_of = NULL;
    for (int xi = 0; xi < NXP; xi++) {
        unsigned plan = 0;
        for (int kind = 0; kind < 2; kind++) {
            int same = earlier_with_moments(v, kind, xps[xi]);
            if (same >= 0) {
                mom_dup++;
                mom_of = half_variant_names[same];
            } else {
                plan |= 1u << kind;
                mom_own++;
            }
        }
        mom_plan[v][xi] = plan;
        if (plan) {
            int i = v * 16 + xi;
            tcase_add_loop_test(tc, test_moments_tails, i, i + 1);
            tcase_add_loop_test(tc, test_moments_large, i, i + 1);
            tcase_add_loop_test(tc, test_moments_guard, i, i + 1);
            tcase_add_loop_test(tc, test_moments_adversarial, i, i + 1);
        }
    }
    for (int ci = 0; ci < NCOMBOS; ci++) {
        unsigned plan = 0;
        for (int path = 0; path < NPATHS; path++) {
            int same = earlier_with_path(v, path, combos[ci]);
            if (same >= 0) {
                split_dup++;
                split_of = half_variant_names[same];
            } else {
                plan |= 1u << path;
                split_own++;
                path_own[path]++;
            }
        }
        split_plan[v][ci] = plan;
        if (plan) {
            int i = v * 16 + ci;
            tcase_add_loop_test(tc, test_split_tails, i, i + 1);
            tcase_add_loop_test(tc, test_split_large, i, i + 1);
            tcase_add_loop_test(tc, test_split_guard, i, i + 1);
            tcase_add_loop_test(tc, test_split_adversarial, i, i + 1);
        }
    }
    if (v == V_ORACLE)
        tcase_add_test(tc, test_combine);
    printf("%s: %s: moments kernels: %d of %d (x/params, norm) pairs tested", PROGRAM, half_variant_names[v], mom_own,
           NXP * 2);
    if (mom_dup)
        printf(" (%d run %s's kernels, not repeated)", mom_dup, mom_of);
    printf("; split rows: %d of %d (combination, path) pairs: rmsnorm %d layernorm %d gate-before %d gate-after %d",
           split_own, NCOMBOS * NPATHS, path_own[P_RMS], path_own[P_LN], path_own[P_GATE_BEFORE],
           path_own[P_GATE_AFTER]);
    if (split_dup)
        printf(" (%d run %s's kernels, not repeated)", split_dup, split_of);
    printf("\n");
    if (mom_own || split_own || v == V_ORACLE) {
        suite_add_tcase(s, tc);
        tested[v] = true;
    }
    return true;
}

void moments_print_summary(void)
{
    for (int v = 0; v < HALF_NVARIANTS; v++) {
        if (!tested[v])
            continue;
        const mstats *m = &mst[v];
        if (m->cases)
            printf("%s: moments %-10s %5ld cases, %6ld rows (%ld non-finite): worst err/bound mean %.4f m2 %.4f "
                   "(mean error <= %.3g std); residual_out bit-exact (%ld values)\n",
                   PROGRAM, half_variant_names[v], m->cases, m->rows, m->special_rows, m->worst_mean, m->worst_m2,
                   m->worst_mean_std, m->h_values);
        for (int t = 0; t < 3; t++) {
            const sstats *st = &sst[v * 3 + t];
            if (!st->cases)
                continue;
            printf("%s: split   %-10s -> %-4s %5ld cases, %6ld rows in %ld slices: worst %s", PROGRAM,
                   half_variant_names[v], type_name(t), st->cases, st->rows, st->slices,
                   t == T_F32 ? "err/bound" : "ulp");
            for (int p = 0; p < NPATHS; p++) {
                if (st->path_rows[p])
                    printf(" %s %.4g", path_names[p], t == T_F32 ? st->worst_ratio[p] : st->worst_ulp[p]);
                else
                    printf(" %s -", path_names[p]);
            }
            if (t == T_F32)
                printf("; vs unsplit %.4f bound", st->worst_unsplit);
            else
                printf("; vs unsplit %d ulp", st->steps_unsplit);
            if (v != V_ORACLE && t != T_F32)
                printf(", vs oracle's split %d ulp", st->steps_oracle);
            printf("; mean %.4f rstd %.4f; slices agree on the statistics in %ld/%ld rows", st->worst_mean,
                   st->worst_rstd, st->stat_agree, st->stat_rows);
            if (v == V_ORACLE)
                printf("; one slice == unsplit bit for bit: %ld rows", st->exact_rows);
            printf("\n");
        }
    }
    if (cst && cst->checks)
        printf("%s: moments combine: %ld checks, worst err/bound %.4f (against long double, across orders and "
               "groupings); empty slice an exact identity, acc == part doubles exactly\n",
               PROGRAM, cst->checks, cst->worst);
}
