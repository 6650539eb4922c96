/* SPDX-License-Identifier: MIT */
/*
 * GPU inventory from NVML, loaded at run time with dlopen (no CUDA SDK or NVIDIA
 * header at build time; doc/gpu.md lists the functions used). The library is
 * "libnvidia-ml.so.1", or the path in $FERRY_NVML_LIBRARY (tests point it at a
 * fake). Read-only: nothing here changes a GPU setting.
 *
 * Ownership: an inventory is filled by ferry_nvml_inventory() and owned by the
 * caller (ferry_gpu_inventory_free). A capacity is a plain value, no frees.
 */
#ifndef FERRY_GPU_NVML_H
#define FERRY_GPU_NVML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define FERRY_NVML_ENV "FERRY_NVML_LIBRARY"
#define FERRY_NVML_DEFAULT "libnvidia-ml.so.1"
#define FERRY_GPU_MAX_DEVICES 64
#define FERRY_GPU_MAX_MIG 16
#define FERRY_GPU_CAPACITY_MAX 32

struct ferry_gpu_mig_device {
        char uuid[96]; /* "MIG-..." (what CUDA_VISIBLE_DEVICES names); "" if not reported */
        unsigned gi_id, ci_id;
        char profile[32]; /* "1g.10gb"; derived from slices and memory */
        unsigned gi_slices, ci_slices;
        uint64_t mem_total_mib, mem_used_mib;
        int busy; /* compute processes on it: 1, 0, or -1 unknown */
};

struct ferry_gpu_device {
        unsigned index;
        unsigned minor; /* of /dev/nvidia<minor> (NVML; the index when not reported) */
        char name[96];  /* "NVIDIA A100-SXM4-80GB" */
        char uuid[96];
        const char *model; /* planner geometry ("A100-80GB") or NULL */
        bool mig_capable;
        bool mig_enabled, mig_pending; /* current mode, and the mode after reset */
        uint64_t mem_total_mib, mem_used_mib;
        int util_gpu, util_mem; /* percent, -1 when not reported */
        int busy;               /* compute processes on the whole GPU: 1, 0, -1 unknown */
        size_t n_mig;
        struct ferry_gpu_mig_device mig[FERRY_GPU_MAX_MIG];
};

struct ferry_gpu_inventory {
        char driver[80];
        size_t n;
        struct ferry_gpu_device *dev;
};

/* Read every GPU. -ENOENT: the library could not be loaded ("no NVIDIA
 * driver found"); -EIO: it loaded but NVML failed (err says how). */
int ferry_nvml_inventory(struct ferry_gpu_inventory *ret, ferry_error_t *err);
void ferry_gpu_inventory_free(struct ferry_gpu_inventory *inv);

/* Free devices by Kubernetes resource name, for ferryd's ping capacity:
 * "nvidia.com/gpu" counts whole GPUs with MIG off and no compute process;
 * "nvidia.com/mig-1g.10gb" counts MIG devices of that profile with no process
 * (the device plugin's "mixed" strategy). */
struct ferry_gpu_capacity {
        size_t n;
        struct {
                char resource[64];
                unsigned total, free;
        } item[FERRY_GPU_CAPACITY_MAX];
};

/* Pure: capacity of an inventory. */
void ferry_gpu_capacity_of(const struct ferry_gpu_inventory *inv, struct ferry_gpu_capacity *ret);
/* NVML inventory + ferry_gpu_capacity_of. Same errors as ferry_nvml_inventory. */
int ferry_nvml_capacity(struct ferry_gpu_capacity *ret, ferry_error_t *err);

/* `ferry gpu ls` text: a table, or JSON when json is true. Caller frees. */
char *ferry_gpu_inventory_format(const struct ferry_gpu_inventory *inv, bool json);

#endif
