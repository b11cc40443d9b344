/*
 * norm-bench: how fast is each libnorm tier, and how close does it come to the floor?
 *
 * For every shape it times, in one process and interleaved round by round, the floor
 * references, a plain C loop and every ISA tier this CPU can run, each selected with
 * norm_set_max_isa() and then called through the public API (what users get). Medians
 * are reported, and ratios to the floor: the machine may be shared and its clock varies,
 * so absolute times drift, while ratios measured side by side do not (much).
 *
 * After timing a shape it checks every tier's output against the scalar tier's, so a fast
 * wrong kernel fails the run instead of topping the table.
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

#include "norm.h"
#include "reference.h"

#define EPS 1e-6f
#define CHECK_TOL 1e-4           /* relative tolerance of the tier-vs-scalar check */
#define MAX_SHAPES 64
#define DEFAULT_ROUNDS 21
#define DEFAULT_MIN_MS 4.0       /* a sample shorter than a few ms is mostly timer and noise */
#define QUICK_ROUNDS 3
#define QUICK_MIN_MS 1.0
#define MIN_ROUNDS 5             /* never fewer, however slow a shape is (unless --rounds says so) */
#define SHAPE_BUDGET_S 10.0      /* rounds are cut to fit this, for shapes where one call is long */
#define FALLBACK_LLC ((size_t)32 << 20)
#define ALIGN 64

static const char *const default_shapes = "1x4096,16x4096,1x8192,4096x128,2048x1024,8192x8192";
static const char *const quick_shapes = "1x4096,16x4096,1x8192,4096x128";

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
        "  --beta            also add a beta shift (default: gamma only)\n"
        "  --rounds N        timing rounds per shape; the median is reported\n"
        "                    (default %d, fewer for shapes too slow to fit %.0f s)\n"
        "  --min-ms M        shortest timed sample, in ms (default %.0f)\n"
        "  --csv FILE        also write the results as CSV\n"
        "  --json FILE       also write the results as JSON\n"
        "  --quick           %d rounds of %.0f ms, small shapes only (%s)\n"
        "  --help            show this and exit\n",
        default_shapes, DEFAULT_ROUNDS, SHAPE_BUDGET_S, DEFAULT_MIN_MS, QUICK_ROUNDS, QUICK_MIN_MS,
        quick_shapes);
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

