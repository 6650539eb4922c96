/* SPDX-License-Identifier: MIT */
/*
 * Small shared helpers: cleanup attributes, a growable byte buffer, time in
 * nanoseconds and RFC 3339, and file helpers. Nothing here logs.
 */
#ifndef FERRY_UTIL_H
#define FERRY_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "error.h"

#define FERRY_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- cleanup attributes (gnu17), after systemd's _cleanup_ ---- */
#define _cleanup_(f) __attribute__((cleanup(f)))
static inline void ferry_freep(void *p)
{
        free(*(void **)p);
}
static inline void ferry_closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}
#define _cleanup_free_ _cleanup_(ferry_freep)
#define _cleanup_close_ _cleanup_(ferry_closep)
/* Take ownership out of a cleanup variable: return it and set it to NULL. */
#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) _p = (p);                                                            \
                (p) = NULL;                                                                        \
                _p;                                                                                \
        })
#define TAKE_FD(fd)                                                                                \
        ({                                                                                         \
                int _fd = (fd);                                                                    \
                (fd) = -1;                                                                         \
                _fd;                                                                               \
        })

/* Allocation that aborts on failure: used only for small bookkeeping where
 * there is no sensible way on (an HTTP body is bounded before we get here). */
void *ferry_xmalloc(size_t n);
void *ferry_xcalloc(size_t n, size_t m);
void *ferry_xrealloc(void *p, size_t n);
char *ferry_xstrdup(const char *s);
char *ferry_xstrndup(const char *s, size_t n);
char *ferry_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- growable buffer; always NUL-terminated ---- */
struct ferry_buf {
        char *data;
        size_t len;
        size_t cap;
};
#define FERRY_BUF_INIT                                                                             \
        {                                                                                          \
                NULL, 0, 0                                                                         \
        }
void ferry_buf_reserve(struct ferry_buf *b, size_t extra);
void ferry_buf_add(struct ferry_buf *b, const void *p, size_t n);
void ferry_buf_adds(struct ferry_buf *b, const char *s);
void ferry_buf_addc(struct ferry_buf *b, char c);
void ferry_buf_printf(struct ferry_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal with quotes. */
void ferry_buf_add_json_str(struct ferry_buf *b, const char *s);
/* Append n strings as a JSON array: ["a", "b"]. */
void ferry_buf_add_json_strv(struct ferry_buf *b, char *const *v, size_t n);
void ferry_buf_reset(struct ferry_buf *b);
void ferry_buf_free(struct ferry_buf *b);
/* Hand the data to the caller (who frees it); the buffer is left empty. */
char *ferry_buf_steal(struct ferry_buf *b);

/* ---- time ---- */
int64_t ferry_now_ns(void);       /* CLOCK_REALTIME */
int64_t ferry_monotonic_ns(void); /* CLOCK_MONOTONIC */
/* "2026-01-10T10:00:05Z" (frac_digits 0) or with 1..9 fractional digits.
 * buf must hold FERRY_TIME_MAX bytes. A zero time writes "". */
#define FERRY_TIME_MAX 40
char *ferry_time_format(int64_t ns, int frac_digits, char buf[FERRY_TIME_MAX]);
/* Parse RFC 3339 (Z or +hh:mm offsets, optional fraction). 0 ok, -EINVAL. */
int ferry_time_parse(const char *s, int64_t *ret_ns);

/* ---- files ---- */
/* write(2) all of buf, retrying short writes and EINTR. 0 or -errno. */
int ferry_write_all(int fd, const void *buf, size_t len);
int ferry_mkdir_p(const char *path, unsigned mode);
/* Write via a temp file + fsync + rename (+ fsync of the directory when
 * durable is true), so readers see all or nothing. */
int ferry_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode,
                            bool durable);
/* Read a whole file up to max bytes; *ret is NUL-terminated. -EFBIG if larger. */
int ferry_read_file(const char *path, size_t max, char **ret, size_t *ret_len);
/* rm -rf, not crossing mount points; refuses "/" and empty paths. */
int ferry_rm_rf(const char *path);
/* chown -R without following symlinks (lchown on each entry). */
int ferry_chown_r(const char *path, uid_t uid, gid_t gid);

/* ---- strings ---- */
bool ferry_str_startswith(const char *s, const char *prefix);
/* DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 chars. */
bool ferry_is_dns_label(const char *s);
/* DNS-1123 subdomain (Kubernetes object names), at most 253 chars. */
bool ferry_is_dns_subdomain(const char *s);
/* Well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF); NUL bytes count as valid. */
bool ferry_utf8_valid(const unsigned char *p, size_t n);
/* Lowercase 8-4-4-4-12 hex UUID. */
bool ferry_is_uuid(const char *s);
/* Random version-4 UUID, lowercase. buf must hold 37 bytes. */
void ferry_uuid_generate(char buf[37]);
/* Constant-time comparison of two NUL-terminated secrets; the time depends only
 * on the length of `known`. */
bool ferry_secret_equal(const char *known, const char *given);

#endif
