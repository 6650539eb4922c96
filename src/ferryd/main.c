/* SPDX-License-Identifier: MIT */
/*
 * ferryd: the Ferry site daemon. main() is a list of init steps mirrored by
 * teardown in reverse order; the logic lives in the libraries.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "config.h"
#include "daemon/daemon.h"
#include "ferry-config.h"
#include "http/auth.h"
#include "http/server.h"

static void usage(FILE *f)
{
        fprintf(f, "Usage: ferryd [OPTIONS]\n\n"
                   "Ferry site daemon: serves the interLink API and runs pods through a backend.\n"
                   "Every option is also a key of the YAML config file (its name with _).\n\n"
                   "  -c, --config FILE          YAML config file; flags override it\n");
        ferryd_config_usage(f);
        fprintf(f, "  -h, --help, --version\n\nBackends: %s\n", ferry_backend_names());
}

static char *default_libexec(void)
{
        char exe[PATH_MAX], cand[PATH_MAX + 32];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n > 0) {
                exe[n] = '\0';
                char *slash = strrchr(exe, '/');
                if (slash) {
                        *slash = '\0';
                        snprintf(cand, sizeof(cand), "%s/ferry-shim", exe);
                        if (access(cand, X_OK) == 0)
                                return ferry_xstrdup(exe);
                        snprintf(cand, sizeof(cand), "%s/../shim/ferry-shim", exe); /* build tree */
                        if (access(cand, X_OK) == 0)
                                return ferry_xasprintf("%s/../shim", exe);
                        snprintf(cand, sizeof(cand), "%s/../libexec/ferry/ferry-shim",
                                 exe); /* PREFIX/bin */
                        if (access(cand, X_OK) == 0)
                                return ferry_xasprintf("%s/../libexec/ferry", exe);
                }
        }
        return ferry_xstrdup(FERRY_LIBEXECDIR);
}

/* SIGHUP: read the config file again and apply its `tenancy:` section
 * (quotas, weights; running pods keep running). A file with an error changes
 * nothing. Other settings take effect at the next start. */
static void reload(struct ferry_daemon *d, const char *config_path)
{
        struct ferryd_config nc;
        ferry_error_t err = {{0}};
        if (!config_path) {
                log_info("SIGHUP: ferryd runs without a config file: nothing to reload");
                return;
        }
        ferryd_config_defaults(&nc);
        if (ferryd_config_load(&nc, config_path, &err) < 0) {
                log_err("SIGHUP: keeping the running config: %s", err.text);
                ferryd_config_free(&nc);
                return;
        }
        bool on = nc.tenancy != NULL;
        size_t n = on ? nc.tenancy->n_tenants : 0;
        ferry_daemon_set_tenancy(d, nc.tenancy);
        nc.tenancy = NULL;
        ferryd_config_free(&nc);
        if (on)
                log_info("SIGHUP: tenancy reloaded from %s (%zu tenants); other settings apply "
                         "at the next start",
                         config_path, n);
        else
                log_info("SIGHUP: %s has no tenancy section: site admission is off; other "
                         "settings apply at the next start",
                         config_path);
}

