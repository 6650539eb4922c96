/* SPDX-License-Identifier: MIT */
/*
 * ferry-shim WORKDIR: the per-pod supervisor of the local backend (like
 * conmon). Started detached by ferryd; survives it. Runs the spec's pre-exec
 * snippet when it has one (Slurm pods whose site allows it), then the init
 * containers one after another, then the containers together; writes their
 * logs and a state file per container; stops everything on SIGTERM (SIGKILL
 * after the grace period) or at activeDeadlineSeconds. See
 * doc/local-backend.md and src/runner/state.h for the files it reads
 * and writes.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner/cgroup.h"
#include "runner/state.h"
#include "common/spawn.h"
#include "common/util.h"
#include "logs/logfile.h"
#include "shim/probe.h"

#define DRAIN_NS (1000LL * 1000 * 1000) /* read pipes this long after the process ended */
/* The pre-exec step's name: its log is logs/pre_exec.log. Not a DNS label, so
 * no container of the pod can have it. */
#define PRE_EXEC_NAME "pre_exec"

struct stream {
        int fd;
        bool is_stderr;
        size_t len;
        char buf[FERRY_LOG_LINE_MAX];
};

struct ctr {
        char *name;
        bool init;
        char **argv, **envp, **stop_argv, **term_argv;
        char *cwd;
        bool term_skip_leader;
        bool pre_exec; /* the pre-exec step: logged like a container, no state file */
        bool drop;     /* switch to the pod's user before exec */
        struct runner_cglimits limits;
        int64_t ephemeral_limit; /* limits.ephemeral-storage, 0 = none */
        char **oom_argv;
        struct runner_cg cg; /* version 0: none */

        /* probes and hooks (src/shim/probe.c); index FERRY_PROBE_N is the
         * hook running now (postStart, then preStop) */
        struct ferry_probes pr;
        bool has_probes, enter_ns;
        char **enter_argv, **pid_argv;
        pid_t ns_pid;
        struct pstate {
                pid_t pid;           /* running probe or hook, 0 = none */
                int64_t next, until; /* monotonic ns: next run, kill when overrunning */
                bool timed_out;
                int64_t succ, fail;
        } ps[FERRY_PROBE_N + 1];
        bool post_start_done, startup_ok, pre_stop_done, hook_is_pre_stop;
        int64_t ckill_at; /* this container's own SIGKILL time (a probe killed it) */

        pid_t pid;
        bool started, reaped, recorded;
        int wstatus;
        struct rusage ru; /* of the reaped process and what it waited for */
        int64_t reaped_mono;
        struct ferry_logw log; /* fd -1 until started */
        struct stream out, err;
        struct runner_cstate st;
};

static const char *wd;
static char *pod_uid;
static char *cgroup_parent;         /* spec.json "cgroup"; NULL = none */
static struct runner_cgroot cgroot; /* version 0: containers get no cgroup */
/* spec.json volume_limits (emptyDir sizeLimit) and runtime */
static struct vlimit {
        char *name;
        int64_t limit;
} * vlimits;
static size_t n_vlimits;
static bool bwrap_runtime;
static bool rusage_whole; /* wait4's rusage of a container covers all its work */
/* spec.json log_max_size / log_max_files: the kubelet's containerLogMaxSize/Files */
static int64_t log_max_size = FERRY_LOG_MAX_SIZE_DEFAULT;
static int log_max_files = FERRY_LOG_MAX_FILES_DEFAULT;
static struct ctr *ctrs; /* the pre-exec step first when there is one, then init containers */
static size_t n_ctrs;
static size_t n_pre; /* 1 when ctrs[0] is the pre-exec step */
static int64_t grace_s = 30, deadline_s = -1;
static bool stopping;
static const char *stop_reason; /* NULL, or "DeadlineExceeded" */
static int64_t kill_at;         /* monotonic ns; 0 = none */
static bool killed;
/* spec.json "user": the pod's host user (runner/podsec.h). A shim started as
 * root runs every container (and the pre-exec step) as that user; a shim
 * started as that user already (a Slurm job with --uid) has nothing to drop. */
static bool have_user;
static uid_t user_uid;
static gid_t user_gid;
static gid_t user_groups[16];
static size_t n_user_groups;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "ferry-shim: ");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
        exit(1);
}

static bool wd_has(const char *name)
{
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", wd, name);
        return access(p, F_OK) == 0;
}

static void wd_write(const char *name, const char *text, bool durable)
{
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", wd, name);
        int r = ferry_write_file_atomic(p, text, strlen(text), 0644, durable);
        if (r < 0)
                fprintf(stderr, "ferry-shim: cannot write %s: %s\n", p, strerror(-r));
}

/* ---- spec ---- */

static char **strv_from_json(json_t *a)
{
        size_t n = json_is_array(a) ? json_array_size(a) : 0;
        char **v = ferry_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
                const char *s = json_string_value(json_array_get(a, i));
                v[i] = ferry_xstrdup(s ? s : "");
        }
        return n ? v : (free(v), (char **)NULL);
}

/* Inside a Slurm job the allocation's devices are named in our environment
 * (Slurm sets CUDA_VISIBLE_DEVICES for --gres=gpu); containers see them unless
 * the pod sets the variable itself. Started by the local backend, the shim's
 * environment is PATH only, so nothing passes. */
static void add_passthrough(char ***envp)
{
        static const char *const names[] = {"CUDA_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL",
                                            "ROCR_VISIBLE_DEVICES", "SLURM_JOB_ID",
                                            "SLURM_JOB_GPUS"};
        size_t n = 0;
        while ((*envp)[n])
                n++;
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(names); i++) {
                const char *v = getenv(names[i]);
                size_t l = strlen(names[i]);
                bool set = false;
                if (!v)
                        continue;
                for (size_t k = 0; k < n && !set; k++)
                        set = !strncmp((*envp)[k], names[i], l) && (*envp)[k][l] == '=';
                if (set)
                        continue;
                *envp = ferry_xrealloc(*envp, (n + 2) * sizeof(char *));
                (*envp)[n++] = ferry_xasprintf("%s=%s", names[i], v);
                (*envp)[n] = NULL;
        }
}

