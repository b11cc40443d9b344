/* f16/bf16 <-> f32 bulk conversion for AArch64 NEON: the shared loops over this ISA's conversions. */
#include "vec_neon.h"
#include "cvt_neon.h"
#include "convert_body.h"
