/* SPDX-License-Identifier: MIT */
#include "mock_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

struct mock_server {
        struct MHD_Daemon *d;
        pthread_mutex_t lock;
        struct mock_answer ans;
        struct mock_request last;
        unsigned count, port;
};

struct conn {
        struct ferry_buf body;
};

struct stream {
        const char *data;
        size_t len, chunk;
        unsigned delay_ms;
};

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
        struct stream *st = cls;
        size_t n;

        if (pos >= st->len)
                return MHD_CONTENT_READER_END_OF_STREAM;
        if (pos > 0 && st->delay_ms) {
                struct timespec ts = {0, (long)st->delay_ms * 1000000L};
                nanosleep(&ts, NULL);
        }
        n = st->len - pos < st->chunk ? st->len - pos : st->chunk;
        if (n > max)
                n = max;
        memcpy(buf, st->data + pos, n);
        return (ssize_t)n;
}

static void copy_hdr(struct MHD_Connection *c, const char *name, char *dst, size_t size)
{
        const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
        snprintf(dst, size, "%s", v ? v : "");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
        struct mock_server *s = cls;
        struct conn *cn = *con_cls;
        struct MHD_Response *resp;
        struct mock_answer a;
        enum MHD_Result ret;

        if (!cn) {
                cn = ferry_xcalloc(1, sizeof(*cn));
                *con_cls = cn;
                return MHD_YES;
        }
        if (*upload_size) {
                ferry_buf_add(&cn->body, upload, *upload_size);
                *upload_size = 0;
                return MHD_YES;
        }
        pthread_mutex_lock(&s->lock);
        free(s->last.body);
        memset(&s->last, 0, sizeof(s->last));
        snprintf(s->last.method, sizeof(s->last.method), "%s", method);
        snprintf(s->last.path, sizeof(s->last.path), "%s", url);
        copy_hdr(c, "InterLink-Http-Session", s->last.session, sizeof(s->last.session));
        copy_hdr(c, "Authorization", s->last.authorization, sizeof(s->last.authorization));
        copy_hdr(c, "Content-Type", s->last.content_type, sizeof(s->last.content_type));
        copy_hdr(c, "Host", s->last.host, sizeof(s->last.host));
        s->last.body_len = cn->body.len;
        s->last.body = ferry_buf_steal(&cn->body);
        s->count++;
        a = s->ans;
        pthread_mutex_unlock(&s->lock);

        if (a.n_chunks > 1) {
                struct stream *st = ferry_xcalloc(1, sizeof(*st));
                st->data = a.body;
                st->len = strlen(a.body);
                st->chunk = (st->len + a.n_chunks - 1) / a.n_chunks;
                st->delay_ms = a.delay_ms;
                resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64, stream_cb, st, free);
        } else {
                resp = MHD_create_response_from_buffer(strlen(a.body ? a.body : ""),
                                                       (void *)(a.body ? a.body : ""),
                                                       MHD_RESPMEM_MUST_COPY);
        }
        MHD_add_response_header(resp, "Content-Type",
                                a.content_type ? a.content_type : "application/json");
        ret = MHD_queue_response(c, a.code ? a.code : 200, resp);
        MHD_destroy_response(resp);
        return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
        struct conn *cn = *con_cls;

        if (cn) {
                ferry_buf_free(&cn->body);
                free(cn);
                *con_cls = NULL;
        }
}

struct mock_server *mock_server_start(const char *socket_path)
{
        struct mock_server *s = ferry_xcalloc(1, sizeof(*s));
        int fd;

        pthread_mutex_init(&s->lock, NULL);
        s->ans.code = 200;
        s->ans.body = "";
        if (socket_path) {
                struct sockaddr_un sa = {.sun_family = AF_UNIX};
                snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", socket_path);
                unlink(socket_path);
                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                        abort();
        } else {
                struct sockaddr_in sa = {.sin_family = AF_INET};
                socklen_t len = sizeof(sa);
                sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
                    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
                        abort();
                s->port = ntohs(sa.sin_port);
        }
        if (listen(fd, 16) < 0)
                abort();
        s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                                NULL, NULL, handler, s, MHD_OPTION_LISTEN_SOCKET, fd,
                                MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
        if (!s->d)
                abort();
        return s;
}

void mock_server_stop(struct mock_server *s)
{
        MHD_stop_daemon(s->d);
        free(s->last.body);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

unsigned mock_server_port(const struct mock_server *s)
{
        return s->port;
}

void mock_server_answer(struct mock_server *s, const struct mock_answer *a)
{
        pthread_mutex_lock(&s->lock);
        s->ans = *a;
        pthread_mutex_unlock(&s->lock);
}

struct mock_request mock_server_last(struct mock_server *s)
{
        struct mock_request r;

        pthread_mutex_lock(&s->lock);
        r = s->last;
        pthread_mutex_unlock(&s->lock);
        return r;
}

unsigned mock_server_count(struct mock_server *s)
{
        unsigned n;

        pthread_mutex_lock(&s->lock);
        n = s->count;
        pthread_mutex_unlock(&s->lock);
        return n;
}
