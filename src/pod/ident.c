/* SPDX-License-Identifier: MIT */
#include "ident.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct scan {
        const char *start, *p, *end;
        size_t max_depth;
        ferry_error_t *err;
        int r; /* first error */
};

static int fail(struct scan *s, const char *what)
{
        if (s->r < 0)
                return s->r;
        size_t line = 1, col = 1;
        for (const char *q = s->start; q < s->p && q < s->end; q++) {
                if (*q == '\n') {
                        line++;
                        col = 1;
                } else {
                        col++;
                }
        }
        s->r = ferry_errprintf(s->err, -EINVAL, "malformed JSON at line %zu, column %zu: %s", line,
                               col, what);
        return s->r;
}

static void ws(struct scan *s)
{
        while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
                s->p++;
}

static bool lit(struct scan *s, const char *w)
{
        size_t n = strlen(w);
        if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
                return false;
        s->p += n;
        return true;
}

static int hex4(struct scan *s, uint32_t *ret)
{
        uint32_t v = 0;
        if (s->end - s->p < 4)
                return fail(s, "a \\u escape needs four hex digits");
        for (int i = 0; i < 4; i++) {
                char c = *s->p++;
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (uint32_t)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (uint32_t)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (uint32_t)(c - 'A' + 10);
                else
                        return fail(s, "a \\u escape needs four hex digits");
        }
        *ret = v;
        return 0;
}

/* Append cp as UTF-8 to out (when there is room; *len counts anyway). */
static void put_cp(char *out, size_t size, size_t *len, uint32_t cp)
{
        char b[4];
        size_t n;
        if (cp < 0x80) {
                b[0] = (char)cp;
                n = 1;
        } else if (cp < 0x800) {
                b[0] = (char)(0xc0 | (cp >> 6));
                b[1] = (char)(0x80 | (cp & 0x3f));
                n = 2;
        } else if (cp < 0x10000) {
                b[0] = (char)(0xe0 | (cp >> 12));
                b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                b[2] = (char)(0x80 | (cp & 0x3f));
                n = 3;
        } else {
                b[0] = (char)(0xf0 | (cp >> 18));
                b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
                b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
                b[3] = (char)(0x80 | (cp & 0x3f));
                n = 4;
        }
        if (out && *len + n < size)
                memcpy(out + *len, b, n);
        *len += n;
}

/* Length of the well-formed UTF-8 sequence at p (first byte >= 0x80), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
        size_t n;
        uint32_t cp, min;
        if (p[0] >= 0xc2 && p[0] <= 0xdf) {
                n = 2;
                cp = p[0] & 0x1f;
                min = 0x80;
        } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
                n = 3;
                cp = p[0] & 0x0f;
                min = 0x800;
        } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
                n = 4;
                cp = p[0] & 0x07;
                min = 0x10000;
        } else {
                return 0;
        }
        if ((size_t)(end - p) < n)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

/* A byte a string's plain run may hold: not '"', '\\', a control character or
 * the start of a multi-byte UTF-8 sequence (those take the careful path). */
