/* SPDX-License-Identifier: MIT */
/*
 * The ferryd core: the pod table, create/delete/status/logs, the poller.
 *
 * Lock order (take them in this order, never the reverse):
 *
 *   d->wait_lock  ->  d->lock  ->  store's queue lock (ferry_store_update)
 *   d->poll_lock  ->  d->lock  ->  store's queue lock
 *   d->poll_lock  ->  the backend's own locks (backend calls)
 *
 * Site admission's state (admit.c: tenants, what they hold, each pod's
 * p->adm) is guarded by d->lock; the admission round runs in poll_once
 * (poll_lock held), and SIGHUP's reload takes poll_lock, then d->lock only
 * around each change (it reads pods' specs from the store in between).
 *
 * d->stop_lock, the Job table's lock (jobs.c) and the HTTP server's streams
 * lock are leaves; the Job controller runs on the poller thread after
 * poll_once, with no lock held, and calls in like a request thread. No backend call
 * and no wait on the store (ferry_store_sync, put_pod) is made with d->lock
 * held: a pod being submitted is pinned by p->submitting instead, and the
 * reaper leaves such a pod alone. A struct pod leaves the table only in the
 * reaper (poll_lock and d->lock held) or in create when its insert failed.
 * Fields of a pod are read and written under d->lock, except p->delete_asked
 * (atomic: submit_pod reads it unlocked, the pod being pinned).
 */
#include "daemon.h"

#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/hashmap.h"
#include "common/log.h"
#include "admit.h"
#include "common/thread.h"
#include "jobs.h"
#include "ledger.h"
#include "usage/usage.h"
#include "pod/ident.h"
#include "store/store.h"

/* A deleted pod's final status stays readable through /status this long, so
 * that a kubelet sees how its containers ended before it removes the API
 * object; then only the store's tombstone remains. */
#define DELETED_KEEP_NS (300LL * 1000000000)

/* One record per pod, kept for as long as the pod is known: 100,000 of them
 * must fit in well under 100 MB, so finished pods keep their container
 * entries packed (st.c == NULL, packed != NULL; see pod_status()), and the
 * namespace and name live in the same allocation. */
struct pod {
        char uid[FERRY_UID_MAX];
        char jid[FERRY_JID_MAX];
        const char *ns;   /* into buf */
        const char *name; /* into buf */
        int state;        /* enum ferry_pod_state */
        struct ferry_pod_status st;
        unsigned char *packed;
        int64_t created_ns;
        int64_t grace_s;
        int64_t deleted_mono_ns; /* FERRY_POD_DELETED: when the backend confirmed */
        int64_t next_try_ns;
        int attempts;
        bool submitting;
        atomic_bool delete_asked;    /* set with state DELETING; submit_pod reads it unlocked */
        struct ferry_admit_pod *adm; /* site admission's record (tenancy on, pod not done) */
        bool ledgered;               /* its usage record is queued (ledger.c) */
        char buf[];
};

static struct pod *pod_new(const char *uid, const char *ns, const char *name)
{
        size_t nl = strlen(ns) + 1, ml = strlen(name) + 1;
        struct pod *p = ferry_xcalloc(1, sizeof(*p) + nl + ml);
        snprintf(p->uid, sizeof(p->uid), "%s", uid);
        memcpy(p->buf, ns, nl);
        memcpy(p->buf + nl, name, ml);
        p->ns = p->buf;
        p->name = p->buf + nl;
        return p;
}

static bool phase_final(int phase)
{
        return phase == FERRY_PHASE_SUCCEEDED || phase == FERRY_PHASE_FAILED;
}

/* Pack the container entries of a pod whose status will not change again. */
static bool pod_pack(struct pod *p)
{
        if (!p->st.c || !phase_final(p->st.phase) ||
            (p->state != FERRY_POD_SUBMITTED && p->state != FERRY_POD_REFUSED &&
             p->state != FERRY_POD_DELETED))
                return false;
        free(p->packed);
        p->packed = ferry_pod_status_pack(&p->st);
        for (size_t i = 0; i < (size_t)p->st.n_init + p->st.n_containers; i++)
                free(p->st.c[i].message);
        free(p->st.c);
        p->st.c = NULL;
        return true;
}

/* The full status of a pod: its own, or unpacked into scratch (release it
 * with scratch_release). Call with the table lock held. */
static struct ferry_pod_status *pod_status(struct pod *p, struct ferry_pod_status *scratch)
{
        if (p->st.c || !p->packed)
                return &p->st;
        *scratch = p->st; /* shares reason/message: scratch_release leaves them */
        scratch->c = NULL;
        if (ferry_pod_status_unpack(p->packed, scratch) < 0)
                scratch->n_init = scratch->n_containers = 0;
        return scratch;
}

static void scratch_release(struct ferry_pod_status *st, struct ferry_pod_status *scratch)
{
        if (st != scratch)
                return;
        for (size_t i = 0; scratch->c && i < (size_t)scratch->n_init + scratch->n_containers; i++)
                free(scratch->c[i].message);
        free(scratch->c);
        scratch->c = NULL;
}

struct ferry_daemon {
        struct ferry_daemon_config cfg;
        struct ferry_store *store;
        struct ferry_backend *be;
        pthread_rwlock_t lock; /* the pod table */
        struct ferry_hashmap *pods;
        size_t compacted; /* pods packed so far (under lock): freed memory to trim */
        pthread_mutex_t wait_lock;
        pthread_cond_t submitted; /* a submission finished */
        pthread_t poller;
        bool poller_started;
        pthread_mutex_t poll_lock; /* one poll at a time */
        pthread_mutex_t stop_lock;
        pthread_cond_t stop_cond;
        bool stop;
        bool kick;               /* poll now: a delete is waiting */
        struct ferry_jobs *jobs; /* the Job controller (jobs.c), ticked after each poll */
        struct ferry_admit *adm; /* site admission (admit.c), under d->lock */
        size_t adm_waiting;      /* pods waiting for admission after the last round */
        bool adm_attaching;      /* records are being computed again (SIGHUP) */
        struct ferry_ledger_counters *usage_counters; /* ledger.c: ferry_usage_*_total */
        struct admission_scratch {
                struct pod **wp, **rp;
                struct ferry_tn_wait *w;
                struct ferry_tn_run *run;
                size_t cap_w, cap_wp, cap_r, cap_rp;
        } adm_scratch; /* the admission round's arrays, kept for the next (poll_lock) */
};

/* Pack a finished pod's status, counting it (the poller trims after). Call
 * with the table lock held for writing. */
static void pod_compact(struct ferry_daemon *d, struct pod *p)
{
        if (pod_pack(p))
                d->compacted++;
}

static bool az_ok(const struct ferry_authz *az, const char *ns)
{
        return !az || !az->allowed || az->allowed(az->ctx, ns);
}

static void pod_free(struct pod *p)
{
        if (!p)
                return;
        free(p->packed);
        free(p->adm);
        ferry_pod_status_clear(&p->st);
        free(p);
}

static void status_init_from_pod(struct ferry_pod_status *st, const struct ferry_pod *pod)
{
        const char **in = ferry_xcalloc(pod->n_init + 1, sizeof(char *));
        const char **cn = ferry_xcalloc(pod->n_containers + 1, sizeof(char *));
        for (size_t i = 0; i < pod->n_init; i++)
                in[i] = pod->init[i].name;
        for (size_t i = 0; i < pod->n_containers; i++)
                cn[i] = pod->containers[i].name;
        ferry_pod_status_init(st, in, pod->n_init, cn, pod->n_containers);
        free(in);
        free(cn);
}

static void persist_status(struct ferry_daemon *d, struct pod *p, const char *event,
                           const char *detail)
{
        struct ferry_buf b = FERRY_BUF_INIT;
        ferry_pod_status_serialize(&b, &p->st);
        ferry_store_update(d->store, p->uid, NULL, -1, b.data, event, detail);
        ferry_buf_free(&b);
}

/* Mark every container waiting with a reason (backend unavailable). */
static void set_waiting_reason(struct pod *p, const char *reason, const char *msg)
{
        for (size_t i = 0; i < (size_t)p->st.n_init + p->st.n_containers; i++) {
                struct ferry_cstatus *c = &p->st.c[i];
                if (c->state != FERRY_C_WAITING)
                        continue;
                snprintf(c->reason, sizeof(c->reason), "%s", reason);
                ferry_cstatus_set_message(c, msg);
        }
        snprintf(p->st.reason, sizeof(p->st.reason), "%s", reason);
        ferry_pod_status_set_message(&p->st, msg);
}

static void set_refused(struct pod *p, const char *msg)
{
        p->state = FERRY_POD_REFUSED;
        p->st.phase = FERRY_PHASE_FAILED;
        set_waiting_reason(p, "ProviderFailed", msg);
}

/* Admission: a pod that is done (finished, refused, deleted) holds nothing
 * any more and needs no record; a preempted pod's end says so. Call with the
 * table lock held for writing after any change of its state or status. */
static void adm_settle(struct ferry_daemon *d, struct pod *p)
{
        if (!p->adm)
                return;
        if (p->adm->preempted && p->st.phase != FERRY_PHASE_SUCCEEDED) {
                char msg[FERRY_UID_MAX + 300];
                snprintf(msg, sizeof(msg), "preempted to make room for pod %s (uid %s)",
                         p->adm->preempted_name, p->adm->preempted_for);
                snprintf(p->st.reason, sizeof(p->st.reason), "Preempted");
                if (!p->st.message || strcmp(p->st.message, msg) != 0)
                        ferry_pod_status_set_message(&p->st, msg);
        }
        /* a pod being deleted holds what it has until the backend says nothing
         * of it runs (delete_done) */
        bool done = p->state == FERRY_POD_DELETED || p->state == FERRY_POD_REFUSED ||
                    (p->state == FERRY_POD_SUBMITTED && phase_final(p->st.phase));

        if (!done)
                return;
        ferry_admit_release(d->adm, p->adm);
        free(p->adm);
        p->adm = NULL;
}

/* Hand a pod to the backend. Called without the table lock, with
 * p->submitting set by the caller: that pins p (the reaper leaves a pod
 * alone while it is submitted) until this clears it, and p must not be
 * touched afterwards. Returns the backend result, and the job id in ret_jid
 * (may be NULL; "" when there is none). */
