/* SPDX-License-Identifier: MIT */
/* Site tenancy, the pure part: see tenancy.h. */
#include "tenancy.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "gpu/alloc.h"

static const char *const fixed_res[FERRY_TN_FIXED] = {"cpu", "memory", "pods", "nvidia.com/gpu"};

#define DEFAULT_HALF_LIFE_S (24 * 3600)
#define DEFAULT_RESERVE_AFTER_S 600
#define DEFAULT_LOOKAHEAD_S 0

void ferry_tn_config_free(struct ferry_tn_config *c)
{
        if (!c)
                return;
        free(c->label);
        for (size_t i = FERRY_TN_FIXED; i < c->n_res; i++)
                free(c->res[i]);
        for (size_t i = 0; i < c->n_tenants; i++)
                free(c->tenants[i].name);
        free(c->tenants);
        free(c);
}

int ferry_tn_res_index(const struct ferry_tn_config *c, const char *name)
{
        for (size_t i = 0; i < c->n_res; i++)
                if (!strcmp(c->res[i], name))
                        return (int)i;
        return -1;
}

static const char *scalar(yaml_node_t *n)
{
        return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static size_t line_of(yaml_node_t *n)
{
        return n ? n->start_mark.line + 1 : 0;
}

/* "24h", "1h30m", "90s", "2d", "3600" (seconds) -> seconds */
static int parse_seconds(const char *s, int64_t *ret)
{
        int64_t total = 0;
        if (!*s)
                return -EINVAL;
        while (*s) {
                char *end;
                long long v = strtoll(s, &end, 10);
                if (end == s || v < 0 || v > 100LL * 365 * 86400)
                        return -EINVAL;
                int64_t unit = *end == 'd' ? 86400 : *end == 'h' ? 3600 : *end == 'm' ? 60 : 1;
                if (*end == 'd' || *end == 'h' || *end == 'm' || *end == 's')
                        end++;
                else if (*end)
                        return -EINVAL;
                total += v * unit;
                s = end;
        }
        *ret = total;
        return 0;
}

/* One quantity of resource res: cpu in milli, memory in bytes, counts whole. */
static int parse_amount(int res, const char *s, int64_t *ret)
{
        int64_t v;
        if (res == FERRY_TN_MEMORY)
                return ferry_quantity_bytes(s, ret) < 0 || *ret < 0 ? -EINVAL : 0;
        if (ferry_quantity_milli(s, &v) < 0 || v < 0)
                return -EINVAL;
        if (res != FERRY_TN_CPU) {
                if (v % 1000)
                        return -EINVAL; /* pods and devices are whole */
                v /= 1000;
        }
        *ret = v;
        return 0;
}

#define FAIL(n, ...)                                                                               \
        do {                                                                                       \
                char _m[400];                                                                      \
                snprintf(_m, sizeof(_m), __VA_ARGS__);                                             \
                r = ferry_errprintf(err, -EINVAL, "%s:%zu: tenancy: %s", path, line_of(n), _m);    \
                goto fail;                                                                         \
        } while (0)

/* Register the MIG profiles the quotas name, before the quotas are read. */
static int collect_res(yaml_document_t *doc, yaml_node_t *tenants, struct ferry_tn_config *c,
                       const char *path, ferry_error_t *err)
{
        int r = 0;
        for (yaml_node_item_t *it = tenants->data.sequence.items.start;
             it < tenants->data.sequence.items.top; it++) {
                yaml_node_t *t = yaml_document_get_node(doc, *it);
                if (!t || t->type != YAML_MAPPING_NODE)
                        continue;
                for (yaml_node_pair_t *p = t->data.mapping.pairs.start;
                     p < t->data.mapping.pairs.top; p++) {
                        const char *k = scalar(yaml_document_get_node(doc, p->key));
                        yaml_node_t *q = yaml_document_get_node(doc, p->value);
                        if (!k || strcmp(k, "quota") != 0 || !q || q->type != YAML_MAPPING_NODE)
                                continue;
                        for (yaml_node_pair_t *e = q->data.mapping.pairs.start;
                             e < q->data.mapping.pairs.top; e++) {
                                yaml_node_t *kn = yaml_document_get_node(doc, e->key);
                                const char *rn = scalar(kn);
                                if (!rn || ferry_tn_res_index(c, rn) >= 0)
                                        continue;
                                if (strncmp(rn, FERRY_GPU_MIG_PREFIX,
                                            strlen(FERRY_GPU_MIG_PREFIX)) != 0 ||
                                    !rn[strlen(FERRY_GPU_MIG_PREFIX)])
                                        FAIL(kn,
                                             "unknown resource \"%s\" (cpu, memory, pods, "
                                             "nvidia.com/gpu, nvidia.com/mig-<profile>)",
                                             rn);
                                if (c->n_res == FERRY_TN_RES_MAX)
                                        FAIL(kn, "more than %d kinds of resource",
                                             FERRY_TN_RES_MAX);
                                c->res[c->n_res++] = ferry_xstrdup(rn);
                        }
                }
        }
fail:
        return r;
}

static int read_tenant(yaml_document_t *doc, yaml_node_t *t, struct ferry_tn_config *c,
                       const char *path, ferry_error_t *err)
{
        struct ferry_tn_tenant *x = &c->tenants[c->n_tenants];
        int r = 0;

        memset(x, 0, sizeof(*x));
        x->weight = 1;
        for (size_t i = 0; i < FERRY_TN_RES_MAX; i++)
                x->quota.v[i] = -1;
        if (!t || t->type != YAML_MAPPING_NODE)
                FAIL(t, "each tenant is a mapping (name, weight, quota)");
        for (yaml_node_pair_t *p = t->data.mapping.pairs.start; p < t->data.mapping.pairs.top;
             p++) {
                yaml_node_t *kn = yaml_document_get_node(doc, p->key);
                yaml_node_t *vn = yaml_document_get_node(doc, p->value);
                const char *k = scalar(kn), *v = scalar(vn);
                if (!k)
                        FAIL(kn, "keys must be strings");
                if (!strcmp(k, "name")) {
                        if (!v || !v[0] || (strcmp(v, "*") != 0 && !ferry_is_dns_label(v)))
                                FAIL(vn, "a tenant's name is a namespace (a DNS label) or \"*\"");
                        free(x->name);
                        x->name = ferry_xstrdup(v);
                } else if (!strcmp(k, "weight")) {
                        char *end;
                        double w = v ? strtod(v, &end) : 0;
                        if (!v || *end || !(w > 0) || w > 1e6)
                                FAIL(vn, "weight must be a number above 0 (got %s)",
                                     v ? v : "no scalar");
                        x->weight = w;
                } else if (!strcmp(k, "quota")) {
                        if (!vn || vn->type != YAML_MAPPING_NODE)
                                FAIL(vn, "quota is a mapping of resource: quantity");
                        for (yaml_node_pair_t *e = vn->data.mapping.pairs.start;
                             e < vn->data.mapping.pairs.top; e++) {
                                yaml_node_t *rk = yaml_document_get_node(doc, e->key);
                                yaml_node_t *rv = yaml_document_get_node(doc, e->value);
                                const char *rn = scalar(rk), *q = scalar(rv);
                                int ri = rn ? ferry_tn_res_index(c, rn) : -1;
                                if (ri < 0)
                                        FAIL(rk, "unknown resource \"%s\"", rn ? rn : "");
                                if (!q || parse_amount(ri, q, &x->quota.v[ri]) < 0)
                                        FAIL(rv,
                                             "quota %s must be a quantity of at least 0%s (got "
                                             "%s)",
                                             rn, ri >= FERRY_TN_PODS ? ", whole" : "",
                                             q ? q : "no scalar");
                        }
                } else {
                        FAIL(kn, "unknown key \"%s\" in a tenant (name, weight, quota)", k);
                }
        }
        if (!x->name)
                FAIL(t, "a tenant needs a name");
        for (size_t i = 0; i < c->n_tenants; i++)
                if (!strcmp(c->tenants[i].name, x->name))
                        FAIL(t, "tenant \"%s\" is listed twice", x->name);
        c->n_tenants++;
        return 0;
fail:
        free(x->name);
        x->name = NULL;
        return r;
}

int ferry_tn_config_from_node(yaml_document_t *doc, yaml_node_t *node, const char *path,
                              struct ferry_tn_config **ret, ferry_error_t *err)
{
        struct ferry_tn_config *c = ferry_xcalloc(1, sizeof(*c));
        yaml_node_t *tenants = NULL;
        int r = 0;

        c->half_life_s = DEFAULT_HALF_LIFE_S;
        c->lookahead_s = DEFAULT_LOOKAHEAD_S;
        c->reserve_after_s = DEFAULT_RESERVE_AFTER_S;
        for (size_t i = 0; i < FERRY_TN_FIXED; i++)
                c->res[i] = (char *)fixed_res[i];
        c->n_res = FERRY_TN_FIXED;
        if (!node || node->type != YAML_MAPPING_NODE)
                FAIL(node, "must be a mapping (key, fair_share, tenants)");
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
             p++) {
                yaml_node_t *kn = yaml_document_get_node(doc, p->key);
                yaml_node_t *vn = yaml_document_get_node(doc, p->value);
                const char *k = scalar(kn), *v = scalar(vn);
                if (!k)
                        FAIL(kn, "keys must be strings");
                if (!strcmp(k, "key")) {
                        if (v && !strcmp(v, "namespace")) {
                                free(c->label);
                                c->label = NULL;
                        } else if (v && !strncmp(v, "label:", 6) && v[6]) {
                                free(c->label);
                                c->label = ferry_xstrdup(v + 6);
                        } else {
                                FAIL(vn, "key is namespace or label:NAME (got %s)",
                                     v ? v : "no scalar");
                        }
                } else if (!strcmp(k, "fair_share")) {
                        if (!vn || vn->type != YAML_MAPPING_NODE)
                                FAIL(vn, "fair_share is a mapping (half_life, lookahead)");
                        for (yaml_node_pair_t *q = vn->data.mapping.pairs.start;
                             q < vn->data.mapping.pairs.top; q++) {
                                yaml_node_t *fk = yaml_document_get_node(doc, q->key);
                                yaml_node_t *fv = yaml_document_get_node(doc, q->value);
                                const char *f = scalar(fk), *fvs = scalar(fv);
                                if (f && !strcmp(f, "half_life")) {
                                        if (!fvs || parse_seconds(fvs, &c->half_life_s) < 0 ||
                                            c->half_life_s <= 0)
                                                FAIL(fv, "half_life must be a duration like 24h");
                                } else if (f && !strcmp(f, "lookahead")) {
                                        if (!fvs || parse_seconds(fvs, &c->lookahead_s) < 0)
                                                FAIL(fv, "lookahead must be a duration like 10m "
                                                         "(0: decayed usage alone)");
                                } else {
                                        FAIL(fk,
                                             "unknown key \"%s\" in fair_share (half_life, "
                                             "lookahead)",
                                             f ? f : "");
                                }
                        }
                } else if (!strcmp(k, "reserve_after")) {
                        if (!v || parse_seconds(v, &c->reserve_after_s) < 0)
                                FAIL(vn, "reserve_after must be a duration like 10m");
                } else if (!strcmp(k, "preemptible_below_priority")) {
                        char *end;
                        long long pv = v ? strtoll(v, &end, 10) : 0;
                        if (!v || !*v || *end || pv < INT32_MIN || pv > INT32_MAX)
                                FAIL(vn, "preemptible_below_priority must be an integer (got %s)",
                                     v ? v : "no scalar");
                        c->preempt_below = pv;
                        c->has_preempt_below = true;
                } else if (!strcmp(k, "tenants")) {
                        if (!vn || vn->type != YAML_SEQUENCE_NODE)
                                FAIL(vn, "tenants is a list");
                        tenants = vn;
                } else {
                        FAIL(kn,
                             "unknown key \"%s\" (key, fair_share, reserve_after, "
                             "preemptible_below_priority, tenants)",
                             k);
                }
        }
        if (tenants) {
                if ((r = collect_res(doc, tenants, c, path, err)) < 0)
                        goto fail;
                size_t n =
                    (size_t)(tenants->data.sequence.items.top - tenants->data.sequence.items.start);
                c->tenants = ferry_xcalloc(n + 1, sizeof(*c->tenants));
                for (yaml_node_item_t *it = tenants->data.sequence.items.start;
                     it < tenants->data.sequence.items.top; it++)
                        if ((r = read_tenant(doc, yaml_document_get_node(doc, *it), c, path, err)) <
                            0)
                                goto fail;
        }
        *ret = c;
        return 0;
fail:
        ferry_tn_config_free(c);
        return r;
}

