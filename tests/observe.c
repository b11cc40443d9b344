/* SPDX-License-Identifier: MIT */
/*
 * observe: what the library tells a person (issue #16, items 3 and 4).
 *
 *  - errors: for many mistakes, the status (whose numbers never change) and the detail of
 *    norm_last_error_detail(), which must name the field or the pair of buffers at fault with
 *    their values; that it is per thread, and what a successful call leaves in it;
 *  - dispatch: NORM_ISA in any case; a NORM_ISA that names no tier here, a variant, another
 *    architecture's tier, or (with the argument "unavailable") a tier this build or CPU cannot
 *    run, each reported by norm_env_warning() and by NORM_VERBOSE's warning line; NORM_VERBOSE
 *    off by default (nothing on stderr, even for errors), and with it one line per call; the
 *    environment read once; norm_isa_available() applying NORM_ISA's cap; the active variant.
 *
 * The environment is read once per process, on the first call, so every dispatch case runs in
 * a forked child that sets the environment before touching the library; the parent never calls
 * the library in those tests (Check may not fork: CK_FORK=no under qemu), and reads what the
 * child wrote to stdout and stderr from temporary files.
 *
 * It links the internal library (as checkasm does) for norm_variant_supported(): whether this
 * CPU runs a variant is the library's to say, from the one ISA list, not this test's.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dispatch.h" /* norm_variant_supported, norm.h, the ISA list and config.h */

#define PROGRAM "observe"

/* ---- the ISA list, as this test reads it ----------------------------------------------- */

#define T_NAME(name, NAME, value, arch, pred) #name,
#define T_NATIVE(name, NAME, value, arch, pred) NORM_ON_##arch,
#define T_VALUE(name, NAME, value, arch, pred) value,
#define V_NONE(name, NAME, tier, arch, pred)
#define T_NONE(name, NAME, value, arch, pred)
#define V_NAME(name, NAME, tier, arch, pred) #name,
#define V_TIER(name, NAME, tier, arch, pred) NORM_ISA_##tier,
#define V_NATIVE(name, NAME, tier, arch, pred) NORM_ON_##arch,
static const char *const tier_names[] = { NORM_ISA_LIST(T_NAME, V_NONE) };
static const bool tier_native[] = { NORM_ISA_LIST(T_NATIVE, V_NONE) };
/* A dummy first element: the list may have no variant. */
static const char *const variant_names[] = { NULL, NORM_ISA_LIST(T_NONE, V_NAME) };
static const int variant_tier[] = { -1, NORM_ISA_LIST(T_NONE, V_TIER) };
static const bool variant_native[] = { false, NORM_ISA_LIST(T_NONE, V_NATIVE) };
#define NVARIANTS (sizeof variant_names / sizeof *variant_names)

/* ---- errors ----------------------------------------------------------------------------- */

enum { N = 128, ROWS = 4 };
static float X[ROWS * N], Y[ROWS * N + 64], G[N], B[N], R[ROWS * N], H[ROWS * N], S[ROWS];
static norm_moments M[ROWS], M2[ROWS];

static norm_params valid(norm_kind kind)
{
    norm_params p = norm_params_default(kind);
    p.rows = ROWS;
    p.n = N;
    p.x = X;
    p.y = Y;
    p.gamma = G;
    p.beta = B;
    for (size_t i = 0; i < ROWS * N; i++)
        X[i] = (float)(i % 17) - 8.0f;
    for (size_t i = 0; i < N; i++)
        G[i] = 1.0f, B[i] = 0.0f;
    return p;
}

/* The status must be exactly want, and the detail must hold every one of the given pieces. */
#define EXPECT_DETAIL(call, want, ...)                                                                     \
    do {                                                                                                   \
        norm_status st_ = (call);                                                                          \
        const char *d_ = norm_last_error_detail();                                                         \
        ck_assert_msg(st_ == (want), "%s: status %d (%s), want %d; detail \"%s\"", #call, st_,            \
                      norm_status_string(st_), (int)(want), d_);                                           \
        const char *const pieces_[] = { __VA_ARGS__ };                                                     \
        for (size_t k_ = 0; k_ < sizeof pieces_ / sizeof *pieces_; k_++)                                   \
            ck_assert_msg(strstr(d_, pieces_[k_]) != NULL, "%s: detail \"%s\" lacks \"%s\"", #call, d_,  \
                          pieces_[k_]);                                                                    \
    } while (0)

