/* SPDX-License-Identifier: MIT */
/* A plan as text: a table for people, JSON for tools, mig-parted for the GPU Operator. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "gpu/mig_io.h"

static const struct ferry_mig_gpu *gpu_of(const struct ferry_mig_inventory *inv,
                                          const struct ferry_mig_target *t)
{
        return &inv->nodes[t->node].gpus[t->gpu];
}

/* Instance counts per profile, in table order. */
static void counts(const struct ferry_mig_layout *l, unsigned c[FERRY_MIG_MAX_PROFILES])
{
        memset(c, 0, FERRY_MIG_MAX_PROFILES * sizeof(unsigned));
        for (unsigned i = 0; i < l->n; i++)
                c[l->inst[i].profile]++;
}

/* "3g.40gb x1, 1g.10gb x4" (largest first), "MIG off", "MIG on, empty". */
static void layout_text(struct ferry_buf *b, const struct ferry_mig_geometry *g,
                        const struct ferry_mig_layout *l)
{
        unsigned c[FERRY_MIG_MAX_PROFILES], in_use = 0;
        bool first = true;
        if (!l->mig) {
                ferry_buf_adds(b, "MIG off (whole GPU)");
                return;
        }
        if (!l->n) {
                ferry_buf_adds(b, "MIG on, no instances");
                return;
        }
        counts(l, c);
        for (int p = g->n_profiles - 1; p >= 0; p--) {
                if (!c[p])
                        continue;
                ferry_buf_printf(b, "%s%s x%u", first ? "" : ", ", g->profiles[p].name, c[p]);
                first = false;
        }
        for (unsigned i = 0; i < l->n; i++)
                in_use += l->inst[i].in_use;
        if (in_use)
                ferry_buf_printf(b, " (%u in use)", in_use);
}

static void fmt_milli(char *buf, size_t size, uint64_t v)
{
        if (v % 1000 == 0)
                snprintf(buf, size, "%" PRIu64, v / 1000);
        else
                snprintf(buf, size, "%.3f", (double)v / 1000.0);
}

static char *format_table(const struct ferry_mig_plan *p, const struct ferry_mig_inventory *inv,
                          const struct ferry_mig_demand *d)
{
        struct ferry_buf b = FERRY_BUF_INIT;
        struct ferry_buf lay = FERRY_BUF_INIT;
        char v1[32], v2[32], v3[32];

        ferry_buf_printf(&b, "%-20s %-4s %-11s %-7s %s\n", "NODE", "GPU", "MODEL", "ACTION",
                         "LAYOUT");
        for (size_t i = 0; i < p->n_targets; i++) {
                const struct ferry_mig_target *t = &p->targets[i];
                const struct ferry_mig_gpu *g = gpu_of(inv, t);
                ferry_buf_reset(&lay);
                layout_text(&lay, g->geom, &t->layout);
                if (t->changed) {
                        ferry_buf_adds(&lay, "  <- was ");
                        layout_text(&lay, g->geom, &g->current);
                }
                ferry_buf_printf(&b, "%-20s %-4u %-11s %-7s %s\n", inv->nodes[t->node].name,
                                 g->index, g->geom->model,
                                 t->disrupts  ? "DISRUPT"
                                 : t->changed ? "change"
                                              : "keep",
                                 lay.data ? lay.data : "");
        }
        ferry_buf_printf(&b, "\n%-12s %7s %7s %7s %7s\n", "PROFILE", "WEIGHT", "DEMAND", "SUPPLY",
                         "SERVED");
        for (size_t j = 0; j < d->n; j++) {
                fmt_milli(v1, sizeof(v1), d->req[j].weight);
                ferry_buf_printf(&b, "%-12s %7s %7u %7u %7u\n", d->req[j].profile, v1,
                                 d->req[j].count, p->supply[j], p->served[j]);
        }
        fmt_milli(v1, sizeof(v1), p->value);
        fmt_milli(v2, sizeof(v2), p->total);
        fmt_milli(v3, sizeof(v3), p->bound);
        ferry_buf_printf(&b, "\nServed %s of %s weighted demand (%.1f%%); upper bound %s%s.\n", v1,
                         v2, p->total ? 100.0 * (double)p->value / (double)p->total : 100.0, v3,
                         p->optimal ? " (optimal)" : "");
        ferry_buf_printf(&b, "GPUs changed: %zu of %zu; nodes touched: %zu; GPUs disrupted: %zu.\n",
                         p->gpus_changed, p->n_targets, p->nodes_touched, p->disrupted);
        ferry_buf_free(&lay);
        return ferry_buf_steal(&b);
}

