/* SPDX-License-Identifier: MIT */
/* Pod -> run spec: pure, no I/O (see runspec.h). */
#include "runner/runspec.h"

#include <errno.h>
#include <string.h>

static const char *env_lookup(const struct ferry_env *env, size_t n, const char *name, size_t len)
{
        /* later definitions win, as in the kubelet */
        for (size_t i = n; i-- > 0;)
                if (strlen(env[i].name) == len && memcmp(env[i].name, name, len) == 0)
                        return env[i].value;
        return NULL;
}

char *runner_expand(const char *in, const struct ferry_env *env, size_t n)
{
        struct ferry_buf b = FERRY_BUF_INIT;

        ferry_buf_adds(&b, "");
        for (const char *p = in; *p;) {
                if (p[0] != '$') {
                        const char *d = strchr(p, '$');
                        size_t len = d ? (size_t)(d - p) : strlen(p);
                        ferry_buf_add(&b, p, len);
                        p += len;
                        continue;
                }
                if (p[1] == '$') { /* escape */
                        ferry_buf_addc(&b, '$');
                        p += 2;
                        continue;
                }
                if (p[1] == '(') {
                        const char *close = strchr(p + 2, ')');
                        if (!close) { /* unterminated: verbatim */
                                ferry_buf_adds(&b, p);
                                break;
                        }
                        const char *v = env_lookup(env, n, p + 2, (size_t)(close - p - 2));
                        if (v)
                                ferry_buf_adds(&b, v);
                        else
                                ferry_buf_add(&b, p, (size_t)(close - p + 1));
                        p = close + 1;
                        continue;
                }
                ferry_buf_addc(&b, '$');
                p++;
        }
        return ferry_buf_steal(&b);
}

/* "a/b.txt": relative, no empty, "." or ".." components. */
static bool rel_path_ok(const char *p)
{
        if (!p || !*p || p[0] == '/' || strlen(p) > 1024)
                return false;
        for (const char *s = p; *s;) {
                const char *e = strchr(s, '/');
                size_t len = e ? (size_t)(e - s) : strlen(s);
                if (len == 0 || (len == 1 && s[0] == '.') ||
                    (len == 2 && s[0] == '.' && s[1] == '.'))
                        return false;
                s += len;
                if (*s == '/')
                        s++;
                if (e && !*s)
                        return false; /* trailing slash */
        }
        for (const char *s = p; *s; s++)
                if ((unsigned char)*s < 0x20)
                        return false;
        return true;
}

/* Absolute, normalised, not "/", not inside the sandbox's own /proc or /dev. */
static int mount_dst_check(const char *p, ferry_error_t *err, const char *cname)
{
        if (!p || p[0] != '/' || !rel_path_ok(p + 1))
                return ferry_errprintf(err, -EINVAL,
                                       "container \"%s\": mountPath \"%s\" must be an absolute "
                                       "path without \".\", \"..\" or empty components",
                                       cname, p ? p : "");
        static const char *const reserved[] = {"proc", "dev"};
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(reserved); i++) {
                size_t l = strlen(reserved[i]);
                if (strncmp(p + 1, reserved[i], l) == 0 && (p[1 + l] == '\0' || p[1 + l] == '/'))
                        return ferry_errprintf(err, -EINVAL,
                                               "container \"%s\": cannot mount a volume at %s "
                                               "(/%s belongs to the sandbox)",
                                               cname, p, reserved[i]);
        }
        return 0;
}

static const struct ferry_object *find_obj(const struct ferry_object *o, size_t n, const char *name)
{
        for (size_t i = 0; name && i < n; i++)
                if (o[i].name && strcmp(o[i].name, name) == 0)
                        return &o[i];
        return NULL;
}

static const struct ferry_volume *find_vol(const struct ferry_pod *pod, const char *name)
{
        for (size_t i = 0; i < pod->n_volumes; i++)
                if (strcmp(pod->volumes[i].name, name) == 0)
                        return &pod->volumes[i];
        return NULL;
}

static const char *kind_word(enum ferry_volume_kind k)
{
        switch (k) {
        case FERRY_VOL_EMPTYDIR: return "emptyDir";
        case FERRY_VOL_CONFIGMAP: return "configMap";
        case FERRY_VOL_SECRET: return "secret";
        case FERRY_VOL_PROJECTED: return "projected";
        case FERRY_VOL_HOSTPATH: return "hostPath";
        default: return "unsupported";
        }
}

