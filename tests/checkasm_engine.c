/* checkasm's engine: what every feature file shares; see checkasm_engine.h. */
#include "checkasm_engine.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

_Static_assert(T_F32 == (int)NORM_F32 && T_F16 == (int)NORM_F16 && T_BF16 == (int)NORM_BF16,
               "tests/common.h's types must have norm_dtype's values");
/* The reference h is added here in float and must be rounded like the kernels' f32 adds. */
_Static_assert(FLT_EVAL_METHOD == 0, "float arithmetic must be evaluated in float");

uint64_t checkasm_seed;
bool checkasm_quick;

#define HALF_VARIANT_NAME(name, ...) #name,
const char *const half_variant_names[HALF_NVARIANTS] = { NORM_ISA_LIST(HALF_VARIANT_NAME, HALF_VARIANT_NAME) };

/* ---- scratch memory, tcases, shared statistics ----------------------------------------- */

/* Room for any test's buffers (checkasm_fused.c's inputs alone take 12). */
#define MAX_SCRATCH 24
static void *scratch[MAX_SCRATCH];

void *scratch_alloc(size_t bytes)
{
    for (int i = 0; i < MAX_SCRATCH; i++)
        if (!scratch[i]) {
            scratch[i] = malloc(bytes ? bytes : 1);
            ck_assert_ptr_nonnull(scratch[i]);
            return memset(scratch[i], SCRATCH_FILL, bytes ? bytes : 1);
        }
    ck_abort_msg("scratch_alloc: too many buffers");
    return NULL;
}

void scratch_free_all(void)
{
    for (int i = 0; i < MAX_SCRATCH; i++) {
        free(scratch[i]);
        scratch[i] = NULL;
    }
}

TCase *checkasm_tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    /* CK_TIMEOUT_MULTIPLIER can stretch it further. */
    tcase_set_timeout(tc, 240);
    tcase_add_checked_fixture(tc, NULL, scratch_free_all);
    return tc;
}

void *shared_stats_alloc(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        abort();
    }
    memset(p, 0, bytes);
    return p;
}

const char *guard_name(int guard)
{
    static const char *const names[] = { "none", "end", "start" };
    return names[guard];
}

/* ---- the kernel variants, and what an earlier one ran ------------------------------------ */

const norm_kernels *table_of(int v)
{
    const norm_kernels *k = norm_kernels_variant(half_variant_names[v]);
    ck_assert_msg(k != NULL, "variant %s vanished", half_variant_names[v]);
    return k;
}

norm_kernel_fn *kernel_of(const norm_kernels *k, bool layernorm, combo c)
{
    return (layernorm ? k->layernorm : k->rmsnorm)[c.x][c.y][c.p];
}

const combo float_combos[NFLOAT_COMBOS] = {
    { NORM_F32, NORM_F32, NORM_F32 },    { NORM_F32, NORM_F16, NORM_F32 },
    { NORM_F32, NORM_BF16, NORM_F32 },   { NORM_F16, NORM_F32, NORM_F32 },
    { NORM_F16, NORM_F16, NORM_F32 },    { NORM_F16, NORM_BF16, NORM_F32 },
    { NORM_F16, NORM_F32, NORM_F16 },    { NORM_F16, NORM_F16, NORM_F16 },
    { NORM_F16, NORM_BF16, NORM_F16 },   { NORM_BF16, NORM_F32, NORM_F32 },
    { NORM_BF16, NORM_F16, NORM_F32 },   { NORM_BF16, NORM_BF16, NORM_F32 },
    { NORM_BF16, NORM_F32, NORM_BF16 },  { NORM_BF16, NORM_F16, NORM_BF16 },
    { NORM_BF16, NORM_BF16, NORM_BF16 },
};

/* CASE_INDEX keeps 32 combinations per variant. */
_Static_assert(NALL_COMBOS <= 32 && NFLOAT_COMBOS <= 32, "a feature's combinations must fit CASE_INDEX");

const combo all_combos[NALL_COMBOS] = {
#define Y4(x, p) { x, NORM_F32, p }, { x, NORM_F16, p }, { x, NORM_BF16, p }, { x, NORM_I8, p }
    Y4(NORM_F32, NORM_F32),  Y4(NORM_F16, NORM_F32),  Y4(NORM_F16, NORM_F16),
    Y4(NORM_BF16, NORM_F32), Y4(NORM_BF16, NORM_BF16),
#undef Y4
};

bool same_norm_kernels(const norm_kernels *a, const norm_kernels *b, combo c, int what)
{
    (void)what;
    return kernel_of(a, false, c) == kernel_of(b, false, c) && kernel_of(a, true, c) == kernel_of(b, true, c);
}

