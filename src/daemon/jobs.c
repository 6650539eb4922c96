/* SPDX-License-Identifier: MIT */
/*
 * The Job controller (batch/v1) in ferryd; see jobs.h and doc/jobs.md.
 *
 * Every completion index i (0..completions-1; NonIndexed Jobs use the same
 * slots without telling the pod) gets pods until one succeeds: attempt a of
 * index i is the pod whose uid pod_uid() derives from (job salt, i, a), and
 * the number of attempts per index is stored before the pods are created. So after a crash the
 * controller finds every pod it made (the pod table), re-creates one it
 * stored but never handed over (create is idempotent on the uid), and never
 * runs an index twice at once. Counting follows the Job controller: a pod
 * that failed, or that was deleted before it finished, is a failure; more
 * failures than backoffLimit fail the Job; a retry waits backoff, doubled per
 * failure up to 6 minutes.
 */
#include "jobs.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hashmap.h"
#include "common/log.h"
#include "common/thread.h"
#include "daemon.h"
#include "pod/pod.h"
#include "pod/status.h"
#include "store/store.h"

#define JOB_MAX_COMPLETIONS 10000
#define JOB_MAX_BACKOFF_LIMIT 100000
#define BACKOFF_MAX_MS (360LL * 1000)

enum job_end { JOB_RUNNING, JOB_COMPLETE, JOB_FAILED };

struct job {
        char uid[37];
        char salt[37];         /* random, stored: makes the pod uids (pod_uid) */
        char *ns, *name, *key; /* key: "ns/name" */
        json_t *obj;           /* the Job as stored: metadata, spec with defaults */
        json_t *request;       /* PodCreateRequests of the template pod */
        int completions, parallelism, backoff_limit;
        bool indexed;
        int64_t deadline_s; /* activeDeadlineSeconds, 0 = none */
        int64_t ttl_s;      /* ttlSecondsAfterFinished, -1 = keep */
        int64_t created_ns;
        int *attempts; /* per index: pods created so far (stored before creating) */
        bool *gone;    /* per index: the last attempt's uid belongs to a deleted pod */
        int failed_seen;
        int64_t next_create_mono;
        /* written by the tick under js->lock, read by list */
        int64_t start_ns, end_ns;
        int end; /* enum job_end */
        char reason[48];
        char *message;
        int active, ready, succeeded, failed;
        char *completed; /* completedIndexes: "0-2,4" */
        bool delete_asked;
};

struct ferry_jobs {
        struct ferry_daemon *d;
        struct ferry_store *store;
        int64_t backoff_ms;
        pthread_mutex_t lock;
        struct ferry_hashmap *jobs; /* key -> struct job */
};

static void job_free(struct job *j)
{
        if (!j)
                return;
        free(j->ns);
        free(j->name);
        free(j->key);
        json_decref(j->obj);
        json_decref(j->request);
        free(j->attempts);
        free(j->gone);
        free(j->message);
        free(j->completed);
        free(j);
}

static const char *jstr(const json_t *o, const char *key)
{
        return json_string_value(json_object_get(o, key));
}

/* An optional integer field of spec in [min, max]; absent or null: def. */
static int spec_int(const json_t *spec, const char *key, int64_t def, int64_t min, int64_t max,
                    int64_t *ret, ferry_error_t *err)
{
        const json_t *v = json_object_get(spec, key);
        if (!v || json_is_null(v)) {
                *ret = def;
                return 0;
        }
        if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
                return ferry_errprintf(err, -EINVAL, "spec.%s must be an integer from %lld to %lld",
                                       key, (long long)min, (long long)max);
        *ret = json_integer_value(v);
        return 0;
}

