/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "common/util.h"

void ferryd_config_defaults(struct ferryd_config *c)
{
        memset(c, 0, sizeof(*c));
        c->state_dir = ferry_xstrdup("/var/lib/ferry");
        c->backend = ferry_xstrdup("local");
        c->runtime = ferry_xstrdup("bwrap");
        c->socket_mode = 0660;
        c->poll_interval_ms = 1000;
        c->log_level = ferry_xstrdup("info");
}

void ferryd_config_add_listen(struct ferryd_config *c, const char *url,
                              enum ferry_listener_role role)
{
        c->listen = ferry_xrealloc(c->listen, (c->n_listen + 1) * sizeof(*c->listen));
        c->listen[c->n_listen].url = ferry_xstrdup(url);
        c->listen[c->n_listen].role = role;
        c->n_listen++;
        c->listen_set = true;
}

static void set_opt(struct ferryd_config *c, const char *k, const char *v)
{
        for (size_t i = 0; i < c->n_backend_options; i++)
                if (!strcmp(c->backend_options[i].key, k)) {
                        free(c->backend_options[i].value);
                        c->backend_options[i].value = ferry_xstrdup(v);
                        return;
                }
        c->backend_options = ferry_xrealloc(c->backend_options, (c->n_backend_options + 1) *
                                                                    sizeof(*c->backend_options));
        c->backend_options[c->n_backend_options].key = ferry_xstrdup(k);
        c->backend_options[c->n_backend_options].value = ferry_xstrdup(v);
        c->n_backend_options++;
}

int ferryd_config_set_option(struct ferryd_config *c, const char *kv, ferry_error_t *err)
{
        const char *eq = strchr(kv, '=');
        if (!eq || eq == kv)
                return ferry_errprintf(err, -EINVAL,
                                       "backend option \"%s\" must look like KEY=VALUE", kv);
        char *k = ferry_xstrndup(kv, (size_t)(eq - kv));
        set_opt(c, k, eq + 1);
        free(k);
        return 0;
}

static void replace(char **dst, const char *v)
{
        free(*dst);
        *dst = ferry_xstrdup(v);
}

static const char *scalar(yaml_node_t *n)
{
        return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool parse_bool(const char *s, bool *ret)
{
        if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")) {
                *ret = true;
                return true;
        }
        if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")) {
                *ret = false;
                return true;
        }
        return false;
}

