/* SPDX-License-Identifier: MIT */
/*
 * bench-node: binds N pods to a ferry-node at R pods/s through the API server
 * double and measures, per pod, the time from the bind (the pod's creation
 * with spec.nodeName set returned) to the moment its JobID annotation is
 * visible (ferry-node writes it after ferryd's /create answered, and ferryd
 * answers /create after the backend accepted the job): an upper bound of
 * bind -> backend submission. Then it waits for every pod to finish and reads
 * the double's request counters (/debug/requests, reset at the start).
 *
 *   bench-node API_URL N RATE [NAMESPACE]      (KUBECONFIG and NODE from the environment)
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/hashmap.h"
#include "common/util.h"
#include "kube/kube.h"
#include "kube/kubeconfig.h"
#include "kube/watch.h"

struct sample {
        char name[64];
        int64_t bind_ns, seen_ns, done_ns;
};

static struct sample *samples;
static int n_pods;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int index_of(const char *name)
{
        int i;
        if (!name || sscanf(name, "bench-%d", &i) != 1 || i < 0 || i >= n_pods)
                return -1;
        return i;
}

static void look(json_t *pod)
{
        json_t *meta = json_object_get(pod, "metadata");
        int i = index_of(json_string_value(json_object_get(meta, "name")));
        if (i < 0)
                return;
        const char *jid =
            json_string_value(json_object_get(json_object_get(meta, "annotations"), "JobID"));
        const char *ph =
            json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
        int64_t now = ferry_monotonic_ns();
        pthread_mutex_lock(&lock);
        if (jid && jid[0] && !samples[i].seen_ns)
                samples[i].seen_ns = now;
        if (ph && (!strcmp(ph, "Succeeded") || !strcmp(ph, "Failed")) && !samples[i].done_ns)
                samples[i].done_ns = now;
        pthread_mutex_unlock(&lock);
}

static void on_sync(void *ctx, json_t *items)
{
        size_t i;
        json_t *p;
        json_array_foreach(items, i, p) look(p);
}

static void on_event(void *ctx, const char *type, json_t *obj)
{
        look(obj);
}

static int cmp64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
        ferry_buf_add(ud, p, s * n);
        return s * n;
}

static void fetch(const char *u, const char *method, struct ferry_buf *b)
{
        const char *token = getenv("BENCH_API_TOKEN"), *ca = getenv("BENCH_API_CA");
        char auth[4200];
        struct curl_slist *h = NULL;
        CURL *c = curl_easy_init();
        curl_easy_setopt(c, CURLOPT_URL, u);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
        if (token) {
                snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
                h = curl_slist_append(h, auth);
                curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        }
        if (ca)
                curl_easy_setopt(c, CURLOPT_CAINFO, ca);
        curl_easy_perform(c);
        curl_easy_cleanup(c);
        curl_slist_free_all(h);
}

/* The API server's request counters: the double's /debug/requests (DELETE resets
 * them), or with BENCH_API_TOKEN a real kube-apiserver's apiserver_request_total
 * series from /metrics, summed by verb and resource (GET only; the caller
 * subtracts the counts from before). */
static json_t *debug_requests(const char *url, const char *method)
{
        struct ferry_buf b = FERRY_BUF_INIT;
        char u[512];
        bool real = getenv("BENCH_API_TOKEN") != NULL;
        if (real && strcmp(method, "GET"))
                return NULL;
        snprintf(u, sizeof(u), "%s%s", url, real ? "/metrics" : "/debug/requests");
        fetch(u, method, &b);
        json_t *j = NULL;
        if (!real) {
                j = b.len ? json_loadb(b.data, b.len, 0, NULL) : NULL;
        } else {
                j = json_object();
                for (char *l = b.data, *nl; l && *l; l = nl) {
                        nl = strchr(l, '\n');
                        if (nl)
                                *nl++ = '\0';
                        if (strncmp(l, "apiserver_request_total{", 24) != 0)
                                continue;
                        char verb[32] = "", res[96] = "", sub[64] = "", key[200];
                        const char *p;
                        if ((p = strstr(l, "verb=\"")))
                                sscanf(p + 6, "%31[^\"]", verb);
                        if ((p = strstr(l, "resource=\"")))
                                sscanf(p + 10, "%95[^\"]", res);
                        if ((p = strstr(l, "subresource=\"")))
                                sscanf(p + 13, "%63[^\"]", sub);
                        const char *val = strrchr(l, ' ');
                        snprintf(key, sizeof(key), "%s %s%s%s", verb, res, sub[0] ? "/" : "", sub);
                        json_t *c = json_object_get(j, key);
                        json_int_t n =
                            (c ? json_integer_value(c) : 0) + (val ? (json_int_t)atof(val + 1) : 0);
                        json_object_set_new(j, key, json_integer(n));
                }
        }
        ferry_buf_free(&b);
        return j;
}

