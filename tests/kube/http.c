/* SPDX-License-Identifier: MIT */
/*
 * The double's HTTP(S) front: the real API's paths and verbs (get, list, watch,
 * create, update, patch, delete, status/token/binding subresources), discovery,
 * authentication (bearer token, client certificates), Status errors, and the
 * /debug endpoints tests read. One thread per connection (libmicrohttpd); a
 * watch is a chunked response whose reader blocks on the store's condition.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "double.h"

#define MAX_SEGS 10
#define WATCH_CHUNK_MAX (1u << 20)

struct kd_server {
        struct kd_store *st;
        struct kd_server_config cfg;
        struct MHD_Daemon *mhd;
        bool tls;
        char *unix_path;
};

struct req {
        struct ferry_buf body;
        bool too_big;
};

/* ---- responses ---- */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned code, json_t *j)
{
        char *s = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        if (!s)
                return MHD_NO;
        size_t len = strlen(s);
        char *body = ferry_xmalloc(len + 2);
        memcpy(body, s, len);
        body[len] = '\n';
        free(s);
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(len + 1, body, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(body);
                return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type", "application/json");
        MHD_add_response_header(resp, "Cache-Control", "no-cache, private");
        if (code == 401)
                MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"kubernetes\"");
        enum MHD_Result r = MHD_queue_response(c, code, resp);
        MHD_destroy_response(resp);
        return r;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned code, const char *text)
{
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
        enum MHD_Result r = MHD_queue_response(c, code, resp);
        MHD_destroy_response(resp);
        return r;
}

static enum MHD_Result send_err(struct MHD_Connection *c, const struct kd_err *e)
{
        return send_json(c, e->code, kd_status_json(e));
}

static enum MHD_Result fail(struct MHD_Connection *c, unsigned code, const char *reason,
                            const char *msg)
{
        struct kd_err e = {0};
        kd_fail(&e, code, reason, "%s", msg);
        return send_err(c, &e);
}

static json_t *status_success(enum kd_res r, json_t *obj, unsigned code)
{
        json_t *st = json_pack("{s:s, s:s, s:{}, s:s}", "kind", "Status", "apiVersion", "v1",
                               "metadata", "status", "Success");
        if (obj)
                json_object_set_new(st, "details",
                                    json_pack("{s:s, s:s, s:s, s:s}", "name",
                                              kd_meta_str(obj, "name"), "group",
                                              kd_resources[r].group, "kind", kd_resources[r].plural,
                                              "uid", kd_meta_str(obj, "uid")));
        if (code != 200)
                json_object_set_new(st, "code", json_integer(code));
        return st;
}

/* ---- discovery ---- */
static json_t *resource_list(const char *group, const char *version)
{
        char gv[96];
        if (group[0])
                snprintf(gv, sizeof(gv), "%s/%s", group, version);
        else
                snprintf(gv, sizeof(gv), "%s", version);
        json_t *items = json_array();
        for (int r = 0; r < KD_RES_MAX; r++) {
                const struct kd_resource *rs = &kd_resources[r];
                if (strcmp(rs->group, group) || strcmp(rs->version, version))
                        continue;
                json_t *it = json_pack("{s:s, s:s, s:b, s:s, s:[sssssss]}", "name", rs->plural,
                                       "singularName", rs->singular, "namespaced", rs->namespaced,
                                       "kind", rs->kind, "verbs", "create", "delete", "get", "list",
                                       "patch", "update", "watch");
                if (rs->short_names)
                        json_object_set_new(it, "shortNames", json_pack("[s]", rs->short_names));
                json_array_append_new(items, it);
                if (rs->subresources && strstr(rs->subresources, "status"))
                        json_array_append_new(items, json_pack("{s:s+, s:s, s:b, s:s, s:[sss]}",
                                                               "name", rs->plural, "/status",
                                                               "singularName", "", "namespaced",
                                                               rs->namespaced, "kind", rs->kind,
                                                               "verbs", "get", "patch", "update"));
                if (rs->subresources && strstr(rs->subresources, "binding"))
                        json_array_append_new(
                            items, json_pack("{s:s, s:s, s:b, s:s, s:[s]}", "name", "pods/binding",
                                             "singularName", "", "namespaced", 1, "kind", "Binding",
                                             "verbs", "create"));
                if (rs->subresources && strstr(rs->subresources, "token"))
                        json_array_append_new(
                            items,
                            json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:[s]}", "name",
                                      "serviceaccounts/token", "singularName", "", "namespaced", 1,
                                      "group", "authentication.k8s.io", "version", "v1", "kind",
                                      "TokenRequest", "verbs", "create"));
        }
        return json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion", "v1",
                         "groupVersion", gv, "resources", items);
}

static json_t *api_group(const char *g)
{
        char gv[96];
        snprintf(gv, sizeof(gv), "%s/v1", g);
        return json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}], s:{s:s, s:s}}", "kind", "APIGroup",
                         "apiVersion", "v1", "name", g, "versions", "groupVersion", gv, "version",
                         "v1", "preferredVersion", "groupVersion", gv, "version", "v1");
}

static const char *const groups[] = {"coordination.k8s.io", "events.k8s.io"};

static bool discovery(struct MHD_Connection *c, char **segs, int n, enum MHD_Result *ret)
{
        json_t *j = NULL;
        if (n == 1 && !strcmp(segs[0], "api"))
                j = json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions", "versions",
                              "v1", "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0",
                              "serverAddress", "127.0.0.1");
        else if (n == 2 && !strcmp(segs[0], "api") && !strcmp(segs[1], "v1"))
                j = resource_list("", "v1");
        else if (n == 1 && !strcmp(segs[0], "apis")) {
                json_t *gl = json_array();
                for (size_t i = 0; i < FERRY_ARRAY_SIZE(groups); i++) {
                        json_t *g = api_group(groups[i]);
                        json_object_del(g, "kind");
                        json_object_del(g, "apiVersion");
                        json_array_append_new(gl, g);
                }
                j = json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList", "apiVersion", "v1",
                              "groups", gl);
        } else if (!strcmp(segs[0], "apis") && (n == 2 || n == 3)) {
                for (size_t i = 0; i < FERRY_ARRAY_SIZE(groups); i++)
                        if (!strcmp(segs[1], groups[i]))
                                j = n == 2                   ? api_group(groups[i])
                                    : !strcmp(segs[2], "v1") ? resource_list(groups[i], "v1")
                                                             : NULL;
        }
        if (!j)
                return false;
        *ret = send_json(c, 200, j);
        return true;
}

