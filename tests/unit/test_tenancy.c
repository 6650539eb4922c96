/* SPDX-License-Identifier: MIT */
/* The pure part of site tenancy (src/tenancy): config, pod requests, quota checks, fair share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "pod/pod.h"
#include "tenancy/tenancy.h"

static const char spec_example[] = "listen: unix:///run/ferry/ferryd.sock\n"
                                   "tenancy:\n"
                                   "  key: namespace\n"
                                   "  fair_share:\n"
                                   "    half_life: 24h\n"
                                   "  tenants:\n"
                                   "    - name: physics\n"
                                   "      weight: 2\n"
                                   "      quota:\n"
                                   "        cpu: \"64\"\n"
                                   "        memory: 256Gi\n"
                                   "        pods: 500\n"
                                   "        nvidia.com/gpu: 4\n"
                                   "        nvidia.com/mig-1g.10gb: 14\n"
                                   "    - name: \"*\"\n"
                                   "      quota: {nvidia.com/gpu: 1}\n";

static struct ferry_tn_config *parse_ok(const char *text)
{
        struct ferry_tn_config *c = NULL;
        ferry_error_t err = {{0}};
        int r = ferry_tn_config_parse(text, strlen(text), "ferryd.yaml", &c, &err);
        if (r < 0)
                fail_msg("parse: %s", err.text);
        return c;
}

static void test_spec_example(void **state)
{
        (void)state;
        struct ferry_tn_config *c = parse_ok(spec_example);
        assert_null(c->label);
        assert_int_equal(c->half_life_s, 86400);
        assert_int_equal(c->n_tenants, 2);
        int mig = ferry_tn_res_index(c, "nvidia.com/mig-1g.10gb");
        assert_int_equal(mig, FERRY_TN_FIXED);
        assert_int_equal(ferry_tn_res_index(c, "nvidia.com/mig-2g.20gb"), -1);
        const struct ferry_tn_tenant *p = ferry_tn_find(c, "physics");
        assert_string_equal(p->name, "physics");
        assert_true(p->weight == 2);
        assert_int_equal(p->quota.v[FERRY_TN_CPU], 64000);
        assert_int_equal(p->quota.v[FERRY_TN_MEMORY], 256LL << 30);
        assert_int_equal(p->quota.v[FERRY_TN_PODS], 500);
        assert_int_equal(p->quota.v[FERRY_TN_GPU], 4);
        assert_int_equal(p->quota.v[mig], 14);
        const struct ferry_tn_tenant *o = ferry_tn_find(c, "biology");
        assert_string_equal(o->name, "*");
        assert_true(o->weight == 1);
        assert_int_equal(o->quota.v[FERRY_TN_GPU], 1);
        assert_int_equal(o->quota.v[FERRY_TN_CPU], -1); /* not named: unlimited */
        ferry_tn_config_free(c);
}