int main(int argc, char **argv)
{
        if (argc < 4) {
                fprintf(stderr, "usage: bench-node API_URL N RATE [NAMESPACE]\n");
                return 2;
        }
        const char *url = argv[1];
        n_pods = atoi(argv[2]);
        double rate = atof(argv[3]);
        const char *ns = argc > 4 ? argv[4] : "bench";
        const char *node = getenv("NODE");
        struct ferry_kube_config kc = {0};
        struct ferry_kube *k;
        ferry_error_t err;
        if (!node || ferry_kube_config_load(NULL, NULL, &kc, &err) < 0) {
                fprintf(stderr, "bench-node: NODE and KUBECONFIG are needed\n");
                return 2;
        }
        struct ferry_kube_options ko = {.qps = 100000, .burst = 100000};
        if (ferry_kube_new(&kc, &ko, &k, &err) < 0)
                return fprintf(stderr, "%s\n", err.text), 2;
        samples = ferry_xcalloc((size_t)n_pods, sizeof(*samples));
        json_t *nso = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                                "metadata", "name", ns);
        ferry_kube_create(k, "/api/v1/namespaces", nso, NULL, &err);
        json_decref(nso);
        /* what kube-controller-manager would make (a real API server needs them) */
        _cleanup_free_ char *sap = ferry_xasprintf("/api/v1/namespaces/%s/serviceaccounts", ns);
        json_t *sa = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "ServiceAccount",
                               "metadata", "name", "default");
        ferry_kube_create(k, sap, sa, NULL, &err);
        json_decref(sa);
        /* and the CA bundle every service-account volume projects (root-ca-cert-publisher) */
        _cleanup_free_ char *cmp = ferry_xasprintf("/api/v1/namespaces/%s/configmaps", ns);
        json_t *cm = json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                               "metadata", "name", "kube-root-ca.crt", "data", "ca.crt",
                               "-----BEGIN CERTIFICATE-----\n");
        ferry_kube_create(k, cmp, cm, NULL, &err);
        json_decref(cm);

        struct ferry_kube_informer *inf;
        struct ferry_kube_informer_ops ops = {.on_sync = on_sync, .on_event = on_event};
        _cleanup_free_ char *sel = ferry_xasprintf("spec.nodeName=%s", node);
        if (ferry_kube_informer_start(k, "/api/v1/pods", sel, &ops, NULL, &inf, &err) < 0)
                return fprintf(stderr, "%s\n", err.text), 2;
        while (!ferry_kube_informer_synced(inf))
                usleep(10000);
        json_decref(debug_requests(url, "DELETE"));
        json_t *before = debug_requests(url, "GET"); /* a real API server: counts to subtract */

        _cleanup_free_ char *path = ferry_xasprintf("/api/v1/namespaces/%s/pods", ns);
        int64_t t0 = ferry_monotonic_ns();
        for (int i = 0; i < n_pods; i++) {
                int64_t due = t0 + (int64_t)((double)i / rate * 1e9);
                int64_t now = ferry_monotonic_ns();
                if (due > now) {
                        struct timespec ts = {(due - now) / 1000000000, (due - now) % 1000000000};
                        nanosleep(&ts, NULL);
                }
                snprintf(samples[i].name, sizeof(samples[i].name), "bench-%d", i);
                /* what a user's pod looks like: the API server adds the service-account volume */
                json_t *pod = json_pack(
                    "{s:s,s:s,s:{s:s},s:{s:s,s:s,s:[{s:s,s:s,s:[s,s,s]}]}}", "apiVersion", "v1",
                    "kind", "Pod", "metadata", "name", samples[i].name, "spec", "nodeName", node,
                    "restartPolicy", "Never", "containers", "name", "main", "image",
                    "docker.io/library/busybox:1.36", "command", "sh", "-c", "true");
                if (ferry_kube_create(k, path, pod, NULL, &err) < 0)
                        fprintf(stderr, "create %s: %s\n", samples[i].name, err.text);
                pthread_mutex_lock(&lock);
                samples[i].bind_ns = ferry_monotonic_ns();
                pthread_mutex_unlock(&lock);
                json_decref(pod);
        }
        double bind_s = (double)(ferry_monotonic_ns() - t0) / 1e9;
        /* wait for every pod to be submitted and finished (at most 120 s) */
        for (int w = 0; w < 1200; w++) {
                int left = 0;
                pthread_mutex_lock(&lock);
                for (int i = 0; i < n_pods; i++)
                        left += !samples[i].seen_ns || !samples[i].done_ns;
                pthread_mutex_unlock(&lock);
                if (!left)
                        break;
                usleep(100000);
        }
        double total_s = (double)(ferry_monotonic_ns() - t0) / 1e9;
        ferry_kube_informer_stop(inf);
        sleep(1);
        json_t *req = debug_requests(url, "GET");
        if (getenv("BENCH_API_TOKEN") && before) {
                const char *bk;
                json_t *bv;
                json_object_foreach(before, bk, bv)
                {
                        json_t *a = json_object_get(req, bk);
                        json_int_t d = (a ? json_integer_value(a) : 0) - json_integer_value(bv);
                        if (d > 0)
                                json_object_set_new(req, bk, json_integer(d));
                        else
                                json_object_del(req, bk);
                }
        }
        json_decref(before);

        int64_t *lat = ferry_xcalloc((size_t)n_pods, sizeof(int64_t));
        int n = 0, missing = 0, unfinished = 0;
        for (int i = 0; i < n_pods; i++) {
                if (samples[i].seen_ns && samples[i].bind_ns)
                        lat[n++] = samples[i].seen_ns > samples[i].bind_ns
                                       ? samples[i].seen_ns - samples[i].bind_ns
                                       : 0;
                else
                        missing++;
                unfinished += !samples[i].done_ns;
        }
        qsort(lat, (size_t)n, sizeof(int64_t), cmp64);
        printf("pods %d, bound in %.2f s (%.1f pods/s), all done after %.2f s; %d never got a "
               "JobID, %d never finished\n",
               n_pods, bind_s, n_pods / bind_s, total_s, missing, unfinished);
        if (n) {
                printf("bind -> JobID visible (upper bound of bind -> backend submission), ms: "
                       "p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n",
                       lat[n / 2] / 1e6, lat[n * 9 / 10] / 1e6, lat[(n * 99) / 100] / 1e6,
                       lat[n - 1] / 1e6);
        }
        const char *key;
        json_t *v;
        json_int_t total = 0;
        printf("API requests while the bench ran (%s):\n",
               getenv("BENCH_API_TOKEN") ? "kube-apiserver's apiserver_request_total"
                                         : "the double's counters");
        json_object_foreach(req, key, v)
        {
                printf("  %-40s %lld\n", key, (long long)json_integer_value(v));
                total += json_integer_value(v);
        }
        /* the bench itself made N pod creations (its informer was started before the reset) */
        json_int_t node_reqs = total - n_pods;
        printf("the node's API requests: %lld in total, %.2f per pod (everything but the bench's "
               "%d pod creations;"
               " includes lease and node status)\n",
               (long long)node_reqs, (double)node_reqs / n_pods, n_pods);
        json_decref(req);
        free(lat);
        free(samples);
        ferry_kube_free(k);
        ferry_kube_config_clear(&kc);
        return missing || unfinished ? 1 : 0;
}
