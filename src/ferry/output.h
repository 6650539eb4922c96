/* SPDX-License-Identifier: MIT */
/*
 * Pure helpers for the pod verbs: Go-style durations, kubectl-style ages,
 * PodStatus summaries, aligned tables and the --wait progress line. No I/O
 * except ferry_table_print. Tested in tests/cli/test_output.c.
 */
#ifndef FERRY_OUTPUT_H
#define FERRY_OUTPUT_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

/* "90s", "1h30m", "2m3.5s", "500ms" (Go time.ParseDuration units h m s ms us
 * ns; a bare number means seconds) -> whole seconds, rounded up so that a
 * non-zero duration never becomes 0. -EINVAL on junk or negative values. */
int ferry_parse_duration(const char *s, int64_t *ret_seconds);

/* kubectl's HumanDuration: 45s, 3m20s, 42m, 5h10m, 20h, 3d4h, 120d, 3y40d. */
void ferry_format_age(int64_t seconds, char *buf, size_t size);

struct ferry_pod_summary {
        const char *name, *ns, *uid, *jid; /* borrowed from the json */
        const char *phase;                 /* static string */
        const char *reason, *message;      /* borrowed, may be NULL */
        unsigned ready, total;             /* containers (init containers not counted) */
        unsigned restarts;
        int64_t started_ns; /* earliest container start, 0 = none */
};
void ferry_pod_summarize(const json_t *pod_status, struct ferry_pod_summary *ret);

/* A table whose columns are as wide as their widest cell, separated by three
 * spaces, like kubectl. Cells are copied. */
struct ferry_table;
struct ferry_table *ferry_table_new(size_t ncols, const char *const *headers);
void ferry_table_add(struct ferry_table *t, const char *const *cells);
void ferry_table_print(const struct ferry_table *t, FILE *f);
void ferry_table_free(struct ferry_table *t);

struct ferry_progress {
        unsigned total, succeeded, failed, running, pending;
};
/* "12 pods: 3 done, 5 running, 2 pending, 2 failed" */
void ferry_progress_text(const struct ferry_progress *p, char *buf, size_t size);

#endif
