/*
 * checkasm, rows are independent: every output of a row (y, the row's mean and rstd, the fused
 * residual add's h in residual_out, an int8 row's dynamic scale in y_scales, the moments
 * kernels' moments_out) depends only on that row's inputs and the call's parameters, never on
 * which other rows share the call, on the row's index, or on its address. That is a promise
 * of the product: an engine batches whatever requests are in flight, and a request's result
 * must not change with its neighbours. A kernel breaks it as soon as it carries anything from
 * one row into the next (a shift or a guess taken from the row before, a pipeline's state) or
 * lets a row's address decide the order of its sums (an alignment peel).
 *
 * Each case, on every kernel variant this machine can run:
 *   (1) a batch of R_ROWS rows built so that neighbours differ as much as they can (below);
 *   (2) one call on the whole batch, every row stride larger than n (n + 1 to n + 5, one per
 *       buffer), so the rows are not contiguous and start at different alignments;
 *   (3) each row alone: its inputs (x, and the residual or gate where the case has one) copied
 *       to fresh buffers 1-3 elements past a 64-byte boundary, never at the alignment of the
 *       batch's row, fresh outputs likewise, job.rows = 1; every output compared with the
 *       batch's bit for bit (memcmp: NaN payloads too, a kernel is deterministic);
 *   (4) the batch again in reverse order, with other strides and offsets, each row compared
 *       with the forward batch's again (now every row has a different predecessor).
 * gamma, beta and the bias are the call's parameters: the same buffers for every call.
 *
 * The rows, in this order (x; the residual and the gate are ordinary rows of their own):
 *   0 zero-mean Gaussian, std 1            4 std 1 with outliers at channels 3 and n/2 (500, -450)
 *   1 mean 1000 std (std 1)                5 large mean: 1e5, std 1 (big_mean: f16 and bf16)
 *   2 offset of 3 std (mean 3, std 1)      6 zero-mean Gaussian, std 2
 *   3 constant (1.3 rounded to x's type)
 * Rows 1, 2, 3 and 5 have means large against their spread, rows 0, 4 and 6 do not, and each
 * kind follows the other in both orders: forward rows 2, 3, 4 and 6 follow a large mean (6 the
 * largest), reversed rows 0, 1, 2 and 4 do. A kernel that takes, say, LayerNorm's sum shift
 * from the previous row's mean sums row 2 around 1000 in the batch and around 0 alone, and
 * rounds it differently; the summary counts the differing rows by row, which tells such a
 * cause (only rows after a large mean) from an address or an index (any row, row 0 alone too).
 *
 * Operations (all of norm_kernels): RMSNorm and LayerNorm (gamma and beta, gamma only, none;
 * the unit offset; eps inside and outside the sqrt, 0 and 1 included; the fused residual add
 * with and without bias; the streaming stores; given moments, the apply step of a split row);
 * gated RMSNorm (the gate after and before the norm, gamma or none, with beta or the unit
 * offset (the kernels' scalar rows), the streaming stores, given moments); int8 output, every
 * case of an int8 combination once with a static scale and once with dynamic scales; the
 * moments kernels (of x, of the residual add's h with and without bias, of RMSNorm's x *
 * silu(gate)). Row lengths 37 and 128 (pipelined one row ahead: n < NORM_AHEAD_BELOW), 1500
 * and 4099 (one row at a time; 4099 is longer than the gated kernels' stash); NORM_TEST_QUICK
 * keeps 37 and 1500.
 *
 * Type combinations: the 20 of NORM_ALL_TYPES (x f32/f16/bf16, y f32/f16/bf16/i8, gamma and
 * beta f32 or x's type) for the norms; the moments kernels' five (x, bias) pairs on the
 * combination with f32 output. A test whose kernel is the very function an earlier variant's
 * same test ran (a table entry avx512bf16 shares with avx512) is not repeated.
 *
 * A test runs all its cases and fails once, with the first difference and the number of cases
 * that had one. Tcases "<variant>/rows", loop index CASE_INDEX(variant, combination).
 */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkasm_engine.h"

#define seed checkasm_seed
#define quick checkasm_quick

#define R_ROWS 7
#define NMAX 4099

/* ---- type combinations ------------------------------------------------------------------ */

#define NRCOMBOS NALL_COMBOS
#define rcombos all_combos

#define tname dtype_name
#define esize dtype_size

