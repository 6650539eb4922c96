/* SPDX-License-Identifier: MIT */
/* The usage ledger, the pure part: see usage.h. */
#include "usage.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hashmap.h"
#include "gpu/mig.h"

#define DAY_NS (86400LL * 1000000000)

static const char *const by_names[FERRY_USAGE_BY_MAX] = {"tenant", "namespace", "user", "day",
                                                         "profile"};

void ferry_usage_rec_clear(struct ferry_usage_rec *r)
{
        char **s[] = {&r->uid,     &r->ns,   &r->name,   &r->tenant, &r->user,
                      &r->backend, &r->site, &r->job_id, &r->reason};
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(s); i++) {
                free(*s[i]);
                *s[i] = NULL;
        }
        free(r->gpus);
        r->gpus = NULL;
        r->n_gpus = 0;
}

double ferry_usage_wall(const struct ferry_usage_rec *r, int64_t now_ns)
{
        if (!r->started_ns)
                return 0;
        int64_t end = r->finished_ns ? r->finished_ns : now_ns;
        return end > r->started_ns ? (double)(end - r->started_ns) / 1e9 : 0;
}

double ferry_usage_gpu_fraction(const char *model, const char *profile)
{
        if (!profile || !*profile || !strcmp(profile, FERRY_MIG_WHOLE))
                return 1;
        const struct ferry_mig_geometry *g =
            model && *model ? ferry_mig_geometry_find(model) : NULL;
        int p = g ? ferry_mig_profile_find(g, profile) : -1;
        if (p >= 0)
                return (double)g->profiles[p].compute / g->compute_slices;
        /* "3g.40gb": 3 compute slices; the 7-slice cards are the common case */
        char *end;
        long n = strtol(profile, &end, 10);
        if (n <= 0 || *end != 'g')
                return 1;
        double slices = g ? g->compute_slices : 7;
        return n >= slices ? 1 : (double)n / slices;
}

double ferry_usage_gpu_seconds(const struct ferry_usage_rec *r)
{
        double s = 0;
        for (size_t i = 0; i < r->n_gpus; i++)
                s += r->gpus[i].seconds *
                     ferry_usage_gpu_fraction(r->gpus[i].model, r->gpus[i].profile);
        return s;
}

/* ---- JSON Lines ---- */

static void add_str(struct ferry_buf *b, const char *key, const char *v, bool first)
{
        ferry_buf_printf(b, "%s\"%s\":", first ? "" : ",", key);
        ferry_buf_add_json_str(b, v ? v : "");
}

static void add_time(struct ferry_buf *b, const char *key, int64_t ns)
{
        char t[FERRY_TIME_MAX];
        ferry_buf_printf(b, ",\"%s\":", key);
        if (ns)
                ferry_buf_add_json_str(b, ferry_time_format(ns, 3, t));
        else
                ferry_buf_adds(b, "null");
}

void ferry_usage_rec_json(const struct ferry_usage_rec *r, int64_t now_ns, struct ferry_buf *out)
{
        ferry_buf_addc(out, '{');
        add_str(out, "uid", r->uid, true);
        add_str(out, "namespace", r->ns, false);
        add_str(out, "name", r->name, false);
        add_str(out, "tenant", r->tenant, false);
        add_str(out, "user", r->user, false);
        add_str(out, "backend", r->backend, false);
        add_str(out, "site", r->site, false);
        add_str(out, "job_id", r->job_id, false);
        add_time(out, "created", r->created_ns);
        add_time(out, "started", r->started_ns);
        add_time(out, "finished", r->finished_ns);
        ferry_buf_printf(out,
                         ",\"wall_seconds\":%.3f,\"cpu_seconds\":%.3f,\"cpu_request_milli\":%lld,"
                         "\"memory_request_bytes\":%lld,\"memory_peak_bytes\":%lld,\"gpus\":[",
                         ferry_usage_wall(r, now_ns), r->cpu_s, (long long)r->cpu_request_milli,
                         (long long)r->memory_request_bytes, (long long)r->memory_peak_bytes);
        for (size_t i = 0; i < r->n_gpus; i++) {
                const struct ferry_usage_gpu *g = &r->gpus[i];
                ferry_buf_adds(out, i ? ",{" : "{");
                add_str(out, "uuid", g->uuid, true);
                add_str(out, "model", g->model, false);
                add_str(out, "profile", g->profile, false);
                ferry_buf_printf(out, ",\"seconds\":%.3f}", g->seconds);
        }
        ferry_buf_printf(out, "],\"gpu_seconds\":%.3f,\"exit_code\":%d", ferry_usage_gpu_seconds(r),
                         r->exit_code);
        add_str(out, "reason", r->reason, false);
        ferry_buf_addc(out, '}');
}

