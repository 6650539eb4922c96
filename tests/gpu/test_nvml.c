/* SPDX-License-Identifier: MIT */
/*
 * NVML through the real dlopen path, against tests/gpu/fake-nvml: the library
 * API (inventory, capacity), the allocation of its devices to pods
 * (gpu/alloc.h) and, when given the ferry binary, `ferry gpu ls`.
 * Usage: test-nvml FAKE_LIBRARY [FERRY_BINARY]
 */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/spawn.h"
#include "common/util.h"
#include "gpu/alloc.h"
#include "gpu/devices.h"
#include "gpu/nvml.h"

static const char *fake_lib, *ferry_bin;

#define SCENARIO                                                                                   \
        "NVIDIA A100-SXM4-80GB|81920|20000|0|0|on:1g.10gb/7/0/1,1g.10gb/8/0/0,3g.40gb/2/0/0;"      \
        "NVIDIA A100-SXM4-80GB|81920|1000|35|0|off;"                                               \
        "Quadro RTX 5000|16384|300|90|2|"

static int setup(void **state)
{
        setenv(FERRY_NVML_ENV, fake_lib, 1);
        setenv("FAKE_NVML_GPUS", SCENARIO, 1);
        unsetenv("FAKE_NVML_INIT_FAIL");
        return 0;
}

static void test_missing_library(void **state)
{
        struct ferry_gpu_inventory inv;
        struct ferry_gpu_capacity cap;
        ferry_error_t err;
        setenv(FERRY_NVML_ENV, "/nonexistent/libnvidia-ml.so.1", 1);
        assert_int_equal(ferry_nvml_inventory(&inv, &err), -ENOENT);
        assert_string_equal(err.text, "no NVIDIA driver found: /nonexistent/libnvidia-ml.so.1 "
                                      "could not be loaded");
        assert_int_equal(ferry_nvml_capacity(&cap, &err), -ENOENT);
}

static void test_init_failure(void **state)
{
        struct ferry_gpu_inventory inv;
        ferry_error_t err;
        setenv("FAKE_NVML_INIT_FAIL", "1", 1);
        assert_int_equal(ferry_nvml_inventory(&inv, &err), -EIO);
        assert_non_null(strstr(err.text, "Driver Not Loaded"));
}

static void test_inventory(void **state)
{
        struct ferry_gpu_inventory inv;
        ferry_error_t err;
        assert_int_equal(ferry_nvml_inventory(&inv, &err), 0);
        assert_string_equal(inv.driver, "550.00-fake");
        assert_int_equal(inv.n, 3);
        const struct ferry_gpu_device *g = &inv.dev[0];
        assert_true(g->mig_capable && g->mig_enabled);
        assert_string_equal(g->model, "A100-80GB");
        assert_int_equal(g->util_gpu, -1); /* not reported with MIG on */
        assert_int_equal(g->n_mig, 3);
        assert_string_equal(g->mig[0].profile, "1g.10gb");
        assert_int_equal(g->mig[0].gi_id, 7);
        assert_int_equal(g->mig[0].busy, 1);
        assert_int_equal(g->mig[1].busy, 0);
        assert_string_equal(g->mig[2].profile, "3g.40gb");
        assert_int_equal(g->mig[2].gi_slices, 3);
        assert_int_equal(g->mig[2].mem_total_mib, 40960);
        assert_true(inv.dev[1].mig_capable && !inv.dev[1].mig_enabled);
        assert_int_equal(inv.dev[1].util_gpu, 35);
        assert_int_equal(inv.dev[1].busy, 0);
        assert_false(inv.dev[2].mig_capable);
        assert_null(inv.dev[2].model);
        assert_int_equal(inv.dev[2].busy, 1);
        ferry_gpu_inventory_free(&inv);
}

static void expect_cap(const struct ferry_gpu_capacity *c, const char *res, unsigned total,
                       unsigned free_)
{
        for (size_t i = 0; i < c->n; i++)
                if (strcmp(c->item[i].resource, res) == 0) {
                        assert_int_equal(c->item[i].total, total);
                        assert_int_equal(c->item[i].free, free_);
                        return;
                }
        fail_msg("no capacity for %s", res);
}

static void test_capacity(void **state)
{
        struct ferry_gpu_capacity c;
        ferry_error_t err;
        assert_int_equal(ferry_nvml_capacity(&c, &err), 0);
        assert_int_equal(c.n, 3);
        expect_cap(&c, "nvidia.com/gpu", 2, 1); /* the RTX runs processes */
        expect_cap(&c, "nvidia.com/mig-1g.10gb", 2, 1);
        expect_cap(&c, "nvidia.com/mig-3g.40gb", 1, 1);
}

