/* SPDX-License-Identifier: MIT */
/* ferry logs [-f] [-c CONTAINER] [--tail N] ... POD: /status [] to find the
 * pod's UID, then /getLogs, streamed to stdout as the bytes arrive. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "common/util.h"
#include "output.h"
#include "podcli.h"

static void logs_usage(FILE *f)
{
        fprintf(f, "Usage: ferry logs [-f] [-c CONTAINER] [--tail N | --limit-bytes N]\n"
                   "                  [--since DURATION | --since-time RFC3339] [--timestamps]\n"
                   "                  [-p] [-n NAMESPACE] POD\n\n"
                   "Print a container's logs; -f keeps streaming until the container ends.\n"
                   "  -c, --container NAME   which container (needed when the pod has several)\n"
                   "  --tail N               only the last N lines\n"
                   "  --limit-bytes N        at most N bytes\n"
                   "  --since DURATION       only lines newer than e.g. 90s, 5m, 1h30m\n"
                   "  --since-time TIME      only lines after an RFC 3339 time\n"
                   "  --timestamps           prefix each line with its time\n"
                   "  -p, --previous         the previous run of the container\n");
}

static int parse_count(const char *s, const char *what, long long *ret)
{
        char *end;
        long long v;

        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || end == s || *end || v < 0) {
                fprintf(stderr, "ferry logs: %s wants a whole number >= 0, not '%s'\n", what, s);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

static void list_containers(const json_t *ps, const char *key, struct ferry_buf *b)
{
        size_t i;
        json_t *c;

        json_array_foreach(json_object_get(ps, key), i, c)
        {
                if (b->len)
                        ferry_buf_adds(b, " ");
                ferry_buf_adds(b, json_string_value(json_object_get(c, "name")));
        }
}

static bool has_container(const json_t *ps, const char *name)
{
        static const char *const keys[] = {"initContainers", "containers"};
        size_t i;
        json_t *c;

        for (size_t k = 0; k < 2; k++)
                json_array_foreach(json_object_get(ps, keys[k]), i, c)
                {
                        const char *n = json_string_value(json_object_get(c, "name"));
                        if (n && strcmp(n, name) == 0)
                                return true;
                }
        return false;
}

int ferry_cmd_logs(struct ferry_cli *cli, int argc, char **argv)
{
        enum { OPT_TAIL = 256, OPT_BYTES, OPT_SINCE, OPT_SINCE_TIME, OPT_TS };
        static const struct option opts[] = {
            {"follow", no_argument, NULL, 'f'},
            {"container", required_argument, NULL, 'c'},
            {"namespace", required_argument, NULL, 'n'},
            {"previous", no_argument, NULL, 'p'},
            {"tail", required_argument, NULL, OPT_TAIL},
            {"limit-bytes", required_argument, NULL, OPT_BYTES},
            {"since", required_argument, NULL, OPT_SINCE},
            {"since-time", required_argument, NULL, OPT_SINCE_TIME},
            {"timestamps", no_argument, NULL, OPT_TS},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        struct ferry_log_opts lo = {0};
        const char *ns_opt = NULL, *container = NULL, *pod;
        ferry_error_t err = {""};
        struct ferry_client *c;
        json_t *all = NULL;
        char *body = NULL;
        int ch, r, ex = FERRY_EXIT_OK;
        int64_t t;

        while ((ch = getopt_long(argc, argv, "fc:n:ph", opts, NULL)) != -1) {
                switch (ch) {
                case 'f': lo.follow = true; break;
                case 'c': container = optarg; break;
                case 'n': ns_opt = optarg; break;
                case 'p': lo.previous = true; break;
                case OPT_TS: lo.timestamps = true; break;
                case OPT_TAIL:
                        if (parse_count(optarg, "--tail", &lo.tail) < 0)
                                return FERRY_EXIT_USAGE;
                        break;
                case OPT_BYTES:
                        if (parse_count(optarg, "--limit-bytes", &lo.bytes) < 0)
                                return FERRY_EXIT_USAGE;
                        break;
                case OPT_SINCE:
                        if (ferry_parse_duration(optarg, &t) < 0) {
                                fprintf(stderr,
                                        "ferry logs: --since wants a duration like 90s, 5m or "
                                        "1h30m, not '%s'\n",
                                        optarg);
                                return FERRY_EXIT_USAGE;
                        }
                        lo.since_seconds = t;
                        break;
                case OPT_SINCE_TIME:
                        if (ferry_time_parse(optarg, &t) < 0) {
                                fprintf(stderr,
                                        "ferry logs: --since-time wants an RFC 3339 time like "
                                        "2026-01-10T10:00:00Z, not '%s'\n",
                                        optarg);
                                return FERRY_EXIT_USAGE;
                        }
                        lo.since_time = optarg;
                        break;
                case 'h': logs_usage(stdout); return FERRY_EXIT_OK;
                default: logs_usage(stderr); return FERRY_EXIT_USAGE;
                }
        }
        if (optind + 1 != argc) {
                fprintf(stderr, "ferry logs: name one pod (see 'ferry logs --help')\n");
                return FERRY_EXIT_USAGE;
        }
        pod = argv[optind];
        /* the interLink API refuses these pairs (400); say so before asking */
        if (lo.tail && lo.bytes) {
                fprintf(stderr, "ferry logs: --tail and --limit-bytes cannot be combined\n");
                return FERRY_EXIT_USAGE;
        }
        if (lo.since_seconds && lo.since_time) {
                fprintf(stderr, "ferry logs: --since and --since-time cannot be combined\n");
                return FERRY_EXIT_USAGE;
        }
        const char *ns = ferry_cli_namespace(ns_opt);

        c = ferry_cli_connect(cli, "logs", &ex);
        if (!c)
                return ex;
        r = ferry_client_status(c, NULL, &all, &err);
        if (r < 0) {
                ex = ferry_cli_fail(cli, "logs", r, &err);
                goto out;
        }
        json_t *ps = ferry_cli_find_pod(all, ns, pod);
        if (!ps) {
                fprintf(
                    stderr,
                    "ferry logs: pod \"%s\" not found in namespace \"%s\" (see 'ferry get -A')\n",
                    pod, ns);
                ex = FERRY_EXIT_NOTFOUND;
                goto out;
        }
        if (!container) {
                json_t *cs = json_object_get(ps, "containers");
                if (json_array_size(cs) == 1) {
                        container =
                            json_string_value(json_object_get(json_array_get(cs, 0), "name"));
                } else {
                        struct ferry_buf names = FERRY_BUF_INIT, inits = FERRY_BUF_INIT;
                        list_containers(ps, "containers", &names);
                        list_containers(ps, "initContainers", &inits);
                        if (json_array_size(cs) == 0)
                                fprintf(stderr,
                                        "ferry logs: pod \"%s\" reports no containers yet; name "
                                        "one with -c\n",
                                        pod);
                        else
                                fprintf(stderr,
                                        "ferry logs: pod \"%s\" has several containers; choose one "
                                        "with -c: [%s]%s%s%s\n",
                                        pod, names.data,
                                        inits.len ? " or an init container: [" : "",
                                        inits.len ? inits.data : "", inits.len ? "]" : "");
                        ferry_buf_free(&names);
                        ferry_buf_free(&inits);
                        ex = FERRY_EXIT_USAGE;
                        goto out;
                }
        } else if (!has_container(ps, container)) {
                struct ferry_buf names = FERRY_BUF_INIT;
                list_containers(ps, "initContainers", &names);
                list_containers(ps, "containers", &names);
                fprintf(stderr, "ferry logs: pod \"%s\" has no container \"%s\" (it has: %s)\n",
                        pod, container, names.data ? names.data : "none");
                ferry_buf_free(&names);
                ex = FERRY_EXIT_NOTFOUND;
                goto out;
        }
        /* -f on a container that has not started yet: wait for it, like one
         * would by hand, rather than fail with the server's 400 */
        if (lo.follow && strcmp(ferry_cli_container_state(ps, container), "waiting") == 0) {
                const char *uid = json_string_value(json_object_get(ps, "UID"));
                json_t *pj = json_pack("[{s{ssssss}}]", "metadata", "name", pod, "namespace", ns,
                                       "uid", uid ? uid : "");
                char *pods = json_dumps(pj, JSON_COMPACT);
                json_decref(pj);
                fprintf(stderr, "waiting for container %s to start...\n", container);
                for (;;) {
                        json_t *one = NULL;
                        r = ferry_client_status(c, pods, &one, &err);
                        if (r < 0) {
                                free(pods);
                                ex = ferry_cli_fail(cli, "logs", r, &err);
                                goto out;
                        }
                        json_t *st = json_array_get(one, 0);
                        bool go = !st ||
                                  strcmp(ferry_cli_container_state(st, container), "waiting") ||
                                  ferry_client_phase_done(ferry_client_pod_phase(st));
                        json_decref(one);
                        if (go)
                                break;
                        struct timespec ts = {0, 500000000L};
                        nanosleep(&ts, NULL);
                }
                free(pods);
        }
        body = ferry_cli_logstruct(ns, json_string_value(json_object_get(ps, "UID")), pod,
                                   container, &lo);
        r = ferry_cli_stream_logs(c, body, &err);
        if (r < 0)
                ex = ferry_cli_fail(cli, "logs", r, &err);
out:
        free(body);
        json_decref(all);
        ferry_client_free(c);
        return ex;
}
