/* SPDX-License-Identifier: MIT */
/* Per-container cgroups: see cgroup.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner/cgroup.h"
#include "common/util.h"

static const char *const ctl_names[RUNNER_CG_N] = {"memory", "cpu", "cpuacct"};

static int write_str(const char *dir, const char *file, const char *text)
{
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", dir, file);
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = ferry_write_all(fd, text, strlen(text));
        close(fd);
        return r;
}

static int64_t read_i64(const char *dir, const char *file, const char *key)
{
        char p[4096], *text = NULL;
        size_t len;
        int64_t v = -1;
        snprintf(p, sizeof(p), "%s/%s", dir, file);
        if (ferry_read_file(p, 65536, &text, &len) < 0)
                return -1;
        if (!key) {
                v = strtoll(text, NULL, 10);
        } else {
                size_t kl = strlen(key);
                for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                        if (!strncmp(l, key, kl) && l[kl] == ' ') {
                                v = strtoll(l + kl + 1, NULL, 10);
                                break;
                        }
        }
        free(text);
        return v;
}

/* The caller's cgroup path in the hierarchy holding ctl ("" = v2's). */
static char *own_path(const char *ctl)
{
        char *text = NULL, *ret = NULL;
        size_t len;
        if (ferry_read_file("/proc/self/cgroup", 65536, &text, &len) < 0)
                return NULL;
        for (char *l = text, *next; l && *l && !ret; l = next) {
                next = strchr(l, '\n');
                if (next)
                        *next++ = '\0';
                char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                *c2 = '\0';
                const char *ctls = c1 + 1;
                bool match = false;
                if (!*ctl) {
                        match = !*ctls && !strncmp(l, "0:", 2);
                } else {
                        for (const char *s = ctls; *s && !match;) {
                                size_t n = strcspn(s, ",");
                                match = n == strlen(ctl) && !strncmp(s, ctl, n);
                                s += n + (s[n] == ',');
                        }
                }
                if (match)
                        ret = ferry_xstrdup(c2 + 1);
        }
        free(text);
        return ret;
}

/* Mount point of the v1 hierarchy holding ctl ("" = cgroup2), with its root. */
static int find_mount(const char *ctl, char **ret_mnt, char **ret_root)
{
        FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[4096];
        int r = -ENOENT;
        if (!f)
                return -errno;
        while (r < 0 && fgets(line, sizeof(line), f)) {
                char root[1024], mnt[1024], fstype[64], super[1024];
                const char *dash = strstr(line, " - ");
                if (!dash || sscanf(line, "%*s %*s %*s %1023s %1023s", root, mnt) != 2 ||
                    sscanf(dash + 3, "%63s %*s %1023s", fstype, super) != 2)
                        continue;
                if (!*ctl) {
                        if (strcmp(fstype, "cgroup2"))
                                continue;
                } else {
                        bool has = false;
                        if (strcmp(fstype, "cgroup"))
                                continue;
                        for (const char *s = super; *s && !has;) {
                                size_t n = strcspn(s, ",");
                                has = n == strlen(ctl) && !strncmp(s, ctl, n);
                                s += n + (s[n] == ',');
                        }
                        if (!has)
                                continue;
                }
                *ret_mnt = ferry_xstrdup(mnt);
                *ret_root = ferry_xstrdup(root);
                r = 0;
        }
        fclose(f);
        return r;
}

/* mount + parent (absolute, from the hierarchy's root) or mount + own path + "/ferry". */
static char *parent_dir(const char *mnt, const char *root, const char *ctl, const char *parent)
{
        if (parent)
                return ferry_xasprintf("%s/%s", mnt, parent[0] == '/' ? parent + 1 : parent);
        _cleanup_free_ char *own = own_path(ctl);
        if (!own)
                return NULL;
        const char *rel = own;
        size_t rl = strlen(root);
        if (strcmp(root, "/") && !strncmp(own, root, rl))
                rel = own + rl; /* the mount shows only a subtree */
        while (*rel == '/')
                rel++;
        return ferry_xasprintf("%s%s%s/ferry", mnt, *rel ? "/" : "", rel);
}

