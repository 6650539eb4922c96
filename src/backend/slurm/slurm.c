/* SPDX-License-Identifier: MIT */
/*
 * The Slurm backend, runtime half (see doc/slurm-runtime.md): one pod = one
 * Slurm job named after the pod uid, whose batch script runs ferry-shim on the
 * pod's working directory (materialised by ferryd with the local backend's
 * code, src/runner/podwd.h). The pure translation lives in job.c.
 *
 * Talking to Slurm: libslurm when it can be loaded (dlopen, so Ferry builds
 * and runs without it; ~1 ms per submit RPC against ~5 ms for an sbatch
 * process), else the sbatch/squeue/scancel/sinfo programs. Either way:
 *  - submit is idempotent per uid (workdir/jobid, then a lookup by name);
 *  - one query for all jobs per poll (a snapshot shared by poll/find/kill);
 *  - an unreachable controller is found by a TCP probe first (an RPC to a
 *    dead controller blocks ~9 s in libslurm and sbatch alike), and turns
 *    into -EAGAIN (submit) or "keep the last status" (poll), never a failure.
 *
 * The libslurm loader is libslurm.c, capacity (node queries, GPU counting) is
 * capacity.c; what they share with this file is in slurm_internal.h.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/backend.h"
#include "runner/podwd.h"
#include "runner/runspec.h"
#include "runner/state.h"
#include "backend/slurm/job.h"
#include "backend/slurm/slurm_internal.h"
#include "common/log.h"
#include "common/spawn.h"
#include "common/util.h"

#define SHIM_NAME "ferry-shim"
/* trust a good RPC this long before probing again (each probe is a line in
 * slurmctld's log); an RPC sent to a controller that died within this window
 * blocks ~9 s in libslurm's connect retries, then the pod waits like the rest */
#define UP_CACHE_NS (250LL * 1000 * 1000)

static const char *const sstate_names[] = {
    [S_PENDING] = "PENDING",     [S_RUNNING] = "RUNNING",     [S_SUSPENDED] = "SUSPENDED",
    [S_COMPLETED] = "COMPLETED", [S_CANCELLED] = "CANCELLED", [S_FAILED] = "FAILED",
    [S_TIMEOUT] = "TIMEOUT",     [S_NODE_FAIL] = "NODE_FAIL", [S_PREEMPTED] = "PREEMPTED",
    [S_BOOT_FAIL] = "BOOT_FAIL", [S_DEADLINE] = "DEADLINE",   [S_OOM] = "OUT_OF_MEMORY",
    [S_OTHER] = "OTHER",
};

/* ---- helpers ---- */

static char *workdir(const struct slurm_priv *p, const char *uid)
{
        return ferry_xasprintf("%s/%s", p->pods, uid);
}

static bool exists(const char *dir, const char *name)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return access(path, F_OK) == 0;
}

static int64_t read_int_file(const char *dir, const char *name, int64_t def)
{
        _cleanup_free_ char *path = ferry_xasprintf("%s/%s", dir, name);
        char *text = NULL;
        size_t len;
        int64_t v = def;
        if (ferry_read_file(path, 64, &text, &len) == 0) {
                char *end;
                long long x = strtoll(text, &end, 10);
                if (end != text)
                        v = x;
                free(text);
        }
        return v;
}

static int write_small(const char *dir, const char *name, const char *text)
{
        _cleanup_free_ char *path = ferry_xasprintf("%s/%s", dir, name);
        return ferry_write_file_atomic(path, text, strlen(text), 0644, false);
}

static uint32_t jid_num(const char *jid)
{
        char *end;
        unsigned long v = jid ? strtoul(jid, &end, 10) : 0;
        return jid && end != jid && *end == '\0' && v <= UINT32_MAX ? (uint32_t)v : 0;
}

/* ---- controller reachability ---- */

static void ctld_parse_conf(struct slurm_priv *p)
{
        char *text = NULL;
        size_t len;
        snprintf(p->ctld_port, sizeof(p->ctld_port), "6817");
        const char *conf = getenv("SLURM_CONF");
        if (ferry_read_file(conf && *conf ? conf : "/etc/slurm/slurm.conf", 1 << 20, &text, &len) <
            0)
                return;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                while (isspace((unsigned char)*line))
                        line++;
                if (!strncasecmp(line, "SlurmctldPort=", 14)) {
                        snprintf(p->ctld_port, sizeof(p->ctld_port), "%.*s",
                                 (int)strcspn(line + 14, " \t-#"), line + 14);
                } else if ((!strncasecmp(line, "SlurmctldHost=", 14) ||
                            !strncasecmp(line, "ControlMachine=", 15)) &&
                           p->n_ctld < FERRY_ARRAY_SIZE(p->ctld_host)) {
                        char *v = strchr(line, '=') + 1;
                        v[strcspn(v, " \t#")] = '\0';
                        /* name(addr): the address is what to connect to */
                        char *paren = strchr(v, '(');
                        if (paren) {
                                v = paren + 1;
                                v[strcspn(v, ")")] = '\0';
                        }
                        if (*v)
                                p->ctld_host[p->n_ctld++] = ferry_xstrdup(v);
                }
        }
        free(text);
}

/* 1 when a TCP connection to some controller opens within 300 ms, 0 when none
 * does, 1 also when we do not know where the controller is. */
