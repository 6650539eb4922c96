/* SPDX-License-Identifier: MIT */
/*
 * Object semantics of the double: the resource table, what the real API server
 * does on create/update/delete (system metadata, defaulting, the service-account
 * admission, status subresources, graceful pod deletion, finalizers, optimistic
 * concurrency), TokenRequest, pod binding, and the objects the namespace
 * controllers would make (kube-root-ca.crt, the default ServiceAccount).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "double.h"

static const char *const pod_fields[] = {"spec.nodeName",
                                         "spec.restartPolicy",
                                         "spec.schedulerName",
                                         "spec.serviceAccountName",
                                         "spec.hostNetwork",
                                         "status.phase",
                                         "status.podIP",
                                         "status.nominatedNodeName",
                                         NULL};
static const char *const node_fields[] = {"spec.unschedulable", NULL};
static const char *const secret_fields[] = {"type", NULL};
static const char *const ns_fields[] = {"status.phase", NULL};
static const char *const event_fields[] = {"involvedObject.kind",
                                           "involvedObject.namespace",
                                           "involvedObject.name",
                                           "involvedObject.uid",
                                           "involvedObject.apiVersion",
                                           "involvedObject.resourceVersion",
                                           "involvedObject.fieldPath",
                                           "reason",
                                           "reportingComponent",
                                           "source",
                                           "type",
                                           NULL};
static const char *const event_v1_fields[] = {"regarding.kind",
                                              "regarding.namespace",
                                              "regarding.name",
                                              "regarding.uid",
                                              "regarding.apiVersion",
                                              "regarding.resourceVersion",
                                              "regarding.fieldPath",
                                              "reason",
                                              "reportingController",
                                              "type",
                                              NULL};

const struct kd_resource kd_resources[KD_RES_MAX] = {
    [KD_NAMESPACES] = {"", "v1", "namespaces", "namespace", "Namespace", "NamespaceList", "ns",
                       "status", false, false, ns_fields},
    [KD_NODES] = {"", "v1", "nodes", "node", "Node", "NodeList", "no", "status", false, false,
                  node_fields},
    [KD_PODS] = {"", "v1", "pods", "pod", "Pod", "PodList", "po", "status,binding", true, true,
                 pod_fields},
    [KD_CONFIGMAPS] = {"", "v1", "configmaps", "configmap", "ConfigMap", "ConfigMapList", "cm",
                       NULL, true, false, NULL},
    [KD_SECRETS] = {"", "v1", "secrets", "secret", "Secret", "SecretList", NULL, NULL, true, false,
                    secret_fields},
    [KD_SERVICEACCOUNTS] = {"", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount",
                            "ServiceAccountList", "sa", "token", true, false, NULL},
    [KD_EVENTS] = {"", "v1", "events", "event", "Event", "EventList", "ev", NULL, true, false,
                   event_fields},
    [KD_EVENTS_V1] = {"events.k8s.io", "v1", "events", "event", "Event", "EventList", "ev", NULL,
                      true, false, event_v1_fields},
    [KD_LEASES] = {"coordination.k8s.io", "v1", "leases", "lease", "Lease", "LeaseList", NULL, NULL,
                   true, false, NULL},
};

const char *kd_res_qualified(enum kd_res r, char *buf, size_t n)
{
        if (!kd_resources[r].group[0])
                snprintf(buf, n, "%s", kd_resources[r].plural);
        else
                snprintf(buf, n, "%s.%s", kd_resources[r].plural, kd_resources[r].group);
        return buf;
}

const char *kd_api_version(enum kd_res r, char *buf, size_t n)
{
        if (!kd_resources[r].group[0])
                snprintf(buf, n, "%s", kd_resources[r].version);
        else
                snprintf(buf, n, "%s/%s", kd_resources[r].group, kd_resources[r].version);
        return buf;
}

int kd_res_find(const char *group, const char *version, const char *plural)
{
        for (int r = 0; r < KD_RES_MAX; r++)
                if (!strcmp(kd_resources[r].group, group) &&
                    !strcmp(kd_resources[r].version, version) &&
                    !strcmp(kd_resources[r].plural, plural))
                        return r;
        return -1;
}

int kd_res_find_kind(const char *api_version, const char *kind)
{
        char av[128];
        for (int r = 0; r < KD_RES_MAX; r++)
                if (!strcmp(kd_api_version((enum kd_res)r, av, sizeof(av)), api_version) &&
                    !strcmp(kd_resources[r].kind, kind))
                        return r;
        return -1;
}

/* ---- helpers ---- */
const char *kd_meta_str(const json_t *obj, const char *field)
{
        const char *s = json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
        return s ? s : "";
}

static json_t *ensure_obj(json_t *parent, const char *key)
{
        json_t *o = json_object_get(parent, key);
        if (!json_is_object(o)) {
                o = json_object();
                json_object_set_new(parent, key, o);
        }
        return o;
}

void kd_set_meta_str(json_t *obj, const char *field, const char *v)
{
        json_object_set_new(ensure_obj(obj, "metadata"), field, json_string(v));
}

void kd_now_rfc3339(char buf[FERRY_TIME_MAX])
{
        ferry_time_format(ferry_now_ns(), 0, buf);
}

static void time_after(int64_t seconds, char buf[FERRY_TIME_MAX])
{
        ferry_time_format(ferry_now_ns() + seconds * 1000000000LL, 0, buf);
}

void kd_random_suffix(char *buf, size_t n)
{
        /* the alphabet of the real API's generateName (no vowels, no confusables) */
        static const char alnum[] = "bcdfghjklmnpqrstvwxz2456789";
        unsigned char rnd[16];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
                memset(rnd, 7, sizeof(rnd));
        size_t i;
        for (i = 0; i + 1 < n && i < sizeof(rnd); i++)
                buf[i] = alnum[rnd[i] % (sizeof(alnum) - 1)];
        buf[i] = '\0';
}

