/* SPDX-License-Identifier: MIT */
/* Unit tests for the batch-tool output parsers and the state mapping (parse.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "backend/slurm/parse.h"

static void test_sbatch(void **state)
{
        uint64_t id = 0;
        char cl[64];
        ferry_error_t err;

        assert_int_equal(slurm_parse_sbatch("12345\n", 6, &id, cl, sizeof(cl), &err), 0);
        assert_int_equal(id, 12345);
        assert_string_equal(cl, "");
        const char *o = "sbatch: note: something chatty\n678;linux\n";
        assert_int_equal(slurm_parse_sbatch(o, strlen(o), &id, cl, sizeof(cl), &err), 0);
        assert_int_equal(id, 678);
        assert_string_equal(cl, "linux");
        assert_int_equal(slurm_parse_sbatch("  42 \r\n", 7, &id, NULL, 0, &err), 0);
        assert_int_equal(id, 42);
        assert_int_equal(slurm_parse_sbatch("", 0, &id, cl, sizeof(cl), &err), -EINVAL);
        assert_int_equal(
            slurm_parse_sbatch("Submitted batch job 5\n", 22, &id, cl, sizeof(cl), &err), -EINVAL);
        assert_int_equal(slurm_parse_sbatch("99999999999\n", 12, &id, NULL, 0, &err), -EINVAL);
        assert_int_equal(slurm_parse_sbatch("0\n", 2, &id, NULL, 0, &err), -EINVAL);
}

static void test_states(void **state)
{
        assert_int_equal(slurm_state_parse("PENDING"), SLURM_ST_PENDING);
        assert_int_equal(slurm_state_parse("PD"), SLURM_ST_PENDING);
        assert_int_equal(slurm_state_parse("CANCELLED by 1000"), SLURM_ST_CANCELLED);
        assert_int_equal(slurm_state_parse("CANCELLED+"), SLURM_ST_CANCELLED);
        assert_int_equal(slurm_state_parse("OOM"), SLURM_ST_OUT_OF_MEMORY);
        assert_int_equal(slurm_state_parse("OUT_OF_MEMORY"), SLURM_ST_OUT_OF_MEMORY);
        assert_int_equal(slurm_state_parse("REQUEUE_HOLD"), SLURM_ST_REQUEUE_HOLD);
        assert_int_equal(slurm_state_parse("bogus"), SLURM_ST_UNKNOWN);
        assert_int_equal(slurm_state_parse(""), SLURM_ST_UNKNOWN);

        static const struct {
                enum slurm_state st;
                const char *reason;
                enum slurm_phase phase;
                const char *want;
                bool files;
        } cases[] = {
            {SLURM_ST_PENDING, "Resources", SLURM_PHASE_WAITING, "SlurmResources", false},
            {SLURM_ST_PENDING, "Priority", SLURM_PHASE_WAITING, "SlurmPriority", false},
            {SLURM_ST_PENDING, "BeginTime", SLURM_PHASE_WAITING, "SlurmBeginTime", false},
            {SLURM_ST_PENDING, "ReqNodeNotAvail, UnavailableNodes:n[1-2]", SLURM_PHASE_WAITING,
             "SlurmReqNodeNotAvail", false},
            {SLURM_ST_PENDING, "None", SLURM_PHASE_WAITING, "SlurmPending", false},
            {SLURM_ST_PENDING, NULL, SLURM_PHASE_WAITING, "SlurmPending", false},
            {SLURM_ST_CONFIGURING, NULL, SLURM_PHASE_WAITING, "SlurmConfiguring", false},
            {SLURM_ST_RUNNING, "None", SLURM_PHASE_RUNNING, "", true},
            {SLURM_ST_COMPLETING, "None", SLURM_PHASE_RUNNING, "", true},
            {SLURM_ST_COMPLETED, NULL, SLURM_PHASE_TERMINATED, "Completed", true},
            {SLURM_ST_FAILED, "NonZeroExitCode", SLURM_PHASE_TERMINATED, "Error", true},
            {SLURM_ST_TIMEOUT, NULL, SLURM_PHASE_TERMINATED, "SlurmJobTimeout", false},
            {SLURM_ST_OUT_OF_MEMORY, NULL, SLURM_PHASE_TERMINATED, "OOMKilled", false},
            {SLURM_ST_CANCELLED, NULL, SLURM_PHASE_TERMINATED, "SlurmJobCancelled", false},
            {SLURM_ST_NODE_FAIL, NULL, SLURM_PHASE_TERMINATED, "SlurmNodeFail", false},
            {SLURM_ST_PREEMPTED, NULL, SLURM_PHASE_TERMINATED, "SlurmJobPreempted", false},
            {SLURM_ST_BOOT_FAIL, NULL, SLURM_PHASE_TERMINATED, "SlurmBootFail", false},
            {SLURM_ST_DEADLINE, NULL, SLURM_PHASE_TERMINATED, "SlurmJobDeadline", false},
            {SLURM_ST_REQUEUED, NULL, SLURM_PHASE_WAITING, "SlurmJobRequeued", false},
            {SLURM_ST_REQUEUE_HOLD, "JobHeldAdmin", SLURM_PHASE_WAITING, "SlurmJobRequeueHeld",
             false},
            {SLURM_ST_SUSPENDED, NULL, SLURM_PHASE_RUNNING, "SlurmJobSuspended", true},
            {SLURM_ST_UNKNOWN, NULL, SLURM_PHASE_WAITING, "SlurmUnknownState", false},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct slurm_pod_state ps;
                slurm_state_map(cases[i].st, cases[i].reason, &ps);
                if (strcmp(ps.reason, cases[i].want) || ps.phase != cases[i].phase ||
                    ps.from_files != cases[i].files)
                        print_error("case %zu (%s): got %s/%d/%d\n", i,
                                    slurm_state_name(cases[i].st), ps.reason, ps.phase,
                                    ps.from_files);
                assert_string_equal(ps.reason, cases[i].want);
                assert_int_equal(ps.phase, cases[i].phase);
                assert_int_equal(ps.from_files, cases[i].files);
        }
        /* Slurm's text is cleaned before it reaches the pod status */
        struct slurm_pod_state ps;
        slurm_state_map(SLURM_ST_PENDING, "Bad\x01\nReason", &ps);
        assert_string_equal(ps.reason, "SlurmBad");
        assert_null(strchr(ps.message, '\n'));
}

