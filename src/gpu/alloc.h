/* SPDX-License-Identifier: MIT */
/*
 * GPU allocation on a host (issue 10): which of its GPUs and MIG devices a
 * pod holds. Pure, no NVML call and no I/O: a pool is built from an
 * inventory (gpu/nvml.h) and the admin's allow-list; pods ask by Kubernetes
 * resource name ("nvidia.com/gpu", "nvidia.com/mig-1g.10gb") and get whole
 * units, exclusively, first free in the pool's order (GPU index, then GPU
 * instance, then compute instance). The caller stores what a pod got before
 * the pod starts and gives it back with ferry_gpu_pool_take after a restart,
 * so nothing is handed out twice.
 *
 * A unit is a whole GPU with MIG off, or one MIG device (a compute instance
 * of a GPU instance) on a GPU with MIG on; a GPU with MIG on is not a unit
 * itself (the device plugin's "mixed" strategy).
 */
#ifndef FERRY_GPU_ALLOC_H
#define FERRY_GPU_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "gpu/nvml.h"

#define FERRY_GPU_RESOURCE "nvidia.com/gpu"
#define FERRY_GPU_MIG_PREFIX "nvidia.com/mig-"
#define FERRY_GPU_OWNER_MAX 72 /* a pod uid */
#define FERRY_GPU_REQUEST_MAX 8

struct ferry_gpu_unit {
        char resource[64];               /* "nvidia.com/gpu" or "nvidia.com/mig-<profile>" */
        char uuid[96];                   /* what CUDA_VISIBLE_DEVICES names: GPU-... or MIG-... */
        unsigned gpu;                    /* NVML index of the GPU (the parent, for MIG) */
        unsigned minor;                  /* its /dev/nvidia<minor> */
        int gi, ci;                      /* MIG instance ids; -1 for a whole GPU */
        char owner[FERRY_GPU_OWNER_MAX]; /* uid of the pod holding it, "" when free */
};

struct ferry_gpu_pool {
        size_t n;
        struct ferry_gpu_unit *u;
};

/* What a pod asks for: count per resource name (0 or more items). */
struct ferry_gpu_request {
        size_t n;
        struct {
                char resource[64];
                unsigned count;
        } item[FERRY_GPU_REQUEST_MAX];
};

/* Build the pool from inv. allow: NULL for every device, else a list of n
 * entries, each a GPU index ("0"), a GPU UUID or a MIG UUID; a MIG device is
 * allowed when it or its GPU is listed. Units of the pool are all free. */
void ferry_gpu_pool_from_inventory(struct ferry_gpu_pool *pool,
                                   const struct ferry_gpu_inventory *inv, const char *const *allow,
                                   size_t n_allow);
void ferry_gpu_pool_free(struct ferry_gpu_pool *pool);

/* Give uid the units req asks for. 0 with the units marked (a uid that holds
 * units already keeps them: idempotent); -EAGAIN when the pool could serve it
 * but not now (err: what is taken); -EOPNOTSUPP when it never could (err
 * names the resource and what the host has); -EINVAL for a bad request. */
int ferry_gpu_pool_alloc(struct ferry_gpu_pool *pool, const char *uid,
                         const struct ferry_gpu_request *req, ferry_error_t *err);

/* Free what uid holds; returns the number of units freed. */
size_t ferry_gpu_pool_release(struct ferry_gpu_pool *pool, const char *uid);

/* After a restart: uid holds the unit named uuid again. -ENOENT when the pool
 * has no such unit (gone, or no longer allowed), -EBUSY when another pod
 * holds it. */
int ferry_gpu_pool_take(struct ferry_gpu_pool *pool, const char *uid, const char *uuid,
                        ferry_error_t *err);

/* The units uid holds, in pool order: up to max pointers into the pool;
 * returns how many it holds. */
size_t ferry_gpu_pool_held(const struct ferry_gpu_pool *pool, const char *uid,
                           const struct ferry_gpu_unit **ret, size_t max);

/* The UUIDs of the units uid holds, comma-separated, into ret ("" when none;
 * cut at a whole UUID when size is short). */
void ferry_gpu_pool_held_list(const struct ferry_gpu_pool *pool, const char *uid, char *ret,
                              size_t size);

/* Free and total units per resource, for the ping answer. */
void ferry_gpu_pool_capacity(const struct ferry_gpu_pool *pool, struct ferry_gpu_capacity *ret);

/* Add count of resource to req (merging a resource named twice). -E2BIG when
 * req is full. Resources that are not NVIDIA GPUs are the caller's to skip. */
int ferry_gpu_request_add(struct ferry_gpu_request *req, const char *resource, unsigned count);

/* True for "nvidia.com/gpu" and "nvidia.com/mig-<profile>". */
bool ferry_gpu_resource_is_gpu(const char *resource);

#endif
