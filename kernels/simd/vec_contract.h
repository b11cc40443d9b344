/*
 * The vector layer's contract: what an ISA's vec_<isa>.h and cvt_<isa>.h must provide for the
 * shared algorithm (norm_body.h and the headers it includes), and nothing else the algorithm
 * may use. norm_body.h includes this file right after the ISA's headers; it fails to compile
 * if a capability is missing or not 0/1, or if a primitive is missing or has another type
 * (norm_vec_contract, below, takes the address of each one with its expected type).
 *
 * Types
 *   vf         NORM_W f32 lanes          vd        f64 lanes (the sums' folds; any count)
 *   vh_pairs   2 * NORM_W bf16 values, only where NORM_BF16_PAIRS
 *
 * Constants (integer constant expressions, except NORM_W, which a length-agnostic ISA may
 * define as a run-time expression: the algorithm sizes no array by it)
 *   NORM_SUFFIX  the name appended to the ISA's symbols
 *   NORM_W       lanes of a vf
 *   NORM_UNROLL  accumulators of the sums, 4 or 8 (unroll.h)
 *   NORM_ALIGN   bytes of a vf, the alignment streaming stores want
 *
 * Capabilities, each defined 0 or 1 and tested with #if
 *   NORM_HAS_FMA      vf_fmadd rounds once (else it is a multiply then an add)
 *   NORM_HAS_RSQRT14  vd_rsqrt14: 1/sqrt(v) within 2^-14, for normal doubles
 *   NORM_BF16_PAIRS   vh_pairs and its operations: bf16 rows as even and odd halves
 *   NORM_BF16_DOT     vf_dot_pairs: a bf16 dot product into f32 lanes (needs the pairs)
 *
 * Primitives, every one static inline; "part" ones take 0 < k < NORM_W elements and touch
 * no memory past them, and the lanes they load beyond k are +0.0f.
 *   vf_zero vf_set1 vf_load vf_store vf_load_part vf_store_part vf_stream vf_stream_fence
 *   vf_add vf_sub vf_mul vf_fmadd vf_abs vf_max_num(acc, v: acc where v is NaN)
 *   vf_keep_first(v, k: lanes from k zero) vf_select_nonneg(z, a, b: z >= 0 ? a : b, NaN z b)
 *   vf_recip_1_2(1/d for d in [1, 2], about 2^-28) vf_exp(SLEEF, 1 ulp) vf_pin(a barrier)
 *   vf_reduce_max(the largest lane; lanes are neither NaN nor -0, so any order of comparisons)
 *   vf_reduce_add(the lanes summed in f32, in an order of the ISA's choosing; a shift's estimate)
 *   vf_store_i8 vf_store_i8_part (round to nearest even, clamp to [-127, 127], NaN to 0)
 *   vf_load_f16 vf_load_f16_part vf_store_f16 vf_store_f16_part vf_stream_f16 vf_round_f16
 *   vf_load_bf16 vf_widen_bf16 vf_load_bf16_part vf_store_bf16 vf_store_bf16_part
 *   vf_stream_bf16 vf_round_bf16 (bit for bit as kernels/scalar/half.h, NaNs included;
 *   vf_widen_bf16 and vf_round_bf16 may leave a signalling NaN signalling; round = narrow,
 *   then widen)
 *   vd_zero vd_from_vf(pairwise sums of the lanes in f64) vd_add vd_sum
 * With NORM_BF16_PAIRS: vh_load_pairs vh_store vh_pack_pairs vf_bf16_even vf_bf16_odd
 *   vf_load_f32_pairs; with NORM_BF16_DOT: vh_ones vf_dot_pairs.
 * tests/vec_primitives.c checks each of them on every ISA this CPU runs.
 */
#ifndef NORM_SIMD_VEC_CONTRACT_H
#define NORM_SIMD_VEC_CONTRACT_H

#include <stddef.h>
#include <stdint.h>

#if !defined(NORM_SUFFIX) || !defined(NORM_W) || !defined(NORM_UNROLL) || !defined(NORM_ALIGN)
#  error "the vector layer must define NORM_SUFFIX, NORM_W, NORM_UNROLL and NORM_ALIGN"
#endif
#if NORM_UNROLL != 4 && NORM_UNROLL != 8
#  error "NORM_UNROLL must be 4 or 8 (unroll.h)"
#endif
#if !defined(NORM_HAS_FMA) || (NORM_HAS_FMA != 0 && NORM_HAS_FMA != 1)
#  error "NORM_HAS_FMA must be defined 0 or 1"
#endif
#if !defined(NORM_HAS_RSQRT14) || (NORM_HAS_RSQRT14 != 0 && NORM_HAS_RSQRT14 != 1)
#  error "NORM_HAS_RSQRT14 must be defined 0 or 1"
#endif
#if !defined(NORM_BF16_PAIRS) || (NORM_BF16_PAIRS != 0 && NORM_BF16_PAIRS != 1)
#  error "NORM_BF16_PAIRS must be defined 0 or 1"
#endif
#if !defined(NORM_BF16_DOT) || (NORM_BF16_DOT != 0 && NORM_BF16_DOT != 1)
#  error "NORM_BF16_DOT must be defined 0 or 1"
#endif
#if NORM_BF16_DOT && !NORM_BF16_PAIRS
#  error "NORM_BF16_DOT needs NORM_BF16_PAIRS"
#endif

