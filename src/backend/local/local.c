/* SPDX-License-Identifier: MIT */
/*
 * The local backend: runs each pod on this host under a ferry-shim, one per
 * pod, detached from ferryd (see doc/local-backend.md and state.h for the
 * working directory layout).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/backend.h"
#include "runner/cgroup.h"
#include "runner/podwd.h"
#include "gpu/alloc.h"
#include "gpu/devices.h"
#include "gpu/nvml.h"
#include "runner/podsec.h"
#include "runner/runspec.h"
#include "runner/state.h"
#include "common/log.h"
#include "common/util.h"
#include "ferry-config.h"

struct live {
        char *uid;
        int64_t cpu_milli, memory_bytes;
        bool finished;
};

struct local_priv {
        char *root, *pods, *tmp;
        char *shim; /* path of ferry-shim */
        enum runner_runtime_kind kind;
        char *bwrap, *podman, *home;
        bool network;
        char *podman_image, *podman_pull;
        char *apptainer, *enroot, *image_root; /* apptainer/singularity/enroot runtimes */
        struct runner_image_map *image_map;
        size_t n_image_map;
        int64_t max_pods;
        int64_t start_timeout_ms;
        struct ferry_podsec sec;   /* which host user each pod runs as */
        struct runner_bind *binds; /* sandbox_paths: host paths the admin shows to pods */
        size_t n_binds;

        pthread_mutex_t lock; /* protects live and gpus */
        struct live *live;
        size_t n_live;

        /* GPUs (issue 10, doc/gpu.md "Allocation to pods"): units of this host's
         * NVML inventory, each held by at most one pod from its submit until the
         * shim has finished; the pod's workdir records them ("gpus") */
        struct ferry_gpu_pool gpus;
        bool gpu_host;    /* NVML saw GPUs: pods without any get none */
        bool gpu_none;    /* option gpus=none: hand out nothing */
        char **gpu_allow; /* option gpus: indices / UUIDs, NULL = all */
        size_t n_gpu_allow;
        char *gpu_dev_dir;    /* where the host's /dev/nvidia* nodes are */
        char *gpu_mig_minors; /* /proc/driver/nvidia-caps/mig-minors */
        char *cdi;            /* the host's NVIDIA CDI specs (podman), or NULL */

        /* cgroups (issue 16): option cgroup_parent; the shim makes one per
         * container below it. version 0: limits are not enforced (why says so) */
        char *cgroup_parent;
        int64_t log_max_size; /* container_log_max_size / _max_files */
        int log_max_files;
        struct runner_cgroot cg;
        char cg_desc[512];
};

#define SHIM_NAME "ferry-shim"

static char *workdir(const struct local_priv *p, const char *uid)
{
        return ferry_xasprintf("%s/%s", p->pods, uid);
}

static bool exists(const char *dir, const char *name)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return access(path, F_OK) == 0;
}

/* 1 when the shim holds its lock (it is alive), 0 when not, -errno. */
static int shim_alive(const char *wd)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/shim.lock", wd);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        int r = flock(fd, LOCK_SH | LOCK_NB);
        int e = errno;
        close(fd);
        if (r == 0)
                return 0;
        return e == EWOULDBLOCK ? 1 : -e;
}

/* ---- live pods, for capacity ---- */

static void live_set(struct local_priv *p, const char *uid, int64_t cpu, int64_t mem, bool fin)
{
        pthread_mutex_lock(&p->lock);
        size_t i;
        for (i = 0; i < p->n_live; i++)
                if (strcmp(p->live[i].uid, uid) == 0)
                        break;
        if (i == p->n_live) {
                p->live = ferry_xrealloc(p->live, (p->n_live + 1) * sizeof(*p->live));
                p->live[p->n_live++] = (struct live){.uid = ferry_xstrdup(uid)};
        }
        p->live[i].cpu_milli = cpu;
        p->live[i].memory_bytes = mem;
        p->live[i].finished = fin;
        pthread_mutex_unlock(&p->lock);
}

static void live_finished(struct local_priv *p, const char *uid)
{
        pthread_mutex_lock(&p->lock);
        for (size_t i = 0; i < p->n_live; i++)
                if (strcmp(p->live[i].uid, uid) == 0)
                        p->live[i].finished = true;
        pthread_mutex_unlock(&p->lock);
}

static void live_remove(struct local_priv *p, const char *uid)
{
        pthread_mutex_lock(&p->lock);
        for (size_t i = 0; i < p->n_live; i++)
                if (strcmp(p->live[i].uid, uid) == 0) {
                        free(p->live[i].uid);
                        p->live[i] = p->live[--p->n_live];
                        break;
                }
        pthread_mutex_unlock(&p->lock);
}

static void live_load(struct local_priv *p, const char *uid)
{
        _cleanup_free_ char *wd = workdir(p, uid);
        _cleanup_free_ char *path = ferry_xasprintf("%s/resources", wd);
        char *text = NULL;
        size_t len;
        long long cpu = 0, mem = 0;

        if (ferry_read_file(path, 128, &text, &len) == 0) {
                if (sscanf(text, "%lld %lld", &cpu, &mem) != 2)
                        cpu = mem = 0;
                free(text);
        }
        live_set(p, uid, cpu, mem, exists(wd, "done"));
}

/* ---- GPUs ---- */

