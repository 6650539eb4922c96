/* SPDX-License-Identifier: MIT */
/*
 * Pod and container status as ferryd tracks it, and its interLink JSON form
 * (PodStatus with Kubernetes ContainerStatus entries).
 *
 * Kept small on purpose: ferryd holds one per live or remembered pod in memory
 * (100,000 pods must fit in well under 100 MB). Strings that are usually empty
 * (message) are heap-allocated only when set; struct ferry_pod_status owns them.
 */
#ifndef FERRY_STATUS_H
#define FERRY_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define FERRY_NAME_MAX 64 /* DNS label (63) + NUL */
#define FERRY_REASON_MAX 32
#define FERRY_JID_MAX 64

enum ferry_phase {
        FERRY_PHASE_PENDING,
        FERRY_PHASE_RUNNING,
        FERRY_PHASE_SUCCEEDED,
        FERRY_PHASE_FAILED,
        FERRY_PHASE_UNKNOWN,
        FERRY_PHASE_MAX,
};

enum ferry_cstate {
        FERRY_C_WAITING,
        FERRY_C_RUNNING,
        FERRY_C_TERMINATED,
};

struct ferry_cstatus {
        char name[FERRY_NAME_MAX];
        char
            reason[FERRY_REASON_MAX]; /* waiting/terminated reason, e.g. ContainerCreating, Error */
        char *message;                /* NULL or heap string */
        int64_t started_ns;           /* 0 = never started */
        int64_t finished_ns;          /* 0 = not finished */
        int32_t exit_code;
        int16_t signal;
        uint8_t state; /* enum ferry_cstate */
        bool ready;
        int32_t restart_count;
};

struct ferry_pod_status {
        uint8_t phase; /* enum ferry_phase */
        uint16_t n_init;
        uint16_t n_containers;
        char reason[FERRY_REASON_MAX]; /* pod-level reason (e.g. ProviderFailed) */
        char *message;                 /* pod-level message, NULL or heap */
        struct ferry_cstatus *c;       /* n_init + n_containers entries, init first */
};

const char *ferry_phase_name(enum ferry_phase p);
int ferry_phase_from_name(const char *s); /* -EINVAL if unknown */

/* Allocate entries for the given containers (names copied), all Waiting with
 * reason "ContainerCreating". */
void ferry_pod_status_init(struct ferry_pod_status *st, const char *const *init_names,
                           size_t n_init, const char *const *names, size_t n);
void ferry_pod_status_copy(struct ferry_pod_status *dst, const struct ferry_pod_status *src);
/* Make dst equal to src, reusing dst's allocations where the layout matches
 * (keeps long-lived statuses in the arena they were allocated in). */
void ferry_pod_status_assign(struct ferry_pod_status *dst, const struct ferry_pod_status *src);
void ferry_pod_status_clear(struct ferry_pod_status *st);
bool ferry_pod_status_equal(const struct ferry_pod_status *a, const struct ferry_pod_status *b);
void ferry_cstatus_set_message(struct ferry_cstatus *c, const char *msg);
void ferry_pod_status_set_message(struct ferry_pod_status *st, const char *msg);
struct ferry_cstatus *ferry_pod_status_find(struct ferry_pod_status *st, const char *name);

/* Derive the pod phase from container states the way the kubelet does for
 * restartPolicy Never: a failed init container fails the pod; all containers
 * terminated -> Succeeded if all exited 0, else Failed; any started -> Running. */
enum ferry_phase ferry_pod_status_derive_phase(const struct ferry_pod_status *st);

/* Compact form of the container entries (about 40 bytes per container
 * instead of ~150), for the long-lived records of finished pods. pack returns a
 * heap block; unpack fills st->c (allocated) for st->n_init + st->n_containers
 * entries; -EINVAL on a corrupt block. */
unsigned char *ferry_pod_status_pack(const struct ferry_pod_status *st);
int ferry_pod_status_unpack(const unsigned char *packed, struct ferry_pod_status *st);

/* Append one interLink PodStatus JSON object. */
void ferry_pod_status_to_json(struct ferry_buf *b, const char *name, const char *uid,
                              const char *ns, const char *jid, const struct ferry_pod_status *st);

/* Compact serialisation for the store (JSON); parse returns -EINVAL on junk. */
void ferry_pod_status_serialize(struct ferry_buf *b, const struct ferry_pod_status *st);
int ferry_pod_status_deserialize(const char *s, struct ferry_pod_status *st);

#endif
