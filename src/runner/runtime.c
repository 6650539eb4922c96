/* SPDX-License-Identifier: MIT */
/*
 * Run spec container -> the argv/envp ferry-shim executes, per runtime.
 * Pure: the host tree is seen only through struct runner_hostfs.
 */
#include "runner/runspec.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct strv {
        char **v;
        size_t n, cap;
};

static void strv_add(struct strv *s, const char *x)
{
        if (s->n + 2 > s->cap) {
                s->cap = s->cap ? s->cap * 2 : 16;
                s->v = ferry_xrealloc(s->v, s->cap * sizeof(char *));
        }
        s->v[s->n++] = ferry_xstrdup(x);
        s->v[s->n] = NULL;
}

static void strv_addf(struct strv *s, char *owned)
{
        strv_add(s, owned);
        free(owned);
}

static void strv_free(struct strv *s)
{
        for (size_t i = 0; i < s->n; i++)
                free(s->v[i]);
        free(s->v);
        s->v = NULL;
        s->n = s->cap = 0;
}

int runner_runtime_parse(const char *name, enum runner_runtime_kind *ret)
{
        if (!name || !*name || strcmp(name, "bwrap") == 0)
                *ret = RUNNER_RT_BWRAP;
        else if (strcmp(name, "host") == 0)
                *ret = RUNNER_RT_HOST;
        else if (strcmp(name, "podman") == 0)
                *ret = RUNNER_RT_PODMAN;
        else if (strcmp(name, "apptainer") == 0)
                *ret = RUNNER_RT_APPTAINER;
        else if (strcmp(name, "singularity") == 0)
                *ret = RUNNER_RT_SINGULARITY;
        else if (strcmp(name, "enroot") == 0)
                *ret = RUNNER_RT_ENROOT;
        else
                return -EINVAL;
        return 0;
}

const char *runner_runtime_name(enum runner_runtime_kind k)
{
        switch (k) {
        case RUNNER_RT_HOST: return "host";
        case RUNNER_RT_PODMAN: return "podman";
        case RUNNER_RT_APPTAINER: return "apptainer";
        case RUNNER_RT_SINGULARITY: return "singularity";
        case RUNNER_RT_ENROOT: return "enroot";
        default: return "bwrap";
        }
}

void runner_dirents_free(struct runner_dirent *d, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(d[i].name);
                free(d[i].target);
        }
        free(d);
}

static int dirent_cmp(const void *a, const void *b)
{
        return strcmp(((const struct runner_dirent *)a)->name,
                      ((const struct runner_dirent *)b)->name);
}

static int real_list(void *ctx, const char *dir, struct runner_dirent **ret, size_t *ret_n)
{
        DIR *d = opendir(dir);
        struct runner_dirent *v = NULL;
        size_t n = 0;
        struct dirent *de;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                char *p = ferry_xasprintf("%s/%s", strcmp(dir, "/") ? dir : "", de->d_name);
                struct stat st;
                struct runner_dirent e = {.name = ferry_xstrdup(de->d_name), .type = 'f'};
                if (lstat(p, &st) == 0) {
                        if (S_ISDIR(st.st_mode))
                                e.type = 'd';
                        else if (S_ISLNK(st.st_mode)) {
                                char t[PATH_MAX];
                                ssize_t l = readlink(p, t, sizeof(t) - 1);
                                if (l > 0) {
                                        t[l] = '\0';
                                        e.type = 'l';
                                        e.target = ferry_xstrdup(t);
                                }
                        }
                }
                free(p);
                v = ferry_xrealloc(v, (n + 1) * sizeof(*v));
                v[n++] = e;
        }
        closedir(d);
        qsort(v, n, sizeof(*v), dirent_cmp);
        *ret = v;
        *ret_n = n;
        return 0;
}

const struct runner_hostfs runner_hostfs_real = {.list = real_list, .ctx = NULL};

void runner_exec_clear(struct runner_exec *e)
{
        struct strv a = {e->argv, e->n_argv, 0}, b = {e->envp, e->n_envp, 0},
                    c = {e->stop_argv, e->n_stop_argv, 0}, d = {e->term_argv, e->n_term_argv, 0},
                    o = {e->oom_argv, e->n_oom_argv, 0}, f = {e->enter_argv, e->n_enter_argv, 0},
                    g = {e->pid_argv, e->n_pid_argv, 0};
        strv_free(&o);
        strv_free(&f);
        strv_free(&g);
        free(e->probes_json);
        strv_free(&a);
        strv_free(&b);
        strv_free(&c);
        strv_free(&d);
        free(e->name);
        free(e->cwd);
        memset(e, 0, sizeof(*e));
}

static bool gpu_var(const struct runner_rtconf *rc, const char *name)
{
        return rc->gpus &&
               (!strcmp(name, "CUDA_VISIBLE_DEVICES") || !strcmp(name, "NVIDIA_VISIBLE_DEVICES"));
}

/* envp: the container's env (later definitions win, first position kept) plus
 * PATH and HOSTNAME when the pod does not set them, and the GPU variables
 * (struct runner_gpus) over the pod's own. */
