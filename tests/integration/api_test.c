/* SPDX-License-Identifier: MIT */
/*
 * API behaviour through real HTTP: runs under with-ferryd.sh against a ferryd
 * with the fake backend, a unix socket (FERRY_SERVER), a TCP listener with the
 * tokens of tests/data/tokens.txt (FERRY_TCP) and a plugin listener (FERRY_PLUGIN).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "httpc.h"

#define PHYS "physics-token-0123456789abcdef"
#define ASTRO "astro-token-0123456789abcdef00"

static const char *unix_srv, *tcp_srv, *plugin_srv;
static unsigned seq;

static void new_uid(char buf[37])
{
        snprintf(buf, 37, "00000000-0000-4000-8000-%012x", (unsigned)getpid() * 1000 + seq++);
}

static char *create_body(const char *uid, const char *ns, const char *duration_ms)
{
        json_t *o =
            json_pack("{s:{s:{s:s,s:s,s:s,s:o},s:{s:[{s:s,s:s,s:[s,s],s:n}]}},s:n,s:n,s:n,s:s,s:s}",
                      "pod", "metadata", "name", "p", "namespace", ns, "uid", uid, "annotations",
                      duration_ms ? json_pack("{s:s}", "fake.ferry.io/duration-ms", duration_ms)
                                  : json_object(),
                      "spec", "containers", "name", "main", "image", "busybox", "command", "sh",
                      "-c", "env", "configmaps", "secrets", "projectedvolumesmaps", "jobscriptURL",
                      "", "unknownField", "ignored");
        char *s = json_dumps(o, 0);
        json_decref(o);
        return s;
}

static long call(const char *srv, const char *path, const char *body, const char *tok,
                 struct http_answer *a)
{
        assert_int_equal(http_call(srv, path, body, body ? strlen(body) : 0, tok, a), 0);
        return a->code;
}

static void test_create_idempotent(void **state)
{
        char uid[37];
        struct http_answer a, b;
        new_uid(uid);
        char *body = create_body(uid, "default", NULL);
        assert_int_equal(call(unix_srv, "/create", body, NULL, &a), 200);
        assert_int_equal(call(unix_srv, "/create", body, NULL, &b), 200);
        json_t *ja = json_loads(a.body, 0, NULL), *jb = json_loads(b.body, 0, NULL);
        assert_string_equal(json_string_value(json_object_get(ja, "PodUID")), uid);
        assert_true(strlen(json_string_value(json_object_get(ja, "PodJID"))) > 0);
        assert_string_equal(json_string_value(json_object_get(ja, "PodJID")),
                            json_string_value(json_object_get(jb, "PodJID")));
        json_decref(ja);
        json_decref(jb);
        http_answer_free(&a);
        http_answer_free(&b);
        /* listed once */
        assert_int_equal(call(unix_srv, "/status", "[]", NULL, &a), 200);
        json_t *all = json_loads(a.body, 0, NULL);
        size_t i, n = 0;
        json_t *e;
        json_array_foreach(all, i,
                           e) if (!strcmp(json_string_value(json_object_get(e, "UID")), uid)) n++;
        assert_int_equal(n, 1);
        json_decref(all);
        http_answer_free(&a);
        free(body);
}

static void test_bad_json(void **state)
{
        struct http_answer a;
        assert_int_equal(call(unix_srv, "/create", "{\"pod\": {\n  \"metadata\": [1,}", NULL, &a),
                         400);
        assert_non_null(strstr(a.body, "line 2"));
        assert_non_null(strstr(a.body, "column"));
        http_answer_free(&a);
        assert_int_equal(call(unix_srv, "/create",
                              "{\"pod\": {\"metadata\": {\"name\": \"x\"}, \"spec\": {}}}", NULL,
                              &a),
                         400);
        assert_non_null(strstr(a.body, "uid"));
        http_answer_free(&a);
        assert_int_equal(call(unix_srv, "/status", "{\"not\": \"an array\"}", NULL, &a), 400);
        http_answer_free(&a);
        assert_int_equal(call(unix_srv, "/nope", "", NULL, &a), 404);
        http_answer_free(&a);
}

/* A /status body of whole pods, megabytes long: ferryd scans it as the
 * upload arrives (in the pieces the socket gives), so pods are cut at every
 * kind of place; the answer and an error far into the body must be what the
 * whole body says. */
