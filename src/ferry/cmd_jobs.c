/* SPDX-License-Identifier: MIT */
/*
 * Jobs in the CLI: `ferry get jobs [JOB]` and `ferry delete job JOB...`, on
 * ferryd's /jobs (the Job controller lives in ferryd: src/daemon/jobs.c), and
 * what `ferry run --wait` reads of a Job.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "common/util.h"
#include "output.h"
#include "podcli.h"

static const char *js(const json_t *o, const char *key)
{
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : "";
}

static int64_t jint(const json_t *o, const char *key)
{
        return json_integer_value(json_object_get(o, key));
}

bool ferry_cli_kind_word(const char *w, bool *ret_jobs)
{
        static const char *const pods[] = {"pod", "pods", "po"};
        static const char *const jobs[] = {"job", "jobs", "job.batch", "jobs.batch"};
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(jobs); i++)
                if (!strcmp(w, jobs[i])) {
                        *ret_jobs = true;
                        return true;
                }
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(pods); i++)
                if (!strcmp(w, pods[i])) {
                        *ret_jobs = false;
                        return true;
                }
        return false;
}

const json_t *ferry_cli_find_job(const json_t *all, const char *ns, const char *name)
{
        size_t i;
        json_t *j;

        json_array_foreach(all, i, j)
        {
                const json_t *m = json_object_get(j, "metadata");
                if (!strcmp(js(m, "namespace"), ns) && !strcmp(js(m, "name"), name))
                        return j;
        }
        return NULL;
}

const char *ferry_cli_job_end(const json_t *job)
{
        size_t i;
        json_t *c;

        json_array_foreach(json_object_get(json_object_get(job, "status"), "conditions"), i, c)
        {
                if (strcmp(js(c, "status"), "True") != 0)
                        continue;
                if (!strcmp(js(c, "type"), "Complete"))
                        return "Complete";
                if (!strcmp(js(c, "type"), "Failed"))
                        return "Failed";
        }
        return NULL;
}

void ferry_cli_job_summary(const json_t *job, char *buf, size_t size)
{
        const json_t *st = json_object_get(job, "status");
        const json_t *spec = json_object_get(job, "spec");

        if (!job) {
                snprintf(buf, size, "gone");
                return;
        }
        const char *end = ferry_cli_job_end(job);
        snprintf(buf, size, "%s, %lld/%lld succeeded, %lld failed, %lld active",
                 end ? end : "Running", (long long)jint(st, "succeeded"),
                 (long long)jint(spec, "completions"), (long long)jint(st, "failed"),
                 (long long)jint(st, "active"));
}

static void print_jobs(json_t *const *jobs, size_t n)
{
        static const char *const hdr[] = {"NAME",        "NAMESPACE", "STATUS",
                                          "COMPLETIONS", "DURATION",  "AGE"};
        struct ferry_table *t = ferry_table_new(6, hdr);
        int64_t now = ferry_now_ns();

        for (size_t i = 0; i < n; i++) {
                const json_t *m = json_object_get(jobs[i], "metadata");
                const json_t *st = json_object_get(jobs[i], "status");
                const char *end = ferry_cli_job_end(jobs[i]);
                char comp[48], dur[32] = "", age[32] = "";
                int64_t created = 0, start = 0, stop = now;
                snprintf(comp, sizeof(comp), "%lld/%lld", (long long)jint(st, "succeeded"),
                         (long long)jint(json_object_get(jobs[i], "spec"), "completions"));
                if (ferry_time_parse(js(m, "creationTimestamp"), &created) == 0)
                        ferry_format_age((now - created) / 1000000000, age, sizeof(age));
                const json_t *c = json_array_get(json_object_get(st, "conditions"), 0);
                if (end)
                        ferry_time_parse(js(c, "lastTransitionTime"), &stop);
                if (ferry_time_parse(js(st, "startTime"), &start) == 0)
                        ferry_format_age((stop - start) / 1000000000, dur, sizeof(dur));
                const char *row[] = {
                    js(m, "name"), js(m, "namespace"), end ? end : "Running", comp, dur, age};
                ferry_table_add(t, row);
        }
        ferry_table_print(t, stdout);
        ferry_table_free(t);
}

int ferry_cli_get_jobs(struct ferry_cli *cli, const char *ns, bool all_ns, const char *name,
                       const char *out)
{
        ferry_error_t err = {""};
        json_t *all = NULL;
        int ex = FERRY_EXIT_OK;
        struct ferry_client *c = ferry_cli_connect(cli, "get", &ex);

        if (!c)
                return ex;
        json_t *q = all_ns ? json_object() : json_pack("{ss}", "namespace", ns);
        if (name)
                json_object_set_new(q, "name", json_string(name));
        char *body = json_dumps(q, JSON_COMPACT);
        json_decref(q);
        int r = ferry_client_jobs(c, "GET", body, &all, &err);
        free(body);
        if (r < 0) {
                ex = ferry_cli_fail(cli, "get", r, &err);
                goto out;
        }
        size_t n = json_array_size(all);
        if (name && n == 0) {
                fprintf(stderr, "ferry get: job \"%s\" not found in namespace \"%s\"\n", name, ns);
                ex = FERRY_EXIT_NOTFOUND;
                goto out;
        }
        if (!strcmp(out, "json")) {
                json_dumpf(name ? json_array_get(all, 0) : all, stdout, JSON_INDENT(2));
                putchar('\n');
        } else if (n == 0) {
                if (all_ns)
                        fprintf(stderr, "No jobs found.\n");
                else
                        fprintf(stderr, "No jobs found in namespace \"%s\".\n", ns);
        } else {
                json_t **v = ferry_xcalloc(n, sizeof(*v));
                for (size_t i = 0; i < n; i++)
                        v[i] = json_array_get(all, i);
                print_jobs(v, n);
                free(v);
        }
out:
        json_decref(all);
        ferry_client_free(c);
        return ex;
}

int ferry_cli_delete_jobs(struct ferry_cli *cli, const char *ns, char *const *names, size_t n)
{
        ferry_error_t err = {""};
        int ex = FERRY_EXIT_OK;
        struct ferry_client *c = ferry_cli_connect(cli, "delete", &ex);

        if (!c)
                return ex;
        for (size_t i = 0; i < n; i++) {
                json_t *q = json_pack("{ssss}", "namespace", ns, "name", names[i]);
                char *body = json_dumps(q, JSON_COMPACT);
                json_decref(q);
                ferry_error_clear(&err);
                int r = ferry_client_jobs(c, "DELETE", body, NULL, &err);
                free(body);
                if (r < 0) {
                        int e = ferry_cli_fail(cli, "delete", r, &err);
                        if (e == FERRY_EXIT_UNREACHABLE) {
                                ex = e;
                                break;
                        }
                        if (ex == FERRY_EXIT_OK || ex == FERRY_EXIT_NOTFOUND)
                                ex = e;
                        continue;
                }
                printf("job.batch/%s deleted\n", names[i]);
        }
        ferry_client_free(c);
        return ex;
}
