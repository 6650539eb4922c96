/* SPDX-License-Identifier: MIT */
/* Probes and lifecycle hooks: see probe.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pod/probe.h"

const char *const ferry_probe_names[FERRY_PROBE_N] = {"startup", "liveness", "readiness"};
static const char *const k8s_names[FERRY_PROBE_N] = {"startupProbe", "livenessProbe",
                                                     "readinessProbe"};

#define MAX_ARGV 256
#define MAX_HEADERS 32

static int strv_from(json_t *a, const char *where, const char *what, char ***ret, size_t *ret_n,
                     ferry_error_t *err)
{
        size_t n = json_array_size(a);
        if (!json_is_array(a) || n == 0)
                return ferry_errprintf(err, -EINVAL, "%s: %s must be a non-empty array", where,
                                       what);
        if (n > MAX_ARGV)
                return ferry_errprintf(err, -E2BIG, "%s: %s has more than %d items", where, what,
                                       MAX_ARGV);
        char **v = ferry_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
                const char *s = json_string_value(json_array_get(a, i));
                if (!s) {
                        for (size_t k = 0; k < i; k++)
                                free(v[k]);
                        free(v);
                        return ferry_errprintf(err, -EINVAL, "%s: %s[%zu] must be a string", where,
                                               what, i);
                }
                v[i] = ferry_xstrdup(s);
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

/* IntOrString port: a number 1..65535, or the name of one of the container's ports. */
static int port_of(json_t *port, json_t *ports, const char *where, int *ret, ferry_error_t *err)
{
        if (json_is_integer(port)) {
                json_int_t v = json_integer_value(port);
                if (v < 1 || v > 65535)
                        return ferry_errprintf(err, -EINVAL, "%s: port %lld is out of range", where,
                                               (long long)v);
                *ret = (int)v;
                return 0;
        }
        const char *name = json_string_value(port);
        if (!name)
                return ferry_errprintf(err, -EINVAL, "%s: port must be a number or a port name",
                                       where);
        size_t i;
        json_t *p;
        json_array_foreach(ports, i, p)
        {
                const char *pn = json_string_value(json_object_get(p, "name"));
                json_t *cp = json_object_get(p, "containerPort");
                if (pn && !strcmp(pn, name) && json_is_integer(cp) && json_integer_value(cp) >= 1 &&
                    json_integer_value(cp) <= 65535) {
                        *ret = (int)json_integer_value(cp);
                        return 0;
                }
        }
        return ferry_errprintf(
            err, -EINVAL, "%s: port \"%.63s\" names none of the container's ports", where, name);
}

