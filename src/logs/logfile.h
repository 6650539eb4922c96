/* SPDX-License-Identifier: MIT */
/*
 * The common container log format, written by backends (ferry-shim) and read
 * by ferryd for /getLogs. It is the CRI log format the kubelet uses:
 *
 *   2026-01-10T10:00:05.123456789Z stdout F hello world\n
 *
 * timestamp (RFC 3339, always 9 fractional digits, UTC), stream, tag (F = full
 * line, P = partial: the line continues in the next record), text. Keeping the
 * timestamp per line is what makes Timestamps, SinceSeconds and SinceTime exact.
 */
#ifndef FERRY_LOGFILE_H
#define FERRY_LOGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define FERRY_LOG_LINE_MAX 16384 /* longer lines are split into P records */

/* Format one record into b (does not write). */
void ferry_logfile_format(struct ferry_buf *b, int64_t ns, bool is_stderr, const char *text,
                          size_t len, bool partial);
/* Format and write(2) one record to fd, splitting text over FERRY_LOG_LINE_MAX. */
int ferry_logfile_write(int fd, int64_t ns, bool is_stderr, const char *text, size_t len,
                        bool partial);

/* A container's log with the kubelet's rotation (containerLogMaxSize,
 * containerLogMaxFiles): before a write would take PATH past max_size it is
 * renamed PATH.1 (PATH.1 -> PATH.2 ..., the oldest dropped), so at most
 * max_files files of about max_size each exist and the newest lines are kept.
 * max_size <= 0: no rotation. Readers (ferry_logfile_stream) read the rotated
 * files oldest first, then PATH. One writer per PATH. */
#define FERRY_LOG_MAX_SIZE_DEFAULT ((int64_t)10 * 1024 * 1024)
#define FERRY_LOG_MAX_FILES_DEFAULT 5
struct ferry_logw {
        int fd; /* -1 when closed */
        char *path;
        int64_t size;
        int64_t max_size;
        int max_files; /* >= 2 */
};
/* Open (append) PATH; on failure the writer writes to /dev/null. 0 or -errno. */
int ferry_logw_open(struct ferry_logw *w, const char *path, int64_t max_size, int max_files);
int ferry_logw_write(struct ferry_logw *w, int64_t ns, bool is_stderr, const char *text, size_t len,
                     bool partial);
void ferry_logw_close(struct ferry_logw *w);

struct ferry_log_record {
        int64_t ns;
        bool is_stderr;
        bool partial;
        const char *text; /* points into the parsed line; not NUL-terminated */
        size_t len;
};
/* Parse one line (without its '\n'). -EINVAL if it is not a record. */
int ferry_logfile_parse(const char *line, size_t len, struct ferry_log_record *ret);

struct ferry_log_opts {
        int64_t tail;        /* -1 = all */
        int64_t limit_bytes; /* -1 = no limit */
        bool timestamps;
        bool follow;
        int64_t since_ns; /* 0 = from the start */
};

/* Read the records of `path` (after its rotated files PATH.N .. PATH.1) and
 * produce what /getLogs answers: the text of
 * each record ("\n" appended to full ones), prefixed by its RFC 3339 timestamp
 * when opts.timestamps. The `emit` callback receives output; a negative return
 * stops. With follow, keeps reading as the file grows until done(ctx) returns
 * true and the file is drained (polling every 100 ms; a rotation while
 * following is noticed and the new PATH read from its start), or emit fails.
 * Returns 0 or -errno. */
typedef int (*ferry_log_emit_fn)(void *ctx, const char *data, size_t len);
typedef bool (*ferry_log_done_fn)(void *ctx);
int ferry_logfile_stream(const char *path, const struct ferry_log_opts *opts,
                         ferry_log_emit_fn emit, ferry_log_done_fn done, void *ctx);

#endif
