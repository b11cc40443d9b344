/* SPDX-License-Identifier: MIT */
/*
 * Tensor-parallel RMSNorm (and LayerNorm) over MPI: each rank holds a slice of every row,
 * computes its slice's moments with norm_moments_run(), the ranks combine them, and each
 * rank normalises its slice with the row's combined moments (norm_params.moments).
 *
 *   mpicc tp_rmsnorm.c $(pkg-config --cflags --libs norm) -lm -o tp_rmsnorm
 *   mpirun -np 4 ./tp_rmsnorm          (add --oversubscribe where there are fewer cores)
 *
 * The moments are combined two ways:
 *
 *   allreduce  MPI_Allreduce with a user-defined commutative operation over norm_moments
 *              that calls norm_moments_combine(): one collective, ROWS moments per rank.
 *   allgather  MPI_Allgather of every rank's moments, then every rank combines them in
 *              rank order.
 *
 * Only the second is deterministic. Chan's combination is commutative and associative in
 * exact arithmetic, not in floating point, and MPI_Allreduce fixes neither the order nor the
 * bracketing of its operations: they depend on the implementation, on the algorithm it picks
 * for the message size and number of processes, and may even differ from rank to rank (so
 * that two slices of one row could be normalised with statistics a few ulps apart). Gathering
 * the moments and combining them in a fixed order on every rank costs P times the data (for
 * a norm, a few doubles per row) and gives every rank the same bits, which a single process
 * can reproduce. So rank 0 checks the allgather results bit for bit against a single-process
 * run of the same split (every slice's moments computed in one process and combined in rank
 * order), and both results against the accuracy contract,
 *     |y - y_ref| <= 2^-20 (|gamma| (1 + |x_hat|) + |beta|),
 * with y_ref from a long double reference. It also says whether the allreduce bits happened to
 * match, and whether every rank received the same allreduced moments.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>
#include <norm.h>

enum { ROWS = 7, N = 4099 };  /* N divides evenly by no process count used here */

_Static_assert(sizeof(norm_moments) == 3 * sizeof(double), "norm_moments is three doubles");

static int op_failed;  /* norm_moments_combine refused its arguments inside the MPI operation */

/* The MPI operation: inout[i] = the moments of in[i]'s elements and inout[i]'s together. */
static void combine_op(void *in, void *inout, int *len, MPI_Datatype *type)
{
    (void)type;
    if (norm_moments_combine(inout, in, (size_t)*len) != NORM_OK)
        op_failed = 1;
}

/* Deterministic data, the same on every rank: splitmix64 of (row, column). */
static double uniform(uint64_t key)
{
    uint64_t z = key + 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1p-53;
}

static float x_at(size_t r, size_t i)
{
    /* rows with different offsets and scales, and a large outlier channel */
    double v = (uniform(r * N + i) - 0.5) * (1.0 + (double)r) + 0.25 * (double)r;
    return (float)(i == 17 ? 40.0 * v : v);
}

static float gamma_at(size_t i) { return (float)(0.5 + uniform(1000003 + i)); }
static float beta_at(size_t i) { return (float)(0.1 * (uniform(2000003 + i) - 0.5)); }

static void slice_of(int rank, int size, size_t *lo, size_t *len)
{
    /* uneven on purpose: rank q holds [N q / P + q, ...), the last rank what is left */
    size_t a = (size_t)N * (size_t)rank / (size_t)size + (size_t)rank;
    size_t b = rank + 1 == size ? N : (size_t)N * (size_t)(rank + 1) / (size_t)size + (size_t)rank + 1;
    *lo = a;
    *len = b - a;
}

static norm_status moments_of(norm_kind kind, const float *x, size_t stride, size_t len, norm_moments *out)
{
    norm_params m = norm_params_default(kind);
    m.rows = ROWS;
    m.n = len;
    m.x = x;
    m.x_stride = stride;
    return norm_moments_run(&m, out);
}

static norm_status apply(norm_kind kind, const float *x, float *y, size_t stride, size_t lo, size_t len,
                         const float *gamma, const float *beta, const norm_moments *moments)
{
    norm_params p = norm_params_default(kind);
    p.rows = ROWS;
    p.n = len;
    p.eps = kind == NORM_RMSNORM ? 1e-6f : 1e-5f;
    p.x = x;
    p.x_stride = stride;
    p.y = y;
    p.y_stride = stride;
    p.gamma = gamma + lo;
    p.beta = beta + lo;
    p.moments = moments;
    return norm_run(&p);
}