static int parse_handler(json_t *o, json_t *ports, const char *where, bool lifecycle,
                         struct ferry_handler *h, ferry_error_t *err)
{
        json_t *x;
        int r;
        memset(h, 0, sizeof(*h));
        if (!json_is_object(o))
                return ferry_errprintf(err, -EINVAL, "%s must be an object", where);
        int forms = !!json_object_get(o, "exec") + !!json_object_get(o, "httpGet") +
                    !!json_object_get(o, "tcpSocket") + !!json_object_get(o, "grpc") +
                    !!json_object_get(o, "sleep");
        if (forms != 1)
                return ferry_errprintf(err, -EINVAL,
                                       "%s must have exactly one of exec, httpGet, tcpSocket%s",
                                       where, lifecycle ? ", sleep" : "");
        if ((x = json_object_get(o, "exec"))) {
                h->kind = FERRY_H_EXEC;
                return strv_from(json_object_get(x, "command"), where, "exec.command", &h->argv,
                                 &h->n_argv, err);
        }
        if (json_object_get(o, "grpc"))
                return ferry_errprintf(err, -EINVAL,
                                       "%s: grpc probes are not supported by this site (use exec, "
                                       "httpGet or tcpSocket)",
                                       where);
        if ((x = json_object_get(o, "sleep"))) {
                json_t *s = json_object_get(x, "seconds");
                if (!lifecycle || !json_is_integer(s) || json_integer_value(s) < 0)
                        return ferry_errprintf(
                            err, -EINVAL, "%s: sleep needs seconds >= 0 (lifecycle hooks only)",
                            where);
                h->kind = FERRY_H_SLEEP;
                h->seconds = json_integer_value(s);
                return 0;
        }
        bool http = (x = json_object_get(o, "httpGet")) != NULL;
        if (!http)
                x = json_object_get(o, "tcpSocket");
        if (!json_is_object(x))
                return ferry_errprintf(err, -EINVAL, "%s: %s must be an object", where,
                                       http ? "httpGet" : "tcpSocket");
        h->kind = http ? FERRY_H_HTTP : FERRY_H_TCP;
        if ((r = port_of(json_object_get(x, "port"), ports, where, &h->port, err)) < 0)
                return r;
        const char *host = json_string_value(json_object_get(x, "host"));
        if (host && *host) {
                if (strlen(host) > 253 || strpbrk(host, " /\r\n\t"))
                        return ferry_errprintf(
                            err, -EINVAL, "%s: host \"%.64s\" is not a host name", where, host);
                h->host = ferry_xstrdup(host);
        }
        if (!http)
                return 0;
        const char *path = json_string_value(json_object_get(x, "path"));
        if (path && (path[0] != '/' || strpbrk(path, " \r\n\t") || strlen(path) > 2048))
                return ferry_errprintf(err, -EINVAL,
                                       "%s: path must start with / and have no spaces", where);
        h->path = ferry_xstrdup(path ? path : "/");
        const char *scheme = json_string_value(json_object_get(x, "scheme"));
        if (scheme && strcmp(scheme, "HTTP") && strcmp(scheme, "HTTPS"))
                return ferry_errprintf(err, -EINVAL, "%s: scheme must be HTTP or HTTPS", where);
        h->https = scheme && !strcmp(scheme, "HTTPS");
        json_t *hs = json_object_get(x, "httpHeaders");
        if (hs && !json_is_null(hs)) {
                if (!json_is_array(hs) || json_array_size(hs) > MAX_HEADERS)
                        return ferry_errprintf(err, -EINVAL,
                                               "%s: httpHeaders must be an array of at most %d",
                                               where, MAX_HEADERS);
                h->headers = ferry_xcalloc(2 * json_array_size(hs) + 1, sizeof(char *));
                size_t i;
                json_t *e;
                json_array_foreach(hs, i, e)
                {
                        const char *n = json_string_value(json_object_get(e, "name"));
                        const char *v = json_string_value(json_object_get(e, "value"));
                        if (!n || !*n || !v || strpbrk(n, ": \r\n") || strpbrk(v, "\r\n"))
                                return ferry_errprintf(err, -EINVAL,
                                                       "%s: httpHeaders[%zu] needs a name and a "
                                                       "value without line breaks",
                                                       where, i);
                        h->headers[h->n_headers++] = ferry_xstrdup(n);
                        h->headers[h->n_headers++] = ferry_xstrdup(v);
                }
        }
        return 0;
}

static int get_seconds(json_t *o, const char *key, int64_t def, int64_t min, const char *where,
                       int64_t *ret, ferry_error_t *err)
{
        json_t *v = json_object_get(o, key);
        if (!v || json_is_null(v) ||
            (json_is_integer(v) && json_integer_value(v) == 0 && min > 0)) {
                *ret = def; /* the API server's defaulting: 0 means the default */
                return 0;
        }
        if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > 86400)
                return ferry_errprintf(err, -EINVAL, "%s: %s must be an integer from %lld to 86400",
                                       where, key, (long long)min);
        *ret = json_integer_value(v);
        return 0;
}

int ferry_probes_parse(json_t *ct, const char *where, struct ferry_probes *ret, ferry_error_t *err)
{
        char w[256];
        int r = 0;
        memset(ret, 0, sizeof(*ret));
        json_t *ports = json_object_get(ct, "ports");
        for (int k = 0; k < FERRY_PROBE_N && r == 0; k++) {
                json_t *o = json_object_get(ct, k8s_names[k]);
                if (!o || json_is_null(o))
                        continue;
                struct ferry_probe *p = &ret->p[k];
                snprintf(w, sizeof(w), "%s: %s", where, k8s_names[k]);
                if ((r = parse_handler(o, ports, w, false, &p->h, err)) < 0 ||
                    (r = get_seconds(o, "initialDelaySeconds", 0, 0, w, &p->initial_delay_s, err)) <
                        0 ||
                    (r = get_seconds(o, "periodSeconds", 10, 1, w, &p->period_s, err)) < 0 ||
                    (r = get_seconds(o, "timeoutSeconds", 1, 1, w, &p->timeout_s, err)) < 0 ||
                    (r = get_seconds(o, "failureThreshold", 3, 1, w, &p->failure_threshold, err)) <
                        0 ||
                    (r = get_seconds(o, "successThreshold", 1, 1, w, &p->success_threshold, err)) <
                        0)
                        break;
                if (k != FERRY_PROBE_READINESS && p->success_threshold != 1)
                        r = ferry_errprintf(err, -EINVAL, "%s: successThreshold must be 1", w);
        }
        json_t *lc = json_object_get(ct, "lifecycle");
        if (r == 0 && lc && !json_is_null(lc)) {
                json_t *o;
                if (!json_is_object(lc))
                        r = ferry_errprintf(err, -EINVAL, "%s: lifecycle must be an object", where);
                if (r == 0 && (o = json_object_get(lc, "postStart")) && !json_is_null(o)) {
                        snprintf(w, sizeof(w), "%s: lifecycle.postStart", where);
                        r = parse_handler(o, ports, w, true, &ret->post_start, err);
                }
                if (r == 0 && (o = json_object_get(lc, "preStop")) && !json_is_null(o)) {
                        snprintf(w, sizeof(w), "%s: lifecycle.preStop", where);
                        r = parse_handler(o, ports, w, true, &ret->pre_stop, err);
                }
        }
        if (r < 0)
                ferry_probes_clear(ret);
        return r;
}

