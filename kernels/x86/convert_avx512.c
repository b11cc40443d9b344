/* f16/bf16 <-> f32 bulk conversion for AVX-512F: the shared loops over this ISA's conversions. */
#include "vec_avx512.h"
#include "cvt_avx512.h"
#include "convert_body.h"
