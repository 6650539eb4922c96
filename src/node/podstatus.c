/* SPDX-License-Identifier: MIT */
/*
 * ferryd's PodStatus -> the Kubernetes pod status, set as the kubelet would:
 * phase, conditions (Initialized, Ready, ContainersReady, PodScheduled) with
 * stable transition times, containerStatuses and initContainerStatuses in
 * spec order, startTime. Plus the merge patch that only touches what the node
 * owns (the API server's qosClass and the like are left alone).
 */
#include <string.h>

#include "client/client.h"
#include "common/util.h"
#include "node.h"

/* The status keys the node owns and may null out. */
static const char *const managed[] = {
    "phase",    "reason", "message", "conditions", "containerStatuses", "initContainerStatuses",
    "startTime"};

static const char *sget(const json_t *o, const char *k)
{
        return json_string_value(json_object_get(o, k));
}

static const json_t *find_named(const json_t *arr, const char *name)
{
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e)
        {
                const char *n = sget(e, "name");
                if (n && name && !strcmp(n, name))
                        return e;
        }
        return NULL;
}

static bool one_state(const json_t *state)
{
        return json_object_get(state, "waiting") || json_object_get(state, "running") ||
               json_object_get(state, "terminated");
}

static json_t *container_status(const json_t *spec_c, const json_t *cs, const char *waiting_reason,
                                const char *waiting_message)
{
        const char *name = sget(spec_c, "name");
        const char *image = sget(spec_c, "image");
        json_t *state = json_object_get(cs, "state");
        json_t *out;

        if (cs && one_state(state)) {
                state = json_deep_copy(state);
        } else {
                state = json_pack("{s:{s:s}}", "waiting", "reason", waiting_reason);
                if (waiting_message && waiting_message[0])
                        json_object_set_new(json_object_get(state, "waiting"), "message",
                                            json_string(waiting_message));
        }
        bool running = json_object_get(state, "running") != NULL;
        json_t *last = json_object_get(cs, "lastState");
        out = json_pack(
            "{s:s,s:o,s:o,s:b,s:I,s:s,s:s,s:b}", "name", name ? name : "", "state", state,
            "lastState", json_is_object(last) ? json_deep_copy(last) : json_object(), "ready",
            json_is_true(json_object_get(cs, "ready")) && running, "restartCount",
            json_integer_value(json_object_get(cs, "restartCount")), "image", image ? image : "",
            "imageID", sget(cs, "imageID") ? sget(cs, "imageID") : "", "started", running);
        const char *cid = sget(cs, "containerID");
        if (!cid)
                cid = sget(json_object_get(json_object_get(cs, "state"), "terminated"),
                           "containerID");
        if (cid && cid[0])
                json_object_set_new(out, "containerID", json_string(cid));
        return out;
}

static json_t *condition(const json_t *prev_conds, const char *type, bool status,
                         const char *reason, const char *message, const char *now)
{
        const json_t *prev = NULL;
        size_t i;
        json_t *c;
        const char *st = status ? "True" : "False";
        json_array_foreach(prev_conds, i, c)
        {
                const char *t = sget(c, "type");
                if (t && !strcmp(t, type))
                        prev = c;
        }
        const char *since = now;
        if (prev && sget(prev, "status") && !strcmp(sget(prev, "status"), st) &&
            sget(prev, "lastTransitionTime"))
                since = sget(prev, "lastTransitionTime");
        json_t *out = json_pack("{s:s,s:s,s:n,s:s}", "type", type, "status", st, "lastProbeTime",
                                "lastTransitionTime", since);
        if (reason)
                json_object_set_new(out, "reason", json_string(reason));
        if (message)
                json_object_set_new(out, "message", json_string(message));
        return out;
}

