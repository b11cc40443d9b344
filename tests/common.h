/*
 * Helpers shared by the two test programs (checkasm links the internal library, api only the
 * public one), so this header depends on neither: no norm.h, no kernels.h.
 *
 *  - a seeded RNG, so that every run can be replayed from the seed it prints;
 *  - the long-double reference both programs hold the library to;
 *  - the accuracy contract, checked element by element;
 *  - an allocator that puts a buffer flush against a PROT_NONE page;
 *  - half precision (f16, bf16): conversions written independently of the library's, and
 *    the 1-ulp check of half-precision outputs.
 */
#ifndef NORM_TEST_COMMON_H
#define NORM_TEST_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- run-wide settings --------------------------------------------------------------- */

/* NORM_TEST_SEED (decimal or 0x hex) or a fixed default; printed once, on first use. */
uint64_t test_seed(const char *program);
/* NORM_TEST_QUICK=1: emulated runs (qemu) trim the largest cases; printed once, on first use. */
bool test_quick(const char *program);

/* ---- random numbers -------------------------------------------------------------------- */

/* xoshiro256**: fast, good enough for test data, identical on every platform. */
typedef struct rng {
    uint64_t s[4];
} rng;

/* An independent stream per (seed, name): each test draws its own inputs, whatever ran before
 * it and whether or not Check forked, so no state leaks between tests. */
rng rng_for(uint64_t seed, const char *name);
uint64_t rng_u64(rng *r);
uint32_t rng_below(rng *r, uint32_t n);       /* uniform in [0, n) */
double rng_uniform(rng *r, double lo, double hi);
double rng_normal(rng *r);                    /* standard normal */
bool rng_bool(rng *r);

/* ---- the long-double reference ------------------------------------------------------- */

/* Per-row statistics in long double, from the same f32 inputs the library sees.
 * LayerNorm: two-pass, shifted by x[0] first so the mean stays exact when |mean| >> std.
 * RMSNorm: the sum of squares, exact in long double for any f32 input. */
typedef struct ref_stats {
    long double mean;  /* 0 for RMSNorm */
    long double rstd;  /* 1/sqrt(ms + eps) or 1/(sqrt(ms) + eps) */
} ref_stats;

ref_stats ref_row(bool layernorm, const float *x, size_t n, float eps, bool eps_outside_sqrt);

/* ---- the accuracy contract ------------------------------------------------------------- */

/* For each output: |y - y_ref| <= CONTRACT_TOL * (|gamma| * (1 + |xhat_ref|) + |beta|)
 * + CONTRACT_UNDERFLOW, gamma = 1 and beta = 0 when absent; the statistics are held to
 * CONTRACT_TOL relative.
 *
 * The absolute term is the underflow: an output in f32's subnormal range cannot be closer to
 * y_ref than half a subnormal step (2^-150) even correctly rounded, and a kernel rounds there
 * twice at most (u * gamma, then + beta without a fused multiply-add), so one step, 2^-149,
 * covers it. Without it the relative term falls below half a step for gamma around 2^-132
 * (the scalar oracle itself then misses the bound: README, "Accuracy contract"). */
#define CONTRACT_TOL 0x1p-20
#define CONTRACT_UNDERFLOW 0x1p-149L

/* The bound above, for one output (gamma' = 1 + gamma under the unit offset: the factor y is
 * scaled by). */
long double contract_bound(long double gamma, long double xhat, long double beta);

/* silu(z) = z / (1 + exp(-z)) in long double, with silu(-Inf) = -0, its limit (the header's
 * definition; the formula would give NaN). */
long double silu_l(long double z);

/* What went wrong, for the failure message. */
typedef struct mismatch {
    bool failed;
    size_t index;          /* element in the row (or the row, for statistics) */
    const char *what;      /* "y", "mean", "rstd", "NaN pattern", ... */
    double got;
    long double want, bound;
} mismatch;

/* Compares one output row with the reference. A "special" row (non-finite inputs, or a
 * reference that is not finite, e.g. eps = 0 on a constant row) is held to `pattern` instead:
 * NaN exactly where pattern is NaN, +-Inf and 0 exactly, finite values within the bound.
 * Returns the worst err/bound seen; stops at the first violation, which it describes in *m. */
double check_row(const float *y, const float *x, size_t n, const float *gamma, const float *beta,
                 ref_stats ref, bool special, const float *pattern, mismatch *m);

/* Is this row's reference finite everywhere, with finite inputs? If not, it is "special". */
bool row_is_special(const float *x, size_t n, const float *gamma, const float *beta, ref_stats ref);