/* Read spec into j and fill in the defaults the API server would. */
static int parse_spec(struct job *j, ferry_error_t *err)
{
        static const char *const unsupported[] = {"podFailurePolicy", "backoffLimitPerIndex",
                                                  "maxFailedIndexes", "successPolicy",
                                                  "podReplacementPolicy"};
        json_t *spec = json_object_get(j->obj, "spec");
        int64_t v;
        int r;

        if (!json_is_object(spec))
                return ferry_errprintf(err, -EINVAL, "job \"%s\" has no spec", j->name);
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(unsupported); i++)
                if (json_object_get(spec, unsupported[i]) &&
                    !json_is_null(json_object_get(spec, unsupported[i])))
                        return ferry_errprintf(err, -EINVAL,
                                               "job \"%s\": spec.%s is not supported by ferryd",
                                               j->name, unsupported[i]);
        if (json_is_true(json_object_get(spec, "suspend")))
                return ferry_errprintf(err, -EINVAL,
                                       "job \"%s\": suspended jobs (spec.suspend) are not "
                                       "supported by ferryd",
                                       j->name);
        const char *mode = jstr(spec, "completionMode");
        if (mode && strcmp(mode, "Indexed") != 0 && strcmp(mode, "NonIndexed") != 0)
                return ferry_errprintf(err, -EINVAL,
                                       "job \"%s\": spec.completionMode must be NonIndexed or "
                                       "Indexed, not \"%s\"",
                                       j->name, mode);
        j->indexed = mode && !strcmp(mode, "Indexed");
        bool has_completions = json_is_integer(json_object_get(spec, "completions"));
        if ((r = spec_int(spec, "parallelism", 1, 1, JOB_MAX_COMPLETIONS, &v, err)) < 0)
                return r;
        j->parallelism = (int)v;
        if (!has_completions && (j->indexed || j->parallelism > 1))
                return ferry_errprintf(err, -EINVAL,
                                       "job \"%s\": spec.completions is required %s (work-queue "
                                       "jobs are not supported by ferryd)",
                                       j->name,
                                       j->indexed ? "for an Indexed job" : "with parallelism > 1");
        if ((r = spec_int(spec, "completions", 1, 1, JOB_MAX_COMPLETIONS, &v, err)) < 0)
                return r;
        j->completions = (int)v;
        if (j->parallelism > j->completions)
                j->parallelism = j->completions;
        if ((r = spec_int(spec, "backoffLimit", 6, 0, JOB_MAX_BACKOFF_LIMIT, &v, err)) < 0)
                return r;
        j->backoff_limit = (int)v;
        if ((r = spec_int(spec, "activeDeadlineSeconds", 0, 1, INT32_MAX, &j->deadline_s, err)) < 0)
                return r;
        if ((r = spec_int(spec, "ttlSecondsAfterFinished", -1, 0, INT32_MAX, &j->ttl_s, err)) < 0)
                return r;
        json_object_set_new(spec, "completions", json_integer(j->completions));
        json_object_set_new(spec, "parallelism", json_integer(j->parallelism));
        json_object_set_new(spec, "backoffLimit", json_integer(j->backoff_limit));
        json_object_set_new(spec, "completionMode",
                            json_string(j->indexed ? "Indexed" : "NonIndexed"));
        return 0;
}

/* ---- the pods of a job ---- */

/* A UUID (version 8, RFC 9562) from SHA-256 of the job's secret salt, the
 * index and the attempt: the same pod after a restart, and one nobody can
 * take first by guessing it. */
static void pod_uid(const struct job *j, int i, int a, char buf[FERRY_UID_MAX])
{
        unsigned char h[32];
        char in[80];
        int n = snprintf(in, sizeof(in), "%s/%d/%d", j->salt, i, a);

        if (gnutls_hash_fast(GNUTLS_DIG_SHA256, in, (size_t)n, h) < 0)
                memset(h, 0, sizeof(h)); /* not reached: SHA-256 is always there */
        h[6] = (unsigned char)((h[6] & 0x0f) | 0x80);
        h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);
        snprintf(buf, FERRY_UID_MAX,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0], h[1],
                 h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14],
                 h[15]);
}

/* "<job>-<index>-<5 chars>" (Indexed) or "<job>-<5 chars>", the characters
 * from the pod uid as the API server's generateName draws them (no vowels). */
static void pod_name(const struct job *j, int i, int a, char *buf, size_t size)
{
        static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
        char uid[FERRY_UID_MAX], sfx[6];
        uint64_t h = 1469598103934665603ULL;

        pod_uid(j, i, a, uid);
        for (const char *p = uid; *p; p++)
                h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        for (int k = 0; k < 5; k++) {
                sfx[k] = alphabet[h % (sizeof(alphabet) - 1)];
                h /= sizeof(alphabet) - 1;
        }
        sfx[5] = '\0';
        if (j->indexed)
                snprintf(buf, size, "%s-%d-%s", j->name, i, sfx);
        else
                snprintf(buf, size, "%s-%s", j->name, sfx);
}

static void add_index_env(json_t *containers, const char *index)
{
        size_t k;
        json_t *c;

        json_array_foreach(containers, k, c)
        {
                json_t *env = json_object_get(c, "env"), *e;
                size_t x;
                bool has = false;
                if (!json_is_array(env)) {
                        env = json_array();
                        json_object_set_new(c, "env", env);
                }
                /* the Job controller leaves a variable the template sets alone */
                json_array_foreach(env, x, e)
                {
                        const char *n = jstr(e, "name");
                        has = has || (n && !strcmp(n, "JOB_COMPLETION_INDEX"));
                }
                if (has)
                        continue;
                json_array_append_new(
                    env, json_pack("{ssss}", "name", "JOB_COMPLETION_INDEX", "value", index));
        }
}

/* The PodCreateRequests for attempt a of index i, as the Job controller
 * would make the pod: name, uid, labels, owner, the index. */
