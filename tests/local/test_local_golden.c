/* SPDX-License-Identifier: MIT */
/*
 * Golden tests for the local backend's pure parts. Each directory
 * tests/data/local/<case>/ holds pod.json (a hop-A create body) and the
 * expected outputs:
 *   expected-runspec.json  the translator's run spec (or "error: ...")
 *   expected-host.json, expected-bwrap.json, expected-podman.json,
 *   expected-apptainer.json, expected-enroot.json
 *                          the exec of every container per runtime (or "error: ...");
 *                          enroot images live under /IMAGES
 * The bwrap builder sees a fixed fake host tree (below), the workdir is
 * /WORK. FERRY_UPDATE_GOLDEN=1 rewrites the expected files.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "runner/runspec.h"
#include "common/util.h"
#include "pod/pod.h"

static const char *data_dir;

/* ---- the fake host ---- */
struct fake_entry {
        const char *dir, *name;
        char type;
        const char *target;
};
static const struct fake_entry fake_tree[] = {
    {"/", "bin", 'l', "usr/bin"},
    {"/", "dev", 'd', NULL},
    {"/", "etc", 'd', NULL},
    {"/", "home", 'd', NULL},
    {"/", "lib", 'l', "usr/lib"},
    {"/", "proc", 'd', NULL},
    {"/", "run", 'd', NULL},
    {"/", "sys", 'd', NULL},
    {"/", "tmp", 'd', NULL},
    {"/", "usr", 'd', NULL},
    {"/", "var", 'd', NULL},
    {"/etc", "hosts", 'f', NULL},
    {"/etc", "passwd", 'f', NULL},
    {"/etc", "ssl", 'd', NULL},
    {"/var", "lib", 'd', NULL},
    {"/var", "run", 'l', "/run"},
    {"/run", "lock", 'd', NULL},
    {"/run", "systemd", 'd', NULL},
    {"/usr", "bin", 'd', NULL},
    {"/usr", "lib", 'd', NULL},
    /* secrets the sandbox must hide, and ferryd's own files */
    {"/etc", "shadow", 'f', NULL},
    {"/etc", "ssh", 'd', NULL},
    {"/etc", "munge", 'd', NULL},
    {"/etc/ssh", "ssh_config", 'f', NULL},
    {"/etc/ssh", "ssh_host_ed25519_key", 'f', NULL},
    {"/etc", "ferryd.tokens", 'f', NULL},
    {"/var/lib", "ferry", 'd', NULL},
};
/* the pod's user: root inside the sandbox, nobody outside */
static const struct ferry_pod_user pod_user = {
    .uid = 65534, .gid = 65534, .inner_uid = 0, .inner_gid = 0, .fs_group = -1};
static const char *const ferryd_private[] = {"/etc/ferryd.tokens", "/var/lib/ferry",
                                             "/run/ferry/ferryd.sock"};

