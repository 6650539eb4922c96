/* SPDX-License-Identifier: MIT */
/*
 * The Slurm backend's capacity (see slurm_internal.h and
 * doc/slurm-runtime.md): free CPUs, memory and GPUs by type of the usable
 * nodes, from one sinfo call or one slurm_load_node RPC, so the virtual node
 * advertises what the cluster has. A cluster that cannot be asked, or that
 * reports no usable node, leaves the figures unknown (-1) and says why in the
 * status: it never drains the node with zeros.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/slurm/slurm_internal.h"
#include "common/spawn.h"
#include "common/util.h"

struct gres_count {
        char type[48]; /* "" for untyped */
        int64_t total, used;
};

/* "gpu:2,gpu:a100:4(S:0-1)" / "gpu:a100:1(IDX:0)": add counts of name "gpu". */
static void gres_add(struct gres_count *g, size_t *ng, size_t max, const char *list, bool used)
{
        while (list && *list) {
                size_t l = strcspn(list, ",");
                char item[128];
                snprintf(item, sizeof(item), "%.*s", (int)(l < 127 ? l : 127), list);
                list += l + (list[l] == ',');
                item[strcspn(item, "(")] = '\0';
                char *f1 = strchr(item, ':');
                if (!f1 || strncmp(item, "gpu:", 4))
                        continue;
                char *f2 = strchr(f1 + 1, ':');
                char type[48] = "";
                const char *num = f1 + 1;
                if (f2) {
                        snprintf(type, sizeof(type), "%.*s", (int)(f2 - f1 - 1), f1 + 1);
                        num = f2 + 1;
                }
                if (!isdigit((unsigned char)*num))
                        continue;
                int64_t c = strtoll(num, NULL, 10);
                size_t k;
                for (k = 0; k < *ng; k++)
                        if (!strcmp(g[k].type, type))
                                break;
                if (k == *ng) {
                        if (*ng == max)
                                continue;
                        memset(&g[k], 0, sizeof(g[k]));
                        snprintf(g[k].type, sizeof(g[k].type), "%s", type);
                        (*ng)++;
                }
                if (used)
                        g[k].used += c;
                else
                        g[k].total += c;
        }
}

static void capacity_gpus(const struct slurm_priv *p, const struct gres_count *g, size_t ng,
                          struct ferry_capacity *ret)
{
        for (size_t k = 0; k < ng; k++) {
                char gres[64];
                const char *res = "nvidia.com/gpu";
                snprintf(gres, sizeof(gres), "gpu%s%s", g[k].type[0] ? ":" : "", g[k].type);
                for (size_t i = 0; i < p->site->n_gres; i++)
                        if (p->site->gres[i].gres && !strcmp(p->site->gres[i].gres, gres))
                                res = p->site->gres[i].resource;
                size_t a;
                for (a = 0; a < ret->n_accel; a++)
                        if (!strcmp(ret->accel[a].resource, res))
                                break;
                if (a == ret->n_accel) {
                        if (a == FERRY_ARRAY_SIZE(ret->accel))
                                continue;
                        snprintf(ret->accel[a].resource, sizeof(ret->accel[a].resource), "%s", res);
                        ret->accel[a].available = 0;
                        ret->accel[a].total = 0;
                        ret->n_accel++;
                }
                int64_t free_n = g[k].total - g[k].used;
                ret->accel[a].available += free_n > 0 ? free_n : 0;
                ret->accel[a].total += g[k].total;
        }
}

struct node_sum {
        int64_t cpus, alloc_cpus, mem_mb, alloc_mem_mb;
        size_t up, total;
        struct gres_count g[16];
        size_t ng;
};

static bool node_state_usable(const char *s)
{
        /* sinfo %T: idle, mixed, allocated, completing (+ "*" when not responding, "~" etc.) */
        if (strchr(s, '*'))
                return false;
        return !strncmp(s, "idle", 4) || !strncmp(s, "mixed", 5) || !strncmp(s, "allocated", 9) ||
               !strncmp(s, "completing", 10);
}

