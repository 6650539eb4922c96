/* SPDX-License-Identifier: MIT */
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

static void oom(void)
{
        static const char msg[] = "ferry: out of memory\n";
        (void)!write(2, msg, sizeof(msg) - 1);
        abort();
}

void *ferry_xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (!p)
                oom();
        return p;
}

void *ferry_xcalloc(size_t n, size_t m)
{
        void *p = calloc(n ? n : 1, m ? m : 1);
        if (!p)
                oom();
        return p;
}

void *ferry_xrealloc(void *p, size_t n)
{
        void *q = realloc(p, n ? n : 1);
        if (!q)
                oom();
        return q;
}

char *ferry_xstrdup(const char *s)
{
        char *p = strdup(s ? s : "");
        if (!p)
                oom();
        return p;
}

char *ferry_xstrndup(const char *s, size_t n)
{
        char *p = strndup(s, n);
        if (!p)
                oom();
        return p;
}

char *ferry_xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *p;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&p, fmt, ap);
        va_end(ap);
        if (r < 0)
                oom();
        return p;
}

/* ---- buffer ---- */
void ferry_buf_reserve(struct ferry_buf *b, size_t extra)
{
        size_t need = b->len + extra + 1;
        if (need <= b->cap)
                return;
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
                cap *= 2;
        b->data = ferry_xrealloc(b->data, cap);
        b->cap = cap;
}

void ferry_buf_add(struct ferry_buf *b, const void *p, size_t n)
{
        ferry_buf_reserve(b, n);
        if (n)
                memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
}

void ferry_buf_adds(struct ferry_buf *b, const char *s)
{
        ferry_buf_add(b, s, strlen(s));
}

void ferry_buf_addc(struct ferry_buf *b, char c)
{
        ferry_buf_add(b, &c, 1);
}

void ferry_buf_printf(struct ferry_buf *b, const char *fmt, ...)
{
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        ferry_buf_reserve(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
}

void ferry_buf_add_json_str(struct ferry_buf *b, const char *s)
{
        static const char hex[] = "0123456789abcdef";
        const unsigned char *p = (const unsigned char *)(s ? s : "");
        const unsigned char *run = p;

        ferry_buf_addc(b, '"');
        for (; *p; p++) {
                if (*p >= 0x20 && *p != '"' && *p != '\\')
                        continue;
                ferry_buf_add(b, run, (size_t)(p - run));
                run = p + 1;
                switch (*p) {
                case '"': ferry_buf_add(b, "\\\"", 2); break;
                case '\\': ferry_buf_add(b, "\\\\", 2); break;
                case '\n': ferry_buf_add(b, "\\n", 2); break;
                case '\r': ferry_buf_add(b, "\\r", 2); break;
                case '\t': ferry_buf_add(b, "\\t", 2); break;
                default: {
                        char e[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
                        ferry_buf_add(b, e, 6);
                }
                }
        }
        ferry_buf_add(b, run, (size_t)(p - run));
        ferry_buf_addc(b, '"');
}

void ferry_buf_add_json_strv(struct ferry_buf *b, char *const *v, size_t n)
{
        ferry_buf_addc(b, '[');
        for (size_t i = 0; i < n; i++) {
                if (i)
                        ferry_buf_adds(b, ", ");
                ferry_buf_add_json_str(b, v[i]);
        }
        ferry_buf_addc(b, ']');
}

void ferry_buf_reset(struct ferry_buf *b)
{
        b->len = 0;
        if (b->data)
                b->data[0] = '\0';
}

void ferry_buf_free(struct ferry_buf *b)
{
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}

char *ferry_buf_steal(struct ferry_buf *b)
{
        char *p = b->data ? b->data : ferry_xstrdup("");
        b->data = NULL;
        b->len = b->cap = 0;
        return p;
}

/* ---- time ---- */
int64_t ferry_now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t ferry_monotonic_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

char *ferry_time_format(int64_t ns, int frac_digits, char buf[FERRY_TIME_MAX])
{
        struct tm tm;
        time_t sec;
        int64_t frac;
        size_t n;

        buf[0] = '\0';
        if (ns == 0)
                return buf;
        sec = (time_t)(ns / 1000000000LL);
        frac = ns % 1000000000LL;
        if (frac < 0) {
                frac += 1000000000LL;
                sec--;
        }
        if (!gmtime_r(&sec, &tm))
                return buf;
        n = strftime(buf, FERRY_TIME_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
        if (frac_digits > 0) {
                char f[16];
                if (frac_digits > 9)
                        frac_digits = 9;
                snprintf(f, sizeof(f), "%09lld", (long long)frac);
                f[frac_digits] = '\0';
                n += (size_t)snprintf(buf + n, FERRY_TIME_MAX - n, ".%s", f);
        }
        snprintf(buf + n, FERRY_TIME_MAX - n, "Z");
        return buf;
}

static int parse_digits(const char **p, int n, int *ret)
{
        int v = 0;
        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char)(*p)[i]))
                        return -EINVAL;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        *ret = v;
        return 0;
}

