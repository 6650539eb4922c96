/* SPDX-License-Identifier: MIT */
/*
 * The ferryd core in process, driven through its entry points (and HTTP where
 * the defect is in the server): the fake backend's fault injection (transient
 * submit failures, a slow submit), concurrent creates of one uid, a delete
 * landing during the submit, a restart that must keep each pod's grace
 * period (local backend, real shims), log streams that must end with the
 * server, and a state database whose disk fills up.
 *
 * Waits are on observable conditions with a deadline, never a fixed sleep.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/daemon.h"
#include "store/store.h"
#include "http/server.h"
#include "../integration/httpc.h"

static char dir[PATH_MAX];

static int setup(void **state)
{
        snprintf(dir, sizeof(dir), "/tmp/ferry-daemon-test.XXXXXX");
        assert_non_null(mkdtemp(dir));
        return 0;
}

static int teardown(void **state)
{
        ferry_rm_rf(dir);
        return 0;
}

static struct ferry_daemon *start(const char *backend, const char *runtime,
                                  const struct ferry_backend_option *opts, size_t n_opts)
{
        struct ferry_daemon_config cfg = {
            .state_dir = dir,
            .backend = backend,
            .runtime = runtime,
            .backend_options = opts,
            .n_backend_options = n_opts,
            .poll_interval_ms = 50,
        };
        struct ferry_daemon *d = NULL;
        ferry_error_t err = {{0}};
        int r = ferry_daemon_new(&cfg, &d, &err);
        if (r < 0)
                print_error("daemon: %s\n", err.text);
        assert_int_equal(r, 0);
        assert_int_equal(ferry_daemon_start(d, &err), 0);
        return d;
}

static char *pod_body(const char *uid, const char *annotations, const char *spec)
{
        return ferry_xasprintf("{\"pod\": {\"metadata\": {\"name\": \"p\", \"namespace\": \"t\", "
                               "\"uid\": \"%s\", \"annotations\": {%s}}, \"spec\": %s}}",
                               uid, annotations,
                               spec ? spec
                                    : "{\"containers\": [{\"name\": \"main\", \"image\": "
                                      "\"busybox\", \"command\": [\"true\"]}]}");
}

static int create(struct ferry_daemon *d, const char *body, char jid[FERRY_JID_MAX],
                  ferry_error_t *err)
{
        char uid[FERRY_UID_MAX];
        return ferry_daemon_create(d, body, strlen(body), FERRY_BODY_CREATE_A, NULL, uid, jid, err);
}

/* The status ferryd reports for uid, or NULL when it does not know it. */
static json_t *status_of(struct ferry_daemon *d, const char *uid)
{
        struct ferry_buf out = FERRY_BUF_INIT;
        ferry_error_t err = {{0}};
        char *q = ferry_xasprintf("[{\"metadata\": {\"uid\": \"%s\"}}]", uid);
        assert_int_equal(ferry_daemon_status(d, q, strlen(q), NULL, &out, &err), 0);
        free(q);
        json_t *a = json_loads(out.data, 0, NULL);
        ferry_buf_free(&out);
        assert_non_null(a);
        json_t *s = json_incref(json_array_get(a, 0));
        json_decref(a);
        return s;
}

static bool phase_is(struct ferry_daemon *d, const char *uid, const char *phase)
{
        json_t *s = status_of(d, uid);
        bool r = s && !strcmp(json_string_value(json_object_get(s, "phase")), phase);
        json_decref(s);
        return r;
}

static bool known(struct ferry_daemon *d, const char *uid)
{
        json_t *s = status_of(d, uid);
        json_decref(s);
        return s != NULL;
}

/* In the [] listing: a deleted pod leaves it once the backend confirmed
 * (its final status stays readable by uid for a while). */
static bool listed(struct ferry_daemon *d, const char *uid)
{
        struct ferry_buf out = FERRY_BUF_INIT;
        ferry_error_t err = {{0}};
        assert_int_equal(ferry_daemon_status(d, "[]", 2, NULL, &out, &err), 0);
        bool r = strstr(out.data, uid) != NULL;
        ferry_buf_free(&out);
        return r;
}

