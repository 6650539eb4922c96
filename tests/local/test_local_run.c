/* SPDX-License-Identifier: MIT */
/*
 * The local backend with the real ferry-shim (FERRY_SHIM) on real pods:
 * host and bwrap runtimes. Pods are submitted, polled and killed through the
 * backend wrappers exactly as ferryd does.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "runner/podwd.h"
#include "runner/runspec.h"
#include "common/util.h"
#include "harness.h"

static int uid_seq;

static struct h_pod *pod(const char *name, const char *spec)
{
        char uid[64];
        snprintf(uid, sizeof(uid), "11111111-2222-4333-8444-%012d", ++uid_seq + getpid() * 1000);
        char *body = h_body(uid, name, spec);
        struct h_pod *p = h_parse(body);
        free(body);
        return p;
}

static struct h_pod *run(struct ferry_backend *be, const char *name, const char *spec, int tmo)
{
        struct h_pod *p = pod(name, spec);
        ferry_error_t err = {{0}};
        int r = h_submit(be, p, &err);
        if (r < 0)
                print_error("submit: %s\n", err.text);
        assert_int_equal(r, 0);
        if (tmo > 0)
                h_wait(be, &p, 1, tmo);
        return p;
}

static void assert_contains(const char *hay, const char *needle)
{
        if (!hay || !strstr(hay, needle)) {
                print_error("[%s] not found in:\n%s\n", needle, hay ? hay : "(no log)");
                fail();
        }
}

static void test_host_hello(void **state)
{
        struct ferry_backend *be = h_backend("host", NULL);
        struct h_pod *p =
            run(be, "hello",
                "{\"containers\": [{\"name\": \"main\", \"command\": [\"sh\", \"-c\"],"
                " \"args\": [\"echo hello world; echo to-stderr >&2; printf tail\"],"
                " \"env\": [{\"name\": \"FOO\", \"value\": \"bar\"}]}]}",
                20);
        assert_int_equal(p->st.phase, FERRY_PHASE_SUCCEEDED);
        struct ferry_cstatus *c = h_c(p, "main");
        assert_int_equal(c->state, FERRY_C_TERMINATED);
        assert_int_equal(c->exit_code, 0);
        assert_string_equal(c->reason, "Completed");
        assert_true(c->started_ns > 0 && c->finished_ns >= c->started_ns);
        char *log = h_log(be, p, "main");
        assert_contains(log, "hello world\n");
        assert_contains(log, "to-stderr\n");
        assert_contains(log, "tail");
        free(log);
        h_pod_free(p);
        h_backend_free(be);
}

static void test_host_exit_codes(void **state)
{
        struct ferry_backend *be = h_backend("host", NULL);
        struct h_pod *p =
            run(be, "codes",
                "{\"containers\": [{\"name\": \"fail\", \"command\": [\"sh\", \"-c\", "
                "\"exit 42\"]}, {\"name\": \"killed\", \"command\": [\"sh\", \"-c\", "
                "\"kill -9 $$$$\"]}, {\"name\": \"missing\", \"command\": "
                "[\"/nonexistent/binary\"]}]}",
                20);
        assert_int_equal(p->st.phase, FERRY_PHASE_FAILED);
        assert_int_equal(h_c(p, "fail")->exit_code, 42);
        assert_string_equal(h_c(p, "fail")->reason, "Error");
        assert_int_equal(h_c(p, "killed")->exit_code, 137);
        assert_int_equal(h_c(p, "killed")->signal, SIGKILL);
        assert_int_equal(h_c(p, "missing")->exit_code, 128);
        assert_string_equal(h_c(p, "missing")->reason, "StartError");
        h_pod_free(p);
        h_backend_free(be);
}

static void check_hostile(struct ferry_backend *be)
{
        /* every item must reach the process as one argv item, unexpanded by any shell */
        struct h_pod *p =
            run(be, "hostile",
                "{\"containers\": [{\"name\": \"main\", \"command\": [\"sh\", \"-c\", "
                "\"for a in \\\"$@\\\"; do printf '[%s]\\\\n' \\\"$a\\\"; done; printf "
                "'<%s>\\\\n' \\\"$V\\\"\", \"sh\"], \"args\": [\"it's \\\"q\\\"\", "
                "\"$(echo INJECTED)\", \"`echo INJECTED`\", \"a\\nb\", \"--rm\", "
                "\"$(X)\", \"\"], \"env\": [{\"name\": \"X\", \"value\": \"x y\"}, "
                "{\"name\": \"V\", \"value\": \"$(X) `id` $(nope)\"}]}]}",
                20);
        assert_int_equal(p->st.phase, FERRY_PHASE_SUCCEEDED);
        char *log = h_log(be, p, "main");
        assert_contains(log, "[it's \"q\"]\n");
        assert_contains(log, "[$(echo INJECTED)]\n");
        assert_contains(log, "[`echo INJECTED`]\n");
        assert_contains(log, "[a\nb]\n");
        assert_contains(log, "[--rm]\n");
        assert_contains(log, "[x y]\n");
        assert_contains(log, "[]\n");
        assert_contains(log, "<x y `id` $(nope)>\n");
        assert_null(strstr(log, "INJECTED]\n[INJECTED"));
        free(log);
        h_pod_free(p);
}