int ferryd_config_load(struct ferryd_config *c, const char *path, ferry_error_t *err)
{
        yaml_parser_t p;
        yaml_document_t doc;
        FILE *f = fopen(path, "rb");
        int r = 0;

        if (!f)
                return ferry_errprintf(err, -errno, "cannot open config file %s: %s", path,
                                       strerror(errno));
        yaml_parser_initialize(&p);
        yaml_parser_set_input_file(&p, f);
        if (!yaml_parser_load(&p, &doc)) {
                r = ferry_errprintf(err, -EINVAL, "%s:%zu:%zu: %s", path, p.problem_mark.line + 1,
                                    p.problem_mark.column + 1,
                                    p.problem ? p.problem : "YAML error");
                yaml_parser_delete(&p);
                fclose(f);
                return r;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root) /* empty file */
                goto out;
        if (root->type != YAML_MAPPING_NODE) {
                r = ferry_errprintf(err, -EINVAL, "%s: the config must be a mapping of keys", path);
                goto out;
        }
        for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
             pr < root->data.mapping.pairs.top; pr++) {
                yaml_node_t *kn = yaml_document_get_node(&doc, pr->key);
                yaml_node_t *vn = yaml_document_get_node(&doc, pr->value);
                const char *k = scalar(kn), *v = scalar(vn);
                size_t line = kn ? kn->start_mark.line + 1 : 0;
                if (!k) {
                        r = ferry_errprintf(err, -EINVAL, "%s:%zu: keys must be strings", path,
                                            line);
                        goto out;
                }
                if (!strcmp(k, "listen") || !strcmp(k, "plugin_listen")) {
                        enum ferry_listener_role role =
                            !strcmp(k, "listen") ? FERRY_ROLE_API : FERRY_ROLE_PLUGIN;
                        if (v) {
                                ferryd_config_add_listen(c, v, role);
                        } else if (vn && vn->type == YAML_SEQUENCE_NODE) {
                                for (yaml_node_item_t *it = vn->data.sequence.items.start;
                                     it < vn->data.sequence.items.top; it++) {
                                        const char *u = scalar(yaml_document_get_node(&doc, *it));
                                        if (!u) {
                                                r = ferry_errprintf(
                                                    err, -EINVAL, "%s:%zu: %s entries must be URLs",
                                                    path, line, k);
                                                goto out;
                                        }
                                        ferryd_config_add_listen(c, u, role);
                                }
                        } else {
                                r = ferry_errprintf(err, -EINVAL,
                                                    "%s:%zu: %s must be a URL or a list of URLs",
                                                    path, line, k);
                                goto out;
                        }
                        continue;
                }
                if (!strcmp(k, "backend_options")) {
                        if (!vn || vn->type != YAML_MAPPING_NODE) {
                                r = ferry_errprintf(err, -EINVAL,
                                                    "%s:%zu: backend_options must be a mapping",
                                                    path, line);
                                goto out;
                        }
                        for (yaml_node_pair_t *q = vn->data.mapping.pairs.start;
                             q < vn->data.mapping.pairs.top; q++) {
                                const char *ok = scalar(yaml_document_get_node(&doc, q->key));
                                const char *ov = scalar(yaml_document_get_node(&doc, q->value));
                                if (!ok || !ov) {
                                        r = ferry_errprintf(
                                            err, -EINVAL,
                                            "%s:%zu: backend_options values must be scalars", path,
                                            line);
                                        goto out;
                                }
                                set_opt(c, ok, ov);
                        }
                        continue;
                }
                if (!v) {
                        r = ferry_errprintf(err, -EINVAL, "%s:%zu: %s must be a single value", path,
                                            line, k);
                        goto out;
                }
                if (!strcmp(k, "state_dir"))
                        replace(&c->state_dir, v);
                else if (!strcmp(k, "backend"))
                        replace(&c->backend, v);
                else if (!strcmp(k, "runtime"))
                        replace(&c->runtime, v);
                else if (!strcmp(k, "libexec_dir"))
                        replace(&c->libexec_dir, v);
                else if (!strcmp(k, "tokens"))
                        replace(&c->tokens, v);
                else if (!strcmp(k, "tls_cert"))
                        replace(&c->tls_cert, v);
                else if (!strcmp(k, "tls_key"))
                        replace(&c->tls_key, v);
                else if (!strcmp(k, "tls_client_ca"))
                        replace(&c->tls_client_ca, v);
                else if (!strcmp(k, "log_level"))
                        replace(&c->log_level, v);
                else if (!strcmp(k, "insecure_tcp")) {
                        if (!parse_bool(v, &c->insecure_tcp)) {
                                r = ferry_errprintf(err, -EINVAL,
                                                    "%s:%zu: insecure_tcp must be true or false",
                                                    path, line);
                                goto out;
                        }
                } else if (!strcmp(k, "socket_mode")) {
                        char *end;
                        unsigned long m = strtoul(v, &end, 8);
                        if (*end || m > 0777) {
                                r = ferry_errprintf(
                                    err, -EINVAL, "%s:%zu: socket_mode must be octal like \"0660\"",
                                    path, line);
                                goto out;
                        }
                        c->socket_mode = (unsigned)m;
                } else if (!strcmp(k, "poll_interval_ms")) {
                        char *end;
                        long ms = strtol(v, &end, 10);
                        if (*end || ms < 10 || ms > 600000) {
                                r = ferry_errprintf(err, -EINVAL,
                                                    "%s:%zu: poll_interval_ms must be 10..600000",
                                                    path, line);
                                goto out;
                        }
                        c->poll_interval_ms = (int)ms;
                } else {
                        r = ferry_errprintf(
                            err, -EINVAL,
                            "%s:%zu: unknown key \"%s\" (known: listen, plugin_listen, state_dir, "
                            "backend, runtime, "
                            "backend_options, tokens, tls_cert, tls_key, tls_client_ca, "
                            "insecure_tcp, socket_mode, poll_interval_ms, log_level, libexec_dir)",
                            path, line, k);
                        goto out;
                }
        }
out:
        yaml_document_delete(&doc);
        yaml_parser_delete(&p);
        fclose(f);
        return r;
}

void ferryd_config_free(struct ferryd_config *c)
{
        for (size_t i = 0; i < c->n_listen; i++)
                free((char *)c->listen[i].url);
        free(c->listen);
        free(c->state_dir);
        free(c->backend);
        free(c->runtime);
        free(c->libexec_dir);
        free(c->tokens);
        free(c->tls_cert);
        free(c->tls_key);
        free(c->tls_client_ca);
        free(c->log_level);
        for (size_t i = 0; i < c->n_backend_options; i++) {
                free(c->backend_options[i].key);
                free(c->backend_options[i].value);
        }
        free(c->backend_options);
}