/* ---- authentication ---- */
static bool client_cert_ok(struct kd_server *srv, struct MHD_Connection *c)
{
        if (!srv->tls || !srv->cfg.client_ca_pem)
                return false;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (!ci || !ci->tls_session)
                return false;
        gnutls_session_t sess = (gnutls_session_t)ci->tls_session;
        unsigned int n = 0, status = 1;
        if (!gnutls_certificate_get_peers(sess, &n) || n == 0)
                return false;
        return gnutls_certificate_verify_peers2(sess, &status) == 0 && status == 0;
}

static bool authenticated(struct kd_server *srv, struct MHD_Connection *c)
{
        bool need = srv->cfg.token || srv->cfg.client_ca_pem;
        if (!need)
                return true;
        if (client_cert_ok(srv, c))
                return true;
        const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        if (srv->cfg.token && h && !strncasecmp(h, "Bearer ", 7))
                return ferry_secret_equal(srv->cfg.token, h + 7);
        return false;
}

/* ---- query helpers ---- */
static const char *arg(struct MHD_Connection *c, const char *k)
{
        return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
}

static bool arg_true(struct MHD_Connection *c, const char *k)
{
        const char *v = arg(c, k);
        return v && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcmp(v, "t"));
}

static bool parse_u64(const char *s, uint64_t *ret)
{
        if (!s || !*s || strlen(s) > 19)
                return false;
        uint64_t v = 0;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return false;
                v = v * 10 + (uint64_t)(*p - '0');
        }
        *ret = v;
        return true;
}

/* ---- list ---- */
struct filter {
        enum kd_res res;
        const char *ns; /* NULL: all namespaces */
        struct kd_selector labels, fields;
};

static bool filter_matches(const struct filter *f, const json_t *obj)
{
        if (f->ns && kd_resources[f->res].namespaced &&
            strcmp(kd_meta_str(obj, "namespace"), f->ns))
                return false;
        return kd_label_selector_matches(&f->labels, obj) &&
               kd_field_selector_matches(&f->fields, obj);
}

static void filter_free(struct filter *f)
{
        kd_selector_free(&f->labels);
        kd_selector_free(&f->fields);
}

static int filter_init(struct filter *f, struct MHD_Connection *c, enum kd_res r, const char *ns,
                       struct kd_err *e)
{
        memset(f, 0, sizeof(*f));
        f->res = r;
        f->ns = ns;
        if (kd_label_selector_parse(arg(c, "labelSelector"), &f->labels, e) < 0)
                return -1;
        if (kd_field_selector_parse(r, arg(c, "fieldSelector"), &f->fields, e) < 0) {
                kd_selector_free(&f->labels);
                return -1;
        }
        return 0;
}

static int cmp_key(const json_t *o, const char *sns, const char *sname)
{
        int c = strcmp(kd_meta_str(o, "namespace"), sns);
        return c ? c : strcmp(kd_meta_str(o, "name"), sname);
}

static json_t *strip_type(json_t *o)
{
        json_t *c = json_copy(o);
        json_object_del(c, "kind");
        json_object_del(c, "apiVersion");
        return c;
}

static const char CONTINUE_TOO_OLD[] =
    "The provided continue parameter is too old to display a consistent list result. You can start "
    "a new list without the continue parameter, or use the continue token in this response to "
    "retrieve the remainder of the results. Continuing with the provided token results in an "
    "inconsistent list - objects that were created, modified, or deleted between the time the "
    "first chunk was returned and now may show up in the list.";