int ferry_tn_config_parse(const char *text, size_t len, const char *path,
                          struct ferry_tn_config **ret, ferry_error_t *err)
{
        yaml_parser_t p;
        yaml_document_t doc;
        int r = -ENOENT;

        yaml_parser_initialize(&p);
        yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
        if (!yaml_parser_load(&p, &doc)) {
                r = ferry_errprintf(err, -EINVAL, "%s:%zu:%zu: %s", path, p.problem_mark.line + 1,
                                    p.problem_mark.column + 1,
                                    p.problem ? p.problem : "YAML error");
                yaml_parser_delete(&p);
                return r;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root && root->type == YAML_MAPPING_NODE)
                for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
                     pr < root->data.mapping.pairs.top; pr++) {
                        const char *k = scalar(yaml_document_get_node(&doc, pr->key));
                        if (k && !strcmp(k, "tenancy")) {
                                r = ferry_tn_config_from_node(
                                    &doc, yaml_document_get_node(&doc, pr->value), path, ret, err);
                                break;
                        }
                }
        if (r == -ENOENT)
                ferry_errprintf(err, -ENOENT, "%s: no tenancy section", path);
        yaml_document_delete(&doc);
        yaml_parser_delete(&p);
        return r;
}

const char *ferry_tn_tenant_of(const struct ferry_tn_config *c, const struct ferry_pod *pod)
{
        if (!c->label)
                return pod->namespace;
        for (size_t i = 0; i < pod->n_labels; i++)
                if (!strcmp(pod->labels[i].key, c->label))
                        return pod->labels[i].value;
        return "default";
}