static void add_file(struct runner_volume *lv, const char *path, const unsigned char *data,
                     size_t len, int mode)
{
        lv->files = ferry_xrealloc(lv->files, (lv->n_files + 1) * sizeof(*lv->files));
        struct runner_file *f = &lv->files[lv->n_files++];
        f->path = ferry_xstrdup(path);
        f->data = ferry_xmalloc(len ? len : 1);
        if (len)
                memcpy(f->data, data, len);
        f->len = len;
        f->mode = mode & 07777;
}

static int build_volume(const struct ferry_pod *pod, const struct ferry_volume *v,
                        struct runner_volume *lv, ferry_error_t *err)
{
        const struct ferry_object *obj = NULL;
        const char *what = NULL;

        lv->name = ferry_xstrdup(v->name);
        lv->kind = v->kind;
        lv->size_limit = v->kind == FERRY_VOL_EMPTYDIR ? v->size_limit : -1;
        switch (v->kind) {
        case FERRY_VOL_EMPTYDIR: return 0;
        case FERRY_VOL_CONFIGMAP:
                obj = find_obj(pod->configmaps, pod->n_configmaps, v->source);
                what = "ConfigMap";
                break;
        case FERRY_VOL_SECRET:
                obj = find_obj(pod->secrets, pod->n_secrets, v->source);
                what = "Secret";
                break;
        case FERRY_VOL_PROJECTED:
                obj = find_obj(pod->projected, pod->n_projected, v->name);
                what = "projected volume map";
                break;
        case FERRY_VOL_HOSTPATH:
                return ferry_errprintf(err, -EINVAL,
                                       "volume \"%s\": hostPath volumes are refused by the local "
                                       "backend (a pod may not reach into the host)",
                                       v->name);
        default:
                return ferry_errprintf(err, -EINVAL,
                                       "volume \"%s\": volume type \"%s\" is not supported by "
                                       "the local backend",
                                       v->name, v->kind_name ? v->kind_name : "unknown");
        }
        if (!obj) {
                if (v->optional)
                        return 0;
                return ferry_errprintf(
                    err, -EINVAL,
                    "volume \"%s\": %s \"%s\" was not sent with the pod (the "
                    "request must carry every object the pod mounts)",
                    v->name, what,
                    v->kind == FERRY_VOL_PROJECTED ? v->name : (v->source ? v->source : ""));
        }
        int defmode = v->default_mode >= 0 ? v->default_mode : 0644;
        if (v->n_items == 0) {
                for (size_t i = 0; i < obj->n; i++) {
                        if (!rel_path_ok(obj->items[i].key) ||
                            (v->kind != FERRY_VOL_PROJECTED && strchr(obj->items[i].key, '/')))
                                return ferry_errprintf(err, -EINVAL,
                                                       "volume \"%s\": key \"%s\" is not a valid "
                                                       "file name",
                                                       v->name, obj->items[i].key);
                        add_file(lv, obj->items[i].key, obj->items[i].value, obj->items[i].len,
                                 defmode);
                }
                return 0;
        }
        for (size_t k = 0; k < v->n_items; k++) {
                const struct ferry_key_path *it = &v->items[k];
                const struct ferry_object_item *oi = NULL;
                for (size_t i = 0; i < obj->n; i++)
                        if (strcmp(obj->items[i].key, it->key) == 0)
                                oi = &obj->items[i];
                if (!oi) {
                        if (v->optional)
                                continue;
                        return ferry_errprintf(err, -EINVAL,
                                               "volume \"%s\": key \"%s\" is not in %s \"%s\"",
                                               v->name, it->key, what, obj->name);
                }
                const char *path = it->path ? it->path : it->key;
                if (!rel_path_ok(path))
                        return ferry_errprintf(err, -EINVAL,
                                               "volume \"%s\": item path \"%s\" must be relative "
                                               "without \".\" or \"..\" components",
                                               v->name, path);
                add_file(lv, path, oi->value, oi->len, it->mode >= 0 ? it->mode : defmode);
        }
        return 0;
}

static void container_free(struct runner_container *c)
{
        free(c->name);
        free(c->image);
        for (size_t i = 0; i < c->n_argv; i++)
                free(c->argv[i]);
        free(c->argv);
        for (size_t i = 0; i < c->n_env; i++) {
                free(c->env[i].name);
                free(c->env[i].value);
        }
        free(c->env);
        free(c->cwd);
        ferry_probes_clear(&c->probes);
        for (size_t i = 0; i < c->n_mounts; i++) {
                free(c->mounts[i].src);
                free(c->mounts[i].dst);
        }
        free(c->mounts);
}

