/*
 * The vector layer's primitives (kernels/simd/vec_contract.h) of one ISA, each against its
 * scalar meaning, lane by lane and bit for bit where the contract says so. Compiled once per
 * entry of meson.build's isas table, with that entry's flags and
 *   -DNORM_TEST_VEC_H="vec_<base>.h" -DNORM_TEST_CVT_H="cvt_<base>.h"
 * plus -DNORM_SUFFIX=<name> -DNORM_AVX512_BF16=1 for the avx512bf16 variant. Defines
 * norm_vec_test_<name>(), which returns the number of failed checks (and prints each one).
 */
#include NORM_TEST_VEC_H
#include NORM_TEST_CVT_H
#include "vec_contract.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "scalar/half.h"

#define NORM_STR_(x) #x
#define NORM_STR(x) NORM_STR_(x)
#define NORM_TEST_CAT_(a, b) a##b
#define NORM_TEST_CAT(a, b) NORM_TEST_CAT_(a, b)
#define NORM_TEST_FN NORM_TEST_CAT(norm_vec_test_, NORM_SUFFIX)
int NORM_TEST_FN(void);

static int failures;

static void check(bool ok, const char *what, int lane, double got, double want)
{
    if (!ok && failures++ < 20)
        printf("  %s: %s, lane %d: got %a, want %a\n", NORM_STR(NORM_SUFFIX), what, lane, got, want);
}

static uint32_t bits(float f) { return norm_f32_bits(f); }
static bool same(float a, float b) { return bits(a) == bits(b); }

/* A small deterministic generator: the inputs do not depend on the run. */
static uint32_t state = 12345;
static uint32_t next(void)
{
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}
static float any_float(void) { return norm_f32_from_bits(next()); }
static float moderate(void) { return ((float)(next() % 20001) - 10000.0f) / 64.0f; }

/* Values every lane-wise check sees: zeros, infinities, NaN, subnormals, extremes, halfway
 * cases of the int8 rounding. */
static const float specials[] = { 0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 1.5f, 2.5f, -2.5f, 126.5f, 127.5f,
                                  -127.5f, 1000.0f, -1000.0f, INFINITY, -INFINITY, NAN, 0x1p-149f,
                                  -0x1p-140f, 0x1p-126f, FLT_MAX, -FLT_MAX, 65504.0f, 65520.0f,
                                  0x1.002p0f, 0x1.0018p0f, 3.14159265f };
#define NSPECIAL (sizeof specials / sizeof specials[0])

/* Fills NORM_W lanes: specials first (from offset), then random values of the given kind. */
static void fill(float *v, size_t offset, bool random_bits)
{
    for (int l = 0; l < NORM_W; l++) {
        size_t s = offset + (size_t)l;
        v[l] = s < NSPECIAL ? specials[s] : random_bits ? any_float() : moderate();
    }
}

static void test_memory(void)
{
    float in[NORM_W], out[NORM_W + 4];
    fill(in, 0, true);
    vf_store(out, vf_load(in));
    for (int l = 0; l < NORM_W; l++)
        check(same(out[l], in[l]), "load/store", l, out[l], in[l]);
    vf_store(out, vf_pin(vf_load(in)));
    for (int l = 0; l < NORM_W; l++)
        check(same(out[l], in[l]), "pin", l, out[l], in[l]);
    vf_store(out, vf_set1(-2.5f));
    for (int l = 0; l < NORM_W; l++)
        check(same(out[l], -2.5f), "set1", l, out[l], -2.5f);
    vf_store(out, vf_zero());
    for (int l = 0; l < NORM_W; l++)
        check(bits(out[l]) == 0, "zero", l, out[l], 0.0);
    for (size_t k = 1; k < (size_t)NORM_W; k++) {
        /* Partial loads read k elements at the end of a buffer, partial stores write k and
         * leave the canaries after them. */
        float src[NORM_W];
        memcpy(src + NORM_W - k, in, k * sizeof *in);
        vf_store(out, vf_load_part(src + NORM_W - k, k));
        for (int l = 0; l < NORM_W; l++)
            check((size_t)l < k ? same(out[l], in[l]) : bits(out[l]) == 0, "load_part", l, out[l], in[l]);
        for (int l = 0; l < NORM_W + 4; l++)
            out[l] = 777.0f;
        vf_store_part(out, vf_load(in), k);
        for (int l = 0; l < NORM_W + 4; l++)
            check((size_t)l < k ? same(out[l], in[l]) : out[l] == 777.0f, "store_part", l, out[l],
                  (size_t)l < k ? in[l] : 777.0f);
        vf_store(out, vf_keep_first(vf_load(in), k));
        for (int l = 0; l < NORM_W; l++)
            check((size_t)l < k ? same(out[l], in[l]) : bits(out[l]) == 0, "keep_first", l, out[l], in[l]);
    }
    _Alignas(NORM_ALIGN) float streamed[NORM_W];
    vf_stream(streamed, vf_load(in));
    vf_stream_fence();
    for (int l = 0; l < NORM_W; l++)
        check(same(streamed[l], in[l]), "stream", l, streamed[l], in[l]);
}

