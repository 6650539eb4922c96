/* SPDX-License-Identifier: MIT */
#include "status.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

static const char *const phase_names[FERRY_PHASE_MAX] = {
    [FERRY_PHASE_PENDING] = "Pending",     [FERRY_PHASE_RUNNING] = "Running",
    [FERRY_PHASE_SUCCEEDED] = "Succeeded", [FERRY_PHASE_FAILED] = "Failed",
    [FERRY_PHASE_UNKNOWN] = "Unknown",
};

const char *ferry_phase_name(enum ferry_phase p)
{
        return p < FERRY_PHASE_MAX ? phase_names[p] : "Unknown";
}

int ferry_phase_from_name(const char *s)
{
        for (int i = 0; i < FERRY_PHASE_MAX; i++)
                if (s && !strcmp(s, phase_names[i]))
                        return i;
        return -EINVAL;
}

static void set_name(char *dst, size_t size, const char *src)
{
        snprintf(dst, size, "%s", src ? src : "");
}

void ferry_pod_status_init(struct ferry_pod_status *st, const char *const *init_names,
                           size_t n_init, const char *const *names, size_t n)
{
        memset(st, 0, sizeof(*st));
        st->phase = FERRY_PHASE_PENDING;
        st->n_init = (uint16_t)n_init;
        st->n_containers = (uint16_t)n;
        st->c = ferry_xcalloc(n_init + n, sizeof(*st->c));
        for (size_t i = 0; i < n_init + n; i++) {
                struct ferry_cstatus *c = &st->c[i];
                set_name(c->name, sizeof(c->name), i < n_init ? init_names[i] : names[i - n_init]);
                c->state = FERRY_C_WAITING;
                set_name(c->reason, sizeof(c->reason),
                         i < n_init || n_init == 0 ? "ContainerCreating" : "PodInitializing");
        }
}

void ferry_cstatus_set_message(struct ferry_cstatus *c, const char *msg)
{
        free(c->message);
        c->message = msg && msg[0] ? ferry_xstrdup(msg) : NULL;
}

void ferry_pod_status_set_message(struct ferry_pod_status *st, const char *msg)
{
        free(st->message);
        st->message = msg && msg[0] ? ferry_xstrdup(msg) : NULL;
}

void ferry_pod_status_copy(struct ferry_pod_status *dst, const struct ferry_pod_status *src)
{
        size_t n = (size_t)src->n_init + src->n_containers;
        *dst = *src;
        dst->message = src->message ? ferry_xstrdup(src->message) : NULL;
        dst->c = ferry_xcalloc(n, sizeof(*dst->c));
        for (size_t i = 0; i < n; i++) {
                dst->c[i] = src->c[i];
                dst->c[i].message = src->c[i].message ? ferry_xstrdup(src->c[i].message) : NULL;
        }
}

static void set_msg(char **dst, const char *src)
{
        if ((!*dst && !src) || (*dst && src && !strcmp(*dst, src)))
                return;
        free(*dst);
        *dst = src ? ferry_xstrdup(src) : NULL;
}

void ferry_pod_status_assign(struct ferry_pod_status *dst, const struct ferry_pod_status *src)
{
        size_t n = (size_t)src->n_init + src->n_containers;
        if (dst->n_init != src->n_init || dst->n_containers != src->n_containers || !dst->c) {
                ferry_pod_status_clear(dst);
                ferry_pod_status_copy(dst, src);
                return;
        }
        dst->phase = src->phase;
        memcpy(dst->reason, src->reason, sizeof(dst->reason));
        set_msg(&dst->message, src->message);
        for (size_t i = 0; i < n; i++) {
                char *m = dst->c[i].message;
                dst->c[i] = src->c[i];
                dst->c[i].message = m;
                set_msg(&dst->c[i].message, src->c[i].message);
        }
}

void ferry_pod_status_clear(struct ferry_pod_status *st)
{
        size_t n = (size_t)st->n_init + st->n_containers;
        for (size_t i = 0; st->c && i < n; i++)
                free(st->c[i].message);
        free(st->c);
        free(st->message);
        memset(st, 0, sizeof(*st));
}

static bool str_eq(const char *a, const char *b)
{
        return (!a && !b) || (a && b && !strcmp(a, b));
}

bool ferry_pod_status_equal(const struct ferry_pod_status *a, const struct ferry_pod_status *b)
{
        if (a->phase != b->phase || a->n_init != b->n_init || a->n_containers != b->n_containers ||
            strcmp(a->reason, b->reason) || !str_eq(a->message, b->message))
                return false;
        for (size_t i = 0; i < (size_t)a->n_init + a->n_containers; i++) {
                const struct ferry_cstatus *x = &a->c[i], *y = &b->c[i];
                if (x->state != y->state || x->exit_code != y->exit_code ||
                    x->signal != y->signal || x->started_ns != y->started_ns ||
                    x->finished_ns != y->finished_ns || x->ready != y->ready ||
                    x->restart_count != y->restart_count || strcmp(x->name, y->name) ||
                    strcmp(x->reason, y->reason) || !str_eq(x->message, y->message))
                        return false;
        }
        return true;
}

