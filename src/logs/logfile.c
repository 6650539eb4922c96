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

/* Count full (logical) lines newer than since, streaming (logs can be large). */
static int64_t count_lines(int fd, int64_t since)
{
        struct ferry_buf pend = FERRY_BUF_INIT;
        char chunk[65536];
        int64_t n = 0;
        ssize_t got;

        while ((got = read(fd, chunk, sizeof(chunk))) > 0) {
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
        lseek(fd, 0, SEEK_SET);
        return n;
}

int ferry_logfile_stream(const char *path, const struct ferry_log_opts *opts,
                         ferry_log_emit_fn emit, ferry_log_done_fn done, void *ctx)
{
        struct out s = {.o = opts, .emit = emit, .ctx = ctx, .at_line_start = true};
        struct ferry_buf pend = FERRY_BUF_INIT;
        char chunk[65536];
        int64_t skip = 0, line_no = 0;
        int fd, r = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;

        if (opts->tail >= 0) {
                /* Tail needs the number of lines first: one counting pass.
                 * Both passes count only lines at or after since. */
                int64_t total = count_lines(fd, opts->since_ns);
                skip = total > opts->tail ? total - opts->tail : 0;
        }

        for (;;) {
                ssize_t n = read(fd, chunk, sizeof(chunk));
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
                if (done && done(ctx)) {
                        /* drain once more: the writer may have added lines */
                        ssize_t m;
                        bool more = false;
                        while ((m = read(fd, chunk, sizeof(chunk))) > 0) {
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
        close(fd);
        ferry_buf_free(&pend);
        ferry_buf_free(&s.tmp);
        return r;
}
