/* SPDX-License-Identifier: MIT */
#include "pod.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <string.h>

#include "common/base64.h"
#include "common/util.h"

const struct ferry_limits ferry_default_limits = {
    .max_body = 4 << 20,
    /* a virtual kubelet sends every live pod as a whole object, ~2-3 KB each:
     * 64 MiB is about 20,000 of them (the body is scanned, not parsed) */
    .max_status_body = 64 << 20,
    .max_json_depth = 64,
    .max_containers = 64,
    .max_env = 1024,
    .max_env_bytes = 256 << 10,
    .max_args = 4096,
    .max_volumes = 256,
    .max_objects = 256,
    .max_object_bytes = 3 << 20,
    .max_annotations = 512,
    .max_status_batch = 100000,
    .max_log_tail = 1000000,
};

/* Parsing context: limits and the error sink. */
struct pctx {
        const struct ferry_limits *lim;
        ferry_error_t *err;
        size_t object_bytes;
};

static int check_depth(const char *s, size_t len, size_t max, ferry_error_t *err)
{
        size_t depth = 0, line = 1, col = 0;
        bool in_str = false;

        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                col++;
                if (c == '\n') {
                        line++;
                        col = 0;
                }
                if (in_str) {
                        if (c == '\\')
                                i++, col++;
                        else if (c == '"')
                                in_str = false;
                        continue;
                }
                if (c == '"')
                        in_str = true;
                else if (c == '[' || c == '{') {
                        if (++depth > max)
                                return ferry_errprintf(
                                    err, -E2BIG,
                                    "JSON nesting deeper than %zu levels at line %zu, column %zu",
                                    max, line, col);
                } else if ((c == ']' || c == '}') && depth > 0)
                        depth--;
        }
        return 0;
}

/* A string field that must be a string when present. */
static int get_str(struct pctx *c, json_t *o, const char *key, const char *where, bool required,
                   char **ret)
{
        json_t *v = json_object_get(o, key);
        if (!v || json_is_null(v)) {
                if (required)
                        return ferry_errprintf(c->err, -EINVAL, "%s: missing \"%s\"", where, key);
                *ret = NULL;
                return 0;
        }
        if (!json_is_string(v))
                return ferry_errprintf(c->err, -EINVAL, "%s: \"%s\" must be a string", where, key);
        *ret = ferry_xstrdup(json_string_value(v));
        return 0;
}

/* Arrays may be null (Go's empty slice) or absent. */
static int get_array(struct pctx *c, json_t *o, const char *key, const char *where, json_t **ret)
{
        json_t *v = json_object_get(o, key);
        *ret = NULL;
        if (!v || json_is_null(v)) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_array(v))
                return ferry_errprintf(c->err, -EINVAL, "%s: \"%s\" must be an array", where, key);
        *ret = v;
        return 0;
}

static int get_obj(struct pctx *c, json_t *o, const char *key, const char *where, json_t **ret)
{
        json_t *v = json_object_get(o, key);
        *ret = NULL;
        if (!v || json_is_null(v)) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_object(v))
                return ferry_errprintf(c->err, -EINVAL, "%s: \"%s\" must be an object", where, key);
        *ret = v;
        return 0;
}

static int get_int(struct pctx *c, json_t *o, const char *key, const char *where, int64_t def,
                   int64_t *ret)
{
        json_t *v = json_object_get(o, key);
        if (!v || json_is_null(v)) {
                *ret = def;
                return 0;
        }
        if (!json_is_integer(v))
                return ferry_errprintf(c->err, -EINVAL, "%s: \"%s\" must be an integer", where,
                                       key);
        *ret = json_integer_value(v);
        return 0;
}

/* securityContext ids (runAsUser, runAsGroup, and fsGroup where ret_fs is
 * given): -1 when unset, else 0..2^32-2. */
static int parse_ids(struct pctx *c, json_t *sc, const char *where, int64_t *ret_user,
                     int64_t *ret_group, int64_t *ret_fs)
{
        static const char *const keys[] = {"runAsUser", "runAsGroup", "fsGroup"};
        int64_t *rets[] = {ret_user, ret_group, ret_fs};
        int r;

        for (size_t i = 0; i < FERRY_ARRAY_SIZE(keys); i++) {
                if (!rets[i])
                        continue;
                *rets[i] = -1;
                if (!json_is_object(sc))
                        continue;
                if ((r = get_int(c, sc, keys[i], where, -1, rets[i])) < 0)
                        return r;
                if (json_object_get(sc, keys[i]) && !json_is_null(json_object_get(sc, keys[i])) &&
                    (*rets[i] < 0 || *rets[i] > 4294967294LL))
                        return ferry_errprintf(c->err, -EINVAL,
                                               "%s: %s must be 0..4294967294, not %lld", where,
                                               keys[i], (long long)*rets[i]);
        }
        return 0;
}

