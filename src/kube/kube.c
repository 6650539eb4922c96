/* SPDX-License-Identifier: MIT */
/*
 * The Kubernetes API client: a pool of curl easy handles (each keeps its own
 * keep-alive connection), a token bucket that paces requests, and latency
 * statistics for /metrics. See kube.h.
 */
#include "kube.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/log.h"

enum { V_GET, V_POST, V_PUT, V_PATCH, V_DELETE, V_WATCH, V_MAX };
const char *const ferry_kube_verb_names[6] = {"GET", "POST", "PUT", "PATCH", "DELETE", "WATCH"};

#define POOL_MAX 32
#define TOKEN_RECHECK_NS (10 * 1000000000LL)

struct ferry_kube {
        struct ferry_kube_config cfg; /* owned copy */
        char *user_agent;
        int timeout_s;

        pthread_mutex_t lock; /* pool, bucket, stats, token */
        CURL *pool[POOL_MAX];
        size_t n_pool;
        struct ferry_kube_bucket bucket;
        struct ferry_kube_stats stats;
        char *token; /* current bearer token (from token or token_file) */
        int64_t token_checked_ns;
        struct timespec token_mtime;
};

char *ferry_kube_query_escape(const char *s)
{
        struct ferry_buf b = FERRY_BUF_INIT;
        ferry_buf_reserve(&b, strlen(s) + 1);
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~')
                        ferry_buf_addc(&b, (char)*p);
                else
                        ferry_buf_printf(&b, "%%%02X", *p);
        }
        return ferry_buf_steal(&b);
}

/* ---- token bucket ---- */

void ferry_kube_bucket_init(struct ferry_kube_bucket *b, double qps, double burst, int64_t now_ns)
{
        b->qps = qps;
        b->burst = burst < 1 ? 1 : burst;
        b->tokens = b->burst;
        b->last_ns = now_ns;
}

int64_t ferry_kube_bucket_take(struct ferry_kube_bucket *b, int64_t now_ns)
{
        if (now_ns > b->last_ns) {
                b->tokens += (double)(now_ns - b->last_ns) / 1e9 * b->qps;
                if (b->tokens > b->burst)
                        b->tokens = b->burst;
                b->last_ns = now_ns;
        }
        b->tokens -= 1;
        if (b->tokens >= 0)
                return 0;
        /* negative tokens are a debt: wait until it is paid */
        return (int64_t)ceil(-b->tokens / b->qps * 1e9);
}

/* ---- client ---- */

static char *dup_or_null(const char *s)
{
        return s ? ferry_xstrdup(s) : NULL;
}

static char *dupn_or_null(const char *s, size_t n)
{
        if (!s)
                return NULL;
        char *d = ferry_xmalloc(n + 1);
        memcpy(d, s, n);
        d[n] = '\0';
        return d;
}

static int read_token_file(const char *path, char **ret, struct timespec *ret_mtime,
                           ferry_error_t *err)
{
        char *t = NULL;
        size_t len;
        struct stat st;
        int r = ferry_read_file(path, 64 * 1024, &t, &len);

        if (r < 0)
                return ferry_errprintf(err, r, "cannot read token file %s: %s", path, strerror(-r));
        while (len > 0 && (t[len - 1] == '\n' || t[len - 1] == '\r' || t[len - 1] == ' '))
                t[--len] = '\0';
        if (stat(path, &st) == 0 && ret_mtime)
                *ret_mtime = st.st_mtim;
        *ret = t;
        return 0;
}

int ferry_kube_new(const struct ferry_kube_config *cfg, const struct ferry_kube_options *opt,
                   struct ferry_kube **ret, ferry_error_t *err)
{
        struct ferry_kube *k;