static int nodes_sinfo(struct slurm_priv *p, struct node_sum *ns, ferry_error_t *err)
{
        /* one line per node: name|state|CPUs A/I/O/T|memory|allocmem|gres|gresused */
        const char *argv[] = {
            "sinfo",
            "-h",
            "-N",
            "-O",
            "NodeList:|,StateLong:|,CPUsState:|,Memory:|,AllocMem:|,Gres:|,GresUsed:",
            NULL};
        struct ferry_spawn_result res;
        int r = ferry_spawn_run(argv, NULL, NULL, 0, TOOL_TIMEOUT_MS, TOOL_OUT_MAX, &res, err);
        if (r < 0)
                return r;
        if (res.exit_code != 0)
                return slurm_tool_failed(p, &res, -EIO, "sinfo failed", err);
        for (char *save = NULL, *line = strtok_r(res.out, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
                char *f[7];
                size_t nf = 0;
                for (char *q = line; nf < 7 && q; nf++) {
                        f[nf] = q;
                        q = strchr(q, '|');
                        if (q)
                                *q++ = '\0';
                }
                if (nf < 7)
                        continue;
                for (size_t i = 0; i < 7; i++) {
                        char *e = f[i] + strlen(f[i]);
                        while (e > f[i] && isspace((unsigned char)e[-1]))
                                *--e = '\0';
                }
                ns->total++;
                if (!node_state_usable(f[1]))
                        continue;
                ns->up++;
                long long a = 0, i_ = 0, o = 0, t = 0;
                if (sscanf(f[2], "%lld/%lld/%lld/%lld", &a, &i_, &o, &t) == 4) {
                        ns->cpus += t - o;
                        ns->alloc_cpus += a;
                }
                ns->mem_mb += strtoll(f[3], NULL, 10);
                ns->alloc_mem_mb += strtoll(f[4], NULL, 10);
                gres_add(ns->g, &ns->ng, FERRY_ARRAY_SIZE(ns->g), f[5], false);
                gres_add(ns->g, &ns->ng, FERRY_ARRAY_SIZE(ns->g), f[6], true);
        }
        ferry_spawn_result_free(&res);
        return 0;
}

#ifdef FERRY_HAVE_SLURM_H
static int nodes_lib(struct node_sum *ns, ferry_error_t *err)
{
        node_info_msg_t *m = NULL;
        if (slurm_lib.load_node((time_t)0, &m, SHOW_ALL) != SLURM_SUCCESS) {
                int e = slurm_lib.get_errno();
                return ferry_errprintf(err, slurm_lib_error(e), "slurm_load_node: %s",
                                       slurm_lib.strerror(e));
        }
        for (uint32_t i = 0; i < m->record_count; i++) {
                node_info_t *n = &m->node_array[i];
                if (!n->name)
                        continue;
                ns->total++;
                uint32_t base = n->node_state & NODE_STATE_BASE;
                if (base == NODE_STATE_DOWN || base == NODE_STATE_FUTURE ||
                    (n->node_state & (NODE_STATE_DRAIN | NODE_STATE_FAIL | NODE_STATE_NO_RESPOND)))
                        continue;
                ns->up++;
                uint16_t alloc = 0;
                uint64_t amem = 0;
                slurm_lib.get_select_nodeinfo(n->select_nodeinfo, SELECT_NODEDATA_SUBCNT,
                                              NODE_STATE_ALLOCATED, &alloc);
                slurm_lib.get_select_nodeinfo(n->select_nodeinfo, SELECT_NODEDATA_MEM_ALLOC,
                                              NODE_STATE_ALLOCATED, &amem);
                ns->cpus += n->cpus_efctv ? n->cpus_efctv : n->cpus;
                ns->alloc_cpus += alloc;
                ns->mem_mb += (int64_t)n->real_memory;
                ns->alloc_mem_mb += (int64_t)amem;
                gres_add(ns->g, &ns->ng, FERRY_ARRAY_SIZE(ns->g), n->gres, false);
                gres_add(ns->g, &ns->ng, FERRY_ARRAY_SIZE(ns->g), n->gres_used, true);
        }
        slurm_lib.free_node_info_msg(m);
        return 0;
}
#endif

int slurm_capacity(struct ferry_backend *be, struct ferry_capacity *ret, ferry_error_t *err)
{
        struct slurm_priv *p = be->priv;
        struct node_sum ns = {0};
        ferry_error_t qerr = {{0}};
        memset(ret, 0, sizeof(*ret));
        /* unknown stays unknown (-1: not advertised), never 0: a zero would drain the node */
        ret->cpu_milli = ret->memory_bytes = ret->pods = -1;
        ret->total_cpu_milli = ret->total_memory_bytes = ret->total_pods = -1;
        int r = slurm_ctld_check(p, &qerr);
        if (r == 0) {
#ifdef FERRY_HAVE_SLURM_H
                if (p->use_lib)
                        r = nodes_lib(&ns, &qerr);
                else
#endif
                        r = nodes_sinfo(p, &ns, &qerr);
        }
        if (r < 0) {
                snprintf(ret->status, sizeof(ret->status),
                         "slurm: cannot ask the cluster for free resources (%.120s); pods are kept "
                         "and submitted when it answers",
                         qerr.text);
                return 0;
        }
        slurm_ctld_ok(p);
        if (ns.up == 0) {
                snprintf(ret->status, sizeof(ret->status),
                         "slurm: the cluster reports %zu nodes and none is usable (down, "
                         "drained or not responding); pods will wait in Slurm's queue",
                         ns.total);
                return 0;
        }
        ret->total_cpu_milli = ns.cpus * 1000;
        ret->total_memory_bytes = ns.mem_mb * 1024 * 1024;
        ret->total_pods = p->max_pods;
        ret->cpu_milli = (ns.cpus - ns.alloc_cpus) * 1000;
        ret->memory_bytes = (ns.mem_mb - ns.alloc_mem_mb) * 1024 * 1024;
        if (ret->cpu_milli < 0)
                ret->cpu_milli = 0;
        if (ret->memory_bytes < 0)
                ret->memory_bytes = 0;
        size_t queued = 0;
        pthread_mutex_lock(&p->lock);
        if (p->snap)
                for (size_t i = 0; i < p->snap->n; i++)
                        queued += !sstate_terminal(p->snap->v[i].state);
        pthread_mutex_unlock(&p->lock);
        ret->pods = p->max_pods - (int64_t)queued;
        if (ret->pods < 0)
                ret->pods = 0;
        capacity_gpus(p, ns.g, ns.ng, ret);
        if (ns.cpus == 0 && ns.mem_mb == 0)
                snprintf(ret->status, sizeof(ret->status),
                         "slurm: %zu usable nodes report no CPUs and no memory", ns.up);
        else
                snprintf(ret->status, sizeof(ret->status),
                         "slurm: %zu of %zu nodes usable, %" PRId64 " of %" PRId64
                         " CPUs allocated, %zu jobs queued or running",
                         ns.up, ns.total, ns.alloc_cpus, ns.cpus, queued);
        return 0;
}
