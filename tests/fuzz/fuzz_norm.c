/* SPDX-License-Identifier: MIT */
/*
 * fuzz_norm: a differential libFuzzer target for norm_run, norm_moments_run and the dense entry
 * points. Each input decodes into one call (the format is below, and tests/fuzz/make_seeds.py
 * writes it); the call runs on the scalar tier, which is the oracle, and then on every other
 * tier this CPU runs (norm_set_max_isa), each time on the same buffers restored to the same
 * bytes, at the same addresses. What is checked:
 *
 *   - the status is the same on every tier, and an error where the input made the call invalid
 *     whatever the rest (a garbage struct_size, an unknown kind, flag or type, n = 0, a bad eps,
 *     a stride below n, a bad int8 scale);
 *   - on an error, nothing at all was written: every buffer, its canaries and the params struct
 *     are byte for byte what they were;
 *   - on success, nothing but the outputs' elements changed (canaries around every buffer and in
 *     every gap between rows; the inputs unchanged), on the oracle as on each tier;
 *   - each output element of a tier agrees with the oracle's within the accuracy contract
 *     (README, "Accuracy contract"): both are within the bound of the long-double reference, so
 *     they are within twice it of each other. NaN exactly where the oracle has NaN, the same
 *     infinities (or the largest finite value of the same sign where the reference lies at the
 *     edge of the range). The bounds are the tests' (tests/common.c's contract_bound and
 *     check_half's ulp rule; checkasm_gate.c's gated bound and int8 rounding allowance;
 *     checkasm_moments.c's moments bound).
 *
 * A disagreement prints the call and the first bad element, then aborts: libFuzzer saves the
 * input, and the replay driver (tests/fuzz/replay.c, the Meson test fuzz-corpus) fails.
 *
 * NORM_FUZZ_TIERS=avx2,avx512 limits the tiers compared with the oracle (scripts/fuzz.sh runs
 * one tier per libFuzzer run, so that each gets its own time and its own execution count).
 * NORM_FUZZ_LIST_TIERS=1 prints those tiers and exits. NORM_FUZZ_DUMP=1 prints each call before it
 * runs, and x with a finding.
 * NORM_FUZZ_SELFTEST=eps|canary proves the checks can fail (the Meson tests fuzz-selftest-*,
 * which must fail): every tier, and the scalar tier too as one more, runs with eps + 1, or a
 * byte before x is overwritten after each call.
 *
 * Input format (every field a byte unless said; missing bytes read as 0):
 *    0 entry: 0 norm_run, 1 norm_moments_run, 2 a dense entry point (mod 3)
 *    1 bit 0 LayerNorm, 1 eps outside, 2 unit offset, 3 gate before, 4 gate, 5 residual,
 *      6 bias, 7 statistics (rstd, and mean for LayerNorm)
 *    2 x type (low nibble mod 3), y type (high nibble mod 4: f32 f16 bf16 i8)
 *    3 bit 0 params of x's type, 1 gamma, 2 beta, 3 in place, 4-5 residual_out (0, 3: its own
 *      buffer, 1: the residual, 2: x), 6 dynamic int8 scale, 7 given moments
 *    4 rows (mod 7)
 *    5-6 n: little-endian u16 v; 1 + v % 300, or 1 + (v & 0x1fff) when bit 15 is set
 *    7-9 stride extras (0-7 elements past n; 0 passes 0, "dense") for x, y, residual,
 *      residual_out, gate, 3 bits each from a little-endian 24-bit field, then 4 element
 *      offsets (2 bits each: x, y, gamma, residual) in bits 15-22
 *   10 eps (index into eps_table)       11 static int8 scale (index into scale_table)
 *   12-19 the seed of every random value (u64)
 *   20 x distribution (low nibble), gamma's (high)   21 residual's (low), gate's (high)
 *   22 beta's and the bias's (low), the given moments' variant (high)
 *   23 x's exponent, 24 gamma's, 25 the gate's: a scale 2^(byte - 150)
 *   26 number of parameter mutations (mod 5), then 2 bytes each (what, value): see mutate()
 *   then special values, 3 bytes each: buffer (low nibble mod 7), value (high nibble), index
 *   (the next 2 bytes, mod the buffer's length)
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"
#include "dispatch.h"
#include "norm.h"

/* The reference's f32 add of the residual must round like the kernels' f32 adds. */
_Static_assert(FLT_EVAL_METHOD == 0, "float arithmetic must be evaluated in float");

#define GATE_TOL 0x1p-18L   /* gated RMSNorm's bound (README) */
#define SILU_FLOOR 0x1p-120L /* silu(z) below this may be flushed to 0 (checkasm_gate.c) */
#define MAX_ROWS 6
#define PAD 64              /* canary bytes before and after every buffer */

/* ---- the input reader ------------------------------------------------------------------ */

typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

static unsigned rd8(reader *r)
{
    if (!r->left)
        return 0;
    r->left--;
    return *r->p++;
}

static unsigned rd16(reader *r) { unsigned lo = rd8(r); return lo | rd8(r) << 8; }

/* ---- buffers with canaries --------------------------------------------------------------- */

/* The 16-bit pattern 0x7fc5, byte i % 2 at offset i from the region's base: a NaN as f16, bf16
 * and (twice) f32, so a kernel that reads it into arithmetic turns its output into NaN. */
static const uint8_t canary[2] = { 0xc5, 0x7f };

enum { RX, RY, RR, RH, RZ, RG, RB, RBIAS, RMEAN, RRSTD, RSCALES, RMOM, ROUT, RPARAMS, NREGIONS };
static const char *const region_names[NREGIONS] = { "x", "y", "residual", "residual_out", "gate", "gamma",
                                                    "beta", "bias", "mean", "rstd", "y_scales",
                                                    "moments", "moments out", "params struct" };

typedef struct region {
    uint8_t *base;  /* PAD canary bytes, the buffer, PAD canary bytes */
    size_t total;
    size_t off;     /* the buffer's offset from base */
    uint8_t *init;  /* the bytes before the call */
    uint8_t *after; /* the oracle's bytes after its call */
    uint8_t *written; /* 1 per byte an output may change (on success) */
} region;

static region reg[NREGIONS];

static void *region_new(int id, size_t bytes, size_t off_bytes)
{
    region *g = &reg[id];
    g->total = PAD + off_bytes + bytes + PAD;
    g->off = PAD + off_bytes;
    g->base = malloc(g->total);
    g->init = malloc(g->total);
    g->after = malloc(g->total);
    g->written = calloc(g->total, 1);
    if (!g->base || !g->init || !g->after || !g->written)
        abort();
    for (size_t i = 0; i < g->total; i++)
        g->base[i] = canary[i % 2];
    return g->base + g->off;
}

static void regions_free(void)
{
    for (int i = 0; i < NREGIONS; i++) {
        free(reg[i].base);
        free(reg[i].init);
        free(reg[i].after);
        free(reg[i].written);
    }
    memset(reg, 0, sizeof reg);
}

/* ---- the call ---------------------------------------------------------------------------- */

enum { ENTRY_RUN, ENTRY_MOMENTS, ENTRY_DENSE };
static const char *const entry_names[3] = { "norm_run", "norm_moments_run", "dense" };

static const float eps_table[8] = { 0.0f, 1e-6f, 1e-5f, 1e-2f, 1.0f, 0x1p-126f, 1e-30f, 1e10f };
static const float scale_table[16] = { 1.0f / 127, 0.05f, 1.0f, 0.25f, 0x1p-127f, 0x1p-128f, 0x1p-149f, 1e30f,
                                       3e38f, 1e-3f, 7.0f, 0x1p-120f, 100.0f, 0x1p-126f, 0.5f, 1e-20f };

/* What the decoder built: the call as the library sees it, and the inputs as f32 (dense rows),
 * which the reference reads. */
typedef struct fcase {
    int entry;
    bool ln, eps_out, unit, gate_before, gate, res, bias, stats, p_is_x, has_g, has_b, in_place, dyn, moments;
    int h_mode;
    int xt, yt, pt;
    size_t rows, n;      /* as decoded (before mutations): the buffers' shape */
    float eps;
    float *xf, *rf, *zf, *gf, *bf, *biasf; /* stored values, as f32 */
    norm_moments *mom;                     /* the given moments (dense, rows) */
    bool mutated, must_fail;
    bool y_given; /* the "apply field" mutation: norm_moments_run must fail while y stays set */
    bool y_nulled; /* y set to NULL: norm_run must fail while y stays NULL */
    struct {
        bool on;
        int region;  /* the region an output was pointed into (the "overlap" mutation) */
        void *saved; /* the output's own pointer before it */
    } redirect[4];   /* y, residual_out, mean, rstd */
    char mutations[256];
} fcase;

/* The library's view of the call. For a struct_size other than sizeof(norm_params) the
 * struct is passed in a heap block of exactly that many bytes (old sizes: the prefix), so
 * that AddressSanitizer catches a read past what the caller declared. */
static norm_params P;
static size_t params_bytes;
static unsigned char tail_byte; /* a non-zero byte in a newer struct's unknown tail */

static size_t es_of(int t) { return t == NORM_F32 ? 4 : t == NORM_I8 ? 1 : 2; }

