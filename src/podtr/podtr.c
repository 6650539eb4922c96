/* SPDX-License-Identifier: MIT */
/*
 * Pod -> PodCreateRequests (see podtr.h): which objects a pod needs, its
 * volumes (configMap and secret volumes carry their objects, projected and
 * downwardAPI volumes are flattened into one ConfigMap each) and the request
 * around them. Env resolution is in env.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/base64.h"
#include "common/util.h"
#include "podtr_internal.h"

/* ---- what a pod needs ---- */

char *ferry_podtr_token_key(const char *audience, json_int_t seconds)
{
        return ferry_xasprintf("%s|%lld", audience ? audience : "", (long long)seconds);
}

static json_int_t token_seconds(const json_t *sat)
{
        json_int_t s = json_integer_value(json_object_get(sat, "expirationSeconds"));
        if (s <= 0)
                s = FERRY_PODTR_TOKEN_DEFAULT_S;
        if (s < FERRY_PODTR_TOKEN_MIN_S)
                s = FERRY_PODTR_TOKEN_MIN_S;
        return s;
}

static void need(json_t *set, const json_t *ref, const char *name_key)
{
        const char *name = podtr_sget(ref, name_key);
        if (!ref || !name || !name[0])
                return;
        bool required = !json_is_true(json_object_get(ref, "optional")) ||
                        json_is_true(json_object_get(set, name));
        json_object_set_new(set, name, json_boolean(required));
}

json_t *ferry_podtr_needs(const json_t *pod)
{
        static const char *const lists[] = {"initContainers", "containers"};
        json_t *cms = json_object(), *secs = json_object(), *toks = json_object();
        const json_t *spec = json_object_get(pod, "spec");
        size_t i, j;
        json_t *v, *e;

        for (size_t l = 0; l < FERRY_ARRAY_SIZE(lists); l++)
                json_array_foreach(json_object_get(spec, lists[l]), i, v)
                {
                        json_array_foreach(json_object_get(v, "envFrom"), j, e)
                        {
                                need(cms, json_object_get(e, "configMapRef"), "name");
                                need(secs, json_object_get(e, "secretRef"), "name");
                        }
                        json_array_foreach(json_object_get(v, "env"), j, e)
                        {
                                json_t *vf = json_object_get(e, "valueFrom");
                                need(cms, json_object_get(vf, "configMapKeyRef"), "name");
                                need(secs, json_object_get(vf, "secretKeyRef"), "name");
                        }
                }
        json_array_foreach(json_object_get(spec, "volumes"), i, v)
        {
                need(cms, json_object_get(v, "configMap"), "name");
                need(secs, json_object_get(v, "secret"), "secretName");
                json_array_foreach(json_object_get(json_object_get(v, "projected"), "sources"), j,
                                   e)
                {
                        json_t *sat = json_object_get(e, "serviceAccountToken");
                        need(cms, json_object_get(e, "configMap"), "name");
                        need(secs, json_object_get(e, "secret"), "name");
                        if (sat) {
                                const char *aud = podtr_sget(sat, "audience");
                                json_int_t secs_ = token_seconds(sat);
                                _cleanup_free_ char *key = ferry_podtr_token_key(aud, secs_);
                                json_object_set_new(
                                    toks, key,
                                    json_pack("{s:o,s:I}", "audience",
                                              aud && aud[0] ? json_string(aud) : json_null(),
                                              "expirationSeconds", secs_));
                        }
                }
        }
        return json_pack("{s:o,s:o,s:o}", "configmaps", cms, "secrets", secs, "tokens", toks);
}

/* ---- lookups and their errors ---- */

const json_t *podtr_lookup(const struct podtr_ctx *c, bool secret, const char *name)
{
        return name ? json_object_get(secret ? c->o->secrets : c->o->configmaps, name) : NULL;
}

static void set_missing(struct podtr_ctx *c, const char *kind, const char *name, const char *key,
                        const char *where)
{
        if (!c->missing)
                return;
        snprintf(c->missing->kind, sizeof(c->missing->kind), "%s", kind);
        snprintf(c->missing->name, sizeof(c->missing->name), "%s", name ? name : "");
        snprintf(c->missing->key, sizeof(c->missing->key), "%s", key ? key : "");
        snprintf(c->missing->where, sizeof(c->missing->where), "%s", where);
}

