/*
 * checkasm, gated RMSNorm and int8 output: every kernel variant this machine can run, held to
 * a long-double reference and to the scalar oracle on identical inputs.
 *
 * Gated RMSNorm (k->rmsnorm_gated[x][y][p], job->gate): by default
 *   y = (rmsnorm(x) * gamma' + beta) * silu(z),
 * with job->gate_before y = rmsnorm(x * silu(z)) * gamma' + beta, silu(z) = z / (1 + exp(-z)),
 * gamma' = 1 + gamma under NORM_UNIT_OFFSET (gamma otherwise, 1 without gamma). The reference
 * computes silu with expl and, gate first, keeps x * silu(z) exact (long double).
 *
 * int8 output (y_type NORM_I8, in k->rmsnorm, k->layernorm and k->rmsnorm_gated):
 *   q = clamp(round_half_even(y * inv), -127, 127), NaN -> 0, inv = 1/s rounded to f32;
 * a static scale (job->y_inv_scale = 1.0f / s, y_scales NULL) or a dynamic one per row,
 * s = (float)(max|y| / 127) over the row (NaNs ignored; 0 gives inv 0 and q 0), written to
 * y_scales[row]. With the residual add, the unit offset and the gate (either order).
 *
 * What is held, case by case:
 *   (a) f32 outputs of the gated norm: |y - y_ref| <= 2^-18 * max(|y_ref|, |gamma'|, |beta| * S)
 *       (+ 2^-120 * (|gamma'| * (1 + |x_hat|) + |beta|) with the gate after the norm), S the
 *       reference |silu(z)| with the gate after the norm and 1 before it. The bound is
 *       2^-18 * max(|y_ref|, |gamma'|); the beta term is the plain contract's: gamma' * x_hat
 *       and beta may cancel, and an f32 sum of the two is then only as exact as beta's
 *       magnitude (times the gate that multiplies it); the 2^-120 term is silu(z) below ~2^-120
 *       (z < -88.7) flushing to 0 when exp(-z) overflows f32; and the underflow term,
 *       2^-149 * (1 + S) after the norm, 2^-149 before it (tests/common.h). Half outputs: 1 ulp
 *       of their format plus that bound (tests/common.c's check_half). Without a gate (the int8
 *       tests), the plain contract 2^-20 * (|gamma'| * (1 + |x_hat|) + |beta|) + 2^-149. NaN exactly where the
 *       reference has NaN, its infinities exactly. rstd (and LayerNorm's mean) as the plain
 *       kernels' (2^-18 relative with the gate first, x * silu(z) being f32 in the kernels).
 *   (b) int8: the dynamic scale s against max|y_ref| / 127 within max_i(bound_i) / 127 plus
 *       rounding to f32; q == clamp(round_half_even(y_ref * inv)) (NaN -> 0), inv the
 *       kernel's own (1.0f / s, 0 for s = 0), EXCEPT where y_ref * inv lies within
 *       bound_i * inv + 2 ulp(f32) of the rounding boundary (k + 0.5) between q and it (an
 *       "exception", counted): q may be the rounding of any value that close to y_ref * inv,
 *       which also covers a tolerance spanning several integers, or an infinite inv (a
 *       subnormal dynamic scale, 1/s overflowing f32). Where y is exactly beta (gamma' = 0, no
 *       gate after the norm) and inv a power of two, y * inv is exact: no exception, so exact
 *       ties must round to even.
 *   (c) against the oracle (the scalar table, same combination, same inputs): NaN exactly where
 *       it has NaN; half outputs at most one step apart (or 1 ulp + twice the bound); the
 *       dynamic scale within twice its bound; int8 q equal, or the oracle's q one the reference
 *       also allows with the oracle's inv (counted); the residual add's h bit for bit.
 *   (d) residual_out (the int8 tests' residual add): bit for bit the h computed here (f32 add,
 *       then + bias in f32, rounded to x's type), as checkasm_fused.c holds it.
 *   (e) nothing outside the outputs' rows changes: canaries around every buffer and in every
 *       row gap (int8 rows and y_scales too), inputs compared with their copies, or every buffer
 *       flush against a PROT_NONE page (guard tests).
 *
 * Type combinations: x f32/f16/bf16, y f32/f16/bf16/i8, gamma and beta f32 or x's type (20).
 * The gated tests run on all 20, the int8 tests (no gate: both norms, residual add) on the
 * 5 with int8 output. A combination whose kernels are the very functions an earlier variant's
 * tcase tests (a SIMD table still holding the oracle's function, avx512bf16 away from bf16
 * output) is not repeated; each variant prints what it tests and what it leaves out.
 *
 * Tcases "<variant>/gate", loop index variant * 32 + combination.
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
#define LOOP(v, ci) ((v) * 32 + (ci))

#define GATE_TOL 0x1p-18L   /* the gated norm's bound */
#define SILU_FLOOR 0x1p-120L /* silu(z) below this may be flushed to 0 */
#define MAX_ROWS 4

/* ---- type combinations ------------------------------------------------------------------ */

#define NGCOMBOS 20
static const combo gcombos[NGCOMBOS] = {
#define Y4(x, p) { x, NORM_F32, p }, { x, NORM_F16, p }, { x, NORM_BF16, p }, { x, NORM_I8, p }
    Y4(NORM_F32, NORM_F32),  Y4(NORM_F16, NORM_F32),  Y4(NORM_F16, NORM_F16),
    Y4(NORM_BF16, NORM_F32), Y4(NORM_BF16, NORM_BF16),
#undef Y4
};

static const char *tname(int t) { return t == NORM_I8 ? "i8" : type_name(t); }
static size_t esize(int t) { return norm_dtype_size((norm_dtype)t); }

/* The input stream of one test and combination, the same for every variant (combo_rng's, with
 * int8 told apart from f32). */
static rng gate_rng(const char *test, combo c)
{
    char name[64];
    snprintf(name, sizeof name, "gate %s %s/%s/%s", test, tname(c.x), tname(c.y), tname(c.p));
    return rng_for(seed, name);
}

/* ---- what the run saw, per variant ------------------------------------------------------ */

typedef struct gstats {
    long cases, rows, values;   /* every case, gated or not */
    double worst_f32[2];        /* f32 outputs of the gated norm, err/bound: [0] gate after, [1] before */
    double worst_half;          /* half outputs: err / (1 ulp + bound) from the reference */
    double worst_half_oracle;   /* and err / (1 ulp + twice the bound) from the oracle, over 1 step apart */
    double worst_rstd, worst_mean;
    long q_values, q_dynamic_rows;
    double worst_scale;         /* dynamic scales, err/bound */
    long exc_ref, exc_oracle;   /* int8 exceptions: against the reference, against the oracle */
    long ties;                  /* exact ties held to round-half-even */
    int gated_combos, int8_combos, gated_dups, int8_dups;
} gstats;

static gstats *gst; /* [variant], MAP_SHARED */
static bool tested[HALF_NVARIANTS];

/* ---- inputs ------------------------------------------------------------------------------- */

/* Dense rows and parameters encoded in their types, the same values as f32, the reference h,
 * and the reference's outputs per element (rows * n). */
