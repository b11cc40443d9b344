/*
 * Picks the kernel table once per process: the best tier the CPU supports, capped by
 * NORM_ISA and by norm_set_max_isa(). Compiled without any -m flag, so it runs anywhere.
 *
 * Every tier and variant, its name, architecture, CPU predicate and config macro come from
 * the one list, src/isa_list.h. tables[t] is the scalar table overlaid with every supported
 * tier of this architecture up to t, and with each supported variant of those tiers (dav1d's
 * ladder), so capping is just choosing a lower index. The active table is an atomic pointer
 * that pthread_once initialises on first use; no load-time constructor, no init call.
 *
 * The environment (NORM_ISA, NORM_VERBOSE) is read once, in that same initialisation, so that
 * every thread sees one answer. What NORM_ISA could not do is kept as a sentence
 * (norm_env_warning) rather than dropped: the library prints it only where NORM_VERBOSE asks.
 */
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"

#if defined(__x86_64__) || defined(__i386__)
#  include <cpuinfo_x86.h>
#  define NORM_CPU_FEATURES const X86Features f = GetX86Info().features; (void)f
#elif defined(__aarch64__)
#  include <cpuinfo_aarch64.h>
#  define NORM_CPU_FEATURES const Aarch64Features f = GetAarch64Info().features; (void)f
#else
#  define NORM_CPU_FEATURES (void)0 /* only the scalar tier: its predicate reads nothing */
#endif

/* ---- the list, checked against the public enum and against Meson's config.h ------------ */

#define NORM_STR_(x) #x
#define NORM_STR(x) NORM_STR_(x)

/* Each entry's NORM_HAVE_<NAME> must be defined, as 0 or 1 (set10 in meson.build): its
 * spelling then has one character. Where it is not, the name itself is spelt out. */