static int parse_str_array(struct pctx *c, json_t *o, const char *key, const char *where,
                           char ***ret, size_t *ret_n)
{
        json_t *a;
        int r = get_array(c, o, key, where, &a);
        if (r < 0)
                return r;
        *ret = NULL;
        *ret_n = 0;
        if (!a)
                return 0;
        size_t n = json_array_size(a);
        if (n > c->lim->max_args)
                return ferry_errprintf(c->err, -E2BIG,
                                       "%s: \"%s\" has %zu entries, the limit is %zu", where, key,
                                       n, c->lim->max_args);
        char **v = ferry_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
                json_t *e = json_array_get(a, i);
                if (!json_is_string(e)) {
                        for (size_t j = 0; j < i; j++)
                                free(v[j]);
                        free(v);
                        return ferry_errprintf(c->err, -EINVAL, "%s: \"%s\"[%zu] must be a string",
                                               where, key, i);
                }
                v[i] = ferry_xstrdup(json_string_value(e));
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static int parse_kv_map(struct pctx *c, json_t *o, const char *key, const char *where,
                        struct ferry_kv **ret, size_t *ret_n)
{
        json_t *m;
        int r = get_obj(c, o, key, where, &m);
        const char *k;
        json_t *v;
        size_t i = 0;

        *ret = NULL;
        *ret_n = 0;
        if (r < 0 || !m)
                return r;
        if (json_object_size(m) > c->lim->max_annotations)
                return ferry_errprintf(c->err, -E2BIG, "%s: more than %zu %s", where,
                                       c->lim->max_annotations, key);
        struct ferry_kv *kv = ferry_xcalloc(json_object_size(m), sizeof(*kv));
        json_object_foreach(m, k, v)
        {
                if (!json_is_string(v)) {
                        for (size_t j = 0; j < i; j++) {
                                free(kv[j].key);
                                free(kv[j].value);
                        }
                        free(kv);
                        return ferry_errprintf(c->err, -EINVAL, "%s: %s[\"%s\"] must be a string",
                                               where, key, k);
                }
                kv[i].key = ferry_xstrdup(k);
                kv[i].value = ferry_xstrdup(json_string_value(v));
                i++;
        }
        *ret = kv;
        *ret_n = i;
        return 0;
}

/* ---- quantities ---- */
static int parse_number(const char *s, long double *ret, const char **rest)
{
        char *end;
        errno = 0;
        if (!s || !*s || isspace((unsigned char)*s))
                return -EINVAL;
        long double v = strtold(s, &end);
        if (end == s || errno)
                return -EINVAL;
        if (v < 0)
                return -EINVAL;
        *ret = v;
        *rest = end;
        return 0;
}

int ferry_quantity_milli(const char *s, int64_t *ret_milli)
{
        long double v;
        const char *rest;
        if (parse_number(s, &v, &rest) < 0)
                return -EINVAL;
        long double mul;
        if (!strcmp(rest, ""))
                mul = 1000;
        else if (!strcmp(rest, "m"))
                mul = 1;
        else if (!strcmp(rest, "k"))
                mul = 1000 * 1000.0L;
        else
                return -EINVAL;
        v = v * mul;
        if (v > (long double)INT64_MAX / 2)
                return -EINVAL;
        *ret_milli = (int64_t)(v + 0.999999L); /* round up, as Kubernetes does */
        return 0;
}

int ferry_quantity_bytes(const char *s, int64_t *ret_bytes)
{
        static const struct {
                const char *sfx;
                long double mul;
        } sfx[] = {
            {"", 1},
            {"k", 1e3},
            {"M", 1e6},
            {"G", 1e9},
            {"T", 1e12},
            {"P", 1e15},
            {"E", 1e18},
            {"Ki", 1024.0L},
            {"Mi", 1048576.0L},
            {"Gi", 1073741824.0L},
            {"Ti", 1099511627776.0L},
            {"Pi", 1125899906842624.0L},
            {"Ei", 1152921504606846976.0L},
            {"m", 1e-3},
        };
        long double v;
        const char *rest;
        if (parse_number(s, &v, &rest) < 0)
                return -EINVAL;
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(sfx); i++) {
                if (strcmp(rest, sfx[i].sfx) == 0) {
                        v *= sfx[i].mul;
                        if (v > (long double)INT64_MAX / 2)
                                return -EINVAL;
                        *ret_bytes = (int64_t)(v + 0.999999L);
                        return 0;
                }
        }
        return -EINVAL;
}

/* ---- resources ---- */
static int parse_resources(struct pctx *c, json_t *o, const char *where, struct ferry_resources *r)
{
        const char *k;
        json_t *v;

        r->cpu_milli = r->memory_bytes = r->gpus = r->ephemeral_bytes = -1;
        r->n_extended = 0;
        r->extended = NULL;
        if (!o)
                return 0;
        if (!json_is_object(o))
                return ferry_errprintf(c->err, -EINVAL, "%s must be an object", where);
        if (json_object_size(o) > 64)
                return ferry_errprintf(c->err, -E2BIG, "%s: too many resources", where);
        r->extended = ferry_xcalloc(json_object_size(o), sizeof(*r->extended));
        json_object_foreach(o, k, v)
        {
                const char *s = NULL;
                char num[64];
                if (json_is_string(v))
                        s = json_string_value(v);
                else if (json_is_number(v)) {
                        snprintf(num, sizeof(num), "%.17g", json_number_value(v));
                        s = num;
                } else
                        return ferry_errprintf(c->err, -EINVAL,
                                               "%s[\"%s\"] must be a quantity string", where, k);
                int64_t q;
                if (!strcmp(k, "cpu")) {
                        if (ferry_quantity_milli(s, &q) < 0)
                                return ferry_errprintf(
                                    c->err, -EINVAL, "%s: cpu \"%s\" is not a Kubernetes quantity",
                                    where, s);
                        r->cpu_milli = q;
                } else if (!strcmp(k, "memory") || !strcmp(k, "ephemeral-storage")) {
                        if (ferry_quantity_bytes(s, &q) < 0)
                                return ferry_errprintf(c->err, -EINVAL,
                                                       "%s: %s \"%s\" is not a Kubernetes quantity",
                                                       where, k, s);
                        if (!strcmp(k, "memory"))
                                r->memory_bytes = q;
                        else
                                r->ephemeral_bytes = q;
                } else {
                        if (ferry_quantity_milli(s, &q) < 0 || q % 1000 != 0)
                                return ferry_errprintf(c->err, -EINVAL,
                                                       "%s: %s \"%s\" must be a whole number",
                                                       where, k, s);
                        if (!strcmp(k, "nvidia.com/gpu"))
                                r->gpus = q / 1000;
                        else {
                                r->extended[r->n_extended].name = ferry_xstrdup(k);
                                r->extended[r->n_extended].count = q / 1000;
                                r->n_extended++;
                        }
                }
        }
        return 0;
}

