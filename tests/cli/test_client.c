/* SPDX-License-Identifier: MIT */
/* libferry-client against a real HTTP server (mock_server.c) over a unix
 * socket and TCP: headers, bodies on GET/DELETE, streamed logs, errors. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "client/client.h"
#include "common/util.h"
#include "mock_server.h"

struct fixture {
        char dir[64];
        char sock[128];
        struct mock_server *srv;
        struct ferry_client *c;
};

static int setup_unix(void **state)
{
        struct fixture *f = ferry_xcalloc(1, sizeof(*f));
        _cleanup_free_ char *url = NULL;
        ferry_error_t err = {""};

        snprintf(f->dir, sizeof(f->dir), "/tmp/ferry-cli-test-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->sock, sizeof(f->sock), "%s/s.sock", f->dir);
        f->srv = mock_server_start(f->sock);
        url = ferry_xasprintf("unix://%s", f->sock);
        assert_int_equal(ferry_client_new(url, NULL, &f->c, &err), 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        ferry_client_free(f->c);
        mock_server_stop(f->srv);
        if (f->dir[0])
                ferry_rm_rf(f->dir);
        free(f);
        return 0;
}

static void answer(struct fixture *f, unsigned code, const char *ctype, const char *body)
{
        struct mock_answer a = {.code = code, .content_type = ctype, .body = body};
        mock_server_answer(f->srv, &a);
}

static void test_create_unix(void **state)
{
        struct fixture *f = *state;
        ferry_error_t err = {""};
        char *uid = NULL, *jid = NULL;
        const char *body = "{\"pod\":{\"metadata\":{\"name\":\"p\"}},\"configmaps\":[],"
                           "\"secrets\":[],\"projectedvolumesmaps\":[],\"jobscriptURL\":\"\"}";

        answer(f, 200, NULL, "{\"PodUID\":\"u-1\",\"PodJID\":\"42\"}");
        assert_int_equal(ferry_client_create(f->c, body, &uid, &jid, &err), 0);
        assert_string_equal(uid, "u-1");
        assert_string_equal(jid, "42");
        free(uid);
        free(jid);

        struct mock_request r = mock_server_last(f->srv);
        assert_string_equal(r.method, "POST");
        assert_string_equal(r.path, "/create");
        assert_string_equal(r.host, "unix");
        assert_string_equal(r.content_type, "application/json");
        assert_true(ferry_str_startswith(r.session, "CreatePod#"));
        assert_string_equal(r.authorization, "");
        assert_int_equal(r.body_len, strlen(body));
        assert_memory_equal(r.body, body, r.body_len);

        /* the session number moves on */
        char first[128];
        snprintf(first, sizeof(first), "%s", r.session);
        answer(f, 200, NULL, "[{\"PodUID\":\"u-2\",\"PodJID\":\"43\"}]"); /* v0.4 style */
        assert_int_equal(ferry_client_create(f->c, body, &uid, &jid, &err), 0);
        assert_string_equal(uid, "u-2");
        free(uid);
        free(jid);
        r = mock_server_last(f->srv);
        assert_string_not_equal(r.session, first);

        answer(f, 200, NULL, "{\"something\":\"else\"}");
        assert_int_equal(ferry_client_create(f->c, body, &uid, &jid, &err), -EPROTO);
        assert_non_null(strstr(err.text, "CreateStruct"));
}

static void test_status_get_with_body(void **state)
{
        struct fixture *f = *state;
        ferry_error_t err = {""};
        json_t *ans = NULL;

        answer(f, 200, NULL,
               "[{\"name\":\"p\",\"UID\":\"u\",\"namespace\":\"default\",\"JID\":\"1\","
               "\"containers\":null,\"initContainers\":null}]");
        assert_int_equal(ferry_client_status(f->c, NULL, &ans, &err), 0);
        assert_int_equal(json_array_size(ans), 1);
        json_decref(ans);
        struct mock_request r = mock_server_last(f->srv);
        assert_string_equal(r.method, "GET");
        assert_string_equal(r.path, "/status");
        assert_true(ferry_str_startswith(r.session, "GetStatus#"));
        assert_int_equal(r.body_len, 2);
        assert_memory_equal(r.body, "[]", 2);

        const char *pods = "[{\"metadata\":{\"name\":\"p\",\"uid\":\"u\"}}]";
        answer(f, 200, NULL, "null"); /* Go's empty slice */
        assert_int_equal(ferry_client_status(f->c, pods, &ans, &err), 0);
        assert_true(json_is_array(ans));
        assert_int_equal(json_array_size(ans), 0);
        json_decref(ans);
        r = mock_server_last(f->srv);
        assert_int_equal(r.body_len, strlen(pods));
        assert_memory_equal(r.body, pods, r.body_len);

        answer(f, 200, NULL, "{not json");
        assert_int_equal(ferry_client_status(f->c, NULL, &ans, &err), -EPROTO);
}

