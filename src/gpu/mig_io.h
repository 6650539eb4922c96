/* SPDX-License-Identifier: MIT */
/*
 * Text in and out of the planner: inventory and demand files (YAML or JSON,
 * formats in doc/gpu.md) and plan output as a table, JSON or a mig-parted
 * config. Pure: text in, structs or text out; the caller reads the files.
 *
 * Errors name the file and line: "inventory.yaml:7: unknown GPU model ...".
 */
#ifndef FERRY_GPU_MIG_IO_H
#define FERRY_GPU_MIG_IO_H

#include "common/error.h"
#include "gpu/mig.h"

#define FERRY_MIG_FILE_MAX (16u << 20) /* input files above this are refused */

/* Parse text (len bytes) named fname into *ret (caller frees with
 * ferry_mig_inventory_free / ferry_mig_demand_free). -EINVAL, -E2BIG. */
int ferry_mig_inventory_parse(const char *text, size_t len, const char *fname,
                              struct ferry_mig_inventory *ret, ferry_error_t *err);
int ferry_mig_demand_parse(const char *text, size_t len, const char *fname,
                           struct ferry_mig_demand *ret, ferry_error_t *err);

/* Every requested profile is offered by some GPU of the inventory; the error
 * names the demand file and line. */
int ferry_mig_demand_check(const struct ferry_mig_demand *d, const struct ferry_mig_inventory *inv,
                           const char *fname, ferry_error_t *err);

enum ferry_mig_format { FERRY_MIG_FMT_TABLE, FERRY_MIG_FMT_JSON, FERRY_MIG_FMT_MIG_PARTED };

/* Render a plan; returns a malloc'd NUL-terminated string the caller frees. */
char *ferry_mig_plan_format(const struct ferry_mig_plan *p, const struct ferry_mig_inventory *inv,
                            const struct ferry_mig_demand *d, enum ferry_mig_format fmt);

#endif