static int submit_pod(struct ferry_daemon *d, struct pod *p, const struct ferry_pod *pod,
                      char ret_jid[FERRY_JID_MAX], ferry_error_t *err)
{
        char jid[FERRY_JID_MAX] = "";
        char devices[1024] = ""; /* what it holds, for its record (the usage ledger) */
        int r;

        bool deleted = atomic_load(&p->delete_asked); /* p is pinned: no lock needed */
        if (deleted) {
                r = 0; /* deleted before it started: it never starts */
                goto done;
        }
        r = ferry_backend_submit(d->be, pod, jid, err);
        if (r >= 0)
                ferry_backend_devices(d->be, p->uid, devices, sizeof(devices));
done:
        pthread_rwlock_wrlock(&d->lock);
        p->submitting = false; /* p may be freed once the lock is released */
        p->attempts++;
        if ((r < 0 || deleted) && p->adm) { /* admitted, but it did not start */
                ferry_admit_release(d->adm, p->adm);
                p->adm->shown = 0; /* its next wait says why anew */
        }
        if (deleted) {
                /* the reaper finishes the delete */
        } else if (r >= 0) {
                memcpy(p->jid, jid, sizeof(p->jid));
                if (p->state == FERRY_POD_ACCEPTED)
                        p->state = FERRY_POD_SUBMITTED;
                p->st.reason[0] = '\0';
                ferry_pod_status_set_message(&p->st, NULL);
                for (size_t i = 0; i < (size_t)p->st.n_init + p->st.n_containers; i++)
                        if (p->st.c[i].state == FERRY_C_WAITING)
                                ferry_cstatus_set_message(&p->st.c[i], NULL);
                /* devices first: a crash that loses "submitted" reattaches the pod,
                 * and the reattach records what is missing (load) */
                if (devices[0])
                        ferry_store_update(d->store, p->uid, NULL, -1, NULL, "devices", devices);
                ferry_store_update(d->store, p->uid, jid,
                                   p->state == FERRY_POD_SUBMITTED ? FERRY_POD_SUBMITTED : -1, NULL,
                                   "submitted", jid);
        } else if (r == FERRY_BACKEND_WAIT) {
                /* it fits, later: Pending with the backend's reason, tried again at
                 * every poll (oldest first) */
                char reason[64] = "Unschedulable";
                const char *msg = err ? err->text : "";
                const char *colon = strstr(msg, ": ");
                if (colon && (size_t)(colon - msg) < sizeof(reason) && colon > msg) {
                        memcpy(reason, msg, (size_t)(colon - msg));
                        reason[colon - msg] = '\0';
                        msg = colon + 2;
                }
                p->next_try_ns = 0;
                p->attempts = 0;
                bool news = strcmp(p->st.reason, reason) != 0 || !p->st.message ||
                            strcmp(p->st.message, msg) != 0;
                set_waiting_reason(p, reason, msg);
                if (news)
                        persist_status(d, p, "submit-wait", msg);
        } else if (ferry_error_transient(r)) {
                int64_t backoff = FERRY_NSEC_PER_SEC << (p->attempts < 6 ? p->attempts : 6);
                p->next_try_ns = ferry_monotonic_ns() + backoff;
                set_waiting_reason(p, "BackendUnavailable",
                                   err ? err->text : "backend unavailable");
                persist_status(d, p, "submit-retry", err ? err->text : NULL);
        } else {
                set_refused(p, err ? err->text : "the backend refused the pod");
                struct ferry_buf b = FERRY_BUF_INIT;
                ferry_pod_status_serialize(&b, &p->st);
                ferry_store_update(d->store, p->uid, NULL, FERRY_POD_REFUSED, b.data, "refused",
                                   err ? err->text : NULL);
                ferry_buf_free(&b);
                adm_settle(d, p);
                pod_compact(d, p);
        }
        if (ret_jid)
                memcpy(ret_jid, p->jid, FERRY_JID_MAX);
        pthread_rwlock_unlock(&d->lock);
        pthread_mutex_lock(&d->wait_lock);
        pthread_cond_broadcast(&d->submitted);
        pthread_mutex_unlock(&d->wait_lock);
        return r;
}

/* A waiting pod's reason and message from its verdict; stored when the
 * reason changed (the message's numbers move every round). */
static void adm_set_waiting(struct ferry_daemon *d, struct pod *p, const struct ferry_tn_wait *w,
                            bool persist)
{
        char msg[512];
        int shown = w->verdict * 64 + w->res * 2 + (w->preempts || w->reserves);
        if (p->adm->shown == shown + 1)
                return; /* said already: its numbers are of when it began to wait so */
        p->adm->shown = shown + 1;
        const char *reason = ferry_tn_reason(w->verdict, w->res);
        ferry_admit_message(d->adm, w, msg, sizeof(msg));
        bool news = strcmp(p->st.reason, reason) != 0;
        set_waiting_reason(p, reason, msg);
        if (news && persist)
                persist_status(d, p, "admission-wait", reason);
}

/* The fast path of /create: a pod starts at once when nobody waits before
 * it and it fits; else it waits for the next round. Table lock held. */
static bool adm_try_now(struct ferry_daemon *d, struct pod *p)
{
        struct ferry_tn_wait w;
        int64_t now = ferry_now_ns();
        ferry_admit_wait_of(p->adm, p->created_ns, &w);
        if (d->adm_waiting == 0 && !d->adm_attaching &&
            ferry_admit_plan(d->adm, &w, 1, NULL, 0, now, false) == 1) {
                p->adm->holds = true;
                p->adm->admitted_ns = now;
                ferry_admit_count_admitted(d->adm);
                return true;
        }
        if (w.verdict == FERRY_TN_ADMIT) { /* not planned: others wait for room */
                int res = ferry_admit_over_quota(d->adm, p->adm);
                if (res >= 0)
                        w.verdict = FERRY_TN_WAIT_QUOTA, w.res = res;
        }
        if (w.verdict != FERRY_TN_WAIT_QUOTA)
                d->adm_waiting++; /* a pod over its quota holds back nobody */
        if (w.verdict != FERRY_TN_ADMIT) {
                adm_set_waiting(d, p, &w, false); /* stored with the pod */
        } else { /* it would fit, but others wait before it: the next round says */
                char msg[128];
                snprintf(msg, sizeof(msg), "waiting for the next admission round (%zu pods wait)",
                         d->adm_waiting);
                set_waiting_reason(p, "Admitting", msg);
        }
        return false;
}

int ferry_daemon_create(struct ferry_daemon *d, const char *body, size_t len,
                        enum ferry_body_kind kind, const struct ferry_authz *az,
                        char ret_uid[FERRY_UID_MAX], char ret_jid[FERRY_JID_MAX],
                        ferry_error_t *err)
{
        struct ferry_pod *pod = NULL;
        struct pod *p;
        int r;

        if ((r = ferry_pod_parse(body, len, kind, &d->cfg.limits, &pod, err)) < 0)
                return r;
        if (!az_ok(az, pod->namespace)) {
                r = ferry_errprintf(err, -EACCES, "this token may not act on namespace \"%s\"",
                                    pod->namespace);
                goto out;
        }
        snprintf(ret_uid, FERRY_UID_MAX, "%s", pod->uid);

        pthread_rwlock_wrlock(&d->lock);
        p = ferry_hashmap_get(d->pods, pod->uid);
        if (p) {
                /* Same uid again: answer what we answered before; start nothing. */
                pthread_rwlock_unlock(&d->lock);
                int64_t deadline = ferry_monotonic_ns() + 60 * FERRY_NSEC_PER_SEC;
                pthread_mutex_lock(&d->wait_lock);
                for (;;) {
                        pthread_rwlock_rdlock(&d->lock);
                        p = ferry_hashmap_get(d->pods, pod->uid);
                        bool busy = p && p->submitting;
                        pthread_rwlock_unlock(&d->lock);
                        if (!busy || ferry_monotonic_ns() > deadline)
                                break;
                        ferry_cond_wait_until(&d->submitted, &d->wait_lock, deadline);
                }
                pthread_mutex_unlock(&d->wait_lock);
                pthread_rwlock_rdlock(&d->lock);
                p = ferry_hashmap_get(d->pods, pod->uid);
                if (!p || p->state == FERRY_POD_DELETED)
                        r = ferry_errprintf(err, -EEXIST,
                                            "pod %s was deleted; a new pod needs a new uid",
                                            pod->uid);
                else if (p->state == FERRY_POD_DELETING)
                        r = ferry_errprintf(err, -EBUSY, "pod %s is being deleted", pod->uid);
                else if (p->state == FERRY_POD_REFUSED)
                        r = ferry_errprintf(err, -EINVAL, "%s",
                                            p->st.message ? p->st.message
                                                          : "the backend refused this pod");
                else {
                        snprintf(ret_jid, FERRY_JID_MAX, "%s", p->jid);
                        r = 0;
                }
                pthread_rwlock_unlock(&d->lock);
                goto out;
        }
        /* site admission: refused when it can never start, else it starts
         * now or waits for its turn (stored either way) */
        struct ferry_admit_pod *ap = ferry_admit_pod_new(d->adm, pod);
        if (ap && (r = ferry_admit_never(d->adm, ap, err)) < 0) {
                pthread_rwlock_unlock(&d->lock);
                free(ap);
                goto out;
        }
        p = pod_new(pod->uid, pod->namespace, pod->name);
        p->state = FERRY_POD_ACCEPTED;
        p->created_ns = ferry_now_ns();
        p->grace_s = pod->grace_seconds;
        p->submitting = true; /* pinned until stored, and while it is submitted */
        p->adm = ap;
        status_init_from_pod(&p->st, pod);
        bool admitted = !ap || adm_try_now(d, p);
        ferry_hashmap_put(d->pods, p->uid, p);
        pthread_rwlock_unlock(&d->lock);

        /* Durable before anything starts and before we answer. */
        struct ferry_buf sb = FERRY_BUF_INIT;
        ferry_pod_status_serialize(&sb, &p->st);
        struct ferry_store_row row = {
            .uid = p->uid,
            .namespace = p->ns,
            .name = p->name,
            .backend = d->be->ops->name,
            .state = FERRY_POD_ACCEPTED,
            .status = sb.data,
            .created_ns = p->created_ns,
            .grace_s = p->grace_s,
        };
        r = ferry_store_put_pod(d->store, &row, body, len, (int)kind, err);
        ferry_buf_free(&sb);
        if (r < 0) {
                pthread_rwlock_wrlock(&d->lock);
                ferry_hashmap_remove(d->pods, p->uid);
                ferry_admit_release(d->adm, p->adm);
                pthread_rwlock_unlock(&d->lock);
                pod_free(p);
                if (r == -EEXIST)
                        ferry_errprintf(err, -EEXIST,
                                        "pod uid %s was used by a pod that is deleted; a new pod "
                                        "needs a new uid",
                                        pod->uid);
                else if (r == -EIO) /* not stored, so not accepted: the client may retry */
                        r = ferry_errprefix(err, -EAGAIN, "pod %s was not accepted", pod->uid);
                pthread_mutex_lock(&d->wait_lock);
                pthread_cond_broadcast(&d->submitted);
                pthread_mutex_unlock(&d->wait_lock);
                goto out;
        }
        if (!admitted) {
                /* it waits for a round of the poller (its status says why) */
                pthread_rwlock_wrlock(&d->lock);
                p->submitting = false;
                pthread_rwlock_unlock(&d->lock);
                pthread_mutex_lock(&d->wait_lock);
                pthread_cond_broadcast(&d->submitted);
                pthread_mutex_unlock(&d->wait_lock);
                ret_jid[0] = '\0';
                r = 0;
                goto out;
        }
        r = submit_pod(d, p, pod, ret_jid, err);
        if (ferry_error_transient(r) || r == FERRY_BACKEND_WAIT)
                r = 0; /* accepted: the poller submits it again */
out:
        ferry_pod_free(pod);
        return r;
}

