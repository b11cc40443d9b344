/*
 * f16/bf16 <-> f32 for AVX2 (8 lanes), included after vec_avx2.h. f16 uses F16C
 * (vcvtph2ps, and vcvtps2ph with an explicit round-to-nearest-even immediate, so the
 * MXCSR rounding mode does not matter); the library compiles this tier with -mf16c, and
 * every AVX2 processor has F16C. bf16 is AVX2 integer arithmetic on the bit patterns.
 * All bit-identical to kernels/scalar/half.h: F16C's NaN handling (quiet, keep the sign and
 * the top payload bits) is the rule half.h adopts. Tails go through a stack buffer: AVX2
 * has no 16-bit masked loads or stores.
 */
#ifndef NORM_W
#  error "include vec_avx2.h before cvt_avx2.h"
#endif
#include <stdint.h>

static inline __attribute__((always_inline)) vf vf_load_f16(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i_u *)p));
}

static inline __attribute__((always_inline)) void vf_store_f16(uint16_t *p, vf v)
{
    _mm_storeu_si128((__m128i_u *)p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}

static inline __attribute__((always_inline)) vf vf_load_bf16(const uint16_t *p)
{
    const __m256i u = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i_u *)p)), 16);
    const __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                              _mm256_set1_epi32(0x7f800000));
    return _mm256_castsi256_ps(_mm256_or_si256(u, _mm256_and_si256(is_nan, _mm256_set1_epi32(0x00400000))));
}

/* bf16 -> f32 for arithmetic: exact, but a signalling NaN stays signalling (no quieting).
 * The kernels use it because any NaN input gives NaN results (and sends its row to the
 * scalar path) anyway; the quieting above costs three more instructions per load. */
static inline __attribute__((always_inline)) vf vf_widen_bf16(const uint16_t *p)
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i_u *)p)), 16));
}

/* f32 -> bf16 by integer rounding, one result in the low half of each 32-bit lane. */
static inline __attribute__((always_inline)) __m256i cvt_f32_to_bf16_lanes(vf v)
{
    const __m256i u = _mm256_castps_si256(v);
    const __m256i hi = _mm256_srli_epi32(u, 16);
    /* Round the 16 dropped bits to nearest even with one add (carries reach Inf correctly). */
    const __m256i bias = _mm256_add_epi32(_mm256_and_si256(hi, _mm256_set1_epi32(1)),
                                          _mm256_set1_epi32(0x7fff));
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(u, bias), 16);
    const __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                              _mm256_set1_epi32(0x7f800000));
    const __m256i nan = _mm256_or_si256(hi, _mm256_set1_epi32(0x0040));
    return _mm256_blendv_epi8(rounded, nan, is_nan);
}

static inline __attribute__((always_inline)) void vf_store_bf16(uint16_t *p, vf v)
{
    const __m256i r = cvt_f32_to_bf16_lanes(v);
    /* Every lane is < 2^16, so unsigned saturation packs them unchanged. */
    _mm_storeu_si128((__m128i_u *)p, _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1)));
}

/* bf16 rows two vectors at a time, as cvt_avx512.h describes: 2 * NORM_W values loaded as
 * NORM_W 32-bit lanes are an even-indexed value in each lane's low half and the next one in
 * its high half, each an f32 after a shift or a mask, and results go back the same way. The
 * one-vector path above spends a shuffle on every widening and two on every narrowing
 * (vpmovzxwd, vpackusdw and its extract): this one spends none. */
#define NORM_BF16_PAIRS 1
typedef __m256i vh_pairs;
static inline __attribute__((always_inline)) vh_pairs vh_load_pairs(const uint16_t *p)
{
    vh_pairs r = _mm256_loadu_si256((const __m256i_u *)p);
    __asm__("" : "+x"(r)); /* one load, not one per use */
    return r;
}
static inline __attribute__((always_inline)) vf vf_bf16_even(vh_pairs r)
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(r, 16));
}
static inline __attribute__((always_inline)) vf vf_bf16_odd(vh_pairs r)
{
    return _mm256_castsi256_ps(_mm256_and_si256(r, _mm256_set1_epi32((int)0xffff0000u)));
}
/* 2 * NORM_W f32 values split the same way, for an f32 bias added to bf16 pairs. */
static inline __attribute__((always_inline)) void vf_load_f32_pairs(const float *p, vf *even, vf *odd)
{
    const vf lo = _mm256_loadu_ps(p), hi = _mm256_loadu_ps(p + 8);
    /* Within each 128-bit half: lo's two evens (odds), then hi's; then the halves' middle
     * 64-bit quarters swap. */
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xd8));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xdd)), 0xd8));
}
/* Both halves rounded as vf_store_bf16 rounds, the even results in the low halves of the
 * lanes and the odd ones in the high halves. */
static inline __attribute__((always_inline)) vh_pairs vh_pack_pairs(vf even, vf odd)
{
    return _mm256_or_si256(cvt_f32_to_bf16_lanes(even), _mm256_slli_epi32(cvt_f32_to_bf16_lanes(odd), 16));
}
static inline __attribute__((always_inline)) void vh_store(uint16_t *p, vh_pairs h)
{
    _mm256_storeu_si256((__m256i_u *)p, h);
}

#define NORM_BF16_DOT 0

#include "cvt_part_generic.h"
#include "vec_fixed.h"
