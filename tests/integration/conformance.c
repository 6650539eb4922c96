/* SPDX-License-Identifier: MIT */
/*
 * Conformance runner: sends every case of a conformance directory (create.json
 * + expect.json, see tests/data/conformance/README.md) through the real API of
 * a running ferryd, waits for each pod to finish and checks phase, exit codes,
 * logs (regexes), absent lines, order and containers that must never run.
 *
 *   conformance SERVER CASES_DIR [CASE...]
 *
 * Prints TAP-like lines and a closing "N passed, N failed" line.
 */
#include <dirent.h>
#include <jansson.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "httpc.h"

static const char *server;

static char *slurp(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        if (!f)
                return NULL;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *b = malloc((size_t)n + 1);
        if (fread(b, 1, (size_t)n, f) != (size_t)n)
                n = 0;
        b[n] = '\0';
        fclose(f);
        *len = (size_t)n;
        return b;
}

static int fail(const char *cs, const char *fmt, const char *a, const char *b)
{
        printf("not ok - %s: ", cs);
        printf(fmt, a ? a : "", b ? b : "");
        printf("\n");
        return -1;
}

static json_t *find_container(json_t *st, const char *name)
{
        const char *lists[] = {"containers", "initContainers"};
        for (int l = 0; l < 2; l++) {
                json_t *a = json_object_get(st, lists[l]);
                size_t i;
                json_t *c;
                json_array_foreach(
                    a, i,
                    c) if (!strcmp(json_string_value(json_object_get(c, "name")), name)) return c;
        }
        return NULL;
}

static char *get_logs(json_t *pod, const char *uid, const char *container)
{
        json_t *q = json_pack(
            "{s:s,s:s,s:s,s:s,s:{s:i,s:b}}", "Namespace",
            json_string_value(json_object_get(json_object_get(pod, "metadata"), "namespace")),
            "PodUID", uid, "PodName",
            json_string_value(json_object_get(json_object_get(pod, "metadata"), "name")),
            "ContainerName", container, "Opts", "Tail", 0, "Follow", 0);
        char *body = json_dumps(q, 0);
        struct http_answer a;
        json_decref(q);
        if (http_call(server, "/getLogs", body, strlen(body), NULL, &a) < 0 || a.code != 200) {
                free(body);
                http_answer_free(&a);
                return NULL;
        }
        free(body);
        return a.body;
}

static bool line_matches(const char *text, regex_t *re)
{
        const char *p = text;
        while (*p) {
                const char *nl = strchr(p, '\n');
                size_t n = nl ? (size_t)(nl - p) : strlen(p);
                char *line = strndup(p, n);
                bool m = regexec(re, line, 0, NULL, 0) == 0;
                free(line);
                if (m)
                        return true;
                if (!nl)
                        break;
                p = nl + 1;
        }
        return false;
}

/* The phase a Virtual Kubelet derives from container states when the answer
 * has none (upstream's API server drops Ferry's "phase" extension): all
 * containers terminated -> Failed if any container or init container exited
 * non-zero, else Succeeded; any container running -> Running; else Pending
 * (interLink's pkg/virtualkubelet/execute.go does the same). */