/* The values are ABI: they must never change. */
START_TEST(test_status_numbers)
{
    static const struct { norm_status s; int v; } abi[] = {
        { NORM_OK, 0 }, { NORM_ERR_NULL_POINTER, 1 }, { NORM_ERR_BAD_SIZE, 2 }, { NORM_ERR_BAD_STRIDE, 3 },
        { NORM_ERR_SIZE_OVERFLOW, 4 }, { NORM_ERR_BAD_EPS, 5 }, { NORM_ERR_OVERLAP, 6 },
        { NORM_ERR_UNSUPPORTED_TYPE, 7 }, { NORM_ERR_BAD_ARGUMENT, 8 }, { NORM_ERR_ISA_UNAVAILABLE, 9 },
        { NORM_ERR_BAD_SCALE, 10 }, { NORM_ERR_BAD_MOMENTS, 11 },
    };
    for (size_t i = 0; i < sizeof abi / sizeof *abi; i++)
        ck_assert_int_eq(abi[i].s, abi[i].v);
    ck_assert_ptr_nonnull(norm_last_error_detail());
}
END_TEST

START_TEST(test_detail_fields)
{
    norm_params p = valid(NORM_RMSNORM);
    p.kind = (norm_kind)7;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_BAD_ARGUMENT, "kind 7");
    p = valid(NORM_RMSNORM);
    p.flags = 0x80;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_BAD_ARGUMENT, "flags 0x80", "bits 0x80");
    p = valid(NORM_RMSNORM);
    p.x_type = (norm_dtype)9;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_BAD_ARGUMENT, "x_type 9");
    p = valid(NORM_RMSNORM);
    p.y_type = (norm_dtype)12;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_BAD_ARGUMENT, "y_type 12");
    p = valid(NORM_RMSNORM);
    p.param_type = NORM_BF16;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_UNSUPPORTED_TYPE, "param_type bf16 with x_type f32");
    p = valid(NORM_RMSNORM);
    p.mean = S;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_BAD_ARGUMENT, "mean is set with kind NORM_RMSNORM");
    p = valid(NORM_LAYERNORM);
    p.bias = B;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_BAD_ARGUMENT, "bias is set but residual is NULL");
    p = valid(NORM_RMSNORM);
    p.flags = NORM_GATE_BEFORE_NORM;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_BAD_ARGUMENT, "NORM_GATE_BEFORE_NORM but gate is NULL");
    p = valid(NORM_LAYERNORM);
    p.gate = R;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_BAD_ARGUMENT, "gate is set with kind NORM_LAYERNORM");
    p = valid(NORM_RMSNORM);
    p.moments = M;
    p.residual = R;
    p.residual_out = H;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_BAD_ARGUMENT, "moments and residual are both set");
    p = valid(NORM_RMSNORM);
    p.n = 0;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_BAD_SIZE, "n is 0");
    p = valid(NORM_RMSNORM);
    p.eps = -0.5f;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_BAD_EPS, "eps is -0.5");
    p = valid(NORM_RMSNORM);
    p.y_scale = 0.25f;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_BAD_ARGUMENT, "y_scale is set with y_type f32");
    p = valid(NORM_RMSNORM);
    p.y_type = NORM_I8;
    p.y_scale = 0.5f;
    p.y_scales = S;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_BAD_SCALE, "y_scale 0.5 and y_scales are both set");
    p.y_scales = NULL;
    p.y_scale = INFINITY;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_BAD_SCALE, "y_scale inf");
    p.y_scale = 0.0f;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_BAD_SCALE, "neither y_scale nor y_scales");
    EXPECT_DETAIL(norm_run(NULL), NORM_ERR_NULL_POINTER, "params is NULL");
    p = valid(NORM_RMSNORM);
    p.struct_size = 3;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_BAD_ARGUMENT, "struct_size 3 ");
    EXPECT_DETAIL(norm_set_max_isa((norm_isa)99), NORM_ERR_BAD_ARGUMENT, "norm_set_max_isa(99)");
}
END_TEST

