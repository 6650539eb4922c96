/* SPDX-License-Identifier: MIT */
/*
 * Planner tests: geometry, property tests on random clusters (placement rules,
 * no over-allocation, in-use instances kept) and optimality against an
 * independent brute force on small random clusters.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/util.h"
#include "gpu/mig.h"

static uint64_t rng_state = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return (uint32_t)(rng_state % n);
}

/* Independent validity check: all subsets of all placements, by bitmask. */
static void test_enumerate_matches_brute_force(void **state)
{
        for (size_t gi = 0; ferry_mig_geometry_get(gi); gi++) {
                const struct ferry_mig_geometry *g = ferry_mig_geometry_get(gi);
                unsigned pp[32], ps[32], np = 0;
                for (unsigned p = 0; p < g->n_profiles; p++)
                        for (unsigned s = 0; s < g->mem_slices; s++)
                                if (g->profiles[p].starts & (1u << s)) {
                                        pp[np] = p;
                                        ps[np++] = s;
                                }
                size_t brute = 0;
                for (uint32_t m = 0; m < (1u << np); m++) {
                        unsigned used = 0, comp = 0;
                        bool ok = true;
                        for (unsigned k = 0; k < np && ok; k++) {
                                if (!(m & (1u << k)))
                                        continue;
                                const struct ferry_mig_profile *pr = &g->profiles[pp[k]];
                                unsigned span = ((1u << pr->mem) - 1) << ps[k];
                                if (ps[k] + pr->mem > g->mem_slices || (used & span))
                                        ok = false;
                                used |= span;
                                comp += pr->compute;
                        }
                        if (ok && comp <= g->compute_slices)
                                brute++;
                }
                size_t n = ferry_mig_enumerate(g, NULL, 0);
                assert_int_equal(n, brute);
                struct ferry_mig_layout *l = calloc(n, sizeof(*l));
                assert_int_equal(ferry_mig_enumerate(g, l, n), n);
                for (size_t i = 0; i < n; i++)
                        assert_int_equal(ferry_mig_layout_check(g, &l[i], NULL), 0);
                free(l);
        }
}

static void test_placement_rules(void **state)
{
        const struct ferry_mig_geometry *g = ferry_mig_geometry_find("A100-80GB");
        ferry_error_t err;
        assert_non_null(g);
        int p1 = ferry_mig_profile_find(g, "1g.10gb"), p2 = ferry_mig_profile_find(g, "2g.20gb");
        int p3 = ferry_mig_profile_find(g, "3g.40gb"), p4 = ferry_mig_profile_find(g, "4g.40gb");
        assert_true(p1 >= 0 && p2 >= 0 && p3 >= 0 && p4 >= 0);
        /* 2g never at 6, 3g only 0/4, 4g only 0 */
        struct ferry_mig_layout l = {.mig = true, .n = 1};
        l.inst[0] = (struct ferry_mig_instance){.profile = (uint8_t)p2, .start = 6};
        assert_int_equal(ferry_mig_layout_check(g, &l, &err), -EINVAL);
        l.inst[0] = (struct ferry_mig_instance){.profile = (uint8_t)p3, .start = 2};
        assert_int_equal(ferry_mig_layout_check(g, &l, &err), -EINVAL);
        l.inst[0] = (struct ferry_mig_instance){.profile = (uint8_t)p4, .start = 4};
        assert_int_equal(ferry_mig_layout_check(g, &l, &err), -EINVAL);
        /* 4g + 3g only as 4g@0 + 3g@4: placing finds it */
        l = (struct ferry_mig_layout){.mig = true, .n = 2};
        l.inst[0] = (struct ferry_mig_instance){.profile = (uint8_t)p3, .start = -1};
        l.inst[1] = (struct ferry_mig_instance){.profile = (uint8_t)p4, .start = -1};
        assert_int_equal(ferry_mig_layout_place(g, &l, &err), 0);
        assert_int_equal(l.inst[0].profile, p4);
        assert_int_equal(l.inst[0].start, 0);
        assert_int_equal(l.inst[1].start, 4);
        /* a 1g in slots 0-3 blocks the 4g */
        l.inst[0] = (struct ferry_mig_instance){.profile = (uint8_t)p1, .start = 1};
        l.inst[1] = (struct ferry_mig_instance){.profile = (uint8_t)p4, .start = -1};
        assert_int_equal(ferry_mig_layout_place(g, &l, &err), -EINVAL);
        /* 3x2g + 1g */
        l = (struct ferry_mig_layout){.mig = true, .n = 4};
        for (int i = 0; i < 3; i++)
                l.inst[i] = (struct ferry_mig_instance){.profile = (uint8_t)p2, .start = -1};
        l.inst[3] = (struct ferry_mig_instance){.profile = (uint8_t)p1, .start = -1};
        assert_int_equal(ferry_mig_layout_place(g, &l, &err), 0);
        assert_int_equal(l.inst[3].start, 6);
        /* 8 x 1g does not fit */
        l.n = 8;
        for (int i = 0; i < 8; i++)
                l.inst[i] = (struct ferry_mig_instance){.profile = (uint8_t)p1, .start = -1};
        assert_int_equal(ferry_mig_layout_place(g, &l, &err), -EINVAL);
        /* names differ per card, shapes do not */
        const struct ferry_mig_geometry *g40 = ferry_mig_geometry_find("NVIDIA A100-SXM4-40GB");
        assert_non_null(g40);
        assert_string_equal(g40->model, "A100-40GB");
        assert_int_equal(g40->profiles[ferry_mig_profile_find(g40, "1g.10gb")].mem, 2);
        assert_int_equal(g->profiles[p1].mem, 1);
        assert_null(ferry_mig_geometry_find("RTX 5000"));
        const struct ferry_mig_geometry *a30 = ferry_mig_geometry_find("A30-24GB");
        assert_int_equal(ferry_mig_enumerate(a30, NULL, 0) > 4, 1);
}

