/*
 * norm-bench: how fast is each libnorm tier, and how close does it come to the floor?
 *
 * For every shape it times, in one process and interleaved round by round, the floor
 * references, a plain C loop and every ISA tier this CPU can run, each selected with
 * norm_set_max_isa() and then called through the public API (what users get). Medians
 * are reported, and ratios to the floor: the machine may be shared and its clock varies,
 * so absolute times drift, while ratios measured side by side do not (much).
 *
 * With --types it does the same for f16 and bf16 rows (any x:y:gamma combination the library
 * takes): all the combinations of a shape are timed in the same interleaved rounds, next to
 * f32, so that "bf16 moves 1.9x the rows per second of f32" is a ratio measured side by side.
 *
 * After timing a shape it checks every tier's output against the scalar tier's, so a fast
 * wrong kernel fails the run instead of topping the table.
 *
 * With --fused it times the fused residual add instead: norm_run() with a residual (h = x + r,
 * written back to r, then normalised), next to the unfused sequence an engine would otherwise
 * run with the library (an add pass r = x + r, then norm_run() on r) and next to the fused
 * op's own floor, per shape, type combination and tier. Its check adds that the fused call
 * gives the unfused sequence's results bit for bit, on every tier.
 *
 * --gated, --int8 and --split time the other features of the API the same way, each against
 * its own floor and against what an engine would run without it: gated RMSNorm (both orders)
 * against a norm plus a separate silu pass; int8 output (static and dynamic scale) against a
 * norm to f32 plus a separate quantize pass; and a row split into k slices (norm_moments_run,
 * norm_moments_combine, norm_run with the combined moments) against one call on whole rows.
 *
 * --short times one dense f32 call on a decode-size row (1x288, 1x512, 1x1024) against the plain
 * loop compiled -O3 -ffast-math for the widest ISA this CPU runs: where call and validation
 * overhead, not memory, decide.
 *
 * With --dist it times each of those on rows of other statistics than zero-mean noise, the
 * inputs users have (per-row offsets, a mean far above the spread, a few huge outlier channels,
 * constant rows), one distribution after another, and judges the targets on the worst: a kernel
 * that is fast on N(0,1) rows only has not met them.
 */
#ifndef _GNU_SOURCE
#  define _POSIX_C_SOURCE 200809L /* clock_gettime, sysconf */
#endif

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#elif defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "isa_list.h" /* the one list of tiers: macros only */
#include "norm.h"
#include "reference.h"
#include "silu_sleef.h"
#include "scaling.h"

#define EPS 1e-6f
#define CHECK_TOL 1e-4           /* relative tolerance of the tier-vs-scalar check */
#define MAX_SHAPES 64
#define MAX_COMBOS 15            /* every x:y:gamma combination the library accepts */
#define DEFAULT_ROUNDS 21
#define DEFAULT_MIN_MS 4.0       /* a sample shorter than a few ms is mostly timer and noise */
#define QUICK_ROUNDS 3
#define QUICK_MIN_MS 1.0
#define MIN_ROUNDS 5             /* never fewer, however slow a shape is (unless --rounds says so) */
#define SHAPE_BUDGET_S 10.0      /* per type combination: rounds are cut to fit it where calls are long */
#define FALLBACK_LLC ((size_t)32 << 20)
#define ALIGN 64

static const char *const default_shapes = "1x4096,16x4096,1x8192,4096x128,2048x1024,8192x8192";
static const char *const quick_shapes = "1x4096,16x4096,1x8192,4096x128";

/* The 15 combinations norm_run() accepts: x and y any of f32, f16, bf16; gamma f32 or x's type.
 * Uniform ones first, then half rows with f32 gamma, then mixed x and y. */
static const char *const all_types =
    "f32,bf16,f16,bf16:bf16:f32,f16:f16:f32,"
    "f32:bf16,f32:f16,bf16:f32,bf16:f32:f32,f16:f32,f16:f32:f32,"
    "bf16:f16,bf16:f16:f32,f16:bf16,f16:bf16:f32";

/* --half-report: the issue's shapes and targets. On shapes larger than the caches, bf16 and f16
 * rows (x, y and gamma) must move at least 1.8x the rows per second of f32; on a single
 * 4096-wide row they must be no slower, except f16 on a CPU without f16 arithmetic, which must
 * convert every element both ways and reach 0.75x (the target as restated by the project). */
static const char *const half_report_types = "f32,bf16,f16";
static const char *const half_report_shapes = "1x4096,2048x4096,8192x8192";
static const struct { const char *shape; double target; } half_targets[] = {
    { "1x4096", 1.0 }, { "2048x4096", 1.8 }, { "8192x8192", 1.8 },
};
#define HALF_F16_SOFT_1X4096 0.75

/* Whether this CPU computes in f16 (AVX512-FP16; Armv8.2's FP16, HWCAP_ASIMDHP). */
static bool cpu_has_f16_arithmetic(void)
{
#if defined(__x86_64__) || defined(__i386__)
    /* CPUID.(7,0):EDX bit 23 (clang 14's __builtin_cpu_supports does not know the name). */
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d >> 23 & 1u);
#elif defined(__aarch64__) && defined(__linux__)
    return (getauxval(AT_HWCAP) & (1ul << 10)) != 0; /* HWCAP_ASIMDHP */
#else
    return false;
#endif
}

/* --fused: the targets for the fused residual RMSNorm: within 1.2x of its own floor on 1x4096
 * and 16x4096. A minimum speedup over the unfused add + norm (0: none) was once asked for on
 * 1x4096 (1.5x) and dropped: in cache the fused call saves one load of five per element. The
 * speedup is still printed in the table above the targets. */
static const struct { const char *shape; double floor_max, speedup_min; } fused_targets[] = {
    { "1x4096", 1.2, 0.0 }, { "16x4096", 1.2, 0.0 },
};

/* --gated and --int8: the issue's shapes and row types, and the shapes of --quick with them;
 * --split: the issue's shapes, all small enough for --quick. */
static const char *const gated_shapes = "1x4096,16x4096,4096x128,2048x1024";
static const char *const gated_quick_shapes = "1x4096,16x4096,4096x128";
static const char *const gated_types = "f32,bf16";
/* --fused: the issue's row types (its targets are for f32 and bf16). */
static const char *const fused_types = "f32,bf16";
static const char *const split_shapes = "1x4096,16x4096,1x65536";
/* --short: decode-size rows (issue #13 item 4), each a call of its own. */
static const char *const short_shapes = "1x288,1x512,1x1024";
/* Its agreement check: the library's y and the loop's, max |difference| / max |y|. */
#define SHORT_AGREE 1e-5

/* --gated: the target for gated RMSNorm, in either order, on every shape, as the project set it:
 * never slower than the norm plus a separate SLEEF silu pass on the same tier (CAND_GSLEEF;
 * time / that time <= 1). (It was once "within 1.5x of its own floor"; the floor ratio is still
 * printed in the summary.) */
#define GATED_VS_SLEEF_MAX 1.0

/* --int8: the static scale. Normalised rows have an RMS of 1 and gamma is near 1, so on gauss rows
 * y beyond 4 clips (a few values in a million, more with beta), as a calibrated scale would clip
 * outliers; on outliers rows it clips the outlier channels. */
#define INT8_STATIC_SCALE (4.0f / 127.0f)

/* The plain norms' targets, f32 rows on the default tier, every shape: time / floor at most this. */
static const double norm_targets[2] = { [NORM_RMSNORM] = 1.15, [NORM_LAYERNORM] = 1.30 };

/* --split: a row is normalised in k slices, for each k here. */
static const size_t split_ks[] = { 2, 4 };
#define NSPLIT_KS (sizeof split_ks / sizeof *split_ks)

/* --dist: what x's rows look like. The noise is the same roughly N(0,1) draw in all of them (so
 * gauss is the rows every run had before --dist); the others add to it or replace it, row by row. */
typedef enum row_dist {
    DIST_GAUSS,    /* zero-mean noise */
    DIST_OFFSET,   /* noise plus an offset of the row's own, uniform in [0, DIST_OFFSET_MAX] */
    DIST_MEAN1E3,  /* noise plus DIST_MEAN: the mean far above the spread */
    DIST_OUTLIERS, /* noise, but for DIST_NOUTLIERS channels of magnitude DIST_OUTLIER_MIN..MAX */
    DIST_CONST,    /* every element the row's own nonzero value */
    NDISTS
} row_dist;

static const char *const dist_names[NDISTS] = { "gauss", "offset", "mean1e3", "outliers", "const" };

#define DIST_OFFSET_MAX 5.0f     /* standard deviations of the noise */
#define DIST_MEAN 1000.0f
/* LLM activations carry a few huge channels, the same ones in every row (a feature of the model),
 * each of its own sign: 100 to 1000 times the others, at fixed indices spread over the row. */
#define DIST_NOUTLIERS 4
#define DIST_OUTLIER_MIN 100.0f
#define DIST_OUTLIER_MAX 1000.0f
/* A ratio of two medians is worth reading only while the samples behind both agree: above this
 * interquartile range (of either, relative to its median, summed) it is flagged. */
#define SPREAD_MAX 0.10

/* ---------------------------------------------------------------- errors and usage */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: norm-bench [options]\n"
        "\n"
        "Times libnorm's RMSNorm and LayerNorm on every ISA tier this CPU runs, next to a\n"
        "plain C loop and a memory-traffic floor, and prints ns/row, GB/s and time / floor.\n"
        "\n"
        "  --shapes RxN,...  shapes to time, rows x n (default %s)\n"
        "  --isa LIST        time only these tiers, e.g. avx2 or scalar,avx2\n"
        "                    (default: every tier compiled in and supported)\n"
        "  --op OP           rmsnorm or layernorm (default: both)\n"
        "  --beta            also add a beta shift, random in [-1, 1] (default: gamma only;\n"
        "                    gamma is random near 1 either way; with beta the f32 floor's\n"
        "                    output pass is y = x*gamma + beta, so it moves the same bytes)\n"
        "  --no-gamma        the library's calls without gamma (NULL: LayerNorm without an affine\n"
        "                    scale, as OLMo's and DiT's); gamma's buffer holds ones, which the\n"
        "                    floors, plain loops and output checks read as before\n"
        "  --dist LIST       what x's rows look like, a comma list of these, or 'all':\n"
        "                      gauss     zero-mean noise, roughly N(0,1) (the default)\n"
        "                      offset    noise plus an offset per row, uniform in [0, %.0f]\n"
        "                      mean1e3   noise plus %.0f: the mean %.0f standard deviations\n"
        "                      outliers  noise, but for %d channels (the same in every row, at\n"
        "                                3, n/3, n/2+1 and n-5) of magnitude %.0f to %.0f, each\n"
        "                                channel of its own sign\n"
        "                      const     every element the same nonzero value, one per row\n"
        "                    With --fused they are in x, so in h = x + r. With more than one,\n"
        "                    each is timed in turn and every line says which, and the\n"
        "                    summary judges the targets (f32 rows: RMSNorm within %.2fx of\n"
        "                    the floor, LayerNorm within %.2fx) on each shape's worst one\n"
        "  --types LIST      element types to time, e.g. bf16,f16,bf16:f32 (default f32).\n"
        "                    Each is x:y:gamma: t means x, y and gamma all t; x:y means\n"
        "                    gamma of x's type; gamma must be f32 or x's type. f32 is always\n"
        "                    timed too, as the baseline of the vs-f32 ratios. 'all' times the\n"
        "                    15 combinations the library takes\n"
        "  --half-report     the f16/bf16 targets: rows/s of bf16 and f16 vs f32 on\n"
        "                    %s (the default shapes and types of this mode)\n"
        "  --fused           the fused residual add: norm_run with a residual (h = x + r, written\n"
        "                    back to r, then normalised) against the unfused add pass + norm_run\n"
        "                    and against its own floor, with the targets for it;\n"
        "                    --types default %s\n"
        "  --gated           gated RMSNorm, y = rmsnorm(x) * gamma * silu(z) and, with the gate\n"
        "                    before the norm, y = rmsnorm(x * silu(z)) * gamma, against the\n"
        "                    unfused sequence (norm, then a silu pass; or a silu pass, then the\n"
        "                    norm; the pass once with libm's expf, -ffast-math, and once with\n"
        "                    SLEEF's exp for the tier) and against its own floor, with the\n"
        "                    target (time / (norm + SLEEF pass) <= %.2f: never slower).\n"
        "                    --types: f32 or bf16 rows (x, z, y; gamma of\n"
        "                    their type or f32), default %s. Default shapes:\n"
        "                      %s\n"
        "                    (with --quick %s)\n"
        "  --int8            RMSNorm and LayerNorm with int8 y, static and dynamic scale,\n"
        "                    against the norm to f32 + a quantize pass and against its own\n"
        "                    floor. --types gives x and gamma (x, x:i8 or x:i8:gamma; y is i8);\n"
        "                    default types and shapes as --gated\n"
        "  --threads N       the library's calls on N threads (or 'auto'), by the process default\n"
        "                    (norm_set_default_threads); floors and plain loops stay on one thread.\n"
        "                    With --scaling: the most threads to time (default: norm_auto_threads())\n"
        "  --scaling         the thread-scaling table: norm_run with 1..N threads against a streaming\n"
        "                    copy and the cache-resident floor on as many threads, f32 and bf16, both\n"
        "                    norms (default shapes " SCALING_SHAPES "), and\n"
        "                    1x4096 with the default setting against threads = 1\n"
        "  --split           rows normalised in k = 2, 4 slices, one after another on one\n"
        "                    thread (norm_moments_run per slice, norm_moments_combine, norm_run\n"
        "                    per slice with .moments), against one call on the whole rows: the\n"
        "                    API's overhead, not a parallel speedup. Default shapes (--quick too):\n"
        "                      %s\n"
        "  --short           short rows, one dense f32 call each: norm_rmsnorm_f32 (gamma, no\n"
        "                    beta) and norm_layernorm_f32 (gamma and beta) on the default tier,\n"
        "                    against the plain loop built -O3 -ffast-math for the widest ISA\n"
        "                    this CPU runs (as -march=native), in alternating rounds; ns per\n"
        "                    call, library / loop, and the target (RMSNorm no slower than the\n"
        "                    loop). Default shapes (--quick too): %s\n"
        "                    --half-report, --fused, --gated, --int8, --split, --short: one per run\n"
        "  --rounds N        timing rounds per shape; the median is reported\n"
        "                    (default %d, fewer for shapes too slow to fit %.0f s per type\n"
        "                    and distribution)\n"
        "  --min-ms M        shortest timed sample, in ms (default %.0f)\n"
        "  --csv FILE        also write the results as CSV (FILE - : to stdout, and the\n"
        "                    report to stderr); every line carries the CPU, library version\n"
        "                    and tiers, and the min, max and quartiles next to the median\n"
        "  --json FILE       also write the results as JSON (- as for --csv)\n"
        "  --plot FILE.svg   also draw GB/s per tier against the floor, a panel per op and a\n"
        "                    group per shape, as an SVG image (- as for --csv)\n"
        "  --progress        show progress on stderr (the default when stderr is a terminal)\n"
        "  --quick           %d rounds of %.0f ms, small shapes only (%s)\n"
        "  --version         print the bench's and the library's versions and exit\n"
        "  --help            show this and exit\n"
        "\n"
        "Each time is the median of its rounds; 'spread' is their interquartile range over the\n"
        "median. Where a line's spread and its floor's add up to more than %.0f%%, its ratio to\n"
        "the floor is flagged (~) and listed at the end: rerun it on a quieter machine.\n"
        "NORM_ISA caps the tiers as for any program using libnorm; a value the library cannot\n"
        "honour is reported here and by NORM_VERBOSE=1.\n",
        default_shapes, (double)DIST_OFFSET_MAX, (double)DIST_MEAN, (double)DIST_MEAN, DIST_NOUTLIERS,
        (double)DIST_OUTLIER_MIN, (double)DIST_OUTLIER_MAX, norm_targets[NORM_RMSNORM], norm_targets[NORM_LAYERNORM],
        half_report_shapes, fused_types, GATED_VS_SLEEF_MAX, gated_types, gated_shapes, gated_quick_shapes,
        split_shapes, short_shapes, DEFAULT_ROUNDS, SHAPE_BUDGET_S, DEFAULT_MIN_MS, QUICK_ROUNDS, QUICK_MIN_MS,
        quick_shapes, SPREAD_MAX * 100);
}

/* Bad command line: say why, show the usage, exit 2. */
static _Noreturn void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("norm-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n\n", stderr);
    usage(stderr);
    exit(2);
}

/* Anything else that stops the run. */
static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("norm-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* ---------------------------------------------------------------- options */

typedef struct shape {
    size_t rows, n;
} shape;

/* One type combination: the types of x, y, and gamma (and beta). */
typedef struct combo {
    norm_dtype x, y, param;
    char name[16]; /* as --types writes it, shortest form: "bf16", "bf16:f32", "bf16:bf16:f32" */
} combo;

typedef struct options {
    shape shapes[MAX_SHAPES];
    size_t nshapes;
    combo types[MAX_COMBOS];     /* types[0] is f32, the baseline */
    size_t ntypes;
    bool half_report;
    bool fused;                  /* --fused: the fused residual add instead of the plain norms */
    bool gated;                  /* --gated: gated RMSNorm, fused and unfused */
    bool int8;                   /* --int8: int8 output, fused and unfused */
    bool split;                  /* --split: rows in k slices through the moments API, vs one call */
    bool short_rows;             /* --short: one dense f32 call on a short row vs the native loop */
    size_t threads;              /* --threads N: the library's calls on N threads (0: not given) */
    bool scaling;                /* --scaling: the thread-scaling table instead of the reports */
    const char *scaling_shapes;  /* its shapes: --shapes, or SCALING_SHAPES */
    bool isa[NORM_ISA_COUNT];    /* tiers to time */
    bool op[2];                  /* indexed by norm_kind */
    bool beta;
    bool no_gamma;               /* --no-gamma: the library's calls get gamma NULL */
    bool dist[NDISTS];           /* --dist: the row distributions to time, each in turn */
    size_t ndists;
    int rounds;
    bool rounds_given;
    double min_ms;
    const char *csv_path, *json_path;
    const char *plot_path;       /* --plot: the SVG picture */
    bool progress;               /* --progress, or stderr is a terminal */
} options;

static bool parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v == 0 || v > SIZE_MAX || s[0] == '-')
        return false;
    *out = (size_t)v;
    return true;
}

