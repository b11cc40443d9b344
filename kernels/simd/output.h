/*
 * A row's output pass: y = u * gamma (+ beta) (* silu(z)), with u = x * s (RMSNorm) or
 * u = (x - c) * s + neg_ds (LayerNorm), stored as f32, f16, bf16 or int8.
 *
 * Size: the loops are written once per type triple (x, y, gamma/beta), out of line
 * (output_row_<x>_<y>_<p>, instantiated by instances.h), with the few shapes that the hot calls
 * need as constants (out_shape): centred or not, beta or not, the gate after the norm or not.
 * Everything else is decided once per row outside the loops: a row without gamma takes ones
 * for it, a row with the unit offset (1 + gamma) has its parameters converted to f32 a chunk
 * at a time (write_row_rare), and a dynamic int8 scale is a first call that only finds max|y|.
 */
#ifndef NORM_SIMD_OUTPUT_H
#define NORM_SIMD_OUTPUT_H

/* What output_vector needs of a row's statistics: u = (x - c) * s + neg_ds. neg_ds is -0.0
 * when there is nothing to add: the multiply-add then rounds as a multiply does, sign of zero
 * included, so one loop serves both. RMSNorm has c = 0 and neg_ds = -0.0, and x - 0 is x: with
 * beta, it takes LayerNorm's loop, with the same bits as u = x * s (one shape fewer per type
 * triple, for the price of a subtraction in a case that is rare and bound by memory). */
typedef struct row_scale {
    float c, s, neg_ds;
} row_scale;

/* The compile-time shape of one output loop. gamma is always there: rows without it load
 * ones (norm_ones_f32). */
typedef struct out_shape {
    norm_dtype xt, yt, pt; /* the source (x, h, or the gate's f32 stash), y, gamma and beta */
    bool centered;         /* LayerNorm: subtract c, add neg_ds */
    bool has_b;            /* beta */
    bool gate_out;         /* times silu(z), from exp(-|z| / 2) computed ahead (exp_row) */
    bool careful;          /* with gate_out: y may leave f32 before the gate (see output_vector) */
} out_shape;

/* The shapes an instance serves, chosen per row by write_row. */
enum out_variant {
    OUT_SCALE,         /* RMSNorm: u = x * s */
    OUT_CENTER,        /* LayerNorm */
    OUT_CENTER_BETA,   /* LayerNorm and RMSNorm with beta */
    OUT_SCALE_GATE,    /* gated RMSNorm, the gate after the norm: y = (u * g * sigmoid(z)) * z */
    OUT_GATE_CAREFUL,  /* the same where u * g may overflow f32 */
    OUT_GATE_BETA,     /* the gate after the norm with beta (careful too: a rare call) */
};

/* One row's output, as its loop sees it. */
typedef struct out_row {
    void *y;
    const void *x, *g, *b;
    size_t n;
    row_scale rs;
    const void *z;        /* the gate after the norm: the gate's row ... */
    const float *exp_z;   /* ... and exp(-|z| / 2) for it */
    bool gate_careful;    /* OUT_GATE_CAREFUL instead of OUT_SCALE_GATE */
    float q_inv;          /* int8: 1 / s */
    bool amax_only;       /* int8: return max|y| over the row, store nothing */
    bool nontemporal;     /* streaming stores */
    /* Streaming stores (rows larger than the caches): the next row's x and residual (or
     * NULL), fetched toward L2 while this row is written, so that memory keeps working while
     * the processor computes. Without it, rows that compute more per byte (f16, bf16) left
     * memory idle during their output pass (8192x8192 bf16: 1.55x -> 2.1x the rows/s of f32;
     * f32 2048x4096: 1.21x -> 0.96x a memcpy). */
    const void *next_x, *next_r;
    norm_dtype next_t;
} out_row;

typedef float out_fn(const out_row *o, enum out_variant v);

