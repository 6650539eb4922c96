/* SPDX-License-Identifier: MIT */
/* Helpers shared by the Slurm translator's files (site.c, job.c); not exported. */
#ifndef FERRY_SLURM_JOB_INTERNAL_H
#define FERRY_SLURM_JOB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void slurm_strv_free(char **v, size_t n);
/* The long name ("job-name") of the sbatch option that `opt` ("-J", "--job-name",
 * "--job" (an abbreviation getopt_long accepts)) names, when ferryd reserves it; else NULL. */
const char *slurm_flag_reserved(const char *opt);
/* Slurm time limits: "M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S"; "UNLIMITED",
 * "INFINITE" and "0" give -1. 0 or -EINVAL. */
int slurm_time_parse(const char *s, int64_t *ret_s);
/* Absolute, without empty, "." or ".." components, no control characters. */
bool slurm_abs_path_ok(const char *p);

#endif