/* Element i of a row of type t as a number, int8 included (type_load knows the float types only). */
static double value_of(const void *p, size_t i, int t)
{
    return t == NORM_I8 ? (double)((const int8_t *)p)[i] : (double)type_load(p, i, t);
}

/* ---- the kernels under test ------------------------------------------------------------- */

/* What the summary counts: one per kernel table (the moments kernels one each). */
enum { K_RMS, K_LN, K_GATED, K_RMS_MOM, K_LN_MOM, NKINDS };
static const char *const kind_names[NKINDS] = { "rmsnorm", "layernorm", "rmsnorm_gated", "rmsnorm_moments",
                                                "layernorm_moments" };

static norm_kernel_fn *kind_fn(const norm_kernels *k, int kind, combo c)
{
    switch (kind) {
    case K_RMS: return k->rmsnorm[c.x][c.y][c.p];
    case K_LN: return k->layernorm[c.x][c.y][c.p];
    case K_GATED: return k->rmsnorm_gated[c.x][c.y][c.p];
    case K_RMS_MOM: return k->rmsnorm_moments[c.x][c.p];
    default: return k->layernorm_moments[c.x][c.p];
    }
}

/* same_fn: the function of kind `what` (K_*). */
static bool same_kind_fn(const norm_kernels *a, const norm_kernels *b, combo c, int what)
{
    return kind_fn(a, what, c) == kind_fn(b, what, c);
}

/* The moments kernels each variant tests, bit `kind - K_RMS_MOM` per combination, decided when
 * the tcase is built (before Check forks). */
static unsigned mom_plan[HALF_NVARIANTS][NRCOMBOS];

/* ---- what the run saw, per variant and kind --------------------------------------------- */

enum { D_Y = 1, D_MEAN = 2, D_RSTD = 4, D_H = 8, D_SCALE = 16, D_MOM = 32 };
static const char *const output_names[] = { "y", "mean", "rstd", "residual_out", "y_scales", "moments_out" };

typedef struct rstats {
    long cases, failed;      /* cases, and those with a row that differed */
    long rows;               /* rows compared (each alone and reversed) */
    long alone, reversed;    /* rows whose outputs alone / in the reversed batch differed */
    long alone_at[R_ROWS], reversed_at[R_ROWS]; /* the same, by row (the row's neighbours tell why) */
    unsigned outputs;        /* D_*: which outputs ever differed */
} rstats;

static rstats *rst; /* [variant][kind], MAP_SHARED */

/* ---- inputs ------------------------------------------------------------------------------- */

static const char *const row_names[R_ROWS] = {
    "zero mean", "mean 1000 std", "mean 3 std", "constant", "outliers at 3 and n/2", "large mean",
    "zero mean, std 2",
};

/* Dense rows in x's type (x, residual, gate) and the parameters in theirs, x's values as f32,
 * and the moments the apply step is given. */
typedef struct rinputs {
    CASE_INPUTS;
    size_t n;
    norm_moments mom[R_ROWS];
} rinputs;

static rinputs rinputs_alloc(combo c)
{
    rinputs in = { .inputs = case_inputs_alloc(c, R_ROWS, NMAX) };
    return in;
}

/* The large-mean row, (mean, std): 1e5 and 1 where x's type holds it. bf16 has 8 significant
 * bits (an ulp of 512 at 1e5: a std of 1 would only repeat the constant row), so its std is
 * 1000; f16 ends at 65504, so its mean is 3e4 (ulp 16) with std 100. */
static void big_mean(int t, double *mu, double *sd)
{
    *mu = t == NORM_F16 ? 3e4 : 1e5;
    *sd = t == NORM_F32 ? 1.0 : t == NORM_BF16 ? 1e3 : 100.0;
}

/* The batch of rows of length n (see the top of the file), a residual and a gate that are
 * ordinary rows (small enough to keep h's statistics x's), the parameters, all rounded to
 * their types and stored. */
static void gen_rows(rng *r, rinputs *in, size_t n)
{
    int t = in->c.x;
    double mu, sd;
    big_mean(t, &mu, &sd);
    in->n = n;
    for (size_t k = 0; k < R_ROWS; k++)
        for (size_t i = 0; i < n; i++) {
            size_t j = k * n + i;
            double g = fast_normal(r), v;
            switch (k) {
            case 0: v = g; break;
            case 1: v = 1000.0 + g; break;
            case 2: v = 3.0 + g; break;
            case 3: v = 1.3; break;
            case 4: v = i == 3 ? 500.0 : i == n / 2 ? -450.0 : g; break;
            case 5: v = mu + sd * g; break;
            default: v = 2.0 * g; break;
            }
            in->xf[j] = clamp_to(v, t);
            in->rf[j] = (float)(0.5 * fast_normal(r));
            in->zf[j] = (float)(2.5 * fast_normal(r));
        }
    gen_affine_params(r, in->gf, in->bf, in->biasf, n, false);
    case_encode(&in->inputs, R_ROWS, n);
}

