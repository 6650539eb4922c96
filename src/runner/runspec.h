/* SPDX-License-Identifier: MIT */
/*
 * The pod runner (libferry-runner): how Ferry runs a pod's containers on a
 * host, shared by the local backend, the Slurm backend (the job script runs
 * ferry-shim on the node) and ferry-shim itself. This header holds its pure
 * parts (no I/O, golden-tested):
 *
 *  - the translator: pod model -> run spec (files to write for each volume,
 *    per-container argv/env after Kubernetes $(VAR) expansion, mounts);
 *  - the runtime argv builders: run spec container -> the exact argv/envp
 *    ferry-shim executes for the admin's runtime (host, bwrap, podman).
 *
 * The bwrap builder must look at the host's directory tree (to build a
 * sandbox root that has room for mount points); it does so only through the
 * struct runner_hostfs callbacks, so tests feed it a fixed fake tree.
 *
 * Ownership: every struct here owns its strings and arrays; free with the
 * matching _free()/_clear() function.
 */
#ifndef FERRY_RUNNER_RUNSPEC_H
#define FERRY_RUNNER_RUNSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "runner/podsec.h"
#include "common/util.h"
#include "pod/pod.h"

struct runner_file {
        char *path; /* relative to the volume directory, may contain '/' */
        unsigned char *data;
        size_t len;
        int mode;
};

struct runner_volume {
        char *name;
        enum ferry_volume_kind kind;
        struct runner_file *files;
        size_t n_files;
        int64_t size_limit; /* emptyDir sizeLimit, -1 = none: ferry-shim evicts past it */
};

struct runner_mount {
        char *src; /* relative to the pod workdir: volumes/<vol>[/<subPath>] */
        char *dst; /* absolute, normalised path inside the container */
        bool ro;
        bool mkdir_src; /* emptyDir subPath: create the directory */
};

struct runner_container {
        char *name;
        char *image;
        bool init;
        char **argv; /* NULL-terminated, after $(VAR) expansion: command then args */
        size_t n_argv;
        size_t n_command;      /* how many of argv came from command (podman: entrypoint) */
        struct ferry_env *env; /* after expansion, in pod order */
        size_t n_env;
        char *cwd; /* workingDir or NULL */
        struct runner_mount *mounts;
        size_t n_mounts;
        int64_t cpu_milli;    /* request, else limit, else 0 */
        int64_t memory_bytes; /* request, else limit, else 0 */
        int64_t gpus;         /* nvidia.com/gpu + nvidia.com/mig-*, limit else request, else 0 */
        /* limits only (0 = none): enforced in the container's cgroup (cgroup.h) */
        int64_t cpu_limit_milli;
        int64_t memory_limit_bytes;
        struct ferry_probes probes; /* run by ferry-shim (src/shim/probe.c) */
        int64_t ephemeral_limit;    /* limits.ephemeral-storage, 0 = none */
        bool read_only_root;        /* securityContext.readOnlyRootFilesystem */
};

struct runner_runspec {
        char *uid, *name, *namespace;
        int64_t grace_s;
        int64_t deadline_s;            /* -1 = none */
        struct runner_volume *volumes; /* only the volumes some container mounts */
        size_t n_volumes;
        struct runner_container *c; /* init containers first */
        size_t n_c;
        size_t n_init;
        /* Slurm only (admin-enabled slurm-job.vk.io/pre-exec, set by the Slurm
         * translator; the local backend never sets it): ferry-shim runs it with
         * /bin/sh -c in the workdir before the init containers. NULL = none. */
        char *pre_exec;
};

/* Kubernetes' $(VAR) expansion over env[0..n): $$ -> $, undefined references
 * are kept verbatim. Returns a new string. */
char *runner_expand(const char *in, const struct ferry_env *env, size_t n);

int runner_runspec_from_pod(const struct ferry_pod *pod, struct runner_runspec **ret,
                            ferry_error_t *err);
void runner_runspec_free(struct runner_runspec *rs);
/* Canonical JSON form (golden files). */
void runner_runspec_to_json(struct ferry_buf *b, const struct runner_runspec *rs);
/* CPU (milli) and memory a pod holds while it runs: max(largest init, sum of containers). */
void runner_runspec_resources(const struct runner_runspec *rs, int64_t *ret_cpu_milli,
                              int64_t *ret_mem);

/* ---- runtimes ---- */

struct runner_dirent {
        char *name;
        char type;    /* 'd' directory, 'l' symlink, 'f' anything else */
        char *target; /* symlink target for 'l' */
};

struct runner_hostfs {
        /* List the entries of an absolute host directory (without . and ..),
         * sorted by name. -errno when it cannot be read. */
        int (*list)(void *ctx, const char *dir, struct runner_dirent **ret, size_t *ret_n);
        void *ctx;
};
void runner_dirents_free(struct runner_dirent *d, size_t n);
/* The real host, via opendir/readlink. */
extern const struct runner_hostfs runner_hostfs_real;

enum runner_runtime_kind {
        RUNNER_RT_HOST,
        RUNNER_RT_BWRAP,
        RUNNER_RT_PODMAN,
        RUNNER_RT_APPTAINER,   /* apptainer exec|run (doc/slurm-backend.md) */
        RUNNER_RT_SINGULARITY, /* the same with the singularity binary and SINGULARITYENV_ */
        RUNNER_RT_ENROOT,      /* enroot start */
};

/* An extra bind mount the admin allowed (slurm-job.vk.io/singularity-mounts):
 * src is an absolute host path. */
struct runner_bind {
        char *src, *dst;
        bool ro;
};

struct runner_image_map {
        char *from, *to;
};