static int ctld_probe(const struct slurm_priv *p, char *why, size_t size)
{
        if (p->n_ctld == 0)
                return 1;
        for (size_t i = 0; i < p->n_ctld; i++) {
                struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
                int e = getaddrinfo(p->ctld_host[i], p->ctld_port, &hints, &ai);
                if (e != 0) {
                        snprintf(why, size, "cannot resolve %s: %s", p->ctld_host[i],
                                 gai_strerror(e));
                        continue;
                }
                for (struct addrinfo *a = ai; a; a = a->ai_next) {
                        int fd =
                            socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                        if (fd < 0)
                                continue;
                        int r = connect(fd, a->ai_addr, a->ai_addrlen);
                        if (r < 0 && errno == EINPROGRESS) {
                                struct pollfd pf = {.fd = fd, .events = POLLOUT};
                                int soerr = 0;
                                socklen_t sl = sizeof(soerr);
                                if (poll(&pf, 1, 300) == 1 &&
                                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
                                    soerr == 0)
                                        r = 0;
                                else
                                        errno = soerr ? soerr : ETIMEDOUT;
                        }
                        int saved = errno;
                        close(fd);
                        if (r == 0) {
                                freeaddrinfo(ai);
                                return 1;
                        }
                        snprintf(why, size, "slurmctld at %s:%s: %s", p->ctld_host[i], p->ctld_port,
                                 strerror(saved));
                }
                freeaddrinfo(ai);
        }
        return 0;
}

void slurm_ctld_ok(struct slurm_priv *p)
{
        pthread_mutex_lock(&p->lock);
        p->last_ok_ns = ferry_monotonic_ns();
        if (p->down)
                log_info("slurm: the controller answers again");
        p->down = false;
        pthread_mutex_unlock(&p->lock);
}

int slurm_ctld_failed(struct slurm_priv *p, ferry_error_t *err, const char *why)
{
        pthread_mutex_lock(&p->lock);
        if (!p->down)
                log_warn("slurm: controller unreachable (%s); pods wait, nothing fails", why);
        p->down = true;
        p->last_ok_ns = 0;
        snprintf(p->down_msg, sizeof(p->down_msg), "%s", why);
        pthread_mutex_unlock(&p->lock);
        return ferry_errprintf(err, -EAGAIN, "the Slurm controller is unreachable (%s); retrying",
                               why);
}

/* 0 when an RPC may go out now, -EAGAIN (err set) when the controller is
 * known to be unreachable: a dead controller costs a probe, not ~9 s. */
int slurm_ctld_check(struct slurm_priv *p, ferry_error_t *err)
{
        pthread_mutex_lock(&p->lock);
        bool fresh = p->last_ok_ns && ferry_monotonic_ns() - p->last_ok_ns < UP_CACHE_NS;
        pthread_mutex_unlock(&p->lock);
        if (fresh)
                return 0;
        char why[200] = "";
        if (ctld_probe(p, why, sizeof(why)) > 0)
                return 0;
        return slurm_ctld_failed(p, err, why);
}

/* stderr of a Slurm tool that means "try later" */
bool slurm_tool_transient(const char *s)
{
        return s && (strstr(s, "Unable to contact slurm controller") ||
                     strstr(s, "Socket timed out") || strstr(s, "Connection refused") ||
                     strstr(s, "temporarily unable") || strstr(s, "Zero Bytes were transmitted"));
}

void slurm_last_line(const char *s, char *out, size_t size)
{
        size_t n = s ? strlen(s) : 0;
        while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
                n--;
        size_t b = n;
        while (b && s[b - 1] != '\n')
                b--;
        snprintf(out, size, "%.*s", (int)(n - b), s ? s + b : "");
}

int slurm_tool_failed(struct slurm_priv *p, struct ferry_spawn_result *res, int errnum,
                      const char *what, ferry_error_t *err)
{
        char line[400];
        int r;

        slurm_last_line(res->err, line, sizeof(line));
        r = slurm_tool_transient(res->err) ? slurm_ctld_failed(p, err, line)
                                           : ferry_errprintf(err, errnum, "%s: %s", what, line);
        ferry_spawn_result_free(res);
        return r;
}

/* ---- snapshots: one query for all jobs ---- */

static void snap_unref(struct snap *s)
{
        if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
                free(s->v);
                free(s);
        }
}

static int sjob_cmp(const void *a, const void *b)
{
        uint32_t x = ((const struct sjob *)a)->id, y = ((const struct sjob *)b)->id;
        return x < y ? -1 : x > y;
}

static const struct sjob *snap_find_id(const struct snap *s, uint32_t id)
{
        struct sjob key = {.id = id};
        return id ? bsearch(&key, s->v, s->n, sizeof(*s->v), sjob_cmp) : NULL;
}

/* The newest job named uid (requeued or resubmitted jobs: the highest id). */
static const struct sjob *snap_find_name(const struct snap *s, const char *uid)
{
        const struct sjob *best = NULL;
        for (size_t i = 0; i < s->n; i++)
                if (!strcmp(s->v[i].name, uid) && (!best || s->v[i].id > best->id))
                        best = &s->v[i];
        return best;
}

static int state_from_name(const char *s)
{
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(sstate_names); i++)
                if (!strcmp(s, sstate_names[i]))
                        return (int)i;
        if (!strcmp(s, "COMPLETING") || !strcmp(s, "CONFIGURING") || !strcmp(s, "SIGNALING") ||
            !strcmp(s, "STAGE_OUT") || !strcmp(s, "RESIZING"))
                return S_RUNNING;
        if (!strcmp(s, "REQUEUED") || !strcmp(s, "REQUEUE_HOLD") || !strcmp(s, "REQUEUE_FED"))
                return S_PENDING;
        if (!strcmp(s, "STOPPED"))
                return S_SUSPENDED;
        return S_OTHER;
}

/* squeue -h -a -t all -o '%i|%T|%r|%j': the job name is last, so '|' in it
 * cannot shift the other fields. */