static void test_host_hostile_args(void **state)
{
        struct ferry_backend *be = h_backend("host", NULL);
        check_hostile(be);
        h_backend_free(be);
}

static void test_host_refuses_mounts(void **state)
{
        struct ferry_backend *be = h_backend("host", NULL);
        struct h_pod *p = pod("mounts", "{\"containers\": [{\"name\": \"main\", \"command\": "
                                        "[\"true\"], \"volumeMounts\": [{\"name\": \"d\", "
                                        "\"mountPath\": \"/data\"}]}], \"volumes\": [{\"name\": "
                                        "\"d\", \"emptyDir\": {}}]}");
        ferry_error_t err = {{0}};
        assert_int_equal(h_submit(be, p, &err), -EINVAL);
        assert_non_null(strstr(err.text, "/data"));
        assert_non_null(strstr(err.text, "host runtime"));
        h_pod_free(p);
        h_backend_free(be);
}

static void test_idempotent_submit(void **state)
{
        struct ferry_backend *be = h_backend("host", NULL);
        struct h_pod *p = run(be, "once",
                              "{\"containers\": [{\"name\": \"main\", \"command\": [\"sh\", \"-c\","
                              " \"echo ran; sleep 0.3\"]}]}",
                              0);
        char jid1[FERRY_JID_MAX];
        ferry_error_t err = {{0}};
        snprintf(jid1, sizeof(jid1), "%s", p->jid);
        assert_int_equal(h_submit(be, p, &err), 0);
        assert_string_equal(jid1, p->jid);
        h_wait(be, &p, 1, 20);
        assert_int_equal(h_submit(be, p, &err), 0); /* after it finished, too */
        assert_string_equal(jid1, p->jid);
        assert_int_equal(p->st.phase, FERRY_PHASE_SUCCEEDED);
        char *log = h_log(be, p, "main");
        assert_contains(log, "ran\n");
        assert_null(strstr(strstr(log, "ran\n") + 1, "ran\n"));
        free(log);
        h_pod_free(p);
        h_backend_free(be);
}

static const char *const term_spec =
    "{\"terminationGracePeriodSeconds\": 10, \"containers\": [{\"name\": \"main\", "
    "\"command\": [\"sh\", \"-c\", \"trap 'echo got TERM; exit 7' TERM; echo up; while :; do "
    "sleep 0.05; done\"]}]}";

static void check_kill_grace(struct ferry_backend *be)
{
        struct h_pod *p = run(be, "term", term_spec, 0);
        assert_true(h_wait_running(be, p, "main", 20));
        /* wait for the trap to be installed */
        for (int i = 0; i < 200; i++) {
                char *log = h_log(be, p, "main");
                bool up = log && strstr(log, "up\n");
                free(log);
                if (up)
                        break;
                usleep(20000);
        }
        assert_true(h_kill(be, p, 10, 20) >= 0);
        h_poll(be, p);
        struct ferry_cstatus *c = h_c(p, "main");
        assert_int_equal(c->state, FERRY_C_TERMINATED);
        assert_int_equal(c->exit_code, 7); /* it handled SIGTERM: no SIGKILL needed */
        char *log = h_log(be, p, "main");
        assert_contains(log, "got TERM\n");
        free(log);
        h_pod_free(p);
}

