/* SPDX-License-Identifier: MIT */
/*
 * `ferry run` and ferry-node must make the same PodCreateRequests of the same
 * pod: both call libferry-podtr, and this test keeps the glue around it from
 * drifting. Each pod goes through
 *
 *   the CLI path   ferry_manifest_translate() on the pod and its objects as
 *                  manifests (what `ferry run -f` does after loading), and
 *   the node path  ferry_podtr_needs(), the objects it names looked up by
 *                  name, ferry_podtr_build() (what src/node/vk.c does after
 *                  fetching them from the API server),
 *
 * and the requests must be equal; errors must have the same code, and apart
 * from a missing object (each program words that its own way) the CLI's text
 * is the node's behind 'pod "NAME": '. The pods:
 *
 *   tests/data/node/create/CASE/input.json   the pod (without its status,
 *       which the CLI drops) with its ConfigMaps and Secrets;
 *   tests/data/manifests/CASE/input.*        the pods as the CLI stores them
 *       (ferry_manifest_normalise(): what the API server would hold).
 *
 * The node path runs with what the CLI does not have left out: no node name,
 * host IP or allocatable. serviceAccountToken sources are taken out of the
 * pods first: there is no cluster behind `ferry run` to mint a token, so the
 * CLI leaves them out and ferry-node would insist on one.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"
#include "ferry/manifest.h"
#include "podtr/podtr.h"

static int failures, compared;

static const char *sget(const json_t *o, const char *k)
{
        return json_string_value(json_object_get(o, k));
}

/* The node path for pod, its objects looked up in cms and secs (name -> object). */
static int node_path(const json_t *pod, const json_t *cms, const json_t *secs, json_t **ret,
                     ferry_error_t *err)
{
        json_t *needs = ferry_podtr_needs(pod);
        json_t *fcms = json_object(), *fsecs = json_object(), *toks = json_object();
        const char *name;
        json_t *v;
        int r;

        json_object_foreach(json_object_get(needs, "configmaps"), name, v)
        {
                if (json_object_get(cms, name))
                        json_object_set(fcms, name, json_object_get(cms, name));
        }
        json_object_foreach(json_object_get(needs, "secrets"), name, v)
        {
                if (json_object_get(secs, name))
                        json_object_set(fsecs, name, json_object_get(secs, name));
        }
        struct ferry_podtr_objects o = {.configmaps = fcms, .secrets = fsecs, .tokens = toks};
        r = ferry_podtr_build(pod, &o, ret, NULL, err);
        json_decref(needs);
        json_decref(fcms);
        json_decref(fsecs);
        json_decref(toks);
        return r;
}

static void compare(const char *what, const json_t *pod, int rc, const json_t *cli_req,
                    const ferry_error_t *cli_err, const json_t *cms, const json_t *secs)
{
        ferry_error_t nerr = {{0}};
        json_t *nreq = NULL;
        int rn = node_path(pod, cms, secs, &nreq, &nerr);
        const char *pname = sget(json_object_get(pod, "metadata"), "name");

        if (rc != rn) {
                printf("not ok - %s: the CLI says %d (%s), ferry-node %d (%s)\n", what, rc,
                       rc < 0 ? cli_err->text : "ok", rn, rn < 0 ? nerr.text : "ok");
                failures++;
        } else if (rc < 0 && rc != -ENOENT) {
                _cleanup_free_ char *want = ferry_xasprintf("pod \"%s\": %s", pname, nerr.text);
                if (strcmp(want, cli_err->text) != 0) {
                        printf("not ok - %s: the CLI says \"%s\", ferry-node \"%s\"\n", what,
                               cli_err->text, nerr.text);
                        failures++;
                } else {
                        printf("ok - %s (both: %s)\n", what, nerr.text);
                        compared++;
                }
        } else if (rc < 0) {
                printf("ok - %s (both not found: %s)\n", what, nerr.text);
                compared++;
        } else if (!json_equal(cli_req, nreq)) {
                char *a = json_dumps(cli_req, JSON_INDENT(2) | JSON_SORT_KEYS);
                char *b = json_dumps(nreq, JSON_INDENT(2) | JSON_SORT_KEYS);
                printf("not ok - %s: the requests differ\n--- CLI\n%s\n--- ferry-node\n%s\n", what,
                       a, b);
                free(a);
                free(b);
                failures++;
        } else {
                printf("ok - %s\n", what);
                compared++;
        }
        json_decref(nreq);
}

/* Take the serviceAccountToken sources out of pod's projected volumes. */
static void drop_tokens(json_t *pod)
{
        json_t *v, *src;
        size_t i, j;

        json_array_foreach(json_object_get(json_object_get(pod, "spec"), "volumes"), i, v)
        {
                json_t *sources = json_object_get(json_object_get(v, "projected"), "sources");
                for (j = json_array_size(sources); j-- > 0;) {
                        src = json_array_get(sources, j);
                        if (json_object_get(src, "serviceAccountToken"))
                                json_array_remove(sources, j);
                }
        }
}

/* name -> object of one kind in namespace ns */
static json_t *by_name(const json_t *objs, const char *kind, const char *ns)
{
        json_t *m = json_object(), *o;
        size_t i;

        json_array_foreach(objs, i, o)
        {
                const json_t *meta = json_object_get(o, "metadata");
                const char *name = sget(meta, "name");
                if (name && !strcmp(sget(o, "kind") ?: "", kind) &&
                    !strcmp(sget(meta, "namespace") ?: "", ns) && !json_object_get(m, name))
                        json_object_set(m, name, o);
        }
        return m;
}

