/* SPDX-License-Identifier: MIT */
/*
 * ferry run -f FILE|DIR [-n NS] [--wait] [--follow] [-o json]: manifests ->
 * PodCreateRequests (manifest.c, pure) -> /create, then optionally wait for
 * all pods with one /status call per poll, or stream one pod's logs.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/util.h"
#include "manifest.h"
#include "output.h"
#include "podcli.h"

#define MAX_FILES 256

struct run {
        struct ferry_cli *cli;
        struct ferry_client *c;
        json_t *pods;    /* the Pods created, as sent (the /status body) */
        json_t *created; /* [{name, namespace, uid, job}] */
        json_t *last;    /* last /status answer */
        json_t *jobs;    /* the Jobs created: [{namespace, name}] */
};

static void run_usage(FILE *f)
{
        fprintf(
            f, "Usage: ferry run -f FILE|DIR [-f ...] [-n NAMESPACE] [--wait [--timeout D]]\n"
               "                 [--follow] [-o json]\n\n"
               "Submit the Pods and Jobs (batch/v1) in kubectl-style YAML or JSON manifests,\n"
               "with the ConfigMaps and Secrets they use. ferryd runs each Job: it makes its\n"
               "pods, retries failed ones, and keeps its state (see 'ferry get jobs'). A DIR\n"
               "means its *.yaml, *.yml and *.json files; - reads standard input.\n"
               "  --wait          wait until every pod and job has finished; exit 0 if all\n"
               "                  succeeded\n"
               "  --timeout D     with --wait: give up after D (e.g. 10m); exit 1\n"
               "  --follow        one pod: stream its containers' logs, then exit with its result\n"
               "  --dry-run       print the PodCreateRequests JSON and submit nothing\n"
               "  -o json         print what was created as JSON\n");
}

static void sleep_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int poll_status(struct run *rn, json_t *pods, ferry_error_t *err)
{
        char *body = json_dumps(pods, JSON_COMPACT);
        json_t *ans = NULL;
        int r = ferry_client_status(rn->c, body, &ans, err);

        free(body);
        if (r < 0)
                return r;
        json_decref(rn->last);
        rn->last = ans;
        return 0;
}

static json_t *status_of(json_t *answer, const char *uid)
{
        size_t i;
        json_t *ps;

        json_array_foreach(answer, i, ps)
        {
                const char *u = json_string_value(json_object_get(ps, "UID"));
                if (u && strcmp(u, uid) == 0)
                        return ps;
        }
        return NULL;
}

static const char *jstr_of(const json_t *o, const char *key)
{
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : "";
}

static const char *uid_of(const json_t *pod)
{
        return json_string_value(json_object_get(json_object_get(pod, "metadata"), "uid"));
}

static const char *name_of(const json_t *pod)
{
        return json_string_value(json_object_get(json_object_get(pod, "metadata"), "name"));
}

/* Why a pod failed, in a few words. */
static void failure_text(const json_t *ps, char *buf, size_t size)
{
        static const char *const keys[] = {"initContainers", "containers"};
        const char *reason = json_string_value(json_object_get(ps, "reason"));
        const char *msg = json_string_value(json_object_get(ps, "message"));
        size_t i;
        json_t *c;

        if (!ps) {
                snprintf(buf, size, "the server no longer knows it (deleted?)");
                return;
        }
        for (size_t k = 0; k < 2; k++)
                json_array_foreach(json_object_get(ps, keys[k]), i, c)
                {
                        json_t *t = json_object_get(json_object_get(c, "state"), "terminated");
                        long long code = json_integer_value(json_object_get(t, "exitCode"));
                        if (!t || code == 0)
                                continue;
                        const char *cr = json_string_value(json_object_get(t, "reason"));
                        snprintf(buf, size, "%scontainer %s exited with code %lld%s%s%s",
                                 k == 0 ? "init " : "",
                                 json_string_value(json_object_get(c, "name")), code,
                                 cr ? " (" : "", cr ? cr : "", cr ? ")" : "");
                        return;
                }
        snprintf(buf, size, "%s%s%s", reason ? reason : "failed", msg ? ": " : "", msg ? msg : "");
}