static void check_kill_sigkill(struct ferry_backend *be)
{
        struct h_pod *p =
            run(be, "stubborn",
                "{\"containers\": [{\"name\": \"main\", \"command\": [\"sh\", \"-c\", "
                "\"trap '' TERM; echo up; while :; do sleep 0.05; done\"]}]}",
                0);
        assert_true(h_wait_running(be, p, "main", 20));
        for (int i = 0; i < 1000; i++) { /* "up" is printed once the trap is set */
                char *log = h_log(be, p, "main");
                bool up = log && strstr(log, "up\n");
                free(log);
                if (up)
                        break;
                usleep(20000);
        }
        int64_t t0 = ferry_monotonic_ns();
        assert_true(h_kill(be, p, 1, 20) > 0);
        assert_true(ferry_monotonic_ns() - t0 >= 900000000LL); /* it waited for the grace */
        h_poll(be, p);
        struct ferry_cstatus *c = h_c(p, "main");
        assert_int_equal(c->state, FERRY_C_TERMINATED);
        assert_int_equal(c->exit_code, 137);
        assert_int_equal(p->st.phase, FERRY_PHASE_FAILED);
        h_pod_free(p);
}

static void test_host_kill(void **state)
{
        struct ferry_backend *be = h_backend("host", NULL);
        check_kill_grace(be);
        check_kill_sigkill(be);
        h_backend_free(be);
}

static void test_host_deadline(void **state)
{
        struct ferry_backend *be = h_backend("host", NULL);
        struct h_pod *p = run(be, "deadline",
                              "{\"activeDeadlineSeconds\": 1, \"terminationGracePeriodSeconds\": 1,"
                              " \"containers\": [{\"name\": \"main\", \"command\": [\"sleep\", "
                              "\"30\"]}]}",
                              20);
        assert_int_equal(p->st.phase, FERRY_PHASE_FAILED);
        assert_string_equal(p->st.reason, "DeadlineExceeded");
        assert_string_equal(h_c(p, "main")->reason, "DeadlineExceeded");
        assert_int_equal(h_c(p, "main")->exit_code, 128 + SIGTERM);
        h_pod_free(p);
        h_backend_free(be);
}

static void test_host_deleted_before_start(void **state)
{
        struct ferry_backend *be = h_backend("host", NULL);
        struct h_pod *p = run(be, "del",
                              "{\"initContainers\": [{\"name\": \"slow\", \"command\": [\"sleep\", "
                              "\"30\"]}], \"containers\": [{\"name\": \"main\", \"command\": "
                              "[\"echo\", \"must not run\"]}]}",
                              0);
        assert_true(h_wait_running(be, p, "slow", 20));
        assert_true(h_kill(be, p, 5, 20) >= 0);
        h_poll(be, p);
        assert_int_equal(h_c(p, "slow")->state, FERRY_C_TERMINATED);
        assert_int_equal(h_c(p, "main")->state, FERRY_C_WAITING);
        assert_int_equal(h_c(p, "main")->started_ns, 0);
        assert_null(h_log(be, p, "main"));
        /* cleanup removes everything */
        ferry_error_t err = {{0}};
        assert_int_equal(ferry_backend_cleanup(be, p->pod->uid, p->jid, &err), 0);
        char jid[FERRY_JID_MAX];
        assert_int_equal(ferry_backend_find(be, p->pod->uid, jid, &err), 0);
        h_pod_free(p);
        h_backend_free(be);
}

