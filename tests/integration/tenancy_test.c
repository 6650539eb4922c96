/* SPDX-License-Identifier: MIT */
/*
 * Site tenancy (issue 11, spec/tenancy.md) against a real ferryd, started and
 * killed by this program: the fake backend where only admission matters, the
 * local backend (host runtime, real processes) where signals and restarts do.
 *
 *   burst      3 tenants with quotas and weights, 300 pods of mixed sizes: by
 *              sampling /status and /tenants while they run, no tenant's
 *              admitted, unfinished pods ever ask more than its quota, nor all
 *              of them more than the site; every pod ends Succeeded once (one
 *              job id each); 422 for pods that can never fit.
 *   fairshare  3 tenants flooding the site: the split of CPU-seconds when the
 *              first backlog drains is equal within 5%, and 50/25/25 within
 *              5% with weights 2:1:1.
 *   preempt    preemptible pods fill the site; guaranteed pods arrive: each
 *              starts within the victims' grace period plus a poll; exactly
 *              the needed preemptible pods end Failed/Preempted naming it, the
 *              youngest first, after SIGTERM; kill -9 of ferryd in the middle
 *              of a preemption stops nobody more and starts nobody twice.
 *   restart    kill -9 during admission of pods over quota: held recomputed,
 *              the quota kept before and after, every pod run exactly once.
 *   gpus       whole GPUs (fake backend): a GPU quota, the site's GPUs, a "*"
 *              tenant, 422 past its quota, ping's free GPUs while held.
 *   slurm      (named only; under with-slurm.sh) the Slurm backend: a pod over
 *              quota never reaches Slurm's queue; preemption cancels the
 *              youngest preemptible job with its grace period.
 *   config     bad tenancy sections stop ferryd with file:line; SIGHUP keeps
 *              the running config on an error and applies a raised quota
 *              without restarting running pods.
 *
 *   tenancy-test FERRYD [SCENARIO...]
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "httpc.h"

static const char *ferryd_bin;
static char dir[256], sock[300], server[320], logpath[300], conf[300], marks[300];
static pid_t pid = -1;
static char made[8][256]; /* this run's directories */
static size_t n_made;
static int passed, failed;

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

static void log_tail(void)
{
        char cmd[400];
        fprintf(stderr, "--- tail of %s\n", logpath);
        fflush(stderr);
        snprintf(cmd, sizeof(cmd), "tail -25 %s >&2", logpath);
        if (system(cmd) != 0)
                fprintf(stderr, "(no log)\n");
}

static void cleanup(void)
{
        if (pid > 0) {
                kill(pid, SIGTERM);
                waitpid(pid, NULL, 0);
                pid = -1;
        }
        /* the shims of host pods outlive ferryd by design */
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "pkill -KILL -f 'ferry-shim %s/' 2>/dev/null", dir);
        if (system(cmd) < 0)
                return;
}

static void die(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "FAIL: ");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
        log_tail();
        cleanup();
        printf("%d passed, %d failed\n", passed, failed + 1);
        exit(1);
}

#define CHECK(cond, ...)                                                                           \
        do {                                                                                       \
                if (cond) {                                                                        \
                        passed++;                                                                  \
                } else {                                                                           \
                        failed++;                                                                  \
                        printf("FAIL: ");                                                          \
                        printf(__VA_ARGS__);                                                       \
                        printf("\n");                                                              \
                }                                                                                  \
        } while (0)

/* fails fast when ferryd died */
static void alive(void)
{
        int st;
        if (pid > 0 && waitpid(pid, &st, WNOHANG) == pid) {
                pid = -1;
                die("ferryd died (status %d)", st);
        }
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        if (!f || fputs(text, f) < 0 || fclose(f) != 0)
                die("cannot write %s", path);
}

/* run ferryd with conf; extra args end with NULL. Returns the exit status when
 * it ends by itself within a moment (expect_exit), else waits for /healthz. */
static int start_ferryd(int expect_exit, ...)
{
        const char *argv[32] = {ferryd_bin, "-c", conf, "--listen", NULL, "--state-dir", NULL};
        char listen[340], state[300];
        snprintf(listen, sizeof(listen), "unix://%s", sock);
        snprintf(state, sizeof(state), "%s/state", dir);
        argv[4] = listen;
        argv[6] = state;
        size_t n = 7;
        va_list ap;
        va_start(ap, expect_exit);
        for (const char *a; (a = va_arg(ap, const char *)) && n < 30;)
                argv[n++] = a;
        va_end(ap);
        argv[n] = NULL;
        pid = fork();
        if (pid == 0) {
                int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
                dup2(fd, 1);
                dup2(fd, 2);
                execv(ferryd_bin, (char *const *)argv);
                _exit(127);
        }
        for (int i = 0; i < 400; i++) {
                int st;
                if (waitpid(pid, &st, WNOHANG) == pid) {
                        pid = -1;
                        if (expect_exit)
                                return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
                        die("ferryd exited at start (status %d)", st);
                }
                struct http_answer a = {0};
                if (!expect_exit && http_call(server, "/healthz", NULL, 0, NULL, &a) == 0 &&
                    a.code == 200) {
                        http_answer_free(&a);
                        return 0;
                }
                http_answer_free(&a);
                pause_ms(25);
        }
        if (expect_exit)
                die("ferryd did not exit on a bad config");
        die("ferryd did not come up");
        return -1;
}

/* SIGTERM must end ferryd cleanly (under ASan this also catches leaks) */
static void stop_ferryd(int sig)
{
        int st = 0;
        if (pid <= 0)
                return;
        kill(pid, sig);
        waitpid(pid, &st, 0);
        pid = -1;
        if (sig == SIGTERM && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
                log_tail();
                CHECK(0, "ferryd exited with status %d on SIGTERM", st);
        }
}