/* The moments the apply step is given: each row's own, of x (RMSNorm's about zero), in long
 * double. (With a gate before the norm a split row's moments would be those of x * silu(z);
 * any valid moments serve here, since only their independence from other rows is tested.) */
static void given_moments(rinputs *in, bool layernorm)
{
    size_t n = in->n;
    for (size_t k = 0; k < R_ROWS; k++) {
        const float *x = in->xf + k * n;
        long double mean = 0.0L, m2 = 0.0L;
        if (layernorm) {
            for (size_t i = 0; i < n; i++)
                mean += x[i];
            mean /= (long double)n;
        }
        for (size_t i = 0; i < n; i++)
            m2 += ((long double)x[i] - mean) * ((long double)x[i] - mean);
        in->mom[k] = (norm_moments){ (double)n, (double)mean, (double)m2 };
    }
}

/* ---- cases ----------------------------------------------------------------------------- */

enum { G_NONE, G_AFTER, G_BEFORE };
static const char *const gate_names[] = { "none", "after the norm", "before the norm" };
enum { RES_NONE, RES_PLAIN, RES_BIAS };
static const char *const res_names[] = { "none", "residual", "residual + bias" };
enum { Q_STATIC, Q_DYNAMIC };

/* The static int8 scale: |y| up to ~8 (the outlier row's x_hat is sqrt(n / 2) at n = 128)
 * spans the int8 range; larger ones clamp, which is part of the output too. */
#define Q_INV (127.0f / 8.0f)

typedef struct rcase {
    int kind;       /* K_*: which table */
    bool has_g, has_b, unit, eps_outside, nontemporal, given;
    float eps;
    int res, gate, q;
    const char *label;
} rcase;

/* ---- one call's buffers ----------------------------------------------------------------- */

/* The buffers a call may have; per-row arrays (mean, rstd, y_scales, the moments in and out)
 * after the rows. */
enum { B_X, B_R, B_Z, B_H, B_Y, B_MEAN, B_RSTD, B_SCALES, B_MOM, B_MOUT, NBUFS };

/* Row strides (n + extra, elements) and offsets (elements past 64 bytes; moments: 8 bytes). */
typedef struct rlayout {
    size_t extra[NBUFS];
    unsigned off[NBUFS];
} rlayout;

/* The forward batch: every stride different and larger than n, everything 64-byte aligned,
 * so row r of each buffer sits r * stride elements past a boundary. */
static const rlayout batch_layout = { { 3, 1, 2, 5, 4 }, { 0 } };
/* The reversed batch: other strides, other offsets. */
static const rlayout back_layout = { { 6, 4, 5, 2, 1 }, { 2, 3, 1, 1, 2, 1, 2, 3, 1, 2 } };

typedef struct rcall {
    byte_region buf[NBUFS];
    norm_job job;
} rcall;

/* rows rows of n elements of es bytes (row order[k] of the dense src in row k, or the canary
 * when src is NULL: an output), stride elements apart, off elements past 64 bytes. */
static void *place_rows(byte_region *rg, const void *src, const size_t *order, size_t rows, size_t n,
                        size_t stride, size_t es, unsigned off)
{
    unsigned char *p = out_rows(rg, rows, n, stride, es, off, GUARD_NONE);
    if (src)
        for (size_t k = 0; k < rows; k++)
            memcpy(p + k * stride * es, (const char *)src + order[k] * n * es, n * es);
    return p;
}

