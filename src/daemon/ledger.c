/* SPDX-License-Identifier: MIT */
/* The usage ledger in ferryd: see ledger.h. */
#include "ledger.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/alloc.h"
#include "pod/pod.h"
#include "tenancy/tenancy.h"
#include "usage/usage.h"

/* the label, else the annotation, FERRY_LEDGER_USER_KEY */
static const char *user_of(const struct ferry_pod *pod)
{
        for (size_t i = 0; i < pod->n_labels; i++)
                if (!strcmp(pod->labels[i].key, FERRY_LEDGER_USER_KEY))
                        return pod->labels[i].value;
        return ferry_pod_annotation(pod, FERRY_LEDGER_USER_KEY);
}

/* the MIG profile the pod asked for ("1g.10gb"), for its MIG- devices */
static const char *mig_profile_of(const struct ferry_pod *pod)
{
        const size_t pl = strlen(FERRY_GPU_MIG_PREFIX);
        for (size_t i = 0; i < (size_t)pod->n_init + pod->n_containers; i++) {
                const struct ferry_container *c = ferry_pod_container_at(pod, i);
                for (int pass = 0; pass < 2; pass++) {
                        const struct ferry_resources *r = pass ? &c->requests : &c->limits;
                        for (size_t k = 0; k < r->n_extended; k++)
                                if (!strncmp(r->extended[k].name, FERRY_GPU_MIG_PREFIX, pl))
                                        return r->extended[k].name + pl;
                }
        }
        return "";
}

/* how it ended, in spec/usage.md's words */
static const char *end_reason(const struct ferry_ledger_pod *lp)
{
        const struct ferry_pod_status *st = lp->st;
        if (st->phase == FERRY_PHASE_SUCCEEDED)
                return "Completed";
        if (st->reason[0] && strcmp(st->reason, "ProviderFailed") != 0)
                return st->reason; /* Preempted, DeadlineExceeded, Evicted... */
        if (lp->deleted)
                return "Deleted";
        for (size_t i = 0; st->c && i < (size_t)st->n_init + st->n_containers; i++)
                if (st->c[i].state == FERRY_C_TERMINATED && st->c[i].exit_code != 0 &&
                    st->c[i].reason[0])
                        return st->c[i].reason; /* OOMKilled, Error */
        return lp->deleted ? "Deleted" : st->reason[0] ? st->reason : "Error";
}

/* ---- counters ---- */

struct centry {
        char *tenant, *profile, *reason;
        double cpu_s, gpu_s;
        int64_t pods;
};

struct ferry_ledger_counters {
        pthread_mutex_t lock;
        struct centry *e;
        size_t n;
};

static void counters_add(void *ctx, const char *tenant, const char *profile, const char *reason,
                         double cpu_s, double gpu_s, int64_t pods)
{
        struct ferry_ledger_counters *c = ctx;
        size_t i;
        for (i = 0; i < c->n; i++)
                if (!strcmp(c->e[i].tenant, tenant) && !strcmp(c->e[i].profile, profile) &&
                    !strcmp(c->e[i].reason, reason))
                        break;
        if (i == c->n) {
                c->e = ferry_xrealloc(c->e, (c->n + 1) * sizeof(*c->e));
                c->e[c->n++] = (struct centry){.tenant = ferry_xstrdup(tenant),
                                               .profile = ferry_xstrdup(profile),
                                               .reason = ferry_xstrdup(reason)};
        }
        c->e[i].cpu_s += cpu_s;
        c->e[i].gpu_s += gpu_s;
        c->e[i].pods += pods;
}

struct ferry_ledger_counters *ferry_ledger_counters_new(struct ferry_store *store)
{
        struct ferry_ledger_counters *c = ferry_xcalloc(1, sizeof(*c));
        pthread_mutex_init(&c->lock, NULL);
        ferry_store_usage_totals(store, counters_add, c);
        return c;
}

void ferry_ledger_counters_free(struct ferry_ledger_counters *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->n; i++) {
                free(c->e[i].tenant);
                free(c->e[i].profile);
                free(c->e[i].reason);
        }
        free(c->e);
        pthread_mutex_destroy(&c->lock);
        free(c);
}