static int probe_v2(const char *parent, struct runner_cgroot *ret)
{
        _cleanup_free_ char *mnt = NULL, *root = NULL, *ctls = NULL;
        size_t len;
        if (find_mount("", &mnt, &root) < 0)
                return -ENOENT;
        char p[4096];
        snprintf(p, sizeof(p), "%s/cgroup.controllers", mnt);
        if (ferry_read_file(p, 4096, &ctls, &len) < 0 || !strstr(ctls, "memory") ||
            !strstr(ctls, "cpu"))
                return -ENOENT; /* a hybrid host's empty unified hierarchy */
        const char *rel = parent ? (parent[0] == '/' ? parent + 1 : parent) : "ferry";
        /* enable memory and cpu from the root down to the parent */
        char *dir = ferry_xstrdup(mnt);
        int r = write_str(dir, "cgroup.subtree_control", "+memory +cpu");
        for (const char *s = rel; r == 0 && *s;) {
                size_t n = strcspn(s, "/");
                char *next = ferry_xasprintf("%s/%.*s", dir, (int)n, s);
                free(dir);
                dir = next;
                if (n && mkdir(dir, 0755) < 0 && errno != EEXIST)
                        r = -errno;
                if (r == 0 && n)
                        r = write_str(dir, "cgroup.subtree_control", "+memory +cpu");
                s += n + (s[n] == '/');
        }
        if (r == 0 && access(dir, W_OK) < 0)
                r = -errno;
        if (r < 0) {
                snprintf(ret->why, sizeof(ret->why), "cannot set up %s (cgroup v2): %s", dir,
                         strerror(-r));
                free(dir);
                return r;
        }
        ret->version = 2;
        ret->dir[0] = dir;
        return 0;
}

static int probe_v1(const char *parent, struct runner_cgroot *ret)
{
        for (int k = 0; k < RUNNER_CG_N; k++) {
                _cleanup_free_ char *mnt = NULL, *root = NULL;
                if (find_mount(ctl_names[k], &mnt, &root) < 0) {
                        if (k == RUNNER_CG_CPUACCT)
                                continue; /* CPU seconds unknown; limits still hold */
                        snprintf(ret->why, sizeof(ret->why),
                                 "no cgroup v1 %s hierarchy and no cgroup v2 with memory and "
                                 "cpu controllers is mounted",
                                 ctl_names[k]);
                        return -ENOENT;
                }
                char *d = parent_dir(mnt, root, ctl_names[k], parent);
                if (!d) {
                        snprintf(ret->why, sizeof(ret->why), "cannot find this process's %s cgroup",
                                 ctl_names[k]);
                        return -ENOENT;
                }
                int r = ferry_mkdir_p(d, 0755);
                if (r == 0 && access(d, W_OK) < 0)
                        r = -errno; /* made by root before: not ours to use */
                if (r < 0) {
                        snprintf(ret->why, sizeof(ret->why), "cannot create %s: %s", d,
                                 strerror(-r));
                        free(d);
                        return r;
                }
                ret->dir[k] = d;
        }
        ret->version = 1;
        return 0;
}

int runner_cgroot_probe(const char *parent, struct runner_cgroot *ret)
{
        *ret = (struct runner_cgroot){0};
        if (parent && !strcmp(parent, "off")) {
                snprintf(ret->why, sizeof(ret->why), "cgroups are turned off (cgroup_parent: off)");
                return -ENOTSUP;
        }
        if (parent && (!strcmp(parent, "auto") || !*parent))
                parent = NULL;
        if (parent && strstr(parent, "..")) {
                snprintf(ret->why, sizeof(ret->why), "cgroup_parent must not contain \"..\"");
                return -EINVAL;
        }
        int r = probe_v2(parent, ret);
        if (r == 0 || r != -ENOENT)
                return r;
        r = probe_v1(parent, ret);
        if (r < 0)
                runner_cgroot_clear(ret), ret->version = 0;
        return r;
}

void runner_cgroot_clear(struct runner_cgroot *r)
{
        for (int k = 0; k < RUNNER_CG_N; k++) {
                free(r->dir[k]);
                r->dir[k] = NULL;
        }
}

void runner_cgroot_describe(const struct runner_cgroot *r, char *buf, size_t size)
{
        if (r->version == 2)
                snprintf(buf, size, "cgroup v2 under %s", r->dir[0]);
        else if (r->version == 1)
                snprintf(buf, size, "cgroup v1 under %s (memory), %s (cpu)%s%s",
                         r->dir[RUNNER_CG_MEMORY], r->dir[RUNNER_CG_CPU],
                         r->dir[RUNNER_CG_CPUACCT] ? ", " : ", no cpuacct",
                         r->dir[RUNNER_CG_CPUACCT] ? r->dir[RUNNER_CG_CPUACCT] : "");
        else
                snprintf(buf, size, "%s", r->why[0] ? r->why : "no cgroups");
}

