/* SPDX-License-Identifier: MIT */
/*
 * The interLink HTTP client. One curl easy handle per client, reset before
 * each request so that the connection (and its unix socket) is reused while a
 * CLI polls /status.
 */
#include "client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/util.h"

struct ferry_client {
        CURL *curl;
        struct ferry_client_url url;
        char *url_text;
        char *token; /* NULL when no token file */
        char *token_path;
        struct stat token_st; /* the file as last read: re-read when it changes */
        unsigned long seq;
        long last_code;
        bool verbose;
        char *ca_file; /* NULL: the system CAs */
};

/* ---- URL parsing ---- */

void ferry_client_url_clear(struct ferry_client_url *u)
{
        free(u->socket_path);
        free(u->base);
        u->socket_path = u->base = NULL;
}

int ferry_client_parse_url(const char *url, struct ferry_client_url *ret, ferry_error_t *err)
{
        static const char hint[] =
            "use unix:///path/to.sock, http://HOST:PORT or https://HOST:PORT";
        struct ferry_client_url u = {0};
        const char *rest;

        if (!url || !url[0])
                return ferry_errprintf(err, -EINVAL, "no server URL given (%s)", hint);
        if (url[0] == '/' || ferry_str_startswith(url, "unix:")) {
                const char *path = url;

                if (ferry_str_startswith(url, "unix://"))
                        path = url + strlen("unix://");
                else if (ferry_str_startswith(url, "unix:"))
                        path = url + strlen("unix:");
                if (path[0] != '/')
                        return ferry_errprintf(err, -EINVAL,
                                               "server URL '%s': a unix socket path must be "
                                               "absolute (%s)",
                                               url, hint);
                if (strlen(path) >= 108)
                        return ferry_errprintf(err, -ENAMETOOLONG,
                                               "server URL '%s': socket path too long (max 107)",
                                               url);
                u.scheme = FERRY_CLIENT_UNIX;
                u.socket_path = ferry_xstrdup(path);
                u.base = ferry_xstrdup("http://unix");
                *ret = u;
                return 0;
        }
        if (ferry_str_startswith(url, "http://")) {
                u.scheme = FERRY_CLIENT_HTTP;
                rest = url + strlen("http://");
        } else if (ferry_str_startswith(url, "https://")) {
                u.scheme = FERRY_CLIENT_HTTPS;
                rest = url + strlen("https://");
        } else {
                return ferry_errprintf(err, -EINVAL, "unsupported server URL '%s' (%s)", url, hint);
        }
        if (!rest[0] || rest[0] == '/' || rest[0] == ':')
                return ferry_errprintf(err, -EINVAL, "server URL '%s' has no host (%s)", url, hint);
        for (const char *p = rest; *p; p++) {
                if (isspace((unsigned char)*p) || *p == '?' || *p == '#' || *p == '@')
                        return ferry_errprintf(err, -EINVAL,
                                               "server URL '%s' has an unexpected '%c' (%s)", url,
                                               *p, hint);
        }
        size_t n = strlen(url);
        while (n > 0 && url[n - 1] == '/')
                n--;
        u.base = ferry_xstrndup(url, n);
        *ret = u;
        return 0;
}

/* ---- error text from an answer body ---- */

void ferry_client_error_text(const char *body, size_t len, char *out, size_t out_size)
{
        json_t *j = NULL;
        size_t o = 0;

        if (out_size == 0)
                return;
        out[0] = '\0';
        if (body && len > 0 && len < 65536)
                j = json_loadb(body, len, 0, NULL);
        if (json_is_object(j)) {
                const char *e = json_string_value(json_object_get(j, "error"));
                const char *r = json_string_value(json_object_get(j, "reason"));
                if (!e)
                        e = json_string_value(json_object_get(j, "message"));
                if (e && r && r[0] && strcmp(e, r) != 0)
                        snprintf(out, out_size, "%s (%s)", e, r);
                else if (e)
                        snprintf(out, out_size, "%s", e);
        }
        json_decref(j);
        if (out[0])
                return;
        /* plain text: trim, fold newlines, cut */
        while (len > 0 && isspace((unsigned char)body[0])) {
                body++;
                len--;
        }
        while (len > 0 && isspace((unsigned char)body[len - 1]))
                len--;
        for (size_t i = 0; i < len && o + 1 < out_size; i++) {
                unsigned char ch = (unsigned char)body[i];
                out[o++] =
                    (ch == '\n' || ch == '\r' || ch == '\t') ? ' ' : (ch < 0x20 ? '?' : (char)ch);
        }
        out[o] = '\0';
        if (o + 1 == out_size && o >= 3 && len > o)
                memcpy(out + o - 3, "...", 3);
}

