/*
 * The row loops of both norms and of the moments: statistics per row (sums.h, shift.h,
 * gate.h), then the output (output.h). Instantiated per type triple (instances.h); the loops
 * themselves take the parameters' presence at run time and leave the specialised loops to
 * output.h, except the plain paths below, which inline the common shapes.
 */
#ifndef NORM_SIMD_ROWS_H
#define NORM_SIMD_ROWS_H

/* The row that is normalised: x's, or the fused h that the sums pass stored. */
static NORM_ALWAYS_INLINE const void *source_row(const norm_job *job, size_t r, norm_dtype xt)
{
    if (job->residual)
        return (const char *)job->residual_out + r * job->residual_out_stride * norm_dtype_size(xt);
    return (const char *)job->x + r * job->x_stride * norm_dtype_size(xt);
}

static NORM_ALWAYS_INLINE const void *gate_row(const norm_job *job, size_t r, norm_dtype xt)
{
    return (const char *)job->gate + r * job->gate_stride * norm_dtype_size(xt);
}


/* The first sums of row r: over x, over the fused h (which they store), or over x * silu(z)
 * (which they store to stash, as f32, unless it is NULL). */
static NORM_ALWAYS_INLINE row_sums first_sums(const norm_job *job, size_t r, float shift,
                                              enum sums_kind what, bool gated, float *stash,
                                              norm_dtype xt, norm_dtype pt)
{
    const void *x = (const char *)job->x + r * job->x_stride * norm_dtype_size(xt);
    if (gated)
        return sum_row_gated(x, gate_row(job, r, xt), stash, job->n, xt);
    if (!job->residual)
        return sum_row_any(x, job->n, shift, what, xt);
    return sum_row_fused(x, (const char *)job->residual + r * job->residual_stride * norm_dtype_size(xt),
                         job->bias, (char *)job->residual_out + r * job->residual_out_stride * norm_dtype_size(xt),
                         job->n, shift, what, xt, pt);
}

/* The job as the scalar row sees it once the fused h is stored: the residual may have been
 * overwritten by h, so the scalar row normalises h as it is. */
static norm_job exact_view(const norm_job *job)
{
    norm_job view = *job;
    if (job->residual) {
        view.x = job->residual_out;
        view.x_stride = job->residual_out_stride;
        view.residual = NULL;
    }
    return view;
}

/* The scalar row for a row the f32 path cannot take (from given moments, if any). */
static void exact_row(const norm_job *job, size_t r, bool layernorm)
{
    norm_job view = exact_view(job);
    (layernorm ? norm_layernorm_row_exact : norm_rmsnorm_row_exact)(&view, r);
}

/* Given moments (the apply step of a split row): the centre and scale, or false if the f32
 * path cannot take them (a scale outside f32's normal range, NaN or Inf). */
static bool given_scale(const norm_job *job, size_t r, bool layernorm, double *mean, double *rstd)
{
    norm_scale_from_moments(job, job->moments[r], layernorm, mean, rstd);
    float s = (float)*rstd, m = (float)*mean;
    return s >= 0x1p-126f && s <= 0x1p127f && m - m == 0.0f;
}

/* Row r of the job, set up for write_row: its y and source, and, when streaming, the next
 * row's inputs to prefetch. */
static NORM_ALWAYS_INLINE out_row job_out_row(const norm_job *job, size_t r, row_scale rs, norm_dtype xt,
                                              norm_dtype yt)
{
    const bool prefetch = job->nontemporal && r + 1 < job->rows;
    const size_t es = norm_dtype_size(xt);
    out_row o = {
        .y = (char *)job->y + r * job->y_stride * norm_dtype_size(yt), .x = source_row(job, r, xt),
        .n = job->n, .rs = rs, .q_inv = job->y_inv_scale, .nontemporal = job->nontemporal,
        .next_x = prefetch ? (const char *)job->x + (r + 1) * job->x_stride * es : NULL,
        .next_r = prefetch && job->residual
                      ? (const char *)job->residual + (r + 1) * job->residual_stride * es : NULL,
        .next_t = xt,
    };
    return o;
}

/* Writes row r of y; false if the row needs the scalar row (NORM_OUT_EXACT). */
static NORM_ALWAYS_INLINE bool output_row_at(const norm_job *job, size_t r, row_scale rs, bool centered,
                                             out_fns fns, norm_dtype xt, norm_dtype yt, norm_dtype pt)
{
    out_row o = job_out_row(job, r, rs, xt, yt);
    return write_row(&o, centered, job->gamma, job->beta, job->unit_offset,
              job->y_scales ? job->y_scales + r : NULL, fns.typed, fns.f32_params, fns.inline_typed, xt, yt,
              pt) != NORM_OUT_EXACT;
}

/*
 * Gated RMSNorm's output for row r when x * silu(z) (gate before the norm) or exp(-|z| / 2) (gate
 * after it; the output pass forms silu from it) is computed in loops of their own, as much of
 * the row as the stash holds at a time, then that part of the output. A dynamic int8 scale
 * needs max|y| over the whole row first: longer rows then go over it twice. careful: the gate
 * after the norm takes its careful loop (parameters that may overflow before the gate, or
 * given moments, which bound nothing). False if the row needs the scalar row
 * (NORM_OUT_EXACT).
 */