/* Poll until every pod is done. Returns the exit code. */
static int wait_all(struct run *rn, int64_t timeout_s)
{
        bool tty = isatty(STDERR_FILENO);
        int64_t start = ferry_monotonic_ns();
        char line[160], prev[160] = "";
        ferry_error_t err = {""};
        struct ferry_progress p;
        long delay = 200;
        size_t n = json_array_size(rn->pods), i;
        json_t *pod;
        int r;

        for (;;) {
                r = poll_status(rn, rn->pods, &err);
                if (r < 0) {
                        if (tty && prev[0])
                                fputc('\n', stderr);
                        return ferry_cli_fail(rn->cli, "run", r, &err);
                }
                memset(&p, 0, sizeof(p));
                p.total = (unsigned)n;
                json_array_foreach(rn->pods, i, pod)
                {
                        json_t *ps = status_of(rn->last, uid_of(pod));
                        const char *ph = ps ? ferry_client_pod_phase(ps) : "Failed";
                        if (strcmp(ph, "Succeeded") == 0)
                                p.succeeded++;
                        else if (strcmp(ph, "Failed") == 0)
                                p.failed++;
                        else if (strcmp(ph, "Running") == 0)
                                p.running++;
                        else
                                p.pending++;
                }
                ferry_progress_text(&p, line, sizeof(line));
                if (tty)
                        fprintf(stderr, "\r%s\033[K", line);
                else if (strcmp(line, prev) != 0)
                        fprintf(stderr, "%s\n", line);
                snprintf(prev, sizeof(prev), "%s", line);
                if (p.succeeded + p.failed == p.total)
                        break;
                if (timeout_s > 0 && ferry_monotonic_ns() - start > timeout_s * 1000000000LL) {
                        if (tty)
                                fputc('\n', stderr);
                        fprintf(stderr,
                                "ferry run: %u of %u pods still unfinished after %llds; they keep "
                                "running (see 'ferry get', 'ferry delete')\n",
                                p.running + p.pending, p.total, (long long)timeout_s);
                        return FERRY_EXIT_FAIL;
                }
                sleep_ms(delay);
                if (delay < 2000)
                        delay = delay * 3 / 2;
        }
        if (tty)
                fputc('\n', stderr);
        json_array_foreach(rn->pods, i, pod)
        {
                json_t *ps = status_of(rn->last, uid_of(pod));
                if (ps && strcmp(ferry_client_pod_phase(ps), "Succeeded") == 0)
                        continue;
                failure_text(ps, line, sizeof(line));
                fprintf(stderr, "pod/%s failed: %s\n", name_of(pod), line);
        }
        return p.failed ? FERRY_EXIT_FAIL : FERRY_EXIT_OK;
}

/* Poll /jobs until every job created has a Complete or Failed condition.
 * Returns the exit code. */
static int wait_jobs(struct run *rn, int64_t deadline_mono)
{
        char prev[1024] = "";
        ferry_error_t err = {""};
        long delay = 200;
        size_t i;
        json_t *want, *all = NULL;
        int failed = 0, r;

        for (;;) {
                json_decref(all);
                all = NULL;
                ferry_error_clear(&err);
                r = ferry_client_jobs(rn->c, "GET", "{}", &all, &err);
                if (r < 0)
                        return ferry_cli_fail(rn->cli, "run", r, &err);
                struct ferry_buf line = FERRY_BUF_INIT;
                size_t done = 0;
                failed = 0;
                json_array_foreach(rn->jobs, i, want)
                {
                        const json_t *j = ferry_cli_find_job(all, jstr_of(want, "namespace"),
                                                             jstr_of(want, "name"));
                        const char *end = j ? ferry_cli_job_end(j) : "Failed";
                        if (end) {
                                done++;
                                failed += strcmp(end, "Complete") != 0;
                        }
                        char summary[200];
                        ferry_cli_job_summary(j, summary, sizeof(summary));
                        ferry_buf_printf(&line, "%sjob/%s: %s", i ? "; " : "",
                                         jstr_of(want, "name"), summary);
                }
                ferry_buf_adds(&line, "");
                if (strcmp(line.data, prev) != 0)
                        fprintf(stderr, "%s\n", line.data);
                snprintf(prev, sizeof(prev), "%s", line.data);
                ferry_buf_free(&line);
                if (done == json_array_size(rn->jobs))
                        break;
                if (deadline_mono && ferry_monotonic_ns() > deadline_mono) {
                        fprintf(stderr,
                                "ferry run: %zu of %zu jobs still unfinished; they keep running "
                                "(see 'ferry get jobs', 'ferry delete job')\n",
                                json_array_size(rn->jobs) - done, json_array_size(rn->jobs));
                        json_decref(all);
                        return FERRY_EXIT_FAIL;
                }
                sleep_ms(delay);
                if (delay < 2000)
                        delay = delay * 3 / 2;
        }
        json_array_foreach(rn->jobs, i, want)
        {
                const json_t *j =
                    ferry_cli_find_job(all, jstr_of(want, "namespace"), jstr_of(want, "name"));
                const char *end = j ? ferry_cli_job_end(j) : NULL;
                if (end && !strcmp(end, "Complete"))
                        continue;
                const json_t *c =
                    json_array_get(json_object_get(json_object_get(j, "status"), "conditions"), 0);
                fprintf(stderr, "job/%s failed: %s%s%s\n", jstr_of(want, "name"),
                        j ? jstr_of(c, "reason") : "the server no longer knows it (deleted?)",
                        j ? ": " : "", j ? jstr_of(c, "message") : "");
        }
        json_decref(all);
        return failed ? FERRY_EXIT_FAIL : FERRY_EXIT_OK;
}