/* Pull uid/namespace out of a Pod JSON value. */
static int pod_ident(json_t *pod, const char **uid, const char **ns, const char **name)
{
        json_t *meta = json_object_get(pod, "metadata");
        *uid = json_string_value(json_object_get(meta, "uid"));
        *ns = json_string_value(json_object_get(meta, "namespace"));
        *name = json_string_value(json_object_get(meta, "name"));
        if (!*ns)
                *ns = "default";
        return *uid ? 0 : -EINVAL;
}

static json_t *load_json(const struct ferry_daemon *d, const char *body, size_t len,
                         ferry_error_t *err, int *ret_r)
{
        json_error_t jerr;
        if (len > d->cfg.limits.max_body) {
                *ret_r = ferry_errprintf(err, -E2BIG,
                                         "request body of %zu bytes exceeds the limit of %zu", len,
                                         d->cfg.limits.max_body);
                return NULL;
        }
        /* depth check: reuse the pod parser's rule by a cheap scan */
        size_t depth = 0, maxd = 0;
        bool in_str = false;
        for (size_t i = 0; i < len; i++) {
                char c = body[i];
                if (in_str) {
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                in_str = false;
                } else if (c == '"')
                        in_str = true;
                else if (c == '{' || c == '[') {
                        if (++depth > maxd)
                                maxd = depth;
                } else if ((c == '}' || c == ']') && depth)
                        depth--;
        }
        if (maxd > d->cfg.limits.max_json_depth) {
                *ret_r = ferry_errprintf(err, -E2BIG, "JSON nesting deeper than %zu levels",
                                         d->cfg.limits.max_json_depth);
                return NULL;
        }
        json_t *j = json_loadb(body, len, 0, &jerr);
        if (!j)
                *ret_r = ferry_errprintf(err, -EINVAL, "malformed JSON at line %d, column %d: %s",
                                         jerr.line, jerr.column, jerr.text);
        return j;
}

static void poll_once(struct ferry_daemon *d);

/* Wake the poller for a cycle now; without a poller thread, run it here. */
static void poller_kick(struct ferry_daemon *d)
{
        if (!d->poller_started) {
                poll_once(d);
                return;
        }
        pthread_mutex_lock(&d->stop_lock);
        d->kick = true;
        pthread_cond_broadcast(&d->stop_cond);
        pthread_mutex_unlock(&d->stop_lock);
}

int ferry_daemon_delete(struct ferry_daemon *d, const char *body, size_t len,
                        const struct ferry_authz *az, ferry_error_t *err)
{
        const char *uid, *ns, *name;
        bool marked = false, known = false;
        int r = 0;
        json_t *j = load_json(d, body, len, err, &r);

        if (!j)
                return r;
        if (json_is_array(j) && json_array_size(j) == 1) { /* tolerate a one-element array */
                json_t *e = json_incref(json_array_get(j, 0));
                json_decref(j);
                j = e;
        }
        if (!json_is_object(j) || pod_ident(j, &uid, &ns, &name) < 0) {
                json_decref(j);
                return ferry_errprintf(err, -EINVAL, "expected a Pod with metadata.uid");
        }
        /* kubectl delete --grace-period=N: the API server writes N here, and it
         * wins over the spec's terminationGracePeriodSeconds, as at a kubelet */
        json_t *dg = json_object_get(json_object_get(j, "metadata"), "deletionGracePeriodSeconds");
        int64_t grace = json_is_integer(dg) ? (int64_t)json_integer_value(dg) : -1;
        if (grace > 86400)
                grace = 86400;
        pthread_rwlock_wrlock(&d->lock);
        struct pod *p = ferry_hashmap_get(d->pods, uid);
        if (p && p->adm && az_ok(az, p->ns))
                p->adm->client_delete = true; /* a pod being preempted goes for good */
        if (p && !az_ok(az, p->ns)) {
                r = ferry_errprintf(err, -EACCES, "this token may not act on namespace \"%s\"",
                                    p->ns);
        } else if (p && p->state != FERRY_POD_DELETING && p->state != FERRY_POD_DELETED) {
                if (grace >= 0 && grace != p->grace_s) {
                        p->grace_s = grace;
                        ferry_store_update_grace(d->store, p->uid, grace);
                }
                p->state = FERRY_POD_DELETING;
                atomic_store(&p->delete_asked, true);
                marked = true;
                ferry_store_update(d->store, p->uid, NULL, FERRY_POD_DELETING, NULL,
                                   "delete-requested", NULL);
        } else if (p && p->state == FERRY_POD_DELETING && grace >= 0 && grace < p->grace_s) {
                /* a second delete with a shorter grace period: the kill comes sooner
                 * (as a kubelet does); a longer one changes nothing */
                p->grace_s = grace;
                ferry_store_update_grace(d->store, p->uid, grace);
                marked = true;
        } else if (!p && !az_ok(az, ns)) {
                r = ferry_errprintf(err, -EACCES, "this token may not act on namespace \"%s\"", ns);
        }
        known = p && r == 0;
        pthread_rwlock_unlock(&d->lock);
        if (marked)
                poller_kick(d); /* first kill attempt right away */
        /* the delete request itself is durable before it is acknowledged (a
         * repeated delete too: the first may have been answered 503) */
        if (known && (r = ferry_store_sync(d->store)) < 0)
                r = ferry_errprintf(err, -EAGAIN,
                                    "the delete of pod %s could not be stored yet (it is "
                                    "retried): %s",
                                    uid,
                                    ferry_store_health(d->store, NULL) < 0
                                        ? "the state database cannot commit"
                                        : "the commit failed");
        json_decref(j); /* uid points into it */
        return r;
}

static void status_one(struct ferry_buf *out, struct pod *p, bool *first)
{
        struct ferry_pod_status scratch;
        struct ferry_pod_status *st = pod_status(p, &scratch);
        if (!*first)
                ferry_buf_addc(out, ',');
        *first = false;
        ferry_pod_status_to_json(out, p->name, p->uid, p->ns, p->jid, st);
        scratch_release(st, &scratch);
}

static int by_creation(const void *a, const void *b)
{
        const struct pod *x = *(struct pod *const *)a, *y = *(struct pod *const *)b;
        if (x->created_ns != y->created_ns)
                return x->created_ns < y->created_ns ? -1 : 1;
        return strcmp(x->uid, y->uid);
}

struct ferry_status_req {
        struct ferry_daemon *d;
        struct ferry_pod_idents_stream *scan;
        size_t len; /* bytes fed */
        bool blank; /* nothing but white space so far: reads as [] */
        int r;      /* the first error, kept in err */
        ferry_error_t err;
        size_t n, cap;
        struct status_ident {
                char uid[FERRY_UID_MAX]; /* "" when too long to be known */
                char ns[64];             /* a DNS label: 63 bytes at most */
        } * v;
};

static int status_ident(void *ctx, size_t i, const struct ferry_pod_ident *id)
{
        struct ferry_status_req *q = ctx;
        if (q->n == q->d->cfg.limits.max_status_batch)
                return ferry_errprintf(&q->err, -E2BIG,
                                       "more than %zu pods in one /status call, the limit is %zu",
                                       q->n, q->d->cfg.limits.max_status_batch);
        if (q->n == q->cap) {
                q->cap = q->cap ? q->cap * 2 : 64;
                q->v = ferry_xrealloc(q->v, q->cap * sizeof(*q->v));
        }
        if (strlen(id->ns) >= sizeof(q->v->ns))
                return ferry_errprintf(&q->err, -EINVAL,
                                       "pod %zu: metadata.namespace \"%.64s...\" is longer than a "
                                       "namespace can be (63 bytes)",
                                       i, id->ns);
        struct status_ident *e = &q->v[q->n++];
        if (strlen(id->uid) < sizeof(e->uid))
                memcpy(e->uid, id->uid, strlen(id->uid) + 1);
        else
                e->uid[0] = '\0';
        memcpy(e->ns, id->ns, strlen(id->ns) + 1);
        return 0;
}

struct ferry_status_req *ferry_daemon_status_begin(struct ferry_daemon *d)
{
        struct ferry_status_req *q = ferry_xcalloc(1, sizeof(*q));
        q->d = d;
        q->blank = true;
        q->scan =
            ferry_pod_idents_stream_new(d->cfg.limits.max_json_depth, status_ident, q, &q->err);
        return q;
}

int ferry_daemon_status_feed(struct ferry_status_req *q, const char *data, size_t n)
{
        if (q->r < 0)
                return q->r;
        q->len += n;
        if (q->len > q->d->cfg.limits.max_status_body)
                return q->r = ferry_errprintf(&q->err, -E2BIG,
                                              "request body exceeds the limit of %zu bytes",
                                              q->d->cfg.limits.max_status_body);
        for (size_t i = 0; q->blank && i < n; i++)
                q->blank = data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r';
        return q->r = ferry_pod_idents_stream_feed(q->scan, data, n);
}

bool ferry_daemon_status_empty(struct ferry_status_req *q)
{
        if (q->r < 0)
                return false;
        if (q->blank)
                return true;
        int r = ferry_pod_idents_stream_end(q->scan); /* the count: end is idempotent */
        if (r < 0)
                q->r = r;
        return r == 0;
}

void ferry_daemon_status_free(struct ferry_status_req *q)
{
        if (!q)
                return;
        ferry_pod_idents_stream_free(q->scan);
        free(q->v);
        free(q);
}

/* The body is an array of v1.Pod, often whole objects from a virtual
 * kubelet: only metadata.uid/namespace matter, and pod/ident.c takes them
 * out as the body arrives, without building the pods or keeping the body. */
int ferry_daemon_status_end(struct ferry_status_req *q, const struct ferry_authz *az,
                            struct ferry_buf *out, ferry_error_t *err)
{
        struct ferry_daemon *d = q->d;
        bool first = true;
        int r = q->r;

