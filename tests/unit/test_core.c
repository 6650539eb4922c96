/* SPDX-License-Identifier: MIT */
/* Unit tests for the core libraries: util, pod parsing, status, log files, store, auth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/error.h"
#include "common/hashmap.h"
#include "common/util.h"
#include "http/auth.h"
#include "logs/logfile.h"
#include "pod/ident.h"
#include "pod/pod.h"
#include "pod/status.h"
#include "store/store.h"

static void test_quantities(void **state)
{
        int64_t v;
        assert_int_equal(ferry_quantity_milli("500m", &v), 0);
        assert_int_equal(v, 500);
        assert_int_equal(ferry_quantity_milli("2", &v), 0);
        assert_int_equal(v, 2000);
        assert_int_equal(ferry_quantity_milli("0.5", &v), 0);
        assert_int_equal(v, 500);
        assert_int_equal(ferry_quantity_bytes("4Gi", &v), 0);
        assert_int_equal(v, 4LL << 30);
        assert_int_equal(ferry_quantity_bytes("128M", &v), 0);
        assert_int_equal(v, 128000000);
        assert_int_equal(ferry_quantity_bytes("1e3", &v), 0);
        assert_int_equal(v, 1000);
        assert_int_equal(ferry_quantity_bytes("12Qi", &v), -EINVAL);
        assert_int_equal(ferry_quantity_milli("-1", &v), -EINVAL);
        assert_int_equal(ferry_quantity_milli("", &v), -EINVAL);
}

static void test_base64_time_strings(void **state)
{
        unsigned char *out;
        size_t n;
        assert_true(ferry_base64_decode("czNjcjN0LXZhbHVl", 16, &out, &n) >= 0);
        assert_int_equal(n, 12);
        assert_memory_equal(out, "s3cr3t-value", 12);
        free(out);
        assert_int_equal(ferry_base64_decode("!!!", 3, &out, &n), -EINVAL);

        int64_t ns;
        char buf[FERRY_TIME_MAX];
        assert_int_equal(ferry_time_parse("2026-01-10T10:00:05Z", &ns), 0);
        assert_string_equal(ferry_time_format(ns, 0, buf), "2026-01-10T10:00:05Z");
        assert_int_equal(ferry_time_parse("2026-01-10T11:00:05.5+01:00", &ns), 0);
        assert_string_equal(ferry_time_format(ns, 3, buf), "2026-01-10T10:00:05.500Z");
        assert_int_equal(ferry_time_parse("yesterday", &ns), -EINVAL);

        assert_true(ferry_is_dns_label("abc-1"));
        assert_false(ferry_is_dns_label("-abc"));
        assert_false(ferry_is_dns_label("Abc"));
        assert_true(ferry_is_uuid("73796a83-a58a-575b-aff9-936cca195114"));
        assert_false(ferry_is_uuid("73796A83-a58a-575b-aff9-936cca195114"));
        char u[37];
        ferry_uuid_generate(u);
        assert_true(ferry_is_uuid(u));
        assert_true(ferry_secret_equal("0123456789abcdef", "0123456789abcdef"));
        assert_false(ferry_secret_equal("0123456789abcdef", "0123456789abcdeX"));
        assert_false(ferry_secret_equal("0123456789abcdef", "0123456789abcdef0"));
        assert_false(ferry_secret_equal("0123456789abcdef", "0123"));
        assert_false(ferry_secret_equal("0123456789abcdef", ""));
}

static const char *POD_A =
    "{\"pod\":{\"metadata\":{\"name\":\"hello\",\"namespace\":\"ns1\",\"uid\":\"9b2f0c8e-2d7e-4c55-"
    "9a53-0f4a8d1f7b11\","
    "\"annotations\":{\"a\":\"b\"}},\"spec\":{\"initContainers\":[{\"name\":\"init\",\"image\":"
    "\"x\"}],"
    "\"containers\":[{\"name\":\"main\",\"image\":\"py\",\"command\":[\"python3\",\"-c\"],\"args\":"
    "[\"print('hi')\"],"
    "\"env\":[{\"name\":\"FOO\",\"value\":\"bar\"},{\"name\":\"E\"}],"
    "\"resources\":{\"limits\":{\"cpu\":\"2\",\"memory\":\"4Gi\",\"nvidia.com/"
    "gpu\":\"1\",\"nvidia.com/mig-1g.10gb\":2}},"
    "\"volumeMounts\":[{\"name\":\"cfg\",\"mountPath\":\"/etc/app\",\"readOnly\":true}]}],"
    "\"volumes\":[{\"name\":\"cfg\",\"configMap\":{\"name\":\"app-config\",\"defaultMode\":420}}]}}"
    ","
    "\"configmaps\":[{\"metadata\":{\"name\":\"app-config\"},\"data\":{\"app.yaml\":\"x: "
    "1\\n\"},\"binaryData\":{\"b\":\"AAE=\"}}],"
    "\"secrets\":null,\"projectedvolumesmaps\":null,\"jobscriptURL\":\"\",\"extra\":{\"ignored\":"
    "true}}";

static void test_pod_parse_a(void **state)
{
        struct ferry_pod *p;
        ferry_error_t err = {{0}};
        assert_int_equal(ferry_pod_parse(POD_A, strlen(POD_A), FERRY_BODY_CREATE_A, NULL, &p, &err),
                         0);
        assert_string_equal(p->uid, "9b2f0c8e-2d7e-4c55-9a53-0f4a8d1f7b11");
        assert_string_equal(p->namespace, "ns1");
        assert_int_equal(p->n_init, 1);
        assert_int_equal(p->n_containers, 1);
        const struct ferry_container *c = &p->containers[0];
        assert_int_equal(c->n_command, 2);
        assert_string_equal(c->args[0], "print('hi')");
        assert_null(c->args[1]);
        assert_string_equal(c->env[1].value, "");
        assert_int_equal(c->limits.cpu_milli, 2000);
        assert_int_equal(c->limits.memory_bytes, 4LL << 30);
        assert_int_equal(c->limits.gpus, 1);
        assert_int_equal(c->limits.n_extended, 1);
        assert_int_equal(c->limits.extended[0].count, 2);
        assert_int_equal(c->requests.cpu_milli, -1);
        assert_true(c->mounts[0].read_only);
        const struct ferry_object *cm = ferry_pod_configmap(p, "app-config");
        assert_non_null(cm);
        assert_int_equal(cm->n, 2);
        assert_int_equal(cm->items[1].len, 2); /* binaryData decoded */
        assert_string_equal(ferry_pod_annotation(p, "a"), "b");
        assert_int_equal(ferry_pod_volume(p, "cfg")->default_mode, 0644);
        assert_int_equal(p->grace_seconds, 30);
        ferry_pod_free(p);
}