static void build_envp(const struct runner_rtconf *rc, const struct runner_runspec *rs,
                       const struct runner_container *c, struct strv *envp)
{
        bool have_path = false, have_host = false;

        for (size_t i = 0; i < c->n_env; i++) {
                if (gpu_var(rc, c->env[i].name))
                        continue;
                bool later = false;
                for (size_t j = 0; j < i && !later; j++)
                        later = strcmp(c->env[j].name, c->env[i].name) == 0;
                if (later)
                        continue;
                const char *val = c->env[i].value;
                for (size_t j = i + 1; j < c->n_env; j++)
                        if (strcmp(c->env[j].name, c->env[i].name) == 0)
                                val = c->env[j].value;
                strv_addf(envp, ferry_xasprintf("%s=%s", c->env[i].name, val));
                have_path |= strcmp(c->env[i].name, "PATH") == 0;
                have_host |= strcmp(c->env[i].name, "HOSTNAME") == 0;
        }
        if (!have_path)
                strv_add(envp, "PATH=" DEFAULT_PATH);
        if (!have_host)
                strv_addf(envp, ferry_xasprintf("HOSTNAME=%.63s", rs->name));
        if (rc->gpus) {
                struct ferry_buf v = FERRY_BUF_INIT;
                for (size_t i = 0; i < rc->gpus->n_uuids; i++) {
                        if (i)
                                ferry_buf_addc(&v, ',');
                        ferry_buf_adds(&v, rc->gpus->uuids[i]);
                }
                strv_addf(envp, ferry_xasprintf("CUDA_VISIBLE_DEVICES=%s", v.data ? v.data : ""));
                strv_addf(envp,
                          ferry_xasprintf("NVIDIA_VISIBLE_DEVICES=%s", v.len ? v.data : "void"));
                ferry_buf_free(&v);
        }
}

static bool is_mount(const struct runner_container *c, const char *p)
{
        for (size_t i = 0; i < c->n_mounts; i++)
                if (strcmp(c->mounts[i].dst, p) == 0)
                        return true;
        return false;
}

static bool under_mount(const struct runner_container *c, const char *p)
{
        size_t l = strlen(p);
        for (size_t i = 0; i < c->n_mounts; i++)
                if (strncmp(c->mounts[i].dst, p, l) == 0 && c->mounts[i].dst[l] == '/')
                        return true;
        return false;
}

/* The host directories every sandbox shows, read-only: what programs need to
 * run. Everything else of the host (/home, /root, /var, /run, /srv, /opt,
 * ferryd's state) is absent unless the admin adds it (sandbox_paths). */
static const char *const sandbox_system[] = {"bin",   "etc",    "lib",  "lib32",
                                             "lib64", "libx32", "sbin", "usr"};

static bool sandbox_system_dir(const char *name)
{
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(sandbox_system); i++)
                if (strcmp(sandbox_system[i], name) == 0)
                        return true;
        return false;
}

/* Secrets of the host under the system directories, hidden in every sandbox
 * (a pod runs as an unprivileged user, so most are unreadable anyway: this is
 * the second wall). A last component ending in '*' is a prefix. */
static const char *const sandbox_masks[] = {
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/ssh/ssh_host_*",
    "/etc/munge",
    "/etc/slurm/slurmdbd.conf",
    "/etc/slurm/jwt*",
    "/etc/ferry",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/ssl/private",
};

/* Is host path p shown in the sandbox (under a system directory or an admin bind)? */
static bool sandbox_shows(const struct runner_rtconf *rc, const char *p)
{
        const char *s = p + 1, *e = strchr(s, '/');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(sandbox_system); i++)
                if (strlen(sandbox_system[i]) == l && strncmp(sandbox_system[i], s, l) == 0)
                        return true;
        for (size_t i = 0; i < rc->n_binds; i++) {
                size_t bl = strlen(rc->binds[i].src);
                if (strncmp(p, rc->binds[i].src, bl) == 0 && (p[bl] == '/' || p[bl] == '\0'))
                        return true;
        }
        return false;
}

/* Hide host path `path` (maybe "dir/prefix*"): an empty tmpfs over a
 * directory, /dev/null over anything else; nothing when the host has none. */