static void load_spec(void)
{
        char p[PATH_MAX];
        json_error_t jerr;

        snprintf(p, sizeof(p), "%s/spec.json", wd);
        json_t *root = json_load_file(p, 0, &jerr);
        if (!root)
                die("cannot read %s: %s (line %d)", p, jerr.text, jerr.line);
        grace_s = json_integer_value(json_object_get(root, "grace_s"));
        deadline_s = json_is_integer(json_object_get(root, "deadline_s"))
                         ? json_integer_value(json_object_get(root, "deadline_s"))
                         : -1;
        const char *uid = json_string_value(json_object_get(root, "uid"));
        /* the pod's cgroup directory: uid and our pid, so that a pod of the
         * same uid under another ferryd (tests) never shares it */
        pod_uid = ferry_xasprintf("%s.%d", uid ? uid : "pod", (int)getpid());
        json_t *lms = json_object_get(root, "log_max_size"),
               *lmf = json_object_get(root, "log_max_files");
        if (json_is_integer(lms))
                log_max_size = json_integer_value(lms);
        if (json_is_integer(lmf))
                log_max_files = (int)json_integer_value(lmf);
        const char *rt = json_string_value(json_object_get(root, "runtime"));
        bwrap_runtime = rt && !strcmp(rt, "bwrap");
        /* bwrap's sandbox init and podman's conmon reap the container's
         * processes: their client's rusage is not the container's */
        rusage_whole = !bwrap_runtime && !(rt && !strcmp(rt, "podman"));
        json_t *vl = json_object_get(root, "volume_limits");
        n_vlimits = json_array_size(vl);
        vlimits = ferry_xcalloc(n_vlimits + 1, sizeof(*vlimits));
        for (size_t i = 0; i < n_vlimits; i++) {
                const char *vn = json_string_value(json_array_get(json_array_get(vl, i), 0));
                if (!vn || !ferry_is_dns_label(vn))
                        die("spec: volume_limits[%zu] has no valid volume name", i);
                vlimits[i].name = ferry_xstrdup(vn);
                vlimits[i].limit = json_integer_value(json_array_get(json_array_get(vl, i), 1));
        }
        const char *cg = json_string_value(json_object_get(root, "cgroup"));
        cgroup_parent = cg ? ferry_xstrdup(cg) : NULL;
        json_t *user = json_object_get(root, "user");
        if (json_is_object(user)) {
                json_t *u = json_object_get(user, "uid"), *g = json_object_get(user, "gid");
                json_t *gs = json_object_get(user, "groups");
                if (!json_is_integer(u) || !json_is_integer(g) || json_integer_value(u) < 0 ||
                    json_integer_value(g) < 0 || json_array_size(gs) > 16)
                        die("spec: user must have uid and gid (and at most 16 groups)");
                have_user = true;
                user_uid = (uid_t)json_integer_value(u);
                user_gid = (gid_t)json_integer_value(g);
                for (size_t i = 0; i < json_array_size(gs); i++)
                        user_groups[n_user_groups++] =
                            (gid_t)json_integer_value(json_array_get(gs, i));
        }
        json_t *pre = json_object_get(root, "pre_exec");
        if (pre && !json_is_null(pre) && (!json_is_string(pre) || !*json_string_value(pre)))
                die("spec: pre_exec must be a non-empty string");
        n_pre = json_is_string(pre) ? 1 : 0;
        json_t *cs = json_object_get(root, "containers");
        n_ctrs = n_pre + json_array_size(cs);
        ctrs = ferry_xcalloc(n_ctrs + 1, sizeof(*ctrs));
        if (n_pre) {
                /* argv items, no quoting layer: the snippet is sh's one script
                 * argument. The environment is the shim's own (inside a Slurm
                 * job: the job's), not a container's. */
                struct ctr *x = &ctrs[0];
                x->name = ferry_xstrdup(PRE_EXEC_NAME);
                x->pre_exec = x->init = true;
                x->argv = ferry_xcalloc(4, sizeof(char *));
                x->argv[0] = ferry_xstrdup("/bin/sh");
                x->argv[1] = ferry_xstrdup("-c");
                x->argv[2] = ferry_xstrdup(json_string_value(pre));
                x->envp = environ;
                /* cwd/, where containers without workingDir start on the host
                 * runtime: the pod's user owns it (the workdir itself is root's) */
                x->cwd = ferry_xasprintf("%s/cwd", wd);
                x->drop = true;
                x->log.fd = x->out.fd = x->err.fd = -1;
                x->err.is_stderr = true;
        }
        for (size_t i = n_pre; i < n_ctrs; i++) {
                json_t *c = json_array_get(cs, i - n_pre);
                struct ctr *x = &ctrs[i];
                const char *name = json_string_value(json_object_get(c, "name"));
                if (!name || !ferry_is_dns_label(name))
                        die("spec: container %zu has no valid name", i - n_pre);
                x->name = ferry_xstrdup(name);
                x->init = json_is_true(json_object_get(c, "init"));
                x->term_skip_leader = json_is_true(json_object_get(c, "term_skip_leader"));
                x->drop = json_is_true(json_object_get(c, "drop"));
                x->argv = strv_from_json(json_object_get(c, "argv"));
                x->envp = strv_from_json(json_object_get(c, "envp"));
                if (!x->envp)
                        x->envp = ferry_xcalloc(1, sizeof(char *));
                add_passthrough(&x->envp);
                x->stop_argv = strv_from_json(json_object_get(c, "stop_argv"));
                x->term_argv = strv_from_json(json_object_get(c, "term_argv"));
                x->oom_argv = strv_from_json(json_object_get(c, "oom_argv"));
                json_t *pj = json_object_get(c, "probes");
                if (json_is_object(pj)) {
                        ferry_error_t perr = {0};
                        if (ferry_probes_from_json(pj, &x->pr, &perr) < 0)
                                die("spec: container %s: %s", x->name, perr.text);
                        x->has_probes = true;
                        x->enter_ns = json_is_true(json_object_get(c, "enter_ns"));
                        x->enter_argv = strv_from_json(json_object_get(c, "enter_argv"));
                        x->pid_argv = strv_from_json(json_object_get(c, "pid_argv"));
                }
                x->limits.memory_bytes = json_integer_value(json_object_get(c, "memory_limit"));
                x->limits.cpu_milli = json_integer_value(json_object_get(c, "cpu_limit_milli"));
                x->ephemeral_limit = json_integer_value(json_object_get(c, "ephemeral_limit"));
                const char *cwd = json_string_value(json_object_get(c, "cwd"));
                x->cwd = cwd ? ferry_xstrdup(cwd) : NULL;
                x->log.fd = x->out.fd = x->err.fd = -1;
                x->err.is_stderr = true;
                if (!x->argv)
                        die("spec: container %s has no argv", x->name);
        }
        json_decref(root);
}

/* ---- logs ---- */

static void stream_flush(struct ctr *c, struct stream *s, bool partial, int64_t ns)
{
        ferry_logw_write(&c->log, ns, s->is_stderr, s->buf, s->len, partial);
        s->len = 0;
}

