/* SPDX-License-Identifier: MIT */
/*
 * libslurm, loaded at run time with dlopen (see slurm_internal.h and
 * doc/slurm-runtime.md): Ferry builds and runs without it, and declares only
 * the functions it calls; the struct layouts come from <slurm/slurm.h> when
 * it was there at build time.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/slurm/slurm_internal.h"
#include "common/util.h"

#ifdef FERRY_HAVE_SLURM_H
struct slurm_lib slurm_lib;
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static const char *slurm_conf_path(void)
{
        const char *c = getenv("SLURM_CONF");
        return c && *c ? c : "/etc/slurm/slurm.conf";
}

static void lib_load(void)
{
        /* 22.05 headers <-> libslurm.so.38; other versions: the unversioned name */
        const char *names[] = {
#if SLURM_VERSION_NUMBER >= SLURM_VERSION_NUM(22, 5, 0) &&                                         \
    SLURM_VERSION_NUMBER < SLURM_VERSION_NUM(23, 0, 0)
                "libslurm.so.38",
#endif
                "libslurm.so",
        };
        const char *lp = getenv("FERRY_LIBSLURM");
        if (lp && !strcmp(lp, "none")) {
                snprintf(slurm_lib.why, sizeof(slurm_lib.why), "FERRY_LIBSLURM=none");
                return;
        }
        /* slurm_init() exits the process when it finds no configuration */
        if (access(slurm_conf_path(), R_OK) < 0) {
                snprintf(slurm_lib.why, sizeof(slurm_lib.why), "cannot read %s: %s",
                         slurm_conf_path(), strerror(errno));
                return;
        }
        /* GLOBAL: the plugins libslurm loads (select/cons_tres) resolve symbols in it */
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(names) && !slurm_lib.h; i++)
                slurm_lib.h = dlopen(lp && *lp ? lp : names[i], RTLD_NOW | RTLD_GLOBAL);
        if (!slurm_lib.h) {
                snprintf(slurm_lib.why, sizeof(slurm_lib.why), "cannot load libslurm: %s",
                         dlerror());
                return;
        }
#define SYM(field, name)                                                                           \
        do {                                                                                       \
                *(void **)&slurm_lib.field = dlsym(slurm_lib.h, name);                             \
                if (!slurm_lib.field) {                                                            \
                        snprintf(slurm_lib.why, sizeof(slurm_lib.why), "libslurm lacks %s", name); \
                        return;                                                                    \
                }                                                                                  \
        } while (0)
        SYM(init, "slurm_init");
        SYM(init_job_desc_msg, "slurm_init_job_desc_msg");
        SYM(submit_batch_job, "slurm_submit_batch_job");
        SYM(free_submit_response, "slurm_free_submit_response_response_msg");
        SYM(load_jobs, "slurm_load_jobs");
        SYM(free_job_info_msg, "slurm_free_job_info_msg");
        SYM(kill_job, "slurm_kill_job");
        SYM(load_node, "slurm_load_node");
        SYM(free_node_info_msg, "slurm_free_node_info_msg");
        SYM(get_select_nodeinfo, "slurm_get_select_nodeinfo");
        SYM(get_errno, "slurm_get_errno");
        SYM(strerror, "slurm_strerror");
        SYM(api_version, "slurm_api_version");
#undef SYM
        *(void **)&slurm_lib.reason_string = dlsym(slurm_lib.h, "slurm_job_reason_string");
#if SLURM_VERSION_NUMBER >= SLURM_VERSION_NUM(22, 5, 0) &&                                         \
    SLURM_VERSION_NUMBER < SLURM_VERSION_NUM(23, 0, 0)
        long v = slurm_lib.api_version();
        if (SLURM_VERSION_MAJOR(v) != 38) {
                snprintf(slurm_lib.why, sizeof(slurm_lib.why),
                         "libslurm API %ld does not match the 22.05 headers Ferry was built with",
                         SLURM_VERSION_MAJOR(v));
                return;
        }
#endif
        slurm_lib.init(NULL);
        slurm_lib.ok = true;
}

bool slurm_lib_available(char *why, size_t size)
{
        pthread_once(&lib_once, lib_load);
        if (!slurm_lib.ok && why)
                snprintf(why, size, "%s", slurm_lib.why);
        return slurm_lib.ok;
}

int slurm_lib_error(int e)
{
        switch (e) {
        case SLURM_COMMUNICATIONS_CONNECTION_ERROR:
        case SLURM_COMMUNICATIONS_SEND_ERROR:
        case SLURM_COMMUNICATIONS_RECEIVE_ERROR:
        case SLURM_COMMUNICATIONS_SHUTDOWN_ERROR:
        case SLURMCTLD_COMMUNICATIONS_CONNECTION_ERROR:
        case SLURMCTLD_COMMUNICATIONS_SEND_ERROR:
        case SLURMCTLD_COMMUNICATIONS_RECEIVE_ERROR:
        case SLURMCTLD_COMMUNICATIONS_SHUTDOWN_ERROR:
        case SLURM_PROTOCOL_SOCKET_IMPL_TIMEOUT:
        case ESLURM_ERROR_ON_DESC_TO_RECORD_COPY: /* controller busy: sbatch retries too */
        case EAGAIN:
        case ETIMEDOUT:
        case ECONNREFUSED:
        case ECONNRESET: return -EAGAIN;
        case ESLURM_INVALID_JOB_ID:
        case ESLURM_ALREADY_DONE: return -ENOENT;
        default: return -EINVAL;
        }
}

int slurm_lib_state(uint32_t s)
{
        switch (s & JOB_STATE_BASE) {
        case JOB_PENDING: return S_PENDING;
        case JOB_RUNNING: return S_RUNNING;
        case JOB_SUSPENDED: return S_SUSPENDED;
        case JOB_COMPLETE: return S_COMPLETED;
        case JOB_CANCELLED: return S_CANCELLED;
        case JOB_FAILED: return S_FAILED;
        case JOB_TIMEOUT: return S_TIMEOUT;
        case JOB_NODE_FAIL: return S_NODE_FAIL;
        case JOB_PREEMPTED: return S_PREEMPTED;
        case JOB_BOOT_FAIL: return S_BOOT_FAIL;
        case JOB_DEADLINE: return S_DEADLINE;
        case JOB_OOM: return S_OOM;
        default: return S_OTHER;
        }
}
#else
bool slurm_lib_available(char *why, size_t size)
{
        if (why)
                snprintf(why, size, "Ferry was built without <slurm/slurm.h> (libslurm-dev)");
        return false;
}
#endif
