/* SPDX-License-Identifier: MIT */
/* Kubeconfig and in-cluster credentials; see kubeconfig.h. */
#include "kubeconfig.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/base64.h"
#include "common/util.h"
#include "kube/kube.h"

/* ---- YAML -> JSON ---- */

#define YAML_MAX_DEPTH 64
/* Aliases share nodes, so a small document can expand enormously (billion
 * laughs): bound the number of JSON values we build. */
#define YAML_MAX_VALUES 200000

static json_t *scalar_to_json(const yaml_node_t *n)
{
        const char *s = (const char *)n->data.scalar.value;
        size_t len = n->data.scalar.length;

        if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
                if (len == 0 || !strcmp(s, "null") || !strcmp(s, "~") || !strcmp(s, "Null"))
                        return json_null();
                if (!strcmp(s, "true") || !strcmp(s, "True"))
                        return json_true();
                if (!strcmp(s, "false") || !strcmp(s, "False"))
                        return json_false();
                char *end;
                errno = 0;
                long long v = strtoll(s, &end, 10);
                if (!errno && *end == '\0' && end != s)
                        return json_integer(v);
        }
        return json_stringn(s, len);
}

static json_t *node_to_json(yaml_document_t *doc, yaml_node_t *n, int depth, size_t *budget,
                            ferry_error_t *err)
{
        json_t *j = NULL;

        if ((*budget)-- == 0) {
                ferry_errprintf(err, -E2BIG, "YAML expands to more than %d values",
                                YAML_MAX_VALUES);
                return NULL;
        }

        if (!n)
                return json_null();
        if (depth > YAML_MAX_DEPTH) {
                ferry_errprintf(err, -E2BIG, "YAML nested deeper than %d levels", YAML_MAX_DEPTH);
                return NULL;
        }
        switch (n->type) {
        case YAML_SCALAR_NODE: return scalar_to_json(n);
        case YAML_SEQUENCE_NODE:
                j = json_array();
                for (yaml_node_item_t *it = n->data.sequence.items.start;
                     it < n->data.sequence.items.top; it++) {
                        json_t *e = node_to_json(doc, yaml_document_get_node(doc, *it), depth + 1,
                                                 budget, err);
                        if (!e) {
                                json_decref(j);
                                return NULL;
                        }
                        json_array_append_new(j, e);
                }
                return j;
        case YAML_MAPPING_NODE:
                j = json_object();
                for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
                     p < n->data.mapping.pairs.top; p++) {
                        yaml_node_t *k = yaml_document_get_node(doc, p->key);
                        if (!k || k->type != YAML_SCALAR_NODE) {
                                json_decref(j);
                                ferry_errprintf(err, -EINVAL,
                                                "YAML line %zu: mapping keys must be scalars",
                                                k ? k->start_mark.line + 1 : 0);
                                return NULL;
                        }
                        json_t *v = node_to_json(doc, yaml_document_get_node(doc, p->value),
                                                 depth + 1, budget, err);
                        if (!v) {
                                json_decref(j);
                                return NULL;
                        }
                        _cleanup_free_ char *key = ferry_xstrndup(
                            (const char *)k->data.scalar.value, k->data.scalar.length);
                        json_object_set_new(j, key, v);
                }
                return j;
        default: return json_null();
        }
}

int ferry_kube_yaml_to_json(const char *text, size_t len, json_t **ret, ferry_error_t *err)
{
        yaml_parser_t parser;
        yaml_document_t doc;
        size_t budget = YAML_MAX_VALUES;
        json_t *j;

        if (!yaml_parser_initialize(&parser))
                return ferry_errprintf(err, -ENOMEM, "cannot initialise the YAML parser");
        yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
        if (!yaml_parser_load(&parser, &doc)) {
                int r =
                    ferry_errprintf(err, -EINVAL, "YAML line %zu column %zu: %s",
                                    parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                                    parser.problem ? parser.problem : "syntax error");
                yaml_parser_delete(&parser);
                return r;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root)
                j = json_object();
        else
                j = node_to_json(&doc, root, 0, &budget, err);
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        if (!j)
                return budget == (size_t)-1 || strstr(err ? err->text : "", "deeper") ? -E2BIG
                                                                                      : -EINVAL;
        *ret = j;
        return 0;
}

/* ---- kubeconfig ---- */

void ferry_kube_config_clear(struct ferry_kube_config *c)
{
        free(c->server);
        free(c->ca_file);
        free(c->ca_data);
        free(c->cert_file);
        free(c->cert_data);
        if (c->key_data) {
                explicit_bzero(c->key_data, c->key_data_len);
                free(c->key_data);
        }
        free(c->key_file);
        if (c->token) {
                explicit_bzero(c->token, strlen(c->token));
                free(c->token);
        }
        free(c->token_file);
        free(c->namespace);
        memset(c, 0, sizeof(*c));
}

