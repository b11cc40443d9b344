/* AArch64 Advanced SIMD: 4 f32 lanes, fused multiply-add, 32 registers. */
#if !defined(__ARM_NEON) || !defined(__aarch64__)
#  error "vec_neon.h needs AArch64 Advanced SIMD"
#endif
#include <arm_neon.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sleef.h>

#define NORM_SUFFIX neon
#define NORM_HAS_FMA 1 /* vf_fmadd rounds once */
#define NORM_HAS_RSQRT14 0
#define NORM_W 4
#define NORM_UNROLL 8
#define NORM_ALIGN 16

typedef float32x4_t vf;
typedef float64x2_t vd;

/* Makes v a register value the compiler cannot trace back to its load (see NORM_ACCUMULATE). */
static inline vf vf_pin(vf v)
{
    __asm__("" : "+w"(v));
    return v;
}
static inline vf vf_zero(void) { return vdupq_n_f32(0.0f); }
static inline vf vf_set1(float v) { return vdupq_n_f32(v); }
static inline vf vf_load(const float *p) { return vld1q_f32(p); }
static inline void vf_store(float *p, vf v) { vst1q_f32(p, v); }
/* AArch64 has only pair-wise non-temporal stores (STNP); a plain store is what memcpy uses too. */
static inline void vf_stream(float *p, vf v) { vst1q_f32(p, v); }
static inline void vf_stream_fence(void) {}
static inline vf vf_add(vf a, vf b) { return vaddq_f32(a, b); }
static inline vf vf_sub(vf a, vf b) { return vsubq_f32(a, b); }
static inline vf vf_mul(vf a, vf b) { return vmulq_f32(a, b); }
static inline vf vf_fmadd(vf a, vf b, vf c) { return vfmaq_f32(c, a, b); }
static inline vf vf_abs(vf v) { return vabsq_f32(v); }
/* max(acc, v), a NaN in v leaving acc (fmaxnm returns the number). */
static inline vf vf_max_num(vf acc, vf v) { return vmaxnmq_f32(acc, v); }
static inline vf vf_exp(vf v) { return Sleef_expf4_u10advsimd(v); }
/* 1 / d for d in [1, 2] (a true division: AArch64's is fast enough here). */
static inline vf vf_recip_1_2(vf d) { return vdivq_f32(vdupq_n_f32(1.0f), d); }
/* z >= 0 ? a : b, lane by lane (NaN z gives b). */
static inline vf vf_select_nonneg(vf z, vf a, vf b) { return vbslq_f32(vcgezq_f32(z), a, b); }

/* int8 from values already scaled: clamped to [-127, 127], rounded to nearest even (fcvtns,
 * which also takes NaN to 0). Four bytes, in the low lanes. */
static inline int8x8_t cvt_to_i8(vf v)
{
    v = vminq_f32(vmaxq_f32(v, vdupq_n_f32(-127.0f)), vdupq_n_f32(127.0f));
    int16x4_t w = vqmovn_s32(vcvtnq_s32_f32(v));
    return vqmovn_s16(vcombine_s16(w, w));
}
static inline void vf_store_i8(int8_t *p, vf v)
{
    int32_t bytes = vget_lane_s32(vreinterpret_s32_s8(cvt_to_i8(v)), 0);
    memcpy(p, &bytes, sizeof bytes);
}
static inline void vf_store_i8_part(int8_t *p, vf v, size_t k)
{
    int8x8_t b = cvt_to_i8(v);
    vst1_lane_s8(p, b, 0);
    if (k > 1)
        vst1_lane_s8(p + 1, b, 1);
    if (k > 2)
        vst1_lane_s8(p + 2, b, 2);
}

/* Tails of 1 to 3 elements, a lane at a time so nothing past the row is touched. */
/* The first k (< NORM_W) elements of p; the other lanes are zero. */
static inline vf vf_load_part(const float *p, size_t k)
{
    vf v = vld1q_lane_f32(p, vdupq_n_f32(0.0f), 0);
    if (k > 1)
        v = vld1q_lane_f32(p + 1, v, 1);
    if (k > 2)
        v = vld1q_lane_f32(p + 2, v, 2);
    return v;
}
/* v with the lanes from k on set to zero. */
static inline vf vf_keep_first(vf v, size_t k)
{
    static const uint32_t keep[8] = { ~0u, ~0u, ~0u, ~0u, 0, 0, 0, 0 };
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), vld1q_u32(keep + 4 - k)));
}
/* AArch64's non-temporal stores are pair stores (STNP); a plain store, as memcpy uses. */
static inline void vh_stream(uint16_t *p, const uint16_t *buf) { vst1_u16(p, vld1_u16(buf)); }
static inline void vf_store_part(float *p, vf v, size_t k)
{
    vst1q_lane_f32(p, v, 0);
    if (k > 1)
        vst1q_lane_f32(p + 1, v, 1);
    if (k > 2)
        vst1q_lane_f32(p + 2, v, 2);
}

static inline vd vd_zero(void) { return vdupq_n_f64(0.0); }
/* The lanes of v in double, pairwise summed down to the width of a vd. */
static inline vd vd_from_vf(vf v) { return vaddq_f64(vcvt_f64_f32(vget_low_f32(v)), vcvt_high_f64_f32(v)); }
static inline vd vd_add(vd a, vd b) { return vaddq_f64(a, b); }
static inline double vd_sum(vd v) { return vaddvq_f64(v); }
static inline float vf_reduce_add(vf v) { return vaddvq_f32(v); }
/* The largest lane (no lane is NaN). */
static inline float vf_reduce_max(vf v) { return vmaxvq_f32(v); }
