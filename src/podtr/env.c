/* SPDX-License-Identifier: MIT */
/*
 * A container's environment, resolved as the kubelet resolves it
 * (makeEnvironmentVariables): envFrom first, keys in sorted order, names that
 * are not valid env names skipped; then env in order, a literal value with its
 * $(VAR) references expanded against what is defined so far, a valueFrom
 * resolved; a later definition replaces an earlier one. The result goes out
 * with every "$" that starts "$$" or "$(" doubled, so that a site expanding
 * the values again, as it must for a pod spec, gets these values back.
 * Also the fieldRef and resourceFieldRef values that downward API volumes use.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/base64.h"
#include "common/util.h"
#include "podtr_internal.h"

/* ---- fieldRef ---- */

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* labels / annotations as the kubelet's downward API writes them: k="v" lines
 * sorted by key, values quoted */
static char *map_text(const json_t *map)
{
        struct ferry_buf b = FERRY_BUF_INIT;
        const char *k, **keys = ferry_xcalloc(json_object_size(map) + 1, sizeof(*keys));
        json_t *v;
        size_t n = 0;

        json_object_foreach((json_t *)map, k, v) keys[n++] = k;
        qsort(keys, n, sizeof(*keys), cmp_str);
        ferry_buf_adds(&b, "");
        for (size_t i = 0; i < n; i++) {
                const char *s = podtr_sget(map, keys[i]);
                if (i)
                        ferry_buf_addc(&b, '\n');
                ferry_buf_adds(&b, keys[i]);
                ferry_buf_addc(&b, '=');
                ferry_buf_add_json_str(&b, s ? s : "");
        }
        free(keys);
        return ferry_buf_steal(&b);
}

/* "metadata.labels['k']" with field "metadata.labels" -> "k" (caller frees) */
static char *bracket_key(const char *path, const char *field)
{
        size_t fl = strlen(field), n;

        if (strncmp(path, field, fl) != 0 || strncmp(path + fl, "['", 2) != 0)
                return NULL;
        path += fl + 2;
        n = strlen(path);
        if (n < 2 || strcmp(path + n - 2, "']") != 0)
                return NULL;
        return ferry_xstrndup(path, n - 2);
}

int podtr_field_value(struct podtr_ctx *c, const char *path, char **ret)
{
        const json_t *meta = json_object_get(c->pod, "metadata");
        const json_t *spec = json_object_get(c->pod, "spec");
        static const char *const maps[] = {"labels", "annotations"};
        const char *v;

        if (!path)
                return ferry_errprintf(c->err, -EINVAL, "fieldRef without fieldPath");
        if (!strcmp(path, "metadata.name") || !strcmp(path, "metadata.namespace") ||
            !strcmp(path, "metadata.uid")) {
                v = podtr_sget(meta, path + strlen("metadata."));
                *ret = ferry_xstrdup(v ? v : "");
                return 0;
        }
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(maps); i++) {
                char field[32];
                snprintf(field, sizeof(field), "metadata.%s", maps[i]);
                if (!strcmp(path, field)) {
                        *ret = map_text(json_object_get(meta, maps[i]));
                        return 0;
                }
                _cleanup_free_ char *key = bracket_key(path, field);
                if (key) {
                        v = podtr_sget(json_object_get(meta, maps[i]), key);
                        *ret = ferry_xstrdup(v ? v : "");
                        return 0;
                }
        }
        if (!strcmp(path, "spec.nodeName")) {
                v = podtr_sget(spec, "nodeName");
                *ret = ferry_xstrdup(v ? v : c->o->node_name ? c->o->node_name : "");
                return 0;
        }
        if (!strcmp(path, "spec.serviceAccountName")) {
                v = podtr_sget(spec, "serviceAccountName");
                *ret = ferry_xstrdup(v && v[0] ? v : "default");
                return 0;
        }
        if (!strcmp(path, "status.hostIP") || !strcmp(path, "status.hostIPs")) {
                *ret = ferry_xstrdup(c->o->host_ip ? c->o->host_ip : "");
                return 0;
        }
        if (!strcmp(path, "status.podIP") || !strcmp(path, "status.podIPs")) {
                /* the pod runs on a remote site: it has no cluster IP */
                *ret = ferry_xstrdup("");
                return 0;
        }
        return ferry_errprintf(c->err, -EINVAL,
                               "fieldRef %s is not supported on a virtual node (metadata.name, "
                               "namespace, uid, labels, annotations, spec.nodeName, "
                               "spec.serviceAccountName, status.hostIP and status.podIP are)",
                               path);
}