/* y for one vector, before it is stored. With the gate after the norm, t = exp(-|z| / 2). */
static NORM_ALWAYS_INLINE vf output_vector(out_shape sh, vf x, vf g, vf b, vf z, vf t, vf c, vf s,
                                           vf neg_ds)
{
    vf u = sh.centered ? vf_fmadd(vf_sub(x, c), s, neg_ds) : vf_mul(x, s);
    vf v = sh.has_b ? vf_fmadd(u, g, b) : vf_mul(u, g);
#if !NORM_HAS_FMA
    /* Without a fused multiply-add, u * g can overflow where u * g + b is finite (|gamma| near
     * FLT_MAX, beta of the other sign: found by the fuzzer on sse2). Those lanes, and only
     * those (FLT_MAX - |v| < 0, or NaN), take (u * (g / 2) + b / 2) * 2. */
    if (sh.has_b) {
        const vf half = vf_set1(0.5f);
        vf halved = vf_mul(vf_add(vf_mul(u, vf_mul(g, half)), vf_mul(b, half)), vf_set1(2.0f));
        v = vf_select_nonneg(vf_sub(vf_set1(0x1.fffffep127f), vf_abs(v)), v, halved);
    }
#endif
    if (!sh.gate_out)
        return v;
    /* y = v * silu(z) as (v * sigmoid(z)) * z (times_silu): silu(z) alone is subnormal for tiny
     * z and would lose bits of y; z with -Inf taken as -FLT_MAX makes silu(-Inf) = -0. Where
     * the call's parameters are small enough that v stays in f32 (gate_params_wide), that is
     * all. */
    vf y = times_silu(v, z, t);
    if (!sh.careful)
        return y;
    /* Otherwise, where v left f32 (|gamma| near FLT_MAX; found by the fuzzer: y -Inf where the
     * oracle's is -1.18e38), the gate before gamma: (u * silu(z)) * g + b * silu(z).
     * FLT_MAX - |v| < 0 there, NaN for a NaN v, which the other order gives as well. A zero
     * silu gives a zero there too, not Inf * 0. */
    const vf flt_max = vf_set1(0x1.fffffep127f);
    vf us = times_silu(u, z, t);
    if (!sh.has_b)
        return vf_select_nonneg(vf_sub(flt_max, vf_abs(v)), y, vf_mul(us, g));
    /* With beta, b * silu(z) leaves f32 only where |silu(z)| > 1, and there y is beyond f32 as
     * v is, so y's +-Inf is the answer, while the other order's sum would take the sign of
     * b * silu(z) (found by the fuzzer on avx2: q -127 where the oracle's is 127, y 8e76). */
    vf bs = times_silu(b, z, t);
    vf wide = vf_select_nonneg(vf_sub(flt_max, vf_abs(bs)), vf_fmadd(us, g, bs), y);
    return vf_select_nonneg(vf_sub(flt_max, vf_abs(v)), y, wide);
}

/* The output loop of one shape. Partial vectors (an unaligned head, the tail) go through the
 * same vector arithmetic, so a row's result does not depend on where it sits in memory. */
