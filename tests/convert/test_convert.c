/*
 * f16/bf16 <-> f32 conversions.
 *
 * 1. The scalar oracle (kernels/scalar/half.h) against independent references: a rounding
 *    written with double arithmetic (floor bracketing between the two neighbouring half
 *    values, ties to even by parity), and, for f16, the compiler's _Float16 where it has one.
 * 2. Every tier compiled in and supported by this CPU against the oracle, bit for bit:
 *    all 65,536 f16 and bf16 patterns widened; narrowed: every f32 within +-2 (as integers)
 *    of each half value's image and of each midpoint between neighbouring half values (the
 *    only inputs where rounding can go wrong), sampled f32 subnormals, zeros, infinities,
 *    NaNs with many payloads, and random patterns (1,000,000; 100,000 with NORM_TEST_QUICK=1).
 * 3. The bulk converters for every length 1..2*16+3, at many alignments, with PROT_NONE
 *    pages right after the end and right before the start of both arrays, and canaries
 *    around them: the partial-vector tails read and write nothing outside [0, n).
 * 4. The padding lanes of the partial loads are +0.0.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "convert.h"
#include "dispatch.h"
#include "scalar/half.h"

#define MAX_W 16 /* the widest tier (AVX-512) */

/* ------------------------------------------------------------------ tiers */

typedef void widen_fn(float *dst, const uint16_t *src, size_t n);
typedef void narrow_fn(uint16_t *dst, const float *src, size_t n);
typedef size_t probe_fn(float *lanes, const uint16_t *src, size_t k, int bf16);

typedef struct variant {
    const char *name; /* an entry of the ISA list (src/isa_list.h) */
    widen_fn *f16_to_f32, *bf16_to_f32;
    narrow_fn *f32_to_f16, *f32_to_bf16;
    probe_fn *probe; /* NULL for scalar */
} variant;

/* scalar, then every SIMD tier and variant of this architecture that Meson compiled in. The
 * library says which of them this CPU runs (norm_variant_supported). */