static bool safe_abs_path(const char *p)
{
        if (!p || p[0] != '/' || strlen(p) > 1024)
                return false;
        /* no ".." components, no control characters */
        for (const char *s = p; *s; s++)
                if ((unsigned char)*s < 0x20)
                        return false;
        const char *s = p;
        while ((s = strstr(s, "..")) != NULL) {
                bool start = s == p || s[-1] == '/';
                bool end = s[2] == '\0' || s[2] == '/';
                if (start && end)
                        return false;
                s += 2;
        }
        return true;
}

static int parse_container(struct pctx *c, json_t *o, bool is_init, size_t idx,
                           struct ferry_container *ct)
{
        char where[160];
        json_t *a;
        int r;

        memset(ct, 0, sizeof(*ct));
        ct->is_init = is_init;
        if (!json_is_object(o))
                return ferry_errprintf(c->err, -EINVAL, "spec.%s[%zu] must be an object",
                                       is_init ? "initContainers" : "containers", idx);
        snprintf(where, sizeof(where), "spec.%s[%zu]", is_init ? "initContainers" : "containers",
                 idx);
        if ((r = get_str(c, o, "name", where, true, &ct->name)) < 0)
                return r;
        if (!ferry_is_dns_label(ct->name))
                return ferry_errprintf(c->err, -EINVAL,
                                       "%s: container name \"%.64s\" is not a DNS label (lowercase "
                                       "letters, digits, '-', at most 63)",
                                       where, ct->name);
        snprintf(where, sizeof(where), "container \"%s\"", ct->name);
        if ((r = get_str(c, o, "image", where, false, &ct->image)) < 0 ||
            (r = get_str(c, o, "workingDir", where, false, &ct->working_dir)) < 0 ||
            (r = parse_str_array(c, o, "command", where, &ct->command, &ct->n_command)) < 0 ||
            (r = parse_str_array(c, o, "args", where, &ct->args, &ct->n_args)) < 0)
                return r;
        if (ct->working_dir && ct->working_dir[0] && !safe_abs_path(ct->working_dir))
                return ferry_errprintf(c->err, -EINVAL, "%s: workingDir must be an absolute path",
                                       where);
        char scw[200];
        snprintf(scw, sizeof(scw), "%s: securityContext", where);
        if ((r = parse_ids(c, json_object_get(o, "securityContext"), scw, &ct->run_as_user,
                           &ct->run_as_group, NULL)) < 0)
                return r;
        if ((r = ferry_probes_parse(o, where, &ct->probes, c->err)) < 0)
                return r;
        json_t *sc = json_object_get(o, "securityContext");
        ct->read_only_root =
            json_is_object(sc) && json_is_true(json_object_get(sc, "readOnlyRootFilesystem"));
        if (is_init && ferry_probes_any(&ct->probes))
                return ferry_errprintf(c->err, -EINVAL,
                                       "%s: an init container may not have probes or lifecycle "
                                       "hooks",
                                       where);