const struct ferry_tn_tenant *ferry_tn_find(const struct ferry_tn_config *c, const char *name)
{
        const struct ferry_tn_tenant *star = NULL;
        for (size_t i = 0; i < c->n_tenants; i++) {
                if (!strcmp(c->tenants[i].name, name))
                        return &c->tenants[i];
                if (!strcmp(c->tenants[i].name, "*"))
                        star = &c->tenants[i];
        }
        return star;
}

/* One container's amounts: requests where set, else limits. */
static void container_vec(const struct ferry_tn_config *c, const struct ferry_container *k,
                          struct ferry_tn_vec *v)
{
        const struct ferry_resources *rq = &k->requests, *lm = &k->limits;
        memset(v, 0, sizeof(*v));
        v->v[FERRY_TN_CPU] = rq->cpu_milli >= 0 ? rq->cpu_milli : lm->cpu_milli;
        v->v[FERRY_TN_MEMORY] = rq->memory_bytes >= 0 ? rq->memory_bytes : lm->memory_bytes;
        v->v[FERRY_TN_GPU] = rq->gpus >= 0 ? rq->gpus : lm->gpus;
        /* extended resources: Kubernetes requires requests == limits for them */
        for (int pass = 0; pass < 2; pass++) {
                const struct ferry_resources *r = pass ? lm : rq;
                for (size_t i = 0; i < r->n_extended; i++) {
                        int ri = ferry_tn_res_index(c, r->extended[i].name);
                        if (ri >= FERRY_TN_FIXED && v->v[ri] == 0)
                                v->v[ri] = r->extended[i].count;
                }
        }
        for (size_t i = 0; i < FERRY_TN_RES_MAX; i++)
                if (v->v[i] < 0)
                        v->v[i] = 0;
}

