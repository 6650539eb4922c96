/* SPDX-License-Identifier: MIT */
/*
 * The Slurm site configuration: YAML text -> struct slurm_site (job.h).
 * Pure apart from slurm_site_load(), which only reads the file. Every error
 * names the line; unknown keys are errors (a typo must not silently turn a
 * safety switch off).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "backend/slurm/job.h"
#include "backend/slurm/job_internal.h"
#include "common/util.h"

#define SITE_MAX_BYTES (1u << 20)
#define SITE_MAX_LIST 256

struct ctx {
        const char *name;
        yaml_document_t *doc;
        ferry_error_t *err;
};

static int fail(struct ctx *c, const yaml_node_t *n, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct ctx *c, const yaml_node_t *n, int r, const char *fmt, ...)
{
        char msg[FERRY_ERROR_TEXT_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return ferry_errprintf(c->err, r, "%s:%zu: %s", c->name,
                               n ? (size_t)n->start_mark.line + 1 : (size_t)1, msg);
}

static yaml_node_t *node(struct ctx *c, int id)
{
        return yaml_document_get_node(c->doc, id);
}

static int get_str(struct ctx *c, yaml_node_t *n, const char *key, char **ret)
{
        if (n->type != YAML_SCALAR_NODE)
                return fail(c, n, -EINVAL, "%s must be a string", key);
        const char *v = (const char *)n->data.scalar.value;
        if (strlen(v) != n->data.scalar.length)
                return fail(c, n, -EINVAL, "%s contains a NUL byte", key);
        for (const char *p = v; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        return fail(c, n, -EINVAL, "%s contains a control character", key);
        free(*ret);
        *ret = ferry_xstrdup(v);
        return 0;
}

static int get_bool(struct ctx *c, yaml_node_t *n, const char *key, bool *ret)
{
        const char *v = n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : "";
        if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
                *ret = true;
        else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))
                *ret = false;
        else
                return fail(c, n, -EINVAL, "%s must be true or false", key);
        return 0;
}

static int get_int(struct ctx *c, yaml_node_t *n, const char *key, int64_t min, int64_t max,
                   int64_t *ret)
{
        const char *v = n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : "";
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || errno || x < min || x > max)
                return fail(c, n, -EINVAL, "%s must be a whole number from %lld to %lld", key,
                            (long long)min, (long long)max);
        *ret = x;
        return 0;
}

static int get_list(struct ctx *c, yaml_node_t *n, const char *key, char ***ret, size_t *ret_n)
{
        if (n->type != YAML_SEQUENCE_NODE)
                return fail(c, n, -EINVAL, "%s must be a list of strings", key);
        size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        if (cnt > SITE_MAX_LIST)
                return fail(c, n, -E2BIG, "%s has more than %u entries", key, SITE_MAX_LIST);
        char **v = ferry_xcalloc(cnt + 1, sizeof(char *));
        size_t k = 0;
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
                int r = get_str(c, node(c, *it), key, &v[k]);
                if (r < 0) {
                        slurm_strv_free(v, k);
                        return r;
                }
                k++;
        }
        slurm_strv_free(*ret, *ret_n);
        *ret = v;
        *ret_n = k;
        return 0;
}

static int check_flag_item(struct ctx *c, yaml_node_t *n, const char *what, const char *f)
{
        if (f[0] != '-')
                return fail(c, n, -EINVAL, "%s \"%s\" must be an option starting with '-'", what,
                            f);
        const char *reserved = slurm_flag_reserved(f);
        if (reserved)
                return fail(c, n, -EINVAL,
                            "%s \"%s\" is reserved: a pod may never set --%s (ferryd sets it, "
                            "or it would break one job per pod)",
                            what, f, reserved);
        return 0;
}

static int parse_flavor(struct ctx *c, yaml_node_t *kn, yaml_node_t *vn, struct slurm_flavor *f)
{
        int r;

        f->uid = -1;
        f->max_time_s = -1;
        if (get_str(c, kn, "flavor name", &f->name) < 0)
                return -EINVAL;
        if (!*f->name || strspn(f->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789._-") != strlen(f->name))
                return fail(c, kn, -EINVAL,
                            "flavor name \"%s\" may only use letters, digits, '.', '_' and '-'",
                            f->name);
        if (vn->type == YAML_SCALAR_NODE && !*vn->data.scalar.value)
                return 0; /* "name:" with nothing: a flavor without choices */
        if (vn->type != YAML_MAPPING_NODE)
                return fail(c, vn, -EINVAL, "flavor \"%s\" must be a mapping", f->name);
        for (yaml_node_pair_t *p = vn->data.mapping.pairs.start; p < vn->data.mapping.pairs.top;
             p++) {
                yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
                const char *key =
                    k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
                if (!strcmp(key, "partition"))
                        r = get_str(c, v, key, &f->partition);
                else if (!strcmp(key, "account"))
                        r = get_str(c, v, key, &f->account);
                else if (!strcmp(key, "qos"))
                        r = get_str(c, v, key, &f->qos);
                else if (!strcmp(key, "for_gpu"))
                        r = get_bool(c, v, key, &f->for_gpu);
                else if (!strcmp(key, "uid")) {
                        r = get_int(c, v, key, 1, INT32_MAX, &f->uid);
                } else if (!strcmp(key, "max_time")) {
                        _cleanup_free_ char *t = NULL;
                        r = get_str(c, v, key, &t);
                        if (r == 0 &&
                            (slurm_time_parse(t, &f->max_time_s) < 0 || f->max_time_s <= 0))
                                r = fail(c, v, -EINVAL,
                                         "max_time \"%s\" is not a Slurm time limit (minutes, "
                                         "[D-]HH:MM:SS, D-HH, ...)",
                                         t);
                } else if (!strcmp(key, "extra_flags")) {
                        r = get_list(c, v, key, &f->extra_flags, &f->n_extra_flags);
                        for (size_t i = 0; r == 0 && i < f->n_extra_flags; i++)
                                r = check_flag_item(c, v, "extra flag", f->extra_flags[i]);
                } else
                        r = fail(c, k, -EINVAL,
                                 "unknown key \"%s\" in flavor \"%s\" (known: partition, account, "
                                 "qos, for_gpu, uid, max_time, extra_flags)",
                                 key, f->name);
                if (r < 0)
                        return r;
        }
        /* the values become argv items "--partition=<v>": keep them plain */
        const char *vals[] = {f->partition, f->account, f->qos};
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(vals); i++)
                if (vals[i] && (!*vals[i] || strpbrk(vals[i], " \t'\"`$\\,")))
                        return fail(c, vn, -EINVAL,
                                    "flavor \"%s\": \"%s\" must be a plain non-empty word", f->name,
                                    vals[i]);
        return 0;
}