/* ---- resourceFieldRef ---- */

const json_t *podtr_find_container(const struct podtr_ctx *c, const char *name)
{
        static const char *const lists[] = {"containers", "initContainers"};
        const json_t *spec = json_object_get(c->pod, "spec"), *ct;
        size_t i;

        for (size_t l = 0; l < FERRY_ARRAY_SIZE(lists); l++)
                json_array_foreach(json_object_get(spec, lists[l]), i, ct)
                {
                        const char *n = podtr_sget(ct, "name");
                        if (!name || (n && !strcmp(n, name)))
                                return ct;
                }
        return NULL;
}

static int parse_quantity(const char *s, double *ret)
{
        static const struct {
                const char *suf;
                double mul;
        } sufs[] = {{"Ki", 1024.0},
                    {"Mi", 1048576.0},
                    {"Gi", 1073741824.0},
                    {"Ti", 1099511627776.0},
                    {"Pi", 1125899906842624.0},
                    {"Ei", 1152921504606846976.0},
                    {"n", 1e-9},
                    {"u", 1e-6},
                    {"m", 1e-3},
                    {"k", 1e3},
                    {"M", 1e6},
                    {"G", 1e9},
                    {"T", 1e12},
                    {"P", 1e15},
                    {"E", 1e18}};
        char *end;

        if (!s || !s[0])
                return -EINVAL;
        double v = strtod(s, &end);
        if (end == s)
                return -EINVAL;
        if (!*end) {
                *ret = v;
                return 0;
        }
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(sufs); i++)
                if (!strcmp(end, sufs[i].suf)) {
                        *ret = v * sufs[i].mul;
                        return 0;
                }
        return -EINVAL;
}

/* limits.X or requests.X of the container in units of the divisor (default
 * 1), rounded up like the kubelet. Requests default to limits, limits to the
 * node's allocatable. */
int podtr_resource_value(struct podtr_ctx *c, const json_t *container, const json_t *ref,
                         char **ret)
{
        const char *res = podtr_sget(ref, "resource");
        const char *div = podtr_sget(ref, "divisor");
        const json_t *resources = json_object_get(container, "resources");
        char which[16], name[64];
        double q = 0, d = 1;

        if (!res || sscanf(res, "%15[a-z].%63s", which, name) != 2 ||
            (strcmp(which, "limits") && strcmp(which, "requests")))
                return ferry_errprintf(c->err, -EINVAL, "resourceFieldRef %s is not supported",
                                       res ? res : "(none)");
        if (!container)
                return ferry_errprintf(
                    c->err, -EINVAL, "resourceFieldRef %s: no container \"%s\"", res,
                    podtr_sget(ref, "containerName") ? podtr_sget(ref, "containerName") : "");
        const char *v = podtr_sget(json_object_get(resources, which), name);
        if (!v && !strcmp(which, "requests"))
                v = podtr_sget(json_object_get(resources, "limits"), name);
        else if (!v)
                v = podtr_sget(c->o->allocatable, name);
        if (v && parse_quantity(v, &q) < 0)
                return ferry_errprintf(c->err, -EINVAL, "cannot read quantity %s", v);
        if (div && (parse_quantity(div, &d) < 0 || d <= 0))
                return ferry_errprintf(c->err, -EINVAL, "cannot read divisor %s", div);
        double units = q / d;
        long long out = (long long)units;
        if ((double)out < units - 1e-9)
                out++;
        *ret = ferry_xasprintf("%lld", out);
        return 0;
}

/* ---- $(VAR) ---- */

/* The kubelet's expansion.Expand: $(NAME) becomes the value of NAME when it is
 * defined (else stays as written), $$ becomes $, anything else is copied. */
static char *expand(const char *in, const json_t *vals)
{
        struct ferry_buf b = FERRY_BUF_INIT;

        ferry_buf_adds(&b, "");
        for (const char *p = in; *p;) {
                if (p[0] != '$' || !p[1]) {
                        ferry_buf_addc(&b, *p++);
                        continue;
                }
                if (p[1] == '(') {
                        const char *close = strchr(p + 2, ')');
                        if (!close) { /* incomplete: "$(" copied, scanning goes on */
                                ferry_buf_adds(&b, "$(");
                                p += 2;
                                continue;
                        }
                        _cleanup_free_ char *name = ferry_xstrndup(p + 2, (size_t)(close - p - 2));
                        const char *v = podtr_sget(vals, name);
                        if (v)
                                ferry_buf_adds(&b, v);
                        else
                                ferry_buf_add(&b, p, (size_t)(close - p + 1));
                        p = close + 1;
                        continue;
                }
                /* "$$" -> "$"; "$x" -> "$x" */
                if (p[1] != '$')
                        ferry_buf_addc(&b, '$');
                ferry_buf_addc(&b, p[1]);
                p += 2;
        }
        return ferry_buf_steal(&b);
}