static json_t *stamp(const struct job *j, int i, int a)
{
        json_t *req = json_deep_copy(j->request);
        json_t *pod = json_object_get(req, "pod");
        json_t *meta = json_object_get(pod, "metadata");
        char uid[FERRY_UID_MAX], name[FERRY_NAME_MAX], index[16];

        if (!json_is_object(meta)) {
                meta = json_object();
                json_object_set_new(pod, "metadata", meta);
        }
        pod_uid(j, i, a, uid);
        pod_name(j, i, a, name, sizeof(name));
        snprintf(index, sizeof(index), "%d", i);
        json_object_set_new(meta, "name", json_string(name));
        json_object_set_new(meta, "generateName", json_sprintf("%s-", j->name));
        json_object_set_new(meta, "namespace", json_string(j->ns));
        json_object_set_new(meta, "uid", json_string(uid));
        json_t *labels = json_object_get(meta, "labels");
        if (!json_is_object(labels)) {
                labels = json_object();
                json_object_set_new(meta, "labels", labels);
        }
        json_object_set_new(labels, "job-name", json_string(j->name));
        json_object_set_new(labels, "batch.kubernetes.io/job-name", json_string(j->name));
        json_object_set_new(labels, "controller-uid", json_string(j->uid));
        json_object_set_new(labels, "batch.kubernetes.io/controller-uid", json_string(j->uid));
        if (j->indexed) {
                json_object_set_new(labels, "batch.kubernetes.io/job-completion-index",
                                    json_string(index));
                json_t *ann = json_object_get(meta, "annotations");
                if (!json_is_object(ann)) {
                        ann = json_object();
                        json_object_set_new(meta, "annotations", ann);
                }
                json_object_set_new(ann, "batch.kubernetes.io/job-completion-index",
                                    json_string(index));
                json_t *spec = json_object_get(pod, "spec");
                add_index_env(json_object_get(spec, "initContainers"), index);
                add_index_env(json_object_get(spec, "containers"), index);
        }
        json_object_set_new(meta, "ownerReferences",
                            json_pack("[{sssssssssbsb}]", "apiVersion", "batch/v1", "kind", "Job",
                                      "name", j->name, "uid", j->uid, "controller", 1,
                                      "blockOwnerDeletion", 1));
        return req;
}

static int create_pod(struct ferry_jobs *js, const struct job *j, int i, int a, ferry_error_t *err)
{
        json_t *req = stamp(j, i, a);
        char *body = json_dumps(req, JSON_COMPACT);
        char uid[FERRY_UID_MAX], jid[FERRY_JID_MAX];
        int r = ferry_daemon_create(js->d, body, strlen(body), FERRY_BODY_CREATE_A, NULL, uid, jid,
                                    err);
        free(body);
        json_decref(req);
        return r;
}

static void delete_pod(struct ferry_jobs *js, const struct job *j, int i, int a)
{
        char uid[FERRY_UID_MAX], name[FERRY_NAME_MAX];
        ferry_error_t err = {{0}};

        pod_uid(j, i, a, uid);
        pod_name(j, i, a, name, sizeof(name));
        json_t *ref =
            json_pack("{s{ssssss}}", "metadata", "uid", uid, "namespace", j->ns, "name", name);
        char *body = json_dumps(ref, JSON_COMPACT);
        if (ferry_daemon_delete(js->d, body, strlen(body), NULL, &err) < 0)
                log_warn("job %s/%s: cannot delete pod %s: %s", j->ns, j->name, name, err.text);
        free(body);
        json_decref(ref);
}

/* ---- durable state ---- */

static char *state_text(const struct job *j)
{
        json_t *att = json_array();
        for (int i = 0; i < j->completions; i++)
                json_array_append_new(att, json_integer(j->attempts[i]));
        json_t *st = json_pack("{sssosIsI}", "salt", j->salt, "attempts", att, "start",
                               (json_int_t)j->start_ns, "endAt", (json_int_t)j->end_ns);
        if (j->end != JOB_RUNNING) {
                json_object_set_new(st, "end",
                                    json_string(j->end == JOB_COMPLETE ? "Complete" : "Failed"));
                json_object_set_new(st, "reason", json_string(j->reason));
                json_object_set_new(st, "message", json_string(j->message ? j->message : ""));
                json_object_set_new(st, "succeeded", json_integer(j->succeeded));
                json_object_set_new(st, "failed", json_integer(j->failed));
                json_object_set_new(st, "completed", json_string(j->completed ? j->completed : ""));
        }
        char *s = json_dumps(st, JSON_COMPACT);
        json_decref(st);
        return s;
}

