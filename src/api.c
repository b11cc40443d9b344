/*
 * The public entry points: validate everything, then hand one job to the active kernel.
 * Nothing is written unless every check passes. Each failing check says what it found, with
 * the field's name and values, in this thread's error detail (norm_fail); NORM_VERBOSE's
 * line per call is written by the entry points at the end of the file.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
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

/* The first row moments_valid refuses, in the error detail. Like norm_fail, each of these
 * error paths is a cold function that writes the detail and a macro that gives the status as
 * a constant. */
#define bad_moments(name, m, rows, empty_ok) (moments_detail(name, m, rows, empty_ok), NORM_ERR_BAD_MOMENTS)
static __attribute__((cold, noinline)) void moments_detail(const char *name, const norm_moments *m, size_t rows,
                                                           bool empty_ok)
{
    size_t r = 0;
    while (r + 1 < rows && moments_valid(&m[r], 1, empty_ok))
        r++;
    norm_set_detail("%s[%zu] has count %g and m2 %g: the count must be finite and %s, and m2 not "
                    "negative", name, r, m[r].count, m[r].m2, empty_ok ? ">= 0" : "> 0");
}

static const char *dtype_label(norm_dtype t)
{
    return t == NORM_F32 ? "f32" : t == NORM_F16 ? "f16" : t == NORM_BF16 ? "bf16" : t == NORM_I8 ? "i8" : "?";
}

#define ALL_FLAGS (NORM_EPS_OUTSIDE_SQRT | NORM_UNIT_OFFSET | NORM_GATE_BEFORE_NORM)

/* Strides of 0 mean dense rows. */
static size_t stride_or_n(size_t stride, size_t n) { return stride ? stride : n; }

/* The field rules both entry points share, in the order of their statuses: kind, flags and
 * types (BAD_ARGUMENT), the parameters' type (UNSUPPORTED_TYPE), then the fields that go
 * together (BAD_ARGUMENT). An entry point adds its own rules of the first and of the last
 * kind as y_type_ok (norm_run's y_type) and apart (NULL, or what does not go together, said
 * for the error detail), so that each status keeps its place in the order. */
static inline __attribute__((always_inline)) norm_status
check_fields(const norm_params *p, unsigned known_flags, bool y_type_ok, const char *apart)
{
    if (p->kind != NORM_RMSNORM && p->kind != NORM_LAYERNORM)
        return norm_fail(NORM_ERR_BAD_ARGUMENT, "kind %d is neither NORM_RMSNORM (0) nor NORM_LAYERNORM (1)",
                         (int)p->kind);
    if (p->flags & ~known_flags)
        return norm_fail(NORM_ERR_BAD_ARGUMENT, "flags 0x%x: bits 0x%x are not flags this call takes (0x%x)",
                         p->flags, p->flags & ~known_flags, known_flags);
    if (!dtype_valid(p->x_type))
        return norm_fail(NORM_ERR_BAD_ARGUMENT, "x_type %d is not NORM_F32, NORM_F16 or NORM_BF16", (int)p->x_type);
    if (!dtype_valid(p->param_type))
        return norm_fail(NORM_ERR_BAD_ARGUMENT, "param_type %d is not NORM_F32, NORM_F16 or NORM_BF16",
                         (int)p->param_type);
    if (!y_type_ok)
        return norm_fail(NORM_ERR_BAD_ARGUMENT, "y_type %d is not NORM_F32, NORM_F16, NORM_BF16 or NORM_I8",
                         (int)p->y_type);
    /* gamma, beta and the bias are f32 or the type of x. */
    if (p->param_type != NORM_F32 && p->param_type != p->x_type)
        return norm_fail(NORM_ERR_UNSUPPORTED_TYPE, "param_type %s with x_type %s: gamma, beta and bias must be f32 "
                         "or x's type", dtype_label(p->param_type), dtype_label(p->x_type));
    if (apart)
        return norm_fail(NORM_ERR_BAD_ARGUMENT, "%s", apart);
    if (!p->residual && (p->residual_out || p->bias))
        return norm_fail(NORM_ERR_BAD_ARGUMENT, "%s is set but residual is NULL: it belongs to the residual add",
                         p->residual_out ? "residual_out" : "bias");
    if ((p->flags & NORM_GATE_BEFORE_NORM) && !p->gate)
        return norm_fail(NORM_ERR_BAD_ARGUMENT, "flags has NORM_GATE_BEFORE_NORM but gate is NULL");
    if (p->gate && (p->kind != NORM_RMSNORM || p->residual))
        return norm_fail(NORM_ERR_BAD_ARGUMENT, p->residual ? "gate and residual are both set: the gated RMSNorm "
                         "does not take the residual add" : "gate is set with kind NORM_LAYERNORM: the gate is "
                         "RMSNorm's only");
    return NORM_OK;
}

/* One buffer of a call, as its entry point lists it: all that check_buffers knows of the
 * call. Strides are in elements, 0 already resolved to n. A vector (gamma, mean, the
 * moments) is one row whose stride is its length, so that the stride rule holds for it. */
