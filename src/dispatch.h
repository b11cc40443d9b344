/* The dispatcher's interface to the rest of the library (and to the tests). */
#ifndef NORM_DISPATCH_H
#define NORM_DISPATCH_H

#include "config.h"
#include "kernels.h"

/* The table of the active tier; initialises the dispatcher on first use. */
NORM_INTERNAL const norm_kernels *norm_kernels_active(void);
/* The table of one tier, or NULL if it is not compiled in or this CPU cannot run it.
 * Ignores NORM_ISA: the tests use it to compare every runnable tier with the oracle. */
NORM_INTERNAL const norm_kernels *norm_kernels_for(norm_isa isa);

/* The tables the tests compare with the oracle, by name: a tier's, or a variant within one.
 * "avx512" is AVX-512 without vcvtneps2bf16, "avx512bf16" with it; NULL if it cannot run. */
NORM_INTERNAL const norm_kernels *norm_kernels_variant(const char *name);

#endif