char *kd_base64(const void *data, size_t len, bool url)
{
        static const char std[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        static const char urls[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const char *a = url ? urls : std;
        const unsigned char *p = data;
        char *out = ferry_xmalloc(len / 3 * 4 + 5), *o = out;
        size_t i;
        for (i = 0; i + 2 < len; i += 3) {
                *o++ = a[p[i] >> 2];
                *o++ = a[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
                *o++ = a[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
                *o++ = a[p[i + 2] & 63];
        }
        if (i < len) {
                *o++ = a[p[i] >> 2];
                if (i + 1 < len) {
                        *o++ = a[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
                        *o++ = a[(p[i + 1] & 15) << 2];
                } else {
                        *o++ = a[(p[i] & 3) << 4];
                        if (!url)
                                *o++ = '=';
                }
                if (!url)
                        *o++ = '=';
        }
        *o = '\0';
        return out;
}

const char *kd_path_str(const json_t *obj, const char *path, char *buf, size_t n)
{
        const json_t *v = obj;
        const char *p = path;
        for (int depth = 0; depth < 8 && v; depth++) {
                const char *dot = strchr(p, '.');
                char key[128];
                snprintf(key, sizeof(key), "%.*s", dot ? (int)(dot - p) : (int)strlen(p), p);
                v = json_object_get(v, key);
                if (!dot)
                        break;
                p = dot + 1;
        }
        if (json_is_string(v))
                return json_string_value(v);
        if (json_is_boolean(v))
                return json_is_true(v) ? "true" : "false";
        if (json_is_integer(v)) {
                snprintf(buf, n, "%lld", (long long)json_integer_value(v));
                return buf;
        }
        return NULL;
}

static void set_default(json_t *o, const char *key, json_t *v)
{
        if (!json_object_get(o, key))
                json_object_set(o, key, v);
        json_decref(v);
}

static const char *qualified_kind(enum kd_res r)
{
        return kd_resources[r].plural;
}

static int not_found(struct kd_err *e, enum kd_res r, const char *name)
{
        char q[96];
        kd_fail(e, 404, "NotFound", "%s \"%s\" not found", kd_res_qualified(r, q, sizeof(q)), name);
        snprintf(e->name, sizeof(e->name), "%s", name);
        e->kind = qualified_kind(r);
        e->group = kd_resources[r].group;
        return -1;
}

static int invalid(struct kd_err *e, enum kd_res r, const char *name, const char *field,
                   const char *detail)
{
        kd_fail(e, 422, "Invalid", "%s \"%s\" is invalid: %s: %s", kd_resources[r].kind, name,
                field, detail);
        snprintf(e->name, sizeof(e->name), "%s", name);
        e->kind = kd_resources[r].kind;
        e->group = kd_resources[r].group;
        e->field = field;
        snprintf(e->cause, sizeof(e->cause), "%s", detail);
        return -1;
}

static int conflict(struct kd_err *e, enum kd_res r, const char *name, const char *why)
{
        char q[96];
        kd_fail(e, 409, "Conflict", "Operation cannot be fulfilled on %s \"%s\": %s",
                kd_res_qualified(r, q, sizeof(q)), name, why);
        snprintf(e->name, sizeof(e->name), "%s", name);
        e->kind = qualified_kind(r);
        e->group = kd_resources[r].group;
        return -1;
}

/* kind and apiVersion may be left out (the request's are assumed); others are a 400. */
static int check_type(enum kd_res r, json_t *obj, struct kd_err *e)
{
        char av[96];
        kd_api_version(r, av, sizeof(av));
        const char *kind = json_string_value(json_object_get(obj, "kind"));
        const char *apiv = json_string_value(json_object_get(obj, "apiVersion"));
        if ((kind && strcmp(kind, kd_resources[r].kind)) || (apiv && strcmp(apiv, av)))
                return kd_fail(
                    e, 400, "BadRequest",
                    "the object provided is unrecognized (must be of type %s): %s, Kind=%s",
                    kd_resources[r].kind, apiv ? apiv : "", kind ? kind : "");
        json_object_set_new(obj, "kind", json_string(kd_resources[r].kind));
        json_object_set_new(obj, "apiVersion", json_string(av));
        if (!json_is_object(json_object_get(obj, "metadata")))
                json_object_set_new(obj, "metadata", json_object());
        return 0;
}

/* ---- pods: defaulting and the ServiceAccount admission plugin ---- */
static const char *image_pull_policy(const char *image)
{
        const char *slash = image ? strrchr(image, '/') : NULL;
        const char *last = slash ? slash + 1 : (image ? image : "");
        if (strchr(last, '@'))
                return "IfNotPresent";
        const char *colon = strchr(last, ':');
        return (!colon || !strcmp(colon + 1, "latest")) ? "Always" : "IfNotPresent";
}

static void default_container(json_t *c)
{
        set_default(c, "imagePullPolicy",
                    json_string(image_pull_policy(json_string_value(json_object_get(c, "image")))));
        set_default(c, "terminationMessagePath", json_string("/dev/termination-log"));
        set_default(c, "terminationMessagePolicy", json_string("File"));
        set_default(c, "resources", json_object());
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(c, "ports"), i, p)
            set_default(p, "protocol", json_string("TCP"));
        json_t *env;
        json_array_foreach(json_object_get(c, "env"), i, env)
        {
                json_t *fr = json_object_get(json_object_get(env, "valueFrom"), "fieldRef");
                if (fr)
                        set_default(fr, "apiVersion", json_string("v1"));
        }
}

static void default_volumes(json_t *spec)
{
        size_t i, j;
        json_t *v, *src;
        json_array_foreach(json_object_get(spec, "volumes"), i, v)
        {
                static const char *const moded[] = {"configMap", "secret", "projected",
                                                    "downwardAPI"};
                for (size_t k = 0; k < FERRY_ARRAY_SIZE(moded); k++) {
                        json_t *s = json_object_get(v, moded[k]);
                        if (json_is_object(s))
                                set_default(s, "defaultMode", json_integer(420));
                }
                json_array_foreach(json_object_get(json_object_get(v, "projected"), "sources"), j,
                                   src)
                {
                        json_t *sat = json_object_get(src, "serviceAccountToken");
                        if (json_is_object(sat))
                                set_default(sat, "expirationSeconds", json_integer(3600));
                }
        }
}

static bool has_limits_equal_requests(json_t *c, const char *res)
{
        json_t *r = json_object_get(c, "resources");
        json_t *lim = json_object_get(json_object_get(r, "limits"), res);
        json_t *req = json_object_get(json_object_get(r, "requests"), res);
        if (!json_is_string(lim))
                return false;
        return !req || json_equal(lim, req);
}

static const char *qos_class(json_t *spec)
{
        bool any = false, guaranteed = true;
        static const char *const lists[] = {"containers", "initContainers"};
        for (size_t l = 0; l < 2; l++) {
                size_t i;
                json_t *c;
                json_array_foreach(json_object_get(spec, lists[l]), i, c)
                {
                        json_t *r = json_object_get(c, "resources");
                        json_t *lim = json_object_get(r, "limits"),
                               *req = json_object_get(r, "requests");
                        if (json_object_get(lim, "cpu") || json_object_get(lim, "memory") ||
                            json_object_get(req, "cpu") || json_object_get(req, "memory"))
                                any = true;
                        if (!has_limits_equal_requests(c, "cpu") ||
                            !has_limits_equal_requests(c, "memory"))
                                guaranteed = false;
                }
        }
        return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
}

static void default_pod_spec(json_t *spec)
{
        set_default(spec, "restartPolicy", json_string("Always"));
        set_default(spec, "terminationGracePeriodSeconds", json_integer(30));
        set_default(spec, "dnsPolicy", json_string("ClusterFirst"));
        set_default(spec, "securityContext", json_object());
        set_default(spec, "schedulerName", json_string("default-scheduler"));
        set_default(spec, "enableServiceLinks", json_true());
        set_default(spec, "preemptionPolicy", json_string("PreemptLowerPriority"));
        set_default(spec, "priority", json_integer(0));
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(spec, "containers"), i, c) default_container(c);
        json_array_foreach(json_object_get(spec, "initContainers"), i, c) default_container(c);
        default_volumes(spec);
}

#define SA_MOUNT "/var/run/secrets/kubernetes.io/serviceaccount"

static bool mounts_at(json_t *spec, const char *path)
{
        static const char *const lists[] = {"containers", "initContainers"};
        for (size_t l = 0; l < 2; l++) {
                size_t i, j;
                json_t *c, *m;
                json_array_foreach(json_object_get(spec, lists[l]), i, c) json_array_foreach(
                    json_object_get(c, "volumeMounts"), j,
                    m) if (!strcmp(json_string_value(json_object_get(m, "mountPath")) ?: "",
                                   path)) return true;
        }
        return false;
}

/* What the ServiceAccount admission plugin does: default the account, require it to
 * exist, and project a token + the cluster CA + the namespace into every container. */
static int admit_service_account(struct kd_store *s, json_t *pod, const char *ns, struct kd_err *e)
{
        json_t *spec = json_object_get(pod, "spec");
        const char *sa = json_string_value(json_object_get(spec, "serviceAccountName"));
        if (!sa || !sa[0])
                sa = json_string_value(json_object_get(spec, "serviceAccount"));
        char sab[KD_NAME_MAX];
        snprintf(sab, sizeof(sab), "%s", sa && sa[0] ? sa : "default");
        sa = sab; /* the setters below free the strings sa may point into */
        json_object_set_new(spec, "serviceAccountName", json_string(sa));
        json_object_set_new(spec, "serviceAccount", json_string(sa));
        json_t *acct = kd_store_get(s, KD_SERVICEACCOUNTS, ns, sa);
        if (!acct)
                return kd_fail(e, 403, "Forbidden",
                               "pods \"%s\" is forbidden: error looking up service account %s/%s: "
                               "serviceaccount \"%s\" not found",
                               kd_meta_str(pod, "name")[0] ? kd_meta_str(pod, "name")
                                                           : kd_meta_str(pod, "generateName"),
                               ns, sa, sa);
        json_t *am = json_object_get(spec, "automountServiceAccountToken");
        if (!am)
                am = json_object_get(acct, "automountServiceAccountToken");
        if (json_is_false(am) || mounts_at(spec, SA_MOUNT))
                return 0;
        char sfx[6], vname[32];
        kd_random_suffix(sfx, sizeof(sfx));
        snprintf(vname, sizeof(vname), "kube-api-access-%s", sfx);
        json_t *vol = json_pack(
            "{s:s, s:{s:[{s:{s:i, s:s}}, {s:{s:s, s:[{s:s, s:s}]}}, {s:{s:[{s:s, s:{s:s, "
            "s:s}}]}}], s:i}}",
            "name", vname, "projected", "sources", "serviceAccountToken", "expirationSeconds", 3607,
            "path", "token", "configMap", "name", "kube-root-ca.crt", "items", "key", "ca.crt",
            "path", "ca.crt", "downwardAPI", "items", "path", "namespace", "fieldRef", "apiVersion",
            "v1", "fieldPath", "metadata.namespace", "defaultMode", 420);
        if (!json_is_array(json_object_get(spec, "volumes")))
                json_object_set_new(spec, "volumes", json_array());
        json_array_append_new(json_object_get(spec, "volumes"), vol);
        static const char *const lists[] = {"containers", "initContainers"};
        for (size_t l = 0; l < 2; l++) {
                size_t i;
                json_t *c;
                json_array_foreach(json_object_get(spec, lists[l]), i, c)
                {
                        if (!json_is_array(json_object_get(c, "volumeMounts")))
                                json_object_set_new(c, "volumeMounts", json_array());
                        json_array_append_new(json_object_get(c, "volumeMounts"),
                                              json_pack("{s:s, s:b, s:s}", "name", vname,
                                                        "readOnly", 1, "mountPath", SA_MOUNT));
                }
        }
        return 0;
}

/* The DefaultTolerationSeconds admission plugin. */
static void admit_default_tolerations(json_t *spec)
{
        static const char *const keys[] = {"node.kubernetes.io/not-ready",
                                           "node.kubernetes.io/unreachable"};
        if (!json_is_array(json_object_get(spec, "tolerations")))
                json_object_set_new(spec, "tolerations", json_array());
        json_t *tols = json_object_get(spec, "tolerations");
        for (size_t k = 0; k < 2; k++) {
                bool have = false;
                size_t i;
                json_t *t;
                json_array_foreach(tols, i, t)
                {
                        const char *key = json_string_value(json_object_get(t, "key"));
                        const char *eff = json_string_value(json_object_get(t, "effect"));
                        if ((key && !strcmp(key, keys[k]) && (!eff || !strcmp(eff, "NoExecute"))) ||
                            (!key && !json_object_get(t, "effect")))
                                have = true;
                }
                if (!have)
                        json_array_append_new(tols,
                                              json_pack("{s:s, s:s, s:s, s:i}", "key", keys[k],
                                                        "operator", "Exists", "effect", "NoExecute",
                                                        "tolerationSeconds", 300));
        }
}

static int validate_pod(json_t *pod, const char *name, struct kd_err *e)
{
        json_t *spec = json_object_get(pod, "spec");
        if (!json_is_object(spec))
                return invalid(e, KD_PODS, name, "spec", "Required value");
        json_t *cs = json_object_get(spec, "containers");
        if (!json_is_array(cs) || json_array_size(cs) == 0)
                return invalid(e, KD_PODS, name, "spec.containers", "Required value");
        size_t i;
        json_t *c;
        json_array_foreach(cs, i, c)
        {
                if (!json_string_value(json_object_get(c, "name")))
                        return invalid(e, KD_PODS, name, "spec.containers[].name",
                                       "Required value");
                if (!json_string_value(json_object_get(c, "image")))
                        return invalid(e, KD_PODS, name, "spec.containers[].image",
                                       "Required value");
        }
        return 0;
}

/* Pod updates may change only these spec fields (the real message lists a few more). */
static bool pod_spec_update_allowed(json_t *old_spec, json_t *new_spec)
{
        json_t *a = json_deep_copy(old_spec), *b = json_deep_copy(new_spec);
        static const char *const lists[] = {"containers", "initContainers"};
        for (size_t l = 0; l < 2; l++) {
                json_t *ca = json_object_get(a, lists[l]), *cb = json_object_get(b, lists[l]);
                size_t i;
                json_t *c;
                json_array_foreach(ca, i, c) json_object_del(c, "image");
                json_array_foreach(cb, i, c) json_object_del(c, "image");
        }
        static const char *const mutable_fields[] = {"activeDeadlineSeconds", "tolerations",
                                                     "terminationGracePeriodSeconds"};
        for (size_t k = 0; k < FERRY_ARRAY_SIZE(mutable_fields); k++) {
                json_object_del(a, mutable_fields[k]);
                json_object_del(b, mutable_fields[k]);
        }
        bool ok = json_equal(a, b);
        json_decref(a);
        json_decref(b);
        return ok;
}

/* ---- namespaces and what their controllers create ---- */
static json_t *put_new(struct kd_store *s, enum kd_res r, json_t *obj)
{
        char av[96], uid[37], now[FERRY_TIME_MAX];
        json_object_set_new(obj, "kind", json_string(kd_resources[r].kind));
        json_object_set_new(obj, "apiVersion", json_string(kd_api_version(r, av, sizeof(av))));
        ferry_uuid_generate(uid);
        kd_now_rfc3339(now);
        kd_set_meta_str(obj, "uid", uid);
        kd_set_meta_str(obj, "creationTimestamp", now);
        return kd_store_put(s, r, obj, KD_EV_ADDED);
}

static void namespace_controllers(struct kd_store *s, const char *ns)
{
        if (!kd_store_get(s, KD_CONFIGMAPS, ns, "kube-root-ca.crt"))
                put_new(s, KD_CONFIGMAPS,
                        json_pack("{s:{s:s, s:s, s:{s:s}}, s:{s:s}}", "metadata", "name",
                                  "kube-root-ca.crt", "namespace", ns, "annotations",
                                  "kubernetes.io/description",
                                  "Contains a CA bundle that can be used to verify the "
                                  "kube-apiserver when using internal endpoints such as the "
                                  "internal service IP or kubernetes.default.svc. No other usage "
                                  "is guaranteed across distributions of Kubernetes clusters.",
                                  "data", "ca.crt", s->ca_pem ? s->ca_pem : ""));
        if (!kd_store_get(s, KD_SERVICEACCOUNTS, ns, "default"))
                put_new(
                    s, KD_SERVICEACCOUNTS,
                    json_pack("{s:{s:s, s:s}}", "metadata", "name", "default", "namespace", ns));
}

void kd_ensure_namespace(struct kd_store *s, const char *ns)
{
        if (!kd_store_get(s, KD_NAMESPACES, ns, ns))
                put_new(s, KD_NAMESPACES,
                        json_pack("{s:{s:s, s:{s:s}}, s:{s:[s]}, s:{s:s}}", "metadata", "name", ns,
                                  "labels", "kubernetes.io/metadata.name", ns, "spec", "finalizers",
                                  "kubernetes", "status", "phase", "Active"));
        namespace_controllers(s, ns);
}

void kd_bootstrap(struct kd_store *s)
{
        static const char *const base[] = {"default", "kube-node-lease", "kube-public",
                                           "kube-system"};
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(base); i++)
                kd_ensure_namespace(s, base[i]);
}

/* ---- create ---- */
static bool name_ok(enum kd_res r, const char *name)
{
        if (r == KD_NAMESPACES)
                return ferry_is_dns_label(name);
        return ferry_is_dns_subdomain(name);
}

int kd_create(struct kd_store *s, enum kd_res r, const char *ns, json_t *in, bool load,
              json_t **ret, struct kd_err *e)
{
        const struct kd_resource *rs = &kd_resources[r];
        if (!json_is_object(in))
                return kd_fail(e, 400, "BadRequest",
                               "the body of the request is not a JSON object");
        json_t *obj = json_deep_copy(in);
        if (check_type(r, obj, e) < 0)
                goto fail;
        json_t *meta = json_object_get(obj, "metadata");
        const char *bns = kd_meta_str(obj, "namespace");
        char nsb[KD_NAME_MAX];
        if (rs->namespaced) {
                if (bns[0] && ns && ns[0] && strcmp(bns, ns)) {
                        kd_fail(e, 400, "BadRequest",
                                "the namespace of the provided object does not match the namespace "
                                "sent on the request");
                        goto fail;
                }
                if (!ns || !ns[0])
                        ns = bns[0] ? bns : "default";
                snprintf(nsb, sizeof(nsb), "%s", ns);
                ns = nsb; /* the setter below frees the string ns may point into */
                kd_set_meta_str(obj, "namespace", ns);
        } else {
                json_object_del(meta, "namespace");
        }
        const char *name = kd_meta_str(obj, "name");
        if (!name[0]) {
                const char *gen = kd_meta_str(obj, "generateName");
                if (!gen[0]) {
                        invalid(e, r, "", "metadata.name",
                                "Required value: name or generateName is required");
                        goto fail;
                }
                char nb[KD_NAME_MAX], sfx[6];
                for (int tries = 0; tries < 8; tries++) {
                        kd_random_suffix(sfx, sizeof(sfx));
                        snprintf(nb, sizeof(nb), "%.*s%s", 58, gen, sfx);
                        if (!kd_store_get(s, r, ns, nb))
                                break;
                }
                kd_set_meta_str(obj, "name", nb);
                name = kd_meta_str(obj, "name");
        }
        if (!name_ok(r, name)) {
                invalid(e, r, name, "metadata.name",
                        "Invalid value: a lowercase RFC 1123 subdomain must consist of lower case "
                        "alphanumeric characters, '-' or '.', and must start and end with an "
                        "alphanumeric character");
                goto fail;
        }
        if (!load && kd_meta_str(obj, "resourceVersion")[0]) {
                kd_fail(e, 500, "InternalError",
                        "resourceVersion should not be set on objects to be created");
                goto fail;
        }
        if (rs->namespaced) {
                if (load)
                        kd_ensure_namespace(s, ns);
                else if (!kd_store_get(s, KD_NAMESPACES, ns, ns)) {
                        not_found(e, KD_NAMESPACES, ns);
                        goto fail;
                }
        }
        if (kd_store_get(s, r, ns, name)) {
                char q[96];
                kd_fail(e, 409, "AlreadyExists", "%s \"%s\" already exists",
                        kd_res_qualified(r, q, sizeof(q)), name);
                snprintf(e->name, sizeof(e->name), "%s", name);
                e->kind = rs->plural;
                e->group = rs->group;
                goto fail;
        }
        if (s->n_objs >= KD_MAX_OBJECTS) {
                kd_fail(e, 507, "InternalError", "the double holds %u objects already",
                        KD_MAX_OBJECTS);
                goto fail;
        }
        char uid[37], now[FERRY_TIME_MAX];
        if (!load || !kd_meta_str(obj, "uid")[0]) {
                ferry_uuid_generate(uid);
                kd_set_meta_str(obj, "uid", uid);
        }
        if (!load || !kd_meta_str(obj, "creationTimestamp")[0]) {
                kd_now_rfc3339(now);
                kd_set_meta_str(obj, "creationTimestamp", now);
        }
        static const char *const system_fields[] = {"deletionTimestamp",
                                                    "deletionGracePeriodSeconds", "generation",
                                                    "managedFields", "selfLink"};
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(system_fields); i++)
                json_object_del(meta, system_fields[i]);
        json_object_del(meta, "resourceVersion");

        if (r == KD_PODS) {
                if (validate_pod(obj, name, e) < 0)
                        goto fail;
                json_t *spec = json_object_get(obj, "spec");
                default_pod_spec(spec);
                if (admit_service_account(s, obj, ns, e) < 0)
                        goto fail;
                admit_default_tolerations(spec);
                if (!load || !json_is_object(json_object_get(obj, "status")))
                        json_object_set_new(obj, "status",
                                            json_pack("{s:s, s:s}", "phase", "Pending", "qosClass",
                                                      qos_class(spec)));
        } else if (r == KD_NAMESPACES) {
                json_object_set_new(obj, "spec", json_pack("{s:[s]}", "finalizers", "kubernetes"));
                json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Active"));
                json_object_set_new(ensure_obj(meta, "labels"), "kubernetes.io/metadata.name",
                                    json_string(name));
        } else if (r == KD_SECRETS) {
                set_default(obj, "type", json_string("Opaque"));
        }
        json_t *stored = kd_store_put(s, r, obj, KD_EV_ADDED);
        if (r == KD_NAMESPACES)
                namespace_controllers(s, name);
        *ret = json_incref(stored);
        return 0;
fail:
        json_decref(obj);
        return -1;
}

/* ---- update ---- */
static void copy_field(json_t *dst, const json_t *src, const char *key)
{
        json_t *v = json_object_get(src, key);
        if (v)
                json_object_set(dst, key, v);
        else
                json_object_del(dst, key);
}

static bool finalizers_added(json_t *old_meta, json_t *new_meta)
{
        size_t i, j;
        json_t *f, *g;
        json_array_foreach(json_object_get(new_meta, "finalizers"), i, f)
        {
                bool found = false;
                json_array_foreach(json_object_get(old_meta, "finalizers"), j, g) found =
                    found || json_equal(f, g);
                if (!found)
                        return true;
        }
        return false;
}

static bool finalizers_empty(json_t *meta)
{
        return json_array_size(json_object_get(meta, "finalizers")) == 0;
}

int kd_update(struct kd_store *s, enum kd_res r, const char *ns, const char *name, const char *sub,
              json_t *in, json_t **ret, struct kd_err *e)
{
        const struct kd_resource *rs = &kd_resources[r];
        json_t *old = kd_store_get(s, r, ns, name);
        if (!old)
                return not_found(e, r, name);
        if (!json_is_object(in))
                return kd_fail(e, 400, "BadRequest",
                               "the body of the request is not a JSON object");
        json_t *obj = json_deep_copy(in);
        if (check_type(r, obj, e) < 0)
                goto fail;
        json_t *meta = json_object_get(obj, "metadata"),
               *old_meta = json_object_get(old, "metadata");
        const char *bname = kd_meta_str(obj, "name");
        if (bname[0] && strcmp(bname, name)) {
                kd_fail(e, 400, "BadRequest",
                        "the name of the object (%s) does not match the name on the URL (%s)",
                        bname, name);
                goto fail;
        }
        if (rs->namespaced && kd_meta_str(obj, "namespace")[0] &&
            strcmp(kd_meta_str(obj, "namespace"), ns)) {
                kd_fail(e, 400, "BadRequest",
                        "the namespace of the provided object does not match the namespace sent on "
                        "the request");
                goto fail;
        }
        const char *brv = kd_meta_str(obj, "resourceVersion");
        if (brv[0] && strcmp(brv, kd_meta_str(old, "resourceVersion"))) {
                conflict(e, r, name,
                         "the object has been modified; please apply your changes to the latest "
                         "version and try again");
                goto fail;
        }
        const char *buid = kd_meta_str(obj, "uid");
        if (buid[0] && strcmp(buid, kd_meta_str(old, "uid"))) {
                kd_fail(e, 409, "Conflict",
                        "Precondition failed: UID in precondition: %s, UID in object meta: %s",
                        buid, kd_meta_str(old, "uid"));
                goto fail;
        }
        static const char *const kept[] = {"name",
                                           "namespace",
                                           "uid",
                                           "creationTimestamp",
                                           "deletionTimestamp",
                                           "deletionGracePeriodSeconds",
                                           "resourceVersion",
                                           "generateName"};
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(kept); i++)
                copy_field(meta, old_meta, kept[i]);
        json_object_del(meta, "managedFields");
        json_object_del(meta, "selfLink");
        bool has_status = rs->subresources && strstr(rs->subresources, "status");
        if (sub && !strcmp(sub, "status")) {
                copy_field(obj, old, "spec");
                if (r == KD_PODS)
                        copy_field(meta, old_meta, "ownerReferences");
        } else if (has_status) {
                copy_field(obj, old, "status");
        }
        if (r == KD_PODS) {
                json_t *spec = json_object_get(obj, "spec");
                if (json_is_object(spec))
                        default_pod_spec(spec);
                if (!json_is_object(spec) ||
                    !pod_spec_update_allowed(json_object_get(old, "spec"), spec)) {
                        invalid(e, r, name, "spec",
                                "Forbidden: pod updates may not change fields other than "
                                "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec."
                                "activeDeadlineSeconds`,`spec.tolerations` (only additions to "
                                "existing tolerations),`spec.terminationGracePeriodSeconds` (allow "
                                "it to be set to 1 if it was previously negative)");
                        goto fail;
                }
        }
        if (json_object_get(old_meta, "deletionTimestamp") && finalizers_added(old_meta, meta)) {
                invalid(e, r, name, "metadata.finalizers",
                        "Forbidden: no new finalizers can be added if the object is being deleted");
                goto fail;
        }
        if (json_equal(obj, old)) { /* a no-op update is not written (no new resourceVersion) */
                json_decref(obj);
                *ret = json_incref(old);
                return 0;
        }
        json_t *stored = kd_store_put(s, r, obj, KD_EV_MODIFIED);
        *ret = json_incref(stored);
        json_t *dgp = json_object_get(meta, "deletionGracePeriodSeconds");
        if (json_object_get(meta, "deletionTimestamp") && finalizers_empty(meta) &&
            (r != KD_PODS || json_integer_value(dgp) == 0))
                kd_store_remove(s, r, ns, name);
        return 0;
fail:
        json_decref(obj);
        return -1;
}