static void bwrap_mask(const struct runner_rtconf *rc, const char *path, struct strv *a)
{
        _cleanup_free_ char *dir = ferry_xstrdup(path);
        char *slash = strrchr(dir, '/');
        struct runner_dirent *d = NULL;
        size_t n = 0;

        if (path[0] != '/' || !slash || !sandbox_shows(rc, path))
                return;
        *slash = '\0';
        const char *base = slash + 1;
        size_t bl = strlen(base);
        bool prefix = bl > 0 && base[bl - 1] == '*';
        if (rc->hostfs.list(rc->hostfs.ctx, dir[0] ? dir : "/", &d, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                if (prefix ? strncmp(d[i].name, base, bl - 1) != 0 : strcmp(d[i].name, base) != 0)
                        continue;
                if (d[i].type == 'l')
                        continue; /* the target is what matters, and it is masked or not shown */
                strv_add(a, d[i].type == 'd' ? "--tmpfs" : "--ro-bind");
                if (d[i].type != 'd')
                        strv_add(a, "/dev/null");
                strv_addf(a, ferry_xasprintf("%s/%s", dir, d[i].name));
        }
        runner_dirents_free(d, n);
}

/* Recreate the sandbox directory `sb` from host directory `host`: entries
 * that lead to a mount path become real directories we descend into, the
 * others are bound read-only (symlinks recreated as symlinks). */
static int bwrap_tree(const struct runner_rtconf *rc, const struct runner_container *c,
                      const char *host, const char *sb, int depth, struct strv *a,
                      ferry_error_t *err)
{
        struct runner_dirent *d = NULL;
        size_t n = 0;
        int r;

        if (depth > 64)
                return ferry_errprintf(err, -ELOOP, "mount path %s is too deep", sb);
        r = rc->hostfs.list(rc->hostfs.ctx, host, &d, &n);
        if (r < 0)
                return 0; /* nothing to show: the directory stays empty */
        for (size_t i = 0; i < n; i++) {
                const struct runner_dirent *e = &d[i];
                char *hp = ferry_xasprintf("%s/%s", strcmp(host, "/") ? host : "", e->name);
                char *sp = ferry_xasprintf("%s/%s", sb, e->name);
                if (depth == 0 && !sandbox_system_dir(e->name)) {
                        /* not shown: the sandbox root is an allow-list (/proc, /dev and
                         * /tmp are the sandbox's own; admin paths are bound later) */
                } else if (is_mount(c, sp)) {
                        /* the volume covers it */
                } else if (under_mount(c, sp)) {
                        if (e->type == 'f') {
                                r = ferry_errprintf(err, -ENOTDIR,
                                                    "container \"%s\": cannot mount below %s: it "
                                                    "is a file on this host",
                                                    c->name, sp);
                        } else {
                                char *next;
                                if (e->type == 'l')
                                        next = e->target[0] == '/'
                                                   ? ferry_xstrdup(e->target)
                                                   : ferry_xasprintf("%s/%s", host[1] ? host : "",
                                                                     e->target);
                                else
                                        next = ferry_xstrdup(hp);
                                strv_add(a, "--dir");
                                strv_add(a, sp);
                                r = bwrap_tree(rc, c, next, sp, depth + 1, a, err);
                                free(next);
                        }
                } else if (e->type == 'l') {
                        strv_add(a, "--symlink");
                        strv_add(a, e->target);
                        strv_add(a, sp);
                } else {
                        strv_add(a, "--ro-bind");
                        strv_add(a, hp);
                        strv_add(a, sp);
                }
                free(hp);
                free(sp);
                if (r < 0)
                        break;
        }
        runner_dirents_free(d, n);
        return r;
}

static int mount_cmp(const void *a, const void *b)
{
        return strcmp((*(const struct runner_mount *const *)a)->dst,
                      (*(const struct runner_mount *const *)b)->dst);
}

static int build_bwrap(const struct runner_rtconf *rc, const struct runner_runspec *rs,
                       const struct runner_container *c, struct runner_exec *e, struct strv *a,
                       ferry_error_t *err)
{
        int r;

        strv_add(a, rc->bwrap ? rc->bwrap : "bwrap");
        strv_add(a, "--die-with-parent");
        strv_add(a, "--unshare-all");
        if (rc->network)
                strv_add(a, "--share-net");
        if (rc->user && !rc->user->root) {
                /* ferry-shim runs bwrap as the pod's host user; the pod's ids
                 * inside map to it, and the pod cannot make namespaces of its own */
                strv_add(a, "--unshare-user");
                strv_add(a, "--disable-userns");
                strv_add(a, "--uid");
                strv_addf(a, ferry_xasprintf("%lld", (long long)rc->user->inner_uid));
                strv_add(a, "--gid");
                strv_addf(a, ferry_xasprintf("%lld", (long long)rc->user->inner_gid));
        }
        if (ferry_is_dns_label(rs->name)) {
                strv_add(a, "--hostname");
                strv_add(a, rs->name);
        }
        /* the container's writable root (unless readOnlyRootFilesystem): the
         * tmpfs under the host's system directories, which stay read-only;
         * with an ephemeral-storage limit, a little larger than it, so that
         * the shim sees it passed and evicts the pod (doc/local-backend.md) */
        if (c->ephemeral_limit > 0) {
                strv_add(a, "--size");
                strv_addf(a, ferry_xasprintf("%lld", (long long)c->ephemeral_limit + (1 << 20)));
        }
        strv_add(a, "--tmpfs");
        strv_add(a, "/");
        r = bwrap_tree(rc, c, "/", "", 0, a, err);
        if (r < 0)
                return r;
        strv_add(a, "--proc");
        strv_add(a, "/proc");
        strv_add(a, "--dev");
        strv_add(a, "/dev");
        /* the pod's own GPUs and the driver's control nodes, nothing else */
        for (size_t i = 0; rc->gpus && i < rc->gpus->n_devs; i++) {
                strv_add(a, "--dev-bind");
                strv_add(a, rc->gpus->devs[i].src);
                strv_add(a, rc->gpus->devs[i].dst);
        }
        if (c->ephemeral_limit > 0) {
                strv_add(a, "--size");
                strv_addf(a, ferry_xasprintf("%lld", (long long)c->ephemeral_limit + (1 << 20)));
        }
        strv_add(a, "--tmpfs");
        strv_add(a, "/tmp");
        for (size_t i = 0; i < rc->n_binds; i++) {
                strv_add(a, rc->binds[i].ro ? "--ro-bind" : "--bind");
                strv_add(a, rc->binds[i].src);
                strv_add(a, rc->binds[i].dst);
        }
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(sandbox_masks); i++)
                bwrap_mask(rc, sandbox_masks[i], a);
        for (size_t i = 0; i < rc->n_masks; i++)
                bwrap_mask(rc, rc->masks[i], a);
        /* parents before children */
        const struct runner_mount **m = ferry_xcalloc(c->n_mounts + 1, sizeof(*m));
        for (size_t i = 0; i < c->n_mounts; i++)
                m[i] = &c->mounts[i];
        qsort(m, c->n_mounts, sizeof(*m), mount_cmp);
        for (size_t i = 0; i < c->n_mounts; i++) {
                strv_add(a, m[i]->ro ? "--ro-bind" : "--bind");
                strv_addf(a, ferry_xasprintf("%s/%s", rc->workdir, m[i]->src));
                strv_add(a, m[i]->dst);
        }
        free(m);
        if (c->read_only_root) {
                strv_add(a, "--remount-ro");
                strv_add(a, "/");
        } else {
                /* what images have and programs expect to write to */
                strv_add(a, "--perms");
                strv_add(a, "01777");
                strv_add(a, "--dir");
                strv_add(a, "/var/tmp");
        }
        strv_add(a, "--chdir");
        strv_add(a, c->cwd ? c->cwd : "/");
        strv_add(a, "--");
        for (size_t i = 0; i < c->n_argv; i++)
                strv_add(a, c->argv[i]);
        e->term_skip_leader = true;
        return 0;
}