typedef struct ginputs {
    combo c;
    void *x, *z, *r, *g, *b, *bias, *h;
    float *xf, *zf, *rf, *gf, *bf, *biasf, *hf;
    long double *yref, *bound, *xhat, *u; /* u: one row of the normalised source */
    ref_stats st[MAX_ROWS];
} ginputs;

static ginputs ginputs_alloc(combo c, size_t rows, size_t n)
{
    size_t xe = esize(c.x), pe = esize(c.p), count = rows * n;
    ginputs in;
    memset(&in, 0, sizeof in);
    in.c = c;
    in.x = scratch_alloc(count * xe);
    in.z = scratch_alloc(count * xe);
    in.r = scratch_alloc(count * xe);
    in.h = scratch_alloc(count * xe);
    in.g = scratch_alloc(n * pe);
    in.b = scratch_alloc(n * pe);
    in.bias = scratch_alloc(n * pe);
    in.xf = scratch_alloc(count * sizeof(float));
    in.zf = scratch_alloc(count * sizeof(float));
    in.rf = scratch_alloc(count * sizeof(float));
    in.hf = scratch_alloc(count * sizeof(float));
    in.gf = scratch_alloc(n * sizeof(float));
    in.bf = scratch_alloc(n * sizeof(float));
    in.biasf = scratch_alloc(n * sizeof(float));
    in.yref = scratch_alloc(count * sizeof(long double));
    in.bound = scratch_alloc(count * sizeof(long double));
    in.xhat = scratch_alloc(count * sizeof(long double));
    in.u = scratch_alloc(n * sizeof(long double));
    return in;
}

/* Rounds the f32 values drawn to their types and stores them. */
static void encode(const ginputs *in, size_t rows, size_t n)
{
    for (size_t i = 0; i < rows * n; i++) {
        in->xf[i] = type_store(in->x, i, in->xf[i], in->c.x);
        in->zf[i] = type_store(in->z, i, in->zf[i], in->c.x);
        in->rf[i] = type_store(in->r, i, in->rf[i], in->c.x);
    }
    for (size_t i = 0; i < n; i++) {
        in->gf[i] = type_store(in->g, i, in->gf[i], in->c.p);
        in->bf[i] = type_store(in->b, i, in->bf[i], in->c.p);
        in->biasf[i] = type_store(in->bias, i, in->biasf[i], in->c.p);
    }
}

/* ---- the case's layout -------------------------------------------------------------------- */

enum { G_NONE, G_AFTER, G_BEFORE };
static const char *const gate_names[] = { "none", "after the norm", "before the norm" };
enum { R_NONE, R_SEPARATE, R_H_IS_R, R_H_IS_X };
static const char *const res_names[] = { "none", "separate", "residual_out=residual", "residual_out=x" };

typedef struct gspec {
    bool layernorm;
    int gate, res;
    size_t rows, n, xs, zs, rs, hs, ys; /* strides in elements */
    float eps;
    bool eps_outside, nontemporal, stats, unit, has_g, has_b, has_bias, in_place;
    bool dyn;            /* int8: a dynamic scale per row */
    double scale_factor; /* int8, static: s = max|y_ref| / 127 * factor (if > 0) ... */
    float scale;         /* ... or this s */
    unsigned x_off, z_off, r_off, h_off, y_off, g_off, b_off, bias_off, s_off;
    int guard;
} gspec;

typedef struct gbufs {
    byte_region x, z, r, h, y, g, b, bias, mean, rstd, scales;
    const void *ph;
    norm_job job;
} gbufs;

static void gbufs_init(gbufs *s, const gspec *sp, const ginputs *in, int guard, float inv_scale)
{
    memset(s, 0, sizeof *s);
    combo c = in->c;
    size_t n = sp->n, rows = sp->rows, xe = esize(c.x), ye = esize(c.y), pe = esize(c.p);
    void *px = copy_rows(&s->x, in->x, rows, n, sp->xs, xe, sp->x_off, guard);
    void *pz = NULL, *pr = NULL, *ph = NULL, *py, *pg = NULL, *pb = NULL, *pbias = NULL;
    float *pm = NULL, *prs = NULL, *psc = NULL;
    if (sp->gate)
        pz = copy_rows(&s->z, in->z, rows, n, sp->zs, xe, sp->z_off, guard);
    if (sp->res) {
        pr = copy_rows(&s->r, in->r, rows, n, sp->rs, xe, sp->r_off, guard);
        ph = sp->res == R_SEPARATE ? byte_region_alloc(&s->h, ((rows - 1) * sp->hs + n) * xe, sp->h_off * xe, guard)
           : sp->res == R_H_IS_X ? px : pr;
        s->ph = ph;
    }
    py = sp->in_place ? px : byte_region_alloc(&s->y, ((rows - 1) * sp->ys + n) * ye, sp->y_off * ye, guard);
    if (sp->has_g)
        memcpy(pg = byte_region_alloc(&s->g, n * pe, sp->g_off * pe, guard), in->g, n * pe);
    if (sp->has_b)
        memcpy(pb = byte_region_alloc(&s->b, n * pe, sp->b_off * pe, guard), in->b, n * pe);
    if (sp->res && sp->has_bias)
        memcpy(pbias = byte_region_alloc(&s->bias, n * pe, sp->bias_off * pe, guard), in->bias, n * pe);
    if (sp->stats)
        stats_alloc(&s->rstd, &s->mean, rows, sp->s_off, sp->layernorm, guard, &prs, &pm);
    if (c.y == NORM_I8 && sp->dyn)
        psc = byte_region_alloc(&s->scales, rows * sizeof(float), (sp->s_off + 2) % 4 * sizeof(float), guard);
    norm_job job = {
        .y = py, .x = px, .y_stride = sp->ys, .x_stride = sp->xs, .rows = rows, .n = n,
        .gamma = pg, .beta = pb, .x_type = c.x, .y_type = c.y, .param_type = c.p, .eps = sp->eps,
        .eps_outside_sqrt = sp->eps_outside, .nontemporal = sp->nontemporal, .mean = pm, .rstd = prs,
        .unit_offset = sp->unit, .residual = pr, .residual_out = ph,
        .residual_stride = sp->res ? sp->rs : 0, .residual_out_stride = sp->res ? sp->hs : 0, .bias = pbias,
        .gate = pz, .gate_stride = sp->gate ? sp->zs : 0, .gate_before = sp->gate == G_BEFORE,
        .y_inv_scale = c.y == NORM_I8 && !sp->dyn ? inv_scale : 0.0f, .y_scales = psc,
    };
    s->job = job;
}

static void gbufs_free(gbufs *s)
{
    byte_region *all[] = { &s->x, &s->z, &s->r, &s->h, &s->y, &s->g, &s->b, &s->bias, &s->mean, &s->rstd, &s->scales };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        byte_region_free(all[i]);
}

static norm_kernel_fn *gfn(const norm_kernels *k, const gspec *sp, combo c)
{
    return sp->gate ? k->rmsnorm_gated[c.x][c.y][c.p] : kernel_of(k, sp->layernorm, c);
}