int podtr_not_found(struct podtr_ctx *c, bool secret, const char *name, const char *where)
{
        set_missing(c, secret ? "Secret" : "ConfigMap", name, NULL, where);
        return ferry_errprintf(c->err, -ENOENT, "%s \"%s\" not found",
                               secret ? "secret" : "configmap", name ? name : "");
}

int podtr_no_key(struct podtr_ctx *c, bool secret, const char *name, const char *key,
                 const char *where)
{
        set_missing(c, secret ? "Secret" : "ConfigMap", name, key, where);
        return ferry_errprintf(c->err, -ENOENT, "couldn't find key %s in %s %s/%s", key,
                               secret ? "Secret" : "ConfigMap", c->ns, name ? name : "");
}

/* ---- projected volumes ---- */

/* Kubernetes' rule for item paths: relative, no ".." element. */
static bool item_path_ok(const char *path)
{
        if (!path || !path[0] || path[0] == '/')
                return false;
        for (const char *p = path; p;) {
                const char *slash = strchr(p, '/');
                size_t n = slash ? (size_t)(slash - p) : strlen(p);
                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return false;
                p = slash ? slash + 1 : NULL;
        }
        return true;
}

static int bad_path(struct podtr_ctx *c, const char *vname, const char *path)
{
        return ferry_errprintf(c->err, -EINVAL,
                               "projected volume \"%s\": item path '%s' must be relative and "
                               "without '..'",
                               vname, path ? path : "");
}

struct flat {
        json_t *data; /* path -> text */
        json_t *bin;  /* path -> base64 */
};

/* A ConfigMap or Secret source: its items, or all its keys. */
static int project_object(struct podtr_ctx *c, const char *vname, const json_t *src, bool secret,
                          struct flat *f)
{
        const char *oname = podtr_sget(src, "name");
        const json_t *obj = podtr_lookup(c, secret, oname);
        const json_t *items = json_object_get(src, "items");
        bool optional = json_is_true(json_object_get(src, "optional"));
        const json_t *odata, *obin;
        json_t *pairs, *it, *v;
        const char *k;
        size_t i;
        char where[200];
        int r = 0;

        snprintf(where, sizeof(where), "projected volume \"%s\"", vname);
        if (!obj)
                return optional ? 0 : podtr_not_found(c, secret, oname, where);
        odata = json_object_get(obj, "data");
        obin = secret ? NULL : json_object_get(obj, "binaryData");

        pairs = json_array(); /* [key, path] */
        if (json_array_size(items) > 0) {
                json_array_foreach(items, i, it)
                    json_array_append_new(pairs, json_pack("[ss]", podtr_sget(it, "key") ?: "",
                                                           podtr_sget(it, "path") ?: ""));
        } else {
                json_object_foreach((json_t *)odata, k, v)
                    json_array_append_new(pairs, json_pack("[ss]", k, k));
                json_object_foreach((json_t *)obin, k, v)
                    json_array_append_new(pairs, json_pack("[ss]", k, k));
        }
        json_array_foreach(pairs, i, it)
        {
                const char *key = json_string_value(json_array_get(it, 0));
                const char *path = json_string_value(json_array_get(it, 1));
                const char *sv = podtr_sget(odata, key);
                unsigned char *dec;
                size_t n;

                if (!item_path_ok(path)) {
                        r = bad_path(c, vname, path);
                        break;
                }
                if (!sv && !podtr_sget(obin, key)) {
                        if (optional)
                                continue;
                        r = podtr_no_key(c, secret, oname, key, where);
                        break;
                }
                if (!sv) { /* a ConfigMap's binaryData: already base64 */
                        json_object_set(f->bin, path, json_object_get(obin, key));
                        continue;
                }
                if (!secret) {
                        json_object_set_new(f->data, path, json_string(sv));
                        continue;
                }
                if (ferry_base64_decode_strict(sv, &dec, &n) < 0) {
                        r = ferry_errprintf(c->err, -EINVAL,
                                            "secret \"%s\": key '%s' is not base64", oname, key);
                        break;
                }
                /* plain data when it is text; binary stays base64 */
                if (!memchr(dec, 0, n) && ferry_utf8_valid(dec, n))
                        json_object_set_new(f->data, path, json_stringn((char *)dec, n));
                else
                        json_object_set_new(f->bin, path, json_string(sv));
                free(dec);
        }
        json_decref(pairs);
        return r;
}

