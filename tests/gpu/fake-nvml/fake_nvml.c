/* SPDX-License-Identifier: MIT */
/*
 * A fake libnvidia-ml for tests: the NVML functions Ferry loads, driven by the
 * environment. It deliberately exports some functions only under their old
 * name (nvmlDeviceGetCount) and others only versioned (nvmlInit_v2), so the
 * fallbacks in src/gpu/nvml.c are exercised.
 *
 *   FAKE_NVML_INIT_FAIL=1   nvmlInit_v2 fails with NVML_ERROR_DRIVER_NOT_LOADED
 *   FAKE_NVML_GPUS          GPUs separated by ';', each
 *                           NAME|MEM_MIB|USED_MIB|UTIL|PROCS|MIG
 *                           MIG: empty = not MIG capable, "off", or
 *                           "on:" PROFILE/GI/CI/PROCS[,...]  e.g. on:1g.10gb/7/0/1
 *                           (PROFILE "Ng.Mgb": N slices, M GiB)
 *   FAKE_NVML_MINOR_BASE    minor number of GPU 0's /dev/nvidia<minor> (default 0;
 *                           GPU i has base + i)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXG 8
#define MAXM 8

struct fake_mig {
        int tag; /* 2 */
        unsigned slices, gi, ci, procs;
        unsigned long long mem_mib;
};
struct fake_gpu {
        int tag; /* 1 */
        char name[96];
        unsigned long long mem_mib, used_mib;
        unsigned util, procs;
        int mig; /* -1 not capable, 0 off, 1 on */
        unsigned n_mig;
        struct fake_mig m[MAXM];
};

static struct fake_gpu gpus[MAXG];
static unsigned n_gpus;
static int inited;

static void parse(void)
{
        const char *env = getenv("FAKE_NVML_GPUS");
        char buf[4096], *save = NULL;
        n_gpus = 0;
        if (!env)
                return;
        snprintf(buf, sizeof(buf), "%s", env);
        for (char *tok = strtok_r(buf, ";", &save); tok && n_gpus < MAXG;
             tok = strtok_r(NULL, ";", &save)) {
                struct fake_gpu *g = &gpus[n_gpus++];
                char *f[6] = {0}, *p = tok;
                memset(g, 0, sizeof(*g));
                g->tag = 1;
                for (int i = 0; i < 6 && p; i++) {
                        f[i] = p;
                        p = strchr(p, '|');
                        if (p)
                                *p++ = '\0';
                }
                snprintf(g->name, sizeof(g->name), "%s", f[0] ? f[0] : "");
                g->mem_mib = f[1] ? strtoull(f[1], NULL, 10) : 0;
                g->used_mib = f[2] ? strtoull(f[2], NULL, 10) : 0;
                g->util = f[3] ? (unsigned)atoi(f[3]) : 0;
                g->procs = f[4] ? (unsigned)atoi(f[4]) : 0;
                g->mig = -1;
                if (f[5] && strcmp(f[5], "off") == 0)
                        g->mig = 0;
                if (f[5] && strncmp(f[5], "on", 2) == 0) {
                        char *s2 = NULL;
                        g->mig = 1;
                        char *list = strchr(f[5], ':');
                        for (char *m = list ? strtok_r(list + 1, ",", &s2) : NULL;
                             m && g->n_mig < MAXM; m = strtok_r(NULL, ",", &s2)) {
                                struct fake_mig *x = &g->m[g->n_mig++];
                                unsigned gb = 0;
                                x->tag = 2;
                                sscanf(m, "%ug.%ugb/%u/%u/%u", &x->slices, &gb, &x->gi, &x->ci,
                                       &x->procs);
                                x->mem_mib = gb * 1024ull;
                        }
                }
        }
}

/* The prototypes are ours; the test links nothing against this library. */
int nvmlInit_v2(void);
int nvmlShutdown(void);
const char *nvmlErrorString(int r);
int nvmlSystemGetDriverVersion(char *buf, unsigned int len);
int nvmlDeviceGetCount(unsigned int *n);
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void **d);
int nvmlDeviceGetName(void *d, char *buf, unsigned int len);
int nvmlDeviceGetMinorNumber(void *d, unsigned int *minor);
int nvmlDeviceGetUUID(void *d, char *buf, unsigned int len);
int nvmlDeviceGetMemoryInfo(void *d, unsigned long long *mem);
int nvmlDeviceGetUtilizationRates(void *d, unsigned int *u);
int nvmlDeviceGetMigMode(void *d, unsigned int *cur, unsigned int *pend);
int nvmlDeviceGetMaxMigDeviceCount(void *d, unsigned int *n);
int nvmlDeviceGetMigDeviceHandleByIndex(void *d, unsigned int i, void **m);
int nvmlDeviceGetGpuInstanceId(void *d, unsigned int *id);
int nvmlDeviceGetComputeInstanceId(void *d, unsigned int *id);
int nvmlDeviceGetAttributes_v2(void *d, unsigned int *attr);
int nvmlDeviceGetComputeRunningProcesses_v3(void *d, unsigned int *count, void *infos);