/* The largest ratio |y - y_ref| / bound over the rows (<= 1 meets the contract). */
static double contract_ratio(norm_kind kind, const float *x, const float *y, const float *gamma,
                             const float *beta)
{
    const long double eps = kind == NORM_RMSNORM ? 1e-6f : 1e-5f;
    double worst = 0.0;
    for (size_t r = 0; r < ROWS; r++) {
        const float *row = x + r * N;
        long double mean = 0.0L, ms = 0.0L;
        if (kind == NORM_LAYERNORM) {
            for (size_t i = 0; i < N; i++)
                mean += row[i];
            mean /= N;
        }
        for (size_t i = 0; i < N; i++)
            ms += (row[i] - mean) * (row[i] - mean);
        const long double rstd = 1.0L / sqrtl(ms / N + eps);
        for (size_t i = 0; i < N; i++) {
            const long double xhat = (row[i] - mean) * rstd;
            const long double ref = xhat * gamma[i] + beta[i];
            const double bound = ldexp(1.0, -20) * (fabs(gamma[i]) * (1.0 + (double)fabsl(xhat)) + fabs(beta[i]));
            const double err = (double)fabsl(y[r * N + i] - ref);
            if (!(err <= bound * 1e6))  /* NaN or absurd: report as a huge ratio */
                return INFINITY;
            if (err / bound > worst)
                worst = err / bound;
        }
    }
    return worst;
}

static size_t bits_differ(const float *a, const float *b, size_t count)
{
    size_t d = 0;
    for (size_t i = 0; i < count; i++)
        d += memcmp(&a[i], &b[i], sizeof *a) != 0;
    return d;
}