static int project_downward(struct podtr_ctx *c, const char *vname, const json_t *src,
                            struct flat *f)
{
        json_t *it, *ref;
        size_t i;

        json_array_foreach(json_object_get(src, "items"), i, it)
        {
                const char *path = podtr_sget(it, "path");
                _cleanup_free_ char *v = NULL;
                int r;

                if (!item_path_ok(path))
                        return bad_path(c, vname, path);
                if ((ref = json_object_get(it, "fieldRef")))
                        r = podtr_field_value(c, podtr_sget(ref, "fieldPath"), &v);
                else if ((ref = json_object_get(it, "resourceFieldRef")))
                        r = podtr_resource_value(
                            c, podtr_find_container(c, podtr_sget(ref, "containerName")), ref, &v);
                else
                        r = ferry_errprintf(c->err, -EINVAL,
                                            "projected volume \"%s\": downwardAPI item %s has no "
                                            "source",
                                            vname, path);
                if (r < 0)
                        return r;
                json_object_set_new(f->data, path, json_string(v));
        }
        return 0;
}

static int project_token(struct podtr_ctx *c, const char *vname, const json_t *src, struct flat *f)
{
        const char *path = podtr_sget(src, "path");
        const char *tok;

        if (!c->o->tokens)
                return 0; /* no cluster to ask for one */
        if (!path)
                path = "token";
        if (!item_path_ok(path))
                return bad_path(c, vname, path);
        _cleanup_free_ char *key =
            ferry_podtr_token_key(podtr_sget(src, "audience"), token_seconds(src));
        tok = podtr_sget(c->o->tokens, key);
        if (!tok) {
                set_missing(c, "token", vname, NULL, "");
                return ferry_errprintf(c->err, -ENOENT, "no service-account token for volume %s",
                                       vname);
        }
        json_object_set_new(f->data, path, json_string(tok));
        return 0;
}

/* The ConfigMap that stands for projected volume vname. */
static int flatten(struct podtr_ctx *c, const char *vname, const json_t *proj, json_t **ret)
{
        struct flat f = {.data = json_object(), .bin = json_object()};
        json_t *src, *x;
        size_t i;
        int r = 0;

        json_array_foreach(json_object_get(proj, "sources"), i, src)
        {
                if ((x = json_object_get(src, "configMap")))
                        r = project_object(c, vname, x, false, &f);
                else if ((x = json_object_get(src, "secret")))
                        r = project_object(c, vname, x, true, &f);
                else if ((x = json_object_get(src, "downwardAPI")))
                        r = project_downward(c, vname, x, &f);
                else if ((x = json_object_get(src, "serviceAccountToken")))
                        r = project_token(c, vname, x, &f);
                else {
                        const char *k = "(empty)";
                        json_t *unused;
                        json_object_foreach(src, k, unused) break;
                        r = ferry_errprintf(
                            c->err, -EINVAL,
                            "projected volume %s: source %s is not supported on a virtual node",
                            vname, k);
                }
                if (r < 0)
                        break;
        }
        if (r < 0) {
                json_decref(f.data);
                json_decref(f.bin);
                return r;
        }
        *ret = json_pack("{s:s,s:s,s:{s:s,s:s},s:o}", "apiVersion", "v1", "kind", "ConfigMap",
                         "metadata", "name", vname, "namespace", c->ns, "data", f.data);
        if (json_object_size(f.bin))
                json_object_set(*ret, "binaryData", f.bin);
        json_decref(f.bin);
        return 0;
}

/* ---- the request ---- */

static json_t *strip(const json_t *obj)
{
        json_t *c = json_deep_copy(obj);
        json_object_del(json_object_get(c, "metadata"), "managedFields");
        return c;
}

