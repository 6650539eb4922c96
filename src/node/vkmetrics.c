/* SPDX-License-Identifier: MIT */
/* The ferry-node engine's /metrics: ferryd call accounting and the text
 * exposition; see vk.h. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/hashmap.h"
#include "node/vk_internal.h"

static const char *const ferryd_ops[] = {"create", "status", "delete", "ping", "logs"};

void ferry_vk_account_ferryd(struct ferry_vk *vk, const char *op, int64_t start_ns, bool failed)
{
        int64_t ns = ferry_monotonic_ns() - start_ns;
        int o = 0;
        while (o < N_OPS && strcmp(ferryd_ops[o], op))
                o++;
        if (o == N_OPS)
                return;
        ferry_hist_observe(&vk->ferryd_lat[o], ns);
        if (failed) {
                pthread_mutex_lock(&vk->lock);
                vk->ferryd_errors[o]++;
                pthread_mutex_unlock(&vk->lock);
        }
}

void ferry_vk_metrics(struct ferry_vk *vk, struct ferry_buf *out)
{
        static const char *const phases[] = {"Pending", "Running", "Succeeded", "Failed",
                                             "Unknown"};
        size_t by_phase[5] = {0};
        size_t it = 0;
        void *v;

        pthread_mutex_lock(&vk->lock);
        while (ferry_hashmap_next(vk->pods, &it, NULL, &v)) {
                struct vpod *p = v;
                const char *ph = ferry_node_status_phase(p->status);
                size_t i = 0;
                while (i < 4 && strcmp(phases[i], ph))
                        i++;
                by_phase[i]++;
        }
        ferry_buf_adds(out, "# HELP ferry_node_pods Pods bound to this node, by phase.\n"
                            "# TYPE ferry_node_pods gauge\n");
        for (size_t i = 0; i < 5; i++)
                ferry_buf_printf(out, "ferry_node_pods{phase=\"%s\"} %zu\n", phases[i],
                                 by_phase[i]);
        ferry_buf_printf(
            out,
            "# HELP ferry_node_work_queue Pods waiting for a worker.\n"
            "# TYPE ferry_node_work_queue gauge\nferry_node_work_queue %zu\n"
            "# HELP ferry_node_creates_total Pods sent to /create.\n"
            "# TYPE ferry_node_creates_total counter\nferry_node_creates_total %llu\n"
            "# HELP ferry_node_create_failures_total Pods made Failed at creation.\n"
            "# TYPE ferry_node_create_failures_total counter\nferry_node_create_failures_total "
            "%llu\n"
            "# HELP ferry_node_status_patches_total Pod status patches sent.\n"
            "# TYPE ferry_node_status_patches_total counter\nferry_node_status_patches_total %llu\n"
            "# HELP ferry_node_deletes_total Pods deleted at the site and in the API.\n"
            "# TYPE ferry_node_deletes_total counter\nferry_node_deletes_total %llu\n"
            "# HELP ferry_node_adopted_total Pods found with a JobID at start.\n"
            "# TYPE ferry_node_adopted_total counter\nferry_node_adopted_total %llu\n"
            "# HELP ferry_node_orphans_deleted_total Site pods deleted because their API objects "
            "were gone.\n"
            "# TYPE ferry_node_orphans_deleted_total counter\nferry_node_orphans_deleted_total "
            "%llu\n",
            vk->n_queue, (unsigned long long)vk->creates, (unsigned long long)vk->create_failures,
            (unsigned long long)vk->status_patches, (unsigned long long)vk->deletes,
            (unsigned long long)vk->adoptions, (unsigned long long)vk->orphans_deleted);
        ferry_buf_adds(
            out,
            "# HELP ferry_node_ferryd_requests_total Calls to the interLink API by operation.\n"
            "# TYPE ferry_node_ferryd_requests_total counter\n");
        for (int o = 0; o < N_OPS; o++)
                ferry_buf_printf(out, "ferry_node_ferryd_requests_total{op=\"%s\"} %llu\n",
                                 ferryd_ops[o],
                                 (unsigned long long)ferry_hist_count(&vk->ferryd_lat[o]));
        ferry_buf_adds(out,
                       "# HELP ferry_node_ferryd_errors_total Failed calls to the interLink API.\n"
                       "# TYPE ferry_node_ferryd_errors_total counter\n");
        for (int o = 0; o < N_OPS; o++)
                ferry_buf_printf(out, "ferry_node_ferryd_errors_total{op=\"%s\"} %llu\n",
                                 ferryd_ops[o], (unsigned long long)vk->ferryd_errors[o]);
        ferry_buf_adds(out,
                       "# HELP ferry_node_ferryd_request_duration_seconds interLink API latency.\n"
                       "# TYPE ferry_node_ferryd_request_duration_seconds histogram\n");
        for (int o = 0; o < N_OPS; o++) {
                char labels[32];
                snprintf(labels, sizeof(labels), "op=\"%s\"", ferryd_ops[o]);
                ferry_hist_render(out, "ferry_node_ferryd_request_duration_seconds", labels,
                                  &vk->ferryd_lat[o]);
        }
        pthread_mutex_unlock(&vk->lock);
        ferry_buf_printf(
            out,
            "# HELP ferry_node_watch_restarts_total Pod watch streams reopened.\n"
            "# TYPE ferry_node_watch_restarts_total counter\nferry_node_watch_restarts_total %llu\n"
            "# HELP ferry_node_watch_relists_total Pod lists after the first (410 Gone, errors).\n"
            "# TYPE ferry_node_watch_relists_total counter\nferry_node_watch_relists_total %llu\n"
            "# HELP ferry_node_site_up Whether the last /pinglink succeeded.\n"
            "# TYPE ferry_node_site_up gauge\nferry_node_site_up %d\n",
            vk->informer ? (unsigned long long)ferry_kube_informer_restarts(vk->informer) : 0ULL,
            vk->informer ? (unsigned long long)ferry_kube_informer_relists(vk->informer) : 0ULL,
            atomic_load(&vk->site_ok) ? 1 : 0);
        struct ferry_events_stats es;
        ferry_events_stats(vk->events, &es);
        ferry_buf_printf(out,
                         "# HELP ferry_node_events_total Kubernetes Events written, by action.\n"
                         "# TYPE ferry_node_events_total counter\n"
                         "ferry_node_events_total{action=\"create\"} %llu\n"
                         "ferry_node_events_total{action=\"update\"} %llu\n"
                         "ferry_node_events_total{action=\"failed\"} %llu\n"
                         "ferry_node_events_total{action=\"dropped\"} %llu\n",
                         (unsigned long long)es.created, (unsigned long long)es.updated,
                         (unsigned long long)es.failed, (unsigned long long)es.dropped);
        ferry_kube_metrics(vk->kube, out);
}
