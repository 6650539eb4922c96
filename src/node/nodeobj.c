/* SPDX-License-Identifier: MIT */
/*
 * The Node object of the virtual node and its status from the last ping.
 *
 * Capacity: the PingResponse's resources (cpu, memory, pods) and
 * accelerators (by resource name: nvidia.com/gpu, nvidia.com/mig-1g.10gb...).
 * A resource the site omits or reports as zero keeps its last published value
 * (the upstream defaults at first) and the node carries condition SiteCapacity
 * False/NoCapacityReported saying so: a site that answers "0 CPU" must not
 * silently drain the node. Accelerators reported as 0 are published as 0 (a
 * busy GPU pool is a real state).
 */
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "node.h"

static const char *sget(const json_t *o, const char *k)
{
        return json_string_value(json_object_get(o, k));
}

static bool zero_quantity(const char *q)
{
        if (!q || !q[0])
                return true;
        for (const char *p = q; *p; p++) {
                if (*p >= '1' && *p <= '9')
                        return false;
                if (!(*p == '0' || *p == '.'))
                        break; /* the unit suffix */
        }
        return true;
}

json_t *ferry_node_taints(const struct ferry_node_params *p, const json_t *ping_taints)
{
        json_t *t = p->taints
                        ? json_deep_copy(p->taints)
                        : json_pack("[{s:s,s:s,s:s}]", "key", "virtual-node.interlink/no-schedule",
                                    "value", "true", "effect", "NoSchedule");
        size_t i;
        json_t *e;
        json_array_foreach(ping_taints, i, e)
        {
                const char *k = sget(e, "key"), *eff = sget(e, "effect");
                if (!k || !eff)
                        continue;
                json_t *n = json_pack("{s:s,s:s}", "key", k, "effect", eff);
                if (sget(e, "value"))
                        json_object_set_new(n, "value", json_string(sget(e, "value")));
                json_array_append_new(t, n);
        }
        return t;
}

json_t *ferry_node_object(const struct ferry_node_params *p, const json_t *status,
                          const json_t *ping_taints)
{
        json_t *labels = json_pack(
            "{s:s,s:s,s:s,s:s,s:s,s:s}", "type", "virtual-kubelet", "kubernetes.io/role", "agent",
            "kubernetes.io/hostname", p->name, "kubernetes.io/os", "linux", "beta.kubernetes.io/os",
            "linux", "node.kubernetes.io/exclude-from-external-load-balancers", "true");
        if (p->labels)
                json_object_update(labels, (json_t *)p->labels);
        return json_pack("{s:s,s:s,s:{s:s,s:o},s:{s:o},s:O}", "apiVersion", "v1", "kind", "Node",
                         "metadata", "name", p->name, "labels", labels, "spec", "taints",
                         ferry_node_taints(p, ping_taints), "status", status);
}

static json_t *condition(const json_t *prev, const char *type, const char *status,
                         const char *reason, const char *message, const char *now)
{
        const char *since = now;
        size_t i;
        json_t *c;
        json_array_foreach(prev, i, c)
        {
                const char *t = sget(c, "type"), *s = sget(c, "status");
                if (t && !strcmp(t, type) && s && !strcmp(s, status) &&
                    sget(c, "lastTransitionTime"))
                        since = sget(c, "lastTransitionTime");
        }
        return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", type, "status", status,
                         "lastHeartbeatTime", now, "lastTransitionTime", since, "reason", reason,
                         "message", message);
}

