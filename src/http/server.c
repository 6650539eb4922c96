/* SPDX-License-Identifier: MIT */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/histogram.h"
#include "common/log.h"
#include "common/util.h"
#include "daemon/jobs.h"

enum route_id {
        R_CREATE,
        R_DELETE,
        R_STATUS,
        R_LOGS,
        R_PING,
        R_UPDATE,
        R_HEALTH,
        R_METRICS,
        R_JOBS,
        R_TENANTS,
        R_USAGE,
        R_OTHER,
        R_MAX
};

static const char *const route_paths[R_MAX] = {
    [R_CREATE] = "/create",   [R_DELETE] = "/delete",   [R_STATUS] = "/status",
    [R_LOGS] = "/getLogs",    [R_PING] = "/pinglink",   [R_UPDATE] = "/updateCache",
    [R_HEALTH] = "/healthz",  [R_METRICS] = "/metrics", [R_JOBS] = "/jobs",
    [R_TENANTS] = "/tenants", [R_USAGE] = "/usage",     [R_OTHER] = "other",
};

static const unsigned codes[] = {200, 400, 401, 403, 404, 405, 409, 413, 422, 500, 503, 504};
#define N_CODES (sizeof(codes) / sizeof(codes[0]))

struct metrics {
        atomic_ullong req[R_MAX][N_CODES + 1];
        struct ferry_hist lat[R_MAX];
};

struct listener {
        struct ferry_server *srv;
        struct MHD_Daemon *mhd;
        enum ferry_listener_role role;
        bool need_auth;
        bool verify_client; /* https with a client CA: a verified certificate is required */
        char *url;
        char *unix_path;
};

struct ferry_server {
        struct ferry_daemon *d;
        struct ferry_auth *auth;
        char *tls_cert, *tls_key, *tls_ca; /* PEM contents */
        struct listener *ls;
        size_t n;
        struct metrics m;
        atomic_ullong session_seq;
        /* log streams: each runs on its own thread until its container ends,
         * its reader goes or the server stops; stop waits for all of them
         * (they call into the daemon, which is freed after the server) */
        pthread_mutex_t streams_lock;
        pthread_cond_t streams_cond;
        size_t n_streams;
        atomic_bool stopping;
};

struct req {
        struct ferry_buf body;
        struct ferry_status_req *status; /* /status: scanned as it arrives, not kept */
        bool too_big;
        int64_t t0;
};

static void count(struct ferry_server *s, enum route_id rt, unsigned code, int64_t t0)
{
        size_t ci = N_CODES;
        for (size_t i = 0; i < N_CODES; i++)
                if (codes[i] == code)
                        ci = i;
        atomic_fetch_add(&s->m.req[rt][ci], 1);
        ferry_hist_observe(&s->m.lat[rt], ferry_monotonic_ns() - t0);
}

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned code, const char *ctype,
                                struct ferry_buf *b, const char *session)
{
        size_t len = b->len;
        char *data = ferry_buf_steal(b);
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(data);
                return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type", ctype);
        if (session)
                MHD_add_response_header(resp, "InterLink-Http-Session", session);
        enum MHD_Result ret = MHD_queue_response(c, code, resp);
        MHD_destroy_response(resp);
        return ret;
}

static unsigned send_error(struct MHD_Connection *c, int r, const ferry_error_t *err, bool plain,
                           const char *session, enum MHD_Result *ret)
{
        const char *reason;
        unsigned code = ferry_error_http_status(r, &reason);
        struct ferry_buf b = FERRY_BUF_INIT;
        if (plain) {
                ferry_buf_printf(&b, "%s\n", err->text[0] ? err->text : reason);
                *ret = send_buf(c, code, "text/plain; charset=utf-8", &b, session);
        } else {
                ferry_buf_adds(&b, "{\"error\":");
                ferry_buf_add_json_str(&b, err->text[0] ? err->text : reason);
                ferry_buf_adds(&b, ",\"reason\":");
                ferry_buf_add_json_str(&b, reason);
                ferry_buf_printf(&b, ",\"code\":%u}\n", code);
                *ret = send_buf(c, code, "application/json", &b, session);
        }
        return code;
}

