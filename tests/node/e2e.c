/* SPDX-License-Identifier: MIT */
/*
 * node-e2e: checks of a running ferry-node, driven through the Kubernetes API
 * double (with libferry-kube) and the node's kubelet endpoint. e2e.sh starts
 * the processes and calls one step at a time:
 *
 *   node-e2e node          Node registered: labels, taint, capacity, conditions; Lease renewed
 *   node-e2e conformance DIR [CASE...]
 *                          every tests/data/conformance case as a Kubernetes pod bound to the
 *                          node: expected phase in the stored status, exit codes, logs through
 *                          the kubelet endpoint, JobID annotation
 *   node-e2e create NAME CMD          a pod running `sh -c CMD`
 *   node-e2e wait-phase NAME PHASE    (also Running)
 *   node-e2e delete NAME              graceful delete; wait until the API object is gone
 *   node-e2e gone NAME                wait until the API object is gone
 *   node-e2e condition TYPE STATUS    wait for a Node condition
 *   node-e2e jobid NAME               print the JobID annotation
 *   node-e2e uid NAME                 print the pod's uid
 *   node-e2e create-special NAME KIND a pod that cannot start: KIND missing-cm (mounts a
 *                                     ConfigMap that does not exist), bad-fieldref (an env
 *                                     fieldRef a virtual node refuses; a real API server
 *                                     refuses it first) or site-refuses (a hostPath volume)
 *   node-e2e wait-log NAME TEXT       the log of container main (kubelet port) has TEXT
 *   node-e2e delete-grace NAME N      delete the pod with gracePeriodSeconds N; do not wait
 *   node-e2e final NAME GRACE|- EXIT [TEXT]
 *                          delete the pod (gracePeriodSeconds GRACE, or the spec's with -) as
 *                          kubectl does and follow it: while ferryd (FERRYD=its unix socket;
 *                          unset: not asked) still runs the container, the API object must be
 *                          there; the object as the API server last stored it (its watch
 *                          DELETED event, watched from before the delete) must come after a
 *                          graceful MODIFIED (deletionTimestamp, deletionGracePeriodSeconds
 *                          GRACE) and hold container main terminated with exit code EXIT (and
 *                          TEXT in its message)
 *   node-e2e event KIND NAME TYPE REASON MINCOUNT [MAXEVENTS]
 *                          wait for core/v1 Events about the Pod (in NS) or Node (in default)
 *                          NAME with that reason whose counts add up to MINCOUNT; check
 *                          involvedObject (kind, apiVersion, namespace, uid), source
 *                          (ferry-node, NODE), type, timestamps, and that repeats were
 *                          aggregated into at most MAXEVENTS (1) Event objects
 *
 * Environment: KUBECONFIG, NODE (node name), KUBELET (http://127.0.0.1:PORT; or
 * E2E_LOGS_VIA_API=https://API-SERVER with E2E_API_TOKEN and E2E_API_CA: logs as
 * kubectl reads them, through the API server and the node's kubelet port),
 * NS (namespace, default "e2e"). Prints "ok - ..." / "not ok - ..." lines;
 * exit status 0 when every check passed.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube/kube.h"
#include "kube/kubeconfig.h"

static struct ferry_kube *kube;
static const char *node, *kubelet, *ns;

static const char *sget(const json_t *o, const char *k)
{
        return json_string_value(json_object_get(o, k));
}

static void msleep(int ms)
{
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
}

static int bad(const char *fmt, const char *a, const char *b)
{
        printf("not ok - ");
        printf(fmt, a ? a : "", b ? b : "");
        printf("\n");
        fflush(stdout);
        return 1;
}

static void ensure_ns(const char *name)
{
        json_t *o = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                              "metadata", "name", name);
        ferry_error_t err;
        ferry_kube_create(kube, "/api/v1/namespaces", o, NULL, &err);
        json_decref(o);
        /* what kube-controller-manager would make; a real API server refuses pods
         * of a namespace without it (ServiceAccount admission). Exists: fine. */
        char path[300];
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/serviceaccounts", name);
        o = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "ServiceAccount", "metadata",
                      "name", "default");
        ferry_kube_create(kube, path, o, NULL, &err);
        json_decref(o);
        /* and the CA bundle that service-account volumes project (root-ca-cert-publisher) */
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", name);
        o = json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                      "metadata", "name", "kube-root-ca.crt", "data", "ca.crt",
                      "-----BEGIN CERTIFICATE-----\n");
        ferry_kube_create(kube, path, o, NULL, &err);
        json_decref(o);
}

static json_t *get_pod(const char *pns, const char *name)
{
        char path[512];
        json_t *p = NULL;
        ferry_error_t err;
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", pns, name);
        if (ferry_kube_get(kube, path, &p, &err) < 0)
                return NULL;
        return p;
}

static const char *phase_of(const json_t *pod)
{
        const char *p = sget(json_object_get(pod, "status"), "phase");
        return p ? p : "";
}

/* wait until the pod's stored phase is want (or a final phase); returns the pod */
static json_t *wait_phase(const char *pns, const char *name, const char *want, int timeout_s)
{
        json_t *pod = NULL;
        for (int i = 0; i < timeout_s * 10; i++) {
                json_decref(pod);
                pod = get_pod(pns, name);
                const char *ph = phase_of(pod);
                if (!strcmp(ph, want) || (strcmp(want, "Running") &&
                                          (!strcmp(ph, "Succeeded") || !strcmp(ph, "Failed"))))
                        return pod;
                msleep(100);
        }
        return pod;
}

