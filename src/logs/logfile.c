/* SPDX-License-Identifier: MIT */
#include "logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void ferry_logfile_format(struct ferry_buf *b, int64_t ns, bool is_stderr, const char *text,
                          size_t len, bool partial)
{
        char ts[FERRY_TIME_MAX];

        ferry_time_format(ns, 9, ts);
        ferry_buf_adds(b, ts);
        ferry_buf_adds(b, is_stderr ? " stderr " : " stdout ");
        ferry_buf_adds(b, partial ? "P " : "F ");
        ferry_buf_add(b, text, len);
        ferry_buf_addc(b, '\n');
}

int ferry_logfile_write(int fd, int64_t ns, bool is_stderr, const char *text, size_t len,
                        bool partial)
{
        struct ferry_buf b = FERRY_BUF_INIT;
        int r = 0;

        while (len > FERRY_LOG_LINE_MAX) {
                ferry_logfile_format(&b, ns, is_stderr, text, FERRY_LOG_LINE_MAX, true);
                text += FERRY_LOG_LINE_MAX;
                len -= FERRY_LOG_LINE_MAX;
        }
        ferry_logfile_format(&b, ns, is_stderr, text, len, partial);
        r = ferry_write_all(fd, b.data, b.len);
        ferry_buf_free(&b);
        return r;
}

int ferry_logw_open(struct ferry_logw *w, const char *path, int64_t max_size, int max_files)
{
        struct stat st;
        int r = 0;
        w->path = ferry_xstrdup(path);
        w->max_size = max_size;
        w->max_files = max_files < 2 ? 2 : max_files;
        w->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (w->fd < 0) {
                r = -errno;
                w->fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        }
        w->size = w->fd >= 0 && fstat(w->fd, &st) == 0 ? st.st_size : 0;
        return r;
}