/* ---- random clusters ---- */

static const char *const model_names[] = {"A100-40GB", "A100-80GB", "H100-80GB", "A30-24GB"};

static void random_layout(const struct ferry_mig_geometry *g, struct ferry_mig_gpu *gpu)
{
        size_t n = ferry_mig_enumerate(g, NULL, 0);
        struct ferry_mig_layout *all = calloc(n, sizeof(*all));
        ferry_mig_enumerate(g, all, n);
        gpu->geom = g;
        if (rnd(6) == 0) {
                gpu->current = (struct ferry_mig_layout){.mig = false};
                gpu->busy = rnd(2);
        } else {
                gpu->current = all[rnd((uint32_t)n)];
                for (unsigned i = 0; i < gpu->current.n; i++)
                        gpu->current.inst[i].in_use = rnd(4) == 0;
        }
        free(all);
}

static void random_cluster(struct ferry_mig_inventory *inv, struct ferry_mig_demand *d,
                           size_t max_nodes, size_t max_gpus, bool mixed)
{
        size_t nn = 1 + rnd((uint32_t)max_nodes);
        const struct ferry_mig_geometry *g0 =
            ferry_mig_geometry_find(model_names[rnd(FERRY_ARRAY_SIZE(model_names))]);
        inv->n_nodes = nn;
        inv->nodes = calloc(nn, sizeof(*inv->nodes));
        for (size_t i = 0; i < nn; i++) {
                struct ferry_mig_node *nd = &inv->nodes[i];
                nd->name = ferry_xasprintf("node-%zu", i);
                nd->n_gpus = 1 + rnd((uint32_t)max_gpus);
                nd->gpus = calloc(nd->n_gpus, sizeof(*nd->gpus));
                for (size_t k = 0; k < nd->n_gpus; k++) {
                        const struct ferry_mig_geometry *g =
                            mixed ? ferry_mig_geometry_find(
                                        model_names[rnd(FERRY_ARRAY_SIZE(model_names))])
                                  : g0;
                        nd->gpus[k].index = (unsigned)k;
                        random_layout(g, &nd->gpus[k]);
                }
        }
        /* demand over the first GPU's profiles, plus sometimes whole GPUs */
        const struct ferry_mig_geometry *g = inv->nodes[0].gpus[0].geom;
        d->req = calloc(g->n_profiles + 1, sizeof(*d->req));
        d->n = 0;
        for (unsigned p = 0; p < g->n_profiles; p++) {
                if (rnd(3) == 0)
                        continue;
                struct ferry_mig_request *r = &d->req[d->n++];
                snprintf(r->profile, sizeof(r->profile), "%s", g->profiles[p].name);
                r->count = rnd(10);
                r->weight = 1000 * (1 + rnd(4));
        }
        if (rnd(3) == 0) {
                struct ferry_mig_request *r = &d->req[d->n++];
                snprintf(r->profile, sizeof(r->profile), "%s", FERRY_MIG_WHOLE);
                r->count = rnd(3);
                r->weight = 1000 * (1 + rnd(8));
        }
}

