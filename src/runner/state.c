/* SPDX-License-Identifier: MIT */
#include "runner/state.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "pod/status.h"

static const char *const kind_names[] = {"none", "running", "terminated"};

int runner_cstate_write(const char *workdir, const char *name, const struct runner_cstate *s)
{
        char path[4096], text[1400], msg[256], probe[256];
        size_t i;

        /* one line per field: the message must not break the format */
        for (i = 0; s->message[i] && i < sizeof(msg) - 1; i++)
                msg[i] = (s->message[i] == '\n' || s->message[i] == '\r') ? ' ' : s->message[i];
        msg[i] = '\0';
        for (i = 0; s->probe[i] && i < sizeof(probe) - 1; i++)
                probe[i] = (s->probe[i] == '\n' || s->probe[i] == '\r') ? ' ' : s->probe[i];
        probe[i] = '\0';
        if (snprintf(path, sizeof(path), "%s/state/%s", workdir, name) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        int n = snprintf(text, sizeof(text),
                         "state=%s\nstarted_ns=%" PRId64 "\nfinished_ns=%" PRId64
                         "\nexit_code=%d\nsignal=%d\npid=%d\npid_start=%" PRIu64
                         "\nreason=%s\nmessage=%s\ncpu_ns=%" PRId64 "\nmem_peak=%" PRId64
                         "\nnot_ready=%d\nprobe=%s\n",
                         kind_names[s->state > 2 ? 0 : s->state], s->started_ns, s->finished_ns,
                         s->exit_code, s->signal, s->pid, s->pid_start, s->reason, msg, s->cpu_ns,
                         s->mem_peak, s->not_ready ? 1 : 0, probe);
        int r = ferry_write_file_atomic(path, text, (size_t)n, 0644, false);
        if (r == -ENOSPC || r == -EDQUOT) {
                /* the pod filled its file system: rewrite the file in place,
                 * in the block it already has (not atomic; the state must
                 * still reach ferryd) */
                int fd = open(path, O_WRONLY | O_CLOEXEC);
                if (fd < 0)
                        return r;
                r = pwrite(fd, text, (size_t)n, 0) == n && ftruncate(fd, n) == 0 ? 0 : -errno;
                close(fd);
        }
        return r;
}

int runner_cstate_read(const char *workdir, const char *name, struct runner_cstate *ret)
{
        char path[4096];
        char *text = NULL;
        size_t len;
        struct runner_cstate s = {0};
        int r;

        if (snprintf(path, sizeof(path), "%s/state/%s", workdir, name) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        r = ferry_read_file(path, 4096, &text, &len);
        if (r < 0)
                return r;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                char *eq = strchr(line, '=');
                if (!eq)
                        continue;
                *eq = '\0';
                const char *v = eq + 1;
                if (strcmp(line, "state") == 0) {
                        for (int k = 0; k < 3; k++)
                                if (strcmp(v, kind_names[k]) == 0)
                                        s.state = k;
                } else if (strcmp(line, "started_ns") == 0)
                        s.started_ns = strtoll(v, NULL, 10);
                else if (strcmp(line, "finished_ns") == 0)
                        s.finished_ns = strtoll(v, NULL, 10);
                else if (strcmp(line, "exit_code") == 0)
                        s.exit_code = (int)strtol(v, NULL, 10);
                else if (strcmp(line, "signal") == 0)
                        s.signal = (int)strtol(v, NULL, 10);
                else if (strcmp(line, "pid") == 0)
                        s.pid = (int)strtol(v, NULL, 10);
                else if (strcmp(line, "pid_start") == 0)
                        s.pid_start = strtoull(v, NULL, 10);
                else if (strcmp(line, "reason") == 0)
                        snprintf(s.reason, sizeof(s.reason), "%s", v);
                else if (strcmp(line, "message") == 0)
                        snprintf(s.message, sizeof(s.message), "%s", v);
                else if (strcmp(line, "cpu_ns") == 0)
                        s.cpu_ns = strtoll(v, NULL, 10);
                else if (strcmp(line, "mem_peak") == 0)
                        s.mem_peak = strtoll(v, NULL, 10);
                else if (strcmp(line, "not_ready") == 0)
                        s.not_ready = strcmp(v, "0") != 0;
                else if (strcmp(line, "probe") == 0)
                        snprintf(s.probe, sizeof(s.probe), "%s", v);
        }
        free(text);
        *ret = s;
        return 0;
}

int runner_proc_starttime(pid_t pid, uint64_t *ret)
{
        char path[64], buf[1024];
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return -ESRCH;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* comm may contain spaces and ')': fields start after the last ')' */
        char *p = strrchr(buf, ')');
        if (!p)
                return -EINVAL;
        p++;
        /* p now at " state ppid ...": starttime is field 22, i.e. the 20th after ')' */
        for (int field = 3; field < 22; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return -EINVAL;
        }
        *ret = strtoull(p + 1, NULL, 10);
        /* a zombie is gone for our purposes */
        char *st = strrchr(buf, ')');
        if (st && st[1] == ' ' && (st[2] == 'Z' || st[2] == 'X'))
                return -ESRCH;
        return 0;
}

bool runner_proc_alive(pid_t pid, uint64_t start)
{
        uint64_t s;

        if (pid <= 0)
                return false;
        return runner_proc_starttime(pid, &s) == 0 && s == start;
}

void runner_cstate_apply(struct ferry_cstatus *c, const struct runner_cstate *s)
{
        c->started_ns = s->started_ns;
        if (s->state == RUNNER_CS_RUNNING) {
                c->state = FERRY_C_RUNNING;
                c->reason[0] = '\0';
                c->ready = !s->not_ready;
                ferry_cstatus_set_message(c, s->probe[0] ? s->probe : NULL);
        } else if (s->state == RUNNER_CS_TERMINATED) {
                c->state = FERRY_C_TERMINATED;
                c->finished_ns = s->finished_ns;
                c->exit_code = s->exit_code;
                c->signal = (int16_t)s->signal;
                c->ready = false;
                snprintf(c->reason, sizeof(c->reason), "%s",
                         s->reason[0]        ? s->reason
                         : s->exit_code == 0 ? "Completed"
                                             : "Error");
                ferry_cstatus_set_message(c, s->message[0] ? s->message : NULL);
        }
}

void runner_pod_probe_message(struct ferry_pod_status *st)
{
        /* st is the last poll's status updated in place: a message of ours
         * ("container NAME: ...") is made again from the containers' current
         * ones (a later probe failure replaces it, a recovery clears it); a
         * pod-level one (a reason such as Evicted, the backend's) stays */
        if (st->reason[0] || (st->message && strncmp(st->message, "container ", 10) != 0))
                return;
        for (size_t i = 0; i < (size_t)st->n_init + st->n_containers; i++) {
                const struct ferry_cstatus *c = &st->c[i];
                if (c->state == FERRY_C_RUNNING && c->message) {
                        char m[384];
                        snprintf(m, sizeof(m), "container %s: %s", c->name, c->message);
                        ferry_pod_status_set_message(st, m);
                        return;
                }
        }
        ferry_pod_status_set_message(st, NULL);
}

void runner_pod_usage(const char *workdir, const struct ferry_pod_status *st, int64_t *ret_cpu_ns,
                      int64_t *ret_mem_peak)
{
        int64_t cpu = 0, mem = 0;
        bool any = false;
        for (size_t i = 0; st->c && i < (size_t)st->n_init + st->n_containers; i++) {
                struct runner_cstate s;
                if (runner_cstate_read(workdir, st->c[i].name, &s) < 0)
                        continue;
                if (s.cpu_ns > 0) {
                        cpu += s.cpu_ns;
                        any = true;
                }
                if (s.mem_peak > mem)
                        mem = s.mem_peak;
        }
        *ret_cpu_ns = any ? cpu : -1;
        *ret_mem_peak = mem > 0 ? mem : -1;
}