static void test_status_streamed(void **state)
{
        char uid[37];
        struct http_answer a;
        new_uid(uid);
        char *body = create_body(uid, "default", "600000");
        assert_int_equal(call(unix_srv, "/create", body, NULL, &a), 200);
        http_answer_free(&a);
        free(body);

        char *data;
        size_t len;
        FILE *f = open_memstream(&data, &len);
        const size_t n = 4000;
        fputc('[', f);
        for (size_t i = 0; i < n; i++) {
                char other[37];
                snprintf(other, sizeof(other), "00000000-0000-4000-9000-%012zx", i);
                fprintf(f,
                        "%s{\"metadata\":{\"name\":\"p\\u00e9-%zu\",\"labels\":{\"a\\\"b\":"
                        "\"%0*zu\"},\"uid\":\"%s\"},\"spec\":{\"containers\":[{\"name\":"
                        "\"main\",\"args\":[\"\\\\\",\"]}\",1e3,-0.5,true,null]}]},"
                        "\"status\":{\"phase\":\"Running\"}}",
                        i ? ",\n" : "", i, (int)(i % 700), i, i == n / 2 ? uid : other);
        }
        fputc(']', f);
        assert_int_equal(fclose(f), 0);
        assert_true(len > 1000000);
        assert_int_equal(http_call(unix_srv, "/status", data, len, NULL, &a), 0);
        assert_int_equal(a.code, 200);
        json_t *j = json_loads(a.body, 0, NULL);
        assert_int_equal(json_array_size(j), 1); /* unknown uids are omitted */
        assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "UID")), uid);
        json_decref(j);
        http_answer_free(&a);

        /* a mistake in the last pod, on line n: 400 naming that line */
        data[len - 3] = ',';
        assert_int_equal(http_call(unix_srv, "/status", data, len, NULL, &a), 0);
        assert_int_equal(a.code, 400);
        char where[32];
        snprintf(where, sizeof(where), "line %zu,", n);
        assert_non_null(strstr(a.body, where));
        http_answer_free(&a);
        free(data);
}

static void test_limits(void **state)
{
        struct http_answer a;
        size_t big = 5u << 20;
        char *b = malloc(big + 1);
        memset(b, ' ', big);
        b[0] = '{';
        b[big - 1] = '}';
        b[big] = 0;
        assert_int_equal(http_call(unix_srv, "/create", b, big, NULL, &a), 0);
        assert_int_equal(a.code, 413);
        http_answer_free(&a);
        free(b);
        char deep[400] = "";
        for (int i = 0; i < 150; i++)
                strcat(deep, "[");
        assert_int_equal(call(unix_srv, "/status", deep, NULL, &a), 413);
        http_answer_free(&a);
        /* too many containers */
        char uid[37];
        new_uid(uid);
        json_t *cs = json_array();
        for (int i = 0; i < 100; i++) {
                char n[16];
                snprintf(n, sizeof(n), "c%d", i);
                json_array_append_new(cs, json_pack("{s:s}", "name", n));
        }
        json_t *req = json_pack("{s:{s:{s:s,s:s},s:{s:o}}}", "pod", "metadata", "name", "many",
                                "uid", uid, "spec", "containers", cs);
        char *body = json_dumps(req, 0);
        assert_int_equal(call(unix_srv, "/create", body, NULL, &a), 413);
        assert_non_null(strstr(a.body, "limit"));
        http_answer_free(&a);
        free(body);
        json_decref(req);
}

static void test_status_order_and_unknown(void **state)
{
        char u1[37], u2[37], q[256];
        struct http_answer a;
        new_uid(u1);
        new_uid(u2);
        char *b1 = create_body(u1, "default", NULL), *b2 = create_body(u2, "default", NULL);
        assert_int_equal(call(unix_srv, "/create", b1, NULL, &a), 200);
        http_answer_free(&a);
        assert_int_equal(call(unix_srv, "/create", b2, NULL, &a), 200);
        http_answer_free(&a);
        snprintf(q, sizeof(q),
                 "[{\"metadata\":{\"uid\":\"%s\"}},{\"metadata\":{\"uid\":\"ffffffff-0000-4000-"
                 "8000-000000000000\"}},{\"metadata\":{\"uid\":\"%s\"}}]",
                 u2, u1);
        assert_int_equal(call(unix_srv, "/status", q, NULL, &a), 200);
        json_t *arr = json_loads(a.body, 0, NULL);
        assert_int_equal(json_array_size(arr), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "UID")), u2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 1), "UID")), u1);
        assert_true(json_is_array(json_object_get(json_array_get(arr, 0), "containers")));
        json_decref(arr);
        http_answer_free(&a);
        free(b1);
        free(b2);
}