static void rcall_init(rcall *s, const rcase *cs, const rinputs *in, const size_t *order, size_t rows,
                       const rlayout *lo)
{
    memset(s, 0, sizeof *s);
    combo c = in->c;
    size_t n = in->n, xe = esize(c.x), ye = esize(c.y);
    size_t xs = n + lo->extra[B_X], rs = n + lo->extra[B_R], zs = n + lo->extra[B_Z], hs = n + lo->extra[B_H],
           ys = n + lo->extra[B_Y];
    bool moments_op = cs->kind == K_RMS_MOM || cs->kind == K_LN_MOM;
    bool layernorm = cs->kind == K_LN || cs->kind == K_LN_MOM;
    void *px = place_rows(&s->buf[B_X], in->x, order, rows, n, xs, xe, lo->off[B_X]);
    void *pr = NULL, *ph = NULL, *pz = NULL, *py = NULL;
    float *pm = NULL, *prs = NULL, *psc = NULL;
    norm_moments *pmi = NULL, *pmo = NULL;
    if (cs->res) {
        pr = place_rows(&s->buf[B_R], in->r, order, rows, n, rs, xe, lo->off[B_R]);
        ph = place_rows(&s->buf[B_H], NULL, order, rows, n, hs, xe, lo->off[B_H]);
    }
    if (cs->gate)
        pz = place_rows(&s->buf[B_Z], in->z, order, rows, n, zs, xe, lo->off[B_Z]);
    if (moments_op) {
        pmo = byte_region_alloc(&s->buf[B_MOUT], rows * sizeof(norm_moments), lo->off[B_MOUT] * 8u, GUARD_NONE);
    } else {
        py = place_rows(&s->buf[B_Y], NULL, order, rows, n, ys, ye, lo->off[B_Y]);
        prs = byte_region_alloc(&s->buf[B_RSTD], rows * sizeof(float), lo->off[B_RSTD] * 4u, GUARD_NONE);
        if (layernorm)
            pm = byte_region_alloc(&s->buf[B_MEAN], rows * sizeof(float), lo->off[B_MEAN] * 4u, GUARD_NONE);
        if (c.y == NORM_I8 && cs->q == Q_DYNAMIC)
            psc = byte_region_alloc(&s->buf[B_SCALES], rows * sizeof(float), lo->off[B_SCALES] * 4u, GUARD_NONE);
        if (cs->given) {
            pmi = byte_region_alloc(&s->buf[B_MOM], rows * sizeof(norm_moments), lo->off[B_MOM] * 8u, GUARD_NONE);
            for (size_t k = 0; k < rows; k++)
                pmi[k] = in->mom[order[k]];
        }
    }
    norm_job job = {
        .y = py, .x = px, .y_stride = py ? ys : 0, .x_stride = xs, .rows = rows, .n = n,
        .gamma = cs->has_g ? in->g : NULL, .beta = cs->has_b ? in->b : NULL,
        .x_type = c.x, .y_type = moments_op ? NORM_F32 : c.y, .param_type = c.p, .eps = cs->eps,
        .eps_outside_sqrt = cs->eps_outside, .nontemporal = cs->nontemporal, .mean = pm, .rstd = prs,
        .unit_offset = cs->unit, .residual = pr, .residual_out = ph, .residual_stride = pr ? rs : 0,
        .residual_out_stride = ph ? hs : 0, .bias = cs->res == RES_BIAS ? in->bias : NULL,
        .gate = pz, .gate_stride = pz ? zs : 0, .gate_before = cs->gate == G_BEFORE,
        .y_inv_scale = c.y == NORM_I8 && !moments_op && cs->q == Q_STATIC ? Q_INV : 0.0f, .y_scales = psc,
        .moments = pmi, .moments_out = pmo,
    };
    s->job = job;
}

static void rcall_free(rcall *s)
{
    for (int b = 0; b < NBUFS; b++)
        byte_region_free(&s->buf[b]);
}

/* An offset of 1-3 units (elements) past 64 bytes whose alignment is not that of the batch's
 * element at batch_bytes past a boundary; pick chooses among them. */
static unsigned other_offset(size_t batch_bytes, size_t unit, size_t pick)
{
    unsigned o = 1 + (unsigned)(pick % 3);
    for (int tries = 0; tries < 3; tries++, o = o % 3 + 1)
        if (o * unit % 64 != batch_bytes % 64)
            break;
    return o;
}

/* Row r alone: every buffer at an alignment its row does not have in the forward batch. */
static rlayout alone_layout(const rinputs *in, size_t r)
{
    rlayout lo;
    memset(&lo, 0, sizeof lo);
    size_t xe = esize(in->c.x), ye = esize(in->c.y), n = in->n;
    for (int b = B_X; b <= B_Y; b++) {
        size_t es = b == B_Y ? ye : xe;
        lo.off[b] = other_offset(r * (n + batch_layout.extra[b]) * es, es, r + (size_t)b);
    }
    for (int b = B_MEAN; b <= B_SCALES; b++)
        lo.off[b] = other_offset(r * sizeof(float), sizeof(float), r + (size_t)b);
    for (int b = B_MOM; b <= B_MOUT; b++)
        lo.off[b] = other_offset(r * sizeof(norm_moments), 8, r + (size_t)b);
    return lo;
}

