/* SPDX-License-Identifier: MIT */
/*
 * The MIG layout planner. doc/gpu.md explains it; in short:
 *
 * Each GPU chooses one "option": a target layout reduced to a vector of
 * instance counts over the demanded profiles. GPUs with the same model and the
 * same current layout form a class and share one option list: the Pareto-maximal
 * count vectors of every valid layout that keeps the in-use instances, plus the
 * current layout itself (choosing it = no change).
 *
 * Objective, lexicographic: maximise V(s) = sum_j w_j min(d_j, s_j) where s is
 * the supply of profile j over all GPUs; then minimise cost = disrupted * C1 +
 * changed * C2 + nodes touched.
 *
 * 1. Heuristic: best-response local search (each GPU in turn takes its best
 *    option given the others), pair moves between (class, option) groups, then
 *    passes that undo needless changes and gather changes on fewer nodes.
 * 2. Bound: Lagrangian relaxation of the supply constraints (= the LP bound),
 *    minimised by subgradient steps.
 * 3. Exact: depth-first branch and bound over GPUs, seeded with the heuristic
 *    plan, pruned by an optimistic per-profile supply bound, under a node limit.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "gpu/mig.h"

#define C_DISRUPT (UINT64_C(1) << 42)
#define C_CHANGE (UINT64_C(1) << 21)
#define DEFAULT_NODE_LIMIT 2000000
#define DEFAULT_EXACT_MAX_GPUS 32
#define MAX_ENUM 4096

struct option {
        struct ferry_mig_layout layout;
        bool current;
        bool disrupts;
};

struct pclass {
        const struct ferry_mig_geometry *geom;
        struct ferry_mig_layout cur; /* key */
        bool busy;                   /* key */
        size_t n_opts;
        struct option *opts;
        uint16_t *vec; /* n_opts x K */
        int cur_opt;
        size_t count; /* GPUs in the class */
};

struct gpuref {
        size_t node, gpu;
        size_t cls;
};

struct ctx {
        const struct ferry_mig_inventory *inv;
        const struct ferry_mig_demand *dem;
        const struct ferry_mig_options *opt;
        size_t K;
        int whole_idx; /* request index of FERRY_MIG_WHOLE, or -1 */
        uint32_t *d;
        uint32_t *w;
        size_t n_cls, cap_cls;
        struct pclass *cls;
        size_t n; /* GPUs */
        struct gpuref *g;
        /* enumerations per geometry */
        const struct ferry_mig_geometry *egeom[8];
        struct ferry_mig_layout *elay[8];
        size_t ecount[8];
        size_t n_egeom;
};

/* ---- value and cost ---- */

static uint64_t value_of(const struct ctx *c, const uint32_t *s)
{
        uint64_t v = 0;
        for (size_t j = 0; j < c->K; j++)
                v += (uint64_t)c->w[j] * (s[j] < c->d[j] ? s[j] : c->d[j]);
        return v;
}

static const uint16_t *vec_of(const struct ctx *c, size_t cls, size_t o)
{
        return c->cls[cls].vec + o * c->K;
}

static uint64_t option_cost(const struct pclass *pc, size_t o)
{
        if ((int)o == pc->cur_opt)
                return 0;
        return C_CHANGE + (pc->opts[o].disrupts ? C_DISRUPT : 0);
}

/* ---- classes and options ---- */

static int req_index(const struct ctx *c, const char *name)
{
        for (size_t j = 0; j < c->K; j++)
                if (strcasecmp(c->dem->req[j].profile, name) == 0)
                        return (int)j;
        return -1;
}

static void layout_vec(const struct ctx *c, const struct ferry_mig_geometry *g,
                       const struct ferry_mig_layout *l, uint16_t *v)
{
        memset(v, 0, c->K * sizeof(*v));
        if (!l->mig) {
                if (c->whole_idx >= 0)
                        v[c->whole_idx] = 1;
                return;
        }
        for (unsigned i = 0; i < l->n; i++) {
                int j = req_index(c, g->profiles[l->inst[i].profile].name);
                if (j >= 0)
                        v[j]++;
        }
}

static bool layout_same(const struct ferry_mig_layout *a, const struct ferry_mig_layout *b)
{
        if (a->mig != b->mig || a->n != b->n)
                return false;
        for (unsigned i = 0; i < a->n; i++)
                if (a->inst[i].profile != b->inst[i].profile ||
                    a->inst[i].start != b->inst[i].start || a->inst[i].in_use != b->inst[i].in_use)
                        return false;
        return true;
}

/* Same instance counts per profile and same MIG mode: what mig-parted sees. */
static bool layout_counts_equal(const struct ferry_mig_layout *a, const struct ferry_mig_layout *b)
{
        unsigned ca[FERRY_MIG_MAX_PROFILES] = {0}, cb[FERRY_MIG_MAX_PROFILES] = {0};
        if (a->mig != b->mig)
                return false;
        for (unsigned i = 0; i < a->n; i++)
                ca[a->inst[i].profile]++;
        for (unsigned i = 0; i < b->n; i++)
                cb[b->inst[i].profile]++;
        return memcmp(ca, cb, sizeof(ca)) == 0;
}

