/* SPDX-License-Identifier: MIT */
#include "httpc.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
        struct http_answer *a = ud;
        size_t add = sz * n;
        a->body = realloc(a->body, a->len + add + 1);
        memcpy(a->body + a->len, p, add);
        a->len += add;
        a->body[a->len] = '\0';
        return add;
}

int http_call(const char *server, const char *path, const char *body, size_t len, const char *token,
              struct http_answer *ret)
{
        CURL *c = curl_easy_init();
        char url[512], auth[512];
        struct curl_slist *h = NULL;
        CURLcode rc;
        char *ct = NULL;

        memset(ret, 0, sizeof(*ret));
        ret->body = calloc(1, 1);
        if (!strncmp(server, "unix://", 7)) {
                curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, server + 7);
                snprintf(url, sizeof(url), "http://unix%s", path);
        } else {
                snprintf(url, sizeof(url), "%s%s", server, path);
        }
        curl_easy_setopt(c, CURLOPT_URL, url);
        h = curl_slist_append(h, "Content-Type: application/json");
        h = curl_slist_append(h, "InterLink-Http-Session: Test#1");
        if (token) {
                snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
                h = curl_slist_append(h, auth);
        }
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        if (body) {
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
        }
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, ret);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
        rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ret->code);
        if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
                snprintf(ret->ctype, sizeof(ret->ctype), "%s", ct);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        return rc == CURLE_OK ? 0 : -1;
}

void http_answer_free(struct http_answer *a)
{
        free(a->body);
        a->body = NULL;
}
