/* SPDX-License-Identifier: MIT */
/* Site admission: see admit.h. */
#include "admit.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hashmap.h"
#include "common/histogram.h"
#include "common/log.h"

/* the waiting reasons counted per tenant, in ferry_tn_reason's words */
static const char *const reasons[] = {"QuotaExceeded", "InsufficientCpu", "InsufficientMemory",
                                      "InsufficientPods", "GPUUnavailable"};
#define N_REASONS (sizeof(reasons) / sizeof(reasons[0]))

#define CAPACITY_EVERY_NS (10LL * 1000000000) /* ask the backend for its totals this often */

struct tenant {
        char *name;
        const struct ferry_tn_tenant *conf; /* its entry (or "*"), NULL: unlimited */
        uint64_t preemptions;
        size_t waiting[N_REASONS];
};

struct ferry_admit {
        struct ferry_tn_config *c;
        unsigned gen;
        size_t n, cap_n;
        struct ferry_tn_tstate *ts; /* contiguous, for ferry_tn_plan */
        struct tenant *tx;
        struct ferry_hashmap *by_name; /* name -> index + 1 */
        struct ferry_tn_vec capacity;  /* the site's totals, -1 unknown */
        int64_t capacity_at_ns;        /* monotonic; 0 = never asked */
        int64_t ticked_ns;
        struct ferry_hist rounds; /* how long a round holds the pod table */
        uint64_t admitted;        /* pods admitted so far */
};

struct ferry_admit *ferry_admit_new(struct ferry_tn_config *c)
{
        struct ferry_admit *a = ferry_xcalloc(1, sizeof(*a));
        a->by_name = ferry_hashmap_new();
        for (size_t r = 0; r < FERRY_TN_RES_MAX; r++)
                a->capacity.v[r] = -1;
        ferry_admit_set_config(a, c);
        return a;
}

void ferry_admit_free(struct ferry_admit *a)
{
        if (!a)
                return;
        for (size_t i = 0; i < a->n; i++)
                free(a->tx[i].name);
        free(a->tx);
        free(a->ts);
        ferry_hashmap_free(a->by_name);
        ferry_tn_config_free(a->c);
        free(a);
}

bool ferry_admit_on(const struct ferry_admit *a)
{
        return a && a->c;
}

unsigned ferry_admit_gen(const struct ferry_admit *a)
{
        return a->gen;
}

static void bind(struct ferry_admit *a, size_t i)
{
        const struct ferry_tn_tenant *t = a->c ? ferry_tn_find(a->c, a->tx[i].name) : NULL;
        a->tx[i].conf = t;
        a->ts[i].name = a->tx[i].name;
        a->ts[i].weight = t ? t->weight : 1;
        a->ts[i].quota = t ? &t->quota : NULL;
}

void ferry_admit_set_config(struct ferry_admit *a, struct ferry_tn_config *c)
{
        struct ferry_tn_config *old = a->c;
        /* usage follows the resource's name into the new order */
        for (size_t i = 0; i < a->n; i++) {
                double u[FERRY_TN_RES_MAX] = {0};
                for (size_t r = 0; old && c && r < c->n_res; r++) {
                        int o = ferry_tn_res_index(old, c->res[r]);
                        if (o >= 0)
                                u[r] = a->ts[i].usage[o];
                }
                memcpy(a->ts[i].usage, u, sizeof(u));
                memset(&a->ts[i].held, 0, sizeof(a->ts[i].held));
                memset(&a->ts[i].held_g, 0, sizeof(a->ts[i].held_g));
        }
        a->c = c;
        a->gen++;
        for (size_t i = 0; i < a->n; i++)
                bind(a, i);
        a->capacity_at_ns = 0; /* MIG profiles may have changed: ask again */
        for (size_t r = 0; r < FERRY_TN_RES_MAX; r++)
                a->capacity.v[r] = -1;
        ferry_tn_config_free(old);
}