/* ---- log streaming: a thread writes into a pipe that MHD reads ---- */
struct log_stream {
        struct ferry_log_request q;
        struct ferry_server *srv;
        int fd;
};

static bool log_done(void *ctx)
{
        struct log_stream *ls = ctx;
        return atomic_load(&ls->srv->stopping) || ferry_daemon_log_done(&ls->q);
}

static int emit_fd(void *ctx, const char *data, size_t len)
{
        struct log_stream *ls = ctx;
        if (len == 0) { /* liveness probe: has the reader gone? */
                struct pollfd p = {.fd = ls->fd, .events = 0};
                if (poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP)))
                        return -EPIPE;
                return 0;
        }
        return ferry_write_all(ls->fd, data, len);
}

static void *log_thread(void *arg)
{
        struct log_stream *ls = arg;
        struct ferry_server *s = ls->srv;
        int r = ferry_logfile_stream(ls->q.path, &ls->q.opts, emit_fd, log_done, ls);
        if (r < 0 && r != -ENOENT)
                log_debug("log stream of %s/%s ended: %s", ls->q.uid, ls->q.container,
                          strerror(-r));
        close(ls->fd);
        free(ls);
        pthread_mutex_lock(&s->streams_lock);
        s->n_streams--;
        pthread_cond_broadcast(&s->streams_cond);
        pthread_mutex_unlock(&s->streams_lock);
        return NULL;
}

static unsigned serve_logs(struct ferry_server *s, struct MHD_Connection *c,
                           const struct ferry_log_request *q, const char *session,
                           enum MHD_Result *ret)
{
        int p[2];
        pthread_t th;
        pthread_attr_t attr;

        if (pipe2(p, O_CLOEXEC) < 0) {
                ferry_error_t err;
                ferry_errprintf(&err, -errno, "cannot create a pipe: %s", strerror(errno));
                return send_error(c, -EIO, &err, true, session, ret);
        }
        struct log_stream *ls = ferry_xcalloc(1, sizeof(*ls));
        ls->q = *q;
        ls->srv = s;
        ls->fd = p[1];
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_mutex_lock(&s->streams_lock);
        s->n_streams++;
        pthread_mutex_unlock(&s->streams_lock);
        if (pthread_create(&th, &attr, log_thread, ls) != 0) {
                pthread_mutex_lock(&s->streams_lock);
                s->n_streams--;
                pthread_mutex_unlock(&s->streams_lock);
                close(p[0]);
                close(p[1]);
                free(ls);
                pthread_attr_destroy(&attr);
                ferry_error_t err;
                ferry_errprintf(&err, -EAGAIN, "cannot start a log stream");
                return send_error(c, -EAGAIN, &err, true, session, ret);
        }
        pthread_attr_destroy(&attr);
        struct MHD_Response *resp = MHD_create_response_from_pipe(p[0]);
        if (!resp) {
                close(p[0]);
                *ret = MHD_NO;
                return 500;
        }
        MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
        if (session)
                MHD_add_response_header(resp, "InterLink-Http-Session", session);
        *ret = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
        return 200;
}

static void render_metrics(struct ferry_server *s, struct ferry_buf *b)
{
        ferry_buf_adds(b,
                       "# HELP ferry_http_requests_total HTTP requests by path and status code.\n"
                       "# TYPE ferry_http_requests_total counter\n");
        for (int r = 0; r < R_MAX; r++)
                for (size_t ci = 0; ci <= N_CODES; ci++) {
                        unsigned long long v = atomic_load(&s->m.req[r][ci]);
                        if (!v)
                                continue;
                        if (ci < N_CODES)
                                ferry_buf_printf(
                                    b, "ferry_http_requests_total{path=\"%s\",code=\"%u\"} %llu\n",
                                    route_paths[r], codes[ci], v);
                        else
                                ferry_buf_printf(
                                    b,
                                    "ferry_http_requests_total{path=\"%s\",code=\"other\"} %llu\n",
                                    route_paths[r], v);
                }
        ferry_buf_adds(b, "# HELP ferry_http_request_duration_seconds Time to answer a request (to "
                          "the first byte for streams).\n"
                          "# TYPE ferry_http_request_duration_seconds histogram\n");
        for (int r = 0; r < R_MAX; r++) {
                char labels[64];
                snprintf(labels, sizeof(labels), "path=\"%s\"", route_paths[r]);
                ferry_hist_render(b, "ferry_http_request_duration_seconds", labels, &s->m.lat[r]);
        }
        ferry_daemon_metrics(s->d, b);
}

