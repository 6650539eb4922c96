/* SPDX-License-Identifier: MIT */
/*
 * Jobs (batch/v1) run by ferryd itself: the Job controller for sites with no
 * cluster behind them (`ferry run` with kind: Job). A Job arrives with its pod
 * template already translated into PodCreateRequests by the client (the one
 * Pod translator, src/podtr); ferryd stores both, and after every poll creates
 * the pods the Job still needs through the same path as /create, named and
 * labelled as Kubernetes' Job controller names them. Its state is in the
 * store: a Job outlives the CLI and ferryd restarts. See doc/jobs.md.
 *
 * Threading: create, list and delete are called from request threads; tick
 * only from the poller thread. js->lock is a leaf: no daemon call is made
 * with it held.
 */
#ifndef FERRY_JOBS_H
#define FERRY_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/util.h"

struct ferry_daemon;
struct ferry_store;
struct ferry_authz;
struct ferry_jobs;

/* Load the stored jobs. backoff_ms: first retry delay (0 = 10 s). */
int ferry_jobs_new(struct ferry_daemon *d, struct ferry_store *store, int64_t backoff_ms,
                   struct ferry_jobs **ret, ferry_error_t *err);
void ferry_jobs_free(struct ferry_jobs *js);

/* One controller pass over every job: count its pods, finish it or start the
 * pods it still needs, delete what a finished or deleted job leaves. */
void ferry_jobs_tick(struct ferry_jobs *js);

/* POST /jobs: {"job": <batch/v1 Job>, "request": <PodCreateRequests of its
 * template>}. Appends the stored Job (with uid) to out. -EINVAL with the
 * reason for a Job ferryd cannot run, -EEXIST for a name in use, -EACCES. */
int ferry_jobs_create(struct ferry_jobs *js, const char *body, size_t len,
                      const struct ferry_authz *az, struct ferry_buf *out, ferry_error_t *err);
/* GET /jobs: body {} or {"namespace": NS, "name": NAME} (each optional).
 * Appends a JSON array of Jobs with their status. */
int ferry_jobs_list(struct ferry_jobs *js, const char *body, size_t len,
                    const struct ferry_authz *az, struct ferry_buf *out, ferry_error_t *err);
/* DELETE /jobs: {"namespace": NS, "name": NAME}: the Job and its pods go
 * (pods get their grace period). -ENOENT when there is no such job. */
int ferry_jobs_delete(struct ferry_jobs *js, const char *body, size_t len,
                      const struct ferry_authz *az, ferry_error_t *err);

/* Prometheus text: ferry_jobs{state="running|complete|failed"}. */
void ferry_jobs_metrics(struct ferry_jobs *js, struct ferry_buf *out);

#endif
