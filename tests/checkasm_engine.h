/*
 * checkasm's engine (checkasm_engine.c), after dav1d's checkasm: what every feature file
 * shares, written once. The engine owns the run (seed, quick mode, main, the Check suite), the
 * kernel variants and which of them this CPU runs, the tcase of each (variant, feature) and
 * the skipping of tests whose functions an earlier variant already ran on the same inputs,
 * scratch memory, buffers with canaries or guard pages, encoding to f16/bf16, the common
 * input generators, the plain norm case (a kernel against the long-double reference and the
 * oracle: checkasm.c's f32 rows and checkasm_half.c's other types), and the summary. A feature
 * file (checkasm.c f32 rows, checkasm_half.c half precision, checkasm_fused.c the fused residual
 * add, checkasm_moments.c split rows, checkasm_gate.c gated RMSNorm and int8, checkasm_rows.c
 * row independence) keeps its reference, its case generators and its statistics, and hands the
 * engine one checkasm_feature.
 *
 * The accuracy bound itself stays in tests/common.c (CONTRACT_TOL, check_row, half_slack,
 * check_half, check_stat): the feature files call half_slack() for the f32 contract's bound
 * of one output instead of writing the formula again.
 */
#ifndef NORM_TEST_CHECKASM_ENGINE_H
#define NORM_TEST_CHECKASM_ENGINE_H

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

/* ---- the kernel variants ------------------------------------------------------------------ */

/* The kernel variants, in the order their tcases run: the entries of the ISA list
 * (src/isa_list.h), every tier followed by its variants (avx512bf16: the AVX-512 tier storing
 * bf16 with vcvtneps2bf16) as variants of their own; scalar, the oracle, first. Other
 * architectures' entries are there too, and skipped (norm_kernels_variant gives them no table). */
#define HALF_COUNT_ENTRY(...) +1
#define HALF_NVARIANTS (0 NORM_ISA_LIST(HALF_COUNT_ENTRY, HALF_COUNT_ENTRY))
extern const char *const half_variant_names[HALF_NVARIANTS];
#define V_ORACLE 0 /* half_variant_names[0], "scalar": the oracle's own table */

typedef struct combo {
    norm_dtype x, y, p; /* x's, y's, and gamma's and beta's (and the bias's) types */
} combo;

/* Every (x, y, params) combination of f32, f16 and bf16 rows, the parameters f32 or x's type:
 * 15, f32/f32/f32 first. And the 20 with int8 output too, y f32, f16, bf16, i8 for each (x,
 * params). A feature tests a prefix or a suffix of one of these lists. */
#define NFLOAT_COMBOS 15
extern const combo float_combos[NFLOAT_COMBOS];
#define NALL_COMBOS 20
extern const combo all_combos[NALL_COMBOS];

/* ---- features: what a feature file hands the engine ------------------------------------- */

typedef struct checkasm_feature {
    const char *name; /* the tcases are "<variant>/<name>" */
    /* Adds the tests of variant v (its table k, never NULL) to tc and returns how many it
     * added; prints which functions it leaves to an earlier variant (dup_note). 0: no tcase. */
    int (*add_tests)(TCase *tc, int v, const norm_kernels *k);
    /* Prints variant v's summary lines; called after the run for every v whose tcase ran. */
    void (*summary)(int v);
} checkasm_feature;

/* The features, in the order of their tcases and summaries. */
extern const checkasm_feature checkasm_f32, checkasm_half, checkasm_fused, checkasm_moments, checkasm_gate,
    checkasm_rows;

/* Loop index of a feature's test: variant and type combination (an index into the feature's
 * own list of combinations, fewer than 32). */
#define CASE_INDEX(v, ci) ((v) * 32 + (ci))
#define CASE_VARIANT(i) ((i) / 32)
#define CASE_COMBO(i) ((i) % 32)

/* Adds each of tests (count of them) to tc at CASE_INDEX(v, ci). */
void add_tests_at(TCase *tc, const TTest *const *tests, size_t count, int v, int ci);

/* ---- skipping what an earlier variant ran ------------------------------------------------- */

/* Whether tables a and b hold the very same function(s) for combination c; `what` tells which
 * functions (a feature's own code: a norm, a path, a kind of kernel). */
typedef bool same_fn(const norm_kernels *a, const norm_kernels *b, combo c, int what);

