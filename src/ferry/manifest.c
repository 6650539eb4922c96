/* SPDX-License-Identifier: MIT */
/*
 * Pods + ConfigMaps + Secrets -> hop-A PodCreateRequests. Pure: no I/O; the
 * UID generator is injected so that golden tests are stable.
 *
 * This file does what the API server would do with the manifests (defaults:
 * namespace, UID, generateName; validation; YAML scalars to strings; Secret
 * stringData) and indexes the ConfigMaps and Secrets by namespace. The
 * translation itself -- env, volumes, projections -- is libferry-podtr's
 * (src/podtr/), the same code ferry-node runs.
 */
#include "manifest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/base64.h"
#include "common/util.h"
#include "podtr/podtr.h"

/* ---- small JSON helpers ---- */

static const char *jstr(const json_t *o, const char *k)
{
        return json_string_value(json_object_get(o, k));
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

/* ---- ConfigMaps and Secrets ---- */

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

/* A ConfigMap or Secret: namespace, data as strings, stringData merged. */
static int normalise_object(json_t *c, const char *kind, const char *name, const char *ns_forced,
                            ferry_error_t *err)
{
        char what[300];
        int r = fill_namespace(c, ns_forced, kind, name, err);

        if (r >= 0 && kind[0] == 'C') {
                snprintf(what, sizeof(what), "ConfigMap \"%s\" data", name);
                r = stringify_map(json_object_get(c, "data"), what, err);
        }
        if (r >= 0 && kind[0] == 'S')
                r = normalise_secret(c, name, err);
        return r;
}

/* ---- Pods ---- */

static bool has_volume(const json_t *volumes, const char *name)
{
        size_t i;
        json_t *v;

        json_array_foreach(volumes, i, v) if (name && jstr(v, "name") &&
                                              strcmp(jstr(v, "name"), name) == 0) return true;
        return false;
}

/* Env values as strings (`PORT: 8080`); libferry-podtr checks the rest. */
static int stringify_env(const char *pname, const char *cname, json_t *c, ferry_error_t *err)
{
        json_t *env = json_object_get(c, "env"), *e;
        size_t i;

        json_array_foreach(env, i, e)
        {
                json_t *v = json_object_get(e, "value");
                if (json_is_object(e) && v && to_string_value(e, "value", v) < 0)
                        return ferry_errprintf(err, -EINVAL,
                                               "pod \"%s\": container \"%s\": env %s must be a "
                                               "string",
                                               pname, cname,
                                               jstr(e, "name") ? jstr(e, "name") : "");
        }
        return 0;
}

/* Containers as the API server takes them: named, unique, quantities and env
 * values as strings, mounts of volumes the pod defines. */
static int check_containers(const char *pname, json_t *spec, ferry_error_t *err)
{
        static const char *const lists[] = {"initContainers", "containers"};
        const json_t *volumes = json_object_get(spec, "volumes");
        json_t *all = json_object();
        int r = 0;

        for (size_t l = 0; l < 2 && r >= 0; l++) {
                json_t *cs = json_object_get(spec, lists[l]), *c, *m;
                size_t i, j;

                if (cs && !json_is_array(cs) && !json_is_null(cs)) {
                        r = ferry_errprintf(err, -EINVAL, "pod \"%s\": spec.%s must be a list",
                                            pname, lists[l]);
                        break;
                }
                if (l == 1 && json_array_size(cs) == 0) {
                        r = ferry_errprintf(
                            err, -EINVAL, "pod \"%s\" has no containers (spec.containers)", pname);
                        break;
                }
                json_array_foreach(cs, i, c)
                {
                        const char *cn = jstr(c, "name");
                        if (!json_is_object(c) || !cn || !ferry_is_dns_label(cn)) {
                                r = ferry_errprintf(err, -EINVAL,
                                                    "pod \"%s\": %s #%zu needs a name that is a "
                                                    "DNS label (got '%s')",
                                                    pname, lists[l], i + 1, cn ? cn : "");
                                break;
                        }
                        if (json_object_get(all, cn)) {
                                r = ferry_errprintf(err, -EINVAL,
                                                    "pod \"%s\": two containers are named \"%s\"",
                                                    pname, cn);
                                break;
                        }
                        json_object_set_new(all, cn, json_true());
                        /* quantities are strings in Kubernetes JSON (`nvidia.com/gpu: 1`) */
                        for (size_t q = 0; q < 2 && r >= 0; q++) {
                                const char *f = q ? "requests" : "limits";
                                char what[200];
                                snprintf(what, sizeof(what), "container \"%s\": resources.%s", cn,
                                         f);
                                r = stringify_map(
                                    json_object_get(json_object_get(c, "resources"), f), what, err);
                        }
                        if (r >= 0)
                                r = stringify_env(pname, cn, c, err);
                        if (r < 0)
                                break;
                        json_array_foreach(json_object_get(c, "volumeMounts"), j, m)
                        {
                                const char *vn = jstr(m, "name");
                                if (!has_volume(volumes, vn)) {
                                        r = ferry_errprintf(err, -EINVAL,
                                                            "pod \"%s\": container \"%s\" mounts "
                                                            "volume \"%s\", which spec.volumes "
                                                            "does not define",
                                                            pname, cn, vn ? vn : "");
                                        break;
                                }
                        }
                        if (r < 0)
                                break;
                }
        }
        json_decref(all);
        return r;
}

/* A Pod as the API server would store it: UID, name, namespace filled in,
 * strings where Kubernetes has strings, no status. */
static int normalise_pod(json_t *pod, const char *ns_forced, const struct ferry_manifest_opts *o,
                         ferry_error_t *err)
{
        json_t *meta = jobject(pod, "metadata");
        json_t *spec = json_object_get(pod, "spec");
        const char *name, *uid;
        char buf[37];
        json_t *v;
        size_t i;
        int r;

        /* uid first: generateName needs it */
        uid = jstr(meta, "uid");
        if (!uid || !uid[0]) {
                if (o && o->uid)
                        o->uid(o->uid_ctx, buf);
                else
                        ferry_uuid_generate(buf);
                json_object_set_new(meta, "uid", json_string(buf));
        }
        uid = jstr(meta, "uid");
        name = jstr(meta, "name");
        if ((!name || !name[0]) && jstr(meta, "generateName")) {
                /* the last five of the UID: its random part */
                char *n =
                    ferry_xasprintf("%s%s", jstr(meta, "generateName"), uid + strlen(uid) - 5);
                json_object_set_new(meta, "name", json_string(n));
                free(n);
                name = jstr(meta, "name");
        }
        if (!name || !ferry_is_dns_subdomain(name))
                return ferry_errprintf(err, -EINVAL,
                                       "a Pod needs metadata.name, a lowercase DNS name (got '%s')",
                                       name ? name : "");
        if (!ferry_is_uuid(uid))
                return ferry_errprintf(err, -EINVAL,
                                       "pod \"%s\": metadata.uid '%s' is not a lowercase UUID "
                                       "(leave it out and ferry makes one)",
                                       name, uid);
        if ((r = fill_namespace(pod, ns_forced, "Pod", name, err)) < 0)
                return r;
        for (i = 0; i < 2; i++) {
                char what[300];
                const char *f = i ? "annotations" : "labels";
                snprintf(what, sizeof(what), "pod \"%s\": metadata.%s", name, f);
                if ((r = stringify_map(json_object_get(meta, f), what, err)) < 0)
                        return r;
        }
        if (!json_is_object(spec))
                return ferry_errprintf(err, -EINVAL, "pod \"%s\" has no spec", name);
        json_object_del(pod, "status"); /* from `kubectl get -o yaml` */
        if ((r = check_containers(name, spec, err)) < 0)
                return r;
        json_array_foreach(json_object_get(spec, "volumes"), i, v)
        {
                const char *vname = jstr(v, "name");
                if (!vname || !ferry_is_dns_label(vname))
                        return ferry_errprintf(err, -EINVAL,
                                               "pod \"%s\": volume #%zu needs a name that is a DNS "
                                               "label",
                                               name, i + 1);
        }
        return 0;
}

/* ---- Jobs ---- */

/* The Pod a Job's template describes, as `ferry run` would take it: the
 * template's metadata with the Job's name, namespace and uid (ferryd names
 * each pod it makes from it), the template's spec. */
static json_t *job_pod(const json_t *job)
{
        const json_t *meta = json_object_get(job, "metadata");
        const json_t *tmpl = json_object_get(json_object_get(job, "spec"), "template");
        json_t *pmeta = json_deep_copy(json_object_get(tmpl, "metadata"));

        if (!json_is_object(pmeta)) {
                json_decref(pmeta);
                pmeta = json_object();
        }
        json_object_del(pmeta, "generateName");
        json_object_set_new(pmeta, "name", json_string(jstr(meta, "name")));
        json_object_set_new(pmeta, "namespace", json_string(jstr(meta, "namespace")));
        json_object_set_new(pmeta, "uid", json_string(jstr(meta, "uid")));
        return json_pack("{sssssOso}", "apiVersion", "v1", "kind", "Pod", "spec",
                         json_object_get(tmpl, "spec"), "metadata", pmeta);
}

/* A Job as the API server would store it: name, namespace, uid; its template
 * checked and normalised as a Pod; restartPolicy Never or OnFailure. */
static int normalise_job(json_t *job, const char *ns_forced, const struct ferry_manifest_opts *o,
                         ferry_error_t *err)
{
        json_t *meta = jobject(job, "metadata");
        json_t *spec = json_object_get(job, "spec");
        const char *api = jstr(job, "apiVersion"), *name, *uid;
        char buf[37];
        int r;

        if (!api || strcmp(api, "batch/v1") != 0)
                return ferry_errprintf(err, -EINVAL, "a Job is apiVersion batch/v1 (got '%s')",
                                       api ? api : "");
        uid = jstr(meta, "uid");
        if (!uid || !uid[0]) {
                if (o && o->uid)
                        o->uid(o->uid_ctx, buf);
                else
                        ferry_uuid_generate(buf);
                json_object_set_new(meta, "uid", json_string(buf));
        }
        uid = jstr(meta, "uid");
        name = jstr(meta, "name");
        if ((!name || !name[0]) && jstr(meta, "generateName")) {
                char *n =
                    ferry_xasprintf("%s%s", jstr(meta, "generateName"), uid + strlen(uid) - 5);
                json_object_set_new(meta, "name", json_string(n));
                free(n);
                name = jstr(meta, "name");
        }
        /* its name is a label value on every pod: at most 63 characters */
        if (!name || !ferry_is_dns_label(name))
                return ferry_errprintf(err, -EINVAL,
                                       "a Job needs metadata.name, a DNS label of at most 63 "
                                       "characters (got '%s')",
                                       name ? name : "");
        if (!ferry_is_uuid(uid))
                return ferry_errprintf(err, -EINVAL,
                                       "job \"%s\": metadata.uid '%s' is not a lowercase UUID "
                                       "(leave it out and ferry makes one)",
                                       name, uid);
        if ((r = fill_namespace(job, ns_forced, "Job", name, err)) < 0)
                return r;
        json_t *tmpl = json_object_get(spec, "template");
        if (!json_is_object(json_object_get(tmpl, "spec")))
                return ferry_errprintf(err, -EINVAL, "job \"%s\" has no spec.template.spec", name);
        const char *rp = jstr(json_object_get(tmpl, "spec"), "restartPolicy");
        if (!rp || (strcmp(rp, "Never") != 0 && strcmp(rp, "OnFailure") != 0))
                return ferry_errprintf(err, -EINVAL,
                                       "job \"%s\": spec.template.spec.restartPolicy must be Never "
                                       "or OnFailure (got %s)",
                                       name, rp ? rp : "none, which means Always");
        json_object_del(job, "status");
        json_t *pod = job_pod(job);
        r = normalise_pod(pod, NULL, o, err);
        if (r >= 0) {
                json_object_set(tmpl, "spec", json_object_get(pod, "spec"));
                json_t *pm = json_object_get(pod, "metadata");
                json_t *tm = jobject(tmpl, "metadata");
                for (int i = 0; i < 2; i++) {
                        const char *f = i ? "annotations" : "labels";
                        if (json_object_get(pm, f))
                                json_object_set(tm, f, json_object_get(pm, f));
                }
        }
        json_decref(pod);
        return r;
}

/* ---- the whole set ---- */

static const char *kind_of(const json_t *o)
{
        return jstr(o, "kind");
}

static int normalise_one(const json_t *src, size_t i, bool pods,
                         const struct ferry_manifest_opts *o, json_t *out, ferry_error_t *err)
{
        const char *kind = kind_of(src);
        const char *name = jstr(json_object_get(src, "metadata"), "name");
        const char *ns_forced = o ? o->namespace : NULL;
        /* Pods and Jobs: the second pass, once ConfigMaps and Secrets are checked */
        bool is_job = kind && strcmp(kind, "Job") == 0;
        bool is_pod = kind && (strcmp(kind, "Pod") == 0 || is_job);
        json_t *c;
        int r;

        if (!kind)
                return ferry_errprintf(
                    err, -EINVAL, "object #%zu (%s) has no 'kind' (Pod, Job, ConfigMap or Secret)",
                    i + 1, name ? name : "no name");
        if (is_pod != pods)
                return 0;
        if (!is_pod && strcmp(kind, "ConfigMap") != 0 && strcmp(kind, "Secret") != 0)
                return ferry_errprintf(err, -EINVAL,
                                       "%s \"%s\": ferry run takes Pods and Jobs and the "
                                       "ConfigMaps and Secrets they use, not %ss",
                                       kind, name ? name : "", kind);
        if (!is_pod && (!name || !ferry_is_dns_subdomain(name)))
                return ferry_errprintf(err, -EINVAL,
                                       "a %s needs metadata.name, a DNS name (got '%s')", kind,
                                       name ? name : "");
        c = json_deep_copy(src);
        r = is_job   ? normalise_job(c, ns_forced, o, err)
            : is_pod ? normalise_pod(c, ns_forced, o, err)
                     : normalise_object(c, kind, name, ns_forced, err);
        if (r < 0) {
                json_decref(c);
                return r;
        }
        json_array_set_new(out, i, c);
        return 0;
}

int ferry_manifest_normalise(const json_t *objects, const struct ferry_manifest_opts *opts,
                             json_t **ret_objects, ferry_error_t *err)
{
        json_t *out = json_array(), *o;
        size_t i, n_pods = 0;
        int r = 0;

        for (i = 0; i < json_array_size(objects); i++)
                json_array_append_new(out, json_null());
        /* ConfigMaps and Secrets first, so that their errors come first */
        for (int pass = 0; pass < 2 && r >= 0; pass++)
                json_array_foreach(objects, i, o)
                {
                        if ((r = normalise_one(o, i, pass == 1, opts, out, err)) < 0)
                                break;
                        if (pass == 1 && kind_of(o) &&
                            (!strcmp(kind_of(o), "Pod") || !strcmp(kind_of(o), "Job")))
                                n_pods++;
                }
        if (r >= 0 && n_pods == 0)
                r = ferry_errprintf(err, -EINVAL, "the manifests contain no Pod or Job");
        if (r < 0) {
                json_decref(out);
                return r;
        }
        *ret_objects = out;
        return 0;
}

/* namespace -> {"configmaps": {name: obj}, "secrets": {name: obj}}; the first
 * object of a name wins */
static json_t *index_objects(const json_t *objs)
{
        json_t *idx = json_object(), *o;
        size_t i;

        json_array_foreach(objs, i, o)
        {
                const char *kind = kind_of(o);
                const json_t *meta = json_object_get(o, "metadata");
                const char *ns = jstr(meta, "namespace"), *name = jstr(meta, "name");
                if (!kind || !strcmp(kind, "Pod") || !strcmp(kind, "Job"))
                        continue;
                json_t *byns = json_object_get(idx, ns);
                if (!byns) {
                        byns = json_pack("{s:{},s:{}}", "configmaps", "secrets");
                        json_object_set_new(idx, ns, byns);
                }
                json_t *m = json_object_get(byns, kind[0] == 'C' ? "configmaps" : "secrets");
                if (!json_object_get(m, name))
                        json_object_set(m, name, o);
        }
        return idx;
}

/* The CLI's sentence for what ferry-node reports as the kubelet would. */
static int missing_error(const json_t *pod, const struct ferry_podtr_missing *m, ferry_error_t *err)
{
        const json_t *meta = json_object_get(pod, "metadata");
        const char *name = jstr(meta, "name"), *ns = jstr(meta, "namespace");

        if (m->key[0])
                return ferry_errprintf(err, -ENOENT, "pod \"%s\": %s: %s \"%s\" has no key '%s'",
                                       name, m->where, m->kind, m->name, m->key);
        return ferry_errprintf(err, -ENOENT,
                               "pod \"%s\": %s: %s \"%s\" not found in namespace \"%s\" (add it "
                               "to the manifests, or mark the reference optional: true)",
                               name, m->where, m->kind, m->name, ns);
}

int ferry_manifest_translate(const json_t *objects, const struct ferry_manifest_opts *opts,
                             json_t **ret_requests, ferry_error_t *err)
{
        json_t *objs = NULL, *idx, *out, *o;
        size_t i;
        int r = ferry_manifest_normalise(objects, opts, &objs, err);

        if (r < 0)
                return r;
        idx = index_objects(objs);
        out = json_array();
        json_array_foreach(objs, i, o)
        {
                const json_t *meta = json_object_get(o, "metadata");
                const json_t *byns = json_object_get(idx, jstr(meta, "namespace"));
                /* no cluster behind `ferry run`: no tokens, no node, no host IP */
                struct ferry_podtr_objects po = {
                    .configmaps = json_object_get(byns, "configmaps"),
                    .secrets = json_object_get(byns, "secrets"),
                };
                struct ferry_podtr_missing m;
                json_t *req = NULL;

                bool is_job = !strcmp(kind_of(o), "Job");
                if (strcmp(kind_of(o), "Pod") != 0 && !is_job)
                        continue;
                /* a Job: its template as a Pod; ferryd makes the pods from it */
                json_t *pod = is_job ? job_pod(o) : json_incref(o);
                r = ferry_podtr_build(pod, &po, &req, &m, err);
                if (r == -ENOENT)
                        r = missing_error(pod, &m, err);
                else if (r < 0)
                        r = ferry_errprefix(err, r, "%s \"%s\"", is_job ? "job" : "pod",
                                            jstr(meta, "name"));
                json_decref(pod);
                if (r < 0)
                        break;
                if (is_job)
                        req = json_pack("{sOso}", "job", o, "request", req);
                json_array_append_new(out, req);
        }
        json_decref(idx);
        json_decref(objs);
        if (r < 0) {
                json_decref(out);
                return r;
        }
        *ret_requests = out;
        return 0;
}
