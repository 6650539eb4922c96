/* SPDX-License-Identifier: MIT */
/*
 * ferry usage [--since T] [--until T] [--by KEY]... [-o table|json|csv] [--export]:
 * the usage ledger from ferryd's /usage (spec/usage.md): what pods used,
 * summed over a window and grouped, or the raw records as JSON Lines.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/util.h"
#include "output.h"
#include "podcli.h"

static void usage_usage(FILE *f)
{
        fprintf(f, "Usage: ferry usage [--since T] [--until T] [--by KEY]... [-o table|json|csv]\n"
                   "                   [--export]\n\n"
                   "What pods used (wall, CPU and GPU hours), from the site's usage ledger:\n"
                   "summed over a window and grouped by tenant, namespace, user, day or\n"
                   "profile (--by, repeated or comma-separated); --export prints the records as\n"
                   "JSON Lines instead. T is an RFC 3339 time or a duration back from now\n"
                   "(24h, 7d). A token sees its own namespaces' pods.\n");
}

/* an RFC 3339 time, or a duration back from now ("24h", "7d"), as UTC "...Z" */
static int when(const char *s, const char *what, char out[FERRY_TIME_MAX])
{
        int64_t ns, secs;
        if (ferry_time_parse(s, &ns) == 0) {
                ferry_time_format(ns, 3, out);
                return 0;
        }
        size_t l = strlen(s);
        if (l > 1 && s[l - 1] == 'd') { /* days: not a Go duration unit */
                char *end;
                long long dd = strtoll(s, &end, 10);
                if (end == s + l - 1 && dd >= 0) {
                        ferry_time_format(ferry_now_ns() - dd * 86400LL * 1000000000, 3, out);
                        return 0;
                }
        }
        if (ferry_parse_duration(s, &secs) == 0) {
                ferry_time_format(ferry_now_ns() - secs * 1000000000, 3, out);
                return 0;
        }
        fprintf(stderr, "ferry usage: %s %s: an RFC 3339 time or a duration such as 24h or 7d\n",
                what, s);
        return -1;
}

int ferry_cmd_usage(struct ferry_cli *cli, int argc, char **argv)
{
        static const struct option opts[] = {
            {"since", required_argument, NULL, 's'},
            {"until", required_argument, NULL, 'u'},
            {"by", required_argument, NULL, 'b'},
            {"output", required_argument, NULL, 'o'},
            {"export", no_argument, NULL, 'e'},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        char since[FERRY_TIME_MAX] = "", until[FERRY_TIME_MAX] = "";
        struct ferry_buf by = FERRY_BUF_INIT, q = FERRY_BUF_INIT;
        const char *out = "table";
        bool export = false;
        int ch, ex = FERRY_EXIT_USAGE;

        while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
                switch (ch) {
                case 's':
                        if (when(optarg, "--since", since) < 0)
                                goto out;
                        break;
                case 'u':
                        if (when(optarg, "--until", until) < 0)
                                goto out;
                        break;
                case 'b': ferry_buf_printf(&by, "%s%s", by.len ? "," : "", optarg); break;
                case 'o':
                        if (strcmp(optarg, "table") && strcmp(optarg, "json") &&
                            strcmp(optarg, "csv")) {
                                fprintf(stderr, "ferry usage: -o table, json or csv\n");
                                goto out;
                        }
                        out = optarg;
                        break;
                case 'e': export = true; break;
                case 'h':
                        usage_usage(stdout);
                        ex = FERRY_EXIT_OK;
                        goto out;
                default: usage_usage(stderr); goto out;
                }
        }
        if (optind < argc) {
                usage_usage(stderr);
                goto out;
        }
        for (const char *p = by.data ? by.data : ""; *p; p++)
                if (!strchr("abcdefghijklmnopqrstuvwxyz,", *p)) {
                        fprintf(stderr,
                                "ferry usage: --by %s: tenant, namespace, user, day or "
                                "profile\n",
                                by.data);
                        goto out;
                }
        ferry_buf_printf(&q, "format=%s", out);
        if (export)
                ferry_buf_adds(&q, "&export=1");
        if (since[0])
                ferry_buf_printf(&q, "&since=%s", since);
        if (until[0])
                ferry_buf_printf(&q, "&until=%s", until);
        if (by.len)
                ferry_buf_printf(&q, "&by=%s", by.data);
        struct ferry_client *c = ferry_cli_connect(cli, "usage", &ex);
        if (!c)
                goto out;
        char *body = NULL;
        ferry_error_t err = {""};
        int r = ferry_client_usage(c, q.data, &body, &err);
        if (r < 0)
                ex = ferry_cli_fail(cli, "usage", r, &err);
        else {
                fputs(body ? body : "", stdout);
                ex = FERRY_EXIT_OK;
        }
        free(body);
        ferry_client_free(c);
out:
        ferry_buf_free(&by);
        ferry_buf_free(&q);
        return ex;
}
