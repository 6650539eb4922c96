/* SPDX-License-Identifier: MIT */
/*
 * Pods + ConfigMaps + Secrets -> hop-A PodCreateRequests. Pure: no I/O; the
 * UID generator is injected so that golden tests are stable.
 */
#include "manifest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/base64.h"
#include "common/util.h"

/* ---- small JSON helpers ---- */

static const char *jstr(const json_t *o, const char *k)
{
        return json_string_value(json_object_get(o, k));
}

static bool jbool(const json_t *o, const char *k)
{
        return json_is_true(json_object_get(o, k));
}

static json_t *jobject(json_t *o, const char *k)
{
        json_t *v = json_object_get(o, k);
        if (!json_is_object(v)) {
                v = json_object();
                json_object_set_new(o, k, v);
        }
        return v;
}

/* A YAML author writes `port: 8080` where Kubernetes wants a string: turn
 * scalars into their text like kubectl users expect; refuse anything else. */
static int to_string_value(json_t *parent, const char *key, json_t *v)
{
        char buf[64];

        if (!v) {
                json_object_set_new(parent, key, json_string(""));
                return 0;
        }
        if (json_is_string(v))
                return 0;
        if (json_is_integer(v))
                snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v))
                snprintf(buf, sizeof(buf), "%.15g", json_real_value(v));
        else if (json_is_boolean(v))
                snprintf(buf, sizeof(buf), "%s", json_is_true(v) ? "true" : "false");
        else if (json_is_null(v))
                buf[0] = '\0';
        else
                return -EINVAL;
        json_object_set_new(parent, key, json_string(buf));
        return 0;
}

static int stringify_map(json_t *map, const char *what, ferry_error_t *err)
{
        const char *k;
        json_t *v;
        void *tmp;

        if (!map || json_is_null(map))
                return 0;
        if (!json_is_object(map))
                return ferry_errprintf(err, -EINVAL, "%s must be a mapping of strings", what);
        json_object_foreach_safe(
            map, tmp, k, v) if (to_string_value(map, k, v) <
                                0) return ferry_errprintf(err, -EINVAL,
                                                          "%s: the value of '%s' must be a string",
                                                          what, k);
        return 0;
}

/* ---- the object set ---- */

struct objset {
        const char *ns_forced; /* -n, or NULL */
        json_t *configmaps;    /* normalised copies, namespace filled in */
        json_t *secrets;
        ferry_error_t *err;
};

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

static int fill_namespace(json_t *obj, const char *ns_forced, const char *what, const char *name,
                          ferry_error_t *err)
{
        json_t *meta = jobject(obj, "metadata");
        const char *ns = jstr(meta, "namespace");

        if (ns && ns[0] && ns_forced && strcmp(ns, ns_forced) != 0)
                return ferry_errprintf(err, -EINVAL,
                                       "%s \"%s\" says namespace \"%s\" but -n asks for \"%s\" "
                                       "(drop one of them)",
                                       what, name, ns, ns_forced);
        if (!ns || !ns[0])
                json_object_set_new(meta, "namespace",
                                    json_string(ns_forced ? ns_forced : "default"));
        ns = jstr(meta, "namespace");
        if (!ferry_is_dns_label(ns))
                return ferry_errprintf(err, -EINVAL,
                                       "%s \"%s\": namespace \"%s\" is not a DNS label "
                                       "(lowercase letters, digits and '-')",
                                       what, name, ns);
        return 0;
}