        if ((r = get_array(c, o, "env", where, &a)) < 0)
                return r;
        if (a) {
                size_t n = json_array_size(a), bytes = 0;
                if (n > c->lim->max_env)
                        return ferry_errprintf(c->err, -E2BIG,
                                               "%s: %zu env entries, the limit is %zu", where, n,
                                               c->lim->max_env);
                ct->env = ferry_xcalloc(n, sizeof(*ct->env));
                for (size_t i = 0; i < n; i++) {
                        json_t *e = json_array_get(a, i);
                        if (!json_is_object(e))
                                return ferry_errprintf(c->err, -EINVAL,
                                                       "%s: env[%zu] must be an object", where, i);
                        struct ferry_env *ev = &ct->env[ct->n_env++];
                        if ((r = get_str(c, e, "name", where, true, &ev->name)) < 0 ||
                            (r = get_str(c, e, "value", where, false, &ev->value)) < 0)
                                return r;
                        if (!ev->value)
                                ev->value = ferry_xstrdup("");
                        if (!ev->name[0] || strchr(ev->name, '='))
                                return ferry_errprintf(
                                    c->err, -EINVAL, "%s: env[%zu] has an invalid name", where, i);
                        bytes += strlen(ev->name) + strlen(ev->value) + 2;
                        if (bytes > c->lim->max_env_bytes)
                                return ferry_errprintf(c->err, -E2BIG,
                                                       "%s: environment larger than %zu bytes",
                                                       where, c->lim->max_env_bytes);
                }
        }
        if ((r = get_array(c, o, "volumeMounts", where, &a)) < 0)
                return r;
        if (a) {
                size_t n = json_array_size(a);
                if (n > c->lim->max_volumes)
                        return ferry_errprintf(c->err, -E2BIG, "%s: too many volumeMounts", where);
                ct->mounts = ferry_xcalloc(n, sizeof(*ct->mounts));
                for (size_t i = 0; i < n; i++) {
                        json_t *m = json_array_get(a, i);
                        if (!json_is_object(m))
                                return ferry_errprintf(c->err, -EINVAL,
                                                       "%s: volumeMounts[%zu] must be an object",
                                                       where, i);
                        struct ferry_mount *mt = &ct->mounts[ct->n_mounts++];
                        if ((r = get_str(c, m, "name", where, true, &mt->name)) < 0 ||
                            (r = get_str(c, m, "mountPath", where, true, &mt->mount_path)) < 0 ||
                            (r = get_str(c, m, "subPath", where, false, &mt->sub_path)) < 0)
                                return r;
                        json_t *ro = json_object_get(m, "readOnly");
                        mt->read_only = json_is_true(ro);
                        if (!safe_abs_path(mt->mount_path) || !strcmp(mt->mount_path, "/"))
                                return ferry_errprintf(c->err, -EINVAL,
                                                       "%s: mountPath \"%.200s\" must be an "
                                                       "absolute path without \"..\"",
                                                       where, mt->mount_path);
                        if (mt->sub_path && mt->sub_path[0]) {
                                _cleanup_free_ char *abs = ferry_xasprintf("/%s", mt->sub_path);
                                if (mt->sub_path[0] == '/' || !safe_abs_path(abs))
                                        return ferry_errprintf(c->err, -EINVAL,
                                                               "%s: subPath \"%.200s\" must be a "
                                                               "relative path without \"..\"",
                                                               where, mt->sub_path);
                        }
                }
        }
        json_t *res = json_object_get(o, "resources");
        if (res && !json_is_null(res) && !json_is_object(res))
                return ferry_errprintf(c->err, -EINVAL, "%s: resources must be an object", where);
        char w2[200];
        snprintf(w2, sizeof(w2), "%s: resources.limits", where);
        if ((r = parse_resources(c, res ? json_object_get(res, "limits") : NULL, w2, &ct->limits)) <
            0)
                return r;
        snprintf(w2, sizeof(w2), "%s: resources.requests", where);
        if ((r = parse_resources(c, res ? json_object_get(res, "requests") : NULL, w2,
                                 &ct->requests)) < 0)
                return r;
        return 0;
}

static int parse_items(struct pctx *c, json_t *src, const char *where, struct ferry_volume *v)
{
        json_t *a;
        int r = get_array(c, src, "items", where, &a);
        if (r < 0 || !a)
                return r;
        size_t n = json_array_size(a);
        if (n > 1024)
                return ferry_errprintf(c->err, -E2BIG, "%s: too many items", where);
        v->items = ferry_xcalloc(n, sizeof(*v->items));
        for (size_t i = 0; i < n; i++) {
                json_t *it = json_array_get(a, i);
                struct ferry_key_path *kp = &v->items[v->n_items++];
                int64_t mode;
                if (!json_is_object(it))
                        return ferry_errprintf(c->err, -EINVAL, "%s: items[%zu] must be an object",
                                               where, i);
                if ((r = get_str(c, it, "key", where, true, &kp->key)) < 0 ||
                    (r = get_str(c, it, "path", where, true, &kp->path)) < 0 ||
                    (r = get_int(c, it, "mode", where, -1, &mode)) < 0)
                        return r;
                _cleanup_free_ char *abs = ferry_xasprintf("/%s", kp->path);
                if (kp->path[0] == '/' || !kp->path[0] || !safe_abs_path(abs))
                        return ferry_errprintf(
                            c->err, -EINVAL,
                            "%s: items[%zu].path must be a relative path without \"..\"", where, i);
                if (mode != -1 && (mode < 0 || mode > 0777))
                        return ferry_errprintf(c->err, -EINVAL,
                                               "%s: items[%zu].mode must be 0..0777", where, i);
                kp->mode = (int)mode;
        }
        return 0;
}

static const char *const vol_kinds_unsupported[] = {
    "persistentVolumeClaim",
    "nfs",
    "csi",
    "ephemeral",
    "iscsi",
    "glusterfs",
    "rbd",
    "cephfs",
    "awsElasticBlockStore",
    "gcePersistentDisk",
    "azureDisk",
    "azureFile",
    "downwardAPI",
    "image",
    "fc",
    "flexVolume",
    "flocker",
    "gitRepo",
    "portworxVolume",
    "quobyte",
    "scaleIO",
    "storageos",
    "vsphereVolume",
    "photonPersistentDisk",
};

