/* SPDX-License-Identifier: MIT */
/*
 * Manifest files to JSON objects. YAML goes through libyaml's event parser and
 * becomes jansson values, with the scalar rules Kubernetes users rely on
 * (go-yaml v2, YAML 1.1): plain 0644 is octal, true/false are booleans, ~ and
 * null are null; quoted scalars are always strings. yes/no/on/off stay strings
 * (YAML 1.2), which is what people mean in env values.
 */
#include "manifest.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "common/util.h"

struct anchor {
        char *name;
        json_t *value;
};

struct yctx {
        yaml_parser_t parser;
        const char *name;
        struct anchor *anchors;
        size_t n_anchors;
        ferry_error_t *err;
};

static int yerr(struct yctx *y, const yaml_mark_t *m, const char *what)
{
        return ferry_errprintf(y->err, -EINVAL, "%s:%zu:%zu: %s", y->name, m->line + 1,
                               m->column + 1, what);
}

static int next_event(struct yctx *y, yaml_event_t *ev)
{
        if (!yaml_parser_parse(&y->parser, ev)) {
                const yaml_mark_t *m = &y->parser.problem_mark;
                return ferry_errprintf(
                    y->err, -EINVAL, "%s:%zu:%zu: %s%s%s", y->name, m->line + 1, m->column + 1,
                    y->parser.problem ? y->parser.problem : "invalid YAML",
                    y->parser.context ? " " : "", y->parser.context ? y->parser.context : "");
        }
        return 0;
}

static void anchors_free(struct yctx *y)
{
        for (size_t i = 0; i < y->n_anchors; i++) {
                free(y->anchors[i].name);
                json_decref(y->anchors[i].value);
        }
        free(y->anchors);
        y->anchors = NULL;
        y->n_anchors = 0;
}

static void anchor_add(struct yctx *y, const char *name, json_t *v)
{
        y->anchors = ferry_xrealloc(y->anchors, (y->n_anchors + 1) * sizeof(*y->anchors));
        y->anchors[y->n_anchors].name = ferry_xstrdup(name);
        y->anchors[y->n_anchors].value = json_incref(v);
        y->n_anchors++;
}

static bool all_digits(const char *s, const char *set)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!strchr(set, *s))
                        return false;
        return true;
}

static json_t *plain_scalar(const char *s)
{
        const char *d = s;
        bool neg = false;

        if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
            !strcmp(s, "NULL"))
                return json_null();
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
                return json_true();
        if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
                return json_false();
        if (*d == '-' || *d == '+') {
                neg = *d == '-';
                d++;
        }
        if (*d >= '0' && *d <= '9') {
                int base = 10;
                const char *digits = d;
                const char *set = "0123456789";
                if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X')) {
                        base = 16, digits = d + 2, set = "0123456789abcdefABCDEF";
                } else if (d[0] == '0' && d[1] == 'o') {
                        base = 8, digits = d + 2, set = "01234567";
                } else if (d[0] == '0' && d[1]) {
                        base = 8, digits = d + 1, set = "01234567";
                }
                if (all_digits(digits, set)) {
                        errno = 0;
                        char *end;
                        long long v = strtoll(digits, &end, base);
                        if (errno == 0 && !*end)
                                return json_integer(neg ? -v : v);
                        return json_string(s);
                }
        }
        /* floats: digits with a '.' or an exponent */
        {
                char *end;
                const char *p = d;
                bool dig = false, dot_or_exp = false;
                for (; *p; p++) {
                        if (*p >= '0' && *p <= '9')
                                dig = true;
                        else if (*p == '.' || *p == 'e' || *p == 'E' ||
                                 ((*p == '-' || *p == '+') && (p[-1] == 'e' || p[-1] == 'E')))
                                dot_or_exp = true;
                        else
                                break;
                }
                if (!*p && dig && dot_or_exp) {
                        double v = strtod(s, &end);
                        if (!*end)
                                return json_real(v);
                }
        }
        return json_string(s);
}