static json_t *layout_json(const struct ferry_mig_geometry *g, const struct ferry_mig_layout *l)
{
        json_t *arr = json_array();
        for (unsigned i = 0; i < l->n; i++)
                json_array_append_new(arr, json_pack("{s:s, s:i, s:b}", "profile",
                                                     g->profiles[l->inst[i].profile].name, "start",
                                                     (int)l->inst[i].start, "in_use",
                                                     (int)l->inst[i].in_use));
        return arr;
}

static char *format_json(const struct ferry_mig_plan *p, const struct ferry_mig_inventory *inv,
                         const struct ferry_mig_demand *d)
{
        json_t *root = json_object(), *dem = json_array(), *nodes = json_array();
        json_t *cur_node = NULL;
        size_t cur_idx = SIZE_MAX;

        json_object_set_new(
            root, "summary",
            json_pack("{s:f, s:f, s:f, s:b, s:I, s:I, s:I, s:I}", "served_weight",
                      (double)p->value / 1000.0, "total_weight", (double)p->total / 1000.0,
                      "upper_bound", (double)p->bound / 1000.0, "optimal", (int)p->optimal, "gpus",
                      (json_int_t)p->n_targets, "gpus_changed", (json_int_t)p->gpus_changed,
                      "nodes_touched", (json_int_t)p->nodes_touched, "gpus_disrupted",
                      (json_int_t)p->disrupted));
        for (size_t j = 0; j < d->n; j++)
                json_array_append_new(
                    dem,
                    json_pack("{s:s, s:f, s:i, s:i, s:i}", "profile", d->req[j].profile, "weight",
                              d->req[j].weight / 1000.0, "count", (int)d->req[j].count, "supply",
                              (int)p->supply[j], "served", (int)p->served[j]));
        json_object_set_new(root, "demand", dem);
        for (size_t i = 0; i < p->n_targets; i++) {
                const struct ferry_mig_target *t = &p->targets[i];
                const struct ferry_mig_gpu *g = gpu_of(inv, t);
                if (t->node != cur_idx) {
                        cur_idx = t->node;
                        cur_node =
                            json_pack("{s:s, s:[]}", "name", inv->nodes[t->node].name, "gpus");
                        json_array_append_new(nodes, cur_node);
                }
                json_t *gj = json_pack(
                    "{s:i, s:s, s:b, s:b, s:b, s:o, s:b, s:o}", "index", (int)g->index, "model",
                    g->geom->model, "changed", (int)t->changed, "disrupts", (int)t->disrupts,
                    "mig_enabled", (int)t->layout.mig, "instances",
                    layout_json(g->geom, &t->layout), "current_mig_enabled", (int)g->current.mig,
                    "current_instances", layout_json(g->geom, &g->current));
                json_array_append_new(json_object_get(cur_node, "gpus"), gj);
        }
        json_object_set_new(root, "nodes", nodes);
        char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(root);
        char *out = ferry_xasprintf("%s\n", s ? s : "{}");
        free(s);
        return out;
}

/* mig-parted: one named config per distinct node layout, a node label per node. */
static void node_config(struct ferry_buf *b, const struct ferry_mig_plan *p,
                        const struct ferry_mig_inventory *inv, size_t first, size_t end)
{
        bool *done = ferry_xcalloc(end - first + 1, 1);
        for (size_t i = first; i < end; i++) {
                if (done[i - first])
                        continue;
                const struct ferry_mig_geometry *g = gpu_of(inv, &p->targets[i])->geom;
                unsigned ci[FERRY_MIG_MAX_PROFILES], ck[FERRY_MIG_MAX_PROFILES];
                counts(&p->targets[i].layout, ci);
                struct ferry_buf dev = FERRY_BUF_INIT;
                size_t ndev = 0;
                for (size_t k = i; k < end; k++) {
                        const struct ferry_mig_target *t = &p->targets[k];
                        counts(&t->layout, ck);
                        if (done[k - first] || gpu_of(inv, t)->geom != g ||
                            t->layout.mig != p->targets[i].layout.mig ||
                            memcmp(ci, ck, sizeof(ci)) != 0)
                                continue;
                        done[k - first] = true;
                        ferry_buf_printf(&dev, "%s%u", ndev++ ? ", " : "", gpu_of(inv, t)->index);
                }
                if (ndev == end - first)
                        ferry_buf_adds(b, "    - devices: all\n");
                else
                        ferry_buf_printf(b, "    - devices: [%s]\n", dev.data);
                ferry_buf_free(&dev);
                if (!p->targets[i].layout.mig) {
                        ferry_buf_adds(b, "      mig-enabled: false\n");
                        continue;
                }
                ferry_buf_adds(b, "      mig-enabled: true\n");
                bool any = false;
                for (unsigned q = 0; q < g->n_profiles; q++)
                        any |= ci[q] != 0;
                ferry_buf_printf(b, "      mig-devices:%s\n", any ? "" : " {}");
                for (unsigned q = 0; q < g->n_profiles; q++)
                        if (ci[q])
                                ferry_buf_printf(b, "        \"%s\": %u\n", g->profiles[q].name,
                                                 ci[q]);
        }
        free(done);
}

