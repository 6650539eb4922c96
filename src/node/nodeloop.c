/* SPDX-License-Identifier: MIT */
/* The ferry-node engine's node loop: /pinglink, the Node's status, taints and
 * Events, and the Lease; see vk.h. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hashmap.h"
#include "common/log.h"
#include "node/vk_internal.h"

#define LEASE_NS "kube-node-lease"

static json_t *without_heartbeats(const json_t *st)
{
        json_t *c = json_deep_copy(st);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(c, "conditions"), i, e)
            json_object_del(e, "lastHeartbeatTime");
        return c;
}

/* Whether a capacity change is worth a Node write now: a resource appeared or
 * went, an accelerator count moved, or cpu/memory/pods moved by 10% or more.
 * Smaller drift (a site's free memory) waits for the heartbeat. */
static double qty(const char *s)
{
        char *end;
        double v = s ? strtod(s, &end) : 0;
        if (!s || end == s)
                return 0;
        switch (*end) {
        case 'K':
        case 'k': return v * 1e3;
        case 'M': return v * 1e6;
        case 'G': return v * 1e9;
        case 'T': return v * 1e12;
        case 'm': return v / 1e3;
        default: return v;
        }
}

static bool capacity_moved(const json_t *a, const json_t *b)
{
        const char *k;
        json_t *v;
        if (json_object_size(a) != json_object_size(b))
                return true;
        json_object_foreach((json_t *)a, k, v)
        {
                const char *x = json_string_value(v), *y = ferry_vk_sget(b, k);
                if (!y)
                        return true;
                if (strchr(k, '/')) {
                        if (strcmp(x, y))
                                return true;
                        continue;
                }
                double p = qty(x), q = qty(y);
                double big = p > q ? p : q;
                if (big > 0 && (p > q ? p - q : q - p) / big >= 0.1)
                        return true;
        }
        return false;
}

static json_t *ping_status(struct ferry_vk *vk, struct ferry_client *fc, json_t **ret_taints)
{
        _cleanup_free_ char *body = NULL;
        long code = 0;
        ferry_error_t err = {{0}};
        int64_t t0 = ferry_monotonic_ns();
        int r = ferry_client_ping(fc, &body, &code, &err);
        ferry_vk_account_ferryd(vk, "ping", t0, r < 0 || code != 200);
        struct ferry_node_ping pg = {
            .reachable = r == 0, .code = code, .body = body, .error = r < 0 ? err.text : NULL};
        char now[FERRY_TIME_MAX];
        ferry_vk_now_text(now);
        bool was_ok = atomic_load(&vk->site_ok);
        bool ok = r == 0 && code == 200;
        atomic_store(&vk->site_ok, ok);
        if (ok != was_ok) {
                log_info("site %s: %s", vk->cfg->ferryd_url,
                         ok         ? "answers"
                         : pg.error ? pg.error
                                    : "unhealthy");
                /* reported once the Node write is done (its uid is known then) */
                vk->node_transition = ok ? "NodeReady" : "NodeNotReady";
                if (ok)
                        snprintf(vk->node_transition_msg, sizeof(vk->node_transition_msg),
                                 "Node %s status is now: NodeReady (site %s answers)",
                                 vk->cfg->node_name, vk->cfg->ferryd_url);
                else
                        snprintf(vk->node_transition_msg, sizeof(vk->node_transition_msg),
                                 "Node %s status is now: NodeNotReady (site %s: %s)",
                                 vk->cfg->node_name, vk->cfg->ferryd_url,
                                 pg.error ? pg.error : "unhealthy");
        }
        if (ok && !was_ok) {
                /* the site is back: deletions that waited go now */
                pthread_mutex_lock(&vk->lock);
                for (size_t i = 0; i < vk->n_queue; i++)
                        vk->queue[i].not_before_ns = 0;
                size_t it = 0;
                void *v;
                while (ferry_hashmap_next(vk->pods, &it, NULL, &v)) {
                        struct vpod *p = v;
                        p->backoff_ms = 0;
                }
                pthread_cond_broadcast(&vk->work_cv);
                pthread_mutex_unlock(&vk->lock);
        }
        json_t *prev = json_object_get(vk->node_status, "conditions");
        json_t *st = ferry_node_status(&vk->params, &pg, vk->last_capacity, prev, now, ret_taints);
        if (ok) {
                /* create workers read it (resourceFieldRef limits a container leaves unset) */
                pthread_mutex_lock(&vk->lock);
                json_decref(vk->last_capacity);
                vk->last_capacity = json_incref(json_object_get(st, "capacity"));
                pthread_mutex_unlock(&vk->lock);
        }
        return st;
}