static int follow_one(struct run *rn)
{
        static const char *const keys[] = {"initContainers", "containers"};
        json_t *pod = json_array_get(rn->pods, 0);
        json_t *spec = json_object_get(pod, "spec");
        const json_t *meta = json_object_get(pod, "metadata");
        const char *uid = uid_of(pod), *name = name_of(pod);
        const char *ns = json_string_value(json_object_get(meta, "namespace"));
        size_t total = json_array_size(json_object_get(spec, "initContainers")) +
                       json_array_size(json_object_get(spec, "containers"));
        json_t *one = json_array(), *ps, *c;
        ferry_error_t err = {""};
        char why[160];
        size_t i;
        int r, ex = FERRY_EXIT_FAIL;

        json_array_append(one, pod);
        for (size_t k = 0; k < 2; k++) {
                json_array_foreach(json_object_get(spec, keys[k]), i, c)
                {
                        const char *cn = json_string_value(json_object_get(c, "name"));
                        /* wait for the container to start, or the pod to end without it */
                        for (long delay = 200;; delay = delay < 1000 ? delay * 2 : 1000) {
                                r = poll_status(rn, one, &err);
                                if (r < 0)
                                        goto fail;
                                ps = status_of(rn->last, uid);
                                if (!ps ||
                                    strcmp(ferry_cli_container_state(ps, cn), "waiting") != 0 ||
                                    ferry_client_phase_done(ferry_client_pod_phase(ps)))
                                        break;
                                sleep_ms(delay);
                        }
                        if (!ps)
                                break;
                        if (strcmp(ferry_cli_container_state(ps, cn), "waiting") == 0)
                                continue; /* never started (an init container failed) */
                        if (total > 1)
                                fprintf(stderr, "==> %s/%s <==\n", name, cn);
                        struct ferry_log_opts lo = {.follow = true};
                        char *body = ferry_cli_logstruct(ns, uid, name, cn, &lo);
                        ferry_error_clear(&err);
                        r = ferry_cli_stream_logs(rn->c, body, &err);
                        free(body);
                        if (r < 0) {
                                if (ferry_client_unreachable(r) || r == -EPIPE)
                                        goto fail;
                                fprintf(stderr, "ferry run: logs of %s: %s\n", cn, err.text);
                        }
                }
        }
        /* the last stream ends when the container does; the phase follows */
        for (long delay = 100;; delay = delay < 1000 ? delay * 2 : 1000) {
                r = poll_status(rn, one, &err);
                if (r < 0)
                        goto fail;
                ps = status_of(rn->last, uid);
                if (!ps || ferry_client_phase_done(ferry_client_pod_phase(ps)))
                        break;
                sleep_ms(delay);
        }
        if (ps && strcmp(ferry_client_pod_phase(ps), "Succeeded") == 0) {
                ex = FERRY_EXIT_OK;
        } else {
                failure_text(ps, why, sizeof(why));
                fprintf(stderr, "pod/%s failed: %s\n", name, why);
        }
        json_decref(one);
        return ex;
fail:
        json_decref(one);
        return ferry_cli_fail(rn->cli, "run", r, &err);
}