/* tenant_accounts: {NAMESPACE: ACCOUNT, "*": ACCOUNT} */
static int parse_accounts(struct ctx *c, yaml_node_t *v, struct slurm_site *s)
{
        int r;
        if (v->type != YAML_MAPPING_NODE)
                return fail(c, v, -EINVAL,
                            "tenant_accounts must be a mapping of namespace (or \"*\") to a "
                            "Slurm account");
        slurm_strv_free(s->acct_ns, s->n_acct);
        slurm_strv_free(s->acct, s->n_acct);
        size_t cnt = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
        if (cnt > SITE_MAX_LIST)
                return fail(c, v, -E2BIG, "tenant_accounts has more than %u entries",
                            SITE_MAX_LIST);
        s->acct_ns = ferry_xcalloc(cnt + 1, sizeof(char *));
        s->acct = ferry_xcalloc(cnt + 1, sizeof(char *));
        s->n_acct = 0;
        for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
             p++) {
                yaml_node_t *kn = node(c, p->key), *vn = node(c, p->value);
                size_t i = s->n_acct;
                if ((r = get_str(c, kn, "tenant_accounts key", &s->acct_ns[i])) < 0 ||
                    (r = get_str(c, vn, "tenant_accounts value", &s->acct[i])) < 0)
                        return r;
                s->n_acct++;
                if (strcmp(s->acct_ns[i], "*") != 0 && !ferry_is_dns_label(s->acct_ns[i]))
                        return fail(c, kn, -EINVAL,
                                    "tenant_accounts: \"%s\" is not a namespace (or \"*\")",
                                    s->acct_ns[i]);
                if (!*s->acct[i] || strpbrk(s->acct[i], " \t'\"`$\\,="))
                        return fail(c, vn, -EINVAL,
                                    "tenant_accounts: account \"%s\" must be a plain non-empty "
                                    "word",
                                    s->acct[i]);
                for (size_t j = 0; j < i; j++)
                        if (!strcmp(s->acct_ns[j], s->acct_ns[i]))
                                return fail(c, kn, -EINVAL,
                                            "tenant_accounts: \"%s\" is listed twice",
                                            s->acct_ns[i]);
        }
        return 0;
}