static int query_squeue(struct slurm_priv *p, struct snap *s, ferry_error_t *err)
{
        const char *argv[] = {"squeue", "-h", "-a", "-t", "all", "-o", "%i|%T|%r|%j", NULL};
        struct ferry_spawn_result res;
        int r = ferry_spawn_run(argv, NULL, NULL, 0, TOOL_TIMEOUT_MS, TOOL_OUT_MAX, &res, err);
        if (r < 0)
                return r;
        if (res.exit_code != 0)
                return slurm_tool_failed(p, &res, -EIO, "squeue failed", err);
        size_t cap = 0;
        for (char *save = NULL, *line = strtok_r(res.out, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
                char *f[4];
                size_t nf = 0;
                char *q = line;
                while (nf < 3 && (f[nf] = q) && (q = strchr(q, '|'))) {
                        *q++ = '\0';
                        nf++;
                }
                if (nf < 3 || !q)
                        continue;
                f[3] = q;
                char *end;
                unsigned long id = strtoul(f[0], &end, 10);
                if (end == f[0] || *end) /* array tasks "12_3" and het jobs are not ours */
                        continue;
                if (s->n == cap) {
                        cap = cap ? 2 * cap : 256;
                        s->v = ferry_xrealloc(s->v, cap * sizeof(*s->v));
                }
                struct sjob *j = &s->v[s->n++];
                memset(j, 0, sizeof(*j));
                j->id = (uint32_t)id;
                j->state = state_from_name(f[1]);
                j->completing = !strcmp(f[1], "COMPLETING");
                snprintf(j->reason, sizeof(j->reason), "%s", f[2]);
                snprintf(j->name, sizeof(j->name), "%s", f[3]);
        }
        ferry_spawn_result_free(&res);
        return 0;
}

#ifdef FERRY_HAVE_SLURM_H
static int query_lib(struct snap *s, ferry_error_t *err)
{
        job_info_msg_t *m = NULL;
        if (slurm_lib.load_jobs((time_t)0, &m, SHOW_ALL) != SLURM_SUCCESS) {
                int e = slurm_lib.get_errno();
                return ferry_errprintf(err, slurm_lib_error(e), "slurm_load_jobs: %s",
                                       slurm_lib.strerror(e));
        }
        s->v = ferry_xcalloc(m->record_count + 1, sizeof(*s->v));
        for (uint32_t i = 0; i < m->record_count; i++) {
                const slurm_job_info_t *ji = &m->job_array[i];
                if (ji->array_task_id != NO_VAL || ji->het_job_id)
                        continue; /* not ours */
                struct sjob *j = &s->v[s->n++];
                j->id = ji->job_id;
                j->state = slurm_lib_state(ji->job_state);
                j->completing = ji->job_state & JOB_COMPLETING;
                j->restarts = ji->restart_cnt;
                snprintf(j->name, sizeof(j->name), "%s", ji->name ? ji->name : "");
                const char *rs =
                    slurm_lib.reason_string ? slurm_lib.reason_string(ji->state_reason) : NULL;
                if (rs)
                        snprintf(j->reason, sizeof(j->reason), "%s", rs);
                else
                        snprintf(j->reason, sizeof(j->reason), "reason %u", ji->state_reason);
        }
        slurm_lib.free_job_info_msg(m);
        return 0;
}
#endif

/* A snapshot whose query started at or after `since` (monotonic ns); the
 * caller unrefs it. One query at a time: concurrent callers share it. */
static int snap_get(struct slurm_priv *p, int64_t since, struct snap **ret, ferry_error_t *err)
{
        pthread_mutex_lock(&p->refresh_lock);
        pthread_mutex_lock(&p->lock);
        struct snap *cur = p->snap;
        if (cur && cur->at_ns >= since) {
                atomic_fetch_add(&cur->refs, 1);
                pthread_mutex_unlock(&p->lock);
                pthread_mutex_unlock(&p->refresh_lock);
                *ret = cur;
                return 0;
        }
        pthread_mutex_unlock(&p->lock);
        int r = slurm_ctld_check(p, err);
        if (r < 0) {
                pthread_mutex_unlock(&p->refresh_lock);
                return r;
        }
        struct snap *s = ferry_xcalloc(1, sizeof(*s));
        atomic_init(&s->refs, 2); /* ours and the caller's */
        s->at_ns = ferry_monotonic_ns();
#ifdef FERRY_HAVE_SLURM_H
        if (p->use_lib)
                r = query_lib(s, err);
        else
#endif
                r = query_squeue(p, s, err);
        if (r < 0) {
                pthread_mutex_unlock(&p->refresh_lock);
                free(s->v);
                free(s);
                if (r == -EAGAIN)
                        slurm_ctld_failed(p, NULL, err ? err->text : "query failed");
                return r;
        }
        qsort(s->v, s->n, sizeof(*s->v), sjob_cmp);
        slurm_ctld_ok(p);
        pthread_mutex_lock(&p->lock);
        struct snap *old = p->snap;
        p->snap = s;
        pthread_mutex_unlock(&p->lock);
        pthread_mutex_unlock(&p->refresh_lock);
        snap_unref(old);
        *ret = s;
        return 0;
}

/* ---- init ---- */

/* ferry-shim as ferryd knows it: FERRY_SHIM, the libexec dir, next to
 * ferryd in a build tree; canonical (the site config wants no "..") */
static char *default_shim(const struct ferry_backend *be)
{
        const char *env = getenv("FERRY_SHIM");
        char exe[PATH_MAX], real[PATH_MAX];
        char *cand[3] = {NULL, NULL, NULL};
        size_t n = 0;

        if (env && *env)
                cand[n++] = ferry_xstrdup(env);
        if (be->cfg.libexec_dir && *be->cfg.libexec_dir)
                cand[n++] = ferry_xasprintf("%s/" SHIM_NAME, be->cfg.libexec_dir);
        ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (l > 0) {
                exe[l] = '\0';
                char *slash = strrchr(exe, '/');
                if (slash) {
                        *slash = '\0';
                        cand[n++] = ferry_xasprintf("%s/../shim/" SHIM_NAME, exe);
                }
        }
        char *found = NULL;
        for (size_t i = 0; i < n; i++) {
                if (!found && access(cand[i], X_OK) == 0 && realpath(cand[i], real))
                        found = ferry_xstrdup(real);
                free(cand[i]);
        }
        return found ? found : ferry_xstrdup("/usr/libexec/ferry/" SHIM_NAME);
}

static void slurm_be_fini(struct ferry_backend *be)
{
        struct slurm_priv *p = be->priv;
        if (!p)
                return;
        slurm_site_free(p->site);
        free(p->root);
        free(p->pods);
        free(p->tmp);
        for (size_t i = 0; i < p->n_ctld; i++)
                free(p->ctld_host[i]);
        snap_unref(p->snap);
        pthread_mutex_destroy(&p->lock);
        pthread_mutex_destroy(&p->refresh_lock);
        free(p);
        be->priv = NULL;
}

static int slurm_be_init(struct ferry_backend *be, ferry_error_t *err)
{
        struct slurm_priv *p = ferry_xcalloc(1, sizeof(*p));
        const char *site_path = ferry_backend_opt(be, "site", NULL);
        char *text = NULL;
        size_t len = 0;
        int r;

        pthread_mutex_init(&p->lock, NULL);
        pthread_mutex_init(&p->refresh_lock, NULL);
        be->priv = p;
        if (!be->cfg.state_dir || !*be->cfg.state_dir) {
                r = ferry_errprintf(err, -EINVAL, "the slurm backend needs a state directory");
                goto fail;
        }
        p->root = ferry_xasprintf("%s/slurm", be->cfg.state_dir);
        if (site_path && *site_path) {
                r = ferry_read_file(site_path, 1 << 20, &text, &len);
                if (r < 0) {
                        r = ferry_errprintf(err, r, "cannot read the site config %s: %s", site_path,
                                            strerror(-r));
                        goto fail;
                }
        } else {
                /* no site config: this host is the compute node; ferryd's shim and runtime */
                _cleanup_free_ char *shim = default_shim(be);
                struct ferry_buf y = FERRY_BUF_INIT;
                _cleanup_free_ char *pods = ferry_xasprintf("%s/pods", p->root);
                ferry_buf_adds(&y, "workdir_root: ");
                ferry_buf_add_json_str(&y, pods); /* a JSON string is a YAML string */
                ferry_buf_adds(&y, "\nshim_path: ");
                ferry_buf_add_json_str(&y, shim);
                ferry_buf_adds(&y, "\nruntime: ");
                ferry_buf_add_json_str(&y, be->cfg.runtime && *be->cfg.runtime ? be->cfg.runtime
                                                                               : "bwrap");
                ferry_buf_adds(&y, "\n");
                len = y.len;
                text = ferry_buf_steal(&y);
        }
        r = slurm_site_parse(text, len, &p->site, err);
        free(text);
        if (r < 0) {
                ferry_errprefix(err, r, "site config %s", site_path ? site_path : "(defaults)");
                goto fail;
        }
        if (runner_runtime_parse(p->site->runtime, &(enum runner_runtime_kind){0}) < 0) {
                r = ferry_errprintf(err, -EINVAL, "unknown runtime \"%s\"", p->site->runtime);
                goto fail;
        }
        p->pods = ferry_xstrdup(p->site->workdir_root);
        /* tmp must be on the workdirs' file system (rename) */
        p->tmp = ferry_xasprintf("%s/.tmp", p->pods);
        if ((r = ferry_mkdir_p(p->pods, 0711)) < 0 || (r = ferry_mkdir_p(p->tmp, 0700)) < 0) {
                r = ferry_errprintf(err, r, "cannot create %s: %s", p->pods, strerror(-r));
                goto fail;
        }
        /* a job running as root drops to the pod's user, who must reach its workdir */
        if (geteuid() == 0 &&
            ((r = runner_podwd_open_path(site_path ? p->pods : be->cfg.state_dir, p->pods, err)) <
                 0 ||
             (r = runner_podwd_open_path(site_path ? p->pods : be->cfg.state_dir, p->tmp, err)) <
                 0))
                goto fail;
        if (access(p->site->shim_path, X_OK) < 0)
                log_warn("slurm backend: %s is not executable here (%m); jobs need it on the "
                         "compute nodes",
                         p->site->shim_path);
        p->max_pods = ferry_backend_opt_int(be, "max_pods", 5000);
        p->cgroup_parent = ferry_backend_opt(be, "cgroup_parent", "auto");
        if ((r = ferry_backend_log_opts(be, &p->log_max_size, &p->log_max_files, err)) < 0)
                goto fail;

        const char *mode = ferry_backend_opt(be, "submit", "auto");
        char why[256] = "";
        if (!strcmp(mode, "sbatch"))
                p->mode = SUBMIT_SBATCH;
        else if (!strcmp(mode, "libslurm"))
                p->mode = SUBMIT_LIBSLURM;
        else if (!strcmp(mode, "auto"))
                p->mode = SUBMIT_AUTO;
        else {
                r = ferry_errprintf(err, -EINVAL, "submit=%s: use auto, libslurm or sbatch", mode);
                goto fail;
        }
        if (p->mode != SUBMIT_SBATCH)
                p->use_lib = slurm_lib_available(why, sizeof(why));
        if (p->mode == SUBMIT_LIBSLURM && !p->use_lib) {
                r = ferry_errprintf(err, -ENOENT, "submit=libslurm: %s", why);
                goto fail;
        }
        ctld_parse_conf(p);
        log_info("slurm backend: workdirs in %s, shim %s, runtime %s, talking to Slurm via %s%s%s",
                 p->pods, p->site->shim_path, p->site->runtime,
                 p->use_lib ? "libslurm" : "sbatch/squeue/scancel/sinfo", why[0] ? " (" : "",
                 why[0] ? why : "");
        if (why[0])
                log_info("slurm backend: libslurm not used: %s", why);
        return 0;
fail:
        slurm_be_fini(be);
        return r;
}

/* ---- submit ---- */

#ifdef FERRY_HAVE_SLURM_H
/* libslurm takes struct slurm_job's fields; that is exact only when every
 * sbatch option is one the fields say (no flavor extras, no user flags),
 * else the job goes through sbatch, which knows every option. */
static bool job_lib_ok(const struct slurm_job *j)
{
        char *mine[16];
        size_t n = 0;
        bool ok = true;
        mine[n++] = ferry_xasprintf("--job-name=%s", j->name);
        mine[n++] = ferry_xasprintf("--chdir=%s", j->workdir);
        mine[n++] = ferry_xasprintf("--output=%s/slurm-%%j.out", j->workdir);
        mine[n++] = ferry_xasprintf("--partition=%s", j->partition ? j->partition : "");
        mine[n++] = ferry_xasprintf("--account=%s", j->account ? j->account : "");
        mine[n++] = ferry_xasprintf("--qos=%s", j->qos ? j->qos : "");
        mine[n++] = ferry_xasprintf("--cpus-per-task=%lld", (long long)j->cpus);
        mine[n++] = ferry_xasprintf("--mem=%lldM", (long long)j->memory_mb);
        mine[n++] = ferry_xasprintf("--gres=%s", j->gres ? j->gres : "");
        mine[n++] = ferry_xasprintf("--time=%lld", (long long)j->time_limit_min);
        mine[n++] = ferry_xasprintf("--uid=%lld", (long long)j->uid);
        for (size_t i = 0; ok && i < j->n_sbatch_argv; i++) {
                bool found = false;
                for (size_t k = 0; k < n && !found; k++)
                        found = !strcmp(j->sbatch_argv[i], mine[k]);
                ok = found;
        }
        for (size_t k = 0; k < n; k++)
                free(mine[k]);
        return ok;
}
#endif

static int submit_sbatch(struct slurm_priv *p, const struct slurm_job *j, uint32_t *ret_id,
                         ferry_error_t *err)
{
        size_t n = 0;
        const char **argv = ferry_xcalloc(j->n_sbatch_argv + 4, sizeof(char *));
        argv[n++] = "sbatch";
        argv[n++] = "--parsable";
        for (size_t i = 0; i < j->n_sbatch_argv; i++)
                argv[n++] = j->sbatch_argv[i];
        argv[n] = NULL;
        struct ferry_spawn_result res;
        int r = ferry_spawn_run(argv, NULL, j->script, strlen(j->script), TOOL_TIMEOUT_MS, 65536,
                                &res, err);
        free(argv);
        if (r < 0)
                return r;
        char line[400];
        if (res.exit_code != 0)
                return slurm_tool_failed(p, &res, -EINVAL, "Slurm refused the job", err);
        /* "123" or "123;cluster"; warnings on stderr are not failures */
        char *end;
        unsigned long id = strtoul(res.out ? res.out : "", &end, 10);
        if (!res.out || end == res.out || (*end && *end != ';' && *end != '\n')) {
                slurm_last_line(res.out, line, sizeof(line));
                ferry_spawn_result_free(&res);
                return ferry_errprintf(err, -EIO, "sbatch printed no job id (\"%s\")", line);
        }
        if (res.err && res.err[0]) {
                slurm_last_line(res.err, line, sizeof(line));
                log_debug("sbatch for %s: %s", j->name, line);
        }
        ferry_spawn_result_free(&res);
        *ret_id = (uint32_t)id;
        return 0;
}

#ifdef FERRY_HAVE_SLURM_H
static int submit_lib(const struct slurm_job *j, const char *wd, uint32_t *ret_id,
                      ferry_error_t *err)
{
        job_desc_msg_t d;
        _cleanup_free_ char *out = ferry_xasprintf("%s/slurm-%%j.out", wd);
        _cleanup_free_ char *tres = j->gres ? ferry_xasprintf("gres:%s", j->gres) : NULL;
        char *env[] = {(char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                       NULL};
        submit_response_msg_t *resp = NULL;

        slurm_lib.init_job_desc_msg(&d);
        d.name = j->name;
        d.script = j->script;
        d.work_dir = (char *)wd;
        d.std_out = out;
        d.environment = env;
        d.env_size = 1;
        d.user_id = j->uid >= 0 ? (uint32_t)j->uid : getuid();
        d.group_id = j->uid >= 0 ? (uint32_t)j->uid : getgid();
        d.partition = j->partition;
        d.account = j->account;
        d.qos = j->qos;
        d.num_tasks = 1;
        d.min_nodes = 1;
        d.max_nodes = 1;
        if (j->cpus > 0) {
                d.cpus_per_task = (uint16_t)j->cpus;
                d.min_cpus = (uint32_t)j->cpus;
        }
        if (j->memory_mb > 0)
                d.pn_min_memory = (uint64_t)j->memory_mb;
        if (j->time_limit_min > 0)
                d.time_limit = (uint32_t)j->time_limit_min;
        d.tres_per_node = tres;
        if (slurm_lib.submit_batch_job(&d, &resp) != SLURM_SUCCESS) {
                int e = slurm_lib.get_errno();
                return ferry_errprintf(err, slurm_lib_error(e), "Slurm refused the job: %s",
                                       slurm_lib.strerror(e));
        }
        if (resp->job_submit_user_msg && *resp->job_submit_user_msg)
                log_debug("slurm: job %u: %s", resp->job_id, resp->job_submit_user_msg);
        *ret_id = resp->job_id;
        slurm_lib.free_submit_response(resp);
        return 0;
}
#endif

static void record_jobid(const char *wd, uint32_t id)
{
        char t[32];
        snprintf(t, sizeof(t), "%u\n", id);
        int r = write_small(wd, "jobid", t);
        if (r < 0)
                log_warn("slurm: cannot record job id %u in %s: %s", id, wd, strerror(-r));
}

static int slurm_be_submit(struct ferry_backend *be, const struct ferry_pod *pod,
                           char ret_jid[FERRY_JID_MAX], ferry_error_t *err)
{
        struct slurm_priv *p = be->priv;
        struct slurm_job *j = NULL;
        _cleanup_free_ char *wd = NULL;
        int64_t t0 = ferry_monotonic_ns();
        uint32_t id = 0;
        int r;

        if (!runner_podwd_uid_ok(pod->uid))
                return ferry_errprintf(err, -EINVAL, "pod uid \"%s\" is not usable as a job name",
                                       pod->uid ? pod->uid : "");
        /* translate first: a pod Slurm can never run is refused before any file is written */
        r = slurm_job_from_pod(pod, p->site, &j, err);
        if (r < 0)
                return r;
        wd = workdir(p, pod->uid);
        if (access(wd, F_OK) == 0) {
                /* a retry, or a restart: the job may exist already */
                int64_t known = read_int_file(wd, "jobid", 0);
                if (known > 0) {
                        id = (uint32_t)known;
                        goto answer;
                }
                struct snap *s;
                r = snap_get(p, t0, &s, err);
                if (r < 0)
                        goto out;
                const struct sjob *sj = snap_find_name(s, pod->uid);
                if (sj)
                        id = sj->id;
                snap_unref(s);
                if (id) {
                        record_jobid(wd, id);
                        goto answer;
                }
        } else {
                struct runner_rtconf rc;
                struct ferry_pod_user user = {.fs_group = -1};
                if (j->uid >= 0) {
                        /* the job runs as that user: the shim has nothing to drop, and
                         * under bwrap the pod is root inside, that user outside */
                        user.uid = user.gid = j->uid;
                } else if ((r = ferry_podsec_resolve(&p->site->podsec, pod, &user, err)) < 0) {
                        goto out; /* the job runs as root: the shim drops to this user */
                }
                slurm_job_rtconf(j, p->site, &rc);
                rc.workdir = wd;
                rc.user = &user;
                rc.shim_as_user = j->uid >= 0;
                rc.masks = be->cfg.private_paths;
                rc.n_masks = be->cfg.n_private_paths;
                rc.hostfs = runner_hostfs_real; /* compute nodes share this host's tree */
                rc.log_max_size = p->log_max_size;
                rc.log_max_files = p->log_max_files;
                if (rc.kind != RUNNER_RT_PODMAN && strcmp(p->cgroup_parent, "off"))
                        rc.cgroup_parent = p->cgroup_parent;
                r = runner_podwd_create_spec(&rc, j->spec, p->tmp, err);
                if (r < 0)
                        goto out;
        }
        if ((r = slurm_ctld_check(p, err)) < 0)
                goto out;
#ifdef FERRY_HAVE_SLURM_H
        if (p->use_lib && job_lib_ok(j))
                r = submit_lib(j, wd, &id, err);
        else
#endif
                r = submit_sbatch(p, j, &id, err);
        if (r == -EAGAIN)
                slurm_ctld_failed(p, NULL, err ? err->text : "submit failed");
        if (r < 0)
                goto out;
        slurm_ctld_ok(p);
        record_jobid(wd, id);
answer:
        snprintf(ret_jid, FERRY_JID_MAX, "%u", id);
        r = 0;
out:
        pthread_mutex_lock(&p->lock);
        p->last_submit_ns = ferry_monotonic_ns();
        pthread_mutex_unlock(&p->lock);
        slurm_job_free(j);
        return r;
}

static int slurm_be_find(struct ferry_backend *be, const char *uid, char ret_jid[FERRY_JID_MAX],
                         ferry_error_t *err)
{
        struct slurm_priv *p = be->priv;
        if (!runner_podwd_uid_ok(uid))
                return 0;
        _cleanup_free_ char *wd = workdir(p, uid);
        if (access(wd, F_OK) < 0)
                return 0; /* never materialised: never submitted */
        int64_t known = read_int_file(wd, "jobid", 0);
        if (known > 0) {
                snprintf(ret_jid, FERRY_JID_MAX, "%" PRId64, known);
                return 1;
        }
        pthread_mutex_lock(&p->lock);
        int64_t since = p->last_submit_ns;
        pthread_mutex_unlock(&p->lock);
        struct snap *s;
        int r = snap_get(p, since, &s, err);
        if (r < 0)
                return r;
        const struct sjob *sj = snap_find_name(s, uid);
        uint32_t id = sj ? sj->id : 0;
        snap_unref(s);
        if (!id)
                return 0;
        record_jobid(wd, id);
        snprintf(ret_jid, FERRY_JID_MAX, "%u", id);
        return 1;
}

/* ---- poll ---- */

/* What a Slurm end state means for containers it cut short. */
static const char *end_reason(int state)
{
        switch (state) {
        case S_TIMEOUT: return "SlurmJobTimeout";
        case S_OOM: return "OOMKilled";
        case S_CANCELLED: return "SlurmJobCancelled";
        case S_NODE_FAIL: return "SlurmNodeFail";
        case S_PREEMPTED: return "SlurmJobPreempted";
        case S_BOOT_FAIL: return "SlurmBootFail";
        case S_DEADLINE: return "DeadlineExceeded";
        default: return "Error";
        }
}

static void read_pod_state(const char *wd, struct ferry_pod_status *st)
{
        char *ps = NULL;
        size_t len;
        _cleanup_free_ char *path = ferry_xasprintf("%s/pod.state", wd);
        if (ferry_read_file(path, 1024, &ps, &len) < 0)
                return;
        char *nl = strchr(ps, '\n');
        if (nl) {
                *nl = '\0';
                snprintf(st->reason, sizeof(st->reason), "%s", ps);
                char *msg = nl + 1;
                msg[strcspn(msg, "\n")] = '\0';
                ferry_pod_status_set_message(st, *msg ? msg : NULL);
        }
        free(ps);
}

static void set_waiting(struct ferry_pod_status *st, const char *reason, const char *msg)
{
        size_t n = (size_t)st->n_init + st->n_containers;
        for (size_t i = 0; i < n; i++)
                if (st->c[i].state == FERRY_C_WAITING) {
                        snprintf(st->c[i].reason, sizeof(st->c[i].reason), "%s", reason);
                        ferry_cstatus_set_message(&st->c[i], msg);
                }
}

/* Containers the job will never record: end them with the job's reason. */
static void end_unrecorded(struct ferry_pod_status *st, const char *reason, const char *msg,
                           int exit_code)
{
        size_t n = (size_t)st->n_init + st->n_containers;
        for (size_t i = 0; i < n; i++) {
                struct ferry_cstatus *c = &st->c[i];
                if (c->state == FERRY_C_TERMINATED)
                        continue;
                bool ran = c->state == FERRY_C_RUNNING;
                c->state = FERRY_C_TERMINATED;
                c->exit_code = exit_code;
                c->ready = false;
                if (ran && !c->finished_ns)
                        c->finished_ns = ferry_now_ns();
                snprintf(c->reason, sizeof(c->reason), "%s", reason);
                ferry_cstatus_set_message(c, msg);
        }
}

static void poll_one(struct slurm_priv *p, const struct snap *s, struct ferry_poll_item *it)
{
        _cleanup_free_ char *wd = workdir(p, it->uid);
        struct ferry_pod_status *st = it->status;
        size_t n = (size_t)st->n_init + st->n_containers;
        char msg[256];

        if (access(wd, F_OK) < 0) {
                snprintf(st->reason, sizeof(st->reason), "NotFound");
                ferry_pod_status_set_message(st, "the slurm backend has no working directory "
                                                 "for this pod");
                end_unrecorded(st, "Error", "lost: the pod's working directory is gone", 1);
                st->phase = ferry_pod_status_derive_phase(st);
                return;
        }
        bool started = exists(wd, "started"), done = exists(wd, "done");
        for (size_t i = 0; i < n; i++) {
                struct runner_cstate cs;
                if (runner_cstate_read(wd, st->c[i].name, &cs) == 0)
                        runner_cstate_apply(&st->c[i], &cs);
        }
        read_pod_state(wd, st);
        runner_pod_probe_message(st);
        uint32_t id = jid_num(it->jid);
        const struct sjob *j = s ? snap_find_id(s, id) : NULL;
        if (!s) {
                /* controller unreachable: what the files say, nothing more */
        } else if (j && (j->state == S_PENDING || j->state == S_SUSPENDED) && !done) {
                if (!started) {
                        char reason[FERRY_REASON_MAX];
                        const char *r = j->reason;
                        if (!*r || !strcmp(r, "None"))
                                snprintf(reason, sizeof(reason), "SlurmJobPending");
                        else
                                snprintf(reason, sizeof(reason), "Slurm%.26s", r);
                        snprintf(msg, sizeof(msg), "Slurm job %u is %s: %s", id,
                                 j->state == S_PENDING ? "pending" : "suspended", *r ? r : "None");
                        set_waiting(st, reason, msg);
                }
        } else if (j && !sstate_terminal(j->state)) {
                if (!started) {
                        snprintf(msg, sizeof(msg), "Slurm job %u started; ferry-shim is starting",
                                 id);
                        set_waiting(st, "ContainerCreating", msg);
                }
        } else if (j) {
                /* ended: the recorded files are the truth; Slurm says why the rest ended */
                const char *why = end_reason(j->state);
                snprintf(msg, sizeof(msg), "Slurm job %u ended: %s", id, sstate_names[j->state]);
                if (!done)
                        end_unrecorded(st, why, msg,
                                       j->state == S_TIMEOUT || j->state == S_CANCELLED ? 143
                                                                                        : 137);
                if (j->state != S_COMPLETED && j->state != S_FAILED) {
                        snprintf(st->reason, sizeof(st->reason), "%s", why);
                        ferry_pod_status_set_message(st, msg);
                        for (size_t i = 0; i < n; i++)
                                if (st->c[i].exit_code != 0 &&
                                    (!strcmp(st->c[i].reason, "Error") ||
                                     !strcmp(st->c[i].reason, "Completed")))
                                        snprintf(st->c[i].reason, sizeof(st->c[i].reason), "%s",
                                                 why);
                }
        } else if (!done) {
                /* not in the queue any more (MinJobAge) and never finished */
                snprintf(msg, sizeof(msg),
                         "Slurm job %u left the queue without recording this container", id);
                end_unrecorded(st, "Error", msg, 137);
        }
        st->phase = ferry_pod_status_derive_phase(st);
}

static int slurm_be_poll(struct ferry_backend *be, struct ferry_poll_item *items, size_t n,
                         ferry_error_t *err)
{
        struct slurm_priv *p = be->priv;
        struct snap *s = NULL;
        ferry_error_t qerr = {{0}};
        int r = snap_get(p, ferry_monotonic_ns(), &s, &qerr);
        if (r < 0 && r != -EAGAIN)
                log_warn("slurm: job query failed: %s", qerr.text);
        for (size_t i = 0; i < n; i++)
                if (runner_podwd_uid_ok(items[i].uid))
                        poll_one(p, r < 0 ? NULL : s, &items[i]);
        snap_unref(s);
        return 0;
}

/* ---- kill, cleanup ---- */

static int cancel(struct slurm_priv *p, uint32_t id, int sig, bool batch_only, ferry_error_t *err)
{
        int r = slurm_ctld_check(p, err);
        if (r < 0)
                return r;
#ifdef FERRY_HAVE_SLURM_H
        if (p->use_lib) {
                if (slurm_lib.kill_job(id, (uint16_t)sig, batch_only ? KILL_JOB_BATCH : 0) ==
                    SLURM_SUCCESS)
                        return 0;
                int e = slurm_lib.get_errno();
                r = slurm_lib_error(e);
                if (r == -ENOENT)
                        return 0;
                return ferry_errprintf(err, r, "scancel %u: %s", id, slurm_lib.strerror(e));
        }
#endif
        char ids[16], sigs[16];
        snprintf(ids, sizeof(ids), "%u", id);
        snprintf(sigs, sizeof(sigs), "--signal=%d", sig);
        const char *argv[] = {"scancel", sigs, batch_only ? "--batch" : "--full", ids, NULL};
        if (sig == SIGKILL && !batch_only) {
                argv[1] = ids;
                argv[2] = NULL;
        }
        struct ferry_spawn_result res;
        r = ferry_spawn_run(argv, NULL, NULL, 0, TOOL_TIMEOUT_MS, 65536, &res, err);
        if (r < 0)
                return r;
        if (res.exit_code != 0) {
                char line[256];
                slurm_last_line(res.err, line, sizeof(line));
                r = slurm_tool_transient(res.err) ? -EAGAIN
                    : strstr(res.err, "already completing") || strstr(res.err, "Invalid job id")
                        ? 0
                        : -EIO;
                if (r < 0)
                        ferry_errprintf(err, r, "scancel %u: %s", id, line);
        }
        ferry_spawn_result_free(&res);
        return r;
}

static int slurm_be_kill(struct ferry_backend *be, const char *uid, const char *jid,
                         int64_t grace_s, ferry_error_t *err)
{
        struct slurm_priv *p = be->priv;
        if (!runner_podwd_uid_ok(uid))
                return 0;
        _cleanup_free_ char *wd = workdir(p, uid);
        bool have_wd = access(wd, F_OK) == 0;
        int64_t old_grace = have_wd ? read_int_file(wd, "deleted", -1) : -1;
        int shortened = 0;
        /* ferry-shim reads the grace period here on SIGTERM, and starts nothing more */
        if (have_wd && (shortened = runner_podwd_mark_deleted(wd, grace_s, err)) < 0)
                return shortened;
        uint32_t id = jid_num(jid);
        struct snap *s;
        int r = snap_get(p, ferry_monotonic_ns() - UP_CACHE_NS, &s, err);
        if (r < 0)
                return r == -EAGAIN ? -EINPROGRESS : r; /* Slurm must confirm: try again */
        const struct sjob *j = id ? snap_find_id(s, id) : snap_find_name(s, uid);
        struct sjob job = j ? *j : (struct sjob){0};
        snap_unref(s);
        if (!j || sstate_terminal(job.state))
                return 0; /* Slurm confirms: gone or ended */
        if (job.state == S_PENDING || job.state == S_SUSPENDED || !have_wd) {
                r = cancel(p, job.id, SIGKILL, false, err);
                return r < 0 && r != -EAGAIN ? r : -EINPROGRESS;
        }
        /* running: SIGTERM to the batch step (ferry-shim stops the containers
         * with the pod's grace period), a full cancel once that has passed */
        int64_t sent = read_int_file(wd, "term-sent", 0);
        int64_t now_s = ferry_now_ns() / 1000000000;
        if (sent && shortened && old_grace >= 0) {
                /* a shorter grace period: the end is now + it, or the old end if sooner;
                 * the shim is told with another SIGTERM */
                int64_t g = grace_s < 0 ? 30 : grace_s;
                sent = sent + old_grace - g < now_s ? sent + old_grace - g : now_s;
                char t[32];
                snprintf(t, sizeof(t), "%" PRId64 "\n", sent);
                write_small(wd, "term-sent", t);
                r = cancel(p, job.id, SIGTERM, true, err);
        } else if (!sent) {
                char t[32];
                snprintf(t, sizeof(t), "%" PRId64 "\n", now_s);
                write_small(wd, "term-sent", t);
                r = cancel(p, job.id, SIGTERM, true, err);
        } else if (now_s > sent + (grace_s < 0 ? 30 : grace_s) + 5) {
                r = cancel(p, job.id, SIGKILL, false, err);
        }
        return r < 0 && r != -EAGAIN ? r : -EINPROGRESS;
}

static int slurm_be_cleanup(struct ferry_backend *be, const char *uid, const char *jid,
                            ferry_error_t *err)
{
        struct slurm_priv *p = be->priv;
        if (!runner_podwd_uid_ok(uid))
                return 0;
        _cleanup_free_ char *wd = workdir(p, uid);
        int r = ferry_rm_rf(wd);
        if (r < 0 && r != -ENOENT)
                return ferry_errprintf(err, r, "cannot remove %s: %s", wd, strerror(-r));
        return 0;
}

/* the shim on the node recorded the same files in the shared workdir */
static void slurm_be_usage(struct ferry_backend *be, const char *uid,
                           const struct ferry_pod_status *st, int64_t *ret_cpu_ns,
                           int64_t *ret_mem_peak)
{
        struct slurm_priv *p = be->priv;
        char wd[PATH_MAX];
        snprintf(wd, sizeof(wd), "%s/%s", p->pods, uid);
        runner_pod_usage(wd, st, ret_cpu_ns, ret_mem_peak);
}

static int slurm_be_log_path(struct ferry_backend *be, const char *uid, const char *jid,
                             const char *container, char *ret_path, size_t size, ferry_error_t *err)
{
        struct slurm_priv *p = be->priv;
        return runner_podwd_log_path(p->pods, uid, container, ret_path, size, err);
}

const struct ferry_backend_ops ferry_backend_slurm_ops = {
    .name = "slurm",
    .init = slurm_be_init,
    .fini = slurm_be_fini,
    .submit = slurm_be_submit,
    .find = slurm_be_find,
    .poll = slurm_be_poll,
    .kill = slurm_be_kill,
    .cleanup = slurm_be_cleanup,
    .capacity = slurm_capacity,
    .log_path = slurm_be_log_path,
    .usage = slurm_be_usage,
};