        if (r == 0 && !q->blank && (r = ferry_pod_idents_stream_end(q->scan)) < 0)
                q->r = r; /* no body at all (or white space) reads as [] */
        if (r < 0) {
                if (err)
                        *err = q->err;
                return r;
        }
        size_t n = q->n;
        r = 0;
        /* Check access first so that a refused request reveals nothing. */
        struct pod **found = n ? ferry_xcalloc(n, sizeof(*found)) : NULL;
        pthread_rwlock_rdlock(&d->lock);
        for (size_t i = 0; i < n; i++) {
                struct pod *p = q->v[i].uid[0] ? ferry_hashmap_get(d->pods, q->v[i].uid) : NULL;
                if (!az_ok(az, p ? p->ns : q->v[i].ns)) {
                        r = ferry_errprintf(err, -EACCES,
                                            "this token may not read pods of namespace \"%s\"",
                                            p ? p->ns : q->v[i].ns);
                        break;
                }
                found[i] = p;
        }
        if (r == 0) {
                /* one allocation for the answer: a pod's status is ~320 bytes */
                ferry_buf_reserve(out, 384 * (n ? n : ferry_hashmap_size(d->pods)) + 2);
                ferry_buf_addc(out, '[');
                if (n == 0) {
                        size_t it = 0, k = 0;
                        void *v;
                        struct pod **all =
                            ferry_xcalloc(ferry_hashmap_size(d->pods) + 1, sizeof(*all));
                        while (ferry_hashmap_next(d->pods, &it, NULL, &v))
                                if (((struct pod *)v)->state != FERRY_POD_DELETING &&
                                    ((struct pod *)v)->state != FERRY_POD_DELETED &&
                                    az_ok(az, ((struct pod *)v)->ns))
                                        all[k++] = v;
                        qsort(all, k, sizeof(*all),
                              by_creation); /* creation order is nicer for people */
                        for (size_t a = 0; a < k; a++)
                                status_one(out, all[a], &first);
                        free(all);
                } else {
                        for (size_t i = 0; i < n; i++)
                                if (found[i]) /* unknown UIDs are omitted */
                                        status_one(out, found[i], &first);
                }
                ferry_buf_addc(out, ']');
        }
        free(found);
        pthread_rwlock_unlock(&d->lock);
        return r;
}

int ferry_daemon_status(struct ferry_daemon *d, const char *body, size_t len,
                        const struct ferry_authz *az, struct ferry_buf *out, ferry_error_t *err)
{
        struct ferry_status_req *q = ferry_daemon_status_begin(d);
        ferry_daemon_status_feed(q, body, len);
        int r = ferry_daemon_status_end(q, az, out, err);
        ferry_daemon_status_free(q);
        return r;
}

int ferry_daemon_logs(struct ferry_daemon *d, const char *body, size_t len,
                      const struct ferry_authz *az, struct ferry_log_request *ret,
                      ferry_error_t *err)
{
        int r = 0;
        json_t *j = load_json(d, body, len, err, &r);
        struct ferry_log_request q = {.d = d};

        if (!j)
                return r;
        if (!json_is_object(j)) {
                json_decref(j);
                return ferry_errprintf(err, -EINVAL, "expected a LogStruct object");
        }
        const char *ns = json_string_value(json_object_get(j, "Namespace"));
        const char *uid = json_string_value(json_object_get(j, "PodUID"));
        const char *cname = json_string_value(json_object_get(j, "ContainerName"));
        json_t *o = json_object_get(j, "Opts");
        json_int_t tail = json_integer_value(json_object_get(o, "Tail"));
        json_int_t bytes = json_integer_value(json_object_get(o, "Bytes"));
        json_int_t since_s = json_integer_value(json_object_get(o, "SinceSeconds"));
        const char *since_t = json_string_value(json_object_get(o, "SinceTime"));
        int64_t since_t_ns = 0;
        bool since_t_set = false;

        if (since_t && since_t[0] && strcmp(since_t, "0001-01-01T00:00:00Z") != 0) {
                if (ferry_time_parse(since_t, &since_t_ns) < 0) {
                        r = ferry_errprintf(err, -EINVAL,
                                            "Opts.SinceTime \"%.64s\" is not an RFC 3339 time",
                                            since_t);
                        goto out;
                }
                since_t_set = true;
        }
        if (!ns || !ferry_is_dns_label(ns))
                r = ferry_errprintf(err, -EINVAL, "Namespace must be a DNS label");
        else if (!uid || !ferry_is_uuid(uid))
                r = ferry_errprintf(err, -EINVAL, "PodUID must be a lowercase UUID");
        else if (!cname || !ferry_is_dns_label(cname))
                r = ferry_errprintf(err, -EINVAL, "ContainerName must be a DNS label");
        else if (tail > 0 && bytes > 0)
                r = ferry_errprintf(err, -EINVAL, "Opts.Tail and Opts.Bytes cannot both be set");
        else if (since_s > 0 && since_t_set)
                r = ferry_errprintf(err, -EINVAL,
                                    "Opts.SinceSeconds and Opts.SinceTime cannot both be set");
        else if (tail < 0 || bytes < 0 || since_s < 0)
                r = ferry_errprintf(
                    err, -EINVAL,
                    "Opts.Tail, Opts.Bytes and Opts.SinceSeconds must not be negative");
        else if ((size_t)tail > d->cfg.limits.max_log_tail)
                r = ferry_errprintf(err, -E2BIG, "Opts.Tail %lld exceeds the limit of %zu",
                                    (long long)tail, d->cfg.limits.max_log_tail);
        else if (json_is_true(json_object_get(o, "Previous")))
                r = ferry_errprintf(err, -EINVAL,
                                    "previous terminated container \"%s\" not found: Ferry never "
                                    "restarts containers",
                                    cname);
        if (r < 0)
                goto out;

        char jid[FERRY_JID_MAX];
        pthread_rwlock_rdlock(&d->lock);
        struct pod *p = ferry_hashmap_get(d->pods, uid);
        struct ferry_cstatus *c = NULL;
        struct ferry_pod_status scratch, *pst = p ? pod_status(p, &scratch) : NULL;
        /* a pod being deleted still has its logs, as at a kubelet: its last words
         * (a TERM handler's) are read while it stops */
        if (!p || p->state == FERRY_POD_DELETED)
                r = ferry_errprintf(err, -ENOENT, "pod %s is not known here", uid);
        else if (!az_ok(az, p->ns) || strcmp(p->ns, ns) != 0)
                r = ferry_errprintf(err, -EACCES,
                                    "this token may not read logs of namespace \"%s\"", p->ns);
        else if (!(c = ferry_pod_status_find(pst, cname)))
                r = ferry_errprintf(err, -ENOENT, "container \"%s\" is not in pod %s/%s", cname,
                                    p->ns, p->name);
        else if (c->state == FERRY_C_WAITING && !c->started_ns)
                r = ferry_errprintf(err, -EINVAL,
                                    "container \"%s\" in pod \"%s\" is waiting to start: %s", cname,
                                    p->name, c->reason);
        if (p) {
                snprintf(jid, sizeof(jid), "%s", p->jid);
                scratch_release(pst, &scratch);
        }
        pthread_rwlock_unlock(&d->lock);
        if (r < 0)
                goto out;
        snprintf(q.uid, sizeof(q.uid), "%s", uid);
        snprintf(q.container, sizeof(q.container), "%s", cname);
        q.opts.tail = tail > 0 ? tail : -1;
        q.opts.limit_bytes = bytes > 0 ? bytes : -1;
        q.opts.timestamps = json_is_true(json_object_get(o, "Timestamps"));
        q.opts.follow = json_is_true(json_object_get(o, "Follow"));
        q.opts.since_ns = since_t_set   ? since_t_ns
                          : since_s > 0 ? ferry_now_ns() - since_s * FERRY_NSEC_PER_SEC
                                        : 0;
        r = ferry_backend_log_path(d->be, uid, jid, cname, q.path, sizeof(q.path), err);
        if (r >= 0) {
                *ret = q;
                r = 0;
        }
out:
        json_decref(j);
        return r;
}

bool ferry_daemon_log_done(void *arg)
{
        struct ferry_log_request *q = arg;
        struct ferry_daemon *d = q->d;
        bool done = true;

        pthread_rwlock_rdlock(&d->lock);
        struct pod *p = ferry_hashmap_get(d->pods, q->uid);
        /* a pod being deleted still runs its preStop hooks and its TERM
         * handlers (the grace period): follow it until the container ends */
        if (p && p->state != FERRY_POD_DELETED && !p->packed) { /* packed = finished */
                struct ferry_cstatus *c = ferry_pod_status_find(&p->st, q->container);
                done = !c || c->state == FERRY_C_TERMINATED || p->state == FERRY_POD_REFUSED;
        }
        pthread_rwlock_unlock(&d->lock);
        return done;
}

static void add_quantity_cpu(struct ferry_buf *b, int64_t milli)
{
        if (milli % 1000 == 0)
                ferry_buf_printf(b, "\"%lld\"", (long long)(milli / 1000));
        else
                ferry_buf_printf(b, "\"%lldm\"", (long long)milli);
}

int ferry_daemon_ping(struct ferry_daemon *d, struct ferry_buf *out, ferry_error_t *err)
{
        struct ferry_capacity cap;
        int r = ferry_backend_capacity(d->be, &cap, err);
        if (r < 0)
                return r;
        pthread_rwlock_rdlock(&d->lock); /* what admission will let start */
        ferry_admit_limit_capacity(d->adm, &cap);
        pthread_rwlock_unlock(&d->lock);
        ferry_buf_adds(out, "{\"status\":");
        ferry_buf_add_json_str(out, cap.status[0] ? cap.status : "ok");
        ferry_buf_adds(out, ",\"resources\":{");
        bool any = false;
        if (cap.cpu_milli >= 0) {
                ferry_buf_adds(out, "\"cpu\":");
                add_quantity_cpu(out, cap.cpu_milli);
                any = true;
        }
        if (cap.memory_bytes >= 0) {
                ferry_buf_printf(out, "%s\"memory\":\"%lldKi\"", any ? "," : "",
                                 (long long)(cap.memory_bytes / 1024));
                any = true;
        }
        if (cap.pods >= 0) {
                ferry_buf_printf(out, "%s\"pods\":\"%lld\"", any ? "," : "", (long long)cap.pods);
                any = true;
        }
        ferry_buf_printf(out, "%s\"accelerators\":[", any ? "," : "");
        for (size_t i = 0; i < cap.n_accel && i < FERRY_ARRAY_SIZE(cap.accel); i++) {
                if (i)
                        ferry_buf_addc(out, ',');
                ferry_buf_adds(out, "{\"resourceType\":");
                ferry_buf_add_json_str(out, cap.accel[i].resource);
                ferry_buf_printf(out, ",\"available\":\"%lld\"}",
                                 (long long)cap.accel[i].available);
        }
        ferry_buf_adds(out, "]}}");
        return 0;
}

int ferry_daemon_health(struct ferry_daemon *d, ferry_error_t *err)
{
        return ferry_store_health(d->store, err);
}