/* Aliased buffers share stride and offset; options the API refuses are dropped. */
static void normalise(gspec *sp, combo c)
{
    if (sp->gate) {
        sp->layernorm = false;
        sp->res = R_NONE;
    }
    if (!sp->res)
        sp->has_bias = false;
    if (sp->in_place && (c.x != c.y || c.y == NORM_I8))
        sp->in_place = false;
    if (sp->in_place && sp->res == R_H_IS_X)
        sp->res = R_H_IS_R;
    if (sp->res == R_H_IS_R) {
        sp->hs = sp->rs;
        sp->h_off = sp->r_off;
    } else if (sp->res == R_H_IS_X) {
        sp->hs = sp->xs;
        sp->h_off = sp->x_off;
    }
    if (sp->in_place) {
        sp->ys = sp->xs;
        sp->y_off = sp->x_off;
    }
}

static void describe(char *buf, size_t size, int v, combo c, const gspec *sp, const char *label, float s)
{
    int len = snprintf(buf, size,
                       "seed=0x%016" PRIx64 " variant=%s gate x=%s y=%s p=%s %s [%s] gate=%s res=%s rows=%zu n=%zu "
                       "strides x%zu z%zu r%zu h%zu y%zu eps=%g%s unit=%d g=%d b=%d bias=%d stats=%d nt=%d in_place=%d "
                       "offs x%u z%u r%u h%u y%u g%u b%u guard=%s",
                       seed, half_variant_names[v], tname(c.x), tname(c.y), tname(c.p),
                       sp->layernorm ? "layernorm" : "rmsnorm", label, gate_names[sp->gate], res_names[sp->res],
                       sp->rows, sp->n, sp->xs, sp->zs, sp->rs, sp->hs, sp->ys, (double)sp->eps,
                       sp->eps_outside ? "(out)" : "", sp->unit, sp->has_g, sp->has_b, sp->has_bias, sp->stats,
                       sp->nontemporal, sp->in_place, sp->x_off, sp->z_off, sp->r_off, sp->h_off, sp->y_off,
                       sp->g_off, sp->b_off, guard_name(sp->guard));
    if (c.y == NORM_I8 && len > 0 && (size_t)len < size)
        snprintf(buf + len, size - (size_t)len, sp->dyn ? " int8 dynamic" : " int8 s=%.9g", (double)s);
}

/* ---- the reference ------------------------------------------------------------------------- */

static long double silu_l(long double z) { return z / (1.0L + expl(-z)); }

/* The reference for every row of the case: statistics, y_ref, the bound, x_hat. */
static void reference(const gspec *sp, ginputs *in)
{
    size_t n = sp->n;
    long double *u = in->u;
    for (size_t k = 0; k < sp->rows; k++) {
        const float *src = (sp->res ? in->hf : in->xf) + k * n, *z = in->zf + k * n;
        for (size_t i = 0; i < n; i++)
            u[i] = sp->gate == G_BEFORE ? (long double)src[i] * silu_l(z[i]) : (long double)src[i];
        long double mean = 0.0L, ss = 0.0L;
        if (sp->layernorm) {
            long double shift = u[0], sum = 0.0L;
            for (size_t i = 0; i < n; i++)
                sum += u[i] - shift;
            mean = shift + sum / (long double)n;
            for (size_t i = 0; i < n; i++)
                ss += (u[i] - mean) * (u[i] - mean);
        } else {
            for (size_t i = 0; i < n; i++)
                ss += u[i] * u[i];
        }
        long double ms = ss / (long double)n, eps = sp->eps;
        ref_stats st = { mean, sp->eps_outside ? 1.0L / (sqrtl(ms) + eps) : 1.0L / sqrtl(ms + eps) };
        in->st[k] = st;
        for (size_t i = 0; i < n; i++) {
            long double g = sp->has_g ? (sp->unit ? 1.0L + in->gf[i] : (long double)in->gf[i]) : 1.0L;
            long double b = sp->has_b ? (long double)in->bf[i] : 0.0L;
            long double xhat = (u[i] - mean) * st.rstd;
            long double y = xhat, bound;
            if (sp->has_g)
                y *= g;
            if (sp->has_b)
                y += b;
            if (sp->gate == G_AFTER) {
                long double s = silu_l(z[i]);
                y *= s;
                /* The underflow term: a value rounded into f32's subnormals, then multiplied
                 * by the gate and rounded again (tests/common.h, CONTRACT_UNDERFLOW). */
                bound = GATE_TOL * fmaxl(fmaxl(fabsl(y), fabsl(g)), fabsl(b) * fabsl(s)) +
                        SILU_FLOOR * (fabsl(g) * (1.0L + fabsl(xhat)) + fabsl(b)) +
                        CONTRACT_UNDERFLOW * (1.0L + fabsl(s));
            } else if (sp->gate == G_BEFORE) {
                bound = GATE_TOL * fmaxl(fmaxl(fabsl(y), fabsl(g)), fabsl(b)) + CONTRACT_UNDERFLOW;
            } else {
                bound = contract_bound(g, xhat, b);
            }
            in->yref[k * n + i] = y;
            in->bound[k * n + i] = bound;
            in->xhat[k * n + i] = xhat;
        }
    }
}

/* The f32 add of the residual, as checkasm_fused.c specifies it. */
static void compute_h(const ginputs *in, size_t rows, size_t n, bool has_bias)
{
    for (size_t k = 0; k < rows; k++)
        for (size_t i = 0; i < n; i++) {
            float s = in->xf[k * n + i] + in->rf[k * n + i];
            if (has_bias)
                s = s + in->biasf[i];
            in->hf[k * n + i] = type_store(in->h, k * n + i, s, in->c.x);
        }
}

/* ---- checks --------------------------------------------------------------------------------- */

static void inputs_txt(char *buf, size_t size, const gspec *sp, const ginputs *in, size_t k, size_t i)
{
    size_t j = k * sp->n + i;
    snprintf(buf, size, "x=%.9g z=%.9g r=%.9g h=%.9g gamma=%.9g beta=%.9g x_hat=%.12Lg y_ref=%.12Lg bound=%.4Lg",
             (double)in->xf[j], sp->gate ? (double)in->zf[j] : 0.0, sp->res ? (double)in->rf[j] : 0.0,
             sp->res ? (double)in->hf[j] : 0.0, sp->has_g ? (double)in->gf[i] : 0.0,
             sp->has_b ? (double)in->bf[i] : 0.0, in->xhat[j], in->yref[j], in->bound[j]);
}

static bool is_pow2(float f)
{
    int e;
    return f > 0.0f && isfinite(f) && frexpf(f, &e) == 0.5f;
}

/* The inverse scale a kernel with scale s uses. */
static float inv_of(float s) { return s > 0.0f ? 1.0f / s : 0.0f; }

static int q_expect(long double t)
{
    if (isnan(t))
        return 0;
    t = t > 127.0L ? 127.0L : t < -127.0L ? -127.0L : t;
    return (int)nearbyintl(t);
}

