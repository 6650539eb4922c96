/* SPDX-License-Identifier: MIT */
#include "ident.h"

#include "common/util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

struct scan {
        const char *start, *p, *end;
        size_t line, col; /* of start, for messages (1-based) */
        size_t max_depth;
        ferry_error_t *err;
        int r;       /* first error */
        bool syntax; /* it was malformed JSON (which more input may mend) */
};

/* Line and column after the n bytes at p, from (*line, *col). */
static void advance(size_t *line, size_t *col, const char *p, size_t n)
{
        const char *end = p + n, *nl;
        while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
                (*line)++;
                *col = 1;
                p = nl + 1;
        }
        *col += (size_t)(end - p);
}

static int fail(struct scan *s, const char *what)
{
        if (s->r < 0)
                return s->r;
        size_t line = s->line, col = s->col;
        advance(&line, &col, s->start, (size_t)((s->p < s->end ? s->p : s->end) - s->start));
        s->syntax = true;
        s->r = ferry_errprintf(s->err, -EINVAL, "malformed JSON at line %zu, column %zu: %s", line,
                               col, what);
        return s->r;
}

static inline void ws(struct scan *s)
{
        /* compact JSON (what Go and jansson write) has none: one compare */
        if (s->p < s->end && (unsigned char)*s->p > ' ')
                return;
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
        /* the message points at the first byte that is not a hex digit,
         * wherever the input (or a chunk of it) ends */
        for (int i = 0; i < 4; i++) {
                if (s->p >= s->end)
                        return fail(s, "a \\u escape needs four hex digits");
                char c = *s->p++;
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (uint32_t)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (uint32_t)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (uint32_t)(c - 'A' + 10);
                else {
                        s->p--;
                        return fail(s, "a \\u escape needs four hex digits");
                }
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

/* The end of the plain run at q: sixteen bytes at a time with SSE2 (one
 * signed compare finds both control bytes and bytes >= 0x80), else eight at
 * a time while no byte of a word can be '"', '\\', a control byte or >= 0x80
 * (the tests may flag a plain byte next to one that is not, never miss one),
 * then byte by byte. */
static inline const unsigned char *plain_run(const unsigned char *q, const unsigned char *e)
{
#ifdef __SSE2__
        const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                      space = _mm_set1_epi8(0x20);
        while (e - q >= 16) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
                __m128i stop =
                    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                 _mm_cmplt_epi8(v, space));
                unsigned m = (unsigned)_mm_movemask_epi8(stop);
                if (m)
                        return q + __builtin_ctz(m);
                q += 16;
        }
#endif
        const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
        while (e - q >= 8) {
                uint64_t w;
                memcpy(&w, q, 8);
                uint64_t t = (w - ones * 0x20) | ((w ^ (ones * '"')) - ones) |
                             ((w ^ (ones * '\\')) - ones) | w;
                if (t & high)
                        break;
                q += 8;
        }
        while (q < e && plain(*q))
                q++;
        return q;
}

/* A string at s->p (the opening quote). Decoded into out (NUL-terminated)
 * when out is set; *ret_len is the decoded length, even past size. */