static NORM_ALWAYS_INLINE float output_loop(out_shape sh, const out_row *o)
{
    const vf c = vf_set1(o->rs.c), s = vf_set1(o->rs.s), neg_ds = vf_set1(o->rs.neg_ds);
    const void *x = o->x, *g = o->g, *b = o->b, *z = o->z;
    const float *t = o->exp_z;
    void *y = o->y;
    const size_t n = o->n;
#define NORM_OUTPUT(i)                                                                    \
    output_vector(sh, load_as(x, i, sh.xt), load_as(g, i, sh.pt),                         \
                  sh.has_b ? load_as(b, i, sh.pt) : s, sh.gate_out ? load_as(z, i, sh.xt) : s, \
                  sh.gate_out ? vf_load(t + (i)) : s, c, s, neg_ds)
#define NORM_OUTPUT_PART(i, k)                                                            \
    output_vector(sh, load_part_as(x, i, k, sh.xt), load_part_as(g, i, k, sh.pt),        \
                  sh.has_b ? load_part_as(b, i, k, sh.pt) : s,                            \
                  sh.gate_out ? load_part_as(z, i, k, sh.xt) : s,                         \
                  sh.gate_out ? vf_load_part(t + (i), k) : s, c, s, neg_ds)
    size_t i = 0;
    if (sh.yt == NORM_I8) {
        if (o->amax_only) {
            vf m = vf_zero();
            for (; i + NORM_W <= n; i += NORM_W)
                m = vf_max_num(m, vf_abs(NORM_OUTPUT(i)));
            if (i < n)
                m = vf_max_num(m, vf_keep_first(vf_abs(NORM_OUTPUT_PART(i, n - i)), n - i));
            return vf_reduce_max(m); /* m holds no NaN: vf_max_num skipped them */
        }
        const vf q = vf_set1(o->q_inv);
        for (; i + NORM_W <= n; i += NORM_W)
            vf_store_i8((int8_t *)y + i, vf_mul(NORM_OUTPUT(i), q));
        if (i < n)
            vf_store_i8_part((int8_t *)y + i, vf_mul(NORM_OUTPUT_PART(i, n - i), q), n - i);
        return 0.0f;
    }
    const size_t es = norm_dtype_size(sh.yt), vector_bytes = NORM_W * es;
    if (!sh.gate_out && o->nontemporal && (uintptr_t)y % es == 0) { /* (gated rows: rare, not worth a loop) */
        size_t head = (vector_bytes - (uintptr_t)y % vector_bytes) % vector_bytes / es;
        if (head > n)
            head = n;
        if (head) {
            store_part_as(y, 0, NORM_OUTPUT_PART(0, head), head, sh.yt);
            i = head;
        }
        const size_t next_es = norm_dtype_size(o->next_t);
        for (; i + NORM_W <= n; i += NORM_W) {
            /* The next row's inputs at i, toward L2 (one vector of f32 is one cache line).
             * Only here: rows in cache or in L3 lost 10-20% to it (4096x128, 2048x1024),
             * where the hardware prefetcher serves them and the prefetches cost issue slots. */
            if (o->next_x)
                __builtin_prefetch((const char *)o->next_x + i * next_es, 0, 2);
            if (o->next_r)
                __builtin_prefetch((const char *)o->next_r + i * next_es, 0, 2);
            stream_as(y, i, NORM_OUTPUT(i), sh.yt);
        }
        vf_stream_fence();
    } else {
#if NORM_BF16_PAIRS
        /* bf16 rows: no widening or narrowing shuffles (cvt_<isa>.h); f32 parameters are
         * split into the same even and odd halves. */
        if (sh.xt == NORM_BF16 && sh.yt == NORM_BF16 && !sh.gate_out) {
            for (; i + 2 * NORM_W <= n; i += 2 * NORM_W) {
                vh_pairs xr = vh_load_pairs((const uint16_t *)x + i);
                vf ge, go, be = s, bo = s;
                load_pairs_as(g, i, sh.pt, &ge, &go);
                if (sh.has_b)
                    load_pairs_as(b, i, sh.pt, &be, &bo);
                vf even = output_vector(sh, vf_bf16_even(xr), ge, be, s, s, c, s, neg_ds);
                vf odd = output_vector(sh, vf_bf16_odd(xr), go, bo, s, s, c, s, neg_ds);
                vh_store((uint16_t *)y + i, vh_pack_pairs(even, odd));
            }
        }
#endif
        /* Two vectors per iteration: measured 15-20% faster on 1x4096 rows (AMD EPYC, Zen 5),
         * as if one store per iteration held the loop back. */
        for (; i + 2 * NORM_W <= n; i += 2 * NORM_W) {
            store_as(y, i, NORM_OUTPUT(i), sh.yt);
            store_as(y, i + NORM_W, NORM_OUTPUT(i + NORM_W), sh.yt);
        }
        for (; i + NORM_W <= n; i += NORM_W)
            store_as(y, i, NORM_OUTPUT(i), sh.yt);
    }
    if (i < n)
        store_part_as(y, i, NORM_OUTPUT_PART(i, n - i), n - i, sh.yt);
#undef NORM_OUTPUT
#undef NORM_OUTPUT_PART
    return 0.0f;
}

/* The body of output_row_<x>_<y>_<p>: one loop per variant. */
/* write_row's answer for a row it did not write: a dynamic int8 scale whose max|y| overflowed
 * f32 (|gamma| near FLT_MAX), where the exact max|y| / 127 is finite. The caller sends the row
 * to the scalar row, which computes the scale in double. */
#define NORM_OUT_EXACT (-1.0f)

