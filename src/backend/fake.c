/* SPDX-License-Identifier: MIT */
/*
 * The fake backend: pods "run" for a configurable time and end with a
 * configurable exit code, without any process. It drives most tests and the
 * benchmarks, and can inject failures.
 *
 * Options (backend_options in the config, or --backend-opt KEY=VALUE):
 *   duration_ms   how long each pod runs (default 0: finished at the first poll)
 *   exit_code     exit code of every container (default 0)
 *   fail_every    every Nth submit fails with a transient error (default 0: never)
 *   cpu, memory, pods   capacity reported to ping (defaults 64 / 256Gi / 10000)
 *   gpus          whole GPUs the fake host has (default 0): with gpus > 0 a pod's
 *                 nvidia.com/gpu are allocated from them (gpu/alloc.c) while it runs,
 *                 a pod asking more than there are is refused, one asking more than
 *                 are free waits (GPUUnavailable); ping reports the free ones
 *   logs          "true": write a small log file per container (default false)
 * Per-pod annotations override: fake.ferry.io/duration-ms, fake.ferry.io/exit-code,
 * fake.ferry.io/fail ("submit" = refuse the pod permanently, "transient" = fail once),
 * fake.ferry.io/submit-delay-ms (a slow backend: submit takes that long).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "common/hashmap.h"
#include "common/util.h"
#include "logs/logfile.h"
#include "pod/pod.h"

struct fake_job {
        char uid[72];
        char jid[FERRY_JID_MAX];
        int64_t start_ns;
        int64_t duration_ns;
        int exit_code;
        bool killed;
};

struct fake {
        pthread_mutex_t lock;
        struct ferry_hashmap *jobs;
        uint64_t next_id;
        uint64_t submits;
        int64_t duration_ns;
        int exit_code;
        int64_t fail_every;
        bool logs;
        char dir[4096];
        struct ferry_hashmap *transient_done; /* uids that already failed once */
        struct ferry_gpu_pool gpus;           /* option gpus: GPU-fake-0 ... */
};

static bool job_done(const struct fake_job *j, int64_t now)
{
        return j->killed || now - j->start_ns >= j->duration_ns;
}

/* The GPUs of pods that ended go back to the pool (under f->lock). */
static void gpus_release_done(struct fake *f)
{
        int64_t now = ferry_now_ns();
        for (size_t i = 0; i < f->gpus.n; i++) {
                const char *owner = f->gpus.u[i].owner;
                if (!owner[0])
                        continue;
                struct fake_job *j = ferry_hashmap_get(f->jobs, owner);
                if (!j || job_done(j, now)) {
                        char uid[FERRY_GPU_OWNER_MAX];
                        snprintf(uid, sizeof(uid), "%s", owner);
                        ferry_gpu_pool_release(&f->gpus, uid);
                }
        }
}

static int fake_init(struct ferry_backend *be, ferry_error_t *err)
{
        struct fake *f = ferry_xcalloc(1, sizeof(*f));
        pthread_mutex_init(&f->lock, NULL);
        f->jobs = ferry_hashmap_new();
        f->transient_done = ferry_hashmap_new();
        f->duration_ns = ferry_backend_opt_int(be, "duration_ms", 0) * 1000000;
        f->exit_code = (int)ferry_backend_opt_int(be, "exit_code", 0);
        f->fail_every = ferry_backend_opt_int(be, "fail_every", 0);
        f->logs = !strcmp(ferry_backend_opt(be, "logs", "false"), "true");
        f->next_id = 1;
        int64_t n_gpus = ferry_backend_opt_int(be, "gpus", 0);
        if (n_gpus > 0) {
                struct ferry_gpu_inventory inv = {.n = (size_t)n_gpus};
                inv.dev = ferry_xcalloc(inv.n, sizeof(*inv.dev));
                for (size_t i = 0; i < inv.n; i++) {
                        inv.dev[i].index = (unsigned)i;
                        snprintf(inv.dev[i].uuid, sizeof(inv.dev[i].uuid), "GPU-fake-%zu", i);
                }
                ferry_gpu_pool_from_inventory(&f->gpus, &inv, NULL, 0);
                ferry_gpu_inventory_free(&inv);
        }
        snprintf(f->dir, sizeof(f->dir), "%s/fake", be->cfg.state_dir ? be->cfg.state_dir : ".");
        if (f->logs) {
                int r = ferry_mkdir_p(f->dir, 0700);
                if (r < 0) {
                        ferry_errprintf(err, r, "cannot create %s: %s", f->dir, strerror(-r));
                        ferry_hashmap_free(f->jobs);
                        ferry_hashmap_free(f->transient_done);
                        free(f);
                        return r;
                }
        }
        be->priv = f;
        return 0;
}