/* The values q may take for y_ref, given inv: q of every y within the bound of y_ref, the
 * product y * inv widened by 2 ulp of f32 (the kernel's own rounding of it). q is monotone in
 * y, so that is [q(lo), q(hi)]; for a neighbour of the exact q this is "y_ref * inv within
 * bound * inv + 2 ulp of the boundary between them", and it stays sound where bound * inv
 * spans several integers or inv is infinite (a subnormal dynamic scale). A non-finite y_ref,
 * or an exact y (y is beta) with inv a power of two, leaves no freedom. */
static void q_range(long double y, long double bound, float inv, bool exact, int *lo, int *hi)
{
    long double t = y * (long double)inv;
    if (!isfinite(y) || (exact && is_pow2(inv))) {
        *lo = *hi = q_expect(t);
        return;
    }
    long double tl = (y - bound) * (long double)inv, th = (y + bound) * (long double)inv;
    if (isfinite(inv)) {
        long double w = 2.0L * type_ulp(t, T_F32);
        tl -= w;
        th += w;
    }
    *lo = q_expect(tl);
    *hi = q_expect(th);
    if (*lo > *hi) { /* 0 * inf at an end: q_expect gives 0 */
        int tmp = *lo;
        *lo = *hi;
        *hi = tmp;
    }
}

/* y is exactly beta: gamma' == 0, no gate multiplying it. */
static bool exact_elem(const gspec *sp, const ginputs *in, size_t i)
{
    return sp->has_g && sp->gate != G_AFTER && (sp->unit ? 1.0L + in->gf[i] : (long double)in->gf[i]) == 0.0L;
}

/* Row k of an int8 output: the dynamic scale, q against the reference, q against the oracle. */
static void check_q_row(const gspec *sp, const ginputs *in, size_t k, const norm_job *u, const norm_job *o,
                        float inv_static, gstats *st)
{
    size_t n = sp->n;
    const int8_t *q = (const int8_t *)u->y + k * u->y_stride;
    const int8_t *qo = o ? (const int8_t *)o->y + k * o->y_stride : NULL;
    const long double *yr = in->yref + k * n, *bd = in->bound + k * n;
    char txt[320];
    float inv = inv_static, inv_o = inv_static;
    if (sp->dyn) {
        long double amax = 0.0L, bmax = 0.0L;
        for (size_t i = 0; i < n; i++)
            if (!isnan(yr[i])) {
                amax = fmaxl(amax, fabsl(yr[i]));
                if (isfinite(yr[i]))
                    bmax = fmaxl(bmax, bd[i]);
            }
        long double want = amax / 127.0L, bound = bmax / 127.0L + 0x1p-23L * want + 0x1p-149L;
        float s = u->y_scales[k];
        if (isinf(want) || isnan(s) || isinf(s) ? !(s == (float)want) : !(fabsl((long double)s - want) <= bound)) {
            FAIL("row %zu: dynamic scale got %.9g want %.12Lg bound %.4Lg", k, (double)s, want, bound);
            return;
        }
        if (isfinite(want) && want >= FLT_MIN && bound > 0)
            st->worst_scale = maxd(st->worst_scale, (double)(fabsl((long double)s - want) / bound));
        if (o && !same_value(u->y_scales, o->y_scales, k, NORM_F32) && !(fabsl((long double)s - (long double)o->y_scales[k]) <= 2 * bound)) {
            FAIL("row %zu: dynamic scale got %.9g, the oracle's %.9g (bound %.4Lg)", k, (double)s,
                 (double)o->y_scales[k], bound);
            return;
        }
        inv = inv_of(s);
        if (o)
            inv_o = inv_of(o->y_scales[k]);
        st->q_dynamic_rows++;
    }
    for (size_t i = 0; i < n && !fail_msg[0]; i++) {
        long double t = yr[i] * (long double)inv;
        int want = q_expect(t), got = q[i];
        bool exact = exact_elem(sp, in, i);
        if (exact && is_pow2(inv) && !isnan(t) && fabsl(t - truncl(t)) == 0.5L && fabsl(t) < 127.0L)
            st->ties++;
        int lo, hi;
        q_range(yr[i], bd[i], inv, exact, &lo, &hi);
        if (got != want) {
            if (lo <= got && got <= hi) {
                st->exc_ref++;
            } else {
                inputs_txt(txt, sizeof txt, sp, in, k, i);
                FAIL("row %zu index %zu: q got %d want %d (allowed %d..%d; y_ref * inv = %.12Lg, inv %.9g%s) (%s)", k, i,
                     got, want, lo, hi, t, (double)inv, exact && is_pow2(inv) ? ", exact: y is beta" : "", txt);
                return;
            }
        }
        if (qo && qo[i] != got) {
            int olo, ohi;
            q_range(yr[i], bd[i], inv_o, exact, &olo, &ohi);
            if (olo <= qo[i] && qo[i] <= ohi) {
                st->exc_oracle++;
            } else {
                inputs_txt(txt, sizeof txt, sp, in, k, i);
                FAIL("row %zu index %zu: q got %d, the oracle's %d, which the reference does not allow (%d..%d; "
                     "y_ref * inv = %.12Lg, inv %.9g, oracle's inv %.9g) (%s)",
                     k, i, got, qo[i], olo, ohi, t, (double)inv, (double)inv_o, txt);
                return;
            }
        }
    }
    st->q_values += (long)n;
}

/* Row k of an f32/f16/bf16 output: against the reference, and the oracle. */
static void check_y_row(const gspec *sp, const ginputs *in, size_t k, const void *yrow, const void *orow, gstats *st)
{
    int t = in->c.y;
    size_t n = sp->n;
    const long double *yr = in->yref + k * n, *bd = in->bound + k * n;
    char txt[320];
    for (size_t i = 0; i < n && !fail_msg[0]; i++) {
        long double want = yr[i], bound = bd[i];
        float got = type_load(yrow, i, t);
        const char *what = NULL;
        double ulps = 0;
        if (t == NORM_F32) {
            if (isnan(want) || isnan(got)) {
                if (!(isnan(want) && isnan(got)))
                    what = "NaN exactly where the reference has NaN";
            } else if (isinf(want)) {
                if ((long double)got != want)
                    what = "the reference's infinity";
            } else if (fabsl(want) > (long double)FLT_MAX) {
                if (!(isinf(got) && signbit(got) == signbit(want)) && !(fabsl((long double)got - want) <= bound))
                    what = "beyond the f32 range: its infinity";
            } else if (isinf(got) || !(fabsl((long double)got - want) <= bound)) {
                what = "outside the bound";
            } else if (sp->gate && bound > 0 && fabsl(want) >= FLT_MIN) {
                double ratio = (double)(fabsl((long double)got - want) / bound);
                st->worst_f32[sp->gate == G_BEFORE] = maxd(st->worst_f32[sp->gate == G_BEFORE], ratio);
            }
        } else {
            if (!check_half((uint16_t)bits_of(yrow, i, t), t, want, bound, &ulps))
                what = "more than 1 ulp + the bound from the reference";
            else if (isfinite(want) && isfinite(got) && fabsl(want) <= type_max(t))
                st->worst_half = maxd(st->worst_half, (double)(fabsl((long double)got - want) /
                                                               (type_ulp(want, t) + bound)));
        }
        if (!what && orow) {
            float of = type_load(orow, i, t);
            if (isnan(of) != isnan(got)) {
                what = "NaN exactly where the oracle has NaN";
            } else if (t != NORM_F32 && !isnan(of)) {
                int steps = half_steps((uint16_t)bits_of(yrow, i, t), (uint16_t)bits_of(orow, i, t), t);
                long double d = fabsl((long double)got - (long double)of), allowed = type_ulp(of, t) + 2 * bound;
                if (steps > 1 && !(d <= allowed))
                    what = "more than 1 step (or 1 ulp + twice the bound) from the oracle";
                else if (steps > 1 && isfinite(of) && isfinite(got))
                    st->worst_half_oracle = maxd(st->worst_half_oracle, (double)(d / allowed));
            }
        }
        if (what) {
            inputs_txt(txt, sizeof txt, sp, in, k, i);
            FAIL("row %zu index %zu: y %s: got %.9g (0x%0*x) want %.12Lg bound %.4Lg (%.3g ulp)%s%.9g (%s)", k, i, what,
                 (double)got, t == NORM_F32 ? 8 : 4, bits_of(yrow, i, t), want, bound, ulps,
                 orow ? "; oracle " : "", orow ? (double)type_load(orow, i, t) : 0.0, txt);
        }
    }
}

