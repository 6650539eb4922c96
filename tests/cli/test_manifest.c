/* SPDX-License-Identifier: MIT */
/*
 * Golden tests for the manifest translator: each directory under
 * tests/data/manifests/ holds input.yaml (or input.json), and either
 * expected.json (the PodCreateRequests array) or expected-error.txt (text the
 * error must contain). An optional file `namespace` plays -n. UIDs come from a
 * counter, so expected files are stable. FERRY_UPDATE_GOLDEN=1 rewrites
 * expected.json (review the diff).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/util.h"
#include "ferry/manifest.h"

static const char *data_dir;

static void counter_uid(void *ctx, char buf[37])
{
        unsigned *n = ctx;
        snprintf(buf, 37, "00000000-0000-4000-8000-%012u", ++*n);
}

static char *read_opt(const char *dir, const char *name)
{
        _cleanup_free_ char *path = ferry_xasprintf("%s/%s", dir, name);
        char *s = NULL;
        size_t n;

        if (ferry_read_file(path, 1 << 20, &s, &n) < 0)
                return NULL;
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
                s[--n] = '\0';
        return s;
}

static void run_case(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *ns = read_opt(dir, "namespace");
        _cleanup_free_ char *want_err = read_opt(dir, "expected-error.txt");
        _cleanup_free_ char *in_yaml = ferry_xasprintf("%s/input.yaml", dir);
        _cleanup_free_ char *in_json = ferry_xasprintf("%s/input.json", dir);
        _cleanup_free_ char *exp_path = ferry_xasprintf("%s/expected.json", dir);
        struct stat st;
        unsigned counter = 0;
        struct ferry_manifest_opts o = {.namespace = ns, .uid = counter_uid, .uid_ctx = &counter};
        ferry_error_t err = {""};
        json_t *objects = json_array(), *reqs = NULL;
        int r;

        r = ferry_manifest_load(stat(in_yaml, &st) == 0 ? in_yaml : in_json, objects, &err);
        if (r >= 0)
                r = ferry_manifest_translate(objects, &o, &reqs, &err);
        json_decref(objects);
        if (want_err) {
                if (r >= 0 || !strstr(err.text, want_err))
                        fail_msg("%s: want an error containing \"%s\", got %d \"%s\"", dir,
                                 want_err, r, err.text);
                return;
        }
        if (r < 0)
                fail_msg("%s: %s", dir, err.text);
        if (getenv("FERRY_UPDATE_GOLDEN")) {
                json_dump_file(reqs, exp_path, JSON_INDENT(2));
                FILE *f = fopen(exp_path, "a");
                fputc('\n', f);
                fclose(f);
        }
        json_error_t je;
        json_t *want = json_load_file(exp_path, 0, &je);
        if (!want)
                fail_msg("%s: %s:%d: %s (run with FERRY_UPDATE_GOLDEN=1 to create it)", dir,
                         exp_path, je.line, je.text);
        if (!json_equal(want, reqs)) {
                char *got = json_dumps(reqs, JSON_INDENT(2));
                fprintf(stderr, "%s: got\n%s\n", dir, got);
                free(got);
                fail_msg("%s: the translation differs from expected.json", dir);
        }
        json_decref(want);
        json_decref(reqs);
}

static int cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
        struct CMUnitTest *tests = NULL;
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        DIR *d;

        data_dir = argc > 1 ? argv[1] : "tests/data/manifests";
        d = opendir(data_dir);
        if (!d) {
                fprintf(stderr, "cannot open %s\n", data_dir);
                return 1;
        }
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                names = ferry_xrealloc(names, (n + 1) * sizeof(*names));
                names[n++] = ferry_xstrdup(de->d_name);
        }
        closedir(d);
        qsort(names, n, sizeof(*names), cmp);
        tests = ferry_xcalloc(n, sizeof(*tests));
        for (size_t i = 0; i < n; i++) {
                tests[i].name = names[i];
                tests[i].test_func = run_case;
                tests[i].initial_state = ferry_xasprintf("%s/%s", data_dir, names[i]);
        }
        int r = _cmocka_run_group_tests("manifest golden", tests, n, NULL, NULL);
        for (size_t i = 0; i < n; i++) {
                free(names[i]);
                free((void *)tests[i].initial_state);
        }
        free(names);
        free(tests);
        return r;
}
