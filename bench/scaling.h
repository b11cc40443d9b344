/* SPDX-License-Identifier: MIT */
/* norm-bench --scaling (scaling.c): rows/s against threads, next to floors on as many threads. */
#ifndef NORM_BENCH_SCALING_H
#define NORM_BENCH_SCALING_H

#include <stddef.h>

/* The shapes when --shapes is not given: the issue's. */
#define SCALING_SHAPES "1x4096,2048x1024,256x4096,8192x8192,1x1048576"

/* Times shapes (a comma list of RxN) with 1..max_threads threads (0: norm_auto_threads()).
 * Returns 0, or 2 for a bad shape. */
int scaling_run(const char *shapes, size_t max_threads, int rounds, double min_ms);

#endif