static enum MHD_Result do_list(struct kd_server *srv, struct MHD_Connection *c, enum kd_res r,
                               const char *ns)
{
        struct kd_store *st = srv->st;
        struct kd_err e = {0};
        struct filter f;
        if (filter_init(&f, c, r, ns, &e) < 0)
                return send_err(c, &e);
        uint64_t limit = 0, at_rv = 0, rv_arg = 0;
        const char *lim = arg(c, "limit"), *cont = arg(c, "continue"),
                   *rvs = arg(c, "resourceVersion");
        const char *match = arg(c, "resourceVersionMatch");
        if (lim && !parse_u64(lim, &limit)) {
                filter_free(&f);
                return fail(c, 400, "BadRequest", "limit must be a non-negative integer");
        }
        if (rvs && rvs[0] && !parse_u64(rvs, &rv_arg)) {
                filter_free(&f);
                return fail(c, 400, "BadRequest", "resourceVersion must be a decimal number");
        }
        char sns[KD_NAME_MAX] = "", sname[KD_NAME_MAX] = "";
        bool have_start = false;
        if (cont && cont[0]) {
                /* {"v":"meta.k8s.io/v1","rv":N,"start":"ns/name\u0000"}, base64, like the real token */
                size_t n = strlen(cont);
                unsigned char *dec = ferry_xcalloc(1, n + 1);
                size_t dl = 0;
                unsigned bits = 0, acc = 0;
                for (size_t i = 0; i < n && cont[i] != '='; i++) {
                        const char *tab =
                            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                        const char *p = strchr(tab, cont[i] == '-'   ? '+'
                                                    : cont[i] == '_' ? '/'
                                                                     : cont[i]);
                        if (!p || !cont[i])
                                break;
                        acc = (acc << 6) | (unsigned)(p - tab);
                        bits += 6;
                        if (bits >= 8) {
                                bits -= 8;
                                dec[dl++] = (unsigned char)(acc >> bits);
                                acc &= (1u << bits) - 1;
                        }
                }
                json_t *tok = json_loadb((char *)dec, dl, JSON_ALLOW_NUL, NULL);
                free(dec);
                const char *start = json_string_value(json_object_get(tok, "start"));
                json_t *trv = json_object_get(tok, "rv");
                const char *slash = start ? strchr(start, '/') : NULL;
                if (!slash || !json_is_integer(trv) || json_integer_value(trv) <= 0) {
                        json_decref(tok);
                        filter_free(&f);
                        return fail(
                            c, 400, "BadRequest",
                            "continue key is not valid: not a continue token of this server");
                }
                snprintf(sns, sizeof(sns), "%.*s", (int)(slash - start), start);
                snprintf(sname, sizeof(sname), "%s", slash + 1);
                at_rv = (uint64_t)json_integer_value(trv);
                have_start = true;
                json_decref(tok);
        } else if (rvs && rvs[0] && match && !strcmp(match, "Exact")) {
                at_rv = rv_arg;
        }
        pthread_mutex_lock(&st->mu);
        if (rv_arg > st->rv && !have_start) {
                uint64_t cur = st->rv;
                pthread_mutex_unlock(&st->mu);
                filter_free(&f);
                struct kd_err te = {0};
                kd_fail(&te, 504, "Timeout", "Too large resource version: %llu, current: %llu",
                        (unsigned long long)rv_arg, (unsigned long long)cur);
                return send_err(c, &te);
        }
        json_t *snap = kd_store_snapshot(st, r, at_rv);
        if (!snap) {
                pthread_mutex_unlock(&st->mu);
                filter_free(&f);
                if (have_start)
                        return fail(c, 410, "Expired", CONTINUE_TOO_OLD);
                char msg[128];
                snprintf(msg, sizeof(msg), "too old resource version: %llu (%llu)",
                         (unsigned long long)at_rv, (unsigned long long)st->compacted_rv + 1);
                return fail(c, 410, "Expired", msg);
        }
        uint64_t list_rv = at_rv ? at_rv : st->rv;
        pthread_mutex_unlock(&st->mu);
        /* resourceVersion=0 is served from the watch cache, which ignores limit (v1.28). */
        if (rvs && !strcmp(rvs, "0") && !(match && !strcmp(match, "Exact")))
                limit = 0;
        json_t *items = json_array();
        size_t i, remaining = 0;
        json_t *o, *last = NULL;
        json_array_foreach(snap, i, o)
        {
                if (have_start && cmp_key(o, sns, sname) <= 0)
                        continue;
                if (!filter_matches(&f, o))
                        continue;
                if (limit && json_array_size(items) >= limit) {
                        remaining++;
                        continue;
                }
                json_array_append_new(items, strip_type(o));
                last = o;
        }
        char av[96], rvb[32];
        snprintf(rvb, sizeof(rvb), "%llu", (unsigned long long)list_rv);
        json_t *meta = json_pack("{s:s}", "resourceVersion", rvb);
        if (remaining && last) {
                /* like the real token: the key to continue after, with a NUL appended */
                char *start = ferry_xasprintf("%s/%s", kd_meta_str(last, "namespace"),
                                              kd_meta_str(last, "name"));
                json_t *tok = json_pack("{s:s, s:I, s:s%}", "v", "meta.k8s.io/v1", "rv",
                                        (json_int_t)list_rv, "start", start, strlen(start) + 1);
                char *ts = json_dumps(tok, JSON_COMPACT);
                char *b64 = kd_base64(ts, strlen(ts), false);
                json_object_set_new(meta, "continue", json_string(b64));
                if (!f.labels.n && !f.fields.n)
                        json_object_set_new(meta, "remainingItemCount",
                                            json_integer((json_int_t)remaining));
                free(b64);
                free(ts);
                free(start);
                json_decref(tok);
        }
        json_decref(snap);
        filter_free(&f);
        return send_json(c, 200,
                         json_pack("{s:s, s:s, s:o, s:o}", "kind", kd_resources[r].list_kind,
                                   "apiVersion", kd_api_version(r, av, sizeof(av)), "metadata",
                                   meta, "items", items));
}

/* ---- watch ---- */
struct watch {
        struct kd_server *srv;
        struct filter f;
        char ns[KD_NAME_MAX]; /* f.ns points here: the request's path is gone once we stream */
        uint64_t cursor;      /* every event up to here has been considered */
        bool bookmarks;
        bool done;
        int fd;
        int64_t deadline_ns, next_bookmark_ns;
        struct ferry_buf out;
        size_t off;
};

static void emit(struct watch *w, const char *type, json_t *obj)
{
        json_t *ev = json_pack("{s:s, s:O}", "type", type, "object", obj);
        char *s = json_dumps(ev, JSON_COMPACT);
        json_decref(ev);
        ferry_buf_adds(&w->out, s);
        ferry_buf_addc(&w->out, '\n');
        free(s);
}

static void emit_bookmark(struct watch *w, uint64_t rv, bool initial_end)
{
        char av[96], rvb[32];
        snprintf(rvb, sizeof(rvb), "%llu", (unsigned long long)rv);
        json_t *o = json_pack("{s:s, s:s, s:{s:s, s:n}}", "kind", kd_resources[w->f.res].kind,
                              "apiVersion", kd_api_version(w->f.res, av, sizeof(av)), "metadata",
                              "resourceVersion", rvb, "creationTimestamp");
        if (initial_end)
                json_object_set_new(json_object_get(o, "metadata"), "annotations",
                                    json_pack("{s:s}", "k8s.io/initial-events-end", "true"));
        if (w->f.res == KD_PODS) { /* what Go's zero Pod marshals to */
                json_object_set_new(o, "spec", json_pack("{s:n}", "containers"));
                json_object_set_new(o, "status", json_object());
        }
        emit(w, "BOOKMARK", o);
        json_decref(o);
}

static void emit_expired(struct watch *w, uint64_t asked, uint64_t oldest)
{
        struct kd_err e = {0};
        kd_fail(&e, 410, "Expired", "too old resource version: %llu (%llu)",
                (unsigned long long)asked, (unsigned long long)oldest);
        json_t *st = kd_status_json(&e);
        emit(w, "ERROR", st);
        json_decref(st);
        w->done = true;
}