/* "RxN": both at least 1, and x plus y must be addressable. */
static bool parse_shape(const char *s, shape *out)
{
    char buf[64];
    const char *x = strpbrk(s, "xX");
    size_t len = x ? (size_t)(x - s) : 0;
    if (!x || len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (!parse_size(buf, &out->rows) || !parse_size(x + 1, &out->n))
        return false;
    return out->n <= SIZE_MAX / 8 / out->rows;
}

static void parse_shapes(options *o, const char *list)
{
    char *copy = strdup(list);
    if (!copy)
        die("out of memory");
    o->nshapes = 0;
    for (char *save, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (o->nshapes == MAX_SHAPES)
            usage_error("at most %d shapes", MAX_SHAPES);
        if (!parse_shape(tok, &o->shapes[o->nshapes++]))
            usage_error("bad shape '%s' (want ROWSxN, e.g. 16x4096)", tok);
    }
    free(copy);
    if (o->nshapes == 0)
        usage_error("--shapes needs at least one shape");
}

/* The tiers this process can run (all_tiers: every tier the library knows, of any architecture). */
static void list_tiers(char *buf, size_t size, bool all_tiers)
{
    buf[0] = '\0';
    for (int t = 0; t < NORM_ISA_COUNT; t++)
        if (all_tiers || norm_isa_available((norm_isa)t)) {
            size_t used = strlen(buf);
            snprintf(buf + used, size - used, "%s%s", used ? " " : "", norm_isa_name((norm_isa)t));
        }
}

static void list_available(char *buf, size_t size) { list_tiers(buf, size, false); }

static norm_isa isa_by_name(const char *name)
{
    for (int t = 0; t < NORM_ISA_COUNT; t++)
        if (strcmp(name, norm_isa_name((norm_isa)t)) == 0)
            return (norm_isa)t;
    return NORM_ISA_COUNT;
}

static void parse_isas(options *o, const char *list)
{
    char *copy = strdup(list), available[128], known[128];
    if (!copy)
        die("out of memory");
    list_available(available, sizeof available);
    list_tiers(known, sizeof known, true);
    memset(o->isa, 0, sizeof o->isa);
    for (char *save, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        norm_isa t = isa_by_name(tok);
        if (t == NORM_ISA_COUNT)
            usage_error("unknown ISA '%s' (known: %s)", tok, known);
        if (!norm_isa_available(t))
            usage_error("ISA '%s' cannot run here (available: %s)", tok, available);
        o->isa[t] = true;
    }
    free(copy);
}

/* ---------------------------------------------------------------- element types */

/* NORM_I8 is only ever y's type (--int8). */
static const char *dtype_name(norm_dtype t)
{
    return t == NORM_F32 ? "f32" : t == NORM_F16 ? "f16" : t == NORM_BF16 ? "bf16" : "i8";
}
static size_t dtype_size(norm_dtype t) { return t == NORM_F32 ? 4 : t == NORM_I8 ? 1 : 2; }

/* Significand bits, the implicit one included: one ulp of v is 2^(exponent of v + 1 - p). */
static int dtype_precision(norm_dtype t) { return t == NORM_F32 ? 24 : t == NORM_F16 ? 11 : 8; }

static bool is_f32(const combo *t) { return t->x == NORM_F32 && t->y == NORM_F32 && t->param == NORM_F32; }
static bool is_uniform(const combo *t) { return t->x == t->y && t->x == t->param; }

static bool parse_dtype(const char *s, norm_dtype *out)
{
    static const norm_dtype all[] = { NORM_F32, NORM_F16, NORM_BF16, NORM_I8 };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (strcmp(s, dtype_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    return false;
}

static combo make_combo(norm_dtype x, norm_dtype y, norm_dtype param)
{
    combo t = { .x = x, .y = y, .param = param };
    if (is_uniform(&t))
        snprintf(t.name, sizeof t.name, "%s", dtype_name(x));
    else if (param == x)
        snprintf(t.name, sizeof t.name, "%s:%s", dtype_name(x), dtype_name(y));
    else
        snprintf(t.name, sizeof t.name, "%s:%s:%s", dtype_name(x), dtype_name(y), dtype_name(param));
    return t;
}

/* "t", "x:y" or "x:y:gamma", each field f32, f16 or bf16 (or i8, which parse_types allows
 * for y with --int8 only); y and gamma default to x's type. */
static bool parse_combo(const char *s, combo *out)
{
    char buf[32];
    norm_dtype t[3];
    size_t last = 0; /* index of the last field */
    if (strlen(s) >= sizeof buf)
        return false;
    strcpy(buf, s);
    for (char *field = buf;; last++) {
        char *colon = strchr(field, ':');
        if (colon)
            *colon = '\0';
        if (last == 3 || !parse_dtype(field, &t[last]))
            return false;
        if (!colon)
            break;
        field = colon + 1;
    }
    *out = make_combo(t[0], last >= 1 ? t[1] : t[0], last >= 2 ? t[2] : t[0]);
    return true;
}

static bool has_combo(const options *o, const combo *t)
{
    for (size_t i = 0; i < o->ntypes; i++)
        if (strcmp(o->types[i].name, t->name) == 0)
            return true;
    return false;
}

/* What a mode times in the type the user wrote: with --int8, y is int8 ("bf16" and "bf16:i8"
 * are both x bf16, gamma bf16, y i8); --gated needs y of x's type, and f32 or bf16 rows (the
 * unfused silu pass it is compared with has no f16 version); i8 is --int8's alone. */
static combo mode_combo(const options *o, combo t, const char *tok)
{
    if (t.x == NORM_I8 || t.param == NORM_I8)
        usage_error("type '%s': only y can be i8 (with --int8)", tok);
    if (o->int8) {
        if (t.y != NORM_I8 && t.y != t.x)
            usage_error("type '%s': with --int8 y is i8; write x, x:i8 or x:i8:gamma", tok);
        return make_combo(t.x, NORM_I8, t.param);
    }
    if (t.y == NORM_I8)
        usage_error("type '%s': int8 output is timed by --int8", tok);
    if (o->gated && (t.y != t.x || t.x == NORM_F16))
        usage_error("type '%s': --gated times f32 or bf16 rows, y of x's type (gamma f32 or x's type)", tok);
    return t;
}

/* Fills o->types from the list, f32 first: every ratio to f32 needs f32 timed alongside. */
static void parse_types(options *o, const char *list)
{
    char *copy = strdup(strcmp(list, "all") == 0 ? all_types : list);
    if (!copy)
        die("out of memory");
    bool any = false;
    o->types[0] = mode_combo(o, make_combo(NORM_F32, NORM_F32, NORM_F32), "f32");
    o->ntypes = 1;
    for (char *save, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save), any = true) {
        combo t;
        if (!parse_combo(tok, &t))
            usage_error("bad type '%s' (want f32, f16 or bf16, or x:y or x:y:gamma of them)", tok);
        if (t.param != NORM_F32 && t.param != t.x)
            usage_error("type '%s': gamma must be f32 or x's type, as the library requires", tok);
        t = mode_combo(o, t, tok);
        if (!has_combo(o, &t)) /* repeats are timed once; MAX_COMBOS is every distinct one */
            o->types[o->ntypes++] = t;
    }
    free(copy);
    if (!any)
        usage_error("--types needs at least one type");
}

/* --dist: names from dist_names, or "all". They are timed in dist_names' order, each once. */
static void parse_dists(options *o, const char *list)
{
    char *copy = strdup(list);
    if (!copy)
        die("out of memory");
    memset(o->dist, 0, sizeof o->dist);
    for (char *save, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int d = 0;
        while (d < NDISTS && strcmp(tok, dist_names[d]) != 0)
            d++;
        if (strcmp(tok, "all") == 0)
            memset(o->dist, 1, sizeof o->dist);
        else if (d == NDISTS)
            usage_error("unknown distribution '%s' (known: gauss offset mean1e3 outliers const, or all)", tok);
        else
            o->dist[d] = true;
    }
    free(copy);
    o->ndists = 0;
    for (int d = 0; d < NDISTS; d++)
        o->ndists += o->dist[d];
    if (o->ndists == 0)
        usage_error("--dist needs at least one distribution");
}

/* The value of "--name VALUE" or "--name=VALUE"; advances *i past it. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    const char *arg = argv[*i];
    size_t len = strlen(name);
    if (arg[len] == '=')
        return arg + len + 1;
    if (*i + 1 >= argc)
        usage_error("%s needs a value", name);
    return argv[++*i];
}

/* --version: this program's (the header it was built with) and the library's it runs with. */
static void print_version(void)
{
    printf("norm-bench %d.%d.%d (libnorm %s)\n", NORM_VERSION_MAJOR, NORM_VERSION_MINOR, NORM_VERSION_PATCH,
           norm_version_string());
}

/* Does argv[i] name this option, alone or as --name=value? */
static bool is_option(const char *arg, const char *name)
{
    size_t len = strlen(name);
    return strncmp(arg, name, len) == 0 && (arg[len] == '\0' || arg[len] == '=');
}

static void parse_args(options *o, int argc, char **argv)
{
    bool quick = false, shapes_given = false, min_ms_given = false;
    const char *shapes = default_shapes, *types = NULL, *dists = "gauss";
    for (int t = 0; t < NORM_ISA_COUNT; t++)
        o->isa[t] = norm_isa_available((norm_isa)t);
    o->op[NORM_RMSNORM] = o->op[NORM_LAYERNORM] = true;
    o->rounds = DEFAULT_ROUNDS;
    o->min_ms = DEFAULT_MIN_MS;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--beta") == 0) {
            o->beta = true;
        } else if (strcmp(a, "--no-gamma") == 0) {
            o->no_gamma = true;
        } else if (strcmp(a, "--quick") == 0) {
            quick = true;
        } else if (strcmp(a, "--half-report") == 0) {
            o->half_report = true;
        } else if (strcmp(a, "--fused") == 0) {
            o->fused = true;
        } else if (strcmp(a, "--gated") == 0) {
            o->gated = true;
        } else if (strcmp(a, "--int8") == 0) {
            o->int8 = true;
        } else if (strcmp(a, "--split") == 0) {
            o->split = true;
        } else if (strcmp(a, "--short") == 0) {
            o->short_rows = true;
        } else if (strcmp(a, "--scaling") == 0) {
            o->scaling = true;
        } else if (is_option(a, "--threads")) {
            const char *v = option_value(argc, argv, &i, "--threads");
            size_t t;
            if (strcmp(v, "auto") == 0)
                t = NORM_THREADS_AUTO;
            else if (!parse_size(v, &t) || t == 0 || t > NORM_THREADS_MAX)
                usage_error("--threads must be 1..%zu or auto, not '%s'", (size_t)NORM_THREADS_MAX, v);
            o->threads = t;
        } else if (is_option(a, "--types")) {
            types = option_value(argc, argv, &i, "--types");
        } else if (is_option(a, "--dist")) {
            dists = option_value(argc, argv, &i, "--dist");
        } else if (is_option(a, "--shapes")) {
            shapes = option_value(argc, argv, &i, "--shapes");
            shapes_given = true;
        } else if (is_option(a, "--isa")) {
            parse_isas(o, option_value(argc, argv, &i, "--isa"));
        } else if (is_option(a, "--op")) {
            const char *v = option_value(argc, argv, &i, "--op");
            bool rms = strcmp(v, "rmsnorm") == 0, ln = strcmp(v, "layernorm") == 0;
            if (!rms && !ln)
                usage_error("--op must be rmsnorm or layernorm, not '%s'", v);
            o->op[NORM_RMSNORM] = rms;
            o->op[NORM_LAYERNORM] = ln;
        } else if (is_option(a, "--rounds")) {
            const char *v = option_value(argc, argv, &i, "--rounds");
            size_t r;
            if (!parse_size(v, &r) || r > 1000)
                usage_error("--rounds must be 1..1000, not '%s'", v);
            o->rounds = (int)r;
            o->rounds_given = true;
        } else if (is_option(a, "--min-ms")) {
            const char *v = option_value(argc, argv, &i, "--min-ms");
            char *end;
            o->min_ms = strtod(v, &end);
            if (end == v || *end || !(o->min_ms > 0 && o->min_ms <= 10000))
                usage_error("--min-ms must be a number of ms in (0, 10000], not '%s'", v);
            min_ms_given = true;
        } else if (strcmp(a, "--version") == 0) {
            print_version();
            exit(0);
        } else if (strcmp(a, "--progress") == 0) {
            o->progress = true;
        } else if (is_option(a, "--plot")) {
            o->plot_path = option_value(argc, argv, &i, "--plot");
        } else if (is_option(a, "--csv")) {
            o->csv_path = option_value(argc, argv, &i, "--csv");
        } else if (is_option(a, "--json")) {
            o->json_path = option_value(argc, argv, &i, "--json");
        } else {
            usage_error("unknown argument '%s'", a);
        }
    }
    if (o->half_report + o->fused + o->gated + o->int8 + o->split + o->short_rows > 1)
        usage_error("--half-report, --fused, --gated, --int8, --split and --short are separate reports: run one, "
                    "then another");
    if (o->short_rows && (o->scaling || types || strcmp(dists, "gauss") != 0 || o->beta || o->no_gamma ||
                          o->csv_path || o->json_path || o->plot_path))
        usage_error("--short times f32 gauss rows (LayerNorm with beta) and prints its table only: it takes\n"
                    "no --scaling, --types, --dist, --beta, --no-gamma, --csv, --json or --plot");
    if (o->gated && !o->op[NORM_RMSNORM])
        usage_error("--gated is RMSNorm only (the library gates no LayerNorm)");
    if (o->half_report) {
        if (!shapes_given)
            shapes = half_report_shapes;
        if (!types)
            types = half_report_types;
    }
    if (o->gated || o->int8) {
        if (!shapes_given)
            shapes = quick ? gated_quick_shapes : gated_shapes;
        if (!types)
            types = gated_types;
    }
    if (o->fused && !types)
        types = fused_types;
    if (o->split && !shapes_given)
        shapes = split_shapes;
    if (o->short_rows && !shapes_given)
        shapes = short_shapes;
    if (quick) {
        /* The reports' shapes are the point of them (--gated and --int8 have quick ones above). */
        if (!shapes_given && !o->half_report && !o->gated && !o->int8 && !o->split && !o->short_rows)
            shapes = quick_shapes;
        if (!o->rounds_given)
            o->rounds = QUICK_ROUNDS;
        if (!min_ms_given)
            o->min_ms = QUICK_MIN_MS;
    }
    o->scaling_shapes = shapes_given ? shapes : SCALING_SHAPES;
    parse_shapes(o, shapes);
    parse_types(o, types ? types : "f32");
    parse_dists(o, dists);
}

/* ---------------------------------------------------------------- machine facts */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The size that decides which floor applies: above it, x and y come from memory. The
 * kernel's sysfs view comes first: in virtual machines glibc's sysconf can report the host's
 * cache instead of the one this CPU reports. */
static size_t last_level_cache(bool *known)
{
    unsigned long kib = 0;
    FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "r");
    if (f) {
        if (fscanf(f, "%luK", &kib) != 1)
            kib = 0;
        fclose(f);
    }
    long l3 = (long)kib * 1024;
#ifdef _SC_LEVEL3_CACHE_SIZE /* a glibc extension */
    if (l3 <= 0)
        l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
    *known = l3 > 0;
    return l3 > 0 ? (size_t)l3 : FALLBACK_LLC;
}

static void cpu_model(char *buf, size_t size)
{
    static const char *const keys[] = { "model name", "Model", "Hardware", "cpu model" };
    char line[512];
    snprintf(buf, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
            if (strncmp(line, keys[k], strlen(keys[k])) == 0) {
                char *v = colon + 1 + strspn(colon + 1, " \t");
                v[strcspn(v, "\n")] = '\0';
                snprintf(buf, size, "%s", v);
                fclose(f);
                return;
            }
    }
    fclose(f);
}

static const char *human_bytes(double bytes, char *buf, size_t size)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, size, bytes == floor(bytes) ? "%.0f %s" : "%.1f %s", bytes, units[u]);
    return buf;
}

/* ---------------------------------------------------------------- data */

#define NTYPES 3 /* norm_dtype values: f32, f16, bf16 */

typedef struct workload {
    size_t rows, n;
    row_dist dist;           /* what x was drawn from (fill_workload) */
    void *x[NTYPES];         /* x in every type a combination reads, indexed by norm_dtype; else NULL */
    void *y;                 /* one output buffer, large enough for every combination */
    void *gamma[NTYPES];     /* gamma and beta likewise; beta is NULL unless --beta */
    void *beta[NTYPES];
    bool no_gamma;           /* --no-gamma: gamma holds ones, and the library gets NULL (lib_gamma) */
    void *r[NTYPES];         /* --fused: the residual, of x's type, overwritten with h by every call */
    void *r0[NTYPES];        /* its initial values, to restore before the output check */
    void *r_floor[NTYPES];   /* the fused floor's own residual: its 16-bit adds make garbage values */
    void *z[NTYPES];         /* --gated: the gate, of x's type */
    void *tmp;               /* --gated, --int8: the unfused sequence's temporary, room for rows*n f32 */
    float *y_scales;         /* --int8: the dynamic scales, one per row */
    norm_moments *moments;   /* --split: 2*rows, the combined moments and then one slice's */
    void *blocks[25];        /* what to free */
} workload;

/*
 * Where each buffer starts within a 4 KiB page. x86 cores guess whether a load depends on
 * an earlier store from the low 12 address bits alone ("4K aliasing"): if y sat just above
 * x modulo 4 KiB, every load of x would seem to hit the stores to y a few vectors back
 * and stall, and the timings would depend on where malloc happened to put the buffers.
 * Fixed offsets make runs comparable; y just below x never aliases (the loads run ahead).
 */
enum { X_OFFSET = 0, Y_OFFSET = 4096 - 256, GAMMA_OFFSET = 1024, BETA_OFFSET = 2048, R_OFFSET = 4096 - 128,
       Z_OFFSET = 512, TMP_OFFSET = 4096 - 384 };

static void *alloc_at(size_t bytes, size_t page_offset, void **block)
{
    size_t total = (page_offset + bytes + 4095) / 4096 * 4096;
    char *p = aligned_alloc(4096, total);
    *block = p;
    if (!p)
        return NULL;
    memset(p, 0, total); /* fault the pages in now, not inside a timed call */
    return p + page_offset;
}

