/* SPDX-License-Identifier: MIT */
/*
 * MIG planner quality and speed (numbers go to bench/mig/RESULTS.md):
 *  1. heuristic vs exhaustive optimum on random small clusters;
 *  2. planner vs static layouts (best single layout per mix with hindsight, best single layout
 *     per family, the stock all-1g.10gb and all-balanced configs) on five mix families (a)-(e);
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
        struct ferry_mig_demand d = {.n = 5,
                                     .req = ferry_xcalloc(5, sizeof(struct ferry_mig_request))};
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
        printf("1. small random clusters (1-9 A100-80GB, random layouts, 20%% in use): %d proven "
               "optima\n"
               "   heuristic/optimum: mean %.4f, worst %.4f; within 1%%: %d/%d; equal: %d/%d\n",
               done, done ? sum / done : 0, worst, within, done, exact_hits, done);
}

/* ---- 2. planner vs static layouts ----
 * Demand is over five profiles (AI_INFN's): 1g.10gb, 2g.20gb, 3g.40gb, 4g.40gb and a whole GPU.
 * Two figures per mix: requests served (instances, the metric; planner given unit weights)
 * and weighted demand served (weight = compute slices 1/2/3/4/7; planner given those weights), each
 * against static baselines scored on the same metric. */
#define NP 5
static const char *const prof[NP] = {"1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb", "gpu"};
static const uint32_t slices[NP] = {1, 2, 3, 4, 7};

struct mix {
        uint32_t c[NP];
};

static struct ferry_mig_demand mix_demand(const struct mix *m, bool weighted)
{
        struct ferry_mig_demand d = {.n = NP,
                                     .req = ferry_xcalloc(NP, sizeof(struct ferry_mig_request))};
        for (size_t j = 0; j < NP; j++)
                set_req(&d.req[j], prof[j], m->c[j], weighted ? 1000 * slices[j] : 1000);
        return d;
}

/* Static layouts as count vectors over prof[]: every distinct vector of the A100-80GB's valid
 * layouts, plus MIG off. */
struct statics {
        size_t n;
        uint32_t (*v)[NP];
        int ones, balanced; /* indices of all-1g.10gb and all-balanced */
};

static int static_find(const struct statics *st, const uint32_t *v)
{
        for (size_t e = 0; e < st->n; e++)
                if (memcmp(st->v[e], v, sizeof(st->v[e])) == 0)
                        return (int)e;
        return -1;
}

static struct statics statics_make(void)
{
        struct statics st = {0};
        size_t ne = ferry_mig_enumerate(A100, NULL, 0);
        struct ferry_mig_layout *all = ferry_xcalloc(ne, sizeof(*all));
        ferry_mig_enumerate(A100, all, ne);
        st.v = ferry_xcalloc(ne + 1, sizeof(*st.v));
        for (size_t e = 0; e <= ne; e++) {
                uint32_t v[NP] = {0};
                if (e == ne)
                        v[4] = 1;
                else
                        for (unsigned q = 0; q < all[e].n; q++)
                                for (size_t j = 0; j < 4; j++)
                                        if (strcmp(A100->profiles[all[e].inst[q].profile].name,
                                                   prof[j]) == 0)
                                                v[j]++;
                if (static_find(&st, v) < 0)
                        memcpy(st.v[st.n++], v, sizeof(v));
        }
        free(all);
        /* the GPU Operator's stock mig-parted configs for A100-80GB */
        st.ones = static_find(&st, (uint32_t[NP]){7, 0, 0, 0, 0});
        st.balanced = static_find(&st, (uint32_t[NP]){2, 1, 1, 0, 0});
        if (st.ones < 0 || st.balanced < 0) {
                fprintf(stderr, "stock layouts not found among the valid layouts\n");
                exit(1);
        }
        return st;
}

static uint64_t static_served(const uint32_t *v, size_t gpus, const struct mix *m, bool weighted)
{
        uint64_t s = 0;
        for (size_t j = 0; j < NP; j++) {
                uint64_t sup = (uint64_t)v[j] * gpus;
                s += (sup < m->c[j] ? sup : m->c[j]) * (weighted ? slices[j] : 1);
        }
        return s;
}

/* section 2: plans proven optimal by the exact search, and the worst gap to the upper bound */
static int plans_run, plans_optimal;
static double plans_gap;