/* Read the host's NVIDIA CDI specs (podman uses them when they name a unit). */
static char *read_cdi(const char *dirs)
{
        struct ferry_buf all = FERRY_BUF_INIT;
        _cleanup_free_ char *copy = ferry_xstrdup(dirs);
        char *save = NULL;
        for (char *dir = strtok_r(copy, ":,", &save); dir; dir = strtok_r(NULL, ":,", &save)) {
                DIR *d = opendir(dir);
                struct dirent *de;
                while (d && (de = readdir(d))) {
                        const char *dot = strrchr(de->d_name, '.');
                        if (de->d_name[0] == '.' || !dot ||
                            (strcmp(dot, ".yaml") && strcmp(dot, ".yml") && strcmp(dot, ".json")))
                                continue;
                        _cleanup_free_ char *path = ferry_xasprintf("%s/%s", dir, de->d_name);
                        char *text = NULL;
                        size_t len;
                        if (ferry_read_file(path, 4 << 20, &text, &len) == 0 &&
                            strstr(text, "nvidia.com/gpu")) {
                                ferry_buf_adds(&all, text);
                                ferry_buf_adds(&all, "\n---\n");
                        }
                        free(text);
                }
                if (d)
                        closedir(d);
        }
        if (!all.len) {
                ferry_buf_free(&all);
                return NULL;
        }
        return all.data;
}

/* Build the pool again from NVML (read without the lock), keeping what each
 * pod holds. A unit that vanished while held is reported: its pod keeps
 * running without it in the books. When NVML fails, the pool stays. */
static void gpu_refresh(struct local_priv *p)
{
        struct ferry_gpu_inventory inv;
        ferry_error_t err;
        int r = ferry_nvml_inventory(&inv, &err);
        if (r == -ENOENT) {
                inv = (struct ferry_gpu_inventory){0};
        } else if (r < 0) {
                log_warn("local backend: GPU inventory: %s (keeping the last one)", err.text);
                return;
        }
        struct ferry_gpu_pool pool = {0};
        pthread_mutex_lock(&p->lock);
        if (!p->gpu_none)
                ferry_gpu_pool_from_inventory(&pool, &inv, (const char *const *)p->gpu_allow,
                                              p->n_gpu_allow);
        for (size_t i = 0; i < p->gpus.n; i++) {
                const struct ferry_gpu_unit *u = &p->gpus.u[i];
                if (u->owner[0] && ferry_gpu_pool_take(&pool, u->owner, u->uuid, &err) < 0)
                        log_err("local backend: pod %s holds %s: %s", u->owner, u->uuid, err.text);
        }
        p->gpu_host = inv.n > 0;
        ferry_gpu_pool_free(&p->gpus);
        p->gpus = pool;
        pthread_mutex_unlock(&p->lock);
        ferry_gpu_inventory_free(&inv);
}

/* After a restart: the pod in wd holds the units its "gpus" file names again,
 * unless it has finished (under lock). */
static void gpu_load(struct local_priv *p, const char *uid, const char *wd)
{
        _cleanup_free_ char *path = ferry_xasprintf("%s/gpus", wd);
        char *text = NULL, *save = NULL;
        size_t len;
        ferry_error_t err;

        if (exists(wd, "done") || ferry_read_file(path, 1 << 16, &text, &len) < 0)
                return;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                if (ferry_gpu_pool_take(&p->gpus, uid, l, &err) < 0)
                        log_err("local backend: pod %s: %s", uid, err.text);
        free(text);
}

/* Units of pods that have finished go back (under lock). Not those whose
 * workdir is missing: a submit holds its units before it renames the workdir
 * into place. Pods whose shim died are released by poll, deleted ones by
 * kill and cleanup. */
static void gpu_release_finished(struct local_priv *p)
{
        for (size_t i = 0; i < p->gpus.n; i++) {
                const char *owner = p->gpus.u[i].owner;
                if (!owner[0])
                        continue;
                _cleanup_free_ char *wd = workdir(p, owner);
                if (exists(wd, "done")) {
                        char uid[FERRY_GPU_OWNER_MAX];
                        snprintf(uid, sizeof(uid), "%s", owner);
                        ferry_gpu_pool_release(&p->gpus, uid);
                }
        }
}

static void gpu_release(struct local_priv *p, const char *uid)
{
        pthread_mutex_lock(&p->lock);
        ferry_gpu_pool_release(&p->gpus, uid);
        pthread_mutex_unlock(&p->lock);
}

/* What a pod's containers get for its units (struct runner_gpus), with the
 * storage behind it. */
struct pod_gpus {
        struct runner_gpus g;
        char **uuids, **cdi;
        struct runner_bind *devs;
};

static void pod_gpus_clear(struct pod_gpus *pg)
{
        for (size_t i = 0; i < pg->g.n_uuids; i++)
                free(pg->uuids[i]);
        for (size_t i = 0; i < pg->g.n_cdi; i++)
                free(pg->cdi[i]);
        for (size_t i = 0; i < pg->g.n_devs; i++) {
                free(pg->devs[i].src);
                free(pg->devs[i].dst);
        }
        free(pg->uuids);
        free(pg->cdi);
        free(pg->devs);
        *pg = (struct pod_gpus){0};
}

static void pod_gpus_add_node(const struct local_priv *p, struct pod_gpus *pg, const char *node)
{
        _cleanup_free_ char *dst = ferry_xasprintf("/dev/%s", node);
        for (size_t i = 0; i < pg->g.n_devs; i++)
                if (!strcmp(pg->devs[i].dst, dst))
                        return;
        pg->devs = ferry_xrealloc(pg->devs, (pg->g.n_devs + 1) * sizeof(*pg->devs));
        pg->devs[pg->g.n_devs++] = (struct runner_bind){
            .src = ferry_xasprintf("%s/%s", p->gpu_dev_dir, node), .dst = ferry_xstrdup(dst)};
}

/* The device nodes, variables and CDI names of the units `held`. -ENODEV
 * when the host lacks a node a unit needs. */