static uint32_t tenant_index(struct ferry_admit *a, const char *name)
{
        void *v = ferry_hashmap_get(a->by_name, name);
        if (v)
                return (uint32_t)((uintptr_t)v - 1);
        if (a->n == a->cap_n) {
                a->cap_n = a->cap_n ? a->cap_n * 2 : 16;
                a->ts = ferry_xrealloc(a->ts, a->cap_n * sizeof(*a->ts));
                a->tx = ferry_xrealloc(a->tx, a->cap_n * sizeof(*a->tx));
        }
        size_t i = a->n++;
        memset(&a->ts[i], 0, sizeof(a->ts[i]));
        memset(&a->tx[i], 0, sizeof(a->tx[i]));
        a->tx[i].name = ferry_xstrdup(name);
        bind(a, i);
        ferry_hashmap_put(a->by_name, a->tx[i].name, (void *)(uintptr_t)(i + 1));
        return (uint32_t)i;
}

struct ferry_admit_pod *ferry_admit_pod_new(struct ferry_admit *a, const struct ferry_pod *pod)
{
        if (!a->c)
                return NULL;
        struct ferry_admit_pod *ap = ferry_xcalloc(1, sizeof(*ap));
        ap->tenant = tenant_index(a, ferry_tn_tenant_of(a->c, pod));
        ap->gen = a->gen;
        ap->preemptible = ferry_tn_preemptible(a->c, pod);
        ap->priority = pod->priority;
        ferry_tn_pod_request(a->c, pod, &ap->req);
        return ap;
}

static void amount(const struct ferry_admit *a, int res, int64_t v, char *buf, size_t size)
{
        ferry_tn_describe(a->c, res, v, buf, size);
}

int ferry_admit_never(const struct ferry_admit *a, const struct ferry_admit_pod *ap,
                      ferry_error_t *err)
{
        char asks[32], lim[32];
        if (!a->c || !ap)
                return 0;
        const struct ferry_tn_tstate *t = &a->ts[ap->tenant];
        for (size_t r = 0; r < a->c->n_res; r++) {
                if (ap->req.v[r] <= 0)
                        continue;
                amount(a, (int)r, ap->req.v[r], asks, sizeof(asks));
                if (!ap->preemptible && t->quota && t->quota->v[r] >= 0 &&
                    ap->req.v[r] > t->quota->v[r]) {
                        amount(a, (int)r, t->quota->v[r], lim, sizeof(lim));
                        return ferry_errprintf(err, -EOPNOTSUPP,
                                               "the pod asks %s %s, more than the %s quota of "
                                               "tenant \"%s\" (%s): it could never start",
                                               asks, a->c->res[r], a->c->res[r], t->name, lim);
                }
                if (a->capacity.v[r] >= 0 && ap->req.v[r] > a->capacity.v[r]) {
                        amount(a, (int)r, a->capacity.v[r], lim, sizeof(lim));
                        return ferry_errprintf(err, -EOPNOTSUPP,
                                               "the pod asks %s %s, more than the whole site has "
                                               "(%s): it could never start",
                                               asks, a->c->res[r], lim);
                }
        }
        return 0;
}

int ferry_admit_over_quota(const struct ferry_admit *a, const struct ferry_admit_pod *ap)
{
        const struct ferry_tn_tstate *t = &a->ts[ap->tenant];
        if (ap->preemptible || !t->quota)
                return -1;
        return ferry_tn_over(a->c, t->quota, &t->held_g, &ap->req);
}

static void add(struct ferry_admit *a, struct ferry_admit_pod *ap, int sign)
{
        struct ferry_tn_tstate *t = &a->ts[ap->tenant];
        for (size_t r = 0; r < FERRY_TN_RES_MAX; r++) {
                t->held.v[r] += sign * ap->req.v[r];
                if (!ap->preemptible)
                        t->held_g.v[r] += sign * ap->req.v[r];
        }
}

void ferry_admit_hold(struct ferry_admit *a, struct ferry_admit_pod *ap)
{
        if (!ap || ap->holds || !a->c || ap->gen != a->gen)
                return;
        add(a, ap, 1);
        ap->holds = true;
}

void ferry_admit_release(struct ferry_admit *a, struct ferry_admit_pod *ap)
{
        if (!ap || !ap->holds)
                return;
        ap->holds = false;
        if (a->c && ap->gen == a->gen)
                add(a, ap, -1);
}

