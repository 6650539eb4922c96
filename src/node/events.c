/* SPDX-License-Identifier: MIT */
/* Kubernetes Events with client-go's correlation; see events.h. */
#include "events.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/thread.h"

#define MAX_TRIES 3

struct ferry_events {
        struct ferry_kube *kube;
        char *component, *host;
        ferry_events_write_fn write;
        void *write_ctx;

        pthread_mutex_t lock;
        pthread_cond_t cv;
        /* key -> {"ref","type","reason","message","n","first","last","tries"} */
        json_t *pending;
        /* key -> {"name","ns","count","first","last"}: Events written, for
         * correlation; only the flusher touches it */
        json_t *cache;
        uint64_t seq;
        struct ferry_events_stats stats;
        pthread_t thread;
        bool started, stopping;
};

static const char *sget(const json_t *o, const char *k)
{
        return json_string_value(json_object_get(o, k));
}

static int kube_write(void *ctx, const char *method, const char *path, const json_t *obj,
                      ferry_error_t *err)
{
        struct ferry_kube *kube = ctx;
        if (!strcmp(method, "POST"))
                return ferry_kube_create(kube, path, obj, NULL, err);
        return ferry_kube_merge_patch(kube, path, obj, NULL, err);
}

struct ferry_events *ferry_events_new(struct ferry_kube *kube, const char *component,
                                      const char *host)
{
        struct ferry_events *ev = ferry_xcalloc(1, sizeof(*ev));
        ev->kube = kube;
        ev->component = ferry_xstrdup(component);
        ev->host = ferry_xstrdup(host ? host : "");
        ev->write = kube_write;
        ev->write_ctx = kube;
        pthread_mutex_init(&ev->lock, NULL);
        ferry_cond_init(&ev->cv);
        ev->pending = json_object();
        ev->cache = json_object();
        return ev;
}

void ferry_events_set_writer(struct ferry_events *ev, ferry_events_write_fn fn, void *ctx)
{
        ev->write = fn;
        ev->write_ctx = ctx;
}

/* ---- references ---- */

json_t *ferry_events_pod_ref(const json_t *pod)
{
        const json_t *meta = json_object_get(pod, "metadata");
        json_t *ref = json_pack("{s:s,s:s}", "kind", "Pod", "apiVersion", "v1");
        const char *keys[] = {"namespace", "name", "uid", "resourceVersion"};
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(keys); i++)
                if (sget(meta, keys[i]))
                        json_object_set_new(ref, keys[i], json_string(sget(meta, keys[i])));
        return ref;
}

json_t *ferry_events_node_ref(const char *name, const char *uid)
{
        /* the kubelet's node reference: no namespace; its events go to "default" */
        return json_pack("{s:s,s:s,s:s,s:s}", "kind", "Node", "apiVersion", "v1", "name", name,
                         "uid", uid && uid[0] ? uid : name);
}

/* ---- emit ---- */

static char *key_of(const json_t *ref, const char *type, const char *reason)
{
        /* the message is not part of the key: a repeat with new text (another
         * error from the same flapping site) still counts as a repeat */
        return ferry_xasprintf(
            "%s|%s|%s|%s|%s|%s", sget(ref, "namespace") ? sget(ref, "namespace") : "",
            sget(ref, "kind") ? sget(ref, "kind") : "", sget(ref, "name") ? sget(ref, "name") : "",
            sget(ref, "uid") ? sget(ref, "uid") : "", type, reason);
}

void ferry_events_emit_at(struct ferry_events *ev, int64_t now_ns, const json_t *ref,
                          const char *type, const char *reason, const char *message)
{
        if (!ev || !ref || !sget(ref, "name"))
                return;
        _cleanup_free_ char *key = key_of(ref, type, reason);
        _cleanup_free_ char *msg = ferry_xstrndup(message ? message : "", FERRY_EVENTS_MAX_MESSAGE);
        pthread_mutex_lock(&ev->lock);
        json_t *p = json_object_get(ev->pending, key);
        if (p) {
                json_object_set_new(p, "n",
                                    json_integer(json_integer_value(json_object_get(p, "n")) + 1));
                json_object_set_new(p, "last", json_integer(now_ns));
                json_object_set_new(p, "message", json_string(msg));
                json_object_set(p, "ref", (json_t *)ref); /* the newest resourceVersion */
        } else if (json_object_size(ev->pending) >= FERRY_EVENTS_MAX_PENDING) {
                ev->stats.dropped++;
        } else {
                json_object_set_new(ev->pending, key,
                                    json_pack("{s:O,s:s,s:s,s:s,s:I,s:I,s:I,s:i}", "ref", ref,
                                              "type", type, "reason", reason, "message", msg, "n",
                                              (json_int_t)1, "first", (json_int_t)now_ns, "last",
                                              (json_int_t)now_ns, "tries", 0));
        }
        pthread_mutex_unlock(&ev->lock);
}

