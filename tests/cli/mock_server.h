/* SPDX-License-Identifier: MIT */
/*
 * A tiny interLink server for the client tests (libmicrohttpd, thread per
 * connection): records the last request and answers what the test set up.
 */
#ifndef FERRY_TEST_MOCK_SERVER_H
#define FERRY_TEST_MOCK_SERVER_H

#include <stdbool.h>
#include <stddef.h>

struct mock_request {
        char method[16];
        char path[128];
        char session[128]; /* InterLink-Http-Session */
        char authorization[256];
        char content_type[128];
        char host[128];
        char *body; /* owned by the server */
        size_t body_len;
};

struct mock_answer {
        unsigned code;
        const char *content_type; /* NULL: application/json */
        const char *body;
        /* streaming: body is sent in n_chunks pieces of equal size, delay_ms
         * apart, chunked */
        unsigned n_chunks;
        unsigned delay_ms;
};

struct mock_server;
/* socket_path set: listen there; else TCP on 127.0.0.1 with a free port. */
struct mock_server *mock_server_start(const char *socket_path);
void mock_server_stop(struct mock_server *s);
unsigned mock_server_port(const struct mock_server *s);
void mock_server_answer(struct mock_server *s, const struct mock_answer *a);
/* Copy of the last request (body stays owned by the server until the next). */
struct mock_request mock_server_last(struct mock_server *s);
unsigned mock_server_count(struct mock_server *s);

#endif
