/* SPDX-License-Identifier: MIT */
/*
 * The ferryd core, independent of HTTP: the pod table (a mirror of the
 * store), the submit path, the poller (one backend poll per interval for all
 * live pods), the reaper (deletes retried until the backend confirms), logs and
 * capacity. The HTTP layer (http/server.c) maps requests onto these calls and
 * their -errno results onto status codes.
 *
 * Threading: every entry point is safe to call from many request threads.
 */
#ifndef FERRY_DAEMON_H
#define FERRY_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "common/util.h"
#include "logs/logfile.h"
#include "pod/pod.h"

struct ferry_daemon;
struct ferry_tn_config;

struct ferry_daemon_config {
        const char *state_dir;
        const char *backend;
        const char *runtime;
        const char *libexec_dir;
        const struct ferry_backend_option *backend_options;
        size_t n_backend_options;
        int poll_interval_ms; /* default 1000 */
        /* Jobs: the first retry of a failed pod waits this long, each next one
         * twice as long (up to 6 min), as the Job controller does; 0 = 10 s */
        int64_t job_backoff_ms;
        struct ferry_limits limits;
        /* the `tenancy:` section (taken over by ferry_daemon_new, even when it
         * fails); NULL: pods go to the backend as they come */
        struct ferry_tn_config *tenancy;
        /* ferryd's own files (config, tokens, keys, state, sockets): the
         * backend hides them from pods (struct ferry_backend_config) */
        const char *const *private_paths;
        size_t n_private_paths;
};

/* Which namespaces the caller may act on; NULL means all. */
struct ferry_authz {
        bool (*allowed)(const void *ctx, const char *ns);
        const void *ctx;
};

/* Open the store, start the backend, load every stored pod and reattach to
 * its job (or resubmit what was accepted but never reached the backend), and
 * run one poll so that status is right before any new work is accepted. */
int ferry_daemon_new(const struct ferry_daemon_config *cfg, struct ferry_daemon **ret,
                     ferry_error_t *err);
/* Start the poller thread. */
int ferry_daemon_start(struct ferry_daemon *d, ferry_error_t *err);
void ferry_daemon_free(struct ferry_daemon *d);

#define FERRY_UID_MAX 72

/* /create. Returns 0 with the job id; the job id is "" when the backend is
 * unavailable and the pod waits for resubmission (its status says why).
 * Errors: -EINVAL/-E2BIG (bad request), -EACCES, -EEXIST (uid used by a
 * deleted pod), -EBUSY (the pod is being deleted), backend errors. */
int ferry_daemon_create(struct ferry_daemon *d, const char *body, size_t len,
                        enum ferry_body_kind kind, const struct ferry_authz *az,
                        char ret_uid[FERRY_UID_MAX], char ret_jid[FERRY_JID_MAX],
                        ferry_error_t *err);
/* /delete with a Pod body: idempotent; unknown pods are fine. */
int ferry_daemon_delete(struct ferry_daemon *d, const char *body, size_t len,
                        const struct ferry_authz *az, ferry_error_t *err);
/* /status with a JSON array of Pods; [] = every known pod the caller may see
 * (only_if_empty_all false makes [] answer [] instead: hop B ping handling
 * is done by the HTTP layer). Appends a JSON array to out. */
int ferry_daemon_status(struct ferry_daemon *d, const char *body, size_t len,
                        const struct ferry_authz *az, struct ferry_buf *out, ferry_error_t *err);
/* The same, fed as the body arrives (an HTTP upload) and never kept whole:
 * begin, feed each piece (it returns the first error, which end reports
 * again; later pieces are only counted), end with the caller's rights, free.
 * An empty body (or one of white space) reads as []. empty() ends the scan
 * early and tells whether the body was [] (or null, or nothing): a hop-B ping. */
struct ferry_status_req;
struct ferry_status_req *ferry_daemon_status_begin(struct ferry_daemon *d);
int ferry_daemon_status_feed(struct ferry_status_req *q, const char *data, size_t n);
bool ferry_daemon_status_empty(struct ferry_status_req *q);
int ferry_daemon_status_end(struct ferry_status_req *q, const struct ferry_authz *az,
                            struct ferry_buf *out, ferry_error_t *err);
void ferry_daemon_status_free(struct ferry_status_req *q);

struct ferry_log_request {
        struct ferry_daemon *d;
        char uid[FERRY_UID_MAX];
        char container[FERRY_NAME_MAX];
        char path[4096];
        struct ferry_log_opts opts;
};
/* Validate a LogStruct and resolve the log file. */
int ferry_daemon_logs(struct ferry_daemon *d, const char *body, size_t len,
                      const struct ferry_authz *az, struct ferry_log_request *ret,
                      ferry_error_t *err);
/* For follow: true when the container has terminated or the pod is gone. */
bool ferry_daemon_log_done(void *log_request);

/* PingResponse JSON with the backend's free capacity. */
int ferry_daemon_ping(struct ferry_daemon *d, struct ferry_buf *out, ferry_error_t *err);
/* 0 when ferryd can accept work; -EIO with the reason when it cannot
 * (the state database cannot commit). */
int ferry_daemon_health(struct ferry_daemon *d, ferry_error_t *err);
/* Prometheus text: pods by phase and backend, backend call stats. */
void ferry_daemon_metrics(struct ferry_daemon *d, struct ferry_buf *out);
/* Force one poll now (tests, /updateCache). */
void ferry_daemon_poll_now(struct ferry_daemon *d);
size_t ferry_daemon_pod_count(struct ferry_daemon *d);

/* For the Job controller (jobs.c): a pod's phase (enum ferry_phase), -ENOENT
 * when it is unknown, -ESRCH when it is being deleted or gone; ready when
 * every container is ready (Running pods only). */
int ferry_daemon_pod_phase(struct ferry_daemon *d, const char *uid, bool *ret_ready);
struct ferry_jobs *ferry_daemon_jobs(struct ferry_daemon *d);
/* Wake the poller (and the Job controller after it) now. */
void ferry_daemon_kick(struct ferry_daemon *d);

/* Site tenancy (admit.c, spec/tenancy.md). GET /tenants: appends the JSON of
 * `ferry tenants`. */
void ferry_daemon_tenants(struct ferry_daemon *d, const struct ferry_authz *az,
                          struct ferry_buf *out);
/* GET /usage (spec/usage.md): the ledger's records ending in or running
 * into [since, until) (0 = open), summed by `by` ("tenant,day"...) and
 * rendered as format (json, csv, table), or with export_records the records
 * themselves as JSON Lines. A token sees only its namespaces' pods. */
struct ferry_usage_query {
        int64_t since_ns, until_ns;
        const char *by, *format;
        bool export_records;
};
int ferry_daemon_usage(struct ferry_daemon *d, const struct ferry_usage_query *q,
                       const struct ferry_authz *az, struct ferry_buf *out, ferry_error_t *err);

/* SIGHUP: a new `tenancy:` section (taken over; NULL turns it off). Running
 * pods keep running; what each tenant holds is computed again. */
void ferry_daemon_set_tenancy(struct ferry_daemon *d, struct ferry_tn_config *c);

#endif