/* The fake backend's free pod slots (10000 minus its live jobs). */
static long fake_free_slots(struct ferry_daemon *d)
{
        struct ferry_buf ping = FERRY_BUF_INIT;
        ferry_error_t err = {{0}};
        assert_int_equal(ferry_daemon_ping(d, &ping, &err), 0);
        const char *at = strstr(ping.data, "\"pods\":\"");
        long n = at ? strtol(at + 8, NULL, 10) : -1;
        ferry_buf_free(&ping);
        return n;
}

static void pause_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* Wait until cond holds, checking every 10 ms, for at most timeout_s. */
#define WAIT_FOR(cond, timeout_s)                                                                  \
        do {                                                                                       \
                int64_t _end = ferry_monotonic_ns() + (int64_t)(timeout_s)*1000000000LL;           \
                while (!(cond) && ferry_monotonic_ns() < _end)                                     \
                        pause_ms(10);                                                              \
                if (!(cond))                                                                       \
                        fail_msg("timed out after %d s waiting for: %s", (int)(timeout_s), #cond); \
        } while (0)

static uint64_t backend_calls(struct ferry_daemon *d, const char *op)
{
        struct ferry_buf m = FERRY_BUF_INIT;
        ferry_daemon_metrics(d, &m);
        char *key = ferry_xasprintf("ferry_backend_calls_total{backend=\"fake\",op=\"%s\"} ", op);
        const char *at = strstr(m.data, key);
        uint64_t n = at ? strtoull(at + strlen(key), NULL, 10) : UINT64_MAX;
        free(key);
        ferry_buf_free(&m);
        return n;
}

/* A transient submit failure is accepted, says why the pod waits, and the
 * poller resubmits it after the backoff. */
static void test_transient_submit_backoff(void **state)
{
        const char *uid = "11111111-0000-4000-8000-000000000001";
        struct ferry_daemon *d = start("fake", NULL, NULL, 0);
        char jid[FERRY_JID_MAX] = "x";
        ferry_error_t err = {{0}};
        char *b = pod_body(uid, "\"fake.ferry.io/fail\": \"transient\"", NULL);
        assert_int_equal(create(d, b, jid, &err), 0);
        assert_string_equal(jid, ""); /* accepted, not yet at the backend */
        json_t *s = status_of(d, uid);
        assert_non_null(s);
        assert_string_equal(json_string_value(json_object_get(s, "reason")), "BackendUnavailable");
        assert_non_null(strstr(json_string_value(json_object_get(s, "message")), "transient"));
        json_decref(s);
        /* resubmitted after the backoff; the fake pod then ends at once */
        WAIT_FOR(phase_is(d, uid, "Succeeded"), 20);
        s = status_of(d, uid);
        assert_string_equal(json_string_value(json_object_get(s, "JID")), "fake-1");
        json_decref(s);
        assert_int_equal(backend_calls(d, "submit"), 2);
        free(b);
        ferry_daemon_free(d);
}

struct creator {
        struct ferry_daemon *d;
        const char *body;
        int r;
        char jid[FERRY_JID_MAX];
        ferry_error_t err;
};

static void *create_thread(void *arg)
{
        struct creator *c = arg;
        c->r = create(c->d, c->body, c->jid, &c->err);
        return NULL;
}

/* Eight clients create the same uid at once: one submit, one answer for all. */
static void test_same_uid_concurrent(void **state)
{
        const char *uid = "11111111-0000-4000-8000-000000000002";
        struct ferry_daemon *d = start("fake", NULL, NULL, 0);
        char *b = pod_body(uid, "\"fake.ferry.io/submit-delay-ms\": \"200\"", NULL);
        struct creator c[8];
        pthread_t th[8];
        for (size_t i = 0; i < 8; i++) {
                c[i] = (struct creator){.d = d, .body = b};
                assert_int_equal(pthread_create(&th[i], NULL, create_thread, &c[i]), 0);
        }
        for (size_t i = 0; i < 8; i++) {
                pthread_join(th[i], NULL);
                if (c[i].r < 0)
                        print_error("create %zu: %s\n", i, c[i].err.text);
                assert_int_equal(c[i].r, 0);
                assert_string_equal(c[i].jid, "fake-1");
        }
        assert_int_equal(backend_calls(d, "submit"), 1);
        free(b);
        ferry_daemon_free(d);
}

/* A delete that lands while the backend is still submitting the pod: the
 * create answers, the job is then killed and the pod forgotten. */
static void test_delete_during_submit(void **state)
{
        const char *uid = "11111111-0000-4000-8000-000000000003";
        struct ferry_backend_option o[] = {{"duration_ms", "600000"}};
        struct ferry_daemon *d = start("fake", NULL, o, 1);
        char *b = pod_body(uid, "\"fake.ferry.io/submit-delay-ms\": \"300\"", NULL);
        struct creator c = {.d = d, .body = b};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, create_thread, &c), 0);
        WAIT_FOR(known(d, uid), 10); /* stored; the backend is still busy with it */
        ferry_error_t err = {{0}};
        char *del = ferry_xasprintf("{\"metadata\": {\"uid\": \"%s\", \"namespace\": \"t\"}}", uid);
        assert_int_equal(ferry_daemon_delete(d, del, strlen(del), NULL, &err), 0);
        pthread_join(th, NULL);
        assert_int_equal(c.r, 0);
        WAIT_FOR(fake_free_slots(d) == 10000, 10); /* no job left at the backend */
        assert_false(listed(d, uid));
        /* Either the delete came first and the submit never reached the
         * backend, or the job it started was killed: no job is left. */
        uint64_t submits = backend_calls(d, "submit");
        assert_true(submits <= 1);
        if (submits == 1)
                assert_true(backend_calls(d, "kill") >= 1);
        /* the delete ends (-EBUSY "being deleted" until then), and the uid
         * cannot come back */
        char jid[FERRY_JID_MAX];
        WAIT_FOR(create(d, b, jid, &err) == -EEXIST, 10);
        free(del);
        free(b);
        ferry_daemon_free(d);
}

