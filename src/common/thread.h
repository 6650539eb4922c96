/* SPDX-License-Identifier: MIT */
/*
 * Condition variables on CLOCK_MONOTONIC, and the one deadline wait every
 * loop uses: a deadline is an absolute ferry_monotonic_ns() value, so a step
 * of the wall clock (NTP, an admin's date) neither stretches nor cuts a wait.
 */
#ifndef FERRY_THREAD_H
#define FERRY_THREAD_H

#include <pthread.h>
#include <stdint.h>

#define FERRY_NSEC_PER_SEC 1000000000LL
#define FERRY_NSEC_PER_MSEC 1000000LL

/* pthread_cond_init with the monotonic clock: every cond_t that is waited
 * on with a deadline must be created by this. */
void ferry_cond_init(pthread_cond_t *c);
/* Wait on c (m held) until signalled or until deadline_ns, an absolute
 * ferry_monotonic_ns() time (<= now: no wait). Returns 0 when signalled (or
 * spuriously woken), ETIMEDOUT when the deadline passed; callers re-check
 * their condition either way. */
int ferry_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t deadline_ns);
/* Relative form: a deadline of now + ms. */
int ferry_cond_wait_ms(pthread_cond_t *c, pthread_mutex_t *m, int64_t ms);

#endif