static json_t *build(const json_t *pod, const json_t *ps, const char *phase, const char *reason,
                     const char *message, const char *waiting_reason, const char *now)
{
        const json_t *spec = json_object_get(pod, "spec");
        const json_t *prev = json_object_get(pod, "status");
        const json_t *prev_conds = json_object_get(prev, "conditions");
        json_t *inits = json_array(), *ctrs = json_array();
        struct ferry_buf notinit = FERRY_BUF_INIT, unready = FERRY_BUF_INIT;
        bool all_init = true, all_ready = true;
        size_t i;
        json_t *c;

        json_array_foreach(json_object_get(spec, "initContainers"), i, c)
        {
                const json_t *cs =
                    find_named(json_object_get(ps, "initContainers"), sget(c, "name"));
                json_t *st =
                    container_status(c, cs, waiting_reason ? waiting_reason : "PodInitializing",
                                     waiting_reason ? message : NULL);
                json_t *term = json_object_get(json_object_get(st, "state"), "terminated");
                if (!term || json_integer_value(json_object_get(term, "exitCode")) != 0) {
                        all_init = false;
                        ferry_buf_printf(&notinit, "%s%s", notinit.len ? " " : "", sget(c, "name"));
                }
                json_array_append_new(inits, st);
        }
        bool has_init = json_array_size(inits) > 0;
        json_array_foreach(json_object_get(spec, "containers"), i, c)
        {
                const json_t *cs = find_named(json_object_get(ps, "containers"), sget(c, "name"));
                const char *wr = waiting_reason          ? waiting_reason
                                 : has_init && !all_init ? "PodInitializing"
                                                         : "ContainerCreating";
                json_t *st = container_status(c, cs, wr, waiting_reason ? message : NULL);
                if (!json_is_true(json_object_get(st, "ready"))) {
                        all_ready = false;
                        ferry_buf_printf(&unready, "%s%s", unready.len ? " " : "", sget(c, "name"));
                }
                json_array_append_new(ctrs, st);
        }
        bool done = !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed");
        json_t *conds = json_array();
        _cleanup_free_ char *m1 =
            notinit.len ? ferry_xasprintf("containers with incomplete status: [%s]", notinit.data)
                        : NULL;
        _cleanup_free_ char *m2 =
            unready.len ? ferry_xasprintf("containers with unready status: [%s]", unready.data)
                        : NULL;
        /* a finished pod whose init containers all passed counts as initialized */
        json_array_append_new(conds,
                              condition(prev_conds, "Initialized", all_init,
                                        all_init ? NULL : "ContainersNotInitialized", m1, now));
        const char *nr = done ? "PodCompleted" : "ContainersNotReady";
        json_array_append_new(conds, condition(prev_conds, "Ready", all_ready && !done,
                                               all_ready && !done ? NULL : nr,
                                               all_ready && !done ? NULL
                                               : done             ? NULL
                                                                  : m2,
                                               now));
        json_array_append_new(conds, condition(prev_conds, "ContainersReady", all_ready && !done,
                                               all_ready && !done ? NULL : nr,
                                               all_ready && !done ? NULL
                                               : done             ? NULL
                                                                  : m2,
                                               now));
        json_array_append_new(conds, condition(prev_conds, "PodScheduled", true, NULL, NULL, now));
        ferry_buf_free(&notinit);
        ferry_buf_free(&unready);

        const char *start = sget(prev, "startTime");
        json_t *out = json_pack("{s:s,s:o,s:s}", "phase", phase, "conditions", conds, "startTime",
                                start ? start : now);
        if (reason && reason[0])
                json_object_set_new(out, "reason", json_string(reason));
        if (message && message[0])
                json_object_set_new(out, "message", json_string(message));
        if (has_init)
                json_object_set_new(out, "initContainerStatuses", inits);
        else
                json_decref(inits);
        json_object_set_new(out, "containerStatuses", ctrs);
        return out;
}

