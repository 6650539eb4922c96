/* SPDX-License-Identifier: MIT */
/*
 * libferry-kube: a small Kubernetes API client over libcurl + jansson.
 *
 * - Credentials: kubeconfig (server, certificate-authority[-data],
 *   client-certificate[-data], client-key[-data], token, tokenFile,
 *   insecure-skip-tls-verify) or in-cluster service-account files
 *   (kubeconfig.h).
 * - Requests: ferry_kube_request() and thin verbs (get/create/put/merge
 *   patch/delete). A token bucket (qps/burst, defaults 100/200, far above
 *   client-go's 5/10) paces every request, watches included.
 * - List + watch: struct ferry_kube_informer (watch.h) keeps a list+watch
 *   loop running: paged list, watch from its resourceVersion with bookmarks,
 *   relist on 410 Gone, reconnect with exponential backoff.
 *
 * Errors of the verbs (0 ok, else -errno with err filled):
 *   -ECONNREFUSED / -ETIMEDOUT  the API server cannot be reached
 *   an HTTP answer: its status through the one table of common/error.h
 *   (ferry_error_from_http): -EINVAL 400, -EKEYREJECTED 401, -EACCES 403,
 *   -ENOENT 404, -EEXIST 409 (AlreadyExists or Conflict), -ESTALE 410,
 *   -EOPNOTSUPP 422 (Invalid), -EUSERS 429, -EIO 500, -EAGAIN 503,
 *   -ETIMEDOUT 504; ferry_error_transient() says whether to retry.
 *
 * Threading: a struct ferry_kube is safe to use from many threads at once
 * (a pool of curl handles, one per concurrent request).
 * Ownership: json_t answers returned through ret_ belong to the caller.
 */
#ifndef FERRY_KUBE_H
#define FERRY_KUBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/histogram.h"
#include "common/util.h"
#include "kube/kubeconfig.h"

struct ferry_kube;

struct ferry_kube_options {
        double qps;    /* <= 0: default 100 */
        int burst;     /* <= 0: default 200 */
        int timeout_s; /* per non-watch request; <= 0: default 30 */
        const char *user_agent;
};

/* Answers larger than this are refused (-E2BIG). */
#define FERRY_KUBE_MAX_ANSWER (512u << 20)

int ferry_kube_new(const struct ferry_kube_config *cfg, const struct ferry_kube_options *opt,
                   struct ferry_kube **ret, ferry_error_t *err);
void ferry_kube_free(struct ferry_kube *k);
const char *ferry_kube_server(const struct ferry_kube *k);

/* One exchange. path starts with '/' and may carry a query. body may be NULL.
 * Returns 0 when an HTTP answer came (whatever its code) with *ret_code set and
 * *ret_body the parsed JSON answer (NULL when not JSON); -errno on transport
 * errors. */
int ferry_kube_request(struct ferry_kube *k, const char *method, const char *path,
                       const char *content_type, const char *body, long *ret_code,
                       json_t **ret_body, ferry_error_t *err);

/* Verbs: 0 on 2xx (ret may be NULL), else -errno (see above) with the API
 * server's Status message in err. */
int ferry_kube_get(struct ferry_kube *k, const char *path, json_t **ret, ferry_error_t *err);
int ferry_kube_create(struct ferry_kube *k, const char *path, const json_t *obj, json_t **ret,
                      ferry_error_t *err);
int ferry_kube_put(struct ferry_kube *k, const char *path, const json_t *obj, json_t **ret,
                   ferry_error_t *err);
int ferry_kube_merge_patch(struct ferry_kube *k, const char *path, const json_t *patch,
                           json_t **ret, ferry_error_t *err);
/* body may be NULL (e.g. {"gracePeriodSeconds":0} as DeleteOptions). */
int ferry_kube_delete(struct ferry_kube *k, const char *path, const json_t *body,
                      ferry_error_t *err);

/* Percent-encode s for a query value into a fresh string. */
char *ferry_kube_query_escape(const char *s);

/* ---- rate limiter (exported for tests) ---- */
struct ferry_kube_bucket {
        double qps, burst, tokens;
        int64_t last_ns;
};
void ferry_kube_bucket_init(struct ferry_kube_bucket *b, double qps, double burst, int64_t now_ns);
/* Take one token at now_ns; returns how many ns the caller must wait first
 * (0 when a token was available). The token is taken either way. */
int64_t ferry_kube_bucket_take(struct ferry_kube_bucket *b, int64_t now_ns);

/* ---- statistics, for /metrics ---- */
struct ferry_kube_stats {
        struct ferry_hist lat[6]; /* by verb: GET POST PUT PATCH DELETE WATCH (count = requests) */
        uint64_t errors;          /* transport errors and 5xx (under the client's lock) */
        uint64_t throttled_ns;    /* time spent waiting for the limiter (same) */
};
extern const char *const ferry_kube_verb_names[6];
/* Append Prometheus text: ferry_kube_requests_total, ferry_kube_request_duration_seconds. */
void ferry_kube_metrics(struct ferry_kube *k, struct ferry_buf *out);

/* internal to libferry-kube (watch.c) */
int ferry_kube_stream_(struct ferry_kube *k, const char *path, int timeout_s,
                       int (*on_line)(void *ctx, const char *line, size_t len),
                       bool (*stop)(void *ctx), void *ctx, long *ret_code, json_t **ret_body,
                       ferry_error_t *err);

#endif