START_TEST(test_detail_buffers)
{
    norm_params p = valid(NORM_RMSNORM);
    p.y_stride = 100;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_BAD_STRIDE, "y_stride 100 is smaller than n 128");
    p = valid(NORM_RMSNORM);
    p.gate_stride = 5; /* a buffer not given still needs a valid stride */
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_BAD_STRIDE, "gate_stride 5 is smaller than n 128");
    p = valid(NORM_RMSNORM);
    p.x = NULL;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_NULL_POINTER, "x is NULL");
    p = valid(NORM_RMSNORM);
    p.residual = R;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_NULL_POINTER, "residual_out is NULL but required with residual");
    p = valid(NORM_RMSNORM);
    p.x_stride = SIZE_MAX / 2;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_SIZE_OVERFLOW, "x (rows 4, stride", "n 128)", "4-byte elements",
                  "past the end of the address space");
    /* y's rows end inside gamma: the pair, with the layout of each and the offset. */
    p = valid(NORM_RMSNORM);
    p.gamma = Y + 3 * N + 64;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_OVERLAP, "y (rows 4, stride 128, n 128) overlaps gamma (length 128)",
                  "starts 1792 bytes after it");
    /* Not in place: y starts where x does but with another stride. */
    p = valid(NORM_RMSNORM);
    p.rows = 2;
    p.x = Y;
    p.x_stride = 2 * N;
    p.gamma = G;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_OVERLAP, "y (rows 2, stride 128, n 128) overlaps x (rows 2, stride 256",
                  "in place needs equal strides");
    /* Two outputs. */
    p = valid(NORM_LAYERNORM);
    p.rstd = S;
    p.mean = S + 2;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_OVERLAP, "mean (length 4) overlaps rstd (length 4)", "8 bytes before it");
    p = valid(NORM_RMSNORM);
    p.moments = M;
    for (size_t r = 0; r < ROWS; r++)
        M[r] = (norm_moments){ N, 0.0, N };
    M[2].count = -1.0;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_BAD_MOMENTS, "moments[2] has count -1");

    /* norm_moments_run: the output argument and the apply step's fields, by name. */
    norm_params q = norm_params_default(NORM_LAYERNORM);
    q.rows = ROWS;
    q.n = N;
    q.x = X;
    EXPECT_DETAIL(norm_moments_run(&q, NULL), NORM_ERR_NULL_POINTER, "out is NULL");
    EXPECT_DETAIL(norm_moments_run(&q, (norm_moments *)(void *)(X + 8)), NORM_ERR_OVERLAP, "out (length 4) overlaps x");
    q.gamma = G;
    EXPECT_DETAIL(norm_moments_run(&q, M), NORM_ERR_BAD_ARGUMENT, "gamma is set: norm_moments_run");

    /* norm_moments_combine. */
    for (size_t r = 0; r < ROWS; r++)
        M[r] = M2[r] = (norm_moments){ N, 0.0, N };
    M2[3].m2 = -2.0;
    EXPECT_DETAIL(norm_moments_combine(M, M2, ROWS), NORM_ERR_BAD_MOMENTS, "part[3] has count 128 and m2 -2");
    EXPECT_DETAIL(norm_moments_combine(M, M + 1, ROWS), NORM_ERR_OVERLAP, "acc (rows 4) overlaps part");
    EXPECT_DETAIL(norm_moments_combine(NULL, M, ROWS), NORM_ERR_NULL_POINTER, "acc is NULL");

    /* The dense calls. */
    EXPECT_DETAIL(norm_rmsnorm_f32(Y, NULL, G, NULL, 2, N, 1e-6f), NORM_ERR_NULL_POINTER, "x is NULL");
    EXPECT_DETAIL(norm_layernorm_f32(Y + 8, Y, G, NULL, 2, N, 1e-6f), NORM_ERR_OVERLAP,
                  "y (rows 2, n 128) overlaps x (rows 2)", "32 bytes before it", "in place needs y == x");
    EXPECT_DETAIL(norm_rmsnorm_f32(Y, X, G, Y + N, 2, N, 1e-6f), NORM_ERR_OVERLAP, "overlaps beta (length 128)");
    EXPECT_DETAIL(norm_rmsnorm_bf16((uint16_t *)Y, (const uint16_t *)X, NULL, NULL, 2, 0, 1e-6f), NORM_ERR_BAD_SIZE,
                  "n is 0");
    EXPECT_DETAIL(norm_layernorm_f16((uint16_t *)Y, (const uint16_t *)X, NULL, NULL, 2, N, NAN), NORM_ERR_BAD_EPS,
                  "eps is nan");
}
END_TEST

