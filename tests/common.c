/* Shared test helpers; see common.h. */
#include "common.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- run-wide settings --------------------------------------------------------------- */

/* "norm-tes" in ASCII: any fixed value will do, it only has to be the same every run. */
#define DEFAULT_SEED UINT64_C(0x6e6f726d2d746573)

uint64_t test_seed(const char *program)
{
    static bool done;
    static uint64_t seed = DEFAULT_SEED;
    if (!done) {
        const char *env = getenv("NORM_TEST_SEED");
        if (env && *env) {
            char *end;
            unsigned long long v = strtoull(env, &end, 0);
            if (*end == '\0')
                seed = v;
            else
                fprintf(stderr, "%s: ignoring unparsable NORM_TEST_SEED=%s\n", program, env);
        }
        printf("%s: seed 0x%016" PRIx64 " (set NORM_TEST_SEED=0x%016" PRIx64 " to replay)\n",
               program, seed, seed);
        done = true;
    }
    return seed;
}

bool test_quick(const char *program)
{
    static int quick = -1;
    if (quick < 0) {
        const char *env = getenv("NORM_TEST_QUICK");
        quick = env && *env && strcmp(env, "0") != 0;
        if (quick)
            printf("%s: NORM_TEST_QUICK is set: largest cases skipped, fewer repetitions\n", program);
    }
    return quick;
}

/* ---- random numbers -------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

rng rng_for(uint64_t seed, const char *name)
{
    /* FNV-1a of the name, folded into the seed; splitmix64 expands it into the state. */
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (const char *c = name; *c; c++)
        h = (h ^ (unsigned char)*c) * UINT64_C(0x100000001b3);
    uint64_t state = seed ^ h;
    rng r;
    for (int i = 0; i < 4; i++)
        r.s[i] = splitmix64(&state);
    return r;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_u64(rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t rng_below(rng *r, uint32_t n) { return (uint32_t)((rng_u64(r) >> 32) * n >> 32); }

/* 53 random bits: uniform in [0, 1). */
static double rng_unit(rng *r) { return (double)(rng_u64(r) >> 11) * 0x1p-53; }

double rng_uniform(rng *r, double lo, double hi) { return lo + (hi - lo) * rng_unit(r); }

bool rng_bool(rng *r) { return rng_u64(r) >> 63; }

double rng_normal(rng *r)
{
    /* Box-Muller; 1 - u is in (0, 1], so the log is finite. */
    double u = 1.0 - rng_unit(r), v = rng_unit(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* ---- the long-double reference ------------------------------------------------------- */

ref_stats ref_row(bool layernorm, const float *x, size_t n, float eps, bool eps_outside_sqrt)
{
    ref_stats r = { 0.0L, 0.0L };
    long double ms = 0.0L;
    if (layernorm) {
        /* x - x[0] is exact in long double for any two floats of the same row that the
         * tests build, so the mean is exact to long-double precision however large it is
         * against the spread; the variance then sums squared deviations from that mean. */
        long double shift = x[0], sum = 0.0L;
        for (size_t i = 0; i < n; i++)
            sum += (long double)x[i] - shift;
        r.mean = shift + sum / (long double)n;
        for (size_t i = 0; i < n; i++) {
            long double t = (long double)x[i] - r.mean;
            ms += t * t;
        }
    } else {
        /* x*x of a float is exact in long double (48 significant bits) and cannot overflow. */
        for (size_t i = 0; i < n; i++)
            ms += (long double)x[i] * (long double)x[i];
    }
    ms /= (long double)n;
    r.rstd = eps_outside_sqrt ? 1.0L / (sqrtl(ms) + (long double)eps) : 1.0L / sqrtl(ms + (long double)eps);
    return r;
}

/* ---- the accuracy contract ------------------------------------------------------------- */

static void fail(mismatch *m, size_t index, const char *what, double got, long double want,
                 long double bound)
{
    m->failed = true;
    m->index = index;
    m->what = what;
    m->got = got;
    m->want = want;
    m->bound = bound;
}

static double ratio(long double err, long double bound)
{
    if (bound > 0.0L)
        return (double)(err / bound);
    return err == 0.0L ? 0.0 : INFINITY;
}

long double silu_l(long double z) { return z == -INFINITY ? -0.0L : z / (1.0L + expl(-z)); }

long double contract_bound(long double gamma, long double xhat, long double beta)
{
    return CONTRACT_TOL * (fabsl(gamma) * (1.0L + fabsl(xhat)) + fabsl(beta)) + CONTRACT_UNDERFLOW;
}

bool row_is_special(const float *x, size_t n, const float *gamma, const float *beta, ref_stats ref)
{
    if (!isfinite(ref.rstd) || !isfinite(ref.mean))
        return true;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) || (gamma && !isfinite(gamma[i])) || (beta && !isfinite(beta[i])))
            return true;
    return false;
}

double check_row(const float *y, const float *x, size_t n, const float *gamma, const float *beta,
                 ref_stats ref, bool special, const float *pattern, mismatch *m)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        long double g = gamma ? gamma[i] : 1.0L, b = beta ? beta[i] : 0.0L;
        long double xhat = ((long double)x[i] - ref.mean) * ref.rstd;
        long double want = xhat * g + b;
        long double bound = contract_bound(g, xhat, b);
        float got = y[i];
        if (special) {
            /* NaN, the infinities and zero carry no rounding: they must match exactly. */
            float p = pattern[i];
            if (isnan(p)) {
                if (!isnan(got)) {
                    fail(m, i, "y (want NaN like the oracle)", got, NAN, 0.0L);
                    return worst;
                }
                continue;
            }
            if (isinf(p) || p == 0.0f) {
                if (got != p) {
                    fail(m, i, "y (want exact Inf/0 like the oracle)", got, p, 0.0L);
                    return worst;
                }
                continue;
            }
            if (!isfinite(want)) {
                /* The reference gave up (e.g. Inf * 0) where the oracle did not: hold the
                 * result to the oracle instead, with a bound from its magnitude. */
                want = p;
                bound = CONTRACT_TOL * (fabsl(g) + fabsl(b) + fabsl((long double)p)) + CONTRACT_UNDERFLOW;
            }
        }
        if (!isfinite(got)) {
            fail(m, i, "y (not finite)", got, want, bound);
            return worst;
        }
        long double err = fabsl((long double)got - want);
        double q = ratio(err, bound);
        if (!(err <= bound)) {
            fail(m, i, "y", got, want, bound);
            return worst;
        }
        if (q > worst)
            worst = q;
    }
    return worst;
}

