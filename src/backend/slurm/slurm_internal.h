/* SPDX-License-Identifier: MIT */
/*
 * Shared by the files of the Slurm backend's runtime half (not exported):
 * slurm.c (the ops: submit, find, poll, kill, cleanup, log_path), libslurm.c
 * (libslurm loaded with dlopen) and capacity.c (free CPUs, memory and GPUs
 * from sinfo or libslurm). See doc/slurm-runtime.md.
 *
 * Ownership: struct slurm_priv is the backend's be->priv, created and freed
 * by slurm.c; the others borrow it. The libslurm function table is filled
 * once (slurm_lib_available()) and never freed.
 */
#ifndef FERRY_SLURM_INTERNAL_H
#define FERRY_SLURM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "backend/slurm/job.h"
#include "common/error.h"
#include "common/spawn.h"

/* The struct layouts come from <slurm/slurm.h> at build time when it is
 * there; Ferry never links libslurm (libslurm.c loads it). */
#if defined(__has_include)
#if __has_include(<slurm/slurm.h>)
#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>
#define FERRY_HAVE_SLURM_H 1
#endif
#endif

#define TOOL_TIMEOUT_MS 30000
#define TOOL_OUT_MAX (16u << 20)

/* Job states, the same for both ways of asking Slurm. */
enum sstate {
        S_PENDING,
        S_RUNNING,
        S_SUSPENDED,
        S_COMPLETED,
        S_CANCELLED,
        S_FAILED,
        S_TIMEOUT,
        S_NODE_FAIL,
        S_PREEMPTED,
        S_BOOT_FAIL,
        S_DEADLINE,
        S_OOM,
        S_OTHER,
};

static inline bool sstate_terminal(int s)
{
        return s >= S_COMPLETED && s <= S_OOM;
}

struct sjob {
        uint32_t id;
        int state; /* enum sstate */
        bool completing;
        int restarts;
        char name[FERRY_JID_MAX];
        char reason[48]; /* pending reason */
};

/* All jobs Slurm knows, at one moment; shared read-only, refcounted. */
struct snap {
        atomic_int refs;
        int64_t at_ns;  /* monotonic time the query started */
        struct sjob *v; /* sorted by id */
        size_t n;
};

enum submit_mode { SUBMIT_AUTO, SUBMIT_LIBSLURM, SUBMIT_SBATCH };

struct slurm_priv {
        struct slurm_site *site;
        char *root, *pods, *tmp;
        bool use_lib; /* libslurm loaded and chosen */
        /* option cgroup_parent (runner/cgroup.h): where the shim on the node
         * makes the containers' cgroups, below the job's own; "off" = none */
        const char *cgroup_parent;
        int64_t log_max_size; /* container_log_max_size / _max_files */
        int log_max_files;
        enum submit_mode mode;
        int64_t max_pods;
        /* controller address for the reachability probe */
        char *ctld_host[4];
        char ctld_port[16];
        size_t n_ctld;

        pthread_mutex_t lock; /* protects everything below */
        struct snap *snap;
        int64_t last_ok_ns;     /* monotonic: last RPC/tool call that reached the controller */
        int64_t last_submit_ns; /* monotonic: end of the last submit call */
        bool down;              /* controller seen unreachable */
        char down_msg[256];
        pthread_mutex_t refresh_lock; /* one snapshot query at a time */
};

/* ---- libslurm (libslurm.c) ---- */

/* Loads libslurm once; false (why filled when not NULL) when it cannot be
 * used: built without <slurm/slurm.h>, FERRY_LIBSLURM=none, no readable
 * slurm.conf, no library, a missing symbol or another API version. */
bool slurm_lib_available(char *why, size_t size);

#ifdef FERRY_HAVE_SLURM_H
/* The functions Ferry uses, valid once slurm_lib_available() said true. */
struct slurm_lib {
        void *h;
        bool ok;
        char why[256];
        typeof(slurm_init) *init;
        typeof(slurm_init_job_desc_msg) *init_job_desc_msg;
        typeof(slurm_submit_batch_job) *submit_batch_job;
        typeof(slurm_free_submit_response_response_msg) *free_submit_response;
        typeof(slurm_load_jobs) *load_jobs;
        typeof(slurm_free_job_info_msg) *free_job_info_msg;
        typeof(slurm_kill_job) *kill_job;
        typeof(slurm_load_node) *load_node;
        typeof(slurm_free_node_info_msg) *free_node_info_msg;
        typeof(slurm_get_select_nodeinfo) *get_select_nodeinfo;
        typeof(slurm_get_errno) *get_errno;
        typeof(slurm_strerror) *strerror;
        typeof(slurm_api_version) *api_version;
        char *(*reason_string)(int); /* slurm_job_reason_string, not in slurm.h */
};
extern struct slurm_lib slurm_lib;

/* A libslurm error as -errno: unreachable controller -> -EAGAIN. */
int slurm_lib_error(int e);
/* A libslurm job state as enum sstate. */
int slurm_lib_state(uint32_t s);
#endif

/* ---- controller and tools (slurm.c) ---- */

/* 0 when an RPC may go out now, -EAGAIN (err set) when the controller is
 * known to be unreachable. */
int slurm_ctld_check(struct slurm_priv *p, ferry_error_t *err);
/* An RPC or tool call reached the controller. */
void slurm_ctld_ok(struct slurm_priv *p);
/* The controller is unreachable (why): remembered, logged once; -EAGAIN. */
int slurm_ctld_failed(struct slurm_priv *p, ferry_error_t *err, const char *why);
/* stderr of a Slurm tool that means "try later" */
bool slurm_tool_transient(const char *s);
/* The last non-empty line of s (NULL: "") into out. */
void slurm_last_line(const char *s, char *out, size_t size);
/* A batch tool exited non-zero: a controller outage becomes -EAGAIN (through
 * slurm_ctld_failed), anything else errnum with "<what>: <its last stderr line>".
 * Frees res. */
int slurm_tool_failed(struct slurm_priv *p, struct ferry_spawn_result *res, int errnum,
                      const char *what, ferry_error_t *err);

/* ---- capacity (capacity.c) ---- */

/* The ops' capacity: free CPUs, memory and GPUs (by type) of the usable
 * nodes; unknown stays -1 with a status sentence, never 0. */
int slurm_capacity(struct ferry_backend *be, struct ferry_capacity *ret, ferry_error_t *err);

#endif
