/* SPDX-License-Identifier: MIT */
/* The ferry-node engine; see vk.h. */
#include "vk.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/hashmap.h"
#include "common/log.h"
#include "common/thread.h"
#include "events.h"
#include "kube/watch.h"
#include "node.h"
#include "node/vk_internal.h"

#define FERRY_VK_VERSION "v1.29.0-ferry-0.1.0"
#define ORPHAN_MISSES 3
/* polls without a pod that is being deleted before it counts as gone at the site */
#define GONE_MISSES 2
/* how long after its grace period a terminating pod waits for the site */
#define TERMINATE_MARGIN_S 120
#define ROOTCA_TTL_S 60

bool ferry_vk_healthy(struct ferry_vk *vk)
{
        return vk->informer && ferry_kube_informer_synced(vk->informer);
}

/* ---- pod table and queue (lock held) ---- */

static void vpod_free(struct vpod *p)
{
        if (!p)
                return;
        free(p->uid);
        free(p->ns);
        free(p->name);
        free(p->jid);
        free(p->wait_reason);
        json_decref(p->pod);
        json_decref(p->status);
        free(p);
}

static void enqueue_locked(struct ferry_vk *vk, struct vpod *p, int delay_ms)
{
        if (p->queued)
                return;
        if (vk->n_queue == vk->cap_queue) {
                vk->cap_queue = vk->cap_queue ? vk->cap_queue * 2 : 256;
                vk->queue = ferry_xrealloc(vk->queue, vk->cap_queue * sizeof(*vk->queue));
        }
        vk->queue[vk->n_queue++] = (struct work){
            ferry_xstrdup(p->uid), ferry_monotonic_ns() + (int64_t)delay_ms * 1000000};
        p->queued = true;
        pthread_cond_signal(&vk->work_cv);
}

static const char *annotation(const json_t *pod, const char *key)
{
        return ferry_vk_sget(json_object_get(json_object_get(pod, "metadata"), "annotations"), key);
}

/* The grace period the site was given: the API's deletionGracePeriodSeconds
 * (kubectl delete --grace-period), else the spec's, else 30 s. */
static int64_t grace_of(const json_t *pod)
{
        json_t *g = json_object_get(json_object_get(pod, "metadata"), "deletionGracePeriodSeconds");
        if (!json_is_integer(g))
                g = json_object_get(json_object_get(pod, "spec"), "terminationGracePeriodSeconds");
        return json_is_integer(g) && json_integer_value(g) >= 0 ? json_integer_value(g) : 30;
}

static void observe_locked(struct ferry_vk *vk, json_t *pod)
{
        json_t *meta = json_object_get(pod, "metadata");
        const char *uid = ferry_vk_sget(meta, "uid");
        if (!uid)
                return;
        struct vpod *p = ferry_hashmap_get(vk->pods, uid);
        bool deleting = json_object_get(meta, "deletionTimestamp") &&
                        !json_is_null(json_object_get(meta, "deletionTimestamp"));
        if (!p) {
                const char *ns = ferry_vk_sget(meta, "namespace"),
                           *name = ferry_vk_sget(meta, "name");
                p = ferry_xcalloc(1, sizeof(*p));
                p->uid = ferry_xstrdup(uid);
                p->ns = ferry_xstrdup(ns ? ns : "default");
                p->name = ferry_xstrdup(name ? name : "");
                p->first_seen_ns = ferry_monotonic_ns();
                p->status = json_incref(json_object_get(pod, "status"));
                const char *jid = annotation(pod, "JobID");
                const char *phase = ferry_node_status_phase(p->status);
                if (jid && jid[0]) {
                        p->jid = ferry_xstrdup(jid);
                        p->state = VP_CREATED;
                        vk->adoptions++;
                } else {
                        p->state = VP_NEW;
                }
                if (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))
                        p->state = VP_DONE;
                ferry_hashmap_put(vk->pods, p->uid, p);
                if (p->state == VP_NEW && !deleting)
                        enqueue_locked(vk, p, 0);
        }
        json_decref(p->pod);
        p->pod = json_incref(pod);
        if (!p->patched) {
                json_decref(p->status);
                p->status = json_incref(json_object_get(pod, "status"));
        }
        if (deleting && p->state != VP_DELETING && p->state != VP_TERMINATING &&
            p->state != VP_REMOVING && p->state != VP_GONE) {
                p->state = VP_DELETING;
                p->backoff_ms = 0;
                enqueue_locked(vk, p, 0);
        } else if (deleting && p->state == VP_TERMINATING && grace_of(pod) < p->grace_sent) {
                /* deleted again with a shorter --grace-period: the site hears it */
                p->state = VP_DELETING;
                p->backoff_ms = 0;
                enqueue_locked(vk, p, 0);
        }
}