static void expect_error(const char *body, enum ferry_body_kind kind, int want, const char *needle)
{
        struct ferry_pod *p = NULL;
        ferry_error_t err = {{0}};
        int r = ferry_pod_parse(body, strlen(body), kind, NULL, &p, &err);
        if (r != want || !strstr(err.text, needle))
                fail_msg("parse of %s: got %d \"%s\", want %d with \"%s\"", body, r, err.text, want,
                         needle);
        assert_null(p);
}

static void test_pod_parse_errors(void **state)
{
        expect_error("{\"pod\":", FERRY_BODY_CREATE_A, -EINVAL, "line 1");
        expect_error("[1,2]", FERRY_BODY_CREATE_A, -EINVAL, "PodCreateRequests");
        expect_error("{\"pod\":{\"metadata\":{\"name\":\"x\"},\"spec\":{\"containers\":[{\"name\":"
                     "\"m\"}]}}}",
                     FERRY_BODY_CREATE_A, -EINVAL, "uid");
        expect_error("{\"pod\":{\"metadata\":{\"name\":\"x\",\"uid\":\"../"
                     "etc\"},\"spec\":{\"containers\":[{\"name\":\"m\"}]}}}",
                     FERRY_BODY_CREATE_A, -EINVAL, "uid");
        expect_error(
            "{\"pod\":{\"metadata\":{\"name\":\"x\",\"uid\":\"u1\"},\"spec\":{\"containers\":[]}}}",
            FERRY_BODY_CREATE_A, -EINVAL, "empty");
        expect_error("{\"pod\":{\"metadata\":{\"name\":\"x\",\"uid\":\"u1\"},\"spec\":{"
                     "\"containers\":[{\"name\":\"Bad Name\"}]}}}",
                     FERRY_BODY_CREATE_A, -EINVAL, "DNS label");
        expect_error(
            "{\"pod\":{\"metadata\":{\"name\":\"x\",\"uid\":\"u1\"},\"spec\":{\"containers\":[{"
            "\"name\":\"m\",\"volumeMounts\":[{\"name\":\"v\",\"mountPath\":\"/a/../"
            "b\"}]}],\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}}]}}}",
            FERRY_BODY_CREATE_A, -EINVAL, "mountPath");
        expect_error(
            "{\"pod\":{\"metadata\":{\"name\":\"x\",\"uid\":\"u1\"},\"spec\":{\"containers\":[{"
            "\"name\":\"m\",\"volumeMounts\":[{\"name\":\"nope\",\"mountPath\":\"/a\"}]}]}}}",
            FERRY_BODY_CREATE_A, -EINVAL, "names no volume");
        expect_error(
            "{\"pod\":{\"metadata\":{\"name\":\"x\",\"uid\":\"u1\"},\"spec\":{\"containers\":[{"
            "\"name\":\"m\",\"resources\":{\"limits\":{\"cpu\":\"lots\"}}}]}}}",
            FERRY_BODY_CREATE_A, -EINVAL, "quantity");
        expect_error("{\"pod\":{\"metadata\":{\"name\":\"x\",\"uid\":\"u1\"},\"spec\":{"
                     "\"containers\":[{\"name\":\"m\"},{\"name\":\"m\"}]}}}",
                     FERRY_BODY_CREATE_A, -EINVAL, "two containers");
        expect_error(
            "{\"pod\":{\"metadata\":{\"name\":\"x\",\"uid\":\"u1\"},\"spec\":{\"containers\":[{"
            "\"name\":\"m\"}]}},"
            "\"secrets\":[{\"metadata\":{\"name\":\"s\"},\"data\":{\"k\":\"not base64!\"}}]}",
            FERRY_BODY_CREATE_A, -EINVAL, "base64");
        expect_error("{\"pod\":{\"metadata\":{\"name\":\"x\",\"uid\":\"u1\"},\"spec\":{"
                     "\"containers\":[{\"name\":\"m\"}]}},"
                     "\"projectedvolumesmaps\":[{\"metadata\":{\"name\":\"v\"},\"data\":{\"../"
                     "evil\":\"x\"}}]}",
                     FERRY_BODY_CREATE_A, -EINVAL, "not a valid file name");
        { /* a flattened projected volume may key its data by a nested item path */
                const char *ok = "{\"pod\":{\"metadata\":{\"name\":\"x\",\"uid\":\"u1\"},\"spec\":{"
                                 "\"containers\":[{\"name\":\"m\"}]}},"
                                 "\"projectedvolumesmaps\":[{\"metadata\":{\"name\":\"v\"},"
                                 "\"data\":{\"conf/a.conf\":\"x\"}}]}";
                struct ferry_pod *p = NULL;
                ferry_error_t err = {{0}};
                assert_int_equal(
                    ferry_pod_parse(ok, strlen(ok), FERRY_BODY_CREATE_A, NULL, &p, &err), 0);
                ferry_pod_free(p);
        }
        /* probes and hooks (pod/probe.h) */
#define CT(x)                                                                                      \
        "{\"pod\":{\"metadata\":{\"name\":\"x\",\"uid\":\"u1\"},\"spec\":{\"containers\":[{"       \
        "\"name\":\"m\"," x "}]}}}"
        expect_error(CT("\"livenessProbe\":{\"httpGet\":{\"port\":\"web\"}}"), FERRY_BODY_CREATE_A,
                     -EINVAL, "names none of the container's ports");
        expect_error(CT("\"readinessProbe\":{\"grpc\":{\"port\":9}}"), FERRY_BODY_CREATE_A, -EINVAL,
                     "grpc probes are not supported");
        expect_error(CT("\"startupProbe\":{\"exec\":{\"command\":[\"true\"]},\"tcpSocket\":{"
                        "\"port\":1}}"),
                     FERRY_BODY_CREATE_A, -EINVAL, "exactly one of");
        expect_error(CT("\"livenessProbe\":{\"exec\":{\"command\":[]}}"), FERRY_BODY_CREATE_A,
                     -EINVAL, "non-empty array");
        expect_error(CT("\"livenessProbe\":{\"tcpSocket\":{\"port\":70000}}"), FERRY_BODY_CREATE_A,
                     -EINVAL, "out of range");
        expect_error(
            CT("\"livenessProbe\":{\"exec\":{\"command\":[\"x\"]},\"successThreshold\":2}"),
            FERRY_BODY_CREATE_A, -EINVAL, "successThreshold must be 1");
        expect_error(CT("\"readinessProbe\":{\"exec\":{\"command\":[\"x\"]},\"periodSeconds\":-1}"),
                     FERRY_BODY_CREATE_A, -EINVAL, "periodSeconds");
        expect_error(CT("\"lifecycle\":{\"preStop\":{\"httpGet\":{\"port\":80,\"path\":\"x y\"}}}"),
                     FERRY_BODY_CREATE_A, -EINVAL, "path must start with /");
        expect_error(CT("\"readinessProbe\":{\"sleep\":{\"seconds\":1}}"), FERRY_BODY_CREATE_A,
                     -EINVAL, "lifecycle hooks only");
        expect_error("{\"pod\":{\"metadata\":{\"name\":\"x\",\"uid\":\"u1\"},\"spec\":{"
                     "\"initContainers\":[{\"name\":\"i\",\"livenessProbe\":{\"exec\":{"
                     "\"command\":[\"x\"]}}}],\"containers\":[{\"name\":\"m\"}]}}}",
                     FERRY_BODY_CREATE_A, -EINVAL, "init container may not have probes");
#undef CT
        char deep[300] = "";
        for (int i = 0; i < 100; i++)
                strcat(deep, "[");
        expect_error(deep, FERRY_BODY_CREATE_A, -E2BIG, "nesting");
        expect_error("[{\"pod\":{}},{\"pod\":{}}]", FERRY_BODY_CREATE_B, -EINVAL,
                     "one RetrievedPodData");
}