static void fake_fini(struct ferry_backend *be)
{
        struct fake *f = be->priv;
        size_t it = 0;
        void *v;
        const char *k;
        while (ferry_hashmap_next(f->jobs, &it, &k, &v))
                free(v);
        ferry_hashmap_free(f->jobs);
        it = 0;
        while (ferry_hashmap_next(f->transient_done, &it, &k, &v))
                free(v);
        ferry_hashmap_free(f->transient_done);
        ferry_gpu_pool_free(&f->gpus);
        pthread_mutex_destroy(&f->lock);
        free(f);
}

static void write_logs(struct fake *f, const struct ferry_pod *pod)
{
        for (size_t i = 0; i < pod->n_init + pod->n_containers; i++) {
                const struct ferry_container *c = ferry_pod_container_at(pod, i);
                char path[4200], line[256];
                snprintf(path, sizeof(path), "%s/%s.%s.log", f->dir, pod->uid, c->name);
                int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0)
                        continue;
                int n = snprintf(line, sizeof(line), "fake container %s of pod %s ran", c->name,
                                 pod->name);
                ferry_logfile_write(fd, ferry_now_ns(), false, line, (size_t)n, false);
                close(fd);
        }
}

static int fake_submit(struct ferry_backend *be, const struct ferry_pod *pod,
                       char ret_jid[FERRY_JID_MAX], ferry_error_t *err)
{
        struct fake *f = be->priv;
        const char *a;
        int r = 0;

        if ((a = ferry_pod_annotation(pod, "fake.ferry.io/submit-delay-ms"))) {
                long ms = strtol(a, NULL, 10);
                struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
                if (ms > 0)
                        nanosleep(&ts, NULL);
        }
        if ((a = ferry_pod_annotation(pod, "fake.ferry.io/fail")) && !strcmp(a, "submit"))
                return ferry_errprintf(
                    err, -EINVAL,
                    "the fake backend refuses this pod (annotation fake.ferry.io/fail=submit)");

        pthread_mutex_lock(&f->lock);
        struct fake_job *j = ferry_hashmap_get(f->jobs, pod->uid);
        if (j) { /* idempotent */
                memcpy(ret_jid, j->jid, FERRY_JID_MAX);
                goto out;
        }
        f->submits++;
        if (f->gpus.n) {
                struct ferry_gpu_request req;
                if ((r = ferry_backend_gpu_request(pod, &req, err)) < 0)
                        goto out;
                gpus_release_done(f);
                r = req.n ? ferry_gpu_pool_alloc(&f->gpus, pod->uid, &req, err) : 0;
                if (r == -EAGAIN)
                        r = ferry_errprefix(err, FERRY_BACKEND_WAIT, "GPUUnavailable");
                if (r < 0)
                        goto out;
        }
        if (f->fail_every > 0 && f->submits % (uint64_t)f->fail_every == 0) {
                r = ferry_errprintf(err, -EAGAIN,
                                    "injected transient failure (fail_every=%" PRId64 ")",
                                    f->fail_every);
                goto out;
        }
        if ((a = ferry_pod_annotation(pod, "fake.ferry.io/fail")) && !strcmp(a, "transient") &&
            !ferry_hashmap_get(f->transient_done, pod->uid)) {
                char *k = ferry_xstrdup(pod->uid);
                ferry_hashmap_put(f->transient_done, k, k);
                r = ferry_errprintf(err, -EAGAIN, "injected transient failure for this pod");
                goto out;
        }
        j = ferry_xcalloc(1, sizeof(*j));
        snprintf(j->uid, sizeof(j->uid), "%s", pod->uid);
        snprintf(j->jid, sizeof(j->jid), "fake-%" PRIu64, f->next_id++);
        j->start_ns = ferry_now_ns();
        j->duration_ns = f->duration_ns;
        j->exit_code = f->exit_code;
        if ((a = ferry_pod_annotation(pod, "fake.ferry.io/duration-ms")))
                j->duration_ns = strtoll(a, NULL, 10) * 1000000;
        if ((a = ferry_pod_annotation(pod, "fake.ferry.io/exit-code")))
                j->exit_code = (int)strtol(a, NULL, 10);
        ferry_hashmap_put(f->jobs, j->uid, j);
        memcpy(ret_jid, j->jid, FERRY_JID_MAX);
out:
        pthread_mutex_unlock(&f->lock);
        if (r == 0 && f->logs)
                write_logs(f, pod);
        return r;
}

