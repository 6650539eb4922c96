/* SPDX-License-Identifier: MIT */
/*
 * The ferry-node engine's base: what the node loop (nodeloop.c) and the
 * orphan sweep (orphans.c) need of the engine, below them and below vk.c, so
 * that the files depend one way: vk.c starts the loops, the loops use only
 * this (and vkmetrics.c), never vk.c. See vk_internal.h.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "common/thread.h"
#include "node/vk_internal.h"

const char *ferry_vk_sget(const json_t *o, const char *k)
{
        return json_string_value(json_object_get(o, k));
}

void ferry_vk_now_text(char buf[FERRY_TIME_MAX])
{
        ferry_time_format(ferry_now_ns(), 0, buf);
}

void ferry_vk_sleep_until(struct ferry_vk *vk, int64_t deadline_mono_ns)
{
        pthread_mutex_lock(&vk->lock);
        while (!vk->stopping && !atomic_load(&vk->stop_requested) &&
               ferry_monotonic_ns() < deadline_mono_ns) {
                /* a signal handler cannot signal the condition: look every second */
                int64_t until = ferry_monotonic_ns() + FERRY_NSEC_PER_SEC;
                ferry_cond_wait_until(&vk->loop_cv, &vk->lock,
                                      until < deadline_mono_ns ? until : deadline_mono_ns);
        }
        pthread_mutex_unlock(&vk->lock);
}

bool ferry_vk_stopping(struct ferry_vk *vk)
{
        pthread_mutex_lock(&vk->lock);
        bool s = vk->stopping || atomic_load(&vk->stop_requested);
        pthread_mutex_unlock(&vk->lock);
        return s;
}

void ferry_vk_request_stop(struct ferry_vk *vk)
{
        atomic_store(&vk->stop_requested, true);
}

int ferry_vk_ferryd(struct ferry_vk *vk, struct ferry_client **ret, ferry_error_t *err)
{
        struct ferry_client *c;
        int r = ferry_client_new(vk->cfg->ferryd_url, vk->cfg->ferryd_token_file, &c, err);
        if (r < 0)
                return r;
        if (vk->cfg->ferryd_ca)
                ferry_client_set_ca_file(c, vk->cfg->ferryd_ca);
        *ret = c;
        return 0;
}

bool ferry_vk_pod_known(struct ferry_vk *vk, const char *uid)
{
        pthread_mutex_lock(&vk->lock);
        bool known = ferry_hashmap_get(vk->pods, uid) != NULL;
        pthread_mutex_unlock(&vk->lock);
        return known;
}
