/* SPDX-License-Identifier: MIT */
/*
 * PATCH bodies: JSON merge patch (RFC 7386), strategic merge patch for the lists
 * a kubelet patches (merge keys by field name, see doc/kube-double.md), and JSON
 * patch (RFC 6902). All return new values and leave the target alone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "double.h"

json_t *kd_merge_patch(const json_t *target, const json_t *patch)
{
        if (!json_is_object(patch))
                return json_deep_copy(patch);
        json_t *out = json_is_object(target) ? json_deep_copy(target) : json_object();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)patch, k, v)
        {
                if (json_is_null(v)) {
                        json_object_del(out, k);
                        continue;
                }
                json_object_set_new(out, k, kd_merge_patch(json_object_get(out, k), v));
        }
        return out;
}

/* ---- strategic merge patch ---- */
static const struct {
        const char *field;
        const char *key; /* NULL: a list of primitives merged as a set */
} merge_keys[] = {
    {"conditions", "type"},
    {"containerStatuses", "name"},
    {"initContainerStatuses", "name"},
    {"ephemeralContainerStatuses", "name"},
    {"containers", "name"},
    {"initContainers", "name"},
    {"ephemeralContainers", "name"},
    {"volumes", "name"},
    {"env", "name"},
    {"volumeMounts", "mountPath"},
    {"volumeDevices", "devicePath"},
    {"ports", "containerPort"},
    {"ownerReferences", "uid"},
    {"addresses", "type"},
    {"imagePullSecrets", "name"},
    {"podIPs", "ip"},
    {"hostIPs", "ip"},
    {"resourceClaims", "name"},
    {"finalizers", NULL},
};

static int merge_key_of(const char *field, const char **ret_key)
{
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(merge_keys); i++)
                if (!strcmp(merge_keys[i].field, field)) {
                        *ret_key = merge_keys[i].key;
                        return 1;
                }
        return 0;
}

static json_t *smp(const json_t *target, const json_t *patch, int depth, struct kd_err *e);

static const char *directive(const json_t *o)
{
        return json_string_value(json_object_get(o, "$patch"));
}

static json_t *strip_directives(const json_t *v)
{
        json_t *c = json_deep_copy(v);
        if (json_is_object(c))
                json_object_del(c, "$patch");
        return c;
}

static json_t *merge_list(const json_t *old, const json_t *patch, const char *key, int depth,
                          struct kd_err *e)
{
        json_t *out = json_is_array(old) ? json_deep_copy(old) : json_array();
        size_t i;
        json_t *item;
        if (!key) { /* primitives: union, in order */
                json_array_foreach((json_t *)patch, i, item)
                {
                        bool have = false;
                        size_t j;
                        json_t *x;
                        json_array_foreach(out, j, x) have = have || json_equal(x, item);
                        if (!have)
                                json_array_append(out, item);
                }
                return out;
        }
        json_array_foreach((json_t *)patch, i, item)
        {
                if (json_is_object(item) && directive(item) &&
                    !strcmp(directive(item), "replace")) {
                        json_decref(
                            out); /* [{"$patch":"replace"}, ...]: the rest replaces the list */
                        out = json_array();
                        continue;
                }
                json_t *kv = json_object_get(item, key);
                if (!json_is_object(item) || !kv) {
                        json_array_append_new(out, strip_directives(item));
                        continue;
                }
                size_t j, found = (size_t)-1;
                json_t *x;
                json_array_foreach(out, j, x) if (found == (size_t)-1 &&
                                                  json_equal(json_object_get(x, key), kv)) found =
                    j;
                bool del = directive(item) && !strcmp(directive(item), "delete");
                if (del) {
                        if (found != (size_t)-1)
                                json_array_remove(out, found);
                        continue;
                }
                if (found == (size_t)-1) {
                        json_array_append_new(out, strip_directives(item));
                        continue;
                }
                json_t *m = smp(json_array_get(out, found), item, depth + 1, e);
                if (!m) {
                        json_decref(out);
                        return NULL;
                }
                json_array_set_new(out, found, m);
        }
        return out;
}