/* configMap and secret volumes: the object, once per pod */
static int volume_object(struct podtr_ctx *c, const char *vname, const json_t *ref, bool secret,
                         json_t *list, json_t *seen)
{
        const char *oname = podtr_sget(ref, secret ? "secretName" : "name");
        const json_t *obj = podtr_lookup(c, secret, oname);
        char where[200];

        if (!obj) {
                if (json_is_true(json_object_get(ref, "optional")))
                        return 0;
                snprintf(where, sizeof(where), "volume \"%s\"", vname);
                return podtr_not_found(c, secret, oname, where);
        }
        _cleanup_free_ char *k = ferry_xasprintf("%c/%s", secret ? 's' : 'c', oname);
        if (!json_object_get(seen, k)) {
                json_object_set_new(seen, k, json_true());
                json_array_append_new(list, strip(obj));
        }
        return 0;
}

static int volumes(struct podtr_ctx *c, json_t *spec, json_t *cms, json_t *secs, json_t *proj)
{
        json_t *seen = json_object(), *v, *x;
        size_t i, total = 0;
        int r = 0;

        json_array_foreach(json_object_get(spec, "volumes"), i, v)
        {
                const char *vname = podtr_sget(v, "name");
                json_t *flat = NULL;

                if (!vname)
                        vname = "";
                if ((x = json_object_get(v, "configMap"))) {
                        r = volume_object(c, vname, x, false, cms, seen);
                } else if ((x = json_object_get(v, "secret"))) {
                        r = volume_object(c, vname, x, true, secs, seen);
                } else if ((x = json_object_get(v, "projected"))) {
                        r = flatten(c, vname, x, &flat);
                } else if ((x = json_object_get(v, "downwardAPI"))) {
                        /* a plain downwardAPI volume travels as a projected one, so that a
                         * site finds its files where it finds those of projected volumes */
                        json_t *src = json_deep_copy(x);
                        json_t *wrap = json_pack("{s:[{s:o}]}", "sources", "downwardAPI", src);
                        json_t *mode = json_object_get(x, "defaultMode");
                        if (mode) { /* a volume's setting, not a projection source's */
                                json_object_set(wrap, "defaultMode", mode);
                                json_object_del(src, "defaultMode");
                        }
                        r = flatten(c, vname, wrap, &flat);
                        json_object_del(v, "downwardAPI");
                        json_object_set_new(v, "projected", wrap);
                }
                if (r < 0)
                        break;
                if (flat) {
                        char *dump = json_dumps(flat, JSON_COMPACT);
                        total += dump ? strlen(dump) : 0;
                        free(dump);
                        json_array_append_new(proj, flat);
                        if (total > FERRY_PODTR_MAX_PROJECTED_BYTES) {
                                r = ferry_errprintf(c->err, -E2BIG,
                                                    "projected volumes hold more than %u MiB",
                                                    FERRY_PODTR_MAX_PROJECTED_BYTES >> 20);
                                break;
                        }
                }
        }
        json_decref(seen);
        return r;
}

int ferry_podtr_build(const json_t *pod, const struct ferry_podtr_objects *o, json_t **ret,
                      struct ferry_podtr_missing *missing, ferry_error_t *err)
{
        static const char *const lists[] = {"initContainers", "containers"};
        static const struct ferry_podtr_objects none = {0};
        const char *ns = podtr_sget(json_object_get(pod, "metadata"), "namespace");
        struct podtr_ctx c = {
            .pod = pod, .ns = ns ? ns : "", .o = o ? o : &none, .missing = missing, .err = err};
        json_t *p = strip(pod);
        json_t *spec = json_object_get(p, "spec");
        json_t *cms = json_array(), *secs = json_array(), *proj = json_array();
        json_t *v;
        size_t i;
        int r = 0;

        if (!json_is_object(spec)) {
                r = ferry_errprintf(err, -EINVAL, "the pod has no spec");
                goto fail;
        }
        for (size_t l = 0; l < FERRY_ARRAY_SIZE(lists); l++)
                json_array_foreach(json_object_get(spec, lists[l]), i, v)
                {
                        if ((r = podtr_resolve_env(&c, v)) < 0)
                                goto fail;
                }
        if ((r = volumes(&c, spec, cms, secs, proj)) < 0)
                goto fail;
        *ret = json_pack("{s:o,s:o,s:o,s:o,s:s}", "pod", p, "configmaps", cms, "secrets", secs,
                         "projectedvolumesmaps", proj, "jobscriptURL", "");
        return 0;
fail:
        json_decref(p);
        json_decref(cms);
        json_decref(secs);
        json_decref(proj);
        return r;
}