double check_stat(float got, long double want, long double bound, const char *what, size_t row,
                  mismatch *m)
{
    if (isnan(want)) {
        if (!isnan(got))
            fail(m, row, what, got, want, bound);
        return 0.0;
    }
    /* A statistic beyond the f32 range (rstd of a row of subnormals with eps = 0) can only
     * be stored as Inf. */
    float want_f = (float)want;
    if (isinf(want_f)) {
        if (got != want_f)
            fail(m, row, what, got, want, bound);
        return 0.0;
    }
    if (!isfinite(got)) {
        fail(m, row, what, got, want, bound);
        return 0.0;
    }
    long double err = fabsl((long double)got - want);
    if (!(err <= bound)) {
        fail(m, row, what, got, want, bound);
        return 0.0;
    }
    /* Checked, but left out of the worst ratio: rounding to an f32 subnormal alone costs up
     * to half the absolute floor callers add for it, which says nothing about the kernel. */
    if (fabsl(want) < FLT_MIN)
        return 0.0;
    return ratio(err, bound);
}

/* ---- guard pages ----------------------------------------------------------------------- */

float *guard_alloc(guarded *g, size_t count, enum guard_side side)
{
    return guard_alloc_bytes(g, count * sizeof(float), side);
}

void *guard_alloc_bytes(guarded *g, size_t bytes, enum guard_side side)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data = (bytes + page - 1) / page * page;
    g->map_len = data + 2 * page;
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED) {
        perror("guard_alloc: mmap");
        abort();
    }
    char *base = g->map;
    if (mprotect(base, page, PROT_NONE) != 0 || mprotect(base + page + data, page, PROT_NONE) != 0) {
        perror("guard_alloc: mprotect");
        abort();
    }
    g->p = side == GUARD_BEFORE ? base + page : base + page + data - bytes;
    return g->p;
}

