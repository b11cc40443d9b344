/* SPDX-License-Identifier: MIT */
/* Built by examples/cmake/CMakeLists.txt against the imported target norm::norm. */
#include <math.h>
#include <stdio.h>

#include <norm.h>

int main(void)
{
    /* The classic LayerNorm row, eps = 0: +-1.3416408, +-0.4472136 on every tier. */
    const float x[4] = {40000.0f, 40001.0f, 40002.0f, 40003.0f};
    const float want[4] = {-1.3416408f, -0.4472136f, 0.4472136f, 1.3416408f};
    float y[4];
    norm_status s = norm_layernorm_f32(y, x, NULL, NULL, 1, 4, 0.0f);
    if (s != NORM_OK) {
        fprintf(stderr, "norm_layernorm_f32: %s\n", norm_status_string(s));
        return 1;
    }
    int ok = 1;
    for (int i = 0; i < 4; i++)
        ok &= fabsf(y[i] - want[i]) <= 1e-6f;
    printf("libnorm %s (%s) through CMake's norm::norm: y = %.7f %.7f %.7f %.7f: %s\n",
           norm_version_string(), norm_active_isa_name(), y[0], y[1], y[2], y[3], ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