static bool has_inst(const struct ferry_mig_layout *l, const struct ferry_mig_instance *in)
{
        for (unsigned i = 0; i < l->n; i++)
                if (l->inst[i].profile == in->profile && l->inst[i].start == in->start)
                        return true;
        return false;
}

static bool keeps_in_use(const struct ferry_mig_layout *cur, bool busy,
                         const struct ferry_mig_layout *t)
{
        if (!cur->mig)
                return !busy || !t->mig;
        for (unsigned i = 0; i < cur->n; i++)
                if (cur->inst[i].in_use && !has_inst(t, &cur->inst[i]))
                        return false;
        return true;
}

static size_t geom_enum(struct ctx *c, const struct ferry_mig_geometry *g,
                        const struct ferry_mig_layout **ret)
{
        for (size_t i = 0; i < c->n_egeom; i++)
                if (c->egeom[i] == g) {
                        *ret = c->elay[i];
                        return c->ecount[i];
                }
        size_t n = ferry_mig_enumerate(g, NULL, 0);
        struct ferry_mig_layout *l = ferry_xcalloc(n, sizeof(*l));
        ferry_mig_enumerate(g, l, n);
        c->egeom[c->n_egeom] = g;
        c->elay[c->n_egeom] = l;
        c->ecount[c->n_egeom++] = n;
        *ret = l;
        return n;
}

/* v <= u componentwise */
static bool vec_le(const uint16_t *v, const uint16_t *u, size_t K)
{
        for (size_t j = 0; j < K; j++)
                if (v[j] > u[j])
                        return false;
        return true;
}

struct cand {
        struct ferry_mig_layout l;
        bool disrupts;
        uint16_t *v;
        bool dead;
};

static int cmp_cand(const void *a, const void *b, void *k)
{
        const struct cand *x = a, *y = b;
        if (x->disrupts != y->disrupts)
                return x->disrupts - y->disrupts;
        return memcmp(x->v, y->v, *(const size_t *)k * sizeof(uint16_t));
}

static void build_options(struct ctx *c, struct pclass *pc)
{
        const struct ferry_mig_geometry *g = pc->geom;
        const struct ferry_mig_layout *all;
        size_t n_all = geom_enum(c, g, &all);
        size_t K = c->K, n_cand = 0, cap = n_all + 2;
        struct cand *cd = ferry_xcalloc(cap, sizeof(*cd));
        uint16_t *vbuf = ferry_xcalloc(cap * (K ? K : 1), sizeof(uint16_t));
        uint16_t *vcur = ferry_xcalloc(K ? K : 1, sizeof(uint16_t));
        bool locked = !c->opt->allow_disrupt && !pc->cur.mig && pc->busy;

        layout_vec(c, g, &pc->cur, vcur);
        if (!locked) {
                for (size_t i = 0; i < n_all; i++) {
                        const struct ferry_mig_layout *e = &all[i];
                        bool keeps = keeps_in_use(&pc->cur, pc->busy, e);
                        if (!keeps && !c->opt->allow_disrupt)
                                continue;
                        /* keep demanded instances and in-use ones; drop idle filler */
                        struct ferry_mig_layout t = {.mig = true};
                        for (unsigned k = 0; k < e->n; k++) {
                                struct ferry_mig_instance in = e->inst[k];
                                bool used = false;
                                if (pc->cur.mig)
                                        for (unsigned q = 0; q < pc->cur.n; q++)
                                                if (pc->cur.inst[q].in_use &&
                                                    pc->cur.inst[q].profile == in.profile &&
                                                    pc->cur.inst[q].start == in.start)
                                                        used = true;
                                in.in_use = used;
                                if (used || req_index(c, g->profiles[in.profile].name) >= 0)
                                        t.inst[t.n++] = in;
                        }
                        struct cand *x = &cd[n_cand];
                        x->l = t;
                        x->disrupts = !keeps;
                        x->v = vbuf + n_cand * K;
                        layout_vec(c, g, &t, x->v);
                        n_cand++;
                }
                /* whole GPU, MIG disabled */
                if (c->whole_idx >= 0) {
                        bool keeps = true;
                        if (pc->cur.mig)
                                for (unsigned q = 0; q < pc->cur.n; q++)
                                        if (pc->cur.inst[q].in_use)
                                                keeps = false;
                        if (keeps || c->opt->allow_disrupt) {
                                struct cand *x = &cd[n_cand];
                                x->l = (struct ferry_mig_layout){.mig = false};
                                x->disrupts = !keeps;
                                x->v = vbuf + n_cand * K;
                                layout_vec(c, g, &x->l, x->v);
                                n_cand++;
                        }
                }
        }
        /* drop what the current layout already gives at no cost, duplicates, and
         * the dominated (within the same disruption class: a disruptive option
         * must not hide a gentle one). Sorting first makes duplicates adjacent
         * and leaves few distinct vectors for the quadratic pass. */
        qsort_r(cd, n_cand, sizeof(*cd), cmp_cand, &K);
        for (size_t i = 0; i < n_cand; i++) {
                if (vec_le(cd[i].v, vcur, K) ||
                    (i > 0 && cd[i - 1].disrupts == cd[i].disrupts &&
                     memcmp(cd[i - 1].v, cd[i].v, K * sizeof(uint16_t)) == 0)) {
                        cd[i].dead = true;
                }
        }
        for (size_t i = 0; i < n_cand; i++) {
                if (cd[i].dead)
                        continue;
                for (size_t k = 0; k < n_cand; k++) {
                        if (k == i || cd[k].dead || (cd[k].disrupts && !cd[i].disrupts))
                                continue;
                        if (vec_le(cd[i].v, cd[k].v, K) &&
                            (memcmp(cd[i].v, cd[k].v, K * sizeof(uint16_t)) != 0 ||
                             cd[k].disrupts != cd[i].disrupts)) {
                                cd[i].dead = true;
                                break;
                        }
                }
        }
        size_t n_opts = 1;
        for (size_t i = 0; i < n_cand; i++)
                n_opts += !cd[i].dead;
        pc->opts = ferry_xcalloc(n_opts, sizeof(*pc->opts));
        pc->vec = ferry_xcalloc(n_opts * (K ? K : 1), sizeof(uint16_t));
        pc->n_opts = 0;
        pc->cur_opt = 0;
        pc->opts[0] = (struct option){.layout = pc->cur, .current = true};
        memcpy(pc->vec, vcur, K * sizeof(uint16_t));
        pc->n_opts = 1;
        for (size_t i = 0; i < n_cand; i++) {
                if (cd[i].dead)
                        continue;
                pc->opts[pc->n_opts] =
                    (struct option){.layout = cd[i].l, .disrupts = cd[i].disrupts};
                memcpy(pc->vec + pc->n_opts * K, cd[i].v, K * sizeof(uint16_t));
                pc->n_opts++;
        }
        free(cd);
        free(vbuf);
        free(vcur);
}