#define CHECK_HAVE(name, NAME)                                                              \
    _Static_assert(sizeof NORM_STR(NORM_HAVE_##NAME) == 2,                                  \
                   "src/isa_list.h lists " #name " but config.h has no NORM_HAVE_" #NAME    \
                   " (0 or 1): add " #name " to the isas table in meson.build");            \
    _Static_assert(NORM_HAVE_##NAME == 0 || NORM_HAVE_##NAME == 1, "NORM_HAVE_" #NAME " must be 0 or 1");
#define CHECK_TIER_HAVE(name, NAME, value, arch, pred) CHECK_HAVE(name, NAME)
#define CHECK_VARIANT_HAVE(name, NAME, tier, arch, pred) CHECK_HAVE(name, NAME)
NORM_ISA_LIST(CHECK_TIER_HAVE, CHECK_VARIANT_HAVE)

/* The tiers' positions in the list are their values in include/norm.h (ABI). */
enum {
#define TIER_POSITION(name, NAME, value, arch, pred) POSITION_##name,
#define NO_POSITION(name, NAME, tier, arch, pred)
    NORM_ISA_LIST(TIER_POSITION, NO_POSITION) LISTED_TIERS
};
#define CHECK_VALUE(name, NAME, value, arch, pred)                                              \
    _Static_assert(NORM_ISA_##NAME == (value) && POSITION_##name == (value),                    \
                   "src/isa_list.h: tier " #name " must be listed in the order of the values, " \
                   "and have NORM_ISA_" #NAME "'s value in include/norm.h");
#define NO_CHECK(name, NAME, tier, arch, pred)
NORM_ISA_LIST(CHECK_VALUE, NO_CHECK)
_Static_assert((int)LISTED_TIERS == (int)NORM_ISA_COUNT, "src/isa_list.h must list every tier of norm_isa");

/* Entries: the tiers at their enum values, then the variants. */
enum {
    LAST_TIER_ = NORM_ISA_COUNT - 1,
#define NO_INDEX(name, NAME, value, arch, pred)
#define VARIANT_INDEX(name, NAME, tier, arch, pred) VARIANT_##name,
    NORM_ISA_LIST(NO_INDEX, VARIANT_INDEX) N_ENTRIES
};

typedef struct entry {
    const char *name;
    int tier;                       /* its own value, or the tier a variant overlays */
    bool native;                    /* of this architecture */
    void (*init)(norm_kernels *k);  /* its overlay; NULL where not compiled in */
    const char *arch;               /* the list's architecture, for NORM_ISA's report */
} entry;

/* NULL where the entry is not compiled in, so nothing refers to a library that was not built. */
#define INIT_FN(name, NAME, arch) \
    NORM_IF_ELSE(NORM_AND(NORM_ON_##arch, NORM_HAVE_##NAME), norm_init_kernels_##name, NULL)
#define TIER_ENTRY(name, NAME, value, arch, pred) \
    [value] = { #name, value, NORM_ON_##arch, INIT_FN(name, NAME, arch), #arch },
#define VARIANT_ENTRY(name, NAME, tier, arch, pred) \
    [VARIANT_##name] = { #name, NORM_ISA_##tier, NORM_ON_##arch, INIT_FN(name, NAME, arch), #arch },
static const entry entries[N_ENTRIES] = { NORM_ISA_LIST(TIER_ENTRY, VARIANT_ENTRY) };

/* ---- state --------------------------------------------------------------------------- */

static norm_kernels tables[NORM_ISA_COUNT];  /* the ladder: what a capped process runs */
static norm_kernels entry_tables[N_ENTRIES]; /* a tier without its variants; a variant's tier with it */
static bool runnable[N_ENTRIES];             /* compiled in and runnable on this CPU */
static norm_isa env_cap = NORM_ISA_COUNT;    /* the best tier NORM_ISA allows */
static pthread_once_t once = PTHREAD_ONCE_INIT;
_Atomic(const norm_kernels *) norm_active_table;
static _Atomic norm_isa active_isa;
/* What runs when tier t is active: its name, or its runnable variants' ("avx512bf16"). */
static char kernels_name[NORM_ISA_COUNT][64];
static char env_warning[256]; /* "" when NORM_ISA was taken as given or not set */
_Atomic int norm_verbose_state = -1;

static bool supported(int t) { return runnable[t]; } /* a tier's entry is at its value */

/* Each entry's predicate, on this architecture's entries only (another architecture's feature
 * fields do not exist here); a variant also needs its tier, so the tiers go first. */
static void detect(void)
{
    NORM_CPU_FEATURES;
#define DETECT_TIER(name, NAME, value, arch, pred) \
    NORM_IF(NORM_AND(NORM_ON_##arch, NORM_HAVE_##NAME), runnable[value] = (pred);)
#define DETECT_VARIANT(name, NAME, tier, arch, pred) \
    NORM_IF(NORM_AND(NORM_ON_##arch, NORM_HAVE_##NAME), \
            runnable[VARIANT_##name] = runnable[NORM_ISA_##tier] && (pred);)
#define SKIP_TIER(name, NAME, value, arch, pred)
#define SKIP_VARIANT(name, NAME, tier, arch, pred)
    NORM_ISA_LIST(DETECT_TIER, SKIP_VARIANT)
    NORM_ISA_LIST(SKIP_TIER, DETECT_VARIANT)
}

/* The ladder: start from nothing, overlay each supported tier of this architecture in turn,
 * each followed by its supported variants. */
static void build_tables(void)
{
    norm_kernels k = { 0 };
    for (int t = 0; t < NORM_ISA_COUNT; t++) {
        if (!entries[t].native)
            continue; /* another architecture's tier: no table */
        if (supported(t))
            entries[t].init(&k);
        entry_tables[t] = k;
        for (int v = NORM_ISA_COUNT; v < N_ENTRIES; v++)
            if (entries[v].tier == t && runnable[v]) {
                entry_tables[v] = entry_tables[t];
                entries[v].init(&entry_tables[v]);
                entries[v].init(&k);
            }
        tables[t] = k;
    }
}

/* The best supported tier not above cap. */
static norm_isa best_up_to(norm_isa cap)
{
    for (int t = cap < NORM_ISA_COUNT ? (int)cap : NORM_ISA_COUNT - 1; t > 0; t--)
        if (supported(t))
            return (norm_isa)t;
    return NORM_ISA_SCALAR;
}

static void activate(norm_isa isa)
{
    atomic_store(&active_isa, isa);
    atomic_store(&norm_active_table, &tables[isa]);
}

/* ASCII only, unlike strcasecmp, whose answer depends on the locale (Turkish 'I'). */
static bool same_name(const char *a, const char *b)
{
    for (;; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
        if (x != y)
            return false;
        if (!x)
            return true;
    }
}

/* "scalar, sse2, avx2, avx512": this architecture's tiers, for NORM_ISA's report. */
static void native_tier_names(char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = 0;
    for (int t = 0; t < NORM_ISA_COUNT && len < size; t++)
        if (entries[t].native)
            len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "", entries[t].name);
}

/* NORM_ISA, matched case-insensitively against the list's names (oneDNN's users type AVX2).
 * Anything it cannot do is said in env_warning: a name that is no tier here is ignored; a
 * tier this build or CPU cannot run still caps (the user asked for no more than it), and the
 * best tier below it runs. */
static void read_isa_env(const char *env)
{
    char tiers[128];
    native_tier_names(tiers, sizeof tiers);
    int e = 0;
    while (e < N_ENTRIES && !same_name(env, entries[e].name))
        e++;
    if (e == N_ENTRIES) {
        snprintf(env_warning, sizeof env_warning, "NORM_ISA=%s is not a tier (%s): ignored", env, tiers);
    } else if (!entries[e].native) {
        snprintf(env_warning, sizeof env_warning,
                 "NORM_ISA=%s is a tier of %s, not of this machine (%s): ignored", env, entries[e].arch, tiers);
    } else if (e >= NORM_ISA_COUNT) {
        snprintf(env_warning, sizeof env_warning,
                 "NORM_ISA=%s is a variant of %s, not a tier; NORM_ISA caps tiers (%s): ignored", env,
                 entries[entries[e].tier].name, tiers);
    } else {
        env_cap = (norm_isa)e;
        if (!supported(e))
            snprintf(env_warning, sizeof env_warning, "NORM_ISA=%s: %s; running %s, the best tier below it", env,
                     entries[e].init ? "this CPU cannot run it" : "it is not compiled into this build",
                     entries[best_up_to(env_cap)].name);
    }
}

/* Each tier's kernels_name: the tier, or the variants of it that run, joined by '+'. */
static void name_kernels(void)
{
    for (int t = 0; t < NORM_ISA_COUNT; t++) {
        char *buf = kernels_name[t];
        size_t size = sizeof kernels_name[t], len = 0;
        for (int v = NORM_ISA_COUNT; v < N_ENTRIES && len < size; v++)
            if (entries[v].tier == t && runnable[v] && supported(t))
                len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "+" : "", entries[v].name);
        if (!len)
            snprintf(buf, size, "%s", entries[t].name);
    }
}

/* NORM_VERBOSE's first lines, once, when the environment is read. */
static void verbose_header(void)
{
    char runs[256];
    size_t len = 0;
    runs[0] = 0;
    for (int e = 0; e < N_ENTRIES && len < sizeof runs; e++)
        if (runnable[e])
            len += (size_t)snprintf(runs + len, sizeof runs - len, "%s%s", len ? " " : "", entries[e].name);
    const char *env = getenv("NORM_ISA");
    fprintf(stderr, "libnorm: info version=%s cpu_runs=%s NORM_ISA=%s tier=%s kernels=%s\n",
            norm_version_string(), runs, env && *env ? env : "(unset)", entries[atomic_load(&active_isa)].name,
            kernels_name[atomic_load(&active_isa)]);
    if (env_warning[0])
        fprintf(stderr, "libnorm: warning %s\n", env_warning);
}

static void init_once(void)
{
    detect();
    build_tables();
    name_kernels();
    const char *env = getenv("NORM_ISA");
    if (env && *env)
        read_isa_env(env);
    activate(best_up_to(env_cap));
    /* NORM_VERBOSE: unset, empty or 0 is off; anything else on. Stored last, so that a thread
     * that sees it set (norm_verbose) also sees everything above. */
    const char *verbose = getenv("NORM_VERBOSE");
    bool on = verbose && *verbose && strcmp(verbose, "0") != 0;
    if (on)
        verbose_header();
    atomic_store(&norm_verbose_state, on);
}


const norm_kernels *norm_kernels_init(void)
{
    pthread_once(&once, init_once);
    return atomic_load(&norm_active_table);
}

const norm_kernels *norm_kernels_for(norm_isa isa)
{
    pthread_once(&once, init_once);
    return (unsigned)isa < NORM_ISA_COUNT && supported(isa) ? &tables[isa] : NULL;
}

const norm_kernels *norm_kernels_variant(const char *name)
{
    pthread_once(&once, init_once);
    for (int e = 0; name && e < N_ENTRIES; e++)
        if (strcmp(name, entries[e].name) == 0)
            return runnable[e] ? &entry_tables[e] : NULL;
    return NULL;
}

bool norm_variant_supported(const char *name) { return norm_kernels_variant(name) != NULL; }

norm_status norm_set_max_isa(norm_isa isa)
{
    pthread_once(&once, init_once);
    if ((unsigned)isa >= NORM_ISA_COUNT)
        return norm_fail(NORM_ERR_BAD_ARGUMENT, "norm_set_max_isa(%d): not a norm_isa (0 to %d)", (int)isa,
                         NORM_ISA_COUNT - 1);
    if (!supported(isa) || isa > env_cap)
        return norm_fail(NORM_ERR_ISA_UNAVAILABLE, "norm_set_max_isa(%s): %s", entries[isa].name,
                         !entries[isa].native ? "a tier of another architecture"
                         : !entries[isa].init ? "not compiled into this build"
                         : !supported(isa)    ? "this CPU cannot run it"
                                              : "above the cap NORM_ISA sets");
    activate(isa);
    return NORM_OK;
}

norm_isa norm_active_isa(void)
{
    norm_kernels_active();
    return atomic_load(&active_isa);
}

const char *norm_active_isa_name(void) { return entries[norm_active_isa()].name; }

const char *norm_active_variant_name(void) { return kernels_name[norm_active_isa()]; }

const char *norm_env_warning(void)
{
    pthread_once(&once, init_once);
    return env_warning[0] ? env_warning : NULL;
}

int norm_verbose_init(void)
{
    pthread_once(&once, init_once);
    return atomic_load(&norm_verbose_state);
}

int norm_isa_available(norm_isa isa)
{
    pthread_once(&once, init_once);
    return (unsigned)isa < NORM_ISA_COUNT && supported(isa) && isa <= env_cap;
}

const char *norm_isa_name(norm_isa isa)
{
    return (unsigned)isa < NORM_ISA_COUNT ? entries[isa].name : NULL;
}