static NORM_ALWAYS_INLINE bool gated_output_chunks(const norm_job *job, size_t r, row_scale rs, bool gate_in,
                                                   bool careful, float *scratch, out_fns fns, norm_dtype xt,
                                                   norm_dtype yt, norm_dtype pt)
{
    const size_t n = job->n, xs = norm_dtype_size(xt), ys = norm_dtype_size(yt), ps = norm_dtype_size(pt);
    const char *src = (const char *)source_row(job, r, xt), *z = (const char *)gate_row(job, r, xt);
    const char *g = (const char *)job->gamma, *b = (const char *)job->beta;
    char *y = (char *)job->y + r * job->y_stride * ys;
    float *q_scale = job->y_scales ? job->y_scales + r : NULL;
    float q_inv = job->y_inv_scale;
    const bool two_passes = q_scale && n > NORM_STASH;
    for (int pass = two_passes ? 0 : 1; pass < 2; pass++) {
        float amax = 0.0f;
        for (size_t at = 0; at < n; at += NORM_STASH) {
            size_t len = n - at < NORM_STASH ? n - at : NORM_STASH;
            out_row o = { .y = y + at * ys, .n = len, .rs = rs, .q_inv = q_inv,
                          .amax_only = pass == 0, .nontemporal = job->nontemporal };
            const void *gp = g ? g + at * ps : NULL, *bp = b ? b + at * ps : NULL;
            float *qs = two_passes ? NULL : q_scale;
            float m;
            if (gate_in) {
                /* Given moments: nothing checks the row after, so a gate of -Inf must give
                 * its zero here (otherwise the sums sent such a row to the scalar kernel). */
                silu_row(scratch, src + at * xs, z + at * xs, len, xt, job->moments != NULL);
                o.x = scratch;
                m = write_row(&o, false, gp, bp, job->unit_offset, qs,
                              pt == NORM_F32 ? fns.f32_source : NULL, fns.f32_source, false, NORM_F32, yt, pt);
            } else {
                exp_row(scratch, z + at * xs, len, xt);
                o.gate_careful = careful;
                o.x = src + at * xs;
                o.z = z + at * xs;
                o.exp_z = scratch;
                m = write_row(&o, false, gp, bp, job->unit_offset, qs, fns.typed, fns.f32_params, false, xt, yt,
                              pt);
            }
            if (m == NORM_OUT_EXACT)
                return false;
            amax = m > amax ? m : amax;
        }
        if (pass == 0) {
            if (!(amax <= FLT_MAX))
                return false;
            float scale = amax / 127.0f;
            *q_scale = scale;
            q_inv = scale > 0.0f ? 1.0f / scale : 0.0f;
        }
    }
    return true;
}

/*
 * Both norms are software-pipelined by one row for rows shorter than NORM_AHEAD_BELOW: the
 * sums of row r+1 are issued before row r is written out, so they overlap the latency of row
 * r's chain from its sums to its rstd, which on short rows bounds the time per row. Longer
 * rows go one at a time, so that a row is still in L1 when its second pass reads it.
 * With given moments there are no sums: each row goes straight to its output.
 */
static NORM_ALWAYS_INLINE void rmsnorm_rows(const norm_job *job, bool gate_in, bool gate_out, out_fns fns,
                                            norm_dtype xt, norm_dtype yt, norm_dtype pt)
{
    const size_t n = job->n;
    const double inv_n = 1.0 / (double)n; /* a multiply, not a divide, on each row's critical path */
    const bool given = job->moments != NULL;
    /* With the gate before the norm, x * silu(z) is needed by both passes, and exp is most of
     * the cost: it is kept between them, as f32, in an f32 y row that is not x's (it stays in
     * cache), or else on the stack (two rows when pipelined: row r's is kept while row r+1 is
     * summed), for rows that fit (Mamba-2's groups and Qwen3-Next's heads do); longer rows
     * compute it twice, a stash at a time. With the gate after the norm, the stash holds
     * exp(-|z| / 2) for the part of the row being written. */
    _Alignas(64) float scratch[NORM_STASH];
    const bool ahead = n < NORM_AHEAD_BELOW;
    const bool in_y = gate_in && yt == NORM_F32 && job->y != job->x && !job->nontemporal;
    const bool stash = gate_in && !given && (in_y || n <= NORM_STASH);
    /* The gate after the norm: the fast output loop unless the parameters are so large, or the
     * given moments so arbitrary, that u * gamma + beta may leave f32 (output.h). */
    const bool careful = gate_out && (given || gate_params_wide(job, pt));
#define NORM_STASH_ROW(r)                                                         \
    (!stash ? NULL : in_y ? (float *)job->y + (r) * job->y_stride                 \
                  : scratch + (ahead ? ((r) & 1) * (NORM_STASH / 2) : 0))
    if (job->rows == 0)
        return;
    row_sums next = { 0.0, 0.0 };
    if (!given && ahead)
        next = first_sums(job, 0, 0.0f, SQUARES, gate_in, NORM_STASH_ROW(0), xt, pt);
    for (size_t r = 0; r < job->rows; r++) {
        double rstd, mean;
        if (given) {
            if (!given_scale(job, r, false, &mean, &rstd)) {
                exact_row(job, r, false);
                continue;
            }
        } else {
            row_sums sums = ahead ? next : first_sums(job, r, 0.0f, SQUARES, gate_in, NORM_STASH_ROW(r), xt, pt);
            if (ahead && r + 1 < job->rows)
                next = first_sums(job, r + 1, 0.0f, SQUARES, gate_in, NORM_STASH_ROW(r + 1), xt, pt);
            if (!sums_in_range(sums.squares, job->eps)) {
                exact_row(job, r, false);
                continue;
            }
            rstd = rms_rstd(sums.squares, inv_n, job->eps, job->eps_outside_sqrt);
        }
        row_scale rs = { 0.0f, (float)rstd, -0.0f };
        bool done;
        if (gate_in && stash) {
            out_row o = { .y = (char *)job->y + r * job->y_stride * norm_dtype_size(yt),
                          .x = NORM_STASH_ROW(r), .n = n, .rs = rs, .q_inv = job->y_inv_scale };
            done = write_row(&o, false, job->gamma, job->beta, job->unit_offset,
                      job->y_scales ? job->y_scales + r : NULL, pt == NORM_F32 ? fns.f32_source : NULL,
                      fns.f32_source, false, NORM_F32, yt, pt) != NORM_OUT_EXACT;
        } else if (gate_in || gate_out) {
            done = gated_output_chunks(job, r, rs, gate_in, careful, scratch, fns, xt, yt, pt);
        } else {
            done = output_row_at(job, r, rs, false, fns, xt, yt, pt);
        }
        if (!done) {
            exact_row(job, r, false);
            continue;
        }
        norm_store_stats(job, r, 0.0, rstd);
    }
#undef NORM_STASH_ROW
}

