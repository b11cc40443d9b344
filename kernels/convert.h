/*
 * Bulk f16/bf16 <-> f32 conversion, one set per ISA (kernels/<arch>/convert_<isa>.c, over
 * kernels/simd/cvt_<isa>.h) plus the scalar one over kernels/scalar/half.h, the oracle.
 * Every variant gives the same bits for every input (rules: kernels/scalar/half.h); each
 * handles any n (0 included) and any element alignment, and touches only src[0..n) and
 * dst[0..n). The caller checks that the CPU supports the ISA (norm_variant_supported, in
 * src/dispatch.h). Only the tests call them, so they are not in libnorm: tests/convert/meson.build
 * builds them into static libraries of the tests' own, one per ISA with that ISA's flags.
 */
#ifndef NORM_CONVERT_H
#define NORM_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "isa_list.h"
#include "kernels.h"

#define NORM_DECLARE_CONVERTERS(isa)                                                          \
    NORM_INTERNAL void norm_cvt_f16_to_f32_##isa(float *dst, const uint16_t *src, size_t n);  \
    NORM_INTERNAL void norm_cvt_f32_to_f16_##isa(uint16_t *dst, const float *src, size_t n);  \
    NORM_INTERNAL void norm_cvt_bf16_to_f32_##isa(float *dst, const uint16_t *src, size_t n); \
    NORM_INTERNAL void norm_cvt_f32_to_bf16_##isa(uint16_t *dst, const float *src, size_t n)

/* For the tests: the whole vector vf_load_f16_part (bf16 = 0) or vf_load_bf16_part
 * (bf16 = 1) returns for src[0..k), k < NORM_W, stored to lanes[0..NORM_W); returns NORM_W. */
#define NORM_DECLARE_CONVERT_PROBE(isa) \
    NORM_INTERNAL size_t norm_cvt_load_part_probe_##isa(float *lanes, const uint16_t *src, size_t k, int bf16)

/* For every entry of the ISA list (src/isa_list.h), scalar included; the probe for every
 * SIMD entry of this architecture. avx512bf16 is avx512 with vcvtneps2bf16 (AVX512_BF16). */
#define NORM_DECLARE_CVT_ENTRY(name, NAME, x, arch, pred) \
    NORM_DECLARE_CONVERTERS(name);                        \
    NORM_IF(NORM_SIMD_##arch, NORM_DECLARE_CONVERT_PROBE(name);)
NORM_ISA_LIST(NORM_DECLARE_CVT_ENTRY, NORM_DECLARE_CVT_ENTRY)
#undef NORM_DECLARE_CVT_ENTRY

#endif /* NORM_CONVERT_H */
