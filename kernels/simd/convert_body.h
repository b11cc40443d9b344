/*
 * The bulk f16/bf16 <-> f32 converters, written once over vec_<isa>.h and cvt_<isa>.h
 * (included before this file); each kernels/<arch>/convert_<isa>.c is just the includes.
 * Whole vectors, then one partial vector for the n % NORM_W tail: no scalar loop, and
 * nothing outside src[0..n) or dst[0..n) is touched.
 */
#include <stdint.h>

#include "convert.h"

#define NORM_CVT_CAT_(a, b) a##_##b
#define NORM_CVT_CAT(a, b) NORM_CVT_CAT_(a, b)
#define NORM_CVT_FN(name) NORM_CVT_CAT(name, NORM_SUFFIX)

void NORM_CVT_FN(norm_cvt_f16_to_f32)(float *dst, const uint16_t *src, size_t n)
{
    size_t i = 0;
    for (; i + NORM_W <= n; i += NORM_W)
        vf_store(dst + i, vf_load_f16(src + i));
    if (i < n)
        vf_store_part(dst + i, vf_load_f16_part(src + i, n - i), n - i);
}

void NORM_CVT_FN(norm_cvt_f32_to_f16)(uint16_t *dst, const float *src, size_t n)
{
    size_t i = 0;
    for (; i + NORM_W <= n; i += NORM_W)
        vf_store_f16(dst + i, vf_load(src + i));
    if (i < n)
        vf_store_f16_part(dst + i, vf_load_part(src + i, n - i), n - i);
}

void NORM_CVT_FN(norm_cvt_bf16_to_f32)(float *dst, const uint16_t *src, size_t n)
{
    size_t i = 0;
    for (; i + NORM_W <= n; i += NORM_W)
        vf_store(dst + i, vf_load_bf16(src + i));
    if (i < n)
        vf_store_part(dst + i, vf_load_bf16_part(src + i, n - i), n - i);
}

void NORM_CVT_FN(norm_cvt_f32_to_bf16)(uint16_t *dst, const float *src, size_t n)
{
    size_t i = 0;
    for (; i + NORM_W <= n; i += NORM_W)
        vf_store_bf16(dst + i, vf_load(src + i));
    if (i < n)
        vf_store_bf16_part(dst + i, vf_load_part(src + i, n - i), n - i);
}

size_t NORM_CVT_FN(norm_cvt_load_part_probe)(float *lanes, const uint16_t *src, size_t k, int bf16)
{
    vf_store(lanes, bf16 ? vf_load_bf16_part(src, k) : vf_load_f16_part(src, k));
    return NORM_W;
}