static void stream_feed(struct ctr *c, struct stream *s, const char *data, size_t n, int64_t ns)
{
        while (n > 0) {
                const char *nl = memchr(data, '\n', n);
                size_t take = nl ? (size_t)(nl - data) : n;
                size_t room = sizeof(s->buf) - s->len;
                if (take > room) {
                        memcpy(s->buf + s->len, data, room);
                        s->len += room;
                        stream_flush(c, s, true, ns);
                        data += room;
                        n -= room;
                        continue;
                }
                memcpy(s->buf + s->len, data, take);
                s->len += take;
                data += take;
                n -= take;
                if (nl) {
                        stream_flush(c, s, false, ns);
                        data++;
                        n--;
                }
        }
}

static void stream_read(struct ctr *c, struct stream *s)
{
        char chunk[65536];
        ssize_t n = read(s->fd, chunk, sizeof(chunk));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0) {
                if (s->len)
                        stream_flush(c, s, true, ferry_now_ns());
                close(s->fd);
                s->fd = -1;
                return;
        }
        stream_feed(c, s, chunk, (size_t)n, ferry_now_ns());
}

/* ---- processes ---- */

static char *resolve(const struct ctr *c)
{
        const char *a0 = c->argv[0];
        const char *path = NULL;

        if (strchr(a0, '/'))
                return ferry_xstrdup(a0);
        for (char **e = c->envp; *e; e++)
                if (strncmp(*e, "PATH=", 5) == 0)
                        path = *e + 5;
        if (!path)
                path = "/usr/local/bin:/usr/bin:/bin";
        for (const char *s = path; *s;) {
                const char *e = strchr(s, ':');
                size_t l = e ? (size_t)(e - s) : strlen(s);
                char *cand = ferry_xasprintf("%.*s/%s", (int)l, l ? s : ".", a0);
                struct stat st;
                if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
                        return cand;
                free(cand);
                s += l;
                if (*s == ':')
                        s++;
        }
        return NULL;
}

static void record(struct ctr *c)
{
        if (!c->pre_exec) /* a pod status has no place for it: it fails the pod instead */
                runner_cstate_write(wd, c->name, &c->st);
}

static void start_error(struct ctr *c, const char *msg)
{
        c->st.state = RUNNER_CS_TERMINATED;
        c->st.started_ns = c->st.finished_ns = ferry_now_ns();
        c->st.exit_code = 128;
        snprintf(c->st.reason, sizeof(c->st.reason), "StartError");
        snprintf(c->st.message, sizeof(c->st.message), "%s", msg);
        ferry_logw_write(&c->log, c->st.finished_ns, true, msg, strlen(msg), false);
        c->started = c->reaped = c->recorded = true;
        ferry_logw_close(&c->log);
        record(c);
}

/* In the child, before exec: become the pod's user for good (groups first,
 * then gid, then uid; all three ids, so nothing can switch back). A shim that
 * is not root is that user already, or cannot change it: nothing to do. */
static int drop_to_user(void)
{
        if (!have_user || geteuid() != 0 || user_uid == 0)
                return 0;
        if (setgroups(n_user_groups, user_groups) < 0 ||
            setresgid(user_gid, user_gid, user_gid) < 0 ||
            setresuid(user_uid, user_uid, user_uid) < 0)
                return -1;
        if (setuid(0) == 0) { /* must fail now */
                errno = EPERM;
                return -1;
        }
        return 0;
}

/* The runtime's own removal (podman rm -f): its outcome does not matter, a
 * container that is not there is what we want. */
static void run_stop_argv(struct ctr *c)
{
        struct ferry_spawn_result res;
        if (c->stop_argv && ferry_spawn_run((const char *const *)c->stop_argv, NULL, NULL, 0, 30000,
                                            4096, &res, NULL) == 0)
                ferry_spawn_result_free(&res);
}

static void start(struct ctr *c)
{
        char logp[PATH_MAX];
        int po[2], pe[2], px[2];

        snprintf(logp, sizeof(logp), "%s/logs/%s.log", wd, c->name);
        int lr = ferry_logw_open(&c->log, logp, log_max_size, log_max_files);
        if (lr < 0)
                fprintf(stderr, "ferry-shim: cannot open %s: %s\n", logp, strerror(-lr));
        char *exe = resolve(c);
        if (!exe) {
                char msg[256];
                snprintf(msg, sizeof(msg), "exec: \"%s\": executable file not found in $PATH",
                         c->argv[0]);
                start_error(c, msg);
                return;
        }
        if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 || pipe2(px, O_CLOEXEC) < 0) {
                free(exe);
                start_error(c, "cannot create pipes");
                return;
        }
        /* a container of this name left by an earlier attempt of this pod
         * (a crash, a restart) would make the runtime refuse the name */
        run_stop_argv(c);
        if (cgroot.version && !c->pre_exec) {
                char why[256];
                if (runner_cg_create(&cgroot, pod_uid, c->name, &c->limits, &c->cg, why,
                                     sizeof(why)) < 0) {
                        free(exe);
                        close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
                        close(px[0]), close(px[1]);
                        start_error(c, why);
                        return;
                }
        }
        pid_t pid = fork();
        if (pid < 0) {
                free(exe);
                start_error(c, "fork failed");
                return;
        }
        if (pid == 0) {
                setpgid(0, 0);
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                int null = open("/dev/null", O_RDONLY);
                dup2(null, 0);
                dup2(po[1], 1);
                dup2(pe[1], 2);
                int xfd = fcntl(px[1], F_DUPFD_CLOEXEC, 3);
                sigset_t none;
                sigemptyset(&none);
                for (int s = 1; s < NSIG; s++)
                        if (s != SIGKILL && s != SIGSTOP)
                                signal(s, SIG_DFL);
                sigprocmask(SIG_SETMASK, &none, NULL);
                int e = 0, what = 0;
                if (c->cg.version && (e = -runner_cg_enter(&c->cg)) != 0)
                        what = 3;
                if (!e && c->drop && drop_to_user() < 0) {
                        e = errno;
                        what = 2;
                }
                if (!e && c->cwd && chdir(c->cwd) < 0) {
                        e = errno;
                        what = access(c->cwd, F_OK) < 0 ? 1 : 0;
                }
                if (!e) {
                        execve(exe, c->argv, c->envp);
                        e = errno;
                }
                int msg[2] = {what, e};
                if (write(xfd, msg, sizeof(msg)) < 0)
                        _exit(127);
                _exit(127);
        }
        setpgid(pid, pid);
        close(po[1]);
        close(pe[1]);
        close(px[1]);
        free(exe);
        int msg[2];
        ssize_t n;
        while ((n = read(px[0], msg, sizeof(msg))) < 0 && errno == EINTR)
                ;
        close(px[0]);
        c->pid = pid;
        c->started = true;
        c->st.started_ns = ferry_now_ns();
        c->out.fd = po[0];
        c->err.fd = pe[0];
        fcntl(po[0], F_SETFL, O_NONBLOCK);
        fcntl(pe[0], F_SETFL, O_NONBLOCK);
        if (n == (ssize_t)sizeof(msg)) {
                /* the exec failed: report it like the kubelet (StartError, 128) */
                char text[256];
                if (msg[0] == 3)
                        snprintf(text, sizeof(text), "cannot enter the container's cgroup: %s",
                                 strerror(msg[1]));
                else if (msg[0] == 2)
                        snprintf(text, sizeof(text), "cannot run as uid %u gid %u: %s",
                                 (unsigned)user_uid, (unsigned)user_gid, strerror(msg[1]));
                else
                        snprintf(text, sizeof(text), "%s \"%s\": %s", msg[0] ? "chdir" : "exec",
                                 msg[0] ? c->cwd : c->argv[0], strerror(msg[1]));
                ferry_logw_write(&c->log, ferry_now_ns(), true, text, strlen(text), false);
                snprintf(c->st.reason, sizeof(c->st.reason), "StartError");
                snprintf(c->st.message, sizeof(c->st.message), "%s", text);
                return; /* reaped by the loop; exit code replaced by 128 */
        }
        c->st.state = RUNNER_CS_RUNNING;
        c->st.pid = pid;
        runner_proc_starttime(pid, &c->st.pid_start);
        if (c->has_probes) {
                int64_t now = ferry_monotonic_ns();
                for (int k = 0; k < FERRY_PROBE_N; k++)
                        c->ps[k].next = now + c->pr.p[k].initial_delay_s * 1000000000LL;
                /* ready once the readiness probe (and the startup probe) passed */
                c->st.not_ready = c->pr.p[FERRY_PROBE_READINESS].h.kind != FERRY_H_NONE ||
                                  c->pr.p[FERRY_PROBE_STARTUP].h.kind != FERRY_H_NONE;
                c->startup_ok = c->pr.p[FERRY_PROBE_STARTUP].h.kind == FERRY_H_NONE;
                c->post_start_done = c->pr.post_start.kind == FERRY_H_NONE;
        }
        record(c);
}