void ferry_tn_pod_request(const struct ferry_tn_config *c, const struct ferry_pod *pod,
                          struct ferry_tn_vec *ret)
{
        struct ferry_tn_vec sum = {{0}}, init = {{0}}, one;
        for (size_t i = 0; i < pod->n_containers; i++) {
                container_vec(c, &pod->containers[i], &one);
                for (size_t r = 0; r < FERRY_TN_RES_MAX; r++)
                        sum.v[r] += one.v[r];
        }
        for (size_t i = 0; i < pod->n_init; i++) {
                container_vec(c, &pod->init[i], &one);
                for (size_t r = 0; r < FERRY_TN_RES_MAX; r++)
                        if (one.v[r] > init.v[r])
                                init.v[r] = one.v[r];
        }
        for (size_t r = 0; r < FERRY_TN_RES_MAX; r++)
                ret->v[r] = sum.v[r] > init.v[r] ? sum.v[r] : init.v[r];
        ret->v[FERRY_TN_PODS] = 1;
}

int ferry_tn_over(const struct ferry_tn_config *c, const struct ferry_tn_vec *quota,
                  const struct ferry_tn_vec *held, const struct ferry_tn_vec *req)
{
        for (size_t r = 0; r < c->n_res; r++)
                if (quota->v[r] >= 0 && req->v[r] > 0 && held->v[r] + req->v[r] > quota->v[r])
                        return (int)r;
        return -1;
}

void ferry_tn_describe(const struct ferry_tn_config *c, int res, int64_t amount, char *buf,
                       size_t size)
{
        if (res == FERRY_TN_CPU) {
                if (amount % 1000 == 0)
                        snprintf(buf, size, "%lld", (long long)(amount / 1000));
                else
                        snprintf(buf, size, "%lldm", (long long)amount);
        } else if (res == FERRY_TN_MEMORY) {
                static const char *const unit[] = {"", "Ki", "Mi", "Gi", "Ti"};
                int u = 0;
                while (u < 4 && amount != 0 && amount % 1024 == 0) {
                        amount /= 1024;
                        u++;
                }
                snprintf(buf, size, "%lld%s", (long long)amount, unit[u]);
        } else {
                snprintf(buf, size, "%lld", (long long)amount);
        }
        (void)c;
}

void ferry_tn_decay(const struct ferry_tn_config *c, double usage[FERRY_TN_RES_MAX],
                    const struct ferry_tn_vec *held, double dt_s)
{
        double f = exp2(-dt_s / (double)c->half_life_s);
        for (size_t r = 0; r < c->n_res; r++)
                usage[r] = usage[r] * f + (double)held->v[r] * dt_s;
}

double ferry_tn_dominant_share(const struct ferry_tn_config *c,
                               const double usage[FERRY_TN_RES_MAX],
                               const struct ferry_tn_vec *capacity, double weight)
{
        double best = 0;
        for (size_t r = 0; r < c->n_res; r++) {
                if (capacity->v[r] <= 0)
                        continue;
                double s = usage[r] / (double)capacity->v[r];
                if (s > best)
                        best = s;
        }
        return best / (weight > 0 ? weight : 1);
}

bool ferry_tn_preemptible(const struct ferry_tn_config *c, const struct ferry_pod *pod)
{
        const char *a = ferry_pod_annotation(pod, "ferry.io/preemptible");
        if (a && !strcmp(a, "true"))
                return true;
        return c->has_preempt_below && pod->priority < c->preempt_below;
}