/* A success leaves the detail as it was (documented: read it right after a failing call). */
START_TEST(test_detail_after_success)
{
    norm_params p = valid(NORM_RMSNORM);
    p.y_stride = 7;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_BAD_STRIDE, "y_stride 7");
    char before[512];
    snprintf(before, sizeof before, "%s", norm_last_error_detail());
    p = valid(NORM_RMSNORM);
    ck_assert_int_eq(norm_run(&p), NORM_OK);
    ck_assert_str_eq(norm_last_error_detail(), before);
}
END_TEST

static void *thread_error(void *arg)
{
    char *out = arg;
    snprintf(out, 512, "%s", norm_last_error_detail()); /* a new thread's: empty */
    norm_params p = valid(NORM_RMSNORM);
    p.n = 0;
    if (norm_run(&p) == NORM_ERR_BAD_SIZE)
        snprintf(out + 256, 256, "%s", norm_last_error_detail());
    return NULL;
}

START_TEST(test_detail_per_thread)
{
    norm_params p = valid(NORM_RMSNORM);
    p.x_stride = 3;
    EXPECT_DETAIL(norm_run(&p), NORM_ERR_BAD_STRIDE, "x_stride 3");
    static char seen[512];
    memset(seen, 'z', sizeof seen);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, thread_error, seen), 0);
    pthread_join(t, NULL);
    ck_assert_msg(seen[0] == 0, "a new thread's detail is \"%.60s\", want \"\"", seen);
    ck_assert_msg(strstr(seen + 256, "n is 0") != NULL, "the thread's own error: \"%.200s\"", seen + 256);
    /* This thread's detail is its own, whatever the other thread did. */
    ck_assert_msg(strstr(norm_last_error_detail(), "x_stride 3") != NULL, "detail \"%s\"", norm_last_error_detail());
}
END_TEST

/* ---- dispatch, in forked children ------------------------------------------------------- */

typedef struct child_output {
    char out[4096]; /* what the child printed on stdout: "key=value" lines */
    char err[8192]; /* what the library wrote on stderr */
} child_output;

static void read_all(FILE *f, char *buf, size_t size)
{
    rewind(f);
    size_t k = fread(buf, 1, size - 1, f);
    buf[k] = 0;
    fclose(f);
}

/* In and outside Check's tests ("observe unavailable" runs without Check). */
static bool under_check = true;
#define REQUIRE(cond, ...)                                                 \
    do {                                                                   \
        if (under_check) {                                                 \
            ck_assert_msg(cond, __VA_ARGS__);                              \
        } else if (!(cond)) {                                              \
            printf("%s: FAIL: ", PROGRAM);                                 \
            printf(__VA_ARGS__);                                           \
            printf("\n");                                                  \
            exit(EXIT_FAILURE);                                            \
        }                                                                  \
    } while (0)

/* Forks; the child sets NORM_ISA and NORM_VERBOSE (NULL: unset), runs body with stdout and
 * stderr going to files, and exits 0. The parent waits and reads both. */