/* ---- delete ---- */
static void remove_namespace_contents(struct kd_store *s, const char *ns)
{
        for (int r = 0; r < KD_RES_MAX; r++) {
                if (!kd_resources[r].namespaced)
                        continue;
                json_t *snap = kd_store_snapshot(s, (enum kd_res)r, 0);
                size_t i;
                json_t *o;
                json_array_foreach(snap, i, o) if (!strcmp(kd_meta_str(o, "namespace"), ns))
                    kd_store_remove(s, (enum kd_res)r, ns, kd_meta_str(o, "name"));
                json_decref(snap);
        }
}

int kd_delete(struct kd_store *s, enum kd_res r, const char *ns, const char *name,
              const json_t *opts, json_t **ret, struct kd_err *e)
{
        json_t *old = kd_store_get(s, r, ns, name);
        if (!old)
                return not_found(e, r, name);
        json_t *pre = json_object_get(opts, "preconditions");
        const char *puid = json_string_value(json_object_get(pre, "uid"));
        const char *prv = json_string_value(json_object_get(pre, "resourceVersion"));
        if (puid && strcmp(puid, kd_meta_str(old, "uid")))
                return kd_fail(
                    e, 409, "Conflict",
                    "Precondition failed: UID in precondition: %s, UID in object meta: %s", puid,
                    kd_meta_str(old, "uid"));
        if (prv && strcmp(prv, kd_meta_str(old, "resourceVersion")))
                return kd_fail(e, 409, "Conflict",
                               "Precondition failed: ResourceVersion in precondition: %s, "
                               "ResourceVersion in object meta: %s",
                               prv, kd_meta_str(old, "resourceVersion"));
        json_int_t grace = 0;
        if (r == KD_PODS) {
                json_t *g = json_object_get(opts, "gracePeriodSeconds");
                json_t *spec = json_object_get(old, "spec");
                json_t *tg = json_object_get(spec, "terminationGracePeriodSeconds");
                grace = json_is_integer(g)    ? json_integer_value(g)
                        : json_is_integer(tg) ? json_integer_value(tg)
                                              : 30;
                const char *phase =
                    json_string_value(json_object_get(json_object_get(old, "status"), "phase"));
                const char *node = json_string_value(json_object_get(spec, "nodeName"));
                /* unscheduled and finished pods go at once (pod strategy CheckGracefulDelete) */
                if (!node || !node[0] ||
                    (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))))
                        grace = 0;
                if (grace < 0)
                        grace = 0;
        }
        json_t *meta = json_object_get(old, "metadata");
        json_t *cur_grace = json_object_get(meta, "deletionGracePeriodSeconds");
        bool deleting = json_object_get(meta, "deletionTimestamp") != NULL;
        if (deleting && grace > 0 && json_is_integer(cur_grace) &&
            json_integer_value(cur_grace) <= grace) {
                *ret = json_incref(old); /* a graceful delete can only shorten the grace period */
                return 0;
        }
        if (grace > 0 || !finalizers_empty(meta)) {
                json_t *obj = json_deep_copy(old);
                char ts[FERRY_TIME_MAX];
                time_after(grace, ts);
                if (!deleting || grace > 0)
                        kd_set_meta_str(obj, "deletionTimestamp", ts);
                json_object_set_new(json_object_get(obj, "metadata"), "deletionGracePeriodSeconds",
                                    json_integer(grace));
                if (json_equal(obj, old)) {
                        json_decref(obj);
                        *ret = json_incref(old);
                        return 0;
                }
                *ret = json_incref(kd_store_put(s, r, obj, KD_EV_MODIFIED));
                return 0;
        }
        json_t *last = json_incref(old);
        if (r == KD_NAMESPACES)
                remove_namespace_contents(s, name);
        kd_store_remove(s, r, ns, name);
        if (kd_resources[r].returns_deleted_object) {
                *ret = last;
        } else {
                json_decref(last);
                *ret = NULL;
        }
        return 0;
}