static uint64_t plan_served(struct ferry_mig_inventory *inv, const struct mix *m, bool weighted,
                            struct ferry_mig_plan **keep)
{
        struct ferry_mig_demand d = mix_demand(m, weighted);
        struct ferry_mig_plan *p;
        ferry_error_t err;
        if (ferry_mig_plan(inv, &d, NULL, &p, &err) < 0) {
                fprintf(stderr, "plan: %s\n", err.text);
                exit(1);
        }
        uint64_t v = weighted ? p->value / 1000 : served_count(p);
        plans_run++;
        plans_optimal += p->optimal;
        if (p->bound && 1.0 - (double)p->value / (double)p->bound > plans_gap)
                plans_gap = 1.0 - (double)p->value / (double)p->bound;
        ferry_mig_demand_free(&d);
        if (keep)
                *keep = p;
        else
                ferry_mig_plan_free(p);
        return v;
}

/* One family's totals, [0] requests, [1] weighted (compute slices). */
struct fam {
        const char *name;
        size_t gpus;
        int mixes;
        uint64_t dem[2], plan[2], best[2], ones[2], bal[2];
        uint64_t *fixed[2]; /* per static layout, summed over the family */
        double rsum[2], rworst[2];
        int below; /* mixes where the planner served less than a static layout: a planner bug */
};

static void fam_add(struct fam *f, const struct statics *st, const struct mix *m)
{
        struct ferry_mig_inventory inv = make_cluster(f->gpus / 4, 4, false, false);
        for (int w = 0; w < 2; w++) {
                if (!f->fixed[w])
                        f->fixed[w] = ferry_xcalloc(st->n, sizeof(uint64_t));
                uint64_t pl = plan_served(&inv, m, w, NULL), best = 0;
                for (size_t e = 0; e < st->n; e++) {
                        uint64_t v = static_served(st->v[e], f->gpus, m, w);
                        f->fixed[w][e] += v;
                        best = v > best ? v : best;
                }
                for (size_t j = 0; j < NP; j++)
                        f->dem[w] += (uint64_t)m->c[j] * (w ? slices[j] : 1);
                f->plan[w] += pl;
                f->best[w] += best;
                f->ones[w] += static_served(st->v[st->ones], f->gpus, m, w);
                f->bal[w] += static_served(st->v[st->balanced], f->gpus, m, w);
                double r = best ? (double)pl / (double)best : 1.0;
                f->rsum[w] += r;
                f->below += pl < best;
                if (f->mixes == 0 || r < f->rworst[w])
                        f->rworst[w] = r;
        }
        f->mixes++;
        ferry_mig_inventory_free(&inv);
}

static double pct(uint64_t a, uint64_t b)
{
        return b ? 100.0 * ((double)a / (double)b - 1) : 0;
}

/* Prints the family; returns the requests served by the best layout kept for the family. */
static uint64_t fam_print(struct fam *f, const struct statics *st)
{
        uint64_t ret = 0;
        static const char *const metric[2] = {"requests", "slices  "};
        printf("   %s: %d mix%s on %zu GPUs\n", f->name, f->mixes, f->mixes == 1 ? "" : "es",
               f->gpus);
        for (int w = 0; w < 2; w++) {
                uint64_t fixed = 0;
                size_t fe = 0;
                /* ties go to the layout with more demanded compute slices */
                for (size_t e = 0; e < st->n; e++) {
                        uint64_t ce = 0, cf = 0;
                        for (size_t j = 0; j < NP; j++)
                                ce += st->v[e][j] * slices[j], cf += st->v[fe][j] * slices[j];
                        if (f->fixed[w][e] > fixed || (f->fixed[w][e] == fixed && ce > cf))
                                fixed = f->fixed[w][e], fe = e;
                }
                printf(
                    "     %s demanded %5llu  planner %5llu  best-static/mix %5llu  "
                    "best-static/family %5llu [%u,%u,%u,%u,%u]  all-1g %5llu  all-balanced %5llu  "
                    "planner vs best/mix %+.1f%% (per-mix mean %+.1f%%, worst %+.1f%%), vs family "
                    "%+.1f%%, "
                    "vs all-1g %+.1f%%, vs balanced %+.1f%%\n",
                    metric[w], (unsigned long long)f->dem[w], (unsigned long long)f->plan[w],
                    (unsigned long long)f->best[w], (unsigned long long)fixed, st->v[fe][0],
                    st->v[fe][1], st->v[fe][2], st->v[fe][3], st->v[fe][4],
                    (unsigned long long)f->ones[w], (unsigned long long)f->bal[w],
                    pct(f->plan[w], f->best[w]), 100 * (f->rsum[w] / f->mixes - 1),
                    100 * (f->rworst[w] - 1), pct(f->plan[w], fixed), pct(f->plan[w], f->ones[w]),
                    pct(f->plan[w], f->bal[w]));
                if (w == 0)
                        ret = fixed;
                free(f->fixed[w]);
                f->fixed[w] = NULL;
        }
        if (f->below)
                printf("     PLANNER BELOW A STATIC LAYOUT on %d mix(es)\n", f->below);
        return ret;
}