void ferry_daemon_metrics(struct ferry_daemon *d, struct ferry_buf *out)
{
        size_t by_phase[FERRY_PHASE_MAX] = {0};
        size_t it = 0;
        void *v;
        const char *bn = d->be->ops->name;

        pthread_rwlock_rdlock(&d->lock);
        while (ferry_hashmap_next(d->pods, &it, NULL, &v)) {
                struct pod *p = v;
                if (p->st.phase < FERRY_PHASE_MAX && p->state != FERRY_POD_DELETED)
                        by_phase[p->st.phase]++;
        }
        pthread_rwlock_unlock(&d->lock);
        ferry_buf_adds(out, "# HELP ferry_pods Pods known to ferryd, by phase and backend.\n"
                            "# TYPE ferry_pods gauge\n");
        for (int i = 0; i < FERRY_PHASE_MAX; i++)
                ferry_buf_printf(out, "ferry_pods{phase=\"%s\",backend=\"%s\"} %zu\n",
                                 ferry_phase_name(i), bn, by_phase[i]);

        ferry_buf_printf(out,
                         "# HELP ferry_store_commit_failures_total Group commits of the state "
                         "database that failed.\n"
                         "# TYPE ferry_store_commit_failures_total counter\n"
                         "ferry_store_commit_failures_total %llu\n",
                         (unsigned long long)ferry_store_commit_failures(d->store));

        pthread_rwlock_rdlock(&d->lock);
        ferry_admit_metrics(d->adm, out);
        pthread_rwlock_unlock(&d->lock);
        ferry_ledger_counters_metrics(d->usage_counters, out);
        ferry_jobs_metrics(d->jobs, out);
        ferry_backend_metrics(d->be, out);
}

/* ---- the poller: status, retries, deletes ---- */

struct snap {
        struct pod *p; /* valid only under the lock; compared by uid afterwards */
        char uid[FERRY_UID_MAX];
        char jid[FERRY_JID_MAX];
        struct ferry_pod_status st;
        int64_t grace_s;
};

/* Submit a waiting pod again; pinned: the admission round pinned it already. */
static void resubmit(struct ferry_daemon *d, const char *uid, bool pinned)
{
        char *body = NULL;
        size_t len = 0;
        int kind = 0;
        ferry_error_t err = {{0}};
        struct ferry_pod *pod = NULL;

        pthread_rwlock_wrlock(&d->lock);
        struct pod *p = ferry_hashmap_get(d->pods, uid);
        if (!p || (p->submitting && !pinned) || p->state != FERRY_POD_ACCEPTED) {
                if (p && pinned) { /* deleted since it was admitted: it never starts */
                        p->submitting = false;
                        ferry_admit_release(d->adm, p->adm);
                }
                pthread_rwlock_unlock(&d->lock);
                return;
        }
        p->submitting = true;
        pthread_rwlock_unlock(&d->lock);

        if (ferry_store_get_body(d->store, uid, &body, &len, &kind, &err) < 0 ||
            ferry_pod_parse(body, len, (enum ferry_body_kind)kind, &d->cfg.limits, &pod, &err) <
                0) {
                pthread_rwlock_wrlock(&d->lock);
                p->submitting = false;
                set_refused(p, err.text);
                adm_settle(d, p);
                ferry_store_update(d->store, uid, NULL, FERRY_POD_REFUSED, NULL, "refused",
                                   err.text);
                pthread_rwlock_unlock(&d->lock);
                free(body);
                return;
        }
        free(body);
        submit_pod(d, p, pod, NULL, &err);
        ferry_pod_free(pod);
}

/* What the ledger needs of a pod besides its status (table lock held);
 * false when it has its record already. */
static bool ledger_of(struct ferry_daemon *d, struct pod *p, struct ferry_ledger_pod *lp,
                      char *tenant, size_t tsize)
{
        if (p->ledgered)
                return false;
        tenant[0] = '\0';
        if (p->adm)
                snprintf(tenant, tsize, "%s", ferry_admit_tenant_name(d->adm, p->adm->tenant));
        *lp = (struct ferry_ledger_pod){
            .uid = p->uid,
            .ns = p->ns,
            .name = p->name,
            .jid = p->jid,
            .tenant = tenant[0] ? tenant : NULL,
            .created_ns = p->created_ns,
            .deleted = p->state == FERRY_POD_DELETING,
        };
        return true;
}

/* Usage records of the pods whose status from this poll is final, queued
 * before that status is (ledger.h): no lock held while they are built. */
static void ledger_ended(struct ferry_daemon *d, struct snap *live, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (!phase_final(live[i].st.phase))
                        continue;
                struct ferry_ledger_pod lp;
                char tenant[256], ns[FERRY_NAME_MAX], name[256], jid[FERRY_JID_MAX];
                pthread_rwlock_rdlock(&d->lock);
                struct pod *p = ferry_hashmap_get(d->pods, live[i].uid);
                bool todo =
                    p && !phase_final(p->st.phase) && ledger_of(d, p, &lp, tenant, sizeof(tenant));
                if (todo) { /* p may go once the lock is released: copy */
                        snprintf(ns, sizeof(ns), "%s", p->ns);
                        snprintf(name, sizeof(name), "%s", p->name);
                        snprintf(jid, sizeof(jid), "%s", p->jid);
                        lp.ns = ns, lp.name = name, lp.jid = jid, lp.uid = live[i].uid;
                }
                pthread_rwlock_unlock(&d->lock);
                if (!todo)
                        continue;
                lp.st = &live[i].st;
                ferry_ledger_write(d->store, d->be, &d->cfg.limits, d->usage_counters, &lp);
        }
}

/* The backend confirmed that nothing of the pod runs: read how its containers
 * ended (before cleanup removes what says so) and keep that as the record's
 * final status for DELETED_KEEP_NS. */
static void delete_done(struct ferry_daemon *d, const struct snap *s)
{
        struct ferry_pod_status st = {0};
        ferry_error_t err = {{0}};
        bool have = false, keep = false;

        pthread_rwlock_rdlock(&d->lock);
        struct pod *p = ferry_hashmap_get(d->pods, s->uid);
        if (p && s->jid[0] && !phase_final(p->st.phase)) {
                struct ferry_pod_status scratch;
                struct ferry_pod_status *cur = pod_status(p, &scratch);
                ferry_pod_status_copy(&st, cur);
                scratch_release(cur, &scratch);
                have = true;
        }
        /* a preempted pod stays, Failed, with its logs, until its owner
         * deletes it (unless the owner asked for that already) */
        keep = p && p->adm && p->adm->preempted && !p->adm->client_delete;
        /* its usage record, unless it ended before (ledger_ended) */
        struct ferry_ledger_pod lp;
        struct ferry_pod_status lst = {0};
        char tenant[256], ns[FERRY_NAME_MAX], name[256], jid[FERRY_JID_MAX];
        bool led = p && ledger_of(d, p, &lp, tenant, sizeof(tenant));
        if (led) {
                snprintf(ns, sizeof(ns), "%s", p->ns);
                snprintf(name, sizeof(name), "%s", p->name);
                snprintf(jid, sizeof(jid), "%s", p->jid);
                lp.ns = ns, lp.name = name, lp.jid = jid, lp.uid = s->uid;
                struct ferry_pod_status scratch;
                struct ferry_pod_status *cur = pod_status(p, &scratch);
                ferry_pod_status_copy(&lst, cur);
                scratch_release(cur, &scratch);
        }
        pthread_rwlock_unlock(&d->lock);
        if (have) {
                struct ferry_poll_item item = {s->uid, s->jid, &st};
                have = ferry_backend_poll(d->be, &item, 1, &err) >= 0;
        }
        if (led) { /* before cleanup takes the containers' records, before "deleted" */
                if (have)
                        ferry_pod_status_assign(&lst, &st);
                if (!phase_final(lst.phase))
                        lst.phase = FERRY_PHASE_FAILED;
                lp.st = &lst;
                ferry_ledger_write(d->store, d->be, &d->cfg.limits, d->usage_counters, &lp);
                ferry_pod_status_clear(&lst);
        }
        if (!keep)
                ferry_backend_cleanup(d->be, s->uid, s->jid, &err);
        pthread_rwlock_wrlock(&d->lock);
        p = ferry_hashmap_get(d->pods, s->uid);
        if (p) {
                if (have)
                        ferry_pod_status_assign(&p->st, &st);
                /* stopped before it finished: it failed (the kubelet's phase too) */
                if (!phase_final(p->st.phase))
                        p->st.phase = FERRY_PHASE_FAILED;
                p->ledgered |= led;
                if (keep) {
                        p->state = FERRY_POD_SUBMITTED;
                        atomic_store(&p->delete_asked, false);
                } else {
                        p->state = FERRY_POD_DELETED;
                        p->deleted_mono_ns = ferry_monotonic_ns();
                }
                adm_settle(d, p);
                struct ferry_buf b = FERRY_BUF_INIT;
                struct ferry_pod_status scratch; /* a finished pod's entries are packed */
                struct ferry_pod_status *cur = pod_status(p, &scratch);
                ferry_pod_status_serialize(&b, cur);
                scratch_release(cur, &scratch);
                ferry_store_update(d->store, s->uid, NULL, p->state, b.data,
                                   keep ? "preempted-stopped" : "deleted", NULL);
                ferry_buf_free(&b);
                pod_compact(d, p);
        }
        pthread_rwlock_unlock(&d->lock);
        ferry_pod_status_clear(&st);
}

/* a pod to submit again, in creation order */
struct retry {
        char uid[FERRY_UID_MAX];
        int64_t created_ns;
};

static int by_created(const void *a, const void *b)
{
        const struct retry *x = a, *y = b;
        return x->created_ns < y->created_ns ? -1 : x->created_ns > y->created_ns;
}

/* arr with room for element n (doubling); *cap is its capacity */
static void *grow(void *arr, size_t n, size_t *cap, size_t size)
{
        if (n < *cap)
                return arr;
        *cap = *cap ? *cap * 2 : 64;
        return ferry_xrealloc(arr, *cap * size);
}

/* ---- site admission (admit.c): the round after each poll ---- */

/* Stop v to make room for w: Failed / Preempted when it has ended, with w's
 * name; the reaper kills it (SIGTERM, its grace period, SIGKILL). Table lock
 * held for writing. */
static void adm_preempt(struct ferry_daemon *d, struct pod *v, const struct pod *w)
{
        v->state = FERRY_POD_DELETING;
        atomic_store(&v->delete_asked, true);
        v->adm->preempted = true;
        snprintf(v->adm->preempted_for, sizeof(v->adm->preempted_for), "%s", w->uid);
        snprintf(v->adm->preempted_name, sizeof(v->adm->preempted_name), "%s/%s", w->ns, w->name);
        ferry_admit_count_preemption(d->adm, v->adm->tenant);
        adm_settle(d, v); /* the reason and message */
        struct ferry_buf b = FERRY_BUF_INIT;
        ferry_pod_status_serialize(&b, &v->st);
        ferry_store_update(d->store, v->uid, NULL, FERRY_POD_DELETING, b.data, "preempted", w->uid);
        ferry_buf_free(&b);
        log_info("pod %s/%s (%s) preempted to make room for %s/%s (%s)", v->ns, v->name, v->uid,
                 w->ns, w->name, w->uid);
}

