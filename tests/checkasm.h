/*
 * What checkasm.c (f32 rows), checkasm_half.c (every other type combination),
 * checkasm_fused.c (the engine fusions), checkasm_moments.c (split rows), checkasm_gate.c
 * (gated RMSNorm, int8 output) and checkasm_rows.c (row independence) share: the run's
 * settings, the tcases the others add to checkasm.c's suite, and the helpers they build their
 * cases from (checkasm_util.c), kept in one place so that every file lays out, fills and
 * checks its buffers the same way.
 */
#ifndef NORM_TEST_CHECKASM_H
#define NORM_TEST_CHECKASM_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"
#include "dispatch.h"

#define PROGRAM "checkasm"

/* Set by main() before the suite is built. */
extern uint64_t checkasm_seed;
extern bool checkasm_quick;

/* The kernel variants, in the order their tcases run: the entries of the ISA list
 * (src/isa_list.h), every tier followed by its variants (avx512bf16: the AVX-512 tier storing
 * bf16 with vcvtneps2bf16) as variants of their own; scalar first. Other architectures'
 * entries are there too, and skipped (norm_kernels_variant gives them no table). */
#define HALF_COUNT_ENTRY(...) +1
#define HALF_NVARIANTS (0 NORM_ISA_LIST(HALF_COUNT_ENTRY, HALF_COUNT_ENTRY))
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

/* Adds variant v's tcase for row independence (checkasm_rows.c): every output of a row the same
 * bits in a batch, alone at another address and in the batch reversed, for every kernel of the
 * table (the norms, gated RMSNorm, int8 output, the moments kernels) and every type combination,
 * less the functions an earlier variant's tcase already tests. Returns false if v cannot run here. */
bool rows_add_tcase(Suite *s, int v);

/* One summary line per variant and kernel kind: cases, and those whose rows differed. */
void rows_print_summary(void);

/* ---- helpers shared by the three files (checkasm_util.c) --------------------------------- */

static inline double maxd(double a, double b) { return a > b ? a : b; }

/* Scratch memory, freed after every test even when it fails: a failed assertion leaves the
 * test by longjmp when CK_FORK=no, and only the checked teardown (scratch_free_all, installed
 * by checkasm_tcase) still runs, so test inputs live here rather than in the test's locals.
 * New memory is filled with SCRATCH_FILL bytes, not left as malloc found it: a test that
 * reads memory it never set then sees the same values whether Check forks (a fresh heap per
 * test) or not (a heap reused across tests), instead of passing in one mode only. */
#define SCRATCH_FILL 0xA5
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
 * reads it into arithmetic turns its output into NaN. It is laid down byte by byte from the
 * region's base (byte i holds byte i % 2 of the pattern), so the last byte of an odd-sized
 * region (int8 rows) is canary too. */
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

/* rows rows of n elements of es bytes, dense at src, copied into a new region (byte_region_alloc)
 * with the given row stride (elements) and offset (elements past 64 bytes); returns the first
 * row. The gaps between rows keep the canary, so a kernel writing into them is caught. */
void *copy_rows(byte_region *rg, const void *src, size_t rows, size_t n, size_t stride, size_t es, unsigned off,
                int guard);

/* The statistics outputs of count rows, as every case lays them out: rstd s_off floats past 64
 * bytes, and for LayerNorm the mean one float further (mod 4), so that the two are never
 * aligned alike; *pmean is left alone without LayerNorm (RMSNorm writes no mean). */
void stats_alloc(byte_region *rstd, byte_region *mean, size_t count, unsigned s_off, bool layernorm, int guard,
                 float **prstd, float **pmean);

/* ---- one case's verdict (checkasm_fused.c, checkasm_moments.c, checkasm_gate.c) ------------ */

/* The failure the running case is building: its first finding, after test_context. One buffer
 * serves every file because one case runs at a time: a case clears it (fail_msg[0] = '\0')
 * before checking, stops checking once it is set, frees its buffers and only then aborts with
 * it, since a longjmp out of the case (CK_FORK=no) would skip the frees. FAIL keeps the first
 * message: what follows a failure is usually its consequence. */
extern char fail_msg[2048];

#define FAIL(...)                                                                   \
    do {                                                                            \
        if (!fail_msg[0]) {                                                         \
            int len_ = snprintf(fail_msg, sizeof fail_msg, "%s: ", test_context);   \
            snprintf(fail_msg + len_, sizeof fail_msg - (size_t)len_, __VA_ARGS__); \
        }                                                                           \
    } while (0)

/* FAILs naming the first region that breaks its rule (first_clobbered), if any. */
void fail_if_clobbered(const region_rule *rules, size_t count);

/* Element i of two arrays of type t holds the same bits, or NaN in both: NaN payloads carry no
 * meaning, and conversions may quiet them, so a kernel is not held to the oracle's. */
bool same_value(const void *a, const void *b, size_t i, int t);

/* The raw bits of element i of an array of type t (f32, f16, bf16 or i8), for messages and for
 * the half-precision checks that take bits. */
unsigned bits_of(const void *p, size_t i, int t);

/* ---- random layouts (checkasm_fused.c, checkasm_gate.c, checkasm_half.c, checkasm_moments.c) */

/* Row strides for count buffers (at most 5) of rows of n elements: n plus 0, 1-5, 6-10, 11-19
 * and 20-26, shuffled so that no buffer always gets the widest, and all different, so that a
 * kernel mixing up two buffers' strides is caught. The draws are made in a fixed order: the
 * cases, and their seeds' inputs, stay the same. */
void distinct_strides(rng *r, size_t n, size_t *strides, int count);

/* Each *offs[i] (elements past a 64-byte boundary) at random in 0-3, in order: misaligned
 * pointers for every buffer of a case. */
void random_offsets(rng *r, unsigned *const *offs, size_t count);

/* gamma around +-1 (around 0 under the unit offset, whose scale is 1 + gamma), beta and the
 * residual add's bias around 0: the parameters as f32, before encoding in their type. */
void gen_affine_params(rng *r, float *gf, float *bf, float *biasf, size_t n, bool unit);

#endif