/* SIGTERM to the container's process group; with term_skip_leader, to every
 * member but the leader (bwrap), found in /proc. */
static void signal_group(struct ctr *c, int sig)
{
        if (!c->started || c->reaped || c->pid <= 0)
                return;
        if (sig == SIGTERM && c->term_argv) {
                struct ferry_spawn_result res;
                if (ferry_spawn_run((const char *const *)c->term_argv, NULL, NULL, 0, 30000, 4096,
                                    &res, NULL) == 0) {
                        int code = res.exit_code;
                        ferry_spawn_result_free(&res);
                        if (code == 0)
                                return;
                }
        }
        if (sig == SIGKILL || !c->term_skip_leader) {
                kill(-c->pid, sig);
                return;
        }
        DIR *d = opendir("/proc");
        struct dirent *de;
        while (d && (de = readdir(d))) {
                pid_t p = (pid_t)strtol(de->d_name, NULL, 10); /* non-numeric names give 0 */
                if (p <= 0 || p == c->pid)
                        continue;
                if (getpgid(p) == c->pid)
                        kill(p, sig);
        }
        if (d)
                closedir(d);
}

/* ---- probes and lifecycle hooks (doc/local-backend.md "Probes and hooks") ---- */

static const char *const probe_titles[FERRY_PROBE_N] = {"Startup", "Liveness", "Readiness"};

static void probe_out(const struct ctr *c, int k, char *buf, size_t size)
{
        snprintf(buf, size, "%s/probes/%s.%d", wd, c->name, k);
}

/* The namespaces to enter: bwrap's sandbox init, or podman's container. */
static bool probe_ns_ready(struct ctr *c)
{
        if (c->ns_pid > 0 || (!c->enter_ns && !c->pid_argv))
                return true;
        if (c->enter_ns) {
                c->ns_pid = probe_find_ns_pid(c->pid);
        } else {
                struct ferry_spawn_result res;
                if (ferry_spawn_run((const char *const *)c->pid_argv, NULL, NULL, 0, 30000, 4096,
                                    &res, NULL) == 0) {
                        if (res.exit_code == 0 && res.out)
                                c->ns_pid = (pid_t)strtol(res.out, NULL, 10);
                        ferry_spawn_result_free(&res);
                }
        }
        return c->ns_pid > 0;
}

static pid_t probe_run(struct ctr *c, int k, const struct ferry_handler *h, int64_t timeout_s)
{
        char out[PATH_MAX];
        struct probe_target t = {
            .ns_pid = c->ns_pid,
            .enter_argv = c->enter_argv,
            .envp = c->envp,
            .cwd = c->cwd,
            .drop = c->drop ? drop_to_user : NULL,
            .cg = c->cg.version ? &c->cg : NULL,
        };
        probe_out(c, k, out, sizeof(out));
        pid_t pid = probe_spawn(h, &t, timeout_s, out);
        if (pid < 0)
                fprintf(stderr, "ferry-shim: %s: cannot run a probe: %s\n", c->name,
                        strerror((int)-pid));
        return pid;
}

/* Start the preStop (or postStart) hook; false when there is none to run. */
static bool hook_start(struct ctr *c, bool pre_stop)
{
        const struct ferry_handler *h = pre_stop ? &c->pr.pre_stop : &c->pr.post_start;
        struct pstate *s = &c->ps[FERRY_PROBE_N];
        if (!c->has_probes || h->kind == FERRY_H_NONE || !c->started || c->reaped ||
            (pre_stop && c->pre_stop_done) || !probe_ns_ready(c))
                return false;
        if (s->pid > 0) /* a postStart hook still running: the preStop one goes first */
                kill(-s->pid, SIGKILL);
        if (pre_stop)
                c->pre_stop_done = true;
        c->hook_is_pre_stop = pre_stop;
        s->pid = probe_run(c, FERRY_PROBE_N, h, grace_s > 0 ? grace_s : 1);
        s->until = 0; /* a hook runs until the kill at the end of the grace period */
        return s->pid > 0;
}

/* A probe or hook ended the container: the reason stays on its record;
 * preStop, TERM, KILL after the grace period, as for a deletion. */
