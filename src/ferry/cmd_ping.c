/* SPDX-License-Identifier: MIT */
/* ferry ping [-o json]: /pinglink, and the capacity in its PingResponse. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "podcli.h"

static void ping_usage(FILE *f)
{
        fprintf(f, "Usage: ferry ping [-o json]\n\n"
                   "Check that the server answers and is healthy, and show its free capacity.\n"
                   "Exit 0 healthy, 1 unhealthy, 3 unreachable.\n");
}

static const char *qty(const json_t *res, const char *key)
{
        const json_t *v = json_object_get(res, key);
        static char buf[32];

        if (json_is_string(v))
                return json_string_value(v);
        if (json_is_integer(v)) {
                snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
                return buf;
        }
        return "-";
}

int ferry_cmd_ping(struct ferry_cli *cli, int argc, char **argv)
{
        static const struct option opts[] = {
            {"output", required_argument, NULL, 'o'},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        const char *out = "";
        ferry_error_t err = {""};
        struct ferry_client *c;
        char *body = NULL;
        long code = 0;
        json_t *j = NULL;
        int ch, r, ex = FERRY_EXIT_OK;

        while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
                switch (ch) {
                case 'o':
                        if (ferry_cli_output(optarg, "ping", &out) < 0 || !strcmp(out, "wide"))
                                return FERRY_EXIT_USAGE;
                        break;
                case 'h': ping_usage(stdout); return FERRY_EXIT_OK;
                default: ping_usage(stderr); return FERRY_EXIT_USAGE;
                }
        }
        if (optind < argc) {
                ping_usage(stderr);
                return FERRY_EXIT_USAGE;
        }
        c = ferry_cli_connect(cli, "ping", &ex);
        if (!c)
                return ex;
        r = ferry_client_ping(c, &body, &code, &err);
        if (r < 0) {
                ex = ferry_cli_fail(cli, "ping", r, &err);
                goto out;
        }
        j = body[0] ? json_loads(body, JSON_DECODE_ANY, NULL) : NULL;
        if (code != 200)
                ex = FERRY_EXIT_FAIL;
        if (strcmp(out, "json") == 0) {
                json_t *o = json_pack("{sssIsb}", "server", cli->server, "code", (json_int_t)code,
                                      "healthy", code == 200);
                if (j)
                        json_object_set(o, "response", j);
                else if (body[0])
                        json_object_set_new(o, "response", json_string(body));
                json_dumpf(o, stdout, JSON_INDENT(2));
                putchar('\n');
                json_decref(o);
                goto out;
        }
        if (code != 200) {
                char msg[320];
                ferry_client_error_text(body, strlen(body), msg, sizeof(msg));
                printf("%s: unhealthy (HTTP %ld)%s%s\n", cli->server, code, msg[0] ? ": " : "",
                       msg);
                goto out;
        }
        const char *status = json_string_value(json_object_get(j, "status"));
        printf("%s: healthy%s%s%s\n", cli->server, status ? " (" : "", status ? status : "",
               status ? ")" : "");
        json_t *res = json_object_get(j, "resources");
        if (json_is_object(res)) {
                printf("  cpu:     %s\n", qty(res, "cpu"));
                printf("  memory:  %s\n", qty(res, "memory"));
                printf("  pods:    %s\n", qty(res, "pods"));
                size_t i;
                json_t *a;
                json_array_foreach(json_object_get(res, "accelerators"), i, a)
                    printf("  %s: %s\n",
                           json_string_value(json_object_get(a, "resourceType")) ?: "accelerator",
                           qty(a, "available"));
        }
        json_t *taints = json_object_get(j, "taints");
        if (json_array_size(taints) > 0) {
                size_t i;
                json_t *t;
                printf("  taints:\n");
                json_array_foreach(taints, i, t)
                    printf("    %s=%s:%s\n", json_string_value(json_object_get(t, "key")) ?: "",
                           json_string_value(json_object_get(t, "value")) ?: "",
                           json_string_value(json_object_get(t, "effect")) ?: "");
        }
out:
        json_decref(j);
        free(body);
        ferry_client_free(c);
        return ex;
}