static int parse_volume(struct pctx *c, json_t *o, size_t idx, struct ferry_volume *v)
{
        char where[128];
        json_t *src;
        int64_t mode;
        int r;

        memset(v, 0, sizeof(*v));
        v->default_mode = 0644;
        if (!json_is_object(o))
                return ferry_errprintf(c->err, -EINVAL, "spec.volumes[%zu] must be an object", idx);
        snprintf(where, sizeof(where), "spec.volumes[%zu]", idx);
        if ((r = get_str(c, o, "name", where, true, &v->name)) < 0)
                return r;
        if (!ferry_is_dns_label(v->name))
                return ferry_errprintf(c->err, -EINVAL,
                                       "%s: volume name \"%.64s\" is not a DNS label", where,
                                       v->name);
        snprintf(where, sizeof(where), "volume \"%s\"", v->name);
        v->size_limit = -1;
        if ((src = json_object_get(o, "emptyDir")) && !json_is_null(src)) {
                v->kind = FERRY_VOL_EMPTYDIR;
                json_t *sl = json_is_object(src) ? json_object_get(src, "sizeLimit") : NULL;
                if (sl && !json_is_null(sl)) {
                        const char *q = json_string_value(sl);
                        if (!q || ferry_quantity_bytes(q, &v->size_limit) < 0 || v->size_limit < 0)
                                return ferry_errprintf(c->err, -EINVAL,
                                                       "%s: emptyDir.sizeLimit must be a "
                                                       "Kubernetes quantity",
                                                       where);
                }
        } else if ((src = json_object_get(o, "configMap")) && json_is_object(src)) {
                v->kind = FERRY_VOL_CONFIGMAP;
                if ((r = get_str(c, src, "name", where, true, &v->source)) < 0)
                        return r;
        } else if ((src = json_object_get(o, "secret")) && json_is_object(src)) {
                v->kind = FERRY_VOL_SECRET;
                if ((r = get_str(c, src, "secretName", where, true, &v->source)) < 0)
                        return r;
        } else if ((src = json_object_get(o, "projected")) && json_is_object(src)) {
                v->kind = FERRY_VOL_PROJECTED;
        } else if ((src = json_object_get(o, "hostPath")) && json_is_object(src)) {
                v->kind = FERRY_VOL_HOSTPATH;
                if ((r = get_str(c, src, "path", where, true, &v->source)) < 0)
                        return r;
        } else {
                v->kind = FERRY_VOL_UNSUPPORTED;
                v->kind_name = ferry_xstrdup("unknown");
                for (size_t i = 0; i < FERRY_ARRAY_SIZE(vol_kinds_unsupported); i++)
                        if (json_object_get(o, vol_kinds_unsupported[i])) {
                                free(v->kind_name);
                                v->kind_name = ferry_xstrdup(vol_kinds_unsupported[i]);
                        }
                return 0;
        }
        if (json_is_object(src)) {
                if ((r = get_int(c, src, "defaultMode", where, 0644, &mode)) < 0)
                        return r;
                if (mode < 0 || mode > 0777)
                        return ferry_errprintf(c->err, -EINVAL, "%s: defaultMode must be 0..0777",
                                               where);
                v->default_mode = (int)mode;
                v->optional = json_is_true(json_object_get(src, "optional"));
                if (v->kind == FERRY_VOL_CONFIGMAP || v->kind == FERRY_VOL_SECRET)
                        return parse_items(c, src, where, v);
        }
        return 0;
}

static int parse_object(struct pctx *c, json_t *o, bool is_secret, const char *what, size_t idx,
                        struct ferry_object *obj)
{
        json_t *meta, *data;
        const char *k;
        json_t *v;
        char where[96];
        int r;

        memset(obj, 0, sizeof(*obj));
        snprintf(where, sizeof(where), "%s[%zu]", what, idx);
        if (!json_is_object(o))
                return ferry_errprintf(c->err, -EINVAL, "%s must be an object", where);
        if ((r = get_obj(c, o, "metadata", where, &meta)) < 0)
                return r;
        if (!meta)
                return ferry_errprintf(c->err, -EINVAL, "%s: missing metadata", where);
        if ((r = get_str(c, meta, "name", where, true, &obj->name)) < 0)
                return r;
        json_t *bin = NULL;
        if ((r = get_obj(c, o, "data", where, &data)) < 0 ||
            (!is_secret && (r = get_obj(c, o, "binaryData", where, &bin)) < 0))
                return r;
        size_t n = (data ? json_object_size(data) : 0) + (bin ? json_object_size(bin) : 0);
        if (n > 4096)
                return ferry_errprintf(c->err, -E2BIG, "%s: too many keys", where);
        obj->items = ferry_xcalloc(n, sizeof(*obj->items));
        for (int pass = 0; pass < 2; pass++) {
                json_t *m = pass == 0 ? data : bin;
                bool b64 = is_secret || pass == 1;
                if (!m)
                        continue;
                json_object_foreach(m, k, v)
                {
                        struct ferry_object_item *it = &obj->items[obj->n];
                        if (!json_is_string(v))
                                return ferry_errprintf(c->err, -EINVAL,
                                                       "%s \"%s\": data[\"%s\"] must be a string",
                                                       what, obj->name, k);
                        const char *s = json_string_value(v);
                        size_t sl = json_string_length(v);
                        /* Flattened projected volumes key their data by item path
                         * (may hold '/'); ConfigMap and Secret keys are file names. */
                        bool projected = !strncmp(what, "projected", 9);
                        _cleanup_free_ char *abs = ferry_xasprintf("/%s", k);
                        if ((!projected && strchr(k, '/')) || k[0] == '/' || !safe_abs_path(abs) ||
                            !strcmp(k, ".") || !k[0] || k[strlen(k) - 1] == '/')
                                return ferry_errprintf(
                                    c->err, -EINVAL,
                                    "%s \"%s\": key \"%.100s\" is not a valid file name", what,
                                    obj->name, k);
                        it->key = ferry_xstrdup(k);
                        obj->n++;
                        if (b64) {
                                if (ferry_base64_decode(s, sl, &it->value, &it->len) < 0)
                                        return ferry_errprintf(
                                            c->err, -EINVAL,
                                            "%s \"%s\": data[\"%s\"] is not valid base64", what,
                                            obj->name, k);
                        } else {
                                it->value = ferry_xmalloc(sl + 1);
                                memcpy(it->value, s, sl);
                                it->value[sl] = 0;
                                it->len = sl;
                        }
                        c->object_bytes += it->len;
                        if (c->object_bytes > c->lim->max_object_bytes)
                                return ferry_errprintf(
                                    c->err, -E2BIG,
                                    "ConfigMap/Secret data larger than %zu bytes in one pod",
                                    c->lim->max_object_bytes);
                }
        }
        return 0;
}

