/* SPDX-License-Identifier: MIT */
/*
 * Shared by the files of the ferry-node engine (not installed, not exported):
 * vk.c (pod table, workers, status loop, lifecycle), nodeloop.c (the node
 * loop: /pinglink, Node status, Lease), orphans.c (site pods no API object
 * owns), vkmetrics.c (/metrics) and vkbase.c (stop and sleep, the ferryd
 * client, small helpers).
 *
 * Dependencies run one way: vk.c -> nodeloop.c, orphans.c -> vkbase.c,
 * vkmetrics.c. The loops never call into vk.c; vk.c starts them.
 *
 * Ownership: struct ferry_vk is created and freed by vk.c (ferry_vk_new,
 * ferry_vk_free); the other files borrow it. Its fields follow the locking
 * rules in vk.h: pods, queue and the counters under vk->lock; the node state
 * belongs to the node thread.
 */
#ifndef FERRY_NODE_VK_INTERNAL_H
#define FERRY_NODE_VK_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/client.h"
#include "common/error.h"
#include "common/hashmap.h"
#include "common/histogram.h"
#include "common/util.h"
#include "kube/kube.h"
#include "kube/watch.h"
#include "node/events.h"
#include "node/node.h"
#include "node/vk.h"
#include "podtr/podtr.h"

enum vpod_state {
        VP_NEW,      /* to create (or waiting for its objects) */
        VP_CREATED,  /* ferryd has it; polled */
        VP_DONE,     /* finished: not polled */
        VP_DELETING, /* /delete until the site accepts it */
        /* /delete accepted: polled until the site reports every container
         * terminated (or no longer knows the pod); the API object stays */
        VP_TERMINATING,
        VP_REMOVING, /* final status written: the API object goes (grace 0) */
        VP_GONE,     /* deleted everywhere; waits for the DELETED event */
};

struct vpod {
        char *uid, *ns, *name;
        json_t *pod;    /* latest object from the API */
        json_t *status; /* the status we know is stored */
        char *jid;      /* NULL until known */
        enum vpod_state state;
        bool queued;
        bool busy;        /* a worker is on it: no second worker may be */
        bool patched;     /* status was written by us at least once */
        bool api_deleted; /* the API object is gone: only ferryd's copy remains */
        int64_t first_seen_ns;
        int64_t wait_since_ns; /* waiting for objects since */
        int backoff_ms;
        int misses;
        int64_t term_deadline_ns; /* VP_TERMINATING: give up waiting for the site */
        int64_t grace_sent;       /* VP_TERMINATING: the grace period the site was given */
        char *wait_reason;        /* the message last shown while waiting */
};

struct work {
        char *uid;
        int64_t not_before_ns;
};

/* the size of ferryd_ops in vkmetrics.c */
#define N_OPS 5

struct ferry_vk {
        const struct ferry_vk_config *cfg;
        struct ferry_kube *kube;
        struct ferry_node_params params;

        pthread_mutex_t lock; /* pods, queue, metrics */
        pthread_cond_t work_cv, loop_cv;
        struct ferry_hashmap *pods; /* uid -> struct vpod */
        struct work *queue;
        size_t n_queue, cap_queue;
        bool stopping;
        atomic_bool stop_requested; /* from a signal handler: ferry_vk_request_stop() */

        struct ferry_kube_informer *informer;
        pthread_t *workers;
        int n_workers;
        pthread_t status_thread, node_thread;
        bool status_started, node_started;

        /* node state (node thread) */
        json_t *last_capacity;
        json_t *node_status; /* last published */
        json_t *ping_taints;
        int64_t node_sent_ns;
        char *node_uid;
        atomic_bool site_ok;
        atomic_bool orphan_scan; /* a full list arrived: look for orphans at the site */
        uint64_t orphans_deleted;
        const char *node_transition; /* NodeReady/NodeNotReady to report, or NULL */
        char node_transition_msg[512];

        struct ferry_events *events;

        /* kube-root-ca.crt by namespace: every pod with a service-account volume
         * needs it and it changes only when the cluster CA rotates */
        json_t *rootca; /* ns -> {"obj": ConfigMap, "at": monotonic seconds} */

        /* metrics */
        uint64_t ferryd_errors[N_OPS];       /* under lock */
        struct ferry_hist ferryd_lat[N_OPS]; /* calls: its count */
        uint64_t creates, create_failures, status_patches, deletes, adoptions;
};

/* vk.c */
const char *ferry_vk_sget(const json_t *o, const char *k);
void ferry_vk_now_text(char buf[FERRY_TIME_MAX]);
/* Sleep until the monotonic deadline or until ferry_vk_stop(). */
void ferry_vk_sleep_until(struct ferry_vk *vk, int64_t deadline_mono_ns);
bool ferry_vk_stopping(struct ferry_vk *vk);

/* nodeloop.c */
/* Create (or take over) the Node and write its status. 0 or -errno with err. */
int ferry_vk_register_node(struct ferry_vk *vk, struct ferry_client *fc, ferry_error_t *err);
/* Renew (or create) the node's Lease. 0 or -errno with err. */
int ferry_vk_renew_lease(struct ferry_vk *vk, ferry_error_t *err);
/* The node thread (pthread_create start routine; arg is the struct ferry_vk). */
void *ferry_vk_node_loop(void *arg);

#endif