/* AI_INFN-like shapes filled to `load` x 7 compute slices per GPU: the 2g/3g/4g/whole draws of
 * aiinfn_demand(), 1g.10gb fills the rest. */
static struct mix mix_aiinfn_load(size_t gpus, double load)
{
        double s = (double)gpus / 16.0;
        struct mix m = {{0, (uint32_t)(s * rnd(6)), (uint32_t)(s * (1 + rnd(5))),
                         (uint32_t)(s * (1 + rnd(3))), (uint32_t)(s * (1 + rnd(2)))}};
        int64_t rest = (int64_t)(load * 7.0 * (double)gpus + 0.5);
        for (size_t j = 1; j < NP; j++)
                rest -= (int64_t)m.c[j] * slices[j];
        m.c[0] = rest > 0 ? (uint32_t)rest : 0;
        return m;
}

/* 3g-dominant ("training season"): few 1g/2g, some 4g and whole GPUs, 3g.40gb fills the rest
 * to `load` x 7 slices per GPU. */
static struct mix mix_3g_load(size_t gpus, double load)
{
        double s = (double)gpus / 16.0;
        struct mix m = {{(uint32_t)(s * rnd(8)), (uint32_t)(s * rnd(6)), 0,
                         (uint32_t)(s * (2 + rnd(5))), (uint32_t)(s * (1 + rnd(3)))}};
        int64_t rest = (int64_t)(load * 7.0 * (double)gpus + 0.5);
        for (size_t j = 0; j < NP; j++)
                rest -= (int64_t)m.c[j] * slices[j];
        m.c[2] = rest > 0 ? (uint32_t)(rest / 3) : 0;
        return m;
}

