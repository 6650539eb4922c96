/* SPDX-License-Identifier: MIT */
/*
 * Site tenancy (issue 11, spec/tenancy.md): the pure part, no I/O, no threads.
 *
 *   config   the `tenancy:` section of ferryd's YAML, checked with file:line
 *            errors (unknown keys, negative quotas, unknown resources, a
 *            duplicate tenant);
 *   vectors  what a pod asks for (cpu milli, memory bytes, pods, GPUs, each
 *            MIG profile), as the scheduler counts it;
 *   ledger   what each tenant holds and its decayed usage: whether a pod fits
 *            its tenant's quota, the dominant share that orders waiting pods.
 *
 * Not wired into ferryd yet: ferryd does not read `tenancy:` until admission
 * enforces it (doc/tenancy.md says what is done).
 */
#ifndef FERRY_TENANCY_H
#define FERRY_TENANCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "common/error.h"
#include "pod/pod.h"

#define FERRY_TN_RES_MAX 24 /* resource kinds: the four fixed ones, then MIG profiles */

enum { FERRY_TN_CPU, FERRY_TN_MEMORY, FERRY_TN_PODS, FERRY_TN_GPU, FERRY_TN_FIXED };

/* One amount per resource kind of a config (index: ferry_tn_res_index).
 * In a quota, -1 is unlimited. */
struct ferry_tn_vec {
        int64_t v[FERRY_TN_RES_MAX];
};

struct ferry_tn_tenant {
        char *name; /* a namespace (or label value), or "*" for every tenant not listed */
        double weight;
        struct ferry_tn_vec quota;
};

struct ferry_tn_config {
        char *label;             /* key: label:NAME; NULL = the namespace */
        int64_t half_life_s;     /* fair_share.half_life, default 24h */
        int64_t lookahead_s;     /* fair_share.lookahead: held counts as this much usage (0) */
        int64_t reserve_after_s; /* a waiting pod reserves after this long (default 10 min) */
        bool has_preempt_below;  /* preemptible_below_priority given: */
        int64_t preempt_below;   /* pods of a lower spec.priority are preemptible */
        size_t n_res;
        char *res[FERRY_TN_RES_MAX]; /* "cpu", "memory", "pods", "nvidia.com/gpu", MIG profiles */
        size_t n_tenants;
        struct ferry_tn_tenant *tenants;
};

/* The `tenancy:` mapping node of a YAML document (path for messages). */
int ferry_tn_config_from_node(yaml_document_t *doc, yaml_node_t *node, const char *path,
                              struct ferry_tn_config **ret, ferry_error_t *err);
/* The `tenancy:` section of a whole ferryd YAML text; -ENOENT when it has none. */
int ferry_tn_config_parse(const char *text, size_t len, const char *path,
                          struct ferry_tn_config **ret, ferry_error_t *err);
void ferry_tn_config_free(struct ferry_tn_config *c);

/* The index of a resource name in c, or -1 when tenancy does not count it:
 * the four fixed ones, and the MIG profiles some quota names (one no quota
 * names is unlimited for every tenant, so nobody needs to count it). */
int ferry_tn_res_index(const struct ferry_tn_config *c, const char *name);

/* The tenant a pod belongs to: its namespace, or the value of the label
 * (pods without it: "default"). */
const char *ferry_tn_tenant_of(const struct ferry_tn_config *c, const struct ferry_pod *pod);
/* The tenant's entry: by name, else "*", else NULL (unlimited, weight 1). */
const struct ferry_tn_tenant *ferry_tn_find(const struct ferry_tn_config *c, const char *name);

/* What a pod holds while it runs, as the scheduler counts it: per resource
 * the larger of the sum over its containers and the largest init container,
 * requests where set, else limits; pods = 1. Resources c does not count
 * (ephemeral-storage, unknown extended ones) are left out. */
void ferry_tn_pod_request(const struct ferry_tn_config *c, const struct ferry_pod *pod,
                          struct ferry_tn_vec *ret);

/* Whether req fits quota with held already taken: -1 when it does, else the
 * index of the first resource it would pass. */
