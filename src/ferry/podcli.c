/* SPDX-License-Identifier: MIT */
#include "podcli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct ferry_client *ferry_cli_connect(struct ferry_cli *cli, const char *verb, int *ret_exit)
{
        struct ferry_client *c = NULL;
        ferry_error_t err = {""};
        int r = ferry_client_new(cli->server, cli->token_file, &c, &err);

        if (r < 0) {
                fprintf(stderr, "%s %s: %s\n", cli->prog, verb, err.text);
                *ret_exit = r == -EINVAL && !ferry_str_startswith(err.text, "token")
                                ? FERRY_EXIT_USAGE
                                : FERRY_EXIT_FAIL;
                return NULL;
        }
        ferry_client_set_verbose(c, cli->verbose);
        if (cli->ca_file)
                ferry_client_set_ca_file(c, cli->ca_file);
        return c;
}

int ferry_cli_fail(struct ferry_cli *cli, const char *verb, int r, const ferry_error_t *err)
{
        fprintf(stderr, "%s %s: %s\n", cli->prog, verb, err->text[0] ? err->text : strerror(-r));
        if (ferry_client_unreachable(r)) {
                const char *s = cli->server;
                if (ferry_str_startswith(s, "unix:") || s[0] == '/')
                        fprintf(stderr,
                                "hint: is ferryd running? Start it with\n"
                                "        ferryd --listen %s%s --backend local\n"
                                "      or point --server (or $FERRY_SERVER) at its socket.\n",
                                s[0] == '/' ? "unix://" : "", s);
                else
                        fprintf(stderr,
                                "hint: is ferryd running and listening there? Start it with\n"
                                "        ferryd --listen %s --backend local\n"
                                "      or check --server (or $FERRY_SERVER).\n",
                                s);
                return FERRY_EXIT_UNREACHABLE;
        }
        if (r == -ENOENT)
                return FERRY_EXIT_NOTFOUND;
        return FERRY_EXIT_FAIL;
}

const char *ferry_cli_namespace(const char *opt)
{
        const char *env = getenv("FERRY_NAMESPACE");

        if (opt && opt[0])
                return opt;
        if (env && env[0])
                return env;
        return "default";
}

json_t *ferry_cli_find_pod(json_t *all, const char *ns, const char *name)
{
        size_t i;
        json_t *ps;

        json_array_foreach(all, i, ps)
        {
                const char *n = json_string_value(json_object_get(ps, "name"));
                const char *s = json_string_value(json_object_get(ps, "namespace"));
                if (n && s && strcmp(n, name) == 0 && strcmp(s, ns) == 0)
                        return ps;
        }
        return NULL;
}

int ferry_cli_output(const char *opt, const char *verb, const char **ret)
{
        if (!opt || !opt[0] || strcmp(opt, "table") == 0) {
                *ret = "";
                return 0;
        }
        if (strcmp(opt, "json") == 0 || strcmp(opt, "wide") == 0) {
                *ret = opt;
                return 0;
        }
        fprintf(stderr, "ferry %s: unknown output format '%s' (use -o json%s)\n", verb, opt,
                strcmp(verb, "get") == 0 ? " or -o wide" : "");
        return -EINVAL;
}

char *ferry_cli_logstruct(const char *ns, const char *uid, const char *pod, const char *container,
                          const struct ferry_log_opts *o)
{
        json_t *opts =
            json_pack("{sIsIsbsbsbsI}", "Tail", (json_int_t)o->tail, "Bytes", (json_int_t)o->bytes,
                      "Timestamps", o->timestamps, "Follow", o->follow, "Previous", o->previous,
                      "SinceSeconds", (json_int_t)o->since_seconds);
        /* the zero SinceTime is left out rather than sent as 0001-01-01 */
        if (o->since_time)
                json_object_set_new(opts, "SinceTime", json_string(o->since_time));
        json_t *ls = json_pack("{ssssssssso}", "Namespace", ns, "PodUID", uid, "PodName", pod,
                               "ContainerName", container, "Opts", opts);
        char *s = json_dumps(ls, JSON_COMPACT);
        json_decref(ls);
        return s;
}

static int write_stdout(void *ctx, const char *data, size_t len)
{
        (void)ctx;
        if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0)
                return -EPIPE;
        return 0;
}

int ferry_cli_stream_logs(struct ferry_client *c, const char *logstruct, ferry_error_t *err)
{
        int r = ferry_client_logs(c, logstruct, write_stdout, NULL, err);

        if (r == -EPIPE)
                return ferry_errprintf(err, r, "cannot write to standard output");
        return r;
}

/* The state of one container of ps: "waiting", "running", "terminated". */
const char *ferry_cli_container_state(const json_t *ps, const char *name)
{
        static const char *const keys[] = {"initContainers", "containers"};
        size_t i;
        json_t *c;

        for (size_t k = 0; k < 2; k++)
                json_array_foreach(json_object_get(ps, keys[k]), i, c)
                {
                        const char *n = json_string_value(json_object_get(c, "name"));
                        json_t *st = json_object_get(c, "state");
                        if (!n || strcmp(n, name) != 0)
                                continue;
                        if (json_object_get(st, "terminated"))
                                return "terminated";
                        if (json_object_get(st, "running"))
                                return "running";
                        return "waiting";
                }
        return "waiting";
}
