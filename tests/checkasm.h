/*
 * What checkasm.c (f32 rows), checkasm_half.c (every other type combination) and
 * checkasm_fused.c (the engine fusions) share: the run's settings, the tcases the other two
 * add to checkasm.c's suite, and the helpers all three build their cases from
 * (checkasm_util.c).
 */
#ifndef NORM_TEST_CHECKASM_H
#define NORM_TEST_CHECKASM_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "dispatch.h"

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

/* Adds variant v's tcase for split rows (checkasm_moments.c): the moments kernels, the apply
 * step (norm kernels with job->moments) over rows cut into slices, and norm_moments_combine,
 * less the functions an earlier variant's tcase already tests. Returns false if v cannot run here. */
bool moments_add_tcase(Suite *s, int v);

/* Summary lines per variant: the moments kernels' worst errors, and per output type the split
 * rows' worst errors against long double, the unsplit call and the oracle's split. */
void moments_print_summary(void);

/* Adds variant v's tcase for gated RMSNorm and int8 output (checkasm_gate.c): every type
 * combination with a gate, the int8 ones also without (both norms, residual add), less those
 * whose kernels an earlier variant's tcase already tests. Returns false if v cannot run here. */
bool gate_add_tcase(Suite *s, int v);

/* One summary line per variant: worst err/bound, and the int8 rounding exceptions. */
void gate_print_summary(void);

/* ---- helpers shared by the three files (checkasm_util.c) --------------------------------- */

static inline double maxd(double a, double b) { return a > b ? a : b; }

/* Scratch memory, freed after every test even when it fails: a failed assertion leaves the
 * test by longjmp when CK_FORK=no, and only the checked teardown (scratch_free_all, installed
 * by checkasm_tcase) still runs, so test inputs live here rather than in the test's locals. */
void *scratch_alloc(size_t bytes);
void scratch_free_all(void);

/* A tcase with the settings every checkasm tcase uses: a generous timeout (Check's default of
 * 4 s applies only when it forks, and emulated runs are 20-50x slower) and scratch memory
 * freed after each test. name must outlive the suite (Check may keep the pointer). */
TCase *checkasm_tcase(const char *name);

/* Zeroed memory in a MAP_SHARED page, for the per-variant statistics, so that Check's forked
 * children (CK_FORK=yes) report back to the parent; aborts if it cannot be mapped. */
void *shared_stats_alloc(size_t bytes);

/* Where a case puts the unit under test's buffers: on the heap with canaries around them, or
 * flush against a PROT_NONE page at their end or their start (guard_alloc's sides, plus one). */
enum { GUARD_NONE = 0, GUARD_END = 1 + GUARD_AFTER, GUARD_START = 1 + GUARD_BEFORE };
const char *guard_name(int guard); /* "none" "end" "start", for the case's description */

/* ---- the kernel variants and type combinations (checkasm_half.c, checkasm_fused.c) ------- */

typedef struct combo {
    norm_dtype x, y, p; /* x's, y's, and gamma's and beta's (and the bias's) types */
} combo;

/* Variant v's kernel table; fails the test if it cannot be had (it could when the tcase was
 * built). */
const norm_kernels *table_of(int v);
norm_kernel_fn *kernel_of(const norm_kernels *k, bool layernorm, combo c);

/* The first variant before v whose table has the very same two functions (RMSNorm and
 * LayerNorm) for c as k, v's table: those were already tested on the same inputs. -1 if none. */
int earlier_variant_with_kernels(int v, const norm_kernels *k, combo c);

/* The input stream of one test ("<family> <test> <x>/<y>/<params>"): one per (test,
 * combination) and the same for every variant, so that every variant sees the oracle's inputs. */
rng combo_rng(const char *family, const char *test, combo c);

/* ---- input generators ------------------------------------------------------------------ */

/* The eps values the tests pick from, and one of them at random. */
extern const float eps_values[4];
float eps_any(rng *r);

/* Roughly standard normal (Irwin-Hall: four uniforms, so |value| < 3.5), at a fraction of
 * rng_normal's cost: the log and cos of Box-Muller were a third of checkasm_half.c's run
 * time. checkasm.c's f32 tests keep rng_normal, so that their inputs stay what they were. */
double fast_normal(rng *r);

/* v as f32, clamped to the finite range of type t (rounding to t may still reach its max). */
float clamp_to(double v, int t);

/* Typical activations, centred or not, at scales from 1e-3 to 1e3, times scale, clamped to
 * t's range (with scale 1 every type holds them, so the clamp changes nothing). normal draws
 * the normal deviates: rng_normal or fast_normal, whichever the caller's streams were built
 * with. */
void gen_row(rng *r, float *x, size_t n, double (*normal)(rng *), double scale, int t);

/* Element i of a row of type t (p, and its f32 copy pf) becomes a NaN with a payload or a
 * signalling NaN (which: 0-2, taken mod 3), written as raw bits of t. */
void poke_nan(void *p, float *pf, size_t i, int t, int which);

/* ---- checks ---------------------------------------------------------------------------- */

/* The f32 row the reference gives, rounded to f32: what the oracle's NaN/Inf pattern is held
 * to on special rows when the oracle itself is the unit under test. */
void reference_pattern(float *pattern, const float *x, size_t n, const float *gamma, const float *beta,
                       ref_stats ref);

/* Row r's statistics (those the job asked for) against the long-double reference, or on
 * special rows against the oracle's (oracle NULL when the oracle is the unit under test):
 * rstd relative; the mean relative to its magnitude plus the row's scale 1/rstd, since a mean
 * near zero (cancellation) can only be as exact as the sums around it, and a mean error of d
 * moves x_hat by d*rstd, which the y bound covers. Raises *worst_mean and *worst_rstd; fills
 * *m on failure (m must not have failed already). */
void check_row_stats(const norm_job *unit, const norm_job *oracle, size_t r, ref_stats ref, bool special,
                     double *worst_mean, double *worst_rstd, mismatch *m);

/* ---- buffers of any element type, with canaries (checkasm_half.c, checkasm_fused.c) ------ */

/* A buffer with canaries around it (or flush against a guard page). The canary is the 16-bit
 * pattern 0x7fc5, a NaN as f16 and as bf16, and 0x7fc57fc5 is a NaN as f32: a kernel that
 * reads it into arithmetic turns its output into NaN. */
typedef struct byte_region {
    unsigned char *base, *p; /* the inspectable memory, and the buffer inside it */
    size_t total;            /* bytes from base */
    guarded g;
    void *heap;
} byte_region;

/* bytes at off_bytes past a 64-byte boundary, between 64 bytes of canaries (GUARD_NONE), or
 * flush against a guard page (then nothing around it can be inspected: the page is the check). */
void *byte_region_alloc(byte_region *r, size_t bytes, size_t off_bytes, int guard);
void byte_region_free(byte_region *r);

/* What one region must still hold after a case: rows of row_bytes every stride bytes from
 * its buffer, equal to want's dense rows when want is given (an input must not change); the
 * canary everywhere else. */
typedef struct region_rule {
    const char *name;
    const byte_region *rg;
    size_t rows, stride, row_bytes;
    const void *want;
} region_rule;

/* The first region breaking its rule, or NULL; *at gets the first byte breaking it, as an
 * offset from the region's buffer. Regions never allocated pass. */
const char *first_clobbered(const region_rule *rules, size_t count, ptrdiff_t *at);

#endif
