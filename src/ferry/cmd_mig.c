/* SPDX-License-Identifier: MIT */
/* ferry mig plan: read an inventory and a demand, print a MIG layout plan. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "common/util.h"
#include "gpu/mig.h"
#include "gpu/mig_io.h"

static void mig_usage(FILE *f)
{
        fprintf(f,
                "Usage: ferry mig plan --inventory FILE --demand FILE [-o table|json|mig-parted]\n"
                "                      [--allow-disrupt] [--exact|--heuristic]\n\n"
                "Choose a MIG layout per GPU that serves the most weighted demand, changing the\n"
                "fewest GPUs and nodes. Inputs are YAML or JSON (see doc/gpu.md).\n\n"
                "  -i, --inventory FILE  nodes, GPUs, current layouts, instances in use\n"
                "  -d, --demand FILE     requested instances per profile, with weights\n"
                "  -o, --output FMT      table (default), json, or mig-parted (GPU Operator)\n"
                "  --allow-disrupt       may destroy instances in use (otherwise never)\n"
                "  --exact               search exhaustively (may take long on big clusters)\n"
                "  --heuristic           skip the exact search even on small clusters\n");
}

static int read_input(const char *path, char **ret, size_t *len)
{
        int r = ferry_read_file(path, FERRY_MIG_FILE_MAX, ret, len);
        if (r == -EFBIG)
                fprintf(stderr, "ferry mig: %s is larger than %u bytes\n", path,
                        FERRY_MIG_FILE_MAX);
        else if (r < 0)
                fprintf(stderr, "ferry mig: cannot read %s: %s\n", path, strerror(-r));
        return r;
}

static int mig_plan(int argc, char **argv)
{
        static const struct option opts[] = {
            {"inventory", required_argument, NULL, 'i'},
            {"demand", required_argument, NULL, 'd'},
            {"output", required_argument, NULL, 'o'},
            {"allow-disrupt", no_argument, NULL, 'D'},
            {"exact", no_argument, NULL, 'E'},
            {"heuristic", no_argument, NULL, 'H'},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        const char *inv_path = NULL, *dem_path = NULL;
        enum ferry_mig_format fmt = FERRY_MIG_FMT_TABLE;
        struct ferry_mig_options o = {.mode = FERRY_MIG_AUTO};
        int c;

        while ((c = getopt_long(argc, argv, "i:d:o:h", opts, NULL)) != -1) {
                switch (c) {
                case 'i': inv_path = optarg; break;
                case 'd': dem_path = optarg; break;
                case 'o':
                        if (strcmp(optarg, "table") == 0)
                                fmt = FERRY_MIG_FMT_TABLE;
                        else if (strcmp(optarg, "json") == 0)
                                fmt = FERRY_MIG_FMT_JSON;
                        else if (strcmp(optarg, "mig-parted") == 0)
                                fmt = FERRY_MIG_FMT_MIG_PARTED;
                        else {
                                fprintf(stderr,
                                        "ferry mig plan: unknown output '%s' (table, "
                                        "json, mig-parted)\n",
                                        optarg);
                                return FERRY_EXIT_USAGE;
                        }
                        break;
                case 'D': o.allow_disrupt = true; break;
                case 'E':
                        o.mode = FERRY_MIG_EXACT;
                        o.node_limit = UINT64_MAX;
                        break;
                case 'H': o.mode = FERRY_MIG_HEURISTIC; break;
                case 'h': mig_usage(stdout); return FERRY_EXIT_OK;
                default: mig_usage(stderr); return FERRY_EXIT_USAGE;
                }
        }
        if (!inv_path || !dem_path || optind != argc) {
                fprintf(stderr, "ferry mig plan: --inventory and --demand are required\n");
                mig_usage(stderr);
                return FERRY_EXIT_USAGE;
        }

        _cleanup_free_ char *itext = NULL, *dtext = NULL, *text = NULL;
        size_t ilen, dlen;
        struct ferry_mig_inventory inv = {0};
        struct ferry_mig_demand dem = {0};
        struct ferry_mig_plan *plan = NULL;
        ferry_error_t err;
        int ret = FERRY_EXIT_FAIL;

        if (read_input(inv_path, &itext, &ilen) < 0 || read_input(dem_path, &dtext, &dlen) < 0)
                return FERRY_EXIT_FAIL;
        if (ferry_mig_inventory_parse(itext, ilen, inv_path, &inv, &err) < 0 ||
            ferry_mig_demand_parse(dtext, dlen, dem_path, &dem, &err) < 0 ||
            ferry_mig_demand_check(&dem, &inv, dem_path, &err) < 0 ||
            ferry_mig_plan(&inv, &dem, &o, &plan, &err) < 0) {
                fprintf(stderr, "ferry mig plan: %s\n", err.text);
                goto out;
        }
        text = ferry_mig_plan_format(plan, &inv, &dem, fmt);
        fputs(text, stdout);
        ret = fflush(stdout) == 0 ? FERRY_EXIT_OK : FERRY_EXIT_FAIL;
out:
        ferry_mig_plan_free(plan);
        ferry_mig_inventory_free(&inv);
        ferry_mig_demand_free(&dem);
        return ret;
}

int ferry_cmd_mig(struct ferry_cli *cli, int argc, char **argv)
{
        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                mig_usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? FERRY_EXIT_USAGE : FERRY_EXIT_OK;
        }
        if (strcmp(argv[1], "plan") == 0)
                return mig_plan(argc - 1, argv + 1);
        fprintf(stderr, "ferry mig: unknown subcommand '%s' (try 'ferry mig plan')\n", argv[1]);
        return FERRY_EXIT_USAGE;
}