/* ---- phase ---- */

static const char *cstate(const json_t *cs, long *ret_exit)
{
        const json_t *st = json_object_get(cs, "state");
        const json_t *t = json_object_get(st, "terminated");

        if (json_is_object(t)) {
                *ret_exit = (long)json_integer_value(json_object_get(t, "exitCode"));
                return "terminated";
        }
        if (json_is_object(json_object_get(st, "running")))
                return "running";
        return "waiting";
}

const char *ferry_client_pod_phase(const json_t *ps)
{
        static const char *const known[] = {"Pending", "Running", "Succeeded", "Failed", "Unknown"};
        const char *phase = json_string_value(json_object_get(ps, "phase"));
        const json_t *init = json_object_get(ps, "initContainers");
        const json_t *cs = json_object_get(ps, "containers");
        size_t i, n_term = 0, n_fail = 0, n_started = 0, n = json_array_size(cs);
        const json_t *v;

        if (phase) {
                for (i = 0; i < FERRY_ARRAY_SIZE(known); i++)
                        if (strcmp(phase, known[i]) == 0)
                                return known[i];
                return "Unknown";
        }
        json_array_foreach(init, i, v)
        {
                long code = 0;
                if (strcmp(cstate(v, &code), "terminated") == 0 && code != 0)
                        return "Failed";
        }
        json_array_foreach(cs, i, v)
        {
                long code = 0;
                const char *s = cstate(v, &code);
                if (strcmp(s, "terminated") == 0) {
                        n_term++;
                        n_started++;
                        if (code != 0)
                                n_fail++;
                } else if (strcmp(s, "running") == 0) {
                        n_started++;
                }
        }
        if (n > 0 && n_term == n)
                return n_fail ? "Failed" : "Succeeded";
        if (n_started > 0)
                return "Running";
        return "Pending";
}

bool ferry_client_phase_done(const char *phase)
{
        return phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);
}

/* ---- lifecycle ---- */

static int read_token(const char *path, char **ret, ferry_error_t *err)
{
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r = ferry_read_file(path, FERRY_CLIENT_MAX_TOKEN, &data, &len);

        if (r == -EFBIG)
                return ferry_errprintf(err, r,
                                       "token file %s is larger than %u bytes: is it "
                                       "the right file?",
                                       path, FERRY_CLIENT_MAX_TOKEN);
        if (r < 0)
                return ferry_errprintf(err, r, "cannot read token file %s: %s", path, strerror(-r));
        char *s = data;
        while (*s && isspace((unsigned char)*s))
                s++;
        size_t n = strlen(s);
        while (n > 0 && isspace((unsigned char)s[n - 1]))
                n--;
        if (n == 0)
                return ferry_errprintf(err, -EINVAL, "token file %s is empty", path);
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
                        return ferry_errprintf(err, -EINVAL,
                                               "token file %s: the token must be one line of "
                                               "printable characters",
                                               path);
        *ret = ferry_xstrndup(s, n);
        return 0;
}

int ferry_client_new(const char *url, const char *token_file, struct ferry_client **ret,
                     ferry_error_t *err)
{
        static bool global_done;
        struct ferry_client *c;
        int r;

        if (!global_done) {
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                        return ferry_errprintf(err, -ENOMEM, "cannot initialise libcurl");
                global_done = true;
        }
        c = ferry_xcalloc(1, sizeof(*c));
        r = ferry_client_parse_url(url, &c->url, err);
        if (r < 0)
                goto fail;
        if (token_file && token_file[0]) {
                r = read_token(token_file, &c->token, err);
                if (r < 0)
                        goto fail;
                c->token_path = ferry_xstrdup(token_file);
                if (stat(token_file, &c->token_st) < 0)
                        memset(&c->token_st, 0, sizeof(c->token_st));
        }
        c->curl = curl_easy_init();
        if (!c->curl) {
                r = ferry_errprintf(err, -ENOMEM, "cannot create a libcurl handle");
                goto fail;
        }
        c->url_text = ferry_xstrdup(url);
        /* a correlation number that differs between runs */
        c->seq = ((unsigned long)time(NULL) ^ ((unsigned long)getpid() << 8)) % 1000000;
        *ret = c;
        return 0;
fail:
        ferry_client_free(c);
        return r;
}

void ferry_client_free(struct ferry_client *c)
{
        if (!c)
                return;
        if (c->curl)
                curl_easy_cleanup(c->curl);
        ferry_client_url_clear(&c->url);
        if (c->token) {
                explicit_bzero(c->token, strlen(c->token));
                free(c->token);
        }
        free(c->url_text);
        free(c->ca_file);
        free(c->token_path);
        free(c);
}