/* The first runnable variant before v whose table holds the same function(s) as v's, or -1:
 * those functions were already tested on the same inputs (the streams depend on the test and
 * the combination, never on the variant), so v's test would repeat it bit for bit. */
int earlier_variant(int v, combo c, int what, same_fn *same);

/* A feature's tally of what it tests and what it leaves to an earlier variant. */
typedef struct dup_note {
    int own, dups;
    const char *of; /* the variant the last duplicate belongs to ("-" before any) */
} dup_note;

/* earlier_variant, counted: true (and own++) if v runs a function of its own, false (and
 * dups++, of = that variant) if an earlier variant already ran it. */
bool runs_own(int v, combo c, int what, same_fn *same, dup_note *note);

/* same_fn for the plain norm tables: both RMSNorm and LayerNorm (what is unused). */
bool same_norm_kernels(const norm_kernels *a, const norm_kernels *b, combo c, int what);

/* ---- per-case setup --------------------------------------------------------------------- */

/* Variant v's kernel table; fails the test if it cannot be had (it could when the tcase was
 * built). */
const norm_kernels *table_of(int v);
norm_kernel_fn *kernel_of(const norm_kernels *k, bool layernorm, combo c);

/* The input stream of one test ("<family> <test> <x>/<y>/<params>"): one per (test,
 * combination) and the same for every variant, so that every variant sees the oracle's inputs. */
rng combo_rng(const char *family, const char *test, combo c);

/* The start of each of a feature's tests: this variant, this combination (from the feature's
 * list), and the combination's input stream. */
#define CASE_SETUP(family, test, combos)     \
    int v = CASE_VARIANT(_i);                \
    combo c = (combos)[CASE_COMBO(_i)];      \
    rng r = combo_rng(family, test, c)

/* Element types with int8 (NORM_I8) too: "i8", 1 byte. */
const char *dtype_name(int t);
size_t dtype_size(int t);

/* ---- scratch memory, tcases, shared statistics ---------------------------------------- */

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

/* |mean| >> std as far as type t resolves it (rows with 1-2 significant bits of spread below
 * the mean's: f16 has 11, bf16 8): three ratios |mean| / std, and three scales of std. */
const double *mean_ratios(int t);
const double *mean_scales(int t);

/* Rows with non-finite values or results (the special rows): what of n elements of row x
 * becomes special. An index is drawn for every what (it may go unused), so that a feature's
 * own kinds after NSPECIAL_ROWS keep the same streams. */
#define NSPECIAL_ROWS 9
extern const char *const special_row_names[NSPECIAL_ROWS];
void poke_special(rng *r, float *x, size_t n, int what);

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

/* ---- buffers of any element type, with canaries ------------------------------------------ */

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

/* rows rows of n elements of es bytes, stride elements apart and off elements past 64 bytes,
 * holding nothing but the canary: an output for a kernel to fill. */
void *out_rows(byte_region *rg, size_t rows, size_t n, size_t stride, size_t es, unsigned off, int guard);

/* n parameters of es bytes (gamma, beta, the bias), copied from src into a new region off
 * elements past 64 bytes. */
void *copy_params(byte_region *rg, const void *src, size_t n, size_t es, unsigned off, int guard);

/* Frees every region of a case's buffer set; regions never allocated are skipped. */
void regions_free(byte_region *const *all, size_t count);
#define REGIONS_FREE(...) \
    regions_free((byte_region *const[]){ __VA_ARGS__ }, sizeof((byte_region *const[]){ __VA_ARGS__ }) / sizeof(byte_region *))

/* ---- one case's verdict ------------------------------------------------------------------ */

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

/* ---- random layouts ---------------------------------------------------------------------- */

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


/* ---- a case's inputs, encoding, and the references the features share ------------------------ */

/* The inputs of a case as dense rows and parameters: x, the residual r, the gate z and the
 * residual add's h are rows of x's type, gamma g, beta b and the bias n values of the
 * parameters' type; each in its type and, in the *f arrays, as the same values in f32. The
 * generators write the *f arrays and case_encode rounds them to their types and stores them
 * (h is computed: residual_add_ref). An f32 array is its own encoding (x == xf), so what the
 * generators write is what the kernel reads. A feature with more per-case data puts
 * CASE_INPUTS first in its own struct: its code keeps writing in->xf, and in->inputs is the
 * case_inputs the engine takes. */
