/*
 * f16/bf16 <-> f32 for AVX-512 (16 lanes), included after vec_avx512.h.
 *
 * f16: the AVX-512F forms of vcvtph2ps/vcvtps2ph, with an explicit round-to-nearest-even
 * immediate. bf16 -> f32 is a shift (no instruction needed). f32 -> bf16 is AVX-512F
 * integer arithmetic, or, when NORM_AVX512_BF16 is 1 (compiled with -mavx512bf16),
 * vcvtneps2bf16. That instruction rounds to nearest even and quiets NaNs exactly as
 * kernels/scalar/half.h does, but it treats f32 subnormal inputs as zero (DAZ, whatever
 * MXCSR says) where IEEE rounding, and half.h, keep them as bf16 subnormals (or round them
 * up to the smallest normal). A vector that held a subnormal (looked for only where the result
 * holds a zero) therefore takes the integer path; both paths agree on every other lane, so no
 * blend is needed.
 *
 * Only AVX-512F instructions are used besides the NORM_AVX512_BF16 variant's own (vcvtneps2bf16,
 * vdpbf16ps, and the BW and DQ tests of its results; no VL): the 16-bit tails
 * are a 32-bit masked load (fault suppression covers the masked-off elements) plus, for an
 * odd count, the last element on its own; and a masked vpmovdw store, which writes 16-bit
 * elements under a 16-lane mask.
 */
#ifndef NORM_W
#  error "include vec_avx512.h before cvt_avx512.h"
#endif
#if NORM_AVX512_BF16 && !(defined(__AVX512BF16__) && defined(__AVX512BW__) && defined(__AVX512DQ__))
#  error "the avx512bf16 variant needs AVX512_BF16, BW and DQ (-mavx512bf16 -mavx512dq)"
#endif
#include <stdint.h>

/* The first k (< NORM_W) 16-bit elements of p, zero-extended in place; the rest zero. */
static inline __attribute__((always_inline)) __m256i cvt_load_u16_part(const uint16_t *p, size_t k)
{
    __m512i v = _mm512_maskz_loadu_epi32((__mmask16)((1u << (k >> 1)) - 1u), p);
    if (k & 1)
        v = _mm512_mask_set1_epi32(v, (__mmask16)(1u << (k >> 1)), p[k - 1]);
    return _mm512_castsi512_si256(v);
}

/* Writes the first k (< NORM_W) 16-bit elements of h to p. */
static inline __attribute__((always_inline)) void cvt_store_u16_part(uint16_t *p, __m256i h, size_t k)
{
    _mm512_mask_cvtepi32_storeu_epi16(p, tail_mask(k), _mm512_cvtepu16_epi32(h));
}

static inline __attribute__((always_inline)) vf vf_load_f16(const uint16_t *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i_u *)p));
}

static inline __attribute__((always_inline)) vf vf_load_f16_part(const uint16_t *p, size_t k)
{
    return _mm512_cvtph_ps(cvt_load_u16_part(p, k));
}

static inline __attribute__((always_inline)) __m256i cvt_f32_to_f16_bits(vf v)
{
    return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
}

static inline __attribute__((always_inline)) void vf_store_f16(uint16_t *p, vf v)
{
    _mm256_storeu_si256((__m256i_u *)p, cvt_f32_to_f16_bits(v));
}

static inline __attribute__((always_inline)) void vf_store_f16_part(uint16_t *p, vf v, size_t k)
{
    cvt_store_u16_part(p, cvt_f32_to_f16_bits(v), k);
}

static inline __attribute__((always_inline)) vf cvt_bf16_bits_to_f32(__m256i h)
{
    const __m512i u = _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16);
    const __mmask16 is_nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                                      _mm512_set1_epi32(0x7f800000));
    return _mm512_castsi512_ps(_mm512_mask_or_epi32(u, is_nan, u, _mm512_set1_epi32(0x00400000)));
}

static inline __attribute__((always_inline)) vf vf_load_bf16(const uint16_t *p)
{
    return cvt_bf16_bits_to_f32(_mm256_loadu_si256((const __m256i_u *)p));
}

