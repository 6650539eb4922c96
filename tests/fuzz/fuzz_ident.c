/* SPDX-License-Identifier: MIT */
/*
 * Differential target for the /status scanner (pod/ident.c): whatever it
 * accepts, jansson accepts, with the same uid/namespace/name per element;
 * whatever jansson rejects, it rejects. The same input fed in pieces (one
 * byte at a time, and cut where the input's own bytes say) gives the same
 * answer, identities and message as fed whole. abort() on any difference. Built as a
 * libFuzzer target with -Dfuzz=true; the replay driver runs the committed
 * corpus (tests/fuzz/corpus/ident) in the normal test run.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pod/ident.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DEPTH 64
#define MAX_PODS 256

struct got {
        size_t n;
        struct ferry_pod_ident id[MAX_PODS];
};

static int collect(void *ctx, size_t i, const struct ferry_pod_ident *id)
{
        struct got *g = ctx;
        if (g->n == MAX_PODS)
                return -ENOSPC;
        g->id[g->n++] = *id;
        return 0;
}

static void differ(const char *what, const uint8_t *data, size_t size)
{
        fprintf(stderr, "fuzz-ident: %s for input: %.*s\n", what, (int)(size < 400 ? size : 400),
                (const char *)data);
        abort();
}

/* What jansson makes of one element: 1 ok (id filled), 0 refused. */
static int expect_elem(json_t *e, struct ferry_pod_ident *id)
{
        memset(id, 0, sizeof(*id));
        if (!json_is_object(e))
                return 0;
        json_t *m = json_object_get(e, "metadata");
        if (!json_is_object(m))
                return 0;
        const char *keys[3] = {"uid", "namespace", "name"};
        char *out[3] = {id->uid, id->ns, id->name};
        for (int f = 0; f < 3; f++) {
                json_t *v = json_object_get(m, keys[f]);
                if (!v || json_is_null(v))
                        continue;
                if (!json_is_string(v) || json_string_length(v) >= FERRY_IDENT_MAX ||
                    strlen(json_string_value(v)) != json_string_length(v))
                        return 0;
                memcpy(out[f], json_string_value(v), json_string_length(v) + 1);
        }
        if (!id->uid[0])
                return 0;
        if (!id->ns[0])
                snprintf(id->ns, sizeof(id->ns), "default");
        return 1;
}

/* Feed data in pieces: one byte each when step is 0, else lengths drawn from
 * a generator seeded by the input. */
static int chunked(const uint8_t *data, size_t size, unsigned step, struct got *g,
                   ferry_error_t *err)
{
        g->n = 0;
        ferry_error_clear(err);
        struct ferry_pod_idents_stream *st =
            ferry_pod_idents_stream_new(MAX_DEPTH, collect, g, err);
        uint32_t x = step * 2654435761u + (uint32_t)size;
        for (size_t i = 0; i < size; i++)
                x = x * 31 + data[i];
        int r = 0;
        for (size_t off = 0; off < size && r >= 0;) {
                size_t n = 1;
                if (step) {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        n = 1 + x % (step * 8);
                }
                if (n > size - off)
                        n = size - off;
                r = ferry_pod_idents_stream_feed(st, (const char *)data + off, n);
                off += n;
        }
        if (r >= 0)
                r = ferry_pod_idents_stream_end(st);
        ferry_pod_idents_stream_free(st);
        return r;
}

static void same_in_pieces(const uint8_t *data, size_t size, int r, const struct got *g,
                           const ferry_error_t *err)
{
        static struct got c;
        ferry_error_t cerr;
        for (unsigned step = 0; step < 4; step++) {
                int cr = chunked(data, size, step, &c, &cerr);
                if (cr != r)
                        differ("fed in pieces, the answer differs", data, size);
                if (r < 0 && strcmp(cerr.text, err->text) != 0) {
                        fprintf(stderr, "whole: %s\npieces: %s\n", err->text, cerr.text);
                        differ("fed in pieces, the message differs", data, size);
                }
                if (c.n != g->n)
                        differ("fed in pieces, the element count differs", data, size);
                for (size_t i = 0; i < g->n; i++)
                        if (strcmp(c.id[i].uid, g->id[i].uid) || strcmp(c.id[i].ns, g->id[i].ns) ||
                            strcmp(c.id[i].name, g->id[i].name))
                                differ("fed in pieces, an identity differs", data, size);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct got g;
        ferry_error_t err;
        g.n = 0;
        ferry_error_clear(&err);
        int r = ferry_pod_idents_scan((const char *)data, size, MAX_DEPTH, collect, &g, &err);
        same_in_pieces(data, size, r, &g, &err);
        if (r == -E2BIG || r == -ENOSPC)
                return 0; /* deeper or longer than this target compares */
        if (memchr(data, 0, size))
                return 0; /* jansson reads a NUL byte as the end of input; the scanner refuses it */
        json_error_t jerr;
        json_t *j = json_loadb((const char *)data, size, 0, &jerr);
        if (!j && (strstr(jerr.text, "too big") || strstr(jerr.text, "overflow")))
                return 0; /* jansson refuses numbers beyond int64/double; the scanner skips them */
        if (!j) {
                /* jansson takes only arrays and objects at the top; null reads as [] here */
                json_t *any = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
                bool null_body = any && json_is_null(any);
                json_decref(any);
                if (r >= 0 && !null_body)
                        differ("accepted what jansson refuses", data, size);
                if (null_body && r != 0)
                        differ("null is not read as []", data, size);
                return 0;
        }
        if (!json_is_array(j)) {
                if (r != -EINVAL)
                        differ("a non-array was not refused", data, size);
                json_decref(j);
                return 0;
        }
        size_t n = json_array_size(j);
        bool ok = n <= MAX_PODS;
        struct ferry_pod_ident want;
        for (size_t i = 0; ok && i < n; i++)
                if (!expect_elem(json_array_get(j, i), &want))
                        ok = false;
        if (!ok) {
                if (n <= MAX_PODS && r != -EINVAL)
                        differ("an element without a valid metadata.uid was not refused", data,
                               size);
                json_decref(j);
                return 0;
        }
        if (r != (int)n)
                differ("the element count differs", data, size);
        for (size_t i = 0; i < n; i++) {
                expect_elem(json_array_get(j, i), &want);
                if (strcmp(want.uid, g.id[i].uid) || strcmp(want.ns, g.id[i].ns) ||
                    strcmp(want.name, g.id[i].name))
                        differ("an identity differs", data, size);
        }
        json_decref(j);
        return 0;
}