static void ctr_fail(struct ctr *c, const char *reason, const char *msg)
{
        if (c->ckill_at || c->reaped || stopping)
                return;
        snprintf(c->st.reason, sizeof(c->st.reason), "%s", reason);
        snprintf(c->st.message, sizeof(c->st.message), "%s", msg);
        if (!hook_start(c, true))
                signal_group(c, SIGTERM);
        c->ckill_at = ferry_monotonic_ns() + (grace_s > 0 ? grace_s : 0) * 1000000000LL + 1;
}

/* Run what is due for c; lower *wake to when the next thing is. */
static void probes_tick(struct ctr *c, int64_t now, int64_t *wake)
{
#define WAKE(at)                                                                                   \
        do {                                                                                       \
                int64_t w_ = (at)-now;                                                             \
                if (w_ < 0)                                                                        \
                        w_ = 0;                                                                    \
                if (*wake < 0 || w_ < *wake)                                                       \
                        *wake = w_;                                                                \
        } while (0)
        if (!c->has_probes || !c->started || c->reaped || c->recorded)
                return;
        if (c->ckill_at) {
                if (now >= c->ckill_at && c->ckill_at != INT64_MAX) {
                        signal_group(c, SIGKILL);
                        c->ckill_at = INT64_MAX;
                } else if (c->ckill_at != INT64_MAX) {
                        WAKE(c->ckill_at);
                }
                return;
        }
        if (stopping)
                return;
        for (int k = 0; k < FERRY_PROBE_N; k++) {
                struct pstate *s = &c->ps[k];
                if (s->pid > 0 && s->until && now >= s->until) {
                        kill(-s->pid, SIGKILL);
                        s->timed_out = true;
                        s->until = 0;
                } else if (s->pid > 0 && s->until) {
                        WAKE(s->until);
                }
        }
        if (!probe_ns_ready(c)) {
                WAKE(now + 20000000); /* the sandbox is being made */
                return;
        }
        if (!c->post_start_done) {
                if (!c->ps[FERRY_PROBE_N].pid && !c->ps[FERRY_PROBE_N].next) {
                        c->ps[FERRY_PROBE_N].next = now;
                        hook_start(c, false);
                }
                return; /* probes wait for postStart, as on a kubelet */
        }
        for (int k = 0; k < FERRY_PROBE_N; k++) {
                const struct ferry_probe *p = &c->pr.p[k];
                struct pstate *s = &c->ps[k];
                if (p->h.kind == FERRY_H_NONE || s->pid > 0 ||
                    (k != FERRY_PROBE_STARTUP && !c->startup_ok) ||
                    (k == FERRY_PROBE_STARTUP && c->startup_ok))
                        continue;
                if (now < s->next) {
                        WAKE(s->next);
                        continue;
                }
                s->pid = probe_run(c, k, &p->h, p->timeout_s);
                s->until = now + p->timeout_s * 1000000000LL + 500000000LL;
                s->next = now + p->period_s * 1000000000LL;
                if (s->pid > 0)
                        WAKE(s->until);
                else
                        WAKE(s->next);
        }
#undef WAKE
}

/* pid was a probe or hook: act on its result. false when it was none. */
static bool probe_reaped(pid_t pid, int status)
{
        for (size_t i = 0; i < n_ctrs; i++) {
                struct ctr *c = &ctrs[i];
                for (int k = 0; c->has_probes && k <= FERRY_PROBE_N; k++) {
                        struct pstate *s = &c->ps[k];
                        if (s->pid != pid)
                                continue;
                        char out[PATH_MAX], msg[200], text[256];
                        const struct ferry_handler *h = k < FERRY_PROBE_N     ? &c->pr.p[k].h
                                                        : c->hook_is_pre_stop ? &c->pr.pre_stop
                                                                              : &c->pr.post_start;
                        probe_out(c, k, out, sizeof(out));
                        bool ok = probe_result(h, status, s->timed_out, out, msg, sizeof(msg));
                        s->pid = 0;
                        s->timed_out = false;
                        if (c->reaped)
                                return true;
                        if (k == FERRY_PROBE_N) {
                                if (c->hook_is_pre_stop) {
                                        signal_group(c, SIGTERM); /* the hook is done */
                                } else {
                                        c->post_start_done = true;
                                        if (!ok) {
                                                snprintf(text, sizeof(text),
                                                         "PostStart hook failed: %s", msg);
                                                ctr_fail(c, "PostStartHookError", text);
                                        }
                                }
                                return true;
                        }
                        if (c->ckill_at || stopping)
                                return true;
                        const struct ferry_probe *p = &c->pr.p[k];
                        size_t tl = strlen(probe_titles[k]);
                        if (ok) {
                                s->succ++;
                                s->fail = 0;
                                if (!strncmp(c->st.probe, probe_titles[k], tl))
                                        c->st.probe[0] = '\0';
                        } else {
                                s->fail++;
                                s->succ = 0;
                                snprintf(c->st.probe, sizeof(c->st.probe), "%s probe failed: %s",
                                         probe_titles[k], msg);
                        }
                        if (k == FERRY_PROBE_STARTUP && ok) {
                                c->startup_ok = true;
                                if (c->pr.p[FERRY_PROBE_READINESS].h.kind == FERRY_H_NONE)
                                        c->st.not_ready = false;
                        } else if (k == FERRY_PROBE_READINESS) {
                                if (ok && s->succ >= p->success_threshold)
                                        c->st.not_ready = false;
                                else if (!ok && s->fail >= p->failure_threshold)
                                        c->st.not_ready = true;
                        } else if (!ok && s->fail >= p->failure_threshold) {
                                snprintf(text, sizeof(text), "%s", c->st.probe);
                                ctr_fail(c,
                                         k == FERRY_PROBE_STARTUP ? "StartupProbeFailed"
                                                                  : "LivenessProbeFailed",
                                         text);
                        }
                        record(c);
                        return true;
                }
        }
        return false;
}

static void begin_stop_msg(const char *reason, const char *why);

/* ---- local storage: emptyDir sizeLimit, ephemeral-storage (the kubelet's eviction) ---- */

#define STORAGE_CHECK_NS (1000LL * 1000 * 1000)
static int64_t du_total;

static int du_add(const char *path, const struct stat *st, int flag, struct FTW *f)
{
        if (flag == FTW_F || flag == FTW_D || flag == FTW_SL)
                du_total += (int64_t)st->st_blocks * 512;
        return 0;
}

/* Bytes used below dir, not crossing mounts (du -sx). */
static int64_t du(const char *dir)
{
        du_total = 0;
        nftw(dir, du_add, 16, FTW_PHYS | FTW_MOUNT);
        return du_total;
}

