/* f32 RMSNorm and LayerNorm for AArch64 NEON: the shared algorithm over this ISA's vector layer. */
#include "vec_neon.h"
#include "norm_f32_body.h"
