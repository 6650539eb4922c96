/* SPDX-License-Identifier: MIT */
/*
 * The kubelet endpoint: what the API server calls on a node's kubelet port,
 * as far as a virtual node can answer it.
 *
 *   GET /containerLogs/{ns}/{pod}/{container}?tailLines&limitBytes&timestamps
 *       &follow&previous&sinceSeconds&sinceTime  -> ferryd /getLogs, streamed
 *   GET /healthz -> ok;   GET /metrics -> Prometheus text
 *   anything else (exec, attach, portForward...) -> 501 with a reason
 *
 * HTTPS (libmicrohttpd + GnuTLS) with the certificate and key from files.
 * Every request but /healthz is authenticated and authorised as a kubelet
 * does it (kubeauth.h): a client certificate signed by kubelet_client_ca (the
 * API server presents its kubelet-client certificate) or a bearer token
 * (TokenReview), then a SubjectAccessReview on nodes/<subresource>. Only
 * kubelet_insecure_no_auth turns that off. Plain HTTP only with
 * kubelet_insecure_http (tests).
 *
 * Certificate rotation: the certificate and key are served through GnuTLS's
 * retrieve callback, which looks at the files (stat, at most once a second)
 * on each handshake and loads them again when either changed; a pair that
 * does not load (half-written) keeps the old one. Pairs are kept until the
 * endpoint stops, since a handshake in flight may still use the old one. The
 * callback has no user pointer, so one endpoint per process.
 *
 * Streaming: a thread per log request reads ferryd's answer and writes it
 * into a pipe that libmicrohttpd sends on (thread-per-connection mode, so a
 * blocking read is fine). The status code is chosen once the first bytes or
 * the error arrive; when the client goes away the pipe breaks and the ferryd
 * stream is closed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "kubeauth.h"
#include "vk_internal.h"

#define MAX_CHAIN 16

struct certpair {
        gnutls_pcert_st pcert[MAX_CHAIN];
        unsigned n;
        gnutls_privkey_t key;
        struct certpair *older;
};

struct ferry_kubelet {
        struct MHD_Daemon *mhd;
        struct ferry_vk *vk;
        char *ca;
        bool verify_client;
        struct ferry_kubeauth *auth; /* NULL: kubelet_insecure_no_auth */
        /* certificate + key, reloaded when the files change (cert_lock) */
        char *cert_path, *key_path;
        struct stat cert_st, key_st;
        int64_t checked_ns;
        struct certpair *pair; /* current; ->older the ones it replaced */
};

static pthread_mutex_t cert_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ferry_kubelet *cert_owner;

static void pair_free(struct certpair *p)
{
        while (p) {
                struct certpair *o = p->older;
                for (unsigned i = 0; i < p->n; i++)
                        gnutls_pcert_deinit(&p->pcert[i]);
                if (p->key)
                        gnutls_privkey_deinit(p->key);
                free(p);
                p = o;
        }
}