static size_t class_of(struct ctx *c, const struct ferry_mig_gpu *gpu)
{
        for (size_t i = 0; i < c->n_cls; i++)
                if (c->cls[i].geom == gpu->geom && c->cls[i].busy == gpu->busy &&
                    layout_same(&c->cls[i].cur, &gpu->current))
                        return i;
        if (c->n_cls == c->cap_cls) {
                c->cap_cls = c->cap_cls ? 2 * c->cap_cls : 16;
                c->cls = ferry_xrealloc(c->cls, c->cap_cls * sizeof(*c->cls));
        }
        struct pclass *pc = &c->cls[c->n_cls];
        *pc = (struct pclass){.geom = gpu->geom, .cur = gpu->current, .busy = gpu->busy};
        build_options(c, pc);
        return c->n_cls++;
}

/* ---- a solution ---- */

struct sol {
        uint32_t *a;    /* option per GPU */
        uint32_t *s;    /* supply per request */
        uint32_t *nchg; /* changed GPUs per node */
        uint64_t cost;
        uint64_t value;
};

static void sol_init(const struct ctx *c, struct sol *x)
{
        x->a = ferry_xcalloc(c->n ? c->n : 1, sizeof(uint32_t));
        x->s = ferry_xcalloc(c->K ? c->K : 1, sizeof(uint32_t));
        x->nchg = ferry_xcalloc(c->inv->n_nodes ? c->inv->n_nodes : 1, sizeof(uint32_t));
}

static void sol_free(struct sol *x)
{
        free(x->a);
        free(x->s);
        free(x->nchg);
}

static void sol_copy(const struct ctx *c, struct sol *dst, const struct sol *src)
{
        memcpy(dst->a, src->a, c->n * sizeof(uint32_t));
        memcpy(dst->s, src->s, c->K * sizeof(uint32_t));
        memcpy(dst->nchg, src->nchg, c->inv->n_nodes * sizeof(uint32_t));
        dst->cost = src->cost;
        dst->value = src->value;
}

/* Recompute supply, value and cost from the assignment. */
static void sol_eval(const struct ctx *c, struct sol *x)
{
        memset(x->s, 0, c->K * sizeof(uint32_t));
        memset(x->nchg, 0, c->inv->n_nodes * sizeof(uint32_t));
        x->cost = 0;
        for (size_t i = 0; i < c->n; i++) {
                const struct pclass *pc = &c->cls[c->g[i].cls];
                const uint16_t *v = vec_of(c, c->g[i].cls, x->a[i]);
                for (size_t j = 0; j < c->K; j++)
                        x->s[j] += v[j];
                uint64_t oc = option_cost(pc, x->a[i]);
                if (oc) {
                        x->cost += oc;
                        if (x->nchg[c->g[i].node]++ == 0)
                                x->cost++;
                }
        }
        x->value = value_of(c, x->s);
}

static bool better(uint64_t v1, uint64_t c1, uint64_t v2, uint64_t c2)
{
        return v1 > v2 || (v1 == v2 && c1 < c2);
}

