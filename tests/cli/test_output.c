/* SPDX-License-Identifier: MIT */
/* The pure parts of the client and the CLI: URLs, phases, error text,
 * durations, ages, tables, base64, YAML scalars. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/base64.h"
#include "client/client.h"
#include "common/util.h"
#include "ferry/manifest.h"
#include "ferry/output.h"

static void test_url(void **state)
{
        struct ferry_client_url u;
        ferry_error_t err = {""};

        assert_int_equal(ferry_client_parse_url("unix:///run/ferry/ferryd.sock", &u, &err), 0);
        assert_int_equal(u.scheme, FERRY_CLIENT_UNIX);
        assert_string_equal(u.socket_path, "/run/ferry/ferryd.sock");
        assert_string_equal(u.base, "http://unix");
        ferry_client_url_clear(&u);

        assert_int_equal(ferry_client_parse_url("/tmp/x.sock", &u, &err), 0);
        assert_string_equal(u.socket_path, "/tmp/x.sock");
        ferry_client_url_clear(&u);

        assert_int_equal(ferry_client_parse_url("http://127.0.0.1:3000/", &u, &err), 0);
        assert_int_equal(u.scheme, FERRY_CLIENT_HTTP);
        assert_null(u.socket_path);
        assert_string_equal(u.base, "http://127.0.0.1:3000");
        ferry_client_url_clear(&u);

        assert_int_equal(ferry_client_parse_url("https://site.example:443/api", &u, &err), 0);
        assert_int_equal(u.scheme, FERRY_CLIENT_HTTPS);
        assert_string_equal(u.base, "https://site.example:443/api");
        ferry_client_url_clear(&u);

        assert_int_equal(ferry_client_parse_url("unix://relative.sock", &u, &err), -EINVAL);
        assert_non_null(strstr(err.text, "absolute"));
        assert_int_equal(ferry_client_parse_url("ftp://x", &u, &err), -EINVAL);
        assert_non_null(strstr(err.text, "unix:///path/to.sock"));
        assert_int_equal(ferry_client_parse_url("http://", &u, &err), -EINVAL);
        assert_int_equal(ferry_client_parse_url("http://user@host", &u, &err), -EINVAL);
        assert_int_equal(ferry_client_parse_url("", &u, &err), -EINVAL);
}

static const char *phase_of(const char *text)
{
        json_t *j = json_loads(text, 0, NULL);
        const char *p;

        assert_non_null(j);
        p = ferry_client_pod_phase(j);
        json_decref(j);
        return p;
}

static void test_phase(void **state)
{
        /* ferryd's extension wins */
        assert_string_equal(phase_of("{\"phase\":\"Running\",\"containers\":null}"), "Running");
        assert_string_equal(phase_of("{\"phase\":\"Weird\"}"), "Unknown");
        /* derived like the Virtual Kubelet */
        assert_string_equal(phase_of("{\"containers\":null,\"initContainers\":null}"), "Pending");
        assert_string_equal(
            phase_of("{\"containers\":[{\"name\":\"a\",\"state\":{\"waiting\":{}}}]}"), "Pending");
        assert_string_equal(
            phase_of("{\"initContainers\":[{\"name\":\"i\",\"state\":{\"terminated\":{\"exitCode\":"
                     "2}}}],"
                     "\"containers\":[{\"name\":\"a\",\"state\":{\"waiting\":{}}}]}"),
            "Failed");
        assert_string_equal(
            phase_of("{\"initContainers\":[{\"name\":\"i\",\"state\":{\"running\":{}}}],"
                     "\"containers\":[{\"name\":\"a\",\"state\":{}}]}"),
            "Pending");
        assert_string_equal(
            phase_of("{\"containers\":[{\"name\":\"a\",\"state\":{\"running\":{\"startedAt\":"
                     "\"2026-01-10T10:00:05Z\"}}},"
                     "{\"name\":\"b\",\"state\":{\"terminated\":{\"exitCode\":0}}}]}"),
            "Running");
        assert_string_equal(
            phase_of(
                "{\"containers\":[{\"name\":\"a\",\"state\":{\"terminated\":{\"exitCode\":0}}},"
                "{\"name\":\"b\",\"state\":{\"terminated\":{\"exitCode\":0}}}]}"),
            "Succeeded");
        assert_string_equal(
            phase_of(
                "{\"containers\":[{\"name\":\"a\",\"state\":{\"terminated\":{\"exitCode\":0}}},"
                "{\"name\":\"b\",\"state\":{\"terminated\":{\"exitCode\":137}}}]}"),
            "Failed");
        assert_true(ferry_client_phase_done("Failed"));
        assert_false(ferry_client_phase_done("Running"));
}

