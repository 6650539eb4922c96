/* SPDX-License-Identifier: MIT */
/* The event recorder's correlation, with a fake API writer and a fixed clock. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "node/events.h"

#define S 1000000000LL
#define T0 (1700000000LL * S)

struct fake {
        json_t *writes; /* [{"method","path","obj"}] */
        json_t *events; /* path -> stored Event */
        int fail_next;  /* -errno for the next write */
};

static int fake_write(void *ctx, const char *method, const char *path, const json_t *obj,
                      ferry_error_t *err)
{
        struct fake *f = ctx;
        json_array_append_new(
            f->writes, json_pack("{s:s,s:s,s:O}", "method", method, "path", path, "obj", obj));
        if (f->fail_next) {
                int r = f->fail_next;
                f->fail_next = 0;
                return ferry_errprintf(err, r, "injected");
        }
        if (!strcmp(method, "POST")) {
                const char *name =
                    json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
                char *p = ferry_xasprintf("%s/%s", path, name);
                json_object_set_new(f->events, p, json_deep_copy(obj));
                free(p);
                return 0;
        }
        json_t *e = json_object_get(f->events, path);
        if (!e)
                return ferry_errprintf(err, -ENOENT, "not found");
        json_object_update(e, (json_t *)obj);
        return 0;
}

static json_t *pod(const char *name, const char *uid)
{
        return json_pack("{s:{s:s,s:s,s:s,s:s}}", "metadata", "namespace", "e2e", "name", name,
                         "uid", uid, "resourceVersion", "1234");
}

static const json_t *write_n(struct fake *f, size_t i)
{
        return json_array_get(f->writes, i);
}

static void test_aggregation(void **state)
{
        (void)state;
        struct fake f = {json_array(), json_object(), 0};
        struct ferry_events *ev = ferry_events_new(NULL, "ferry-node", "vk-1");
        ferry_events_set_writer(ev, fake_write, &f);
        json_t *p = pod("web", "u-1");
        json_t *ref = ferry_events_pod_ref(p);

        /* five repeats before a flush: one Event with count 5 */
        for (int i = 0; i < 5; i++)
                ferry_events_emit_at(ev, T0 + i * S, ref, "Warning", "FailedMount",
                                     "configmap \"x\" not found");
        assert_int_equal(ferry_events_flush(ev, T0 + 5 * S), 1);
        const json_t *w = write_n(&f, 0);
        assert_string_equal(json_string_value(json_object_get(w, "method")), "POST");
        assert_string_equal(json_string_value(json_object_get(w, "path")),
                            "/api/v1/namespaces/e2e/events");
        const json_t *e = json_object_get(w, "obj");
        assert_int_equal(json_integer_value(json_object_get(e, "count")), 5);
        assert_string_equal(json_string_value(json_object_get(e, "type")), "Warning");
        assert_string_equal(json_string_value(json_object_get(e, "firstTimestamp")),
                            "2023-11-14T22:13:20Z");
        assert_string_equal(json_string_value(json_object_get(e, "lastTimestamp")),
                            "2023-11-14T22:13:24Z");
        const json_t *io = json_object_get(e, "involvedObject");
        assert_string_equal(json_string_value(json_object_get(io, "kind")), "Pod");
        assert_string_equal(json_string_value(json_object_get(io, "apiVersion")), "v1");
        assert_string_equal(json_string_value(json_object_get(io, "namespace")), "e2e");
        assert_string_equal(json_string_value(json_object_get(io, "name")), "web");
        assert_string_equal(json_string_value(json_object_get(io, "uid")), "u-1");
        assert_string_equal(json_string_value(json_object_get(io, "resourceVersion")), "1234");
        const json_t *src = json_object_get(e, "source");
        assert_string_equal(json_string_value(json_object_get(src, "component")), "ferry-node");
        assert_string_equal(json_string_value(json_object_get(src, "host")), "vk-1");
        const char *name =
            json_string_value(json_object_get(json_object_get(e, "metadata"), "name"));
        assert_true(!strncmp(name, "web.", 4));

        /* nothing pending: no writes */
        assert_int_equal(ferry_events_flush(ev, T0 + 6 * S), 0);

        /* a repeat within the window, with another message: PATCH of the same Event */
        ferry_events_emit_at(ev, T0 + 60 * S, ref, "Warning", "FailedMount",
                             "secret \"y\" not found");
        assert_int_equal(ferry_events_flush(ev, T0 + 60 * S), 1);
        w = write_n(&f, 1);
        assert_string_equal(json_string_value(json_object_get(w, "method")), "PATCH");
        char *path = ferry_xasprintf("/api/v1/namespaces/e2e/events/%s", name);
        assert_string_equal(json_string_value(json_object_get(w, "path")), path);
        e = json_object_get(f.events, path);
        assert_int_equal(json_integer_value(json_object_get(e, "count")), 6);
        assert_string_equal(json_string_value(json_object_get(e, "message")),
                            "secret \"y\" not found");
        assert_string_equal(json_string_value(json_object_get(e, "firstTimestamp")),
                            "2023-11-14T22:13:20Z");
        assert_string_equal(json_string_value(json_object_get(e, "lastTimestamp")),
                            "2023-11-14T22:14:20Z");

        /* another reason on the same pod: its own Event */
        ferry_events_emit_at(ev, T0 + 61 * S, ref, "Warning", "ProviderFailed", "no");
        assert_int_equal(ferry_events_flush(ev, T0 + 61 * S), 1);
        assert_string_equal(json_string_value(json_object_get(write_n(&f, 2), "method")), "POST");

        /* after the window: a new Event */
        ferry_events_emit_at(ev, T0 + 60 * S + (FERRY_EVENTS_WINDOW_S + 1) * S, ref, "Warning",
                             "FailedMount", "z");
        assert_int_equal(ferry_events_flush(ev, T0 + 60 * S + (FERRY_EVENTS_WINDOW_S + 1) * S), 1);
        w = write_n(&f, 3);
        assert_string_equal(json_string_value(json_object_get(w, "method")), "POST");
        assert_int_equal(json_integer_value(json_object_get(json_object_get(w, "obj"), "count")),
                         1);

        struct ferry_events_stats st;
        ferry_events_stats(ev, &st);
        assert_int_equal(st.created, 3);
        assert_int_equal(st.updated, 1);
        free(path);
        json_decref(ref);
        json_decref(p);
        ferry_events_free(ev);
        json_decref(f.writes);
        json_decref(f.events);
}

