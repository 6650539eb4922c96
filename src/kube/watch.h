/* SPDX-License-Identifier: MIT */
/*
 * An informer: a thread that keeps a list + watch of one collection going.
 *
 *   list (paged, limit 500) -> on_sync(all items)           (after start, 410, errors)
 *   watch?resourceVersion=RV&allowWatchBookmarks=true        (one stream)
 *     ADDED / MODIFIED / DELETED -> on_event(type, object)
 *     BOOKMARK -> only RV moves on
 *     ERROR 410 (Gone: RV too old) -> relist
 *   stream ended (server timeout) -> watch again from the last RV
 *   transport error -> backoff (200 ms doubling to 30 s, reset by a good
 *   stream) and watch again; after 5 failures in a row, relist.
 *
 * Callbacks run on the informer thread, one at a time; they borrow the JSON.
 * on_sync gets every current item: the handler treats what it knew but does
 * not see there as deleted.
 */
#ifndef FERRY_KUBE_WATCH_H
#define FERRY_KUBE_WATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "kube/kube.h"

struct ferry_kube_informer;

struct ferry_kube_informer_ops {
        void (*on_sync)(void *ctx, json_t *items);
        void (*on_event)(void *ctx, const char *type, json_t *obj);
};

/* path: the collection, e.g. "/api/v1/pods"; selector: a fieldSelector
 * (e.g. "spec.nodeName=n1") or NULL. Starts the thread. */
int ferry_kube_informer_start(struct ferry_kube *k, const char *path, const char *field_selector,
                              const struct ferry_kube_informer_ops *ops, void *ctx,
                              struct ferry_kube_informer **ret, ferry_error_t *err);
/* Stop the thread (aborts the stream within ~1 s) and free. */
void ferry_kube_informer_stop(struct ferry_kube_informer *inf);
/* True once the first list has been delivered. */
bool ferry_kube_informer_synced(struct ferry_kube_informer *inf);
/* Watch streams (re)opened after the first, and lists after the first. */
uint64_t ferry_kube_informer_restarts(struct ferry_kube_informer *inf);
uint64_t ferry_kube_informer_relists(struct ferry_kube_informer *inf);

/* Pure parser of one watch event line (exported for tests): *ret_type points
 * into the event, *ret_obj is borrowed from *ret_event (decref that). */
int ferry_kube_watch_parse(const char *line, size_t len, json_t **ret_event, const char **ret_type,
                           json_t **ret_obj, ferry_error_t *err);

#endif
