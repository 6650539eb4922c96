/* SPDX-License-Identifier: MIT */
/*
 * Probes and lifecycle hooks of a container (issue 16): the pod model's part
 * (parse, free, canonical JSON). ferry-shim runs them (src/shim/probe.c); the
 * JSON written here is what it reads, and what the golden files show.
 *
 *   handler: {"kind": "exec", "argv": [...]}
 *          | {"kind": "http", "host": H|null, "port": N, "path": P, "https": B,
 *             "headers": [[name, value], ...]}
 *          | {"kind": "tcp", "host": H|null, "port": N}
 *          | {"kind": "sleep", "seconds": N}
 *   probe:   handler + "initial_delay_s", "period_s", "timeout_s",
 *            "failure_threshold", "success_threshold"
 *   all:     {"startup": probe, "liveness": probe, "readiness": probe,
 *             "post_start": handler, "pre_stop": handler} (each only when set)
 *
 * Named ports (httpGet.port: "http") are resolved here against the
 * container's ports, so the shim sees numbers only.
 */
#ifndef FERRY_POD_PROBE_H
#define FERRY_POD_PROBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/util.h"

enum ferry_handler_kind { FERRY_H_NONE, FERRY_H_EXEC, FERRY_H_HTTP, FERRY_H_TCP, FERRY_H_SLEEP };

struct ferry_handler {
        enum ferry_handler_kind kind;
        char **argv; /* exec, NULL-terminated */
        size_t n_argv;
        char *host; /* http/tcp; NULL = the pod itself */
        int port;
        char *path; /* http */
        bool https;
        char **headers; /* http: name, value, name, value, ... */
        size_t n_headers;
        int64_t seconds; /* sleep */
};

struct ferry_probe {
        struct ferry_handler h; /* kind NONE: no probe */
        int64_t initial_delay_s, period_s, timeout_s, failure_threshold, success_threshold;
};

enum { FERRY_PROBE_STARTUP, FERRY_PROBE_LIVENESS, FERRY_PROBE_READINESS, FERRY_PROBE_N };

struct ferry_probes {
        struct ferry_probe p[FERRY_PROBE_N];
        struct ferry_handler post_start, pre_stop;
};

extern const char *const ferry_probe_names[FERRY_PROBE_N]; /* startup, liveness, readiness */

/* From a container object (its livenessProbe, readinessProbe, startupProbe,
 * lifecycle and ports). where names the container in errors. */
int ferry_probes_parse(json_t *container, const char *where, struct ferry_probes *ret,
                       ferry_error_t *err);
bool ferry_probes_any(const struct ferry_probes *p);
void ferry_probes_copy(struct ferry_probes *dst, const struct ferry_probes *src);
void ferry_probes_clear(struct ferry_probes *p);
/* The JSON object above (nothing when !ferry_probes_any). */
void ferry_probes_to_json(struct ferry_buf *b, const struct ferry_probes *p);
/* Back from that JSON (the shim). -EINVAL with err. */
int ferry_probes_from_json(json_t *o, struct ferry_probes *ret, ferry_error_t *err);

#endif