static void forget_locked(struct ferry_vk *vk, const char *uid)
{
        struct vpod *p = ferry_hashmap_get(vk->pods, uid);
        if (!p)
                return;
        if (p->state == VP_TERMINATING || p->state == VP_REMOVING) {
                /* removed from the API (forced) while the site stops it: the site has
                 * its /delete already, and there is no object left to write to */
                p->api_deleted = true;
                p->state = VP_GONE;
        }
        if (p->state == VP_GONE || p->state == VP_DONE) {
                /* a finished pod removed without our help: ferryd keeps its record
                 * until told; tell it, but nothing else is needed */
                if (p->state == VP_DONE) {
                        p->api_deleted = true;
                        p->state = VP_DELETING;
                        enqueue_locked(vk, p, 0);
                        return;
                }
                if (!p->queued && !p->busy) {
                        ferry_hashmap_remove(vk->pods, uid);
                        vpod_free(p);
                }
                return;
        }
        /* force-deleted (or deleted while we were not watching): the site copy must go */
        p->api_deleted = true;
        if (p->state != VP_DELETING) {
                p->state = VP_DELETING;
                p->backoff_ms = 0;
        }
        enqueue_locked(vk, p, 0);
}

static void on_event(void *ctx, const char *type, json_t *obj)
{
        struct ferry_vk *vk = ctx;
        pthread_mutex_lock(&vk->lock);
        if (!strcmp(type, "DELETED")) {
                const char *uid = ferry_vk_sget(json_object_get(obj, "metadata"), "uid");
                if (uid)
                        forget_locked(vk, uid);
        } else if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED")) {
                observe_locked(vk, obj);
        }
        pthread_mutex_unlock(&vk->lock);
}

static void on_sync(void *ctx, json_t *items)
{
        struct ferry_vk *vk = ctx;
        json_t *seen = json_object();
        size_t i;
        json_t *pod;

        pthread_mutex_lock(&vk->lock);
        json_array_foreach(items, i, pod)
        {
                const char *uid = ferry_vk_sget(json_object_get(pod, "metadata"), "uid");
                if (uid)
                        json_object_set_new(seen, uid, json_true());
                observe_locked(vk, pod);
        }
        /* what we knew but the list lacks was deleted while the watch was down */
        size_t it = 0, n = 0;
        const char *key;
        void *v;
        char **gone = ferry_xcalloc(ferry_hashmap_size(vk->pods) + 1, sizeof(char *));
        while (ferry_hashmap_next(vk->pods, &it, &key, &v))
                if (!json_object_get(seen, key))
                        gone[n++] = ferry_xstrdup(key);
        for (size_t j = 0; j < n; j++) {
                forget_locked(vk, gone[j]);
                free(gone[j]);
        }
        free(gone);
        pthread_mutex_unlock(&vk->lock);
        json_decref(seen);
        atomic_store(&vk->orphan_scan, true);
        log_info("pods: listed %zu bound to %s", json_array_size(items), vk->cfg->node_name);
}

/* ---- API helpers ---- */

