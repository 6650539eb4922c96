/* SPDX-License-Identifier: MIT */
/*
 * MIG planner quality and speed (numbers go to bench/mig/RESULTS.md):
 *  1. heuristic vs exhaustive optimum on random small clusters;
 *  2. planner vs the best single static layout on AI_INFN-like mixes;
 *  3. planning time for 1,000 GPUs;
 *  4. GPUs changed per re-plan when demand shifts.
 * Usage: bench-mig [SEED]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "gpu/mig.h"

static uint64_t rs = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
        rs ^= rs << 13;
        rs ^= rs >> 7;
        rs ^= rs << 17;
        return (uint32_t)(rs % n);
}

static const struct ferry_mig_geometry *A100;

static struct ferry_mig_inventory make_cluster(size_t nodes, size_t per, bool random_layouts,
                                               bool in_use)
{
        struct ferry_mig_inventory inv = {.n_nodes = nodes};
        size_t ne = ferry_mig_enumerate(A100, NULL, 0);
        struct ferry_mig_layout *all = ferry_xcalloc(ne, sizeof(*all));
        ferry_mig_enumerate(A100, all, ne);
        inv.nodes = ferry_xcalloc(nodes, sizeof(*inv.nodes));
        for (size_t i = 0; i < nodes; i++) {
                inv.nodes[i].name = ferry_xasprintf("node-%03zu", i);
                inv.nodes[i].n_gpus = per;
                inv.nodes[i].gpus = ferry_xcalloc(per, sizeof(struct ferry_mig_gpu));
                for (size_t k = 0; k < per; k++) {
                        struct ferry_mig_gpu *g = &inv.nodes[i].gpus[k];
                        g->geom = A100;
                        g->index = (unsigned)k;
                        g->current = (struct ferry_mig_layout){.mig = true};
                        if (random_layouts)
                                g->current = all[rnd((uint32_t)ne)];
                        if (in_use)
                                for (unsigned q = 0; q < g->current.n; q++)
                                        g->current.inst[q].in_use = rnd(5) == 0;
                }
        }
        free(all);
        return inv;
}

static void set_req(struct ferry_mig_request *r, const char *p, uint32_t count, uint32_t w)
{
        memset(r, 0, sizeof(*r));
        snprintf(r->profile, sizeof(r->profile), "%s", p);
        r->count = count;
        r->weight = w;
}

/* AI_INFN-like: many 1g, a few 2g/3g/4g and whole GPUs, scaled to n GPUs. */
static struct ferry_mig_demand aiinfn_demand(size_t n, bool weighted)
{
        struct ferry_mig_demand d = {.n = 5, .req = ferry_xcalloc(5, sizeof(struct ferry_mig_request))};
        double s = (double)n / 16.0;
        set_req(&d.req[0], "1g.10gb", (uint32_t)(s * (40 + rnd(40))), 1000);
        set_req(&d.req[1], "2g.20gb", (uint32_t)(s * rnd(6)), weighted ? 2000 : 1000);
        set_req(&d.req[2], "3g.40gb", (uint32_t)(s * (1 + rnd(5))), weighted ? 3000 : 1000);
        set_req(&d.req[3], "4g.40gb", (uint32_t)(s * (1 + rnd(3))), weighted ? 4000 : 1000);
        set_req(&d.req[4], "gpu", (uint32_t)(s * (1 + rnd(2))), weighted ? 7000 : 1000);
        return d;
}

static uint64_t served_count(const struct ferry_mig_plan *p)
{
        uint64_t s = 0;
        for (size_t j = 0; j < p->n_req; j++)
                s += p->served[j];
        return s;
}