/* Secret: stringData -> data (base64), check that data is base64. */
static int normalise_secret(json_t *s, const char *name, ferry_error_t *err)
{
        json_t *data = json_object_get(s, "data");
        json_t *sd = json_object_get(s, "stringData");
        const char *k;
        json_t *v;
        char what[300];
        int r;

        snprintf(what, sizeof(what), "Secret \"%s\" data", name);
        if (data && !json_is_null(data) && !json_is_object(data))
                return ferry_errprintf(err, -EINVAL, "%s must be a mapping", what);
        json_object_foreach(data, k, v)
        {
                unsigned char *dec;
                size_t n;
                if (!json_is_string(v) ||
                    ferry_base64_decode_strict(json_string_value(v), &dec, &n) < 0)
                        return ferry_errprintf(err, -EINVAL,
                                               "Secret \"%s\": data key '%s' is not base64 (put "
                                               "plain text under stringData instead)",
                                               name, k);
                free(dec);
        }
        snprintf(what, sizeof(what), "Secret \"%s\" stringData", name);
        r = stringify_map(sd, what, err);
        if (r < 0)
                return r;
        if (json_is_object(sd)) {
                data = jobject(s, "data");
                json_object_foreach(sd, k, v)
                {
                        const char *t = json_string_value(v);
                        char *e = ferry_base64_encode((const unsigned char *)t, strlen(t));
                        json_object_set_new(data, k, json_string(e));
                        free(e);
                }
        }
        json_object_del(s, "stringData");
        return 0;
}

static int collect(struct objset *os, const json_t *objects, ferry_error_t *err)
{
        size_t i;
        json_t *o;
        int r;

        json_array_foreach(objects, i, o)
        {
                const char *kind = jstr(o, "kind");
                const char *name = jstr(json_object_get(o, "metadata"), "name");
                json_t *c;
                char what[300];

                if (!kind)
                        return ferry_errprintf(err, -EINVAL,
                                               "object #%zu (%s) has no 'kind' (Pod, ConfigMap or "
                                               "Secret)",
                                               i + 1, name ? name : "no name");
                if (strcmp(kind, "Pod") == 0)
                        continue;
                if (strcmp(kind, "ConfigMap") != 0 && strcmp(kind, "Secret") != 0)
                        return ferry_errprintf(err, -EINVAL,
                                               "%s \"%s\": ferry run takes Pods and the ConfigMaps "
                                               "and Secrets they use, not %ss",
                                               kind, name ? name : "", kind);
                if (!name || !ferry_is_dns_subdomain(name))
                        return ferry_errprintf(err, -EINVAL,
                                               "a %s needs metadata.name, a DNS name (got '%s')",
                                               kind, name ? name : "");
                c = json_deep_copy(o);
                r = fill_namespace(c, os->ns_forced, kind, name, err);
                if (r >= 0 && kind[0] == 'C') {
                        snprintf(what, sizeof(what), "ConfigMap \"%s\" data", name);
                        r = stringify_map(json_object_get(c, "data"), what, err);
                }
                if (r >= 0 && kind[0] == 'S')
                        r = normalise_secret(c, name, err);
                if (r < 0) {
                        json_decref(c);
                        return r;
                }
                json_array_append_new(kind[0] == 'C' ? os->configmaps : os->secrets, c);
        }
        return 0;
}

static json_t *find(json_t *list, const char *ns, const char *name)
{
        size_t i;
        json_t *o;

        if (!name)
                return NULL;
        json_array_foreach(list, i, o)
        {
                const json_t *m = json_object_get(o, "metadata");
                if (strcmp(jstr(m, "name"), name) == 0 && strcmp(jstr(m, "namespace"), ns) == 0)
                        return o;
        }
        return NULL;
}

/* ---- per pod ---- */

struct podctx {
        struct objset *os;
        json_t *pod;
        const char *name, *ns, *uid;
        ferry_error_t *err;
};

static int missing(struct podctx *p, const char *kind, const char *name, const char *where)
{
        return ferry_errprintf(p->err, -ENOENT,
                               "pod \"%s\": %s %s \"%s\" not found in namespace \"%s\" (add it "
                               "to the manifests, or mark the reference optional: true)",
                               p->name, where, kind, name ? name : "", p->ns);
}

/* The value of key in a ConfigMap or Secret as text. *ret_found false when the
 * key is absent. Returns a new string or NULL with err set. */
