/* SPDX-License-Identifier: MIT */
/*
 * Manifests for `ferry run`: kubectl-style YAML or JSON in, interLink hop-A
 * PodCreateRequests out.
 *
 * Loading (manifest_load.c) turns files into a JSON array of Kubernetes
 * objects: YAML (libyaml, several documents per file, anchors, "<<" merges,
 * YAML 1.1 plain scalars: 0644 is octal) or JSON; `kind: List` is unpacked.
 *
 * Translation (manifest.c) is pure: objects in, requests out, no I/O. It does
 * what the API server would do with the objects (namespace, UID,
 * generateName, validation, YAML scalars as strings, Secret stringData into
 * data), then hands each Pod with the ConfigMaps and Secrets of its
 * namespace to libferry-podtr (src/podtr/podtr.h), the translator ferry-node
 * uses too. See doc/cli.md and doc/podtr.md.
 *
 * Ownership: every json_t returned is a new reference owned by the caller.
 */
#ifndef FERRY_MANIFEST_H
#define FERRY_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

#define FERRY_MANIFEST_MAX_FILE (16u << 20) /* bytes of one manifest file */
#define FERRY_MANIFEST_MAX_OBJECTS 20000    /* objects over all files */
#define FERRY_MANIFEST_MAX_DEPTH 64         /* nesting of YAML/JSON values */

/* Parse YAML or JSON text (JSON is YAML's subset, but a name ending in .json
 * goes through jansson for exact numbers) and append each object to objects.
 * name is used in messages ("pods.yaml:12:3: ..."). */
int ferry_manifest_parse(const char *text, size_t len, const char *name, json_t *objects,
                         ferry_error_t *err);

/* Load a file, a directory (its *.yaml, *.yml and *.json, sorted by name, not
 * recursive) or "-" (stdin) and append the objects to objects. */
int ferry_manifest_load(const char *path, json_t *objects, ferry_error_t *err);

typedef void (*ferry_manifest_uid_fn)(void *ctx, char buf[37]);

struct ferry_manifest_opts {
        const char *namespace;     /* -n; NULL means "default" and objects may say otherwise */
        ferry_manifest_uid_fn uid; /* NULL: ferry_uuid_generate */
        void *uid_ctx;
};

/* The objects as the API server would store them (same order, new copies):
 * namespaces and UIDs filled in, names checked, scalars turned into strings,
 * Secret stringData merged into data, Pod status dropped. */
int ferry_manifest_normalise(const json_t *objects, const struct ferry_manifest_opts *opts,
                             json_t **ret_objects, ferry_error_t *err);

/* Translate objects (Pods, Jobs, ConfigMaps, Secrets) into a JSON array with
 * one entry per Pod or Job, in the order they appear: a Pod's
 * PodCreateRequests, or for a Job {"job": <the Job>, "request":
 * <PodCreateRequests of its template>}, what ferryd's /jobs takes. */
int ferry_manifest_translate(const json_t *objects, const struct ferry_manifest_opts *opts,
                             json_t **ret_requests, ferry_error_t *err);

#endif
