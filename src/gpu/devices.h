/* SPDX-License-Identifier: MIT */
/*
 * Which device files a pod's GPUs need, and what a CDI spec names (issue 10).
 * Pure: the caller reads /proc/driver/nvidia-caps/mig-minors and the CDI spec
 * files and checks which nodes the host has.
 *
 * A whole GPU is /dev/nvidia<minor>. A MIG device is its GPU's node plus the
 * "access" capabilities of its GPU instance and compute instance,
 * /dev/nvidia-caps/nvidia-cap<N>, whose minors N the driver lists in
 * mig-minors ("gpu0/gi3/access 30", "gpu0/gi3/ci0/access 31"; gpuN is the GPU's
 * minor). Every CUDA process also needs the control nodes
 * (ferry_gpu_control_nodes) the host has. Never the "config" or "monitor"
 * capabilities: a pod may use its slice, not reshape or watch the GPU.
 */
#ifndef FERRY_GPU_DEVICES_H
#define FERRY_GPU_DEVICES_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "gpu/alloc.h"

#define FERRY_GPU_NODE_MAX 48
#define FERRY_GPU_MIG_MINORS "/proc/driver/nvidia-caps/mig-minors"

/* NULL-terminated, relative to /dev: nvidiactl, nvidia-uvm, nvidia-uvm-tools,
 * nvidia-modeset. */
extern const char *const ferry_gpu_control_nodes[];

/* The nodes unit u needs, relative to /dev, into ret[0..2]; returns how many
 * (1 for a whole GPU, 3 for a MIG device). mig_minors: the text of
 * FERRY_GPU_MIG_MINORS (NULL when unreadable); -ENOENT with a sentence when a
 * MIG device's capability is not in it. */
int ferry_gpu_unit_nodes(const struct ferry_gpu_unit *u, const char *mig_minors,
                         char ret[3][FERRY_GPU_NODE_MAX], ferry_error_t *err);

/* True when the CDI spec text (YAML or JSON) is for kind nvidia.com/gpu and
 * names a device `name` (a UUID, an index "0", "0:1"). */
bool ferry_gpu_cdi_has(const char *spec, const char *name);

#endif