void runner_runspec_free(struct runner_runspec *rs)
{
        if (!rs)
                return;
        free(rs->uid);
        free(rs->name);
        free(rs->namespace);
        for (size_t i = 0; i < rs->n_volumes; i++) {
                for (size_t j = 0; j < rs->volumes[i].n_files; j++) {
                        free(rs->volumes[i].files[j].path);
                        free(rs->volumes[i].files[j].data);
                }
                free(rs->volumes[i].files);
                free(rs->volumes[i].name);
        }
        free(rs->volumes);
        for (size_t i = 0; i < rs->n_c; i++)
                container_free(&rs->c[i]);
        free(rs->c);
        free(rs->pre_exec);
        free(rs);
}

static int64_t amount(int64_t req, int64_t lim)
{
        return req >= 0 ? req : lim >= 0 ? lim : 0;
}

/* GPUs a container holds: nvidia.com/gpu plus every nvidia.com/mig-* slice,
 * each from its limit, else its request (Kubernetes sets both equal for
 * extended resources). */
static int64_t gpu_count(const struct ferry_container *pc)
{
        int64_t n = pc->limits.gpus >= 0     ? pc->limits.gpus
                    : pc->requests.gpus >= 0 ? pc->requests.gpus
                                             : 0;
        for (size_t i = 0; i < pc->limits.n_extended; i++)
                if (ferry_str_startswith(pc->limits.extended[i].name, "nvidia.com/mig-"))
                        n += pc->limits.extended[i].count;
        for (size_t i = 0; i < pc->requests.n_extended; i++) {
                const struct ferry_extended *e = &pc->requests.extended[i];
                bool in_limits = false;
                for (size_t j = 0; j < pc->limits.n_extended && !in_limits; j++)
                        in_limits = strcmp(pc->limits.extended[j].name, e->name) == 0;
                if (!in_limits && ferry_str_startswith(e->name, "nvidia.com/mig-"))
                        n += e->count;
        }
        return n;
}

