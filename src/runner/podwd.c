/* SPDX-License-Identifier: MIT */
/*
 * A pod's working directory, shared by the local and Slurm backends (see
 * podwd.h).
 */
#include "runner/podwd.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "logs/logfile.h"
#include "pod/status.h"

static int write_file_in(const char *dir, const char *rel, const void *data, size_t len,
                         unsigned mode)
{
        _cleanup_free_ char *path = ferry_xasprintf("%s/%s", dir, rel);
        char *slash = strrchr(path, '/');
        *slash = '\0';
        int r = ferry_mkdir_p(path, 0755);
        *slash = '/';
        if (r < 0)
                return r;
        return ferry_write_file_atomic(path, data, len, mode, false);
}

/* Give the pod's user what it writes to: a volume directory and what is in
 * it (fsGroup, when set, owns it as group and may write), or cwd/. Run as
 * root only; otherwise files keep the owner of the process that made them. */
static int hand_over(const char *path, const struct ferry_pod_user *u)
{
        if (!u || u->root || geteuid() != 0)
                return 0;
        gid_t g = (gid_t)(u->fs_group >= 0 ? u->fs_group : u->gid);
        return ferry_chown_r(path, (uid_t)u->uid, g);
}

/* Layout and modes (state.h): the pod's user can traverse to its own volumes
 * (0711 on the way, no listing) and nothing else; spec.json (it holds the
 * Secrets), logs/ and state/ are root's. */
static int materialise(const struct runner_rtconf *rc, const struct runner_runspec *rs,
                       const struct ferry_buf *spec, const char *dir, ferry_error_t *err)
{
        static const struct {
                const char *name;
                mode_t mode;
        } subdirs[] = {{"volumes", 0711}, {"logs", 0700}, {"state", 0700}, {"cwd", 0700}};
        const struct ferry_pod_user *u = rc->user;
        mode_t vmode = u && u->fs_group >= 0 ? 02770 : 0700;
        int r;

        for (size_t i = 0; i < FERRY_ARRAY_SIZE(subdirs); i++) {
                _cleanup_free_ char *s = ferry_xasprintf("%s/%s", dir, subdirs[i].name);
                if ((r = ferry_mkdir_p(s, subdirs[i].mode)) < 0 ||
                    (r = chmod(s, subdirs[i].mode) < 0 ? -errno : 0) < 0)
                        return ferry_errprintf(err, r, "cannot create %s: %s", s, strerror(-r));
        }
        for (size_t i = 0; i < rs->n_volumes; i++) {
                const struct runner_volume *v = &rs->volumes[i];
                _cleanup_free_ char *vd = ferry_xasprintf("%s/volumes/%s", dir, v->name);
                /* without a pod user (tests of the translator), emptyDirs are
                 * shared scratch space for any uid in the pod */
                mode_t m = u ? vmode : v->kind == FERRY_VOL_EMPTYDIR ? 01777 : 0755;
                r = ferry_mkdir_p(vd, m);
                if (r == 0)
                        r = chmod(vd, m) < 0 ? -errno : 0;
                for (size_t j = 0; r == 0 && j < v->n_files; j++)
                        r = write_file_in(vd, v->files[j].path, v->files[j].data, v->files[j].len,
                                          (unsigned)v->files[j].mode);
                if (r < 0)
                        return ferry_errprintf(err, r, "cannot write volume \"%s\": %s", v->name,
                                               strerror(-r));
        }
        for (size_t i = 0; i < rs->n_c; i++)
                for (size_t j = 0; j < rs->c[i].n_mounts; j++)
                        if (rs->c[i].mounts[j].mkdir_src) {
                                _cleanup_free_ char *s =
                                    ferry_xasprintf("%s/%s", dir, rs->c[i].mounts[j].src);
                                if ((r = ferry_mkdir_p(s, u ? vmode : 01777)) < 0)
                                        return ferry_errprintf(err, r, "cannot create %s: %s", s,
                                                               strerror(-r));
                        }
        for (size_t i = 0; i < rs->n_volumes; i++) {
                _cleanup_free_ char *vd =
                    ferry_xasprintf("%s/volumes/%s", dir, rs->volumes[i].name);
                if ((r = hand_over(vd, u)) < 0)
                        return ferry_errprintf(err, r, "cannot give %s to the pod's user: %s", vd,
                                               strerror(-r));
        }
        _cleanup_free_ char *cwd = ferry_xasprintf("%s/cwd", dir);
        if ((r = hand_over(cwd, u)) < 0)
                return ferry_errprintf(err, r, "cannot give %s to the pod's user: %s", cwd,
                                       strerror(-r));
        int64_t cpu, mem;
        runner_runspec_resources(rs, &cpu, &mem);
        char res[64];
        int n = snprintf(res, sizeof(res), "%" PRId64 " %" PRId64 "\n", cpu, mem);
        if ((r = write_file_in(dir, "resources", res, (size_t)n, 0644)) < 0 ||
            (r = write_file_in(dir, "spec.json", spec->data, spec->len, 0600)) < 0)
                return ferry_errprintf(err, r, "cannot write the run spec: %s", strerror(-r));
        if (rc->gpus && rc->gpus->n_uuids > 0) {
                /* the allocation, stored before the pod can start (state.h) */
                struct ferry_buf g = FERRY_BUF_INIT;
                for (size_t i = 0; i < rc->gpus->n_uuids; i++)
                        ferry_buf_printf(&g, "%s\n", rc->gpus->uuids[i]);
                r = write_file_in(dir, "gpus", g.data, g.len, 0644);
                ferry_buf_free(&g);
                if (r < 0)
                        return ferry_errprintf(err, r, "cannot record the pod's GPUs: %s",
                                               strerror(-r));
        }
        if (rc->shim_as_user && u && !u->root && geteuid() == 0 &&
            (r = ferry_chown_r(dir, (uid_t)u->uid, (gid_t)u->gid)) < 0)
                return ferry_errprintf(err, r, "cannot give %s to uid %lld: %s", dir,
                                       (long long)u->uid, strerror(-r));
        return 0;
}