static const char *podman_image(const struct runner_rtconf *rc, const char *image)
{
        for (size_t i = 0; image && i < rc->n_image_map; i++)
                if (strcmp(rc->image_map[i].from, image) == 0)
                        return rc->image_map[i].to;
        if (rc->podman_image && *rc->podman_image)
                return rc->podman_image;
        return image && *image ? image : NULL;
}

static int build_podman(const struct runner_rtconf *rc, const struct runner_runspec *rs,
                        const struct runner_container *c, struct runner_exec *e, struct strv *a,
                        struct strv *envp, ferry_error_t *err)
{
        const char *image = podman_image(rc, c->image);
        const char *podman = rc->podman ? rc->podman : "podman";
        char *cname = ferry_xasprintf("ferry-%s-%s", rs->uid, c->name);

        if (!image) {
                free(cname);
                return ferry_errprintf(
                    err, -EINVAL, "container \"%s\": no image (the podman runtime runs images)",
                    c->name);
        }
        strv_add(a, podman);
        strv_add(a, "run");
        /* no --rm: after an exit by SIGKILL the shim asks podman whether it
         * was an OOM kill (oom_argv); stop_argv removes the container */
        strv_add(a, "--name");
        strv_add(a, cname);
        strv_addf(a, ferry_xasprintf("--pull=%s", rc->podman_pull ? rc->podman_pull : "missing"));
        strv_add(a, "--network");
        strv_add(a, rc->network ? "host" : "none");
        /* The container writes straight into the shim's pipes: with conmon's
         * attach, podman 4.3 sometimes lost the output of very short containers. */
        strv_add(a, "--log-driver=passthrough");
        if (c->read_only_root)
                strv_add(a, "--read-only");
        if (ferry_is_dns_label(rs->name)) {
                strv_add(a, "--hostname");
                strv_add(a, rs->name);
        }
        if (rc->user && !rc->user->root) {
                /* podman starts as root; the container never is: without
                 * runAsUser, uid 0 inside is the pod's host user */
                if (rc->user->inner_uid == 0) {
                        strv_addf(a,
                                  ferry_xasprintf("--uidmap=0:%lld:1", (long long)rc->user->uid));
                        strv_addf(a,
                                  ferry_xasprintf("--gidmap=0:%lld:1", (long long)rc->user->gid));
                } else {
                        strv_addf(a, ferry_xasprintf("--user=%lld:%lld", (long long)rc->user->uid,
                                                     (long long)rc->user->gid));
                }
                if (rc->user->fs_group >= 0)
                        strv_addf(
                            a, ferry_xasprintf("--group-add=%lld", (long long)rc->user->fs_group));
                strv_add(a, "--cap-drop=all");
                strv_add(a, "--security-opt=no-new-privileges");
        }
        if (c->memory_limit_bytes > 0) {
                strv_addf(a, ferry_xasprintf("--memory=%lldb", (long long)c->memory_limit_bytes));
                strv_addf(a,
                          ferry_xasprintf("--memory-swap=%lldb", (long long)c->memory_limit_bytes));
        }
        if (c->cpu_limit_milli > 0)
                strv_addf(a, ferry_xasprintf("--cpus=%lld.%03lld",
                                             (long long)(c->cpu_limit_milli / 1000),
                                             (long long)(c->cpu_limit_milli % 1000)));
        if (rc->gpus && rc->gpus->n_cdi) {
                for (size_t i = 0; i < rc->gpus->n_cdi; i++)
                        strv_addf(a, ferry_xasprintf("--device=%s", rc->gpus->cdi[i]));
        } else {
                for (size_t i = 0; rc->gpus && i < rc->gpus->n_devs; i++)
                        strv_addf(a, ferry_xasprintf("--device=%s:%s:rw", rc->gpus->devs[i].src,
                                                     rc->gpus->devs[i].dst));
        }
        for (size_t i = 0; i < envp->n; i++) {
                strv_add(a, "-e");
                strv_add(a, envp->v[i]);
        }
        for (size_t i = 0; i < c->n_mounts; i++) {
                const struct runner_mount *m = &c->mounts[i];
                if (strpbrk(m->dst, ":,") || strpbrk(rc->workdir, ":,") || strpbrk(m->src, ":,")) {
                        free(cname);
                        return ferry_errprintf(err, -EINVAL,
                                               "container \"%s\": the podman runtime cannot mount "
                                               "%s (':' and ',' are not allowed in mount paths)",
                                               c->name, m->dst);
                }
                strv_add(a, "-v");
                strv_addf(a, ferry_xasprintf("%s/%s:%s%s", rc->workdir, m->src, m->dst,
                                             m->ro ? ":ro" : ""));
        }
        if (c->cwd) {
                strv_add(a, "-w");
                strv_add(a, c->cwd);
        }
        if (c->n_command > 0) {
                /* the JSON array form: one argv item per command element, never split */
                struct ferry_buf j = FERRY_BUF_INIT;
                ferry_buf_adds(&j, "--entrypoint=[");
                for (size_t i = 0; i < c->n_command; i++) {
                        if (i)
                                ferry_buf_addc(&j, ',');
                        ferry_buf_add_json_str(&j, c->argv[i]);
                }
                ferry_buf_addc(&j, ']');
                strv_add(a, j.data);
                ferry_buf_free(&j);
        }
        strv_add(a, "--");
        strv_add(a, image);
        for (size_t i = c->n_command; i < c->n_argv; i++)
                strv_add(a, c->argv[i]);