/* PATH -> PATH.1 -> ... -> PATH.<max_files-1>, the last one dropped. */
static void logw_rotate(struct ferry_logw *w)
{
        char from[4096], to[4096];
        snprintf(to, sizeof(to), "%s.%d", w->path, w->max_files - 1);
        unlink(to);
        for (int k = w->max_files - 2; k >= 1; k--) {
                snprintf(from, sizeof(from), "%s.%d", w->path, k);
                snprintf(to, sizeof(to), "%s.%d", w->path, k + 1);
                rename(from, to); /* ENOENT: fewer files so far */
        }
        snprintf(to, sizeof(to), "%s.1", w->path);
        if (rename(w->path, to) < 0)
                return; /* keep writing where we are */
        int fd = open(w->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
                return;
        close(w->fd);
        w->fd = fd;
        w->size = 0;
}

int ferry_logw_write(struct ferry_logw *w, int64_t ns, bool is_stderr, const char *text, size_t len,
                     bool partial)
{
        struct ferry_buf b = FERRY_BUF_INIT;
        while (len > FERRY_LOG_LINE_MAX) {
                ferry_logfile_format(&b, ns, is_stderr, text, FERRY_LOG_LINE_MAX, true);
                text += FERRY_LOG_LINE_MAX;
                len -= FERRY_LOG_LINE_MAX;
        }
        ferry_logfile_format(&b, ns, is_stderr, text, len, partial);
        if (w->max_size > 0 && w->size > 0 && w->size + (int64_t)b.len > w->max_size)
                logw_rotate(w);
        int r = w->fd >= 0 ? ferry_write_all(w->fd, b.data, b.len) : -EBADF;
        if (r == 0)
                w->size += (int64_t)b.len;
        ferry_buf_free(&b);
        return r;
}

void ferry_logw_close(struct ferry_logw *w)
{
        if (w->fd >= 0)
                close(w->fd);
        w->fd = -1;
        free(w->path);
        w->path = NULL;
}

int ferry_logfile_parse(const char *line, size_t len, struct ferry_log_record *ret)
{
        const char *sp1 = memchr(line, ' ', len);
        char ts[FERRY_TIME_MAX];

        if (!sp1 || (size_t)(sp1 - line) >= sizeof(ts))
                return -EINVAL;
        memcpy(ts, line, (size_t)(sp1 - line));
        ts[sp1 - line] = '\0';
        if (ferry_time_parse(ts, &ret->ns) < 0)
                return -EINVAL;
        const char *p = sp1 + 1;
        size_t rest = len - (size_t)(p - line);
        if (rest >= 7 && !memcmp(p, "stdout ", 7))
                ret->is_stderr = false;
        else if (rest >= 7 && !memcmp(p, "stderr ", 7))
                ret->is_stderr = true;
        else
                return -EINVAL;
        p += 7;
        rest -= 7;
        if (rest < 2 || (p[0] != 'F' && p[0] != 'P') || p[1] != ' ')
                return -EINVAL;
        ret->partial = p[0] == 'P';
        ret->text = p + 2;
        ret->len = rest - 2;
        return 0;
}

/* Output state shared by the passes below. */
struct out {
        const struct ferry_log_opts *o;
        ferry_log_emit_fn emit;
        void *ctx;
        int64_t sent;
        bool at_line_start;
        bool stop;
        struct ferry_buf tmp;
};

static int out_record(struct out *s, const struct ferry_log_record *rec)
{
        if (rec->ns < s->o->since_ns)
                return 0;
        ferry_buf_reset(&s->tmp);
        if (s->o->timestamps && s->at_line_start) {
                char ts[FERRY_TIME_MAX];
                ferry_time_format(rec->ns, 9, ts);
                ferry_buf_adds(&s->tmp, ts);
                ferry_buf_addc(&s->tmp, ' ');
        }
        ferry_buf_add(&s->tmp, rec->text, rec->len);
        if (!rec->partial)
                ferry_buf_addc(&s->tmp, '\n');
        s->at_line_start = !rec->partial;
        size_t n = s->tmp.len;
        if (s->o->limit_bytes >= 0 && s->sent + (int64_t)n >= s->o->limit_bytes) {
                n = (size_t)(s->o->limit_bytes - s->sent);
                s->stop = true;
        }
        if (n > 0 && s->emit(s->ctx, s->tmp.data, n) < 0) {
                s->stop = true;
                return -EPIPE;
        }
        s->sent += (int64_t)n;
        return 0;
}

/* Walk complete lines of buf[0..len); returns bytes consumed. */
static size_t for_lines(const char *buf, size_t len, struct out *s, int64_t skip_lines,
                        int64_t *line_no)
{
        size_t off = 0;
        while (off < len && !s->stop) {
                const char *nl = memchr(buf + off, '\n', len - off);
                if (!nl)
                        break;
                size_t l = (size_t)(nl - (buf + off));
                struct ferry_log_record rec;
                if (ferry_logfile_parse(buf + off, l, &rec) == 0) {
                        if (*line_no >= skip_lines)
                                out_record(s, &rec);
                        if (!rec.partial)
                                (*line_no)++;
                }
                off += l + 1;
        }
        return off;
}

/* The files of one log, oldest first: PATH.N .. PATH.1, then PATH, all
 * opened at once (a rotation cannot take one away between two reads). */
#define LF_MAX 64
struct lfiles {
        const char *path;
        int fd;        /* the one being read */
        int q[LF_MAX]; /* opened, not read yet, oldest first */
        size_t nq, iq;
        dev_t dev; /* of the newest file queued or read: PATH when opened */
        ino_t ino;
};

static void lf_push(struct lfiles *lf, const char *p)
{
        struct stat st;
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        if (lf->nq == LF_MAX || fstat(fd, &st) < 0) {
                close(fd);
                return;
        }
        lf->q[lf->nq++] = fd;
        lf->dev = st.st_dev;
        lf->ino = st.st_ino;
}

/* Queue PATH.from .. PATH.1, then PATH. */
static void lf_queue(struct lfiles *lf, int from)
{
        char p[4096];
        for (int k = from; k >= 1; k--) {
                snprintf(p, sizeof(p), "%s.%d", lf->path, k);
                lf_push(lf, p);
        }
        lf_push(lf, lf->path);
}

static int lf_open(struct lfiles *lf, const char *path)
{
        char p[4096];
        int n = 0;
        *lf = (struct lfiles){.path = path, .fd = -1};
        while (n < LF_MAX - 1) {
                snprintf(p, sizeof(p), "%s.%d", path, n + 1);
                if (access(p, F_OK) < 0)
                        break;
                n++;
        }
        lf_queue(lf, n);
        if (lf->nq == 0)
                return access(path, F_OK) < 0 ? -errno : -EIO;
        lf->fd = lf->q[lf->iq++];
        return 0;
}

static void lf_close(struct lfiles *lf)
{
        if (lf->fd >= 0)
                close(lf->fd);
        while (lf->iq < lf->nq)
                close(lf->q[lf->iq++]);
        lf->fd = -1;
}

/* read(2) across the queued files; 0 at the end of the last. */
static ssize_t lf_read(struct lfiles *lf, char *buf, size_t size)
{
        for (;;) {
                ssize_t n = read(lf->fd, buf, size);
                if (n != 0 || lf->iq >= lf->nq)
                        return n;
                close(lf->fd);
                lf->fd = lf->q[lf->iq++];
        }
}

/* Following, at the end of everything queued: when PATH was rotated since,
 * queue what came after the newest file we have (it is now PATH.k: PATH.k-1
 * .. PATH.1, then PATH; all of them when ours is gone). true when it did. */
static bool lf_rotated(struct lfiles *lf)
{
        struct stat st;
        char p[4096];
        if (stat(lf->path, &st) < 0 || (st.st_dev == lf->dev && st.st_ino == lf->ino))
                return false;
        int k = 1;
        for (; k < LF_MAX; k++) {
                snprintf(p, sizeof(p), "%s.%d", lf->path, k);
                if (stat(p, &st) < 0)
                        break; /* ours was dropped: every rotated file is newer */
                if (st.st_dev == lf->dev && st.st_ino == lf->ino)
                        break;
        }
        /* the queue is empty here: start it again */
        lf->nq = lf->iq = 0;
        lf_queue(lf, k - 1);
        return lf->nq > 0;
}

/* Count full (logical) lines newer than since, streaming (logs can be large). */
static int64_t count_lines(const char *path, int64_t since)
{
        struct lfiles lf;
        if (lf_open(&lf, path) < 0)
                return 0;
        struct ferry_buf pend = FERRY_BUF_INIT;
        char chunk[65536];
        int64_t n = 0;
        ssize_t got;

        while ((got = lf_read(&lf, chunk, sizeof(chunk))) > 0) {
                ferry_buf_add(&pend, chunk, (size_t)got);
                size_t off = 0;
                for (;;) {
                        const char *nl = memchr(pend.data + off, '\n', pend.len - off);
                        if (!nl)
                                break;
                        struct ferry_log_record rec;
                        if (ferry_logfile_parse(pend.data + off, (size_t)(nl - pend.data - off),
                                                &rec) == 0 &&
                            !rec.partial && rec.ns >= since)
                                n++;
                        off = (size_t)(nl - pend.data) + 1;
                }
                memmove(pend.data, pend.data + off, pend.len - off);
                pend.len -= off;
        }
        ferry_buf_free(&pend);
        lf_close(&lf);
        return n;
}

int ferry_logfile_stream(const char *path, const struct ferry_log_opts *opts,
                         ferry_log_emit_fn emit, ferry_log_done_fn done, void *ctx)
{
        struct out s = {.o = opts, .emit = emit, .ctx = ctx, .at_line_start = true};
        struct ferry_buf pend = FERRY_BUF_INIT;
        char chunk[65536];
        int64_t skip = 0, line_no = 0;
        struct lfiles lf;
        int r = 0;

        if ((r = lf_open(&lf, path)) < 0)
                return r;

        if (opts->tail >= 0) {
                /* Tail needs the number of lines first: one counting pass.
                 * Both passes count only lines at or after since. */
                int64_t total = count_lines(path, opts->since_ns);
                skip = total > opts->tail ? total - opts->tail : 0;
        }

        for (;;) {
                ssize_t n = lf_read(&lf, chunk, sizeof(chunk));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (n > 0) {
                        ferry_buf_add(&pend, chunk, (size_t)n);
                        size_t used;
                        if (opts->tail >= 0) {
                                /* number only lines at/after since */
                                used = 0;
                                while (used < pend.len && !s.stop) {
                                        const char *nl =
                                            memchr(pend.data + used, '\n', pend.len - used);
                                        if (!nl)
                                                break;
                                        size_t l = (size_t)(nl - (pend.data + used));
                                        struct ferry_log_record rec;
                                        if (ferry_logfile_parse(pend.data + used, l, &rec) == 0 &&
                                            rec.ns >= opts->since_ns) {
                                                if (line_no >= skip)
                                                        out_record(&s, &rec);
                                                if (!rec.partial)
                                                        line_no++;
                                        }
                                        used += l + 1;
                                }
                        } else {
                                used = for_lines(pend.data, pend.len, &s, 0, &line_no);
                        }
                        memmove(pend.data, pend.data + used, pend.len - used);
                        pend.len -= used;
                        if (pend.data)
                                pend.data[pend.len] = '\0';
                        if (s.stop)
                                break;
                        continue;
                }
                /* EOF */
                if (!opts->follow)
                        break;
                if (lf_rotated(&lf))
                        continue;
                if (done && done(ctx)) {
                        /* drain once more: the writer may have added lines */
                        ssize_t m;
                        bool more = false;
                        while ((m = lf_read(&lf, chunk, sizeof(chunk))) > 0 ||
                               (m == 0 && lf_rotated(&lf))) {
                                ferry_buf_add(&pend, chunk, (size_t)m);
                                more = true;
                        }
                        if (more) {
                                size_t used = for_lines(pend.data, pend.len, &s, skip, &line_no);
                                (void)used;
                        }
                        break;
                }
                /* An empty write keeps the connection honest: a client that went
                 * away makes emit fail, which ends the stream. */
                if (emit(ctx, "", 0) < 0)
                        break;
                struct timespec ts = {0, 100 * 1000000};
                nanosleep(&ts, NULL);
        }
        lf_close(&lf);
        ferry_buf_free(&pend);
        ferry_buf_free(&s.tmp);
        return r;
}
