/*
 * f16/bf16 <-> f32 for AArch64 Advanced SIMD (4 lanes), included after vec_neon.h.
 *
 * f16 uses FCVTL/FCVTN (vcvt_f32_f16/vcvt_f16_f32, baseline AArch64), which round and
 * handle subnormals per IEEE under the FPCR (round to nearest even and FZ = 0 by default,
 * as the f32 kernels also assume), and with DN = 0 (the default) quiet NaNs keeping their
 * sign and top payload bits: the rule kernels/scalar/half.h adopts. bf16 is integer
 * arithmetic on the bit patterns (the optional BF16 extension is not assumed).
 * Tails go through a stack buffer.
 */
#ifndef NORM_W
#  error "include vec_neon.h before cvt_neon.h"
#endif
#include <stdint.h>

static inline __attribute__((always_inline)) vf vf_load_f16(const uint16_t *p)
{
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

static inline __attribute__((always_inline)) void vf_store_f16(uint16_t *p, vf v)
{
    vst1_u16(p, vreinterpret_u16_f16(vcvt_f16_f32(v)));
}

static inline __attribute__((always_inline)) uint32x4_t cvt_is_nan(uint32x4_t u)
{
    return vcgtq_u32(vandq_u32(u, vdupq_n_u32(0x7fffffff)), vdupq_n_u32(0x7f800000));
}

static inline __attribute__((always_inline)) vf vf_load_bf16(const uint16_t *p)
{
    const uint32x4_t u = vshll_n_u16(vld1_u16(p), 16);
    return vreinterpretq_f32_u32(vorrq_u32(u, vandq_u32(cvt_is_nan(u), vdupq_n_u32(0x00400000))));
}

/* bf16 -> f32 for arithmetic: exact, but a signalling NaN stays signalling (no quieting).
 * The kernels use it because any NaN input gives NaN results (and sends its row to the
 * scalar path) anyway; the quieting above costs two more instructions per load. */
static inline __attribute__((always_inline)) vf vf_widen_bf16(const uint16_t *p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }

static inline __attribute__((always_inline)) void vf_store_bf16(uint16_t *p, vf v)
{
    const uint32x4_t u = vreinterpretq_u32_f32(v);
    /* Round the 16 dropped bits to nearest even with one add, keeping the high halves
     * (ADDHN); the carries reach Inf correctly. */
    const uint32x4_t bias = vaddq_u32(vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1)), vdupq_n_u32(0x7fff));
    const uint16x4_t rounded = vaddhn_u32(u, bias);
    const uint16x4_t nan = vorr_u16(vshrn_n_u32(u, 16), vdup_n_u16(0x0040));
    vst1_u16(p, vbsl_u16(vmovn_u32(cvt_is_nan(u)), nan, rounded));
}

/* No bf16 pairs or dot products: bf16 rows are widened a vector at a time. */
#define NORM_BF16_PAIRS 0
#define NORM_BF16_DOT 0

#include "cvt_part_generic.h"
#include "vec_fixed.h"