        struct strv stop = {0};
        strv_add(&stop, podman);
        strv_add(&stop, "rm");
        strv_add(&stop, "-f");
        strv_add(&stop, "-t");
        strv_add(&stop, "0");
        strv_add(&stop, cname);
        e->stop_argv = stop.v;
        e->n_stop_argv = stop.n;
        struct strv term = {0};
        strv_add(&term, podman);
        strv_add(&term, "kill");
        strv_add(&term, "--signal");
        strv_add(&term, "TERM");
        strv_add(&term, cname);
        e->term_argv = term.v;
        e->n_term_argv = term.n;
        struct strv enter = {0}, pid = {0};
        strv_add(&enter, podman);
        strv_add(&enter, "exec");
        strv_add(&enter, cname);
        e->enter_argv = enter.v;
        e->n_enter_argv = enter.n;
        strv_add(&pid, podman);
        strv_add(&pid, "inspect");
        strv_add(&pid, "--format");
        strv_add(&pid, "{{.State.Pid}}");
        strv_add(&pid, cname);
        e->pid_argv = pid.v;
        e->n_pid_argv = pid.n;
        struct strv oom = {0};
        strv_add(&oom, podman);
        strv_add(&oom, "inspect");
        strv_add(&oom, "--format");
        strv_add(&oom, "{{.State.OOMKilled}}");
        strv_add(&oom, cname);
        e->oom_argv = oom.v;
        e->n_oom_argv = oom.n;
        free(cname);

        /* podman itself gets a plain environment, not the pod's */
        strv_free(envp);
        strv_add(envp, "PATH=" DEFAULT_PATH);
        if (rc->home)
                strv_addf(envp, ferry_xasprintf("HOME=%s", rc->home));
        return 0;
}

/* ---- apptainer / singularity / enroot (doc/slurm-backend.md, "Runtimes") ---- */

static bool env_name_portable(const char *n)
{
        if (!n || !((*n >= 'A' && *n <= 'Z') || (*n >= 'a' && *n <= 'z') || *n == '_'))
                return false;
        return strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
               strlen(n);
}

/* The pod's env with later definitions winning (first position kept), as
 * index pairs into c->env: ret[k] is the index of the value to use. */
static size_t env_dedup(const struct runner_container *c, size_t *idx)
{
        size_t n = 0;
        for (size_t i = 0; i < c->n_env; i++) {
                bool seen = false;
                for (size_t j = 0; j < i && !seen; j++)
                        seen = strcmp(c->env[j].name, c->env[i].name) == 0;
                if (seen)
                        continue;
                size_t last = i;
                for (size_t j = i + 1; j < c->n_env; j++)
                        if (strcmp(c->env[j].name, c->env[i].name) == 0)
                                last = j;
                idx[n++] = last;
        }
        return n;
}

static bool has_dotdot(const char *p)
{
        size_t l = strlen(p);
        return strstr(p, "/../") || strncmp(p, "../", 3) == 0 || strcmp(p, "..") == 0 ||
               (l >= 3 && strcmp(p + l - 3, "/..") == 0);
}

/* Image URI for apptainer: a scheme we allow, an absolute path on the node,
 * or the image root (default docker://) + the pod's image. */
static char *apptainer_image(const struct runner_rtconf *rc, const struct runner_container *c,
                             ferry_error_t *err)
{
        static const char *const schemes[] = {"docker", "oras", "library", "shub", "http", "https"};
        const char *img = c->image;

        if (!img || !*img) {
                ferry_errprintf(err, -EINVAL, "container \"%s\": no image", c->name);
                return NULL;
        }
        if (img[0] == '-' || strpbrk(img, " \t\n,") || has_dotdot(img)) {
                ferry_errprintf(err, -EINVAL,
                                "container \"%s\": image \"%s\" is not an image reference", c->name,
                                img);
                return NULL;
        }
        const char *sep = strstr(img, "://");
        if (sep) {
                for (size_t i = 0; i < FERRY_ARRAY_SIZE(schemes); i++)
                        if (strlen(schemes[i]) == (size_t)(sep - img) &&
                            strncmp(img, schemes[i], (size_t)(sep - img)) == 0)
                                return ferry_xstrdup(img);
                ferry_errprintf(err, -EINVAL,
                                "container \"%s\": image scheme \"%.*s://\" is not allowed (use "
                                "docker, oras, library, shub, http or https)",
                                c->name, (int)(sep - img), img);
                return NULL;
        }
        if (img[0] == '/')
                return ferry_xstrdup(img);
        return ferry_xasprintf(
            "%s%s", rc->image_root && *rc->image_root ? rc->image_root : "docker://", img);
}