int main(int argc, char **argv)
{
        /* getopt's table from the settings table: val = 256 + index, or the short option */
        size_t n_set = 0;
        while (ferryd_settings[n_set].key)
                n_set++;
        static struct option opts[48];
        static char flags[44][64];
        if (n_set >= FERRY_ARRAY_SIZE(flags)) {
                fprintf(stderr, "ferryd: too many settings for the option table\n");
                return 2;
        }
        char shortopts[64] = "c:h";
        for (size_t i = 0; i < n_set; i++) {
                const struct ferryd_setting *st = &ferryd_settings[i];
                opts[i].name = ferryd_setting_flag(st, flags[i], sizeof(flags[i]));
                opts[i].has_arg = st->type == FERRYD_SET_BOOL ? no_argument : required_argument;
                opts[i].val = st->short_opt ? st->short_opt : 256 + (int)i;
                if (st->short_opt) {
                        size_t l = strlen(shortopts);
                        shortopts[l] = st->short_opt;
                        shortopts[l + 1] = ':';
                        shortopts[l + 2] = '\0';
                }
        }
        opts[n_set] = (struct option){"config", required_argument, NULL, 'c'};
        opts[n_set + 1] = (struct option){"help", no_argument, NULL, 'h'};
        opts[n_set + 2] = (struct option){"version", no_argument, NULL, 1};
        struct ferryd_config cfg;
        struct ferry_daemon *d = NULL;
        struct ferry_server *srv = NULL;
        struct ferry_auth *auth = NULL;
        ferry_error_t err = {{0}};
        sigset_t sigs;
        int c, sig, rc = 1;
        const char *config_path = NULL;
        const char **private_paths = NULL;

        /* Thread-per-connection would spread long-lived pod records over many
         * malloc arenas; two keep RSS close to the live data (BENCHMARKS.md). */
        mallopt(M_ARENA_MAX, 2);
        ferryd_config_defaults(&cfg);
        /* Pass 1: the config file, so that flags override it. */
        while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
                if (c == 'h') {
                        usage(stdout);
                        rc = 0;
                        goto out_cfg;
                }
                if (c == 1) {
                        printf("ferryd %s\n", FERRY_VERSION);
                        rc = 0;
                        goto out_cfg;
                }
                if (c == '?') {
                        usage(stderr);
                        rc = 2;
                        goto out_cfg;
                }
                if (c == 'c' && ferryd_config_load(&cfg, optarg, &err) < 0) {
                        fprintf(stderr, "ferryd: %s\n", err.text);
                        rc = 2;
                        goto out_cfg;
                }
                if (c == 'c')
                        config_path = optarg;
        }
        if (optind < argc) {
                fprintf(stderr, "ferryd: unexpected argument \"%s\"\n", argv[optind]);
                rc = 2;
                goto out_cfg;
        }
        /* Pass 2: flags. Listeners given as flags replace those of the file. */
        optind = 0;
        while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
                const struct ferryd_setting *st = NULL;
                for (size_t i = 0; i < n_set && !st; i++)
                        if (opts[i].val == c)
                                st = &ferryd_settings[i];
                if (!st)
                        continue; /* --config, done in pass 1 */
                char as[80];
                snprintf(as, sizeof(as), "--%s", opts[st - ferryd_settings].name);
                if (ferryd_config_set(&cfg, st, optarg ? optarg : "true", true, as, &err) < 0) {
                        fprintf(stderr, "ferryd: %s\n", err.text);
                        goto out_cfg;
                }
        }
        int lvl = ferry_log_parse_level(cfg.log_level);
        if (lvl < 0) {
                fprintf(stderr, "ferryd: unknown log level \"%s\" (error, warning, info, debug)\n",
                        cfg.log_level);
                goto out_cfg;
        }
        ferry_log_set_level((enum ferry_log_level)lvl);
        if (cfg.n_listen == 0)
                ferryd_config_add_listen(&cfg, "unix:///run/ferry/ferryd.sock", FERRY_ROLE_API);
        if (!cfg.libexec_dir)
                cfg.libexec_dir = default_libexec();

        /* Signals: handled synchronously by the main thread; threads inherit the mask. */
        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);

        if (cfg.tokens && ferry_auth_load(cfg.tokens, &auth, &err) < 0) {
                log_err("%s", err.text);
                goto out_cfg;
        }
        /* what pods must never see: ferryd's own files (the local backend's
         * sandbox hides them; most are outside it anyway) */
        private_paths = ferry_xcalloc(cfg.n_listen + 8, sizeof(*private_paths));
        size_t n_private = 0;
        const char *const files[] = {config_path,  cfg.tokens,    cfg.tls_key,
                                     cfg.tls_cert, cfg.state_dir, cfg.tls_client_ca};
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(files); i++)
                if (files[i] && files[i][0] == '/')
                        private_paths[n_private++] = files[i];
        for (size_t i = 0; i < cfg.n_listen; i++)
                if (strncmp(cfg.listen[i].url, "unix://", 7) == 0)
                        private_paths[n_private++] = cfg.listen[i].url + 7;
        struct ferry_daemon_config dc = {
            .private_paths = private_paths,
            .n_private_paths = n_private,
            .state_dir = cfg.state_dir,
            .backend = cfg.backend,
            .runtime = cfg.runtime,
            .libexec_dir = cfg.libexec_dir,
            .backend_options = cfg.backend_options,
            .n_backend_options = cfg.n_backend_options,
            .poll_interval_ms = cfg.poll_interval_ms,
            .job_backoff_ms = cfg.job_backoff_ms,
            .limits = ferry_default_limits,
            .tenancy = cfg.tenancy, /* taken over */
        };
        cfg.tenancy = NULL;
        if (ferry_daemon_new(&dc, &d, &err) < 0) {
                log_err("%s", err.text);
                goto out_auth;
        }
        struct ferry_server_options so = {
            .auth = auth,
            .allow_insecure = cfg.insecure_tcp,
            .socket_mode = cfg.socket_mode,
            .tls_cert = cfg.tls_cert,
            .tls_key = cfg.tls_key,
            .tls_client_ca = cfg.tls_client_ca,
        };
        if (ferry_server_start(d, cfg.listen, cfg.n_listen, &so, &srv, &err) < 0) {
                log_err("%s", err.text);
                goto out_daemon;
        }
        if (ferry_daemon_start(d, &err) < 0) {
                log_err("%s", err.text);
                goto out_server;
        }
        log_info("ferryd %s ready: backend %s, runtime %s, state in %s", FERRY_VERSION, cfg.backend,
                 cfg.runtime, cfg.state_dir);
        for (;;) {
                if (sigwait(&sigs, &sig) != 0)
                        continue;
                if (sig == SIGHUP) {
                        reload(d, config_path);
                        continue;
                }
                log_info("signal %d: shutting down (running pods keep running)", sig);
                break;
        }
        rc = 0;
out_server:
        ferry_server_stop(srv);
out_daemon:
        ferry_daemon_free(d);
out_auth:
        ferry_auth_free(auth);
out_cfg:
        free(private_paths);
        ferryd_config_free(&cfg);
        return rc;
}