static void fresh(const char *name)
{
        cleanup();
        snprintf(dir, sizeof(dir), "/tmp/ferry-tenancy-%s.XXXXXX", name);
        if (!mkdtemp(dir))
                die("mkdtemp");
        chmod(dir, 0711);
        if (n_made < sizeof(made) / sizeof(made[0]))
                snprintf(made[n_made++], sizeof(made[0]), "%s", dir);
        snprintf(sock, sizeof(sock), "%s/ferryd.sock", dir);
        snprintf(server, sizeof(server), "unix://%s", sock);
        snprintf(logpath, sizeof(logpath), "%s/ferryd.log", dir);
        snprintf(conf, sizeof(conf), "%s/ferryd.yaml", dir);
        snprintf(marks, sizeof(marks), "%s/marks", dir);
        write_file(marks, "");
        chmod(marks, 0666);
        printf("--- %s (%s)\n", name, dir);
        fflush(stdout);
}

static long call(const char *path, const char *body, char **ret_body)
{
        struct http_answer a = {0};
        alive();
        if (http_call(server, path, body, body ? strlen(body) : 0, NULL, &a) < 0)
                die("%s: no answer", path);
        if (ret_body)
                *ret_body = a.body, a.body = NULL;
        long code = a.code;
        http_answer_free(&a);
        return code;
}

static json_t *call_json(const char *path, const char *body)
{
        char *b = NULL;
        long code = call(path, body, &b);
        json_t *j = b ? json_loads(b, 0, NULL) : NULL;
        if (code != 200 || !j)
                die("%s answered %ld: %.300s", path, code, b ? b : "");
        free(b);
        return j;
}

/* a pod: cpu milli (0: none), annotations as JSON members ("" for none),
 * a shell script for the host runtime (NULL: the fake backend ignores it) */
static char *pod_json(const char *ns, const char *name, const char *uid, int cpu_milli,
                      const char *annotations, const char *script, int grace_s)
{
        json_t *res = json_object();
        if (cpu_milli > 0) {
                char q[32];
                snprintf(q, sizeof(q), "%dm", cpu_milli);
                json_object_set_new(res, "requests", json_pack("{ss}", "cpu", q));
        }
        json_t *c = json_pack("{ssssso}", "name", "main", "image", "busybox", "resources", res);
        if (script)
                json_object_set_new(c, "command", json_pack("[sss]", "sh", "-c", script));
        json_t *ann = annotations[0] ? json_loads(annotations, 0, NULL) : json_object();
        json_t *pod =
            json_pack("{s{ssssssso}s{sss[o]sI}}", "metadata", "name", name, "namespace", ns, "uid",
                      uid, "annotations", ann, "spec", "restartPolicy", "Never", "containers", c,
                      "terminationGracePeriodSeconds", (json_int_t)grace_s);
        json_t *req = json_pack("{so}", "pod", pod);
        char *s = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        return s;
}

static long create(const char *body, char **ret)
{
        return call("/create", body, ret);
}

static json_t *status_all(void)
{
        return call_json("/status", "[]");
}

static const char *jstr(const json_t *o, const char *k)
{
        const char *s = json_string_value(json_object_get(o, k));
        return s ? s : "";
}

static const json_t *find_pod(const json_t *all, const char *uid)
{
        size_t i;
        json_t *p;
        json_array_foreach(all, i, p) if (!strcmp(jstr(p, "UID"), uid)) return p;
        return NULL;
}

static bool is_final(const json_t *p)
{
        return !strcmp(jstr(p, "phase"), "Succeeded") || !strcmp(jstr(p, "phase"), "Failed");
}

/* ---- burst ---- */

#define BURST 300
static const char *const burst_ns[3] = {"ta", "tb", "tc"};

