/* SPDX-License-Identifier: MIT */
/*
 * The "never an unquoted expansion" check: builds N (default 100,000) random
 * hostile pods — quotes, $(...), backticks, newlines, ';', option-looking
 * words, control bytes and huge values in the pod name, command, args, env and
 * the slurm-job.vk.io/... annotation values — translates each with
 * slurm_job_from_pod() against a permissive site, and for every pod that is
 * accepted checks that
 *   - the batch script is exactly "#!/bin/sh\nexec '<shim>' '<workdir>'\n"
 *     (no pod string in it at all), and
 *   - every sbatch argv item has one of the whitelisted forms below.
 * Refusals are fine (and counted). Deterministic: a fixed seed, or argv[2].
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "backend/slurm/job.h"
#include "common/util.h"
#include "pod/pod.h"

static long n_pods = 100000;
static uint64_t seed = 0x5eed5eedULL;

static uint64_t rnd(void)
{
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        return seed;
}

static size_t pick(size_t n)
{
        return (size_t)(rnd() % n);
}

static const char *const nasty[] = {
    "$(reboot)", "`id`", "'",     "\"",      ";",        "\n",        "--wrap=rm -rf /",
    "${HOME}",   "|",    "&",     " ",       "\\",       "%j",        ":",
    ",",         "=",    "-p",    "--uid=0", "$((1+1))", "#",         "*",
    "\t",        "\r",   "../..", "/etc",    "'\\''",    "--chdir=/", "!",
    "<(cat)",    ">/x",  "~root", "$IFS",    "--",       "-J",        "x",
};

/* A hostile string: pieces, random bytes and plain letters; sometimes huge. */
static char *hostile(size_t maxlen)
{
        struct ferry_buf b = FERRY_BUF_INIT;
        size_t parts = 1 + pick(8);
        ferry_buf_adds(&b, "");
        for (size_t i = 0; i < parts && b.len < maxlen; i++) {
                switch (pick(4)) {
                case 0:
                case 1: ferry_buf_adds(&b, nasty[pick(FERRY_ARRAY_SIZE(nasty))]); break;
                case 2: ferry_buf_addc(&b, (char)(1 + pick(255))); break;
                default: ferry_buf_addc(&b, (char)('a' + pick(26))); break;
                }
        }
        if (pick(1000) == 0) /* huge */
                for (size_t i = 0; i < 20000; i++)
                        ferry_buf_adds(&b, nasty[pick(FERRY_ARRAY_SIZE(nasty))]);
        return ferry_buf_steal(&b);
}

static const char *const opt_names[] = {"--time",    "-t",      "-p",          "--partition",
                                        "--account", "-A",      "--mail-type", "--constraint",
                                        "--comment", "--mem",   "--wrap",      "--uid",
                                        "-o",        "--chdir", "--qos",       "--nice"};

/* An annotation value: options (some allowed, some not) with hostile or plain values. */
static char *flags_value(void)
{
        struct ferry_buf b = FERRY_BUF_INIT;
        size_t n = pick(5);
        ferry_buf_adds(&b, "");
        for (size_t i = 0; i < n; i++) {
                if (i)
                        ferry_buf_addc(&b, pick(2) ? ' ' : '\n');
                const char *o = opt_names[pick(FERRY_ARRAY_SIZE(opt_names))];
                char *v = pick(3) ? ferry_xasprintf("%c%llu", 'a' + (int)pick(26),
                                                    (unsigned long long)pick(100))
                                  : hostile(20);
                if (o[1] == '-' && pick(2))
                        ferry_buf_printf(&b, "%s=%s", o, v);
                else
                        ferry_buf_printf(&b, "%s %s", o, v);
                free(v);
        }
        if (pick(10) == 0) {
                char *h = hostile(40);
                ferry_buf_printf(&b, " %s", h);
                free(h);
        }
        return ferry_buf_steal(&b);
}

static char **strv(size_t n, size_t *ret_n)
{
        char **v = ferry_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                v[i] = hostile(64);
        *ret_n = n;
        return v;
}

static void res_unset(struct ferry_resources *r)
{
        r->cpu_milli = r->memory_bytes = r->gpus = -1;
}