/* ---- value generation -------------------------------------------------------------------- */

static float draw(rng *r, int dist, double scale, double mu, double sigma, float constant)
{
    switch (dist % 9) {
    case 0: return (float)(scale * rng_normal(r));
    case 1: return (float)(scale * (mu + sigma * rng_normal(r))); /* |mean| >> std */
    case 2: return constant;                                       /* constant row */
    case 3: return 0.0f;
    case 4: return (float)(scale * rng_uniform(r, -1, 1));
    case 5: return (float)(rng_uniform(r, -1, 1) * 0x1p-140);      /* subnormal */
    case 6: return (float)(rng_uniform(r, -1, 1) * FLT_MAX);       /* huge: squares overflow */
    case 7: return (float)(ldexp(rng_uniform(r, 0.5, 1), (int)rng_below(r, 250) - 140) * (rng_bool(r) ? 1 : -1));
    default: return (float)(scale * (1.0 + 0.01 * rng_normal(r))); /* around scale: gamma ~ 1 */
    }
}

/* count values of type t into f32 copies f (the values stored) and encoded e. */
static void gen(rng *r, float *f, void *e, size_t rows, size_t n, int t, int dist, int exp_byte)
{
    double scale = ldexp(1.0, exp_byte - 150);
    for (size_t k = 0; k < rows; k++) {
        double mu = rng_uniform(r, -1e3, 1e3), sigma = ldexp(1.0, (int)rng_below(r, 20) - 10);
        float constant = (float)(scale * rng_uniform(r, -2, 2));
        for (size_t i = 0; i < n; i++) {
            float v = draw(r, dist, scale, mu, sigma, constant);
            if (t != NORM_F32 && isfinite(v)) {
                double m = (double)type_max(t);
                v = v > m ? (float)m : v < -m ? (float)-m : v;
            }
            f[k * n + i] = type_store(e, k * n + i, v, t);
        }
    }
}

/* Element i of an array of type t becomes a NaN with a payload, or a signalling NaN, as raw
 * bits (type_store would quieten it); f gets it as f32. */
static void poke_nan_bits(void *e, float *f, size_t i, int t, unsigned which)
{
    static const uint16_t f16[] = { 0x7d01u, 0xfe55u, 0x7c01u }, bf16[] = { 0x7f81u, 0xffc1u, 0x7f95u };
    static const uint32_t f32[] = { 0x7f800001u, 0xffc12345u, 0x7fa00000u };
    if (t == NORM_F32) {
        memcpy((char *)e + 4 * i, &f32[which % 3], 4);
        memcpy(&f[i], &f32[which % 3], 4);
    } else {
        uint16_t h = (t == NORM_F16 ? f16 : bf16)[which % 3];
        memcpy((char *)e + 2 * i, &h, 2);
        f[i] = half_to_float(h, t);
    }
}

/* ---- the reference ----------------------------------------------------------------------- */


typedef struct ref {
    long double *y, *bound, *s;  /* per element: y_ref, its bound, silu(z) (1 without a gate after) */
    bool *special;               /* per row: a non-finite input or statistic */
    bool *stats_special;         /* per row: as special, but for gamma and beta, which mean and rstd never see */
    long double mean[MAX_ROWS], rstd[MAX_ROWS], m2[MAX_ROWS], ms[MAX_ROWS];
    float *h;                    /* the residual add's h, rounded to x's type, as f32 */
} ref;

static void reference(const fcase *c, ref *rf)
{
    size_t n = c->n;
    long double *u = malloc(n * sizeof *u);
    if (!u)
        abort();
    for (size_t k = 0; k < c->rows; k++) {
        bool special = false;
        for (size_t i = 0; i < n; i++) {
            size_t j = k * n + i;
            float src = c->xf[j];
            if (c->res) {
                float t = c->xf[j] + c->rf[j];
                if (c->bias)
                    t = t + c->biasf[i];
                src = round_to_type(t, c->xt);
                rf->h[j] = src;
                special |= !isfinite(c->rf[j]) || (c->bias && !isfinite(c->biasf[i]));
            }
            special |= !isfinite(c->xf[j]) || !isfinite(src);
            if (c->gate) {
                special |= !isfinite(c->zf[j]);
                u[i] = c->gate_before ? (long double)src * silu_l(c->zf[j]) : (long double)src;
            } else {
                u[i] = src;
            }
        }
        long double mean = 0.0L, ss = 0.0L;
        if (c->ln) {
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
        rf->m2[k] = ss;
        long double ms = ss / (long double)n, m = mean;
        if (c->moments && c->entry == ENTRY_RUN) {
            const norm_moments *mo = &c->mom[k];
            m = c->ln ? (long double)mo->mean : 0.0L;
            ms = (long double)mo->m2 / (long double)mo->count;
            special |= !isfinite(mo->mean) || !isfinite(mo->m2);
        }
        long double eps = c->eps;
        long double rstd = c->eps_out ? 1.0L / (sqrtl(ms) + eps) : 1.0L / sqrtl(ms + eps);
        rf->mean[k] = m;
        rf->rstd[k] = rstd;
        rf->ms[k] = ms;
        special |= !isfinite(m) || !isfinite(rstd) || !isfinite(ss);
        rf->stats_special[k] = special;
        for (size_t i = 0; i < n; i++) {
            size_t j = k * n + i;
            long double g = c->has_g ? (c->unit ? 1.0L + c->gf[i] : (long double)c->gf[i]) : 1.0L;
            long double b = c->has_b ? (long double)c->bf[i] : 0.0L;
            special |= (c->has_g && !isfinite(c->gf[i])) || (c->has_b && !isfinite(c->bf[i]));
            long double xhat = (u[i] - m) * rstd;
            long double y = xhat * g + b, bound, s = 1.0L;
            if (c->gate && !c->gate_before) {
                s = silu_l(c->zf[j]);
                y *= s;
                /* checkasm_gate.c's bound, plus the f32 contract's underflow term for a value
                 * rounded into the subnormals before the gate multiplies it, and after. */
                bound = GATE_TOL * fmaxl(fmaxl(fabsl(y), fabsl(g)), fabsl(b) * fabsl(s)) +
                        SILU_FLOOR * (fabsl(g) * (1.0L + fabsl(xhat)) + fabsl(b)) +
                        CONTRACT_UNDERFLOW * (1.0L + fabsl(s));
            } else if (c->gate) {
                bound = GATE_TOL * fmaxl(fmaxl(fabsl(y), fabsl(g)), fabsl(b)) + CONTRACT_UNDERFLOW;
            } else {
                bound = contract_bound(g, xhat, b);
            }
            rf->y[j] = y;
            rf->bound[j] = bound;
            rf->s[j] = s;
        }
        rf->special[k] = special;
    }
    free(u);
}

/* ---- reporting ---------------------------------------------------------------------------- */

static char describe_buf[1024];

static const fcase *described; /* the case describe_buf describes, for NORM_FUZZ_DUMP */

static void describe(const fcase *c)
{
    described = c;
    snprintf(describe_buf, sizeof describe_buf,
             "%s %s%s%s%s%s%s%s%s x=%s y=%s p=%s rows=%zu n=%zu eps=%g gamma=%d beta=%d in_place=%d h_mode=%d "
             "int8=%s moments=%d strides x=%zu y=%zu r=%zu h=%zu z=%zu struct_size=%zu%s%s",
             entry_names[c->entry], c->ln ? "layernorm" : "rmsnorm", c->eps_out ? " eps-outside" : "",
             c->unit ? " unit-offset" : "", c->gate ? (c->gate_before ? " gate-before" : " gate-after") : "",
             c->res ? " residual" : "", c->bias ? " bias" : "", c->stats ? " stats" : "",
             c->mutated ? " MUTATED" : "", type_name(c->xt), c->yt == NORM_I8 ? "i8" : type_name(c->yt),
             type_name(c->pt), c->rows, c->n, (double)c->eps, c->has_g, c->has_b, c->in_place, c->h_mode,
             c->yt != NORM_I8 ? "no" : c->dyn ? "dynamic" : "static", c->moments, P.x_stride, P.y_stride,
             P.residual_stride, P.residual_out_stride, P.gate_stride, P.struct_size, c->mutated ? " mutations:" : "",
             c->mutations);
}

static const char *cur_tier;
static int selftest; /* 0, or SELFTEST_EPS, SELFTEST_CANARY (NORM_FUZZ_SELFTEST) */
enum { SELFTEST_EPS = 1, SELFTEST_CANARY = 2 };
static long compared_values; /* output values compared with the oracle's, for the replay's summary */

static void finding(const char *fmt, ...)
{
    fprintf(stderr, "\n*** fuzz_norm: tier %s disagrees: ", cur_tier);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n    call: %s\n", describe_buf);
    /* NORM_FUZZ_DUMP=1: the values as decoded (f32, %a), a row per line, to rebuild the case:
     * x, the residual and the gate by rows, then gamma, beta, the bias and the given moments. */
    const fcase *d = described;
    if (getenv("NORM_FUZZ_DUMP") && d) {
        const struct {
            const char *name;
            const float *v;
            size_t rows;
        } arrays[] = { { "x", d->xf, d->rows },     { "r", d->res ? d->rf : NULL, d->rows },
                       { "z", d->gate ? d->zf : NULL, d->rows }, { "gamma", d->has_g ? d->gf : NULL, 1 },
                       { "beta", d->has_b ? d->bf : NULL, 1 },  { "bias", d->bias ? d->biasf : NULL, 1 } };
        for (size_t a = 0; a < sizeof arrays / sizeof arrays[0]; a++)
            for (size_t k = 0; arrays[a].v && k < arrays[a].rows; k++) {
                fprintf(stderr, "    %s[%zu]:", arrays[a].name, k);
                for (size_t i = 0; i < d->n; i++)
                    fprintf(stderr, " %a", (double)arrays[a].v[k * d->n + i]);
                fprintf(stderr, "\n");
            }
        for (size_t k = 0; d->moments && d->mom && k < d->rows; k++)
            fprintf(stderr, "    moments[%zu]: count %a mean %a m2 %a\n", k, d->mom[k].count, d->mom[k].mean,
                    d->mom[k].m2);
    }
    fflush(stderr);
    abort();
}

/* ---- comparisons ---------------------------------------------------------------------------- */

static float load_f(const uint8_t *p, int t) { return type_load(p, 0, t); }

static unsigned raw_bits(const uint8_t *p, int t)
{
    uint32_t u = 0;
    uint16_t h = 0;
    if (t == NORM_F32) {
        memcpy(&u, p, 4);
        return u;
    }
    memcpy(&h, p, 2);
    return h;
}

/* a (the tier's) against b (the oracle's), both as f32 values of an output of type t, whose
 * reference is want with tolerance tol between the two (twice the contract's bound), max the
 * largest finite value of t. */
/* Whether gamma' or beta, or the gate after the norm, is infinite or NaN at element i of row k:
 * the output there is non-finite on every tier, but whether Inf or NaN depends on where each
 * tier's f32 steps underflow (a u, u * gamma or exp(z) that is 0 in f32 and not in the oracle's
 * double makes Inf * 0). */
static bool param_nonfinite(const fcase *c, size_t k, size_t i)
{
    return (c->has_g && !isfinite(c->gf[i])) || (c->has_b && !isfinite(c->bf[i])) ||
           (c->gate && !c->gate_before && !isfinite(c->zf[k * c->n + i]));
}

static bool row_params_nonfinite(const fcase *c, size_t k)
{
    for (size_t i = 0; i < c->n; i++)
        if (param_nonfinite(c, k, i))
            return true;
    return false;
}

static bool agree(float a, float b, long double want, long double tol, long double max)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    if (a == b)
        return true;
    /* A bound as wide as the type's range allows any value, an infinity included (given moments
     * with rstd 1e30 and |gamma| 1e31 amplify the f32 x * silu(z)'s underflow, 2^-149, past f16's
     * largest value; found by the fuzzer). */
    if (tol >= max)
        return true;
    if (isinf(a) || isinf(b)) {
        /* Where the result lies within the bound of the edge of the range, one may round to the
         * largest finite value and the other to the infinity. */
        if (signbit(a) != signbit(b))
            return false;
        float f = isinf(a) ? b : a;
        return !isinf(f) && fabsl((long double)f) + tol >= max && !(fabsl(want) + tol < max);
    }
    return fabsl((long double)a - (long double)b) <= tol;
}

