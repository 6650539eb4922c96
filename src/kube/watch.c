/* SPDX-License-Identifier: MIT */
/* The list + watch loop; see watch.h. */
#include "watch.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/thread.h"
#include "common/log.h"

#define WATCH_TIMEOUT_S 290 /* the server ends the stream; we wait a bit longer */
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 30000
#define FAILURES_BEFORE_RELIST 5

struct ferry_kube_informer {
        struct ferry_kube *k;
        char *path;
        char *selector; /* escaped, or NULL */
        struct ferry_kube_informer_ops ops;
        void *ctx;
        pthread_t thread;
        atomic_bool stop;
        atomic_bool synced;
        atomic_uint_fast64_t restarts, relists;
        char rv[128];
        bool gone; /* the stream said 410 */
        pthread_mutex_t lock;
        pthread_cond_t wake;
};

int ferry_kube_watch_parse(const char *line, size_t len, json_t **ret_event, const char **ret_type,
                           json_t **ret_obj, ferry_error_t *err)
{
        json_error_t je;
        json_t *ev = json_loadb(line, len, 0, &je);
        const char *type = json_string_value(json_object_get(ev, "type"));
        json_t *obj = json_object_get(ev, "object");

        if (!ev || !type || !json_is_object(obj)) {
                json_decref(ev);
                return ferry_errprintf(err, -EPROTO, "malformed watch event: %s",
                                       ev ? "no type or object" : je.text);
        }
        *ret_event = ev;
        *ret_type = type;
        *ret_obj = obj;
        return 0;
}

static bool should_stop(void *ctx)
{
        struct ferry_kube_informer *inf = ctx;
        return atomic_load(&inf->stop);
}

static void sleep_ms(struct ferry_kube_informer *inf, int ms)
{
        int64_t deadline = ferry_monotonic_ns() + ms * FERRY_NSEC_PER_MSEC;
        pthread_mutex_lock(&inf->lock);
        while (!atomic_load(&inf->stop) &&
               ferry_cond_wait_until(&inf->wake, &inf->lock, deadline) != ETIMEDOUT)
                ;
        pthread_mutex_unlock(&inf->lock);
}

static void set_rv(struct ferry_kube_informer *inf, json_t *obj)
{
        const char *rv =
            json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
        if (rv && strlen(rv) < sizeof(inf->rv))
                snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
}

static int do_list(struct ferry_kube_informer *inf, ferry_error_t *err)
{
        json_t *items = json_array();
        _cleanup_free_ char *cont = NULL;
        char rv[128] = "";
        int r = 0;

        for (;;) {
                _cleanup_free_ char *path = NULL;
                _cleanup_free_ char *econt = cont ? ferry_kube_query_escape(cont) : NULL;
                json_t *ans = NULL;

                path = ferry_xasprintf("%s?limit=500%s%s%s%s", inf->path,
                                       inf->selector ? "&fieldSelector=" : "",
                                       inf->selector ? inf->selector : "",
                                       econt ? "&continue=" : "", econt ? econt : "");
                r = ferry_kube_get(inf->k, path, &ans, err);
                if (r < 0)
                        break;
                json_array_extend(items, json_object_get(ans, "items"));
                json_t *meta = json_object_get(ans, "metadata");
                const char *lrv = json_string_value(json_object_get(meta, "resourceVersion"));
                const char *c = json_string_value(json_object_get(meta, "continue"));
                if (lrv)
                        snprintf(rv, sizeof(rv), "%s", lrv);
                free(cont);
                cont = c && c[0] ? ferry_xstrdup(c) : NULL;
                json_decref(ans);
                if (!cont)
                        break;
        }
        if (r == 0) {
                snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
                inf->ops.on_sync(inf->ctx, items);
                atomic_store(&inf->synced, true);
        }
        json_decref(items);
        return r;
}

static int on_line(void *ctx, const char *line, size_t len)
{
        struct ferry_kube_informer *inf = ctx;
        json_t *ev, *obj;
        const char *type;
        ferry_error_t err;

        if (ferry_kube_watch_parse(line, len, &ev, &type, &obj, &err) < 0) {
                log_warn("watch %s: %s", inf->path, err.text);
                return 0;
        }
        if (!strcmp(type, "BOOKMARK")) {
                set_rv(inf, obj);
        } else if (!strcmp(type, "ERROR")) {
                json_int_t code = json_integer_value(json_object_get(obj, "code"));
                const char *msg = json_string_value(json_object_get(obj, "message"));
                log_info("watch %s: server error %lld: %s", inf->path, (long long)code,
                         msg ? msg : "");
                json_decref(ev);
                if (code == 410)
                        inf->gone = true;
                return -ESTALE; /* end this stream */
        } else {
                set_rv(inf, obj);
                inf->ops.on_event(inf->ctx, type, obj);
        }
        json_decref(ev);
        return 0;
}

