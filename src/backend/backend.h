/* SPDX-License-Identifier: MIT */
/*
 * Execution backends behind one ops table (after flux-core's job-exec and
 * Slurm's interfaces/plugins split).
 *
 * ferryd's core never calls ops directly: it calls the ferry_backend_*()
 * wrappers in backend.c, which check arguments, time the call, count errors
 * for /metrics and log. A backend is one `static const struct
 * ferry_backend_ops` with designated initializers; optional ops are NULL.
 * Built-in backends are listed in one static array (ferry_backend_lookup).
 *
 * Threading: the core calls submit/kill/cleanup from its worker threads and
 * poll/capacity from the poller; backends must be safe for concurrent calls.
 */
#ifndef FERRY_BACKEND_H
#define FERRY_BACKEND_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/histogram.h"
#include "common/error.h"
#include "gpu/alloc.h"
#include "pod/pod.h"
#include "pod/status.h"

struct ferry_backend;

struct ferry_capacity {
        int64_t cpu_milli;    /* free CPU, milli-cores */
        int64_t memory_bytes; /* free memory */
        int64_t pods;         /* how many more pods may be accepted */
        /* what the site has in all, used or not (site admission counts against
         * these, src/daemon/admit.c); -1 = not known */
        int64_t total_cpu_milli, total_memory_bytes, total_pods;
        size_t n_accel;
        struct {
                char resource[64]; /* e.g. nvidia.com/gpu, nvidia.com/mig-1g.10gb */
                int64_t available;
                int64_t total;
        } accel[16];
        char status[256]; /* human note, e.g. "cluster reports no CPUs" */
};

/* One live pod handed to poll. `status` holds the last known status (with the
 * container names set); the backend updates it in place. */
struct ferry_poll_item {
        const char *uid;
        const char *jid;
        struct ferry_pod_status *status;
};

/* A submit that must wait for resources other pods hold (see submit). */
#define FERRY_BACKEND_WAIT (-ENOBUFS)

struct ferry_backend_ops {
        const char *name;
        /* Set up: read options, create directories. Required. */
        int (*init)(struct ferry_backend *be, ferry_error_t *err);
        void (*fini)(struct ferry_backend *be);
        /* Start the pod. Must be idempotent per uid: when a job for this pod
         * already exists, answer its id and start nothing. Required.
         * FERRY_BACKEND_WAIT: the pod fits this backend, but what it needs is
         * held by other pods now; err reads "Reason: message" (Reason one
         * CamelCase word, e.g. GPUUnavailable). The core keeps the pod Pending
         * with that reason and submits it again at every poll, oldest first. */
        int (*submit)(struct ferry_backend *be, const struct ferry_pod *pod,
                      char ret_jid[FERRY_JID_MAX], ferry_error_t *err);
        /* Reattach after a restart: 1 and the job id when a job for uid exists,
         * 0 when none does. Optional (then submit must be idempotent alone). */
        int (*find)(struct ferry_backend *be, const char *uid, char ret_jid[FERRY_JID_MAX],
                    ferry_error_t *err);
        /* Update the status of all given live pods in one pass. Required. */
        int (*poll)(struct ferry_backend *be, struct ferry_poll_item *items, size_t n,
                    ferry_error_t *err);
        /* Stop a pod: SIGTERM (or equivalent), SIGKILL after grace_s. Returns 0
         * once nothing of it runs any more, -EINPROGRESS while it is stopping
         * (the core calls again). Required. */
        int (*kill)(struct ferry_backend *be, const char *uid, const char *jid, int64_t grace_s,
                    ferry_error_t *err);
        /* Remove the pod's working files after it was deleted. Optional. */
        int (*cleanup)(struct ferry_backend *be, const char *uid, const char *jid,
                       ferry_error_t *err);
        /* Free capacity for the ping answer. Optional. */
        int (*capacity)(struct ferry_backend *be, struct ferry_capacity *ret, ferry_error_t *err);
        /* Path of a container's log file in the common log format (see
         * logs/logfile.h). -ENOENT when the container has no log (yet). */
        int (*log_path)(struct ferry_backend *be, const char *uid, const char *jid,
                        const char *container, char *ret_path, size_t size, ferry_error_t *err);
        /* The devices a submitted pod holds for its life ("GPU-...,MIG-..."),
         * for the pod's record; "" when none. Optional. */
        void (*devices)(struct ferry_backend *be, const char *uid, char *ret, size_t size);
        /* What an ended pod's containers used (st: their names): CPU time in
         * ns summed, the largest peak memory; -1 where not known. Optional. */
        void (*usage)(struct ferry_backend *be, const char *uid, const struct ferry_pod_status *st,
                      int64_t *ret_cpu_ns, int64_t *ret_mem_peak);
};

struct ferry_backend_option {
        char *key;
        char *value;
};

