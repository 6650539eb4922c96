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

/* ---- the admission round ---- */

#define CPU(n) ((n)*1000)
#define SEC 1000000000LL

static struct ferry_tn_wait wpod(size_t tenant, int64_t cpu_milli, int64_t created_s)
{
        struct ferry_tn_wait w = {.tenant = tenant, .created_ns = created_s * SEC};
        w.req.v[FERRY_TN_CPU] = cpu_milli;
        w.req.v[FERRY_TN_PODS] = 1;
        return w;
}

static struct ferry_tn_run rpod(size_t tenant, int64_t cpu_milli, int64_t started_s,
                                bool preemptible)
{
        struct ferry_tn_run r = {.tenant = tenant,
                                 .started_ns = started_s * SEC,
                                 .preemptible = preemptible,
                                 .claimed_by = -1};
        r.req.v[FERRY_TN_CPU] = cpu_milli;
        r.req.v[FERRY_TN_PODS] = 1;
        return r;
}

static void hold(struct ferry_tn_tstate *t, const struct ferry_tn_run *r)
{
        for (size_t i = 0; i < FERRY_TN_RES_MAX; i++) {
                t->held.v[i] += r->req.v[i];
                if (!r->preemptible)
                        t->held_g.v[i] += r->req.v[i];
        }
}

static struct ferry_tn_vec site(int64_t cpu_milli)
{
        struct ferry_tn_vec cap;
        for (size_t i = 0; i < FERRY_TN_RES_MAX; i++)
                cap.v[i] = -1;
        cap.v[FERRY_TN_CPU] = cpu_milli;
        return cap;
}

/* A large pod does not block smaller ones behind it, until it has waited
 * reserve_after; then nothing backfills past it. */
static void test_plan_backfill(void **state)
{
        (void)state;
        struct ferry_tn_config *c = parse_ok("tenancy:\n  reserve_after: 60s\n");
        struct ferry_tn_tstate t[1] = {{.name = "a", .weight = 1}};
        struct ferry_tn_vec cap = site(CPU(4));
        t[0].held.v[FERRY_TN_CPU] = CPU(2);
        struct ferry_tn_wait w[2] = {wpod(0, CPU(4), 100), wpod(0, CPU(1), 110)};
        assert_int_equal(ferry_tn_plan(c, t, 1, w, 2, NULL, 0, &cap, 130 * SEC), 1);
        assert_int_equal(w[0].verdict, FERRY_TN_WAIT_SITE);
        assert_int_equal(w[0].res, FERRY_TN_CPU);
        assert_string_equal(ferry_tn_reason(w[0].verdict, w[0].res), "InsufficientCpu");
        assert_int_equal(w[1].verdict, FERRY_TN_ADMIT);
        assert_int_equal(t[0].held.v[FERRY_TN_CPU], CPU(3));
        /* the big one has waited 61 s: it reserves, the small one waits */
        t[0].held.v[FERRY_TN_CPU] = CPU(2);
        assert_int_equal(ferry_tn_plan(c, t, 1, w, 2, NULL, 0, &cap, 161 * SEC), 0);
        assert_true(w[0].reserves);
        assert_int_equal(w[1].verdict, FERRY_TN_WAIT_SITE);
        ferry_tn_config_free(c);
}

/* Quota counts guaranteed pods; a preemptible pod borrows past it. */
static void test_plan_quota(void **state)
{
        (void)state;
        struct ferry_tn_config *c =
            parse_ok("tenancy:\n  tenants:\n    - name: a\n      quota: {cpu: 2}\n");
        struct ferry_tn_tstate t[1] = {{.name = "a", .weight = 1, .quota = &c->tenants[0].quota}};
        struct ferry_tn_vec cap = site(CPU(8));
        struct ferry_tn_wait w[3] = {wpod(0, CPU(1), 1), wpod(0, CPU(2), 2), wpod(0, CPU(3), 3)};
        w[2].preemptible = true;
        assert_int_equal(ferry_tn_plan(c, t, 1, w, 3, NULL, 0, &cap, 10 * SEC), 2);
        assert_int_equal(w[0].verdict, FERRY_TN_ADMIT);
        assert_int_equal(w[1].verdict, FERRY_TN_WAIT_QUOTA); /* 1 + 2 > 2 */
        assert_int_equal(w[1].res, FERRY_TN_CPU);
        assert_string_equal(ferry_tn_reason(w[1].verdict, w[1].res), "QuotaExceeded");
        assert_int_equal(w[2].verdict, FERRY_TN_ADMIT); /* borrowed */
        assert_int_equal(t[0].held_g.v[FERRY_TN_CPU], CPU(1));
        assert_int_equal(t[0].held.v[FERRY_TN_CPU], CPU(4));
        ferry_tn_config_free(c);
}