static void test_arithmetic(void)
{
    for (int round = 0; round < 64; round++) {
        float a[NORM_W], b[NORM_W], c[NORM_W], out[NORM_W];
        fill(a, round == 0 ? 0 : NSPECIAL, round & 1);
        fill(b, round == 1 ? 0 : NSPECIAL, false);
        fill(c, NSPECIAL, false);
        const vf va = vf_load(a), vb = vf_load(b), vc = vf_load(c);
#define LANEWISE(name, expr, want)                                                \
        vf_store(out, expr);                                                      \
        for (int l = 0; l < NORM_W; l++) {                                        \
            float w_ = (want);                                                    \
            check(same(out[l], w_) || (isnan(out[l]) && isnan(w_)), name, l, out[l], w_); \
        }
        LANEWISE("add", vf_add(va, vb), a[l] + b[l])
        LANEWISE("sub", vf_sub(va, vb), a[l] - b[l])
        LANEWISE("mul", vf_mul(va, vb), a[l] * b[l])
#if NORM_HAS_FMA
        LANEWISE("fmadd", vf_fmadd(va, vb, vc), fmaf(a[l], b[l], c[l]))
#else
        LANEWISE("fmadd", vf_fmadd(va, vb, vc), (float)(a[l] * b[l]) + c[l])
#endif
        LANEWISE("abs", vf_abs(va), norm_f32_from_bits(bits(a[l]) & 0x7fffffffu))
        /* max_num(acc, v): acc where v is NaN; otherwise the larger. */
        LANEWISE("max_num", vf_max_num(vb, va), isnan(a[l]) ? b[l] : a[l] > b[l] ? a[l] : b[l])
        LANEWISE("select_nonneg", vf_select_nonneg(va, vb, vc), a[l] >= 0.0f ? b[l] : c[l])
#undef LANEWISE
        /* The largest lane of non-negative, non-NaN lanes. */
        float m = 0.0f;
        for (int l = 0; l < NORM_W; l++) {
            b[l] = fabsf(moderate());
            m = b[l] > m ? b[l] : m;
        }
        float got = vf_reduce_max(vf_load(b));
        check(same(got, m), "reduce_max", -1, got, m);
        /* The sum of the lanes in f32: within (NORM_W - 1) roundings of the exact sum. */
        double exact = 0.0, mag = 0.0;
        for (int l = 0; l < NORM_W; l++) {
            a[l] = moderate();
            exact += a[l];
            mag += fabs(a[l]);
        }
        float sum = vf_reduce_add(vf_load(a));
        check(fabs(sum - exact) <= NORM_W * 0x1p-24 * mag, "reduce_add", -1, sum, (float)exact);
    }
}

static void test_functions(void)
{
    float in[NORM_W], out[NORM_W];
    double worst_recip = 0.0, worst_exp = 0.0;
    for (int round = 0; round < 2000; round++) {
        for (int l = 0; l < NORM_W; l++)
            in[l] = 1.0f + (float)((next() % 1000001) / 1e6);
        vf_store(out, vf_recip_1_2(vf_load(in)));
        for (int l = 0; l < NORM_W; l++)
            worst_recip = fmax(worst_recip, fabs((double)out[l] * in[l] - 1.0));
        for (int l = 0; l < NORM_W; l++)
            in[l] = -(float)((next() % 1000001) / 1e6) * 88.0f;
        vf_store(out, vf_exp(vf_load(in)));
        for (int l = 0; l < NORM_W; l++) {
            double want = exp((double)in[l]);
            if (want >= 0x1p-126)
                worst_exp = fmax(worst_exp, fabs(out[l] - want) / want);
        }
    }
    /* recip_1_2: about 2^-28 before rounding, so within an f32 ulp or so of 1/d. */
    check(worst_recip <= 0x1p-22, "recip_1_2 relative error", -1, worst_recip, 0x1p-22);
    /* SLEEF's u10 exp: 1 ulp, 2^-23 relative. */
    check(worst_exp <= 0x1p-22, "exp relative error", -1, worst_exp, 0x1p-22);
    in[0] = 0.0f;
    for (int l = 1; l < NORM_W; l++)
        in[l] = -INFINITY;
    vf_store(out, vf_exp(vf_load(in)));
    check(out[0] == 1.0f, "exp(0)", 0, out[0], 1.0);
    for (int l = 1; l < NORM_W; l++)
        check(out[l] == 0.0f, "exp(-inf)", l, out[l], 0.0);
}