json_t *ferry_node_status(const struct ferry_node_params *p, const struct ferry_node_ping *ping,
                          const json_t *last_capacity, const json_t *prev_conditions,
                          const char *now, json_t **ret_ping_taints)
{
        static const struct {
                const char *key, *def;
        } base[] = {{"cpu", FERRY_NODE_DEFAULT_CPU},
                    {"memory", FERRY_NODE_DEFAULT_MEMORY},
                    {"pods", FERRY_NODE_DEFAULT_PODS}};
        json_t *pr = NULL;
        bool healthy = ping->reachable && ping->code == 200;
        json_t *cap = json_object();
        struct ferry_buf missing = FERRY_BUF_INIT;

        if (healthy && ping->body && ping->body[0])
                pr = json_loads(ping->body, 0, NULL);
        json_t *res = json_object_get(pr, "resources");
        for (size_t i = 0; i < FERRY_ARRAY_SIZE(base); i++) {
                const char *v = sget(res, base[i].key);
                const char *last = sget(last_capacity, base[i].key);
                if (!zero_quantity(v)) {
                        json_object_set_new(cap, base[i].key, json_string(v));
                        continue;
                }
                if (healthy && pr)
                        ferry_buf_printf(&missing, "%s%s=%s", missing.len ? ", " : "", base[i].key,
                                         v ? v : "(none)");
                json_object_set_new(cap, base[i].key, json_string(last ? last : base[i].def));
        }
        /* accelerators: by resource name; a name the site stops reporting goes to 0 */
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)last_capacity, k, v)
        {
                if (strchr(k, '/') && !json_object_get(cap, k))
                        json_object_set_new(
                            cap, k, json_string(healthy && pr ? "0" : json_string_value(v)));
        }
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(res, "accelerators"), i, a)
        {
                const char *rt = sget(a, "resourceType"), *av = sget(a, "available");
                if (rt && strchr(rt, '/'))
                        json_object_set_new(cap, rt, json_string(av ? av : "0"));
        }

        json_t *conds = json_array();
        _cleanup_free_ char *reach_msg = NULL;
        const char *reason;
        if (!ping->reachable) {
                reason = "SiteUnreachable";
                reach_msg = ferry_xasprintf("cannot reach the interLink API: %s",
                                            ping->error ? ping->error : "no answer");
        } else if (ping->code != 200) {
                reason = "SiteUnhealthy";
                reach_msg = ferry_xasprintf("/pinglink answered %ld%s%.200s", ping->code,
                                            ping->body && ping->body[0] ? ": " : "",
                                            ping->body ? ping->body : "");
        } else {
                /* the PingResponse's status text often counts pods: kept out of the
                 * message so that the Node is not rewritten each time it moves */
                reason = "PingOK";
                reach_msg = ferry_xstrdup("the interLink API answers /pinglink");
        }
        json_array_append_new(
            conds,
            condition(prev_conditions, "Ready", healthy ? "True" : "False",
                      healthy ? "KubeletReady" : reason,
                      healthy ? "ferry-node is ready and its site answers" : reach_msg, now));
        json_array_append_new(conds, condition(prev_conditions, "FerryConnectivity",
                                               healthy ? "True" : "False", reason, reach_msg, now));
        if (missing.len) {
                _cleanup_free_ char *m = ferry_xasprintf(
                    "the site reported no capacity for %s; keeping the last known values "
                    "(cpu=%s, memory=%s, pods=%s) instead of draining the node",
                    missing.data, sget(cap, "cpu"), sget(cap, "memory"), sget(cap, "pods"));
                json_array_append_new(conds, condition(prev_conditions, "SiteCapacity", "False",
                                                       "NoCapacityReported", m, now));
        } else {
                json_array_append_new(
                    conds, condition(prev_conditions, "SiteCapacity", "True",
                                     healthy ? "CapacityReported" : "LastKnownCapacity",
                                     healthy ? "capacity as reported by the site"
                                             : "the site is not answering; last known capacity",
                                     now));
        }
        const char *pressure[] = {"MemoryPressure", "DiskPressure", "PIDPressure"};
        for (size_t j = 0; j < FERRY_ARRAY_SIZE(pressure); j++)
                json_array_append_new(conds,
                                      condition(prev_conditions, pressure[j], "False",
                                                "KubeletHasSufficientResources",
                                                "a virtual node has no local pressure", now));
        ferry_buf_free(&missing);

        json_t *addrs = json_array();
        if (p->internal_ip && p->internal_ip[0])
                json_array_append_new(
                    addrs, json_pack("{s:s,s:s}", "type", "InternalIP", "address", p->internal_ip));
        json_array_append_new(addrs,
                              json_pack("{s:s,s:s}", "type", "Hostname", "address", p->name));
        json_t *st = json_pack(
            "{s:O,s:o,s:o,s:o,s:{s:{s:i}},s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}}", "capacity",
            cap, "allocatable", cap, "conditions", conds, "addresses", addrs, "daemonEndpoints",
            "kubeletEndpoint", "Port", p->kubelet_port, "nodeInfo", "kubeletVersion",
            p->version ? p->version : "v1.29.0-ferry", "kubeProxyVersion", "", "operatingSystem",
            "linux", "architecture", "amd64", "containerRuntimeVersion", "interlink://ferry",
            "osImage", "ferry virtual node", "kernelVersion", "", "machineID", "", "systemUUID", "",
            "bootID", "");
        if (ret_ping_taints) {
                json_t *t = json_object_get(pr, "taints");
                *ret_ping_taints = json_is_array(t) ? json_incref(t) : NULL;
        }
        json_decref(pr);
        return st;
}