static void test_logs_validation(void **state)
{
        struct http_answer a;
        const char *bad[] = {
            "{\"Namespace\":\"Bad_NS\",\"PodUID\":\"00000000-0000-4000-8000-000000000000\","
            "\"ContainerName\":\"main\",\"Opts\":{}}",
            "{\"Namespace\":\"default\",\"PodUID\":\"NOT-A-UUID\",\"ContainerName\":\"main\","
            "\"Opts\":{}}",
            "{\"Namespace\":\"default\",\"PodUID\":\"00000000-0000-4000-8000-000000000000\","
            "\"ContainerName\":\"Main!\",\"Opts\":{}}",
            "{\"Namespace\":\"default\",\"PodUID\":\"00000000-0000-4000-8000-000000000000\","
            "\"ContainerName\":\"main\",\"Opts\":{\"Tail\":5,\"Bytes\":10}}",
            "{\"Namespace\":\"default\",\"PodUID\":\"00000000-0000-4000-8000-000000000000\","
            "\"ContainerName\":\"main\",\"Opts\":{\"SinceSeconds\":5,\"SinceTime\":\"2026-01-01T00:"
            "00:00Z\"}}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(call(unix_srv, "/getLogs", bad[i], NULL, &a), 400);
                assert_non_null(strstr(a.ctype, "text/plain"));
                assert_true(a.len > 5);
                http_answer_free(&a);
        }
        /* a zero SinceTime is "unset" */
        assert_int_equal(
            call(unix_srv, "/getLogs",
                 "{\"Namespace\":\"default\",\"PodUID\":\"00000000-0000-4000-8000-000000000000\","
                 "\"ContainerName\":\"main\","
                 "\"Opts\":{\"SinceSeconds\":5,\"SinceTime\":\"0001-01-01T00:00:00Z\"}}",
                 NULL, &a),
            404);
        http_answer_free(&a);
}

static void test_auth(void **state)
{
        char uid[37], q[200];
        struct http_answer a;
        new_uid(uid);
        char *body = create_body(uid, "physics", "600000");
        assert_int_equal(call(tcp_srv, "/create", body, NULL, &a), 401);
        http_answer_free(&a);
        assert_int_equal(call(tcp_srv, "/create", body, "wrong-token-0123456789abcdef", &a), 401);
        http_answer_free(&a);
        assert_int_equal(call(tcp_srv, "/create", body, ASTRO, &a), 403);
        http_answer_free(&a);
        assert_int_equal(call(tcp_srv, "/create", body, PHYS, &a), 200);
        http_answer_free(&a);
        snprintf(q, sizeof(q), "[{\"metadata\":{\"uid\":\"%s\",\"namespace\":\"physics\"}}]", uid);
        assert_int_equal(call(tcp_srv, "/status", q, ASTRO, &a), 403);
        http_answer_free(&a);
        assert_int_equal(call(tcp_srv, "/status", q, PHYS, &a), 200);
        assert_non_null(strstr(a.body, uid));
        http_answer_free(&a);
        /* the astro token lists no physics pods */
        assert_int_equal(call(tcp_srv, "/status", "[]", ASTRO, &a), 200);
        assert_null(strstr(a.body, uid));
        http_answer_free(&a);
        char logs[300];
        snprintf(
            logs, sizeof(logs),
            "{\"Namespace\":\"physics\",\"PodUID\":\"%s\",\"ContainerName\":\"main\",\"Opts\":{}}",
            uid);
        assert_int_equal(call(tcp_srv, "/getLogs", logs, ASTRO, &a), 403);
        http_answer_free(&a);
        snprintf(q, sizeof(q), "{\"metadata\":{\"uid\":\"%s\",\"namespace\":\"physics\"}}", uid);
        assert_int_equal(call(tcp_srv, "/delete", q, ASTRO, &a), 403);
        http_answer_free(&a);
        assert_int_equal(call(tcp_srv, "/delete", q, PHYS, &a), 200);
        http_answer_free(&a);
        /* health and metrics need no token */
        assert_int_equal(call(tcp_srv, "/pinglink", NULL, NULL, &a), 200);
        http_answer_free(&a);
        free(body);
}

static void test_delete_idempotent(void **state)
{
        char uid[37], q[200];
        struct http_answer a;
        new_uid(uid);
        char *body = create_body(uid, "default", "600000");
        assert_int_equal(call(unix_srv, "/create", body, NULL, &a), 200);
        http_answer_free(&a);
        snprintf(q, sizeof(q), "{\"metadata\":{\"uid\":\"%s\"}}", uid);
        assert_int_equal(call(unix_srv, "/delete", q, NULL, &a), 200);
        http_answer_free(&a);
        assert_int_equal(call(unix_srv, "/delete", q, NULL, &a), 200);
        http_answer_free(&a);
        assert_int_equal(call(unix_srv, "/delete",
                              "{\"metadata\":{\"uid\":\"ffffffff-1111-4000-8000-000000000000\"}}",
                              NULL, &a),
                         200);
        http_answer_free(&a);
        snprintf(q, sizeof(q), "[{\"metadata\":{\"uid\":\"%s\"}}]", uid);
        for (int i = 0; i < 50; i++) { /* final once the backend confirmed */
                call(unix_srv, "/status", q, NULL, &a);
                bool final = strstr(a.body, "\"phase\":\"Failed\"") != NULL;
                http_answer_free(&a);
                if (final)
                        break;
                usleep(100000);
        }
        /* a kubelet reads how the containers ended before it removes the API object */
        call(unix_srv, "/status", q, NULL, &a);
        assert_non_null(strstr(a.body, "\"terminated\":{\"exitCode\":137"));
        assert_non_null(strstr(a.body, "\"phase\":\"Failed\""));
        http_answer_free(&a);
        /* ... but the pod is no longer listed */
        call(unix_srv, "/status", "[]", NULL, &a);
        assert_null(strstr(a.body, uid));
        http_answer_free(&a);
        /* the uid of a deleted pod cannot be reused */
        assert_int_equal(call(unix_srv, "/create", body, NULL, &a), 409);
        http_answer_free(&a);
        free(body);
}