/* Move GPU i to option o, keeping s, nchg and cost in step (value not updated). */
static void sol_set(const struct ctx *c, struct sol *x, size_t i, uint32_t o)
{
        const struct pclass *pc = &c->cls[c->g[i].cls];
        const uint16_t *v0 = vec_of(c, c->g[i].cls, x->a[i]);
        const uint16_t *v1 = vec_of(c, c->g[i].cls, o);
        uint64_t c0 = option_cost(pc, x->a[i]), c1 = option_cost(pc, o);
        size_t nd = c->g[i].node;

        for (size_t j = 0; j < c->K; j++)
                x->s[j] = x->s[j] - v0[j] + v1[j];
        if (c0) {
                x->cost -= c0;
                if (--x->nchg[nd] == 0)
                        x->cost--;
        }
        if (c1) {
                x->cost += c1;
                if (x->nchg[nd]++ == 0)
                        x->cost++;
        }
        x->a[i] = o;
}

/* Value of s with GPU i's contribution replaced by option o's. */
static uint64_t value_with(const struct ctx *c, const struct sol *x, size_t i, uint32_t o)
{
        const uint16_t *v0 = vec_of(c, c->g[i].cls, x->a[i]);
        const uint16_t *v1 = vec_of(c, c->g[i].cls, o);
        uint64_t v = 0;
        for (size_t j = 0; j < c->K; j++) {
                uint32_t s = x->s[j] - v0[j] + v1[j];
                v += (uint64_t)c->w[j] * (s < c->d[j] ? s : c->d[j]);
        }
        return v;
}

static uint64_t cost_with(const struct ctx *c, const struct sol *x, size_t i, uint32_t o)
{
        const struct pclass *pc = &c->cls[c->g[i].cls];
        uint64_t c0 = option_cost(pc, x->a[i]), c1 = option_cost(pc, o);
        uint32_t others = x->nchg[c->g[i].node] - (c0 ? 1 : 0);
        uint64_t cost = x->cost;
        if (c0)
                cost -= c0 + (others == 0 ? 1 : 0);
        if (c1)
                cost += c1 + (others == 0 ? 1 : 0);
        return cost;
}

/* Best response for every GPU until nothing improves. */
static bool local_search(const struct ctx *c, struct sol *x)
{
        bool any = false;
        for (int round = 0; round < 64; round++) {
                bool moved = false;
                for (size_t i = 0; i < c->n; i++) {
                        const struct pclass *pc = &c->cls[c->g[i].cls];
                        uint64_t bv = x->value, bc = x->cost;
                        uint32_t bo = x->a[i];
                        for (uint32_t o = 0; o < pc->n_opts; o++) {
                                if (o == x->a[i])
                                        continue;
                                uint64_t v = value_with(c, x, i, o);
                                if (v < bv)
                                        continue;
                                uint64_t cs = cost_with(c, x, i, o);
                                if (better(v, cs, bv, bc)) {
                                        bv = v;
                                        bc = cs;
                                        bo = o;
                                }
                        }
                        if (bo != x->a[i]) {
                                sol_set(c, x, i, bo);
                                x->value = bv;
                                moved = any = true;
                        }
                }
                if (!moved)
                        break;
        }
        return any;
}

/* Pair moves: change two GPUs at once. Candidates are one GPU per (class,
 * option) group, so this stays cheap on large clusters where most GPUs repeat. */
static bool pair_moves(const struct ctx *c, struct sol *x, uint64_t *budget)
{
        size_t *rep = ferry_xcalloc(c->n ? c->n : 1, sizeof(size_t));
        size_t *rep2 = ferry_xcalloc(c->n ? c->n : 1, sizeof(size_t));
        size_t nr = 0;
        bool improved = false;

        for (size_t i = 0; i < c->n; i++) {
                size_t k;
                for (k = 0; k < nr; k++)
                        if (c->g[rep[k]].cls == c->g[i].cls && x->a[rep[k]] == x->a[i])
                                break;
                if (k == nr) {
                        rep[nr] = i;
                        rep2[nr++] = SIZE_MAX;
                } else if (rep2[k] == SIZE_MAX) {
                        rep2[k] = i;
                }
        }
        uint32_t *s = ferry_xcalloc(c->K ? c->K : 1, sizeof(uint32_t));
        for (size_t p = 0; p < nr && !improved && *budget; p++) {
                for (size_t q = p; q < nr && !improved && *budget; q++) {
                        size_t i = rep[p], k = p == q ? rep2[p] : rep[q];
                        if (k == SIZE_MAX)
                                continue;
                        const struct pclass *pi = &c->cls[c->g[i].cls], *pk = &c->cls[c->g[k].cls];
                        uint64_t work = (uint64_t)pi->n_opts * pk->n_opts;
                        *budget = *budget > work ? *budget - work : 0;
                        const uint16_t *vi = vec_of(c, c->g[i].cls, x->a[i]);
                        const uint16_t *vk = vec_of(c, c->g[k].cls, x->a[k]);
                        for (size_t j = 0; j < c->K; j++)
                                s[j] = x->s[j] - vi[j] - vk[j];
                        for (uint32_t oi = 0; oi < pi->n_opts && !improved; oi++) {
                                const uint16_t *ui = vec_of(c, c->g[i].cls, oi);
                                for (uint32_t ok = 0; ok < pk->n_opts; ok++) {
                                        const uint16_t *uk = vec_of(c, c->g[k].cls, ok);
                                        uint64_t v = 0;
                                        for (size_t j = 0; j < c->K; j++) {
                                                uint32_t t = s[j] + ui[j] + uk[j];
                                                v +=
                                                    (uint64_t)c->w[j] * (t < c->d[j] ? t : c->d[j]);
                                        }
                                        if (v > x->value) {
                                                sol_set(c, x, i, oi);
                                                sol_set(c, x, k, ok);
                                                x->value = v;
                                                improved = true;
                                                break;
                                        }
                                }
                        }
                }
        }
        free(s);
        free(rep);
        free(rep2);
        return improved;
}

