/*
 * The public entry points: validate everything, then hand one job to the active kernel.
 * Nothing is written unless every check passes.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dispatch.h"
#include "parallel.h"

/* Above this many bytes of x and y the rows cannot stay in cache anyway: stream y out (and
 * fetch each next row during the output pass). 32 MiB is the last-level cache one core sees
 * on the development machine (and more than most); at 64 MiB, 2048x4096 bf16 rows (32 MiB)
 * ran at 1.5x the rows/s of f32, with it at 1.66x (f16: 1.97x). */
#define NONTEMPORAL_BYTES ((size_t)32 << 20)

/* The sizes of norm_params that released headers declared; each is a prefix of this
 * version's layout (fields are only ever appended): 0.1.0 ended at rstd, 0.1.1 at the
 * residual add's bias. */
#define PARAMS_0_1_0_SIZE offsetof(norm_params, residual)
#define PARAMS_0_1_1_SIZE (offsetof(norm_params, bias) + sizeof(const void *))
/* 0.2.0 ended at the given moments; 0.3.0 added the threads and the two-level rows. */
#define PARAMS_0_2_0_SIZE offsetof(norm_params, threads)
/* A struct from a newer header is read up to its struct_size, so that size is bounded (as
 * Linux bounds the extensible structs of clone3 and openat2): a garbage struct_size, such as
 * an uninitialised field, is refused instead of sending the check of the unknown tail into
 * unmapped memory. No released or planned layout comes near it. */
#define PARAMS_MAX_SIZE 512

/* A set of `rows` byte ranges [base + i*stride, base + i*stride + len), and their hull
 * [base, end), computed once: a call compares each output with every other buffer. */
typedef struct span {
    uintptr_t base, end;
    size_t stride, rows, len;  /* in bytes */
    size_t ostride, outer;     /* two-level rows: `outer` such sets, ostride bytes apart */
} span;