static void in_child(const char *isa, const char *verbose, void (*body)(void), child_output *o)
{
    FILE *out = tmpfile(), *err = tmpfile();
    REQUIRE(out && err, "tmpfile: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        if (isa)
            setenv("NORM_ISA", isa, 1);
        else
            unsetenv("NORM_ISA");
        if (verbose)
            setenv("NORM_VERBOSE", verbose, 1);
        else
            unsetenv("NORM_VERBOSE");
        if (dup2(fileno(out), 1) < 0 || dup2(fileno(err), 2) < 0)
            _exit(3);
        body();
        fflush(stdout);
        fflush(stderr);
        _exit(0);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
    REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child (NORM_ISA=%s NORM_VERBOSE=%s) failed: %d",
                  isa ? isa : "(unset)", verbose ? verbose : "(unset)", status);
    read_all(out, o->out, sizeof o->out);
    read_all(err, o->err, sizeof o->err);
}

/* The value of "key=" in the child's stdout ("" if absent). */
static const char *child_value(const child_output *o, const char *key, char *buf, size_t size)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "%s=", key);
    buf[0] = 0;
    for (const char *line = o->out; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, pattern, strlen(pattern)) == 0) {
            size_t len = strcspn(line + strlen(pattern), "\n");
            snprintf(buf, size, "%.*s", (int)len, line + strlen(pattern));
        }
    return buf;
}

static size_t count_lines(const char *text, const char *prefix)
{
    size_t count = 0;
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        count += strncmp(line, prefix, strlen(prefix)) == 0;
    return count;
}

/* What every child reports after four calls (three good, one bad) through each kind of entry
 * point: the tier, the variant, the environment warning and which tiers are available. */
static void body_calls(void)
{
    norm_params p = valid(NORM_RMSNORM);
    p.rows = 2;
    p.n = 64;
    norm_status s1 = norm_rmsnorm_f32(Y, X, G, NULL, 2, 64, 1e-6f);
    p = valid(NORM_LAYERNORM);
    p.rows = 3;
    p.rstd = S;
    p.flags = NORM_EPS_OUTSIDE_SQRT;
    norm_status s2 = norm_run(&p);
    norm_params q = norm_params_default(NORM_RMSNORM);
    q.rows = 2;
    q.n = N;
    q.x = X;
    norm_status s3 = norm_moments_run(&q, M);
    p.n = 0;
    norm_status s4 = norm_run(&p);
    printf("statuses=%d %d %d %d\n", s1, s2, s3, s4);
    printf("tier=%s\nvariant=%s\nwarning=%s\n", norm_active_isa_name(), norm_active_variant_name(),
           norm_env_warning() ? norm_env_warning() : "(none)");
    printf("available=");
    for (int t = 0; t < NORM_ISA_COUNT; t++)
        if (norm_isa_available((norm_isa)t))
            printf("%s,", norm_isa_name((norm_isa)t));
    printf("\nbf16_variant_runs=");
    for (size_t v = 1; v < NVARIANTS; v++)
        if (norm_variant_supported(variant_names[v]))
            printf("%s,", variant_names[v]);
    printf("\n");
    /* The environment was read on the first call: changing it now changes nothing. */
    setenv("NORM_VERBOSE", "1", 1);
    setenv("NORM_ISA", "scalar", 1);
    p.n = N;
    norm_status s5 = norm_run(&p);
    printf("after_setenv=%d %s\n", s5, norm_active_isa_name());
}

/* The native choice, with nothing in the environment (what the other cases compare with). */
static void native(child_output *o) { in_child(NULL, NULL, body_calls, o); }