/* ---- comparing a row's outputs ---------------------------------------------------------- */

/* Row ka of call a against row kb of call b, every output bit for bit: returns the D_* that
 * differ, described in why (b's value first, a's in the forward batch after it). */
static unsigned compare_row(const rinputs *in, const rcall *a, size_t ka, const rcall *b, size_t kb, char *why,
                            size_t size)
{
    const norm_job *ja = &a->job, *jb = &b->job;
    combo c = in->c;
    size_t n = in->n;
    unsigned mask = 0;
    size_t len = 0;
    why[0] = '\0';
#define APPEND(...)                                                                                  \
    do {                                                                                             \
        if (len < size) {                                                                            \
            int w_ = snprintf(why + len, size - len, "%s", len ? "; " : "");                          \
            if (w_ > 0)                                                                              \
                len += (size_t)w_;                                                                   \
            if (len < size && (w_ = snprintf(why + len, size - len, __VA_ARGS__)) > 0)               \
                len += (size_t)w_;                                                                   \
        }                                                                                            \
    } while (0)
    /* y and h: a row of elements of type t. */
    for (int which = 0; which < 2; which++) {
        const void *pa = which ? ja->residual_out : ja->y, *pb = which ? jb->residual_out : jb->y;
        if (!pa)
            continue;
        int t = which ? c.x : c.y;
        size_t es = esize(t);
        const char *ra = (const char *)pa + ka * (which ? ja->residual_out_stride : ja->y_stride) * es;
        const char *rb = (const char *)pb + kb * (which ? jb->residual_out_stride : jb->y_stride) * es;
        if (memcmp(ra, rb, n * es) == 0)
            continue;
        size_t first = n, count = 0;
        for (size_t i = 0; i < n; i++)
            if (memcmp(ra + i * es, rb + i * es, es) != 0) {
                count++;
                if (first == n)
                    first = i;
            }
        int digits = (int)es * 2;
        mask |= which ? D_H : D_Y;
        APPEND("%s: %zu of %zu elements differ, first [%zu] 0x%0*x (%.9g) against 0x%0*x (%.9g)",
               which ? "residual_out" : "y", count, n, first, digits, bits_of(rb, first, t),
               value_of(rb, first, t), digits, bits_of(ra, first, t), value_of(ra, first, t));
    }
    /* The per-row floats. */
    const float *fa[3] = { ja->mean, ja->rstd, ja->y_scales }, *fb[3] = { jb->mean, jb->rstd, jb->y_scales };
    static const unsigned fbit[3] = { D_MEAN, D_RSTD, D_SCALE };
    for (int f = 0; f < 3; f++)
        if (fa[f] && memcmp(&fa[f][ka], &fb[f][kb], sizeof(float)) != 0) {
            mask |= fbit[f];
            APPEND("%s %.9g (0x%08x) against %.9g (0x%08x)", f == 0 ? "mean" : f == 1 ? "rstd" : "y_scales",
                   (double)fb[f][kb], bits_of(fb[f], kb, NORM_F32), (double)fa[f][ka], bits_of(fa[f], ka, NORM_F32));
        }
    if (ja->moments_out && memcmp(&ja->moments_out[ka], &jb->moments_out[kb], sizeof(norm_moments)) != 0) {
        const norm_moments *ma = &ja->moments_out[ka], *mb = &jb->moments_out[kb];
        mask |= D_MOM;
        APPEND("moments_out (count %.17g, mean %.17g, m2 %.17g) against (%.17g, %.17g, %.17g)", mb->count, mb->mean,
               mb->m2, ma->count, ma->mean, ma->m2);
    }
#undef APPEND
    return mask;
}

/* ---- one case ------------------------------------------------------------------------------- */

/* What a test saw over its cases: the first failure, and how many cases had one. */
typedef struct rtally {
    int cases, failed;
    char first[sizeof fail_msg];
} rtally;