static int req_idx(const struct ferry_mig_demand *d, const char *name)
{
        for (size_t j = 0; j < d->n; j++)
                if (strcmp(d->req[j].profile, name) == 0)
                        return (int)j;
        return -1;
}

static bool contains(const struct ferry_mig_layout *l, const struct ferry_mig_instance *in)
{
        for (unsigned i = 0; i < l->n; i++)
                if (l->inst[i].profile == in->profile && l->inst[i].start == in->start)
                        return true;
        return false;
}

/* Check a plan against the rules and recount everything it claims. */
static void check_plan(const struct ferry_mig_inventory *inv, const struct ferry_mig_demand *d,
                       const struct ferry_mig_plan *p, bool allow_disrupt)
{
        uint32_t supply[FERRY_MIG_MAX_REQUESTS] = {0};
        size_t n = 0, changed = 0;
        for (size_t i = 0; i < inv->n_nodes; i++)
                n += inv->nodes[i].n_gpus;
        assert_int_equal(p->n_targets, n);
        for (size_t t = 0; t < p->n_targets; t++) {
                const struct ferry_mig_target *tg = &p->targets[t];
                const struct ferry_mig_gpu *gpu = &inv->nodes[tg->node].gpus[tg->gpu];
                ferry_error_t err;
                assert_int_equal(ferry_mig_layout_check(gpu->geom, &tg->layout, &err), 0);
                bool kept = true;
                if (gpu->current.mig) {
                        for (unsigned i = 0; i < gpu->current.n; i++)
                                if (gpu->current.inst[i].in_use &&
                                    !contains(&tg->layout, &gpu->current.inst[i]))
                                        kept = false;
                } else if (gpu->busy && tg->layout.mig) {
                        kept = false;
                }
                if (!allow_disrupt)
                        assert_true(kept);
                assert_int_equal(tg->disrupts, !kept);
                changed += tg->changed;
                if (!tg->layout.mig) {
                        int j = req_idx(d, FERRY_MIG_WHOLE);
                        if (j >= 0)
                                supply[j]++;
                }
                for (unsigned i = 0; i < tg->layout.n; i++) {
                        int j = req_idx(d, gpu->geom->profiles[tg->layout.inst[i].profile].name);
                        if (j >= 0)
                                supply[j]++;
                }
        }
        assert_int_equal(changed, p->gpus_changed);
        uint64_t value = 0, total = 0;
        for (size_t j = 0; j < d->n; j++) {
                assert_int_equal(supply[j], p->supply[j]);
                uint32_t served = supply[j] < d->req[j].count ? supply[j] : d->req[j].count;
                assert_int_equal(served, p->served[j]);
                assert_true(p->served[j] <= d->req[j].count); /* never over-served */
                value += (uint64_t)served * d->req[j].weight;
                total += (uint64_t)d->req[j].count * d->req[j].weight;
        }
        assert_int_equal(value, p->value);
        assert_int_equal(total, p->total);
        assert_true(p->value <= p->bound);
        assert_true(p->bound <= p->total);
}

static void free_cluster(struct ferry_mig_inventory *inv, struct ferry_mig_demand *d)
{
        ferry_mig_inventory_free(inv);
        ferry_mig_demand_free(d);
}