/*
 * Plain rows (f32 x and parameters, gamma, or a short row without it or with the unit offset
 * (plain_gamma); no residual add, gate, given moments or streaming stores; int8 output for
 * RMSNorm only, int8_ok), the common call:
 * the sums and the output loop are inlined and the job's fields held in locals, so a short row
 * costs its two loops and little else. RMSNorm's need no explicit pipelining (the processor
 * overlaps one row with the next by itself) except int8's; LayerNorm's short rows do
 * (layernorm_plain_short). The arithmetic is that
 * of the general path (the same inline sums and output loop), so a row's result does not
 * depend on which path took it.
 */
static NORM_ALWAYS_INLINE bool norm_plain(const norm_job *job, bool int8_ok, norm_dtype xt, norm_dtype yt,
                                          norm_dtype pt)
{
    return xt == NORM_F32 && pt == NORM_F32 && (yt != NORM_I8 || int8_ok) &&
           (job->n <= NORM_ONES_N || (job->gamma && !job->unit_offset)) &&
           !job->residual && !job->gate && !job->moments && !job->nontemporal;
}

/* A plain call's fields, read once: stores to y could alias the job, so fields read in the
 * loop would be read again on every row. */
typedef struct plain_call {
    const void *x;
    void *y;
    size_t n, rows, x_step, y_step;
    const void *gamma, *beta;
    float *rstd, *mean;
    double inv_n;
    float eps;
    bool eps_outside_sqrt;
    out_fn *i8_out; /* int8 LayerNorm rows: the type triple's output loops (plain_i8_output) */
} plain_call;

/* The scale gamma' = 1 + gamma of a plain call with the unit offset, in f32 as write_row_rare
 * rounds it (1 without gamma), once per call in unit (NORM_ONES_N floats): through the rare
 * rows' chunks, converted on every row, a 1024x128 RMSNorm took 3x the time of one without
 * the offset (Zen 5). */
static NORM_ALWAYS_INLINE const void *plain_gamma(const norm_job *job, float *unit)
{
    if (!job->unit_offset)
        return norm_gamma_f32(job->gamma, job->n);
    if (!job->gamma)
        return norm_ones_f32;
    params_to_f32(unit, job->gamma, 0, job->n, NORM_F32, true);
    return unit;
}

static NORM_ALWAYS_INLINE plain_call plain_call_of(const norm_job *job, norm_dtype xt, norm_dtype yt, float *unit)
{
    plain_call c = { job->x, job->y, job->n, job->rows, job->x_stride * norm_dtype_size(xt),
                     job->y_stride * norm_dtype_size(yt), plain_gamma(job, unit),
                     job->beta, job->rstd, job->mean,
                     1.0 / (double)job->n, job->eps, job->eps_outside_sqrt, NULL };
    return c;
}

/* The scalar row for a plain row the f32 path cannot take. A dense call (norm_dense_fn) has no
 * job: it is built here, on this rare path only, from arguments (a plain_call whose address
 * were taken would be stored to the stack on every call). */