/* Caller holds the store lock. Appends the events after w->cursor that match. */
static void collect(struct watch *w)
{
        struct kd_store *st = w->srv->st;
        if (w->cursor < st->compacted_rv) { /* the history moved past a slow watcher */
                emit_expired(w, w->cursor, st->compacted_rv + 1);
                return;
        }
        while (w->cursor < st->rv && w->out.len < WATCH_CHUNK_MAX) {
                struct kd_event *ev = &st->history[(w->cursor + 1) % st->history_cap];
                w->cursor++;
                if (ev->rv != w->cursor || ev->res != w->f.res)
                        continue;
                bool now = filter_matches(&w->f, ev->obj);
                bool before = ev->prev && filter_matches(&w->f, ev->prev);
                switch (ev->type) {
                case KD_EV_ADDED:
                        if (now)
                                emit(w, "ADDED", ev->obj);
                        break;
                case KD_EV_MODIFIED:
                        /* an object entering or leaving the selection is ADDED/DELETED, as the watch cache does */
                        if (now && before)
                                emit(w, "MODIFIED", ev->obj);
                        else if (now)
                                emit(w, "ADDED", ev->obj);
                        else if (before)
                                emit(w, "DELETED", ev->obj);
                        break;
                case KD_EV_DELETED:
                        if (now)
                                emit(w, "DELETED", ev->obj);
                        break;
                }
        }
}