static int q_of(long double t)
{
    if (isnan(t))
        return 0;
    t = t > 127.0L ? 127.0L : t < -127.0L ? -127.0L : t;
    return (int)nearbyintl(t);
}

/* The q an int8 output may hold for y_ref within bound, with inverse scale inv: the rounding
 * of any value that close, the product widened by 2 ulp of f32 (checkasm_gate.c's q_range). */
static void q_range(long double y, long double bound, float inv, int *lo, int *hi)
{
    long double t = y * (long double)inv;
    if (!isfinite(y)) {
        *lo = *hi = q_of(t);
        return;
    }
    long double tl = (y - bound) * (long double)inv, th = (y + bound) * (long double)inv;
    if (isfinite(inv)) {
        long double w = 2.0L * type_ulp(t, T_F32);
        tl -= w;
        th += w;
    }
    *lo = q_of(tl);
    *hi = q_of(th);
    if (*lo > *hi) {
        int tmp = *lo;
        *lo = *hi;
        *hi = tmp;
    }
}

/* Output element j of row k (y of type t): the tier's bytes a, the oracle's b. */
static void compare_y(const fcase *c, const ref *rf, size_t k, size_t i, const uint8_t *a, const uint8_t *b)
{
    int t = c->yt;
    size_t j = k * c->n + i;
    compared_values++;
    long double want = rf->y[j], bound = rf->bound[j];
    float va = load_f(a, t), vb = load_f(b, t);
    if (rf->special[k] || !isfinite(want) || !isfinite(bound)) {
        /* No usable reference (Inf * 0 in long double, an input that is not finite): hold the
         * tier to the oracle's NaN and Inf pattern, and finite values to a bound from the
         * oracle's own magnitude. */
        long double g = c->has_g ? fabsl((long double)c->gf[i]) + (c->unit ? 1.0L : 0.0L) : 1.0L;
        long double mag = isfinite(vb) ? fabsl((long double)vb) : 0.0L;
        /* With the gate after the norm, the underflow term grows with |silu(z)|, as in any row
         * (u * gamma subnormal, then times silu(z) = 2.5e38; found by the seeded run), and so
         * does beta's: y = (u * gamma + beta) * silu(z), and where u * gamma and beta cancel,
         * the f32 rounding of beta's size is multiplied by silu(z), which the reference's
         * |beta| * |silu(z)| term holds in every other row (found by an unseeded run, avx2:
         * u * gamma 0.548, beta -0.547, silu(z) 65504, y 6.36798 where the oracle's double
         * gives 6.36655). */
        long double sz = c->gate && !c->gate_before && isfinite(rf->s[j]) ? fabsl(rf->s[j]) : 0.0L;
        bound = GATE_TOL * (g + (c->has_b ? fabsl((long double)c->bf[i]) * fmaxl(1.0L, sz) : 0.0L) + mag) +
                CONTRACT_UNDERFLOW * (1.0L + sz);
        if (!isfinite(bound))
            bound = 0.0L;
        want = isfinite(vb) ? vb : 0.0L;
    }
    if (param_nonfinite(c, k, i) && !isfinite(va) && !isfinite(vb))
        return; /* Inf or NaN, either (param_nonfinite) */
    /* A y beyond the type's range (in long double) is non-finite on every tier, but the careful
     * gate loop's two overflowing terms can make it NaN where the oracle's double has Inf
     * (seeded run, avx512: y_ref 5.7e67). */
    if (!isfinite(va) && !isfinite(vb) && isfinite(rf->y[j]) && fabsl(rf->y[j]) > (t == NORM_F32 ? FLT_MAX : type_max(t)))
        return;
    if (c->moments && c->entry == ENTRY_RUN && !isfinite(va) && !isfinite(vb)) {
        /* Given moments that do not describe the row: (x - mean) * rstd beyond f32 is +-Inf on
         * every tier (the header), and what the gate or gamma then makes of it, Inf or NaN,
         * depends on where each tier's f32 steps underflow (found by the seeded run). */
        long double src = c->gate && c->gate_before ? (long double)c->xf[j] * silu_l(c->zf[j]) : (long double)c->xf[j];
        if (!(fabsl((src - rf->mean[k]) * rf->rstd[k]) <= FLT_MAX))
            return;
    }
    long double tol = 2.0L * bound, max = FLT_MAX;
    if (t != NORM_F32) {
        tol = 2.0L * (type_ulp(want, t) + bound);
        max = type_max(t);
    }
    if (!agree(va, vb, want, tol, max))
        finding("row %zu index %zu: y got %.9g (0x%x), the oracle %.9g (0x%x); reference %.12Lg, tolerance %.4Lg%s; "
                "x %a, gate %a, residual %a, gamma %a, beta %a, row rstd %.9Lg",
                k, i, (double)va, raw_bits(a, t), (double)vb, raw_bits(b, t),
                want, tol, rf->special[k] ? " (special row)" : "", (double)c->xf[j], c->gate ? (double)c->zf[j] : 0.0,
                c->res ? (double)c->rf[j] : 0.0, c->has_g ? (double)c->gf[i] : 1.0, c->has_b ? (double)c->bf[i] : 0.0,
                rf->rstd[k]);
}

static float inv_of(float s) { return s > 0.0f ? 1.0f / s : 0.0f; }