#define CASE_INPUTS_MEMBERS                    \
    combo c;                                   \
    void *x, *r, *z, *h, *g, *b, *bias;        \
    float *xf, *rf, *zf, *hf, *gf, *bf, *biasf
typedef struct case_inputs {
    CASE_INPUTS_MEMBERS;
} case_inputs;
#define CASE_INPUTS          \
    union {                  \
        case_inputs inputs;  \
        struct {             \
            CASE_INPUTS_MEMBERS; \
        };                   \
    }

case_inputs case_inputs_alloc(combo c, size_t rows, size_t n);
/* Rounds x, r, z (rows rows) and g, b, bias (n each) to their types and stores them. */
void case_encode(const case_inputs *in, size_t rows, size_t n);

/* Rounds the count f32 values drawn in vals to type t, in place, and stores them in dst as t:
 * every reference then sees exactly the values the kernels read. */
void encode_values(void *dst, float *vals, size_t count, int t);

/* The residual add as specified (checkasm_fused.c): h = (x + r) in f32, + bias in f32 (when
 * biasf is given), rounded once to type t; stored in h as t and in hf as f32. */
void residual_add_ref(void *h, float *hf, const float *xf, const float *rf, const float *biasf, size_t rows,
                      size_t n, int t);

/* The long-double moments of a row of long doubles: LayerNorm's two passes around a mean
 * found with a shift by the first element (as tests/common.c's ref_row), RMSNorm's sum of
 * squares (mean 0); and the statistics they give with eps inside or outside the root. */
typedef struct lmom {
    long double mean, m2;
} lmom;
lmom ref_moments(const long double *s, size_t n, bool layernorm);
ref_stats ref_stats_of(lmom m, size_t n, float eps, bool eps_outside);

/* ---- the plain norm case (checkasm.c, checkasm_half.c) -------------------------------------- */

/* A layout of the plain kernels' buffers. */
typedef struct plain_spec {
    bool layernorm;
    size_t rows, n, x_stride, y_stride; /* in elements, >= n */
    float eps;
    bool eps_outside, nontemporal, in_place, stats;
    bool strict_inf;                    /* half outputs: the oracle's infinities exactly */
    unsigned x_off, y_off, g_off, b_off, s_off; /* elements past a 64-byte boundary */
    int guard;                          /* GUARD_*, for every buffer of the unit under test */
} plain_spec;

/* Dense, stats on, eps given, every offset 0, no guard. */
plain_spec plain_dense_spec(bool layernorm, size_t rows, size_t n, float eps);

/* What one case saw. */
typedef struct plain_result {
    double worst_ratio; /* f32 outputs: err/bound of the f32 contract */
    double worst_ulp;   /* half outputs: |y - y_ref| / (1 ulp + the f32 bound) */
    int worst_steps;    /* half outputs: representable values between y and the oracle's */
    double worst_mean, worst_rstd;
    long infs;          /* infinities in the outputs (the overflow tests need some) */
} plain_result;

/* Runs unit on the spec's layout and oracle (NULL when unit is the oracle itself) on a plain
 * copy of the same inputs, then checks every output and statistic against the long-double
 * reference and the oracle, and that nothing outside the output rows changed. who names the
 * unit in the case's description. gb: bit 0 gamma, bit 1 beta. Returns false, with fail_msg
 * set, on the first failure: the caller records res, then aborts with fail_msg. */
bool plain_case(const char *who, norm_kernel_fn *unit, norm_kernel_fn *oracle, const plain_spec *sp,
                const case_inputs *in, int gb, const char *label, plain_result *res);

/* A tier's dense entry (norm_dense_fn: f32 rows n apart, gamma given, or the ones where the
 * API passes them for a NULL gamma: rows of up to NORM_ONES_N) against the same tier's kernel of the same norm
 * (sp->layernorm) on the same inputs and layout (offsets, in place, guard): y must be the
 * kernel's bit for bit, nothing outside y may change, and the inputs not at all. The kernel
 * itself is held to the reference by plain_case. has_g, has_b: gamma, beta. Returns false,
 * with fail_msg set, on the first difference. */
bool dense_case(const char *who, norm_dense_fn *dense, norm_kernel_fn *kernel, const plain_spec *sp,
                const case_inputs *in, bool has_g, bool has_b, const char *label);

#endif