int earlier_variant(int v, combo c, int what, same_fn *same)
{
    const norm_kernels *k = norm_kernels_variant(half_variant_names[v]);
    for (int w = 0; w < v; w++) {
        const norm_kernels *kw = norm_kernels_variant(half_variant_names[w]);
        if (kw && same(kw, k, c, what))
            return w;
    }
    return -1;
}

bool runs_own(int v, combo c, int what, same_fn *same, dup_note *note)
{
    int w = earlier_variant(v, c, what, same);
    if (w >= 0) {
        note->dups++;
        note->of = half_variant_names[w];
        return false;
    }
    note->own++;
    return true;
}

void add_tests_at(TCase *tc, const TTest *const *tests, size_t count, int v, int ci)
{
    int i = CASE_INDEX(v, ci);
    for (size_t t = 0; t < count; t++)
        tcase_add_loop_test(tc, tests[t], i, i + 1);
}

const char *dtype_name(int t) { return t == NORM_I8 ? "i8" : type_name(t); }

size_t dtype_size(int t) { return norm_dtype_size((norm_dtype)t); }

rng combo_rng(const char *family, const char *test, combo c)
{
    char name[64];
    snprintf(name, sizeof name, "%s %s %s/%s/%s", family, test, dtype_name(c.x), dtype_name(c.y), dtype_name(c.p));
    return rng_for(checkasm_seed, name);
}

/* ---- input generators ------------------------------------------------------------------ */

const float eps_values[4] = { 0.0f, 1e-6f, 1e-5f, 1.0f };

float eps_any(rng *r) { return eps_values[rng_below(r, 4)]; }

double fast_normal(rng *r)
{
    uint64_t u = rng_u64(r);
    double s = (double)(u & 0xffff) + (double)((u >> 16) & 0xffff) + (double)((u >> 32) & 0xffff) +
               (double)(u >> 48);
    return (s * 0x1p-16 - 2.0 + 0x1p-17 * 4) * 1.7320508075688772;
}

float clamp_to(double v, int t)
{
    double m = (double)type_max(t);
    return v > m ? (float)m : v < -m ? (float)-m : (float)v;
}

void gen_row(rng *r, float *x, size_t n, double (*normal)(rng *), double scale, int t)
{
    double mu = 0.0, sigma = 1.0;
    switch (rng_below(r, 4)) {
    case 0: break;
    case 1: mu = rng_uniform(r, -4, 4); break;
    case 2:
        sigma = pow(10.0, rng_uniform(r, -3, 3));
        mu = sigma * rng_uniform(r, -2, 2);
        break;
    case 3:
        for (size_t i = 0; i < n; i++)
            x[i] = clamp_to(scale * rng_uniform(r, -1, 1), t);
        return;
    }
    for (size_t i = 0; i < n; i++)
        x[i] = clamp_to(scale * (mu + sigma * normal(r)), t);
}

const double *mean_ratios(int t)
{
    static const double f32[] = { 1e2, 1e4, 1e6 }, f16[] = { 1e1, 1e2, 1e3 }, bf16[] = { 1e1, 3e1, 1e2 };
    return t == NORM_F32 ? f32 : t == NORM_F16 ? f16 : bf16;
}

const double *mean_scales(int t)
{
    static const double f32[] = { 1e-3, 1.0, 1e3 }, f16[] = { 1e-2, 1.0, 30.0 }, bf16[] = { 1e-30, 1.0, 1e30 };
    return t == NORM_F32 ? f32 : t == NORM_F16 ? f16 : bf16;
}

const char *const special_row_names[NSPECIAL_ROWS] = { "NaN", "NaN first", "+Inf", "-Inf", "+Inf and -Inf",
                                                       "Inf last", "all NaN", "zeros, eps 0", "constant, eps 0" };

void poke_special(rng *r, float *x, size_t n, int what)
{
    size_t at = rng_below(r, (uint32_t)n);
    switch (what) {
    case 0: x[at] = NAN; break;
    case 1: x[0] = NAN; break;
    case 2: x[at] = INFINITY; break;
    case 3: x[at] = -INFINITY; break;
    case 4: x[at] = INFINITY; x[rng_below(r, (uint32_t)n)] = -INFINITY; break;
    case 5: x[n - 1] = rng_bool(r) ? INFINITY : -INFINITY; break;
    case 6: for (size_t i = 0; i < n; i++) x[i] = NAN; break;
    case 7: for (size_t i = 0; i < n; i++) x[i] = 0.0f; break;
    case 8: for (size_t i = 0; i < n; i++) x[i] = 2.5f; break;
    }
}

void poke_nan(void *p, float *pf, size_t i, int t, int which)
{
    static const uint16_t f16[] = { 0x7d01u, 0xfe55u, 0x7c01u }, bf16[] = { 0x7f81u, 0xffc1u, 0x7f95u };
    static const uint32_t f32[] = { 0x7f800001u, 0xffc12345u, 0x7fa00000u };
    if (t == NORM_F32) {
        memcpy((char *)p + 4 * i, &f32[which % 3], 4);
        memcpy(&pf[i], &f32[which % 3], 4);
    } else {
        uint16_t h = (t == NORM_F16 ? f16 : bf16)[which % 3];
        memcpy((char *)p + 2 * i, &h, 2);
        pf[i] = half_to_float(h, t);
    }
}

