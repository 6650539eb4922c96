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
        fprintf(
            f,
            "Usage: ferryd [OPTIONS]\n\n"
            "Ferry site daemon: serves the interLink API and runs pods through a backend.\n\n"
            "  -c, --config FILE         YAML config file (keys as the long options, with _)\n"
            "  -l, --listen URL          hop-A API listener, repeatable: unix:///PATH, "
            "http://HOST:PORT\n"
            "                            or https://HOST:PORT\n"
            "                            (default unix:///run/ferry/ferryd.sock)\n"
            "  -p, --plugin-listen URL   hop-B plugin listener (an interLink API server calls it)\n"
            "  -s, --state-dir DIR       state directory (default /var/lib/ferry)\n"
            "  -b, --backend NAME        backend: %s (default local)\n"
            "  -r, --runtime NAME        local backend runtime: bwrap, podman, host (default "
            "bwrap)\n"
            "  -o, --backend-opt K=V     backend option, repeatable\n"
            "  -t, --tokens FILE         bearer tokens for TCP listeners (TOKEN NS[,NS]) per "
            "line)\n"
            "      --insecure-tcp        allow TCP listeners without tokens\n"
            "      --tls-cert FILE       PEM certificate (chain) for https:// listeners\n"
            "      --tls-key FILE        its PEM private key\n"
            "      --tls-client-ca FILE  require client certificates signed by this CA (https)\n"
            "      --socket-mode MODE    unix socket mode (default 0660)\n"
            "      --poll-interval-ms N  backend status poll interval (default 1000)\n"
            "      --log-level LEVEL     error, warning, info, debug (default info)\n"
            "      --libexec-dir DIR     where ferry-shim lives\n"
            "  -h, --help, --version\n",
            ferry_backend_names());
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

int main(int argc, char **argv)
{
        static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"listen", required_argument, NULL, 'l'},
            {"plugin-listen", required_argument, NULL, 'p'},
            {"state-dir", required_argument, NULL, 's'},
            {"backend", required_argument, NULL, 'b'},
            {"runtime", required_argument, NULL, 'r'},
            {"backend-opt", required_argument, NULL, 'o'},
            {"tokens", required_argument, NULL, 't'},
            {"insecure-tcp", no_argument, NULL, 1},
            {"socket-mode", required_argument, NULL, 2},
            {"poll-interval-ms", required_argument, NULL, 3},
            {"log-level", required_argument, NULL, 4},
            {"libexec-dir", required_argument, NULL, 5},
            {"version", no_argument, NULL, 6},
            {"tls-cert", required_argument, NULL, 7},
            {"tls-key", required_argument, NULL, 8},
            {"tls-client-ca", required_argument, NULL, 9},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        static const char *shortopts = "c:l:p:s:b:r:o:t:h";
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
                        return 0;
                }
                if (c == 6) {
                        printf("ferryd %s\n", FERRY_VERSION);
                        return 0;
                }
                if (c == '?') {
                        usage(stderr);
                        return 2;
                }
                if (c == 'c' && ferryd_config_load(&cfg, optarg, &err) < 0) {
                        fprintf(stderr, "ferryd: %s\n", err.text);
                        return 2;
                }
                if (c == 'c')
                        config_path = optarg;
        }
        if (optind < argc) {
                fprintf(stderr, "ferryd: unexpected argument \"%s\"\n", argv[optind]);
                return 2;
        }
        /* Pass 2: flags. Listeners given as flags replace those of the file. */
        bool flag_listen = false;
        optind = 0;
        while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
                char *end;
                switch (c) {
                case 'l':
                case 'p':
                        if (!flag_listen) {
                                for (size_t i = 0; i < cfg.n_listen; i++)
                                        free((char *)cfg.listen[i].url);
                                cfg.n_listen = 0;
                                flag_listen = true;
                        }
                        ferryd_config_add_listen(&cfg, optarg,
                                                 c == 'l' ? FERRY_ROLE_API : FERRY_ROLE_PLUGIN);
                        break;
                case 's':
                        free(cfg.state_dir);
                        cfg.state_dir = ferry_xstrdup(optarg);
                        break;
                case 'b':
                        free(cfg.backend);
                        cfg.backend = ferry_xstrdup(optarg);
                        break;
                case 'r':
                        free(cfg.runtime);
                        cfg.runtime = ferry_xstrdup(optarg);
                        break;
                case 't':
                        free(cfg.tokens);
                        cfg.tokens = ferry_xstrdup(optarg);
                        break;
                case 'o':
                        if (ferryd_config_set_option(&cfg, optarg, &err) < 0) {
                                fprintf(stderr, "ferryd: %s\n", err.text);
                                goto out_cfg;
                        }
                        break;
                case 1: cfg.insecure_tcp = true; break;
                case 2:
                        cfg.socket_mode = (unsigned)strtoul(optarg, &end, 8);
                        if (*end || cfg.socket_mode > 0777) {
                                fprintf(stderr, "ferryd: --socket-mode must be octal, like 0660\n");
                                goto out_cfg;
                        }
                        break;
                case 3:
                        cfg.poll_interval_ms = (int)strtol(optarg, &end, 10);
                        if (*end || cfg.poll_interval_ms < 10) {
                                fprintf(stderr,
                                        "ferryd: --poll-interval-ms must be a number >= 10\n");
                                goto out_cfg;
                        }
                        break;
                case 4:
                        free(cfg.log_level);
                        cfg.log_level = ferry_xstrdup(optarg);
                        break;
                case 5:
                        free(cfg.libexec_dir);
                        cfg.libexec_dir = ferry_xstrdup(optarg);
                        break;
                case 7:
                        free(cfg.tls_cert);
                        cfg.tls_cert = ferry_xstrdup(optarg);
                        break;
                case 8:
                        free(cfg.tls_key);
                        cfg.tls_key = ferry_xstrdup(optarg);
                        break;
                case 9:
                        free(cfg.tls_client_ca);
                        cfg.tls_client_ca = ferry_xstrdup(optarg);
                        break;
                default: break;
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
            .limits = ferry_default_limits,
        };
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
                        log_info("SIGHUP: nothing to reload yet (restart ferryd to apply config "
                                 "changes)");
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