static void node_event(struct ferry_vk *vk)
{
        if (!vk->node_transition)
                return;
        json_t *ref = ferry_events_node_ref(vk->cfg->node_name, vk->node_uid);
        ferry_events_emit_at(vk->events, ferry_now_ns(), ref,
                             strcmp(vk->node_transition, "NodeReady") ? "Warning" : "Normal",
                             vk->node_transition, vk->node_transition_msg);
        json_decref(ref);
        vk->node_transition = NULL;
}

int ferry_vk_register_node(struct ferry_vk *vk, struct ferry_client *fc, ferry_error_t *err)
{
        json_t *taints = NULL;
        json_t *st = ping_status(vk, fc, &taints);
        json_t *node = ferry_node_object(&vk->params, st, taints);
        _cleanup_free_ char *path = ferry_xasprintf("/api/v1/nodes/%s", vk->cfg->node_name);
        json_t *ans = NULL;
        int r = ferry_kube_create(vk->kube, "/api/v1/nodes", node, &ans, err);
        if (r == -EEXIST) {
                /* ours from an earlier run (or a stale one): take it over */
                json_t *patch =
                    json_pack("{s:{s:O},s:{s:O}}", "metadata", "labels",
                              json_object_get(json_object_get(node, "metadata"), "labels"), "spec",
                              "taints", json_object_get(json_object_get(node, "spec"), "taints"));
                r = ferry_kube_merge_patch(vk->kube, path, patch, &ans, err);
                json_decref(patch);
        }
        if (r == 0) {
                _cleanup_free_ char *spath = ferry_xasprintf("%s/status", path);
                json_t *sp = json_pack("{s:O}", "status", st);
                json_t *ans2 = NULL;
                r = ferry_kube_merge_patch(vk->kube, spath, sp, &ans2, err);
                json_decref(sp);
                json_decref(ans2);
        }
        if (r == 0) {
                const char *uid = ferry_vk_sget(json_object_get(ans, "metadata"), "uid");
                free(vk->node_uid);
                vk->node_uid = uid ? ferry_xstrdup(uid) : NULL;
                json_decref(vk->node_status);
                vk->node_status = json_incref(st);
                vk->ping_taints = taints;
                taints = NULL;
                vk->node_sent_ns = ferry_monotonic_ns();
                log_info("node %s registered (site %s)", vk->cfg->node_name,
                         atomic_load(&vk->site_ok) ? "answers" : "not answering");
                node_event(vk);
        }
        json_decref(taints);
        json_decref(ans);
        json_decref(node);
        json_decref(st);
        return r;
}

int ferry_vk_renew_lease(struct ferry_vk *vk, ferry_error_t *err)
{
        char now[FERRY_TIME_MAX];
        ferry_time_format(ferry_now_ns(), 6, now);
        _cleanup_free_ char *path = ferry_xasprintf(
            "/apis/coordination.k8s.io/v1/namespaces/" LEASE_NS "/leases/%s", vk->cfg->node_name);
        json_t *patch =
            json_pack("{s:{s:s,s:i,s:s}}", "spec", "holderIdentity", vk->cfg->node_name,
                      "leaseDurationSeconds", vk->cfg->lease_duration_s, "renewTime", now);
        int r = ferry_kube_merge_patch(vk->kube, path, patch, NULL, err);
        json_decref(patch);
        if (r != -ENOENT)
                return r;
        json_t *lease = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:i,s:s}}", "apiVersion",
                                  "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name",
                                  vk->cfg->node_name, "namespace", LEASE_NS, "spec",
                                  "holderIdentity", vk->cfg->node_name, "leaseDurationSeconds",
                                  vk->cfg->lease_duration_s, "renewTime", now);
        if (vk->node_uid)
                json_object_set_new(json_object_get(lease, "metadata"), "ownerReferences",
                                    json_pack("[{s:s,s:s,s:s,s:s}]", "apiVersion", "v1", "kind",
                                              "Node", "name", vk->cfg->node_name, "uid",
                                              vk->node_uid));
        r = ferry_kube_create(vk->kube,
                              "/apis/coordination.k8s.io/v1/namespaces/" LEASE_NS "/leases", lease,
                              NULL, err);
        json_decref(lease);
        return r == -EEXIST ? 0 : r;
}

