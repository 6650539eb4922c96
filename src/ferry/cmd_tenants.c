/* SPDX-License-Identifier: MIT */
/*
 * ferry tenants [-o json] (also `ferry get tenants`): the site's tenancy from
 * ferryd's /tenants: per tenant its weight, quota, what it holds, its
 * waiting pods by reason, its decayed usage and dominant share
 * (spec/tenancy.md "Visible to admins").
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "common/util.h"
#include "output.h"
#include "podcli.h"

static void tenants_usage(FILE *f)
{
        fprintf(f, "Usage: ferry tenants [-o json]\n\n"
                   "Show the site's tenants: weight, quota, what their admitted pods hold, their\n"
                   "waiting pods by reason, decayed usage (core-seconds, GiB-seconds, device-\n"
                   "seconds) and dominant share. A token sees the tenants of its namespaces.\n");
}

/* "cpu=2,memory=4Gi" from {"cpu":"2","memory":"4Gi"}; "-" when empty */
static void kv_text(const json_t *o, char *buf, size_t size)
{
        const char *k;
        json_t *v;
        size_t n = 0;
        buf[0] = '\0';
        json_object_foreach((json_t *)o, k, v)
        {
                char one[96];
                if (json_is_string(v))
                        snprintf(one, sizeof(one), "%s=%s", k, json_string_value(v));
                else if (json_is_integer(v))
                        snprintf(one, sizeof(one), "%s %lld", k, (long long)json_integer_value(v));
                else if (json_is_real(v))
                        snprintf(one, sizeof(one), "%s=%.1f", k, json_real_value(v));
                else
                        continue;
                n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%s", n ? "," : "", one);
        }
        if (!buf[0])
                snprintf(buf, size, "-");
}

static void waiting_text(const json_t *o, char *buf, size_t size)
{
        const char *k;
        json_t *v;
        json_int_t total = 0;
        json_object_foreach((json_t *)o, k, v) total += json_integer_value(v);
        if (total == 0) {
                snprintf(buf, size, "0");
                return;
        }
        char detail[256];
        kv_text(o, detail, sizeof(detail));
        snprintf(buf, size, "%lld (%s)", (long long)total, detail);
}

static int print_tenants(const json_t *j)
{
        static const char *const hdr[] = {"TENANT",  "WEIGHT", "QUOTA", "HELD",
                                          "WAITING", "USAGE",  "SHARE", "PREEMPTED"};
        if (!json_is_true(json_object_get(j, "enabled"))) {
                fprintf(stderr, "Site tenancy is off: ferryd's config has no tenancy section "
                                "(every pod goes to the backend as it comes).\n");
                return FERRY_EXIT_OK;
        }
        const json_t *ts = json_object_get(j, "tenants");
        if (json_array_size(ts) == 0) {
                fprintf(stderr, "No tenants yet (a tenant appears with its first pod).\n");
                return FERRY_EXIT_OK;
        }
        struct ferry_table *t = ferry_table_new(FERRY_ARRAY_SIZE(hdr), hdr);
        size_t i;
        json_t *x;
        json_array_foreach(ts, i, x)
        {
                char weight[32], quota[512], held[512], waiting[512], usage[512], share[32],
                    pre[32];
                snprintf(weight, sizeof(weight), "%g",
                         json_number_value(json_object_get(x, "weight")));
                kv_text(json_object_get(x, "quota"), quota, sizeof(quota));
                kv_text(json_object_get(x, "held"), held, sizeof(held));
                waiting_text(json_object_get(x, "waiting"), waiting, sizeof(waiting));
                kv_text(json_object_get(x, "usage"), usage, sizeof(usage));
                snprintf(share, sizeof(share), "%.3f",
                         json_number_value(json_object_get(x, "dominant_share")));
                snprintf(pre, sizeof(pre), "%lld",
                         (long long)json_integer_value(json_object_get(x, "preemptions")));
                const char *name = json_string_value(json_object_get(x, "name"));
                const char *cells[] = {name ? name : "?", weight, quota, held,
                                       waiting,           usage,  share, pre};
                ferry_table_add(t, cells);
        }
        ferry_table_print(t, stdout);
        ferry_table_free(t);
        char cap[512];
        kv_text(json_object_get(j, "capacity"), cap, sizeof(cap));
        printf("\nsite capacity: %s\n", cap);
        return FERRY_EXIT_OK;
}

int ferry_cli_tenants(struct ferry_cli *cli, const char *out)
{
        ferry_error_t err = {""};
        json_t *j = NULL;
        int ex = FERRY_EXIT_OK;
        struct ferry_client *c = ferry_cli_connect(cli, "tenants", &ex);

        if (!c)
                return ex;
        int r = ferry_client_tenants(c, &j, &err);
        if (r < 0) {
                ex = ferry_cli_fail(cli, "tenants", r, &err);
        } else if (!strcmp(out, "json")) {
                json_dumpf(j, stdout, JSON_INDENT(2));
                putchar('\n');
        } else {
                ex = print_tenants(j);
        }
        json_decref(j);
        ferry_client_free(c);
        return ex;
}

int ferry_cmd_tenants(struct ferry_cli *cli, int argc, char **argv)
{
        static const struct option opts[] = {
            {"output", required_argument, NULL, 'o'},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        const char *out = "";
        int ch;

        while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
                switch (ch) {
                case 'o':
                        if (ferry_cli_output(optarg, "tenants", &out) < 0 || !strcmp(out, "wide"))
                                return FERRY_EXIT_USAGE;
                        break;
                case 'h': tenants_usage(stdout); return FERRY_EXIT_OK;
                default: tenants_usage(stderr); return FERRY_EXIT_USAGE;
                }
        }
        if (optind < argc) {
                tenants_usage(stderr);
                return FERRY_EXIT_USAGE;
        }
        return ferry_cli_tenants(cli, out);
}
