/* SPDX-License-Identifier: MIT */
/*
 * /getLogs through real HTTP on the local backend (host runtime), under
 * with-ferryd.sh: Follow streams lines while the container runs and ends when
 * it ends; Tail, Bytes, Timestamps and SinceTime cut the output as asked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "httpc.h"

static const char *srv;
#define UID "0000beef-0000-4000-8000-000000000001"

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct follow {
        char buf[4096];
        size_t len;
        double first_line_at; /* when "line 1" arrived */
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
        struct follow *f = ud;
        size_t add = sz * n;
        if (f->len + add < sizeof(f->buf)) {
                memcpy(f->buf + f->len, p, add);
                f->len += add;
                f->buf[f->len] = 0;
        }
        if (!f->first_line_at && strstr(f->buf, "line 1"))
                f->first_line_at = now_s();
        return add;
}

static char *logs(const char *opts)
{
        char body[512];
        struct http_answer a;
        snprintf(body, sizeof(body),
                 "{\"Namespace\":\"default\",\"PodUID\":\"" UID
                 "\",\"PodName\":\"talk\",\"ContainerName\":\"main\",\"Opts\":%s}",
                 opts);
        assert_int_equal(http_call(srv, "/getLogs", body, strlen(body), NULL, &a), 0);
        assert_int_equal(a.code, 200);
        return a.body;
}

static void test_follow_streams_then_ends(void **state)
{
        const char *create =
            "{\"pod\":{\"metadata\":{\"name\":\"talk\",\"namespace\":\"default\",\"uid\":\"" UID
            "\"},"
            "\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"x\",\"command\":[\"sh\",\"-"
            "c\"],"
            "\"args\":[\"for i in 1 2 3 4 5; do echo line $i; sleep 0.4; done\"]}]}}}";
        struct http_answer a;
        assert_int_equal(http_call(srv, "/create", create, strlen(create), NULL, &a), 0);
        assert_int_equal(a.code, 200);
        http_answer_free(&a);
        /* wait until the container started (logs of a waiting container are a 400) */
        for (int i = 0; i < 50; i++) {
                /* as a VK asks: upstream's API server forwards only Pending/Running pods */
                const char *q =
                    "[{\"metadata\":{\"uid\":\"" UID "\"},\"status\":{\"phase\":\"Pending\"}}]";
                http_call(srv, "/status", q, strlen(q), NULL, &a);
                bool started = strstr(a.body, "\"running\"") || strstr(a.body, "\"terminated\"");
                http_answer_free(&a);
                if (started)
                        break;
                usleep(50000);
        }
        CURL *c = curl_easy_init();
        struct follow f = {0};
        const char *body = "{\"Namespace\":\"default\",\"PodUID\":\"" UID
                           "\",\"ContainerName\":\"main\",\"Opts\":{\"Follow\":true}}";
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, srv + 7);
        curl_easy_setopt(c, CURLOPT_URL, "http://unix/getLogs");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
        double t0 = now_s();
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        double t_end = now_s();
        curl_easy_cleanup(c);
        /* all five lines, and the stream ended by itself after the container */
        assert_non_null(strstr(f.buf, "line 1\n"));
        assert_non_null(strstr(f.buf, "line 5\n"));
        /* streamed: the first line came well before the end of the stream */
        assert_true(f.first_line_at > 0);
        assert_true(t_end - f.first_line_at > 0.8);
        assert_true(t_end - t0 < 25);
}

static void test_options(void **state)
{
        char *s = logs("{\"Tail\":2}");
        assert_string_equal(s, "line 4\nline 5\n");
        free(s);
        s = logs("{\"Bytes\":9}");
        assert_string_equal(s, "line 1\nli");
        free(s);
        s = logs("{\"Tail\":1,\"Timestamps\":true}");
        /* "2026-11-27T03:20:01.123456789Z line 5" */
        assert_int_equal(strlen(s), 31 + 7);
        assert_true(s[4] == '-' && s[10] == 'T' && s[29] == 'Z');
        assert_string_equal(s + 31, "line 5\n");
        free(s);
        s = logs("{\"SinceTime\":\"2099-01-01T00:00:00Z\"}");
        assert_string_equal(s, "");
        free(s);
        s = logs("{\"SinceSeconds\":3600}");
        assert_non_null(strstr(s, "line 3"));
        free(s);
}

int main(void)
{
        srv = getenv("FERRY_SERVER");
        if (!srv || strncmp(srv, "unix://", 7) != 0)
                return 1;
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_follow_streams_then_ends),
            cmocka_unit_test(test_options),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