const char *slurm_site_tenant_account(const struct slurm_site *s, const char *ns)
{
        const char *star = NULL;
        for (size_t i = 0; i < s->n_acct; i++) {
                if (!strcmp(s->acct_ns[i], ns))
                        return s->acct[i];
                if (!strcmp(s->acct_ns[i], "*"))
                        star = s->acct[i];
        }
        return star;
}

static int parse_gres(struct ctx *c, yaml_node_t *kn, yaml_node_t *vn, struct slurm_gres_map *g)
{
        int r;

        g->max_per_job = -1;
        if ((r = get_str(c, kn, "gres resource", &g->resource)) < 0)
                return r;
        if (!strchr(g->resource, '/'))
                return fail(c, kn, -EINVAL,
                            "gres resource \"%s\" must be a Kubernetes extended resource such as "
                            "nvidia.com/gpu",
                            g->resource);
        if (vn->type == YAML_SCALAR_NODE) {
                r = get_str(c, vn, "gres", &g->gres);
        } else if (vn->type == YAML_MAPPING_NODE) {
                for (yaml_node_pair_t *p = vn->data.mapping.pairs.start;
                     p < vn->data.mapping.pairs.top; p++) {
                        yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
                        const char *key =
                            k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
                        if (!strcmp(key, "gres"))
                                r = get_str(c, v, key, &g->gres);
                        else if (!strcmp(key, "max_per_job"))
                                r = get_int(c, v, key, 0, 1 << 20, &g->max_per_job);
                        else
                                r = fail(c, k, -EINVAL,
                                         "unknown key \"%s\" for gres \"%s\" (known: gres, "
                                         "max_per_job)",
                                         key, g->resource);
                        if (r < 0)
                                return r;
                }
        } else
                r = fail(c, vn, -EINVAL, "gres \"%s\" must be a string or a mapping", g->resource);
        if (r < 0)
                return r;
        if (!g->gres || !*g->gres ||
            strspn(g->gres, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") !=
                strlen(g->gres))
                return fail(c, vn, -EINVAL,
                            "gres for \"%s\" must be a Slurm GRES name such as gpu or gpu:a100",
                            g->resource);
        return 0;
}

static int parse_root(struct ctx *c, yaml_node_t *root, struct slurm_site *s)
{
        int r = 0;

        if (!root || root->type != YAML_MAPPING_NODE)
                return fail(c, root, -EINVAL, "the site config must be a mapping of keys");
        for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
             p++) {
                yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
                const char *key =
                    k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
                if (!strcmp(key, "workdir_root"))
                        r = get_str(c, v, key, &s->workdir_root);
                else if (!strcmp(key, "shim_path"))
                        r = get_str(c, v, key, &s->shim_path);
                else if (!strcmp(key, "runtime")) {
                        r = get_str(c, v, key, &s->runtime);
                        enum runner_runtime_kind kind;
                        if (r == 0 && (runner_runtime_parse(s->runtime, &kind) < 0 || !*s->runtime))
                                r = fail(c, v, -EINVAL,
                                         "unknown runtime \"%s\" (use apptainer, singularity, "
                                         "enroot, bwrap or host)",
                                         s->runtime);
                } else if (!strcmp(key, "runtime_path"))
                        r = get_str(c, v, key, &s->runtime_path);
                else if (!strcmp(key, "image_root"))
                        r = get_str(c, v, key, &s->image_root);
                else if (!strcmp(key, "default_flavor"))
                        r = get_str(c, v, key, &s->default_flavor);
                else if (!strcmp(key, "flavors")) {
                        if (v->type != YAML_MAPPING_NODE) {
                                r = fail(c, v, -EINVAL,
                                         "flavors must be a mapping of flavor name -> choices");
                                break;
                        }
                        for (yaml_node_pair_t *q = v->data.mapping.pairs.start;
                             r == 0 && q < v->data.mapping.pairs.top; q++) {
                                if (s->n_flavors >= SITE_MAX_LIST) {
                                        r = fail(c, v, -E2BIG, "too many flavors");
                                        break;
                                }
                                s->flavors = ferry_xrealloc(s->flavors, (s->n_flavors + 1) *
                                                                            sizeof(*s->flavors));
                                memset(&s->flavors[s->n_flavors], 0, sizeof(*s->flavors));
                                r = parse_flavor(c, node(c, q->key), node(c, q->value),
                                                 &s->flavors[s->n_flavors++]);
                                for (size_t i = 0; r == 0 && i + 1 < s->n_flavors; i++)
                                        if (!strcmp(s->flavors[i].name,
                                                    s->flavors[s->n_flavors - 1].name))
                                                r = fail(c, node(c, q->key), -EINVAL,
                                                         "flavor \"%s\" is defined twice",
                                                         s->flavors[i].name);
                        }
                } else if (!strcmp(key, "gres")) {
                        if (v->type != YAML_MAPPING_NODE) {
                                r = fail(c, v, -EINVAL,
                                         "gres must be a mapping of Kubernetes resource -> GRES");
                                break;
                        }
                        for (yaml_node_pair_t *q = v->data.mapping.pairs.start;
                             r == 0 && q < v->data.mapping.pairs.top; q++) {
                                if (s->n_gres >= SITE_MAX_LIST) {
                                        r = fail(c, v, -E2BIG, "too many gres entries");
                                        break;
                                }
                                s->gres =
                                    ferry_xrealloc(s->gres, (s->n_gres + 1) * sizeof(*s->gres));
                                memset(&s->gres[s->n_gres], 0, sizeof(*s->gres));
                                r = parse_gres(c, node(c, q->key), node(c, q->value),
                                               &s->gres[s->n_gres++]);
                        }
                } else if (!strcmp(key, "allowed_flags")) {
                        r = get_list(c, v, key, &s->allowed_flags, &s->n_allowed_flags);
                        for (size_t i = 0; r == 0 && i < s->n_allowed_flags; i++) {
                                const char *f = s->allowed_flags[i];
                                if (f[0] != '-' || strchr(f, '=') || !f[1] ||
                                    (f[1] != '-' && f[2]) || (f[1] == '-' && !f[2]))
                                        r = fail(c, v, -EINVAL,
                                                 "allowed flag \"%s\" must be an option name "
                                                 "such as --time or -p (no value)",
                                                 f);
                                else
                                        r = check_flag_item(c, v, "allowed flag", f);
                        }
                } else if (!strcmp(key, "allowed_runtime_options") ||
                           !strcmp(key, "allowed_singularity_options")) {
                        r = get_list(c, v, key, &s->allowed_runtime_options,
                                     &s->n_allowed_runtime_options);
                        for (size_t i = 0; r == 0 && i < s->n_allowed_runtime_options; i++)
                                if (s->allowed_runtime_options[i][0] != '-' ||
                                    strchr(s->allowed_runtime_options[i], '='))
                                        r = fail(c, v, -EINVAL,
                                                 "allowed runtime option \"%s\" must be an "
                                                 "option name such as --writable-tmpfs",
                                                 s->allowed_runtime_options[i]);
                } else if (!strcmp(key, "allowed_mount_roots")) {
                        r = get_list(c, v, key, &s->allowed_mount_roots, &s->n_allowed_mount_roots);
                        for (size_t i = 0; r == 0 && i < s->n_allowed_mount_roots; i++)
                                if (!slurm_abs_path_ok(s->allowed_mount_roots[i]))
                                        r = fail(c, v, -EINVAL,
                                                 "allowed mount root \"%s\" must be an absolute "
                                                 "path without \"..\"",
                                                 s->allowed_mount_roots[i]);
                } else if (!strcmp(key, "allowed_image_roots"))
                        r = get_list(c, v, key, &s->allowed_image_roots, &s->n_allowed_image_roots);
                else if (!strcmp(key, "allow_pre_exec"))
                        r = get_bool(c, v, key, &s->allow_pre_exec);
                else if (!strcmp(key, "uid_policy")) {
                        r = get_str(c, v, key, &s->uid_policy);
                        if (r == 0 && strcmp(s->uid_policy, "fixed") &&
                            strcmp(s->uid_policy, "pod"))
                                r = fail(c, v, -EINVAL,
                                         "uid_policy must be fixed or pod, not \"%s\"",
                                         s->uid_policy);
                } else if (!strcmp(key, "pod_user") || !strcmp(key, "tenant_users") ||
                           !strcmp(key, "allowed_ids") || !strcmp(key, "root_namespaces")) {
                        static const char *const names[] = {"pod_user", "tenant_users",
                                                            "allowed_ids", "root_namespaces"};
                        for (size_t ni = 0; ni < FERRY_ARRAY_SIZE(names); ni++)
                                if (!strcmp(key, names[ni]))
                                        r = get_str(c, v, key, &s->podsec_opt[ni]);
                } else if (!strcmp(key, "tenant_accounts")) {
                        r = parse_accounts(c, v, s);
                } else if (!strcmp(key, "default_uid"))
                        r = get_int(c, v, key, 1, INT32_MAX, &s->default_uid);
                else if (!strcmp(key, "default_cpu")) {
                        const char *q =
                            v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : "";
                        if (ferry_quantity_milli(q, &s->default_cpu_milli) < 0 ||
                            s->default_cpu_milli <= 0)
                                r = fail(c, v, -EINVAL,
                                         "default_cpu must be a positive Kubernetes quantity such "
                                         "as 1 or 500m");
                } else if (!strcmp(key, "default_memory")) {
                        const char *q =
                            v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : "";
                        if (ferry_quantity_bytes(q, &s->default_memory_bytes) < 0 ||
                            s->default_memory_bytes <= 0)
                                r = fail(c, v, -EINVAL,
                                         "default_memory must be a positive Kubernetes quantity "
                                         "such as 2Gi");
                } else
                        r = fail(c, k, -EINVAL,
                                 "unknown key \"%s\" (see doc/slurm-backend.md for the site keys)",
                                 key);
                if (r < 0)
                        return r;
        }

        /* what the keys say together */
        if (!s->workdir_root || !slurm_abs_path_ok(s->workdir_root) ||
            strpbrk(s->workdir_root, "%\\"))
                return fail(c, root, -EINVAL,
                            "workdir_root must be set to an absolute path on the shared file "
                            "system, without \"..\", '%%' or '\\' (sbatch expands those in "
                            "--output)");
        if (!s->shim_path || !slurm_abs_path_ok(s->shim_path))
                return fail(c, root, -EINVAL,
                            "shim_path must be set to the absolute path of ferry-shim on the "
                            "compute nodes");
        if (!s->runtime)
                s->runtime = ferry_xstrdup("apptainer");
        if (!s->uid_policy)
                s->uid_policy = ferry_xstrdup("fixed");
        struct ferry_podsec_options po = {s->podsec_opt[0], s->podsec_opt[1], s->podsec_opt[2],
                                          s->podsec_opt[3], NULL};
        ferry_error_t perr = {{0}};
        if (ferry_podsec_parse(&s->podsec, &po, &perr) < 0)
                return fail(c, root, -EINVAL, "%s", perr.text);
        if (s->default_flavor) {
                bool found = false;
                for (size_t i = 0; i < s->n_flavors && !found; i++)
                        found = !strcmp(s->flavors[i].name, s->default_flavor);
                if (!found)
                        return fail(c, root, -EINVAL, "default_flavor \"%s\" is not a flavor",
                                    s->default_flavor);
        }
        return 0;
}