int ferry_tn_over(const struct ferry_tn_config *c, const struct ferry_tn_vec *quota,
                  const struct ferry_tn_vec *held, const struct ferry_tn_vec *req);

/* "cpu 2 of 4 held, 3 asked" in the units a user writes (cpu in cores or
 * m, memory in Mi/Gi), for messages. */
void ferry_tn_describe(const struct ferry_tn_config *c, int res, int64_t amount, char *buf,
                       size_t size);

/* Usage decays with the half-life: usage' = usage * 2^(-dt/half_life)
 * + held * dt (resource-seconds). */
void ferry_tn_decay(const struct ferry_tn_config *c, double usage[FERRY_TN_RES_MAX],
                    const struct ferry_tn_vec *held, double dt_s);
/* max over resources of usage / capacity, divided by the weight; resources
 * the site has none of are left out. */
double ferry_tn_dominant_share(const struct ferry_tn_config *c,
                               const double usage[FERRY_TN_RES_MAX],
                               const struct ferry_tn_vec *capacity, double weight);

/* Whether a pod is preemptible: annotation ferry.io/preemptible "true", or a
 * priority below preemptible_below_priority. */
bool ferry_tn_preemptible(const struct ferry_tn_config *c, const struct ferry_pod *pod);

/* ---- the admission round (spec/tenancy.md "Order among waiting pods",
 * "Preemptible pods") ----
 *
 * The caller (src/daemon/admit.c) holds the state; ferry_tn_plan decides,
 * without I/O, which waiting pods start now, which wait and why, and which
 * running preemptible pods to stop. Quota counts a tenant's guaranteed
 * (non-preemptible) pods; the site's capacity counts every admitted pod. */

struct ferry_tn_tstate {
        const char *name;
        double weight;
        const struct ferry_tn_vec *quota; /* NULL: unlimited */
        struct ferry_tn_vec held;         /* every admitted, unfinished pod */
        struct ferry_tn_vec held_g;       /* of them the guaranteed ones: what quota limits */
        double usage[FERRY_TN_RES_MAX];   /* decayed resource-seconds (ferry_tn_decay) */
};

enum ferry_tn_verdict {
        FERRY_TN_ADMIT,      /* start it: its request was added to its tenant's held */
        FERRY_TN_WAIT_QUOTA, /* res: the quota it would pass */
        FERRY_TN_WAIT_SITE,  /* res: the site resource it lacks */
};

struct ferry_tn_wait {
        /* in */
        size_t tenant; /* index into the tenant array */
        struct ferry_tn_vec req;
        int64_t priority;
        bool preemptible;
        int64_t created_ns;
        bool reserved_in; /* it reserved in an earlier round (it preempted): it goes first */
        /* out */
        int verdict; /* enum ferry_tn_verdict */
        int res;
        bool reserves; /* waits holding a reservation: others do not backfill past it */
        bool preempts; /* some running pods are stopped for it (their victim_for) */
};

struct ferry_tn_run {
        /* in: an admitted, unfinished pod */
        size_t tenant;
        struct ferry_tn_vec req;
        bool preemptible;
        bool releasing; /* being stopped: what it holds comes back soon */
        int64_t started_ns;
        long claimed_by; /* releasing: the waiting pod it was stopped for, or -1 */
        /* out: the index of the waiting pod it is stopped for in this round, or -1 */
        long victim_for;
};

/* One round. capacity: the site's total per resource, -1 where unknown (then
 * only quotas limit it). now_ns: the clock of created_ns (for reserve_after).
 * Admitted pods' requests are added to t[].held (and held_g); victims are
 * marked releasing. Returns the number admitted. */
size_t ferry_tn_plan(const struct ferry_tn_config *c, struct ferry_tn_tstate *t, size_t nt,
                     struct ferry_tn_wait *w, size_t nw, struct ferry_tn_run *run, size_t nr,
                     const struct ferry_tn_vec *capacity, int64_t now_ns);

/* The waiting reason a verdict shows: "QuotaExceeded", "InsufficientCpu",
 * "InsufficientMemory", "InsufficientPods", "GPUUnavailable". */
const char *ferry_tn_reason(int verdict, int res);

#endif