/* Row k of an int8 output: the dynamic scale, then q. */
static void compare_q_row(const fcase *c, const ref *rf, size_t k, const int8_t *qa, const int8_t *qb,
                          const float *sa, const float *sb)
{
    size_t n = c->n;
    const long double *yr = rf->y + k * n, *bd = rf->bound + k * n;
    float inv_a = 1.0f / P.y_scale, inv_b = inv_a;
    if (sa) {
        long double amax = 0.0L, bmax = 0.0L;
        for (size_t i = 0; i < n; i++)
            if (!isnan(yr[i])) {
                amax = fmaxl(amax, fabsl(yr[i]));
                if (isfinite(yr[i]))
                    bmax = fmaxl(bmax, bd[i]);
            }
        long double want = amax / 127.0L, bound = bmax / 127.0L + 0x1p-23L * want + 0x1p-149L;
        /* A row without a usable reference (a NaN gamma, say) is held to the oracle's scale,
         * plus what the finite elements' own bounds allow: their underflow terms, which with
         * the gate after the norm grow with |silu(z)| (a y of 1e-15 may be 0: u * gamma below
         * f32's range, then times silu(z) = 4e31; found by the fuzzer). */
        if (rf->special[k] || !isfinite(want))
            bound = GATE_TOL * fabsl(isfinite(sb[k]) ? (long double)sb[k] : 0.0L) + bmax / 127.0L + 0x1p-149L;
        /* With a non-finite parameter or gate, max|y| is Inf on one tier where the other's is
         * NaN, which the maximum skips (param_nonfinite): the scales are not compared, the q
         * below are. */
        if (!row_params_nonfinite(c, k) && !agree(sa[k], sb[k], want, 2.0L * bound, FLT_MAX))
            finding("row %zu: dynamic scale got %.9g, the oracle %.9g (reference %.12Lg, tolerance %.4Lg)", k,
                    (double)sa[k], (double)sb[k], want, 2.0L * bound);
        inv_a = inv_of(sa[k]);
        inv_b = inv_of(sb[k]);
    }
    compared_values += (long)n;
    for (size_t i = 0; i < n; i++) {
        if (qa[i] == qb[i])
            continue;
        if (param_nonfinite(c, k, i) && (qa[i] == 0 || abs(qa[i]) == 127) && (qb[i] == 0 || abs(qb[i]) == 127))
            continue; /* Inf or NaN before quantizing: +-127 or 0 (param_nonfinite) */
        /* y beyond f32's range: the tiers' f32 y is +-Inf, whose q is +-127; the oracle's double
         * may keep it, and a static scale near FLT_MAX brings it back into [-127, 127]. */
        if (fabsl(yr[i]) > FLT_MAX && (abs(qa[i]) == 127 || abs(qb[i]) == 127) && (qa[i] < 0) == (qb[i] < 0) &&
            (qa[i] < 0) == (yr[i] < 0))
            continue;
        int lo_a, hi_a, lo_b, hi_b;
        /* An element without a usable reference needs the oracle's q; the others of a special
         * row (a NaN gamma elsewhere, say) are held to their own bounds, as in any row. */
        if (!isfinite(yr[i]) || !isfinite(bd[i]))
            finding("row %zu index %zu: q got %d, the oracle %d (an element without a usable reference: the same "
                    "q is required; reference y %.12Lg)", k, i, qa[i], qb[i], yr[i]);
        q_range(yr[i], bd[i], inv_a, &lo_a, &hi_a);
        q_range(yr[i], bd[i], inv_b, &lo_b, &hi_b);
        if (!(lo_a <= qa[i] && qa[i] <= hi_a && lo_b <= qb[i] && qb[i] <= hi_b))
            finding("row %zu index %zu: q got %d, the oracle %d; the reference allows %d..%d (tier), %d..%d "
                    "(oracle): y_ref %.12Lg bound %.4Lg inv %.9g / %.9g", k, i, qa[i], qb[i], lo_a, hi_a, lo_b,
                    hi_b, yr[i], bd[i], (double)inv_a, (double)inv_b);
    }
}

/* A statistic of row k (f32): rstd or mean. */
static void compare_stat(const char *what, size_t k, float a, float b, long double want, long double bound, bool special)
{
    if (special || !isfinite(want))
        bound = GATE_TOL * (isfinite(b) ? fabsl((long double)b) : 0.0L) + 0x1p-149L;
    if (!agree(a, b, want, 2.0L * bound, FLT_MAX))
        finding("row %zu: %s got %.9g, the oracle %.9g (reference %.12Lg, tolerance %.4Lg)", k, what, (double)a,
                (double)b, want, 2.0L * bound);
}

static bool dagree(double a, double b, long double tol)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    if (a == b)
        return true;
    if (isinf(a) || isinf(b))
        return false;
    return fabsl((long double)a - (long double)b) <= tol;
}

/* ---- marking what a successful call may write ---------------------------------------------- */

static void mark_rows(int id, const void *p, size_t rows, size_t stride, size_t n, size_t es)
{
    if (id < 0 || !p || !reg[id].base) /* NULL, or nothing to write (rows = 0) */
        return;
    region *g = &reg[id];
    size_t start = (size_t)((const uint8_t *)p - g->base);
    for (size_t k = 0; k < rows; k++)
        for (size_t b = 0; b < n * es; b++) {
            size_t at = start + k * stride * es + b;
            if (at < g->total)
                g->written[at] = 1;
        }
}

/* Which region a pointer lies in (outputs may be placed in another buffer's region). */
static int region_of(const void *p)
{
    for (int i = 0; i < NREGIONS; i++)
        if (reg[i].base && (const uint8_t *)p >= reg[i].base && (const uint8_t *)p < reg[i].base + reg[i].total)
            return i;
    return -1;
}

static size_t eff(size_t stride, size_t n) { return stride ? stride : n; }

static void mark_outputs(const fcase *c)
{
    const norm_params *p = &P;
    size_t rows = p->rows, n = p->n;
    if (c->entry == ENTRY_DENSE) {
        mark_rows(region_of(p->y), p->y, rows, n, n, es_of(c->xt));
        return;
    }
    if (p->residual_out)
        mark_rows(region_of(p->residual_out), p->residual_out, rows, eff(p->residual_out_stride, n), n, es_of(p->x_type));
    if (c->entry == ENTRY_MOMENTS) {
        void *out = reg[ROUT].base + reg[ROUT].off;
        mark_rows(ROUT, out, 1, 0, rows, sizeof(norm_moments));
        return;
    }
    mark_rows(region_of(p->y), p->y, rows, eff(p->y_stride, n), n, es_of(p->y_type));
    if (p->mean)
        mark_rows(region_of(p->mean), p->mean, 1, 0, rows, 4);
    if (p->rstd)
        mark_rows(region_of(p->rstd), p->rstd, 1, 0, rows, 4);
    if (p->y_scales)
        mark_rows(region_of(p->y_scales), p->y_scales, 1, 0, rows, 4);
}

/* ---- running a tier ------------------------------------------------------------------------ */

static norm_params *params_block; /* what the library is handed */
static norm_status call_entry(const fcase *c);

static norm_status call(const fcase *c, bool oracle)
{
    /* The struct as the caller declared it: restored each time (a tier must not write it). */
    memcpy(params_block, &P, params_bytes < sizeof P ? params_bytes : sizeof P);
    if (params_bytes > sizeof P) {
        memset((char *)params_block + sizeof P, 0, params_bytes - sizeof P);
        if (tail_byte)
            ((unsigned char *)params_block)[params_bytes - 1] = tail_byte;
    }
    /* A kernel that gets a row's scale wrong (restored after the call: the struct is checked). */
    bool eps_test = selftest == SELFTEST_EPS && !oracle && params_bytes >= offsetof(norm_params, eps) + sizeof(float);
    float eps = eps_test ? params_block->eps : 0.0f;
    if (eps_test)
        params_block->eps = eps + 1.0f;
    norm_status st = call_entry(c);
    if (eps_test)
        params_block->eps = eps;
    if (selftest == SELFTEST_CANARY && reg[RX].base) /* a kernel that writes before x */
        reg[RX].base[reg[RX].off - 1] ^= 1;
    return st;
}

static norm_status call_entry(const fcase *c)
{
    if (c->entry == ENTRY_MOMENTS)
        return norm_moments_run(params_block, (norm_moments *)(reg[ROUT].base + reg[ROUT].off));
    if (c->entry == ENTRY_DENSE) {
        const norm_params *p = params_block;
        if (c->xt == NORM_F32)
            return (c->ln ? norm_layernorm_f32 : norm_rmsnorm_f32)(p->y, p->x, p->gamma, p->beta, p->rows, p->n, p->eps);
        if (c->xt == NORM_F16)
            return (c->ln ? norm_layernorm_f16 : norm_rmsnorm_f16)(p->y, p->x, p->gamma, p->beta, p->rows, p->n, p->eps);
        return (c->ln ? norm_layernorm_bf16 : norm_rmsnorm_bf16)(p->y, p->x, p->gamma, p->beta, p->rows, p->n, p->eps);
    }
    return norm_run(params_block);
}

static void restore(void)
{
    for (int i = 0; i < NREGIONS; i++)
        if (reg[i].base)
            memcpy(reg[i].base, reg[i].init, reg[i].total);
}

/* Bytes that must not have changed: all of them after an error, the unwritten ones after success. */
static void check_untouched(bool ok, const char *who)
{
    for (int i = 0; i < NREGIONS; i++) {
        const region *g = &reg[i];
        if (!g->base || i == RPARAMS)
            continue;
        for (size_t b = 0; b < g->total; b++)
            if (g->base[b] != g->init[b] && !(ok && g->written[b])) {
                long off = (long)b - (long)g->off;
                cur_tier = who;
                finding("%s: %s modified at byte %ld from the buffer's start (%s)", ok ? "success" : "an error status",
                        region_names[i], off, off < 0 || (size_t)b >= g->total - PAD ? "a canary" : "inside the buffer");
            }
    }
    if (memcmp(params_block, &P, params_bytes < sizeof P ? params_bytes : sizeof P) != 0) {
        cur_tier = who;
        finding("the params struct was modified");
    }
}

