/* Bulk f16/bf16 <-> f32 conversion, one element at a time with the oracle (half.h). */
#include "convert.h"
#include "half.h"

void norm_cvt_f16_to_f32_scalar(float *dst, const uint16_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = norm_f16_to_f32(src[i]);
}

void norm_cvt_f32_to_f16_scalar(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = norm_f32_to_f16(src[i]);
}

void norm_cvt_bf16_to_f32_scalar(float *dst, const uint16_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = norm_bf16_to_f32(src[i]);
}

void norm_cvt_f32_to_bf16_scalar(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = norm_f32_to_bf16(src[i]);
}