/* ---- pods/binding ---- */
int kd_bind(struct kd_store *s, const char *ns, const char *name, json_t *binding, struct kd_err *e)
{
        json_t *old = kd_store_get(s, KD_PODS, ns, name);
        if (!old)
                return not_found(e, KD_PODS, name);
        json_t *target = json_object_get(binding, "target");
        const char *node = json_string_value(json_object_get(target, "name"));
        if (!node || !node[0])
                return invalid(e, KD_PODS, name, "target.name", "Required value");
        const char *cur =
            json_string_value(json_object_get(json_object_get(old, "spec"), "nodeName"));
        if (cur && cur[0])
                return conflict(e, KD_PODS, name, "pod is already assigned to a node");
        if (json_object_get(json_object_get(old, "metadata"), "deletionTimestamp"))
                return conflict(e, KD_PODS, name,
                                "pod is being deleted, cannot be assigned to a host");
        json_t *obj = json_deep_copy(old);
        json_object_set_new(json_object_get(obj, "spec"), "nodeName", json_string(node));
        json_t *st = ensure_obj(obj, "status");
        if (!json_is_array(json_object_get(st, "conditions")))
                json_object_set_new(st, "conditions", json_array());
        char now[FERRY_TIME_MAX];
        kd_now_rfc3339(now);
        json_array_append_new(json_object_get(st, "conditions"),
                              json_pack("{s:s, s:s, s:n, s:s}", "type", "PodScheduled", "status",
                                        "True", "lastProbeTime", "lastTransitionTime", now));
        kd_store_put(s, KD_PODS, obj, KD_EV_MODIFIED);
        return 0;
}