static void state_load(struct job *j, const char *text)
{
        json_t *st = text ? json_loads(text, 0, NULL) : NULL;
        size_t i;
        json_t *v;

        json_array_foreach(json_object_get(st, "attempts"), i, v)
        {
                if (i < (size_t)j->completions && json_is_integer(v) && json_integer_value(v) >= 0)
                        j->attempts[i] = (int)json_integer_value(v);
        }
        snprintf(j->salt, sizeof(j->salt), "%s", jstr(st, "salt") ? jstr(st, "salt") : j->uid);
        j->start_ns = json_integer_value(json_object_get(st, "start"));
        j->end_ns = json_integer_value(json_object_get(st, "endAt"));
        const char *end = jstr(st, "end");
        if (end) {
                j->end = !strcmp(end, "Complete") ? JOB_COMPLETE : JOB_FAILED;
                snprintf(j->reason, sizeof(j->reason), "%s",
                         jstr(st, "reason") ? jstr(st, "reason") : "");
                j->message = ferry_xstrdup(jstr(st, "message") ? jstr(st, "message") : "");
                j->succeeded = (int)json_integer_value(json_object_get(st, "succeeded"));
                j->failed = (int)json_integer_value(json_object_get(st, "failed"));
                j->completed = ferry_xstrdup(jstr(st, "completed") ? jstr(st, "completed") : "");
        }
        json_decref(st);
}

static int save(struct ferry_jobs *js, const struct job *j, ferry_error_t *err)
{
        char *state = state_text(j);
        struct ferry_store_job row = {.uid = j->uid, .state = state};
        int r = ferry_store_put_job(js->store, &row, err);
        free(state);
        return r;
}

static struct job *job_new(const char *uid, const char *ns, const char *name, json_t *obj,
                           json_t *request, int64_t created_ns)
{
        struct job *j = ferry_xcalloc(1, sizeof(*j));
        snprintf(j->uid, sizeof(j->uid), "%s", uid);
        j->ns = ferry_xstrdup(ns);
        j->name = ferry_xstrdup(name);
        j->key = ferry_xasprintf("%s/%s", ns, name);
        j->obj = obj;
        j->request = request;
        j->created_ns = created_ns;
        return j;
}

/* Size the per-index arrays once completions is known. */
static void job_alloc(struct job *j)
{
        j->attempts = ferry_xcalloc((size_t)j->completions, sizeof(*j->attempts));
        j->gone = ferry_xcalloc((size_t)j->completions, sizeof(*j->gone));
}

/* ---- the controller ---- */

/* "0-2,4" from a set of indexes. */
static char *ranges(const bool *set, int n)
{
        struct ferry_buf b = FERRY_BUF_INIT;
        for (int i = 0; i < n; i++) {
                if (!set[i])
                        continue;
                int k = i;
                while (k + 1 < n && set[k + 1])
                        k++;
                ferry_buf_printf(&b, b.len ? ",%d" : "%d", i);
                if (k > i)
                        ferry_buf_printf(&b, "-%d", k);
                i = k;
        }
        ferry_buf_adds(&b, "");
        return ferry_buf_steal(&b);
}

static void finish(struct ferry_jobs *js, struct job *j, int end, const char *reason,
                   const char *msg)
{
        ferry_error_t err = {{0}};

        pthread_mutex_lock(&js->lock);
        j->end = end;
        j->end_ns = ferry_now_ns();
        snprintf(j->reason, sizeof(j->reason), "%s", reason);
        free(j->message);
        j->message = ferry_xstrdup(msg);
        pthread_mutex_unlock(&js->lock);
        if (save(js, j, &err) < 0)
                log_warn("job %s/%s: cannot store its end (%s): %s", j->ns, j->name, reason,
                         err.text);
        log_info("job %s/%s %s%s%s: %d succeeded, %d failed", j->ns, j->name,
                 end == JOB_COMPLETE ? "complete" : "failed", reason[0] ? ": " : "", reason,
                 j->succeeded, j->failed);
}

/* The job goes: its pods are deleted (they get their grace period), then its
 * row. False when the row could not be deleted (tried again next tick). */
static bool job_remove(struct ferry_jobs *js, struct job *j)
{
        ferry_error_t err = {{0}};

        for (int i = 0; i < j->completions; i++)
                for (int a = 0; a < j->attempts[i]; a++) {
                        char uid[FERRY_UID_MAX];
                        pod_uid(j, i, a, uid);
                        int ph = ferry_daemon_pod_phase(js->d, uid, NULL);
                        if (ph >= 0)
                                delete_pod(js, j, i, a);
                }
        if (ferry_store_delete_job(js->store, j->uid, &err) < 0) {
                log_warn("job %s/%s: cannot delete it from the store: %s", j->ns, j->name,
                         err.text);
                return false;
        }
        pthread_mutex_lock(&js->lock);
        ferry_hashmap_remove(js->jobs, j->key);
        pthread_mutex_unlock(&js->lock);
        log_info("job %s/%s deleted", j->ns, j->name);
        job_free(j);
        return true;
}