struct body {
        char *data;
        size_t len;
};

static size_t collect(char *p, size_t s, size_t n, void *ud)
{
        struct body *b = ud;
        b->data = realloc(b->data, b->len + s * n + 1);
        memcpy(b->data + b->len, p, s * n);
        b->len += s * n;
        b->data[b->len] = '\0';
        return s * n;
}

static char *kubelet_logs(const char *pns, const char *pod, const char *container,
                          const char *query, long *code)
{
        char url[1024], auth[4200];
        struct body b = {calloc(1, 1), 0};
        const char *api = getenv("E2E_LOGS_VIA_API"), *token = getenv("E2E_API_TOKEN");
        struct curl_slist *h = NULL;
        CURL *c = curl_easy_init();
        if (api && *api) {
                /* as kubectl logs does: the API server asks the node's kubelet port */
                snprintf(url, sizeof(url), "%s/api/v1/namespaces/%s/pods/%s/log?container=%s%s%s",
                         api, pns, pod, container, query ? "&" : "", query ? query : "");
                snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "");
                h = curl_slist_append(h, auth);
                curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
                if (getenv("E2E_API_CA"))
                        curl_easy_setopt(c, CURLOPT_CAINFO, getenv("E2E_API_CA"));
        } else {
                snprintf(url, sizeof(url), "%s/containerLogs/%s/%s/%s%s%s", kubelet, pns, pod,
                         container, query ? "?" : "", query ? query : "");
        }
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
        CURLcode cc = curl_easy_perform(c);
        *code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
        curl_easy_cleanup(c);
        curl_slist_free_all(h);
        if (cc != CURLE_OK) {
                free(b.data);
                return NULL;
        }
        return b.data;
}

static bool line_matches(const char *text, const char *pattern)
{
        regex_t re;
        bool m = false;
        if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
                return false;
        for (const char *p = text; p && *p;) {
                const char *nl = strchr(p, '\n');
                char *line = strndup(p, nl ? (size_t)(nl - p) : strlen(p));
                m = regexec(&re, line, 0, NULL, 0) == 0;
                free(line);
                if (m || !nl)
                        break;
                p = nl + 1;
        }
        regfree(&re);
        return m;
}

static const json_t *cstatus(const json_t *pod, const char *name)
{
        const char *lists[] = {"containerStatuses", "initContainerStatuses"};
        for (int l = 0; l < 2; l++) {
                size_t i;
                json_t *c;
                json_array_foreach(json_object_get(json_object_get(pod, "status"), lists[l]), i,
                                   c) if (sget(c, "name") &&
                                          !strcmp(sget(c, "name"), name)) return c;
        }
        return NULL;
}

/* ---- conformance ---- */

static void create_obj(const char *kind_path, json_t *obj, const char *ons)
{
        char path[512];
        ferry_error_t err;
        json_t *o = json_deep_copy(obj);
        json_t *meta = json_object_get(o, "metadata");
        json_object_set_new(meta, "namespace", json_string(ons));
        json_object_del(meta, "uid");
        json_object_del(meta, "resourceVersion");
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/%s", ons, kind_path);
        if (ferry_kube_create(kube, path, o, NULL, &err) == -EEXIST) {
                snprintf(path, sizeof(path), "/api/v1/namespaces/%s/%s/%s", ons, kind_path,
                         sget(meta, "name"));
                ferry_kube_put(kube, path, o, NULL, &err);
        }
        json_decref(o);
}

/* The case's flattened projected maps become real projected sources: ca.crt
 * from kube-root-ca.crt, namespace from the downward API, anything else from a
 * ConfigMap named VOLUME-data. */
static void realize_projected(json_t *pod, json_t *maps, const char *ons)
{
        size_t i;
        json_t *m;
        json_array_foreach(maps, i, m)
        {
                const char *vname = sget(json_object_get(m, "metadata"), "name");
                json_t *vol = NULL, *v;
                size_t j;
                json_array_foreach(json_object_get(json_object_get(pod, "spec"), "volumes"), j,
                                   v) if (sget(v, "name") && !strcmp(sget(v, "name"), vname)) vol =
                    v;
                if (!vol)
                        continue;
                json_t *sources = json_array(), *items = json_array(), *extra = json_object();
                const char *k;
                json_t *val;
                json_object_foreach(json_object_get(m, "data"), k, val)
                {
                        if (!strcmp(k, "ca.crt")) {
                                json_t *cm =
                                    json_pack("{s:s,s:s,s:{s:s},s:{s:O}}", "apiVersion", "v1",
                                              "kind", "ConfigMap", "metadata", "name",
                                              "kube-root-ca.crt", "data", "ca.crt", val);
                                create_obj("configmaps", cm, ons);
                                json_decref(cm);
                                json_array_append_new(
                                    sources, json_pack("{s:{s:s,s:[{s:s,s:s}]}}", "configMap",
                                                       "name", "kube-root-ca.crt", "items", "key",
                                                       "ca.crt", "path", "ca.crt"));
                        } else if (!strcmp(k, "namespace")) {
                                json_array_append_new(items,
                                                      json_pack("{s:s,s:{s:s}}", "path",
                                                                "namespace", "fieldRef",
                                                                "fieldPath", "metadata.namespace"));
                        } else {
                                json_object_set(extra, k, val);
                        }
                }
                if (json_array_size(items))
                        json_array_append_new(
                            sources, json_pack("{s:{s:O}}", "downwardAPI", "items", items));
                if (json_object_size(extra)) {
                        char name[300];
                        snprintf(name, sizeof(name), "%s-data", vname);
                        json_t *cm =
                            json_pack("{s:s,s:s,s:{s:s},s:O}", "apiVersion", "v1", "kind",
                                      "ConfigMap", "metadata", "name", name, "data", extra);
                        create_obj("configmaps", cm, ons);
                        json_decref(cm);
                        json_array_append_new(sources,
                                              json_pack("{s:{s:s}}", "configMap", "name", name));
                }
                json_object_set_new(vol, "projected", json_pack("{s:o}", "sources", sources));
                json_decref(items);
                json_decref(extra);
        }
}

