/* RMSNorm and LayerNorm for AVX-512F: the shared algorithm over this ISA's vector layer, for
 * every combination of f32, f16 and bf16 rows. */
#include "vec_avx512.h"
#include "cvt_avx512.h"
#include "norm_body.h"

NORM_INSTANTIATE(NORM_ALL_TYPES, NORM_MOMENTS_TYPES)