static void test_pod_parse_b(void **state)
{
        const char *b = "[{\"pod\":{\"metadata\":{\"name\":\"x\",\"uid\":\"u1\"},\"spec\":{"
                        "\"containers\":[{\"name\":\"m\"},{\"name\":\"n\"}]}},"
                        "\"container\":[{\"name\":\"m\",\"configMaps\":[{\"metadata\":{\"name\":"
                        "\"c\"},\"data\":{\"k\":\"v\"}}],\"secrets\":null},"
                        "{\"name\":\"n\",\"configMaps\":[{\"metadata\":{\"name\":\"c\"},\"data\":{"
                        "\"k\":\"v\"}}]}],\"jobConfig\":{}}]";
        struct ferry_pod *p;
        ferry_error_t err = {{0}};
        assert_int_equal(ferry_pod_parse(b, strlen(b), FERRY_BODY_CREATE_B, NULL, &p, &err), 0);
        assert_int_equal(p->n_configmaps, 1); /* deduplicated */
        assert_string_equal(p->namespace, "default");
        ferry_pod_free(p);
}

static void test_status(void **state)
{
        const char *in[] = {"init"}, *cs[] = {"a", "b"};
        struct ferry_pod_status st, back;
        ferry_pod_status_init(&st, in, 1, cs, 2);
        assert_int_equal(ferry_pod_status_derive_phase(&st), FERRY_PHASE_PENDING);
        st.c[0].state = FERRY_C_TERMINATED;
        st.c[0].exit_code = 0;
        st.c[1].state = FERRY_C_RUNNING;
        st.c[1].started_ns = 1;
        assert_int_equal(ferry_pod_status_derive_phase(&st), FERRY_PHASE_RUNNING);
        st.c[1].state = FERRY_C_TERMINATED;
        st.c[2].state = FERRY_C_TERMINATED;
        st.c[2].exit_code = 3;
        assert_int_equal(ferry_pod_status_derive_phase(&st), FERRY_PHASE_FAILED);
        st.c[2].exit_code = 0;
        assert_int_equal(ferry_pod_status_derive_phase(&st), FERRY_PHASE_SUCCEEDED);
        st.c[0].exit_code = 1; /* a failed init container fails the pod */
        assert_int_equal(ferry_pod_status_derive_phase(&st), FERRY_PHASE_FAILED);
        ferry_cstatus_set_message(&st.c[1], "with \"quotes\"\n");
        st.phase = FERRY_PHASE_FAILED;

        struct ferry_buf b = FERRY_BUF_INIT;
        ferry_pod_status_serialize(&b, &st);
        assert_int_equal(ferry_pod_status_deserialize(b.data, &back), 0);
        assert_true(ferry_pod_status_equal(&st, &back));
        { /* assign over an older status of the same layout, and over a different layout */
                struct ferry_pod_status old, other;
                ferry_pod_status_init(&old, in, 1, cs, 2);
                ferry_pod_status_assign(&old, &st);
                assert_true(ferry_pod_status_equal(&old, &st));
                ferry_pod_status_init(&other, NULL, 0, cs, 1);
                ferry_pod_status_assign(&other, &st);
                assert_true(ferry_pod_status_equal(&other, &st));
                ferry_pod_status_clear(&old);
                ferry_pod_status_clear(&other);
        }
        { /* the packed form of finished pods round-trips */
                unsigned char *packed = ferry_pod_status_pack(&st);
                struct ferry_pod_status un = st;
                un.c = NULL;
                assert_int_equal(ferry_pod_status_unpack(packed, &un), 0);
                for (size_t i = 0; i < 3; i++) {
                        assert_string_equal(un.c[i].name, st.c[i].name);
                        assert_string_equal(un.c[i].reason, st.c[i].reason);
                        assert_int_equal(un.c[i].exit_code, st.c[i].exit_code);
                        assert_int_equal(un.c[i].started_ns, st.c[i].started_ns);
                        assert_int_equal(un.c[i].state, st.c[i].state);
                        if (st.c[i].message)
                                assert_string_equal(un.c[i].message, st.c[i].message);
                        else
                                assert_null(un.c[i].message);
                        free(un.c[i].message);
                }
                free(un.c);
                un.n_containers = 5; /* wrong layout is refused */
                un.c = NULL;
                assert_int_equal(ferry_pod_status_unpack(packed, &un), -EINVAL);
                free(packed);
        }
        ferry_buf_reset(&b);
        ferry_pod_status_to_json(&b, "p", "u", "ns", "j", &st);
        assert_non_null(strstr(b.data, "\"initContainers\":[{\"name\":\"init\""));
        assert_non_null(strstr(b.data, "\"phase\":\"Failed\""));
        assert_non_null(strstr(b.data, "\"startedAt\":\"1970-01-01T00:00:00Z\""));
        ferry_pod_status_clear(&back);
        assert_int_equal(ferry_pod_status_deserialize("{\"p\":99,\"i\":0,\"c\":[]}", &back),
                         -EINVAL);
        ferry_buf_free(&b);
        ferry_pod_status_clear(&st);
        ferry_pod_status_clear(&back);
}

