/*
 * A program built against a released header and linked against this library. NORM_OLD_HEADER
 * names a verbatim copy of that release's norm.h (tests/abi/norm-<version>.h): its
 * norm_params, struct_size included, is what binaries built then still send. Each norm_run
 * through the old struct, placed flush against a PROT_NONE page so that reading one byte
 * past it faults, must give the dense entry points' bits (their ABI has not changed).
 */
#include NORM_OLD_HEADER

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { ROWS = 5, N = 37 };

/* bytes at the end of a readable page, followed by a PROT_NONE page. */
static void *at_page_end(size_t bytes, void **block, size_t *len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    *len = 2 * page;
    char *b = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(b, MAP_FAILED);
    ck_assert_int_eq(mprotect(b + page, page, PROT_NONE), 0);
    *block = b;
    return b + page - bytes;
}

static void fill(float *v, size_t count, unsigned seed)
{
    for (size_t i = 0; i < count; i++) {
        seed = seed * 1664525u + 1013904223u;
        v[i] = (float)((int)(seed >> 8) % 20001 - 10000) / 3000.0f + 0.5f;
    }
}

/* norm_run with the old struct (at a page end) against the dense call on the same rows. */
static void check_kind(norm_kind kind, int fused)
{
    float x[ROWS * N], r[ROWS * N], h[ROWS * N], g[N], b[N], y_run[ROWS * N], y_dense[ROWS * N];
    float rstd[ROWS], mean[ROWS];
    fill(x, ROWS * N, 1);
    fill(r, ROWS * N, 2);
    fill(g, N, 3);
    fill(b, N, 4);
    norm_params p = norm_params_default(kind);
    p.rows = ROWS;
    p.n = N;
    p.x = x;
    p.y = y_run;
    p.gamma = g;
    p.beta = b;
    p.rstd = rstd;
    p.mean = kind == NORM_LAYERNORM ? mean : NULL;
    const float *src = x;
#ifdef NORM_OLD_HAS_RESIDUAL
    float h_run[ROWS * N];
    if (fused) {
        p.residual = r;
        p.residual_out = h_run;
        for (size_t i = 0; i < ROWS * N; i++)
            h[i] = x[i] + r[i];
        src = h;
    }
#else
    (void)r;
    (void)h;
    ck_assert(!fused);
#endif
    void *block;
    size_t len;
    norm_params *q = at_page_end(sizeof p, &block, &len);
    memcpy(q, &p, sizeof p);
    norm_status s = norm_run(q);
    ck_assert_msg(s == NORM_OK, "norm_run with the old struct (struct_size %zu): %s", p.struct_size,
                  norm_status_string(s));
    munmap(block, len);
    s = (kind == NORM_RMSNORM ? norm_rmsnorm_f32 : norm_layernorm_f32)(y_dense, src, g, b, ROWS, N, p.eps);
    ck_assert_int_eq(s, NORM_OK);
    ck_assert_msg(memcmp(y_run, y_dense, sizeof y_run) == 0, "%s%s: norm_run with the old struct differs from the dense call",
                  kind == NORM_RMSNORM ? "rmsnorm" : "layernorm", fused ? ", fused" : "");
#ifdef NORM_OLD_HAS_RESIDUAL
    if (fused)
        ck_assert_msg(memcmp(h_run, h, sizeof h) == 0, "residual_out differs from x + residual");
#endif
    for (size_t i = 0; i < ROWS; i++)
        ck_assert_msg(rstd[i] > 0.0f, "rstd[%zu] = %g", i, (double)rstd[i]);
}

START_TEST(test_old_struct)
{
    check_kind(NORM_RMSNORM, 0);
    check_kind(NORM_LAYERNORM, 0);
#ifdef NORM_OLD_HAS_RESIDUAL
    check_kind(NORM_RMSNORM, 1);
    check_kind(NORM_LAYERNORM, 1);
#endif
}
END_TEST

int main(void)
{
    Suite *s = suite_create("abi " NORM_OLD_VERSION);
    TCase *tc = tcase_create("old header");
    tcase_add_test(tc, test_old_struct);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
