/* SPDX-License-Identifier: MIT */
/*
 * The double's storage: objects by resource and "namespace/name", one global
 * resourceVersion, and a bounded history of events that watches replay from and
 * paginated lists are answered from (a snapshot at the first page's version).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/hashmap.h"
#include "double.h"

int kd_fail(struct kd_err *e, unsigned code, const char *reason, const char *fmt, ...)
{
        va_list ap;
        e->code = code;
        e->reason = reason;
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
        return -1;
}

json_t *kd_status_json(const struct kd_err *e)
{
        json_t *st =
            json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:I}", "kind", "Status", "apiVersion", "v1",
                      "metadata", "status", "Failure", "message", e->message, "reason",
                      e->reason ? e->reason : "InternalError", "code", (json_int_t)e->code);
        if (e->name[0] || e->kind) {
                json_t *d = json_object();
                if (e->name[0])
                        json_object_set_new(d, "name", json_string(e->name));
                if (e->group && e->group[0])
                        json_object_set_new(d, "group", json_string(e->group));
                if (e->kind)
                        json_object_set_new(d, "kind", json_string(e->kind));
                if (e->field) {
                        const char *why = ferry_str_startswith(e->cause, "Forbidden")
                                              ? "FieldValueForbidden"
                                          : ferry_str_startswith(e->cause, "Required value")
                                              ? "FieldValueRequired"
                                          : ferry_str_startswith(e->cause, "Unsupported value")
                                              ? "FieldValueNotSupported"
                                              : "FieldValueInvalid";
                        json_object_set_new(d, "causes",
                                            json_pack("[{s:s, s:s, s:s}]", "reason", why, "message",
                                                      e->cause[0] ? e->cause : e->message, "field",
                                                      e->field));
                }
                json_object_set_new(st, "details", d);
        }
        /* The real API puts details before code; key order does not matter to JSON. */
        return st;
}

static void event_clear(struct kd_event *ev)
{
        json_decref(ev->obj);
        json_decref(ev->prev);
        memset(ev, 0, sizeof(*ev));
}

int kd_store_init(struct kd_store *s, size_t history_cap)
{
        memset(s, 0, sizeof(*s));
        pthread_mutex_init(&s->mu, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&s->cv, &ca);
        pthread_condattr_destroy(&ca);
        s->history_cap = history_cap ? history_cap : 1;
        s->history = ferry_xcalloc(s->history_cap, sizeof(*s->history));
        for (int r = 0; r < KD_RES_MAX; r++)
                s->objs[r] = ferry_hashmap_new();
        s->counts = json_object();
        s->tokens = json_array();
        /* Real clusters never answer small versions; start where a string compare of
         * versions would already go wrong ("999" > "1000"), to catch clients doing that. */
        s->rv = 990;
        s->compacted_rv = s->rv;
        return 0;
}

void kd_store_fini(struct kd_store *s)
{
        for (int r = 0; r < KD_RES_MAX; r++) {
                size_t it = 0;
                const char *k;
                void *v;
                while (ferry_hashmap_next(s->objs[r], &it, &k, &v)) {
                        struct kd_obj *o = v;
                        json_decref(o->obj);
                        free(o);
                }
                ferry_hashmap_free(s->objs[r]);
        }
        for (size_t i = 0; i < s->history_cap; i++)
                event_clear(&s->history[i]);
        free(s->history);
        json_decref(s->counts);
        json_decref(s->tokens);
        free(s->ca_pem);
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
}

static void make_key(char *key, size_t n, const char *ns, const char *name)
{
        snprintf(key, n, "%s/%s", ns ? ns : "", name ? name : "");
}

json_t *kd_store_get(struct kd_store *s, enum kd_res r, const char *ns, const char *name)
{
        char key[sizeof(((struct kd_obj *)0)->key)];
        make_key(key, sizeof(key), kd_resources[r].namespaced ? ns : "", name);
        struct kd_obj *o = ferry_hashmap_get(s->objs[r], key);
        return o ? o->obj : NULL;
}

static void record(struct kd_store *s, enum kd_res r, enum kd_ev_type type, json_t *obj,
                   json_t *prev)
{
        struct kd_event *ev = &s->history[s->rv % s->history_cap];
        if (ev->obj) /* the oldest event falls out of the window */
                s->compacted_rv = ev->rv;
        event_clear(ev);
        ev->rv = s->rv;
        ev->res = r;
        ev->type = type;
        ev->obj = json_incref(obj);
        ev->prev = prev ? json_incref(prev) : NULL;
        pthread_cond_broadcast(&s->cv);
}

static void set_rv(json_t *obj, uint64_t rv)
{
        json_t *meta = json_object_get(obj, "metadata");
        if (!json_is_object(meta)) {
                meta = json_object();
                json_object_set_new(obj, "metadata", meta);
        }
        char b[32];
        snprintf(b, sizeof(b), "%llu", (unsigned long long)rv);
        json_object_set_new(meta, "resourceVersion", json_string(b));
}