json_t *ferry_node_pod_status(const json_t *pod, const json_t *ps, const char *now)
{
        const char *phase = ps ? ferry_client_pod_phase(ps) : "Pending";
        if (!phase || !phase[0] || !strcmp(phase, "Unknown"))
                phase = "Pending";
        return build(pod, ps, phase, ps ? sget(ps, "reason") : NULL,
                     ps ? sget(ps, "message") : NULL, NULL, now);
}

json_t *ferry_node_pod_status_local(const json_t *pod, const char *phase, const char *reason,
                                    const char *message, const char *now)
{
        return build(pod, NULL, phase, reason, message, reason, now);
}

/* A container the deletion left without a terminated state: as the kubelet
 * reports one it cannot find any more once the pod is deleted. */
static json_t *final_container(const json_t *spec_c, const json_t *cs)
{
        json_t *out = json_is_object(cs) ? json_deep_copy(cs)
                                         : json_pack("{s:s}", "name", sget(spec_c, "name"));
        json_t *st = json_object_get(out, "state");
        if (json_object_get(st, "terminated"))
                return out;
        bool was_running = json_object_get(st, "running") != NULL;
        json_object_set_new(
            out, "state",
            json_pack("{s:{s:i,s:s,s:s}}", "terminated", "exitCode", 137, "reason",
                      "ContainerStatusUnknown", "message",
                      was_running ? "The container could not be located when the pod was deleted."
                                    "  The container used to be Running"
                                  : "The container could not be located when the pod was "
                                    "terminated"));
        return out;
}

json_t *ferry_node_pod_status_final(const json_t *pod, const json_t *ps, const char *now)
{
        static const char *const keys[2][3] = {
            {"initContainers", "initContainers", "initContainerStatuses"},
            {"containers", "containers", "containerStatuses"}};
        const json_t *spec = json_object_get(pod, "spec");
        const json_t *prev = json_object_get(pod, "status");
        json_t *eff = json_object();
        bool all_zero = true;
        size_t i;
        json_t *c;

        for (int k = 0; k < 2; k++) {
                json_t *arr = json_array();
                json_array_foreach(json_object_get(spec, keys[k][0]), i, c)
                {
                        const char *name = sget(c, "name");
                        const json_t *cs =
                            ps ? find_named(json_object_get(ps, keys[k][1]), name) : NULL;
                        if (!cs || !one_state(json_object_get(cs, "state")))
                                cs = find_named(json_object_get(prev, keys[k][2]), name);
                        json_t *f = final_container(c, cs);
                        json_t *t = json_object_get(json_object_get(f, "state"), "terminated");
                        if (k == 1 && json_integer_value(json_object_get(t, "exitCode")) != 0)
                                all_zero = false;
                        json_array_append_new(arr, f);
                }
                json_object_set_new(eff, keys[k][1], arr);
        }
        json_t *out =
            build(pod, eff, all_zero ? "Succeeded" : "Failed", ps ? sget(ps, "reason") : NULL,
                  ps ? sget(ps, "message") : NULL, NULL, now);
        json_decref(eff);
        return out;
}

const char *ferry_node_status_phase(const json_t *status)
{
        const char *p = sget(status, "phase");
        return p ? p : "";
}

json_t *ferry_node_status_patch(const json_t *old_status, const json_t *new_status)
{
        json_t *st = json_object();
        bool changed = false;

        for (size_t i = 0; i < FERRY_ARRAY_SIZE(managed); i++) {
                const json_t *o = json_object_get(old_status, managed[i]);
                const json_t *n = json_object_get(new_status, managed[i]);
                if (n)
                        json_object_set(st, managed[i], (json_t *)n);
                if (o && !n) {
                        json_object_set_new(st, managed[i], json_null());
                        changed = true;
                } else if (n && (!o || !json_equal((json_t *)o, (json_t *)n))) {
                        changed = true;
                }
        }
        if (!changed) {
                json_decref(st);
                return NULL;
        }
        return json_pack("{s:o}", "status", st);
}