static void check_stats_row(const gspec *sp, const ginputs *in, size_t k, const norm_job *u, gstats *st)
{
    ref_stats ref = in->st[k];
    mismatch m = { 0 };
    if (u->rstd) {
        long double tol = sp->gate == G_BEFORE ? GATE_TOL : CONTRACT_TOL;
        st->worst_rstd = maxd(st->worst_rstd, check_stat(u->rstd[k], ref.rstd, tol * fabsl(ref.rstd) + 0x1p-149L,
                                                         "rstd", k, &m));
    }
    if (u->mean && !m.failed)
        st->worst_mean = maxd(st->worst_mean, check_stat(u->mean[k], ref.mean,
                                                         CONTRACT_TOL * (fabsl(ref.mean) + 1.0L / ref.rstd) + 0x1p-149L,
                                                         "mean", k, &m));
    if (m.failed)
        FAIL("row %zu: %s got %.9g want %.12Lg bound %.4Lg", k, m.what, m.got, m.want, m.bound);
}

/* ---- one case ------------------------------------------------------------------------------- */

static void run_gcase(int v, gspec *sp, ginputs *in, const char *label)
{
    combo c = in->c;
    normalise(sp, c);
    size_t n = sp->n, rows = sp->rows, xe = esize(c.x), ye = esize(c.y), pe = esize(c.p);
    ck_assert(rows >= 1 && rows <= MAX_ROWS);
    if (sp->res)
        compute_h(in, rows, n, sp->has_bias);
    reference(sp, in);

    float s = sp->scale;
    if (c.y == NORM_I8 && !sp->dyn && sp->scale_factor > 0) {
        long double amax = 0.0L;
        for (size_t i = 0; i < rows * n; i++)
            if (isfinite(in->yref[i]))
                amax = fmaxl(amax, fabsl(in->yref[i]));
        s = (float)(amax / 127.0L * sp->scale_factor);
        if (!(s >= FLT_MIN) || !isfinite(s) || !isfinite(1.0f / s))
            s = 1.0f;
    }
    float inv = 1.0f / s;
    describe(test_context, sizeof test_context, v, c, sp, label, s);
    fail_msg[0] = '\0';

    gbufs unit, oracle;
    gbufs_init(&unit, sp, in, sp->guard, inv);
    if (v != V_ORACLE) {
        gbufs_init(&oracle, sp, in, GUARD_NONE, inv);
        gfn(table_of(V_ORACLE), sp, c)(&oracle.job);
    }
    gfn(table_of(v), sp, c)(&unit.job);

    const norm_job *u = &unit.job, *o = v != V_ORACLE ? &oracle.job : NULL;
    gstats *st = &gst[v];
    char txt[320];
    for (size_t k = 0; k < rows && !fail_msg[0]; k++) {
        if (sp->res) {
            const char *hrow = (const char *)unit.ph + k * sp->hs * xe;
            const void *want_h = (const char *)in->h + k * n * xe;
            const char *ohrow = o ? (const char *)oracle.ph + k * sp->hs * xe : NULL;
            for (size_t i = 0; i < n && !fail_msg[0]; i++)
                if (!same_value(hrow, want_h, i, c.x) || (ohrow && !same_value(hrow, ohrow, i, c.x))) {
                    inputs_txt(txt, sizeof txt, sp, in, k, i);
                    FAIL("row %zu index %zu: residual_out got 0x%x, want 0x%x%s0x%x (%s)", k, i, bits_of(hrow, i, c.x),
                         bits_of(want_h, i, c.x), ohrow ? ", the oracle's " : "", ohrow ? bits_of(ohrow, i, c.x) : 0u, txt);
                }
            if (fail_msg[0])
                break;
        }
        check_stats_row(sp, in, k, u, st);
        if (fail_msg[0])
            break;
        const char *yrow = (const char *)u->y + k * u->y_stride * ye;
        const char *orow = o ? (const char *)o->y + k * o->y_stride * ye : NULL;
        if (c.y == NORM_I8)
            check_q_row(sp, in, k, u, o, inv, st);
        else
            check_y_row(sp, in, k, yrow, orow, st);
    }

    if (!fail_msg[0]) {
        bool x_written = sp->in_place || sp->res == R_H_IS_X;
        const region_rule regions[] = {
            { "x", &unit.x, rows, sp->xs * xe, n * xe, x_written ? NULL : in->x },
            { "gate", &unit.z, rows, sp->zs * xe, n * xe, in->z },
            { "residual", &unit.r, rows, sp->rs * xe, n * xe, sp->res == R_H_IS_R ? NULL : in->r },
            { "residual_out (outside the rows)", &unit.h, rows, sp->hs * xe, n * xe, NULL },
            { "y (outside the rows)", &unit.y, rows, sp->ys * ye, n * ye, NULL },
            { "gamma", &unit.g, 1, n * pe, n * pe, in->g },
            { "beta", &unit.b, 1, n * pe, n * pe, in->b },
            { "bias", &unit.bias, 1, n * pe, n * pe, in->bias },
            { "mean (outside)", &unit.mean, 1, rows * 4, rows * 4, NULL },
            { "rstd (outside)", &unit.rstd, 1, rows * 4, rows * 4, NULL },
            { "y_scales (outside)", &unit.scales, 1, rows * 4, rows * 4, NULL },
        };
        fail_if_clobbered(regions, sizeof regions / sizeof regions[0]);
    }

    st->cases++;
    st->rows += (long)rows;
    st->values += (long)(rows * n);
    gbufs_free(&unit);
    if (o)
        gbufs_free(&oracle);
    if (fail_msg[0])
        ck_abort_msg("%s", fail_msg);
}

/* ---- input generators ---------------------------------------------------------------------- */

/* gamma around 1 with either sign now and then (under the unit offset gamma itself is drawn
 * around 0, so that 1 + gamma is), beta and the bias around 0; then encoded. */