static bool read_again(const char *path, char **text, size_t *len)
{
        free(*text);
        *text = NULL;
        return ferry_read_file(path, 64, text, len) == 0;
}

/* A restart keeps each pod's terminationGracePeriodSeconds: the delete after
 * the restart hands the shim the pod's 1 s, not a default. */
static void test_restart_keeps_grace(void **state)
{
        const char *uid = "11111111-0000-4000-8000-000000000004";
        if (!getenv("FERRY_SHIM")) {
                print_message("FERRY_SHIM not set: skipped\n");
                skip();
        }
        struct ferry_backend_option o[] = {{"host_namespaces", "*"}};
        struct ferry_daemon *d = start("local", "host", o, 1);
        char *b = pod_body(uid, "",
                           "{\"terminationGracePeriodSeconds\": 1, \"containers\": [{\"name\": "
                           "\"main\", \"image\": \"busybox\", \"command\": [\"sh\", \"-c\", "
                           "\"trap '' TERM; while :; do sleep 0.05; done\"]}]}");
        char jid[FERRY_JID_MAX];
        ferry_error_t err = {{0}};
        assert_int_equal(create(d, b, jid, &err), 0);
        WAIT_FOR(phase_is(d, uid, "Running"), 30);
        ferry_daemon_free(d); /* the pod keeps running under its shim */

        d = start("local", "host", o, 1);
        assert_true(phase_is(d, uid, "Running"));
        char *del = ferry_xasprintf("{\"metadata\": {\"uid\": \"%s\", \"namespace\": \"t\"}}", uid);
        assert_int_equal(ferry_daemon_delete(d, del, strlen(del), NULL, &err), 0);
        /* the backend writes the grace it was given where the shim reads it */
        char *path = ferry_xasprintf("%s/local/pods/%s/deleted", dir, uid);
        char *text = NULL;
        size_t len = 0;
        WAIT_FOR(read_again(path, &text, &len), 30); /* TERM is ignored: 1 s */
        assert_non_null(text);
        assert_int_equal(strtol(text, NULL, 10), 1);
        char *wd = ferry_xasprintf("%s/local/pods/%s", dir, uid);
        WAIT_FOR(access(wd, F_OK) != 0, 30); /* killed and cleaned up */
        free(wd);
        free(text);
        free(path);
        free(del);
        free(b);
        ferry_daemon_free(d);
}

