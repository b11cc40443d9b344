/* SPDX-License-Identifier: MIT */
/*
 * The unfused gate passes an engine built on SLEEF would write, the baseline the project set
 * for gated RMSNorm: "never slower than the norm plus a separate SLEEF silu pass, on every
 * shape". silu(z) = z / (1 + exp(-z)) with SLEEF's exp for one ISA, as written by a user: a
 * plain vector loop, the division as is, partial vectors for the tail.
 *
 * This file is compiled once per ISA (bench/meson.build, with that ISA's flags and
 * -DSILU_ISA=<name>: vec_<name>.h and cvt_<name>.h) on the library's vector layer, for its loads, stores, bf16 conversions
 * and vf_exp (SLEEF's u10 exp for the ISA, the one the kernels call); each copy defines
 * silu_impl_<name>, which norm_bench.c finds through the ISA list.
 */
#include <stddef.h>
#include <stdint.h>

#include "silu_sleef.h"

#define SILU_STR2(x) #x
#define SILU_STR(x) SILU_STR2(x)
#define SILU_CAT2(a, b) a##b
#define SILU_CAT(a, b) SILU_CAT2(a, b)

#include SILU_STR(SILU_CAT(vec_, SILU_ISA).h)
#include SILU_STR(SILU_CAT(cvt_, SILU_ISA).h)

/* The division: not in the vector contract (the kernels do without it). */
#if defined(__AVX512F__)
#define vf_div _mm512_div_ps
#elif defined(__AVX2__)
#define vf_div _mm256_div_ps
#elif defined(__SSE2__)
#define vf_div _mm_div_ps
#elif defined(__aarch64__)
#define vf_div vdivq_f32
#else
#error "silu_sleef.c: no vector division for this ISA"
#endif

static inline vf silu(vf z) { return vf_div(z, vf_add(vf_set1(1.0f), vf_exp(vf_sub(vf_zero(), z)))); }

/* t = x * silu(z): the gate before an unfused norm, into a temporary; with t = x, y *= silu(z),
 * the gate after it. */
static void gate_f32(float *t, const float *x, const float *z, size_t n)
{
    size_t i = 0;
    for (; i + NORM_W <= n; i += NORM_W)
        vf_store(t + i, vf_mul(vf_load(x + i), silu(vf_load(z + i))));
    if (i < n)
        vf_store_part(t + i, vf_mul(vf_load_part(x + i, n - i), silu(vf_load_part(z + i, n - i))), n - i);
}

static void gate_bf16(uint16_t *t, const uint16_t *x, const uint16_t *z, size_t n)
{
    size_t i = 0;
    for (; i + NORM_W <= n; i += NORM_W)
        vf_store_bf16(t + i, vf_mul(vf_load_bf16(x + i), silu(vf_load_bf16(z + i))));
    if (i < n)
        vf_store_bf16_part(t + i, vf_mul(vf_load_bf16_part(x + i, n - i), silu(vf_load_bf16_part(z + i, n - i))),
                           n - i);
}

static void mul_silu_f32(float *y, const float *z, size_t n) { gate_f32(y, y, z, n); }
static void mul_silu_bf16(uint16_t *y, const uint16_t *z, size_t n) { gate_bf16(y, y, z, n); }

const silu_impl SILU_CAT(silu_impl_, SILU_ISA) = { mul_silu_f32, gate_f32, mul_silu_bf16, gate_bf16 };