static inline bool plain(unsigned char c)
{
        return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* A string at s->p (the opening quote). Decoded into out (NUL-terminated)
 * when out is set; *ret_len is the decoded length, even past size. */
static int string(struct scan *s, char *out, size_t size, size_t *ret_len)
{
        size_t len = 0;
        s->p++; /* " */
        for (;;) {
                if (!out) { /* skipping: run over the plain bytes first */
                        const unsigned char *q = (const unsigned char *)s->p;
                        const unsigned char *e = (const unsigned char *)s->end;
                        while (q < e && plain(*q))
                                q++;
                        len += (size_t)(q - (const unsigned char *)s->p);
                        s->p = (const char *)q;
                }
                if (s->p >= s->end)
                        return fail(s, "unterminated string");
                unsigned char c = (unsigned char)*s->p;
                if (c == '"') {
                        s->p++;
                        break;
                }
                if (c < 0x20)
                        return fail(s, "control character in a string");
                if (c == '\\') {
                        s->p++;
                        if (s->p >= s->end)
                                return fail(s, "unterminated string");
                        char e = *s->p++;
                        uint32_t cp;
                        switch (e) {
                        case '"': cp = '"'; break;
                        case '\\': cp = '\\'; break;
                        case '/': cp = '/'; break;
                        case 'b': cp = '\b'; break;
                        case 'f': cp = '\f'; break;
                        case 'n': cp = '\n'; break;
                        case 'r': cp = '\r'; break;
                        case 't': cp = '\t'; break;
                        case 'u':
                                if (hex4(s, &cp) < 0)
                                        return s->r;
                                if (cp >= 0xd800 && cp <= 0xdbff) {
                                        uint32_t lo;
                                        if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
                                                return fail(s, "a lone UTF-16 surrogate");
                                        s->p += 2;
                                        if (hex4(s, &lo) < 0)
                                                return s->r;
                                        if (lo < 0xdc00 || lo > 0xdfff)
                                                return fail(s, "a lone UTF-16 surrogate");
                                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                                        return fail(s, "a lone UTF-16 surrogate");
                                } else if (cp == 0) {
                                        return fail(s, "\\u0000 is not allowed in strings");
                                }
                                break;
                        default: return fail(s, "invalid escape in a string");
                        }
                        put_cp(out, size, &len, cp);
                        continue;
                }
                if (c < 0x80) {
                        if (out && len + 1 < size)
                                out[len] = (char)c;
                        len++;
                        s->p++;
                        continue;
                }
                size_t n = utf8_len((const unsigned char *)s->p, (const unsigned char *)s->end);
                if (!n)
                        return fail(s, "invalid UTF-8 in a string");
                if (out && len + n < size)
                        memcpy(out + len, s->p, n);
                len += n;
                s->p += n;
        }
        if (out && size)
                out[len < size ? len : size - 1] = '\0';
        if (ret_len)
                *ret_len = len;
        return 0;
}

static bool digit(struct scan *s)
{
        return s->p < s->end && *s->p >= '0' && *s->p <= '9';
}

static int number(struct scan *s)
{
        if (s->p < s->end && *s->p == '-')
                s->p++;
        if (!digit(s))
                return fail(s, "invalid number");
        if (*s->p == '0')
                s->p++;
        else
                while (digit(s))
                        s->p++;
        if (s->p < s->end && *s->p == '.') {
                s->p++;
                if (!digit(s))
                        return fail(s, "invalid number");
                while (digit(s))
                        s->p++;
        }
        if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
                s->p++;
                if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
                        s->p++;
                if (!digit(s))
                        return fail(s, "invalid number");
                while (digit(s))
                        s->p++;
        }
        return 0;
}

static int skip(struct scan *s, size_t depth);

/* The members of an object (s->p at '{'); on_key, when set, is called for
 * each key with s->p at its value and must consume the value. */
static int object(struct scan *s, size_t depth,
                  int (*on_key)(struct scan *s, size_t depth, const char *key, void *ctx),
                  void *ctx)
{
        if (depth > s->max_depth)
                return s->r = ferry_errprintf(s->err, -E2BIG, "JSON nesting deeper than %zu levels",
                                              s->max_depth);
        s->p++; /* { */
        ws(s);
        if (s->p < s->end && *s->p == '}') {
                s->p++;
                return 0;
        }
        for (;;) {
                char key[32];
                size_t klen;
                ws(s);
                if (s->p >= s->end || *s->p != '"')
                        return fail(s, "expected a string key");
                if (string(s, key, sizeof(key), &klen) < 0)
                        return s->r;
                ws(s);
                if (s->p >= s->end || *s->p != ':')
                        return fail(s, "expected ':'");
                s->p++;
                ws(s);
                int r = on_key && klen < sizeof(key) ? on_key(s, depth, key, ctx) : skip(s, depth);
                if (r < 0)
                        return r;
                ws(s);
                if (s->p < s->end && *s->p == ',') {
                        s->p++;
                        continue;
                }
                if (s->p < s->end && *s->p == '}') {
                        s->p++;
                        return 0;
                }
                return fail(s, "expected ',' or '}'");
        }
}

static int array_skip(struct scan *s, size_t depth)
{
        if (depth > s->max_depth)
                return s->r = ferry_errprintf(s->err, -E2BIG, "JSON nesting deeper than %zu levels",
                                              s->max_depth);
        s->p++; /* [ */
        ws(s);
        if (s->p < s->end && *s->p == ']') {
                s->p++;
                return 0;
        }
        for (;;) {
                ws(s);
                if (skip(s, depth) < 0)
                        return s->r;
                ws(s);
                if (s->p < s->end && *s->p == ',') {
                        s->p++;
                        continue;
                }
                if (s->p < s->end && *s->p == ']') {
                        s->p++;
                        return 0;
                }
                return fail(s, "expected ',' or ']'");
        }
}