/* Tie-break passes: undo changes that buy nothing, then move lone changes onto
 * nodes that are touched anyway. Value never drops. */
static void reduce_cost(const struct ctx *c, struct sol *x)
{
        for (size_t i = 0; i < c->n; i++) {
                const struct pclass *pc = &c->cls[c->g[i].cls];
                if ((int)x->a[i] == pc->cur_opt)
                        continue;
                if (value_with(c, x, i, (uint32_t)pc->cur_opt) >= x->value) {
                        x->value = value_with(c, x, i, (uint32_t)pc->cur_opt);
                        sol_set(c, x, i, (uint32_t)pc->cur_opt);
                }
        }
        for (size_t i = 0; i < c->n; i++) {
                const struct pclass *pc = &c->cls[c->g[i].cls];
                if ((int)x->a[i] == pc->cur_opt || x->nchg[c->g[i].node] != 1)
                        continue;
                for (size_t k = 0; k < c->n; k++) {
                        if (c->g[k].cls != c->g[i].cls || (int)x->a[k] != pc->cur_opt ||
                            x->nchg[c->g[k].node] == 0 || c->g[k].node == c->g[i].node)
                                continue;
                        uint32_t o = x->a[i];
                        sol_set(c, x, i, (uint32_t)pc->cur_opt);
                        sol_set(c, x, k, o);
                        break;
                }
        }
}

/* Start from nothing placed: each GPU in turn takes the option with the best
 * marginal value, preferring no change. */
static void greedy_start(const struct ctx *c, struct sol *x)
{
        for (size_t i = 0; i < c->n; i++)
                x->a[i] = (uint32_t)c->cls[c->g[i].cls].cur_opt;
        sol_eval(c, x);
        /* remove every contribution, then add back greedily */
        memset(x->s, 0, c->K * sizeof(uint32_t));
        for (size_t i = 0; i < c->n; i++) {
                const struct pclass *pc = &c->cls[c->g[i].cls];
                uint64_t bv = 0;
                uint32_t bo = (uint32_t)pc->cur_opt;
                uint64_t base = value_of(c, x->s);
                for (uint32_t o = 0; o < pc->n_opts; o++) {
                        const uint16_t *v = vec_of(c, c->g[i].cls, o);
                        uint64_t val = base;
                        for (size_t j = 0; j < c->K; j++)
                                if (x->s[j] < c->d[j]) {
                                        uint32_t add =
                                            v[j] < c->d[j] - x->s[j] ? v[j] : c->d[j] - x->s[j];
                                        val += (uint64_t)c->w[j] * add;
                                }
                        if (val > bv || (val == bv && (int)o == pc->cur_opt)) {
                                bv = val;
                                bo = o;
                        }
                }
                x->a[i] = bo;
                const uint16_t *v = vec_of(c, c->g[i].cls, bo);
                for (size_t j = 0; j < c->K; j++)
                        x->s[j] += v[j];
        }
        sol_eval(c, x);
}

/* Pair moves are quadratic in the number of (class, option) groups: a work
 * budget (option pairs tried) keeps a cluster of all-different GPUs fast. */
#define PAIR_BUDGET 400000

static void improve(const struct ctx *c, struct sol *x)
{
        uint64_t total = 0, budget = PAIR_BUDGET;
        for (size_t j = 0; j < c->K; j++)
                total += (uint64_t)c->w[j] * c->d[j];
        for (int it = 0; it < 32; it++) {
                local_search(c, x);
                if (x->value == total || !pair_moves(c, x, &budget))
                        break;
        }
        reduce_cost(c, x);
        local_search(c, x);
}

/* ---- Lagrangian bound ---- */