/* ---- checks ---------------------------------------------------------------------------- */

void reference_pattern(float *pattern, const float *x, size_t n, const float *gamma, const float *beta,
                       ref_stats ref)
{
    for (size_t i = 0; i < n; i++)
        pattern[i] = (float)(((long double)x[i] - ref.mean) * ref.rstd * (gamma ? gamma[i] : 1.0L) +
                             (beta ? beta[i] : 0.0L));
}

void check_row_stats(const norm_job *unit, const norm_job *oracle, size_t r, ref_stats ref, bool special,
                     double *worst_mean, double *worst_rstd, mismatch *m)
{
    bool from_oracle = special && oracle;
    if (unit->rstd) {
        long double want = from_oracle ? (long double)oracle->rstd[r] : ref.rstd;
        long double bound = CONTRACT_TOL * fabsl(want) + 0x1p-149L;
        *worst_rstd = maxd(*worst_rstd, check_stat(unit->rstd[r], want, bound, "rstd", r, m));
    }
    if (unit->mean && !m->failed) {
        long double want = from_oracle ? (long double)oracle->mean[r] : ref.mean;
        long double bound = from_oracle ? CONTRACT_TOL * fabsl(want)
                                        : CONTRACT_TOL * (fabsl(ref.mean) + 1.0L / ref.rstd) + 0x1p-149L;
        *worst_mean = maxd(*worst_mean, check_stat(unit->mean[r], want, bound, "mean", r, m));
    }
}

/* ---- buffers of any element type, with canaries ------------------------------------------ */

#define PAD_BYTES 64
static const uint16_t canary16 = 0x7fc5u;

void *byte_region_alloc(byte_region *r, size_t bytes, size_t off_bytes, int guard)
{
    memset(r, 0, sizeof *r);
    if (guard != GUARD_NONE) {
        r->p = r->base = guard_alloc_bytes(&r->g, bytes, (enum guard_side)(guard - 1));
        r->total = bytes;
    } else {
        r->total = PAD_BYTES + off_bytes + bytes + PAD_BYTES;
        r->heap = aligned_alloc(64, (r->total + 63) / 64 * 64);
        if (!r->heap)
            abort();
        r->base = r->heap;
        r->p = r->base + PAD_BYTES + off_bytes;
    }
    const unsigned char *canary = (const unsigned char *)&canary16;
    for (size_t i = 0; i < r->total; i++) /* byte_region_check expects byte i % 2 at offset i */
        r->base[i] = canary[i % 2];
    return r->p;
}

void byte_region_free(byte_region *r)
{
    if (r->heap)
        free(r->heap);
    else if (r->g.map)
        guard_free(&r->g);
    memset(r, 0, sizeof *r);
}

/* The first byte of r breaking the rule, as an offset from r->p (PTRDIFF_MAX if none); the
 * canary's byte i % 2 was written at every offset i from base, the last of an odd total too. */
static ptrdiff_t byte_region_check(const byte_region *r, size_t rows, size_t stride, size_t row_bytes,
                                   const void *want)
{
    if (!r->base)
        return PTRDIFF_MAX;
    const unsigned char *w = want, *canary = (const unsigned char *)&canary16;
    size_t start = (size_t)(r->p - r->base);
    size_t from = 0; /* the next byte that should be canary */
    for (size_t k = 0; k <= rows; k++) {
        size_t row = k < rows ? start + k * stride : r->total; /* the end of the last gap */
        for (size_t i = from; i < row; i++)
            if (r->base[i] != canary[i % 2])
                return (ptrdiff_t)i - (ptrdiff_t)start;
        if (k == rows)
            break;
        if (w && memcmp(r->base + row, w + k * row_bytes, row_bytes) != 0)
            for (size_t i = 0; i < row_bytes; i++)
                if (r->base[row + i] != w[k * row_bytes + i])
                    return (ptrdiff_t)(row + i) - (ptrdiff_t)start;
        from = row + row_bytes;
    }
    return PTRDIFF_MAX;
}

const char *first_clobbered(const region_rule *rules, size_t count, ptrdiff_t *at)
{
    for (size_t i = 0; i < count; i++) {
        *at = byte_region_check(rules[i].rg, rules[i].rows, rules[i].stride, rules[i].row_bytes, rules[i].want);
        if (*at != PTRDIFF_MAX)
            return rules[i].name;
    }
    return NULL;
}