static void test_init_order_and_failure(void **state)
{
        struct ferry_backend *be = h_backend("host", NULL);
        char spec[2048];
        snprintf(spec, sizeof(spec),
                 "{\"initContainers\": ["
                 "{\"name\": \"one\", \"command\": [\"sh\", \"-c\", \"sleep 0.2; echo one >> "
                 "order\"]},"
                 "{\"name\": \"two\", \"command\": [\"sh\", \"-c\", \"echo two >> order\"]}],"
                 " \"containers\": [{\"name\": \"main\", \"command\": [\"cat\", \"order\"]}]}");
        struct h_pod *p = run(be, "order", spec, 20);
        assert_int_equal(p->st.phase, FERRY_PHASE_SUCCEEDED);
        char *log = h_log(be, p, "main");
        assert_contains(log, "one\ntwo\n");
        free(log);
        assert_true(h_c(p, "one")->finished_ns <= h_c(p, "two")->started_ns);
        assert_true(h_c(p, "two")->finished_ns <= h_c(p, "main")->started_ns);
        h_pod_free(p);

        p = run(be, "initfail",
                "{\"initContainers\": [{\"name\": \"broken\", \"command\": [\"sh\", \"-c\", \"echo "
                "init fails; exit 3\"]}, {\"name\": \"later\", \"command\": [\"true\"]}],"
                " \"containers\": [{\"name\": \"main\", \"command\": [\"true\"]}]}",
                20);
        assert_int_equal(p->st.phase, FERRY_PHASE_FAILED);
        assert_int_equal(h_c(p, "broken")->exit_code, 3);
        assert_int_equal(h_c(p, "later")->started_ns, 0);
        assert_int_equal(h_c(p, "main")->started_ns, 0);
        assert_null(h_log(be, p, "later"));
        assert_null(h_log(be, p, "main"));
        h_pod_free(p);
        h_backend_free(be);
}

