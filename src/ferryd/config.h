/* SPDX-License-Identifier: MIT */
/* ferryd's configuration: defaults, then the YAML file, then command-line flags. */
#ifndef FERRYD_CONFIG_H
#define FERRYD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "backend/backend.h"
#include "common/error.h"
#include "http/server.h"

struct ferryd_config {
        struct ferry_listener_config *listen;
        size_t n_listen;
        char *state_dir;
        char *backend;
        char *runtime;
        char *libexec_dir;
        char *tokens;
        char *tls_cert, *tls_key, *tls_client_ca;
        bool insecure_tcp;
        unsigned socket_mode;
        int poll_interval_ms;
        char *log_level;
        struct ferry_backend_option *backend_options;
        size_t n_backend_options;
        /* set by parsing: whether listen came from the file or flags */
        bool listen_set;
};

void ferryd_config_defaults(struct ferryd_config *c);
/* Merge a YAML config file into c. Unknown keys are errors (typos matter). */
int ferryd_config_load(struct ferryd_config *c, const char *path, ferry_error_t *err);
void ferryd_config_add_listen(struct ferryd_config *c, const char *url,
                              enum ferry_listener_role role);
int ferryd_config_set_option(struct ferryd_config *c, const char *kv, ferry_error_t *err);
void ferryd_config_free(struct ferryd_config *c);

#endif