static void test_error_text(void **state)
{
        char out[64];
        const char *j = "{\"error\":\"pod not found\",\"reason\":\"NotFound\"}";

        ferry_client_error_text(j, strlen(j), out, sizeof(out));
        assert_string_equal(out, "pod not found (NotFound)");
        ferry_client_error_text("  bad\nrequest\n", 14, out, sizeof(out));
        assert_string_equal(out, "bad request");
        char big[200];
        memset(big, 'x', sizeof(big));
        ferry_client_error_text(big, sizeof(big), out, sizeof(out));
        assert_int_equal(strlen(out), sizeof(out) - 1);
        assert_string_equal(out + strlen(out) - 3, "...");
        ferry_client_error_text("", 0, out, sizeof(out));
        assert_string_equal(out, "");
}

static void test_duration(void **state)
{
        int64_t s;

        assert_int_equal(ferry_parse_duration("90s", &s), 0);
        assert_int_equal(s, 90);
        assert_int_equal(ferry_parse_duration("1h30m", &s), 0);
        assert_int_equal(s, 5400);
        assert_int_equal(ferry_parse_duration("2m3.5s", &s), 0);
        assert_int_equal(s, 124);
        assert_int_equal(ferry_parse_duration("500ms", &s), 0);
        assert_int_equal(s, 1);
        assert_int_equal(ferry_parse_duration("45", &s), 0);
        assert_int_equal(s, 45);
        assert_int_equal(ferry_parse_duration("1d", &s), 0);
        assert_int_equal(s, 86400);
        assert_int_equal(ferry_parse_duration("", &s), -EINVAL);
        assert_int_equal(ferry_parse_duration("5x", &s), -EINVAL);
        assert_int_equal(ferry_parse_duration("-5s", &s), -EINVAL);
        assert_int_equal(ferry_parse_duration("m", &s), -EINVAL);
        assert_int_equal(ferry_parse_duration("5 m", &s), -EINVAL);
}

static void test_age(void **state)
{
        static const struct {
                int64_t s;
                const char *want;
        } cases[] = {
            {0, "0s"},
            {45, "45s"},
            {119, "119s"},
            {200, "3m20s"},
            {42 * 60, "42m"},
            {5 * 3600 + 600, "5h10m"},
            {20 * 3600, "20h"},
            {3 * 86400 + 4 * 3600, "3d4h"},
            {120 * 86400, "120d"},
            {3 * 365 * 86400 + 40 * 86400, "3y40d"},
            {-5, "0s"},
        };
        char buf[32];

        for (size_t i = 0; i < FERRY_ARRAY_SIZE(cases); i++) {
                ferry_format_age(cases[i].s, buf, sizeof(buf));
                assert_string_equal(buf, cases[i].want);
        }
}

static void test_table(void **state)
{
        static const char *const hdr[] = {"NAME", "PHASE", "JOB"};
        static const char *const r1[] = {"a-long-name", "Running", "12"};
        static const char *const r2[] = {"b", "", NULL};
        struct ferry_table *t = ferry_table_new(3, hdr);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        ferry_table_add(t, r1);
        ferry_table_add(t, r2);
        ferry_table_print(t, f);
        fclose(f);
        assert_string_equal(buf, "NAME          PHASE     JOB\n"
                                 "a-long-name   Running   12\n"
                                 "b             -         -\n");
        free(buf);
        ferry_table_free(t);
}

static void test_summary(void **state)
{
        const char *text =
            "{\"name\":\"p\",\"namespace\":\"default\",\"UID\":\"u\",\"JID\":\"7\","
            "\"initContainers\":[{\"name\":\"i\",\"restartCount\":1,\"state\":{\"terminated\":"
            "{\"exitCode\":0,\"startedAt\":\"2026-01-10T10:00:01Z\"}}}],"
            "\"containers\":[{\"name\":\"a\",\"ready\":true,\"restartCount\":2,\"state\":"
            "{\"running\":{\"startedAt\":\"2026-01-10T10:00:05Z\"}}},"
            "{\"name\":\"b\",\"ready\":false,\"state\":{\"waiting\":{}}}]}";
        json_t *j = json_loads(text, 0, NULL);
        struct ferry_pod_summary s;
        int64_t t0;

        ferry_pod_summarize(j, &s);
        assert_string_equal(s.name, "p");
        assert_string_equal(s.jid, "7");
        assert_string_equal(s.phase, "Running");
        assert_int_equal(s.ready, 1);
        assert_int_equal(s.total, 2);
        assert_int_equal(s.restarts, 3);
        assert_int_equal(ferry_time_parse("2026-01-10T10:00:01Z", &t0), 0);
        assert_true(s.started_ns == t0);
        json_decref(j);

        struct ferry_progress p = {
            .total = 12, .succeeded = 3, .running = 5, .pending = 2, .failed = 2};
        char line[100];
        ferry_progress_text(&p, line, sizeof(line));
        assert_string_equal(line, "12 pods: 3 done, 5 running, 2 pending, 2 failed");
}