static void add_ann(struct ferry_pod *p, const char *k, char *owned_v)
{
        p->annotations =
            ferry_xrealloc(p->annotations, (p->n_annotations + 1) * sizeof(struct ferry_kv));
        p->annotations[p->n_annotations].key = ferry_xstrdup(k);
        p->annotations[p->n_annotations].value = owned_v;
        p->n_annotations++;
}

static struct ferry_pod *random_pod(long i)
{
        struct ferry_pod *p = ferry_xcalloc(1, sizeof(*p));
        p->uid = ferry_xasprintf("00000000-0000-4000-8000-%012ld", i);
        p->name = hostile(64);
        p->namespace = hostile(16);
        p->grace_seconds = 30;
        p->deadline_seconds = pick(3) ? -1 : (int64_t)pick(1000000);
        p->run_as_user = pick(3) ? -1 : (int64_t)pick(3) * 1000;
        p->restart_policy = ferry_xstrdup("Never");
        p->n_containers = 1 + pick(3);
        p->containers = ferry_xcalloc(p->n_containers, sizeof(*p->containers));
        for (size_t k = 0; k < p->n_containers; k++) {
                struct ferry_container *c = &p->containers[k];
                c->name = pick(50) ? ferry_xasprintf("c%zu", k) : hostile(10);
                c->image = pick(30) ? ferry_xstrdup("busybox:1.36") : hostile(30);
                if (pick(4))
                        c->command = strv(pick(4), &c->n_command);
                c->args = strv(pick(6), &c->n_args);
                if (!c->command && !c->n_args) {
                        free(c->args);
                        c->args = strv(1, &c->n_args);
                }
                c->n_env = pick(4);
                c->env = ferry_xcalloc(c->n_env + 1, sizeof(*c->env));
                for (size_t e = 0; e < c->n_env; e++) {
                        c->env[e].name = pick(30) ? ferry_xasprintf("V%zu", e) : hostile(8);
                        c->env[e].value = hostile(64);
                }
                res_unset(&c->limits);
                res_unset(&c->requests);
                if (pick(2))
                        c->limits.cpu_milli = (int64_t)pick(1u << 20);
                if (pick(2))
                        c->requests.memory_bytes = (int64_t)pick(1ull << 40);
                if (pick(4) == 0)
                        c->limits.gpus = (int64_t)pick(6);
        }
        if (pick(2))
                add_ann(p, "slurm-job.vk.io/flags", flags_value());
        if (pick(4) == 0)
                add_ann(p, "slurm-job.vk.io/flavor", pick(2) ? ferry_xstrdup("cpu") : hostile(10));
        if (pick(4) == 0)
                add_ann(p, "slurm-job.vk.io/singularity-options",
                        pick(2) ? ferry_xstrdup("--writable-tmpfs") : hostile(20));
        if (pick(4) == 0)
                add_ann(p, "slurm-job.vk.io/singularity-mounts",
                        pick(2) ? ferry_xstrdup("/scratch/a:/a:ro") : hostile(20));
        if (pick(6) == 0)
                add_ann(p, "slurm-job.vk.io/image-root", hostile(20));
        if (pick(6) == 0)
                add_ann(p, "slurm-job.vk.io/pre-exec", hostile(40));
        if (pick(6) == 0)
                add_ann(p, "slurm-job.vk.io/other", hostile(40));
        return p;
}

static const char SITE[] =
    "workdir_root: /shared/ferry\n"
    "shim_path: /opt/ferry/ferry-shim\n"
    "runtime: apptainer\n"
    "default_flavor: cpu\n"
    "flavors:\n"
    "  cpu: {partition: batch, account: acct}\n"
    "  gpu: {partition: gpu, for_gpu: true, extra_flags: [\"--exclusive\"]}\n"
    "allowed_flags: [\"--time\", \"-p\", \"--account\", \"--mail-type\",\n"
    "                \"--constraint\", \"--comment\", \"--qos\", \"--nice\"]\n"
    "allowed_runtime_options: [\"--writable-tmpfs\"]\n"
    "allowed_mount_roots: [\"/scratch\"]\n"
    "allowed_image_roots: [\"docker://\"]\n"
    "uid_policy: pod\n"
    "allow_pre_exec: true\n";