static void job_step(struct ferry_jobs *js, struct job *j, int64_t now, int64_t mono)
{
        int n = j->completions, active = 0, ready = 0, failed = 0, succeeded = 0;
        bool *succ = ferry_xcalloc((size_t)n, sizeof(bool));
        bool *act = ferry_xcalloc((size_t)n, sizeof(bool));
        ferry_error_t err = {{0}};
        int r;

        pthread_mutex_lock(&js->lock);
        bool del = j->delete_asked;
        pthread_mutex_unlock(&js->lock);
        if (del) {
                job_remove(js, j);
                goto out;
        }
        if (j->end != JOB_RUNNING) {
                if (j->ttl_s >= 0 && now >= j->end_ns + j->ttl_s * FERRY_NSEC_PER_SEC)
                        job_remove(js, j);
                goto out;
        }
        for (int i = 0; i < n; i++)
                for (int a = 0; a < j->attempts[i]; a++) {
                        char uid[FERRY_UID_MAX];
                        bool rdy = false;
                        pod_uid(j, i, a, uid);
                        int ph = ferry_daemon_pod_phase(js->d, uid, &rdy);
                        if (ph == -ENOENT && a == j->attempts[i] - 1 && !j->gone[i]) {
                                /* stored as made but never handed over (a crash
                                 * between the two): make it now */
                                ferry_error_clear(&err);
                                r = create_pod(js, j, i, a, &err);
                                if (r == -EEXIST) {
                                        j->gone[i] = true; /* deleted since */
                                } else if (r < 0 && !ferry_error_transient(r)) {
                                        char msg[300];
                                        snprintf(msg, sizeof(msg), "pod %s: %s", uid, err.text);
                                        finish(js, j, JOB_FAILED, "FailedCreate", msg);
                                        goto out;
                                } else {
                                        ph = FERRY_PHASE_PENDING;
                                }
                        }
                        if (ph < 0 || ph == FERRY_PHASE_FAILED) {
                                failed++;
                        } else if (ph == FERRY_PHASE_SUCCEEDED) {
                                succ[i] = true;
                        } else {
                                act[i] = true;
                                active++;
                                ready += rdy;
                        }
                }
        for (int i = 0; i < n; i++)
                succeeded += succ[i];
        if (failed > j->failed_seen) {
                int64_t delay = js->backoff_ms;
                for (int k = 1; k < failed && delay < BACKOFF_MAX_MS; k++)
                        delay *= 2;
                if (delay > BACKOFF_MAX_MS)
                        delay = BACKOFF_MAX_MS;
                j->next_create_mono = mono + delay * FERRY_NSEC_PER_MSEC;
                j->failed_seen = failed;
        }
        pthread_mutex_lock(&js->lock);
        j->active = active;
        j->ready = ready;
        j->succeeded = succeeded;
        j->failed = failed;
        free(j->completed);
        j->completed = ranges(succ, n);
        pthread_mutex_unlock(&js->lock);

        if (succeeded >= n) {
                finish(js, j, JOB_COMPLETE, "CompletionsReached",
                       "Reached expected number of succeeded pods");
                goto out;
        }
        const char *why = NULL, *msg = NULL;
        if (failed > j->backoff_limit) {
                why = "BackoffLimitExceeded";
                msg = "Job has reached the specified backoff limit";
        } else if (j->deadline_s > 0 && j->start_ns &&
                   now - j->start_ns >= j->deadline_s * FERRY_NSEC_PER_SEC) {
                why = "DeadlineExceeded";
                msg = "Job was active longer than specified deadline";
        }
        if (why) {
                /* the Job controller deletes what still runs and counts it failed */
                for (int i = 0; i < n; i++)
                        if (act[i])
                                delete_pod(js, j, i, j->attempts[i] - 1);
                pthread_mutex_lock(&js->lock);
                j->failed += j->active;
                j->active = j->ready = 0;
                pthread_mutex_unlock(&js->lock);
                finish(js, j, JOB_FAILED, why, msg);
                goto out;
        }

        /* start what is missing, lowest index first, within parallelism */
        if (failed > 0 && mono < j->next_create_mono)
                goto out;
        int n_want = 0;
        int *start = ferry_xcalloc((size_t)n, sizeof(int));
        for (int i = 0; i < n && active + n_want < j->parallelism; i++)
                if (!succ[i] && !act[i])
                        start[n_want++] = i;
        if (n_want > 0) {
                for (int k = 0; k < n_want; k++)
                        j->attempts[start[k]]++;
                pthread_mutex_lock(&js->lock); /* list reads it */
                if (!j->start_ns)
                        j->start_ns = now;
                pthread_mutex_unlock(&js->lock);
                if (save(js, j, &err) < 0) {
                        log_warn("job %s/%s: cannot store its next pods: %s", j->ns, j->name,
                                 err.text);
                        for (int k = 0; k < n_want; k++)
                                j->attempts[start[k]]--;
                        free(start);
                        goto out;
                }
                for (int k = 0; k < n_want; k++) {
                        int i = start[k];
                        ferry_error_clear(&err);
                        r = create_pod(js, j, i, j->attempts[i] - 1, &err);
                        if (r < 0)
                                log_warn("job %s/%s: index %d: %s (tried again)", j->ns, j->name, i,
                                         err.text);
                        j->gone[i] = false;
                }
                pthread_mutex_lock(&js->lock);
                j->active += n_want;
                pthread_mutex_unlock(&js->lock);
        }
        free(start);
out:
        free(succ);
        free(act);
}

