/* SPDX-License-Identifier: MIT */
#include "gpu/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

bool ferry_gpu_resource_is_gpu(const char *resource)
{
        return !strcmp(resource, FERRY_GPU_RESOURCE) ||
               (!strncmp(resource, FERRY_GPU_MIG_PREFIX, strlen(FERRY_GPU_MIG_PREFIX)) &&
                resource[strlen(FERRY_GPU_MIG_PREFIX)] != '\0');
}

static bool listed(const char *const *allow, size_t n, const char *what)
{
        for (size_t i = 0; i < n; i++)
                if (!strcmp(allow[i], what))
                        return true;
        return false;
}

static void add_unit(struct ferry_gpu_pool *pool, const char *resource, const char *uuid,
                     const struct ferry_gpu_device *g, int gi, int ci)
{
        pool->u = ferry_xrealloc(pool->u, (pool->n + 1) * sizeof(*pool->u));
        struct ferry_gpu_unit *u = &pool->u[pool->n++];
        memset(u, 0, sizeof(*u));
        snprintf(u->resource, sizeof(u->resource), "%s", resource);
        snprintf(u->uuid, sizeof(u->uuid), "%s", uuid);
        u->gpu = g->index;
        u->minor = g->minor;
        u->gi = gi;
        u->ci = ci;
}

void ferry_gpu_pool_from_inventory(struct ferry_gpu_pool *pool,
                                   const struct ferry_gpu_inventory *inv, const char *const *allow,
                                   size_t n_allow)
{
        *pool = (struct ferry_gpu_pool){0};
        for (size_t i = 0; i < inv->n; i++) {
                const struct ferry_gpu_device *g = &inv->dev[i];
                char index[16];
                snprintf(index, sizeof(index), "%u", g->index);
                bool gpu_ok =
                    !allow || listed(allow, n_allow, index) || listed(allow, n_allow, g->uuid);
                if (!g->mig_enabled) {
                        if (gpu_ok)
                                add_unit(pool, FERRY_GPU_RESOURCE, g->uuid, g, -1, -1);
                        continue;
                }
                for (size_t k = 0; k < g->n_mig; k++) {
                        const struct ferry_gpu_mig_device *m = &g->mig[k];
                        if (!m->profile[0] || !m->uuid[0])
                                continue; /* not addressable: nothing to hand out */
                        if (!gpu_ok && !listed(allow, n_allow, m->uuid))
                                continue;
                        char res[64];
                        snprintf(res, sizeof(res), "%s%s", FERRY_GPU_MIG_PREFIX, m->profile);
                        add_unit(pool, res, m->uuid, g, (int)m->gi_id, (int)m->ci_id);
                }
        }
}

void ferry_gpu_pool_free(struct ferry_gpu_pool *pool)
{
        if (!pool)
                return;
        free(pool->u);
        *pool = (struct ferry_gpu_pool){0};
}

static size_t count_units(const struct ferry_gpu_pool *pool, const char *resource, bool only_free)
{
        size_t n = 0;
        for (size_t i = 0; i < pool->n; i++)
                if (!strcmp(pool->u[i].resource, resource) && (!only_free || !pool->u[i].owner[0]))
                        n++;
        return n;
}

int ferry_gpu_pool_alloc(struct ferry_gpu_pool *pool, const char *uid,
                         const struct ferry_gpu_request *req, ferry_error_t *err)
{
        if (!uid || !uid[0] || strlen(uid) >= FERRY_GPU_OWNER_MAX)
                return ferry_errprintf(err, -EINVAL, "a GPU owner needs a pod uid");
        for (size_t k = 0; k < req->n; k++)
                if (!ferry_gpu_resource_is_gpu(req->item[k].resource))
                        return ferry_errprintf(err, -EINVAL, "%s is not a GPU resource",
                                               req->item[k].resource);
        for (size_t i = 0; i < pool->n; i++)
                if (!strcmp(pool->u[i].owner, uid))
                        return 0; /* it has its units already */
        /* never: more than the host has at all */
        for (size_t k = 0; k < req->n; k++) {
                unsigned want = req->item[k].count;
                size_t total = count_units(pool, req->item[k].resource, false);
                if (want > total) {
                        if (total == 0)
                                return ferry_errprintf(err, -EOPNOTSUPP,
                                                       "the pod asks for %u %s and this host has "
                                                       "none",
                                                       want, req->item[k].resource);
                        return ferry_errprintf(err, -EOPNOTSUPP,
                                               "the pod asks for %u %s and this host has %zu", want,
                                               req->item[k].resource, total);
                }
        }
        /* not now: taken by other pods */
        for (size_t k = 0; k < req->n; k++) {
                unsigned want = req->item[k].count;
                size_t avail = count_units(pool, req->item[k].resource, true);
                if (want > avail)
                        return ferry_errprintf(err, -EAGAIN,
                                               "the pod asks for %u %s: %zu of %zu are held by "
                                               "other pods",
                                               want, req->item[k].resource,
                                               count_units(pool, req->item[k].resource, false) -
                                                   avail,
                                               count_units(pool, req->item[k].resource, false));
        }
        for (size_t k = 0; k < req->n; k++) {
                unsigned want = req->item[k].count;
                for (size_t i = 0; i < pool->n && want > 0; i++) {
                        struct ferry_gpu_unit *u = &pool->u[i];
                        if (u->owner[0] || strcmp(u->resource, req->item[k].resource) != 0)
                                continue;
                        snprintf(u->owner, sizeof(u->owner), "%s", uid);
                        want--;
                }
        }
        return 0;
}