static bool safe_value(const char *v)
{
        if (!*v)
                return false;
        for (; *v; v++)
                if ((unsigned char)*v <= 0x20 || (unsigned char)*v >= 0x7f || strchr("'\"`$\\", *v))
                        return false;
        return true;
}

static bool digits(const char *s, const char *suffix)
{
        size_t n = strspn(s, "0123456789");
        return n > 0 && strcmp(s + n, suffix) == 0;
}

static bool prefixed(const char *item, const char *prefix, const char **rest)
{
        if (!ferry_str_startswith(item, prefix))
                return false;
        *rest = item + strlen(prefix);
        return true;
}

/* The whitelisted forms of an sbatch argv item. */
static bool item_ok(const char *it, const struct slurm_job *j)
{
        const char *r;
        static const char *const user_long[] = {
            "--time=",       "--partition=", "--account=", "--mail-type=",
            "--constraint=", "--comment=",   "--qos=",     "--nice="};
        _cleanup_free_ char *jn = ferry_xasprintf("--job-name=%s", j->name);
        _cleanup_free_ char *cd = ferry_xasprintf("--chdir=%s", j->workdir);
        _cleanup_free_ char *out = ferry_xasprintf("--output=%s/slurm-%%j.out", j->workdir);

        if (!strcmp(it, jn) || !strcmp(it, cd) || !strcmp(it, out) || !strcmp(it, "--exclusive"))
                return true;
        if (prefixed(it, "--cpus-per-task=", &r) || prefixed(it, "--time=", &r) ||
            prefixed(it, "--uid=", &r))
                return digits(r, "");
        if (prefixed(it, "--mem=", &r))
                return digits(r, "M");
        if (prefixed(it, "--gres=", &r))
                return *r && strspn(r, "gpu:0123456789,abcdefghijklmnopqrstuvwxyz.") == strlen(r);
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(user_long); i++) {
                if (prefixed(it, user_long[i], &r))
                        return safe_value(r);
                /* an allowed option without a value */
                if (strlen(it) + 1 == strlen(user_long[i]) &&
                    !strncmp(it, user_long[i], strlen(it)))
                        return true;
        }
        return false;
}

static void test_hostile(void **state)
{
        struct slurm_site *site = NULL;
        ferry_error_t err;
        long accepted = 0, refused = 0;

        assert_int_equal(slurm_site_parse(SITE, sizeof(SITE) - 1, &site, &err), 0);
        for (long i = 0; i < n_pods; i++) {
                struct ferry_pod *pod = random_pod(i);
                struct slurm_job *j = NULL;
                if (slurm_job_from_pod(pod, site, &j, &err) < 0) {
                        refused++;
                        ferry_pod_free(pod);
                        continue;
                }
                accepted++;
                _cleanup_free_ char *want = ferry_xasprintf(
                    "#!/bin/sh\nexec '/opt/ferry/ferry-shim' '/shared/ferry/%s'\n", pod->uid);
                if (strcmp(j->script, want) != 0) {
                        print_error("pod %ld: script differs:\n%s\n", i, j->script);
                        fail();
                }
                for (size_t k = 0; k < j->n_sbatch_argv; k++)
                        if (!item_ok(j->sbatch_argv[k], j)) {
                                print_error("pod %ld: sbatch argv item not in a whitelisted form: "
                                            "[%s]\n",
                                            i, j->sbatch_argv[k]);
                                fail();
                        }
                assert_null(j->sbatch_argv[j->n_sbatch_argv]);
                slurm_job_free(j);
                ferry_pod_free(pod);
        }
        print_message("%ld hostile pods: %ld accepted and checked, %ld refused\n", n_pods, accepted,
                      refused);
        assert_true(accepted > n_pods / 20); /* the check must have something to check */
        slurm_site_free(site);
}

int main(int argc, char **argv)
{
        if (argc > 1)
                n_pods = strtol(argv[1], NULL, 10);
        if (argc > 2)
                seed = strtoull(argv[2], NULL, 0);
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_hostile)};
        return cmocka_run_group_tests(tests, NULL, NULL);
}
