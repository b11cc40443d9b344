/*
 * Reference loops for norm-bench. Built on their own with -O3 -ffast-math (see
 * bench/meson.build): -ffast-math lets the compiler reassociate the reductions, so they
 * vectorise with the baseline ISA just as a user's loops would. No -march flag: the
 * references must run on every machine the library runs on.
 *
 * Only compiled with -ffast-math, never linked with it, so the flush-to-zero start-up code
 * that -ffast-math links in does not change the floating-point mode libnorm is timed under.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "reference.h"

/* Where the floor's sums go, so the compiler cannot drop the read pass as dead code. */
volatile float ref_sink;

/* The floor must be a true lower bound, so on x86 its two passes are compiled for every
 * vector width and the widest this CPU runs is picked at load time (GCC's target_clones).
 * The plain loops below stay at the baseline ISA, as a user's code would be. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#  define FLOOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
/* 16-bit lanes need AVX-512 BW for full-width integer vectors: x86-64-v4 is AVX-512 F+BW+DQ+VL
 * (target_clones takes no "avx512bw" on its own). */
#  define FLOOR_CLONES_16 __attribute__((target_clones("arch=x86-64-v4", "avx512f", "avx2", "default")))
#else
#  define FLOOR_CLONES
#  define FLOOR_CLONES_16
#endif

/* The read pass. 64 partial sums (four AVX-512 or eight AVX2 registers), because fewer make
 * the loop wait on the latency of the adds; with 64 it is bound by loads, as a floor should be. */
FLOOR_CLONES float ref_row_sum(const float *x, size_t n)
{
    float acc[64] = {0};
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (size_t k = 0; k < 64; k++)
            acc[k] += x[i + k];
    for (; i < n; i++)
        acc[0] += x[i];
    float s = 0.0f;
    for (size_t k = 0; k < 64; k++)
        s += acc[k];
    return s;
}

FLOOR_CLONES void ref_row_scale(float *restrict y, const float *restrict x, const float *restrict gamma, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] * gamma[i];
}

/* Row by row, like the norms: the second pass over a row finds it in L1, as theirs does. */
void ref_floor_read_scale(float *y, const float *x, const float *gamma, size_t rows, size_t n)
{
    float total = 0.0f;
    for (size_t r = 0; r < rows; r++) {
        total += ref_row_sum(x + r * n, n);
        ref_row_scale(y + r * n, x + r * n, gamma, n);
    }
    ref_sink = total;
}

/* The 16-bit read pass: a wrapping sum of the raw bit patterns in 64 lanes of 16 bits (two
 * 512-bit vectors), so the loop is vector loads and integer adds with no conversion, bound by
 * the loads. */
FLOOR_CLONES_16 uint16_t ref_row_sum_u16(const uint16_t *x, size_t n)
{
    uint16_t acc[64] = {0};
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (size_t k = 0; k < 64; k++)
            acc[k] += x[i + k];
    for (; i < n; i++)
        acc[0] += x[i];
    uint16_t s = 0;
    for (size_t k = 0; k < 64; k++)
        s += acc[k];
    return s;
}

/* y = x for 16-bit rows (the compiler may well make this a memcpy call: that is a copy too). */
FLOOR_CLONES_16 void ref_row_copy_u16(uint16_t *restrict y, const uint16_t *restrict x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i];
}

/* 16-bit x to 32-bit y: the bits on top, which is exactly bf16 -> f32 (f16 would need more). */
FLOOR_CLONES_16 void ref_row_widen_u16(uint32_t *restrict y, const uint16_t *restrict x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = (uint32_t)x[i] << 16;
}

/* f32 x to 16-bit y: the top half of the bits, which is f32 -> bf16 truncated, not rounded. */
FLOOR_CLONES_16 void ref_row_narrow_f32(uint16_t *restrict y, const float *restrict x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits); /* a plain load; no aliasing questions */
        y[i] = (uint16_t)(bits >> 16);
    }
}

/* One row's move pass for element sizes of 2 or 4 bytes (4 -> 4 is f32, floored by x*gamma). */
static void row_move(void *y, size_t y_size, const void *x, size_t x_size, size_t n)
{
    if (x_size == 2 && y_size == 2)
        ref_row_copy_u16(y, x, n);
    else if (x_size == 2)
        ref_row_widen_u16(y, x, n);
    else
        ref_row_narrow_f32(y, x, n);
}

void ref_floor_read_move(void *y, size_t y_size, const void *x, size_t x_size, size_t rows, size_t n)
{
    float total = 0.0f;
    for (size_t r = 0; r < rows; r++) {
        const char *xr = (const char *)x + r * n * x_size;
        total += x_size == 2 ? (float)ref_row_sum_u16((const uint16_t *)xr, n) : ref_row_sum((const float *)xr, n);
        row_move((char *)y + r * n * y_size, y_size, xr, x_size, n);
    }
    ref_sink = total;
}

void ref_floor_memcpy(void *y, const void *x, size_t bytes)
{
    memcpy(y, x, bytes);
}

/* The loops below are deliberately naive: one accumulator, float arithmetic, the formula
 * as written. That is the baseline the library has to beat to be worth linking. */

void ref_rmsnorm_plain(float *y, const float *x, const float *gamma, const float *beta,
                       size_t rows, size_t n, float eps)
{
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float ss = 0.0f;
        for (size_t i = 0; i < n; i++)
            ss += xr[i] * xr[i];
        float scale = 1.0f / sqrtf(ss / (float)n + eps);
        if (beta)
            for (size_t i = 0; i < n; i++)
                yr[i] = xr[i] * scale * gamma[i] + beta[i];
        else
            for (size_t i = 0; i < n; i++)
                yr[i] = xr[i] * scale * gamma[i];
    }
}

void ref_layernorm_plain(float *y, const float *x, const float *gamma, const float *beta,
                         size_t rows, size_t n, float eps)
{
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float sum = 0.0f;
        for (size_t i = 0; i < n; i++)
            sum += xr[i];
        float mean = sum / (float)n;
        float var = 0.0f;
        for (size_t i = 0; i < n; i++)
            var += (xr[i] - mean) * (xr[i] - mean);
        float scale = 1.0f / sqrtf(var / (float)n + eps);
        if (beta)
            for (size_t i = 0; i < n; i++)
                yr[i] = (xr[i] - mean) * scale * gamma[i] + beta[i];
        else
            for (size_t i = 0; i < n; i++)
                yr[i] = (xr[i] - mean) * scale * gamma[i];
    }
}