void *copy_rows(byte_region *rg, const void *src, size_t rows, size_t n, size_t stride, size_t es, unsigned off,
                int guard)
{
    unsigned char *p = out_rows(rg, rows, n, stride, es, off, guard);
    for (size_t k = 0; k < rows; k++)
        memcpy(p + k * stride * es, (const char *)src + k * n * es, n * es);
    return p;
}

void stats_alloc(byte_region *rstd, byte_region *mean, size_t count, unsigned s_off, bool layernorm, int guard,
                 float **prstd, float **pmean)
{
    *prstd = byte_region_alloc(rstd, count * sizeof(float), s_off * sizeof(float), guard);
    if (layernorm)
        *pmean = byte_region_alloc(mean, count * sizeof(float), (s_off + 1) % 4 * sizeof(float), guard);
}

void *out_rows(byte_region *rg, size_t rows, size_t n, size_t stride, size_t es, unsigned off, int guard)
{
    return byte_region_alloc(rg, ((rows - 1) * stride + n) * es, off * es, guard);
}

void *copy_params(byte_region *rg, const void *src, size_t n, size_t es, unsigned off, int guard)
{
    return memcpy(byte_region_alloc(rg, n * es, off * es, guard), src, n * es);
}

void regions_free(byte_region *const *all, size_t count)
{
    for (size_t i = 0; i < count; i++)
        byte_region_free(all[i]);
}

/* ---- one case's verdict ------------------------------------------------------------------ */

char fail_msg[2048];

void fail_if_clobbered(const region_rule *rules, size_t count)
{
    ptrdiff_t at;
    const char *clobbered = first_clobbered(rules, count, &at);
    if (clobbered)
        FAIL("%s modified at byte %td from the buffer start", clobbered, at);
}

bool same_value(const void *a, const void *b, size_t i, int t)
{
    size_t es = norm_dtype_size((norm_dtype)t);
    if (memcmp((const char *)a + i * es, (const char *)b + i * es, es) == 0)
        return true;
    return isnan(type_load(a, i, t)) && isnan(type_load(b, i, t));
}

unsigned bits_of(const void *p, size_t i, int t)
{
    if (t == NORM_F32) {
        uint32_t u;
        memcpy(&u, (const char *)p + 4 * i, 4);
        return u;
    }
    if (t == NORM_I8)
        return (unsigned)(uint8_t)((const int8_t *)p)[i];
    uint16_t h;
    memcpy(&h, (const char *)p + 2 * i, 2);
    return h;
}

/* ---- random layouts ---------------------------------------------------------------------- */

void distinct_strides(rng *r, size_t n, size_t *strides, int count)
{
    static const unsigned base[5] = { 0, 1, 6, 11, 20 }, span[5] = { 1, 5, 5, 9, 7 };
    unsigned extra[5];
    ck_assert(count >= 1 && count <= 5);
    extra[0] = 0;
    for (int i = 1; i < count; i++) /* drawn in order: the first is always 0 */
        extra[i] = base[i] + rng_below(r, span[i]);
    for (int i = count - 1; i > 0; i--) {
        int j = (int)rng_below(r, (uint32_t)i + 1);
        unsigned t = extra[i];
        extra[i] = extra[j];
        extra[j] = t;
    }
    for (int i = 0; i < count; i++)
        strides[i] = n + extra[i];
}

void random_offsets(rng *r, unsigned *const *offs, size_t count)
{
    for (size_t i = 0; i < count; i++)
        *offs[i] = rng_below(r, 4);
}

void gen_affine_params(rng *r, float *gf, float *bf, float *biasf, size_t n, bool unit)
{
    for (size_t i = 0; i < n; i++) {
        double g = (rng_below(r, 8) ? 1.0 : -1.0) * (1.0 + 0.5 * fast_normal(r));
        gf[i] = (float)(unit ? g - 1.0 : g);
        bf[i] = (float)(0.5 * fast_normal(r));
        biasf[i] = (float)(0.25 * fast_normal(r));
    }
}

/* ---- encoding and the shared references ------------------------------------------------------ */

/* count values of type t, and their f32 copy: one array for f32. */
static void *typed_values(float **f, size_t count, int t)
{
    *f = scratch_alloc(count * sizeof(float));
    return t == NORM_F32 ? (void *)*f : scratch_alloc(count * type_size(t));
}

case_inputs case_inputs_alloc(combo c, size_t rows, size_t n)
{
    case_inputs in;
    in.c = c;
    in.x = typed_values(&in.xf, rows * n, c.x);
    in.r = typed_values(&in.rf, rows * n, c.x);
    in.z = typed_values(&in.zf, rows * n, c.x);
    in.h = typed_values(&in.hf, rows * n, c.x);
    in.g = typed_values(&in.gf, n, c.p);
    in.b = typed_values(&in.bf, n, c.p);
    in.bias = typed_values(&in.biasf, n, c.p);
    return in;
}