static void *run(void *arg)
{
        struct ferry_kube_informer *inf = arg;
        bool need_list = true;
        bool first_list = true, first_watch = true;
        int backoff = BACKOFF_MIN_MS, failures = 0;

        while (!atomic_load(&inf->stop)) {
                ferry_error_t err = {{0}};
                if (need_list) {
                        if (!first_list)
                                atomic_fetch_add(&inf->relists, 1);
                        first_list = false;
                        if (do_list(inf, &err) < 0) {
                                log_warn("list %s: %s (retrying in %d ms)", inf->path, err.text,
                                         backoff);
                                sleep_ms(inf, backoff);
                                backoff =
                                    backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                                continue;
                        }
                        need_list = false;
                        backoff = BACKOFF_MIN_MS;
                        failures = 0;
                }
                if (!first_watch)
                        atomic_fetch_add(&inf->restarts, 1);
                first_watch = false;
                _cleanup_free_ char *erv = ferry_kube_query_escape(inf->rv);
                _cleanup_free_ char *path = ferry_xasprintf(
                    "%s?watch=1&allowWatchBookmarks=true&timeoutSeconds=%d&resourceVersion=%s%s%s",
                    inf->path, WATCH_TIMEOUT_S - 10, erv, inf->selector ? "&fieldSelector=" : "",
                    inf->selector ? inf->selector : "");
                long code = 0;
                json_t *body = NULL;
                int64_t t0 = ferry_monotonic_ns();
                inf->gone = false;
                int r = ferry_kube_stream_(inf->k, path, WATCH_TIMEOUT_S, on_line, should_stop, inf,
                                           &code, &body, &err);
                json_decref(body);
                if (atomic_load(&inf->stop))
                        break;
                if (inf->gone || code == 410) {
                        need_list = true;
                        continue;
                }
                bool good = r >= 0 && code == 200;
                if (good || ferry_monotonic_ns() - t0 > 10 * 1000000000LL) {
                        /* a stream that lived a while counts as success */
                        backoff = BACKOFF_MIN_MS;
                        failures = 0;
                        if (good)
                                continue;
                }
                failures++;
                if (r < 0 && r != -ESTALE)
                        log_warn("watch %s: %s (reconnecting in %d ms)", inf->path, err.text,
                                 backoff);
                else if (code != 200)
                        log_warn("watch %s: answered %ld (reconnecting in %d ms)", inf->path, code,
                                 backoff);
                sleep_ms(inf, backoff);
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                if (failures >= FAILURES_BEFORE_RELIST)
                        need_list = true;
        }
        return NULL;
}

int ferry_kube_informer_start(struct ferry_kube *k, const char *path, const char *field_selector,
                              const struct ferry_kube_informer_ops *ops, void *ctx,
                              struct ferry_kube_informer **ret, ferry_error_t *err)
{
        struct ferry_kube_informer *inf = ferry_xcalloc(1, sizeof(*inf));
        int r;

        inf->k = k;
        inf->path = ferry_xstrdup(path);
        inf->selector = field_selector ? ferry_kube_query_escape(field_selector) : NULL;
        inf->ops = *ops;
        inf->ctx = ctx;
        pthread_mutex_init(&inf->lock, NULL);
        ferry_cond_init(&inf->wake);
        r = -pthread_create(&inf->thread, NULL, run, inf);
        if (r < 0) {
                free(inf->path);
                free(inf->selector);
                free(inf);
                return ferry_errprintf(err, r, "cannot start the watch thread: %s", strerror(-r));
        }
        *ret = inf;
        return 0;
}

void ferry_kube_informer_stop(struct ferry_kube_informer *inf)
{
        if (!inf)
                return;
        pthread_mutex_lock(&inf->lock);
        atomic_store(&inf->stop, true);
        pthread_cond_broadcast(&inf->wake);
        pthread_mutex_unlock(&inf->lock);
        pthread_join(inf->thread, NULL);
        pthread_mutex_destroy(&inf->lock);
        pthread_cond_destroy(&inf->wake);
        free(inf->path);
        free(inf->selector);
        free(inf);
}

bool ferry_kube_informer_synced(struct ferry_kube_informer *inf)
{
        return atomic_load(&inf->synced);
}

uint64_t ferry_kube_informer_restarts(struct ferry_kube_informer *inf)
{
        return atomic_load(&inf->restarts);
}

uint64_t ferry_kube_informer_relists(struct ferry_kube_informer *inf)
{
        return atomic_load(&inf->relists);
}
