/* SPDX-License-Identifier: MIT */
/*
 * The one latency histogram of every Prometheus metric Ferry exports
 * (ferryd's HTTP requests and backend calls, ferry-node's calls to ferryd and
 * to the kube-apiserver): the same bucket bounds everywhere, so that one
 * dashboard compares them, lock-free (atomics), observed in nanoseconds.
 */
#ifndef FERRY_HISTOGRAM_H
#define FERRY_HISTOGRAM_H

#include <stdatomic.h>
#include <stdint.h>

#include "util.h"

#define FERRY_HIST_BOUNDS 14 /* finite bounds; one more bucket for +Inf */
extern const double ferry_hist_bounds[FERRY_HIST_BOUNDS]; /* seconds */

struct ferry_hist {
        atomic_uint_least64_t bucket[FERRY_HIST_BOUNDS + 1]; /* not cumulative */
        atomic_uint_least64_t sum_ns;
};

void ferry_hist_observe(struct ferry_hist *h, int64_t ns);
/* Appends name_bucket{labels,le=...} (cumulative), name_sum and name_count.
 * labels: "" or e.g. op="submit" (already escaped). The caller writes the
 * # HELP and # TYPE lines once per metric. */
void ferry_hist_render(struct ferry_buf *b, const char *name, const char *labels,
                       const struct ferry_hist *h);
uint64_t ferry_hist_count(const struct ferry_hist *h);

#endif