/* Any value at s->p, at nesting depth (of its container). */
static int skip(struct scan *s, size_t depth)
{
        if (s->p >= s->end)
                return fail(s, "unexpected end of input");
        switch (*s->p) {
        case '{': return object(s, depth + 1, NULL, NULL);
        case '[': return array_skip(s, depth + 1);
        case '"': return string(s, NULL, 0, NULL);
        case 't': return lit(s, "true") ? 0 : fail(s, "invalid literal");
        case 'f': return lit(s, "false") ? 0 : fail(s, "invalid literal");
        case 'n': return lit(s, "null") ? 0 : fail(s, "invalid literal");
        default: return number(s);
        }
}

struct elem {
        struct ferry_pod_ident id;
        /* per field: not a string (nor null), too long, or with a NUL; a
         * later duplicate key decides again (the last one wins, as in jansson) */
        bool bad[3];
};

/* uid, namespace, name: strings (or null); anything else is skipped */
static int meta_key(struct scan *s, size_t depth, const char *key, void *ctx)
{
        struct elem *e = ctx;
        int f = !strcmp(key, "uid")         ? 0
                : !strcmp(key, "namespace") ? 1
                : !strcmp(key, "name")      ? 2
                                            : -1;
        if (f < 0)
                return skip(s, depth);
        char *out = f == 0 ? e->id.uid : f == 1 ? e->id.ns : e->id.name;
        out[0] = '\0';
        e->bad[f] = false;
        if (s->p < s->end && *s->p == '"') {
                size_t len;
                if (string(s, out, FERRY_IDENT_MAX, &len) < 0)
                        return s->r;
                if (len >= FERRY_IDENT_MAX || strlen(out) != len) {
                        out[0] = '\0';
                        e->bad[f] = true;
                }
                return 0;
        }
        if (lit(s, "null"))
                return 0;
        e->bad[f] = true;
        return skip(s, depth);
}

static int pod_key(struct scan *s, size_t depth, const char *key, void *ctx)
{
        if (strcmp(key, "metadata") != 0)
                return skip(s, depth);
        struct elem *e = ctx;
        memset(e, 0, sizeof(*e)); /* the last metadata wins */
        if (s->p >= s->end || *s->p != '{')
                return skip(s, depth);
        return object(s, depth + 1, meta_key, ctx);
}

int ferry_pod_idents_scan(const char *body, size_t len, size_t max_depth,
                          int (*cb)(void *ctx, size_t i, const struct ferry_pod_ident *id),
                          void *ctx, ferry_error_t *err)
{
        struct scan s = {
            .start = body, .p = body, .end = body + len, .max_depth = max_depth, .err = err};
        size_t n = 0;

        ws(&s);
        if (s.p < s.end && *s.p == 'n' && lit(&s, "null")) {
                /* null reads as [] */
        } else if (s.p < s.end && *s.p == '[') {
                if (max_depth < 1)
                        return ferry_errprintf(err, -E2BIG, "JSON nesting deeper than %zu levels",
                                               max_depth);
                s.p++;
                ws(&s);
                bool first = true;
                while (s.p < s.end && *s.p != ']') {
                        if (!first) {
                                if (*s.p != ',')
                                        return fail(&s, "expected ',' or ']'");
                                s.p++;
                                ws(&s);
                        }
                        first = false;
                        if (s.p >= s.end)
                                break;
                        if (*s.p != '{') {
                                /* still JSON? then it is the wrong shape */
                                if (skip(&s, 1) < 0)
                                        return s.r;
                                return ferry_errprintf(
                                    err, -EINVAL, "pod %zu of the array has no metadata.uid", n);
                        }
                        struct elem e;
                        memset(&e, 0, sizeof(e));
                        if (object(&s, 2, pod_key, &e) < 0)
                                return s.r;
                        if (!e.id.uid[0] || e.bad[0] || e.bad[1] || e.bad[2])
                                return ferry_errprintf(
                                    err, -EINVAL, "pod %zu of the array has no metadata.uid", n);
                        if (!e.id.ns[0])
                                snprintf(e.id.ns, sizeof(e.id.ns), "default");
                        int r = cb ? cb(ctx, n, &e.id) : 0;
                        if (r < 0)
                                return r;
                        n++;
                        ws(&s);
                }
                if (s.p >= s.end)
                        return fail(&s, "unexpected end of input");
                s.p++; /* ] */
        } else {
                if (skip(&s, 0) < 0)
                        return s.r;
                ws(&s);
                if (s.p < s.end)
                        return fail(&s, "end of input expected");
                return ferry_errprintf(err, -EINVAL, "expected a JSON array of Pods");
        }
        ws(&s);
        if (s.p < s.end)
                return fail(&s, "end of input expected");
        return (int)n;
}