/* The tier's outputs (in reg[].base) against the oracle's (reg[].after). */
static void compare_outputs(const fcase *c, const ref *rf)
{
    const norm_params *p = &P;
    size_t rows = p->rows, n = p->n;
#define AT_A(ptr) (reg[region_of(ptr)].base + ((const uint8_t *)(ptr) - reg[region_of(ptr)].base))
#define AT_B(ptr) (reg[region_of(ptr)].after + ((const uint8_t *)(ptr) - reg[region_of(ptr)].base))
    if (p->residual_out && c->entry != ENTRY_DENSE) {
        size_t hs = eff(p->residual_out_stride, n), es = es_of(c->xt);
        const uint8_t *a = AT_A(p->residual_out), *b = AT_B(p->residual_out);
        for (size_t k = 0; k < rows; k++)
            for (size_t i = 0; i < n; i++) {
                const uint8_t *ea = a + (k * hs + i) * es, *eb = b + (k * hs + i) * es;
                float va = load_f(ea, c->xt), vb = load_f(eb, c->xt), want = rf->h[k * n + i];
                /* Bit for bit the f32 add rounded to x's type; NaN payloads may differ. */
                if (!(isnan(va) && isnan(vb) && isnan(want)) && (memcmp(ea, eb, es) != 0 || !(va == want || (isnan(va) && isnan(want)))))
                    finding("row %zu index %zu: residual_out got %.9g, the oracle %.9g, the f32 add %.9g", k, i,
                            (double)va, (double)vb, (double)want);
            }
    }
    if (c->entry == ENTRY_MOMENTS) {
        const norm_moments *a = (const norm_moments *)(reg[ROUT].base + reg[ROUT].off);
        const norm_moments *b = (const norm_moments *)(reg[ROUT].after + reg[ROUT].off);
        compared_values += (long)rows;
        for (size_t k = 0; k < rows; k++) {
            long double std = sqrtl(rf->m2[k] / (long double)n);
            long double mb = CONTRACT_TOL * (fabsl(rf->mean[k]) + std) + DBL_TRUE_MIN;
            long double m2b = CONTRACT_TOL * rf->m2[k] + DBL_TRUE_MIN;
            if (c->gate_before) { /* x * silu(z) is f32 in the kernels */
                mb = GATE_TOL * (fabsl(rf->mean[k]) + std) + DBL_TRUE_MIN;
                m2b = GATE_TOL * rf->m2[k] + DBL_TRUE_MIN;
            }
            if (rf->stats_special[k]) {
                mb = GATE_TOL * fabs(b[k].mean) + DBL_TRUE_MIN;
                m2b = GATE_TOL * fabs(b[k].m2) + DBL_TRUE_MIN;
            }
            if (a[k].count != b[k].count || !dagree(a[k].mean, b[k].mean, 2 * mb) || !dagree(a[k].m2, b[k].m2, 2 * m2b))
                finding("row %zu: moments got {%.17g, %.17g, %.17g}, the oracle {%.17g, %.17g, %.17g} (tolerances "
                        "%.4Lg %.4Lg; reference mean %.17Lg m2 %.17Lg)", k, a[k].count, a[k].mean, a[k].m2,
                        b[k].count, b[k].mean, b[k].m2, 2 * mb, 2 * m2b, rf->mean[k], rf->m2[k]);
        }
        return;
    }
    size_t ys = c->entry == ENTRY_DENSE ? n : eff(p->y_stride, n), ye = es_of(c->yt);
    const uint8_t *ya = AT_A(p->y), *yb = AT_B(p->y);
    if (c->yt == NORM_I8) {
        for (size_t k = 0; k < rows; k++)
            compare_q_row(c, rf, k, (const int8_t *)(ya + k * ys), (const int8_t *)(yb + k * ys),
                          p->y_scales ? (const float *)AT_A(p->y_scales) : NULL,
                          p->y_scales ? (const float *)AT_B(p->y_scales) : NULL);
    } else {
        for (size_t k = 0; k < rows; k++)
            for (size_t i = 0; i < n; i++)
                compare_y(c, rf, k, i, ya + (k * ys + i) * ye, yb + (k * ys + i) * ye);
    }
    long double stol = c->gate && c->gate_before ? GATE_TOL : CONTRACT_TOL;
    if (p->rstd)
        for (size_t k = 0; k < rows; k++)
            compare_stat("rstd", k, ((const float *)AT_A(p->rstd))[k], ((const float *)AT_B(p->rstd))[k], rf->rstd[k],
                         stol * fabsl(rf->rstd[k]) + 0x1p-149L, rf->stats_special[k]);
    if (p->mean)
        for (size_t k = 0; k < rows; k++)
            compare_stat("mean", k, ((const float *)AT_A(p->mean))[k], ((const float *)AT_B(p->mean))[k], rf->mean[k],
                         stol * (fabsl(rf->mean[k]) + 1.0L / rf->rstd[k]) + 0x1p-149L, rf->stats_special[k]);
#undef AT_A
#undef AT_B
}

/* ---- the tiers ------------------------------------------------------------------------------ */

typedef struct tier {
    norm_isa isa;
    const char *name;
    bool native, compiled; /* of this architecture; compiled in (config.h) */
} tier;

static tier tiers[NORM_ISA_COUNT];
static int ntiers;

/* The tiers and variants from the one ISA list (src/isa_list.h), as the tests take them. */
#define LIST_TIER(name, NAME, value, arch, pred) { NORM_ISA_##NAME, #name, NORM_ON_##arch, NORM_HAVE_##NAME },
#define LIST_VARIANT(name, NAME, tier, arch, pred)
static const tier all_tiers[] = { NORM_ISA_LIST(LIST_TIER, LIST_VARIANT) };
#define LIST_VARIANT_NAME(name, NAME, tier, arch, pred) { NORM_ISA_##tier, #name, NORM_ON_##arch, NORM_HAVE_##NAME },
#define NO_TIER(name, NAME, value, arch, pred)
static const tier all_variants[] = { NORM_ISA_LIST(NO_TIER, LIST_VARIANT_NAME) };

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
long fuzz_norm_compared(void);

/* For the replay's summary: how many output values were held to the oracle's. */
long fuzz_norm_compared(void) { return compared_values; }

static bool initialised;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (initialised)
        return 0;
    initialised = true;
    const char *only = getenv("NORM_FUZZ_TIERS");
    char line[512];
    int len = snprintf(line, sizeof line, "fuzz_norm: oracle scalar; tiers compared:");
    for (size_t i = 1; i < sizeof all_tiers / sizeof all_tiers[0]; i++) {
        const tier *t = &all_tiers[i];
        bool wanted = true;
        if (only && *only) {
            /* a comma-separated list of names */
            wanted = false;
            size_t nl = strlen(t->name);
            for (const char *s = only; (s = strstr(s, t->name)) != NULL; s += nl)
                if ((s == only || s[-1] == ',') && (s[nl] == '\0' || s[nl] == ','))
                    wanted = true;
        }
        if (!t->native)
            continue; /* another architecture's */
        if (!norm_variant_supported(t->name)) {
            if (wanted)
                len += snprintf(line + len, sizeof line - (size_t)len, " %s (skipped: %s)", t->name,
                                t->compiled ? "this CPU lacks it" : "not compiled in");
            continue;
        }
        if (!norm_isa_available(t->isa)) {
            if (wanted)
                len += snprintf(line + len, sizeof line - (size_t)len, " %s (skipped: above NORM_ISA)", t->name);
            continue;
        }
        if (!wanted)
            continue;
        tiers[ntiers++] = *t;
        len += snprintf(line + len, sizeof line - (size_t)len, " %s", t->name);
        for (size_t v = 0; v < sizeof all_variants / sizeof all_variants[0]; v++)
            if (all_variants[v].isa == t->isa && norm_variant_supported(all_variants[v].name))
                len += snprintf(line + len, sizeof line - (size_t)len, " (with %s)", all_variants[v].name);
    }
    if (getenv("NORM_FUZZ_LIST_TIERS")) {
        /* For scripts/fuzz.sh: the tiers it can give a run each, one per line. */
        for (int t = 0; t < ntiers; t++)
            printf("%s\n", tiers[t].name);
        exit(0);
    }
    const char *st = getenv("NORM_FUZZ_SELFTEST");
    if (st && *st) {
        selftest = strcmp(st, "eps") == 0 ? SELFTEST_EPS : strcmp(st, "canary") == 0 ? SELFTEST_CANARY : 0;
        if (!selftest) {
            fprintf(stderr, "fuzz_norm: NORM_FUZZ_SELFTEST=%s: want eps or canary\n", st);
            exit(2);
        }
        /* The scalar tier as one more: the self-test then has a tier to break on every CPU. */
        tiers[ntiers++] = all_tiers[0];
        len += snprintf(line + len, sizeof line - (size_t)len, " scalar (self-test: %s)", st);
    }
    fprintf(stderr, "%s%s\n", line, ntiers ? "" : " none: only the oracle's own checks run");
    if (only && *only && !ntiers) {
        fprintf(stderr, "fuzz_norm: NORM_FUZZ_TIERS=%s names no tier this CPU runs\n", only);
        exit(77);
    }
    return 0;
}