static void label(struct ferry_buf *out, const char *v)
{
        for (; *v; v++) {
                if (*v == '\\' || *v == '"')
                        ferry_buf_addc(out, '\\');
                if (*v == '\n')
                        ferry_buf_adds(out, "\\n");
                else
                        ferry_buf_addc(out, *v);
        }
}

/* name{tenant="...",KEY="..."} summed over the entries that share them */
static void series(struct ferry_ledger_counters *c, struct ferry_buf *out, const char *name,
                   bool by_reason, int what)
{
        bool *done = ferry_xcalloc(c->n + 1, sizeof(bool));
        for (size_t i = 0; i < c->n; i++) {
                if (done[i])
                        continue;
                const char *k = by_reason ? c->e[i].reason : c->e[i].profile;
                double v = 0;
                for (size_t j = i; j < c->n; j++) {
                        const char *kj = by_reason ? c->e[j].reason : c->e[j].profile;
                        if (done[j] || strcmp(c->e[j].tenant, c->e[i].tenant) || strcmp(kj, k))
                                continue;
                        done[j] = true;
                        v += what == 0   ? c->e[j].cpu_s
                             : what == 1 ? c->e[j].gpu_s
                                         : (double)c->e[j].pods;
                }
                ferry_buf_printf(out, "%s{tenant=\"", name);
                label(out, c->e[i].tenant);
                ferry_buf_printf(out, "\",%s=\"", by_reason ? "reason" : "profile");
                label(out, k);
                ferry_buf_printf(out, "\"} %.17g\n", v);
        }
        free(done);
}

void ferry_ledger_counters_metrics(struct ferry_ledger_counters *c, struct ferry_buf *out)
{
        if (!c)
                return;
        pthread_mutex_lock(&c->lock);
        ferry_buf_adds(out, "# HELP ferry_usage_cpu_seconds_total CPU seconds of ended pods, from "
                            "the usage ledger.\n"
                            "# TYPE ferry_usage_cpu_seconds_total counter\n");
        series(c, out, "ferry_usage_cpu_seconds_total", false, 0);
        ferry_buf_adds(out, "# HELP ferry_usage_gpu_seconds_total GPU seconds of ended pods (a "
                            "MIG slice counts its share of a GPU), from the usage ledger.\n"
                            "# TYPE ferry_usage_gpu_seconds_total counter\n");
        series(c, out, "ferry_usage_gpu_seconds_total", false, 1);
        ferry_buf_adds(out, "# HELP ferry_usage_pods_total Pods recorded in the usage ledger, by "
                            "how they ended.\n"
                            "# TYPE ferry_usage_pods_total counter\n");
        series(c, out, "ferry_usage_pods_total", true, 2);
        pthread_mutex_unlock(&c->lock);
}

/* ---- the record ---- */