static void scenario_burst(void)
{
        fresh("burst");
        write_file(conf, "backend: fake\n"
                         "backend_options: {cpu: \"8\", pods: \"100\"}\n"
                         "poll_interval_ms: 50\n"
                         "tenancy:\n"
                         "  reserve_after: 2s\n"
                         "  fair_share: {half_life: 1h}\n"
                         "  tenants:\n"
                         "    - {name: ta, quota: {cpu: \"4\"}}\n"
                         "    - {name: tb, quota: {cpu: \"2\", pods: 3}}\n"
                         "    - {name: tc, weight: 2}\n");
        start_ferryd(false, NULL);
        static int cpu[BURST];
        static char uid[BURST][40];
        static const int sizes[4] = {250, 500, 1000, 2000};
        for (int i = 0; i < BURST; i++) {
                char name[32], ann[96];
                cpu[i] = sizes[(i * 7) % 4];
                if (i % 3 == 1 && cpu[i] > 2000)
                        cpu[i] = 2000;
                snprintf(uid[i], sizeof(uid[i]), "burst-%03d", i);
                snprintf(name, sizeof(name), "p%03d", i);
                snprintf(ann, sizeof(ann), "{\"fake.ferry.io/duration-ms\":\"%d\"}",
                         50 + (i * 37) % 400);
                char *b = pod_json(burst_ns[i % 3], name, uid[i], cpu[i], ann, NULL, 0);
                char *ans = NULL;
                long code = create(b, &ans);
                if (code != 200)
                        die("create %s: %ld %s", uid[i], code, ans ? ans : "");
                free(ans);
                free(b);
        }
        /* never fits: more than ta's quota, more than the site */
        char *b = pod_json("ta", "toobig", "burst-big-1", 5000, "", NULL, 0), *ans = NULL;
        long code = create(b, &ans);
        CHECK(code == 422 && ans && strstr(ans, "quota"),
              "a pod over its tenant's quota is refused with 422 naming it (%ld %s)", code,
              ans ? ans : "");
        free(b);
        free(ans);
        b = pod_json("tc", "toobig", "burst-big-2", 9000, "", NULL, 0), ans = NULL;
        code = create(b, &ans);
        CHECK(code == 422 && ans && strstr(ans, "whole site"),
              "a pod larger than the site is refused with 422 (%ld %s)", code, ans ? ans : "");
        free(b);
        free(ans);

        /* sample until every pod ended */
        const int quota[3] = {4000, 2000, -1};
        int over = 0, site_over = 0, samples = 0, held_over = 0, pods_over = 0;
        bool saw_quota = false, saw_site = false;
        int64_t deadline = now_ms() + 120000;
        size_t done = 0;
        json_t *all = NULL;
        while (now_ms() < deadline) {
                json_decref(all);
                all = status_all();
                int held[3] = {0}, npods[3] = {0}, site = 0;
                done = 0;
                for (int i = 0; i < BURST; i++) {
                        const json_t *p = find_pod(all, uid[i]);
                        if (!p)
                                die("pod %s is lost", uid[i]);
                        if (is_final(p)) {
                                done++;
                                continue;
                        }
                        const char *why = jstr(p, "reason");
                        saw_quota |= !strcmp(why, "QuotaExceeded");
                        saw_site |= !strcmp(why, "InsufficientCpu");
                        if (jstr(p, "JID")[0]) { /* admitted, unfinished */
                                held[i % 3] += cpu[i];
                                npods[i % 3]++;
                                site += cpu[i];
                        }
                }
                for (int t = 0; t < 3; t++)
                        over += quota[t] >= 0 && held[t] > quota[t];
                pods_over += npods[1] > 3;
                site_over += site > 8000;
                /* and what ferryd itself says it holds */
                json_t *tn = call_json("/tenants", NULL);
                size_t k;
                json_t *x;
                json_array_foreach(json_object_get(tn, "tenants"), k, x)
                {
                        const char *h = jstr(json_object_get(x, "held_guaranteed"), "cpu");
                        const char *q = jstr(json_object_get(x, "quota"), "cpu");
                        double hv = h[0] ? atof(h) * (strchr(h, 'm') ? 1 : 1000) : 0;
                        double qv = q[0] ? atof(q) * (strchr(q, 'm') ? 1 : 1000) : -1;
                        held_over += qv >= 0 && hv > qv;
                }
                json_decref(tn);
                samples++;
                if (done == BURST)
                        break;
                pause_ms(5);
        }
        CHECK(done == BURST, "all %d pods ended (%zu did)", BURST, done);
        CHECK(samples >= 20, "status was sampled while they ran (%d samples)", samples);
        CHECK(over == 0,
              "no tenant's admitted pods ever asked more CPU than its quota (%d samples over)",
              over);
        CHECK(pods_over == 0, "tb never had more than its 3 pods admitted (%d samples over)",
              pods_over);
        CHECK(site_over == 0, "admitted pods never asked more than the site's 8 CPUs (%d over)",
              site_over);
        CHECK(held_over == 0, "/tenants never showed a tenant holding more than its quota (%d)",
              held_over);
        CHECK(saw_quota, "a waiting pod showed reason QuotaExceeded");
        CHECK(saw_site, "a waiting pod showed reason InsufficientCpu");
        /* exactly once: every pod Succeeded with its own job id, and the fake
         * backend's counter says nobody was submitted twice */
        int ok = 0, maxj = 0;
        for (int i = 0; i < BURST; i++) {
                const json_t *p = find_pod(all, uid[i]);
                ok += p && !strcmp(jstr(p, "phase"), "Succeeded");
                int j = p ? atoi(jstr(p, "JID") + 5) : 0;
                if (j > maxj)
                        maxj = j;
        }
        CHECK(ok == BURST, "every pod Succeeded (%d of %d)", ok, BURST);
        CHECK(maxj == BURST, "the backend ran %d pods, each once (highest job id fake-%d)", BURST,
              maxj);
        json_decref(all);
        stop_ferryd(SIGTERM);
}

/* ---- fair share ---- */

/* On a site of 24 CPUs each tenant asks 192 CPU-seconds in pods of its own
 * size: fa 384 x 2 CPUs, fb 768 x 1 CPU, fc 256 x 3 CPUs, running 125-375 ms
 * (250 ms on average, ends spread as on a real site), created in turns. First
 * come first served would give them CPU in proportion to their pod sizes (2:1:3);
 * fair share gives equal CPU-seconds (or 2:1:1 by weight); reserve_after 0s keeps
 * the order strict (backfill would favour the small pods). The split is read
 * when half of the 576 CPU-seconds were given, while every tenant waits. */
static const struct {
        const char *ns;
        int n, cpu_milli, ms;
} fs_shape[3] = {{"fa", 384, 2000, 250}, {"fb", 768, 1000, 250}, {"fc", 256, 3000, 250}};