static void bench_static(int trials)
{
        struct statics st = statics_make();
        /* (a) the original family, drawn from the shared generator exactly as before */
        struct fam fa = {
            .name = "(a) AI_INFN-like, original draw (1g 40-79, 2g 0-5, 3g 1-5, 4g 1-3, gpu 1-2)",
            .gpus = 16};
        double sum = 0, worst = 1e9;
        uint64_t tot_p = 0, tot_s = 0, tot_d = 0;
        for (int t = 0; t < trials; t++) {
                struct ferry_mig_demand d = aiinfn_demand(16, false);
                struct mix m;
                for (size_t j = 0; j < NP; j++)
                        m.c[j] = d.req[j].count;
                ferry_mig_demand_free(&d);
                uint64_t before_p = fa.plan[0], before_s = fa.best[0];
                fam_add(&fa, &st, &m);
                uint64_t planner = fa.plan[0] - before_p, best = fa.best[0] - before_s;
                double r = best ? (double)planner / (double)best : 0;
                sum += r;
                worst = r < worst ? r : worst;
                tot_p += planner;
                tot_s += best;
                tot_d += m.c[0] + m.c[1] + m.c[2] + m.c[3] + m.c[4];
        }
        printf("2. AI_INFN-like mixes on 16 A100-80GB (4 nodes), %d mixes: requests served\n"
               "   planner %llu, best static layout %llu, demanded %llu: planner/static mean %.3f "
               "(+%.1f%%), worst %.3f\n",
               trials, (unsigned long long)tot_p, (unsigned long long)tot_s,
               (unsigned long long)tot_d, sum / trials, (sum / trials - 1) * 100, worst);

        /* (b)-(e) from their own stream, so that sections 3 and 4 draw what they drew before */
        uint64_t saved = rs;
        rs = (saved ^ 0x9e3779b97f4a7c15ull) | 1;
        printf("   by family (requests = instances served, planner with unit weights; slices = "
               "compute slices\n"
               "   served, planner with weights 1/2/3/4/7; best-static/mix = best single layout on "
               "every GPU,\n"
               "   chosen per mix with hindsight; best-static/family = one layout kept for the "
               "whole family,\n"
               "   chosen with hindsight [1g,2g,3g,4g,gpu per GPU]; all-1g = 7x1g.10gb; "
               "all-balanced =\n"
               "   2x1g.10gb+1x2g.20gb+1x3g.40gb, the GPU Operator's stock configs):\n");
        fam_print(&fa, &st);
        struct fam fb = {.name = "(b) AI_INFN-like shapes, demand = 1.0x capacity (7 slices/GPU)",
                         .gpus = 16};
        struct fam fc = {
            .name = "(c) AI_INFN-like shapes, demand = 1.5x capacity ((b) draw, every count x 1.5)",
            .gpus = 16};
        for (int t = 0; t < trials; t++) {
                struct mix mb = mix_aiinfn_load(16, 1.0);
                fam_add(&fb, &st, &mb);
        }
        for (int t = 0; t < trials; t++) {
                struct mix mc = mix_aiinfn_load(16, 1.0);
                for (size_t j = 0; j < NP; j++)
                        mc.c[j] = (uint32_t)(mc.c[j] * 1.5 + 0.5);
                fam_add(&fc, &st, &mc);
        }
        fam_print(&fb, &st);
        fam_print(&fc, &st);

        /* (d) demand shifting: even mixes 1g-dominant, odd mixes 3g-dominant, both at 1.0x. Also
         * re-planned in sequence from the previous plan with a third of its instances in use. */
        struct fam fd = {
            .name = "(d) shifting demand, alternating 1g-dominant (b) and 3g-dominant mixes, 1.0x",
            .gpus = 16};
        struct fam fdr[2] = {{.name = "(d) 1g-dominant mixes only", .gpus = 16},
                             {.name = "(d) 3g-dominant mixes only", .gpus = 16}};
        struct ferry_mig_inventory inv = make_cluster(4, 4, false, false);
        uint64_t carried = 0, changed = 0;
        double vb = 0;
        for (int t = 0; t < trials; t++) {
                struct mix md = t % 2 ? mix_3g_load(16, 1.0) : mix_aiinfn_load(16, 1.0);
                fam_add(&fd, &st, &md);
                fam_add(&fdr[t % 2], &st, &md);
                struct ferry_mig_plan *p;
                carried += plan_served(&inv, &md, false, &p);
                changed += p->gpus_changed;
                vb += p->bound ? (double)p->value / (double)p->bound : 1;
                for (size_t i = 0; i < p->n_targets; i++) {
                        struct ferry_mig_gpu *g =
                            &inv.nodes[p->targets[i].node].gpus[p->targets[i].gpu];
                        g->current = p->targets[i].layout;
                        g->busy = !g->current.mig && rnd(3) == 0;
                        for (unsigned q = 0; q < g->current.n; q++)
                                g->current.inst[q].in_use = rnd(3) == 0;
                }
                ferry_mig_plan_free(p);
        }
        ferry_mig_inventory_free(&inv);
        /* A static layout never changes, so running work does not constrain it: the fair static
         * for the re-planned sequence is the one layout kept for the family. */
        uint64_t fam_best = fam_print(&fd, &st);
        printf("     re-planned in sequence (each plan starts from the previous one with 1/3 of "
               "its instances\n"
               "     in use and kept): requests served %llu, %+.1f%% vs best-static/family, "
               "%+.1f%% vs "
               "best-static/mix; value/bound mean %.4f; GPUs changed per re-plan mean %.1f of 16\n",
               (unsigned long long)carried, pct(carried, fam_best), pct(carried, fd.best[0]),
               vb / trials, (double)changed / trials);
        fam_print(&fdr[0], &st);
        fam_print(&fdr[1], &st);

        /* (e) the 2024 AI_INFN batch quota, A100 part only (14 x 1g.10gb + 1 whole A100; the
         * 4 x RTX 5000 are not MIG cards), one quota per n cards on 24 A100-80GB. */
        static const unsigned per[] = {2, 3, 4, 6};
        for (size_t k = 0; k < FERRY_ARRAY_SIZE(per); k++) {
                char name[96];
                unsigned q = 24 / per[k];
                snprintf(
                    name, sizeof(name),
                    "(e) 2024 AI_INFN quota (14 x 1g.10gb + 1 gpu) per %u cards: %u quotas, %.2fx",
                    per[k], q, (double)(21 * q) / (7.0 * 24));
                struct fam fe = {.name = name, .gpus = 24};
                struct mix me = {{14 * q, 0, 0, 0, q}};
                fam_add(&fe, &st, &me);
                fam_print(&fe, &st);
        }
        rs = saved;
        free(st.v);
        printf("   section 2 plans: %d, proven optimal by the exact search %d; worst gap to the "
               "upper bound "
               "%.2f%%\n",
               plans_run, plans_optimal, 100 * plans_gap);
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
               runs, t[runs / 2] / 1e6, t[runs - 1] / 1e6, 100 * gap / runs,
               changed / (size_t)runs);
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
                        struct ferry_mig_gpu *g =
                            &inv.nodes[p->targets[i].node].gpus[p->targets[i].gpu];
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
        printf("4. re-plan after +-15%% demand shifts on 1,000 GPUs (1/3 of instances in use), %d "
               "shifts:\n"
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