static struct ferry_spawn_result run_ferry(const char *const *extra_env, const char *arg)
{
        const char *argv[] = {ferry_bin, "gpu", "ls", arg, NULL};
        char e1[512], e2[512];
        const char *envp[6] = {NULL};
        size_t n = 0;
        snprintf(e1, sizeof(e1), "%s=%s", FERRY_NVML_ENV, fake_lib);
        snprintf(e2, sizeof(e2), "FAKE_NVML_GPUS=%s", SCENARIO);
        envp[n++] = e1;
        envp[n++] = e2;
        for (; extra_env && *extra_env; extra_env++)
                envp[n++] = *extra_env;
        struct ferry_spawn_result r;
        ferry_error_t err;
        assert_int_equal(ferry_spawn_run(argv, envp, NULL, 0, 10000, 1 << 20, &r, &err), 0);
        return r;
}

/* The device files of a pod's units, and CDI names (gpu/devices.h). */
static void test_devices(void **state)
{
        struct ferry_gpu_inventory inv;
        struct ferry_gpu_pool pool;
        ferry_error_t err;
        char nodes[3][FERRY_GPU_NODE_MAX];
        const char *minors = "config 1\nmonitor 2\ngpu3/gi7/access 66\ngpu3/gi7/ci0/access 67\n"
                             "gpu3/gi8/access 75\ngpu3/gi8/ci0/access 76\n"
                             "gpu3/gi2/access 21\ngpu30/gi2/ci0/access 999\n";

        setenv("FAKE_NVML_MINOR_BASE", "3", 1);
        assert_int_equal(ferry_nvml_inventory(&inv, &err), 0);
        unsetenv("FAKE_NVML_MINOR_BASE");
        assert_int_equal(inv.dev[1].minor, 4);
        ferry_gpu_pool_from_inventory(&pool, &inv, NULL, 0);
        /* a whole GPU: its own node (by minor, not index) */
        assert_int_equal(ferry_gpu_unit_nodes(&pool.u[3], minors, nodes, &err), 1);
        assert_string_equal(nodes[0], "nvidia4");
        /* a MIG device: its GPU's node and its two access capabilities */
        assert_int_equal(ferry_gpu_unit_nodes(&pool.u[1], minors, nodes, &err), 3);
        assert_string_equal(nodes[0], "nvidia3");
        assert_string_equal(nodes[1], "nvidia-caps/nvidia-cap75");
        assert_string_equal(nodes[2], "nvidia-caps/nvidia-cap76");
        /* gi2/ci0 of gpu3 is not listed (gpu30 is another GPU): refused */
        assert_string_equal(pool.u[2].uuid, "MIG-fake-0-2-0");
        assert_int_equal(ferry_gpu_unit_nodes(&pool.u[2], minors, nodes, &err), -ENOENT);
        assert_non_null(strstr(err.text, "gpu3/gi2/ci0/access"));
        assert_int_equal(ferry_gpu_unit_nodes(&pool.u[0], NULL, nodes, &err), -ENOENT);

        /* CDI specs as nvidia-ctk writes them, YAML and JSON */
        const char *yaml = "---\ncdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n"
                           "- name: \"0\"\n  containerEdits: {}\n- name: GPU-fake-1\n"
                           "- name: all\ncontainerEdits:\n  hooks:\n  - hookName: x\n";
        const char *json = "{\"cdiVersion\":\"0.5.0\",\"kind\":\"nvidia.com/gpu\","
                           "\"devices\":[{\"name\":\"MIG-fake-0-7-0\"}]}";
        assert_true(ferry_gpu_cdi_has(yaml, "0"));
        assert_true(ferry_gpu_cdi_has(yaml, "GPU-fake-1"));
        assert_false(ferry_gpu_cdi_has(yaml, "GPU-fake-"));
        assert_false(ferry_gpu_cdi_has(yaml, "x"));
        assert_false(ferry_gpu_cdi_has(yaml, "1"));
        assert_true(ferry_gpu_cdi_has(json, "MIG-fake-0-7-0"));
        assert_false(ferry_gpu_cdi_has("kind: example.com/fpga\n- name: \"0\"\n", "0"));
        assert_false(ferry_gpu_cdi_has(NULL, "0"));
        ferry_gpu_pool_free(&pool);
        ferry_gpu_inventory_free(&inv);
}

