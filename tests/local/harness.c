/* SPDX-License-Identifier: MIT */
#include "harness.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/spawn.h"
#include "common/util.h"
#include "logs/logfile.h"

static char state_dir[256];
static struct ferry_backend_option opt_store[16];

const char *h_state_dir(void)
{
        return state_dir;
}

void h_cleanup(void)
{
        /* a shim may still be writing its `done` marker after the last poll */
        for (int i = 0; i < 50 && state_dir[0] && !getenv("FERRY_KEEP_TEST_DIR"); i++) {
                if (ferry_rm_rf(state_dir) == 0 && access(state_dir, F_OK) < 0)
                        break;
                usleep(100000);
        }
}

bool h_have_bwrap(void)
{
        static int have = -1;
        if (have < 0) {
                const char *argv[] = {"bwrap",         "--ro-bind",         "/",    "/",
                                      "--unshare-all", "--die-with-parent", "true", NULL};
                struct ferry_spawn_result r;
                have = ferry_spawn_run(argv, NULL, NULL, 0, 10000, 4096, &r, NULL) == 0 &&
                       r.exit_code == 0;
                if (have == 1)
                        ferry_spawn_result_free(&r);
        }
        return have == 1;
}

struct ferry_backend *h_backend(const char *runtime, const char *const *opts)
{
        struct ferry_backend_config cfg = {0};
        struct ferry_backend *be = NULL;
        ferry_error_t err = {{0}};
        size_t n = 0;

        if (!state_dir[0]) {
                snprintf(state_dir, sizeof(state_dir), "/tmp/ferry-local-test.XXXXXX");
                assert_non_null(mkdtemp(state_dir));
        }
        for (; opts && opts[n] && n < FERRY_ARRAY_SIZE(opt_store); n++) {
                const char *eq = strchr(opts[n], '=');
                free(opt_store[n].key);
                free(opt_store[n].value);
                opt_store[n].key = ferry_xstrndup(opts[n], (size_t)(eq - opts[n]));
                opt_store[n].value = ferry_xstrdup(eq + 1);
        }
        /* the host runtime refuses namespaces the admin did not allow */
        if (strcmp(runtime, "host") == 0 && n < FERRY_ARRAY_SIZE(opt_store)) {
                free(opt_store[n].key);
                free(opt_store[n].value);
                opt_store[n].key = ferry_xstrdup("host_namespaces");
                opt_store[n++].value = ferry_xstrdup("*");
        }
        cfg.name = "local";
        cfg.state_dir = state_dir;
        cfg.runtime = runtime;
        cfg.options = opt_store;
        cfg.n_options = n;
        int r = ferry_backend_new(&cfg, &be, &err);
        if (r < 0)
                print_error("backend: %s\n", err.text);
        assert_int_equal(r, 0);
        return be;
}

void h_backend_free(struct ferry_backend *be)
{
        ferry_backend_free(be);
}

struct h_pod *h_parse(const char *json)
{
        struct h_pod *p = ferry_xcalloc(1, sizeof(*p));
        ferry_error_t err = {{0}};
        int r = ferry_pod_parse(json, strlen(json), FERRY_BODY_CREATE_A, &ferry_default_limits,
                                &p->pod, &err);
        if (r < 0)
                print_error("parse: %s\n", err.text);
        assert_int_equal(r, 0);
        const char **in = ferry_xcalloc(p->pod->n_init + 1, sizeof(char *));
        const char **cn = ferry_xcalloc(p->pod->n_containers + 1, sizeof(char *));
        for (size_t i = 0; i < p->pod->n_init; i++)
                in[i] = p->pod->init[i].name;
        for (size_t i = 0; i < p->pod->n_containers; i++)
                cn[i] = p->pod->containers[i].name;
        ferry_pod_status_init(&p->st, in, p->pod->n_init, cn, p->pod->n_containers);
        free(in);
        free(cn);
        return p;
}

char *h_body(const char *uid, const char *name, const char *spec_json)
{
        return ferry_xasprintf("{\"pod\": {\"metadata\": {\"name\": \"%s\", \"namespace\": \"t\", "
                               "\"uid\": \"%s\"}, \"spec\": %s}}",
                               name, uid, spec_json);
}