static int pod_gpus_make(const struct local_priv *p, const struct ferry_gpu_unit *const *held,
                         size_t n, struct pod_gpus *pg, ferry_error_t *err)
{
        _cleanup_free_ char *minors = NULL;
        size_t len;
        bool all_cdi = p->cdi != NULL;

        *pg = (struct pod_gpus){0};
        pg->uuids = ferry_xcalloc(n + 1, sizeof(*pg->uuids));
        pg->cdi = ferry_xcalloc(n + 1, sizeof(*pg->cdi));
        for (size_t i = 0; n && ferry_gpu_control_nodes[i]; i++) {
                _cleanup_free_ char *path =
                    ferry_xasprintf("%s/%s", p->gpu_dev_dir, ferry_gpu_control_nodes[i]);
                if (access(path, F_OK) == 0)
                        pod_gpus_add_node(p, pg, ferry_gpu_control_nodes[i]);
        }
        for (size_t i = 0; i < n; i++) {
                const struct ferry_gpu_unit *u = held[i];
                char nodes[3][FERRY_GPU_NODE_MAX];
                if (u->gi >= 0 && !minors &&
                    ferry_read_file(p->gpu_mig_minors, 1 << 20, &minors, &len) < 0)
                        minors = NULL;
                int k = ferry_gpu_unit_nodes(u, minors, nodes, err);
                if (k < 0)
                        goto fail;
                for (int j = 0; j < k; j++) {
                        _cleanup_free_ char *path =
                            ferry_xasprintf("%s/%s", p->gpu_dev_dir, nodes[j]);
                        if (access(path, F_OK) < 0) {
                                k = ferry_errprintf(err, -ENODEV,
                                                    "%s (%s) needs %s, which this host does not "
                                                    "have",
                                                    u->uuid, u->resource, path);
                                goto fail;
                        }
                        pod_gpus_add_node(p, pg, nodes[j]);
                }
                pg->uuids[pg->g.n_uuids++] = ferry_xstrdup(u->uuid);
                char index[16];
                snprintf(index, sizeof(index), "%u", u->gpu);
                const char *name = ferry_gpu_cdi_has(p->cdi, u->uuid)              ? u->uuid
                                   : u->gi < 0 && ferry_gpu_cdi_has(p->cdi, index) ? index
                                                                                   : NULL;
                if (name)
                        pg->cdi[pg->g.n_cdi++] = ferry_xasprintf("nvidia.com/gpu=%s", name);
                else
                        all_cdi = false;
                continue;
        fail:
                pod_gpus_clear(pg);
                return k;
        }
        if (!all_cdi) { /* all CDI, or nodes for all */
                for (size_t i = 0; i < pg->g.n_cdi; i++)
                        free(pg->cdi[i]);
                pg->g.n_cdi = 0;
        }
        pg->g.uuids = (const char *const *)pg->uuids;
        pg->g.cdi = (const char *const *)pg->cdi;
        pg->g.devs = pg->devs;
        return 0;
}

/* Give the pod its GPUs (a new submit): 0 with pg filled (nothing for a pod
 * without GPUs), -EOPNOTSUPP when the host never could, FERRY_BACKEND_WAIT
 * while other pods hold them. */
static int gpu_alloc(struct local_priv *p, const struct ferry_pod *pod, struct pod_gpus *pg,
                     ferry_error_t *err)
{
        struct ferry_gpu_request req;
        int r = ferry_backend_gpu_request(pod, &req, err);
        *pg = (struct pod_gpus){0};
        if (r < 0 || req.n == 0)
                return r;
        pthread_mutex_lock(&p->lock);
        r = ferry_gpu_pool_alloc(&p->gpus, pod->uid, &req, err);
        if (r == -EAGAIN) {
                gpu_release_finished(p);
                r = ferry_gpu_pool_alloc(&p->gpus, pod->uid, &req, err);
        }
        const struct ferry_gpu_unit *held[64];
        size_t n =
            r == 0 ? ferry_gpu_pool_held(&p->gpus, pod->uid, held, FERRY_ARRAY_SIZE(held)) : 0;
        if (n > FERRY_ARRAY_SIZE(held)) {
                r = ferry_errprintf(err, -E2BIG, "the pod asks for %zu GPUs, more than %zu", n,
                                    FERRY_ARRAY_SIZE(held));
        } else if (r == 0) {
                r = pod_gpus_make(p, held, n, pg, err);
        } else if (r == -EAGAIN) {
                r = ferry_errprefix(err, FERRY_BACKEND_WAIT, "GPUUnavailable");
        }
        if (r < 0 && r != FERRY_BACKEND_WAIT)
                ferry_gpu_pool_release(&p->gpus, pod->uid);
        pthread_mutex_unlock(&p->lock);
        return r;
}

/* ---- init ---- */

static char *which(const char *name)
{
        if (strchr(name, '/'))
                return ferry_xstrdup(name);
        const char *path = getenv("PATH");
        if (!path || !*path)
                path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
        for (const char *s = path; *s;) {
                const char *e = strchr(s, ':');
                size_t l = e ? (size_t)(e - s) : strlen(s);
                char *cand = ferry_xasprintf("%.*s/%s", (int)l, s, name);
                if (l && access(cand, X_OK) == 0)
                        return cand;
                free(cand);
                s += l;
                if (*s == ':')
                        s++;
        }
        return ferry_xstrdup(name);
}