const char *ferry_tn_reason(int verdict, int res)
{
        if (verdict == FERRY_TN_WAIT_QUOTA)
                return "QuotaExceeded";
        switch (res) {
        case FERRY_TN_CPU: return "InsufficientCpu";
        case FERRY_TN_MEMORY: return "InsufficientMemory";
        case FERRY_TN_PODS: return "InsufficientPods";
        default: return "GPUUnavailable";
        }
}

/* ---- the admission round ---- */

#define UNLIMITED (INT64_MAX / 4)

struct plan {
        const struct ferry_tn_config *c;
        struct ferry_tn_tstate *t;
        size_t nt;
        struct ferry_tn_wait *w;
        struct ferry_tn_run *run;
        size_t nr;
        const struct ferry_tn_vec *cap;
        int64_t avail[FERRY_TN_RES_MAX];  /* capacity - held - reserved */
        int64_t coming[FERRY_TN_RES_MAX]; /* held by releasing pods, not yet claimed */
        size_t *victims;                  /* preemption candidates in order, built once */
        size_t n_victims;
        bool victims_built;
        size_t admitted;
};

struct qent {
        size_t i;
        int64_t priority, created_ns;
};

static int by_priority_age(const void *a, const void *b)
{
        const struct qent *x = a, *y = b;
        if (x->priority != y->priority)
                return x->priority > y->priority ? -1 : 1;
        if (x->created_ns != y->created_ns)
                return x->created_ns < y->created_ns ? -1 : 1;
        return x->i < y->i ? -1 : x->i > y->i;
}

static bool over_quota(const struct plan *pl, const struct ferry_tn_tstate *t)
{
        if (!t->quota)
                return false;
        for (size_t r = 0; r < pl->c->n_res; r++)
                if (t->quota->v[r] >= 0 && t->held.v[r] > t->quota->v[r])
                        return true;
        return false;
}

struct vent {
        size_t i;
        bool over;
        int64_t started_ns;
};

static int by_victim_order(const void *a, const void *b)
{
        const struct vent *x = a, *y = b;
        if (x->over != y->over)
                return x->over ? -1 : 1; /* over-quota tenants first */
        if (x->started_ns != y->started_ns)
                return x->started_ns > y->started_ns ? -1 : 1; /* youngest first */
        return x->i < y->i ? -1 : x->i > y->i;
}

static void build_victims(struct plan *pl)
{
        struct vent *v = ferry_xcalloc(pl->nr + 1, sizeof(*v));
        size_t n = 0;
        for (size_t i = 0; i < pl->nr; i++)
                if (pl->run[i].preemptible && !pl->run[i].releasing)
                        v[n++] = (struct vent){i, over_quota(pl, &pl->t[pl->run[i].tenant]),
                                               pl->run[i].started_ns};
        qsort(v, n, sizeof(*v), by_victim_order);
        pl->victims = ferry_xcalloc(n + 1, sizeof(*pl->victims));
        for (size_t i = 0; i < n; i++)
                pl->victims[i] = v[i].i;
        pl->n_victims = n;
        pl->victims_built = true;
        free(v);
}

static bool covered(const struct plan *pl, const int64_t deficit[], const int64_t got[])
{
        for (size_t r = 0; r < pl->c->n_res; r++)
                if (got[r] < deficit[r])
                        return false;
        return true;
}

/* Choose the fewest preemptible pods, in victim order, whose requests cover
 * deficit; mark them. False (nothing marked) when all of them would not. */
static bool preempt(struct plan *pl, size_t wi, const int64_t deficit[])
{
        int64_t got[FERRY_TN_RES_MAX] = {0};
        size_t *pick = NULL, n = 0;

        if (!pl->victims_built)
                build_victims(pl);
        if (pl->n_victims == 0)
                return false;
        pick = ferry_xcalloc(pl->n_victims + 1, sizeof(*pick));
        for (size_t k = 0; k < pl->n_victims && !covered(pl, deficit, got); k++) {
                const struct ferry_tn_run *v = &pl->run[pl->victims[k]];
                if (v->releasing)
                        continue; /* taken by an earlier pod of this round */
                bool helps = false;
                for (size_t r = 0; r < pl->c->n_res; r++)
                        helps |= got[r] < deficit[r] && v->req.v[r] > 0;
                if (!helps)
                        continue;
                for (size_t r = 0; r < pl->c->n_res; r++)
                        got[r] += v->req.v[r];
                pick[n++] = pl->victims[k];
        }
        bool ok = covered(pl, deficit, got);
        if (ok) {
                /* drop those not needed after all, the last chosen first */
                for (size_t k = n; k-- > 0;) {
                        const struct ferry_tn_run *v = &pl->run[pick[k]];
                        for (size_t r = 0; r < pl->c->n_res; r++)
                                got[r] -= v->req.v[r];
                        if (covered(pl, deficit, got)) {
                                pick[k] = SIZE_MAX;
                                continue;
                        }
                        for (size_t r = 0; r < pl->c->n_res; r++)
                                got[r] += v->req.v[r];
                }
                for (size_t k = 0; k < n; k++) {
                        if (pick[k] == SIZE_MAX)
                                continue;
                        struct ferry_tn_run *v = &pl->run[pick[k]];
                        v->releasing = true;
                        v->victim_for = (long)wi;
                        for (size_t r = 0; r < pl->c->n_res; r++)
                                pl->coming[r] += v->req.v[r];
                }
        }
        free(pick);
        return ok;
}