static void admission_round(struct ferry_daemon *d)
{
        int64_t mono = ferry_monotonic_ns(), now = ferry_now_ns();
        /* the big arrays live from round to round (poll_lock held) */
        struct admission_scratch *sc = &d->adm_scratch;
        struct pod **wp = sc->wp, **rp = sc->rp;
        struct ferry_tn_wait *w = sc->w;
        struct ferry_tn_run *run = sc->run;
        struct snap *kill = NULL;
        char(*start)[FERRY_UID_MAX] = NULL;
        size_t nw = 0, nr = 0, n_kill = 0, n_start = 0;
        size_t cap_w = sc->cap_w, cap_wp = sc->cap_wp, cap_r = sc->cap_r, cap_rp = sc->cap_rp;
        size_t cap_k = 0, cap_s = 0;
        size_t it = 0;
        void *v;

        pthread_rwlock_rdlock(&d->lock);
        bool due = ferry_admit_capacity_due(d->adm, mono);
        pthread_rwlock_unlock(&d->lock);
        if (due) {
                struct ferry_capacity cap;
                ferry_error_t err = {{0}};
                if (ferry_backend_capacity(d->be, &cap, &err) >= 0) {
                        pthread_rwlock_wrlock(&d->lock);
                        ferry_admit_set_capacity(d->adm, &cap);
                        pthread_rwlock_unlock(&d->lock);
                }
        }

        pthread_rwlock_wrlock(&d->lock);
        int64_t locked = ferry_monotonic_ns();
        unsigned gen = ferry_admit_gen(d->adm);
        while (ferry_hashmap_next(d->pods, &it, NULL, &v)) {
                struct pod *p = v;
                if (!p->adm || p->adm->gen != gen)
                        continue;
                if (p->adm->holds) {
                        run = grow(run, nr, &cap_r, sizeof(*run));
                        rp = grow(rp, nr, &cap_rp, sizeof(*rp));
                        ferry_admit_run_of(p->adm, p->state == FERRY_POD_DELETING, &run[nr]);
                        /* one being submitted cannot be stopped yet */
                        if (p->submitting || p->state != FERRY_POD_SUBMITTED)
                                run[nr].preemptible = false;
                        rp[nr++] = p;
                } else if (p->state == FERRY_POD_ACCEPTED && !p->submitting &&
                           !atomic_load(&p->delete_asked) && p->next_try_ns <= mono) {
                        w = grow(w, nw, &cap_w, sizeof(*w));
                        wp = grow(wp, nw, &cap_wp, sizeof(*wp));
                        ferry_admit_wait_of(p->adm, p->created_ns, &w[nw]);
                        wp[nw++] = p;
                }
        }
        /* pods stopped in earlier rounds are claimed by the pod they make room for */
        for (size_t i = 0; i < nr; i++) {
                if (!rp[i]->adm->preempted || !run[i].releasing)
                        continue;
                for (size_t j = 0; j < nw; j++)
                        if (!strcmp(wp[j]->uid, rp[i]->adm->preempted_for)) {
                                run[i].claimed_by = (long)j;
                                break;
                        }
        }
        size_t admitted = ferry_admit_plan(d->adm, w, nw, run, nr, now, true);
        for (size_t i = 0; i < nw; i++) {
                struct pod *p = wp[i];
                if (w[i].verdict == FERRY_TN_ADMIT) {
                        p->adm->holds = true;
                        p->adm->admitted_ns = now;
                        p->adm->reserved = false;
                        p->submitting = true; /* pinned for resubmit */
                        start = grow(start, n_start, &cap_s, sizeof(*start));
                        memcpy(start[n_start++], p->uid, FERRY_UID_MAX);
                        continue;
                }
                if (w[i].preempts)
                        p->adm->reserved = true;
                adm_set_waiting(d, p, &w[i], true);
        }
        for (size_t i = 0; i < nr; i++) {
                if (run[i].victim_for < 0)
                        continue;
                struct pod *p = rp[i];
                adm_preempt(d, p, wp[run[i].victim_for]);
                kill = grow(kill, n_kill, &cap_k, sizeof(*kill));
                memset(&kill[n_kill], 0, sizeof(*kill));
                memcpy(kill[n_kill].uid, p->uid, FERRY_UID_MAX);
                memcpy(kill[n_kill].jid, p->jid, FERRY_JID_MAX);
                kill[n_kill++].grace_s = p->grace_s;
        }
        d->adm_waiting = 0; /* those a new pod must not pass: waiting for room */
        for (size_t i = 0; i < nw; i++)
                d->adm_waiting += w[i].verdict == FERRY_TN_WAIT_SITE;
        ferry_admit_observe_round(d->adm, ferry_monotonic_ns() - locked, admitted);
        pthread_rwlock_unlock(&d->lock);

        /* the first kill of a preempted pod now, not at the next poll */
        for (size_t i = 0; i < n_kill; i++) {
                ferry_error_t err = {{0}};
                int r = ferry_backend_kill(d->be, kill[i].uid, kill[i].jid, kill[i].grace_s, &err);
                if (r == 0)
                        delete_done(d, &kill[i]);
                else if (r != -EINPROGRESS)
                        log_warn("preemption of pod %s: %s (retrying)", kill[i].uid, err.text);
        }
        for (size_t i = 0; i < n_start; i++)
                resubmit(d, start[i], true);
        *sc = (struct admission_scratch){.wp = wp,
                                         .rp = rp,
                                         .w = w,
                                         .run = run,
                                         .cap_w = cap_w,
                                         .cap_wp = cap_wp,
                                         .cap_r = cap_r,
                                         .cap_rp = cap_rp};
        free(kill);
        free(start);
}

static void poll_once(struct ferry_daemon *d)
{
        struct snap *live = NULL, *dying = NULL;
        struct retry *retry = NULL;
        char(*expired)[FERRY_UID_MAX] = NULL;
        size_t n_live = 0, n_dying = 0, n_retry = 0, n_expired = 0;
        int64_t now = ferry_monotonic_ns();
        size_t it = 0;
        void *v;

        size_t cap_live = 0, cap_dying = 0, cap_retry = 0, cap_expired = 0;
        pthread_mutex_lock(&d->poll_lock);
        if (ferry_admit_on(d->adm)) { /* usage up to now, before this poll's ends release */
                pthread_rwlock_wrlock(&d->lock);
                ferry_admit_tick(d->adm, now);
                pthread_rwlock_unlock(&d->lock);
        }
        pthread_rwlock_rdlock(&d->lock);
        /* the lists grow with what they hold: with 100,000 finished pods they
         * stay empty (sized by the table, they were megabytes every cycle) */
        while (ferry_hashmap_next(d->pods, &it, NULL, &v)) {
                struct pod *p = v;
                /* a pod being deleted is polled too: its containers' ends show in
                 * /status while the grace period runs */
                if ((p->state == FERRY_POD_SUBMITTED ||
                     (p->state == FERRY_POD_DELETING && p->jid[0] && !p->submitting)) &&
                    (p->st.phase == FERRY_PHASE_PENDING || p->st.phase == FERRY_PHASE_RUNNING ||
                     p->st.phase == FERRY_PHASE_UNKNOWN)) {
                        live = grow(live, n_live, &cap_live, sizeof(*live));
                        struct snap *s = &live[n_live++];
                        memset(s, 0, sizeof(*s));
                        memcpy(s->uid, p->uid, sizeof(s->uid));
                        memcpy(s->jid, p->jid, sizeof(s->jid));
                        ferry_pod_status_copy(&s->st, &p->st);
                }
                if (p->state == FERRY_POD_DELETED) {
                        if (now - p->deleted_mono_ns > DELETED_KEEP_NS) {
                                expired = grow(expired, n_expired, &cap_expired, sizeof(*expired));
                                memcpy(expired[n_expired++], p->uid, FERRY_UID_MAX);
                        }
                } else if (p->state == FERRY_POD_DELETING && !p->submitting) {
                        dying = grow(dying, n_dying, &cap_dying, sizeof(*dying));
                        struct snap *s = &dying[n_dying++];
                        memset(s, 0, sizeof(*s));
                        memcpy(s->uid, p->uid, sizeof(s->uid));
                        memcpy(s->jid, p->jid, sizeof(s->jid));
                        s->grace_s = p->grace_s;
                } else if (p->state == FERRY_POD_ACCEPTED && !p->submitting &&
                           p->next_try_ns <= now) {
                        retry = grow(retry, n_retry, &cap_retry, sizeof(*retry));
                        memcpy(retry[n_retry].uid, p->uid, FERRY_UID_MAX);
                        retry[n_retry++].created_ns = p->created_ns;
                }
        }
        pthread_rwlock_unlock(&d->lock);

        if (n_live > 0) {
                struct ferry_poll_item *items = ferry_xcalloc(n_live, sizeof(*items));
                ferry_error_t err = {{0}};
                for (size_t i = 0; i < n_live; i++)
                        items[i] = (struct ferry_poll_item){live[i].uid, live[i].jid, &live[i].st};
                if (ferry_backend_poll(d->be, items, n_live, &err) >= 0) {
                        ledger_ended(d, live, n_live); /* before their ends are stored */
                        pthread_rwlock_wrlock(&d->lock);
                        for (size_t i = 0; i < n_live; i++) {
                                struct pod *p = ferry_hashmap_get(d->pods, live[i].uid);
                                if (!p || (p->state != FERRY_POD_SUBMITTED &&
                                           p->state != FERRY_POD_DELETING))
                                        continue;
                                if (ferry_pod_status_equal(&p->st, &live[i].st))
                                        continue;
                                bool phase_changed = p->st.phase != live[i].st.phase;
                                ferry_pod_status_assign(&p->st, &live[i].st);
                                if (phase_final(p->st.phase))
                                        p->ledgered = true; /* ledger_ended queued it */
                                adm_settle(d, p);
                                persist_status(d, p, phase_changed ? "phase" : NULL,
                                               phase_changed ? ferry_phase_name(p->st.phase)
                                                             : NULL);
                                pod_compact(d, p);
                        }
                        pthread_rwlock_unlock(&d->lock);
                }
                free(items);
        }
        for (size_t i = 0; i < n_live; i++)
                ferry_pod_status_clear(&live[i].st);

        for (size_t i = 0; i < n_dying; i++) {
                ferry_error_t err = {{0}};
                struct snap *s = &dying[i];
                int r = 0;
                if (!s->jid[0]) /* deleted before its job id was known: ask the backend */
                        ferry_backend_find(d->be, s->uid, s->jid, &err);
                if (s->jid[0])
                        r = ferry_backend_kill(d->be, s->uid, s->jid, s->grace_s, &err);
                if (r == -EINPROGRESS)
                        continue;
                if (r < 0) {
                        log_warn("delete of pod %s: %s (retrying)", s->uid, err.text);
                        continue;
                }
                delete_done(d, s);
        }
        if (ferry_admit_on(d->adm)) {
                admission_round(d);
        } else {
                /* oldest first: pods waiting for resources start in the order they came */
                if (n_retry > 1)
                        qsort(retry, n_retry, sizeof(*retry), by_created);
                for (size_t i = 0; i < n_retry; i++)
                        resubmit(d, retry[i].uid, false);
        }
        if (n_expired > 0) {
                pthread_rwlock_wrlock(&d->lock);
                for (size_t i = 0; i < n_expired; i++)
                        pod_free(ferry_hashmap_remove(d->pods, expired[i]));
                pthread_rwlock_unlock(&d->lock);
        }
        free(live);
        free(dying);
        free(retry);
        free(expired);
        pthread_mutex_unlock(&d->poll_lock);
}