static int load_pair(const char *cert_path, const char *key_path, struct certpair **ret,
                     ferry_error_t *err)
{
        _cleanup_free_ char *cert = NULL, *key = NULL;
        size_t cl, kl;
        int r;
        if ((r = ferry_read_file(cert_path, 1 << 20, &cert, &cl)) < 0)
                return ferry_errprintf(err, r, "cannot read the kubelet certificate %s: %s",
                                       cert_path, strerror(-r));
        if ((r = ferry_read_file(key_path, 1 << 20, &key, &kl)) < 0)
                return ferry_errprintf(err, r, "cannot read the kubelet key %s: %s", key_path,
                                       strerror(-r));
        struct certpair *p = ferry_xcalloc(1, sizeof(*p));
        gnutls_datum_t cd = {(unsigned char *)cert, (unsigned)cl},
                       kd = {(unsigned char *)key, (unsigned)kl};
        p->n = MAX_CHAIN;
        int g = gnutls_pcert_list_import_x509_raw(p->pcert, &p->n, &cd, GNUTLS_X509_FMT_PEM, 0);
        if (g < 0 || p->n == 0) {
                p->n = 0;
                pair_free(p);
                explicit_bzero(key, kl);
                return ferry_errprintf(err, -EINVAL, "kubelet certificate %s: %s", cert_path,
                                       gnutls_strerror(g));
        }
        g = gnutls_privkey_init(&p->key);
        if (g >= 0)
                g = gnutls_privkey_import_x509_raw(p->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
        explicit_bzero(key, kl);
        if (g < 0) {
                pair_free(p);
                return ferry_errprintf(err, -EINVAL, "kubelet key %s: %s", key_path,
                                       gnutls_strerror(g));
        }
        *ret = p;
        return 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
        return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* cert_lock held */
static void maybe_reload(struct ferry_kubelet *k)
{
        int64_t now = ferry_monotonic_ns();
        if (now - k->checked_ns < 1000000000)
                return;
        k->checked_ns = now;
        struct stat cs, ks;
        if (stat(k->cert_path, &cs) < 0 || stat(k->key_path, &ks) < 0)
                return;
        if (same_file(&cs, &k->cert_st) && same_file(&ks, &k->key_st))
                return;
        struct certpair *p;
        ferry_error_t err;
        if (load_pair(k->cert_path, k->key_path, &p, &err) < 0) {
                log_warn("kubelet certificate changed but does not load (keeping the old one): %s",
                         err.text);
                return;
        }
        p->older = k->pair;
        k->pair = p;
        k->cert_st = cs;
        k->key_st = ks;
        log_info("kubelet certificate %s reloaded", k->cert_path);
}

static int retrieve_cert(gnutls_session_t s, const gnutls_datum_t *req_ca, int nreq,
                         const gnutls_pk_algorithm_t *algos, int nalgos, gnutls_pcert_st **pcert,
                         unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
        (void)s, (void)req_ca, (void)nreq, (void)algos, (void)nalgos;
        pthread_mutex_lock(&cert_lock);
        struct ferry_kubelet *k = cert_owner;
        if (!k || !k->pair) {
                pthread_mutex_unlock(&cert_lock);
                return -1;
        }
        maybe_reload(k);
        *pcert = k->pair->pcert;
        *pcert_length = k->pair->n;
        *pkey = k->pair->key;
        pthread_mutex_unlock(&cert_lock);
        return 0;
}

/* ---- LogStruct ---- */

static int parse_nonneg(const char *s, int64_t *ret)
{
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || *end || v < 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

static bool truthy(const char *s)
{
        return s && (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "True"));
}

int ferry_kubelet_logstruct(const char *ns, const char *pod, const char *uid, const char *container,
                            const char *(*get)(void *ctx, const char *key), void *ctx,
                            char **ret_json, int64_t *ret_limit_bytes, ferry_error_t *err)
{
        int64_t tail = -1, bytes = 0, since_s = 0;
        const char *v;
        int64_t since_ns = 0;

        if ((v = get(ctx, "tailLines")) && parse_nonneg(v, &tail) < 0)
                return ferry_errprintf(err, -EINVAL, "tailLines must be a non-negative integer");
        if ((v = get(ctx, "limitBytes")) && (parse_nonneg(v, &bytes) < 0 || bytes == 0))
                return ferry_errprintf(err, -EINVAL, "limitBytes must be a positive integer");
        if ((v = get(ctx, "sinceSeconds")) && (parse_nonneg(v, &since_s) < 0 || since_s == 0))
                return ferry_errprintf(err, -EINVAL, "sinceSeconds must be a positive integer");
        const char *since_time = get(ctx, "sinceTime");
        if (since_time && ferry_time_parse(since_time, &since_ns) < 0)
                return ferry_errprintf(err, -EINVAL, "sinceTime must be an RFC 3339 time");
        if (since_s && since_time)
                return ferry_errprintf(err, -EINVAL,
                                       "at most one of sinceTime or sinceSeconds may be specified");
        json_t *opts =
            json_pack("{s:b,s:b,s:b}", "Timestamps", truthy(get(ctx, "timestamps")), "Follow",
                      truthy(get(ctx, "follow")), "Previous", truthy(get(ctx, "previous")));
        int64_t limit = 0;
        if (tail >= 0)
                json_object_set_new(opts, "Tail", json_integer(tail));
        if (bytes) {
                if (tail >= 0)
                        limit = bytes; /* interLink refuses both: we cut the stream ourselves */
                else
                        json_object_set_new(opts, "Bytes", json_integer(bytes));
        }
        if (since_s)
                json_object_set_new(opts, "SinceSeconds", json_integer(since_s));
        if (since_time) {
                char buf[FERRY_TIME_MAX];
                json_object_set_new(opts, "SinceTime",
                                    json_string(ferry_time_format(since_ns, 0, buf)));
        }
        json_t *ls = json_pack("{s:s,s:s,s:s,s:s,s:o}", "Namespace", ns, "PodUID", uid, "PodName",
                               pod, "ContainerName", container, "Opts", opts);
        *ret_json = json_dumps(ls, JSON_COMPACT);
        json_decref(ls);
        *ret_limit_bytes = limit;
        return 0;
}

/* ---- streaming ---- */

struct logjob {
        pthread_mutex_t lock;
        pthread_cond_t cv;
        int refs;
        bool started, done;
        int r;
        ferry_error_t err;
        int wfd;
        int64_t left; /* byte limit, or -1 */
        char *body;
        struct ferry_vk *vk;
};

static void job_unref(struct logjob *j)
{
        pthread_mutex_lock(&j->lock);
        int left = --j->refs;
        pthread_mutex_unlock(&j->lock);
        if (left)
                return;
        pthread_mutex_destroy(&j->lock);
        pthread_cond_destroy(&j->cv);
        free(j->body);
        free(j);
}

static int on_bytes(void *ctx, const char *data, size_t len)
{
        struct logjob *j = ctx;
        if (!j->started) {
                pthread_mutex_lock(&j->lock);
                j->started = true;
                pthread_cond_broadcast(&j->cv);
                pthread_mutex_unlock(&j->lock);
        }
        if (j->left >= 0 && (int64_t)len > j->left)
                len = (size_t)j->left;
        while (len > 0) {
                ssize_t n = write(j->wfd, data, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -EPIPE; /* the client went away */
                }
                data += n;
                len -= (size_t)n;
                if (j->left >= 0)
                        j->left -= n;
        }
        return j->left == 0 ? -ECANCELED : 0;
}

static void *log_thread(void *arg)
{
        struct logjob *j = arg;
        struct ferry_client *fc = NULL;
        ferry_error_t err = {{0}};
        int r = ferry_vk_ferryd(j->vk, &fc, &err);
        if (r == 0) {
                int64_t t0 = ferry_monotonic_ns();
                r = ferry_client_logs(fc, j->body, on_bytes, j, &err);
                ferry_vk_account_ferryd(j->vk, "logs", t0, r < 0 && r != -EPIPE && r != -ECANCELED);
        }
        ferry_client_free(fc);
        close(j->wfd);
        pthread_mutex_lock(&j->lock);
        j->done = true;
        j->r = r == -ECANCELED ? 0 : r;
        j->err = err;
        pthread_cond_broadcast(&j->cv);
        pthread_mutex_unlock(&j->lock);
        job_unref(j);
        return NULL;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *ctype,
                             const char *text)
{
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
        MHD_add_response_header(resp, "Content-Type", ctype);
        enum MHD_Result ret = MHD_queue_response(c, code, resp);
        MHD_destroy_response(resp);
        return ret;
}

static const char *mhd_get(void *ctx, const char *key)
{
        return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, key);
}

static enum MHD_Result container_logs(struct ferry_kubelet *k, struct MHD_Connection *c,
                                      const char *rest)
{
        char ns[256], pod[256], ctr[256];
        _cleanup_free_ char *uid = NULL, *body = NULL;
        int64_t limit = 0;
        ferry_error_t err;

        if (sscanf(rest, "%255[^/]/%255[^/]/%255[^/]", ns, pod, ctr) != 3)
                return reply(c, 400, "text/plain",
                             "expected /containerLogs/{namespace}/{pod}/{container}\n");
        if (ferry_vk_pod_uid(k->vk, ns, pod, &uid) < 0) {
                _cleanup_free_ char *m =
                    ferry_xasprintf("pod %s/%s is not on this node\n", ns, pod);
                return reply(c, 404, "text/plain", m);
        }
        if (ferry_kubelet_logstruct(ns, pod, uid, ctr, mhd_get, c, &body, &limit, &err) < 0) {
                _cleanup_free_ char *m = ferry_xasprintf("%s\n", err.text);
                return reply(c, 400, "text/plain", m);
        }
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return reply(c, 500, "text/plain", "cannot create a pipe\n");
        struct logjob *j = ferry_xcalloc(1, sizeof(*j));
        pthread_mutex_init(&j->lock, NULL);
        pthread_cond_init(&j->cv, NULL);
        j->refs = 2;
        j->wfd = fds[1];
        j->left = limit > 0 ? limit : -1;
        j->body = TAKE_PTR(body);
        j->vk = k->vk;
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, log_thread, j) != 0) {
                pthread_attr_destroy(&attr);
                close(fds[0]);
                close(fds[1]);
                j->refs = 1;
                job_unref(j);
                return reply(c, 500, "text/plain", "cannot start a thread\n");
        }
        pthread_attr_destroy(&attr);
        pthread_mutex_lock(&j->lock);
        while (!j->started && !j->done)
                pthread_cond_wait(&j->cv, &j->lock);
        bool failed = !j->started && j->done && j->r < 0;
        int r = j->r;
        ferry_error_t jerr = j->err;
        pthread_mutex_unlock(&j->lock);
        job_unref(j);
        if (failed) {
                close(fds[0]);
                _cleanup_free_ char *m = ferry_xasprintf("%s\n", jerr.text);
                return reply(c, ferry_error_http_status(r, NULL), "text/plain", m);
        }
        struct MHD_Response *resp = MHD_create_response_from_pipe(fds[0]);
        if (!resp) {
                close(fds[0]);
                return reply(c, 500, "text/plain", "cannot stream\n");
        }
        MHD_add_response_header(resp, "Content-Type", "text/plain");
        enum MHD_Result ret = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* The identity in a client certificate (CN = user, O = groups): 1 when one
 * was presented and verifies against kubelet_client_ca, 0 when none was
 * presented (or no client CA is configured), -1 when one was presented and
 * does not verify. */
