/* SPDX-License-Identifier: MIT */
/*
 * The wrappers the core calls: argument checks, timing, error counting and
 * logging live here once, not in every backend.
 */
#include "backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

/* Built-in backends, in one static array. */
static const struct ferry_backend_ops *const builtin[] = {
    &ferry_backend_local_ops,
    &ferry_backend_fake_ops,
    &ferry_backend_slurm_ops,
};

const struct ferry_backend_ops *ferry_backend_lookup(const char *name)
{
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(builtin); i++)
                if (builtin[i] && name && !strcmp(builtin[i]->name, name))
                        return builtin[i];
        return NULL;
}

const char *ferry_backend_names(void)
{
        static char names[256];
        if (!names[0]) {
                size_t n = 0;
                for (size_t i = 0; i < FERRY_ARRAY_SIZE(builtin); i++)
                        if (builtin[i])
                                n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s",
                                                      n ? ", " : "", builtin[i]->name);
        }
        return names;
}

const char *ferry_backend_op_name(enum ferry_backend_op op)
{
        static const char *const names[FERRY_BOP_MAX] = {
            [FERRY_BOP_SUBMIT] = "submit",     [FERRY_BOP_FIND] = "find",
            [FERRY_BOP_POLL] = "poll",         [FERRY_BOP_KILL] = "kill",
            [FERRY_BOP_CLEANUP] = "cleanup",   [FERRY_BOP_CAPACITY] = "capacity",
            [FERRY_BOP_LOG_PATH] = "log_path",
        };
        return op < FERRY_BOP_MAX ? names[op] : "unknown";
}

const char *ferry_backend_opt(const struct ferry_backend *be, const char *key, const char *def)
{
        for (size_t i = 0; i < be->cfg.n_options; i++)
                if (!strcmp(be->cfg.options[i].key, key))
                        return be->cfg.options[i].value;
        return def;
}

int64_t ferry_backend_opt_int(const struct ferry_backend *be, const char *key, int64_t def)
{
        const char *v = ferry_backend_opt(be, key, NULL);
        char *end;
        if (!v)
                return def;
        long long x = strtoll(v, &end, 10);
        return end != v && *end == '\0' ? (int64_t)x : def;
}

int ferry_backend_log_opts(const struct ferry_backend *be, int64_t *ret_size, int *ret_files,
                           ferry_error_t *err)
{
        const char *size = ferry_backend_opt(be, "container_log_max_size", "10Mi");
        int64_t files = ferry_backend_opt_int(be, "container_log_max_files", 5);
        if (ferry_quantity_bytes(size, ret_size) < 0 || *ret_size < 4096)
                return ferry_errprintf(err, -EINVAL,
                                       "container_log_max_size \"%s\" must be a size of at least "
                                       "4Ki (e.g. 10Mi)",
                                       size);
        if (files < 2 || files > 1000)
                return ferry_errprintf(err, -EINVAL,
                                       "container_log_max_files must be a number from 2 to 1000");
        *ret_files = (int)files;
        return 0;
}

/* One container's GPU resources into req (limit, else request). */
static int container_gpus(const struct ferry_container *c, struct ferry_gpu_request *req)
{
        int64_t n = c->limits.gpus >= 0 ? c->limits.gpus : c->requests.gpus;
        if (n > 0 && ferry_gpu_request_add(req, FERRY_GPU_RESOURCE, (unsigned)n) < 0)
                return -E2BIG;
        const struct ferry_resources *sets[2] = {&c->limits, &c->requests};
        for (int k = 0; k < 2; k++)
                for (size_t i = 0; i < sets[k]->n_extended; i++) {
                        const struct ferry_extended *e = &sets[k]->extended[i];
                        if (!ferry_gpu_resource_is_gpu(e->name) || e->count <= 0)
                                continue;
                        bool in_limits = false; /* a request counts only without a limit */
                        for (size_t j = 0; k == 1 && j < c->limits.n_extended; j++)
                                in_limits |= !strcmp(c->limits.extended[j].name, e->name);
                        if (!in_limits &&
                            ferry_gpu_request_add(req, e->name, (unsigned)e->count) < 0)
                                return -E2BIG;
                }
        return 0;
}

