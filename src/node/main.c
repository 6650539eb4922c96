/* SPDX-License-Identifier: MIT */
/*
 * ferry-node: a virtual kubelet that offloads the pods bound to its node to
 * ferryd (or any interLink API server). main() is a list of init steps,
 * mirrored by teardown in reverse order; the logic is in vk.c, kubelet.c and
 * libferry-kube.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "kube/kube.h"
#include "kube/kubeconfig.h"
#include "vk.h"

static void usage(FILE *f)
{
        fprintf(f,
                "usage: ferry-node [--config FILE] [--SETTING VALUE]...\n"
                "  --node-name NAME            the virtual node (required)\n"
                "  --ferryd-url URL            unix:///run/ferry/ferryd.sock or https://HOST:PORT "
                "(required)\n"
                "  --ferryd-token-file FILE    bearer token for the site\n"
                "  --ferryd-ca FILE            CA bundle for an https:// site\n"
                "  --kubeconfig FILE           else $KUBECONFIG, ~/.kube/config, in-cluster\n"
                "  --kube-context NAME\n"
                "  --status-interval-ms N      batched /status period (1000)\n"
                "  --ping-interval-s N         /pinglink period (10)\n"
                "  --lease-duration-s N (40)   --lease-renew-s N (10)   --node-heartbeat-s N (60)\n"
                "  --label K=V[,K=V]           extra node labels\n"
                "  --taint K[=V]:EFFECT[,...]  node taints (replace the default; 'none' for none)\n"
                "  --internal-ip IP            the Node's InternalIP (where the kubelet port is "
                "reached)\n"
                "  --kubelet-port N (10250, 0 = off)  --kubelet-listen ADDR (0.0.0.0)\n"
                "  --kubelet-cert F --kubelet-key F --kubelet-client-ca F\n"
                "  --kubelet-insecure-http     plain HTTP on the kubelet port (tests only)\n"
                "  --kubelet-insecure-no-auth  no authentication/authorisation on the kubelet "
                "port:\n"
                "                              anyone who reaches it reads every pod's logs\n"
                "  --qps N (500) --burst N (1000)  Kubernetes API client rate limit\n"
                "  --workers N (8)  --config-wait-s N (300)  --log-level LEVEL\n");
}

static volatile sig_atomic_t quit;
static struct ferry_vk *volatile running_vk; /* to stop a start that is still retrying */
static void on_signal(int sig)
{
        if (running_vk)
                ferry_vk_request_stop(running_vk);
        quit = sig;
}

int main(int argc, char **argv)
{
        struct ferry_vk_config cfg;
        struct ferry_kube_config kcfg = {0};
        struct ferry_kube *kube = NULL;
        struct ferry_vk *vk = NULL;
        struct ferry_kubelet *kubelet = NULL;
        ferry_error_t err = {{0}};
        int r = 0, rc = 1;

        /* 1. configuration: defaults, the file, then flags */
        ferry_vk_config_defaults(&cfg);
        for (int i = 1; i < argc; i++)
                if (!strcmp(argv[i], "--config") && i + 1 < argc &&
                    (r = ferry_vk_config_load(argv[i + 1], &cfg, &err)) < 0)
                        goto fail_config;
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
                        usage(stdout);
                        rc = 0;
                        goto fail_config;
                }
                if (!strcmp(a, "--kubelet-insecure-http")) {
                        cfg.kubelet_insecure_http = true;
                        continue;
                }
                if (!strcmp(a, "--kubelet-insecure-no-auth")) {
                        cfg.kubelet_insecure_no_auth = true;
                        continue;
                }
                if (strncmp(a, "--", 2) || i + 1 >= argc) {
                        usage(stderr);
                        rc = 2;
                        goto fail_config;
                }
                if (!strcmp(a, "--config")) {
                        i++;
                        continue;
                }
                if ((r = ferry_vk_config_set(&cfg, a + 2, argv[++i], &err)) < 0) {
                        rc = 2;
                        goto fail_config;
                }
        }
        if ((r = ferry_vk_config_check(&cfg, &err)) < 0) {
                rc = 2;
                goto fail_config;
        }
        if (cfg.log_level) {
                int lvl = ferry_log_parse_level(cfg.log_level);
                if (lvl >= 0)
                        ferry_log_set_level(lvl);
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);

        /* 2. the Kubernetes API: kubeconfig, else in-cluster */
        r = ferry_kube_config_load(cfg.kubeconfig, cfg.kube_context, &kcfg, &err);
        if (r == -ENOENT && !cfg.kubeconfig)
                r = ferry_kube_config_in_cluster(NULL, &kcfg, &err);
        if (r < 0)
                goto fail_kcfg;
        struct ferry_kube_options ko = {
            .qps = cfg.qps, .burst = cfg.burst, .user_agent = "ferry-node/0.1"};
        if ((r = ferry_kube_new(&kcfg, &ko, &kube, &err)) < 0)
                goto fail_kube;

        /* 3. signals */
        struct sigaction sa = {.sa_handler = on_signal};
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        /* 4. the engine: Node + Lease, informer, workers, loops */
        if ((r = ferry_vk_new(&cfg, kube, &vk, &err)) < 0)
                goto fail_vk;
        running_vk = vk;
        if ((r = ferry_vk_start(vk, &err)) < 0) {
                if (quit) { /* stopped while registering: not a failure */
                        rc = 0;
                        r = 0;
                }
                goto fail_start;
        }

        /* 5. the kubelet endpoint */
        if (cfg.kubelet_port && (r = ferry_kubelet_start(vk, &cfg, &kubelet, &err)) < 0)
                goto fail_start;
        log_info("ferry-node %s: API %s, site %s, kubelet port %d%s%s", cfg.node_name,
                 ferry_kube_server(kube), cfg.ferryd_url, cfg.kubelet_port,
                 cfg.kubelet_insecure_http ? " (plain HTTP)" : "",
                 cfg.kubelet_insecure_no_auth ? " WITHOUT AUTHENTICATION" : "");
        if (cfg.kubelet_port && cfg.kubelet_insecure_no_auth)
                log_warn("the kubelet port serves every offloaded pod's logs to anyone who "
                         "reaches it (kubelet_insecure_no_auth)");
        printf("ferry-node ready\n");
        fflush(stdout);

        while (!quit)
                pause();
        log_info("signal %d: stopping", (int)quit);
        rc = 0;

        ferry_kubelet_stop(kubelet);
fail_start:
        running_vk = NULL;
        ferry_vk_stop(vk);
        ferry_vk_free(vk);
fail_vk:
        ferry_kube_free(kube);
fail_kube:
        ferry_kube_config_clear(&kcfg);
fail_kcfg:
        curl_global_cleanup();
fail_config:
        if (r < 0 && err.text[0])
                fprintf(stderr, "ferry-node: %s\n", err.text);
        ferry_vk_config_clear(&cfg);
        return rc;
}
