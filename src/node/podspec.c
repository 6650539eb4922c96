/* SPDX-License-Identifier: MIT */
/*
 * From a Kubernetes pod to the hop-A PodCreateRequests: which objects the pod
 * needs, env resolution (envFrom, valueFrom) and projected-volume flattening.
 * Pure: the caller fetched the objects (see node.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/base64.h"
#include "common/util.h"
#include "kube/kube.h"
#include "node.h"

#define MAX_ENV 1024
#define MAX_PROJECTED_BYTES (4u << 20)

static const char *sget(const json_t *o, const char *k)
{
        return json_string_value(json_object_get(o, k));
}

static void need(json_t *set, const char *name, bool optional)
{
        if (!name || !name[0])
                return;
        json_t *cur = json_object_get(set, name);
        bool required = !optional || json_is_true(cur);
        json_object_set_new(set, name, json_boolean(required));
}

char *ferry_node_token_key(const char *audience, json_int_t seconds)
{
        return ferry_xasprintf("%s|%lld", audience ? audience : "", (long long)seconds);
}

static json_int_t token_seconds(const json_t *sat)
{
        json_int_t s = json_integer_value(json_object_get(sat, "expirationSeconds"));
        if (s <= 0)
                s = FERRY_NODE_TOKEN_DEFAULT_S;
        if (s < FERRY_NODE_TOKEN_MIN_S)
                s = FERRY_NODE_TOKEN_MIN_S;
        return s;
}

static void container_needs(const json_t *c, json_t *cms, json_t *secs)
{
        size_t i;
        json_t *e;

        json_array_foreach(json_object_get(c, "envFrom"), i, e)
        {
                json_t *cm = json_object_get(e, "configMapRef");
                json_t *s = json_object_get(e, "secretRef");
                if (cm)
                        need(cms, sget(cm, "name"), json_is_true(json_object_get(cm, "optional")));
                if (s)
                        need(secs, sget(s, "name"), json_is_true(json_object_get(s, "optional")));
        }
        json_array_foreach(json_object_get(c, "env"), i, e)
        {
                json_t *vf = json_object_get(e, "valueFrom");
                json_t *cm = json_object_get(vf, "configMapKeyRef");
                json_t *s = json_object_get(vf, "secretKeyRef");
                if (cm)
                        need(cms, sget(cm, "name"), json_is_true(json_object_get(cm, "optional")));
                if (s)
                        need(secs, sget(s, "name"), json_is_true(json_object_get(s, "optional")));
        }
}

json_t *ferry_node_pod_needs(const json_t *pod)
{
        json_t *cms = json_object(), *secs = json_object(), *toks = json_object();
        json_t *spec = json_object_get(pod, "spec");
        const char *lists[] = {"initContainers", "containers", "ephemeralContainers"};
        size_t i, j;
        json_t *v, *src;

        for (size_t l = 0; l < FERRY_ARRAY_SIZE(lists); l++)
                json_array_foreach(json_object_get(spec, lists[l]), i, v)
                    container_needs(v, cms, secs);
        json_array_foreach(json_object_get(spec, "volumes"), i, v)
        {
                json_t *cm = json_object_get(v, "configMap");
                json_t *s = json_object_get(v, "secret");
                json_t *pr = json_object_get(v, "projected");
                if (cm)
                        need(cms, sget(cm, "name"), json_is_true(json_object_get(cm, "optional")));
                if (s)
                        need(secs, sget(s, "secretName"),
                             json_is_true(json_object_get(s, "optional")));
                json_array_foreach(json_object_get(pr, "sources"), j, src)
                {
                        json_t *pcm = json_object_get(src, "configMap");
                        json_t *ps = json_object_get(src, "secret");
                        json_t *sat = json_object_get(src, "serviceAccountToken");
                        if (pcm)
                                need(cms, sget(pcm, "name"),
                                     json_is_true(json_object_get(pcm, "optional")));
                        if (ps)
                                need(secs, sget(ps, "name"),
                                     json_is_true(json_object_get(ps, "optional")));
                        if (sat) {
                                const char *aud = sget(sat, "audience");
                                json_int_t secs_ = token_seconds(sat);
                                _cleanup_free_ char *key = ferry_node_token_key(aud, secs_);
                                json_object_set_new(
                                    toks, key,
                                    json_pack("{s:o,s:I}", "audience",
                                              aud && aud[0] ? json_string(aud) : json_null(),
                                              "expirationSeconds", (json_int_t)secs_));
                        }
                }
        }
        return json_pack("{s:o,s:o,s:o}", "configmaps", cms, "secrets", secs, "tokens", toks);
}

/* ---- value lookups ---- */