static json_t *smp(const json_t *target, const json_t *patch, int depth, struct kd_err *e)
{
        if (depth > 64) {
                kd_fail(e, 400, "BadRequest", "strategic merge patch nested deeper than 64 levels");
                return NULL;
        }
        if (!json_is_object(patch))
                return json_deep_copy(patch);
        const char *d = directive(patch);
        if (d && !strcmp(d, "replace"))
                return strip_directives(patch);
        if (d && strcmp(d, "merge") && strcmp(d, "delete")) {
                kd_fail(e, 400, "BadRequest", "unknown patch type: %s", d);
                return NULL;
        }
        json_t *out = json_is_object(target) ? json_deep_copy(target) : json_object();
        json_t *retain = json_object_get(patch, "$retainKeys");
        if (json_is_array(retain)) {
                const char *k;
                json_t *v, *tmp;
                json_object_foreach_safe(out, tmp, k, v)
                {
                        bool keep = false;
                        size_t i;
                        json_t *r;
                        json_array_foreach(retain, i, r) keep =
                            keep || !strcmp(json_string_value(r) ?: "", k);
                        if (!keep)
                                json_object_del(out, k);
                }
        }
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)patch, k, v)
        {
                if (!strcmp(k, "$patch") || !strcmp(k, "$retainKeys") ||
                    ferry_str_startswith(k, "$setElementOrder/"))
                        continue;
                if (ferry_str_startswith(k, "$deleteFromPrimitiveList/")) {
                        const char *f = k + strlen("$deleteFromPrimitiveList/");
                        json_t *list = json_object_get(out, f);
                        size_t i, j;
                        json_t *x, *y;
                        json_array_foreach(v, i, x)
                            json_array_foreach(list, j, y) if (json_equal(x, y))
                        {
                                json_array_remove(list, j);
                                break;
                        }
                        continue;
                }
                if (json_is_null(v)) {
                        json_object_del(out, k);
                        continue;
                }
                if (json_is_object(v) && directive(v) && !strcmp(directive(v), "delete")) {
                        json_object_del(out, k);
                        continue;
                }
                const char *mk;
                json_t *m;
                if (json_is_array(v) && merge_key_of(k, &mk))
                        m = merge_list(json_object_get(out, k), v, mk, depth, e);
                else
                        m = smp(json_object_get(out, k), v, depth + 1, e);
                if (!m) {
                        json_decref(out);
                        return NULL;
                }
                json_object_set_new(out, k, m);
        }
        return out;
}

json_t *kd_strategic_merge_patch(const json_t *target, const json_t *patch, struct kd_err *e)
{
        return smp(target, patch, 0, e);
}

/* ---- JSON patch ---- */
static char *pointer_token(const char **pp)
{
        const char *p = *pp;
        struct ferry_buf b = FERRY_BUF_INIT;
        ferry_buf_adds(&b, "");
        while (*p && *p != '/') {
                if (p[0] == '~' && p[1] == '1') {
                        ferry_buf_addc(&b, '/');
                        p += 2;
                } else if (p[0] == '~' && p[1] == '0') {
                        ferry_buf_addc(&b, '~');
                        p += 2;
                } else {
                        ferry_buf_addc(&b, *p++);
                }
        }
        *pp = p;
        return ferry_buf_steal(&b);
}

static bool array_index(const char *tok, size_t max, size_t *ret)
{
        if (!tok[0] || (tok[0] == '0' && tok[1]))
                return false;
        char *end;
        unsigned long long v = strtoull(tok, &end, 10);
        if (*end || v > max)
                return false;
        *ret = (size_t)v;
        return true;
}

/* Find the parent of the value at path. *ret_last: the last token (caller frees). */
static json_t *resolve_parent(json_t *doc, const char *path, char **ret_last)
{
        if (path[0] != '/')
                return NULL;
        const char *p = path;
        json_t *cur = doc;
        for (int depth = 0; depth < 128; depth++) {
                p++; /* the '/' */
                char *tok = pointer_token(&p);
                if (!*p) {
                        *ret_last = tok;
                        return cur;
                }
                json_t *next = NULL;
                size_t idx;
                if (json_is_object(cur))
                        next = json_object_get(cur, tok);
                else if (json_is_array(cur) && array_index(tok, json_array_size(cur) - 1, &idx))
                        next = json_array_get(cur, idx);
                free(tok);
                if (!next)
                        return NULL;
                cur = next;
        }
        return NULL;
}

