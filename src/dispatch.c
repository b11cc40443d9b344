/*
 * Picks the kernel table once per process: the best tier the CPU supports, capped by
 * NORM_ISA and by norm_set_max_isa(). Compiled without any -m flag, so it runs anywhere.
 *
 * tables[t] is the scalar table overlaid with every tier up to t (dav1d's ladder), so
 * capping is just choosing a lower index. The active table is an atomic pointer that
 * pthread_once initialises on first use; no load-time constructor, no init call.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"

#if defined(__x86_64__) || defined(__i386__)
#  include <cpuinfo_x86.h>
#elif defined(__aarch64__)
#  include <cpuinfo_aarch64.h>
#endif

static const char *const isa_names[NORM_ISA_COUNT] = {
    [NORM_ISA_SCALAR] = "scalar", [NORM_ISA_SSE2] = "sse2",   [NORM_ISA_AVX2] = "avx2",
    [NORM_ISA_AVX512] = "avx512", [NORM_ISA_NEON] = "neon",
};

static norm_kernels tables[NORM_ISA_COUNT];
static norm_kernels avx512_without_bf16;  /* for the tests, when the CPU has AVX512_BF16 */
static bool supported[NORM_ISA_COUNT];    /* compiled in and runnable on this CPU */
static bool have_avx512bf16;              /* vcvtneps2bf16 usable on top of the avx512 tier */
static norm_isa env_cap = NORM_ISA_COUNT; /* the best tier NORM_ISA allows */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static _Atomic(const norm_kernels *) active_table;
static _Atomic norm_isa active_isa;

/* The tiers of this architecture: NORM_ISA may name any of them, compiled in or not. */
static const bool native_tier[NORM_ISA_COUNT] = {
    [NORM_ISA_SCALAR] = true,
#if defined(__x86_64__) || defined(__i386__)
    [NORM_ISA_SSE2] = true, [NORM_ISA_AVX2] = true, [NORM_ISA_AVX512] = true,
#elif defined(__aarch64__)
    [NORM_ISA_NEON] = true,
#endif
};

static void detect(void)
{
    supported[NORM_ISA_SCALAR] = true;
#if defined(__x86_64__) || defined(__i386__)
    const X86Features f = GetX86Info().features;
    supported[NORM_ISA_SSE2] = NORM_HAVE_SSE2 && f.sse2;
    /* F16C converts f16 rows in the AVX2 kernels. */
    supported[NORM_ISA_AVX2] = NORM_HAVE_AVX2 && f.avx2 && f.fma3 && f.f16c;
    supported[NORM_ISA_AVX512] = NORM_HAVE_AVX512 && f.avx512f;
    /* The bf16 stores also use BW (vptestnmw) and DQ (vfpclassps), and the compiler may use VL
     * alongside BF16; every CPU with BF16 has all three. */
    have_avx512bf16 = supported[NORM_ISA_AVX512] && NORM_HAVE_AVX512BF16 && f.avx512_bf16 &&
                      f.avx512bw && f.avx512vl && f.avx512dq;
#elif defined(__aarch64__)
    supported[NORM_ISA_NEON] = NORM_HAVE_NEON && GetAarch64Info().features.asimd;
#endif
}

/* The ladder: start from the scalar kernels, overlay each supported tier in turn. */
static void build_tables(void)
{
    norm_kernels k = { 0 };
    norm_init_kernels_scalar(&k);
    tables[NORM_ISA_SCALAR] = k;
#if NORM_HAVE_SSE2
    if (supported[NORM_ISA_SSE2])
        norm_init_kernels_sse2(&k);
#endif
    tables[NORM_ISA_SSE2] = k;
#if NORM_HAVE_AVX2
    if (supported[NORM_ISA_AVX2])
        norm_init_kernels_avx2(&k);
#endif
    tables[NORM_ISA_AVX2] = k;
#if NORM_HAVE_AVX512
    if (supported[NORM_ISA_AVX512])
        norm_init_kernels_avx512(&k);
    avx512_without_bf16 = k;
#  if NORM_HAVE_AVX512BF16
    if (have_avx512bf16)
        norm_init_kernels_avx512bf16(&k);
#  endif
#endif
    tables[NORM_ISA_AVX512] = k;
#if NORM_HAVE_NEON
    if (supported[NORM_ISA_NEON])
        norm_init_kernels_neon(&k);
#endif
    tables[NORM_ISA_NEON] = k;
}

/* The best supported tier not above cap. */
static norm_isa best_up_to(norm_isa cap)
{
    for (int t = cap < NORM_ISA_COUNT ? (int)cap : NORM_ISA_COUNT - 1; t > 0; t--)
        if (supported[t])
            return (norm_isa)t;
    return NORM_ISA_SCALAR;
}

static void activate(norm_isa isa)
{
    atomic_store(&active_isa, isa);
    atomic_store(&active_table, &tables[isa]);
}

static void init_once(void)
{
    detect();
    build_tables();
    const char *env = getenv("NORM_ISA");
    for (int t = 0; env && t < NORM_ISA_COUNT; t++)
        if (native_tier[t] && strcmp(env, isa_names[t]) == 0)
            env_cap = (norm_isa)t; /* unknown values and other architectures' tiers are ignored */
    activate(best_up_to(env_cap));
}

const norm_kernels *norm_kernels_active(void)
{
    const norm_kernels *k = atomic_load_explicit(&active_table, memory_order_acquire);
    if (k)
        return k;
    pthread_once(&once, init_once);
    return atomic_load(&active_table);
}

const norm_kernels *norm_kernels_for(norm_isa isa)
{
    pthread_once(&once, init_once);
    return (unsigned)isa < NORM_ISA_COUNT && supported[isa] ? &tables[isa] : NULL;
}

const norm_kernels *norm_kernels_variant(const char *name)
{
    pthread_once(&once, init_once);
    if (strcmp(name, "avx512bf16") == 0)
        return have_avx512bf16 ? &tables[NORM_ISA_AVX512] : NULL;
    if (strcmp(name, "avx512") == 0)
        return supported[NORM_ISA_AVX512] ? &avx512_without_bf16 : NULL;
    for (int t = 0; t < NORM_ISA_COUNT; t++)
        if (strcmp(name, isa_names[t]) == 0)
            return supported[t] ? &tables[t] : NULL;
    return NULL;
}

norm_status norm_set_max_isa(norm_isa isa)
{
    pthread_once(&once, init_once);
    if ((unsigned)isa >= NORM_ISA_COUNT)
        return NORM_ERR_BAD_ARGUMENT;
    if (!supported[isa] || isa > env_cap)
        return NORM_ERR_ISA_UNAVAILABLE;
    activate(isa);
    return NORM_OK;
}

norm_isa norm_active_isa(void)
{
    norm_kernels_active();
    return atomic_load(&active_isa);
}

const char *norm_active_isa_name(void) { return isa_names[norm_active_isa()]; }

int norm_isa_available(norm_isa isa)
{
    pthread_once(&once, init_once);
    return (unsigned)isa < NORM_ISA_COUNT && supported[isa] && isa <= env_cap;
}

const char *norm_isa_name(norm_isa isa)
{
    return (unsigned)isa < NORM_ISA_COUNT ? isa_names[isa] : NULL;
}