struct collect {
        struct ferry_buf b;
};

static int emit(void *ctx, const char *d, size_t n)
{
        ferry_buf_add(&((struct collect *)ctx)->b, d, n);
        return 0;
}

static char *stream(const char *path, struct ferry_log_opts o)
{
        struct collect c = {FERRY_BUF_INIT};
        assert_int_equal(ferry_logfile_stream(path, &o, emit, NULL, &c), 0);
        return ferry_buf_steal(&c.b);
}

static void test_logfile(void **state)
{
        char path[] = "/tmp/ferry-log-XXXXXX";
        int fd = mkstemp(path);
        int64_t t0 = 1700000000LL * 1000000000LL;
        for (int i = 0; i < 5; i++) {
                char line[32];
                int n = snprintf(line, sizeof(line), "line %d", i);
                ferry_logfile_write(fd, t0 + i * 1000000000LL, i == 2, line, (size_t)n, false);
        }
        ferry_logfile_write(fd, t0 + 5000000000LL, false, "part", 4, true);
        ferry_logfile_write(fd, t0 + 5000000000LL, false, "ial", 3, false);
        close(fd);
        struct ferry_log_opts all = {.tail = -1, .limit_bytes = -1};
        char *s = stream(path, all);
        assert_string_equal(s, "line 0\nline 1\nline 2\nline 3\nline 4\npartial\n");
        free(s);
        struct ferry_log_opts tail = all;
        tail.tail = 2;
        s = stream(path, tail);
        assert_string_equal(s, "line 4\npartial\n");
        free(s);
        struct ferry_log_opts bytes = all;
        bytes.limit_bytes = 10;
        s = stream(path, bytes);
        assert_string_equal(s, "line 0\nlin");
        free(s);
        struct ferry_log_opts since = all;
        since.since_ns = t0 + 3000000000LL;
        s = stream(path, since);
        assert_string_equal(s, "line 3\nline 4\npartial\n");
        free(s);
        struct ferry_log_opts ts = all;
        ts.tail = 1;
        ts.timestamps = true;
        s = stream(path, ts);
        assert_string_equal(s, "2023-11-14T22:13:25.000000000Z partial\n");
        free(s);
        unlink(path);
}

