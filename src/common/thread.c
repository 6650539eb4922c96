/* SPDX-License-Identifier: MIT */
#include "thread.h"

#include <errno.h>
#include <time.h>

#include "util.h"

void ferry_cond_init(pthread_cond_t *c)
{
        pthread_condattr_t a;
        pthread_condattr_init(&a);
        pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        pthread_cond_init(c, &a);
        pthread_condattr_destroy(&a);
}

int ferry_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t deadline_ns)
{
        if (deadline_ns <= ferry_monotonic_ns())
                return ETIMEDOUT;
        struct timespec ts = {
            .tv_sec = (time_t)(deadline_ns / FERRY_NSEC_PER_SEC),
            .tv_nsec = (long)(deadline_ns % FERRY_NSEC_PER_SEC),
        };
        return pthread_cond_timedwait(c, m, &ts);
}

int ferry_cond_wait_ms(pthread_cond_t *c, pthread_mutex_t *m, int64_t ms)
{
        return ferry_cond_wait_until(c, m, ferry_monotonic_ns() + ms * FERRY_NSEC_PER_MSEC);
}