void ferry_jobs_tick(struct ferry_jobs *js)
{
        size_t n = 0, it = 0;
        void *v;

        pthread_mutex_lock(&js->lock);
        struct job **all = ferry_xcalloc(ferry_hashmap_size(js->jobs) + 1, sizeof(*all));
        while (ferry_hashmap_next(js->jobs, &it, NULL, &v))
                all[n++] = v;
        pthread_mutex_unlock(&js->lock);
        int64_t now = ferry_now_ns(), mono = ferry_monotonic_ns();
        for (size_t i = 0; i < n; i++)
                job_step(js, all[i], now, mono); /* only the tick frees a job */
        free(all);
}

/* ---- the API ---- */

static json_t *job_json(const struct job *j)
{
        char t[FERRY_TIME_MAX];
        json_t *o = json_deep_copy(j->obj);
        json_t *st = json_pack("{sisisisi}", "active", j->active, "ready", j->ready, "succeeded",
                               j->succeeded, "failed", j->failed);

        if (j->start_ns)
                json_object_set_new(st, "startTime",
                                    json_string(ferry_time_format(j->start_ns, 0, t)));
        if (j->end == JOB_COMPLETE)
                json_object_set_new(st, "completionTime",
                                    json_string(ferry_time_format(j->end_ns, 0, t)));
        if (j->indexed)
                json_object_set_new(st, "completedIndexes",
                                    json_string(j->completed ? j->completed : ""));
        if (j->end != JOB_RUNNING)
                json_object_set_new(st, "conditions",
                                    json_pack("[{ssssssssss}]", "type",
                                              j->end == JOB_COMPLETE ? "Complete" : "Failed",
                                              "status", "True", "reason", j->reason, "message",
                                              j->message ? j->message : "", "lastTransitionTime",
                                              ferry_time_format(j->end_ns, 0, t)));
        json_object_set_new(o, "status", st);
        return o;
}

static bool az_allows(const struct ferry_authz *az, const char *ns)
{
        return !az || !az->allowed || az->allowed(az->ctx, ns);
}