static void test_cli(void **state)
{
        if (!ferry_bin)
                skip();
        struct ferry_spawn_result r = run_ferry(NULL, NULL);
        assert_int_equal(r.exit_code, 0);
        assert_non_null(strstr(r.out, "NVIDIA A100-SXM4-80GB"));
        assert_non_null(strstr(r.out, "GI 7 CI 0"));
        assert_non_null(strstr(r.out, "3g.40gb"));
        assert_non_null(strstr(r.out, "Quadro RTX 5000"));
        ferry_spawn_result_free(&r);

        r = run_ferry(NULL, "-ojson");
        assert_int_equal(r.exit_code, 0);
        json_error_t je;
        json_t *root = json_loads(r.out, 0, &je);
        assert_non_null(root);
        json_t *g0 = json_array_get(json_object_get(root, "gpus"), 0);
        assert_true(json_is_true(json_object_get(g0, "mig_enabled")));
        json_t *m2 = json_array_get(json_object_get(g0, "mig_devices"), 2);
        assert_string_equal(json_string_value(json_object_get(m2, "profile")), "3g.40gb");
        json_decref(root);
        ferry_spawn_result_free(&r);

        static const char *const fail_env[] = {"FAKE_NVML_INIT_FAIL=1", NULL};
        r = run_ferry(fail_env, NULL);
        assert_int_equal(r.exit_code, 5);
        assert_non_null(strstr(r.err, "Driver Not Loaded"));
        ferry_spawn_result_free(&r);

        const char *argv[] = {ferry_bin, "gpu", "ls", NULL};
        const char *envp[] = {FERRY_NVML_ENV "=/nonexistent/libnvidia-ml.so.1", NULL};
        ferry_error_t err;
        assert_int_equal(ferry_spawn_run(argv, envp, NULL, 0, 10000, 1 << 20, &r, &err), 0);
        assert_int_equal(r.exit_code, 5);
        assert_non_null(strstr(r.err, "no NVIDIA driver found: /nonexistent/libnvidia-ml.so.1 "
                                      "could not be loaded"));
        ferry_spawn_result_free(&r);
}

static struct ferry_gpu_request req(const char *res, unsigned n, const char *res2, unsigned n2)
{
        struct ferry_gpu_request r = {0};
        if (res)
                assert_int_equal(ferry_gpu_request_add(&r, res, n), 0);
        if (res2)
                assert_int_equal(ferry_gpu_request_add(&r, res2, n2), 0);
        return r;
}

/* The scenario's units: GPU 0 (MIG on) gives three MIG devices, GPU 1 and the
 * Quadro one whole GPU each; busy processes do not matter to the allocation
 * (ferryd's pods are the only owners it knows). */
