/* SPDX-License-Identifier: MIT */
/*
 * Durable state in SQLite (WAL, synchronous=FULL). One writer thread owns the
 * write connection and commits in groups: every write queued while a commit
 * runs goes into the next transaction, so many creates share one fsync
 * (group commit) and a create is answered only once its row is on disk.
 *
 * The schema is versioned (table meta, key schema_version) and migrated
 * forward on open; see doc/store.md.
 */
#ifndef FERRY_STORE_H
#define FERRY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct ferry_store;

enum ferry_pod_state {
        FERRY_POD_ACCEPTED = 0,  /* stored, not yet handed to the backend */
        FERRY_POD_SUBMITTED = 1, /* the backend has a job for it */
        FERRY_POD_DELETING = 2,  /* delete requested, backend not yet confirmed */
        FERRY_POD_DELETED = 3,   /* gone from the backend; kept as a tombstone */
        FERRY_POD_REFUSED = 4,   /* the backend refused it permanently (pod Failed) */
};

struct ferry_store_row {
        const char *uid, *namespace, *name, *backend, *jid; /* jid may be NULL */
        int state;
        const char *status; /* serialized ferry_pod_status, may be NULL */
        int64_t created_ns;
        int64_t grace_s; /* terminationGracePeriodSeconds */
};

#define FERRY_STORE_SCHEMA_VERSION 3

int ferry_store_open(const char *path, struct ferry_store **ret, ferry_error_t *err);
void ferry_store_close(struct ferry_store *s);

/* Insert an accepted pod and wait until it is committed. -EEXIST when the uid
 * is already stored. body is the request body as received. */
int ferry_store_put_pod(struct ferry_store *s, const struct ferry_store_row *row, const char *body,
                        size_t body_len, int body_kind, ferry_error_t *err);

/* Queue an update (applied in the next group commit; not awaited). Any of jid,
 * status may be NULL to leave them unchanged; state < 0 leaves it unchanged.
 * event_kind (may be NULL) adds a row to the events table. */
void ferry_store_update(struct ferry_store *s, const char *uid, const char *jid, int state,
                        const char *status, const char *event_kind, const char *event_detail);

/* Queue a new grace period (the API's deletionGracePeriodSeconds). */
void ferry_store_update_grace(struct ferry_store *s, const char *uid, int64_t grace_s);

/* Wait until everything queued so far is committed: -EIO when the commit
 * failed (the updates are kept and retried). */
int ferry_store_sync(struct ferry_store *s);

/* 0, or -EIO with the reason while commits fail (since the last failed
 * commit until one succeeds). */
int ferry_store_health(struct ferry_store *s, ferry_error_t *err);
/* Failed group commits since the store was opened. */
uint64_t ferry_store_commit_failures(struct ferry_store *s);

/* Call cb for every pod not DELETED, in creation order. */
int ferry_store_load(struct ferry_store *s, int (*cb)(void *ctx, const struct ferry_store_row *row),
                     void *ctx, ferry_error_t *err);

/* The stored request body of a pod (for resubmission after a restart). */
int ferry_store_get_body(struct ferry_store *s, const char *uid, char **ret, size_t *ret_len,
                         int *ret_kind, ferry_error_t *err);

/* Number of events of a kind recorded for a pod (committed ones). */
int ferry_store_count_events(struct ferry_store *s, const char *uid, const char *kind);

/* ---- small named values (the meta table): site tenancy's decayed usage ---- */
/* Queued like a status update (durable at the next group commit). */
void ferry_store_put_meta(struct ferry_store *s, const char *key, const char *value);
/* -ENOENT when key has no value; *ret to free. */
int ferry_store_get_meta(struct ferry_store *s, const char *key, char **ret);

/* The detail of a pod's latest event of that kind (committed ones); -ENOENT
 * when it has none. *ret to free. */
int ferry_store_get_event(struct ferry_store *s, const char *uid, const char *kind, char **ret);

/* ---- the usage ledger (src/daemon/ledger.c) ---- */
struct ferry_store_usage {
        const char *uid, *namespace, *tenant, *user, *reason;
        const char *record;  /* the JSON line (src/usage/usage.h) */
        const char *profile; /* its first GPU's ("gpu", "1g.10gb"), "none" without */
        int64_t finished_ns;
        double cpu_s, gpu_s;
};
/* Append a pod's record, queued like a status update (durable at the next
 * group commit); a pod that has one keeps it (append-only). */
void ferry_store_put_usage(struct ferry_store *s, const struct ferry_store_usage *u);
/* Whether a pod's record is stored (committed). */
bool ferry_store_has_usage(struct ferry_store *s, const char *uid);
/* The ledger's sums by tenant, profile and reason (the counters' start). */
int ferry_store_usage_totals(struct ferry_store *s,
                             void (*cb)(void *ctx, const char *tenant, const char *profile,
                                        const char *reason, double cpu_s, double gpu_s,
                                        int64_t pods),
                             void *ctx);
/* Call cb with each record that finished at or after finished_since_ns, in
 * order of their end; a negative return stops the scan and is returned. */
int ferry_store_scan_usage(struct ferry_store *s, int64_t finished_since_ns,
                           int (*cb)(void *ctx, const char *ns, const char *record, size_t len),
                           void *ctx, ferry_error_t *err);

/* ---- Jobs (src/daemon/jobs.c) ---- */
struct ferry_store_job {
        const char *uid, *namespace, *name;
        const char *spec;  /* the Job and its pod request, as JSON; NULL in an update */
        const char *state; /* the controller's durable state, JSON */
        int64_t created_ns;
};
/* With spec: insert a new job (-EEXIST when its namespace/name or uid is
 * taken). Without: replace its state. Either way waits for the commit. */
int ferry_store_put_job(struct ferry_store *s, const struct ferry_store_job *job,
                        ferry_error_t *err);
int ferry_store_delete_job(struct ferry_store *s, const char *uid, ferry_error_t *err);
/* Call cb for every job, in creation order. */
int ferry_store_load_jobs(struct ferry_store *s,
                          int (*cb)(void *ctx, const struct ferry_store_job *job), void *ctx,
                          ferry_error_t *err);

#endif