bool ferry_probes_any(const struct ferry_probes *p)
{
        for (int k = 0; k < FERRY_PROBE_N; k++)
                if (p->p[k].h.kind != FERRY_H_NONE)
                        return true;
        return p->post_start.kind != FERRY_H_NONE || p->pre_stop.kind != FERRY_H_NONE;
}

static char **strv_dup(char *const *v, size_t n)
{
        if (!v)
                return NULL;
        char **d = ferry_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                d[i] = ferry_xstrdup(v[i]);
        return d;
}

static void handler_copy(struct ferry_handler *d, const struct ferry_handler *s)
{
        *d = *s;
        d->argv = strv_dup(s->argv, s->n_argv);
        d->headers = strv_dup(s->headers, s->n_headers);
        d->host = s->host ? ferry_xstrdup(s->host) : NULL;
        d->path = s->path ? ferry_xstrdup(s->path) : NULL;
}

void ferry_probes_copy(struct ferry_probes *dst, const struct ferry_probes *src)
{
        *dst = *src;
        for (int k = 0; k < FERRY_PROBE_N; k++)
                handler_copy(&dst->p[k].h, &src->p[k].h);
        handler_copy(&dst->post_start, &src->post_start);
        handler_copy(&dst->pre_stop, &src->pre_stop);
}

static void handler_clear(struct ferry_handler *h)
{
        for (size_t i = 0; i < h->n_argv; i++)
                free(h->argv[i]);
        for (size_t i = 0; i < h->n_headers; i++)
                free(h->headers[i]);
        free(h->argv);
        free(h->headers);
        free(h->host);
        free(h->path);
        memset(h, 0, sizeof(*h));
}

void ferry_probes_clear(struct ferry_probes *p)
{
        for (int k = 0; k < FERRY_PROBE_N; k++)
                handler_clear(&p->p[k].h);
        handler_clear(&p->post_start);
        handler_clear(&p->pre_stop);
}

static void handler_json(struct ferry_buf *b, const struct ferry_handler *h)
{
        static const char *const kinds[] = {"none", "exec", "http", "tcp", "sleep"};
        ferry_buf_printf(b, "{\"kind\": \"%s\"", kinds[h->kind]);
        if (h->kind == FERRY_H_EXEC) {
                ferry_buf_adds(b, ", \"argv\": ");
                ferry_buf_add_json_strv(b, h->argv, h->n_argv);
        } else if (h->kind == FERRY_H_SLEEP) {
                ferry_buf_printf(b, ", \"seconds\": %lld", (long long)h->seconds);
        } else {
                ferry_buf_adds(b, ", \"host\": ");
                if (h->host)
                        ferry_buf_add_json_str(b, h->host);
                else
                        ferry_buf_adds(b, "null");
                ferry_buf_printf(b, ", \"port\": %d", h->port);
                if (h->kind == FERRY_H_HTTP) {
                        ferry_buf_adds(b, ", \"path\": ");
                        ferry_buf_add_json_str(b, h->path);
                        ferry_buf_printf(
                            b, ", \"https\": %s, \"headers\": ", h->https ? "true" : "false");
                        ferry_buf_add_json_strv(b, h->headers, h->n_headers);
                }
        }
}