static json_t *named(json_t *list, const char *name, const char *inner)
{
        size_t i;
        json_t *e;

        json_array_foreach(list, i, e)
        {
                const char *n = json_string_value(json_object_get(e, "name"));
                if (n && !strcmp(n, name))
                        return json_object_get(e, inner);
        }
        return NULL;
}

static char *path_in(const char *base_dir, const char *p)
{
        if (p[0] == '/' || !base_dir || !base_dir[0])
                return ferry_xstrdup(p);
        return ferry_xasprintf("%s/%s", base_dir, p);
}

static int data_field(json_t *o, const char *key, char **ret, size_t *ret_len, ferry_error_t *err)
{
        const char *s = json_string_value(json_object_get(o, key));
        unsigned char *d;
        size_t n;

        if (!s || !s[0])
                return 0;
        if (ferry_base64_decode(s, strlen(s), &d, &n) < 0)
                return ferry_errprintf(err, -EINVAL, "kubeconfig: %s is not valid base64", key);
        *ret = ferry_xrealloc(d, n + 1);
        (*ret)[n] = '\0';
        *ret_len = n;
        return 0;
}

static int file_field(json_t *o, const char *key, const char *base_dir, char **ret)
{
        const char *s = json_string_value(json_object_get(o, key));
        if (s && s[0])
                *ret = path_in(base_dir, s);
        return 0;
}

int ferry_kube_config_parse(const char *text, size_t len, const char *context, const char *base_dir,
                            struct ferry_kube_config *ret, ferry_error_t *err)
{
        struct ferry_kube_config c = {0};
        json_t *root = NULL;
        int r = ferry_kube_yaml_to_json(text, len, &root, err);

        if (r < 0)
                return ferry_errprefix(err, r, "kubeconfig");
        if (!json_is_object(root)) {
                r = ferry_errprintf(err, -EINVAL, "kubeconfig: not a mapping");
                goto out;
        }
        const char *ctx_name =
            context ? context : json_string_value(json_object_get(root, "current-context"));
        json_t *ctx = NULL;
        if (ctx_name && ctx_name[0])
                ctx = named(json_object_get(root, "contexts"), ctx_name, "context");
        else if (json_array_size(json_object_get(root, "contexts")) == 1)
                ctx = json_object_get(json_array_get(json_object_get(root, "contexts"), 0),
                                      "context");
        if (!json_is_object(ctx)) {
                r = ferry_errprintf(err, -EINVAL, "kubeconfig: context '%s' not found",
                                    ctx_name ? ctx_name : "(current-context unset)");
                goto out;
        }
        const char *cl_name = json_string_value(json_object_get(ctx, "cluster"));
        const char *user_name = json_string_value(json_object_get(ctx, "user"));
        const char *ns = json_string_value(json_object_get(ctx, "namespace"));
        json_t *cl = cl_name ? named(json_object_get(root, "clusters"), cl_name, "cluster") : NULL;
        json_t *user = user_name ? named(json_object_get(root, "users"), user_name, "user") : NULL;
        if (!json_is_object(cl)) {
                r = ferry_errprintf(err, -EINVAL, "kubeconfig: cluster '%s' not found",
                                    cl_name ? cl_name : "(unset)");
                goto out;
        }
        const char *server = json_string_value(json_object_get(cl, "server"));
        if (!server || !(ferry_str_startswith(server, "https://") ||
                         ferry_str_startswith(server, "http://"))) {
                r = ferry_errprintf(err, -EINVAL,
                                    "kubeconfig: cluster '%s' has no http(s):// server", cl_name);
                goto out;
        }
        size_t n = strlen(server);
        while (n > 0 && server[n - 1] == '/')
                n--;
        c.server = ferry_xstrndup(server, n);
        json_t *insecure = json_object_get(cl, "insecure-skip-tls-verify");
        c.insecure = json_is_true(insecure) ||
                     (json_is_string(insecure) && !strcmp(json_string_value(insecure), "true"));
        if ((r = data_field(cl, "certificate-authority-data", &c.ca_data, &c.ca_data_len, err)) < 0)
                goto out;
        file_field(cl, "certificate-authority", base_dir, &c.ca_file);
        if (ns && ns[0])
                c.namespace = ferry_xstrdup(ns);
        if (json_is_object(user)) {
                if (json_object_get(user, "exec") || json_object_get(user, "auth-provider")) {
                        r = ferry_errprintf(err, -ENOTSUP,
                                            "kubeconfig: user '%s' uses an exec or auth-provider "
                                            "plugin, which ferry-node does not run; give it a "
                                            "token, tokenFile or client certificate",
                                            user_name);
                        goto out;
                }
                if ((r = data_field(user, "client-certificate-data", &c.cert_data, &c.cert_data_len,
                                    err)) < 0 ||
                    (r = data_field(user, "client-key-data", &c.key_data, &c.key_data_len, err)) <
                        0)
                        goto out;
                file_field(user, "client-certificate", base_dir, &c.cert_file);
                file_field(user, "client-key", base_dir, &c.key_file);
                file_field(user, "tokenFile", base_dir, &c.token_file);
                const char *tok = json_string_value(json_object_get(user, "token"));
                if (tok && tok[0])
                        c.token = ferry_xstrdup(tok);
                if ((c.cert_data || c.cert_file) && !(c.key_data || c.key_file)) {
                        r = ferry_errprintf(err, -EINVAL,
                                            "kubeconfig: user '%s' has a client certificate but no "
                                            "client key",
                                            user_name);
                        goto out;
                }
        }
        *ret = c;
        memset(&c, 0, sizeof(c));
        r = 0;
out:
        ferry_kube_config_clear(&c);
        json_decref(root);
        return r;
}