/* The inverse for expand() on a value: a "$" before "$" or "(" doubled. */
static char *escape(const char *v)
{
        struct ferry_buf b = FERRY_BUF_INIT;

        ferry_buf_adds(&b, "");
        for (const char *p = v; *p; p++) {
                if (p[0] == '$' && (p[1] == '$' || p[1] == '('))
                        ferry_buf_addc(&b, '$');
                ferry_buf_addc(&b, *p);
        }
        return ferry_buf_steal(&b);
}

/* ---- env ---- */

/* The kubelet's IsEnvVarName: [-._a-zA-Z][-._a-zA-Z0-9]* */
static bool is_env_name(const char *s)
{
        if (!s || !*s)
                return false;
        for (const char *p = s; *p; p++) {
                bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
                          *p == '-' || *p == '.' || (p != s && *p >= '0' && *p <= '9');
                if (!ok)
                        return false;
        }
        return true;
}

/* The variables so far: vals (name -> value) and the order they go out in:
 * each name once, where it was last set. */
struct envset {
        json_t *vals;
        json_t *order;
};

static void env_set(struct envset *e, const char *name, const char *value)
{
        size_t i;
        json_t *n;

        if (json_object_get(e->vals, name))
                json_array_foreach(e->order, i, n) if (!strcmp(json_string_value(n), name))
                {
                        json_array_remove(e->order, i);
                        break;
                }
        json_array_append_new(e->order, json_string(name));
        json_object_set_new(e->vals, name, json_string(value));
}

/* The text of key in a ConfigMap's data or a Secret's data (decoded). 0 with
 * *ret NULL when the key is absent; -EINVAL when the value cannot be an
 * environment variable. */
static int env_value(struct podtr_ctx *c, const json_t *obj, bool secret, const char *name,
                     const char *key, char **ret)
{
        const char *v = podtr_sget(json_object_get(obj, "data"), key);
        unsigned char *dec;
        size_t n;

        *ret = NULL;
        if (!v)
                return 0;
        if (!secret) {
                *ret = ferry_xstrdup(v);
                return 0;
        }
        if (ferry_base64_decode_strict(v, &dec, &n) < 0)
                return ferry_errprintf(c->err, -EINVAL, "secret \"%s\": key '%s' is not base64",
                                       name, key);
        if (memchr(dec, 0, n) || !ferry_utf8_valid(dec, n)) {
                free(dec);
                return ferry_errprintf(c->err, -EINVAL,
                                       "secret \"%s\": key '%s' is binary and cannot be an "
                                       "environment variable",
                                       name, key);
        }
        *ret = (char *)dec;
        return 0;
}

static int env_from(struct podtr_ctx *c, const char *cname, const json_t *ef, struct envset *e)
{
        const json_t *ref = json_object_get(ef, "configMapRef");
        bool secret = false;
        const char *prefix = podtr_sget(ef, "prefix");
        const char *k, **keys;
        const json_t *obj, *data;
        json_t *v;
        size_t n = 0;
        char where[200];
        int r = 0;

        if (!ref) {
                ref = json_object_get(ef, "secretRef");
                secret = true;
        }
        if (!json_is_object(ref))
                return ferry_errprintf(c->err, -EINVAL,
                                       "container \"%s\": envFrom needs configMapRef or secretRef",
                                       cname);
        const char *oname = podtr_sget(ref, "name");
        obj = podtr_lookup(c, secret, oname);
        if (!obj) {
                if (json_is_true(json_object_get(ref, "optional")))
                        return 0;
                snprintf(where, sizeof(where), "container \"%s\": envFrom", cname);
                return podtr_not_found(c, secret, oname, where);
        }
        data = json_object_get(obj, "data");
        keys = ferry_xcalloc(json_object_size(data) + 1, sizeof(*keys));
        json_object_foreach((json_t *)data, k, v) keys[n++] = k;
        qsort(keys, n, sizeof(*keys), cmp_str);
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_free_ char *name = ferry_xasprintf("%s%s", prefix ? prefix : "", keys[i]);
                _cleanup_free_ char *val = NULL;
                if (!is_env_name(name))
                        continue; /* the kubelet skips these too (with an event) */
                r = env_value(c, obj, secret, oname, keys[i], &val);
                if (r >= 0 && val)
                        env_set(e, name, val);
        }
        free(keys);
        return r;
}

