/* SPDX-License-Identifier: MIT */
/* Inventory and demand files in, plan text out. See doc/gpu.md for the formats. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "common/util.h"
#include "gpu/mig_io.h"

/* ---- a thin layer over libyaml's document API (it reads JSON too) ---- */

struct doc {
        yaml_document_t d;
        const char *fname;
        ferry_error_t *err;
};

static unsigned line_of(const yaml_node_t *n)
{
        return (unsigned)n->start_mark.line + 1;
}

#define PERR(doc, node, ...) perr_at((doc), (node) ? line_of(node) : 0, __VA_ARGS__)

__attribute__((format(printf, 3, 4))) static int perr_at(struct doc *doc, unsigned line,
                                                         const char *fmt, ...)
{
        char msg[FERRY_ERROR_TEXT_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (line)
                return ferry_errprintf(doc->err, -EINVAL, "%s:%u: %s", doc->fname, line, msg);
        return ferry_errprintf(doc->err, -EINVAL, "%s: %s", doc->fname, msg);
}

static yaml_node_t *node_at(struct doc *doc, int id)
{
        return yaml_document_get_node(&doc->d, id);
}

static const char *scalar(const yaml_node_t *n)
{
        return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Check every key of a mapping is one of keys[] (catches typos). */
static int check_keys(struct doc *doc, yaml_node_t *map, const char *what, const char *const *keys)
{
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
             p++) {
                yaml_node_t *k = node_at(doc, p->key);
                const char *ks = scalar(k);
                bool ok = false;
                for (size_t i = 0; ks && keys[i]; i++)
                        ok |= strcmp(ks, keys[i]) == 0;
                if (!ok)
                        return PERR(doc, k, "unknown key '%s' in %s", ks ? ks : "?", what);
        }
        return 0;
}

static yaml_node_t *map_get(struct doc *doc, yaml_node_t *map, const char *key)
{
        if (!map || map->type != YAML_MAPPING_NODE)
                return NULL;
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
             p++) {
                const char *ks = scalar(node_at(doc, p->key));
                if (ks && strcmp(ks, key) == 0)
                        return node_at(doc, p->value);
        }
        return NULL;
}

static int get_uint(struct doc *doc, yaml_node_t *n, const char *what, unsigned long max,
                    unsigned long *ret)
{
        const char *s = scalar(n);
        char *end;
        if (!s || !*s || *s == '-')
                return PERR(doc, n, "%s must be a non-negative integer", what);
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || *end)
                return PERR(doc, n, "%s must be a non-negative integer, not '%s'", what, s);
        if (v > max)
                return PERR(doc, n, "%s %lu is above the limit %lu", what, v, max);
        *ret = v;
        return 0;
}

static int get_bool(struct doc *doc, yaml_node_t *n, const char *what, bool *ret)
{
        const char *s = scalar(n);
        if (s && (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0)) {
                *ret = true;
                return 0;
        }
        if (s && (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0)) {
                *ret = false;
                return 0;
        }
        return PERR(doc, n, "%s must be true or false", what);
}

static int doc_load(struct doc *doc, const char *text, size_t len)
{
        yaml_parser_t parser;
        if (!yaml_parser_initialize(&parser))
                return ferry_errprintf(doc->err, -ENOMEM, "%s: out of memory", doc->fname);
        yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
        if (!yaml_parser_load(&parser, &doc->d)) {
                int r = ferry_errprintf(doc->err, -EINVAL, "%s:%zu: %s", doc->fname,
                                        parser.problem_mark.line + 1,
                                        parser.problem ? parser.problem : "syntax error");
                yaml_parser_delete(&parser);
                return r;
        }
        yaml_parser_delete(&parser);
        if (!yaml_document_get_root_node(&doc->d)) {
                yaml_document_delete(&doc->d);
                return ferry_errprintf(doc->err, -EINVAL, "%s: empty document", doc->fname);
        }
        return 0;
}

