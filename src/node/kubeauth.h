/* SPDX-License-Identifier: MIT */
/*
 * Who may call the kubelet endpoint, decided the way a real kubelet decides it
 * (--authentication-token-webhook, --authorization-mode=Webhook):
 *
 *  - authentication: a client certificate signed by kubelet_client_ca (user =
 *    CN, groups = O), else a bearer token the API server vouches for with a
 *    TokenReview; nothing else (no anonymous user);
 *  - authorization: a SubjectAccessReview for verb (GET -> get, ...) on
 *    resource nodes, subresource from the path (/metrics -> metrics, /logs/ ->
 *    log, /stats/ -> stats, anything else, /containerLogs included -> proxy),
 *    name = this node.
 *
 * Answers are cached like the kubelet's (token reviews 2 min; access reviews
 * 5 min when allowed, 30 s when denied), so a burst of `kubectl logs` costs
 * one review each, not one per request. Thread-safe.
 */
#ifndef FERRY_NODE_KUBEAUTH_H
#define FERRY_NODE_KUBEAUTH_H

#include <stddef.h>

#include "kube/kube.h"

#define FERRY_KUBEAUTH_GROUPS_MAX 16

struct ferry_kubeauth_id {
        char user[256];
        char groups[FERRY_KUBEAUTH_GROUPS_MAX][128];
        size_t n_groups;
};

struct ferry_kubeauth;

/* kube: the API client that asks for reviews (borrowed); node: this node's name. */
struct ferry_kubeauth *ferry_kubeauth_new(struct ferry_kube *kube, const char *node);
void ferry_kubeauth_free(struct ferry_kubeauth *a);

/* Decide one request. cert: the identity of a verified client certificate,
 * or NULL; bearer: the Authorization header's token, or NULL. Returns 0
 * (allowed), -EKEYREJECTED (no identity: answer 401), -EACCES (not allowed:
 * 403) or -EAGAIN (the API server could not be asked: 503), with a sentence in
 * msg; ferry_error_http_status() gives the status. */
int ferry_kubeauth_check(struct ferry_kubeauth *a, const struct ferry_kubeauth_id *cert,
                         const char *bearer, const char *method, const char *path, char *msg,
                         size_t msg_n);

/* The subresource of nodes that a kubelet path is authorised as. */
const char *ferry_kubeauth_subresource(const char *path);

#endif