static const char *derive_phase(json_t *st)
{
        json_t *cs = json_object_get(st, "containers"), *c;
        size_t i, n = json_array_size(cs), done = 0;
        bool failed = false, running = false;

        json_array_foreach(json_object_get(st, "initContainers"), i, c)
        {
                json_t *t = json_object_get(json_object_get(c, "state"), "terminated");
                failed |= t && json_integer_value(json_object_get(t, "exitCode")) != 0;
        }
        json_array_foreach(cs, i, c)
        {
                json_t *state = json_object_get(c, "state");
                json_t *t = json_object_get(state, "terminated");
                if (t) {
                        done++;
                        failed |= json_integer_value(json_object_get(t, "exitCode")) != 0;
                }
                running |= json_object_get(state, "running") != NULL;
        }
        if (n > 0 && done == n)
                return failed ? "Failed" : "Succeeded";
        return running ? "Running" : "Pending";
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
        size_t len;
        snprintf(path, sizeof(path), "%s/%s/create.json", dir, cs);
        char *create = slurp(path, &len);
        snprintf(path, sizeof(path), "%s/%s/expect.json", dir, cs);
        json_t *expect = json_load_file(path, 0, NULL);
        if (!create || !expect)
                return fail(cs, "cannot read the case files%s%s", NULL, NULL);
        if (needs_unmet(expect)) {
                printf("ok - %s # SKIP no writable cgroup here: limits cannot be enforced\n", cs);
                free(create);
                json_decref(expect);
                return 0;
        }
        json_t *req = json_loads(create, 0, NULL);
        json_t *pod = json_object_get(req, "pod");
        const char *uid =
            json_string_value(json_object_get(json_object_get(pod, "metadata"), "uid"));
        struct http_answer a;
        int r = 0;

        if (http_call(server, "/create", create, len, NULL, &a) < 0 || a.code != 200) {
                r = fail(cs, "create answered %s %s", a.body, "");
                goto out;
        }
        http_answer_free(&a);

        /* wait for the pod to finish, asking as a Virtual Kubelet does: the whole pod
         * with the phase it last saw (upstream's API server asks its plugin again only
         * for pods it is told are Pending or Running, else it answers from its cache) */
        json_t *st = NULL;
        const char *phase = "";
        json_t *qpod = json_deep_copy(pod);
        for (int i = 0; i < 600; i++) {
                json_object_set_new(qpod, "status",
                                    json_pack("{s:s}", "phase", *phase ? phase : "Pending"));
                json_t *qa = json_pack("[O]", qpod);
                char *q = json_dumps(qa, JSON_COMPACT);
                json_decref(qa);
                int hr = http_call(server, "/status", q, strlen(q), NULL, &a);
                free(q);
                if (hr == 0 && a.code == 200) {
                        json_t *arr = json_loads(a.body, 0, NULL);
                        json_decref(st);
                        st = json_incref(json_array_get(arr, 0));
                        json_decref(arr);
                        phase = json_string_value(json_object_get(st, "phase"));
                        if (!phase)
                                phase = st ? derive_phase(st) : "";
                }
                http_answer_free(&a);
                if (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))
                        break;
                usleep(100000);
        }
        json_decref(qpod);
        const char *want = json_string_value(json_object_get(expect, "phase"));
        if (strcmp(phase, want) != 0) {
                char *dump = st ? json_dumps(st, 0) : strdup("(no status)");
                printf("# status: %s\n", dump);
                free(dump);
                r = fail(cs, "phase %s, expected %s", phase, want);
                goto out_st;
        }
        const char *cname;
        json_t *v;
        json_object_foreach(json_object_get(expect, "exit"), cname, v)
        {
                json_t *c = find_container(st, cname);
                json_t *term = json_object_get(json_object_get(c, "state"), "terminated");
                if (!term || json_integer_value(json_object_get(term, "exitCode")) !=
                                 json_integer_value(v)) {
                        r = fail(cs, "container %s did not exit with the expected code%s", cname,
                                 "");
                        goto out_st;
                }
        }
        /* CONFORMANCE_SKIP_REASONS: reasons a runtime cannot tell (podman on
         * a cgroup v1 host does not see OOM kills), comma-separated */
        const char *skip = getenv("CONFORMANCE_SKIP_REASONS");
        json_object_foreach(json_object_get(expect, "reason"), cname, v)
        {
                json_t *c = find_container(st, cname);
                json_t *term = json_object_get(json_object_get(c, "state"), "terminated");
                const char *got = json_string_value(json_object_get(term, "reason"));
                const char *want_r = json_string_value(v);
                if (skip && want_r && strstr(skip, want_r)) {
                        printf("# %s: reason %s not checked (CONFORMANCE_SKIP_REASONS)\n", cs,
                               want_r);
                        continue;
                }
                if (!got || !want_r || strcmp(got, want_r)) {
                        r = fail(cs, "container %s ended with reason %s", cname,
                                 got ? got : "(none)");
                        goto out_st;
                }
        }
        json_object_foreach(json_object_get(expect, "logs"), cname, v)
        {
                char *logs = get_logs(pod, uid, cname);
                size_t i;
                json_t *pat;
                if (!logs) {
                        r = fail(cs, "no logs for container %s%s", cname, "");
                        goto out_st;
                }
                json_array_foreach(v, i, pat)
                {
                        regex_t re;
                        if (regcomp(&re, json_string_value(pat), REG_EXTENDED | REG_NOSUB) != 0) {
                                r = fail(cs, "bad regex %s%s", json_string_value(pat), "");
                                free(logs);
                                goto out_st;
                        }
                        bool m = line_matches(logs, &re);
                        regfree(&re);
                        if (!m) {
                                printf("# logs of %s:\n# %s\n", cname, logs);
                                r = fail(cs, "no log line matches %s", json_string_value(pat), "");
                                free(logs);
                                goto out_st;
                        }
                }
                free(logs);
        }
        json_object_foreach(json_object_get(expect, "logs_absent"), cname, v)
        {
                char *logs = get_logs(pod, uid, cname);
                size_t i;
                json_t *pat;
                json_array_foreach(v, i, pat)
                {
                        regex_t re;
                        regcomp(&re, json_string_value(pat), REG_EXTENDED | REG_NOSUB);
                        bool m = logs && line_matches(logs, &re);
                        regfree(&re);
                        if (m) {
                                r = fail(cs, "a log line matches the forbidden %s%s",
                                         json_string_value(pat), "");
                                free(logs);
                                goto out_st;
                        }
                }
                free(logs);
        }
        json_object_foreach(json_object_get(expect, "log_order"), cname, v)
        {
                char *logs = get_logs(pod, uid, cname);
                const char *p = logs ? logs : "";
                size_t i;
                json_t *s;
                json_array_foreach(v, i, s)
                {
                        const char *f = strstr(p, json_string_value(s));
                        if (!f) {
                                r = fail(cs, "\"%s\" missing or out of order in %s",
                                         json_string_value(s), cname);
                                free(logs);
                                goto out_st;
                        }
                        p = f + strlen(json_string_value(s));
                }
                free(logs);
        }
        size_t i;
        json_array_foreach(json_object_get(expect, "never_ran"), i, v)
        {
                json_t *c = find_container(st, json_string_value(v));
                json_t *state = json_object_get(c, "state");
                json_t *run = json_object_get(state, "running");
                json_t *term = json_object_get(state, "terminated");
                bool started = run || (term && json_is_string(json_object_get(term, "startedAt")));
                char *logs = get_logs(pod, uid, json_string_value(v));
                bool has_logs = logs && logs[0];
                free(logs);
                if (started || has_logs) {
                        r = fail(cs, "container %s ran but must never run%s", json_string_value(v),
                                 "");
                        goto out_st;
                }
        }
        printf("ok - %s\n", cs);