static int bind_path_check(const struct runner_container *c, const char *p, const char *bad,
                           const char *rt, ferry_error_t *err)
{
        if (strpbrk(p, bad))
                return ferry_errprintf(err, -EINVAL,
                                       "container \"%s\": the %s runtime cannot mount %s (%s)",
                                       c->name, rt, p,
                                       bad[0] == ':' ? "':' and ',' are not allowed in mount paths"
                                                     : "whitespace, ':' and ',' are not allowed "
                                                       "in mount paths");
        return 0;
}

static int build_apptainer(const struct runner_rtconf *rc, const struct runner_runspec *rs,
                           const struct runner_container *c, struct strv *a, struct strv *envp,
                           ferry_error_t *err)
{
        bool sing = rc->kind == RUNNER_RT_SINGULARITY;
        const char *rt = sing ? "singularity" : "apptainer";
        const char *prefix = sing ? "SINGULARITYENV_" : "APPTAINERENV_";
        _cleanup_free_ char *image = apptainer_image(rc, c, err);
        int r;

        if (!image)
                return -EINVAL;
        strv_add(a, rc->apptainer ? rc->apptainer : rt);
        /* exec when the pod sets command, run otherwise so the image's
         * entrypoint/runscript is honoured (as upstream) */
        strv_add(a, c->n_command > 0 ? "exec" : "run");
        strv_add(a, "--no-eval");
        strv_add(a, "--containall");
        if (c->gpus > 0)
                strv_add(a, "--nv");
        for (size_t i = 0; i < rc->n_rt_options; i++)
                strv_add(a, rc->rt_options[i]);
        if (c->cwd) {
                strv_add(a, "--pwd");
                strv_add(a, c->cwd);
        }
        if ((r = bind_path_check(c, rc->workdir, ":,", rt, err)) < 0)
                return r;
        /* parents before children, as for bwrap */
        const struct runner_mount **ms = ferry_xcalloc(c->n_mounts + 1, sizeof(*ms));
        for (size_t i = 0; i < c->n_mounts; i++)
                ms[i] = &c->mounts[i];
        qsort(ms, c->n_mounts, sizeof(*ms), mount_cmp);
        for (size_t i = 0; i < c->n_mounts; i++) {
                const struct runner_mount *m = ms[i];
                if ((r = bind_path_check(c, m->dst, ":,", rt, err)) < 0 ||
                    (r = bind_path_check(c, m->src, ":,", rt, err)) < 0) {
                        free(ms);
                        return r;
                }
                strv_add(a, "--bind");
                strv_addf(a, ferry_xasprintf("%s/%s:%s%s", rc->workdir, m->src, m->dst,
                                             m->ro ? ":ro" : ""));
        }
        free(ms);
        for (size_t i = 0; i < rc->n_binds; i++) {
                const struct runner_bind *b = &rc->binds[i];
                if ((r = bind_path_check(c, b->src, ":,", rt, err)) < 0 ||
                    (r = bind_path_check(c, b->dst, ":,", rt, err)) < 0)
                        return r;
                strv_add(a, "--bind");
                strv_addf(a, ferry_xasprintf("%s:%s%s", b->src, b->dst, b->ro ? ":ro" : ""));
        }
        strv_add(a, image);
        for (size_t i = 0; i < c->n_argv; i++)
                strv_add(a, c->argv[i]);

        /* The pod's env reaches the container as <PREFIX>NAME=VALUE in
         * apptainer's own environment: with --no-eval nothing evaluates the
         * value, and unlike --env (a comma-separated CSV list) no value can
         * split into a second variable. apptainer itself gets a plain env. */
        strv_free(envp);
        strv_add(envp, "PATH=" DEFAULT_PATH);
        if (rc->home)
                strv_addf(envp, ferry_xasprintf("HOME=%s", rc->home));
        size_t *idx = ferry_xcalloc(c->n_env + 1, sizeof(size_t));
        size_t n = env_dedup(c, idx);
        for (size_t k = 0; k < n; k++) {
                const struct ferry_env *v = &c->env[idx[k]];
                if (!env_name_portable(v->name)) {
                        free(idx);
                        return ferry_errprintf(err, -EINVAL,
                                               "container \"%s\": env name \"%s\" cannot be passed "
                                               "by %s (letters, digits and '_' only)",
                                               c->name, v->name, rt);
                }
                strv_addf(envp, ferry_xasprintf("%s%s=%s", prefix, v->name, v->value));
        }
        free(idx);
        (void)rs;
        return 0;
}

/* Image for enroot: an absolute squashfs path, or <image_root>/<image>.sqsh
 * with '/' and ':' turned into '+' (images imported beforehand). */
static char *enroot_image(const struct runner_rtconf *rc, const struct runner_container *c,
                          ferry_error_t *err)
{
        const char *img = c->image;
        if (!img || !*img || img[0] == '-' || strpbrk(img, " \t\n") || has_dotdot(img) ||
            strstr(img, "://")) {
                ferry_errprintf(err, -EINVAL,
                                "container \"%s\": image \"%s\" cannot be used by enroot (an "
                                "absolute .sqsh path, or a name imported under the image root)",
                                c->name, img ? img : "");
                return NULL;
        }
        if (img[0] == '/')
                return ferry_xstrdup(img);
        if (!rc->image_root || !*rc->image_root) {
                ferry_errprintf(err, -EINVAL,
                                "container \"%s\": image \"%s\" is not a path, and the site has "
                                "no image_root of imported enroot images",
                                c->name, img);
                return NULL;
        }
        char *name = ferry_xstrdup(img);
        for (char *p = name; *p; p++)
                if (*p == '/' || *p == ':')
                        *p = '+';
        char *out = ferry_xasprintf("%s/%s.sqsh", rc->image_root, name);
        free(name);
        return out;
}