static int cert_identity(struct ferry_kubelet *k, struct MHD_Connection *c,
                         struct ferry_kubeauth_id *ret)
{
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (!ci || !ci->tls_session)
                return 0;
        gnutls_session_t s = (gnutls_session_t)ci->tls_session;
        unsigned status = 0, n = 0;
        const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
        if (!certs || n == 0 || !k->verify_client)
                return 0; /* none, or no CA to check it against: the bearer token decides */
        if (gnutls_certificate_verify_peers2(s, &status) != 0 || status != 0)
                return -1;
        gnutls_x509_crt_t crt;
        if (gnutls_x509_crt_init(&crt) < 0)
                return -1;
        int r = -1;
        size_t len = sizeof(ret->user);
        memset(ret, 0, sizeof(*ret));
        if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0 &&
            gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, ret->user,
                                          &len) == 0 &&
            ret->user[0]) {
                r = 1;
                for (unsigned i = 0; ret->n_groups < FERRY_KUBEAUTH_GROUPS_MAX; i++) {
                        len = sizeof(ret->groups[0]);
                        if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, i,
                                                          0, ret->groups[ret->n_groups], &len) != 0)
                                break;
                        ret->n_groups++;
                }
        }
        gnutls_x509_crt_deinit(crt);
        return r;
}