START_TEST(test_silent_by_default)
{
    child_output o;
    char buf[256];
    native(&o);
    ck_assert_str_eq(child_value(&o, "statuses", buf, sizeof buf), "0 0 0 2");
    ck_assert_msg(o.err[0] == 0, "the library wrote to stderr without NORM_VERBOSE: \"%s\"", o.err);
    ck_assert_str_eq(child_value(&o, "warning", buf, sizeof buf), "(none)");
    /* Read once: NORM_VERBOSE and NORM_ISA set after the first call did nothing. */
    char tier[64];
    child_value(&o, "tier", tier, sizeof tier);
    char want[96];
    snprintf(want, sizeof want, "0 %s", tier);
    ck_assert_str_eq(child_value(&o, "after_setenv", buf, sizeof buf), want);
    in_child(NULL, "0", body_calls, &o);
    ck_assert_msg(o.err[0] == 0, "NORM_VERBOSE=0 wrote \"%s\"", o.err);
    in_child(NULL, "", body_calls, &o);
    ck_assert_msg(o.err[0] == 0, "NORM_VERBOSE= (empty) wrote \"%s\"", o.err);
}
END_TEST

START_TEST(test_verbose_lines)
{
    child_output o;
    char tier[64], variant[64], buf[256];
    in_child(NULL, "1", body_calls, &o);
    child_value(&o, "tier", tier, sizeof tier);
    child_value(&o, "variant", variant, sizeof variant);
    /* One info line, then exactly one line per call (four; the fifth call came after the
     * environment was read, with NORM_VERBOSE on from the start, so it is logged too). */
    ck_assert_uint_eq(count_lines(o.err, "libnorm: info "), 1);
    ck_assert_uint_eq(count_lines(o.err, "libnorm: warning"), 0);
    ck_assert_uint_eq(count_lines(o.err, "libnorm: exec "), 5);
    ck_assert_uint_eq(count_lines(o.err, "libnorm: "), 6);
    static const char *const lines[][6] = {
        { "call=norm_rmsnorm_f32 ", "op=rmsnorm", "x=f32 y=f32 param=f32", "rows=2 n=64 ", "flags=gamma ",
          "status=ok" },
        { "call=norm_run ", "op=layernorm", "rows=3 n=128 x_stride=128 y_stride=128",
          "flags=eps_outside_sqrt,gamma,beta,stats ", "eps=1e-05", "status=ok" },
        { "call=norm_moments_run ", "op=rmsnorm", "rows=2 n=128", "flags=none", "status=ok", "x=f32 y=- " },
        { "call=norm_run ", "n=0 ", "status=bad_size", "detail=\"n is 0", "time_us=", "op=layernorm" },
    };
    const char *line = strstr(o.err, "libnorm: exec ");
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        ck_assert_ptr_nonnull(line);
        size_t len = strcspn(line, "\n");
        char one[1024];
        snprintf(one, sizeof one, "%.*s", (int)len, line);
        snprintf(buf, sizeof buf, "tier=%s kernels=%s ", tier, variant);
        ck_assert_msg(strstr(one, buf), "line %zu \"%s\" lacks \"%s\"", i, one, buf);
        for (size_t k = 0; k < 6; k++)
            ck_assert_msg(strstr(one, lines[i][k]), "line %zu \"%s\" lacks \"%s\"", i, one, lines[i][k]);
        double us = -1;
        const char *t = strstr(one, "time_us=");
        ck_assert_msg(t && sscanf(t, "time_us=%lf", &us) == 1 && us >= 0 && us < 1e7, "line %zu: time \"%s\"", i,
                      one);
        line = strstr(line + len, "libnorm: exec ");
    }
    ck_assert_msg(strstr(o.err, "libnorm: info version="), "info line: \"%s\"", o.err);
    snprintf(buf, sizeof buf, "tier=%s kernels=%s\n", tier, variant);
    ck_assert_msg(strstr(o.err, buf), "info line lacks \"%s\": \"%s\"", buf, o.err);
}
END_TEST

