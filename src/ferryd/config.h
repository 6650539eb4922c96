/* SPDX-License-Identifier: MIT */
/* ferryd's configuration: defaults, then the YAML file, then command-line flags. */
#ifndef FERRYD_CONFIG_H
#define FERRYD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "backend/backend.h"
#include "common/error.h"
#include "http/server.h"
#include "tenancy/tenancy.h"

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
        int job_backoff_ms;
        char *log_level;
        struct ferry_backend_option *backend_options;
        size_t n_backend_options;
        struct ferry_tn_config *tenancy; /* the `tenancy:` section, NULL without one */
        /* set by parsing: whether listen came from the file or flags */
        bool listen_set;
        bool listen_from_flags;
};

/* One table drives the YAML keys, the command-line flags and --help: a
 * setting's flag is its key with '-' for '_' (flag overrides that). */
enum ferryd_setting_type {
        FERRYD_SET_STRING,
        FERRYD_SET_BOOL,   /* a flag without argument; true/false in YAML */
        FERRYD_SET_OCTAL,  /* unsigned, 0..0777 */
        FERRYD_SET_INT,    /* int in [min, max] */
        FERRYD_SET_LISTEN, /* a URL, repeatable; YAML: a URL or a list */
        FERRYD_SET_OPTION, /* KEY=VALUE, repeatable; YAML: a mapping */
};

struct ferryd_setting {
        const char *key;  /* YAML key */
        const char *flag; /* long flag when it is not the key with '-' for '_' */
        char short_opt;   /* or 0 */
        enum ferryd_setting_type type;
        size_t offset;                 /* into struct ferryd_config */
        int min, max;                  /* FERRYD_SET_INT */
        enum ferry_listener_role role; /* FERRYD_SET_LISTEN */
        const char *arg;               /* the argument's name in --help */
        const char *help;              /* one line; the default in parentheses */
};

/* The table, NULL-key terminated. */
extern const struct ferryd_setting ferryd_settings[];
const struct ferryd_setting *ferryd_setting_by_key(const char *key);
/* The long flag of a setting (without "--"), into buf. */
const char *ferryd_setting_flag(const struct ferryd_setting *s, char *buf, size_t size);
/* Apply one value (a flag's argument, or a YAML scalar). as: how the user
 * named the setting, for the error ("poll_interval_ms", "--poll-interval-ms").
 * Listeners given as flags replace those of the file. */
int ferryd_config_set(struct ferryd_config *c, const struct ferryd_setting *s, const char *value,
                      bool from_flag, const char *as, ferry_error_t *err);
/* The options part of --help, from the table. */
void ferryd_config_usage(FILE *f);

void ferryd_config_defaults(struct ferryd_config *c);
/* Merge a YAML config file into c. Unknown keys are errors (typos matter). */
int ferryd_config_load(struct ferryd_config *c, const char *path, ferry_error_t *err);
void ferryd_config_add_listen(struct ferryd_config *c, const char *url,
                              enum ferry_listener_role role);
int ferryd_config_set_option(struct ferryd_config *c, const char *kv, ferry_error_t *err);
void ferryd_config_free(struct ferryd_config *c);

#endif
