/* SPDX-License-Identifier: MIT */
/*
 * What the pod verbs (run, get, logs, delete, ping) share: connecting, turning
 * errors into messages and exit codes, and finding a pod by name.
 */
#ifndef FERRY_PODCLI_H
#define FERRY_PODCLI_H

#include <jansson.h>
#include <stdbool.h>

#include "cli.h"
#include "client/client.h"
#include "common/error.h"

/* Connect as --server/--token-file say. On failure prints the reason and
 * returns NULL with *ret_exit set. */
struct ferry_client *ferry_cli_connect(struct ferry_cli *cli, const char *verb, int *ret_exit);

/* Print "ferry VERB: <err>" (plus a hint when the server is unreachable) and
 * return the exit code for r. */
int ferry_cli_fail(struct ferry_cli *cli, const char *verb, int r, const ferry_error_t *err);

/* -n, else $FERRY_NAMESPACE, else "default". */
const char *ferry_cli_namespace(const char *opt);

/* Find a pod's PodStatus by namespace and name in all (a /status [] answer).
 * Borrowed reference, or NULL. */
json_t *ferry_cli_find_pod(json_t *all, const char *ns, const char *name);

/* "waiting", "running" or "terminated" for container name of a PodStatus
 * (init containers included); "waiting" when it is not listed. */
const char *ferry_cli_container_state(const json_t *pod_status, const char *name);

/* --output: "" (table), "json" or "wide". Returns -EINVAL on anything else. */
int ferry_cli_output(const char *opt, const char *verb, const char **ret);

struct ferry_log_opts {
        long long tail, bytes, since_seconds; /* 0 = unset */
        const char *since_time;               /* RFC 3339 or NULL */
        bool timestamps, follow, previous;
};
/* The LogStruct JSON text for one container (caller frees). */
char *ferry_cli_logstruct(const char *ns, const char *uid, const char *pod, const char *container,
                          const struct ferry_log_opts *o);
/* /getLogs, copying the bytes to stdout as they arrive. */
int ferry_cli_stream_logs(struct ferry_client *c, const char *logstruct, ferry_error_t *err);

/* ---- Jobs (cmd_jobs.c) ---- */
/* A kind word before the names of get and delete, as kubectl takes them:
 * pod, pods, po (*ret_jobs false); job, jobs, job.batch (true). */
bool ferry_cli_kind_word(const char *w, bool *ret_jobs);
/* A Job by namespace and name in a /jobs list (borrowed), or NULL. */
const json_t *ferry_cli_find_job(const json_t *all, const char *ns, const char *name);
/* "Complete", "Failed", or NULL while it runs. */
const char *ferry_cli_job_end(const json_t *job);
/* "Running, 2/4 succeeded, 1 failed, 1 active" ("gone" for NULL). */
void ferry_cli_job_summary(const json_t *job, char *buf, size_t size);
/* ferry get jobs [NAME]; ferry delete job NAME... Return exit codes. */
int ferry_cli_get_jobs(struct ferry_cli *cli, const char *ns, bool all_ns, const char *name,
                       const char *out);
int ferry_cli_delete_jobs(struct ferry_cli *cli, const char *ns, char *const *names, size_t n);

/* ---- site tenancy (cmd_tenants.c) ---- */
/* ferry tenants / ferry get tenants; out is "" or "json". */
int ferry_cli_tenants(struct ferry_cli *cli, const char *out);

#endif