/* A case with "needs": ["limits"] (expect.json) asks for memory and CPU
 * limits, which need a cgroup file system this run may write: a read-only
 * or missing one (a container, a non-root run) cannot have them, and such a
 * case is skipped with that reason, as ferryd says limits are not enforced. */
static bool needs_unmet(const json_t *expect)
{
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(expect, "needs"), i, v)
        {
                if (strcmp(json_string_value(v) ? json_string_value(v) : "", "limits") != 0)
                        continue;
                if (access("/sys/fs/cgroup/memory", W_OK) == 0) /* v1 */
                        continue;
                if (access("/sys/fs/cgroup/cgroup.subtree_control", F_OK) == 0 &&
                    access("/sys/fs/cgroup", W_OK) == 0) /* v2 */
                        continue;
                return true;
        }
        return false;
}

static int run_case(const char *dir, const char *cs)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s/create.json", dir, cs);
        json_t *req = json_load_file(path, 0, NULL);
        snprintf(path, sizeof(path), "%s/%s/expect.json", dir, cs);
        json_t *expect = json_load_file(path, 0, NULL);
        if (!req || !expect)
                return bad("%s: cannot read the case", cs, NULL);
        if (needs_unmet(expect)) {
                printf("# %s: skipped, no writable cgroup here (limits cannot be enforced)\n", cs);
                json_decref(req);
                json_decref(expect);
                return 0;
        }
        json_t *pod = json_deep_copy(json_object_get(req, "pod"));
        json_t *meta = json_object_get(pod, "metadata");
        const char *ons = sget(meta, "namespace") ? sget(meta, "namespace") : "default";
        char name[256];
        snprintf(name, sizeof(name), "%s", sget(meta, "name"));
        ensure_ns(ons);
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(req, "configmaps"), i, o)
            create_obj("configmaps", o, ons);
        json_array_foreach(json_object_get(req, "secrets"), i, o) create_obj("secrets", o, ons);
        realize_projected(pod, json_object_get(req, "projectedvolumesmaps"), ons);
        json_object_del(meta, "uid");
        json_object_del(pod, "status");
        json_object_set_new(json_object_get(pod, "spec"), "nodeName", json_string(node));
        /* pods are not mutated by the API server's ServiceAccount admission here:
         * the case mounts exactly what it says */
        json_object_set_new(json_object_get(pod, "spec"), "automountServiceAccountToken",
                            json_false());
        char ppath[512];
        ferry_error_t err;
        snprintf(ppath, sizeof(ppath), "/api/v1/namespaces/%s/pods", ons);
        int rc = 0;
        if (ferry_kube_create(kube, ppath, pod, NULL, &err) < 0) {
                rc = bad("%s: cannot create the pod: %s", cs, err.text);
                goto out;
        }
        json_t *got = wait_phase(ons, name, sget(expect, "phase"), 120);
        const char *want = sget(expect, "phase");
        if (strcmp(phase_of(got), want)) {
                char *d = json_dumps(json_object_get(got, "status"), 0);
                printf("# status: %s\n", d);
                free(d);
                rc = bad("%s: phase %s", cs, phase_of(got));
                json_decref(got);
                goto out;
        }
        const char *jid =
            sget(json_object_get(json_object_get(got, "metadata"), "annotations"), "JobID");
        if (!jid || !jid[0]) {
                rc = bad("%s: no JobID annotation%s", cs, NULL);
                json_decref(got);
                goto out;
        }
        const char *cname;
        json_t *v;
        json_object_foreach(json_object_get(expect, "exit"), cname, v)
        {
                json_t *term =
                    json_object_get(json_object_get(cstatus(got, cname), "state"), "terminated");
                if (!term || json_integer_value(json_object_get(term, "exitCode")) !=
                                 json_integer_value(v)) {
                        rc = bad("%s: container %s did not exit with the expected code", cs, cname);
                        goto out_got;
                }
        }
        json_object_foreach(json_object_get(expect, "logs"), cname, v)
        {
                long code;
                char *logs = kubelet_logs(ons, name, cname, NULL, &code);
                json_t *pat;
                size_t k;
                if (!logs || code != 200) {
                        rc = bad("%s: no logs for %s through the kubelet endpoint", cs, cname);
                        free(logs);
                        goto out_got;
                }
                json_array_foreach(v, k, pat) if (!line_matches(logs, json_string_value(pat)))
                {
                        printf("# logs of %s: %s\n", cname, logs);
                        rc = bad("%s: no log line matches %s", cs, json_string_value(pat));
                        free(logs);
                        goto out_got;
                }
                free(logs);
        }
        json_object_foreach(json_object_get(expect, "logs_absent"), cname, v)
        {
                long code;
                char *logs = kubelet_logs(ons, name, cname, NULL, &code);
                json_t *pat;
                size_t k;
                json_array_foreach(v, k, pat) if (logs && code == 200 &&
                                                  line_matches(logs, json_string_value(pat)))
                {
                        rc = bad("%s: a log line matches the forbidden %s", cs,
                                 json_string_value(pat));
                        free(logs);
                        goto out_got;
                }
                free(logs);
        }
        json_object_foreach(json_object_get(expect, "log_order"), cname, v)
        {
                long code;
                char *logs = kubelet_logs(ons, name, cname, NULL, &code);
                const char *p = logs && code == 200 ? logs : "";
                json_t *s;
                size_t k;
                json_array_foreach(v, k, s)
                {
                        const char *f = strstr(p, json_string_value(s));
                        if (!f) {
                                rc = bad("%s: \"%s\" missing or out of order", cs,
                                         json_string_value(s));
                                free(logs);
                                goto out_got;
                        }
                        p = f + strlen(json_string_value(s));
                }
                free(logs);
        }
        json_array_foreach(json_object_get(expect, "never_ran"), i, v)
        {
                const json_t *c = cstatus(got, json_string_value(v));
                json_t *state = json_object_get(c, "state");
                json_t *term = json_object_get(state, "terminated");
                if (json_object_get(state, "running") ||
                    (term && json_is_string(json_object_get(term, "startedAt")))) {
                        rc = bad("%s: container %s ran but must never run", cs,
                                 json_string_value(v));
                        goto out_got;
                }
        }
        /* tailLines through the kubelet endpoint */
        json_object_foreach(json_object_get(expect, "logs"), cname, v)
        {
                long code;
                char *all = kubelet_logs(ons, name, cname, NULL, &code);
                char *one = kubelet_logs(ons, name, cname, "tailLines=1", &code);
                size_t nl = 0;
                for (const char *p = one; p && *p; p++)
                        nl += *p == '\n';
                bool ok = one && code == 200 && nl <= 1 && all && strstr(all, one);
                free(all);
                free(one);
                if (!ok) {
                        rc = bad("%s: tailLines=1 for %s did not give the last line", cs, cname);
                        goto out_got;
                }
                break;
        }
        printf("ok - %s (%s, job %s)\n", cs, want, jid);