static void test_squeue(void **state)
{
        const char *out =
            "101|00000000-0000-4000-9000-000000000001|PENDING|Resources|N/A|N/A|ferry\n"
            "102|00000000-0000-4000-9000-000000000002|RUNNING|None|2024-01-10T10:00:05|"
            "2024-01-10T11:00:05|ferry\n"
            "103|a|b|name with bars|COMPLETING|None|2024-01-10T10:00:05|Unknown|alice\n"
            "garbage line\n"
            "104|x|PENDING|Priority|N/A|not a time|bob\n"
            "105|00000000-0000-4000-9000-000000000001|PENDING|BeginTime|N/A|N/A|ferry\n";
        struct slurm_job_list l;
        size_t bad;
        ferry_error_t err;

        assert_int_equal(slurm_parse_squeue(out, strlen(out), &l, &bad, &err), 0);
        assert_int_equal(l.n, 4);
        assert_int_equal(bad, 2);
        assert_string_equal(l.jobs[0].id, "101");
        assert_int_equal(l.jobs[0].state, SLURM_ST_PENDING);
        assert_string_equal(l.jobs[0].reason, "Resources");
        assert_int_equal(l.jobs[0].start_s, -1);
        assert_int_equal(l.jobs[1].start_s, 1704880805);
        assert_int_equal(l.jobs[1].end_s, 1704884405);
        assert_string_equal(l.jobs[2].name, "a|b|name with bars");
        assert_int_equal(l.jobs[2].state, SLURM_ST_COMPLETING);
        assert_string_equal(l.jobs[2].user, "alice");
        const struct slurm_job_info *j =
            slurm_job_list_find(&l, "00000000-0000-4000-9000-000000000001");
        assert_non_null(j);
        assert_string_equal(j->id, "105"); /* the newest of two */
        assert_null(slurm_job_list_find(&l, "nope"));
        slurm_job_list_free(&l);
        assert_int_equal(slurm_parse_squeue("", 0, &l, NULL, &err), 0);
        assert_int_equal(l.n, 0);
        slurm_job_list_free(&l);
}

static void test_sacct(void **state)
{
        const char *out =
            "201|pod-a|COMPLETED|0:0|2024-01-10T10:00:00|2024-01-10T10:01:00\n"
            "201.batch|batch|COMPLETED|0:0|2024-01-10T10:00:00|2024-01-10T10:01:00\n"
            "201.extern|extern|COMPLETED|0:0|2024-01-10T10:00:00|2024-01-10T10:01:00\n"
            "202|pod-b|CANCELLED by 1000|0:15|2024-01-10T10:00:00|2024-01-10T10:00:30\n"
            "203|pod-c|TIMEOUT|0:0|2024-01-10T10:00:00|2024-01-10T10:30:00\n"
            "204|pod-d|OUT_OF_MEMORY|0:125|2024-01-10T10:00:00|2024-01-10T10:00:09\n"
            "205|pod-e|PENDING|0:0|Unknown|Unknown\n"
            "206|pod-f|FAILED|300:0|None|None\n";
        struct slurm_job_list l;
        size_t bad;
        ferry_error_t err;

        assert_int_equal(slurm_parse_sacct(out, strlen(out), &l, &bad, &err), 0);
        assert_int_equal(l.n, 5);
        assert_int_equal(bad, 1);
        assert_int_equal(l.jobs[1].state, SLURM_ST_CANCELLED);
        assert_string_equal(l.jobs[1].state_text, "CANCELLED by 1000");
        assert_int_equal(l.jobs[1].exit_signal, 15);
        assert_int_equal(l.jobs[3].state, SLURM_ST_OUT_OF_MEMORY);
        assert_int_equal(l.jobs[3].exit_signal, 125);
        assert_int_equal(l.jobs[4].start_s, -1);
        assert_null(l.jobs[0].reason);
        slurm_job_list_free(&l);
}