static char *dup_field(const json_t *o, const char *key)
{
        const char *s = json_string_value(json_object_get(o, key));
        return s && *s ? ferry_xstrdup(s) : NULL;
}

static int time_field(const json_t *o, const char *key, int64_t *ret, ferry_error_t *err)
{
        const json_t *v = json_object_get(o, key);
        *ret = 0;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v) || ferry_time_parse(json_string_value(v), ret) < 0)
                return ferry_errprintf(err, -EINVAL, "usage record: \"%s\" is not an RFC 3339 time",
                                       key);
        return 0;
}

int ferry_usage_rec_parse(const char *text, size_t len, struct ferry_usage_rec *r,
                          ferry_error_t *err)
{
        json_error_t je;
        json_t *o = json_loadb(text, len, 0, &je);
        int rc = 0;

        memset(r, 0, sizeof(*r));
        if (!json_is_object(o)) {
                json_decref(o);
                return ferry_errprintf(err, -EINVAL, "usage record: not a JSON object (%s)",
                                       je.text);
        }
        if (!json_is_string(json_object_get(o, "uid"))) {
                rc = ferry_errprintf(err, -EINVAL, "usage record: no uid");
                goto out;
        }
        r->uid = dup_field(o, "uid");
        r->ns = dup_field(o, "namespace");
        r->name = dup_field(o, "name");
        r->tenant = dup_field(o, "tenant");
        r->user = dup_field(o, "user");
        r->backend = dup_field(o, "backend");
        r->site = dup_field(o, "site");
        r->job_id = dup_field(o, "job_id");
        r->reason = dup_field(o, "reason");
        if ((rc = time_field(o, "created", &r->created_ns, err)) < 0 ||
            (rc = time_field(o, "started", &r->started_ns, err)) < 0 ||
            (rc = time_field(o, "finished", &r->finished_ns, err)) < 0)
                goto out;
        r->cpu_s = json_number_value(json_object_get(o, "cpu_seconds"));
        r->cpu_request_milli = json_integer_value(json_object_get(o, "cpu_request_milli"));
        r->memory_request_bytes = json_integer_value(json_object_get(o, "memory_request_bytes"));
        r->memory_peak_bytes = json_is_integer(json_object_get(o, "memory_peak_bytes"))
                                   ? json_integer_value(json_object_get(o, "memory_peak_bytes"))
                                   : -1;
        r->exit_code = (int)json_integer_value(json_object_get(o, "exit_code"));
        const json_t *gs = json_object_get(o, "gpus");
        if (gs && !json_is_array(gs)) {
                rc = ferry_errprintf(err, -EINVAL, "usage record: \"gpus\" is not a list");
                goto out;
        }
        r->n_gpus = json_array_size(gs);
        r->gpus = r->n_gpus ? ferry_xcalloc(r->n_gpus, sizeof(*r->gpus)) : NULL;
        for (size_t i = 0; i < r->n_gpus; i++) {
                const json_t *g = json_array_get(gs, i);
                const char *f[] = {"uuid", "model", "profile"};
                char *dst[] = {r->gpus[i].uuid, r->gpus[i].model, r->gpus[i].profile};
                size_t sz[] = {sizeof(r->gpus[i].uuid), sizeof(r->gpus[i].model),
                               sizeof(r->gpus[i].profile)};
                for (size_t k = 0; k < 3; k++) {
                        const char *s = json_string_value(json_object_get(g, f[k]));
                        snprintf(dst[k], sz[k], "%s", s ? s : "");
                }
                r->gpus[i].seconds = json_number_value(json_object_get(g, "seconds"));
        }
out:
        json_decref(o);
        if (rc < 0)
                ferry_usage_rec_clear(r);
        return rc;
}

/* ---- sums ---- */

