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

/* ---------------------------------------------------------------- the fused residual add */

/* The fused floor's first pass over one row: h = x + r, written back to r, and summed (one
 * read of x and r, one write of r). 64 partial sums, as in ref_row_sum. */
FLOOR_CLONES float ref_row_add_sum(float *restrict r, const float *restrict x, size_t n)
{
    float acc[64] = {0};
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (size_t k = 0; k < 64; k++) {
            float h = x[i + k] + r[i + k];
            r[i + k] = h;
            acc[k] += h;
        }
    for (; i < n; i++) {
        float h = x[i] + r[i];
        r[i] = h;
        acc[0] += h;
    }
    float s = 0.0f;
    for (size_t k = 0; k < 64; k++)
        s += acc[k];
    return s;
}

/* The same for 16-bit rows, as raw bit patterns: a wrapping integer add and sum, no conversion. */
FLOOR_CLONES_16 uint16_t ref_row_add_sum_u16(uint16_t *restrict r, const uint16_t *restrict x, size_t n)
{
    uint16_t acc[64] = {0};
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (size_t k = 0; k < 64; k++) {
            uint16_t h = (uint16_t)(x[i + k] + r[i + k]);
            r[i + k] = h;
            acc[k] += h;
        }
    for (; i < n; i++) {
        uint16_t h = (uint16_t)(x[i] + r[i]);
        r[i] = h;
        acc[0] += h;
    }
    uint16_t s = 0;
    for (size_t k = 0; k < 64; k++)
        s += acc[k];
    return s;
}

void ref_floor_fused(void *y, size_t y_size, void *r, const void *x, size_t x_size, const float *gamma,
                     size_t rows, size_t n)
{
    float total = 0.0f;
    for (size_t row = 0; row < rows; row++) {
        char *rr = (char *)r + row * n * x_size;
        const char *xr = (const char *)x + row * n * x_size;
        char *yr = (char *)y + row * n * y_size;
        if (x_size == 2)
            total += (float)ref_row_add_sum_u16((uint16_t *)rr, (const uint16_t *)xr, n);
        else
            total += ref_row_add_sum((float *)rr, (const float *)xr, n);
        if (x_size == 4 && y_size == 4)
            ref_row_scale((float *)yr, (const float *)rr, gamma, n);
        else
            row_move(yr, y_size, rr, x_size, n);
    }
    ref_sink = total;
}

/* The unfused engine's add pass, r = x + r in f32, stored rounded to nearest even in r's type.
 * The inputs are finite and their sums far from overflowing, so no NaN or Inf needs care here
 * (the library's conversions keep NaN payloads; these need not). */
FLOOR_CLONES void ref_add_f32(float *restrict r, const float *restrict x, size_t count)
{
    for (size_t i = 0; i < count; i++)
        r[i] = x[i] + r[i];
}

static inline float bits_to_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t f32_to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

FLOOR_CLONES_16 void ref_add_bf16(uint16_t *restrict r, const uint16_t *restrict x, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        uint32_t u = f32_to_bits(bits_to_f32((uint32_t)x[i] << 16) + bits_to_f32((uint32_t)r[i] << 16));
        r[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
}

/* f16 one value at a time, in integer arithmetic: the tail of the vector versions, and the
 * whole pass where the CPU has no F16C. */
static float f16_value(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, frac = h & 0x3ffu;
    if (exp == 0)
        return bits_to_f32(sign | f32_to_bits((float)frac * 0x1p-24f));
    if (exp == 31)
        return bits_to_f32(sign | 0x7f800000u | frac << 13);
    return bits_to_f32(sign | (exp + 112u) << 23 | frac << 13);
}

static uint16_t f16_round(float f)
{
    uint32_t u = f32_to_bits(f), sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a >= 0x477ff000u) /* 65520 and up: Inf (the inputs hold no NaN) */
        return (uint16_t)(sign | 0x7c00u);
    if (a >= 0x38800000u) /* normal: rebias, round the 13 dropped bits to nearest even */
        return (uint16_t)(sign | ((a - 0x38000000u + 0xfffu + ((a >> 13) & 1u)) >> 13));
    if (a < 0x33000000u) /* at most 2^-25: rounds to zero */
        return (uint16_t)sign;
    /* Subnormal: the significand in units of 2^-24, rounded to nearest even. */
    uint32_t e = a >> 23, shift = 126u - e, m = (a & 0x7fffffu) | 0x800000u;
    uint32_t q = m >> shift, rest = m & ((1u << shift) - 1u), halfway = 1u << (shift - 1);
    return (uint16_t)(sign | (q + (rest > halfway || (rest == halfway && (q & 1u)))));
}

static void add_f16_scalar(uint16_t *r, const uint16_t *x, size_t count)
{
    for (size_t i = 0; i < count; i++)
        r[i] = f16_round(f16_value(x[i]) + f16_value(r[i]));
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#  include <immintrin.h>
/* The hardware conversions (round to nearest even), 16 and 8 lanes. */
__attribute__((target("avx512f"))) static void add_f16_avx512(uint16_t *r, const uint16_t *x, size_t count)
{
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m512 a = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i)));
        __m512 b = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(r + i)));
        _mm256_storeu_si256((__m256i *)(r + i), _mm512_cvtps_ph(_mm512_add_ps(a, b), _MM_FROUND_TO_NEAREST_INT));
    }
    add_f16_scalar(r + i, x + i, count - i);
}

__attribute__((target("avx2,f16c"))) static void add_f16_avx2(uint16_t *r, const uint16_t *x, size_t count)
{
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 a = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
        __m256 b = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(r + i)));
        _mm_storeu_si128((__m128i *)(r + i), _mm256_cvtps_ph(_mm256_add_ps(a, b), _MM_FROUND_TO_NEAREST_INT));
    }
    add_f16_scalar(r + i, x + i, count - i);
}
#endif

void ref_add_f16(uint16_t *r, const uint16_t *x, size_t count)
{
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    if (__builtin_cpu_supports("avx512f")) {
        add_f16_avx512(r, x, count);
        return;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c")) {
        add_f16_avx2(r, x, count);
        return;
    }
#endif
    add_f16_scalar(r, x, count);
}