static bool peer_gone(int fd)
{
        if (fd < 0)
                return false;
        struct pollfd p = {.fd = fd, .events = POLLRDHUP};
        return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static void deadline_ts(int64_t ns, struct timespec *ts)
{
        ts->tv_sec = (time_t)(ns / 1000000000LL);
        ts->tv_nsec = (long)(ns % 1000000000LL);
}

static ssize_t watch_read(void *cls, uint64_t pos, char *buf, size_t max)
{
        struct watch *w = cls;
        struct kd_store *st = w->srv->st;
        if (w->off >= w->out.len) {
                ferry_buf_reset(&w->out);
                w->off = 0;
                if (w->done)
                        return MHD_CONTENT_READER_END_OF_STREAM;
                pthread_mutex_lock(&st->mu);
                /* bounded: each round waits at most a second, and the deadline ends the stream */
                while (w->out.len == 0 && !w->done) {
                        if (st->stopping) {
                                w->done = true;
                                break;
                        }
                        collect(w);
                        if (w->out.len)
                                break;
                        int64_t now = ferry_monotonic_ns();
                        if (now >= w->deadline_ns) {
                                w->done = true;
                                break;
                        }
                        if (w->bookmarks && now >= w->next_bookmark_ns) {
                                emit_bookmark(w, w->cursor, false);
                                w->next_bookmark_ns =
                                    now + (int64_t)w->srv->cfg.bookmark_interval_s * 1000000000LL;
                                break;
                        }
                        if (peer_gone(w->fd)) {
                                pthread_mutex_unlock(&st->mu);
                                return MHD_CONTENT_READER_END_WITH_ERROR;
                        }
                        int64_t until = now + 1000000000LL;
                        if (w->deadline_ns < until)
                                until = w->deadline_ns;
                        if (w->bookmarks && w->next_bookmark_ns < until)
                                until = w->next_bookmark_ns;
                        struct timespec ts;
                        deadline_ts(until, &ts);
                        pthread_cond_timedwait(&st->cv, &st->mu, &ts);
                }
                pthread_mutex_unlock(&st->mu);
                if (w->out.len == 0)
                        return MHD_CONTENT_READER_END_OF_STREAM;
        }
        size_t n = w->out.len - w->off;
        if (n > max)
                n = max;
        memcpy(buf, w->out.data + w->off, n);
        w->off += n;
        return (ssize_t)n;
}

static void watch_free(void *cls)
{
        struct watch *w = cls;
        filter_free(&w->f);
        ferry_buf_free(&w->out);
        free(w);
}

static enum MHD_Result do_watch(struct kd_server *srv, struct MHD_Connection *c, enum kd_res r,
                                const char *ns, const char *name)
{
        struct kd_store *st = srv->st;
        struct kd_err e = {0};
        struct watch *w = ferry_xcalloc(1, sizeof(*w));
        w->srv = srv;
        if (ns)
                snprintf(w->ns, sizeof(w->ns), "%s", ns);
        if (filter_init(&w->f, c, r, ns ? w->ns : NULL, &e) < 0) {
                free(w);
                return send_err(c, &e);
        }
        if (name) { /* the legacy /watch/.../NAME form */
                if (w->f.fields.n == KD_MAX_SELECTOR_REQS) {
                        watch_free(w);
                        return fail(c, 400, "BadRequest", "too many field selector requirements");
                }
                struct kd_sel_req *rq = &w->f.fields.reqs[w->f.fields.n++];
                rq->key = ferry_xstrdup("metadata.name");
                rq->op = KD_SEL_EQ;
                rq->values[0] = ferry_xstrdup(name);
                rq->n_values = 1;
        }
        const char *rvs = arg(c, "resourceVersion");
        uint64_t rv = 0;
        if (rvs && rvs[0] && !parse_u64(rvs, &rv)) {
                watch_free(w);
                return fail(c, 400, "BadRequest", "resourceVersion must be a decimal number");
        }
        uint64_t timeout = srv->cfg.watch_timeout_s, t;
        if (parse_u64(arg(c, "timeoutSeconds"), &t) && t < timeout)
                timeout = t;
        w->bookmarks = arg_true(c, "allowWatchBookmarks");
        bool initial = arg_true(c, "sendInitialEvents");
        int64_t now = ferry_monotonic_ns();
        w->deadline_ns = now + (int64_t)timeout * 1000000000LL;
        w->next_bookmark_ns = now + (int64_t)srv->cfg.bookmark_interval_s * 1000000000LL;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        w->fd = ci ? ci->connect_fd : -1;

        pthread_mutex_lock(&st->mu);
        if (initial || !rvs || !rvs[0] || !strcmp(rvs, "0")) {
                /* "start at most recent" (or sendInitialEvents): the current state as ADDED events */
                json_t *snap = kd_store_snapshot(st, r, 0);
                size_t i;
                json_t *o;
                json_array_foreach(snap, i, o) if (filter_matches(&w->f, o)) emit(w, "ADDED", o);
                json_decref(snap);
                w->cursor = st->rv;
                if (initial && w->bookmarks)
                        emit_bookmark(w, w->cursor, true);
        } else if (rv < st->compacted_rv) {
                emit_expired(w, rv, st->compacted_rv + 1);
        } else {
                w->cursor = rv;
        }
        pthread_mutex_unlock(&st->mu);

        struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024,
                                                                      watch_read, w, watch_free);
        if (!resp) {
                watch_free(w);
                return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type", "application/json");
        MHD_add_response_header(resp, "Cache-Control", "no-cache, private");
        enum MHD_Result ret = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* ---- single objects ---- */
static json_t *parse_body(struct req *rq, struct kd_err *e)
{
        json_error_t je;
        json_t *j = json_loadb(rq->body.data ? rq->body.data : "", rq->body.len,
                               JSON_REJECT_DUPLICATES, &je);
        if (!j)
                kd_fail(e, 400, "BadRequest",
                        "the body of the request is not valid JSON: %s (line %d)", je.text,
                        je.line);
        return j;
}

static const char *verb_name(const char *method, bool named, bool watch)
{
        if (!strcmp(method, "GET"))
                return watch ? "WATCH" : named ? "GET" : "LIST";
        if (!strcmp(method, "POST"))
                return "CREATE";
        if (!strcmp(method, "PUT"))
                return "UPDATE";
        if (!strcmp(method, "PATCH"))
                return "PATCH";
        if (!strcmp(method, "DELETE"))
                return "DELETE";
        return method;
}

static enum MHD_Result do_patch(struct kd_server *srv, struct MHD_Connection *c, struct req *rq,
                                enum kd_res r, const char *ns, const char *name, const char *sub)
{
        struct kd_err e = {0};
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        char type[64] = "";
        if (ct)
                snprintf(type, sizeof(type), "%.*s", (int)strcspn(ct, "; "), ct);
        enum { MERGE, STRATEGIC, JSONPATCH } kind;
        if (!strcmp(type, "application/merge-patch+json"))
                kind = MERGE;
        else if (!strcmp(type, "application/strategic-merge-patch+json"))
                kind = STRATEGIC;
        else if (!strcmp(type, "application/json-patch+json"))
                kind = JSONPATCH;
        else {
                kd_fail(&e, 415, "UnsupportedMediaType",
                        "the body of the request was in an unknown format - accepted media types "
                        "include: application/json-patch+json, application/merge-patch+json, "
                        "application/strategic-merge-patch+json (apply patches are not implemented "
                        "by the double)");
                return send_err(c, &e);
        }
        json_t *patch = parse_body(rq, &e);
        if (!patch)
                return send_err(c, &e);
        struct kd_store *st = srv->st;
        pthread_mutex_lock(&st->mu);
        json_t *old = kd_store_get(st, r, ns, name), *patched = NULL, *out = NULL;
        int res = -1;
        if (!old) {
                char q[96];
                kd_fail(&e, 404, "NotFound", "%s \"%s\" not found",
                        kd_res_qualified(r, q, sizeof(q)), name);
                snprintf(e.name, sizeof(e.name), "%s", name);
                e.kind = kd_resources[r].plural;
                e.group = kd_resources[r].group;
        } else {
                if (kind == MERGE)
                        patched = kd_merge_patch(old, patch);
                else if (kind == STRATEGIC)
                        patched = kd_strategic_merge_patch(old, patch, &e);
                else
                        patched = kd_json_patch(old, patch, &e);
                if (patched)
                        res = kd_update(st, r, ns, name, sub, patched, &out, &e);
        }
        pthread_mutex_unlock(&st->mu);
        json_decref(patch);
        json_decref(patched);
        if (res < 0)
                return send_err(c, &e);
        return send_json(c, 200, out);
}

static enum MHD_Result do_object(struct kd_server *srv, struct MHD_Connection *c, struct req *rq,
                                 const char *method, enum kd_res r, const char *ns,
                                 const char *name, const char *sub)
{
        struct kd_store *st = srv->st;
        struct kd_err e = {0};
        json_t *out = NULL, *body = NULL;
        int res = 0;
        unsigned code = 200;
        if (arg(c, "dryRun"))
                return fail(c, 400, "BadRequest",
                            "dryRun is not implemented by kube-apiserver-double");
        if (!strcmp(method, "GET")) {
                if (sub && strcmp(sub, "status"))
                        return fail(
                            c, 405, "MethodNotAllowed",
                            "the server does not allow this method on the requested resource");
                pthread_mutex_lock(&st->mu);
                json_t *o = kd_store_get(st, r, ns, name);
                out = json_incref(o);
                pthread_mutex_unlock(&st->mu);
                if (!out) {
                        char q[96];
                        kd_fail(&e, 404, "NotFound", "%s \"%s\" not found",
                                kd_res_qualified(r, q, sizeof(q)), name);
                        snprintf(e.name, sizeof(e.name), "%s", name);
                        e.kind = kd_resources[r].plural;
                        e.group = kd_resources[r].group;
                        return send_err(c, &e);
                }
                return send_json(c, 200, out);
        }
        if (!strcmp(method, "PATCH"))
                return do_patch(srv, c, rq, r, ns, name, sub);
        if (!strcmp(method, "DELETE")) {
                if (sub)
                        return fail(
                            c, 405, "MethodNotAllowed",
                            "the server does not allow this method on the requested resource");
                if (rq->body.len) {
                        body = parse_body(rq, &e);
                        if (!body)
                                return send_err(c, &e);
                } else {
                        body = json_object();
                }
                uint64_t g;
                const char *gs = arg(c, "gracePeriodSeconds");
                if (gs && parse_u64(gs, &g))
                        json_object_set_new(body, "gracePeriodSeconds",
                                            json_integer((json_int_t)g));
                pthread_mutex_lock(&st->mu);
                res = kd_delete(st, r, ns, name, body, &out, &e);
                pthread_mutex_unlock(&st->mu);
                json_decref(body);
                if (res < 0)
                        return send_err(c, &e);
                if (!out) {
                        json_t *stub = json_pack("{s:{s:s}}", "metadata", "name", name);
                        out = status_success(r, stub, 200);
                        json_decref(stub);
                }
                return send_json(c, 200, out);
        }
        body = parse_body(rq, &e);
        if (!body)
                return send_err(c, &e);
        pthread_mutex_lock(&st->mu);
        if (!strcmp(method, "PUT")) {
                if (sub && strcmp(sub, "status"))
                        res = kd_fail(
                            &e, 405, "MethodNotAllowed",
                            "the server does not allow this method on the requested resource");
                else
                        res = kd_update(st, r, ns, name, sub, body, &out, &e);
        } else if (!strcmp(method, "POST") && sub && !strcmp(sub, "token") &&
                   r == KD_SERVICEACCOUNTS) {
                res = kd_token_request(st, ns, name, body, &out, &e);
                code = 201;
        } else if (!strcmp(method, "POST") && sub && !strcmp(sub, "binding") && r == KD_PODS) {
                res = kd_bind(st, ns, name, body, &e);
                out = json_pack("{s:s, s:s, s:{}, s:s, s:i}", "kind", "Status", "apiVersion", "v1",
                                "metadata", "status", "Success", "code", 201);
                code = 201;
        } else {
                res = kd_fail(&e, 405, "MethodNotAllowed",
                              "the server does not allow this method on the requested resource");
        }
        pthread_mutex_unlock(&st->mu);
        json_decref(body);
        if (res < 0) {
                json_decref(out);
                return send_err(c, &e);
        }
        return send_json(c, code, out);
}

static enum MHD_Result do_create(struct kd_server *srv, struct MHD_Connection *c, struct req *rq,
                                 enum kd_res r, const char *ns)
{
        struct kd_err e = {0};
        if (arg(c, "dryRun"))
                return fail(c, 400, "BadRequest",
                            "dryRun is not implemented by kube-apiserver-double");
        json_t *body = parse_body(rq, &e), *out = NULL;
        if (!body)
                return send_err(c, &e);
        pthread_mutex_lock(&srv->st->mu);
        int res = kd_create(srv->st, r, ns, body, false, &out, &e);
        pthread_mutex_unlock(&srv->st->mu);
        json_decref(body);
        if (res < 0)
                return send_err(c, &e);
        return send_json(c, 201, out);
}

/* ---- routing ---- */
static int split(char *path, char **segs)
{
        int n = 0;
        char *save = NULL;
        for (char *t = strtok_r(path, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
                if (n == MAX_SEGS)
                        return -1;
                segs[n++] = t;
        }
        return n;
}

static enum MHD_Result debug_endpoint(struct kd_server *srv, struct MHD_Connection *c,
                                      const char *what, const char *method)
{
        struct kd_store *st = srv->st;
        json_t *out = NULL;
        pthread_mutex_lock(&st->mu);
        if (!strcmp(what, "requests")) {
                if (!strcmp(method, "DELETE"))
                        json_object_clear(st->counts);
                out = json_deep_copy(st->counts);
        } else if (!strcmp(what, "state")) {
                out = kd_store_dump(st);
        } else if (!strcmp(what, "tokens")) {
                out = json_deep_copy(st->tokens);
        }
        pthread_mutex_unlock(&st->mu);
        if (!out)
                return fail(c, 404, "NotFound", "the server could not find the requested resource");
        return send_json(c, 200, out);
}

/* ---- authentication.k8s.io TokenReview, authorization.k8s.io SubjectAccessReview ---- */
static json_t *review_answer(json_t *body, const char *api, const char *kind, json_t *status)
{
        json_t *spec = json_object_get(body, "spec");
        return json_pack("{s:s, s:s, s:{}, s:O, s:o}", "apiVersion", api, "kind", kind, "metadata",
                         "spec", spec ? spec : json_object(), "status", status);
}

static enum MHD_Result token_review(struct kd_server *srv, struct MHD_Connection *c, struct req *rq)
{
        struct kd_err e = {0};
        json_t *body = parse_body(rq, &e);
        if (!body)
                return send_err(c, &e);
        const char *tok =
            json_string_value(json_object_get(json_object_get(body, "spec"), "token"));
        json_t *user = NULL;
        if (tok && srv->cfg.token && ferry_secret_equal(srv->cfg.token, tok))
                user = json_pack("{s:s, s:[s,s]}", "username", "admin", "groups", "system:masters",
                                 "system:authenticated");
        for (size_t i = 0; tok && !user && i < srv->cfg.n_identities; i++) {
                const char *id = srv->cfg.identities[i], *eq = strchr(id, '=');
                if (!eq || strlen(tok) != (size_t)(eq - id) || strncmp(id, tok, (size_t)(eq - id)))
                        continue;
                _cleanup_free_ char *who = ferry_xstrdup(eq + 1);
                char *colon = strchr(who, ':'), *save = NULL;
                if (colon)
                        *colon++ = '\0';
                json_t *grps = json_array();
                for (char *g = colon ? strtok_r(colon, ",", &save) : NULL; g;
                     g = strtok_r(NULL, ",", &save))
                        json_array_append_new(grps, json_string(g));
                json_array_append_new(grps, json_string("system:authenticated"));
                user = json_pack("{s:s, s:o}", "username", who, "groups", grps);
        }
        json_t *status =
            user ? json_pack("{s:b, s:o}", "authenticated", 1, "user", user)
                 : json_pack("{s:b, s:s}", "authenticated", 0, "error", "invalid bearer token");
        json_t *out = review_answer(body, "authentication.k8s.io/v1", "TokenReview", status);
        json_decref(body);
        return send_json(c, 201, out);
}

/* rule "user=NAME:VERB:RES" or "group=NAME:VERB:RES", split from the right
 * (group names have colons: system:masters) */
static bool rule_matches(const char *rule, const char *user, json_t *grps, const char *verb,
                         const char *res)
{
        _cleanup_free_ char *r = ferry_xstrdup(rule);
        char *what = strrchr(r, ':');
        if (!what)
                return false;
        *what++ = '\0';
        char *v = strrchr(r, ':');
        if (!v)
                return false;
        *v++ = '\0';
        const char *subj = r;
        bool who = false;
        if (ferry_str_startswith(subj, "user="))
                who = !strcmp(subj + 5, user);
        else if (ferry_str_startswith(subj, "group="))
                for (size_t i = 0; i < json_array_size(grps) && !who; i++)
                        who = json_is_string(json_array_get(grps, i)) &&
                              !strcmp(subj + 6, json_string_value(json_array_get(grps, i)));
        return who && (!strcmp(v, "*") || !strcmp(v, verb)) &&
               (!strcmp(what, "*") || !strcmp(what, res));
}

static enum MHD_Result access_review(struct kd_server *srv, struct MHD_Connection *c,
                                     struct req *rq)
{
        struct kd_err e = {0};
        json_t *body = parse_body(rq, &e);
        if (!body)
                return send_err(c, &e);
        json_t *spec = json_object_get(body, "spec");
        json_t *ra = json_object_get(spec, "resourceAttributes");
        const char *user = json_string_value(json_object_get(spec, "user"));
        json_t *grps = json_object_get(spec, "groups");
        const char *verb = json_string_value(json_object_get(ra, "verb"));
        const char *res = json_string_value(json_object_get(ra, "resource"));
        const char *sub = json_string_value(json_object_get(ra, "subresource"));
        if (!user || !verb || !res) {
                json_decref(body);
                return fail(c, 400, "BadRequest",
                            "spec.user and spec.resourceAttributes.verb/resource are required");
        }
        char what[256];
        snprintf(what, sizeof(what), "%s%s%s", res, sub && *sub ? "/" : "", sub ? sub : "");
        bool allowed = rule_matches("group=system:masters:*:*", user, grps, verb, what);
        for (size_t i = 0; !allowed && i < srv->cfg.n_allow; i++)
                allowed = rule_matches(srv->cfg.allow[i], user, grps, verb, what);
        json_t *status =
            allowed
                ? json_pack("{s:b, s:s}", "allowed", 1, "reason", "allowed by the double's rules")
                : json_pack("{s:b, s:s}", "allowed", 0, "reason", "no rule allows it");
        json_t *out = review_answer(body, "authorization.k8s.io/v1", "SubjectAccessReview", status);
        json_decref(body);
        return send_json(c, 201, out);
}

static enum MHD_Result route(struct kd_server *srv, struct MHD_Connection *c, struct req *rq,
                             const char *url, const char *method)
{
        if (!strcmp(url, "/healthz") || !strcmp(url, "/livez") || !strcmp(url, "/readyz"))
                return send_text(c, 200, "ok");
        if (!strcmp(url, "/version"))
                return send_json(
                    c, 200,
                    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", "1",
                              "minor", "28", "gitVersion", "v1.28.0+ferry-kube-double", "gitCommit",
                              "0000000000000000000000000000000000000000", "gitTreeState", "clean",
                              "buildDate", "2023-08-15T00:00:00Z", "goVersion", "go1.20.7",
                              "compiler", "gc", "platform", "linux/amd64"));
        if (ferry_str_startswith(url, "/debug/"))
                return debug_endpoint(srv, c, url + 7, method);
        if (!authenticated(srv, c))
                return fail(c, 401, "Unauthorized", "Unauthorized");
        if (!strcmp(method, "POST") &&
            (!strcmp(url, "/apis/authentication.k8s.io/v1/tokenreviews") ||
             !strcmp(url, "/apis/authorization.k8s.io/v1/subjectaccessreviews"))) {
                bool tr = strstr(url, "tokenreviews") != NULL;
                pthread_mutex_lock(&srv->st->mu);
                kd_store_count(srv->st, "create", tr ? "tokenreviews" : "subjectaccessreviews");
                pthread_mutex_unlock(&srv->st->mu);
                return tr ? token_review(srv, c, rq) : access_review(srv, c, rq);
        }

        char path[1024];
        if (strlen(url) >= sizeof(path))
                return fail(c, 414, "RequestURITooLong", "the request URI is too long");
        snprintf(path, sizeof(path), "%s", url);
        char *segs[MAX_SEGS];
        int n = split(path, segs);
        if (n <= 0)
                return fail(c, 404, "NotFound", "the server could not find the requested resource");
        enum MHD_Result ret;
        if (!strcmp(method, "GET") && discovery(c, segs, n, &ret))
                return ret;
        const char *group, *version;
        int i;
        if (!strcmp(segs[0], "api") && n >= 3) {
                group = "";
                version = segs[1];
                i = 2;
        } else if (!strcmp(segs[0], "apis") && n >= 4) {
                group = segs[1];
                version = segs[2];
                i = 3;
        } else {
                return fail(c, 404, "NotFound", "the server could not find the requested resource");
        }
        bool watch_path = false;
        if (!strcmp(segs[i], "watch")) {
                watch_path = true;
                i++;
        }
        const char *ns = NULL, *name = NULL, *sub = NULL;
        int r = -1;
        if (i + 2 < n && !strcmp(segs[i], "namespaces") &&
            (r = kd_res_find(group, version, segs[i + 2])) >= 0 && kd_resources[r].namespaced) {
                ns = segs[i + 1];
                i += 3;
        } else if (i < n) {
                r = kd_res_find(group, version, segs[i]);
                i++;
        }
        if (r < 0 || n - i > 2)
                return fail(c, 404, "NotFound", "the server could not find the requested resource");
        if (i < n)
                name = segs[i++];
        if (i < n)
                sub = segs[i++];
        bool watch = watch_path || (!strcmp(method, "GET") && arg_true(c, "watch"));
        if (kd_resources[r].namespaced && !ns && (name || strcmp(method, "GET")))
                return fail(c, 404, "NotFound", "the server could not find the requested resource");
        if (sub && !(kd_resources[r].subresources && strstr(kd_resources[r].subresources, sub)))
                return fail(c, 404, "NotFound", "the server could not find the requested resource");

        char what[128], q[96];
        snprintf(what, sizeof(what), "%s%s%s", kd_res_qualified((enum kd_res)r, q, sizeof(q)),
                 sub ? "/" : "", sub ? sub : "");
        pthread_mutex_lock(&srv->st->mu);
        kd_store_count(srv->st, verb_name(method, name != NULL, watch), what);
        pthread_mutex_unlock(&srv->st->mu);

        if (watch) {
                if (strcmp(method, "GET") || sub)
                        return fail(
                            c, 405, "MethodNotAllowed",
                            "the server does not allow this method on the requested resource");
                return do_watch(srv, c, (enum kd_res)r, ns, name);
        }
        if (!name) {
                if (!strcmp(method, "GET"))
                        return do_list(srv, c, (enum kd_res)r, ns);
                if (!strcmp(method, "POST"))
                        return do_create(srv, c, rq, (enum kd_res)r, ns);
                return fail(c, 405, "MethodNotAllowed",
                            "the server does not allow this method on the requested resource");
        }
        return do_object(srv, c, rq, method, (enum kd_res)r, ns, name, sub);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
        struct kd_server *srv = cls;
        struct req *rq = *con_cls;
        if (!rq) {
                rq = ferry_xcalloc(1, sizeof(*rq));
                *con_cls = rq;
                return MHD_YES;
        }
        if (*upload_size > 0) {
                if (!rq->too_big && rq->body.len + *upload_size <= KD_MAX_BODY)
                        ferry_buf_add(&rq->body, upload, *upload_size);
                else
                        rq->too_big = true;
                *upload_size = 0;
                return MHD_YES;
        }
        if (rq->too_big)
                return fail(c, 413, "RequestEntityTooLarge",
                            "the request body is larger than 3 MiB");
        (void)version;
        return route(srv, c, rq, url, method);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
        struct req *rq = *con_cls;
        if (rq) {
                ferry_buf_free(&rq->body);
                free(rq);
                *con_cls = NULL;
        }
}

/* ---- listening ---- */
static int open_listener(const char *spec, char **ret_unix, char *url, size_t url_n, bool tls,
                         ferry_error_t *err)
{
        if (ferry_str_startswith(spec, "unix:")) {
                const char *path = spec + 5;
                struct sockaddr_un sa = {.sun_family = AF_UNIX};
                if (strlen(path) >= sizeof(sa.sun_path) || !path[0])
                        return ferry_errprintf(err, -ENAMETOOLONG,
                                               "unix socket path \"%s\" is empty or too long",
                                               path);
                strcpy(sa.sun_path, path);
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        return ferry_errprintf(err, -errno, "socket: %s", strerror(errno));
                unlink(path);
                if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 512) < 0) {
                        int r = -errno;
                        close(fd);
                        return ferry_errprintf(err, r, "cannot listen on %s: %s", path,
                                               strerror(-r));
                }
                *ret_unix = ferry_xstrdup(path);
                snprintf(url, url_n, "unix:%s", path);
                return fd;
        }
        const char *colon = strrchr(spec, ':');
        if (!colon)
                return ferry_errprintf(
                    err, -EINVAL, "--listen takes 127.0.0.1:PORT or unix:PATH, not \"%s\"", spec);
        char host[64];
        snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
        if (strcmp(host, "127.0.0.1") && strcmp(host, "localhost"))
                return ferry_errprintf(
                    err, -EINVAL,
                    "the double listens only on 127.0.0.1 (or a unix socket), not \"%s\"", host);
        uint64_t port;
        if (!parse_u64(colon + 1, &port) || port > 65535)
                return ferry_errprintf(err, -EINVAL, "bad port in \"%s\"", spec);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd >= 0)
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 512) < 0) {
                int r = -errno;
                if (fd >= 0)
                        close(fd);
                return ferry_errprintf(err, r, "cannot listen on %s: %s", spec, strerror(-r));
        }
        socklen_t sl = sizeof(sa);
        getsockname(fd, (struct sockaddr *)&sa, &sl);
        snprintf(url, url_n, "%s://127.0.0.1:%u", tls ? "https" : "http",
                 (unsigned)ntohs(sa.sin_port));
        return fd;
}