/* The list under `key`, or the root itself when it is a list. */
static yaml_node_t *top_list(struct doc *doc, const char *key)
{
        yaml_node_t *root = yaml_document_get_root_node(&doc->d);
        if (root->type == YAML_SEQUENCE_NODE)
                return root;
        yaml_node_t *n = map_get(doc, root, key);
        return n && n->type == YAML_SEQUENCE_NODE ? n : NULL;
}

static void known_models(char *buf, size_t size)
{
        size_t off = 0;
        buf[0] = '\0';
        for (size_t i = 0; ferry_mig_geometry_get(i) && off < size; i++)
                off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? ", " : "",
                                        ferry_mig_geometry_get(i)->model);
}

/* ---- inventory ---- */

static int parse_instances(struct doc *doc, yaml_node_t *seq, struct ferry_mig_gpu *gpu)
{
        static const char *const keys[] = {"profile", "start", "count", "in_use", NULL};
        const struct ferry_mig_geometry *g = gpu->geom;

        if (seq->type != YAML_SEQUENCE_NODE)
                return PERR(doc, seq, "instances must be a list");
        for (yaml_node_item_t *it = seq->data.sequence.items.start;
             it < seq->data.sequence.items.top; it++) {
                yaml_node_t *n = node_at(doc, *it);
                unsigned long start = 0, count = 1;
                bool in_use = false, placed = false;
                int r;
                if (n->type != YAML_MAPPING_NODE)
                        return PERR(doc, n, "an instance must be a mapping with a profile");
                if ((r = check_keys(doc, n, "an instance", keys)) < 0)
                        return r;
                yaml_node_t *pn = map_get(doc, n, "profile");
                const char *pname = scalar(pn);
                if (!pname)
                        return PERR(doc, n, "instance without a profile");
                int p = ferry_mig_profile_find(g, pname);
                if (p < 0) {
                        char list[256] = "";
                        size_t off = 0;
                        for (unsigned i = 0; i < g->n_profiles && off < sizeof(list); i++)
                                off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
                                                        i ? ", " : "", g->profiles[i].name);
                        return PERR(doc, pn, "%s has no MIG profile '%s' (it has %s)", g->model,
                                    pname, list);
                }
                if (map_get(doc, n, "start")) {
                        if ((r = get_uint(doc, map_get(doc, n, "start"), "start",
                                          g->mem_slices - 1u, &start)) < 0)
                                return r;
                        placed = true;
                }
                if (map_get(doc, n, "count") &&
                    (r = get_uint(doc, map_get(doc, n, "count"), "count", FERRY_MIG_MAX_INSTANCES,
                                  &count)) < 0)
                        return r;
                if (placed && count != 1)
                        return PERR(doc, n, "an instance with a start must have count 1");
                if (map_get(doc, n, "in_use") &&
                    (r = get_bool(doc, map_get(doc, n, "in_use"), "in_use", &in_use)) < 0)
                        return r;
                for (unsigned long k = 0; k < count; k++) {
                        if (gpu->current.n >= FERRY_MIG_MAX_INSTANCES)
                                return PERR(doc, n, "too many instances on one GPU");
                        gpu->current.inst[gpu->current.n++] = (struct ferry_mig_instance){
                            .profile = (uint8_t)p,
                            .start = placed ? (int8_t)start : -1,
                            .in_use = in_use,
                        };
                }
        }
        return 0;
}