static __attribute__((cold, noinline)) void plain_exact_dense(void *y, const void *x, const void *gamma,
                                                              const void *beta, size_t rows, size_t n, float eps,
                                                              size_t r, bool layernorm)
{
    norm_job job = {
        .y = y, .x = x, .y_stride = n, .x_stride = n, .rows = rows, .n = n,
        .gamma = gamma == norm_ones_f32 ? NULL : gamma, .beta = beta,
        .eps = eps, .x_type = NORM_F32, .y_type = NORM_F32, .param_type = NORM_F32, .y_inv_scale = 1.0f,
    };
    exact_row(&job, r, layernorm);
}

/* Row r to the scalar row, with the job or, for a dense call (job NULL: f32 rows), without. */
static NORM_ALWAYS_INLINE void plain_exact_row(const norm_job *job, const plain_call *c, size_t r, bool layernorm)
{
    if (job)
        exact_row(job, r, layernorm);
    else
        plain_exact_dense(c->y, c->x, c->gamma, c->beta, c->rows, c->n, c->eps, r, layernorm);
}

/* Row r's statistics, where asked for. */
static NORM_ALWAYS_INLINE void plain_store_stats(const plain_call *c, size_t r, double mean, double rstd)
{
    if (c->mean)
        c->mean[r] = (float)mean;
    if (c->rstd)
        c->rstd[r] = (float)rstd;
}

/* A plain row's int8 output, through write_row and the type triple's out-of-line loops
 * (c->i8_out): a dynamic scale's max|y| first, then the row with 1 / s; false, nothing written,
 * if max|y| leaves f32 (the scalar row). Inlined, its loops made each pipelined LayerNorm
 * function 12-15 KB. (int8 calls have a job: no dense entry takes them.) */
static NORM_ALWAYS_INLINE bool plain_i8_output(const norm_job *job, const plain_call *c, size_t r, row_scale rs,
                                               out_shape sh)
{
    out_row o = { .y = (char *)c->y + r * c->y_step, .x = (const char *)c->x + r * c->x_step, .n = c->n, .rs = rs,
                  .q_inv = job->y_inv_scale };
    return write_row(&o, sh.centered, c->gamma, c->beta, false, job->y_scales ? job->y_scales + r : NULL, c->i8_out,
                     c->i8_out, false, sh.xt, sh.yt, sh.pt) != NORM_OUT_EXACT;
}

/* A plain row's output, inlined. */
static NORM_ALWAYS_INLINE void plain_output(const plain_call *c, void *y, const void *x, row_scale rs,
                                            out_shape sh)
{
    out_row o = { .y = y, .x = x, .g = c->gamma, .b = c->beta, .n = c->n, .rs = rs };
    output_loop(sh, &o);
}

static NORM_ALWAYS_INLINE void rmsnorm_plain_call(const norm_job *job, plain_call c, bool has_b, norm_dtype xt,
                                                  norm_dtype yt, norm_dtype pt);
static NORM_ALWAYS_INLINE void rmsnorm_plain_rows(const norm_job *job, bool has_b, norm_dtype xt,
                                                  norm_dtype yt, norm_dtype pt)
{
    float unit[NORM_ONES_N];
    rmsnorm_plain_call(job, plain_call_of(job, xt, yt, unit), has_b, xt, yt, pt);
}
/* The scalar row for rmsnorm_dense_row, with five arguments: a tail call, where
 * plain_exact_dense's nine (two on the stack) gave the row a frame aligned for AVX-512. */
static __attribute__((cold, noinline)) norm_status rmsnorm_exact_one(float *y, const float *x, const float *gamma,
                                                                     size_t n, float eps)
{
    plain_exact_dense(y, x, gamma, NULL, 1, n, eps, 0, false);
    return NORM_OK;
}

/*
 * A dense call's single row without beta (norm_rmsnorm_f32 with rows = 1: a decode step's
 * call), as rmsnorm_plain_call takes it, with the same operations and bits, without the row
 * loop. 1/n is divided after the sums in the source, where GCC leaves it: divided at the
 * call's start (as plain_call_of does, once per call), the next call's division ran into
 * this call's chain from its sums to rstd, and a dense 1x288 call took 30.8 ns instead of
 * 28.4 in a loop of calls (Zen 5, see the commit).
 */
static NORM_ALWAYS_INLINE norm_status rmsnorm_dense_row(float *y, const float *x, const float *gamma, size_t n,
                                                        float eps)
{
    const out_shape sh = { NORM_F32, NORM_F32, NORM_F32, false, false, false, false };
    const row_sums sums = sum_row_inline((row_source){ x, NULL, NULL, NULL }, n, 0.0f, SQUARES,
                                         NORM_PLAIN_SOURCE(NORM_F32));
    if (!sums_in_range(sums.squares, eps))
        return rmsnorm_exact_one(y, x, gamma, n, eps);
    const double rstd = rms_rstd(sums.squares, 1.0 / (double)n, eps, false);
    out_row o = { .y = y, .x = x, .g = gamma, .n = n, .rs = { 0.0f, (float)rstd, -0.0f } };
    output_loop(sh, &o);
    return NORM_OK;
}

/* A plain int8 row between the stages of rmsnorm_plain_i8. */
typedef struct i8_stage {
    row_sums sums;
    double rstd;
    float q_inv;
    bool exact; /* the row goes to the scalar path */
} i8_stage;