/* The kubelet's rotation: at most max_files files of about max_size, newest
 * lines kept; readers see one log across them, a follower across rotations. */
struct rot_writer {
        const char *path;
        int lines, every, pause_ms;
        volatile bool finished;
};

static void *rot_write(void *arg)
{
        struct rot_writer *w = arg;
        struct ferry_logw lw;
        assert_int_equal(ferry_logw_open(&lw, w->path, 4096, 5), 0);
        for (int i = 0; i < w->lines; i++) {
                char line[64];
                int n = snprintf(line, sizeof(line), "line %04d", i);
                ferry_logw_write(&lw, ferry_now_ns(), false, line, (size_t)n, false);
                if (w->every && i % w->every == w->every - 1) {
                        struct timespec ts = {0, w->pause_ms * 1000000L};
                        nanosleep(&ts, NULL);
                }
        }
        ferry_logw_close(&lw);
        w->finished = true;
        return NULL;
}

static struct rot_writer *rot_current;
static bool rot_finished(void *ctx)
{
        return rot_current->finished;
}

static void rm_rotated(const char *path)
{
        char p[256];
        unlink(path);
        for (int k = 1; k < 10; k++) {
                snprintf(p, sizeof(p), "%s.%d", path, k);
                unlink(p);
        }
}

/* "line a\nline a+1\n...line b\n": returns a, or -1 when not contiguous up to b */
static int contiguous_to(const char *s, int last)
{
        int first = -1, prev = -1, v;
        for (const char *l = s; *l; l = strchr(l, '\n') + 1) {
                if (sscanf(l, "line %d", &v) != 1 || (prev >= 0 && v != prev + 1))
                        return -1;
                if (first < 0)
                        first = v;
                prev = v;
                if (!strchr(l, '\n'))
                        return -1;
        }
        return prev == last ? first : -1;
}

