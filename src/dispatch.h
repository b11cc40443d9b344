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

#endif
