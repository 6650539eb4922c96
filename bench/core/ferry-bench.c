/* SPDX-License-Identifier: MIT */
/*
 * ferry-bench: the load generator behind bench/run-core.sh.
 *
 * A small HTTP/1.1 keep-alive client over unix or TCP sockets, one thread
 * per connection, with no HTTP library in the way, so that the figures say
 * how fast ferryd is rather than how fast the client is. Subcommands:
 *
 *   create  N pod creates over C connections: creates/s, latency percentiles
 *   status  repeated /status calls for a list of uids (or []): latency percentiles
 *   spawn   exec ferryd and time exec -> first good /status answer (restart time)
 *   load    GET one path over C connections for D seconds: requests/s (wrk stand-in)
 *
 * Every subcommand prints one line of KEY=VALUE pairs on stdout (the driver
 * parses it) and says what went wrong on stderr. Everything is bounded: a
 * count, a duration or a timeout ends every loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define MAX_RESPONSE (256u << 20) /* a /status answer for 100k pods fits easily */

/* ---- small helpers ---- */

static int64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (!p) {
                fprintf(stderr, "ferry-bench: out of memory\n");
                exit(3);
        }
        return p;
}

static void *xrealloc(void *p, size_t n)
{
        p = realloc(p, n ? n : 1);
        if (!p) {
                fprintf(stderr, "ferry-bench: out of memory\n");
                exit(3);
        }
        return p;
}

struct buf {
        char *data;
        size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t extra)
{
        if (b->len + extra + 1 <= b->cap)
                return;
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + extra + 1)
                cap *= 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
}