/* 0 when the request may go on; else the answer was queued into *ret. */
static int authorise(struct ferry_kubelet *k, struct MHD_Connection *c, const char *method,
                     const char *url, enum MHD_Result *ret)
{
        struct ferry_kubeauth_id id;
        char msg[512];
        if (!k->auth)
                return 0;
        int ci = cert_identity(k, c, &id);
        if (ci < 0) {
                *ret = reply(c, 401, "text/plain",
                             "Unauthorized: the client certificate is not signed by the "
                             "configured kubelet client CA\n");
                return -1;
        }
        const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        const char *bearer = h && strncasecmp(h, "Bearer ", 7) == 0 ? h + 7 : NULL;
        int r = ferry_kubeauth_check(k->auth, ci > 0 ? &id : NULL, bearer, method, url, msg,
                                     sizeof(msg));
        if (r == 0)
                return 0;
        strncat(msg, "\n", sizeof(msg) - strlen(msg) - 1);
        *ret = reply(c, ferry_error_http_status(r, NULL), "text/plain", msg);
        return -1;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
        struct ferry_kubelet *k = cls;
        static int first;
        if (*con_cls == NULL) {
                *con_cls = &first;
                return MHD_YES;
        }
        if (*upload_data_size) {
                *upload_data_size = 0; /* bodies are ignored */
                return MHD_YES;
        }
        if (!strcmp(url, "/healthz"))
                return reply(c, ferry_vk_healthy(k->vk) ? 200 : 503, "text/plain",
                             ferry_vk_healthy(k->vk) ? "ok" : "pods not listed yet");
        enum MHD_Result denied;
        if (authorise(k, c, method, url, &denied) < 0)
                return denied;
        if (strcmp(method, "GET") && strcmp(method, "HEAD"))
                return reply(c, 405, "text/plain", "method not allowed\n");
        if (!strcmp(url, "/metrics")) {
                struct ferry_buf b = FERRY_BUF_INIT;
                ferry_vk_metrics(k->vk, &b);
                enum MHD_Result ret =
                    reply(c, 200, "text/plain; version=0.0.4", b.data ? b.data : "");
                ferry_buf_free(&b);
                return ret;
        }
        if (ferry_str_startswith(url, "/containerLogs/"))
                return container_logs(k, c, url + strlen("/containerLogs/"));
        if (ferry_str_startswith(url, "/exec/") || ferry_str_startswith(url, "/attach/") ||
            ferry_str_startswith(url, "/portForward/") || ferry_str_startswith(url, "/run/"))
                return reply(c, 501, "text/plain",
                             "not available on a virtual node: the pod runs on a remote site\n");
        return reply(c, 404, "text/plain", "not found\n");
}