static int build_container(const struct ferry_pod *pod, struct runner_runspec *rs,
                           const struct ferry_container *pc, struct runner_container *c,
                           ferry_error_t *err)
{
        int r;

        c->name = ferry_xstrdup(pc->name);
        c->image = pc->image ? ferry_xstrdup(pc->image) : NULL;
        c->init = pc->is_init;
        c->cpu_milli = amount(pc->requests.cpu_milli, pc->limits.cpu_milli);
        c->memory_bytes = amount(pc->requests.memory_bytes, pc->limits.memory_bytes);
        c->gpus = gpu_count(pc);
        ferry_probes_copy(&c->probes, &pc->probes);
        c->cpu_limit_milli = pc->limits.cpu_milli > 0 ? pc->limits.cpu_milli : 0;
        c->ephemeral_limit = pc->limits.ephemeral_bytes > 0 ? pc->limits.ephemeral_bytes : 0;
        c->read_only_root = pc->read_only_root;
        c->memory_limit_bytes = pc->limits.memory_bytes > 0 ? pc->limits.memory_bytes : 0;
        c->cwd = pc->working_dir ? ferry_xstrdup(pc->working_dir) : NULL;
        if (c->cwd && c->cwd[0] != '/')
                return ferry_errprintf(err, -EINVAL,
                                       "container \"%s\": workingDir \"%s\" must be absolute",
                                       c->name, c->cwd);

        /* env, each value expanded against the ones before it */
        c->env = ferry_xcalloc(pc->n_env + 1, sizeof(*c->env));
        for (size_t i = 0; i < pc->n_env; i++) {
                if (!pc->env[i].name || !*pc->env[i].name || strchr(pc->env[i].name, '='))
                        return ferry_errprintf(err, -EINVAL,
                                               "container \"%s\": invalid env name \"%s\"", c->name,
                                               pc->env[i].name ? pc->env[i].name : "");
                c->env[i].name = ferry_xstrdup(pc->env[i].name);
                c->env[i].value =
                    runner_expand(pc->env[i].value ? pc->env[i].value : "", c->env, i);
                c->n_env = i + 1;
        }

        /* argv: command + args; without a command the args are the argv
         * (there is no image entrypoint outside podman; podman re-splits) */
        size_t n = pc->n_command + pc->n_args;
        c->argv = ferry_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < pc->n_command; i++)
                c->argv[c->n_argv++] = runner_expand(pc->command[i], c->env, c->n_env);
        c->n_command = c->n_argv;
        for (size_t i = 0; i < pc->n_args; i++)
                c->argv[c->n_argv++] = runner_expand(pc->args[i], c->env, c->n_env);
        /* exec probes and hooks: $(VAR) expanded like the command (the kubelet's rule) */
        struct ferry_handler *hs[FERRY_PROBE_N + 2] = {&c->probes.post_start, &c->probes.pre_stop};
        for (int k = 0; k < FERRY_PROBE_N; k++)
                hs[2 + k] = &c->probes.p[k].h;
        for (size_t k = 0; k < FERRY_ARRAY_SIZE(hs); k++)
                for (size_t i = 0; hs[k]->kind == FERRY_H_EXEC && i < hs[k]->n_argv; i++) {
                        char *x = runner_expand(hs[k]->argv[i], c->env, c->n_env);
                        free(hs[k]->argv[i]);
                        hs[k]->argv[i] = x;
                }

        /* mounts */
        c->mounts = ferry_xcalloc(pc->n_mounts + 1, sizeof(*c->mounts));
        for (size_t i = 0; i < pc->n_mounts; i++) {
                const struct ferry_mount *m = &pc->mounts[i];
                const struct ferry_volume *v = find_vol(pod, m->name);
                if (!v)
                        return ferry_errprintf(err, -EINVAL,
                                               "container \"%s\": volumeMount \"%s\" names no "
                                               "volume of the pod",
                                               c->name, m->name);
                r = mount_dst_check(m->mount_path, err, c->name);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < c->n_mounts; j++)
                        if (strcmp(c->mounts[j].dst, m->mount_path) == 0)
                                return ferry_errprintf(
                                    err, -EINVAL, "container \"%s\": two volumes mounted at %s",
                                    c->name, m->mount_path);
                if (m->sub_path && *m->sub_path && !rel_path_ok(m->sub_path))
                        return ferry_errprintf(err, -EINVAL,
                                               "container \"%s\": subPath \"%s\" must be relative "
                                               "without \".\" or \"..\" components",
                                               c->name, m->sub_path);
                /* volume built once, in order of first use */
                size_t vi;
                for (vi = 0; vi < rs->n_volumes; vi++)
                        if (strcmp(rs->volumes[vi].name, v->name) == 0)
                                break;
                if (vi == rs->n_volumes) {
                        rs->volumes =
                            ferry_xrealloc(rs->volumes, (rs->n_volumes + 1) * sizeof(*rs->volumes));
                        memset(&rs->volumes[vi], 0, sizeof(rs->volumes[vi]));
                        rs->n_volumes++;
                        r = build_volume(pod, v, &rs->volumes[vi], err);
                        if (r < 0)
                                return r;
                }
                struct runner_mount *lm = &c->mounts[c->n_mounts++];
                lm->dst = ferry_xstrdup(m->mount_path);
                lm->ro = m->read_only;
                if (m->sub_path && *m->sub_path) {
                        lm->src = ferry_xasprintf("volumes/%s/%s", v->name, m->sub_path);
                        lm->mkdir_src = v->kind == FERRY_VOL_EMPTYDIR;
                        if (v->kind != FERRY_VOL_EMPTYDIR) {
                                /* must name a file or a directory of the volume */
                                const struct runner_volume *lv = &rs->volumes[vi];
                                size_t sl = strlen(m->sub_path);
                                bool found = false;
                                for (size_t k = 0; k < lv->n_files && !found; k++)
                                        found = strcmp(lv->files[k].path, m->sub_path) == 0 ||
                                                (strncmp(lv->files[k].path, m->sub_path, sl) == 0 &&
                                                 lv->files[k].path[sl] == '/');
                                if (!found)
                                        return ferry_errprintf(err, -EINVAL,
                                                               "container \"%s\": subPath \"%s\" "
                                                               "is not in volume \"%s\"",
                                                               c->name, m->sub_path, v->name);
                        }
                } else {
                        lm->src = ferry_xasprintf("volumes/%s", v->name);
                }
        }
        return 0;
}