/*
 * Plain int8 rows (n < NORM_AHEAD_BELOW) in four stages, each on its own row: the sums of row
 * i, the rstd of row i - 1, the scale of row i - 2 (a dynamic one from a pass for max|y|), and
 * the output of row i - 3. A row's chain runs from its sums through rstd (and max|y|) to its
 * output pass; with the sums alone one row ahead, the next row's work could not hide it
 * (4096x128 on avx512, Zen 5, against 5eff6df's build, which had that loop: dynamic scale
 * 1.16x its time before, 0.78x now; static 1.33x before). The operations are write_row's,
 * row by row, whatever the neighbours: a row gets the bits it gets alone. Stages live in a ring
 * of four by the row's index (scalars only).
 */
static NORM_ALWAYS_INLINE void rmsnorm_plain_i8(const norm_job *job, const plain_call *cp, out_shape sh)
{
    const plain_call c = *cp; /* a copy y cannot alias: its fields stay in registers */
    const size_t n = c.n, rows = c.rows;
    const char *x = (const char *)c.x;
    char *y = (char *)c.y;
    float *y_scales = job->y_scales;
    i8_stage st[4];
    for (size_t i = 0; i < rows + 3; i++) {
        if (i < rows) {
            row_source src = { x + i * c.x_step, NULL, NULL, NULL };
            i8_stage *s = &st[i & 3];
            s->sums = sum_row_inline(src, n, 0.0f, SQUARES, NORM_PLAIN_SOURCE(sh.xt));
        }
        if (i >= 1 && i - 1 < rows) {
            i8_stage *s = &st[(i - 1) & 3];
            s->exact = !sums_in_range(s->sums.squares, c.eps);
            s->rstd = rms_rstd(s->sums.squares, c.inv_n, c.eps, c.eps_outside_sqrt);
        }
        if (i >= 2 && i - 2 < rows) {
            const size_t r = i - 2;
            i8_stage *s = &st[r & 3];
            s->q_inv = job->y_inv_scale; /* a static scale */
            if (!s->exact && y_scales) {
                out_row o = { .y = y + r * c.y_step, .x = x + r * c.x_step, .g = c.gamma, .b = c.beta, .n = n,
                              .rs = { 0.0f, (float)s->rstd, -0.0f }, .amax_only = true };
                float amax = output_loop(sh, &o);
                s->exact = !(amax <= FLT_MAX);
                float scale = amax / 127.0f;
                s->q_inv = scale > 0.0f ? 1.0f / scale : 0.0f;
                if (!s->exact)
                    y_scales[r] = scale;
            }
        }
        if (i >= 3) {
            const size_t r = i - 3;
            const i8_stage *s = &st[r & 3];
            if (s->exact) {
                exact_row(job, r, false); /* (int8 calls have a job: no dense entry takes them) */
                continue;
            }
            out_row o = { .y = y + r * c.y_step, .x = x + r * c.x_step, .g = c.gamma, .b = c.beta, .n = n,
                          .rs = { 0.0f, (float)s->rstd, -0.0f }, .q_inv = s->q_inv };
            output_loop(sh, &o);
            if (c.rstd)
                c.rstd[r] = (float)s->rstd;
        }
    }
}

static NORM_ALWAYS_INLINE void rmsnorm_plain_call(const norm_job *job, plain_call c, bool has_b, norm_dtype xt,
                                                  norm_dtype yt, norm_dtype pt)
{
    const out_shape sh = { xt, yt, pt, has_b, has_b, false, false }; /* with beta: output.h */
    const size_t n = c.n;
    if (yt == NORM_I8 && job && n < NORM_AHEAD_BELOW) {
        rmsnorm_plain_i8(job, &c, sh);
        return;
    }
    const char *x = (const char *)c.x;
    char *y = (char *)c.y;
    float *rstd_out = c.rstd;
    for (size_t r = 0; r < c.rows; r++) {
        const char *xr = x + r * c.x_step;
        char *yr = y + r * c.y_step;
        const row_sums sums = sum_row_inline((row_source){ xr, NULL, NULL, NULL }, n, 0.0f, SQUARES,
                                             NORM_PLAIN_SOURCE(xt));
        if (!sums_in_range(sums.squares, c.eps)) {
            plain_exact_row(job, &c, r, false);
            continue;
        }
        double rstd = rms_rstd(sums.squares, c.inv_n, c.eps, c.eps_outside_sqrt);
        const row_scale rs = { 0.0f, (float)rstd, -0.0f };
        if (yt == NORM_I8) {
            /* Long int8 rows, as write_row: a dynamic scale from max|y| first (NORM_OUT_EXACT's
             * rows to the scalar row), then the row with 1 / s. */
            out_row o = { .y = yr, .x = xr, .g = c.gamma, .b = c.beta, .n = n, .rs = rs, .q_inv = job->y_inv_scale };
            if (job->y_scales) {
                o.amax_only = true;
                float amax = output_loop(sh, &o);
                if (!(amax <= FLT_MAX)) {
                    plain_exact_row(job, &c, r, false);
                    continue;
                }
                float scale = amax / 127.0f;
                job->y_scales[r] = scale;
                o.q_inv = scale > 0.0f ? 1.0f / scale : 0.0f;
                o.amax_only = false;
            }
            output_loop(sh, &o);
        } else {
            plain_output(&c, yr, xr, rs, sh);
        }
        if (rstd_out)
            rstd_out[r] = (float)rstd;
    }
}