static void buf_add(struct buf *b, const void *p, size_t n)
{
        buf_reserve(b, n);
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(struct buf *b, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        buf_reserve(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array, in milliseconds. */
static double pct_ms(const int64_t *sorted, size_t n, double p)
{
        if (n == 0)
                return 0;
        size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
        if (k < 1)
                k = 1;
        if (k > n)
                k = n;
        return (double)sorted[k - 1] / 1e6;
}

static size_t count_substr(const char *hay, size_t len, const char *needle)
{
        size_t n = 0, nl = strlen(needle);
        const char *p = hay, *end = hay + len;
        while (p < end && (p = memmem(p, (size_t)(end - p), needle, nl))) {
                n++;
                p += nl;
        }
        return n;
}

/* ---- the target and one keep-alive connection ---- */

struct target {
        bool is_unix;
        struct sockaddr_un sun;
        struct sockaddr_in sin;
        char host[64];
};

static int target_parse(struct target *t, const char *unix_path, const char *tcp)
{
        memset(t, 0, sizeof(*t));
        if (unix_path) {
                if (strlen(unix_path) >= sizeof(t->sun.sun_path)) {
                        fprintf(stderr, "ferry-bench: socket path %s is too long\n", unix_path);
                        return -ENAMETOOLONG;
                }
                t->is_unix = true;
                t->sun.sun_family = AF_UNIX;
                strcpy(t->sun.sun_path, unix_path);
                snprintf(t->host, sizeof(t->host), "localhost");
                return 0;
        }
        if (tcp) {
                char h[64];
                const char *colon = strrchr(tcp, ':');
                if (!colon || (size_t)(colon - tcp) >= sizeof(h)) {
                        fprintf(stderr, "ferry-bench: --tcp wants HOST:PORT, got %s\n", tcp);
                        return -EINVAL;
                }
                snprintf(h, sizeof(h), "%.*s", (int)(colon - tcp), tcp);
                t->sin.sin_family = AF_INET;
                t->sin.sin_port = htons((uint16_t)atoi(colon + 1));
                if (inet_pton(AF_INET, h, &t->sin.sin_addr) != 1) {
                        fprintf(stderr, "ferry-bench: --tcp wants a numeric IPv4 address, got %s\n",
                                h);
                        return -EINVAL;
                }
                snprintf(t->host, sizeof(t->host), "%s", tcp);
                return 0;
        }
        fprintf(stderr, "ferry-bench: say --unix PATH or --tcp HOST:PORT\n");
        return -EINVAL;
}

struct conn {
        const struct target *t;
        int fd;
        struct buf in; /* bytes read but not yet consumed */
};

static int conn_open(struct conn *c)
{
        int fd;
        if (c->t->is_unix) {
                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd >= 0 &&
                    connect(fd, (const struct sockaddr *)&c->t->sun, sizeof(c->t->sun)) < 0) {
                        int e = errno;
                        close(fd);
                        return -e;
                }
        } else {
                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd >= 0 &&
                    connect(fd, (const struct sockaddr *)&c->t->sin, sizeof(c->t->sin)) < 0) {
                        int e = errno;
                        close(fd);
                        return -e;
                }
                if (fd >= 0) {
                        int one = 1;
                        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                }
        }
        if (fd < 0)
                return -errno;
        c->fd = fd;
        c->in.len = 0;
        return 0;
}

static void conn_close(struct conn *c)
{
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
        c->in.len = 0;
}

static int write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

/* Read more bytes into c->in; 0 on EOF. */
static ssize_t fill(struct conn *c)
{
        buf_reserve(&c->in, 65536);
        for (;;) {
                ssize_t r = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                c->in.len += (size_t)r;
                c->in.data[c->in.len] = '\0';
                return r;
        }
}

static void consume(struct conn *c, size_t n)
{
        memmove(c->in.data, c->in.data + n, c->in.len - n);
        c->in.len -= n;
}

/* One request, one response. The body is appended to *body (cleared first).
 * Returns the HTTP status, or -errno. Reconnects once if a kept-alive
 * connection turns out to be closed before any byte of the answer. */
static int roundtrip(struct conn *c, const char *req, size_t reqlen, struct buf *body)
{
        int attempt = 0, r;
again:
        if (c->fd < 0 && (r = conn_open(c)) < 0)
                return r;
        if ((r = write_all(c->fd, req, reqlen)) < 0)
                goto broken;
        /* headers */
        char *eoh;
        while (!(c->in.len && (eoh = memmem(c->in.data, c->in.len, "\r\n\r\n", 4)))) {
                ssize_t n = fill(c);
                if (n <= 0) {
                        r = n < 0 ? (int)n : -ECONNRESET;
                        if (c->in.len == 0)
                                goto broken;
                        conn_close(c);
                        return r;
                }
                if (c->in.len > (1u << 20) && !memmem(c->in.data, c->in.len, "\r\n\r\n", 4)) {
                        conn_close(c); /* a megabyte of headers is not an answer */
                        return -EPROTO;
                }
        }
        size_t hlen = (size_t)(eoh - c->in.data) + 4;
        int status = 0;
        if (sscanf(c->in.data, "HTTP/1.%*d %d", &status) != 1) {
                conn_close(c);
                return -EPROTO;
        }
        long long clen = -1;
        bool chunked = false, close_after = false;
        for (char *line = strstr(c->in.data, "\r\n") + 2; line < eoh;
             line = strstr(line, "\r\n") + 2) {
                if (!strncasecmp(line, "Content-Length:", 15))
                        clen = strtoll(line + 15, NULL, 10);
                else if (!strncasecmp(line, "Transfer-Encoding:", 18) && strstr(line, "chunked") &&
                         strstr(line, "chunked") < strstr(line, "\r\n"))
                        chunked = true;
                else if (!strncasecmp(line, "Connection:", 11) &&
                         !strncasecmp(line + 11 + strspn(line + 11, " "), "close", 5))
                        close_after = true;
        }
        consume(c, hlen);
        body->len = 0;
        if (chunked) {
                for (;;) {
                        char *eol;
                        while (!(c->in.len && (eol = memmem(c->in.data, c->in.len, "\r\n", 2))))
                                if (fill(c) <= 0)
                                        goto truncated;
                        size_t sz = strtoul(c->in.data, NULL, 16);
                        consume(c, (size_t)(eol - c->in.data) + 2);
                        if (body->len + sz > MAX_RESPONSE)
                                goto truncated;
                        while (c->in.len < sz + 2)
                                if (fill(c) <= 0)
                                        goto truncated;
                        buf_add(body, c->in.data, sz);
                        consume(c, sz + 2);
                        if (sz == 0)
                                break; /* no trailers from the servers we measure */
                }
        } else if (clen >= 0) {
                if ((unsigned long long)clen > MAX_RESPONSE)
                        goto truncated;
                while (c->in.len < (size_t)clen)
                        if (fill(c) <= 0)
                                goto truncated;
                buf_add(body, c->in.data, (size_t)clen);
                consume(c, (size_t)clen);
        } else {
                while (fill(c) > 0)
                        if (c->in.len > MAX_RESPONSE)
                                goto truncated;
                buf_add(body, c->in.data, c->in.len);
                close_after = true;
        }
        if (!body->data)
                buf_reserve(body, 0);
        if (close_after)
                conn_close(c);
        return status;
truncated:
        conn_close(c);
        return -EPROTO;
broken:
        conn_close(c);
        if (attempt++ == 0)
                goto again;
        return r;
}

/* ---- pod bodies and uids ---- */

/* The hop-A body of ../shared/conformance/000-hello/create.json, compacted,
 * with the uid and name filled in per pod. */
/* --tenants K: pod i goes to namespace t<i % K>, asks 1..4 CPUs and runs
 * 1..4 s on the fake backend (site admission's figures) */
static int bench_tenants;

static void create_request(struct buf *req, const struct target *t, const char *uid, size_t idx)
{
        char body[1024], ns[16] = "bench", extra[160] = "", ann[96] = "";
        if (bench_tenants > 0) {
                snprintf(ns, sizeof(ns), "t%03zu", idx % (size_t)bench_tenants);
                snprintf(extra, sizeof(extra), ",\"resources\":{\"requests\":{\"cpu\":\"%zu\"}}",
                         1 + (idx * 7) % 4);
                snprintf(ann, sizeof(ann),
                         ",\"annotations\":{\"fake.ferry.io/duration-ms\":\"%zu\"}",
                         1000 + (idx * 13) % 3000);
        }
        int n = snprintf(
            body, sizeof(body),
            "{\"pod\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"bench-%zu\","
            "\"namespace\":\"%s\",\"uid\":\"%s\"%s},\"spec\":{\"containers\":[{\"name\":\"main\","
            "\"image\":\"docker.io/library/busybox:1.36\",\"command\":[\"sh\",\"-c\"],"
            "\"args\":[\"echo hello world\"]%s}],\"restartPolicy\":\"Never\"},"
            "\"status\":{\"phase\":\"Pending\"}},\"configmaps\":null,\"secrets\":null,"
            "\"projectedvolumesmaps\":null,\"jobscriptURL\":\"\"}",
            idx, ns, uid, ann, extra);
        req->len = 0;
        buf_printf(req,
                   "POST /create HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                   "Content-Length: %d\r\n\r\n%s",
                   t->host, n, body);
}

static void make_uid(char out[40], uint32_t seed, uint64_t idx)
{
        snprintf(out, 40, "%08" PRIx32 "-%04x-4%03x-8%03x-%012" PRIx64, seed,
                 (unsigned)(idx >> 48) & 0xffff, (unsigned)(seed >> 20) & 0xfff,
                 (unsigned)(seed >> 8) & 0xfff, (uint64_t)(idx & 0xffffffffffffULL));
}

/* ---- create ---- */

struct create_run {
        const struct target *t;
        size_t n;
        uint32_t seed;
        uint64_t first;
        double rate; /* creates/s across all connections, 0: as fast as answered */
        int64_t t0;  /* when the paced schedule starts */
        atomic_size_t next;
        atomic_size_t errors;
        atomic_size_t connected;
        atomic_bool go;
        atomic_bool err_shown;
        int64_t *lat;
};

static void show_error_once(atomic_bool *shown, const char *what, int status,
                            const struct buf *body)
{
        bool no = false;
        if (!atomic_compare_exchange_strong(shown, &no, true))
                return;
        if (status < 0)
                fprintf(stderr, "ferry-bench: %s: %s\n", what, strerror(-status));
        else
                fprintf(stderr, "ferry-bench: %s: HTTP %d: %.300s\n", what, status,
                        body->data ? body->data : "");
}

static void *create_worker(void *arg)
{
        struct create_run *run = arg;
        struct conn c = {.t = run->t, .fd = -1};
        struct buf req = {0}, body = {0};
        char uid[40];

        if (conn_open(&c) < 0)
                c.fd = -1; /* roundtrip retries */
        atomic_fetch_add(&run->connected, 1);
        while (!atomic_load(&run->go))
                usleep(100);
        for (;;) {
                size_t i = atomic_fetch_add(&run->next, 1);
                if (i >= run->n)
                        break;
                make_uid(uid, run->seed, run->first + i);
                create_request(&req, run->t, uid, (size_t)(run->first + i));
                if (run->rate > 0) { /* slower clients: create i is due at t0 + i/rate */
                        int64_t due = run->t0 + (int64_t)((double)i * 1e9 / run->rate);
                        struct timespec ts = {.tv_sec = due / 1000000000,
                                              .tv_nsec = due % 1000000000};
                        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                                ;
                }
                int64_t t0 = now_ns();
                int st = roundtrip(&c, req.data, req.len, &body);
                run->lat[i] = now_ns() - t0;
                if (st != 200 || !strstr(body.data, "\"PodUID\"")) {
                        atomic_fetch_add(&run->errors, 1);
                        show_error_once(&run->err_shown, "create", st, &body);
                }
        }
        conn_close(&c);
        free(req.data);
        free(body.data);
        free(c.in.data);
        return NULL;
}

static int cmd_create(const struct target *t, size_t n, int conns, uint32_t seed, uint64_t first,
                      const char *uids_out, double rate)
{
        struct create_run run = {.t = t, .n = n, .seed = seed, .first = first, .rate = rate};
        pthread_t th[MAX_CONNS];

        run.lat = xmalloc(n * sizeof(*run.lat));
        if (uids_out) {
                FILE *f = fopen(uids_out, "w");
                if (!f) {
                        fprintf(stderr, "ferry-bench: cannot write %s: %s\n", uids_out,
                                strerror(errno));
                        return 1;
                }
                char uid[40];
                for (size_t i = 0; i < n; i++) {
                        make_uid(uid, seed, first + i);
                        fprintf(f, "%s\n", uid);
                }
                fclose(f);
        }
        for (int i = 0; i < conns; i++)
                if (pthread_create(&th[i], NULL, create_worker, &run) != 0) {
                        fprintf(stderr, "ferry-bench: cannot start thread %d\n", i);
                        exit(3);
                }
        while (atomic_load(&run.connected) < (size_t)conns)
                usleep(100);
        int64_t t0 = now_ns();
        run.t0 = t0;
        atomic_store(&run.go, true);
        for (int i = 0; i < conns; i++)
                pthread_join(th[i], NULL);
        double secs = (double)(now_ns() - t0) / 1e9;
        qsort(run.lat, n, sizeof(*run.lat), cmp_i64);
        printf("creates=%zu conns=%d errors=%zu secs=%.3f rate=%.0f p50_ms=%.2f p99_ms=%.2f "
               "max_ms=%.2f\n",
               n, conns, atomic_load(&run.errors), secs, (double)n / secs, pct_ms(run.lat, n, 50),
               pct_ms(run.lat, n, 99), pct_ms(run.lat, n, 100));
        free(run.lat);
        return atomic_load(&run.errors) ? 1 : 0;
}

/* ---- status ---- */

/* One element as a virtual kubelet sends it: the whole v1.Pod (metadata with
 * managed fields, spec, status), about 2.5 KB; only the uid matters. */
static void full_pod(struct buf *b, const char *uid, size_t i)
{
        buf_printf(
            b,
            "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"bench-%zu\","
            "\"namespace\":\"bench\",\"uid\":\"%s\",\"resourceVersion\":\"%zu\","
            "\"creationTimestamp\":\"2026-12-04T10:00:00Z\",\"labels\":{\"app\":\"bench\","
            "\"batch.kubernetes.io/job-name\":\"bench-job\",\"team\":\"physics\"},"
            "\"annotations\":{\"interlink.eu/pod-jid\":\"{\\\"PodUID\\\":\\\"%s\\\"}\","
            "\"kubectl.kubernetes.io/"
            "last-applied-configuration\":\"{\\\"apiVersion\\\":\\\"v1\\\"}\"},"
            "\"ownerReferences\":[{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"name\":"
            "\"bench-job\",\"uid\":\"00000000-0000-4000-8000-000000000000\",\"controller\":true}],"
            "\"managedFields\":[{\"manager\":\"kube-controller-manager\",\"operation\":\"Update\","
            "\"apiVersion\":\"v1\",\"time\":\"2026-12-04T10:00:00Z\",\"fieldsType\":\"FieldsV1\","
            "\"fieldsV1\":{\"f:metadata\":{\"f:labels\":{\".\":{},\"f:app\":{}}},\"f:spec\":"
            "{\"f:containers\":{\"k:{\\\"name\\\":\\\"main\\\"}\":{\".\":{},\"f:image\":{},"
            "\"f:name\":{},\"f:resources\":{}}}}}}]},"
            "\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":"
            "\"registry.example/ml/train:2.1\",\"command\":[\"python3\",\"-u\",\"train.py\"],"
            "\"args\":[\"--epochs\",\"10\",\"--data\",\"/data/set-%zu\"],\"env\":["
            "{\"name\":\"EPOCHS\",\"value\":\"10\"},{\"name\":\"POD_NAME\",\"valueFrom\":"
            "{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}},{\"name\":\"TOKEN\",\"valueFrom\":"
            "{\"secretKeyRef\":{\"name\":\"s\",\"key\":\"t\"}}}],\"resources\":{\"limits\":"
            "{\"cpu\":\"2\",\"memory\":\"4Gi\",\"nvidia.com/gpu\":\"1\"},\"requests\":{\"cpu\":"
            "\"1\",\"memory\":\"2Gi\"}},\"volumeMounts\":[{\"name\":\"data\",\"mountPath\":"
            "\"/data\"},{\"name\":\"kube-api-access\",\"mountPath\":"
            "\"/var/run/secrets/kubernetes.io/serviceaccount\",\"readOnly\":true}],"
            "\"terminationMessagePath\":\"/dev/"
            "termination-log\",\"imagePullPolicy\":\"IfNotPresent\"}],"
            "\"volumes\":[{\"name\":\"data\",\"emptyDir\":{}},{\"name\":\"kube-api-access\","
            "\"projected\":{\"sources\":[{\"serviceAccountToken\":{\"expirationSeconds\":3607,"
            "\"path\":\"token\"}},{\"configMap\":{\"name\":\"kube-root-ca.crt\",\"items\":[{"
            "\"key\":"
            "\"ca.crt\",\"path\":\"ca.crt\"}]}}]}}],\"restartPolicy\":\"Never\","
            "\"nodeName\":\"ferry-node\",\"tolerations\":[{\"key\":\"virtual-node.interlink/"
            "no-schedule\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}]},"
            "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":"
            "\"True\",\"lastTransitionTime\":\"2026-12-04T10:00:02Z\"}],\"containerStatuses\":["
            "{\"name\":\"main\",\"ready\":true,\"restartCount\":0,\"image\":"
            "\"registry.example/ml/train:2.1\",\"imageID\":\"\",\"state\":{\"running\":"
            "{\"startedAt\":\"2026-12-04T10:00:01Z\"}}}],\"startTime\":\"2026-12-04T10:00:00Z\"}}",
            i, uid, i + 1000, uid, i);
}

static int status_body_from_file(struct buf *b, const char *path, bool full, size_t *ret_n,
                                 char *first_uid, size_t fl)
{
        FILE *f = fopen(path, "r");
        char line[128];
        size_t n = 0;
        if (!f) {
                fprintf(stderr, "ferry-bench: cannot read %s: %s\n", path, strerror(errno));
                return -errno;
        }
        buf_add(b, "[", 1);
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\r\n")] = '\0';
                if (!line[0])
                        continue;
                if (n == 0)
                        snprintf(first_uid, fl, "%s", line);
                if (n)
                        buf_add(b, ",", 1);
                if (full)
                        full_pod(b, line, n);
                else
                        buf_printf(b, "{\"metadata\":{\"uid\":\"%s\"}}", line);
                n++;
        }
        buf_add(b, "]", 1);
        fclose(f);
        *ret_n = n;
        return 0;
}

