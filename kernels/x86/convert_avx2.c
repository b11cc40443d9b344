/* f16/bf16 <-> f32 bulk conversion for AVX2 (+F16C): the shared loops over this ISA's conversions. */
#include "vec_avx2.h"
#include "cvt_avx2.h"
#include "convert_body.h"
