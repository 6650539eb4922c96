/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stddef.h>
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
        c->job_backoff_ms = 10000;
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

#define AT(field) offsetof(struct ferryd_config, field)
const struct ferryd_setting ferryd_settings[] = {
    {"listen", NULL, 'l', FERRYD_SET_LISTEN, 0, 0, 0, FERRY_ROLE_API, "URL",
     "hop-A API listener, repeatable: unix:///PATH, http://HOST:PORT or https://HOST:PORT "
     "(default unix:///run/ferry/ferryd.sock)"},
    {"plugin_listen", NULL, 'p', FERRYD_SET_LISTEN, 0, 0, 0, FERRY_ROLE_PLUGIN, "URL",
     "hop-B plugin listener (an interLink API server calls it)"},
    {"state_dir", NULL, 's', FERRYD_SET_STRING, AT(state_dir), 0, 0, 0, "DIR",
     "state directory (default /var/lib/ferry)"},
    {"backend", NULL, 'b', FERRYD_SET_STRING, AT(backend), 0, 0, 0, "NAME",
     "backend, one of those listed below (default local)"},
    {"runtime", NULL, 'r', FERRYD_SET_STRING, AT(runtime), 0, 0, 0, "NAME",
     "container runtime: bwrap, podman, host, apptainer, singularity, enroot (default bwrap)"},
    {"backend_options", "backend-opt", 'o', FERRYD_SET_OPTION, 0, 0, 0, 0, "K=V",
     "backend option, repeatable (YAML: a mapping)"},
    {"tokens", NULL, 't', FERRYD_SET_STRING, AT(tokens), 0, 0, 0, "FILE",
     "bearer tokens for TCP listeners, one \"TOKEN NS[,NS]\" per line"},
    {"insecure_tcp", NULL, 0, FERRYD_SET_BOOL, AT(insecure_tcp), 0, 0, 0, NULL,
     "allow TCP listeners without tokens"},
    {"tls_cert", NULL, 0, FERRYD_SET_STRING, AT(tls_cert), 0, 0, 0, "FILE",
     "PEM certificate (chain) for https:// listeners"},
    {"tls_key", NULL, 0, FERRYD_SET_STRING, AT(tls_key), 0, 0, 0, "FILE", "its PEM private key"},
    {"tls_client_ca", NULL, 0, FERRYD_SET_STRING, AT(tls_client_ca), 0, 0, 0, "FILE",
     "require client certificates signed by this CA (https)"},
    {"socket_mode", NULL, 0, FERRYD_SET_OCTAL, AT(socket_mode), 0, 0777, 0, "MODE",
     "unix socket mode (default 0660)"},
    {"poll_interval_ms", NULL, 0, FERRYD_SET_INT, AT(poll_interval_ms), 10, 600000, 0, "N",
     "backend status poll interval in ms, 10..600000 (default 1000)"},
    {"job_backoff_ms", NULL, 0, FERRYD_SET_INT, AT(job_backoff_ms), 1, 360000, 0, "N",
     "Jobs: delay before a failed pod's first retry, doubled per failure (default 10000)"},
    {"log_level", NULL, 0, FERRYD_SET_STRING, AT(log_level), 0, 0, 0, "LEVEL",
     "error, warning, info, debug (default info)"},
    {"libexec_dir", NULL, 0, FERRYD_SET_STRING, AT(libexec_dir), 0, 0, 0, "DIR",
     "where ferry-shim lives (default: next to ferryd, else the install path)"},
    {.key = NULL},
};
#undef AT

const struct ferryd_setting *ferryd_setting_by_key(const char *key)
{
        for (const struct ferryd_setting *s = ferryd_settings; s->key; s++)
                if (!strcmp(s->key, key))
                        return s;
        return NULL;
}

const char *ferryd_setting_flag(const struct ferryd_setting *s, char *buf, size_t size)
{
        snprintf(buf, size, "%s", s->flag ? s->flag : s->key);
        for (char *p = buf; *p; p++)
                if (*p == '_')
                        *p = '-';
        return buf;
}

int ferryd_config_set(struct ferryd_config *c, const struct ferryd_setting *s, const char *v,
                      bool from_flag, const char *as, ferry_error_t *err)
{
        void *field = (char *)c + s->offset;
        char *end;

        switch (s->type) {
        case FERRYD_SET_STRING: replace((char **)field, v); return 0;
        case FERRYD_SET_BOOL:
                if (!parse_bool(v, (bool *)field))
                        return ferry_errprintf(err, -EINVAL, "%s must be true or false", as);
                return 0;
        case FERRYD_SET_OCTAL: {
                unsigned long m = strtoul(v, &end, 8);
                if (!*v || *end || m > (unsigned long)s->max)
                        return ferry_errprintf(err, -EINVAL, "%s must be octal, like \"0660\"", as);
                *(unsigned *)field = (unsigned)m;
                return 0;
        }
        case FERRYD_SET_INT: {
                long n = strtol(v, &end, 10);
                if (!*v || *end || n < s->min || n > s->max)
                        return ferry_errprintf(err, -EINVAL, "%s must be a number, %d..%d", as,
                                               s->min, s->max);
                *(int *)field = (int)n;
                return 0;
        }
        case FERRYD_SET_LISTEN:
                if (from_flag && !c->listen_from_flags) {
                        for (size_t i = 0; i < c->n_listen; i++)
                                free((char *)c->listen[i].url);
                        c->n_listen = 0;
                        c->listen_from_flags = true;
                }
                ferryd_config_add_listen(c, v, s->role);
                return 0;
        case FERRYD_SET_OPTION: return ferryd_config_set_option(c, v, err);
        }
        return -EINVAL;
}