struct ferry_cstatus *ferry_pod_status_find(struct ferry_pod_status *st, const char *name)
{
        for (size_t i = 0; i < (size_t)st->n_init + st->n_containers; i++)
                if (!strcmp(st->c[i].name, name))
                        return &st->c[i];
        return NULL;
}

enum ferry_phase ferry_pod_status_derive_phase(const struct ferry_pod_status *st)
{
        size_t ni = st->n_init, n = st->n_containers;
        bool any_started = false;

        for (size_t i = 0; i < ni; i++) {
                const struct ferry_cstatus *c = &st->c[i];
                if (c->state == FERRY_C_TERMINATED && c->exit_code != 0)
                        return FERRY_PHASE_FAILED;
                if (c->state != FERRY_C_WAITING || c->started_ns)
                        any_started = true;
        }
        size_t done = 0, failed = 0;
        for (size_t i = ni; i < ni + n; i++) {
                const struct ferry_cstatus *c = &st->c[i];
                if (c->state == FERRY_C_TERMINATED) {
                        done++;
                        if (c->exit_code != 0)
                                failed++;
                }
                if (c->state != FERRY_C_WAITING)
                        any_started = true;
        }
        if (n > 0 && done == n)
                return failed ? FERRY_PHASE_FAILED : FERRY_PHASE_SUCCEEDED;
        for (size_t i = ni; i < ni + n; i++)
                if (st->c[i].state != FERRY_C_WAITING)
                        return FERRY_PHASE_RUNNING;
        (void)any_started;
        return FERRY_PHASE_PENDING;
}

static void add_time(struct ferry_buf *b, const char *key, int64_t ns)
{
        char ts[FERRY_TIME_MAX];
        ferry_buf_printf(b, ",\"%s\":", key);
        if (ns == 0) {
                ferry_buf_adds(b, "null");
                return;
        }
        ferry_buf_addc(b, '"');
        ferry_buf_adds(b, ferry_time_format(ns, 0, ts));
        ferry_buf_addc(b, '"');
}

static void cstatus_json(struct ferry_buf *b, const struct ferry_cstatus *c)
{
        ferry_buf_adds(b, "{\"name\":");
        ferry_buf_add_json_str(b, c->name);
        ferry_buf_adds(b, ",\"state\":{");
        switch (c->state) {
        case FERRY_C_WAITING:
                ferry_buf_adds(b, "\"waiting\":{\"reason\":");
                ferry_buf_add_json_str(b, c->reason);
                if (c->message) {
                        ferry_buf_adds(b, ",\"message\":");
                        ferry_buf_add_json_str(b, c->message);
                }
                ferry_buf_addc(b, '}');
                break;
        case FERRY_C_RUNNING:
                ferry_buf_adds(b, "\"running\":{");
                {
                        char ts[FERRY_TIME_MAX];
                        ferry_buf_adds(b, "\"startedAt\":");
                        if (c->started_ns) {
                                ferry_buf_addc(b, '"');
                                ferry_buf_adds(b, ferry_time_format(c->started_ns, 0, ts));
                                ferry_buf_addc(b, '"');
                        } else {
                                ferry_buf_adds(b, "null");
                        }
                }
                ferry_buf_addc(b, '}');
                break;
        case FERRY_C_TERMINATED:
                ferry_buf_printf(b, "\"terminated\":{\"exitCode\":%d", (int)c->exit_code);
                if (c->signal)
                        ferry_buf_printf(b, ",\"signal\":%d", (int)c->signal);
                if (c->reason[0]) {
                        ferry_buf_adds(b, ",\"reason\":");
                        ferry_buf_add_json_str(b, c->reason);
                }
                if (c->message) {
                        ferry_buf_adds(b, ",\"message\":");
                        ferry_buf_add_json_str(b, c->message);
                }
                add_time(b, "startedAt", c->started_ns);
                add_time(b, "finishedAt", c->finished_ns);
                ferry_buf_addc(b, '}');
                break;
        }
        ferry_buf_printf(b,
                         "},\"lastState\":{},\"ready\":%s,\"restartCount\":%d,"
                         "\"image\":\"\",\"imageID\":\"\"",
                         c->ready ? "true" : "false", (int)c->restart_count);
        if (c->started_ns && c->state == FERRY_C_RUNNING)
                ferry_buf_adds(b, ",\"started\":true");
        ferry_buf_addc(b, '}');
}