/* Each primitive with the type the algorithm expects: a missing one, or one of another type,
 * does not compile. Never called. */
static __attribute__((unused)) void norm_vec_contract(void)
{
#define NORM_EXPECT(name, type) { __typeof__(type) p_ = name; (void)p_; }
    NORM_EXPECT(vf_zero, vf (*)(void))
    NORM_EXPECT(vf_set1, vf (*)(float))
    NORM_EXPECT(vf_load, vf (*)(const float *))
    NORM_EXPECT(vf_store, void (*)(float *, vf))
    NORM_EXPECT(vf_load_part, vf (*)(const float *, size_t))
    NORM_EXPECT(vf_store_part, void (*)(float *, vf, size_t))
    NORM_EXPECT(vf_stream, void (*)(float *, vf))
    NORM_EXPECT(vf_stream_fence, void (*)(void))
    NORM_EXPECT(vf_add, vf (*)(vf, vf))
    NORM_EXPECT(vf_sub, vf (*)(vf, vf))
    NORM_EXPECT(vf_mul, vf (*)(vf, vf))
    NORM_EXPECT(vf_fmadd, vf (*)(vf, vf, vf))
    NORM_EXPECT(vf_abs, vf (*)(vf))
    NORM_EXPECT(vf_max_num, vf (*)(vf, vf))
    NORM_EXPECT(vf_keep_first, vf (*)(vf, size_t))
    NORM_EXPECT(vf_select_nonneg, vf (*)(vf, vf, vf))
    NORM_EXPECT(vf_recip_1_2, vf (*)(vf))
    NORM_EXPECT(vf_exp, vf (*)(vf))
    NORM_EXPECT(vf_pin, vf (*)(vf))
    NORM_EXPECT(vf_reduce_max, float (*)(vf))
    NORM_EXPECT(vf_reduce_add, float (*)(vf))
    NORM_EXPECT(vf_store_i8, void (*)(int8_t *, vf))
    NORM_EXPECT(vf_store_i8_part, void (*)(int8_t *, vf, size_t))
    NORM_EXPECT(vf_load_f16, vf (*)(const uint16_t *))
    NORM_EXPECT(vf_load_f16_part, vf (*)(const uint16_t *, size_t))
    NORM_EXPECT(vf_store_f16, void (*)(uint16_t *, vf))
    NORM_EXPECT(vf_store_f16_part, void (*)(uint16_t *, vf, size_t))
    NORM_EXPECT(vf_stream_f16, void (*)(uint16_t *, vf))
    NORM_EXPECT(vf_round_f16, vf (*)(vf))
    NORM_EXPECT(vf_load_bf16, vf (*)(const uint16_t *))
    NORM_EXPECT(vf_widen_bf16, vf (*)(const uint16_t *))
    NORM_EXPECT(vf_load_bf16_part, vf (*)(const uint16_t *, size_t))
    NORM_EXPECT(vf_store_bf16, void (*)(uint16_t *, vf))
    NORM_EXPECT(vf_store_bf16_part, void (*)(uint16_t *, vf, size_t))
    NORM_EXPECT(vf_stream_bf16, void (*)(uint16_t *, vf))
    NORM_EXPECT(vf_round_bf16, vf (*)(vf))
    NORM_EXPECT(vd_zero, vd (*)(void))
    NORM_EXPECT(vd_from_vf, vd (*)(vf))
    NORM_EXPECT(vd_add, vd (*)(vd, vd))
    NORM_EXPECT(vd_sum, double (*)(vd))
#if NORM_HAS_RSQRT14
    NORM_EXPECT(vd_rsqrt14, double (*)(double))
#endif
#if NORM_BF16_PAIRS
    NORM_EXPECT(vh_load_pairs, vh_pairs (*)(const uint16_t *))
    NORM_EXPECT(vh_store, void (*)(uint16_t *, vh_pairs))
    NORM_EXPECT(vh_pack_pairs, vh_pairs (*)(vf, vf))
    NORM_EXPECT(vf_bf16_even, vf (*)(vh_pairs))
    NORM_EXPECT(vf_bf16_odd, vf (*)(vh_pairs))
    NORM_EXPECT(vf_load_f32_pairs, void (*)(const float *, vf *, vf *))
#endif
#if NORM_BF16_DOT
    NORM_EXPECT(vh_ones, vh_pairs (*)(void))
    NORM_EXPECT(vf_dot_pairs, vf (*)(vf, vh_pairs, vh_pairs))
#endif
#undef NORM_EXPECT
}

#endif
