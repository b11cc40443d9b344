/* f16/bf16 <-> f32 bulk conversion for SSE2: the shared loops over this ISA's conversions. */
#include "vec_sse2.h"
#include "cvt_sse2.h"
#include "convert_body.h"