static ptrdiff_t floor_div(ptrdiff_t a, ptrdiff_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

/* Row k of a meets row i of b iff off - a.len < (k - i) * S < off + b.len, with
 * off = b.base - a.base and S = a.stride; valid when b has a's stride or is a single row. */
static bool rows_meet(const span *a, const span *b)
{
    ptrdiff_t off = (ptrdiff_t)(b->base - a->base), S = (ptrdiff_t)a->stride;
    ptrdiff_t lo = floor_div(off - (ptrdiff_t)a->len, S) + 1;
    ptrdiff_t hi = floor_div(off + (ptrdiff_t)b->len - 1, S);
    if (lo < 1 - (ptrdiff_t)b->rows)
        lo = 1 - (ptrdiff_t)b->rows;
    if (hi > (ptrdiff_t)a->rows - 1)
        hi = (ptrdiff_t)a->rows - 1;
    return lo <= hi;
}

/* Do two row sets whose hulls meet share a byte? Exact when one side is a single row or the
 * strides are equal (the layouts real callers use, e.g. y interleaved with x in one buffer);
 * otherwise conservatively true. */
static __attribute__((noinline)) bool rows_overlap(const span *a, const span *b)
{
    if (a->rows == 1 && b->rows == 1)
        return true;
    if (b->rows == 1 || a->stride == b->stride)
        return rows_meet(a, b);
    if (a->rows == 1)
        return rows_meet(b, a);
    return true;
}

/* ---- two-level rows (norm_params.outer) ---- */

/* A two-level set that is one level: one block, blocks of one row, or dense blocks. */
static bool as_one_level(const span *a, span *one)
{
    *one = *a;
    one->outer = 1;
    if (a->outer == 1)
        return true;
    if (a->rows == 1) {
        one->rows = a->outer;
        one->stride = a->ostride;
        return true;
    }
    if (a->ostride == a->rows * a->stride) { /* fits: the extent was checked */
        one->rows = a->outer * a->rows;
        return true;
    }
    return false;
}

/* Two-level a against b, where b is a single row or has a's strides and counts. The validator
 * makes a block's extent at most ostride (blocks never interleave), so b (whose blocks, or
 * whose row, are no longer than that either) can meet only the blocks of a whose offset m from
 * it is within one of off / ostride; each such pair of blocks is a pair of one-level sets. */
static bool blocks_meet(const span *a, const span *b)
{
    const ptrdiff_t off = (ptrdiff_t)(b->base - a->base), OS = (ptrdiff_t)a->ostride;
    const ptrdiff_t dc = floor_div(off, OS), last = (ptrdiff_t)a->outer - 1;
    const bool single = b->outer == 1;
    span a1 = *a, b1 = *b;
    a1.outer = b1.outer = 1;
    for (ptrdiff_t m = dc - 1; m <= dc + 1; m++) {
        /* single: b against a's block m; else a's block i against b's block i - m, any i. */
        if (m > last || m < (single ? 0 : -last))
            continue;
        b1.base = b->base - (uintptr_t)(m * OS);
        if (rows_meet(&a1, &b1))
            return true;
    }
    return false;
}

/* rows_overlap for sets that may have outer blocks: exact when both are one level (see
 * as_one_level), when they share their layout, or when one is a single row no longer than
 * the other's outer stride; otherwise conservatively true, as rows_overlap is. */
static __attribute__((noinline)) bool sets_overlap(const span *a, const span *b)
{
    span a1, b1;
    bool a_one = as_one_level(a, &a1), b_one = as_one_level(b, &b1);
    if (a_one && b_one)
        return rows_overlap(&a1, &b1);
    if (a_one) { /* b one level, a not */
        const span *t = a;
        a = b;
        b = t;
    }
    if (b->ostride == a->ostride && b->stride == a->stride && b->rows == a->rows && b->outer == a->outer &&
        b->len == a->len)
        return blocks_meet(a, b);
    if (b->outer == 1 && b->rows == 1 && b->len <= a->ostride)
        return blocks_meet(a, b);
    return true;
}

/* Inlined: buffers that are simply apart (the usual case) cost two comparisons. */
static inline __attribute__((always_inline)) bool spans_overlap(const span *a, const span *b)
{
    return a->end > b->base && b->end > a->base && (a->outer == 1 && b->outer == 1 ? rows_overlap(a, b) : sets_overlap(a, b));
}

/* Called only once extent_fits has passed, so the end cannot wrap. */
static span make_span(const void *p, size_t stride, size_t rows, size_t n, size_t elem)
{
    span s = { (uintptr_t)p, (uintptr_t)p + ((rows - 1) * stride + n) * elem, stride * elem, rows, n * elem, 0, 1 };
    return s;
}

/* The same with outer blocks (outer >= 1; ostride unused when outer is 1). */
static span make_span2(const void *p, size_t stride, size_t rows, size_t n, size_t elem, size_t ostride,
                       size_t outer)
{
    span s = make_span(p, stride, rows, n, elem);
    /* With one block the outer stride means nothing: 0, so that it cannot keep y == x from
     * being in place. */
    s.end += (outer - 1) * ostride * elem;
    s.ostride = outer > 1 ? ostride * elem : 0;
    s.outer = outer;
    return s;
}

/* rows*stride elements of `elem` bytes, and the end address, must not wrap. */
static bool extent_fits(const void *p, size_t rows, size_t stride, size_t n, size_t elem)
{
    size_t last;
    if (__builtin_mul_overflow(rows - 1, stride, &last) || __builtin_add_overflow(last, n, &last) ||
        __builtin_mul_overflow(last, elem, &last))
        return false;
    uintptr_t end;
    return !__builtin_add_overflow((uintptr_t)p, last, &end);
}

/* The same for outer blocks of such rows, ostride elements apart. */
static bool extent2_fits(const void *p, size_t rows, size_t stride, size_t n, size_t elem, size_t ostride,
                         size_t outer)
{
    if (outer == 1)
        return extent_fits(p, rows, stride, n, elem);
    size_t last, block;
    if (__builtin_mul_overflow(rows - 1, stride, &block) || __builtin_add_overflow(block, n, &block) ||
        __builtin_mul_overflow(outer - 1, ostride, &last) || __builtin_add_overflow(last, block, &last) ||
        __builtin_mul_overflow(last, elem, &last))
        return false;
    uintptr_t end;
    return !__builtin_add_overflow((uintptr_t)p, last, &end);
}

static bool dtype_valid(norm_dtype t) { return t == NORM_F32 || t == NORM_F16 || t == NORM_BF16; }

/* A row's moments can be used: a positive count, and no negative m2 (NaN or Inf moments,
 * from a row holding them, are allowed: they give that row NaN, as one call would). */
static bool moments_valid(const norm_moments *m, size_t rows, bool empty_ok)
{
    for (size_t r = 0; r < rows; r++)
        if (!(m[r].count > 0.0 || (empty_ok && m[r].count == 0.0)) || !isfinite(m[r].count) || m[r].m2 < 0.0)
            return false;
    return true;
}

#define ALL_FLAGS (NORM_EPS_OUTSIDE_SQRT | NORM_UNIT_OFFSET | NORM_GATE_BEFORE_NORM)

/* Strides of 0 mean dense rows. */
static size_t stride_or_n(size_t stride, size_t n) { return stride ? stride : n; }

/* The field rules both entry points share, in the order of their statuses: kind, flags and
 * types (BAD_ARGUMENT), the parameters' type (UNSUPPORTED_TYPE), then the fields that go
 * together (BAD_ARGUMENT). An entry point adds its own rules of the first and of the last
 * kind as types_ok and together_ok, so that each status keeps its place in the order. */
static inline __attribute__((always_inline)) norm_status
check_fields(const norm_params *p, unsigned known_flags, bool types_ok, bool together_ok)
{
    if ((p->kind != NORM_RMSNORM && p->kind != NORM_LAYERNORM) || (p->flags & ~known_flags) ||
        !dtype_valid(p->x_type) || !dtype_valid(p->param_type) || !types_ok)
        return NORM_ERR_BAD_ARGUMENT;
    /* gamma, beta and the bias are f32 or the type of x. */
    if (p->param_type != NORM_F32 && p->param_type != p->x_type)
        return NORM_ERR_UNSUPPORTED_TYPE;
    if (!together_ok)
        return NORM_ERR_BAD_ARGUMENT;
    if (!p->residual && (p->residual_out || p->bias))
        return NORM_ERR_BAD_ARGUMENT; /* the bias and the write-back belong to the residual add */
    if ((p->flags & NORM_GATE_BEFORE_NORM) && !p->gate)
        return NORM_ERR_BAD_ARGUMENT;
    if (p->gate && (p->kind != NORM_RMSNORM || p->residual))
        return NORM_ERR_BAD_ARGUMENT; /* gated RMSNorm only, not fused with the residual add */
    return NORM_OK;
}

/* One buffer of a call, as its entry point lists it: all that check_buffers knows of the
 * call. Strides are in elements, 0 already resolved to n. A vector (gamma, mean, the
 * moments) is one row whose stride is its length, so that the stride rule holds for it. */
typedef struct buffer {
    const void *p;           /* NULL: not given (an error if required) */
    size_t stride, rows, n;  /* in elements */
    size_t ostride, outer;   /* rows: outer blocks of `rows` rows, ostride elements apart (resolved
                              * by outer_layout); vectors: 0 and 1 */
    size_t elem;             /* bytes per element */
    unsigned role;           /* BUF_OUT or 0 (an input), BUF_REQUIRED, BUF_MOMENTS */
    unsigned tag;            /* an input's: names it for an output that may replace it */
    unsigned may_be;         /* an output's: the tags of the inputs it may replace */
} buffer;

enum {
    BUF_OUT = 1,      /* written: shares no byte with another buffer, except by may_be */
    BUF_REQUIRED = 2, /* must not be NULL */
    BUF_MOMENTS = 4,  /* norm_moments read as statistics: each row's must be usable */
};
/* The only sharing allowed: an output that is exactly (same address and stride) an input of
 * its type that it replaces element by element, named by the input's tag. */
enum { TAG_X = 1, TAG_RESIDUAL = 2 };

/* A list's entries: rows of n elements, and vectors (one row of len). */
#define ROWS(p, stride, rows, n, elem, role, tag, may_be) \
    { (p), (stride), (rows), (n), 0, 1, (elem), (role), (tag), (may_be) }
#define ROWS2(p, stride, ostride, outer, rows, n, elem, role, tag, may_be) \
    { (p), (stride), (rows), (n), (ostride), (outer), (elem), (role), (tag), (may_be) }
#define VECTOR(p, len, elem, role) ROWS(p, len, 1, len, elem, role, 0, 0)
#define COUNT(a) (sizeof (a) / sizeof *(a))
/* A loop over a list, unrolled: the lists are far shorter than 32. */
#define UNROLLED _Pragma("GCC unroll 32")

/* Does output o share a byte with buffer b, other than by replacing it (when it may)? The
 * hulls first: for buffers that are simply apart (the usual case) that is two comparisons. */
static inline __attribute__((always_inline)) bool spans_clash(const span *o, const span *b, bool may_replace)
{
    return o->end > b->base && b->end > o->base &&
           !(may_replace && o->base == b->base && o->stride == b->stride && o->ostride == b->ostride) &&
           (o->outer == 1 && b->outer == 1 ? rows_overlap(o, b) : sets_overlap(o, b));
}

/* The checks every buffer of a call gets, in the order of their statuses: strides of at least
 * n; then, with rows to do, the required pointers, extents that fit the address space, the
 * moments given, and every output against every other buffer given. Returns NORM_OK without
 * looking at a pointer when rows is 0: the call then does nothing. `at` has an entry per
 * buffer, for the hulls of those given.
 * Inlined into each entry point, whose list has a constant length, so that every loop here
 * unrolls and the list's constant fields (roles, tags, vectors' strides) fold away: what is
 * left is the checks as they would be written out by hand, on scalars, with no list or hull
 * array in memory. A loop at run time over the buffers given made a fused 1x16 norm_run
 * 71 ns instead of 65. */
static inline __attribute__((always_inline)) norm_status
check_buffers(const buffer *b, span *at, size_t count, size_t rows)
{
    UNROLLED
    for (size_t i = 0; i < count; i++)
        if (b[i].stride < b[i].n)
            return NORM_ERR_BAD_STRIDE;
    if (rows == 0)
        return NORM_OK;
    /* Outer blocks must not interleave: a block's rows end before the next block begins. A
     * block too long to compute is left to the extent check (SIZE_OVERFLOW). */
    UNROLLED
    for (size_t i = 0; i < count; i++) {
        size_t block;
        if (b[i].outer > 1 && !__builtin_mul_overflow(b[i].rows - 1, b[i].stride, &block) &&
            !__builtin_add_overflow(block, b[i].n, &block) && b[i].ostride < block)
            return NORM_ERR_BAD_STRIDE;
    }
    UNROLLED
    for (size_t i = 0; i < count; i++)
        if (!b[i].p && (b[i].role & BUF_REQUIRED))
            return NORM_ERR_NULL_POINTER;
    /* Buffers not given too: a size that wraps is refused whether or not its buffer is. */
    UNROLLED
    for (size_t i = 0; i < count; i++)
        if (!extent2_fits(b[i].p, b[i].rows, b[i].stride, b[i].n, b[i].elem, b[i].ostride, b[i].outer))
            return NORM_ERR_SIZE_OVERFLOW;
    /* Only now are the moments known to be addressable. */
    UNROLLED
    for (size_t i = 0; i < count; i++)
        if ((b[i].role & BUF_MOMENTS) && b[i].p && !moments_valid(b[i].p, b[i].n, false))
            return NORM_ERR_BAD_MOMENTS;

    /* Each hull once, for the buffers given: NULL optional buffers drop out. */
    UNROLLED
    for (size_t i = 0; i < count; i++)
        if (b[i].p)
            at[i] = make_span2(b[i].p, b[i].stride, b[i].rows, b[i].n, b[i].elem, b[i].ostride, b[i].outer);
    /* Each output given against every other buffer given, but the outputs before it: those
     * met it as theirs. */
    UNROLLED
    for (size_t o = 0; o < count; o++) {
        if (!(b[o].role & BUF_OUT) || !b[o].p)
            continue;
        UNROLLED
        for (size_t i = 0; i < count; i++)
            if (i != o && !(i < o && (b[i].role & BUF_OUT)) && b[i].p &&
                spans_clash(&at[o], &at[i], (b[o].may_be & b[i].tag) != 0))
                return NORM_ERR_OVERLAP;
    }
    return NORM_OK;
}

/* ---- threads and two-level rows (0.3.0) ------------------------------------------------ */

/* The thread setting, checked right after the fields (BAD_ARGUMENT), on its own line so that it
 * stays apart from check_fields' rules: the pool callback needs no check. */
static inline bool threading_ok(const norm_params *p) { return norm_threads_valid(p->threads); }

static inline norm_threading threading_of(const norm_params *p)
{
    norm_threading t = { p->threads, p->parallel_for, p->parallel_context };
    return t;
}

/* Outer blocks (0 means 1), and the per-row entries of a call: outer * rows, saturated so that
 * a product that does not fit fails the per-row arrays' extent check (SIZE_OVERFLOW). */
static inline size_t outer_of(const norm_params *p) { return p->outer ? p->outer : 1; }
static inline size_t flat_rows(size_t outer, size_t rows)
{
    size_t f;
    return __builtin_mul_overflow(outer, rows, &f) ? SIZE_MAX : f;
}

/* A buffer's outer stride; 0 means dense blocks, rows * its row stride (saturated likewise).
 * With one block there is none to compute (0): a one-block call, the common one, pays nothing
 * for the outer strides. */
static inline size_t outer_stride(size_t outer, size_t os, size_t rows, size_t stride)
{
    size_t dense;
    if (outer == 1)
        return 0;
    return os ? os : __builtin_mul_overflow(rows, stride, &dense) ? SIZE_MAX : dense;
}

/* Bytes a call moves through x and y (or x alone), what decides whether threads pay; the
 * extents were checked, but their sum is saturated rather than trusted. */
static inline size_t call_bytes(size_t flat, size_t n, size_t xe, size_t ye)
{
    size_t bytes;
    return __builtin_mul_overflow(flat * n, xe + ye, &bytes) ? SIZE_MAX : bytes;
}

/* Runs a validated call through src/parallel.c: its blocks, tiles and slices on the threads it
 * may use. The entry points first ask norm_call_direct() whether the call can go straight to its
 * kernel on this thread (one block of short rows that is small or asks for one thread: the common
 * case), and only otherwise build this: copying the job into a norm_call cost a 1x4096 dense
 * call about 100 instructions (callgrind), a few percent of its time. Not inlined, so that the
 * direct path stays as short as it was. */
static __attribute__((noinline)) void run_call(const norm_job *job, size_t outer, const size_t os[5],
                                               norm_kernel_fn *apply, norm_kernel_fn *moments,
                                               const norm_threading *t)
{
    const norm_call c = {
        .job = *job, .outer = outer, .x_os = os[0], .y_os = os[1], .r_os = os[2], .h_os = os[3], .z_os = os[4],
        .apply = apply, .moments = moments,
    };
    norm_call_run(&c, t);
}

/* Checks a request completely, then runs it. Reads the caller's struct in place: the
 * checks are the whole cost of a call on short rows, so nothing is copied. one_block is a
 * constant at each call site (run_checked): with it true the outer blocks' checks fold away,
 * and a one-block call costs what it did before two-level rows (about 100 instructions less
 * than with outer read at run time, by callgrind on a 1x4096 norm_run). */
static inline __attribute__((always_inline)) norm_status run_checked_blocks(const norm_params *p, bool one_block)
{
    norm_status st = check_fields(p, ALL_FLAGS, dtype_valid(p->y_type) || p->y_type == NORM_I8,
                                  /* RMSNorm has no mean to report; the residual add belongs
                                   * to the moments step */
                                  !(p->kind == NORM_RMSNORM && p->mean) && !(p->moments && p->residual));
    if (st != NORM_OK)
        return st;
    if (!threading_ok(p))
        return NORM_ERR_BAD_ARGUMENT;
    if (p->y_type == NORM_I8) {
        /* 1 / s must be finite too: a subnormal s below 2^-128 has none in f32, and each tier
         * would then make its own sense of y * Inf (issue: avx2 gave 0 where scalar gave 127). */
        bool static_scale = p->y_scale > 0.0f && isfinite(p->y_scale) && isfinite(1.0f / p->y_scale) &&
                            !p->y_scales;
        bool dynamic_scale = p->y_scale == 0.0f && p->y_scales;
        if (!static_scale && !dynamic_scale)
            return NORM_ERR_BAD_SCALE;
    } else if (p->y_scale != 0.0f || p->y_scales) {
        return NORM_ERR_BAD_ARGUMENT; /* scales belong to int8 output */
    }
    if (p->n == 0)
        return NORM_ERR_BAD_SIZE;
    if (!(p->eps >= 0.0f) || !isfinite(p->eps))
        return NORM_ERR_BAD_EPS;

    const size_t rows = p->rows, n = p->n, outer = one_block ? 1 : outer_of(p), flat = flat_rows(outer, rows);
    const size_t x_stride = stride_or_n(p->x_stride, n), y_stride = stride_or_n(p->y_stride, n);
    const size_t r_stride = stride_or_n(p->residual_stride, n);
    const size_t h_stride = stride_or_n(p->residual_out_stride, n), z_stride = stride_or_n(p->gate_stride, n);
    const size_t x_os = outer_stride(outer, p->x_outer_stride, rows, x_stride);
    const size_t y_os = outer_stride(outer, p->y_outer_stride, rows, y_stride);
    const size_t r_os = outer_stride(outer, p->residual_outer_stride, rows, r_stride);
    const size_t h_os = outer_stride(outer, p->residual_out_outer_stride, rows, h_stride);
    const size_t z_os = outer_stride(outer, p->gate_outer_stride, rows, z_stride);
    const size_t xe = norm_dtype_size(p->x_type), ye = norm_dtype_size(p->y_type);
    const size_t pe = norm_dtype_size(p->param_type);
    /* Every buffer of the call. y may be x in place (of the same type); the residual's
     * write-back, required with it, may be the residual or x. */
    const unsigned y_may_be = p->x_type == p->y_type ? TAG_X : 0;
    const unsigned h_role = BUF_OUT | (p->residual ? BUF_REQUIRED : 0);
    const buffer b[] = {
        /*    pointer          stride    outer stride, blocks  rows  n  elem  role                    tag           may be */
        ROWS2(p->y,            y_stride, y_os, outer,          rows, n, ye,   BUF_OUT | BUF_REQUIRED, 0,            y_may_be),
        ROWS2(p->residual_out, h_stride, h_os, outer,          rows, n, xe,   h_role,                 0,            TAG_X | TAG_RESIDUAL),
        ROWS2(p->x,            x_stride, x_os, outer,          rows, n, xe,   BUF_REQUIRED,           TAG_X,        0),
        ROWS2(p->residual,     r_stride, r_os, outer,          rows, n, xe,   0,                      TAG_RESIDUAL, 0),
        ROWS2(p->gate,         z_stride, z_os, outer,          rows, n, xe,   0,                      0,            0),
        /*     pointer      length  elem                  role */
        VECTOR(p->mean,     flat,   sizeof(float),        BUF_OUT),
        VECTOR(p->rstd,     flat,   sizeof(float),        BUF_OUT),
        VECTOR(p->y_scales, flat,   sizeof(float),        BUF_OUT),
        VECTOR(p->gamma,    n,      pe,                   0),
        VECTOR(p->beta,     n,      pe,                   0),
        VECTOR(p->bias,     n,      pe,                   0),
        VECTOR(p->moments,  flat,   sizeof(norm_moments), BUF_MOMENTS),
    };
    span at[COUNT(b)];
    st = check_buffers(b, at, COUNT(b), rows);
    if (st != NORM_OK || rows == 0)
        return st;

    norm_job job = {
        .y = p->y, .x = p->x, .y_stride = y_stride, .x_stride = x_stride,
        .rows = rows, .n = n, .gamma = p->gamma, .beta = p->beta, .eps = p->eps,
        .x_type = p->x_type, .y_type = p->y_type, .param_type = p->param_type,
        .eps_outside_sqrt = (p->flags & NORM_EPS_OUTSIDE_SQRT) != 0,
        .nontemporal = flat * (y_stride * ye + x_stride * xe) >= NONTEMPORAL_BYTES,
        .mean = p->mean, .rstd = p->rstd,
        .unit_offset = (p->flags & NORM_UNIT_OFFSET) != 0,
        .residual = p->residual, .residual_out = p->residual_out,
        .residual_stride = r_stride, .residual_out_stride = h_stride, .bias = p->bias,
        .gate = p->gate, .gate_stride = z_stride, .gate_before = (p->flags & NORM_GATE_BEFORE_NORM) != 0,
        .y_inv_scale = p->y_type == NORM_I8 && !p->y_scales ? 1.0f / p->y_scale : 1.0f, .y_scales = p->y_scales,
        .moments = p->moments,
    };
    const norm_kernels *k = norm_kernels_active();
    norm_kernel_fn *const (*table)[NORM_NYTYPES][NORM_NTYPES] =
        p->gate ? k->rmsnorm_gated : p->kind == NORM_RMSNORM ? k->rmsnorm : k->layernorm;
    norm_kernel_fn *apply = table[p->x_type][p->y_type][p->param_type];
    const norm_threading t = threading_of(p);
    if (norm_call_direct(outer, norm_call_sliced(n, p->moments != NULL, p->y_scales != NULL),
                         call_bytes(flat, n, xe, ye), &t)) {
        apply(&job);
        return NORM_OK;
    }
    const size_t os[5] = { x_os, y_os, r_os, h_os, z_os };
    run_call(&job, outer, os, apply,
             (p->kind == NORM_RMSNORM ? k->rmsnorm_moments : k->layernorm_moments)[p->x_type][p->param_type], &t);
    return NORM_OK;
}

static norm_status run_checked(const norm_params *p)
{
    return p->outer <= 1 ? run_checked_blocks(p, true) : run_checked_blocks(p, false);
}

/* A caller's struct as this version's: a released older layout is zero-extended; a newer
 * one (larger, aligned, at most PARAMS_MAX_SIZE) is accepted when every byte this version
 * does not know is zero. Nothing past the smaller of struct_size and sizeof(norm_params)
 * is read unless struct_size passes those bounds. */
static norm_status params_as_current(const norm_params *params, norm_params *copy, const norm_params **p)
{
    if (!params)
        return NORM_ERR_NULL_POINTER;
    const size_t size = params->struct_size;
    if (size >= sizeof(norm_params)) {
        if (size > PARAMS_MAX_SIZE || size % _Alignof(norm_params) != 0)
            return NORM_ERR_BAD_ARGUMENT;
        for (size_t i = sizeof(norm_params); i < size; i++)
            if (((const unsigned char *)params)[i] != 0)
                return NORM_ERR_BAD_ARGUMENT;
        *p = params;
        return NORM_OK;
    }
    if (size != PARAMS_0_1_0_SIZE && size != PARAMS_0_1_1_SIZE && size != PARAMS_0_2_0_SIZE)
        return NORM_ERR_BAD_ARGUMENT;
    memset(copy, 0, sizeof *copy);
    memcpy(copy, params, size);
    *p = copy;
    return NORM_OK;
}

norm_status norm_moments_run(const norm_params *params, norm_moments *out)
{
    norm_params copy;
    const norm_params *p;
    norm_status st = params_as_current(params, &copy, &p);
    if (st != NORM_OK)
        return st;
    st = check_fields(p, NORM_GATE_BEFORE_NORM, true,
                      /* Only what the moments depend on: the output's fields belong to the
                       * apply step, and only a gate before the norm changes the moments. */
                      !p->y && !p->gamma && !p->beta && !p->mean && !p->rstd && !p->y_scales &&
                          !p->moments && p->y_scale == 0.0f && (!p->gate || (p->flags & NORM_GATE_BEFORE_NORM)));
    if (st != NORM_OK)
        return st;
    if (!threading_ok(p))
        return NORM_ERR_BAD_ARGUMENT;
    if (p->n == 0)
        return NORM_ERR_BAD_SIZE;

    const size_t rows = p->rows, n = p->n, outer = outer_of(p), flat = flat_rows(outer, rows);
    const size_t x_stride = stride_or_n(p->x_stride, n), r_stride = stride_or_n(p->residual_stride, n);
    const size_t h_stride = stride_or_n(p->residual_out_stride, n), z_stride = stride_or_n(p->gate_stride, n);
    const size_t x_os = outer_stride(outer, p->x_outer_stride, rows, x_stride);
    const size_t r_os = outer_stride(outer, p->residual_outer_stride, rows, r_stride);
    const size_t h_os = outer_stride(outer, p->residual_out_outer_stride, rows, h_stride);
    const size_t z_os = outer_stride(outer, p->gate_outer_stride, rows, z_stride);
    const size_t xe = norm_dtype_size(p->x_type), pe = norm_dtype_size(p->param_type);
    /* Every buffer of the call. The write-back may replace x or the residual, as in norm_run. */
    const unsigned h_role = BUF_OUT | (p->residual ? BUF_REQUIRED : 0);
    const buffer b[] = {
        /*    pointer          stride    outer stride, blocks  rows  n  elem  role          tag           may be */
        ROWS2(p->residual_out, h_stride, h_os, outer,          rows, n, xe,   h_role,       0,            TAG_X | TAG_RESIDUAL),
        ROWS2(p->x,            x_stride, x_os, outer,          rows, n, xe,   BUF_REQUIRED, TAG_X,        0),
        ROWS2(p->residual,     r_stride, r_os, outer,          rows, n, xe,   0,            TAG_RESIDUAL, 0),
        ROWS2(p->gate,         z_stride, z_os, outer,          rows, n, xe,   0,            0,            0),
        /*     pointer  length  elem        role */
        VECTOR(out,     flat,   sizeof *out, BUF_OUT | BUF_REQUIRED),
        VECTOR(p->bias, n,      pe,          0),
    };
    span at[COUNT(b)];
    st = check_buffers(b, at, COUNT(b), rows);
    if (st != NORM_OK || rows == 0)
        return st;

    norm_job job = {
        .x = p->x, .x_stride = x_stride, .rows = rows, .n = n,
        .x_type = p->x_type, .y_type = NORM_F32, .param_type = p->param_type,
        .residual = p->residual, .residual_out = p->residual_out,
        .residual_stride = r_stride, .residual_out_stride = h_stride, .bias = p->bias,
        .gate = p->gate, .gate_stride = z_stride, .gate_before = p->gate != NULL,
        .moments_out = out,
    };
    const norm_kernels *k = norm_kernels_active();
    norm_kernel_fn *moments = (p->kind == NORM_RMSNORM ? k->rmsnorm_moments : k->layernorm_moments)[p->x_type][p->param_type];
    const norm_threading t = threading_of(p);
    if (norm_call_direct(outer, norm_call_sliced(n, false, false), call_bytes(flat, n, xe, 0), &t)) {
        moments(&job);
        return NORM_OK;
    }
    const size_t os[5] = { x_os, 0, r_os, h_os, z_os };
    run_call(&job, outer, os, NULL, moments, &t);
    return NORM_OK;
}

norm_status norm_moments_combine(norm_moments *acc, const norm_moments *part, size_t rows)
{
    if (rows == 0)
        return NORM_OK;
    if (!acc || !part)
        return NORM_ERR_NULL_POINTER;
    if (!extent_fits(acc, 1, 0, rows, sizeof *acc) || !extent_fits(part, 1, 0, rows, sizeof *part))
        return NORM_ERR_SIZE_OVERFLOW;
    span a = make_span(acc, 0, 1, rows, sizeof *acc), b = make_span(part, 0, 1, rows, sizeof *part);
    if (acc != part && spans_overlap(&a, &b))
        return NORM_ERR_OVERLAP;
    if (!moments_valid(acc, rows, true) || !moments_valid(part, rows, true))
        return NORM_ERR_BAD_MOMENTS;
    for (size_t r = 0; r < rows; r++)
        norm_moments_merge(&acc[r], part[r]);
    return NORM_OK;
}

norm_status norm_run(const norm_params *params)
{
    norm_params copy;
    const norm_params *p;
    norm_status st = params_as_current(params, &copy, &p);
    return st != NORM_OK ? st : run_checked(p);
}

/* Do [a, a + a_len) and [b, b + b_len) share a byte? spans_overlap on one-row spans says the
 * same, but building the spans cost a 16-element dense call 16 -> 18.5 ns. */
static bool ranges_meet(const void *a, size_t a_len, const void *b, size_t b_len)
{
    return (uintptr_t)a < (uintptr_t)b + b_len && (uintptr_t)b < (uintptr_t)a + a_len;
}

/* The dense entry points: run_checked's checks, in its order, for what these calls can get
 * wrong. Dense rows are one contiguous range, so an overlap is a comparison of two ranges.
 * A one-row call is the latency an engine waits on per token: it pays for nothing else. */
static norm_status run_dense(norm_kind kind, norm_dtype type, void *y, const void *x,
                             const void *gamma, const void *beta, size_t rows, size_t n, float eps)
{
    if (n == 0)
        return NORM_ERR_BAD_SIZE;
    if (!(eps >= 0.0f) || !isfinite(eps))
        return NORM_ERR_BAD_EPS;
    if (rows == 0)
        return NORM_OK;
    if (!x || !y)
        return NORM_ERR_NULL_POINTER;
    const size_t e = norm_dtype_size(type);
    if (!extent_fits(x, rows, n, n, e) || !extent_fits(y, rows, n, n, e) ||
        !extent_fits(gamma, 1, 0, n, e) || !extent_fits(beta, 1, 0, n, e))
        return NORM_ERR_SIZE_OVERFLOW;
    const size_t bytes = rows * n * e, row_bytes = n * e; /* both fit: checked above */
    if ((y != x && ranges_meet(y, bytes, x, bytes)) || (gamma && ranges_meet(y, bytes, gamma, row_bytes)) ||
        (beta && ranges_meet(y, bytes, beta, row_bytes)))
        return NORM_ERR_OVERLAP;
    norm_job job = {
        .y = y, .x = x, .y_stride = n, .x_stride = n, .rows = rows, .n = n,
        .gamma = gamma, .beta = beta, .eps = eps, .x_type = type, .y_type = type, .param_type = type,
        .nontemporal = rows * (2 * n * e) >= NONTEMPORAL_BYTES, .y_inv_scale = 1.0f,
    };
    const norm_kernels *k = norm_kernels_active();
    norm_kernel_fn *apply = (kind == NORM_RMSNORM ? k->rmsnorm : k->layernorm)[type][type][type];
    /* The process default's threads (1 unless the program opted in). */
    const norm_threading t = { 0, NULL, NULL };
    if (norm_call_direct(1, norm_call_sliced(n, false, false), 2 * bytes, &t)) {
        apply(&job);
        return NORM_OK;
    }
    const size_t os[5] = { 0 };
    run_call(&job, 1, os, apply, (kind == NORM_RMSNORM ? k->rmsnorm_moments : k->layernorm_moments)[type][type], &t);
    return NORM_OK;
}

norm_status norm_rmsnorm_f32(float *y, const float *x, const float *gamma, const float *beta,
                             size_t rows, size_t n, float eps)
{
    return run_dense(NORM_RMSNORM, NORM_F32, y, x, gamma, beta, rows, n, eps);
}

norm_status norm_layernorm_f32(float *y, const float *x, const float *gamma, const float *beta,
                               size_t rows, size_t n, float eps)
{
    return run_dense(NORM_LAYERNORM, NORM_F32, y, x, gamma, beta, rows, n, eps);
}

norm_status norm_rmsnorm_f16(uint16_t *y, const uint16_t *x, const uint16_t *gamma,
                             const uint16_t *beta, size_t rows, size_t n, float eps)
{
    return run_dense(NORM_RMSNORM, NORM_F16, y, x, gamma, beta, rows, n, eps);
}

norm_status norm_layernorm_f16(uint16_t *y, const uint16_t *x, const uint16_t *gamma,
                               const uint16_t *beta, size_t rows, size_t n, float eps)
{
    return run_dense(NORM_LAYERNORM, NORM_F16, y, x, gamma, beta, rows, n, eps);
}

norm_status norm_rmsnorm_bf16(uint16_t *y, const uint16_t *x, const uint16_t *gamma,
                              const uint16_t *beta, size_t rows, size_t n, float eps)
{
    return run_dense(NORM_RMSNORM, NORM_BF16, y, x, gamma, beta, rows, n, eps);
}

norm_status norm_layernorm_bf16(uint16_t *y, const uint16_t *x, const uint16_t *gamma,
                                const uint16_t *beta, size_t rows, size_t n, float eps)
{
    return run_dense(NORM_LAYERNORM, NORM_BF16, y, x, gamma, beta, rows, n, eps);
}

const char *norm_status_string(norm_status status)
{
    switch (status) {
    case NORM_OK: return "success";
    case NORM_ERR_NULL_POINTER: return "a required pointer is NULL";
    case NORM_ERR_BAD_SIZE: return "row length n must be at least 1";
    case NORM_ERR_BAD_STRIDE: return "a row stride is smaller than the row length n";
    case NORM_ERR_SIZE_OVERFLOW: return "rows * stride overflows the address space";
    case NORM_ERR_BAD_EPS: return "eps must be finite and >= 0";
    case NORM_ERR_OVERLAP: return "an output overlaps an input or another output (only y == x, with equal strides, is allowed)";
    case NORM_ERR_UNSUPPORTED_TYPE: return "unsupported type combination (gamma and beta must be f32 or the type of x)";
    case NORM_ERR_BAD_ARGUMENT: return "invalid argument (kind, flags, type, params size, ISA, a mean output for RMSNorm, or fields that do not go together)";
    case NORM_ERR_ISA_UNAVAILABLE: return "ISA not compiled in, not supported by this CPU, or above the NORM_ISA cap";
    case NORM_ERR_BAD_SCALE: return "int8 output needs either y_scale > 2^-128 and finite (its f32 reciprocal must be finite), or y_scale 0 and a y_scales array";
    case NORM_ERR_BAD_MOMENTS: return "a moments row has a count that is not positive and finite, or a negative m2";
    }
    return "unknown status code";
}

const char *norm_version_string(void)
{
#define NORM_STR_(x) #x
#define NORM_STR(x) NORM_STR_(x)
    return NORM_STR(NORM_VERSION_MAJOR) "." NORM_STR(NORM_VERSION_MINOR) "." NORM_STR(NORM_VERSION_PATCH);
}