int ferry_time_parse(const char *s, int64_t *ret_ns)
{
        int Y, M, D, h, m, sec, oh = 0, om = 0;
        int64_t frac = 0;
        const char *p = s;
        struct tm tm = {0};

        if (!s)
                return -EINVAL;
        if (parse_digits(&p, 4, &Y) < 0 || *p++ != '-' || parse_digits(&p, 2, &M) < 0 ||
            *p++ != '-' || parse_digits(&p, 2, &D) < 0 || (*p != 'T' && *p != 't' && *p != ' '))
                return -EINVAL;
        p++;
        if (parse_digits(&p, 2, &h) < 0 || *p++ != ':' || parse_digits(&p, 2, &m) < 0 ||
            *p++ != ':' || parse_digits(&p, 2, &sec) < 0)
                return -EINVAL;
        if (*p == '.') {
                int digits = 0;
                p++;
                if (!isdigit((unsigned char)*p))
                        return -EINVAL;
                while (isdigit((unsigned char)*p)) {
                        if (digits < 9) {
                                frac = frac * 10 + (*p - '0');
                                digits++;
                        }
                        p++;
                }
                while (digits++ < 9)
                        frac *= 10;
        }
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if (*p == '+' || *p == '-') {
                int sign = *p == '-' ? -1 : 1;
                p++;
                if (parse_digits(&p, 2, &oh) < 0 || *p++ != ':' || parse_digits(&p, 2, &om) < 0)
                        return -EINVAL;
                oh *= sign;
                om *= sign;
        } else {
                return -EINVAL;
        }
        if (*p != '\0' || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
                return -EINVAL;
        tm.tm_year = Y - 1900;
        tm.tm_mon = M - 1;
        tm.tm_mday = D;
        tm.tm_hour = h;
        tm.tm_min = m;
        tm.tm_sec = sec;
        time_t t = timegm(&tm);
        t -= oh * 3600 + om * 60;
        *ret_ns = (int64_t)t * 1000000000LL + frac;
        return 0;
}

/* ---- files ---- */
int ferry_write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;
        while (len > 0) {
                ssize_t w = write(fd, p, len);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                len -= (size_t)w;
        }
        return 0;
}

int ferry_mkdir_p(const char *path, unsigned mode)
{
        char tmp[4096];
        size_t n = strlen(path);

        if (n == 0 || n >= sizeof(tmp))
                return -ENAMETOOLONG;
        memcpy(tmp, path, n + 1);
        for (char *p = tmp + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(tmp, mode) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int ferry_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode,
                            bool durable)
{
        char tmp[4096];
        int fd, r = 0;
        const char *p = data;

        if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
                return -ENAMETOOLONG;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        r = ferry_write_all(fd, p, len);
        if (r == 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r == 0 && durable && fsync(fd) < 0)
                r = -errno;
        close(fd);
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return r;
        }
        if (durable) {
                char dir[4096];
                snprintf(dir, sizeof(dir), "%s", path);
                char *slash = strrchr(dir, '/');
                if (slash) {
                        *slash = '\0';
                        int dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (dfd >= 0) {
                                fsync(dfd);
                                close(dfd);
                        }
                }
        }
        return 0;
}

int ferry_read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
        struct ferry_buf b = FERRY_BUF_INIT;
        char chunk[65536];
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = -errno;
                        close(fd);
                        ferry_buf_free(&b);
                        return r;
                }
                if (n == 0)
                        break;
                if (b.len + (size_t)n > max) {
                        close(fd);
                        ferry_buf_free(&b);
                        return -EFBIG;
                }
                ferry_buf_add(&b, chunk, (size_t)n);
        }
        close(fd);
        if (ret_len)
                *ret_len = b.len;
        *ret = ferry_buf_steal(&b);
        return 0;
}