void case_encode(const case_inputs *in, size_t rows, size_t n)
{
    encode_values(in->x, in->xf, rows * n, in->c.x);
    encode_values(in->r, in->rf, rows * n, in->c.x);
    encode_values(in->z, in->zf, rows * n, in->c.x);
    encode_values(in->g, in->gf, n, in->c.p);
    encode_values(in->b, in->bf, n, in->c.p);
    encode_values(in->bias, in->biasf, n, in->c.p);
}

void encode_values(void *dst, float *vals, size_t count, int t)
{
    for (size_t i = 0; i < count; i++)
        vals[i] = type_store(dst, i, vals[i], t);
}

void residual_add_ref(void *h, float *hf, const float *xf, const float *rf, const float *biasf, size_t rows,
                      size_t n, int t)
{
    for (size_t k = 0; k < rows; k++)
        for (size_t i = 0; i < n; i++) {
            float s = xf[k * n + i] + rf[k * n + i];
            if (biasf)
                s = s + biasf[i];
            hf[k * n + i] = type_store(h, k * n + i, s, t);
        }
}

lmom ref_moments(const long double *s, size_t n, bool layernorm)
{
    lmom m = { 0.0L, 0.0L };
    if (layernorm) {
        long double shift = s[0], sum = 0.0L;
        for (size_t i = 0; i < n; i++)
            sum += s[i] - shift;
        m.mean = shift + sum / (long double)n;
        for (size_t i = 0; i < n; i++)
            m.m2 += (s[i] - m.mean) * (s[i] - m.mean);
    } else {
        for (size_t i = 0; i < n; i++)
            m.m2 += s[i] * s[i];
    }
    return m;
}

ref_stats ref_stats_of(lmom m, size_t n, float eps, bool eps_outside)
{
    long double ms = m.m2 / (long double)n, e = eps;
    ref_stats st = { m.mean, eps_outside ? 1.0L / (sqrtl(ms) + e) : 1.0L / sqrtl(ms + e) };
    return st;
}

/* ---- the plain norm case ---------------------------------------------------------------------- */

plain_spec plain_dense_spec(bool layernorm, size_t rows, size_t n, float eps)
{
    plain_spec s;
    memset(&s, 0, sizeof s);
    s.layernorm = layernorm;
    s.rows = rows;
    s.n = n;
    s.x_stride = s.y_stride = n;
    s.eps = eps;
    s.stats = true;
    return s;
}

typedef struct plain_bufs {
    byte_region x, y, g, b, mean, rstd;
    norm_job job;
} plain_bufs;

static void plain_bufs_init(plain_bufs *s, const plain_spec *sp, const case_inputs *in, bool has_g, bool has_b,
                            int guard)
{
    memset(s, 0, sizeof *s);
    combo c = in->c;
    size_t n = sp->n, rows = sp->rows, xe = type_size(c.x), ye = type_size(c.y), pe = type_size(c.p);
    void *px = copy_rows(&s->x, in->x, rows, n, sp->x_stride, xe, sp->x_off, guard);
    void *py = sp->in_place ? px : out_rows(&s->y, rows, n, sp->y_stride, ye, sp->y_off, guard);
    float *pm = NULL, *pr = NULL;
    if (sp->stats)
        stats_alloc(&s->rstd, &s->mean, rows, sp->s_off, sp->layernorm, guard, &pr, &pm);
    norm_job job = {
        .y = py, .x = px, .y_stride = sp->in_place ? sp->x_stride : sp->y_stride,
        .x_stride = sp->x_stride, .rows = rows, .n = n,
        .gamma = has_g ? copy_params(&s->g, in->g, n, pe, sp->g_off, guard) : NULL,
        .beta = has_b ? copy_params(&s->b, in->b, n, pe, sp->b_off, guard) : NULL,
        .x_type = c.x, .y_type = c.y, .param_type = c.p,
        .eps = sp->eps, .eps_outside_sqrt = sp->eps_outside, .nontemporal = sp->nontemporal,
        .mean = pm, .rstd = pr,
    };
    s->job = job;
}

static void plain_describe(const char *who, combo c, const plain_spec *sp, bool g, bool b, const char *label)
{
    snprintf(test_context, sizeof test_context,
             "seed=0x%016" PRIx64 " variant=%s x=%s y=%s gamma/beta=%s %s [%s] rows=%zu n=%zu "
             "x_stride=%zu y_stride=%zu eps=%g%s gamma=%d beta=%d stats=%d in_place=%d nontemporal=%d "
             "offsets x%u y%u g%u b%u guard=%s",
             checkasm_seed, who, type_name(c.x), type_name(c.y), type_name(c.p),
             sp->layernorm ? "layernorm" : "rmsnorm", label, sp->rows, sp->n, sp->x_stride,
             sp->in_place ? sp->x_stride : sp->y_stride, (double)sp->eps,
             sp->eps_outside ? " (outside sqrt)" : "", g, b, sp->stats, sp->in_place, sp->nontemporal,
             sp->x_off, sp->y_off, sp->g_off, sp->b_off, guard_name(sp->guard));
}

