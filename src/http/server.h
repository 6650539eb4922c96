/* SPDX-License-Identifier: MIT */
/*
 * ferryd's HTTP front: libmicrohttpd listeners (unix sockets and TCP), the
 * route table for both interLink hops, authentication, the error table and
 * request metrics. Each listener has a role:
 *
 *   api    (hop A)  the API a Virtual Kubelet calls: /create takes
 *                   PodCreateRequests, /status with [] lists every known pod.
 *   plugin (hop B)  the plugin API an interLink API server calls: /create takes
 *                   RetrievedPodData (object or one-element array), /status
 *                   with [] is the health ping.
 */
#ifndef FERRY_SERVER_H
#define FERRY_SERVER_H

#include <stdbool.h>

#include "common/error.h"
#include "daemon/daemon.h"
#include "http/auth.h"

enum ferry_listener_role { FERRY_ROLE_API, FERRY_ROLE_PLUGIN };

struct ferry_listener_config {
        const char *url; /* unix:///path or http://host:port */
        enum ferry_listener_role role;
};

struct ferry_server;

struct ferry_server_options {
        struct ferry_auth *auth; /* NULL: TCP listeners are refused unless allow_insecure */
        bool allow_insecure;
        unsigned socket_mode; /* of unix sockets */
        const char *tls_cert; /* PEM files for https:// listeners */
        const char *tls_key;
        const char *tls_client_ca; /* optional: require client certificates signed by it */
};

int ferry_server_start(struct ferry_daemon *d, const struct ferry_listener_config *ls, size_t n,
                       const struct ferry_server_options *opt, struct ferry_server **ret,
                       ferry_error_t *err);
void ferry_server_stop(struct ferry_server *s);

#endif