void runner_cgroot_sweep(const struct runner_cgroot *r, const char *uid)
{
        size_t ul = strlen(uid);
        for (int k = 0; k < RUNNER_CG_N; k++) {
                DIR *d = r->dir[k] ? opendir(r->dir[k]) : NULL;
                struct dirent *de;
                while (d && (de = readdir(d))) {
                        if (strncmp(de->d_name, uid, ul) || de->d_name[ul] != '.' ||
                            de->d_type != DT_DIR)
                                continue;
                        _cleanup_free_ char *pd = ferry_xasprintf("%s/%s", r->dir[k], de->d_name);
                        DIR *c = opendir(pd);
                        struct dirent *ce;
                        while (c && (ce = readdir(c)))
                                if (ce->d_type == DT_DIR && ce->d_name[0] != '.') {
                                        _cleanup_free_ char *cd =
                                            ferry_xasprintf("%s/%s", pd, ce->d_name);
                                        rmdir(cd);
                                }
                        if (c)
                                closedir(c);
                        rmdir(pd);
                }
                if (d)
                        closedir(d);
        }
}

/* ---- a container's cgroup ---- */

static bool name_ok(const char *s)
{
        return s && *s && *s != '.' && !strchr(s, '/') && strlen(s) < 256;
}

int runner_cg_create(const struct runner_cgroot *root, const char *pod, const char *name,
                     const struct runner_cglimits *l, struct runner_cg *ret, char *why,
                     size_t why_size)
{
        *ret = (struct runner_cg){.version = root->version};
        if (!root->version || !name_ok(pod) || !name_ok(name)) {
                snprintf(why, why_size, "no cgroup for %s", name);
                return -EINVAL;
        }
        int r = 0;
        for (int k = 0; k < RUNNER_CG_N && r == 0; k++) {
                if (!root->dir[k])
                        continue;
                char *pd = ferry_xasprintf("%s/%s", root->dir[k], pod);
                if (mkdir(pd, 0755) < 0 && errno != EEXIST)
                        r = -errno;
                if (r == 0 && root->version == 2)
                        write_str(pd, "cgroup.subtree_control", "+memory +cpu");
                free(pd);
                if (r < 0)
                        break;
                ret->dir[k] = ferry_xasprintf("%s/%s/%s", root->dir[k], pod, name);
                bool dup = false;
                for (int j = 0; j < k; j++)
                        dup |= ret->dir[j] && !strcmp(ret->dir[j], ret->dir[k]);
                if (dup)
                        continue;
                if (mkdir(ret->dir[k], 0755) < 0 && errno != EEXIST)
                        r = -errno;
                else
                        ret->procs[k] = ferry_xasprintf("%s/cgroup.procs", ret->dir[k]);
        }
        if (r < 0) {
                snprintf(why, why_size, "cannot create the cgroup of %s: %s", name, strerror(-r));
                runner_cg_remove(ret);
                return r;
        }
        char v[64];
        const char *mem = ret->dir[RUNNER_CG_MEMORY], *cpu = ret->dir[RUNNER_CG_CPU];
        if (ret->version == 2)
                mem = cpu = ret->dir[0];
        if (l->memory_bytes > 0) {
                snprintf(v, sizeof(v), "%" PRId64, l->memory_bytes);
                if (ret->version == 2) {
                        r = write_str(mem, "memory.max", v);
                        write_str(mem, "memory.swap.max", "0"); /* absent without swap */
                } else {
                        r = write_str(mem, "memory.limit_in_bytes", v);
                        write_str(mem, "memory.memsw.limit_in_bytes", v); /* no swap escape */
                }
                if (r < 0) {
                        snprintf(why, why_size, "cannot set the memory limit of %s: %s", name,
                                 strerror(-r));
                        runner_cg_remove(ret);
                        return r;
                }
        }
        if (l->cpu_milli > 0) {
                /* the kubelet's rule: period 100 ms, quota milli * 100 us, at least 1 ms */
                int64_t quota = l->cpu_milli * 100 < 1000 ? 1000 : l->cpu_milli * 100;
                if (ret->version == 2) {
                        snprintf(v, sizeof(v), "%" PRId64 " 100000", quota);
                        r = write_str(cpu, "cpu.max", v);
                } else {
                        r = write_str(cpu, "cpu.cfs_period_us", "100000");
                        snprintf(v, sizeof(v), "%" PRId64, quota);
                        if (r == 0)
                                r = write_str(cpu, "cpu.cfs_quota_us", v);
                }
                if (r < 0) {
                        snprintf(why, why_size, "cannot set the CPU limit of %s: %s", name,
                                 strerror(-r));
                        runner_cg_remove(ret);
                        return r;
                }
        }
        return 0;
}