static uint64_t lagrange_bound(const struct ctx *c, uint64_t lower)
{
        size_t K = c->K;
        double *lam = ferry_xcalloc(K ? K : 1, sizeof(double));
        double *sg = ferry_xcalloc(K ? K : 1, sizeof(double));
        double best = 0;
        uint64_t total = 0;

        for (size_t j = 0; j < K; j++) {
                total += (uint64_t)c->w[j] * c->d[j];
                lam[j] = c->w[j] * 0.5;
        }
        best = (double)total;
        double mu = 2.0;
        int stall = 0;
        for (int it = 0; it < 400 && mu > 1e-6; it++) {
                double ub = 0;
                for (size_t j = 0; j < K; j++) {
                        if (lam[j] < c->w[j]) {
                                ub += c->d[j] * (c->w[j] - lam[j]);
                                sg[j] = c->d[j];
                        } else {
                                sg[j] = 0;
                        }
                }
                for (size_t k = 0; k < c->n_cls; k++) {
                        const struct pclass *pc = &c->cls[k];
                        double bv = -1;
                        size_t bo = 0;
                        for (size_t o = 0; o < pc->n_opts; o++) {
                                const uint16_t *v = vec_of(c, k, o);
                                double t = 0;
                                for (size_t j = 0; j < K; j++)
                                        t += lam[j] * v[j];
                                if (t > bv) {
                                        bv = t;
                                        bo = o;
                                }
                        }
                        ub += (double)pc->count * bv;
                        const uint16_t *v = vec_of(c, k, bo);
                        for (size_t j = 0; j < K; j++)
                                sg[j] -= (double)pc->count * v[j];
                }
                if (ub < best - 1e-9 * best) {
                        best = ub;
                        stall = 0;
                } else if (++stall >= 12) {
                        mu /= 2; /* Held-Karp: shrink the step when progress stalls */
                        stall = 0;
                }
                double norm = 0;
                for (size_t j = 0; j < K; j++)
                        norm += sg[j] * sg[j];
                if (norm == 0 || best <= (double)lower)
                        break;
                double step = mu * (ub - (double)lower) / norm;
                if (step <= 0)
                        step = mu * 1e-3;
                for (size_t j = 0; j < K; j++) {
                        lam[j] += step * sg[j]; /* sg is minus the gradient */
                        if (lam[j] < 0)
                                lam[j] = 0;
                        if (lam[j] > c->w[j])
                                lam[j] = c->w[j];
                }
        }
        free(lam);
        free(sg);
        /* a little slack for floating point: the bound must stay an upper bound */
        uint64_t b = (uint64_t)ceil(best * (1 + 1e-9) + 1e-6);
        if (b > total)
                b = total;
        return b < lower ? lower : b;
}

/* ---- exact branch and bound ---- */

struct bb {
        const struct ctx *c;
        uint32_t *a, *s, *nchg; /* s: supply of the GPUs decided so far */
        uint32_t *rem;          /* (n+1) x K: max supply the GPUs from i on can add */
        uint32_t *remcur;       /* (n+1) x K: their supply if left as they are */
        struct sol *best;
        uint64_t nodes, limit;
        bool aborted;
};

static uint64_t value_plus(const struct ctx *c, const uint32_t *s, const uint32_t *add)
{
        uint64_t v = 0;
        for (size_t j = 0; j < c->K; j++) {
                uint32_t t = s[j] + add[j];
                v += (uint64_t)c->w[j] * (t < c->d[j] ? t : c->d[j]);
        }
        return v;
}

static void bb_leaf(struct bb *b, size_t from, uint64_t v, uint64_t cost)
{
        const struct ctx *c = b->c;
        if (!better(v, cost, b->best->value, b->best->cost))
                return;
        for (size_t i = from; i < c->n; i++)
                b->a[i] = (uint32_t)c->cls[c->g[i].cls].cur_opt;
        memcpy(b->best->a, b->a, c->n * sizeof(uint32_t));
        b->best->value = v;
        b->best->cost = cost;
}

static void bb_rec(struct bb *b, size_t i, uint64_t cost)
{
        const struct ctx *c = b->c;
        size_t K = c->K;

        if (b->aborted)
                return;
        if (++b->nodes > b->limit) {
                b->aborted = true;
                return;
        }
        uint64_t ub = value_plus(c, b->s, b->rem + i * K);
        if (ub < b->best->value || (ub == b->best->value && cost >= b->best->cost))
                return;
        /* leaving the rest as it is reaches the bound: nothing cheaper exists below */
        uint64_t keep = value_plus(c, b->s, b->remcur + i * K);
        if (keep == ub || i == c->n) {
                bb_leaf(b, i, keep, cost);
                return;
        }
        const struct pclass *pc = &c->cls[c->g[i].cls];
        size_t nd = c->g[i].node;
        uint32_t first = (uint32_t)pc->cur_opt;
        for (uint32_t k = 0; k < pc->n_opts && !b->aborted; k++) {
                uint32_t o = k == 0 ? first : (k <= first ? k - 1 : k);
                const uint16_t *v = vec_of(c, c->g[i].cls, o);
                uint64_t oc = option_cost(pc, o);
                if (oc && b->nchg[nd] == 0)
                        oc++;
                for (size_t j = 0; j < K; j++)
                        b->s[j] += v[j];
                b->nchg[nd] += oc ? 1 : 0;
                b->a[i] = o;
                bb_rec(b, i + 1, cost + oc);
                b->nchg[nd] -= oc ? 1 : 0;
                for (size_t j = 0; j < K; j++)
                        b->s[j] -= v[j];
        }
}

