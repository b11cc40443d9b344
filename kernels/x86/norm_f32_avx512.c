/* f32 RMSNorm and LayerNorm for AVX-512F: the shared algorithm over this ISA's vector layer. */
#include "vec_avx512.h"
#include "norm_f32_body.h"