static int site_parse(const char *name, const char *yaml, size_t len, struct slurm_site **ret,
                      ferry_error_t *err)
{
        yaml_parser_t p;
        yaml_document_t doc;
        struct ctx c = {.name = name, .doc = &doc, .err = err};
        int r;

        if (len > SITE_MAX_BYTES)
                return ferry_errprintf(err, -E2BIG, "%s: larger than %u bytes", name,
                                       SITE_MAX_BYTES);
        yaml_parser_initialize(&p);
        yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
        if (!yaml_parser_load(&p, &doc)) {
                r = ferry_errprintf(err, -EINVAL, "%s:%zu: %s", name, p.problem_mark.line + 1,
                                    p.problem ? p.problem : "YAML syntax error");
                yaml_parser_delete(&p);
                return r;
        }
        struct slurm_site *s = ferry_xcalloc(1, sizeof(*s));
        s->default_uid = -1;
        s->default_cpu_milli = -1;
        s->default_memory_bytes = -1;
        r = parse_root(&c, yaml_document_get_root_node(&doc), s);
        yaml_document_delete(&doc);
        yaml_parser_delete(&p);
        if (r < 0) {
                slurm_site_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

int slurm_site_parse(const char *yaml, size_t len, struct slurm_site **ret, ferry_error_t *err)
{
        return site_parse("site config", yaml, len, ret, err);
}

int slurm_site_load(const char *path, struct slurm_site **ret, ferry_error_t *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = ferry_read_file(path, SITE_MAX_BYTES, &text, &len);
        if (r < 0)
                return ferry_errprintf(err, r, "%s: cannot read: %s", path, strerror(-r));
        return site_parse(path, text, len, ret, err);
}

void slurm_site_free(struct slurm_site *s)
{
        if (!s)
                return;
        free(s->workdir_root);
        free(s->shim_path);
        free(s->runtime);
        for (size_t i = 0; i < s->n_flavors; i++) {
                struct slurm_flavor *f = &s->flavors[i];
                free(f->name);
                free(f->partition);
                free(f->account);
                free(f->qos);
                slurm_strv_free(f->extra_flags, f->n_extra_flags);
        }
        free(s->flavors);
        free(s->default_flavor);
        for (size_t i = 0; i < s->n_gres; i++) {
                free(s->gres[i].resource);
                free(s->gres[i].gres);
        }
        free(s->gres);
        slurm_strv_free(s->allowed_flags, s->n_allowed_flags);
        slurm_strv_free(s->acct_ns, s->n_acct);
        slurm_strv_free(s->acct, s->n_acct);
        free(s->uid_policy);
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(s->podsec_opt); i++)
                free(s->podsec_opt[i]);
        ferry_podsec_clear(&s->podsec);
        free(s->runtime_path);
        free(s->image_root);
        slurm_strv_free(s->allowed_runtime_options, s->n_allowed_runtime_options);
        slurm_strv_free(s->allowed_mount_roots, s->n_allowed_mount_roots);
        slurm_strv_free(s->allowed_image_roots, s->n_allowed_image_roots);
        free(s);
}
