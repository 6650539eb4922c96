/* SPDX-License-Identifier: MIT */
/*
 * faultproxy: a real HTTP proxy between ferry-node and ferryd (unix sockets
 * on both sides) that answers some requests itself with an error status, as a
 * busy site, a restarting one or a reverse proxy in front of one would:
 *
 *   faultproxy LISTEN_SOCKET TARGET_SOCKET [PATH:CODE:COUNT[:MATCH]]...
 *
 * Each rule answers CODE (a JSON error body, as ferryd writes them) to the
 * first COUNT requests for PATH whose body contains MATCH (any body when no
 * MATCH); everything else is forwarded to TARGET_SOCKET and its answer sent
 * back. GET /faultproxy/counts answers {"PATH CODE": n, ...} for every answer
 * given, injected or forwarded. Answers are buffered (no log streams).
 * SIGTERM or SIGINT stops it.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"

struct rule {
        char path[128];
        unsigned code;
        long left;
        char match[128];
};

static struct rule rules[16];
static size_t n_rules;
static const char *target;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *counts;

struct req {
        struct ferry_buf body;
};

static void count(const char *path, unsigned code)
{
        char key[160];
        snprintf(key, sizeof(key), "%s %u", path, code);
        pthread_mutex_lock(&lock);
        json_t *v = json_object_get(counts, key);
        json_object_set_new(counts, key, json_integer(json_integer_value(v) + 1));
        pthread_mutex_unlock(&lock);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *ctype,
                             struct ferry_buf *b)
{
        size_t len = b->len;
        char *data = ferry_buf_steal(b);
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            len, data ? data : "", data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        if (ctype)
                MHD_add_response_header(resp, "Content-Type", ctype);
        enum MHD_Result ret = MHD_queue_response(c, code, resp);
        MHD_destroy_response(resp);
        return ret;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
        ferry_buf_add(ud, p, size * nmemb);
        return size * nmemb;
}

static enum MHD_Result forward(struct MHD_Connection *c, const char *method, const char *url,
                               struct ferry_buf *body)
{
        static const char *const pass[] = {"Content-Type", "Authorization",
                                           "InterLink-Http-Session", "Accept"};
        struct curl_slist *h = curl_slist_append(NULL, "Expect:");
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(pass); i++) {
                const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, pass[i]);
                if (v) {
                        _cleanup_free_ char *line = ferry_xasprintf("%s: %s", pass[i], v);
                        h = curl_slist_append(h, line);
                }
        }
        _cleanup_free_ char *full = ferry_xasprintf("http://unix%s", url);
        struct ferry_buf ans = FERRY_BUF_INIT;
        CURL *cu = curl_easy_init();
        curl_easy_setopt(cu, CURLOPT_URL, full);
        curl_easy_setopt(cu, CURLOPT_UNIX_SOCKET_PATH, target);
        curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(cu, CURLOPT_HTTPHEADER, h);
        if (body->len || strcmp(method, "GET") != 0) {
                curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body->data ? body->data : "");
                curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
        }
        curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(cu, CURLOPT_WRITEDATA, &ans);
        curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
        CURLcode cc = curl_easy_perform(cu);
        long code = 502;
        char *ctype = NULL;
        if (cc == CURLE_OK) {
                curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &code);
                curl_easy_getinfo(cu, CURLINFO_CONTENT_TYPE, &ctype);
        } else {
                ferry_buf_reset(&ans);
                ferry_buf_printf(&ans, "{\"error\":\"faultproxy: %s\",\"code\":502}\n",
                                 curl_easy_strerror(cc));
        }
        _cleanup_free_ char *ct = ctype ? ferry_xstrdup(ctype) : NULL;
        curl_easy_cleanup(cu);
        curl_slist_free_all(h);
        count(url, (unsigned)code);
        enum MHD_Result r = reply(c, (unsigned)code, ct ? ct : "application/json", &ans);
        ferry_buf_free(&ans);
        return r;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
        struct req *q = *con_cls;
        if (!q) {
                *con_cls = ferry_xcalloc(1, sizeof(*q));
                return MHD_YES;
        }
        if (*upload_size) {
                ferry_buf_add(&q->body, upload, *upload_size);
                *upload_size = 0;
                return MHD_YES;
        }
        struct ferry_buf out = FERRY_BUF_INIT;
        if (!strcmp(url, "/faultproxy/counts")) {
                pthread_mutex_lock(&lock);
                char *s = json_dumps(counts, JSON_COMPACT | JSON_SORT_KEYS);
                pthread_mutex_unlock(&lock);
                ferry_buf_adds(&out, s);
                free(s);
                return reply(c, 200, "application/json", &out);
        }
        const char *body = q->body.data ? q->body.data : "";
        pthread_mutex_lock(&lock);
        struct rule *hit = NULL;
        for (size_t i = 0; i < n_rules && !hit; i++)
                if (rules[i].left > 0 && !strcmp(rules[i].path, url) &&
                    (!rules[i].match[0] || strstr(body, rules[i].match))) {
                        rules[i].left--;
                        hit = &rules[i];
                }
        pthread_mutex_unlock(&lock);
        if (!hit)
                return forward(c, method, url, &q->body);
        const char *reason;
        ferry_error_http_status(ferry_error_from_http(hit->code), &reason);
        ferry_buf_printf(&out,
                         "{\"error\":\"injected by faultproxy\",\"reason\":\"%s\",\"code\":%u}\n",
                         reason, hit->code);
        count(url, hit->code);
        return reply(c, hit->code, "application/json", &out);
}

static void done(void *cls, struct MHD_Connection *c, void **con_cls,
                 enum MHD_RequestTerminationCode toe)
{
        struct req *q = *con_cls;
        if (q) {
                ferry_buf_free(&q->body);
                free(q);
        }
        *con_cls = NULL;
}

int main(int argc, char **argv)
{
        if (argc < 3) {
                fprintf(stderr, "usage: faultproxy LISTEN_SOCKET TARGET_SOCKET "
                                "[PATH:CODE:COUNT[:MATCH]]...\n");
                return 2;
        }
        target = argv[2];
        for (int i = 3; i < argc && n_rules < FERRY_ARRAY_SIZE(rules); i++) {
                struct rule *r = &rules[n_rules++];
                char *s = ferry_xstrdup(argv[i]);
                char *code = strchr(s, ':');
                char *cnt = code ? strchr(code + 1, ':') : NULL;
                if (!cnt) {
                        fprintf(stderr, "faultproxy: bad rule %s\n", argv[i]);
                        return 2;
                }
                *code++ = *cnt++ = '\0';
                char *match = strchr(cnt, ':');
                if (match)
                        *match++ = '\0';
                snprintf(r->path, sizeof(r->path), "%s", s);
                r->code = (unsigned)strtoul(code, NULL, 10);
                r->left = strtol(cnt, NULL, 10);
                snprintf(r->match, sizeof(r->match), "%s", match ? match : "");
                free(s);
        }
        counts = json_object();
        curl_global_init(CURL_GLOBAL_DEFAULT);
        /* blocked before any thread starts: only sigwait below takes them */
        sigset_t set;
        int sig;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, NULL);

        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        unlink(argv[1]);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
                fprintf(stderr, "faultproxy: cannot listen on %s: %s\n", argv[1], strerror(errno));
                return 1;
        }
        struct MHD_Daemon *mhd =
            MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                             NULL, NULL, handle, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
                             MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
        if (!mhd) {
                fprintf(stderr, "faultproxy: cannot start the HTTP server\n");
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        sigwait(&set, &sig);
        MHD_stop_daemon(mhd);
        unlink(argv[1]);
        json_decref(counts);
        return 0;
}
