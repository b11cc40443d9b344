/*
 * The RMSNorm and LayerNorm kernels, written once over the thin vector layer of
 * vec_<isa>.h and cvt_<isa>.h (included before this file). Each ISA's
 * kernels/<arch>/norm_<isa>.c is the includes plus one line listing its type combinations.
 *
 * The algorithm, by concern, in the order each part needs the ones before it:
 *   access.h     typed loads and stores (f32, f16, bf16 as f32 vectors), the row source
 *   sums.h       a row's sums (of squares; of values and squares around a shift), its rstd
 *   shift.h      LayerNorm's shift, from the row itself
 *   gate.h       silu, and the gate's rows computed ahead
 *   output.h     the output loops, one out-of-line function per type triple
 *   rows.h       the row loops of both norms and of the moments
 *   instances.h  the kernels of a list of type combinations, and the table they fill
 *
 * Element types are compile-time constants of always-inline functions, with the
 * conversions inlined into the loads and stores. All arithmetic is f32 (sums folded into
 * f64), whatever the storage type. What varies per call or per row (gamma and beta present,
 * the unit offset, the gate, streaming stores) is decided outside the loops, except in the
 * few shapes output.h specialises.
 *
 * Per row: one pass for the statistics, one pass for the output; the row is read twice,
 * which is the floor for a norm whose scale depends on the whole row. The second read
 * comes from L1/L2 for every row length up to tens of thousands.
 *
 * Accuracy (README, "Accuracy contract"): sums are kept in f32 lanes, each lane taking at
 * most NORM_FOLD terms before it is folded into f64, so rounding error does not grow with
 * the row length. Rows whose f32 sums could overflow or underflow, or that hold Inf/NaN,
 * go to the scalar double-precision row (the oracle), which is exact for them.
 */
#include <float.h>
#include <stdint.h>

#include "kernels.h"
#include "scalar/half.h"

#define NORM_CAT_(a, b) a##_##b
#define NORM_CAT(a, b) NORM_CAT_(a, b)
#define NORM_FN(name) NORM_CAT(name, NORM_SUFFIX)

/* The element types by the names the instance lists use (instances.h). */
#define NORM_DT_f32 NORM_F32
#define NORM_DT_f16 NORM_F16
#define NORM_DT_bf16 NORM_BF16
#define NORM_DT_i8 NORM_I8

#define NORM_FOLD 8
/* Short f32 rows' sums take half the accumulators (sums.h), up to one block of them. */
#if NORM_UNROLL == 8
#define NORM_SHORT_UNROLL 4 /* a literal: unroll.h pastes it */
#else
#define NORM_SHORT_UNROLL 2
#endif
#define NORM_SHORT_SUMS_MAX ((size_t)NORM_W * NORM_SHORT_UNROLL * NORM_FOLD)
/* Rows shorter than this are summed one row ahead of their output, which hides the latency of
 * their chain from sums to rstd (plain LayerNorm 4096x128: 1.6x the floor pipelined, 1.9x
 * not); longer ones are faster one row at a time (fused RMSNorm 16x4096: 1.27x -> 1.10x),
 * which keeps the row in L1 between its two passes. Plain RMSNorm rows are never pipelined. */
#define NORM_AHEAD_BELOW 1024
/* f32 values of silu(z) or x * silu(z) kept on the stack between passes (16 KiB): one row of
 * up to this many, or two pipelined rows (shorter than NORM_AHEAD_BELOW) of half. */
#define NORM_STASH 4096
_Static_assert(NORM_AHEAD_BELOW <= NORM_STASH / 2, "two pipelined rows fit the stash");
#define NORM_ALWAYS_INLINE inline __attribute__((always_inline))
/* Out of line and not cloned: GCC cloned the per-row sums and the shift for constant
 * arguments, 10-20 KB per tier for calls that take a few nanoseconds. */
#if defined(__GNUC__) && !defined(__clang__)
#define NORM_OUT_OF_LINE __attribute__((noinline, noclone))
#else
#define NORM_OUT_OF_LINE __attribute__((noinline))
#endif

#include "vec_contract.h"
#include "unroll.h"
#include "access.h"
#include "sums.h"
#include "shift.h"
#include "gate.h"
#include "output.h"
#include "rows.h"
#include "instances.h"