static void bench_small(int trials)
{
        double sum = 0, worst = 1;
        int within = 0, done = 0, exact_hits = 0;
        for (int t = 0; t < trials; t++) {
                struct ferry_mig_inventory inv = make_cluster(1 + rnd(3), 1 + rnd(3), true, true);
                struct ferry_mig_demand d = aiinfn_demand(4, true);
                for (size_t j = 0; j < d.n; j++)
                        d.req[j].count = rnd(9);
                struct ferry_mig_plan *h, *x;
                ferry_error_t err;
                struct ferry_mig_options oh = {.mode = FERRY_MIG_HEURISTIC};
                struct ferry_mig_options ox = {.mode = FERRY_MIG_EXACT, .node_limit = 50000000};
                if (ferry_mig_plan(&inv, &d, &oh, &h, &err) < 0 ||
                    ferry_mig_plan(&inv, &d, &ox, &x, &err) < 0) {
                        fprintf(stderr, "plan: %s\n", err.text);
                        exit(1);
                }
                if (x->optimal) {
                        double r = x->value ? (double)h->value / (double)x->value : 1.0;
                        sum += r;
                        worst = r < worst ? r : worst;
                        within += r >= 0.99;
                        exact_hits += h->value == x->value;
                        done++;
                }
                ferry_mig_plan_free(h);
                ferry_mig_plan_free(x);
                ferry_mig_inventory_free(&inv);
                ferry_mig_demand_free(&d);
        }
        printf("1. small random clusters (1-9 A100-80GB, random layouts, 20%% in use): %d proven optima\n"
               "   heuristic/optimum: mean %.4f, worst %.4f; within 1%%: %d/%d; equal: %d/%d\n",
               done, done ? sum / done : 0, worst, within, done, exact_hits, done);
}