static int64_t fs_used(const char *path)
{
        struct statfs sf;
        if (statfs(path, &sf) < 0)
                return 0;
        return (int64_t)(sf.f_blocks - sf.f_bfree) * (int64_t)sf.f_bsize;
}

/* "1Mi" for 1048576: the kubelet quotes the limit as the pod gave it */
static void quantity(int64_t b, char *buf, size_t size)
{
        static const char *const u[] = {"", "Ki", "Mi", "Gi", "Ti"};
        int k = 0;
        while (k < 4 && b && b % 1024 == 0)
                b /= 1024, k++;
        snprintf(buf, size, "%lld%s", (long long)b, u[k]);
}

/* A container's ephemeral storage: its logs, and the writable root and /tmp
 * of its sandbox (bwrap's tmpfs, seen through /proc/<pid>/root). */
static int64_t ctr_storage(struct ctr *c)
{
        char p[PATH_MAX];
        int64_t n = 0;
        for (int k = 0; k < 100; k++) {
                struct stat st;
                if (k)
                        snprintf(p, sizeof(p), "%s/logs/%s.log.%d", wd, c->name, k);
                else
                        snprintf(p, sizeof(p), "%s/logs/%s.log", wd, c->name);
                if (stat(p, &st) < 0)
                        break;
                n += (int64_t)st.st_blocks * 512;
        }
        if (bwrap_runtime && c->started && !c->reaped) {
                if (c->ns_pid <= 0)
                        c->ns_pid = probe_find_ns_pid(c->pid);
                if (c->ns_pid > 0) {
                        snprintf(p, sizeof(p), "/proc/%d/root/", (int)c->ns_pid);
                        n += fs_used(p);
                        snprintf(p, sizeof(p), "/proc/%d/root/tmp", (int)c->ns_pid);
                        n += fs_used(p);
                }
        }
        return n;
}

/* Evict the pod (reason Evicted) when a limit is passed; the kubelet's words. */
static void storage_check(size_t from, size_t to)
{
        char why[320], q[32], p[PATH_MAX];
        if (stopping)
                return;
        for (size_t i = 0; i < n_vlimits; i++) {
                snprintf(p, sizeof(p), "%s/volumes/%s", wd, vlimits[i].name);
                if (du(p) > vlimits[i].limit) {
                        quantity(vlimits[i].limit, q, sizeof(q));
                        snprintf(why, sizeof(why),
                                 "Usage of EmptyDir volume \"%s\" exceeds the limit \"%s\".",
                                 vlimits[i].name, q);
                        begin_stop_msg("Evicted", why);
                        return;
                }
        }
        for (size_t i = from; i < to; i++) {
                struct ctr *c = &ctrs[i];
                if (c->ephemeral_limit <= 0 || !c->started || c->reaped)
                        continue;
                if (ctr_storage(c) > c->ephemeral_limit) {
                        quantity(c->ephemeral_limit, q, sizeof(q));
                        snprintf(why, sizeof(why),
                                 "Container %s exceeded its local ephemeral storage limit \"%s\".",
                                 c->name, q);
                        begin_stop_msg("Evicted", why);
                        return;
                }
        }
}

/* The grace period of a deletion: <wd>/deleted (written by the backend before
 * its SIGTERM), else the pod's. */
static int64_t deletion_grace(void)
{
        int64_t g = grace_s;
        char p[PATH_MAX], *text = NULL;
        size_t len;
        snprintf(p, sizeof(p), "%s/deleted", wd);
        if (ferry_read_file(p, 64, &text, &len) == 0) {
                char *end;
                long long v = strtoll(text, &end, 10);
                if (end != text) /* empty: written on a full disk, the pod's own */
                        g = v;
                free(text);
        }
        return g < 0 ? 0 : g;
}

/* SIGTERM (reason NULL: a deletion) or a deadline: TERM to every container,
 * KILL after the grace period. Another SIGTERM while stopping brings the KILL
 * forward when the deletion's grace period was shortened (kubectl delete
 * --grace-period=N a second time): now + N, or the old time if sooner. */
static void begin_stop(const char *reason)
{
        begin_stop_msg(reason, reason ? "Pod was active on the node longer than the specified "
                                        "deadline"
                                      : NULL);
}

static void begin_stop_msg(const char *reason, const char *why)
{
        if (stopping) {
                int64_t at = ferry_monotonic_ns() + deletion_grace() * 1000000000LL;
                if (!reason && !stop_reason && !killed && at < kill_at)
                        kill_at = at;
                return;
        }
        stopping = true;
        stop_reason = reason;
        int64_t g = reason ? (grace_s < 0 ? 0 : grace_s) : deletion_grace();
        for (size_t i = 0; i < n_ctrs; i++)
                if (!hook_start(&ctrs[i], true)) /* preStop first, TERM when it is done */
                        signal_group(&ctrs[i], SIGTERM);
        kill_at = ferry_monotonic_ns() + g * 1000000000LL;
        if (reason) {
                char msg[256];
                snprintf(msg, sizeof(msg), "%s\n%s\n", reason, why);
                wd_write("pod.state", msg, false);
        }
}

static void kill_all(void)
{
        killed = true;
        for (size_t i = 0; i < n_ctrs; i++) {
                struct ctr *c = &ctrs[i];
                if (!c->started || c->reaped)
                        continue;
                signal_group(c, SIGKILL);
                run_stop_argv(c);
        }
}

static void reap(void)
{
        int status;
        pid_t p;
        struct rusage ru;
        while ((p = wait4(-1, &status, WNOHANG, &ru)) > 0) {
                if (probe_reaped(p, status))
                        continue;
                for (size_t i = 0; i < n_ctrs; i++) {
                        struct ctr *c = &ctrs[i];
                        if (c->pid != p || c->reaped)
                                continue;
                        c->reaped = true;
                        c->wstatus = status;
                        c->ru = ru;
                        c->st.finished_ns = ferry_now_ns();
                        c->reaped_mono = ferry_monotonic_ns();
                        /* what the container left behind dies with it */
                        kill(-c->pid, SIGKILL);
                        if (c->cg.version)
                                runner_cg_kill(&c->cg);
                }
        }
}

/* Did the runtime see the container OOM-killed? (podman: its own cgroup) */
static bool runtime_says_oom(struct ctr *c)
{
        struct ferry_spawn_result res;
        bool oom = false;
        if (c->oom_argv && ferry_spawn_run((const char *const *)c->oom_argv, NULL, NULL, 0, 30000,
                                           4096, &res, NULL) == 0) {
                oom = res.exit_code == 0 && res.out && !strncmp(res.out, "true", 4);
                ferry_spawn_result_free(&res);
        }
        return oom;
}