/* Row r of an f32 output: the f32 contract against the reference, and on special rows the
 * NaN/Inf pattern of the oracle (of the reference, rounded, when the oracle is the unit). */
static bool plain_f32_row(const case_inputs *in, const plain_spec *sp, size_t r, const float *yrow,
                          const float *orow, const float *gf, const float *bf, ref_stats ref, bool special,
                          float *pattern, plain_result *res)
{
    size_t n = sp->n;
    const float *x = in->xf + r * n, *pat = NULL;
    if (special && !orow) {
        reference_pattern(pattern, x, n, gf, bf, ref);
        pat = pattern;
    } else if (special) {
        pat = orow;
    }
    for (size_t i = 0; i < n; i++)
        res->infs += isinf(yrow[i]) != 0;
    mismatch m = { 0 };
    res->worst_ratio = maxd(res->worst_ratio, check_row(yrow, x, n, gf, bf, ref, special, pat, &m));
    if (m.failed)
        FAIL("row %zu index %zu: %s: got 0x%08x (%.9g) want %.12Lg (bound %.4Lg) (x=%.9g gamma=%.9g beta=%.9g)", r,
             m.index, m.what, bits_of(yrow, m.index, NORM_F32), m.got, m.want, m.bound, (double)x[m.index],
             gf ? (double)gf[m.index] : 1.0, bf ? (double)bf[m.index] : 0.0);
    return !m.failed;
}

/* Row r of an f16/bf16 output: 1 ulp + the f32 bound from the reference; against the oracle,
 * NaN where it has NaN, its Inf/0 where exact, at most one step apart otherwise (or 1 ulp +
 * twice the bound). */
static bool plain_half_row(const case_inputs *in, const plain_spec *sp, size_t r, const unsigned char *yrow,
                           const unsigned char *orow, const float *gf, const float *bf, ref_stats ref, bool special,
                           plain_result *res)
{
    int t = in->c.y;
    size_t n = sp->n;
    const float *x = in->xf + r * n;
    for (size_t i = 0; i < n; i++) {
        uint16_t got, ob = 0;
        memcpy(&got, yrow + 2 * i, 2);
        float gotf = half_to_float(got, t);
        res->infs += isinf(gotf) != 0; /* isinf may give -1 for -Inf */
        long double xhat = ((long double)x[i] - ref.mean) * ref.rstd;
        long double want = xhat * (gf ? gf[i] : 1.0L) + (bf ? bf[i] : 0.0L);
        /* The reference, wherever it is a number (on a special row it may give up, e.g.
         * Inf * 0, where the oracle did not; the oracle itself is held to it). */
        const char *what = NULL;
        double ulps = 0;
        long double slack = half_slack(gf ? gf[i] : 1.0L, xhat, bf ? bf[i] : 0.0L);
        if ((!orow || !special || isfinite(want)) && !check_half(got, t, want, slack, &ulps))
            what = "y (more than 1 ulp + the f32 bound from the long-double reference)";
        if (!special && ulps > 0)
            res->worst_ulp = maxd(res->worst_ulp, ulps / (1.0 + (double)(slack / type_ulp(want, t))));
        if (orow) {
            memcpy(&ob, orow + 2 * i, 2);
            float of = half_to_float(ob, t);
            int steps = half_steps(got, ob, t);
            /* Non-finite rows carry no rounding, and the overflow tests are built far from
             * the threshold: infinities and zeros must be the oracle's. */
            bool exact = special || (sp->strict_inf && (isinf(of) || isinf(gotf)));
            const char *vs_oracle = NULL;
            if (isnan(of) || isnan(gotf))
                vs_oracle = isnan(of) && isnan(gotf) ? NULL : "y (want NaN exactly where the oracle has NaN)";
            else if (exact && (isinf(of) || isinf(gotf) || of == 0.0f || gotf == 0.0f))
                vs_oracle = of == gotf ? NULL : "y (want the oracle's Inf/0 exactly)";
            else if (steps > 1 && fabsl((long double)gotf - (long double)of) > type_ulp(of, t) + 2 * slack)
                vs_oracle = "y (more than 1 ulp + twice the f32 bound from the oracle)";
            if (vs_oracle)
                what = what ? "y (more than 1 ulp from the long-double reference and from the oracle)" : vs_oracle;
            if (steps > res->worst_steps)
                res->worst_steps = steps;
        }
        if (what) {
            char extra[256] = "";
            int len = 0;
            if (orow)
                len = snprintf(extra, sizeof extra, " oracle 0x%04x (%.9g)", ob, (double)half_to_float(ob, t));
            if (isfinite(gotf) && isfinite(want)) {
                /* The error in ulps, and what is left of it after the final rounding (half an
                 * ulp) against the f32 contract's bound. */
                long double err = fabsl((long double)gotf - want);
                snprintf(extra + len, sizeof extra - (size_t)len,
                         "; error %.4Lg ulp, (error - 0.5 ulp) / f32 contract bound = %.4Lf", err / type_ulp(want, t),
                         (err - 0.5L * type_ulp(gotf, t)) / half_slack(gf ? gf[i] : 1.0L, xhat, bf ? bf[i] : 0.0L));
            }
            FAIL("row %zu index %zu: %s: got 0x%04x (%.9g) want %.12Lg (1 ulp %.4Lg)%s (x=%.9g gamma=%.9g beta=%.9g)",
                 r, i, what, got, (double)gotf, want, type_ulp(want, t), extra, (double)x[i], gf ? (double)gf[i] : 1.0,
                 bf ? (double)bf[i] : 0.0);
            return false;
        }
    }
    return true;
}

