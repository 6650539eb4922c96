/* SPDX-License-Identifier: MIT */
/*
 * Which host user a pod runs as: the site's policy, shared by every backend
 * that runs pods through ferry-shim (local, Slurm). See doc/security.md.
 *
 * A pod never runs as root on the host unless the admin allows it for its
 * namespace. Without securityContext ids a pod runs as its tenant's host user
 * (tenant_users, else pod_user, default 65534:65534 "nobody"), and under bwrap
 * uid 0 inside the sandbox is that user outside (a user namespace), so images
 * and scripts that expect root keep working. runAsUser / runAsGroup / fsGroup
 * are honoured when the namespace may use those ids (allowed_ids, or its own
 * tenant ids); anything else is refused with -EPERM and a sentence.
 *
 * Pure except ferry_podsec_parse(), which may look user names up.
 * Ownership: struct ferry_podsec owns its arrays; ferry_podsec_clear() frees.
 */
#ifndef FERRY_RUNNER_PODSEC_H
#define FERRY_RUNNER_PODSEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "pod/pod.h"

#define FERRY_PODSEC_NOBODY 65534

struct ferry_podsec_user_rule {
        char *ns; /* "*" = every namespace */
        int64_t uid, gid;
};

struct ferry_podsec_id_rule {
        char *ns; /* "*" = every namespace */
        int64_t lo, hi;
};

struct ferry_podsec {
        int64_t uid, gid; /* pod_user: pods of namespaces without a tenant user */
        struct ferry_podsec_user_rule *users;
        size_t n_users;
        struct ferry_podsec_id_rule *ids;
        size_t n_ids;
        char **root_ns; /* namespaces whose pods may run as root ("*" = all) */
        size_t n_root_ns;
        char **host_ns; /* namespaces allowed on the unisolated host runtime */
        size_t n_host_ns;
};

/* The policy's options, each NULL or "" when unset (the local backend's
 * options and the Slurm site file use the same names and syntax):
 *   pod_user         "UID[:GID]" or a user name        (default 65534:65534)
 *   tenant_users     "NS=UID[:GID],..."                 host user per namespace
 *   allowed_ids      "NS=ID[-ID],..."                   extra ids a namespace may ask for
 *   root_namespaces  "NS,..."                           may run as root (runAsUser: 0)
 *   host_namespaces  "NS,..."                           may use the host runtime
 * NS may be "*". uid/gid 0 are refused in pod_user and tenant_users.
 * -EINVAL with a sentence naming the option on bad syntax. */
struct ferry_podsec_options {
        const char *pod_user, *tenant_users, *allowed_ids, *root_namespaces, *host_namespaces;
};
int ferry_podsec_parse(struct ferry_podsec *ps, const struct ferry_podsec_options *o,
                       ferry_error_t *err);
void ferry_podsec_clear(struct ferry_podsec *ps);

/* The user a pod runs as. */
struct ferry_pod_user {
        int64_t uid, gid;             /* on the host */
        int64_t inner_uid, inner_gid; /* inside a bwrap sandbox (user namespace) */
        int64_t fs_group;             /* supplementary group owning the volumes; -1 none */
        bool root;                    /* root on the host: the admin allowed it */
};

/* Decide pod's user under ps. -EPERM (refused by policy) or -EINVAL (the
 * containers disagree) with a sentence for the pod author. */
int ferry_podsec_resolve(const struct ferry_podsec *ps, const struct ferry_pod *pod,
                         struct ferry_pod_user *ret, ferry_error_t *err);

/* May pods of namespace ns use the host runtime (no isolation)? */
bool ferry_podsec_host_allowed(const struct ferry_podsec *ps, const char *ns);

#endif
