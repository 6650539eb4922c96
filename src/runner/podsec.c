/* SPDX-License-Identifier: MIT */
/* Which host user a pod runs as (see podsec.h). */
#include "runner/podsec.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define ID_MAX 4294967294LL

static int parse_id(const char *s, size_t len, int64_t *ret)
{
        char buf[16];
        char *end;

        if (len == 0 || len >= sizeof(buf) || strspn(s, "0123456789") < len)
                return -EINVAL;
        memcpy(buf, s, len);
        buf[len] = '\0';
        long long v = strtoll(buf, &end, 10);
        if (*end || v < 0 || v > ID_MAX)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* "UID[:GID]" or a user name (its primary group). */
static int parse_user(const char *s, int64_t *ret_uid, int64_t *ret_gid)
{
        const char *colon = strchr(s, ':');
        size_t ul = colon ? (size_t)(colon - s) : strlen(s);

        if (parse_id(s, ul, ret_uid) == 0) {
                if (!colon)
                        *ret_gid = *ret_uid;
                else if (parse_id(colon + 1, strlen(colon + 1), ret_gid) < 0)
                        return -EINVAL;
                return 0;
        }
        if (colon)
                return -EINVAL;
        struct passwd pw, *res = NULL;
        char buf[4096];
        if (getpwnam_r(s, &pw, buf, sizeof(buf), &res) != 0 || !res)
                return -ENOENT;
        *ret_uid = pw.pw_uid;
        *ret_gid = pw.pw_gid;
        return 0;
}

/* Split a comma-separated list; items are trimmed, empty ones dropped. */
static char **split(const char *s, size_t *ret_n)
{
        char **v = NULL;
        size_t n = 0;

        while (s && *s) {
                const char *e = strchr(s, ',');
                size_t l = e ? (size_t)(e - s) : strlen(s);
                const char *a = s;
                while (l && (*a == ' ' || *a == '\t'))
                        a++, l--;
                while (l && (a[l - 1] == ' ' || a[l - 1] == '\t'))
                        l--;
                if (l) {
                        v = ferry_xrealloc(v, (n + 2) * sizeof(*v));
                        v[n] = ferry_xstrndup(a, l);
                        v[++n] = NULL;
                }
                s = e ? e + 1 : NULL;
        }
        *ret_n = n;
        return v;
}

static void strv_free_n(char **v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

static bool ns_ok(const char *ns)
{
        return strcmp(ns, "*") == 0 || ferry_is_dns_label(ns);
}

int ferry_podsec_parse(struct ferry_podsec *ps, const struct ferry_podsec_options *o,
                       ferry_error_t *err)
{
        char **items = NULL;
        size_t n = 0;
        int r = 0;

        memset(ps, 0, sizeof(*ps));
        ps->uid = ps->gid = FERRY_PODSEC_NOBODY;
        if (o->pod_user && *o->pod_user) {
                r = parse_user(o->pod_user, &ps->uid, &ps->gid);
                if (r < 0 || ps->uid == 0 || ps->gid == 0) {
                        r = ferry_errprintf(err, -EINVAL,
                                            "pod_user \"%s\": give UID[:GID] or an existing user "
                                            "name, not root",
                                            o->pod_user);
                        goto fail;
                }
        }
        items = split(o->tenant_users, &n);
        for (size_t i = 0; i < n; i++) {
                char *eq = strchr(items[i], '=');
                struct ferry_podsec_user_rule u = {0};
                if (eq)
                        *eq = '\0';
                if (!eq || !ns_ok(items[i]) || parse_user(eq + 1, &u.uid, &u.gid) < 0 ||
                    u.uid == 0 || u.gid == 0) {
                        r = ferry_errprintf(err, -EINVAL,
                                            "tenant_users item %zu: want NAMESPACE=UID[:GID] or "
                                            "NAMESPACE=USER, not root",
                                            i + 1);
                        goto fail;
                }
                u.ns = ferry_xstrdup(items[i]);
                ps->users = ferry_xrealloc(ps->users, (ps->n_users + 1) * sizeof(*ps->users));
                ps->users[ps->n_users++] = u;
        }
        strv_free_n(items, n);
        items = split(o->allowed_ids, &n);
        for (size_t i = 0; i < n; i++) {
                char *eq = strchr(items[i], '=');
                struct ferry_podsec_id_rule id = {0};
                if (eq)
                        *eq = '\0';
                const char *dash = eq ? strchr(eq + 1, '-') : NULL;
                bool ok = eq && ns_ok(items[i]);
                if (ok && dash)
                        ok = parse_id(eq + 1, (size_t)(dash - eq - 1), &id.lo) == 0 &&
                             parse_id(dash + 1, strlen(dash + 1), &id.hi) == 0 && id.lo <= id.hi;
                else if (ok)
                        ok = parse_id(eq + 1, strlen(eq + 1), &id.lo) == 0 && (id.hi = id.lo, 1);
                if (!ok || id.lo == 0) {
                        r = ferry_errprintf(err, -EINVAL,
                                            "allowed_ids item %zu: want NAMESPACE=ID or "
                                            "NAMESPACE=LOW-HIGH (ids from 1; root is "
                                            "root_namespaces)",
                                            i + 1);
                        goto fail;
                }
                id.ns = ferry_xstrdup(items[i]);
                ps->ids = ferry_xrealloc(ps->ids, (ps->n_ids + 1) * sizeof(*ps->ids));
                ps->ids[ps->n_ids++] = id;
        }
        strv_free_n(items, n);
        items = NULL;
        ps->root_ns = split(o->root_namespaces, &ps->n_root_ns);
        ps->host_ns = split(o->host_namespaces, &ps->n_host_ns);
        for (size_t i = 0; i < ps->n_root_ns + ps->n_host_ns; i++) {
                const char *ns =
                    i < ps->n_root_ns ? ps->root_ns[i] : ps->host_ns[i - ps->n_root_ns];
                if (!ns_ok(ns)) {
                        r = ferry_errprintf(
                            err, -EINVAL, "%s: \"%s\" is not a namespace name",
                            i < ps->n_root_ns ? "root_namespaces" : "host_namespaces", ns);
                        goto fail;
                }
        }
        return 0;
fail:
        strv_free_n(items, n);
        ferry_podsec_clear(ps);
        return r;
}

void ferry_podsec_clear(struct ferry_podsec *ps)
{
        for (size_t i = 0; i < ps->n_users; i++)
                free(ps->users[i].ns);
        free(ps->users);
        for (size_t i = 0; i < ps->n_ids; i++)
                free(ps->ids[i].ns);
        free(ps->ids);
        strv_free_n(ps->root_ns, ps->n_root_ns);
        strv_free_n(ps->host_ns, ps->n_host_ns);
        memset(ps, 0, sizeof(*ps));
}

static bool ns_in(char *const *v, size_t n, const char *ns)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i], "*") == 0 || strcmp(v[i], ns) == 0)
                        return true;
        return false;
}