/* Rotation without a restart: a token file that changed on disk (a mounted
 * Secret is swapped through a symlink, so its inode changes; an edited file
 * changes its mtime or size) is read again before the next request. A file
 * that cannot be read now (mid-rotation) keeps the old token. */
static void reload_token(struct ferry_client *c)
{
        struct stat st;
        if (!c->token_path || stat(c->token_path, &st) < 0)
                return;
        if (st.st_ino == c->token_st.st_ino && st.st_dev == c->token_st.st_dev &&
            st.st_size == c->token_st.st_size && st.st_mtim.tv_sec == c->token_st.st_mtim.tv_sec &&
            st.st_mtim.tv_nsec == c->token_st.st_mtim.tv_nsec)
                return;
        char *tok = NULL;
        ferry_error_t err;
        if (read_token(c->token_path, &tok, &err) < 0)
                return;
        explicit_bzero(c->token, strlen(c->token));
        free(c->token);
        c->token = tok;
        c->token_st = st;
}

void ferry_client_set_ca_file(struct ferry_client *c, const char *ca_file)
{
        free(c->ca_file);
        c->ca_file = ca_file && ca_file[0] ? ferry_xstrdup(ca_file) : NULL;
}

void ferry_client_set_verbose(struct ferry_client *c, bool verbose)
{
        c->verbose = verbose;
}

const char *ferry_client_url(const struct ferry_client *c)
{
        return c->url_text;
}

long ferry_client_last_http_code(const struct ferry_client *c)
{
        return c->last_code;
}

/* ---- one exchange ---- */

struct xfer {
        CURL *curl;
        struct ferry_buf body;        /* whole answer, or the error body when streaming */
        ferry_client_write_fn stream; /* set: 200 bytes go here */
        void *ctx;
        int stream_r; /* what stream returned when it stopped us */
        long code;    /* HTTP status once known */
        bool too_big;
};

static size_t on_write(char *p, size_t size, size_t nmemb, void *userdata)
{
        struct xfer *x = userdata;
        size_t n = size * nmemb;

        if (x->code == 0)
                curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->code);
        if (x->stream && x->code == 200) {
                int r = x->stream(x->ctx, p, n);
                if (r < 0) {
                        x->stream_r = r;
                        return 0; /* CURLE_WRITE_ERROR */
                }
                return n;
        }
        if (x->body.len + n > FERRY_CLIENT_MAX_ANSWER) {
                x->too_big = true;
                return 0;
        }
        ferry_buf_add(&x->body, p, n);
        return n;
}

static const char *status_hint(long code)
{
        switch (code) {
        case 401: return "; check --token-file";
        case 403: return "; use -n with a namespace your token is for";
        default: return "";
        }
}

static int unix_connect_error(struct ferry_client *c, ferry_error_t *err)
{
        struct stat st;

        if (stat(c->url.socket_path, &st) < 0)
                return ferry_errprintf(err, -ECONNREFUSED, "cannot reach %s: %s does not exist",
                                       c->url_text, c->url.socket_path);
        if (!S_ISSOCK(st.st_mode))
                return ferry_errprintf(err, -ECONNREFUSED, "cannot reach %s: %s is not a socket",
                                       c->url_text, c->url.socket_path);
        if (access(c->url.socket_path, R_OK | W_OK) < 0 && errno == EACCES)
                return ferry_errprintf(err, -EACCES,
                                       "permission denied on %s: ask an admin to add you to "
                                       "the group that owns it",
                                       c->url.socket_path);
        return ferry_errprintf(err, -ECONNREFUSED,
                               "cannot reach %s: nothing accepts connections on %s", c->url_text,
                               c->url.socket_path);
}

/*
 * Send METHOD PATH with body (may be NULL). With stream set, a 200 answer's
 * bytes go to stream; otherwise the answer is collected in *ret_body (when
 * ret_body is non-NULL). ok_any: any HTTP status is a success (ping).
 */
