/* f32 RMSNorm and LayerNorm for AVX2: the shared algorithm over this ISA's vector layer. */
#include "vec_avx2.h"
#include "norm_f32_body.h"