static float *alloc_floats(size_t count)
{
    size_t bytes = (count * sizeof(float) + ALIGN - 1) / ALIGN * ALIGN;
    float *p = aligned_alloc(ALIGN, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

/* xorshift64*: fast, and the same data on every run. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [-1, 1). */
static float rng_uniform(uint64_t *s)
{
    return (float)(rng_next(s) >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

/* Roughly N(0, 1): the sum of four uniforms, rescaled (Irwin-Hall). */
static float rng_normalish(uint64_t *s)
{
    uint64_t a = rng_next(s), b = rng_next(s);
    float u = (float)(a >> 40) + (float)(a & 0xffffff) + (float)(b >> 40) + (float)(b & 0xffffff);
    return (u / 16777216.0f - 2.0f) * 1.7320508f;
}

/* ---------------------------------------------------------------- half precision values */

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* f32 -> bf16 or f16, rounded to nearest even. Only the inputs go this way, and they are
 * finite and far below f16's overflow, so NaN and Inf need no care. */
static uint16_t f32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static uint16_t f32_to_f16(float f)
{
    uint32_t u = f32_bits(f), sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a < 0x38800000u) /* below 2^-14, f16's subnormals: count units of 2^-24 (the product is exact) */
        return (uint16_t)(sign | (uint32_t)nearbyintf(f32_from_bits(a) * 0x1p24f));
    /* Rebias the exponent (127 - 15) and round the 13 dropped bits to nearest even. */
    return (uint16_t)(sign | ((a - 0x38000000u + 0xfffu + ((a >> 13) & 1u)) >> 13));
}

/* Widening is exact, NaN and Inf included: the check reads every output, written or not. */
static float bf16_to_f32(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }

static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, frac = h & 0x3ffu;
    if (exp == 0) /* zero or subnormal: frac * 2^-24 */
        return f32_from_bits(sign | f32_bits((float)frac * 0x1p-24f));
    if (exp == 31) /* Inf or NaN */
        return f32_from_bits(sign | 0x7f800000u | frac << 13);
    return f32_from_bits(sign | (exp + 112u) << 23 | frac << 13);
}

/* Element i of a buffer of type t, widened to f32. */
static float load_value(const void *p, norm_dtype t, size_t i)
{
    if (t == NORM_F32)
        return ((const float *)p)[i];
    uint16_t h = ((const uint16_t *)p)[i];
    return t == NORM_F16 ? f16_to_f32(h) : bf16_to_f32(h);
}

static void store_value(void *p, norm_dtype t, size_t i, float v)
{
    if (t == NORM_F32)
        ((float *)p)[i] = v;
    else
        ((uint16_t *)p)[i] = t == NORM_F16 ? f32_to_f16(v) : f32_to_bf16(v);
}

/* ---------------------------------------------------------------- workloads */

/* The memcpy floor of a combination copies what it moves, (x bytes + y bytes) / 2 per element,
 * from x to y; so x and y may need more room than their own type takes. */
static size_t memcpy_elem_bytes(const combo *t) { return (dtype_size(t->x) + dtype_size(t->y)) / 2; }

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* Bytes per element of x in type `type`: 0 if no combination reads it. */
static size_t x_elem_bytes(const options *o, norm_dtype type)
{
    size_t bytes = 0;
    for (size_t i = 0; i < o->ntypes; i++)
        if (o->types[i].x == type)
            bytes = max_size(bytes, max_size(dtype_size(type), memcpy_elem_bytes(&o->types[i])));
    return bytes;
}

static size_t y_elem_bytes(const options *o)
{
    size_t bytes = 0;
    for (size_t i = 0; i < o->ntypes; i++)
        bytes = max_size(bytes, max_size(dtype_size(o->types[i].y), memcpy_elem_bytes(&o->types[i])));
    return bytes;
}

static bool param_used(const options *o, norm_dtype type)
{
    for (size_t i = 0; i < o->ntypes; i++)
        if (o->types[i].param == type)
            return true;
    return false;
}

static void free_workload(workload *w)
{
    for (size_t i = 0; i < sizeof w->blocks / sizeof *w->blocks; i++)
        free(w->blocks[i]);
    memset(w, 0, sizeof *w);
}

/* Outlier channel k of a row of n: 3, n/3, n/2+1 and n-5, clamped to the row (short rows have
 * fewer, distinct, outlier channels). */
static size_t outlier_channel(size_t k, size_t n)
{
    size_t at[DIST_NOUTLIERS] = { 3, n / 3, n / 2 + 1, n > 5 ? n - 5 : 0 };
    return at[k] < n ? at[k] : n - 1;
}

/* What a row of a distribution adds to the noise (offset, mean1e3) or puts in its place (const),
 * and the values of its outlier channels. */
typedef struct row_draw {
    float shift;
    float outlier[DIST_NOUTLIERS];
} row_draw;

/* Draws a row's parameters from the distribution's own generator, so that the noise, the
 * residual, gamma and beta are the same draws whatever the distribution. */
static row_draw draw_row(row_dist d, uint64_t *s)
{
    row_draw r = { 0 };
    switch (d) {
    case DIST_OFFSET: r.shift = 0.5f * DIST_OFFSET_MAX * (1.0f + rng_uniform(s)); break;
    case DIST_MEAN1E3: r.shift = DIST_MEAN; break;
    case DIST_OUTLIERS:
        for (size_t k = 0; k < DIST_NOUTLIERS; k++) { /* even channels positive, odd ones negative */
            float mag = 0.5f * (DIST_OUTLIER_MIN + DIST_OUTLIER_MAX) +
                        0.5f * (DIST_OUTLIER_MAX - DIST_OUTLIER_MIN) * rng_uniform(s);
            r.outlier[k] = k % 2 ? -mag : mag;
        }
        break;
    case DIST_CONST: { /* |value| in [0.25, 2): nonzero, of order 1 like the noise, either sign */
        float u = rng_uniform(s);
        r.shift = copysignf(0.25f + 1.75f * fabsf(u), u);
        break;
    }
    default: break;
    }
    return r;
}

/* Element col of a row: the noise, shifted, replaced, or an outlier channel's value. */
static float dist_value(row_dist d, const row_draw *r, size_t col, size_t n, float noise)
{
    switch (d) {
    case DIST_OFFSET:
    case DIST_MEAN1E3: return r->shift + noise;
    case DIST_CONST: return r->shift;
    case DIST_OUTLIERS:
        for (size_t k = 0; k < DIST_NOUTLIERS; k++)
            if (col == outlier_channel(k, n))
                return r->outlier[k];
        return noise;
    default: return noise;
    }
}

/* The same values in every type: drawn in f32, then rounded to f16 and bf16. x is drawn from
 * the distribution d (gauss: exactly the rows of every run before --dist). The residual of
 * --fused stays zero-mean noise, so that h = x + r has x's statistics (each timed call adds x
 * to r once more: h tends to a multiple of x); but with constant rows r is the row's constant
 * too, so that h is constant as well. */
static void fill_workload(workload *w, row_dist d)
{
    uint64_t seed = 0x9E3779B97F4A7C15ULL, dseed = 0xBF58476D1CE4E5B9ULL;
    row_draw row = { 0 };
    w->dist = d;
    for (size_t i = 0; i < w->rows * w->n; i++) {
        size_t col = i % w->n;
        if (col == 0)
            row = draw_row(d, &dseed);
        float v = rng_normalish(&seed), rv = 2.0f * rng_normalish(&seed);
        v = dist_value(d, &row, col, w->n, v);
        if (d == DIST_CONST)
            rv = v;
        for (int t = 0; t < NTYPES; t++) {
            if (w->x[t])
                store_value(w->x[t], (norm_dtype)t, i, v);
            if (w->r[t])
                store_value(w->r[t], (norm_dtype)t, i, rv);
        }
    }
    /* The gate from a seed of its own, so that x holds the same values in every mode. */
    uint64_t zseed = 0xD1B54A32D192ED03ULL;
    for (size_t i = 0; i < w->rows * w->n; i++) {
        float z = rng_normalish(&zseed);
        for (int t = 0; t < NTYPES; t++)
            if (w->z[t])
                store_value(w->z[t], (norm_dtype)t, i, z);
    }
    for (int t = 0; t < NTYPES; t++)
        if (w->r[t]) {
            memcpy(w->r0[t], w->r[t], w->rows * w->n * dtype_size((norm_dtype)t));
            memcpy(w->r_floor[t], w->r[t], w->rows * w->n * dtype_size((norm_dtype)t));
        }
    /* Beta of the order of the normalised values, as a trained shift is, rather than one lost in
     * their last bits: how a kernel adds it then shows in the check. */
    bool beta = w->beta[NORM_F32] || w->beta[NORM_F16] || w->beta[NORM_BF16];
    for (size_t i = 0; i < w->n; i++) {
        float g = 1.0f + 0.1f * rng_uniform(&seed); /* near 1, like a trained scale */
        if (w->no_gamma)
            g = 1.0f; /* what the library's NULL gamma means */
        float b = beta ? rng_uniform(&seed) : 0.0f;
        for (int t = 0; t < NTYPES; t++) {
            if (w->gamma[t])
                store_value(w->gamma[t], (norm_dtype)t, i, g);
            if (w->beta[t])
                store_value(w->beta[t], (norm_dtype)t, i, b);
        }
    }
}

/* The buffers of a shape, unfilled: fill_workload draws them, once per distribution. */
static bool make_workload(workload *w, shape s, const options *o)
{
    size_t count = s.rows * s.n;
    bool ok = true;
    *w = (workload){ .rows = s.rows, .n = s.n, .no_gamma = o->no_gamma };
    for (int t = 0; t < NTYPES; t++) {
        size_t x_bytes = x_elem_bytes(o, (norm_dtype)t), size = dtype_size((norm_dtype)t);
        if (x_bytes)
            ok &= (w->x[t] = alloc_at(count * x_bytes, X_OFFSET, &w->blocks[t])) != NULL;
        if (x_bytes && o->fused) {
            ok &= (w->r[t] = alloc_at(count * size, R_OFFSET, &w->blocks[10 + t])) != NULL;
            ok &= (w->r0[t] = alloc_at(count * size, 0, &w->blocks[13 + t])) != NULL;
            ok &= (w->r_floor[t] = alloc_at(count * size, R_OFFSET, &w->blocks[16 + t])) != NULL;
        }
        if (x_bytes && o->gated)
            ok &= (w->z[t] = alloc_at(count * size, Z_OFFSET, &w->blocks[19 + t])) != NULL;
        if (param_used(o, (norm_dtype)t)) {
            ok &= (w->gamma[t] = alloc_at(s.n * size, GAMMA_OFFSET, &w->blocks[4 + t])) != NULL;
            if (o->beta)
                ok &= (w->beta[t] = alloc_at(s.n * size, BETA_OFFSET, &w->blocks[7 + t])) != NULL;
        }
    }
    ok &= (w->y = alloc_at(count * y_elem_bytes(o), Y_OFFSET, &w->blocks[3])) != NULL;
    if (o->gated || o->int8)
        ok &= (w->tmp = alloc_at(count * sizeof(float), TMP_OFFSET, &w->blocks[22])) != NULL;
    if (o->int8)
        ok &= (w->y_scales = alloc_at(s.rows * sizeof(float), 0, &w->blocks[23])) != NULL;
    if (o->split)
        ok &= (w->moments = alloc_at(2 * s.rows * sizeof(norm_moments), 0, &w->blocks[24])) != NULL;
    if (!ok) {
        free_workload(w);
        return false;
    }
    return true;
}

/* What make_workload allocates for a shape, for the message when it cannot. */
static double workload_bytes(shape s, const options *o)
{
    double elems = (double)s.rows * (double)s.n, bytes = elems * (double)y_elem_bytes(o);
    for (int t = 0; t < NTYPES; t++)
        bytes += elems * (double)x_elem_bytes(o, (norm_dtype)t) * (o->fused ? 4 : o->gated ? 2 : 1);
    if (o->gated || o->int8)
        bytes += elems * sizeof(float);
    return bytes;
}

/* ---------------------------------------------------------------- candidates */

typedef enum cand_kind {
    CAND_READ,       /* floor reference: read pass + y = x*gamma (f32), or y = x (16-bit x or y) */
    CAND_MEMCPY,     /* floor reference: memcpy x -> y */
    CAND_PLAIN,      /* plain C loop (reference.c), f32 only */
    CAND_LIB,        /* libnorm's public API on one tier */
    CAND_FFLOOR,     /* --fused: the fused floor (reference.c) */
    CAND_FUSED,      /* --fused: norm_run with the residual on one tier */
    CAND_UNFUSED,    /* --fused: the add pass (reference.c), then norm_run on one tier */
    CAND_GFLOOR,     /* --gated: the gated floor (reference.c) */
    CAND_GATED,      /* --gated: norm_run with the gate on one tier; variant GATE_AFTER or GATE_BEFORE */
    CAND_GUNFUSED,   /* --gated: norm_run, then the silu pass (or the silu pass, then norm_run) */
    CAND_GSLEEF,     /* --gated: the same with the tier's SLEEF silu pass (silu_sleef.c): the target's baseline */
    CAND_QFLOOR,     /* --int8: the int8 floor (reference.c) */
    CAND_INT8,       /* --int8: norm_run with int8 y on one tier; variant SCALE_STATIC or SCALE_DYNAMIC */
    CAND_QUNFUSED,   /* --int8: norm_run to f32, then the quantize pass (reference.c) */
    CAND_SPLIT       /* --split: the rows in `variant` slices through the moments API, on one tier */
} cand_kind;

/* The variants of a candidate (candidate.variant): the gate's order, the int8 scale; with
 * CAND_SPLIT the number of slices. */
enum { GATE_AFTER = 0, GATE_BEFORE = 1 };
enum { SCALE_STATIC = 0, SCALE_DYNAMIC = 1 };

/* Does the candidate call the library on a tier? */
static bool on_tier(cand_kind k)
{
    return k == CAND_LIB || k == CAND_FUSED || k == CAND_UNFUSED || k == CAND_GATED || k == CAND_GUNFUSED ||
           k == CAND_GSLEEF ||
           k == CAND_INT8 || k == CAND_QUNFUSED || k == CAND_SPLIT;
}

typedef struct candidate {
    cand_kind kind;
    combo types;     /* of x, y and gamma */
    norm_kind op;    /* CAND_PLAIN, CAND_LIB */
    norm_isa isa;    /* CAND_LIB */
    size_t variant;  /* GATE_*, SCALE_*, or the slices of CAND_SPLIT */
    size_t iters;    /* calls per timed sample, from calibration */
    double call_s;   /* calibrated time of one call */
    double *ns_row;  /* one sample per round */
    double median, min;
    double max, q1, q3; /* the spread of the rounds: largest, and the quartiles */
} candidate;

static const char *op_name(norm_kind op) { return op == NORM_RMSNORM ? "rmsnorm" : "layernorm"; }

static const char *impl_name(const candidate *c)
{
    switch (c->kind) {
    case CAND_READ: return is_f32(&c->types) ? "read+x*gamma" : "read+y=x";
    case CAND_MEMCPY: return "memcpy";
    case CAND_PLAIN: return "plain-C";
    case CAND_LIB:
    case CAND_FUSED:
    case CAND_UNFUSED:
    case CAND_GATED:
    case CAND_GUNFUSED:
    case CAND_GSLEEF:
    case CAND_INT8:
    case CAND_QUNFUSED:
    case CAND_SPLIT: return norm_isa_name(c->isa);
    case CAND_FFLOOR: return "fused-floor";
    case CAND_GFLOOR: return "gated-floor";
    case CAND_QFLOOR: return "int8-floor";
    }
    return "?";
}

static const char *gate_name(size_t variant) { return variant == GATE_BEFORE ? "before" : "after"; }
static const char *scale_name(size_t variant) { return variant == SCALE_DYNAMIC ? "dynamic" : "static"; }

/* What a candidate is, for messages: "rmsnorm avx2" as before for the plain and fused ones,
 * "gated rmsnorm (gate before) avx2", "rmsnorm to f32 + quantize (dynamic) avx2" and so on. */
static const char *cand_label(const candidate *c, char *buf, size_t size)
{
    const char *op = op_name(c->op), *impl = impl_name(c);
    switch (c->kind) {
    case CAND_GATED: snprintf(buf, size, "gated rmsnorm (gate %s) %s", gate_name(c->variant), impl); break;
    case CAND_GUNFUSED:
        snprintf(buf, size, "%s %s", c->variant == GATE_BEFORE ? "silu pass + rmsnorm" : "rmsnorm + silu pass", impl);
        break;
    case CAND_GSLEEF:
        snprintf(buf, size, "%s %s",
                 c->variant == GATE_BEFORE ? "SLEEF silu pass + rmsnorm" : "rmsnorm + SLEEF silu pass", impl);
        break;
    case CAND_INT8: snprintf(buf, size, "%s to int8 (%s scale) %s", op, scale_name(c->variant), impl); break;
    case CAND_QUNFUSED:
        snprintf(buf, size, "%s to f32 + quantize (%s scale) %s", op, scale_name(c->variant), impl);
        break;
    case CAND_SPLIT: snprintf(buf, size, "%s in %zu slices %s", op, c->variant, impl); break;
    case CAND_READ:
    case CAND_MEMCPY:
    case CAND_FFLOOR:
    case CAND_GFLOOR:
    case CAND_QFLOOR: snprintf(buf, size, "reference %s", impl); break;
    default: snprintf(buf, size, "%s %s", op, impl); break;
    }
    return buf;
}

static void select_isa(norm_isa isa)
{
    norm_status st = norm_set_max_isa(isa);
    if (st != NORM_OK)
        die("norm_set_max_isa(%s): %s", norm_isa_name(isa), norm_status_string(st));
}

/* Gamma as the library's calls get it: NULL under --no-gamma. */
static const void *lib_gamma(const workload *w, norm_dtype t)
{
    return w->no_gamma ? NULL : w->gamma[t];
}

/* The library on dense rows. Uniform types go through the convenience function a user of
 * them would call (norm_rmsnorm_bf16() and so on), mixed ones through norm_run(); both end in
 * the same checks and kernels, and f32 is timed exactly as before half precision existed. */
static norm_status run_library(const candidate *c, const workload *w)
{
    const combo *t = &c->types;
    bool rms = c->op == NORM_RMSNORM;
    const void *x = w->x[t->x], *gamma = lib_gamma(w, t->param), *beta = w->beta[t->param];
    size_t rows = w->rows, n = w->n;
    if (is_uniform(t)) {
        switch (t->x) {
        case NORM_F32: return (rms ? norm_rmsnorm_f32 : norm_layernorm_f32)(w->y, x, gamma, beta, rows, n, EPS);
        case NORM_F16: return (rms ? norm_rmsnorm_f16 : norm_layernorm_f16)(w->y, x, gamma, beta, rows, n, EPS);
        case NORM_BF16: return (rms ? norm_rmsnorm_bf16 : norm_layernorm_bf16)(w->y, x, gamma, beta, rows, n, EPS);
        default: break;
        }
    }
    norm_params p = norm_params_default(c->op);
    p.rows = rows;
    p.n = n;
    p.eps = EPS; /* the same eps for both norms, as in the f32 calls */
    p.y = w->y;
    p.y_type = t->y;
    p.x = x;
    p.x_type = t->x;
    p.gamma = gamma;
    p.beta = beta;
    p.param_type = t->param;
    return norm_run(&p);
}

/* The floor in the combination's storage types. */
static void run_floor(const candidate *c, const workload *w)
{
    const combo *t = &c->types;
    if (c->kind == CAND_MEMCPY)
        ref_floor_memcpy(w->y, w->x[t->x], w->rows * w->n * memcpy_elem_bytes(t));
    else if (is_f32(t))
        ref_floor_read_scale(w->y, w->x[NORM_F32], w->gamma[NORM_F32], w->beta[NORM_F32], w->rows, w->n);
    else
        ref_floor_read_move(w->y, dtype_size(t->y), w->x[t->x], dtype_size(t->x), w->rows, w->n);
}

/* The unfused engine's add pass in x's type: r = x + r. */
static void run_add(norm_dtype t, void *r, const void *x, size_t count)
{
    if (t == NORM_F32)
        ref_add_f32(r, x, count);
    else if (t == NORM_BF16)
        ref_add_bf16(r, x, count);
    else
        ref_add_f16(r, x, count);
}

/* The fused call (h = x + r written back to r, then normalised), or the unfused sequence: the
 * add pass, then the norm of r. */
static norm_status run_residual(const candidate *c, const workload *w, bool fused)
{
    const combo *t = &c->types;
    void *r = w->r[t->x];
    norm_params p = norm_params_default(c->op);
    p.rows = w->rows;
    p.n = w->n;
    p.eps = EPS;
    p.y = w->y;
    p.y_type = t->y;
    p.x_type = t->x;
    p.gamma = lib_gamma(w, t->param);
    p.beta = w->beta[t->param];
    p.param_type = t->param;
    if (fused) {
        p.x = w->x[t->x];
        p.residual = r;
        p.residual_out = r;
    } else {
        run_add(t->x, r, w->x[t->x], w->rows * w->n);
        p.x = r;
    }
    return norm_run(&p);
}

/* The norm_params every --gated, --int8 and --split call starts from: the candidate's op and
 * types on the whole workload, dense rows. */
static norm_params workload_params(const candidate *c, const workload *w)
{
    const combo *t = &c->types;
    norm_params p = norm_params_default(c->op);
    p.rows = w->rows;
    p.n = w->n;
    p.eps = EPS;
    p.y = w->y;
    p.y_type = t->y;
    p.x = w->x[t->x];
    p.x_type = t->x;
    p.gamma = lib_gamma(w, t->param);
    p.beta = w->beta[t->param];
    p.param_type = t->param;
    return p;
}

/* --gated's SLEEF baseline: silu_impl_<tier> (silu_sleef.c) for each tier that has one, found
 * through the ISA list; a weak reference is NULL where the tier was not compiled in (or has no
 * vector layer: scalar). */
#define SILU_EXTERN(name, NAME, value, arch, pred) extern const silu_impl silu_impl_##name __attribute__((weak));
#define SILU_ENTRY(name, NAME, value, arch, pred) [value] = &silu_impl_##name,
#define SILU_NO_VARIANT(name, NAME, tier, arch, pred)
NORM_ISA_LIST(SILU_EXTERN, SILU_NO_VARIANT)
static const silu_impl *const silu_impls[NORM_ISA_COUNT] = { NORM_ISA_LIST(SILU_ENTRY, SILU_NO_VARIANT) };

/* --gated: the gated call, or the unfused sequence an engine would run without it: the norm,
 * then y *= silu(z) (gate after); or t = x * silu(z) into a temporary of x's type, then the
 * norm of t (gate before). The silu pass is reference.c's (libm's expf, -ffast-math) or, for
 * CAND_GSLEEF, the tier's SLEEF pass. */
static norm_status run_gated(const candidate *c, const workload *w, bool fused)
{
    const silu_impl *sl = c->kind == CAND_GSLEEF ? silu_impls[c->isa] : NULL;
    norm_params p = workload_params(c, w);
    norm_dtype xt = c->types.x;
    size_t count = w->rows * w->n;
    bool before = c->variant == GATE_BEFORE;
    const void *z = w->z[xt];
    if (fused) {
        p.gate = z;
        if (before)
            p.flags |= NORM_GATE_BEFORE_NORM;
        return norm_run(&p);
    }
    if (before) {
        if (sl && xt == NORM_F32)
            sl->gate_f32(w->tmp, p.x, z, count);
        else if (sl)
            sl->gate_bf16(w->tmp, p.x, z, count);
        else if (xt == NORM_F32)
            ref_gate_f32(w->tmp, p.x, z, count);
        else
            ref_gate_bf16(w->tmp, p.x, z, count);
        p.x = w->tmp;
        return norm_run(&p);
    }
    norm_status st = norm_run(&p);
    if (st != NORM_OK)
        return st;
    if (sl && xt == NORM_F32)
        sl->mul_silu_f32(w->y, z, count);
    else if (sl)
        sl->mul_silu_bf16(w->y, z, count);
    else if (xt == NORM_F32)
        ref_mul_silu_f32(w->y, z, count);
    else
        ref_mul_silu_bf16(w->y, z, count);
    return NORM_OK;
}

/* --int8: the call with int8 y, or the norm to f32 (into the temporary) and then the quantize
 * pass, with the same static scale or a dynamic scale per row. */
static norm_status run_int8(const candidate *c, const workload *w, bool fused)
{
    norm_params p = workload_params(c, w);
    bool dynamic = c->variant == SCALE_DYNAMIC;
    if (fused) {
        if (dynamic)
            p.y_scales = w->y_scales;
        else
            p.y_scale = INT8_STATIC_SCALE;
        return norm_run(&p);
    }
    p.y = w->tmp;
    p.y_type = NORM_F32;
    norm_status st = norm_run(&p);
    if (st != NORM_OK)
        return st;
    if (dynamic)
        ref_quantize_i8_dynamic(w->y, w->y_scales, w->tmp, w->rows, w->n);
    else
        ref_quantize_i8(w->y, w->tmp, 1.0f / INT8_STATIC_SCALE, w->rows * w->n);
    return NORM_OK;
}

/* --split: every row normalised in k slices, one after another on this thread, as k workers
 * would do it in parallel: each slice's moments (norm_moments_run), combined into the rows'
 * (norm_moments_combine), then each slice normalised with them (norm_run with .moments, x, y,
 * gamma and beta that slice's, the row strides the whole rows'). Slice s is [n*s/k, n*(s+1)/k);
 * an empty one (n < k) is skipped, as a worker with nothing to do would be. */
static norm_status run_split(const candidate *c, const workload *w)
{
    const combo *t = &c->types;
    size_t k = c->variant, n = w->n, rows = w->rows;
    size_t xe = dtype_size(t->x), ye = dtype_size(t->y), pe = dtype_size(t->param);
    norm_moments *acc = w->moments, *part = w->moments + rows;
    bool first = true;
    norm_status st;
    for (size_t s = 0; s < k; s++) {
        size_t lo = n * s / k, hi = n * (s + 1) / k;
        if (lo == hi)
            continue;
        norm_params p = norm_params_default(c->op);
        p.rows = rows;
        p.n = hi - lo;
        p.x = (const char *)w->x[t->x] + lo * xe;
        p.x_stride = n;
        p.x_type = t->x;
        p.param_type = t->param;
        if ((st = norm_moments_run(&p, first ? acc : part)) != NORM_OK)
            return st;
        if (!first && (st = norm_moments_combine(acc, part, rows)) != NORM_OK)
            return st;
        first = false;
    }
    for (size_t s = 0; s < k; s++) {
        size_t lo = n * s / k, hi = n * (s + 1) / k;
        if (lo == hi)
            continue;
        norm_params p = workload_params(c, w);
        p.n = hi - lo;
        p.x = (const char *)p.x + lo * xe;
        p.x_stride = n;
        p.y = (char *)p.y + lo * ye;
        p.y_stride = n;
        if (p.gamma)
            p.gamma = (const char *)p.gamma + lo * pe;
        if (p.beta)
            p.beta = (const char *)p.beta + lo * pe;
        p.moments = acc;
        if ((st = norm_run(&p)) != NORM_OK)
            return st;
    }
    return NORM_OK;
}

static norm_status run_once(const candidate *c, const workload *w)
{
    switch (c->kind) {
    case CAND_READ:
    case CAND_MEMCPY:
        run_floor(c, w);
        return NORM_OK;
    case CAND_PLAIN:
        (c->op == NORM_RMSNORM ? ref_rmsnorm_plain : ref_layernorm_plain)(
            w->y, w->x[NORM_F32], w->gamma[NORM_F32], w->beta[NORM_F32], w->rows, w->n, EPS);
        return NORM_OK;
    case CAND_LIB:
        return run_library(c, w);
    case CAND_FFLOOR: {
        const combo *t = &c->types;
        ref_floor_fused(w->y, dtype_size(t->y), w->r_floor[t->x], w->x[t->x], dtype_size(t->x), w->gamma[NORM_F32],
                        w->rows, w->n);
        return NORM_OK;
    }
    case CAND_FUSED:
    case CAND_UNFUSED:
        return run_residual(c, w, c->kind == CAND_FUSED);
    case CAND_GFLOOR: {
        const combo *t = &c->types;
        ref_floor_gated(w->y, w->x[t->x], w->z[t->x], dtype_size(t->x), w->gamma[t->param], dtype_size(t->param),
                        w->rows, w->n);
        return NORM_OK;
    }
    case CAND_GATED:
    case CAND_GUNFUSED:
    case CAND_GSLEEF:
        return run_gated(c, w, c->kind == CAND_GATED);
    case CAND_QFLOOR: {
        const combo *t = &c->types;
        ref_floor_int8(w->y, w->x[t->x], dtype_size(t->x), w->gamma[t->param], dtype_size(t->param), w->rows, w->n);
        return NORM_OK;
    }
    case CAND_INT8:
    case CAND_QUNFUSED:
        return run_int8(c, w, c->kind == CAND_INT8);
    case CAND_SPLIT:
        return run_split(c, w);
    }
    return NORM_ERR_BAD_ARGUMENT;
}

/* Seconds for `iters` back-to-back calls. */
static double time_calls(const candidate *c, const workload *w, size_t iters)
{
    if (on_tier(c->kind))
        select_isa(c->isa); /* outside the timed region: users pay for this once, not per call */
    norm_status worst = NORM_OK;
    double t0 = now_s();
    for (size_t i = 0; i < iters; i++) {
        norm_status st = run_once(c, w);
        if (st != NORM_OK)
            worst = st;
    }
    double t = now_s() - t0;
    char label[96];
    if (worst != NORM_OK)
        die("%s (types %s) failed: %s", cand_label(c, label, sizeof label), c->types.name, norm_status_string(worst));
    return t;
}

/* Finds how many calls make one sample last min_s; the first call also warms caches and TLB. */
static void calibrate(candidate *c, const workload *w, double min_s)
{
    size_t iters = 1;
    double t = time_calls(c, w, 1);
    while (t < min_s && iters < ((size_t)1 << 40)) {
        /* Aim 20% past the target so the next try usually lands; at most 100x per step,
         * since a first call that hit a cold cache can look far slower than the rest. */
        double grow = t > 0 ? min_s / t * 1.2 : 100.0;
        size_t next = (size_t)((double)iters * (grow > 100 ? 100 : grow));
        iters = next > iters ? next : iters + 1;
        t = time_calls(c, w, iters);
    }
    c->iters = iters;
    c->call_s = t / (double)iters;
}

/* Most candidates one type combination can have: two floors, and per op a plain loop and the
 * tiers; with --fused one floor, and per op and tier the fused call and the unfused sequence;
 * with --int8 one floor, and per op, scale and tier the int8 call and the unfused sequence
 * (the most); with --split two floors, and per op and tier one call and a split per k. */
#define MAX_CANDIDATES_PER_COMBO (1 + 8 * NORM_ISA_COUNT)

/* One combination's candidates: the floor references first (the cache floor, then memcpy),
 * then for each op the plain loop (f32 only) and the tiers in ladder order. */
static size_t build_candidates(candidate *c, const options *o, const combo *types)
{
    size_t count = 0;
    c[count++] = (candidate){ .kind = CAND_READ, .types = *types };
    c[count++] = (candidate){ .kind = CAND_MEMCPY, .types = *types };
    for (int op = 0; op < 2; op++) {
        if (!o->op[op])
            continue;
        if (is_f32(types))
            c[count++] = (candidate){ .kind = CAND_PLAIN, .types = *types, .op = (norm_kind)op };
        for (int t = 0; t < NORM_ISA_COUNT; t++)
            if (o->isa[t])
                c[count++] = (candidate){ .kind = CAND_LIB, .types = *types, .op = (norm_kind)op,
                                          .isa = (norm_isa)t };
    }
    return count;
}

/* --fused: the fused floor, then for each op each tier's fused call and unfused sequence. */
static size_t build_fused_candidates(candidate *c, const options *o, const combo *types)
{
    size_t count = 0;
    c[count++] = (candidate){ .kind = CAND_FFLOOR, .types = *types };
    for (int op = 0; op < 2; op++) {
        if (!o->op[op])
            continue;
        for (int t = 0; t < NORM_ISA_COUNT; t++)
            if (o->isa[t]) {
                c[count++] = (candidate){ .kind = CAND_FUSED, .types = *types, .op = (norm_kind)op, .isa = (norm_isa)t };
                c[count++] = (candidate){ .kind = CAND_UNFUSED, .types = *types, .op = (norm_kind)op, .isa = (norm_isa)t };
            }
    }
    return count;
}

/* --gated: the gated floor, then for each order each tier's gated call and unfused sequence. */
static size_t build_gated_candidates(candidate *c, const options *o, const combo *types)
{
    size_t count = 0;
    c[count++] = (candidate){ .kind = CAND_GFLOOR, .types = *types };
    for (size_t v = GATE_AFTER; v <= GATE_BEFORE; v++)
        for (int t = 0; t < NORM_ISA_COUNT; t++)
            if (o->isa[t]) {
                c[count++] = (candidate){ .kind = CAND_GATED, .types = *types, .op = NORM_RMSNORM,
                                          .isa = (norm_isa)t, .variant = v };
                c[count++] = (candidate){ .kind = CAND_GUNFUSED, .types = *types, .op = NORM_RMSNORM,
                                          .isa = (norm_isa)t, .variant = v };
                if (silu_impls[t])
                    c[count++] = (candidate){ .kind = CAND_GSLEEF, .types = *types, .op = NORM_RMSNORM,
                                              .isa = (norm_isa)t, .variant = v };
            }
    return count;
}

/* --int8: the int8 floor, then for each op and scale each tier's int8 call and unfused sequence. */
static size_t build_int8_candidates(candidate *c, const options *o, const combo *types)
{
    size_t count = 0;
    c[count++] = (candidate){ .kind = CAND_QFLOOR, .types = *types };
    for (int op = 0; op < 2; op++) {
        if (!o->op[op])
            continue;
        for (size_t v = SCALE_STATIC; v <= SCALE_DYNAMIC; v++)
            for (int t = 0; t < NORM_ISA_COUNT; t++)
                if (o->isa[t]) {
                    c[count++] = (candidate){ .kind = CAND_INT8, .types = *types, .op = (norm_kind)op,
                                              .isa = (norm_isa)t, .variant = v };
                    c[count++] = (candidate){ .kind = CAND_QUNFUSED, .types = *types, .op = (norm_kind)op,
                                              .isa = (norm_isa)t, .variant = v };
                }
    }
    return count;
}

/* --split: the two floors of the plain benchmark, then for each op and tier one call on the
 * whole rows (CAND_LIB) followed by the split sequence for each k. */
static size_t build_split_candidates(candidate *c, const options *o, const combo *types)
{
    size_t count = 0;
    c[count++] = (candidate){ .kind = CAND_READ, .types = *types };
    c[count++] = (candidate){ .kind = CAND_MEMCPY, .types = *types };
    for (int op = 0; op < 2; op++) {
        if (!o->op[op])
            continue;
        for (int t = 0; t < NORM_ISA_COUNT; t++)
            if (o->isa[t]) {
                c[count++] = (candidate){ .kind = CAND_LIB, .types = *types, .op = (norm_kind)op, .isa = (norm_isa)t };
                for (size_t k = 0; k < NSPLIT_KS; k++)
                    c[count++] = (candidate){ .kind = CAND_SPLIT, .types = *types, .op = (norm_kind)op,
                                              .isa = (norm_isa)t, .variant = split_ks[k] };
            }
    }
    return count;
}

/* ---------------------------------------------------------------- measurement */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The quartile at fraction q of sorted samples, interpolated between neighbours. */
static double quantile(const double *sorted, int count, double q)
{
    double at = q * (double)(count - 1);
    int lo = (int)at;
    return lo + 1 < count ? sorted[lo] + (at - lo) * (sorted[lo + 1] - sorted[lo]) : sorted[lo];
}

static void summarise_spread(candidate *c, int rounds)
{
    c->max = c->ns_row[rounds - 1];
    c->q1 = quantile(c->ns_row, rounds, 0.25);
    c->q3 = quantile(c->ns_row, rounds, 0.75);
}

static void summarise(candidate *c, int rounds)
{
    qsort(c->ns_row, (size_t)rounds, sizeof *c->ns_row, cmp_double);
    c->min = c->ns_row[0];
    c->median = rounds % 2 ? c->ns_row[rounds / 2] : 0.5 * (c->ns_row[rounds / 2 - 1] + c->ns_row[rounds / 2]);
    summarise_spread(c, rounds);
}

/* As many rounds as asked, unless a round is so slow (huge shapes) that they would not fit
 * the shape's time budget, SHAPE_BUDGET_S for each type combination (so each is sampled as
 * well as f32 alone would be); an explicit --rounds is always honoured. */
static int choose_rounds(const options *o, const candidate *c, size_t count)
{
    if (o->rounds_given)
        return o->rounds;
    double round_s = 0, budget_s = SHAPE_BUDGET_S * (double)o->ntypes;
    for (size_t k = 0; k < count; k++)
        round_s += c[k].call_s * (double)c[k].iters;
    if (round_s * o->rounds <= budget_s)
        return o->rounds;
    int affordable = (int)(budget_s / round_s); /* < o->rounds here, so no overflow */
    return affordable > MIN_ROUNDS ? affordable : MIN_ROUNDS;
}

/* ---- progress on stderr: for long runs (8192x8192 takes minutes), where a person waits. On a
 * terminal one line is rewritten in place; elsewhere (--progress into a file) a line per shape. */
static struct {
    bool on, tty;
    size_t shape, shapes;
    char what[64];   /* "16x4096" or "16x4096, dist outliers" */
    double start_s;  /* of the run */
} progress;

static double now_s(void);

static void progress_start(const options *o)
{
    progress.tty = isatty(STDERR_FILENO);
    progress.on = o->progress || progress.tty;
    progress.shapes = o->nshapes;
    progress.start_s = now_s();
}

static void progress_shape(size_t index, shape s, const char *dist)
{
    progress.shape = index + 1;
    snprintf(progress.what, sizeof progress.what, "%zux%zu%s%s", s.rows, s.n, dist ? ", dist " : "", dist ? dist : "");
    if (progress.on && !progress.tty)
        fprintf(stderr, "norm-bench: shape %zu of %zu: %s (%.0f s so far)\n", progress.shape, progress.shapes,
                progress.what, now_s() - progress.start_s);
}

/* "calibrating", or round done of total. */
static void progress_update(const char *stage, int done, int total)
{
    if (!progress.on || !progress.tty)
        return;
    if (total)
        fprintf(stderr, "\r\033[Knorm-bench: shape %zu of %zu: %s: round %d of %d (%.0f s)", progress.shape,
                progress.shapes, progress.what, done, total, now_s() - progress.start_s);
    else
        fprintf(stderr, "\r\033[Knorm-bench: shape %zu of %zu: %s: %s (%.0f s)", progress.shape, progress.shapes,
                progress.what, stage, now_s() - progress.start_s);
    fflush(stderr);
}

static void progress_end(void)
{
    if (progress.on && progress.tty)
        fputs("\r\033[K", stderr);
}

/* Each round times every candidate once, so a slow spell on the shared machine hits all of
 * them rather than whichever happened to run then. The starting candidate rotates, so none
 * always follows the same neighbour (whose cache and clock state it would inherit). */
static int measure(candidate *c, size_t count, const workload *w, const options *o)
{
    progress_update("calibrating", 0, 0);
    for (size_t k = 0; k < count; k++)
        calibrate(&c[k], w, o->min_ms * 1e-3);
    int rounds = choose_rounds(o, c, count);
    for (size_t k = 0; k < count; k++)
        if (!(c[k].ns_row = malloc((size_t)rounds * sizeof *c[k].ns_row)))
            die("out of memory");
    for (int r = 0; r < rounds; r++) {
        for (size_t i = 0; i < count; i++) {
            candidate *cur = &c[(i + (size_t)r) % count];
            double t = time_calls(cur, w, cur->iters);
            cur->ns_row[r] = t * 1e9 / ((double)cur->iters * (double)w->rows);
        }
        progress_update("round", r + 1, rounds);
    }
    progress_end(); /* the report follows on stdout, maybe on the same terminal */
    for (size_t k = 0; k < count; k++)
        summarise(&c[k], rounds);
    return rounds;
}

/* ---------------------------------------------------------------- correctness check */

/* Normalised outputs are of order |gamma| ~ 1, so errors are measured against max(|want|, 1):
 * relative for large values, and relative to the row's scale near zero, where an element's own
 * relative error means nothing. Within that, the tiers' f32 arithmetic may differ by CHECK_TOL.
 * An f16 or bf16 output is that result rounded once more, and two results a hair apart can
 * round to neighbouring values, so those may differ by one more ulp of the output type at the
 * scalar result: 2^-7 of a bf16 value's binade, 2^-10 of an f16 one's. */
static double tolerance(norm_dtype y_type, float want, double ulps)
{
    double a = fabs((double)want), tol = CHECK_TOL * (a > 1.0 ? a : 1.0);
    if (y_type != NORM_F32) {
        int e;
        frexp(a, &e); /* a = m * 2^e, m in [0.5, 1): a's binade is [2^(e-1), 2^e) */
        tol += ulps * ldexp(1.0, e - dtype_precision(y_type));
    }
    return tol;
}

/* Compares y, widened to f32, with want, allowing `ulps` ulps of a half-precision y beyond
 * CHECK_TOL; prints the first mismatch, as differing from `against`. NaN fails. With
 * beta_slack (and a beta), the ulps are those of max(|want|, |want - beta|): for a result that
 * rounded an intermediate before beta was added, whose error is relative to that. */
static bool outputs_within(const candidate *c, const workload *w, const float *want, const char *label, double ulps,
                           bool beta_slack, const char *against)
{
    size_t count = w->rows * w->n, bad = 0, first = 0;
    double worst = 0; /* error / tolerance */
    const void *beta = beta_slack ? w->beta[c->types.param] : NULL;
    for (size_t i = 0; i < count; i++) {
        double got = load_value(w->y, c->types.y, i);
        float at = want[i];
        if (beta) {
            float before_beta = want[i] - load_value(beta, c->types.param, i % w->n);
            at = fabsf(before_beta) > fabsf(at) ? before_beta : at;
        }
        double err = fabs(got - (double)want[i]) / tolerance(c->types.y, at, ulps);
        if (!(err <= 1.0)) {
            if (bad++ == 0)
                first = i;
            if (!(err <= worst))
                worst = err;
        }
    }
    char what[96];
    if (bad)
        fprintf(stderr,
                "norm-bench: MISMATCH on %s: %s differs from %s in %zu of %zu outputs\n"
                "            (first at row %zu col %zu: %.9g, scalar %.9g; worst error %.3g times the\n"
                "            tolerance)\n",
                label, cand_label(c, what, sizeof what), against, bad, count, first / w->n, first % w->n,
                (double)load_value(w->y, c->types.y, first), (double)want[first], worst);
    return bad == 0;
}

static bool outputs_match(const candidate *c, const workload *w, const float *want, const char *label)
{
    return outputs_within(c, w, want, label, 1.0, false, "the scalar tier");
}

/* Is the plain C loop held to the scalar tier's results on these rows? On gauss rows, yes. On the
 * others it is not: it is the loop a user would write, f32 sums and all, and where the mean is
 * far from zero or the spread is nil (mean1e3, const: there the error of the mean is multiplied
 * by 1/sqrt(eps)) those sums lose the precision the library keeps. It is still timed. */
static bool plain_checked(const workload *w) { return w->dist == DIST_GAUSS; }

/* Runs every norm candidate of one type combination once more (with --split, every split
 * sequence too) and compares it with the scalar tier on the same types, which is the
 * library's oracle. Returns the number of candidates that disagree. */
static int check_outputs(const candidate *c, size_t count, const workload *w, const char *label)
{
    size_t elems = w->rows * w->n;
    norm_dtype y_type = c[0].types.y;
    float *want = alloc_floats(elems);
    if (!want)
        die("cannot allocate the check buffer for %s", label);
    int failures = 0;
    for (int op = 0; op < 2; op++) {
        candidate scalar = { .kind = CAND_LIB, .types = c[0].types, .op = (norm_kind)op, .isa = NORM_ISA_SCALAR };
        bool computed = false;
        for (size_t k = 0; k < count; k++) {
            if ((c[k].kind != CAND_PLAIN && c[k].kind != CAND_LIB && c[k].kind != CAND_SPLIT) ||
                c[k].op != (norm_kind)op || (c[k].kind == CAND_PLAIN && !plain_checked(w)))
                continue;
            if (!computed) {
                time_calls(&scalar, w, 1);
                for (size_t i = 0; i < elems; i++)
                    want[i] = load_value(w->y, y_type, i);
                computed = true;
            }
            /* All ones is a NaN in every type: a kernel that writes nothing fails. */
            memset(w->y, 0xff, elems * dtype_size(y_type));
            time_calls(&c[k], w, 1);
            failures += !outputs_match(&c[k], w, want, label);
        }
    }
    free(want);
    return failures;
}

/* Puts the residual back to its initial values. */
static void restore_residual(const workload *w, norm_dtype t)
{
    memcpy(w->r[t], w->r0[t], w->rows * w->n * dtype_size(t));
}

/* --fused: from the same residual each time, every tier's fused call against the scalar tier's
 * (y within the tolerance, h bit for bit), and against the unfused sequence on its own tier:
 * y and h bit for bit, which is what the fusion promises. Returns the number of failures. */
static int check_fused(const candidate *c, size_t count, const workload *w, const char *label)
{
    const combo *t = &c[0].types;
    size_t elems = w->rows * w->n, ybytes = elems * dtype_size(t->y), rbytes = elems * dtype_size(t->x);
    float *want = alloc_floats(elems);
    unsigned char *want_h = malloc(rbytes), *y_fused = malloc(ybytes), *h_fused = malloc(rbytes);
    if (!want || !want_h || !y_fused || !h_fused)
        die("cannot allocate the check buffers for %s", label);
    void *r = w->r[t->x];
    int failures = 0;
    for (int op = 0; op < 2; op++) {
        candidate scalar = { .kind = CAND_FUSED, .types = *t, .op = (norm_kind)op, .isa = NORM_ISA_SCALAR };
        bool computed = false;
        for (size_t k = 0; k < count; k++) {
            if (c[k].kind != CAND_FUSED || c[k].op != (norm_kind)op)
                continue;
            if (!computed) {
                restore_residual(w, t->x);
                time_calls(&scalar, w, 1);
                for (size_t i = 0; i < elems; i++)
                    want[i] = load_value(w->y, t->y, i);
                memcpy(want_h, r, rbytes);
                computed = true;
            }
            restore_residual(w, t->x);
            memset(w->y, 0xff, ybytes); /* a NaN in every type: a kernel that writes nothing fails */
            time_calls(&c[k], w, 1);
            failures += !outputs_match(&c[k], w, want, label);
            if (memcmp(r, want_h, rbytes) != 0) {
                fprintf(stderr, "norm-bench: MISMATCH on %s: fused %s %s wrote another h than the scalar tier\n", label,
                        op_name(c[k].op), impl_name(&c[k]));
                failures++;
            }
            memcpy(y_fused, w->y, ybytes);
            memcpy(h_fused, r, rbytes);
            candidate unfused = c[k];
            unfused.kind = CAND_UNFUSED;
            restore_residual(w, t->x);
            memset(w->y, 0xff, ybytes);
            time_calls(&unfused, w, 1);
            if (memcmp(w->y, y_fused, ybytes) != 0 || memcmp(r, h_fused, rbytes) != 0) {
                fprintf(stderr, "norm-bench: MISMATCH on %s: fused %s %s differs from add + norm on the same tier (%s)\n",
                        label, op_name(c[k].op), impl_name(&c[k]), memcmp(r, h_fused, rbytes) ? "h" : "y");
                failures++;
            }
        }
    }
    restore_residual(w, t->x);
    free(want);
    free(want_h);
    free(y_fused);
    free(h_fused);
    return failures;
}

/* --gated: the unfused sequence with bf16 rows rounds once more than the gated call (its norm
 * output before the silu pass, or its temporary x*silu(z)), so it may differ from the scalar
 * gated call by this many ulps of y where a tier's gated call may differ by one; with the gate
 * before the norm that rounding comes before beta is added, so the ulps are of y - beta where
 * that is larger (outputs_within's beta_slack). */
#define GATED_UNFUSED_ULPS 2.0

/* --gated: every tier's gated call against the scalar tier's, in each order, and the unfused
 * sequence on every tier against it too (with GATED_UNFUSED_ULPS), which shows that the two
 * sides of the table compute the same thing. Returns the number of failures. */
static int check_gated(const candidate *c, size_t count, const workload *w, const char *label)
{
    const combo *t = &c[0].types;
    size_t elems = w->rows * w->n, ybytes = elems * dtype_size(t->y);
    float *want = alloc_floats(elems);
    if (!want)
        die("cannot allocate the check buffer for %s", label);
    int failures = 0;
    for (size_t v = GATE_AFTER; v <= GATE_BEFORE; v++) {
        candidate scalar = { .kind = CAND_GATED, .types = *t, .op = NORM_RMSNORM, .isa = NORM_ISA_SCALAR, .variant = v };
        bool computed = false;
        for (size_t k = 0; k < count; k++) {
            if ((c[k].kind != CAND_GATED && c[k].kind != CAND_GUNFUSED && c[k].kind != CAND_GSLEEF) ||
                c[k].variant != v)
                continue;
            if (!computed) {
                time_calls(&scalar, w, 1);
                for (size_t i = 0; i < elems; i++)
                    want[i] = load_value(w->y, t->y, i);
                computed = true;
            }
            memset(w->y, 0xff, ybytes); /* a NaN in every type: a kernel that writes nothing fails */
            time_calls(&c[k], w, 1);
            if (c[k].kind == CAND_GATED)
                failures += !outputs_match(&c[k], w, want, label);
            else
                failures += !outputs_within(&c[k], w, want, label, GATED_UNFUSED_ULPS, true,
                                            "the scalar tier's gated call");
        }
    }
    free(want);
    return failures;
}

/* Compares int8 y (and with a dynamic scale, the row scales) with the scalar tier's: q may
 * differ by 1, where y * (1/s) falls a hair either side of a rounding boundary on two tiers,
 * and a scale by CHECK_TOL relative. -128 is never written (q is clamped to [-127, 127]), so
 * it marks an output left unwritten; NaN, the scales' mark, fails too. */
static bool int8_match(const candidate *c, const workload *w, const int8_t *want_q, const float *want_s,
                       const char *label)
{
    size_t count = w->rows * w->n, bad = 0, first = 0, bad_s = 0, first_s = 0;
    const int8_t *q = w->y;
    for (size_t i = 0; i < count; i++)
        if (q[i] == -128 || abs(q[i] - want_q[i]) > 1) {
            if (bad++ == 0)
                first = i;
        }
    if (c->variant == SCALE_DYNAMIC)
        for (size_t r = 0; r < w->rows; r++)
            if (!(fabs((double)w->y_scales[r] - (double)want_s[r]) <= CHECK_TOL * fabs((double)want_s[r]))) {
                if (bad_s++ == 0)
                    first_s = r;
            }
    char what[96];
    cand_label(c, what, sizeof what);
    if (bad)
        fprintf(stderr,
                "norm-bench: MISMATCH on %s: %s differs from the scalar tier's int8 call by more than 1 in\n"
                "            %zu of %zu outputs (first at row %zu col %zu: %d, scalar %d; -128 is unwritten)\n",
                label, what, bad, count, first / w->n, first % w->n, q[first], want_q[first]);
    if (bad_s)
        fprintf(stderr,
                "norm-bench: MISMATCH on %s: %s: %zu of %zu row scales differ from the scalar tier's\n"
                "            (first at row %zu: %.9g, scalar %.9g)\n",
                label, what, bad_s, w->rows, first_s, (double)w->y_scales[first_s], (double)want_s[first_s]);
    return bad == 0 && bad_s == 0;
}

/* --int8: every tier's int8 call and every unfused sequence (norm to f32 + quantize) against
 * the scalar tier's int8 call, per op and scale. Returns the number of failures. */
static int check_int8(const candidate *c, size_t count, const workload *w, const char *label)
{
    size_t elems = w->rows * w->n;
    int8_t *want_q = malloc(elems);
    float *want_s = alloc_floats(w->rows);
    if (!want_q || !want_s)
        die("cannot allocate the check buffers for %s", label);
    int failures = 0;
    for (int op = 0; op < 2; op++)
        for (size_t v = SCALE_STATIC; v <= SCALE_DYNAMIC; v++) {
            candidate scalar = { .kind = CAND_INT8, .types = c[0].types, .op = (norm_kind)op,
                                 .isa = NORM_ISA_SCALAR, .variant = v };
            bool computed = false;
            for (size_t k = 0; k < count; k++) {
                if ((c[k].kind != CAND_INT8 && c[k].kind != CAND_QUNFUSED) || c[k].op != (norm_kind)op ||
                    c[k].variant != v)
                    continue;
                if (!computed) {
                    time_calls(&scalar, w, 1);
                    memcpy(want_q, w->y, elems);
                    memcpy(want_s, w->y_scales, w->rows * sizeof *want_s);
                    computed = true;
                }
                memset(w->y, 0x80, elems);                          /* -128: never written */
                memset(w->y_scales, 0xff, w->rows * sizeof(float)); /* NaN */
                time_calls(&c[k], w, 1);
                failures += !int8_match(&c[k], w, want_q, want_s, label);
            }
        }
    free(want_q);
    free(want_s);
    return failures;
}

/* ---------------------------------------------------------------- results */

typedef struct record {
    char shape[48];
    size_t shape_index, rows, n;
    row_dist dist;           /* x's distribution */
    combo types;
    cand_kind kind;
    norm_kind norm_op;       /* CAND_PLAIN, CAND_LIB, CAND_FUSED, CAND_UNFUSED */
    norm_isa isa;            /* CAND_LIB, CAND_FUSED, CAND_UNFUSED */
    const char *op, *impl, *floor_kind;
    double median, min, gbps, ratio;
    double max, q1, q3;      /* the spread of the rounds (ns/row) */
    double vs_f32;           /* rows/s / rows/s of f32 on the same shape, op and tier; NAN but for tiers */
    bool is_default;
    size_t variant;          /* the candidate's: GATE_*, SCALE_*, slices */
    char variant_name[16];   /* "gate-after", "gate-before", "static", "dynamic", "k=2"..., or "" */
    double vs_unfused;       /* --fused, --gated, --int8: unfused time / this time, for the fused side; else NAN */
    double vs_one_call;      /* --split: this time / one call's on the same shape, op and tier; else NAN */
} record;

typedef struct report {
    record *recs;
    size_t count, cap;
} report;

static void add_record(report *rep, const record *r)
{
    if (rep->count == rep->cap) {
        rep->cap = rep->cap ? 2 * rep->cap : 64;
        if (!(rep->recs = realloc(rep->recs, rep->cap * sizeof *rep->recs)))
            die("out of memory");
    }
    rep->recs[rep->count++] = *r;
}

/* A library tier's record, or NULL if that was not timed. */
static const record *find_tier(const report *rep, size_t shape_index, row_dist d, const combo *types,
                               norm_kind op, norm_isa isa)
{
    for (size_t i = 0; i < rep->count; i++) {
        const record *r = &rep->recs[i];
        if (r->kind == CAND_LIB && r->shape_index == shape_index && r->dist == d &&
            strcmp(r->types.name, types->name) == 0 && r->norm_op == op && r->isa == isa)
            return r;
    }
    return NULL;
}

/* The issue's metric: how many times f32's rows per second this tier moves in these types.
 * f32 is timed first, so its record is there by now. */
static double ratio_to_f32(const report *rep, const record *r)
{
    combo f32 = make_combo(NORM_F32, NORM_F32, NORM_F32);
    const record *base =
        r->kind == CAND_LIB ? find_tier(rep, r->shape_index, r->dist, &f32, r->norm_op, r->isa) : NULL;
    return base ? base->median / r->median : NAN;
}

/* Floor rows are called "floor" (the one the ratios divide by) or "ref" (the other one). */
static record make_record(const report *rep, const candidate *c, const workload *w, size_t shape_index,
                          double floor_ns, bool memcpy_floor, norm_isa marked)
{
    record r = { .shape_index = shape_index, .rows = w->rows, .n = w->n, .dist = w->dist, .types = c->types,
                 .kind = c->kind, .norm_op = c->op, .isa = c->isa, .impl = impl_name(c), .median = c->median,
                 .min = c->min, .variant = c->variant, .vs_unfused = NAN, .vs_one_call = NAN,
                 .max = c->max, .q1 = c->q1, .q3 = c->q3 };
    snprintf(r.shape, sizeof r.shape, "%zux%zu", w->rows, w->n);
    bool rms = c->op == NORM_RMSNORM;
    bool fused = c->kind == CAND_FFLOOR || c->kind == CAND_FUSED || c->kind == CAND_UNFUSED;
    bool gated = c->kind == CAND_GFLOOR || c->kind == CAND_GATED || c->kind == CAND_GUNFUSED ||
                 c->kind == CAND_GSLEEF;
    bool int8 = c->kind == CAND_QFLOOR || c->kind == CAND_INT8 || c->kind == CAND_QUNFUSED;
    r.floor_kind = fused ? "fused-floor" : gated ? "gated-floor" : int8 ? "int8-floor"
                 : memcpy_floor ? "memcpy" : is_f32(&c->types) ? "read+x*gamma" : "read+y=x";
    if (c->kind == CAND_READ || c->kind == CAND_MEMCPY)
        r.op = (c->kind == CAND_MEMCPY) == memcpy_floor ? "floor" : "ref";
    else if (c->kind == CAND_FFLOOR || c->kind == CAND_GFLOOR || c->kind == CAND_QFLOOR)
        r.op = "floor";
    else if (c->kind == CAND_FUSED)
        r.op = rms ? "fused-rmsnorm" : "fused-layernorm";
    else if (c->kind == CAND_UNFUSED)
        r.op = rms ? "add+rmsnorm" : "add+layernorm";
    else if (c->kind == CAND_GATED)
        r.op = "gated-rmsnorm";
    else if (c->kind == CAND_GUNFUSED)
        r.op = c->variant == GATE_BEFORE ? "gate+rmsnorm" : "rmsnorm+gate";
    else if (c->kind == CAND_GSLEEF)
        r.op = c->variant == GATE_BEFORE ? "sleefgate+rms" : "rms+sleefgate";
    else if (c->kind == CAND_INT8)
        r.op = rms ? "rmsnorm-i8" : "layernorm-i8";
    else if (c->kind == CAND_QUNFUSED)
        r.op = rms ? "rmsnorm+quant" : "layernorm+quant";
    else if (c->kind == CAND_SPLIT)
        r.op = rms ? "split-rmsnorm" : "split-layernorm";
    else
        r.op = op_name(c->op);
    if (c->kind == CAND_GATED || c->kind == CAND_GUNFUSED || c->kind == CAND_GSLEEF)
        snprintf(r.variant_name, sizeof r.variant_name, "gate-%s", gate_name(c->variant));
    else if (c->kind == CAND_INT8 || c->kind == CAND_QUNFUSED)
        snprintf(r.variant_name, sizeof r.variant_name, "%s", scale_name(c->variant));
    else if (c->kind == CAND_SPLIT)
        snprintf(r.variant_name, sizeof r.variant_name, "k=%zu", c->variant);
    /* Bytes the op must move: x read once, y written once (gamma stays in cache); with the
     * residual also r read once and written once; with the gate also z read once. */
    size_t xe = dtype_size(c->types.x), ye = dtype_size(c->types.y);
    r.gbps = (double)w->n * (double)(fused ? 3 * xe + ye : gated ? 2 * xe + ye : xe + ye) / c->median;
    r.ratio = c->median / floor_ns;
    r.is_default = on_tier(c->kind) && c->isa == marked;
    r.vs_f32 = ratio_to_f32(rep, &r);
    return r;
}

/* With more than one distribution, every line of the tables leads with its own ("  outliers";
 * "  dist" heads the column); with one, they look as they did before --dist. */
static void print_dist_cell(const options *o, const char *text)
{
    if (o->ndists > 1)
        printf("  %-8s", text);
}

/* A table's name for the workload: "16x4096", and ", dist outliers" unless x is gauss, the only
 * distribution timed (as in every run before --dist). */
static const char *workload_name(const workload *w, const options *o, char *buf, size_t size)
{
    if (o->ndists > 1 || w->dist != DIST_GAUSS)
        snprintf(buf, size, "%zux%zu, dist %s", w->rows, w->n, dist_names[w->dist]);
    else
        snprintf(buf, size, "%zux%zu", w->rows, w->n);
    return buf;
}

static void print_table_head(const options *o, const char *shape_name, const combo *t, bool show_types,
                             const workload *w, bool memcpy_floor, double floor_ns, size_t llc)
{
    char open[64] = " (", a[32], b[32], sizes[96];
    double count = (double)(w->rows * w->n);
    if (show_types) /* "shape 16x4096, bf16:f32 (x bf16, y f32, gamma bf16; floor: ...)" */
        snprintf(open, sizeof open, ", %s (x %s, y %s, gamma %s; ", t->name, dtype_name(t->x), dtype_name(t->y),
                 dtype_name(t->param));
    printf("\nshape %s%sfloor: %s = %.1f ns/row)\n", shape_name, open,
           memcpy_floor ? "memcpy" : is_f32(t) ? "read + x*gamma" : "read + y=x", floor_ns);
    human_bytes(count * (double)dtype_size(t->x), a, sizeof a);
    human_bytes(count * (double)dtype_size(t->y), b, sizeof b);
    if (dtype_size(t->x) == dtype_size(t->y))
        snprintf(sizes, sizeof sizes, "x and y are %s each", a);
    else
        snprintf(sizes, sizeof sizes, "x is %s and y %s", a, b);
    printf("  %s: together they %s the %s last-level cache\n", sizes, memcpy_floor ? "exceed" : "fit in",
           human_bytes((double)llc, b, sizeof b));
    print_dist_cell(o, "dist");
    printf("  %-10s %-14s %10s %8s %8s %7s\n", "op", "impl", "ns/row", "GB/s", "x floor", "spread");
}

/* The spread: the interquartile range of the rounds over their median, and ~ after it where
 * this line's and its floor's spreads add up to more than SPREAD_MAX (flag_spread). */
static double rel_spread(const record *r) { return r->median > 0 ? (r->q3 - r->q1) / r->median : 0; }

static struct {
    double floor_spread; /* of the floor the lines being printed are divided by */
    int flagged;         /* lines flagged in the whole run */
} spread_state;

static bool spread_too_wide(const record *r) { return rel_spread(r) + spread_state.floor_spread > SPREAD_MAX; }

static void print_spread(const record *r)
{
    bool flag = strcmp(r->op, "floor") != 0 && spread_too_wide(r);
    spread_state.flagged += flag;
    printf(" %6.1f%%%s\n", 100 * rel_spread(r), flag ? " ~" : "");
}

static void print_row(const options *o, const record *r)
{
    char impl[32];
    snprintf(impl, sizeof impl, "%s%s", r->impl, r->is_default ? " *" : "");
    print_dist_cell(o, dist_names[r->dist]);
    printf("  %-10s %-14s %10.1f %8.1f %8.2f", r->op, impl, r->median, r->gbps, r->ratio);
    print_spread(r);
}

/* Half types have no plain C loop (a user would need conversions of their own): say so. */
static void print_no_plain(const options *o, const workload *w, norm_kind op)
{
    print_dist_cell(o, dist_names[w->dist]);
    printf("  %-10s %-14s %10s %8s %8s\n", op_name(op), "plain-C", "-", "-", "-");
}

/* How the shape was sampled, and whether its outputs passed the check. */
static void print_table_foot(const candidate *c, size_t count, const workload *w, int rounds, double min_ms,
                             int bad)
{
    bool plain = false;
    size_t lo = SIZE_MAX, hi = 0;
    char calls[64];
    for (size_t k = 0; k < count; k++) {
        lo = c[k].iters < lo ? c[k].iters : lo;
        hi = c[k].iters > hi ? c[k].iters : hi;
        plain |= c[k].kind == CAND_PLAIN;
    }
    if (hi == 1)
        snprintf(calls, sizeof calls, "one call per sample (a call takes over %.1f ms)", min_ms);
    else
        snprintf(calls, sizeof calls, "samples of >= %.1f ms, %zu to %zu calls", min_ms, lo, hi);
    printf("  (%d rounds, %s; outputs vs scalar tier: %s)\n", rounds, calls,
           bad ? "MISMATCH, see stderr" : "ok");
    if (plain && !plain_checked(w))
        printf("  (plain-C, a user's f32 loop, is checked on gauss rows only: on %s rows its sums may\n"
               "   lose the precision the library keeps)\n", dist_names[w->dist]);
}

/* ---------------------------------------------------------------- one shape */

typedef struct context {
    const options *opt;
    norm_isa marked; /* the tier marked with * and used in the summary */
    size_t llc;
    int failures;
    report rep;
} context;

/* One type combination's table, from candidates measured with all the others of the shape. */
static void report_combo(context *ctx, size_t shape_index, const candidate *c, size_t count, const workload *w,
                         int rounds)
{
    const options *o = ctx->opt;
    const combo *t = &c[0].types;
    char name[64], label[96];
    workload_name(w, o, name, sizeof name);
    snprintf(label, sizeof label, o->ntypes > 1 ? "%s, types %s" : "%s", name, t->name);

    size_t bytes = w->rows * w->n * (dtype_size(t->x) + dtype_size(t->y)); /* fits: the buffers exist */
    bool memcpy_floor = bytes > ctx->llc;
    double floor_ns = c[memcpy_floor ? 1 : 0].median;
    const candidate *fl = &c[memcpy_floor ? 1 : 0];
    spread_state.floor_spread = fl->median > 0 ? (fl->q3 - fl->q1) / fl->median : 0;
    print_table_head(o, name, t, o->ntypes > 1, w, memcpy_floor, floor_ns, ctx->llc);
    for (size_t k = 0; k < count; k++) {
        /* c[0] is a floor, so a tier always has a candidate before it */
        bool first_of_op = c[k].kind == CAND_LIB && (c[k - 1].kind != CAND_LIB || c[k - 1].op != c[k].op);
        if (first_of_op && !is_f32(t))
            print_no_plain(o, w, c[k].op);
        record r = make_record(&ctx->rep, &c[k], w, shape_index, floor_ns, memcpy_floor, ctx->marked);
        print_row(o, &r);
        add_record(&ctx->rep, &r);
    }

    int bad = check_outputs(c, count, w, label);
    ctx->failures += bad;
    print_table_foot(c, count, w, rounds, o->min_ms, bad);
    fflush(stdout);
}

/* A record of this shape, distribution, types, kind, op, tier and variant (GATE_*, SCALE_*,
 * slices), or NULL. A floor is found by its kind alone. */
static const record *find_variant(const report *rep, size_t shape_index, row_dist d, const combo *types,
                                  cand_kind kind, norm_kind op, norm_isa isa, size_t variant)
{
    bool floor = kind == CAND_FFLOOR || kind == CAND_GFLOOR || kind == CAND_QFLOOR;
    for (size_t i = 0; i < rep->count; i++) {
        const record *r = &rep->recs[i];
        if (r->kind == kind && r->shape_index == shape_index && r->dist == d &&
            strcmp(r->types.name, types->name) == 0 &&
            (floor || (r->norm_op == op && r->isa == isa && r->variant == variant)))
            return r;
    }
    return NULL;
}

/* The same for candidates that have no variant (--fused). */
static const record *find_record(const report *rep, size_t shape_index, row_dist d, const combo *types,
                                 cand_kind kind, norm_kind op, norm_isa isa)
{
    return find_variant(rep, shape_index, d, types, kind, op, isa, 0);
}

/* The fewest and most calls a sample of these candidates made. */
static void calls_range(const candidate *c, size_t count, size_t *lo, size_t *hi)
{
    *lo = SIZE_MAX;
    *hi = 0;
    for (size_t k = 0; k < count; k++) {
        *lo = c[k].iters < *lo ? c[k].iters : *lo;
        *hi = c[k].iters > *hi ? c[k].iters : *hi;
    }
}

/* --fused: one type combination's table. Per op and tier, the fused call and the unfused
 * sequence side by side, each as time / fused floor, and how much faster the fused call is. */
static void report_fused_combo(context *ctx, size_t shape_index, const candidate *c, size_t count,
                               const workload *w, int rounds)
{
    const options *o = ctx->opt;
    const combo *t = &c[0].types;
    char name[64], label[96], a[32], b[32], ysize[32];
    workload_name(w, o, name, sizeof name);
    snprintf(label, sizeof label, "%s, types %s, fused", name, t->name);
    double floor_ns = c[0].median, elems = (double)(w->rows * w->n);

    printf("\nshape %s, %s (x %s, y %s, gamma %s; floor: fused floor = %.1f ns/row)\n", name, t->name,
           dtype_name(t->x), dtype_name(t->y), dtype_name(t->param), floor_ns);
    human_bytes(elems * (double)dtype_size(t->x), a, sizeof a);
    human_bytes((double)ctx->llc, b, sizeof b);
    human_bytes(elems * (double)dtype_size(t->y), ysize, sizeof ysize);
    printf("  x and r are %s each, y %s; last-level cache %s\n", a, ysize, b);
    print_dist_cell(o, "dist");
    printf("  %-10s %-10s %12s %8s %8s %16s %8s %9s\n", "op", "impl", "fused ns/row", "x floor", "GB/s",
           "add+norm ns/row", "x floor", "speedup");
    record fr = make_record(&ctx->rep, &c[0], w, shape_index, floor_ns, false, ctx->marked);
    add_record(&ctx->rep, &fr);
    print_dist_cell(o, dist_names[w->dist]);
    printf("  %-10s %-10s %12.1f %8.2f %8.1f %16s %8s %9s\n", "floor", "fused", fr.median, fr.ratio, fr.gbps, "-",
           "-", "-");
    for (size_t k = 1; k + 1 < count; k += 2) {
        /* Candidates come in pairs: fused, then unfused, same op and tier. */
        record f = make_record(&ctx->rep, &c[k], w, shape_index, floor_ns, false, ctx->marked);
        record u = make_record(&ctx->rep, &c[k + 1], w, shape_index, floor_ns, false, ctx->marked);
        f.vs_unfused = u.median / f.median;
        add_record(&ctx->rep, &f);
        add_record(&ctx->rep, &u);
        char impl[32];
        snprintf(impl, sizeof impl, "%s%s", f.impl, f.is_default ? " *" : "");
        print_dist_cell(o, dist_names[w->dist]);
        printf("  %-10s %-10s %12.1f %8.2f %8.1f %16.1f %8.2f %8.2fx\n", op_name(c[k].op), impl, f.median, f.ratio,
               f.gbps, u.median, u.ratio, u.median / f.median);
    }
    const report *rep = &ctx->rep;
    const record *rms = find_record(rep, shape_index, w->dist, t, CAND_FUSED, NORM_RMSNORM, ctx->marked);
    const record *rms_u = find_record(rep, shape_index, w->dist, t, CAND_UNFUSED, NORM_RMSNORM, ctx->marked);
    const record *ln = find_record(rep, shape_index, w->dist, t, CAND_FUSED, NORM_LAYERNORM, ctx->marked);
    const record *ln_u = find_record(rep, shape_index, w->dist, t, CAND_UNFUSED, NORM_LAYERNORM, ctx->marked);
    if (rms && rms_u)
        printf("  fused is %.2fx faster than add + norm (rmsnorm, %s)", rms_u->median / rms->median,
               norm_isa_name(ctx->marked));
    if (ln && ln_u)
        printf("%s%.2fx faster than add + norm (layernorm, %s)", rms && rms_u ? "; " : "  fused is ",
               ln_u->median / ln->median, norm_isa_name(ctx->marked));
    if ((rms && rms_u) || (ln && ln_u))
        printf("\n");

    int bad = check_fused(c, count, w, label);
    ctx->failures += bad;
    size_t lo = SIZE_MAX, hi = 0;
    for (size_t k = 0; k < count; k++) {
        lo = c[k].iters < lo ? c[k].iters : lo;
        hi = c[k].iters > hi ? c[k].iters : hi;
    }
    printf("  (%d rounds, samples of >= %.1f ms, %zu to %zu calls; outputs vs scalar tier, and fused vs add+norm\n"
           "   bit for bit: %s)\n", rounds, o->min_ms, lo, hi, bad ? "MISMATCH, see stderr" : "ok");
    fflush(stdout);
}

/* --gated and --int8: the floor's line, then per pair of candidates (the call, then the unfused
 * sequence, same op, variant and tier) one line with both, as --fused prints them, named by the
 * order ("after") or the op and scale ("rmsnorm static"). The records go to the report. */
static void report_pairs(context *ctx, size_t shape_index, const candidate *c, size_t count, const workload *w,
                         const char *floor_name)
{
    const options *o = ctx->opt;
    double floor_ns = c[0].median;
    record fr = make_record(&ctx->rep, &c[0], w, shape_index, floor_ns, false, ctx->marked);
    add_record(&ctx->rep, &fr);
    print_dist_cell(o, dist_names[w->dist]);
    printf("  %-17s %-10s %12.1f %8.2f %8.1f %17s %8s %9s\n", "floor", floor_name, fr.median, fr.ratio, fr.gbps,
           "-", "-", "-");
    for (size_t k = 1; k + 1 < count; k += 2) {
        record f = make_record(&ctx->rep, &c[k], w, shape_index, floor_ns, false, ctx->marked);
        record u = make_record(&ctx->rep, &c[k + 1], w, shape_index, floor_ns, false, ctx->marked);
        f.vs_unfused = u.median / f.median;
        add_record(&ctx->rep, &f);
        add_record(&ctx->rep, &u);
        char impl[32], what[32];
        snprintf(impl, sizeof impl, "%s%s", f.impl, f.is_default ? " *" : "");
        snprintf(what, sizeof what, "%s %s", op_name(c[k].op), scale_name(c[k].variant));
        print_dist_cell(o, dist_names[w->dist]);
        printf("  %-17s %-10s %12.1f %8.2f %8.1f %17.1f %8.2f %8.2fx\n", what, impl, f.median, f.ratio, f.gbps,
               u.median, u.ratio, u.median / f.median);
    }
}

/* --gated: one type combination's table. Per order and tier, the gated call and the unfused
 * sequence side by side, each as time / gated floor, and how much faster the gated call is. */
static void report_gated_combo(context *ctx, size_t shape_index, const candidate *c, size_t count,
                               const workload *w, int rounds)
{
    const options *o = ctx->opt;
    const combo *t = &c[0].types;
    char name[64], label[96], a[32], b[32], types[64];
    workload_name(w, o, name, sizeof name);
    snprintf(label, sizeof label, "%s, types %s, gated", name, t->name);
    double elems = (double)(w->rows * w->n);
    if (t->param == t->x)
        snprintf(types, sizeof types, "x, z, gamma and y %s", dtype_name(t->x));
    else
        snprintf(types, sizeof types, "x, z and y %s, gamma %s", dtype_name(t->x), dtype_name(t->param));

    printf("\nshape %s, %s (%s; floor: gated floor = %.1f ns/row)\n", name, t->name, types, c[0].median);
    human_bytes(elems * (double)dtype_size(t->x), a, sizeof a);
    human_bytes((double)ctx->llc, b, sizeof b);
    printf("  x, z and y are %s each; last-level cache %s\n", a, b);
    print_dist_cell(o, "dist");
    printf("  %-8s %-10s %12s %8s %8s %16s %8s %16s %8s\n", "gate", "impl", "gated ns/row", "x floor", "GB/s",
           "+libm ns/row", "speedup", "+SLEEF ns/row", "speedup");
    /* The floor, then per order and tier the gated call, the unfused sequence with the libm
     * pass and, where the tier has one, with its SLEEF pass. */
    double floor_ns = c[0].median;
    record fr = make_record(&ctx->rep, &c[0], w, shape_index, floor_ns, false, ctx->marked);
    add_record(&ctx->rep, &fr);
    print_dist_cell(o, dist_names[w->dist]);
    printf("  %-8s %-10s %12.1f %8.2f %8.1f %16s %8s %16s %8s\n", "floor", "gated", fr.median, fr.ratio, fr.gbps,
           "-", "-", "-", "-");
    for (size_t k = 1; k + 1 < count;) {
        bool has_sleef = k + 2 < count && c[k + 2].kind == CAND_GSLEEF;
        record f = make_record(&ctx->rep, &c[k], w, shape_index, floor_ns, false, ctx->marked);
        record u = make_record(&ctx->rep, &c[k + 1], w, shape_index, floor_ns, false, ctx->marked);
        f.vs_unfused = u.median / f.median;
        add_record(&ctx->rep, &f);
        add_record(&ctx->rep, &u);
        char impl[32], sl_ns[32] = "-", sl_x[32] = "-";
        if (has_sleef) {
            record sl = make_record(&ctx->rep, &c[k + 2], w, shape_index, floor_ns, false, ctx->marked);
            add_record(&ctx->rep, &sl);
            snprintf(sl_ns, sizeof sl_ns, "%.1f", sl.median);
            snprintf(sl_x, sizeof sl_x, "%.2fx", sl.median / f.median);
        }
        snprintf(impl, sizeof impl, "%s%s", f.impl, f.is_default ? " *" : "");
        print_dist_cell(o, dist_names[w->dist]);
        printf("  %-8s %-10s %12.1f %8.2f %8.1f %16.1f %7.2fx %16s %8s\n", gate_name(c[k].variant), impl, f.median,
               f.ratio, f.gbps, u.median, u.median / f.median, sl_ns, sl_x);
        k += has_sleef ? 3 : 2;
    }

    int bad = check_gated(c, count, w, label);
    ctx->failures += bad;
    size_t lo, hi;
    calls_range(c, count, &lo, &hi);
    printf("  (%d rounds, samples of >= %.1f ms, %zu to %zu calls; outputs vs scalar tier's gated call, the\n"
           "   unfused within %.0f ulps of half-precision y: %s)\n", rounds, o->min_ms, lo, hi, GATED_UNFUSED_ULPS,
           bad ? "MISMATCH, see stderr" : "ok");
    fflush(stdout);
}

/* --int8: one type combination's table. Per op, scale and tier, the int8 call and the norm to f32
 * + quantize pass side by side, each as time / int8 floor, and how much faster the int8 call is. */
static void report_int8_combo(context *ctx, size_t shape_index, const candidate *c, size_t count,
                              const workload *w, int rounds)
{
    const options *o = ctx->opt;
    const combo *t = &c[0].types;
    char name[64], label[96], a[32], b[32], ysize[32], tsize[32];
    workload_name(w, o, name, sizeof name);
    snprintf(label, sizeof label, "%s, types %s, int8", name, t->name);
    double elems = (double)(w->rows * w->n);

    printf("\nshape %s, %s (x %s, gamma %s, y int8; floor: int8 floor = %.1f ns/row)\n", name, t->name,
           dtype_name(t->x), dtype_name(t->param), c[0].median);
    human_bytes(elems * (double)dtype_size(t->x), a, sizeof a);
    human_bytes((double)ctx->llc, b, sizeof b);
    human_bytes(elems, ysize, sizeof ysize);
    printf("  x is %s, y %s (the unfused f32 temporary %s more); last-level cache %s\n", a, ysize,
           human_bytes(elems * 4, tsize, sizeof tsize), b);
    print_dist_cell(o, "dist");
    printf("  %-17s %-10s %12s %8s %8s %17s %8s %9s\n", "op, scale", "impl", "int8 ns/row", "x floor", "GB/s",
           "norm+quant ns/row", "x floor", "speedup");
    report_pairs(ctx, shape_index, c, count, w, "int8");

    int bad = check_int8(c, count, w, label);
    ctx->failures += bad;
    size_t lo, hi;
    calls_range(c, count, &lo, &hi);
    printf("  (%d rounds, samples of >= %.1f ms, %zu to %zu calls; int8 outputs, and norm+quant's, vs the\n"
           "   scalar tier's int8 call within 1, dynamic scales within %g: %s)\n", rounds, o->min_ms, lo, hi,
           CHECK_TOL, bad ? "MISMATCH, see stderr" : "ok");
    fflush(stdout);
}

/* --split: one type combination's table. Per op and tier, one call on the whole rows next to the
 * split sequence for each k, with its time / one call's: what the moments API costs. */
static void report_split_combo(context *ctx, size_t shape_index, const candidate *c, size_t count,
                               const workload *w, int rounds)
{
    const options *o = ctx->opt;
    const combo *t = &c[0].types;
    char name[64], label[96], a[32], b[32];
    workload_name(w, o, name, sizeof name);
    snprintf(label, sizeof label, "%s, types %s, split", name, t->name);
    size_t bytes = w->rows * w->n * (dtype_size(t->x) + dtype_size(t->y));
    bool memcpy_floor = bytes > ctx->llc;
    const candidate *fc = &c[memcpy_floor ? 1 : 0];
    double floor_ns = fc->median;

    printf("\nshape %s, %s (x %s, y %s, gamma %s; floor: %s = %.1f ns/row)\n", name, t->name, dtype_name(t->x),
           dtype_name(t->y), dtype_name(t->param), memcpy_floor ? "memcpy" : is_f32(t) ? "read + x*gamma" : "read + y=x",
           floor_ns);
    human_bytes((double)bytes, a, sizeof a);
    human_bytes((double)ctx->llc, b, sizeof b);
    printf("  x and y are %s together; last-level cache %s\n", a, b);
    print_dist_cell(o, "dist");
    printf("  %-10s %-12s %16s %8s", "op", "impl", "one call ns/row", "x floor");
    for (size_t k = 0; k < NSPLIT_KS; k++) {
        char head[32];
        snprintf(head, sizeof head, "k=%zu ns/row", split_ks[k]);
        printf(" %12s %9s", head, "/ 1 call");
    }
    printf("\n");
    record fr = make_record(&ctx->rep, fc, w, shape_index, floor_ns, memcpy_floor, ctx->marked);
    add_record(&ctx->rep, &fr);
    print_dist_cell(o, dist_names[w->dist]);
    printf("  %-10s %-12s %16.1f %8.2f\n", "floor", fr.impl, fr.median, fr.ratio);
    /* After the two floors, groups of one call followed by its splits, same op and tier. */
    for (size_t k = 2; k + NSPLIT_KS < count; k += 1 + NSPLIT_KS) {
        record one = make_record(&ctx->rep, &c[k], w, shape_index, floor_ns, memcpy_floor, ctx->marked);
        snprintf(one.variant_name, sizeof one.variant_name, "one-call");
        add_record(&ctx->rep, &one);
        char impl[32];
        snprintf(impl, sizeof impl, "%s%s", one.impl, one.is_default ? " *" : "");
        print_dist_cell(o, dist_names[w->dist]);
        printf("  %-10s %-12s %16.1f %8.2f", op_name(c[k].op), impl, one.median, one.ratio);
        for (size_t j = 1; j <= NSPLIT_KS; j++) {
            record sr = make_record(&ctx->rep, &c[k + j], w, shape_index, floor_ns, memcpy_floor, ctx->marked);
            sr.vs_one_call = sr.median / one.median;
            add_record(&ctx->rep, &sr);
            printf(" %12.1f %8.2fx", sr.median, sr.vs_one_call);
        }
        printf("\n");
    }

    int bad = check_outputs(c, count, w, label);
    ctx->failures += bad;
    print_table_foot(c, count, w, rounds, o->min_ms, bad);
    fflush(stdout);
}

/* Times every type combination of one workload in the same rounds, then reports each. */
static void bench_workload(context *ctx, size_t index, const workload *w)
{
    const options *o = ctx->opt;
    candidate *c = calloc(o->ntypes * MAX_CANDIDATES_PER_COMBO, sizeof *c);
    size_t first[MAX_COMBOS + 1], count = 0;
    if (!c)
        die("out of memory");
    size_t (*build)(candidate *, const options *, const combo *) = build_candidates;
    void (*report)(context *, size_t, const candidate *, size_t, const workload *, int) = report_combo;
    if (o->fused) {
        build = build_fused_candidates;
        report = report_fused_combo;
    } else if (o->gated) {
        build = build_gated_candidates;
        report = report_gated_combo;
    } else if (o->int8) {
        build = build_int8_candidates;
        report = report_int8_combo;
    } else if (o->split) {
        build = build_split_candidates;
        report = report_split_combo;
    }
    for (size_t i = 0; i < o->ntypes; i++) {
        first[i] = count;
        count += build(c + count, o, &o->types[i]);
    }
    first[o->ntypes] = count;
    int rounds = measure(c, count, w, o);

    for (size_t i = 0; i < o->ntypes; i++)
        report(ctx, index, c + first[i], first[i + 1] - first[i], w, rounds);
    for (size_t k = 0; k < count; k++)
        free(c[k].ns_row);
    free(c);
}

/* One shape: its buffers drawn from each distribution in turn, and timed. The distributions are
 * not interleaved (that would take a copy of every buffer per distribution): each one's ratios
 * come from its own rounds, the floors timed alongside. */
static void bench_shape(context *ctx, size_t index)
{
    const options *o = ctx->opt;
    shape s = o->shapes[index];
    char size[32];

    workload w;
    if (!make_workload(&w, s, o)) {
        printf("\nshape %zux%zu: skipped, cannot allocate %s of buffers\n", s.rows, s.n,
               human_bytes(workload_bytes(s, o), size, sizeof size));
        return;
    }
    for (int d = 0; d < NDISTS; d++)
        if (o->dist[d]) {
            progress_shape(index, s, o->ndists > 1 || d != DIST_GAUSS ? dist_names[d] : NULL);
            fill_workload(&w, (row_dist)d);
            bench_workload(ctx, index, &w);
        }
    free_workload(&w);
}

/* ---------------------------------------------------------------- header and summary */

static norm_isa best_selected(const options *o)
{
    for (int t = NORM_ISA_COUNT - 1; t > 0; t--)
        if (o->isa[t])
            return (norm_isa)t;
    return NORM_ISA_SCALAR;
}

static void print_fused_legend(void)
{
    printf("\n"
           "How to read the tables (--fused):\n"
           "  fused      norm_run with residual = residual_out = r: h = x + r is written back to r\n"
           "             and normalised into y, in one call\n"
           "  add+norm   the unfused sequence an engine would run with the library: an add pass\n"
           "             r = x + r (reference.c: a plain loop, -O3 -ffast-math, cloned for the widest\n"
           "             vector unit like the floor; f32 adds, rounded to r's type), then norm_run on r\n"
           "  ns/row     median time per row over all rounds (lower is better)\n"
           "  x floor    time / the fused floor's time: 1.00 = as fast as the floor\n"
           "  GB/s       bytes the fused op must move (x and r read once, r and y written once) / time\n"
           "  speedup    add+norm time / fused time, same tier\n"
           "  floor      the fused op's own floor, plain C: per row, one pass that reads x and r,\n"
           "             writes h = x + r back to r and sums h, then one pass that reads h again (from\n"
           "             L1) and gamma and writes y = h*gamma. It moves the bytes the fused op must\n"
           "             (and reads h twice, as any norm of h must) with the least arithmetic: no\n"
           "             squares, no scale, no rounding. Both passes are built for the widest vector\n"
           "             unit this CPU has (one clone per ISA). With f16 or bf16 x or y the add and\n"
           "             the sum are integer adds of the raw bit patterns and y = h is moved as bits\n"
           "             with no gamma, as in the plain benchmark's read + y=x floor.\n"
           "  *          the tier the library picks by default on this machine\n"
           "Each timed call starts from the r the previous call left (r grows by x per call), as in a\n"
           "model; the check after each shape restores r, then compares every tier's fused call with\n"
           "the scalar tier's, and with add+norm on the same tier bit for bit (y and h).\n"
           "Note: this machine may be shared and its clock varies, so absolute times move from\n"
           "run to run; the ratios, measured side by side in interleaved rounds, are the numbers\n"
           "to compare.\n");
}

static void print_gated_legend(void)
{
    printf("\n"
           "How to read the tables (--gated):\n"
           "  gate       after: y = rmsnorm(x) * gamma * silu(z), norm_run with .gate; before:\n"
           "             y = rmsnorm(x * silu(z)) * gamma, with NORM_GATE_BEFORE_NORM too\n"
           "  unfused    the sequence an engine would run without the gate: after, norm_run, then a\n"
           "             pass y *= silu(z); before, a pass t = x * silu(z) into a temporary of x's\n"
           "             type, then norm_run on t. The silu passes are reference.c's plain loops\n"
           "             (silu(z) = z / (1 + expf(-z)), libm's expf; -O3 -ffast-math, cloned for the\n"
           "             widest vector unit like the floor, so the compiler may use glibc's vector\n"
           "             expf), f32 arithmetic, bf16 rounded to nearest even\n"
           "  ns/row     median time per row over all rounds (lower is better)\n"
           "  x floor    time / the gated floor's time: 1.00 = as fast as the floor\n"
           "  GB/s       bytes the gated op must move (x and z read once, y written once) / time\n"
           "  speedup    unfused time / gated time, same tier\n"
           "  floor      the gated op's own floor, plain C: per row, a read pass over x (a sum), then\n"
           "             one pass that reads x again (from L1), z and gamma and writes y = x*z*gamma.\n"
           "             Every gated norm must read x and z from memory once, gamma from cache and\n"
           "             write y once, and must pass over the row before its first y (over x, and\n"
           "             over z too when the gate comes before): the floor does that and no more, with\n"
           "             no silu, square or scale, so it is a lower bound for both orders. With bf16\n"
           "             rows the write pass adds the raw bit patterns as integers, converting nothing.\n"
           "             Built for the widest vector unit this CPU has (one clone per ISA).\n"
           "  *          the tier the library picks by default on this machine\n"
           "Note: this machine may be shared and its clock varies, so absolute times move from\n"
           "run to run; the ratios, measured side by side in interleaved rounds, are the numbers\n"
           "to compare.\n");
}

static void print_int8_legend(void)
{
    printf("\n"
           "How to read the tables (--int8):\n"
           "  op, scale  the norm, with y_type NORM_I8 and a static scale (y_scale = 4/127: y beyond\n"
           "             4 clips) or a dynamic one per row (y_scales: s = max|y| / 127)\n"
           "  norm+quant the sequence an engine would run without int8 output: norm_run to an f32\n"
           "             temporary, then a quantize pass (reference.c's plain loop, -O3 -ffast-math,\n"
           "             cloned like the floor: q = clamp(rint(y / s), -127, 127); with the dynamic\n"
           "             scale a max|y| pass per row first)\n"
           "  ns/row     median time per row over all rounds (lower is better)\n"
           "  x floor    time / the int8 floor's time: 1.00 = as fast as the floor\n"
           "  GB/s       bytes the int8 op must move (x read once, one byte of y written) / time\n"
           "  speedup    norm+quant time / int8 time, same op, scale and tier\n"
           "  floor      the int8 op's own floor, plain C: per row, a read pass over x (a sum), then\n"
           "             one pass that reads x again (from L1) and gamma and writes n bytes of y, the\n"
           "             low byte of the integer sum of their bit patterns: the bytes every int8 norm\n"
           "             must move, with no float arithmetic and no conversion. The same floor for\n"
           "             both scales (a dynamic scale's max|y| pass is over the row in cache: its own\n"
           "             cost). Built for the widest vector unit this CPU has (one clone per ISA).\n"
           "  *          the tier the library picks by default on this machine\n"
           "Note: this machine may be shared and its clock varies, so absolute times move from\n"
           "run to run; the ratios, measured side by side in interleaved rounds, are the numbers\n"
           "to compare.\n");
}

static void print_split_legend(void)
{
    printf("\n"
           "How to read the tables (--split):\n"
           "  one call   norm_run (or the norm_*_f32 convenience function) on the whole rows\n"
           "  k=K        the same rows normalised in K slices, one after another on this thread, as\n"
           "             K workers would do in parallel: per slice norm_moments_run, then\n"
           "             norm_moments_combine into the rows' moments, then per slice norm_run with\n"
           "             .moments (K + K-1 + K calls). Not a parallel speedup: what the API costs\n"
           "  / 1 call   the split sequence's time / one call's, same op and tier (1.00 = free)\n"
           "  ns/row     median time per row over all rounds (lower is better)\n"
           "  x floor    time / floor time, the plain benchmark's floor (read + x*gamma, or memcpy\n"
           "             when x and y exceed the last-level cache)\n"
           "  *          the tier the library picks by default on this machine\n"
           "Note: this machine may be shared and its clock varies, so absolute times move from\n"
           "run to run; the ratios, measured side by side in interleaved rounds, are the numbers\n"
           "to compare.\n");
}

static void print_legend(const options *o)
{
    if (o->fused) {
        print_fused_legend();
        return;
    }
    if (o->gated) {
        print_gated_legend();
        return;
    }
    if (o->int8) {
        print_int8_legend();
        return;
    }
    if (o->split) {
        print_split_legend();
        return;
    }
    printf("\n"
           "How to read the tables:\n"
           "  ns/row   median time per row over all rounds (lower is better)\n"
           "  GB/s     bytes the op must move (x read once + y written once) / time\n"
           "  x floor  time / floor time: 1.00 = as fast as the floor, 2.00 = twice as slow\n"
           "  floor    the memory traffic every norm must do, written as plain C: one read pass\n"
           "           over x (a sum) plus one y = x*gamma pass when x and y fit in the last-level\n"
           "           cache, otherwise a memcpy of x to y. Both passes are built for the widest\n"
           "           vector unit this CPU has (-O3 -ffast-math, one clone per ISA); memcpy\n"
           "           is libc's, already tuned for this CPU.\n");
    if (o->ntypes > 1)
        printf("           With f16 or bf16 x or y the cache floor is 'read + y=x': a read pass that\n"
               "           adds up x's raw bit patterns as integers, then y = x as bits (a copy, or a\n"
               "           16-bit shift where x and y differ in width). It reads and writes the bytes\n"
               "           the norm must, but multiplies by no gamma and converts nothing, so it is a\n"
               "           looser lower bound than f32's. The memcpy floor copies (x + y bytes) / 2\n"
               "           per element, the traffic of the norm. GB/s counts x and y at their sizes.\n");
    printf("  plain-C  the loops a user would write by hand (reference.c, -O3 -ffast-math,\n"
           "           built for the baseline ISA as a distribution would build them)%s\n",
           o->ntypes > 1 ? "; f32 only" : "");
    if (o->ntypes > 1)
        printf("  vs f32   (after the summary) rows/s in a type / rows/s in f32, same shape, norm, tier\n");
    printf("  *        the tier the library picks by default on this machine\n"
           "Note: this machine may be shared and its clock varies, so absolute times move from\n"
           "run to run; the ratios, measured side by side in interleaved rounds, are the numbers\n"
           "to compare.\n");
}

/* What --dist drew x's rows from, each distribution timed in turn. */
static void print_dist_legend(const options *o)
{
    printf("Rows of x (--dist)%s; noise is roughly N(0,1):\n", o->ndists > 1 ? ", each timed in turn" : "");
    if (o->dist[DIST_GAUSS])
        printf("  gauss     noise\n");
    if (o->dist[DIST_OFFSET])
        printf("  offset    noise + an offset per row, uniform in [0, %.0f]\n", (double)DIST_OFFSET_MAX);
    if (o->dist[DIST_MEAN1E3])
        printf("  mean1e3   noise + %.0f\n", (double)DIST_MEAN);
    if (o->dist[DIST_OUTLIERS])
        printf("  outliers  noise, but %d channels (3, n/3, n/2+1, n-5) of magnitude %.0f to %.0f,\n"
               "            signs +, -, +, - (the same channels and signs in every row)\n",
               DIST_NOUTLIERS, (double)DIST_OUTLIER_MIN, (double)DIST_OUTLIER_MAX);
    if (o->dist[DIST_CONST])
        printf("  const     every element the row's own value, |value| in [0.25, 2), either sign\n");
    if (o->fused)
        printf("  (--fused: in x; r is noise, so h = x + r tends to x's shape as r accumulates x;\n"
               "  with const rows r is the row's value too)\n");
}

/* What NORM_ISA did, as the library read it: a value it could not honour is said on stderr
 * too, where it is seen even when the report goes to a file. */
static void print_env_note(norm_isa default_isa)
{
    const char *isa = getenv("NORM_ISA"), *warning = norm_env_warning();
    printf("       (kernels: %s", norm_active_variant_name());
    if (warning) {
        printf("; %s)\n", warning);
        fprintf(stderr, "norm-bench: warning: %s\n", warning);
    } else if (isa && *isa) {
        printf("; NORM_ISA=%s caps the tiers at %s)\n", isa, norm_isa_name(default_isa));
    } else {
        printf(")\n");
    }
}

static void print_header(const options *o, norm_isa default_isa, norm_isa marked, size_t llc, bool llc_sysconf)
{
    char cpu[256], avail[128], size[32];
    cpu_model(cpu, sizeof cpu);
    list_available(avail, sizeof avail);
    printf("norm-bench: libnorm %s\n", norm_version_string());
    printf("CPU: %s, %ld online core(s); last-level cache %s (%s)\n", cpu, sysconf(_SC_NPROCESSORS_ONLN),
           human_bytes((double)llc, size, sizeof size), llc_sysconf ? "as reported" : "unknown, assumed");
    printf("Tiers: default %s (what norm_rmsnorm_f32() uses unless told otherwise); runnable here: %s\n",
           norm_isa_name(default_isa), avail);
    print_env_note(default_isa);
    if (marked != default_isa)
        printf("       (the default tier is not among --isa; %s stands in for it below)\n", norm_isa_name(marked));
    if (o->fused)
        printf("Work: the fused residual add (--fused): h = x + r written back to r, then normalised;\n"
               "      r random, roughly N(0,4), of x's type; no bias.\n");
    if (o->gated)
        printf("Work: gated RMSNorm (--gated), the gate after and before the norm; z random, roughly\n"
               "      N(0,1), of x's type.\n");
    if (o->int8)
        printf("Work: int8 output (--int8), static scale 4/127 and dynamic scale per row.\n");
    if (o->split) {
        printf("Work: rows split into k =");
        for (size_t k = 0; k < NSPLIT_KS; k++)
            printf("%s %zu", k ? "," : "", split_ks[k]);
        printf(" slices (--split), one thread.\n");
    }
    const char *beta = o->beta ? "beta random in [-1, 1]" : "no beta (--beta adds one)";
    const char *gamma = o->no_gamma ? "no gamma (the library gets NULL)" : "gamma random near 1";
    bool gauss = o->ndists == 1 && o->dist[DIST_GAUSS];
    if (o->ntypes == 1) {
        printf("Work: f32, eps %g, %s, %s; input %s.\n", (double)EPS, gamma, beta,
               gauss ? "random, roughly N(0,1)" : "rows as below");
    } else {
        printf("Work: types");
        for (size_t i = 0; i < o->ntypes; i++)
            printf("%s %s", i ? "," : "", o->types[i].name);
        printf(" (x:y:gamma%s), eps %g,\n"
               "      %s, %s; input %s, the same values\n"
               "      rounded to nearest in f16 and bf16.\n",
               o->gated || o->int8 || o->split ? "" : "; f32 is the baseline of the vs-f32 ratios",
               (double)EPS, gamma, beta, gauss ? "random, roughly N(0,1)" : "rows as below");
    }
    if (!gauss)
        print_dist_legend(o);
    print_legend(o);
}

/* " 1.23x" right-aligned in width, or "-" for an op that was not timed. */
static void print_ratio(double ratio, int width)
{
    if (isnan(ratio))
        printf(" %*s", width, "-");
    else
        printf(" %*.2fx", width - 1, ratio);
}

static bool shape_timed(const report *rep, size_t shape_index)
{
    for (size_t i = 0; i < rep->count; i++)
        if (rep->recs[i].shape_index == shape_index)
            return true;
    return false;
}

static double tier_value(const record *r, bool vs_f32)
{
    return !r ? NAN : vs_f32 ? r->vs_f32 : r->ratio;
}

/* A summary's dist column, after its shape and types, with more than one distribution. The
 * summaries loop over every distribution: one not timed has no records, so no lines. */
static void print_dist_field(const options *o, const char *text)
{
    if (o->ndists > 1)
        printf(" %-8s", text);
}

/* One summary line: the marked tier's time / floor on one shape, distribution and type combination. */
static void print_summary_row(const context *ctx, size_t shape_index, row_dist d, const combo *t, bool both)
{
    const record *rms = find_tier(&ctx->rep, shape_index, d, t, NORM_RMSNORM, ctx->marked);
    const record *ln = find_tier(&ctx->rep, shape_index, d, t, NORM_LAYERNORM, ctx->marked);
    const record *any = rms ? rms : ln;
    if (!any)
        return;
    printf("  %-12s ", any->shape);
    if (ctx->opt->ntypes > 1)
        printf("%-14s ", t->name);
    if (ctx->opt->ndists > 1)
        printf("%-9s ", dist_names[d]);
    printf("%-13s", any->floor_kind);
    print_ratio(tier_value(rms, false), 8);
    print_ratio(tier_value(ln, false), 10);
    if (both)
        printf("   layernorm costs %.2fx rmsnorm on %s", ln->median / rms->median, any->shape);
    printf("\n");
}

static void print_summary(const context *ctx)
{
    const options *o = ctx->opt;
    bool both = o->op[NORM_RMSNORM] && o->op[NORM_LAYERNORM];
    printf("\nSummary: tier %s, time / floor (1.00 = at the floor; lower is better)\n", norm_isa_name(ctx->marked));
    printf("  %-12s %s%s%-13s %8s %10s\n", "shape", o->ntypes > 1 ? "types          " : "",
           o->ndists > 1 ? "dist      " : "", "floor", "rmsnorm", "layernorm");
    for (size_t i = 0; i < o->nshapes; i++) {
        if (!shape_timed(&ctx->rep, i)) {
            char name[48];
            snprintf(name, sizeof name, "%zux%zu", o->shapes[i].rows, o->shapes[i].n);
            printf("  %-12s (skipped)\n", name);
            continue;
        }
        for (size_t j = 0; j < o->ntypes; j++)
            for (int d = 0; d < NDISTS; d++)
                print_summary_row(ctx, i, (row_dist)d, &o->types[j], both);
    }
    if (both)
        printf("RMSNorm skips LayerNorm's mean (one reduction and a subtraction per element); the last\n"
               "column is what that saves here, measured rather than assumed.\n");
}

/* The marked tier's largest time / floor on a shape, in f32, over the distributions timed: the
 * one the targets are judged on. NULL if the op was not timed there. */
static const record *worst_dist(const context *ctx, size_t shape_index, norm_kind op)
{
    combo f32 = make_combo(NORM_F32, NORM_F32, NORM_F32);
    const record *worst = NULL;
    for (int d = 0; d < NDISTS; d++) {
        const record *r = find_tier(&ctx->rep, shape_index, (row_dist)d, &f32, op, ctx->marked);
        if (r && (!worst || r->ratio > worst->ratio))
            worst = r;
    }
    return worst;
}

/* " 1.08x outliers met   ": a shape's worst ratio, its distribution and the verdict (padded to
 * pad), or a dash. */
static void print_worst(const record *r, norm_kind op, int width, int pad)
{
    if (!r)
        printf(" %*s %-9s %-*s", width, "-", "", pad, "");
    else
        printf(" %*.2fx %-9s %-*s", width - 1, r->ratio, dist_names[r->dist], pad,
               r->ratio <= norm_targets[op] ? "met" : "MISSED");
}

/* The plain norms' targets on f32 rows: per shape the worst distribution's time / floor, then per
 * op one line over every shape and distribution, naming where it was worst. A kernel must meet
 * them on every input, not on its favourite. A verdict, not a test: it never fails the run. */
static void print_targets(const context *ctx)
{
    const options *o = ctx->opt;
    const record *worst[2] = { NULL, NULL };
    char dists[64] = "";
    for (int d = 0; d < NDISTS; d++)
        if (o->dist[d])
            snprintf(dists + strlen(dists), sizeof dists - strlen(dists), "%s%s", dists[0] ? ", " : "",
                     dist_names[d]);
    printf("\nTargets: RMSNorm within %.2fx of the floor and LayerNorm within %.2fx on every shape, tier %s,\n"
           "f32 rows, %s%s, x's rows %s%s.\n", norm_targets[NORM_RMSNORM], norm_targets[NORM_LAYERNORM],
           norm_isa_name(ctx->marked), o->no_gamma ? "no gamma, " : "", o->beta ? "with beta" : "no beta", dists,
           o->ndists > 1 ? ": each shape judged on its worst" : "");
    printf("  %-12s %8s %-9s %-6s %9s %s\n", "shape", "rmsnorm", "worst", "", "layernorm", "worst");
    for (size_t i = 0; i < o->nshapes; i++) {
        const record *r[2];
        for (int op = 0; op < 2; op++) {
            r[op] = worst_dist(ctx, i, (norm_kind)op);
            if (r[op] && (!worst[op] || r[op]->ratio > worst[op]->ratio))
                worst[op] = r[op];
        }
        if (!r[NORM_RMSNORM] && !r[NORM_LAYERNORM])
            continue; /* skipped */
        printf("  %-12s", (r[NORM_RMSNORM] ? r[NORM_RMSNORM] : r[NORM_LAYERNORM])->shape);
        print_worst(r[NORM_RMSNORM], NORM_RMSNORM, 8, r[NORM_LAYERNORM] ? 6 : 0);
        if (r[NORM_LAYERNORM])
            print_worst(r[NORM_LAYERNORM], NORM_LAYERNORM, 9, 0);
        printf("\n");
    }
    for (int op = 0; op < 2; op++)
        if (worst[op])
            printf("  %-9s <= %.2fx on every shape%s: %s (worst %.3fx: %s, %s)\n",
                   op == NORM_RMSNORM ? "RMSNorm" : "LayerNorm", norm_targets[op],
                   o->ndists > 1 ? " and distribution" : "", worst[op]->ratio <= norm_targets[op] ? "met" : "MISSED",
                   worst[op]->ratio, worst[op]->shape, dist_names[worst[op]->dist]);
    if (worst[NORM_RMSNORM] || worst[NORM_LAYERNORM])
        printf("  (a verdict, not a test: timings on a shared machine move, so it never fails the run)\n");
}

/* One line of the vs-f32 table: a shape, type combination, distribution and op across the tiers. */
static void print_vs_f32_row(const context *ctx, size_t shape_index, row_dist d, const combo *t, norm_kind op)
{
    const options *o = ctx->opt;
    const record *r[NORM_ISA_COUNT], *any = NULL;
    for (int i = 0; i < NORM_ISA_COUNT; i++) {
        r[i] = o->isa[i] ? find_tier(&ctx->rep, shape_index, d, t, op, (norm_isa)i) : NULL;
        any = any ? any : r[i];
    }
    if (!any)
        return; /* op not asked for, or shape or distribution not timed */
    printf("  %-12s %-14s", any->shape, t->name);
    print_dist_field(o, dist_names[d]);
    printf(" %-10s", op_name(op));
    for (int i = 0; i < NORM_ISA_COUNT; i++)
        if (o->isa[i])
            print_ratio(tier_value(r[i], true), 9);
    printf("\n");
}

/* The issue's metric for every shape, type combination, op and tier: rows/s over f32's. */
static void print_vs_f32(const context *ctx)
{
    const options *o = ctx->opt;
    printf("\nvs f32: rows/s in these types / rows/s in f32, same shape, norm and tier (higher is better;\n"
           "1.93x = the tier moves 1.93 times the rows per second it moves in f32)\n");
    printf("  %-12s %-14s", "shape", "types");
    print_dist_field(o, "dist");
    printf(" %-10s", "op");
    for (int i = 0; i < NORM_ISA_COUNT; i++)
        if (o->isa[i]) {
            char name[16];
            snprintf(name, sizeof name, "%s%s", norm_isa_name((norm_isa)i), (norm_isa)i == ctx->marked ? " *" : "");
            printf(" %9s", name);
        }
    printf("\n");
    for (size_t i = 0; i < o->nshapes; i++)
        for (size_t j = 1; j < o->ntypes; j++) /* types[0] is f32 itself */
            for (int d = 0; d < NDISTS; d++)
                for (int op = 0; op < 2; op++)
                    print_vs_f32_row(ctx, i, (row_dist)d, &o->types[j], (norm_kind)op);
}

/* The issue's target for a shape, or NAN if it names none. */
static double half_target(const char *shape_name, norm_dtype t)
{
    if (t == NORM_F16 && strcmp(shape_name, "1x4096") == 0 && !cpu_has_f16_arithmetic())
        return HALF_F16_SOFT_1X4096;
    for (size_t i = 0; i < sizeof half_targets / sizeof *half_targets; i++)
        if (strcmp(half_targets[i].shape, shape_name) == 0)
            return half_targets[i].target;
    return NAN;
}

static const char *verdict(double target, double rms, double ln)
{
    if (isnan(target))
        return "-";
    return (isnan(rms) || rms >= target) && (isnan(ln) || ln >= target) ? "met" : "MISSED";
}

/* --half-report: bf16 and f16 rows (x, y and gamma) against f32 on the default tier, with the
 * issue's targets, per distribution. A verdict, not a test: timings on a shared machine move, so
 * it never fails the run. */
static void print_half_report(const context *ctx)
{
    static const norm_dtype halves[] = { NORM_BF16, NORM_F16 };
    const options *o = ctx->opt;
    printf("\nHalf-precision report: tier %s, one thread; rows/s of bf16 and f16 rows / rows/s of f32\n"
           "rows (1.93x: bf16 moves 1.93x the rows/s of f32). The targets: >= 1.80x on\n"
           "2048x4096 and 8192x8192, which are memory-bound; >= 1.00x (no slower) on 1x4096,\n"
           "f16 there >= %.2fx on a CPU without f16 arithmetic (this one %s it).\n",
           norm_isa_name(ctx->marked), HALF_F16_SOFT_1X4096, cpu_has_f16_arithmetic() ? "has" : "lacks");
    printf("  %-12s %-6s", "shape", "types");
    print_dist_field(o, "dist");
    printf(" %8s %10s %9s  %s\n", "rmsnorm", "layernorm", "target", "verdict");
    int lines = 0;
    for (size_t i = 0; i < o->nshapes; i++)
        for (size_t h = 0; h < sizeof halves / sizeof *halves; h++)
            for (int d = 0; d < NDISTS; d++) {
                combo t = make_combo(halves[h], halves[h], halves[h]);
                const record *rms = find_tier(&ctx->rep, i, (row_dist)d, &t, NORM_RMSNORM, ctx->marked);
                const record *ln = find_tier(&ctx->rep, i, (row_dist)d, &t, NORM_LAYERNORM, ctx->marked);
                if (!rms && !ln)
                    continue; /* type or distribution not asked for, or shape skipped */
                const char *shape_name = (rms ? rms : ln)->shape;
                double target = half_target(shape_name, halves[h]), r = tier_value(rms, true), l = tier_value(ln, true);
                printf("  %-12s %-6s", shape_name, t.name);
                print_dist_field(o, dist_names[d]);
                print_ratio(r, 8);
                print_ratio(l, 10);
                if (isnan(target))
                    printf(" %9s", "-");
                else
                    printf("  >= %.2fx", target);
                printf("  %s\n", verdict(target, r, l));
                lines++;
            }
    if (!lines)
        printf("  (nothing to report: --types has neither bf16 nor f16)\n");
}

/* --fused: per shape, type combination and distribution, the marked tier's fused time / fused
 * floor and its speedup over add + norm; then the targets. A verdict, not a test: it never
 * fails the run. */
static void print_fused_summary(const context *ctx)
{
    const options *o = ctx->opt;
    const report *rep = &ctx->rep;
    const char *tier = norm_isa_name(ctx->marked);
    printf("\nFused summary: tier %s; x floor = fused time / fused floor (1.00 = at the floor),\n"
           "speedup = add+norm time / fused time (higher is better)\n", tier);
    printf("  %-12s %-14s", "shape", "types");
    print_dist_field(o, "dist");
    printf(" %13s %13s %15s %15s\n", "rms x floor", "rms speedup", "layer x floor", "layer speedup");
    for (size_t i = 0; i < o->nshapes; i++)
        for (size_t j = 0; j < o->ntypes; j++)
            for (int dd = 0; dd < NDISTS; dd++) {
                const combo *t = &o->types[j];
                row_dist d = (row_dist)dd;
                const record *rms = find_record(rep, i, d, t, CAND_FUSED, NORM_RMSNORM, ctx->marked);
                const record *rms_u = find_record(rep, i, d, t, CAND_UNFUSED, NORM_RMSNORM, ctx->marked);
                const record *ln = find_record(rep, i, d, t, CAND_FUSED, NORM_LAYERNORM, ctx->marked);
                const record *ln_u = find_record(rep, i, d, t, CAND_UNFUSED, NORM_LAYERNORM, ctx->marked);
                const record *any = rms ? rms : ln;
                if (!any)
                    continue;
                printf("  %-12s %-14s", any->shape, t->name);
                print_dist_field(o, dist_names[d]);
                print_ratio(rms ? rms->ratio : NAN, 13);
                print_ratio(rms && rms_u ? rms_u->median / rms->median : NAN, 13);
                print_ratio(ln ? ln->ratio : NAN, 15);
                print_ratio(ln && ln_u ? ln_u->median / ln->median : NAN, 15);
                if (rms && rms_u)
                    printf("   fused is %.2fx faster than add + norm", rms_u->median / rms->median);
                printf("\n");
            }

    printf("\nTargets: the fused residual RMSNorm, tier %s: within 1.20x of its own floor on\n"
           "1x4096 and 16x4096%s.\n", tier, o->ndists > 1 ? ", on every distribution" : "");
    int lines = 0;
    for (size_t k = 0; k < sizeof fused_targets / sizeof *fused_targets; k++)
        for (size_t i = 0; i < o->nshapes; i++)
            for (size_t j = 0; j < o->ntypes; j++)
                for (int dd = 0; dd < NDISTS; dd++) {
                    const combo *t = &o->types[j];
                    row_dist d = (row_dist)dd;
                    const record *f = find_record(rep, i, d, t, CAND_FUSED, NORM_RMSNORM, ctx->marked);
                    const record *u = find_record(rep, i, d, t, CAND_UNFUSED, NORM_RMSNORM, ctx->marked);
                    if (!f || strcmp(f->shape, fused_targets[k].shape) != 0)
                        continue;
                    printf("  %-8s %-14s", f->shape, t->name);
                    print_dist_field(o, dist_names[d]);
                    printf(" within %.2fx of the floor: %.3fx %-6s", fused_targets[k].floor_max, f->ratio,
                           f->ratio <= fused_targets[k].floor_max ? "met" : "MISSED");
                    if (fused_targets[k].speedup_min > 0 && u) {
                        double sp = u->median / f->median;
                        printf("  >= %.2fx faster than add + norm: %.3fx %s", fused_targets[k].speedup_min, sp,
                               sp >= fused_targets[k].speedup_min ? "met" : "MISSED");
                    }
                    printf("\n");
                    lines++;
                }
    if (!lines)
        printf("  (not measured: time rmsnorm on 1x4096 and 16x4096, e.g. --fused --shapes 1x4096,16x4096)\n");
    else
        printf("  (a verdict, not a test: timings on a shared machine move, so it never fails the run)\n");
}

/* --gated: per shape, type combination and distribution, the marked tier's gated time / gated
 * floor and against the two unfused sequences, in each order; then the target on every line. A
 * verdict, not a test: it never fails the run. */
static void print_gated_summary(const context *ctx)
{
    const options *o = ctx->opt;
    const report *rep = &ctx->rep;
    const char *tier = norm_isa_name(ctx->marked);
    printf("\nGated summary: tier %s; x floor = gated time / gated floor (1.00 = at the floor);\n"
           "vs libm / vs SLEEF = gated time / (norm + a separate silu pass), the pass with libm's expf\n"
           "(-ffast-math) or with SLEEF's exp for the tier (lower is better; 1.00 = as fast)\n", tier);
    printf("  %-12s %-14s", "shape", "types");
    print_dist_field(o, "dist");
    printf(" %8s %8s %8s   %8s %8s %8s\n", "after:", "vs libm", "vs SLEEF", "before:", "vs libm", "vs SLEEF");
    printf("  %-12s %-14s", "", "");
    print_dist_field(o, "");
    printf(" %8s %8s %8s   %8s %8s %8s\n", "x floor", "", "", "x floor", "", "");
    for (size_t i = 0; i < o->nshapes; i++)
        for (size_t j = 0; j < o->ntypes; j++)
            for (int dd = 0; dd < NDISTS; dd++) {
                const combo *t = &o->types[j];
                row_dist d = (row_dist)dd;
                const record *r[2], *u[2], *sl[2];
                for (size_t v = GATE_AFTER; v <= GATE_BEFORE; v++) {
                    r[v] = find_variant(rep, i, d, t, CAND_GATED, NORM_RMSNORM, ctx->marked, v);
                    u[v] = find_variant(rep, i, d, t, CAND_GUNFUSED, NORM_RMSNORM, ctx->marked, v);
                    sl[v] = find_variant(rep, i, d, t, CAND_GSLEEF, NORM_RMSNORM, ctx->marked, v);
                }
                if (!r[GATE_AFTER] && !r[GATE_BEFORE])
                    continue;
                printf("  %-12s %-14s", (r[GATE_AFTER] ? r[GATE_AFTER] : r[GATE_BEFORE])->shape, t->name);
                print_dist_field(o, dist_names[d]);
                for (size_t v = GATE_AFTER; v <= GATE_BEFORE; v++) {
                    print_ratio(r[v] ? r[v]->ratio : NAN, 8);
                    print_ratio(r[v] && u[v] ? r[v]->median / u[v]->median : NAN, 8);
                    print_ratio(r[v] && sl[v] ? r[v]->median / sl[v]->median : NAN, 8);
                    if (v == GATE_AFTER)
                        printf("  ");
                }
                printf("\n");
            }

    printf("\nTarget: gated RMSNorm, tier %s, either order, every shape%s: never slower than the norm\n"
           "plus a separate SLEEF silu pass on the same tier (time / that time <= %.2f).\n", tier,
           o->ndists > 1 ? " and distribution" : "", GATED_VS_SLEEF_MAX);
    int lines = 0;
    for (size_t i = 0; i < o->nshapes; i++)
        for (size_t j = 0; j < o->ntypes; j++)
            for (int dd = 0; dd < NDISTS; dd++)
                for (size_t v = GATE_AFTER; v <= GATE_BEFORE; v++) {
                    const combo *t = &o->types[j];
                    row_dist d = (row_dist)dd;
                    const record *r = find_variant(rep, i, d, t, CAND_GATED, NORM_RMSNORM, ctx->marked, v);
                    const record *sl = find_variant(rep, i, d, t, CAND_GSLEEF, NORM_RMSNORM, ctx->marked, v);
                    if (!r)
                        continue;
                    printf("  %-12s %-14s", r->shape, t->name);
                    print_dist_field(o, dist_names[d]);
                    if (!sl) {
                        printf(" gate %-6s: no SLEEF pass for tier %s\n", gate_name(v), tier);
                    } else {
                        double q = r->median / sl->median;
                        printf(" gate %-6s %.3fx the norm + SLEEF pass: %s\n", gate_name(v), q,
                               q <= GATED_VS_SLEEF_MAX ? "met" : "MISSED");
                    }
                    lines++;
                }
    if (lines)
        printf("  (a verdict, not a test: timings on a shared machine move, so it never fails the run)\n");
}

/* --int8: per shape, type combination, distribution and op, the marked tier's int8 time / int8
 * floor and its speedup over norm + quantize, for each scale. */
static void print_int8_summary(const context *ctx)
{
    const options *o = ctx->opt;
    const report *rep = &ctx->rep;
    printf("\nInt8 summary: tier %s; x floor = int8 time / int8 floor (1.00 = at the floor),\n"
           "speedup = norm+quant time / int8 time (higher is better)\n", norm_isa_name(ctx->marked));
    printf("  %-12s %-14s", "shape", "types");
    print_dist_field(o, "dist");
    printf(" %-10s %14s %14s %15s %15s\n", "op", "static x floor", "static speedup", "dynamic x floor",
           "dynamic speedup");
    for (size_t i = 0; i < o->nshapes; i++)
        for (size_t j = 0; j < o->ntypes; j++)
            for (int dd = 0; dd < NDISTS; dd++)
                for (int op = 0; op < 2; op++) {
                    const combo *t = &o->types[j];
                    row_dist d = (row_dist)dd;
                    const record *r[2], *u[2];
                    for (size_t v = SCALE_STATIC; v <= SCALE_DYNAMIC; v++) {
                        r[v] = find_variant(rep, i, d, t, CAND_INT8, (norm_kind)op, ctx->marked, v);
                        u[v] = find_variant(rep, i, d, t, CAND_QUNFUSED, (norm_kind)op, ctx->marked, v);
                    }
                    if (!r[SCALE_STATIC] && !r[SCALE_DYNAMIC])
                        continue;
                    printf("  %-12s %-14s", (r[SCALE_STATIC] ? r[SCALE_STATIC] : r[SCALE_DYNAMIC])->shape, t->name);
                    print_dist_field(o, dist_names[d]);
                    printf(" %-10s", op_name((norm_kind)op));
                    for (size_t v = SCALE_STATIC; v <= SCALE_DYNAMIC; v++) {
                        print_ratio(r[v] ? r[v]->ratio : NAN, v == SCALE_STATIC ? 14 : 15);
                        print_ratio(r[v] && u[v] ? u[v]->median / r[v]->median : NAN, v == SCALE_STATIC ? 14 : 15);
                    }
                    printf("\n");
                }
}

/* --split: per shape, type combination, distribution and op, the marked tier's one call / floor
 * and each split sequence's time / one call's. */
static void print_split_summary(const context *ctx)
{
    const options *o = ctx->opt;
    const report *rep = &ctx->rep;
    printf("\nSplit summary: tier %s, one thread; the split sequence's time / one call's (1.00 = the\n"
           "moments API costs nothing; lower is better)\n", norm_isa_name(ctx->marked));
    printf("  %-12s %-14s", "shape", "types");
    print_dist_field(o, "dist");
    printf(" %-10s %15s", "op", "1 call x floor");
    for (size_t k = 0; k < NSPLIT_KS; k++) {
        char head[32];
        snprintf(head, sizeof head, "k=%zu / 1 call", split_ks[k]);
        printf(" %14s", head);
    }
    printf("\n");
    for (size_t i = 0; i < o->nshapes; i++)
        for (size_t j = 0; j < o->ntypes; j++)
            for (int dd = 0; dd < NDISTS; dd++)
                for (int op = 0; op < 2; op++) {
                    const combo *t = &o->types[j];
                    row_dist d = (row_dist)dd;
                    const record *one = find_variant(rep, i, d, t, CAND_LIB, (norm_kind)op, ctx->marked, 0);
                    if (!one)
                        continue;
                    printf("  %-12s %-14s", one->shape, t->name);
                    print_dist_field(o, dist_names[d]);
                    printf(" %-10s", op_name((norm_kind)op));
                    print_ratio(one->ratio, 15);
                    for (size_t k = 0; k < NSPLIT_KS; k++) {
                        const record *r =
                            find_variant(rep, i, d, t, CAND_SPLIT, (norm_kind)op, ctx->marked, split_ks[k]);
                        print_ratio(r ? r->vs_one_call : NAN, 14);
                    }
                    printf("\n");
                }
}

/* ---------------------------------------------------------------- CSV and JSON */

/* The type columns come last, so that readers of the f32-only files find their columns where they were,
 * and the mode's columns after them. rows_per_s_vs_f32 is empty except for library tiers; variant is
 * empty but for --gated (gate-after, gate-before), --int8 (static, dynamic) and --split (one-call, k=2,
 * ...); vs_unfused (unfused time / this time) is filled on the fused side of --fused, --gated and
 * --int8 lines, vs_one_call (this time / one call's) on --split's split lines; dist is x's
 * distribution (gauss unless --dist says otherwise). */
static const char *mode_name(const options *o)
{
    return o->fused ? "fused" : o->gated ? "gated" : o->int8 ? "int8" : o->split ? "split" : "plain";
}

/* What every CSV line and the JSON header carry about the run: filled in main. */
static struct {
    char cpu[256];
    const char *library_version, *default_tier, *kernels;
} run_meta;

/* A CSV field, quoted where it holds a comma, a quote or a line break (RFC 4180). */
static void csv_field(FILE *f, const char *s)
{
    if (!s[strcspn(s, ",\"\r\n")]) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* The columns after dist: the spread of the rounds, the record's tier (empty for references),
 * and the run's CPU, library version, default tier and the kernels it runs. */
static void write_csv_tail(FILE *f, const record *r)
{
    fprintf(f, ",%.3f,%.3f,%.3f,%s,", r->max, r->q1, r->q3, on_tier(r->kind) ? norm_isa_name(r->isa) : "");
    csv_field(f, run_meta.cpu);
    fprintf(f, ",%s,%s,%s", run_meta.library_version, run_meta.default_tier, run_meta.kernels);
}

static void write_csv(FILE *f, const report *rep, const options *o)
{
    fprintf(f, "shape,rows,n,op,impl,ns_per_row_median,ns_per_row_min,gbps,ratio_to_floor,floor_kind,is_default,"
               "x_type,y_type,param_type,rows_per_s_vs_f32,mode,variant,vs_unfused,vs_one_call,dist,"
               "ns_per_row_max,ns_per_row_q1,ns_per_row_q3,tier,cpu,library_version,default_tier,kernels\n");
    for (size_t i = 0; i < rep->count; i++) {
        const record *r = &rep->recs[i];
        fprintf(f, "%s,%zu,%zu,%s,%s,%.3f,%.3f,%.3f,%.4f,%s,%d,%s,%s,%s,", r->shape, r->rows, r->n, r->op, r->impl,
                r->median, r->min, r->gbps, r->ratio, r->floor_kind, r->is_default, dtype_name(r->types.x),
                dtype_name(r->types.y), dtype_name(r->types.param));
        if (!isnan(r->vs_f32))
            fprintf(f, "%.4f", r->vs_f32);
        fprintf(f, ",%s,%s,", mode_name(o), r->variant_name);
        if (!isnan(r->vs_unfused))
            fprintf(f, "%.4f", r->vs_unfused);
        fputc(',', f);
        if (!isnan(r->vs_one_call))
            fprintf(f, "%.4f", r->vs_one_call);
        fprintf(f, ",%s", dist_names[r->dist]);
        write_csv_tail(f, r);
        fputc('\n', f);
    }
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* A number, or null for NAN (a ratio that does not apply). */
static void json_number(FILE *f, double v)
{
    if (isnan(v))
        fprintf(f, "null");
    else
        fprintf(f, "%.4f", v);
}

static void write_json_record(FILE *f, const record *r)
{
    fprintf(f,
            "{\"shape\": \"%s\", \"rows\": %zu, \"n\": %zu, \"op\": \"%s\", \"impl\": \"%s\", "
            "\"x_type\": \"%s\", \"y_type\": \"%s\", \"param_type\": \"%s\", "
            "\"ns_per_row_median\": %.3f, \"ns_per_row_min\": %.3f, \"gbps\": %.3f, "
            "\"ratio_to_floor\": %.4f, \"floor_kind\": \"%s\", \"is_default\": %s, \"rows_per_s_vs_f32\": ",
            r->shape, r->rows, r->n, r->op, r->impl, dtype_name(r->types.x), dtype_name(r->types.y),
            dtype_name(r->types.param), r->median, r->min, r->gbps, r->ratio, r->floor_kind,
            r->is_default ? "true" : "false");
    json_number(f, r->vs_f32);
    fprintf(f, ", \"variant\": ");
    if (r->variant_name[0])
        json_string(f, r->variant_name);
    else
        fprintf(f, "null");
    fprintf(f, ", \"vs_unfused\": ");
    json_number(f, r->vs_unfused);
    fprintf(f, ", \"vs_one_call\": ");
    json_number(f, r->vs_one_call);
    fprintf(f, ", \"dist\": \"%s\", \"ns_per_row_max\": %.3f, \"ns_per_row_q1\": %.3f, \"ns_per_row_q3\": %.3f, "
               "\"tier\": ", dist_names[r->dist], r->max, r->q1, r->q3);
    if (on_tier(r->kind))
        json_string(f, norm_isa_name(r->isa));
    else
        fprintf(f, "null");
    fputc('}', f);
}

/* The kernels (the tier's variant), what NORM_ISA could not do, and the bench's version. */
static void write_json_meta(FILE *f)
{
    fprintf(f, "  \"kernels\": ");
    json_string(f, run_meta.kernels);
    fprintf(f, ",\n  \"env_warning\": ");
    if (norm_env_warning())
        json_string(f, norm_env_warning());
    else
        fprintf(f, "null");
    fprintf(f, ",\n  \"bench_version\": \"%d.%d.%d\",\n", NORM_VERSION_MAJOR, NORM_VERSION_MINOR,
            NORM_VERSION_PATCH);
}

static void write_json(FILE *f, const report *rep, const options *o, norm_isa default_isa, size_t llc)
{
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    fprintf(f, "{\n  \"library_version\": ");
    json_string(f, norm_version_string());
    fprintf(f, ",\n  \"cpu\": ");
    json_string(f, cpu);
    fprintf(f, ",\n  \"default_isa\": \"%s\",\n  \"llc_bytes\": %zu,\n  \"eps\": %g,\n  \"beta\": %s,\n  \"gamma\": %s,\n",
            norm_isa_name(default_isa), llc, (double)EPS, o->beta ? "true" : "false",
            o->no_gamma ? "false" : "true");
    write_json_meta(f);
    fprintf(f, "  \"fused\": %s,\n  \"mode\": \"%s\",\n", o->fused ? "true" : "false", mode_name(o));
    fprintf(f, "  \"types\": [");
    for (size_t i = 0; i < o->ntypes; i++)
        fprintf(f, "%s\"%s\"", i ? ", " : "", o->types[i].name);
    fprintf(f, "],\n  \"dists\": [");
    for (int d = 0, any = 0; d < NDISTS; d++)
        if (o->dist[d])
            fprintf(f, "%s\"%s\"", any++ ? ", " : "", dist_names[d]);
    fprintf(f, "],\n  \"results\": [");
    for (size_t i = 0; i < rep->count; i++) {
        fprintf(f, "%s\n    ", i ? "," : "");
        write_json_record(f, &rep->recs[i]);
    }
    fprintf(f, "\n  ]\n}\n");
}

/* "-": the data takes stdout, and the report (printf) goes to stderr from here on, so that
 * `norm-bench --csv - > results.csv` holds the CSV alone. One output at most can have it. */
static FILE *claim_stdout(void)
{
    static bool claimed;
    if (claimed)
        usage_error("only one of --csv, --json and --plot can be - (stdout)");
    claimed = true;
    fflush(stdout);
    int fd = dup(STDOUT_FILENO);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
        die("cannot take stdout for the data: %s", strerror(errno));
    return f;
}

/* Opened before the run, so a bad path fails in a second rather than after the benchmark. */
static FILE *open_output(const char *path)
{
    if (!path)
        return NULL;
    if (strcmp(path, "-") == 0)
        return claim_stdout();
    FILE *f = fopen(path, "w");
    if (!f)
        die("cannot write %s: %s", path, strerror(errno));
    return f;
}

static void close_output(FILE *f, const char *path)
{
    if (f && (ferror(f) | fclose(f)))
        die("error writing %s", path);
}

/* ---------------------------------------------------------------- spread warnings */

/* The floor record a line's ratio was taken against: same shape, distribution and types. */
static const record *floor_of(const report *rep, const record *r)
{
    for (size_t i = 0; i < rep->count; i++) {
        const record *f = &rep->recs[i];
        if (f->shape_index == r->shape_index && f->dist == r->dist && strcmp(f->types.name, r->types.name) == 0 &&
            strcmp(f->op, "floor") == 0 && strcmp(f->floor_kind, r->floor_kind) == 0)
            return f;
    }
    return NULL;
}

/* Every line (of every mode's tables) whose ratio to the floor the spread makes meaningless:
 * its rounds' interquartile range and its floor's, each over its median, add up to more than
 * SPREAD_MAX. A shared machine under load gives such lines (once a tier at 0.08x "the floor"). */
static void print_spread_warnings(const report *rep)
{
    int lines = 0;
    for (size_t i = 0; i < rep->count; i++) {
        const record *r = &rep->recs[i];
        const record *f = floor_of(rep, r);
        if (!f || f == r || strcmp(r->op, "floor") == 0)
            continue;
        double sr = rel_spread(r), sf = rel_spread(f);
        if (sr + sf <= SPREAD_MAX)
            continue;
        if (!lines++)
            printf("\nWarning: these ratios are not meaningful: the spread of the rounds (interquartile range over\n"
                   "the median) of the line and of its floor add up to more than %.0f%%. Rerun on a quieter\n"
                   "machine, or with more --rounds.\n", SPREAD_MAX * 100);
        printf("  %-12s %-14s %-8s %-16s %-14s %6.2fx the floor; spread %5.1f%%, floor's %5.1f%%\n", r->shape,
               r->types.name, dist_names[r->dist], r->op, r->impl, r->ratio, 100 * sr, 100 * sf);
    }
    if (lines)
        fprintf(stderr, "norm-bench: warning: %d ratio(s) not meaningful (spread over %.0f%%): see the end of "
                "the report\n", lines, SPREAD_MAX * 100);
}

/* ---------------------------------------------------------------- SVG */

/* --plot: GB/s per tier against the floor, drawn directly as SVG (no plotting program needed).
 * A panel per op (rmsnorm, layernorm, fused-rmsnorm, ...); in it a group per shape (and types
 * and distribution where there are several), each group's first bar its floor (grey, also a
 * dashed line across the group), then each implementation's bar, whiskers from the quartiles
 * of its rounds. Colours are per implementation, the same in every panel, with a legend. */
#define SVG_MAX_IMPLS 32

typedef struct svg_group {
    size_t first;       /* a record of the group, for its key */
    const record *floor;
} svg_group;

static bool same_group(const record *a, const record *b)
{
    return a->shape_index == b->shape_index && a->dist == b->dist && strcmp(a->types.name, b->types.name) == 0;
}

static void impl_label(const record *r, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s", r->impl, r->variant_name[0] ? " " : "", r->variant_name);
}

static void svg_text(FILE *f, const char *s)
{
    for (; *s; s++)
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else
            fputc(*s, f);
}

static void write_svg(FILE *f, const report *rep, const options *o)
{
    static const char *const palette[] = { "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2",
                                           "#edc948", "#ff9da7", "#9c755f", "#bab0ac" };
    enum { BAR = 14, GAP = 18, PANEL_H = 220, TOP = 70, LEFT = 60, RIGHT = 20, LABEL_H = 50 };
    char impls[SVG_MAX_IMPLS][48];
    size_t nimpls = 0;
    const char *ops[64];
    size_t nops = 0;
    for (size_t i = 0; i < rep->count; i++) {
        const record *r = &rep->recs[i];
        if (strcmp(r->op, "floor") == 0 || strcmp(r->op, "ref") == 0)
            continue;
        size_t k = 0;
        while (k < nops && strcmp(ops[k], r->op) != 0)
            k++;
        if (k == nops && nops < 64)
            ops[nops++] = r->op;
        char label[48];
        impl_label(r, label, sizeof label);
        for (k = 0; k < nimpls && strcmp(impls[k], label) != 0; k++)
            ;
        if (k == nimpls && nimpls < SVG_MAX_IMPLS)
            snprintf(impls[nimpls++], sizeof impls[0], "%s", label);
    }
    /* The widest panel sets the picture's width. */
    size_t width = 400;
    for (size_t k = 0; k < nops; k++) {
        size_t w = LEFT + RIGHT, bars = 0;
        for (size_t i = 0; i < rep->count; i++) {
            const record *r = &rep->recs[i];
            bool first = true;
            for (size_t j = 0; j < i; j++)
                first &= !(strcmp(rep->recs[j].op, ops[k]) == 0 && same_group(&rep->recs[j], r));
            if (strcmp(r->op, ops[k]) == 0) {
                bars++;
                if (first)
                    w += GAP + BAR; /* the group's floor bar and its gap */
            }
        }
        w += bars * BAR;
        width = w > width ? w : width;
    }
    size_t height = TOP + nops * (PANEL_H + LABEL_H + 30) + 10;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%zu\" height=\"%zu\" font-family=\"sans-serif\" "
               "font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", width, height);
    fprintf(f, "<text x=\"%d\" y=\"18\" font-size=\"14\">libnorm %s on ", LEFT, run_meta.library_version);
    svg_text(f, run_meta.cpu);
    fprintf(f, " (default tier %s, kernels %s): GB/s, median and quartiles of the rounds; grey = floor</text>\n",
            run_meta.default_tier, run_meta.kernels);
    /* Legend. */
    size_t lx = LEFT;
    fprintf(f, "<rect x=\"%zu\" y=\"30\" width=\"10\" height=\"10\" fill=\"#999\"/><text x=\"%zu\" y=\"39\">floor</text>\n",
            lx, lx + 14);
    lx += 60;
    for (size_t k = 0; k < nimpls; k++) {
        fprintf(f, "<rect x=\"%zu\" y=\"30\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%zu\" y=\"39\">", lx,
                palette[k % 10], lx + 14);
        svg_text(f, impls[k]);
        fprintf(f, "</text>\n");
        lx += 20 + 7 * strlen(impls[k]);
    }
    for (size_t k = 0; k < nops; k++) {
        double top = TOP + (double)k * (PANEL_H + LABEL_H + 30), base = top + PANEL_H;
        double max = 0;
        for (size_t i = 0; i < rep->count; i++) {
            const record *r = &rep->recs[i];
            if (strcmp(r->op, ops[k]) != 0)
                continue;
            const record *fl = floor_of(rep, r);
            double hi = r->q1 > 0 ? r->gbps * r->median / r->q1 : r->gbps;
            max = hi > max ? hi : max;
            if (fl)
                max = fl->gbps > max ? fl->gbps : max;
        }
        if (max <= 0)
            max = 1;
        max *= 1.1;
        fprintf(f, "<text x=\"%d\" y=\"%.0f\" font-size=\"13\" font-weight=\"bold\">%s</text>\n", LEFT, top - 6, ops[k]);
        /* Axis and gridlines: 5 steps. */
        for (int g = 0; g <= 5; g++) {
            double v = max * g / 5, y = base - PANEL_H * g / 5.0;
            fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%zu\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                       "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n",
                    LEFT, y, width - RIGHT, y, LEFT - 4, y + 4, v);
        }
        fprintf(f, "<text x=\"12\" y=\"%.0f\" transform=\"rotate(-90 12 %.0f)\" text-anchor=\"middle\">GB/s</text>\n",
                top + PANEL_H / 2.0, top + PANEL_H / 2.0);
        double x = LEFT + GAP / 2.0;
        for (size_t i = 0; i < rep->count; i++) {
            const record *r = &rep->recs[i];
            if (strcmp(r->op, ops[k]) != 0)
                continue;
            bool first = true;
            for (size_t j = 0; j < i; j++)
                first &= !(strcmp(rep->recs[j].op, ops[k]) == 0 && same_group(&rep->recs[j], r));
            if (!first)
                continue;
            /* A new group: the floor, then every record of this op in the group. */
            double gx = x;
            const record *fl = floor_of(rep, r);
            double fh = fl ? PANEL_H * fl->gbps / max : 0;
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"#999\"><title>floor (%s): "
                       "%.2f GB/s</title></rect>\n", x, base - fh, BAR - 2, fh, fl ? fl->floor_kind : "-",
                    fl ? fl->gbps : 0.0);
            x += BAR;
            for (size_t j = i; j < rep->count; j++) {
                const record *b = &rep->recs[j];
                if (strcmp(b->op, ops[k]) != 0 || !same_group(b, r))
                    continue;
                char label[48];
                impl_label(b, label, sizeof label);
                size_t c = 0;
                while (c < nimpls && strcmp(impls[c], label) != 0)
                    c++;
                double h = PANEL_H * b->gbps / max;
                double lo = b->q3 > 0 ? PANEL_H * b->gbps * b->median / b->q3 / max : h;
                double hi = b->q1 > 0 ? PANEL_H * b->gbps * b->median / b->q1 / max : h;
                fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\"><title>", x, base - h,
                        BAR - 2, h, palette[c % 10]);
                svg_text(f, label);
                fprintf(f, ": %.2f GB/s, %.2fx the floor's time</title></rect>\n", b->gbps, b->ratio);
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", x + BAR / 2.0 - 1,
                        base - lo, x + BAR / 2.0 - 1, base - hi);
                x += BAR;
            }
            if (fl)
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\" "
                           "stroke-dasharray=\"4 3\"/>\n", gx, base - fh, x - 2, base - fh);
            char name[96];
            snprintf(name, sizeof name, "%s%s%s%s%s", r->shape, o->ntypes > 1 ? " " : "",
                     o->ntypes > 1 ? r->types.name : "", o->ndists > 1 ? " " : "", o->ndists > 1 ? dist_names[r->dist] : "");
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (gx + x) / 2, base + 14);
            svg_text(f, name);
            fprintf(f, "</text>\n");
            x += GAP;
        }
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%zu\" y2=\"%.1f\" stroke=\"black\"/>\n", LEFT, base, width - RIGHT,
                base);
    }
    fprintf(f, "</svg>\n");
}

