/* AVX-512F: 16 f32 lanes; tails use masked loads and stores, which never touch masked-off memory. */
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#ifndef NORM_SUFFIX
#  define NORM_SUFFIX avx512
#endif
#define NORM_HAS_FMA 1 /* vf_fmadd rounds once */
#define NORM_W 16
#define NORM_UNROLL 4
#define NORM_ALIGN 64

typedef __m512 vf;
typedef __m512d vd;

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
/* The first k (< NORM_W) elements of p; the other lanes are zero. */
static inline vf vf_load_part(const float *p, size_t k) { return _mm512_maskz_loadu_ps(tail_mask(k), p); }
static inline void vf_store_part(float *p, vf v, size_t k) { _mm512_mask_storeu_ps(p, tail_mask(k), v); }
/* v with the lanes from k on set to zero. */
static inline vf vf_keep_first(vf v, size_t k) { return _mm512_maskz_mov_ps(tail_mask(k), v); }
/* A non-temporal store of NORM_W 16-bit values from an aligned buffer to p (32-byte aligned). */
static inline void vh_stream(uint16_t *p, const uint16_t *buf) { _mm256_stream_si256((__m256i *)p, _mm256_load_si256((const __m256i *)buf)); }

static inline vd vd_zero(void) { return _mm512_setzero_pd(); }
static inline vd vd_add_vf(vd acc, vf v)
{
    __m256 lo = _mm512_castps512_ps256(v);
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    return _mm512_add_pd(acc, _mm512_add_pd(_mm512_cvtps_pd(lo), _mm512_cvtps_pd(hi)));
}
static inline double vd_sum(vd v) { return _mm512_reduce_add_pd(v); }