static NORM_ALWAYS_INLINE float output_variants(const out_row *o, enum out_variant v, norm_dtype xt,
                                                norm_dtype yt, norm_dtype pt, bool gates)
{
    if (!gates && v >= OUT_SCALE_GATE)
        return NORM_OUT_EXACT; /* a caller that has no gate (never reached) */
    switch (v) {
    case OUT_SCALE:
        return output_loop((out_shape){ xt, yt, pt, false, false, false, false }, o);
    case OUT_CENTER:
        return output_loop((out_shape){ xt, yt, pt, true, false, false, false }, o);
    case OUT_CENTER_BETA:
        return output_loop((out_shape){ xt, yt, pt, true, true, false, false }, o);
    case OUT_SCALE_GATE:
        return output_loop((out_shape){ xt, yt, pt, false, false, true, false }, o);
    default:
        /* The careful gate loops exist for f32 parameters only: write_row sends the others
         * through write_row_rare's f32 chunks (it keeps the library small). */
        if (pt != NORM_F32)
            return NORM_OUT_EXACT;
        if (v == OUT_GATE_CAREFUL)
            return output_loop((out_shape){ xt, yt, pt, false, false, true, true }, o);
        return output_loop((out_shape){ xt, yt, pt, false, true, true, true }, o);
    }
}

/* The output instances a kernel of types (x, y, p) may call: its own, and those with f32
 * parameters for the rare rows and, with f32 source, for the gate's stash. */
typedef struct out_fns {
    out_fn *typed;       /* (x, y, p) */
    out_fn *f32_params;  /* (x, y, f32) */
    out_fn *f32_source;  /* (f32, y, f32) */
    bool inline_typed;   /* the (x, y, p) loops inlined instead of called (instances.h's hot types) */
} out_fns;

/* Parameters converted to f32 a chunk at a time: 1 + gamma for the unit offset (rounded once
 * more than the kernels' u * g + u: 2^-24 relative, far inside the contract's 2^-20), or
 * half-precision parameters for a loop that takes f32 ones. */
#define NORM_RARE_CHUNK NORM_ONES_N

static NORM_ALWAYS_INLINE void params_to_f32_as(float *out, const void *p, size_t at, size_t len, norm_dtype pt,
                                                bool plus_one)
{
    const vf one = vf_set1(1.0f);
    size_t i = 0;
    for (; i + NORM_W <= len; i += NORM_W) {
        vf v = load_as(p, at + i, pt);
        vf_store(out + i, plus_one ? vf_add(v, one) : v);
    }
    if (i < len) {
        vf v = load_part_as(p, at + i, len - i, pt);
        vf_store_part(out + i, plus_one ? vf_add(v, one) : v, len - i);
    }
}

/* One loop per type and offset, chosen once (with the type a variable inside the loop, its
 * tests took 14 instructions a vector, avx2). */
static void params_to_f32(float *out, const void *p, size_t at, size_t len, norm_dtype pt, bool plus_one)
{
    switch (pt) {
    case NORM_F16:
        return plus_one ? params_to_f32_as(out, p, at, len, NORM_F16, true)
                        : params_to_f32_as(out, p, at, len, NORM_F16, false);
    case NORM_BF16:
        return plus_one ? params_to_f32_as(out, p, at, len, NORM_BF16, true)
                        : params_to_f32_as(out, p, at, len, NORM_BF16, false);
    default:
        return plus_one ? params_to_f32_as(out, p, at, len, NORM_F32, true)
                        : params_to_f32_as(out, p, at, len, NORM_F32, false);
    }
}

/* A row the typed loop cannot take (gamma NULL on a long row or with half-precision
 * parameters, the unit offset, ...): the f32-parameter loop, a chunk at a time. */