static int parse_node(struct yctx *y, yaml_event_t *ev, unsigned depth, json_t **ret);

static json_t *scalar_value(const yaml_event_t *ev)
{
        const char *s = (const char *)ev->data.scalar.value;
        const char *tag = (const char *)ev->data.scalar.tag;

        if (tag && strcmp(tag, YAML_STR_TAG) == 0)
                return json_stringn(s, ev->data.scalar.length);
        if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return json_stringn(s, ev->data.scalar.length);
        return plain_scalar(s);
}

static int merge_into(json_t *obj, json_t *src)
{
        const char *k;
        json_t *v;

        if (json_is_array(src)) {
                size_t i;
                json_array_foreach(src, i, v) if (merge_into(obj, v) < 0) return -EINVAL;
                return 0;
        }
        if (!json_is_object(src))
                return -EINVAL;
        json_object_foreach(src, k, v) if (!json_object_get(obj, k)) json_object_set(obj, k, v);
        return 0;
}

static int parse_mapping(struct yctx *y, unsigned depth, json_t **ret)
{
        json_t *obj = json_object(), *merges = NULL;
        yaml_mark_t merge_mark = {0};
        int r;

        for (;;) {
                yaml_event_t kev, vev;
                json_t *val = NULL;

                r = next_event(y, &kev);
                if (r < 0)
                        goto fail;
                if (kev.type == YAML_MAPPING_END_EVENT) {
                        yaml_event_delete(&kev);
                        break;
                }
                if (kev.type != YAML_SCALAR_EVENT) {
                        r = yerr(y, &kev.start_mark, "mapping keys must be plain strings");
                        yaml_event_delete(&kev);
                        goto fail;
                }
                _cleanup_free_ char *key =
                    ferry_xstrndup((const char *)kev.data.scalar.value, kev.data.scalar.length);
                bool merge =
                    kev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && strcmp(key, "<<") == 0;
                yaml_mark_t km = kev.start_mark;
                yaml_event_delete(&kev);

                r = next_event(y, &vev);
                if (r < 0)
                        goto fail;
                r = parse_node(y, &vev, depth + 1, &val);
                yaml_event_delete(&vev);
                if (r < 0)
                        goto fail;
                if (merge) {
                        /* explicit keys win over merged ones wherever they appear: merge last */
                        if (!json_is_object(val) && !json_is_array(val)) {
                                json_decref(val);
                                r = yerr(y, &km, "'<<' needs a mapping or a list of mappings");
                                goto fail;
                        }
                        if (!merges)
                                merges = json_array();
                        json_array_append_new(merges, val);
                        merge_mark = km;
                        continue;
                }
                if (json_object_get(obj, key)) {
                        json_decref(val);
                        char msg[300];
                        snprintf(msg, sizeof(msg), "duplicate key '%.200s'", key);
                        r = yerr(y, &km, msg);
                        goto fail;
                }
                json_object_set_new(obj, key, val);
        }
        if (merges) {
                r = merge_into(obj, merges);
                json_decref(merges);
                merges = NULL;
                if (r < 0) {
                        r = yerr(y, &merge_mark, "'<<' needs a mapping or a list of mappings");
                        goto fail;
                }
        }
        *ret = obj;
        return 0;
fail:
        json_decref(merges);
        json_decref(obj);
        return r;
}

static int parse_sequence(struct yctx *y, unsigned depth, json_t **ret)
{
        json_t *arr = json_array();
        int r;

        for (;;) {
                yaml_event_t ev;
                json_t *val = NULL;

                r = next_event(y, &ev);
                if (r < 0)
                        goto fail;
                if (ev.type == YAML_SEQUENCE_END_EVENT) {
                        yaml_event_delete(&ev);
                        break;
                }
                r = parse_node(y, &ev, depth + 1, &val);
                yaml_event_delete(&ev);
                if (r < 0)
                        goto fail;
                json_array_append_new(arr, val);
        }
        *ret = arr;
        return 0;
fail:
        json_decref(arr);
        return r;
}

