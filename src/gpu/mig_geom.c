/* SPDX-License-Identifier: MIT */
/* MIG geometry tables (shared/spec/mig.md) and layout checks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "gpu/mig.h"

/* Start-slot masks of the 7 compute x 8 memory geometry. */
#define S_1G 0x7f   /* 0..6 */
#define S_EVEN 0x55 /* 0,2,4,6 */
#define S_2G 0x15   /* 0,2,4 */
#define S_3G 0x11   /* 0,4 */
#define S_0 0x01

#define GEOM_7x8(m, mib, a, b, c, d, e, f)                                                         \
        {                                                                                          \
                .model = m, .compute_slices = 7, .mem_slices = 8, .n_profiles = 6, .mem_mib = mib, \
                .profiles = {                                                                      \
                    {a, 1, 1, S_1G}, {b, 1, 2, S_EVEN}, {c, 2, 2, S_2G},                           \
                    {d, 3, 4, S_3G}, {e, 4, 4, S_0},    {f, 7, 8, S_0},                            \
                },                                                                                 \
        }

static const struct ferry_mig_geometry geometries[] = {
    GEOM_7x8("A100-40GB", 40960, "1g.5gb", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"),
    GEOM_7x8("A100-80GB", 81920, "1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"),
    GEOM_7x8("H100-80GB", 81920, "1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"),
    GEOM_7x8("H200-141GB", 144384, "1g.18gb", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb",
             "7g.141gb"),
    {
        .model = "A30-24GB",
        .compute_slices = 4,
        .mem_slices = 4,
        .n_profiles = 3,
        .mem_mib = 24576,
        .profiles =
            {
                {"1g.6gb", 1, 1, 0x0f},
                {"2g.12gb", 2, 2, 0x05},
                {"4g.24gb", 4, 4, 0x01},
            },
    },
};

const struct ferry_mig_geometry *ferry_mig_geometry_get(size_t i)
{
        return i < FERRY_ARRAY_SIZE(geometries) ? &geometries[i] : NULL;
}

static bool contains_ci(const char *s, const char *sub)
{
        return strcasestr(s, sub) != NULL;
}

const struct ferry_mig_geometry *ferry_mig_geometry_find(const char *model)
{
        if (!model)
                return NULL;
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(geometries); i++)
                if (strcasecmp(model, geometries[i].model) == 0)
                        return &geometries[i];
        /* NVML product names: "NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3"...
         * Only names that say NVIDIA: a typo like "A100-20GB" must stay an error. */
        if (strncasecmp(model, "NVIDIA ", 7) != 0)
                return NULL;
        if (contains_ci(model, "A100"))
                return contains_ci(model, "80GB") ? &geometries[1] : &geometries[0];
        if (contains_ci(model, "H100") && !contains_ci(model, "94GB") &&
            !contains_ci(model, "96GB") && !contains_ci(model, "NVL"))
                return &geometries[2];
        if (contains_ci(model, "H200"))
                return &geometries[3];
        if (contains_ci(model, "A30"))
                return &geometries[4];
        return NULL;
}

int ferry_mig_profile_find(const struct ferry_mig_geometry *g, const char *name)
{
        for (int i = 0; i < g->n_profiles; i++)
                if (strcasecmp(g->profiles[i].name, name) == 0)
                        return i;
        return -1;
}

int ferry_mig_profile_by_shape(const struct ferry_mig_geometry *g, unsigned compute, unsigned mem)
{
        for (int i = 0; i < g->n_profiles; i++)
                if (g->profiles[i].compute == compute && g->profiles[i].mem == mem)
                        return i;
        return -1;
}

static unsigned span_mask(const struct ferry_mig_profile *p, unsigned start)
{
        return ((1u << p->mem) - 1u) << start;
}

static int cmp_inst(const void *a, const void *b)
{
        const struct ferry_mig_instance *x = a, *y = b;
        return x->start - y->start;
}

int ferry_mig_layout_check(const struct ferry_mig_geometry *g, const struct ferry_mig_layout *l,
                           ferry_error_t *err)
{
        unsigned used = 0, compute = 0;

        if (!l->mig) {
                if (l->n)
                        return ferry_errprintf(err, -EINVAL,
                                               "a GPU with MIG disabled cannot hold instances");
                return 0;
        }
        if (l->n > FERRY_MIG_MAX_INSTANCES)
                return ferry_errprintf(err, -EINVAL, "too many instances (%u)", l->n);
        for (unsigned i = 0; i < l->n; i++) {
                const struct ferry_mig_instance *in = &l->inst[i];
                if (in->profile >= g->n_profiles)
                        return ferry_errprintf(err, -EINVAL, "unknown profile index %u",
                                               in->profile);
                const struct ferry_mig_profile *p = &g->profiles[in->profile];
                if (in->start < 0 || in->start >= g->mem_slices || !(p->starts & (1u << in->start)))
                        return ferry_errprintf(err, -EINVAL, "%s cannot start at slot %d on %s",
                                               p->name, in->start, g->model);
                unsigned m = span_mask(p, (unsigned)in->start);
                if (used & m)
                        return ferry_errprintf(err, -EINVAL,
                                               "%s at slot %d overlaps another instance on %s",
                                               p->name, in->start, g->model);
                used |= m;
                compute += p->compute;
        }
        if (compute > g->compute_slices)
                return ferry_errprintf(err, -EINVAL, "instances need %u compute slices, %s has %u",
                                       compute, g->model, g->compute_slices);
        return 0;
}