static void test_properties_random(void **state)
{
        for (int trial = 0; trial < 300; trial++) {
                struct ferry_mig_inventory inv = {0};
                struct ferry_mig_demand d = {0};
                struct ferry_mig_plan *p = NULL;
                ferry_error_t err;
                random_cluster(&inv, &d, 6, 8, trial % 2);
                /* a mixed cluster may request a profile only one model has: fine */
                struct ferry_mig_options o = {.allow_disrupt = trial % 5 == 0,
                                              .mode = FERRY_MIG_HEURISTIC};
                int r = ferry_mig_plan(&inv, &d, &o, &p, &err);
                if (r < 0)
                        fail_msg("trial %d: %s", trial, err.text);
                check_plan(&inv, &d, p, o.allow_disrupt);
                ferry_mig_plan_free(p);
                free_cluster(&inv, &d);
        }
}

/* ---- brute force: every combination of distinct layouts ---- */

struct bf_gpu {
        size_t n;
        struct ferry_mig_layout l[512];
        bool changed[512];
};

static void bf_options(const struct ferry_mig_gpu *gpu, struct bf_gpu *o)
{
        size_t n = ferry_mig_enumerate(gpu->geom, NULL, 0);
        struct ferry_mig_layout *all = calloc(n, sizeof(*all));
        ferry_mig_enumerate(gpu->geom, all, n);
        o->n = 0;
        o->l[o->n] = gpu->current;
        o->changed[o->n++] = false;
        if (!gpu->current.mig && gpu->busy) {
                free(all);
                return;
        }
        bool pinned = false;
        if (gpu->current.mig)
                for (unsigned i = 0; i < gpu->current.n; i++)
                        pinned |= gpu->current.inst[i].in_use;
        if (!pinned) {
                o->l[o->n] = (struct ferry_mig_layout){.mig = false};
                o->changed[o->n++] = gpu->current.mig;
        }
        for (size_t i = 0; i < n; i++) {
                bool ok = true;
                if (gpu->current.mig)
                        for (unsigned k = 0; k < gpu->current.n; k++)
                                if (gpu->current.inst[k].in_use &&
                                    !contains(&all[i], &gpu->current.inst[k]))
                                        ok = false;
                if (!ok)
                        continue;
                /* distinct profile counts only */
                unsigned cnt[8] = {0}, cnt2[8];
                for (unsigned k = 0; k < all[i].n; k++)
                        cnt[all[i].inst[k].profile]++;
                bool dup = false;
                for (size_t q = 0; q < o->n && !dup; q++) {
                        if (!o->l[q].mig)
                                continue;
                        memset(cnt2, 0, sizeof(cnt2));
                        for (unsigned k = 0; k < o->l[q].n; k++)
                                cnt2[o->l[q].inst[k].profile]++;
                        dup = memcmp(cnt, cnt2, sizeof(cnt)) == 0;
                }
                if (dup)
                        continue;
                assert_true(o->n < 512);
                o->l[o->n] = all[i];
                o->changed[o->n++] = true;
        }
        free(all);
}

struct bf {
        const struct ferry_mig_inventory *inv;
        const struct ferry_mig_demand *d;
        struct bf_gpu *opts;
        size_t n;
        size_t *node_of, *gpu_of;
        size_t pick[16];
        uint64_t best_value, best_changed, best_nodes;
};

static void bf_rec(struct bf *b, size_t i)
{
        if (i < b->n) {
                for (size_t o = 0; o < b->opts[i].n; o++) {
                        b->pick[i] = o;
                        bf_rec(b, i + 1);
                }
                return;
        }
        uint32_t s[FERRY_MIG_MAX_REQUESTS] = {0};
        uint64_t changed = 0, nodes = 0, v = 0;
        bool touched[16] = {0};
        for (size_t k = 0; k < b->n; k++) {
                const struct ferry_mig_layout *l = &b->opts[k].l[b->pick[k]];
                const struct ferry_mig_geometry *g =
                    b->inv->nodes[b->node_of[k]].gpus[b->gpu_of[k]].geom;
                if (b->opts[k].changed[b->pick[k]]) {
                        changed++;
                        if (!touched[b->node_of[k]]) {
                                touched[b->node_of[k]] = true;
                                nodes++;
                        }
                }
                if (!l->mig) {
                        int j = req_idx(b->d, FERRY_MIG_WHOLE);
                        if (j >= 0)
                                s[j]++;
                }
                for (unsigned q = 0; q < l->n; q++) {
                        int j = req_idx(b->d, g->profiles[l->inst[q].profile].name);
                        if (j >= 0)
                                s[j]++;
                }
        }
        for (size_t j = 0; j < b->d->n; j++)
                v += (uint64_t)b->d->req[j].weight *
                     (s[j] < b->d->req[j].count ? s[j] : b->d->req[j].count);
        if (v > b->best_value ||
            (v == b->best_value && (changed < b->best_changed ||
                                    (changed == b->best_changed && nodes < b->best_nodes)))) {
                b->best_value = v;
                b->best_changed = changed;
                b->best_nodes = nodes;
        }
}