#define VARIANT(isa, ISA, x, arch, pred)                                                     \
    NORM_IF(NORM_AND(NORM_SIMD_##arch, NORM_HAVE_##ISA),                                     \
            { #isa, norm_cvt_f16_to_f32_##isa, norm_cvt_bf16_to_f32_##isa,                   \
              norm_cvt_f32_to_f16_##isa, norm_cvt_f32_to_bf16_##isa, norm_cvt_load_part_probe_##isa },)

static const variant all_variants[] = {
    { "scalar", norm_cvt_f16_to_f32_scalar, norm_cvt_bf16_to_f32_scalar,
      norm_cvt_f32_to_f16_scalar, norm_cvt_f32_to_bf16_scalar, NULL },
    NORM_ISA_LIST(VARIANT, VARIANT)
};
#define N_ALL (sizeof all_variants / sizeof all_variants[0])

static const variant *variants[N_ALL]; /* the ones this CPU runs */
static int n_variants;

/* ------------------------------------------------------------------ helpers */

static uint32_t bits_of(float f) { return norm_f32_bits(f); }
static float float_of(uint32_t u) { return norm_f32_from_bits(u); }

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint32_t rng32(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static int quick(void)
{
    const char *q = getenv("NORM_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

/* ------------------------------------------------------------------ the references */

typedef struct half_format {
    const char *name;
    int mbits, ebits, emin, emax; /* fraction bits, exponent bits, min/max normal exponents */
} half_format;

static const half_format F16 = { "f16", 10, 5, -14, 15 };
static const half_format BF16 = { "bf16", 7, 8, -126, 127 };

static int is_nan_half(const half_format *fmt, uint16_t h)
{
    unsigned e = (h >> fmt->mbits) & ((1u << fmt->ebits) - 1), m = h & ((1u << fmt->mbits) - 1);
    return e == (1u << fmt->ebits) - 1 && m != 0;
}

/* The value of a half pattern; the all-ones exponent with a zero fraction reads as
 * 2^(emax+1), the value the largest finite one rounds up to (callers map it to Inf). */
static double ref_decode(const half_format *fmt, uint16_t h)
{
    int e = (h >> fmt->mbits) & ((1 << fmt->ebits) - 1);
    int m = h & ((1 << fmt->mbits) - 1);
    double v = e == 0 ? ldexp(m, fmt->emin - fmt->mbits)
                      : ldexp(m + (1 << fmt->mbits), e - fmt->emax - fmt->mbits);
    return (h & 0x8000) ? -v : v;
}

/* The documented NaN rule, stated on its own: quiet, sign kept, payload aligned at the top. */
static uint32_t ref_nan_widen(const half_format *fmt, uint16_t h)
{
    uint32_t payload = (uint32_t)(h & ((1u << fmt->mbits) - 1)) << (23 - fmt->mbits);
    return ((uint32_t)(h & 0x8000) << 16) | 0x7f800000u | 0x00400000u | payload;
}

static uint16_t ref_nan_narrow(const half_format *fmt, uint32_t u)
{
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint16_t exp_ones = (uint16_t)(((1u << fmt->ebits) - 1) << fmt->mbits);
    uint16_t quiet = (uint16_t)(1u << (fmt->mbits - 1));
    return (uint16_t)(sign | exp_ones | quiet | ((u & 0x7fffffu) >> (23 - fmt->mbits)));
}

static uint32_t ref_widen(const half_format *fmt, uint16_t h)
{
    if (is_nan_half(fmt, h))
        return ref_nan_widen(fmt, h);
    double v = ref_decode(fmt, h);
    if (fabs(v) == ldexp(1.0, fmt->emax + 1))
        v = v < 0 ? -INFINITY : INFINITY;
    return bits_of((float)v);
}

/* Round to nearest even with double arithmetic: bracket |x| between the two neighbouring
 * multiples of the half format's quantum at |x|, take the nearer, the even one on a tie. */
static uint16_t ref_narrow(const half_format *fmt, uint32_t u)
{
    const uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    const uint16_t inf = (uint16_t)(((1u << fmt->ebits) - 1) << fmt->mbits);
    float f = float_of(u);
    if (isnan(f))
        return ref_nan_narrow(fmt, u);
    if (isinf(f))
        return sign | inf;
    double x = fabs((double)f);
    int e;
    (void)frexp(x, &e);
    int E = x == 0 ? fmt->emin : e - 1; /* x in [2^E, 2^(E+1)) */
    if (E < fmt->emin)
        E = fmt->emin;
    double q = ldexp(1.0, E - fmt->mbits);
    double lo = floor(x / q) * q, hi = lo + q;
    double r = x - lo < hi - x ? lo : hi - x < x - lo ? hi : fmod(lo / q, 2.0) == 0 ? lo : hi;
    if (r >= ldexp(1.0, fmt->emax + 1))
        return sign | inf;
    if (r < ldexp(1.0, fmt->emin))
        return sign | (uint16_t)(r / ldexp(1.0, fmt->emin - fmt->mbits));
    (void)frexp(r, &e);
    E = e - 1;
    uint16_t m = (uint16_t)(r / ldexp(1.0, E - fmt->mbits) - ldexp(1.0, fmt->mbits));
    return (uint16_t)(sign | ((E + fmt->emax) << fmt->mbits) | m);
}

#if defined(__FLT16_MAX__)
#  define HAVE_FLOAT16 1
static uint16_t compiler_f32_to_f16(uint32_t u)
{
    volatile float f = float_of(u);
    _Float16 h = (_Float16)f;
    uint16_t b;
    memcpy(&b, &h, sizeof b);
    return b;
}

static uint32_t compiler_f16_to_f32(uint16_t b)
{
    _Float16 h;
    memcpy(&h, &b, sizeof h);
    volatile float f = (float)h;
    return bits_of(f);
}
#else
#  define HAVE_FLOAT16 0
#endif

/* ------------------------------------------------------------------ the inputs */

static uint16_t all_halves[65536];
static uint32_t *inputs;     /* f32 patterns to narrow */
static float *inputs_f;      /* the same, as floats */
static size_t n_inputs, cap_inputs;
static uint16_t *expect_f16, *expect_bf16;  /* the oracle's answers for inputs */
static float expect_w16[65536], expect_wbf16[65536]; /* the oracle's widenings of all_halves */

static void add(uint32_t u)
{
    if (n_inputs == cap_inputs) {
        cap_inputs = cap_inputs ? 2 * cap_inputs : 1 << 20;
        inputs = realloc(inputs, cap_inputs * sizeof *inputs);
        if (!inputs)
            abort();
    }
    inputs[n_inputs++] = u;
}

static void add_around(uint32_t u)
{
    for (int d = -2; d <= 2; d++)
        add(u + (uint32_t)d);
}

/* The images of all half values of fmt, and the midpoints of neighbouring ones (including
 * the midpoint between the largest finite value and the value Inf stands for), +-2. */
static void add_rounding_sensitive(const half_format *fmt)
{
    const uint16_t inf = (uint16_t)(((1u << fmt->ebits) - 1) << fmt->mbits);
    for (uint32_t h = 0; h < 65536; h++) {
        uint16_t mag = h & 0x7fff;
        if (mag > inf)
            continue; /* NaN */
        if (mag < inf)
            add_around(bits_of((float)ref_decode(fmt, (uint16_t)h)));
        else
            add_around(ref_widen(fmt, (uint16_t)h));
        if (mag < inf) {
            double mid = (ref_decode(fmt, (uint16_t)h) + ref_decode(fmt, (uint16_t)(h + 1))) / 2;
            add_around(bits_of((float)mid)); /* exact: a midpoint has 2 bits more than the format */
        }
    }
}

static void build_inputs(void)
{
    if (inputs)
        return;
    for (uint32_t h = 0; h < 65536; h++)
        all_halves[h] = (uint16_t)h;
    add_rounding_sensitive(&F16);
    add_rounding_sensitive(&BF16);
    for (uint32_t s = 0; s < 2; s++) {
        uint32_t sign = s << 31;
        /* f32 subnormals: a sample, and the edges */
        for (uint32_t m = 1; m < 0x800000u; m += 997)
            add(sign | m);
        const uint32_t edges[] = { 0, 1, 2, 3, 0x7fff, 0x8000, 0x8001, 0x18000, 0x3fffff, 0x400000,
                                   0x400001, 0x7f7fff, 0x7f8000, 0x7fffff, 0x800000 };
        for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
            add(sign | edges[i]);
        /* special values */
        const uint32_t specials[] = { 0x7f800000u, 0x7f7fffffu, 0x3f800000u, 0x477fe000u,
                                      0x477fefffu, 0x477ff000u, 0x477ff001u, 0x47800000u,
                                      0x7f7f7fffu, 0x7f7f8000u, 0x38800000u, 0x387fe000u,
                                      0x387ff000u, 0x33000000u, 0x33000001u, 0x33800000u };
        for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++)
            add(sign | specials[i]);
        /* NaNs: signalling and quiet, every single payload bit, small and large payloads */
        for (int b = 0; b < 23; b++) {
            add(sign | 0x7f800000u | (1u << b));
            add(sign | 0x7fc00000u | (1u << b));
            add(sign | 0x7f800000u | (0x7fffffu >> b));
        }
        for (uint32_t m = 1; m < 0x10000u; m += 257)
            add(sign | 0x7f800000u | m);
        for (int i = 0; i < 1000; i++)
            add(sign | 0x7f800000u | ((rng32() & 0x7fffffu) | 1u));
    }
    size_t n_random = quick() ? 100000 : 1000000;
    for (size_t i = 0; i < n_random; i++)
        add(rng32());

    inputs_f = malloc(n_inputs * sizeof *inputs_f);
    expect_f16 = malloc(n_inputs * sizeof *expect_f16);
    expect_bf16 = malloc(n_inputs * sizeof *expect_bf16);
    if (!inputs_f || !expect_f16 || !expect_bf16)
        abort();
    memcpy(inputs_f, inputs, n_inputs * sizeof *inputs);
    for (size_t i = 0; i < n_inputs; i++) {
        expect_f16[i] = norm_f32_to_f16(inputs_f[i]);
        expect_bf16[i] = norm_f32_to_bf16(inputs_f[i]);
    }
    for (uint32_t h = 0; h < 65536; h++) {
        expect_w16[h] = norm_f16_to_f32((uint16_t)h);
        expect_wbf16[h] = norm_bf16_to_f32((uint16_t)h);
    }
    printf("convert: %zu f32 inputs to narrow (%zu random)%s\n", n_inputs, n_random,
           HAVE_FLOAT16 ? "; f16 also checked against _Float16" : "");
    fflush(stdout);
}

/* ------------------------------------------------------------------ 1. the oracle */

#define REPORT_MAX 8

START_TEST(oracle_widen)
{
    size_t bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        uint32_t got16 = bits_of(norm_f16_to_f32((uint16_t)h));
        uint32_t gotbf = bits_of(norm_bf16_to_f32((uint16_t)h));
        uint32_t ref16 = ref_widen(&F16, (uint16_t)h), refbf = ref_widen(&BF16, (uint16_t)h);
#if HAVE_FLOAT16
        uint32_t cc16 = compiler_f16_to_f32((uint16_t)h);
#else
        uint32_t cc16 = ref16;
#endif
        if (got16 != ref16 || got16 != cc16 || gotbf != refbf) {
            if (bad++ < REPORT_MAX)
                fprintf(stderr, "oracle widen %04x: f16 %08x (reference %08x, _Float16 %08x), "
                        "bf16 %08x (reference %08x)\n", h, got16, ref16, cc16, gotbf, refbf);
        }
    }
    ck_assert_msg(bad == 0, "%zu of 65536 half patterns widen wrongly", bad);
}
END_TEST

START_TEST(oracle_narrow)
{
    size_t bad = 0;
    for (size_t i = 0; i < n_inputs; i++) {
        uint32_t u = inputs[i];
        uint16_t ref16 = ref_narrow(&F16, u), refbf = ref_narrow(&BF16, u);
#if HAVE_FLOAT16
        uint16_t cc16 = compiler_f32_to_f16(u);
#else
        uint16_t cc16 = ref16;
#endif
        if (expect_f16[i] != ref16 || expect_f16[i] != cc16 || expect_bf16[i] != refbf) {
            if (bad++ < REPORT_MAX)
                fprintf(stderr, "oracle narrow %08x: f16 %04x (reference %04x, _Float16 %04x), "
                        "bf16 %04x (reference %04x)\n", u, expect_f16[i], ref16, cc16,
                        expect_bf16[i], refbf);
        }
    }
    ck_assert_msg(bad == 0, "%zu of %zu f32 patterns narrow wrongly", bad, n_inputs);
}
END_TEST

/* ------------------------------------------------------------------ 2. tiers vs oracle */

static size_t compare_widened(const char *isa, const char *fmt, const float *got, const float *want)
{
    size_t bad = 0;
    for (uint32_t h = 0; h < 65536; h++)
        if (bits_of(got[h]) != bits_of(want[h]) && bad++ < REPORT_MAX)
            fprintf(stderr, "%s %s->f32 %04x: %08x, oracle %08x\n", isa, fmt, h,
                    bits_of(got[h]), bits_of(want[h]));
    return bad;
}

START_TEST(tier_widen_exhaustive)
{
    const variant *v = variants[_i];
    float *out = malloc(65536 * sizeof *out);
    ck_assert_ptr_nonnull(out);
    v->f16_to_f32(out, all_halves, 65536);
    size_t bad16 = compare_widened(v->name, "f16", out, expect_w16);
    v->bf16_to_f32(out, all_halves, 65536);
    size_t badbf = compare_widened(v->name, "bf16", out, expect_wbf16);
    free(out);
    ck_assert_msg(bad16 == 0 && badbf == 0, "%s: %zu f16 and %zu bf16 patterns differ from the oracle",
                  v->name, bad16, badbf);
}
END_TEST

static size_t compare_narrowed(const char *isa, const char *fmt, const uint16_t *got, const uint16_t *want)
{
    size_t bad = 0;
    for (size_t i = 0; i < n_inputs; i++)
        if (got[i] != want[i] && bad++ < REPORT_MAX)
            fprintf(stderr, "%s f32->%s %08x: %04x, oracle %04x\n", isa, fmt, inputs[i], got[i], want[i]);
    return bad;
}

START_TEST(tier_narrow)
{
    const variant *v = variants[_i];
    uint16_t *out = malloc(n_inputs * sizeof *out);
    ck_assert_ptr_nonnull(out);
    v->f32_to_f16(out, inputs_f, n_inputs);
    size_t bad16 = compare_narrowed(v->name, "f16", out, expect_f16);
    v->f32_to_bf16(out, inputs_f, n_inputs);
    size_t badbf = compare_narrowed(v->name, "bf16", out, expect_bf16);
    free(out);
    ck_assert_msg(bad16 == 0 && badbf == 0, "%s: %zu f16 and %zu bf16 results of %zu differ from the oracle",
                  v->name, bad16, badbf, n_inputs);
}
END_TEST

/* ------------------------------------------------------------------ 3. lengths, alignment, guards */

#define MAX_N (2 * MAX_W + 3)
#define CANARY 0xa5

/* One read-write page between two PROT_NONE pages. */
typedef struct guarded {
    unsigned char *map, *page;
    size_t size;
} guarded;

static guarded guarded_new(void)
{
    guarded g;
    g.size = (size_t)sysconf(_SC_PAGESIZE);
    g.map = mmap(NULL, 3 * g.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_msg(g.map != MAP_FAILED, "mmap failed");
    ck_assert_int_eq(mprotect(g.map, g.size, PROT_NONE), 0);
    ck_assert_int_eq(mprotect(g.map + 2 * g.size, g.size, PROT_NONE), 0);
    g.page = g.map + g.size;
    return g;
}

static void guarded_free(guarded *g) { munmap(g->map, 3 * g->size); }

/* Where an array of n elements of size bytes goes in the page: flush against the guard
 * after it (where = -1), flush against the guard before it (0), or `where` elements in. */
static void *place(const guarded *g, size_t n, size_t size, int where)
{
    if (where < 0)
        return g->page + g->size - n * size;
    return g->page + (size_t)where * size;
}

static size_t check_canaries(const guarded *g, const void *arr, size_t bytes)
{
    const unsigned char *a = arr;
    size_t bad = 0;
    for (const unsigned char *p = g->page; p < g->page + g->size; p++)
        if ((p < a || p >= a + bytes) && *p != CANARY)
            bad++;
    return bad;
}

START_TEST(tier_lengths_and_guards)
{
    const variant *v = variants[_i];
    guarded gs = guarded_new(), gd = guarded_new();
    const int wheres[] = { -1, 0, 1, 2, 3, 5, 7, 8, 9, 13, 16, 17 };
    size_t bad = 0, cases = 0, pick = 0;

    for (size_t n = 1; n <= MAX_N; n++)
        for (size_t w = 0; w < sizeof wheres / sizeof wheres[0]; w++)
            for (int dir = 0; dir < 4; dir++) {
                const int narrow = dir >= 2, bf16 = dir & 1;
                const size_t ssize = narrow ? sizeof(float) : sizeof(uint16_t);
                const size_t dsize = narrow ? sizeof(uint16_t) : sizeof(float);
                void *src = place(&gs, n, ssize, wheres[w]);
                void *dst = place(&gd, n, dsize, wheres[w]);
                memset(gd.page, CANARY, gd.size);
                uint32_t want[MAX_N];
                for (size_t i = 0; i < n; i++, pick++) {
                    if (narrow) {
                        size_t j = (pick * 7919) % n_inputs;
                        memcpy((float *)src + i, &inputs_f[j], sizeof(float));
                        want[i] = bf16 ? expect_bf16[j] : expect_f16[j];
                    } else {
                        uint16_t h = (uint16_t)(pick * 40503u);
                        memcpy((uint16_t *)src + i, &h, sizeof h);
                        want[i] = bits_of(bf16 ? expect_wbf16[h] : expect_w16[h]);
                    }
                }
                if (narrow)
                    (bf16 ? v->f32_to_bf16 : v->f32_to_f16)(dst, src, n);
                else
                    (bf16 ? v->bf16_to_f32 : v->f16_to_f32)(dst, src, n);
                cases++;
                size_t wrong = 0;
                for (size_t i = 0; i < n; i++) {
                    uint32_t got;
                    if (narrow) {
                        uint16_t g16;
                        memcpy(&g16, (uint16_t *)dst + i, sizeof g16);
                        got = g16;
                    } else {
                        float gf;
                        memcpy(&gf, (float *)dst + i, sizeof gf);
                        got = bits_of(gf);
                    }
                    wrong += got != want[i];
                }
                size_t clobbered = check_canaries(&gd, dst, n * dsize);
                if ((wrong || clobbered) && bad++ < REPORT_MAX)
                    fprintf(stderr, "%s %s n=%zu where=%d: %zu wrong values, %zu bytes written outside\n",
                            v->name, (const char *[]){ "f16->f32", "bf16->f32", "f32->f16", "f32->bf16" }[dir],
                            n, wheres[w], wrong, clobbered);
            }
    guarded_free(&gs);
    guarded_free(&gd);
    ck_assert_msg(bad == 0, "%s: %zu of %zu length/alignment cases failed", v->name, bad, cases);
}
END_TEST

/* ------------------------------------------------------------------ 4. padding lanes */

START_TEST(tier_part_padding)
{
    const variant *v = variants[_i];
    guarded g = guarded_new();
    float lanes[MAX_W];
    size_t bad = 0;
    size_t width = v->probe(lanes, (const uint16_t *)(g.page + g.size), 0, 0);
    ck_assert(width >= 1 && width <= MAX_W);
    for (size_t k = 0; k < width; k++)
        for (int bf16 = 0; bf16 < 2; bf16++) {
            uint16_t *src = place(&g, k, sizeof(uint16_t), -1);
            for (size_t i = 0; i < k; i++)
                src[i] = (uint16_t)(0xfc01u + 977u * (k * 2 + (size_t)bf16 + i)); /* NaNs, negatives, ... */
            memset(lanes, 0xff, sizeof lanes);
            v->probe(lanes, src, k, bf16);
            for (size_t i = 0; i < width; i++) {
                uint32_t want = i < k ? bits_of(bf16 ? expect_wbf16[src[i]] : expect_w16[src[i]]) : 0u;
                if (bits_of(lanes[i]) != want && bad++ < REPORT_MAX)
                    fprintf(stderr, "%s %s part load k=%zu lane %zu: %08x, want %08x\n", v->name,
                            bf16 ? "bf16" : "f16", k, i, bits_of(lanes[i]), want);
            }
        }
    guarded_free(&g);
    ck_assert_msg(bad == 0, "%s: %zu wrong lanes from partial loads", v->name, bad);
}
END_TEST

/* ------------------------------------------------------------------ main */

static void setup_inputs(void) { build_inputs(); }

int main(void)
{
    for (size_t i = 0; i < N_ALL; i++) {
        if (!norm_variant_supported(all_variants[i].name)) {
            printf("convert: %s: skipped (CPU lacks it)\n", all_variants[i].name);
            continue;
        }
        printf("convert: %s: checking\n", all_variants[i].name);
        variants[n_variants++] = &all_variants[i];
    }
    fflush(stdout);

    Suite *s = suite_create("convert");
    TCase *oracle = tcase_create("oracle");
    tcase_add_unchecked_fixture(oracle, setup_inputs, NULL);
    tcase_set_timeout(oracle, 120);
    tcase_add_test(oracle, oracle_widen);
    tcase_add_test(oracle, oracle_narrow);
    suite_add_tcase(s, oracle);

    TCase *tiers = tcase_create("tiers");
    tcase_add_unchecked_fixture(tiers, setup_inputs, NULL);
    tcase_set_timeout(tiers, 120);
    tcase_add_loop_test(tiers, tier_widen_exhaustive, 0, n_variants);
    tcase_add_loop_test(tiers, tier_narrow, 0, n_variants);
    tcase_add_loop_test(tiers, tier_lengths_and_guards, 0, n_variants);
    suite_add_tcase(s, tiers);

    /* variants[0] is scalar, which has no partial loads to probe. */
    TCase *padding = tcase_create("padding");
    tcase_add_unchecked_fixture(padding, setup_inputs, NULL);
    tcase_add_loop_test(padding, tier_part_padding, 1, n_variants);
    suite_add_tcase(s, padding);

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
