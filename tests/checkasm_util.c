/* The helpers checkasm.c and the checkasm_*.c files share; see checkasm.h. */
#include "checkasm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

/* ---- the kernel variants and type combinations ----------------------------------------- */

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

int earlier_variant_with_kernels(int v, const norm_kernels *k, combo c)
{
    for (int w = 0; w < v; w++) {
        const norm_kernels *kw = norm_kernels_variant(half_variant_names[w]);
        if (kw && kernel_of(kw, false, c) == kernel_of(k, false, c) && kernel_of(kw, true, c) == kernel_of(k, true, c))
            return w;
    }
    return -1;
}

rng combo_rng(const char *family, const char *test, combo c)
{
    char name[64];
    snprintf(name, sizeof name, "%s %s %s/%s/%s", family, test, type_name(c.x), type_name(c.y), type_name(c.p));
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
    unsigned char *p = byte_region_alloc(rg, ((rows - 1) * stride + n) * es, off * es, guard);
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
