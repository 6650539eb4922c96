/* SPDX-License-Identifier: MIT */
/*
 * The usage ledger in ferryd (issue 12, spec/usage.md): one record per pod,
 * written when it ends (src/usage builds and reads the records). Called by
 * the poller with no lock of the pod table held, before the pod's final
 * status is queued: the store commits in queue order, so a pod whose end is
 * stored has its record, and one whose end was lost in a crash is seen to
 * end again and recorded then (a second record of a uid is ignored).
 */
#ifndef FERRY_LEDGER_H
#define FERRY_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"
#include "pod/status.h"
#include "store/store.h"

/* The pod label or annotation that names a pod's user. */
#define FERRY_LEDGER_USER_KEY "ferry.io/user"

/* The ledger's Prometheus counters (ferry_usage_*_total): started from the
 * store's sums, grown with each record written, so that they equal the
 * ledger by construction. Safe for concurrent calls. */
struct ferry_ledger_counters;
struct ferry_ledger_counters *ferry_ledger_counters_new(struct ferry_store *store);
void ferry_ledger_counters_free(struct ferry_ledger_counters *c);
void ferry_ledger_counters_metrics(struct ferry_ledger_counters *c, struct ferry_buf *out);

struct ferry_ledger_pod {
        const char *uid, *ns, *name, *jid;
        const char *tenant; /* site admission's tenant; NULL: the namespace */
        int64_t created_ns;
        const struct ferry_pod_status *st; /* its final status, entries unpacked */
        bool deleted;                      /* stopped by a delete before it ended */
};

/* Build the pod's record (its spec from the store for the user and
 * requests, the GPUs it held from its devices event, CPU and memory from
 * the backend) and queue it. */
void ferry_ledger_write(struct ferry_store *store, struct ferry_backend *be,
                        const struct ferry_limits *limits, struct ferry_ledger_counters *counters,
                        const struct ferry_ledger_pod *lp);
/* The user a stored pod names (FERRY_LEDGER_USER_KEY), NULL when none; to free. */
char *ferry_ledger_user(struct ferry_store *store, const struct ferry_limits *limits,
                        const char *uid);

#endif
