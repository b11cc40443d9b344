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

/* y = x * gamma + beta: the floor's output pass when the norm reads beta too, so that the
 * floor moves the same bytes as the norm (at 1x4096, x, gamma, beta and y are 64 KiB of f32,
 * more than many L1 caches hold, where x, gamma and y fit). */
FLOOR_CLONES void ref_row_scale_shift(float *restrict y, const float *restrict x, const float *restrict gamma,
                                      const float *restrict beta, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] * gamma[i] + beta[i];
}

/* Row by row, like the norms: the second pass over a row finds it in L1, as theirs does. */
void ref_floor_read_scale(float *y, const float *x, const float *gamma, const float *beta, size_t rows, size_t n)
{
    float total = 0.0f;
    for (size_t r = 0; r < rows; r++) {
        total += ref_row_sum(x + r * n, n);
        if (beta)
            ref_row_scale_shift(y + r * n, x + r * n, gamma, beta, n);
        else
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

/* The loops' bodies, inlined into each entry point below, so that the native ones get them
 * compiled for each clone's ISA. */
static inline __attribute__((always_inline)) void rmsnorm_rows(float *y, const float *x, const float *gamma,
                                                               const float *beta, size_t rows, size_t n, float eps)
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

static inline __attribute__((always_inline)) void layernorm_rows(float *y, const float *x, const float *gamma,
                                                                 const float *beta, size_t rows, size_t n, float eps)
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

void ref_rmsnorm_plain(float *y, const float *x, const float *gamma, const float *beta,
                       size_t rows, size_t n, float eps)
{
    rmsnorm_rows(y, x, gamma, beta, rows, n, eps);
}

void ref_layernorm_plain(float *y, const float *x, const float *gamma, const float *beta,
                         size_t rows, size_t n, float eps)
{
    layernorm_rows(y, x, gamma, beta, rows, n, eps);
}

/* The same loops for the widest ISA this CPU runs (norm-bench --short): what a user's loop
 * built with -O3 -ffast-math -march=native would be, without building the bench for one CPU.
 * x86-64-v3 is AVX2 with FMA and x86-64-v4 AVX-512 F/BW/DQ/VL, as -march=native would enable
 * them (GCC's generic tuning keeps 256-bit vectors in the v4 clone, as its tuning for most
 * AVX-512 CPUs does). Elsewhere they are the plain loops. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#  define NATIVE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#  define NATIVE_CLONES
#endif

NATIVE_CLONES void ref_rmsnorm_native(float *y, const float *x, const float *gamma, const float *beta,
                                      size_t rows, size_t n, float eps)
{
    rmsnorm_rows(y, x, gamma, beta, rows, n, eps);
}

NATIVE_CLONES void ref_layernorm_native(float *y, const float *x, const float *gamma, const float *beta,
                                        size_t rows, size_t n, float eps)
{
    layernorm_rows(y, x, gamma, beta, rows, n, eps);
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

/* ---------------------------------------------------------------- gated RMSNorm (--gated) */

/*
 * The gated floor. What must a gated RMSNorm move, at the least? Per row it reads x and z once
 * from wherever they live (memory, for shapes larger than the caches), gamma (n values shared
 * by every row, so from cache after the first row) and writes y once. Its statistic needs a
 * whole pass over the row before the first y can be written: over x alone when the gate comes
 * after the norm, over x and z when it comes before. So x at least is read twice, the second
 * time from L1 (or L2 for a row longer than L1), and nothing else need be.
 *
 * The floor does exactly that: per row a read pass over x alone (a sum, 64 partial sums as in
 * ref_row_sum), then one pass that reads x again, z and gamma and writes y = x*z*gamma (two
 * multiplies: no silu, no square, no scale). It is a lower bound for both orders: the gate-
 * before kernel must also read z in its first pass (its second read of z then hits L1), which
 * the floor does not charge. For 16-bit rows the write pass adds the raw bit patterns as
 * integers (y = x + z + gamma, wrapping; with f32 gamma its top half, which is all bf16 would
 * keep), so it moves the bytes and converts nothing.
 */
FLOOR_CLONES void ref_row_gate_scale(float *restrict y, const float *restrict x, const float *restrict z,
                                     const float *restrict gamma, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] * z[i] * gamma[i];
}

FLOOR_CLONES_16 void ref_row_gate_move_u16(uint16_t *restrict y, const uint16_t *restrict x,
                                           const uint16_t *restrict z, const uint16_t *restrict gamma, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = (uint16_t)(x[i] + z[i] + gamma[i]);
}

FLOOR_CLONES_16 void ref_row_gate_move_u16_g32(uint16_t *restrict y, const uint16_t *restrict x,
                                               const uint16_t *restrict z, const float *restrict gamma, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t g;
        memcpy(&g, &gamma[i], sizeof g); /* a plain load; no aliasing questions */
        y[i] = (uint16_t)(x[i] + z[i] + (g >> 16));
    }
}