void ferry_admit_set_capacity(struct ferry_admit *a, const struct ferry_capacity *cap)
{
        if (!a->c)
                return;
        struct ferry_tn_vec v;
        for (size_t r = 0; r < FERRY_TN_RES_MAX; r++)
                v.v[r] = -1;
        v.v[FERRY_TN_CPU] = cap->total_cpu_milli;
        v.v[FERRY_TN_MEMORY] = cap->total_memory_bytes;
        v.v[FERRY_TN_PODS] = cap->total_pods;
        /* a device kind the backend does not report: the site has none of it
         * when it reports others, else it is not known */
        bool any = cap->n_accel > 0;
        for (size_t r = FERRY_TN_GPU; r < a->c->n_res; r++)
                v.v[r] = any ? 0 : -1;
        for (size_t i = 0; i < cap->n_accel && i < FERRY_ARRAY_SIZE(cap->accel); i++) {
                int r = ferry_tn_res_index(a->c, cap->accel[i].resource);
                if (r >= FERRY_TN_GPU)
                        v.v[r] = cap->accel[i].total;
        }
        a->capacity = v;
        a->capacity_at_ns = ferry_monotonic_ns();
}

bool ferry_admit_capacity_due(const struct ferry_admit *a, int64_t now)
{
        return a->c && (!a->capacity_at_ns || now - a->capacity_at_ns >= CAPACITY_EVERY_NS);
}

void ferry_admit_tick(struct ferry_admit *a, int64_t now)
{
        if (!a->c)
                return;
        if (a->ticked_ns) {
                double dt = (double)(now - a->ticked_ns) / 1e9;
                for (size_t i = 0; i < a->n; i++)
                        ferry_tn_decay(a->c, a->ts[i].usage, &a->ts[i].held, dt);
        }
        a->ticked_ns = now;
}

void ferry_admit_wait_of(const struct ferry_admit_pod *ap, int64_t created_ns,
                         struct ferry_tn_wait *w)
{
        memset(w, 0, sizeof(*w));
        w->tenant = ap->tenant;
        w->req = ap->req;
        w->priority = ap->priority;
        w->preemptible = ap->preemptible;
        w->created_ns = created_ns;
        w->reserved_in = ap->reserved;
}

void ferry_admit_run_of(const struct ferry_admit_pod *ap, bool releasing, struct ferry_tn_run *r)
{
        memset(r, 0, sizeof(*r));
        r->tenant = ap->tenant;
        r->req = ap->req;
        r->preemptible = ap->preemptible;
        r->releasing = releasing;
        r->started_ns = ap->admitted_ns;
        r->claimed_by = -1;
}

size_t ferry_admit_plan(struct ferry_admit *a, struct ferry_tn_wait *w, size_t nw,
                        struct ferry_tn_run *run, size_t nr, int64_t now_ns, bool round)
{
        if (!a->c)
                return 0;
        size_t n = ferry_tn_plan(a->c, a->ts, a->n, w, nw, run, nr, &a->capacity, now_ns);
        for (size_t i = 0; round && i < a->n; i++)
                memset(a->tx[i].waiting, 0, sizeof(a->tx[i].waiting));
        for (size_t i = 0; i < nw; i++) {
                if (w[i].verdict == FERRY_TN_ADMIT)
                        continue;
                const char *why = ferry_tn_reason(w[i].verdict, w[i].res);
                for (size_t k = 0; k < N_REASONS; k++)
                        if (!strcmp(why, reasons[k]))
                                a->tx[w[i].tenant].waiting[k]++;
        }
        return n;
}

void ferry_admit_message(const struct ferry_admit *a, const struct ferry_tn_wait *w, char *buf,
                         size_t size)
{
        char held[32], lim[32], asks[32];
        const struct ferry_tn_tstate *t = &a->ts[w->tenant];
        int r = w->res;
        amount(a, r, w->req.v[r], asks, sizeof(asks));
        if (w->verdict == FERRY_TN_WAIT_QUOTA) {
                amount(a, r, t->held_g.v[r], held, sizeof(held));
                amount(a, r, t->quota ? t->quota->v[r] : 0, lim, sizeof(lim));
                snprintf(buf, size,
                         "tenant \"%s\" would pass its %s quota: %s held of %s, this pod asks %s",
                         t->name, a->c->res[r], held, lim, asks);
                return;
        }
        int64_t site = 0;
        for (size_t i = 0; i < a->n; i++)
                site += a->ts[i].held.v[r];
        amount(a, r, site, held, sizeof(held));
        amount(a, r, a->capacity.v[r], lim, sizeof(lim));
        snprintf(buf, size, "waiting for %s: the site's pods hold %s of %s, this pod asks %s%s",
                 a->c->res[r], held, lim, asks,
                 w->preempts   ? "; preemptible pods are being stopped to make room"
                 : w->reserves ? "; it reserves what frees up"
                               : "");
}