        if (!cfg || !cfg->server)
                return ferry_errprintf(err, -EINVAL, "no Kubernetes API server given");
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return ferry_errprintf(err, -ENOMEM, "cannot initialise libcurl");
        k = ferry_xcalloc(1, sizeof(*k));
        pthread_mutex_init(&k->lock, NULL);
        k->cfg.server = ferry_xstrdup(cfg->server);
        k->cfg.ca_file = dup_or_null(cfg->ca_file);
        k->cfg.ca_data = dupn_or_null(cfg->ca_data, cfg->ca_data_len);
        k->cfg.ca_data_len = cfg->ca_data_len;
        k->cfg.cert_file = dup_or_null(cfg->cert_file);
        k->cfg.cert_data = dupn_or_null(cfg->cert_data, cfg->cert_data_len);
        k->cfg.cert_data_len = cfg->cert_data_len;
        k->cfg.key_file = dup_or_null(cfg->key_file);
        k->cfg.key_data = dupn_or_null(cfg->key_data, cfg->key_data_len);
        k->cfg.key_data_len = cfg->key_data_len;
        k->cfg.token_file = dup_or_null(cfg->token_file);
        k->cfg.namespace = dup_or_null(cfg->namespace);
        k->cfg.insecure = cfg->insecure;
        if (cfg->token)
                k->token = ferry_xstrdup(cfg->token);
        else if (cfg->token_file) {
                int r = read_token_file(cfg->token_file, &k->token, &k->token_mtime, err);
                if (r < 0) {
                        ferry_kube_free(k);
                        return r;
                }
                k->token_checked_ns = ferry_monotonic_ns();
        }
        double qps = opt && opt->qps > 0 ? opt->qps : 100;
        int burst = opt && opt->burst > 0 ? opt->burst : 200;
        ferry_kube_bucket_init(&k->bucket, qps, burst, ferry_monotonic_ns());
        k->timeout_s = opt && opt->timeout_s > 0 ? opt->timeout_s : 30;
        k->user_agent = ferry_xstrdup(opt && opt->user_agent ? opt->user_agent : "ferry-node/0.1");
        *ret = k;
        return 0;
}

void ferry_kube_free(struct ferry_kube *k)
{
        if (!k)
                return;
        for (size_t i = 0; i < k->n_pool; i++)
                curl_easy_cleanup(k->pool[i]);
        if (k->token) {
                explicit_bzero(k->token, strlen(k->token));
                free(k->token);
        }
        ferry_kube_config_clear(&k->cfg);
        free(k->user_agent);
        pthread_mutex_destroy(&k->lock);
        free(k);
}

const char *ferry_kube_server(const struct ferry_kube *k)
{
        return k->cfg.server;
}

static CURL *pool_get(struct ferry_kube *k)
{
        CURL *c = NULL;
        pthread_mutex_lock(&k->lock);
        if (k->n_pool > 0)
                c = k->pool[--k->n_pool];
        pthread_mutex_unlock(&k->lock);
        return c ? c : curl_easy_init();
}

static void pool_put(struct ferry_kube *k, CURL *c)
{
        pthread_mutex_lock(&k->lock);
        if (k->n_pool < POOL_MAX) {
                k->pool[k->n_pool++] = c;
                c = NULL;
        }
        pthread_mutex_unlock(&k->lock);
        if (c)
                curl_easy_cleanup(c);
}

/* Wait for the rate limiter; refresh a file token when it changed. Returns
 * a copy of the bearer token (or NULL). */
static char *before_request(struct ferry_kube *k)
{
        int64_t now = ferry_monotonic_ns();
        char *tok = NULL;

        pthread_mutex_lock(&k->lock);
        int64_t wait = ferry_kube_bucket_take(&k->bucket, now);
        k->stats.throttled_ns += (uint64_t)wait;
        if (k->cfg.token_file && now - k->token_checked_ns > TOKEN_RECHECK_NS) {
                struct stat st;
                k->token_checked_ns = now;
                if (stat(k->cfg.token_file, &st) == 0 &&
                    (st.st_mtim.tv_sec != k->token_mtime.tv_sec ||
                     st.st_mtim.tv_nsec != k->token_mtime.tv_nsec)) {
                        char *t;
                        ferry_error_t e;
                        if (read_token_file(k->cfg.token_file, &t, &k->token_mtime, &e) == 0) {
                                free(k->token);
                                k->token = t;
                        } else {
                                log_warn("%s", e.text);
                        }
                }
        }
        if (k->token)
                tok = ferry_xstrdup(k->token);
        pthread_mutex_unlock(&k->lock);
        if (wait > 0) {
                struct timespec ts = {wait / 1000000000, wait % 1000000000};
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
                }
        }
        return tok;
}