/* bf16 -> f32 for arithmetic: exact, but a signalling NaN stays signalling (no quieting).
 * The kernels use it because any NaN input gives NaN results (and sends its row to the
 * scalar path) anyway; the quieting above costs three more instructions per load. */
static inline __attribute__((always_inline)) vf vf_widen_bf16(const uint16_t *p)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i_u *)p)), 16));
}

static inline __attribute__((always_inline)) vf vf_load_bf16_part(const uint16_t *p, size_t k)
{
    return cvt_bf16_bits_to_f32(cvt_load_u16_part(p, k));
}

/* f32 -> bf16 by integer rounding, one result per 32-bit lane. */
static inline __attribute__((always_inline)) __m512i cvt_f32_to_bf16_lanes(vf v)
{
    const __m512i u = _mm512_castps_si512(v);
    const __m512i hi = _mm512_srli_epi32(u, 16);
    /* Round the 16 dropped bits to nearest even with one add (carries reach Inf correctly). */
    const __m512i bias = _mm512_add_epi32(_mm512_and_si512(hi, _mm512_set1_epi32(1)),
                                          _mm512_set1_epi32(0x7fff));
    const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(u, bias), 16);
    const __mmask16 is_nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                                      _mm512_set1_epi32(0x7f800000));
    return _mm512_mask_or_epi32(rounded, is_nan, hi, _mm512_set1_epi32(0x0040));
}

/* bf16 rows two vectors at a time, with no shuffles: 2 * NORM_W values loaded as NORM_W
 * 32-bit lanes hold an even-indexed value in each lane's low half and the next one in its
 * high half, and each half is an f32 after a shift or a mask. An output computed in that
 * split form is rounded and put back together the same way (norm_body.h's output pass, for
 * rows whose x and y are bf16, f32 parameters split alike by vf_load_f32_pairs; and the sums
 * pass, for bf16 rows, where the fused residual add packs h back the same way). The rounding
 * is the integer path's or vcvtne2ps2bf16's, so the bits are those of vf_store_bf16. */
#define NORM_BF16_PAIRS 1
typedef __m512i vh_pairs;
static inline __attribute__((always_inline)) vh_pairs vh_load_pairs(const uint16_t *p)
{
    /* Held in a register: GCC would otherwise load it twice, as the memory operand of both
     * the shift and the mask. */
    vh_pairs r = _mm512_loadu_si512(p);
    __asm__("" : "+v"(r));
    return r;
}
static inline __attribute__((always_inline)) vf vf_bf16_even(vh_pairs r)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(r, 16));
}
static inline __attribute__((always_inline)) vf vf_bf16_odd(vh_pairs r)
{
    return _mm512_castsi512_ps(_mm512_and_si512(r, _mm512_set1_epi32((int)0xffff0000u)));
}
/* 2 * NORM_W f32 values split the same way, for an f32 bias added to bf16 pairs. */
static inline __attribute__((always_inline)) void vf_load_f32_pairs(const float *p, vf *even, vf *odd)
{
    const vf lo = _mm512_loadu_ps(p), hi = _mm512_loadu_ps(p + 16);
    const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    *even = _mm512_permutex2var_ps(lo, evens, hi);
    *odd = _mm512_permutex2var_ps(lo, _mm512_add_epi32(evens, _mm512_set1_epi32(1)), hi);
}
static inline __attribute__((always_inline)) vh_pairs vh_pack_pairs_int(vf even, vf odd)
{
    return _mm512_or_si512(cvt_f32_to_bf16_lanes(even), _mm512_slli_epi32(cvt_f32_to_bf16_lanes(odd), 16));
}
static inline __attribute__((always_inline)) void vh_store(uint16_t *p, vh_pairs h)
{
    _mm512_storeu_si512(p, h);
}