/* POST one {"job", "request"} to /jobs. Returns an exit code. */
static int create_job(struct run *rn, json_t *req, const char *out)
{
        const json_t *meta = json_object_get(json_object_get(req, "job"), "metadata");
        const char *name = jstr_of(meta, "name"), *ns = jstr_of(meta, "namespace");
        char *body = json_dumps(req, JSON_COMPACT);
        ferry_error_t err = {""};
        json_t *ans = NULL;
        int r = ferry_client_jobs(rn->c, "POST", body, &ans, &err);

        free(body);
        if (r < 0) {
                int e = ferry_cli_fail(rn->cli, "run", r, &err);
                if (e != FERRY_EXIT_UNREACHABLE)
                        fprintf(stderr, "ferry run: job.batch/%s was not created\n", name);
                return e == FERRY_EXIT_UNREACHABLE ? e : FERRY_EXIT_FAIL;
        }
        const char *uid = jstr_of(json_object_get(ans, "metadata"), "uid");
        json_array_append_new(rn->jobs, json_pack("{ssss}", "namespace", ns, "name", name));
        json_array_append_new(rn->created, json_pack("{ssssssss}", "kind", "Job", "name", name,
                                                     "namespace", ns, "uid", uid ? uid : ""));
        if (strcmp(out, "json") != 0) {
                printf("job.batch/%s created (uid %s)\n", name, uid ? uid : "?");
                fflush(stdout);
        }
        json_decref(ans);
        return FERRY_EXIT_OK;
}