static void account(struct ferry_kube *k, int verb, int64_t ns, bool failed)
{
        ferry_hist_observe(&k->stats.lat[verb], ns);
        if (failed) {
                pthread_mutex_lock(&k->lock);
                k->stats.errors++;
                pthread_mutex_unlock(&k->lock);
        }
}

void ferry_kube_metrics(struct ferry_kube *k, struct ferry_buf *out)
{
        pthread_mutex_lock(&k->lock);
        uint64_t errors = k->stats.errors, throttled_ns = k->stats.throttled_ns;
        pthread_mutex_unlock(&k->lock);
        ferry_buf_adds(out, "# HELP ferry_kube_requests_total Kubernetes API requests by verb.\n"
                            "# TYPE ferry_kube_requests_total counter\n");
        for (int v = 0; v < V_MAX; v++)
                ferry_buf_printf(out, "ferry_kube_requests_total{verb=\"%s\"} %llu\n",
                                 ferry_kube_verb_names[v],
                                 (unsigned long long)ferry_hist_count(&k->stats.lat[v]));
        ferry_buf_printf(out,
                         "# HELP ferry_kube_request_errors_total Kubernetes API requests that "
                         "failed (transport or 5xx).\n# TYPE ferry_kube_request_errors_total "
                         "counter\nferry_kube_request_errors_total %llu\n",
                         (unsigned long long)errors);
        ferry_buf_printf(out,
                         "# HELP ferry_kube_throttled_seconds_total Time spent waiting for the "
                         "client-side rate limiter.\n# TYPE ferry_kube_throttled_seconds_total "
                         "counter\nferry_kube_throttled_seconds_total %.6f\n",
                         (double)throttled_ns / 1e9);
        ferry_buf_adds(out, "# HELP ferry_kube_request_duration_seconds Kubernetes API request "
                            "latency (watches: time to the end of the stream).\n"
                            "# TYPE ferry_kube_request_duration_seconds histogram\n");
        for (int v = 0; v < V_MAX; v++) {
                char labels[32];
                snprintf(labels, sizeof(labels), "verb=\"%s\"", ferry_kube_verb_names[v]);
                ferry_hist_render(out, "ferry_kube_request_duration_seconds", labels,
                                  &k->stats.lat[v]);
        }
}

struct xfer {
        struct ferry_buf body;
        struct ferry_buf line; /* streaming: the partial line */
        long code;
        CURL *curl;
        bool too_big;
        int (*on_line)(void *ctx, const char *line, size_t len);
        bool (*stop)(void *ctx);
        void *ctx;
        int line_r;
};

static size_t on_write(char *p, size_t size, size_t nmemb, void *userdata)
{
        struct xfer *x = userdata;
        size_t n = size * nmemb;

        if (!x->code)
                curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->code);
        if (x->on_line && x->code == 200) {
                size_t start = 0;
                for (size_t i = 0; i < n; i++) {
                        if (p[i] != '\n')
                                continue;
                        ferry_buf_add(&x->line, p + start, i - start);
                        start = i + 1;
                        if (x->line.len > 0) {
                                int r = x->on_line(x->ctx, x->line.data, x->line.len);
                                ferry_buf_reset(&x->line);
                                if (r < 0) {
                                        x->line_r = r;
                                        return 0;
                                }
                        }
                }
                if (x->line.len + (n - start) > FERRY_KUBE_MAX_ANSWER / 8) {
                        x->too_big = true;
                        return 0;
                }
                ferry_buf_add(&x->line, p + start, n - start);
                return n;
        }
        if (x->body.len + n > FERRY_KUBE_MAX_ANSWER) {
                x->too_big = true;
                return 0;
        }
        ferry_buf_add(&x->body, p, n);
        return n;
}

static int on_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
        struct xfer *x = clientp;
        return x->stop && x->stop(x->ctx) ? 1 : 0;
}

