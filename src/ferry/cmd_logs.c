/* SPDX-License-Identifier: MIT */
/* placeholder until the verb lands; replaced by its implementation */
#include <stdio.h>

#include "cli.h"

int ferry_cmd_logs(struct ferry_cli *cli, int argc, char **argv)
{
        fprintf(stderr, "ferry logs: not built yet\n");
        return FERRY_EXIT_UNAVAILABLE;
}
