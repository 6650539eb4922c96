/* SPDX-License-Identifier: MIT */
/*
 * Slurm backend, pure parts (no I/O; golden-tested in tests/data/slurm/):
 *
 *  - the site configuration (struct slurm_site), parsed from YAML text;
 *  - the translator: pod + site -> struct slurm_job, i.e. the sbatch options
 *    (as separate argv items, never a shell string) and the batch script.
 *
 * Design: the batch script carries NO pod data. The pod becomes a run spec
 * (src/runner/runspec.h) that the backend writes into the pod's
 * working directory on the shared file system; the script only does
 * `exec <ferry-shim> <workdir>` (paths quoted), and ferry-shim runs init
 * containers then containers with the site's runtime (apptainer, enroot,
 * bwrap, host), recording logs, exit codes and times in the workdir. So status
 * and logs stay exact after the job left the queue, and nothing a pod author
 * writes reaches a shell.
 *
 * Ownership: structs own their strings; free with slurm_site_free /
 * slurm_job_free.
 */
#ifndef FERRY_SLURM_JOB_H
#define FERRY_SLURM_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runner/runspec.h"
#include "runner/podsec.h"
#include "common/error.h"
#include "common/util.h"
#include "pod/pod.h"

/* A named set of scheduling choices, selected by annotation
 * slurm-job.vk.io/flavor or by the pod's GPU request, with a default. */
struct slurm_flavor {
        char *name;
        char *partition, *account, *qos; /* NULL = not set */
        bool for_gpu;                    /* chosen automatically for GPU pods */
        int64_t uid;                     /* -1 = site default */
        int64_t max_time_s;              /* -1 = none */
        char **extra_flags;              /* admin-written sbatch flags, argv items */
        size_t n_extra_flags;
};

/* A Kubernetes GPU resource and the GRES Slurm knows it as. */
struct slurm_gres_map {
        char *resource;      /* "nvidia.com/gpu", "nvidia.com/mig-1g.10gb" */
        char *gres;          /* "gpu", "gpu:a100", "gpu:1g.10gb" */
        int64_t max_per_job; /* -1 = no site limit */
};

struct slurm_site {
        char *workdir_root; /* shared FS: <root>/<uid>/ per pod */
        char *shim_path;    /* ferry-shim as seen from compute nodes */
        char *runtime;      /* apptainer | singularity | enroot | bwrap | host */
        struct slurm_flavor *flavors;
        size_t n_flavors;
        char *default_flavor;
        struct slurm_gres_map *gres;
        size_t n_gres;
        char **allowed_flags; /* allow-list for slurm-job.vk.io/flags, e.g. "--time", "-p" */
        size_t n_allowed_flags;
        bool allow_pre_exec; /* slurm-job.vk.io/pre-exec; off by default */
        char *
            uid_policy; /* "fixed" (default: jobs run as ferryd's user) | "pod" (runAsUser, needs root) */
        int64_t default_uid;       /* -1 = ferryd's own */
        int64_t default_cpu_milli; /* when a pod gives neither limits nor requests */
        int64_t default_memory_bytes;
        /* added by the translator (doc/slurm-backend.md): */
        char *runtime_path; /* the runtime's binary on compute nodes; NULL = by name in PATH */
        char *image_root;   /* apptainer: prefix for images without a scheme ("docker://");
                                  enroot: directory of pre-imported squashfs images */
        char **allowed_runtime_options; /* allow-list for .../singularity-options */
        size_t n_allowed_runtime_options;
        char **allowed_mount_roots; /* .../singularity-mounts sources must lie under one */
        size_t n_allowed_mount_roots;
        char **allowed_image_roots; /* .../image-root values must start with one */
        size_t n_allowed_image_roots;
        /* inside the allocation: the user a pod runs as when the job itself runs
         * as root (pod_user, tenant_users, allowed_ids, root_namespaces; the
         * local backend's keys, runner/podsec.h) */
        char *podsec_opt[4];
        struct ferry_podsec podsec;
        /* tenant_accounts: the Slurm account of a namespace's jobs ("*": any
         * other), over the flavor's; parallel arrays */
        char **acct_ns, **acct;
        size_t n_acct;
};

/* The account tenant_accounts gives namespace ns, or NULL. */
const char *slurm_site_tenant_account(const struct slurm_site *s, const char *ns);

/* Errors name the line: "site config:12: unknown key \"x\"" (slurm_site_load:
 * "<path>:12: ..."). Unknown keys are errors. */
int slurm_site_parse(const char *yaml, size_t len, struct slurm_site **ret, ferry_error_t *err);
int slurm_site_load(const char *path, struct slurm_site **ret, ferry_error_t *err);
void slurm_site_free(struct slurm_site *s);

struct slurm_job {
        char *name; /* the pod uid: how the backend finds its jobs again */
        char **
            sbatch_argv; /* options only, NULL-terminated, e.g. {"--job-name=UID", "--cpus-per-task=2", ...} */
        size_t n_sbatch_argv;
        char *script;  /* the batch script text */
        char *workdir; /* <workdir_root>/<uid> */
        /* the same choices as fields, for libslurm submission */
        char *partition, *account, *qos;
        int64_t cpus, memory_mb, time_limit_min; /* -1 = unset */
        char *gres;                              /* "gpu:2" / "gpu:a100:1" or NULL */
        int64_t uid;                             /* -1 = ferryd's own */
        /* added by the translator (doc/slurm-backend.md): */
        char *flavor;           /* the chosen flavor, NULL = none */
        char **runtime_options; /* checked slurm-job.vk.io/singularity-options, argv items */
        size_t n_runtime_options;
        struct runner_bind *binds; /* checked slurm-job.vk.io/singularity-mounts */
        size_t n_binds;
        char *image_root; /* the site's, or the checked slurm-job.vk.io/image-root */
        char **notes;     /* sentences worth an event, e.g. "runAsUser 1000 is ignored ..." */
        size_t n_notes;
        /* the pod's run spec (already checked against the runtime); spec->pre_exec is the
         * admin-enabled slurm-job.vk.io/pre-exec, which ferry-shim runs with /bin/sh -c
         * before any container (NULL = none) */
        struct runner_runspec *spec;
        enum runner_runtime_kind runtime;
};

int slurm_job_from_pod(const struct ferry_pod *pod, const struct slurm_site *site,
                       struct slurm_job **ret, ferry_error_t *err);
void slurm_job_free(struct slurm_job *j);
/* Canonical JSON of the job without spec (golden files). */
void slurm_job_to_json(struct ferry_buf *b, const struct slurm_job *j);
/* The runtime configuration for building the execs of j->spec with
 * runner_exec_build(): pointers borrow from j and site; hostfs is left empty
 * (the caller sets it: bwrap needs the compute node's tree). */
void slurm_job_rtconf(const struct slurm_job *j, const struct slurm_site *site,
                      struct runner_rtconf *ret);
/* POSIX single-quote quoting ('it'\''s'); returns a new string. */
char *slurm_shell_quote(const char *s);

#endif