static char *find_shim(const struct ferry_backend *be)
{
        const char *env = getenv("FERRY_SHIM");
        const char *opt = ferry_backend_opt(be, "shim", NULL);
        char exe[PATH_MAX];
        ssize_t n;

        if (env && *env)
                return ferry_xstrdup(env);
        if (opt && *opt)
                return ferry_xstrdup(opt);
        if (be->cfg.libexec_dir && *be->cfg.libexec_dir) {
                char *p = ferry_xasprintf("%s/" SHIM_NAME, be->cfg.libexec_dir);
                if (access(p, X_OK) == 0)
                        return p;
                free(p);
        }
        char *inst = ferry_xstrdup(FERRY_LIBEXECDIR "/" SHIM_NAME);
        if (access(inst, X_OK) == 0)
                return inst;
        /* build tree: build/src/ferryd/ferryd next to build/src/shim/ferry-shim */
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n > 0) {
                exe[n] = '\0';
                char *slash = strrchr(exe, '/');
                if (slash) {
                        *slash = '\0';
                        char *cand[] = {ferry_xasprintf("%s/../shim/" SHIM_NAME, exe),
                                        ferry_xasprintf("%s/" SHIM_NAME, exe)};
                        char *found = NULL;
                        for (size_t i = 0; i < 2; i++) {
                                if (!found && access(cand[i], X_OK) == 0)
                                        found = cand[i];
                                else
                                        free(cand[i]);
                        }
                        if (found) {
                                free(inst);
                                return found;
                        }
                }
        }
        return inst;
}

static void parse_image_map(struct local_priv *p, const char *s)
{
        while (s && *s) {
                const char *e = strchr(s, ',');
                size_t l = e ? (size_t)(e - s) : strlen(s);
                char *item = ferry_xstrndup(s, l);
                char *eq = strchr(item, '=');
                if (eq && eq != item && eq[1]) {
                        *eq = '\0';
                        p->image_map = ferry_xrealloc(p->image_map,
                                                      (p->n_image_map + 1) * sizeof(*p->image_map));
                        p->image_map[p->n_image_map++] =
                            (struct runner_image_map){ferry_xstrdup(item), ferry_xstrdup(eq + 1)};
                }
                free(item);
                s += l;
                if (*s == ',')
                        s++;
        }
}

static void local_fini(struct ferry_backend *be)
{
        struct local_priv *p = be->priv;
        if (!p)
                return;
        free(p->root);
        free(p->pods);
        free(p->tmp);
        free(p->shim);
        free(p->bwrap);
        free(p->podman);
        free(p->home);
        free(p->podman_image);
        free(p->podman_pull);
        free(p->apptainer);
        free(p->enroot);
        free(p->image_root);
        for (size_t i = 0; i < p->n_image_map; i++) {
                free(p->image_map[i].from);
                free(p->image_map[i].to);
        }
        free(p->image_map);
        ferry_podsec_clear(&p->sec);
        for (size_t i = 0; i < p->n_binds; i++)
                free(p->binds[i].src);
        free(p->binds);
        for (size_t i = 0; i < p->n_live; i++)
                free(p->live[i].uid);
        free(p->live);
        ferry_gpu_pool_free(&p->gpus);
        for (size_t i = 0; i < p->n_gpu_allow; i++)
                free(p->gpu_allow[i]);
        free(p->gpu_allow);
        free(p->gpu_dev_dir);
        free(p->gpu_mig_minors);
        free(p->cgroup_parent);
        runner_cgroot_clear(&p->cg);
        free(p->cdi);
        pthread_mutex_destroy(&p->lock);
        free(p);
        be->priv = NULL;
}

/* sandbox_paths: "PATH[:ro|:rw],..." host paths shown to every pod at the
 * same place (e.g. /cvmfs, a scratch file system); read-only by default. */
static int parse_sandbox_paths(struct local_priv *p, const char *s, ferry_error_t *err)
{
        while (s && *s) {
                const char *e = strchr(s, ',');
                size_t l = e ? (size_t)(e - s) : strlen(s);
                _cleanup_free_ char *item = ferry_xstrndup(s, l);
                char *colon = strchr(item, ':');
                bool ro = true;
                if (colon) {
                        *colon = '\0';
                        if (strcmp(colon + 1, "rw") == 0)
                                ro = false;
                        else if (strcmp(colon + 1, "ro") != 0)
                                return ferry_errprintf(err, -EINVAL,
                                                       "sandbox_paths: \"%s\": the mode is ro or "
                                                       "rw",
                                                       item);
                }
                if (item[0] != '/' || strstr(item, "/..") || strcmp(item, "/") == 0 ||
                    strpbrk(item, " \t\n"))
                        return ferry_errprintf(err, -EINVAL,
                                               "sandbox_paths: \"%s\" is not an absolute host "
                                               "path below /",
                                               item);
                if (access(item, F_OK) < 0)
                        return ferry_errprintf(
                            err, -errno, "sandbox_paths: %s: %m (bwrap could start no pod)", item);
                p->binds = ferry_xrealloc(p->binds, (p->n_binds + 1) * sizeof(*p->binds));
                p->binds[p->n_binds].src = p->binds[p->n_binds].dst = ferry_xstrdup(item);
                p->binds[p->n_binds++].ro = ro;
                s = e ? e + 1 : NULL;
        }
        return 0;
}