#if NORM_AVX512_BF16
/* vcvtneps2bf16 gives a zero only for a zero or a subnormal, which it flushes. So only a vector
 * whose result holds a zero is tested for subnormals, and only one that holds a subnormal is
 * converted again by the integer path. Testing the result is one instruction; testing every
 * input for subnormals took two per pair of vectors and made the bf16 output loop 10% slower
 * (Zen 5). Rows of zeros (padding) pay the second test, not the integer path. */
static inline __attribute__((always_inline)) __mmask32 cvt_bf16_zero_lanes(__m512i h)
{
    return _mm512_testn_epi16_mask(h, _mm512_set1_epi16(0x7fff));
}

static inline __attribute__((always_inline)) __mmask16 cvt_subnormal_lanes(vf v)
{
    return _mm512_fpclass_ps_mask(v, 0x20); /* AVX512DQ, which every AVX512_BF16 CPU has */
}

static inline __attribute__((always_inline)) __m256i cvt_f32_to_bf16_bits(vf v)
{
    __m256i h = (__m256i)_mm512_cvtneps_pbh(v);
    if (__builtin_expect((cvt_bf16_zero_lanes(_mm512_zextsi256_si512(h)) & 0xffffu) != 0, 0) &&
        cvt_subnormal_lanes(v) != 0)
        return _mm512_cvtepi32_epi16(cvt_f32_to_bf16_lanes(v));
    return h;
}

static inline __attribute__((always_inline)) void vf_store_bf16(uint16_t *p, vf v)
{
    _mm256_storeu_si256((__m256i_u *)p, cvt_f32_to_bf16_bits(v));
}

/* One vcvtne2ps2bf16 rounds both halves, and one vpermw interleaves them again, where the
 * integer path takes some twenty instructions; a result that holds a flushed subnormal takes
 * that path, found as in cvt_f32_to_bf16_bits. */
static inline __attribute__((always_inline)) vh_pairs vh_pack_pairs(vf even, vf odd)
{
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                                23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    __m512i both = (__m512i)_mm512_cvtne2ps_pbh(odd, even); /* even in the low half, odd in the high */
    if (__builtin_expect(cvt_bf16_zero_lanes(both) != 0, 0) &&
        !_kortestz_mask16_u8(cvt_subnormal_lanes(even), cvt_subnormal_lanes(odd)))
        return vh_pack_pairs_int(even, odd);
    return _mm512_permutexvar_epi16(interleave, both);
}

/* Sums over bf16 pairs with vdpbf16ps: acc + a.even * b.even + a.odd * b.odd in each lane,
 * the products exact (8-bit significands), rounded to nearest at most twice, as two multiply-
 * adds would be; but bf16 subnormal inputs, and products and sums below 2^-126, count as zero
 * (norm_body.h's sum_row_dot says why that is harmless there). One instruction per 32 values,
 * where the pairs path needs two conversions and two multiply-adds. */
#define NORM_BF16_DOT 1
static inline __attribute__((always_inline)) vf vf_dot_pairs(vf acc, vh_pairs a, vh_pairs b)
{
    return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b);
}
static inline __attribute__((always_inline)) vh_pairs vh_ones(void) { return _mm512_set1_epi16(0x3f80); }

static inline __attribute__((always_inline)) void vf_store_bf16_part(uint16_t *p, vf v, size_t k)
{
    cvt_store_u16_part(p, cvt_f32_to_bf16_bits(v), k);
}
#else
static inline __attribute__((always_inline)) void vf_store_bf16(uint16_t *p, vf v)
{
    _mm256_storeu_si256((__m256i_u *)p, _mm512_cvtepi32_epi16(cvt_f32_to_bf16_lanes(v)));
}

static inline __attribute__((always_inline)) vh_pairs vh_pack_pairs(vf even, vf odd)
{
    return vh_pack_pairs_int(even, odd);
}

static inline __attribute__((always_inline)) void vf_store_bf16_part(uint16_t *p, vf v, size_t k)
{
    _mm512_mask_cvtepi32_storeu_epi16(p, tail_mask(k), cvt_f32_to_bf16_lanes(v));
}
#define NORM_BF16_DOT 0
#endif

#include "vec_fixed.h"
