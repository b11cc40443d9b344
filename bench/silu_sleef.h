/* SPDX-License-Identifier: MIT */
/* The SLEEF gate passes of one ISA (silu_sleef.c): the unfused baseline of gated RMSNorm. */
#ifndef NORM_BENCH_SILU_SLEEF_H
#define NORM_BENCH_SILU_SLEEF_H
#include <stddef.h>
#include <stdint.h>

typedef struct silu_impl {
    void (*mul_silu_f32)(float *y, const float *z, size_t n);             /* y *= silu(z) */
    void (*gate_f32)(float *t, const float *x, const float *z, size_t n); /* t = x * silu(z) */
    void (*mul_silu_bf16)(uint16_t *y, const uint16_t *z, size_t n);
    void (*gate_bf16)(uint16_t *t, const uint16_t *x, const uint16_t *z, size_t n);
} silu_impl;

#endif