static int local_init(struct ferry_backend *be, ferry_error_t *err)
{
        struct local_priv *p = ferry_xcalloc(1, sizeof(*p));
        const char *rt = be->cfg.runtime;
        int r;

        pthread_mutex_init(&p->lock, NULL);
        be->priv = p;
        if (runner_runtime_parse(rt, &p->kind) < 0) {
                r = ferry_errprintf(err, -EINVAL,
                                    "unknown runtime \"%s\" for the local backend (use bwrap, "
                                    "podman, host, apptainer, singularity or enroot)",
                                    rt);
                goto fail;
        }
        if (!be->cfg.state_dir || !*be->cfg.state_dir) {
                r = ferry_errprintf(err, -EINVAL, "the local backend needs a state directory");
                goto fail;
        }
        p->root = ferry_xasprintf("%s/local", be->cfg.state_dir);
        p->pods = ferry_xasprintf("%s/pods", p->root);
        p->tmp = ferry_xasprintf("%s/tmp", p->root);
        if ((r = ferry_mkdir_p(p->pods, 0700)) < 0 || (r = ferry_mkdir_p(p->tmp, 0700)) < 0) {
                r = ferry_errprintf(err, r, "cannot create %s: %s", p->root, strerror(-r));
                goto fail;
        }
        p->shim = find_shim(be);
        if (access(p->shim, X_OK) < 0)
                log_warn("local backend: %s is not executable (%m); pods will be refused until "
                         "it is installed (set FERRY_SHIM or the shim option)",
                         p->shim);
        p->bwrap = which(ferry_backend_opt(be, "bwrap", "bwrap"));
        p->podman = which(ferry_backend_opt(be, "podman", "podman"));
        const char *home = getenv("HOME");
        p->home = ferry_xstrdup(home && *home ? home : "/root");
        p->network = strcmp(ferry_backend_opt(be, "network", "false"), "true") == 0;
        const char *img = ferry_backend_opt(be, "podman_image", NULL);
        p->podman_image = img && *img ? ferry_xstrdup(img) : NULL;
        p->podman_pull = ferry_xstrdup(ferry_backend_opt(be, "podman_pull", "missing"));
        p->apptainer = which(ferry_backend_opt(be, "apptainer", runner_runtime_name(p->kind)));
        p->enroot = which(ferry_backend_opt(be, "enroot", "enroot"));
        const char *iroot = ferry_backend_opt(be, "image_root", NULL);
        p->image_root = iroot && *iroot ? ferry_xstrdup(iroot) : NULL;
        parse_image_map(p, ferry_backend_opt(be, "image_map", NULL));
        p->max_pods = ferry_backend_opt_int(be, "max_pods", 110);
        p->start_timeout_ms = ferry_backend_opt_int(be, "shim_start_timeout_ms", 10000);
        struct ferry_podsec_options so = {
            .pod_user = ferry_backend_opt(be, "pod_user", NULL),
            .tenant_users = ferry_backend_opt(be, "tenant_users", NULL),
            .allowed_ids = ferry_backend_opt(be, "allowed_ids", NULL),
            .root_namespaces = ferry_backend_opt(be, "root_namespaces", NULL),
            .host_namespaces = ferry_backend_opt(be, "host_namespaces", NULL),
        };
        if ((r = ferry_podsec_parse(&p->sec, &so, err)) < 0 ||
            (r = parse_sandbox_paths(p, ferry_backend_opt(be, "sandbox_paths", NULL), err)) < 0)
                goto fail;
        if (geteuid() == 0 && ((r = runner_podwd_open_path(be->cfg.state_dir, p->pods, err)) < 0 ||
                               (r = runner_podwd_open_path(be->cfg.state_dir, p->tmp, err)) < 0))
                goto fail;
        /* GPUs: which the admin lets pods have (all when unset), from NVML */
        const char *allow = ferry_backend_opt(be, "gpus", "all");
        p->gpu_none = strcmp(allow, "none") == 0;
        if (strcmp(allow, "all") != 0 && !p->gpu_none) {
                _cleanup_free_ char *copy = ferry_xstrdup(allow);
                char *save = NULL;
                for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
                        p->gpu_allow =
                            ferry_xrealloc(p->gpu_allow, (p->n_gpu_allow + 1) * sizeof(char *));
                        p->gpu_allow[p->n_gpu_allow++] = ferry_xstrdup(t);
                }
        }
        p->gpu_dev_dir = ferry_xstrdup(ferry_backend_opt(be, "gpu_dev_dir", "/dev"));
        p->gpu_mig_minors =
            ferry_xstrdup(ferry_backend_opt(be, "gpu_mig_minors", FERRY_GPU_MIG_MINORS));
        if (p->kind == RUNNER_RT_PODMAN)
                p->cdi = read_cdi(ferry_backend_opt(be, "cdi_spec_dirs", "/etc/cdi:/var/run/cdi"));
        gpu_refresh(p);
        if (p->gpu_host)
                log_info("local backend: %zu GPU units to hand out%s", p->gpus.n,
                         p->cdi ? " (podman: CDI where the spec names them)" : "");

        if ((r = ferry_backend_log_opts(be, &p->log_max_size, &p->log_max_files, err)) < 0)
                goto fail;
        /* the shim inherits our cgroup: what we can make, it can */
        p->cgroup_parent = ferry_xstrdup(ferry_backend_opt(be, "cgroup_parent", "auto"));
        runner_cgroot_probe(p->cgroup_parent, &p->cg);
        runner_cgroot_describe(&p->cg, p->cg_desc, sizeof(p->cg_desc));
        if (p->cg.version)
                log_info("local backend: container limits in %s", p->cg_desc);
        else
                log_warn("local backend: memory and CPU limits are NOT enforced: %s", p->cg_desc);

        if (p->kind == RUNNER_RT_BWRAP && access(p->bwrap, X_OK) < 0) {
                r = ferry_errprintf(err, -ENOENT,
                                    "the bwrap runtime needs bubblewrap, and %s is not executable "
                                    "(apt-get install bubblewrap, or set the bwrap option)",
                                    p->bwrap);
                goto fail;
        }

        /* leftovers of submits cut short by a crash; they were never launched */
        DIR *d = opendir(p->tmp);
        struct dirent *de;
        while (d && (de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *t = ferry_xasprintf("%s/%s", p->tmp, de->d_name);
                ferry_rm_rf(t);
        }
        if (d)
                closedir(d);
        /* pods that still hold resources */
        d = opendir(p->pods);
        while (d && (de = readdir(d))) {
                if (de->d_name[0] == '.' || !runner_podwd_uid_ok(de->d_name))
                        continue;
                live_load(p, de->d_name);
                _cleanup_free_ char *wd = workdir(p, de->d_name);
                pthread_mutex_lock(&p->lock);
                gpu_load(p, de->d_name, wd);
                pthread_mutex_unlock(&p->lock);
        }
        if (d)
                closedir(d);
        return 0;
fail:
        local_fini(be);
        return r;
}

/* ---- submit ---- */