static int8_t i8_of(float v)
{
    if (isnan(v))
        return 0;
    v = v < -127.0f ? -127.0f : v > 127.0f ? 127.0f : v;
    return (int8_t)nearbyintf(v); /* the default rounding mode: to nearest even */
}

static void test_int8(void)
{
    for (int round = 0; round < 32; round++) {
        float in[NORM_W];
        fill(in, round == 0 ? 0 : NSPECIAL, false);
        for (size_t k = 1; k <= (size_t)NORM_W; k++) {
            int8_t out[NORM_W + 4];
            memset(out, 99, sizeof out);
            if (k == (size_t)NORM_W)
                vf_store_i8(out, vf_load(in));
            else
                vf_store_i8_part(out, vf_load(in), k);
            for (int l = 0; l < NORM_W + 4; l++)
                check((size_t)l < k ? out[l] == i8_of(in[l]) : out[l] == 99,
                      k == (size_t)NORM_W ? "store_i8" : "store_i8_part", l, out[l],
                      (size_t)l < k ? i8_of(in[l]) : 99);
        }
    }
}

/* f16 and bf16 against kernels/scalar/half.h, bit for bit (NaNs: both NaN). */
static void test_half(bool bf16)
{
    const char *name = bf16 ? "bf16" : "f16";
    for (int round = 0; round < 256; round++) {
        uint16_t h[NORM_W], back[NORM_W + 4];
        float f[NORM_W], out[NORM_W];
        for (int l = 0; l < NORM_W; l++)
            h[l] = (uint16_t)next();
        fill(f, round == 0 ? 0 : NSPECIAL, round & 1);
        vf_store(out, bf16 ? vf_load_bf16(h) : vf_load_f16(h));
        for (int l = 0; l < NORM_W; l++) {
            float want = bf16 ? norm_bf16_to_f32(h[l]) : norm_f16_to_f32(h[l]);
            check(same(out[l], want), bf16 ? "load_bf16" : "load_f16", l, out[l], want);
        }
        if (bf16) {
            vf_store(out, vf_widen_bf16(h));
            for (int l = 0; l < NORM_W; l++) {
                float want = norm_f32_from_bits((uint32_t)h[l] << 16);
                check(same(out[l], want) || (isnan(out[l]) && isnan(want)), "widen_bf16", l, out[l], want);
            }
        }
        const vf v = vf_load(f);
        if (bf16)
            vf_store_bf16(back, v);
        else
            vf_store_f16(back, v);
        for (int l = 0; l < NORM_W; l++) {
            uint16_t want = bf16 ? norm_f32_to_bf16(f[l]) : norm_f32_to_f16(f[l]);
            check(back[l] == want, bf16 ? "store_bf16" : "store_f16", l, back[l], want);
        }
        vf_store(out, bf16 ? vf_round_bf16(v) : vf_round_f16(v));
        for (int l = 0; l < NORM_W; l++) {
            float want = bf16 ? norm_bf16_to_f32(norm_f32_to_bf16(f[l])) : norm_f16_to_f32(norm_f32_to_f16(f[l]));
            check(same(out[l], want) || (isnan(out[l]) && isnan(want)), bf16 ? "round_bf16" : "round_f16", l,
                  out[l], want);
        }
        _Alignas(NORM_ALIGN) uint16_t streamed[NORM_W];
        if (bf16)
            vf_stream_bf16(streamed, v);
        else
            vf_stream_f16(streamed, v);
        vf_stream_fence();
        for (int l = 0; l < NORM_W; l++)
            check(streamed[l] == back[l], bf16 ? "stream_bf16" : "stream_f16", l, streamed[l], back[l]);
        for (size_t k = 1; k < (size_t)NORM_W; k++) {
            uint16_t src[NORM_W];
            memcpy(src + NORM_W - k, h, k * sizeof *h);
            vf_store(out, bf16 ? vf_load_bf16_part(src + NORM_W - k, k) : vf_load_f16_part(src + NORM_W - k, k));
            for (int l = 0; l < NORM_W; l++) {
                float want = (size_t)l < k ? (bf16 ? norm_bf16_to_f32(h[l]) : norm_f16_to_f32(h[l])) : 0.0f;
                check(same(out[l], want), bf16 ? "load_bf16_part" : "load_f16_part", l, out[l], want);
            }
            for (int l = 0; l < NORM_W + 4; l++)
                back[l] = 0xabcd;
            if (bf16)
                vf_store_bf16_part(back, v, k);
            else
                vf_store_f16_part(back, v, k);
            for (int l = 0; l < NORM_W + 4; l++) {
                uint16_t want = (size_t)l >= k ? 0xabcd : bf16 ? norm_f32_to_bf16(f[l]) : norm_f32_to_f16(f[l]);
                check(back[l] == want, bf16 ? "store_bf16_part" : "store_f16_part", l, back[l], want);
            }
        }
    }
    (void)name;
}

