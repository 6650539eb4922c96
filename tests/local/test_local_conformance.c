/* SPDX-License-Identifier: MIT */
/*
 * Every conformance case (tests/data/conformance/<case>/create.json +
 * expect.json, copied from the team's shared cases) run directly through the
 * local backend's ops with the runtime given as argv[2] (bwrap by default):
 * ferry_pod_parse + submit + poll + the log files. All cases are submitted at
 * once, then polled together, as ferryd does.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/spawn.h"
#include "common/util.h"
#include "harness.h"

static const char *data_dir, *runtime;

struct kase {
        char *name;
        struct h_pod *pod;
        json_t *expect;
};

static int cmp_name(const void *a, const void *b)
{
        return strcmp(((const struct kase *)a)->name, ((const struct kase *)b)->name);
}

/* Does any line of text match the ERE? */
static bool any_line(const char *text, const char *re_s, ferry_error_t *err)
{
        regex_t re;
        if (regcomp(&re, re_s, REG_EXTENDED | REG_NOSUB) != 0) {
                ferry_errprintf(err, -EINVAL, "bad regex %s", re_s);
                return false;
        }
        bool hit = false;
        char *copy = ferry_xstrdup(text ? text : "");
        for (char *line = copy, *next; line && !hit; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                else if (!*line)
                        break;
                hit = regexec(&re, line, 0, NULL, 0) == 0;
        }
        free(copy);
        regfree(&re);
        return hit;
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

static int check(struct ferry_backend *be, struct kase *k)
{
        json_t *e = k->expect;
        struct h_pod *p = k->pod;
        int bad = 0;
        const char *key;
        json_t *v;
        ferry_error_t err = {{0}};

#define BAD(...)                                                                                   \
        do {                                                                                       \
                print_error("%s: ", k->name);                                                      \
                print_error(__VA_ARGS__);                                                          \
                print_error("\n");                                                                 \
                bad++;                                                                             \
        } while (0)

        const char *phase = json_string_value(json_object_get(e, "phase"));
        if (phase && strcmp(phase, ferry_phase_name(p->st.phase)) != 0)
                BAD("phase %s, want %s", ferry_phase_name(p->st.phase), phase);
        json_object_foreach(json_object_get(e, "exit"), key, v)
        {
                struct ferry_cstatus *c = ferry_pod_status_find(&p->st, key);
                if (!c || c->state != FERRY_C_TERMINATED)
                        BAD("container %s did not terminate", key);
                else if (c->exit_code != json_integer_value(v))
                        BAD("container %s exit %d, want %lld", key, c->exit_code,
                            (long long)json_integer_value(v));
        }
        json_object_foreach(json_object_get(e, "logs"), key, v)
        {
                char *log = h_log(be, p, key);
                size_t i;
                json_t *re;
                json_array_foreach(v, i, re)
                {
                        if (!any_line(log, json_string_value(re), &err))
                                BAD("log of %s has no line matching %s:\n%s", key,
                                    json_string_value(re), log ? log : "(none)");
                }
                free(log);
        }
        json_object_foreach(json_object_get(e, "logs_absent"), key, v)
        {
                char *log = h_log(be, p, key);
                size_t i;
                json_t *re;
                json_array_foreach(v, i, re)
                {
                        if (any_line(log, json_string_value(re), &err))
                                BAD("log of %s matches %s", key, json_string_value(re));
                }
                free(log);
        }
        json_object_foreach(json_object_get(e, "log_order"), key, v)
        {
                char *log = h_log(be, p, key);
                const char *at = log ? log : "";
                size_t i;
                json_t *s;
                json_array_foreach(v, i, s)
                {
                        const char *hit = strstr(at, json_string_value(s));
                        if (!hit) {
                                BAD("log of %s: %s missing or out of order", key,
                                    json_string_value(s));
                                break;
                        }
                        at = hit + strlen(json_string_value(s));
                }
                free(log);
        }
        size_t i;
        json_array_foreach(json_object_get(e, "never_ran"), i, v)
        {
                const char *name = json_string_value(v);
                struct ferry_cstatus *c = ferry_pod_status_find(&p->st, name);
                char *log = h_log(be, p, name);
                if (log)
                        BAD("%s has a log but must never have run", name);
                /* as the shared README says: no log, no running state, no start time (a
                 * container recorded as ended without starting never ran) */
                if (c && (c->started_ns || c->state == FERRY_C_RUNNING))
                        BAD("%s has a state but must never have run", name);
                free(log);
        }
        return bad;
}

#define PODMAN_IMAGE "localhost/ferry-busybox:test"

static int sh_run(const char *const argv[], int timeout_ms)
{
        struct ferry_spawn_result r;
        if (ferry_spawn_run(argv, NULL, NULL, 0, timeout_ms, 1 << 16, &r, NULL) < 0)
                return -1;
        int code = r.exit_code;
        if (code != 0)
                print_message("%s %s: exit %d: %s\n", argv[0], argv[1], code, r.err ? r.err : "");
        ferry_spawn_result_free(&r);
        return code;
}

/* A busybox image imported from the host's busybox (no registry here). */
static bool podman_ready(void)
{
        const char *exists[] = {"podman", "image", "exists", PODMAN_IMAGE, NULL};
        if (sh_run(exists, 30000) != 0) {
                char dir[] = "/tmp/ferry-bb.XXXXXX";
                if (!mkdtemp(dir))
                        return false;
                _cleanup_free_ char *bin = ferry_xasprintf("%s/rootfs/bin", dir);
                _cleanup_free_ char *root = ferry_xasprintf("%s/rootfs", dir);
                _cleanup_free_ char *tar = ferry_xasprintf("%s/rootfs.tar", dir);
                _cleanup_free_ char *bb = ferry_xasprintf("%s/busybox", bin);
                const char *dirs[] = {"proc", "sys", "dev", "tmp", "etc"};
                ferry_mkdir_p(bin, 0755);
                for (size_t i = 0; i < FERRY_ARRAY_SIZE(dirs); i++) {
                        _cleanup_free_ char *d = ferry_xasprintf("%s/%s", root, dirs[i]);
                        ferry_mkdir_p(d, 0755);
                }
                const char *cp[] = {"cp", "/bin/busybox", bb, NULL};
                const char *mk[] = {"tar", "-C", root, "-cf", tar, ".", NULL};
                const char *imp[] = {"podman", "import", tar, PODMAN_IMAGE, NULL};
                const char *list[] = {"/bin/busybox", "--list", NULL};
                struct ferry_spawn_result r;
                bool ok = sh_run(cp, 10000) == 0 &&
                          ferry_spawn_run(list, NULL, NULL, 0, 10000, 1 << 16, &r, NULL) == 0;
                if (ok) {
                        /* one symlink per applet */
                        for (char *l = r.out, *nx; l && *l; l = nx) {
                                nx = strchr(l, '\n');
                                if (nx)
                                        *nx++ = '\0';
                                _cleanup_free_ char *lp = ferry_xasprintf("%s/%s", bin, l);
                                if (*l && strcmp(l, "busybox") != 0 && symlink("busybox", lp) < 0)
                                        ok = false;
                        }
                        ferry_spawn_result_free(&r);
                        ok = ok && sh_run(mk, 30000) == 0 && sh_run(imp, 60000) == 0;
                }
                ferry_rm_rf(dir);
                if (!ok)
                        return false;
        }
        const char *run[] = {"podman",       "run",        "--rm", "--network", "none",
                             "--pull=never", PODMAN_IMAGE, "true", NULL};
        return sh_run(run, 60000) == 0;
}

static void test_conformance(void **state)
{
        DIR *d;
        struct dirent *de;
        struct kase *ks = NULL;
        size_t n = 0;
        struct ferry_backend *be;

        if (strcmp(runtime, "bwrap") == 0 && !h_have_bwrap()) {
                print_message("bwrap does not work here: skipped\n");
                skip();
        }
        if (strcmp(runtime, "podman") == 0 && !podman_ready()) {
                print_message("podman cannot run a local busybox image here: skipped "
                              "(see doc/local-backend.md)\n");
                skip();
        }
        static const char *const podman_opts[] = {"podman_image=" PODMAN_IMAGE, "podman_pull=never",
                                                  NULL};
        be = h_backend(runtime, strcmp(runtime, "podman") == 0 ? podman_opts : NULL);
        /* opened after the skip checks: a skip must leak nothing (LSan checks skips too) */
        d = opendir(data_dir);
        assert_non_null(d);
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *cp =
                    ferry_xasprintf("%s/%s/create.json", data_dir, de->d_name);
                _cleanup_free_ char *ep =
                    ferry_xasprintf("%s/%s/expect.json", data_dir, de->d_name);
                char *body = NULL;
                size_t len;
                if (ferry_read_file(cp, 1 << 20, &body, &len) < 0)
                        continue;
                json_error_t jerr;
                json_t *expect = json_load_file(ep, 0, &jerr);
                assert_non_null(expect);
                if (needs_unmet(expect)) {
                        print_message("%s: skipped, no writable cgroup here\n", de->d_name);
                        json_decref(expect);
                        free(body);
                        continue;
                }
                ks = ferry_xrealloc(ks, (n + 1) * sizeof(*ks));
                ks[n] = (struct kase){ferry_xstrdup(de->d_name), h_parse(body), expect};
                free(body);
                n++;
        }
        closedir(d);
        assert_true(n > 0);
        qsort(ks, n, sizeof(*ks), cmp_name);

        struct h_pod **pods = ferry_xcalloc(n, sizeof(*pods));
        for (size_t i = 0; i < n; i++) {
                ferry_error_t err = {{0}};
                int r = h_submit(be, ks[i].pod, &err);
                if (r < 0)
                        print_error("%s: submit: %s\n", ks[i].name, err.text);
                assert_int_equal(r, 0);
                pods[i] = ks[i].pod;
        }
        h_wait(be, pods, n, 120);
        int bad = 0;
        for (size_t i = 0; i < n; i++) {
                int b = check(be, &ks[i]);
                print_message("%-28s %s (%s)\n", ks[i].name, b ? "FAIL" : "ok",
                              ferry_phase_name(ks[i].pod->st.phase));
                bad += b;
                h_pod_free(ks[i].pod);
                json_decref(ks[i].expect);
                free(ks[i].name);
        }
        free(ks);
        free(pods);
        if (strcmp(runtime, "podman") == 0) {
                /* SIGTERM reaches the payload through podman; nothing is left behind.
                 * A stale container of the same name (an earlier attempt of this pod
                 * that a crash left) does not stop the pod from starting. */
                const char *stale[] = {
                    "podman",       "create",
                    "--name",       "ferry-33333333-2222-4333-8444-000000000001-main",
                    "--network",    "none",
                    "--pull=never", PODMAN_IMAGE,
                    "true",         NULL};
                assert_int_equal(sh_run(stale, 30000), 0);
                char *body =
                    h_body("33333333-2222-4333-8444-000000000001", "podterm",
                           "{\"terminationGracePeriodSeconds\": 10, \"containers\": "
                           "[{\"name\": \"main\", \"image\": \"busybox\", \"command\": "
                           "[\"sh\", \"-c\", \"trap 'echo got TERM; exit 7' TERM; echo up; "
                           "while :; do sleep 0.05; done\"]}]}");
                struct h_pod *p = h_parse(body);
                ferry_error_t err = {{0}};
                free(body);
                assert_int_equal(h_submit(be, p, &err), 0);
                assert_true(h_wait_running(be, p, "main", 30));
                for (int i = 0; i < 300; i++) {
                        char *log = h_log(be, p, "main");
                        bool up = log && strstr(log, "up\n");
                        free(log);
                        if (up)
                                break;
                        usleep(20000);
                }
                assert_true(h_kill(be, p, 10, 30) >= 0);
                h_poll(be, p);
                print_message("podman kill: exit %d\n",
                              ferry_pod_status_find(&p->st, "main")->exit_code);
                assert_int_equal(ferry_pod_status_find(&p->st, "main")->exit_code, 7);
                const char *exists[] = {"podman", "container", "exists",
                                        "ferry-33333333-2222-4333-8444-000000000001-main", NULL};
                assert_int_not_equal(sh_run(exists, 30000), 0);
                h_pod_free(p);
        }
        h_backend_free(be);
        assert_int_equal(bad, 0);
}

int main(int argc, char **argv)
{
        data_dir = argc > 1 ? argv[1] : "tests/data/conformance";
        runtime = argc > 2 ? argv[2] : "bwrap";
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_conformance),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        h_cleanup();
        return r;
}
