/* SPDX-License-Identifier: MIT */
/*
 * Label and field selectors with the real API's grammar: label selectors take
 * `k=v, k==v, k!=v, k in (a,b), k notin (a,b), k, !k`; field selectors take
 * `f=v, f==v, f!=v` over the fields each resource supports (others are a 400).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "double.h"

void kd_selector_free(struct kd_selector *s)
{
        for (size_t i = 0; i < s->n; i++) {
                free(s->reqs[i].key);
                for (size_t j = 0; j < s->reqs[i].n_values; j++)
                        free(s->reqs[i].values[j]);
        }
        memset(s, 0, sizeof(*s));
}

static const char *skip_ws(const char *p)
{
        while (*p == ' ' || *p == '\t')
                p++;
        return p;
}

static char *take_word(const char **pp)
{
        const char *p = skip_ws(*pp), *st = p;
        while (*p && !strchr(" \t,=!()", *p))
                p++;
        if (p == st)
                return NULL;
        *pp = p;
        return ferry_xstrndup(st, (size_t)(p - st));
}

/* A value may be empty ("spec.nodeName=") and, in field selectors, may hold '\,' escapes. */
static char *take_value(const char **pp, bool field)
{
        const char *p = skip_ws(*pp);
        struct ferry_buf b = FERRY_BUF_INIT;
        ferry_buf_adds(&b, "");
        while (*p && *p != ',' && *p != ')' && !(!field && (*p == ' ' || *p == '('))) {
                if (field && *p == '\\' && p[1])
                        p++;
                ferry_buf_addc(&b, *p++);
        }
        *pp = p;
        /* trailing blanks are not part of a label value */
        while (!field && b.len && b.data[b.len - 1] == ' ')
                b.data[--b.len] = '\0';
        return ferry_buf_steal(&b);
}

static int parse(const char *s, bool field, struct kd_selector *ret, struct kd_err *e)
{
        const char *kind = field ? "field" : "label";
        struct kd_selector sel = {0};
        if (strlen(s) > KD_MAX_SELECTOR_LEN)
                return kd_fail(e, 400, "BadRequest", "%s selector longer than %d bytes", kind,
                               KD_MAX_SELECTOR_LEN);
        const char *p = skip_ws(s);
        while (*p) {
                if (sel.n == KD_MAX_SELECTOR_REQS) {
                        kd_selector_free(&sel);
                        return kd_fail(e, 400, "BadRequest",
                                       "more than %d requirements in the %s selector",
                                       KD_MAX_SELECTOR_REQS, kind);
                }
                struct kd_sel_req *rq = &sel.reqs[sel.n];
                bool neg = false;
                if (!field && *p == '!') {
                        neg = true;
                        p++;
                }
                rq->key = take_word(&p);
                if (!rq->key)
                        goto bad;
                sel.n++;
                p = skip_ws(p);
                if (neg) {
                        rq->op = KD_SEL_NOTEXISTS;
                } else if (p[0] == '!' && p[1] == '=') {
                        rq->op = KD_SEL_NEQ;
                        p += 2;
                } else if (p[0] == '=') {
                        rq->op = KD_SEL_EQ;
                        p += p[1] == '=' ? 2 : 1;
                } else if (!field && (!strncmp(p, "in", 2) || !strncmp(p, "notin", 5)) &&
                           strchr(" (", p[p[0] == 'i' ? 2 : 5])) {
                        rq->op = p[0] == 'i' ? KD_SEL_IN : KD_SEL_NOTIN;
                        p = skip_ws(p + (p[0] == 'i' ? 2 : 5));
                        if (*p++ != '(')
                                goto bad;
                        for (;;) {
                                if (rq->n_values == KD_MAX_SELECTOR_VALUES)
                                        goto bad;
                                rq->values[rq->n_values++] = take_value(&p, false);
                                p = skip_ws(p);
                                if (*p == ',') {
                                        p++;
                                        continue;
                                }
                                if (*p++ != ')')
                                        goto bad;
                                break;
                        }
                } else if (!field && (*p == ',' || *p == '\0')) {
                        rq->op = KD_SEL_EXISTS;
                } else {
                        goto bad;
                }
                if (rq->op == KD_SEL_EQ || rq->op == KD_SEL_NEQ) {
                        rq->values[0] = take_value(&p, field);
                        rq->n_values = 1;
                }
                p = skip_ws(p);
                if (*p == ',')
                        p = skip_ws(p + 1);
                else if (*p)
                        goto bad;
        }
        *ret = sel;
        return 0;
bad:
        kd_selector_free(&sel);
        return kd_fail(e, 400, "BadRequest",
                       "unable to parse requirement: invalid %s selector: %.200s", kind, s);
}

int kd_label_selector_parse(const char *s, struct kd_selector *ret, struct kd_err *e)
{
        return parse(s ? s : "", false, ret, e);
}

int kd_field_selector_parse(enum kd_res r, const char *s, struct kd_selector *ret, struct kd_err *e)
{
        struct kd_selector sel;
        if (parse(s ? s : "", true, &sel, e) < 0)
                return -1;
        for (size_t i = 0; i < sel.n; i++) {
                const char *k = sel.reqs[i].key;
                bool ok = !strcmp(k, "metadata.name") ||
                          (kd_resources[r].namespaced && !strcmp(k, "metadata.namespace"));
                for (const char *const *f = kd_resources[r].fields; f && *f && !ok; f++)
                        ok = !strcmp(k, *f);
                if (!ok) {
                        kd_fail(e, 400, "BadRequest", "field label not supported: %s", k);
                        kd_selector_free(&sel);
                        return -1;
                }
        }
        *ret = sel;
        return 0;
}

static bool req_matches(const struct kd_sel_req *rq, const char *v)
{
        switch (rq->op) {
        case KD_SEL_EXISTS: return v != NULL;
        case KD_SEL_NOTEXISTS: return v == NULL;
        case KD_SEL_EQ: return v && !strcmp(v, rq->values[0]);
        case KD_SEL_NEQ: return !v || strcmp(v, rq->values[0]);
        case KD_SEL_IN:
        case KD_SEL_NOTIN: {
                bool in = false;
                for (size_t j = 0; v && j < rq->n_values; j++)
                        in = in || !strcmp(v, rq->values[j]);
                return rq->op == KD_SEL_IN ? in : !in;
        }
        }
        return false;
}

bool kd_label_selector_matches(const struct kd_selector *s, const json_t *obj)
{
        json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
        for (size_t i = 0; i < s->n; i++) {
                json_t *v = json_object_get(labels, s->reqs[i].key);
                if (!req_matches(&s->reqs[i], json_is_string(v) ? json_string_value(v) : NULL))
                        return false;
        }
        return true;
}

bool kd_field_selector_matches(const struct kd_selector *s, const json_t *obj)
{
        for (size_t i = 0; i < s->n; i++) {
                char buf[64];
                const char *v = kd_path_str(obj, s->reqs[i].key, buf, sizeof(buf));
                /* Field sets hold every supported field; an absent one reads as "". */
                if (!v)
                        v = !strcmp(s->reqs[i].key, "spec.unschedulable") ? "false" : "";
                if (!req_matches(&s->reqs[i], v))
                        return false;
        }
        return true;
}