/* LayerNorm's output scale: u = (x - c) * s with c the mean rounded to f32, plus
 * (mean - c) * s, the part of the mean that c lost; -0.0 where that is zero, which changes
 * nothing (output.h). Always added, not only where it can matter: deciding per row was a branch
 * that rows with per-row offsets mispredicted (4096x128 LayerNorm, offset rows: 32.7 -> 29.3
 * ns/row on Zen 5). */
static inline row_scale layernorm_scale(double mean, double rstd)
{
    float centre = (float)mean, ds = (float)(-(mean - centre) * rstd);
    /* -(-ds + 0): ds itself, but -0.0 for either zero, without a branch. */
    return (row_scale){ centre, (float)rstd, -(-ds + 0.0f) };
}
/* LayerNorm's sums around shift: a shift of 0 saves the subtraction. */
static NORM_ALWAYS_INLINE enum sums_kind sums_around(float shift)
{
    return shift == 0.0f ? SUMS : SUMS_SHIFTED;
}

/* One pass gives sum(x - c) and sum((x - c)^2), whose variance loses accuracy when c is far
 * from the mean. A row whose shift proves poor (mean^2 > var / 4 around it) is summed again
 * around its own mean, so the guess only ever costs time, never accuracy. Returns false if
 * the row needs the scalar path all the same. */
static NORM_ALWAYS_INLINE bool layernorm_stats(const void *x, size_t n, double inv_n, float *shift,
                                               row_sums sums, float eps, double *mean, double *var,
                                               norm_dtype xt)
{
    double d = sums.sum * inv_n;
    *var = sums.squares * inv_n - d * d;
    if (d * d > 0.25 * *var && sums_in_range(sums.squares, eps)) {
        *shift = (float)(*shift + d);
        sums = sum_row_any(x, n, *shift, sums_around(*shift), xt);
        d = sums.sum * inv_n;
        *var = sums.squares * inv_n - d * d;
    }
    *mean = *shift + d;
    return sums_in_range(sums.squares, eps) && d * d <= 0.25 * *var;
}

/* Row r's shift (row_shift, of h for the fused residual add). */
static NORM_ALWAYS_INLINE float layernorm_shift(const norm_job *job, size_t r, norm_dtype xt, norm_dtype pt)
{
    const size_t es = norm_dtype_size(xt);
    return row_shift_any((const char *)job->x + r * job->x_stride * es,
                         job->residual ? (const char *)job->residual + r * job->residual_stride * es : NULL,
                         job->residual ? job->bias : NULL, job->n, xt, pt);
}

static NORM_ALWAYS_INLINE row_sums layernorm_sums(const norm_job *job, size_t r, float shift, norm_dtype xt,
                                                  norm_dtype pt)
{
    return first_sums(job, r, shift, sums_around(shift), false, NULL, xt, pt);
}

static NORM_ALWAYS_INLINE void layernorm_rows(const norm_job *job, out_fns fns, norm_dtype xt, norm_dtype yt,
                                              norm_dtype pt)
{
    const size_t n = job->n, rows = job->rows;
    const double inv_n = 1.0 / (double)n;
    const bool given = job->moments != NULL;
    if (rows == 0)
        return;
    /* Short rows: sums one row ahead and shifts two rows ahead, as layernorm_plain_rows. */
    const bool ahead = n < NORM_AHEAD_BELOW && !given;
    row_sums next = { 0.0, 0.0 };
    float next_shift = 0.0f, later_shift = 0.0f;
    if (ahead) {
        next_shift = layernorm_shift(job, 0, xt, pt);
        next = layernorm_sums(job, 0, next_shift, xt, pt);
        if (rows > 1)
            later_shift = layernorm_shift(job, 1, xt, pt);
    }
    /* Long rows: the next row's shift overlaps this row's output pass, as in layernorm_plain_rows. */
    float long_shift = !given && !ahead ? layernorm_shift(job, 0, xt, pt) : 0.0f;
    for (size_t r = 0; r < rows; r++) {
        double mean, rstd;
        if (given) {
            if (!given_scale(job, r, true, &mean, &rstd)) {
                exact_row(job, r, true);
                continue;
            }
        } else {
            double var;
            if (!ahead) {
                next_shift = long_shift;
                next = layernorm_sums(job, r, next_shift, xt, pt);
                if (r + 1 < rows)
                    long_shift = layernorm_shift(job, r + 1, xt, pt);
            }
            float shift = next_shift;
            bool fast = layernorm_stats(source_row(job, r, xt), n, inv_n, &shift, next, job->eps,
                                        &mean, &var, xt);
            if (ahead && r + 1 < rows) {
                next_shift = later_shift;
                next = layernorm_sums(job, r + 1, next_shift, xt, pt);
                if (r + 2 < rows)
                    later_shift = layernorm_shift(job, r + 2, xt, pt);
            }
            if (!fast) {
                exact_row(job, r, true);
                continue;
            }
            /* Short rows as layernorm_plain_short takes them, so that a fused row and the add
             * pass followed by the plain call give the same bits. */
            rstd = ahead ? norm_rstd(var, job->eps, job->eps_outside_sqrt)
                         : row_rstd(var, job->eps, job->eps_outside_sqrt);
        }
        if (!output_row_at(job, r, layernorm_scale(mean, rstd), true, fns, xt, yt, pt)) {
            exact_row(job, r, true);
            continue;
        }
        norm_store_stats(job, r, mean, rstd);
    }
}