/* The decoded value of key in a ConfigMap (data or binaryData) or Secret
 * (data, base64; stringData is never stored by the API server). */
static int object_value(const json_t *obj, bool secret, const char *key, char **ret,
                        size_t *ret_len)
{
        const char *v;
        if (!secret && (v = sget(json_object_get(obj, "data"), key))) {
                *ret = ferry_xstrdup(v);
                *ret_len = strlen(v);
                return 0;
        }
        v = sget(json_object_get(obj, secret ? "data" : "binaryData"), key);
        if (!v)
                return -ENOENT;
        unsigned char *d;
        if (ferry_base64_decode(v, strlen(v), &d, ret_len) < 0)
                return -EINVAL;
        *ret = (char *)d;
        return 0;
}

static bool valid_utf8(const unsigned char *s, size_t n)
{
        for (size_t i = 0; i < n;) {
                unsigned char c = s[i];
                size_t k = c < 0x80         ? 1
                           : (c >> 5) == 6  ? 2
                           : (c >> 4) == 14 ? 3
                           : (c >> 3) == 30 ? 4
                                            : 0;
                if (!k || i + k > n || (c < 0x80 && c == 0))
                        return false;
                for (size_t j = 1; j < k; j++)
                        if ((s[i + j] & 0xc0) != 0x80)
                                return false;
                i += k;
        }
        return true;
}

static void sorted_map_text(struct ferry_buf *b, const json_t *m)
{
        /* the kubelet writes k="v" lines sorted by key, values %q-quoted */
        const char *keys[512];
        size_t n = 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)m, k, v)
        {
                if (n < FERRY_ARRAY_SIZE(keys))
                        keys[n++] = k;
        }
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
                        const char *t = keys[j];
                        keys[j] = keys[j - 1];
                        keys[j - 1] = t;
                }
        for (size_t i = 0; i < n; i++) {
                ferry_buf_adds(b, keys[i]);
                ferry_buf_addc(b, '=');
                ferry_buf_add_json_str(b, json_string_value(json_object_get(m, keys[i])));
                if (i + 1 < n)
                        ferry_buf_addc(b, '\n');
        }
}

/* metadata.labels['x'] -> ("labels", "x") */
static bool bracket_key(const char *path, const char *field, char *out, size_t out_size)
{
        size_t fl = strlen(field);
        if (strncmp(path, field, fl) || strncmp(path + fl, "['", 2))
                return false;
        const char *k = path + fl + 2;
        const char *end = strstr(k, "']");
        if (!end || end[2] || (size_t)(end - k) >= out_size)
                return false;
        memcpy(out, k, (size_t)(end - k));
        out[end - k] = '\0';
        return true;
}