static void pod_event(struct ferry_vk *vk, const json_t *pod, const char *type, const char *reason,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void pod_event(struct ferry_vk *vk, const json_t *pod, const char *type, const char *reason,
                      const char *fmt, ...)
{
        char msg[FERRY_EVENTS_MAX_MESSAGE + 1];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        json_t *ref = ferry_events_pod_ref(pod);
        ferry_events_emit_at(vk->events, ferry_now_ns(), ref, type, reason, msg);
        json_decref(ref);
}

static char *pod_path(const struct vpod *p, const char *sub)
{
        return ferry_xasprintf("/api/v1/namespaces/%s/pods/%s%s", p->ns, p->name, sub ? sub : "");
}

/* Patch the status if it changed from what is stored. Takes ownership of st.
 * 0 when the API holds it (patched now or already), else -errno. */
static int set_status(struct ferry_vk *vk, const char *uid, json_t *st)
{
        pthread_mutex_lock(&vk->lock);
        struct vpod *p = ferry_hashmap_get(vk->pods, uid);
        json_t *patch = p ? ferry_node_status_patch(p->status, st) : NULL;
        char *path = p && patch ? pod_path(p, "/status") : NULL;
        pthread_mutex_unlock(&vk->lock);
        if (!patch) {
                json_decref(st);
                return p ? 0 : -ENOENT;
        }
        ferry_error_t err;
        int r = ferry_kube_merge_patch(vk->kube, path, patch, NULL, &err);
        json_decref(patch);
        free(path);
        pthread_mutex_lock(&vk->lock);
        p = ferry_hashmap_get(vk->pods, uid);
        if (r == 0 && p) {
                /* what is stored now: the old status with our keys replaced */
                json_t *merged =
                    json_is_object(p->status) ? json_deep_copy(p->status) : json_object();
                json_object_update(merged, st);
                const char *keys[] = {"reason", "message", "initContainerStatuses"};
                for (size_t i = 0; i < FERRY_ARRAY_SIZE(keys); i++)
                        if (!json_object_get(st, keys[i]))
                                json_object_del(merged, keys[i]);
                json_decref(p->status);
                p->status = merged;
                p->patched = true;
                vk->status_patches++;
        }
        pthread_mutex_unlock(&vk->lock);
        if (r < 0 && r != -ENOENT)
                log_warn("status of pod %s: %s", uid, err.text);
        json_decref(st);
        return r;
}

static void set_local_status(struct ferry_vk *vk, const char *uid, json_t *pod, const char *phase,
                             const char *reason, const char *message)
{
        char now[FERRY_TIME_MAX];
        ferry_vk_now_text(now);
        pthread_mutex_lock(&vk->lock);
        struct vpod *p = ferry_hashmap_get(vk->pods, uid);
        json_t *view = json_deep_copy(pod);
        if (p && p->status)
                json_object_set(view, "status", p->status);
        pthread_mutex_unlock(&vk->lock);
        set_status(vk, uid, ferry_node_pod_status_local(view, phase, reason, message, now));
        json_decref(view);
}

/* ---- create ---- */

static int fetch_objects(struct ferry_vk *vk, const json_t *pod, const json_t *needs, json_t *cms,
                         json_t *secs, json_t *toks, ferry_error_t *err)
{
        json_t *meta = json_object_get(pod, "metadata");
        const char *ns = ferry_vk_sget(meta, "namespace");
        const char *kinds[] = {"configmaps", "secrets"};
        json_t *dest[] = {cms, secs};
        const char *name;
        json_t *req;

        for (int k = 0; k < 2; k++) {
                json_object_foreach(json_object_get(needs, kinds[k]), name, req)
                {
                        bool rootca = k == 0 && !strcmp(name, "kube-root-ca.crt");
                        if (rootca) {
                                pthread_mutex_lock(&vk->lock);
                                json_t *e = json_object_get(vk->rootca, ns);
                                if (e && ferry_monotonic_ns() / 1000000000 -
                                                 json_integer_value(json_object_get(e, "at")) <
                                             ROOTCA_TTL_S)
                                        json_object_set(dest[k], name, json_object_get(e, "obj"));
                                pthread_mutex_unlock(&vk->lock);
                                if (json_object_get(dest[k], name))
                                        continue;
                        }
                        _cleanup_free_ char *path =
                            ferry_xasprintf("/api/v1/namespaces/%s/%s/%s", ns, kinds[k], name);
                        json_t *obj = NULL;
                        int r = ferry_kube_get(vk->kube, path, &obj, err);
                        if (r == -ENOENT) {
                                if (json_is_true(req))
                                        return ferry_errprintf(err, -ENOENT, "%s \"%s\" not found",
                                                               k ? "secret" : "configmap", name);
                                continue;
                        }
                        if (r < 0)
                                return r;
                        if (rootca) {
                                pthread_mutex_lock(&vk->lock);
                                json_object_set_new(
                                    vk->rootca, ns,
                                    json_pack("{s:O,s:I}", "obj", obj, "at",
                                              (json_int_t)(ferry_monotonic_ns() / 1000000000)));
                                pthread_mutex_unlock(&vk->lock);
                        }
                        json_object_set_new(dest[k], name, obj);
                }
        }
        json_t *tok;
        json_object_foreach(json_object_get(needs, "tokens"), name, tok)
        {
                const char *sa = ferry_vk_sget(json_object_get(pod, "spec"), "serviceAccountName");
                _cleanup_free_ char *path =
                    ferry_xasprintf("/api/v1/namespaces/%s/serviceaccounts/%s/token", ns,
                                    sa && sa[0] ? sa : "default");
                const char *aud = ferry_vk_sget(tok, "audience");
                /* bound to the pod: the token dies with it, and expires when the pod asked */
                json_t *tr = json_pack(
                    "{s:s,s:s,s:{s:o,s:I,s:{s:s,s:s,s:s,s:s}}}", "apiVersion",
                    "authentication.k8s.io/v1", "kind", "TokenRequest", "spec", "audiences",
                    aud ? json_pack("[s]", aud) : json_array(), "expirationSeconds",
                    json_integer_value(json_object_get(tok, "expirationSeconds")), "boundObjectRef",
                    "kind", "Pod", "apiVersion", "v1", "name", ferry_vk_sget(meta, "name"), "uid",
                    ferry_vk_sget(meta, "uid"));
                if (!aud)
                        json_object_del(json_object_get(tr, "spec"), "audiences");
                json_t *ans = NULL;
                int r = ferry_kube_create(vk->kube, path, tr, &ans, err);
                json_decref(tr);
                if (r < 0)
                        return ferry_errprefix(err, r, "service-account token");
                const char *t = ferry_vk_sget(json_object_get(ans, "status"), "token");
                if (!t) {
                        json_decref(ans);
                        return ferry_errprintf(err, -EPROTO,
                                               "TokenRequest answered without a token");
                }
                json_object_set_new(toks, name, json_string(t));
                json_decref(ans);
        }
        return 0;
}

static void patch_jobid(struct ferry_vk *vk, const char *uid, const char *jid)
{
        pthread_mutex_lock(&vk->lock);
        struct vpod *p = ferry_hashmap_get(vk->pods, uid);
        char *path = p ? pod_path(p, NULL) : NULL;
        if (p) {
                free(p->jid);
                p->jid = ferry_xstrdup(jid);
        }
        pthread_mutex_unlock(&vk->lock);
        if (!path)
                return;
        json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", "JobID", jid);
        ferry_error_t err;
        int r = ferry_kube_merge_patch(vk->kube, path, patch, NULL, &err);
        if (r < 0 && r != -ENOENT)
                log_warn("JobID of pod %s: %s", uid, err.text);
        json_decref(patch);
        free(path);
}

/* The next delay of the pod's backoff (0.5 s doubling to 30 s; the node loop
 * resets it when the site answers a ping again). */
static int next_backoff(struct ferry_vk *vk, const char *uid)
{
        pthread_mutex_lock(&vk->lock);
        struct vpod *p = ferry_hashmap_get(vk->pods, uid);
        int next = p && p->backoff_ms ? p->backoff_ms * 2 : 500;
        if (next > 30000)
                next = 30000;
        if (p)
                p->backoff_ms = next;
        pthread_mutex_unlock(&vk->lock);
        return next;
}

/* Returns the delay before a retry in ms, or -1 when done. */
static int do_create(struct ferry_vk *vk, struct ferry_client *fc, const char *uid, json_t *pod,
                     int64_t wait_since)
{
        ferry_error_t err = {{0}};
        json_t *needs = ferry_podtr_needs(pod);
        json_t *cms = json_object(), *secs = json_object(), *toks = json_object();
        json_t *req = NULL;
        _cleanup_free_ char *body = NULL, *ruid = NULL, *jid = NULL;
        int delay = -1;
        pthread_mutex_lock(&vk->lock);
        json_t *capacity = json_incref(vk->last_capacity);
        pthread_mutex_unlock(&vk->lock);
        struct ferry_podtr_objects o = {.configmaps = cms,
                                        .secrets = secs,
                                        .tokens = toks,
                                        .node_name = vk->cfg->node_name,
                                        .host_ip = vk->cfg->internal_ip,
                                        .allocatable = capacity};
        int r = fetch_objects(vk, pod, needs, cms, secs, toks, &err);
        if (r == 0)
                r = ferry_podtr_build(pod, &o, &req, NULL, &err);
        if (r == -ENOENT) {
                int64_t waited = (ferry_monotonic_ns() - wait_since) / 1000000000;
                if (waited >= vk->cfg->config_wait_s) {
                        _cleanup_free_ char *m = ferry_xasprintf("%s (gave up after %d s)",
                                                                 err.text, vk->cfg->config_wait_s);
                        pod_event(vk, pod, "Warning", "FailedMount", "%s", m);
                        set_local_status(vk, uid, pod, "Failed", "CreateContainerConfigError", m);
                        pthread_mutex_lock(&vk->lock);
                        struct vpod *p = ferry_hashmap_get(vk->pods, uid);
                        if (p && p->state == VP_NEW)
                                p->state = VP_DONE;
                        vk->create_failures++;
                        pthread_mutex_unlock(&vk->lock);
                } else {
                        /* every retry is an occurrence: the recorder counts them on one Event */
                        pod_event(vk, pod, "Warning", "FailedMount", "%s", err.text);
                        set_local_status(vk, uid, pod, "Pending", "CreateContainerConfigError",
                                         err.text);
                        delay = 2000;
                }
                goto out;
        }
        if (r == -EINVAL || r == -E2BIG) {
                pod_event(vk, pod, "Warning", "ProviderFailed", "%s", err.text);
                set_local_status(vk, uid, pod, "Failed", "ProviderFailed", err.text);
                pthread_mutex_lock(&vk->lock);
                struct vpod *p = ferry_hashmap_get(vk->pods, uid);
                if (p && p->state == VP_NEW)
                        p->state = VP_DONE;
                vk->create_failures++;
                pthread_mutex_unlock(&vk->lock);
                goto out;
        }
        if (r < 0) { /* the API server is unwell: try again */
                log_warn("pod %s: %s", uid, err.text);
                delay = 2000;
                goto out;
        }
        body = json_dumps(req, JSON_COMPACT);
        int64_t t0 = ferry_monotonic_ns();
        r = ferry_client_create(fc, body, &ruid, &jid, &err);
        ferry_vk_account_ferryd(vk, "create", t0, r < 0);
        if (ferry_error_transient(r)) {
                /* unreachable, or an answer that says "later" (503, 504, 429, a
                 * proxy's 502): the pod waits, it has not failed */
                delay = next_backoff(vk, uid);
                log_warn("pod %s: %s (retrying in %d ms)", uid, err.text, delay);
                if (!ferry_client_unreachable(r))
                        pod_event(vk, pod, "Warning", "FailedCreate",
                                  "the site cannot take the pod now: %s (retrying)", err.text);
                goto out;
        }
        if (r == -EKEYREJECTED) {
                /* the node's credentials, not the pod: wait for a rotated token */
                log_warn("pod %s: %s (retrying)", uid, err.text);
                pod_event(vk, pod, "Warning", "FailedCreate",
                          "the site refused the token: %s (retrying)", err.text);
                delay = 2000;
                goto out;
        }
        pthread_mutex_lock(&vk->lock);
        vk->creates++;
        struct vpod *p = ferry_hashmap_get(vk->pods, uid);
        if (p && p->state == VP_NEW) {
                p->state = r < 0 ? VP_DONE : VP_CREATED;
                p->backoff_ms = 0;
        }
        if (r < 0)
                vk->create_failures++;
        pthread_mutex_unlock(&vk->lock);
        if (r < 0) {
                log_info("pod %s: /create failed: %s", uid, err.text);
                pod_event(vk, pod, "Warning", "ProviderFailed", "%s", err.text);
                set_local_status(vk, uid, pod, "Failed", "ProviderFailed", err.text);
                goto out;
        }
        log_debug("pod %s created as job %s", uid, jid);
        pod_event(vk, pod, "Normal", "Submitted", "Submitted to %s as job %s", vk->cfg->ferryd_url,
                  jid && jid[0] ? jid : "(none)");
        if (jid && jid[0] && (!annotation(pod, "JobID") || strcmp(annotation(pod, "JobID"), jid)))
                patch_jobid(vk, uid, jid);
out:
        json_decref(needs);
        json_decref(cms);
        json_decref(secs);
        json_decref(toks);
        json_decref(capacity);
        json_decref(req);
        return delay;
}

/* ---- delete ---- */

/* The site is done with the pod and its final status is stored (or there is
 * no API object left): the API object goes with grace 0. Returns the delay
 * before a retry in ms, or -1 when done. */
static int remove_api_object(struct ferry_vk *vk, const char *uid, json_t *pod, bool api_deleted)
{
        ferry_error_t err = {{0}};
        int r;
        if (!api_deleted) {
                const json_t *meta = json_object_get(pod, "metadata");
                _cleanup_free_ char *path =
                    ferry_xasprintf("/api/v1/namespaces/%s/pods/%s",
                                    ferry_vk_sget(meta, "namespace"), ferry_vk_sget(meta, "name"));
                json_t *opts =
                    json_pack("{s:s,s:s,s:i,s:{s:s}}", "apiVersion", "v1", "kind", "DeleteOptions",
                              "gracePeriodSeconds", 0, "preconditions", "uid", uid);
                r = ferry_kube_delete(vk->kube, path, opts, &err);
                json_decref(opts);
                if (r < 0 && r != -ENOENT && r != -EEXIST) {
                        log_warn("pod %s: %s (retrying)", uid, err.text);
                        return 2000;
                }
        }
        const char *djid = annotation(pod, "JobID");
        pod_event(vk, pod, "Normal", "Deleted", "Deleted at %s (job %s)", vk->cfg->ferryd_url,
                  djid && djid[0] ? djid : "unknown");
        pthread_mutex_lock(&vk->lock);
        vk->deletes++;
        struct vpod *p = ferry_hashmap_get(vk->pods, uid);
        if (p) {
                if (p->api_deleted) {
                        /* the worker still holds it (busy): mark it, the worker drops it */
                        p->state = VP_GONE;
                } else {
                        p->state = VP_GONE;
                }
        }
        pthread_mutex_unlock(&vk->lock);
        log_debug("pod %s deleted", uid);
        return -1;
}

/* /delete until the site accepts it. Then, as a kubelet, keep the API object
 * until every container has stopped: the status loop polls the pod
 * (VP_TERMINATING), writes its final status and hands it back for
 * remove_api_object. A pod that had finished, or that the site does not know,
 * goes at once. Returns the delay before a retry in ms, or -1. */
static int do_delete(struct ferry_vk *vk, struct ferry_client *fc, const char *uid, json_t *pod,
                     bool api_deleted)
{
        ferry_error_t err = {{0}};
        _cleanup_free_ char *body = json_dumps(pod, JSON_COMPACT);
        int64_t t0 = ferry_monotonic_ns();
        int r = ferry_client_delete(fc, body, &err);
        ferry_vk_account_ferryd(vk, "delete", t0, r < 0 && r != -ENOENT);
        if (r < 0 && r != -ENOENT) {
                int next = next_backoff(vk, uid);
                log_info("pod %s: /delete: %s (retrying in %d ms)", uid, err.text, next);
                return next;
        }
        if (!api_deleted && r != -ENOENT) {
                pthread_mutex_lock(&vk->lock);
                struct vpod *p = ferry_hashmap_get(vk->pods, uid);
                const char *phase = p ? ferry_node_status_phase(p->status) : "";
                bool wait = p && p->state == VP_DELETING && strcmp(phase, "Succeeded") != 0 &&
                            strcmp(phase, "Failed") != 0;
                if (wait) {
                        /* a site that never says the pod stopped does not keep the
                         * object forever: long after the grace period, it goes */
                        int64_t deadline = ferry_monotonic_ns() +
                                           (grace_of(pod) + TERMINATE_MARGIN_S) * 1000000000;
                        if (!p->term_deadline_ns || deadline < p->term_deadline_ns)
                                p->term_deadline_ns = deadline;
                        p->state = VP_TERMINATING;
                        p->misses = 0;
                        p->backoff_ms = 0;
                        p->grace_sent = grace_of(pod);
                }
                pthread_mutex_unlock(&vk->lock);
                if (wait) {
                        log_debug("pod %s: the site stops it (grace %lld s)", uid,
                                  (long long)grace_of(pod));
                        return -1;
                }
        }
        return remove_api_object(vk, uid, pod, api_deleted);
}

/* ---- workers ---- */

static void *worker(void *arg)
{
        struct ferry_vk *vk = arg;
        struct ferry_client *fc = NULL;
        ferry_error_t err;

        if (ferry_vk_ferryd(vk, &fc, &err) < 0) {
                log_err("worker: %s", err.text);
                return NULL;
        }
        pthread_mutex_lock(&vk->lock);
        while (!vk->stopping) {
                int64_t now = ferry_monotonic_ns(), next = INT64_MAX;
                size_t pick = SIZE_MAX;
                for (size_t i = 0; i < vk->n_queue; i++) {
                        struct vpod *q = ferry_hashmap_get(vk->pods, vk->queue[i].uid);
                        if (q && q->busy) {
                                if (now + 20000000 < next)
                                        next = now + 20000000;
                                continue;
                        }
                        if (vk->queue[i].not_before_ns <= now) {
                                pick = i;
                                break;
                        }
                        if (vk->queue[i].not_before_ns < next)
                                next = vk->queue[i].not_before_ns;
                }
                if (pick == SIZE_MAX) {
                        int64_t wait = next == INT64_MAX ? FERRY_NSEC_PER_SEC : next - now;
                        if (wait > FERRY_NSEC_PER_SEC)
                                wait = FERRY_NSEC_PER_SEC;
                        ferry_cond_wait_until(&vk->work_cv, &vk->lock, now + wait);
                        continue;
                }
                char *uid = vk->queue[pick].uid;
                memmove(&vk->queue[pick], &vk->queue[pick + 1],
                        (vk->n_queue - pick - 1) * sizeof(*vk->queue));
                vk->n_queue--;
                struct vpod *p = ferry_hashmap_get(vk->pods, uid);
                if (!p) {
                        free(uid);
                        continue;
                }
                p->queued = false;
                p->busy = true;
                enum vpod_state st = p->state;
                json_t *pod = json_incref(p->pod);
                bool api_deleted = p->api_deleted;
                if (st == VP_NEW && !p->wait_since_ns)
                        p->wait_since_ns = ferry_monotonic_ns();
                int64_t wait_since = p->wait_since_ns;
                pthread_mutex_unlock(&vk->lock);

                int delay = -1;
                if (st == VP_NEW)
                        delay = do_create(vk, fc, uid, pod, wait_since);
                else if (st == VP_DELETING)
                        delay = do_delete(vk, fc, uid, pod, api_deleted);
                else if (st == VP_REMOVING)
                        delay = remove_api_object(vk, uid, pod, api_deleted);
                json_decref(pod);

                pthread_mutex_lock(&vk->lock);
                p = ferry_hashmap_get(vk->pods, uid);
                if (p)
                        p->busy = false;
                if (p && p->state == VP_GONE && p->api_deleted) {
                        ferry_hashmap_remove(vk->pods, uid);
                        vpod_free(p);
                        p = NULL;
                }
                if (p && (delay >= 0 || (p->state == VP_DELETING && st != VP_DELETING)))
                        enqueue_locked(vk, p, delay >= 0 && p->state == st ? delay : 0);
                free(uid);
        }
        pthread_mutex_unlock(&vk->lock);
        ferry_client_free(fc);
        return NULL;
}

/* ---- status loop ---- */

static json_t *status_view(const json_t *pod)
{
        /* the pod as upstream servers expect it, minus what only costs bytes; the
         * phase stays: upstream's API server asks its plugin again only for pods it
         * is told are Pending or Running (doc/interlink.md) */
        json_t *v = json_deep_copy(pod);
        const char *phase =
            json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
        json_object_set_new(v, "status", json_pack("{s:s}", "phase", phase ? phase : "Pending"));
        json_object_del(json_object_get(v, "metadata"), "managedFields");
        return v;
}

static void poll_status(struct ferry_vk *vk, struct ferry_client *fc)
{
        json_t *req = json_array();
        size_t it = 0;
        void *v;

        pthread_mutex_lock(&vk->lock);
        while (ferry_hashmap_next(vk->pods, &it, NULL, &v)) {
                struct vpod *p = v;
                if ((p->state == VP_CREATED || p->state == VP_TERMINATING) && p->pod)
                        json_array_append_new(req, status_view(p->pod));
        }
        pthread_mutex_unlock(&vk->lock);
        if (json_array_size(req) == 0) {
                json_decref(req);
                return;
        }
        _cleanup_free_ char *body = json_dumps(req, JSON_COMPACT);
        json_t *seen = json_object();
        json_t *ans = NULL;
        ferry_error_t err;
        int64_t t0 = ferry_monotonic_ns();
        int r = ferry_client_status(fc, body, &ans, &err);
        ferry_vk_account_ferryd(vk, "status", t0, r < 0);
        if (r < 0) {
                log_warn("/status: %s", err.text);
                json_decref(req);
                json_decref(seen);
                return;
        }
        char now[FERRY_TIME_MAX];
        ferry_vk_now_text(now);
        size_t i;
        json_t *ps;
        json_array_foreach(ans, i, ps)
        {
                const char *uid = ferry_vk_sget(ps, "UID");
                if (!uid)
                        continue;
                json_object_set_new(seen, uid, json_true());
                pthread_mutex_lock(&vk->lock);
                struct vpod *p = ferry_hashmap_get(vk->pods, uid);
                json_t *view = NULL;
                bool need_jid = false, terminating = false, overdue = false;
                const char *jid = ferry_vk_sget(ps, "JID");
                if (p && (p->state == VP_CREATED || p->state == VP_TERMINATING)) {
                        p->misses = 0;
                        view = json_deep_copy(p->pod);
                        if (p->status)
                                json_object_set(view, "status", p->status);
                        need_jid = jid && jid[0] && (!p->jid || strcmp(p->jid, jid));
                        terminating = p->state == VP_TERMINATING;
                        overdue = terminating && ferry_monotonic_ns() > p->term_deadline_ns;
                }
                pthread_mutex_unlock(&vk->lock);
                if (!view)
                        continue;
                /* being deleted: done once the site says every container has ended */
                bool site_done = ferry_client_phase_done(ferry_client_pod_phase(ps));
                if (overdue && !site_done)
                        log_warn("pod %s: the site still runs it %d s after its grace period; "
                                 "removing it from the API",
                                 uid, TERMINATE_MARGIN_S);
                json_t *st = terminating && (site_done || overdue)
                                 ? ferry_node_pod_status_final(view, ps, now)
                                 : ferry_node_pod_status(view, ps, now);
                const char *phase = ferry_node_status_phase(st);
                bool done = !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed");
                int sr = set_status(vk, uid, st);
                if (need_jid)
                        patch_jobid(vk, uid, jid);
                if (done) {
                        pthread_mutex_lock(&vk->lock);
                        struct vpod *q = ferry_hashmap_get(vk->pods, uid);
                        if (q && q->state == VP_CREATED && q->patched)
                                q->state = VP_DONE;
                        /* the final status is stored: now the API object may go */
                        if (q && q->state == VP_TERMINATING && sr == 0 && (site_done || overdue)) {
                                q->state = VP_REMOVING;
                                enqueue_locked(vk, q, 0);
                        }
                        pthread_mutex_unlock(&vk->lock);
                }
                json_decref(view);
        }
        /* pods the site does not know: recreate after a few misses (/create is
         * idempotent per UID: a pod the site has will not start twice); one being
         * deleted is gone there: its last known states become final */
        json_t *pod;
        json_array_foreach(req, i, pod)
        {
                const char *uid = ferry_vk_sget(json_object_get(pod, "metadata"), "uid");
                if (!uid || json_object_get(seen, uid))
                        continue;
                pthread_mutex_lock(&vk->lock);
                struct vpod *p = ferry_hashmap_get(vk->pods, uid);
                json_t *view = NULL;
                if (p && p->state == VP_CREATED && ++p->misses >= ORPHAN_MISSES) {
                        log_warn("pod %s/%s: the site does not know job %s; creating it again",
                                 p->ns, p->name, p->jid ? p->jid : "");
                        p->state = VP_NEW;
                        p->misses = 0;
                        p->wait_since_ns = 0;
                        enqueue_locked(vk, p, 0);
                } else if (p && p->state == VP_TERMINATING && ++p->misses >= GONE_MISSES) {
                        view = json_deep_copy(p->pod);
                        if (p->status)
                                json_object_set(view, "status", p->status);
                }
                pthread_mutex_unlock(&vk->lock);
                if (!view)
                        continue;
                int sr = set_status(vk, uid, ferry_node_pod_status_final(view, NULL, now));
                json_decref(view);
                pthread_mutex_lock(&vk->lock);
                p = ferry_hashmap_get(vk->pods, uid);
                if (p && p->state == VP_TERMINATING && sr == 0) {
                        p->state = VP_REMOVING;
                        enqueue_locked(vk, p, 0);
                }
                pthread_mutex_unlock(&vk->lock);
        }
        json_decref(ans);
        json_decref(req);
        json_decref(seen);
}

static void *status_loop(void *arg)
{
        struct ferry_vk *vk = arg;
        struct ferry_client *fc = NULL;
        ferry_error_t err;
        if (ferry_vk_ferryd(vk, &fc, &err) < 0) {
                log_err("status loop: %s", err.text);
                return NULL;
        }
        int64_t next = ferry_monotonic_ns();
        while (!ferry_vk_stopping(vk)) {
                next += (int64_t)vk->cfg->status_interval_ms * 1000000;
                if (atomic_exchange(&vk->orphan_scan, false)) {
                        int n = ferry_vk_collect_orphans(vk, vk->kube, fc, vk->cfg->node_name);
                        if (n > 0) {
                                pthread_mutex_lock(&vk->lock);
                                vk->orphans_deleted += (uint64_t)n;
                                pthread_mutex_unlock(&vk->lock);
                        }
                }
                poll_status(vk, fc);
                if (next < ferry_monotonic_ns())
                        next = ferry_monotonic_ns();
                ferry_vk_sleep_until(vk, next);
        }
        ferry_client_free(fc);
        return NULL;
}

/* ---- lifecycle ---- */

int ferry_vk_pod_uid(struct ferry_vk *vk, const char *ns, const char *name, char **ret_uid)
{
        size_t it = 0;
        void *v;
        int r = -ENOENT;
        pthread_mutex_lock(&vk->lock);
        while (ferry_hashmap_next(vk->pods, &it, NULL, &v)) {
                struct vpod *p = v;
                if (!strcmp(p->ns, ns) && !strcmp(p->name, name) && p->state != VP_GONE) {
                        *ret_uid = ferry_xstrdup(p->uid);
                        r = 0;
                        break;
                }
        }
        pthread_mutex_unlock(&vk->lock);
        return r;
}

int ferry_vk_new(const struct ferry_vk_config *cfg, struct ferry_kube *kube, struct ferry_vk **ret,
                 ferry_error_t *err)
{
        struct ferry_vk *vk = ferry_xcalloc(1, sizeof(*vk));
        vk->cfg = cfg;
        vk->kube = kube;
        vk->params = (struct ferry_node_params){
            .name = cfg->node_name,
            .internal_ip = cfg->internal_ip,
            .kubelet_port = cfg->kubelet_port,
            .labels = cfg->labels,
            .taints = cfg->taints,
            .version = FERRY_VK_VERSION,
        };
        pthread_mutex_init(&vk->lock, NULL);
        ferry_cond_init(&vk->work_cv);
        ferry_cond_init(&vk->loop_cv);
        vk->pods = ferry_hashmap_new();
        vk->rootca = json_object();
        vk->events = ferry_events_new(kube, "ferry-node", cfg->node_name);
        *ret = vk;
        return 0;
}

int ferry_vk_start(struct ferry_vk *vk, ferry_error_t *err)
{
        struct ferry_client *fc = NULL;
        int r = ferry_vk_ferryd(vk, &fc, err);
        if (r < 0)
                return r;
        /* the Node must exist before pods can be bound to it; retry until the API answers */
        for (int attempt = 0;; attempt++) {
                r = ferry_vk_register_node(vk, fc, err);
                if (r == 0 || r == -EKEYREJECTED || r == -EACCES || r == -EINVAL ||
                    r == -EOPNOTSUPP || attempt >= 30 || ferry_vk_stopping(vk))
                        break;
                log_warn("registering node %s: %s (retrying)", vk->cfg->node_name, err->text);
                ferry_vk_sleep_until(vk, ferry_monotonic_ns() + 1000000000);
        }
        ferry_client_free(fc);
        if (r < 0)
                return ferry_errprefix(err, r, "cannot register node %s", vk->cfg->node_name);
        if ((r = ferry_events_start(vk->events, err)) < 0)
                return r;
        if ((r = ferry_vk_renew_lease(vk, err)) < 0)
                log_warn("lease: %s", err->text);

        vk->n_workers = vk->cfg->workers;
        vk->workers = ferry_xcalloc((size_t)vk->n_workers, sizeof(pthread_t));
        for (int i = 0; i < vk->n_workers; i++) {
                r = -pthread_create(&vk->workers[i], NULL, worker, vk);
                if (r < 0) {
                        vk->n_workers = i;
                        return ferry_errprintf(err, r, "cannot start worker threads");
                }
        }
        _cleanup_free_ char *sel = ferry_xasprintf("spec.nodeName=%s", vk->cfg->node_name);
        struct ferry_kube_informer_ops ops = {.on_sync = on_sync, .on_event = on_event};
        if ((r = ferry_kube_informer_start(vk->kube, "/api/v1/pods", sel, &ops, vk, &vk->informer,
                                           err)) < 0)
                return r;
        if ((r = -pthread_create(&vk->status_thread, NULL, status_loop, vk)) < 0)
                return ferry_errprintf(err, r, "cannot start the status loop");
        vk->status_started = true;
        if ((r = -pthread_create(&vk->node_thread, NULL, ferry_vk_node_loop, vk)) < 0)
                return ferry_errprintf(err, r, "cannot start the node loop");
        vk->node_started = true;
        return 0;
}

void ferry_vk_stop(struct ferry_vk *vk)
{
        if (!vk)
                return;
        pthread_mutex_lock(&vk->lock);
        vk->stopping = true;
        pthread_cond_broadcast(&vk->work_cv);
        pthread_cond_broadcast(&vk->loop_cv);
        pthread_mutex_unlock(&vk->lock);
        if (vk->node_started)
                pthread_join(vk->node_thread, NULL);
        if (vk->status_started)
                pthread_join(vk->status_thread, NULL);
        vk->node_started = vk->status_started = false;
        ferry_kube_informer_stop(vk->informer);
        vk->informer = NULL;
        for (int i = 0; i < vk->n_workers; i++)
                pthread_join(vk->workers[i], NULL);
        vk->n_workers = 0;
        /* last: what the threads above reported is written before we go */
        ferry_events_stop(vk->events);
}

void ferry_vk_free(struct ferry_vk *vk)
{
        if (!vk)
                return;
        ferry_vk_stop(vk);
        size_t it = 0;
        void *v;
        while (ferry_hashmap_next(vk->pods, &it, NULL, &v))
                vpod_free(v);
        ferry_hashmap_free(vk->pods);
        for (size_t i = 0; i < vk->n_queue; i++)
                free(vk->queue[i].uid);
        free(vk->queue);
        free(vk->workers);
        json_decref(vk->last_capacity);
        json_decref(vk->node_status);
        json_decref(vk->ping_taints);
        json_decref(vk->rootca);
        ferry_events_free(vk->events);
        free(vk->node_uid);
        pthread_mutex_destroy(&vk->lock);
        pthread_cond_destroy(&vk->work_cv);
        pthread_cond_destroy(&vk->loop_cv);
        free(vk);
}
