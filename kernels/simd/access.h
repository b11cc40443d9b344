/* Typed memory access for the kernels: loads and stores of f32, f16 and bf16 rows as f32 vectors,
 * whole or partial, and the row source (x, or the fused residual add h = x + r (+ b)). */
#ifndef NORM_SIMD_ACCESS_H
#define NORM_SIMD_ACCESS_H


/* NORM_W elements of type t at p[i]. (bf16 is widened without quieting signalling NaNs:
 * a NaN anywhere in a row makes its results NaN whichever way it was widened.) */
static NORM_ALWAYS_INLINE vf load_as(const void *p, size_t i, norm_dtype t)
{
    if (t == NORM_F16)
        return vf_load_f16((const uint16_t *)p + i);
    if (t == NORM_BF16)
        return vf_widen_bf16((const uint16_t *)p + i);
    return vf_load((const float *)p + i);
}

/* The k (< NORM_W) elements at p[i]; the other lanes are zero. */
static NORM_ALWAYS_INLINE vf load_part_as(const void *p, size_t i, size_t k, norm_dtype t)
{
    if (t == NORM_F16)
        return vf_load_f16_part((const uint16_t *)p + i, k);
    if (t == NORM_BF16)
        return vf_load_bf16_part((const uint16_t *)p + i, k);
    return vf_load_part((const float *)p + i, k);
}

static NORM_ALWAYS_INLINE void store_as(void *p, size_t i, vf v, norm_dtype t)
{
    if (t == NORM_F16)
        vf_store_f16((uint16_t *)p + i, v);
    else if (t == NORM_BF16)
        vf_store_bf16((uint16_t *)p + i, v);
    else
        vf_store((float *)p + i, v);
}

static NORM_ALWAYS_INLINE void store_part_as(void *p, size_t i, vf v, size_t k, norm_dtype t)
{
    if (t == NORM_F16)
        vf_store_f16_part((uint16_t *)p + i, v, k);
    else if (t == NORM_BF16)
        vf_store_bf16_part((uint16_t *)p + i, v, k);
    else
        vf_store_part((float *)p + i, v, k);
}

/* A non-temporal store of one vector to p[i], which must be vector-aligned. */
static NORM_ALWAYS_INLINE void stream_as(void *p, size_t i, vf v, norm_dtype t)
{
    if (t == NORM_F16)
        vf_stream_f16((uint16_t *)p + i, v);
    else if (t == NORM_BF16)
        vf_stream_bf16((uint16_t *)p + i, v);
    else
        vf_stream((float *)p + i, v);
}


/* Where a row's values come from: x itself; or h = x + r (+ b) rounded to x's type, which
 * is stored to h on the way (the fused residual add). */
typedef struct row_source {
    const void *x, *r, *b;
    void *h;
} row_source;

/* The compile-time shape of a source: x's type, the bias's (f32 or x's), and whether it is
 * the fused h, with a bias or not. */
typedef struct src_shape {
    norm_dtype xt, pt;
    bool fused, has_b;
} src_shape;

/* x alone, of type t. */
#define NORM_PLAIN_SOURCE(t) ((src_shape){ (t), (t), false, false })

/* One vector of the row at i: x, or the fused h (stored, then reloaded rounded). */
static NORM_ALWAYS_INLINE vf fetch(row_source src, size_t i, src_shape ss)
{
    vf v = load_as(src.x, i, ss.xt);
    if (!ss.fused)
        return v;
    v = vf_add(v, load_as(src.r, i, ss.xt));
    if (ss.has_b)
        v = vf_add(v, load_as(src.b, i, ss.pt));
    store_as(src.h, i, v, ss.xt);
    return ss.xt == NORM_F32 ? v : load_as(src.h, i, ss.xt);
}

/* The k (< NORM_W) elements at i, zero beyond. */
static NORM_ALWAYS_INLINE vf fetch_part(row_source src, size_t i, size_t k, src_shape ss)
{
    vf v = load_part_as(src.x, i, k, ss.xt);
    if (!ss.fused)
        return v;
    v = vf_add(v, load_part_as(src.r, i, k, ss.xt));
    if (ss.has_b)
        v = vf_add(v, load_part_as(src.b, i, k, ss.pt));
    store_part_as(src.h, i, v, k, ss.xt);
    return load_part_as(src.h, i, k, ss.xt);
}