/* A statistic (mean or rstd) against its reference: |got - want| <= bound, the caller
 * supplying the bound. A NaN want needs a NaN; a want beyond the f32 range needs the Inf it
 * rounds to. Returns err/bound; fills *m on failure. */
double check_stat(float got, long double want, long double bound, const char *what, size_t row,
                  mismatch *m);

/* ---- guard pages ----------------------------------------------------------------------- */

enum guard_side {
    GUARD_AFTER,   /* the buffer ends exactly where a PROT_NONE page begins */
    GUARD_BEFORE   /* the buffer begins exactly where a PROT_NONE page ends */
};

typedef struct guarded {
    void *map;
    size_t map_len;
    void *p;
} guarded;

/* count floats (>= 1) between two PROT_NONE pages, flush against the one on `side`. */
float *guard_alloc(guarded *g, size_t count, enum guard_side side);
/* The same for any number of bytes (>= 1): a row of 2-byte elements of odd length ends
 * 2 bytes past a 4-byte boundary, flush against the page. */
void *guard_alloc_bytes(guarded *g, size_t bytes, enum guard_side side);
void guard_free(guarded *g);

/* A crash in a test (an out-of-bounds access hitting a guard page) prints `test_context`,
 * which the tests keep describing the case in flight, then dies with the signal. */
extern char test_context[512];
void install_crash_handler(void);

/* A quiet NaN with a payload: as a canary it is bit-compared, and any kernel that reads it
 * into arithmetic turns its output into NaN. */
#define CANARY_BITS 0x7fc5a5a5u
void fill_canary(float *p, size_t count);
bool is_canary(const float *p);

/* ---- half precision ------------------------------------------------------------------ */

/* Element types, with the values of norm_dtype (this header does not include norm.h). */
enum test_type { T_F32 = 0, T_F16 = 1, T_BF16 = 2 };

const char *type_name(int t);   /* "f32" "f16" "bf16" */
size_t type_size(int t);        /* 4 or 2 */

/* Written here from the formats' definitions (frexp, ldexp and nearbyint in double), not
 * taken from the library, so that the tests do not hold the library to itself.
 *   half_to_float: exact (every f16 and bf16 value is an f32); NaN gives a NaN.
 *   half_from_float: rounds to nearest, ties to even, overflowing to +-Inf and rounding
 *   into and within the subnormals; NaN gives a quiet NaN of the same sign. */
float half_to_float(uint16_t h, int t);
uint16_t half_from_float(float v, int t);
/* v rounded to type t and widened back (v itself for T_F32): what a row of t stores. */
float round_to_type(float v, int t);
/* Element i of an array of type t, as f32 (exact); store rounds v to t and returns the
 * value stored, as f32. */
float type_load(const void *p, size_t i, int t);
float type_store(void *p, size_t i, float v, int t);

/* The largest finite value of t, and the ulp of t at v: 2^(e - p) for |v| in [2^e, 2^(e+1)),
 * p the fraction bits (10 f16, 7 bf16, 23 f32), the subnormal spacing below the smallest
 * normal (2^-24 f16, 2^-133 bf16), and the ulp of the largest binade above it. */
long double type_max(int t);
long double type_ulp(long double v, int t);

/* One half-precision output against its long-double reference:
 *   - a NaN reference needs a NaN, and a NaN needs a NaN reference;
 *   - an infinite reference needs that infinity;
 *   - a reference beyond the largest finite value needs the infinity or the largest finite
 *     value of its sign (rounding either way is within an ulp of the format's range);
 *   - otherwise |got - want| <= 1 ulp of t at want + slack (got not infinite).
 * slack is the f32 contract's bound for that element (half_slack): the half contract is
 * "a result meeting the f32 contract, rounded once more", which near zero (where
 * gamma * xhat and beta cancel) is not within an ulp of the exact value.
 * Returns whether it holds; *ulps gets |got - want| in ulps at want (0 for the cases
 * without a distance). */
bool check_half(uint16_t got, int t, long double want, long double slack, double *ulps);

/* The f32 contract's bound for one output, contract_bound(gamma, xhat, beta). */
long double half_slack(long double gamma, long double xhat, long double beta);

/* How many representable values apart two non-NaN half values are (+0 and -0 count as one,
 * and the largest finite value is one step from the infinity of its sign); -1 if either is
 * a NaN. */
int half_steps(uint16_t a, uint16_t b, int t);

#endif /* NORM_TEST_COMMON_H */