static void test_optimal_small(void **state)
{
        int heuristic_hits = 0, trials = 120;
        for (int trial = 0; trial < trials; trial++) {
                struct ferry_mig_inventory inv = {0};
                struct ferry_mig_demand d = {0};
                struct ferry_mig_plan *p = NULL, *h = NULL;
                ferry_error_t err;
                random_cluster(&inv, &d, 2, 2, trial % 3 == 0);
                struct bf b = {
                    .inv = &inv, .d = &d, .best_changed = UINT64_MAX, .best_nodes = UINT64_MAX};
                for (size_t i = 0; i < inv.n_nodes; i++)
                        b.n += inv.nodes[i].n_gpus;
                if (b.n > 3) {
                        free_cluster(&inv, &d);
                        trial--;
                        continue;
                }
                b.opts = calloc(b.n, sizeof(*b.opts));
                b.node_of = calloc(b.n, sizeof(size_t));
                b.gpu_of = calloc(b.n, sizeof(size_t));
                size_t k = 0;
                for (size_t i = 0; i < inv.n_nodes; i++)
                        for (size_t q = 0; q < inv.nodes[i].n_gpus; q++, k++) {
                                b.node_of[k] = i;
                                b.gpu_of[k] = q;
                                bf_options(&inv.nodes[i].gpus[q], &b.opts[k]);
                        }
                bf_rec(&b, 0);
                struct ferry_mig_options o = {.mode = FERRY_MIG_EXACT};
                assert_int_equal(ferry_mig_plan(&inv, &d, &o, &p, &err), 0);
                check_plan(&inv, &d, p, false);
                assert_true(p->optimal);
                assert_int_equal(p->value, b.best_value);
                assert_int_equal(p->gpus_changed, b.best_changed);
                assert_int_equal(p->nodes_touched, b.best_nodes);
                assert_int_equal(p->bound, p->value);
                o.mode = FERRY_MIG_HEURISTIC;
                assert_int_equal(ferry_mig_plan(&inv, &d, &o, &h, &err), 0);
                assert_true(h->value <= b.best_value);
                assert_true(h->bound >= b.best_value); /* the bound really bounds */
                heuristic_hits += h->value == b.best_value;
                ferry_mig_plan_free(p);
                ferry_mig_plan_free(h);
                free(b.opts);
                free(b.node_of);
                free(b.gpu_of);
                free_cluster(&inv, &d);
        }
        print_message("heuristic reached the optimum in %d of %d small cases\n", heuristic_hits,
                      trials);
}