/* One env entry's value: *ret NULL when an optional reference is missing. */
static int env_entry(struct podtr_ctx *c, const json_t *container, const json_t *ent,
                     const char *cname, const char *name, struct envset *e, char **ret)
{
        json_t *vf = json_object_get(ent, "valueFrom");
        json_t *value = json_object_get(ent, "value");
        json_t *ref;
        bool secret = false;
        char where[200];

        *ret = NULL;
        if (value && !json_is_string(value) && !json_is_null(value))
                return ferry_errprintf(c->err, -EINVAL,
                                       "container \"%s\": env %s: value must be a string", cname,
                                       name);
        if (json_string_length(value) > 0 || !json_is_object(vf)) {
                *ret = expand(json_is_string(value) ? json_string_value(value) : "", e->vals);
                return 0;
        }
        ref = json_object_get(vf, "configMapKeyRef");
        if (!ref && (ref = json_object_get(vf, "secretKeyRef")))
                secret = true;
        if (json_is_object(ref)) {
                const char *oname = podtr_sget(ref, "name"), *key = podtr_sget(ref, "key");
                const json_t *obj = podtr_lookup(c, secret, oname);
                bool optional = json_is_true(json_object_get(ref, "optional"));
                snprintf(where, sizeof(where), "container \"%s\": env %.80s", cname, name);
                if (!obj)
                        return optional ? 0 : podtr_not_found(c, secret, oname, where);
                int r = env_value(c, obj, secret, oname, key ? key : "", ret);
                if (r < 0 || *ret || optional)
                        return r;
                return podtr_no_key(c, secret, oname, key ? key : "", where);
        }
        if ((ref = json_object_get(vf, "fieldRef")))
                return podtr_field_value(c, podtr_sget(ref, "fieldPath"), ret);
        if ((ref = json_object_get(vf, "resourceFieldRef"))) {
                /* the container itself, unless it names another */
                const char *other = podtr_sget(ref, "containerName");
                if (other && other[0])
                        container = podtr_find_container(c, other);
                return podtr_resource_value(c, container, ref, ret);
        }
        return ferry_errprintf(c->err, -EINVAL, "container \"%s\": env %s: unsupported valueFrom",
                               cname, name);
}

int podtr_resolve_env(struct podtr_ctx *c, json_t *container)
{
        const char *cname = podtr_sget(container, "name");
        json_t *env_in = json_object_get(container, "env");
        json_t *efs = json_object_get(container, "envFrom");
        struct envset e = {.vals = json_object(), .order = json_array()};
        json_t *out = NULL, *ent, *n;
        size_t i;
        int r = 0;

        if (!cname)
                cname = "";
        if ((env_in && !json_is_array(env_in) && !json_is_null(env_in)) ||
            (efs && !json_is_array(efs) && !json_is_null(efs))) {
                r = ferry_errprintf(c->err, -EINVAL,
                                    "container \"%s\": env and envFrom must be lists", cname);
                goto out;
        }
        if (json_array_size(env_in) == 0 && json_array_size(efs) == 0)
                goto out;
        json_array_foreach(efs, i, ent) if ((r = env_from(c, cname, ent, &e)) < 0) goto out;
        json_array_foreach(env_in, i, ent)
        {
                const char *name = podtr_sget(ent, "name");
                _cleanup_free_ char *val = NULL;
                if (!name || !name[0]) {
                        r = ferry_errprintf(c->err, -EINVAL,
                                            "container \"%s\": env entry #%zu has no name", cname,
                                            i + 1);
                        goto out;
                }
                if ((r = env_entry(c, container, ent, cname, name, &e, &val)) < 0)
                        goto out;
                if (val)
                        env_set(&e, name, val);
        }
        if (json_array_size(e.order) > FERRY_PODTR_MAX_ENV) {
                r = ferry_errprintf(c->err, -E2BIG,
                                    "container \"%s\" has more than %d environment variables",
                                    cname, FERRY_PODTR_MAX_ENV);
                goto out;
        }
        out = json_array();
        json_array_foreach(e.order, i, n)
        {
                const char *name = json_string_value(n);
                _cleanup_free_ char *v = escape(podtr_sget(e.vals, name));
                json_array_append_new(out, json_pack("{s:s,s:s}", "name", name, "value", v));
        }
        json_object_del(container, "envFrom");
        if (json_array_size(out) || env_in)
                json_object_set(container, "env", out);
out:
        json_decref(out);
        json_decref(e.vals);
        json_decref(e.order);
        return r;
}
