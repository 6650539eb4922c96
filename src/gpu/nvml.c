/* SPDX-License-Identifier: MIT */
/*
 * NVML through dlopen, after nvtop: our own minimal types and prototypes,
 * only the functions we call, and versioned symbols with fallbacks
 * (nvmlInit_v2 -> nvmlInit...). NVML's ABI keeps these structs stable; each is
 * declared here with the fields of the version we ask for.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "gpu/mig.h"
#include "gpu/nvml.h"

typedef int nvmlReturn_t;
typedef struct nvml_device *nvmlDevice_t;
#define NVML_SUCCESS 0
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define NVML_DEVICE_MIG_ENABLE 1

struct nvml_memory { /* nvmlMemory_t */
        unsigned long long total, free, used;
};
struct nvml_utilization { /* nvmlUtilization_t */
        unsigned int gpu, memory;
};
struct nvml_attributes { /* nvmlDeviceAttributes_t */
        unsigned int multiprocessorCount, sharedCopyEngineCount, sharedDecoderCount,
            sharedEncoderCount, sharedJpegCount, sharedOfaCount, gpuInstanceSliceCount,
            computeInstanceSliceCount;
        unsigned long long memorySizeMB;
};

struct nvml {
        void *lib;
        nvmlReturn_t (*init)(void);
        nvmlReturn_t (*shutdown)(void);
        const char *(*error_string)(nvmlReturn_t);
        nvmlReturn_t (*driver_version)(char *, unsigned int);
        nvmlReturn_t (*count)(unsigned int *);
        nvmlReturn_t (*handle)(unsigned int, nvmlDevice_t *);
        nvmlReturn_t (*name)(nvmlDevice_t, char *, unsigned int);
        nvmlReturn_t (*uuid)(nvmlDevice_t, char *, unsigned int);
        nvmlReturn_t (*minor)(nvmlDevice_t, unsigned int *);
        nvmlReturn_t (*memory)(nvmlDevice_t, struct nvml_memory *);
        nvmlReturn_t (*utilization)(nvmlDevice_t, struct nvml_utilization *);
        nvmlReturn_t (*mig_mode)(nvmlDevice_t, unsigned int *, unsigned int *);
        nvmlReturn_t (*max_mig)(nvmlDevice_t, unsigned int *);
        nvmlReturn_t (*mig_handle)(nvmlDevice_t, unsigned int, nvmlDevice_t *);
        nvmlReturn_t (*gi_id)(nvmlDevice_t, unsigned int *);
        nvmlReturn_t (*ci_id)(nvmlDevice_t, unsigned int *);
        nvmlReturn_t (*attributes)(nvmlDevice_t, struct nvml_attributes *);
        /* called with a zero count and NULL: only the count is read back, so the
         * process-info struct (which changed across versions) is never written */
        nvmlReturn_t (*procs)(nvmlDevice_t, unsigned int *, void *);
};

/* First symbol of the NULL-terminated list that the library has. */
static void *sym(void *lib, const char *const *names)
{
        for (; *names; names++) {
                void *p = dlsym(lib, *names);
                if (p)
                        return p;
        }
        return NULL;
}

#define LOAD(field, ...)                                                                           \
        do {                                                                                       \
                static const char *const names_[] = {__VA_ARGS__, NULL};                           \
                *(void **)&n->field = sym(n->lib, names_);                                         \
        } while (0)

static const char *nvml_strerror(const struct nvml *n, nvmlReturn_t r)
{
        const char *s = n->error_string ? n->error_string(r) : NULL;
        return s ? s : "unknown NVML error";
}