int ferry_jobs_create(struct ferry_jobs *js, const char *body, size_t len,
                      const struct ferry_authz *az, struct ferry_buf *out, ferry_error_t *err)
{
        json_error_t je;
        json_t *in = json_loadb(body, len, 0, &je);
        struct job *j = NULL;
        char uid[37], t[FERRY_TIME_MAX];
        int r;

        if (!in)
                return ferry_errprintf(err, -EINVAL, "the body is not JSON (line %d: %s)", je.line,
                                       je.text);
        json_t *job = json_object_get(in, "job"), *req = json_object_get(in, "request");
        json_t *meta = json_object_get(job, "metadata");
        const char *kind = jstr(job, "kind"), *api = jstr(job, "apiVersion");
        const char *name = jstr(meta, "name"), *ns = jstr(meta, "namespace");
        if (!json_is_object(job) || !json_is_object(json_object_get(req, "pod"))) {
                r = ferry_errprintf(err, -EINVAL,
                                    "a job request is {\"job\": <batch/v1 Job>, \"request\": "
                                    "<PodCreateRequests of its template>}");
                goto out;
        }
        if (!kind || strcmp(kind, "Job") != 0 || !api || strcmp(api, "batch/v1") != 0) {
                r = ferry_errprintf(err, -EINVAL, "job: want apiVersion batch/v1, kind Job");
                goto out;
        }
        if (!ns)
                ns = "default";
        if (!name || !ferry_is_dns_label(name)) {
                r = ferry_errprintf(err, -EINVAL,
                                    "a job needs metadata.name, a DNS label of at most 63 "
                                    "characters (got '%.80s')",
                                    name ? name : "");
                goto out;
        }
        if (!ferry_is_dns_label(ns)) {
                r = ferry_errprintf(err, -EINVAL, "job %s: namespace '%.80s' is not a DNS label",
                                    name, ns);
                goto out;
        }
        if (!az_allows(az, ns)) {
                r = ferry_errprintf(err, -EACCES, "this token may not act on namespace \"%s\"", ns);
                goto out;
        }
        const char *given = jstr(meta, "uid");
        if (given && ferry_is_uuid(given))
                snprintf(uid, sizeof(uid), "%s", given);
        else
                ferry_uuid_generate(uid);
        json_t *obj = json_deep_copy(job);
        json_object_del(obj, "status");
        json_t *m = json_object_get(obj, "metadata");
        int64_t now = ferry_now_ns();
        json_object_set_new(m, "namespace", json_string(ns));
        json_object_set_new(m, "uid", json_string(uid));
        json_object_set_new(m, "creationTimestamp", json_string(ferry_time_format(now, 0, t)));
        j = job_new(uid, ns, name, obj, json_deep_copy(req), now);
        if ((r = parse_spec(j, err)) < 0)
                goto out;
        const char *rp =
            jstr(json_object_get(json_object_get(req, "pod"), "spec"), "restartPolicy");
        if (!rp || (strcmp(rp, "Never") != 0 && strcmp(rp, "OnFailure") != 0)) {
                r = ferry_errprintf(err, -EINVAL,
                                    "job %s: the pod template's restartPolicy must be Never or "
                                    "OnFailure (got %s)",
                                    name, rp ? rp : "none, which means Always");
                goto out;
        }
        job_alloc(j);
        ferry_uuid_generate(j->salt);
        /* the template must make a valid pod: refused now, not at every retry */
        json_t *first = stamp(j, 0, 0);
        char *text = json_dumps(first, JSON_COMPACT);
        struct ferry_pod *pod = NULL;
        r = ferry_pod_parse(text, strlen(text), FERRY_BODY_CREATE_A, &ferry_default_limits, &pod,
                            err);
        ferry_pod_free(pod);
        free(text);
        json_decref(first);
        if (r < 0) {
                ferry_errprefix(err, r, "job %s: its pod template", name);
                goto out;
        }
        json_t *spec = json_pack("{sOsO}", "job", j->obj, "request", j->request);
        char *spec_text = json_dumps(spec, JSON_COMPACT);
        char *state = state_text(j);
        json_decref(spec);
        struct ferry_store_job row = {
            .uid = uid,
            .namespace = ns,
            .name = name,
            .spec = spec_text,
            .state = state,
            .created_ns = now,
        };
        r = ferry_store_put_job(js->store, &row, err);
        free(spec_text);
        free(state);
        if (r < 0)
                goto out;
        pthread_mutex_lock(&js->lock);
        ferry_hashmap_put(js->jobs, j->key, j);
        json_t *o = job_json(j);
        pthread_mutex_unlock(&js->lock);
        char *s = json_dumps(o, JSON_COMPACT);
        ferry_buf_adds(out, s);
        free(s);
        json_decref(o);
        log_info("job %s/%s created (uid %s): %d completions, parallelism %d, backoffLimit %d%s",
                 j->ns, j->name, j->uid, j->completions, j->parallelism, j->backoff_limit,
                 j->indexed ? ", Indexed" : "");
        j = NULL;
        ferry_daemon_kick(js->d);
out:
        job_free(j);
        json_decref(in);
        return r < 0 ? r : 0;
}

void ferry_jobs_metrics(struct ferry_jobs *js, struct ferry_buf *out)
{
        size_t n[3] = {0}, it = 0;
        void *v;

        if (!js)
                return;
        pthread_mutex_lock(&js->lock);
        while (ferry_hashmap_next(js->jobs, &it, NULL, &v)) {
                const struct job *j = v;
                if (!j->delete_asked)
                        n[j->end]++;
        }
        pthread_mutex_unlock(&js->lock);
        ferry_buf_printf(out,
                         "# HELP ferry_jobs Jobs that ferryd runs, by state.\n"
                         "# TYPE ferry_jobs gauge\n"
                         "ferry_jobs{state=\"running\"} %zu\n"
                         "ferry_jobs{state=\"complete\"} %zu\n"
                         "ferry_jobs{state=\"failed\"} %zu\n",
                         n[JOB_RUNNING], n[JOB_COMPLETE], n[JOB_FAILED]);
}

/* namespace and name of a list or delete body; both optional. */
static int selector(const char *body, size_t len, const char **ns, const char **name, json_t **hold,
                    ferry_error_t *err)
{
        json_error_t je;
        *hold = NULL;
        *ns = *name = NULL;
        while (len > 0 && (body[0] == ' ' || body[0] == '\n' || body[0] == '\t' || body[0] == '\r'))
                body++, len--;
        if (len == 0)
                return 0;
        json_t *q = json_loadb(body, len, 0, &je);
        if (!json_is_object(q)) {
                json_decref(q);
                return ferry_errprintf(err, -EINVAL,
                                       "want {\"namespace\": NS, \"name\": NAME} (line %d: %s)",
                                       je.line, je.text);
        }
        *ns = jstr(q, "namespace");
        *name = jstr(q, "name");
        *hold = q;
        return 0;
}

