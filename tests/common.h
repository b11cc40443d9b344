/*
 * Helpers shared by the two test programs (checkasm links the internal library, api only the
 * public one), so this header depends on neither: no norm.h, no kernels.h.
 *
 *  - a seeded RNG, so that every run can be replayed from the seed it prints;
 *  - the long-double reference both programs hold the library to;
 *  - the accuracy contract, checked element by element;
 *  - an allocator that puts a buffer flush against a PROT_NONE page.
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

/* For each output: |y - y_ref| <= CONTRACT_TOL * (|gamma| * (1 + |xhat_ref|) + |beta|),
 * gamma = 1 and beta = 0 when absent; the statistics are held to CONTRACT_TOL relative. */
#define CONTRACT_TOL 0x1p-20

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
    float *p;
} guarded;

/* count floats (>= 1) between two PROT_NONE pages, flush against the one on `side`. */
float *guard_alloc(guarded *g, size_t count, enum guard_side side);
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

#endif /* NORM_TEST_COMMON_H */