static int string(struct scan *s, char *out, size_t size, size_t *ret_len)
{
        size_t len = 0;
        s->p++; /* " */
        for (;;) {
                /* the plain bytes first, many at a time */
                const unsigned char *q =
                    plain_run((const unsigned char *)s->p, (const unsigned char *)s->end);
                size_t n = (size_t)(q - (const unsigned char *)s->p);
                if (out && n && len + 1 < size)
                        memcpy(out + len, s->p, n < size - 1 - len ? n : size - 1 - len);
                len += n;
                s->p = (const char *)q;
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
                /* the run stopped here: a byte >= 0x80 */
                n = utf8_len((const unsigned char *)s->p, (const unsigned char *)s->end);
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

/* A string skipped: the common one (no escape, ASCII) in one run, anything
 * else through string(). */
static inline int skip_string(struct scan *s)
{
        const unsigned char *q =
            plain_run((const unsigned char *)s->p + 1, (const unsigned char *)s->end);
        if (q < (const unsigned char *)s->end && *q == '"') {
                s->p = (const char *)q + 1;
                return 0;
        }
        return string(s, NULL, 0, NULL);
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
static int too_deep(struct scan *s);

/* The members of an object (s->p at '{'); on_key, when set, is called for
 * each key with s->p at its value and must consume the value. */
static int object(struct scan *s, size_t depth,
                  int (*on_key)(struct scan *s, size_t depth, const char *key, size_t klen,
                                void *ctx),
                  void *ctx)
{
        if (depth > s->max_depth)
                return too_deep(s);
        s->p++; /* { */
        ws(s);
        if (s->p < s->end && *s->p == '}') {
                s->p++;
                return 0;
        }
        for (;;) {
                char key[32];
                size_t klen = 0;
                ws(s);
                if (s->p >= s->end || *s->p != '"')
                        return fail(s, "expected a string key");
                if (string(s, on_key ? key : NULL, sizeof(key), &klen) < 0)
                        return s->r;
                ws(s);
                if (s->p >= s->end || *s->p != ':')
                        return fail(s, "expected ':'");
                s->p++;
                ws(s);
                int r = on_key && klen < sizeof(key) ? on_key(s, depth, key, klen, ctx)
                                                     : skip(s, depth);
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

/* A scalar at s->p: string, literal or number. */
static int scalar(struct scan *s)
{
        switch (*s->p) {
        case '"': return skip_string(s);
        case 't': return lit(s, "true") ? 0 : fail(s, "invalid literal");
        case 'f': return lit(s, "false") ? 0 : fail(s, "invalid literal");
        case 'n': return lit(s, "null") ? 0 : fail(s, "invalid literal");
        default: return number(s);
        }
}

static int too_deep(struct scan *s)
{
        return s->r = ferry_errprintf(s->err, -E2BIG, "JSON nesting deeper than %zu levels",
                                      s->max_depth);
}

/* The object or array at s->p (at nesting depth), skipped whole: most of a
 * pod is, so this is a loop over the values with the closers of the open
 * containers on a stack, not a call per value. */
static int nested_in(struct scan *s, size_t depth, char *close)
{
        size_t n = 0; /* open containers; close[i]: '}' or ']' */
open:
        if (depth + n > s->max_depth)
                return too_deep(s);
        close[n++] = *s->p == '{' ? '}' : ']';
        s->p++;
        ws(s);
        if (s->p < s->end && *s->p == close[n - 1]) {
                s->p++;
                goto closed;
        }
        if (close[n - 1] == ']')
                goto value;
key:
        if (s->p >= s->end || *s->p != '"')
                return fail(s, "expected a string key");
        if (skip_string(s) < 0)
                return s->r;
        ws(s);
        if (s->p >= s->end || *s->p != ':')
                return fail(s, "expected ':'");
        s->p++;
        ws(s);
value:
        if (s->p >= s->end)
                return fail(s, "unexpected end of input");
        if (*s->p == '{' || *s->p == '[')
                goto open;
        if (scalar(s) < 0)
                return s->r;
next:
        ws(s);
        if (s->p < s->end && *s->p == ',') {
                s->p++;
                ws(s);
                if (close[n - 1] == '}')
                        goto key;
                goto value;
        }
        if (s->p < s->end && *s->p == close[n - 1]) {
                s->p++;
                goto closed;
        }
        return fail(s, close[n - 1] == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
closed:
        if (--n > 0)
                goto next;
        return 0;
}

static int nested(struct scan *s, size_t depth)
{
        char close[128];
        if (s->max_depth < depth + sizeof(close))
                return nested_in(s, depth, close);
        char *big = ferry_xmalloc(s->max_depth - depth + 2); /* a site's larger limit */
        int r = nested_in(s, depth, big);
        free(big);
        return r;
}

/* Any value at s->p, at nesting depth (of its container). */
static int skip(struct scan *s, size_t depth)
{
        if (s->p >= s->end)
                return fail(s, "unexpected end of input");
        if (*s->p == '{' || *s->p == '[')
                return nested(s, depth + 1);
        return scalar(s);
}

struct elem {
        struct ferry_pod_ident id;
        /* per field: not a string (nor null), too long, or with a NUL; a
         * later duplicate key decides again (the last one wins, as in jansson) */
        bool bad[3];
};

/* uid, namespace, name: strings (or null); anything else is skipped */
static int meta_key(struct scan *s, size_t depth, const char *key, size_t klen, void *ctx)
{
        struct elem *e = ctx;
        int f = klen == 3 && !memcmp(key, "uid", 3)         ? 0
                : klen == 9 && !memcmp(key, "namespace", 9) ? 1
                : klen == 4 && !memcmp(key, "name", 4)      ? 2
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

static void elem_reset(struct elem *e)
{
        e->id.uid[0] = e->id.ns[0] = e->id.name[0] = '\0';
        e->bad[0] = e->bad[1] = e->bad[2] = false;
}

static int pod_key(struct scan *s, size_t depth, const char *key, size_t klen, void *ctx)
{
        if (klen != 8 || memcmp(key, "metadata", 8) != 0)
                return skip(s, depth);
        struct elem *e = ctx;
        elem_reset(e); /* the last metadata wins */
        if (s->p >= s->end || *s->p != '{')
                return skip(s, depth);
        return object(s, depth + 1, meta_key, ctx);
}

/* ------------------------------------------------------------------------
 * The body as it arrives. Elements are scanned in place in each chunk; one
 * cut by the end of a chunk is copied (it alone: a pod is kilobytes) and
 * scanned again once the bytes that close it have come. A failed scan is
 * final unless it was malformed JSON and the element's brackets have not
 * closed in what came yet: then more input decides.
 */

enum top {
        T_START, /* before the first byte that is not white space */
        T_FIRST, /* after '[': an element or ']' */
        T_ELEM,  /* after ',': an element */
        T_SEP,   /* after an element: ',' or ']' */
        T_TAIL,  /* after ']': white space only */
        T_OTHER, /* not an array: kept whole and read at the end */
};

/* Just enough of JSON to find where an object ends: brackets outside strings. */
struct frame {
        size_t depth;
        bool str, esc;
};

struct ferry_pod_idents_stream {
        size_t max_depth;
        int (*cb)(void *ctx, size_t i, const struct ferry_pod_ident *id);
        void *ctx;
        ferry_error_t *err;
        enum top top;
        int r;                        /* the first error, then every call returns it */
        size_t n;                     /* elements handed to cb */
        size_t line, col;             /* of the next byte fed */
        struct ferry_buf carry;       /* an element cut by a chunk's end (T_OTHER: all) */
        size_t carry_line, carry_col; /* of its first byte */
        struct frame fr;              /* over the carry */
};

/* Offset just past the end of the object the frame is in, or SIZE_MAX when
 * it does not end in data[0..n). */
static size_t frame(struct frame *f, const char *data, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                char c = data[i];
                if (f->str) {
                        if (f->esc)
                                f->esc = false;
                        else if (c == '\\')
                                f->esc = true;
                        else if (c == '"')
                                f->str = false;
                } else if (c == '"') {
                        f->str = true;
                } else if (c == '{' || c == '[') {
                        f->depth++;
                } else if ((c == '}' || c == ']') && --f->depth == 0) {
                        return i + 1;
                }
        }
        return SIZE_MAX;
}

/* One element at s->p, an object (or an array, refused once scanned): its
 * identity to cb. */
static int elem(struct ferry_pod_idents_stream *st, struct scan *s)
{
        struct elem e;
        elem_reset(&e);
        if (*s->p == '[') { /* the wrong shape, unless it is not even JSON */
                if (skip(s, 1) < 0)
                        return s->r;
                return ferry_errprintf(s->err, -EINVAL,
                                       "pod %zu of the array is not a pod (a JSON object)", st->n);
        }
        if (object(s, 2, pod_key, &e) < 0)
                return s->r;
        if (!e.id.uid[0] || e.bad[0] || e.bad[1] || e.bad[2])
                return ferry_errprintf(s->err, -EINVAL, "pod %zu of the array has no metadata.uid",
                                       st->n);
        if (!e.id.ns[0])
                snprintf(e.id.ns, sizeof(e.id.ns), "default");
        int r = st->cb ? st->cb(st->ctx, st->n, &e.id) : 0;
        if (r < 0)
                return r;
        st->n++;
        return 0;
}

/* A body that is not an array, whole: null reads as []; anything else is
 * refused, as malformed JSON when it is not even that. */
static int other(struct ferry_pod_idents_stream *st)
{
        struct scan s = {.start = st->carry.data,
                         .p = st->carry.data,
                         .end = st->carry.data + st->carry.len,
                         .line = st->carry_line,
                         .col = st->carry_col,
                         .max_depth = st->max_depth,
                         .err = st->err};
        if (lit(&s, "null")) {
                ws(&s);
                return s.p < s.end ? fail(&s, "end of input expected") : 0;
        }
        if (skip(&s, 0) < 0)
                return s.r;
        ws(&s);
        if (s.p < s.end)
                return fail(&s, "end of input expected");
        return ferry_errprintf(st->err, -EINVAL, "expected a JSON array of Pods");
}

static int feed(struct ferry_pod_idents_stream *st, const char *data, size_t n, bool last)
{
        const char *p = data, *end = data + n;
        struct scan s = {.start = data,
                         .end = end,
                         .line = st->line,
                         .col = st->col,
                         .max_depth = st->max_depth,
                         .err = st->err};
        int r = 0;

        if (st->top == T_OTHER) {
                ferry_buf_add(&st->carry, data, n);
                p = end;
        } else if (st->carry.len) {
                /* the rest of a cut element: up to its closing bracket */
                size_t k = frame(&st->fr, data, n);
                if (k == SIZE_MAX && !last) {
                        ferry_buf_add(&st->carry, data, n);
                        goto out;
                }
                if (k == SIZE_MAX)
                        k = n; /* the body ends inside it: the scan says how */
                ferry_buf_add(&st->carry, data, k);
                struct scan c = s;
                c.start = c.p = st->carry.data;
                c.end = st->carry.data + st->carry.len;
                c.line = st->carry_line;
                c.col = st->carry_col;
                if ((r = elem(st, &c)) < 0)
                        return r;
                /* the scan ends where the brackets closed */
                p = data + k - (size_t)(c.end - c.p);
                st->carry.len = 0;
                st->top = T_SEP;
        }

        while (p < end) {
                s.p = p;
                if (st->top != T_OTHER)
                        ws(&s);
                p = s.p;
                if (p == end)
                        break;
                switch (st->top) {
                case T_START:
                        if (*p != '[') {
                                st->top = T_OTHER;
                                st->carry_line = st->line;
                                st->carry_col = st->col;
                                advance(&st->carry_line, &st->carry_col, data, (size_t)(p - data));
                                ferry_buf_add(&st->carry, p, (size_t)(end - p));
                                p = end;
                                break;
                        }
                        if (st->max_depth < 1)
                                return ferry_errprintf(st->err, -E2BIG,
                                                       "JSON nesting deeper than %zu levels",
                                                       st->max_depth);
                        p++;
                        st->top = T_FIRST;
                        break;
                case T_FIRST:
                case T_ELEM:
                        if (st->top == T_FIRST && *p == ']') {
                                p++;
                                st->top = T_TAIL;
                                break;
                        }
                        if (*p != '{' && *p != '[')
                                return fail(&s, "expected a pod (a JSON object)");
                        s.syntax = false;
                        if ((r = elem(st, &s)) == 0) {
                                p = s.p;
                                st->top = T_SEP;
                                break;
                        }
                        /* malformed, or only cut by the end of this chunk? */
                        st->fr = (struct frame){0};
                        if (last || !s.syntax || frame(&st->fr, p, (size_t)(end - p)) != SIZE_MAX)
                                return r;
                        ferry_error_clear(st->err);
                        s.r = 0;
                        st->carry_line = st->line;
                        st->carry_col = st->col;
                        advance(&st->carry_line, &st->carry_col, data, (size_t)(p - data));
                        ferry_buf_add(&st->carry, p, (size_t)(end - p));
                        p = end;
                        break;
                case T_SEP:
                        if (*p == ',') {
                                p++;
                                st->top = T_ELEM;
                        } else if (*p == ']') {
                                p++;
                                st->top = T_TAIL;
                        } else {
                                return fail(&s, "expected ',' or ']'");
                        }
                        break;
                case T_TAIL: return fail(&s, "end of input expected");
                case T_OTHER: break; /* not reached: the carry took the rest */
                }
        }
out:
        if (n)
                advance(&st->line, &st->col, data, n);
        if (!last)
                return 0;
        switch (st->top) {
        case T_TAIL: return (int)st->n;
        case T_OTHER: return (r = other(st)) < 0 ? r : 0;
        default: s.p = end; return fail(&s, "unexpected end of input");
        }
}

struct ferry_pod_idents_stream *
ferry_pod_idents_stream_new(size_t max_depth,
                            int (*cb)(void *ctx, size_t i, const struct ferry_pod_ident *id),
                            void *ctx, ferry_error_t *err)
{
        struct ferry_pod_idents_stream *st = ferry_xcalloc(1, sizeof(*st));
        st->max_depth = max_depth;
        st->cb = cb;
        st->ctx = ctx;
        st->err = err;
        st->line = st->col = 1;
        return st;
}

int ferry_pod_idents_stream_feed(struct ferry_pod_idents_stream *st, const char *data, size_t n)
{
        if (st->r == 0 && n)
                st->r = feed(st, data, n, false);
        return st->r;
}

int ferry_pod_idents_stream_end(struct ferry_pod_idents_stream *st)
{
        if (st->r == 0)
                st->r = feed(st, "", 0, true);
        return st->r;
}

void ferry_pod_idents_stream_free(struct ferry_pod_idents_stream *st)
{
        if (!st)
                return;
        ferry_buf_free(&st->carry);
        free(st);
}

int ferry_pod_idents_scan(const char *body, size_t len, size_t max_depth,
                          int (*cb)(void *ctx, size_t i, const struct ferry_pod_ident *id),
                          void *ctx, ferry_error_t *err)
{
        struct ferry_pod_idents_stream *st = ferry_pod_idents_stream_new(max_depth, cb, ctx, err);
        int r = ferry_pod_idents_stream_feed(st, body, len);
        if (r >= 0)
                r = ferry_pod_idents_stream_end(st);
        ferry_pod_idents_stream_free(st);
        return r;
}
