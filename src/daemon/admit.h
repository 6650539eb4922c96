/* SPDX-License-Identifier: MIT */
/*
 * Site admission (issue 11, spec/tenancy.md): ferryd's tenancy state between
 * the API and the backend. The decisions are src/tenancy's (pure); this keeps
 * what they run on: the tenants met so far with what they hold and their
 * decayed usage, the site's capacity, the counters shown by `ferry tenants`
 * and /metrics.
 *
 * Threading: none of its own. The daemon calls in with its table lock held
 * (for writing where anything changes), so that what tenants hold and the
 * pods' records change together.
 */
#ifndef FERRY_ADMIT_H
#define FERRY_ADMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"
#include "common/util.h"
#include "daemon.h"
#include "tenancy/tenancy.h"

struct ferry_admit;

/* What admission keeps for each live pod (NULL while tenancy is off). */
struct ferry_admit_pod {
        uint32_t tenant; /* index in the tenant table */
        unsigned gen;    /* the config generation req was computed with */
        bool preemptible;
        bool holds;         /* its request counts in its tenant's held */
        bool reserved;      /* it stopped pods to make room: it goes first */
        bool preempted;     /* it is stopped for another pod (preempted_for) */
        bool client_delete; /* its owner asked to delete it too */
        int shown;          /* the verdict its waiting reason shows, + 1 (0: none yet) */
        int64_t priority;
        int64_t admitted_ns;               /* wall clock; "youngest first" among victims */
        char preempted_for[FERRY_UID_MAX]; /* the uid of the pod it makes room for */
        char preempted_name[256];          /* and its namespace/name */
        struct ferry_tn_vec req;
};

/* c is taken over (NULL: tenancy off, every call below does nothing). */
struct ferry_admit *ferry_admit_new(struct ferry_tn_config *c);
void ferry_admit_free(struct ferry_admit *a);
bool ferry_admit_on(const struct ferry_admit *a);
/* Replace the config (SIGHUP; c taken over, NULL turns tenancy off). Tenants
 * keep their usage; held is zeroed: the caller computes the pods' records
 * again (their gen changed) and holds what they hold. */
void ferry_admit_set_config(struct ferry_admit *a, struct ferry_tn_config *c);
unsigned ferry_admit_gen(const struct ferry_admit *a);

/* A pod's record from its spec. */
struct ferry_admit_pod *ferry_admit_pod_new(struct ferry_admit *a, const struct ferry_pod *pod);
/* -EOPNOTSUPP (422) naming the resource when the pod can never start: it asks
 * more than its tenant's quota (a guaranteed pod) or the whole site. */
int ferry_admit_never(const struct ferry_admit *a, const struct ferry_admit_pod *ap,
                      ferry_error_t *err);
/* The resource a guaranteed pod would pass its tenant's quota by, or -1. */
int ferry_admit_over_quota(const struct ferry_admit *a, const struct ferry_admit_pod *ap);
void ferry_admit_hold(struct ferry_admit *a, struct ferry_admit_pod *ap);
void ferry_admit_release(struct ferry_admit *a, struct ferry_admit_pod *ap);

/* The site's totals from the backend's capacity; due: whether to ask again. */
void ferry_admit_set_capacity(struct ferry_admit *a, const struct ferry_capacity *cap);
bool ferry_admit_capacity_due(const struct ferry_admit *a, int64_t now_mono_ns);
/* Decay usage and add what tenants held since the last tick. */
void ferry_admit_tick(struct ferry_admit *a, int64_t now_mono_ns);

/* One round over the waiting pods w and the admitted ones run (tenant
 * indexes from the records): ferry_tn_plan with the tenant table, then the
 * waiting counts by reason (round: all waiting pods are in w, the counts
 * start again; else they are added to). Returns how many were admitted. */
size_t ferry_admit_plan(struct ferry_admit *a, struct ferry_tn_wait *w, size_t nw,
                        struct ferry_tn_run *run, size_t nr, int64_t now_ns, bool round);
/* Fill the ferry_tn_wait / ferry_tn_run of a record. */
void ferry_admit_wait_of(const struct ferry_admit_pod *ap, int64_t created_ns,
                         struct ferry_tn_wait *w);
void ferry_admit_run_of(const struct ferry_admit_pod *ap, bool releasing, struct ferry_tn_run *r);
/* The waiting message of a verdict, e.g. "tenant physics would pass its
 * nvidia.com/gpu quota: 4 held of 4, this pod asks 1". */
void ferry_admit_message(const struct ferry_admit *a, const struct ferry_tn_wait *w, char *buf,
                         size_t size);
void ferry_admit_count_preemption(struct ferry_admit *a, uint32_t tenant);
/* A round took ns with the table locked and admitted that many pods. */
void ferry_admit_observe_round(struct ferry_admit *a, int64_t ns, size_t admitted);
/* A pod admitted at /create, without a round. */
void ferry_admit_count_admitted(struct ferry_admit *a);
const char *ferry_admit_tenant_name(const struct ferry_admit *a, uint32_t tenant);

/* Decayed usage outlives a restart: saved as JSON in the store now and then,
 * loaded at start-up (decayed for the time ferryd was away). */
char *ferry_admit_usage_save(const struct ferry_admit *a, int64_t now_wall_ns);
void ferry_admit_usage_load(struct ferry_admit *a, const char *json, int64_t now_wall_ns);

/* What the site will admit: cap's free amounts capped by the totals less
 * what admitted pods hold. */
void ferry_admit_limit_capacity(const struct ferry_admit *a, struct ferry_capacity *cap);
/* GET /tenants: {"tenants": [...], "capacity": {...}}; az limits the tenants
 * shown to the caller's namespaces (with key: label:..., only an
 * unrestricted caller sees any). */
void ferry_admit_json(const struct ferry_admit *a, const struct ferry_authz *az,
                      struct ferry_buf *out);
void ferry_admit_metrics(const struct ferry_admit *a, struct ferry_buf *out);

#endif
