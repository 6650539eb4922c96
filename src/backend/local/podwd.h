/* SPDX-License-Identifier: MIT */
/*
 * A pod's working directory, as ferry-shim expects it (layout in state.h):
 * translate the pod into a run spec, build the exact argv of every container
 * for the admin's runtime, and write it all into a temporary directory that
 * is renamed into place, so a working directory that exists is complete.
 * Shared by the local backend and the Slurm backend (whose jobs run
 * ferry-shim inside the allocation).
 */
#ifndef FERRY_LOCAL_PODWD_H
#define FERRY_LOCAL_PODWD_H

#include <stdint.h>

#include "backend/local/runspec.h"
#include "common/error.h"
#include "pod/pod.h"

/* Create `rc->workdir` for pod: materialised under tmp_dir (same file system),
 * then renamed. Returns 1 when this call created it, 0 when it existed
 * already (a concurrent or earlier submit won), -errno with a sentence.
 * ret_cpu_milli/ret_mem (may be NULL) get what the pod holds while it runs. */
int local_podwd_create(const struct local_rtconf *rc, const struct ferry_pod *pod,
                       const char *tmp_dir, int64_t *ret_cpu_milli, int64_t *ret_mem,
                       ferry_error_t *err);

/* The same from a run spec already made (the Slurm translator makes one). */
int local_podwd_create_spec(const struct local_rtconf *rc, const struct local_runspec *rs,
                            const char *tmp_dir, ferry_error_t *err);

#endif