static void gen_params(rng *r, const ginputs *in, size_t rows, size_t n, bool unit)
{
    gen_affine_params(r, in->gf, in->bf, in->biasf, n, unit);
    encode(in, rows, n);
}

/* Gate values as a model's: mostly within +-10, sometimes a wide spread with values where
 * exp(-z) overflows f32 (|z| near 90 and 100). */
static void gen_z_row(rng *r, float *z, size_t n, int t)
{
    int kind = (int)rng_below(r, 4);
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
        case 0: z[i] = (float)(2.5 * fast_normal(r)); break;
        case 1: z[i] = (float)rng_uniform(r, -10, 10); break;
        case 2: z[i] = (float)(rng_uniform(r, -3, 3) + 0.5 * fast_normal(r)); break;
        default: {
            static const float wide[] = { 30.0f, -30.0f, 88.5f, -88.5f, 90.0f, -90.0f, 100.0f, -100.0f, -17.0f };
            z[i] = rng_below(r, 8) ? (float)(3.0 * fast_normal(r)) : wide[rng_below(r, 9)];
            break;
        }
        }
        z[i] = clamp_to(z[i], t);
    }
}

/* x like a layer's activations, z as above, the residual stream larger. */
static void gen_case(rng *r, const ginputs *in, size_t rows, size_t n, bool unit)
{
    int t = in->c.x;
    for (size_t k = 0; k < rows; k++) {
        gen_row(r, in->xf + k * n, n, fast_normal, 1.0, t);
        gen_z_row(r, in->zf + k * n, n, t);
        gen_row(r, in->rf + k * n, n, fast_normal, pow(10.0, rng_uniform(r, -0.5, 0.5)), t);
    }
    gen_params(r, in, rows, n, unit);
}

static gspec dense_spec(bool layernorm, int gate, int res, size_t rows, size_t n, float eps)
{
    gspec s;
    memset(&s, 0, sizeof s);
    s.layernorm = layernorm;
    s.gate = gate;
    s.res = res;
    s.rows = rows;
    s.n = n;
    s.xs = s.zs = s.rs = s.hs = s.ys = n;
    s.eps = eps;
    s.stats = true;
    s.has_g = s.has_b = s.has_bias = true;
    s.scale_factor = 1.0;
    return s;
}

/* Strides of x, gate, residual, residual_out and y all different, pointers 0-3 elements past
 * 64 bytes, the options at random. */
static gspec random_gspec(rng *r, bool layernorm, int gate, int res, size_t rows, size_t n)
{
    gspec s = dense_spec(layernorm, gate, res, rows, n, eps_any(r));
    size_t strides[5];
    distinct_strides(r, n, strides, 5);
    s.xs = strides[0];
    s.zs = strides[1];
    s.rs = strides[2];
    s.hs = strides[3];
    s.ys = strides[4];
    random_offsets(r, (unsigned *const[]){ &s.x_off, &s.z_off, &s.r_off, &s.h_off, &s.y_off, &s.g_off, &s.b_off,
                                           &s.bias_off, &s.s_off }, 9);
    s.eps_outside = rng_bool(r);
    s.nontemporal = rng_below(r, 4) == 0;
    s.stats = rng_bool(r);
    s.unit = rng_bool(r);
    s.has_g = rng_below(r, 4) != 0;
    s.has_b = rng_bool(r);
    s.has_bias = rng_bool(r);
    s.in_place = rng_below(r, 3) == 0;
    s.dyn = rng_bool(r);
    s.scale_factor = rng_uniform(r, 0.3, 1.6);
    return s;
}

/* Each test: this variant and combination, and the combination's input stream. */
#define GATE_SETUP(test)          \
    int v = _i / 32;              \
    combo c = gcombos[_i % 32];   \
    rng r = gate_rng(test, c)

/* ---- the gated tests (every combination) ------------------------------------------------- */

/* Every row length up to 4 vectors of 16 plus 3, 1-3 rows, both orders, strides all different
 * (or dense), everything else at random. */
START_TEST(test_gate_tails)
{
    GATE_SETUP("tails");
    ginputs in = ginputs_alloc(c, 3, 67);
    int reps = quick ? 1 : 2;
    for (size_t n = 1; n <= 67; n++)
        for (int k = 0; k < reps; k++) {
            int gate = (n + (size_t)k) % 2 ? G_AFTER : G_BEFORE;
            size_t rows = 1 + rng_below(&r, 3);
            gspec s = random_gspec(&r, false, gate, R_NONE, rows, n);
            if (rng_below(&r, 4) == 0)
                s.xs = s.zs = s.ys = n; /* dense, the options still at random */
            gen_case(&r, &in, rows, n, s.unit);
            run_gcase(v, &s, &in, "tails");
        }
}
END_TEST

/* Long rows: several blocks of every loop, odd lengths; 65541 one order per combination.
 * 1000 is pipelined (half the kernels' stash per row), 3001 fills most of the stash, 4099 and
 * 65541 are longer than it (silu a stash at a time). */
START_TEST(test_gate_large)
{
    static const size_t sizes[] = { 1000, 3001, 4099, 65541 };
    GATE_SETUP("large");
    ginputs in = ginputs_alloc(c, 2, 65541);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int gate = G_AFTER; gate <= G_BEFORE; gate++) {
            size_t n = sizes[k];
            if (n > 10000 && (quick || gate != 1 + (_i % 32) % 2))
                continue;
            size_t rows = n > 10000 ? 1 : 1 + rng_below(&r, 2);
            gspec s = random_gspec(&r, false, gate, R_NONE, rows, n);
            gen_case(&r, &in, rows, n, s.unit);
            run_gcase(v, &s, &in, "large");
        }
}
END_TEST

/* Every buffer (x, gate, y, gamma, beta, rstd, y_scales) flush against a PROT_NONE page at its
 * end or its start. */
static const size_t guard_sizes[] = { 1, 3, 7, 9, 15, 16, 17, 31, 33, 63, 65, 257 };

START_TEST(test_gate_guard)
{
    GATE_SETUP("guard");
    ginputs in = ginputs_alloc(c, 3, 257);
    size_t count = quick ? 8 : sizeof guard_sizes / sizeof guard_sizes[0];
    for (size_t k = 0; k < count; k++)
        for (int side = GUARD_END; side <= GUARD_START; side++) {
            size_t n = guard_sizes[k], rows = 1 + (n + (size_t)side) % 3;
            int gate = (k + (size_t)side) % 2 ? G_AFTER : G_BEFORE;
            gspec s = k % 2 ? random_gspec(&r, false, gate, R_NONE, rows, n)
                            : dense_spec(false, gate, R_NONE, rows, n, eps_any(&r));
            s.guard = side;
            s.has_g = s.has_b = s.stats = true;
            s.unit = (k + (size_t)side) % 2;
            s.dyn = k % 3 != 0;
            gen_case(&r, &in, rows, n, s.unit);
            run_gcase(v, &s, &in, "guard");
        }
}
END_TEST