/* r[res] = max(r[res], n) */
static int request_max(struct ferry_gpu_request *r, const char *res, unsigned n)
{
        for (size_t j = 0; j < r->n; j++)
                if (!strcmp(r->item[j].resource, res)) {
                        if (n > r->item[j].count)
                                r->item[j].count = n;
                        return 0;
                }
        return ferry_gpu_request_add(r, res, n);
}

int ferry_backend_gpu_request(const struct ferry_pod *pod, struct ferry_gpu_request *ret,
                              ferry_error_t *err)
{
        struct ferry_gpu_request apps = {0}, init = {0};
        *ret = (struct ferry_gpu_request){0};
        for (size_t i = 0; i < pod->n_containers; i++) {
                const struct ferry_container *c = &pod->containers[i];
                struct ferry_gpu_request one = {0};
                if (container_gpus(c, c->is_init ? &one : &apps) < 0)
                        goto too_many;
                for (size_t k = 0; k < one.n; k++) /* the largest init container */
                        if (request_max(&init, one.item[k].resource, one.item[k].count) < 0)
                                goto too_many;
        }
        *ret = apps;
        for (size_t k = 0; k < init.n; k++)
                if (request_max(ret, init.item[k].resource, init.item[k].count) < 0)
                        goto too_many;
        return 0;
too_many:
        return ferry_errprintf(err, -E2BIG, "pod %s/%s asks for more than %d GPU resources",
                               pod->namespace, pod->name, FERRY_GPU_REQUEST_MAX);
}

int ferry_backend_new(const struct ferry_backend_config *cfg, struct ferry_backend **ret,
                      ferry_error_t *err)
{
        const struct ferry_backend_ops *ops = ferry_backend_lookup(cfg->name);
        struct ferry_backend *be;
        int r;

        if (!ops)
                return ferry_errprintf(err, -ENOENT, "unknown backend \"%s\" (built in: %s)",
                                       cfg->name ? cfg->name : "", ferry_backend_names());
        be = ferry_xcalloc(1, sizeof(*be));
        be->ops = ops;
        be->cfg = *cfg;
        r = ops->init(be, err);
        if (r < 0) {
                ferry_errprefix(err, r, "backend %s", ops->name);
                free(be);
                return r;
        }
        *ret = be;
        return 0;
}

void ferry_backend_free(struct ferry_backend *be)
{
        if (!be)
                return;
        if (be->ops->fini)
                be->ops->fini(be);
        free(be);
}

static void account(struct ferry_backend *be, enum ferry_backend_op op, int64_t t0, int r)
{
        ferry_hist_observe(&be->stats.lat[op], ferry_monotonic_ns() - t0);
        if (r < 0 && r != -EINPROGRESS && r != -ENOENT && r != FERRY_BACKEND_WAIT)
                atomic_fetch_add(&be->stats.errors[op], 1);
}

void ferry_backend_metrics(struct ferry_backend *be, struct ferry_buf *out)
{
        const char *bn = be->ops->name;
        ferry_buf_adds(out, "# HELP ferry_backend_calls_total Backend operations called.\n"
                            "# TYPE ferry_backend_calls_total counter\n");
        for (int op = 0; op < FERRY_BOP_MAX; op++)
                ferry_buf_printf(out, "ferry_backend_calls_total{backend=\"%s\",op=\"%s\"} %llu\n",
                                 bn, ferry_backend_op_name(op),
                                 (unsigned long long)ferry_hist_count(&be->stats.lat[op]));
        ferry_buf_adds(out, "# HELP ferry_backend_errors_total Backend operations that failed.\n"
                            "# TYPE ferry_backend_errors_total counter\n");
        for (int op = 0; op < FERRY_BOP_MAX; op++)
                ferry_buf_printf(out, "ferry_backend_errors_total{backend=\"%s\",op=\"%s\"} %llu\n",
                                 bn, ferry_backend_op_name(op),
                                 (unsigned long long)atomic_load(&be->stats.errors[op]));
        ferry_buf_adds(out, "# HELP ferry_backend_call_duration_seconds Backend call latency.\n"
                            "# TYPE ferry_backend_call_duration_seconds histogram\n");
        for (int op = 0; op < FERRY_BOP_MAX; op++) {
                char labels[128];
                snprintf(labels, sizeof(labels), "backend=\"%s\",op=\"%s\"", bn,
                         ferry_backend_op_name(op));
                ferry_hist_render(out, "ferry_backend_call_duration_seconds", labels,
                                  &be->stats.lat[op]);
        }
}