int runner_cg_enter(const struct runner_cg *cg)
{
        for (int k = 0; k < RUNNER_CG_N; k++) {
                if (!cg->procs[k])
                        continue;
                int fd = open(cg->procs[k], O_WRONLY | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                ssize_t n = write(fd, "0", 1);
                int e = errno;
                close(fd);
                if (n != 1)
                        return -e;
        }
        return 0;
}

void runner_cg_stats(const struct runner_cg *cg, struct runner_cgstats *ret)
{
        *ret = (struct runner_cgstats){.cpu_ns = -1, .mem_peak = -1};
        if (cg->version == 2) {
                int64_t us = read_i64(cg->dir[0], "cpu.stat", "usage_usec");
                ret->cpu_ns = us < 0 ? -1 : us * 1000;
                ret->mem_peak = read_i64(cg->dir[0], "memory.peak", NULL);
                int64_t k = read_i64(cg->dir[0], "memory.events", "oom_kill");
                ret->oom_kills = k < 0 ? 0 : k;
        } else if (cg->version == 1) {
                if (cg->dir[RUNNER_CG_CPUACCT])
                        ret->cpu_ns = read_i64(cg->dir[RUNNER_CG_CPUACCT], "cpuacct.usage", NULL);
                ret->mem_peak =
                    read_i64(cg->dir[RUNNER_CG_MEMORY], "memory.max_usage_in_bytes", NULL);
                int64_t k = read_i64(cg->dir[RUNNER_CG_MEMORY], "memory.oom_control", "oom_kill");
                ret->oom_kills = k < 0 ? 0 : k;
        }
}

int runner_cg_kill(const struct runner_cg *cg)
{
        int n = 0;
        for (int k = 0; k < RUNNER_CG_N; k++) {
                char *text = NULL;
                size_t len;
                if (!cg->procs[k] || ferry_read_file(cg->procs[k], 1 << 20, &text, &len) < 0)
                        continue;
                for (char *s = text; *s;) {
                        pid_t p = (pid_t)strtol(s, &s, 10);
                        if (p > 0 && kill(p, SIGKILL) == 0)
                                n++;
                        while (*s == '\n')
                                s++;
                        if (p <= 0)
                                break;
                }
                free(text);
        }
        return n;
}

static bool cg_empty(const struct runner_cg *cg)
{
        for (int k = 0; k < RUNNER_CG_N; k++) {
                char *text = NULL;
                size_t len = 0;
                if (cg->procs[k] && ferry_read_file(cg->procs[k], 1 << 20, &text, &len) == 0) {
                        free(text);
                        if (len > 0)
                                return false;
                }
        }
        return true;
}

void runner_cg_remove(struct runner_cg *cg)
{
        /* killed processes take a moment to leave; a busy cgroup cannot go */
        for (int i = 0; i < 200 && !cg_empty(cg); i++) {
                runner_cg_kill(cg);
                usleep(10000);
        }
        for (int k = 0; k < RUNNER_CG_N; k++) {
                if (!cg->dir[k])
                        continue;
                rmdir(cg->dir[k]); /* a duplicate directory is gone already: ENOENT */
                char *slash = strrchr(cg->dir[k], '/');
                if (slash) {
                        *slash = '\0';
                        rmdir(cg->dir[k]); /* the pod's, once its last container is gone */
                }
        }
        runner_cg_clear(cg);
}

void runner_cg_clear(struct runner_cg *cg)
{
        for (int k = 0; k < RUNNER_CG_N; k++) {
                free(cg->dir[k]);
                free(cg->procs[k]);
                cg->dir[k] = cg->procs[k] = NULL;
        }
}