static bool client_cert_ok(struct MHD_Connection *c)
{
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        unsigned status = 0, n = 0;
        if (!ci || !ci->tls_session)
                return false;
        gnutls_session_t s = (gnutls_session_t)ci->tls_session;
        if (!gnutls_certificate_get_peers(s, &n) || n == 0)
                return false;
        return gnutls_certificate_verify_peers2(s, &status) == 0 && status == 0;
}

static enum route_id route_of(const char *url)
{
        for (int r = 0; r < R_OTHER; r++)
                if (!strcmp(url, route_paths[r]))
                        return (enum route_id)r;
        return R_OTHER;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
        struct listener *l = cls;
        struct ferry_server *s = l->srv;
        struct req *rq = *con_cls;
        const struct ferry_limits *lim = &ferry_default_limits;

        if (!rq) {
                rq = ferry_xcalloc(1, sizeof(*rq));
                rq->t0 = ferry_monotonic_ns();
                *con_cls = rq;
                return MHD_YES; /* answer on a later call: keeps keep-alive working */
        }
        enum route_id rt = route_of(url);
        if (rt == R_STATUS && !rq->status)
                rq->status = ferry_daemon_status_begin(s->d); /* counts against max_status_body */
        if (rt == R_STATUS && *upload_size > 0) {
                ferry_daemon_status_feed(rq->status, upload, *upload_size);
                *upload_size = 0;
                return MHD_YES;
        }
        size_t max_body = lim->max_body;
        if (*upload_size > 0 && !rq->body.data && !rq->too_big) {
                /* one allocation for the announced body instead of doubling copies */
                const char *cl =
                    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
                unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0;
                if (n > 0 && n <= max_body)
                        ferry_buf_reserve(&rq->body, (size_t)n);
        }
        if (*upload_size > 0) {
                if (!rq->too_big && rq->body.len + *upload_size <= max_body)
                        ferry_buf_add(&rq->body, upload, *upload_size);
                else
                        rq->too_big = true;
                *upload_size = 0;
                return MHD_YES;
        }

