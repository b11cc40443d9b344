/*
 * f16/bf16 <-> f32 for SSE2 (4 lanes), included after vec_sse2.h. SSE2 has no half
 * conversion instructions, so both formats are integer SIMD on the bit patterns (shifts,
 * masks, compares, and/andnot/or selects), bit-identical to kernels/scalar/half.h (see
 * there for the rules, NaNs included).
 *
 * One floating-point add is used, for f32 -> f16 results in the f16 subnormal range: like
 * every other floating-point operation of the kernels it assumes the default rounding mode
 * (round to nearest even); DAZ/FTZ cannot change its result.
 */
#ifndef NORM_W
#  error "include vec_sse2.h before cvt_sse2.h"
#endif
#include <stdint.h>

static inline __attribute__((always_inline)) __m128i cvt_select(__m128i mask, __m128i if_set, __m128i if_clear)
{
    return _mm_or_si128(_mm_and_si128(mask, if_set), _mm_andnot_si128(mask, if_clear));
}

/* 4 16-bit patterns -> the low halves of 4 32-bit lanes. */
static inline __attribute__((always_inline)) __m128i cvt_load_u16x4(const uint16_t *p)
{
    return _mm_unpacklo_epi16(_mm_loadl_epi64((const __m128i_u *)p), _mm_setzero_si128());
}

/* The low halves of 4 32-bit lanes (each < 2^16) -> p[0..4). packs saturates signed, so
 * sign-extend from bit 15 first, which keeps each pattern intact. */
static inline __attribute__((always_inline)) void cvt_store_u16x4(uint16_t *p, __m128i x)
{
    x = _mm_srai_epi32(_mm_slli_epi32(x, 16), 16);
    _mm_storel_epi64((__m128i_u *)p, _mm_packs_epi32(x, x));
}

static inline __attribute__((always_inline)) vf vf_load_f16(const uint16_t *p)
{
    const __m128i h = cvt_load_u16x4(p);
    const __m128i sign = _mm_slli_epi32(_mm_and_si128(h, _mm_set1_epi32(0x8000)), 16);
    const __m128i em = _mm_and_si128(h, _mm_set1_epi32(0x7fff));
    const __m128i shifted = _mm_slli_epi32(em, 13); /* exponent and fraction in f32 places */
    /* Normal: rebias the exponent by 127 - 15. */
    const __m128i normal = _mm_add_epi32(shifted, _mm_set1_epi32(112 << 23));
    /* Inf/NaN: exponent 31 -> 255; NaNs get the quiet bit. */
    const __m128i is_special = _mm_cmpgt_epi32(em, _mm_set1_epi32(0x7bff));
    const __m128i is_nan = _mm_cmpgt_epi32(em, _mm_set1_epi32(0x7c00));
    const __m128i special = _mm_or_si128(_mm_add_epi32(shifted, _mm_set1_epi32(224 << 23)),
                                         _mm_and_si128(is_nan, _mm_set1_epi32(0x00400000)));
    /* Zero/subnormal: (0.5 + frac * 2^-24) - 0.5, both steps exact. */
    const __m128i is_sub = _mm_cmplt_epi32(em, _mm_set1_epi32(0x0400));
    const __m128 sub = _mm_sub_ps(_mm_castsi128_ps(_mm_or_si128(em, _mm_set1_epi32(126 << 23))),
                                  _mm_set1_ps(0.5f));
    __m128i r = cvt_select(is_special, special, normal);
    r = cvt_select(is_sub, _mm_castps_si128(sub), r);
    return _mm_castsi128_ps(_mm_or_si128(r, sign));
}