static void finish(struct ctr *c)
{
        bool oom = false;
        for (int k = 0; c->has_probes && k <= FERRY_PROBE_N; k++)
                if (c->ps[k].pid > 0) { /* its container is gone: so is what it probed */
                        kill(-c->ps[k].pid, SIGKILL);
                        c->ps[k].pid = 0;
                }
        c->st.not_ready = false;
        c->st.probe[0] = '\0';
        if (c->cg.version) {
                struct runner_cgstats cs;
                runner_cg_kill(&c->cg);
                runner_cg_stats(&c->cg, &cs);
                c->st.cpu_ns = cs.cpu_ns > 0 ? cs.cpu_ns : 0;
                c->st.mem_peak = cs.mem_peak > 0 ? cs.mem_peak : 0;
                oom = cs.oom_kills > 0;
                runner_cg_remove(&c->cg);
        }
        /* without a cgroup (or where it had no figures): what the process and
         * the children it waited for used, as wait4 tells it (the usage
         * ledger's fallback; not where the runtime reaps them: rusage_whole) */
        if (c->reaped && rusage_whole && c->st.cpu_ns <= 0)
                c->st.cpu_ns = (int64_t)c->ru.ru_utime.tv_sec * 1000000000 +
                               (int64_t)c->ru.ru_utime.tv_usec * 1000 +
                               (int64_t)c->ru.ru_stime.tv_sec * 1000000000 +
                               (int64_t)c->ru.ru_stime.tv_usec * 1000;
        if (c->reaped && rusage_whole && c->st.mem_peak <= 0)
                c->st.mem_peak = (int64_t)c->ru.ru_maxrss * 1024;
        bool sigkill = WIFSIGNALED(c->wstatus) ? WTERMSIG(c->wstatus) == SIGKILL
                                               : WEXITSTATUS(c->wstatus) == 137;
        if (c->reaped && sigkill && !oom)
                oom = runtime_says_oom(c);
        /* the runtime's client may die before the container it started */
        if (c->started)
                run_stop_argv(c);
        if (c->out.fd >= 0)
                close(c->out.fd);
        if (c->err.fd >= 0)
                close(c->err.fd);
        c->out.fd = c->err.fd = -1;
        int s = c->wstatus;
        c->st.state = RUNNER_CS_TERMINATED;
        if (strcmp(c->st.reason, "StartError") == 0) {
                c->st.exit_code = 128;
        } else if (WIFEXITED(s)) {
                c->st.exit_code = WEXITSTATUS(s);
        } else if (WIFSIGNALED(s)) {
                c->st.signal = WTERMSIG(s);
                c->st.exit_code = 128 + WTERMSIG(s);
        }
        if (oom && c->st.exit_code != 0 && !c->st.reason[0]) {
                /* the kubelet's words for a container its memory limit killed */
                snprintf(c->st.reason, sizeof(c->st.reason), "OOMKilled");
                if (c->limits.memory_bytes > 0)
                        snprintf(c->st.message, sizeof(c->st.message),
                                 "the container reached its memory limit (%lld bytes) and was "
                                 "killed",
                                 (long long)c->limits.memory_bytes);
        }
        if (!c->st.reason[0]) {
                if (stop_reason)
                        snprintf(c->st.reason, sizeof(c->st.reason), "%s", stop_reason);
                else
                        snprintf(c->st.reason, sizeof(c->st.reason), "%s",
                                 c->st.exit_code == 0 ? "Completed" : "Error");
        }
        if (killed && c->st.exit_code == 137 && !c->st.message[0])
                snprintf(c->st.message, sizeof(c->st.message),
                         "killed with SIGKILL after the grace period");
        c->st.pid = 0;
        c->st.pid_start = 0;
        c->recorded = true;
        ferry_logw_close(&c->log);
        record(c);
}

/* Run the containers [from, to) together until all are recorded. */
static void run_group(int sfd, size_t from, size_t to)
{
        for (size_t i = from; i < to; i++) {
                if (stopping || wd_has("deleted"))
                        break;
                start(&ctrs[i]);
        }
        static int64_t deadline_at, storage_at;
        if (deadline_s > 0 && !deadline_at)
                deadline_at = ferry_monotonic_ns() + deadline_s * 1000000000LL;
        for (;;) {
                struct pollfd pf[1 + 2 * 256];
                struct {
                        struct ctr *c;
                        struct stream *s;
                } who[FERRY_ARRAY_SIZE(pf)];
                size_t n = 0;
                bool pending = false;
                int64_t now = ferry_monotonic_ns(), wake = -1;

                pf[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
                for (size_t i = from; i < to; i++) {
                        struct ctr *c = &ctrs[i];
                        if (!c->started || c->recorded)
                                continue;
                        probes_tick(c, now, &wake);
                        bool drained = c->out.fd < 0 && c->err.fd < 0;
                        if (c->reaped && (drained || now - c->reaped_mono > DRAIN_NS)) {
                                finish(c);
                                continue;
                        }
                        pending = true;
                        if (c->reaped) {
                                int64_t w = c->reaped_mono + DRAIN_NS - now;
                                wake = wake < 0 || w < wake ? w : wake;
                        }
                        struct stream *ss[2] = {&c->out, &c->err};
                        for (int k = 0; k < 2; k++)
                                if (ss[k]->fd >= 0 && n < FERRY_ARRAY_SIZE(pf)) {
                                        who[n].c = c;
                                        who[n].s = ss[k];
                                        pf[n++] =
                                            (struct pollfd){.fd = ss[k]->fd, .events = POLLIN};
                                }
                }
                if (!pending)
                        return;
                bool limits = n_vlimits > 0;
                for (size_t i = from; i < to && !limits; i++)
                        limits = ctrs[i].ephemeral_limit > 0;
                if (limits && !stopping) {
                        if (now >= storage_at) {
                                storage_check(from, to);
                                storage_at = now + STORAGE_CHECK_NS;
                        }
                        wake = wake < 0 || storage_at - now < wake ? storage_at - now : wake;
                }
                if (deadline_at && !stopping) {
                        if (now >= deadline_at)
                                begin_stop("DeadlineExceeded");
                        else
                                wake =
                                    wake < 0 || deadline_at - now < wake ? deadline_at - now : wake;
                }
                if (kill_at && !killed) {
                        if (now >= kill_at)
                                kill_all();
                        else
                                wake = wake < 0 || kill_at - now < wake ? kill_at - now : wake;
                }
                int tmo = wake < 0 ? -1 : (int)(wake / 1000000) + 1;
                if (poll(pf, (nfds_t)n, tmo) < 0 && errno != EINTR)
                        die("poll: %m");
                if (pf[0].revents) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                                if (si.ssi_signo == SIGCHLD)
                                        reap();
                                else
                                        begin_stop(NULL);
                        }
                }
                for (size_t k = 1; k < n; k++)
                        if (pf[k].revents && who[k].s->fd == pf[k].fd)
                                stream_read(who[k].c, who[k].s);
                reap();
        }
}