void ferry_pod_status_to_json(struct ferry_buf *b, const char *name, const char *uid,
                              const char *ns, const char *jid, const struct ferry_pod_status *st)
{
        ferry_buf_adds(b, "{\"name\":");
        ferry_buf_add_json_str(b, name);
        ferry_buf_adds(b, ",\"UID\":");
        ferry_buf_add_json_str(b, uid);
        ferry_buf_adds(b, ",\"namespace\":");
        ferry_buf_add_json_str(b, ns);
        ferry_buf_adds(b, ",\"JID\":");
        ferry_buf_add_json_str(b, jid ? jid : "");
        ferry_buf_adds(b, ",\"containers\":[");
        for (size_t i = st->n_init; i < (size_t)st->n_init + st->n_containers; i++) {
                if (i > st->n_init)
                        ferry_buf_addc(b, ',');
                cstatus_json(b, &st->c[i]);
        }
        ferry_buf_adds(b, "],\"initContainers\":");
        if (st->n_init == 0) {
                ferry_buf_adds(b, "null");
        } else {
                ferry_buf_addc(b, '[');
                for (size_t i = 0; i < st->n_init; i++) {
                        if (i)
                                ferry_buf_addc(b, ',');
                        cstatus_json(b, &st->c[i]);
                }
                ferry_buf_addc(b, ']');
        }
        /* Ferry extensions: upstream clients ignore unknown fields. */
        ferry_buf_adds(b, ",\"phase\":");
        ferry_buf_add_json_str(b, ferry_phase_name(st->phase));
        if (st->reason[0]) {
                ferry_buf_adds(b, ",\"reason\":");
                ferry_buf_add_json_str(b, st->reason);
        }
        if (st->message) {
                ferry_buf_adds(b, ",\"message\":");
                ferry_buf_add_json_str(b, st->message);
        }
        ferry_buf_addc(b, '}');
}

/* Store form: {"p":phase,"r":reason,"m":msg,"i":n_init,"c":[[name,state,reason,msg,start,finish,exit,signal,ready,restarts],...]} */
void ferry_pod_status_serialize(struct ferry_buf *b, const struct ferry_pod_status *st)
{
        ferry_buf_printf(b, "{\"p\":%d,\"i\":%d,\"r\":", st->phase, st->n_init);
        ferry_buf_add_json_str(b, st->reason);
        ferry_buf_adds(b, ",\"m\":");
        if (st->message)
                ferry_buf_add_json_str(b, st->message);
        else
                ferry_buf_adds(b, "null");
        ferry_buf_adds(b, ",\"c\":[");
        for (size_t i = 0; i < (size_t)st->n_init + st->n_containers; i++) {
                const struct ferry_cstatus *c = &st->c[i];
                if (i)
                        ferry_buf_addc(b, ',');
                ferry_buf_addc(b, '[');
                ferry_buf_add_json_str(b, c->name);
                ferry_buf_printf(b, ",%d,", c->state);
                ferry_buf_add_json_str(b, c->reason);
                ferry_buf_addc(b, ',');
                if (c->message)
                        ferry_buf_add_json_str(b, c->message);
                else
                        ferry_buf_adds(b, "null");
                ferry_buf_printf(b, ",%lld,%lld,%d,%d,%d,%d]", (long long)c->started_ns,
                                 (long long)c->finished_ns, (int)c->exit_code, (int)c->signal,
                                 c->ready ? 1 : 0, (int)c->restart_count);
        }
        ferry_buf_adds(b, "]}");
}

int ferry_pod_status_deserialize(const char *s, struct ferry_pod_status *st)
{
        json_error_t jerr;
        json_t *root = json_loads(s, 0, &jerr);
        json_t *arr;
        int r = -EINVAL;

        memset(st, 0, sizeof(*st));
        if (!root)
                return -EINVAL;
        arr = json_object_get(root, "c");
        if (!json_is_array(arr) || !json_is_integer(json_object_get(root, "p")) ||
            !json_is_integer(json_object_get(root, "i")))
                goto out;
        size_t n = json_array_size(arr);
        json_int_t ni = json_integer_value(json_object_get(root, "i"));
        int64_t phase = json_integer_value(json_object_get(root, "p"));
        if (ni < 0 || (size_t)ni > n || n > 0xffff || phase < 0 || phase >= FERRY_PHASE_MAX)
                goto out;
        st->phase = (uint8_t)phase;
        st->n_init = (uint16_t)ni;
        st->n_containers = (uint16_t)(n - (size_t)ni);
        set_name(st->reason, sizeof(st->reason), json_string_value(json_object_get(root, "r")));
        ferry_pod_status_set_message(st, json_string_value(json_object_get(root, "m")));
        st->c = ferry_xcalloc(n, sizeof(*st->c));
        for (size_t i = 0; i < n; i++) {
                json_t *e = json_array_get(arr, i);
                struct ferry_cstatus *c = &st->c[i];
                if (!json_is_array(e) || json_array_size(e) != 10)
                        goto fail;
                set_name(c->name, sizeof(c->name), json_string_value(json_array_get(e, 0)));
                c->state = (uint8_t)json_integer_value(json_array_get(e, 1));
                set_name(c->reason, sizeof(c->reason), json_string_value(json_array_get(e, 2)));
                ferry_cstatus_set_message(c, json_string_value(json_array_get(e, 3)));
                c->started_ns = json_integer_value(json_array_get(e, 4));
                c->finished_ns = json_integer_value(json_array_get(e, 5));
                c->exit_code = (int32_t)json_integer_value(json_array_get(e, 6));
                c->signal = (int16_t)json_integer_value(json_array_get(e, 7));
                c->ready = json_integer_value(json_array_get(e, 8)) != 0;
                c->restart_count = (int32_t)json_integer_value(json_array_get(e, 9));
                if (c->state > FERRY_C_TERMINATED)
                        goto fail;
        }
        r = 0;
        goto out;
fail:
        ferry_pod_status_clear(st);
out:
        json_decref(root);
        return r;
}