bool plain_case(const char *who, norm_kernel_fn *unit, norm_kernel_fn *oracle, const plain_spec *sp,
                const case_inputs *in, int gb, const char *label, plain_result *res)
{
    combo c = in->c;
    bool has_g = gb & 1, has_b = gb & 2;
    const float *gf = has_g ? in->gf : NULL, *bf = has_b ? in->bf : NULL;
    size_t n = sp->n, rows = sp->rows, xe = type_size(c.x), ye = type_size(c.y), pe = type_size(c.p);
    plain_describe(who, c, sp, has_g, has_b, label);
    ck_assert(!sp->in_place || c.x == c.y);
    memset(res, 0, sizeof *res);
    fail_msg[0] = '\0';

    plain_bufs u, o;
    plain_bufs_init(&u, sp, in, has_g, has_b, sp->guard);
    if (oracle) {
        plain_bufs_init(&o, sp, in, has_g, has_b, GUARD_NONE);
        oracle(&o.job);
    }
    unit(&u.job);

    const norm_job *uj = &u.job, *oj = oracle ? &o.job : NULL;
    float *pattern = c.y == NORM_F32 && !oracle ? malloc(n * sizeof(float)) : NULL;
    for (size_t r = 0; r < rows && !fail_msg[0]; r++) {
        const float *x = in->xf + r * n;
        ref_stats ref = ref_row(sp->layernorm, x, n, sp->eps, sp->eps_outside);
        bool special = row_is_special(x, n, gf, bf, ref);
        const unsigned char *yrow = (const unsigned char *)uj->y + r * uj->y_stride * ye;
        const unsigned char *orow = oj ? (const unsigned char *)oj->y + r * oj->y_stride * ye : NULL;
        if (c.y == NORM_F32 ? !plain_f32_row(in, sp, r, (const float *)yrow, (const float *)orow, gf, bf, ref, special,
                                             pattern, res)
                            : !plain_half_row(in, sp, r, yrow, orow, gf, bf, ref, special, res))
            break;
        mismatch m = { 0 };
        check_row_stats(uj, oj, r, ref, special, &res->worst_mean, &res->worst_rstd, &m);
        if (m.failed)
            FAIL("row %zu: %s got %.9g want %.12Lg bound %.4Lg", r, m.what, m.got, m.want, m.bound);
    }

    /* Nothing outside the output rows may change, and the inputs not at all. */
    if (!fail_msg[0]) {
        const region_rule regions[] = {
            { "y (outside the rows)", sp->in_place ? &u.x : &u.y, rows, uj->y_stride * ye, n * ye, NULL },
            { "x (input)", sp->in_place ? &u.y : &u.x, rows, sp->x_stride * xe, n * xe, in->x },
            { "gamma", &u.g, 1, n * pe, n * pe, in->g },
            { "beta", &u.b, 1, n * pe, n * pe, in->b },
            { "mean (outside)", &u.mean, 1, rows * 4, rows * 4, NULL },
            { "rstd (outside)", &u.rstd, 1, rows * 4, rows * 4, NULL },
        };
        fail_if_clobbered(regions, sizeof regions / sizeof regions[0]);
    }
    free(pattern);
    REGIONS_FREE(&u.x, &u.y, &u.g, &u.b, &u.mean, &u.rstd);
    if (oracle)
        REGIONS_FREE(&o.x, &o.y, &o.g, &o.b, &o.mean, &o.rstd);
    return !fail_msg[0];
}