int runner_runspec_from_pod(const struct ferry_pod *pod, struct runner_runspec **ret,
                            ferry_error_t *err)
{
        struct runner_runspec *rs = ferry_xcalloc(1, sizeof(*rs));
        size_t n = pod->n_init + pod->n_containers;
        int r = 0;

        rs->uid = ferry_xstrdup(pod->uid ? pod->uid : "");
        rs->name = ferry_xstrdup(pod->name ? pod->name : "");
        rs->namespace = ferry_xstrdup(pod->namespace ? pod->namespace : "");
        rs->grace_s = pod->grace_seconds >= 0 ? pod->grace_seconds : 30;
        rs->deadline_s = pod->deadline_seconds > 0 ? pod->deadline_seconds : -1;
        rs->n_init = pod->n_init;
        if (pod->n_containers == 0) {
                r = ferry_errprintf(err, -EINVAL, "pod has no containers");
                goto fail;
        }
        rs->c = ferry_xcalloc(n, sizeof(*rs->c));
        for (size_t i = 0; i < n; i++) {
                const struct ferry_container *pc =
                    i < pod->n_init ? &pod->init[i] : &pod->containers[i - pod->n_init];
                if (!pc->name || !ferry_is_dns_label(pc->name)) {
                        r = ferry_errprintf(err, -EINVAL,
                                            "container name \"%s\" is not a DNS label",
                                            pc->name ? pc->name : "");
                        goto fail;
                }
                for (size_t j = 0; j < i; j++)
                        if (strcmp(rs->c[j].name, pc->name) == 0) {
                                r = ferry_errprintf(err, -EINVAL, "two containers are named \"%s\"",
                                                    pc->name);
                                goto fail;
                        }
                rs->n_c = i + 1;
                r = build_container(pod, rs, pc, &rs->c[i], err);
                if (r < 0)
                        goto fail;
                rs->c[i].init = i < pod->n_init;
        }
        *ret = rs;
        return 0;
fail:
        runner_runspec_free(rs);
        return r;
}

void runner_runspec_resources(const struct runner_runspec *rs, int64_t *ret_cpu_milli,
                              int64_t *ret_mem)
{
        int64_t cpu = 0, mem = 0, icpu = 0, imem = 0;

        for (size_t i = 0; i < rs->n_c; i++) {
                const struct runner_container *c = &rs->c[i];
                if (c->init) {
                        icpu = c->cpu_milli > icpu ? c->cpu_milli : icpu;
                        imem = c->memory_bytes > imem ? c->memory_bytes : imem;
                } else {
                        cpu += c->cpu_milli;
                        mem += c->memory_bytes;
                }
        }
        *ret_cpu_milli = cpu > icpu ? cpu : icpu;
        *ret_mem = mem > imem ? mem : imem;
}

/* ---- canonical JSON for golden files ---- */

static void add_bytes_json(struct ferry_buf *b, const unsigned char *p, size_t len)
{
        static const char tbl[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        if (!memchr(p, '\0', len)) {
                char *s = ferry_xstrndup((const char *)p, len);
                ferry_buf_adds(b, "\"text\": ");
                ferry_buf_add_json_str(b, s);
                free(s);
                return;
        }
        ferry_buf_adds(b, "\"base64\": \"");
        for (size_t i = 0; i < len; i += 3) {
                unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0) |
                             (i + 2 < len ? p[i + 2] : 0);
                ferry_buf_addc(b, tbl[v >> 18 & 63]);
                ferry_buf_addc(b, tbl[v >> 12 & 63]);
                ferry_buf_addc(b, i + 1 < len ? tbl[v >> 6 & 63] : '=');
                ferry_buf_addc(b, i + 2 < len ? tbl[v & 63] : '=');
        }
        ferry_buf_addc(b, '"');
}

