/* The dispatcher's interface to the rest of the library (and to the tests). */
#ifndef NORM_DISPATCH_H
#define NORM_DISPATCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "isa_list.h"
#include "kernels.h"

/* The table of the active tier; initialises the dispatcher on first use. Inline: a load and a
 * branch on every call (the first goes to norm_kernels_init). */
NORM_INTERNAL extern _Atomic(const norm_kernels *) norm_active_table;
NORM_INTERNAL const norm_kernels *norm_kernels_init(void);
static inline const norm_kernels *norm_kernels_active(void)
{
    const norm_kernels *k = atomic_load_explicit(&norm_active_table, memory_order_acquire);
    return __builtin_expect(k != NULL, 1) ? k : norm_kernels_init();
}
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

/* ---- what the library tells a person (src/report.c) ---------------------------------- */

/* NORM_VERBOSE: -1 until the dispatcher has read the environment, then 0 (off) or 1 (on). An
 * entry point tests it with norm_verbose_pending(), one load and a branch, and only where it
 * is not 0 calls norm_verbose_init(), which reads the environment (once per process) and
 * returns 0 or 1. */
NORM_INTERNAL extern _Atomic int norm_verbose_state;
NORM_INTERNAL int norm_verbose_init(void);
static inline bool norm_verbose_pending(void)
{
    return __builtin_expect(atomic_load_explicit(&norm_verbose_state, memory_order_relaxed) != 0, 0);
}

/* Records this thread's error detail (norm_last_error_detail), printf-style. Out of line and
 * cold: only failing calls pay. norm_fail(status, fmt, ...) records it and gives status, as
 * a constant the caller's later tests of the status can fold: every error return of the
 * library is written `return norm_fail(NORM_ERR_..., "what was found", values)`. */
NORM_INTERNAL __attribute__((cold, noinline, format(printf, 1, 2))) void norm_set_detail(const char *fmt, ...);
#define norm_fail(status, ...) (norm_set_detail(__VA_ARGS__), (status))

/* A monotonic clock in ns, for NORM_VERBOSE's call times. */
NORM_INTERNAL uint64_t norm_now_ns(void);

/* NORM_VERBOSE's line for one call: the entry point, the tier and kernels, what the call asked
 * for (p as the library read it, or NULL where it could not be read), its status (with this
 * thread's error detail) and its time. */
NORM_INTERNAL void norm_verbose_call(const char *entry, const norm_params *p, norm_status status, uint64_t ns);

#endif