typedef struct options {
    shape shapes[MAX_SHAPES];
    size_t nshapes;
    bool isa[NORM_ISA_COUNT];    /* tiers to time */
    bool op[2];                  /* indexed by norm_kind */
    bool beta;
    int rounds;
    bool rounds_given;
    double min_ms;
    const char *csv_path, *json_path;
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

static void list_available(char *buf, size_t size)
{
    buf[0] = '\0';
    for (int t = 0; t < NORM_ISA_COUNT; t++)
        if (norm_isa_available((norm_isa)t)) {
            size_t used = strlen(buf);
            snprintf(buf + used, size - used, "%s%s", used ? " " : "", norm_isa_name((norm_isa)t));
        }
}

static norm_isa isa_by_name(const char *name)
{
    for (int t = 0; t < NORM_ISA_COUNT; t++)
        if (strcmp(name, norm_isa_name((norm_isa)t)) == 0)
            return (norm_isa)t;
    return NORM_ISA_COUNT;
}

static void parse_isas(options *o, const char *list)
{
    char *copy = strdup(list), available[128];
    if (!copy)
        die("out of memory");
    list_available(available, sizeof available);
    memset(o->isa, 0, sizeof o->isa);
    for (char *save, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        norm_isa t = isa_by_name(tok);
        if (t == NORM_ISA_COUNT)
            usage_error("unknown ISA '%s' (known: scalar sse2 avx2 avx512 neon)", tok);
        if (!norm_isa_available(t))
            usage_error("ISA '%s' cannot run here (available: %s)", tok, available);
        o->isa[t] = true;
    }
    free(copy);
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

/* Does argv[i] name this option, alone or as --name=value? */
static bool is_option(const char *arg, const char *name)
{
    size_t len = strlen(name);
    return strncmp(arg, name, len) == 0 && (arg[len] == '\0' || arg[len] == '=');
}

static void parse_args(options *o, int argc, char **argv)
{
    bool quick = false, shapes_given = false, min_ms_given = false;
    const char *shapes = default_shapes;
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
        } else if (strcmp(a, "--quick") == 0) {
            quick = true;
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
        } else if (is_option(a, "--csv")) {
            o->csv_path = option_value(argc, argv, &i, "--csv");
        } else if (is_option(a, "--json")) {
            o->json_path = option_value(argc, argv, &i, "--json");
        } else {
            usage_error("unknown argument '%s'", a);
        }
    }
    if (quick) {
        if (!shapes_given)
            shapes = quick_shapes;
        if (!o->rounds_given)
            o->rounds = QUICK_ROUNDS;
        if (!min_ms_given)
            o->min_ms = QUICK_MIN_MS;
    }
    parse_shapes(o, shapes);
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

typedef struct workload {
    size_t rows, n;
    float *x, *y, *gamma, *beta; /* beta is NULL unless --beta */
    void *blocks[4];             /* what to free */
} workload;

/*
 * Where each buffer starts within a 4 KiB page. x86 cores guess whether a load depends on
 * an earlier store from the low 12 address bits alone ("4K aliasing"): if y sat just above
 * x modulo 4 KiB, every load of x would seem to hit the stores to y a few vectors back
 * and stall, and the timings would depend on where malloc happened to put the buffers.
 * Fixed offsets make runs comparable; y just below x never aliases (the loads run ahead).
 */
enum { X_OFFSET = 0, Y_OFFSET = 4096 - 256, GAMMA_OFFSET = 1024, BETA_OFFSET = 2048 };

static float *alloc_floats_at(size_t count, size_t page_offset, void **block)
{
    size_t bytes = (page_offset + count * sizeof(float) + 4095) / 4096 * 4096;
    char *p = aligned_alloc(4096, bytes);
    *block = p;
    if (!p)
        return NULL;
    memset(p, 0, bytes); /* fault the pages in now, not inside a timed call */
    return (float *)(p + page_offset);
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

static void free_workload(workload *w)
{
    for (int i = 0; i < 4; i++)
        free(w->blocks[i]);
    memset(w, 0, sizeof *w);
}

static bool make_workload(workload *w, shape s, bool beta)
{
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    size_t count = s.rows * s.n;
    *w = (workload){ .rows = s.rows, .n = s.n };
    w->x = alloc_floats_at(count, X_OFFSET, &w->blocks[0]);
    w->y = alloc_floats_at(count, Y_OFFSET, &w->blocks[1]);
    w->gamma = alloc_floats_at(s.n, GAMMA_OFFSET, &w->blocks[2]);
    w->beta = beta ? alloc_floats_at(s.n, BETA_OFFSET, &w->blocks[3]) : NULL;
    if (!w->x || !w->y || !w->gamma || (beta && !w->beta)) {
        free_workload(w);
        return false;
    }
    for (size_t i = 0; i < count; i++)
        w->x[i] = rng_normalish(&seed);
    for (size_t i = 0; i < s.n; i++) {
        w->gamma[i] = 1.0f + 0.1f * rng_uniform(&seed); /* near 1, like a trained scale */
        if (w->beta)
            w->beta[i] = 0.1f * rng_uniform(&seed);
    }
    return true;
}

/* ---------------------------------------------------------------- candidates */

typedef enum cand_kind {
    CAND_READ_SCALE, /* floor reference: read pass + y = x*gamma */
    CAND_MEMCPY,     /* floor reference: memcpy x -> y */
    CAND_PLAIN,      /* plain C loop (reference.c) */
    CAND_LIB         /* libnorm's public API on one tier */
} cand_kind;

typedef struct candidate {
    cand_kind kind;
    norm_kind op;    /* CAND_PLAIN, CAND_LIB */
    norm_isa isa;    /* CAND_LIB */
    size_t iters;    /* calls per timed sample, from calibration */
    double call_s;   /* calibrated time of one call */
    double *ns_row;  /* one sample per round */
    double median, min;
} candidate;

static const char *op_name(norm_kind op) { return op == NORM_RMSNORM ? "rmsnorm" : "layernorm"; }

static const char *impl_name(const candidate *c)
{
    switch (c->kind) {
    case CAND_READ_SCALE: return "read+x*gamma";
    case CAND_MEMCPY: return "memcpy";
    case CAND_PLAIN: return "plain-C";
    case CAND_LIB: return norm_isa_name(c->isa);
    }
    return "?";
}

static void select_isa(norm_isa isa)
{
    norm_status st = norm_set_max_isa(isa);
    if (st != NORM_OK)
        die("norm_set_max_isa(%s): %s", norm_isa_name(isa), norm_status_string(st));
}

static norm_status run_once(const candidate *c, const workload *w)
{
    switch (c->kind) {
    case CAND_READ_SCALE:
        ref_floor_read_scale(w->y, w->x, w->gamma, w->rows, w->n);
        return NORM_OK;
    case CAND_MEMCPY:
        ref_floor_memcpy(w->y, w->x, w->rows, w->n);
        return NORM_OK;
    case CAND_PLAIN:
        (c->op == NORM_RMSNORM ? ref_rmsnorm_plain : ref_layernorm_plain)(w->y, w->x, w->gamma, w->beta,
                                                                        w->rows, w->n, EPS);
        return NORM_OK;
    case CAND_LIB:
        return (c->op == NORM_RMSNORM ? norm_rmsnorm_f32 : norm_layernorm_f32)(w->y, w->x, w->gamma, w->beta,
                                                                             w->rows, w->n, EPS);
    }
    return NORM_ERR_BAD_ARGUMENT;
}

/* Seconds for `iters` back-to-back calls. */
static double time_calls(const candidate *c, const workload *w, size_t iters)
{
    if (c->kind == CAND_LIB)
        select_isa(c->isa); /* outside the timed region: users pay for this once, not per call */
    norm_status worst = NORM_OK;
    double t0 = now_s();
    for (size_t i = 0; i < iters; i++) {
        norm_status st = run_once(c, w);
        if (st != NORM_OK)
            worst = st;
    }
    double t = now_s() - t0;
    if (worst != NORM_OK)
        die("%s %s failed: %s", c->kind == CAND_LIB ? op_name(c->op) : "reference", impl_name(c),
            norm_status_string(worst));
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

/* Floor references first, then for each op the plain loop and the tiers in ladder order. */
static size_t build_candidates(candidate *c, const options *o)
{
    size_t count = 0;
    c[count++] = (candidate){ .kind = CAND_READ_SCALE };
    c[count++] = (candidate){ .kind = CAND_MEMCPY };
    for (int op = 0; op < 2; op++) {
        if (!o->op[op])
            continue;
        c[count++] = (candidate){ .kind = CAND_PLAIN, .op = (norm_kind)op };
        for (int t = 0; t < NORM_ISA_COUNT; t++)
            if (o->isa[t])
                c[count++] = (candidate){ .kind = CAND_LIB, .op = (norm_kind)op, .isa = (norm_isa)t };
    }
    return count;
}

/* ---------------------------------------------------------------- measurement */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void summarise(candidate *c, int rounds)
{
    qsort(c->ns_row, (size_t)rounds, sizeof *c->ns_row, cmp_double);
    c->min = c->ns_row[0];
    c->median = rounds % 2 ? c->ns_row[rounds / 2] : 0.5 * (c->ns_row[rounds / 2 - 1] + c->ns_row[rounds / 2]);
}

/* As many rounds as asked, unless a round is so slow (huge shapes) that they would not fit
 * the shape's time budget; an explicit --rounds is always honoured. */
static int choose_rounds(const options *o, const candidate *c, size_t count)
{
    if (o->rounds_given)
        return o->rounds;
    double round_s = 0;
    for (size_t k = 0; k < count; k++)
        round_s += c[k].call_s * (double)c[k].iters;
    if (round_s * o->rounds <= SHAPE_BUDGET_S)
        return o->rounds;
    int affordable = (int)(SHAPE_BUDGET_S / round_s); /* < o->rounds here, so no overflow */
    return affordable > MIN_ROUNDS ? affordable : MIN_ROUNDS;
}

/* Each round times every candidate once, so a slow spell on the shared machine hits all of
 * them rather than whichever happened to run then. The starting candidate rotates, so none
 * always follows the same neighbour (whose cache and clock state it would inherit). */
static int measure(candidate *c, size_t count, const workload *w, const options *o)
{
    for (size_t k = 0; k < count; k++)
        calibrate(&c[k], w, o->min_ms * 1e-3);
    int rounds = choose_rounds(o, c, count);
    for (size_t k = 0; k < count; k++)
        if (!(c[k].ns_row = malloc((size_t)rounds * sizeof *c[k].ns_row)))
            die("out of memory");
    for (int r = 0; r < rounds; r++)
        for (size_t i = 0; i < count; i++) {
            candidate *cur = &c[(i + (size_t)r) % count];
            double t = time_calls(cur, w, cur->iters);
            cur->ns_row[r] = t * 1e9 / ((double)cur->iters * (double)w->rows);
        }
    for (size_t k = 0; k < count; k++)
        summarise(&c[k], rounds);
    return rounds;
}

/* ---------------------------------------------------------------- correctness check */

/* Normalised outputs are of order |gamma| ~ 1, so errors are measured relative to
 * max(|want|, 1): relative for large values, and relative to the row's scale near zero,
 * where an element's own relative error means nothing. NaN fails too. */
static bool close_enough(float got, float want, double *err)
{
    double scale = fabs((double)want) > 1.0 ? fabs((double)want) : 1.0;
    *err = fabs((double)got - (double)want) / scale;
    return *err <= CHECK_TOL;
}

/* Compares y with want; prints the first mismatch. */
static bool outputs_match(const candidate *c, const workload *w, const float *want, const char *shape_name)
{
    size_t count = w->rows * w->n, bad = 0, first = 0;
    double worst = 0;
    for (size_t i = 0; i < count; i++) {
        double err;
        if (!close_enough(w->y[i], want[i], &err)) {
            if (bad++ == 0)
                first = i;
            if (!(err <= worst))
                worst = err;
        }
    }
    if (bad)
        fprintf(stderr,
                "norm-bench: MISMATCH on %s: %s %s differs from the scalar tier in %zu of %zu outputs\n"
                "            (first at row %zu col %zu: %.9g, scalar %.9g; worst relative error %.3g > %g)\n",
                shape_name, op_name(c->op), impl_name(c), bad, count, first / w->n, first % w->n,
                (double)w->y[first], (double)want[first], worst, CHECK_TOL);
    return bad == 0;
}

/* Runs every norm candidate once more and compares it with the scalar tier, which is the
 * library's oracle. Returns the number of candidates that disagree. */
static int check_outputs(const candidate *c, size_t count, const workload *w, const char *shape_name)
{
    float *want = alloc_floats(w->rows * w->n);
    if (!want)
        die("cannot allocate the check buffer for %s", shape_name);
    int failures = 0;
    for (int op = 0; op < 2; op++) {
        candidate scalar = { .kind = CAND_LIB, .op = (norm_kind)op, .isa = NORM_ISA_SCALAR };
        bool computed = false;
        for (size_t k = 0; k < count; k++) {
            if ((c[k].kind != CAND_PLAIN && c[k].kind != CAND_LIB) || c[k].op != (norm_kind)op)
                continue;
            if (!computed) {
                time_calls(&scalar, w, 1);
                memcpy(want, w->y, w->rows * w->n * sizeof *want);
                computed = true;
            }
            memset(w->y, 0xff, w->rows * w->n * sizeof *w->y); /* NaNs: a kernel that writes nothing fails */
            time_calls(&c[k], w, 1);
            failures += !outputs_match(&c[k], w, want, shape_name);
        }
    }
    free(want);
    return failures;
}

/* ---------------------------------------------------------------- results */

typedef struct record {
    char shape[48];
    size_t rows, n;
    const char *op, *impl, *floor_kind;
    double median, min, gbps, ratio;
    bool is_default;
} record;

typedef struct report {
    record *recs;
    size_t count, cap;
    bool memcpy_floor[MAX_SHAPES];
    double rms_ratio[MAX_SHAPES], ln_ratio[MAX_SHAPES]; /* summary tier; NAN if not timed */
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

/* Floor rows are called "floor" (the one the ratios divide by) or "ref" (the other one). */
static record make_record(const candidate *c, const workload *w, const char *shape_name, double floor_ns,
                          bool memcpy_floor, norm_isa marked)
{
    record r = { .rows = w->rows, .n = w->n, .impl = impl_name(c),
                 .floor_kind = memcpy_floor ? "memcpy" : "read+x*gamma", .median = c->median, .min = c->min };
    snprintf(r.shape, sizeof r.shape, "%s", shape_name);
    if (c->kind == CAND_READ_SCALE || c->kind == CAND_MEMCPY)
        r.op = (c->kind == CAND_MEMCPY) == memcpy_floor ? "floor" : "ref";
    else
        r.op = op_name(c->op);
    /* Bytes the op must move: x read once, y written once (gamma stays in cache). */
    r.gbps = (double)w->n * 2 * sizeof(float) / c->median;
    r.ratio = c->median / floor_ns;
    r.is_default = c->kind == CAND_LIB && c->isa == marked;
    return r;
}

static void print_table_head(const char *shape_name, const workload *w, bool memcpy_floor, double floor_ns,
                             size_t llc)
{
    char a[32], b[32];
    printf("\nshape %s (floor: %s = %.1f ns/row)\n", shape_name, memcpy_floor ? "memcpy" : "read + x*gamma",
           floor_ns);
    printf("  x and y are %s each: together they %s the %s last-level cache\n",
           human_bytes((double)(w->rows * w->n * sizeof(float)), a, sizeof a),
           memcpy_floor ? "exceed" : "fit in", human_bytes((double)llc, b, sizeof b));
    printf("  %-10s %-14s %10s %8s %8s\n", "op", "impl", "ns/row", "GB/s", "x floor");
}

static void print_row(const record *r)
{
    char impl[32];
    snprintf(impl, sizeof impl, "%s%s", r->impl, r->is_default ? " *" : "");
    printf("  %-10s %-14s %10.1f %8.1f %8.2f\n", r->op, impl, r->median, r->gbps, r->ratio);
}

/* How the shape was sampled, and whether its outputs passed the check. */
static void print_table_foot(const candidate *c, size_t count, int rounds, double min_ms, int bad)
{
    size_t lo = SIZE_MAX, hi = 0;
    char calls[64];
    for (size_t k = 0; k < count; k++) {
        lo = c[k].iters < lo ? c[k].iters : lo;
        hi = c[k].iters > hi ? c[k].iters : hi;
    }
    if (hi == 1)
        snprintf(calls, sizeof calls, "one call per sample (a call takes over %.1f ms)", min_ms);
    else
        snprintf(calls, sizeof calls, "samples of >= %.1f ms, %zu to %zu calls", min_ms, lo, hi);
    printf("  (%d rounds, %s; outputs vs scalar tier: %s)\n", rounds, calls,
           bad ? "MISMATCH, see stderr" : "ok");
}

/* ---------------------------------------------------------------- one shape */

typedef struct context {
    const options *opt;
    norm_isa marked; /* the tier marked with * and used in the summary */
    size_t llc;
    int failures;
    report rep;
} context;

static void bench_shape(context *ctx, size_t index)
{
    const options *o = ctx->opt;
    shape s = o->shapes[index];
    char name[48], size[32];
    snprintf(name, sizeof name, "%zux%zu", s.rows, s.n);
    ctx->rep.rms_ratio[index] = ctx->rep.ln_ratio[index] = NAN;

    workload w;
    if (!make_workload(&w, s, o->beta)) {
        printf("\nshape %s: skipped, cannot allocate 2 x %s\n", name,
               human_bytes((double)(s.rows * s.n * sizeof(float)), size, sizeof size));
        return;
    }
    candidate c[2 + 2 * (1 + NORM_ISA_COUNT)];
    size_t count = build_candidates(c, o);
    int rounds = measure(c, count, &w, o);

    bool memcpy_floor = 2 * s.rows * s.n * sizeof(float) > ctx->llc;
    double floor_ns = c[memcpy_floor ? 1 : 0].median;
    ctx->rep.memcpy_floor[index] = memcpy_floor;
    print_table_head(name, &w, memcpy_floor, floor_ns, ctx->llc);
    for (size_t k = 0; k < count; k++) {
        record r = make_record(&c[k], &w, name, floor_ns, memcpy_floor, ctx->marked);
        print_row(&r);
        add_record(&ctx->rep, &r);
        if (r.is_default)
            *(c[k].op == NORM_RMSNORM ? &ctx->rep.rms_ratio[index] : &ctx->rep.ln_ratio[index]) = r.ratio;
    }

    int bad = check_outputs(c, count, &w, name);
    ctx->failures += bad;
    print_table_foot(c, count, rounds, o->min_ms, bad);
    fflush(stdout);
    for (size_t k = 0; k < count; k++)
        free(c[k].ns_row);
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
    if (getenv("NORM_ISA"))
        printf("       (NORM_ISA=%s caps them)\n", getenv("NORM_ISA"));
    if (marked != default_isa)
        printf("       (the default tier is not among --isa; %s stands in for it below)\n", norm_isa_name(marked));
    printf("Work: f32, eps %g, gamma random near 1, %s; input random, roughly N(0,1).\n", (double)EPS,
           o->beta ? "beta random near 0" : "no beta (--beta adds one)");
    printf("\n"
           "How to read the tables:\n"
           "  ns/row   median time per row over all rounds (lower is better)\n"
           "  GB/s     bytes the op must move (x read once + y written once) / time\n"
           "  x floor  time / floor time: 1.00 = as fast as the floor, 2.00 = twice as slow\n"
           "  floor    the memory traffic every norm must do, written as plain C: one read pass\n"
           "           over x (a sum) plus one y = x*gamma pass when x and y fit in the last-level\n"
           "           cache, otherwise a memcpy of x to y. Both passes are built for the widest\n"
           "           vector unit this CPU has (-O3 -ffast-math, one clone per ISA); memcpy\n"
           "           is libc's, already tuned for this CPU.\n"
           "  plain-C  the loops a user would write by hand (reference.c, -O3 -ffast-math,\n"
           "           built for the baseline ISA as a distribution would build them)\n"
           "  *        the tier the library picks by default on this machine\n"
           "Note: this machine may be shared and its clock varies, so absolute times move from\n"
           "run to run; the ratios, measured side by side in interleaved rounds, are the numbers\n"
           "to compare.\n");
}

/* " 1.23x" right-aligned in width, or "-" for an op that was not timed. */
static void print_ratio(double ratio, int width)
{
    if (isnan(ratio))
        printf(" %*s", width, "-");
    else
        printf(" %*.2fx", width - 1, ratio);
}

static void print_summary(const context *ctx)
{
    const options *o = ctx->opt;
    bool both = o->op[NORM_RMSNORM] && o->op[NORM_LAYERNORM];
    printf("\nSummary: tier %s, time / floor (1.00 = at the floor; lower is better)\n", norm_isa_name(ctx->marked));
    printf("  %-12s %-13s %8s %10s\n", "shape", "floor", "rmsnorm", "layernorm");
    for (size_t i = 0; i < o->nshapes; i++) {
        char name[48];
        double rms = ctx->rep.rms_ratio[i], ln = ctx->rep.ln_ratio[i];
        snprintf(name, sizeof name, "%zux%zu", o->shapes[i].rows, o->shapes[i].n);
        if (isnan(rms) && isnan(ln)) {
            printf("  %-12s (skipped)\n", name);
            continue;
        }
        printf("  %-12s %-13s", name, ctx->rep.memcpy_floor[i] ? "memcpy" : "read+x*gamma");
        print_ratio(rms, 8);
        print_ratio(ln, 10);
        if (both)
            printf("   layernorm costs %.2fx rmsnorm on %s", ln / rms, name);
        printf("\n");
    }
    if (both)
        printf("RMSNorm skips LayerNorm's mean (one reduction and a subtraction per element); the last\n"
               "column is what that saves here, measured rather than assumed.\n");
}

/* ---------------------------------------------------------------- CSV and JSON */

static void write_csv(FILE *f, const report *rep)
{
    fprintf(f, "shape,rows,n,op,impl,ns_per_row_median,ns_per_row_min,gbps,ratio_to_floor,floor_kind,is_default\n");
    for (size_t i = 0; i < rep->count; i++) {
        const record *r = &rep->recs[i];
        fprintf(f, "%s,%zu,%zu,%s,%s,%.3f,%.3f,%.3f,%.4f,%s,%d\n", r->shape, r->rows, r->n, r->op, r->impl,
                r->median, r->min, r->gbps, r->ratio, r->floor_kind, r->is_default);
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

static void write_json(FILE *f, const report *rep, norm_isa default_isa, size_t llc, bool beta)
{
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    fprintf(f, "{\n  \"library_version\": ");
    json_string(f, norm_version_string());
    fprintf(f, ",\n  \"cpu\": ");
    json_string(f, cpu);
    fprintf(f, ",\n  \"default_isa\": \"%s\",\n  \"llc_bytes\": %zu,\n  \"eps\": %g,\n  \"beta\": %s,\n",
            norm_isa_name(default_isa), llc, (double)EPS, beta ? "true" : "false");
    fprintf(f, "  \"results\": [");
    for (size_t i = 0; i < rep->count; i++) {
        const record *r = &rep->recs[i];
        fprintf(f,
                "%s\n    {\"shape\": \"%s\", \"rows\": %zu, \"n\": %zu, \"op\": \"%s\", \"impl\": \"%s\", "
                "\"ns_per_row_median\": %.3f, \"ns_per_row_min\": %.3f, \"gbps\": %.3f, "
                "\"ratio_to_floor\": %.4f, \"floor_kind\": \"%s\", \"is_default\": %s}",
                i ? "," : "", r->shape, r->rows, r->n, r->op, r->impl, r->median, r->min, r->gbps, r->ratio,
                r->floor_kind, r->is_default ? "true" : "false");
    }
    fprintf(f, "\n  ]\n}\n");
}

/* Opened before the run, so a bad path fails in a second rather than after the benchmark. */
static FILE *open_output(const char *path)
{
    if (!path)
        return NULL;
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

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    options opt = {0};
    parse_args(&opt, argc, argv);
    FILE *csv = open_output(opt.csv_path), *json = open_output(opt.json_path);

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
    print_summary(&ctx);
    printf("\nTotal time %.1f s.\n", now_s() - t0);

    if (csv)
        write_csv(csv, &ctx.rep);
    if (json)
        write_json(json, &ctx.rep, default_isa, ctx.llc, opt.beta);
    close_output(csv, opt.csv_path);
    close_output(json, opt.json_path);
    free(ctx.rep.recs);

    if (ctx.failures) {
        fprintf(stderr,
                "\nnorm-bench: FAILED: %d output(s) disagree with the scalar tier beyond %g; the timings\n"
                "above are of wrong results. See the MISMATCH lines.\n", ctx.failures, CHECK_TOL);
        return 1;
    }
    return 0;
}