/* ---- decoding ------------------------------------------------------------------------------ */

static void note(fcase *c, const char *s)
{
    size_t l = strlen(c->mutations);
    snprintf(c->mutations + l, sizeof c->mutations - l, " %s", s);
}

/* An output the "overlap" mutation pointed into another region must fit in that region's
 * allocation as the call finally stands (rows, n and strides after every mutation): where it
 * misses the buffer itself (a start just past a 4-byte rstd, say) the call is valid and writes
 * all of it. One that would not fit goes back to its own buffer (found by an unseeded run: an
 * int8 y of 76 bytes, 4 bytes after rstd, ran off the allocation). */
static size_t span_bytes(size_t rows, size_t stride, size_t n, size_t es, bool *ok)
{
    size_t st = stride ? stride : n;
    *ok = rows <= ((size_t)1 << 24) && st <= ((size_t)1 << 24) && n <= ((size_t)1 << 24);
    return *ok && rows ? ((rows - 1) * st + n) * es : 0;
}

static void redirects_fit(fcase *c)
{
    for (int f = 0; f < 4; f++) {
        if (!c->redirect[f].on)
            continue;
        const region *g = &reg[c->redirect[f].region];
        bool ok;
        size_t extent = f == 0   ? span_bytes(P.rows, P.y_stride, P.n, es_of(P.y_type), &ok)
                        : f == 1 ? span_bytes(P.rows, P.residual_out_stride, P.n, es_of(P.x_type), &ok)
                                 : span_bytes(P.rows, 1, 1, sizeof(float), &ok);
        const uint8_t *q = f == 0 ? (const uint8_t *)P.y : f == 1 ? (const uint8_t *)P.residual_out
                         : f == 2 ? (const uint8_t *)P.mean : (const uint8_t *)P.rstd;
        if (!q || (ok && q >= g->base && q + extent <= g->base + g->total))
            continue; /* (NULL: a later mutation's, judged as such) */
        switch (f) {
        case 0: P.y = c->redirect[f].saved; break;
        case 1: P.residual_out = c->redirect[f].saved; break;
        case 2: P.mean = c->redirect[f].saved; break;
        default: P.rstd = c->redirect[f].saved; break;
        }
        note(c, "(overlap undone)");
    }
}

/* The parameter mutations: each makes the call invalid (must_fail) or checks a rule. */
static void mutate(fcase *c, unsigned what, unsigned v, bool alone)
{
    char buf[64];
    c->mutated = true;
    bool rows_ok = P.rows > 0; /* pointer checks happen only with rows to do */
    switch (what % 16) {
    case 0: { /* struct_size: garbage, released, newer */
        static const size_t sizes[] = { SIZE_MAX, sizeof(norm_params) + 1, 129, 513, 520, 0, 8, 127, 1024,
                                        offsetof(norm_params, residual), offsetof(norm_params, bias) + sizeof(void *),
                                        sizeof(norm_params) + 8, sizeof(norm_params) + 8, 512, 512, 4096 };
        unsigned w = v % 16;
        /* An old size drops the fields appended since, making it another call: taken only
         * when those are unset, else the newer header's size (same call) instead. */
        if ((w == 9 && (P.residual || P.residual_out || P.bias || P.gate || P.y_scale != 0.0f || P.y_scales ||
                        P.moments || P.residual_stride || P.residual_out_stride || P.gate_stride)) ||
            (w == 10 && (P.gate || P.y_scale != 0.0f || P.y_scales || P.moments || P.gate_stride)))
            w = 11;
        /* With other mutations, whose verdicts assume the library sees their fields, too. */
        if (!alone && (w == 9 || w == 10))
            w = 11;
        P.struct_size = sizes[w];
        /* A field this version does not know, set (or not: a later size mutation decides). */
        tail_byte = w == 12 || w == 14 ? (unsigned char)(1 + v / 16) : 0;
        if (c->entry == ENTRY_DENSE)
            break; /* no struct */
        /* The block the library gets: exactly the declared size for a plausible one, the real
         * struct's for garbage (a read past it is then caught). */
        params_bytes = (P.struct_size <= 512 && P.struct_size >= 8) ? P.struct_size : sizeof(norm_params);
        if (P.struct_size <= 512 && P.struct_size % 8 != 0)
            params_bytes = sizeof(norm_params);
        snprintf(buf, sizeof buf, "struct_size=%zu%s", P.struct_size, tail_byte ? "+tail" : "");
        note(c, buf);
        return;
    }
    /* (The dense entry points take neither a kind nor flags: the mutation changes nothing there.) */
    case 1: P.kind = (norm_kind)(2 + v); note(c, "kind"); return; /* judged after all mutations */
    case 2: P.flags |= 8u << (v % 28); c->must_fail = c->entry != ENTRY_DENSE; note(c, "flag"); return;
    case 3:
        if (v % 3 == 0) P.x_type = (norm_dtype)(3 + v / 3 % 4);
        else if (v % 3 == 1) P.param_type = (norm_dtype)(3 + v / 3 % 4);
        else P.y_type = (norm_dtype)(4 + v / 3 % 4);
        if (c->entry == ENTRY_RUN || (c->entry == ENTRY_MOMENTS && v % 3 != 2))
            c->must_fail = true;
        note(c, "type");
        return;
    case 4: P.n = 0; c->must_fail = true; note(c, "n=0"); return;
    case 5: { /* a stride below n */
        if (P.n < 2)
            return;
        size_t s = 1 + v % (P.n - 1);
        switch (v / 32 % 5) {
        case 0: P.x_stride = s; break;
        case 1: P.y_stride = s; break;
        case 2: P.residual_stride = s; break;
        case 3: P.residual_out_stride = s; break;
        default: P.gate_stride = s; break;
        }
        if (c->entry != ENTRY_DENSE && !(c->entry == ENTRY_MOMENTS && v / 32 % 5 == 1))
            c->must_fail = true;
        note(c, "stride<n");
        return;
    }
    case 6: {
        static const float bad[4] = { -1.0f, NAN, INFINITY, -0x1p-149f };
        P.eps = bad[v % 4];
        if (c->entry != ENTRY_MOMENTS)
            c->must_fail = true;
        note(c, "eps");
        return;
    }
    case 7: /* a required pointer NULL */
        switch (v % 4) {
        case 0: P.x = NULL; break;
        case 1: P.y = NULL; break;
        case 2: P.residual_out = NULL; break;
        default: P.gate = NULL; break; /* with the gate-before flag: BAD_ARGUMENT */
        }
        note(c, "NULL");
        if (v % 4 == 0 && rows_ok)
            c->must_fail = true;
        if (v % 4 == 1 && c->entry != ENTRY_MOMENTS && rows_ok)
            c->y_nulled = true; /* a later "apply field" may set y again (found by the seeded run) */
        return;
    case 8: { /* an output pointed at another buffer's region */
        static const int into[] = { RG, RX, RRSTD, RZ, RB, RR };
        const region *g = &reg[into[v % 6]];
        if (!g->base)
            return;
        /* 4-byte aligned, as any float pointer a caller passes (C requires it). */
        uint8_t *q = g->base + ((g->off + 3) & ~(size_t)3) + (v / 8 % 3) * 4;
        /* Judged after every mutation (redirects_fit): the output must fit in that region's
         * allocation. */
        const int field = (int)(v / 64 % 4);
        if (!c->redirect[field].on) {
            c->redirect[field].on = true;
            c->redirect[field].saved = field == 0 ? P.y : field == 1 ? P.residual_out
                                     : field == 2 ? (void *)P.mean : (void *)P.rstd;
        }
        c->redirect[field].region = into[v % 6];
        switch (v / 64 % 4) {
        case 0: P.y = q; break;
        case 1: P.residual_out = q; break;
        case 2: P.mean = (float *)(void *)q; break;
        default: P.rstd = (float *)(void *)q; break;
        }
        note(c, "overlap");
        return;
    }
    case 9: {
        static const float s[4] = { 0x1p-149f, -1.0f, NAN, INFINITY };
        if (v & 4) { /* both a static and a dynamic scale */
            P.y_scale = 1.0f;
            P.y_scales = reg[RSCALES].base ? (float *)(void *)(reg[RSCALES].base + reg[RSCALES].off)
                                           : region_new(RSCALES, (P.rows ? P.rows : 1) * 4, 0);
        } else {
            P.y_scale = s[v % 4];
        }
        if (c->entry != ENTRY_DENSE)
            c->must_fail = true;
        note(c, "scale");
        return;
    }
    case 10:
        if (reg[RMOM].base) { /* given moments only */
            norm_moments *m = (norm_moments *)(void *)(reg[RMOM].base + reg[RMOM].off);
            size_t k = v / 4 % (c->rows ? c->rows : 1);
            if (c->rows) {
                switch (v % 4) {
                case 0: m[k].count = 0; break;
                case 1: m[k].m2 = -1; break;
                case 2: m[k].count = NAN; break;
                default: m[k].count = INFINITY; break;
                }
                c->mom[k] = m[k];
                if (P.moments && rows_ok && c->entry == ENTRY_RUN)
                    c->must_fail = true;
                note(c, "moments");
            }
        }
        return;
    case 11:
        /* Every buffer's extent overflows: x's elements take at least 2 bytes. (A smaller
         * count whose extent fits the address space is a lie the library cannot detect.) */
        P.rows = SIZE_MAX / 2 + 1 + v;
        c->must_fail = true;
        note(c, "rows huge");
        return;
    case 12:
        /* x stands in for the residual where the call has none (same type and shape). */
        if (v & 1) P.kind = NORM_LAYERNORM; else P.residual = reg[RR].base ? reg[RR].base + reg[RR].off : P.x;
        note(c, "gate with layernorm/residual");
        return;
    case 13: P.mean = (float *)(void *)(reg[RMEAN].base ? reg[RMEAN].base + reg[RMEAN].off : reg[RRSTD].base ? reg[RRSTD].base + reg[RRSTD].off : NULL); note(c, "mean"); return;
    case 14: /* (rows - 1) * stride elements of 2 bytes or more overflow */
        /* Not over an x stride that "stride<n" made too short: with fewer than two rows the
         * huge stride is valid, and the call would be held to fail for a mistake it no longer
         * has (found by an unseeded run: rows 0, the library's NORM_OK taken for a finding). */
        if (P.x_stride && P.x_stride < P.n)
            return;
        P.x_stride = SIZE_MAX / 2 + 1 + v;
        note(c, "stride huge");
        if (P.rows > 1 && c->entry != ENTRY_DENSE)
            c->must_fail = true;
        return;
    default: P.y = reg[RY].base ? reg[RY].base + reg[RY].off : (void *)reg[RX].base; note(c, "apply field"); c->y_given = true; return;
    }
}