int ferry_usage_parse_by(const char *list, int keys[FERRY_USAGE_BY_MAX], size_t *n,
                         ferry_error_t *err)
{
        char *copy = ferry_xstrdup(list), *save = NULL;
        int r = 0;
        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                int k;
                for (k = 0; k < FERRY_USAGE_BY_MAX; k++)
                        if (!strcmp(w, by_names[k]))
                                break;
                if (k == FERRY_USAGE_BY_MAX) {
                        r = ferry_errprintf(err, -EINVAL,
                                            "--by %s: group by tenant, namespace, user, day or "
                                            "profile",
                                            w);
                        break;
                }
                for (size_t i = 0; i < *n; i++)
                        if (keys[i] == k) {
                                r = ferry_errprintf(err, -EINVAL, "--by %s given twice", w);
                                goto out;
                        }
                keys[(*n)++] = k;
        }
out:
        free(copy);
        return r;
}

struct group {
        char *key; /* the values joined by \x1f (the hashmap's key) */
        double wall_s, cpu_s, gpu_s;
        uint64_t pods, running;
};

struct ferry_usage_sum {
        int64_t since, until, now;
        int keys[FERRY_USAGE_BY_MAX];
        size_t n_keys;
        struct ferry_hashmap *by_key;
        struct group *g;
        size_t n, cap;
};

struct ferry_usage_sum *ferry_usage_sum_new(int64_t since_ns, int64_t until_ns, const int *keys,
                                            size_t n_keys, int64_t now_ns)
{
        struct ferry_usage_sum *s = ferry_xcalloc(1, sizeof(*s));
        s->since = since_ns;
        s->until = until_ns;
        s->now = now_ns;
        s->n_keys = n_keys < FERRY_USAGE_BY_MAX ? n_keys : FERRY_USAGE_BY_MAX;
        memcpy(s->keys, keys, s->n_keys * sizeof(int));
        s->by_key = ferry_hashmap_new();
        return s;
}

void ferry_usage_sum_free(struct ferry_usage_sum *s)
{
        if (!s)
                return;
        for (size_t i = 0; i < s->n; i++)
                free(s->g[i].key);
        free(s->g);
        ferry_hashmap_free(s->by_key);
        free(s);
}

size_t ferry_usage_sum_groups(const struct ferry_usage_sum *s)
{
        return s->n;
}

static void day_of(int64_t ns, char buf[16])
{
        char t[FERRY_TIME_MAX];
        ferry_time_format(ns, 0, t);
        snprintf(buf, 16, "%.10s", t);
}

static struct group *group_for(struct ferry_usage_sum *s, const struct ferry_usage_rec *r,
                               const char *day, const char *profile)
{
        char key[1024];
        size_t n = 0;
        for (size_t i = 0; i < s->n_keys; i++) {
                const char *v = "";
                switch (s->keys[i]) {
                case FERRY_USAGE_BY_TENANT: v = r->tenant; break;
                case FERRY_USAGE_BY_NAMESPACE: v = r->ns; break;
                case FERRY_USAGE_BY_USER: v = r->user; break;
                case FERRY_USAGE_BY_DAY: v = day; break;
                case FERRY_USAGE_BY_PROFILE: v = profile; break;
                }
                n += (size_t)snprintf(key + n, n < sizeof(key) ? sizeof(key) - n : 0, "%s%s",
                                      i ? "\x1f" : "", v ? v : "");
        }
        if (n >= sizeof(key))
                key[sizeof(key) - 1] = '\0';
        void *v = ferry_hashmap_get(s->by_key, key);
        if (v)
                return &s->g[(uintptr_t)v - 1];
        if (s->n == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 64;
                s->g = ferry_xrealloc(s->g, s->cap * sizeof(*s->g));
                /* the keys live in the groups' own strings: re-point the map */
                for (size_t i = 0; i < s->n; i++)
                        ferry_hashmap_put(s->by_key, s->g[i].key, (void *)(uintptr_t)(i + 1));
        }
        struct group *g = &s->g[s->n++];
        memset(g, 0, sizeof(*g));
        g->key = ferry_xstrdup(key);
        ferry_hashmap_put(s->by_key, g->key, (void *)(uintptr_t)s->n);
        return g;
}

/* One piece of a pod's run (a day, or all of it inside the window): part of
 * its seconds, and the count when it ends (or runs) here. With --by profile
 * each kind of device it holds gets its own GPU-seconds; CPU, wall and the
 * count go to the kind of its first device ("none" without). */