static int fake_find(struct ferry_backend *be, const char *uid, char ret_jid[FERRY_JID_MAX],
                     ferry_error_t *err)
{
        struct fake *f = be->priv;
        int found = 0;
        pthread_mutex_lock(&f->lock);
        struct fake_job *j = ferry_hashmap_get(f->jobs, uid);
        if (j) {
                memcpy(ret_jid, j->jid, FERRY_JID_MAX);
                found = 1;
        }
        pthread_mutex_unlock(&f->lock);
        return found;
}

static int fake_poll(struct ferry_backend *be, struct ferry_poll_item *items, size_t n,
                     ferry_error_t *err)
{
        struct fake *f = be->priv;
        int64_t now = ferry_now_ns();

        pthread_mutex_lock(&f->lock);
        for (size_t i = 0; i < n; i++) {
                struct ferry_pod_status *st = items[i].status;
                struct fake_job *j = ferry_hashmap_get(f->jobs, items[i].uid);
                size_t total = (size_t)st->n_init + st->n_containers;
                for (size_t k = 0; k < total; k++) {
                        struct ferry_cstatus *c = &st->c[k];
                        if (!j) {
                                if (c->state != FERRY_C_TERMINATED) {
                                        c->state = FERRY_C_TERMINATED;
                                        c->exit_code = 255;
                                        snprintf(c->reason, sizeof(c->reason), "Error");
                                        ferry_cstatus_set_message(
                                            c, "the fake backend lost this job (ferryd restarted)");
                                        c->finished_ns = now;
                                }
                                continue;
                        }
                        bool init = k < st->n_init;
                        bool done = init || j->killed || now - j->start_ns >= j->duration_ns;
                        c->started_ns = j->start_ns;
                        if (done) {
                                c->state = FERRY_C_TERMINATED;
                                c->exit_code = init ? 0 : (j->killed ? 137 : j->exit_code);
                                c->signal = (!init && j->killed) ? 9 : 0;
                                c->finished_ns =
                                    init ? j->start_ns
                                         : (j->killed ? now : j->start_ns + j->duration_ns);
                                snprintf(c->reason, sizeof(c->reason), "%s",
                                         c->exit_code == 0 ? "Completed" : "Error");
                                c->ready = false;
                        } else {
                                c->state = FERRY_C_RUNNING;
                                c->reason[0] = '\0';
                                c->ready = true;
                        }
                }
                st->phase = (uint8_t)ferry_pod_status_derive_phase(st);
        }
        pthread_mutex_unlock(&f->lock);
        return 0;
}