void ferry_daemon_poll_now(struct ferry_daemon *d)
{
        poll_once(d);
}

/* Tenants' decayed usage, for the next start (at most this old after a crash). */
#define USAGE_SAVE_NS (30LL * FERRY_NSEC_PER_SEC)

static void adm_save_usage(struct ferry_daemon *d)
{
        pthread_rwlock_rdlock(&d->lock);
        char *s = ferry_admit_usage_save(d->adm, ferry_now_ns());
        pthread_rwlock_unlock(&d->lock);
        if (s)
                ferry_store_put_meta(d->store, "tenancy_usage", s);
        free(s);
}

static void *poller_main(void *arg)
{
        struct ferry_daemon *d = arg;
        size_t trimmed_at = 0;
        int64_t usage_saved = ferry_monotonic_ns();
        pthread_mutex_lock(&d->stop_lock);
        while (!d->stop) {
                pthread_mutex_unlock(&d->stop_lock);
                poll_once(d);
                ferry_jobs_tick(d->jobs);
                if (ferry_monotonic_ns() - usage_saved > USAGE_SAVE_NS) {
                        adm_save_usage(d);
                        usage_saved = ferry_monotonic_ns();
                }
                /* Request bodies, snapshots and the status of pods that
                 * finished (packed) are freed in bursts; hand the free pages
                 * back once the pod count or the number packed has moved. */
                pthread_rwlock_rdlock(&d->lock);
                size_t n = ferry_hashmap_size(d->pods) + d->compacted;
                pthread_rwlock_unlock(&d->lock);
                if (n != trimmed_at) {
                        malloc_trim(0);
                        trimmed_at = n;
                }
                pthread_mutex_lock(&d->stop_lock);
                int64_t next = ferry_monotonic_ns() + d->cfg.poll_interval_ms * FERRY_NSEC_PER_MSEC;
                while (!d->stop && !d->kick &&
                       ferry_cond_wait_until(&d->stop_cond, &d->stop_lock, next) != ETIMEDOUT)
                        ;
                d->kick = false;
        }
        pthread_mutex_unlock(&d->stop_lock);
        return NULL;
}

/* ---- admission records: at start-up and on SIGHUP ---- */

static bool adm_live(const struct pod *p)
{
        /* one being deleted holds what it has until nothing of it runs */
        return p->state == FERRY_POD_ACCEPTED || p->state == FERRY_POD_DELETING ||
               (p->state == FERRY_POD_SUBMITTED && !phase_final(p->st.phase));
}

/* A pod stopped for another before a restart: its stored message names it. */
static void adm_preempted_from_status(struct ferry_admit_pod *ap, const struct pod *p)
{
        const char *m = p->st.message, *u;
        const char *lead = "preempted to make room for pod ";
        if (strcmp(p->st.reason, "Preempted") != 0 || !m || strncmp(m, lead, strlen(lead)) != 0 ||
            !(u = strstr(m, " (uid ")))
                return;
        ap->preempted = true;
        snprintf(ap->preempted_name, sizeof(ap->preempted_name), "%.*s",
                 (int)(u - m - strlen(lead)), m + strlen(lead));
        snprintf(ap->preempted_for, sizeof(ap->preempted_for), "%.*s", (int)strcspn(u + 6, ")"),
                 u + 6);
}

/* Give every live pod a record of the current config generation, from its
 * stored spec (read without the table lock), holding what it holds: the
 * record's word where it had one, else its state (submitted or stopping:
 * it holds; accepted: it waits). Held resources are derived from the pod
 * table this way after a restart, never stored. Called with poll_lock held. */
static void adm_attach(struct ferry_daemon *d)
{
        char(*uids)[FERRY_UID_MAX] = NULL;
        size_t n = 0, cap = 0, it = 0;
        void *v;

        pthread_rwlock_rdlock(&d->lock);
        unsigned gen = ferry_admit_gen(d->adm);
        bool on = ferry_admit_on(d->adm);
        while (ferry_hashmap_next(d->pods, &it, NULL, &v)) {
                struct pod *p = v;
                if ((on && adm_live(p) && (!p->adm || p->adm->gen != gen)) || (!on && p->adm)) {
                        uids = grow(uids, n, &cap, sizeof(*uids));
                        memcpy(uids[n++], p->uid, FERRY_UID_MAX);
                }
        }
        pthread_rwlock_unlock(&d->lock);

        for (size_t i = 0; i < n; i++) {
                char *body = NULL;
                size_t len = 0;
                int kind = 0;
                ferry_error_t err = {{0}};
                struct ferry_pod *pod = NULL;
                if (on && (ferry_store_get_body(d->store, uids[i], &body, &len, &kind, &err) < 0 ||
                           ferry_pod_parse(body, len, (enum ferry_body_kind)kind, &d->cfg.limits,
                                           &pod, &err) < 0)) {
                        log_warn("admission: pod %s: %s (it counts as holding nothing)", uids[i],
                                 err.text);
                        free(body);
                        continue;
                }
                free(body);
                pthread_rwlock_wrlock(&d->lock);
                struct pod *p = ferry_hashmap_get(d->pods, uids[i]);
                if (p && (!p->adm || p->adm->gen != gen)) {
                        struct ferry_admit_pod *old = p->adm;
                        struct ferry_admit_pod *ap = pod ? ferry_admit_pod_new(d->adm, pod) : NULL;
                        bool holds = old ? old->holds
                                         : p->state == FERRY_POD_SUBMITTED ||
                                               (p->state == FERRY_POD_DELETING && p->jid[0]);
                        ferry_admit_release(d->adm, old); /* an older generation: counts nothing */
                        if (ap && old) {
                                ap->preempted = old->preempted;
                                ap->reserved = old->reserved;
                                ap->admitted_ns = old->admitted_ns;
                                memcpy(ap->preempted_for, old->preempted_for,
                                       sizeof(ap->preempted_for));
                                memcpy(ap->preempted_name, old->preempted_name,
                                       sizeof(ap->preempted_name));
                        } else if (ap) {
                                ap->admitted_ns = p->created_ns;
                                adm_preempted_from_status(ap, p);
                        }
                        free(old);
                        p->adm = ap;
                        if (ap && holds && adm_live(p))
                                ferry_admit_hold(d->adm, ap);
                }
                pthread_rwlock_unlock(&d->lock);
                ferry_pod_free(pod);
        }
        /* a pod that pods were stopped for goes first until it starts */
        pthread_rwlock_wrlock(&d->lock);
        it = 0;
        while (on && ferry_hashmap_next(d->pods, &it, NULL, &v)) {
                struct pod *p = v, *q;
                if (p->adm && p->adm->preempted && p->state == FERRY_POD_DELETING &&
                    (q = ferry_hashmap_get(d->pods, p->adm->preempted_for)) && q->adm &&
                    !q->adm->holds)
                        q->adm->reserved = true;
        }
        pthread_rwlock_unlock(&d->lock);
        free(uids);
}

static void adm_refresh_capacity(struct ferry_daemon *d)
{
        struct ferry_capacity cap;
        ferry_error_t err = {{0}};
        if (!ferry_admit_on(d->adm))
                return;
        if (ferry_backend_capacity(d->be, &cap, &err) < 0) {
                log_warn("admission: the backend's capacity is not known yet: %s", err.text);
                return;
        }
        pthread_rwlock_wrlock(&d->lock);
        ferry_admit_set_capacity(d->adm, &cap);
        pthread_rwlock_unlock(&d->lock);
}

void ferry_daemon_set_tenancy(struct ferry_daemon *d, struct ferry_tn_config *c)
{
        pthread_mutex_lock(&d->poll_lock); /* no round while records change */
        pthread_rwlock_wrlock(&d->lock);
        d->adm_attaching = true; /* and no pod starts on /create's fast path */
        ferry_admit_set_config(d->adm, c);
        pthread_rwlock_unlock(&d->lock);
        adm_refresh_capacity(d);
        adm_attach(d);
        pthread_rwlock_wrlock(&d->lock);
        d->adm_attaching = false;
        pthread_rwlock_unlock(&d->lock);
        pthread_mutex_unlock(&d->poll_lock);
        poller_kick(d);
}

void ferry_daemon_tenants(struct ferry_daemon *d, const struct ferry_authz *az,
                          struct ferry_buf *out)
{
        pthread_rwlock_rdlock(&d->lock);
        ferry_admit_json(d->adm, az, out);
        pthread_rwlock_unlock(&d->lock);
}

/* ---- start-up: load and reattach ---- */
static int load_row(void *ctx, const struct ferry_store_row *row)
{
        struct ferry_daemon *d = ctx;
        struct pod *p = pod_new(row->uid, row->namespace, row->name);

        snprintf(p->jid, sizeof(p->jid), "%s", row->jid ? row->jid : "");
        p->state = row->state;
        atomic_store(&p->delete_asked, row->state == FERRY_POD_DELETING);
        p->created_ns = row->created_ns;
        p->grace_s = row->grace_s;
        if (!row->status || ferry_pod_status_deserialize(row->status, &p->st) < 0) {
                const char *one = "unknown";
                ferry_pod_status_init(&p->st, NULL, 0, &one, 1);
        }
        /* an end that was stored had its usage record queued before it */
        p->ledgered = p->state == FERRY_POD_DELETED || p->state == FERRY_POD_REFUSED ||
                      (p->state == FERRY_POD_SUBMITTED && phase_final(p->st.phase));
        pod_compact(d, p);
        struct pod *old = ferry_hashmap_put(d->pods, p->uid, p);
        pod_free(old);
        return 0;
}