static int request(struct ferry_client *c, const char *method, const char *path, const char *verb,
                   const char *body, ferry_client_write_fn stream, void *ctx, bool ok_any,
                   char **ret_body, size_t *ret_len, ferry_error_t *err)
{
        char errbuf[CURL_ERROR_SIZE] = "";
        struct curl_slist *hdrs = NULL;
        struct xfer x = {.curl = c->curl, .stream = stream, .ctx = ctx};
        _cleanup_free_ char *url = ferry_xasprintf("%s%s", c->url.base, path);
        _cleanup_free_ char *session =
            ferry_xasprintf("InterLink-Http-Session: %s#%lu", verb, ++c->seq);
        _cleanup_free_ char *auth = NULL;
        CURLcode cc;
        int r = 0;

        c->last_code = 0;
        reload_token(c);
        curl_easy_reset(c->curl);
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        hdrs = curl_slist_append(hdrs, "Accept: application/json, text/plain");
        hdrs = curl_slist_append(hdrs, session);
        hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
        if (c->token) {
                auth = ferry_xasprintf("Authorization: Bearer %s", c->token);
                hdrs = curl_slist_append(hdrs, auth);
        }
        if (!hdrs) {
                r = ferry_errprintf(err, -ENOMEM, "out of memory building a request");
                goto out;
        }
        curl_easy_setopt(c->curl, CURLOPT_URL, url);
        if (c->url.socket_path)
                curl_easy_setopt(c->curl, CURLOPT_UNIX_SOCKET_PATH, c->url.socket_path);
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
        if (body) {
                curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        } else if (strcmp(method, "GET") != 0) {
                curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, "");
                curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        }
        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &x);
        curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "ferry-client/0.1");
        /* upstream waits 120 s for headers; a log stream has no limit */
        if (!stream)
                curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 130L);
        curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
        if (c->ca_file)
                curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->ca_file);
        if (c->verbose)
                fprintf(stderr, "> %s %s%s%s%s (%s)\n", method, c->url.base, path,
                        c->url.socket_path ? " via " : "",
                        c->url.socket_path ? c->url.socket_path : "", session + 24);

        cc = curl_easy_perform(c->curl);
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &x.code);
        c->last_code = x.code;
        if (c->verbose && x.code)
                fprintf(stderr, "< %ld (%zu bytes)\n", x.code, x.body.len);

        if (cc != CURLE_OK) {
                const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cc);
                if (cc == CURLE_COULDNT_CONNECT && c->url.socket_path) {
                        /* curl's text speaks of "port 80"; say what is wrong with the socket */
                        r = unix_connect_error(c, err);
                        goto out;
                }
                switch (cc) {
                case CURLE_COULDNT_CONNECT:
                case CURLE_COULDNT_RESOLVE_HOST:
                case CURLE_COULDNT_RESOLVE_PROXY:
                        r = ferry_errprintf(err, -ECONNREFUSED, "cannot reach %s: %s", c->url_text,
                                            why);
                        break;
                case CURLE_OPERATION_TIMEDOUT:
                        r = ferry_errprintf(err, -ETIMEDOUT, "no answer from %s: %s", c->url_text,
                                            why);
                        break;
                case CURLE_WRITE_ERROR:
                        if (x.stream_r < 0) {
                                r = x.stream_r; /* the callback's own error */
                                if (err && !err->text[0])
                                        ferry_errprintf(err, r, "stopped reading the answer: %s",
                                                        strerror(-r));
                                break;
                        }
                        if (x.too_big) {
                                r = ferry_errprintf(err, -E2BIG,
                                                    "the answer of %s is larger than %u MiB", path,
                                                    FERRY_CLIENT_MAX_ANSWER >> 20);
                                break;
                        }
                        /* fallthrough */
                default:
                        r = ferry_errprintf(err, -ECONNRESET, "%s%s failed: %s", c->url_text, path,
                                            why);
                }
                goto out;
        }
        if (x.code != 200 && !ok_any) {
                char msg[320];
                ferry_client_error_text(x.body.data, x.body.len, msg, sizeof(msg));
                r = ferry_errprintf(err, ferry_error_from_http(x.code),
                                    "server answered %ld to %s: %s%s", x.code, path,
                                    msg[0] ? msg : "(no message)", status_hint(x.code));
                goto out;
        }
        if (ret_len)
                *ret_len = x.body.len;
        if (ret_body)
                *ret_body = ferry_buf_steal(&x.body);
out:
        curl_slist_free_all(hdrs);
        ferry_buf_free(&x.body);
        if (auth)
                explicit_bzero(auth, strlen(auth));
        return r;
}

/* ---- the verbs ---- */