/* The GPUs a pod holds on this host (issue 10, doc/gpu.md), chosen by the
 * local backend. Every runtime gets CUDA_VISIBLE_DEVICES and
 * NVIDIA_VISIBLE_DEVICES naming exactly these UUIDs (over the pod's own
 * values); a pod without GPUs on a GPU host gets none ("" and "void"). bwrap
 * binds only `devs` into its /dev; podman gets `cdi` names when there are
 * any, else `devs` as --device. */
struct runner_gpus {
        const char *const *uuids; /* GPU-... / MIG-... */
        size_t n_uuids;
        const struct runner_bind *devs; /* host device node -> /dev/... */
        size_t n_devs;
        const char *const *cdi; /* "nvidia.com/gpu=<name>" */
        size_t n_cdi;
};

struct runner_rtconf {
        enum runner_runtime_kind kind;
        const char *workdir;      /* absolute path of the pod's working directory */
        const char *bwrap;        /* path of bwrap */
        const char *podman;       /* path of podman */
        bool network;             /* give containers the host network */
        const char *podman_image; /* when set: image for every container without a map entry */
        const char *podman_pull;  /* --pull value */
        const char *home;         /* HOME for podman itself */
        const struct runner_image_map *image_map;
        size_t n_image_map;
        struct runner_hostfs hostfs;
        /* apptainer / singularity / enroot */
        const char *apptainer; /* binary (apptainer, singularity); NULL = by runtime name */
        const char *enroot;    /* binary; NULL = "enroot" */
        /* apptainer: prefix for images without a scheme (NULL = "docker://");
         * enroot: directory of pre-imported squashfs images (NULL = only
         * absolute image paths work) */
        const char *image_root;
        char *const *rt_options; /* extra runtime options, already checked, after the defaults */
        size_t n_rt_options;
        const struct runner_bind *binds; /* extra binds for every container */
        size_t n_binds;
        /* The host user the pod runs as (runner/podsec.h); NULL = the shim's
         * own user, no user namespace (golden tests of other parts). */
        const struct ferry_pod_user *user;
        /* ferry-shim itself runs as user (a Slurm job submitted with --uid):
         * the whole working directory is the user's, logs and state included */
        bool shim_as_user;
        /* bwrap: host paths to hide when the sandbox would show them (ferryd's
         * config, tokens, keys, state, sockets), besides the built-in list */
        const char *const *masks;
        size_t n_masks;
        /* NULL: this host hands out no GPUs (pods keep their own variables) */
        const struct runner_gpus *gpus;
        /* where ferry-shim makes the containers' cgroups (cgroup.h): "auto",
         * a parent path, or NULL/"off" for none */
        const char *cgroup_parent;
        /* container log rotation (logs/logfile.h); 0 = ferry-shim's defaults */
        int64_t log_max_size;
        int log_max_files;
};

/* What ferry-shim executes for one container. */
struct runner_exec {
        char *name;
        bool init;
        char **argv; /* NULL-terminated; argv[0] is a path or a name looked up in envp's PATH */
        size_t n_argv;
        char **envp; /* NULL-terminated NAME=VALUE */
        size_t n_envp;
        char *cwd; /* chdir before exec, NULL = none */
        /* SIGTERM goes to the container's process group except its leader
         * (bwrap dies on SIGTERM and its --die-with-parent would SIGKILL the
         * sandbox before the payload could handle SIGTERM). */
        bool term_skip_leader;
        /* run before the start, after SIGKILL and after the exit, to make sure no
         * container of this name is left (podman rm -f); or NULL */
        char **stop_argv;
        size_t n_stop_argv;
        /* delivers SIGTERM to the payload itself (podman kill): a runtime that
         * proxies signals may not have its proxy ready yet; or NULL. When it
         * fails, SIGTERM goes to the process group as without it. */
        char **term_argv;
        size_t n_term_argv;
        /* ferry-shim drops to the pod's user (spec.json "user") before exec;
         * false for runtimes that must start as root and switch themselves (podman) */
        bool drop;
        /* Limits ferry-shim puts on the container's cgroup (0 = none). Left 0
         * for podman, which gets --memory/--cpus and limits its own cgroup. */
        int64_t memory_limit;
        int64_t cpu_limit_milli;
        /* prints "true" when the runtime saw the container OOM-killed (podman
         * inspect); run by the shim after an exit by SIGKILL; or NULL */
        char **oom_argv;
        size_t n_oom_argv;
        /* Probes and hooks (pod/probe.h JSON), NULL = none; and how the shim
         * runs an exec handler or reaches the container's network:
         *   enter_ns:   in the namespaces of the runtime's first child
         *               (bwrap, apptainer, enroot: setns, then the pod's user);
         *   enter_argv: prefix that runs a command in it (podman exec NAME);
         *   pid_argv:   prints the container's pid (podman inspect), for its
         *               network namespace;
         *   neither:    on the host as the pod's user (host runtime). */
        char *probes_json;
        bool enter_ns;
        char **enter_argv;
        size_t n_enter_argv;
        char **pid_argv;
        size_t n_pid_argv;
        /* limits.ephemeral-storage (0 = none): ferry-shim evicts the pod when
         * the container's logs and writable root pass it */
        int64_t ephemeral_limit;
};

int runner_runtime_parse(const char *name, enum runner_runtime_kind *ret);
const char *runner_runtime_name(enum runner_runtime_kind k);
/* Build the exec for container ci of rs. -EINVAL with a sentence when the
 * runtime cannot honour the container (e.g. a mount under the host runtime). */
int runner_exec_build(const struct runner_rtconf *rc, const struct runner_runspec *rs, size_t ci,
                      struct runner_exec *ret, ferry_error_t *err);
void runner_exec_clear(struct runner_exec *e);
void runner_exec_to_json(struct ferry_buf *b, const struct runner_exec *e);

#endif
