/* AVX-512F: 16 f32 lanes; tails use masked loads and stores, which never touch masked-off memory. */
#if !defined(__AVX512F__)
#  error "vec_avx512.h needs AVX-512F (-mavx512f)"
#endif
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include <sleef.h>

#ifndef NORM_SUFFIX
#  define NORM_SUFFIX avx512
#endif
#define NORM_HAS_FMA 1 /* vf_fmadd rounds once */
#define NORM_W 16
#define NORM_UNROLL 4
#define NORM_ALIGN 64
#define NORM_HAS_RSQRT14 1 /* vd_rsqrt14 */

typedef __m512 vf;
typedef __m512d vd;

/* Makes v a register value the compiler cannot trace back to its load (see NORM_ACCUMULATE). */
static inline vf vf_pin(vf v)
{
    __asm__("" : "+v"(v));
    return v;
}
static inline vf vf_zero(void) { return _mm512_setzero_ps(); }
static inline vf vf_set1(float v) { return _mm512_set1_ps(v); }
static inline vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm512_storeu_ps(p, v); }
static inline void vf_stream(float *p, vf v) { _mm512_stream_ps(p, v); }
static inline void vf_stream_fence(void) { _mm_sfence(); }
static inline vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vf_fmadd(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline __mmask16 tail_mask(size_t k) { return (__mmask16)((1u << k) - 1u); }
static inline vf vf_abs(vf v) { return _mm512_abs_ps(v); }
/* max(acc, v), a NaN in v leaving acc (vmaxps returns its second operand on NaN). */
static inline vf vf_max_num(vf acc, vf v) { return _mm512_max_ps(v, acc); }
static inline vf vf_exp(vf v) { return Sleef_expf16_u10avx512f(v); }
/* 1 / d for d in [1, 2]: vrcp14ps and one Newton step, correct to about 2^-28 before rounding. */
static inline vf vf_recip_1_2(vf d)
{
    vf r = _mm512_rcp14_ps(d);
    return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.0f)), r);
}
/* z >= 0 ? a : b, lane by lane (NaN z gives b). */
static inline vf vf_select_nonneg(vf z, vf a, vf b)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_GE_OQ), b, a);
}

/* int32 from values already scaled: NaN to 0, clamped to [-127, 127], rounded to nearest
 * even whatever MXCSR says; the stores then narrow them with vpmovsdb. */
static inline __m512i cvt_to_i32_clamped(vf v)
{
    v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v);
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
    return _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline void vf_store_i8(int8_t *p, vf v)
{
    _mm_storeu_si128((__m128i *)p, _mm512_cvtsepi32_epi8(cvt_to_i32_clamped(v)));
}
static inline void vf_store_i8_part(int8_t *p, vf v, size_t k)
{
    _mm512_mask_cvtsepi32_storeu_epi8(p, tail_mask(k), cvt_to_i32_clamped(v));
}

/* The first k (< NORM_W) elements of p; the other lanes are zero. */
static inline vf vf_load_part(const float *p, size_t k) { return _mm512_maskz_loadu_ps(tail_mask(k), p); }
static inline void vf_store_part(float *p, vf v, size_t k) { _mm512_mask_storeu_ps(p, tail_mask(k), v); }
/* v with the lanes from k on set to zero. */
static inline vf vf_keep_first(vf v, size_t k) { return _mm512_maskz_mov_ps(tail_mask(k), v); }
/* A non-temporal store of NORM_W 16-bit values from an aligned buffer to p (32-byte aligned). */
static inline void vh_stream(uint16_t *p, const uint16_t *buf) { _mm256_stream_si256((__m256i *)p, _mm256_load_si256((const __m256i *)buf)); }

static inline vd vd_zero(void) { return _mm512_setzero_pd(); }
/* The lanes of v in double, pairwise summed down to the width of a vd. */
static inline vd vd_from_vf(vf v)
{
    __m256 lo = _mm512_castps512_ps256(v);
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    return _mm512_add_pd(_mm512_cvtps_pd(lo), _mm512_cvtps_pd(hi));
}
static inline vd vd_add(vd a, vd b) { return _mm512_add_pd(a, b); }
static inline double vd_sum(vd v) { return _mm512_reduce_add_pd(v); }
static inline float vf_reduce_add(vf v) { return _mm512_reduce_add_ps(v); }
/* The largest lane, by halves (no lane is NaN, so the order does not matter). */
static inline float vf_reduce_max(vf v) { return _mm512_reduce_max_ps(v); }
/* 1 / sqrt(v) within a relative 2^-14. */
static inline double vd_rsqrt14(double v) { return _mm_cvtsd_f64(_mm_rsqrt14_sd(_mm_set_sd(v), _mm_set_sd(v))); }