/* Element offsets past a 64-byte boundary, in elements of es bytes. */
static void *rows_region(int id, const void *dense, size_t rows, size_t n, size_t stride, size_t es, unsigned off)
{
    size_t bytes = (rows ? (rows - 1) * stride + n : 1) * es;
    uint8_t *p = region_new(id, bytes, off * es);
    for (size_t k = 0; k < rows; k++)
        memcpy(p + k * stride * es, (const uint8_t *)dense + k * n * es, n * es);
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!initialised) /* libFuzzer and the replay driver call it first; another driver may not */
        LLVMFuzzerInitialize(NULL, NULL);
    reader rd = { data, size };
    fcase c;
    memset(&c, 0, sizeof c);
    c.entry = (int)(rd8(&rd) % 3);
    unsigned f1 = rd8(&rd), f2 = rd8(&rd), f3 = rd8(&rd);
    c.ln = f1 & 1;
    c.eps_out = f1 & 2;
    c.unit = f1 & 4;
    c.gate_before = f1 & 8;
    c.gate = f1 & 16;
    c.res = f1 & 32;
    c.bias = f1 & 64;
    c.stats = f1 & 128;
    c.xt = (int)((f2 & 15) % 3);
    c.yt = (int)((f2 >> 4) % 4);
    c.p_is_x = f3 & 1;
    c.has_g = f3 & 2;
    c.has_b = f3 & 4;
    c.in_place = f3 & 8;
    c.h_mode = (int)(f3 >> 4 & 3);
    c.dyn = f3 & 64;
    c.moments = f3 & 128;
    c.rows = rd8(&rd) % (MAX_ROWS + 1);
    unsigned nv = rd16(&rd);
    c.n = nv & 0x8000u ? 1 + (nv & 0x1fffu) : 1 + nv % 300;
    unsigned sx = rd8(&rd), sy = rd8(&rd), sz = rd8(&rd);
    uint32_t strides = sx | sy << 8 | (uint32_t)sz << 16;
    c.eps = eps_table[rd8(&rd) % 8];
    float static_scale = scale_table[rd8(&rd) % 16];
    uint64_t seed = 0;
    for (int i = 0; i < 8; i++)
        seed |= (uint64_t)rd8(&rd) << (8 * i);
    unsigned d1 = rd8(&rd), d2 = rd8(&rd), d3 = rd8(&rd);
    unsigned ex = rd8(&rd), eg = rd8(&rd), ez = rd8(&rd);
    /* A zero byte (a short input) means the ordinary scale 1, not 2^-150. */
    ex = ex ? ex : 150;
    eg = eg ? eg : 150;
    ez = ez ? ez : 150;

    /* The rules of a valid call; mutations break them on purpose afterwards. */
    if (c.entry == ENTRY_DENSE) {
        c.yt = c.xt;
        c.pt = c.xt;
        c.eps_out = c.unit = c.gate = c.gate_before = c.res = c.bias = c.stats = c.moments = c.dyn = false;
        strides = 0;
    } else {
        c.pt = c.p_is_x ? c.xt : NORM_F32;
        if (c.gate) /* gated RMSNorm only, without the residual add */
            c.ln = c.res = false;
        if (!c.gate)
            c.gate_before = false;
        if (!c.res)
            c.bias = false;
        if (c.entry == ENTRY_MOMENTS) {
            c.gate_before = c.gate; /* the moments step takes the gate before the norm only */
            c.eps_out = c.unit = c.stats = c.moments = c.has_g = c.has_b = c.in_place = false;
            c.yt = NORM_F32;
        }
        if (c.moments && c.res)
            c.moments = false;
    }
    if (c.yt != c.xt || c.entry == ENTRY_MOMENTS)
        c.in_place = false;
    if (c.h_mode == 2 && c.in_place)
        c.h_mode = 0;

    size_t rows = c.rows, n = c.n, count = rows * n;
    size_t xe = es_of(c.xt), ye = es_of(c.yt), pe = es_of(c.pt);
    size_t sext[5];
    for (int i = 0; i < 5; i++)
        sext[i] = strides >> (3 * i) & 7;
    unsigned offs[4];
    for (int i = 0; i < 4; i++)
        offs[i] = strides >> (15 + 2 * i) & 3;

    /* The inputs, dense, as f32 and encoded. */
    rng r = rng_for(seed, "fuzz_norm");
    size_t cnt = count ? count : 1;
    c.xf = calloc(cnt, sizeof(float));
    c.rf = calloc(cnt, sizeof(float));
    c.zf = calloc(cnt, sizeof(float));
    c.gf = calloc(n, sizeof(float));
    c.bf = calloc(n, sizeof(float));
    c.biasf = calloc(n, sizeof(float));
    c.mom = calloc(rows ? rows : 1, sizeof(norm_moments));
    void *xe_ = calloc(cnt, 4), *re_ = calloc(cnt, 4), *ze_ = calloc(cnt, 4);
    void *ge_ = calloc(n, 4), *be_ = calloc(n, 4), *biase_ = calloc(n, 4);
    ref rf;
    rf.y = calloc(cnt, sizeof(long double));
    rf.bound = calloc(cnt, sizeof(long double));
    rf.s = calloc(cnt, sizeof(long double));
    rf.h = calloc(cnt, sizeof(float));
    rf.special = calloc(MAX_ROWS, sizeof(bool));
    rf.stats_special = calloc(MAX_ROWS, sizeof(bool));
    if (!c.xf || !c.rf || !c.zf || !c.gf || !c.bf || !c.biasf || !c.mom || !xe_ || !re_ || !ze_ || !ge_ || !be_ ||
        !biase_ || !rf.y || !rf.bound || !rf.s || !rf.h || !rf.special || !rf.stats_special)
        abort();
    gen(&r, c.xf, xe_, rows, n, c.xt, (int)(d1 & 15), (int)ex);
    if (c.res)
        gen(&r, c.rf, re_, rows, n, c.xt, (int)(d2 & 15), (int)ex);
    if (c.gate)
        gen(&r, c.zf, ze_, rows, n, c.xt, (int)(d2 >> 4), (int)ez);
    if (c.has_g)
        gen(&r, c.gf, ge_, 1, n, c.pt, (int)(d1 >> 4) == 0 ? 8 : (int)(d1 >> 4), (int)eg);
    if (c.has_b)
        gen(&r, c.bf, be_, 1, n, c.pt, (int)(d3 & 15), 150 - 2);
    if (c.bias)
        gen(&r, c.biasf, biase_, 1, n, c.pt, (int)(d3 & 15), 150 - 3);

    /* Special values. */
    size_t nmut = rd8(&rd) % 5;
    unsigned mut[4][2];
    for (size_t i = 0; i < nmut; i++) {
        mut[i][0] = rd8(&rd);
        mut[i][1] = rd8(&rd);
    }
    while (rd.left >= 3) {
        unsigned b = rd8(&rd), idx = rd16(&rd);
        static const float vals[16] = { NAN, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, 0x1p-149f, -0.0f, 1e30f,
                                        -1e30f, FLT_MIN, NAN /* signalling, below */, 1e-30f, 65504.0f, 3e38f,
                                        -0x1p-140f, 1e20f };
        unsigned which = b >> 4;
        float v = vals[which];
        float *f;
        void *e;
        size_t len;
        int t = c.xt;
        switch (b & 15) {
        case 0: f = c.xf; e = xe_; len = count; break;
        case 1: f = c.rf; e = re_; len = c.res ? count : 0; break;
        case 2: case 7: case 8: f = c.zf; e = ze_; len = c.gate ? count : 0; break;
        case 3: f = c.gf; e = ge_; len = c.has_g ? n : 0; t = c.pt; break;
        case 4: f = c.bf; e = be_; len = c.has_b ? n : 0; t = c.pt; break;
        case 5: f = c.biasf; e = biase_; len = c.bias ? n : 0; t = c.pt; break;
        default: f = NULL; e = NULL; len = 0; break; /* 6: nothing (the moments' variants are byte 22's) */
        }
        if (!len)
            continue;
        size_t at = idx % len;
        if (which == 10)
            poke_nan_bits(e, f, at, t, idx >> 8);
        else
            f[at] = type_store(e, at, v, t);
    }

    /* The given moments: the rows' own (of x, or x * silu(z) with the gate first), as a caller
     * that computed them with norm_moments_run would pass, or those of a slice of another
     * length, or NaN/Inf as a row holding them gives. */
    if (c.moments && c.entry == ENTRY_RUN) {
        for (size_t k = 0; k < rows; k++) {
            long double sum = 0, ss = 0;
            for (size_t i = 0; i < n; i++) {
                long double u = c.xf[k * n + i];
                if (c.gate && c.gate_before)
                    u *= silu_l(c.zf[k * n + i]);
                sum += u;
            }
            long double mean = c.ln ? sum / (long double)n : 0.0L;
            for (size_t i = 0; i < n; i++) {
                long double u = c.xf[k * n + i];
                if (c.gate && c.gate_before)
                    u *= silu_l(c.zf[k * n + i]);
                ss += (u - mean) * (u - mean);
            }
            norm_moments m = { (double)n, (double)mean, (double)ss };
            switch ((d3 >> 4) % 6) {
            case 1: m.count = 2.0 * n + 1; m.m2 *= 2.0; break;   /* a longer row's statistics */
            case 2: m.m2 = 0.0; m.mean = c.ln ? 1.0 : 0.0; break;  /* zero variance */
            case 3: if (k == 0) m.mean = NAN; break;
            case 4: if (k == 0) m.m2 = INFINITY; break;
            case 5: m.count = 1.0; m.m2 = 1e300; break;           /* huge */
            default: break;
            }
            c.mom[k] = m;
        }
    }

    /* The call, its buffers in regions of their own with canaries around them. */
    memset(&P, 0, sizeof P);
    P = norm_params_default(c.ln ? NORM_LAYERNORM : NORM_RMSNORM);
    P.rows = rows;
    P.n = n;
    P.eps = c.eps;
    P.flags = (c.eps_out ? NORM_EPS_OUTSIDE_SQRT : 0u) | (c.unit ? NORM_UNIT_OFFSET : 0u) |
              (c.gate_before ? NORM_GATE_BEFORE_NORM : 0u);
    P.x_type = (norm_dtype)c.xt;
    P.y_type = (norm_dtype)c.yt;
    P.param_type = (norm_dtype)c.pt;
    size_t xs = n + sext[0], ys = n + sext[1], rs = n + sext[2], hs = n + sext[3], zs = n + sext[4];
    P.x_stride = sext[0] ? xs : 0;
    P.x = rows_region(RX, xe_, rows, n, xs, xe, offs[0]);
    if (c.entry != ENTRY_MOMENTS) {
        if (c.in_place) {
            P.y = (void *)P.x;
            P.y_stride = P.x_stride;
            ys = xs;
        } else {
            P.y_stride = sext[1] ? ys : 0;
            P.y = region_new(RY, (rows ? (rows - 1) * ys + n : 1) * ye, offs[1] * ye);
        }
    }
    if (c.res) {
        P.residual_stride = sext[2] ? rs : 0;
        P.residual = rows_region(RR, re_, rows, n, rs, xe, offs[3]);
        if (c.h_mode == 1) {
            P.residual_out = (void *)P.residual;
            P.residual_out_stride = P.residual_stride;
        } else if (c.h_mode == 2) {
            P.residual_out = (void *)P.x;
            P.residual_out_stride = P.x_stride;
        } else {
            P.residual_out_stride = sext[3] ? hs : 0;
            P.residual_out = region_new(RH, (rows ? (rows - 1) * hs + n : 1) * xe, 0);
        }
        if (c.bias)
            P.bias = rows_region(RBIAS, biase_, 1, n, n, pe, 1);
    }
    if (c.gate) {
        P.gate_stride = sext[4] ? zs : 0;
        P.gate = rows_region(RZ, ze_, rows, n, zs, xe, 2);
    }
    if (c.has_g)
        P.gamma = rows_region(RG, ge_, 1, n, n, pe, offs[2]);
    if (c.has_b)
        P.beta = rows_region(RB, be_, 1, n, n, pe, 3);
    if (c.stats) {
        P.rstd = region_new(RRSTD, (rows ? rows : 1) * 4, 4);
        if (c.ln)
            P.mean = region_new(RMEAN, (rows ? rows : 1) * 4, 8);
    }
    if (c.yt == NORM_I8) {
        if (c.dyn)
            P.y_scales = region_new(RSCALES, (rows ? rows : 1) * 4, 0);
        else
            P.y_scale = static_scale;
    }
    if (c.moments && c.entry == ENTRY_RUN)
        P.moments = rows_region(RMOM, c.mom, 1, rows ? rows : 1, rows ? rows : 1, sizeof(norm_moments), 0);
    if (c.entry == ENTRY_MOMENTS)
        region_new(ROUT, (rows ? rows : 1) * sizeof(norm_moments), 0);

    params_bytes = sizeof P;
    tail_byte = 0;
    if (c.entry != ENTRY_DENSE) {
        /* A static int8 scale whose reciprocal is not finite is an error (README). */
        if (c.yt == NORM_I8 && !c.dyn && !(isfinite(1.0f / P.y_scale)))
            c.must_fail = true;
    }
    for (size_t i = 0; i < nmut; i++)
        mutate(&c, mut[i][0], mut[i][1], nmut == 1);
    redirects_fit(&c);
    /* A later mutation may undo an earlier one (a valid struct size after a garbage one, a
     * valid kind after an unknown one): those two are judged on the final struct. */
    if (c.entry != ENTRY_DENSE) {
        size_t z = P.struct_size;
        bool size_ok = z == sizeof P || z == offsetof(norm_params, residual) ||
                       z == offsetof(norm_params, bias) + sizeof(void *) ||
                       (z > sizeof P && z <= 512 && z % 8 == 0 && !tail_byte);
        if (!size_ok || (P.kind != NORM_RMSNORM && P.kind != NORM_LAYERNORM))
            c.must_fail = true;
    }
    /* What the reference and the checks go by is the call as mutated. */
    c.ln = P.kind == NORM_LAYERNORM;
    c.gate = c.gate && P.gate != NULL;
    c.moments = P.moments != NULL;
    for (int i = 0; i < NREGIONS; i++)
        if (reg[i].base)
            memcpy(reg[i].init, reg[i].base, reg[i].total);
    params_block = malloc(params_bytes);
    if (!params_block)
        abort();

    describe(&c);
    if (getenv("NORM_FUZZ_DUMP")) /* every call, before it runs: a crash then names its call */
        fprintf(stderr, "fuzz_norm: call: %s\n", describe_buf);
    reference(&c, &rf);

    /* The oracle. */
    cur_tier = "scalar (the oracle)";
    if (norm_set_max_isa(NORM_ISA_SCALAR) != NORM_OK)
        finding("norm_set_max_isa(scalar) failed");
    restore();
    norm_status st_oracle = call(&c, true);
    bool ok = st_oracle == NORM_OK;
    if (ok)
        mark_outputs(&c);
    /* A later mutation may set y back to NULL (found by the seeded run: "apply field NULL"). */
    if (c.y_given && c.entry == ENTRY_MOMENTS && P.y)
        c.must_fail = true;
    if (c.y_nulled && !P.y)
        c.must_fail = true;
    if (c.must_fail && ok)
        finding("status NORM_OK for an invalid call");
    check_untouched(ok, "scalar (the oracle)");
    for (int i = 0; i < NREGIONS; i++)
        if (reg[i].base)
            memcpy(reg[i].after, reg[i].base, reg[i].total);

    /* Every tier against it. */
    for (int t = 0; t < ntiers; t++) {
        cur_tier = tiers[t].name;
        norm_status s = norm_set_max_isa(tiers[t].isa);
        if (s != NORM_OK)
            finding("norm_set_max_isa: %s", norm_status_string(s));
        restore();
        norm_status st = call(&c, false);
        if (st != st_oracle)
            finding("status %d (%s), the oracle %d (%s)", st, norm_status_string(st), st_oracle,
                    norm_status_string(st_oracle));
        check_untouched(ok, tiers[t].name);
        if (ok && P.rows > 0)
            compare_outputs(&c, &rf);
    }

    free(params_block);
    regions_free();
    free(c.xf); free(c.rf); free(c.zf); free(c.gf); free(c.bf); free(c.biasf); free(c.mom);
    free(xe_); free(re_); free(ze_); free(ge_); free(be_); free(biase_);
    free(rf.y); free(rf.bound); free(rf.s); free(rf.h); free(rf.special); free(rf.stats_special);
    return 0;
}
