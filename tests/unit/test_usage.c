/* SPDX-License-Identifier: MIT */
/* The usage ledger's pure part (src/usage): GPU fractions, records as JSON Lines, sums. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "usage/usage.h"

#define SEC 1000000000LL
#define T0 1796083200LL /* 2026-12-01T00:00:00Z */

static void test_fraction(void **state)
{
        (void)state;
        assert_true(ferry_usage_gpu_fraction("NVIDIA A100-SXM4-80GB", "gpu") == 1);
        assert_true(fabs(ferry_usage_gpu_fraction("NVIDIA A100-SXM4-80GB", "1g.10gb") - 1.0 / 7) <
                    1e-12);
        assert_true(fabs(ferry_usage_gpu_fraction("NVIDIA H200", "3g.71gb") - 3.0 / 7) < 1e-12);
        assert_true(fabs(ferry_usage_gpu_fraction("NVIDIA A30", "1g.6gb") - 1.0 / 4) < 1e-12);
        /* an unknown model: slices from the name, over 7 */
        assert_true(fabs(ferry_usage_gpu_fraction("Some GPU", "2g.20gb") - 2.0 / 7) < 1e-12);
        assert_true(ferry_usage_gpu_fraction("Some GPU", "7g.80gb") == 1);
}

static struct ferry_usage_rec rec(const char *uid, const char *tenant, const char *user,
                                  int64_t start_s, int64_t end_s, double cpu_s)
{
        struct ferry_usage_rec r = {0};
        r.uid = ferry_xstrdup(uid);
        r.ns = ferry_xstrdup(tenant);
        r.tenant = ferry_xstrdup(tenant);
        r.user = user ? ferry_xstrdup(user) : NULL;
        r.created_ns = start_s * SEC;
        r.started_ns = start_s * SEC;
        r.finished_ns = end_s ? end_s * SEC : 0;
        r.cpu_s = cpu_s;
        r.memory_peak_bytes = -1;
        r.reason = ferry_xstrdup(end_s ? "Completed" : "");
        return r;
}

static void add_gpu(struct ferry_usage_rec *r, const char *profile, double seconds)
{
        r->gpus = ferry_xrealloc(r->gpus, (r->n_gpus + 1) * sizeof(*r->gpus));
        struct ferry_usage_gpu *g = &r->gpus[r->n_gpus++];
        memset(g, 0, sizeof(*g));
        snprintf(g->uuid, sizeof(g->uuid), "MIG-%zu", r->n_gpus);
        snprintf(g->model, sizeof(g->model), "NVIDIA A100-SXM4-80GB");
        snprintf(g->profile, sizeof(g->profile), "%s", profile);
        g->seconds = seconds;
}

static void test_json_roundtrip(void **state)
{
        (void)state;
        struct ferry_usage_rec r = rec("u-1", "physics", "alice", T0, T0 + 10, 2.5), back;
        add_gpu(&r, "1g.10gb", 10);
        r.exit_code = 3;
        struct ferry_buf b = FERRY_BUF_INIT;
        ferry_usage_rec_json(&r, 0, &b);
        assert_non_null(strstr(b.data, "\"started\":\"2026-12-01T00:00:00.000Z\""));
        assert_non_null(strstr(b.data, "\"wall_seconds\":10.000"));
        assert_non_null(strstr(b.data, "\"gpu_seconds\":1.429")); /* 10 s of a 1g on 7 slices */
        assert_null(strchr(b.data, '\n'));
        ferry_error_t err = {{0}};
        assert_int_equal(ferry_usage_rec_parse(b.data, b.len, &back, &err), 0);
        assert_string_equal(back.user, "alice");
        assert_int_equal(back.finished_ns, (T0 + 10) * SEC);
        assert_int_equal(back.n_gpus, 1);
        assert_string_equal(back.gpus[0].profile, "1g.10gb");
        assert_int_equal(back.exit_code, 3);
        struct ferry_buf b2 = FERRY_BUF_INIT;
        ferry_usage_rec_json(&back, 0, &b2);
        assert_string_equal(b.data, b2.data);
        ferry_usage_rec_clear(&back);
        assert_int_equal(ferry_usage_rec_parse("{\"name\":\"x\"}", 12, &back, &err), -EINVAL);
        assert_int_equal(
            ferry_usage_rec_parse("{\"uid\":\"x\",\"started\":\"yesterday\"}", 35, &back, &err),
            -EINVAL);
        ferry_usage_rec_clear(&r);
        ferry_buf_free(&b);
        ferry_buf_free(&b2);
}

/* A pod that ran 100 s half inside the window counts half its seconds;
 * it counts as a pod where it ended. */
static void test_sum_window(void **state)
{
        (void)state;
        int keys[FERRY_USAGE_BY_MAX];
        size_t nk = 0;
        ferry_error_t err = {{0}};
        assert_int_equal(ferry_usage_parse_by("tenant", keys, &nk, &err), 0);
        struct ferry_usage_sum *s =
            ferry_usage_sum_new((T0 + 50) * SEC, (T0 + 1000) * SEC, keys, nk, (T0 + 2000) * SEC);
        struct ferry_usage_rec a = rec("a", "physics", NULL, T0, T0 + 100, 10);
        add_gpu(&a, "gpu", 100);
        struct ferry_usage_rec b = rec("b", "physics", NULL, T0 + 900, 0, 0);        /* runs on */
        struct ferry_usage_rec c = rec("c", "astro", NULL, T0 + 1500, T0 + 1600, 5); /* after */
        ferry_usage_sum_add(s, &a);
        ferry_usage_sum_add(s, &b);
        ferry_usage_sum_add(s, &c);
        struct ferry_buf out = FERRY_BUF_INIT;
        assert_int_equal(ferry_usage_sum_render(s, "json", &out, &err), 0);
        /* a: 50 of its 100 s, 5 CPU-s, 50 GPU-s; b: 100 s of the window, not ended here */
        assert_string_equal(out.data, "{\"by\":[\"tenant\"],\"groups\":[{\"tenant\":\"physics\","
                                      "\"pods\":1,\"running\":0,\"wall_seconds\":150.000,"
                                      "\"cpu_seconds\":5.000,\"gpu_seconds\":50.000}]}\n");
        ferry_buf_free(&out);
        ferry_usage_sum_free(s);
        ferry_usage_rec_clear(&a);
        ferry_usage_rec_clear(&b);
        ferry_usage_rec_clear(&c);
}

