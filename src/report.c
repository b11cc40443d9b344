/* SPDX-License-Identifier: MIT */
/*
 * What the library tells a person: the detail behind an error status (per thread), and the
 * lines NORM_VERBOSE asks for. Nothing here runs on a successful call unless NORM_VERBOSE
 * is set: an error's detail is written by the failing check itself (norm_fail), and the
 * verbose line by the entry point once the call is over.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dispatch.h"

/* The last error's detail, per thread: a call on one thread never sees another's. Long enough
 * for two buffers described with their rows, strides, lengths and offset. Static TLS, zeroed:
 * "" until this thread's first error. */
static _Thread_local char detail[384];

void norm_set_detail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
}

const char *norm_last_error_detail(void) { return detail; }

uint64_t norm_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *dtype_name(norm_dtype t)
{
    switch (t) {
    case NORM_F32: return "f32";
    case NORM_F16: return "f16";
    case NORM_BF16: return "bf16";
    case NORM_I8: return "i8";
    }
    return "?";
}

/* Appends to buf (of size) at *len, never past its end. */
static __attribute__((format(printf, 4, 5))) void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    if (*len >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    *len += k > 0 ? (size_t)k : 0;
}

/* One line, written with one fputs so that lines from several threads do not interleave
 * (stdio locks the stream for each call):
 *   libnorm: exec tier=avx512 kernels=avx512bf16 call=norm_run op=layernorm x=bf16 y=bf16
 *   param=f32 rows=16 n=4096 x_stride=4096 y_stride=4096 flags=residual,gate_before
 *   eps=1e-05 status=ok time_us=3.215
 * (one line), and on an error status=<name> detail="<norm_last_error_detail()>". */
void norm_verbose_call(const char *entry, const norm_params *p, norm_status status, uint64_t ns)
{
    static const char *const status_names[] = {
        "ok", "null_pointer", "bad_size", "bad_stride", "size_overflow", "bad_eps", "overlap",
        "unsupported_type", "bad_argument", "isa_unavailable", "bad_scale", "bad_moments",
    };
    char line[1024];
    size_t len = 0, size = sizeof line;
    append(line, size, &len, "libnorm: exec tier=%s kernels=%s call=%s", norm_active_isa_name(),
           norm_active_variant_name(), entry);
    if (p) {
        append(line, size, &len, " op=%s x=%s y=%s param=%s rows=%zu n=%zu x_stride=%zu y_stride=%zu",
               p->kind == NORM_RMSNORM ? "rmsnorm" : p->kind == NORM_LAYERNORM ? "layernorm" : "?",
               dtype_name(p->x_type), p->y ? dtype_name(p->y_type) : "-", dtype_name(p->param_type), p->rows, p->n,
               p->x_stride ? p->x_stride : p->n, p->y_stride ? p->y_stride : p->n);
        /* The flags and the optional parts of the call that change which kernel runs. */
        const struct { bool on; const char *name; } parts[] = {
            { (p->flags & NORM_EPS_OUTSIDE_SQRT) != 0, "eps_outside_sqrt" },
            { (p->flags & NORM_UNIT_OFFSET) != 0, "unit_offset" },
            { (p->flags & NORM_GATE_BEFORE_NORM) != 0, "gate_before_norm" },
            { p->gamma != NULL, "gamma" },
            { p->beta != NULL, "beta" },
            { p->residual != NULL, "residual" },
            { p->bias != NULL, "bias" },
            { p->gate != NULL, "gate" },
            { p->mean != NULL || p->rstd != NULL, "stats" },
            { p->moments != NULL, "moments" },
            { p->y_type == NORM_I8 && p->y_scales != NULL, "dynamic_scale" },
        };
        append(line, size, &len, " flags=");
        bool any = false;
        for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
            if (parts[i].on) {
                append(line, size, &len, "%s%s", any ? "," : "", parts[i].name);
                any = true;
            }
        if (!any)
            append(line, size, &len, "none");
        if (p->y) /* norm_moments_run takes no eps */
            append(line, size, &len, " eps=%g", (double)p->eps);
    }
    unsigned s = (unsigned)status;
    append(line, size, &len, " status=%s", s < sizeof status_names / sizeof *status_names ? status_names[s] : "?");
    if (status != NORM_OK)
        append(line, size, &len, " detail=\"%s\"", detail);
    append(line, size, &len, " time_us=%.3f", (double)ns * 1e-3);
    if (len >= size - 1)
        len = size - 2; /* truncated: still one whole line */
    line[len] = '\n';
    line[len + 1] = 0;
    fputs(line, stderr);
}
