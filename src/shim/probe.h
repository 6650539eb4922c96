/* SPDX-License-Identifier: MIT */
/*
 * How ferry-shim runs one probe or lifecycle hook (issue 16): in a child
 * process, in the container's namespaces where the runtime made some, as the
 * container's user, inside its cgroup. Scheduling, thresholds and what a
 * failure does are shim.c's.
 */
#ifndef FERRY_SHIM_PROBE_H
#define FERRY_SHIM_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "pod/probe.h"
#include "runner/cgroup.h"

struct probe_target {
        pid_t ns_pid;               /* a process in the container's namespaces; 0 = the host's */
        char **enter_argv;          /* runs a command in the container (podman exec NAME) */
        char **envp;                /* the container's environment (exec, host and namespaces) */
        const char *cwd;            /* host runtime: the container's working directory */
        int (*drop)(void);          /* host runtime: become the pod's user; NULL = stay */
        const struct runner_cg *cg; /* enter it first; NULL = none */
};

/* The first descendant of leader that lives in another mount namespace than
 * ours (bwrap's sandbox init), or 0. */
pid_t probe_find_ns_pid(pid_t leader);

/* Start h in a new process group; its output (and our own words on failure)
 * go to out_path. Returns the child's pid or -errno. The child ends by itself
 * for http/tcp after timeout_s; the caller kills exec handlers that overrun. */
pid_t probe_spawn(const struct ferry_handler *h, const struct probe_target *t, int64_t timeout_s,
                  const char *out_path);

/* After the child ended: success, and a sentence for a failure ("HTTP probe
 * failed with statuscode: 500", "command exited with 1: <output>"). */
bool probe_result(const struct ferry_handler *h, int wstatus, bool timed_out, const char *out_path,
                  char *msg, size_t size);

#endif
