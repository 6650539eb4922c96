/* SPDX-License-Identifier: MIT */
#include "output.h"

#include <errno.h>
#include <string.h>

#include "client/client.h"
#include "common/util.h"

int ferry_parse_duration(const char *s, int64_t *ret_seconds)
{
        static const struct {
                const char *unit;
                double ns;
        } units[] = {
            {"ns", 1},     {"us", 1e3}, {"µs", 1e3}, {"ms", 1e6},
            {"h", 3600e9}, {"m", 60e9}, {"s", 1e9},  {"d", 86400e9},
        };
        double total = 0;
        const char *p = s;

        if (!s || !*s)
                return -EINVAL;
        if (*p == '+')
                p++;
        while (*p) {
                char *end;
                double v;
                size_t i;

                if (!((*p >= '0' && *p <= '9') || *p == '.'))
                        return -EINVAL;
                errno = 0;
                v = strtod(p, &end);
                if (errno || end == p || v < 0)
                        return -EINVAL;
                if (!*end && p == s + (*s == '+')) {
                        total = v * 1e9; /* a bare number: seconds */
                        break;
                }
                p = end;
                for (i = 0; i < FERRY_ARRAY_SIZE(units); i++) {
                        size_t n = strlen(units[i].unit);
                        /* "m" must not eat the "m" of "ms" */
                        if (strncmp(p, units[i].unit, n) == 0)
                                break;
                }
                if (i == FERRY_ARRAY_SIZE(units))
                        return -EINVAL;
                total += v * units[i].ns;
                p += strlen(units[i].unit);
        }
        if (!(total <= 1e18)) /* also NaN */
                return -EINVAL;
        int64_t secs = (int64_t)(total / 1e9);
        if ((double)secs * 1e9 < total)
                secs++; /* round up: 500ms is 1s, never 0 */
        *ret_seconds = secs;
        return 0;
}

void ferry_format_age(int64_t s, char *buf, size_t size)
{
        if (s < 0)
                s = 0;
        if (s < 120)
                snprintf(buf, size, "%llds", (long long)s);
        else if (s < 10 * 60)
                snprintf(buf, size, "%lldm%llds", (long long)(s / 60), (long long)(s % 60));
        else if (s < 3 * 3600)
                snprintf(buf, size, "%lldm", (long long)(s / 60));
        else if (s < 8 * 3600)
                snprintf(buf, size, "%lldh%lldm", (long long)(s / 3600),
                         (long long)(s % 3600 / 60));
        else if (s < 48 * 3600)
                snprintf(buf, size, "%lldh", (long long)(s / 3600));
        else if (s < 8 * 86400)
                snprintf(buf, size, "%lldd%lldh", (long long)(s / 86400),
                         (long long)(s % 86400 / 3600));
        else if (s < 2 * 365 * 86400)
                snprintf(buf, size, "%lldd", (long long)(s / 86400));
        else if (s < 8 * 365 * 86400)
                snprintf(buf, size, "%lldy%lldd", (long long)(s / (365 * 86400)),
                         (long long)(s % (365 * 86400) / 86400));
        else
                snprintf(buf, size, "%lldy", (long long)(s / (365 * 86400)));
}

static void earliest(const json_t *state, int64_t *start)
{
        const char *keys[] = {"running", "terminated"};

        for (size_t i = 0; i < 2; i++) {
                const char *t = json_string_value(
                    json_object_get(json_object_get(state, keys[i]), "startedAt"));
                int64_t ns;
                if (t && ferry_time_parse(t, &ns) == 0 && ns > 0 && (*start == 0 || ns < *start))
                        *start = ns;
        }
}

void ferry_pod_summarize(const json_t *ps, struct ferry_pod_summary *s)
{
        const json_t *c;
        size_t i;

        memset(s, 0, sizeof(*s));
        s->name = json_string_value(json_object_get(ps, "name"));
        s->ns = json_string_value(json_object_get(ps, "namespace"));
        s->uid = json_string_value(json_object_get(ps, "UID"));
        s->jid = json_string_value(json_object_get(ps, "JID"));
        s->reason = json_string_value(json_object_get(ps, "reason"));
        s->message = json_string_value(json_object_get(ps, "message"));
        s->phase = ferry_client_pod_phase(ps);
        json_array_foreach(json_object_get(ps, "initContainers"), i, c)
        {
                s->restarts += (unsigned)json_integer_value(json_object_get(c, "restartCount"));
                earliest(json_object_get(c, "state"), &s->started_ns);
        }
        json_array_foreach(json_object_get(ps, "containers"), i, c)
        {
                s->total++;
                if (json_is_true(json_object_get(c, "ready")))
                        s->ready++;
                s->restarts += (unsigned)json_integer_value(json_object_get(c, "restartCount"));
                earliest(json_object_get(c, "state"), &s->started_ns);
        }
}

struct ferry_table {
        size_t ncols, nrows;
        char **cells; /* nrows * ncols, row 0 = headers */
};

struct ferry_table *ferry_table_new(size_t ncols, const char *const *headers)
{
        struct ferry_table *t = ferry_xcalloc(1, sizeof(*t));

        t->ncols = ncols;
        ferry_table_add(t, headers);
        return t;
}

void ferry_table_add(struct ferry_table *t, const char *const *cells)
{
        t->cells = ferry_xrealloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));
        for (size_t i = 0; i < t->ncols; i++)
                t->cells[t->nrows * t->ncols + i] =
                    ferry_xstrdup(cells[i] && cells[i][0] ? cells[i] : "-");
        t->nrows++;
}

void ferry_table_print(const struct ferry_table *t, FILE *f)
{
        size_t *w = ferry_xcalloc(t->ncols, sizeof(*w));

        for (size_t r = 0; r < t->nrows; r++)
                for (size_t c = 0; c < t->ncols; c++) {
                        size_t n = strlen(t->cells[r * t->ncols + c]);
                        if (n > w[c])
                                w[c] = n;
                }
        for (size_t r = 0; r < t->nrows; r++) {
                for (size_t c = 0; c < t->ncols; c++) {
                        const char *cell = t->cells[r * t->ncols + c];
                        if (c + 1 == t->ncols)
                                fprintf(f, "%s\n", cell);
                        else
                                fprintf(f, "%-*s   ", (int)w[c], cell);
                }
        }
        free(w);
}

void ferry_table_free(struct ferry_table *t)
{
        if (!t)
                return;
        for (size_t i = 0; i < t->nrows * t->ncols; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
}

void ferry_progress_text(const struct ferry_progress *p, char *buf, size_t size)
{
        snprintf(buf, size, "%u pod%s: %u done, %u running, %u pending, %u failed", p->total,
                 p->total == 1 ? "" : "s", p->succeeded, p->running, p->pending, p->failed);
}