/* Hold back for w what is free now (later pods do not backfill into it). */
static void reserve(struct plan *pl, struct ferry_tn_wait *w)
{
        for (size_t r = 0; r < pl->c->n_res; r++) {
                int64_t take = w->req.v[r] < pl->avail[r] ? w->req.v[r] : pl->avail[r];
                if (take > 0)
                        pl->avail[r] -= take;
        }
        w->reserves = true;
}

static void decide(struct plan *pl, size_t wi, int64_t now_ns)
{
        struct ferry_tn_wait *w = &pl->w[wi];
        struct ferry_tn_tstate *t = &pl->t[w->tenant];
        const size_t nres = pl->c->n_res;

        w->reserves = w->preempts = false;
        if (!w->preemptible && t->quota) {
                int ro = ferry_tn_over(pl->c, t->quota, &t->held_g, &w->req);
                if (ro >= 0) {
                        w->verdict = FERRY_TN_WAIT_QUOTA;
                        w->res = ro;
                        return;
                }
        }
        int lack = -1;
        for (size_t r = 0; r < nres && lack < 0; r++)
                if (w->req.v[r] > 0 && w->req.v[r] > pl->avail[r])
                        lack = (int)r;
        if (lack < 0) {
                for (size_t r = 0; r < nres; r++) {
                        t->held.v[r] += w->req.v[r];
                        if (!w->preemptible)
                                t->held_g.v[r] += w->req.v[r];
                        pl->avail[r] -= w->req.v[r];
                }
                w->verdict = FERRY_TN_ADMIT;
                pl->admitted++;
                return;
        }
        w->verdict = FERRY_TN_WAIT_SITE;
        w->res = lack;
        if (w->preemptible)
                return; /* it borrows what is idle, and waits for it */
        /* A guaranteed pod within its quota: what releasing pods give back,
         * else preemption, makes room; it reserves while that happens. */
        int64_t need[FERRY_TN_RES_MAX] = {0}, deficit[FERRY_TN_RES_MAX] = {0};
        int64_t own[FERRY_TN_RES_MAX] = {0}; /* what pods stopped for it earlier give back */
        bool short_now = false;
        for (size_t i = 0; w->reserved_in && i < pl->nr; i++)
                if (pl->run[i].releasing && pl->run[i].claimed_by == (long)wi)
                        for (size_t r = 0; r < nres; r++)
                                own[r] += pl->run[i].req.v[r];
        for (size_t r = 0; r < nres; r++) {
                int64_t a = pl->avail[r] > 0 ? pl->avail[r] : 0;
                need[r] = w->req.v[r] > a + own[r] ? w->req.v[r] - a - own[r] : 0;
                deficit[r] = need[r] > pl->coming[r] ? need[r] - pl->coming[r] : 0;
                short_now |= deficit[r] > 0;
        }
        if (!short_now || preempt(pl, wi, deficit)) {
                w->preempts = short_now;
                for (size_t r = 0; r < nres; r++)
                        pl->coming[r] -= need[r];
                reserve(pl, w);
                return;
        }
        if (w->reserved_in || now_ns - w->created_ns >= pl->c->reserve_after_s * 1000000000LL)
                reserve(pl, w);
}

/* A tenant's waiting pods as a binary heap (by priority, then age): a round
 * that stops early has not paid for sorting the rest. */
static void heap_down(struct qent *h, size_t n, size_t i)
{
        for (;;) {
                size_t l = 2 * i + 1, m = i;
                if (l < n && by_priority_age(&h[l], &h[m]) < 0)
                        m = l;
                if (l + 1 < n && by_priority_age(&h[l + 1], &h[m]) < 0)
                        m = l + 1;
                if (m == i)
                        return;
                struct qent tmp = h[i];
                h[i] = h[m];
                h[m] = tmp;
                i = m;
        }
}

static void heap_make(struct qent *h, size_t n)
{
        for (size_t i = n / 2; i-- > 0;)
                heap_down(h, n, i);
}

static struct qent heap_pop(struct qent *h, size_t *n)
{
        struct qent top = h[0];
        h[0] = h[--*n];
        heap_down(h, *n, 0);
        return top;
}

/* Tenants in the order they are served: lowest share first (order_share),
 * then of what they hold now (so that no usage yet takes turns), then by
 * index. */
struct tord {
        const double *share, *hshare;
};

static bool tenant_before(const struct tord *o, size_t a, size_t b)
{
        if (o->share[a] != o->share[b])
                return o->share[a] < o->share[b];
        if (o->hshare[a] != o->hshare[b])
                return o->hshare[a] < o->hshare[b];
        return a < b;
}

