/* SPDX-License-Identifier: MIT */
/* ferry-node's configuration: defaults, a YAML file, flags (see vk.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kubeconfig.h"
#include "vk.h"

void ferry_vk_config_defaults(struct ferry_vk_config *c)
{
        memset(c, 0, sizeof(*c));
        c->status_interval_ms = 1000;
        c->ping_interval_s = 10;
        c->node_heartbeat_s = 60;
        c->lease_duration_s = 40;
        c->lease_renew_s = 10;
        c->config_wait_s = 300;
        c->workers = 8;
        c->qps = 500;
        c->burst = 1000;
        c->kubelet_port = 10250;
        c->kubelet_listen = ferry_xstrdup("0.0.0.0");
}

void ferry_vk_config_clear(struct ferry_vk_config *c)
{
        char **strs[] = {&c->node_name,   &c->kubeconfig,        &c->kube_context,
                         &c->ferryd_url,  &c->ferryd_token_file, &c->ferryd_ca,
                         &c->internal_ip, &c->kubelet_listen,    &c->kubelet_cert,
                         &c->kubelet_key, &c->kubelet_client_ca, &c->log_level};
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(strs); i++) {
                free(*strs[i]);
                *strs[i] = NULL;
        }
        json_decref(c->labels);
        json_decref(c->taints);
        c->labels = c->taints = NULL;
}

static int set_int(const char *key, const char *v, int min, int max, int *out, ferry_error_t *err)
{
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end || n < min || n > max)
                return ferry_errprintf(err, -EINVAL,
                                       "%s must be an integer from %d to %d, not '%s'", key, min,
                                       max, v);
        *out = (int)n;
        return 0;
}

static bool truthy(const char *v)
{
        return !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes");
}

/* "k=v,k2=v2" -> labels; "key=value:Effect,key:Effect" -> taints */
static int parse_labels(const char *v, json_t *into, ferry_error_t *err)
{
        _cleanup_free_ char *s = ferry_xstrdup(v);
        char *save = NULL;
        for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(t, '=');
                if (!eq || eq == t)
                        return ferry_errprintf(err, -EINVAL, "label '%s' is not KEY=VALUE", t);
                *eq = '\0';
                json_object_set_new(into, t, json_string(eq + 1));
        }
        return 0;
}

static int parse_taint(const char *t, json_t *into, ferry_error_t *err)
{
        _cleanup_free_ char *s = ferry_xstrdup(t);
        char *colon = strrchr(s, ':');
        if (!colon || colon == s)
                return ferry_errprintf(err, -EINVAL, "taint '%s' is not KEY[=VALUE]:EFFECT", t);
        *colon = '\0';
        const char *eff = colon + 1;
        if (strcmp(eff, "NoSchedule") && strcmp(eff, "PreferNoSchedule") &&
            strcmp(eff, "NoExecute"))
                return ferry_errprintf(
                    err, -EINVAL,
                    "taint effect '%s' is not NoSchedule, PreferNoSchedule or NoExecute", eff);
        char *eq = strchr(s, '=');
        json_t *o = json_pack("{s:s,s:s}", "key", s, "effect", eff);
        if (eq) {
                *eq = '\0';
                json_object_set_new(o, "key", json_string(s));
                json_object_set_new(o, "value", json_string(eq + 1));
        }
        json_array_append_new(into, o);
        return 0;
}