out_got:
        json_decref(got);
out:
        fflush(stdout);
        json_decref(pod);
        json_decref(req);
        json_decref(expect);
        return rc;
}

static int cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int conformance(int argc, char **argv)
{
        const char *dir = argv[0];
        char *cases[256];
        size_t n = 0;
        if (argc > 1) {
                for (int i = 1; i < argc && n < 256; i++)
                        cases[n++] = strdup(argv[i]);
        } else {
                DIR *d = opendir(dir);
                struct dirent *de;
                if (!d)
                        return bad("cannot open %s%s", dir, NULL);
                while ((de = readdir(d)) && n < 256) {
                        char p[4096];
                        snprintf(p, sizeof(p), "%s/%s/create.json", dir, de->d_name);
                        if (de->d_name[0] != '.' && access(p, R_OK) == 0)
                                cases[n++] = strdup(de->d_name);
                }
                closedir(d);
                qsort(cases, n, sizeof(cases[0]), cmp);
        }
        int failed = 0;
        for (size_t i = 0; i < n; i++) {
                failed += run_case(dir, cases[i]);
                free(cases[i]);
        }
        printf("# conformance through the virtual node: %zu cases, %d failed\n", n, failed);
        return failed ? 1 : 0;
}

/* ---- node ---- */

static const json_t *node_condition(const json_t *n, const char *type)
{
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(json_object_get(n, "status"), "conditions"), i,
                           c) if (sget(c, "type") && !strcmp(sget(c, "type"), type)) return c;
        return NULL;
}