int ferry_cmd_run(struct ferry_cli *cli, int argc, char **argv)
{
        enum { OPT_WAIT = 256, OPT_FOLLOW, OPT_TIMEOUT, OPT_DRY };
        static const struct option opts[] = {
            {"filename", required_argument, NULL, 'f'},
            {"namespace", required_argument, NULL, 'n'},
            {"output", required_argument, NULL, 'o'},
            {"wait", no_argument, NULL, OPT_WAIT},
            {"follow", no_argument, NULL, OPT_FOLLOW},
            {"timeout", required_argument, NULL, OPT_TIMEOUT},
            {"dry-run", no_argument, NULL, OPT_DRY},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        const char *files[MAX_FILES];
        size_t n_files = 0;
        const char *ns_opt = NULL, *out = "";
        bool wait = false, follow = false, dry = false;
        int64_t timeout_s = 0;
        struct run rn = {.cli = cli};
        ferry_error_t err = {""};
        json_t *objects = json_array(), *reqs = NULL, *req;
        int ch, r, ex = FERRY_EXIT_OK;
        size_t i;

        while ((ch = getopt_long(argc, argv, "f:n:o:wh", opts, NULL)) != -1) {
                switch (ch) {
                case 'f':
                        if (n_files == MAX_FILES) {
                                fprintf(stderr, "ferry run: at most %d -f options\n", MAX_FILES);
                                ex = FERRY_EXIT_USAGE;
                                goto out;
                        }
                        files[n_files++] = optarg;
                        break;
                case 'n': ns_opt = optarg; break;
                case 'o':
                        if (ferry_cli_output(optarg, "run", &out) < 0 || !strcmp(out, "wide")) {
                                ex = FERRY_EXIT_USAGE;
                                goto out;
                        }
                        break;
                case 'w':
                case OPT_WAIT: wait = true; break;
                case OPT_FOLLOW: follow = true; break;
                case OPT_DRY: dry = true; break;
                case OPT_TIMEOUT:
                        if (ferry_parse_duration(optarg, &timeout_s) < 0) {
                                fprintf(stderr,
                                        "ferry run: --timeout wants a duration like 10m, "
                                        "not '%s'\n",
                                        optarg);
                                ex = FERRY_EXIT_USAGE;
                                goto out;
                        }
                        break;
                case 'h': run_usage(stdout); goto out;
                default:
                        run_usage(stderr);
                        ex = FERRY_EXIT_USAGE;
                        goto out;
                }
        }
        if (n_files == 0 || optind < argc) {
                fprintf(stderr, "ferry run: %s (see 'ferry run --help')\n",
                        n_files == 0 ? "say which manifests with -f FILE or -f DIR"
                                     : "unexpected argument; manifests go after -f");
                ex = FERRY_EXIT_USAGE;
                goto out;
        }
        if (ns_opt && !ferry_is_dns_label(ns_opt)) {
                fprintf(stderr, "ferry run: -n %s is not a valid namespace (a DNS label)\n",
                        ns_opt);
                ex = FERRY_EXIT_USAGE;
                goto out;
        }

        for (i = 0; i < n_files; i++) {
                r = ferry_manifest_load(files[i], objects, &err);
                if (r < 0) {
                        fprintf(stderr, "ferry run: %s\n", err.text);
                        ex = r == -ENOENT ? FERRY_EXIT_NOTFOUND : FERRY_EXIT_FAIL;
                        goto out;
                }
        }
        struct ferry_manifest_opts mo = {.namespace = ns_opt ? ns_opt : getenv("FERRY_NAMESPACE")};
        if (mo.namespace && !mo.namespace[0])
                mo.namespace = NULL;
        r = ferry_manifest_translate(objects, &mo, &reqs, &err);
        if (r < 0) {
                fprintf(stderr, "ferry run: %s\n", err.text);
                ex = FERRY_EXIT_FAIL;
                goto out;
        }
        if (dry) {
                json_dumpf(reqs, stdout, JSON_INDENT(2));
                putchar('\n');
                goto out;
        }
        json_array_foreach(reqs, i, req) if (follow && json_object_get(req, "job"))
        {
                fprintf(stderr, "ferry run: --follow streams one pod's logs; for a Job use --wait "
                                "and 'ferry logs'\n");
                ex = FERRY_EXIT_USAGE;
                goto out;
        }
        if (follow && json_array_size(reqs) != 1) {
                fprintf(stderr,
                        "ferry run: --follow streams one pod's logs, but the manifests have %zu "
                        "pods (use --wait for many)\n",
                        json_array_size(reqs));
                ex = FERRY_EXIT_USAGE;
                goto out;
        }

        rn.c = ferry_cli_connect(cli, "run", &ex);
        if (!rn.c)
                goto out;
        rn.pods = json_array();
        rn.created = json_array();
        rn.jobs = json_array();
        json_array_foreach(reqs, i, req)
        {
                if (json_object_get(req, "job")) {
                        r = create_job(&rn, req, out);
                        if (r == FERRY_EXIT_UNREACHABLE) {
                                ex = r;
                                goto out;
                        }
                        if (r != FERRY_EXIT_OK)
                                ex = r;
                        continue;
                }
                json_t *pod = json_object_get(req, "pod");
                const json_t *meta = json_object_get(pod, "metadata");
                const char *name = name_of(pod);
                char *body = json_dumps(req, JSON_COMPACT);
                char *uid = NULL, *jid = NULL;

                ferry_error_clear(&err);
                r = ferry_client_create(rn.c, body, &uid, &jid, &err);
                free(body);
                if (r < 0) {
                        int e = ferry_cli_fail(cli, "run", r, &err);
                        if (e == FERRY_EXIT_UNREACHABLE) {
                                ex = e;
                                goto out;
                        }
                        fprintf(stderr, "ferry run: pod/%s was not created\n", name);
                        ex = FERRY_EXIT_FAIL;
                        continue;
                }
                if (strcmp(uid, uid_of(pod)) != 0)
                        json_object_set_new(json_object_get(pod, "metadata"), "uid",
                                            json_string(uid));
                json_array_append(rn.pods, pod);
                json_array_append_new(
                    rn.created, json_pack("{ssssssss}", "name", name, "namespace",
                                          json_string_value(json_object_get(meta, "namespace")),
                                          "uid", uid, "job", jid));
                if (strcmp(out, "json") != 0) {
                        printf("pod/%s created (uid %s, job %s)\n", name, uid, jid);
                        fflush(stdout);
                }
                free(uid);
                free(jid);
        }
        int64_t deadline = timeout_s > 0 ? ferry_monotonic_ns() + timeout_s * 1000000000LL : 0;
        if (json_array_size(rn.pods) == 0)
                r = FERRY_EXIT_OK;
        else if (follow)
                r = follow_one(&rn);
        else if (wait)
                r = wait_all(&rn, timeout_s);
        else
                r = FERRY_EXIT_OK;
        if (r != FERRY_EXIT_OK)
                ex = r;
        if (wait && json_array_size(rn.jobs) > 0 && r != FERRY_EXIT_UNREACHABLE) {
                int64_t left = deadline ? deadline - ferry_monotonic_ns() : 0;
                r = wait_jobs(&rn, deadline ? ferry_monotonic_ns() + (left > 0 ? left : 1) : 0);
                if (r != FERRY_EXIT_OK)
                        ex = r;
        }
        if (strcmp(out, "json") == 0) {
                if (rn.last) {
                        json_array_foreach(rn.created, i, req)
                        {
                                if (json_object_get(req, "kind"))
                                        continue; /* a Job: see 'ferry get jobs' */
                                json_t *ps = status_of(
                                    rn.last, json_string_value(json_object_get(req, "uid")));
                                json_object_set_new(
                                    req, "phase",
                                    json_string(ps ? ferry_client_pod_phase(ps) : "Unknown"));
                        }
                }
                json_dumpf(rn.created, stdout, JSON_INDENT(2));
                putchar('\n');
        }
out:
        json_decref(objects);
        json_decref(reqs);
        json_decref(rn.pods);
        json_decref(rn.created);
        json_decref(rn.jobs);
        json_decref(rn.last);
        ferry_client_free(rn.c);
        return ex;
}