static int fake_list(void *ctx, const char *dir, struct runner_dirent **ret, size_t *ret_n)
{
        struct runner_dirent *v = NULL;
        size_t n = 0;
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(fake_tree); i++) {
                if (strcmp(fake_tree[i].dir, dir) != 0)
                        continue;
                v = ferry_xrealloc(v, (n + 1) * sizeof(*v));
                v[n++] = (struct runner_dirent){
                    .name = ferry_xstrdup(fake_tree[i].name),
                    .type = fake_tree[i].type,
                    .target = fake_tree[i].target ? ferry_xstrdup(fake_tree[i].target) : NULL,
                };
        }
        if (!n) {
                free(v);
                return -ENOENT;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static const struct runner_image_map image_map[] = {
    {(char *)"docker.io/library/busybox:1.36", (char *)"localhost/busybox:ci"},
};

/* ---- golden comparison ---- */

static int compare(const char *dir, const char *file, const char *got)
{
        _cleanup_free_ char *path = ferry_xasprintf("%s/%s", dir, file);
        char *want = NULL;
        size_t len;

        if (getenv("FERRY_UPDATE_GOLDEN")) {
                ferry_write_file_atomic(path, got, strlen(got), 0644, false);
                return 0;
        }
        if (ferry_read_file(path, 1 << 20, &want, &len) < 0) {
                print_error("%s: missing (run with FERRY_UPDATE_GOLDEN=1)\n", path);
                return 1;
        }
        int bad = strcmp(want, got) != 0;
        if (bad)
                print_error("%s differs:\n--- want\n%s\n--- got\n%s\n", path, want, got);
        free(want);
        return bad;
}

static int run_case(const char *dir)
{
        _cleanup_free_ char *pp = ferry_xasprintf("%s/pod.json", dir);
        char *body = NULL;
        size_t len;
        struct ferry_pod *pod = NULL;
        struct runner_runspec *rs = NULL;
        ferry_error_t err = {{0}};
        struct ferry_buf b = FERRY_BUF_INIT;
        int bad = 0;

        if (ferry_read_file(pp, 1 << 20, &body, &len) < 0) {
                print_error("%s: cannot read\n", pp);
                return 1;
        }
        int r = ferry_pod_parse(body, len, FERRY_BODY_CREATE_A, &ferry_default_limits, &pod, &err);
        free(body);
        if (r < 0) {
                /* the parser already refuses it: that is the expected outcome */
                ferry_buf_printf(&b, "parse error: %s\n", err.text);
                bad = compare(dir, "expected-runspec.json", b.data);
                ferry_buf_free(&b);
                return bad;
        }
        /* optional: the GPUs the case's pod holds ("uuid U", "dev SRC DST",
         * "cdi NAME" lines; an empty file: a GPU host, none for this pod) */
        _cleanup_free_ char *gp = ferry_xasprintf("%s/gpus", dir);
        char *gtext = NULL, *save = NULL;
        struct runner_gpus gpus = {0};
        const char *uuids[8], *cdi[8];
        struct runner_bind devs[8];
        bool have_gpus = ferry_read_file(gp, 4096, &gtext, &len) == 0;
        for (char *l = have_gpus ? strtok_r(gtext, "\n", &save) : NULL; l;
             l = strtok_r(NULL, "\n", &save)) {
                char *a = strchr(l, ' ');
                if (!a)
                        continue;
                *a++ = '\0';
                if (!strcmp(l, "uuid") && gpus.n_uuids < 8)
                        uuids[gpus.n_uuids++] = a;
                else if (!strcmp(l, "cdi") && gpus.n_cdi < 8)
                        cdi[gpus.n_cdi++] = a;
                else if (!strcmp(l, "dev") && gpus.n_devs < 8 && strchr(a, ' ')) {
                        char *dst = strchr(a, ' ');
                        *dst++ = '\0';
                        devs[gpus.n_devs++] = (struct runner_bind){a, dst, false};
                }
        }
        gpus.uuids = uuids;
        gpus.cdi = cdi;
        gpus.devs = devs;
        r = runner_runspec_from_pod(pod, &rs, &err);
        if (r < 0)
                ferry_buf_printf(&b, "error: %s\n", err.text);
        else
                runner_runspec_to_json(&b, rs);
        bad += compare(dir, "expected-runspec.json", b.data);

        static const enum runner_runtime_kind kinds[] = {RUNNER_RT_HOST, RUNNER_RT_BWRAP,
                                                         RUNNER_RT_PODMAN, RUNNER_RT_APPTAINER,
                                                         RUNNER_RT_ENROOT};
        for (size_t k = 0; rs && k < FERRY_ARRAY_SIZE(kinds); k++) {
                struct runner_rtconf rc = {
                    .kind = kinds[k],
                    .workdir = "/WORK",
                    .bwrap = "/usr/bin/bwrap",
                    .podman = "/usr/bin/podman",
                    .podman_pull = "never",
                    .home = "/root",
                    .image_map = image_map,
                    .n_image_map = FERRY_ARRAY_SIZE(image_map),
                    .hostfs = {.list = fake_list},
                    .image_root = kinds[k] == RUNNER_RT_ENROOT ? "/IMAGES" : NULL,
                    .user = &pod_user,
                    .masks = ferryd_private,
                    .n_masks = FERRY_ARRAY_SIZE(ferryd_private),
                    .gpus = have_gpus ? &gpus : NULL,
                };
                ferry_buf_reset(&b);
                ferry_buf_adds(&b, "[\n  ");
                for (size_t i = 0; i < rs->n_c; i++) {
                        struct runner_exec e;
                        if (runner_exec_build(&rc, rs, i, &e, &err) < 0) {
                                ferry_buf_reset(&b);
                                ferry_buf_printf(&b, "error: %s\n", err.text);
                                break;
                        }
                        if (i)
                                ferry_buf_adds(&b, ",\n  ");
                        runner_exec_to_json(&b, &e);
                        runner_exec_clear(&e);
                        if (i + 1 == rs->n_c)
                                ferry_buf_adds(&b, "\n]\n");
                }
                _cleanup_free_ char *name =
                    ferry_xasprintf("expected-%s.json", runner_runtime_name(kinds[k]));
                bad += compare(dir, name, b.data);
        }
        ferry_buf_free(&b);
        runner_runspec_free(rs);
        ferry_pod_free(pod);
        free(gtext);
        return bad;
}

static void test_golden(void **state)
{
        DIR *d = opendir(data_dir);
        struct dirent *de;
        int bad = 0, n = 0;

        assert_non_null(d);
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *dir = ferry_xasprintf("%s/%s", data_dir, de->d_name);
                bad += run_case(dir);
                n++;
        }
        closedir(d);
        print_message("%d golden cases\n", n);
        assert_true(n > 0);
        assert_int_equal(bad, 0);
}

static void check_expand(const char *in, const char *want)
{
        static const struct ferry_env env[] = {
            {(char *)"A", (char *)"alpha"},
            {(char *)"B", (char *)"$(A)-b"},
            {(char *)"A", (char *)"later"},
        };
        char *got = runner_expand(in, env, FERRY_ARRAY_SIZE(env));
        if (strcmp(got, want) != 0)
                print_error("expand(%s): want [%s] got [%s]\n", in, want, got);
        assert_string_equal(got, want);
        free(got);
}

static void test_expand(void **state)
{
        check_expand("plain", "plain");
        check_expand("$(A)", "later");
        check_expand("x$(B)y", "x$(A)-by"); /* values are not re-expanded */
        check_expand("$$(A)", "$(A)");
        check_expand("$$$(A)", "$later");
        check_expand("$(UNDEF)", "$(UNDEF)");
        check_expand("$(echo INJECTED)", "$(echo INJECTED)");
        check_expand("$(A", "$(A");
        check_expand("$A $", "$A $");
        check_expand("$()", "$()");
        check_expand("`$(A)`", "`later`");
}

int main(int argc, char **argv)
{
        data_dir = argc > 1 ? argv[1] : "tests/data/local";
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_expand),
            cmocka_unit_test(test_golden),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
