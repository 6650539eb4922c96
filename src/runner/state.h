/* SPDX-License-Identifier: MIT */
/*
 * Files of a pod's working directory, shared by the local backend (in
 * ferryd) and ferry-shim. Layout of <state_dir>/local/pods/<uid>/:
 *
 *   spec.json      what the shim runs (written before the directory is renamed
 *                  into place, so a workdir that exists is complete)
 *   resources      "cpu_milli memory_bytes" of the pod, for capacity
 *   gpus           the GPU / MIG UUIDs the pod holds, one per line (absent: none);
 *                  like spec.json, there before the directory is
 *                  renamed into place, so a pod never starts with an
 *                  allocation that a restart could not see
 *   volumes/<vol>/ materialised ConfigMap/Secret/projected files, emptyDirs
 *   cwd/           working directory of host-runtime containers
 *   shim.lock      flock(LOCK_EX) held by the shim for its whole life
 *   shim.pid       "pid starttime" of the shim
 *   started        the shim took the pod (it never runs twice)
 *   deleted        kill asked for it: "grace_seconds"; checked before each start
 *   done           the shim finished: every container is recorded
 *   pod.state      pod-level reason (DeadlineExceeded), when any
 *   state/<name>   container state (struct runner_cstate), written atomically
 *   logs/<name>.log container log in the logs/logfile.h format
 *   logs/pre_exec.log output of the spec's pre-exec step (Slurm), same format
 *   shim.out       the shim's own stderr
 *   cgroup         how the shim limits containers: "cgroup v1 under ..." or
 *                  "none: <why>" (written at its start; cgroup.h)
 */
#ifndef FERRY_RUNNER_STATE_H
#define FERRY_RUNNER_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum runner_cstate_kind { RUNNER_CS_NONE, RUNNER_CS_RUNNING, RUNNER_CS_TERMINATED };

struct runner_cstate {
        int state; /* enum runner_cstate_kind */
        int64_t started_ns, finished_ns;
        int exit_code;
        int signal;
        int pid;            /* process group leader while running */
        uint64_t pid_start; /* its /proc starttime, to survive pid reuse */
        char reason[32];
        char message[256];
        /* from the container's cgroup when it ended (cgroup.h); 0 = unknown */
        int64_t cpu_ns;
        int64_t mem_peak;
        /* probes (issue 16): the readiness probe has not passed (or the
         * startup probe not yet); the last probe or hook failure, "" = none */
        bool not_ready;
        char probe[256];
};

int runner_cstate_write(const char *workdir, const char *name, const struct runner_cstate *s);
/* -ENOENT when the container has no state yet. */
int runner_cstate_read(const char *workdir, const char *name, struct runner_cstate *ret);
/* Field 22 of /proc/<pid>/stat; -ESRCH when the process is gone. */
/* Copy a recorded container state into the container's status (shared by the
 * local and Slurm backends, whose shims record the same files). */
struct ferry_cstatus;
void runner_cstate_apply(struct ferry_cstatus *c, const struct runner_cstate *s);
/* A running pod's message from its containers' probe failures ("container
 * web: Readiness probe failed: ..."), made again at every poll (cleared when
 * none fails now); a pod-level reason or message of another kind stays. */
struct ferry_pod_status;
void runner_pod_probe_message(struct ferry_pod_status *st);
int runner_proc_starttime(pid_t pid, uint64_t *ret);
/* What a pod's ended containers used, from their state files (the usage
 * ledger; local and Slurm backends): CPU time summed, the largest peak
 * memory; -1 where no container says. */
void runner_pod_usage(const char *workdir, const struct ferry_pod_status *st, int64_t *ret_cpu_ns,
                      int64_t *ret_mem_peak);
/* true when `pid` still is the process that had `start`. */
bool runner_proc_alive(pid_t pid, uint64_t start);

#endif
