/* SPDX-License-Identifier: MIT */
/*
 * The usage ledger (issue 12, spec/usage.md), the pure part: no I/O, no
 * threads.
 *
 *   record     one per pod, as spec/usage.md lists its fields; JSON Lines in
 *              and out (`ferry usage --export`, the store's copy);
 *   GPUs       what a held device counts for: a whole GPU 1, a MIG instance
 *              its compute slices over the GPU's (a 1g on a 7-slice GPU 1/7);
 *   sums       over a window, grouped by tenant, namespace, user, day and GPU
 *              profile (any combination), pro rata for pods that ran partly
 *              inside it; as a table, JSON or CSV.
 *
 * ferryd writes and reads the records in src/daemon/ledger.c and daemon.c
 * (/usage); doc/usage.md says what is done.
 */
#ifndef FERRY_USAGE_H
#define FERRY_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/util.h"

struct ferry_usage_gpu {
        char uuid[96];    /* GPU-... or MIG-... */
        char model[64];   /* "NVIDIA A100-SXM4-80GB" */
        char profile[32]; /* "gpu" for a whole GPU, else the MIG profile ("1g.10gb") */
        double seconds;   /* how long the pod held it */
};

struct ferry_usage_rec {
        char *uid, *ns, *name, *tenant, *user, *backend, *site, *job_id, *reason;
        int64_t created_ns, started_ns, finished_ns; /* wall clock; 0 = not (yet) */
        double cpu_s;                                /* CPU time used, all containers */
        int64_t cpu_request_milli, memory_request_bytes;
        int64_t memory_peak_bytes; /* -1 = not known */
        int exit_code;
        size_t n_gpus;
        struct ferry_usage_gpu *gpus;
};

void ferry_usage_rec_clear(struct ferry_usage_rec *r);
/* Seconds from started to finished (to now_ns while it runs); 0 before it started. */
double ferry_usage_wall(const struct ferry_usage_rec *r, int64_t now_ns);
/* Compute slices of the GPU a profile is: 1 for "gpu", N/slices for "Ng.*" on
 * the model's geometry (7 slices when the model is not known). */
double ferry_usage_gpu_fraction(const char *model, const char *profile);
/* Sum over the record's GPUs of seconds x fraction. */
double ferry_usage_gpu_seconds(const struct ferry_usage_rec *r);

/* One JSON object on one line (no newline), the fields of spec/usage.md
 * with times in RFC 3339 UTC and the derived wall_seconds and gpu_seconds. */
void ferry_usage_rec_json(const struct ferry_usage_rec *r, int64_t now_ns, struct ferry_buf *out);
/* Read one such line back (-EINVAL with the field when it is not one). */
int ferry_usage_rec_parse(const char *text, size_t len, struct ferry_usage_rec *r,
                          ferry_error_t *err);

/* ---- sums ---- */

enum ferry_usage_by {
        FERRY_USAGE_BY_TENANT,
        FERRY_USAGE_BY_NAMESPACE,
        FERRY_USAGE_BY_USER,
        FERRY_USAGE_BY_DAY,
        FERRY_USAGE_BY_PROFILE,
        FERRY_USAGE_BY_MAX,
};

/* "day,user" (or repeated --by) into keys, in the order given; duplicates and
 * unknown words are -EINVAL naming them. */
int ferry_usage_parse_by(const char *list, int keys[FERRY_USAGE_BY_MAX], size_t *n,
                         ferry_error_t *err);

struct ferry_usage_sum;
/* Sums over [since_ns, until_ns) (0 = unbounded), grouped by keys; running
 * pods count up to now_ns. */
struct ferry_usage_sum *ferry_usage_sum_new(int64_t since_ns, int64_t until_ns, const int *keys,
                                            size_t n_keys, int64_t now_ns);
/* Add a record: its wall, CPU and GPU seconds pro rata of the part of its run
 * inside the window (and each day for --by day); the pod counts once, where it
 * ended (a running pod counts as running, where it is now). */
void ferry_usage_sum_add(struct ferry_usage_sum *s, const struct ferry_usage_rec *r);
/* format: "table", "json" or "csv"; groups in key order. */
int ferry_usage_sum_render(const struct ferry_usage_sum *s, const char *format,
                           struct ferry_buf *out, ferry_error_t *err);
size_t ferry_usage_sum_groups(const struct ferry_usage_sum *s);
void ferry_usage_sum_free(struct ferry_usage_sum *s);

#endif