static int parse_gpu(struct doc *doc, yaml_node_t *n, struct ferry_mig_gpu *gpu,
                     unsigned long *count)
{
        static const char *const keys[] = {"model", "index",     "count", "mig",
                                           "busy",  "instances", NULL};
        ferry_error_t e;
        int r;

        if (n->type != YAML_MAPPING_NODE)
                return PERR(doc, n, "a GPU must be a mapping with a model");
        if ((r = check_keys(doc, n, "a GPU", keys)) < 0)
                return r;
        yaml_node_t *mn = map_get(doc, n, "model");
        const char *model = scalar(mn);
        if (!model)
                return PERR(doc, n, "GPU without a model");
        gpu->geom = ferry_mig_geometry_find(model);
        if (!gpu->geom) {
                char list[256];
                known_models(list, sizeof(list));
                return PERR(doc, mn, "unknown GPU model '%s' (known: %s)", model, list);
        }
        gpu->current.mig = true;
        *count = 1;
        if (map_get(doc, n, "count") && (r = get_uint(doc, map_get(doc, n, "count"), "count",
                                                      FERRY_MIG_MAX_GPUS_PER_NODE, count)) < 0)
                return r;
        if (map_get(doc, n, "mig") &&
            (r = get_bool(doc, map_get(doc, n, "mig"), "mig", &gpu->current.mig)) < 0)
                return r;
        if (map_get(doc, n, "busy") &&
            (r = get_bool(doc, map_get(doc, n, "busy"), "busy", &gpu->busy)) < 0)
                return r;
        if (gpu->busy && gpu->current.mig)
                return PERR(doc, n,
                            "busy applies to a GPU with mig: false; mark MIG "
                            "instances with in_use instead");
        yaml_node_t *in = map_get(doc, n, "instances");
        if (in) {
                if (!gpu->current.mig)
                        return PERR(doc, in, "a GPU with mig: false has no instances");
                if ((r = parse_instances(doc, in, gpu)) < 0)
                        return r;
        }
        if (ferry_mig_layout_place(gpu->geom, &gpu->current, &e) < 0)
                return PERR(doc, n, "%s", e.text);
        return 0;
}

int ferry_mig_inventory_parse(const char *text, size_t len, const char *fname,
                              struct ferry_mig_inventory *ret, ferry_error_t *err)
{
        static const char *const node_keys[] = {"name", "gpus", NULL};
        struct doc doc = {.fname = fname, .err = err};
        struct ferry_mig_inventory inv = {0};
        size_t total = 0;
        int r;