void ferry_probes_to_json(struct ferry_buf *b, const struct ferry_probes *p)
{
        bool first = true;
        ferry_buf_addc(b, '{');
        for (int k = 0; k < FERRY_PROBE_N; k++) {
                const struct ferry_probe *q = &p->p[k];
                if (q->h.kind == FERRY_H_NONE)
                        continue;
                ferry_buf_printf(b, "%s\"%s\": ", first ? "" : ", ", ferry_probe_names[k]);
                first = false;
                handler_json(b, &q->h);
                ferry_buf_printf(b,
                                 ", \"initial_delay_s\": %lld, \"period_s\": %lld, \"timeout_s\": "
                                 "%lld, \"failure_threshold\": %lld, \"success_threshold\": %lld}",
                                 (long long)q->initial_delay_s, (long long)q->period_s,
                                 (long long)q->timeout_s, (long long)q->failure_threshold,
                                 (long long)q->success_threshold);
        }
        const struct ferry_handler *hs[2] = {&p->post_start, &p->pre_stop};
        const char *names[2] = {"post_start", "pre_stop"};
        for (int k = 0; k < 2; k++) {
                if (hs[k]->kind == FERRY_H_NONE)
                        continue;
                ferry_buf_printf(b, "%s\"%s\": ", first ? "" : ", ", names[k]);
                first = false;
                handler_json(b, hs[k]);
                ferry_buf_addc(b, '}');
        }
        ferry_buf_addc(b, '}');
}

static int handler_from_json(json_t *o, struct ferry_handler *h, ferry_error_t *err)
{
        static const char *const kinds[] = {"none", "exec", "http", "tcp", "sleep"};
        const char *kind = json_string_value(json_object_get(o, "kind"));
        memset(h, 0, sizeof(*h));
        for (int k = 1; k < 5 && kind; k++)
                if (!strcmp(kind, kinds[k]))
                        h->kind = (enum ferry_handler_kind)k;
        if (h->kind == FERRY_H_NONE)
                return ferry_errprintf(err, -EINVAL, "probe: unknown kind");
        if (h->kind == FERRY_H_EXEC)
                return strv_from(json_object_get(o, "argv"), "probe", "argv", &h->argv, &h->n_argv,
                                 err);
        h->seconds = json_integer_value(json_object_get(o, "seconds"));
        h->port = (int)json_integer_value(json_object_get(o, "port"));
        const char *s = json_string_value(json_object_get(o, "host"));
        h->host = s ? ferry_xstrdup(s) : NULL;
        s = json_string_value(json_object_get(o, "path"));
        h->path = ferry_xstrdup(s ? s : "/");
        h->https = json_is_true(json_object_get(o, "https"));
        json_t *hs = json_object_get(o, "headers");
        if (json_array_size(hs) > 0 &&
            strv_from(hs, "probe", "headers", &h->headers, &h->n_headers, err) < 0)
                return -EINVAL;
        h->n_headers &= ~(size_t)1;
        return 0;
}

int ferry_probes_from_json(json_t *o, struct ferry_probes *ret, ferry_error_t *err)
{
        int r = 0;
        memset(ret, 0, sizeof(*ret));
        for (int k = 0; k < FERRY_PROBE_N && r == 0; k++) {
                json_t *q = json_object_get(o, ferry_probe_names[k]);
                if (!q)
                        continue;
                struct ferry_probe *p = &ret->p[k];
                r = handler_from_json(q, &p->h, err);
                p->initial_delay_s = json_integer_value(json_object_get(q, "initial_delay_s"));
                p->period_s = json_integer_value(json_object_get(q, "period_s"));
                p->timeout_s = json_integer_value(json_object_get(q, "timeout_s"));
                p->failure_threshold = json_integer_value(json_object_get(q, "failure_threshold"));
                p->success_threshold = json_integer_value(json_object_get(q, "success_threshold"));
                if (p->period_s < 1)
                        p->period_s = 1;
                if (p->timeout_s < 1)
                        p->timeout_s = 1;
                if (p->failure_threshold < 1)
                        p->failure_threshold = 1;
                if (p->success_threshold < 1)
                        p->success_threshold = 1;
        }
        json_t *h;
        if (r == 0 && (h = json_object_get(o, "post_start")))
                r = handler_from_json(h, &ret->post_start, err);
        if (r == 0 && (h = json_object_get(o, "pre_stop")))
                r = handler_from_json(h, &ret->pre_stop, err);
        if (r < 0)
                ferry_probes_clear(ret);
        return r;
}