size_t ferry_gpu_pool_release(struct ferry_gpu_pool *pool, const char *uid)
{
        size_t n = 0;
        for (size_t i = 0; i < pool->n; i++)
                if (pool->u[i].owner[0] && !strcmp(pool->u[i].owner, uid)) {
                        pool->u[i].owner[0] = '\0';
                        n++;
                }
        return n;
}

int ferry_gpu_pool_take(struct ferry_gpu_pool *pool, const char *uid, const char *uuid,
                        ferry_error_t *err)
{
        if (!uid || !uid[0] || strlen(uid) >= FERRY_GPU_OWNER_MAX)
                return ferry_errprintf(err, -EINVAL, "a GPU owner needs a pod uid");
        for (size_t i = 0; i < pool->n; i++) {
                struct ferry_gpu_unit *u = &pool->u[i];
                if (strcmp(u->uuid, uuid) != 0)
                        continue;
                if (u->owner[0] && strcmp(u->owner, uid) != 0)
                        return ferry_errprintf(err, -EBUSY, "%s is held by pod %s", uuid, u->owner);
                snprintf(u->owner, sizeof(u->owner), "%s", uid);
                return 0;
        }
        return ferry_errprintf(err, -ENOENT, "this host has no GPU device %s to hand out", uuid);
}

size_t ferry_gpu_pool_held(const struct ferry_gpu_pool *pool, const char *uid,
                           const struct ferry_gpu_unit **ret, size_t max)
{
        size_t n = 0;
        for (size_t i = 0; i < pool->n; i++)
                if (pool->u[i].owner[0] && !strcmp(pool->u[i].owner, uid)) {
                        if (n < max)
                                ret[n] = &pool->u[i];
                        n++;
                }
        return n;
}

void ferry_gpu_pool_capacity(const struct ferry_gpu_pool *pool, struct ferry_gpu_capacity *ret)
{
        *ret = (struct ferry_gpu_capacity){0};
        for (size_t i = 0; i < pool->n; i++) {
                const struct ferry_gpu_unit *u = &pool->u[i];
                size_t k;
                for (k = 0; k < ret->n; k++)
                        if (!strcmp(ret->item[k].resource, u->resource))
                                break;
                if (k == ret->n) {
                        if (ret->n == FERRY_GPU_CAPACITY_MAX)
                                continue;
                        snprintf(ret->item[k].resource, sizeof(ret->item[k].resource), "%s",
                                 u->resource);
                        ret->n++;
                }
                ret->item[k].total++;
                ret->item[k].free += !u->owner[0];
        }
}

int ferry_gpu_request_add(struct ferry_gpu_request *req, const char *resource, unsigned count)
{
        if (count == 0)
                return 0;
        for (size_t k = 0; k < req->n; k++)
                if (!strcmp(req->item[k].resource, resource)) {
                        req->item[k].count += count;
                        return 0;
                }
        if (req->n == FERRY_GPU_REQUEST_MAX || strlen(resource) >= sizeof(req->item[0].resource))
                return -E2BIG;
        snprintf(req->item[req->n].resource, sizeof(req->item[0].resource), "%s", resource);
        req->item[req->n].count = count;
        req->n++;
        return 0;
}

void ferry_gpu_pool_held_list(const struct ferry_gpu_pool *pool, const char *uid, char *ret,
                              size_t size)
{
        size_t len = 0;
        if (!size)
                return;
        ret[0] = '\0';
        for (size_t i = 0; i < pool->n; i++) {
                if (strcmp(pool->u[i].owner, uid) != 0)
                        continue;
                size_t need = strlen(pool->u[i].uuid) + (len ? 1 : 0);
                if (len + need + 1 > size)
                        break;
                snprintf(ret + len, size - len, "%s%s", len ? "," : "", pool->u[i].uuid);
                len += need;
        }
}