/* Complete search seeded with x; x becomes the best found. true when complete. */
static bool exact(const struct ctx *c, struct sol *x, uint64_t limit, uint64_t *nodes)
{
        size_t K = c->K, Kd = K ? K : 1;
        struct bb b = {.c = c, .limit = limit, .best = x};

        b.a = ferry_xcalloc(c->n ? c->n : 1, sizeof(uint32_t));
        b.s = ferry_xcalloc(Kd, sizeof(uint32_t));
        b.nchg = ferry_xcalloc(c->inv->n_nodes ? c->inv->n_nodes : 1, sizeof(uint32_t));
        b.rem = ferry_xcalloc((c->n + 1) * Kd, sizeof(uint32_t));
        b.remcur = ferry_xcalloc((c->n + 1) * Kd, sizeof(uint32_t));
        for (size_t i = c->n; i-- > 0;) {
                const struct pclass *pc = &c->cls[c->g[i].cls];
                const uint16_t *vc = vec_of(c, c->g[i].cls, (size_t)pc->cur_opt);
                for (size_t j = 0; j < K; j++) {
                        uint32_t m = 0;
                        for (size_t o = 0; o < pc->n_opts; o++)
                                if (vec_of(c, c->g[i].cls, o)[j] > m)
                                        m = vec_of(c, c->g[i].cls, o)[j];
                        b.rem[i * K + j] = b.rem[(i + 1) * K + j] + m;
                        b.remcur[i * K + j] = b.remcur[(i + 1) * K + j] + vc[j];
                }
        }
        bb_rec(&b, 0, 0);
        *nodes = b.nodes;
        free(b.a);
        free(b.s);
        free(b.nchg);
        free(b.rem);
        free(b.remcur);
        sol_eval(c, x); /* refresh s and nchg for the new assignment */
        return !b.aborted;
}

/* ---- entry point ---- */

static void ctx_free(struct ctx *c)
{
        for (size_t i = 0; i < c->n_cls; i++) {
                free(c->cls[i].opts);
                free(c->cls[i].vec);
        }
        free(c->cls);
        free(c->g);
        free(c->d);
        free(c->w);
        for (size_t i = 0; i < c->n_egeom; i++)
                free(c->elay[i]);
}

void ferry_mig_plan_free(struct ferry_mig_plan *p)
{
        if (!p)
                return;
        free(p->targets);
        free(p->supply);
        free(p->served);
        free(p);
}

void ferry_mig_inventory_free(struct ferry_mig_inventory *inv)
{
        if (!inv)
                return;
        for (size_t i = 0; i < inv->n_nodes; i++) {
                free(inv->nodes[i].name);
                free(inv->nodes[i].gpus);
        }
        free(inv->nodes);
        inv->nodes = NULL;
        inv->n_nodes = 0;
}

void ferry_mig_demand_free(struct ferry_mig_demand *d)
{
        if (!d)
                return;
        free(d->req);
        d->req = NULL;
        d->n = 0;
}

static int check_input(struct ctx *c, ferry_error_t *err)
{
        const struct ferry_mig_inventory *inv = c->inv;
        size_t n = 0;

        if (c->dem->n > FERRY_MIG_MAX_REQUESTS)
                return ferry_errprintf(err, -E2BIG, "too many demand entries (%zu, limit %d)",
                                       c->dem->n, FERRY_MIG_MAX_REQUESTS);
        for (size_t i = 0; i < inv->n_nodes; i++) {
                const struct ferry_mig_node *nd = &inv->nodes[i];
                for (size_t k = 0; k < nd->n_gpus; k++) {
                        ferry_error_t e;
                        const struct ferry_mig_gpu *g = &nd->gpus[k];
                        if (!g->geom)
                                return ferry_errprintf(err, -EINVAL, "node %s GPU %u: no model",
                                                       nd->name, g->index);
                        if (ferry_mig_layout_check(g->geom, &g->current, &e) < 0)
                                return ferry_errprintf(err, -EINVAL, "node %s GPU %u: %s", nd->name,
                                                       g->index, e.text);
                        n++;
                }
        }
        if (n > FERRY_MIG_MAX_GPUS)
                return ferry_errprintf(err, -E2BIG, "too many GPUs (%zu, limit %d)", n,
                                       FERRY_MIG_MAX_GPUS);
        c->n = n;
        for (size_t j = 0; j < c->dem->n; j++) {
                const char *name = c->dem->req[j].profile;
                bool offered = strcasecmp(name, FERRY_MIG_WHOLE) == 0;
                for (size_t k = 0; k < j; k++)
                        if (strcasecmp(c->dem->req[k].profile, name) == 0)
                                return ferry_errprintf(err, -EINVAL,
                                                       "profile %s is requested twice", name);
                for (size_t i = 0; i < inv->n_nodes && !offered; i++)
                        for (size_t k = 0; k < inv->nodes[i].n_gpus && !offered; k++)
                                offered =
                                    ferry_mig_profile_find(inv->nodes[i].gpus[k].geom, name) >= 0;
                if (!offered)
                        return ferry_errprintf(err, -EINVAL,
                                               "no GPU in the inventory offers profile %s", name);
                if (c->dem->req[j].count > FERRY_MIG_MAX_COUNT)
                        return ferry_errprintf(err, -E2BIG, "count for %s is above %d", name,
                                               FERRY_MIG_MAX_COUNT);
        }
        return 0;
}