static void test_base64(void **state)
{
        static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
        static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                          "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
        unsigned char *dec;
        size_t n;

        for (size_t i = 0; i < FERRY_ARRAY_SIZE(plain); i++) {
                char *e = ferry_base64_encode((const unsigned char *)plain[i], strlen(plain[i]));
                assert_string_equal(e, enc[i]);
                free(e);
                assert_int_equal(ferry_base64_decode_strict(enc[i], &dec, &n), 0);
                assert_int_equal(n, strlen(plain[i]));
                assert_memory_equal(dec, plain[i], n);
                free(dec);
        }
        assert_int_equal(ferry_base64_decode_strict("Zm9v!", &dec, &n), -EINVAL);
        assert_int_equal(ferry_base64_decode_strict("Z", &dec, &n), -EINVAL);
        assert_true(ferry_utf8_valid((const unsigned char *)"h\xc3\xa9llo", 6));
        assert_false(ferry_utf8_valid((const unsigned char *)"\xc3", 1));
        assert_false(ferry_utf8_valid((const unsigned char *)"\xff\xfe", 2));
        assert_false(ferry_utf8_valid((const unsigned char *)"\xed\xa0\x80", 3)); /* surrogate */
}

static void test_yaml_scalars(void **state)
{
        const char *y = "kind: X\n"
                        "a: 0644\nb: 0o17\nc: 0x1F\nd: 42\ne: -7\nf: 1.5\ng: true\nh: ~\n"
                        "i: yes\nj: '0644'\nk: \"true\"\nl: 1e3\nm: 08\nn: ''\n";
        json_t *objs = json_array();
        ferry_error_t err = {""};

        assert_int_equal(ferry_manifest_parse(y, strlen(y), "t.yaml", objs, &err), 0);
        json_t *o = json_array_get(objs, 0);
        assert_int_equal(json_integer_value(json_object_get(o, "a")), 420);
        assert_int_equal(json_integer_value(json_object_get(o, "b")), 15);
        assert_int_equal(json_integer_value(json_object_get(o, "c")), 31);
        assert_int_equal(json_integer_value(json_object_get(o, "d")), 42);
        assert_int_equal(json_integer_value(json_object_get(o, "e")), -7);
        assert_true(json_is_real(json_object_get(o, "f")));
        assert_true(json_is_true(json_object_get(o, "g")));
        assert_true(json_is_null(json_object_get(o, "h")));
        assert_string_equal(json_string_value(json_object_get(o, "i")), "yes");
        assert_string_equal(json_string_value(json_object_get(o, "j")), "0644");
        assert_string_equal(json_string_value(json_object_get(o, "k")), "true");
        assert_true(json_is_real(json_object_get(o, "l")));
        assert_string_equal(json_string_value(json_object_get(o, "m")), "08");
        assert_string_equal(json_string_value(json_object_get(o, "n")), "");
        json_decref(objs);

        objs = json_array();
        const char *dup = "kind: X\na: 1\na: 2\n";
        assert_int_equal(ferry_manifest_parse(dup, strlen(dup), "d.yaml", objs, &err), -EINVAL);
        assert_non_null(strstr(err.text, "d.yaml:3:1: duplicate key 'a'"));
        const char *bad = "kind: X\n  a: [\n";
        assert_int_equal(ferry_manifest_parse(bad, strlen(bad), "b.yaml", objs, &err), -EINVAL);
        assert_non_null(strstr(err.text, "b.yaml:"));
        const char *scalar = "just text\n";
        assert_int_equal(ferry_manifest_parse(scalar, strlen(scalar), "s.yaml", objs, &err),
                         -EINVAL);
        assert_non_null(strstr(err.text, "must be a mapping"));
        /* deep nesting is refused, not a stack overflow */
        struct ferry_buf b = FERRY_BUF_INIT;
        ferry_buf_adds(&b, "kind: X\na: ");
        for (int i = 0; i < 200; i++)
                ferry_buf_adds(&b, "[");
        assert_int_equal(ferry_manifest_parse(b.data, b.len, "n.yaml", objs, &err), -EINVAL);
        assert_non_null(strstr(err.text, "nested too deeply"));
        ferry_buf_free(&b);
        json_decref(objs);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_url),          cmocka_unit_test(test_phase),
            cmocka_unit_test(test_error_text),   cmocka_unit_test(test_duration),
            cmocka_unit_test(test_age),          cmocka_unit_test(test_table),
            cmocka_unit_test(test_summary),      cmocka_unit_test(test_base64),
            cmocka_unit_test(test_yaml_scalars),
        };
        return cmocka_run_group_tests_name("cli pure parts", tests, NULL, NULL);
}