static void test_in_use_kept_and_disrupt(void **state)
{
        const struct ferry_mig_geometry *g = ferry_mig_geometry_find("A100-80GB");
        struct ferry_mig_gpu gpu = {.geom = g, .current = {.mig = true, .n = 1}};
        gpu.current.inst[0] = (struct ferry_mig_instance){
            .profile = (uint8_t)ferry_mig_profile_find(g, "1g.10gb"), .start = 0, .in_use = true};
        struct ferry_mig_node node = {.name = "n0", .n_gpus = 1, .gpus = &gpu};
        struct ferry_mig_inventory inv = {.n_nodes = 1, .nodes = &node};
        struct ferry_mig_request req = {.profile = "7g.80gb", .count = 1, .weight = 1000};
        struct ferry_mig_demand d = {.n = 1, .req = &req};
        struct ferry_mig_plan *p;
        ferry_error_t err;

        /* a 7g would serve the demand but needs the in-use 1g gone */
        assert_int_equal(ferry_mig_plan(&inv, &d, NULL, &p, &err), 0);
        assert_int_equal(p->value, 0);
        assert_int_equal(p->gpus_changed, 0);
        assert_int_equal(p->disrupted, 0);
        ferry_mig_plan_free(p);
        struct ferry_mig_options o = {.allow_disrupt = true};
        assert_int_equal(ferry_mig_plan(&inv, &d, &o, &p, &err), 0);
        assert_int_equal(p->value, 1000);
        assert_int_equal(p->disrupted, 1);
        ferry_mig_plan_free(p);
        /* unknown profile */
        struct ferry_mig_request bad = {.profile = "5g.50gb", .count = 1, .weight = 1000};
        struct ferry_mig_demand db = {.n = 1, .req = &bad};
        assert_int_equal(ferry_mig_plan(&inv, &db, NULL, &p, &err), -EINVAL);
        assert_non_null(strstr(err.text, "5g.50gb"));
}

static void test_large_cluster_bound(void **state)
{
        /* 1000 A100-80GB in 125 nodes, all 7x1g; demand wants bigger slices too */
        const struct ferry_mig_geometry *g = ferry_mig_geometry_find("A100-80GB");
        struct ferry_mig_inventory inv = {.n_nodes = 125};
        inv.nodes = calloc(inv.n_nodes, sizeof(*inv.nodes));
        for (size_t i = 0; i < inv.n_nodes; i++) {
                inv.nodes[i].name = ferry_xasprintf("n%zu", i);
                inv.nodes[i].n_gpus = 8;
                inv.nodes[i].gpus = calloc(8, sizeof(struct ferry_mig_gpu));
                for (unsigned k = 0; k < 8; k++) {
                        struct ferry_mig_gpu *gp = &inv.nodes[i].gpus[k];
                        gp->geom = g;
                        gp->index = k;
                        gp->current.mig = true;
                        gp->current.n = 7;
                        for (unsigned q = 0; q < 7; q++)
                                gp->current.inst[q] = (struct ferry_mig_instance){
                                    .profile = 0, .start = (int8_t)q, .in_use = q < 2};
                }
        }
        struct ferry_mig_request req[] = {{"1g.10gb", 4000, 1000, 0},
                                          {"3g.40gb", 300, 3000, 0},
                                          {"4g.40gb", 200, 4000, 0},
                                          {"gpu", 50, 7000, 0}};
        struct ferry_mig_demand d = {.n = 4, .req = req};
        struct ferry_mig_plan *p;
        ferry_error_t err;
        assert_int_equal(ferry_mig_plan(&inv, &d, NULL, &p, &err), 0);
        check_plan(&inv, &d, p, false);
        /* 1g in use at slots 0,1 on every GPU: no 4g, no whole GPU, 3g only at 4 */
        assert_int_equal(p->supply[2], 0);
        assert_int_equal(p->supply[3], 0);
        assert_int_equal(p->served[1], 300);
        assert_true(p->value <= p->bound);
        print_message("value %llu bound %llu total %llu changed %zu nodes %zu\n",
                      (unsigned long long)p->value, (unsigned long long)p->bound,
                      (unsigned long long)p->total, p->gpus_changed, p->nodes_touched);
        /* the relaxation is tight here up to rounding */
        assert_true(p->bound - p->value <= p->total / 100);
        ferry_mig_plan_free(p);
        for (size_t i = 0; i < inv.n_nodes; i++) {
                free(inv.nodes[i].name);
                free(inv.nodes[i].gpus);
        }
        free(inv.nodes);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_enumerate_matches_brute_force),
            cmocka_unit_test(test_placement_rules),
            cmocka_unit_test(test_properties_random),
            cmocka_unit_test(test_optimal_small),
            cmocka_unit_test(test_in_use_kept_and_disrupt),
            cmocka_unit_test(test_large_cluster_bound),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