static int field_value(const json_t *pod, const struct ferry_node_objects *o, const char *path,
                       char **ret, ferry_error_t *err)
{
        const json_t *meta = json_object_get(pod, "metadata");
        const json_t *spec = json_object_get(pod, "spec");
        char key[320];

        if (!path)
                return ferry_errprintf(err, -EINVAL, "fieldRef without fieldPath");
        if (!strcmp(path, "metadata.name") || !strcmp(path, "metadata.namespace") ||
            !strcmp(path, "metadata.uid")) {
                const char *v = sget(meta, path + strlen("metadata."));
                *ret = ferry_xstrdup(v ? v : "");
                return 0;
        }
        if (!strcmp(path, "metadata.labels") || !strcmp(path, "metadata.annotations")) {
                struct ferry_buf b = FERRY_BUF_INIT;
                sorted_map_text(&b, json_object_get(meta, path + strlen("metadata.")));
                *ret = b.data ? ferry_buf_steal(&b) : ferry_xstrdup("");
                return 0;
        }
        if (bracket_key(path, "metadata.labels", key, sizeof(key)) ||
            bracket_key(path, "metadata.annotations", key, sizeof(key))) {
                const char *which = path[9] == 'l' ? "labels" : "annotations";
                const char *v = sget(json_object_get(meta, which), key);
                *ret = ferry_xstrdup(v ? v : "");
                return 0;
        }
        if (!strcmp(path, "spec.nodeName")) {
                const char *v = sget(spec, "nodeName");
                *ret = ferry_xstrdup(v ? v : o->node_name ? o->node_name : "");
                return 0;
        }
        if (!strcmp(path, "spec.serviceAccountName")) {
                const char *v = sget(spec, "serviceAccountName");
                *ret = ferry_xstrdup(v ? v : "default");
                return 0;
        }
        if (!strcmp(path, "status.hostIP") || !strcmp(path, "status.hostIPs")) {
                *ret = ferry_xstrdup(o->host_ip ? o->host_ip : "");
                return 0;
        }
        if (!strcmp(path, "status.podIP") || !strcmp(path, "status.podIPs")) {
                /* the pod runs on a remote site: it has no cluster IP */
                *ret = ferry_xstrdup("");
                return 0;
        }
        return ferry_errprintf(err, -EINVAL, "fieldRef %s is not supported on a virtual node",
                               path);
}

/* resourceFieldRef: the container's limits/requests of cpu or memory, in
 * units of the divisor (default 1), rounded up like the kubelet. */
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

static int resource_value(const json_t *container, const json_t *rf, char **ret, ferry_error_t *err)
{
        const char *res = sget(rf, "resource");
        const char *div = sget(rf, "divisor");
        char which[16], name[64];
        double q = 0, d = 1;

        if (!res || sscanf(res, "%15[a-z].%63s", which, name) != 2 ||
            (strcmp(which, "limits") && strcmp(which, "requests")))
                return ferry_errprintf(err, -EINVAL, "resourceFieldRef %s is not supported",
                                       res ? res : "(none)");
        const char *v = sget(json_object_get(json_object_get(container, "resources"), which), name);
        if (!v && !strcmp(which, "requests")) /* requests default to limits */
                v = sget(json_object_get(json_object_get(container, "resources"), "limits"), name);
        if (v && parse_quantity(v, &q) < 0)
                return ferry_errprintf(err, -EINVAL, "cannot read quantity %s", v);
        if (div && (parse_quantity(div, &d) < 0 || d <= 0))
                return ferry_errprintf(err, -EINVAL, "cannot read divisor %s", div);
        double units = q / d;
        long long out = (long long)units;
        if ((double)out < units - 1e-9)
                out++;
        *ret = ferry_xasprintf("%lld", out);
        return 0;
}

static bool env_name_ok(const char *s)
{
        /* the kubelet accepts C_IDENTIFIER-ish names; refuse '=' and empty */
        if (!s[0])
                return false;
        for (const char *p = s; *p; p++)
                if (*p == '=' || (unsigned char)*p < 0x20)
                        return false;
        return true;
}