int ferry_mig_plan(const struct ferry_mig_inventory *inv, const struct ferry_mig_demand *d,
                   const struct ferry_mig_options *opt, struct ferry_mig_plan **ret,
                   ferry_error_t *err)
{
        static const struct ferry_mig_options defaults = {0};
        struct ctx c = {
            .inv = inv, .dem = d, .opt = opt ? opt : &defaults, .K = d->n, .whole_idx = -1};
        struct sol x, y;
        int r;

        r = check_input(&c, err);
        if (r < 0)
                return r;
        c.d = ferry_xcalloc(c.K ? c.K : 1, sizeof(uint32_t));
        c.w = ferry_xcalloc(c.K ? c.K : 1, sizeof(uint32_t));
        for (size_t j = 0; j < c.K; j++) {
                c.d[j] = d->req[j].count;
                c.w[j] = d->req[j].weight;
                if (strcasecmp(d->req[j].profile, FERRY_MIG_WHOLE) == 0)
                        c.whole_idx = (int)j;
        }
        c.g = ferry_xcalloc(c.n ? c.n : 1, sizeof(*c.g));
        size_t n = 0;
        for (size_t i = 0; i < inv->n_nodes; i++)
                for (size_t k = 0; k < inv->nodes[i].n_gpus; k++) {
                        size_t cls = class_of(&c, &inv->nodes[i].gpus[k]);
                        c.cls[cls].count++;
                        c.g[n++] = (struct gpuref){.node = i, .gpu = k, .cls = cls};
                }

        /* two starts: as things are, and greedy from scratch; keep the better */
        sol_init(&c, &x);
        sol_init(&c, &y);
        for (size_t i = 0; i < c.n; i++)
                x.a[i] = (uint32_t)c.cls[c.g[i].cls].cur_opt;
        sol_eval(&c, &x);
        improve(&c, &x);
        greedy_start(&c, &y);
        improve(&c, &y);
        if (better(y.value, y.cost, x.value, x.cost))
                sol_copy(&c, &x, &y);
        sol_free(&y);

        uint64_t bound = lagrange_bound(&c, x.value), nodes = 0;
        bool optimal = false;
        size_t exact_max = c.opt->exact_max_gpus ? c.opt->exact_max_gpus : DEFAULT_EXACT_MAX_GPUS;
        if (c.opt->mode == FERRY_MIG_EXACT || (c.opt->mode == FERRY_MIG_AUTO && c.n <= exact_max)) {
                uint64_t limit = c.opt->node_limit ? c.opt->node_limit : DEFAULT_NODE_LIMIT;
                optimal = exact(&c, &x, limit, &nodes);
                if (optimal)
                        bound = x.value;
        }

        struct ferry_mig_plan *p = ferry_xcalloc(1, sizeof(*p));
        p->n_targets = c.n;
        p->targets = ferry_xcalloc(c.n ? c.n : 1, sizeof(*p->targets));
        p->n_req = c.K;
        p->supply = ferry_xcalloc(c.K ? c.K : 1, sizeof(uint32_t));
        p->served = ferry_xcalloc(c.K ? c.K : 1, sizeof(uint32_t));
        uint8_t *touched = ferry_xcalloc(inv->n_nodes ? inv->n_nodes : 1, 1);
        for (size_t i = 0; i < c.n; i++) {
                const struct pclass *pc = &c.cls[c.g[i].cls];
                const struct option *o = &pc->opts[x.a[i]];
                struct ferry_mig_target *t = &p->targets[i];
                t->node = c.g[i].node;
                t->gpu = c.g[i].gpu;
                t->layout = o->layout;
                t->changed = !o->current && !layout_counts_equal(&o->layout, &pc->cur);
                t->disrupts = !o->current && !keeps_in_use(&pc->cur, pc->busy, &o->layout);
                if (o->current)
                        t->layout = pc->cur;
                p->gpus_changed += t->changed;
                p->disrupted += t->disrupts;
                if (t->changed && !touched[t->node]) {
                        touched[t->node] = 1;
                        p->nodes_touched++;
                }
        }
        free(touched);
        for (size_t j = 0; j < c.K; j++) {
                p->supply[j] = x.s[j];
                p->served[j] = x.s[j] < c.d[j] ? x.s[j] : c.d[j];
                p->total += (uint64_t)c.w[j] * c.d[j];
        }
        p->value = x.value;
        p->bound = bound;
        p->optimal = optimal;
        p->search_nodes = nodes;
        sol_free(&x);
        ctx_free(&c);
        *ret = p;
        return 0;
}