/* The tenant with the lower dominant share per weight goes first; equal
 * shares take turns; within a tenant, priority then age. */
static void test_plan_order(void **state)
{
        (void)state;
        struct ferry_tn_config *c = parse_ok("tenancy:\n  reserve_after: 1h\n");
        struct ferry_tn_tstate t[2] = {{.name = "a", .weight = 1}, {.name = "b", .weight = 1}};
        struct ferry_tn_vec cap = site(CPU(4));
        t[0].usage[FERRY_TN_CPU] = CPU(4) * 100.0; /* a used the site for 100 s */
        t[1].usage[FERRY_TN_CPU] = CPU(4) * 10.0;
        struct ferry_tn_wait w[4] = {wpod(0, CPU(2), 1), wpod(0, CPU(2), 2), wpod(1, CPU(2), 3),
                                     wpod(1, CPU(2), 4)};
        w[3].priority = 10;
        assert_int_equal(ferry_tn_plan(c, t, 2, w, 4, NULL, 0, &cap, 10 * SEC), 2);
        assert_int_equal(w[2].verdict, FERRY_TN_ADMIT);
        assert_int_equal(w[3].verdict, FERRY_TN_ADMIT);
        assert_int_equal(w[0].verdict, FERRY_TN_WAIT_SITE);
        /* all waited past reserve_after: still b first (old pods reserve, they
         * do not jump the fair-share order) */
        memset(t[1].held.v, 0, sizeof(t[1].held.v));
        assert_int_equal(ferry_tn_plan(c, t, 2, w, 4, NULL, 0, &cap, 7300 * SEC), 2);
        assert_int_equal(w[2].verdict, FERRY_TN_ADMIT);
        assert_int_equal(w[3].verdict, FERRY_TN_ADMIT);
        assert_int_equal(w[0].verdict, FERRY_TN_WAIT_SITE);
        /* weight 20 makes a's share the lower one */
        memset(t[1].held.v, 0, sizeof(t[1].held.v));
        t[0].weight = 20;
        assert_int_equal(ferry_tn_plan(c, t, 2, w, 4, NULL, 0, &cap, 10 * SEC), 2);
        assert_int_equal(w[0].verdict, FERRY_TN_ADMIT);
        assert_int_equal(w[1].verdict, FERRY_TN_ADMIT);
        /* no usage yet: turns by what each holds */
        struct ferry_tn_tstate u[2] = {{.name = "a", .weight = 1}, {.name = "b", .weight = 1}};
        struct ferry_tn_wait v[6] = {wpod(0, CPU(1), 1), wpod(0, CPU(1), 2), wpod(0, CPU(1), 3),
                                     wpod(1, CPU(1), 4), wpod(1, CPU(1), 5), wpod(1, CPU(1), 6)};
        assert_int_equal(ferry_tn_plan(c, u, 2, v, 6, NULL, 0, &cap, 10 * SEC), 4);
        assert_int_equal(u[0].held.v[FERRY_TN_CPU], CPU(2));
        assert_int_equal(u[1].held.v[FERRY_TN_CPU], CPU(2));
        ferry_tn_config_free(c);
}

/* fair_share.lookahead: what a tenant holds counts as that much more usage */
static void test_plan_lookahead(void **state)
{
        (void)state;
        for (int look = 0; look < 2; look++) {
                struct ferry_tn_config *c =
                    parse_ok(look ? "tenancy:\n  fair_share: {lookahead: 1h}\n"
                                  : "tenancy:\n  reserve_after: 10m\n");
                assert_int_equal(c->lookahead_s, look ? 3600 : 0);
                struct ferry_tn_tstate t[2] = {{.name = "a", .weight = 1},
                                               {.name = "b", .weight = 1}};
                struct ferry_tn_vec cap = site(CPU(4));
                t[0].usage[FERRY_TN_CPU] = CPU(10); /* a used less, but holds 2 CPUs now */
                t[1].usage[FERRY_TN_CPU] = CPU(20);
                t[0].held.v[FERRY_TN_CPU] = CPU(2);
                struct ferry_tn_wait w[2] = {wpod(0, CPU(2), 1), wpod(1, CPU(2), 2)};
                assert_int_equal(ferry_tn_plan(c, t, 2, w, 2, NULL, 0, &cap, 10 * SEC), 1);
                assert_int_equal(w[look ? 1 : 0].verdict, FERRY_TN_ADMIT);
                ferry_tn_config_free(c);
        }
}

/* A guaranteed pod stops the fewest preemptible pods, over-quota tenants
 * first, youngest first; never a guaranteed one; and not twice. */