void ferry_admit_observe_round(struct ferry_admit *a, int64_t ns, size_t admitted)
{
        ferry_hist_observe(&a->rounds, ns);
        a->admitted += admitted;
}

void ferry_admit_count_admitted(struct ferry_admit *a)
{
        a->admitted++;
}

void ferry_admit_count_preemption(struct ferry_admit *a, uint32_t tenant)
{
        if (tenant < a->n)
                a->tx[tenant].preemptions++;
}

const char *ferry_admit_tenant_name(const struct ferry_admit *a, uint32_t tenant)
{
        return tenant < a->n ? a->tx[tenant].name : "?";
}

static void site_held(const struct ferry_admit *a, struct ferry_tn_vec *ret)
{
        memset(ret, 0, sizeof(*ret));
        for (size_t i = 0; i < a->n; i++)
                for (size_t r = 0; r < FERRY_TN_RES_MAX; r++)
                        ret->v[r] += a->ts[i].held.v[r];
}

static void clamp(int64_t *free_amt, int64_t total, int64_t held)
{
        if (total < 0)
                return;
        int64_t left = total - held > 0 ? total - held : 0;
        if (*free_amt < 0 || *free_amt > left)
                *free_amt = left;
}

void ferry_admit_limit_capacity(const struct ferry_admit *a, struct ferry_capacity *cap)
{
        if (!a->c)
                return;
        struct ferry_tn_vec h;
        site_held(a, &h);
        clamp(&cap->cpu_milli, a->capacity.v[FERRY_TN_CPU], h.v[FERRY_TN_CPU]);
        clamp(&cap->memory_bytes, a->capacity.v[FERRY_TN_MEMORY], h.v[FERRY_TN_MEMORY]);
        clamp(&cap->pods, a->capacity.v[FERRY_TN_PODS], h.v[FERRY_TN_PODS]);
        for (size_t i = 0; i < cap->n_accel && i < FERRY_ARRAY_SIZE(cap->accel); i++) {
                int r = ferry_tn_res_index(a->c, cap->accel[i].resource);
                if (r >= FERRY_TN_GPU)
                        clamp(&cap->accel[i].available, a->capacity.v[r], h.v[r]);
        }
}

/* {"cpu":"2","memory":"4Gi",...}: the amounts that are not skip */
static void vec_json(const struct ferry_admit *a, struct ferry_buf *out,
                     const struct ferry_tn_vec *v, int64_t skip)
{
        char buf[32];
        bool first = true;
        ferry_buf_addc(out, '{');
        for (size_t r = 0; r < a->c->n_res; r++) {
                if (v->v[r] == skip || v->v[r] < 0)
                        continue;
                amount(a, (int)r, v->v[r], buf, sizeof(buf));
                ferry_buf_adds(out, first ? "" : ",");
                ferry_buf_add_json_str(out, a->c->res[r]);
                ferry_buf_addc(out, ':');
                ferry_buf_add_json_str(out, buf);
                first = false;
        }
        ferry_buf_addc(out, '}');
}

/* usage in the units people read: core-seconds, GiB-seconds, unit-seconds */
static double usage_unit(int r)
{
        return r == FERRY_TN_CPU ? 1000.0 : r == FERRY_TN_MEMORY ? 1073741824.0 : 1.0;
}

static bool visible(const struct ferry_admit *a, const struct ferry_authz *az, const char *name)
{
        if (!az || !az->allowed)
                return true;
        return !a->c->label && az->allowed(az->ctx, name);
}