/* A value of t as f32: v clamped to t's range, or for "subnormal" a subnormal of t. */
static float subnormal_of(rng *r, int t)
{
    double m = t == NORM_F16 ? 0x1p-24 * (1 + rng_below(r, 1000)) : 0x1p-149 * (1 + rng_below(r, 1u << 22));
    return (float)(rng_bool(r) ? m : -m);
}

/* Gate values where exp overflows or underflows, zeros, NaN and infinities, subnormals;
 * rows of them; NaN and Inf in x; rows of zeros; beta hit exactly (gamma' = 0). Row 1 is the
 * special one among ordinary rows where the case says so. */
START_TEST(test_gate_special)
{
    static const size_t sizes[] = { 5, 17, 67, 259 };
    static const char *const names[] = {
        "z specials sprinkled", "row of z = -100 (silu below f32's normals)", "row of z = -1e30 (silu -0)",
        "row of subnormal z", "row of z = +1e30 (x * silu(z) squares overflow f32)", "NaN/Inf in x",
        "row of zeros in x", "gamma' = 0: y is beta, ties", "x large, squares overflow f32",
    };
    GATE_SETUP("special");
    ginputs in = ginputs_alloc(c, 3, 259);
    int t = c.x;
    size_t count = quick ? 2 : 4;
    for (size_t k = 0; k < count; k++)
        for (int what = 0; what < 9; what++)
            for (int gate = G_AFTER; gate <= G_BEFORE; gate++) {
                size_t n = sizes[(k + (size_t)what) % 4];
                gspec s = random_gspec(&r, false, gate, R_NONE, 3, n);
                gen_case(&r, &in, 3, n, s.unit);
                float *z1 = in.zf + n, *x1 = in.xf + n;
                switch (what) {
                case 0:
                    for (size_t row = 0; row < 3; row++)
                        for (size_t j = 0; j < 1 + n / 4; j++) {
                            static const float sp[] = { 0.0f, -0.0f, 100.0f, -100.0f, 1e30f, -1e30f, NAN,
                                                        INFINITY, -INFINITY, 88.8f, -88.8f, -20.0f, 1.0f };
                            size_t at = row * n + rng_below(&r, (uint32_t)n);
                            unsigned w = rng_below(&r, 14);
                            /* +-1e30 become f16's largest; NaN and the infinities stay. */
                            in.zf[at] = w == 13 ? subnormal_of(&r, t) : isfinite(sp[w]) ? clamp_to(sp[w], t) : sp[w];
                        }
                    break;
                case 1: for (size_t i = 0; i < n; i++) z1[i] = -100.0f; break;
                case 2: for (size_t i = 0; i < n; i++) z1[i] = clamp_to(-1e30, t); break;
                case 3: for (size_t i = 0; i < n; i++) z1[i] = subnormal_of(&r, t); break;
                case 4: for (size_t i = 0; i < n; i++) z1[i] = clamp_to(1e30, t); break;
                case 5:
                    x1[rng_below(&r, (uint32_t)n)] = rng_bool(&r) ? NAN : (rng_bool(&r) ? INFINITY : -INFINITY);
                    break;
                case 6:
                    for (size_t i = 0; i < n; i++)
                        x1[i] = 0.0f;
                    break;
                case 7:
                    /* gamma' = 0 and beta = (j + 0.5) * s: with the static scale s (a power of two)
                     * y * inv is exactly a tie, to be rounded to even. */
                    s.has_g = s.has_b = true;
                    s.dyn = false;
                    s.scale_factor = 0;
                    s.scale = ldexpf(1.0f, (int)rng_below(&r, 5) - 2);
                    for (size_t i = 0; i < n; i++) {
                        in.gf[i] = s.unit ? -1.0f : 0.0f;
                        in.bf[i] = (float)(((double)rng_below(&r, 254) - 127.0 + 0.5) * s.scale);
                    }
                    break;
                case 8:
                    if (t != NORM_F16)
                        for (size_t i = 0; i < n; i++)
                            x1[i] = (float)(1e30 * fast_normal(&r));
                    break;
                }
                if (what >= 1 && what <= 4)
                    s.eps = rng_bool(&r) ? 0.0f : s.eps;
                if (what == 6)
                    s.eps = rng_below(&r, 3) == 0 ? 0.0f : 1e-5f;
                encode(&in, 3, n);
                run_gcase(v, &s, &in, names[what]);
            }
}
END_TEST

/* ---- the int8 tests without a gate (int8 combinations) ----------------------------------- */

/* The residual add's layouts and the norms in rotation. */
static gspec int8_spec(rng *r, int kind_mode, size_t rows, size_t n)
{
    gspec s = random_gspec(r, kind_mode % 2, G_NONE, kind_mode / 2 % 4, rows, n);
    if (rng_below(r, 4) == 0)
        s.xs = s.rs = s.hs = s.ys = n;
    return s;
}

START_TEST(test_int8_tails)
{
    GATE_SETUP("int8 tails");
    ginputs in = ginputs_alloc(c, 3, 67);
    int reps = quick ? 1 : 2;
    for (size_t n = 1; n <= 67; n++)
        for (int k = 0; k < reps; k++) {
            size_t rows = 1 + rng_below(&r, 3);
            gspec s = int8_spec(&r, (int)(n * 3 + (size_t)k), rows, n);
            gen_case(&r, &in, rows, n, s.unit);
            run_gcase(v, &s, &in, "int8 tails");
        }
}
END_TEST

START_TEST(test_int8_large)
{
    static const size_t sizes[] = { 1000, 4099, 65541 };
    GATE_SETUP("int8 large");
    ginputs in = ginputs_alloc(c, 2, 65541);
    for (size_t k = 0; k < 3; k++)
        for (int kind = 0; kind < 2; kind++) {
            size_t n = sizes[k];
            if (n > 10000 && quick)
                continue;
            size_t rows = n > 10000 ? 1 : 1 + rng_below(&r, 2);
            gspec s = int8_spec(&r, (int)(k * 2 + (size_t)kind) * 3 % 8, rows, n);
            s.dyn = (k + (size_t)kind) % 2;
            gen_case(&r, &in, rows, n, s.unit);
            run_gcase(v, &s, &in, "int8 large");
        }
}
END_TEST

START_TEST(test_int8_guard)
{
    GATE_SETUP("int8 guard");
    ginputs in = ginputs_alloc(c, 3, 257);
    size_t count = quick ? 8 : sizeof guard_sizes / sizeof guard_sizes[0];
    for (size_t k = 0; k < count; k++)
        for (int side = GUARD_END; side <= GUARD_START; side++) {
            size_t n = guard_sizes[k], rows = 1 + (n + (size_t)side) % 3;
            gspec s = int8_spec(&r, (int)(k * 2 + (size_t)side), rows, n);
            s.guard = side;
            s.has_g = s.has_b = s.has_bias = s.stats = true;
            s.dyn = (k + (size_t)side) % 2;
            gen_case(&r, &in, rows, n, s.unit);
            run_gcase(v, &s, &in, "int8 guard");
        }
}
END_TEST

/* Rows of zeros (s = 0, q = 0), NaN and Inf in x or the residual, beta hit exactly (ties),
 * every |y| equal, static scales that clamp everything or round everything to 0, y so small
 * that 1/s overflows f32. */