static int parse_objects(struct pctx *c, json_t *a, bool is_secret, const char *what,
                         struct ferry_object **arr, size_t *n)
{
        if (!a)
                return 0;
        size_t m = json_array_size(a);
        if (*n + m > c->lim->max_objects)
                return ferry_errprintf(c->err, -E2BIG,
                                       "more than %zu ConfigMaps/Secrets in one request",
                                       c->lim->max_objects);
        *arr = ferry_xrealloc(*arr, (*n + m) * sizeof(**arr));
        for (size_t i = 0; i < m; i++) {
                struct ferry_object tmp;
                int r = parse_object(c, json_array_get(a, i), is_secret, what, i, &tmp);
                /* keep tmp even on error so ferry_pod_free releases it */
                bool dup = false;
                for (size_t j = 0; j < *n && tmp.name; j++)
                        if (!strcmp((*arr)[j].name, tmp.name))
                                dup = true;
                (*arr)[(*n)++] = tmp;
                if (r < 0)
                        return r;
                if (dup) { /* hop B repeats objects per container: keep the first */
                        (*n)--;
                        free(tmp.name);
                        for (size_t k = 0; k < tmp.n; k++) {
                                free(tmp.items[k].key);
                                free(tmp.items[k].value);
                        }
                        free(tmp.items);
                }
        }
        return 0;
}

static int parse_pod(struct pctx *c, json_t *pod, struct ferry_pod *p)
{
        json_t *meta, *spec, *a;
        int r;

        if (!json_is_object(pod))
                return ferry_errprintf(c->err, -EINVAL, "\"pod\" must be a Kubernetes Pod object");
        if ((r = get_obj(c, pod, "metadata", "pod", &meta)) < 0)
                return r;
        if (!meta)
                return ferry_errprintf(c->err, -EINVAL, "pod: missing metadata");
        if ((r = get_str(c, meta, "uid", "pod metadata", false, &p->uid)) < 0 ||
            (r = get_str(c, meta, "name", "pod metadata", true, &p->name)) < 0 ||
            (r = get_str(c, meta, "namespace", "pod metadata", false, &p->namespace)) < 0)
                return r;
        if (!p->uid || !p->uid[0])
                return ferry_errprintf(c->err, -EINVAL, "pod \"%.253s\": metadata.uid is missing",
                                       p->name);
        size_t ul = strlen(p->uid);
        bool uid_ok = ul <= 64 && p->uid[0] != '.' && p->uid[0] != '-';
        for (size_t i = 0; i < ul && uid_ok; i++)
                uid_ok = isalnum((unsigned char)p->uid[i]) || strchr("-_.", p->uid[i]);
        if (!uid_ok)
                return ferry_errprintf(c->err, -EINVAL,
                                       "pod \"%.253s\": metadata.uid must be 1-64 characters of "
                                       "[A-Za-z0-9._-] (a UUID)",
                                       p->name);
        if (!ferry_is_dns_subdomain(p->name))
                return ferry_errprintf(
                    c->err, -EINVAL, "pod name \"%.253s\" is not a valid Kubernetes name", p->name);
        if (!p->namespace || !p->namespace[0]) {
                free(p->namespace);
                p->namespace = ferry_xstrdup("default");
        }
        if (!ferry_is_dns_label(p->namespace))
                return ferry_errprintf(c->err, -EINVAL, "namespace \"%.64s\" is not a DNS label",
                                       p->namespace);
        if ((r = parse_kv_map(c, meta, "annotations", "pod metadata", &p->annotations,
                              &p->n_annotations)) < 0 ||
            (r = parse_kv_map(c, meta, "labels", "pod metadata", &p->labels, &p->n_labels)) < 0)
                return r;

        if ((r = get_obj(c, pod, "spec", "pod", &spec)) < 0)
                return r;
        if (!spec)
                return ferry_errprintf(c->err, -EINVAL, "pod \"%s\": missing spec", p->name);
        json_t *ic, *cc;
        if ((r = get_array(c, spec, "initContainers", "spec", &ic)) < 0 ||
            (r = get_array(c, spec, "containers", "spec", &cc)) < 0)
                return r;
        size_t ni = ic ? json_array_size(ic) : 0, nc = cc ? json_array_size(cc) : 0;
        if (nc == 0)
                return ferry_errprintf(c->err, -EINVAL, "pod \"%s\": spec.containers is empty",
                                       p->name);
        if (ni + nc > c->lim->max_containers)
                return ferry_errprintf(c->err, -E2BIG,
                                       "pod \"%s\": %zu containers, the limit is %zu", p->name,
                                       ni + nc, c->lim->max_containers);
        p->init = ferry_xcalloc(ni, sizeof(*p->init));
        p->containers = ferry_xcalloc(nc, sizeof(*p->containers));
        for (size_t i = 0; i < ni; i++) {
                p->n_init++;
                if ((r = parse_container(c, json_array_get(ic, i), true, i, &p->init[i])) < 0)
                        return r;
        }
        for (size_t i = 0; i < nc; i++) {
                p->n_containers++;
                if ((r = parse_container(c, json_array_get(cc, i), false, i, &p->containers[i])) <
                    0)
                        return r;
        }
        for (size_t i = 0; i < ni + nc; i++)
                for (size_t j = 0; j < i; j++)
                        if (!strcmp(ferry_pod_container_at(p, i)->name,
                                    ferry_pod_container_at(p, j)->name))
                                return ferry_errprintf(
                                    c->err, -EINVAL, "pod \"%s\": two containers are named \"%s\"",
                                    p->name, ferry_pod_container_at(p, i)->name);

        if ((r = get_array(c, spec, "volumes", "spec", &a)) < 0)
                return r;
        if (a) {
                size_t n = json_array_size(a);
                if (n > c->lim->max_volumes)
                        return ferry_errprintf(c->err, -E2BIG,
                                               "pod \"%s\": %zu volumes, the limit is %zu", p->name,
                                               n, c->lim->max_volumes);
                p->volumes = ferry_xcalloc(n, sizeof(*p->volumes));
                for (size_t i = 0; i < n; i++) {
                        p->n_volumes++;
                        if ((r = parse_volume(c, json_array_get(a, i), i, &p->volumes[i])) < 0)
                                return r;
                        for (size_t j = 0; j < i; j++)
                                if (!strcmp(p->volumes[j].name, p->volumes[i].name))
                                        return ferry_errprintf(
                                            c->err, -EINVAL,
                                            "pod \"%s\": two volumes are named \"%s\"", p->name,
                                            p->volumes[i].name);
                }
        }
        for (size_t i = 0; i < ni + nc; i++) {
                const struct ferry_container *ct = ferry_pod_container_at(p, i);
                for (size_t m = 0; m < ct->n_mounts; m++)
                        if (!ferry_pod_volume(p, ct->mounts[m].name))
                                return ferry_errprintf(c->err, -EINVAL,
                                                       "container \"%s\": volumeMount \"%s\" names "
                                                       "no volume of the pod",
                                                       ct->name, ct->mounts[m].name);
        }
        if ((r = get_int(c, spec, "terminationGracePeriodSeconds", "spec", 30, &p->grace_seconds)) <
                0 ||
            (r = get_int(c, spec, "activeDeadlineSeconds", "spec", -1, &p->deadline_seconds)) < 0 ||
            (r = get_int(c, spec, "priority", "spec", 0, &p->priority)) < 0 ||
            (r = get_str(c, spec, "restartPolicy", "spec", false, &p->restart_policy)) < 0)
                return r;
        if (p->grace_seconds < 0 || p->grace_seconds > 86400)
                return ferry_errprintf(c->err, -EINVAL,
                                       "spec.terminationGracePeriodSeconds must be 0..86400");
        if (p->priority < INT32_MIN || p->priority > INT32_MAX)
                return ferry_errprintf(c->err, -EINVAL, "spec.priority must be a 32-bit integer");
        return parse_ids(c, json_object_get(spec, "securityContext"), "spec.securityContext",
                         &p->run_as_user, &p->run_as_group, &p->fs_group);
}

