/* SPDX-License-Identifier: MIT */
/* Unit tests of libferry-kube's pure parts: kubeconfig, in-cluster
 * credentials, YAML -> JSON, base64, the token bucket, watch event lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "kube/kube.h"
#include "kube/kubeconfig.h"
#include "kube/watch.h"

static const char *data_dir;

static void load(const char *name, const char *context, struct ferry_kube_config *c, int want)
{
        char path[4096];
        ferry_error_t err = {{0}};
        snprintf(path, sizeof(path), "%s/kubeconfig/%s", data_dir, name);
        int r = ferry_kube_config_load(path, context, c, &err);
        if (r != want)
                fail_msg("%s: got %d (%s), want %d", name, r, err.text, want);
        if (r < 0)
                assert_true(err.text[0] != '\0');
}

static void test_token(void **state)
{
        struct ferry_kube_config c;
        load("token.yaml", NULL, &c, 0);
        assert_string_equal(c.server, "https://10.0.0.1:6443"); /* trailing '/' dropped */
        assert_string_equal(c.token, "abc.def.ghi");
        assert_string_equal(c.namespace, "offload");
        /* relative CA path resolved against the kubeconfig's directory */
        assert_non_null(strstr(c.ca_file, "/kubeconfig/ca.crt"));
        assert_true(c.ca_file[0] == '/' || c.ca_file[0] == '.');
        assert_null(c.ca_data);
        assert_false(c.insecure);
        ferry_kube_config_clear(&c);

        load("token.yaml", "other", &c, 0);
        assert_string_equal(c.server, "https://other:6443");
        assert_null(c.namespace);
        ferry_kube_config_clear(&c);

        load("token.yaml", "missing", &c, -EINVAL);
}

static void test_data(void **state)
{
        struct ferry_kube_config c;
        load("data.yaml", NULL, &c, 0);
        assert_string_equal(c.ca_data,
                            "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n");
        assert_int_equal(c.ca_data_len, strlen(c.ca_data));
        assert_string_equal(c.cert_data, "CERT");
        assert_string_equal(c.key_data, "KEY");
        assert_null(c.token);
        ferry_kube_config_clear(&c);
}

static void test_tokenfile_insecure(void **state)
{
        struct ferry_kube_config c;
        load("tokenfile.yaml", NULL, &c, 0);
        assert_string_equal(c.token_file, "/var/run/token");
        assert_true(c.insecure);
        assert_string_equal(c.server, "http://127.0.0.1:18080");
        ferry_kube_config_clear(&c);
}

static void test_exec_refused(void **state)
{
        struct ferry_kube_config c;
        load("exec.yaml", NULL, &c, -ENOTSUP);
}

static void test_env_kubeconfig(void **state)
{
        char path[4096];
        struct ferry_kube_config c;
        ferry_error_t err;
        snprintf(path, sizeof(path), "/nonexistent/a:%s/kubeconfig/token.yaml", data_dir);
        setenv("KUBECONFIG", path, 1);
        assert_int_equal(ferry_kube_config_load(NULL, NULL, &c, &err), 0);
        assert_string_equal(c.token, "abc.def.ghi");
        ferry_kube_config_clear(&c);
        setenv("KUBECONFIG", "/nonexistent/a", 1);
        setenv("HOME", "/nonexistent", 1);
        assert_int_equal(ferry_kube_config_load(NULL, NULL, &c, &err), -ENOENT);
        unsetenv("KUBECONFIG");
}

static void test_in_cluster(void **state)
{
        char dir[] = "/tmp/ferry-sa.XXXXXX";
        char p[256];
        struct ferry_kube_config c;
        ferry_error_t err;

        assert_non_null(mkdtemp(dir));
        unsetenv("KUBERNETES_SERVICE_HOST");
        assert_int_equal(ferry_kube_config_in_cluster(dir, &c, &err), -ENOENT);
        setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
        setenv("KUBERNETES_SERVICE_PORT", "443", 1);
        assert_int_equal(ferry_kube_config_in_cluster(dir, &c, &err), -ENOENT); /* no token */
        snprintf(p, sizeof(p), "%s/token", dir);
        assert_int_equal(ferry_write_file_atomic(p, "tok\n", 4, 0600, false), 0);
        snprintf(p, sizeof(p), "%s/namespace", dir);
        assert_int_equal(ferry_write_file_atomic(p, "ferry\n", 6, 0600, false), 0);
        assert_int_equal(ferry_kube_config_in_cluster(dir, &c, &err), 0);
        assert_string_equal(c.server, "https://10.96.0.1:443");
        assert_string_equal(c.namespace, "ferry");
        assert_non_null(strstr(c.ca_file, "/ca.crt"));
        assert_non_null(strstr(c.token_file, "/token"));
        ferry_kube_config_clear(&c);
        setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
        assert_int_equal(ferry_kube_config_in_cluster(dir, &c, &err), 0);
        assert_string_equal(c.server, "https://[fd00::1]:443");
        ferry_kube_config_clear(&c);
        unsetenv("KUBERNETES_SERVICE_HOST");
        ferry_rm_rf(dir);
}