int ferry_kube_config_load(const char *path, const char *context, struct ferry_kube_config *ret,
                           ferry_error_t *err)
{
        _cleanup_free_ char *chosen = NULL;
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r;

        if (path && path[0]) {
                chosen = ferry_xstrdup(path);
        } else {
                const char *env = getenv("KUBECONFIG");
                if (env && env[0]) {
                        _cleanup_free_ char *list = ferry_xstrdup(env);
                        char *save = NULL;
                        for (char *p = strtok_r(list, ":", &save); p;
                             p = strtok_r(NULL, ":", &save))
                                if (access(p, R_OK) == 0) {
                                        chosen = ferry_xstrdup(p);
                                        break;
                                }
                }
                if (!chosen && getenv("HOME")) {
                        _cleanup_free_ char *p = ferry_xasprintf("%s/.kube/config", getenv("HOME"));
                        if (access(p, R_OK) == 0)
                                chosen = TAKE_PTR(p);
                }
                if (!chosen)
                        return ferry_errprintf(err, -ENOENT,
                                               "no kubeconfig: give --kubeconfig, set KUBECONFIG "
                                               "or create ~/.kube/config");
        }
        r = ferry_read_file(chosen, FERRY_KUBECONFIG_MAX, &text, &len);
        if (r < 0)
                return ferry_errprintf(err, r, "cannot read kubeconfig %s: %s", chosen,
                                       strerror(-r));
        _cleanup_free_ char *dir = ferry_xstrdup(chosen);
        char *slash = strrchr(dir, '/');
        if (slash)
                *slash = '\0';
        else {
                free(dir);
                dir = ferry_xstrdup(".");
        }
        r = ferry_kube_config_parse(text, len, context, dir, ret, err);
        if (r < 0)
                return ferry_errprefix(err, r, "%s", chosen);
        return 0;
}

int ferry_kube_config_in_cluster(const char *sa_dir, struct ferry_kube_config *ret,
                                 ferry_error_t *err)
{
        const char *host = getenv("KUBERNETES_SERVICE_HOST");
        const char *port = getenv("KUBERNETES_SERVICE_PORT");
        struct ferry_kube_config c = {0};
        _cleanup_free_ char *ns = NULL;
        size_t len;

        if (!sa_dir)
                sa_dir = FERRY_KUBE_SA_DIR;
        if (!host || !host[0])
                return ferry_errprintf(err, -ENOENT,
                                       "not running in a cluster (KUBERNETES_SERVICE_HOST unset)");
        if (!port || !port[0])
                port = "443";
        /* IPv6 service addresses need brackets in a URL */
        if (strchr(host, ':'))
                c.server = ferry_xasprintf("https://[%s]:%s", host, port);
        else
                c.server = ferry_xasprintf("https://%s:%s", host, port);
        c.token_file = ferry_xasprintf("%s/token", sa_dir);
        c.ca_file = ferry_xasprintf("%s/ca.crt", sa_dir);
        if (access(c.token_file, R_OK) != 0) {
                int r = ferry_errprintf(err, -ENOENT, "in-cluster: cannot read %s", c.token_file);
                ferry_kube_config_clear(&c);
                return r;
        }
        _cleanup_free_ char *nsfile = ferry_xasprintf("%s/namespace", sa_dir);
        if (ferry_read_file(nsfile, 256, &ns, &len) == 0) {
                while (len > 0 && (ns[len - 1] == '\n' || ns[len - 1] == ' '))
                        ns[--len] = '\0';
                if (len)
                        c.namespace = TAKE_PTR(ns);
        }
        *ret = c;
        return 0;
}
