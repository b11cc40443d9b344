/* f32 RMSNorm and LayerNorm for SSE2: the shared algorithm over this ISA's vector layer. */
#include "vec_sse2.h"
#include "norm_f32_body.h"