        if (len > FERRY_MIG_FILE_MAX)
                return ferry_errprintf(err, -E2BIG, "%s: file too large", fname);
        if ((r = doc_load(&doc, text, len)) < 0)
                return r;
        yaml_node_t *nodes = top_list(&doc, "nodes");
        if (!nodes) {
                r = PERR(&doc, yaml_document_get_root_node(&doc.d),
                         "expected a 'nodes:' list of nodes with their GPUs");
                goto out;
        }
        size_t nn = (size_t)(nodes->data.sequence.items.top - nodes->data.sequence.items.start);
        inv.nodes = ferry_xcalloc(nn ? nn : 1, sizeof(*inv.nodes));
        for (size_t i = 0; i < nn; i++) {
                yaml_node_t *n = node_at(&doc, nodes->data.sequence.items.start[i]);
                struct ferry_mig_node *nd = &inv.nodes[inv.n_nodes];
                if (n->type != YAML_MAPPING_NODE) {
                        r = PERR(&doc, n, "a node must be a mapping with name and gpus");
                        goto out;
                }
                if ((r = check_keys(&doc, n, "a node", node_keys)) < 0)
                        goto out;
                const char *name = scalar(map_get(&doc, n, "name"));
                if (!name || !*name) {
                        r = PERR(&doc, n, "node without a name");
                        goto out;
                }
                for (size_t k = 0; k < inv.n_nodes; k++)
                        if (strcmp(inv.nodes[k].name, name) == 0) {
                                r = PERR(&doc, n, "node %s is listed twice", name);
                                goto out;
                        }
                nd->name = ferry_xstrdup(name);
                inv.n_nodes++;
                yaml_node_t *gs = map_get(&doc, n, "gpus");
                if (!gs || gs->type != YAML_SEQUENCE_NODE) {
                        r = PERR(&doc, n, "node %s needs a 'gpus:' list", name);
                        goto out;
                }
                size_t cap = 0;
                unsigned next_index = 0;
                for (yaml_node_item_t *it = gs->data.sequence.items.start;
                     it < gs->data.sequence.items.top; it++) {
                        yaml_node_t *gn = node_at(&doc, *it);
                        struct ferry_mig_gpu gpu = {0};
                        unsigned long count, index = next_index;
                        if ((r = parse_gpu(&doc, gn, &gpu, &count)) < 0)
                                goto out;
                        if (map_get(&doc, gn, "index") &&
                            (r = get_uint(&doc, map_get(&doc, gn, "index"), "index",
                                          FERRY_MIG_MAX_GPUS_PER_NODE - 1, &index)) < 0)
                                goto out;
                        if (nd->n_gpus + count > FERRY_MIG_MAX_GPUS_PER_NODE) {
                                r = PERR(&doc, gn, "node %s has more than %d GPUs", name,
                                         FERRY_MIG_MAX_GPUS_PER_NODE);
                                goto out;
                        }
                        total += count;
                        if (total > FERRY_MIG_MAX_GPUS) {
                                r = ferry_errprintf(err, -E2BIG, "%s: more than %d GPUs", fname,
                                                    FERRY_MIG_MAX_GPUS);
                                goto out;
                        }
                        for (unsigned long k = 0; k < count; k++) {
                                for (size_t q = 0; q < nd->n_gpus; q++)
                                        if (nd->gpus[q].index == index + k) {
                                                r = PERR(&doc, gn,
                                                         "node %s: GPU index %lu is used twice",
                                                         name, index + k);
                                                goto out;
                                        }
                                if (nd->n_gpus == cap) {
                                        cap = cap ? 2 * cap : 8;
                                        nd->gpus =
                                            ferry_xrealloc(nd->gpus, cap * sizeof(*nd->gpus));
                                }
                                gpu.index = (unsigned)(index + k);
                                nd->gpus[nd->n_gpus++] = gpu;
                        }
                        next_index = (unsigned)(index + count);
                }
        }
        *ret = inv;
        inv = (struct ferry_mig_inventory){0};
        r = 0;
out:
        ferry_mig_inventory_free(&inv);
        yaml_document_delete(&doc.d);
        return r;
}

/* ---- demand ---- */

static const char *strip_resource_prefix(const char *s)
{
        if (strcasecmp(s, "nvidia.com/gpu") == 0)
                return FERRY_MIG_WHOLE;
        if (strncasecmp(s, "nvidia.com/mig-", 15) == 0)
                return s + 15;
        return s;
}

static bool profile_known(const char *name)
{
        if (strcasecmp(name, FERRY_MIG_WHOLE) == 0)
                return true;
        for (size_t i = 0; ferry_mig_geometry_get(i); i++)
                if (ferry_mig_profile_find(ferry_mig_geometry_get(i), name) >= 0)
                        return true;
        return false;
}

int ferry_mig_demand_parse(const char *text, size_t len, const char *fname,
                           struct ferry_mig_demand *ret, ferry_error_t *err)
{
        static const char *const keys[] = {"profile", "count", "weight", NULL};
        struct doc doc = {.fname = fname, .err = err};
        struct ferry_mig_demand d = {0};
        int r;