static inline __attribute__((always_inline)) void vf_store_f16(uint16_t *p, vf v)
{
    const __m128i u = _mm_castps_si128(v);
    const __m128i a = _mm_and_si128(u, _mm_set1_epi32(0x7fffffff));
    const __m128i sign = _mm_and_si128(_mm_srli_epi32(u, 16), _mm_set1_epi32(0x8000));
    /* [2^-14, 65520): rebias and round the 13 dropped bits to nearest even with one add. */
    const __m128i lsb = _mm_and_si128(_mm_srli_epi32(a, 13), _mm_set1_epi32(1));
    const __m128i normal = _mm_srli_epi32(
        _mm_add_epi32(_mm_add_epi32(a, _mm_set1_epi32((int)(0xfffu - 0x38000000u))), lsb), 13);
    /* Below 2^-14: |v| + 0.5 rounds |v| to a multiple of 2^-24 (the ulp of 0.5), leaving the
     * f16 subnormal (or 0x0400, the smallest normal) in the low fraction bits. Other lanes
     * add 0 so that no NaN reaches the floating-point unit. */
    const __m128i is_sub = _mm_cmplt_epi32(a, _mm_set1_epi32(0x38800000));
    const __m128i sub = _mm_sub_epi32(
        _mm_castps_si128(_mm_add_ps(_mm_castsi128_ps(_mm_and_si128(a, is_sub)), _mm_set1_ps(0.5f))),
        _mm_set1_epi32(126 << 23));
    const __m128i is_inf = _mm_cmpgt_epi32(a, _mm_set1_epi32(0x477fefff)); /* >= 65520 */
    const __m128i is_nan = _mm_cmpgt_epi32(a, _mm_set1_epi32(0x7f800000));
    const __m128i nan = _mm_or_si128(_mm_and_si128(_mm_srli_epi32(a, 13), _mm_set1_epi32(0x3ff)),
                                     _mm_set1_epi32(0x7e00));
    __m128i r = cvt_select(is_sub, sub, normal);
    r = cvt_select(is_inf, _mm_set1_epi32(0x7c00), r);
    r = cvt_select(is_nan, nan, r);
    cvt_store_u16x4(p, _mm_or_si128(r, sign));
}

static inline __attribute__((always_inline)) vf vf_load_bf16(const uint16_t *p)
{
    const __m128i u = _mm_slli_epi32(cvt_load_u16x4(p), 16);
    const __m128i is_nan = _mm_cmpgt_epi32(_mm_and_si128(u, _mm_set1_epi32(0x7fffffff)),
                                           _mm_set1_epi32(0x7f800000));
    return _mm_castsi128_ps(_mm_or_si128(u, _mm_and_si128(is_nan, _mm_set1_epi32(0x00400000))));
}

/* bf16 -> f32 for arithmetic: exact, but a signalling NaN stays signalling (no quieting).
 * The kernels use it because any NaN input gives NaN results (and sends its row to the
 * scalar path) anyway; the quieting above costs three more instructions per load. */
static inline __attribute__((always_inline)) vf vf_widen_bf16(const uint16_t *p) { return _mm_castsi128_ps(_mm_slli_epi32(cvt_load_u16x4(p), 16)); }

static inline __attribute__((always_inline)) void vf_store_bf16(uint16_t *p, vf v)
{
    const __m128i u = _mm_castps_si128(v);
    const __m128i hi = _mm_srli_epi32(u, 16);
    /* Round the 16 dropped bits to nearest even with one add (carries reach Inf correctly). */
    const __m128i bias = _mm_add_epi32(_mm_and_si128(hi, _mm_set1_epi32(1)), _mm_set1_epi32(0x7fff));
    const __m128i rounded = _mm_srli_epi32(_mm_add_epi32(u, bias), 16);
    const __m128i is_nan = _mm_cmpgt_epi32(_mm_and_si128(u, _mm_set1_epi32(0x7fffffff)),
                                           _mm_set1_epi32(0x7f800000));
    const __m128i nan = _mm_or_si128(hi, _mm_set1_epi32(0x0040));
    cvt_store_u16x4(p, cvt_select(is_nan, nan, rounded));
}

/* No bf16 pairs or dot products: bf16 rows are widened a vector at a time. */
#define NORM_BF16_PAIRS 0
#define NORM_BF16_DOT 0

#include "cvt_part_generic.h"
#include "vec_fixed.h"