static void test_alloc(void **state)
{
        struct ferry_gpu_inventory inv;
        struct ferry_gpu_pool pool;
        struct ferry_gpu_capacity cap;
        ferry_error_t err;
        const struct ferry_gpu_unit *held[4];
        assert_int_equal(ferry_nvml_inventory(&inv, &err), 0);
        assert_string_equal(inv.dev[0].mig[2].uuid, "MIG-fake-0-2-0");
        ferry_gpu_pool_from_inventory(&pool, &inv, NULL, 0);
        assert_int_equal(pool.n, 5);
        assert_string_equal(pool.u[0].resource, "nvidia.com/mig-1g.10gb");
        assert_string_equal(pool.u[0].uuid, "MIG-fake-0-7-0");
        assert_int_equal(pool.u[0].gi, 7);
        assert_string_equal(pool.u[3].resource, "nvidia.com/gpu");
        assert_string_equal(pool.u[3].uuid, "GPU-fake-1");
        assert_int_equal(pool.u[3].gi, -1);

        /* never: more than the host has, a profile it does not offer, not a GPU */
        struct ferry_gpu_request r = req("nvidia.com/gpu", 3, NULL, 0);
        assert_int_equal(ferry_gpu_pool_alloc(&pool, "pod-a", &r, &err), -EOPNOTSUPP);
        assert_string_equal(err.text, "the pod asks for 3 nvidia.com/gpu and this host has 2");
        r = req("nvidia.com/mig-2g.20gb", 1, NULL, 0);
        assert_int_equal(ferry_gpu_pool_alloc(&pool, "pod-a", &r, &err), -EOPNOTSUPP);
        assert_non_null(strstr(err.text, "has none"));
        r = req("example.com/fpga", 1, NULL, 0);
        assert_int_equal(ferry_gpu_pool_alloc(&pool, "pod-a", &r, &err), -EINVAL);

        /* exclusive units, first free in pool order; a second call is idempotent */
        r = req("nvidia.com/gpu", 1, "nvidia.com/mig-1g.10gb", 1);
        assert_int_equal(ferry_gpu_pool_alloc(&pool, "pod-a", &r, &err), 0);
        assert_int_equal(ferry_gpu_pool_alloc(&pool, "pod-a", &r, &err), 0);
        assert_int_equal(ferry_gpu_pool_held(&pool, "pod-a", held, 4), 2);
        assert_string_equal(held[0]->uuid, "MIG-fake-0-7-0");
        assert_string_equal(held[1]->uuid, "GPU-fake-1");
        r = req("nvidia.com/gpu", 2, NULL, 0);
        assert_int_equal(ferry_gpu_pool_alloc(&pool, "pod-b", &r, &err), -EAGAIN);
        assert_string_equal(err.text,
                            "the pod asks for 2 nvidia.com/gpu: 1 of 2 are held by other pods");
        assert_int_equal(ferry_gpu_pool_held(&pool, "pod-b", held, 4), 0); /* all or nothing */
        r = req("nvidia.com/gpu", 1, "nvidia.com/mig-1g.10gb", 1);
        assert_int_equal(ferry_gpu_pool_alloc(&pool, "pod-b", &r, &err), 0);
        assert_int_equal(ferry_gpu_pool_held(&pool, "pod-b", held, 4), 2);
        assert_string_equal(held[0]->uuid, "MIG-fake-0-8-0");
        assert_string_equal(held[1]->uuid, "GPU-fake-2");
        ferry_gpu_pool_capacity(&pool, &cap);
        expect_cap(&cap, "nvidia.com/gpu", 2, 0);
        expect_cap(&cap, "nvidia.com/mig-1g.10gb", 2, 0);
        expect_cap(&cap, "nvidia.com/mig-3g.40gb", 1, 1);

        /* a pod's end frees its units for the next */
        r = req("nvidia.com/gpu", 1, NULL, 0);
        assert_int_equal(ferry_gpu_pool_alloc(&pool, "pod-c", &r, &err), -EAGAIN);
        assert_int_equal(ferry_gpu_pool_release(&pool, "pod-a"), 2);
        assert_int_equal(ferry_gpu_pool_alloc(&pool, "pod-c", &r, &err), 0);
        assert_int_equal(ferry_gpu_pool_held(&pool, "pod-c", held, 4), 1);
        assert_string_equal(held[0]->uuid, "GPU-fake-1");

        /* after a restart: a new pool, the stored units taken back, none twice */
        struct ferry_gpu_pool again;
        ferry_gpu_pool_from_inventory(&again, &inv, NULL, 0);
        assert_int_equal(ferry_gpu_pool_take(&again, "pod-c", "GPU-fake-1", &err), 0);
        assert_int_equal(ferry_gpu_pool_take(&again, "pod-b", "GPU-fake-1", &err), -EBUSY);
        assert_int_equal(ferry_gpu_pool_take(&again, "pod-b", "GPU-fake-9", &err), -ENOENT);
        r = req("nvidia.com/gpu", 1, NULL, 0);
        assert_int_equal(ferry_gpu_pool_alloc(&again, "pod-d", &r, &err), 0);
        assert_int_equal(ferry_gpu_pool_held(&again, "pod-d", held, 4), 1);
        assert_string_equal(held[0]->uuid, "GPU-fake-2");
        ferry_gpu_pool_free(&again);

        /* the admin's allow-list: GPU 1 by index and one MIG device by UUID */
        const char *allow[] = {"1", "MIG-fake-0-2-0"};
        ferry_gpu_pool_free(&pool);
        ferry_gpu_pool_from_inventory(&pool, &inv, allow, 2);
        assert_int_equal(pool.n, 2);
        assert_string_equal(pool.u[0].uuid, "MIG-fake-0-2-0");
        assert_string_equal(pool.u[1].uuid, "GPU-fake-1");
        ferry_gpu_pool_free(&pool);
        ferry_gpu_inventory_free(&inv);
}

int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup(test_missing_library, setup),
            cmocka_unit_test_setup(test_init_failure, setup),
            cmocka_unit_test_setup(test_inventory, setup),
            cmocka_unit_test_setup(test_capacity, setup),
            cmocka_unit_test_setup(test_alloc, setup),
            cmocka_unit_test_setup(test_devices, setup),
            cmocka_unit_test_setup(test_cli, setup),
        };
        if (argc < 2) {
                fprintf(stderr, "usage: %s FAKE_LIBRARY [FERRY_BINARY]\n", argv[0]);
                return 2;
        }
        fake_lib = argv[1];
        ferry_bin = argc > 2 ? argv[2] : NULL;
        return cmocka_run_group_tests(tests, NULL, NULL);
}