void ferryd_config_usage(FILE *f)
{
        for (const struct ferryd_setting *s = ferryd_settings; s->key; s++) {
                char flag[64], left[96];
                ferryd_setting_flag(s, flag, sizeof(flag));
                if (s->short_opt)
                        snprintf(left, sizeof(left), "-%c, --%s%s%s", s->short_opt, flag,
                                 s->arg ? " " : "", s->arg ? s->arg : "");
                else
                        snprintf(left, sizeof(left), "    --%s%s%s", flag, s->arg ? " " : "",
                                 s->arg ? s->arg : "");
                /* the help wrapped at 79 columns, under its own column */
                fprintf(f, "  %-26s", left);
                size_t col = 28;
                for (const char *w = s->help; *w;) {
                        size_t n = strcspn(w, " ");
                        if (col + 1 + n > 79 && col > 28) {
                                fprintf(f, "\n%28s", "");
                                col = 28;
                        }
                        fprintf(f, " %.*s", (int)n, w);
                        col += 1 + n;
                        w += n;
                        w += strspn(w, " ");
                }
                fputc('\n', f);
        }
}

static const char *scalar(yaml_node_t *n)
{
        return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
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
                if (!strcmp(k, "tenancy")) { /* site admission: its own section */
                        ferry_tn_config_free(c->tenancy);
                        c->tenancy = NULL;
                        if ((r = ferry_tn_config_from_node(&doc, vn, path, &c->tenancy, err)) < 0)
                                goto out;
                        continue;
                }
                const struct ferryd_setting *set = ferryd_setting_by_key(k);
                if (!set) {
                        struct ferry_buf known = FERRY_BUF_INIT;
                        for (const struct ferryd_setting *t = ferryd_settings; t->key; t++)
                                ferry_buf_printf(&known, "%s%s", t == ferryd_settings ? "" : ", ",
                                                 t->key);
                        r = ferry_errprintf(err, -EINVAL,
                                            "%s:%zu: unknown key \"%s\" (known: %s, tenancy)", path,
                                            line, k, known.data);
                        ferry_buf_free(&known);
                        goto out;
                }
                ferry_error_t e2 = {{0}};
                if (set->type == FERRYD_SET_LISTEN && !v && vn && vn->type == YAML_SEQUENCE_NODE) {
                        for (yaml_node_item_t *it = vn->data.sequence.items.start;
                             it < vn->data.sequence.items.top; it++) {
                                const char *u = scalar(yaml_document_get_node(&doc, *it));
                                if (!u) {
                                        r = ferry_errprintf(err, -EINVAL,
                                                            "%s:%zu: %s entries must be URLs", path,
                                                            line, k);
                                        goto out;
                                }
                                ferryd_config_add_listen(c, u, set->role);
                        }
                        continue;
                }
                if (set->type == FERRYD_SET_OPTION) {
                        if (!vn || vn->type != YAML_MAPPING_NODE) {
                                r = ferry_errprintf(err, -EINVAL, "%s:%zu: %s must be a mapping",
                                                    path, line, k);
                                goto out;
                        }
                        for (yaml_node_pair_t *q = vn->data.mapping.pairs.start;
                             q < vn->data.mapping.pairs.top; q++) {
                                const char *ok = scalar(yaml_document_get_node(&doc, q->key));
                                const char *ov = scalar(yaml_document_get_node(&doc, q->value));
                                if (!ok || !ov) {
                                        r = ferry_errprintf(err, -EINVAL,
                                                            "%s:%zu: %s values must be scalars",
                                                            path, line, k);
                                        goto out;
                                }
                                set_opt(c, ok, ov);
                        }
                        continue;
                }
                if (!v) {
                        r = ferry_errprintf(err, -EINVAL,
                                            set->type == FERRYD_SET_LISTEN
                                                ? "%s:%zu: %s must be a URL or a list of URLs"
                                                : "%s:%zu: %s must be a single value",
                                            path, line, k);
                        goto out;
                }
                if (ferryd_config_set(c, set, v, false, k, &e2) < 0) {
                        r = ferry_errprintf(err, -EINVAL, "%s:%zu: %s", path, line, e2.text);
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
        ferry_tn_config_free(c->tenancy);
}