        if (len > FERRY_MIG_FILE_MAX)
                return ferry_errprintf(err, -E2BIG, "%s: file too large", fname);
        if ((r = doc_load(&doc, text, len)) < 0)
                return r;
        yaml_node_t *seq = top_list(&doc, "demand");
        if (!seq) {
                r = PERR(&doc, yaml_document_get_root_node(&doc.d),
                         "expected a 'demand:' list of {profile, count, weight}");
                goto out;
        }
        size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
        if (n > FERRY_MIG_MAX_REQUESTS) {
                r = PERR(&doc, seq, "too many demand entries (%zu, limit %d)", n,
                         FERRY_MIG_MAX_REQUESTS);
                goto out;
        }
        d.req = ferry_xcalloc(n ? n : 1, sizeof(*d.req));
        for (size_t i = 0; i < n; i++) {
                yaml_node_t *it = node_at(&doc, seq->data.sequence.items.start[i]);
                struct ferry_mig_request *q = &d.req[d.n];
                unsigned long count;
                if (it->type != YAML_MAPPING_NODE) {
                        r = PERR(&doc, it,
                                 "a demand entry must be a mapping with profile and count");
                        goto out;
                }
                if ((r = check_keys(&doc, it, "a demand entry", keys)) < 0)
                        goto out;
                yaml_node_t *pn = map_get(&doc, it, "profile");
                const char *pname = scalar(pn);
                if (!pname) {
                        r = PERR(&doc, it, "demand entry without a profile");
                        goto out;
                }
                pname = strip_resource_prefix(pname);
                if (!profile_known(pname)) {
                        r = PERR(&doc, pn,
                                 "unknown MIG profile '%s' (profiles look like 1g.10gb or "
                                 "3g.40gb; 'gpu' asks for a whole GPU)",
                                 pname);
                        goto out;
                }
                for (size_t k = 0; k < d.n; k++)
                        if (strcasecmp(d.req[k].profile, pname) == 0) {
                                r = PERR(&doc, pn, "profile %s is listed twice", pname);
                                goto out;
                        }
                if (!map_get(&doc, it, "count")) {
                        r = PERR(&doc, it, "demand for %s without a count", pname);
                        goto out;
                }
                if ((r = get_uint(&doc, map_get(&doc, it, "count"), "count", FERRY_MIG_MAX_COUNT,
                                  &count)) < 0)
                        goto out;
                q->weight = 1000;
                yaml_node_t *wn = map_get(&doc, it, "weight");
                if (wn) {
                        const char *ws = scalar(wn);
                        char *end;
                        double w = ws ? strtod(ws, &end) : NAN;
                        if (!ws || *end || !(w > 0) || w > 1e6) {
                                r = PERR(&doc, wn,
                                         "weight must be a number above 0 and at "
                                         "most 1000000");
                                goto out;
                        }
                        q->weight = (uint32_t)llround(w * 1000);
                        if (q->weight == 0)
                                q->weight = 1;
                }
                snprintf(q->profile, sizeof(q->profile), "%s", pname);
                for (char *c = q->profile; *c; c++)
                        if (*c >= 'A' && *c <= 'Z')
                                *c = (char)(*c - 'A' + 'a');
                q->count = (uint32_t)count;
                q->line = line_of(it);
                d.n++;
        }
        *ret = d;
        d = (struct ferry_mig_demand){0};
        r = 0;
out:
        ferry_mig_demand_free(&d);
        yaml_document_delete(&doc.d);
        return r;
}

int ferry_mig_demand_check(const struct ferry_mig_demand *d, const struct ferry_mig_inventory *inv,
                           const char *fname, ferry_error_t *err)
{
        for (size_t j = 0; j < d->n; j++) {
                const char *name = d->req[j].profile;
                bool offered = strcasecmp(name, FERRY_MIG_WHOLE) == 0;
                for (size_t i = 0; i < inv->n_nodes && !offered; i++)
                        for (size_t k = 0; k < inv->nodes[i].n_gpus && !offered; k++)
                                offered =
                                    ferry_mig_profile_find(inv->nodes[i].gpus[k].geom, name) >= 0;
                if (!offered)
                        return ferry_errprintf(err, -EINVAL,
                                               "%s:%u: no GPU model in the inventory offers "
                                               "profile %s (profile names differ per model: "
                                               "A100-40GB has 1g.5gb where A100-80GB has "
                                               "1g.10gb)",
                                               fname, d->req[j].line, name);
        }
        return 0;
}