/* Packed layout per container: u8 state, u8 ready, i16 signal, i32 exit,
 * i32 restarts, i64 started, i64 finished, u8 name len, name, u8 reason len,
 * reason, u16 message len, message. Prefixed by a u16 container count. */
static unsigned char *put(unsigned char *o, const void *v, size_t n)
{
        memcpy(o, v, n);
        return o + n;
}

unsigned char *ferry_pod_status_pack(const struct ferry_pod_status *st)
{
        size_t n = (size_t)st->n_init + st->n_containers, size = 2;
        for (size_t i = 0; i < n; i++) {
                const struct ferry_cstatus *c = &st->c[i];
                size_t ml = c->message ? strlen(c->message) : 0;
                size += 28 + 1 + strlen(c->name) + 1 + strlen(c->reason) + 2 +
                        (ml > 65535 ? 65535 : ml);
        }
        unsigned char *b = ferry_xmalloc(size), *o = b;
        uint16_t cnt = (uint16_t)n;
        o = put(o, &cnt, 2);
        for (size_t i = 0; i < n; i++) {
                const struct ferry_cstatus *c = &st->c[i];
                uint8_t state = c->state, ready = c->ready;
                uint8_t nl = (uint8_t)strlen(c->name), rl = (uint8_t)strlen(c->reason);
                size_t ml0 = c->message ? strlen(c->message) : 0;
                uint16_t ml = (uint16_t)(ml0 > 65535 ? 65535 : ml0);
                o = put(o, &state, 1);
                o = put(o, &ready, 1);
                o = put(o, &c->signal, 2);
                o = put(o, &c->exit_code, 4);
                o = put(o, &c->restart_count, 4);
                o = put(o, &c->started_ns, 8);
                o = put(o, &c->finished_ns, 8);
                o = put(o, &nl, 1);
                o = put(o, c->name, nl);
                o = put(o, &rl, 1);
                o = put(o, c->reason, rl);
                o = put(o, &ml, 2);
                if (ml)
                        o = put(o, c->message, ml);
        }
        return b;
}

int ferry_pod_status_unpack(const unsigned char *b, struct ferry_pod_status *st)
{
        uint16_t cnt;
        const unsigned char *p = b;

        memcpy(&cnt, p, 2);
        p += 2;
        if (cnt != (size_t)st->n_init + st->n_containers)
                return -EINVAL;
        st->c = ferry_xcalloc(cnt, sizeof(*st->c));
        for (size_t i = 0; i < cnt; i++) {
                struct ferry_cstatus *c = &st->c[i];
                uint8_t nl, rl;
                uint16_t ml;
                c->state = p[0];
                c->ready = p[1] != 0;
                p += 2;
                memcpy(&c->signal, p, 2);
                memcpy(&c->exit_code, p + 2, 4);
                memcpy(&c->restart_count, p + 6, 4);
                memcpy(&c->started_ns, p + 10, 8);
                memcpy(&c->finished_ns, p + 18, 8);
                p += 26;
                nl = *p++;
                memcpy(c->name, p, nl < FERRY_NAME_MAX ? nl : FERRY_NAME_MAX - 1);
                p += nl;
                rl = *p++;
                memcpy(c->reason, p, rl < FERRY_REASON_MAX ? rl : FERRY_REASON_MAX - 1);
                p += rl;
                memcpy(&ml, p, 2);
                p += 2;
                if (ml) {
                        c->message = ferry_xstrndup((const char *)p, ml);
                        p += ml;
                }
        }
        return 0;
}