/* ---------------------------------------------------------------- short rows (--short) */

/* One side of the --short comparison: the library's dense call or the native loop. */
typedef struct short_side {
    norm_status (*lib)(float *, const float *, const float *, const float *, size_t, size_t, float);
    void (*loop)(float *, const float *, const float *, const float *, size_t, size_t, float);
    size_t iters;
    double ns_call[1000]; /* per round (--rounds is at most 1000) */
    double median, q1, q3;
} short_side;

/* iters calls, ns per call; a library call that fails counts in *bad. A chained side is given
 * y == x: each call normalises the row the call before wrote, in place, so that it waits for
 * it, as a model's norm waits for the layer before it (gamma ones, beta zeros or none, so the
 * row stays what it is: its mean square settles at 1 - eps). */
static double short_time(const short_side *s, float *y, const float *x, const float *gamma, const float *beta,
                         size_t rows, size_t n, int *bad)
{
    int status = 0;
    double t0 = now_s();
    if (s->lib)
        for (size_t i = 0; i < s->iters; i++)
            status |= s->lib(y, x, gamma, beta, rows, n, EPS) != NORM_OK;
    else
        for (size_t i = 0; i < s->iters; i++)
            s->loop(y, x, gamma, beta, rows, n, EPS);
    double t = now_s() - t0;
    *bad += status;
    return t * 1e9 / (double)s->iters;
}