static void test_double(void)
{
    float in[NORM_W];
    double want = 0.0;
    for (int l = 0; l < NORM_W; l++) {
        in[l] = (float)(next() % 1000) - 500.0f + 0.25f;
        want += in[l];
    }
    /* Integers and quarters: every sum is exact, whatever the order. */
    double got = vd_sum(vd_add(vd_from_vf(vf_load(in)), vd_from_vf(vf_load(in))));
    check(got == 2 * want, "vd_from_vf/vd_add/vd_sum", -1, got, 2 * want);
    check(vd_sum(vd_zero()) == 0.0, "vd_zero", -1, vd_sum(vd_zero()), 0.0);
#if NORM_HAS_RSQRT14
    for (double v = 0x1p-1000; v < 0x1p1000; v *= 3.7) {
        double r = vd_rsqrt14(v), rel = fabs(r * sqrt(v) - 1.0);
        check(rel <= 0x1p-14, "rsqrt14", -1, rel, 0x1p-14);
    }
#endif
}

#if NORM_BF16_PAIRS
static void test_pairs(void)
{
    uint16_t h[2 * NORM_W], back[2 * NORM_W];
    float f[2 * NORM_W], even[NORM_W], odd[NORM_W];
    for (int j = 0; j < 2 * NORM_W; j++) {
        f[j] = moderate();
        h[j] = norm_f32_to_bf16(f[j]);
    }
    vh_pairs p = vh_load_pairs(h);
    vf_store(even, vf_bf16_even(p));
    vf_store(odd, vf_bf16_odd(p));
    for (int l = 0; l < NORM_W; l++) {
        check(same(even[l], norm_bf16_to_f32(h[2 * l])), "bf16_even", l, even[l], norm_bf16_to_f32(h[2 * l]));
        check(same(odd[l], norm_bf16_to_f32(h[2 * l + 1])), "bf16_odd", l, odd[l], norm_bf16_to_f32(h[2 * l + 1]));
    }
    vh_store(back, vh_pack_pairs(vf_load(even), vf_load(odd)));
    for (int j = 0; j < 2 * NORM_W; j++)
        check(back[j] == h[j], "pack_pairs/store", j, back[j], h[j]);
    vf e, o;
    vf_load_f32_pairs(f, &e, &o);
    vf_store(even, e);
    vf_store(odd, o);
    for (int l = 0; l < NORM_W; l++) {
        check(same(even[l], f[2 * l]), "load_f32_pairs even", l, even[l], f[2 * l]);
        check(same(odd[l], f[2 * l + 1]), "load_f32_pairs odd", l, odd[l], f[2 * l + 1]);
    }
#if NORM_BF16_DOT
    /* Small integers: every product and sum exact. */
    for (int j = 0; j < 2 * NORM_W; j++)
        h[j] = norm_f32_to_bf16((float)((int)(next() % 31) - 15));
    p = vh_load_pairs(h);
    vf_store(even, vf_dot_pairs(vf_set1(0.5f), p, p));
    vf_store(odd, vf_dot_pairs(vf_zero(), p, vh_ones()));
    for (int l = 0; l < NORM_W; l++) {
        float a = norm_bf16_to_f32(h[2 * l]), b = norm_bf16_to_f32(h[2 * l + 1]);
        check(even[l] == 0.5f + a * a + b * b, "dot_pairs", l, even[l], 0.5f + a * a + b * b);
        check(odd[l] == a + b, "dot_pairs with ones", l, odd[l], a + b);
    }
#endif
}
#endif

int NORM_TEST_FN(void)
{
    failures = 0;
    test_memory();
    test_arithmetic();
    test_functions();
    test_int8();
    test_half(false);
    test_half(true);
    test_double();
#if NORM_BF16_PAIRS
    test_pairs();
#endif
    return failures;
}
