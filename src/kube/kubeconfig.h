/* SPDX-License-Identifier: MIT */
/*
 * Where the Kubernetes API is and how to prove who we are: kubeconfig files
 * and in-cluster service-account credentials.
 *
 * Kubeconfig: the current-context (or a named one) picks a cluster and a user.
 * Supported: cluster.server, certificate-authority, certificate-authority-data,
 * insecure-skip-tls-verify, user.client-certificate[-data], client-key[-data],
 * token, tokenFile; relative file paths are taken from the kubeconfig's
 * directory. exec / auth-provider plugins are refused with a clear error.
 * $KUBECONFIG may list several files separated by ':'; the first one that
 * exists is used (ferry-node does not merge them).
 *
 * In-cluster: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT and
 * /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace}; the
 * token is read as a tokenFile so that rotated tokens are picked up.
 *
 * Ownership: struct ferry_kube_config owns its strings; clear it with
 * ferry_kube_config_clear(). *_data fields hold decoded PEM bytes.
 */
#ifndef FERRY_KUBECONFIG_H
#define FERRY_KUBECONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

struct ferry_kube_config {
        char *server;  /* https://host:port, no trailing '/' */
        char *ca_file; /* NULL or path */
        char *ca_data; /* NULL or PEM */
        size_t ca_data_len;
        char *cert_file;
        char *cert_data;
        size_t cert_data_len;
        char *key_file;
        char *key_data;
        size_t key_data_len;
        char *token;      /* NULL or a bearer token */
        char *token_file; /* NULL or a file re-read when it changes */
        char *namespace;  /* context namespace or in-cluster namespace; may be NULL */
        bool insecure;    /* insecure-skip-tls-verify */
};

#define FERRY_KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define FERRY_KUBECONFIG_MAX (4u << 20)

/* Parse kubeconfig text. context NULL = current-context. base_dir resolves
 * relative paths (NULL = current directory). */
int ferry_kube_config_parse(const char *text, size_t len, const char *context, const char *base_dir,
                            struct ferry_kube_config *ret, ferry_error_t *err);
/* Load a kubeconfig: path, else the first existing file of $KUBECONFIG, else
 * ~/.kube/config. -ENOENT when there is none. */
int ferry_kube_config_load(const char *path, const char *context, struct ferry_kube_config *ret,
                           ferry_error_t *err);
/* In-cluster credentials. sa_dir NULL = FERRY_KUBE_SA_DIR. -ENOENT when not in
 * a cluster (no KUBERNETES_SERVICE_HOST). */
int ferry_kube_config_in_cluster(const char *sa_dir, struct ferry_kube_config *ret,
                                 ferry_error_t *err);
void ferry_kube_config_clear(struct ferry_kube_config *c);

/* YAML (one document) to JSON: mappings -> objects, sequences -> arrays,
 * scalars -> strings (plain scalars null/~ -> null, true/false -> booleans,
 * integers -> integers). Aliases are refused. Used for kubeconfig and for
 * ferry-node's config file. */
int ferry_kube_yaml_to_json(const char *text, size_t len, json_t **ret, ferry_error_t *err);

#endif