/* Build the shim's spec: the exact argv of every container, and the pre-exec
 * snippet when the Slurm translator set one. */
static int build_spec(const struct runner_rtconf *rc, const struct runner_runspec *rs,
                      struct ferry_buf *b, ferry_error_t *err)
{
        ferry_buf_adds(b, "{\"uid\": ");
        ferry_buf_add_json_str(b, rs->uid);
        ferry_buf_printf(
            b, ", \"runtime\": \"%s\", \"grace_s\": %" PRId64 ", \"deadline_s\": %" PRId64 ",\n",
            runner_runtime_name(rc->kind), rs->grace_s, rs->deadline_s);
        if (rc->user) {
                /* ferry-shim switches to this user for every container (runner_exec.drop) */
                ferry_buf_printf(b, " \"user\": {\"uid\": %lld, \"gid\": %lld, \"groups\": [",
                                 (long long)rc->user->uid, (long long)rc->user->gid);
                if (rc->user->fs_group >= 0)
                        ferry_buf_printf(b, "%lld", (long long)rc->user->fs_group);
                ferry_buf_adds(b, "]},\n");
        }
        if (rc->log_max_size > 0 || rc->log_max_files > 0)
                ferry_buf_printf(
                    b, " \"log_max_size\": %" PRId64 ", \"log_max_files\": %d,\n",
                    rc->log_max_size > 0 ? rc->log_max_size : FERRY_LOG_MAX_SIZE_DEFAULT,
                    rc->log_max_files > 0 ? rc->log_max_files : FERRY_LOG_MAX_FILES_DEFAULT);
        bool any_limit = false;
        for (size_t i = 0; i < rs->n_volumes; i++)
                any_limit |= rs->volumes[i].size_limit >= 0;
        if (any_limit) { /* emptyDir sizeLimit: ferry-shim evicts the pod past it */
                ferry_buf_adds(b, " \"volume_limits\": [");
                bool first = true;
                for (size_t i = 0; i < rs->n_volumes; i++) {
                        if (rs->volumes[i].size_limit < 0)
                                continue;
                        ferry_buf_adds(b, first ? "[" : ", [");
                        first = false;
                        ferry_buf_add_json_str(b, rs->volumes[i].name);
                        ferry_buf_printf(b, ", %lld]", (long long)rs->volumes[i].size_limit);
                }
                ferry_buf_adds(b, "],\n");
        }
        if (rc->cgroup_parent) {
                ferry_buf_adds(b, " \"cgroup\": ");
                ferry_buf_add_json_str(b, rc->cgroup_parent);
                ferry_buf_adds(b, ",\n");
        }
        if (rs->pre_exec) {
                ferry_buf_adds(b, " \"pre_exec\": ");
                ferry_buf_add_json_str(b, rs->pre_exec);
                ferry_buf_adds(b, ",\n");
        }
        ferry_buf_adds(b, " \"containers\": [\n  ");
        for (size_t i = 0; i < rs->n_c; i++) {
                struct runner_exec e;
                int r = runner_exec_build(rc, rs, i, &e, err);
                if (r < 0)
                        return ferry_errprefix(err, r, "runtime %s refuses the pod",
                                               runner_runtime_name(rc->kind));
                if (i)
                        ferry_buf_adds(b, ",\n  ");
                runner_exec_to_json(b, &e);
                runner_exec_clear(&e);
        }
        ferry_buf_adds(b, "]}\n");
        return 0;
}

