/* SSE2: 4 f32 lanes, no FMA (a multiply then an add, each rounded). */
#if !defined(__SSE2__)
#  error "vec_sse2.h needs SSE2 (-msse2)"
#endif
#include <emmintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sleef.h>

#define NORM_SUFFIX sse2
#define NORM_HAS_FMA 0 /* vf_fmadd is a multiply, then an add */
#define NORM_HAS_RSQRT14 0
#define NORM_W 4
#define NORM_UNROLL 4
#define NORM_ALIGN 16

typedef __m128 vf;
typedef __m128d vd;

/* Makes v a register value the compiler cannot trace back to its load (see NORM_ACCUMULATE). */
static inline vf vf_pin(vf v)
{
    __asm__("" : "+x"(v));
    return v;
}
static inline vf vf_zero(void) { return _mm_setzero_ps(); }
static inline vf vf_set1(float v) { return _mm_set1_ps(v); }
static inline vf vf_load(const float *p) { return _mm_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm_storeu_ps(p, v); }
static inline void vf_stream(float *p, vf v) { _mm_stream_ps(p, v); }
static inline void vf_stream_fence(void) { _mm_sfence(); }
static inline vf vf_add(vf a, vf b) { return _mm_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm_mul_ps(a, b); }
static inline vf vf_fmadd(vf a, vf b, vf c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
static inline vf vf_abs(vf v) { return _mm_andnot_ps(_mm_set1_ps(-0.0f), v); }
/* max(acc, v), a NaN in v leaving acc (maxps returns its second operand on NaN). */
static inline vf vf_max_num(vf acc, vf v) { return _mm_max_ps(v, acc); }
static inline vf vf_exp(vf v) { return Sleef_expf4_u10sse2(v); }
/* 1 / d for d in [1, 2]: rcpps's 12 bits and one Newton step, about 2^-22 relative. */
static inline vf vf_recip_1_2(vf d)
{
    vf r = _mm_rcp_ps(d);
    return _mm_mul_ps(r, _mm_sub_ps(_mm_set1_ps(2.0f), _mm_mul_ps(d, r)));
}
/* z >= 0 ? a : b, lane by lane (NaN z gives b). */
static inline vf vf_select_nonneg(vf z, vf a, vf b)
{
    __m128 m = _mm_cmpge_ps(z, _mm_setzero_ps());
    return _mm_or_ps(_mm_and_ps(m, a), _mm_andnot_ps(m, b));
}

/* int8 from values already scaled: NaN to 0, clamped to [-127, 127], rounded to nearest even
 * (cvtps2dq under the default rounding mode). Four bytes. */
static inline __m128i cvt_to_i8(vf v)
{
    v = _mm_and_ps(v, _mm_cmpord_ps(v, v));
    v = _mm_min_ps(_mm_max_ps(v, _mm_set1_ps(-127.0f)), _mm_set1_ps(127.0f));
    __m128i w = _mm_packs_epi32(_mm_cvtps_epi32(v), _mm_setzero_si128());
    return _mm_packs_epi16(w, w);
}
static inline void vf_store_i8(int8_t *p, vf v)
{
    int32_t bytes = _mm_cvtsi128_si32(cvt_to_i8(v));
    memcpy(p, &bytes, sizeof bytes);
}
static inline void vf_store_i8_part(int8_t *p, vf v, size_t k)
{
    int32_t bytes = _mm_cvtsi128_si32(cvt_to_i8(v));
    memcpy(p, &bytes, k);
}

#include "sse_part.h"

/* The first k (< NORM_W) elements of p; the other lanes are zero. */
static inline vf vf_load_part(const float *p, size_t k) { return sse_load_part(p, k); }
static inline void vf_store_part(float *p, vf v, size_t k) { sse_store_part(p, v, k); }

/* Masks for vf_keep_first: k lanes of ones. */
static const int32_t norm_sse2_tail_table[8] = { -1, -1, -1, -1, 0, 0, 0, 0 };
/* v with the lanes from k on set to zero. */
static inline vf vf_keep_first(vf v, size_t k)
{
    return _mm_and_ps(v, _mm_castsi128_ps(_mm_loadu_si128((const __m128i *)(norm_sse2_tail_table + 4 - k))));
}
/* A non-temporal store of NORM_W 16-bit values (8 bytes) from an aligned buffer. */
static inline void vh_stream(uint16_t *p, const uint16_t *buf)
{
    long long bits;
    memcpy(&bits, buf, sizeof bits);
    _mm_stream_si64((long long *)p, bits);
}

static inline vd vd_zero(void) { return _mm_setzero_pd(); }
/* The lanes of v in double, pairwise summed down to the width of a vd. */
static inline vd vd_from_vf(vf v)
{
    __m128d lo = _mm_cvtps_pd(v);
    __m128d hi = _mm_cvtps_pd(_mm_movehl_ps(v, v));
    return _mm_add_pd(lo, hi);
}
static inline vd vd_add(vd a, vd b) { return _mm_add_pd(a, b); }
static inline double vd_sum(vd v) { return _mm_cvtsd_f64(v) + _mm_cvtsd_f64(_mm_unpackhi_pd(v, v)); }
static inline float vf_reduce_add(vf v)
{
    __m128 s = _mm_add_ps(v, _mm_movehl_ps(v, v));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}
/* The largest lane, by halves (no lane is NaN, so the order does not matter). */
static inline float vf_reduce_max(vf v)
{
    __m128 m = _mm_max_ps(v, _mm_movehl_ps(v, v));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
}
