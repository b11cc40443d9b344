/*
 * What checkasm.c (f32 rows) and checkasm_half.c (every other type combination) share:
 * the run's settings and the half-precision tcases, which checkasm.c adds to its suite.
 */
#ifndef NORM_TEST_CHECKASM_H
#define NORM_TEST_CHECKASM_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>

#define PROGRAM "checkasm"

/* Set by main() before the suite is built. */
extern uint64_t checkasm_seed;
extern bool checkasm_quick;

/* The kernel variants, in the order their tcases run: every tier, and avx512bf16 (the
 * AVX-512 tier storing bf16 with vcvtneps2bf16) as a variant of its own. */
#define HALF_NVARIANTS 6
extern const char *const half_variant_names[HALF_NVARIANTS];

/* Adds variant v's half-precision tcase to s: the 14 type combinations other than
 * f32/f32/f32, less those whose kernels are the very functions an earlier variant's tcase
 * already tests (the scalar oracle's, or, for avx512bf16, plain AVX-512's away from bf16
 * outputs). Returns false, adding nothing, if the variant cannot run here. */
bool half_add_tcase(Suite *s, int v);

/* One summary line per variant and output type: worst error in ulps against the
 * long-double reference and in steps against the oracle (half outputs), worst err/bound
 * of the f32 contract (f32 outputs), and of the statistics. */
void half_print_summary(void);

/* Adds variant v's tcase for the engine fusions (checkasm_fused.c): the fused residual add and
 * NORM_UNIT_OFFSET, all 15 type combinations less those whose kernels an earlier variant's
 * tcase already tests. Prints that it is skipped, and returns false, if v cannot run here. */
bool fused_add_tcase(Suite *s, int v);

/* One summary line per variant and output type: worst errors, and how many rows matched the
 * unfused sequence bit for bit. */
void fused_print_summary(void);

#endif