static int check_node(void)
{
        char path[512];
        json_t *n = NULL;
        ferry_error_t err;
        int rc = 0;
        snprintf(path, sizeof(path), "/api/v1/nodes/%s", node);
        if (ferry_kube_get(kube, path, &n, &err) < 0)
                return bad("node not registered: %s%s", err.text, NULL);
        json_t *labels = json_object_get(json_object_get(n, "metadata"), "labels");
        if (strcmp(sget(labels, "type") ? sget(labels, "type") : "", "virtual-kubelet") ||
            strcmp(sget(labels, "kubernetes.io/role") ? sget(labels, "kubernetes.io/role") : "",
                   "agent"))
                rc |= bad("node labels lack type=virtual-kubelet / kubernetes.io/role=agent%s%s",
                          NULL, NULL);
        else
                printf("ok - node labels\n");
        json_t *t = json_array_get(json_object_get(json_object_get(n, "spec"), "taints"), 0);
        if (strcmp(sget(t, "key") ? sget(t, "key") : "", "virtual-node.interlink/no-schedule") ||
            strcmp(sget(t, "effect") ? sget(t, "effect") : "", "NoSchedule"))
                rc |= bad("default taint missing%s%s", NULL, NULL);
        else
                printf("ok - node taint virtual-node.interlink/no-schedule=true:NoSchedule\n");
        json_t *cap = json_object_get(json_object_get(n, "status"), "capacity");
        json_t *alloc = json_object_get(json_object_get(n, "status"), "allocatable");
        if (!sget(cap, "cpu") || !sget(cap, "memory") || !sget(cap, "pods") ||
            !json_equal(cap, alloc))
                rc |= bad("capacity/allocatable incomplete%s%s", NULL, NULL);
        else
                printf("ok - capacity cpu=%s memory=%s pods=%s\n", sget(cap, "cpu"),
                       sget(cap, "memory"), sget(cap, "pods"));
        const json_t *ready = node_condition(n, "Ready"),
                     *conn = node_condition(n, "FerryConnectivity");
        if (!ready || strcmp(sget(ready, "status"), "True") || !conn ||
            strcmp(sget(conn, "status"), "True") || !sget(conn, "reason") || !sget(conn, "message"))
                rc |=
                    bad("conditions Ready / FerryConnectivity not True with reason and message%s%s",
                        NULL, NULL);
        else
                printf("ok - conditions Ready=True, FerryConnectivity=True (%s: %s)\n",
                       sget(conn, "reason"), sget(conn, "message"));
        json_decref(n);

        snprintf(path, sizeof(path),
                 "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/%s", node);
        json_t *l1 = NULL, *l2 = NULL;
        if (ferry_kube_get(kube, path, &l1, &err) < 0)
                return bad("no lease: %s%s", err.text, NULL);
        int dur = (int)json_integer_value(
            json_object_get(json_object_get(l1, "spec"), "leaseDurationSeconds"));
        const char *t1 = sget(json_object_get(l1, "spec"), "renewTime");
        bool renewed = false;
        for (int i = 0; i < dur * 10 && !renewed; i++) {
                msleep(100);
                json_decref(l2);
                l2 = NULL;
                ferry_kube_get(kube, path, &l2, &err);
                const char *t2 = sget(json_object_get(l2, "spec"), "renewTime");
                renewed = t1 && t2 && strcmp(t1, t2) != 0;
        }
        if (!renewed)
                rc |= bad("lease not renewed within its duration (%s)%s", t1, NULL);
        else
                printf("ok - lease renewed within its %d s duration (%s -> %s)\n", dur, t1,
                       sget(json_object_get(l2, "spec"), "renewTime"));
        json_decref(l1);
        json_decref(l2);
        return rc;
}

static int create_special(const char *name, const char *kind)
{
        json_t *pod = json_pack(
            "{s:s,s:s,s:{s:s},s:{s:s,s:s,s:b,s:[{s:s,s:s,s:[s,s,s]}]}}", "apiVersion", "v1", "kind",
            "Pod", "metadata", "name", name, "spec", "nodeName", node, "restartPolicy", "Never",
            "automountServiceAccountToken", 0, "containers", "name", "main", "image",
            "docker.io/library/busybox:1.36", "command", "sh", "-c", "true");
        json_t *spec = json_object_get(pod, "spec");
        json_t *ctr = json_array_get(json_object_get(spec, "containers"), 0);
        if (!strcmp(kind, "missing-cm")) {
                json_object_set_new(
                    spec, "volumes",
                    json_pack("[{s:s,s:{s:s}}]", "name", "cfg", "configMap", "name", "absent-cm"));
                json_object_set_new(ctr, "volumeMounts",
                                    json_pack("[{s:s,s:s}]", "name", "cfg", "mountPath", "/cfg"));
        } else if (!strcmp(kind, "site-refuses")) {
                /* valid for the API server, refused by the site (ferryd: 400) */
                json_object_set_new(
                    spec, "volumes",
                    json_pack("[{s:s,s:{s:s}}]", "name", "root", "hostPath", "path", "/etc"));
                json_object_set_new(ctr, "volumeMounts",
                                    json_pack("[{s:s,s:s}]", "name", "root", "mountPath", "/host"));
        } else {
                json_object_set_new(ctr, "env",
                                    json_pack("[{s:s,s:{s:{s:s}}}]", "name", "IPS", "valueFrom",
                                              "fieldRef", "fieldPath", "spec.schedulerName"));
        }
        char path[512];
        ferry_error_t err;
        ensure_ns(ns);
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
        int rc = ferry_kube_create(kube, path, pod, NULL, &err) < 0
                     ? bad("create %s: %s", name, err.text)
                     : 0;
        if (!rc)
                printf("ok - created pod %s (%s)\n", name, kind);
        json_decref(pod);
        return rc;
}

static bool str_is(const json_t *o, const char *k, const char *want)
{
        const char *v = sget(o, k);
        return v && !strcmp(v, want);
}

