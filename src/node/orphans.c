/* SPDX-License-Identifier: MIT */
/*
 * Orphans at the site: pods ferryd still has whose API objects were deleted
 * while ferry-node was not watching (force-deleted during a restart). After
 * each full pod list, the status thread asks ferryd for every pod it holds
 * for this token (`/status` with `[]`, a ferryd extension) and, for each one
 * the pod table does not know, deletes it at the site only when all hold:
 *
 *   1. the API has no such pod: GET namespace/name is 404, or answers a pod
 *      with another uid (a new pod of the same name);
 *   2. ferry-node created it: this cluster holds the Submitted Event that a
 *      ferry-node of this node name wrote for exactly that uid (involvedObject.
 *      uid, source ferry-node, source.host = the node). Pods of other nodes or
 *      other clusters sharing the site have no such Event here. The Event is
 *      the tag because ferryd keeps no owner for a pod; an orphan whose Event
 *      has expired (the API's event TTL, 1 h by default) is left alone and
 *      logged, never guessed at.
 *
 * A site without the `[]` extension (upstream interLink) answers an empty
 * list: nothing is collected.
 */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "vk.h"

static const char *sget(const json_t *o, const char *k)
{
        return json_string_value(json_object_get(o, k));
}

/* 1: the API object is gone (or is another pod); 0: it exists; <0: unknown */
static int api_gone(struct ferry_kube *kube, const char *ns, const char *name, const char *uid)
{
        _cleanup_free_ char *path = ferry_xasprintf("/api/v1/namespaces/%s/pods/%s", ns, name);
        json_t *pod = NULL;
        ferry_error_t err;
        int r = ferry_kube_get(kube, path, &pod, &err);
        if (r == -ENOENT)
                return 1;
        if (r < 0)
                return r;
        const char *u = sget(json_object_get(pod, "metadata"), "uid");
        r = u && strcmp(u, uid) ? 1 : 0;
        json_decref(pod);
        return r;
}

/* 1: this node's ferry-node submitted that uid; 0: no proof; <0: unknown */
static int ours(struct ferry_kube *kube, const char *node, const char *ns, const char *uid)
{
        _cleanup_free_ char *esc = ferry_kube_query_escape(uid);
        _cleanup_free_ char *path =
            ferry_xasprintf("/api/v1/namespaces/%s/events?fieldSelector=involvedObject.uid%%3D%s"
                            ",reason%%3DSubmitted",
                            ns, esc);
        json_t *list = NULL;
        ferry_error_t err;
        int r = ferry_kube_get(kube, path, &list, &err);
        if (r < 0)
                return r;
        size_t i;
        json_t *e;
        int found = 0;
        json_array_foreach(json_object_get(list, "items"), i, e)
        {
                const json_t *src = json_object_get(e, "source");
                const char *io_uid = sget(json_object_get(e, "involvedObject"), "uid");
                if (sget(src, "component") && !strcmp(sget(src, "component"), "ferry-node") &&
                    sget(src, "host") && !strcmp(sget(src, "host"), node) && io_uid &&
                    !strcmp(io_uid, uid))
                        found = 1;
        }
        json_decref(list);
        return found;
}

int ferry_vk_collect_orphans(struct ferry_vk *vk, struct ferry_kube *kube, struct ferry_client *fc,
                             const char *node)
{
        json_t *all = NULL;
        ferry_error_t err;
        int r = ferry_client_status(fc, "[]", &all, &err);
        if (r < 0) {
                log_warn("orphans: /status of every pod: %s", err.text);
                return r;
        }
        int deleted = 0;
        size_t i;
        json_t *ps;
        json_array_foreach(all, i, ps)
        {
                const char *uid = sget(ps, "UID"), *ns = sget(ps, "namespace"),
                           *name = sget(ps, "name");
                if (!uid || !ns || !name || ferry_vk_pod_known(vk, uid))
                        continue;
                if (api_gone(kube, ns, name, uid) != 1)
                        continue;
                int o = ours(kube, node, ns, uid);
                if (o != 1) {
                        if (o == 0)
                                log_info("orphans: site pod %s/%s (%s) has no API object but "
                                         "nothing shows this "
                                         "node created it: left alone",
                                         ns, name, uid);
                        continue;
                }
                json_t *pod =
                    json_pack("{s:s,s:s,s:{s:s,s:s,s:s}}", "apiVersion", "v1", "kind", "Pod",
                              "metadata", "name", name, "namespace", ns, "uid", uid);
                _cleanup_free_ char *body = json_dumps(pod, JSON_COMPACT);
                json_decref(pod);
                r = ferry_client_delete(fc, body, &err);
                if (r < 0 && r != -ENOENT) {
                        log_warn("orphans: /delete of %s/%s (%s): %s", ns, name, uid, err.text);
                        continue;
                }
                log_info("orphans: deleted site pod %s/%s (%s): its API object is gone", ns, name,
                         uid);
                deleted++;
        }
        json_decref(all);
        return deleted;
}