void runner_runspec_to_json(struct ferry_buf *b, const struct runner_runspec *rs)
{
        ferry_buf_adds(b, "{\n  \"uid\": ");
        ferry_buf_add_json_str(b, rs->uid);
        ferry_buf_printf(b, ",\n  \"grace_s\": %lld,\n  \"deadline_s\": %lld,",
                         (long long)rs->grace_s, (long long)rs->deadline_s);
        if (rs->pre_exec) { /* only when set: older golden files stay valid */
                ferry_buf_adds(b, "\n  \"pre_exec\": ");
                ferry_buf_add_json_str(b, rs->pre_exec);
                ferry_buf_addc(b, ',');
        }
        ferry_buf_adds(b, "\n  \"volumes\": [");
        for (size_t i = 0; i < rs->n_volumes; i++) {
                const struct runner_volume *v = &rs->volumes[i];
                ferry_buf_adds(b, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
                ferry_buf_add_json_str(b, v->name);
                ferry_buf_printf(b, ", \"kind\": \"%s\",", kind_word(v->kind));
                if (v->size_limit >= 0) /* only when set: older golden files stay valid */
                        ferry_buf_printf(b, " \"size_limit\": %lld,", (long long)v->size_limit);
                ferry_buf_adds(b, " \"files\": [");
                for (size_t j = 0; j < v->n_files; j++) {
                        ferry_buf_adds(b, j ? ",\n      {\"path\": " : "\n      {\"path\": ");
                        ferry_buf_add_json_str(b, v->files[j].path);
                        ferry_buf_printf(b, ", \"mode\": \"%04o\", ", v->files[j].mode);
                        add_bytes_json(b, v->files[j].data, v->files[j].len);
                        ferry_buf_addc(b, '}');
                }
                ferry_buf_adds(b, "]}");
        }
        ferry_buf_adds(b, "],\n  \"containers\": [");
        for (size_t i = 0; i < rs->n_c; i++) {
                const struct runner_container *c = &rs->c[i];
                ferry_buf_adds(b, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
                ferry_buf_add_json_str(b, c->name);
                ferry_buf_printf(b, ", \"init\": %s, \"cpu_milli\": %lld, \"memory\": %lld,",
                                 c->init ? "true" : "false", (long long)c->cpu_milli,
                                 (long long)c->memory_bytes);
                if (c->gpus > 0) /* only when set: older golden files stay valid */
                        ferry_buf_printf(b, " \"gpus\": %lld,", (long long)c->gpus);
                if (c->cpu_limit_milli > 0 || c->memory_limit_bytes > 0) /* likewise */
                        ferry_buf_printf(b, " \"limits\": {\"cpu_milli\": %lld, \"memory\": %lld},",
                                         (long long)c->cpu_limit_milli,
                                         (long long)c->memory_limit_bytes);
                if (c->ephemeral_limit > 0 || c->read_only_root) /* likewise */
                        ferry_buf_printf(b, " \"ephemeral_limit\": %lld, \"read_only_root\": %s,",
                                         (long long)c->ephemeral_limit,
                                         c->read_only_root ? "true" : "false");
                if (ferry_probes_any(&c->probes)) { /* likewise */
                        ferry_buf_adds(b, "\n     \"probes\": ");
                        ferry_probes_to_json(b, &c->probes);
                        ferry_buf_addc(b, ',');
                }
                ferry_buf_adds(b, "\n     \"argv\": [");
                for (size_t j = 0; j < c->n_argv; j++) {
                        if (j)
                                ferry_buf_adds(b, ", ");
                        ferry_buf_add_json_str(b, c->argv[j]);
                }
                ferry_buf_adds(b, "],\n     \"env\": [");
                for (size_t j = 0; j < c->n_env; j++) {
                        ferry_buf_adds(b, j ? ", [" : "[");
                        ferry_buf_add_json_str(b, c->env[j].name);
                        ferry_buf_adds(b, ", ");
                        ferry_buf_add_json_str(b, c->env[j].value);
                        ferry_buf_addc(b, ']');
                }
                ferry_buf_adds(b, "],\n     \"cwd\": ");
                if (c->cwd)
                        ferry_buf_add_json_str(b, c->cwd);
                else
                        ferry_buf_adds(b, "null");
                ferry_buf_adds(b, ",\n     \"mounts\": [");
                for (size_t j = 0; j < c->n_mounts; j++) {
                        ferry_buf_adds(b, j ? ", {\"src\": " : "{\"src\": ");
                        ferry_buf_add_json_str(b, c->mounts[j].src);
                        ferry_buf_adds(b, ", \"dst\": ");
                        ferry_buf_add_json_str(b, c->mounts[j].dst);
                        ferry_buf_printf(b, ", \"ro\": %s%s}", c->mounts[j].ro ? "true" : "false",
                                         c->mounts[j].mkdir_src ? ", \"mkdir\": true" : "");
                }
                ferry_buf_adds(b, "]}");
        }
        ferry_buf_adds(b, "]\n}\n");
}
