// The public header from C++: it must compile warning-free at -Wall -Wextra -pedantic
// (meson.build adds -Werror for this file) and link against the C library as is.
#include <norm.h>

#include <cmath>
#include <cstdio>

int main()
{
    float x[4] = { 40000.0f, 40001.0f, 40002.0f, 40003.0f }, y[4];
    norm_params p = norm_params_default(NORM_LAYERNORM);
    p.rows = 1;
    p.n = 4;
    p.eps = 0.0f;
    p.x = x;
    p.y = y;
    norm_status s = norm_run(&p);
    if (s != NORM_OK || std::fabs(y[0] + 1.3416408f) > 1e-6f || std::fabs(y[3] - 1.3416408f) > 1e-6f) {
        std::printf("header_cxx: %s, y = %g %g %g %g\n", norm_status_string(s), y[0], y[1], y[2], y[3]);
        return 1;
    }
    std::printf("header_cxx: norm.h works from C++ (%s)\n", norm_active_isa_name());
    return 0;
}