int ferry_pod_parse(const char *body, size_t len, enum ferry_body_kind kind,
                    const struct ferry_limits *lim, struct ferry_pod **ret, ferry_error_t *err)
{
        struct pctx c = {.lim = lim ? lim : &ferry_default_limits, .err = err};
        json_error_t jerr;
        json_t *root, *pod;
        struct ferry_pod *p;
        int r;

        if (len > c.lim->max_body)
                return ferry_errprintf(err, -E2BIG,
                                       "request body of %zu bytes exceeds the limit of %zu", len,
                                       c.lim->max_body);
        if ((r = check_depth(body, len, c.lim->max_json_depth, err)) < 0)
                return r;
        root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
        if (!root)
                return ferry_errprintf(err, -EINVAL, "malformed JSON at line %d, column %d: %s",
                                       jerr.line, jerr.column, jerr.text);
        p = ferry_xcalloc(1, sizeof(*p));
        switch (kind) {
        case FERRY_BODY_POD: r = parse_pod(&c, root, p); break;
        case FERRY_BODY_CREATE_A: {
                json_t *cm, *sec, *pr;
                if (!json_is_object(root)) {
                        r = ferry_errprintf(err, -EINVAL,
                                            "expected a PodCreateRequests object {\"pod\": ...}");
                        break;
                }
                pod = json_object_get(root, "pod");
                if (!pod) {
                        r = ferry_errprintf(err, -EINVAL, "missing \"pod\" in PodCreateRequests");
                        break;
                }
                if ((r = parse_pod(&c, pod, p)) < 0 ||
                    (r = get_array(&c, root, "configmaps", "request", &cm)) < 0 ||
                    (r = get_array(&c, root, "secrets", "request", &sec)) < 0 ||
                    (r = get_array(&c, root, "projectedvolumesmaps", "request", &pr)) < 0 ||
                    (r = parse_objects(&c, cm, false, "configmaps", &p->configmaps,
                                       &p->n_configmaps)) < 0 ||
                    (r = parse_objects(&c, sec, true, "secrets", &p->secrets, &p->n_secrets)) < 0 ||
                    (r = parse_objects(&c, pr, false, "projectedvolumesmaps", &p->projected,
                                       &p->n_projected)) < 0)
                        break;
                break;
        }
        case FERRY_BODY_CREATE_B: {
                json_t *o = root, *ca;
                if (json_is_array(root)) {
                        if (json_array_size(root) != 1) {
                                r = ferry_errprintf(err, -EINVAL,
                                                    "expected one RetrievedPodData (object or "
                                                    "one-element array), got an array of %zu",
                                                    json_array_size(root));
                                break;
                        }
                        o = json_array_get(root, 0);
                }
                if (!json_is_object(o) || !(pod = json_object_get(o, "pod"))) {
                        r = ferry_errprintf(err, -EINVAL,
                                            "expected a RetrievedPodData object {\"pod\": ..., "
                                            "\"container\": [...]}");
                        break;
                }
                if ((r = parse_pod(&c, pod, p)) < 0 ||
                    (r = get_array(&c, o, "container", "request", &ca)) < 0)
                        break;
                for (size_t i = 0; ca && i < json_array_size(ca) && r >= 0; i++) {
                        json_t *e = json_array_get(ca, i), *cm, *sec, *pr;
                        if (!json_is_object(e)) {
                                r = ferry_errprintf(err, -EINVAL,
                                                    "container[%zu] must be an object", i);
                                break;
                        }
                        if ((r = get_array(&c, e, "configMaps", "container", &cm)) < 0 ||
                            (r = get_array(&c, e, "secrets", "container", &sec)) < 0 ||
                            (r = get_array(&c, e, "projectedvolumemaps", "container", &pr)) < 0 ||
                            (r = parse_objects(&c, cm, false, "configMaps", &p->configmaps,
                                               &p->n_configmaps)) < 0 ||
                            (r = parse_objects(&c, sec, true, "secrets", &p->secrets,
                                               &p->n_secrets)) < 0 ||
                            (r = parse_objects(&c, pr, false, "projectedvolumemaps", &p->projected,
                                               &p->n_projected)) < 0)
                                break;
                }
                break;
        }
        default: r = -EINVAL;
        }
        json_decref(root);
        if (r < 0) {
                ferry_pod_free(p);
                return r;
        }
        *ret = p;
        return 0;
}

