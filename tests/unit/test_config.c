/* SPDX-License-Identifier: MIT */
/* ferryd's YAML configuration: keys, types, errors with line numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferryd/config.h"

static char path[64];

static int load(struct ferryd_config *c, const char *text, ferry_error_t *err)
{
        snprintf(path, sizeof(path), "/tmp/ferryd-config-XXXXXX");
        int fd = mkstemp(path);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
        ferryd_config_defaults(c);
        int r = ferryd_config_load(c, path, err);
        unlink(path);
        return r;
}

static void test_full(void **state)
{
        struct ferryd_config c;
        ferry_error_t err = {{0}};
        assert_int_equal(
            load(&c,
                 "listen: [unix:///run/a.sock, http://127.0.0.1:3000]\n"
                 "plugin_listen: unix:///run/p.sock\n"
                 "state_dir: /tmp/st\nbackend: fake\nruntime: host\n"
                 "tokens: /etc/ferry/tokens\ninsecure_tcp: false\nsocket_mode: \"0600\"\n"
                 "poll_interval_ms: 250\nlog_level: debug\n"
                 "backend_options: {duration_ms: \"5\", exit_code: 3}\n",
                 &err),
            0);
        assert_int_equal(c.n_listen, 3);
        assert_int_equal(c.listen[2].role, FERRY_ROLE_PLUGIN);
        assert_string_equal(c.listen[1].url, "http://127.0.0.1:3000");
        assert_string_equal(c.state_dir, "/tmp/st");
        assert_string_equal(c.backend, "fake");
        assert_int_equal(c.socket_mode, 0600);
        assert_int_equal(c.poll_interval_ms, 250);
        assert_int_equal(c.n_backend_options, 2);
        assert_string_equal(c.backend_options[1].value, "3");
        assert_int_equal(ferryd_config_set_option(&c, "exit_code=4", &err), 0);
        assert_string_equal(c.backend_options[1].value, "4");
        assert_int_equal(ferryd_config_set_option(&c, "novalue", &err), -EINVAL);
        ferryd_config_free(&c);
}

static void test_errors(void **state)
{
        struct ferryd_config c;
        ferry_error_t err = {{0}};
        assert_int_equal(load(&c, "backend: fake\nbakcend: local\n", &err), -EINVAL);
        assert_non_null(strstr(err.text, ":2: unknown key \"bakcend\""));
        ferryd_config_free(&c);
        assert_int_equal(load(&c, "poll_interval_ms: fast\n", &err), -EINVAL);
        assert_non_null(strstr(err.text, "poll_interval_ms"));
        ferryd_config_free(&c);
        assert_int_equal(load(&c, "listen: [a, [b]]\n", &err), -EINVAL);
        ferryd_config_free(&c);
        assert_int_equal(load(&c, "key: [unclosed\n", &err), -EINVAL);
        assert_non_null(strstr(err.text, ":2:"));
        ferryd_config_free(&c);
        assert_int_equal(load(&c, "", &err), 0); /* empty file: defaults */
        assert_string_equal(c.backend, "local");
        ferryd_config_free(&c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_full),
                                           cmocka_unit_test(test_errors)};
        return cmocka_run_group_tests(tests, NULL, NULL);
}