/* The share that orders tenants: the dominant share of decayed usage, with
 * what a tenant holds counted as if it had run fair_share.lookahead more (a
 * tenant just given much is not served again before its usage shows it). */
static double order_share(const struct plan *pl, const struct ferry_tn_tstate *t)
{
        double u[FERRY_TN_RES_MAX];
        for (size_t r = 0; r < pl->c->n_res; r++)
                u[r] = t->usage[r] + (double)t->held.v[r] * (double)pl->c->lookahead_s;
        return ferry_tn_dominant_share(pl->c, u, pl->cap, t->weight);
}

static double held_share(const struct plan *pl, const struct ferry_tn_tstate *t)
{
        double u[FERRY_TN_RES_MAX];
        for (size_t r = 0; r < pl->c->n_res; r++)
                u[r] = (double)t->held.v[r];
        return ferry_tn_dominant_share(pl->c, u, pl->cap, t->weight);
}

/* The verdict of a pod that cannot start in this round (and neither
 * reserves nor stops others): the quota it passes, else what it lacks. */
static void wait_verdict(const struct plan *pl, struct ferry_tn_wait *w)
{
        const struct ferry_tn_tstate *t = &pl->t[w->tenant];
        int r = -1;
        if (!w->preemptible && t->quota &&
            (r = ferry_tn_over(pl->c, t->quota, &t->held_g, &w->req)) >= 0) {
                w->verdict = FERRY_TN_WAIT_QUOTA;
                w->res = r;
                return;
        }
        w->verdict = FERRY_TN_WAIT_SITE;
        w->res = FERRY_TN_PODS;
        for (size_t i = 0; i < pl->c->n_res; i++)
                if (w->req.v[i] > 0 && w->req.v[i] > pl->avail[i]) {
                        w->res = (int)i;
                        break;
                }
}

static bool none_fits(const struct plan *pl, const int64_t *least)
{
        for (size_t r = 0; r < pl->c->n_res; r++)
                if (least[r] > 0 && pl->avail[r] < least[r])
                        return true;
        return false;
}

/* Serve the tenants' queues (heaps at heap + start[k], left[k] each) in
 * share order; a tenant whose pod was admitted moves back to where its
 * larger share puts it. stop_early: no pod of this class reserves or stops
 * others, so once none of them can fit any more (a resource is below the
 * least any asks) the rest wait without being put in order. */
static void serve(struct plan *pl, struct qent *heap, const size_t *start, size_t *left,
                  double *share, double *hshare, bool stop_early, int64_t now_ns)
{
        struct tord o = {share, hshare};
        size_t *ord = ferry_xcalloc(pl->nt + 1, sizeof(size_t)), m = 0;
        int64_t least[FERRY_TN_RES_MAX];
        for (size_t r = 0; r < FERRY_TN_RES_MAX; r++)
                least[r] = INT64_MAX;
        for (size_t k = 0; k < pl->nt; k++) {
                if (!left[k])
                        continue;
                for (size_t j = 0; j < left[k]; j++)
                        for (size_t r = 0; r < pl->c->n_res; r++) {
                                int64_t v = pl->w[heap[start[k] + j].i].req.v[r];
                                if (v < least[r])
                                        least[r] = v;
                        }
                heap_make(heap + start[k], left[k]);
                hshare[k] = held_share(pl, &pl->t[k]);
                size_t j = m++; /* insertion sort: tenants are few */
                while (j > 0 && tenant_before(&o, k, ord[j - 1])) {
                        ord[j] = ord[j - 1];
                        j--;
                }
                ord[j] = k;
        }
        for (size_t pos = 0; pos < m;) {
                size_t k = ord[pos];
                if (!left[k]) {
                        pos++;
                        continue;
                }
                if (stop_early && none_fits(pl, least))
                        break;
                struct qent e = heap_pop(heap + start[k], &left[k]);
                decide(pl, e.i, now_ns);
                if (pl->w[e.i].verdict != FERRY_TN_ADMIT)
                        continue;
                share[k] = order_share(pl, &pl->t[k]);
                hshare[k] = held_share(pl, &pl->t[k]);
                size_t j = pos;
                while (j + 1 < m && tenant_before(&o, ord[j + 1], k)) {
                        ord[j] = ord[j + 1];
                        j++;
                }
                ord[j] = k;
        }
        for (size_t k = 0; k < pl->nt; k++) /* the rest, in no order: they wait */
                for (size_t j = 0; j < left[k]; j++)
                        wait_verdict(pl, &pl->w[heap[start[k] + j].i]);
        free(ord);
}