void ferry_ledger_write(struct ferry_store *store, struct ferry_backend *be,
                        const struct ferry_limits *limits, struct ferry_ledger_counters *counters,
                        const struct ferry_ledger_pod *lp)
{
        if (ferry_store_has_usage(store, lp->uid))
                return; /* recorded before a crash; its end was seen again */
        struct ferry_usage_rec r = {0};
        struct ferry_pod *pod = NULL;
        ferry_error_t err = {{0}};
        char *body = NULL, *devices = NULL;
        size_t len = 0;
        int kind = 0;

        if (ferry_store_get_body(store, lp->uid, &body, &len, &kind, &err) == 0)
                ferry_pod_parse(body, len, (enum ferry_body_kind)kind, limits, &pod, &err);
        free(body);
        const struct ferry_pod_status *st = lp->st;
        r.uid = ferry_xstrdup(lp->uid);
        r.ns = ferry_xstrdup(lp->ns);
        r.name = ferry_xstrdup(lp->name);
        r.tenant = ferry_xstrdup(lp->tenant ? lp->tenant : lp->ns);
        const char *user = pod ? user_of(pod) : NULL;
        r.user = user && *user ? ferry_xstrdup(user) : NULL;
        r.backend = ferry_xstrdup(be->ops->name);
        r.job_id = lp->jid && *lp->jid ? ferry_xstrdup(lp->jid) : NULL;
        r.created_ns = lp->created_ns;
        for (size_t i = 0; st->c && i < (size_t)st->n_init + st->n_containers; i++) {
                const struct ferry_cstatus *c = &st->c[i];
                if (c->started_ns && (!r.started_ns || c->started_ns < r.started_ns))
                        r.started_ns = c->started_ns;
                if (c->finished_ns > r.finished_ns)
                        r.finished_ns = c->finished_ns;
                if (!r.exit_code && c->state == FERRY_C_TERMINATED && c->exit_code)
                        r.exit_code = c->exit_code;
        }
        if (!r.finished_ns || r.finished_ns < r.started_ns)
                r.finished_ns = ferry_now_ns();
        int64_t cpu_ns, mem;
        ferry_backend_usage(be, lp->uid, st, &cpu_ns, &mem);
        r.cpu_s = cpu_ns > 0 ? (double)cpu_ns / 1e9 : 0;
        r.memory_peak_bytes = mem;
        if (pod) { /* what it asked for, as the scheduler counts it */
                static const struct ferry_tn_config fixed = {
                    .n_res = FERRY_TN_FIXED, .res = {"cpu", "memory", "pods", "nvidia.com/gpu"}};
                struct ferry_tn_vec req;
                ferry_tn_pod_request(&fixed, pod, &req);
                r.cpu_request_milli = req.v[FERRY_TN_CPU];
                r.memory_request_bytes = req.v[FERRY_TN_MEMORY];
        }
        /* the devices it held for its whole run */
        double held = ferry_usage_wall(&r, r.finished_ns);
        if (ferry_store_get_event(store, lp->uid, "devices", &devices) == 0 && devices[0]) {
                for (char *save = NULL, *u = strtok_r(devices, ",", &save); u;
                     u = strtok_r(NULL, ",", &save)) {
                        r.gpus = ferry_xrealloc(r.gpus, (r.n_gpus + 1) * sizeof(*r.gpus));
                        struct ferry_usage_gpu *g = &r.gpus[r.n_gpus++];
                        memset(g, 0, sizeof(*g));
                        snprintf(g->uuid, sizeof(g->uuid), "%s", u);
                        snprintf(g->profile, sizeof(g->profile), "%s",
                                 strncmp(u, "MIG-", 4) != 0 ? "gpu"
                                 : pod                      ? mig_profile_of(pod)
                                                            : "");
                        g->seconds = held;
                }
        }
        free(devices);
        r.reason = ferry_xstrdup(end_reason(lp));
        struct ferry_buf line = FERRY_BUF_INIT;
        ferry_usage_rec_json(&r, r.finished_ns, &line);
        struct ferry_store_usage u = {
            .uid = r.uid,
            .namespace = r.ns,
            .tenant = r.tenant,
            .user = r.user,
            .reason = r.reason,
            .record = line.data,
            .finished_ns = r.finished_ns,
            .cpu_s = r.cpu_s,
            .gpu_s = ferry_usage_gpu_seconds(&r),
        };
        u.profile = r.n_gpus ? r.gpus[0].profile : "none";
        ferry_store_put_usage(store, &u);
        if (counters) {
                pthread_mutex_lock(&counters->lock);
                counters_add(counters, u.tenant ? u.tenant : "", u.profile, u.reason, u.cpu_s,
                             u.gpu_s, 1);
                pthread_mutex_unlock(&counters->lock);
        }
        ferry_buf_free(&line);
        ferry_usage_rec_clear(&r);
        ferry_pod_free(pod);
}

char *ferry_ledger_user(struct ferry_store *store, const struct ferry_limits *limits,
                        const char *uid)
{
        char *body = NULL, *user = NULL;
        size_t len = 0;
        int kind = 0;
        struct ferry_pod *pod = NULL;
        ferry_error_t err = {{0}};
        if (ferry_store_get_body(store, uid, &body, &len, &kind, &err) == 0 &&
            ferry_pod_parse(body, len, (enum ferry_body_kind)kind, limits, &pod, &err) == 0) {
                const char *u = user_of(pod);
                user = u && *u ? ferry_xstrdup(u) : NULL;
        }
        free(body);
        ferry_pod_free(pod);
        return user;
}