static void test_yaml(void **state)
{
        const char *y = "a: 1\nb: [x, 'true', true, null, ~]\nc: {d: \"2\"}\n";
        json_t *j;
        ferry_error_t err;
        assert_int_equal(ferry_kube_yaml_to_json(y, strlen(y), &j, &err), 0);
        json_t *want = json_loads(
            "{\"a\":1,\"b\":[\"x\",\"true\",true,null,null],\"c\":{\"d\":\"2\"}}", 0, NULL);
        assert_true(json_equal(j, want));
        json_decref(j);
        json_decref(want);
        const char *bad = "a: [1, 2\n";
        assert_int_equal(ferry_kube_yaml_to_json(bad, strlen(bad), &j, &err), -EINVAL);
        assert_non_null(strstr(err.text, "line"));
        /* billion laughs: aliases multiply; bounded */
        const char *lol =
            "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
            "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
            "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n";
        assert_int_equal(ferry_kube_yaml_to_json(lol, strlen(lol), &j, &err), -E2BIG);
}

static void test_base64(void **state)
{
        const char *cases[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
        for (size_t i = 0; i < 7; i++) {
                char *e = ferry_base64_encode((const unsigned char *)cases[i], strlen(cases[i]));
                unsigned char *d;
                size_t n;
                assert_int_equal(ferry_base64_decode(e, strlen(e), &d, &n), 0);
                assert_int_equal(n, strlen(cases[i]));
                assert_memory_equal(d, cases[i], n);
                free(e);
                free(d);
        }
        unsigned char *d;
        size_t n;
        assert_int_equal(ferry_base64_decode("Zm9v\nYmFy", 9, &d, &n), 0);
        assert_string_equal((char *)d, "foobar");
        free(d);
        assert_int_equal(ferry_base64_decode("Zm9v!", 5, &d, &n), -EINVAL);
        assert_int_equal(ferry_base64_decode("Zm9=v", 5, &d, &n), -EINVAL);
}

static void test_bucket(void **state)
{
        struct ferry_kube_bucket b;
        int64_t t = 1000000000;
        ferry_kube_bucket_init(&b, 100, 200, t);
        for (int i = 0; i < 200; i++)
                assert_int_equal(ferry_kube_bucket_take(&b, t), 0);
        /* burst spent: the next waits 10 ms at 100 qps */
        int64_t w = ferry_kube_bucket_take(&b, t);
        assert_true(w >= 9900000 && w <= 10100000);
        /* one second later 100 tokens came back (minus the debt) */
        t += 1000000000;
        int ok = 0;
        while (ferry_kube_bucket_take(&b, t) == 0)
                ok++;
        assert_int_equal(ok, 99);
}

static void test_watch_parse(void **state)
{
        const char *line =
            "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\","
            "\"resourceVersion\":\"12\"}}}";
        json_t *ev, *obj;
        const char *type;
        ferry_error_t err;
        assert_int_equal(ferry_kube_watch_parse(line, strlen(line), &ev, &type, &obj, &err), 0);
        assert_string_equal(type, "ADDED");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")), "p");
        json_decref(ev);
        assert_int_equal(ferry_kube_watch_parse("{\"type\":1}", 10, &ev, &type, &obj, &err),
                         -EPROTO);
        assert_int_equal(ferry_kube_watch_parse("nope", 4, &ev, &type, &obj, &err), -EPROTO);
}

static void test_errno_escape(void **state)
{
        /* the Kubernetes answers the node reacts to, through the one table */
        assert_int_equal(ferry_error_from_http(200), 0);
        assert_int_equal(ferry_error_from_http(201), 0);
        assert_int_equal(ferry_error_from_http(404), -ENOENT);
        assert_int_equal(ferry_error_from_http(409), -EEXIST);
        assert_int_equal(ferry_error_from_http(410), -ESTALE);
        assert_int_equal(ferry_error_from_http(503), -EAGAIN);
        assert_true(ferry_error_transient(ferry_error_from_http(429)));
        char *e = ferry_kube_query_escape("spec.nodeName=n 1/x");
        assert_string_equal(e, "spec.nodeName%3Dn%201%2Fx");
        free(e);
}

int main(int argc, char **argv)
{
        data_dir = argc > 1 ? argv[1] : "tests/data/node";
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_token),
            cmocka_unit_test(test_data),
            cmocka_unit_test(test_tokenfile_insecure),
            cmocka_unit_test(test_exec_refused),
            cmocka_unit_test(test_env_kubeconfig),
            cmocka_unit_test(test_in_cluster),
            cmocka_unit_test(test_yaml),
            cmocka_unit_test(test_base64),
            cmocka_unit_test(test_bucket),
            cmocka_unit_test(test_watch_parse),
            cmocka_unit_test(test_errno_escape),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
