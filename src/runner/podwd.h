/* SPDX-License-Identifier: MIT */
/*
 * A pod's working directory, as ferry-shim expects it (layout in state.h):
 * translate the pod into a run spec, build the exact argv of every container
 * for the admin's runtime, and write it all into a temporary directory that
 * is renamed into place, so a working directory that exists is complete.
 * Shared by the local backend and the Slurm backend (whose jobs run
 * ferry-shim inside the allocation).
 */
#ifndef FERRY_RUNNER_PODWD_H
#define FERRY_RUNNER_PODWD_H

#include <stdint.h>

#include <stdbool.h>
#include <stddef.h>

#include "runner/runspec.h"
#include "common/error.h"
#include "pod/pod.h"

/* Create `rc->workdir` for pod: materialised under tmp_dir (same file system),
 * then renamed. Returns 1 when this call created it, 0 when it existed
 * already (a concurrent or earlier submit won), -errno with a sentence.
 * ret_cpu_milli/ret_mem (may be NULL) get what the pod holds while it runs. */
int runner_podwd_create(const struct runner_rtconf *rc, const struct ferry_pod *pod,
                        const char *tmp_dir, int64_t *ret_cpu_milli, int64_t *ret_mem,
                        ferry_error_t *err);

/* The same from a run spec already made (the Slurm translator makes one). */
int runner_podwd_create_spec(const struct runner_rtconf *rc, const struct runner_runspec *rs,
                             const char *tmp_dir, ferry_error_t *err);

/* Pods run as unprivileged users that must reach their own volumes below
 * `dir`: every directory from `dir` up to `top` (ferryd's own) gets mode 0711
 * (others may pass, not list), and every directory above `top` must already
 * let others pass: -EACCES with a sentence for the admin otherwise. */
int runner_podwd_open_path(const char *top, const char *dir, ferry_error_t *err);

/* Mark the pod in wd deleted: <wd>/deleted holds its grace period in seconds
 * (negative: 30), which ferry-shim reads on SIGTERM and which stops it
 * starting anything more. A later call with a shorter grace period (a second
 * `kubectl delete --grace-period`) writes that one. Returns 1 when the file
 * was written (the shim must be told), 0 when it already held this or a
 * shorter period, -errno with a sentence. On a full file system the file is
 * left empty: the pod's own grace period applies. */
int runner_podwd_mark_deleted(const char *wd, int64_t grace_s, ferry_error_t *err);

/* A pod uid usable as a directory name and job id: [A-Za-z0-9._-], not
 * starting with '.', shorter than FERRY_JID_MAX. */
bool runner_podwd_uid_ok(const char *uid);
/* <pods_dir>/<uid>/logs/<container>.log, where ferry-shim writes a container's
 * output; -ENOENT while the container has no log yet. */
int runner_podwd_log_path(const char *pods_dir, const char *uid, const char *container,
                          char *ret_path, size_t size, ferry_error_t *err);

#endif
