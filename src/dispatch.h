/* The dispatcher's interface to the rest of the library (and to the tests). */
#ifndef NORM_DISPATCH_H
#define NORM_DISPATCH_H

#include <stdbool.h>

#include "config.h"
#include "isa_list.h"
#include "kernels.h"

/* The table of the active tier; initialises the dispatcher on first use. */
NORM_INTERNAL const norm_kernels *norm_kernels_active(void);
/* The table of one tier, or NULL if it is not compiled in or this CPU cannot run it.
 * Ignores NORM_ISA: the tests use it to compare every runnable tier with the oracle. */
NORM_INTERNAL const norm_kernels *norm_kernels_for(norm_isa isa);

/* The tables the tests compare with the oracle, by the name of an entry of src/isa_list.h: a
 * tier's without its variants ("avx512": AVX-512 without vcvtneps2bf16), or a variant's (its
 * tier's with that variant: "avx512bf16"). NULL if it is not compiled in, this CPU cannot run
 * it, it belongs to another architecture or the name is unknown. Ignores NORM_ISA. */
NORM_INTERNAL const norm_kernels *norm_kernels_variant(const char *name);

/* Whether that entry can run here (norm_kernels_variant(name) != NULL): what the tests ask
 * before calling an ISA's own functions, such as its converters (kernels/convert.h). */
NORM_INTERNAL bool norm_variant_supported(const char *name);

#endif