void ferry_admit_json(const struct ferry_admit *a, const struct ferry_authz *az,
                      struct ferry_buf *out)
{
        if (!a->c) {
                ferry_buf_adds(out, "{\"enabled\":false,\"tenants\":[]}");
                return;
        }
        ferry_buf_printf(out, "{\"enabled\":true,\"key\":");
        if (a->c->label) {
                char *k = ferry_xasprintf("label:%s", a->c->label);
                ferry_buf_add_json_str(out, k);
                free(k);
        } else {
                ferry_buf_add_json_str(out, "namespace");
        }
        ferry_buf_adds(out, ",\"capacity\":");
        vec_json(a, out, &a->capacity, -1);
        ferry_buf_adds(out, ",\"tenants\":[");
        bool first = true;
        for (size_t i = 0; i < a->n; i++) {
                const struct ferry_tn_tstate *t = &a->ts[i];
                if (!visible(a, az, t->name))
                        continue;
                ferry_buf_adds(out, first ? "{\"name\":" : ",{\"name\":");
                first = false;
                ferry_buf_add_json_str(out, t->name);
                ferry_buf_adds(out, ",\"entry\":");
                if (a->tx[i].conf)
                        ferry_buf_add_json_str(out, a->tx[i].conf->name);
                else
                        ferry_buf_adds(out, "null");
                ferry_buf_printf(out, ",\"weight\":%g,\"quota\":", t->weight);
                if (t->quota)
                        vec_json(a, out, t->quota, -1);
                else
                        ferry_buf_adds(out, "{}");
                ferry_buf_adds(out, ",\"held\":");
                vec_json(a, out, &t->held, 0);
                ferry_buf_adds(out, ",\"held_guaranteed\":");
                vec_json(a, out, &t->held_g, 0);
                ferry_buf_adds(out, ",\"waiting\":{");
                bool wf = true;
                for (size_t k = 0; k < N_REASONS; k++) {
                        if (!a->tx[i].waiting[k])
                                continue;
                        ferry_buf_printf(out, "%s\"%s\":%zu", wf ? "" : ",", reasons[k],
                                         a->tx[i].waiting[k]);
                        wf = false;
                }
                ferry_buf_adds(out, "},\"usage\":{");
                bool uf = true;
                for (size_t r = 0; r < a->c->n_res; r++) {
                        if (t->usage[r] <= 0)
                                continue;
                        ferry_buf_adds(out, uf ? "" : ",");
                        ferry_buf_add_json_str(out, a->c->res[r]);
                        ferry_buf_printf(out, ":%.3f", t->usage[r] / usage_unit((int)r));
                        uf = false;
                }
                ferry_buf_printf(out, "},\"dominant_share\":%.6f,\"preemptions\":%llu}",
                                 ferry_tn_dominant_share(a->c, t->usage, &a->capacity, t->weight),
                                 (unsigned long long)a->tx[i].preemptions);
        }
        ferry_buf_adds(out, "]}");
}

/* a label value as Prometheus wants it: \\, \" and \n escaped */
static void prom_label(struct ferry_buf *out, const char *s)
{
        for (; *s; s++) {
                if (*s == '\\' || *s == '"')
                        ferry_buf_addc(out, '\\');
                if (*s == '\n') {
                        ferry_buf_adds(out, "\\n");
                        continue;
                }
                ferry_buf_addc(out, *s);
        }
}

static void prom_series(struct ferry_buf *out, const char *metric, const char *tenant,
                        const char *lname, const char *lvalue, double v)
{
        ferry_buf_printf(out, "%s{tenant=\"", metric);
        prom_label(out, tenant);
        if (lname) {
                ferry_buf_printf(out, "\",%s=\"", lname);
                prom_label(out, lvalue);
        }
        ferry_buf_printf(out, "\"} %.17g\n", v);
}

/* amounts in base units: cpu in cores, memory in bytes */
static double base(int r, int64_t v)
{
        return r == FERRY_TN_CPU ? (double)v / 1000.0 : (double)v;
}