static void test_delete_and_errors(void **state)
{
        struct fixture *f = *state;
        ferry_error_t err = {""};
        const char *pod = "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"uid\":\"u\"}}";

        answer(f, 200, "text/plain", "Pod deleted");
        assert_int_equal(ferry_client_delete(f->c, pod, &err), 0);
        struct mock_request r = mock_server_last(f->srv);
        assert_string_equal(r.method, "DELETE");
        assert_string_equal(r.path, "/delete");
        assert_true(ferry_str_startswith(r.session, "DeletePod#"));
        assert_memory_equal(r.body, pod, strlen(pod));

        answer(f, 404, NULL, "{\"error\":\"pod u not found\",\"reason\":\"NotFound\"}");
        assert_int_equal(ferry_client_delete(f->c, pod, &err), -ENOENT);
        assert_non_null(strstr(err.text, "404"));
        assert_non_null(strstr(err.text, "pod u not found (NotFound)"));
        assert_int_equal(ferry_client_last_http_code(f->c), 404);

        answer(f, 500, "text/plain", "backend exploded\n");
        assert_int_equal(ferry_client_delete(f->c, pod, &err), -EIO);
        assert_non_null(strstr(err.text, "500"));
        assert_non_null(strstr(err.text, "backend exploded"));
        assert_false(ferry_client_unreachable(-EIO));
        assert_false(ferry_error_transient(-EIO));

        /* a site that is busy or restarting: transient, told apart from a refusal */
        answer(f, 503, NULL, "{\"error\":\"the store is busy\",\"reason\":\"Unavailable\"}");
        assert_int_equal(ferry_client_delete(f->c, pod, &err), -EAGAIN);
        assert_true(ferry_error_transient(-EAGAIN));
        answer(f, 504, "text/plain", "upstream timed out\n");
        assert_int_equal(ferry_client_delete(f->c, pod, &err), -ETIMEDOUT);
        answer(f, 409, NULL, "{\"error\":\"pod u is being deleted\"}");
        assert_int_equal(ferry_client_delete(f->c, pod, &err), -EEXIST);
        assert_false(ferry_error_transient(-EEXIST));
        answer(f, 422, NULL, "{\"error\":\"hostPath volumes are not allowed\"}");
        assert_int_equal(ferry_client_delete(f->c, pod, &err), -EOPNOTSUPP);
        assert_false(ferry_error_transient(-EOPNOTSUPP));
        answer(f, 401, NULL, "{\"error\":\"a bearer token is required\"}");
        assert_int_equal(ferry_client_delete(f->c, pod, &err), -EKEYREJECTED);
        assert_non_null(strstr(err.text, "check --token-file"));

        answer(f, 403, NULL, "{\"error\":\"token may not act on namespace b\"}");
        assert_int_equal(ferry_client_delete(f->c, pod, &err), -EACCES);
        assert_non_null(strstr(err.text, "namespace b"));

        answer(f, 400, "text/plain", "");
        assert_int_equal(ferry_client_delete(f->c, pod, &err), -EINVAL);
        assert_non_null(strstr(err.text, "(no message)"));
}

struct chunks {
        struct ferry_buf all;
        unsigned calls;
        int stop_after;
};

static int on_chunk(void *ctx, const char *data, size_t len)
{
        struct chunks *c = ctx;

        c->calls++;
        ferry_buf_add(&c->all, data, len);
        if (c->stop_after && (int)c->calls >= c->stop_after)
                return -ECANCELED;
        return 0;
}

static void test_logs_streamed(void **state)
{
        struct fixture *f = *state;
        ferry_error_t err = {""};
        struct chunks ch = {FERRY_BUF_INIT, 0, 0};
        const char *lines = "line 1\nline 2\nline 3\nline 4\n";
        struct mock_answer a = {.code = 200,
                                .content_type = "text/plain",
                                .body = lines,
                                .n_chunks = 4,
                                .delay_ms = 50};
        const char *ls = "{\"Namespace\":\"default\",\"PodUID\":\"u\",\"PodName\":\"p\","
                         "\"ContainerName\":\"c\",\"Opts\":{\"Follow\":true}}";

        mock_server_answer(f->srv, &a);
        assert_int_equal(ferry_client_logs(f->c, ls, on_chunk, &ch, &err), 0);
        assert_string_equal(ch.all.data, lines);
        /* delivered as they came, not at the end */
        assert_true(ch.calls >= 4);
        struct mock_request r = mock_server_last(f->srv);
        assert_string_equal(r.method, "GET");
        assert_string_equal(r.path, "/getLogs");
        assert_true(ferry_str_startswith(r.session, "GetLogs#"));
        assert_memory_equal(r.body, ls, strlen(ls));
        ferry_buf_free(&ch.all);

        /* the callback can stop the stream; its error comes back */
        struct chunks stop = {FERRY_BUF_INIT, 0, 2};
        assert_int_equal(ferry_client_logs(f->c, ls, on_chunk, &stop, &err), -ECANCELED);
        assert_int_equal(stop.calls, 2);
        ferry_buf_free(&stop.all);

        /* an error answer is not fed to the callback */
        struct chunks none = {FERRY_BUF_INIT, 0, 0};
        answer(f, 400, "text/plain", "Tail and Bytes are both set");
        assert_int_equal(ferry_client_logs(f->c, ls, on_chunk, &none, &err), -EINVAL);
        assert_int_equal(none.calls, 0);
        assert_non_null(strstr(err.text, "Tail and Bytes are both set"));
        ferry_buf_free(&none.all);
}

