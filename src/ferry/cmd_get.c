/* SPDX-License-Identifier: MIT */
/* ferry get [pods] [POD] | jobs [JOB] [-n NS] [-A] [-o json|wide]: pods from
 * /status [], jobs from /jobs (cmd_jobs.c) */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "common/util.h"
#include "output.h"
#include "podcli.h"

static void get_usage(FILE *f)
{
        fprintf(f, "Usage: ferry get [pods] [POD] [-n NAMESPACE | -A] [-o json|wide]\n"
                   "       ferry get jobs [JOB] [-n NAMESPACE | -A] [-o json]\n"
                   "       ferry get tenants [-o json]   (as ferry tenants)\n\n"
                   "List the pods (or the Jobs) the server knows, in one namespace or all with\n"
                   "-A, or show one. Exit 4 when it is not found. A pod named jobs or pods:\n"
                   "'ferry get pod NAME'.\n");
}

static int cmp_pods(const void *a, const void *b)
{
        const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
        const char *xn = json_string_value(json_object_get(x, "namespace"));
        const char *yn = json_string_value(json_object_get(y, "namespace"));
        int r = strcmp(xn ? xn : "", yn ? yn : "");

        if (r)
                return r;
        xn = json_string_value(json_object_get(x, "name"));
        yn = json_string_value(json_object_get(y, "name"));
        return strcmp(xn ? xn : "", yn ? yn : "");
}

static void print_table(json_t **pods, size_t n, bool wide)
{
        static const char *const hdr[] = {"NAME", "NAMESPACE", "PHASE", "READY", "RESTARTS",
                                          "AGE",  "JOB",       "UID",   "REASON"};
        struct ferry_table *t = ferry_table_new(wide ? 9 : 7, hdr);
        int64_t now = ferry_now_ns();

        for (size_t i = 0; i < n; i++) {
                struct ferry_pod_summary s;
                char ready[32], restarts[16], age[32] = "";
                ferry_pod_summarize(pods[i], &s);
                snprintf(ready, sizeof(ready), "%u/%u", s.ready, s.total);
                snprintf(restarts, sizeof(restarts), "%u", s.restarts);
                if (s.started_ns)
                        ferry_format_age((now - s.started_ns) / 1000000000, age, sizeof(age));
                const char *row[] = {s.name, s.ns,  s.phase, ready,   restarts,
                                     age,    s.jid, s.uid,   s.reason};
                ferry_table_add(t, row);
        }
        ferry_table_print(t, stdout);
        ferry_table_free(t);
}

int ferry_cmd_get(struct ferry_cli *cli, int argc, char **argv)
{
        static const struct option opts[] = {
            {"namespace", required_argument, NULL, 'n'},
            {"all-namespaces", no_argument, NULL, 'A'},
            {"output", required_argument, NULL, 'o'},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        const char *ns_opt = NULL, *out = "", *name = NULL;
        bool all_ns = false;
        ferry_error_t err = {""};
        struct ferry_client *c;
        json_t *all = NULL;
        int ch, r, ex = FERRY_EXIT_OK;

        while ((ch = getopt_long(argc, argv, "n:Ao:h", opts, NULL)) != -1) {
                switch (ch) {
                case 'n': ns_opt = optarg; break;
                case 'A': all_ns = true; break;
                case 'o':
                        if (ferry_cli_output(optarg, "get", &out) < 0)
                                return FERRY_EXIT_USAGE;
                        break;
                case 'h': get_usage(stdout); return FERRY_EXIT_OK;
                default: get_usage(stderr); return FERRY_EXIT_USAGE;
                }
        }
        if (optind < argc &&
            (!strcmp(argv[optind], "tenants") || !strcmp(argv[optind], "tenant"))) {
                if (optind + 1 < argc || !strcmp(out, "wide") || ns_opt || all_ns) {
                        fprintf(stderr, "ferry get tenants: takes only -o json\n");
                        return FERRY_EXIT_USAGE;
                }
                return ferry_cli_tenants(cli, out);
        }
        bool jobs = false;
        if (optind < argc && ferry_cli_kind_word(argv[optind], &jobs))
                optind++;
        if (optind < argc)
                name = argv[optind++];
        if (optind < argc) {
                fprintf(stderr, "ferry get: one %s at a time (got '%s' too)\n",
                        jobs ? "job" : "pod", argv[optind]);
                return FERRY_EXIT_USAGE;
        }
        if (name && all_ns) {
                fprintf(stderr, "ferry get: a pod name needs a namespace: use -n, not -A\n");
                return FERRY_EXIT_USAGE;
        }
        const char *ns = ferry_cli_namespace(ns_opt);
        if (jobs) {
                if (!strcmp(out, "wide")) {
                        fprintf(stderr, "ferry get jobs: -o json or the table, not wide\n");
                        return FERRY_EXIT_USAGE;
                }
                return ferry_cli_get_jobs(cli, ns, all_ns, name, out);
        }

        c = ferry_cli_connect(cli, "get", &ex);
        if (!c)
                return ex;
        r = ferry_client_status(c, NULL, &all, &err);
        if (r < 0) {
                ex = ferry_cli_fail(cli, "get", r, &err);
                goto out;
        }
        if (name) {
                json_t *ps = ferry_cli_find_pod(all, ns, name);
                if (!ps) {
                        fprintf(stderr,
                                "ferry get: pod \"%s\" not found in namespace \"%s\" (try "
                                "'ferry get -A')\n",
                                name, ns);
                        ex = FERRY_EXIT_NOTFOUND;
                        goto out;
                }
                if (strcmp(out, "json") == 0)
                        json_dumpf(ps, stdout, JSON_INDENT(2));
                else
                        print_table(&ps, 1, strcmp(out, "wide") == 0);
                if (strcmp(out, "json") == 0)
                        putchar('\n');
                goto out;
        }

        size_t n = 0, i;
        json_t *ps, **pods = ferry_xcalloc(json_array_size(all) + 1, sizeof(*pods));
        json_array_foreach(all, i, ps)
        {
                const char *s = json_string_value(json_object_get(ps, "namespace"));
                if (all_ns || (s && strcmp(s, ns) == 0))
                        pods[n++] = ps;
        }
        qsort(pods, n, sizeof(*pods), cmp_pods);
        if (strcmp(out, "json") == 0) {
                json_t *arr = json_array();
                for (i = 0; i < n; i++)
                        json_array_append(arr, pods[i]);
                json_dumpf(arr, stdout, JSON_INDENT(2));
                putchar('\n');
                json_decref(arr);
        } else if (n == 0) {
                if (all_ns)
                        fprintf(stderr, "No pods found.\n");
                else
                        fprintf(stderr, "No pods found in namespace \"%s\".\n", ns);
        } else {
                print_table(pods, n, strcmp(out, "wide") == 0);
        }
        free(pods);
out:
        json_decref(all);
        ferry_client_free(c);
        return ex;
}