/* Place the unplaced instances (indices in todo[]) in free slots, largest first. */
static bool place_rec(const struct ferry_mig_geometry *g, struct ferry_mig_layout *l,
                      const uint8_t *todo, unsigned n, unsigned used)
{
        if (n == 0)
                return true;
        struct ferry_mig_instance *in = &l->inst[todo[0]];
        const struct ferry_mig_profile *p = &g->profiles[in->profile];
        for (unsigned s = 0; s < g->mem_slices; s++) {
                if (!(p->starts & (1u << s)))
                        continue;
                unsigned m = span_mask(p, s);
                if (used & m)
                        continue;
                in->start = (int8_t)s;
                if (place_rec(g, l, todo + 1, n - 1, used | m))
                        return true;
        }
        in->start = -1;
        return false;
}

int ferry_mig_layout_place(const struct ferry_mig_geometry *g, struct ferry_mig_layout *l,
                           ferry_error_t *err)
{
        uint8_t todo[FERRY_MIG_MAX_INSTANCES];
        unsigned n = 0, used = 0, compute = 0;

        if (!l->mig)
                return ferry_mig_layout_check(g, l, err);
        if (l->n > FERRY_MIG_MAX_INSTANCES)
                return ferry_errprintf(err, -EINVAL, "too many instances (%u)", l->n);
        for (unsigned i = 0; i < l->n; i++) {
                if (l->inst[i].profile >= g->n_profiles)
                        return ferry_errprintf(err, -EINVAL, "unknown profile index %u",
                                               l->inst[i].profile);
                compute += g->profiles[l->inst[i].profile].compute;
                if (l->inst[i].start < 0)
                        todo[n++] = (uint8_t)i;
        }
        if (compute > g->compute_slices)
                return ferry_errprintf(err, -EINVAL, "instances need %u compute slices, %s has %u",
                                       compute, g->model, g->compute_slices);
        /* check the placed ones first, on a copy without the unplaced */
        struct ferry_mig_layout placed = {.mig = true};
        for (unsigned i = 0; i < l->n; i++)
                if (l->inst[i].start >= 0)
                        placed.inst[placed.n++] = l->inst[i];
        int r = ferry_mig_layout_check(g, &placed, err);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < placed.n; i++)
                used |=
                    span_mask(&g->profiles[placed.inst[i].profile], (unsigned)placed.inst[i].start);
        /* largest first: fewer dead ends */
        for (unsigned i = 1; i < n; i++)
                for (unsigned j = i; j > 0 && g->profiles[l->inst[todo[j]].profile].mem >
                                                  g->profiles[l->inst[todo[j - 1]].profile].mem;
                     j--) {
                        uint8_t t = todo[j];
                        todo[j] = todo[j - 1];
                        todo[j - 1] = t;
                }
        if (!place_rec(g, l, todo, n, used))
                return ferry_errprintf(err, -EINVAL,
                                       "these instances do not fit together on one %s", g->model);
        qsort(l->inst, l->n, sizeof(l->inst[0]), cmp_inst);
        return 0;
}

struct enum_ctx {
        const struct ferry_mig_geometry *g;
        struct ferry_mig_layout cur;
        struct ferry_mig_layout *out;
        size_t max, count;
};

static void enum_rec(struct enum_ctx *c, unsigned slot, unsigned used)
{
        const struct ferry_mig_geometry *g = c->g;

        while (slot < g->mem_slices && (used & (1u << slot)))
                slot++;
        if (slot >= g->mem_slices) {
                if (c->count < c->max)
                        c->out[c->count] = c->cur;
                c->count++;
                return;
        }
        enum_rec(c, slot + 1, used); /* leave this slot empty */
        for (unsigned p = 0; p < g->n_profiles; p++) {
                const struct ferry_mig_profile *pr = &g->profiles[p];
                if (!(pr->starts & (1u << slot)) || slot + pr->mem > g->mem_slices)
                        continue;
                unsigned m = span_mask(pr, slot);
                if (used & m)
                        continue;
                c->cur.inst[c->cur.n++] =
                    (struct ferry_mig_instance){.profile = (uint8_t)p, .start = (int8_t)slot};
                enum_rec(c, slot + pr->mem, used | m);
                c->cur.n--;
        }
}

size_t ferry_mig_enumerate(const struct ferry_mig_geometry *g, struct ferry_mig_layout *out,
                           size_t max)
{
        struct enum_ctx c = {.g = g, .cur = {.mig = true}, .out = out, .max = out ? max : 0};

        enum_rec(&c, 0, 0);
        return c.count;
}