static void short_calibrate(short_side *s, float *y, const float *x, const float *gamma, const float *beta,
                            size_t rows, size_t n, double min_s, int *bad)
{
    s->iters = 1;
    for (;;) {
        double ns = short_time(s, y, x, gamma, beta, rows, n, bad);
        if (ns * 1e-9 * (double)s->iters >= min_s || s->iters >= ((size_t)1 << 40))
            break;
        double want = min_s / (ns * 1e-9 > 0 ? ns * 1e-9 : 1e-9) * 1.2;
        s->iters = want > (double)s->iters * 10 ? s->iters * 10 : (size_t)want + 1;
    }
}

static void short_summarise(short_side *s, int rounds)
{
    qsort(s->ns_call, (size_t)rounds, sizeof *s->ns_call, cmp_double);
    s->median = quantile(s->ns_call, rounds, 0.5);
    s->q1 = quantile(s->ns_call, rounds, 0.25);
    s->q3 = quantile(s->ns_call, rounds, 0.75);
}

static double short_spread(const short_side *s) { return s->median > 0 ? (s->q3 - s->q1) / s->median : 0; }

/* max |a - b| / max |b|: how far the library's y is from the loop's, relative to the row's scale
 * (an element's own relative difference means nothing where y crosses zero). */
static double short_difference(const float *a, const float *b, size_t count)
{
    double diff = 0, scale = 0;
    for (size_t i = 0; i < count; i++) {
        double d = fabs((double)a[i] - (double)b[i]), m = fabs((double)b[i]);
        diff = d > diff ? d : diff;
        scale = m > scale ? m : scale;
    }
    return scale > 0 ? diff / scale : diff;
}

