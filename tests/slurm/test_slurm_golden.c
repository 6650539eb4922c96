/* SPDX-License-Identifier: MIT */
/*
 * Golden tests for the Slurm translator (src/backend/slurm/job.h). Each
 * directory tests/data/slurm/<case>/ holds pod.json (a hop-A create body) and
 * site.yaml, and the expected outcome:
 *   expected.json       slurm_job_to_json() of the job, and
 *   expected-exec.json  the exec of every container for the site's runtime
 *                       (workdir = the job's), or
 *   expected-error.txt  "error: <text>" when the site or the pod is refused.
 * FERRY_UPDATE_GOLDEN=1 rewrites the expected files (and removes the stale
 * kind: a case that now fails loses expected.json, and the other way round).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "runner/runspec.h"
#include "backend/slurm/job.h"
#include "common/util.h"
#include "pod/pod.h"

static const char *data_dir;

static int compare(const char *file, const char *got)
{
        char *want = NULL;
        size_t len;

        if (getenv("FERRY_UPDATE_GOLDEN")) {
                ferry_write_file_atomic(file, got, strlen(got), 0644, false);
                return 0;
        }
        if (ferry_read_file(file, 1 << 20, &want, &len) < 0) {
                print_error("%s: missing (run with FERRY_UPDATE_GOLDEN=1)\n", file);
                return 1;
        }
        int bad = strcmp(want, got) != 0;
        if (bad)
                print_error("%s differs:\n--- want\n%s\n--- got\n%s\n", file, want, got);
        free(want);
        return bad;
}

static void drop(const char *file)
{
        if (getenv("FERRY_UPDATE_GOLDEN"))
                unlink(file);
}

static int exec_json(const struct slurm_job *j, const struct slurm_site *site, struct ferry_buf *b)
{
        struct runner_rtconf rc;
        ferry_error_t err = {{0}};

        slurm_job_rtconf(j, site, &rc);
        ferry_buf_adds(b, "[\n  ");
        for (size_t i = 0; i < j->spec->n_c; i++) {
                struct runner_exec e;
                if (runner_exec_build(&rc, j->spec, i, &e, &err) < 0) {
                        print_error("exec build failed after the job was built: %s\n", err.text);
                        return 1;
                }
                if (i)
                        ferry_buf_adds(b, ",\n  ");
                runner_exec_to_json(b, &e);
                runner_exec_clear(&e);
        }
        ferry_buf_adds(b, "\n]\n");
        return 0;
}

/* Runs in the case directory (error texts name "site.yaml", not a full path). */
static int run_case(void)
{
        char *body = NULL;
        size_t len;
        struct ferry_pod *pod = NULL;
        struct slurm_site *site = NULL;
        struct slurm_job *job = NULL;
        ferry_error_t err = {{0}};
        struct ferry_buf b = FERRY_BUF_INIT;
        int bad = 0, r;

        if (ferry_read_file("pod.json", 1 << 22, &body, &len) < 0) {
                print_error("pod.json: cannot read\n");
                return 1;
        }
        r = slurm_site_load("site.yaml", &site, &err);
        if (r == 0) {
                r = ferry_pod_parse(body, len, FERRY_BODY_CREATE_A, &ferry_default_limits, &pod,
                                    &err);
                if (r < 0)
                        ferry_errprefix(&err, r, "pod.json");
        }
        if (r == 0)
                r = slurm_job_from_pod(pod, site, &job, &err);
        free(body);
        if (r < 0) {
                ferry_buf_printf(&b, "error: %s\n", err.text);
                bad += compare("expected-error.txt", b.data);
                drop("expected.json");
                drop("expected-exec.json");
        } else {
                slurm_job_to_json(&b, job);
                bad += compare("expected.json", b.data);
                ferry_buf_reset(&b);
                bad += exec_json(job, site, &b);
                bad += compare("expected-exec.json", b.data);
                drop("expected-error.txt");
        }
        ferry_buf_free(&b);
        slurm_job_free(job);
        ferry_pod_free(pod);
        slurm_site_free(site);
        return bad;
}

static void test_golden(void **state)
{
        DIR *d = opendir(data_dir);
        struct dirent *de;
        int bad = 0, n = 0;
        int here = open(".", O_RDONLY | O_DIRECTORY);

        assert_non_null(d);
        assert_true(here >= 0);
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *dir = ferry_xasprintf("%s/%s", data_dir, de->d_name);
                struct stat st;
                if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                assert_int_equal(chdir(dir), 0);
                int b = run_case();
                if (b)
                        print_error("case %s failed\n", de->d_name);
                bad += b;
                assert_int_equal(fchdir(here), 0);
                n++;
        }
        closedir(d);
        close(here);
        print_message("%d golden cases\n", n);
        assert_true(n > 0);
        assert_int_equal(bad, 0);
}

int main(int argc, char **argv)
{
        data_dir = argc > 1 ? argv[1] : "tests/data/slurm";
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_golden),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