static int resolve_env(const json_t *pod, json_t *c, const struct ferry_node_objects *o,
                       ferry_error_t *err)
{
        const char *ns = sget(json_object_get(pod, "metadata"), "namespace");
        json_t *out = json_array();
        json_t *explicit_names = json_object();
        size_t i;
        json_t *e;
        int r = 0;

        json_array_foreach(json_object_get(c, "env"), i, e)
        {
                const char *n = sget(e, "name");
                if (n)
                        json_object_set_new(explicit_names, n, json_true());
        }
        /* envFrom first; explicit env entries win over envFrom keys */
        json_array_foreach(json_object_get(c, "envFrom"), i, e)
        {
                json_t *cmr = json_object_get(e, "configMapRef");
                json_t *sr = json_object_get(e, "secretRef");
                json_t *ref = cmr ? cmr : sr;
                bool secret = !cmr;
                const char *name = sget(ref, "name");
                const char *prefix = sget(e, "prefix");
                const json_t *obj =
                    json_object_get(secret ? o->secrets : o->configmaps, name ? name : "");
                if (!ref || !name)
                        continue;
                if (!obj) {
                        if (json_is_true(json_object_get(ref, "optional")))
                                continue;
                        r = ferry_errprintf(err, -ENOENT, "%s \"%s\" not found (envFrom of %s/%s)",
                                            secret ? "secret" : "configmap", name, ns ? ns : "",
                                            sget(c, "name"));
                        goto out;
                }
                const char *fields[] = {"data", "binaryData"};
                for (size_t f = 0; f < (secret ? 1u : 2u); f++) {
                        const char *k;
                        json_t *unused;
                        json_object_foreach(json_object_get(obj, fields[f]), k, unused)
                        {
                                _cleanup_free_ char *full =
                                    ferry_xasprintf("%s%s", prefix ? prefix : "", k);
                                _cleanup_free_ char *val = NULL;
                                size_t len;
                                if (!env_name_ok(full) || json_object_get(explicit_names, full))
                                        continue;
                                if (object_value(obj, secret, k, &val, &len) < 0)
                                        continue;
                                json_array_append_new(
                                    out, json_pack("{s:s,s:s%}", "name", full, "value", val, len));
                        }
                }
        }
        json_array_foreach(json_object_get(c, "env"), i, e)
        {
                json_t *vf = json_object_get(e, "valueFrom");
                const char *n = sget(e, "name");
                if (!n)
                        continue;
                if (!vf) {
                        const char *v = sget(e, "value");
                        json_array_append_new(
                            out, json_pack("{s:s,s:s}", "name", n, "value", v ? v : ""));
                        continue;
                }
                _cleanup_free_ char *val = NULL;
                size_t len = 0;
                json_t *cmk = json_object_get(vf, "configMapKeyRef");
                json_t *sk = json_object_get(vf, "secretKeyRef");
                if (cmk || sk) {
                        json_t *ref = cmk ? cmk : sk;
                        const char *name = sget(ref, "name"), *key = sget(ref, "key");
                        const json_t *obj =
                            json_object_get(sk ? o->secrets : o->configmaps, name ? name : "");
                        bool optional = json_is_true(json_object_get(ref, "optional"));
                        int vr =
                            obj && key ? object_value(obj, sk != NULL, key, &val, &len) : -ENOENT;
                        if (vr == -EINVAL) {
                                r = ferry_errprintf(err, -EINVAL,
                                                    "key %s of secret \"%s\" is not base64", key,
                                                    name);
                                goto out;
                        }
                        if (vr < 0) {
                                if (optional)
                                        continue;
                                if (!obj)
                                        r = ferry_errprintf(err, -ENOENT, "%s \"%s\" not found",
                                                            sk ? "secret" : "configmap",
                                                            name ? name : "");
                                else
                                        r = ferry_errprintf(
                                            err, -ENOENT, "couldn't find key %s in %s %s/%s",
                                            key ? key : "", sk ? "Secret" : "ConfigMap",
                                            ns ? ns : "", name);
                                goto out;
                        }
                } else if (json_object_get(vf, "fieldRef")) {
                        r = field_value(pod, o, sget(json_object_get(vf, "fieldRef"), "fieldPath"),
                                        &val, err);
                        if (r < 0)
                                goto out;
                        len = strlen(val);
                } else if (json_object_get(vf, "resourceFieldRef")) {
                        r = resource_value(c, json_object_get(vf, "resourceFieldRef"), &val, err);
                        if (r < 0)
                                goto out;
                        len = strlen(val);
                } else {
                        r = ferry_errprintf(err, -EINVAL, "env %s: unsupported valueFrom", n);
                        goto out;
                }
                json_array_append_new(out, json_pack("{s:s,s:s%}", "name", n, "value", val, len));
        }
        if (json_array_size(out) > MAX_ENV) {
                r = ferry_errprintf(err, -E2BIG,
                                    "container %s has more than %d environment variables",
                                    sget(c, "name"), MAX_ENV);
                goto out;
        }
        json_object_del(c, "envFrom");
        if (json_array_size(out) || json_object_get(c, "env"))
                json_object_set(c, "env", out);
out:
        json_decref(out);
        json_decref(explicit_names);
        return r;
}

/* ---- projected volumes ---- */