bool ferry_podsec_host_allowed(const struct ferry_podsec *ps, const char *ns)
{
        return ns_in(ps->host_ns, ps->n_host_ns, ns ? ns : "default");
}

/* The tenant's host user: its own rule, else the "*" rule, else pod_user. */
static void tenant_user(const struct ferry_podsec *ps, const char *ns, int64_t *uid, int64_t *gid)
{
        const struct ferry_podsec_user_rule *star = NULL;
        for (size_t i = 0; i < ps->n_users; i++) {
                if (strcmp(ps->users[i].ns, ns) == 0) {
                        *uid = ps->users[i].uid;
                        *gid = ps->users[i].gid;
                        return;
                }
                if (strcmp(ps->users[i].ns, "*") == 0)
                        star = &ps->users[i];
        }
        *uid = star ? star->uid : ps->uid;
        *gid = star ? star->gid : ps->gid;
}

static bool id_allowed(const struct ferry_podsec *ps, const char *ns, int64_t id)
{
        for (size_t i = 0; i < ps->n_ids; i++)
                if ((strcmp(ps->ids[i].ns, "*") == 0 || strcmp(ps->ids[i].ns, ns) == 0) &&
                    id >= ps->ids[i].lo && id <= ps->ids[i].hi)
                        return true;
        return false;
}

