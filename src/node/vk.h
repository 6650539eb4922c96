/* SPDX-License-Identifier: MIT */
/*
 * The ferry-node engine: the pod table and the loops that keep the cluster and
 * the site in step.
 *
 *   pods informer  list+watch of pods with spec.nodeName=<node> -> pod table
 *   workers        create (gather ConfigMaps/Secrets/tokens, /create, JobID
 *                  annotation) and delete (/delete until confirmed, then the
 *                  API object with grace 0)
 *   status loop    one batched /status for every live pod per interval; a
 *                  status patch only for pods whose status changed
 *   node loop      /pinglink, Node status (patched on change or heartbeat),
 *                  Lease renewal
 *   kubelet.c      the HTTPS endpoint (/containerLogs, /healthz, /metrics)
 *
 * Threading: the pod table is guarded by one mutex; no API or ferryd call is
 * made while holding it. Each thread has its own ferryd client.
 */
#ifndef FERRY_VK_H
#define FERRY_VK_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/client.h"
#include "common/error.h"
#include "common/util.h"
#include "kube/kube.h"

struct ferry_vk_config {
        char *node_name;
        char *kubeconfig; /* NULL: $KUBECONFIG, ~/.kube/config, then in-cluster */
        char *kube_context;
        char *ferryd_url; /* unix:///... or https://host:port */
        char *ferryd_token_file;
        char *ferryd_ca;
        int status_interval_ms; /* default 1000 */
        int ping_interval_s;    /* default 10 */
        int node_heartbeat_s;   /* Node status re-sent unchanged after this; default 60 */
        int lease_duration_s;   /* default 40 */
        int lease_renew_s;      /* default 10 */
        int config_wait_s;      /* how long a pod waits for its ConfigMaps/Secrets; default 300 */
        int workers;            /* default 8 */
        double qps;             /* default 500 */
        int burst;              /* default 1000 */
        json_t *labels;         /* extra labels (object) */
        json_t *taints;         /* NULL: the default taint; [] none */
        char *
            internal_ip; /* the Node's InternalIP (where the API server reaches the kubelet port) */
        char *kubelet_listen; /* address to bind, default 0.0.0.0 */
        int kubelet_port;     /* default 10250; 0 = no endpoint */
        char *kubelet_cert, *kubelet_key, *kubelet_client_ca;
        bool kubelet_insecure_http; /* tests only */
        /* no authentication or authorisation on the kubelet port: anyone who
         * reaches it reads every offloaded pod's logs (tests, or a port only
         * the API server can reach) */
        bool kubelet_insecure_no_auth;
        char *log_level;
};

void ferry_vk_config_defaults(struct ferry_vk_config *c);
/* Read a YAML file into c (keys as the long flags, '-' or '_'). */
int ferry_vk_config_load(const char *path, struct ferry_vk_config *c, ferry_error_t *err);
/* Set one key (from a flag or the file). -ENOENT for an unknown key. */
int ferry_vk_config_set(struct ferry_vk_config *c, const char *key, const char *value,
                        ferry_error_t *err);
int ferry_vk_config_check(const struct ferry_vk_config *c, ferry_error_t *err);
void ferry_vk_config_clear(struct ferry_vk_config *c);

struct ferry_vk;

int ferry_vk_new(const struct ferry_vk_config *cfg, struct ferry_kube *kube, struct ferry_vk **ret,
                 ferry_error_t *err);
/* Register the Node and Lease, start the informer, workers and loops. */
int ferry_vk_start(struct ferry_vk *vk, ferry_error_t *err);
/* Stop every thread (in reverse order of start). */
void ferry_vk_stop(struct ferry_vk *vk);
/* Async-signal-safe: ask a ferry_vk_start() that is still retrying to give
 * up (it checks at least once a second). */
void ferry_vk_request_stop(struct ferry_vk *vk);
void ferry_vk_free(struct ferry_vk *vk);

/* A new ferryd client for the calling thread. */
int ferry_vk_ferryd(struct ferry_vk *vk, struct ferry_client **ret, ferry_error_t *err);
/* For /containerLogs: the pod's uid (caller frees) or -ENOENT. */
int ferry_vk_pod_uid(struct ferry_vk *vk, const char *ns, const char *name, char **ret_uid);
void ferry_vk_metrics(struct ferry_vk *vk, struct ferry_buf *out);
/* Whether the pod table has this uid. */
bool ferry_vk_pod_known(struct ferry_vk *vk, const char *uid);

/* orphans.c: delete at the site the pods whose API objects are gone and that
 * this node created (see there). Returns how many were deleted, or -errno. */
int ferry_vk_collect_orphans(struct ferry_vk *vk, struct ferry_kube *kube, struct ferry_client *fc,
                             const char *node);
/* Time a ferryd call for /metrics. */
void ferry_vk_account_ferryd(struct ferry_vk *vk, const char *op, int64_t start_ns, bool failed);
bool ferry_vk_healthy(struct ferry_vk *vk);

/* kubelet.c */
struct ferry_kubelet;
int ferry_kubelet_start(struct ferry_vk *vk, const struct ferry_vk_config *cfg,
                        struct ferry_kubelet **ret, ferry_error_t *err);
void ferry_kubelet_stop(struct ferry_kubelet *k);
/* The LogStruct for a /containerLogs query (pure; exported for tests). get
 * returns a query parameter or NULL. *ret_limit_bytes: a byte limit ferry-node
 * applies itself (interLink refuses Tail together with Bytes), 0 = none.
 * -EINVAL with err for bad parameters. */
int ferry_kubelet_logstruct(const char *ns, const char *pod, const char *uid, const char *container,
                            const char *(*get)(void *ctx, const char *key), void *ctx,
                            char **ret_json, int64_t *ret_limit_bytes, ferry_error_t *err);

#endif