/* Each bad config fails with the line of the culprit and a word of why. */
static void test_bad_configs(void **state)
{
        (void)state;
        static const struct {
                const char *yaml, *want;
        } cases[] = {
            {"tenancy:\n  tenants:\n    - name: a\n      quota: {cpu: \"-1\"}\n",
             "ferryd.yaml:4: tenancy: quota cpu must be a quantity of at least 0"},
            {"tenancy:\n  tenants:\n    - name: a\n      quota:\n        nvidia.com/gpus: 1\n",
             "ferryd.yaml:5: tenancy: unknown resource \"nvidia.com/gpus\""},
            {"tenancy:\n  tenants:\n    - name: a\n    - name: b\n    - name: a\n",
             "ferryd.yaml:5: tenancy: tenant \"a\" is listed twice"},
            {"tenancy:\n  colour: blue\n", "ferryd.yaml:2: tenancy: unknown key \"colour\""},
            {"tenancy:\n  tenants:\n    - name: a\n      wieght: 2\n",
             "ferryd.yaml:4: tenancy: unknown key \"wieght\" in a tenant"},
            {"tenancy:\n  tenants:\n    - name: a\n      quota: {nvidia.com/gpu: 1.5}\n",
             "quota nvidia.com/gpu must be a quantity of at least 0, whole"},
            {"tenancy:\n  tenants:\n    - name: a\n      weight: 0\n",
             "ferryd.yaml:4: tenancy: weight must be a number above 0"},
            {"tenancy:\n  fair_share: {half_life: soon}\n", "half_life must be a duration"},
            {"tenancy:\n  key: \"label:\"\n", "key is namespace or label:NAME"},
            {"tenancy:\n  tenants:\n    - weight: 2\n", "a tenant needs a name"},
            {"tenancy:\n  tenants:\n    - name: Physics\n", "a DNS label"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct ferry_tn_config *c = NULL;
                ferry_error_t err = {{0}};
                int r = ferry_tn_config_parse(cases[i].yaml, strlen(cases[i].yaml), "ferryd.yaml",
                                              &c, &err);
                if (r != -EINVAL || !strstr(err.text, cases[i].want))
                        fail_msg("case %zu: r=%d, got \"%s\", want \"%s\"", i, r, err.text,
                                 cases[i].want);
                assert_null(c);
        }
}

static struct ferry_pod *pod_of(const char *json)
{
        struct ferry_pod *pod = NULL;
        ferry_error_t err = {{0}};
        if (ferry_pod_parse(json, strlen(json), FERRY_BODY_CREATE_A, &ferry_default_limits, &pod,
                            &err) < 0)
                fail_msg("pod: %s", err.text);
        return pod;
}

/* As the scheduler counts: containers summed, the largest init container if
 * larger, requests over limits, MIG profiles a quota names, one pod. */
static void test_pod_request(void **state)
{
        (void)state;
        struct ferry_tn_config *c = parse_ok(spec_example);
        struct ferry_pod *pod = pod_of(
            "{\"pod\":{\"metadata\":{\"name\":\"p\",\"namespace\":\"physics\",\"uid\":"
            "\"00000000-0000-4000-8000-000000000001\",\"labels\":{\"group\":\"lhc\"}},\"spec\":{"
            "\"initContainers\":[{\"name\":\"i\",\"image\":\"x\",\"resources\":{\"requests\":{"
            "\"cpu\":\"3\",\"memory\":\"1Gi\"}}}],"
            "\"containers\":["
            "{\"name\":\"a\",\"image\":\"x\",\"resources\":{\"requests\":{\"cpu\":\"500m\"},"
            "\"limits\":{\"cpu\":\"2\",\"memory\":\"2Gi\",\"nvidia.com/mig-1g.10gb\":\"1\"}}},"
            "{\"name\":\"b\",\"image\":\"x\",\"resources\":{\"limits\":{\"cpu\":\"1\","
            "\"nvidia.com/gpu\":\"2\",\"nvidia.com/mig-3g.40gb\":\"1\"}}}]}}}");
        struct ferry_tn_vec v;
        ferry_tn_pod_request(c, pod, &v);
        assert_int_equal(v.v[FERRY_TN_CPU], 3000);         /* init 3 > 0.5 + 1 */
        assert_int_equal(v.v[FERRY_TN_MEMORY], 2LL << 30); /* 2Gi + 0 > 1Gi */
        assert_int_equal(v.v[FERRY_TN_GPU], 2);
        assert_int_equal(v.v[FERRY_TN_PODS], 1);
        assert_int_equal(v.v[ferry_tn_res_index(c, "nvidia.com/mig-1g.10gb")], 1);
        assert_string_equal(ferry_tn_tenant_of(c, pod), "physics");
        ferry_tn_config_free(c);
        c = parse_ok("tenancy:\n  key: label:group\n");
        assert_string_equal(ferry_tn_tenant_of(c, pod), "lhc");
        assert_null(ferry_tn_find(c, "lhc")); /* no tenants: unlimited */
        ferry_tn_config_free(c);
        ferry_pod_free(pod);
}

static void test_over_quota(void **state)
{
        (void)state;
        struct ferry_tn_config *c = parse_ok(spec_example);
        const struct ferry_tn_tenant *p = ferry_tn_find(c, "physics");
        struct ferry_tn_vec held = {{0}}, req = {{0}};
        held.v[FERRY_TN_GPU] = 3;
        req.v[FERRY_TN_GPU] = 1;
        req.v[FERRY_TN_PODS] = 1;
        assert_int_equal(ferry_tn_over(c, &p->quota, &held, &req), -1); /* 3 + 1 <= 4 */
        held.v[FERRY_TN_GPU] = 4;
        assert_int_equal(ferry_tn_over(c, &p->quota, &held, &req), FERRY_TN_GPU);
        req.v[FERRY_TN_GPU] = 0; /* a CPU pod passes a full GPU quota */
        req.v[FERRY_TN_CPU] = 64000;
        assert_int_equal(ferry_tn_over(c, &p->quota, &held, &req), -1);
        req.v[FERRY_TN_CPU] = 64001;
        assert_int_equal(ferry_tn_over(c, &p->quota, &held, &req), FERRY_TN_CPU);
        char buf[32];
        ferry_tn_describe(c, FERRY_TN_CPU, 1500, buf, sizeof(buf));
        assert_string_equal(buf, "1500m");
        ferry_tn_describe(c, FERRY_TN_CPU, 64000, buf, sizeof(buf));
        assert_string_equal(buf, "64");
        ferry_tn_describe(c, FERRY_TN_MEMORY, 256LL << 30, buf, sizeof(buf));
        assert_string_equal(buf, "256Gi");
        ferry_tn_config_free(c);
}

/* Usage halves in one half-life; the dominant share is the largest
 * resource share over the weight. */
static void test_fair_share(void **state)
{
        (void)state;
        struct ferry_tn_config *c = parse_ok("tenancy:\n  fair_share: {half_life: 1h}\n");
        double u[FERRY_TN_RES_MAX] = {0};
        struct ferry_tn_vec held = {{0}}, cap = {{0}};
        u[FERRY_TN_GPU] = 100;
        ferry_tn_decay(c, u, &held, 3600);
        assert_true(fabs(u[FERRY_TN_GPU] - 50) < 1e-9);
        held.v[FERRY_TN_GPU] = 2;
        ferry_tn_decay(c, u, &held, 0.5);
        assert_true(u[FERRY_TN_GPU] > 50.9 && u[FERRY_TN_GPU] < 51.0);
        cap.v[FERRY_TN_GPU] = 4;
        cap.v[FERRY_TN_CPU] = 64000;
        u[FERRY_TN_CPU] = 64000.0 * 20; /* 20 core-seconds per core of the site */
        u[FERRY_TN_GPU] = 40;           /* 10 GPU-seconds per GPU */
        assert_true(fabs(ferry_tn_dominant_share(c, u, &cap, 1) - 20) < 1e-9);
        assert_true(fabs(ferry_tn_dominant_share(c, u, &cap, 2) - 10) < 1e-9);
        ferry_tn_config_free(c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_spec_example), cmocka_unit_test(test_bad_configs),
            cmocka_unit_test(test_pod_request),  cmocka_unit_test(test_over_quota),
            cmocka_unit_test(test_fair_share),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