static int verb_of(const char *method, bool watch)
{
        if (watch)
                return V_WATCH;
        for (int v = 0; v < V_WATCH; v++)
                if (!strcmp(method, ferry_kube_verb_names[v]))
                        return v;
        return V_GET;
}

static int exchange(struct ferry_kube *k, const char *method, const char *path,
                    const char *content_type, const char *body, int timeout_s, struct xfer *x,
                    ferry_error_t *err)
{
        char errbuf[CURL_ERROR_SIZE] = "";
        struct curl_slist *hdrs = NULL;
        _cleanup_free_ char *url = ferry_xasprintf("%s%s", k->cfg.server, path);
        _cleanup_free_ char *tok = before_request(k);
        _cleanup_free_ char *auth = NULL;
        _cleanup_free_ char *ctype = NULL;
        CURL *c = pool_get(k);
        int64_t t0 = ferry_monotonic_ns();
        CURLcode cc;
        int r = 0;

        if (!c) {
                free(tok);
                tok = NULL;
                return ferry_errprintf(err, -ENOMEM, "cannot create a libcurl handle");
        }
        x->curl = c;
        curl_easy_reset(c);
        hdrs = curl_slist_append(hdrs, "Accept: application/json");
        hdrs = curl_slist_append(hdrs, "Expect:");
        if (body) {
                ctype = ferry_xasprintf("Content-Type: %s",
                                        content_type ? content_type : "application/json");
                hdrs = curl_slist_append(hdrs, ctype);
        }
        if (tok) {
                auth = ferry_xasprintf("Authorization: Bearer %s", tok);
                hdrs = curl_slist_append(hdrs, auth);
        }
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        if (body) {
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        }
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout_s);
        curl_easy_setopt(c, CURLOPT_USERAGENT, k->user_agent);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
        if (x->stop) {
                curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
                curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
                curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        }
        if (k->cfg.ca_data) {
                struct curl_blob blob = {k->cfg.ca_data, k->cfg.ca_data_len, CURL_BLOB_COPY};
                curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
        } else if (k->cfg.ca_file) {
                curl_easy_setopt(c, CURLOPT_CAINFO, k->cfg.ca_file);
        }
        if (k->cfg.cert_data) {
                struct curl_blob blob = {k->cfg.cert_data, k->cfg.cert_data_len, CURL_BLOB_COPY};
                curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &blob);
                curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
        } else if (k->cfg.cert_file) {
                curl_easy_setopt(c, CURLOPT_SSLCERT, k->cfg.cert_file);
        }
        if (k->cfg.key_data) {
                struct curl_blob blob = {k->cfg.key_data, k->cfg.key_data_len, CURL_BLOB_COPY};
                curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &blob);
                curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
        } else if (k->cfg.key_file) {
                curl_easy_setopt(c, CURLOPT_SSLKEY, k->cfg.key_file);
        }
        if (k->cfg.insecure) {
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        }

        cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->code);
        /* the handle goes back even after an error: curl closes a broken connection itself */
        pool_put(k, c);
        curl_slist_free_all(hdrs);
        if (auth)
                explicit_bzero(auth, strlen(auth));
        if (tok)
                explicit_bzero(tok, strlen(tok));

        if (cc != CURLE_OK) {
                const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cc);
                if (x->line_r < 0)
                        r = x->line_r;
                else if (x->too_big)
                        r = ferry_errprintf(err, -E2BIG, "the answer to %s %s is too large", method,
                                            path);
                else if (cc == CURLE_ABORTED_BY_CALLBACK)
                        r = -ECANCELED;
                else if (cc == CURLE_OPERATION_TIMEDOUT)
                        r = ferry_errprintf(err, -ETIMEDOUT, "%s %s%s: %s", method, k->cfg.server,
                                            path, why);
                else if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST)
                        r = ferry_errprintf(err, -ECONNREFUSED,
                                            "cannot reach the Kubernetes API at %s: %s",
                                            k->cfg.server, why);
                else if (x->code == 0)
                        r = ferry_errprintf(err, -ECONNREFUSED, "%s %s%s failed: %s", method,
                                            k->cfg.server, path, why);
                else
                        r = ferry_errprintf(err, -ECONNRESET, "%s %s%s failed: %s", method,
                                            k->cfg.server, path, why);
        }
        account(k, verb_of(method, x->on_line != NULL), ferry_monotonic_ns() - t0,
                r < 0 || x->code >= 500);
        return r;
}

