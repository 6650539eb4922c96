/* SPDX-License-Identifier: MIT */
/*
 * libferry-podtr: a Kubernetes Pod -> the interLink hop-A PodCreateRequests
 * {"pod", "configmaps", "secrets", "projectedvolumesmaps", "jobscriptURL"}.
 *
 * The one translator of the project: `ferry run` (src/ferry/manifest.c) and
 * ferry-node (src/node/vk.c) both call it, so the two cannot drift
 * (tests/podtr checks it). Pure: no I/O. The caller looks up the objects the
 * pod references -- ferry_podtr_needs() says which -- and hands them in:
 * ferry-node fetches them from the kube-apiserver, the CLI takes them from the
 * manifests.
 *
 * It does what the kubelet does before a container starts (doc/podtr.md):
 *   env       envFrom, then env; valueFrom (configMapKeyRef, secretKeyRef,
 *             fieldRef, resourceFieldRef) resolved; $(VAR) in values expanded
 *             as the kubelet does; every value sent escaped ("$" before "$"
 *             or "(" doubled), so a site that expands $(VAR) again, as
 *             Kubernetes semantics ask, reads the kubelet's value.
 *   volumes   configMap/secret volumes put their object in configmaps/secrets;
 *             each projected volume (and each plain downwardAPI volume,
 *             rewritten as a projected one) becomes one ConfigMap named after
 *             the volume in projectedvolumesmaps; text in data, the rest in
 *             binaryData.
 *
 * Ownership: json_t arguments are borrowed; every json_t returned is a new
 * reference owned by the caller.
 */
#ifndef FERRY_PODTR_H
#define FERRY_PODTR_H

#include <jansson.h>

#include "common/error.h"

/* Service-account tokens default to 1 hour, like the kubelet; Kubernetes
 * refuses less than 10 minutes. */
#define FERRY_PODTR_TOKEN_DEFAULT_S 3600
#define FERRY_PODTR_TOKEN_MIN_S 600
#define FERRY_PODTR_MAX_ENV 1024                   /* variables per container */
#define FERRY_PODTR_MAX_PROJECTED_BYTES (4u << 20) /* all projected volumes of a pod */

/* What must be looked up before ferry_podtr_build() can succeed:
 *   {"configmaps": {NAME: REQUIRED, ...}, "secrets": {NAME: REQUIRED, ...},
 *    "tokens": {KEY: {"audience": A|null, "expirationSeconds": N}, ...}}
 * REQUIRED is true unless every reference is optional. KEY is
 * ferry_podtr_token_key(audience, seconds). kube-root-ca.crt is an ordinary
 * ConfigMap here. */
json_t *ferry_podtr_needs(const json_t *pod);
/* "AUDIENCE|SECONDS" (audience "" for the API server's default); caller frees. */
char *ferry_podtr_token_key(const char *audience, json_int_t seconds);

/* The objects a pod references, all of the pod's namespace. */
struct ferry_podtr_objects {
        const json_t *configmaps;  /* name -> ConfigMap; a name that is absent is not found */
        const json_t *secrets;     /* name -> Secret, data in base64 as the API stores it */
        const json_t *tokens;      /* token key -> token; NULL: no cluster behind the caller
                                   * (ferry run), serviceAccountToken sources are left out */
        const char *node_name;     /* fieldRef spec.nodeName when the pod names none; may be NULL */
        const char *host_ip;       /* fieldRef status.hostIP; NULL: "" */
        const json_t *allocatable; /* resource -> quantity: resourceFieldRef limits.X of a
                                    * container without that limit (the kubelet uses the
                                    * node's allocatable); NULL or absent: 0 */
};

/* On -ENOENT, which reference could not be satisfied, for callers that word
 * their own message (the CLI). Fixed buffers: filling it never allocates. */
struct ferry_podtr_missing {
        char kind[16];   /* "ConfigMap", "Secret" or "token" */
        char name[254];  /* the object's name (for a token, the volume's) */
        char key[254];   /* the key that is missing; "" when the whole object is */
        char where[200]; /* 'volume "cfg"', 'container "c": env X', 'container "c": envFrom',
                          * 'projected volume "p"' */
};

/* Build the PodCreateRequests for pod. managedFields are dropped from the pod
 * and the objects; the rest of the pod is kept (status too).
 * Errors (err holds one sentence):
 *   -ENOENT  a required object or key is missing; err says it as the kubelet
 *            does ('configmap "x" not found', "couldn't find key k in
 *            ConfigMap ns/x"), *missing (may be NULL) says which;
 *   -EINVAL  the pod asks for what cannot be offloaded (a clusterTrustBundle
 *            source, an unknown fieldRef, binary data in an env variable,
 *            data that is not base64, an item path that leaves the volume);
 *   -E2BIG   a limit above is exceeded. */
int ferry_podtr_build(const json_t *pod, const struct ferry_podtr_objects *o, json_t **ret,
                      struct ferry_podtr_missing *missing, ferry_error_t *err);

#endif
