/* SPDX-License-Identifier: MIT */
/* placeholder until the verb lands; replaced by its implementation */
#include <stdio.h>

#include "cli.h"

int ferry_cmd_run(struct ferry_cli *cli, int argc, char **argv)
{
        fprintf(stderr, "ferry run: not built yet\n");
        return FERRY_EXIT_UNAVAILABLE;
}
