/* SPDX-License-Identifier: MIT */
/*
 * Golden tests of ferry-node's pure translators, on recorded API objects:
 *
 *   tests/data/node/create/CASE/input.json   {"pod", "configmaps", "secrets", "tokens",
 *                                             "allocatable" (optional)}
 *     (libferry-podtr, as ferry-node calls it: node "ferry-site", IP 10.1.2.3)
 *     expected.json: {"needs": ..., "request": PodCreateRequests} or {"needs", "error"}
 *   tests/data/node/status/CASE/input.json   {"pod", "ps" (ferryd PodStatus or null),
 *                                             "local": {phase, reason, message} (optional),
 *                                             "final": true (optional: the deletion finished)}
 *     expected.json: {"status": ..., "patch": merge patch against pod.status or null}
 *   tests/data/node/node/CASE/input.json     {"params", "ping", "last_capacity", "prev"}
 *     expected.json: {"node": Node object}
 *
 * A new case needs no new C code. FERRY_UPDATE_GOLDEN=1 rewrites expected.json.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node.h"
#include "podtr/podtr.h"

#define NOW "2026-01-10T10:00:00Z"

static int failures;

static json_t *run_create(json_t *in)
{
        json_t *pod = json_object_get(in, "pod");
        struct ferry_podtr_objects o = {
            .configmaps = json_object_get(in, "configmaps"),
            .secrets = json_object_get(in, "secrets"),
            .tokens = json_object_get(in, "tokens"),
            .node_name = "ferry-site",
            .host_ip = "10.1.2.3",
            .allocatable = json_object_get(in, "allocatable"),
        };
        ferry_error_t err = {{0}};
        json_t *req = NULL;
        json_t *out = json_pack("{s:o}", "needs", ferry_podtr_needs(pod));
        int r = ferry_podtr_build(pod, &o, &req, NULL, &err);
        if (r < 0)
                json_object_set_new(out, "error", json_sprintf("%d %s", r, err.text));
        else
                json_object_set_new(out, "request", req);
        return out;
}

static json_t *run_status(json_t *in)
{
        json_t *pod = json_object_get(in, "pod");
        json_t *ps = json_object_get(in, "ps");
        json_t *local = json_object_get(in, "local");
        json_t *st;
        if (json_is_true(json_object_get(in, "final")))
                st = ferry_node_pod_status_final(pod, json_is_null(ps) ? NULL : ps, NOW);
        else if (local)
                st = ferry_node_pod_status_local(
                    pod, json_string_value(json_object_get(local, "phase")),
                    json_string_value(json_object_get(local, "reason")),
                    json_string_value(json_object_get(local, "message")), NOW);
        else
                st = ferry_node_pod_status(pod, json_is_null(ps) ? NULL : ps, NOW);
        json_t *patch = ferry_node_status_patch(json_object_get(pod, "status"), st);
        return json_pack("{s:o,s:o}", "status", st, "patch", patch ? patch : json_null());
}

static json_t *run_node(json_t *in)
{
        json_t *pp = json_object_get(in, "params");
        json_t *ping = json_object_get(in, "ping");
        struct ferry_node_params p = {
            .name = json_string_value(json_object_get(pp, "name")),
            .internal_ip = json_string_value(json_object_get(pp, "internal_ip")),
            .kubelet_port = (int)json_integer_value(json_object_get(pp, "kubelet_port")),
            .labels = json_object_get(pp, "labels"),
            .taints = json_object_get(pp, "taints"),
            .version = "v1.29.0-ferry-test",
        };
        struct ferry_node_ping pg = {
            .reachable = json_is_true(json_object_get(ping, "reachable")),
            .code = (long)json_integer_value(json_object_get(ping, "code")),
            .body = json_string_value(json_object_get(ping, "body")),
            .error = json_string_value(json_object_get(ping, "error")),
        };
        json_t *taints = NULL;
        json_t *st = ferry_node_status(&p, &pg, json_object_get(in, "last_capacity"),
                                       json_object_get(in, "prev"), NOW, &taints);
        json_t *node = ferry_node_object(&p, st, taints);
        json_decref(st);
        json_decref(taints);
        return json_pack("{s:o}", "node", node);
}

static void run_dir(const char *root, const char *area, json_t *(*fn)(json_t *))
{
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/%s", root, area);
        DIR *d = opendir(dir);
        struct dirent *de;
        if (!d) {
                printf("not ok - cannot open %s\n", dir);
                failures++;
                return;
        }
        while ((de = readdir(d))) {
                char in_path[8192], exp_path[8192];
                if (de->d_name[0] == '.')
                        continue;
                snprintf(in_path, sizeof(in_path), "%s/%s/input.json", dir, de->d_name);
                snprintf(exp_path, sizeof(exp_path), "%s/%s/expected.json", dir, de->d_name);
                json_error_t je;
                json_t *in = json_load_file(in_path, 0, &je);
                if (!in) {
                        if (errno != ENOENT) {
                                printf("not ok - %s/%s: %s line %d\n", area, de->d_name, je.text,
                                       je.line);
                                failures++;
                        }
                        continue;
                }
                json_t *got = fn(in);
                json_t *want = json_load_file(exp_path, 0, NULL);
                if (getenv("FERRY_UPDATE_GOLDEN")) {
                        json_dump_file(got, exp_path, JSON_INDENT(2) | JSON_SORT_KEYS);
                        FILE *f = fopen(exp_path, "a");
                        if (f) {
                                fputc('\n', f);
                                fclose(f);
                        }
                        printf("ok - %s/%s (rewritten)\n", area, de->d_name);
                } else if (!want || !json_equal(got, want)) {
                        char *g = json_dumps(got, JSON_INDENT(2) | JSON_SORT_KEYS);
                        printf("not ok - %s/%s differs from expected.json; got:\n%s\n", area,
                               de->d_name, g);
                        free(g);
                        failures++;
                } else {
                        printf("ok - %s/%s\n", area, de->d_name);
                }
                json_decref(in);
                json_decref(got);
                json_decref(want);
        }
        closedir(d);
}

int main(int argc, char **argv)
{
        const char *root = argc > 1 ? argv[1] : "tests/data/node";
        run_dir(root, "create", run_create);
        run_dir(root, "status", run_status);
        run_dir(root, "node", run_node);
        printf("%d failed\n", failures);
        return failures ? 1 : 0;
}