/* The directory name in dfd, opened without following a symlink; NULL with errno. */
static DIR *opendir_at(int dfd, const char *name)
{
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        DIR *d = fdopendir(fd);
        if (!d) {
                int e = errno;
                close(fd);
                errno = e;
        }
        return d;
}

static int rm_rf_at(int dfd, const char *name, dev_t dev)
{
        struct stat st;

        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
        if (st.st_dev != dev)
                return -EXDEV;
        DIR *d = opendir_at(dfd, name);
        if (!d)
                return -errno;
        int r = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                int q = rm_rf_at(dirfd(d), de->d_name, dev);
                if (q < 0 && r == 0)
                        r = q;
        }
        closedir(d);
        if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
                r = -errno;
        return r;
}

static int chown_r_at(int dfd, const char *name, uid_t uid, gid_t gid, int depth)
{
        struct stat st;

        if (depth > 64)
                return -ELOOP;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return 0;
        DIR *d = opendir_at(dfd, name);
        if (!d)
                return -errno;
        int r = 0;
        struct dirent *de;
        while (r == 0 && (de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        r = chown_r_at(dirfd(d), de->d_name, uid, gid, depth + 1);
        closedir(d);
        return r;
}

int ferry_chown_r(const char *path, uid_t uid, gid_t gid)
{
        if (!path || !path[0])
                return -EINVAL;
        return chown_r_at(AT_FDCWD, path, uid, gid, 0);
}

int ferry_rm_rf(const char *path)
{
        struct stat st;

        if (!path || !path[0] || !strcmp(path, "/"))
                return -EINVAL;
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        return rm_rf_at(AT_FDCWD, path, st.st_dev);
}

/* ---- strings ---- */
bool ferry_str_startswith(const char *s, const char *prefix)
{
        return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool label_ok(const char *s, size_t n)
{
        if (n == 0 || n > 63)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
                if (!alnum && !(c == '-' && i > 0 && i < n - 1))
                        return false;
        }
        return true;
}

bool ferry_is_dns_label(const char *s)
{
        return s && label_ok(s, strlen(s));
}

bool ferry_is_dns_subdomain(const char *s)
{
        if (!s)
                return false;
        size_t n = strlen(s);
        if (n == 0 || n > 253)
                return false;
        const char *start = s;
        for (const char *p = s;; p++) {
                if (*p == '.' || *p == '\0') {
                        if (!label_ok(start, (size_t)(p - start)))
                                return false;
                        if (*p == '\0')
                                return true;
                        start = p + 1;
                }
        }
}

bool ferry_utf8_valid(const unsigned char *p, size_t n)
{
        for (size_t i = 0; i < n;) {
                unsigned char c = p[i];
                size_t k;
                unsigned cp;
                if (c < 0x80) {
                        i++;
                        continue;
                } else if ((c & 0xe0) == 0xc0) {
                        k = 1, cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        k = 2, cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        k = 3, cp = c & 0x07;
                } else {
                        return false;
                }
                if (k >= n - i)
                        return false;
                for (size_t j = 1; j <= k; j++) {
                        if ((p[i + j] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (p[i + j] & 0x3f);
                }
                if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
                    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += k + 1;
        }
        return true;
}

bool ferry_is_uuid(const char *s)
{
        if (!s || strlen(s) != 36)
                return false;
        for (int i = 0; i < 36; i++) {
                char c = s[i];
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (c != '-')
                                return false;
                } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                        return false;
                }
        }
        return true;
}

void ferry_uuid_generate(char buf[37])
{
        unsigned char r[16];
        size_t got = 0;
        while (got < sizeof(r)) {
                ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
                if (n > 0)
                        got += (size_t)n;
        }
        r[6] = (r[6] & 0x0f) | 0x40;
        r[8] = (r[8] & 0x3f) | 0x80;
        snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
                 r[13], r[14], r[15]);
}

bool ferry_secret_equal(const char *known, const char *given)
{
        size_t kn = strlen(known);
        size_t gn = 0;
        unsigned char diff = 0;
        bool gend = false;

        /* Walk `known` fully; read `given` until its NUL without branching on content. */
        for (size_t i = 0; i < kn; i++) {
                unsigned char g = gend ? 0 : (unsigned char)given[i];
                gend |= g == 0;
                diff |= (unsigned char)known[i] ^ g;
        }
        if (!gend)
                gn = kn + (given[kn] != '\0');
        else
                gn = 0;
        return diff == 0 && gn == kn;
}