/* kubectl delete --grace-period=300, then again with a longer one (nothing
 * changes), then with 1: the second, shorter period reaches the shim, which
 * kills the TERM-ignoring container at once instead of in five minutes. */
static void test_second_delete_shorter_grace(void **state)
{
        const char *uid = "11111111-0000-4000-8000-000000000006";
        if (!getenv("FERRY_SHIM")) {
                print_message("FERRY_SHIM not set: skipped\n");
                skip();
        }
        struct ferry_backend_option o[] = {{"host_namespaces", "*"}};
        struct ferry_daemon *d = start("local", "host", o, 1);
        char *b = pod_body(uid, "",
                           "{\"terminationGracePeriodSeconds\": 600, \"containers\": [{\"name\": "
                           "\"main\", \"image\": \"busybox\", \"command\": [\"sh\", \"-c\", "
                           "\"trap '' TERM; while :; do sleep 0.05; done\"]}]}");
        char jid[FERRY_JID_MAX];
        ferry_error_t err = {{0}};
        assert_int_equal(create(d, b, jid, &err), 0);
        WAIT_FOR(phase_is(d, uid, "Running"), 30);

        char *path = ferry_xasprintf("%s/local/pods/%s/deleted", dir, uid);
        char *wd = ferry_xasprintf("%s/local/pods/%s", dir, uid);
        char *text = NULL;
        size_t len = 0;
        const long graces[] = {300, 400, 1};
        const long want[] = {300, 300, 1};
        for (int i = 0; i < 3; i++) {
                char *del = ferry_xasprintf("{\"metadata\": {\"uid\": \"%s\", \"namespace\": "
                                            "\"t\", \"deletionGracePeriodSeconds\": %ld}}",
                                            uid, graces[i]);
                assert_int_equal(ferry_daemon_delete(d, del, strlen(del), NULL, &err), 0);
                free(del);
                ferry_daemon_poll_now(d); /* the kill pass has seen it */
                assert_true(read_again(path, &text, &len));
                assert_int_equal(strtol(text, NULL, 10), want[i]);
                if (i < 2)
                        assert_int_equal(access(wd, F_OK), 0); /* still stopping */
        }
        WAIT_FOR(access(wd, F_OK) != 0, 30); /* killed and cleaned up */
        free(wd);
        free(text);
        free(path);
        free(b);
        ferry_daemon_free(d);
}

static const char *reason_of(json_t *s)
{
        const char *r = json_string_value(json_object_get(s, "reason"));
        return r ? r : "";
}

static char *gpu_pod(const char *uid, const char *duration_ms, int gpus)
{
        char ann[96], spec[320];
        snprintf(ann, sizeof(ann), "\"fake.ferry.io/duration-ms\": \"%s\"", duration_ms);
        snprintf(spec, sizeof(spec),
                 "{\"containers\": [{\"name\": \"main\", \"image\": \"busybox\", \"resources\": "
                 "{\"limits\": {\"nvidia.com/gpu\": \"%d\"}}}]}",
                 gpus);
        return pod_body(uid, ann, spec);
}