static int fake_kill(struct ferry_backend *be, const char *uid, const char *jid, int64_t grace_s,
                     ferry_error_t *err)
{
        struct fake *f = be->priv;
        pthread_mutex_lock(&f->lock);
        struct fake_job *j = ferry_hashmap_get(f->jobs, uid);
        if (j && ferry_now_ns() - j->start_ns < j->duration_ns)
                j->killed = true;
        ferry_gpu_pool_release(&f->gpus, uid);
        pthread_mutex_unlock(&f->lock);
        return 0;
}

static int fake_cleanup(struct ferry_backend *be, const char *uid, const char *jid,
                        ferry_error_t *err)
{
        struct fake *f = be->priv;
        pthread_mutex_lock(&f->lock);
        free(ferry_hashmap_remove(f->jobs, uid));
        ferry_gpu_pool_release(&f->gpus, uid);
        pthread_mutex_unlock(&f->lock);
        return 0;
}

static int fake_capacity(struct ferry_backend *be, struct ferry_capacity *ret, ferry_error_t *err)
{
        struct fake *f = be->priv;
        int64_t v;
        ret->cpu_milli = ferry_backend_opt_int(be, "cpu", 64) * 1000;
        if (ferry_quantity_bytes(ferry_backend_opt(be, "memory", "256Gi"), &v) < 0)
                return ferry_errprintf(err, -EINVAL,
                                       "fake backend: option memory is not a quantity");
        ret->memory_bytes = v;
        ret->total_cpu_milli = ret->cpu_milli;
        ret->total_memory_bytes = v;
        ret->total_pods = ferry_backend_opt_int(be, "pods", 10000);
        pthread_mutex_lock(&f->lock);
        size_t live = ferry_hashmap_size(f->jobs);
        pthread_mutex_unlock(&f->lock);
        ret->pods = ferry_backend_opt_int(be, "pods", 10000) - (int64_t)live;
        if (ret->pods < 0)
                ret->pods = 0;
        if (f->gpus.n) {
                struct ferry_gpu_capacity cap;
                pthread_mutex_lock(&f->lock);
                gpus_release_done(f);
                ferry_gpu_pool_capacity(&f->gpus, &cap);
                pthread_mutex_unlock(&f->lock);
                for (size_t i = 0; i < cap.n && i < FERRY_ARRAY_SIZE(ret->accel); i++) {
                        snprintf(ret->accel[i].resource, sizeof(ret->accel[i].resource), "%s",
                                 cap.item[i].resource);
                        ret->accel[i].available = cap.item[i].free;
                        ret->accel[i].total = cap.item[i].total;
                        ret->n_accel = i + 1;
                }
        }
        return 0;
}

static int fake_log_path(struct ferry_backend *be, const char *uid, const char *jid,
                         const char *container, char *ret_path, size_t size, ferry_error_t *err)
{
        struct fake *f = be->priv;
        if (!f->logs)
                return ferry_errprintf(err, -ENOENT,
                                       "the fake backend keeps no logs (option logs=false)");
        snprintf(ret_path, size, "%s/%s.%s.log", f->dir, uid, container);
        return 0;
}

static void fake_devices(struct ferry_backend *be, const char *uid, char *ret, size_t size)
{
        struct fake *f = be->priv;
        pthread_mutex_lock(&f->lock);
        ferry_gpu_pool_held_list(&f->gpus, uid, ret, size);
        pthread_mutex_unlock(&f->lock);
}

const struct ferry_backend_ops ferry_backend_fake_ops = {
    .name = "fake",
    .init = fake_init,
    .fini = fake_fini,
    .submit = fake_submit,
    .find = fake_find,
    .poll = fake_poll,
    .kill = fake_kill,
    .cleanup = fake_cleanup,
    .capacity = fake_capacity,
    .log_path = fake_log_path,
    .devices = fake_devices,
};