/* One timing of --short: the library's side and the loop's, in alternating rounds, on
 * y and x (the same buffer, one per side, for a chained timing). */
static void short_pair(const options *o, short_side side[2], float *y[2], float *x[2], const float *gamma,
                       const float *beta, shape sh, int *bad)
{
    for (int k = 0; k < 2; k++)
        short_calibrate(&side[k], y[k], x[k], gamma, beta, sh.rows, sh.n, o->min_ms * 1e-3, bad);
    for (int r = 0; r < o->rounds; r++)
        for (int k = 0; k < 2; k++)
            side[k].ns_call[r] = short_time(&side[k], y[k], x[k], gamma, beta, sh.rows, sh.n, bad);
    for (int k = 0; k < 2; k++)
        short_summarise(&side[k], o->rounds);
}

/* --short: per shape and op, the library's dense f32 call and the native loop timed in alternating
 * rounds (library, loop, library, loop, ...), their outputs compared; then the same calls
 * chained, each on the row the one before wrote. Returns the exit status. */
static int short_run(const options *o)
{
    static const char *const targets[] = { "1x288", "1x512", "1x1024" };
    double target_ratio[2][3] = { { NAN, NAN, NAN }, { NAN, NAN, NAN } };
    char cpu[128];
    cpu_model(cpu, sizeof cpu);
    printf("norm-bench --short: libnorm %s, tier %s (%s), CPU %s\n", norm_version_string(), norm_active_isa_name(),
           norm_active_variant_name(), cpu);
    printf("One dense f32 call per shape against the plain loop built -O3 -ffast-math for the widest ISA\n"
           "this CPU runs (as -march=native would): RMSNorm with gamma, LayerNorm with gamma and beta;\n"
           "%d alternating rounds (library, loop, ...), samples of >= %.1f ms; ns per call, median and\n"
           "spread (interquartile range / median; '~' where the two spreads add up to over %.0f%%).\n"
           "'apart': calls on the same x, independent of each other, so that one call's tail overlaps\n"
           "the next one's start; 'chained': each call normalises, in place, the row the call before\n"
           "wrote (gamma ones, beta zeros), and waits for it, as a model's norm waits for its layer.\n\n",
           o->rounds, o->min_ms, SPREAD_MAX * 100);
    printf("%-10s %-9s %-7s %12s %7s %12s %7s %13s %10s\n", "shape", "op", "calls", "lib ns/call", "spread",
           "loop ns/call", "spread", "lib / loop", "y differs");

    int failures = 0, flagged = 0;
    for (size_t si = 0; si < o->nshapes; si++) {
        shape sh = o->shapes[si];
        size_t count = sh.rows * sh.n;
        float *x = alloc_floats(count), *gamma = alloc_floats(sh.n), *beta = alloc_floats(sh.n);
        float *y_lib = alloc_floats(count), *y_loop = alloc_floats(count);
        float *ones = alloc_floats(sh.n), *zeros = alloc_floats(sh.n);
        float *chain[2] = { alloc_floats(count), alloc_floats(count) };
        if (!x || !gamma || !beta || !y_lib || !y_loop || !ones || !zeros || !chain[0] || !chain[1])
            die("out of memory for %zux%zu", sh.rows, sh.n);
        for (size_t i = 0; i < sh.n; i++)
            ones[i] = 1.0f, zeros[i] = 0.0f;
        uint64_t seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t)count;
        for (size_t i = 0; i < count; i++)
            x[i] = rng_normalish(&seed);
        for (size_t i = 0; i < sh.n; i++) {
            gamma[i] = 1.0f + 0.1f * rng_uniform(&seed);
            beta[i] = rng_uniform(&seed);
        }
        char name[48];
        snprintf(name, sizeof name, "%zux%zu", sh.rows, sh.n);
        for (int op = 0; op < 2; op++) {
            if (!o->op[op])
                continue;
            bool rms = op == NORM_RMSNORM;
            const float *b = rms ? NULL : beta;
            short_side side[2] = {
                { .lib = rms ? norm_rmsnorm_f32 : norm_layernorm_f32 },
                { .loop = rms ? ref_rmsnorm_native : ref_layernorm_native },
            };
            int bad = 0;
            float *ys[2] = { y_lib, y_loop }, *xs[2] = { x, x };
            short_pair(o, side, ys, xs, gamma, b, sh, &bad);
            short_side chained[2] = { side[0], side[1] };
            memcpy(chain[0], x, count * sizeof *x);
            memcpy(chain[1], x, count * sizeof *x);
            short_pair(o, chained, chain, chain, ones, rms ? NULL : zeros, sh, &bad);

            /* Once more on cleared outputs, so the comparison is of this call's results. */
            memset(y_lib, 0, count * sizeof *y_lib);
            memset(y_loop, 0, count * sizeof *y_loop);
            bad += side[0].lib(y_lib, x, gamma, b, sh.rows, sh.n, EPS) != NORM_OK;
            side[1].loop(y_loop, x, gamma, b, sh.rows, sh.n, EPS);
            double diff = short_difference(y_lib, y_loop, count);
            if (bad || !(diff < SHORT_AGREE)) {
                fprintf(stderr, "norm-bench: MISMATCH %s %s: %s (max |lib - loop| / max |loop| = %.3g, limit %g)\n",
                        name, op_name((norm_kind)op), bad ? "a library call failed" : "outputs differ", diff,
                        SHORT_AGREE);
                failures++;
            }

            for (int c = 0; c < 2; c++) {
                const short_side *sd = c ? chained : side;
                double ratio = sd[0].median / sd[1].median;
                bool wide = short_spread(&sd[0]) + short_spread(&sd[1]) > SPREAD_MAX;
                flagged += wide;
                printf("%-10s %-9s %-7s %12.1f %6.1f%% %12.1f %6.1f%% %12.2fx%s ", name, op_name((norm_kind)op),
                       c ? "chained" : "apart", sd[0].median, 100 * short_spread(&sd[0]), sd[1].median,
                       100 * short_spread(&sd[1]), ratio, wide ? "~" : " ");
                if (c)
                    printf("%10s\n", "");
                else
                    printf("%10.1e\n", diff);
                for (int t = 0; t < 3; t++)
                    if (rms && strcmp(name, targets[t]) == 0)
                        target_ratio[c][t] = ratio;
            }
        }
        free(x), free(gamma), free(beta), free(y_lib), free(y_loop);
        free(ones), free(zeros), free(chain[0]), free(chain[1]);
    }

    /* The target is RMSNorm's; LayerNorm is reported beside it. */
    bool all = true, met = true;
    printf("\nTarget (issue #13 item 4): library no slower than the native loop (ratio <= 1.00) on 1x288,\n"
           "1x512, 1x1024, dense f32 RMSNorm, calls apart and chained, judged on the worse:\n");
    for (int c = 0; c < 2; c++) {
        printf("  %-8s", c ? "chained" : "apart");
        for (int t = 0; t < 3; t++) {
            if (isnan(target_ratio[c][t])) {
                all = false;
                printf(" %s not timed%s", targets[t], t < 2 ? "," : "");
                continue;
            }
            met &= target_ratio[c][t] <= 1.00;
            printf(" %s %.2fx%s", targets[t], target_ratio[c][t], t < 2 ? "," : "");
        }
        printf("\n");
    }
    printf("  -> %s\n", !all ? "not judged (run the three shapes)" : met ? "met" : "NOT met");
    if (flagged)
        printf("%d line(s) flagged ~: their spread is too wide for the ratio to mean much; rerun on a quieter "
               "machine.\n", flagged);
    if (failures) {
        fprintf(stderr, "\nnorm-bench: FAILED: %d comparison(s) of the library with the loop disagree beyond %g, or\n"
                        "a library call failed; the timings above are not a fair comparison.\n",
                failures, SHORT_AGREE);
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    options opt = {0};
    parse_args(&opt, argc, argv);
    if (opt.scaling) {
#ifdef NORM_BENCH_SCALING
        return scaling_run(opt.scaling_shapes, opt.threads == NORM_THREADS_AUTO ? 0 : opt.threads, opt.rounds,
                           opt.min_ms);
#else
        usage_error("--scaling needs pthreadpool, which this build was made without");
#endif
    }
    /* --threads: every library call of the reports below (norm_run's params leave threads 0,
     * and the dense calls take the process default) runs on that many threads; the floors and
     * the plain C loops stay on one. */
    if (opt.threads && norm_set_default_threads(opt.threads) != NORM_OK)
        usage_error("--threads: %s", norm_status_string(NORM_ERR_BAD_ARGUMENT));
    if (opt.short_rows)
        return short_run(&opt);
    FILE *csv = open_output(opt.csv_path), *json = open_output(opt.json_path);
    FILE *plot = open_output(opt.plot_path);
    cpu_model(run_meta.cpu, sizeof run_meta.cpu);
    run_meta.library_version = norm_version_string();
    run_meta.default_tier = norm_active_isa_name();
    run_meta.kernels = norm_active_variant_name();
    progress_start(&opt);

    norm_isa default_isa = norm_active_isa(); /* before any norm_set_max_isa() */
    bool llc_sysconf;
    context ctx = { .opt = &opt, .llc = last_level_cache(&llc_sysconf) };
    ctx.marked = opt.isa[default_isa] ? default_isa : best_selected(&opt);
    print_header(&opt, default_isa, ctx.marked, ctx.llc, llc_sysconf);
    fflush(stdout);

    double t0 = now_s();
    for (size_t i = 0; i < opt.nshapes; i++)
        bench_shape(&ctx, i);
    select_isa(default_isa);
    bool plain = !opt.fused && !opt.gated && !opt.int8 && !opt.split;
    if (opt.fused)
        print_fused_summary(&ctx);
    else if (opt.gated)
        print_gated_summary(&ctx);
    else if (opt.int8)
        print_int8_summary(&ctx);
    else if (opt.split)
        print_split_summary(&ctx);
    else
        print_summary(&ctx);
    if (plain)
        print_targets(&ctx);
    if (opt.ntypes > 1 && plain)
        print_vs_f32(&ctx);
    if (opt.half_report)
        print_half_report(&ctx);
    print_spread_warnings(&ctx.rep);
    printf("\nTotal time %.1f s.\n", now_s() - t0);

    if (csv)
        write_csv(csv, &ctx.rep, &opt);
    if (json)
        write_json(json, &ctx.rep, &opt, default_isa, ctx.llc);
    if (plot)
        write_svg(plot, &ctx.rep, &opt);
    close_output(csv, opt.csv_path);
    close_output(json, opt.json_path);
    close_output(plot, opt.plot_path);
    free(ctx.rep.recs);

    if (ctx.failures) {
        fprintf(stderr,
                "\nnorm-bench: FAILED: %d output(s) disagree with the scalar tier beyond %g (plus 1 ulp for\n"
                "f16/bf16 outputs); the timings above are of wrong results. See the MISMATCH lines.\n",
                ctx.failures, CHECK_TOL);
        return 1;
    }
    return 0;
}
