/* SPDX-License-Identifier: MIT */
/* placeholder until the verb lands; replaced by its implementation */
#include <stdio.h>

#include "cli.h"

int ferry_cmd_ping(struct ferry_cli *cli, int argc, char **argv)
{
        fprintf(stderr, "ferry ping: not built yet\n");
        return FERRY_EXIT_UNAVAILABLE;
}
