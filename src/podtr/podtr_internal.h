/* SPDX-License-Identifier: MIT */
/*
 * What the two files of libferry-podtr share: podtr.c (needs, volumes, the
 * request) and env.c (env, fieldRef and resourceFieldRef values). Not
 * installed, not for callers.
 */
#ifndef FERRY_PODTR_INTERNAL_H
#define FERRY_PODTR_INTERNAL_H

#include <stdbool.h>

#include "podtr/podtr.h"

struct podtr_ctx {
        const json_t *pod; /* as the caller gave it */
        const char *ns;
        const struct ferry_podtr_objects *o;
        struct ferry_podtr_missing *missing; /* may be NULL */
        ferry_error_t *err;
};

static inline const char *podtr_sget(const json_t *o, const char *k)
{
        return json_string_value(json_object_get(o, k));
}

/* The ConfigMap or Secret called name, or NULL. */
const json_t *podtr_lookup(const struct podtr_ctx *c, bool secret, const char *name);
/* -ENOENT, as the kubelet words it, with c->missing filled. */
int podtr_not_found(struct podtr_ctx *c, bool secret, const char *name, const char *where);
int podtr_no_key(struct podtr_ctx *c, bool secret, const char *name, const char *key,
                 const char *where);

/* The value of a fieldRef path (metadata.*, spec.nodeName,
 * spec.serviceAccountName, status.hostIP, status.podIP); -EINVAL for others. */
int podtr_field_value(struct podtr_ctx *c, const char *path, char **ret);
/* The container (or init container) called name; NULL: the first. */
const json_t *podtr_find_container(const struct podtr_ctx *c, const char *name);
/* The value of a resourceFieldRef for container (may be NULL: -EINVAL). */
int podtr_resource_value(struct podtr_ctx *c, const json_t *container, const json_t *ref,
                         char **ret);

/* Resolve the env of container c (a copy inside the request's pod). */
int podtr_resolve_env(struct podtr_ctx *c, json_t *container);

#endif