        enum MHD_Result ret = MHD_YES;
        ferry_error_t err = {{0}};
        struct ferry_buf out = FERRY_BUF_INIT;
        unsigned code = 200;
        const char *hdr_session =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "InterLink-Http-Session");
        char session_buf[64];
        const char *session = hdr_session;
        if (!session) {
                snprintf(session_buf, sizeof(session_buf), "ferryd#%llu",
                         (unsigned long long)atomic_fetch_add(&s->session_seq, 1));
                session = session_buf;
        }
        const char *body = rq->body.data ? rq->body.data : "";
        size_t blen = rq->body.len;

        if (rq->too_big) {
                int r = ferry_errprintf(&err, -E2BIG, "request body exceeds the limit of %zu bytes",
                                        max_body);
                code = send_error(c, r, &err, rt == R_LOGS, session, &ret);
                goto done;
        }

        /* TLS client certificates, when the listener requires them (MHD asks for
         * the certificate; verifying it is ours). */
        if (l->verify_client && !client_cert_ok(c)) {
                struct ferry_buf b = FERRY_BUF_INIT;
                ferry_buf_adds(&b, "{\"error\":\"a client certificate signed by the configured CA "
                                   "is required\",\"reason\":\"Unauthorized\",\"code\":401}\n");
                ret = send_buf(c, 401, "application/json", &b, session);
                code = 401;
                goto done;
        }

        /* Authentication: pod routes on listeners that need it. */
        const struct ferry_token *tok = NULL;
        struct ferry_authz az = {0}, *azp = NULL;
        bool open_route = rt == R_PING || rt == R_HEALTH || rt == R_METRICS || rt == R_OTHER;
        if (l->need_auth && !open_route) {
                tok = ferry_auth_check(
                    s->auth, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"));
                if (!tok) {
                        struct ferry_buf b = FERRY_BUF_INIT;
                        ferry_buf_adds(&b, "{\"error\":\"missing or unknown bearer "
                                           "token\",\"reason\":\"Unauthorized\",\"code\":401}\n");
                        size_t len = b.len;
                        struct MHD_Response *resp = MHD_create_response_from_buffer(
                            len, ferry_buf_steal(&b), MHD_RESPMEM_MUST_FREE);
                        MHD_add_response_header(resp, "Content-Type", "application/json");
                        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
                        ret = MHD_queue_response(c, 401, resp);
                        MHD_destroy_response(resp);
                        code = 401;
                        goto done;
                }
                az.allowed = ferry_auth_allows;
                az.ctx = tok;
                azp = &az;
        }

        int r = 0;
        switch (rt) {
        case R_CREATE: {
                char uid[FERRY_UID_MAX] = "", jid[FERRY_JID_MAX] = "";
                r = ferry_daemon_create(s->d, body, blen,
                                        l->role == FERRY_ROLE_API ? FERRY_BODY_CREATE_A
                                                                  : FERRY_BODY_CREATE_B,
                                        azp, uid, jid, &err);
                if (r >= 0) {
                        ferry_buf_adds(&out, "{\"PodUID\":");
                        ferry_buf_add_json_str(&out, uid);
                        ferry_buf_adds(&out, ",\"PodJID\":");
                        ferry_buf_add_json_str(&out, jid);
                        ferry_buf_adds(&out, "}");
                        log_info("%s create %s -> %s", session, uid,
                                 jid[0] ? jid : "(waiting for the backend)");
                }
                break;
        }
        case R_DELETE:
                r = ferry_daemon_delete(s->d, body, blen, azp, &err);
                if (r >= 0)
                        ferry_buf_adds(&out, "Pod deleted\n");
                break;
        case R_STATUS:
                if (l->role == FERRY_ROLE_PLUGIN && ferry_daemon_status_empty(rq->status))
                        r = ferry_daemon_ping(s->d, &out, &err); /* hop B: [] is the ping */
                else
                        r = ferry_daemon_status_end(rq->status, azp, &out, &err);
                break;
        case R_LOGS: {
                struct ferry_log_request q;
                r = ferry_daemon_logs(s->d, body, blen, azp, &q, &err);
                if (r >= 0) {
                        code = serve_logs(s, c, &q, session, &ret);
                        goto done;
                }
                break;
        }
        case R_PING: r = ferry_daemon_ping(s->d, &out, &err); break;
        case R_UPDATE:
                ferry_daemon_poll_now(s->d);
                ferry_buf_adds(&out, "Updated cache\n");
                break;
        case R_HEALTH:
                if ((r = ferry_daemon_health(s->d, &err)) < 0)
                        r = -EAGAIN; /* 503 with the reason */
                else
                        ferry_buf_adds(&out, "ok\n");
                break;
        case R_JOBS: {
                /* Ferry's own: Jobs that ferryd runs (`ferry run` with kind: Job) */
                struct ferry_jobs *js = ferry_daemon_jobs(s->d);
                if (l->role != FERRY_ROLE_API)
                        r = ferry_errprintf(&err, -ENOENT, "/jobs is served on the API listener");
                else if (!strcmp(method, "POST"))
                        r = ferry_jobs_create(js, body, blen, azp, &out, &err);
                else if (!strcmp(method, "GET"))
                        r = ferry_jobs_list(js, body, blen, azp, &out, &err);
                else if (!strcmp(method, "DELETE") &&
                         (r = ferry_jobs_delete(js, body, blen, azp, &err)) >= 0)
                        ferry_buf_adds(&out, "{\"deleted\":true}");
                else if (strcmp(method, "DELETE") != 0)
                        r = ferry_errprintf(&err, -EINVAL,
                                            "/jobs takes POST (create), GET (list) or DELETE");
                break;
        }
        case R_TENANTS:
                /* Ferry's own: site tenancy as `ferry tenants` shows it */
                if (l->role != FERRY_ROLE_API)
                        r = ferry_errprintf(&err, -ENOENT,
                                            "/tenants is served on the API listener");
                else if (strcmp(method, "GET") != 0)
                        r = ferry_errprintf(&err, -EINVAL, "/tenants takes GET");
                else
                        ferry_daemon_tenants(s->d, azp, &out);
                break;
        case R_USAGE: {
                /* Ferry's own: the usage ledger (spec/usage.md) */
                struct ferry_usage_query q = {0};
                const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
                const char *until = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "until");
                const char *exp = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "export");
                q.by = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "by");
                q.format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
                q.export_records = exp && (!strcmp(exp, "1") || !strcmp(exp, "true"));
                if (l->role != FERRY_ROLE_API)
                        r = ferry_errprintf(&err, -ENOENT, "/usage is served on the API listener");
                else if (strcmp(method, "GET") != 0)
                        r = ferry_errprintf(&err, -EINVAL, "/usage takes GET");
                else if (since && *since && ferry_time_parse(since, &q.since_ns) < 0)
                        r = ferry_errprintf(&err, -EINVAL, "since=%.64s: not an RFC 3339 time",
                                            since);
                else if (until && *until && ferry_time_parse(until, &q.until_ns) < 0)
                        r = ferry_errprintf(&err, -EINVAL, "until=%.64s: not an RFC 3339 time",
                                            until);
                else if ((r = ferry_daemon_usage(s->d, &q, azp, &out, &err)) >= 0) {
                        bool json = !q.export_records && (!q.format || !strcmp(q.format, "json"));
                        ret = send_buf(c, 200,
                                       q.export_records ? "application/jsonl"
                                       : json           ? "application/json"
                                                        : "text/plain; charset=utf-8",
                                       &out, session);
                        goto done;
                }
                break;
        }
        case R_METRICS:
                render_metrics(s, &out);
                ret = send_buf(c, 200, "text/plain; version=0.0.4; charset=utf-8", &out, NULL);
                goto done;
        default:
                r = ferry_errprintf(&err, -ENOENT, "no such path %.200s (see the interLink API)",
                                    url);
                break;
        }
        if (r < 0) {
                code = send_error(c, r, &err, rt == R_LOGS, session, &ret);
                if (code >= 500)
                        log_warn("%s %s: %s", session, url, err.text);
        } else {
                bool text = rt == R_DELETE || rt == R_UPDATE || rt == R_HEALTH;
                ret = send_buf(c, 200, text ? "text/plain; charset=utf-8" : "application/json",
                               &out, session);
        }