static void put_item(json_t *data, json_t *bin, const char *path, const char *v, size_t len)
{
        if (valid_utf8((const unsigned char *)v, len)) {
                json_object_set_new(data, path, json_stringn(v, len));
        } else {
                char *b = ferry_base64_encode((const unsigned char *)v, len);
                json_object_set_new(bin, path, json_string(b));
                free(b);
        }
}

static int project_object(const json_t *src, bool secret, const struct ferry_node_objects *o,
                          json_t *data, json_t *bin, ferry_error_t *err)
{
        const char *name = sget(src, "name");
        const json_t *obj = json_object_get(secret ? o->secrets : o->configmaps, name ? name : "");
        bool optional = json_is_true(json_object_get(src, "optional"));
        json_t *items = json_object_get(src, "items");
        size_t i;
        json_t *it;

        if (!obj) {
                if (optional)
                        return 0;
                return ferry_errprintf(err, -ENOENT, "%s \"%s\" not found",
                                       secret ? "secret" : "configmap", name ? name : "");
        }
        if (json_array_size(items)) {
                json_array_foreach(items, i, it)
                {
                        const char *key = sget(it, "key"), *path = sget(it, "path");
                        _cleanup_free_ char *v = NULL;
                        size_t len;
                        if (!key || object_value(obj, secret, key, &v, &len) < 0) {
                                if (optional)
                                        continue;
                                return ferry_errprintf(
                                    err, -ENOENT, "couldn't find key %s in %s \"%s\"",
                                    key ? key : "", secret ? "Secret" : "ConfigMap", name);
                        }
                        put_item(data, bin, path ? path : key, v, len);
                }
                return 0;
        }
        const char *fields[] = {"data", "binaryData"};
        for (size_t f = 0; f < (secret ? 1u : 2u); f++) {
                const char *k;
                json_t *unused;
                json_object_foreach(json_object_get(obj, fields[f]), k, unused)
                {
                        _cleanup_free_ char *v = NULL;
                        size_t len;
                        if (object_value(obj, secret, k, &v, &len) == 0)
                                put_item(data, bin, k, v, len);
                }
        }
        return 0;
}

static int flatten(const json_t *pod, const json_t *vol, const struct ferry_node_objects *o,
                   json_t **ret, ferry_error_t *err)
{
        const char *vname = sget(vol, "name");
        const char *ns = sget(json_object_get(pod, "metadata"), "namespace");
        json_t *data = json_object(), *bin = json_object();
        size_t i, j;
        json_t *src, *it;
        int r = 0;

        json_array_foreach(json_object_get(json_object_get(vol, "projected"), "sources"), i, src)
        {
                json_t *x;
                if ((x = json_object_get(src, "configMap"))) {
                        r = project_object(x, false, o, data, bin, err);
                } else if ((x = json_object_get(src, "secret"))) {
                        r = project_object(x, true, o, data, bin, err);
                } else if ((x = json_object_get(src, "downwardAPI"))) {
                        json_array_foreach(json_object_get(x, "items"), j, it)
                        {
                                _cleanup_free_ char *v = NULL;
                                const char *path = sget(it, "path");
                                if (json_object_get(it, "fieldRef"))
                                        r = field_value(
                                            pod, o,
                                            sget(json_object_get(it, "fieldRef"), "fieldPath"), &v,
                                            err);
                                else if (json_object_get(it, "resourceFieldRef")) {
                                        const char *cn =
                                            sget(json_object_get(it, "resourceFieldRef"),
                                                 "containerName");
                                        json_t *c = NULL, *cc;
                                        size_t k;
                                        json_array_foreach(
                                            json_object_get(json_object_get(pod, "spec"),
                                                            "containers"),
                                            k, cc) if (!cn || (sget(cc, "name") &&
                                                               !strcmp(sget(cc, "name"), cn))) c =
                                            c ? c : cc;
                                        r = resource_value(
                                            c, json_object_get(it, "resourceFieldRef"), &v, err);
                                } else
                                        r = ferry_errprintf(err, -EINVAL,
                                                            "downwardAPI item %s has no source",
                                                            path ? path : "");
                                if (r < 0)
                                        break;
                                if (path)
                                        json_object_set_new(data, path, json_string(v));
                        }
                } else if ((x = json_object_get(src, "serviceAccountToken"))) {
                        _cleanup_free_ char *key =
                            ferry_node_token_key(sget(x, "audience"), token_seconds(x));
                        const char *tok = sget(o->tokens, key);
                        const char *path = sget(x, "path");
                        if (!tok) {
                                r = ferry_errprintf(
                                    err, -ENOENT, "no service-account token for volume %s", vname);
                                break;
                        }
                        json_object_set_new(data, path ? path : "token", json_string(tok));
                } else {
                        const char *k = "(empty)";
                        json_t *unused;
                        json_object_foreach(src, k, unused) break;
                        r = ferry_errprintf(
                            err, -EINVAL,
                            "projected volume %s: source %s is not supported on a virtual node",
                            vname ? vname : "", k);
                }
                if (r < 0)
                        break;
        }
        if (r < 0) {
                json_decref(data);
                json_decref(bin);
                return r;
        }
        json_t *cm = json_pack("{s:s,s:s,s:{s:s,s:s},s:o}", "apiVersion", "v1", "kind", "ConfigMap",
                               "metadata", "name", vname ? vname : "", "namespace", ns ? ns : "",
                               "data", data);
        if (json_object_size(bin))
                json_object_set(cm, "binaryData", bin);
        json_decref(bin);
        *ret = cm;
        return 0;
}