static void test_hop_b(void **state)
{
        char uid[37];
        struct http_answer a;
        new_uid(uid);
        char body[1024];
        snprintf(body, sizeof(body),
                 "{\"pod\":{\"metadata\":{\"name\":\"b\",\"namespace\":\"default\",\"uid\":\"%s\"},"
                 "\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"x\"}]}},"
                 "\"container\":[{\"name\":\"main\",\"configMaps\":null,\"projectedvolumemaps\":"
                 "null,\"secrets\":null,\"emptyDirs\":null}],"
                 "\"jobConfig\":{}}",
                 uid);
        assert_int_equal(call(plugin_srv, "/create", body, NULL, &a), 200);
        assert_non_null(strstr(a.body, uid));
        http_answer_free(&a);
        /* the same as a one-element array (v0.4 and the Docker plugin) */
        char arr[1100];
        snprintf(arr, sizeof(arr), "[%s]", body);
        assert_int_equal(call(plugin_srv, "/create", arr, NULL, &a), 200);
        http_answer_free(&a);
        assert_int_equal(call(plugin_srv, "/create", "[]", NULL, &a), 400);
        http_answer_free(&a);
        /* [] on hop B is the ping */
        assert_int_equal(call(plugin_srv, "/status", "[]", NULL, &a), 200);
        json_t *p = json_loads(a.body, 0, NULL);
        assert_true(json_is_object(json_object_get(p, "resources")));
        json_decref(p);
        http_answer_free(&a);
        /* so is a body of white space (or none), as it was before /status streamed */
        assert_int_equal(call(plugin_srv, "/status", " \n ", NULL, &a), 200);
        assert_non_null(strstr(a.body, "\"resources\""));
        http_answer_free(&a);
        /* hop A [] lists pods instead, and so does white space */
        assert_int_equal(call(unix_srv, "/status", "[]", NULL, &a), 200);
        assert_true(a.body[0] == '[');
        http_answer_free(&a);
        assert_int_equal(call(unix_srv, "/status", "  ", NULL, &a), 200);
        assert_true(a.body[0] == '[');
        http_answer_free(&a);
}

static void test_ping_metrics(void **state)
{
        struct http_answer a;
        assert_int_equal(call(unix_srv, "/pinglink", NULL, NULL, &a), 200);
        json_t *p = json_loads(a.body, 0, NULL);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(p, "resources"), "cpu")), "64");
        json_decref(p);
        http_answer_free(&a);
        assert_int_equal(call(unix_srv, "/metrics", NULL, NULL, &a), 200);
        assert_non_null(strstr(a.body, "ferry_http_requests_total{path=\"/create\",code=\"200\"}"));
        assert_non_null(strstr(a.body, "ferry_pods{phase=\"Running\",backend=\"fake\"}"));
        assert_non_null(strstr(
            a.body, "ferry_backend_call_duration_seconds_bucket{backend=\"fake\",op=\"submit\""));
        http_answer_free(&a);
}

int main(void)
{
        unix_srv = getenv("FERRY_SERVER");
        tcp_srv = getenv("FERRY_TCP");
        plugin_srv = getenv("FERRY_PLUGIN");
        if (!unix_srv || !tcp_srv || !plugin_srv) {
                fprintf(stderr, "run me through with-ferryd.sh with FERRY_TEST_TCP_PORT and "
                                "FERRY_TEST_PLUGIN set\n");
                return 1;
        }
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_create_idempotent),
            cmocka_unit_test(test_bad_json),
            cmocka_unit_test(test_status_streamed),
            cmocka_unit_test(test_limits),
            cmocka_unit_test(test_status_order_and_unknown),
            cmocka_unit_test(test_logs_validation),
            cmocka_unit_test(test_auth),
            cmocka_unit_test(test_delete_idempotent),
            cmocka_unit_test(test_hop_b),
            cmocka_unit_test(test_ping_metrics),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