done:
        count(s, rt, code, rq->t0);
        ferry_buf_free(&out);
        (void)version;
        return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
        struct req *rq = *con_cls;
        if (rq) {
                ferry_buf_free(&rq->body);
                ferry_daemon_status_free(rq->status);
                free(rq);
                *con_cls = NULL;
        }
}

static int open_unix(const char *path, unsigned mode, ferry_error_t *err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path))
                return ferry_errprintf(err, -ENAMETOOLONG, "socket path %s is too long", path);
        memcpy(sa.sun_path, path, strlen(path) + 1); /* length checked above */
        char dir[sizeof(sa.sun_path)];
        snprintf(dir, sizeof(dir), "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                ferry_mkdir_p(dir, 0755);
        }
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return ferry_errprintf(err, -errno, "socket: %s", strerror(errno));
        /* A stale socket from a crashed ferryd: remove it if nobody answers. */
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
                close(fd);
                return ferry_errprintf(err, -EADDRINUSE, "another ferryd is listening on %s", path);
        }
        unlink(path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, mode) < 0 ||
            listen(fd, 1024) < 0) {
                int r = -errno;
                close(fd);
                return ferry_errprintf(err, r, "cannot listen on %s: %s", path, strerror(-r));
        }
        return fd;
}

static int open_tcp(const char *hostport, ferry_error_t *err)
{
        char host[256];
        const char *colon = strrchr(hostport, ':');
        if (!colon)
                return ferry_errprintf(err, -EINVAL, "http URL needs a port: http://HOST:PORT");
        snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
        char *h = host;
        if (h[0] == '[') { /* [::1] */
                h++;
                h[strlen(h) - 1] = '\0';
        }
        struct addrinfo hints = {.ai_family = AF_UNSPEC,
                                 .ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_PASSIVE},
                        *ai;
        int g = getaddrinfo(h[0] ? h : NULL, colon + 1, &hints, &ai);
        if (g != 0)
                return ferry_errprintf(err, -EINVAL, "cannot resolve %s: %s", hostport,
                                       gai_strerror(g));
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd >= 0)
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
                int r = -errno;
                if (fd >= 0)
                        close(fd);
                freeaddrinfo(ai);
                return ferry_errprintf(err, r, "cannot listen on %s: %s", hostport, strerror(-r));
        }
        freeaddrinfo(ai);
        return fd;
}