static void test_expired_and_errors(void **state)
{
        (void)state;
        struct fake f = {json_array(), json_object(), 0};
        struct ferry_events *ev = ferry_events_new(NULL, "ferry-node", "vk-1");
        ferry_events_set_writer(ev, fake_write, &f);
        json_t *ref = ferry_events_node_ref("vk-1", NULL);
        assert_string_equal(json_string_value(json_object_get(ref, "uid")), "vk-1");

        ferry_events_emit_at(ev, T0, ref, "Warning", "NodeNotReady", "down");
        ferry_events_flush(ev, T0);
        /* node events go to "default" */
        assert_string_equal(json_string_value(json_object_get(write_n(&f, 0), "path")),
                            "/api/v1/namespaces/default/events");
        /* the Event vanished (TTL): the PATCH's 404 makes a new one */
        json_object_clear(f.events);
        ferry_events_emit_at(ev, T0 + S, ref, "Warning", "NodeNotReady", "down");
        assert_int_equal(ferry_events_flush(ev, T0 + S), 2);
        assert_string_equal(json_string_value(json_object_get(write_n(&f, 1), "method")), "PATCH");
        assert_string_equal(json_string_value(json_object_get(write_n(&f, 2), "method")), "POST");

        /* the API is down: kept and merged with the next occurrences */
        f.fail_next = -ECONNREFUSED;
        ferry_events_emit_at(ev, T0 + 2 * S, ref, "Normal", "NodeReady", "up");
        assert_int_equal(ferry_events_flush(ev, T0 + 2 * S), 1);
        ferry_events_emit_at(ev, T0 + 3 * S, ref, "Normal", "NodeReady", "up");
        assert_int_equal(ferry_events_flush(ev, T0 + 3 * S), 1);
        const json_t *e = json_object_get(write_n(&f, 4), "obj");
        assert_int_equal(json_integer_value(json_object_get(e, "count")), 2);
        assert_string_equal(json_string_value(json_object_get(e, "firstTimestamp")),
                            "2023-11-14T22:13:22Z");

        /* a flood of distinct objects: bounded, the excess counted as dropped */
        for (int i = 0; i < FERRY_EVENTS_MAX_PENDING + 10; i++) {
                char uid[32];
                snprintf(uid, sizeof(uid), "u-%d", i);
                json_t *p = pod(uid, uid), *r = ferry_events_pod_ref(p);
                ferry_events_emit_at(ev, T0 + 4 * S, r, "Normal", "Submitted", "x");
                json_decref(r);
                json_decref(p);
        }
        struct ferry_events_stats st;
        ferry_events_stats(ev, &st);
        assert_int_equal(st.dropped, 10);
        assert_int_equal(ferry_events_flush(ev, T0 + 4 * S), FERRY_EVENTS_MAX_PENDING);
        json_decref(ref);
        ferry_events_free(ev);
        json_decref(f.writes);
        json_decref(f.events);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_aggregation),
            cmocka_unit_test(test_expired_and_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