static char *format_mig_parted(const struct ferry_mig_plan *p,
                               const struct ferry_mig_inventory *inv)
{
        size_t nn = inv->n_nodes;
        char **body = ferry_xcalloc(nn ? nn : 1, sizeof(char *));
        size_t *cfg = ferry_xcalloc(nn ? nn : 1, sizeof(size_t));
        bool *changed = ferry_xcalloc(nn ? nn : 1, 1);
        size_t *rep = ferry_xcalloc(nn ? nn : 1, sizeof(size_t)); /* config -> first node */
        size_t ncfg = 0;
        struct ferry_buf b = FERRY_BUF_INIT;

        /* targets are in inventory order, grouped by node */
        for (size_t i = 0; i < p->n_targets;) {
                size_t nd = p->targets[i].node, e = i;
                while (e < p->n_targets && p->targets[e].node == nd) {
                        changed[nd] |= p->targets[e].changed;
                        e++;
                }
                struct ferry_buf nb = FERRY_BUF_INIT;
                node_config(&nb, p, inv, i, e);
                body[nd] = ferry_buf_steal(&nb);
                i = e;
        }
        for (size_t nd = 0; nd < nn; nd++) {
                if (!body[nd])
                        continue;
                size_t k;
                for (k = 0; k < ncfg; k++)
                        if (strcmp(body[rep[k]], body[nd]) == 0)
                                break;
                if (k == ncfg)
                        rep[ncfg++] = nd;
                cfg[nd] = k;
        }
        ferry_buf_adds(
            &b, "# Generated by 'ferry mig plan'. Apply with the GPU Operator's mig-manager\n"
                "# by labelling each node with its config; it pauses the node's GPU clients.\n"
                "# Nodes whose GPUs change:\n");
        size_t nch = 0;
        for (size_t nd = 0; nd < nn; nd++)
                if (body[nd] && changed[nd]) {
                        ferry_buf_printf(&b,
                                         "#   kubectl label node %s "
                                         "nvidia.com/mig.config=ferry-%zu --overwrite\n",
                                         inv->nodes[nd].name, cfg[nd] + 1);
                        nch++;
                }
        if (!nch)
                ferry_buf_adds(&b, "#   (none)\n");
        ferry_buf_adds(&b, "# Nodes that keep their layout (label only if not labelled yet):\n");
        size_t nkeep = 0;
        for (size_t nd = 0; nd < nn; nd++)
                if (body[nd] && !changed[nd]) {
                        ferry_buf_printf(&b, "#   %s nvidia.com/mig.config=ferry-%zu\n",
                                         inv->nodes[nd].name, cfg[nd] + 1);
                        nkeep++;
                }
        if (!nkeep)
                ferry_buf_adds(&b, "#   (none)\n");
        ferry_buf_adds(&b, "version: v1\nmig-configs:\n");
        for (size_t k = 0; k < ncfg; k++)
                ferry_buf_printf(&b, "  ferry-%zu:\n%s", k + 1, body[rep[k]]);
        for (size_t nd = 0; nd < nn; nd++)
                free(body[nd]);
        free(body);
        free(cfg);
        free(changed);
        free(rep);
        return ferry_buf_steal(&b);
}

char *ferry_mig_plan_format(const struct ferry_mig_plan *p, const struct ferry_mig_inventory *inv,
                            const struct ferry_mig_demand *d, enum ferry_mig_format fmt)
{
        switch (fmt) {
        case FERRY_MIG_FMT_JSON: return format_json(p, inv, d);
        case FERRY_MIG_FMT_MIG_PARTED: return format_mig_parted(p, inv);
        case FERRY_MIG_FMT_TABLE:
        default: return format_table(p, inv, d);
        }
}