static int cmd_status(const struct target *t, const char *uids_file, int calls, size_t expect,
                      bool all, bool full)
{
        struct buf body = {0}, req = {0}, resp = {0};
        struct conn c = {.t = t, .fd = -1};
        char first_uid[128] = "";
        size_t n = 0;
        int errors = 0;

        if (all || !uids_file)
                buf_add(&body, "[]", 2);
        else if (status_body_from_file(&body, uids_file, full, &n, first_uid, sizeof(first_uid)) <
                 0)
                return 1;
        buf_printf(&req,
                   "POST /status HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\n\r\n",
                   t->host, body.len);
        buf_add(&req, body.data, body.len);
        int64_t *lat = xmalloc((size_t)calls * sizeof(*lat));
        size_t pods = 0, running = 0, bytes = 0;
        for (int i = 0; i < calls; i++) {
                int64_t t0 = now_ns();
                int st = roundtrip(&c, req.data, req.len, &resp);
                lat[i] = now_ns() - t0;
                if (st != 200) {
                        errors++;
                        if (errors == 1)
                                fprintf(stderr, "ferry-bench: status: %s %.300s\n",
                                        st < 0 ? strerror(-st) : "HTTP error",
                                        resp.data ? resp.data : "");
                        continue;
                }
                if (i == 0 || i == calls - 1) { /* check the answer, outside the hot loop's cost */
                        pods = count_substr(resp.data, resp.len, "\"UID\":");
                        running = count_substr(resp.data, resp.len, "\"phase\":\"Running\"");
                        bytes = resp.len;
                        if ((expect && pods != expect) ||
                            (first_uid[0] && !strstr(resp.data, first_uid))) {
                                errors++;
                                fprintf(stderr,
                                        "ferry-bench: status answered %zu pods, expected %zu\n",
                                        pods, expect ? expect : n);
                        }
                }
        }
        qsort(lat, (size_t)calls, sizeof(*lat), cmp_i64);
        double sum = 0;
        for (int i = 0; i < calls; i++)
                sum += (double)lat[i];
        printf("calls=%d asked=%s pods=%zu running=%zu req_bytes=%zu bytes=%zu errors=%d "
               "p50_ms=%.2f p99_ms=%.2f max_ms=%.2f mean_ms=%.2f\n",
               calls, all || !uids_file ? "all" : (full ? "full" : "list"), pods, running, body.len,
               bytes, errors, pct_ms(lat, (size_t)calls, 50), pct_ms(lat, (size_t)calls, 99),
               pct_ms(lat, (size_t)calls, 100), sum / calls / 1e6);
        conn_close(&c);
        free(lat);
        free(body.data);
        free(req.data);
        free(resp.data);
        free(c.in.data);
        return errors ? 1 : 0;
}

