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
#include <stdint.h>

/* The floor's two passes over one row (exported so the compiler keeps them separate). */
float ref_row_sum(const float *x, size_t n);
void ref_row_scale(float *restrict y, const float *restrict x, const float *restrict gamma, size_t n);

/* Floor for cache-resident data: per row, one sum-reduction pass over x, then y = x*gamma. */
/* The read pass, then y = x * gamma (+ beta, when not NULL: the same bytes as a norm with beta). */
void ref_floor_read_scale(float *y, const float *x, const float *gamma, const float *beta, size_t rows, size_t n);

/* The half-precision floor's passes over one row of 16-bit values (bit patterns). */
uint16_t ref_row_sum_u16(const uint16_t *x, size_t n);
void ref_row_copy_u16(uint16_t *restrict y, const uint16_t *restrict x, size_t n);
void ref_row_widen_u16(uint32_t *restrict y, const uint16_t *restrict x, size_t n);
void ref_row_narrow_f32(uint16_t *restrict y, const float *restrict x, size_t n);

/* Floor for cache-resident rows when x or y is 16-bit (x_size or y_size is 2): per row, one
 * read pass over x (an f32 sum, or a wrapping integer sum of the raw 16-bit patterns), then
 * y = x as bits: copied if the sizes match, else shifted by 16 (f32 -> 16-bit keeps the top
 * half, 16-bit -> f32 puts the bits on top). No gamma and no rounding, so it is pure memory
 * traffic: a lower bound for every norm that reads x and writes y in these types. */
void ref_floor_read_move(void *y, size_t y_size, const void *x, size_t x_size, size_t rows, size_t n);

/* Floor for data larger than the caches: copy `bytes` bytes, x -> y. */
void ref_floor_memcpy(void *y, const void *x, size_t bytes);

/* Plain loops: y = x / sqrt(mean(x^2) + eps) * gamma (+ beta), and
 * y = (x - mean) / sqrt(var + eps) * gamma (+ beta) with a two-pass variance.
 * gamma must not be NULL; beta may be. */
void ref_rmsnorm_plain(float *y, const float *x, const float *gamma, const float *beta,
                       size_t rows, size_t n, float eps);
void ref_layernorm_plain(float *y, const float *x, const float *gamma, const float *beta,
                         size_t rows, size_t n, float eps);
/* The same loops compiled for the widest ISA this CPU runs (x86: GCC target_clones for
 * x86-64-v4, x86-64-v3 and the baseline), as -march=native would build a user's loop. */
void ref_rmsnorm_native(float *y, const float *x, const float *gamma, const float *beta,
                        size_t rows, size_t n, float eps);
void ref_layernorm_native(float *y, const float *x, const float *gamma, const float *beta,
                          size_t rows, size_t n, float eps);

/* The fused residual add (norm-bench --fused).
 *
 * Its floor, per row: one pass that reads x and r, writes h = x + r back to r and sums h
 * (f32 adds; for 16-bit rows an integer add of the raw bit patterns), then one pass that reads
 * h and writes y = h*gamma (f32) or y = h as bits (16-bit x or y, as ref_floor_read_move). The
 * bytes every fused norm must move, x and r read once, r and y written once, and no more. */
float ref_row_add_sum(float *restrict r, const float *restrict x, size_t n);
uint16_t ref_row_add_sum_u16(uint16_t *restrict r, const uint16_t *restrict x, size_t n);
void ref_floor_fused(void *y, size_t y_size, void *r, const void *x, size_t x_size, const float *gamma,
                     size_t rows, size_t n);

/* The unfused engine's add pass over count elements: r = x + r, added in f32 and rounded to
 * nearest even in r's type, which is what the library's fused add stores (finite inputs). */
void ref_add_f32(float *restrict r, const float *restrict x, size_t count);
void ref_add_bf16(uint16_t *restrict r, const uint16_t *restrict x, size_t count);
void ref_add_f16(uint16_t *r, const uint16_t *x, size_t count);

/* Gated RMSNorm and int8 output (norm-bench --gated, --int8): their floors, and the passes an
 * unfused engine would run (each documented in reference.c, next to its code). */
void ref_floor_gated(void *y, const void *x, const void *z, size_t x_size, const void *gamma, size_t gamma_size,
                     size_t rows, size_t n);
void ref_mul_silu_f32(float *restrict y, const float *restrict z, size_t count);
void ref_gate_f32(float *restrict t, const float *restrict x, const float *restrict z, size_t count);
void ref_mul_silu_bf16(uint16_t *restrict y, const uint16_t *restrict z, size_t count);
void ref_gate_bf16(uint16_t *restrict t, const uint16_t *restrict x, const uint16_t *restrict z, size_t count);
void ref_floor_int8(int8_t *y, const void *x, size_t x_size, const void *gamma, size_t gamma_size, size_t rows,
                    size_t n);
void ref_quantize_i8(int8_t *restrict q, const float *restrict y, float inv_scale, size_t count);
void ref_quantize_i8_dynamic(int8_t *q, float *scales, const float *y, size_t rows, size_t n);

#endif /* NORM_BENCH_REFERENCE_H */