static void update_node(struct ferry_vk *vk, struct ferry_client *fc)
{
        json_t *taints = NULL;
        json_t *st = ping_status(vk, fc, &taints);
        json_t *a = without_heartbeats(st), *b = without_heartbeats(vk->node_status);
        bool changed =
            !json_equal(json_object_get(a, "conditions"), json_object_get(b, "conditions")) ||
            capacity_moved(json_object_get(a, "capacity"), json_object_get(b, "capacity"));
        bool taints_changed = !json_equal(taints ? taints : json_null(),
                                          vk->ping_taints ? vk->ping_taints : json_null());
        bool heartbeat = ferry_monotonic_ns() - vk->node_sent_ns >=
                         (int64_t)vk->cfg->node_heartbeat_s * 1000000000;
        json_decref(a);
        json_decref(b);
        ferry_error_t err;
        if (changed || heartbeat) {
                _cleanup_free_ char *path =
                    ferry_xasprintf("/api/v1/nodes/%s/status", vk->cfg->node_name);
                json_t *patch = json_pack("{s:O}", "status", st);
                int r = ferry_kube_merge_patch(vk->kube, path, patch, NULL, &err);
                json_decref(patch);
                if (r == -ENOENT) {
                        log_warn("node %s was deleted; registering it again", vk->cfg->node_name);
                        ferry_vk_register_node(vk, fc, &err);
                } else if (r < 0) {
                        log_warn("node status: %s", err.text);
                } else {
                        json_decref(vk->node_status);
                        vk->node_status = json_incref(st);
                        vk->node_sent_ns = ferry_monotonic_ns();
                }
        }
        if (taints_changed) {
                _cleanup_free_ char *path = ferry_xasprintf("/api/v1/nodes/%s", vk->cfg->node_name);
                json_t *patch = json_pack("{s:{s:o}}", "spec", "taints",
                                          ferry_node_taints(&vk->params, taints));
                if (ferry_kube_merge_patch(vk->kube, path, patch, NULL, &err) == 0) {
                        json_decref(vk->ping_taints);
                        vk->ping_taints = json_incref(taints);
                } else {
                        log_warn("node taints: %s", err.text);
                }
                json_decref(patch);
        }
        node_event(vk);
        json_decref(taints);
        json_decref(st);
}

void *ferry_vk_node_loop(void *arg)
{
        struct ferry_vk *vk = arg;
        struct ferry_client *fc = NULL;
        ferry_error_t err;
        if (ferry_vk_ferryd(vk, &fc, &err) < 0) {
                log_err("node loop: %s", err.text);
                return NULL;
        }
        int64_t now = ferry_monotonic_ns();
        int64_t next_ping = now + (int64_t)vk->cfg->ping_interval_s * 1000000000;
        int64_t next_lease = now + (int64_t)vk->cfg->lease_renew_s * 1000000000;
        while (!ferry_vk_stopping(vk)) {
                int64_t next = next_ping < next_lease ? next_ping : next_lease;
                ferry_vk_sleep_until(vk, next);
                if (ferry_vk_stopping(vk))
                        break;
                now = ferry_monotonic_ns();
                if (now >= next_lease) {
                        if (ferry_vk_renew_lease(vk, &err) < 0)
                                log_warn("lease: %s", err.text);
                        next_lease = now + (int64_t)vk->cfg->lease_renew_s * 1000000000;
                }
                if (now >= next_ping) {
                        update_node(vk, fc);
                        next_ping = now + (int64_t)vk->cfg->ping_interval_s * 1000000000;
                }
        }
        ferry_client_free(fc);
        return NULL;
}