static void bench_static(int trials)
{
        size_t ne = ferry_mig_enumerate(A100, NULL, 0);
        struct ferry_mig_layout *all = ferry_xcalloc(ne, sizeof(*all));
        ferry_mig_enumerate(A100, all, ne);
        double sum = 0, worst = 1e9;
        uint64_t tot_p = 0, tot_s = 0, tot_d = 0;
        for (int t = 0; t < trials; t++) {
                struct ferry_mig_inventory inv = make_cluster(4, 4, false, false);
                struct ferry_mig_demand d = aiinfn_demand(16, false);
                struct ferry_mig_plan *p;
                ferry_error_t err;
                if (ferry_mig_plan(&inv, &d, NULL, &p, &err) < 0)
                        exit(1);
                uint64_t planner = served_count(p);
                /* best static: one layout (or MIG off) on every GPU */
                uint64_t best = 0;
                for (size_t e = 0; e <= ne; e++) {
                        uint32_t s[5] = {0};
                        uint64_t v = 0;
                        if (e == ne) {
                                s[4] = 16;
                        } else {
                                for (unsigned q = 0; q < all[e].n; q++) {
                                        const char *nm = A100->profiles[all[e].inst[q].profile].name;
                                        for (size_t j = 0; j < 4; j++)
                                                if (strcmp(nm, d.req[j].profile) == 0)
                                                        s[j] += 16;
                                }
                        }
                        for (size_t j = 0; j < 5; j++)
                                v += s[j] < d.req[j].count ? s[j] : d.req[j].count;
                        best = v > best ? v : best;
                }
                uint64_t dem = 0;
                for (size_t j = 0; j < d.n; j++)
                        dem += d.req[j].count;
                double r = best ? (double)planner / (double)best : 0;
                sum += r;
                worst = r < worst ? r : worst;
                tot_p += planner;
                tot_s += best;
                tot_d += dem;
                ferry_mig_plan_free(p);
                ferry_mig_inventory_free(&inv);
                ferry_mig_demand_free(&d);
        }
        free(all);
        printf("2. AI_INFN-like mixes on 16 A100-80GB (4 nodes), %d mixes: requests served\n"
               "   planner %llu, best static layout %llu, demanded %llu: planner/static mean %.3f "
               "(+%.1f%%), worst %.3f\n",
               trials, (unsigned long long)tot_p, (unsigned long long)tot_s,
               (unsigned long long)tot_d, sum / trials, (sum / trials - 1) * 100, worst);
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

static void bench_time(int runs)
{
        int64_t t[64];
        double gap = 0;
        size_t changed = 0;
        for (int r = 0; r < runs; r++) {
                struct ferry_mig_inventory inv = make_cluster(125, 8, true, true);
                struct ferry_mig_demand d = aiinfn_demand(1000, true);
                struct ferry_mig_plan *p;
                ferry_error_t err;
                int64_t t0 = ferry_monotonic_ns();
                if (ferry_mig_plan(&inv, &d, NULL, &p, &err) < 0)
                        exit(1);
                t[r] = ferry_monotonic_ns() - t0;
                gap += p->bound ? 1.0 - (double)p->value / (double)p->bound : 0;
                changed += p->gpus_changed;
                ferry_mig_plan_free(p);
                ferry_mig_inventory_free(&inv);
                ferry_mig_demand_free(&d);
        }
        qsort(t, (size_t)runs, sizeof(t[0]), cmp_i64);
        printf("3. 1,000 A100-80GB (125 nodes x 8, random layouts, 20%% in use), %d runs:\n"
               "   plan time median %.1f ms, max %.1f ms; mean gap to upper bound %.2f%%; "
               "mean GPUs changed %zu\n",
               runs, t[runs / 2] / 1e6, t[runs - 1] / 1e6, 100 * gap / runs, changed / (size_t)runs);
}

static void bench_churn(int shifts)
{
        struct ferry_mig_inventory inv = make_cluster(125, 8, false, false);
        struct ferry_mig_demand d = aiinfn_demand(1000, true);
        struct ferry_mig_plan *p;
        ferry_error_t err;
        size_t sum = 0, max = 0, nodes = 0;
        double ratio = 0;
        if (ferry_mig_plan(&inv, &d, NULL, &p, &err) < 0)
                exit(1);
        for (int s = 0; s <= shifts; s++) {
                /* apply the plan, mark a third of the instances in use */
                for (size_t i = 0; i < p->n_targets; i++) {
                        struct ferry_mig_gpu *g = &inv.nodes[p->targets[i].node].gpus[p->targets[i].gpu];
                        g->current = p->targets[i].layout;
                        for (unsigned q = 0; q < g->current.n; q++)
                                g->current.inst[q].in_use = rnd(3) == 0;
                }
                ferry_mig_plan_free(p);
                /* shift: +-15% on each profile */
                for (size_t j = 0; j < d.n; j++) {
                        int64_t c = d.req[j].count;
                        c += (int64_t)(c * ((int)rnd(31) - 15) / 100);
                        d.req[j].count = (uint32_t)(c < 0 ? 0 : c);
                }
                if (ferry_mig_plan(&inv, &d, NULL, &p, &err) < 0)
                        exit(1);
                if (s == 0)
                        continue;
                sum += p->gpus_changed;
                nodes += p->nodes_touched;
                max = p->gpus_changed > max ? p->gpus_changed : max;
                ratio += p->bound ? (double)p->value / (double)p->bound : 1;
        }
        printf("4. re-plan after +-15%% demand shifts on 1,000 GPUs (1/3 of instances in use), %d shifts:\n"
               "   GPUs changed per re-plan mean %.1f, max %zu; nodes touched mean %.1f; "
               "value/bound mean %.4f\n",
               shifts, (double)sum / shifts, max, (double)nodes / shifts, ratio / shifts);
        ferry_mig_plan_free(p);
        ferry_mig_inventory_free(&inv);
        ferry_mig_demand_free(&d);
}

int main(int argc, char **argv)
{
        if (argc > 1)
                rs = strtoull(argv[1], NULL, 10) | 1;
        A100 = ferry_mig_geometry_find("A100-80GB");
        bench_small(300);
        bench_static(50);
        bench_time(21);
        bench_churn(10);
        return 0;
}
