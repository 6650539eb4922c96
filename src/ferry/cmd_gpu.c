/* SPDX-License-Identifier: MIT */
/* ferry gpu ls: GPUs, MIG mode and instances from NVML (read-only). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "common/util.h"
#include "gpu/nvml.h"

static void gpu_usage(FILE *f)
{
        fprintf(f, "Usage: ferry gpu ls [-o table|json]\n\n"
                   "List GPUs, MIG mode, GPU/compute instances, memory and utilisation from\n"
                   "NVML (libnvidia-ml.so.1, or $" FERRY_NVML_ENV "). Exits 5 without a driver.\n");
}

static int gpu_ls(int argc, char **argv)
{
        static const struct option opts[] = {
            {"output", required_argument, NULL, 'o'},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        bool json = false;
        int c;

        while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
                switch (c) {
                case 'o':
                        if (strcmp(optarg, "json") == 0)
                                json = true;
                        else if (strcmp(optarg, "table") != 0) {
                                fprintf(stderr, "ferry gpu ls: unknown output '%s' (table, json)\n",
                                        optarg);
                                return FERRY_EXIT_USAGE;
                        }
                        break;
                case 'h': gpu_usage(stdout); return FERRY_EXIT_OK;
                default: gpu_usage(stderr); return FERRY_EXIT_USAGE;
                }
        }
        if (optind != argc) {
                gpu_usage(stderr);
                return FERRY_EXIT_USAGE;
        }

        struct ferry_gpu_inventory inv;
        ferry_error_t err;
        int r = ferry_nvml_inventory(&inv, &err);
        if (r < 0) {
                fprintf(stderr, "ferry gpu ls: %s\n", err.text);
                return FERRY_EXIT_UNAVAILABLE;
        }
        _cleanup_free_ char *text = ferry_gpu_inventory_format(&inv, json);
        ferry_gpu_inventory_free(&inv);
        fputs(text, stdout);
        return fflush(stdout) == 0 ? FERRY_EXIT_OK : FERRY_EXIT_FAIL;
}

int ferry_cmd_gpu(struct ferry_cli *cli, int argc, char **argv)
{
        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                gpu_usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? FERRY_EXIT_USAGE : FERRY_EXIT_OK;
        }
        if (strcmp(argv[1], "ls") == 0)
                return gpu_ls(argc - 1, argv + 1);
        fprintf(stderr, "ferry gpu: unknown subcommand '%s' (try 'ferry gpu ls')\n", argv[1]);
        return FERRY_EXIT_USAGE;
}
