/* RMSNorm and LayerNorm for AArch64 NEON: the shared algorithm over this ISA's vector layer,
 * for every combination of f32, f16 and bf16 rows. */
#include "vec_neon.h"
#include "cvt_neon.h"
#include "norm_body.h"

NORM_INSTANTIATE(NORM_ALL_TYPES, NORM_MOMENTS_TYPES)
