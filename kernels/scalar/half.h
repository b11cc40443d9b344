/*
 * Half-precision conversions, one value at a time: the oracle every SIMD tier's
 * conversions (kernels/simd/cvt_<isa>.h) must match bit for bit.
 *
 *   f16  IEEE binary16: 1 sign, 5 exponent, 10 fraction bits (max 65504, subnormals to 2^-24)
 *   bf16 bfloat16: the top 16 bits of an f32 (1 sign, 8 exponent, 7 fraction bits)
 *
 * Plain C on the bit patterns (no _Float16, no intrinsics), so the answer does not depend on
 * the compiler, the FPU or the floating-point environment. The only floating-point
 * operations (in norm_f16_to_f32, for f16 subnormals) are exact on normal numbers, so the
 * rounding mode and flush-to-zero/denormals-are-zero modes cannot change them.
 *
 * Rules, identical in every tier:
 *   - f32 -> f16/bf16 rounds to nearest, ties to even. f32 -> f16 overflows to +-Inf from
 *     65520 (65504 + half an ulp) up; f32 values round into, within and out of the f16
 *     subnormal range exactly (down to the smallest subnormal 2^-24, and to signed zero
 *     at or below 2^-25). f32 -> bf16 keeps f32 subnormals as bf16 subnormals (correctly
 *     rounded, never flushed) and overflows to +-Inf from 0x1.ffp127 up.
 *   - f16/bf16 -> f32 is exact (every f16 and bf16 value, subnormals included, is an f32).
 *   - +-0 and +-Inf keep their sign.
 *   - NaN: the result is a quiet NaN with the sign of the input, whose payload is the
 *     input's payload aligned at the top of the fraction: narrowing keeps the payload's
 *     high-order bits (the low 13 (f16) or 16 (bf16) bits of the f32 fraction are
 *     dropped), widening appends zero bits; then the quiet bit (the top fraction bit) is
 *     set, which also keeps a NaN whose kept payload bits are all zero from turning into
 *     Inf. This is what the hardware does: x86 F16C vcvtps2ph/vcvtph2ps and the AVX-512F
 *     forms, AVX512_BF16 vcvtneps2bf16 (which truncates and sets the quiet bit) and AArch64
 *     FCVT with the default FPCR (DN = 0: NaNs propagate, quieted, payload truncated or
 *     shifted). Signalling NaNs therefore never survive a conversion in either direction,
 *     including bf16 -> f32, which is a plain shift on every tier and quiets to match.
 *     Example: f32 0x7f800001 (sNaN, payload 1) -> f16 0x7e00, bf16 0x7fc0;
 *              f16 0xfc01 -> f32 0xffc02000; bf16 0x7f81 -> f32 0x7fc10000.
 */
#ifndef NORM_HALF_H
#define NORM_HALF_H

#include <stdint.h>
#include <string.h>

static inline uint32_t norm_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float norm_f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline float norm_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t frac = h & 0x3ffu;
    /* Normal: rebias the exponent (127 - 15 = 112) and widen the fraction. */
    uint32_t normal = ((exp + 112u) << 23) | (frac << 13);
    /* Inf, or NaN made quiet (the widened payload keeps its bits, the quiet bit is set). */
    uint32_t special = 0x7f800000u | (frac << 13) | (frac ? 0x00400000u : 0u);
    /* Zero or subnormal: frac * 2^-24, exact (frac < 2^10, the product is 0 or normal). */
    uint32_t subnormal = norm_f32_bits((float)frac * 0x1p-24f);
    uint32_t mag = exp == 0 ? subnormal : exp == 31 ? special : normal;
    return norm_f32_from_bits(sign | mag);
}

static inline uint16_t norm_f32_to_f16(float f)
{
    uint32_t u = norm_f32_bits(f);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t a = u & 0x7fffffffu;
    /* [2^-14, 65520): rebias, then round the 13 dropped bits to nearest even with one add;
     * a carry out of the fraction moves to the next binade (up to 0x7bff, never Inf). */
    uint32_t normal = (a - 0x38000000u + 0xfffu + ((a >> 13) & 1u)) >> 13;
    /* Below 2^-14: the value in units of 2^-24, rounded to nearest even. For f32 exponent
     * e (a >> 23) in [102, 112] the significand (with its implicit bit) m holds the value
     * in units of 2^(e - 150), so the result is m >> (126 - e), rounded; the 1024 that
     * rounding up from the largest subnormal can give is the smallest normal, 0x0400.
     * Below 2^-25 (e < 102, f32 subnormals included) the result is 0; exactly 2^-25 is a
     * tie that goes to the even 0 through the same formula (e = 102). */
    uint32_t e = a >> 23;
    uint32_t shift = 126u - e;
    shift = shift > 31u ? 31u : shift; /* e >= 113 lanes are not used; keep the shift defined */
    uint32_t m = (a & 0x7fffffu) | 0x800000u;
    uint32_t halfway = (1u << shift) >> 1;
    uint32_t q = m >> shift;
    uint32_t rest = m & ((1u << shift) - 1u);
    uint32_t subnormal = q + (rest > halfway || (rest == halfway && (q & 1u)));
    subnormal = e < 102u ? 0u : subnormal;
    /* NaN: quiet, keep the top 9 payload bits. */
    uint32_t nan = 0x7e00u | ((a >> 13) & 0x3ffu);
    uint32_t mag = a > 0x7f800000u ? nan
                 : a >= 0x477ff000u ? 0x7c00u   /* 65520 and up, Inf included */
                 : a >= 0x38800000u ? normal
                 : subnormal;
    return (uint16_t)(sign | mag);
}

static inline float norm_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    uint32_t quiet = (u & 0x7fffffffu) > 0x7f800000u ? 0x00400000u : 0u;
    return norm_f32_from_bits(u | quiet);
}

static inline uint16_t norm_f32_to_bf16(float f)
{
    uint32_t u = norm_f32_bits(f);
    /* Round the 16 dropped bits to nearest even with one add. The carry propagates through
     * the exponent, so subnormals round into the normals and the largest finite values
     * round to Inf, all as IEEE rounding requires; Inf stays Inf. */
    uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    /* NaN: quiet, keep the top 6 payload bits. */
    uint32_t nan = (u >> 16) | 0x0040u;
    return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

#endif /* NORM_HALF_H */