/* --by day splits a pod across midnight; --by day,user groups by both; CSV
 * and the table. */
static void test_sum_day_user(void **state)
{
        (void)state;
        int keys[FERRY_USAGE_BY_MAX];
        size_t nk = 0;
        ferry_error_t err = {{0}};
        assert_int_equal(ferry_usage_parse_by("day,user", keys, &nk, &err), 0);
        assert_int_equal(nk, 2);
        size_t nk2 = 0;
        int k2[FERRY_USAGE_BY_MAX];
        assert_int_equal(ferry_usage_parse_by("day,day", k2, &nk2, &err), -EINVAL);
        nk2 = 0;
        assert_int_equal(ferry_usage_parse_by("week", k2, &nk2, &err), -EINVAL);
        assert_non_null(strstr(err.text, "week"));

        struct ferry_usage_sum *s = ferry_usage_sum_new(0, 0, keys, nk, (T0 + 3 * 86400) * SEC);
        /* 22:00 to 04:00: 2 h on the 1st, 4 h on the 2nd; 6 CPU-hours */
        struct ferry_usage_rec a =
            rec("a", "physics", "alice", T0 + 22 * 3600, T0 + 28 * 3600, 6 * 3600.0);
        struct ferry_usage_rec b = rec("b", "physics", "bob,jr", T0 + 3600, T0 + 2 * 3600, 3600.0);
        ferry_usage_sum_add(s, &a);
        ferry_usage_sum_add(s, &b);
        assert_int_equal(ferry_usage_sum_groups(s), 3);
        struct ferry_buf out = FERRY_BUF_INIT;
        assert_int_equal(ferry_usage_sum_render(s, "csv", &out, &err), 0);
        assert_string_equal(out.data, "day,user,pods,running,wall_hours,cpu_hours,gpu_hours\n"
                                      "2026-12-01,alice,0,0,2.000,2.000,0.000\n"
                                      "2026-12-01,\"bob,jr\",1,0,1.000,1.000,0.000\n"
                                      "2026-12-02,alice,1,0,4.000,4.000,0.000\n");
        ferry_buf_free(&out);
        assert_int_equal(ferry_usage_sum_render(s, "table", &out, &err), 0);
        assert_non_null(strstr(out.data, "DAY          USER     PODS"));
        ferry_buf_free(&out);
        assert_int_equal(ferry_usage_sum_render(s, "yaml", &out, &err), -EINVAL);
        ferry_buf_free(&out);
        ferry_usage_sum_free(s);
        ferry_usage_rec_clear(&a);
        ferry_usage_rec_clear(&b);
}

/* --by profile: each kind of device its own GPU-seconds, weighted by slices */
static void test_sum_profile(void **state)
{
        (void)state;
        int keys[FERRY_USAGE_BY_MAX];
        size_t nk = 0;
        ferry_error_t err = {{0}};
        assert_int_equal(ferry_usage_parse_by("profile", keys, &nk, &err), 0);
        struct ferry_usage_sum *s = ferry_usage_sum_new(0, 0, keys, nk, (T0 + 1000) * SEC);
        struct ferry_usage_rec a = rec("a", "p", NULL, T0, T0 + 70, 1);
        add_gpu(&a, "1g.10gb", 70);
        add_gpu(&a, "1g.10gb", 70);
        add_gpu(&a, "gpu", 70);
        struct ferry_usage_rec b = rec("b", "p", NULL, T0, T0 + 10, 1);
        ferry_usage_sum_add(s, &a);
        ferry_usage_sum_add(s, &b);
        struct ferry_buf out = FERRY_BUF_INIT;
        assert_int_equal(ferry_usage_sum_render(s, "json", &out, &err), 0);
        assert_non_null(strstr(out.data, "{\"profile\":\"1g.10gb\",\"pods\":1,\"running\":0,"
                                         "\"wall_seconds\":70.000,\"cpu_seconds\":1.000,"
                                         "\"gpu_seconds\":20.000}"));
        assert_non_null(strstr(out.data, "{\"profile\":\"gpu\",\"pods\":0,\"running\":0,"
                                         "\"wall_seconds\":0.000,\"cpu_seconds\":0.000,"
                                         "\"gpu_seconds\":70.000}"));
        assert_non_null(strstr(out.data, "{\"profile\":\"none\",\"pods\":1,"));
        ferry_buf_free(&out);
        ferry_usage_sum_free(s);
        ferry_usage_rec_clear(&a);
        ferry_usage_rec_clear(&b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_fraction),    cmocka_unit_test(test_json_roundtrip),
            cmocka_unit_test(test_sum_window),  cmocka_unit_test(test_sum_day_user),
            cmocka_unit_test(test_sum_profile),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
