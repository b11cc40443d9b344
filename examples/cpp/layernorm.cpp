// SPDX-License-Identifier: MIT
// libnorm from C++: LayerNorm of bf16 activations with f32 weights into f32 output, and the
// per-row statistics, through norm_run() and std::vector; checked against a double loop.
//
//   c++ -std=c++17 layernorm.cpp $(pkg-config --cflags --libs norm) -o layernorm && ./layernorm
#include <norm.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

namespace {

std::uint16_t to_bf16(float f)  // round to nearest even (finite values)
{
    std::uint32_t b;
    std::memcpy(&b, &f, sizeof b);
    return static_cast<std::uint16_t>((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}

float from_bf16(std::uint16_t h)
{
    std::uint32_t b = static_cast<std::uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &b, sizeof f);
    return f;
}

}  // namespace

int main()
{
    const std::size_t rows = 16, n = 768;
    const float eps = 1e-5f;
    std::mt19937 gen(42);
    std::normal_distribution<float> dist(2.0f, 3.0f);

    std::vector<std::uint16_t> x(rows * n);
    for (auto &v : x)
        v = to_bf16(dist(gen));
    std::vector<float> gamma(n), beta(n), y(rows * n), mean(rows), rstd(rows);
    for (std::size_t i = 0; i < n; i++) {
        gamma[i] = 1.0f + 0.001f * static_cast<float>(i);
        beta[i] = 0.01f * static_cast<float>(i % 7);
    }

    norm_params p = norm_params_default(NORM_LAYERNORM);
    p.rows = rows;
    p.n = n;
    p.eps = eps;
    p.x = x.data();
    p.x_type = NORM_BF16;
    p.y = y.data();
    p.y_type = NORM_F32;
    p.gamma = gamma.data();
    p.beta = beta.data();
    p.param_type = NORM_F32;
    p.mean = mean.data();
    p.rstd = rstd.data();
    if (norm_status s = norm_run(&p)) {
        std::fprintf(stderr, "norm_run: %s\n", norm_status_string(s));
        return 1;
    }

    double worst = 0.0, worst_mean = 0.0;
    for (std::size_t r = 0; r < rows; r++) {
        double sum = 0.0, sq = 0.0;
        for (std::size_t i = 0; i < n; i++)
            sum += from_bf16(x[r * n + i]);
        const double m = sum / static_cast<double>(n);
        for (std::size_t i = 0; i < n; i++)
            sq += (from_bf16(x[r * n + i]) - m) * (from_bf16(x[r * n + i]) - m);
        const double s = 1.0 / std::sqrt(sq / static_cast<double>(n) + eps);
        worst_mean = std::fmax(worst_mean, std::fabs(mean[r] - m));
        for (std::size_t i = 0; i < n; i++) {
            const double ref = (from_bf16(x[r * n + i]) - m) * s * gamma[i] + beta[i];
            worst = std::fmax(worst, std::fabs(y[r * n + i] - ref));
        }
    }
    std::printf("libnorm %s (%s): bf16 LayerNorm %zux%zu, max |y - ref| = %.3g, max |mean - ref| = %.3g\n",
                norm_version_string(), norm_active_isa_name(), rows, n, worst, worst_mean);
    const bool ok = worst < 1e-5 && worst_mean < 1e-5;
    std::printf("%s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
