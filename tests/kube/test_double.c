/* SPDX-License-Identifier: MIT */
/*
 * Tests of kube-apiserver-double over real HTTP(S) with libcurl, so ferry-node's
 * tests can trust what it answers. argv[1]: the double's binary.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "common/util.h"

extern char **environ;

static const char *double_bin;
static char tmpdir[256];

struct dbl {
        pid_t pid;
        char url[256];
        const char *token;
        /* TLS client side */
        char ca[300], cert[300], key[300];
};

/* ---- starting and stopping the double ---- */
static int start_double(struct dbl *d, const char *const *extra)
{
        const char *argv[40];
        int n = 0;
        argv[n++] = double_bin;
        argv[n++] = "--listen";
        argv[n++] = "127.0.0.1:0";
        for (int i = 0; extra && extra[i] && n < 38; i++)
                argv[n++] = extra[i];
        argv[n] = NULL;
        int p[2];
        if (pipe(p) < 0)
                return -errno;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, p[1], 1);
        posix_spawn_file_actions_addclose(&fa, p[0]);
        int r = posix_spawn(&d->pid, double_bin, &fa, NULL, (char *const *)argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(p[1]);
        if (r != 0) {
                close(p[0]);
                return -r;
        }
        char line[512];
        size_t len = 0;
        for (int tries = 0; tries < 100 && len < sizeof(line) - 1; tries++) {
                struct pollfd pf = {.fd = p[0], .events = POLLIN};
                if (poll(&pf, 1, 100) <= 0)
                        continue;
                ssize_t k = read(p[0], line + len, sizeof(line) - 1 - len);
                if (k <= 0)
                        break;
                len += (size_t)k;
                line[len] = '\0';
                if (strchr(line, '\n'))
                        break;
        }
        close(p[0]);
        line[len] = '\0';
        if (strncmp(line, "ready ", 6))
                return -EIO;
        snprintf(d->url, sizeof(d->url), "%.*s", (int)strcspn(line + 6, "\n"), line + 6);
        return 0;
}

static int stop_double(struct dbl *d)
{
        int st = 0;
        kill(d->pid, SIGTERM);
        waitpid(d->pid, &st, 0);
        return st;
}

/* ---- requests ---- */
struct resp {
        long code;
        struct ferry_buf body;
        json_t *json;
};

static size_t on_data(char *p, size_t sz, size_t nm, void *ud)
{
        ferry_buf_add(ud, p, sz * nm);
        return sz * nm;
}

enum auth { AUTH_TOKEN, AUTH_NONE, AUTH_BAD_TOKEN, AUTH_CERT };

static long request(struct dbl *d, enum auth a, const char *method, const char *path,
                    const char *ctype, const char *body, struct resp *out)
{
        CURL *c = curl_easy_init();
        struct curl_slist *h = NULL;
        char url[1024], hb[300];
        snprintf(url, sizeof(url), "%s%s", d->url, path);
        memset(out, 0, sizeof(*out));
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
        if (body) {
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
                snprintf(hb, sizeof(hb), "Content-Type: %s", ctype ? ctype : "application/json");
                h = curl_slist_append(h, hb);
        }
        if (a == AUTH_TOKEN || a == AUTH_BAD_TOKEN) {
                snprintf(hb, sizeof(hb), "Authorization: Bearer %s",
                         a == AUTH_TOKEN ? d->token : "wrong");
                h = curl_slist_append(h, hb);
        }
        if (d->ca[0])
                curl_easy_setopt(c, CURLOPT_CAINFO, d->ca);
        if (a == AUTH_CERT) {
                curl_easy_setopt(c, CURLOPT_SSLCERT, d->cert);
                curl_easy_setopt(c, CURLOPT_SSLKEY, d->key);
        }
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        CURLcode cr = curl_easy_perform(c);
        out->code = -1;
        if (cr == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->code);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        if (out->body.len)
                out->json = json_loadb(out->body.data, out->body.len, 0, NULL);
        return out->code;
}

static void resp_free(struct resp *r)
{
        ferry_buf_free(&r->body);
        json_decref(r->json);
        memset(r, 0, sizeof(*r));
}

/* Request with the token; check the code; return the JSON (caller decrefs). */
static json_t *call(struct dbl *d, const char *method, const char *path, const char *ctype,
                    const char *body, long want)
{
        struct resp r;
        long code = request(d, AUTH_TOKEN, method, path, ctype, body, &r);
        if (code != want)
                fprintf(stderr, "%s %s -> %ld (wanted %ld): %s\n", method, path, code, want,
                        r.body.data ? r.body.data : "");
        assert_int_equal(code, want);
        json_t *j = json_incref(r.json);
        resp_free(&r);
        assert_non_null(j);
        return j;
}

static const char *str_at(json_t *j, const char *path)
{
        char buf[64];
        static __thread char out[512];
        const char *v = NULL;
        json_t *cur = j;
        const char *p = path;
        while (cur && *p) {
                size_t l = strcspn(p, ".");
                snprintf(buf, sizeof(buf), "%.*s", (int)l, p);
                if (json_is_array(cur))
                        cur = json_array_get(cur, (size_t)atoi(buf));
                else
                        cur = json_object_get(cur, buf);
                p += l + (p[l] == '.');
        }
        if (json_is_string(cur))
                v = json_string_value(cur);
        else if (json_is_integer(cur)) {
                snprintf(out, sizeof(out), "%lld", (long long)json_integer_value(cur));
                v = out;
        }
        return v;
}