static void test_logfile_rotation(void **state)
{
        char path[] = "/tmp/ferry-logrot-XXXXXX";
        close(mkstemp(path));
        unlink(path);
        struct rot_writer w = {.path = path, .lines = 2000};
        rot_write(&w);
        struct stat st;
        char p[256];
        for (int k = 1; k <= 4; k++) {
                snprintf(p, sizeof(p), "%s.%d", path, k);
                assert_int_equal(stat(p, &st), 0);
                assert_true(st.st_size <= 4096 && st.st_size > 3000);
        }
        snprintf(p, sizeof(p), "%s.5", path);
        assert_int_equal(stat(p, &st), -1); /* five files in all */
        struct ferry_log_opts all = {.tail = -1, .limit_bytes = -1};
        char *s = stream(path, all);
        int first = contiguous_to(s, 1999);
        assert_true(first > 1500); /* the oldest are gone, the rest in order */
        free(s);
        struct ferry_log_opts tail = all;
        tail.tail = 300; /* more than the newest file holds */
        s = stream(path, tail);
        assert_int_equal(contiguous_to(s, 1999), 1700);
        free(s);
        rm_rotated(path);

        /* a follower keeps every line while the log rotates under it, two or
         * three times between its polls */
        struct rot_writer fw = {.path = path, .lines = 1500, .every = 10, .pause_ms = 5};
        rot_current = &fw;
        int fd = open(path, O_WRONLY | O_CREAT, 0644); /* the follower needs the file */
        close(fd);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, rot_write, &fw), 0);
        struct ferry_log_opts follow = all;
        follow.follow = true;
        struct collect c = {FERRY_BUF_INIT};
        assert_int_equal(ferry_logfile_stream(path, &follow, emit, rot_finished, &c), 0);
        pthread_join(t, NULL);
        ferry_buf_addc(&c.b, '\0');
        assert_int_equal(contiguous_to(c.b.data, 1499), 0);
        ferry_buf_free(&c.b);
        rm_rotated(path);
}

static int count_rows(void *ctx, const struct ferry_store_row *row)
{
        (*(int *)ctx)++;
        assert_non_null(row->uid);
        return 0;
}