int h_submit(struct ferry_backend *be, struct h_pod *p, ferry_error_t *err)
{
        return ferry_backend_submit(be, p->pod, p->jid, err);
}

void h_poll(struct ferry_backend *be, struct h_pod *p)
{
        struct ferry_poll_item it = {.uid = p->pod->uid, .jid = p->jid, .status = &p->st};
        ferry_error_t err = {{0}};
        assert_int_equal(ferry_backend_poll(be, &it, 1, &err), 0);
}

static void nap_ms(int ms)
{
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

int h_wait(struct ferry_backend *be, struct h_pod **pods, size_t n, int timeout_s)
{
        int64_t end = ferry_monotonic_ns() + (int64_t)timeout_s * 1000000000LL;
        struct ferry_poll_item *items = ferry_xcalloc(n, sizeof(*items));
        ferry_error_t err = {{0}};
        for (size_t i = 0; i < n; i++)
                items[i] = (struct ferry_poll_item){pods[i]->pod->uid, pods[i]->jid, &pods[i]->st};
        for (;;) {
                assert_int_equal(ferry_backend_poll(be, items, n, &err), 0);
                size_t done = 0;
                for (size_t i = 0; i < n; i++)
                        done += pods[i]->st.phase == FERRY_PHASE_SUCCEEDED ||
                                pods[i]->st.phase == FERRY_PHASE_FAILED;
                if (done == n || ferry_monotonic_ns() > end)
                        break;
                nap_ms(20);
        }
        free(items);
        return n ? pods[0]->st.phase : 0;
}

struct ferry_cstatus *h_c(struct h_pod *p, const char *name)
{
        struct ferry_cstatus *c = ferry_pod_status_find(&p->st, name);
        assert_non_null(c);
        return c;
}

bool h_wait_running(struct ferry_backend *be, struct h_pod *p, const char *name, int timeout_s)
{
        int64_t end = ferry_monotonic_ns() + (int64_t)timeout_s * 1000000000LL;
        while (ferry_monotonic_ns() < end) {
                h_poll(be, p);
                if (h_c(p, name)->state == FERRY_C_RUNNING)
                        return true;
                nap_ms(20);
        }
        return false;
}

static int emit(void *ctx, const char *data, size_t len)
{
        ferry_buf_add(ctx, data, len);
        return 0;
}

char *h_log(struct ferry_backend *be, struct h_pod *p, const char *container)
{
        char path[4096];
        ferry_error_t err = {{0}};

        if (ferry_backend_log_path(be, p->pod->uid, p->jid, container, path, sizeof(path), &err) <
            0)
                return NULL;
        return h_log_file(path);
}

char *h_log_file(const char *path)
{
        struct ferry_log_opts o = {.tail = -1, .limit_bytes = -1};
        struct ferry_buf b = FERRY_BUF_INIT;

        ferry_buf_adds(&b, "");
        if (ferry_logfile_stream(path, &o, emit, NULL, &b) < 0) {
                ferry_buf_free(&b);
                return NULL;
        }
        return ferry_buf_steal(&b);
}

int h_kill(struct ferry_backend *be, struct h_pod *p, int64_t grace, int timeout_s)
{
        int64_t end = ferry_monotonic_ns() + (int64_t)timeout_s * 1000000000LL;
        ferry_error_t err = {{0}};
        int n = 0;
        for (;;) {
                int r = ferry_backend_kill(be, p->pod->uid, p->jid, grace, &err);
                if (r == 0)
                        return n;
                if (r != -EINPROGRESS) {
                        print_error("kill: %s\n", err.text);
                        return -1;
                }
                n++;
                if (ferry_monotonic_ns() > end)
                        return -1;
                nap_ms(50);
        }
}

void h_pod_free(struct h_pod *p)
{
        if (!p)
                return;
        ferry_pod_status_clear(&p->st);
        ferry_pod_free(p->pod);
        free(p);
}