#define CALL(be, op, expr)                                                                         \
        ({                                                                                         \
                int64_t _t0 = ferry_monotonic_ns();                                                \
                int _r = (expr);                                                                   \
                account((be), (op), _t0, _r);                                                      \
                _r;                                                                                \
        })

int ferry_backend_submit(struct ferry_backend *be, const struct ferry_pod *pod,
                         char ret_jid[FERRY_JID_MAX], ferry_error_t *err)
{
        char jid[FERRY_JID_MAX] = "";
        if (!pod || !pod->uid)
                return ferry_errprintf(err, -EINVAL, "no pod to submit");
        int r = CALL(be, FERRY_BOP_SUBMIT, be->ops->submit(be, pod, jid, err));
        if (r == FERRY_BACKEND_WAIT)
                return r; /* the pod waits: said in its status, not a failure */
        if (r < 0) {
                log_warn("backend %s: submit of pod %s/%s (%s) failed: %s", be->ops->name,
                         pod->namespace, pod->name, pod->uid, err ? err->text : "");
                return r;
        }
        if (!jid[0])
                return ferry_errprintf(err, -EIO, "backend %s returned no job id", be->ops->name);
        memcpy(ret_jid, jid, FERRY_JID_MAX);
        return r;
}

void ferry_backend_devices(struct ferry_backend *be, const char *uid, char *ret, size_t size)
{
        if (size)
                ret[0] = '\0';
        if (be->ops->devices && size)
                be->ops->devices(be, uid, ret, size);
}

void ferry_backend_usage(struct ferry_backend *be, const char *uid,
                         const struct ferry_pod_status *st, int64_t *ret_cpu_ns,
                         int64_t *ret_mem_peak)
{
        *ret_cpu_ns = *ret_mem_peak = -1;
        if (be->ops->usage)
                be->ops->usage(be, uid, st, ret_cpu_ns, ret_mem_peak);
}

int ferry_backend_find(struct ferry_backend *be, const char *uid, char ret_jid[FERRY_JID_MAX],
                       ferry_error_t *err)
{
        if (!be->ops->find)
                return 0;
        return CALL(be, FERRY_BOP_FIND, be->ops->find(be, uid, ret_jid, err));
}

int ferry_backend_poll(struct ferry_backend *be, struct ferry_poll_item *items, size_t n,
                       ferry_error_t *err)
{
        if (n == 0)
                return 0;
        int r = CALL(be, FERRY_BOP_POLL, be->ops->poll(be, items, n, err));
        if (r < 0)
                log_warn("backend %s: poll of %zu pods failed: %s", be->ops->name, n,
                         err ? err->text : "");
        return r;
}

int ferry_backend_kill(struct ferry_backend *be, const char *uid, const char *jid, int64_t grace_s,
                       ferry_error_t *err)
{
        if (grace_s < 0)
                grace_s = 0;
        return CALL(be, FERRY_BOP_KILL, be->ops->kill(be, uid, jid ? jid : "", grace_s, err));
}

int ferry_backend_cleanup(struct ferry_backend *be, const char *uid, const char *jid,
                          ferry_error_t *err)
{
        if (!be->ops->cleanup)
                return 0;
        return CALL(be, FERRY_BOP_CLEANUP, be->ops->cleanup(be, uid, jid ? jid : "", err));
}

int ferry_backend_capacity(struct ferry_backend *be, struct ferry_capacity *ret, ferry_error_t *err)
{
        memset(ret, 0, sizeof(*ret));
        if (!be->ops->capacity) {
                ret->cpu_milli = ret->memory_bytes = ret->pods = -1;
                ret->total_cpu_milli = ret->total_memory_bytes = ret->total_pods = -1;
                return 0;
        }
        return CALL(be, FERRY_BOP_CAPACITY, be->ops->capacity(be, ret, err));
}

int ferry_backend_log_path(struct ferry_backend *be, const char *uid, const char *jid,
                           const char *container, char *ret_path, size_t size, ferry_error_t *err)
{
        if (!be->ops->log_path)
                return ferry_errprintf(err, -ENOTSUP, "backend %s keeps no logs", be->ops->name);
        return CALL(be, FERRY_BOP_LOG_PATH,
                    be->ops->log_path(be, uid, jid ? jid : "", container, ret_path, size, err));
}