struct ferry_backend_config {
        const char *name;        /* backend name */
        const char *state_dir;   /* ferryd's state directory; backends make subdirs */
        const char *runtime;     /* container runtime chosen by the admin (local/slurm) */
        const char *libexec_dir; /* where ferry-shim lives */
        const struct ferry_backend_option *options; /* backend-specific, from config */
        size_t n_options;
        /* ferryd's own files and directories (config, tokens, TLS key, state
         * directory, sockets): never shown to a pod. Owned by the caller, alive
         * as long as the backend. */
        const char *const *private_paths;
        size_t n_private_paths;
};

enum ferry_backend_op {
        FERRY_BOP_SUBMIT,
        FERRY_BOP_FIND,
        FERRY_BOP_POLL,
        FERRY_BOP_KILL,
        FERRY_BOP_CLEANUP,
        FERRY_BOP_CAPACITY,
        FERRY_BOP_LOG_PATH,
        FERRY_BOP_MAX,
};

/* Per operation: calls (the histogram's count), failures, latency. */
struct ferry_backend_stats {
        struct ferry_hist lat[FERRY_BOP_MAX];
        atomic_uint_least64_t errors[FERRY_BOP_MAX];
};

struct ferry_backend {
        const struct ferry_backend_ops *ops;
        struct ferry_backend_config cfg;
        void *priv; /* the backend's own state, set by init */
        struct ferry_backend_stats stats;
};

/* Registry of built-in backends. NULL when unknown. */
const struct ferry_backend_ops *ferry_backend_lookup(const char *name);
/* Comma-separated list of built-in names, for --help and errors. */
const char *ferry_backend_names(void);

/* Look up a backend option; def when absent. */
const char *ferry_backend_opt(const struct ferry_backend *be, const char *key, const char *def);
int64_t ferry_backend_opt_int(const struct ferry_backend *be, const char *key, int64_t def);
/* container_log_max_size (a quantity, default 10Mi) and container_log_max_files
 * (default 5): the kubelet's containerLogMaxSize/Files, for ferry-shim. */
int ferry_backend_log_opts(const struct ferry_backend *be, int64_t *ret_size, int *ret_files,
                           ferry_error_t *err);
/* The GPUs a pod holds while it runs, by resource name (nvidia.com/gpu,
 * nvidia.com/mig-<profile>): per container its limit, else its request; the
 * pod's is the larger of its app containers' sum and its largest init
 * container (init containers run one at a time, before the others).
 * -E2BIG when it names more GPU resources than a request holds. */
int ferry_backend_gpu_request(const struct ferry_pod *pod, struct ferry_gpu_request *ret,
                              ferry_error_t *err);

/* Wrappers: the only way the core calls a backend. */
int ferry_backend_new(const struct ferry_backend_config *cfg, struct ferry_backend **ret,
                      ferry_error_t *err);
void ferry_backend_free(struct ferry_backend *be);
/* ops->devices, or "" when the backend has none. */
void ferry_backend_devices(struct ferry_backend *be, const char *uid, char *ret, size_t size);
void ferry_backend_usage(struct ferry_backend *be, const char *uid,
                         const struct ferry_pod_status *st, int64_t *ret_cpu_ns,
                         int64_t *ret_mem_peak);
int ferry_backend_submit(struct ferry_backend *be, const struct ferry_pod *pod,
                         char ret_jid[FERRY_JID_MAX], ferry_error_t *err);
int ferry_backend_find(struct ferry_backend *be, const char *uid, char ret_jid[FERRY_JID_MAX],
                       ferry_error_t *err);
int ferry_backend_poll(struct ferry_backend *be, struct ferry_poll_item *items, size_t n,
                       ferry_error_t *err);
int ferry_backend_kill(struct ferry_backend *be, const char *uid, const char *jid, int64_t grace_s,
                       ferry_error_t *err);
int ferry_backend_cleanup(struct ferry_backend *be, const char *uid, const char *jid,
                          ferry_error_t *err);
int ferry_backend_capacity(struct ferry_backend *be, struct ferry_capacity *ret,
                           ferry_error_t *err);
int ferry_backend_log_path(struct ferry_backend *be, const char *uid, const char *jid,
                           const char *container, char *ret_path, size_t size, ferry_error_t *err);
const char *ferry_backend_op_name(enum ferry_backend_op op);
/* Prometheus text: ferry_backend_calls_total, _errors_total and
 * _call_duration_seconds by backend and operation. */
void ferry_backend_metrics(struct ferry_backend *be, struct ferry_buf *out);

/* Built-ins (defined in their own files). */
extern const struct ferry_backend_ops ferry_backend_fake_ops;
extern const struct ferry_backend_ops ferry_backend_local_ops;
extern const struct ferry_backend_ops ferry_backend_slurm_ops;

#endif
