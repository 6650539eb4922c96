/* SPDX-License-Identifier: MIT */
/*
 * The identity of each pod in a /status request without building the pods.
 *
 * The wire type of /status is an array of v1.Pod: a virtual kubelet sends
 * whole pod objects (spec, status, managed fields: kilobytes each) when only
 * metadata.uid, .namespace and .name matter. This scanner validates the whole
 * body as JSON (the same grammar jansson accepts, nesting bounded) and hands
 * back those three strings per element, skipping everything else without
 * allocating, and without needing the whole body at once.
 */
#ifndef FERRY_POD_IDENT_H
#define FERRY_POD_IDENT_H

#include <stddef.h>

#include "common/error.h"

#define FERRY_IDENT_MAX 256 /* longer uid/namespace/name values are refused */

struct ferry_pod_ident {
        /* "" when absent (or null); namespace defaults to "default" */
        char uid[FERRY_IDENT_MAX];
        char ns[FERRY_IDENT_MAX];
        char name[FERRY_IDENT_MAX];
};

/* body must be a JSON array (or null, read as []) of objects. Calls cb for
 * each element in order; a negative return from cb stops the scan and is
 * returned. -EINVAL with a sentence for malformed JSON, a non-array, a
 * non-object element or an element without metadata.uid; -E2BIG when the
 * nesting is deeper than max_depth. Returns the number of elements. */
int ferry_pod_idents_scan(const char *body, size_t len, size_t max_depth,
                          int (*cb)(void *ctx, size_t i, const struct ferry_pod_ident *id),
                          void *ctx, ferry_error_t *err);

/* The same scan over a body that arrives in pieces (an HTTP upload), without
 * keeping it: cb is called as each element completes, so elements before a
 * malformed one may have been handed over when the scan fails. err receives
 * the first error and must outlive the stream. feed returns 0 or the first
 * error (every later call returns it too); end returns what
 * ferry_pod_idents_scan would have returned for the whole body. */
struct ferry_pod_idents_stream;
struct ferry_pod_idents_stream *
ferry_pod_idents_stream_new(size_t max_depth,
                            int (*cb)(void *ctx, size_t i, const struct ferry_pod_ident *id),
                            void *ctx, ferry_error_t *err);
int ferry_pod_idents_stream_feed(struct ferry_pod_idents_stream *st, const char *data, size_t n);
int ferry_pod_idents_stream_end(struct ferry_pod_idents_stream *st);
void ferry_pod_idents_stream_free(struct ferry_pod_idents_stream *st);

#endif
