/*
 * Contract primitives (vec_contract.h) written once for fixed-width ISAs, through a buffer of
 * NORM_W lanes in L1: none of them is on a hot path (once per row, or one vector per
 * row). A length-agnostic ISA cannot use this file (its lane count is not a
 * constant) and writes these itself. Included at the end of each fixed-width cvt_<isa>.h,
 * after vh_stream (vec_<isa>.h) and the f16/bf16 conversions.
 */
#ifndef NORM_SIMD_VEC_FIXED_H
#define NORM_SIMD_VEC_FIXED_H

/* Non-temporal stores of NORM_W half values to p (NORM_ALIGN / 2-aligned): narrowed into an
 * aligned buffer first (the store and the reload stay in L1), then streamed. */
static inline __attribute__((always_inline)) void vf_stream_f16(uint16_t *p, vf v)
{
    _Alignas(NORM_ALIGN) uint16_t narrow[NORM_W];
    vf_store_f16(narrow, v);
    vh_stream(p, narrow);
}

static inline __attribute__((always_inline)) void vf_stream_bf16(uint16_t *p, vf v)
{
    _Alignas(NORM_ALIGN) uint16_t narrow[NORM_W];
    vf_store_bf16(narrow, v);
    vh_stream(p, narrow);
}

/* v rounded to f16 or bf16 and widened back. */
static inline __attribute__((always_inline)) vf vf_round_f16(vf v)
{
    _Alignas(NORM_ALIGN) uint16_t h[NORM_W];
    vf_store_f16(h, v);
    return vf_load_f16(h);
}

static inline __attribute__((always_inline)) vf vf_round_bf16(vf v)
{
    _Alignas(NORM_ALIGN) uint16_t h[NORM_W];
    vf_store_bf16(h, v);
    return vf_widen_bf16(h);
}

#endif