#if NORM_BF16_PAIRS
/* 2 * NORM_W parameters (bf16 or f32) at p[i], as the even and odd halves of bf16 pairs. */
static NORM_ALWAYS_INLINE void load_pairs_as(const void *p, size_t i, norm_dtype t, vf *even, vf *odd)
{
    if (t == NORM_BF16) {
        vh_pairs r = vh_load_pairs((const uint16_t *)p + i);
        *even = vf_bf16_even(r);
        *odd = vf_bf16_odd(r);
    } else {
        vf_load_f32_pairs((const float *)p + i, even, odd);
    }
}

/* 2 * NORM_W values of a bf16 row at i, as even and odd halves (cvt_<isa>.h): x, or the fused
 * h = x + r (+ b), stored rounded and returned rounded, as fetch() does one vector at a time.
 * Widening a vector of bf16 is a shuffle, and the fused add needs three per vector (x, r and
 * the rounded h); pairs need none. */
static NORM_ALWAYS_INLINE vh_pairs fetch_packed_pairs(row_source src, size_t i, src_shape ss)
{
    vh_pairs v = vh_load_pairs((const uint16_t *)src.x + i);
    if (ss.fused) {
        vh_pairs r = vh_load_pairs((const uint16_t *)src.r + i);
        vf e = vf_add(vf_bf16_even(v), vf_bf16_even(r)), o = vf_add(vf_bf16_odd(v), vf_bf16_odd(r));
        if (ss.has_b) {
            vf be, bo;
            load_pairs_as(src.b, i, ss.pt, &be, &bo);
            e = vf_add(e, be);
            o = vf_add(o, bo);
        }
        v = vh_pack_pairs(e, o);
        vh_store((uint16_t *)src.h + i, v);
    }
    return v;
}

static NORM_ALWAYS_INLINE void fetch_pairs(row_source src, size_t i, src_shape ss, vf *even, vf *odd)
{
    vh_pairs v = fetch_packed_pairs(src, i, ss);
    *even = vf_bf16_even(v);
    *odd = vf_bf16_odd(v);
}
#define NORM_PAIRS_SUMS 1
#else
#define NORM_PAIRS_SUMS 0
#endif

/* Element i of a row of type t, as f32 (the scalar conversions, bit-identical to the vector ones). */
static inline float element_f32(const void *p, size_t i, norm_dtype t)
{
    return t == NORM_F16    ? norm_f16_to_f32(((const uint16_t *)p)[i])
           : t == NORM_BF16 ? norm_bf16_to_f32(((const uint16_t *)p)[i])
                            : ((const float *)p)[i];
}

/* f rounded to type t and back. */
static inline float round_to(float f, norm_dtype t)
{
    return t == NORM_F16 ? norm_f16_to_f32(norm_f32_to_f16(f))
           : t == NORM_BF16 ? norm_bf16_to_f32(norm_f32_to_bf16(f)) : f;
}

/* One vector of the row at i (k < NORM_W elements if part): x, or the fused h = x + r (+ b)
 * rounded to x's type as fetch() computes it, but not stored (h may be x itself, which the
 * sums pass still has to read). */
static NORM_ALWAYS_INLINE vf peek(row_source src, size_t i, size_t k, bool part, src_shape ss)
{
    vf v = part ? load_part_as(src.x, i, k, ss.xt) : load_as(src.x, i, ss.xt);
    if (!ss.fused)
        return v;
    v = vf_add(v, part ? load_part_as(src.r, i, k, ss.xt) : load_as(src.r, i, ss.xt));
    if (ss.has_b)
        v = vf_add(v, part ? load_part_as(src.b, i, k, ss.pt) : load_as(src.b, i, ss.pt));
    return ss.xt == NORM_F16 ? vf_round_f16(v) : ss.xt == NORM_BF16 ? vf_round_bf16(v) : v;
}

#endif