out_st:
        json_decref(st);
out:
        json_decref(req);
        json_decref(expect);
        free(create);
        return r;
}

static int cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
        if (argc < 3) {
                fprintf(stderr, "usage: conformance SERVER CASES_DIR [CASE...]\n");
                return 2;
        }
        server = strcmp(argv[1], "env") ? argv[1] : getenv("FERRY_SERVER");
        if (!server) {
                fprintf(stderr, "conformance: FERRY_SERVER is not set\n");
                return 2;
        }
        char *cases[256];
        size_t n = 0;
        if (argc > 3) {
                for (int i = 3; i < argc && n < 256; i++)
                        cases[n++] = strdup(argv[i]);
        } else {
                DIR *d = opendir(argv[2]);
                struct dirent *de;
                if (!d) {
                        perror(argv[2]);
                        return 2;
                }
                while ((de = readdir(d)) && n < 256) {
                        char p[4096];
                        snprintf(p, sizeof(p), "%s/%s/create.json", argv[2], de->d_name);
                        if (de->d_name[0] != '.' && access(p, R_OK) == 0)
                                cases[n++] = strdup(de->d_name);
                }
                closedir(d);
                qsort(cases, n, sizeof(cases[0]), cmp);
        }
        int passed = 0, failed = 0;
        printf("1..%zu\n", n);
        for (size_t i = 0; i < n; i++) {
                if (run_case(argv[2], cases[i]) == 0)
                        passed++;
                else
                        failed++;
                free(cases[i]);
        }
        printf("%d passed, %d failed\n", passed, failed);
        return failed ? 1 : 0;
}