/* The shift and the sums of a plain LayerNorm row, inlined. */
static NORM_ALWAYS_INLINE float plain_shift(const void *x, size_t n, float inv_n, norm_dtype xt)
{
    return row_shift_inv((row_source){ x, NULL, NULL, NULL }, n, inv_n, NORM_PLAIN_SOURCE(xt));
}

static NORM_ALWAYS_INLINE row_sums plain_sums(const void *x, size_t n, float shift, norm_dtype xt)
{
    const row_source src = { x, NULL, NULL, NULL };
    if (shift == 0.0f)
        return sum_row_inline(src, n, 0.0f, SUMS, NORM_PLAIN_SOURCE(xt));
    return sum_row_inline(src, n, shift, SUMS_SHIFTED, NORM_PLAIN_SOURCE(xt));
}

/* A short plain LayerNorm row between the stages of layernorm_plain_short. */
typedef struct ln_stage {
    float shift;
    row_sums sums;
    double mean, rstd;
    bool exact; /* the row goes to the scalar path */
} ln_stage;

/*
 * Short plain LayerNorm rows (n < NORM_AHEAD_BELOW) in four stages, each on its own row: the
 * shift of row i + 3, the sums of row i + 2, the statistics of row i + 1 and the output of
 * row i. A row's chain from its first load through two reductions, the statistics and the
 * output is several times longer than its work, and the processor's window does not reach the
 * next row by itself; with the stages skewed, each iteration's four chains are independent
 * (4096x128 with beta, offset rows, Zen 5: 32.7 -> 21.8 ns/row in a loop of its own; two
 * stages, sums a row ahead of the output, measured 26.8). Every row goes through the same
 * operations whatever its neighbours, so its bits are those of the row alone. Stages live in a
 * ring of four, by the row's index mod 4 (scalars only: no vectors are kept across stages).
 */
static NORM_ALWAYS_INLINE void layernorm_plain_short(const norm_job *job, const plain_call *c, out_shape sh,
                                                     norm_dtype xt, bool half)
{
    const size_t n = c->n, rows = c->rows;
    const float inv_nf = 1.0f / (float)n;
    const char *x = (const char *)c->x;
    char *y = (char *)c->y;
    ln_stage st[4];
    for (size_t i = 0; i < rows + 3; i++) {
        /* Half rows (layernorm_plain_half_i8) through the out-of-line shift and sums, the
         * general path's own, with the type known at run time. */
        if (i < rows)
            st[i & 3].shift = half ? row_shift_any(x + i * c->x_step, NULL, NULL, n, xt, xt)
                                   : plain_shift(x + i * c->x_step, n, inv_nf, xt);
        if (i >= 1 && i - 1 < rows) {
            ln_stage *s = &st[(i - 1) & 3];
            const char *xr = x + (i - 1) * c->x_step;
            s->sums = half ? sum_row_any(xr, n, s->shift, sums_around(s->shift), xt)
                           : plain_sums(xr, n, s->shift, xt);
        }
        if (i >= 2 && i - 2 < rows) {
            const size_t r = i - 2;
            ln_stage *s = &st[r & 3];
            double var;
            s->exact = !layernorm_stats(x + r * c->x_step, n, c->inv_n, &s->shift, s->sums, c->eps, &s->mean,
                                        &var, xt);
            /* The square root and the division rather than row_rstd's estimate and Newton
             * step: here the chain's latency is hidden and its operations are not (five
             * dependent ones against two; 4096x128: 3.5-4% faster). layernorm_rows' short rows
             * do the same, so that fused and unfused rows keep the same bits. */
            if (!s->exact)
                s->rstd = norm_rstd(var, c->eps, c->eps_outside_sqrt);
        }
        if (i >= 3) {
            const size_t r = i - 3;
            const ln_stage *s = &st[r & 3];
            if (s->exact) {
                plain_exact_row(job, c, r, true);
                continue;
            }
            if (sh.yt == NORM_I8) {
                if (!plain_i8_output(job, c, r, layernorm_scale(s->mean, s->rstd), sh)) {
                    plain_exact_row(job, c, r, true);
                    continue;
                }
            } else {
                plain_output(c, y + r * c->y_step, x + r * c->x_step, layernorm_scale(s->mean, s->rstd), sh);
            }
            plain_store_stats(c, r, s->mean, s->rstd);
        }
    }
}