START_TEST(test_int8_special)
{
    static const char *const names[] = {
        "row of zeros", "NaN in x", "Inf in x", "NaN in residual", "gamma' = 0: y is beta, ties",
        "|y| all equal", "static scale tiny (all clamp)", "static scale huge (all round to 0)",
        "tiny y (1/s overflows f32)",
    };
    static const size_t sizes[] = { 1, 6, 19, 67, 130 };
    GATE_SETUP("int8 special");
    ginputs in = ginputs_alloc(c, 3, 130);
    size_t count = quick ? 3 : 5;
    for (size_t k = 0; k < count; k++)
        for (int what = 0; what < 9; what++)
            for (int kind = 0; kind < 2; kind++) {
                size_t n = sizes[k];
                gspec s = int8_spec(&r, kind + 2 * (int)((k + (size_t)what) % 4), 3, n);
                gen_case(&r, &in, 3, n, s.unit);
                float *x1 = in.xf + n, *r1 = in.rf + n;
                size_t at = rng_below(&r, (uint32_t)n);
                switch (what) {
                case 0:
                    for (size_t i = 0; i < n; i++)
                        x1[i] = r1[i] = 0.0f;
                    s.has_bias = rng_bool(&r) && s.has_bias;
                    s.has_b = rng_bool(&r);
                    s.eps = rng_below(&r, 3) == 0 ? 0.0f : 1e-5f;
                    break;
                case 1: x1[at] = NAN; break;
                case 2: x1[at] = rng_bool(&r) ? INFINITY : -INFINITY; break;
                case 3: r1[at] = NAN; s.res = s.res ? s.res : R_SEPARATE; break;
                case 4:
                    s.has_g = s.has_b = true;
                    s.dyn = k % 2;
                    s.scale_factor = 0;
                    s.scale = ldexpf(1.0f, (int)rng_below(&r, 5) - 2);
                    for (size_t i = 0; i < n; i++) {
                        in.gf[i] = s.unit ? -1.0f : 0.0f;
                        in.bf[i] = (float)(((double)rng_below(&r, 254) - 127.0 + 0.5) * s.scale);
                    }
                    break;
                case 5:
                    /* RMSNorm of +-a: |x_hat| = 1 everywhere; LayerNorm of +-a alternating. */
                    for (size_t row = 0; row < 3; row++)
                        for (size_t i = 0; i < n; i++)
                            in.xf[row * n + i] = (i % 2 ? -1.0f : 1.0f) * (float)(row + 1);
                    s.res = R_NONE;
                    s.has_b = false;
                    s.has_g = false;
                    break;
                case 6: s.dyn = false; s.scale_factor = 1e-3; break;
                case 7: s.dyn = false; s.scale_factor = 1e3; break;
                case 8:
                    if (c.p == NORM_F32) {
                        s.has_g = true;
                        s.has_b = false;
                        s.unit = false;
                        s.dyn = true;
                        for (size_t i = 0; i < n; i++)
                            in.gf[i] = (float)(1e-40 * (1.0 + rng_uniform(&r, 0, 1)));
                    }
                    break;
                }
                encode(&in, 3, n);
                run_gcase(v, &s, &in, names[what]);
            }
}
END_TEST

/* ---- the tcases ---------------------------------------------------------------------------- */

static int earlier_gated(int v, const norm_kernels *k, combo c)
{
    for (int w = 0; w < v; w++) {
        const norm_kernels *kw = norm_kernels_variant(half_variant_names[w]);
        if (kw && kw->rmsnorm_gated[c.x][c.y][c.p] == k->rmsnorm_gated[c.x][c.y][c.p])
            return w;
    }
    return -1;
}

bool gate_add_tcase(Suite *s, int v)
{
    static char names[HALF_NVARIANTS][32];
    if (!gst)
        gst = shared_stats_alloc(sizeof(gstats) * HALF_NVARIANTS);
    const norm_kernels *k = norm_kernels_variant(half_variant_names[v]);
    if (!k) {
        printf("%s: %s/gate: skipped (not compiled in or CPU lacks it)\n", PROGRAM, half_variant_names[v]);
        return false;
    }
    snprintf(names[v], sizeof names[v], "%s/gate", half_variant_names[v]);
    TCase *tc = checkasm_tcase(names[v]);
    gstats *st = &gst[v];
    const char *gdup = "-", *idup = "-";
    for (int ci = 0; ci < NGCOMBOS; ci++) {
        combo c = gcombos[ci];
        int i = LOOP(v, ci), same = earlier_gated(v, k, c);
        if (same >= 0) {
            st->gated_dups++;
            gdup = half_variant_names[same];
        } else {
            tcase_add_loop_test(tc, test_gate_tails, i, i + 1);
            tcase_add_loop_test(tc, test_gate_large, i, i + 1);
            tcase_add_loop_test(tc, test_gate_guard, i, i + 1);
            tcase_add_loop_test(tc, test_gate_special, i, i + 1);
            st->gated_combos++;
        }
        if (c.y != NORM_I8)
            continue;
        same = earlier_variant_with_kernels(v, k, c);
        if (same >= 0) {
            st->int8_dups++;
            idup = half_variant_names[same];
        } else {
            tcase_add_loop_test(tc, test_int8_tails, i, i + 1);
            tcase_add_loop_test(tc, test_int8_large, i, i + 1);
            tcase_add_loop_test(tc, test_int8_guard, i, i + 1);
            tcase_add_loop_test(tc, test_int8_special, i, i + 1);
            st->int8_combos++;
        }
    }
    printf("%s: %s: gate: gated RMSNorm %d of %d type combinations tested (%d run the same kernels as %s's, "
           "not repeated); int8 without gate %d of 5 tested (%d the same as %s's)\n",
           PROGRAM, half_variant_names[v], st->gated_combos, NGCOMBOS, st->gated_dups, gdup, st->int8_combos,
           st->int8_dups, idup);
    if (st->gated_combos || st->int8_combos) {
        suite_add_tcase(s, tc);
        tested[v] = true;
    }
    return true;
}

void gate_print_summary(void)
{
    for (int v = 0; v < HALF_NVARIANTS; v++) {
        if (!tested[v])
            continue;
        const gstats *st = &gst[v];
        printf("%s: gate %-10s %5ld cases, %6ld rows: gated f32 worst err/bound after %.4f before %.4f; "
               "half err/(1 ulp + bound) %.4f", PROGRAM, half_variant_names[v], st->cases, st->rows,
               st->worst_f32[0], st->worst_f32[1], st->worst_half);
        if (v != V_ORACLE)
            printf(" (vs oracle %.4f)", st->worst_half_oracle);
        printf("; rstd %.4f mean %.4f; int8 %ld q, %ld dynamic rows (scale err/bound %.4f), exceptions %ld vs "
               "reference, %ld vs oracle, %ld exact ties round to even\n", st->worst_rstd, st->worst_mean,
               st->q_values, st->q_dynamic_rows, st->worst_scale, st->exc_ref, st->exc_oracle, st->ties);
    }
}