static void fairshare_run(const char *name, const double *weights, const double *expect)
{
        fresh(name);
        char text[1024];
        snprintf(text, sizeof(text),
                 "backend: fake\n"
                 "backend_options: {cpu: \"24\"}\n"
                 "poll_interval_ms: 50\n"
                 "tenancy:\n"
                 "  fair_share: {half_life: 1h}\n"
                 "  reserve_after: 0s\n"
                 "  tenants:\n"
                 "    - {name: fa, weight: %g}\n"
                 "    - {name: fb, weight: %g}\n"
                 "    - {name: fc, weight: %g}\n",
                 weights[0], weights[1], weights[2]);
        write_file(conf, text);
        start_ferryd(false, NULL);
        for (int i = 0; i < 768; i++) /* in turns: arrival favours nobody */
                for (int t = 0; t < 3; t++) {
                        if (i >= fs_shape[t].n)
                                continue;
                        char uid[48], pname[32], ann[96];
                        snprintf(uid, sizeof(uid), "%s-%03d", fs_shape[t].ns, i);
                        snprintf(pname, sizeof(pname), "p%03d", i);
                        snprintf(ann, sizeof(ann), "{\"fake.ferry.io/duration-ms\":\"%d\"}",
                                 fs_shape[t].ms / 2 + (i * 7919 + t * 331) % fs_shape[t].ms);
                        char *b = pod_json(fs_shape[t].ns, pname, uid, fs_shape[t].cpu_milli, ann,
                                           NULL, 0);
                        if (create(b, NULL) != 200)
                                die("create %s", uid);
                        free(b);
                }
        /* CPU-seconds as the site gave them: the CPUs of each tenant's admitted,
         * unfinished pods (a job id and not ended), sampled, times the time
         * between samples */
        double cpus[3] = {0}, total = 0, running[3] = {0};
        int64_t settled = -1; /* since when the split stayed within 5% */
        int64_t t0 = now_ms(), deadline = t0 + 120000, last = t0;
        while (total < 288.0) {
                if (now_ms() > deadline)
                        die("the fair-share flood did not get half way");
                json_t *all = status_all();
                int64_t t = now_ms();
                for (int k = 0; k < 3; k++) {
                        cpus[k] += running[k] * (double)(t - last) / 1000.0;
                        running[k] = 0;
                }
                last = t;
                size_t i;
                json_t *p;
                json_array_foreach(all, i, p)
                {
                        const char *n = jstr(p, "namespace");
                        for (int k = 0; k < 3; k++)
                                if (!strcmp(n, fs_shape[k].ns) && jstr(p, "JID")[0] && !is_final(p))
                                        running[k] += fs_shape[k].cpu_milli / 1000.0;
                }
                json_decref(all);
                total = cpus[0] + cpus[1] + cpus[2];
                bool within = total > 0;
                for (int k = 0; k < 3 && within; k++)
                        within = cpus[k] / total > expect[k] * 0.95 &&
                                 cpus[k] / total < expect[k] * 1.05;
                if (!within)
                        settled = -1;
                else if (settled < 0)
                        settled = now_ms() - t0;
                pause_ms(10);
        }
        if (getenv("TENANCY_DEBUG")) {
                json_t *tn = call_json("/tenants", NULL);
                json_dumpf(tn, stdout, JSON_COMPACT);
                json_decref(tn);
        }
        for (int t = 0; t < 3; t++) {
                double share = cpus[t] / total;
                CHECK(share > expect[t] * 0.95 && share < expect[t] * 1.05,
                      "%s: tenant %s got %.1f%% of the CPU-seconds (%.1f of %.1f), %.0f%% +-5%% "
                      "expected",
                      name, fs_shape[t].ns, 100 * share, cpus[t], total, 100 * expect[t]);
        }
        printf("%s: within 5%% of the goal from %.1f s on (%.0f polls of 50 ms)\n", name,
               settled / 1000.0, settled / 50.0);
        printf("%s: %.1f/%.1f/%.1f CPU-seconds after %.1f s (%.0f polls of 50 ms)\n", name, cpus[0],
               cpus[1], cpus[2], (now_ms() - t0) / 1000.0, (now_ms() - t0) / 50.0);
        /* the decayed usage outlives a restart */
        json_t *tn = call_json("/tenants", NULL);
        double before = json_number_value(json_object_get(
            json_object_get(json_array_get(json_object_get(tn, "tenants"), 0), "usage"), "cpu"));
        json_decref(tn);
        stop_ferryd(SIGTERM);
        start_ferryd(false, NULL);
        tn = call_json("/tenants", NULL);
        double after = 0;
        size_t k;
        json_t *x;
        json_array_foreach(json_object_get(tn, "tenants"), k, x) if (!strcmp(jstr(x, "name"), "fa"))
            after = json_number_value(json_object_get(json_object_get(x, "usage"), "cpu"));
        json_decref(tn);
        CHECK(before > 1 && after >= before * 0.95 && after <= before * 1.05,
              "%s: fa's decayed usage outlives a restart (%.2f core-seconds, then %.2f)", name,
              before, after);
        stop_ferryd(SIGTERM);
}