void ferry_events_emit(struct ferry_events *ev, const json_t *ref, const char *type,
                       const char *reason, const char *fmt, ...)
{
        if (!ev)
                return;
        char msg[FERRY_EVENTS_MAX_MESSAGE + 1];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        ferry_events_emit_at(ev, ferry_now_ns(), ref, type, reason, msg);
}

/* ---- flush ---- */

static char *ts(int64_t ns, char buf[FERRY_TIME_MAX])
{
        return ferry_time_format(ns, 0, buf);
}

/* Keep the cache bounded: drop the entry used longest ago. */
static void cache_trim(struct ferry_events *ev)
{
        while (json_object_size(ev->cache) >= FERRY_EVENTS_MAX_CACHE) {
                const char *k, *oldest = NULL;
                json_t *v;
                json_int_t best = INT64_MAX;
                json_object_foreach(ev->cache, k, v)
                {
                        json_int_t l = json_integer_value(json_object_get(v, "last"));
                        if (l < best) {
                                best = l;
                                oldest = k;
                        }
                }
                if (!oldest)
                        return;
                json_object_del(ev->cache, oldest);
        }
}

static int create_event(struct ferry_events *ev, const char *key, const json_t *p,
                        ferry_error_t *err)
{
        const json_t *ref = json_object_get(p, "ref");
        const char *ns = sget(ref, "namespace") && sget(ref, "namespace")[0]
                             ? sget(ref, "namespace")
                             : "default";
        char first[FERRY_TIME_MAX], last[FERRY_TIME_MAX];
        json_int_t n = json_integer_value(json_object_get(p, "n"));
        int64_t last_ns = json_integer_value(json_object_get(p, "last"));
        ts(json_integer_value(json_object_get(p, "first")), first);
        ts(last_ns, last);
        _cleanup_free_ char *path = ferry_xasprintf("/api/v1/namespaces/%s/events", ns);
        int r = -EEXIST;
        for (int attempt = 0; attempt < 2 && r == -EEXIST; attempt++) {
                /* client-go's name: the object's name and the time in hex */
                _cleanup_free_ char *name =
                    ferry_xasprintf("%s.%llx", sget(ref, "name"),
                                    (unsigned long long)(last_ns + (int64_t)ev->seq++));
                json_t *e =
                    json_pack("{s:s,s:s,s:{s:s,s:s},s:O,s:s,s:s,s:s,s:{s:s,s:s},s:s,s:s,s:I,"
                              "s:s,s:s,s:n}",
                              "apiVersion", "v1", "kind", "Event", "metadata", "name", name,
                              "namespace", ns, "involvedObject", ref, "reason", sget(p, "reason"),
                              "message", sget(p, "message"), "type", sget(p, "type"), "source",
                              "component", ev->component, "host", ev->host, "firstTimestamp", first,
                              "lastTimestamp", last, "count", n, "reportingComponent",
                              ev->component, "reportingInstance", ev->host, "eventTime");
                r = ev->write(ev->write_ctx, "POST", path, e, err);
                json_decref(e);
                if (r == 0) {
                        cache_trim(ev);
                        json_object_set_new(ev->cache, key,
                                            json_pack("{s:s,s:s,s:I,s:I}", "name", name, "ns", ns,
                                                      "count", n, "last", (json_int_t)last_ns));
                }
        }
        return r;
}

static int update_event(struct ferry_events *ev, json_t *c, const json_t *p, ferry_error_t *err)
{
        char last[FERRY_TIME_MAX];
        int64_t last_ns = json_integer_value(json_object_get(p, "last"));
        json_int_t count = json_integer_value(json_object_get(c, "count")) +
                           json_integer_value(json_object_get(p, "n"));
        _cleanup_free_ char *path =
            ferry_xasprintf("/api/v1/namespaces/%s/events/%s", sget(c, "ns"), sget(c, "name"));
        json_t *patch = json_pack("{s:I,s:s,s:s}", "count", count, "lastTimestamp",
                                  ts(last_ns, last), "message", sget(p, "message"));
        int r = ev->write(ev->write_ctx, "PATCH", path, patch, err);
        json_decref(patch);
        if (r == 0) {
                json_object_set_new(c, "count", json_integer(count));
                json_object_set_new(c, "last", json_integer(last_ns));
        }
        return r;
}

