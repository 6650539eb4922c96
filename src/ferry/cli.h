/* SPDX-License-Identifier: MIT */
/*
 * The `ferry` CLI: one thin file per verb (cmd_*.c) over the libraries.
 *
 * Exit codes (documented in the README and `ferry --help`):
 *   0 success; 1 the operation failed (a pod failed, server said no);
 *   2 usage error; 3 cannot reach the server; 4 not found; 5 not available
 *   here (e.g. no NVIDIA driver).
 */
#ifndef FERRY_CLI_H
#define FERRY_CLI_H

#include <stdbool.h>

enum {
        FERRY_EXIT_OK = 0,
        FERRY_EXIT_FAIL = 1,
        FERRY_EXIT_USAGE = 2,
        FERRY_EXIT_UNREACHABLE = 3,
        FERRY_EXIT_NOTFOUND = 4,
        FERRY_EXIT_UNAVAILABLE = 5,
};

/* Global options, parsed before the verb. */
struct ferry_cli {
        const char *server;     /* --server URL, $FERRY_SERVER, or the default socket */
        const char *token_file; /* --token-file, $FERRY_TOKEN_FILE */
        const char *ca_file;    /* --cacert, $FERRY_CA_FILE: CA for https:// servers */
        bool verbose;
        const char *prog;
};

#define FERRY_DEFAULT_SOCKET "/run/ferry/ferryd.sock"

/* Each verb gets argv with argv[0] = the verb name (getopt-ready). */
int ferry_cmd_run(struct ferry_cli *cli, int argc, char **argv);
int ferry_cmd_get(struct ferry_cli *cli, int argc, char **argv);
int ferry_cmd_logs(struct ferry_cli *cli, int argc, char **argv);
int ferry_cmd_delete(struct ferry_cli *cli, int argc, char **argv);
int ferry_cmd_ping(struct ferry_cli *cli, int argc, char **argv);
int ferry_cmd_tenants(struct ferry_cli *cli, int argc, char **argv);
int ferry_cmd_usage(struct ferry_cli *cli, int argc, char **argv);
int ferry_cmd_mig(struct ferry_cli *cli, int argc, char **argv);
int ferry_cmd_gpu(struct ferry_cli *cli, int argc, char **argv);

#endif