static void scenario_fairshare(void)
{
        const double eq[3] = {1, 1, 1}, eqx[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
        const double w[3] = {2, 1, 1}, wx[3] = {0.5, 0.25, 0.25};
        fairshare_run("fairshare-equal", eq, eqx);
        fairshare_run("fairshare-2-1-1", w, wx);
}

/* ---- preemption (local backend, host runtime) ---- */

/* the pod's start, and a SIGTERM it ignores, go to the marks file */
static char *batch_pod(const char *uid, const char *name)
{
        char script[4096];
        snprintf(script, sizeof(script),
                 "trap 'echo term %s >> %s' TERM; echo start %s >> %s; "
                 "while :; do sleep 0.1; done",
                 uid, marks, uid, marks);
        return pod_json("batch", name, uid, 0, "{\"ferry.io/preemptible\":\"true\"}", script, 2);
}

static char *user_pod(const char *uid, const char *name)
{
        char script[4096];
        snprintf(script, sizeof(script), "echo start %s >> %s; exec sleep 300", uid, marks);
        return pod_json("users", name, uid, 0, "", script, 1);
}

static int count_marks(const char *word, const char *uid)
{
        char line[1200], want[1100];
        int n = 0;
        FILE *f = fopen(marks, "r");
        snprintf(want, sizeof(want), "%s %s\n", word, uid);
        while (f && fgets(line, sizeof(line), f))
                n += !strcmp(line, want);
        if (f)
                fclose(f);
        return n;
}

static const json_t *wait_phase(json_t **all, const char *uid, const char *phase, int ms)
{
        int64_t deadline = now_ms() + ms;
        for (;;) {
                json_decref(*all);
                *all = status_all();
                const json_t *p = find_pod(*all, uid);
                if (p && !strcmp(jstr(p, "phase"), phase))
                        return p;
                if (now_ms() > deadline)
                        return NULL;
                pause_ms(20);
        }
}

static int count_preempted(const json_t *all, const char *for_name)
{
        size_t i;
        json_t *p;
        int n = 0;
        json_array_foreach(all, i, p) if (!strcmp(jstr(p, "reason"), "Preempted") &&
                                          (!for_name || strstr(jstr(p, "message"), for_name))) n++;
        return n;
}

static void scenario_preempt(void)
{
        fresh("preempt");
        write_file(conf, "backend: local\n"
                         "runtime: host\n"
                         "backend_options: {host_namespaces: \"*\", max_pods: \"4\"}\n"
                         "poll_interval_ms: 100\n"
                         "tenancy:\n"
                         "  tenants:\n"
                         "    - {name: batch, quota: {pods: 1}}\n"
                         "    - {name: users, quota: {pods: 3}}\n");
        start_ferryd(false, NULL);
        json_t *all = NULL;
        char uid[8][32];
        for (int i = 0; i < 4; i++) { /* created in order: batch-3 is the youngest */
                char name[16];
                snprintf(uid[i], sizeof(uid[i]), "batch-%d", i);
                snprintf(name, sizeof(name), "b%d", i);
                char *b = batch_pod(uid[i], name);
                if (create(b, NULL) != 200)
                        die("create %s", uid[i]);
                free(b);
                if (!wait_phase(&all, uid[i], "Running", 20000))
                        die("preemptible pod %s did not run", uid[i]);
                pause_ms(30); /* distinct start times: "youngest" is well defined */
        }
        CHECK(1, "4 preemptible pods fill the site (max_pods 4) past batch's quota of 1");

        /* a guaranteed pod: the youngest preemptible pod makes room */
        char *b = user_pod("user-1", "u1");
        int64_t t0 = now_ms();
        if (create(b, NULL) != 200)
                die("create user-1");
        free(b);
        const json_t *p = wait_phase(&all, "user-1", "Running", 20000);
        int64_t lat = now_ms() - t0;
        CHECK(p != NULL, "the guaranteed pod runs");
        /* grace 2 s (the victim ignores SIGTERM), then a poll of 100 ms, and the start */
        CHECK(lat <= 2000 + 100 + 900, "it ran %lld ms after its create (grace 2 s + a poll)",
              (long long)lat);
        printf("preemption latency: %lld ms (grace period 2000 ms, poll 100 ms)\n", (long long)lat);
        const json_t *v = find_pod(all, "batch-3");
        CHECK(v && !strcmp(jstr(v, "phase"), "Failed") && !strcmp(jstr(v, "reason"), "Preempted"),
              "the youngest preemptible pod ended Failed/Preempted (%s/%s)",
              v ? jstr(v, "phase") : "", v ? jstr(v, "reason") : "");
        CHECK(v && strstr(jstr(v, "message"), "users/u1"), "its message names the pod: %s",
              v ? jstr(v, "message") : "");
        CHECK(count_marks("term", "batch-3") == 1, "it got SIGTERM before the kill");
        CHECK(count_preempted(all, NULL) == 1, "exactly one pod was preempted (%d)",
              count_preempted(all, NULL));
        for (int i = 0; i < 3; i++) {
                const json_t *q = find_pod(all, uid[i]);
                CHECK(q && !strcmp(jstr(q, "phase"), "Running"), "%s still runs", uid[i]);
        }

        /* a second one; then a third, with kill -9 of ferryd during its preemption */
        b = user_pod("user-2", "u2");
        if (create(b, NULL) != 200)
                die("create user-2");
        free(b);
        CHECK(wait_phase(&all, "user-2", "Running", 20000) != NULL, "a second guaranteed pod runs");
        CHECK(count_preempted(all, NULL) == 2 && count_preempted(all, "users/u2") == 1,
              "one more preemptible pod made room for it");
        char *pm = NULL; /* counters count since ferryd started */
        call("/metrics", NULL, &pm);
        CHECK(pm && strstr(pm, "ferry_tenant_preemptions_total{tenant=\"batch\"} 2"),
              "/metrics counts the 2 preemptions of batch");
        free(pm);
        json_t *tn = call_json("/tenants", NULL);
        char *s = json_dumps(tn, JSON_COMPACT);
        CHECK(strstr(s, "\"preemptions\":2"), "/tenants shows them: %s", s);
        free(s);
        json_decref(tn);
        b = user_pod("user-3", "u3");
        if (create(b, NULL) != 200)
                die("create user-3");
        free(b);
        int64_t deadline = now_ms() + 10000;
        for (;;) { /* until a victim is chosen, then kill -9 at once */
                json_decref(all);
                all = status_all();
                if (count_preempted(all, "users/u3") == 1)
                        break;
                if (now_ms() > deadline)
                        die("no pod was preempted for user-3");
                pause_ms(10);
        }
        stop_ferryd(SIGKILL);
        printf("killed ferryd with SIGKILL during a preemption\n");
        start_ferryd(false, NULL);
        CHECK(wait_phase(&all, "user-3", "Running", 20000) != NULL,
              "after the restart the third guaranteed pod runs");
        CHECK(count_preempted(all, NULL) == 3,
              "3 preemptions in all, none more after the restart (%d)", count_preempted(all, NULL));
        /* the fourth is past users' quota (3): it waits, nobody is stopped */
        b = user_pod("user-4", "u4");
        if (create(b, NULL) != 200)
                die("create user-4");
        free(b);
        deadline = now_ms() + 5000;
        const json_t *q = NULL;
        while (now_ms() < deadline) {
                json_decref(all);
                all = status_all();
                q = find_pod(all, "user-4");
                if (q && !strcmp(jstr(q, "reason"), "QuotaExceeded"))
                        break;
                pause_ms(20);
        }
        CHECK(q && !strcmp(jstr(q, "reason"), "QuotaExceeded"),
              "a guaranteed pod over its quota waits with QuotaExceeded (%s)",
              q ? jstr(q, "reason") : "");
        CHECK(q && strstr(jstr(q, "message"), "pods quota"), "its message names the quota: %s",
              q ? jstr(q, "message") : "");
        CHECK(count_preempted(all, NULL) == 3, "and stops nobody");
        const json_t *last = find_pod(all, "batch-0");
        CHECK(last && !strcmp(jstr(last, "phase"), "Running"), "the oldest preemptible pod runs");
        for (int i = 1; i <= 3; i++) {
                char u[16];
                snprintf(u, sizeof(u), "user-%d", i);
                const json_t *x = find_pod(all, u);
                CHECK(x && !strcmp(jstr(x, "phase"), "Running") && count_marks("start", u) == 1,
                      "guaranteed pod %s was never touched (running, started once)", u);
        }
        for (int i = 0; i < 4; i++)
                CHECK(count_marks("start", uid[i]) == 1, "%s started exactly once", uid[i]);
        char *metrics = NULL;
        call("/metrics", NULL, &metrics);
        CHECK(metrics && strstr(metrics, "ferry_tenant_waiting_pods{tenant=\"users\",reason="
                                         "\"QuotaExceeded\"} 1"),
              "/metrics shows the waiting pod by tenant and reason");
        CHECK(metrics && strstr(metrics, "ferry_tenant_held{tenant=\"users\",resource=\"pods\"} 3"),
              "/metrics shows what users holds");
        free(metrics);
        json_decref(all);
        stop_ferryd(SIGTERM);
}

/* ---- kill -9 during admission ---- */

#define RS_N 24

static void scenario_restart(void)
{
        fresh("restart");
        write_file(conf, "backend: local\n"
                         "runtime: host\n"
                         "backend_options: {host_namespaces: \"*\"}\n"
                         "poll_interval_ms: 100\n"
                         "tenancy:\n"
                         "  tenants:\n"
                         "    - {name: q, quota: {pods: 3}}\n");
        start_ferryd(false, NULL);
        char uid[RS_N][32];
        for (int i = 0; i < RS_N; i++) {
                char name[16], script[4096];
                snprintf(uid[i], sizeof(uid[i]), "rs-%02d", i);
                snprintf(name, sizeof(name), "r%02d", i);
                snprintf(script, sizeof(script), "echo start %s >> %s; sleep 0.3", uid[i], marks);
                char *b = pod_json("q", name, uid[i], 0, "", script, 1);
                if (create(b, NULL) != 200)
                        die("create %s", uid[i]);
                free(b);
        }
        int over = 0, samples = 0;
        bool killed = false;
        int64_t deadline = now_ms() + 90000;
        int done = 0;
        while (now_ms() < deadline) {
                json_t *all = status_all();
                int held = 0;
                done = 0;
                for (int i = 0; i < RS_N; i++) {
                        const json_t *p = find_pod(all, uid[i]);
                        if (!p)
                                die("pod %s is lost", uid[i]);
                        if (is_final(p))
                                done++;
                        else if (jstr(p, "JID")[0])
                                held++;
                }
                json_decref(all);
                over += held > 3;
                samples++;
                if (!killed && done >= RS_N / 3) {
                        stop_ferryd(SIGKILL);
                        printf("killed ferryd with SIGKILL after %d of %d pods\n", done, RS_N);
                        start_ferryd(false, NULL);
                        killed = true;
                        continue;
                }
                if (done == RS_N)
                        break;
                pause_ms(10);
        }
        CHECK(killed, "ferryd was killed while pods waited for admission");
        CHECK(done == RS_N, "all %d pods ended after the restart (%d did)", RS_N, done);
        CHECK(over == 0,
              "never more than the quota of 3 admitted, before or after (%d of %d samples)", over,
              samples);
        int once = 0;
        for (int i = 0; i < RS_N; i++)
                once += count_marks("start", uid[i]) == 1;
        CHECK(once == RS_N, "every pod ran exactly once (%d of %d)", once, RS_N);
        json_t *tn = call_json("/tenants", NULL);
        char *s = json_dumps(tn, JSON_COMPACT);
        CHECK(strstr(s, "\"held\":{}"), "nothing is held once all ended: %s", s);
        free(s);
        json_decref(tn);
        stop_ferryd(SIGTERM);
}

/* ---- GPUs (fake backend with 4 whole GPUs) ---- */

static char *gpu_pod(const char *ns, const char *uid, int gpus, int ms)
{
        char n[16], ann[96];
        snprintf(n, sizeof(n), "%d", gpus);
        snprintf(ann, sizeof(ann), "{\"fake.ferry.io/duration-ms\":\"%d\"}", ms);
        json_t *c = json_pack("{sssss{s{ss}}}", "name", "main", "image", "busybox", "resources",
                              "limits", "nvidia.com/gpu", n);
        json_t *req =
            json_pack("{s{s{ssssssso}s{s[o]}}}", "pod", "metadata", "name", uid, "namespace", ns,
                      "uid", uid, "annotations", json_loads(ann, 0, NULL), "spec", "containers", c);
        char *s = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        return s;
}

static long gpus_available(void)
{
        json_t *p = call_json("/pinglink", NULL);
        size_t i;
        json_t *a;
        long n = -1;
        json_array_foreach(json_object_get(json_object_get(p, "resources"), "accelerators"), i,
                           a) if (!strcmp(jstr(a, "resourceType"), "nvidia.com/gpu")) n =
            atol(jstr(a, "available"));
        json_decref(p);
        return n;
}

static void scenario_gpus(void)
{
        fresh("gpus");
        write_file(conf, "backend: fake\n"
                         "backend_options: {gpus: \"4\"}\n"
                         "poll_interval_ms: 50\n"
                         "tenancy:\n"
                         "  tenants:\n"
                         "    - {name: g1, quota: {nvidia.com/gpu: 1}}\n"
                         "    - {name: g2}\n"
                         "    - {name: \"*\", quota: {nvidia.com/gpu: 2}}\n");
        start_ferryd(false, NULL);
        CHECK(gpus_available() == 4, "ping: 4 GPUs free at first");
        struct {
                const char *ns, *uid;
                int gpus;
        } p[] = {{"g1", "g1-a", 1}, {"g1", "g1-b", 1}, {"g2", "g2-a", 3}, {"g3", "g3-a", 1}};
        for (size_t i = 0; i < 4; i++) {
                char *b = gpu_pod(p[i].ns, p[i].uid, p[i].gpus, 3000), *ans = NULL;
                long code = create(b, &ans);
                if (code != 200)
                        die("create %s: %ld %s", p[i].uid, code, ans ? ans : "");
                free(ans);
                free(b);
        }
        char *b = gpu_pod("g3", "g3-big", 3, 100), *ans = NULL;
        long code = create(b, &ans);
        CHECK(code == 422 && ans && strstr(ans, "quota of tenant") && strstr(ans, "g3"),
              "3 GPUs for a tenant under \"*\" (2 each) is refused with 422: %ld %s", code,
              ans ? ans : "");
        free(b);
        free(ans);
        json_t *all = NULL;
        const json_t *x = wait_phase(&all, "g2-a", "Running", 5000);
        CHECK(x != NULL, "g2's 3-GPU pod runs");
        int64_t deadline = now_ms() + 5000;
        const json_t *q1 = NULL, *q3 = NULL;
        while (now_ms() < deadline) {
                json_decref(all);
                all = status_all();
                q1 = find_pod(all, "g1-b");
                q3 = find_pod(all, "g3-a");
                if (q1 && q3 && jstr(q1, "reason")[0] &&
                    !strcmp(jstr(q3, "reason"), "GPUUnavailable"))
                        break;
                pause_ms(20);
        }
        CHECK(q1 && !strcmp(jstr(q1, "reason"), "QuotaExceeded") &&
                  strstr(jstr(q1, "message"), "nvidia.com/gpu quota"),
              "g1's second GPU pod waits for its quota: %s: %s", q1 ? jstr(q1, "reason") : "",
              q1 ? jstr(q1, "message") : "");
        CHECK(q3 && !strcmp(jstr(q3, "reason"), "GPUUnavailable"),
              "g3's pod waits for a GPU of the full site: %s", q3 ? jstr(q3, "reason") : "");
        CHECK(gpus_available() == 0, "ping: no GPU free while 4 are held (%ld)", gpus_available());
        json_t *tn = call_json("/tenants", NULL);
        char *s = json_dumps(tn, JSON_COMPACT);
        CHECK(strstr(s, "{\"name\":\"g3\",\"entry\":\"*\"") != NULL,
              "/tenants: g3 falls under \"*\": %s", s);
        free(s);
        json_decref(tn);
        /* they all run in the end, none twice */
        deadline = now_ms() + 30000;
        int ok = 0;
        while (now_ms() < deadline) {
                json_decref(all);
                all = status_all();
                ok = 0;
                for (size_t i = 0; i < 4; i++) {
                        const json_t *y = find_pod(all, p[i].uid);
                        ok += y && !strcmp(jstr(y, "phase"), "Succeeded");
                }
                if (ok == 4)
                        break;
                pause_ms(50);
        }
        CHECK(ok == 4, "all 4 GPU pods ended Succeeded (%d)", ok);
        json_decref(all);
        stop_ferryd(SIGTERM);
}

/* ---- the Slurm backend (run by with-slurm.sh: a real single-node Slurm, 16 slots) ---- */

static char *slurm_pod(const char *ns, const char *uid, int cpus, bool preemptible,
                       const char *script)
{
        char q[16];
        snprintf(q, sizeof(q), "%d", cpus);
        json_t *c = json_pack("{sssss[sss]s{s{ss}}}", "name", "main", "image", "busybox", "command",
                              "sh", "-c", script, "resources", "requests", "cpu", q);
        json_t *ann =
            preemptible ? json_pack("{ss}", "ferry.io/preemptible", "true") : json_object();
        json_t *req =
            json_pack("{s{s{ssssssso}s{sss[o]si}}}", "pod", "metadata", "name", uid, "namespace",
                      ns, "uid", uid, "annotations", ann, "spec", "restartPolicy", "Never",
                      "containers", c, "terminationGracePeriodSeconds", 5);
        char *s = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        return s;
}

static int squeue_count(const char *name_prefix)
{
        char cmd[256], line[256];
        int n = 0;
        snprintf(cmd, sizeof(cmd), "squeue -h -o %%j 2>/dev/null");
        FILE *f = popen(cmd, "r");
        while (f && fgets(line, sizeof(line), f))
                n += !strncmp(line, name_prefix, strlen(name_prefix));
        if (f)
                pclose(f);
        return n;
}

static void scenario_slurm(void)
{
        fresh("slurm");
        write_file(conf, "backend: slurm\n"
                         "runtime: bwrap\n"
                         "poll_interval_ms: 200\n"
                         "tenancy:\n"
                         "  tenants:\n"
                         "    - {name: sq, quota: {pods: 1}}\n"
                         "    - {name: sbatch}\n");
        start_ferryd(false, NULL);
        json_t *all = NULL;
        /* the quota: the second pod never reaches Slurm while the first runs */
        char *b = slurm_pod("sq", "sq-one", 1, false, "echo one; sleep 300");
        if (create(b, NULL) != 200)
                die("create sq-one");
        free(b);
        b = slurm_pod("sq", "sq-two", 1, false, "echo two");
        if (create(b, NULL) != 200)
                die("create sq-two");
        free(b);
        CHECK(wait_phase(&all, "sq-one", "Running", 30000) != NULL, "slurm: sq's first pod runs");
        pause_ms(600);
        json_decref(all);
        all = status_all();
        const json_t *p = find_pod(all, "sq-two");
        CHECK(p && !strcmp(jstr(p, "reason"), "QuotaExceeded") && !jstr(p, "JID")[0],
              "slurm: the second waits with QuotaExceeded and no job (%s, job \"%s\")",
              p ? jstr(p, "reason") : "", p ? jstr(p, "JID") : "");
        CHECK(squeue_count("sq-two") == 0, "slurm: squeue has no job for it");
        /* preemption through scancel: preemptible pods of 5 CPUs fill 15 of
         * the 16 slots, a guaranteed one of 4 needs one of them gone */
        char uid[3][32];
        for (int i = 0; i < 3; i++) {
                snprintf(uid[i], sizeof(uid[i]), "sb-%d", i);
                b = slurm_pod("sbatch", uid[i], 5, true,
                              "trap 'echo term; exit 143' TERM; echo started; sleep 300 & wait");
                if (create(b, NULL) != 200)
                        die("create %s", uid[i]);
                free(b);
                if (!wait_phase(&all, uid[i], "Running", 30000))
                        die("preemptible pod %s did not run on Slurm", uid[i]);
                pause_ms(30);
        }
        b = slurm_pod("sbatch", "sb-guaranteed", 4, false, "echo made it");
        if (create(b, NULL) != 200)
                die("create sb-guaranteed");
        free(b);
        CHECK(wait_phase(&all, "sb-guaranteed", "Succeeded", 60000) != NULL,
              "slurm: the guaranteed pod ran after a preemption");
        int preempted = 0;
        for (int i = 0; i < 3; i++) {
                const json_t *x = find_pod(all, uid[i]);
                bool was = x && !strcmp(jstr(x, "reason"), "Preempted");
                preempted += was;
                if (i == 2)
                        CHECK(was && !strcmp(jstr(x, "phase"), "Failed") &&
                                  strstr(jstr(x, "message"), "sbatch/sb-guaranteed"),
                              "slurm: the youngest preemptible job ended Failed/Preempted naming "
                              "the pod (%s %s: %s)",
                              x ? jstr(x, "phase") : "", x ? jstr(x, "reason") : "",
                              x ? jstr(x, "message") : "");
        }
        CHECK(preempted == 1, "slurm: exactly one job was preempted (%d)", preempted);
        CHECK(squeue_count("sb-2") == 0, "slurm: its job left Slurm's queue");
        /* clean up the long ones */
        const char *rm[] = {"sq-one", "sq-two", "sb-0", "sb-1", "sb-2"};
        for (size_t i = 0; i < 5; i++) {
                char body[256];
                snprintf(body, sizeof(body), "{\"metadata\":{\"uid\":\"%s\",\"name\":\"%s\"}}",
                         rm[i], rm[i]);
                call("/delete", body, NULL);
        }
        int64_t deadline = now_ms() + 30000;
        while (now_ms() < deadline && (squeue_count("sq-") + squeue_count("sb-")) > 0)
                pause_ms(100);
        CHECK(squeue_count("sq-") + squeue_count("sb-") == 0, "slurm: all jobs gone after delete");
        json_decref(all);
        stop_ferryd(SIGTERM);
}

/* ---- config errors and SIGHUP ---- */

static void bad_config(const char *what, const char *tenancy, const char *want)
{
        char text[1024];
        snprintf(text, sizeof(text), "backend: fake\ntenancy:\n%s", tenancy);
        write_file(conf, text);
        FILE *lf = fopen(logpath, "w"); /* the log of this try only */
        if (lf)
                fclose(lf);
        int st = start_ferryd(true, NULL);
        char *log = NULL;
        size_t len = 0;
        FILE *f = fopen(logpath, "r");
        if (f) {
                log = calloc(1, 65536);
                len = fread(log, 1, 65535, f);
                fclose(f);
        }
        (void)len;
        CHECK(st != 0 && log && strstr(log, want),
              "%s: ferryd does not start and says \"%s\" (exit %d: %s)", what, want, st,
              log ? log : "");
        free(log);
}

static void scenario_config(void)
{
        fresh("config");
        char at[400];
        snprintf(at, sizeof(at), "%s:", conf);
        bad_config("an unknown key", "  quotas: {}\n", "ferryd.yaml:3:");
        bad_config("a negative quota", "  tenants:\n    - {name: a, quota: {cpu: \"-1\"}}\n",
                   "ferryd.yaml:4:");
        bad_config("an unknown resource", "  tenants:\n    - {name: a, quota: {disks: 1}}\n",
                   "unknown resource \"disks\"");
        bad_config("a duplicate tenant",
                   "  tenants:\n    - {name: a, weight: 1}\n    - {name: a, weight: 2}\n",
                   "listed twice");

        /* SIGHUP: quota pods 1 for h; two long pods: the second waits */
        const char *good = "backend: local\n"
                           "runtime: host\n"
                           "backend_options: {host_namespaces: \"*\"}\n"
                           "poll_interval_ms: 100\n"
                           "tenancy:\n"
                           "  tenants:\n"
                           "    - {name: h, quota: {pods: %d}}\n";
        char text[512];
        snprintf(text, sizeof(text), good, 1);
        write_file(conf, text);
        start_ferryd(false, NULL);
        json_t *all = NULL;
        for (int i = 0; i < 2; i++) {
                char uid[16], script[4096];
                snprintf(uid, sizeof(uid), "hup-%d", i);
                snprintf(script, sizeof(script), "echo start %s >> %s; exec sleep 300", uid, marks);
                char *b = pod_json("h", uid, uid, 0, "", script, 1);
                if (create(b, NULL) != 200)
                        die("create %s", uid);
                free(b);
        }
        CHECK(wait_phase(&all, "hup-0", "Running", 20000) != NULL, "the first pod runs");
        pause_ms(300); /* a few rounds: the second must still wait */
        json_decref(all);
        all = status_all();
        const json_t *p = find_pod(all, "hup-1");
        CHECK(p && !strcmp(jstr(p, "reason"), "QuotaExceeded"), "the second waits (%s)",
              p ? jstr(p, "reason") : "");
        /* a broken file: kept as it was, and the log says why */
        write_file(conf,
                   "backend: local\ntenancy:\n  tenants:\n    - {name: h, quota: {pods: -2}}\n");
        kill(pid, SIGHUP);
        int64_t deadline = now_ms() + 5000;
        bool said = false;
        while (!said && now_ms() < deadline) {
                char cmd[400];
                snprintf(cmd, sizeof(cmd), "grep -q 'keeping the running config' %s", logpath);
                said = system(cmd) == 0;
                if (!said)
                        pause_ms(20);
        }
        CHECK(said, "SIGHUP with a bad file: ferryd keeps its config and says why");
        pause_ms(300);
        json_decref(all);
        all = status_all();
        p = find_pod(all, "hup-1");
        CHECK(p && !strcmp(jstr(p, "reason"), "QuotaExceeded"), "the old quota still holds");
        snprintf(text, sizeof(text), good, 2);
        write_file(conf, text);
        kill(pid, SIGHUP);
        CHECK(wait_phase(&all, "hup-1", "Running", 10000) != NULL,
              "SIGHUP with the quota raised to 2: the second pod starts");
        CHECK(count_marks("start", "hup-0") == 1, "the first pod was not restarted");
        json_decref(all);
        stop_ferryd(SIGTERM);
        (void)at;
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr,
                        "usage: tenancy-test FERRYD [burst|fairshare|preempt|restart|config]...\n");
                return 2;
        }
        ferryd_bin = argv[1];
        signal(SIGPIPE, SIG_IGN);
        static const struct {
                const char *name;
                void (*fn)(void);
        } all[] = {{"burst", scenario_burst},     {"fairshare", scenario_fairshare},
                   {"preempt", scenario_preempt}, {"restart", scenario_restart},
                   {"gpus", scenario_gpus},       {"slurm", scenario_slurm},
                   {"config", scenario_config}};
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
                bool want = argc == 2 && strcmp(all[i].name, "slurm") != 0; /* needs Slurm */
                for (int k = 2; k < argc; k++)
                        want |= !strcmp(argv[k], all[i].name);
                if (want)
                        all[i].fn();
        }
        cleanup();
        printf("%d passed, %d failed\n", passed, failed);
        for (size_t i = 0; failed == 0 && i < n_made; i++) { /* kept when something failed */
                char cmd[2100];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", made[i]);
                if (system(cmd) != 0)
                        fprintf(stderr, "cannot remove %s\n", made[i]);
        }
        return failed ? 1 : 0;
}
