/*
 * Named accumulators for unrolled loops. The algorithm keeps no arrays of vectors: the vector
 * types of a length-agnostic ISA (SVE, RISC-V V) cannot be array elements, and with arrays GCC
 * kept some accumulators on the stack. Instead, a loop body is a macro X(u) expanded once per
 * accumulator index u (a literal, pasted into names such as s1_##u).
 *
 *   NORM_EACH(n, X)       X(0) ... X(n - 1)
 *   NORM_EACH_PAIR(n, X)  X(0, 1) X(2, 3) ... (n even)
 *   NORM_EACH_BUT_LAST(n, X)  X(0) ... X(n - 2)
 *   NORM_FOLD_TREE(n, F)  F(a, b) for the tree that folds accumulator b into a, down to 0:
 *                         for w = n/2, ..., 1: F(u, u + w) for u < w
 *   NORM_LAST(n)          n - 1, as a literal
 * for n = 2, 4 and 8 (NORM_UNROLL of every ISA so far, half of it for short rows, and the bf16
 * dot sums' 8).
 */
#ifndef NORM_SIMD_UNROLL_H
#define NORM_SIMD_UNROLL_H

#define NORM_EACH_2(X) X(0) X(1)
#define NORM_EACH_4(X) X(0) X(1) X(2) X(3)
#define NORM_EACH_8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define NORM_EACH_PAIR_2(X) X(0, 1)
#define NORM_EACH_PAIR_4(X) X(0, 1) X(2, 3)
#define NORM_EACH_PAIR_8(X) X(0, 1) X(2, 3) X(4, 5) X(6, 7)
#define NORM_EACH_BUT_LAST_2(X) X(0)
#define NORM_EACH_BUT_LAST_4(X) X(0) X(1) X(2)
#define NORM_EACH_BUT_LAST_8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6)
#define NORM_TREE_2(F) F(0, 1)
#define NORM_TREE_4(F) F(0, 2) F(1, 3) F(0, 1)
#define NORM_TREE_8(F) F(0, 4) F(1, 5) F(2, 6) F(3, 7) F(0, 2) F(1, 3) F(0, 1)
#define NORM_LAST_2 1
#define NORM_LAST_4 3
#define NORM_LAST_8 7

/* One more level of expansion, so that n may be a macro such as NORM_UNROLL. */
#define NORM_EACH(n, X) NORM_EACH_I(n, X)
#define NORM_EACH_I(n, X) NORM_EACH_##n(X)
#define NORM_EACH_PAIR(n, X) NORM_EACH_PAIR_I(n, X)
#define NORM_EACH_PAIR_I(n, X) NORM_EACH_PAIR_##n(X)
#define NORM_EACH_BUT_LAST(n, X) NORM_EACH_BUT_LAST_I(n, X)
#define NORM_EACH_BUT_LAST_I(n, X) NORM_EACH_BUT_LAST_##n(X)
#define NORM_FOLD_TREE(n, F) NORM_TREE_I(n, F)
#define NORM_TREE_I(n, F) NORM_TREE_##n(F)
#define NORM_LAST(n) NORM_LAST_I(n)
#define NORM_LAST_I(n) NORM_LAST_##n
/* X(NORM_LAST(n)), with the index expanded to its literal first. */
#define NORM_APPLY(X, u) NORM_APPLY_I(X, u)
#define NORM_APPLY_I(X, u) X(u)

#endif