void guard_free(guarded *g)
{
    if (g->map && g->map != MAP_FAILED)
        munmap(g->map, g->map_len);
    g->map = NULL;
    g->p = NULL;
}

char test_context[512];

static void on_crash(int sig)
{
    /* Only async-signal-safe calls here; the handler was installed with SA_RESETHAND, so
     * raising the signal again ends the process (or Check's forked child) with it. */
    const char *head = sig == SIGILL ? "\n*** illegal instruction (a tier this CPU lacks?) in: "
                     : sig == SIGFPE ? "\n*** arithmetic trap in: "
                                     : "\n*** crashed: out-of-bounds access (a guard page) in: ";
    ssize_t w = write(STDERR_FILENO, head, strlen(head));
    w = write(STDERR_FILENO, test_context, strnlen(test_context, sizeof test_context));
    w = write(STDERR_FILENO, "\n", 1);
    (void)w;
    raise(sig);
}

void install_crash_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_crash;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGILL, &sa, NULL); /* a tier running on a CPU that lacks it */
    sigaction(SIGFPE, &sa, NULL);
}

void fill_canary(float *p, size_t count)
{
    uint32_t bits = CANARY_BITS;
    for (size_t i = 0; i < count; i++)
        memcpy(p + i, &bits, sizeof bits);
}

bool is_canary(const float *p)
{
    uint32_t bits;
    memcpy(&bits, p, sizeof bits);
    return bits == CANARY_BITS;
}

/* ---- half precision ------------------------------------------------------------------ */

typedef struct format {
    int frac_bits, emin, emax; /* normal exponents in [emin, emax] */
    unsigned exp_mask;         /* the exponent field, in place */
    uint16_t quiet_nan;
} format;

static const format formats[3] = {
    [T_F32] = { 23, -126, 127, 0, 0 },
    [T_F16] = { 10, -14, 15, 0x7c00u, 0x7e00u },
    [T_BF16] = { 7, -126, 127, 0x7f80u, 0x7fc0u },
};

const char *type_name(int t) { return t == T_F16 ? "f16" : t == T_BF16 ? "bf16" : "f32"; }

size_t type_size(int t) { return t == T_F32 ? 4 : 2; }

/* 2^k for k in [-1022, 1023], exact; ldexp() is a library call the tests would spend most
 * of their time in. */
