/* SPDX-License-Identifier: MIT */
/*
 * libnorm from C: a dense RMSNorm call, then a transformer block's residual add fused with
 * the norm through norm_run(), each checked against a plain double-precision loop.
 *
 *   cc rmsnorm.c $(pkg-config --cflags --libs norm) -lm -o rmsnorm && ./rmsnorm
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <norm.h>

enum { TOKENS = 8, HIDDEN = 1000 };

/* The largest |y - reference| over the rows, with h = x (+ r) normalised by RMSNorm. */
static double max_error(const float *y, const float *h, const float *gamma, float eps)
{
    double worst = 0.0;
    for (int t = 0; t < TOKENS; t++) {
        const float *row = h + (size_t)t * HIDDEN;
        double ss = 0.0;
        for (int i = 0; i < HIDDEN; i++)
            ss += (double)row[i] * row[i];
        double rstd = 1.0 / sqrt(ss / HIDDEN + eps);
        for (int i = 0; i < HIDDEN; i++)
            worst = fmax(worst, fabs(y[(size_t)t * HIDDEN + i] - row[i] * rstd * gamma[i]));
    }
    return worst;
}

int main(void)
{
    static float x[TOKENS * HIDDEN], resid[TOKENS * HIDDEN], y[TOKENS * HIDDEN], gamma[HIDDEN];
    srand(1);
    for (int i = 0; i < TOKENS * HIDDEN; i++) {
        x[i] = (float)rand() / RAND_MAX - 0.5f;
        resid[i] = 4.0f * ((float)rand() / RAND_MAX - 0.5f);
    }
    for (int i = 0; i < HIDDEN; i++)
        gamma[i] = 0.5f + (float)i / HIDDEN;
    const float eps = 1e-6f;
    printf("libnorm %s, kernel tier %s\n", norm_version_string(), norm_active_isa_name());

    /* y = rmsnorm(x) * gamma, rows of HIDDEN values */
    norm_status s = norm_rmsnorm_f32(y, x, gamma, NULL, TOKENS, HIDDEN, eps);
    if (s != NORM_OK) {
        fprintf(stderr, "norm_rmsnorm_f32: %s\n", norm_status_string(s));
        return 1;
    }
    double e1 = max_error(y, x, gamma, eps);
    printf("dense rmsnorm %dx%d: max |y - ref| = %.3g\n", TOKENS, HIDDEN, e1);

    /* h = x + resid; resid = h; y = rmsnorm(h) * gamma, in one call */
    norm_params p = norm_params_default(NORM_RMSNORM);
    p.rows = TOKENS;
    p.n = HIDDEN;
    p.eps = eps;
    p.x = x;
    p.residual = resid;
    p.residual_out = resid;
    p.y = y;
    p.gamma = gamma;
    float expect_h0 = x[0] + resid[0];
    s = norm_run(&p);
    if (s != NORM_OK) {
        fprintf(stderr, "norm_run: %s\n", norm_status_string(s));
        return 1;
    }
    double e2 = max_error(y, resid, gamma, eps);
    printf("fused residual add + rmsnorm: max |y - ref| = %.3g, h[0] %s\n", e2,
           resid[0] == expect_h0 ? "written back" : "WRONG");

    /* An error is a status, never a crash: here a negative eps. */
    s = norm_rmsnorm_f32(y, x, gamma, NULL, TOKENS, HIDDEN, -1.0f);
    printf("eps = -1: %s\n", norm_status_string(s));

    int ok = e1 < 1e-5 && e2 < 1e-5 && resid[0] == expect_h0 && s == NORM_ERR_BAD_EPS;
    printf("%s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