int nvmlInit_v2(void)
{
        if (getenv("FAKE_NVML_INIT_FAIL"))
                return 9; /* NVML_ERROR_DRIVER_NOT_LOADED */
        parse();
        inited = 1;
        return 0;
}

int nvmlShutdown(void)
{
        inited = 0;
        return 0;
}

const char *nvmlErrorString(int r)
{
        return r == 9 ? "Driver Not Loaded" : r == 0 ? "Success" : "Fake Error";
}

int nvmlSystemGetDriverVersion(char *buf, unsigned int len)
{
        snprintf(buf, len, "550.00-fake");
        return 0;
}

int nvmlDeviceGetCount(unsigned int *n)
{
        if (!inited)
                return 1; /* NVML_ERROR_UNINITIALIZED */
        *n = n_gpus;
        return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void **d)
{
        if (i >= n_gpus)
                return 2;
        *d = &gpus[i];
        return 0;
}

int nvmlDeviceGetName(void *d, char *buf, unsigned int len)
{
        snprintf(buf, len, "%s", ((struct fake_gpu *)d)->name);
        return 0;
}

int nvmlDeviceGetMinorNumber(void *d, unsigned int *minor)
{
        const char *base = getenv("FAKE_NVML_MINOR_BASE");
        if (*(int *)d == 2)
                return 3; /* NVML_ERROR_NOT_SUPPORTED, as for a real MIG device */
        *minor = (unsigned)((struct fake_gpu *)d - gpus) + (base ? (unsigned)atoi(base) : 0);
        return 0;
}

int nvmlDeviceGetUUID(void *d, char *buf, unsigned int len)
{
        if (*(int *)d == 2) { /* a MIG device: MIG-fake-<gpu>-<gi>-<ci> */
                const struct fake_mig *m = d;
                for (unsigned g = 0; g < n_gpus; g++)
                        if (m >= gpus[g].m && m < gpus[g].m + MAXM)
                                snprintf(buf, len, "MIG-fake-%u-%u-%u", g, m->gi, m->ci);
                return 0;
        }
        snprintf(buf, len, "GPU-fake-%u", (unsigned)((struct fake_gpu *)d - gpus));
        return 0;
}

int nvmlDeviceGetMemoryInfo(void *d, unsigned long long *mem)
{
        unsigned long long total, used;
        if (*(int *)d == 2) {
                total = ((struct fake_mig *)d)->mem_mib;
                used = ((struct fake_mig *)d)->procs ? total / 2 : 0;
        } else {
                total = ((struct fake_gpu *)d)->mem_mib;
                used = ((struct fake_gpu *)d)->used_mib;
        }
        mem[0] = total << 20;
        mem[2] = used << 20;
        mem[1] = mem[0] - mem[2];
        return 0;
}

int nvmlDeviceGetUtilizationRates(void *d, unsigned int *u)
{
        u[0] = ((struct fake_gpu *)d)->util;
        u[1] = u[0] / 2;
        return 0;
}

int nvmlDeviceGetMigMode(void *d, unsigned int *cur, unsigned int *pend)
{
        struct fake_gpu *g = d;
        if (g->mig < 0)
                return 3; /* NVML_ERROR_NOT_SUPPORTED */
        *cur = *pend = (unsigned)g->mig;
        return 0;
}

int nvmlDeviceGetMaxMigDeviceCount(void *d, unsigned int *n)
{
        *n = 7;
        return 0;
}

int nvmlDeviceGetMigDeviceHandleByIndex(void *d, unsigned int i, void **m)
{
        struct fake_gpu *g = d;
        if (i >= g->n_mig)
                return 6; /* NVML_ERROR_NOT_FOUND */
        *m = &g->m[i];
        return 0;
}

int nvmlDeviceGetGpuInstanceId(void *d, unsigned int *id)
{
        *id = ((struct fake_mig *)d)->gi;
        return 0;
}

int nvmlDeviceGetComputeInstanceId(void *d, unsigned int *id)
{
        *id = ((struct fake_mig *)d)->ci;
        return 0;
}

int nvmlDeviceGetAttributes_v2(void *d, unsigned int *attr)
{
        struct fake_mig *m = d;
        memset(attr, 0, 8 * sizeof(unsigned int) + sizeof(unsigned long long));
        attr[6] = m->slices; /* gpuInstanceSliceCount */
        attr[7] = m->slices; /* computeInstanceSliceCount */
        memcpy(&attr[8], &m->mem_mib, sizeof(m->mem_mib));
        return 0;
}

int nvmlDeviceGetComputeRunningProcesses_v3(void *d, unsigned int *count, void *infos)
{
        unsigned procs =
            *(int *)d == 2 ? ((struct fake_mig *)d)->procs : ((struct fake_gpu *)d)->procs;
        if (*count < procs) {
                *count = procs;
                return 7; /* NVML_ERROR_INSUFFICIENT_SIZE */
        }
        *count = procs;
        return 0;
}