static int object_value(struct podctx *p, json_t *obj, bool secret, const char *key, char **ret,
                        bool *ret_found)
{
        const char *v = jstr(json_object_get(obj, "data"), key);
        unsigned char *dec;
        size_t n;

        *ret_found = false;
        if (!v)
                return 0;
        *ret_found = true;
        if (!secret) {
                *ret = ferry_xstrdup(v);
                return 0;
        }
        if (ferry_base64_decode_strict(v, &dec, &n) < 0)
                return ferry_errprintf(p->err, -EINVAL, "Secret key '%s' is not base64", key);
        if (memchr(dec, 0, n) || !ferry_utf8_valid(dec, n)) {
                free(dec);
                return ferry_errprintf(p->err, -EINVAL,
                                       "pod \"%s\": Secret key '%s' is binary and cannot be an "
                                       "environment variable",
                                       p->name, key);
        }
        *ret = (char *)dec;
        return 0;
}

/* Set NAME=value in env, replacing an earlier entry of that name in place. */
static void env_set(json_t *env, const char *name, const char *value)
{
        size_t i;
        json_t *e, *n = json_object();

        json_object_set_new(n, "name", json_string(name));
        json_object_set_new(n, "value", json_string(value));
        json_array_foreach(env, i, e) if (strcmp(jstr(e, "name"), name) == 0)
        {
                json_array_set_new(env, i, n);
                return;
        }
        json_array_append_new(env, n);
}

