/* SPDX-License-Identifier: MIT */
#include "histogram.h"

#include "thread.h"

const double ferry_hist_bounds[FERRY_HIST_BOUNDS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

void ferry_hist_observe(struct ferry_hist *h, int64_t ns)
{
        double s = (double)ns / (double)FERRY_NSEC_PER_SEC;
        size_t b = 0;
        while (b < FERRY_HIST_BOUNDS && s > ferry_hist_bounds[b])
                b++;
        atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)(ns > 0 ? ns : 0), memory_order_relaxed);
}

uint64_t ferry_hist_count(const struct ferry_hist *h)
{
        uint64_t n = 0;
        for (size_t b = 0; b <= FERRY_HIST_BOUNDS; b++)
                n += atomic_load_explicit(&h->bucket[b], memory_order_relaxed);
        return n;
}

void ferry_hist_render(struct ferry_buf *b, const char *name, const char *labels,
                       const struct ferry_hist *h)
{
        const char *sep = labels && *labels ? "," : "";
        uint64_t cum = 0;
        if (!labels)
                labels = "";
        for (size_t k = 0; k <= FERRY_HIST_BOUNDS; k++) {
                cum += atomic_load_explicit(&h->bucket[k], memory_order_relaxed);
                if (k < FERRY_HIST_BOUNDS)
                        ferry_buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
                                         ferry_hist_bounds[k], (unsigned long long)cum);
                else
                        ferry_buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                                         (unsigned long long)cum);
        }
        double sum = (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) /
                     (double)FERRY_NSEC_PER_SEC;
        if (*labels) {
                ferry_buf_printf(b, "%s_sum{%s} %.9f\n", name, labels, sum);
                ferry_buf_printf(b, "%s_count{%s} %llu\n", name, labels, (unsigned long long)cum);
        } else {
                ferry_buf_printf(b, "%s_sum %.9f\n", name, sum);
                ferry_buf_printf(b, "%s_count %llu\n", name, (unsigned long long)cum);
        }
}
