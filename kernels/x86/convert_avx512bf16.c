/* f16/bf16 <-> f32 bulk conversion for AVX-512F with AVX512_BF16: as convert_avx512.c, but
 * f32 -> bf16 uses vcvtneps2bf16. Its own symbol suffix keeps it apart from plain avx512. */
#define NORM_AVX512_BF16 1
#include "vec_avx512.h"
#undef NORM_SUFFIX
#define NORM_SUFFIX avx512bf16
#include "cvt_avx512.h"
#include "convert_body.h"