static __attribute__((noinline)) float write_row_rare(const out_row *o, enum out_variant v, out_fn *fn,
                                                      const void *gamma, const void *beta, bool unit_offset,
                                                      norm_dtype xt, norm_dtype yt, norm_dtype pt)
{
    _Alignas(64) float g[NORM_RARE_CHUNK], b[NORM_RARE_CHUNK];
    const size_t xs = norm_dtype_size(xt), ys = norm_dtype_size(yt);
    float amax = 0.0f;
    for (size_t at = 0; at < o->n; at += NORM_RARE_CHUNK) {
        size_t len = o->n - at < NORM_RARE_CHUNK ? o->n - at : NORM_RARE_CHUNK;
        out_row part = *o;
        part.y = (char *)o->y + at * ys;
        part.x = (const char *)o->x + at * xs;
        part.n = len;
        if (o->z)
            part.z = (const char *)o->z + at * xs;
        if (o->exp_z)
            part.exp_z = o->exp_z + at;
        if (o->next_x)
            part.next_x = (const char *)o->next_x + at * norm_dtype_size(o->next_t);
        if (o->next_r)
            part.next_r = (const char *)o->next_r + at * norm_dtype_size(o->next_t);
        part.g = norm_ones_f32; /* no gamma: 1, with the unit offset too */
        if (gamma && (unit_offset || pt != NORM_F32)) {
            params_to_f32(g, gamma, at, len, pt, unit_offset);
            part.g = g;
        } else if (gamma) {
            part.g = (const float *)gamma + at;
        }
        part.b = NULL;
        if (beta && pt != NORM_F32) {
            params_to_f32(b, beta, at, len, pt, false);
            part.b = b;
        } else if (beta) {
            part.b = (const float *)beta + at;
        }
        float m = fn(&part, v);
        amax = m > amax ? m : amax;
    }
    return amax;
}


/* One pass of write_row. Where the loops are inlined, the rare rows' call takes a copy of the
 * row: given o itself, the compiler kept o in memory for the inlined loop too, which then built
 * it field by field on every row (15 of a 128-element row's instructions, avx2). */
static NORM_ALWAYS_INLINE float write_row_once(const out_row *o, enum out_variant v, bool rare, out_fn *typed,
                                               out_fn *f32_params, bool inline_typed, const void *gamma,
                                               const void *beta, bool unit_offset, norm_dtype xt, norm_dtype yt,
                                               norm_dtype pt)
{
    if (!rare)
        return inline_typed ? output_variants(o, v, xt, yt, pt, false) : typed(o, v);
    if (!inline_typed) /* (o is in memory for typed() anyway: no copy) */
        return write_row_rare(o, v, f32_params, gamma, beta, unit_offset, xt, yt, pt);
    const out_row copy = *o;
    return write_row_rare(&copy, v, f32_params, gamma, beta, unit_offset, xt, yt, pt);
}

/* One row's output, whatever its parameters: the typed loop (NULL: none for these
 * parameters' type), or write_row_rare. With q_scale (a dynamic int8 scale), max|y| first,
 * then the row with 1 / s, or NORM_OUT_EXACT and nothing written. Returns max|y| when
 * o->amax_only asks for it. */
static NORM_ALWAYS_INLINE float write_row(out_row *o, bool centered, const void *gamma, const void *beta,
                                         bool unit_offset, float *q_scale, out_fn *typed,
                                         out_fn *f32_params, bool inline_typed, norm_dtype xt,
                                         norm_dtype yt, norm_dtype pt)
{
    enum out_variant v = o->z ? (beta ? OUT_GATE_BETA : o->gate_careful ? OUT_GATE_CAREFUL : OUT_SCALE_GATE)
                         : beta ? OUT_CENTER_BETA : centered ? OUT_CENTER : OUT_SCALE;
    /* No gamma is 1, with the unit offset too: a row short enough takes the ones as gamma. */
    if (!gamma && o->n <= NORM_ONES_N) {
        gamma = norm_gamma_or_ones(NULL, o->n, pt);
        unit_offset = false;
    }
    const bool rare = !gamma || unit_offset || !typed || (v >= OUT_GATE_CAREFUL && pt != NORM_F32);
    o->g = gamma;
    o->b = beta;
    if (yt == NORM_I8 && q_scale) {
        o->amax_only = true;
        float amax = write_row_once(o, v, rare, typed, f32_params, inline_typed, gamma, beta, unit_offset, xt, yt,
                                    pt);
        if (!(amax <= FLT_MAX))
            return NORM_OUT_EXACT;
        float scale = amax / 127.0f;
        *q_scale = scale;
        o->q_inv = scale > 0.0f ? 1.0f / scale : 0.0f;
        o->amax_only = false;
    }
    return write_row_once(o, v, rare, typed, f32_params, inline_typed, gamma, beta, unit_offset, xt, yt, pt);
}

#endif