void ferry_admit_metrics(const struct ferry_admit *a, struct ferry_buf *out)
{
        if (!a || !a->c)
                return;
        ferry_buf_adds(out, "# HELP ferry_tenant_held What a tenant's admitted, unfinished pods "
                            "hold (cpu in cores, memory in bytes).\n"
                            "# TYPE ferry_tenant_held gauge\n");
        for (size_t i = 0; i < a->n; i++)
                for (size_t r = 0; r < a->c->n_res; r++)
                        prom_series(out, "ferry_tenant_held", a->ts[i].name, "resource",
                                    a->c->res[r], base((int)r, a->ts[i].held.v[r]));
        ferry_buf_adds(out, "# HELP ferry_tenant_quota A tenant's quota (resources it has one "
                            "for).\n"
                            "# TYPE ferry_tenant_quota gauge\n");
        for (size_t i = 0; i < a->n; i++)
                for (size_t r = 0; a->ts[i].quota && r < a->c->n_res; r++)
                        if (a->ts[i].quota->v[r] >= 0)
                                prom_series(out, "ferry_tenant_quota", a->ts[i].name, "resource",
                                            a->c->res[r], base((int)r, a->ts[i].quota->v[r]));
        ferry_buf_adds(out, "# HELP ferry_tenant_waiting_pods Pods waiting for admission, by "
                            "reason.\n"
                            "# TYPE ferry_tenant_waiting_pods gauge\n");
        for (size_t i = 0; i < a->n; i++)
                for (size_t k = 0; k < N_REASONS; k++)
                        prom_series(out, "ferry_tenant_waiting_pods", a->ts[i].name, "reason",
                                    reasons[k], (double)a->tx[i].waiting[k]);
        ferry_buf_adds(out, "# HELP ferry_tenant_preemptions_total Preemptible pods of the "
                            "tenant stopped to make room.\n"
                            "# TYPE ferry_tenant_preemptions_total counter\n");
        for (size_t i = 0; i < a->n; i++)
                prom_series(out, "ferry_tenant_preemptions_total", a->ts[i].name, NULL, NULL,
                            (double)a->tx[i].preemptions);
        ferry_buf_adds(out, "# HELP ferry_admission_round_seconds How long an admission round "
                            "(after each poll) holds the pod table.\n"
                            "# TYPE ferry_admission_round_seconds histogram\n");
        ferry_hist_render(out, "ferry_admission_round_seconds", "", &a->rounds);
        ferry_buf_printf(out,
                         "# HELP ferry_admitted_pods_total Pods admitted by site admission.\n"
                         "# TYPE ferry_admitted_pods_total counter\n"
                         "ferry_admitted_pods_total %llu\n",
                         (unsigned long long)a->admitted);
        ferry_buf_adds(out, "# HELP ferry_tenant_dominant_share Decayed usage over the site's "
                            "capacity, largest resource, over the weight.\n"
                            "# TYPE ferry_tenant_dominant_share gauge\n");
        for (size_t i = 0; i < a->n; i++)
                prom_series(
                    out, "ferry_tenant_dominant_share", a->ts[i].name, NULL, NULL,
                    ferry_tn_dominant_share(a->c, a->ts[i].usage, &a->capacity, a->ts[i].weight));
}

char *ferry_admit_usage_save(const struct ferry_admit *a, int64_t now)
{
        if (!a->c)
                return NULL;
        json_t *ts = json_object();
        for (size_t i = 0; i < a->n; i++) {
                json_t *u = json_object();
                for (size_t r = 0; r < a->c->n_res; r++)
                        if (a->ts[i].usage[r] > 0)
                                json_object_set_new(u, a->c->res[r], json_real(a->ts[i].usage[r]));
                json_object_set_new(ts, a->tx[i].name, u);
        }
        json_t *j = json_pack("{sIso}", "at", (json_int_t)now, "tenants", ts);
        char *s = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        return s;
}

void ferry_admit_usage_load(struct ferry_admit *a, const char *text, int64_t now)
{
        json_t *j = a->c && text ? json_loads(text, 0, NULL) : NULL;
        json_t *ts = json_object_get(j, "tenants");
        double away = (double)(now - json_integer_value(json_object_get(j, "at"))) / 1e9;
        const char *name;
        json_t *u;
        struct ferry_tn_vec none = {{0}};
        if (away < 0)
                away = 0;
        json_object_foreach(ts, name, u)
        {
                uint32_t i = tenant_index(a, name);
                const char *res;
                json_t *v;
                json_object_foreach(u, res, v)
                {
                        int r = ferry_tn_res_index(a->c, res);
                        if (r >= 0 && json_is_number(v))
                                a->ts[i].usage[r] = json_number_value(v);
                }
                ferry_tn_decay(a->c, a->ts[i].usage, &none, away);
        }
        json_decref(j);
}