static int load_pem(const char *path, const char *what, char **ret, ferry_error_t *err)
{
        size_t len;
        int r = ferry_read_file(path, 1 << 20, ret, &len);
        if (r < 0)
                return ferry_errprintf(err, r, "cannot read the TLS %s %s: %s", what, path,
                                       strerror(-r));
        return 0;
}

int ferry_server_start(struct ferry_daemon *d, const struct ferry_listener_config *ls, size_t n,
                       const struct ferry_server_options *opt, struct ferry_server **ret,
                       ferry_error_t *err)
{
        struct ferry_server *s = ferry_xcalloc(1, sizeof(*s));
        pthread_mutex_init(&s->streams_lock, NULL);
        pthread_cond_init(&s->streams_cond, NULL);
        int r = 0;

        s->d = d;
        s->auth = opt->auth;
        s->ls = ferry_xcalloc(n, sizeof(*s->ls));
        for (size_t i = 0; i < n; i++) {
                struct listener *l = &s->ls[i];
                bool tls = ferry_str_startswith(ls[i].url, "https://");
                int fd;
                l->srv = s;
                l->role = ls[i].role;
                l->url = ferry_xstrdup(ls[i].url);
                s->n++;
                if (ferry_str_startswith(ls[i].url, "unix://")) {
                        l->unix_path = ferry_xstrdup(ls[i].url + 7);
                        fd = open_unix(l->unix_path, opt->socket_mode, err);
                        l->need_auth = false; /* file permissions decide */
                } else if (tls || ferry_str_startswith(ls[i].url, "http://")) {
                        char hp[300];
                        snprintf(hp, sizeof(hp), "%s", ls[i].url + (tls ? 8 : 7));
                        char *slash = strchr(hp, '/');
                        if (slash)
                                *slash = '\0';
                        if (!opt->auth && !opt->allow_insecure) {
                                r = ferry_errprintf(
                                    err, -EINVAL,
                                    "TCP listener %s needs a token file (--tokens FILE), or "
                                    "--insecure-tcp to serve without authentication",
                                    ls[i].url);
                                goto fail;
                        }
                        if (tls && (!opt->tls_cert || !opt->tls_key)) {
                                r = ferry_errprintf(
                                    err, -EINVAL,
                                    "https listener %s needs --tls-cert and --tls-key", ls[i].url);
                                goto fail;
                        }
                        if (tls && !s->tls_cert &&
                            ((r = load_pem(opt->tls_cert, "certificate", &s->tls_cert, err)) < 0 ||
                             (r = load_pem(opt->tls_key, "key", &s->tls_key, err)) < 0 ||
                             (opt->tls_client_ca && (r = load_pem(opt->tls_client_ca, "client CA",
                                                                  &s->tls_ca, err)) < 0)))
                                goto fail;
                        fd = open_tcp(hp, err);
                        l->need_auth = opt->auth != NULL;
                        l->verify_client = tls && opt->tls_client_ca;
                } else {
                        r = ferry_errprintf(err, -EINVAL,
                                            "listen URL %s must be unix:///PATH, http://HOST:PORT "
                                            "or https://HOST:PORT",
                                            ls[i].url);
                        goto fail;
                }
                if (fd < 0) {
                        r = fd;
                        goto fail;
                }
                unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                 MHD_USE_POLL | MHD_USE_ERROR_LOG;
                if (!tls)
                        l->mhd = MHD_start_daemon(
                            flags, 0, NULL, NULL, handle, l, MHD_OPTION_LISTEN_SOCKET, fd,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                            MHD_OPTION_CONNECTION_LIMIT, 4096u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                            (size_t)(64 << 10), MHD_OPTION_CONNECTION_TIMEOUT, 3600u,
                            MHD_OPTION_END);
                else if (!s->tls_ca)
                        l->mhd = MHD_start_daemon(
                            flags | MHD_USE_TLS, 0, NULL, NULL, handle, l, MHD_OPTION_LISTEN_SOCKET,
                            fd, MHD_OPTION_HTTPS_MEM_KEY, s->tls_key, MHD_OPTION_HTTPS_MEM_CERT,
                            s->tls_cert, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                            MHD_OPTION_CONNECTION_LIMIT, 4096u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                            (size_t)(64 << 10), MHD_OPTION_CONNECTION_TIMEOUT, 3600u,
                            MHD_OPTION_END);
                else
                        l->mhd = MHD_start_daemon(
                            flags | MHD_USE_TLS, 0, NULL, NULL, handle, l, MHD_OPTION_LISTEN_SOCKET,
                            fd, MHD_OPTION_HTTPS_MEM_KEY, s->tls_key, MHD_OPTION_HTTPS_MEM_CERT,
                            s->tls_cert, MHD_OPTION_HTTPS_MEM_TRUST, s->tls_ca,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                            MHD_OPTION_CONNECTION_LIMIT, 4096u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                            (size_t)(64 << 10), MHD_OPTION_CONNECTION_TIMEOUT, 3600u,
                            MHD_OPTION_END);
                if (!l->mhd) {
                        close(fd);
                        r = ferry_errprintf(err, -EIO, "cannot start the HTTP server on %s%s",
                                            ls[i].url,
                                            tls ? " (check the TLS certificate and key)" : "");
                        goto fail;
                }
                log_info("listening on %s (%s)", ls[i].url,
                         l->role == FERRY_ROLE_API ? "api, hop A" : "plugin, hop B");
        }
        *ret = s;
        return 0;
fail:
        ferry_server_stop(s);
        return r;
}

void ferry_server_stop(struct ferry_server *s)
{
        if (!s)
                return;
        atomic_store(&s->stopping, true); /* a following stream ends at its next check */
        for (size_t i = 0; i < s->n; i++) {
                if (s->ls[i].mhd)
                        MHD_stop_daemon(s->ls[i].mhd);
                if (s->ls[i].unix_path)
                        unlink(s->ls[i].unix_path);
                free(s->ls[i].unix_path);
                free(s->ls[i].url);
        }
        pthread_mutex_lock(&s->streams_lock);
        while (s->n_streams > 0)
                pthread_cond_wait(&s->streams_cond, &s->streams_lock);
        pthread_mutex_unlock(&s->streams_lock);
        pthread_mutex_destroy(&s->streams_lock);
        pthread_cond_destroy(&s->streams_cond);
        free(s->ls);
        free(s->tls_cert);
        free(s->tls_key);
        free(s->tls_ca);
        free(s);
}