static json_t *get_at(json_t *doc, const char *path)
{
        if (!path[0])
                return doc;
        char *last = NULL;
        json_t *parent = resolve_parent(doc, path, &last);
        json_t *v = NULL;
        size_t idx;
        if (parent && json_is_object(parent))
                v = json_object_get(parent, last);
        else if (parent && json_is_array(parent) && json_array_size(parent) &&
                 array_index(last, json_array_size(parent) - 1, &idx))
                v = json_array_get(parent, idx);
        free(last);
        return v;
}

/* add (replace=false) or replace (replace=true) value (stolen) at path */
static int put_at(json_t *doc, const char *path, json_t *value, bool replace)
{
        char *last = NULL;
        json_t *parent = resolve_parent(doc, path, &last);
        int r = -ENOENT;
        size_t idx;
        if (!parent) {
                json_decref(value);
                return r;
        }
        if (json_is_object(parent)) {
                if (!replace || json_object_get(parent, last)) {
                        json_object_set(parent, last, value);
                        r = 0;
                }
        } else if (json_is_array(parent)) {
                size_t n = json_array_size(parent);
                if (!replace && !strcmp(last, "-")) {
                        json_array_append(parent, value);
                        r = 0;
                } else if (!replace && array_index(last, n, &idx)) {
                        json_array_insert(parent, idx, value);
                        r = 0;
                } else if (replace && n && array_index(last, n - 1, &idx)) {
                        json_array_set(parent, idx, value);
                        r = 0;
                }
        }
        json_decref(value);
        free(last);
        return r;
}

static int remove_at(json_t *doc, const char *path)
{
        char *last = NULL;
        json_t *parent = resolve_parent(doc, path, &last);
        int r = -ENOENT;
        size_t idx;
        if (parent && json_is_object(parent) && json_object_get(parent, last))
                r = json_object_del(parent, last) == 0 ? 0 : -ENOENT;
        else if (parent && json_is_array(parent) && json_array_size(parent) &&
                 array_index(last, json_array_size(parent) - 1, &idx))
                r = json_array_remove(parent, idx) == 0 ? 0 : -ENOENT;
        free(last);
        return r;
}

json_t *kd_json_patch(const json_t *target, const json_t *patch, struct kd_err *e)
{
        if (!json_is_array(patch)) {
                kd_fail(e, 400, "BadRequest", "a JSON patch must be an array of operations");
                return NULL;
        }
        json_t *doc = json_deep_copy(target);
        size_t i;
        json_t *op;
        json_array_foreach((json_t *)patch, i, op)
        {
                const char *o = json_string_value(json_object_get(op, "op"));
                const char *path = json_string_value(json_object_get(op, "path"));
                const char *from = json_string_value(json_object_get(op, "from"));
                json_t *value = json_object_get(op, "value");
                int r = -EINVAL;
                if (!o || !path || !path[0]) {
                        r = -EINVAL;
                } else if (!strcmp(o, "add") && value) {
                        r = put_at(doc, path, json_deep_copy(value), false);
                } else if (!strcmp(o, "replace") && value) {
                        r = put_at(doc, path, json_deep_copy(value), true);
                } else if (!strcmp(o, "remove")) {
                        r = remove_at(doc, path);
                } else if (!strcmp(o, "test") && value) {
                        json_t *cur = get_at(doc, path);
                        r = cur && json_equal(cur, value) ? 0 : -EBADMSG;
                } else if ((!strcmp(o, "copy") || !strcmp(o, "move")) && from) {
                        json_t *src = get_at(doc, from);
                        if (!src) {
                                r = -ENOENT;
                        } else {
                                json_t *c = json_deep_copy(src);
                                r = o[0] == 'm' ? remove_at(doc, from) : 0;
                                if (r == 0)
                                        r = put_at(doc, path, c, false);
                                else
                                        json_decref(c);
                        }
                }
                if (r < 0) {
                        json_decref(doc);
                        kd_fail(e, 422, "Invalid", "the JSON patch operation %zu (%s %s) %s", i,
                                o ? o : "?", path ? path : "?",
                                r == -EBADMSG  ? "failed its test"
                                : r == -ENOENT ? "refers to a missing path"
                                               : "is malformed");
                        return NULL;
                }
        }
        return doc;
}