static void add_piece(struct ferry_usage_sum *s, const struct ferry_usage_rec *r, const char *day,
                      double part, bool here, bool by_profile, double wall)
{
        size_t n = by_profile && r->n_gpus ? r->n_gpus : 1;
        for (size_t k = 0; k < n; k++) {
                const char *prof = !by_profile ? "" : r->n_gpus ? r->gpus[k].profile : "none";
                bool seen = false;
                for (size_t j = 0; j < k; j++)
                        seen |= !strcmp(r->gpus[j].profile, prof);
                if (seen)
                        continue;
                double gs = 0;
                for (size_t j = 0; j < r->n_gpus; j++)
                        if (!by_profile || !strcmp(r->gpus[j].profile, prof))
                                gs +=
                                    r->gpus[j].seconds *
                                    ferry_usage_gpu_fraction(r->gpus[j].model, r->gpus[j].profile);
                struct group *g = group_for(s, r, day, prof);
                g->gpu_s += gs * part;
                if (k > 0)
                        continue;
                g->cpu_s += r->cpu_s * part;
                g->wall_s += wall * part;
                if (here && r->finished_ns)
                        g->pods++;
                else if (here)
                        g->running++;
        }
}

static bool in_window(const struct ferry_usage_sum *s, int64_t t)
{
        return (!s->since || t >= s->since) && (!s->until || t < s->until);
}

void ferry_usage_sum_add(struct ferry_usage_sum *s, const struct ferry_usage_rec *r)
{
        bool by_day = false, by_profile = false;
        for (size_t i = 0; i < s->n_keys; i++) {
                by_day |= s->keys[i] == FERRY_USAGE_BY_DAY;
                by_profile |= s->keys[i] == FERRY_USAGE_BY_PROFILE;
        }
        /* the pod counts once: where it ended, where it is now while it runs,
         * or (it never ran) where it ended or was created */
        int64_t at = r->finished_ns ? r->finished_ns : r->started_ns ? s->now : r->created_ns;
        bool counts = in_window(s, at);
        /* the part of its run inside the window */
        double wall = ferry_usage_wall(r, s->now);
        int64_t lo = r->started_ns, hi = r->finished_ns ? r->finished_ns : s->now;
        if (s->since && lo < s->since)
                lo = s->since;
        if (s->until && hi > s->until)
                hi = s->until;
        bool ran_here = r->started_ns && hi > lo && wall > 0;
        if (!ran_here && !counts)
                return;
        int64_t a = ran_here ? lo : at, end = ran_here ? hi : at;
        for (;;) {
                int64_t b = end;
                if (by_day) {
                        int64_t next = (a / DAY_NS + 1) * DAY_NS;
                        if (next < b)
                                b = next;
                }
                char day[16];
                day_of(a, day);
                double part = ran_here ? (double)(b - a) / 1e9 / wall : 0;
                bool here = counts && at >= a && (at < b || b == end);
                add_piece(s, r, day, part, here, by_profile, wall);
                if (b >= end)
                        break;
                a = b;
        }
}

static int by_key_cmp(const void *x, const void *y)
{
        return strcmp(((const struct group *)x)->key, ((const struct group *)y)->key);
}

/* the i-th value of a group's key */
static void key_part(const char *key, size_t i, char *buf, size_t size)
{
        const char *p = key;
        for (size_t k = 0; k < i && p; k++) {
                p = strchr(p, '\x1f');
                if (p)
                        p++;
        }
        if (!p) {
                snprintf(buf, size, "%s", "");
                return;
        }
        size_t n = strcspn(p, "\x1f");
        snprintf(buf, size, "%.*s", (int)n, p);
}

/* a CSV cell: quoted when it holds a comma, a quote or a line break */
static void csv_cell(struct ferry_buf *out, const char *v)
{
        if (!strpbrk(v, ",\"\r\n")) {
                ferry_buf_adds(out, v);
                return;
        }
        ferry_buf_addc(out, '"');
        for (; *v; v++) {
                if (*v == '"')
                        ferry_buf_addc(out, '"');
                ferry_buf_addc(out, *v);
        }
        ferry_buf_addc(out, '"');
}