static void node_case(const char *dir, const char *name)
{
        _cleanup_free_ char *path = ferry_xasprintf("%s/%s/input.json", dir, name);
        _cleanup_free_ char *what = ferry_xasprintf("node/create/%s", name);
        json_t *in = json_load_file(path, 0, NULL), *objs, *v, *reqs = NULL;
        const char *k;

        if (!in)
                return;
        json_t *pod = json_deep_copy(json_object_get(in, "pod"));
        json_object_del(pod, "status");
        drop_tokens(pod);
        const char *ns = sget(json_object_get(pod, "metadata"), "namespace");
        objs = json_array();
        json_object_foreach(json_object_get(in, "configmaps"), k, v) json_array_append(objs, v);
        json_object_foreach(json_object_get(in, "secrets"), k, v) json_array_append(objs, v);
        json_array_append(objs, pod);

        struct ferry_manifest_opts mo = {.namespace = ns};
        ferry_error_t err = {{0}};
        int r = ferry_manifest_translate(objs, &mo, &reqs, &err);
        json_t *cms = by_name(objs, "ConfigMap", ns), *secs = by_name(objs, "Secret", ns);
        compare(what, pod, r, json_array_get(reqs, 0), &err, cms, secs);
        json_decref(cms);
        json_decref(secs);
        json_decref(reqs);
        json_decref(objs);
        json_decref(pod);
        json_decref(in);
}

static char *read_opt(const char *dir, const char *name)
{
        _cleanup_free_ char *path = ferry_xasprintf("%s/%s", dir, name);
        char *s = NULL;
        size_t n;

        if (ferry_read_file(path, 1 << 20, &s, &n) < 0)
                return NULL;
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
                s[--n] = '\0';
        return s;
}

static void uid_counter(void *ctx, char buf[37])
{
        unsigned *n = ctx;
        snprintf(buf, 37, "00000000-0000-4000-8000-%012u", ++*n);
}

static void manifest_case(const char *root, const char *name)
{
        _cleanup_free_ char *dir = ferry_xasprintf("%s/%s", root, name);
        _cleanup_free_ char *yaml = ferry_xasprintf("%s/input.yaml", dir);
        _cleanup_free_ char *jsn = ferry_xasprintf("%s/input.json", dir);
        _cleanup_free_ char *ns = read_opt(dir, "namespace");
        json_t *loaded = json_array(), *objs = NULL, *reqs = NULL, *o;
        unsigned counter = 0;
        struct ferry_manifest_opts mo = {.namespace = ns, .uid = uid_counter, .uid_ctx = &counter};
        ferry_error_t err = {{0}};
        struct stat st;
        size_t i, k = 0;

        int r = ferry_manifest_load(stat(yaml, &st) == 0 ? yaml : jsn, loaded, &err);
        json_array_foreach(loaded, i, o) drop_tokens(o);
        if (r < 0 || ferry_manifest_normalise(loaded, &mo, &objs, &err) < 0) {
                /* not pods an API server would take: nothing for ferry-node */
                json_decref(loaded);
                return;
        }
        /* the CLI path from the manifests as loaded, the UIDs counted again */
        counter = 0;
        r = ferry_manifest_translate(loaded, &mo, &reqs, &err);
        json_array_foreach(objs, i, o)
        {
                if (strcmp(sget(o, "kind"), "Pod") != 0)
                        continue;
                const char *pns = sget(json_object_get(o, "metadata"), "namespace");
                _cleanup_free_ char *what = ferry_xasprintf(
                    "manifests/%s/%s", name, sget(json_object_get(o, "metadata"), "name"));
                json_t *cms = by_name(objs, "ConfigMap", pns), *secs = by_name(objs, "Secret", pns);
                compare(what, o, r, json_array_get(reqs, k++), &err, cms, secs);
                json_decref(cms);
                json_decref(secs);
                if (r < 0)
                        break; /* the CLI stops at the first pod that fails */
        }
        json_decref(reqs);
        json_decref(objs);
        json_decref(loaded);
}

static int cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void each_case(const char *dir, void (*fn)(const char *, const char *))
{
        DIR *d = opendir(dir);
        struct dirent *de;
        char **names = NULL;
        size_t n = 0;

        if (!d) {
                printf("not ok - cannot open %s\n", dir);
                failures++;
                return;
        }
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                names = ferry_xrealloc(names, (n + 1) * sizeof(*names));
                names[n++] = ferry_xstrdup(de->d_name);
        }
        closedir(d);
        qsort(names, n, sizeof(*names), cmp);
        for (size_t i = 0; i < n; i++) {
                fn(dir, names[i]);
                free(names[i]);
        }
        free(names);
}

int main(int argc, char **argv)
{
        const char *data = argc > 1 ? argv[1] : "tests/data";
        _cleanup_free_ char *node = ferry_xasprintf("%s/node/create", data);
        _cleanup_free_ char *manifests = ferry_xasprintf("%s/manifests", data);

        each_case(node, node_case);
        each_case(manifests, manifest_case);
        printf("%d pods compared, %d differ\n", compared, failures);
        return failures || compared == 0 ? 1 : 0;
}