static int build_enroot(const struct runner_rtconf *rc, const struct runner_runspec *rs,
                        const struct runner_container *c, struct strv *a, struct strv *envp,
                        ferry_error_t *err)
{
        _cleanup_free_ char *image = enroot_image(rc, c, err);
        int r;

        if (!image)
                return -EINVAL;
        strv_add(a, rc->enroot ? rc->enroot : "enroot");
        strv_add(a, "start");
        strv_add(a, "--rw"); /* a Kubernetes root file system is writable */
        for (size_t i = 0; i < rc->n_rt_options; i++)
                strv_add(a, rc->rt_options[i]);
        /* enroot parses mounts as fstab lines split on ':' and whitespace */
        if ((r = bind_path_check(c, rc->workdir, " \t\n:,", "enroot", err)) < 0)
                return r;
        const struct runner_mount **ms = ferry_xcalloc(c->n_mounts + 1, sizeof(*ms));
        for (size_t i = 0; i < c->n_mounts; i++)
                ms[i] = &c->mounts[i];
        qsort(ms, c->n_mounts, sizeof(*ms), mount_cmp); /* parents first */
        for (size_t i = 0; i < c->n_mounts + rc->n_binds; i++) {
                _cleanup_free_ char *src = NULL;
                const char *dst;
                bool ro;
                if (i < c->n_mounts) {
                        src = ferry_xasprintf("%s/%s", rc->workdir, ms[i]->src);
                        dst = ms[i]->dst;
                        ro = ms[i]->ro;
                } else {
                        src = ferry_xstrdup(rc->binds[i - c->n_mounts].src);
                        dst = rc->binds[i - c->n_mounts].dst;
                        ro = rc->binds[i - c->n_mounts].ro;
                }
                if ((r = bind_path_check(c, src, " \t\n:,", "enroot", err)) < 0 ||
                    (r = bind_path_check(c, dst, " \t\n:,", "enroot", err)) < 0) {
                        free(ms);
                        return r;
                }
                strv_add(a, "--mount");
                strv_addf(a, ferry_xasprintf("%s:%s:none:x-create=auto,bind%s", src, dst,
                                             ro ? ",ro" : ""));
        }
        free(ms);
        /* --env NAME=VALUE: the value travels as an argument, so the pod's env
         * never becomes enroot's own (PATH, LD_PRELOAD, ENROOT_* would steer
         * enroot itself). enroot writes one line per variable and strips one
         * pair of surrounding quotes: such values are refused, not mangled. */
        size_t *idx = ferry_xcalloc(c->n_env + 1, sizeof(size_t));
        size_t n = env_dedup(c, idx);
        bool have_nvd = false;
        for (size_t k = 0; k < n; k++) {
                const struct ferry_env *v = &c->env[idx[k]];
                size_t vl = strlen(v->value);
                const char *why = NULL;
                if (!env_name_portable(v->name))
                        why = "its name must be letters, digits and '_'";
                else if (strncmp(v->name, "ENROOT_", 7) == 0)
                        why = "enroot drops ENROOT_ variables";
                else if (strpbrk(v->value, "\n\r"))
                        why = "its value has a line break";
                else if (vl >= 2 && (v->value[0] == '"' || v->value[0] == '\'') &&
                         (v->value[vl - 1] == '"' || v->value[vl - 1] == '\''))
                        why = "enroot would strip the quotes around its value";
                if (why) {
                        free(idx);
                        return ferry_errprintf(err, -EINVAL,
                                               "container \"%s\": env \"%s\" cannot be passed by "
                                               "enroot: %s",
                                               c->name, v->name, why);
                }
                have_nvd |= strcmp(v->name, "NVIDIA_VISIBLE_DEVICES") == 0;
                strv_add(a, "--env");
                strv_addf(a, ferry_xasprintf("%s=%s", v->name, v->value));
        }
        free(idx);
        if (c->gpus > 0 && !have_nvd) {
                /* enroot's nvidia hook acts on this; the job's cgroup limits
                 * the devices to the GPUs Slurm allocated */
                strv_add(a, "--env");
                strv_add(a, "NVIDIA_VISIBLE_DEVICES=all");
        }
        strv_add(a, image);
        if (c->cwd) {
                /* enroot has no working-directory option: a constant script
                 * with the directory and the command as its arguments */
                if (c->n_command == 0)
                        return ferry_errprintf(
                            err, -EINVAL,
                            "container \"%s\": enroot can honour workingDir only "
                            "when the container sets command",
                            c->name);
                strv_add(a, "/bin/sh");
                strv_add(a, "-c");
                strv_add(a, "cd -- \"$1\" && shift && exec \"$@\"");
                strv_add(a, "sh");
                strv_add(a, c->cwd);
        }
        for (size_t i = 0; i < c->n_argv; i++)
                strv_add(a, c->argv[i]);

        strv_free(envp);
        strv_add(envp, "PATH=" DEFAULT_PATH);
        if (rc->home)
                strv_addf(envp, ferry_xasprintf("HOME=%s", rc->home));
        (void)rs;
        return 0;
}

int runner_exec_build(const struct runner_rtconf *rc, const struct runner_runspec *rs, size_t ci,
                      struct runner_exec *ret, ferry_error_t *err)
{
        const struct runner_container *c = &rs->c[ci];
        struct runner_exec e = {0};
        struct strv a = {0}, envp = {0};
        int r = 0;