static unsigned long long rv_of(json_t *j)
{
        const char *s = str_at(j, "metadata.resourceVersion");
        assert_non_null(s);
        for (const char *p = s; *p; p++)
                assert_true(*p >= '0' && *p <= '9');
        return strtoull(s, NULL, 10);
}

/* Run a watch to its end (timeoutSeconds in the query). Returns the events. */
static json_t *watch(struct dbl *d, const char *path)
{
        struct resp r;
        long code = request(d, AUTH_TOKEN, "GET", path, NULL, NULL, &r);
        assert_int_equal(code, 200);
        json_t *evs = json_array();
        char *save = NULL;
        for (char *line = strtok_r(r.body.data ? r.body.data : (char *)"", "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
                json_t *ev = json_loads(line, 0, NULL);
                assert_non_null(ev);
                json_array_append_new(evs, ev);
        }
        resp_free(&r);
        return evs;
}

static const char *POD =
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"labels\":{\"app\":\"%"
    "s\"}},"
    "\"spec\":{%s\"containers\":[{\"name\":\"main\",\"image\":\"busybox:1.36\"}]}}";

static json_t *make_pod(struct dbl *d, const char *ns, const char *name, const char *node)
{
        char body[1024], path[256], spec[128] = "";
        if (node)
                snprintf(spec, sizeof(spec), "\"nodeName\":\"%s\",", node);
        snprintf(body, sizeof(body), POD, name, name, spec);
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
        return call(d, "POST", path, NULL, body, 201);
}

/* ---- the plain-HTTP double shared by most tests ---- */
static struct dbl plain;
static char kubeconfig[300], state_out[300];

static int setup_plain(void **state)
{
        snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", tmpdir);
        snprintf(state_out, sizeof(state_out), "%s/state.json", tmpdir);
        const char *extra[] = {"--token",
                               "t0ken",
                               "--kubeconfig-out",
                               kubeconfig,
                               "--state-out",
                               state_out,
                               "--bookmark-interval-s",
                               "1",
                               "--watch-timeout-s",
                               "30",
                               NULL};
        plain.token = "t0ken";
        return start_double(&plain, extra);
}

static int teardown_plain(void **state)
{
        int st = stop_double(&plain);
        return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void test_auth_and_discovery(void **state)
{
        struct resp r;
        assert_int_equal(
            request(&plain, AUTH_NONE, "GET", "/api/v1/namespaces/default/pods", NULL, NULL, &r),
            401);
        assert_string_equal(str_at(r.json, "kind"), "Status");
        assert_string_equal(str_at(r.json, "reason"), "Unauthorized");
        assert_string_equal(str_at(r.json, "code"), "401");
        resp_free(&r);
        assert_int_equal(request(&plain, AUTH_BAD_TOKEN, "GET", "/api/v1/nodes", NULL, NULL, &r),
                         401);
        resp_free(&r);
        assert_int_equal(request(&plain, AUTH_NONE, "GET", "/healthz", NULL, NULL, &r), 200);
        resp_free(&r);
        assert_int_equal(request(&plain, AUTH_NONE, "GET", "/version", NULL, NULL, &r), 200);
        assert_string_equal(str_at(r.json, "major"), "1");
        resp_free(&r);
        json_t *j = call(&plain, "GET", "/api/v1", NULL, NULL, 200);
        assert_string_equal(str_at(j, "kind"), "APIResourceList");
        json_decref(j);
        j = call(&plain, "GET", "/apis", NULL, NULL, 200);
        assert_string_equal(str_at(j, "groups.0.name"), "coordination.k8s.io");
        json_decref(j);
        j = call(&plain, "GET", "/apis/coordination.k8s.io/v1", NULL, NULL, 200);
        assert_string_equal(str_at(j, "resources.0.name"), "leases");
        json_decref(j);
        /* the kubeconfig names the server and the token */
        char *kc = NULL;
        size_t kl;
        assert_int_equal(ferry_read_file(kubeconfig, 1 << 20, &kc, &kl), 0);
        assert_non_null(strstr(kc, plain.url));
        assert_non_null(strstr(kc, "token: t0ken"));
        free(kc);
}

static void test_versions_and_conflicts(void **state)
{
        const char *cm =
            "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cfg\"},"
            "\"data\":{\"a\":\"1\",\"b\":\"2\"}}";
        json_t *c1 = call(&plain, "POST", "/api/v1/namespaces/default/configmaps", NULL, cm, 201);
        unsigned long long rv1 = rv_of(c1);
        assert_non_null(str_at(c1, "metadata.uid"));
        assert_int_equal(strlen(str_at(c1, "metadata.uid")), 36);
        assert_non_null(str_at(c1, "metadata.creationTimestamp"));
        /* create again: 409 AlreadyExists */
        json_t *st = call(&plain, "POST", "/api/v1/namespaces/default/configmaps", NULL, cm, 409);
        assert_string_equal(str_at(st, "reason"), "AlreadyExists");
        assert_string_equal(str_at(st, "details.name"), "cfg");
        json_decref(st);
        /* GET sees the same version */
        json_t *g =
            call(&plain, "GET", "/api/v1/namespaces/default/configmaps/cfg", NULL, NULL, 200);
        assert_int_equal(rv_of(g), rv1);
        json_decref(g);
        /* PUT with the current version: new version */
        json_object_set_new(json_object_get(c1, "data"), "a", json_string("10"));
        char *body = json_dumps(c1, 0);
        json_t *c2 =
            call(&plain, "PUT", "/api/v1/namespaces/default/configmaps/cfg", NULL, body, 200);
        assert_true(rv_of(c2) > rv1);
        /* the same PUT again carries a stale version: 409 Conflict */
        st = call(&plain, "PUT", "/api/v1/namespaces/default/configmaps/cfg", NULL, body, 409);
        assert_string_equal(str_at(st, "reason"), "Conflict");
        json_decref(st);
        free(body);
        /* a no-op PUT writes nothing */
        body = json_dumps(c2, 0);
        json_t *c3 =
            call(&plain, "PUT", "/api/v1/namespaces/default/configmaps/cfg", NULL, body, 200);
        assert_int_equal(rv_of(c3), rv_of(c2));
        free(body);
        /* every write increments the one global counter */
        json_t *s1 = call(&plain, "POST", "/api/v1/namespaces/default/secrets", NULL,
                          "{\"metadata\":{\"name\":\"s1\"},\"data\":{\"k\":\"dg==\"}}", 201);
        assert_int_equal(rv_of(s1), rv_of(c2) + 1);
        assert_string_equal(str_at(s1, "type"), "Opaque");
        /* 404 is a Status */
        st = call(&plain, "GET", "/api/v1/namespaces/default/configmaps/nope", NULL, NULL, 404);
        assert_string_equal(str_at(st, "reason"), "NotFound");
        assert_string_equal(str_at(st, "message"), "configmaps \"nope\" not found");
        json_decref(st);
        json_decref(c1);
        json_decref(c2);
        json_decref(c3);
        json_decref(s1);
}

static void test_patches(void **state)
{
        json_decref(call(&plain, "POST", "/api/v1/namespaces/default/configmaps", NULL,
                         "{\"metadata\":{\"name\":\"mp\",\"labels\":{\"x\":\"1\"}},\"data\":{\"a\":"
                         "\"1\",\"b\":\"2\"}}",
                         201));
        json_t *p = call(&plain, "PATCH", "/api/v1/namespaces/default/configmaps/mp",
                         "application/merge-patch+json",
                         "{\"metadata\":{\"labels\":{\"x\":null,\"y\":\"2\"}},\"data\":{\"a\":null,"
                         "\"c\":\"3\"}}",
                         200);
        assert_null(str_at(p, "data.a"));
        assert_string_equal(str_at(p, "data.b"), "2");
        assert_string_equal(str_at(p, "data.c"), "3");
        assert_null(str_at(p, "metadata.labels.x"));
        assert_string_equal(str_at(p, "metadata.labels.y"), "2");
        /* a patch carrying a stale resourceVersion conflicts */
        json_t *st = call(&plain, "PATCH", "/api/v1/namespaces/default/configmaps/mp",
                          "application/merge-patch+json",
                          "{\"metadata\":{\"resourceVersion\":\"1\"},\"data\":{\"d\":\"4\"}}", 409);
        json_decref(st);
        json_decref(p);
        /* JSON patch */
        p = call(&plain, "PATCH", "/api/v1/namespaces/default/configmaps/mp",
                 "application/json-patch+json",
                 "[{\"op\":\"test\",\"path\":\"/data/"
                 "b\",\"value\":\"2\"},{\"op\":\"add\",\"path\":\"/data/e\",\"value\":\"5\"}]",
                 200);
        assert_string_equal(str_at(p, "data.e"), "5");
        json_decref(p);
        st = call(&plain, "PATCH", "/api/v1/namespaces/default/configmaps/mp", "text/plain", "{}",
                  415);
        json_decref(st);

        /* strategic merge patch of pod status merges conditions by type, containerStatuses by name */
        json_decref(make_pod(&plain, "default", "smp", "vk-1"));
        p = call(&plain, "PATCH", "/api/v1/namespaces/default/pods/smp/status",
                 "application/strategic-merge-patch+json",
                 "{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\","
                 "\"status\":\"False\"},"
                 "{\"type\":\"Initialized\",\"status\":\"True\"}]}}",
                 200);
        json_decref(p);
        p = call(&plain, "PATCH", "/api/v1/namespaces/default/pods/smp/status",
                 "application/strategic-merge-patch+json",
                 "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}", 200);
        assert_int_equal(
            json_array_size(json_object_get(json_object_get(p, "status"), "conditions")), 2);
        assert_string_equal(str_at(p, "status.conditions.0.type"), "Ready");
        assert_string_equal(str_at(p, "status.conditions.0.status"), "True");
        assert_string_equal(str_at(p, "status.phase"), "Running");
        json_decref(p);
        /* merge patch replaces lists: only the given condition is left */
        p = call(&plain, "PATCH", "/api/v1/namespaces/default/pods/smp/status",
                 "application/merge-patch+json",
                 "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}", 200);
        assert_int_equal(
            json_array_size(json_object_get(json_object_get(p, "status"), "conditions")), 1);
        json_decref(p);
        /* the status subresource ignores spec changes; the main resource ignores status */
        p = call(&plain, "PATCH", "/api/v1/namespaces/default/pods/smp/status",
                 "application/merge-patch+json",
                 "{\"spec\":{\"nodeName\":\"elsewhere\"},\"metadata\":{\"annotations\":{\"JobID\":"
                 "\"42\"}}}",
                 200);
        assert_string_equal(str_at(p, "spec.nodeName"), "vk-1");
        assert_string_equal(str_at(p, "metadata.annotations.JobID"), "42");
        json_decref(p);
        p = call(&plain, "PATCH", "/api/v1/namespaces/default/pods/smp",
                 "application/merge-patch+json", "{\"status\":{\"phase\":\"Failed\"}}", 200);
        assert_string_equal(str_at(p, "status.phase"), "Running");
        json_decref(p);
        /* and pod spec is immutable but for a few fields */
        p = call(&plain, "PATCH", "/api/v1/namespaces/default/pods/smp",
                 "application/merge-patch+json", "{\"spec\":{\"nodeName\":\"elsewhere\"}}", 422);
        assert_string_equal(str_at(p, "reason"), "Invalid");
        json_decref(p);
}

static void test_pod_defaults_and_selectors(void **state)
{
        json_t *p = make_pod(&plain, "default", "sel-a", "vk-sel");
        assert_string_equal(str_at(p, "status.phase"), "Pending");
        assert_string_equal(str_at(p, "spec.serviceAccountName"), "default");
        assert_string_equal(str_at(p, "spec.restartPolicy"), "Always");
        /* the service-account admission's projected volume */
        assert_true(ferry_str_startswith(str_at(p, "spec.volumes.0.name"), "kube-api-access-"));
        assert_string_equal(
            str_at(p, "spec.volumes.0.projected.sources.0.serviceAccountToken.expirationSeconds"),
            "3607");
        assert_string_equal(str_at(p, "spec.containers.0.volumeMounts.0.mountPath"),
                            "/var/run/secrets/kubernetes.io/serviceaccount");
        json_decref(p);
        json_decref(make_pod(&plain, "default", "sel-b", "vk-sel"));
        json_decref(make_pod(&plain, "default", "sel-c", NULL));
        json_decref(make_pod(&plain, "kube-system", "sel-d", "vk-sel"));
        json_t *l = call(&plain, "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dvk-sel", NULL,
                         NULL, 200);
        assert_string_equal(str_at(l, "kind"), "PodList");
        assert_int_equal(json_array_size(json_object_get(l, "items")), 3);
        assert_null(json_object_get(json_array_get(json_object_get(l, "items"), 0), "kind"));
        rv_of(l);
        json_decref(l);
        l = call(&plain, "GET",
                 "/api/v1/namespaces/default/pods?fieldSelector=spec.nodeName%3Dvk-sel", NULL, NULL,
                 200);
        assert_int_equal(json_array_size(json_object_get(l, "items")), 2);
        json_decref(l);
        l = call(&plain, "GET",
                 "/api/v1/"
                 "pods?fieldSelector=spec.nodeName%3Dvk-sel,metadata.namespace%3Dkube-system,"
                 "status.phase!%3DSucceeded",
                 NULL, NULL, 200);
        assert_int_equal(json_array_size(json_object_get(l, "items")), 1);
        assert_string_equal(str_at(l, "items.0.metadata.name"), "sel-d");
        json_decref(l);
        l = call(&plain, "GET",
                 "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dsel-b", NULL, NULL,
                 200);
        assert_int_equal(json_array_size(json_object_get(l, "items")), 1);
        json_decref(l);
        l = call(&plain, "GET",
                 "/api/v1/namespaces/default/pods?labelSelector=app%20in%20(sel-a,sel-c)", NULL,
                 NULL, 200);
        assert_int_equal(json_array_size(json_object_get(l, "items")), 2);
        json_decref(l);
        l = call(&plain, "GET", "/api/v1/pods?fieldSelector=spec.bogus%3Dx", NULL, NULL, 400);
        assert_string_equal(str_at(l, "message"), "field label not supported: spec.bogus");
        json_decref(l);
}

static void test_pagination(void **state)
{
        for (int i = 0; i < 5; i++) {
                char b[128];
                snprintf(b, sizeof(b), "{\"metadata\":{\"name\":\"page-%d\"}}", i);
                json_decref(call(&plain, "POST", "/api/v1/namespaces/kube-public/configmaps", NULL,
                                 b, 201));
        }
        /* kube-public also holds kube-root-ca.crt: 6 in all */
        json_t *l = call(&plain, "GET", "/api/v1/namespaces/kube-public/configmaps?limit=4", NULL,
                         NULL, 200);
        assert_int_equal(json_array_size(json_object_get(l, "items")), 4);
        const char *cont = str_at(l, "metadata.continue");
        assert_non_null(cont);
        assert_string_equal(str_at(l, "metadata.remainingItemCount"), "2");
        unsigned long long rv = rv_of(l);
        /* a write between pages does not show in the paginated list */
        json_decref(call(&plain, "POST", "/api/v1/namespaces/kube-public/configmaps", NULL,
                         "{\"metadata\":{\"name\":\"page-9\"}}", 201));
        char path[1024];
        char *esc = curl_easy_escape(NULL, cont, 0);
        snprintf(path, sizeof(path),
                 "/api/v1/namespaces/kube-public/configmaps?limit=4&continue=%s", esc);
        curl_free(esc);
        json_decref(l);
        l = call(&plain, "GET", path, NULL, NULL, 200);
        assert_int_equal(json_array_size(json_object_get(l, "items")), 2);
        assert_null(str_at(l, "metadata.continue"));
        assert_int_equal(rv_of(l), rv);
        json_decref(l);
}

struct live {
        struct dbl *d;
        const char *path;
        json_t *events;
};

static void *live_watch(void *arg)
{
        struct live *lw = arg;
        lw->events = watch(lw->d, lw->path);
        return NULL;
}

static void test_watch(void **state)
{
        json_t *l = call(&plain, "GET", "/api/v1/namespaces/default/pods", NULL, NULL, 200);
        unsigned long long rv0 = rv_of(l);
        json_decref(l);
        /* two watchers at once, woken by changes: all pods of the node, and one pod by name;
         * from rv0, so that a watch registered after the first write still sees it */
        char pa[256], pb[256];
        snprintf(pa, sizeof(pa),
                 "/api/v1/pods?watch=1&fieldSelector=spec.nodeName%%3Dvk-w&timeoutSeconds=3"
                 "&resourceVersion=%llu",
                 rv0);
        snprintf(pb, sizeof(pb),
                 "/api/v1/namespaces/default/"
                 "pods?watch=true&fieldSelector=metadata.name%%3Dw-2&timeoutSeconds=3"
                 "&resourceVersion=%llu",
                 rv0);
        struct live a = {&plain, pa, NULL};
        struct live b = {&plain, pb, NULL};
        pthread_t ta, tb;
        pthread_create(&ta, NULL, live_watch, &a);
        pthread_create(&tb, NULL, live_watch, &b);
        json_decref(make_pod(&plain, "default", "w-1", "vk-w"));
        json_decref(make_pod(&plain, "default", "w-2", NULL));
        /* the scheduler binds w-2: it enters the node's selection as ADDED */
        json_decref(call(&plain, "POST", "/api/v1/namespaces/default/pods/w-2/binding", NULL,
                         "{\"apiVersion\":\"v1\",\"kind\":\"Binding\",\"metadata\":{\"name\":\"w-"
                         "2\"},\"target\":{\"kind\":\"Node\",\"name\":\"vk-w\"}}",
                         201));
        json_decref(call(&plain, "PATCH", "/api/v1/namespaces/default/pods/w-1/status",
                         "application/merge-patch+json", "{\"status\":{\"phase\":\"Running\"}}",
                         200));
        /* graceful deletion: deletionTimestamp first (MODIFIED), removal with grace 0 (DELETED) */
        json_t *del =
            call(&plain, "DELETE", "/api/v1/namespaces/default/pods/w-1", NULL, NULL, 200);
        assert_non_null(str_at(del, "metadata.deletionTimestamp"));
        assert_string_equal(str_at(del, "metadata.deletionGracePeriodSeconds"), "30");
        json_decref(del);
        json_decref(call(&plain, "GET", "/api/v1/namespaces/default/pods/w-1", NULL, NULL, 200));
        del = call(&plain, "DELETE", "/api/v1/namespaces/default/pods/w-1", NULL,
                   "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"gracePeriodSeconds\":0}",
                   200);
        json_decref(del);
        json_decref(call(&plain, "GET", "/api/v1/namespaces/default/pods/w-1", NULL, NULL, 404));
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        static const char *const want_a[][2] = {{"ADDED", "w-1"},
                                                {"ADDED", "w-2"},
                                                {"MODIFIED", "w-1"},
                                                {"MODIFIED", "w-1"},
                                                {"DELETED", "w-1"}};
        size_t n = 0;
        for (size_t i = 0; i < json_array_size(a.events); i++) {
                json_t *ev = json_array_get(a.events, i);
                if (!strcmp(str_at(ev, "type"), "BOOKMARK"))
                        continue;
                assert_true(n < 5);
                assert_string_equal(str_at(ev, "type"), want_a[n][0]);
                assert_string_equal(str_at(ev, "object.metadata.name"), want_a[n][1]);
                assert_string_equal(str_at(ev, "object.kind"), "Pod");
                n++;
        }
        assert_int_equal(n, 5);
        /* b: ADDED (unbound), MODIFIED (bound) */
        assert_int_equal(json_array_size(b.events), 2);
        assert_string_equal(str_at(b.events, "1.object.spec.nodeName"), "vk-w");
        assert_string_equal(str_at(b.events, "1.object.status.conditions.0.type"), "PodScheduled");
        json_decref(a.events);
        json_decref(b.events);

        /* replay from the list's version: the same history, in order, with increasing versions */
        char path[256];
        snprintf(path, sizeof(path),
                 "/api/v1/namespaces/default/pods?watch=1&resourceVersion=%llu&timeoutSeconds=1",
                 rv0);
        json_t *evs = watch(&plain, path);
        assert_int_equal(json_array_size(evs),
                         6); /* 2 ADDED, bind, status, graceful delete, DELETED */
        unsigned long long last = rv0;
        for (size_t i = 0; i < json_array_size(evs); i++) {
                unsigned long long rv = strtoull(
                    str_at(json_array_get(evs, i), "object.metadata.resourceVersion"), NULL, 10);
                assert_true(rv > last);
                last = rv;
        }
        assert_string_equal(str_at(evs, "5.type"), "DELETED");
        json_decref(evs);

        /* bookmarks carry only a version, at least once a second here */
        evs = watch(&plain,
                    "/api/v1/namespaces/default/"
                    "pods?watch=1&resourceVersion=0&allowWatchBookmarks=true&timeoutSeconds=3");
        size_t bm = 0;
        for (size_t i = 0; i < json_array_size(evs); i++) {
                json_t *ev = json_array_get(evs, i);
                if (strcmp(str_at(ev, "type"), "BOOKMARK"))
                        continue;
                bm++;
                assert_non_null(str_at(ev, "object.metadata.resourceVersion"));
                assert_null(str_at(ev, "object.metadata.name"));
        }
        assert_true(bm >= 1);
        json_decref(evs);
}

static void test_token_request(void **state)
{
        json_t *p = make_pod(&plain, "default", "tok", "vk-1");
        char body[1024];
        snprintf(body, sizeof(body),
                 "{\"apiVersion\":\"authentication.k8s.io/"
                 "v1\",\"kind\":\"TokenRequest\",\"spec\":{\"audiences\":[\"api\"],"
                 "\"expirationSeconds\":1200,\"boundObjectRef\":{\"kind\":\"Pod\",\"apiVersion\":"
                 "\"v1\",\"name\":\"tok\",\"uid\":\"%s\"}}}",
                 str_at(p, "metadata.uid"));
        json_t *t = call(&plain, "POST", "/api/v1/namespaces/default/serviceaccounts/default/token",
                         NULL, body, 201);
        assert_string_equal(str_at(t, "kind"), "TokenRequest");
        const char *tok = str_at(t, "status.token");
        assert_non_null(tok);
        assert_non_null(strchr(tok, '.'));
        int64_t exp;
        assert_int_equal(ferry_time_parse(str_at(t, "status.expirationTimestamp"), &exp), 0);
        int64_t d = exp / 1000000000LL - ferry_now_ns() / 1000000000LL;
        assert_true(d > 1190 && d <= 1200);
        json_decref(t);
        /* too short */
        t = call(&plain, "POST", "/api/v1/namespaces/default/serviceaccounts/default/token", NULL,
                 "{\"spec\":{\"expirationSeconds\":60}}", 422);
        json_decref(t);
        /* a bound object with another uid */
        t = call(&plain, "POST", "/api/v1/namespaces/default/serviceaccounts/default/token", NULL,
                 "{\"spec\":{\"boundObjectRef\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"name\":"
                 "\"tok\",\"uid\":\"0000\"}}}",
                 409);
        json_decref(t);
        t = call(&plain, "POST", "/api/v1/namespaces/default/serviceaccounts/nobody/token", NULL,
                 "{\"spec\":{}}", 404);
        json_decref(t);
        /* what was issued is visible to tests */
        t = call(&plain, "GET", "/debug/tokens", NULL, NULL, 200);
        assert_string_equal(str_at(t, "0.expirationSeconds"), "1200");
        json_decref(t);
        json_decref(p);
}

static void test_leases_and_events(void **state)
{
        const char *lease = "{\"apiVersion\":\"coordination.k8s.io/"
                            "v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":\"vk-1\","
                            "\"namespace\":\"kube-node-lease\"},\"spec\":{\"holderIdentity\":\"vk-"
                            "1\",\"leaseDurationSeconds\":40,"
                            "\"renewTime\":\"2024-01-01T00:00:00.000000Z\"}}";
        json_t *l =
            call(&plain, "POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                 NULL, lease, 201);
        json_t *st = call(&plain, "GET",
                          "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/missing",
                          NULL, NULL, 404);
        assert_string_equal(str_at(st, "message"),
                            "leases.coordination.k8s.io \"missing\" not found");
        json_decref(st);
        json_object_set_new(json_object_get(l, "spec"), "renewTime",
                            json_string("2024-01-01T00:00:10.000000Z"));
        char *b = json_dumps(l, 0);
        json_t *l2 = call(&plain, "PUT",
                          "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/vk-1",
                          NULL, b, 200);
        assert_string_equal(str_at(l2, "spec.renewTime"), "2024-01-01T00:00:10.000000Z");
        st = call(&plain, "PUT",
                  "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/vk-1", NULL, b,
                  409);
        json_decref(st);
        free(b);
        json_decref(l);
        json_decref(l2);

        json_decref(call(&plain, "POST", "/api/v1/namespaces/default/events", NULL,
                         "{\"metadata\":{\"generateName\":\"tok.\"},\"involvedObject\":{\"kind\":"
                         "\"Pod\",\"name\":\"tok\",\"namespace\":\"default\"},"
                         "\"reason\":\"ProviderFailed\",\"message\":\"x\",\"type\":\"Warning\","
                         "\"source\":{\"component\":\"ferry-node\"}}",
                         201));
        json_decref(call(&plain, "POST", "/apis/events.k8s.io/v1/namespaces/default/events", NULL,
                         "{\"metadata\":{\"name\":\"ev2\"},\"regarding\":{\"kind\":\"Pod\","
                         "\"name\":\"tok\"},\"reason\":\"Started\","
                         "\"type\":\"Normal\",\"action\":\"Start\",\"reportingController\":\"ferry-"
                         "node\",\"reportingInstance\":\"vk-1\","
                         "\"eventTime\":\"2024-01-01T00:00:00.000000Z\"}",
                         201));
        json_t *ev = call(&plain, "GET",
                          "/api/v1/namespaces/default/"
                          "events?fieldSelector=involvedObject.name%3Dtok,reason%3DProviderFailed",
                          NULL, NULL, 200);
        assert_int_equal(json_array_size(json_object_get(ev, "items")), 1);
        json_decref(ev);
        ev = call(&plain, "GET", "/apis/events.k8s.io/v1/events", NULL, NULL, 200);
        assert_int_equal(json_array_size(json_object_get(ev, "items")), 1);
        json_decref(ev);

        /* nodes: cluster-scoped, status subresource */
        json_decref(call(&plain, "POST", "/api/v1/nodes", NULL,
                         "{\"metadata\":{\"name\":\"vk-1\",\"labels\":{\"type\":\"virtual-"
                         "kubelet\"}},\"spec\":{\"taints\":[{\"key\":\"virtual-node.interlink/"
                         "no-schedule\",\"value\":\"true\",\"effect\":\"NoSchedule\"}]},"
                         "\"status\":{\"capacity\":{\"cpu\":\"100\"}}}",
                         201));
        json_t *n = call(
            &plain, "PATCH", "/api/v1/nodes/vk-1/status", "application/strategic-merge-patch+json",
            "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}", 200);
        assert_string_equal(str_at(n, "status.capacity.cpu"), "100");
        assert_string_equal(str_at(n, "status.conditions.0.type"), "Ready");
        json_decref(n);

        /* the request counters */
        json_t *cnt = call(&plain, "GET", "/debug/requests", NULL, NULL, 200);
        assert_non_null(str_at(cnt, "PATCH nodes/status"));
        assert_true(json_integer_value(json_object_get(cnt, "UPDATE leases.coordination.k8s.io")) ==
                    2);
        assert_non_null(str_at(cnt, "CREATE serviceaccounts/token"));
        json_decref(cnt);
}

/* ---- compaction: 410 Gone ---- */
static void test_expired(void **state)
{
        struct dbl d = {.token = "x"};
        const char *extra[] = {"--token", "x", "--compact-after", "5", NULL};
        assert_int_equal(start_double(&d, extra), 0);
        json_t *l =
            call(&d, "GET", "/api/v1/namespaces/default/configmaps?limit=1", NULL, NULL, 200);
        unsigned long long rv0 = rv_of(l);
        const char *cont = str_at(l, "metadata.continue");
        char contb[512];
        snprintf(contb, sizeof(contb), "%s", cont ? cont : "");
        json_decref(l);
        for (int i = 0; i < 8; i++) {
                char b[128];
                snprintf(b, sizeof(b), "{\"metadata\":{\"name\":\"c%d\"}}", i);
                json_decref(
                    call(&d, "POST", "/api/v1/namespaces/default/configmaps", NULL, b, 201));
        }
        char path[512];
        snprintf(
            path, sizeof(path),
            "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=%llu&timeoutSeconds=1",
            rv0);
        json_t *evs = watch(&d, path);
        assert_int_equal(json_array_size(evs), 1);
        assert_string_equal(str_at(evs, "0.type"), "ERROR");
        assert_string_equal(str_at(evs, "0.object.kind"), "Status");
        assert_string_equal(str_at(evs, "0.object.reason"), "Expired");
        assert_string_equal(str_at(evs, "0.object.code"), "410");
        json_decref(evs);
        /* the last few versions are still there */
        snprintf(
            path, sizeof(path),
            "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=%llu&timeoutSeconds=1",
            rv0 + 5);
        evs = watch(&d, path);
        assert_int_equal(json_array_size(evs), 3);
        assert_string_equal(str_at(evs, "0.type"), "ADDED");
        json_decref(evs);
        assert_int_equal(stop_double(&d), 0);
        (void)contb;
}

/* ---- TLS: client certificates and tokens ---- */
static int run(const char *const *argv)
{
        pid_t pid;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        int r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                return -r;
        int st;
        waitpid(pid, &st, 0);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void f(char *buf, size_t n, const char *name)
{
        snprintf(buf, n, "%s/%s", tmpdir, name);
}

static int make_ca(const char *name)
{
        char key[300], crt[300], subj[100];
        f(key, sizeof(key), name);
        strcat(key, ".key");
        f(crt, sizeof(crt), name);
        strcat(crt, ".crt");
        snprintf(subj, sizeof(subj), "/CN=%s", name);
        const char *argv[] = {"openssl", "req",     "-x509", "-newkey", "rsa:2048",
                              "-nodes",  "-keyout", key,     "-out",    crt,
                              "-days",   "2",       "-subj", subj,      NULL};
        return run(argv);
}

static int make_cert(const char *name, const char *ca, const char *cn, bool server)
{
        char key[300], csr[300], crt[300], cak[300], cac[300], ext[300], subj[100];
        f(key, sizeof(key), name), strcat(key, ".key");
        f(csr, sizeof(csr), name), strcat(csr, ".csr");
        f(crt, sizeof(crt), name), strcat(crt, ".crt");
        f(cak, sizeof(cak), ca), strcat(cak, ".key");
        f(cac, sizeof(cac), ca), strcat(cac, ".crt");
        f(ext, sizeof(ext), name), strcat(ext, ".ext");
        snprintf(subj, sizeof(subj), "/CN=%s%s", cn, server ? "" : "/O=system:nodes");
        const char *e =
            server ? "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
                   : "extendedKeyUsage=clientAuth\n";
        if (ferry_write_file_atomic(ext, e, strlen(e), 0644, false) < 0)
                return -1;
        const char *a1[] = {"openssl", "req",  "-newkey", "rsa:2048", "-nodes", "-keyout",
                            key,       "-out", csr,       "-subj",    subj,     NULL};
        const char *a2[] = {
            "openssl",         "x509", "-req", "-in",   csr, "-CA",      cac, "-CAkey", cak,
            "-CAcreateserial", "-out", crt,    "-days", "2", "-extfile", ext, NULL};
        return run(a1) || run(a2) ? -1 : 0;
}

static void test_tls(void **state)
{
        const char *probe[] = {"openssl", "version", NULL};
        if (run(probe) != 0)
                skip(); /* openssl is needed only to make the test's certificates */
        assert_int_equal(make_ca("ca"), 0);
        assert_int_equal(make_ca("other-ca"), 0);
        assert_int_equal(make_cert("server", "ca", "kube-apiserver", true), 0);
        assert_int_equal(make_cert("client", "ca", "system:node:vk-1", false), 0);
        assert_int_equal(make_cert("rogue", "other-ca", "system:node:vk-1", false), 0);
        char scrt[300], skey[300], ca[300], kc[300];
        f(scrt, sizeof(scrt), "server.crt");
        f(skey, sizeof(skey), "server.key");
        f(ca, sizeof(ca), "ca.crt");
        f(kc, sizeof(kc), "tls-kubeconfig");
        struct dbl d = {.token = "tls-token"};
        char ccrt[300], ckey[300];
        f(ccrt, sizeof(ccrt), "client.crt");
        f(ckey, sizeof(ckey), "client.key");
        const char *extra[] = {"--tls-cert",
                               scrt,
                               "--tls-key",
                               skey,
                               "--client-ca",
                               ca,
                               "--tls-ca",
                               ca,
                               "--token",
                               "tls-token",
                               "--kubeconfig-out",
                               kc,
                               "--kubeconfig-client-cert",
                               ccrt,
                               "--kubeconfig-client-key",
                               ckey,
                               NULL};
        assert_int_equal(start_double(&d, extra), 0);
        assert_true(ferry_str_startswith(d.url, "https://127.0.0.1:"));
        snprintf(d.ca, sizeof(d.ca), "%s", ca);
        snprintf(d.cert, sizeof(d.cert), "%s", ccrt);
        snprintf(d.key, sizeof(d.key), "%s", ckey);
        struct resp r;
        assert_int_equal(request(&d, AUTH_CERT, "GET", "/api/v1/nodes", NULL, NULL, &r), 200);
        assert_string_equal(str_at(r.json, "kind"), "NodeList");
        resp_free(&r);
        assert_int_equal(request(&d, AUTH_TOKEN, "GET", "/api/v1/nodes", NULL, NULL, &r), 200);
        resp_free(&r);
        assert_int_equal(request(&d, AUTH_NONE, "GET", "/api/v1/nodes", NULL, NULL, &r), 401);
        assert_string_equal(str_at(r.json, "reason"), "Unauthorized");
        resp_free(&r);
        /* a certificate from another CA is not a credential */
        f(d.cert, sizeof(d.cert), "rogue.crt");
        f(d.key, sizeof(d.key), "rogue.key");
        long code = request(&d, AUTH_CERT, "GET", "/api/v1/nodes", NULL, NULL, &r);
        assert_true(code == 401 || code == -1);
        resp_free(&r);
        /* the kubeconfig carries the CA and the client certificate */
        char *k = NULL;
        size_t kl;
        assert_int_equal(ferry_read_file(kc, 1 << 20, &k, &kl), 0);
        assert_non_null(strstr(k, "certificate-authority-data: "));
        assert_non_null(strstr(k, "client-certificate-data: "));
        assert_non_null(strstr(k, "client-key-data: "));
        assert_non_null(strstr(k, d.url));
        free(k);
        /* kube-root-ca.crt publishes the CA */
        json_t *cm = call(&d, "GET", "/api/v1/namespaces/default/configmaps/kube-root-ca.crt", NULL,
                          NULL, 200);
        const char *pem = json_string_value(json_object_get(json_object_get(cm, "data"), "ca.crt"));
        assert_true(pem && ferry_str_startswith(pem, "-----BEGIN CERTIFICATE-----"));
        json_decref(cm);
        assert_int_equal(stop_double(&d), 0);
}

/* ---- --load and --state-out ---- */
static void test_load_and_state(void **state)
{
        const char *data = getenv("KUBE_DOUBLE_DATA");
        if (!data)
                skip();
        struct dbl d = {.token = "x"};
        char so[300];
        f(so, sizeof(so), "loaded-state.json");
        const char *extra[] = {"--token", "x", "--load", data, "--state-out", so, NULL};
        assert_int_equal(start_double(&d, extra), 0);
        json_t *p = call(&d, "GET", "/api/v1/namespaces/default/pods/web-0", NULL, NULL, 200);
        assert_string_equal(str_at(p, "spec.nodeName"), "vk-site-a");
        json_decref(p);
        json_t *nd = call(&d, "GET", "/api/v1/nodes/vk-site-a", NULL, NULL, 200);
        json_decref(nd);
        json_decref(call(&d, "DELETE", "/api/v1/namespaces/default/pods/web-0?gracePeriodSeconds=0",
                         NULL, NULL, 200));
        assert_int_equal(stop_double(&d), 0);
        json_t *dump = json_load_file(so, 0, NULL);
        assert_non_null(dump);
        assert_string_equal(str_at(dump, "kind"), "List");
        bool node = false, pod = false;
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(dump, "items"), i, o)
        {
                node = node || (!strcmp(str_at(o, "kind"), "Node") &&
                                !strcmp(str_at(o, "metadata.name"), "vk-site-a"));
                pod = pod || (!strcmp(str_at(o, "kind"), "Pod") &&
                              !strcmp(str_at(o, "metadata.name"), "web-0"));
        }
        assert_true(node);
        assert_false(pod);
        json_decref(dump);
}

static void rm_tmp(void)
{
        if (!getenv("FERRY_KEEP_TEST_DIR"))
                ferry_rm_rf(tmpdir);
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: %s PATH-TO-kube-apiserver-double\n", argv[0]);
                return 2;
        }
        double_bin = argv[1];
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/ferry-kube-double-XXXXXX");
        if (!mkdtemp(tmpdir))
                return 1;
        atexit(rm_tmp);
        curl_global_init(CURL_GLOBAL_DEFAULT);
        const struct CMUnitTest plain_tests[] = {
            cmocka_unit_test(test_auth_and_discovery),
            cmocka_unit_test(test_versions_and_conflicts),
            cmocka_unit_test(test_patches),
            cmocka_unit_test(test_pod_defaults_and_selectors),
            cmocka_unit_test(test_pagination),
            cmocka_unit_test(test_watch),
            cmocka_unit_test(test_token_request),
            cmocka_unit_test(test_leases_and_events),
        };
        const struct CMUnitTest other_tests[] = {
            cmocka_unit_test(test_expired),
            cmocka_unit_test(test_tls),
            cmocka_unit_test(test_load_and_state),
        };
        int r = cmocka_run_group_tests_name("kube-double-plain", plain_tests, setup_plain,
                                            teardown_plain);
        r += cmocka_run_group_tests_name("kube-double-other", other_tests, NULL, NULL);
        curl_global_cleanup();
        return r ? 1 : 0;
}
