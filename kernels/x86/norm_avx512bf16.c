/* AVX-512 kernels that store bf16 with vcvtneps2bf16 (AVX512_BF16) instead of integer
 * rounding: overlaid on the plain AVX-512 table when the CPU has the instruction. */
#define NORM_SUFFIX avx512bf16
#define NORM_AVX512_BF16 1
#include "vec_avx512.h"
#include "cvt_avx512.h"
#include "norm_body.h"

NORM_INSTANTIATE(NORM_BF16_OUT_TYPES, NORM_NO_MOMENTS)