/* GPUs a pod holds while it runs (the fake backend's pool, gpu/alloc.c): on 2
 * GPUs, two one-GPU pods run, the next two wait (Pending, GPUUnavailable) and
 * start in the order they came as GPUs free up; a pod asking 3 is refused. */
static void test_gpu_wait(void **state)
{
        const char *a = "22222222-0000-4000-8000-00000000000a",
                   *b = "22222222-0000-4000-8000-00000000000b",
                   *c = "22222222-0000-4000-8000-00000000000c",
                   *e = "22222222-0000-4000-8000-00000000000e",
                   *x = "22222222-0000-4000-8000-0000000000ff";
        struct ferry_backend_option o[] = {{"gpus", "2"}};
        struct ferry_daemon *d = start("fake", NULL, o, 1);
        char jid[FERRY_JID_MAX];
        ferry_error_t err = {{0}};
        char *pa = gpu_pod(a, "300", 1), *pb = gpu_pod(b, "60000", 1), *pc = gpu_pod(c, "60000", 1),
             *pe = gpu_pod(e, "60000", 1), *px = gpu_pod(x, "1000", 3);

        assert_int_equal(create(d, pa, jid, &err), 0);
        assert_true(jid[0]);
        assert_int_equal(create(d, pb, jid, &err), 0);
        assert_true(jid[0]);
        assert_int_equal(create(d, pc, jid, &err), 0); /* accepted, waits */
        assert_string_equal(jid, "");
        assert_int_equal(create(d, pe, jid, &err), 0);
        assert_string_equal(jid, "");
        json_t *s = status_of(d, c);
        assert_string_equal(json_string_value(json_object_get(s, "phase")), "Pending");
        assert_string_equal(reason_of(s), "GPUUnavailable");
        assert_non_null(strstr(json_string_value(json_object_get(s, "message")),
                               "1 nvidia.com/gpu: 2 of 2 are held by other pods"));
        json_decref(s);

        /* more than the host has: refused at create, naming the resource */
        assert_int_equal(create(d, px, jid, &err), -EOPNOTSUPP);
        assert_non_null(strstr(err.text, "3 nvidia.com/gpu and this host has 2"));

        /* a's end frees one GPU: c (older) runs, e still waits */
        WAIT_FOR(phase_is(d, c, "Running"), 20);
        s = status_of(d, e);
        assert_string_equal(json_string_value(json_object_get(s, "phase")), "Pending");
        assert_string_equal(reason_of(s), "GPUUnavailable");
        json_decref(s);
        assert_true(phase_is(d, b, "Running"));

        /* deleting b hands its GPU to e */
        char *del = ferry_xasprintf("{\"metadata\": {\"uid\": \"%s\", \"namespace\": \"t\"}}", b);
        assert_int_equal(ferry_daemon_delete(d, del, strlen(del), NULL, &err), 0);
        WAIT_FOR(phase_is(d, e, "Running"), 20);
        ferry_daemon_free(d);
        d = NULL;

        /* each pod's record names the GPUs it held (the usage ledger builds on it) */
        struct ferry_store *st;
        _cleanup_free_ char *db = ferry_xasprintf("%s/ferry.db", dir);
        assert_int_equal(ferry_store_open(db, &st, &err), 0);
        assert_int_equal(ferry_store_count_events(st, a, "devices"), 1);
        assert_int_equal(ferry_store_count_events(st, c, "devices"), 1);
        assert_int_equal(ferry_store_count_events(st, e, "devices"), 1);
        assert_int_equal(ferry_store_count_events(st, x, "devices"), 0);
        ferry_store_close(st);
        free(del);
        free(pa);
        free(pb);
        free(pc);
        free(pe);
        free(px);
}

/* ---- a following log stream and the server's stop ---- */

struct follower {
        char url[PATH_MAX + 16];
        const char *uid;
        struct http_answer a;
        int r;
};