int ferry_jobs_list(struct ferry_jobs *js, const char *body, size_t len,
                    const struct ferry_authz *az, struct ferry_buf *out, ferry_error_t *err)
{
        const char *ns, *name;
        json_t *hold, *arr = json_array();
        size_t it = 0;
        void *v;
        int r = selector(body, len, &ns, &name, &hold, err);

        if (r < 0) {
                json_decref(arr);
                return r;
        }
        if (ns && !az_allows(az, ns)) {
                r = ferry_errprintf(err, -EACCES, "this token may not act on namespace \"%s\"", ns);
                json_decref(hold); /* ns points into it */
                json_decref(arr);
                return r;
        }
        pthread_mutex_lock(&js->lock);
        while (ferry_hashmap_next(js->jobs, &it, NULL, &v)) {
                const struct job *j = v;
                if (!az_allows(az, j->ns) || (ns && strcmp(ns, j->ns) != 0) ||
                    (name && strcmp(name, j->name) != 0) || j->delete_asked)
                        continue;
                json_array_append_new(arr, job_json(j));
        }
        pthread_mutex_unlock(&js->lock);
        char *s = json_dumps(arr, JSON_COMPACT);
        ferry_buf_adds(out, s);
        free(s);
        json_decref(arr);
        json_decref(hold);
        return 0;
}

int ferry_jobs_delete(struct ferry_jobs *js, const char *body, size_t len,
                      const struct ferry_authz *az, ferry_error_t *err)
{
        const char *ns, *name;
        json_t *hold;
        int r = selector(body, len, &ns, &name, &hold, err);

        if (r < 0)
                return r;
        if (!ns)
                ns = "default";
        if (!name) {
                r = ferry_errprintf(err, -EINVAL,
                                    "say which job: {\"namespace\": NS, \"name\": NAME}");
        } else if (!az_allows(az, ns)) {
                r = ferry_errprintf(err, -EACCES, "this token may not act on namespace \"%s\"", ns);
        } else {
                char key[2 * FERRY_NAME_MAX];
                snprintf(key, sizeof(key), "%s/%s", ns, name);
                pthread_mutex_lock(&js->lock);
                struct job *j = ferry_hashmap_get(js->jobs, key);
                if (!j || j->delete_asked)
                        r = ferry_errprintf(err, -ENOENT, "no job \"%s\" in namespace \"%s\"", name,
                                            ns);
                else
                        j->delete_asked = true;
                pthread_mutex_unlock(&js->lock);
                if (r == 0) {
                        log_info("job %s deleted by request; its pods go next", key);
                        ferry_daemon_kick(js->d);
                }
        }
        json_decref(hold);
        return r;
}

/* ---- start and stop ---- */

static int load_job(void *ctx, const struct ferry_store_job *row)
{
        struct ferry_jobs *js = ctx;
        json_t *spec = json_loads(row->spec, 0, NULL);
        ferry_error_t err = {{0}};

        struct job *j =
            job_new(row->uid, row->namespace, row->name, json_incref(json_object_get(spec, "job")),
                    json_incref(json_object_get(spec, "request")), row->created_ns);
        json_decref(spec);
        if (!j->obj || !j->request || parse_spec(j, &err) < 0) {
                log_err("job %s/%s: its stored spec is unreadable (%s); left alone", row->namespace,
                        row->name, err.text[0] ? err.text : "not JSON");
                job_free(j);
                return 0;
        }
        job_alloc(j);
        state_load(j, row->state);
        ferry_hashmap_put(js->jobs, j->key, j);
        return 0;
}

int ferry_jobs_new(struct ferry_daemon *d, struct ferry_store *store, int64_t backoff_ms,
                   struct ferry_jobs **ret, ferry_error_t *err)
{
        struct ferry_jobs *js = ferry_xcalloc(1, sizeof(*js));
        js->d = d;
        js->store = store;
        js->backoff_ms = backoff_ms > 0 ? backoff_ms : 10000;
        pthread_mutex_init(&js->lock, NULL);
        js->jobs = ferry_hashmap_new();
        int r = ferry_store_load_jobs(store, load_job, js, err);
        if (r < 0) {
                ferry_jobs_free(js);
                return r;
        }
        if (ferry_hashmap_size(js->jobs))
                log_info("loaded %zu jobs from the store", ferry_hashmap_size(js->jobs));
        *ret = js;
        return 0;
}

void ferry_jobs_free(struct ferry_jobs *js)
{
        size_t it = 0;
        void *v;

        if (!js)
                return;
        while (ferry_hashmap_next(js->jobs, &it, NULL, &v))
                job_free(v);
        ferry_hashmap_free(js->jobs);
        pthread_mutex_destroy(&js->lock);
        free(js);
}