json_t *kd_store_put(struct kd_store *s, enum kd_res r, json_t *obj, enum kd_ev_type type)
{
        const char *ns = kd_resources[r].namespaced ? kd_meta_str(obj, "namespace") : "";
        char key[sizeof(((struct kd_obj *)0)->key)];
        make_key(key, sizeof(key), ns, kd_meta_str(obj, "name"));
        s->rv++;
        set_rv(obj, s->rv);
        struct kd_obj *o = ferry_hashmap_get(s->objs[r], key);
        json_t *prev = NULL;
        if (o) {
                prev = o->obj;
                o->obj = obj;
        } else {
                o = ferry_xcalloc(1, sizeof(*o));
                snprintf(o->key, sizeof(o->key), "%s", key);
                o->obj = obj;
                ferry_hashmap_put(s->objs[r], o->key, o);
                s->n_objs++;
        }
        record(s, r, prev ? type : KD_EV_ADDED, obj, prev);
        json_decref(prev);
        return obj;
}

void kd_store_remove(struct kd_store *s, enum kd_res r, const char *ns, const char *name)
{
        char key[sizeof(((struct kd_obj *)0)->key)];
        make_key(key, sizeof(key), kd_resources[r].namespaced ? ns : "", name);
        struct kd_obj *o = ferry_hashmap_remove(s->objs[r], key);
        if (!o)
                return;
        s->n_objs--;
        /* The real API's DELETED event carries the object at the deletion's version. */
        json_t *last = json_deep_copy(o->obj);
        s->rv++;
        set_rv(last, s->rv);
        record(s, r, KD_EV_DELETED, last, o->obj);
        json_decref(last);
        json_decref(o->obj);
        free(o);
}

static int cmp_objs(const void *a, const void *b)
{
        json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
        int c = strcmp(kd_meta_str(x, "namespace"), kd_meta_str(y, "namespace"));
        return c ? c : strcmp(kd_meta_str(x, "name"), kd_meta_str(y, "name"));
}

json_t *kd_store_snapshot(struct kd_store *s, enum kd_res r, uint64_t at_rv)
{
        if (at_rv && at_rv < s->compacted_rv)
                return NULL;
        /* Start from now and undo the events after at_rv, newest first. */
        struct ferry_hashmap *m = ferry_hashmap_new();
        json_t *keep = json_array(); /* owns the keys below */
        size_t it = 0;
        const char *k;
        void *v;
        while (ferry_hashmap_next(s->objs[r], &it, &k, &v))
                ferry_hashmap_put(m, k, ((struct kd_obj *)v)->obj);
        for (uint64_t rv = s->rv; at_rv && rv > at_rv; rv--) {
                struct kd_event *ev = &s->history[rv % s->history_cap];
                if (ev->rv != rv || ev->res != r)
                        continue;
                char key[sizeof(((struct kd_obj *)0)->key)];
                make_key(key, sizeof(key),
                         kd_resources[r].namespaced ? kd_meta_str(ev->obj, "namespace") : "",
                         kd_meta_str(ev->obj, "name"));
                json_t *ks = json_string(key);
                json_array_append_new(keep, ks);
                if (ev->type == KD_EV_ADDED)
                        ferry_hashmap_remove(m, json_string_value(ks));
                else
                        ferry_hashmap_put(m, json_string_value(ks), ev->prev);
        }
        size_t n = ferry_hashmap_size(m), i = 0;
        json_t **v_arr = ferry_xcalloc(n ? n : 1, sizeof(*v_arr));
        it = 0;
        while (ferry_hashmap_next(m, &it, &k, &v))
                v_arr[i++] = v;
        qsort(v_arr, n, sizeof(*v_arr), cmp_objs);
        json_t *out = json_array();
        for (i = 0; i < n; i++)
                json_array_append(out, v_arr[i]);
        free(v_arr);
        ferry_hashmap_free(m);
        json_decref(keep);
        return out;
}

void kd_store_count(struct kd_store *s, const char *verb, const char *what)
{
        char key[128];
        snprintf(key, sizeof(key), "%s %s", verb, what);
        json_t *c = json_object_get(s->counts, key);
        json_object_set_new(s->counts, key, json_integer(c ? json_integer_value(c) + 1 : 1));
}

json_t *kd_store_dump(struct kd_store *s)
{
        char rvb[32];
        snprintf(rvb, sizeof(rvb), "%llu", (unsigned long long)s->rv);
        json_t *items = json_array();
        for (int r = 0; r < KD_RES_MAX; r++) {
                json_t *snap = kd_store_snapshot(s, (enum kd_res)r, 0);
                json_array_extend(items, snap);
                json_decref(snap);
        }
        return json_pack("{s:s, s:s, s:{s:s}, s:o}", "kind", "List", "apiVersion", "v1", "metadata",
                         "resourceVersion", rvb, "items", items);
}