typedef struct buffer {
    const void *p;           /* NULL: not given (an error if required) */
    const char *name;        /* the pointer's expression in the list ("p->y"), for the error detail */
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
    BUF_VECTOR = 8,   /* listed by VECTOR: one row of its length (for the error detail) */
};
/* The only sharing allowed: an output that is exactly (same address and stride) an input of
 * its type that it replaces element by element, named by the input's tag. */
enum { TAG_X = 1, TAG_RESIDUAL = 2 };

/* A list's entries: rows of n elements, and vectors (one row of len). */
#define ROWS(p, stride, rows, n, elem, role, tag, may_be) \
    { (p), #p, (stride), (rows), (n), 0, 1, (elem), (role), (tag), (may_be) }
#define ROWS2(p, stride, ostride, outer, rows, n, elem, role, tag, may_be) \
    { (p), #p, (stride), (rows), (n), (ostride), (outer), (elem), (role), (tag), (may_be) }
#define VECTOR(p, len, elem, role) ROWS(p, len, 1, len, elem, (role) | BUF_VECTOR, 0, 0)
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

/* A field's name as the caller knows it: "y" from the list's "p->y". */
static const char *field_name(const char *expr) { return strncmp(expr, "p->", 3) == 0 ? expr + 3 : expr; }

/* "y (rows 4, stride 100, n 128)", or "gamma (length 128)" for a vector. */
static void describe_buffer(char *buf, size_t size, const buffer *b)
{
    if (b->role & BUF_VECTOR)
        snprintf(buf, size, "%s (length %zu)", field_name(b->name), b->n);
    else
        snprintf(buf, size, "%s (rows %zu, stride %zu, n %zu)", field_name(b->name), b->rows, b->stride, b->n);
}

/* The error detail for what check_buffers found wrong with buffer a (and, for an overlap, the
 * buffer b it meets), by the names in the entry point's list. */
/* The buffers go by value, not by address: an address into the entry point's list would make
 * the compiler build the whole list in memory on every call (a dense 1x16 norm_run took 90 ns
 * instead of 58); by value, only the failing path builds the one or two it reports. */
#define buffer_error(st, a, b) (buffer_detail(st, a, b), (st))
static __attribute__((cold, noinline)) void buffer_detail(norm_status st, buffer a_, buffer b_)
{
    const buffer *a = &a_, *b = &b_;
    const char *name = field_name(a->name);
    char da[96], db[96];
    describe_buffer(da, sizeof da, a);
    switch (st) {
    case NORM_ERR_BAD_STRIDE:
        norm_set_detail("%s_stride %zu is smaller than n %zu", name, a->stride, a->n);
        return;
    case NORM_ERR_NULL_POINTER:
        norm_set_detail("%s is NULL%s", name,
                         a->may_be & TAG_RESIDUAL ? " but required with residual (it receives h = x + residual)"
                                                  : " but required");
        return;
    case NORM_ERR_SIZE_OVERFLOW:
        norm_set_detail("%s, of %zu-byte elements at %p, extends past the end of the address space", da,
                         a->elem, a->p);
        return;
    default: {
        describe_buffer(db, sizeof db, b);
        ptrdiff_t off = (ptrdiff_t)((uintptr_t)b->p - (uintptr_t)a->p);
        bool replaces = (a->may_be & b->tag) != 0;
        norm_set_detail("%s overlaps %s, which starts %td bytes %s it%s", da, db, off < 0 ? -off : off,
                         off < 0 ? "before" : "after",
                         !replaces ? "" : off ? " (in place needs the same address and stride)"
                                              : " (in place needs equal strides)");
    }
    }
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
            return buffer_error(NORM_ERR_BAD_STRIDE, b[i], b[i]);
    if (rows == 0)
        return NORM_OK;
    /* Outer blocks must not interleave: a block's rows end before the next block begins. A
     * block too long to compute is left to the extent check (SIZE_OVERFLOW). */
    UNROLLED
    for (size_t i = 0; i < count; i++) {
        size_t block;
        if (b[i].outer > 1 && !__builtin_mul_overflow(b[i].rows - 1, b[i].stride, &block) &&
            !__builtin_add_overflow(block, b[i].n, &block) && b[i].ostride < block)
            return norm_fail(NORM_ERR_BAD_STRIDE, "%s's outer stride %zu is shorter than a block of its rows "
                             "(%zu elements): blocks must not interleave", field_name(b[i].name), b[i].ostride, block);
    }
    UNROLLED
    for (size_t i = 0; i < count; i++)
        if (!b[i].p && (b[i].role & BUF_REQUIRED))
            return buffer_error(NORM_ERR_NULL_POINTER, b[i], b[i]);
    /* Buffers not given too: a size that wraps is refused whether or not its buffer is. */
    UNROLLED
    for (size_t i = 0; i < count; i++)
        if (!extent2_fits(b[i].p, b[i].rows, b[i].stride, b[i].n, b[i].elem, b[i].ostride, b[i].outer))
            return buffer_error(NORM_ERR_SIZE_OVERFLOW, b[i], b[i]);
    /* Only now are the moments known to be addressable. */
    UNROLLED
    for (size_t i = 0; i < count; i++)
        if ((b[i].role & BUF_MOMENTS) && b[i].p && !moments_valid(b[i].p, b[i].n, false))
            return bad_moments(field_name(b[i].name), b[i].p, b[i].n, false);

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
                return buffer_error(NORM_ERR_OVERLAP, b[o], b[i]);
    }
    return NORM_OK;
}

/* The error details of the scalar fields. */
#define bad_scale(p) (scale_detail(p), NORM_ERR_BAD_SCALE)
static __attribute__((cold, noinline)) void scale_detail(const norm_params *p)
{
    if (p->y_scales && p->y_scale != 0.0f)
        norm_set_detail("y_scale %g and y_scales are both set: give one (static or dynamic scale)",
                        (double)p->y_scale);
    else if (!p->y_scales && p->y_scale == 0.0f)
        norm_set_detail("y_type is NORM_I8 but neither y_scale nor y_scales is set");
    else
        norm_set_detail("y_scale %g: a static scale must be finite and > 2^-128 (its f32 reciprocal must be finite)",
                        (double)p->y_scale);
}

#define bad_threads(threads)                                                                       \
    norm_fail(NORM_ERR_BAD_ARGUMENT, "threads %zu: it must be 0 (the process default), 1 to %zu, or "     \
              "NORM_THREADS_AUTO", (size_t)(threads), NORM_THREADS_MAX)
#define bad_n() norm_fail(NORM_ERR_BAD_SIZE, "n is 0: a row needs at least one element")
#define bad_eps(eps) norm_fail(NORM_ERR_BAD_EPS, "eps is %g: it must be finite and >= 0", (double)(eps))

/* Bytes from p to the end of its last row, or 0 if that is past what plain_accepted takes. */
static inline size_t plain_extent(const void *p, size_t rows, size_t stride, size_t n, size_t elem)
{
    /* With rows < 2^24 and stride < 2^30 the product cannot overflow; the end must not wrap. */
    if (rows >= ((size_t)1 << 24) || stride >= ((size_t)1 << 30))
        return 0;
    size_t bytes = ((rows - 1) * stride + n) * elem;
    return (uintptr_t)p + bytes > (uintptr_t)p ? bytes : 0;
}

/* [a, a + a_len) and [b, b + b_len) are apart. */
static inline bool apart(const void *a, size_t a_len, const void *b, size_t b_len)
{
    return (uintptr_t)a + a_len <= (uintptr_t)b || (uintptr_t)b + b_len <= (uintptr_t)a;
}

/*
 * The common calls, accepted with a few comparisons: x, y, gamma and beta, and the residual
 * add (residual, its write-back h, a bias) or not; the per-row statistics (rstd, and mean for
 * LayerNorm) and int8 output with a valid static scale or dynamic scales, or not; one block of
 * rows and a valid thread setting; no gate or moments;
 * rows > 0; each output apart from every other buffer or exactly the input it may replace
 * (y: x; h: x or the residual); sizes far from overflowing. It accepts only calls that the complete checks
 * accept too, and nothing else: any other call, and every call with a mistake, takes the
 * complete checks, which decide its status and error detail. The checks are most of the cost
 * of a short row (a dense 1x16 call made 490 of its 660 instructions validating); this makes
 * them cheaper, not fewer. (Calls with int8 output or statistics took the complete checks until
 * 0.3.x: half the time of a 1x64 int8 call, Zen 5.)
 */
/* The quick path's per-row f32 outputs (rstd, mean, y_scales): absent, or rows floats apart from
 * the call's other buffers. */
static inline __attribute__((always_inline)) bool row_output_apart(const void *v, size_t len, const norm_params *p,
                                                                   size_t x_len, size_t y_len, size_t v_len,
                                                                   size_t r_len, size_t h_len)
{
    return !v || ((uintptr_t)v + len > (uintptr_t)v && apart(v, len, p->x, x_len) && apart(v, len, p->y, y_len) &&
                  (!p->gamma || apart(v, len, p->gamma, v_len)) && (!p->beta || apart(v, len, p->beta, v_len)) &&
                  (!p->residual || (apart(v, len, p->residual, r_len) && apart(v, len, p->residual_out, h_len) &&
                                    (!p->bias || apart(v, len, p->bias, v_len)))));
}

static inline __attribute__((always_inline)) bool plain_accepted(const norm_params *p)
{
    /* int8 output: a static scale whose inverse is finite, or dynamic scales; no scale otherwise. */
    const bool i8 = p->y_type == NORM_I8;
    const bool scale_ok = !i8 ? p->y_scale == 0.0f && !p->y_scales
                          : p->y_scales ? p->y_scale == 0.0f
                                        : p->y_scale > 0.0f && p->y_scale <= FLT_MAX && 1.0f / p->y_scale <= FLT_MAX;
    if ((unsigned)p->kind > NORM_LAYERNORM || (p->flags & ~(unsigned)(NORM_EPS_OUTSIDE_SQRT | NORM_UNIT_OFFSET)) ||
        (unsigned)p->x_type > NORM_BF16 || (unsigned)p->y_type > NORM_I8 ||
        (p->param_type != NORM_F32 && p->param_type != p->x_type) || !scale_ok ||
        !p->residual != !p->residual_out || (p->bias && !p->residual) || p->gate ||
        (p->mean && p->kind != NORM_LAYERNORM) || p->moments || !p->x || !p->y || p->rows == 0 || p->n == 0 ||
        !(p->eps >= 0.0f && p->eps <= FLT_MAX) || p->outer > 1 || !norm_threads_valid(p->threads))
        return false;
    const size_t n = p->n, xs = stride_or_n(p->x_stride, n), ys = stride_or_n(p->y_stride, n);
    const size_t pe = norm_dtype_size(p->param_type);
    /* Strides of buffers not given must be valid too (0 or >= n), as the complete checks say. */
    if (xs < n || ys < n || stride_or_n(p->residual_stride, n) < n || stride_or_n(p->residual_out_stride, n) < n ||
        stride_or_n(p->gate_stride, n) < n)
        return false;
    const size_t x_len = plain_extent(p->x, p->rows, xs, n, norm_dtype_size(p->x_type));
    const size_t y_len = plain_extent(p->y, p->rows, ys, n, norm_dtype_size(p->y_type));
    if (!x_len || !y_len)
        return false;
    const size_t v_len = n * pe;
    const bool in_place = p->y == p->x && ys == xs && p->y_type == p->x_type;
    if (!(in_place || apart(p->y, y_len, p->x, x_len)) || (p->gamma && !apart(p->y, y_len, p->gamma, v_len)) ||
        (p->beta && !apart(p->y, y_len, p->beta, v_len)))
        return false;
    size_t r_len = 0, h_len = 0;
    if (p->residual) {
        /* The residual add: h = x + residual (+ bias) written to residual_out, which may be the
         * residual or x exactly; y apart from all three. */
        const size_t rs = stride_or_n(p->residual_stride, n), hs = stride_or_n(p->residual_out_stride, n);
        const size_t xe = norm_dtype_size(p->x_type);
        r_len = plain_extent(p->residual, p->rows, rs, n, xe);
        h_len = plain_extent(p->residual_out, p->rows, hs, n, xe);
        const void *h = p->residual_out;
        if (!(r_len && h_len && apart(p->y, y_len, p->residual, r_len) && apart(p->y, y_len, h, h_len) &&
              (!p->bias || (apart(p->y, y_len, p->bias, v_len) && apart(h, h_len, p->bias, v_len))) &&
              ((h == p->x && hs == xs) || apart(h, h_len, p->x, x_len)) &&
              ((h == p->residual && hs == rs) || apart(h, h_len, p->residual, r_len)) &&
              (!p->gamma || apart(h, h_len, p->gamma, v_len)) && (!p->beta || apart(h, h_len, p->beta, v_len))))
            return false;
    }
    if (!p->rstd && !p->mean && !p->y_scales)
        return true;
    /* The per-row outputs: rows floats each (rows < 2^24: plain_extent), apart from the other
     * buffers and from each other. */
    const size_t s_len = p->rows * sizeof(float);
    return row_output_apart(p->rstd, s_len, p, x_len, y_len, v_len, r_len, h_len) &&
           row_output_apart(p->mean, s_len, p, x_len, y_len, v_len, r_len, h_len) &&
           row_output_apart(p->y_scales, s_len, p, x_len, y_len, v_len, r_len, h_len) &&
           (!p->rstd || !p->mean || apart(p->rstd, s_len, p->mean, s_len)) &&
           (!p->rstd || !p->y_scales || apart(p->rstd, s_len, p->y_scales, s_len)) &&
           (!p->mean || !p->y_scales || apart(p->mean, s_len, p->y_scales, s_len));
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
    const bool quick = plain_accepted(p);
    norm_status st = quick ? NORM_OK : check_fields(p, ALL_FLAGS, dtype_valid(p->y_type) || p->y_type == NORM_I8,
                                  p->kind == NORM_RMSNORM && p->mean
                                      ? "mean is set with kind NORM_RMSNORM, which has no mean to report"
                                  : p->moments && p->residual
                                      ? "moments and residual are both set: the residual add belongs to the moments "
                                        "step (norm_moments_run)"
                                      : NULL);
    if (st != NORM_OK)
        return st;
    if (!quick && !threading_ok(p))
        return bad_threads(p->threads);
    if (quick) {
        /* accepted above */
    } else if (p->y_type == NORM_I8) {
        /* 1 / s must be finite too: a subnormal s below 2^-128 has none in f32, and each tier
         * would then make its own sense of y * Inf (issue: avx2 gave 0 where scalar gave 127). */
        bool static_scale = p->y_scale > 0.0f && isfinite(p->y_scale) && isfinite(1.0f / p->y_scale) &&
                            !p->y_scales;
        bool dynamic_scale = p->y_scale == 0.0f && p->y_scales;
        if (!static_scale && !dynamic_scale)
            return bad_scale(p);
    } else if (p->y_scale != 0.0f || p->y_scales) {
        return norm_fail(NORM_ERR_BAD_ARGUMENT, "%s is set with y_type %s: scales belong to int8 output (NORM_I8)",
                         p->y_scales ? "y_scales" : "y_scale", dtype_label(p->y_type));
    }
    if (!quick && p->n == 0)
        return bad_n();
    if (!quick && (!(p->eps >= 0.0f) || !isfinite(p->eps)))
        return bad_eps(p->eps);

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
    if (!quick) {
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
    }

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
        .moments = p->moments, .moments_out = NULL,
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

/* struct_size's error detail; byte is the first unknown byte that is not zero, or 0. */
#define bad_struct_size(size, byte) (struct_size_detail(size, byte), NORM_ERR_BAD_ARGUMENT)
static __attribute__((cold, noinline)) void struct_size_detail(size_t size, size_t byte)
{
    if (byte)
        norm_set_detail("struct_size %zu: byte %zu is past this library's norm_params (%zu bytes) and not zero: "
                        "a field this version does not know is set", size, byte, sizeof(norm_params));
    else
        norm_set_detail("struct_size %zu is no size of norm_params this library knows (is it set? start from "
                        "norm_params_default() or norm_params_init())", size);
}

/* A caller's struct as this version's: a released older layout is zero-extended; a newer
 * one (larger, aligned, at most PARAMS_MAX_SIZE) is accepted when every byte this version
 * does not know is zero. Nothing past the smaller of struct_size and sizeof(norm_params)
 * is read unless struct_size passes those bounds. */
static norm_status params_as_current(const norm_params *params, norm_params *copy, const norm_params **p)
{
    if (!params)
        return norm_fail(NORM_ERR_NULL_POINTER, "params is NULL");
    const size_t size = params->struct_size;
    if (size >= sizeof(norm_params)) {
        if (size > PARAMS_MAX_SIZE || size % _Alignof(norm_params) != 0)
            return bad_struct_size(size, 0);
        for (size_t i = sizeof(norm_params); i < size; i++)
            if (((const unsigned char *)params)[i] != 0)
                return bad_struct_size(size, i);
        *p = params;
        return NORM_OK;
    }
    if (size != PARAMS_0_1_0_SIZE && size != PARAMS_0_1_1_SIZE && size != PARAMS_0_2_0_SIZE)
        return bad_struct_size(size, 0);
    memset(copy, 0, sizeof *copy);
    memcpy(copy, params, size);
    *p = copy;
    return NORM_OK;
}

/* What norm_moments_run refuses to take, for the error detail; NULL if nothing. */
static inline const char *moments_run_apart(const norm_params *p)
{
#define APPLY_FIELD(f) f " is set: norm_moments_run computes moments only (" f " belongs to norm_run's apply step)"
    const char *set = p->y ? APPLY_FIELD("y") : p->gamma ? APPLY_FIELD("gamma") : p->beta ? APPLY_FIELD("beta")
                    : p->mean ? APPLY_FIELD("mean") : p->rstd ? APPLY_FIELD("rstd")
                    : p->y_scales ? APPLY_FIELD("y_scales") : p->moments ? APPLY_FIELD("moments")
                    : p->y_scale != 0.0f ? APPLY_FIELD("y_scale") : NULL;
#undef APPLY_FIELD
    if (set)
        return set;
    if (p->gate && !(p->flags & NORM_GATE_BEFORE_NORM))
        return "gate is set without NORM_GATE_BEFORE_NORM: only a gate before the norm changes the moments";
    return NULL;
}

static norm_status moments_run(const norm_params *params, norm_moments *out)
{
    norm_params copy;
    const norm_params *p;
    norm_status st = params_as_current(params, &copy, &p);
    if (st != NORM_OK)
        return st;
    /* Only what the moments depend on: the output's fields belong to the apply step, and only
     * a gate before the norm changes the moments. */
    st = check_fields(p, NORM_GATE_BEFORE_NORM, true, moments_run_apart(p));
    if (st != NORM_OK)
        return st;
    if (!threading_ok(p))
        return bad_threads(p->threads);
    if (p->n == 0)
        return bad_n();

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
        return norm_fail(NORM_ERR_NULL_POINTER, "%s is NULL", acc ? "part" : "acc");
    if (!extent_fits(acc, 1, 0, rows, sizeof *acc) || !extent_fits(part, 1, 0, rows, sizeof *part))
        return norm_fail(NORM_ERR_SIZE_OVERFLOW, "%s (rows %zu) extends past the end of the address space",
                         extent_fits(acc, 1, 0, rows, sizeof *acc) ? "part" : "acc", rows);
    span a = make_span(acc, 0, 1, rows, sizeof *acc), b = make_span(part, 0, 1, rows, sizeof *part);
    if (acc != part && spans_overlap(&a, &b))
        return norm_fail(NORM_ERR_OVERLAP, "acc (rows %zu) overlaps part, which starts %td bytes %s it: they must be "
                         "apart or equal", rows, (ptrdiff_t)(part > acc ? b.base - a.base : a.base - b.base),
                         part > acc ? "after" : "before");
    if (!moments_valid(acc, rows, true))
        return bad_moments("acc", acc, rows, true);
    if (!moments_valid(part, rows, true))
        return bad_moments("part", part, rows, true);
    for (size_t r = 0; r < rows; r++)
        norm_moments_merge(&acc[r], part[r]);
    return NORM_OK;
}

static norm_status run_params(const norm_params *params)
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

/* The dense calls' error detail for an extent or an overlap: the first buffer at fault, in the
 * order of the checks. */
#define dense_error(st, y, x, gamma, beta, rows, n, e) (dense_detail(st, y, x, gamma, beta, rows, n, e), (st))
static __attribute__((cold, noinline)) void dense_detail(norm_status st, const void *y, const void *x,
                                                         const void *gamma, const void *beta, size_t rows, size_t n,
                                                         size_t e)
{
    const struct { const char *name; const void *p; size_t rows; } b[] = {
        { "x", x, rows }, { "y", y, rows }, { "gamma", gamma, 1 }, { "beta", beta, 1 },
    };
    for (size_t i = 0; i < 4; i++) {
        if (st == NORM_ERR_SIZE_OVERFLOW && !extent_fits(b[i].p, b[i].rows, n, n, e)) {
            norm_set_detail("%s (rows %zu, n %zu, of %zu-byte elements at %p) extends past the end of the address "
                            "space", b[i].name, b[i].rows, n, e, b[i].p);
            return;
        }
        if (st == NORM_ERR_OVERLAP && i != 1 && b[i].p && (i != 0 || y != x) &&
            ranges_meet(y, rows * n * e, b[i].p, b[i].rows * n * e)) {
            ptrdiff_t off = (ptrdiff_t)((uintptr_t)b[i].p - (uintptr_t)y);
            norm_set_detail("y (rows %zu, n %zu) overlaps %s (%s %zu), which starts %td bytes %s it%s", rows, n,
                            b[i].name, i == 0 ? "rows" : "length", i == 0 ? rows : n, off < 0 ? -off : off,
                            off < 0 ? "before" : "after", i == 0 ? " (in place needs y == x)" : "");
            return;
        }
    }
}

/* The dense entry points: run_checked's checks, in its order, for what these calls can get
 * wrong. Dense rows are one contiguous range, so an overlap is a comparison of two ranges.
 * A one-row call is the latency an engine waits on per token: it pays for nothing else. */
static inline __attribute__((always_inline)) norm_status run_dense(norm_kind kind, norm_dtype type, void *y,
                                                                    const void *x, const void *gamma,
                                                                    const void *beta, size_t rows, size_t n,
                                                                    float eps); /* NORM_VERBOSE's, below */

/* A checked dense call, on its kernel. */
static inline __attribute__((always_inline)) norm_status dense_run(norm_kind kind, norm_dtype type, void *y, const void *x,
                                                       const void *gamma, const void *beta, size_t rows, size_t n,
                                                       float eps, size_t bytes)
{
    norm_job job = {
        .y = y, .x = x, .y_stride = n, .x_stride = n, .rows = rows, .n = n,
        .gamma = gamma, .beta = beta, .eps = eps, .x_type = type, .y_type = type, .param_type = type,
        .nontemporal = 2 * bytes >= NONTEMPORAL_BYTES, .y_inv_scale = 1.0f,
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

static __attribute__((noinline)) norm_status dense_rmsnorm_f32_job(void *y, const void *x, const void *gamma,
                                                                   const void *beta, size_t rows, size_t n, float eps)
{
    return dense_run(NORM_RMSNORM, NORM_F32, y, x, gamma, beta, rows, n, eps, rows * n * sizeof(float));
}

static __attribute__((noinline)) norm_status dense_layernorm_f32_job(void *y, const void *x, const void *gamma,
                                                                     const void *beta, size_t rows, size_t n,
                                                                     float eps)
{
    return dense_run(NORM_LAYERNORM, NORM_F32, y, x, gamma, beta, rows, n, eps, rows * n * sizeof(float));
}

/* Every check, one at a time and in order, for the status and the message of the first that
 * fails; a call that passes them all runs. */
static __attribute__((noinline)) norm_status dense_checked(norm_kind kind, norm_dtype type, void *y, const void *x,
                                                           const void *gamma, const void *beta, size_t rows,
                                                           size_t n, float eps)
{
    if (n == 0)
        return bad_n();
    if (!(eps >= 0.0f) || !isfinite(eps))
        return bad_eps(eps);
    if (rows == 0)
        return NORM_OK;
    if (!x || !y)
        return norm_fail(NORM_ERR_NULL_POINTER, "%s is NULL but required", x ? "y" : "x");
    const size_t e = norm_dtype_size(type);
    if (!extent_fits(x, rows, n, n, e) || !extent_fits(y, rows, n, n, e) ||
        !extent_fits(gamma, 1, 0, n, e) || !extent_fits(beta, 1, 0, n, e))
        return dense_error(NORM_ERR_SIZE_OVERFLOW, y, x, gamma, beta, rows, n, e);
    const size_t bytes = rows * n * e, row_bytes = n * e; /* both fit: checked above */
    if ((y != x && ranges_meet(y, bytes, x, bytes)) || (gamma && ranges_meet(y, bytes, gamma, row_bytes)) ||
        (beta && ranges_meet(y, bytes, beta, row_bytes)))
        return dense_error(NORM_ERR_OVERLAP, y, x, gamma, beta, rows, n, e);
    return dense_run(kind, type, y, x, gamma, beta, rows, n, eps, bytes);
}

static norm_status dense_logged(norm_kind kind, norm_dtype type, void *y, const void *x, const void *gamma,
                                const void *beta, size_t rows, size_t n, float eps);

/* The f32 entries' slow sides (a failed check, NORM_VERBOSE, the first call) with the entry's
 * own seven arguments, all in registers: reached by tail calls, so that the entries' hot path
 * keeps no frame and saves no register. With the nine-argument calls below on it, a 1x16 call
 * took 10.9 ns instead of 10.1 (Zen 5, see the commit). */
#define NORM_DENSE_SIDE(side, kind, name)                                                             \
    static __attribute__((cold, noinline)) norm_status side##_##name(void *y, const void *x, const void *gamma, \
                                                                     const void *beta, size_t rows, size_t n, \
                                                                     float eps)                       \
    {                                                                                                 \
        return side(kind, NORM_F32, y, x, gamma, beta, rows, n, eps);                                 \
    }
NORM_DENSE_SIDE(dense_checked, NORM_RMSNORM, rmsnorm_f32)
NORM_DENSE_SIDE(dense_checked, NORM_LAYERNORM, layernorm_f32)
NORM_DENSE_SIDE(dense_logged, NORM_RMSNORM, rmsnorm_f32)
NORM_DENSE_SIDE(dense_logged, NORM_LAYERNORM, layernorm_f32)
#undef NORM_DENSE_SIDE

/* dense_checked, or dense_logged if logged, by a tail call for the f32 entries. */
static inline __attribute__((always_inline)) norm_status dense_side(bool logged, norm_kind kind, norm_dtype type,
                                                                     void *y, const void *x, const void *gamma,
                                                                     const void *beta, size_t rows, size_t n,
                                                                     float eps)
{
    if (type == NORM_F32 && kind == NORM_RMSNORM)
        return (logged ? dense_logged_rmsnorm_f32 : dense_checked_rmsnorm_f32)(y, x, gamma, beta, rows, n, eps);
    if (type == NORM_F32)
        return (logged ? dense_logged_layernorm_f32 : dense_checked_layernorm_f32)(y, x, gamma, beta, rows, n, eps);
    return (logged ? dense_logged : dense_checked)(kind, type, y, x, gamma, beta, rows, n, eps);
}

/* A dense f32 call small enough that it stays on this thread, is not streamed and is not
 * sliced, whatever the threads: one test for the calls an engine makes per token. */
#define NORM_DENSE_SMALL                                                                          \
    (NORM_PARALLEL_MIN_BYTES < NONTEMPORAL_BYTES ? NORM_PARALLEL_MIN_BYTES : NONTEMPORAL_BYTES)
_Static_assert(NORM_DENSE_SMALL / 2 / sizeof(float) < NORM_SLICE_MIN_N, "a small dense row is not sliced");

/* The same checks as one expression, for a call that passes them all (every call that works):
 * the products that the extents need are taken once, and a NULL gamma or beta passes the
 * extent test as it is (0 + n * e cannot wrap once rows * n * e did not). Any call that fails
 * it goes to dense_checked, which finds the failing check and reports it (a 1x16 call:
 * 22.7 -> see the commit). */
static inline __attribute__((always_inline)) norm_status dense_norm(norm_kind kind, norm_dtype type, void *y,
                                                                     const void *x, const void *gamma,
                                                                     const void *beta, size_t rows, size_t n,
                                                                     float eps)
{
    const size_t e = norm_dtype_size(type);
    size_t elems, bytes;
    uintptr_t end;
    if (__builtin_expect(n == 0 || rows == 0 || !x || !y || !(eps >= 0.0f && eps <= FLT_MAX) ||
                             __builtin_mul_overflow(rows, n, &elems) || __builtin_mul_overflow(elems, e, &bytes),
                         0))
        return dense_side(false, kind, type, y, x, gamma, beta, rows, n, eps);
    const size_t row_bytes = n * e;
    if (__builtin_expect(__builtin_add_overflow((uintptr_t)x, bytes, &end) ||
                             __builtin_add_overflow((uintptr_t)y, bytes, &end) ||
                             __builtin_add_overflow((uintptr_t)gamma, row_bytes, &end) ||
                             __builtin_add_overflow((uintptr_t)beta, row_bytes, &end) ||
                             (y != x && ranges_meet(y, bytes, x, bytes)) ||
                             (gamma && ranges_meet(y, bytes, gamma, row_bytes)) ||
                             (beta && ranges_meet(y, bytes, beta, row_bytes)),
                         0))
        return dense_side(false, kind, type, y, x, gamma, beta, rows, n, eps);
    /* Calls that stay on this thread, of the shapes the kernel's dense entry takes, go to it:
     * the arguments as they came, in registers (norm_dense_fn). Before the first call has
     * chosen the table, dense_checked chooses it. */
    if (type == NORM_F32) {
        const norm_threading t = { 0, NULL, NULL };
        const norm_kernels *k = atomic_load_explicit(&norm_active_table, memory_order_acquire);
        if (__builtin_expect(!k, 0))
            return dense_side(false, kind, type, y, x, gamma, beta, rows, n, eps);
        norm_dense_fn *dense = kind == NORM_RMSNORM ? k->rmsnorm_dense_f32 : k->layernorm_dense_f32;
        if (dense && (2 * bytes < NORM_DENSE_SMALL ||
                      (2 * bytes < NONTEMPORAL_BYTES &&
                       norm_call_direct(1, norm_call_sliced(n, false, false), 2 * bytes, &t)))) {
            if (gamma)
                return dense(y, x, gamma, beta, rows, n, eps);
            if (n <= NORM_ONES_N) /* no gamma: the ones (norm_gamma_f32) */
                return dense(y, x, norm_ones_f32, beta, rows, n, eps);
        }
        /* The job's setup out of this path, a tail call (inlined, it cost the dense entry's
         * calls 3%). */
        return kind == NORM_RMSNORM ? dense_rmsnorm_f32_job(y, x, gamma, beta, rows, n, eps)
                                    : dense_layernorm_f32_job(y, x, gamma, beta, rows, n, eps);
    }
    return dense_run(kind, type, y, x, gamma, beta, rows, n, eps, bytes);
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

/* ---- NORM_VERBOSE: the public entry points around the checked calls above ---------------- */

/* Each entry point costs one load and a branch more than the call it wraps while NORM_VERBOSE
 * is off. The first call of a process also takes the logged path once: that is where the
 * environment is read (norm_verbose_init). The time is the whole call's, checks included. */

/* The struct a NORM_VERBOSE line describes: the caller's as the library reads it, or NULL
 * where its struct_size says it cannot be read (the line then shows the status and detail).
 * Where the call failed on struct_size, this fails the same way and sets the same detail. */
static const norm_params *params_for_log(const norm_params *params, norm_params *copy)
{
    const norm_params *p;
    return params_as_current(params, copy, &p) == NORM_OK ? p : NULL;
}

static __attribute__((cold, noinline)) norm_status run_logged(const norm_params *params)
{
    if (!norm_verbose_init())
        return run_params(params);
    uint64_t t0 = norm_now_ns();
    norm_status st = run_params(params);
    uint64_t ns = norm_now_ns() - t0;
    norm_params copy;
    norm_verbose_call("norm_run", params_for_log(params, &copy), st, ns);
    return st;
}

norm_status norm_run(const norm_params *params)
{
    if (norm_verbose_pending())
        return run_logged(params);
    return run_params(params);
}

static __attribute__((cold, noinline)) norm_status moments_run_logged(const norm_params *params, norm_moments *out)
{
    if (!norm_verbose_init())
        return moments_run(params, out);
    uint64_t t0 = norm_now_ns();
    norm_status st = moments_run(params, out);
    uint64_t ns = norm_now_ns() - t0;
    norm_params copy;
    norm_verbose_call("norm_moments_run", params_for_log(params, &copy), st, ns);
    return st;
}

norm_status norm_moments_run(const norm_params *params, norm_moments *out)
{
    if (norm_verbose_pending())
        return moments_run_logged(params, out);
    return moments_run(params, out);
}

static __attribute__((cold, noinline)) norm_status dense_logged(norm_kind kind, norm_dtype type, void *y,
                                                                 const void *x, const void *gamma, const void *beta,
                                                                 size_t rows, size_t n, float eps)
{
    if (!norm_verbose_init())
        return dense_norm(kind, type, y, x, gamma, beta, rows, n, eps);
    uint64_t t0 = norm_now_ns();
    norm_status st = dense_norm(kind, type, y, x, gamma, beta, rows, n, eps);
    uint64_t ns = norm_now_ns() - t0;
    /* The dense call as the norm_params it stands for. */
    norm_params p = norm_params_default(kind);
    p.rows = rows;
    p.n = n;
    p.eps = eps;
    p.x = x;
    p.y = y;
    p.gamma = gamma;
    p.beta = beta;
    p.x_type = p.y_type = p.param_type = type;
    char entry[32];
    snprintf(entry, sizeof entry, "norm_%s_%s", kind == NORM_RMSNORM ? "rmsnorm" : "layernorm",
             dtype_label(type));
    norm_verbose_call(entry, &p, st, ns);
    return st;
}

static inline __attribute__((always_inline)) norm_status run_dense(norm_kind kind, norm_dtype type, void *y,
                                                                    const void *x, const void *gamma,
                                                                    const void *beta, size_t rows, size_t n,
                                                                    float eps)
{
    if (norm_verbose_pending())
        return dense_side(true, kind, type, y, x, gamma, beta, rows, n, eps);
    return dense_norm(kind, type, y, x, gamma, beta, rows, n, eps);
}
