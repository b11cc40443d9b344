/* SPDX-License-Identifier: MIT */
/* examples/meson-parent: a program of a project that builds libnorm as a subproject. */
#include <math.h>
#include <stdio.h>

#include <norm.h>

int main(void)
{
    float x[6] = {1, 2, 3, 4, 5, 6}, y[6];
    norm_status s = norm_rmsnorm_f32(y, x, NULL, NULL, 2, 3, 0.0f);  /* two rows of three */
    /* Row 0: rms = sqrt(14/3), so y[1] = 2 / sqrt(14/3). */
    int ok = s == NORM_OK && fabsf(y[1] - 2.0f / sqrtf(14.0f / 3.0f)) <= 1e-6f;
    printf("libnorm %s as a Meson subproject (%s): y = %.6f %.6f %.6f | %.6f %.6f %.6f: %s\n",
           norm_version_string(), norm_active_isa_name(), y[0], y[1], y[2], y[3], y[4], y[5],
           ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