/* A write that failed for a reason that may pass (the API is down): back to
 * pending, merged with what arrived meanwhile, a few times at most. */
static void requeue(struct ferry_events *ev, const char *key, json_t *p)
{
        int tries = (int)json_integer_value(json_object_get(p, "tries")) + 1;
        pthread_mutex_lock(&ev->lock);
        json_t *now = json_object_get(ev->pending, key);
        if (tries >= MAX_TRIES) {
                ev->stats.dropped++;
        } else if (now) {
                json_object_set_new(now, "n",
                                    json_integer(json_integer_value(json_object_get(now, "n")) +
                                                 json_integer_value(json_object_get(p, "n"))));
                json_object_set(now, "first", json_object_get(p, "first"));
                json_object_set_new(now, "tries", json_integer(tries));
        } else if (json_object_size(ev->pending) < FERRY_EVENTS_MAX_PENDING) {
                json_object_set_new(p, "tries", json_integer(tries));
                json_object_set(ev->pending, key, p);
        } else {
                ev->stats.dropped++;
        }
        pthread_mutex_unlock(&ev->lock);
}

int ferry_events_flush(struct ferry_events *ev, int64_t now_ns)
{
        pthread_mutex_lock(&ev->lock);
        json_t *batch = ev->pending;
        ev->pending = json_object();
        pthread_mutex_unlock(&ev->lock);

        int writes = 0;
        const char *key;
        json_t *p;
        json_object_foreach(batch, key, p)
        {
                ferry_error_t err = {{0}};
                json_t *c = json_object_get(ev->cache, key);
                int r = -ENOENT;
                bool update = false;
                if (c && now_ns - json_integer_value(json_object_get(c, "last")) <=
                             (int64_t)FERRY_EVENTS_WINDOW_S * 1000000000) {
                        update = true;
                        r = update_event(ev, c, p, &err);
                        writes++;
                }
                if (r == -ENOENT) {
                        /* new, out of the window, or the Event expired or was deleted */
                        json_object_del(ev->cache, key);
                        update = false;
                        r = create_event(ev, key, p, &err);
                        writes++;
                }
                pthread_mutex_lock(&ev->lock);
                if (r == 0 && update)
                        ev->stats.updated++;
                else if (r == 0)
                        ev->stats.created++;
                else
                        ev->stats.failed++;
                pthread_mutex_unlock(&ev->lock);
                if (r < 0) {
                        log_debug("event %s %s: %s", sget(p, "reason"),
                                  sget(json_object_get(p, "ref"), "name"), err.text);
                        if (ferry_error_transient(r) || r == -EIO || r == -EREMOTEIO)
                                requeue(ev, key, p);
                }
        }
        json_decref(batch);
        return writes;
}

/* ---- thread ---- */

static void *flusher(void *arg)
{
        struct ferry_events *ev = arg;
        pthread_mutex_lock(&ev->lock);
        while (!ev->stopping) {
                ferry_cond_wait_ms(&ev->cv, &ev->lock, 1000);
                pthread_mutex_unlock(&ev->lock);
                ferry_events_flush(ev, ferry_now_ns());
                pthread_mutex_lock(&ev->lock);
        }
        pthread_mutex_unlock(&ev->lock);
        return NULL;
}

int ferry_events_start(struct ferry_events *ev, ferry_error_t *err)
{
        int r = -pthread_create(&ev->thread, NULL, flusher, ev);
        if (r < 0)
                return ferry_errprintf(err, r, "cannot start the event recorder");
        ev->started = true;
        return 0;
}

void ferry_events_stop(struct ferry_events *ev)
{
        if (!ev || !ev->started)
                return;
        pthread_mutex_lock(&ev->lock);
        ev->stopping = true;
        pthread_cond_broadcast(&ev->cv);
        pthread_mutex_unlock(&ev->lock);
        pthread_join(ev->thread, NULL);
        ev->started = false;
}

void ferry_events_free(struct ferry_events *ev)
{
        if (!ev)
                return;
        ferry_events_stop(ev);
        json_decref(ev->pending);
        json_decref(ev->cache);
        free(ev->component);
        free(ev->host);
        pthread_mutex_destroy(&ev->lock);
        pthread_cond_destroy(&ev->cv);
        free(ev);
}

void ferry_events_stats(struct ferry_events *ev, struct ferry_events_stats *ret)
{
        pthread_mutex_lock(&ev->lock);
        *ret = ev->stats;
        pthread_mutex_unlock(&ev->lock);
}