void ref_floor_gated(void *y, const void *x, const void *z, size_t x_size, const void *gamma, size_t gamma_size,
                     size_t rows, size_t n)
{
    float total = 0.0f;
    for (size_t r = 0; r < rows; r++) {
        size_t off = r * n * x_size;
        const char *xr = (const char *)x + off, *zr = (const char *)z + off;
        char *yr = (char *)y + off;
        if (x_size == 4) {
            total += ref_row_sum((const float *)xr, n);
            ref_row_gate_scale((float *)yr, (const float *)xr, (const float *)zr, gamma, n);
        } else {
            total += (float)ref_row_sum_u16((const uint16_t *)xr, n);
            if (gamma_size == 2)
                ref_row_gate_move_u16((uint16_t *)yr, (const uint16_t *)xr, (const uint16_t *)zr, gamma, n);
            else
                ref_row_gate_move_u16_g32((uint16_t *)yr, (const uint16_t *)xr, (const uint16_t *)zr, gamma, n);
        }
    }
    ref_sink = total;
}

/* The unfused engine's gate passes, silu(z) = z / (1 + expf(-z)) with libm's expf, in f32;
 * bf16 values are widened exactly and the result rounded to nearest even, as the library
 * stores it. ref_mul_silu: y *= silu(z), the gate after a norm; ref_gate: t = x * silu(z)
 * into a temporary of x's type, the gate before a norm. Plain loops, built like the add pass
 * above (-O3 -ffast-math, one clone per vector width, so the compiler may call glibc's vector
 * expf): the strongest plain C an engine could bring. */
static inline float silu(float z)
{
    return z / (1.0f + expf(-z));
}