int ferry_client_create(struct ferry_client *c, const char *json_body, char **ret_uid,
                        char **ret_jid, ferry_error_t *err)
{
        _cleanup_free_ char *ans = NULL;
        size_t len = 0;
        json_error_t je;
        json_t *j;
        int r = request(c, "POST", "/create", "CreatePod", json_body, NULL, NULL, false, &ans, &len,
                        err);

        if (r < 0)
                return r;
        j = json_loadb(ans, len, 0, &je);
        /* hop A answers one CreateStruct; tolerate a one-element array */
        if (json_is_array(j) && json_array_size(j) == 1) {
                json_t *e = json_incref(json_array_get(j, 0));
                json_decref(j);
                j = e;
        }
        const char *uid = json_string_value(json_object_get(j, "PodUID"));
        const char *jid = json_string_value(json_object_get(j, "PodJID"));
        if (!uid || !jid) {
                json_decref(j);
                return ferry_errprintf(err, -EPROTO,
                                       "the server's answer to /create is not a CreateStruct "
                                       "(PodUID, PodJID): %.80s",
                                       ans);
        }
        if (ret_uid)
                *ret_uid = ferry_xstrdup(uid);
        if (ret_jid)
                *ret_jid = ferry_xstrdup(jid);
        json_decref(j);
        return 0;
}

int ferry_client_status(struct ferry_client *c, const char *pods_json, json_t **ret,
                        ferry_error_t *err)
{
        _cleanup_free_ char *ans = NULL;
        size_t len = 0;
        json_error_t je;
        json_t *j;
        int r =
            request(c, "GET", "/status", "GetStatus", pods_json && pods_json[0] ? pods_json : "[]",
                    NULL, NULL, false, &ans, &len, err);

        if (r < 0)
                return r;
        j = json_loadb(ans, len, JSON_DECODE_ANY, &je);
        if (json_is_null(j) || (!j && len == 0)) { /* Go writes an empty slice as null */
                json_decref(j);
                j = json_array();
        }
        if (!json_is_array(j)) {
                json_decref(j);
                return ferry_errprintf(err, -EPROTO,
                                       "the server's answer to /status is not a JSON array "
                                       "(line %d: %s)",
                                       je.line, je.text);
        }
        *ret = j;
        return 0;
}

int ferry_client_logs(struct ferry_client *c, const char *logstruct_json,
                      ferry_client_write_fn write_cb, void *ctx, ferry_error_t *err)
{
        return request(c, "GET", "/getLogs", "GetLogs", logstruct_json, write_cb, ctx, false, NULL,
                       NULL, err);
}

int ferry_client_delete(struct ferry_client *c, const char *pod_json, ferry_error_t *err)
{
        return request(c, "DELETE", "/delete", "DeletePod", pod_json, NULL, NULL, false, NULL, NULL,
                       err);
}

int ferry_client_ping(struct ferry_client *c, char **ret_body, long *ret_code, ferry_error_t *err)
{
        char *ans = NULL;
        int r = request(c, "POST", "/pinglink", "PingInterLink", NULL, NULL, NULL, true, &ans, NULL,
                        err);

        if (r < 0)
                return r;
        if (ret_code)
                *ret_code = c->last_code;
        if (ret_body)
                *ret_body = ans;
        else
                free(ans);
        return 0;
}

int ferry_client_jobs(struct ferry_client *c, const char *method, const char *json_body,
                      json_t **ret, ferry_error_t *err)
{
        _cleanup_free_ char *ans = NULL;
        size_t len = 0;
        json_error_t je;
        int r = request(c, method, "/jobs", "Jobs", json_body ? json_body : "", NULL, NULL, false,
                        &ans, &len, err);

        if (r < 0)
                return r;
        json_t *j = json_loadb(ans, len, 0, &je);
        if (!j)
                return ferry_errprintf(err, -EPROTO,
                                       "the server's answer to /jobs is not JSON (line %d: %s); "
                                       "is it a ferryd older than Jobs?",
                                       je.line, je.text);
        if (ret)
                *ret = j;
        else
                json_decref(j);
        return 0;
}

int ferry_client_tenants(struct ferry_client *c, json_t **ret, ferry_error_t *err)
{
        _cleanup_free_ char *ans = NULL;
        size_t len = 0;
        json_error_t je;
        int r = request(c, "GET", "/tenants", "Tenants", NULL, NULL, NULL, false, &ans, &len, err);

        if (r < 0)
                return r;
        json_t *j = json_loadb(ans, len, 0, &je);
        if (!j || !json_is_object(j)) {
                json_decref(j);
                return ferry_errprintf(err, -EPROTO,
                                       "the server's answer to /tenants is not a JSON object; is "
                                       "it a ferryd older than site tenancy?");
        }
        *ret = j;
        return 0;
}

int ferry_client_usage(struct ferry_client *c, const char *query, char **ret_body,
                       ferry_error_t *err)
{
        char *path = ferry_xasprintf("/usage%s%s", query && *query ? "?" : "", query ? query : "");
        size_t len = 0;
        int r = request(c, "GET", path, "Usage", NULL, NULL, NULL, false, ret_body, &len, err);
        free(path);
        return r;
}
