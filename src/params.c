/* SPDX-License-Identifier: MIT */
/*
 * norm_params_init: norm_params_default() as an exported function, for callers that cannot
 * compile the header's inline function (FFI bindings such as Python's ctypes). It is the
 * inline function itself, so the two cannot disagree; struct_size is this library's
 * sizeof(norm_params).
 */
#include "norm.h"

void norm_params_init(norm_params *p, norm_kind kind)
{
    if (p)
        *p = norm_params_default(kind);
}