static void describe(char *buf, size_t size, int v, combo c, const rcase *cs, size_t n)
{
    bool moments_op = cs->kind == K_RMS_MOM || cs->kind == K_LN_MOM;
    snprintf(buf, size,
             "seed=0x%016" PRIx64 " variant=%s rows x=%s y=%s p=%s %s [%s] n=%zu rows=%d eps=%g%s gamma=%d beta=%d "
             "unit_offset=%d residual=%s gate=%s given_moments=%d nontemporal=%d%s",
             seed, half_variant_names[v], tname(c.x), moments_op ? "-" : tname(c.y), tname(c.p), kind_names[cs->kind],
             cs->label, n, R_ROWS, (double)cs->eps, cs->eps_outside ? " (outside the sqrt)" : "", cs->has_g, cs->has_b,
             cs->unit, res_names[cs->res], gate_names[cs->gate], cs->given, cs->nontemporal,
             c.y != NORM_I8 || moments_op ? "" : cs->q == Q_DYNAMIC ? " int8=dynamic" : " int8=static");
}

/* The forward batch, each row alone, the reversed batch: every row's outputs the same bits. */
static void run_rcase(int v, const rcase *cs, const rinputs *in, rtally *t)
{
    combo c = in->c;
    norm_kernel_fn *fn = kind_fn(table_of(v), cs->kind, c);
    describe(test_context, sizeof test_context, v, c, cs, in->n);
    fail_msg[0] = '\0';

    size_t fwd[R_ROWS], rev[R_ROWS];
    for (size_t k = 0; k < R_ROWS; k++) {
        fwd[k] = k;
        rev[k] = R_ROWS - 1 - k;
    }
    rcall batch, back;
    rcall_init(&batch, cs, in, fwd, R_ROWS, &batch_layout);
    fn(&batch.job);
    rcall_init(&back, cs, in, rev, R_ROWS, &back_layout);
    fn(&back.job);

    rstats *st = &rst[v * NKINDS + cs->kind];
    char why[768];
    for (size_t r = 0; r < R_ROWS; r++) {
        rlayout lo = alone_layout(in, r);
        rcall one;
        rcall_init(&one, cs, in, &r, 1, &lo);
        fn(&one.job);
        unsigned d = compare_row(in, &batch, r, &one, 0, why, sizeof why);
        if (d) {
            st->alone++;
            st->alone_at[r]++;
            st->outputs |= d;
            FAIL("row %zu (%s) alone (job.rows = 1; x %u elements past 64 bytes, %zu in the batch) differs from "
                 "the batch's row %zu of %d (its bits against the batch's): %s", r, row_names[r], lo.off[B_X],
                 r * (in->n + batch_layout.extra[B_X]) * esize(c.x) % 64 / esize(c.x), r, R_ROWS, why);
        }
        rcall_free(&one);
        size_t k = R_ROWS - 1 - r;
        d = compare_row(in, &batch, r, &back, k, why, sizeof why);
        if (d) {
            st->reversed++;
            st->reversed_at[r]++;
            st->outputs |= d;
            FAIL("row %zu (%s) at position %zu of the reversed batch (after %s) differs from the forward batch "
                 "(after %s) (its bits against the forward batch's): %s", r, row_names[r], k,
                 k ? row_names[rev[k - 1]] : "nothing", r ? row_names[r - 1] : "nothing", why);
        }
        st->rows++;
    }
    rcall_free(&batch);
    rcall_free(&back);
    st->cases++;
    t->cases++;
    if (fail_msg[0]) {
        st->failed++;
        if (!t->failed++)
            memcpy(t->first, fail_msg, sizeof t->first);
        fail_msg[0] = '\0';
    }
}

/* Every case of an int8 combination twice: a static scale, and a dynamic scale per row. */
static void run_q(int v, rcase cs, const rinputs *in, rtally *t)
{
    int passes = in->c.y == NORM_I8 && cs.kind != K_RMS_MOM && cs.kind != K_LN_MOM ? 2 : 1;
    for (int q = 0; q < passes; q++) {
        cs.q = q;
        run_rcase(v, &cs, in, t);
    }
}

static void finish(const rtally *t)
{
    if (t->failed)
        ck_abort_msg("%s [%d of %d cases of this test had rows whose outputs depend on the other rows of the call, "
                     "the row's index or its address]", t->first, t->failed, t->cases);
}

/* ---- the tests ---------------------------------------------------------------------------- */

static const size_t sizes[] = { 37, 128, 1500, NMAX };
static const size_t quick_sizes[] = { 37, 1500 };

