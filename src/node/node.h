/* SPDX-License-Identifier: MIT */
/*
 * ferry-node's pure parts (no I/O), linked by ferry-node and by the tests.
 * (The PodCreateRequests of a pod come from libferry-podtr, src/podtr/, the
 * translator ferry-node shares with `ferry run`.)
 *
 *   podstatus.c  ferryd PodStatus -> Kubernetes pod status (phase,
 *                conditions, container statuses) and the merge patch that
 *                takes the stored status to the new one (NULL: no change).
 *   nodeobj.c    the Node object and its status from the last /pinglink.
 *
 * Ownership: every json_t returned is a new reference owned by the caller;
 * json_t arguments are borrowed.
 */
#ifndef FERRY_NODE_H
#define FERRY_NODE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

/* ---- podstatus.c ---- */

/* The Kubernetes pod status for pod given ferryd's PodStatus ps (NULL: not
 * known yet -> Pending, containers Waiting/ContainerCreating). Transition
 * times and startTime are kept from pod.status when nothing changed; now is
 * RFC 3339. */
json_t *ferry_node_pod_status(const json_t *pod, const json_t *ps, const char *now);
/* The status of a pod that waits for something before it can be created
 * (reason e.g. CreateContainerConfigError) or failed before it ran (phase
 * "Failed", reason ProviderFailed): containers Waiting with that reason. */
json_t *ferry_node_pod_status_local(const json_t *pod, const char *phase, const char *reason,
                                    const char *message, const char *now);
/* The final status of a pod whose deletion the site finished: ps is the site's
 * last PodStatus, or NULL when the site no longer knows the pod (then the
 * container states in pod.status are used). Every container without a
 * terminated state becomes terminated with exit code 137 and reason
 * ContainerStatusUnknown, as the kubelet writes them; phase Succeeded when
 * every container exited 0, else Failed. */
json_t *ferry_node_pod_status_final(const json_t *pod, const json_t *ps, const char *now);
/* The merge patch {"status": {...}} that turns old into new (keys old has and
 * new lacks become null), or NULL when they are equal. old may be NULL. */
json_t *ferry_node_status_patch(const json_t *old_status, const json_t *new_status);
/* The pod phase of a status object ("" when none). */
const char *ferry_node_status_phase(const json_t *status);

/* ---- nodeobj.c ---- */

struct ferry_node_params {
        const char *name;
        const char *internal_ip;
        int kubelet_port;
        const json_t *labels; /* extra labels (object) or NULL */
        const json_t *taints; /* configured taints (array); NULL = the default taint */
        const char *version;  /* kubeletVersion */
};

/* The Node object to create: metadata (labels), spec (taints), status. */
json_t *ferry_node_object(const struct ferry_node_params *p, const json_t *status,
                          const json_t *ping_taints);
/* spec.taints: the configured taints plus those of the PingResponse
 * (ping_taints may be NULL). */
json_t *ferry_node_taints(const struct ferry_node_params *p, const json_t *ping_taints);

struct ferry_node_ping {
        bool reachable;    /* an HTTP answer came */
        long code;         /* its status */
        const char *body;  /* PingResponse or NULL/"" */
        const char *error; /* why not reachable, or NULL */
};

/* Node status from a ping. last_capacity (may be NULL) is kept for resources
 * the site reports as zero or omits: such a site gets condition SiteCapacity
 * False/NoCapacityReported with a message instead of silently draining.
 * prev_conditions (may be NULL) keeps lastTransitionTime stable.
 * *ret_ping_taints: the PingResponse's taints (NULL when absent). */
json_t *ferry_node_status(const struct ferry_node_params *p, const struct ferry_node_ping *ping,
                          const json_t *last_capacity, const json_t *prev_conditions,
                          const char *now, json_t **ret_ping_taints);

/* Defaults when a site has never reported anything (the upstream VK's). */
#define FERRY_NODE_DEFAULT_CPU "100"
#define FERRY_NODE_DEFAULT_MEMORY "3000G"
#define FERRY_NODE_DEFAULT_PODS "10000"

#endif