static int check_events(const char *kind, const char *name, const char *type, const char *reason,
                        int min_count, int max_events)
{
        bool is_pod = !strcmp(kind, "Pod");
        const char *ens = is_pod ? ns : "default";
        char path[1024];
        ferry_error_t err;
        json_t *list = NULL;
        long total = 0;
        for (int i = 0; i < 300; i++) {
                json_decref(list);
                list = NULL;
                total = 0;
                snprintf(path, sizeof(path),
                         "/api/v1/namespaces/%s/"
                         "events?fieldSelector=involvedObject.name%%3D%s,reason%%3D%s",
                         ens, name, reason);
                if (ferry_kube_get(kube, path, &list, &err) == 0) {
                        size_t j;
                        json_t *e;
                        json_array_foreach(json_object_get(list, "items"), j, e) total +=
                            (long)json_integer_value(json_object_get(e, "count"));
                        if (total >= min_count)
                                break;
                }
                msleep(100);
        }
        if (total < min_count) {
                char want[64];
                snprintf(want, sizeof(want), "%s %ld < %d", reason, total, min_count);
                json_decref(list);
                return bad("events about %s: count of %s", name, want);
        }
        /* the object as it is now, for its uid */
        json_t *obj = NULL;
        if (is_pod)
                snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, name);
        else
                snprintf(path, sizeof(path), "/api/v1/nodes/%s", name);
        ferry_kube_get(kube, path, &obj, &err);
        const char *uid = sget(json_object_get(obj, "metadata"), "uid");
        int rc = 0;
        size_t j, n = json_array_size(json_object_get(list, "items"));
        json_t *e;
        json_array_foreach(json_object_get(list, "items"), j, e)
        {
                const json_t *io = json_object_get(e, "involvedObject"),
                             *src = json_object_get(e, "source");
                const char *first = sget(e, "firstTimestamp"), *last = sget(e, "lastTimestamp");
                if (!str_is(io, "kind", kind) || !str_is(io, "apiVersion", "v1") ||
                    (is_pod && (!str_is(io, "namespace", ns) || !sget(io, "resourceVersion"))) ||
                    (uid && !str_is(io, "uid", uid)))
                        rc |= bad("event %s: involvedObject does not name the object%s",
                                  sget(json_object_get(e, "metadata"), "name"), NULL);
                if (!str_is(src, "component", "ferry-node") || !str_is(src, "host", node))
                        rc |= bad("event %s: source is not ferry-node on this node%s",
                                  sget(json_object_get(e, "metadata"), "name"), NULL);
                if (!str_is(e, "type", type))
                        rc |= bad("event %s: type is not %s",
                                  sget(json_object_get(e, "metadata"), "name"), type);
                if (!first || !last || !first[0] || strcmp(first, last) > 0)
                        rc |= bad("event %s: bad first/lastTimestamp%s",
                                  sget(json_object_get(e, "metadata"), "name"), NULL);
        }
        if ((int)n > max_events) {
                char m[64];
                snprintf(m, sizeof(m), "%zu Event objects for %s", n, reason);
                rc |= bad("events about %s not aggregated: %s", name, m);
        }
        if (!rc)
                printf("ok - %s %s: %zu %s Event(s) of type %s, count %ld (%s)\n", kind, name, n,
                       reason, type, total,
                       sget(json_array_get(json_object_get(list, "items"), 0), "message"));
        json_decref(obj);
        json_decref(list);
        return rc;
}

static int wait_condition(const char *type, const char *status)
{
        char path[512];
        ferry_error_t err;
        snprintf(path, sizeof(path), "/api/v1/nodes/%s", node);
        for (int i = 0; i < 300; i++) {
                json_t *n = NULL;
                if (ferry_kube_get(kube, path, &n, &err) == 0) {
                        const json_t *c = node_condition(n, type);
                        if (c && sget(c, "status") && !strcmp(sget(c, "status"), status)) {
                                printf("ok - node condition %s=%s (%s: %s)\n", type, status,
                                       sget(c, "reason"), sget(c, "message"));
                                json_decref(n);
                                return 0;
                        }
                }
                json_decref(n);
                msleep(100);
        }
        return bad("node condition %s never became %s", type, status);
}

/* The state of container main of a pod as ferryd reports it ("running",
 * "terminated", "waiting"), or "" when ferryd does not know the pod. */
static void site_state(const char *sock, const char *uid, const char *name, char *out, size_t n)
{
        struct body b = {calloc(1, 1), 0};
        json_t *req =
            json_pack("[{s:{s:s,s:s,s:s}}]", "metadata", "uid", uid, "namespace", ns, "name", name);
        char *body = json_dumps(req, JSON_COMPACT);
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
        CURL *c = curl_easy_init();
        curl_easy_setopt(c, CURLOPT_URL, "http://unix/status");
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "GET");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
        snprintf(out, n, "%s", "");
        if (curl_easy_perform(c) == CURLE_OK) {
                json_t *ans = json_loads(b.data, 0, NULL);
                size_t i;
                json_t *ps, *cs;
                json_array_foreach(ans, i, ps)
                {
                        if (!sget(ps, "UID") || strcmp(sget(ps, "UID"), uid))
                                continue;
                        json_array_foreach(json_object_get(ps, "containers"), i, cs)
                        {
                                if (!sget(cs, "name") || strcmp(sget(cs, "name"), "main"))
                                        continue;
                                const char *k;
                                json_t *v;
                                json_object_foreach(json_object_get(cs, "state"), k, v)
                                    snprintf(out, n, "%s", k);
                        }
                        break;
                }
                json_decref(ans);
        }
        curl_easy_cleanup(c);
        curl_slist_free_all(h);
        free(body);
        json_decref(req);
        free(b.data);
}