/* ev is the node's first event; the caller deletes it. */
static int parse_node(struct yctx *y, yaml_event_t *ev, unsigned depth, json_t **ret)
{
        const char *anchor = NULL;
        json_t *v = NULL;
        int r = 0;

        if (depth > FERRY_MANIFEST_MAX_DEPTH)
                return yerr(y, &ev->start_mark, "nested too deeply");
        switch (ev->type) {
        case YAML_SCALAR_EVENT:
                anchor = (const char *)ev->data.scalar.anchor;
                v = scalar_value(ev);
                if (!v)
                        return yerr(y, &ev->start_mark, "a string is not valid UTF-8");
                break;
        case YAML_MAPPING_START_EVENT:
                anchor = (const char *)ev->data.mapping_start.anchor;
                r = parse_mapping(y, depth, &v);
                break;
        case YAML_SEQUENCE_START_EVENT:
                anchor = (const char *)ev->data.sequence_start.anchor;
                r = parse_sequence(y, depth, &v);
                break;
        case YAML_ALIAS_EVENT: {
                const char *a = (const char *)ev->data.alias.anchor;
                for (size_t i = y->n_anchors; i-- > 0;)
                        if (strcmp(y->anchors[i].name, a) == 0) {
                                v = json_deep_copy(y->anchors[i].value);
                                break;
                        }
                if (!v)
                        return yerr(y, &ev->start_mark, "alias to an unknown anchor");
                break;
        }
        default: return yerr(y, &ev->start_mark, "unexpected YAML event");
        }
        if (r < 0)
                return r;
        if (anchor)
                anchor_add(y, anchor, v);
        *ret = v;
        return 0;
}