        build_envp(rc, rs, c, &envp);
        bool image_runtime = rc->kind == RUNNER_RT_PODMAN || rc->kind == RUNNER_RT_APPTAINER ||
                             rc->kind == RUNNER_RT_SINGULARITY || rc->kind == RUNNER_RT_ENROOT;
        if (!image_runtime && c->n_argv == 0) {
                r = ferry_errprintf(err, -EINVAL,
                                    "container \"%s\" has neither command nor args: the %s runtime "
                                    "does not run image entrypoints",
                                    c->name, runner_runtime_name(rc->kind));
                goto out;
        }
        switch (rc->kind) {
        case RUNNER_RT_HOST:
                if (c->n_mounts > 0) {
                        r = ferry_errprintf(err, -EINVAL,
                                            "container \"%s\" mounts a volume at %s, which the "
                                            "host runtime cannot honour (it runs plain processes "
                                            "without a mount namespace); ask the admin for the "
                                            "bwrap or podman runtime",
                                            c->name, c->mounts[0].dst);
                        goto out;
                }
                for (size_t i = 0; i < c->n_argv; i++)
                        strv_add(&a, c->argv[i]);
                e.cwd = c->cwd ? ferry_xstrdup(c->cwd) : ferry_xasprintf("%s/cwd", rc->workdir);
                break;
        case RUNNER_RT_BWRAP: r = build_bwrap(rc, rs, c, &e, &a, err); break;
        case RUNNER_RT_PODMAN: r = build_podman(rc, rs, c, &e, &a, &envp, err); break;
        case RUNNER_RT_APPTAINER:
        case RUNNER_RT_SINGULARITY: r = build_apptainer(rc, rs, c, &a, &envp, err); break;
        case RUNNER_RT_ENROOT: r = build_enroot(rc, rs, c, &a, &envp, err); break;
        }
        if (r < 0)
                goto out;
        e.name = ferry_xstrdup(c->name);
        e.init = c->init;
        e.drop = rc->kind != RUNNER_RT_PODMAN;
        if (ferry_probes_any(&c->probes)) {
                struct ferry_buf pj = FERRY_BUF_INIT;
                ferry_probes_to_json(&pj, &c->probes);
                e.probes_json = ferry_buf_steal(&pj);
                e.enter_ns = rc->kind != RUNNER_RT_HOST && rc->kind != RUNNER_RT_PODMAN;
        }
        e.ephemeral_limit = c->ephemeral_limit;
        if (rc->kind != RUNNER_RT_PODMAN) {
                e.memory_limit = c->memory_limit_bytes;
                e.cpu_limit_milli = c->cpu_limit_milli;
        }
        e.argv = a.v;
        e.n_argv = a.n;
        e.envp = envp.v;
        e.n_envp = envp.n;
        *ret = e;
        return 0;
out:
        strv_free(&a);
        strv_free(&envp);
        runner_exec_clear(&e);
        return r;
}

void runner_exec_to_json(struct ferry_buf *b, const struct runner_exec *e)
{
        ferry_buf_adds(b, "{\"name\": ");
        ferry_buf_add_json_str(b, e->name);
        ferry_buf_printf(b, ", \"init\": %s, \"term_skip_leader\": %s,\n   \"argv\": ",
                         e->init ? "true" : "false", e->term_skip_leader ? "true" : "false");
        ferry_buf_add_json_strv(b, e->argv, e->n_argv);
        ferry_buf_adds(b, ",\n   \"envp\": ");
        ferry_buf_add_json_strv(b, e->envp, e->n_envp);
        ferry_buf_adds(b, ",\n   \"cwd\": ");
        if (e->cwd)
                ferry_buf_add_json_str(b, e->cwd);
        else
                ferry_buf_adds(b, "null");
        ferry_buf_adds(b, ",\n   \"stop_argv\": ");
        ferry_buf_add_json_strv(b, e->stop_argv, e->n_stop_argv);
        if (e->term_argv) {
                ferry_buf_adds(b, ",\n   \"term_argv\": ");
                ferry_buf_add_json_strv(b, e->term_argv, e->n_term_argv);
        }
        if (e->oom_argv) {
                ferry_buf_adds(b, ",\n   \"oom_argv\": ");
                ferry_buf_add_json_strv(b, e->oom_argv, e->n_oom_argv);
        }
        if (e->ephemeral_limit > 0) /* only when set: older goldens hold */
                ferry_buf_printf(b, ", \"ephemeral_limit\": %lld", (long long)e->ephemeral_limit);
        if (e->probes_json) { /* only with probes or hooks: older goldens hold */
                ferry_buf_adds(b, ",\n   \"probes\": ");
                ferry_buf_adds(b, e->probes_json);
                ferry_buf_printf(b, ", \"enter_ns\": %s", e->enter_ns ? "true" : "false");
                if (e->enter_argv) {
                        ferry_buf_adds(b, ",\n   \"enter_argv\": ");
                        ferry_buf_add_json_strv(b, e->enter_argv, e->n_enter_argv);
                        ferry_buf_adds(b, ", \"pid_argv\": ");
                        ferry_buf_add_json_strv(b, e->pid_argv, e->n_pid_argv);
                }
        }
        if (e->memory_limit > 0 || e->cpu_limit_milli > 0) /* only when set: older goldens hold */
                ferry_buf_printf(b, ", \"memory_limit\": %lld, \"cpu_limit_milli\": %lld",
                                 (long long)e->memory_limit, (long long)e->cpu_limit_milli);
        ferry_buf_printf(b, ", \"drop\": %s}", e->drop ? "true" : "false");
}