static int wait_log(const char *name, const char *text)
{
        for (int i = 0; i < 600; i++) {
                long code = 0;
                char *log = kubelet_logs(ns, name, "main", NULL, &code);
                bool found = log && code == 200 && strstr(log, text);
                free(log);
                if (found) {
                        printf("ok - pod %s logged \"%s\"\n", name, text);
                        return 0;
                }
                msleep(100);
        }
        return bad("pod %s never logged \"%s\"", name, text);
}

struct final_watch {
        const char *uid;
        bool graceful;
        json_int_t grace;
        json_t *last; /* the DELETED event's object */
};

static int final_line(void *ctx, const char *line, size_t len)
{
        struct final_watch *w = ctx;
        json_t *ev = json_loadb(line, len, 0, NULL);
        const char *type = sget(ev, "type");
        json_t *obj = json_object_get(ev, "object");
        json_t *meta = json_object_get(obj, "metadata");
        int r = 0;
        if (type && sget(meta, "uid") && !strcmp(sget(meta, "uid"), w->uid)) {
                /* the first: a real API server writes grace 0 once more just before DELETED */
                if (!strcmp(type, "MODIFIED") && json_object_get(meta, "deletionTimestamp") &&
                    !w->graceful) {
                        w->graceful = true;
                        w->grace =
                            json_integer_value(json_object_get(meta, "deletionGracePeriodSeconds"));
                } else if (!strcmp(type, "DELETED")) {
                        w->last = json_incref(obj);
                        r = -ECANCELED; /* seen what we came for */
                }
        }
        json_decref(ev);
        return r;
}

static int delete_final(const char *name, const char *grace, int want_exit, const char *text)
{
        char path[768], st[32], uid[64];
        ferry_error_t err;
        json_t *pod = get_pod(ns, name);
        json_t *meta = json_object_get(pod, "metadata");
        if (!pod || !sget(meta, "uid") || !sget(meta, "resourceVersion"))
                return json_decref(pod), bad("final: no pod %s", name, NULL);
        snprintf(uid, sizeof(uid), "%s", sget(meta, "uid"));
        char *rv = strdup(sget(meta, "resourceVersion"));
        json_decref(pod);
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s%s%s", ns, name,
                 strcmp(grace, "-") ? "?gracePeriodSeconds=" : "", strcmp(grace, "-") ? grace : "");
        if (ferry_kube_delete(kube, path, NULL, &err) < 0) {
                free(rv);
                return bad("delete %s: %s", name, err.text);
        }
        int rc = 0, running = 0;
        const char *sock = getenv("FERRYD");
        for (int i = 0; sock && i < 1800; i++) {
                json_t *p = get_pod(ns, name);
                site_state(sock, uid, name, st, sizeof(st));
                if (!p && !strcmp(st, "running")) {
                        rc = bad("the API object of %s was removed while the site still ran "
                                 "container main%s",
                                 name, NULL);
                        break;
                }
                json_decref(p);
                if (!p || strcmp(st, "running"))
                        break;
                running++;
                msleep(100);
        }
        if (sock && !rc && running == 0)
                rc = bad("pod %s: the site never reported main running after the delete%s", name,
                         NULL);
        else if (sock && !rc)
                printf("ok - pod %s stays in the API while the site stops it (%d polls)\n", name,
                       running);

        struct final_watch w = {.uid = uid};
        _cleanup_free_ char *sel = ferry_kube_query_escape("metadata.name=");
        snprintf(path, sizeof(path),
                 "/api/v1/namespaces/%s/pods?watch=1&fieldSelector=%s%s&resourceVersion=%s"
                 "&timeoutSeconds=150",
                 ns, sel, name, rv);
        free(rv);
        long code = 0;
        ferry_kube_stream_(kube, path, 160, final_line, NULL, &w, &code, NULL, &err);
        if (!w.last)
                return bad("pod %s: no DELETED event within 150 s (%s)", name, err.text);
        if (!w.graceful)
                rc = bad("pod %s was removed without a graceful deletion first%s", name, NULL);
        char gs[32];
        snprintf(gs, sizeof(gs), "%lld", (long long)w.grace);
        if (strcmp(grace, "-") && strcmp(gs, grace))
                rc = bad("pod %s: deletionGracePeriodSeconds %s", name, gs);
        const json_t *cs = cstatus(w.last, "main");
        const json_t *t = json_object_get(json_object_get(cs, "state"), "terminated");
        const char *phase = phase_of(w.last);
        const char *msg = sget(t, "message");
        if (!t)
                rc = bad("pod %s left the API with container main not terminated: %s", name,
                         json_dumps(json_object_get(w.last, "status"), JSON_COMPACT));
        else if (json_integer_value(json_object_get(t, "exitCode")) != want_exit)
                rc =
                    bad("pod %s left the API with exit code %s", name, json_dumps(t, JSON_COMPACT));
        else if (text && (!msg || !strstr(msg, text)))
                rc = bad("pod %s: final message lacks %s", name, text);
        else if (strcmp(phase, "Failed") && strcmp(phase, "Succeeded"))
                rc = bad("pod %s left the API in phase %s", name, phase);
        else
                printf("ok - pod %s left the API after its final status: %s, main exited %d%s%s\n",
                       name, phase, want_exit, msg ? ": " : "", msg ? msg : "");
        json_decref(w.last);
        return rc;
}

