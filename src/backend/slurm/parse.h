/* SPDX-License-Identifier: MIT */
/*
 * Parsers for the output of Slurm's batch tools, and the mapping of Slurm job
 * states to pod/container states. Pure (no I/O), bounded, fuzzed
 * (tests/fuzz/fuzz_slurm.c). The command lines they expect:
 *
 *   sbatch --parsable ...                     -> "12345" or "12345;cluster"
 *   squeue -h -a -t all -o '%i|%j|%T|%r|%S|%e|%u'
 *   sacct -P -n -X -o JobID,JobName,State,ExitCode,Start,End
 *   sinfo -h -N -O 'NodeHost:|,CPUsState:|,AllocMem:|,Memory:|,Gres:|,GresUsed:|,StateCompact:'
 *
 * Run squeue and sacct with TZ=UTC (and SLURM_TIME_FORMAT unset or
 * "standard"): their times carry no zone and are read as UTC. Job names may
 * hold '|' (other users' jobs appear with -a): the free-text name field is
 * found by counting fields from both ends.
 *
 * Ownership: parse results own their strings; free with the matching
 * _free(). Warnings on sbatch's stderr are not this module's business: only
 * stdout is parsed.
 */
#ifndef FERRY_SLURM_PARSE_H
#define FERRY_SLURM_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define SLURM_PARSE_MAX_JOBS 200000  /* lines of squeue/sacct output */
#define SLURM_PARSE_MAX_NODES 100000 /* lines of sinfo output */
#define SLURM_PARSE_MAX_LINE 8192

enum slurm_state {
        SLURM_ST_UNKNOWN = 0,
        SLURM_ST_PENDING,
        SLURM_ST_CONFIGURING,
        SLURM_ST_RUNNING,
        SLURM_ST_RESIZING,
        SLURM_ST_SUSPENDED,
        SLURM_ST_STOPPED,
        SLURM_ST_SIGNALING,
        SLURM_ST_STAGE_OUT,
        SLURM_ST_COMPLETING,
        SLURM_ST_COMPLETED,
        SLURM_ST_FAILED,
        SLURM_ST_TIMEOUT,
        SLURM_ST_OUT_OF_MEMORY,
        SLURM_ST_CANCELLED,
        SLURM_ST_NODE_FAIL,
        SLURM_ST_PREEMPTED,
        SLURM_ST_BOOT_FAIL,
        SLURM_ST_DEADLINE,
        SLURM_ST_REQUEUED,
        SLURM_ST_REQUEUE_HOLD,
        SLURM_ST_REQUEUE_FED,
        SLURM_ST_RESV_DEL_HOLD,
        SLURM_ST_SPECIAL_EXIT,
        SLURM_ST_REVOKED,
};

/* Long names ("PENDING", "CANCELLED by 1000", "CANCELLED+") and compact
 * codes ("PD", "R", "CG", "TO", "OOM", ...). Unknown text -> SLURM_ST_UNKNOWN. */
enum slurm_state slurm_state_parse(const char *s);
const char *slurm_state_name(enum slurm_state st);

enum slurm_phase {
        SLURM_PHASE_WAITING,    /* pod Pending, containers Waiting */
        SLURM_PHASE_RUNNING,    /* containers as the shim's files say */
        SLURM_PHASE_TERMINATED, /* the job ended */
};

#define SLURM_REASON_MAX 64
#define SLURM_MESSAGE_MAX 256

struct slurm_pod_state {
        enum slurm_phase phase;
        /* Reason for the pod and for every container the shim did not record
         * (Kubernetes CamelCase: "SlurmResources", "SlurmJobTimeout",
         * "OOMKilled"); "" when from_files. */
        char reason[SLURM_REASON_MAX];
        char message[SLURM_MESSAGE_MAX]; /* a sentence with Slurm's own words */
        /* true: the job ran to its end (COMPLETED/FAILED) or runs: exit codes,
         * times and reasons come from the shim's files in the workdir; the
         * reason above only applies to containers without a file. */
        bool from_files;
};

/* (state, squeue reason such as "Resources", "Priority", "ReqNodeNotAvail,
 * UnavailableNodes:n1", "None") -> what the pod shows. Never fails. */
void slurm_state_map(enum slurm_state st, const char *slurm_reason, struct slurm_pod_state *ret);

/* ---- sbatch --parsable ---- */

/* The job id from sbatch's stdout (the last line that is "<id>" or
 * "<id>;<cluster>"; anything else on stdout is ignored). cluster may be NULL;
 * when given it receives the cluster name or "". -EINVAL without an id. */
int slurm_parse_sbatch(const char *out, size_t len, uint64_t *ret_id, char *cluster,
                       size_t cluster_size, ferry_error_t *err);

/* ---- squeue / sacct ---- */

struct slurm_job_info {
        char *id; /* "12345", "12345_7" (array), "12345+0" (het) */
        char *name;
        enum slurm_state state;
        char *state_text;           /* as printed ("CANCELLED by 1000") */
        char *reason;               /* squeue only, else NULL */
        char *user;                 /* squeue only, else NULL */
        int64_t start_s, end_s;     /* UTC epoch seconds; -1 = N/A, Unknown, None */
        int exit_code, exit_signal; /* sacct only ("2:0"), else -1 */
};

struct slurm_job_list {
        struct slurm_job_info *jobs;
        size_t n;
};

/* Lines that do not parse are skipped and counted in *ret_bad (may be NULL):
 * one odd line must not hide every other job. -E2BIG past the limits. */
int slurm_parse_squeue(const char *out, size_t len, struct slurm_job_list *ret, size_t *ret_bad,
                       ferry_error_t *err);
/* sacct: only whole-job lines (step lines "123.batch", "123.0" are skipped). */
int slurm_parse_sacct(const char *out, size_t len, struct slurm_job_list *ret, size_t *ret_bad,
                      ferry_error_t *err);
void slurm_job_list_free(struct slurm_job_list *l);
/* The entry for a job name (the pod uid); with several (requeued or resubmitted
 * jobs) the one with the highest job id. NULL when absent. */
const struct slurm_job_info *slurm_job_list_find(const struct slurm_job_list *l, const char *name);

/* "2024-01-10T10:00:05" in the local time zone (of ferryd, which squeue and
 * sacct inherit: they print local time) -> epoch seconds; "N/A", "Unknown", "None", ""
 * -> -1. -EINVAL on anything else. */
int slurm_parse_time(const char *s, int64_t *ret_s);

/* ---- sinfo capacity ---- */

struct slurm_gpu_count {
        char *type; /* "gpu:a100", "gpu:1g.10gb", or "gpu" when untyped */
        int64_t total, used;
};

struct slurm_capacity {
        size_t nodes;        /* distinct nodes listed */
        size_t usable_nodes; /* not down, drained, failing, in maintenance, or not responding */
        int64_t cpus_total, cpus_free; /* free = idle CPUs of usable nodes */
        int64_t mem_total_mb, mem_free_mb;
        struct slurm_gpu_count *gpus; /* GPU GRES of usable nodes, by type, sorted */
        size_t n_gpus;
};

int slurm_parse_sinfo(const char *out, size_t len, struct slurm_capacity *ret, size_t *ret_bad,
                      ferry_error_t *err);
void slurm_capacity_clear(struct slurm_capacity *c);

#endif