int runner_podwd_create_spec(const struct runner_rtconf *rc, const struct runner_runspec *rs,
                             const char *tmp_dir, ferry_error_t *err)
{
        struct ferry_buf spec = FERRY_BUF_INIT;
        _cleanup_free_ char *tmpl = NULL;
        int r;

        r = build_spec(rc, rs, &spec, err);
        if (r < 0)
                goto out;
        tmpl = ferry_xasprintf("%s/%s.XXXXXX", tmp_dir, rs->uid);
        if (!mkdtemp(tmpl)) {
                r = ferry_errprintf(err, -errno, "cannot create %s: %m", tmpl);
                goto out;
        }
        chmod(tmpl, 0711);
        r = materialise(rc, rs, &spec, tmpl, err);
        if (r == 0) {
                if (rename(tmpl, rc->workdir) == 0) {
                        r = 1;
                } else if (errno == EEXIST || errno == ENOTEMPTY) {
                        r = 0; /* a concurrent submit won: use its workdir */
                } else {
                        r = ferry_errprintf(err, -errno, "cannot rename %s to %s: %m", tmpl,
                                            rc->workdir);
                }
        }
        if (r <= 0)
                ferry_rm_rf(tmpl);
out:
        ferry_buf_free(&spec);
        return r;
}

int runner_podwd_create(const struct runner_rtconf *rc, const struct ferry_pod *pod,
                        const char *tmp_dir, int64_t *ret_cpu_milli, int64_t *ret_mem,
                        ferry_error_t *err)
{
        struct runner_runspec *rs = NULL;
        int r = runner_runspec_from_pod(pod, &rs, err);
        if (r < 0)
                return r;
        r = runner_podwd_create_spec(rc, rs, tmp_dir, err);
        if (r >= 0)
                runner_runspec_resources(rs, ret_cpu_milli ? ret_cpu_milli : &(int64_t){0},
                                         ret_mem ? ret_mem : &(int64_t){0});
        runner_runspec_free(rs);
        return r;
}

int runner_podwd_open_path(const char *top, const char *dir, ferry_error_t *err)
{
        _cleanup_free_ char *t = realpath(top, NULL), *d = realpath(dir, NULL);
        size_t tl = t ? strlen(t) : 0;

        if (!t || !d)
                return ferry_errprintf(err, -errno, "%s: %m", t ? dir : top);
        if (strncmp(d, t, tl) != 0 || (d[tl] != '/' && d[tl] != '\0'))
                return ferry_errprintf(err, -EINVAL, "%s is not below %s", dir, top);
        for (;;) {
                bool own = strlen(d) >= tl;
                struct stat st;
                if (own && chmod(d, 0711) < 0)
                        return ferry_errprintf(err, -errno, "cannot chmod %s: %m", d);
                if (!own && stat(d, &st) == 0 && !(st.st_mode & S_IXOTH))
                        return ferry_errprintf(
                            err, -EACCES,
                            "pods run as unprivileged users (pod_user, tenant_users) and cannot "
                            "reach their working directories through %s (mode %04o): give it o+x "
                            "(chmod o+x %s), or move the state directory",
                            d, (unsigned)(st.st_mode & 07777), d);
                char *slash = strrchr(d, '/');
                if (!slash || strcmp(d, "/") == 0)
                        break;
                slash[slash == d ? 1 : 0] = '\0';
        }
        return 0;
}

bool runner_podwd_uid_ok(const char *uid)
{
        if (!uid || !*uid || uid[0] == '.' || strlen(uid) >= FERRY_JID_MAX)
                return false;
        for (const char *p = uid; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
                        return false;
        return true;
}

int runner_podwd_mark_deleted(const char *wd, int64_t grace_s, ferry_error_t *err)
{
        _cleanup_free_ char *path = ferry_xasprintf("%s/deleted", wd);
        char *text = NULL, g[32];
        size_t len;
        if (grace_s < 0)
                grace_s = 30;
        if (ferry_read_file(path, 64, &text, &len) == 0) {
                char *end;
                long long old = strtoll(text, &end, 10);
                bool shorter = end == text || grace_s < old;
                free(text);
                if (!shorter)
                        return 0;
        }
        int n = snprintf(g, sizeof(g), "%" PRId64 "\n", grace_s);
        int r = ferry_write_file_atomic(path, g, (size_t)n, 0644, true);
        if (r == -ENOSPC || r == -EDQUOT) {
                /* the pod filled its file system: an empty file takes no block,
                 * and says "deleted, with the pod's own grace period" */
                bool had = access(path, F_OK) == 0;
                int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                if (fd >= 0) {
                        close(fd);
                        return had ? 0 : 1;
                }
        }
        if (r < 0)
                return ferry_errprintf(err, r, "cannot mark %s deleted: %s", wd, strerror(-r));
        return 1;
}

int runner_podwd_log_path(const char *pods_dir, const char *uid, const char *container,
                          char *ret_path, size_t size, ferry_error_t *err)
{
        if (!runner_podwd_uid_ok(uid) || !container || !ferry_is_dns_label(container))
                return ferry_errprintf(err, -EINVAL, "invalid pod uid or container name");
        int n = snprintf(ret_path, size, "%s/%s/logs/%s.log", pods_dir, uid, container);
        if (n < 0 || (size_t)n >= size)
                return ferry_errprintf(err, -ENAMETOOLONG, "log path too long");
        if (access(ret_path, F_OK) < 0)
                return ferry_errprintf(err, -ENOENT, "container %s of pod %s has no log yet",
                                       container, uid);
        return 0;
}