static void test_ping(void **state)
{
        struct fixture *f = *state;
        ferry_error_t err = {""};
        char *body = NULL;
        long code = 0;

        answer(f, 200, NULL, "{\"status\":\"ok\",\"resources\":{\"cpu\":\"16\"}}");
        assert_int_equal(ferry_client_ping(f->c, &body, &code, &err), 0);
        assert_int_equal(code, 200);
        assert_non_null(strstr(body, "\"cpu\""));
        free(body);
        struct mock_request r = mock_server_last(f->srv);
        assert_string_equal(r.path, "/pinglink");
        assert_true(ferry_str_startswith(r.session, "PingInterLink#"));

        answer(f, 503, "text/plain", "backend down");
        assert_int_equal(ferry_client_ping(f->c, &body, &code, &err), 0);
        assert_int_equal(code, 503);
        assert_string_equal(body, "backend down");
        free(body);
}

static void test_tcp_with_token(void **state)
{
        struct mock_server *srv = mock_server_start(NULL);
        char dir[] = "/tmp/ferry-cli-tok-XXXXXX";
        _cleanup_free_ char *tok = NULL, *url = NULL;
        struct ferry_client *c = NULL;
        ferry_error_t err = {""};
        json_t *ans = NULL;

        assert_non_null(mkdtemp(dir));
        tok = ferry_xasprintf("%s/token", dir);
        assert_int_equal(ferry_write_file_atomic(tok, "  s3cret-token\n\n", 16, 0600, false), 0);
        url = ferry_xasprintf("http://127.0.0.1:%u", mock_server_port(srv));
        assert_int_equal(ferry_client_new(url, tok, &c, &err), 0);
        assert_string_equal(ferry_client_url(c), url);
        struct mock_answer a = {.code = 200, .body = "[]"};
        mock_server_answer(srv, &a);
        assert_int_equal(ferry_client_status(c, NULL, &ans, &err), 0);
        json_decref(ans);
        struct mock_request r = mock_server_last(srv);
        assert_string_equal(r.authorization, "Bearer s3cret-token");
        assert_true(ferry_str_startswith(r.host, "127.0.0.1:"));
        ferry_client_free(c);
        mock_server_stop(srv);

        /* bad token files are refused before any request */
        assert_int_equal(ferry_write_file_atomic(tok, " \n", 2, 0600, false), 0);
        assert_int_equal(ferry_client_new(url, tok, &c, &err), -EINVAL);
        assert_non_null(strstr(err.text, "empty"));
        _cleanup_free_ char *missing = ferry_xasprintf("%s/nope", dir);
        assert_int_equal(ferry_client_new(url, missing, &c, &err), -ENOENT);
        assert_non_null(strstr(err.text, "cannot read token file"));
        ferry_rm_rf(dir);
}

static void test_unreachable(void **state)
{
        struct ferry_client *c = NULL;
        ferry_error_t err = {""};
        json_t *ans = NULL;
        char *body = NULL;
        long code;

        /* no such socket */
        assert_int_equal(ferry_client_new("unix:///tmp/ferry-no-such-dir/x.sock", NULL, &c, &err),
                         0);
        int r = ferry_client_status(c, NULL, &ans, &err);
        assert_int_equal(r, -ECONNREFUSED);
        assert_true(ferry_client_unreachable(r));
        assert_non_null(strstr(err.text, "cannot reach unix:///tmp/ferry-no-such-dir/x.sock"));
        assert_int_equal(ferry_client_ping(c, &body, &code, &err), -ECONNREFUSED);
        ferry_client_free(c);

        /* a TCP port nobody listens on */
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t len = sizeof(sa);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        close(fd);
        _cleanup_free_ char *url = ferry_xasprintf("http://127.0.0.1:%u", ntohs(sa.sin_port));
        assert_int_equal(ferry_client_new(url, NULL, &c, &err), 0);
        assert_int_equal(ferry_client_delete(c, "{}", &err), -ECONNREFUSED);
        ferry_client_free(c);

        assert_int_equal(ferry_client_new("gopher://x", NULL, &c, &err), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_create_unix, setup_unix, teardown),
            cmocka_unit_test_setup_teardown(test_status_get_with_body, setup_unix, teardown),
            cmocka_unit_test_setup_teardown(test_delete_and_errors, setup_unix, teardown),
            cmocka_unit_test_setup_teardown(test_logs_streamed, setup_unix, teardown),
            cmocka_unit_test_setup_teardown(test_ping, setup_unix, teardown),
            cmocka_unit_test(test_tcp_with_token),
            cmocka_unit_test(test_unreachable),
        };
        return cmocka_run_group_tests_name("interLink client", tests, NULL, NULL);
}