/* Record containers [from, n_ctrs) as ended without having started. */
static void never_started(size_t from, int code, const char *reason, const char *msg)
{
        for (size_t i = from; i < n_ctrs; i++) {
                struct ctr *c = &ctrs[i];
                c->st.state = RUNNER_CS_TERMINATED;
                c->st.finished_ns = ferry_now_ns();
                c->st.exit_code = code;
                snprintf(c->st.reason, sizeof(c->st.reason), "%s", reason);
                snprintf(c->st.message, sizeof(c->st.message), "%s", msg);
                c->recorded = true;
                record(c);
        }
}

/* The pre-exec step ran and did not succeed: no container will start. Each
 * is recorded as ended with the step's reason, so the pod fails (rather than
 * staying Pending once the shim is done) and /status says why. A deletion
 * records nothing, as it does for containers after an init container. */
static void pre_exec_failed(const struct ctr *h)
{
        char msg[256];
        const char *reason = stop_reason ? stop_reason : "PreExecFailed";
        /* a step that exited 0 just as the deadline hit still stopped the pod */
        int code = h->st.exit_code ? h->st.exit_code : 128 + SIGTERM;

        if (stopping && !stop_reason)
                return;
        if (stop_reason)
                snprintf(msg, sizeof(msg),
                         "the pod's deadline passed during pre-exec; no container was started");
        else if (!strcmp(h->st.reason, "StartError"))
                snprintf(msg, sizeof(msg),
                         "pre-exec could not start (%.200s); no container was started",
                         h->st.message);
        else if (h->st.signal)
                snprintf(msg, sizeof(msg),
                         "pre-exec (/bin/sh -c) was killed by signal %d; no container was started "
                         "(its output: logs/" PRE_EXEC_NAME ".log)",
                         h->st.signal);
        else
                snprintf(msg, sizeof(msg),
                         "pre-exec (/bin/sh -c) exited with code %d; no container was started "
                         "(its output: logs/" PRE_EXEC_NAME ".log)",
                         h->st.exit_code);
        if (!stop_reason) {
                char text[320];
                snprintf(text, sizeof(text), "%s\n%s\n", reason, msg);
                wd_write("pod.state", text, false);
        }
        never_started(n_pre, code, reason, msg);
}

/* An init container failed: the containers after it never start. Each is
 * recorded as ended, without a start time, with the init container's exit
 * code, so that every client sees the pod fail: a Virtual Kubelet that derives
 * the phase from container states (upstream's does) would otherwise leave a
 * pod whose app containers wait for ever Pending (doc/interlink.md). */
static void init_failed(const struct ctr *h, size_t next)
{
        char msg[256];
        if (!h->started || !strcmp(h->st.reason, "StartError"))
                snprintf(msg, sizeof(msg),
                         "init container \"%s\" could not start; this container was never "
                         "started",
                         h->name);
        else
                snprintf(msg, sizeof(msg),
                         "init container \"%s\" exited with code %d; this container was never "
                         "started",
                         h->name, h->st.exit_code);
        never_started(next, h->st.exit_code ? h->st.exit_code : 1, "InitContainerFailed", msg);
}

static void notify(const char *msg)
{
        /* fd 3 is the launcher's pipe when it is one */
        struct stat st;
        if (fstat(3, &st) == 0 && S_ISFIFO(st.st_mode)) {
                if (write(3, msg, strlen(msg)) < 0) {
                        /* the launcher gave up waiting; carry on */
                }
                close(3);
        }
}

int main(int argc, char **argv)
{
        char p[PATH_MAX];

        if (argc != 2 || argv[1][0] != '/') {
                fprintf(stderr, "usage: ferry-shim /ABSOLUTE/POD/WORKDIR\n");
                return 2;
        }
        wd = argv[1];
        snprintf(p, sizeof(p), "%s/shim.lock", wd);
        int lock = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (lock < 0)
                die("cannot open %s: %m", p);
        if (flock(lock, LOCK_EX | LOCK_NB) < 0) {
                notify("ok\n"); /* another shim has the pod */
                return 0;
        }
        if (wd_has("started")) {
                notify("ok\n"); /* it ran before: never twice */
                return 0;
        }
        uint64_t start = 0;
        runner_proc_starttime(getpid(), &start);
        char text[64];
        snprintf(text, sizeof(text), "%d %" PRIu64 "\n", (int)getpid(), start);
        wd_write("shim.pid", text, false);
        wd_write("started", "", true);

        /* whatever the containers leave behind is reparented to us and reaped */
        prctl(PR_SET_CHILD_SUBREAPER, 1);

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0)
                die("signalfd: %m");
        notify("ok\n");

        load_spec();
        for (size_t i = 0; i < n_ctrs; i++)
                if (ctrs[i].has_probes) {
                        snprintf(p, sizeof(p), "%s/probes", wd);
                        mkdir(p, 0700);
                        break;
                }
        if (cgroup_parent && strcmp(cgroup_parent, "off")) {
                char desc[512], line[600];
                if (runner_cgroot_probe(cgroup_parent, &cgroot) < 0)
                        fprintf(stderr, "ferry-shim: %s: memory and CPU limits are not enforced\n",
                                cgroot.why);
                runner_cgroot_describe(&cgroot, desc, sizeof(desc));
                snprintf(line, sizeof(line), "%s%s\n", cgroot.version ? "" : "none: ", desc);
                wd_write("cgroup", line, false);
        }
        size_t n_init = 0;
        while (n_init < n_ctrs && ctrs[n_init].init)
                n_init++;
        bool failed = false;
        for (size_t i = 0; i < n_init && !failed && !stopping; i++) {
                run_group(sfd, i, i + 1);
                failed = !ctrs[i].started || ctrs[i].st.exit_code != 0;
                if (ctrs[i].pre_exec && ctrs[i].started && (failed || stopping))
                        pre_exec_failed(&ctrs[i]);
                else if (failed && !stopping)
                        init_failed(&ctrs[i], i + 1);
        }
        if (!failed && !stopping)
                run_group(sfd, n_init, n_ctrs);
        wd_write("done", "", true);
        return 0;
}