static int nvml_open(struct nvml *n, ferry_error_t *err)
{
        const char *path = getenv(FERRY_NVML_ENV);
        if (!path || !*path)
                path = FERRY_NVML_DEFAULT;
        *n = (struct nvml){0};
        n->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!n->lib)
                return ferry_errprintf(err, -ENOENT,
                                       "no NVIDIA driver found: %s could not be loaded", path);
        LOAD(init, "nvmlInit_v2", "nvmlInit");
        LOAD(shutdown, "nvmlShutdown");
        LOAD(error_string, "nvmlErrorString");
        LOAD(driver_version, "nvmlSystemGetDriverVersion");
        LOAD(count, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
        LOAD(handle, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
        LOAD(name, "nvmlDeviceGetName");
        LOAD(uuid, "nvmlDeviceGetUUID");
        LOAD(minor, "nvmlDeviceGetMinorNumber");
        LOAD(memory, "nvmlDeviceGetMemoryInfo");
        LOAD(utilization, "nvmlDeviceGetUtilizationRates");
        LOAD(mig_mode, "nvmlDeviceGetMigMode");
        LOAD(max_mig, "nvmlDeviceGetMaxMigDeviceCount");
        LOAD(mig_handle, "nvmlDeviceGetMigDeviceHandleByIndex");
        LOAD(gi_id, "nvmlDeviceGetGpuInstanceId");
        LOAD(ci_id, "nvmlDeviceGetComputeInstanceId");
        LOAD(attributes, "nvmlDeviceGetAttributes_v2", "nvmlDeviceGetAttributes");
        LOAD(procs, "nvmlDeviceGetComputeRunningProcesses_v3",
             "nvmlDeviceGetComputeRunningProcesses_v2", "nvmlDeviceGetComputeRunningProcesses");
        if (!n->init || !n->shutdown || !n->count || !n->handle || !n->name || !n->memory) {
                dlclose(n->lib);
                n->lib = NULL;
                return ferry_errprintf(err, -EIO, "%s lacks the basic NVML functions", path);
        }
        nvmlReturn_t r = n->init();
        if (r != NVML_SUCCESS) {
                int e = ferry_errprintf(err, -EIO, "NVML failed to initialise: %s (code %d)",
                                        nvml_strerror(n, r), r);
                dlclose(n->lib);
                n->lib = NULL;
                return e;
        }
        return 0;
}

static void nvml_close(struct nvml *n)
{
        if (!n->lib)
                return;
        n->shutdown();
        dlclose(n->lib);
        n->lib = NULL;
}

static int busy_of(const struct nvml *n, nvmlDevice_t d)
{
        unsigned int count = 0;
        if (!n->procs)
                return -1;
        nvmlReturn_t r = n->procs(d, &count, NULL);
        if (r == NVML_SUCCESS)
                return count > 0;
        if (r == NVML_ERROR_INSUFFICIENT_SIZE)
                return 1;
        return -1;
}

/* "1g.10gb" from the planner's tables, else "<slices>g.<GB>gb". */
static void mig_profile_name(const struct ferry_gpu_device *g, struct ferry_gpu_mig_device *m)
{
        const struct ferry_mig_geometry *geo = ferry_mig_geometry_find(g->name);
        if (geo && g->mem_total_mib) {
                double frac = (double)m->mem_total_mib / (double)g->mem_total_mib * geo->mem_slices;
                unsigned mem = (unsigned)lround(frac);
                int p = ferry_mig_profile_by_shape(geo, m->gi_slices, mem ? mem : 1);
                if (p >= 0) {
                        snprintf(m->profile, sizeof(m->profile), "%s", geo->profiles[p].name);
                        return;
                }
        }
        snprintf(m->profile, sizeof(m->profile), "%ug.%" PRIu64 "gb", m->gi_slices,
                 (m->mem_total_mib + 1023) / 1024);
}

static void read_mig(const struct nvml *n, nvmlDevice_t d, struct ferry_gpu_device *g)
{
        unsigned int max = 0;
        if (!n->max_mig || !n->mig_handle || n->max_mig(d, &max) != NVML_SUCCESS)
                return;
        for (unsigned int i = 0; i < max && g->n_mig < FERRY_GPU_MAX_MIG; i++) {
                nvmlDevice_t md;
                if (n->mig_handle(d, i, &md) != NVML_SUCCESS)
                        continue; /* empty slot */
                struct ferry_gpu_mig_device *m = &g->mig[g->n_mig++];
                struct nvml_attributes a = {0};
                struct nvml_memory mem = {0};
                if (n->uuid)
                        n->uuid(md, m->uuid, sizeof(m->uuid));
                if (n->gi_id)
                        n->gi_id(md, &m->gi_id);
                if (n->ci_id)
                        n->ci_id(md, &m->ci_id);
                if (n->attributes && n->attributes(md, &a) == NVML_SUCCESS) {
                        m->gi_slices = a.gpuInstanceSliceCount;
                        m->ci_slices = a.computeInstanceSliceCount;
                        m->mem_total_mib = a.memorySizeMB;
                }
                if (n->memory(md, &mem) == NVML_SUCCESS) {
                        m->mem_total_mib = mem.total >> 20;
                        m->mem_used_mib = mem.used >> 20;
                }
                m->busy = busy_of(n, md);
                mig_profile_name(g, m);
        }
}

int ferry_nvml_inventory(struct ferry_gpu_inventory *ret, ferry_error_t *err)
{
        struct nvml n;
        struct ferry_gpu_inventory inv = {0};
        unsigned int count = 0;
        nvmlReturn_t r;
        int e = nvml_open(&n, err);

        if (e < 0)
                return e;
        if (n.driver_version)
                n.driver_version(inv.driver, sizeof(inv.driver));
        r = n.count(&count);
        if (r != NVML_SUCCESS) {
                e = ferry_errprintf(err, -EIO, "NVML could not count GPUs: %s",
                                    nvml_strerror(&n, r));
                goto out;
        }
        if (count > FERRY_GPU_MAX_DEVICES)
                count = FERRY_GPU_MAX_DEVICES;
        inv.dev = ferry_xcalloc(count ? count : 1, sizeof(*inv.dev));
        for (unsigned int i = 0; i < count; i++) {
                nvmlDevice_t d;
                struct ferry_gpu_device *g = &inv.dev[inv.n];
                struct nvml_memory mem = {0};
                struct nvml_utilization u;
                unsigned int cur, pend;
                r = n.handle(i, &d);
                if (r != NVML_SUCCESS) {
                        e = ferry_errprintf(err, -EIO, "NVML could not open GPU %u: %s", i,
                                            nvml_strerror(&n, r));
                        goto out;
                }
                inv.n++;
                g->index = i;
                g->util_gpu = g->util_mem = -1;
                n.name(d, g->name, sizeof(g->name));
                if (n.uuid)
                        n.uuid(d, g->uuid, sizeof(g->uuid));
                g->minor = i;
                if (n.minor)
                        n.minor(d, &g->minor);
                if (n.memory(d, &mem) == NVML_SUCCESS) {
                        g->mem_total_mib = mem.total >> 20;
                        g->mem_used_mib = mem.used >> 20;
                }
                const struct ferry_mig_geometry *geo = ferry_mig_geometry_find(g->name);
                g->model = geo ? geo->model : NULL;
                if (n.mig_mode && n.mig_mode(d, &cur, &pend) == NVML_SUCCESS) {
                        g->mig_capable = true;
                        g->mig_enabled = cur == NVML_DEVICE_MIG_ENABLE;
                        g->mig_pending = pend == NVML_DEVICE_MIG_ENABLE;
                }
                /* per-device utilisation is not reported with MIG on */
                if (!g->mig_enabled && n.utilization && n.utilization(d, &u) == NVML_SUCCESS) {
                        g->util_gpu = (int)u.gpu;
                        g->util_mem = (int)u.memory;
                }
                g->busy = busy_of(&n, d);
                if (g->mig_enabled)
                        read_mig(&n, d, g);
        }
        *ret = inv;
        inv = (struct ferry_gpu_inventory){0};
        e = 0;
out:
        ferry_gpu_inventory_free(&inv);
        nvml_close(&n);
        return e;
}

void ferry_gpu_inventory_free(struct ferry_gpu_inventory *inv)
{
        if (!inv)
                return;
        free(inv->dev);
        inv->dev = NULL;
        inv->n = 0;
}

static void cap_add(struct ferry_gpu_capacity *c, const char *res, bool is_free)
{
        size_t i;
        for (i = 0; i < c->n; i++)
                if (strcmp(c->item[i].resource, res) == 0)
                        break;
        if (i == c->n) {
                if (c->n == FERRY_GPU_CAPACITY_MAX)
                        return;
                snprintf(c->item[i].resource, sizeof(c->item[i].resource), "%s", res);
                c->item[i].total = c->item[i].free = 0;
                c->n++;
        }
        c->item[i].total++;
        c->item[i].free += is_free;
}

void ferry_gpu_capacity_of(const struct ferry_gpu_inventory *inv, struct ferry_gpu_capacity *ret)
{
        struct ferry_gpu_capacity c = {0};
        char res[64];
        for (size_t i = 0; i < inv->n; i++) {
                const struct ferry_gpu_device *g = &inv->dev[i];
                if (!g->mig_enabled) {
                        cap_add(&c, "nvidia.com/gpu", g->busy == 0);
                        continue;
                }
                for (size_t k = 0; k < g->n_mig; k++) {
                        snprintf(res, sizeof(res), "nvidia.com/mig-%s", g->mig[k].profile);
                        cap_add(&c, res, g->mig[k].busy == 0);
                }
        }
        *ret = c;
}

int ferry_nvml_capacity(struct ferry_gpu_capacity *ret, ferry_error_t *err)
{
        struct ferry_gpu_inventory inv;
        int r = ferry_nvml_inventory(&inv, err);
        if (r < 0)
                return r;
        ferry_gpu_capacity_of(&inv, ret);
        ferry_gpu_inventory_free(&inv);
        return 0;
}

static const char *busy_text(int b)
{
        return b < 0 ? "?" : b ? "busy" : "free";
}

char *ferry_gpu_inventory_format(const struct ferry_gpu_inventory *inv, bool json)
{
        if (json) {
                json_t *root = json_pack("{s:s, s:[]}", "driver", inv->driver, "gpus");
                json_t *arr = json_object_get(root, "gpus");
                for (size_t i = 0; i < inv->n; i++) {
                        const struct ferry_gpu_device *g = &inv->dev[i];
                        json_t *mig = json_array();
                        for (size_t k = 0; k < g->n_mig; k++) {
                                const struct ferry_gpu_mig_device *m = &g->mig[k];
                                json_array_append_new(
                                    mig,
                                    json_pack("{s:s, s:i, s:i, s:s, s:i, s:i, s:I, s:I, s:o}",
                                              "uuid", m->uuid, "gpu_instance", (int)m->gi_id,
                                              "compute_instance", (int)m->ci_id, "profile",
                                              m->profile, "gi_slices", (int)m->gi_slices,
                                              "ci_slices", (int)m->ci_slices, "memory_total_mib",
                                              (json_int_t)m->mem_total_mib, "memory_used_mib",
                                              (json_int_t)m->mem_used_mib, "busy",
                                              m->busy < 0 ? json_null() : json_boolean(m->busy)));
                        }
                        json_array_append_new(
                            arr,
                            json_pack("{s:i, s:s, s:s, s:o, s:b, s:b, s:b, s:I, s:I, s:o, "
                                      "s:o, s:o, s:o}",
                                      "index", (int)g->index, "name", g->name, "uuid", g->uuid,
                                      "model", g->model ? json_string(g->model) : json_null(),
                                      "mig_capable", (int)g->mig_capable, "mig_enabled",
                                      (int)g->mig_enabled, "mig_pending", (int)g->mig_pending,
                                      "memory_total_mib", (json_int_t)g->mem_total_mib,
                                      "memory_used_mib", (json_int_t)g->mem_used_mib,
                                      "utilization_gpu",
                                      g->util_gpu < 0 ? json_null() : json_integer(g->util_gpu),
                                      "utilization_memory",
                                      g->util_mem < 0 ? json_null() : json_integer(g->util_mem),
                                      "busy", g->busy < 0 ? json_null() : json_boolean(g->busy),
                                      "mig_devices", mig));
                }
                char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                json_decref(root);
                char *out = ferry_xasprintf("%s\n", s ? s : "{}");
                free(s);
                return out;
        }
        struct ferry_buf b = FERRY_BUF_INIT;
        ferry_buf_printf(&b, "Driver %s, %zu GPU%s\n", inv->driver[0] ? inv->driver : "?", inv->n,
                         inv->n == 1 ? "" : "s");
        ferry_buf_printf(&b, "%-4s %-26s %-9s %-17s %-5s %s\n", "GPU", "NAME", "MIG", "MEMORY MiB",
                         "UTIL", "STATE");
        for (size_t i = 0; i < inv->n; i++) {
                const struct ferry_gpu_device *g = &inv->dev[i];
                char mem[48], util[16];
                const char *mig = !g->mig_capable  ? "n/a"
                                  : g->mig_enabled ? (g->mig_pending ? "on" : "on*")
                                                   : (g->mig_pending ? "off*" : "off");
                snprintf(mem, sizeof(mem), "%" PRIu64 "/%" PRIu64, g->mem_used_mib,
                         g->mem_total_mib);
                if (g->util_gpu >= 0)
                        snprintf(util, sizeof(util), "%d%%", g->util_gpu);
                else
                        snprintf(util, sizeof(util), "-");
                ferry_buf_printf(&b, "%-4u %-26s %-9s %-17s %-5s %s\n", g->index, g->name, mig, mem,
                                 util, g->mig_enabled ? "" : busy_text(g->busy));
                for (size_t k = 0; k < g->n_mig; k++) {
                        const struct ferry_gpu_mig_device *m = &g->mig[k];
                        char id[32];
                        snprintf(id, sizeof(id), "GI %u CI %u", m->gi_id, m->ci_id);
                        snprintf(mem, sizeof(mem), "%" PRIu64 "/%" PRIu64, m->mem_used_mib,
                                 m->mem_total_mib);
                        ferry_buf_printf(&b, "  %-12s %-14s %-9s %-17s %-5s %s\n", id, m->profile,
                                         "", mem, "-", busy_text(m->busy));
                }
        }
        if (inv->n)
                ferry_buf_adds(&b, "(* = mode change pending a GPU reset; utilisation is not "
                                   "reported per MIG device)\n");
        return ferry_buf_steal(&b);
}