static void free_container(struct ferry_container *c)
{
        free(c->name);
        free(c->image);
        for (size_t i = 0; c->command && c->command[i]; i++)
                free(c->command[i]);
        free(c->command);
        for (size_t i = 0; c->args && c->args[i]; i++)
                free(c->args[i]);
        free(c->args);
        free(c->working_dir);
        ferry_probes_clear(&c->probes);
        for (size_t i = 0; i < c->n_env; i++) {
                free(c->env[i].name);
                free(c->env[i].value);
        }
        free(c->env);
        for (size_t i = 0; i < c->n_mounts; i++) {
                free(c->mounts[i].name);
                free(c->mounts[i].mount_path);
                free(c->mounts[i].sub_path);
        }
        free(c->mounts);
        for (size_t i = 0; i < c->limits.n_extended; i++)
                free(c->limits.extended[i].name);
        free(c->limits.extended);
        for (size_t i = 0; i < c->requests.n_extended; i++)
                free(c->requests.extended[i].name);
        free(c->requests.extended);
}

static void free_objects(struct ferry_object *o, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(o[i].name);
                for (size_t k = 0; k < o[i].n; k++) {
                        free(o[i].items[k].key);
                        free(o[i].items[k].value);
                }
                free(o[i].items);
        }
        free(o);
}

static void free_kv(struct ferry_kv *kv, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(kv[i].key);
                free(kv[i].value);
        }
        free(kv);
}

void ferry_pod_free(struct ferry_pod *p)
{
        if (!p)
                return;
        free(p->uid);
        free(p->name);
        free(p->namespace);
        free_kv(p->annotations, p->n_annotations);
        free_kv(p->labels, p->n_labels);
        for (size_t i = 0; i < p->n_init; i++)
                free_container(&p->init[i]);
        free(p->init);
        for (size_t i = 0; i < p->n_containers; i++)
                free_container(&p->containers[i]);
        free(p->containers);
        for (size_t i = 0; i < p->n_volumes; i++) {
                free(p->volumes[i].name);
                free(p->volumes[i].source);
                free(p->volumes[i].kind_name);
                for (size_t k = 0; k < p->volumes[i].n_items; k++) {
                        free(p->volumes[i].items[k].key);
                        free(p->volumes[i].items[k].path);
                }
                free(p->volumes[i].items);
        }
        free(p->volumes);
        free_objects(p->configmaps, p->n_configmaps);
        free_objects(p->secrets, p->n_secrets);
        free_objects(p->projected, p->n_projected);
        free(p->restart_policy);
        free(p);
}

const struct ferry_volume *ferry_pod_volume(const struct ferry_pod *pod, const char *name)
{
        for (size_t i = 0; i < pod->n_volumes; i++)
                if (!strcmp(pod->volumes[i].name, name))
                        return &pod->volumes[i];
        return NULL;
}

static const struct ferry_object *find_obj(const struct ferry_object *o, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (o[i].name && !strcmp(o[i].name, name))
                        return &o[i];
        return NULL;
}

const struct ferry_object *ferry_pod_configmap(const struct ferry_pod *pod, const char *name)
{
        return find_obj(pod->configmaps, pod->n_configmaps, name);
}

const struct ferry_object *ferry_pod_secret(const struct ferry_pod *pod, const char *name)
{
        return find_obj(pod->secrets, pod->n_secrets, name);
}

const struct ferry_object *ferry_pod_projected(const struct ferry_pod *pod, const char *name)
{
        return find_obj(pod->projected, pod->n_projected, name);
}

const char *ferry_pod_annotation(const struct ferry_pod *pod, const char *key)
{
        for (size_t i = 0; i < pod->n_annotations; i++)
                if (!strcmp(pod->annotations[i].key, key))
                        return pod->annotations[i].value;
        return NULL;
}

const struct ferry_container *ferry_pod_container_at(const struct ferry_pod *pod, size_t i)
{
        if (i < pod->n_init)
                return &pod->init[i];
        i -= pod->n_init;
        return i < pod->n_containers ? &pod->containers[i] : NULL;
}