static void test_store(void **state)
{
        char dir[] = "/tmp/ferry-store-XXXXXX", path[128];
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/ferry.db", dir);
        struct ferry_store *s;
        ferry_error_t err = {{0}};
        assert_int_equal(ferry_store_open(path, &s, &err), 0);
        struct ferry_store_row row = {.uid = "u1",
                                      .namespace = "ns",
                                      .name = "p",
                                      .backend = "fake",
                                      .state = 0,
                                      .created_ns = 1};
        assert_int_equal(ferry_store_put_pod(s, &row, "{}", 2, 0, &err), 0);
        assert_int_equal(ferry_store_put_pod(s, &row, "{}", 2, 0, &err), -EEXIST);
        ferry_store_update(s, "u1", "job-1", FERRY_POD_SUBMITTED, NULL, "submitted", "job-1");
        ferry_store_sync(s);
        assert_int_equal(ferry_store_count_events(s, "u1", "submitted"), 1);
        ferry_store_close(s);
        /* reopen: data and schema survive */
        assert_int_equal(ferry_store_open(path, &s, &err), 0);
        int n = 0;
        assert_int_equal(ferry_store_load(s, count_rows, &n, &err), 0);
        assert_int_equal(n, 1);
        char *body;
        size_t len;
        int kind;
        assert_int_equal(ferry_store_get_body(s, "u1", &body, &len, &kind, &err), 0);
        assert_string_equal(body, "{}");
        free(body);
        ferry_store_update(s, "u1", NULL, FERRY_POD_DELETED, NULL, "deleted", NULL);
        ferry_store_sync(s);
        n = 0;
        ferry_store_load(s, count_rows, &n, &err);
        assert_int_equal(n, 0); /* tombstones are not loaded */
        ferry_store_close(s);
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

static void test_auth_file(void **state)
{
        char path[] = "/tmp/ferry-tokens-XXXXXX";
        int fd = mkstemp(path);
        const char *txt = "# comment\nphysics-token-0123456789abcdef physics, "
                          "astro\n\nadmin-token-0123456789abcdef00 *\n";
        assert_int_equal(write(fd, txt, strlen(txt)), (ssize_t)strlen(txt));
        close(fd);
        struct ferry_auth *a;
        ferry_error_t err = {{0}};
        assert_int_equal(ferry_auth_load(path, &a, &err), 0);
        const struct ferry_token *t = ferry_auth_check(a, "Bearer physics-token-0123456789abcdef");
        assert_non_null(t);
        assert_true(ferry_auth_allows(t, "physics"));
        assert_true(ferry_auth_allows(t, "astro"));
        assert_false(ferry_auth_allows(t, "bio"));
        assert_null(ferry_auth_check(a, "Bearer physics-token-0123456789abcdeX"));
        assert_null(ferry_auth_check(a, "Basic physics-token-0123456789abcdef"));
        assert_null(ferry_auth_check(a, NULL));
        assert_true(ferry_auth_allows(ferry_auth_check(a, "Bearer admin-token-0123456789abcdef00"),
                                      "anything"));
        ferry_auth_free(a);
        fd = open(path, O_WRONLY | O_TRUNC);
        assert_int_equal(write(fd, "short ns\n", 9), 9);
        close(fd);
        assert_int_equal(ferry_auth_load(path, &a, &err), -EINVAL);
        assert_non_null(strstr(err.text, ":1:"));
        unlink(path);
}

static void test_hashmap(void **state)
{
        struct ferry_hashmap *m = ferry_hashmap_new();
        char keys[2000][16];
        for (int i = 0; i < 2000; i++) {
                snprintf(keys[i], 16, "k%d", i);
                assert_null(ferry_hashmap_put(m, keys[i], (void *)(intptr_t)(i + 1)));
        }
        for (int i = 0; i < 2000; i += 2)
                assert_int_equal((intptr_t)ferry_hashmap_remove(m, keys[i]), i + 1);
        assert_int_equal(ferry_hashmap_size(m), 1000);
        for (int i = 0; i < 2000; i++)
                assert_int_equal((intptr_t)ferry_hashmap_get(m, keys[i]), i % 2 ? i + 1 : 0);
        size_t it = 0, n = 0;
        while (ferry_hashmap_next(m, &it, NULL, NULL))
                n++;
        assert_int_equal(n, 1000);
        ferry_hashmap_free(m);
}

/* The one errno <-> HTTP table: every status survives the round trip, every
 * canonical errno too, the aliases land on their status, and what is transient
 * is exactly what a client may repeat. */
static void test_http_errors(void **state)
{
        static const unsigned codes[] = {400, 401, 403, 404, 409, 410, 413,
                                         422, 429, 500, 501, 502, 503, 504};
        static const int canonical[] = {-EINVAL, -EKEYREJECTED, -EACCES,     -ENOENT,   -EEXIST,
                                        -ESTALE, -E2BIG,        -EOPNOTSUPP, -EUSERS,   -EIO,
                                        -ENOSYS, -EHOSTUNREACH, -EAGAIN,     -ETIMEDOUT};
        const char *reason = NULL;

        for (size_t i = 0; i < FERRY_ARRAY_SIZE(codes); i++) {
                int e = ferry_error_from_http(codes[i]);
                assert_true(e < 0);
                assert_int_equal(ferry_error_http_status(e, &reason), codes[i]);
                assert_non_null(reason);
                assert_int_equal(e, canonical[i]);
        }
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(canonical); i++)
                assert_int_equal(ferry_error_from_http(ferry_error_http_status(canonical[i], NULL)),
                                 canonical[i]);
        /* the server's aliases */
        assert_int_equal(ferry_error_http_status(-EPERM, &reason), 403);
        assert_string_equal(reason, "Forbidden");
        assert_int_equal(ferry_error_http_status(-EBUSY, NULL), 409);
        assert_int_equal(ferry_error_http_status(-ENOTSUP, NULL), 422);
        assert_int_equal(ferry_error_http_status(-ECONNREFUSED, &reason), 503);
        assert_string_equal(reason, "Unavailable");
        assert_int_equal(ferry_error_http_status(-EMLINK, &reason), 500);
        assert_string_equal(reason, "InternalError");
        /* statuses not in the table */
        assert_int_equal(ferry_error_from_http(200), 0);
        assert_int_equal(ferry_error_from_http(204), 0);
        assert_int_equal(ferry_error_from_http(418), -EREMOTEIO);
        assert_int_equal(ferry_error_from_http(507), -EIO);
        /* transient: 429, 502, 503, 504 and the transport errors; not the refusals */
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(codes); i++) {
                bool t = codes[i] == 429 || codes[i] == 502 || codes[i] == 503 || codes[i] == 504;
                assert_int_equal(ferry_error_transient(ferry_error_from_http(codes[i])), t);
        }
        assert_true(ferry_error_transient(-ECONNREFUSED));
        assert_true(ferry_error_transient(-ECONNRESET));
        assert_true(ferry_error_transient(-EBUSY));
        assert_false(ferry_error_transient(-EREMOTEIO));
        assert_false(ferry_error_transient(0));
}

struct idents {
        size_t n;
        char uid[4][3 * FERRY_IDENT_MAX];
};

