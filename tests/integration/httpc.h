/* SPDX-License-Identifier: MIT */
/* A tiny libcurl helper for the integration tests: one request, whole answer. */
#ifndef FERRY_TEST_HTTPC_H
#define FERRY_TEST_HTTPC_H

#include <stddef.h>

struct http_answer {
        long code;
        char *body;
        size_t len;
        char ctype[128];
};

/* server: unix:///path or http://host:port. token may be NULL. */
int http_call(const char *server, const char *path, const char *body, size_t len, const char *token,
              struct http_answer *ret);
void http_answer_free(struct http_answer *a);

#endif