int ferry_kubelet_start(struct ferry_vk *vk, const struct ferry_vk_config *cfg,
                        struct ferry_kubelet **ret, ferry_error_t *err)
{
        struct ferry_kubelet *k = ferry_xcalloc(1, sizeof(*k));
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)cfg->kubelet_port)};
        size_t len;
        int r;

        signal(SIGPIPE, SIG_IGN);
        k->vk = vk;
        if (!cfg->kubelet_insecure_no_auth)
                k->auth = ferry_kubeauth_new(vk->kube, cfg->node_name);
        if (inet_pton(AF_INET, cfg->kubelet_listen ? cfg->kubelet_listen : "0.0.0.0",
                      &sa.sin_addr) != 1) {
                ferry_kubeauth_free(k->auth);
                free(k);
                return ferry_errprintf(err, -EINVAL, "kubelet_listen %s is not an IPv4 address",
                                       cfg->kubelet_listen);
        }
        unsigned flags =
            MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
        if (cfg->kubelet_insecure_http) {
                k->mhd =
                    MHD_start_daemon(flags, 0, NULL, NULL, handle, k, MHD_OPTION_SOCK_ADDR, &sa,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0, MHD_OPTION_END);
        } else {
                if (!cfg->kubelet_cert || !cfg->kubelet_key) {
                        ferry_kubeauth_free(k->auth);
                        free(k);
                        return ferry_errprintf(
                            err, -EINVAL,
                            "the kubelet endpoint needs kubelet_cert and kubelet_key "
                            "(or kubelet_port 0 to turn it off)");
                }
                pthread_mutex_lock(&cert_lock);
                bool taken = cert_owner != NULL;
                pthread_mutex_unlock(&cert_lock);
                if (taken) {
                        ferry_kubeauth_free(k->auth);
                        free(k);
                        return ferry_errprintf(err, -EBUSY, "one kubelet endpoint per process");
                }
                k->cert_path = ferry_xstrdup(cfg->kubelet_cert);
                k->key_path = ferry_xstrdup(cfg->kubelet_key);
                if (stat(k->cert_path, &k->cert_st) < 0 || stat(k->key_path, &k->key_st) < 0 ||
                    (r = load_pair(k->cert_path, k->key_path, &k->pair, err)) < 0) {
                        r = errno && !k->pair ? -errno : -EINVAL;
                        if (!err->text[0])
                                ferry_errprintf(err, r,
                                                "cannot read the kubelet certificate or key: %s",
                                                strerror(-r));
                        ferry_kubelet_stop(k);
                        return r;
                }
                if (cfg->kubelet_client_ca &&
                    (r = ferry_read_file(cfg->kubelet_client_ca, 1 << 20, &k->ca, &len)) < 0) {
                        ferry_kubelet_stop(k);
                        return ferry_errprintf(err, r, "cannot read the kubelet client CA %s: %s",
                                               cfg->kubelet_client_ca, strerror(-r));
                }
                k->verify_client = k->ca != NULL;
                pthread_mutex_lock(&cert_lock);
                cert_owner = k;
                k->checked_ns = ferry_monotonic_ns();
                pthread_mutex_unlock(&cert_lock);
                if (k->ca)
                        k->mhd = MHD_start_daemon(
                            flags | MHD_USE_TLS, 0, NULL, NULL, handle, k, MHD_OPTION_SOCK_ADDR,
                            &sa, MHD_OPTION_HTTPS_CERT_CALLBACK, retrieve_cert,
                            MHD_OPTION_HTTPS_MEM_TRUST, k->ca, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)0, MHD_OPTION_END);
                else
                        k->mhd = MHD_start_daemon(
                            flags | MHD_USE_TLS, 0, NULL, NULL, handle, k, MHD_OPTION_SOCK_ADDR,
                            &sa, MHD_OPTION_HTTPS_CERT_CALLBACK, retrieve_cert,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0, MHD_OPTION_END);
        }
        if (!k->mhd) {
                ferry_kubelet_stop(k);
                return ferry_errprintf(
                    err, -EADDRINUSE, "cannot serve the kubelet endpoint on %s:%d",
                    cfg->kubelet_listen ? cfg->kubelet_listen : "0.0.0.0", cfg->kubelet_port);
        }
        *ret = k;
        return 0;
}

void ferry_kubelet_stop(struct ferry_kubelet *k)
{
        if (!k)
                return;
        if (k->mhd)
                MHD_stop_daemon(k->mhd);
        pthread_mutex_lock(&cert_lock);
        if (cert_owner == k)
                cert_owner = NULL;
        pthread_mutex_unlock(&cert_lock);
        pair_free(k->pair);
        ferry_kubeauth_free(k->auth);
        free(k->cert_path);
        free(k->key_path);
        free(k->ca);
        free(k);
}
