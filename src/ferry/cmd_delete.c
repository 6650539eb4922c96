/* SPDX-License-Identifier: MIT */
/* ferry delete [pod] POD... | job JOB... [-n NS]: find each pod's UID, then
 * /delete; jobs through /jobs (cmd_jobs.c). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "podcli.h"

static void delete_usage(FILE *f)
{
        fprintf(f, "Usage: ferry delete [-n NAMESPACE] [pod] POD...\n"
                   "       ferry delete [-n NAMESPACE] job JOB...\n\n"
                   "Delete pods: their processes are stopped and the server forgets them. A\n"
                   "job goes with its pods. Exit 4 when one is not found (the others are\n"
                   "still deleted).\n");
}

int ferry_cmd_delete(struct ferry_cli *cli, int argc, char **argv)
{
        static const struct option opts[] = {
            {"namespace", required_argument, NULL, 'n'},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        const char *ns_opt = NULL;
        ferry_error_t err = {""};
        struct ferry_client *c;
        json_t *all = NULL;
        int ch, r, ex = FERRY_EXIT_OK;

        while ((ch = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
                switch (ch) {
                case 'n': ns_opt = optarg; break;
                case 'h': delete_usage(stdout); return FERRY_EXIT_OK;
                default: delete_usage(stderr); return FERRY_EXIT_USAGE;
                }
        }
        bool jobs = false;
        if (optind < argc && ferry_cli_kind_word(argv[optind], &jobs))
                optind++;
        if (optind >= argc) {
                fprintf(stderr, "ferry delete: name at least one %s (see 'ferry get%s')\n",
                        jobs ? "job" : "pod", jobs ? " jobs" : "");
                return FERRY_EXIT_USAGE;
        }
        const char *ns = ferry_cli_namespace(ns_opt);
        if (jobs)
                return ferry_cli_delete_jobs(cli, ns, argv + optind, (size_t)(argc - optind));

        c = ferry_cli_connect(cli, "delete", &ex);
        if (!c)
                return ex;
        r = ferry_client_status(c, NULL, &all, &err);
        if (r < 0) {
                ex = ferry_cli_fail(cli, "delete", r, &err);
                goto out;
        }
        for (int i = optind; i < argc; i++) {
                json_t *ps = ferry_cli_find_pod(all, ns, argv[i]);
                if (!ps) {
                        fprintf(stderr, "ferry delete: pod \"%s\" not found in namespace \"%s\"\n",
                                argv[i], ns);
                        if (ex == FERRY_EXIT_OK)
                                ex = FERRY_EXIT_NOTFOUND;
                        continue;
                }
                json_t *pod = json_pack("{sssss{ssssss}}", "apiVersion", "v1", "kind", "Pod",
                                        "metadata", "name", argv[i], "namespace", ns, "uid",
                                        json_string_value(json_object_get(ps, "UID")) ?: "");
                char *body = json_dumps(pod, JSON_COMPACT);
                json_decref(pod);
                r = ferry_client_delete(c, body, &err);
                free(body);
                if (r < 0) {
                        int e = ferry_cli_fail(cli, "delete", r, &err);
                        if (e == FERRY_EXIT_UNREACHABLE) {
                                ex = e;
                                goto out;
                        }
                        if (ex == FERRY_EXIT_OK || ex == FERRY_EXIT_NOTFOUND)
                                ex = e;
                        continue;
                }
                printf("pod/%s deleted\n", argv[i]);
        }
out:
        json_decref(all);
        ferry_client_free(c);
        return ex;
}