/* ---- serviceaccounts/token ---- */
#define WARN_ONLY_EXPIRATION 3607         /* the kubelet's kube-api-access request */
#define EXTENDED_EXPIRATION (365 * 86400) /* --service-account-extend-token-expiration */
#define DEFAULT_AUDIENCE "https://kubernetes.default.svc.cluster.local"

int kd_token_request(struct kd_store *s, const char *ns, const char *name, json_t *req,
                     json_t **ret, struct kd_err *e)
{
        json_t *sa = kd_store_get(s, KD_SERVICEACCOUNTS, ns, name);
        if (!sa)
                return not_found(e, KD_SERVICEACCOUNTS, name);
        if (!json_is_object(req))
                return kd_fail(e, 400, "BadRequest",
                               "the body of the request is not a TokenRequest object");
        const char *kind = json_string_value(json_object_get(req, "kind"));
        if (kind && strcmp(kind, "TokenRequest"))
                return kd_fail(
                    e, 400, "BadRequest",
                    "the object provided is unrecognized (must be of type TokenRequest): Kind=%s",
                    kind);
        json_t *spec = json_object_get(req, "spec");
        json_t *exp = json_object_get(spec, "expirationSeconds");
        json_int_t secs = json_is_integer(exp) ? json_integer_value(exp) : 3600;
        if (secs < 600)
                return kd_fail(
                    e, 422, "Invalid",
                    "TokenRequest.authentication.k8s.io \"%s\" is invalid: spec.expirationSeconds: "
                    "Invalid value: %lld: may not specify a duration less than 10 minutes",
                    name, (long long)secs);
        if (secs > (json_int_t)1 << 32)
                return kd_fail(
                    e, 422, "Invalid",
                    "TokenRequest.authentication.k8s.io \"%s\" is invalid: spec.expirationSeconds: "
                    "Invalid value: %lld: may not specify a duration larger than 2^32 seconds",
                    name, (long long)secs);
        json_t *aud = json_object_get(spec, "audiences");
        aud = json_array_size(aud) ? json_deep_copy(aud) : json_pack("[s]", DEFAULT_AUDIENCE);
        json_t *bref = json_object_get(spec, "boundObjectRef");
        json_t *kio = json_pack("{s:s, s:{s:s, s:s}}", "namespace", ns, "serviceaccount", "name",
                                name, "uid", kd_meta_str(sa, "uid"));
        json_int_t jwt_secs = secs;
        if (json_is_object(bref)) {
                const char *bk = json_string_value(json_object_get(bref, "kind"));
                const char *bn = json_string_value(json_object_get(bref, "name"));
                const char *bu = json_string_value(json_object_get(bref, "uid"));
                enum kd_res br = KD_PODS;
                if (bk && !strcmp(bk, "Pod"))
                        br = KD_PODS;
                else if (bk && !strcmp(bk, "Secret"))
                        br = KD_SECRETS;
                else if (bk && !strcmp(bk, "Node"))
                        br = KD_NODES;
                else {
                        json_decref(aud);
                        json_decref(kio);
                        return kd_fail(e, 422, "Invalid",
                                       "TokenRequest.authentication.k8s.io \"%s\" is invalid: "
                                       "spec.boundObjectRef.kind: Unsupported value: \"%s\": "
                                       "supported values: \"Pod\", \"Secret\", \"Node\"",
                                       name, bk ? bk : "");
                }
                json_t *bo = kd_store_get(s, br, ns, bn ? bn : "");
                if (!bo) {
                        json_decref(aud);
                        json_decref(kio);
                        return not_found(e, br, bn ? bn : "");
                }
                if (bu && bu[0] && strcmp(bu, kd_meta_str(bo, "uid"))) {
                        json_decref(aud);
                        json_decref(kio);
                        return kd_fail(
                            e, 409, "Conflict",
                            "the UID in the bound object reference (%s) does not match the UID in "
                            "record. The object might have been deleted and then recreated",
                            bu);
                }
                json_object_set_new(
                    kio,
                    br == KD_PODS      ? "pod"
                    : br == KD_SECRETS ? "secret"
                                       : "node",
                    json_pack("{s:s, s:s}", "name", bn, "uid", kd_meta_str(bo, "uid")));
                if (br == KD_PODS && secs == WARN_ONLY_EXPIRATION) {
                        /* The JWT lives a year; the answer still says 3607 s, as the real API. */
                        jwt_secs = EXTENDED_EXPIRATION;
                        json_object_set_new(kio, "warnafter",
                                            json_integer(ferry_now_ns() / 1000000000LL + secs));
                }
        }
        int64_t now = ferry_now_ns() / 1000000000LL;
        char sub[2 * KD_NAME_MAX + 40];
        snprintf(sub, sizeof(sub), "system:serviceaccount:%s:%s", ns, name);
        json_t *claims =
            json_pack("{s:O, s:I, s:I, s:s, s:o, s:I, s:s}", "aud", aud, "exp",
                      (json_int_t)(now + jwt_secs), "iat", (json_int_t)now, "iss", DEFAULT_AUDIENCE,
                      "kubernetes.io", kio, "nbf", (json_int_t)now, "sub", sub);
        json_t *hdr = json_pack("{s:s, s:s}", "alg", "RS256", "kid", "ferry-kube-double");
        char *hdr_s = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(hdr);
        char *cl_s = json_dumps(claims, JSON_COMPACT);
        unsigned char sig[256];
        if (getrandom(sig, sizeof(sig), 0) != (ssize_t)sizeof(sig))
                memset(sig, 0x5a, sizeof(sig));
        char *h64 = kd_base64(hdr_s, strlen(hdr_s), true),
             *c64 = kd_base64(cl_s, strlen(cl_s), true), *s64 = kd_base64(sig, sizeof(sig), true);
        char *token = ferry_xasprintf("%s.%s.%s", h64, c64, s64);
        free(hdr_s);
        free(cl_s);
        free(h64);
        free(c64);
        free(s64);
        char ts[FERRY_TIME_MAX];
        time_after(secs, ts);
        json_t *out_spec = json_pack("{s:O, s:I, s:O}", "audiences", aud, "expirationSeconds", secs,
                                     "boundObjectRef", bref ? bref : json_null());
        json_t *out =
            json_pack("{s:s, s:s, s:{s:s, s:s, s:n}, s:o, s:{s:s, s:s}}", "kind", "TokenRequest",
                      "apiVersion", "authentication.k8s.io/v1", "metadata", "name", name,
                      "namespace", ns, "creationTimestamp", "spec", out_spec, "status", "token",
                      token, "expirationTimestamp", ts);
        if (json_array_size(s->tokens) >= 10000)
                json_array_remove(s->tokens, 0);
        json_array_append_new(
            s->tokens, json_pack("{s:s, s:s, s:s, s:O, s:I, s:s, s:O, s:O}", "namespace", ns,
                                 "serviceAccount", name, "token", token, "audiences", aud,
                                 "expirationSeconds", secs, "expirationTimestamp", ts,
                                 "boundObjectRef", bref ? bref : json_null(), "claims", claims));
        json_decref(claims);
        json_decref(aud);
        free(token);
        *ret = out;
        return 0;
}