static inline uint16_t bf16_round(float f)
{
    uint32_t u = f32_to_bits(f);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

FLOOR_CLONES void ref_mul_silu_f32(float *restrict y, const float *restrict z, size_t count)
{
    for (size_t i = 0; i < count; i++)
        y[i] = y[i] * silu(z[i]);
}

FLOOR_CLONES void ref_gate_f32(float *restrict t, const float *restrict x, const float *restrict z, size_t count)
{
    for (size_t i = 0; i < count; i++)
        t[i] = x[i] * silu(z[i]);
}

FLOOR_CLONES_16 void ref_mul_silu_bf16(uint16_t *restrict y, const uint16_t *restrict z, size_t count)
{
    for (size_t i = 0; i < count; i++)
        y[i] = bf16_round(bits_to_f32((uint32_t)y[i] << 16) * silu(bits_to_f32((uint32_t)z[i] << 16)));
}

FLOOR_CLONES_16 void ref_gate_bf16(uint16_t *restrict t, const uint16_t *restrict x, const uint16_t *restrict z,
                                   size_t count)
{
    for (size_t i = 0; i < count; i++)
        t[i] = bf16_round(bits_to_f32((uint32_t)x[i] << 16) * silu(bits_to_f32((uint32_t)z[i] << 16)));
}

/* ---------------------------------------------------------------- int8 output (--int8) */

/*
 * The int8 floor: per row a read pass over x (a sum, as ref_row_sum or ref_row_sum_u16), then
 * one pass that reads x again (from L1) and gamma and writes n bytes of y: the low byte of the
 * sum of x's and gamma's bit patterns, an integer add and a narrowing, no float arithmetic and
 * no float-to-int conversion. Those are the bytes every int8 norm must move (x read from memory
 * once, gamma from cache, one byte of y per element; a dynamic scale adds 4 bytes a row, which
 * the floor leaves out) with less work than any of them does, so it is a lower bound for the
 * static scale and the dynamic one alike (the dynamic one needs max|y| before it can write q:
 * one more pass over the row in cache, which is its own cost).
 */
FLOOR_CLONES_16 void ref_row_narrow_i8(int8_t *restrict y, const float *restrict x, const float *restrict gamma, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t a, b;
        memcpy(&a, &x[i], sizeof a);
        memcpy(&b, &gamma[i], sizeof b);
        y[i] = (int8_t)(uint8_t)(a + b);
    }
}

FLOOR_CLONES_16 void ref_row_narrow_i8_u16(int8_t *restrict y, const uint16_t *restrict x,
                                           const uint16_t *restrict gamma, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = (int8_t)(uint8_t)(x[i] + gamma[i]);
}

FLOOR_CLONES_16 void ref_row_narrow_i8_u16_g32(int8_t *restrict y, const uint16_t *restrict x,
                                               const float *restrict gamma, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &gamma[i], sizeof b);
        y[i] = (int8_t)(uint8_t)(x[i] + b);
    }
}

void ref_floor_int8(int8_t *y, const void *x, size_t x_size, const void *gamma, size_t gamma_size, size_t rows,
                    size_t n)
{
    float total = 0.0f;
    for (size_t r = 0; r < rows; r++) {
        const char *xr = (const char *)x + r * n * x_size;
        int8_t *yr = y + r * n;
        if (x_size == 4) {
            total += ref_row_sum((const float *)xr, n);
            ref_row_narrow_i8(yr, (const float *)xr, gamma, n);
        } else {
            total += (float)ref_row_sum_u16((const uint16_t *)xr, n);
            if (gamma_size == 2)
                ref_row_narrow_i8_u16(yr, (const uint16_t *)xr, gamma, n);
            else
                ref_row_narrow_i8_u16_g32(yr, (const uint16_t *)xr, gamma, n);
        }
    }
    ref_sink = total;
}

/* The unfused engine's quantize pass over f32 rows, the library's formula: q = clamp(round(y *
 * inv_scale), -127, 127), rounded to nearest even (rintf in the default rounding mode). The
 * inputs are finite, so no NaN needs care. Cloned per vector width like the gate passes. */
FLOOR_CLONES void ref_quantize_i8(int8_t *restrict q, const float *restrict y, float inv_scale, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        float v = y[i] * inv_scale;
        v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
        q[i] = (int8_t)(int)rintf(v);
    }
}

FLOOR_CLONES float ref_row_absmax(const float *x, size_t n)
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        m = a > m ? a : m;
    }
    return m;
}

/* Per row: s = max|y| / 127 (0 for a row of zeros), written to scales[row], then q with
 * 1/s rounded to f32 (0 for s = 0, which makes q 0), as the library's dynamic scale. */
void ref_quantize_i8_dynamic(int8_t *q, float *scales, const float *y, size_t rows, size_t n)
{
    for (size_t r = 0; r < rows; r++) {
        float s = ref_row_absmax(y + r * n, n) / 127.0f;
        scales[r] = s;
        ref_quantize_i8(q + r * n, y + r * n, s > 0.0f ? 1.0f / s : 0.0f, n);
    }
}