#define ROWS_SETUP(test)                                                 \
    CASE_SETUP("rows", test, rcombos);                                   \
    rinputs in = rinputs_alloc(c);                                       \
    rtally tally = { 0, 0, "" };                                         \
    const size_t *ns = quick ? quick_sizes : sizes;                      \
    size_t nsizes = quick ? sizeof quick_sizes / sizeof quick_sizes[0]   \
                          : sizeof sizes / sizeof sizes[0]

/* RMSNorm or LayerNorm: the parameters, eps (0, 1, inside and outside the sqrt), the unit
 * offset, the residual add with and without bias, the streaming stores, given moments. */
static void norm_cases(int v, int kind, rinputs *in, rtally *t)
{
    const rcase cases[] = {
        { .kind = kind, .has_g = true, .has_b = true, .eps = 1e-5f, .label = "gamma and beta" },
        { .kind = kind, .has_g = true, .eps_outside = true, .eps = 1e-6f,
          .label = "gamma only, eps outside the sqrt" },
        { .kind = kind, .eps = 0.0f, .label = "neither, eps 0" },
        { .kind = kind, .has_g = true, .has_b = true, .unit = true, .eps = 1e-5f, .label = "unit offset" },
        { .kind = kind, .has_g = true, .has_b = true, .eps = 1e-5f, .res = RES_BIAS,
          .label = "residual add with bias" },
        { .kind = kind, .has_g = true, .eps_outside = true, .nontemporal = true, .eps = 1e-6f, .res = RES_PLAIN,
          .label = "residual add, streaming stores" },
        { .kind = kind, .has_b = true, .nontemporal = true, .eps = 1.0f,
          .label = "beta only, eps 1, streaming stores" },
        { .kind = kind, .has_g = true, .has_b = true, .given = true, .eps = 1e-5f, .label = "given moments" },
        { .kind = kind, .eps_outside = true, .given = true, .eps = 0.0f,
          .label = "given moments, neither, eps 0 outside the sqrt" },
    };
    given_moments(in, kind == K_LN);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_q(v, cases[i], in, t);
}

START_TEST(test_rows_rmsnorm)
{
    ROWS_SETUP("rmsnorm");
    for (size_t k = 0; k < nsizes; k++) {
        gen_rows(&r, &in, ns[k]);
        norm_cases(v, K_RMS, &in, &tally);
    }
    finish(&tally);
}
END_TEST

START_TEST(test_rows_layernorm)
{
    ROWS_SETUP("layernorm");
    for (size_t k = 0; k < nsizes; k++) {
        gen_rows(&r, &in, ns[k]);
        norm_cases(v, K_LN, &in, &tally);
    }
    finish(&tally);
}
END_TEST

/* Gated RMSNorm: the gate after and before the norm, gamma or nothing (the kernels' own rows),
 * beta or the unit offset (the scalar rows they hand those to), the streaming stores, given
 * moments. */
START_TEST(test_rows_gated)
{
    static const rcase cases[] = {
        { .kind = K_GATED, .has_g = true, .eps = 1e-6f, .gate = G_AFTER, .label = "gate after, gamma" },
        { .kind = K_GATED, .eps_outside = true, .eps = 0.0f, .gate = G_AFTER,
          .label = "gate after, no gamma, eps 0 outside the sqrt" },
        { .kind = K_GATED, .has_g = true, .eps = 1e-5f, .gate = G_BEFORE, .label = "gate before, gamma" },
        { .kind = K_GATED, .eps_outside = true, .nontemporal = true, .eps = 1e-6f, .gate = G_BEFORE,
          .label = "gate before, no gamma, eps outside the sqrt, streaming stores" },
        { .kind = K_GATED, .has_g = true, .nontemporal = true, .eps = 1e-5f, .gate = G_AFTER,
          .label = "gate after, streaming stores" },
        { .kind = K_GATED, .has_g = true, .has_b = true, .eps = 1e-5f, .gate = G_AFTER,
          .label = "gate after, gamma and beta" },
        { .kind = K_GATED, .has_g = true, .unit = true, .eps = 1e-5f, .gate = G_BEFORE,
          .label = "gate before, unit offset" },
        { .kind = K_GATED, .has_g = true, .given = true, .eps = 1e-5f, .gate = G_AFTER,
          .label = "gate after, given moments" },
        { .kind = K_GATED, .has_g = true, .given = true, .eps = 1e-6f, .gate = G_BEFORE,
          .label = "gate before, given moments" },
    };
    ROWS_SETUP("gated");
    for (size_t k = 0; k < nsizes; k++) {
        gen_rows(&r, &in, ns[k]);
        given_moments(&in, false);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            run_q(v, cases[i], &in, &tally);
    }
    finish(&tally);
}
END_TEST