static void test_sinfo(void **state)
{
        /* as Slurm 22.05 prints it: fields padded, each ends with '|' */
        const char *out =
            "node1               |4/12/0/16           |8000                |64000               "
            "|gpu:a100:2(S:0-1)   |gpu:a100:1(IDX:0)   |mix                 |\n"
            "node1               |4/12/0/16           |8000                |64000               "
            "|gpu:a100:2(S:0-1)   |gpu:a100:1(IDX:0)   |mix                 |\n"
            "node2|0/8/0/"
            "8|0|32000|gpu:1g.10gb:7,gpu:a100:1|gpu:1g.10gb:2(IDX:0-1),gpu:a100:0(IDX:N/A)|idle|\n"
            "node3|0/0/8/8|0|32000|gpu:2|gpu:0|down*|\n"
            "node4|0/8/0/8|0|16000|(null)|gpu:0|drain|\n"
            "node5|1/7/0/8|1000|16000|gpu:2,shard:8|gpu:1,shard:2|alloc|\n"
            "broken|x|y|z\n";
        struct slurm_capacity c;
        size_t bad;
        ferry_error_t err;

        assert_int_equal(slurm_parse_sinfo(out, strlen(out), &c, &bad, &err), 0);
        assert_int_equal(bad, 1);
        assert_int_equal(c.nodes, 5);
        assert_int_equal(c.usable_nodes, 3);
        assert_int_equal(c.cpus_total, 16 + 8 + 8 + 8 + 8);
        assert_int_equal(c.cpus_free, 12 + 8 + 7);
        assert_int_equal(c.mem_free_mb, 56000 + 32000 + 15000);
        assert_int_equal(c.n_gpus, 3);
        assert_string_equal(c.gpus[0].type, "gpu");
        assert_int_equal(c.gpus[0].total, 2);
        assert_int_equal(c.gpus[0].used, 1);
        assert_string_equal(c.gpus[1].type, "gpu:1g.10gb");
        assert_int_equal(c.gpus[1].total, 7);
        assert_int_equal(c.gpus[1].used, 2);
        assert_string_equal(c.gpus[2].type, "gpu:a100");
        assert_int_equal(c.gpus[2].total, 3);
        assert_int_equal(c.gpus[2].used, 1);
        slurm_capacity_clear(&c);
        /* a cluster that reports nothing: zero nodes, the caller says so */
        assert_int_equal(slurm_parse_sinfo("", 0, &c, &bad, &err), 0);
        assert_int_equal(c.nodes, 0);
        slurm_capacity_clear(&c);
}

static void test_time(void **state)
{
        int64_t t;
        setenv("TZ", "UTC0", 1);
        tzset();
        assert_int_equal(slurm_parse_time("1970-01-01T00:00:00", &t), 0);
        assert_int_equal(t, 0);
        /* Slurm prints local time: in Rome (a POSIX rule, no tzdata needed)
         * 11:00 in winter and 12:00 in summer are both 10:00 UTC */
        setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
        tzset();
        assert_int_equal(slurm_parse_time("2024-01-10T11:00:05", &t), 0);
        assert_int_equal(t, 1704880805);
        assert_int_equal(slurm_parse_time("2024-07-10T12:00:00", &t), 0);
        assert_int_equal(t, 1720605600);
        setenv("TZ", "UTC0", 1);
        tzset();
        assert_int_equal(slurm_parse_time("N/A", &t), 0);
        assert_int_equal(t, -1);
        assert_int_equal(slurm_parse_time("2024-13-01T00:00:00", &t), -EINVAL);
        assert_int_equal(slurm_parse_time("2024-01-01T00:00:00Z", &t), -EINVAL);
        assert_int_equal(slurm_parse_time("2024-01-01 00:00:00", &t), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_sbatch), cmocka_unit_test(test_states),
            cmocka_unit_test(test_squeue), cmocka_unit_test(test_sacct),
            cmocka_unit_test(test_sinfo),  cmocka_unit_test(test_time),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