bool dense_case(const char *who, norm_dense_fn *dense, norm_kernel_fn *kernel, const plain_spec *sp,
                const case_inputs *in, bool has_g, bool has_b, const char *label)
{
    const size_t n = sp->n, rows = sp->rows;
    ck_assert(in->c.x == NORM_F32 && in->c.y == NORM_F32 && in->c.p == NORM_F32);
    ck_assert(sp->x_stride == n && (sp->in_place || sp->y_stride == n) && !sp->stats && !sp->eps_outside &&
              !sp->nontemporal && (has_g || n <= NORM_ONES_N));
    plain_describe(who, in->c, sp, has_g, has_b, label);
    fail_msg[0] = '\0';
    plain_bufs d, k;
    plain_bufs_init(&d, sp, in, has_g, has_b, sp->guard);
    plain_bufs_init(&k, sp, in, has_g, has_b, GUARD_NONE);
    kernel(&k.job);
    const norm_job *j = &d.job;
    /* The API's call: gamma, or the ones for a call without (norm_gamma_f32). */
    ck_assert_int_eq(dense(j->y, j->x, norm_gamma_f32(j->gamma, n), j->beta, rows, n, sp->eps), NORM_OK);
    for (size_t r = 0; r < rows && !fail_msg[0]; r++)
        for (size_t i = 0; i < n; i++)
            if (bits_of((const float *)j->y + r * n, i, NORM_F32) != bits_of((const float *)k.job.y + r * n, i, NORM_F32)) {
                FAIL("row %zu index %zu: the dense entry's y 0x%08x, the kernel's 0x%08x (x=%.9g)", r, i,
                     bits_of((const float *)j->y + r * n, i, NORM_F32),
                     bits_of((const float *)k.job.y + r * n, i, NORM_F32), (double)in->xf[r * n + i]);
                break;
            }
    if (!fail_msg[0]) {
        const region_rule regions[] = {
            { "y (outside the rows)", sp->in_place ? &d.x : &d.y, rows, n * 4, n * 4, NULL },
            { "x (input)", sp->in_place ? &d.y : &d.x, rows, n * 4, n * 4, in->x },
            { "gamma", &d.g, 1, n * 4, n * 4, in->g },
            { "beta", &d.b, 1, n * 4, n * 4, in->b },
        };
        fail_if_clobbered(regions, sizeof regions / sizeof regions[0]);
    }
    REGIONS_FREE(&d.x, &d.y, &d.g, &d.b, &d.mean, &d.rstd);
    REGIONS_FREE(&k.x, &k.y, &k.g, &k.b, &k.mean, &k.rstd);
    return !fail_msg[0];
}

/* ---- the run ---------------------------------------------------------------------------------- */

static const checkasm_feature *const features[] = { &checkasm_f32,     &checkasm_half, &checkasm_fused,
                                                    &checkasm_moments, &checkasm_gate, &checkasm_rows };
#define NFEATURES (sizeof features / sizeof features[0])

/* Which (feature, variant) tcases were added: their summaries are printed. */
static bool tested[NFEATURES][HALF_NVARIANTS];

/* Every feature's tcase of every variant this machine runs, variant by variant; a variant it
 * cannot run is printed as skipped, once, with the features it leaves out. */
static Suite *checkasm_suite(void)
{
    static char names[NFEATURES][HALF_NVARIANTS][48];
    Suite *s = suite_create(PROGRAM);
    for (int v = 0; v < HALF_NVARIANTS; v++) {
        const norm_kernels *k = norm_kernels_variant(half_variant_names[v]);
        if (!k) {
            printf("%s: %s: skipped (not compiled in or CPU lacks it):", PROGRAM, half_variant_names[v]);
            for (size_t f = 0; f < NFEATURES; f++)
                printf(" %s", features[f]->name);
            printf("\n");
            continue;
        }
        for (size_t f = 0; f < NFEATURES; f++) {
            snprintf(names[f][v], sizeof names[f][v], "%s/%s", half_variant_names[v], features[f]->name);
            TCase *tc = checkasm_tcase(names[f][v]);
            if (features[f]->add_tests(tc, v, k) > 0) {
                suite_add_tcase(s, tc);
                tested[f][v] = true;
            }
        }
    }
    return s;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    checkasm_seed = test_seed(PROGRAM);
    checkasm_quick = test_quick(PROGRAM);
    install_crash_handler();

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    SRunner *sr = srunner_create(checkasm_suite());
    const char *verbosity = getenv("CK_VERBOSITY");
    fflush(stdout); /* nothing buffered may be duplicated into forked children */
    srunner_run_all(sr, verbosity && strcmp(verbosity, "verbose") == 0 ? CK_VERBOSE : CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    for (size_t f = 0; f < NFEATURES; f++)
        for (int v = 0; v < HALF_NVARIANTS; v++)
            if (tested[f][v])
                features[f]->summary(v);
    printf("%s: contract |y - y_ref| <= 2^-20 * (|gamma| * (1 + |x_hat|) + |beta|) (f32 outputs), "
           "1 ulp (f16/bf16 outputs); %s in %.2f s\n", PROGRAM, failed ? "FAILED" : "all tiers pass",
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