static double pow2(int k)
{
    uint64_t bits = (uint64_t)(k + 1023) << 52;
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* floor(log2(a)) for a normal double a > 0. */
static int exponent_of(double a)
{
    uint64_t bits;
    memcpy(&bits, &a, sizeof bits);
    return (int)((bits >> 52) & 0x7ff) - 1023;
}

/* Every value of both formats, from the definition: sign * frac * 2^(emin - p) for the
 * subnormals, sign * (2^p + frac) * 2^(e - bias - p) for the normals. */
static float half_table[2][65536];

static void half_table_init(void)
{
    for (int t = T_F16; t <= T_BF16; t++) {
        const format *f = &formats[t];
        unsigned fb = (unsigned)f->frac_bits, emax_field = f->exp_mask >> fb;
        for (unsigned h = 0; h < 65536; h++) {
            unsigned e = (h & 0x7fffu) >> fb, frac = h & ((1u << fb) - 1u);
            double mag = e == emax_field ? (frac ? NAN : INFINITY)
                       : e == 0 ? ldexp((double)frac, f->emin - f->frac_bits)
                                : ldexp((double)(frac | (1u << fb)), (int)e - 1 + f->emin - f->frac_bits);
            half_table[t - T_F16][h] = (float)(h & 0x8000u ? -mag : mag);
        }
    }
}

static pthread_once_t half_table_once = PTHREAD_ONCE_INIT;
static atomic_bool half_table_ready;

static void half_table_init_once(void)
{
    half_table_init();
    atomic_store(&half_table_ready, true);
}

float half_to_float(uint16_t h, int t)
{
    if (!atomic_load_explicit(&half_table_ready, memory_order_acquire))
        pthread_once(&half_table_once, half_table_init_once);
    return half_table[t - T_F16][h];
}

uint16_t half_from_float(float v, int t)
{
    const format *f = &formats[t];
    uint16_t sign = signbit(v) ? 0x8000u : 0u;
    if (isnan(v))
        return sign | f->quiet_nan;
    double a = fabs((double)v);
    if (isinf(a))
        return sign | f->exp_mask;
    if (a == 0.0)
        return sign;
    int e = exponent_of(a); /* a in [2^e, 2^(e+1)); every f32, subnormals too, is a normal double */
    if (e < f->emin)
        e = f->emin; /* subnormal: the spacing of the smallest binade */
    /* a in units of the ulp (exact: a power-of-two scaling), rounded to nearest even. */
    double q = nearbyint(a * pow2(f->frac_bits - e));
    if (q >= pow2(f->frac_bits + 1)) { /* rounded up into the next binade */
        q /= 2;
        e++;
    }
    if (e > f->emax)
        return sign | f->exp_mask;
    unsigned qi = (unsigned)q;
    if (qi < (1u << f->frac_bits))
        return (uint16_t)(sign | qi); /* subnormal (or zero) */
    return (uint16_t)(sign | (unsigned)(e - f->emin + 1) << f->frac_bits | (qi - (1u << f->frac_bits)));
}

float round_to_type(float v, int t) { return t == T_F32 ? v : half_to_float(half_from_float(v, t), t); }

float type_load(const void *p, size_t i, int t)
{
    if (t == T_F32) {
        float v;
        memcpy(&v, (const char *)p + 4 * i, 4);
        return v;
    }
    uint16_t h;
    memcpy(&h, (const char *)p + 2 * i, 2);
    return half_to_float(h, t);
}

float type_store(void *p, size_t i, float v, int t)
{
    if (t == T_F32) {
        memcpy((char *)p + 4 * i, &v, 4);
        return v;
    }
    uint16_t h = half_from_float(v, t);
    memcpy((char *)p + 2 * i, &h, 2);
    return half_to_float(h, t);
}

long double type_max(int t)
{
    const format *f = &formats[t];
    return (long double)((2.0 - pow2(-f->frac_bits)) * pow2(f->emax));
}

long double type_ulp(long double v, int t)
{
    const format *f = &formats[t];
    long double a = fabsl(v);
    int e = f->emin;
    if (a >= (long double)pow2(f->emin)) {
        /* The exponent of a, through double: rounding to double may carry a value just
         * below a power of two up to it, which the comparison undoes. */
        e = exponent_of((double)a);
        if ((long double)pow2(e) > a)
            e--;
        if (e > f->emax)
            e = f->emax;
    }
    return (long double)pow2(e - f->frac_bits);
}

bool check_half(uint16_t got, int t, long double want, long double slack, double *ulps)
{
    float g = half_to_float(got, t);
    *ulps = 0.0;
    if (isnan(want) || isnan(g))
        return isnan(want) && isnan(g);
    if (isinf(want))
        return (long double)g == want;
    static long double maxes[3];
    if (!maxes[t])
        maxes[t] = type_max(t);
    long double max = maxes[t];
    if (fabsl(want) > max)
        return (long double)g == copysignl(INFINITY, want) || (long double)g == copysignl(max, want);
    if (isinf(g))
        return false;
    long double err = fabsl((long double)g - want), ulp = type_ulp(want, t);
    *ulps = (double)(err / ulp);
    return err <= ulp + slack;
}

long double half_slack(long double gamma, long double xhat, long double beta)
{
    return contract_bound(gamma, xhat, beta);
}

int half_steps(uint16_t a, uint16_t b, int t)
{
    if (isnan(half_to_float(a, t)) || isnan(half_to_float(b, t)))
        return -1;
    /* Sign and magnitude to one ordered integer: the patterns of a sign are consecutive. */
    long ka = a & 0x8000u ? -(long)(a & 0x7fffu) : (long)(a & 0x7fffu);
    long kb = b & 0x8000u ? -(long)(b & 0x7fffu) : (long)(b & 0x7fffu);
    long d = ka > kb ? ka - kb : kb - ka;
    return d > 0x7fff ? 0x7fff : (int)d;
}
