/* AVX2 + FMA: 8 f32 lanes. */
#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#  error "vec_avx2.h needs AVX2, FMA and F16C (-mavx2 -mfma -mf16c)"
#endif
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include <sleef.h>

#define NORM_SUFFIX avx2
#define NORM_HAS_FMA 1 /* vf_fmadd rounds once */
#define NORM_HAS_RSQRT14 0
#define NORM_W 8
#define NORM_UNROLL 4
#define NORM_ALIGN 32

typedef __m256 vf;
typedef __m256d vd;

/* Makes v a register value the compiler cannot trace back to its load (see NORM_ACCUMULATE). */
static inline vf vf_pin(vf v)
{
    __asm__("" : "+x"(v));
    return v;
}
static inline vf vf_zero(void) { return _mm256_setzero_ps(); }
static inline vf vf_set1(float v) { return _mm256_set1_ps(v); }
static inline vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm256_storeu_ps(p, v); }
static inline void vf_stream(float *p, vf v) { _mm256_stream_ps(p, v); }
static inline void vf_stream_fence(void) { _mm_sfence(); }
static inline vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vf_fmadd(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf vf_abs(vf v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }
/* max(acc, v), a NaN in v leaving acc (vmaxps returns its second operand on NaN). */
static inline vf vf_max_num(vf acc, vf v) { return _mm256_max_ps(v, acc); }
static inline vf vf_exp(vf v) { return Sleef_expf8_u10avx2(v); }
/* 1 / d for d in [1, 2]: vrcpps's 12 bits and one Newton step, about 2^-22 relative. */
static inline vf vf_recip_1_2(vf d)
{
    vf r = _mm256_rcp_ps(d);
    return _mm256_fmadd_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(1.0f)), r);
}
/* z >= 0 ? a : b, lane by lane (NaN z gives b). */
static inline vf vf_select_nonneg(vf z, vf a, vf b)
{
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GE_OQ));
}

/* int8 from values already scaled: NaN to 0, clamped to [-127, 127], rounded to nearest even
 * (vcvtps2dq under the default rounding mode). Eight bytes. */
static inline long long cvt_to_i8(vf v)
{
    v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
    v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
    __m256i d = _mm256_cvtps_epi32(v);
    __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(d), _mm256_extracti128_si256(d, 1));
    return _mm_cvtsi128_si64(_mm_packs_epi16(w, w));
}
static inline void vf_store_i8(int8_t *p, vf v)
{
    long long bytes = cvt_to_i8(v);
    memcpy(p, &bytes, sizeof bytes);
}
static inline void vf_store_i8_part(int8_t *p, vf v, size_t k)
{
    long long bytes = cvt_to_i8(v);
    memcpy(p, &bytes, k);
}

/* Tails, as two SSE halves loaded and stored piecewise. Not vmaskmovps: AMD documents
 * that its masked-off elements may still fault, and qemu's emulation does fault. */
#include "sse_part.h"

static const int32_t norm_avx2_keep_table[16] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };
/* The first k (< NORM_W) elements of p; the other lanes are zero. */
static inline vf vf_load_part(const float *p, size_t k)
{
    if (k < 4)
        return _mm256_set_m128(_mm_setzero_ps(), sse_load_part(p, k));
    return _mm256_set_m128(k > 4 ? sse_load_part(p + 4, k - 4) : _mm_setzero_ps(), _mm_loadu_ps(p));
}
/* v with the lanes from k on set to zero. */
static inline vf vf_keep_first(vf v, size_t k)
{
    return _mm256_and_ps(v, _mm256_loadu_ps((const float *)(norm_avx2_keep_table + 8 - k)));
}
static inline void vh_stream(uint16_t *p, const uint16_t *buf) { _mm_stream_si128((__m128i *)p, _mm_load_si128((const __m128i *)buf)); }
static inline void vf_store_part(float *p, vf v, size_t k)
{
    __m128 lo = _mm256_castps256_ps128(v);
    if (k < 4) {
        if (k)
            sse_store_part(p, lo, k);
        return;
    }
    _mm_storeu_ps(p, lo);
    if (k > 4)
        sse_store_part(p + 4, _mm256_extractf128_ps(v, 1), k - 4);
}

static inline vd vd_zero(void) { return _mm256_setzero_pd(); }
/* The lanes of v in double, pairwise summed down to the width of a vd. */
static inline vd vd_from_vf(vf v)
{
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    return _mm256_add_pd(lo, hi);
}
static inline vd vd_add(vd a, vd b) { return _mm256_add_pd(a, b); }
static inline double vd_sum(vd v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(s) + _mm_cvtsd_f64(_mm_unpackhi_pd(s, s));
}
static inline float vf_reduce_add(vf v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}
/* The largest lane, by halves (no lane is NaN, so the order does not matter). */
static inline float vf_reduce_max(vf v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
}
