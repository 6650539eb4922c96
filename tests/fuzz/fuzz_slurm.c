/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the Slurm parsers: sbatch/squeue/sacct/sinfo output
 * (src/backend/slurm/parse.h), the state mapping, and the site YAML parser.
 * Built with -Dfuzz=true (clang); the committed corpus (tests/fuzz/corpus/slurm)
 * is replayed by the normal test run.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/slurm/job.h"
#include "backend/slurm/job_internal.h"
#include "backend/slurm/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *s = (const char *)data;
        ferry_error_t err;
        uint64_t id;
        char cl[32];
        struct slurm_job_list l;
        struct slurm_capacity c;
        struct slurm_site *site = NULL;
        struct slurm_pod_state ps;

        (void)slurm_parse_sbatch(s, size, &id, cl, sizeof(cl), &err);
        if (slurm_parse_squeue(s, size, &l, NULL, &err) == 0) {
                for (size_t i = 0; i < l.n; i++)
                        slurm_state_map(l.jobs[i].state, l.jobs[i].reason, &ps);
                if (l.n)
                        (void)slurm_job_list_find(&l, l.jobs[0].name);
                slurm_job_list_free(&l);
        }
        if (slurm_parse_sacct(s, size, &l, NULL, &err) == 0)
                slurm_job_list_free(&l);
        if (slurm_parse_sinfo(s, size, &c, NULL, &err) == 0)
                slurm_capacity_clear(&c);
        if (slurm_site_parse(s, size, &site, &err) == 0)
                slurm_site_free(site);

        /* NUL-terminated helpers */
        char *z = malloc(size + 1);
        memcpy(z, data, size);
        z[size] = '\0';
        int64_t t;
        (void)slurm_parse_time(z, &t);
        (void)slurm_time_parse(z, &t);
        slurm_state_map(slurm_state_parse(z), z, &ps);
        (void)slurm_flag_reserved(z);
        free(z);
        return 0;
}
