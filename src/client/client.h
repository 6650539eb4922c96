/* SPDX-License-Identifier: MIT */
/*
 * libferry-client: an interLink hop-A HTTP client (libcurl + jansson), used by
 * the `ferry` CLI and usable by anything that wants to talk to ferryd or an
 * upstream interLink API server.
 *
 * Addressing: "unix:///path/to.sock" (HTTP over a unix socket, Host "unix"),
 * "http://host:port" or "https://host:port" (an optional path prefix is kept).
 * A bare absolute path is taken as a unix socket.
 *
 * Every call sends Content-Type: application/json, InterLink-Http-Session:
 * <Verb>#<n>, and Authorization: Bearer <token> when a token file was given.
 * The token file is checked (stat) before each request and read again when it
 * changed (inode, size or mtime), so a rotated token is used without a restart.
 *
 * Errors (all calls return 0 or -errno and fill err with one sentence):
 *   -ECONNREFUSED  the server cannot be reached (refused, no such socket,
 *                  unknown host): ferry_client_unreachable() is true
 *   -ETIMEDOUT     no answer in time
 *   -ECONNRESET    the connection broke mid-exchange
 *   any other non-200 answer: its status through the one table of
 *                  common/error.h (400 -EINVAL, 401 -EKEYREJECTED, 403 -EACCES,
 *                  404 -ENOENT, 409 -EEXIST, 413 -E2BIG, 422 -EOPNOTSUPP,
 *                  429 -EUSERS, 500 -EIO, 502 -EHOSTUNREACH, 503 -EAGAIN,
 *                  504 -ETIMEDOUT, others -EIO/-EREMOTEIO); the text includes
 *                  the server's message (the "error" of a JSON body, else the
 *                  plain text). ferry_error_transient() says whether a retry
 *                  may succeed.
 *   -EPROTO        a 200 answer we cannot understand
 * ferry_client_last_http_code() gives the last HTTP status (0 if none).
 *
 * Ownership: the client owns its curl handle and token; strings and JSON
 * returned through ret_ parameters belong to the caller (free()/json_decref()).
 * One client is used by one thread at a time.
 */
#ifndef FERRY_CLIENT_H
#define FERRY_CLIENT_H

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

struct ferry_client;

/* Bytes larger than this in a non-streamed answer are refused (-E2BIG). */
#define FERRY_CLIENT_MAX_ANSWER (256u << 20)
/* Token files larger than this are refused. */
#define FERRY_CLIENT_MAX_TOKEN 4096

int ferry_client_new(const char *url, const char *token_file, struct ferry_client **ret,
                     ferry_error_t *err);
void ferry_client_free(struct ferry_client *c);
/* Print one line per exchange ("> POST /create", "< 200 (12 bytes)") to stderr. */
void ferry_client_set_verbose(struct ferry_client *c, bool verbose);
const char *ferry_client_url(const struct ferry_client *c);
/* Trust the CA certificates in this PEM file for https:// servers instead of
 * the system's (NULL or "" goes back to the system's). */
void ferry_client_set_ca_file(struct ferry_client *c, const char *ca_file);
long ferry_client_last_http_code(const struct ferry_client *c);

static inline bool ferry_client_unreachable(int r)
{
        return r == -ECONNREFUSED || r == -ETIMEDOUT;
}

/* POST /create with a PodCreateRequests body; returns CreateStruct's fields. */
int ferry_client_create(struct ferry_client *c, const char *json_body, char **ret_uid,
                        char **ret_jid, ferry_error_t *err);
/* GET /status with a JSON array of pods (NULL or "" sends "[]": every pod the
 * server knows, a ferryd extension). *ret is the answer, always an array. */
int ferry_client_status(struct ferry_client *c, const char *pods_json, json_t **ret,
                        ferry_error_t *err);

/* Called for each chunk of log bytes as it arrives; return < 0 to stop (that
 * value is returned by ferry_client_logs). */
typedef int (*ferry_client_write_fn)(void *ctx, const char *data, size_t len);
/* GET /getLogs with a LogStruct body; streams the answer (Opts.Follow keeps the
 * stream open until the container ends). No overall timeout. */
int ferry_client_logs(struct ferry_client *c, const char *logstruct_json,
                      ferry_client_write_fn write_cb, void *ctx, ferry_error_t *err);
/* DELETE /delete with a Pod body. */
int ferry_client_delete(struct ferry_client *c, const char *pod_json, ferry_error_t *err);
/* ferryd's /jobs (not part of the interLink API): method POST creates
 * ({"job", "request"}), GET lists ({"namespace", "name"}, each optional),
 * DELETE deletes ({"namespace", "name"}). *ret (may be NULL) is the JSON
 * answer: the Job, the array of Jobs, or {"deleted": true}. */
int ferry_client_jobs(struct ferry_client *c, const char *method, const char *json_body,
                      json_t **ret, ferry_error_t *err);
/* GET /usage?QUERY (ferryd's usage ledger): the answer's body as it is
 * (JSON, CSV, a table or JSON Lines, per the query). */
int ferry_client_usage(struct ferry_client *c, const char *query, char **ret_body,
                       ferry_error_t *err);
/* GET /tenants (ferryd's site tenancy, not part of the interLink API). */
int ferry_client_tenants(struct ferry_client *c, json_t **ret, ferry_error_t *err);
/* POST /pinglink. Any HTTP answer is a success of the call: *ret_code is its
 * status and *ret_body its body (may be ""). Fails only when unreachable. */
int ferry_client_ping(struct ferry_client *c, char **ret_body, long *ret_code, ferry_error_t *err);

/* ---- pure helpers (no I/O), exported for the CLI and the tests ---- */

enum ferry_client_scheme { FERRY_CLIENT_UNIX, FERRY_CLIENT_HTTP, FERRY_CLIENT_HTTPS };

struct ferry_client_url {
        enum ferry_client_scheme scheme;
        char *socket_path; /* unix only, else NULL */
        char *base;        /* "http://unix" or "http(s)://host:port[/prefix]", no trailing '/' */
};
int ferry_client_parse_url(const char *url, struct ferry_client_url *ret, ferry_error_t *err);
void ferry_client_url_clear(struct ferry_client_url *u);

/* Turn a non-200 answer into one line: the "error" (and "reason") of a JSON
 * body, else the plain text trimmed and cut to fit. */
void ferry_client_error_text(const char *body, size_t len, char *out, size_t out_size);

/* Phase of one interLink PodStatus: the "phase" field when the server sends
 * one (ferryd does), else derived from container states like the Virtual
 * Kubelet: a failed init container -> Failed; all containers terminated ->
 * Succeeded if all exited 0, else Failed; any started -> Running; else Pending.
 * Returns a static string. */
const char *ferry_client_pod_phase(const json_t *pod_status);
/* True for Succeeded and Failed. */
bool ferry_client_phase_done(const char *phase);

#endif