int ferry_vk_config_set(struct ferry_vk_config *c, const char *key_in, const char *v,
                        ferry_error_t *err)
{
        char key[64];
        snprintf(key, sizeof(key), "%s", key_in);
        for (char *p = key; *p; p++)
                if (*p == '-')
                        *p = '_';
        struct {
                const char *name;
                char **dst;
        } strs[] = {{"node_name", &c->node_name},
                    {"kubeconfig", &c->kubeconfig},
                    {"kube_context", &c->kube_context},
                    {"ferryd_url", &c->ferryd_url},
                    {"ferryd_token_file", &c->ferryd_token_file},
                    {"ferryd_ca", &c->ferryd_ca},
                    {"internal_ip", &c->internal_ip},
                    {"kubelet_listen", &c->kubelet_listen},
                    {"kubelet_cert", &c->kubelet_cert},
                    {"kubelet_key", &c->kubelet_key},
                    {"kubelet_client_ca", &c->kubelet_client_ca},
                    {"log_level", &c->log_level}};
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(strs); i++)
                if (!strcmp(key, strs[i].name)) {
                        free(*strs[i].dst);
                        *strs[i].dst = ferry_xstrdup(v);
                        return 0;
                }
        struct {
                const char *name;
                int *dst;
                int min, max;
        } ints[] = {{"status_interval_ms", &c->status_interval_ms, 100, 600000},
                    {"ping_interval_s", &c->ping_interval_s, 1, 3600},
                    {"node_heartbeat_s", &c->node_heartbeat_s, 1, 3600},
                    {"lease_duration_s", &c->lease_duration_s, 5, 3600},
                    {"lease_renew_s", &c->lease_renew_s, 1, 3600},
                    {"config_wait_s", &c->config_wait_s, 0, 86400},
                    {"workers", &c->workers, 1, 256},
                    {"burst", &c->burst, 1, 100000},
                    {"kubelet_port", &c->kubelet_port, 0, 65535}};
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(ints); i++)
                if (!strcmp(key, ints[i].name))
                        return set_int(key, v, ints[i].min, ints[i].max, ints[i].dst, err);
        if (!strcmp(key, "qps")) {
                char *end;
                double q = strtod(v, &end);
                if (end == v || *end || q <= 0)
                        return ferry_errprintf(err, -EINVAL,
                                               "qps must be a positive number, not '%s'", v);
                c->qps = q;
                return 0;
        }
        if (!strcmp(key, "kubelet_insecure_http")) {
                c->kubelet_insecure_http = truthy(v);
                return 0;
        }
        if (!strcmp(key, "kubelet_insecure_no_auth")) {
                c->kubelet_insecure_no_auth = truthy(v);
                return 0;
        }
        if (!strcmp(key, "labels") || !strcmp(key, "label")) {
                if (!c->labels)
                        c->labels = json_object();
                return parse_labels(v, c->labels, err);
        }
        if (!strcmp(key, "taints") || !strcmp(key, "taint")) {
                if (!c->taints)
                        c->taints = json_array();
                if (!v[0] || !strcmp(v, "none"))
                        return 0; /* an empty list: no taints at all */
                _cleanup_free_ char *s = ferry_xstrdup(v);
                char *save = NULL;
                for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                        int r = parse_taint(t, c->taints, err);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        return ferry_errprintf(err, -ENOENT, "unknown setting '%s'", key_in);
}

int ferry_vk_config_load(const char *path, struct ferry_vk_config *c, ferry_error_t *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        json_t *root = NULL;
        int r = ferry_read_file(path, 1 << 20, &text, &len);
        if (r < 0)
                return ferry_errprintf(err, r, "cannot read %s: %s", path, strerror(-r));
        if ((r = ferry_kube_yaml_to_json(text, len, &root, err)) < 0)
                return ferry_errprefix(err, r, "%s", path);
        if (!json_is_object(root)) {
                json_decref(root);
                return ferry_errprintf(err, -EINVAL, "%s: expected a mapping of settings", path);
        }
        const char *k;
        json_t *v;
        json_object_foreach(root, k, v)
        {
                if (!strcmp(k, "labels") && json_is_object(v)) {
                        if (!c->labels)
                                c->labels = json_object();
                        json_object_update(c->labels, v);
                        continue;
                }
                if (!strcmp(k, "taints") && json_is_array(v)) {
                        /* a list of {key, value, effect} objects or "k=v:Effect" strings */
                        json_decref(c->taints);
                        c->taints = json_array();
                        size_t i;
                        json_t *t;
                        json_array_foreach(v, i, t)
                        {
                                if (json_is_string(t))
                                        r = parse_taint(json_string_value(t), c->taints, err);
                                else if (json_is_object(t) &&
                                         json_is_string(json_object_get(t, "key")) &&
                                         json_is_string(json_object_get(t, "effect")))
                                        json_array_append(c->taints, t), r = 0;
                                else
                                        r = ferry_errprintf(
                                            err, -EINVAL, "taints: entry %zu has no key and effect",
                                            i);
                                if (r < 0)
                                        goto out;
                        }
                        continue;
                }
                char buf[64];
                const char *s = json_string_value(v);
                if (json_is_integer(v)) {
                        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
                        s = buf;
                } else if (json_is_boolean(v)) {
                        s = json_is_true(v) ? "true" : "false";
                }
                if (!s) {
                        r = ferry_errprintf(err, -EINVAL, "%s: setting %s has the wrong type", path,
                                            k);
                        goto out;
                }
                if ((r = ferry_vk_config_set(c, k, s, err)) < 0) {
                        ferry_errprefix(err, r, "%s", path);
                        goto out;
                }
        }
        r = 0;
out:
        json_decref(root);
        return r;
}

int ferry_vk_config_check(const struct ferry_vk_config *c, ferry_error_t *err)
{
        if (!c->node_name || !c->node_name[0])
                return ferry_errprintf(err, -EINVAL, "no node name: give --node-name or node_name");
        if (!ferry_is_dns_subdomain(c->node_name))
                return ferry_errprintf(err, -EINVAL, "node name '%s' is not a DNS subdomain",
                                       c->node_name);
        if (!c->ferryd_url || !c->ferryd_url[0])
                return ferry_errprintf(err, -EINVAL,
                                       "no site given: --ferryd-url unix:///run/ferry/ferryd.sock "
                                       "or https://HOST:PORT");
        if (c->lease_renew_s * 2 > c->lease_duration_s)
                return ferry_errprintf(
                    err, -EINVAL,
                    "lease_renew_s (%d) must be at most half of lease_duration_s (%d)",
                    c->lease_renew_s, c->lease_duration_s);
        return 0;
}