static void *follow_thread(void *arg)
{
        struct follower *f = arg;
        char *q = ferry_xasprintf("{\"Namespace\": \"t\", \"PodUID\": \"%s\", \"ContainerName\": "
                                  "\"main\", \"Opts\": {\"Follow\": true}}",
                                  f->uid);
        f->r = http_call(f->url, "/getLogs", q, strlen(q), NULL, &f->a);
        free(q);
        return NULL;
}

/* Is path open anywhere in this process? */
static bool fd_open_on(const char *path)
{
        DIR *fds = opendir("/proc/self/fd");
        struct dirent *de;
        bool found = false;
        while (fds && (de = readdir(fds)) && !found) {
                char l[PATH_MAX + 32], target[PATH_MAX];
                snprintf(l, sizeof(l), "/proc/self/fd/%s", de->d_name);
                ssize_t n = readlink(l, target, sizeof(target) - 1);
                if (n > 0) {
                        target[n] = '\0';
                        found = !strcmp(target, path);
                }
        }
        if (fds)
                closedir(fds);
        return found;
}

/* Stopping the server ends every following log stream before it returns:
 * nothing of a stream (its thread, its open log file) outlives the server,
 * so the daemon can be freed right after. */
static void test_log_streams_end_with_server(void **state)
{
        const char *uid = "11111111-0000-4000-8000-000000000005";
        struct ferry_backend_option o[] = {{"duration_ms", "600000"}, {"logs", "true"}};
        struct ferry_daemon *d = start("fake", NULL, o, 2);
        char *b = pod_body(uid, "", NULL);
        char jid[FERRY_JID_MAX];
        ferry_error_t err = {{0}};
        assert_int_equal(create(d, b, jid, &err), 0);
        WAIT_FOR(phase_is(d, uid, "Running"), 10);

        struct follower f = {.uid = uid};
        snprintf(f.url, sizeof(f.url), "unix://%s/api.sock", dir);
        struct ferry_listener_config lc = {.url = f.url, .role = FERRY_ROLE_API};
        struct ferry_server_options so = {.socket_mode = 0600};
        struct ferry_server *srv = NULL;
        int r = ferry_server_start(d, &lc, 1, &so, &srv, &err);
        if (r < 0)
                print_error("server: %s\n", err.text);
        assert_int_equal(r, 0);

        char log[PATH_MAX];
        snprintf(log, sizeof(log), "%.3000s/fake/%s.main.log", dir, uid);
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, follow_thread, &f), 0);
        WAIT_FOR(fd_open_on(log), 10); /* the stream is following the file */
        ferry_server_stop(srv);
        ferry_daemon_free(d); /* as ferryd does: a stream still running would use it */
        assert_false(fd_open_on(log));
        pthread_join(th, NULL);
        http_answer_free(&f.a);
        free(b);
}

/* ---- the state database's disk fills up ---- */

static char *del_body(const char *uid)
{
        return ferry_xasprintf("{\"metadata\": {\"uid\": \"%s\", \"namespace\": \"t\"}}", uid);
}

/* Creates are refused with a reason (never acknowledged), a delete is not
 * acknowledged either but is kept and retried, /healthz says why; once there
 * is room again everything acknowledged is there after a restart, and the
 * delete that could not be stored at first was carried out. */