int ferry_daemon_new(const struct ferry_daemon_config *cfg, struct ferry_daemon **ret,
                     ferry_error_t *err)
{
        struct ferry_daemon *d = ferry_xcalloc(1, sizeof(*d));
        char path[4096];
        int r;

        d->cfg = *cfg;
        d->cfg.tenancy = NULL;
        d->adm = ferry_admit_new(cfg->tenancy); /* taken over */
        if (d->cfg.poll_interval_ms <= 0)
                d->cfg.poll_interval_ms = 1000;
        if (d->cfg.limits.max_body == 0)
                d->cfg.limits = ferry_default_limits;
        pthread_rwlock_init(&d->lock, NULL);
        pthread_mutex_init(&d->wait_lock, NULL);
        ferry_cond_init(&d->submitted);
        pthread_mutex_init(&d->poll_lock, NULL);
        pthread_mutex_init(&d->stop_lock, NULL);
        ferry_cond_init(&d->stop_cond);
        d->pods = ferry_hashmap_new();

        if ((r = ferry_mkdir_p(cfg->state_dir, 0700)) < 0) {
                ferry_errprintf(err, r, "cannot create state directory %s: %s", cfg->state_dir,
                                strerror(-r));
                goto fail;
        }
        snprintf(path, sizeof(path), "%s/ferry.db", cfg->state_dir);
        if ((r = ferry_store_open(path, &d->store, err)) < 0)
                goto fail;
        struct ferry_backend_config bc = {
            .name = cfg->backend,
            .state_dir = cfg->state_dir,
            .runtime = cfg->runtime,
            .libexec_dir = cfg->libexec_dir,
            .options = cfg->backend_options,
            .n_options = cfg->n_backend_options,
            .private_paths = cfg->private_paths,
            .n_private_paths = cfg->n_private_paths,
        };
        if ((r = ferry_backend_new(&bc, &d->be, err)) < 0)
                goto fail;
        int64_t t0 = ferry_monotonic_ns();
        d->usage_counters = ferry_ledger_counters_new(d->store);
        if ((r = ferry_store_load(d->store, load_row, d, err)) < 0)
                goto fail;
        /* Reattach: pods accepted but without a known job may have been
         * submitted just before a crash; ask the backend before resubmitting. */
        size_t it = 0, reattached = 0, pending = 0;
        void *v;
        while (ferry_hashmap_next(d->pods, &it, NULL, &v)) {
                struct pod *p = v;
                if (p->state != FERRY_POD_ACCEPTED &&
                    !(p->state == FERRY_POD_SUBMITTED && !p->jid[0]))
                        continue;
                ferry_error_t e2 = {{0}};
                char jid[FERRY_JID_MAX] = "";
                int f = ferry_backend_find(d->be, p->uid, jid, &e2);
                if (f > 0) {
                        memcpy(p->jid, jid, sizeof(jid));
                        p->state = FERRY_POD_SUBMITTED;
                        char devices[1024];
                        ferry_backend_devices(d->be, p->uid, devices, sizeof(devices));
                        if (devices[0] &&
                            ferry_store_count_events(d->store, p->uid, "devices") == 0)
                                ferry_store_update(d->store, p->uid, NULL, -1, NULL, "devices",
                                                   devices);
                        ferry_store_update(d->store, p->uid, jid, FERRY_POD_SUBMITTED, NULL,
                                           "reattached", jid);
                        reattached++;
                } else {
                        p->state = FERRY_POD_ACCEPTED;
                        p->next_try_ns = 0;
                        pending++;
                }
        }
        log_info("loaded %zu pods from the store in %.1f ms (%zu reattached, %zu to submit)",
                 ferry_hashmap_size(d->pods), (double)(ferry_monotonic_ns() - t0) / 1e6, reattached,
                 pending);
        /* site admission: what tenants hold, from the pods just loaded */
        if (ferry_admit_on(d->adm)) {
                int64_t t1 = ferry_monotonic_ns();
                char *usage = NULL;
                if (ferry_store_get_meta(d->store, "tenancy_usage", &usage) == 0)
                        ferry_admit_usage_load(d->adm, usage, ferry_now_ns());
                free(usage);
                pthread_mutex_lock(&d->poll_lock);
                adm_refresh_capacity(d);
                adm_attach(d);
                pthread_mutex_unlock(&d->poll_lock);
                log_info("tenancy: records of the live pods computed in %.1f ms",
                         (double)(ferry_monotonic_ns() - t1) / 1e6);
        }
        /* Status must be right before new work is accepted. */
        poll_once(d);
        if ((r = ferry_jobs_new(d, d->store, d->cfg.job_backoff_ms, &d->jobs, err)) < 0)
                goto fail;
        *ret = d;
        return 0;
fail:
        ferry_daemon_free(d);
        return r;
}

int ferry_daemon_start(struct ferry_daemon *d, ferry_error_t *err)
{
        int r = pthread_create(&d->poller, NULL, poller_main, d);
        if (r != 0)
                return ferry_errprintf(err, -r, "cannot start the poller thread");
        d->poller_started = true;
        return 0;
}

void ferry_daemon_free(struct ferry_daemon *d)
{
        if (!d)
                return;
        if (d->poller_started) {
                pthread_mutex_lock(&d->stop_lock);
                d->stop = true;
                pthread_cond_broadcast(&d->stop_cond);
                pthread_mutex_unlock(&d->stop_lock);
                pthread_join(d->poller, NULL);
        }
        ferry_jobs_free(d->jobs);
        if (d->store && d->adm)
                adm_save_usage(d);
        if (d->store)
                ferry_store_sync(d->store);
        ferry_backend_free(d->be);
        ferry_store_close(d->store);
        size_t it = 0;
        void *v;
        while (d->pods && ferry_hashmap_next(d->pods, &it, NULL, &v))
                pod_free(v);
        ferry_hashmap_free(d->pods);
        ferry_admit_free(d->adm);
        ferry_ledger_counters_free(d->usage_counters);
        free(d->adm_scratch.wp);
        free(d->adm_scratch.rp);
        free(d->adm_scratch.w);
        free(d->adm_scratch.run);
        pthread_rwlock_destroy(&d->lock);
        pthread_mutex_destroy(&d->wait_lock);
        pthread_cond_destroy(&d->submitted);
        pthread_mutex_destroy(&d->poll_lock);
        pthread_mutex_destroy(&d->stop_lock);
        pthread_cond_destroy(&d->stop_cond);
        free(d);
}

size_t ferry_daemon_pod_count(struct ferry_daemon *d)
{
        pthread_rwlock_rdlock(&d->lock);
        size_t n = ferry_hashmap_size(d->pods);
        pthread_rwlock_unlock(&d->lock);
        return n;
}

int ferry_daemon_pod_phase(struct ferry_daemon *d, const char *uid, bool *ret_ready)
{
        struct ferry_pod_status scratch;
        int r;

        pthread_rwlock_rdlock(&d->lock);
        struct pod *p = ferry_hashmap_get(d->pods, uid);
        if (!p)
                r = -ENOENT;
        else if (p->state == FERRY_POD_DELETING || p->state == FERRY_POD_DELETED)
                r = -ESRCH;
        else
                r = p->st.phase;
        if (r == FERRY_PHASE_RUNNING && ret_ready) {
                struct ferry_pod_status *st = pod_status(p, &scratch);
                bool ready = st->n_containers > 0;
                for (size_t i = st->n_init; i < (size_t)st->n_init + st->n_containers; i++)
                        ready = ready && st->c && st->c[i].ready;
                *ret_ready = ready;
                scratch_release(st, &scratch);
        } else if (ret_ready) {
                *ret_ready = false;
        }
        pthread_rwlock_unlock(&d->lock);
        return r;
}

struct ferry_jobs *ferry_daemon_jobs(struct ferry_daemon *d)
{
        return d->jobs;
}

void ferry_daemon_kick(struct ferry_daemon *d)
{
        if (d->poller_started)
                poller_kick(d);
}

/* ---- GET /usage (the ledger: spec/usage.md) ---- */

struct usage_scan {
        const struct ferry_authz *az;
        struct ferry_usage_sum *sum; /* NULL: export */
        struct ferry_buf *out;
        int64_t since, until;
};

static int usage_row(void *ctx, const char *ns, const char *record, size_t len)
{
        struct usage_scan *u = ctx;
        struct ferry_usage_rec r;
        ferry_error_t err = {{0}};
        if (!az_ok(u->az, ns))
                return 0;
        if (!u->sum) { /* --export: the records as they are stored, one per line */
                ferry_buf_add(u->out, record, len);
                ferry_buf_addc(u->out, '\n');
                return 0;
        }
        if (ferry_usage_rec_parse(record, len, &r, &err) < 0)
                return 0; /* not ours to judge: a record we cannot read is left out */
        ferry_usage_sum_add(u->sum, &r);
        ferry_usage_rec_clear(&r);
        return 0;
}

int ferry_daemon_usage(struct ferry_daemon *d, const struct ferry_usage_query *q,
                       const struct ferry_authz *az, struct ferry_buf *out, ferry_error_t *err)
{
        int keys[FERRY_USAGE_BY_MAX];
        size_t nk = 0;
        int r;
        int64_t now = ferry_now_ns();

        if (q->by && *q->by && (r = ferry_usage_parse_by(q->by, keys, &nk, err)) < 0)
                return r;
        const char *format = q->format && *q->format ? q->format : "json";
        if (strcmp(format, "json") && strcmp(format, "csv") && strcmp(format, "table"))
                return ferry_errprintf(err, -EINVAL, "format %s: json, csv or table", format);
        struct usage_scan u = {.az = az, .out = out, .since = q->since_ns, .until = q->until_ns};
        if (!q->export_records)
                u.sum = ferry_usage_sum_new(q->since_ns, q->until_ns, keys, nk, now);
        /* a record that finished before `since` cannot overlap the window */
        r = ferry_store_scan_usage(d->store, q->since_ns, usage_row, &u, err);
        if (r >= 0 && u.sum) {
                /* running pods accrue: their wall seconds so far (CPU comes with
                 * their end); the user from their spec, read outside the lock */
                struct ferry_usage_rec *run = NULL;
                size_t n = 0, cap = 0, it = 0;
                void *v;
                pthread_rwlock_rdlock(&d->lock);
                while (ferry_hashmap_next(d->pods, &it, NULL, &v)) {
                        struct pod *p = v;
                        if (p->state != FERRY_POD_SUBMITTED || p->st.phase != FERRY_PHASE_RUNNING ||
                            !az_ok(az, p->ns) || !p->st.c)
                                continue;
                        run = grow(run, n, &cap, sizeof(*run));
                        struct ferry_usage_rec *rr = &run[n++];
                        memset(rr, 0, sizeof(*rr));
                        rr->uid = ferry_xstrdup(p->uid);
                        rr->ns = ferry_xstrdup(p->ns);
                        rr->tenant = ferry_xstrdup(
                            p->adm ? ferry_admit_tenant_name(d->adm, p->adm->tenant) : p->ns);
                        rr->created_ns = p->created_ns;
                        rr->memory_peak_bytes = -1;
                        for (size_t i = 0; i < (size_t)p->st.n_init + p->st.n_containers; i++)
                                if (p->st.c[i].started_ns &&
                                    (!rr->started_ns || p->st.c[i].started_ns < rr->started_ns))
                                        rr->started_ns = p->st.c[i].started_ns;
                }
                pthread_rwlock_unlock(&d->lock);
                for (size_t i = 0; i < n; i++) {
                        run[i].user = ferry_ledger_user(d->store, &d->cfg.limits, run[i].uid);
                        ferry_usage_sum_add(u.sum, &run[i]);
                        ferry_usage_rec_clear(&run[i]);
                }
                free(run);
                r = ferry_usage_sum_render(u.sum, format, out, err);
        }
        ferry_usage_sum_free(u.sum);
        return r;
}