static int keep_ident(void *ctx, size_t i, const struct ferry_pod_ident *id)
{
        struct idents *g = ctx;
        assert_int_equal(i, g->n);
        assert_true(g->n < 4);
        snprintf(g->uid[g->n++], sizeof(g->uid[0]), "%s/%s/%s", id->ns, id->name, id->uid);
        return 0;
}

/* Feed body in pieces of `step` bytes; the result and message of the stream. */
static int idents_in_pieces(const char *body, size_t step, struct idents *g, ferry_error_t *err)
{
        memset(g, 0, sizeof(*g));
        struct ferry_pod_idents_stream *st = ferry_pod_idents_stream_new(8, keep_ident, g, err);
        size_t len = strlen(body);
        int r = 0;
        for (size_t off = 0; off < len && r == 0; off += step)
                r = ferry_pod_idents_stream_feed(st, body + off,
                                                 len - off < step ? len - off : step);
        if (r == 0)
                r = ferry_pod_idents_stream_end(st);
        ferry_pod_idents_stream_free(st);
        return r;
}

/* The /status scanner fed as an upload arrives: every cut gives what the
 * whole body gives, identities and error positions alike. */
static void test_idents_stream(void **state)
{
        (void)state;
        const char *ok = "[\n {\"spec\":{\"containers\":[{\"name\":\"a\\\"]}\"}]},\n"
                         "  \"metadata\":{\"name\":\"p\\u00e9\",\"uid\":\"u1\"}},\n"
                         " {\"metadata\":{\"uid\":\"u2\",\"namespace\":\"ns\",\"x\":[[{}]]}}\n]\n";
        const char *bad = "[{\"metadata\":{\"uid\":\"u1\"}},\n"
                          "{\"metadata\":{\"uid\":\"u2\"},\n"
                          "  \"spec\":{\"a\":tru}}]";
        struct idents g;
        ferry_error_t err, whole;
        assert_int_equal(ferry_pod_idents_scan(bad, strlen(bad), 8, NULL, NULL, &whole), -EINVAL);
        assert_non_null(strstr(whole.text, "line 3, column 15"));
        for (size_t step = 1; step <= strlen(ok); step++) {
                assert_int_equal(idents_in_pieces(ok, step, &g, &err), 2);
                assert_string_equal(g.uid[0], "default/p\xc3\xa9/u1");
                assert_string_equal(g.uid[1], "ns//u2");
                assert_int_equal(idents_in_pieces(bad, step, &g, &err), -EINVAL);
                assert_string_equal(err.text, whole.text);
                assert_int_equal(g.n, 1); /* the pod before the malformed one was handed over */
        }
        /* not arrays: null is [], anything else is refused, whole or cut */
        assert_int_equal(idents_in_pieces(" null ", 1, &g, &err), 0);
        assert_int_equal(idents_in_pieces("{\"metadata\":{}}", 3, &g, &err), -EINVAL);
        assert_non_null(strstr(err.text, "expected a JSON array"));
        assert_int_equal(idents_in_pieces("[1]", 1, &g, &err), -EINVAL);
        assert_non_null(strstr(err.text, "expected a pod"));
        assert_int_equal(idents_in_pieces("[[[1,2],3]]", 2, &g, &err), -EINVAL);
        assert_non_null(strstr(err.text, "not a pod"));
        assert_int_equal(idents_in_pieces("[[[[[[[[[[]]]]]]]]]]", 2, &g, &err), -E2BIG);
        assert_int_equal(idents_in_pieces("[[[[1,]]]]", 3, &g, &err), -EINVAL);
        assert_non_null(strstr(err.text, "malformed JSON at line 1, column 7"));
        assert_int_equal(idents_in_pieces("[{\"a\":[[[[[[[[[]]]]]]]]]}]", 2, &g, &err), -E2BIG);
        assert_int_equal(idents_in_pieces("[{\"metadata\":{\"uid\":\"u\"}}] x", 4, &g, &err),
                         -EINVAL);
        assert_non_null(strstr(err.text, "end of input expected"));
        assert_int_equal(idents_in_pieces("[{\"metadata\":{\"uid\":\"u\"}}", 5, &g, &err), -EINVAL);
        assert_non_null(strstr(err.text, "unexpected end of input"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_quantities),    cmocka_unit_test(test_base64_time_strings),
            cmocka_unit_test(test_pod_parse_a),   cmocka_unit_test(test_pod_parse_errors),
            cmocka_unit_test(test_pod_parse_b),   cmocka_unit_test(test_status),
            cmocka_unit_test(test_logfile),       cmocka_unit_test(test_logfile_rotation),
            cmocka_unit_test(test_store),         cmocka_unit_test(test_auth_file),
            cmocka_unit_test(test_hashmap),       cmocka_unit_test(test_http_errors),
            cmocka_unit_test(test_idents_stream),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
