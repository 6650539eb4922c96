/* SPDX-License-Identifier: MIT */
#include "gpu/devices.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ferry_gpu_control_nodes[] = {"nvidiactl", "nvidia-uvm", "nvidia-uvm-tools",
                                               "nvidia-modeset", NULL};

/* The minor of capability `key` ("gpu0/gi3/access") in mig-minors, or -1. */
static long cap_minor(const char *text, const char *key)
{
        size_t kl = strlen(key);
        for (const char *l = text; l && *l;) {
                const char *nl = strchr(l, '\n');
                if (!strncmp(l, key, kl) && (l[kl] == ' ' || l[kl] == '\t')) {
                        char *end;
                        long v = strtol(l + kl, &end, 10);
                        if (end != l + kl && v >= 0)
                                return v;
                }
                l = nl ? nl + 1 : NULL;
        }
        return -1;
}

int ferry_gpu_unit_nodes(const struct ferry_gpu_unit *u, const char *mig_minors,
                         char ret[3][FERRY_GPU_NODE_MAX], ferry_error_t *err)
{
        snprintf(ret[0], FERRY_GPU_NODE_MAX, "nvidia%u", u->minor);
        if (u->gi < 0)
                return 1;
        char key[2][64];
        snprintf(key[0], sizeof(key[0]), "gpu%u/gi%d/access", u->minor, u->gi);
        snprintf(key[1], sizeof(key[1]), "gpu%u/gi%d/ci%d/access", u->minor, u->gi, u->ci);
        for (int i = 0; i < 2; i++) {
                long m = mig_minors ? cap_minor(mig_minors, key[i]) : -1;
                if (m < 0)
                        return ferry_errprintf(err, -ENOENT,
                                               "%s (%s) needs the capability %s, which %s does "
                                               "not list",
                                               u->uuid, u->resource, key[i], FERRY_GPU_MIG_MINORS);
                snprintf(ret[1 + i], FERRY_GPU_NODE_MAX, "nvidia-caps/nvidia-cap%ld", m);
        }
        return 3;
}

static bool key_boundary(const char *text, const char *p)
{
        if (p == text)
                return true;
        char c = p[-1];
        return c == ' ' || c == '\t' || c == '\n' || c == '"' || c == '-' || c == '{' || c == ',';
}

/* Does the text have `key: value` (YAML, quoted or not) or "key": "value"? */
static bool has_pair(const char *text, const char *key, const char *value)
{
        size_t kl = strlen(key), vl = strlen(value);
        for (const char *p = strstr(text, key); p; p = strstr(p + 1, key)) {
                if (!key_boundary(text, p))
                        continue;
                const char *q = p + kl;
                if (*q == '"')
                        q++;
                q += strspn(q, " \t");
                if (*q != ':')
                        continue;
                q++;
                q += strspn(q, " \t");
                char quote = *q == '"' || *q == '\'' ? *q : '\0';
                if (quote)
                        q++;
                if (strncmp(q, value, vl) != 0)
                        continue;
                char end = q[vl];
                if (quote ? end == quote
                          : end == '\0' || end == '\n' || end == '\r' || end == ' ' ||
                                end == '\t' || end == ',' || end == '}' || end == '#')
                        return true;
        }
        return false;
}

bool ferry_gpu_cdi_has(const char *spec, const char *name)
{
        return spec && name && *name && has_pair(spec, "kind", "nvidia.com/gpu") &&
               has_pair(spec, "name", name);
}