/* The one value the pod and its containers ask for (-1 none); -EINVAL when
 * containers ask for different ones: this site runs a pod as one user. */
static int pod_id(const struct ferry_pod *pod, bool group, int64_t *ret, ferry_error_t *err)
{
        int64_t v = -1;
        size_t n = pod->n_init + pod->n_containers;

        for (size_t i = 0; i < n; i++) {
                const struct ferry_container *c = ferry_pod_container_at(pod, i);
                int64_t cv = group ? c->run_as_group : c->run_as_user;
                if (cv < 0)
                        cv = group ? pod->run_as_group : pod->run_as_user;
                if (cv < 0 || cv == v)
                        continue;
                if (v >= 0)
                        return ferry_errprintf(err, -EINVAL,
                                               "containers ask for different %s (%lld and %lld): "
                                               "this site runs all containers of a pod as one "
                                               "user",
                                               group ? "runAsGroup" : "runAsUser", (long long)v,
                                               (long long)cv);
                v = cv;
        }
        if (n == 0)
                v = group ? pod->run_as_group : pod->run_as_user;
        *ret = v;
        return 0;
}

int ferry_podsec_resolve(const struct ferry_podsec *ps, const struct ferry_pod *pod,
                         struct ferry_pod_user *ret, ferry_error_t *err)
{
        const char *ns = pod->namespace ? pod->namespace : "default";
        bool root_ok = ns_in(ps->root_ns, ps->n_root_ns, ns);
        int64_t tuid, tgid, uid, gid;
        int r;

        if ((r = pod_id(pod, false, &uid, err)) < 0 || (r = pod_id(pod, true, &gid, err)) < 0)
                return r;
        tenant_user(ps, ns, &tuid, &tgid);
        struct ferry_pod_user u = {.fs_group = -1};
        if (uid == 0) {
                if (!root_ok)
                        return ferry_errprintf(err, -EPERM,
                                               "securityContext.runAsUser 0: pods of namespace "
                                               "\"%s\" never run as root on this site",
                                               ns);
                u.root = true;
                u.uid = u.inner_uid = 0;
                u.gid = u.inner_gid = gid >= 0 ? gid : 0;
        } else if (uid > 0) {
                if (uid != tuid && !id_allowed(ps, ns, uid))
                        return ferry_errprintf(err, -EPERM,
                                               "securityContext.runAsUser %lld is not allowed "
                                               "for namespace \"%s\" on this site (its user is "
                                               "%lld; the admin grants others with allowed_ids)",
                                               (long long)uid, ns, (long long)tuid);
                u.uid = u.inner_uid = uid;
                u.gid = u.inner_gid = gid >= 0 ? gid : (uid == tuid ? tgid : uid);
        } else {
                /* root inside the sandbox, the tenant's user outside */
                u.uid = tuid;
                u.gid = gid >= 0 ? gid : tgid;
                u.inner_uid = 0;
                u.inner_gid = gid >= 0 ? gid : 0;
        }
        if (gid >= 0 && !u.root && gid != tgid && !id_allowed(ps, ns, gid) &&
            !(gid == 0 && root_ok))
                return ferry_errprintf(err, -EPERM,
                                       "securityContext.runAsGroup %lld is not allowed for "
                                       "namespace \"%s\" on this site",
                                       (long long)gid, ns);
        if (pod->fs_group >= 0) {
                if (pod->fs_group == 0
                        ? !root_ok
                        : pod->fs_group != tgid && !u.root && !id_allowed(ps, ns, pod->fs_group))
                        return ferry_errprintf(err, -EPERM,
                                               "securityContext.fsGroup %lld is not allowed for "
                                               "namespace \"%s\" on this site",
                                               (long long)pod->fs_group, ns);
                u.fs_group = pod->fs_group;
        }
        *ret = u;
        return 0;
}