int ferry_usage_sum_render(const struct ferry_usage_sum *s, const char *format,
                           struct ferry_buf *out, ferry_error_t *err)
{
        static const char *const cols[] = {"pods", "running", "wall_hours", "cpu_hours",
                                           "gpu_hours"};
        struct group *g = ferry_xcalloc(s->n + 1, sizeof(*g));
        memcpy(g, s->g, s->n * sizeof(*g));
        qsort(g, s->n, sizeof(*g), by_key_cmp);
        char v[256];
        int r = 0;

        if (!strcmp(format, "json")) {
                ferry_buf_adds(out, "{\"by\":[");
                for (size_t k = 0; k < s->n_keys; k++)
                        ferry_buf_printf(out, "%s\"%s\"", k ? "," : "", by_names[s->keys[k]]);
                ferry_buf_adds(out, "],\"groups\":[");
                for (size_t i = 0; i < s->n; i++) {
                        ferry_buf_adds(out, i ? ",{" : "{");
                        for (size_t k = 0; k < s->n_keys; k++) {
                                key_part(g[i].key, k, v, sizeof(v));
                                ferry_buf_printf(out, "\"%s\":", by_names[s->keys[k]]);
                                ferry_buf_add_json_str(out, v);
                                ferry_buf_addc(out, ',');
                        }
                        ferry_buf_printf(out,
                                         "\"pods\":%llu,\"running\":%llu,\"wall_seconds\":%.3f,"
                                         "\"cpu_seconds\":%.3f,\"gpu_seconds\":%.3f}",
                                         (unsigned long long)g[i].pods,
                                         (unsigned long long)g[i].running, g[i].wall_s, g[i].cpu_s,
                                         g[i].gpu_s);
                }
                ferry_buf_adds(out, "]}\n");
        } else if (!strcmp(format, "csv") || !strcmp(format, "table")) {
                bool csv = !strcmp(format, "csv");
                size_t nc = s->n_keys + FERRY_ARRAY_SIZE(cols);
                size_t *w = ferry_xcalloc(nc, sizeof(size_t));
                char ***cells = ferry_xcalloc(s->n + 1, sizeof(char **));
                for (size_t i = 0; i <= s->n; i++) {
                        cells[i] = ferry_xcalloc(nc, sizeof(char *));
                        for (size_t k = 0; k < nc; k++) {
                                if (i == 0) { /* the header */
                                        const char *h = k < s->n_keys ? by_names[s->keys[k]]
                                                                      : cols[k - s->n_keys];
                                        snprintf(v, sizeof(v), "%s", h);
                                        if (!csv)
                                                for (char *p = v; *p; p++)
                                                        *p = (char)(*p == '_' ? ' ' : *p - 32);
                                } else if (k < s->n_keys) {
                                        key_part(g[i - 1].key, k, v, sizeof(v));
                                        if (!csv && !v[0])
                                                snprintf(v, sizeof(v), "-");
                                } else {
                                        const struct group *x = &g[i - 1];
                                        size_t c = k - s->n_keys;
                                        if (c == 0)
                                                snprintf(v, sizeof(v), "%llu",
                                                         (unsigned long long)x->pods);
                                        else if (c == 1)
                                                snprintf(v, sizeof(v), "%llu",
                                                         (unsigned long long)x->running);
                                        else
                                                snprintf(v, sizeof(v), "%.3f",
                                                         (c == 2   ? x->wall_s
                                                          : c == 3 ? x->cpu_s
                                                                   : x->gpu_s) /
                                                             3600.0);
                                }
                                cells[i][k] = ferry_xstrdup(v);
                                size_t l = strlen(v);
                                if (l > w[k])
                                        w[k] = l;
                        }
                }
                for (size_t i = 0; i <= s->n; i++) {
                        for (size_t k = 0; k < nc; k++) {
                                if (csv) {
                                        if (k)
                                                ferry_buf_addc(out, ',');
                                        csv_cell(out, cells[i][k]);
                                } else {
                                        ferry_buf_printf(out, "%s%-*s", k ? "   " : "",
                                                         k + 1 < nc ? (int)w[k] : 0, cells[i][k]);
                                }
                                free(cells[i][k]);
                        }
                        ferry_buf_addc(out, '\n');
                        free(cells[i]);
                }
                free(cells);
                free(w);
        } else {
                r = ferry_errprintf(err, -EINVAL, "-o %s: table, json or csv", format);
        }
        free(g);
        return r;
}