/* Short plain LayerNorm rows, with beta or without. */
static NORM_ALWAYS_INLINE void layernorm_plain_short_rows(const norm_job *job, const plain_call *c, norm_dtype xt,
                                                          norm_dtype yt, norm_dtype pt)
{
    const plain_call local = *c; /* a copy y cannot alias: its fields stay in registers */
    if (yt == NORM_I8) /* write_row takes beta as it comes (plain_i8_output): one copy */
        layernorm_plain_short(job, &local, (out_shape){ xt, yt, pt, true, false, false, false }, xt, false);
    else if (local.beta)
        layernorm_plain_short(job, &local, (out_shape){ xt, yt, pt, true, true, false, false }, xt, false);
    else
        layernorm_plain_short(job, &local, (out_shape){ xt, yt, pt, true, false, false, false }, xt, false);
}

/* Short half rows (f16 or bf16 x, gamma of x's type or f32, given) with int8 output, one
 * function per tier for the four type triples: the types at run time, the shift and the sums
 * through their out-of-line functions and the output through the triple's (c->i8_out), as the
 * general rows take them, so a row has the same bits on either path. Through the general rows,
 * 256x256 bf16 -> int8 with a static scale was 1.10-1.12x the time of the engine before
 * 40b390e; inlined per triple, this cost 40 KB (see the commit). */
static NORM_OUT_OF_LINE void layernorm_plain_half_i8(const norm_job *job, const plain_call *c,
                                                     norm_dtype xt, norm_dtype pt)
{
    const plain_call local = *c;
    layernorm_plain_short(job, &local, (out_shape){ xt, NORM_I8, pt, true, false, false, false }, xt, true);
}

/* Long plain LayerNorm rows (n >= NORM_AHEAD_BELOW), and calls of one short row: as
 * layernorm_rows (the same shifts, sums and rstd, so the same results), with the shift, the
 * sums and the output inlined, each in one place. They go one at a time (which keeps a row in
 * L1 between its two passes), with the next row's shift right after this row's sums are
 * issued, so that its sample overlaps this row's output pass. A single short row through
 * layernorm_plain_short paid for the pipeline's fill and drain. */
static NORM_ALWAYS_INLINE void layernorm_plain_rows_of(const norm_job *job, const plain_call *cp, bool has_b,
                                                       norm_dtype xt, norm_dtype yt, norm_dtype pt)
{
    const plain_call c = *cp; /* a copy y cannot alias: its fields stay in registers */
    const out_shape sh = { xt, yt, pt, true, has_b, false, false };
    const size_t n = c.n, rows = c.rows;
    if (rows == 0)
        return;
    const char *x = (const char *)c.x;
    char *y = (char *)c.y;
    const float inv_nf = 1.0f / (float)n;
    float next_shift = row_shift_any(x, NULL, NULL, n, xt, pt);
    for (size_t r = 0; r < rows; r++) {
        const char *xr = x + r * c.x_step;
        float shift = next_shift;
        row_sums sums = plain_sums(xr, n, shift, xt);
        if (r + 1 < rows)
            next_shift = plain_shift(xr + c.x_step, n, inv_nf, xt);
        double mean, var;
        if (!layernorm_stats(xr, n, c.inv_n, &shift, sums, c.eps, &mean, &var, xt)) {
            plain_exact_row(job, &c, r, true);
            continue;
        }
        double rstd = n < NORM_AHEAD_BELOW ? norm_rstd(var, c.eps, c.eps_outside_sqrt)
                                           : row_rstd(var, c.eps, c.eps_outside_sqrt);
        plain_output(&c, y + r * c.y_step, xr, layernorm_scale(mean, rstd), sh);
        plain_store_stats(&c, r, mean, rstd);
    }
}

/* Long plain LayerNorm rows and calls of one short row, with beta or without. */
static NORM_ALWAYS_INLINE void layernorm_plain_rows(const norm_job *job, const plain_call *c, norm_dtype xt,
                                                    norm_dtype yt, norm_dtype pt)
{
    if (c->beta)
        layernorm_plain_rows_of(job, c, true, xt, yt, pt);
    else
        layernorm_plain_rows_of(job, c, false, xt, yt, pt);
}

/* The moments of each row (the first step of a split row): the same sums as the norms,
 * turned into (count, mean, m2); rows the f32 sums cannot take go to the scalar row. */
static NORM_ALWAYS_INLINE void moments_rows(const norm_job *job, bool layernorm, norm_dtype xt,
                                            norm_dtype pt)
{
    const size_t n = job->n;
    const double inv_n = 1.0 / (double)n;
    const bool gated = job->gate != NULL;
    for (size_t r = 0; r < job->rows; r++) {
        norm_moments m = { (double)n, 0.0, 0.0 };
        bool fast;
        if (layernorm) {
            float shift = layernorm_shift(job, r, xt, pt);
            double var;
            row_sums sums = layernorm_sums(job, r, shift, xt, pt);
            fast = layernorm_stats(source_row(job, r, xt), n, inv_n, &shift, sums, 0.0f, &m.mean, &var, xt);
            m.m2 = var * (double)n;
        } else {
            row_sums sums = first_sums(job, r, 0.0f, SQUARES, gated, NULL, xt, pt);
            fast = sums_in_range(sums.squares, 0.0f);
            m.m2 = sums.squares;
        }
        if (!fast) {
            norm_job view = exact_view(job);
            m = norm_moments_row_exact(&view, r, layernorm);
        }
        job->moments_out[r] = m;
    }
}

#endif