/* ---- spawn: exec the daemon and time exec -> first good answer ---- */

static int cmd_spawn(const struct target *t, const char *uid, int timeout_ms, const char *log,
                     const char *pidfile, char **argv)
{
        struct buf req = {0}, resp = {0};
        struct conn c = {.t = t, .fd = -1};

        if (uid) {
                char body[160];
                int n = snprintf(body, sizeof(body), "[{\"metadata\":{\"uid\":\"%s\"}}]", uid);
                buf_printf(&req,
                           "POST /status HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                           "Content-Length: %d\r\n\r\n%s",
                           t->host, n, body);
        } else {
                buf_printf(&req, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", t->host);
        }
        int64_t t0 = now_ns();
        pid_t pid = fork();
        if (pid < 0) {
                fprintf(stderr, "ferry-bench: fork: %s\n", strerror(errno));
                return 1;
        }
        if (pid == 0) {
                if (log) {
                        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                        if (fd >= 0) {
                                dup2(fd, 1);
                                dup2(fd, 2);
                        }
                }
                execv(argv[0], argv);
                fprintf(stderr, "ferry-bench: cannot run %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        if (pidfile) {
                FILE *f = fopen(pidfile, "w");
                if (f) {
                        fprintf(f, "%d\n", (int)pid);
                        fclose(f);
                }
        }
        int64_t deadline = t0 + (int64_t)timeout_ms * 1000000;
        int tries = 0;
        for (;;) {
                int wst;
                if (waitpid(pid, &wst, WNOHANG) == pid) {
                        fprintf(stderr, "ferry-bench: %s exited (status 0x%x) before answering\n",
                                argv[0], wst);
                        return 1;
                }
                if (now_ns() > deadline) {
                        fprintf(stderr,
                                "ferry-bench: %s did not answer within %d ms; stopping it\n",
                                argv[0], timeout_ms);
                        kill(pid, SIGTERM);
                        return 1;
                }
                tries++;
                if (c.fd >= 0 || conn_open(&c) == 0) {
                        int st = roundtrip(&c, req.data, req.len, &resp);
                        if (st == 200 && (!uid || strstr(resp.data, uid)))
                                break;
                }
                usleep(1000);
        }
        double ms = (double)(now_ns() - t0) / 1e6;
        printf("ready_ms=%.1f pid=%d tries=%d\n", ms, (int)pid, tries);
        conn_close(&c);
        free(req.data);
        free(resp.data);
        free(c.in.data);
        return 0;
}

/* ---- load: a wrk stand-in, GET one path for D seconds ---- */

struct load_run {
        const struct target *t;
        const char *path;
        int64_t end_ns;
        atomic_ullong done;
        atomic_ullong errors;
        atomic_bool err_shown;
};

static void *load_worker(void *arg)
{
        struct load_run *run = arg;
        struct conn c = {.t = run->t, .fd = -1};
        struct buf req = {0}, body = {0};
        unsigned long long n = 0, e = 0;

        buf_printf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", run->path, run->t->host);
        while (now_ns() < run->end_ns) {
                int st = roundtrip(&c, req.data, req.len, &body);
                if (st == 200) {
                        n++;
                } else {
                        e++;
                        show_error_once(&run->err_shown, run->path, st, &body);
                        if (st < 0)
                                usleep(1000);
                }
        }
        atomic_fetch_add(&run->done, n);
        atomic_fetch_add(&run->errors, e);
        conn_close(&c);
        free(req.data);
        free(body.data);
        free(c.in.data);
        return NULL;
}

static int cmd_load(const struct target *t, const char *path, int conns, double secs)
{
        struct load_run run = {.t = t, .path = path};
        pthread_t th[MAX_CONNS];
        int64_t t0 = now_ns();

        run.end_ns = t0 + (int64_t)(secs * 1e9);
        for (int i = 0; i < conns; i++)
                if (pthread_create(&th[i], NULL, load_worker, &run) != 0) {
                        fprintf(stderr, "ferry-bench: cannot start thread %d\n", i);
                        exit(3);
                }
        for (int i = 0; i < conns; i++)
                pthread_join(th[i], NULL);
        double el = (double)(now_ns() - t0) / 1e9;
        printf("requests=%llu errors=%llu secs=%.2f rate=%.0f\n", atomic_load(&run.done),
               atomic_load(&run.errors), el, (double)atomic_load(&run.done) / el);
        return atomic_load(&run.errors) ? 1 : 0;
}

/* ---- get: one GET, body to stdout (the driver reads /metrics with it) ---- */

static int cmd_get(const struct target *t, const char *path)
{
        struct buf req = {0}, resp = {0};
        struct conn c = {.t = t, .fd = -1};

        buf_printf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, t->host);
        int st = roundtrip(&c, req.data, req.len, &resp);
        if (st == 200)
                fwrite(resp.data, 1, resp.len, stdout);
        else
                fprintf(stderr, "ferry-bench: GET %s: %s\n", path,
                        st < 0 ? strerror(-st) : "HTTP error");
        conn_close(&c);
        free(req.data);
        free(resp.data);
        free(c.in.data);
        return st == 200 ? 0 : 1;
}

/* ---- main ---- */

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: ferry-bench COMMAND (--unix PATH | --tcp IP:PORT) [OPTIONS]\n\n"
                "  create  -n N -c CONNS [--rate R] [--seed S] [--first I] [--uids-out FILE]\n"
                "          N hop-A pod creates over CONNS keep-alive connections; --rate R\n"
                "          paces them to R/s in all (slower clients), else as fast as answered;\n"
                "          --tenants K spreads them over K namespaces with CPU requests and\n"
                "          fake run times (site admission)\n"
                "  status  -n CALLS (--uids FILE [--full] | --all) [--expect PODS]\n"
                "          CALLS /status requests for the listed uids (or [] = all pods);\n"
                "          --full sends each as a whole v1.Pod, as a virtual kubelet does\n"
                "  spawn   [--uid UID] [--timeout-ms MS] [--log FILE] [--pidfile FILE] -- "
                "PROGRAM ARGS...\n"
                "          exec PROGRAM, time until /status answers UID (or /healthz answers)\n"
                "  load    --path PATH -c CONNS -d SECONDS\n"
                "          GET PATH over CONNS keep-alive connections for SECONDS\n"
                "  get     --path PATH\n"
                "          one GET, the body on stdout\n\n"
                "Each command prints one line of KEY=VALUE results on stdout.\n");
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
            {"unix", required_argument, NULL, 'u'},
            {"tenants", required_argument, NULL, 'K'},
            {"tcp", required_argument, NULL, 'T'},
            {"seed", required_argument, NULL, 'S'},
            {"first", required_argument, NULL, 'F'},
            {"uids-out", required_argument, NULL, 'O'},
            {"rate", required_argument, NULL, 'R'},
            {"uids", required_argument, NULL, 'U'},
            {"all", no_argument, NULL, 'A'},
            {"full", no_argument, NULL, 'f'},
            {"expect", required_argument, NULL, 'E'},
            {"uid", required_argument, NULL, 'i'},
            {"timeout-ms", required_argument, NULL, 'W'},
            {"log", required_argument, NULL, 'L'},
            {"pidfile", required_argument, NULL, 'P'},
            {"path", required_argument, NULL, 'p'},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        const char *unix_path = NULL, *tcp = NULL, *uids_out = NULL, *uids = NULL, *uid = NULL,
                   *log = NULL, *pidfile = NULL, *path = "/pinglink";
        long long n = 1000, first = 0;
        int conns = 32, timeout_ms = 30000;
        uint32_t seed = (uint32_t)(now_ns() ^ ((int64_t)getpid() << 16));
        size_t expect = 0;
        double secs = 5, rate = 0;
        bool all = false, full = false;
        int c;

        if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
                usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? 2 : 0;
        }
        const char *cmd = argv[1];
        argv++;
        argc--;
        while ((c = getopt_long(argc, argv, "+n:c:d:h", opts, NULL)) != -1) {
                switch (c) {
                case 'u': unix_path = optarg; break;
                case 'K': bench_tenants = atoi(optarg); break;
                case 'T': tcp = optarg; break;
                case 'S': seed = (uint32_t)strtoul(optarg, NULL, 0); break;
                case 'F': first = strtoll(optarg, NULL, 10); break;
                case 'O': uids_out = optarg; break;
                case 'R': rate = strtod(optarg, NULL); break;
                case 'U': uids = optarg; break;
                case 'A': all = true; break;
                case 'f': full = true; break;
                case 'E': expect = strtoull(optarg, NULL, 10); break;
                case 'i': uid = optarg; break;
                case 'W': timeout_ms = atoi(optarg); break;
                case 'L': log = optarg; break;
                case 'P': pidfile = optarg; break;
                case 'p': path = optarg; break;
                case 'n': n = strtoll(optarg, NULL, 10); break;
                case 'c': conns = atoi(optarg); break;
                case 'd': secs = strtod(optarg, NULL); break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (n < 1 || n > 10000000 || conns < 1 || conns > MAX_CONNS || secs <= 0 || secs > 600 ||
            first < 0 || timeout_ms < 1 || !(rate >= 0)) {
                fprintf(
                    stderr,
                    "ferry-bench: -n 1..10000000, -c 1..%d, -d 0..600 seconds, --timeout-ms > 0\n",
                    MAX_CONNS);
                return 2;
        }
        struct target t;
        if (target_parse(&t, unix_path, tcp) < 0)
                return 2;
        signal(SIGPIPE, SIG_IGN);
        if (!strcmp(cmd, "create")) {
                if (n < conns)
                        conns = (int)n;
                return cmd_create(&t, (size_t)n, conns, seed, (uint64_t)first, uids_out, rate);
        }
        if (!strcmp(cmd, "status"))
                return cmd_status(&t, uids, (int)(n > 100000 ? 100000 : n), expect, all, full);
        if (!strcmp(cmd, "spawn")) {
                if (optind >= argc) {
                        fprintf(stderr, "ferry-bench: spawn needs -- PROGRAM ARGS...\n");
                        return 2;
                }
                return cmd_spawn(&t, uid, timeout_ms, log, pidfile, argv + optind);
        }
        if (!strcmp(cmd, "get"))
                return cmd_get(&t, path);
        if (!strcmp(cmd, "load"))
                return cmd_load(&t, path, conns, secs);
        fprintf(stderr, "ferry-bench: unknown command \"%s\"\n", cmd);
        usage(stderr);
        return 2;
}
