/* SPDX-License-Identifier: MIT */
/*
 * Kubernetes Events (core/v1) as the kubelet's recorder writes them, with
 * client-go's correlation: an occurrence with the same involved object, type
 * and reason as one written within the window (10 min) updates that Event
 * (count + 1, lastTimestamp, the latest message) instead of creating a new
 * one, so a flapping site cannot flood the API.
 *
 *   ferry_events_emit()   never blocks and never calls the API: it records
 *                         the occurrence in a bounded pending table, where
 *                         repeats of one key merge (a key is written at most
 *                         once per flush); beyond FERRY_EVENTS_MAX_PENDING
 *                         keys new occurrences are dropped and counted.
 *   ferry_events_flush()  writes what is pending: POST for a new key, merge
 *                         PATCH {count, lastTimestamp, message} for a known
 *                         one (a PATCH answered 404, e.g. the Event expired,
 *                         creates a new Event). Every request goes through
 *                         the ferry_kube client, so its token bucket paces
 *                         them. A thread started by ferry_events_start()
 *                         flushes every second.
 *
 * Ownership: the recorder borrows kube; json_t arguments are borrowed;
 * returned json_t references belong to the caller.
 * Threading: emit may be called from any thread; flush from one at a time.
 */
#ifndef FERRY_NODE_EVENTS_H
#define FERRY_NODE_EVENTS_H

#include <jansson.h>
#include <stdint.h>

#include "common/error.h"
#include "common/util.h"
#include "kube/kube.h"

#define FERRY_EVENTS_WINDOW_S 600
#define FERRY_EVENTS_MAX_PENDING 1024
#define FERRY_EVENTS_MAX_CACHE 4096
#define FERRY_EVENTS_MAX_MESSAGE 1024 /* the API refuses more than 1 KiB */

struct ferry_events;

/* How the recorder writes: method "POST" (path = the namespace's events
 * collection) or "PATCH" (path = the Event, obj = a merge patch). Returns 0 or
 * -errno like the ferry_kube verbs. NULL in ferry_events_new: kube is used. */
typedef int (*ferry_events_write_fn)(void *ctx, const char *method, const char *path,
                                     const json_t *obj, ferry_error_t *err);

struct ferry_events *ferry_events_new(struct ferry_kube *kube, const char *component,
                                      const char *host);
/* For tests: write through fn instead of the API. */
void ferry_events_set_writer(struct ferry_events *ev, ferry_events_write_fn fn, void *ctx);
int ferry_events_start(struct ferry_events *ev, ferry_error_t *err);
/* Flush what is pending, then stop the thread. */
void ferry_events_stop(struct ferry_events *ev);
void ferry_events_free(struct ferry_events *ev);

/* Record one occurrence. ref is an involvedObject (see below); type "Normal"
 * or "Warning". The message is cut at FERRY_EVENTS_MAX_MESSAGE bytes. */
void ferry_events_emit(struct ferry_events *ev, const json_t *ref, const char *type,
                       const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Same, with an explicit time (tests). */
void ferry_events_emit_at(struct ferry_events *ev, int64_t now_ns, const json_t *ref,
                          const char *type, const char *reason, const char *message);
/* Write what is pending as of now_ns (realtime). Returns the number of API
 * writes made. */
int ferry_events_flush(struct ferry_events *ev, int64_t now_ns);

/* involvedObject of a pod (kind, namespace, name, uid, apiVersion,
 * resourceVersion) and of a node (uid may be NULL: the kubelet then uses the
 * node's name, as it does). */
json_t *ferry_events_pod_ref(const json_t *pod);
json_t *ferry_events_node_ref(const char *name, const char *uid);

/* Counters for /metrics. */
struct ferry_events_stats {
        uint64_t created, updated, dropped, failed;
};
void ferry_events_stats(struct ferry_events *ev, struct ferry_events_stats *ret);

#endif
