/*
 * The one list of libnorm's ISA tiers and variants. Everything else derives from it: the
 * dispatcher's detection, names, native tiers and per-architecture ladder (src/dispatch.c),
 * the kernel and converter declarations (kernels/kernels.h, kernels/convert.h) and the tests'
 * lists of what to run. Meson's `isas` table (meson.build) holds the build side of the same
 * entries (directory, compiler flags, sources); meson.build reads this file at configure time
 * and refuses to configure if the two lists name different entries or architectures, and
 * src/dispatch.c refuses to compile if an entry has no NORM_HAVE_<NAME> in config.h.
 *
 * NORM_ISA_LIST(TIER, VARIANT) expands, in this order, to
 *
 *   TIER(name, NAME, value, arch, predicate)
 *       a tier of the public enum norm_isa: NORM_ISA_<NAME> == value (include/norm.h; the
 *       values are ABI, and the tiers are listed in the order of their values).
 *   VARIANT(name, NAME, TIER, arch, predicate)
 *       a variant of tier NORM_ISA_<TIER> (listed right after it): kernels overlaid on that
 *       tier's table when the CPU also satisfies predicate. It has no enum value of its own:
 *       NORM_ISA and norm_set_max_isa() see only the tier.
 *
 *   name       the string: NORM_ISA=<name>, norm_isa_name(), the Meson option -D<name>=,
 *              the per-ISA library libnorm_<name>.a and its files <dir>/{norm,convert}_<name>.c,
 *              the suffix of norm_init_kernels_<name> and of the norm_cvt_*_<name> converters.
 *   NAME       the same in capitals: NORM_ISA_<NAME> and config.h's NORM_HAVE_<NAME> (0 or 1,
 *              from Meson's table: compiled in or not).
 *   arch       the architecture whose ladder holds it: x86, aarch64, or any (scalar only).
 *              A tier of another architecture gets no table and is never supported.
 *   predicate  whether this CPU can run it, written once, as an expression over `f`, the
 *              architecture's cpu_features struct (x86: X86Features; aarch64: Aarch64Features).
 *              A variant's predicate is in addition to its tier's.
 *
 * scalar is the base of every ladder: always built (no Meson option; NORM_HAVE_SCALAR is 1
 * below), no converter probe, no per-ISA library.
 *
 * Adding an ISA: README.md, "Adding an ISA".
 */
#ifndef NORM_ISA_LIST_H
#define NORM_ISA_LIST_H

/* clang-format off */
#define NORM_ISA_LIST(TIER, VARIANT)                                                        \
    TIER(scalar,        SCALAR,     0,      any,     1)                                     \
    TIER(sse2,          SSE2,       1,      x86,     (f.sse2))                              \
    /* F16C converts f16 rows in the AVX2 kernels. */                                       \
    TIER(avx2,          AVX2,       2,      x86,     (f.avx2 && f.fma3 && f.f16c))          \
    TIER(avx512,        AVX512,     3,      x86,     (f.avx512f))                           \
    /* vcvtne(2)ps2bf16 for bf16 stores, vdpbf16ps for long bf16 sums; the bf16 stores also \
     * use BW (vptestnmw) and DQ (vfpclassps), and the compiler may use VL alongside BF16  \
     * (every CPU with BF16 has all three). */                                              \
    VARIANT(avx512bf16, AVX512BF16, AVX512, x86,                                            \
            (f.avx512_bf16 && f.avx512bw && f.avx512vl && f.avx512dq))                      \
    TIER(neon,          NEON,       4,      aarch64, (f.asimd))
/* clang-format on */

/* The scalar tier is always compiled in. */
#define NORM_HAVE_SCALAR 1

/* NORM_ON_<arch>: 1 where this translation unit is compiled for that architecture. */
#define NORM_ON_any 1
#if defined(__x86_64__) || defined(__i386__)
#  define NORM_ON_x86 1
#else
#  define NORM_ON_x86 0
#endif
#if defined(__aarch64__)
#  define NORM_ON_aarch64 1
#else
#  define NORM_ON_aarch64 0
#endif

/* Preprocessor conditionals usable inside the list's expansions, where #if is not:
 * cond must expand to exactly 0 or 1 (NORM_HAVE_<NAME>, NORM_ON_<arch>). */
#define NORM_IF(cond, ...) NORM_IF_(cond, __VA_ARGS__)
#define NORM_IF_(cond, ...) NORM_IF_##cond(__VA_ARGS__)
#define NORM_IF_1(...) __VA_ARGS__
#define NORM_IF_0(...)
#define NORM_IF_ELSE(cond, a, b) NORM_IF_ELSE_(cond, a, b)
#define NORM_IF_ELSE_(cond, a, b) NORM_IF_ELSE_##cond(a, b)
#define NORM_IF_ELSE_1(a, b) a
#define NORM_IF_ELSE_0(a, b) b
#define NORM_AND(a, b) NORM_IF_ELSE(a, b, 0)

/* Entries that are neither scalar nor of another architecture: the SIMD ones this build is
 * for (compiled in or not). */
#define NORM_SIMD_any 0
#define NORM_SIMD_x86 NORM_ON_x86
#define NORM_SIMD_aarch64 NORM_ON_aarch64

#endif /* NORM_ISA_LIST_H */