/* Rank 0 puts every rank's slice (ROWS x len, dense) back into full rows. */
static void gather_rows(const float *mine, size_t mylen, float *full, int rank, int size)
{
    int *counts = NULL, *displs = NULL;
    float *packed = NULL;
    if (rank == 0) {
        counts = malloc(sizeof *counts * (size_t)size);
        displs = malloc(sizeof *displs * (size_t)size);
        packed = malloc(sizeof *packed * ROWS * N);
        for (int q = 0; q < size; q++) {
            size_t lo, len;
            slice_of(q, size, &lo, &len);
            counts[q] = (int)(ROWS * len);
            displs[q] = (int)(ROWS * lo);
        }
    }
    MPI_Gatherv(mine, (int)(ROWS * mylen), MPI_FLOAT, packed, counts, displs, MPI_FLOAT, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        for (int q = 0; q < size; q++) {
            size_t lo, len;
            slice_of(q, size, &lo, &len);
            for (size_t r = 0; r < ROWS; r++)
                memcpy(full + r * N + lo, packed + ROWS * lo + r * len, len * sizeof *full);
        }
        free(counts);
        free(displs);
        free(packed);
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    MPI_Datatype moments_type;
    MPI_Type_contiguous(3, MPI_DOUBLE, &moments_type);
    MPI_Type_commit(&moments_type);
    MPI_Op moments_op;
    MPI_Op_create(combine_op, 1 /* commutative */, &moments_op);

    /* Every rank has gamma and beta whole (they are small) and its slice of each row. */
    size_t lo, len;
    slice_of(rank, size, &lo, &len);
    float *gamma = malloc(sizeof *gamma * N), *beta = malloc(sizeof *beta * N);
    float *x = malloc(sizeof *x * ROWS * len), *y_reduce = malloc(sizeof *x * ROWS * len);
    float *y_gather = malloc(sizeof *x * ROWS * len);
    for (size_t i = 0; i < N; i++) {
        gamma[i] = gamma_at(i);
        beta[i] = beta_at(i);
    }
    for (size_t r = 0; r < ROWS; r++)
        for (size_t i = 0; i < len; i++)
            x[r * len + i] = x_at(r, lo + i);

    /* Rank 0 also holds everything, for the single-process run and the reference. */
    float *x_full = NULL, *y_full = NULL, *y_sp = NULL;
    if (rank == 0) {
        x_full = malloc(sizeof *x_full * ROWS * N);
        y_full = malloc(sizeof *y_full * ROWS * N);
        y_sp = malloc(sizeof *y_sp * ROWS * N);
        for (size_t r = 0; r < ROWS; r++)
            for (size_t i = 0; i < N; i++)
                x_full[r * N + i] = x_at(r, i);
        printf("tp_rmsnorm: libnorm %s (%s), %d ranks, %d rows of %d split", norm_version_string(),
               norm_active_isa_name(), size, ROWS, N);
        for (int q = 0; q < size; q++) {
            size_t l, n;
            slice_of(q, size, &l, &n);
            printf("%s%zu", q ? "+" : " ", n);
        }
        printf("\n");
    }

    int ok = 1;
    const norm_kind kinds[2] = {NORM_RMSNORM, NORM_LAYERNORM};
    for (int k = 0; k < 2; k++) {
        const norm_kind kind = kinds[k];
        const char *name = kind == NORM_RMSNORM ? "rmsnorm" : "layernorm";
        norm_moments part[ROWS], reduced[ROWS], combined[ROWS];
        norm_moments *all = malloc(sizeof *all * ROWS * (size_t)size);
        int failed = moments_of(kind, x, len, len, part) != NORM_OK;

        /* allreduce: the user-defined operation, in whatever order MPI applies it */
        memcpy(reduced, part, sizeof part);
        MPI_Allreduce(MPI_IN_PLACE, reduced, ROWS, moments_type, moments_op, MPI_COMM_WORLD);
        failed |= apply(kind, x, y_reduce, len, lo, len, gamma, beta, reduced) != NORM_OK;

        /* allgather: every rank's moments, combined in rank order on every rank */
        MPI_Allgather(part, ROWS, moments_type, all, ROWS, moments_type, MPI_COMM_WORLD);
        memcpy(combined, all, sizeof combined);
        for (int q = 1; q < size; q++)
            failed |= norm_moments_combine(combined, all + (size_t)q * ROWS, ROWS) != NORM_OK;
        failed |= apply(kind, x, y_gather, len, lo, len, gamma, beta, combined) != NORM_OK;
        failed |= op_failed;

        /* Did every rank receive the same allreduced moments? */
        MPI_Allgather(reduced, ROWS, moments_type, all, ROWS, moments_type, MPI_COMM_WORLD);
        int same_reduced = 1;
        for (int q = 1; q < size; q++)
            same_reduced &= memcmp(all, all + (size_t)q * ROWS, sizeof reduced) == 0;

        int any_failed;
        MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
        if (any_failed) {
            if (rank == 0)
                printf("  %-9s a libnorm call returned an error\n", name);
            ok = 0;
            free(all);
            continue;
        }

        gather_rows(y_gather, len, y_full, rank, size);
        if (rank == 0) {
            /* The single-process run of the same split, combining in rank order. */
            norm_moments *parts = malloc(sizeof *parts * ROWS * (size_t)size);
            int sp_failed = 0;
            for (int q = 0; q < size; q++) {
                size_t l, n;
                slice_of(q, size, &l, &n);
                sp_failed |= moments_of(kind, x_full + l, N, n, parts + (size_t)q * ROWS) != NORM_OK;
            }
            for (int q = 1; q < size; q++)
                sp_failed |= norm_moments_combine(parts, parts + (size_t)q * ROWS, ROWS) != NORM_OK;
            for (int q = 0; q < size; q++) {
                size_t l, n;
                slice_of(q, size, &l, &n);
                sp_failed |= apply(kind, x_full + l, y_sp + l, N, l, n, gamma, beta, parts) != NORM_OK;
            }
            free(parts);
            const size_t differ = bits_differ(y_full, y_sp, ROWS * N);
            const double ratio = contract_ratio(kind, x_full, y_full, gamma, beta);
            printf("  %-9s allgather: %s the single-process split run (%zu of %d values differ), "
                   "error/bound %.3f\n", name, differ == 0 && !sp_failed ? "bit-identical to" : "NOT identical to",
                   differ, ROWS * N, ratio);
            ok &= differ == 0 && !sp_failed && ratio <= 1.0;
        }

        gather_rows(y_reduce, len, y_full, rank, size);
        if (rank == 0) {
            const size_t differ = bits_differ(y_full, y_sp, ROWS * N);
            const double ratio = contract_ratio(kind, x_full, y_full, gamma, beta);
            printf("  %-9s allreduce: error/bound %.3f; %zu of %d values differ in bits from rank "
                   "order; moments %s on every rank\n", name, ratio, differ, ROWS * N,
                   same_reduced ? "the same" : "NOT the same");
            ok &= ratio <= 1.0;
        }
        free(all);
    }

    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rank == 0)
        printf("tp_rmsnorm: %s\n", ok ? "ok" : "FAILED");
    free(gamma);
    free(beta);
    free(x);
    free(y_reduce);
    free(y_gather);
    free(x_full);
    free(y_full);
    free(y_sp);
    MPI_Op_free(&moments_op);
    MPI_Type_free(&moments_type);
    MPI_Finalize();
    return ok ? 0 : 1;
}