int ferry_kube_request(struct ferry_kube *k, const char *method, const char *path,
                       const char *content_type, const char *body, long *ret_code,
                       json_t **ret_body, ferry_error_t *err)
{
        struct xfer x = {.body = FERRY_BUF_INIT};
        int r = exchange(k, method, path, content_type, body, k->timeout_s, &x, err);

        if (r < 0) {
                ferry_buf_free(&x.body);
                return r;
        }
        if (ret_code)
                *ret_code = x.code;
        if (ret_body)
                *ret_body = x.body.len ? json_loadb(x.body.data, x.body.len, 0, NULL) : NULL;
        ferry_buf_free(&x.body);
        return 0;
}

static int status_error(long code, json_t *ans, const char *method, const char *path,
                        ferry_error_t *err)
{
        const char *msg = json_string_value(json_object_get(ans, "message"));
        const char *reason = json_string_value(json_object_get(ans, "reason"));
        return ferry_errprintf(err, ferry_error_from_http(code), "%s %s: %ld %s%s%s", method, path,
                               code, reason ? reason : "", reason ? ": " : "",
                               msg ? msg : "(no message)");
}

static int verb(struct ferry_kube *k, const char *method, const char *path, const char *ctype,
                const json_t *obj, json_t **ret, ferry_error_t *err)
{
        _cleanup_free_ char *body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
        json_t *ans = NULL;
        long code = 0;
        int r = ferry_kube_request(k, method, path, ctype, body, &code, &ans, err);

        if (r < 0)
                return r;
        if (code < 200 || code >= 300) {
                r = status_error(code, ans, method, path, err);
                json_decref(ans);
                return r;
        }
        if (ret)
                *ret = ans;
        else
                json_decref(ans);
        return 0;
}

int ferry_kube_get(struct ferry_kube *k, const char *path, json_t **ret, ferry_error_t *err)
{
        return verb(k, "GET", path, NULL, NULL, ret, err);
}

int ferry_kube_create(struct ferry_kube *k, const char *path, const json_t *obj, json_t **ret,
                      ferry_error_t *err)
{
        return verb(k, "POST", path, "application/json", obj, ret, err);
}

int ferry_kube_put(struct ferry_kube *k, const char *path, const json_t *obj, json_t **ret,
                   ferry_error_t *err)
{
        return verb(k, "PUT", path, "application/json", obj, ret, err);
}

int ferry_kube_merge_patch(struct ferry_kube *k, const char *path, const json_t *patch,
                           json_t **ret, ferry_error_t *err)
{
        return verb(k, "PATCH", path, "application/merge-patch+json", patch, ret, err);
}

int ferry_kube_delete(struct ferry_kube *k, const char *path, const json_t *body,
                      ferry_error_t *err)
{
        return verb(k, "DELETE", path, "application/json", body, NULL, err);
}

int ferry_kube_stream_(struct ferry_kube *k, const char *path, int timeout_s,
                       int (*on_line)(void *ctx, const char *line, size_t len),
                       bool (*stop)(void *ctx), void *ctx, long *ret_code, json_t **ret_body,
                       ferry_error_t *err)
{
        struct xfer x = {.body = FERRY_BUF_INIT,
                         .line = FERRY_BUF_INIT,
                         .on_line = on_line,
                         .stop = stop,
                         .ctx = ctx};
        int r = exchange(k, "GET", path, NULL, NULL, timeout_s, &x, err);

        if (r >= 0 && x.code == 200 && x.line.len > 0) /* a last line without '\n' */
                r = on_line(ctx, x.line.data, x.line.len);
        if (ret_code)
                *ret_code = x.code;
        if (ret_body && x.code != 200 && x.body.len)
                *ret_body = json_loadb(x.body.data, x.body.len, 0, NULL);
        ferry_buf_free(&x.body);
        ferry_buf_free(&x.line);
        return r;
}