static void test_store_disk_full(void **state)
{
        if (geteuid() != 0) {
                print_message("needs root (a small tmpfs): skipped\n");
                skip();
        }
        char small[PATH_MAX];
        snprintf(small, sizeof(small), "%.4000s/small", dir);
        assert_int_equal(ferry_mkdir_p(small, 0700), 0);
        if (mount("ferry-test", small, "tmpfs", 0, "size=1m") < 0) {
                print_message("cannot mount a tmpfs (%m): skipped\n");
                skip();
        }
        char saved[PATH_MAX];
        snprintf(saved, sizeof(saved), "%s", dir);
        snprintf(dir, sizeof(dir), "%s", small);
        struct ferry_backend_option o[] = {{"duration_ms", "600000"}};
        struct ferry_daemon *d = start("fake", NULL, o, 1);
        ferry_error_t err = {{0}};
        char jid[FERRY_JID_MAX];
        assert_int_equal(ferry_daemon_health(d, &err), 0);

        /* two pods stored while there is room */
        const char *keep = "22222222-0000-4000-8000-000000000001";
        const char *gone = "22222222-0000-4000-8000-000000000002";
        char *b = pod_body(keep, "", NULL);
        assert_int_equal(create(d, b, jid, &err), 0);
        free(b);
        b = pod_body(gone, "", NULL);
        assert_int_equal(create(d, b, jid, &err), 0);
        free(b);

        /* fill the disk, then create pods with large bodies until one is refused */
        char filler[PATH_MAX + 16];
        snprintf(filler, sizeof(filler), "%s/filler", small);
        FILE *fp = fopen(filler, "w");
        assert_non_null(fp);
        char block[4096];
        memset(block, 'x', sizeof(block));
        while (fwrite(block, 1, sizeof(block), fp) == sizeof(block) && fflush(fp) == 0)
                ;
        fclose(fp);
        char pad[16384];
        memset(pad, 'a', sizeof(pad) - 1);
        pad[sizeof(pad) - 1] = '\0';
        int r = 0;
        char refused[40] = "";
        for (int i = 0; i < 64 && r == 0; i++) {
                char uid[40], ann[sizeof(pad) + 32];
                snprintf(uid, sizeof(uid), "22222222-0000-4000-8000-1%011d", i);
                snprintf(ann, sizeof(ann), "\"pad\": \"%s\"", pad);
                b = pod_body(uid, ann, NULL);
                r = create(d, b, jid, &err);
                free(b);
                memcpy(refused, uid, sizeof(uid));
        }
        assert_int_equal(r, -EAGAIN);
        print_message("refused: %s\n", err.text);
        assert_non_null(strstr(err.text, "state database"));
        assert_false(known(d, refused)); /* not acknowledged, not in memory */
        ferry_error_t herr = {{0}};
        assert_int_equal(ferry_daemon_health(d, &herr), -EIO);
        assert_non_null(strstr(herr.text, "cannot commit"));
        char *del = del_body(gone);
        assert_int_equal(ferry_daemon_delete(d, del, strlen(del), NULL, &err), -EAGAIN);

        /* room again: the retried commits go through and health comes back */
        assert_int_equal(unlink(filler), 0);
        WAIT_FOR(ferry_daemon_health(d, &herr) == 0, 10);
        assert_int_equal(ferry_daemon_delete(d, del, strlen(del), NULL, &err), 0);
        WAIT_FOR(fake_free_slots(d) == 9999, 10); /* only keep's job is left */
        b = pod_body(gone, "", NULL);
        WAIT_FOR(create(d, b, jid, &err) == -EEXIST, 10); /* deleted, not being deleted */
        free(b);
        ferry_daemon_free(d);

        /* after a restart */
        d = start("fake", NULL, o, 1);
        assert_true(known(d, keep));
        assert_false(known(d, gone));
        assert_false(known(d, refused));
        ferry_daemon_free(d);
        free(del);
        snprintf(dir, sizeof(dir), "%s", saved);
        assert_int_equal(umount(small), 0);
}

int main(void)
{
        ferry_log_set_level(FERRY_LOG_ERR);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_transient_submit_backoff, setup, teardown),
            cmocka_unit_test_setup_teardown(test_same_uid_concurrent, setup, teardown),
            cmocka_unit_test_setup_teardown(test_delete_during_submit, setup, teardown),
            cmocka_unit_test_setup_teardown(test_restart_keeps_grace, setup, teardown),
            cmocka_unit_test_setup_teardown(test_second_delete_shorter_grace, setup, teardown),
            cmocka_unit_test_setup_teardown(test_gpu_wait, setup, teardown),
            cmocka_unit_test_setup_teardown(test_log_streams_end_with_server, setup, teardown),
            cmocka_unit_test_setup_teardown(test_store_disk_full, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