static json_t *strip(const json_t *obj)
{
        json_t *c = json_deep_copy(obj);
        json_object_del(json_object_get(c, "metadata"), "managedFields");
        return c;
}

int ferry_node_build_create(const json_t *pod, const struct ferry_node_objects *o, json_t **ret,
                            ferry_error_t *err)
{
        json_t *p = strip(pod);
        json_t *spec = json_object_get(p, "spec");
        json_t *cms = json_array(), *secs = json_array(), *proj = json_array();
        json_t *seen = json_object();
        const char *lists[] = {"initContainers", "containers"};
        size_t i;
        json_t *v;
        int r = 0;

        for (size_t l = 0; l < FERRY_ARRAY_SIZE(lists); l++)
                json_array_foreach(json_object_get(spec, lists[l]), i,
                                   v) if ((r = resolve_env(pod, v, o, err)) < 0) goto fail;
        size_t total = 0;
        json_array_foreach(json_object_get(spec, "volumes"), i, v)
        {
                json_t *cm = json_object_get(v, "configMap");
                json_t *s = json_object_get(v, "secret");
                if (cm || s) {
                        const char *name = cm ? sget(cm, "name") : sget(s, "secretName");
                        const json_t *obj =
                            json_object_get(cm ? o->configmaps : o->secrets, name ? name : "");
                        _cleanup_free_ char *k =
                            ferry_xasprintf("%c/%s", cm ? 'c' : 's', name ? name : "");
                        bool optional = json_is_true(json_object_get(cm ? cm : s, "optional"));
                        if (!obj) {
                                if (optional)
                                        continue;
                                r = ferry_errprintf(err, -ENOENT, "%s \"%s\" not found",
                                                    cm ? "configmap" : "secret", name ? name : "");
                                goto fail;
                        }
                        if (!json_object_get(seen, k)) {
                                json_object_set_new(seen, k, json_true());
                                json_array_append_new(cm ? cms : secs, strip(obj));
                        }
                } else if (json_object_get(v, "projected")) {
                        json_t *flat;
                        if ((r = flatten(pod, v, o, &flat, err)) < 0)
                                goto fail;
                        char *dump = json_dumps(flat, JSON_COMPACT);
                        total += dump ? strlen(dump) : 0;
                        free(dump);
                        json_array_append_new(proj, flat);
                        if (total > MAX_PROJECTED_BYTES) {
                                r = ferry_errprintf(err, -E2BIG,
                                                    "projected volumes hold more than %u MiB",
                                                    MAX_PROJECTED_BYTES >> 20);
                                goto fail;
                        }
                }
        }
        json_decref(seen);
        *ret = json_pack("{s:o,s:o,s:o,s:o,s:s}", "pod", p, "configmaps", cms, "secrets", secs,
                         "projectedvolumesmaps", proj, "jobscriptURL", "");
        return 0;
fail:
        json_decref(p);
        json_decref(cms);
        json_decref(secs);
        json_decref(proj);
        json_decref(seen);
        return r;
}
