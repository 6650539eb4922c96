/* SPDX-License-Identifier: MIT */
/*
 * Golden tests for the planner's text: each directory under tests/data/mig
 * holds inventory.{yaml,json} and demand.{yaml,json}, and either
 * expected.error (the parse/check error, first line) or the expected outputs
 * expected.mig-parted.yaml, expected.table.txt, expected.json. A new case needs
 * no new C code. FERRY_UPDATE_GOLDEN=1 rewrites the expected outputs.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/util.h"
#include "gpu/mig_io.h"

static const char *data_dir;

static char *read_opt(const char *dir, const char *name, size_t *len)
{
        char *path = ferry_xasprintf("%s/%s", dir, name), *text = NULL;
        size_t l = 0;
        if (ferry_read_file(path, 1 << 24, &text, &l) < 0)
                text = NULL;
        free(path);
        if (len)
                *len = l;
        return text;
}

static char *read_either(const char *dir, const char *stem, const char **name, size_t *len)
{
        static char buf[2][64];
        int slot = strcmp(stem, "inventory") == 0 ? 0 : 1;
        snprintf(buf[slot], sizeof(buf[slot]), "%s.yaml", stem);
        char *t = read_opt(dir, buf[slot], len);
        if (!t) {
                snprintf(buf[slot], sizeof(buf[slot]), "%s.json", stem);
                t = read_opt(dir, buf[slot], len);
        }
        *name = buf[slot];
        return t;
}

static void compare(const char *dir, const char *name, const char *got, int *checked)
{
        char *path = ferry_xasprintf("%s/%s", dir, name);
        char *want = read_opt(dir, name, NULL);
        if (getenv("FERRY_UPDATE_GOLDEN")) {
                assert_int_equal(ferry_write_file_atomic(path, got, strlen(got), 0644, false), 0);
        } else if (want) {
                if (strcmp(want, got) != 0)
                        fail_msg("%s differs; got:\n%s", path, got);
                (*checked)++;
        }
        free(want);
        free(path);
}

static void run_case(const char *dir, int *checked)
{
        const char *iname, *dname;
        size_t ilen, dlen;
        char *itext = read_either(dir, "inventory", &iname, &ilen);
        char *dtext = read_either(dir, "demand", &dname, &dlen);
        char *want_err = read_opt(dir, "expected.error", NULL);
        struct ferry_mig_inventory inv = {0};
        struct ferry_mig_demand dem = {0};
        struct ferry_mig_plan *plan = NULL;
        ferry_error_t err = {""};
        int r;

        if (!itext || !dtext)
                fail_msg("%s: needs inventory.{yaml,json} and demand.{yaml,json}", dir);
        r = ferry_mig_inventory_parse(itext, ilen, iname, &inv, &err);
        if (r >= 0)
                r = ferry_mig_demand_parse(dtext, dlen, dname, &dem, &err);
        if (r >= 0)
                r = ferry_mig_demand_check(&dem, &inv, dname, &err);
        if (want_err) {
                want_err[strcspn(want_err, "\n")] = '\0';
                if (r >= 0)
                        fail_msg("%s: expected error '%s', got none", dir, want_err);
                assert_string_equal(err.text, want_err);
                (*checked)++;
        } else {
                if (r < 0)
                        fail_msg("%s: %s", dir, err.text);
                assert_int_equal(ferry_mig_plan(&inv, &dem, NULL, &plan, &err), 0);
                static const struct {
                        enum ferry_mig_format fmt;
                        const char *file;
                } outs[] = {{FERRY_MIG_FMT_MIG_PARTED, "expected.mig-parted.yaml"},
                            {FERRY_MIG_FMT_TABLE, "expected.table.txt"},
                            {FERRY_MIG_FMT_JSON, "expected.json"}};
                for (size_t i = 0; i < FERRY_ARRAY_SIZE(outs); i++) {
                        char *got = ferry_mig_plan_format(plan, &inv, &dem, outs[i].fmt);
                        compare(dir, outs[i].file, got, checked);
                        free(got);
                }
        }
        ferry_mig_plan_free(plan);
        ferry_mig_inventory_free(&inv);
        ferry_mig_demand_free(&dem);
        free(itext);
        free(dtext);
        free(want_err);
}

static void test_golden(void **state)
{
        DIR *d = opendir(data_dir);
        struct dirent *e;
        int cases = 0, checked = 0;
        assert_non_null(d);
        while ((e = readdir(d))) {
                if (e->d_name[0] == '.')
                        continue;
                char *dir = ferry_xasprintf("%s/%s", data_dir, e->d_name);
                run_case(dir, &checked);
                free(dir);
                cases++;
        }
        closedir(d);
        print_message("%d cases, %d expectations checked\n", cases, checked);
        assert_true(cases >= 4);
        if (!getenv("FERRY_UPDATE_GOLDEN"))
                assert_true(checked >= cases);
}

int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_golden)};
        if (argc != 2) {
                fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
                return 2;
        }
        data_dir = argv[1];
        return cmocka_run_group_tests(tests, NULL, NULL);
}