static int cmp_keys(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int env_from(struct podctx *p, const char *cname, const json_t *ef, json_t *env)
{
        const json_t *ref = json_object_get(ef, "configMapRef");
        bool secret = false;
        const char *prefix = jstr(ef, "prefix");
        json_t *obj, *data;
        const char *k, **keys;
        json_t *v;
        size_t n = 0, i;
        char where[200];

        if (!ref) {
                ref = json_object_get(ef, "secretRef");
                secret = true;
        }
        if (!json_is_object(ref))
                return ferry_errprintf(p->err, -EINVAL,
                                       "pod \"%s\": container \"%s\": envFrom needs configMapRef "
                                       "or secretRef",
                                       p->name, cname);
        obj = find(secret ? p->os->secrets : p->os->configmaps, p->ns, jstr(ref, "name"));
        if (!obj) {
                if (jbool(ref, "optional"))
                        return 0;
                snprintf(where, sizeof(where), "container \"%s\": envFrom", cname);
                return missing(p, secret ? "Secret" : "ConfigMap", jstr(ref, "name"), where);
        }
        data = json_object_get(obj, "data");
        keys = ferry_xcalloc(json_object_size(data) + 1, sizeof(*keys));
        json_object_foreach(data, k, v) keys[n++] = k;
        qsort(keys, n, sizeof(*keys), cmp_keys);
        for (i = 0; i < n; i++) {
                _cleanup_free_ char *name = ferry_xasprintf("%s%s", prefix ? prefix : "", keys[i]);
                _cleanup_free_ char *val = NULL;
                bool found;
                if (!is_env_name(name))
                        continue; /* the kubelet skips these too (with an event) */
                int r = object_value(p, obj, secret, keys[i], &val, &found);
                if (r < 0) {
                        free(keys);
                        return r;
                }
                env_set(env, name, val);
        }
        free(keys);
        return 0;
}

/* fieldRef paths we can answer before offload; NULL for the rest. */
static char *field_value(struct podctx *p, const char *path)
{
        const json_t *meta = json_object_get(p->pod, "metadata");
        char key[256];

        if (!path)
                return NULL;
        if (strcmp(path, "metadata.name") == 0)
                return ferry_xstrdup(p->name);
        if (strcmp(path, "metadata.namespace") == 0)
                return ferry_xstrdup(p->ns);
        if (strcmp(path, "metadata.uid") == 0)
                return ferry_xstrdup(p->uid);
        if (strcmp(path, "spec.serviceAccountName") == 0) {
                const char *sa = jstr(json_object_get(p->pod, "spec"), "serviceAccountName");
                return ferry_xstrdup(sa ? sa : "default");
        }
        for (int i = 0; i < 2; i++) {
                const char *field = i == 0 ? "labels" : "annotations";
                char prefix[32];
                snprintf(prefix, sizeof(prefix), "metadata.%s['", field);
                if (ferry_str_startswith(path, prefix)) {
                        size_t n = strlen(path) - strlen(prefix);
                        if (n < 2 || n - 2 >= sizeof(key) || strcmp(path + strlen(path) - 2, "']"))
                                return NULL;
                        memcpy(key, path + strlen(prefix), n - 2);
                        key[n - 2] = '\0';
                        const char *v = jstr(json_object_get(meta, field), key);
                        return ferry_xstrdup(v ? v : "");
                }
        }
        return NULL;
}

/* labels / annotations as the downward API writes them: sorted k="v" lines */
static char *format_map(const json_t *map)
{
        struct ferry_buf b = FERRY_BUF_INIT;
        const char *k, **keys = ferry_xcalloc(json_object_size(map) + 1, sizeof(*keys));
        json_t *v;
        size_t n = 0;

        json_object_foreach((json_t *)map, k, v) keys[n++] = k;
        qsort(keys, n, sizeof(*keys), cmp_keys);
        for (size_t i = 0; i < n; i++) {
                if (i)
                        ferry_buf_addc(&b, '\n');
                ferry_buf_adds(&b, keys[i]);
                ferry_buf_addc(&b, '=');
                ferry_buf_add_json_str(&b, jstr(map, keys[i]));
        }
        free(keys);
        return ferry_buf_steal(&b);
}

static int resolve_env(struct podctx *p, json_t *c)
{
        const char *cname = jstr(c, "name");
        json_t *env_in = json_object_get(c, "env");
        json_t *efs = json_object_get(c, "envFrom");
        json_t *env, *e;
        size_t i;
        int r;

        if ((env_in && !json_is_array(env_in) && !json_is_null(env_in)) ||
            (efs && !json_is_array(efs) && !json_is_null(efs)))
                return ferry_errprintf(
                    p->err, -EINVAL, "pod \"%s\": container \"%s\": env and envFrom must be lists",
                    p->name, cname);
        if (json_array_size(env_in) == 0 && json_array_size(efs) == 0)
                return 0;
        env = json_array();
        json_array_foreach(efs, i, e) if ((r = env_from(p, cname, e, env)) < 0) goto fail;
        json_array_foreach(env_in, i, e)
        {
                const char *name = jstr(e, "name");
                json_t *vf = json_object_get(e, "valueFrom");
                json_t *ref;
                if (!name || !name[0]) {
                        r = ferry_errprintf(p->err, -EINVAL,
                                            "pod \"%s\": container \"%s\": env entry #%zu has no "
                                            "name",
                                            p->name, cname, i + 1);
                        goto fail;
                }
                if (!json_is_object(vf)) {
                        json_t *ev = json_deep_copy(e);
                        if (to_string_value(ev, "value", json_object_get(ev, "value")) < 0) {
                                json_decref(ev);
                                r = ferry_errprintf(p->err, -EINVAL,
                                                    "pod \"%s\": container \"%s\": env %s must "
                                                    "be a string",
                                                    p->name, cname, name);
                                goto fail;
                        }
                        env_set(env, name, jstr(ev, "value") ? jstr(ev, "value") : "");
                        json_decref(ev);
                        continue;
                }
                bool secret = false;
                ref = json_object_get(vf, "configMapKeyRef");
                if (!ref && (ref = json_object_get(vf, "secretKeyRef")))
                        secret = true;
                if (json_is_object(ref)) {
                        const char *oname = jstr(ref, "name"), *key = jstr(ref, "key");
                        json_t *obj =
                            find(secret ? p->os->secrets : p->os->configmaps, p->ns, oname);
                        _cleanup_free_ char *val = NULL;
                        bool found = false;
                        char where[200];
                        if (!obj) {
                                if (jbool(ref, "optional"))
                                        continue;
                                snprintf(where, sizeof(where),
                                         "container \"%s\": env %.80s:", cname, name);
                                r = missing(p, secret ? "Secret" : "ConfigMap", oname, where);
                                goto fail;
                        }
                        r = object_value(p, obj, secret, key ? key : "", &val, &found);
                        if (r < 0)
                                goto fail;
                        if (!found) {
                                if (jbool(ref, "optional"))
                                        continue;
                                r = ferry_errprintf(p->err, -ENOENT,
                                                    "pod \"%s\": container \"%s\": env %s: %s "
                                                    "\"%s\" has no key '%s'",
                                                    p->name, cname, name,
                                                    secret ? "Secret" : "ConfigMap", oname,
                                                    key ? key : "");
                                goto fail;
                        }
                        env_set(env, name, val);
                        continue;
                }
                ref = json_object_get(vf, "fieldRef");
                _cleanup_free_ char *fv = field_value(p, jstr(ref, "fieldPath"));
                if (fv) {
                        env_set(env, name, fv);
                        continue;
                }
                /* status.podIP, resourceFieldRef...: only the site knows; pass it on */
                json_array_append(env, e);
        }
        json_object_set_new(c, "env", env);
        json_object_del(c, "envFrom");
        return 0;
fail:
        json_decref(env);
        return r;
}

static bool valid_item_path(const char *path)
{
        return path && path[0] && path[0] != '/' && !strstr(path, "..");
}

/* Copy a ConfigMap/Secret source (all keys, or its items) into the flat map. */
static int project_source(struct podctx *p, const char *vname, const json_t *src, bool secret,
                          json_t *data, json_t *bin)
{
        const char *oname = jstr(src, "name");
        json_t *obj = find(secret ? p->os->secrets : p->os->configmaps, p->ns, oname);
        const json_t *items = json_object_get(src, "items");
        json_t *odata, *obin, *v, *it;
        const char *k;
        size_t i;
        char where[200];

        if (!obj) {
                if (jbool(src, "optional"))
                        return 0;
                snprintf(where, sizeof(where), "projected volume \"%s\":", vname);
                return missing(p, secret ? "Secret" : "ConfigMap", oname, where);
        }
        odata = json_object_get(obj, "data");
        obin = secret ? NULL : json_object_get(obj, "binaryData");

        /* the (key, path) pairs to copy */
        json_t *pairs = json_array();
        if (json_array_size(items) > 0) {
                json_array_foreach(items, i, it)
                {
                        json_t *pr = json_pack("[ss]", jstr(it, "key") ? jstr(it, "key") : "",
                                               jstr(it, "path") ? jstr(it, "path") : "");
                        json_array_append_new(pairs, pr);
                }
        } else {
                json_object_foreach(odata, k, v)
                    json_array_append_new(pairs, json_pack("[ss]", k, k));
                json_object_foreach(obin, k, v)
                    json_array_append_new(pairs, json_pack("[ss]", k, k));
        }
        json_array_foreach(pairs, i, it)
        {
                const char *key = json_string_value(json_array_get(it, 0));
                const char *path = json_string_value(json_array_get(it, 1));
                const char *sv = jstr(odata, key);
                if (!valid_item_path(path)) {
                        json_decref(pairs);
                        return ferry_errprintf(p->err, -EINVAL,
                                               "pod \"%s\": projected volume \"%s\": item path "
                                               "'%s' must be relative and without '..'",
                                               p->name, vname, path);
                }
                if (!sv && !jstr(obin, key)) {
                        if (jbool(src, "optional"))
                                continue;
                        json_decref(pairs);
                        return ferry_errprintf(p->err, -ENOENT,
                                               "pod \"%s\": projected volume \"%s\": %s \"%s\" "
                                               "has no key '%s'",
                                               p->name, vname, secret ? "Secret" : "ConfigMap",
                                               oname, key);
                }
                if (!sv) {
                        json_object_set_new(bin, path, json_string(jstr(obin, key)));
                } else if (!secret) {
                        json_object_set_new(data, path, json_string(sv));
                } else {
                        unsigned char *dec;
                        size_t n;
                        if (ferry_base64_decode_strict(sv, &dec, &n) < 0) {
                                json_decref(pairs);
                                return ferry_errprintf(p->err, -EINVAL,
                                                       "Secret \"%s\": key '%s' is not base64",
                                                       oname, key);
                        }
                        /* plain data when it is text; binary stays base64 */
                        if (!memchr(dec, 0, n) && ferry_utf8_valid(dec, n))
                                json_object_set_new(data, path, json_stringn((char *)dec, n));
                        else
                                json_object_set_new(bin, path, json_string(sv));
                        free(dec);
                }
        }
        json_decref(pairs);
        return 0;
}

static int project_downward(struct podctx *p, const char *vname, const json_t *src, json_t *data)
{
        const json_t *items = json_object_get(src, "items");
        const json_t *meta = json_object_get(p->pod, "metadata");
        json_t *it;
        size_t i;

        json_array_foreach(items, i, it)
        {
                const char *path = jstr(it, "path");
                const char *fp = jstr(json_object_get(it, "fieldRef"), "fieldPath");
                char *v = NULL;

                if (!valid_item_path(path))
                        return ferry_errprintf(p->err, -EINVAL,
                                               "pod \"%s\": volume \"%s\": downwardAPI item path "
                                               "'%s' must be relative and without '..'",
                                               p->name, vname, path ? path : "");
                if (fp && strcmp(fp, "metadata.labels") == 0)
                        v = format_map(json_object_get(meta, "labels"));
                else if (fp && strcmp(fp, "metadata.annotations") == 0)
                        v = format_map(json_object_get(meta, "annotations"));
                else
                        v = field_value(p, fp);
                if (!v)
                        return ferry_errprintf(p->err, -EINVAL,
                                               "pod \"%s\": volume \"%s\": downwardAPI item '%s' "
                                               "asks for %s, which ferry cannot know before the "
                                               "pod runs (use metadata.name, namespace, uid, "
                                               "labels or annotations)",
                                               p->name, vname, path,
                                               fp ? fp : "a resourceFieldRef");
                json_object_set_new(data, path, json_string(v));
                free(v);
        }
        return 0;
}

static int flatten_projected(struct podctx *p, const char *vname, const json_t *proj, json_t *out)
{
        const json_t *sources = json_object_get(proj, "sources");
        json_t *cm = json_object(), *data = json_object(), *bin = json_object(), *s;
        size_t i;
        int r = 0;

        json_array_foreach(sources, i, s)
        {
                json_t *x;
                if ((x = json_object_get(s, "configMap")))
                        r = project_source(p, vname, x, false, data, bin);
                else if ((x = json_object_get(s, "secret")))
                        r = project_source(p, vname, x, true, data, bin);
                else if ((x = json_object_get(s, "downwardAPI")))
                        r = project_downward(p, vname, x, data);
                /* serviceAccountToken, clusterTrustBundle: no cluster behind ferry run */
                if (r < 0)
                        break;
        }
        if (r < 0) {
                json_decref(cm);
                json_decref(data);
                json_decref(bin);
                return r;
        }
        json_object_set_new(cm, "apiVersion", json_string("v1"));
        json_object_set_new(cm, "kind", json_string("ConfigMap"));
        json_object_set_new(cm, "metadata", json_pack("{ssss}", "name", vname, "namespace", p->ns));
        json_object_set_new(cm, "data", data);
        if (json_object_size(bin) > 0)
                json_object_set_new(cm, "binaryData", bin);
        else
                json_decref(bin);
        json_array_append_new(out, cm);
        return 0;
}

static void append_once(json_t *list, json_t *obj)
{
        size_t i;
        json_t *o;

        json_array_foreach(list, i, o) if (o == obj) return;
        json_array_append(list, obj);
}

static bool has_volume(const json_t *volumes, const char *name)
{
        size_t i;
        json_t *v;

        json_array_foreach(volumes, i, v) if (name && jstr(v, "name") &&
                                              strcmp(jstr(v, "name"), name) == 0) return true;
        return false;
}

static int check_containers(struct podctx *p, json_t *spec, json_t *all)
{
        static const char *const lists[] = {"initContainers", "containers"};
        const json_t *volumes = json_object_get(spec, "volumes");

        for (size_t l = 0; l < 2; l++) {
                json_t *cs = json_object_get(spec, lists[l]), *c, *m;
                size_t i, j;

                if (cs && !json_is_array(cs) && !json_is_null(cs))
                        return ferry_errprintf(p->err, -EINVAL,
                                               "pod \"%s\": spec.%s must be a list", p->name,
                                               lists[l]);
                if (l == 1 && json_array_size(cs) == 0)
                        return ferry_errprintf(p->err, -EINVAL,
                                               "pod \"%s\" has no containers (spec.containers)",
                                               p->name);
                json_array_foreach(cs, i, c)
                {
                        const char *cn = jstr(c, "name");
                        if (!json_is_object(c) || !cn || !ferry_is_dns_label(cn))
                                return ferry_errprintf(p->err, -EINVAL,
                                                       "pod \"%s\": %s #%zu needs a name that is "
                                                       "a DNS label (got '%s')",
                                                       p->name, lists[l], i + 1, cn ? cn : "");
                        for (j = 0; j < json_array_size(all); j++)
                                if (strcmp(json_string_value(json_array_get(all, j)), cn) == 0)
                                        return ferry_errprintf(p->err, -EINVAL,
                                                               "pod \"%s\": two containers are "
                                                               "named \"%s\"",
                                                               p->name, cn);
                        json_array_append_new(all, json_string(cn));
                        /* quantities are strings in Kubernetes JSON (`nvidia.com/gpu: 1`) */
                        for (size_t q = 0; q < 2; q++) {
                                const char *f = q ? "requests" : "limits";
                                char what[200];
                                snprintf(what, sizeof(what), "container \"%s\": resources.%s", cn,
                                         f);
                                int r = stringify_map(
                                    json_object_get(json_object_get(c, "resources"), f), what,
                                    p->err);
                                if (r < 0)
                                        return r;
                        }
                        json_array_foreach(json_object_get(c, "volumeMounts"), j, m) if (
                            !has_volume(
                                volumes,
                                jstr(m,
                                     "name"))) return ferry_errprintf(p->err, -EINVAL,
                                                                      "pod \"%s\": container "
                                                                      "\"%s\" mounts volume "
                                                                      "\"%s\", which spec.volumes "
                                                                      "does not define",
                                                                      p->name, cn,
                                                                      jstr(m, "name")
                                                                          ? jstr(m, "name")
                                                                          : "");
                        int r = resolve_env(p, c);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int translate_pod(struct objset *os, const json_t *src, const struct ferry_manifest_opts *o,
                         json_t **ret, ferry_error_t *err)
{
        json_t *pod = json_deep_copy(src);
        json_t *meta = jobject(pod, "metadata");
        json_t *spec = json_object_get(pod, "spec");
        json_t *cms = json_array(), *secs = json_array(), *proj = json_array();
        json_t *names = json_array();
        struct podctx p = {.os = os, .pod = pod, .err = err};
        char uid[37];
        json_t *v;
        size_t i;
        int r;

        /* uid first: generateName needs it */
        p.uid = jstr(meta, "uid");
        if (!p.uid || !p.uid[0]) {
                if (o && o->uid)
                        o->uid(o && o->uid_ctx ? o->uid_ctx : NULL, uid);
                else
                        ferry_uuid_generate(uid);
                json_object_set_new(meta, "uid", json_string(uid));
        }
        p.uid = jstr(meta, "uid");
        p.name = jstr(meta, "name");
        if ((!p.name || !p.name[0]) && jstr(meta, "generateName")) {
                /* the last five of the UID: its random part */
                char *n =
                    ferry_xasprintf("%s%s", jstr(meta, "generateName"), p.uid + strlen(p.uid) - 5);
                json_object_set_new(meta, "name", json_string(n));
                free(n);
                p.name = jstr(meta, "name");
        }
        if (!p.name || !ferry_is_dns_subdomain(p.name)) {
                r = ferry_errprintf(err, -EINVAL,
                                    "a Pod needs metadata.name, a lowercase DNS name (got '%s')",
                                    p.name ? p.name : "");
                goto fail;
        }
        if (!ferry_is_uuid(p.uid)) {
                r = ferry_errprintf(err, -EINVAL,
                                    "pod \"%s\": metadata.uid '%s' is not a lowercase UUID (leave "
                                    "it out and ferry makes one)",
                                    p.name, p.uid);
                goto fail;
        }
        r = fill_namespace(pod, os->ns_forced, "Pod", p.name, err);
        if (r < 0)
                goto fail;
        p.ns = jstr(meta, "namespace");
        for (i = 0; i < 2; i++) {
                char what[300];
                const char *f = i ? "annotations" : "labels";
                snprintf(what, sizeof(what), "pod \"%s\": metadata.%s", p.name, f);
                if ((r = stringify_map(json_object_get(meta, f), what, err)) < 0)
                        goto fail;
        }
        if (!json_is_object(spec)) {
                r = ferry_errprintf(err, -EINVAL, "pod \"%s\" has no spec", p.name);
                goto fail;
        }
        json_object_del(pod, "status"); /* from `kubectl get -o yaml` */
        r = check_containers(&p, spec, names);
        if (r < 0)
                goto fail;

        json_array_foreach(json_object_get(spec, "volumes"), i, v)
        {
                const char *vname = jstr(v, "name");
                json_t *x, *obj;
                if (!vname || !ferry_is_dns_label(vname)) {
                        r = ferry_errprintf(err, -EINVAL,
                                            "pod \"%s\": volume #%zu needs a name that is a DNS "
                                            "label",
                                            p.name, i + 1);
                        goto fail;
                }
                if ((x = json_object_get(v, "configMap"))) {
                        obj = find(os->configmaps, p.ns, jstr(x, "name"));
                        if (obj)
                                append_once(cms, obj);
                        else if (!jbool(x, "optional")) {
                                char where[120];
                                snprintf(where, sizeof(where), "volume \"%s\":", vname);
                                r = missing(&p, "ConfigMap", jstr(x, "name"), where);
                                goto fail;
                        }
                } else if ((x = json_object_get(v, "secret"))) {
                        obj = find(os->secrets, p.ns, jstr(x, "secretName"));
                        if (obj)
                                append_once(secs, obj);
                        else if (!jbool(x, "optional")) {
                                char where[120];
                                snprintf(where, sizeof(where), "volume \"%s\":", vname);
                                r = missing(&p, "Secret", jstr(x, "secretName"), where);
                                goto fail;
                        }
                } else if ((x = json_object_get(v, "projected"))) {
                        if ((r = flatten_projected(&p, vname, x, proj)) < 0)
                                goto fail;
                } else if ((x = json_object_get(v, "downwardAPI"))) {
                        /* a plain downwardAPI volume travels as a projected one, so that a
                         * backend finds its files where it looks for projected volumes */
                        json_t *wrap = json_pack("{s[{sO}]}", "sources", "downwardAPI", x);
                        json_t *mode = json_object_get(x, "defaultMode");
                        if (mode)
                                json_object_set(wrap, "defaultMode", mode);
                        r = flatten_projected(&p, vname, wrap, proj);
                        if (r < 0) {
                                json_decref(wrap);
                                goto fail;
                        }
                        json_object_del(v, "downwardAPI");
                        json_object_set_new(v, "projected", wrap);
                }
        }
        json_decref(names);
        *ret = json_pack("{sososososs}", "pod", pod, "configmaps", cms, "secrets", secs,
                         "projectedvolumesmaps", proj, "jobscriptURL", "");
        return 0;
fail:
        json_decref(names);
        json_decref(pod);
        json_decref(cms);
        json_decref(secs);
        json_decref(proj);
        return r;
}

int ferry_manifest_translate(const json_t *objects, const struct ferry_manifest_opts *opts,
                             json_t **ret_requests, ferry_error_t *err)
{
        struct objset os = {
            .ns_forced = opts ? opts->namespace : NULL,
            .configmaps = json_array(),
            .secrets = json_array(),
            .err = err,
        };
        json_t *out = json_array(), *o;
        size_t i;
        int r = collect(&os, objects, err);

        if (r < 0)
                goto out;
        json_array_foreach(objects, i, o)
        {
                json_t *req = NULL;
                if (strcmp(jstr(o, "kind"), "Pod") != 0)
                        continue;
                r = translate_pod(&os, o, opts, &req, err);
                if (r < 0)
                        goto out;
                json_array_append_new(out, req);
        }
        if (json_array_size(out) == 0)
                r = ferry_errprintf(err, -EINVAL, "the manifests contain no Pod (kind: Pod)");
out:
        json_decref(os.configmaps);
        json_decref(os.secrets);
        if (r < 0) {
                json_decref(out);
                return r;
        }
        *ret_requests = out;
        return 0;
}