/* The launching process (a stand-in for ferryd) exits; a new one reattaches. */
static void test_reattach(void **state)
{
        struct h_pod *p = pod("reattach", "{\"containers\": [{\"name\": \"main\", \"command\": "
                                          "[\"sh\", \"-c\", \"sleep 1; echo still here\"]}]}");
        pid_t pid = fork();
        if (pid == 0) {
                struct ferry_backend *be = h_backend("host", NULL);
                ferry_error_t err = {{0}};
                _exit(h_submit(be, p, &err) == 0 ? 0 : 1);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

        struct ferry_backend *be = h_backend("host", NULL);
        ferry_error_t err = {{0}};
        assert_int_equal(ferry_backend_find(be, p->pod->uid, p->jid, &err), 1);
        assert_string_equal(p->jid, p->pod->uid);
        struct ferry_capacity cap;
        assert_int_equal(ferry_backend_capacity(be, &cap, &err), 0);
        assert_int_equal(cap.pods, 109);
        h_wait(be, &p, 1, 20);
        assert_int_equal(p->st.phase, FERRY_PHASE_SUCCEEDED);
        char *log = h_log(be, p, "main");
        assert_contains(log, "still here\n");
        free(log);
        /* the pod counts until a poll sees `done`, which the shim writes (with an
         * fsync) just after the last container's state: the phase may be seen first */
        for (int i = 0; i < 100; i++) {
                assert_int_equal(ferry_backend_capacity(be, &cap, &err), 0);
                if (cap.pods == 110)
                        break;
                usleep(50000);
                h_poll(be, p);
        }
        assert_int_equal(cap.pods, 110);
        assert_true(cap.cpu_milli > 0 && cap.memory_bytes > 0);
        h_pod_free(p);
        h_backend_free(be);
}

/* A shim killed with SIGKILL: its containers end as Error, never stuck Running. */
static void test_shim_dies(void **state)
{
        struct ferry_backend *be = h_backend("host", NULL);
        struct h_pod *p = run(be, "shimdies",
                              "{\"containers\": [{\"name\": \"main\", \"command\": [\"sleep\", "
                              "\"30\"]}]}",
                              0);
        assert_true(h_wait_running(be, p, "main", 20));
        char path[4096], *text = NULL;
        size_t len;
        snprintf(path, sizeof(path), "%s/local/pods/%s/shim.pid", h_state_dir(), p->pod->uid);
        assert_int_equal(ferry_read_file(path, 64, &text, &len), 0);
        pid_t shim = (pid_t)atoi(text);
        free(text);
        assert_int_equal(kill(shim, SIGKILL), 0);
        for (int i = 0; i < 100 && kill(shim, 0) == 0; i++)
                usleep(20000);
        h_wait(be, &p, 1, 10);
        struct ferry_cstatus *c = h_c(p, "main");
        assert_int_equal(c->state, FERRY_C_TERMINATED);
        assert_string_equal(c->reason, "Error");
        assert_non_null(c->message);
        assert_int_equal(p->st.phase, FERRY_PHASE_FAILED);
        assert_true(h_kill(be, p, 1, 10) >= 0);
        h_pod_free(p);
        h_backend_free(be);
}

/* ---- bwrap ---- */

#define SKIP_NO_BWRAP()                                                                            \
        do {                                                                                       \
                if (!h_have_bwrap()) {                                                             \
                        print_message("bwrap does not work here: skipped\n");                      \
                        skip();                                                                    \
                }                                                                                  \
        } while (0)

static const char *const bwrap_vol_body =
    "{\"pod\": {\"metadata\": {\"name\": \"bwrap-vol\", \"namespace\": \"t\", \"uid\": "
    "\"22222222-2222-4333-8444-000000000001\"}, \"spec\": {\"containers\": ["
    "{\"name\": \"writer\", \"command\": [\"sh\", \"-c\", \"echo payload > /data/msg; "
    "echo wrote; touch /usr/x 2>/dev/null || echo ROOT-RO; touch /newdir 2>/dev/null && echo "
    "SLASH-RW; touch /tmp/x && echo TMP-RW; cat /etc/app/app.yaml; cat /etc/one; ls -l "
    "/etc/app/bin/run.sh | cut -c1-10; test -e /etc/passwd && echo ETC-KEPT; cat "
    "/var/run/secrets/ca/ns; echo; echo sub > /sub/f\"],"
    " \"volumeMounts\": [{\"name\": \"shared\", \"mountPath\": \"/data\"},"
    " {\"name\": \"cfg\", \"mountPath\": \"/etc/app\"},"
    " {\"name\": \"cfg\", \"mountPath\": \"/etc/one\", \"subPath\": \"app.yaml\"},"
    " {\"name\": \"shared\", \"mountPath\": \"/sub\", \"subPath\": \"deep/er\"},"
    " {\"name\": \"proj\", \"mountPath\": \"/var/run/secrets/ca\", \"readOnly\": true}]},"
    "{\"name\": \"reader\", \"command\": [\"sh\", \"-c\", \"i=0; while [ ! -s /data/msg ] "
    "&& [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; cat /data/msg; if touch "
    "/data/other 2>/dev/null; then echo WRITABLE; else echo READONLY; fi\"],"
    " \"volumeMounts\": [{\"name\": \"shared\", \"mountPath\": \"/data\", \"readOnly\": true}]}],"
    " \"volumes\": [{\"name\": \"shared\", \"emptyDir\": {}},"
    " {\"name\": \"cfg\", \"configMap\": {\"name\": \"c\", \"items\": [{\"key\": \"app.yaml\","
    " \"path\": \"app.yaml\"}, {\"key\": \"run\", \"path\": \"bin/run.sh\", \"mode\": 493}]}},"
    " {\"name\": \"proj\", \"projected\": {\"sources\": []}}]}},"
    " \"configmaps\": [{\"metadata\": {\"name\": \"c\"}, \"data\": {\"app.yaml\": \"x: 1\\n\","
    " \"run\": \"#!/bin/sh\\n\"}}],"
    " \"projectedvolumesmaps\": [{\"metadata\": {\"name\": \"proj\"}, \"data\": {\"ns\": "
    "\"projected-ns\"}}]}";

static void test_bwrap_volumes(void **state)
{
        SKIP_NO_BWRAP();
        struct ferry_backend *be = h_backend("bwrap", NULL);
        struct h_pod *p = h_parse(bwrap_vol_body);
        ferry_error_t err = {{0}};
        int r = h_submit(be, p, &err);
        if (r < 0)
                print_error("submit: %s\n", err.text);
        assert_int_equal(r, 0);
        h_wait(be, &p, 1, 30);
        char *w = h_log(be, p, "writer"), *rd = h_log(be, p, "reader");
        print_message("writer:\n%sreader:\n%s", w ? w : "", rd ? rd : "");
        assert_int_equal(p->st.phase, FERRY_PHASE_SUCCEEDED);
        assert_contains(w, "wrote\n");
        assert_contains(w, "ROOT-RO\n");
        assert_contains(w, "SLASH-RW\n");
        assert_contains(w, "TMP-RW\n");
        assert_contains(w, "x: 1\nx: 1\n");
        assert_contains(w, "-rwxr-xr-x\n");
        assert_contains(w, "ETC-KEPT\n");
        assert_contains(w, "projected-ns\n");
        assert_contains(rd, "payload\n");
        assert_contains(rd, "READONLY\n");
        char path[4096];
        snprintf(path, sizeof(path), "%s/local/pods/%s/volumes/shared/deep/er/f", h_state_dir(),
                 p->pod->uid);
        assert_int_equal(access(path, F_OK), 0);
        free(w);
        free(rd);
        h_pod_free(p);
        h_backend_free(be);
}

static void test_bwrap_hostile_and_kill(void **state)
{
        SKIP_NO_BWRAP();
        struct ferry_backend *be = h_backend("bwrap", NULL);
        check_hostile(be);
        check_kill_grace(be); /* SIGTERM reaches the payload, not only bwrap */
        check_kill_sigkill(be);
        h_backend_free(be);
}

/* ---- pre-exec (set by the Slurm translator; here put into the run spec by
 * hand, since the local backend never sets it) ---- */

/* Write the pod's workdir with a pre-exec snippet; the backend's submit finds
 * it there and launches ferry-shim on it. Returns the workdir. */
static char *submit_pre_exec(struct ferry_backend *be, struct h_pod *p, const char *snippet)
{
        struct runner_runspec *rs = NULL;
        ferry_error_t err = {{0}};
        char *wd = ferry_xasprintf("%s/local/pods/%s", h_state_dir(), p->pod->uid);
        _cleanup_free_ char *tmp = ferry_xasprintf("%s/local/tmp", h_state_dir());
        struct runner_rtconf rc = {
            .kind = RUNNER_RT_HOST, .workdir = wd, .hostfs = runner_hostfs_real};

        assert_int_equal(runner_runspec_from_pod(p->pod, &rs, &err), 0);
        rs->pre_exec = ferry_xstrdup(snippet);
        int r = runner_podwd_create_spec(&rc, rs, tmp, &err);
        if (r < 0)
                print_error("workdir: %s\n", err.text);
        assert_int_equal(r, 1);
        runner_runspec_free(rs);
        r = h_submit(be, p, &err);
        if (r < 0)
                print_error("submit: %s\n", err.text);
        assert_int_equal(r, 0);
        return wd;
}

static void test_pre_exec_runs_first(void **state)
{
        struct ferry_backend *be = h_backend("host", NULL);
        char spec[2048];
        /* the containers print the marker the snippet left in cwd/: it ran first, there */
        snprintf(spec, sizeof(spec),
                 "{\"initContainers\": [{\"name\": \"one\", \"command\": [\"sh\", \"-c\", "
                 "\"cat pre-exec.marker\"]}],"
                 " \"containers\": [{\"name\": \"main\", \"command\": [\"sh\", \"-c\", "
                 "\"cat pre-exec.marker\"]}]}");
        struct h_pod *p = pod("preexec", spec);
        /* quotes and $ reach sh as they are: one argv item, no quoting layer */
        _cleanup_free_ char *wd = submit_pre_exec(
            be, p,
            "x='it'\"'\"'s'; echo \"$x in $(basename \"$PWD\")\" > pre-exec.marker\n"
            "echo pre-exec out; echo pre-exec err >&2");
        h_wait(be, &p, 1, 20);
        assert_int_equal(p->st.phase, FERRY_PHASE_SUCCEEDED);
        char *log = h_log(be, p, "one");
        assert_contains(log, "it's in cwd");
        free(log);
        log = h_log(be, p, "main");
        assert_contains(log, "it's in ");
        free(log);
        _cleanup_free_ char *pl = ferry_xasprintf("%s/logs/pre_exec.log", wd);
        log = h_log_file(pl);
        assert_contains(log, "pre-exec out\n");
        assert_contains(log, "pre-exec err\n");
        free(log);
        /* not a container: no state file, and the pod status has no entry for it */
        _cleanup_free_ char *sp = ferry_xasprintf("%s/state/pre_exec", wd);
        assert_int_not_equal(access(sp, F_OK), 0);
        assert_string_equal(p->st.reason, "");
        h_pod_free(p);
        h_backend_free(be);
}

static void test_pre_exec_failure(void **state)
{
        struct ferry_backend *be = h_backend("host", NULL);
        char spec[2048];
        snprintf(spec, sizeof(spec),
                 "{\"initContainers\": [{\"name\": \"one\", \"command\": [\"touch\", "
                 "\"../ran-one\"]}],"
                 " \"containers\": [{\"name\": \"main\", \"command\": [\"touch\", "
                 "\"../ran-main\"]}, {\"name\": \"side\", \"command\": [\"touch\", "
                 "\"../ran-side\"]}]}");
        struct h_pod *p = pod("preexecfail", spec);
        _cleanup_free_ char *wd = submit_pre_exec(be, p, "echo cannot load module >&2; exit 7");
        h_wait(be, &p, 1, 20);
        assert_int_equal(p->st.phase, FERRY_PHASE_FAILED);
        assert_string_equal(p->st.reason, "PreExecFailed");
        assert_non_null(p->st.message);
        assert_contains(p->st.message, "exited with code 7");
        const char *names[] = {"one", "main", "side"};
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(names); i++) {
                struct ferry_cstatus *c = h_c(p, names[i]);
                assert_int_equal(c->state, FERRY_C_TERMINATED);
                assert_string_equal(c->reason, "PreExecFailed");
                assert_int_equal(c->exit_code, 7);
                assert_int_equal(c->started_ns, 0);
                assert_contains(c->message, "no container was started");
                assert_null(h_log(be, p, names[i]));
                _cleanup_free_ char *ran = ferry_xasprintf("%s/ran-%s", wd, names[i]);
                assert_int_not_equal(access(ran, F_OK), 0);
        }
        _cleanup_free_ char *pl = ferry_xasprintf("%s/logs/pre_exec.log", wd);
        char *log = h_log_file(pl);
        assert_contains(log, "cannot load module\n");
        free(log);
        h_pod_free(p);

        /* killed by a signal: said so */
        p = pod("preexeckilled", spec);
        free(submit_pre_exec(be, p, "kill -9 $$"));
        h_wait(be, &p, 1, 20);
        assert_int_equal(p->st.phase, FERRY_PHASE_FAILED);
        assert_string_equal(p->st.reason, "PreExecFailed");
        assert_contains(p->st.message, "killed by signal 9");
        assert_int_equal(h_c(p, "main")->exit_code, 137);
        h_pod_free(p);

        /* activeDeadlineSeconds counts the pre-exec step too */
        p = pod("preexecdeadline",
                "{\"activeDeadlineSeconds\": 1, \"terminationGracePeriodSeconds\": 1,"
                " \"containers\": [{\"name\": \"main\", \"command\": [\"true\"]}]}");
        free(submit_pre_exec(be, p, "sleep 30"));
        h_wait(be, &p, 1, 20);
        assert_int_equal(p->st.phase, FERRY_PHASE_FAILED);
        assert_string_equal(p->st.reason, "DeadlineExceeded");
        assert_string_equal(h_c(p, "main")->reason, "DeadlineExceeded");
        assert_int_equal(h_c(p, "main")->started_ns, 0);
        h_pod_free(p);
        h_backend_free(be);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_host_hello),
            cmocka_unit_test(test_host_exit_codes),
            cmocka_unit_test(test_host_hostile_args),
            cmocka_unit_test(test_host_refuses_mounts),
            cmocka_unit_test(test_idempotent_submit),
            cmocka_unit_test(test_host_kill),
            cmocka_unit_test(test_host_deadline),
            cmocka_unit_test(test_host_deleted_before_start),
            cmocka_unit_test(test_init_order_and_failure),
            cmocka_unit_test(test_reattach),
            cmocka_unit_test(test_shim_dies),
            cmocka_unit_test(test_bwrap_volumes),
            cmocka_unit_test(test_bwrap_hostile_and_kill),
            cmocka_unit_test(test_pre_exec_runs_first),
            cmocka_unit_test(test_pre_exec_failure),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        h_cleanup();
        return r;
}
