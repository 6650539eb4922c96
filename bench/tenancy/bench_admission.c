/* SPDX-License-Identifier: MIT */
/*
 * Issue 11 figure: the admission decision (ferry_tn_plan, what ferryd runs
 * after every poll) with 10,000 waiting pods of 100 tenants on a full site.
 * Each round frees the resources of K running pods (K = 1, 10, 100), as pods
 * ending between two polls do, and plans; the time per admitted pod is the
 * round's time over the pods it admitted. Pods ask 250m..4 CPUs, 1..16 GiB,
 * one in eight a whole GPU and one in eight a MIG 1g slice; tenants have
 * weights 1..4, half of them quotas, and decayed usage of their own.
 *   bench-admission [ROUNDS]      (prints a Markdown table)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tenancy/tenancy.h"

#define TENANTS 100
#define WAITING 10000

static uint64_t rng = 42;
static uint64_t next(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

static double now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

static void random_req(const struct ferry_tn_config *c, struct ferry_tn_vec *v)
{
        static const int64_t cpu[] = {250, 500, 1000, 2000, 4000};
        memset(v, 0, sizeof(*v));
        v->v[FERRY_TN_CPU] = cpu[next() % 5];
        v->v[FERRY_TN_MEMORY] = (int64_t)(1 + next() % 16) << 30;
        v->v[FERRY_TN_PODS] = 1;
        int g = (int)(next() % 8);
        if (g == 0)
                v->v[FERRY_TN_GPU] = 1;
        else if (g == 1)
                v->v[ferry_tn_res_index(c, "nvidia.com/mig-1g.10gb")] = 1;
}

int main(int argc, char **argv)
{
        int rounds = argc > 1 ? atoi(argv[1]) : 300;
        struct ferry_buf yaml = FERRY_BUF_INIT;
        ferry_buf_adds(&yaml, "tenancy:\n  reserve_after: 1h\n  tenants:\n");
        for (int t = 0; t < TENANTS; t++) {
                ferry_buf_printf(&yaml, "    - name: t%03d\n      weight: %d\n", t, 1 + t % 4);
                if (t % 2 == 0)
                        ferry_buf_printf(&yaml,
                                         "      quota: {cpu: \"%d\", nvidia.com/gpu: 4, "
                                         "nvidia.com/mig-1g.10gb: 8}\n",
                                         16 + t % 48);
        }
        struct ferry_tn_config *c = NULL;
        ferry_error_t err = {{0}};
        if (ferry_tn_config_parse(yaml.data, yaml.len, "bench.yaml", &c, &err) < 0) {
                fprintf(stderr, "%s\n", err.text);
                return 1;
        }
        int mig = ferry_tn_res_index(c, "nvidia.com/mig-1g.10gb");
        struct ferry_tn_vec cap;
        for (size_t r = 0; r < FERRY_TN_RES_MAX; r++)
                cap.v[r] = -1;
        cap.v[FERRY_TN_CPU] = 1024 * 1000; /* 1024 cores, 8 TiB, 64 GPUs, 112 slices */
        cap.v[FERRY_TN_MEMORY] = 8LL << 40;
        cap.v[FERRY_TN_PODS] = 5000;
        cap.v[FERRY_TN_GPU] = 64;
        cap.v[mig] = 112;

        struct ferry_tn_tstate *t = calloc(TENANTS, sizeof(*t));
        for (int i = 0; i < TENANTS; i++) {
                t[i].name = c->tenants[i].name;
                t[i].weight = c->tenants[i].weight;
                t[i].quota = &c->tenants[i].quota;
                for (size_t r = 0; r < c->n_res; r++)
                        t[i].usage[r] = (double)(next() % 1000) * 3600.0;
        }
        /* fill the site: running pods admitted by a first round of a large pool */
        size_t cap_run = 20000, nr = 0;
        struct ferry_tn_run *run = calloc(cap_run, sizeof(*run));
        struct ferry_tn_wait *w = calloc(WAITING + 1000, sizeof(*w));
        size_t nw = WAITING;
        for (size_t i = 0; i < nw; i++) {
                w[i].tenant = next() % TENANTS;
                random_req(c, &w[i].req);
                w[i].priority = (int64_t)(next() % 3);
                w[i].created_ns = (int64_t)i * 1000;
        }
        int64_t now = (int64_t)WAITING * 1000 + 1;
        ferry_tn_plan(c, t, TENANTS, w, nw, run, 0, &cap, now);
        /* admitted ones run; refill the waiting list to 10,000 */
        size_t keep = 0;
        for (size_t i = 0; i < nw; i++) {
                if (w[i].verdict == FERRY_TN_ADMIT) {
                        run[nr++] = (struct ferry_tn_run){
                            .tenant = w[i].tenant, .req = w[i].req, .claimed_by = -1};
                        continue;
                }
                w[keep++] = w[i];
        }
        nw = keep;
        size_t filled = nr;

        printf("| pods freed per round | rounds | admitted per round (mean) | round p50 | round "
               "p99 | per admitted pod p50 | per admitted pod p99 |\n|---|---|---|---|---|---|"
               "---|\n");
        static const int ks[] = {1, 10, 100};
        for (size_t ki = 0; ki < 3; ki++) {
                int k = ks[ki];
                double *per = calloc((size_t)rounds, sizeof(double));
                double *whole = calloc((size_t)rounds, sizeof(double));
                size_t admitted_total = 0;
                int n_per = 0;
                for (int rd = 0; rd < rounds; rd++) {
                        /* K pods end: their tenants hold less, new pods arrive */
                        for (int e = 0; e < k && nr > 0; e++) {
                                size_t v = next() % nr;
                                struct ferry_tn_tstate *ts = &t[run[v].tenant];
                                for (size_t r = 0; r < c->n_res; r++) {
                                        ts->held.v[r] -= run[v].req.v[r];
                                        ts->held_g.v[r] -= run[v].req.v[r];
                                }
                                run[v] = run[--nr];
                        }
                        while (nw < WAITING) {
                                w[nw].tenant = next() % TENANTS;
                                random_req(c, &w[nw].req);
                                w[nw].priority = (int64_t)(next() % 3);
                                w[nw].created_ns = now++;
                                nw++;
                        }
                        for (int i = 0; i < TENANTS; i++)
                                ferry_tn_decay(c, t[i].usage, &t[i].held, 1.0);
                        double t0 = now_us();
                        size_t a = ferry_tn_plan(c, t, TENANTS, w, nw, run, nr, &cap, now);
                        double dt = now_us() - t0;
                        whole[rd] = dt;
                        if (a > 0)
                                per[n_per++] = dt / (double)a;
                        admitted_total += a;
                        keep = 0;
                        for (size_t i = 0; i < nw; i++) {
                                if (w[i].verdict == FERRY_TN_ADMIT) {
                                        if (nr < cap_run)
                                                run[nr++] =
                                                    (struct ferry_tn_run){.tenant = w[i].tenant,
                                                                          .req = w[i].req,
                                                                          .claimed_by = -1};
                                        continue;
                                }
                                w[keep++] = w[i];
                        }
                        nw = keep;
                }
                qsort(per, (size_t)n_per, sizeof(double), cmp_double);
                qsort(whole, (size_t)rounds, sizeof(double), cmp_double);
                printf("| %d | %d | %.1f | %.0f us | %.0f us | %.0f us | %.0f us |\n", k, rounds,
                       (double)admitted_total / rounds, whole[rounds / 2], whole[rounds * 99 / 100],
                       n_per ? per[n_per / 2] : 0, n_per ? per[n_per * 99 / 100] : 0);
                free(per);
                free(whole);
        }
        printf("\n(%d tenants, %d waiting pods, %zu running after the first fill)\n", TENANTS,
               WAITING, filled);
        free(run);
        free(w);
        free(t);
        ferry_tn_config_free(c);
        ferry_buf_free(&yaml);
        return 0;
}