/* NORM_ISA in capitals, and in mixed case, is the same tier as in lower case. */
START_TEST(test_isa_case)
{
    child_output o;
    char avail[256], buf[256];
    native(&o);
    child_value(&o, "available", avail, sizeof avail);
    for (int t = 0; t < NORM_ISA_COUNT; t++) {
        char want[64];
        snprintf(want, sizeof want, "%s,", tier_names[t]);
        if (!strstr(avail, want))
            continue;
        char upper[32], mixed[32];
        size_t len = strlen(tier_names[t]);
        for (size_t i = 0; i <= len; i++) {
            upper[i] = (char)(tier_names[t][i] >= 'a' && tier_names[t][i] <= 'z' ? tier_names[t][i] - 32
                                                                                   : tier_names[t][i]);
            mixed[i] = i % 2 ? upper[i] : tier_names[t][i];
        }
        const char *spellings[] = { tier_names[t], upper, mixed };
        for (size_t s = 0; s < 3; s++) {
            in_child(spellings[s], NULL, body_calls, &o);
            ck_assert_msg(strcmp(child_value(&o, "tier", buf, sizeof buf), tier_names[t]) == 0,
                          "NORM_ISA=%s gave tier %s", spellings[s], buf);
            ck_assert_msg(strcmp(child_value(&o, "warning", buf, sizeof buf), "(none)") == 0,
                          "NORM_ISA=%s: warning %s", spellings[s], buf);
            /* The cap applies to norm_isa_available: nothing above t. */
            child_value(&o, "available", buf, sizeof buf);
            for (int u = t + 1; u < NORM_ISA_COUNT; u++) {
                snprintf(want, sizeof want, "%s,", tier_names[u]);
                ck_assert_msg(!strstr(buf, want), "NORM_ISA=%s: %s available (%s)", spellings[s], tier_names[u], buf);
            }
        }
    }
}
END_TEST

/* NORM_ISA that names no tier here: ignored (the native choice runs), and said so, by
 * norm_env_warning() and with NORM_VERBOSE on stderr. */
static void expect_ignored(const char *value, const char *why)
{
    child_output o, base;
    char tier[64], want_tier[64], buf[512];
    native(&base);
    child_value(&base, "tier", want_tier, sizeof want_tier);
    in_child(value, NULL, body_calls, &o);
    ck_assert_msg(strcmp(child_value(&o, "tier", tier, sizeof tier), want_tier) == 0, "NORM_ISA=%s: tier %s, want %s",
                  value, tier, want_tier);
    child_value(&o, "warning", buf, sizeof buf);
    ck_assert_msg(strstr(buf, value) && strstr(buf, why) && strstr(buf, "ignored"), "NORM_ISA=%s: warning \"%s\"",
                  value, buf);
    ck_assert_msg(o.err[0] == 0, "NORM_ISA=%s without NORM_VERBOSE printed \"%s\"", value, o.err);
    in_child(value, "1", body_calls, &o);
    char line[600];
    snprintf(line, sizeof line, "libnorm: warning %s\n", buf);
    ck_assert_msg(strstr(o.err, line), "NORM_VERBOSE=1 NORM_ISA=%s: no \"%s\" in \"%s\"", value, line, o.err);
}

START_TEST(test_isa_unknown)
{
    expect_ignored("bogus", "is not a tier (");
    expect_ignored("avx-2", "is not a tier (");
    /* Another architecture's tier, and a variant, from the list. */
    for (int t = 0; t < NORM_ISA_COUNT; t++)
        if (!tier_native[t])
            expect_ignored(tier_names[t], "is a tier of");
    for (size_t v = 1; v < NVARIANTS; v++)
        if (variant_native[v])
            expect_ignored(variant_names[v], "is a variant of");
}
END_TEST

/* The active variant: the tier's name, or the names of its variants that run here. */
START_TEST(test_variant_name)
{
    child_output o;
    char tier[64], variant[64], runs[256], avail[256];
    native(&o);
    child_value(&o, "tier", tier, sizeof tier);
    child_value(&o, "variant", variant, sizeof variant);
    child_value(&o, "bf16_variant_runs", runs, sizeof runs);
    child_value(&o, "available", avail, sizeof avail);
    char want[128] = "";
    for (size_t v = 1; v < NVARIANTS; v++) {
        char item[64];
        snprintf(item, sizeof item, "%s,", variant_names[v]);
        if (strcmp(tier_names[variant_tier[v]], tier) == 0 && strstr(runs, item))
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", want[0] ? "+" : "", variant_names[v]);
    }
    if (!want[0])
        snprintf(want, sizeof want, "%s", tier);
    ck_assert_msg(strcmp(variant, want) == 0, "variant %s, want %s (tier %s; variants that run: %s)", variant, want,
                  tier, runs);
    /* Capped to scalar, no variant runs. */
    in_child("SCALAR", NULL, body_calls, &o);
    ck_assert_str_eq(child_value(&o, "variant", variant, sizeof variant), "scalar");
    ck_assert_str_eq(child_value(&o, "available", avail, sizeof avail), "scalar,");
}
END_TEST

