/*
 * The reference loops norm-bench times next to libnorm: the floors (what any row-wise
 * norm must at least spend) and the plain C loops a user would write instead of calling
 * the library. reference.c is compiled with -O3 -ffast-math and no -m/-march flag, so
 * the plain loops are what a compiler makes of straightforward code for the baseline ISA;
 * the floor's passes are cloned per ISA so that the floor is as low as this CPU allows.
 */
#ifndef NORM_BENCH_REFERENCE_H
#define NORM_BENCH_REFERENCE_H

#include <stddef.h>

/* The floor's two passes over one row (exported so the compiler keeps them separate). */
float ref_row_sum(const float *x, size_t n);
void ref_row_scale(float *restrict y, const float *restrict x, const float *restrict gamma, size_t n);

/* Floor for cache-resident data: per row, one sum-reduction pass over x, then y = x*gamma. */
void ref_floor_read_scale(float *y, const float *x, const float *gamma, size_t rows, size_t n);

/* Floor for data larger than the caches: copy the same bytes, x -> y. */
void ref_floor_memcpy(float *y, const float *x, size_t rows, size_t n);

/* Plain loops: y = x / sqrt(mean(x^2) + eps) * gamma (+ beta), and
 * y = (x - mean) / sqrt(var + eps) * gamma (+ beta) with a two-pass variance.
 * gamma must not be NULL; beta may be. */
void ref_rmsnorm_plain(float *y, const float *x, const float *gamma, const float *beta,
                       size_t rows, size_t n, float eps);
void ref_layernorm_plain(float *y, const float *x, const float *gamma, const float *beta,
                         size_t rows, size_t n, float eps);

#endif /* NORM_BENCH_REFERENCE_H */