static int add_object(json_t *objects, json_t *doc, const char *name, size_t line,
                      ferry_error_t *err)
{
        if (json_is_null(doc))
                return 0; /* empty document */
        if (!json_is_object(doc))
                return ferry_errprintf(err, -EINVAL,
                                       "%s:%zu: a manifest document must be a mapping (a "
                                       "Kubernetes object)",
                                       name, line);
        const char *kind = json_string_value(json_object_get(doc, "kind"));
        /* kubectl get -o yaml writes a List; PodList and friends look the same */
        if (kind && strlen(kind) >= 4 && strcmp(kind + strlen(kind) - 4, "List") == 0) {
                json_t *items = json_object_get(doc, "items");
                size_t i;
                json_t *it;
                if (!json_is_array(items) && !json_is_null(items))
                        return ferry_errprintf(err, -EINVAL, "%s:%zu: a %s needs an 'items' list",
                                               name, line, kind);
                json_array_foreach(items, i, it)
                {
                        int r = add_object(objects, it, name, line, err);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        if (json_array_size(objects) >= FERRY_MANIFEST_MAX_OBJECTS)
                return ferry_errprintf(err, -E2BIG, "%s: more than %d objects", name,
                                       FERRY_MANIFEST_MAX_OBJECTS);
        json_array_append(objects, doc);
        return 0;
}

static int parse_yaml(const char *text, size_t len, const char *name, json_t *objects,
                      ferry_error_t *err)
{
        struct yctx y = {.name = name, .err = err};
        yaml_event_t ev;
        int r = 0;

        if (!yaml_parser_initialize(&y.parser))
                return ferry_errprintf(err, -ENOMEM, "cannot initialise the YAML parser");
        yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, len);
        for (;;) {
                r = next_event(&y, &ev);
                if (r < 0)
                        break;
                if (ev.type == YAML_STREAM_END_EVENT) {
                        yaml_event_delete(&ev);
                        break;
                }
                if (ev.type == YAML_STREAM_START_EVENT || ev.type == YAML_DOCUMENT_END_EVENT) {
                        yaml_event_delete(&ev);
                        continue;
                }
                if (ev.type == YAML_DOCUMENT_START_EVENT) {
                        yaml_event_delete(&ev);
                        anchors_free(&y); /* anchors do not cross documents */
                        continue;
                }
                json_t *doc = NULL;
                size_t line = ev.start_mark.line + 1;
                r = parse_node(&y, &ev, 0, &doc);
                yaml_event_delete(&ev);
                if (r < 0)
                        break;
                r = add_object(objects, doc, name, line, err);
                json_decref(doc);
                if (r < 0)
                        break;
        }
        anchors_free(&y);
        yaml_parser_delete(&y.parser);
        return r;
}

static bool ends_with(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && strcmp(s + a - b, suffix) == 0;
}

int ferry_manifest_parse(const char *text, size_t len, const char *name, json_t *objects,
                         ferry_error_t *err)
{
        if (ends_with(name, ".json")) {
                json_error_t je;
                json_t *j = json_loadb(text, len, JSON_DECODE_ANY, &je);
                int r;

                if (!j)
                        return ferry_errprintf(err, -EINVAL, "%s:%d:%d: %s", name, je.line,
                                               je.column, je.text);
                if (json_is_array(j)) {
                        size_t i;
                        json_t *it;
                        r = 0;
                        json_array_foreach(
                            j, i, it) if ((r = add_object(objects, it, name, 1, err)) < 0) break;
                } else {
                        r = add_object(objects, j, name, 1, err);
                }
                json_decref(j);
                return r;
        }
        return parse_yaml(text, len, name, objects, err);
}

static int load_file(const char *path, json_t *objects, ferry_error_t *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r;

        if (strcmp(path, "-") == 0) {
                struct ferry_buf b = FERRY_BUF_INIT;
                char chunk[65536];
                size_t n;
                while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
                        if (b.len + n > FERRY_MANIFEST_MAX_FILE) {
                                ferry_buf_free(&b);
                                return ferry_errprintf(err, -EFBIG,
                                                       "standard input is larger than %u MiB",
                                                       FERRY_MANIFEST_MAX_FILE >> 20);
                        }
                        ferry_buf_add(&b, chunk, n);
                }
                len = b.len;
                text = ferry_buf_steal(&b);
                return ferry_manifest_parse(text, len, "<stdin>", objects, err);
        }
        r = ferry_read_file(path, FERRY_MANIFEST_MAX_FILE, &text, &len);
        if (r == -EFBIG)
                return ferry_errprintf(err, r, "%s is larger than %u MiB", path,
                                       FERRY_MANIFEST_MAX_FILE >> 20);
        if (r < 0)
                return ferry_errprintf(err, r, "cannot read %s: %s", path, strerror(-r));
        return ferry_manifest_parse(text, len, path, objects, err);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int ferry_manifest_load(const char *path, json_t *objects, ferry_error_t *err)
{
        struct stat st;
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (strcmp(path, "-") == 0)
                return load_file(path, objects, err);
        if (stat(path, &st) < 0)
                return ferry_errprintf(err, -errno, "cannot open %s: %s", path, strerror(errno));
        if (!S_ISDIR(st.st_mode))
                return load_file(path, objects, err);
        d = opendir(path);
        if (!d)
                return ferry_errprintf(err, -errno, "cannot list %s: %s", path, strerror(errno));
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                if (!ends_with(de->d_name, ".yaml") && !ends_with(de->d_name, ".yml") &&
                    !ends_with(de->d_name, ".json"))
                        continue;
                names = ferry_xrealloc(names, (n + 1) * sizeof(*names));
                names[n++] = ferry_xasprintf("%s/%s", path, de->d_name);
        }
        closedir(d);
        if (n == 0) {
                free(names);
                return ferry_errprintf(err, -ENOENT, "%s has no *.yaml, *.yml or *.json files",
                                       path);
        }
        qsort(names, n, sizeof(*names), cmp_str);
        for (size_t i = 0; i < n && r >= 0; i++) {
                if (stat(names[i], &st) == 0 && S_ISDIR(st.st_mode))
                        continue;
                r = load_file(names[i], objects, err);
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        return r;
}
