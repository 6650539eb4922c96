/* SPDX-License-Identifier: MIT */
/*
 * Per-container cgroups (issue 16, doc/local-backend.md "Limits"): where the
 * pods of this host get their cgroups, how a container's cgroup is made with
 * its limits, entered by the child before exec, read when it ends (CPU
 * seconds, peak memory, OOM kills), emptied and removed.
 *
 * Two layouts, chosen by what the host mounts:
 *  - cgroup v1 (or a hybrid host such as a Debian 12 container host): the
 *    memory, cpu and cpuacct hierarchies, each at <hierarchy>/<parent>/<pod>/<ctr>;
 *  - cgroup v2 when /sys/fs/cgroup is cgroup2 with the memory and cpu
 *    controllers: <parent>/<pod>/<ctr>, controllers enabled down the path.
 * <parent> is the admin's (`cgroup_parent`, relative to each hierarchy's
 * root) or, by default, "ferry" below the caller's own cgroup (v1) or
 * "/ferry" (v2: a process cannot have children with controllers in its own
 * cgroup).
 *
 * Lock order: none; each shim touches only its own pod's directories.
 */
#ifndef FERRY_RUNNER_CGROUP_H
#define FERRY_RUNNER_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { RUNNER_CG_MEMORY, RUNNER_CG_CPU, RUNNER_CG_CPUACCT, RUNNER_CG_N };

/* Where this host's pod cgroups go. version 0: none can be made (why says so). */
struct runner_cgroot {
        int version;            /* 0, 1 or 2 */
        char *dir[RUNNER_CG_N]; /* v1: parent per controller; v2: dir[0] only */
        char why[256];
};

/* Find the hierarchies and create the parent directory. parent NULL or
 * "auto": the default above; "off": version 0. Returns 0 (version 1 or 2) or
 * -errno with ret->why set (version 0). */
int runner_cgroot_probe(const char *parent, struct runner_cgroot *ret);
void runner_cgroot_clear(struct runner_cgroot *r);
/* "v1 memory,cpu,cpuacct under /sys/fs/cgroup/memory/x/ferry" or the reason. */
void runner_cgroot_describe(const struct runner_cgroot *r, char *buf, size_t size);

/* Remove what a shim that died (SIGKILL) left of pod uid's cgroups: the
 * empty directories <parent>/<uid>.<pid>[/<ctr>] (a busy one stays). */
void runner_cgroot_sweep(const struct runner_cgroot *r, const char *uid);

/* One container's cgroup. */
struct runner_cg {
        int version;
        char *dir[RUNNER_CG_N];   /* NULL where the controller has no hierarchy */
        char *procs[RUNNER_CG_N]; /* cgroup.procs of each distinct directory */
};

struct runner_cglimits {
        int64_t memory_bytes; /* 0 = none */
        int64_t cpu_milli;    /* 0 = none */
};

/* Create <root>/<pod>/<name> with the limits. -errno with a sentence in why. */
int runner_cg_create(const struct runner_cgroot *root, const char *pod, const char *name,
                     const struct runner_cglimits *l, struct runner_cg *ret, char *why,
                     size_t why_size);
/* In a forked child before exec: move the calling process in. Uses only
 * open/write/close. -errno. */
int runner_cg_enter(const struct runner_cg *cg);

struct runner_cgstats {
        int64_t cpu_ns;   /* -1 unknown */
        int64_t mem_peak; /* bytes, -1 unknown */
        int64_t oom_kills;
};
void runner_cg_stats(const struct runner_cg *cg, struct runner_cgstats *ret);
/* SIGKILL every process still in it. Returns how many were signalled. */
int runner_cg_kill(const struct runner_cg *cg);
/* Remove the container's directories (and the pod's when empty); frees. */
void runner_cg_remove(struct runner_cg *cg);
void runner_cg_clear(struct runner_cg *cg);

#endif
