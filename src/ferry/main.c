/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ferry-config.h"

static const struct verb {
        const char *name;
        int (*fn)(struct ferry_cli *, int, char **);
        const char *help;
} verbs[] = {
    {"run", ferry_cmd_run,
     "run pods from YAML/JSON manifests (-f FILE|DIR [--wait [--timeout D]] [--follow] "
     "[--dry-run])"},
    {"get", ferry_cmd_get, "list pods, or show one (get [POD] [-n NS | -A] [-o json|wide])"},
    {"logs", ferry_cmd_logs,
     "print a container's logs (logs [-f] [-c C] [--tail N] [--since D] [--timestamps] POD)"},
    {"delete", ferry_cmd_delete, "delete pods (delete POD...)"},
    {"ping", ferry_cmd_ping, "check the server and show its free capacity"},
    {"tenants", ferry_cmd_tenants,
     "the site's tenants: quota, held, waiting pods, usage, share (tenants [-o json])"},
    {"usage", ferry_cmd_usage,
     "what pods used, from the usage ledger (usage [--since T] [--by KEY] [-o F] [--export])"},
    {"mig", ferry_cmd_mig, "plan MIG layouts (mig plan --inventory F --demand F)"},
    {"gpu", ferry_cmd_gpu, "GPU inventory from NVML (gpu ls [-o json])"},
};

static void usage(FILE *f, const char *prog)
{
        fprintf(f,
                "Usage: %s [--server URL] [--token-file FILE] COMMAND [ARGS]\n\n"
                "Ferry client: offload pods to a ferryd site daemon and plan GPU sharing.\n\n"
                "Commands:\n",
                prog);
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
                fprintf(f, "  %-8s %s\n", verbs[i].name, verbs[i].help);
        fprintf(
            f,
            "\n'%s COMMAND --help' describes a command and all its options.\n"
            "\nOptions:\n"
            "  --server URL       unix:///path/to.sock or http(s)://host:port\n"
            "                     (default $FERRY_SERVER, else unix://" FERRY_DEFAULT_SOCKET ")\n"
            "  --token-file FILE  bearer token for TCP servers (default $FERRY_TOKEN_FILE)\n"
            "  --cacert FILE      CA certificate for https:// servers (default $FERRY_CA_FILE,\n"
            "                     else the system's CAs)\n"
            "  -v, --verbose      print HTTP exchanges\n"
            "  --version          print the version\n\n"
            "Exit codes: 0 ok, 1 failed, 2 usage, 3 server unreachable, 4 not found,\n"
            "            5 not available on this machine.\n",
            prog);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
            {"server", required_argument, NULL, 's'},
            {"token-file", required_argument, NULL, 't'},
            {"cacert", required_argument, NULL, 'C'},
            {"verbose", no_argument, NULL, 'v'},
            {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, 'V'},
            {0},
        };
        struct ferry_cli cli = {
            .server = getenv("FERRY_SERVER"),
            .token_file = getenv("FERRY_TOKEN_FILE"),
            .ca_file = getenv("FERRY_CA_FILE"),
            .prog = "ferry",
        };
        int c;

        /* '+': stop at the first non-option, the verb */
        while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
                switch (c) {
                case 's': cli.server = optarg; break;
                case 't': cli.token_file = optarg; break;
                case 'C': cli.ca_file = optarg; break;
                case 'v': cli.verbose = true; break;
                case 'h': usage(stdout, cli.prog); return FERRY_EXIT_OK;
                case 'V': printf("ferry %s\n", FERRY_VERSION); return FERRY_EXIT_OK;
                default: usage(stderr, cli.prog); return FERRY_EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                usage(stderr, cli.prog);
                return FERRY_EXIT_USAGE;
        }
        if (!cli.server || !cli.server[0])
                cli.server = "unix://" FERRY_DEFAULT_SOCKET;
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
                if (strcmp(argv[optind], verbs[i].name) == 0) {
                        char **vargv = argv + optind;
                        int vargc = argc - optind;
                        optind = 0; /* reset getopt for the verb (0 = full reinit in glibc) */
                        return verbs[i].fn(&cli, vargc, vargv);
                }
        }
        fprintf(stderr, "%s: unknown command '%s' (see '%s --help')\n", cli.prog, argv[optind],
                cli.prog);
        return FERRY_EXIT_USAGE;
}