int main(int argc, char **argv)
{
        struct ferry_kube_config kc = {0};
        ferry_error_t err;
        node = getenv("NODE");
        kubelet = getenv("KUBELET");
        ns = getenv("NS") ? getenv("NS") : "e2e";
        if (argc < 2 || !node)
                return fprintf(stderr, "usage: see the top of tests/node/e2e.c\n"), 2;
        if (ferry_kube_config_load(NULL, NULL, &kc, &err) < 0 ||
            ferry_kube_new(&kc, NULL, &kube, &err) < 0)
                return fprintf(stderr, "node-e2e: %s\n", err.text), 2;
        ferry_kube_config_clear(&kc);
        int rc = 2;
        const char *cmd = argv[1];
        if (!strcmp(cmd, "node")) {
                rc = check_node();
        } else if (!strcmp(cmd, "conformance") && argc >= 3) {
                rc = conformance(argc - 2, argv + 2);
        } else if (!strcmp(cmd, "create") && argc == 4) {
                ensure_ns(ns);
                json_t *pod = json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:s,s:b,s:[{s:s,s:s,s:[s,s,s]}]}}",
                                        "apiVersion", "v1", "kind", "Pod", "metadata", "name",
                                        argv[2], "spec", "nodeName", node, "restartPolicy", "Never",
                                        "automountServiceAccountToken", 0, "containers", "name",
                                        "main", "image", "docker.io/library/busybox:1.36",
                                        "command", "sh", "-c", argv[3]);
                char path[512];
                snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
                rc = ferry_kube_create(kube, path, pod, NULL, &err) < 0
                         ? bad("create %s: %s", argv[2], err.text)
                         : 0;
                if (!rc)
                        printf("ok - created pod %s\n", argv[2]);
                json_decref(pod);
        } else if (!strcmp(cmd, "wait-phase") && argc == 4) {
                json_t *p = wait_phase(ns, argv[2], argv[3], 120);
                rc = strcmp(phase_of(p), argv[3]) ? bad("pod %s: phase %s", argv[2], phase_of(p))
                                                  : 0;
                if (!rc)
                        printf("ok - pod %s is %s\n", argv[2], argv[3]);
                json_decref(p);
        } else if (!strcmp(cmd, "delete-grace") && argc == 4) {
                char path[512];
                snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s?gracePeriodSeconds=%d",
                         ns, argv[2], atoi(argv[3]));
                rc = ferry_kube_delete(kube, path, NULL, &err) < 0
                         ? bad("delete %s: %s", argv[2], err.text)
                         : 0;
                if (!rc)
                        printf("ok - pod %s deleted with grace %d s (not waited for)\n", argv[2],
                               atoi(argv[3]));
        } else if ((!strcmp(cmd, "delete") || !strcmp(cmd, "gone")) && argc == 3) {
                char path[512];
                snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, argv[2]);
                if (!strcmp(cmd, "delete") && ferry_kube_delete(kube, path, NULL, &err) < 0) {
                        rc = bad("delete %s: %s", argv[2], err.text);
                } else {
                        rc = 1;
                        for (int i = 0; i < 600 && rc; i++) {
                                json_t *p = get_pod(ns, argv[2]);
                                if (!p)
                                        rc = 0;
                                json_decref(p);
                                if (rc)
                                        msleep(100);
                        }
                        if (rc)
                                bad("pod %s still in the API after 60 s%s", argv[2], NULL);
                        else
                                printf("ok - pod %s gone from the API\n", argv[2]);
                }
        } else if (!strcmp(cmd, "wait-log") && argc == 4) {
                rc = wait_log(argv[2], argv[3]);
        } else if (!strcmp(cmd, "final") && (argc == 5 || argc == 6)) {
                rc = delete_final(argv[2], argv[3], atoi(argv[4]), argc == 6 ? argv[5] : NULL);
        } else if (!strcmp(cmd, "condition") && argc == 4) {
                rc = wait_condition(argv[2], argv[3]);
        } else if (!strcmp(cmd, "create-special") && argc == 4) {
                rc = create_special(argv[2], argv[3]);
        } else if (!strcmp(cmd, "event") && (argc == 7 || argc == 8)) {
                rc = check_events(argv[2], argv[3], argv[4], argv[5], atoi(argv[6]),
                                  argc == 8 ? atoi(argv[7]) : 1);
        } else if (!strcmp(cmd, "uid") && argc == 3) {
                json_t *p = get_pod(ns, argv[2]);
                const char *u = sget(json_object_get(p, "metadata"), "uid");
                printf("%s\n", u ? u : "");
                rc = u ? 0 : 1;
                json_decref(p);
        } else if (!strcmp(cmd, "jobid") && argc == 3) {
                json_t *p = get_pod(ns, argv[2]);
                const char *j =
                    sget(json_object_get(json_object_get(p, "metadata"), "annotations"), "JobID");
                printf("%s\n", j ? j : "");
                rc = j ? 0 : 1;
                json_decref(p);
        } else {
                fprintf(stderr, "node-e2e: unknown command or arguments\n");
        }
        fflush(stdout);
        ferry_kube_free(kube);
        return rc;
}