size_t ferry_tn_plan(const struct ferry_tn_config *c, struct ferry_tn_tstate *t, size_t nt,
                     struct ferry_tn_wait *w, size_t nw, struct ferry_tn_run *run, size_t nr,
                     const struct ferry_tn_vec *capacity, int64_t now_ns)
{
        struct plan pl = {.c = c, .t = t, .nt = nt, .w = w, .run = run, .nr = nr, .cap = capacity};
        const size_t nres = c->n_res;
        const int64_t reserve_ns = c->reserve_after_s * 1000000000LL;

        for (size_t r = 0; r < nres; r++) {
                int64_t held = 0;
                for (size_t k = 0; k < nt; k++)
                        held += t[k].held.v[r];
                pl.avail[r] = capacity->v[r] < 0 ? UNLIMITED : capacity->v[r] - held;
        }
        bool can_preempt = false;
        for (size_t i = 0; i < nr; i++) {
                run[i].victim_for = -1;
                if (run[i].claimed_by >= (long)nw || (run[i].claimed_by >= 0 && !run[i].releasing))
                        run[i].claimed_by = -1;
                if (run[i].releasing && run[i].claimed_by < 0)
                        for (size_t r = 0; r < nres; r++)
                                pl.coming[r] += run[i].req.v[r];
                can_preempt |= run[i].releasing || run[i].preemptible;
        }
        /* What a round takes from the site and from quotas only grows: a pod
         * over its quota, or larger than what is free, at the start stays so.
         * Those get their verdict here, unsorted; only the rest (pods that
         * fit, and those that may reserve or preempt) are put in order. */
        unsigned char *cls_of = ferry_xcalloc(nw + 1, 1); /* 0..2, 3 = decided */
        for (size_t i = 0; i < nw; i++) {
                struct ferry_tn_wait *x = &w[i];
                const struct ferry_tn_tstate *tt = &t[x->tenant];
                bool old = now_ns - x->created_ns >= reserve_ns;
                x->reserves = x->preempts = false;
                cls_of[i] = x->preemptible ? 2 : x->reserved_in ? 0 : 1;
                if (!x->preemptible && tt->quota) {
                        int ro = ferry_tn_over(c, tt->quota, &tt->held_g, &x->req);
                        if (ro >= 0) {
                                x->verdict = FERRY_TN_WAIT_QUOTA;
                                x->res = ro;
                                cls_of[i] = 3;
                                continue;
                        }
                }
                int lack = -1;
                for (size_t r = 0; r < nres && lack < 0; r++)
                        if (x->req.v[r] > 0 && x->req.v[r] > pl.avail[r])
                                lack = (int)r;
                if (lack < 0 || (cls_of[i] < 2 && (old || x->reserved_in || can_preempt)))
                        continue;
                x->verdict = FERRY_TN_WAIT_SITE;
                x->res = lack;
                cls_of[i] = 3;
        }
        double *share = ferry_xcalloc(nt + 1, sizeof(double));
        double *hshare = ferry_xcalloc(nt + 1, sizeof(double));
        size_t *left = ferry_xcalloc(nt + 1, sizeof(size_t));
        size_t *start = ferry_xcalloc(nt + 2, sizeof(size_t));
        size_t *fill = ferry_xcalloc(nt + 1, sizeof(size_t));
        struct qent *q = ferry_xcalloc(nw + 1, sizeof(*q));
        struct qent *sorted = ferry_xcalloc(nw + 1, sizeof(*sorted));
        for (size_t k = 0; k < nt; k++)
                share[k] = order_share(&pl, &t[k]);

        /* class 0: guaranteed pods that stopped others to make room, oldest
         * first (they claim what those give back); 1: the other guaranteed
         * pods, in fair-share order (those that waited past reserve_after
         * reserve when they do not fit); 2: preemptible ones */
        for (int cls = 0; cls < 3; cls++) {
                size_t n = 0;
                for (size_t i = 0; i < nw; i++)
                        if (cls_of[i] == cls)
                                q[n++] = (struct qent){i, w[i].priority, w[i].created_ns};
                if (n == 0)
                        continue;
                if (cls == 0) {
                        qsort(q, n, sizeof(*q), by_priority_age);
                        for (size_t i = 0; i < n; i++)
                                decide(&pl, q[i].i, now_ns);
                        continue;
                }
                /* per tenant, by priority then age; tenants by share */
                memset(left, 0, (nt + 1) * sizeof(size_t));
                memset(fill, 0, (nt + 1) * sizeof(size_t));
                for (size_t i = 0; i < n; i++)
                        left[w[q[i].i].tenant]++;
                start[0] = 0;
                for (size_t k = 0; k < nt; k++)
                        start[k + 1] = start[k] + left[k];
                for (size_t i = 0; i < n; i++) {
                        size_t k = w[q[i].i].tenant;
                        sorted[start[k] + fill[k]++] = q[i];
                }
                serve(&pl, sorted, start, left, share, hshare, cls == 2 || !can_preempt, now_ns);
        }
        free(cls_of);
        free(share);
        free(hshare);
        free(left);
        free(start);
        free(fill);
        free(q);
        free(sorted);
        free(pl.victims);
        return pl.admitted;
}