static struct runner_rtconf rtconf(const struct ferry_backend *be, const char *wd)
{
        const struct local_priv *p = be->priv;
        return (struct runner_rtconf){
            .masks = be->cfg.private_paths,
            .n_masks = be->cfg.n_private_paths,
            .kind = p->kind,
            .workdir = wd,
            .bwrap = p->bwrap,
            .podman = p->podman,
            .network = p->network,
            .podman_image = p->podman_image,
            .podman_pull = p->podman_pull,
            .apptainer = p->apptainer,
            .enroot = p->enroot,
            .image_root = p->image_root,
            .home = p->home,
            .image_map = p->image_map,
            .n_image_map = p->n_image_map,
            .hostfs = runner_hostfs_real,
            .binds = p->binds,
            .n_binds = p->n_binds,
            /* podman limits its own cgroup (--memory, --cpus) */
            .log_max_size = p->log_max_size,
            .log_max_files = p->log_max_files,
            .cgroup_parent = p->cg.version && p->kind != RUNNER_RT_PODMAN ? p->cgroup_parent : NULL,
        };
}

/* Start ferry-shim detached (setsid + double fork) and wait until it says it
 * took the pod. The shim writes "ok\n" on fd 3 once it holds the lock. */
static int launch_shim(const struct local_priv *p, const char *wd, ferry_error_t *err)
{
        _cleanup_free_ char *out = ferry_xasprintf("%s/shim.out", wd);
        char *const argv[] = {(char *)SHIM_NAME, (char *)wd, NULL};
        char *const envp[] = {
            (char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};
        int pfd[2];
        pid_t pid;

        if (access(p->shim, X_OK) < 0)
                return ferry_errprintf(err, -ENOENT,
                                       "cannot start pods: %s is not executable (install Ferry, "
                                       "or set FERRY_SHIM)",
                                       p->shim);
        if (pipe2(pfd, O_CLOEXEC) < 0)
                return ferry_errprintf(err, -errno, "pipe: %m");
        pid = fork();
        if (pid < 0) {
                int e = errno;
                close(pfd[0]);
                close(pfd[1]);
                return ferry_errprintf(err, -e, "fork: %s", strerror(e));
        }
        if (pid == 0) {
                /* async-signal-safe calls only: ferryd is multithreaded */
                setsid();
                if (fork() != 0)
                        _exit(0);
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                int o = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (null < 0 || o < 0)
                        _exit(127);
                dup2(null, 0);
                dup2(o, 1);
                dup2(o, 2);
                dup2(pfd[1], 3);
                syscall(SYS_close_range, 4U, ~0U, 0U);
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                for (int s = 1; s < NSIG; s++)
                        if (s != SIGKILL && s != SIGSTOP)
                                signal(s, SIG_DFL);
                execve(p->shim, argv, envp);
                _exit(127);
        }
        close(pfd[1]);
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        char buf[64];
        size_t got = 0;
        int64_t deadline = ferry_monotonic_ns() + p->start_timeout_ms * 1000000;
        for (;;) {
                int64_t left = (deadline - ferry_monotonic_ns()) / 1000000;
                if (left <= 0)
                        break;
                struct pollfd pf = {.fd = pfd[0], .events = POLLIN};
                int r = poll(&pf, 1, (int)left);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                ssize_t n = read(pfd[0], buf + got, sizeof(buf) - 1 - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                got += (size_t)n;
                if (got >= sizeof(buf) - 1 || memchr(buf, '\n', got))
                        break;
        }
        close(pfd[0]);
        buf[got] = '\0';
        if (strncmp(buf, "ok\n", 3) == 0 || exists(wd, "started"))
                return 0;
        /* say why, from what the shim wrote */
        char *log = NULL;
        size_t len = 0;
        ferry_read_file(out, 4096, &log, &len);
        char *nl = log ? strrchr(log, '\n') : NULL;
        if (nl && nl[1] == '\0') {
                *nl = '\0';
                nl = strrchr(log, '\n');
        }
        int r = ferry_errprintf(err, -EIO, "ferry-shim (%s) did not start the pod%s%s", p->shim,
                                log && *log ? ": " : "", log ? (nl ? nl + 1 : log) : "");
        free(log);
        return r;
}

static int local_submit(struct ferry_backend *be, const struct ferry_pod *pod,
                        char ret_jid[FERRY_JID_MAX], ferry_error_t *err)
{
        struct local_priv *p = be->priv;
        _cleanup_free_ char *wd = NULL;
        int r;

        if (!runner_podwd_uid_ok(pod->uid))
                return ferry_errprintf(err, -EINVAL, "pod uid \"%s\" is not usable as a job id",
                                       pod->uid ? pod->uid : "");
        wd = workdir(p, pod->uid);
        if (access(wd, F_OK) < 0) {
                struct ferry_pod_user user;
                if (p->kind == RUNNER_RT_HOST &&
                    !ferry_podsec_host_allowed(&p->sec, pod->namespace))
                        return ferry_errprintf(err, -EPERM,
                                               "this site runs pods with the host runtime, which "
                                               "does not isolate them; namespace \"%s\" is not "
                                               "allowed to use it (host_namespaces)",
                                               pod->namespace ? pod->namespace : "default");
                if ((r = ferry_podsec_resolve(&p->sec, pod, &user, err)) < 0)
                        return r;
                struct pod_gpus pg;
                if ((r = gpu_alloc(p, pod, &pg, err)) < 0)
                        return r;
                struct runner_rtconf rc = rtconf(be, wd);
                rc.user = &user;
                rc.gpus = p->gpu_host || pg.g.n_uuids ? &pg.g : NULL;
                int64_t cpu = 0, mem = 0;
                r = runner_podwd_create(&rc, pod, p->tmp, &cpu, &mem, err);
                pod_gpus_clear(&pg);
                if (r < 0) {
                        gpu_release(p, pod->uid);
                        return r;
                }
                live_set(p, pod->uid, cpu, mem, false);
        } else {
                live_load(p, pod->uid);
        }
        /* launched already (or running): answer the same job */
        if (!exists(wd, "started") && shim_alive(wd) <= 0) {
                r = launch_shim(p, wd, err);
                if (r < 0)
                        return r;
        }
        snprintf(ret_jid, FERRY_JID_MAX, "%s", pod->uid);
        return 0;
}

static int local_find(struct ferry_backend *be, const char *uid, char ret_jid[FERRY_JID_MAX],
                      ferry_error_t *err)
{
        struct local_priv *p = be->priv;
        if (!runner_podwd_uid_ok(uid))
                return 0;
        _cleanup_free_ char *wd = workdir(p, uid);
        if (!exists(wd, "started") && shim_alive(wd) <= 0)
                return 0; /* never launched: a new submit will */
        live_load(p, uid);
        snprintf(ret_jid, FERRY_JID_MAX, "%s", uid);
        return 1;
}

/* ---- poll ---- */

static void poll_one(struct local_priv *p, struct ferry_poll_item *it)
{
        _cleanup_free_ char *wd = workdir(p, it->uid);
        struct ferry_pod_status *st = it->status;
        size_t n = (size_t)st->n_init + st->n_containers;

        if (access(wd, F_OK) < 0) {
                snprintf(st->reason, sizeof(st->reason), "NotFound");
                ferry_pod_status_set_message(st, "the local backend has no working directory "
                                                 "for this pod");
                for (size_t i = 0; i < n; i++)
                        if (st->c[i].state != FERRY_C_TERMINATED) {
                                st->c[i].state = FERRY_C_TERMINATED;
                                st->c[i].exit_code = st->c[i].exit_code ? st->c[i].exit_code : 1;
                                snprintf(st->c[i].reason, sizeof(st->c[i].reason), "Error");
                                ferry_cstatus_set_message(&st->c[i], "lost: the pod's working "
                                                                     "directory is gone");
                        }
                st->phase = ferry_pod_status_derive_phase(st);
                return;
        }
        bool done = exists(wd, "done");
        bool dead = false;
        if (!done) {
                if (!exists(wd, "started"))
                        return; /* not launched yet */
                if (shim_alive(wd) == 0) {
                        done = exists(wd, "done"); /* it may just have finished */
                        dead = !done;
                }
        }
        for (size_t i = 0; i < n; i++) {
                struct runner_cstate s;
                if (runner_cstate_read(wd, st->c[i].name, &s) == 0)
                        runner_cstate_apply(&st->c[i], &s);
                if (dead && st->c[i].state != FERRY_C_TERMINATED) {
                        st->c[i].state = FERRY_C_TERMINATED;
                        st->c[i].exit_code = 128 + SIGKILL;
                        st->c[i].ready = false;
                        if (st->c[i].started_ns && !st->c[i].finished_ns)
                                st->c[i].finished_ns = ferry_now_ns();
                        snprintf(st->c[i].reason, sizeof(st->c[i].reason), "Error");
                        ferry_cstatus_set_message(&st->c[i], "ferry-shim exited without "
                                                             "recording this container");
                }
        }
        char *ps = NULL;
        size_t len;
        _cleanup_free_ char *pspath = ferry_xasprintf("%s/pod.state", wd);
        if (ferry_read_file(pspath, 1024, &ps, &len) == 0) {
                char *nl = strchr(ps, '\n');
                if (nl) {
                        *nl = '\0';
                        snprintf(st->reason, sizeof(st->reason), "%s", ps);
                        char *msg = nl + 1;
                        char *end = strchr(msg, '\n');
                        if (end)
                                *end = '\0';
                        ferry_pod_status_set_message(st, *msg ? msg : NULL);
                }
                free(ps);
        }
        runner_pod_probe_message(st);
        st->phase = ferry_pod_status_derive_phase(st);
        if (done || dead) {
                live_finished(p, it->uid);
                gpu_release(p, it->uid);
        }
}

static int local_poll(struct ferry_backend *be, struct ferry_poll_item *items, size_t n,
                      ferry_error_t *err)
{
        struct local_priv *p = be->priv;
        for (size_t i = 0; i < n; i++)
                if (runner_podwd_uid_ok(items[i].uid))
                        poll_one(p, &items[i]);
        return 0;
}

/* ---- kill, cleanup ---- */

/* SIGKILL whatever a dead shim left behind; true when something was still alive. */
static bool reap_orphans(const char *wd)
{
        _cleanup_free_ char *sd = ferry_xasprintf("%s/state", wd);
        DIR *d = opendir(sd);
        struct dirent *de;
        bool alive = false;

        while (d && (de = readdir(d))) {
                struct runner_cstate s;
                if (de->d_name[0] == '.' || strchr(de->d_name, '.'))
                        continue;
                if (runner_cstate_read(wd, de->d_name, &s) < 0 || s.state != RUNNER_CS_RUNNING)
                        continue;
                if (runner_proc_alive(s.pid, s.pid_start)) {
                        kill(-s.pid, SIGKILL);
                        alive = true;
                }
        }
        if (d)
                closedir(d);
        return alive;
}

static int local_kill(struct ferry_backend *be, const char *uid, const char *jid, int64_t grace_s,
                      ferry_error_t *err)
{
        struct local_priv *p = be->priv;
        if (!runner_podwd_uid_ok(uid))
                return 0;
        _cleanup_free_ char *wd = workdir(p, uid);
        if (access(wd, F_OK) < 0)
                return 0;
        /* ferry-shim reads the grace period on each SIGTERM (a shorter one may come) */
        int r = runner_podwd_mark_deleted(wd, grace_s, err);
        if (r < 0)
                return r;
        int alive = shim_alive(wd);
        if (alive > 0) {
                char *text = NULL;
                size_t len;
                long pid = 0;
                unsigned long long start = 0;
                _cleanup_free_ char *pp = ferry_xasprintf("%s/shim.pid", wd);
                if (ferry_read_file(pp, 128, &text, &len) == 0 &&
                    sscanf(text, "%ld %llu", &pid, &start) == 2 &&
                    runner_proc_alive((pid_t)pid, start))
                        kill((pid_t)pid, SIGTERM);
                free(text);
                return -EINPROGRESS;
        }
        if (reap_orphans(wd))
                return -EINPROGRESS;
        live_finished(p, uid);
        gpu_release(p, uid);
        return 0;
}

static int local_cleanup(struct ferry_backend *be, const char *uid, const char *jid,
                         ferry_error_t *err)
{
        struct local_priv *p = be->priv;
        if (!runner_podwd_uid_ok(uid))
                return 0;
        _cleanup_free_ char *wd = workdir(p, uid);
        if (shim_alive(wd) > 0)
                return ferry_errprintf(err, -EBUSY, "pod %s is still running; kill it first", uid);
        int r = ferry_rm_rf(wd);
        if (r < 0 && r != -ENOENT)
                return ferry_errprintf(err, r, "cannot remove %s: %s", wd, strerror(-r));
        live_remove(p, uid);
        gpu_release(p, uid);
        runner_cgroot_sweep(&p->cg, uid); /* a shim killed with SIGKILL left them */
        return 0;
}

/* ---- capacity, logs ---- */

/* a field of /proc/meminfo ("MemAvailable:", "MemTotal:") in bytes */
static int64_t meminfo(const char *field)
{
        char *text = NULL;
        size_t len;
        long long kb = -1;
        if (ferry_read_file("/proc/meminfo", 65536, &text, &len) == 0) {
                char *m = strstr(text, field);
                if (m)
                        kb = strtoll(m + strlen(field), NULL, 10);
                free(text);
        }
        return kb < 0 ? 0 : (int64_t)kb * 1024;
}

static int local_capacity(struct ferry_backend *be, struct ferry_capacity *ret, ferry_error_t *err)
{
        struct local_priv *p = be->priv;
        int64_t cpu = 0, mem = 0, pods = 0;
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

        pthread_mutex_lock(&p->lock);
        for (size_t i = 0; i < p->n_live; i++) {
                if (p->live[i].finished)
                        continue;
                cpu += p->live[i].cpu_milli;
                mem += p->live[i].memory_bytes;
                pods++;
        }
        pthread_mutex_unlock(&p->lock);
        memset(ret, 0, sizeof(*ret));
        ret->total_cpu_milli = (ncpu > 0 ? ncpu : 1) * 1000;
        ret->total_memory_bytes = meminfo("MemTotal:");
        ret->total_pods = p->max_pods;
        ret->cpu_milli = ret->total_cpu_milli - cpu;
        ret->memory_bytes = meminfo("MemAvailable:") - mem;
        ret->pods = p->max_pods - pods;
        if (ret->cpu_milli < 0)
                ret->cpu_milli = 0;
        if (ret->memory_bytes < 0)
                ret->memory_bytes = 0;
        if (ret->pods < 0)
                ret->pods = 0;
        snprintf(ret->status, sizeof(ret->status), "local/%s: %" PRId64 " pods running%s",
                 runner_runtime_name(p->kind), pods,
                 p->cg.version || p->kind == RUNNER_RT_PODMAN
                     ? ""
                     : "; memory and CPU limits are not enforced (no cgroups)");
        /* free GPU units from the allocation, after a fresh look at NVML */
        struct ferry_gpu_capacity g;
        gpu_refresh(p);
        pthread_mutex_lock(&p->lock);
        gpu_release_finished(p);
        ferry_gpu_pool_capacity(&p->gpus, &g);
        pthread_mutex_unlock(&p->lock);
        for (size_t i = 0; i < g.n && ret->n_accel < FERRY_ARRAY_SIZE(ret->accel); i++) {
                snprintf(ret->accel[ret->n_accel].resource, sizeof(ret->accel[0].resource), "%s",
                         g.item[i].resource);
                ret->accel[ret->n_accel].total = g.item[i].total;
                ret->accel[ret->n_accel++].available = g.item[i].free;
        }
        return 0;
}

static void local_usage(struct ferry_backend *be, const char *uid,
                        const struct ferry_pod_status *st, int64_t *ret_cpu_ns,
                        int64_t *ret_mem_peak)
{
        struct local_priv *p = be->priv;
        char wd[PATH_MAX];
        snprintf(wd, sizeof(wd), "%s/%s", p->pods, uid);
        runner_pod_usage(wd, st, ret_cpu_ns, ret_mem_peak);
}

static int local_log_path(struct ferry_backend *be, const char *uid, const char *jid,
                          const char *container, char *ret_path, size_t size, ferry_error_t *err)
{
        struct local_priv *p = be->priv;
        return runner_podwd_log_path(p->pods, uid, container, ret_path, size, err);
}

static void local_devices(struct ferry_backend *be, const char *uid, char *ret, size_t size)
{
        struct local_priv *p = be->priv;
        pthread_mutex_lock(&p->lock);
        ferry_gpu_pool_held_list(&p->gpus, uid, ret, size);
        pthread_mutex_unlock(&p->lock);
}

const struct ferry_backend_ops ferry_backend_local_ops = {
    .name = "local",
    .init = local_init,
    .fini = local_fini,
    .submit = local_submit,
    .find = local_find,
    .poll = local_poll,
    .kill = local_kill,
    .cleanup = local_cleanup,
    .capacity = local_capacity,
    .log_path = local_log_path,
    .devices = local_devices,
    .usage = local_usage,
};