/* A tier this build or CPU cannot run: it still caps (the best tier below it runs), and it is
 * reported. Run as "observe unavailable", which skips (77) where every tier runs. */
static int unavailable_case(void)
{
    child_output o;
    char avail[256], buf[512], tier[64];
    in_child(NULL, NULL, body_calls, &o);
    child_value(&o, "available", avail, sizeof avail);
    int miss = -1;
    for (int t = 0; t < NORM_ISA_COUNT; t++) {
        char item[64];
        snprintf(item, sizeof item, "%s,", tier_names[t]);
        if (tier_native[t] && !strstr(avail, item))
            miss = t; /* the highest: the fallback is then the best tier below it */
    }
    if (miss < 0) {
        printf("%s: SKIP: every tier of this architecture runs here (%s): none to refuse\n", PROGRAM, avail);
        return 77;
    }
    int below = -1;
    for (int t = 0; t < miss; t++) {
        char item[64];
        snprintf(item, sizeof item, "%s,", tier_names[t]);
        if (strstr(avail, item))
            below = t;
    }
    in_child(tier_names[miss], "1", body_calls, &o);
    child_value(&o, "tier", tier, sizeof tier);
    child_value(&o, "warning", buf, sizeof buf);
    int bad = 0;
    if (below < 0 || strcmp(tier, tier_names[below]) != 0) {
        printf("%s: FAIL: NORM_ISA=%s ran tier %s, want %s\n", PROGRAM, tier_names[miss], tier,
               below < 0 ? "?" : tier_names[below]);
        bad++;
    }
    char want[128];
    snprintf(want, sizeof want, "running %s, the best tier below it", below < 0 ? "?" : tier_names[below]);
    if (!strstr(buf, tier_names[miss]) || !strstr(buf, want) ||
        !(strstr(buf, "not compiled into this build") || strstr(buf, "this CPU cannot run it"))) {
        printf("%s: FAIL: NORM_ISA=%s: warning \"%s\"\n", PROGRAM, tier_names[miss], buf);
        bad++;
    }
    if (!strstr(o.err, "libnorm: warning NORM_ISA=")) {
        printf("%s: FAIL: NORM_ISA=%s with NORM_VERBOSE=1 printed no warning: \"%s\"\n", PROGRAM, tier_names[miss],
               o.err);
        bad++;
    }
    if (!bad)
        printf("%s: NORM_ISA=%s (unavailable) reported: %s\n", PROGRAM, tier_names[miss], buf);
    return bad ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- main --------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && strcmp(argv[1], "unavailable") == 0) {
        under_check = false;
        return unavailable_case();
    }
    if (argc > 1) {
        fprintf(stderr, "usage: %s [unavailable]\n", argv[0]);
        return 2;
    }
    Suite *s = suite_create(PROGRAM);
    /* First: without Check's fork (CK_FORK=no) the error tests below initialise the library in
     * this process, and a child forked after that would inherit the environment it read. */
    TCase *tc = tcase_create("dispatch");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_silent_by_default);
    tcase_add_test(tc, test_verbose_lines);
    tcase_add_test(tc, test_isa_case);
    tcase_add_test(tc, test_isa_unknown);
    tcase_add_test(tc, test_variant_name);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_status_numbers);
    tcase_add_test(tc, test_detail_fields);
    tcase_add_test(tc, test_detail_buffers);
    tcase_add_test(tc, test_detail_after_success);
    tcase_add_test(tc, test_detail_per_thread);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