/* The moments kernels: of x, of the residual add's h (with and without bias; h is compared
 * too), and RMSNorm's of x * silu(gate). */
START_TEST(test_rows_moments)
{
    static const rcase cases[] = {
        { .kind = K_RMS_MOM, .eps = 0.0f, .label = "x" },
        { .kind = K_RMS_MOM, .eps = 0.0f, .res = RES_BIAS, .label = "residual add with bias" },
        { .kind = K_RMS_MOM, .eps = 0.0f, .res = RES_PLAIN, .label = "residual add" },
        { .kind = K_RMS_MOM, .eps = 0.0f, .gate = G_BEFORE, .label = "x * silu(gate)" },
        { .kind = K_LN_MOM, .eps = 0.0f, .label = "x" },
        { .kind = K_LN_MOM, .eps = 0.0f, .res = RES_BIAS, .label = "residual add with bias" },
        { .kind = K_LN_MOM, .eps = 0.0f, .res = RES_PLAIN, .label = "residual add" },
    };
    ROWS_SETUP("moments");
    unsigned plan = mom_plan[v][CASE_COMBO(_i)];
    for (size_t k = 0; k < nsizes; k++) {
        gen_rows(&r, &in, ns[k]);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            if (plan >> (cases[i].kind - K_RMS_MOM) & 1u)
                run_q(v, cases[i], &in, &tally);
    }
    finish(&tally);
}
END_TEST

/* ---- the feature ---------------------------------------------------------------------------- */

static int add_tests(TCase *tc, int v, const norm_kernels *k)
{
    (void)k;
    if (!rst)
        rst = shared_stats_alloc(sizeof(rstats) * HALF_NVARIANTS * NKINDS);
    const TTest *norm_tests[] = { [K_RMS] = test_rows_rmsnorm, [K_LN] = test_rows_layernorm,
                                  [K_GATED] = test_rows_gated };
    int own[NKINDS] = { 0 };
    dup_note note = { 0, 0, "-" };
    for (int ci = 0; ci < NRCOMBOS; ci++) {
        combo c = rcombos[ci];
        for (int kind = K_RMS; kind < NKINDS; kind++) {
            bool moments = kind == K_RMS_MOM || kind == K_LN_MOM;
            if (moments && c.y != NORM_F32) /* the moments kernels have no y: one combination per (x, bias) */
                continue;
            if (!runs_own(v, c, kind, same_kind_fn, &note))
                continue;
            own[kind]++;
            if (moments)
                mom_plan[v][ci] |= 1u << (kind - K_RMS_MOM);
            else
                add_tests_at(tc, &norm_tests[kind], 1, v, ci);
        }
        if (mom_plan[v][ci])
            add_tests_at(tc, &test_rows_moments, 1, v, ci);
    }
    printf("%s: %s: rows: rmsnorm %d, layernorm %d, rmsnorm_gated %d of %d type combinations, rmsnorm_moments %d, "
           "layernorm_moments %d of 5 tested (%d run the same kernels as %s's, not repeated)\n",
           PROGRAM, half_variant_names[v], own[K_RMS], own[K_LN], own[K_GATED], NRCOMBOS, own[K_RMS_MOM],
           own[K_LN_MOM], note.dups, note.of);
    return note.own;
}

static void summary(int v)
{
    for (int kind = 0; kind < NKINDS; kind++) {
        const rstats *st = &rst[v * NKINDS + kind];
        if (!st->cases)
            continue;
        printf("%s: rows %-10s %-17s %5ld cases, %6ld rows: ", PROGRAM, half_variant_names[v], kind_names[kind],
               st->cases, st->rows);
        if (!st->failed) {
            printf("alone == batch == reversed, bit for bit\n");
            continue;
        }
        printf("%ld cases differ; rows alone %ld (by row", st->failed, st->alone);
        for (int k = 0; k < R_ROWS; k++)
            printf(" %ld", st->alone_at[k]);
        printf("), reversed %ld (by row", st->reversed);
        for (int k = 0; k < R_ROWS; k++)
            printf(" %ld", st->reversed_at[k]);
        printf("); outputs:");
        for (int b = 0; b < 6; b++)
            if (st->outputs >> b & 1u)
                printf(" %s", output_names[b]);
        printf("\n");
    }
}

const checkasm_feature checkasm_rows = { "rows", add_tests, summary };