static void test_plan_preempt(void **state)
{
        (void)state;
        struct ferry_tn_config *c = parse_ok("tenancy:\n  reserve_after: 1h\n  tenants:\n"
                                             "    - name: a\n      quota: {cpu: 4}\n"
                                             "    - name: b\n      quota: {cpu: 1}\n");
        struct ferry_tn_tstate t[2] = {{.name = "a", .weight = 1, .quota = &c->tenants[0].quota},
                                       {.name = "b", .weight = 1, .quota = &c->tenants[1].quota}};
        struct ferry_tn_vec cap = site(CPU(6));
        struct ferry_tn_run run[6] = {
            rpod(0, CPU(1), 1, false), rpod(0, CPU(1), 2, true), rpod(0, CPU(1), 3, true),
            rpod(1, CPU(1), 4, false), rpod(1, CPU(1), 5, true), rpod(1, CPU(1), 0, true),
        };
        for (size_t i = 0; i < 6; i++)
                hold(&t[run[i].tenant], &run[i]);
        /* a asks 2 more guaranteed CPUs (within its quota of 4): the site is full */
        struct ferry_tn_wait w[2] = {wpod(0, CPU(2), 10), wpod(1, CPU(1), 11)};
        w[1].preemptible = true;
        assert_int_equal(ferry_tn_plan(c, t, 2, w, 2, run, 6, &cap, 20 * SEC), 0);
        assert_int_equal(w[0].verdict, FERRY_TN_WAIT_SITE);
        assert_true(w[0].preempts);
        assert_false(w[1].preempts); /* a preemptible pod waits, stops nobody */
        /* b is over its quota (3 held, 1 allowed): its two preemptible pods go,
         * even the oldest one; a's and the guaranteed ones stay */
        assert_int_equal(run[4].victim_for, 0);
        assert_int_equal(run[5].victim_for, 0);
        for (size_t i = 0; i < 4; i++)
                assert_int_equal(run[i].victim_for, -1);
        /* next round: the two are still stopping, claimed by w[0]: nobody more */
        run[4].claimed_by = run[5].claimed_by = 0;
        w[0].reserved_in = true;
        assert_int_equal(ferry_tn_plan(c, t, 2, w, 2, run, 6, &cap, 21 * SEC), 0);
        for (size_t i = 0; i < 6; i++)
                assert_int_equal(run[i].victim_for, -1);
        assert_true(w[0].reserves);
        /* they ended: w[0] starts, before the preemptible pod that waited */
        for (size_t i = 4; i < 6; i++)
                for (size_t r = 0; r < FERRY_TN_RES_MAX; r++)
                        t[1].held.v[r] -= run[i].req.v[r];
        assert_int_equal(ferry_tn_plan(c, t, 2, w, 2, run, 4, &cap, 22 * SEC), 1);
        assert_int_equal(w[0].verdict, FERRY_TN_ADMIT);
        assert_int_equal(w[1].verdict, FERRY_TN_WAIT_SITE);
        /* only one CPU short and nobody over quota: the youngest one goes */
        struct ferry_tn_tstate u[1] = {{.name = "a", .weight = 1}};
        struct ferry_tn_run r2[3] = {rpod(0, CPU(1), 1, true), rpod(0, CPU(1), 3, true),
                                     rpod(0, CPU(1), 2, true)};
        for (size_t i = 0; i < 3; i++)
                hold(&u[0], &r2[i]);
        struct ferry_tn_vec cap3 = site(CPU(3));
        struct ferry_tn_wait w2[1] = {wpod(0, CPU(1), 10)};
        ferry_tn_plan(c, u, 1, w2, 1, r2, 3, &cap3, 20 * SEC);
        assert_int_equal(r2[1].victim_for, 0);
        assert_int_equal(r2[0].victim_for, -1);
        assert_int_equal(r2[2].victim_for, -1);
        /* more than all preemptible pods hold: nobody is stopped for nothing */
        struct ferry_tn_run r3[2] = {rpod(0, CPU(1), 1, true), rpod(0, CPU(1), 2, false)};
        struct ferry_tn_tstate x[1] = {{.name = "a", .weight = 1}};
        hold(&x[0], &r3[0]);
        hold(&x[0], &r3[1]);
        struct ferry_tn_vec cap2 = site(CPU(2));
        struct ferry_tn_wait w3[1] = {wpod(0, CPU(2), 10)};
        ferry_tn_plan(c, x, 1, w3, 1, r3, 2, &cap2, 20 * SEC);
        assert_false(w3[0].preempts);
        assert_int_equal(r3[0].victim_for, -1);
        ferry_tn_config_free(c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_spec_example), cmocka_unit_test(test_bad_configs),
            cmocka_unit_test(test_pod_request),  cmocka_unit_test(test_over_quota),
            cmocka_unit_test(test_fair_share),   cmocka_unit_test(test_plan_backfill),
            cmocka_unit_test(test_plan_quota),   cmocka_unit_test(test_plan_order),
            cmocka_unit_test(test_plan_preempt), cmocka_unit_test(test_plan_lookahead),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