int kd_server_start(struct kd_store *st, const struct kd_server_config *cfg, struct kd_server **ret,
                    char *ret_url, size_t url_n, ferry_error_t *err)
{
        struct kd_server *srv = ferry_xcalloc(1, sizeof(*srv));
        srv->st = st;
        srv->cfg = *cfg;
        if (!srv->cfg.bookmark_interval_s)
                srv->cfg.bookmark_interval_s = 1;
        srv->tls = cfg->cert_pem && cfg->key_pem;
        int fd = open_listener(cfg->listen, &srv->unix_path, ret_url, url_n, srv->tls, err);
        if (fd < 0) {
                free(srv);
                return fd;
        }
        unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                         MHD_USE_POLL | MHD_USE_ERROR_LOG;
        if (srv->tls)
                flags |= MHD_USE_TLS;
        struct MHD_OptionItem opts[] = {
            {MHD_OPTION_LISTEN_SOCKET, fd, NULL},
            {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, NULL},
            {MHD_OPTION_CONNECTION_LIMIT, 1024, NULL},
            {MHD_OPTION_CONNECTION_TIMEOUT, 600, NULL},
            {srv->tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, (void *)cfg->key_pem},
            {srv->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)cfg->cert_pem},
            {srv->tls && cfg->client_ca_pem ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0,
             (void *)cfg->client_ca_pem},
            {MHD_OPTION_END, 0, NULL},
        };
        /* MHD_OPTION_END in the middle ends the list early: move the TLS items up front. */
        struct MHD_OptionItem list[FERRY_ARRAY_SIZE(opts)];
        size_t k = 0;
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(opts); i++)
                if (opts[i].option != MHD_OPTION_END)
                        list[k++] = opts[i];
        list[k] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
        srv->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, srv, MHD_OPTION_ARRAY, list,
                                    MHD_OPTION_END);
        if (!srv->mhd) {
                int r = ferry_errprintf(
                    err, -EIO, "cannot start the HTTP%s server on %s (bad certificate or key?)",
                    srv->tls ? "S" : "", cfg->listen);
                close(fd);
                if (srv->unix_path)
                        unlink(srv->unix_path);
                free(srv->unix_path);
                free(srv);
                return r;
        }
        *ret = srv;
        return 0;
}

void kd_server_stop(struct kd_server *srv)
{
        if (!srv)
                return;
        pthread_mutex_lock(&srv->st->mu);
        srv->st->stopping = true;
        pthread_cond_broadcast(&srv->st->cv);
        pthread_mutex_unlock(&srv->st->mu);
        MHD_stop_daemon(srv->mhd);
        if (srv->unix_path)
                unlink(srv->unix_path);
        free(srv->unix_path);
        free(srv);
}
